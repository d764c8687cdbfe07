//! Plain filesystem access, relative to directory handles: the fd-relative [`Dir`] every verb
//! opens its scan dir with, [`EntryKind`] and `lstat_at` (what a name is, never following a
//! symlink), `fstat`, the process umask, `flock`, `renameat2(RENAME_NOREPLACE)`, an unlink that
//! re-checks what it removes, and the path-component checks every `*at` call needs. Nothing
//! here reads or writes file contents: reading is [`crate::no_follow`], the atomic write
//! protocol built on these handles is [`crate::atomic`].
//!
//! Every operation on a [`Dir`] is relative to its fd, so renaming or replacing the directory's
//! path meanwhile cannot redirect it. Errors are [`AtomicError`]s naming the failing [`Step`]:
//! the same type the atomic writer returns, since its first steps (opening the directory,
//! inspecting the target) are these.

use std::ffi::{CStr, CString, OsStr};
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One step of a filesystem operation or of the atomic write protocol, named in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Opening the target's directory.
    OpenDir,
    /// `fstatat` of the target (or of the temp file after creating it).
    Inspect,
    /// Creating the temp file.
    Create,
    /// Writing the temp file.
    Write,
    /// `fsync` of the temp file.
    Fsync,
    /// Re-reading the temp file from disk.
    ReadBack,
    /// `fchown` to the replaced file's owner and group.
    Chown,
    /// `fchmod` to the replaced file's mode (or `0666 & !umask`).
    Chmod,
    /// `renameat` onto the target.
    Rename,
    /// Creating a directory (backups).
    CreateDir,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::OpenDir => "open directory",
            Step::Inspect => "inspect",
            Step::Create => "create temp file",
            Step::Write => "write temp file",
            Step::Fsync => "fsync temp file",
            Step::ReadBack => "read back temp file",
            Step::Chown => "chown temp file",
            Step::Chmod => "chmod temp file",
            Step::Rename => "rename onto target",
            Step::CreateDir => "create directory",
        })
    }
}

/// Why a filesystem operation (opening a directory, an atomic write, ...) did not happen. In
/// every case the target is untouched.
#[derive(Debug, thiserror::Error)]
pub enum AtomicError {
    /// The target is a symbolic link; it is never replaced or written through.
    #[error(
        "refusing to write {}: it is a symbolic link (scanaudit never replaces or writes through symlinks)",
        path.display()
    )]
    Symlink { path: PathBuf },
    /// The target exists and is not a regular file.
    #[error("refusing to write {}: it is a {kind}, not a regular file", path.display())]
    NotRegularFile { path: PathBuf, kind: &'static str },
    /// The target path cannot name a file (no file name, `..`, a `/` inside a name, NUL).
    #[error("refusing to write {}: {reason}", path.display())]
    InvalidTarget { path: PathBuf, reason: String },
    /// A system call failed.
    #[error("writing {} failed at step '{step}': {source}", path.display())]
    Io {
        path: PathBuf,
        step: Step,
        #[source]
        source: io::Error,
    },
    /// The validator rejected the bytes read back from the temp file.
    #[error("writing {}: the new contents failed validation, target left unchanged: {message}", path.display())]
    Validation { path: PathBuf, message: String },
    /// The temp file read back differs from what was written.
    #[error("writing {}: the temp file read back from disk differs from what was written ({detail}), target left unchanged", path.display())]
    ReadBackMismatch { path: PathBuf, detail: String },
}

impl AtomicError {
    /// The path the error is about (the target, or the directory for [`Step::OpenDir`]).
    pub fn path(&self) -> &Path {
        match self {
            AtomicError::Symlink { path }
            | AtomicError::NotRegularFile { path, .. }
            | AtomicError::InvalidTarget { path, .. }
            | AtomicError::Io { path, .. }
            | AtomicError::Validation { path, .. }
            | AtomicError::ReadBackMismatch { path, .. } => path,
        }
    }

    /// The failing step, for I/O errors.
    pub fn step(&self) -> Option<Step> {
        match self {
            AtomicError::Io { step, .. } => Some(*step),
            _ => None,
        }
    }

    pub(crate) fn io(path: &Path, step: Step, source: io::Error) -> Self {
        AtomicError::Io { path: path.to_path_buf(), step, source }
    }
}

