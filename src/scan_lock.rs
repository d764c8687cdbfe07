//! scanaudit's two locks, both a BSD `flock` on a file that is never deleted (removing a lock
//! file opens a window in which two instances hold two locks): clean's single-instance
//! [`lock`], and the per-scan-dir [`ScanDirLock`] repair and migrate hold while they write.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::fsx::try_flock;
use crate::layout::state_names::{SCAN_DIR_LOCK_NAME, STATE_DIR};

/// The single-instance lock, held (an open `flock`ed file) until dropped. The file itself is
/// never deleted: removing a lock file opens a window in which two instances hold two locks.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another scanaudit clean is running (lock: {})", path.display())]
    Busy { path: PathBuf },
    #[error("cannot take the lock {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// Takes the single-instance lock at `path`, or says who has it. Only the lock's own directory
/// is created (`scanaudit/` in the runtime dir, `.scanaudit/` in the root), never a parent:
/// clean must not create the root it was asked to clean (a typo'd path stays a missing path).
pub fn lock(path: &Path) -> Result<InstanceLock, LockError> {
    let io_err = |source| LockError::Io { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        match std::fs::create_dir(dir) {
            Err(error) if error.kind() != io::ErrorKind::AlreadyExists => return Err(io_err(error)),
            _ => {}
        }
    }
    // 0600: the lock is per user (clean's runtime dir is), nobody else's to hold.
    match try_lock_file(path, 0o600).map_err(io_err)? {
        Some(file) => Ok(InstanceLock { _file: file, path: path.to_path_buf() }),
        None => Err(LockError::Busy { path: path.to_path_buf() }),
    }
}

/// The per-scan-dir lock `<scan_dir>/.scanaudit/lock`, held (flock) while repair or migrate
/// works there.
pub struct ScanDirLock {
    _file: File,
}

impl ScanDirLock {
    /// `Ok(None)` when another scanaudit holds it.
    pub fn try_acquire(scan_dir: &Path) -> io::Result<Option<ScanDirLock>> {
        let state = scan_dir.join(STATE_DIR);
        match std::fs::symlink_metadata(&state) {
            Ok(meta) if !meta.is_dir() => {
                return Err(io::Error::other(format!("{} is not a directory", state.display())));
            }
            Ok(_) => {}
            Err(_) => std::fs::create_dir(&state)?,
        }
        // `0666 & !umask`, as the scan dir's other files: whoever may work on the scan dir
        // may take its lock.
        Ok(try_lock_file(&state.join(SCAN_DIR_LOCK_NAME), 0o666)?.map(|file| ScanDirLock { _file: file }))
    }
}

/// Opens (creating it with `mode & !umask` when missing, never through a symlink) the lock file
/// at `path` and takes `flock(LOCK_EX|LOCK_NB)` on it: `None` when someone else holds it.
fn try_lock_file(path: &Path, mode: u32) -> io::Result<Option<File>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    Ok(try_flock(file.as_raw_fd())?.then_some(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_not_taken_twice_and_is_free_again_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = ScanDirLock::try_acquire(dir.path()).unwrap();
        assert!(first.is_some());
        assert!(ScanDirLock::try_acquire(dir.path()).unwrap().is_none());
        drop(first);
        assert!(ScanDirLock::try_acquire(dir.path()).unwrap().is_some());

        let path = dir.path().join(STATE_DIR).join("clean.lock");
        let held = lock(&path).unwrap();
        assert!(matches!(lock(&path), Err(LockError::Busy { .. })));
        drop(held);
        lock(&path).unwrap();
    }
}
