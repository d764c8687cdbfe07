//! Backups taken before scanaudit replaces or moves a file.
//!
//! Layout: `<scan_dir>/.scanaudit/backups/<UTC timestamp>/<path relative to the scan dir>`,
//! the timestamp like `20261126T101500Z` (one directory per [`BackupSession`]; `-2`, `-3`, ...
//! is appended if that directory already exists). Beside the copies, `manifest.json` lists
//! every entry: `path`, `action`, `reason`, `old_sha256`, `new_sha256` (null until the new
//! contents are recorded, and for moves), `bytes`, `backed_up_at`, plus `backup_path` (relative
//! to the timestamp dir; a second backup of the same path in one session gets `.~2~` appended)
//! and `method` (`copy` or `move`). `written` lists every file the session wrote (created or
//! replaced), as `path` and `sha256`, recorded *before* the write: a file that holds exactly
//! those bytes is scanaudit's own write, even after a SIGKILL right after the rename, and is no
//! sign that OpenAnt is writing the scan dir ([`OwnWrites`]).
//!
//! For `scanaudit undo`, the manifest also says which `verb` wrote the session (and for an
//! undo, which session it `undoes`), each entry's `mode`, and `changes`: every change the
//! session made, in order, each recorded before it is made ([`Change`]): replaced, created
//! and moved files, renames, directories made and removed, modes set. Manifests written before
//! these fields existed have none of them; undo reads their `entries` and `written` instead.
//!
//! Safety: paths are taken relative to the scan dir and may not contain `..` or leave it (a
//! unit id like `../../x` is data, never a path); every directory below the scan dir is opened
//! with `O_NOFOLLOW`, so neither the file backed up nor the backup itself goes through a
//! symlink; copies are written to a temp file, fsynced, then renamed into place, so a file under
//! its final name in the backup dir is always complete. The manifest is written with
//! [`crate::atomic`]. By default it is rewritten before every write made by
//! [`BackupSession::replace`], so a crash never leaves a replaced file without a manifest entry
//! nor a written file without its `written` record.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::atomic::{TempFile, Validator, WriteOptions, WriteOutcome};
use crate::fsx::{self, AtomicError, Dir, EntryKind};
use crate::layout::state_names::{BACKUPS_DIR, BACKUP_STAMP_FORMAT, STATE_DIR};
use crate::no_follow::open_regular_at;
use crate::spill::Source;

/// Name of the manifest in each backup session directory.
pub const MANIFEST_NAME: &str = "manifest.json";
/// Version of the manifest format (`scanaudit.format` in the file).
pub const MANIFEST_FORMAT: u32 = 1;

/// Why a file was backed up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupAction {
    /// An output regenerated from checkpoints replaced it.
    Regenerate,
    /// A complete temp file was promoted over it.
    PromoteTemp,
    /// A torn checkpoint was moved out of the way.
    Quarantine,
    /// An old-format file was upgraded.
    Migrate,
    /// `scanaudit undo` put back what a session changed.
    Undo,
}

/// How the old file got into the backup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupMethod {
    /// Copied; the original stays until replaced.
    Copy,
    /// Moved (renamed) into the backup; the original name is gone.
    Move,
}

/// One change a session made in the scan dir, recorded (in `manifest.json`'s `changes`, in
/// order) before it is made; paths are relative to the scan dir, `/`-separated. A change that
/// was recorded but never made (a crash in between) leaves the disk as it was before it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "op")]
pub enum Change {
    /// The file at `path` was replaced by bytes hashing to `sha256`; the old bytes are
    /// `entries[entry]`.
    Replace { path: String, entry: usize, sha256: String },
    /// A file was created at `path` (nothing was there) with bytes hashing to `sha256`.
    Create { path: String, sha256: String },
    /// The file at `path` was moved into the backup as `entries[entry]`.
    Move { path: String, entry: usize },
    /// A file or directory was renamed, never over an existing entry.
    Rename { from: String, to: String },
    /// A directory was made at `path`.
    CreateDir { path: String },
    /// The empty directory at `path` was removed.
    RemoveDir { path: String },
    /// The permission bits of the file at `path` were set from `from` to `to`.
    SetMode { path: String, from: u32, to: u32 },
}

/// Identifies an entry within its session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EntryId(usize);

/// One backed-up file, as recorded in `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupEntry {
    /// Path relative to the scan dir, `/`-separated (lossy for non-UTF-8 names).
    pub path: String,
    pub action: BackupAction,
    pub reason: String,
    /// sha256 (lower-case hex) of the bytes backed up.
    pub old_sha256: String,
    /// sha256 of what replaced it, once recorded; null for moves and failed replacements.
    pub new_sha256: Option<String>,
    /// Size of the backed-up file.
    pub bytes: u64,
    /// RFC 3339 UTC time of the backup.
    pub backed_up_at: String,
    /// Where the copy is, relative to the session (timestamp) directory.
    pub backup_path: String,
    pub method: BackupMethod,
    /// Permission bits of the backed-up file (absent in older manifests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    #[serde(skip)]
    id: EntryId,
}

