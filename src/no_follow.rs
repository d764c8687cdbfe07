//! The one way scanaudit reads what a scan dir holds: never through a symlink, never blocking
//! on a FIFO, never opening a device. Every verb reads its inputs through here, so a symlink
//! named `results.json` or an `analyze_checkpoints/` linked elsewhere is refused the same way
//! everywhere (check reports both; repair and migrate leave them alone), and a FIFO named like
//! an input is refused instead of hanging the run in `open()`.
//!
//! A path is looked at with `lstat` first (a device is never opened at all: opening some has
//! side effects), then opened with `O_NOFOLLOW | O_NONBLOCK`, and what was opened is checked
//! again with `fstat`, since the path may have been swapped in between. A refusal is an
//! `io::Error` of kind `InvalidInput` whose text says what the path is and that it was not read.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub use crate::fsx::EntryKind;
use crate::fsx::{component, fstat, lstat_at, Dir};

/// What is at `path`, never following a symlink (`Missing` when nothing is).
pub fn kind(path: &Path) -> io::Result<EntryKind> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => Ok(EntryKind::from_mode(meta.mode() as libc::mode_t)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(EntryKind::Missing),
        Err(error) => Err(error),
    }
}

/// Whether `path` is a directory itself, not a symlink to one.
pub fn is_dir(path: &Path) -> bool {
    kind(path).is_ok_and(|k| k == EntryKind::Dir)
}

/// Whether `path` is a regular file itself, not a symlink to one.
pub fn is_file(path: &Path) -> bool {
    kind(path).is_ok_and(|k| k == EntryKind::File)
}

/// Whether anything is at `path`, a dangling symlink included (`Path::exists` follows links).
pub fn is_present(path: &Path) -> bool {
    !matches!(kind(path), Ok(EntryKind::Missing))
}

/// The error a path that is not what was asked for gets: what it is, and that it was not read.
pub fn refusal(kind: EntryKind) -> io::Error {
    let text = match kind {
        EntryKind::Symlink => "is a symbolic link, never followed; not read".to_owned(),
        EntryKind::File => "is a regular file, not a directory; not listed".to_owned(),
        other => format!("is a {}, not a regular file; not read", other.describe()),
    };
    io::Error::new(io::ErrorKind::InvalidInput, text)
}

/// Whether `error` is one of this module's refusals (the path is there but is not a regular
/// file or directory), as opposed to a missing path or an I/O failure.
pub fn is_refusal(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::InvalidInput
}

/// Opens a regular file for reading: not through a symlink, not a FIFO, socket or device.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path contains a NUL byte"))?;
    open_regular_at(libc::AT_FDCWD, &c_path)?.map_err(refusal)
}

/// [`open_regular`] for the entry `name` of an open directory (one path component).
pub fn open_regular_in(dir: &Dir, name: &OsStr) -> io::Result<File> {
    let c_name = component(name, &dir.path().join(name)).map_err(io::Error::other)?;
    open_regular_at(dir.raw(), &c_name)?.map_err(refusal)
}

/// The one way scanaudit opens a file to read it: `name` relative to the directory fd `at`
/// (`AT_FDCWD` for a path), looked at with `fstatat(AT_SYMLINK_NOFOLLOW)` first (a device or
/// FIFO is never opened), opened with `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY`, and what was opened
/// checked again with `fstat`, since the name may have been swapped in between.
///
/// `Ok(Err(kind))` when the name is something other than a regular file (seen before opening
/// or after: a symlink swapped in makes the open fail with `ELOOP`); a missing name is the
/// `ENOENT` error `open` would give.
pub fn open_regular_at(at: RawFd, name: &CStr) -> io::Result<Result<File, EntryKind>> {
    match lstat_at(at, name)?.map(|st| EntryKind::from_mode(st.st_mode)) {
        None => return Err(io::Error::from_raw_os_error(libc::ENOENT)),
        Some(EntryKind::File) => {}
        Some(other) => return Ok(Err(other)),
    }
    Ok(open_and_fstat(at, name)?.map(|(file, _)| file))
}

/// Opens a path a directory listing has just shown as a regular file (its `d_type`: what
/// `lstat` would say, a moment earlier), so without a second `lstat`: opened with
/// `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY` and checked with one `fstat`, whose answer (size,
/// mtime, mode) the caller keeps. check's per-file path: two syscalls fewer than
/// [`open_regular`] and a `metadata()`. A refusal is [`refusal`]'s error.
pub fn open_listed_regular(path: &Path) -> io::Result<(File, libc::stat)> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path contains a NUL byte"))?;
    open_and_fstat(libc::AT_FDCWD, &c_path)?.map_err(refusal)
}

/// The open and the `fstat` after it of [`open_regular_at`]; the `stat` of what was opened.
fn open_and_fstat(at: RawFd, name: &CStr) -> io::Result<Result<(File, libc::stat), EntryKind>> {
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: `at` is AT_FDCWD or an open directory fd; `name` is NUL-terminated.
    let fd = unsafe { libc::openat(at, name.as_ptr(), flags) };
    if fd < 0 {
        let error = io::Error::last_os_error();
        return if error.raw_os_error() == Some(libc::ELOOP) { Ok(Err(EntryKind::Symlink)) } else { Err(error) };
    }
    // SAFETY: a fresh fd owned by nobody else.
    let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let st = fstat(file.as_raw_fd())?;
    match EntryKind::from_mode(st.st_mode) {
        EntryKind::File => Ok(Ok((file, st))),
        other => Ok(Err(other)),
    }
}

