//! Whether a scan dir may be touched: not while OpenAnt works in it (another scanaudit is kept
//! out by [`crate::scan_lock::ScanDirLock`]).

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::text::human_age;

/// Why a scan dir with work to do is left alone: `meta.json` says a scan is running, or a file
/// that scanaudit did not write changed within `min_idle`.
pub fn in_use(dir: &Path, min_idle: Duration, now: SystemTime) -> Option<String> {
    if super::state::scan_running(dir) {
        return Some("meta.json says a scan is running".into());
    }
    // Files older than this cannot make the dir in use: only newer ones are looked at closely.
    let since = now.checked_sub(min_idle).unwrap_or(SystemTime::UNIX_EPOCH);
    let changed = super::state::last_foreign_change(dir, since)?;
    let idle = now.duration_since(changed).unwrap_or(Duration::ZERO);
    (idle < min_idle).then(|| {
        // The flag's value in the form the flag takes (`10m`, not `600s`).
        format!(
            "a file changed {} ago, within --min-idle {}: OpenAnt may still be writing",
            human_age(idle),
            humantime::format_duration(Duration::from_secs(min_idle.as_secs()))
        )
    })
}
