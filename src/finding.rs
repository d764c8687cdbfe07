//! What a problem looks like once found: a stable kind, a level, where it is and how to fix it.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::layout::FileKind;

/// A stable, kebab-case identifier users grep for and pass to `--allow`/`--deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
#[clap(rename_all = "kebab-case")]
pub enum FindingKind {
    Empty,
    Truncated,
    ZeroFilled,
    Corrupt,
    InvalidUtf8,
    Schema,
    Unreadable,
    CheckpointMissingId,
    CheckpointNameMismatch,
    StrayTemp,
    SpecialFile,
    Symlink,
    Backup,
    OutputMissing,
    OutputStale,
    RunIncomplete,
    RunInterrupted,
    MetricsMismatch,
    UnverifiedFinding,
    FindingIdGap,
    DynamicMismatch,
    StaleCheckpoint,
    StaleDiffManifest,
    RestrictiveMode,
    LegacyLayout,
    UnknownEra,
}

impl FindingKind {
    pub const ALL: &'static [FindingKind] = &[
        FindingKind::Empty,
        FindingKind::Truncated,
        FindingKind::ZeroFilled,
        FindingKind::Corrupt,
        FindingKind::InvalidUtf8,
        FindingKind::Schema,
        FindingKind::Unreadable,
        FindingKind::CheckpointMissingId,
        FindingKind::CheckpointNameMismatch,
        FindingKind::StrayTemp,
        FindingKind::SpecialFile,
        FindingKind::Symlink,
        FindingKind::Backup,
        FindingKind::OutputMissing,
        FindingKind::OutputStale,
        FindingKind::RunIncomplete,
        FindingKind::RunInterrupted,
        FindingKind::MetricsMismatch,
        FindingKind::UnverifiedFinding,
        FindingKind::FindingIdGap,
        FindingKind::DynamicMismatch,
        FindingKind::StaleCheckpoint,
        FindingKind::StaleDiffManifest,
        FindingKind::RestrictiveMode,
        FindingKind::LegacyLayout,
        FindingKind::UnknownEra,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Empty => "empty",
            FindingKind::Truncated => "truncated",
            FindingKind::ZeroFilled => "zero-filled",
            FindingKind::Corrupt => "corrupt",
            FindingKind::InvalidUtf8 => "invalid-utf8",
            FindingKind::Schema => "schema",
            FindingKind::Unreadable => "unreadable",
            FindingKind::CheckpointMissingId => "checkpoint-missing-id",
            FindingKind::CheckpointNameMismatch => "checkpoint-name-mismatch",
            FindingKind::StrayTemp => "stray-temp",
            FindingKind::SpecialFile => "special-file",
            FindingKind::Symlink => "symlink",
            FindingKind::Backup => "backup",
            FindingKind::OutputMissing => "output-missing",
            FindingKind::OutputStale => "output-stale",
            FindingKind::RunIncomplete => "run-incomplete",
            FindingKind::RunInterrupted => "run-interrupted",
            FindingKind::MetricsMismatch => "metrics-mismatch",
            FindingKind::UnverifiedFinding => "unverified-finding",
            FindingKind::FindingIdGap => "finding-id-gap",
            FindingKind::DynamicMismatch => "dynamic-mismatch",
            FindingKind::StaleCheckpoint => "stale-checkpoint",
            FindingKind::StaleDiffManifest => "stale-diff-manifest",
            FindingKind::RestrictiveMode => "restrictive-mode",
            FindingKind::LegacyLayout => "legacy-layout",
            FindingKind::UnknownEra => "unknown-era",
        }
    }

    /// The level a finding of this kind has before `--deny`/`--strict` re-grade it.
    /// `stray-temp` is the one kind whose level depends on the file (its age), so the
    /// producer passes it explicitly.
    pub fn default_level(self) -> Level {
        match self {
            FindingKind::Empty
            | FindingKind::Truncated
            | FindingKind::ZeroFilled
            | FindingKind::Corrupt
            | FindingKind::InvalidUtf8
            | FindingKind::Schema
            | FindingKind::Unreadable
            | FindingKind::CheckpointMissingId
            | FindingKind::OutputMissing
            | FindingKind::OutputStale
            | FindingKind::MetricsMismatch
            | FindingKind::FindingIdGap
            | FindingKind::DynamicMismatch => Level::Error,
            FindingKind::CheckpointNameMismatch
            | FindingKind::StrayTemp
            | FindingKind::SpecialFile
            | FindingKind::Symlink
            | FindingKind::RunIncomplete
            | FindingKind::RunInterrupted
            | FindingKind::UnverifiedFinding
            | FindingKind::StaleCheckpoint
            | FindingKind::StaleDiffManifest
            | FindingKind::RestrictiveMode => Level::Warn,
            FindingKind::LegacyLayout => Level::Warn,
            // A newer OpenAnt wrote it: nothing is wrong with the scan, scanaudit is too old.
            FindingKind::Backup | FindingKind::UnknownEra => Level::Info,
        }
    }

    /// Unreadable paths make the run incomplete: they set the operational-error exit bit.
    pub fn is_operational(self) -> bool {
        self == FindingKind::Unreadable
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warn,
    Info,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the damage starts: byte offset (0-based) plus line and column (1-based, column in bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Location {
    pub offset: u64,
    pub line: u64,
    pub column: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub level: Level,
    #[serde(flatten, serialize_with = "crate::json_path::path")]
    pub path: PathBuf,
    #[serde(flatten, serialize_with = "crate::json_path::opt_scan_dir")]
    pub scan_dir: Option<PathBuf>,
    pub file_kind: Option<FileKind>,
    pub message: String,
    pub location: Option<Location>,
    pub fix: Option<String>,
}

impl Finding {
    pub fn new(kind: FindingKind, path: impl Into<PathBuf>, message: impl Into<String>) -> Finding {
        Finding {
            kind,
            level: kind.default_level(),
            path: path.into(),
            scan_dir: None,
            file_kind: None,
            message: message.into(),
            location: None,
            fix: None,
        }
    }

    pub fn level(mut self, level: Level) -> Finding {
        self.level = level;
        self
    }

    pub fn scan_dir(mut self, scan_dir: Option<PathBuf>) -> Finding {
        self.scan_dir = scan_dir;
        self
    }

    pub fn file_kind(mut self, file_kind: FileKind) -> Finding {
        self.file_kind = Some(file_kind);
        self
    }

    pub fn location(mut self, location: Option<Location>) -> Finding {
        self.location = location;
        self
    }

    pub fn fix(mut self, fix: Option<String>) -> Finding {
        self.fix = fix;
        self
    }

    /// The order findings are reported in: by path, then kind.
    pub fn sort_key(&self) -> (&PathBuf, FindingKind) {
        (&self.path, self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn kind_names_are_stable_and_match_clap_and_serde() {
        for kind in FindingKind::ALL {
            let clap_name = kind.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(clap_name, kind.as_str());
            let serde_name = serde_json::to_value(kind).unwrap();
            assert_eq!(serde_name, kind.as_str());
        }
        assert_eq!(FindingKind::ALL.len(), FindingKind::value_variants().len());
    }
}