/// Reads a regular file whole (see [`open_regular`]).
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = open_regular(path)?;
    let mut bytes = Vec::with_capacity(file.metadata().map_or(0, |m| m.len() as usize) + 1);
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Reads `reader` to its end, at most `buf.len()` bytes at a time, handing each chunk to
/// `each` in order (a read interrupted by a signal is retried); the number of bytes read. The
/// one chunked read loop: the backup copy with its hash and the atomic writer's read-back both
/// read through it, so neither holds a whole second copy of a file.
pub fn for_each_chunk<E>(
    mut reader: impl Read,
    buf: &mut [u8],
    mut each: impl FnMut(&[u8]) -> Result<(), E>,
    read_error: impl FnOnce(io::Error) -> E,
) -> Result<u64, E> {
    let mut total = 0u64;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        };
        each(&buf[..n])?;
        total += n as u64;
    }
}

/// One entry of a listed directory, with what it is (never following a symlink).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub path: PathBuf,
    pub name: OsString,
    pub kind: EntryKind,
}

/// The entries of a directory, sorted by name, read through a handle opened without following
/// a symlink: a directory that is a symlink is refused, never entered.
pub fn list_dir(path: &Path) -> io::Result<Vec<Listed>> {
    let dir = open_dir(path)?;
    let mut listed = Vec::new();
    for name in names_in(dir.as_raw_fd())? {
        let Ok(c_name) = CString::new(name.as_bytes()) else { continue };
        let kind = match lstat_at(dir.as_raw_fd(), &c_name)? {
            Some(st) => EntryKind::from_mode(st.st_mode),
            // Removed since it was listed.
            None => continue,
        };
        listed.push(Listed { path: path.join(&name), name, kind });
    }
    Ok(listed)
}

/// Opens a directory without following a symlink.
fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::other("NUL in a path"))?;
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    // SAFETY: a NUL-terminated path.
    let fd = unsafe { libc::open(c_path.as_ptr(), flags) };
    if fd < 0 {
        let error = io::Error::last_os_error();
        if matches!(error.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) {
            match kind(path)? {
                EntryKind::Dir | EntryKind::Missing => {}
                other => return Err(refusal(other)),
            }
        }
        return Err(error);
    }
    // SAFETY: a fresh fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The names in an open directory (no `.`/`..`), sorted, read through its handle.
