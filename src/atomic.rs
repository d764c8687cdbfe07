//! The one atomic writer every writing verb uses (the write protocol only; the directory
//! handles it works through are [`crate::fsx`]).
//!
//! [`write_atomic`] replaces (or creates) a file so that, whatever happens (an error, a panic,
//! SIGKILL, power loss), the target holds either exactly its old bytes or exactly the new ones,
//! never a mix, and the new bytes were validated *as read back from disk* before they became
//! visible. The protocol, all relative to one directory fd opened once:
//!
//! 1. `fstatat(AT_SYMLINK_NOFOLLOW)` the target: a symlink, directory, FIFO, socket or device is
//!    refused (nothing is created or written); a regular file's mode, owner and group are kept.
//! 2. `openat(O_CREAT | O_EXCL | O_NOFOLLOW, 0600)` a temp file beside the target, named
//!    `.<name>.scanaudit-XXXXXX.tmp` (see [temp file names](#temp-file-names)).
//! 3. write everything, `fsync` the temp file;
//! 4. reopen the temp file by name (checking it is still the same inode), read it back, compare
//!    with the bytes given, and run the caller's validator on what was read (bytes given in
//!    memory, which the comparison proves to be what was read, are validated while a thread
//!    of the writer's does steps 3 and 4; only a verdict with both done counts);
//! 5. `fchown` to the replaced file's owner and group (EPERM tolerated) and `fchmod` to its
//!    permission bits, or to `0666 & !umask` (or the mode the caller asked for) for a new file;
//! 6. `renameat` onto the target, then `fsync` the directory. A failing directory fsync after a
//!    successful rename is *not* an error: the outcome says `durable: false` ("written,
//!    durability not guaranteed"), because the write did happen and must not be retried as if it
//!    had failed.
//!
//! The bytes given are in memory, or in an unnamed file a plan moved them into
//! ([`crate::spill`]). That file is linked in as the temp file in step 2 (under a temp name, as
//! `O_EXCL` would make it: a name taken gets another), so step 3 only fsyncs it and step 4
//! reopens it by name, checks it is that inode and has the expected length, and the validator
//! reads it ([`Validate::file`]): the bytes were written once, when they were planned, and are
//! validated as read back from disk. Where it cannot be linked, steps 3 and 4 copy and compare
//! them a chunk at a time into a temp file of its own. Either way they are never in memory whole.
//!
//! On every error path (and on unwinding panics) the temp file is removed. Only SIGKILL, power
//! loss or an OS crash can leave one behind; it is then recognisable by its name.
//!
//! # Temp file names
//!
//! `"." + NAME + ".scanaudit-" + XXXXXX + ".tmp"`, where `NAME` is the target's file name and
//! `XXXXXX` is 6 random characters from `[A-Za-z0-9]`. Example: `results.json` →
//! `.results.json.scanaudit-Q7f2Kx.tmp`. The name never ends in `.json` (OpenAnt's checkpoint
//! loader reads every `*.json` in a checkpoint directory). When `NAME` is longer than
//! [`TEMP_NAME_MAX_STEM`] bytes it is cut to that many bytes (at a UTF-8 character boundary when
//! the name is UTF-8) so the temp name stays within the 255-byte `NAME_MAX`. As a regex over the
//! whole file name: `^\..+\.scanaudit-[A-Za-z0-9]{6}\.tmp$`. Recognising these names is the
//! layout module's job; this module only creates them.
//!
//! # Failpoints
//!
//! With the `failpoints` feature (on for every test target), each step has a
//! [`fail`](https://docs.rs/fail) point. Configured with `return`, each makes that step fail
//! with an injected I/O error; `panic` panics there (the temp file is still removed on unwind).
//!
//! | name | where it fires | effect of `return` |
//! |---|---|---|
//! | `atomic::create` | right after the temp file was created | `Step::Create` error, temp removed |
//! | `atomic::write` | instead of the write, after writing the first half (a linked unnamed file is whole) | torn temp, `Step::Write` error, temp removed |
//! | `atomic::fsync` | before `fsync` of the temp file | `Step::Fsync` error |
//! | `atomic::read-back` | before re-reading the temp file | `Step::ReadBack` error |
//! | `atomic::validate` | replaces the validator's verdict | [`AtomicError::Validation`] |
//! | `atomic::chown` | before `fchown` (only when replacing a file) | `Step::Chown` error |
//! | `atomic::chmod` | before `fchmod` | `Step::Chmod` error |
//! | `atomic::rename` | before `renameat` | `Step::Rename` error, target untouched |
//! | `atomic::dir-fsync` | replaces the directory `fsync` result | `Ok` with `durable: false` |

use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::fsx::{component, current_umask, mode_bits, AtomicError, Dir, EntryKind, Step};
use crate::no_follow::{open_regular_at, refusal};
use crate::spill::{Source, Spill};

/// The validator callback: gets the bytes read back from the temp file, returns a message on
/// failure. Callers pass the JSON validator for the target's file kind; any
/// `Fn(&[u8]) -> Result<(), String>` is one.
pub type Validator<'a> = &'a dyn Validate;

/// Judges what was read back from a temp file before it may replace its target.
pub trait Validate {
    /// Judges bytes in memory.
    fn bytes(&self, bytes: &[u8]) -> Result<(), String>;

    /// Judges the `len` bytes `file` holds from its start, for new contents that were never
    /// in memory whole ([`Source::Spilled`]). `Err` when the file cannot be read. By default
    /// they are read whole and handed to [`bytes`](Self::bytes); a validator that can read a
    /// file in bounded memory does that instead.
    fn file(&self, file: File, len: u64) -> io::Result<Result<(), String>> {
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.take(len).read_to_end(&mut bytes)?;
        Ok(self.bytes(&bytes))
    }
}

impl<F: Fn(&[u8]) -> Result<(), String>> Validate for F {
    fn bytes(&self, bytes: &[u8]) -> Result<(), String> {
        self(bytes)
    }
}