impl BackupEntry {
    /// The id to pass to [`BackupSession::set_new_hash`].
    pub fn id(&self) -> EntryId {
        self.id
    }
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub scanaudit: ManifestHeader,
    /// The scan dir (made absolute, symlinks not resolved).
    pub scan_dir: String,
    /// RFC 3339 UTC time the session began.
    pub created_at: String,
    /// False while the session is still running (or if it was interrupted).
    pub complete: bool,
    pub entries: Vec<BackupEntry>,
    /// Every file the session wrote or was about to write (absent in older manifests).
    #[serde(default)]
    pub written: Vec<WrittenFile>,
    /// The verb that wrote the session: `repair`, `migrate`, `undo` (absent in older manifests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    /// For an undo: the name of the session it undid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undoes: Option<String>,
    /// Every change the session made, in order (absent in older manifests).
    #[serde(default)]
    pub changes: Vec<Change>,
}

/// A file a session wrote, recorded before the write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenFile {
    /// Path relative to the scan dir, `/`-separated (lossy for non-UTF-8 names).
    pub path: String,
    /// sha256 (lower-case hex) of the bytes written.
    pub sha256: String,
}

/// `manifest.json`'s `scanaudit` object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestHeader {
    pub version: String,
    pub format: u32,
}

/// What [`BackupSession::replace`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replaced {
    /// The atomic write.
    pub outcome: WriteOutcome,
    /// The backup of the old file; `None` when there was no old file.
    pub backup: Option<BackupEntry>,
}

