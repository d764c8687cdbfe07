//! The summary every run ends with: what was looked at, how long it took, what was found.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::check::CheckOutcome;
use crate::finding::{Finding, Level};
use crate::text::plural_grouped;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub errors: u64,
    pub warnings: u64,
    pub infos: u64,
}

impl Counts {
    pub fn of<'f>(findings: impl IntoIterator<Item = &'f Finding>) -> Counts {
        let mut counts = Counts::default();
        for f in findings {
            match f.level {
                Level::Error => counts.errors += 1,
                Level::Warn => counts.warnings += 1,
                Level::Info => counts.infos += 1,
            }
        }
        counts
    }
}

/// The `summary` object of `--format json`; field names are a public interface.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub scan_dirs: u64,
    pub files: u64,
    pub bytes: u64,
    pub elapsed_ms: u64,
    pub errors: u64,
    pub warnings: u64,
    pub infos: u64,
    pub by_kind: BTreeMap<String, u64>,
}

impl Summary {
    pub fn new(outcome: &CheckOutcome, findings: &[Finding]) -> Summary {
        let counts = Counts::of(findings);
        let mut by_kind = BTreeMap::new();
        for f in findings {
            *by_kind.entry(f.kind.as_str().to_string()).or_insert(0) += 1;
        }
        Summary {
            scan_dirs: outcome.scan_dirs as u64,
            files: outcome.files,
            bytes: outcome.bytes,
            elapsed_ms: outcome.elapsed.as_millis() as u64,
            errors: counts.errors,
            warnings: counts.warnings,
            infos: counts.infos,
            by_kind,
        }
    }

    /// `checked 12 scan dirs, 4,210 files (1.3 GB) in 0.8 s: 3 errors, 1 warning`.
    pub fn line(&self) -> String {
        let head = format!(
            "checked {}, {} ({}) in {:.1} s",
            plural_grouped(self.scan_dirs, "scan dir", "scan dirs"),
            plural_grouped(self.files, "file", "files"),
            human_bytes(self.bytes),
            self.elapsed_ms as f64 / 1000.0
        );
        let mut parts = Vec::new();
        if self.errors > 0 {
            parts.push(plural_grouped(self.errors, "error", "errors"));
        }
        if self.warnings > 0 {
            parts.push(plural_grouped(self.warnings, "warning", "warnings"));
        }
        let notes =
            if self.infos > 0 { format!(" ({})", plural_grouped(self.infos, "note", "notes")) } else { String::new() };
        if parts.is_empty() {
            format!("{head}: no problems found{notes}")
        } else {
            format!("{head}: {}{notes}", parts.join(", "))
        }
    }
}

/// Decimal units, one decimal place: `1.3 GB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_300_000_000), "1.3 GB");
    }

    #[test]
    fn summary_line() {
        let mut s = Summary {
            scan_dirs: 12,
            files: 4210,
            bytes: 1_300_000_000,
            elapsed_ms: 800,
            errors: 3,
            warnings: 1,
            infos: 0,
            by_kind: BTreeMap::new(),
        };
        assert_eq!(s.line(), "checked 12 scan dirs, 4,210 files (1.3 GB) in 0.8 s: 3 errors, 1 warning");
        s.errors = 0;
        s.warnings = 0;
        s.infos = 2;
        assert_eq!(s.line(), "checked 12 scan dirs, 4,210 files (1.3 GB) in 0.8 s: no problems found (2 notes)");
    }
}