/// A validator that accepts anything (for files that are not JSON, e.g. copies of raw bytes).
pub fn accept_any(_: &[u8]) -> Result<(), String> {
    Ok(())
}

/// Longest prefix of the target's name (in bytes) used in a temp file name:
/// `255 (NAME_MAX) - len(".") - len(".scanaudit-") - 6 - len(".tmp")`.
pub const TEMP_NAME_MAX_STEM: usize = 255 - 1 - 11 - 6 - 4;

const TEMP_INFIX: &str = ".scanaudit-";
const TEMP_SUFFIX: &str = ".tmp";
const TEMP_RANDOM_LEN: usize = 6;
const CREATE_ATTEMPTS: usize = 64;
/// How much of a written file is read back at a time to compare it with what was written.
const READ_BACK_CHUNK: usize = 1 << 20;
/// Contents in memory from this size on are validated while a thread of the writer's writes,
/// fsyncs and reads them back; below it (a manifest, a checkpoint) a thread costs more than
/// the validation it would hide.
const CONCURRENT_VALIDATION_MIN: usize = 1 << 20;

/// Who owns the written file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// A new file: owned by this process's user and (per the directory) group.
    New,
    /// The replaced file's owner and group were kept.
    Preserved,
    /// Keeping them was not permitted (EPERM); only the group was kept.
    GroupOnly,
    /// Keeping them was not permitted (EPERM); the file now belongs to this process's user.
    NotPermitted,
}

/// What a successful write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOutcome {
    /// The target path as given.
    pub path: PathBuf,
    /// Bytes written.
    pub bytes: u64,
    /// An existing regular file was replaced (false: the file is new).
    pub replaced: bool,
    /// Permission bits the file now has.
    pub mode: u32,
    /// Whether owner and group were kept.
    pub ownership: Ownership,
    /// The directory was fsynced after the rename, so the new name survives power loss. False
    /// when the directory fsync failed (see `dir_sync_error`) or was deferred with
    /// [`WriteOptions::sync_dir`] `= false`: the file is written, durability is not guaranteed.
    pub durable: bool,
    /// Why the directory fsync failed, if it did.
    pub dir_sync_error: Option<String>,
}

/// Knobs for [`Dir::write_atomic_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// fsync the directory after the rename (default). Set to false to write many files in one
    /// directory and call [`Dir::sync`] once at the end; the outcomes then say `durable: false`.
    pub sync_dir: bool,
    /// The permission bits a new file gets (default `0666 & !umask`); a replaced file always
    /// keeps its own. Undo puts a file back with the mode it had.
    pub new_file_mode: Option<u32>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions { sync_dir: true, new_file_mode: None }
    }
}

/// Atomically replace (or create) `target` with `contents`, after `validate` accepted the bytes
/// read back from the temp file. See the [module docs](self) for the protocol.
///
/// The target's directory is opened once (following symlinks in the directory path as the
/// caller gave it); everything after that is relative to that directory fd. The target itself
/// must not be a symlink.
pub fn write_atomic(target: &Path, contents: &[u8], validate: Validator<'_>) -> Result<WriteOutcome, AtomicError> {
    let (dir_path, name) = split_target(target)?;
    let dir = Dir::open(&dir_path)?;
    let outcome = dir.prepare_impl(name, target, Source::Bytes(contents), validate, WriteOptions::default())?.commit();
    outcome
}