/// Why a backup (or a backed-up replacement) did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "refusing to back up {}: the path is outside the scan directory {}",
        path.display(),
        scan_dir.display()
    )]
    OutsideScanDir { path: PathBuf, scan_dir: PathBuf },
    #[error("refusing to back up {}: it is scanaudit's own state under {STATE_DIR}/", path.display())]
    OwnState { path: PathBuf },
    #[error(
        "refusing to back up {}: it is a symbolic link (scanaudit never follows symlinks)",
        path.display()
    )]
    Symlink { path: PathBuf },
    #[error("refusing to back up {}: it is a {kind}, not a regular file", path.display())]
    NotRegularFile { path: PathBuf, kind: &'static str },
    #[error("backing up {} failed while {op}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Atomic(#[from] AtomicError),
    #[error("serializing the backup manifest failed: {0}")]
    Manifest(#[from] serde_json::Error),
}

impl BackupError {
    fn io(path: &Path, op: &'static str, source: io::Error) -> Self {
        BackupError::Io { path: path.to_path_buf(), op, source }
    }
}

/// One backup session: one timestamp directory, one manifest.
///
/// The timestamp directory is created on the first backup or write; a session that backs up
/// and writes nothing leaves nothing behind. Call [`finish`](Self::finish) at the end; dropping an unfinished
/// session with entries writes the manifest with `"complete": false` (best effort).
#[derive(Debug)]
pub struct BackupSession {
    scan_dir: PathBuf,
    prefixes: Vec<PathBuf>,
    root: Dir,
    started: DateTime<Utc>,
    session: Option<(Dir, PathBuf)>,
    entries: Vec<BackupEntry>,
    written: Vec<WrittenFile>,
    changes: Vec<Change>,
    verb: Option<String>,
    undoes: Option<String>,
    used: HashSet<Vec<OsString>>,
    eager_manifest: bool,
    finished: bool,
}

impl BackupSession {
    /// Start a session for `scan_dir` (opened once; symlinks in the path the caller gave are
    /// followed, nothing below it is).
    pub fn begin(scan_dir: &Path) -> Result<BackupSession, BackupError> {
        let root = Dir::open(scan_dir)?;
        let mut prefixes = Vec::new();
        if let Ok(abs) = std::path::absolute(scan_dir) {
            prefixes.push(abs);
        }
        if let Ok(canon) = std::fs::canonicalize(scan_dir) {
            if !prefixes.contains(&canon) {
                prefixes.push(canon);
            }
        }
        Ok(BackupSession {
            scan_dir: scan_dir.to_path_buf(),
            prefixes,
            root,
            started: Utc::now(),
            session: None,
            entries: Vec::new(),
            written: Vec::new(),
            changes: Vec::new(),
            verb: None,
            undoes: None,
            used: HashSet::new(),
            eager_manifest: true,
            finished: false,
        })
    }

    /// Whether [`replace`](Self::replace) rewrites the manifest before each replacement
    /// (default true: no replaced file is ever missing from the manifest, at the cost of one
    /// manifest write per replacement; turn off for bulk jobs and call [`flush`](Self::flush)).
    pub fn set_eager_manifest(&mut self, eager: bool) {
        self.eager_manifest = eager;
    }

    /// Name the verb writing this session (`repair`, `migrate`, `undo`) in its manifest.
    pub fn set_verb(&mut self, verb: &str) {
        self.verb = Some(verb.to_string());
    }

    /// Name the session this one undoes (an undo's manifest says which session it undid).
    pub fn set_undoes(&mut self, session: &str) {
        self.undoes = Some(session.to_string());
    }

    /// The session directory, once created.
    pub fn session_dir(&self) -> Option<&Path> {
        self.session.as_ref().map(|(_, p)| p.as_path())
    }

    /// Entries so far.
    pub fn entries(&self) -> &[BackupEntry] {
        &self.entries
    }

    /// Copy `path` (relative to the scan dir, or absolute under it) into the backup, byte for
    /// byte, even when it is torn. The original is left in place.
    pub fn backup_file(&mut self, path: &Path, action: BackupAction, reason: &str) -> Result<BackupEntry, BackupError> {
        let comps = self.relative_components(path)?;
        let (dir, display) = self.open_parent(&comps)?;
        self.copy_in(&dir, &comps, &display, action, reason)
    }

    /// Move `path` into the backup (quarantine): afterwards nothing is left at the old name.
    pub fn move_file(&mut self, path: &Path, action: BackupAction, reason: &str) -> Result<BackupEntry, BackupError> {
        let comps = self.relative_components(path)?;
        let (dir, display) = self.open_parent(&comps)?;
        let (c_name, src, len, old_sha) = open_and_hash(&dir, &comps, &display)?;
        let (bdir, bcomps) = self.prepare_backup_dir(&comps)?;
        let bname = last(&bcomps);
        let c_bname = fsx::component(bname, &display)?;
        // The name must still be the file we hashed.
        let st = dir.lstat(&c_name).map_err(|e| BackupError::io(&display, "checking the file before moving it", e))?;
        let meta = src.metadata().map_err(|e| BackupError::io(&display, "reading metadata", e))?;
        match st {
            Some(st) if same_inode(&st, &meta) => {}
            _ => {
                return Err(BackupError::io(
                    &display,
                    "checking the file before moving it",
                    io::Error::other("the file was replaced while being backed up"),
                ))
            }
        }
        dir.rename_to(&c_name, &bdir, &c_bname)
            .map_err(|e| BackupError::io(&display, "moving into the backup directory", e))?;
        bdir.sync()?;
        dir.sync()?;
        let mode = meta.mode() & 0o7777;
        let entry = self.record(comps, bcomps, action, reason, old_sha, len, BackupMethod::Move, mode);
        self.changes.push(Change::Move { path: entry.path.clone(), entry: entry.id.0 });
        if self.eager_manifest {
            // As for replacements: a crash right after the move must not leave the moved file
            // in the backup dir without a manifest entry saying where it came from.
            self.flush()?;
        }
        Ok(entry)
    }

    /// Record the sha256 (lower-case hex) of what replaced entry `id`.
    pub fn set_new_hash(&mut self, id: EntryId, sha256_hex: String) {
        if let Some(e) = self.entries.get_mut(id.0) {
            e.new_sha256 = Some(sha256_hex);
        }
    }

    /// Record the new contents of entry `id` (hashes them).
    pub fn record_new_contents(&mut self, id: EntryId, contents: &[u8]) {
        self.set_new_hash(id, sha256_hex(contents));
    }

    /// Back up `path` (if it exists) and atomically replace it with `new_bytes`, validated by
    /// `validate`; records the new hash. A missing file is simply created (no backup entry).
    pub fn replace(
        &mut self,
        path: &Path,
        new_bytes: &[u8],
        action: BackupAction,
        reason: &str,
        validate: Validator<'_>,
    ) -> Result<Replaced, BackupError> {
        self.replace_from(path, Source::Bytes(new_bytes), WriteOptions::default(), action, reason, validate)
    }

    /// [`replace`](Self::replace) with the writer's options (undo puts a file it creates
    /// back with the mode it had: [`WriteOptions::new_file_mode`]).
    pub fn replace_with(
        &mut self,
        path: &Path,
        new_bytes: &[u8],
        options: WriteOptions,
        action: BackupAction,
        reason: &str,
        validate: Validator<'_>,
    ) -> Result<Replaced, BackupError> {
        self.replace_from(path, Source::Bytes(new_bytes), options, action, reason, validate)
    }

    /// [`replace_with`](Self::replace_with) for new contents in memory or in an unnamed file
    /// ([`crate::spill`]): read a chunk at a time, to hash and to write.
    pub fn replace_from(
        &mut self,
        path: &Path,
        new_bytes: Source<'_>,
        options: WriteOptions,
        action: BackupAction,
        reason: &str,
        validate: Validator<'_>,
    ) -> Result<Replaced, BackupError> {
        let comps = self.relative_components(path)?;
        let (dir, display) = self.open_parent(&comps)?;
        let name = last(&comps);
        let old = match dir.entry_kind(name)? {
            EntryKind::Missing => None,
            EntryKind::File => Some(self.open_for_copy(&dir, &comps, &display)?),
            EntryKind::Symlink => return Err(BackupError::Symlink { path: display }),
            other => return Err(BackupError::NotRegularFile { path: display, kind: other.describe() }),
        };
        // Three jobs that need nothing from each other run at once: copying the old file into
        // the backup (hashing it on the way), hashing the new bytes (the manifest records
        // them), and writing the new bytes to a temp file beside the target (written, fsynced,
        // read back, compared, validated: all of the atomic protocol but the rename). What
        // must come before the target is replaced still does: the rename waits for all three,
        // then for the manifest naming the backup and the write. The validator stays on this
        // thread (it need not be Send).
        // The manifest written below, before the rename, fsyncs the session dir: a copy that
        // lies there needs no fsync of that dir of its own first (the same dir, twice in a row).
        let sync_backup_dir = !(self.eager_manifest && comps.len() == 1);
        let side_work =
            || (old.as_ref().map(|old| old.copy(&display, sync_backup_dir)), source_sha256(new_bytes, &display));
        let (copied, hash, prepared) = std::thread::scope(|scope| {
            // When the system refuses a thread, the same work is done here after the write.
            let side = std::thread::Builder::new().spawn_scoped(scope, side_work);
            let prepared = dir.prepare_atomic_with(name, new_bytes, validate, options);
            let (copied, hash) = match side {
                Ok(side) => side.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(_) => side_work(),
            };
            (copied, hash, prepared)
        });
        // A failed backup: nothing is replaced (the prepared temp file is removed on return).
        let backup = match (old, copied) {
            (Some(old), Some(copied)) => {
                let (len, old_sha) = copied?;
                Some(self.record(comps.clone(), old.bcomps, action, reason, old_sha, len, BackupMethod::Copy, old.mode))
            }
            _ => None,
        };
        // Recorded (and with the eager manifest, on disk) before the rename, even when the
        // new bytes were refused: the manifest then says what was backed up, and that nothing
        // replaced it.
        let hash = hash?;
        self.note_write(&comps, &hash)?;
        let path = join_lossy(&comps);
        self.changes.push(match &backup {
            Some(entry) => Change::Replace { path, entry: entry.id.0, sha256: hash.clone() },
            None => Change::Create { path, sha256: hash.clone() },
        });
        if self.eager_manifest {
            self.flush()?;
        }
        let outcome = prepared?.commit()?;
        let backup = backup.map(|mut entry| {
            self.set_new_hash(entry.id, hash.clone());
            entry.new_sha256 = Some(hash);
            entry
        });
        Ok(Replaced { outcome, backup })
    }

    /// Record that each `(path, contents)` (the path relative to the scan dir, or absolute
    /// under it) is about to be written, for writes made outside [`replace`](Self::replace)
    /// (new files); with the eager manifest (the default) the records are on disk, in one
    /// manifest write, when this returns. Each is recorded as a [`Change::Create`]: a file
    /// found in the way and left alone is what undo then keeps as "changed since".
    pub fn will_write(&mut self, files: &[(&Path, &[u8])]) -> Result<(), BackupError> {
        if files.is_empty() {
            return Ok(());
        }
        for (path, contents) in files {
            let comps = self.relative_components(path)?;
            let sha256 = sha256_hex(contents);
            self.note_write(&comps, &sha256)?;
            self.changes.push(Change::Create { path: join_lossy(&comps), sha256 });
        }
        if self.eager_manifest {
            self.flush()?;
        }
        Ok(())
    }

    fn note_write(&mut self, comps: &[OsString], sha256: &str) -> Result<(), BackupError> {
        // The manifest lives in the session dir: a session that only creates files has one too.
        self.session_dir_handle()?;
        let written = WrittenFile { path: join_lossy(comps), sha256: sha256.to_string() };
        if !self.written.contains(&written) {
            self.written.push(written);
        }
        Ok(())
    }

    /// Record that `from` is about to be renamed to `to` (both relative to the scan dir, or
    /// absolute under it).
    pub fn will_rename(&mut self, from: &Path, to: &Path) -> Result<(), BackupError> {
        let from = join_lossy(&self.relative_components(from)?);
        let to = join_lossy(&self.relative_components(to)?);
        self.will_change(Change::Rename { from, to })
    }

    /// Record that the directory `path` is about to be made.
    pub fn will_create_dir(&mut self, path: &Path) -> Result<(), BackupError> {
        let path = join_lossy(&self.relative_components(path)?);
        self.will_change(Change::CreateDir { path })
    }

    /// Record that the empty directory `path` is about to be removed.
    pub fn will_remove_dir(&mut self, path: &Path) -> Result<(), BackupError> {
        let path = join_lossy(&self.relative_components(path)?);
        self.will_change(Change::RemoveDir { path })
    }

    /// Record that the permission bits of `path` are about to be set from `from` to `to`.
    pub fn will_set_mode(&mut self, path: &Path, from: u32, to: u32) -> Result<(), BackupError> {
        let path = join_lossy(&self.relative_components(path)?);
        self.will_change(Change::SetMode { path, from, to })
    }

    fn will_change(&mut self, change: Change) -> Result<(), BackupError> {
        self.session_dir_handle()?;
        self.changes.push(change);
        if self.eager_manifest {
            self.flush()?;
        }
        Ok(())
    }

    /// The directory holding `path` (relative to the scan dir, or absolute under it), opened
    /// without following symlinks, with `path`'s last component and its display path; for
    /// changes that replace nothing (renames, mode changes) but must stay inside the scan dir.
    pub fn parent_of(&self, path: &Path) -> Result<(Dir, OsString, PathBuf), BackupError> {
        let comps = self.relative_components(path)?;
        let (dir, display) = self.open_parent(&comps)?;
        Ok((dir, last(&comps).to_os_string(), display))
    }

    /// Write the manifest now (`"complete": false`), if anything was backed up.
    pub fn flush(&mut self) -> Result<Option<PathBuf>, BackupError> {
        self.write_manifest(false)
    }

    /// Write the final manifest (`"complete": true`). Returns its path, or `None` when nothing
    /// was backed up (then nothing was created on disk).
    pub fn finish(mut self) -> Result<Option<PathBuf>, BackupError> {
        self.finished = true;
        self.write_manifest(true)
    }

    fn write_manifest(&mut self, complete: bool) -> Result<Option<PathBuf>, BackupError> {
        let Some((dir, path)) = &self.session else {
            return Ok(None);
        };
        let manifest = Manifest {
            scanaudit: ManifestHeader { version: env!("CARGO_PKG_VERSION").to_string(), format: MANIFEST_FORMAT },
            scan_dir: self.prefixes.first().unwrap_or(&self.scan_dir).to_string_lossy().into_owned(),
            created_at: self.started.to_rfc3339_opts(SecondsFormat::Secs, true),
            complete,
            entries: self.entries.clone(),
            written: self.written.clone(),
            verb: self.verb.clone(),
            undoes: self.undoes.clone(),
            changes: self.changes.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&manifest)?;
        dir.write_atomic(OsStr::new(MANIFEST_NAME), &bytes, &validate_manifest)?;
        Ok(Some(path.join(MANIFEST_NAME)))
    }

    /// Split `path` into components relative to the scan dir; refuse anything else.
    fn relative_components(&self, path: &Path) -> Result<Vec<OsString>, BackupError> {
        let outside = || BackupError::OutsideScanDir { path: path.to_path_buf(), scan_dir: self.scan_dir.clone() };
        let rel = if path.is_absolute() {
            self.prefixes.iter().find_map(|p| path.strip_prefix(p).ok()).ok_or_else(outside)?
        } else {
            path
        };
        let mut comps = Vec::new();
        for c in rel.components() {
            match c {
                Component::Normal(n) => comps.push(n.to_os_string()),
                Component::CurDir => {}
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => return Err(outside()),
            }
        }
        match comps.first() {
            None => Err(outside()),
            Some(first) if first == STATE_DIR => Err(BackupError::OwnState { path: path.to_path_buf() }),
            Some(_) => Ok(comps),
        }
    }

    /// Open the directory holding `comps`' last element, never following symlinks.
    fn open_parent(&self, comps: &[OsString]) -> Result<(Dir, PathBuf), BackupError> {
        let mut display = self.scan_dir.clone();
        let mut dir: Option<Dir> = None;
        for c in &comps[..comps.len() - 1] {
            let next = dir.as_ref().unwrap_or(&self.root).open_child(c)?;
            dir = Some(next);
            display.push(c);
        }
        display.push(last(comps));
        let dir = match dir {
            Some(d) => d,
            None => self.root.try_clone()?,
        };
        Ok((dir, display))
    }

    /// The session dir, created on first use.
    fn session_dir_handle(&mut self) -> Result<&Dir, BackupError> {
        if self.session.is_none() {
            let state = self.root.create_child(OsStr::new(STATE_DIR))?;
            let backups = state.create_child(OsStr::new(BACKUPS_DIR))?;
            let stamp = self.started.format(BACKUP_STAMP_FORMAT).to_string();
            let mut n = 1u32;
            let (dir, name) = loop {
                let name = if n == 1 { stamp.clone() } else { format!("{stamp}-{n}") };
                if let Some(dir) = backups.create_child_exclusive(OsStr::new(&name))? {
                    break (dir, name);
                }
                n += 1;
                if n > 10_000 {
                    return Err(BackupError::io(
                        backups.path(),
                        "creating the session directory",
                        io::Error::other("too many backup sessions with the same timestamp"),
                    ));
                }
            };
            backups.sync()?;
            state.sync()?;
            self.root.sync()?;
            let path = self.scan_dir.join(STATE_DIR).join(BACKUPS_DIR).join(&name);
            self.session = Some((dir, path));
        }
        match &self.session {
            Some((dir, _)) => Ok(dir),
            None => Err(BackupError::io(
                &self.scan_dir,
                "creating the session directory",
                io::Error::other("session directory missing"),
            )),
        }
    }

    /// Create the mirror of `comps`' parent inside the session dir; pick a free backup name.
    fn prepare_backup_dir(&mut self, comps: &[OsString]) -> Result<(Dir, Vec<OsString>), BackupError> {
        let session = self.session_dir_handle()?;
        let mut dir: Option<Dir> = None;
        for c in &comps[..comps.len() - 1] {
            let parent = dir.as_ref().unwrap_or(session);
            let next = match parent.create_child_exclusive(c)? {
                Some(d) => {
                    parent.sync()?;
                    d
                }
                None => parent.open_child(c)?,
            };
            dir = Some(next);
        }
        let dir = match dir {
            Some(d) => d,
            None => session.try_clone()?,
        };
        let mut bcomps = comps.to_vec();
        let base = last(comps).to_os_string();
        let mut n = 1u32;
        loop {
            if !self.used.contains(&bcomps) && dir.entry_kind(last(&bcomps))? == EntryKind::Missing {
                break;
            }
            n += 1;
            let mut name = base.clone();
            name.push(format!(".~{n}~"));
            let idx = bcomps.len() - 1;
            bcomps[idx] = name;
        }
        self.used.insert(bcomps.clone());
        Ok((dir, bcomps))
    }

    fn copy_in(
        &mut self,
        dir: &Dir,
        comps: &[OsString],
        display: &Path,
        action: BackupAction,
        reason: &str,
    ) -> Result<BackupEntry, BackupError> {
        let old = self.open_for_copy(dir, comps, display)?;
        let (len, old_sha) = old.copy(display, true)?;
        Ok(self.record(comps.to_vec(), old.bcomps, action, reason, old_sha, len, BackupMethod::Copy, old.mode))
    }

    /// Open the file `comps` names (in `dir`) for a copy into the backup, and pick its place
    /// there ([`OldFile::copy`] makes the copy).
    fn open_for_copy(&mut self, dir: &Dir, comps: &[OsString], display: &Path) -> Result<OldFile, BackupError> {
        let c_name = fsx::component(last(comps), display)?;
        let src = open_regular(dir, &c_name, display)?;
        let mode = src.metadata().map_err(|e| BackupError::io(display, "reading metadata", e))?.mode();
        let (bdir, bcomps) = self.prepare_backup_dir(comps)?;
        let c_bname = fsx::component(last(&bcomps), display)?;
        Ok(OldFile { src, mode: mode & 0o7777, bdir, bcomps, c_bname })
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        comps: Vec<OsString>,
        bcomps: Vec<OsString>,
        action: BackupAction,
        reason: &str,
        old_sha256: String,
        bytes: u64,
        method: BackupMethod,
        mode: u32,
    ) -> BackupEntry {
        let entry = BackupEntry {
            path: join_lossy(&comps),
            action,
            reason: reason.to_string(),
            old_sha256,
            new_sha256: None,
            bytes,
            backed_up_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            backup_path: join_lossy(&bcomps),
            method,
            mode: Some(mode),
            id: EntryId(self.entries.len()),
        };
        self.entries.push(entry.clone());
        entry
    }
}

/// A file about to be copied into the backup: opened (never through a symlink), with its
/// permission bits and the place picked for its copy.
struct OldFile {
    src: std::fs::File,
    mode: u32,
    bdir: Dir,
    bcomps: Vec<OsString>,
    c_bname: std::ffi::CString,
}

impl OldFile {
    /// Copy the file into its place in the backup, byte for byte: a temp file, fsynced, given
    /// the original's mode, renamed into place, the directory fsynced (unless `sync_dir` is
    /// false: the caller fsyncs it before the copy is relied on). Its size and sha256.
    fn copy(&self, display: &Path, sync_dir: bool) -> Result<(u64, String), BackupError> {
        let mut temp = TempFile::create(&self.bdir, last(&self.bcomps))
            .map_err(|e| BackupError::io(display, "creating the backup copy", e))?;
        let (len, old_sha) = read_hashing(&mut &self.src, display, |chunk| {
            temp.file.write_all(chunk).map_err(|e| BackupError::io(display, "writing the backup copy", e))
        })?;
        temp.file.sync_all().map_err(|e| BackupError::io(display, "fsyncing the backup copy", e))?;
        temp.chmod(self.mode & 0o777).map_err(|e| BackupError::io(display, "setting the backup copy's mode", e))?;
        temp.commit(&self.c_bname).map_err(|e| BackupError::io(display, "renaming the backup copy into place", e))?;
        drop(temp);
        if sync_dir {
            self.bdir.sync()?;
        }
        Ok((len, old_sha))
    }
}

impl Drop for BackupSession {
    fn drop(&mut self) {
        if !self.finished && (!self.entries.is_empty() || !self.written.is_empty() || !self.changes.is_empty()) {
            // Best effort: an interrupted session still leaves a manifest saying so.
            let _ = self.write_manifest(false);
        }
    }
}

/// Begin a session, back up `target` (if present), replace it atomically, finish the session.
/// This is what single-file repairs call.
pub fn replace_with_backup(
    scan_dir: &Path,
    target: &Path,
    new_bytes: &[u8],
    action: BackupAction,
    reason: &str,
    validate: Validator<'_>,
) -> Result<Replaced, BackupError> {
    let mut session = BackupSession::begin(scan_dir)?;
    let result = session.replace(target, new_bytes, action, reason, validate);
    let finished = session.finish();
    let replaced = result?;
    finished?;
    Ok(replaced)
}

/// What scanaudit's backup sessions recorded writing in a scan dir: per file name, the sha256
/// of every file written there. A file that holds exactly such bytes is scanaudit's own write,
/// which must not make the scan dir look "in use" by OpenAnt. Names, not whole paths, are
/// kept: the language-level migration moves what it wrote one level down.
#[derive(Debug, Default)]
pub struct OwnWrites {
    by_name: HashMap<String, HashSet<String>>,
}

/// The most of one manifest read (a manifest lists a session's files, a few hundred bytes each).
const MANIFEST_READ_LIMIT: u64 = 256 << 20;

/// The bytes of an opened `manifest.json`, at most [`MANIFEST_READ_LIMIT`] of them.
pub fn read_manifest_bytes(file: std::fs::File) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(MANIFEST_READ_LIMIT).read_to_end(&mut bytes)?;
    Ok(bytes)
}

