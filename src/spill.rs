//! The bytes a plan will write, held until its apply: in memory, or moved out of it into an
//! unnamed file (Linux `O_TMPFILE`) in the target's own directory.
//!
//! Repair plans every output of a scan dir before it writes any, and a 20,000-unit scan's
//! outputs are hundreds of MB: held in memory until the apply, they were a fifth of its peak
//! (issue 17). An unnamed file has no name: nothing is left behind when the process is killed,
//! interrupted or the plan is declined, and no reader of the scan dir (OpenAnt, check, clean)
//! ever sees it. It lives in the target's directory, so on the target's filesystem: at the
//! apply the atomic writer links it in as its temp file (`linkat`), so the bytes are written
//! once, when they are planned, and read back from disk and validated as any temp file is;
//! where linking is refused it copies them into a temp file of its own. Where the filesystem (or
//! the kernel) refuses an unnamed file, the bytes stay in memory, as they always did. A text
//! serialized from a document goes into its unnamed file as it is written ([`TextWriter`]),
//! never whole in memory.
//!
//! # Failpoints
//!
//! | name | where it fires | effect of `return` |
//! |---|---|---|
//! | `spill::create` | before the unnamed file is made | refused (`EOPNOTSUPP`): the bytes stay in memory |
//! | `spill::write` | before bytes are written into an unnamed file | fails (`ENOSPC`): the bytes stay in memory (what a [`TextWriter`] wrote is read back) |
//! | `spill::link` | before the writer links it in as its temp file | refused (`EPERM`): the writer copies it |

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// How much of a spilled file is read at a time.
pub const CHUNK: usize = 1 << 20;

/// The most unnamed files open at once. Each holds a descriptor until its plan is applied or
/// dropped, and a plan of a tree of many scan dirs must leave the process enough of them (the
/// soft limit is often 1,024) to read those dirs: past this, bytes stay in memory.
pub const MAX_OPEN: usize = 256;

/// Unnamed files open now, process-wide.
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// One of [`MAX_OPEN`] places, given back on drop.
#[derive(Debug)]
struct Slot(&'static AtomicUsize);

impl Slot {
    fn take(open: &'static AtomicUsize, max: usize) -> Option<Slot> {
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).ok().map(|_| Slot(open))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a plan keeps in memory of the bytes it will write before it moves the rest into
/// unnamed files: 256 MiB, as check's memory budget. Moving them out costs the writes into the
/// unnamed files and the copies out of them at the apply: on the 20,000-unit benchmark (216 MB
/// of outputs) that was 0.5-0.6 s of 4.3 s for 40 MB of peak (`bench/repair.py`), so a scan's
/// outputs stay in memory up to this and a plan of many scan dirs stays bounded.
pub const IN_MEMORY: u64 = 256 << 20;

/// The bytes a plan may still keep in memory, shared by every scan dir it plans.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    left: Arc<AtomicU64>,
}

impl MemoryBudget {
    pub fn new(bytes: u64) -> MemoryBudget {
        MemoryBudget { left: Arc::new(AtomicU64::new(bytes)) }
    }

    /// Takes `len` bytes of the budget if that many are left (and then they may stay in
    /// memory); else takes nothing.
    pub fn take(&self, len: u64) -> bool {
        self.left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| left.checked_sub(len)).is_ok()
    }

    /// What is left, taking nothing.
    pub fn left(&self) -> u64 {
        self.left.load(Ordering::Acquire)
    }
}

/// An unnamed file holding `len` bytes. Read by offset (`pread`), never by a shared cursor,
/// so readers on several threads (the backup's hashing, the writer) do not disturb each other.
#[derive(Debug)]
pub struct Spill {
    file: File,
    len: u64,
    _slot: Slot,
}

impl Spill {
    /// Writes `bytes` into a new unnamed file in `dir`. An error (the filesystem refuses
    /// `O_TMPFILE`, the disk is full, ...) leaves nothing behind.
    pub fn create(dir: &Path, bytes: &[u8]) -> io::Result<Spill> {
        let (mut file, slot) = Spill::open(dir)?;
        fail_write()?;
        file.write_all(bytes)?;
        Ok(Spill { file, len: bytes.len() as u64, _slot: slot })
    }

