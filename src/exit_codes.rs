//! Exit status as a bit set, OR-ed together the way e2fsck does it.

/// The process exit status. Bits combine: `4 | 8` means problems were found *and* part of
/// the tree could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExitCode(u8);

impl ExitCode {
    pub const SUCCESS: ExitCode = ExitCode(0);
    /// repair, clean or migrate changed something.
    pub const FIXED: ExitCode = ExitCode(1);
    /// Problems remain (check found some; a fixer could not fix them all).
    pub const PROBLEMS: ExitCode = ExitCode(4);
    /// A path could not be read or written: the run is incomplete.
    pub const OPERATIONAL: ExitCode = ExitCode(8);
    pub const USAGE: ExitCode = ExitCode(16);
    pub const INTERRUPTED: ExitCode = ExitCode(32);

    pub fn merge(self, other: ExitCode) -> ExitCode {
        ExitCode(self.0 | other.0)
    }

    pub fn has(self, bit: ExitCode) -> bool {
        self.0 & bit.0 == bit.0 && bit.0 != 0
    }

    pub fn code(self) -> u8 {
        self.0
    }
}

impl std::ops::BitOr for ExitCode {
    type Output = ExitCode;
    fn bitor(self, rhs: ExitCode) -> ExitCode {
        self.merge(rhs)
    }
}

impl std::ops::BitOrAssign for ExitCode {
    fn bitor_assign(&mut self, rhs: ExitCode) {
        *self = self.merge(rhs);
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> std::process::ExitCode {
        std::process::ExitCode::from(code.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_combine() {
        let code = ExitCode::PROBLEMS | ExitCode::OPERATIONAL;
        assert_eq!(code.code(), 12);
        assert!(code.has(ExitCode::PROBLEMS));
        assert!(!code.has(ExitCode::FIXED));
        assert!(!ExitCode::SUCCESS.has(ExitCode::SUCCESS));
    }
}