impl OwnWrites {
    /// Reads the manifests of every session under `<dir>/.scanaudit/backups/`, for each of
    /// `dirs`; unreadable or foreign manifests are skipped (they only cost a refusal).
    pub fn read(dirs: &[&Path]) -> OwnWrites {
        let mut own = OwnWrites::default();
        for dir in dirs {
            for manifest in read_manifests(dir) {
                let replaced = manifest.entries.iter().filter_map(|e| Some((&e.path, e.new_sha256.as_ref()?)));
                let written = manifest.written.iter().map(|w| (&w.path, &w.sha256));
                for (path, sha256) in replaced.chain(written) {
                    let name = path.rsplit('/').next().unwrap_or(path);
                    own.by_name.entry(name.to_string()).or_default().insert(sha256.clone());
                }
            }
        }
        own
    }

    /// Whether the regular file at `path` holds exactly bytes scanaudit recorded writing under
    /// its name (only then is it read and hashed).
    pub fn wrote(&self, path: &Path) -> bool {
        let Some(hashes) = path.file_name().and_then(|n| self.by_name.get(n.to_string_lossy().as_ref())) else {
            return false;
        };
        let Ok(mut file) = crate::no_follow::open_regular(path) else { return false };
        read_hashing(&mut file, path, |_| Ok(())).is_ok_and(|(_, sha256)| hashes.contains(&sha256))
    }
}