    /// A new, empty unnamed file in `dir`, and its place among the [`MAX_OPEN`].
    fn open(dir: &Path) -> io::Result<(File, Slot)> {
        fail::fail_point!("spill::create", |_| Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP)));
        let slot = Slot::take(&OPEN, MAX_OPEN).ok_or_else(|| io::Error::other("too many unnamed files open"))?;
        Ok((open_unnamed(dir)?, slot))
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// The unnamed file, for tests that tell it from a copy.
    #[cfg(test)]
    pub(crate) fn file_for_tests(&self) -> &File {
        &self.file
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Gives the unnamed file the name `name` in the directory `dir_fd` (`linkat`; `EEXIST`
    /// when the name is taken) and returns a descriptor of it: the atomic writer's temp file,
    /// whose bytes are then already written. Possible once: a file that had a name and lost
    /// it cannot be linked again, and a system that refuses (no `/proc`, not permitted) says
    /// so with an error; the writer then copies the bytes as it does from memory.
    #[cfg(target_os = "linux")]
    pub(crate) fn link_at(&self, dir_fd: std::os::fd::RawFd, name: &std::ffi::CStr) -> io::Result<File> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        fail::fail_point!("spill::link", |_| Err(io::Error::from_raw_os_error(libc::EPERM)));
        // Only a file without a name: once linked and committed it is its target, and linking
        // it again would hand the writer a live file to chmod and rename.
        if self.file.metadata()?.nlink() != 0 {
            return Err(io::Error::other("the unnamed file has a name already"));
        }
        // Taken before the link: once the name exists, no error may leave it behind.
        let temp = self.file.try_clone()?;
        let fd = self.file.as_raw_fd();
        // SAFETY: valid fds and NUL-terminated names. AT_EMPTY_PATH links the fd itself (it
        // needs CAP_DAC_READ_SEARCH); /proc/self/fd/N followed is the same without it.
        let linked = unsafe { libc::linkat(fd, c"".as_ptr(), dir_fd, name.as_ptr(), libc::AT_EMPTY_PATH) } == 0;
        if !linked {
            let first = io::Error::last_os_error();
            if first.raw_os_error() == Some(libc::EEXIST) {
                return Err(first);
            }
            let proc_path = std::ffi::CString::new(format!("/proc/self/fd/{fd}")).map_err(io::Error::other)?;
            // SAFETY: as above.
            let linked = unsafe {
                libc::linkat(libc::AT_FDCWD, proc_path.as_ptr(), dir_fd, name.as_ptr(), libc::AT_SYMLINK_FOLLOW)
            } == 0;
            if !linked {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(temp)
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn link_at(&self, _dir_fd: i32, _name: &std::ffi::CStr) -> io::Result<File> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    /// Fills `buf` from byte `at` on (as much of it as the file holds from there).
    fn read_exact_at(&self, buf: &mut [u8], at: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, at).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(e.kind(), "the spilled bytes are shorter than written")
            } else {
                e
            }
        })
    }
}