/// Write several files of one directory atomically, fsyncing the directory once at the end
/// (cheaper than one fsync per file). Stops at the first error: files written before it stay
/// written (the directory is still fsynced for them) and the error is returned.
pub fn write_many(dir: &Path, files: &[(&OsStr, &[u8], Validator<'_>)]) -> Result<Vec<WriteOutcome>, AtomicError> {
    let dir = Dir::open(dir)?;
    let options = WriteOptions { sync_dir: false, ..WriteOptions::default() };
    let mut outcomes = Vec::with_capacity(files.len());
    let mut failure = None;
    for (name, contents, validate) in files {
        match dir.write_atomic_with(name, contents, *validate, options) {
            Ok(outcome) => outcomes.push(outcome),
            Err(err) => {
                failure = Some(err);
                break;
            }
        }
    }
    if !outcomes.is_empty() {
        let synced = sync_dir(&dir);
        for outcome in &mut outcomes {
            match &synced {
                Ok(()) => outcome.durable = true,
                Err(err) => outcome.dir_sync_error = Some(err.to_string()),
            }
        }
    }
    match failure {
        Some(err) => Err(err),
        None => Ok(outcomes),
    }
}

impl Dir {
    /// Atomically replace or create `name` in this directory; see [`write_atomic`].
    pub fn write_atomic(
        &self,
        name: &OsStr,
        contents: &[u8],
        validate: Validator<'_>,
    ) -> Result<WriteOutcome, AtomicError> {
        self.write_atomic_with(name, contents, validate, WriteOptions::default())
    }

    /// [`Dir::write_atomic`] with options (e.g. deferring the directory fsync).
    pub fn write_atomic_with(
        &self,
        name: &OsStr,
        contents: &[u8],
        validate: Validator<'_>,
        options: WriteOptions,
    ) -> Result<WriteOutcome, AtomicError> {
        self.prepare_atomic_with(name, Source::Bytes(contents), validate, options)?.commit()
    }

    /// Steps 1 to 5 of the protocol for `name` in this directory: the temp file is written,
    /// fsynced, read back, validated and given its mode, but not yet renamed onto the target;
    /// [`Prepared::commit`] does that (dropping the [`Prepared`] removes the temp file). A
    /// caller uses the time in between for work that must be done before the target is
    /// replaced but not before the new bytes are written (the backup, its manifest).
    /// `contents` are in memory or in an unnamed file ([`crate::spill`]), copied in chunks.
    pub fn prepare_atomic_with(
        &self,
        name: &OsStr,
        contents: Source<'_>,
        validate: Validator<'_>,
        options: WriteOptions,
    ) -> Result<Prepared<'_>, AtomicError> {
        let target = self.path().join(name);
        self.prepare_impl(name, &target, contents, validate, options)
    }

    fn prepare_impl(
        &self,
        name: &OsStr,
        target: &Path,
        contents: Source<'_>,
        validate: Validator<'_>,
        options: WriteOptions,
    ) -> Result<Prepared<'_>, AtomicError> {
        let c_name = component(name, target)?;

        // 1. What is there now? Never a symlink, never a non-regular file.
        let existing = self.lstat(&c_name).map_err(|e| AtomicError::io(target, Step::Inspect, e))?;
        if let Some(st) = &existing {
            match EntryKind::from_mode(st.st_mode) {
                EntryKind::File => {}
                EntryKind::Symlink => return Err(AtomicError::Symlink { path: target.to_path_buf() }),
                other => {
                    return Err(AtomicError::NotRegularFile { path: target.to_path_buf(), kind: other.describe() })
                }
            }
        }

        // 2. Temp file beside the target, O_EXCL, 0600: spilled bytes' unnamed file linked in
        // under a temp name when that works, else a new file.
        let linked = match contents {
            Source::Spilled(spill) => TempFile::link(self, name, spill).ok(),
            Source::Bytes(_) => None,
        };
        let written = linked.is_some();
        let mut temp = match linked {
            Some(temp) => temp,
            None => TempFile::create(self, name).map_err(|e| AtomicError::io(target, Step::Create, e))?,
        };
        fail::fail_point!("atomic::create", |_| Err(AtomicError::io(target, Step::Create, injected("atomic::create"))));

        // 3-4. Write everything (a linked file holds it already), fsync, read back from disk and
        // compare. Bytes in memory are validated meanwhile, on this thread: the validator judges
        // `contents`, which the read-back then proves byte for byte to be what is on disk, so the
        // verdict is the one on the bytes read back, found while the disk works (for a 100 MB
        // output, the validation hides behind the write and the fsync instead of following
        // them). Spilled contents were never in memory whole: the validator reads the temp file
        // itself once it is read back. An error writing or reading back comes first, as when
        // the steps ran one after the other; the verdict is then dropped.
        let concurrent = match contents {
            Source::Bytes(bytes) if !written && bytes.len() >= CONCURRENT_VALIDATION_MIN => Some(bytes),
            _ => None,
        };
        let mut verdict = None;
        let mut reopened = None;
        if let Some(bytes) = concurrent {
            let temp = &mut temp;
            std::thread::scope(|scope| {
                let writer = std::thread::Builder::new()
                    .name("atomic-writer".into())
                    .spawn_scoped(scope, || write_and_read_back(temp, contents, false, target));
                // When the system refuses a thread, the steps run one after the other below.
                if let Ok(writer) = writer {
                    verdict = Some(validate.bytes(bytes));
                    reopened = Some(writer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
                }
            });
        }
        let reopened = match reopened {
            Some(reopened) => reopened?,
            None => write_and_read_back(&mut temp, contents, written, target)?,
        };
        let verdict = match (verdict, contents) {
            (Some(verdict), _) => verdict,
            (None, Source::Bytes(bytes)) => validate.bytes(bytes),
            (None, Source::Spilled(_)) => {
                let mut reopened = reopened;
                reopened.seek(SeekFrom::Start(0)).map_err(|e| AtomicError::io(target, Step::ReadBack, e))?;
                validate.file(reopened, contents.len()).map_err(|e| AtomicError::io(target, Step::ReadBack, e))?
            }
        };
        fail::fail_point!("atomic::validate", |_| Err(AtomicError::Validation {
            path: target.to_path_buf(),
            message: "injected failure at failpoint atomic::validate".to_string(),
        }));
        if let Err(message) = verdict {
            return Err(AtomicError::Validation { path: target.to_path_buf(), message });
        }

        // 5. Owner, group and mode of the file being replaced, or 0666 & !umask.
        let (mode, ownership) = match &existing {
            Some(st) => {
                fail::fail_point!("atomic::chown", |_| Err(AtomicError::io(
                    target,
                    Step::Chown,
                    injected("atomic::chown")
                )));
                let ownership = temp.chown_like(st).map_err(|e| AtomicError::io(target, Step::Chown, e))?;
                (mode_bits(st.st_mode) & 0o777, ownership)
            }
            None => (options.new_file_mode.map_or(0o666 & !current_umask(), |m| m & 0o7777), Ownership::New),
        };
        fail::fail_point!("atomic::chmod", |_| Err(AtomicError::io(target, Step::Chmod, injected("atomic::chmod"))));
        temp.chmod(mode).map_err(|e| AtomicError::io(target, Step::Chmod, e))?;

        Ok(Prepared {
            temp,
            c_name,
            target: target.to_path_buf(),
            bytes: contents.len(),
            replaced: existing.is_some(),
            mode,
            ownership,
            sync_dir: options.sync_dir,
        })
    }
}

/// A written, fsynced, read-back and validated temp file, waiting to be renamed onto its
/// target ([`Dir::prepare_atomic_with`]). Dropped without [`commit`](Self::commit), the temp
/// file is removed and the target was never touched.
pub struct Prepared<'d> {
    temp: TempFile<'d>,
    c_name: CString,
    target: PathBuf,
    bytes: u64,
    replaced: bool,
    mode: u32,
    ownership: Ownership,
    sync_dir: bool,
}

impl Prepared<'_> {
    /// Step 6: rename onto the target, then make the rename durable.
    pub fn commit(mut self) -> Result<WriteOutcome, AtomicError> {
        let target = &self.target;
        fail::fail_point!("atomic::rename", |_| Err(AtomicError::io(target, Step::Rename, injected("atomic::rename"))));
        self.temp.commit(&self.c_name).map_err(|e| AtomicError::io(target, Step::Rename, e))?;

        let (durable, dir_sync_error) = if self.sync_dir {
            match sync_dir(self.temp.dir) {
                Ok(()) => (true, None),
                Err(e) => (false, Some(e.to_string())),
            }
        } else {
            (false, None)
        };
        Ok(WriteOutcome {
            path: self.target.clone(),
            bytes: self.bytes,
            replaced: self.replaced,
            mode: self.mode,
            ownership: self.ownership,
            durable,
            dir_sync_error,
        })
    }
}