pub(crate) fn names_in(fd: RawFd) -> io::Result<Vec<OsString>> {
    // SAFETY: dup of a valid fd; fdopendir takes ownership of the duplicate.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `dup` is a fresh directory fd.
    let dirp = unsafe { libc::fdopendir(dup) };
    if dirp.is_null() {
        let err = io::Error::last_os_error();
        // SAFETY: fdopendir failed, so `dup` is still ours to close.
        unsafe { libc::close(dup) };
        return Err(err);
    }
    // SAFETY: rewind so a reused handle lists from the start.
    unsafe { libc::rewinddir(dirp) };
    let mut names = Vec::new();
    loop {
        // A read error ends the listing early: a short listing only means fewer entries seen
        // (`clean`'s final rmdir then fails with ENOTEMPTY and says so).
        // SAFETY: `dirp` is a valid DIR*.
        let ent = unsafe { libc::readdir(dirp) };
        if ent.is_null() {
            // SAFETY: valid DIR*, closed once.
            unsafe { libc::closedir(dirp) };
            break;
        }
        // SAFETY: d_name is NUL-terminated inside the dirent readdir returned.
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) };
        let bytes = name.to_bytes();
        if bytes != b"." && bytes != b".." {
            names.push(OsStr::from_bytes(bytes).to_os_string());
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {

    /// A reader that hands out at most `step` bytes a read and is interrupted before every
    /// other one, then fails once `fail_at` bytes are out (when set).
    struct Choppy<'a> {
        data: &'a [u8],
        step: usize,
        interrupt: bool,
        fail_at: Option<usize>,
        at: usize,
    }

    impl Read for Choppy<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            if self.fail_at.is_some_and(|at| self.at >= at) {
                return Err(io::Error::other("disk gone"));
            }
            let n = buf.len().min(self.step).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn for_each_chunk_hands_on_every_byte_in_order_across_interruptions() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        for (step, chunk) in [(1, 1), (3, 8), (64, 16), (1000, 7), (1000, 4096)] {
            let reader = Choppy { data: &data, step, interrupt: false, fail_at: None, at: 0 };
            let mut got = Vec::new();
            let mut buf = vec![0u8; chunk];
            let n = for_each_chunk(
                reader,
                &mut buf,
                |c| {
                    assert!(!c.is_empty() && c.len() <= chunk);
                    got.extend_from_slice(c);
                    Ok::<_, io::Error>(())
                },
                |e| e,
            )
            .unwrap();
            assert_eq!((n, &got), (1000, &data), "step {step}, chunk {chunk}");
        }
        // A read error ends it with that error; a sink's error ends it with the sink's.
        let failing = Choppy { data: &data, step: 10, interrupt: false, fail_at: Some(30), at: 0 };
        let error = for_each_chunk(failing, &mut [0u8; 16], |_| Ok(()), |e| e.to_string()).unwrap_err();
        assert_eq!(error, "disk gone");
        let reader = Choppy { data: &data, step: 10, interrupt: false, fail_at: None, at: 0 };
        let mut calls = 0;
        let error = for_each_chunk(
            reader,
            &mut [0u8; 16],
            |_| {
                calls += 1;
                if calls == 3 {
                    Err("sink full".to_string())
                } else {
                    Ok(())
                }
            },
            |e| e.to_string(),
        )
        .unwrap_err();
        assert_eq!((error.as_str(), calls), ("sink full", 3));
    }
    use super::*;

    fn fifo(path: &Path) {
        let c = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn reads_regular_files_and_refuses_the_rest_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("a.json"), "{}").unwrap();
        std::os::unix::fs::symlink(p.join("a.json"), p.join("link.json")).unwrap();
        fifo(&p.join("fifo.json"));
        std::fs::create_dir(p.join("d")).unwrap();
        assert_eq!(read(&p.join("a.json")).unwrap(), b"{}");
        let refused = |name: &str| read(&p.join(name)).unwrap_err();
        assert!(refused("link.json").to_string().contains("symbolic link"));
        assert!(refused("fifo.json").to_string().contains("is a FIFO, not a regular file; not read"));
        assert!(refused("d").to_string().contains("directory"));
        assert!(is_refusal(&refused("fifo.json")));
        let missing = refused("nothing.json");
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        assert!(!is_refusal(&missing));
    }

    /// The opener for what a listing showed as a regular file hands back the `fstat` it made,
    /// and still refuses a symlink or FIFO swapped in since (the FIFO opened without blocking).
    #[test]
    fn opening_a_listed_file_refuses_what_was_swapped_in() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("a.json"), "{}\n").unwrap();
        std::os::unix::fs::symlink(p.join("a.json"), p.join("link.json")).unwrap();
        fifo(&p.join("fifo.json"));
        let (_, st) = open_listed_regular(&p.join("a.json")).unwrap();
        assert_eq!(st.st_size, 3);
        let refused = |name: &str| open_listed_regular(&p.join(name)).unwrap_err();
        assert!(refused("link.json").to_string().contains("symbolic link"));
        assert!(refused("fifo.json").to_string().contains("is a FIFO, not a regular file; not read"));
        assert_eq!(refused("nothing.json").kind(), io::ErrorKind::NotFound);
    }

    /// Every opener (path, directory entry, raw fd) is this one: the kind found is handed back,
    /// a FIFO or device is looked at but never opened, and the refusal text is the same.
    #[test]
    fn opening_by_handle_refuses_like_opening_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("a.json"), "{}").unwrap();
        std::os::unix::fs::symlink(p.join("a.json"), p.join("link.json")).unwrap();
        fifo(&p.join("fifo.json"));
        let handle = Dir::open(p).unwrap();
        let at = |name: &str| open_regular_at(handle.raw(), &CString::new(name).unwrap()).unwrap().map(drop);
        assert_eq!(at("a.json"), Ok(()));
        assert_eq!(at("link.json"), Err(EntryKind::Symlink));
        assert_eq!(at("fifo.json"), Err(EntryKind::Fifo));
        for name in ["link.json", "fifo.json"] {
            let by_path = open_regular(&p.join(name)).unwrap_err().to_string();
            let in_dir = open_regular_in(&handle, OsStr::new(name)).unwrap_err().to_string();
            assert_eq!(by_path, in_dir);
        }
        let missing = open_regular_in(&handle, OsStr::new("gone.json")).unwrap_err();
        assert_eq!(missing.raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn names_in_reads_through_a_handle() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b"), "").unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        let handle = crate::fsx::Dir::open(dir.path()).unwrap();
        assert_eq!(names_in(handle.raw()).unwrap(), [OsString::from("a"), OsString::from("b")]);
    }

    #[test]
    fn lists_a_directory_but_never_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir(p.join("real")).unwrap();
        std::fs::write(p.join("real/b.json"), "{}").unwrap();
        fifo(&p.join("real/a.json"));
        std::os::unix::fs::symlink(p.join("real"), p.join("link")).unwrap();
        let listed = list_dir(&p.join("real")).unwrap();
        let seen: Vec<(&OsStr, EntryKind)> = listed.iter().map(|l| (l.name.as_os_str(), l.kind)).collect();
        assert_eq!(seen, [(OsStr::new("a.json"), EntryKind::Fifo), (OsStr::new("b.json"), EntryKind::File)]);
        let error = list_dir(&p.join("link")).unwrap_err();
        assert!(is_refusal(&error) && error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(list_dir(&p.join("gone")).unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