/// The manifests of `scan_dir`'s backup sessions; nothing is followed through a symlink.
fn read_manifests(scan_dir: &Path) -> Vec<Manifest> {
    let backups = scan_dir.join(STATE_DIR).join(BACKUPS_DIR);
    if !crate::no_follow::is_dir(&scan_dir.join(STATE_DIR)) {
        return Vec::new();
    }
    let Ok(sessions) = crate::no_follow::list_dir(&backups) else { return Vec::new() };
    sessions
        .into_iter()
        .filter(|entry| entry.kind == crate::no_follow::EntryKind::Dir)
        .filter_map(|entry| {
            let file = crate::no_follow::open_regular(&entry.path.join(MANIFEST_NAME)).ok()?;
            serde_json::from_slice(&read_manifest_bytes(file).ok()?).ok()
        })
        .collect()
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// [`sha256_hex`] of new contents, in memory or spilled (read a chunk at a time).
fn source_sha256(source: Source<'_>, display: &Path) -> Result<String, BackupError> {
    if let Source::Bytes(bytes) = source {
        return Ok(sha256_hex(bytes));
    }
    let mut hasher = Sha256::new();
    source.for_each_chunk(
        u64::MAX,
        |chunk| {
            hasher.update(chunk);
            Ok(())
        },
        |e| BackupError::io(display, "reading the new contents", e),
    )?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn validate_manifest(bytes: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<Manifest>(bytes).map(|_| ()).map_err(|e| e.to_string())
}

/// `ino_t`/`dev_t` differ in width between unix flavours; `Metadata` uses `u64`.
#[allow(clippy::unnecessary_cast)]
fn same_inode(st: &libc::stat, meta: &std::fs::Metadata) -> bool {
    st.st_ino as u64 == meta.ino() && st.st_dev as u64 == meta.dev()
}

fn last(comps: &[OsString]) -> &OsStr {
    comps.last().map(OsString::as_os_str).unwrap_or_default()
}

fn join_lossy(comps: &[OsString]) -> String {
    comps.iter().map(|c| c.to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Open `name` in `dir` as a regular file without following symlinks; FIFOs, sockets and
/// devices are refused before they are opened.
fn open_regular(dir: &Dir, c_name: &std::ffi::CStr, display: &Path) -> Result<std::fs::File, BackupError> {
    match open_regular_at(dir.raw(), c_name).map_err(|e| BackupError::io(display, "opening the file", e))? {
        Ok(file) => Ok(file),
        Err(EntryKind::Symlink) => Err(BackupError::Symlink { path: display.to_path_buf() }),
        Err(other) => Err(BackupError::NotRegularFile { path: display.to_path_buf(), kind: other.describe() }),
    }
}

fn open_and_hash(
    dir: &Dir,
    comps: &[OsString],
    display: &Path,
) -> Result<(std::ffi::CString, std::fs::File, u64, String), BackupError> {
    let c_name = fsx::component(last(comps), display)?;
    let mut src = open_regular(dir, &c_name, display)?;
    let (len, sha) = read_hashing(&mut src, display, |_| Ok(()))?;
    Ok((c_name, src, len, sha))
}

/// The size and sha256 (lower-case hex) of what `file` holds from its current offset on.
pub fn file_sha256(file: &mut std::fs::File, display: &Path) -> Result<(u64, String), BackupError> {
    read_hashing(file, display, |_| Ok(()))
}

/// How much [`read_hashing`] reads at a time: big enough that a 100 MB backup copy is a
/// hundred reads and writes, not thousands.
const HASHING_CHUNK: usize = 1 << 20;

/// Reads `src` to the end, hashing it (sha256, hex) and handing each chunk to `sink`.
fn read_hashing(
    src: &mut impl Read,
    display: &Path,
    mut sink: impl FnMut(&[u8]) -> Result<(), BackupError>,
) -> Result<(u64, String), BackupError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; HASHING_CHUNK];
    let len = crate::no_follow::for_each_chunk(
        src,
        &mut buf,
        |chunk| {
            hasher.update(chunk);
            sink(chunk)
        },
        |e| BackupError::io(display, "reading the file", e),
    )?;
    Ok((len, hex(&hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A replaced file's backup copy and the manifest naming it lie in one directory, and the
    /// manifest's own directory fsync (before the target is replaced) makes both durable: that
    /// directory is not fsynced twice in a row for one replacement.
    #[test]
    fn no_directory_is_fsynced_twice_in_a_row_for_a_replacement() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap();
        std::fs::write(root.join("results.json"), b"{\"old\": 1}").unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.json"), b"{\"old\": 2}").unwrap();
        let mut session = BackupSession::begin(&root).unwrap();
        let json = |b: &[u8]| serde_json::from_slice::<serde::de::IgnoredAny>(b).map(|_| ()).map_err(|e| e.to_string());
        for (path, new) in [("results.json", &b"{\"new\": 1}"[..]), ("sub/a.json", b"{\"new\": 2}")] {
            session.replace(Path::new(path), new, BackupAction::Regenerate, "test", &json).unwrap();
        }
        let session_dir = session.session_dir().unwrap().strip_prefix(&root).unwrap().to_path_buf();
        session.finish().unwrap();

        let synced = crate::fsx::dir_syncs::under(&root);
        for pair in synced.windows(2) {
            assert_ne!(pair[0], pair[1], "fsynced twice in a row: {synced:?}");
        }
        // Still fsynced: the session dir (for the copy and the manifest), the backup's own
        // subdirectory, and the scan dir after each rename.
        let count = |dir: &Path| synced.iter().filter(|p| p.as_path() == dir).count();
        assert!(count(&session_dir) >= 3, "{synced:?}");
        assert!(count(&session_dir.join("sub")) >= 1, "{synced:?}");
        assert!(count(Path::new("")) >= 1 && count(Path::new("sub")) >= 1, "{synced:?}");
        assert_eq!(std::fs::read(root.join(&session_dir).join("results.json")).unwrap(), b"{\"old\": 1}");
        assert_eq!(std::fs::read(root.join(&session_dir).join("sub/a.json")).unwrap(), b"{\"old\": 2}");
    }
}
