//! Whether a scan dir may be touched: not while OpenAnt works in it (another scanaudit is kept
//! out by [`crate::scan_lock::ScanDirLock`]).

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::text::human_age;

/// Why a scan dir with work to do is left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InUse {
    /// `meta.json` says a scan is running: no flag overrides that.
    ScanRunning,
    /// A file that scanaudit did not write changed `idle` ago, within `min_idle`: `--min-idle`
    /// overrides that.
    RecentWrite { idle: Duration, min_idle: Duration },
}

impl std::fmt::Display for InUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InUse::ScanRunning => f.write_str("meta.json says a scan is running"),
            InUse::RecentWrite { idle, min_idle } => write!(
                f,
                "a file changed {} ago, within --min-idle {}: OpenAnt may still be writing",
                human_age(*idle),
                flag_duration(*min_idle)
            ),
        }
    }
}

/// Written in JSON as its sentence, as the reason always was.
impl serde::Serialize for InUse {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A `--min-idle` value in the form the flag takes (`10m`, not `600s`).
pub fn flag_duration(duration: Duration) -> String {
    humantime::format_duration(Duration::from_secs(duration.as_secs())).to_string()
}

/// Whether `dir` is in use: a running scan, or a file that scanaudit did not write changed
/// within `min_idle`.
pub fn in_use(dir: &Path, min_idle: Duration, now: SystemTime) -> Option<InUse> {
    if super::state::scan_running(dir) {
        return Some(InUse::ScanRunning);
    }
    // Files older than this cannot make the dir in use: only newer ones are looked at closely.
    let since = now.checked_sub(min_idle).unwrap_or(SystemTime::UNIX_EPOCH);
    let changed = super::state::last_foreign_change(dir, since)?;
    let idle = now.duration_since(changed).unwrap_or(Duration::ZERO);
    (idle < min_idle).then_some(InUse::RecentWrite { idle, min_idle })
}