/// `openat(dir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)`, `dir` opened refusing a symlink
/// as its last component (as the walk found it). Without `O_EXCL` the file can be given a
/// name, and only the atomic writer does that: it links it in as its temp file
/// ([`Spill::link_at`]) rather than copying it into one.
#[cfg(target_os = "linux")]
fn open_unnamed(dir: &Path) -> io::Result<File> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let dir = crate::fsx::Dir::open_nofollow(dir).map_err(|e| io::Error::other(e.to_string()))?;
    let flags = libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC;
    // SAFETY: an open directory fd and a NUL-terminated name; the mode is the variadic argument.
    let fd = unsafe { libc::openat(dir.raw(), c".".as_ptr(), flags, 0o600 as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd owned by nobody else.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

#[cfg(not(target_os = "linux"))]
fn open_unnamed(_dir: &Path) -> io::Result<File> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// A text a plan will write, taken as it is serialized ([`crate::pyjson::Drain`]): kept in
/// memory while it fits what was left of the plan's budget when the writing began, and past
/// that written straight into an unnamed file in the target's directory, [`CHUNK`] bytes at a
/// time, so the whole text is never in memory (a results.json text was a quarter of repair's
/// peak, issue 17). The same bytes either way ([`TextWriter::finish`]).
///
/// Where the unnamed file is refused, the text stays in memory, as [`Contents::hold`] keeps
/// bytes a refused file cannot take; where a write into it fails (the disk is full), the text
/// it holds is read back and the whole text stays in memory.
#[derive(Debug)]
pub struct TextWriter<'a> {
    dir: &'a Path,
    /// The most bytes kept in memory before they go into a file.
    in_memory: u64,
    state: Writing,
}

#[derive(Debug)]
enum Writing {
    /// All of it in memory so far.
    Memory,
    /// `len` bytes written into `file`; the rest is in memory, less than [`CHUNK`] of it after
    /// each piece.
    File { file: File, len: u64, slot: Slot },
    /// In memory for good: `before` followed by the text the writer holds. `Err` when a write
    /// into the unnamed file failed and what it held cannot be read back.
    Kept { before: io::Result<Vec<u8>> },
}

impl<'a> TextWriter<'a> {
    /// Takes nothing of `budget`: the plan takes what it keeps in memory when it holds it
    /// ([`MemoryBudget::take`]).
    pub fn new(dir: &'a Path, budget: &MemoryBudget) -> TextWriter<'a> {
        TextWriter { dir, in_memory: budget.left(), state: Writing::Memory }
    }

    /// The whole text: what was taken, followed by `rest` (what the serializer left). In an
    /// unnamed file once some of it went into one, else in memory. `Err` only when a write into
    /// the unnamed file failed and what it held could not be read back.
    pub fn finish(mut self, mut rest: String) -> io::Result<Contents> {
        match self.state {
            Writing::Memory if rest.len() as u64 > self.in_memory => self.move_out(&mut rest),
            _ if !rest.is_empty() => self.write_out(&mut rest),
            _ => {}
        }
        match self.state {
            Writing::Memory => Ok(Contents::from(rest.into_bytes())),
            Writing::File { file, len, slot } => Ok(Contents::Spilled(Arc::new(Spill { file, len, _slot: slot }))),
            Writing::Kept { before } => {
                let mut bytes = before?;
                bytes.extend_from_slice(rest.as_bytes());
                Ok(Contents::from(bytes))
            }
        }
    }

    /// Moves `text`, past the budget, into a new unnamed file, and keeps it in memory for good
    /// when the file is refused.
    fn move_out(&mut self, text: &mut String) {
        match Spill::open(self.dir) {
            Ok((file, slot)) => {
                self.state = Writing::File { file, len: 0, slot };
                self.write_out(text);
            }
            Err(_) => self.state = Writing::Kept { before: Ok(Vec::new()) },
        }
    }

    /// Moves `text` into the unnamed file, when there is one (and leaves it in memory when the
    /// write fails).
    fn write_out(&mut self, text: &mut String) {
        let Writing::File { file, len, .. } = &mut self.state else { return };
        match fail_write().and_then(|()| file.write_all(text.as_bytes())) {
            Ok(()) => {
                *len += text.len() as u64;
                text.clear();
            }
            Err(error) => self.keep(error),
        }
    }

    /// After a write into the unnamed file failed with `error`: what it holds is read back, and
    /// the rest of the text stays in memory after it.
    fn keep(&mut self, error: io::Error) {
        let Writing::File { file, len, .. } = &self.state else { return };
        let before = usize::try_from(*len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory)).and_then(|len| {
            let mut bytes = vec![0u8; len];
            file.read_exact_at(&mut bytes, 0)?;
            Ok(bytes)
        });
        let before = before.map_err(|read| io::Error::new(read.kind(), format!("{error}, and reading back: {read}")));
        self.state = Writing::Kept { before };
    }
}

/// The `spill::write` failpoint.
fn fail_write() -> io::Result<()> {
    fail::fail_point!("spill::write", |_| Err(io::Error::from_raw_os_error(libc::ENOSPC)));
    Ok(())
}

impl crate::pyjson::Drain for TextWriter<'_> {
    fn capacity(&mut self, estimated_len: usize) -> usize {
        // Room reserved and never written costs no memory; past `in_memory` the text goes into
        // a file, a piece (one element, or a parallel writer's piece) at a time.
        estimated_len.min(usize::try_from(self.in_memory).unwrap_or(usize::MAX).saturating_add(2 * CHUNK))
    }

    fn drain(&mut self, text: &mut String) {
        match self.state {
            Writing::Memory if text.len() as u64 > self.in_memory => {
                self.move_out(text);
                // The memory that held the text so far is given back.
                if text.is_empty() && text.capacity() > 4 * CHUNK {
                    *text = String::with_capacity(2 * CHUNK);
                }
            }
            Writing::File { .. } if text.len() >= CHUNK => self.write_out(text),
            _ => {}
        }
    }
}