/// An open directory; all operations are relative to its fd, so renaming or replacing the
/// directory's path meanwhile cannot redirect them.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// Open a directory by path. Symlinks in `path` are followed (the caller chose the path).
    pub fn open(path: &Path) -> Result<Dir, AtomicError> {
        let c = cstring(path.as_os_str(), path)?;
        Self::open_raw(libc::AT_FDCWD, &c, path, 0)
    }

    /// Open a directory by path, refusing a symlink as the last component.
    pub fn open_nofollow(path: &Path) -> Result<Dir, AtomicError> {
        let c = cstring(path.as_os_str(), path)?;
        Self::open_raw(libc::AT_FDCWD, &c, path, libc::O_NOFOLLOW)
    }

    /// Open the subdirectory `name` (one path component), refusing symlinks.
    pub fn open_child(&self, name: &OsStr) -> Result<Dir, AtomicError> {
        let path = self.path.join(name);
        let c = component(name, &path)?;
        self.refuse_symlink(&c, &path)?;
        Self::open_raw(self.raw(), &c, &path, libc::O_NOFOLLOW)
    }

    /// Open the subdirectory `name`, creating it (mode `0777 & !umask`) when missing; symlinks
    /// are refused.
    pub fn create_child(&self, name: &OsStr) -> Result<Dir, AtomicError> {
        let path = self.path.join(name);
        let c = component(name, &path)?;
        // SAFETY: valid fd and NUL-terminated name.
        if unsafe { libc::mkdirat(self.raw(), c.as_ptr(), 0o777) } != 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::AlreadyExists {
                return Err(AtomicError::io(&path, Step::CreateDir, err));
            }
        }
        self.open_child(name)
    }

    /// Create the subdirectory `name`; `Ok(None)` if something already has that name.
    pub fn create_child_exclusive(&self, name: &OsStr) -> Result<Option<Dir>, AtomicError> {
        let path = self.path.join(name);
        let c = component(name, &path)?;
        // SAFETY: valid fd and NUL-terminated name.
        if unsafe { libc::mkdirat(self.raw(), c.as_ptr(), 0o777) } != 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::AlreadyExists {
                return Ok(None);
            }
            return Err(AtomicError::io(&path, Step::CreateDir, err));
        }
        self.open_child(name).map(Some)
    }

    /// A second handle to the same directory.
    pub fn try_clone(&self) -> Result<Dir, AtomicError> {
        let fd = self.fd.try_clone().map_err(|e| AtomicError::io(&self.path, Step::OpenDir, e))?;
        Ok(Dir { fd, path: self.path.clone() })
    }

    /// The path this directory was opened as (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// fsync the directory (makes renames and creations in it durable).
    pub fn sync(&self) -> Result<(), AtomicError> {
        self.fsync().map_err(|e| AtomicError::io(&self.path, Step::Fsync, e))
    }

    /// What is at `name` (not following symlinks).
    pub fn entry_kind(&self, name: &OsStr) -> Result<EntryKind, AtomicError> {
        let path = self.path.join(name);
        let c = component(name, &path)?;
        Ok(match self.lstat(&c).map_err(|e| AtomicError::io(&path, Step::Inspect, e))? {
            None => EntryKind::Missing,
            Some(st) => EntryKind::from_mode(st.st_mode),
        })
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn open_raw(at: RawFd, c: &CStr, path: &Path, extra: libc::c_int) -> Result<Dir, AtomicError> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | extra;
        // SAFETY: `c` is NUL-terminated; `at` is AT_FDCWD or an open fd.
        let fd = unsafe { libc::openat(at, c.as_ptr(), flags) };
        if fd < 0 {
            let err = io::Error::last_os_error();
            if extra & libc::O_NOFOLLOW != 0 && err.raw_os_error() == Some(libc::ELOOP) {
                return Err(AtomicError::Symlink { path: path.to_path_buf() });
            }
            return Err(AtomicError::io(path, Step::OpenDir, err));
        }
        // SAFETY: `fd` was just returned by openat and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Dir { fd, path: path.to_path_buf() })
    }

    fn refuse_symlink(&self, c: &CStr, path: &Path) -> Result<(), AtomicError> {
        if let Some(st) = self.lstat(c).map_err(|e| AtomicError::io(path, Step::Inspect, e))? {
            if EntryKind::from_mode(st.st_mode) == EntryKind::Symlink {
                return Err(AtomicError::Symlink { path: path.to_path_buf() });
            }
        }
        Ok(())
    }

    pub(crate) fn lstat(&self, c: &CStr) -> io::Result<Option<libc::stat>> {
        lstat_at(self.raw(), c)
    }

    /// `fsync` of the directory itself, as a plain `io::Result`.
    pub(crate) fn fsync(&self) -> io::Result<()> {
        #[cfg(test)]
        dir_syncs::record(&self.path);
        // SAFETY: valid fd.
        if unsafe { libc::fsync(self.raw()) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Rename `from` (in this directory) to `to` in `to_dir`.
    pub(crate) fn rename_to(&self, from: &CStr, to_dir: &Dir, to: &CStr) -> io::Result<()> {
        // SAFETY: valid fds and NUL-terminated names.
        let rc = unsafe { libc::renameat(self.raw(), from.as_ptr(), to_dir.raw(), to.as_ptr()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Remove the subdirectory `name` if it is empty (`ENOTEMPTY` otherwise); never a file.
    pub fn remove_empty_child(&self, name: &OsStr) -> io::Result<()> {
        let c = component(name, &self.path.join(name)).map_err(io::Error::other)?;
        // SAFETY: valid fd and NUL-terminated name.
        if unsafe { libc::unlinkat(self.raw(), c.as_ptr(), libc::AT_REMOVEDIR) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// Which directories were fsynced, in order, for tests that count them (tests run on several
/// threads at once: each looks only at the paths under its own temp dir).
#[cfg(test)]
pub(crate) mod dir_syncs {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    static SYNCED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    pub(crate) fn record(path: &Path) {
        SYNCED.lock().unwrap_or_else(|e| e.into_inner()).push(path.to_path_buf());
    }

    /// The directories under `root` fsynced so far, in order, relative to `root`.
    pub(crate) fn under(root: &Path) -> Vec<PathBuf> {
        let synced = SYNCED.lock().unwrap_or_else(|e| e.into_inner());
        synced.iter().filter_map(|p| p.strip_prefix(root).ok().map(Path::to_path_buf)).collect()
    }
}

/// `renameat2(RENAME_NOREPLACE)`: never replaces what is at the target, even if it appeared
/// after the check. File systems without it (EINVAL) get a plain rename after the check.
pub(crate) fn rename_noreplace(from_dir: &Dir, from: &OsStr, to_dir: &Dir, to: &OsStr) -> io::Result<()> {
    let c_from = component(from, from_dir.path()).map_err(io::Error::other)?;
    let c_to = component(to, to_dir.path()).map_err(io::Error::other)?;
    // SAFETY: valid fds and NUL-terminated names.
    let rc = unsafe {
        libc::renameat2(from_dir.raw(), c_from.as_ptr(), to_dir.raw(), c_to.as_ptr(), libc::RENAME_NOREPLACE)
    };
    if rc == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::EINVAL) {
        return from_dir.rename_to(&c_from, to_dir, &c_to);
    }
    Err(error)
}

/// `fstat`: what an open fd is (device, inode, type, times).
pub(crate) fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    // SAFETY: zeroed `stat` is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and out pointer.
    if unsafe { libc::fstat(fd, &mut st) } == 0 {
        Ok(st)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `flock(LOCK_EX|LOCK_NB)`: `Ok(true)` when taken (released when the fd closes), `Ok(false)`
/// when someone else holds a lock.
pub(crate) fn try_flock(fd: RawFd) -> io::Result<bool> {
    // SAFETY: valid fd.
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}

/// What [`unlink_if_same`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unlinked {
    Done,
    /// ENOENT: someone else removed it.
    Gone,
    /// Another file now has the name.
    Changed,
}

/// Re-checks that `name` in `dir` is still (device, inode, type) of `expected`, then
/// `unlinkat(dir, name, flags)`.
pub(crate) fn unlink_if_same(
    dir: &Dir,
    name: &CStr,
    expected: &libc::stat,
    flags: libc::c_int,
) -> io::Result<Unlinked> {
    match dir.lstat(name)? {
        None => return Ok(Unlinked::Gone),
        Some(st)
            if st.st_dev != expected.st_dev
                || st.st_ino != expected.st_ino
                || st.st_mode & libc::S_IFMT != expected.st_mode & libc::S_IFMT =>
        {
            return Ok(Unlinked::Changed)
        }
        Some(_) => {}
    }
    // SAFETY: valid fd and NUL-terminated name.
    if unsafe { libc::unlinkat(dir.raw(), name.as_ptr(), flags) } == 0 {
        return Ok(Unlinked::Done);
    }
    let err = io::Error::last_os_error();
    if err.kind() == io::ErrorKind::NotFound {
        Ok(Unlinked::Gone)
    } else {
        Err(err)
    }
}

/// A `stat` timestamp (seconds and nanoseconds since the epoch) as a `SystemTime`; times before
/// the epoch count as the epoch.
pub(crate) fn stat_time(secs: i64, nsecs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nsecs.clamp(0, 999_999_999) as u32)
    } else {
        UNIX_EPOCH
    }
}

/// What a directory entry is, without following symlinks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Missing,
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Other,
}

impl EntryKind {
    pub(crate) fn from_mode(mode: libc::mode_t) -> EntryKind {
        match mode & libc::S_IFMT {
            m if m == libc::S_IFREG => EntryKind::File,
            m if m == libc::S_IFDIR => EntryKind::Dir,
            m if m == libc::S_IFLNK => EntryKind::Symlink,
            m if m == libc::S_IFIFO => EntryKind::Fifo,
            m if m == libc::S_IFSOCK => EntryKind::Socket,
            m if m == libc::S_IFCHR => EntryKind::CharDevice,
            m if m == libc::S_IFBLK => EntryKind::BlockDevice,
            _ => EntryKind::Other,
        }
    }

    /// "directory", "FIFO", ... for messages.
    pub fn describe(self) -> &'static str {
        match self {
            EntryKind::Missing => "missing entry",
            EntryKind::File => "regular file",
            EntryKind::Dir => "directory",
            EntryKind::Symlink => "symbolic link",
            EntryKind::Fifo => "FIFO",
            EntryKind::Socket => "socket",
            EntryKind::CharDevice => "character device",
            EntryKind::BlockDevice => "block device",
            EntryKind::Other => "special file",
        }
    }
}

/// The process umask, read without changing it where possible (`Umask:` in
/// /proc/self/status, Linux 4.7+); otherwise umask(2) set-and-restore, which is racy only
/// against threads creating files in that instant.
pub fn current_umask() -> u32 {
    #[cfg(target_os = "linux")]
    if let Some(mask) = umask_from_proc() {
        return mask;
    }
    // SAFETY: umask cannot fail; the old value is restored immediately.
    let old = unsafe { libc::umask(0o022) };
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    mode_bits(old) & 0o777
}

#[cfg(target_os = "linux")]
fn umask_from_proc() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Umask:"))?;
    let value = line.trim_start_matches("Umask:").trim();
    u32::from_str_radix(value, 8).ok().map(|m| m & 0o777)
}

/// `mode_t` is `u32` on Linux and `u16` on some BSDs.
#[allow(clippy::useless_conversion)]
pub(crate) fn mode_bits(mode: libc::mode_t) -> u32 {
    u32::from(mode)
}

/// A single path component as a C string: not empty, not `.`/`..`, no `/`, no NUL.
pub(crate) fn component(name: &OsStr, path: &Path) -> Result<CString, AtomicError> {
    let bytes = name.as_bytes();
    let reason = if bytes.is_empty() {
        Some("empty file name")
    } else if bytes == b"." || bytes == b".." {
        Some("'.' and '..' are not file names")
    } else if bytes.contains(&b'/') {
        Some("a file name cannot contain '/'")
    } else {
        None
    };
    if let Some(reason) = reason {
        return Err(AtomicError::InvalidTarget { path: path.to_path_buf(), reason: reason.to_string() });
    }
    cstring(name, path)
}

fn cstring(s: &OsStr, path: &Path) -> Result<CString, AtomicError> {
    CString::new(s.as_bytes()).map_err(|_| AtomicError::InvalidTarget {
        path: path.to_path_buf(),
        reason: "the path contains a NUL byte".to_string(),
    })
}

/// `fstatat` without following a symlink: `None` when nothing is at `name` in `dir`.
pub(crate) fn lstat_at(dir: RawFd, name: &CStr) -> io::Result<Option<libc::stat>> {
    // SAFETY: zeroed `stat` is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd, NUL-terminated name, valid out pointer.
    if unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) } == 0 {
        return Ok(Some(st));
    }
    let error = io::Error::last_os_error();
    if error.kind() == io::ErrorKind::NotFound {
        Ok(None)
    } else {
        Err(error)
    }
}
