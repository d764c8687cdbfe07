//! Whether a scan dir may be touched: not while OpenAnt or another scanaudit works in it.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::backup::STATE_DIR;

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
        format!(
            "a file changed {}s ago, within --min-idle {}s: OpenAnt may still be writing",
            idle.as_secs(),
            min_idle.as_secs()
        )
    })
}

/// The per-scan-dir lock `<scan_dir>/.scanaudit/lock`, held (flock) while repair works.
pub struct ScanDirLock {
    _file: File,
}

impl ScanDirLock {
    /// `Ok(None)` when another scanaudit holds it.
    pub fn try_acquire(scan_dir: &Path) -> std::io::Result<Option<ScanDirLock>> {
        let state = scan_dir.join(STATE_DIR);
        match std::fs::symlink_metadata(&state) {
            Ok(meta) if !meta.is_dir() => {
                return Err(std::io::Error::other(format!("{} is not a directory", state.display())));
            }
            Ok(_) => {}
            Err(_) => std::fs::create_dir(&state)?,
        }
        let path = state.join("lock");
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        }
        let file = options.open(&path)?;
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: flock on a file descriptor we own; no memory is involved.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc != 0 {
                let error = std::io::Error::last_os_error();
                return if error.raw_os_error() == Some(libc::EWOULDBLOCK) { Ok(None) } else { Err(error) };
            }
        }
        Ok(Some(ScanDirLock { _file: file }))
    }
}