/// What a planned write will write, owned by the plan (cheap to clone: shared).
#[derive(Debug, Clone)]
pub enum Contents {
    Memory(Arc<Vec<u8>>),
    Spilled(Arc<Spill>),
}

impl From<Vec<u8>> for Contents {
    fn from(bytes: Vec<u8>) -> Contents {
        Contents::Memory(Arc::new(bytes))
    }
}

impl From<Arc<Vec<u8>>> for Contents {
    fn from(bytes: Arc<Vec<u8>>) -> Contents {
        Contents::Memory(bytes)
    }
}

impl Contents {
    /// `bytes` moved into an unnamed file in `dir` (and freed) when `dir` is given and takes
    /// one; otherwise kept in memory.
    pub fn hold(bytes: Vec<u8>, dir: Option<&Path>) -> Contents {
        let contents = Contents::from(bytes);
        match dir {
            Some(dir) => contents.spilled_into(dir),
            None => contents,
        }
    }

    /// These contents moved into an unnamed file in `dir` when they are in memory and `dir`
    /// takes one (their memory is freed when nothing else shares it); otherwise as they are.
    pub fn spilled_into(self, dir: &Path) -> Contents {
        match &self {
            Contents::Memory(bytes) => match Spill::create(dir, bytes) {
                Ok(spill) => Contents::Spilled(Arc::new(spill)),
                Err(_) => self,
            },
            Contents::Spilled(_) => self,
        }
    }

    /// The bytes, for a writer or a reader that takes them a chunk at a time.
    pub fn source(&self) -> Source<'_> {
        match self {
            Contents::Memory(bytes) => Source::Bytes(bytes),
            Contents::Spilled(spill) => Source::Spilled(spill),
        }
    }

    pub fn len(&self) -> u64 {
        self.source().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_spilled(&self) -> bool {
        matches!(self, Contents::Spilled(_))
    }

    /// All the bytes at once, for a parser that needs them whole: borrowed when in memory,
    /// read back when spilled (and freed when the caller is done).
    pub fn bytes(&self) -> io::Result<Cow<'_, [u8]>> {
        match self {
            Contents::Memory(bytes) => Ok(Cow::Borrowed(bytes)),
            Contents::Spilled(spill) => {
                let len = usize::try_from(spill.len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
                let mut bytes = vec![0u8; len];
                spill.read_exact_at(&mut bytes, 0)?;
                Ok(Cow::Owned(bytes))
            }
        }
    }
}