/// A temp file in a [`Dir`], removed on drop unless committed.
pub(crate) struct TempFile<'d> {
    dir: &'d Dir,
    name: CString,
    pub(crate) file: File,
    committed: bool,
}

impl<'d> TempFile<'d> {
    /// Create `.<target>.scanaudit-XXXXXX.tmp` with O_EXCL, O_NOFOLLOW and mode 0600.
    pub(crate) fn create(dir: &'d Dir, target: &OsStr) -> io::Result<TempFile<'d>> {
        let mut last = None;
        for _ in 0..CREATE_ATTEMPTS {
            let name = temp_name(target.as_bytes(), &random_suffix());
            let c = CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in file name"))?;
            let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
            // SAFETY: valid fd and NUL-terminated name; mode is passed as the variadic arg.
            let fd = unsafe { libc::openat(dir.raw(), c.as_ptr(), flags, 0o600 as libc::c_uint) };
            if fd >= 0 {
                // SAFETY: fresh fd owned by nobody else.
                let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
                return Ok(TempFile { dir, name: c, file, committed: false });
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::AlreadyExists {
                return Err(err);
            }
            last = Some(err);
        }
        Err(last.unwrap_or_else(|| io::Error::other("could not create a unique temp file")))
    }

    /// `spill`'s unnamed file linked in as `.<target>.scanaudit-XXXXXX.tmp` (a name taken gets
    /// another, as `create`'s `O_EXCL` does); its bytes are written already.
    fn link(dir: &'d Dir, target: &OsStr, spill: &Spill) -> io::Result<TempFile<'d>> {
        let mut last = None;
        for _ in 0..CREATE_ATTEMPTS {
            let name = temp_name(target.as_bytes(), &random_suffix());
            let c = CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in file name"))?;
            match spill.link_at(dir.raw(), &c) {
                Ok(file) => return Ok(TempFile { dir, name: c, file, committed: false }),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => last = Some(err),
                Err(err) => return Err(err),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("could not link a unique temp file")))
    }

    /// Reopen by name and check it is the inode we wrote.
    fn reopen(&self) -> io::Result<File> {
        let reopened = open_regular_at(self.dir.raw(), &self.name)?.map_err(refusal)?;
        let ours = self.file.metadata()?;
        let theirs = reopened.metadata()?;
        use std::os::unix::fs::MetadataExt;
        if ours.dev() != theirs.dev() || ours.ino() != theirs.ino() {
            return Err(io::Error::other("the temp file was replaced by another file while being written"));
        }
        Ok(reopened)
    }

    /// [`reopen`](Self::reopen), and compare what it holds with `expected`, chunk by chunk
    /// (reading at most `expected.len() + 1` bytes). `None` when the file holds exactly
    /// `expected`; otherwise what differs. With the file reopened.
    fn read_back_differs(&self, expected: Source<'_>) -> io::Result<(File, Option<String>)> {
        let reopened = self.reopen()?;
        let (read, first_difference) = compare_read(&reopened, expected, READ_BACK_CHUNK)?;
        Ok((reopened, first_difference.map(|first| describe_mismatch_at(expected.len() as usize, read, first))))
    }

    /// [`reopen`](Self::reopen), and compare its length with `expected`'s: `None` when they agree.
    fn reopen_with_len(&self, expected: u64) -> io::Result<(File, Option<String>)> {
        let reopened = self.reopen()?;
        let len = reopened.metadata()?.len();
        let differs = (len != expected).then(|| format!("expected {expected} bytes, the file holds {len}"));
        Ok((reopened, differs))
    }

    /// fchown to the owner and group in `st`. EPERM: try the group alone, then give up quietly.
    fn chown_like(&self, st: &libc::stat) -> io::Result<Ownership> {
        let fd = self.file.as_raw_fd();
        // SAFETY: valid fd.
        if unsafe { libc::fchown(fd, st.st_uid, st.st_gid) } == 0 {
            return Ok(Ownership::Preserved);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EPERM) {
            return Err(err);
        }
        // (uid_t)-1 leaves the owner alone.
        // SAFETY: valid fd.
        if unsafe { libc::fchown(fd, libc::uid_t::MAX, st.st_gid) } == 0 {
            return Ok(Ownership::GroupOnly);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EPERM) {
            return Err(err);
        }
        Ok(Ownership::NotPermitted)
    }

    pub(crate) fn chmod(&self, mode: u32) -> io::Result<()> {
        // SAFETY: valid fd.
        if unsafe { libc::fchmod(self.file.as_raw_fd(), (mode & 0o7777) as libc::mode_t) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// renameat onto `target` in the same directory; after success the temp name is gone.
    pub(crate) fn commit(&mut self, target: &CStr) -> io::Result<()> {
        self.dir.rename_to(&self.name, self.dir, target)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: nothing more can be done about a failing unlink here.
            // SAFETY: valid fd and NUL-terminated name.
            unsafe {
                libc::unlinkat(self.dir.raw(), self.name.as_ptr(), 0);
            }
        }
    }
}

/// `"." + stem + ".scanaudit-" + random + ".tmp"`, the stem cut to [`TEMP_NAME_MAX_STEM`].
fn temp_name(target: &[u8], random: &[u8; TEMP_RANDOM_LEN]) -> Vec<u8> {
    let stem = truncate_stem(target);
    let mut name = Vec::with_capacity(1 + stem.len() + 21);
    name.push(b'.');
    name.extend_from_slice(stem);
    name.extend_from_slice(TEMP_INFIX.as_bytes());
    name.extend_from_slice(random);
    name.extend_from_slice(TEMP_SUFFIX.as_bytes());
    name
}

fn truncate_stem(target: &[u8]) -> &[u8] {
    if target.len() <= TEMP_NAME_MAX_STEM {
        return target;
    }
    match std::str::from_utf8(target) {
        Ok(s) => {
            let mut end = TEMP_NAME_MAX_STEM;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            &target[..end]
        }
        Err(_) => &target[..TEMP_NAME_MAX_STEM],
    }
}

/// 6 random characters from `[A-Za-z0-9]`. Uses std's per-process random hash keys plus a
/// counter and the clock; uniqueness is enforced by O_EXCL, so this only has to be unpredictable
/// enough to avoid collisions.
fn random_suffix() -> [u8; TEMP_RANDOM_LEN] {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(d.as_nanos());
    }
    let mut x = hasher.finish();
    let mut out = [0u8; TEMP_RANDOM_LEN];
    for slot in &mut out {
        *slot = ALPHABET[(x % 62) as usize];
        x /= 62;
    }
    out
}

/// Steps 3 and 4 of the protocol but the validation: writes `contents` into `temp` (unless
/// `written`: a linked spill holds them already), fsyncs it, reopens it by name and reads it
/// back, comparing it with `contents` (a linked file, which is the spilled bytes themselves,
/// only has its length checked). The reopened file, or why the temp file cannot replace the
/// target.
fn write_and_read_back(
    temp: &mut TempFile<'_>,
    contents: Source<'_>,
    written: bool,
    target: &Path,
) -> Result<File, AtomicError> {
    fail::fail_point!("atomic::write", |_| {
        if !written {
            let _ = write_out(&mut temp.file, contents, contents.len() / 2);
        }
        Err(AtomicError::io(target, Step::Write, injected("atomic::write")))
    });
    if !written {
        write_out(&mut temp.file, contents, contents.len()).map_err(|e| AtomicError::io(target, Step::Write, e))?;
    }
    fail::fail_point!("atomic::fsync", |_| Err(AtomicError::io(target, Step::Fsync, injected("atomic::fsync"))));
    temp.file.sync_all().map_err(|e| AtomicError::io(target, Step::Fsync, e))?;
    fail::fail_point!("atomic::read-back", |_| Err(AtomicError::io(
        target,
        Step::ReadBack,
        injected("atomic::read-back")
    )));
    let (reopened, differs) =
        if written { temp.reopen_with_len(contents.len()) } else { temp.read_back_differs(contents) }
            .map_err(|e| AtomicError::io(target, Step::ReadBack, e))?;
    match differs {
        Some(detail) => Err(AtomicError::ReadBackMismatch { path: target.to_path_buf(), detail }),
        None => Ok(reopened),
    }
}

/// Writes the first `end` bytes of `contents` to `file`, a chunk at a time (a spilled chunk is
/// read into a buffer of that size, never the whole).
fn write_out(file: &mut File, contents: Source<'_>, end: u64) -> io::Result<()> {
    contents.for_each_chunk(end, |chunk| file.write_all(chunk), |e| e)
}

/// Reads `reader` to its end, `chunk` bytes at a time (never a second whole copy of a 100 MB
/// output), comparing it with `expected` (read a chunk at a time too when spilled): how many
/// bytes it held (at most `expected.len() + 1` are read) and the first byte that differs, when
/// any does or the lengths differ.
fn compare_read<'e>(
    reader: impl Read,
    expected: impl Into<Source<'e>>,
    chunk: usize,
) -> io::Result<(usize, Option<usize>)> {
    let expected: Source<'e> = expected.into();
    let expected_len = expected.len() as usize;
    let mut buf = vec![0u8; chunk.min(expected_len + 1).max(1)];
    let mut scratch = Vec::new();
    let mut read = 0usize;
    let mut first_difference = None;
    crate::no_follow::for_each_chunk(
        reader.take(expected_len as u64 + 1),
        &mut buf,
        |got| {
            if first_difference.is_none() {
                let want = expected.slice_at(read as u64, got.len(), &mut scratch)?;
                if want != got {
                    let at = want.iter().zip(got).position(|(a, b)| a != b).unwrap_or(want.len().min(got.len()));
                    first_difference = Some(read + at);
                }
            }
            read += got.len();
            Ok(())
        },
        |e| e,
    )?;
    if first_difference.is_none() && read != expected_len {
        first_difference = Some(read.min(expected_len));
    }
    Ok((read, first_difference))
}

/// The whole-buffer comparison [`compare_read`] does chunk by chunk: the tests' oracle.
#[cfg(test)]
fn describe_mismatch(expected: &[u8], got: &[u8]) -> String {
    let first = expected.iter().zip(got).position(|(a, b)| a != b).unwrap_or(expected.len().min(got.len()));
    describe_mismatch_at(expected.len(), got.len(), first)
}

/// What a read-back found: `read` bytes (at most `expected + 1` are read) where `expected`
/// were written, the first differing at byte `first`.
fn describe_mismatch_at(expected: usize, read: usize, first: usize) -> String {
    let read = if read > expected { format!("more than {expected}") } else { read.to_string() };
    format!("expected {expected} bytes, read {read}, first difference at byte {first}")
}

/// `fsync` of `dir` after a rename, the protocol's last step (with its failpoint).
fn sync_dir(dir: &Dir) -> io::Result<()> {
    fail::fail_point!("atomic::dir-fsync", |_| Err(injected("atomic::dir-fsync")));
    dir.fsync()
}

#[cfg(feature = "failpoints")]
fn injected(name: &str) -> io::Error {
    io::Error::other(format!("injected failure at failpoint {name}"))
}

/// Split a target path into its directory and file name.
fn split_target(target: &Path) -> Result<(PathBuf, &OsStr), AtomicError> {
    let invalid = |reason: &str| AtomicError::InvalidTarget { path: target.to_path_buf(), reason: reason.to_string() };
    let bytes = target.as_os_str().as_bytes();
    if bytes.is_empty() {
        return Err(invalid("empty path"));
    }
    if bytes.ends_with(b"/") {
        return Err(invalid("the path ends in '/', so it names a directory"));
    }
    let name = target.file_name().ok_or_else(|| invalid("the path has no file name"))?;
    // `file_name` skips a trailing "." (`a/.` → `a`); insist the last component is the name.
    if !bytes.ends_with(name.as_bytes()) {
        return Err(invalid("the path does not end in a file name"));
    }
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

    fn ok(_: &[u8]) -> Result<(), String> {
        Ok(())
    }

    fn json(b: &[u8]) -> Result<(), String> {
        serde_json::from_slice::<serde::de::IgnoredAny>(b).map(|_| ()).map_err(|e| e.to_string())
    }

    fn mode_of(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    /// Every entry of `dir` except the given names.
    fn others(dir: &Path, expected: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !expected.contains(&n.as_str()))
            .collect();
        v.sort();
        v
    }

    fn is_temp_name_for(name: &str, target: &str) -> bool {
        let Some(rest) = name.strip_prefix('.') else {
            return false;
        };
        let Some(rest) = rest.strip_prefix(target) else {
            return false;
        };
        let Some(rest) = rest.strip_prefix(".scanaudit-") else {
            return false;
        };
        let Some(random) = rest.strip_suffix(".tmp") else {
            return false;
        };
        random.len() == 6 && random.bytes().all(|b| b.is_ascii_alphanumeric())
    }

    #[test]
    fn new_file_gets_0666_minus_umask() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("new.json");
        let out = write_atomic(&t, b"{}", &json).unwrap();
        let expected = 0o666 & !current_umask();
        assert_eq!(mode_of(&t), expected);
        assert_eq!(out.mode, expected);
        assert!(!out.replaced);
        assert_eq!(out.ownership, Ownership::New);
        assert_eq!(std::fs::read(&t).unwrap(), b"{}");
    }

    #[test]
    fn replaced_file_keeps_its_mode() {
        let d = tempfile::tempdir().unwrap();
        for mode in [0o640, 0o600, 0o644, 0o444, 0o751] {
            let t = d.path().join(format!("m{mode:o}.json"));
            std::fs::write(&t, b"[1]").unwrap();
            std::fs::set_permissions(&t, std::fs::Permissions::from_mode(mode)).unwrap();
            let out = write_atomic(&t, b"[2]", &json).unwrap();
            assert_eq!(mode_of(&t), mode, "mode {mode:o} not kept");
            assert_eq!(out.mode, mode);
            assert!(out.replaced);
            assert_eq!(std::fs::read(&t).unwrap(), b"[2]");
        }
    }

    #[test]
    fn replaced_file_keeps_owner_and_group() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("o.json");
        std::fs::write(&t, b"1").unwrap();
        let before = std::fs::metadata(&t).unwrap();
        let out = write_atomic(&t, b"2", &ok).unwrap();
        let after = std::fs::metadata(&t).unwrap();
        assert_eq!((before.uid(), before.gid()), (after.uid(), after.gid()));
        assert_eq!(out.ownership, Ownership::Preserved);
        assert_ne!(before.ino(), after.ino(), "must be a new inode (rename)");
    }

