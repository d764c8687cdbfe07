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
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(io_err)?;
    match try_flock(file.as_raw_fd()) {
        Ok(true) => Ok(InstanceLock { _file: file, path: path.to_path_buf() }),
        Ok(false) => Err(LockError::Busy { path: path.to_path_buf() }),
        Err(source) => Err(io_err(source)),
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
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(state.join(SCAN_DIR_LOCK_NAME))?;
        Ok(try_flock(file.as_raw_fd())?.then_some(ScanDirLock { _file: file }))
    }
}