/// Bytes to write, borrowed: in memory, or in a [`Spill`].
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    Bytes(&'a [u8]),
    Spilled(&'a Spill),
}

impl<'a> From<&'a [u8]> for Source<'a> {
    fn from(bytes: &'a [u8]) -> Source<'a> {
        Source::Bytes(bytes)
    }
}

impl<'a> From<&'a Vec<u8>> for Source<'a> {
    fn from(bytes: &'a Vec<u8>) -> Source<'a> {
        Source::Bytes(bytes)
    }
}

impl<'a> Source<'a> {
    pub fn len(&self) -> u64 {
        match self {
            Source::Bytes(bytes) => bytes.len() as u64,
            Source::Spilled(spill) => spill.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes `at..at + want` (cut at the end): borrowed when in memory, read into `scratch`
    /// when spilled.
    pub fn slice_at<'s>(&self, at: u64, want: usize, scratch: &'s mut Vec<u8>) -> io::Result<&'s [u8]>
    where
        'a: 's,
    {
        let len = self.len();
        let at = at.min(len);
        let n = (want as u64).min(len - at) as usize;
        match *self {
            Source::Bytes(bytes) => Ok(&bytes[at as usize..at as usize + n]),
            Source::Spilled(spill) => {
                scratch.resize(n, 0);
                spill.read_exact_at(&mut scratch[..n], at)?;
                Ok(&scratch[..n])
            }
        }
    }

    /// Hands bytes `..end` to `each`, at most [`CHUNK`] at a time, in order.
    pub fn for_each_chunk<E>(
        &self,
        end: u64,
        mut each: impl FnMut(&[u8]) -> Result<(), E>,
        read_error: impl Fn(io::Error) -> E,
    ) -> Result<(), E> {
        let end = end.min(self.len());
        let mut scratch = Vec::new();
        let mut at = 0u64;
        while at < end {
            let want = (end - at).min(CHUNK as u64) as usize;
            let chunk = self.slice_at(at, want, &mut scratch).map_err(&read_error)?;
            each(chunk)?;
            at += chunk.len() as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memory_budget_is_taken_while_it_lasts_and_shared_by_its_clones() {
        let budget = MemoryBudget::new(10);
        let shared = budget.clone();
        assert!(budget.take(4));
        assert!(shared.take(6), "a clone takes from the same budget");
        assert!(!budget.take(1), "nothing left");
        assert!(budget.take(0));
        let budget = MemoryBudget::new(5);
        assert!(!budget.take(6), "more than is left takes nothing");
        assert!(budget.take(5));
    }

    fn spilled_in(dir: &Path, bytes: &[u8]) -> Contents {
        let contents = Contents::hold(bytes.to_vec(), Some(dir));
        assert!(contents.is_spilled(), "this filesystem takes unnamed files");
        contents
    }

    fn collect(contents: &Contents, end: u64) -> Vec<u8> {
        let mut got = Vec::new();
        let each = |chunk: &[u8]| {
            assert!(chunk.len() <= CHUNK);
            got.extend_from_slice(chunk);
            Ok::<_, io::Error>(())
        };
        contents.source().for_each_chunk(end, each, |e| e).unwrap();
        got
    }

    #[test]
    fn spilled_bytes_read_back_exactly_and_leave_no_name() {
        let d = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..(3 * CHUNK + 17)).map(|i| (i * 31 % 251) as u8).collect();
        let contents = spilled_in(d.path(), &bytes);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0, "an unnamed file has no name");
        assert_eq!(contents.len(), bytes.len() as u64);
        assert_eq!(&*contents.bytes().unwrap(), bytes.as_slice());
        assert_eq!(collect(&contents, u64::MAX), bytes);
        assert_eq!(collect(&contents, bytes.len() as u64 / 2), &bytes[..bytes.len() / 2]);
        let mut scratch = Vec::new();
        assert_eq!(contents.source().slice_at(5, 10, &mut scratch).unwrap(), &bytes[5..15]);
        let last = bytes.len() as u64 - 3;
        assert_eq!(contents.source().slice_at(last, 10, &mut scratch).unwrap(), &bytes[bytes.len() - 3..]);
        assert!(contents.source().slice_at(u64::MAX, 10, &mut scratch).unwrap().is_empty());
    }

    #[test]
    fn no_more_than_the_most_places_are_taken_and_each_comes_back() {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let taken: Vec<Slot> = (0..3).map_while(|_| Slot::take(&COUNT, 3)).collect();
        assert_eq!(taken.len(), 3);
        assert!(Slot::take(&COUNT, 3).is_none());
        drop(taken);
        assert_eq!(COUNT.load(Ordering::Acquire), 0);
        assert!(Slot::take(&COUNT, 3).is_some());
    }

    #[test]
    fn without_a_dir_the_bytes_stay_in_memory() {
        let contents = Contents::hold(b"{}".to_vec(), None);
        assert!(!contents.is_spilled());
        assert!(matches!(contents.bytes().unwrap(), Cow::Borrowed(b"{}")));
    }

    /// A document of `units` units of about 200 bytes each, and its text.
    fn document(units: usize) -> (crate::pyjson::PyValue, Vec<u8>) {
        let unit = |i: usize| format!(r#"{{"id": "u{i}", "code": "{}\u00e9", "n": {i}}}"#, "x".repeat(150));
        let text = format!(
            r#"{{"units": [{}], "metadata": {{"n": 1.5}}}}"#,
            (0..units).map(unit).collect::<Vec<_>>().join(",")
        );
        let value = crate::pyjson::parse(text.as_bytes()).unwrap();
        let written = crate::pyjson::to_python_string(&value, true).unwrap().into_bytes();
        (value, written)
    }

    /// A [`TextWriter`], and the most text the serializer held at once while it wrote.
    struct Watched<'a> {
        writer: TextWriter<'a>,
        most: usize,
    }

    impl crate::pyjson::Drain for Watched<'_> {
        fn capacity(&mut self, estimated_len: usize) -> usize {
            self.writer.capacity(estimated_len)
        }

        fn drain(&mut self, text: &mut String) {
            self.most = self.most.max(text.len());
            self.writer.drain(text);
        }
    }

    /// `value` written through a [`TextWriter`] in `dir` with `budget` left: what it holds, and
    /// the most text held in memory at once.
    fn write_through(value: &crate::pyjson::PyValue, dir: &Path, left: u64, consuming: bool) -> (Contents, usize) {
        let budget = MemoryBudget::new(left);
        let mut watched = Watched { writer: TextWriter::new(dir, &budget), most: 0 };
        let rest = if consuming {
            crate::pyjson::write_python_into_consuming(value.clone(), true, &mut watched).unwrap()
        } else {
            crate::pyjson::write_python_into(value, true, &mut watched).unwrap()
        };
        assert_eq!(budget.left(), left, "nothing of the budget is taken");
        let most = watched.most.max(rest.len());
        (watched.writer.finish(rest).unwrap(), most)
    }

    /// Past what is left of the budget, a text goes straight into an unnamed file, a piece at
    /// a time (never whole in memory); within it, it stays in memory; the same bytes either way.
    #[test]
    fn a_text_past_the_budget_is_written_into_an_unnamed_file_as_it_is_serialized() {
        let d = tempfile::tempdir().unwrap();
        let (value, want) = document(30_000);
        assert!(want.len() > 4 * CHUNK);
        for consuming in [false, true] {
            let (contents, most) = write_through(&value, d.path(), 0, consuming);
            assert!(contents.is_spilled());
            assert!(*contents.bytes().unwrap() == *want, "the same bytes");
            assert!(most < 2 * CHUNK, "at most about a piece in memory: {most}");
            assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0, "an unnamed file has no name");
        }
        let len = want.len() as u64;
        let (within, most) = write_through(&value, d.path(), len, false);
        assert!(!within.is_spilled() && *within.bytes().unwrap() == *want);
        assert_eq!(most, want.len(), "kept whole");
        let (past, _) = write_through(&value, d.path(), len - 1, false);
        assert!(past.is_spilled() && *past.bytes().unwrap() == *want);
    }

    /// Where the unnamed file is refused, the text stays in memory, the same bytes.
    #[test]
    fn a_text_an_unnamed_file_refuses_stays_in_memory() {
        let d = tempfile::tempdir().unwrap();
        let (value, want) = document(3_000);
        let (contents, _) = write_through(&value, &d.path().join("missing"), 0, true);
        assert!(!contents.is_spilled());
        assert!(*contents.bytes().unwrap() == *want);
    }

    #[test]
    fn a_dir_that_refuses_keeps_the_bytes_in_memory() {
        let d = tempfile::tempdir().unwrap();
        let contents = Contents::hold(b"[1]".to_vec(), Some(&d.path().join("missing")));
        assert!(!contents.is_spilled());
        assert_eq!(&*contents.bytes().unwrap(), b"[1]");
    }
}