    #[test]
    fn symlink_target_is_refused_and_untouched() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real.json");
        let link = d.path().join("link.json");
        std::fs::write(&real, b"{\"old\":1}").unwrap();
        symlink(&real, &link).unwrap();
        let err = write_atomic(&link, b"{\"new\":1}", &json).unwrap_err();
        assert!(matches!(err, AtomicError::Symlink { .. }), "{err}");
        assert_eq!(err.path(), link);
        assert!(err.to_string().contains("link.json"), "{err}");
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_link(&link).unwrap(), real);
        assert_eq!(std::fs::read(&real).unwrap(), b"{\"old\":1}");
        assert_eq!(others(d.path(), &["real.json", "link.json"]), Vec::<String>::new());
    }

    #[test]
    fn dangling_symlink_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let link = d.path().join("dangling.json");
        symlink(d.path().join("nowhere.json"), &link).unwrap();
        let err = write_atomic(&link, b"{}", &json).unwrap_err();
        assert!(matches!(err, AtomicError::Symlink { .. }));
        assert!(!d.path().join("nowhere.json").exists());
        assert_eq!(others(d.path(), &["dangling.json"]), Vec::<String>::new());
    }

    #[test]
    fn directory_and_fifo_targets_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("sub.json");
        std::fs::create_dir(&sub).unwrap();
        let err = write_atomic(&sub, b"{}", &json).unwrap_err();
        assert!(matches!(err, AtomicError::NotRegularFile { kind: "directory", .. }), "{err}");
        assert!(sub.is_dir());

        let fifo = d.path().join("fifo.json");
        let c = CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: valid path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = write_atomic(&fifo, b"{}", &json).unwrap_err();
        assert!(matches!(err, AtomicError::NotRegularFile { kind: "FIFO", .. }), "{err}");
        assert_eq!(others(d.path(), &["sub.json", "fifo.json"]), Vec::<String>::new());
    }

    #[test]
    fn invalid_targets_are_refused() {
        for p in ["", "dir/", ".", "..", "a/..", "a/."] {
            let err = write_atomic(Path::new(p), b"{}", &ok).unwrap_err();
            assert!(matches!(err, AtomicError::InvalidTarget { .. }), "{p}: {err}");
        }
        let d = tempfile::tempdir().unwrap();
        let dir = Dir::open(d.path()).unwrap();
        for n in ["a/b", "..", ""] {
            let err = dir.write_atomic(OsStr::new(n), b"{}", &ok).unwrap_err();
            assert!(matches!(err, AtomicError::InvalidTarget { .. }), "{n}: {err}");
        }
        assert_eq!(others(d.path(), &[]), Vec::<String>::new());
    }

    #[test]
    fn missing_directory_names_the_step_and_path() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("nope").join("x.json");
        let err = write_atomic(&t, b"{}", &ok).unwrap_err();
        assert_eq!(err.step(), Some(Step::OpenDir));
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn temp_name_format() {
        let n = temp_name(b"results.json", b"Ab3xY9");
        assert_eq!(n, b".results.json.scanaudit-Ab3xY9.tmp");
        for _ in 0..1000 {
            let r = random_suffix();
            let n = String::from_utf8(temp_name(b"a.json", &r)).unwrap();
            assert!(is_temp_name_for(&n, "a.json"), "{n}");
            assert!(!n.ends_with(".json"));
        }
        // Long names are cut so the temp name fits NAME_MAX; UTF-8 is cut at a char boundary.
        let long = "é".repeat(200); // 400 bytes
        let n = temp_name(long.as_bytes(), b"AAAAAA");
        assert!(n.len() <= 255, "{}", n.len());
        let s = String::from_utf8(n).unwrap();
        assert!(s.ends_with(".scanaudit-AAAAAA.tmp"));
        assert_eq!(TEMP_NAME_MAX_STEM, 233);
    }

    #[test]
    fn long_target_name_writes() {
        let d = tempfile::tempdir().unwrap();
        let name = format!("{}.json", "x".repeat(250));
        let t = d.path().join(&name);
        write_atomic(&t, b"{}", &json).unwrap();
        assert_eq!(others(d.path(), &[name.as_str()]), Vec::<String>::new());
    }

    #[test]
    fn random_suffixes_differ() {
        // 6 characters of 62 make 5.7e10 names: among 10,000 one pair collides about once in
        // 1,100 runs (the writer's O_EXCL create retries then), so allow that, never more.
        let mut seen = std::collections::HashSet::new();
        let collisions = (0..10_000).filter(|_| !seen.insert(random_suffix())).count();
        assert!(collisions <= 2, "{collisions} collisions in 10,000 suffixes");
    }

    #[test]
    fn no_temp_left_after_success() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("results.json");
        for i in 0..20 {
            write_atomic(&t, format!("{{\"i\":{i}}}").as_bytes(), &json).unwrap();
        }
        assert_eq!(std::fs::read(&t).unwrap(), b"{\"i\":19}");
        assert_eq!(others(d.path(), &["results.json"]), Vec::<String>::new());
    }

    #[test]
    fn validate_failure_leaves_old_file_and_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("results.json");
        std::fs::write(&t, b"{\"old\":true}").unwrap();
        let seen = std::cell::RefCell::new(Vec::new());
        let spy = |b: &[u8]| {
            seen.borrow_mut().extend_from_slice(b);
            json(b)
        };
        let err = write_atomic(&t, b"{\"new\":", &spy).unwrap_err();
        assert!(matches!(err, AtomicError::Validation { .. }), "{err}");
        assert!(err.to_string().contains("results.json"));
        assert_eq!(seen.borrow().as_slice(), b"{\"new\":", "validator sees the bytes");
        assert_eq!(std::fs::read(&t).unwrap(), b"{\"old\":true}");
        assert_eq!(others(d.path(), &["results.json"]), Vec::<String>::new());

        // Same for a new file: nothing appears.
        let n = d.path().join("new.json");
        write_atomic(&n, b"nope", &json).unwrap_err();
        assert!(!n.exists());
        assert_eq!(others(d.path(), &["results.json"]), Vec::<String>::new());
    }

    #[test]
    fn successful_write_is_durable() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("a.json");
        let out = write_atomic(&t, b"[]", &json).unwrap();
        assert!(out.durable);
        assert_eq!(out.dir_sync_error, None);
        assert_eq!(out.bytes, 2);
    }

    #[test]
    fn deferred_dir_sync_is_reported_not_durable() {
        let d = tempfile::tempdir().unwrap();
        let dir = Dir::open(d.path()).unwrap();
        let out = dir
            .write_atomic_with(
                OsStr::new("a.json"),
                b"[]",
                &json,
                WriteOptions { sync_dir: false, ..WriteOptions::default() },
            )
            .unwrap();
        assert!(!out.durable);
        dir.sync().unwrap();
    }

    #[test]
    fn write_many_syncs_once_and_reports_durable() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("b.json"), b"old").unwrap();
        let files: Vec<(&OsStr, &[u8], Validator<'_>)> =
            vec![(OsStr::new("a.json"), b"[1]", &json), (OsStr::new("b.json"), b"[2]", &json)];
        let outs = write_many(d.path(), &files).unwrap();
        assert!(outs.iter().all(|o| o.durable));
        assert_eq!(std::fs::read(d.path().join("b.json")).unwrap(), b"[2]");

        let bad: Vec<(&OsStr, &[u8], Validator<'_>)> = vec![
            (OsStr::new("c.json"), b"[3]", &json),
            (OsStr::new("d.json"), b"[", &json),
            (OsStr::new("e.json"), b"[5]", &json),
        ];
        write_many(d.path(), &bad).unwrap_err();
        assert!(d.path().join("c.json").exists());
        assert!(!d.path().join("d.json").exists());
        assert!(!d.path().join("e.json").exists());
        assert_eq!(others(d.path(), &["a.json", "b.json", "c.json"]), Vec::<String>::new());
    }

    #[test]
    fn readback_mismatch_description() {
        let s = describe_mismatch(b"abcdef", b"abcxef");
        assert!(s.contains("first difference at byte 3"), "{s}");
        let s = describe_mismatch(b"abc", b"abcd");
        assert!(s.contains("read more than 3"), "{s}");
    }

    /// The chunked read-back finds what the whole-buffer comparison finds, whatever the chunk
    /// size and wherever the difference falls: equal, shorter, longer (by one or by many), a
    /// difference inside a chunk, on a boundary, or in the last byte.
    #[test]
    fn the_chunked_read_back_agrees_with_the_whole_comparison() {
        let expected: Vec<u8> = (0..40u8).collect();
        let mut cases: Vec<Vec<u8>> =
            vec![expected.clone(), Vec::new(), expected[..39].to_vec(), expected[..7].to_vec()];
        cases.push([expected.as_slice(), b"x"].concat());
        cases.push([expected.as_slice(), &[9u8; 100]].concat());
        for at in [0, 1, 7, 8, 15, 16, 39] {
            let mut changed = expected.clone();
            changed[at] ^= 0xff;
            cases.push(changed);
        }
        for got in &cases {
            // At most expected + 1 bytes are read: what the oracle is given.
            let seen = &got[..got.len().min(expected.len() + 1)];
            let oracle = (seen != expected.as_slice()).then(|| describe_mismatch(&expected, seen));
            for chunk in [1, 3, 8, 16, 64] {
                let (read, first) = compare_read(std::io::Cursor::new(got), &expected, chunk).unwrap();
                assert_eq!(read, seen.len(), "chunk {chunk}");
                let found = first.map(|first| describe_mismatch_at(expected.len(), read, first));
                assert_eq!(found, oracle, "chunk {chunk}, got {got:?}");
            }
        }
    }

    /// A spilled file becomes the temp file itself (the target is its inode, nothing is copied);
    /// where linking is refused, or the file had a name once and lost it, its bytes are copied
    /// into a temp file of the writer's own, with the same result.
    #[test]
    fn a_spilled_file_is_linked_in_as_the_temp_file_or_else_copied() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let dir = Dir::open(d.path()).unwrap();
        let body = format!("[{}1]", "1234567890,".repeat(200_000)).into_bytes();
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        let target = d.path().join("out.json");
        let write = |source: Source<'_>, validate: Validator<'_>| {
            dir.prepare_atomic_with(OsStr::new("out.json"), source, validate, WriteOptions::default())
                .and_then(Prepared::commit)
        };

        let spill = crate::spill::Spill::create(d.path(), &body).unwrap();
        let outcome = write(Source::Spilled(&spill), &json).unwrap();
        assert_eq!(outcome.bytes, body.len() as u64);
        assert_eq!(ino(&target), spill.file_for_tests().metadata().unwrap().ino(), "linked, not copied");
        assert!(std::fs::read(&target).unwrap() == body);
        assert_eq!(mode_of(&target), 0o666 & !current_umask(), "a new file's mode, as for any temp file");
        assert_eq!(others(d.path(), &["out.json"]), Vec::<String>::new());
        // Applied again, the spill (now the target itself) is not linked a second time: copied.
        write(Source::Spilled(&spill), &json).unwrap();
        assert_ne!(ino(&target), spill.file_for_tests().metadata().unwrap().ino(), "a copy, not a relink");
        assert!(std::fs::read(&target).unwrap() == body);
        assert_eq!(others(d.path(), &["out.json"]), Vec::<String>::new(), "no temp name left");

        // Refused: copied, same bytes.
        let refused = crate::spill::Spill::create(d.path(), &body).unwrap();
        fail::cfg("spill::link", "return").unwrap();
        let outcome = write(Source::Spilled(&refused), &json);
        fail::remove("spill::link");
        outcome.unwrap();
        assert_ne!(ino(&target), refused.file_for_tests().metadata().unwrap().ino(), "copied");
        assert!(std::fs::read(&target).unwrap() == body);

        // Linked once, refused by the validator (its name removed): the next write copies it.
        let once = crate::spill::Spill::create(d.path(), &body).unwrap();
        let refuse = |_: &[u8]| Err::<(), String>("no".into());
        let err = write(Source::Spilled(&once), &refuse).err().unwrap();
        assert!(matches!(err, AtomicError::Validation { .. }), "{err}");
        assert_eq!(others(d.path(), &["out.json"]), Vec::<String>::new(), "the temp name is gone");
        write(Source::Spilled(&once), &json).unwrap();
        assert_ne!(ino(&target), once.file_for_tests().metadata().unwrap().ino(), "copied the second time");
        assert!(std::fs::read(&target).unwrap() == body);
        assert_eq!(others(d.path(), &["out.json"]), Vec::<String>::new());
    }

    /// Spilled contents are validated from the temp file read back (linked in, or copied in
    /// chunks and compared with the spill): the file the validator reads holds them exactly.
    #[test]
    fn spilled_contents_are_written_compared_and_validated_from_the_file() {
        struct Spy(std::cell::RefCell<Vec<u8>>);
        impl Validate for Spy {
            fn bytes(&self, _: &[u8]) -> Result<(), String> {
                Err("spilled contents are validated from the file".into())
            }
            fn file(&self, mut file: File, len: u64) -> io::Result<Result<(), String>> {
                file.read_to_end(&mut self.0.borrow_mut())?;
                Ok(json(&self.0.borrow()).and_then(|()| {
                    (self.0.borrow().len() as u64 == len).then_some(()).ok_or_else(|| "length".to_string())
                }))
            }
        }
        let d = tempfile::tempdir().unwrap();
        let body = format!("[{}1]", "1234567890,".repeat(300_000)).into_bytes();
        let spill = crate::spill::Spill::create(d.path(), &body).unwrap();
        let dir = Dir::open(d.path()).unwrap();
        let spy = Spy(Default::default());
        let name = OsStr::new("big.json");
        let prepared = dir.prepare_atomic_with(name, Source::Spilled(&spill), &spy, WriteOptions::default()).unwrap();
        let outcome = prepared.commit().unwrap();
        assert_eq!(outcome.bytes, body.len() as u64);
        assert!(*spy.0.borrow() == body, "the validator read the file whole");
        assert!(std::fs::read(d.path().join("big.json")).unwrap() == body);
        assert_eq!(others(d.path(), &["big.json"]), Vec::<String>::new());

        // A spilled document the validator refuses never replaces its target.
        let torn = crate::spill::Spill::create(d.path(), &body[..body.len() / 2]).unwrap();
        let spy = Spy(Default::default());
        let err = dir.prepare_atomic_with(name, Source::Spilled(&torn), &spy, WriteOptions::default()).err().unwrap();
        assert!(matches!(err, AtomicError::Validation { .. }), "{err}");
        assert!(std::fs::read(d.path().join("big.json")).unwrap() == body);
        assert_eq!(others(d.path(), &["big.json"]), Vec::<String>::new());
    }

    #[test]
    fn large_file_roundtrip() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("big.json");
        let body = format!("[{}1]", "1234567890,".repeat(300_000));
        write_atomic(&t, body.as_bytes(), &json).unwrap();
        assert_eq!(std::fs::read(&t).unwrap(), body.as_bytes());
    }
}
