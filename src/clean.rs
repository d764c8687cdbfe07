//! `scanaudit clean`: remove stray temp files (and, with `--backups`, old scanaudit backups)
//! safely enough to run from cron unattended. One job: decide what may go, and remove it.
//!
//! A temp is removed only when every rule holds (the rules of tmpreaper, tmpwatch and
//! systemd-tmpfiles, anchors §D2):
//! - its name is a known temp pattern ([`crate::layout::temp_names`]) and it is a regular file
//!   (or atomicwrites' `.atomicwriteXXXXXX/` dir holding nothing but `tmpfile.tmp`);
//! - it is older than `--older-than` by the newest of mtime and ctime (a touched or restored
//!   file counts as new: the conservative choice tmpwatch makes);
//! - no process has it open (Linux: every readable `/proc/PID/fd/N`, compared by device and
//!   inode; elsewhere the check is skipped and the outcome says so);
//! - nobody holds a BSD `flock` on it: clean takes `LOCK_EX|LOCK_NB` itself and keeps it until
//!   the unlink, as systemd-tmpfiles does;
//! - it is on the root's filesystem;
//! - it is not salvageable: a complete, valid document whose target is missing or broken is
//!   kept for `scanaudit repair` (the same assessment `check` reports, [`temps::assess_temp`]).
//!
//! Symlinks are never followed and never removed. Every directory is opened from the root down
//! with `O_NOFOLLOW` and every removal is an `unlinkat` relative to the parent's handle, after
//! re-checking with `fstatat(AT_SYMLINK_NOFOLLOW)` that the name still is the (device, inode)
//! that was judged; a directory renamed or swapped mid-run cannot redirect a removal. A file
//! gone by the time of the unlink (someone else removed it) is reported as already gone, which
//! is not an error. The one race left is the instant between that re-check and `unlinkat`,
//! which POSIX offers no way to close (systemd-tmpfiles has the same window).

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::backup_prune::{backup_stamp, remove_tree, TreeError};
use crate::config::CleanConfig;
use crate::fsx::{fstat, stat_time, try_flock, unlink_if_same, AtomicError, Dir, EntryKind, Unlinked};
use crate::layout::{self, Classified, FileKind, ScanDirIndex, TempName, TempWriter};
use crate::no_follow::{names_in, open_regular_at};
use crate::open_files::{self, OpenCheck};
use crate::progress::Progress;
use crate::temps::{self, TargetState, ATOMICWRITES_FILE};
use crate::text::{human_age, repair_command};
use crate::walk::{self, EntryType};

/// What was found at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum What {
    /// A temp file.
    Temp,
    /// atomicwrites' `.atomicwriteXXXXXX/` temp dir.
    TempDir,
    /// A scanaudit backup folder `<scan_dir>/.scanaudit/backups/<UTC timestamp>/`.
    Backup,
}

/// What clean did with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Removed,
    /// `--dry-run`: it would have been removed.
    WouldRemove,
    /// Kept on purpose; `reason` says why. Not a problem.
    Kept,
    /// Gone before clean got to it: someone else removed it. Not a problem.
    AlreadyGone,
    /// An I/O error; the run went on (exit bit 8).
    Failed,
}

/// Why something was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Younger than `--older-than` (or `--backups`): a write may still be in progress.
    Young,
    /// Open in some process.
    Open,
    /// Someone holds a `flock` on it.
    Locked,
    /// Holds a complete document whose target is missing or broken: `scanaudit repair` can
    /// restore the target from it.
    Salvageable,
    /// A symlink, directory, FIFO, socket or device where a temp name is: never removed.
    NotRegular,
    /// On another filesystem than the root.
    OtherFilesystem,
    /// It changed between the listing and the removal (another file under the name).
    Changed,
    /// An atomicwrites temp dir that holds more than its `tmpfile.tmp`.
    NotEmpty,
    /// `--max-runtime` was reached before clean got to it.
    MaxRuntime,
    /// SIGINT or SIGTERM came before clean got to it.
    Interrupted,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Young => "young",
            Reason::Open => "open",
            Reason::Locked => "locked",
            Reason::Salvageable => "salvageable",
            Reason::NotRegular => "not-regular",
            Reason::OtherFilesystem => "other-filesystem",
            Reason::Changed => "changed",
            Reason::NotEmpty => "not-empty",
            Reason::MaxRuntime => "max-runtime",
            Reason::Interrupted => "interrupted",
        }
    }
}

/// One path clean looked at, and what it did.
#[derive(Debug, Clone, Serialize)]
pub struct CleanEntry {
    #[serde(flatten, serialize_with = "crate::json_path::path")]
    pub path: PathBuf,
    #[serde(flatten, serialize_with = "crate::json_path::opt_scan_dir")]
    pub scan_dir: Option<PathBuf>,
    pub what: What,
    /// Who left a temp; `null` for backups.
    pub writer: Option<TempWriter>,
    pub action: Action,
    /// Why it was kept (`action` = `kept`), else `null`.
    pub reason: Option<Reason>,
    pub message: String,
    /// Bytes of regular-file content: reclaimed (removed), reclaimable (would-remove), held.
    pub bytes: u64,
    /// Seconds since the newest of mtime and ctime (backups: of the name's timestamp and mtime).
    pub age_seconds: Option<u64>,
    /// The next command, when there is one (`scanaudit repair DIR` for a salvageable temp).
    pub fix: Option<String>,
}

/// A path the walk could not read (exit bit 8).
#[derive(Debug, Clone, Serialize)]
pub struct CleanError {
    #[serde(flatten, serialize_with = "crate::json_path::path")]
    pub path: PathBuf,
    pub message: String,
}

/// Everything clean did, before presentation.
#[derive(Debug)]
pub struct CleanOutcome {
    pub entries: Vec<CleanEntry>,
    pub errors: Vec<CleanError>,
    pub scan_dirs: usize,
    pub elapsed: Duration,
    pub dry_run: bool,
    pub open_check: OpenCheck,
    /// `--max-runtime` stopped the run; the entries with reason `max-runtime` were not examined.
    pub cut_short: bool,
    /// SIGINT or SIGTERM stopped the run; the entries with reason `interrupted` were not examined.
    pub interrupted: bool,
}

impl CleanOutcome {
    pub fn count(&self, action: Action) -> usize {
        self.entries.iter().filter(|e| e.action == action).count()
    }

    /// Something was removed (exit bit 1).
    pub fn removed_any(&self) -> bool {
        self.count(Action::Removed) > 0
    }

    /// An I/O error happened somewhere (exit bit 8).
    pub fn failed(&self) -> bool {
        !self.errors.is_empty() || self.count(Action::Failed) > 0
    }

    /// What `--quiet` still prints: removals (or would-be removals), salvageable temps, errors.
    pub fn worth_reporting(&self) -> bool {
        self.failed()
            || self.entries.iter().any(|e| {
                matches!(e.action, Action::Removed | Action::WouldRemove) || e.reason == Some(Reason::Salvageable)
            })
    }
}

/// One thing to decide about, as the walk listed it.
struct Candidate {
    path: PathBuf,
    scan_dir: Option<PathBuf>,
    kind: CandidateKind,
}

enum CandidateKind {
    /// A temp file (or a symlink/special file with a temp name, which is only reported).
    Temp { class: Classified },
    /// atomicwrites' temp dir.
    TempDir { class: Classified },
    /// A backup folder and the time its name says it was made.
    Backup { stamp: SystemTime },
}

/// Per-root state: the root's handle and filesystem, and the directories opened below it.
struct Root<'a> {
    /// The directory relative paths start from: the root, or the parent of a file root.
    base: &'a Path,
    dir: Dir,
    dev: u64,
    opened: HashMap<PathBuf, Dir>,
}

/// Cleans `config.roots`. Once `stop` is set (SIGINT, SIGTERM) no other removal starts.
pub fn run(config: &CleanConfig, progress: &Progress, stop: &AtomicBool) -> CleanOutcome {
    let started = Instant::now();
    let deadline = config.max_runtime.map(|limit| started + limit);
    let mut run = Run {
        config,
        now: SystemTime::now(),
        open_files: OnceCell::new(),
        open_check: OpenCheck::NotNeeded,
        entries: Vec::new(),
        errors: Vec::new(),
        cut_short: false,
        interrupted: false,
        deadline,
        stop,
    };
    let mut scan_dirs = 0;
    progress.set_message("walking");
    for root in &config.roots {
        scan_dirs += run.root(root);
    }
    progress.finish();
    let Run { mut entries, errors, cut_short, interrupted, open_check, .. } = run;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    CleanOutcome {
        entries,
        errors,
        scan_dirs,
        elapsed: started.elapsed(),
        dry_run: config.dry_run,
        open_check,
        cut_short,
        interrupted,
    }
}

struct Run<'a> {
    config: &'a CleanConfig,
    now: SystemTime,
    /// (device, inode) of every file open in another process; scanned once, when first needed.
    open_files: OnceCell<HashSet<(u64, u64)>>,
    open_check: OpenCheck,
    entries: Vec<CleanEntry>,
    errors: Vec<CleanError>,
    cut_short: bool,
    interrupted: bool,
    deadline: Option<Instant>,
    stop: &'a AtomicBool,
}

impl Run<'_> {
    /// Cleans one root; returns how many scan dirs it holds.
    fn root(&mut self, root: &Path) -> usize {
        let walked = walk::walk(std::slice::from_ref(&root.to_path_buf()), &self.config.filters);
        // Tests remove files here to prove a file gone between listing and removal is no error.
        fail::fail_point!("clean::after-walk");
        for error in walked.errors {
            self.errors.push(CleanError { path: error.path, message: error.message });
        }
        let index = ScanDirIndex::build(
            walked
                .entries
                .iter()
                .map(|e| (e.path.as_path(), matches!(e.entry_type, EntryType::Dir | EntryType::TempDir))),
        );
        let known: HashSet<&Path> = walked.entries.iter().map(|e| e.path.as_path()).collect();
        let mut candidates = Vec::new();
        for entry in &walked.entries {
            let path = &entry.path;
            let scan_dir = index.scan_dir_of(path).map(Path::to_path_buf);
            let name = layout::file_name(path);
            let kind = match entry.entry_type {
                EntryType::File | EntryType::Symlink | EntryType::Special => {
                    let parent = path.parent().unwrap_or(Path::new(""));
                    let sibling_exists = |n: &str| known.contains(parent.join(n).as_path());
                    let class = layout::classify_file(path, scan_dir.as_deref(), &sibling_exists);
                    let is_temp_dir_name = layout::temp_names::recognise_dir(&name).is_some();
                    if class.kind != FileKind::Temp && !(is_temp_dir_name && entry.entry_type != EntryType::File) {
                        continue;
                    }
                    CandidateKind::Temp { class }
                }
                EntryType::TempDir => CandidateKind::TempDir {
                    class: Classified {
                        kind: FileKind::Temp,
                        checkpoint_step: None,
                        temp: layout::temp_names::recognise_dir(&name),
                    },
                },
                EntryType::BackupDir => match (self.config.backups, backup_stamp(&name)) {
                    (Some(_), Some(stamp)) => CandidateKind::Backup { stamp },
                    _ => continue,
                },
                EntryType::Dir => continue,
            };
            // A backup's owner is the scan dir holding `.scanaudit/`.
            let scan_dir = match kind {
                CandidateKind::Backup { .. } => path.ancestors().nth(3).map(Path::to_path_buf),
                _ => scan_dir,
            };
            candidates.push(Candidate { path: path.clone(), scan_dir, kind });
        }
        if candidates.is_empty() {
            return index.len();
        }

        let is_dir_root = std::fs::metadata(root).is_ok_and(|m| m.is_dir());
        let base = if is_dir_root {
            root
        } else {
            root.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
        };
        let opened = Dir::open(base).map_err(|e| e.to_string()).and_then(|dir| {
            let st = fstat(dir.raw()).map_err(|e| e.to_string())?;
            Ok((dir, st.st_dev))
        });
        let (dir, dev) = match opened {
            Ok(opened) => opened,
            Err(message) => {
                self.errors.push(CleanError { path: base.to_path_buf(), message });
                return index.len();
            }
        };
        let mut root_state = Root { base, dir, dev, opened: HashMap::new() };
        for candidate in candidates {
            let entry = if self.stop.load(Ordering::SeqCst) {
                self.interrupted = true;
                let why = "not examined: interrupted".into();
                self.entry(&candidate, Action::Kept, Some(Reason::Interrupted), why)
            } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
                self.cut_short = true;
                self.entry(
                    &candidate,
                    Action::Kept,
                    Some(Reason::MaxRuntime),
                    "not examined: --max-runtime was reached".into(),
                )
            } else {
                self.decide(&mut root_state, &candidate)
            };
            self.entries.push(entry);
        }
        index.len()
    }

    fn entry(&self, c: &Candidate, action: Action, reason: Option<Reason>, message: String) -> CleanEntry {
        let (what, writer) = match &c.kind {
            CandidateKind::Temp { class, .. } => (What::Temp, class.temp.as_ref().map(|t| t.writer)),
            CandidateKind::TempDir { .. } => (What::TempDir, Some(TempWriter::AtomicWrites)),
            CandidateKind::Backup { .. } => (What::Backup, None),
        };
        CleanEntry {
            path: c.path.clone(),
            scan_dir: c.scan_dir.clone(),
            what,
            writer,
            action,
            reason,
            message,
            bytes: 0,
            age_seconds: None,
            fix: None,
        }
    }

    fn decide(&mut self, root: &mut Root<'_>, c: &Candidate) -> CleanEntry {
        let (parent, name) = match open_parent(root, &c.path) {
            Ok(found) => found,
            Err(Gone::Vanished) => {
                return self.entry(c, Action::AlreadyGone, None, "gone before clean got to it".into())
            }
            Err(Gone::Symlink(p)) => {
                return self.entry(
                    c,
                    Action::Kept,
                    Some(Reason::Changed),
                    format!("{} is now a symlink; clean never goes through symlinks", p.display()),
                )
            }
            Err(Gone::OtherFs(p)) => {
                return self.entry(
                    c,
                    Action::Kept,
                    Some(Reason::OtherFilesystem),
                    format!("{} is on another filesystem than the root", p.display()),
                )
            }
            Err(Gone::Error(message)) => return self.entry(c, Action::Failed, None, message),
        };
        let parent = match root.opened.get(&parent) {
            Some(dir) => dir,
            None => return self.entry(c, Action::Failed, None, "internal: parent not opened".into()),
        };
        let dev = root.dev;
        match &c.kind {
            CandidateKind::Temp { class, .. } => self.decide_temp(c, parent, &name, dev, class),
            CandidateKind::TempDir { class } => self.decide_temp_dir(c, parent, &name, dev, class),
            CandidateKind::Backup { stamp } => self.decide_backup(c, parent, &name, dev, *stamp),
        }
    }

    fn age_of(&self, st: &libc::stat, with_ctime: bool) -> Duration {
        let mut newest = stat_time(st.st_mtime, st.st_mtime_nsec);
        if with_ctime {
            newest = newest.max(stat_time(st.st_ctime, st.st_ctime_nsec));
        }
        self.now.duration_since(newest).unwrap_or(Duration::ZERO)
    }

    /// Whether another process has (dev, ino) open; scans `/proc` the first time it is asked.
    fn is_open(&mut self, dev: u64, ino: u64) -> bool {
        if self.open_files.get().is_none() {
            let (set, check) = open_files::scan();
            self.open_check = check;
            let _ = self.open_files.set(set);
        }
        self.open_files.get().is_some_and(|set| set.contains(&(dev, ino)))
    }

    fn decide_temp(&mut self, c: &Candidate, parent: &Dir, name: &CStr, dev: u64, class: &Classified) -> CleanEntry {
        let st = match parent.lstat(name) {
            Ok(Some(st)) => st,
            Ok(None) => return self.entry(c, Action::AlreadyGone, None, "gone before clean got to it".into()),
            Err(e) => return self.entry(c, Action::Failed, None, format!("cannot stat: {e}")),
        };
        let mut entry = self.entry(c, Action::Kept, None, String::new());
        let file_type = st.st_mode & libc::S_IFMT;
        if file_type != libc::S_IFREG {
            entry.reason = Some(Reason::NotRegular);
            entry.message = format!(
                "a {} with a temp name; clean removes only regular files and never follows or removes a symlink",
                kind_name(st.st_mode)
            );
            return entry;
        }
        entry.bytes = st.st_size as u64;
        let age = self.age_of(&st, true);
        entry.age_seconds = Some(age.as_secs());
        let writer = class.temp.as_ref().map(|t| t.writer.describe()).unwrap_or("an unknown writer");
        if st.st_dev != dev {
            return kept(entry, Reason::OtherFilesystem, "on another filesystem than the root".into());
        }
        if age < self.config.older_than {
            return kept(entry, Reason::Young, young_message(age, self.config.older_than));
        }
        if self.is_open(st.st_dev, st.st_ino) {
            return kept(entry, Reason::Open, "open in another process: a write may be in progress".into());
        }
        let file = match open_if_same(parent.raw(), name, &st) {
            Ok(Some(file)) => file,
            Ok(None) => {
                return kept(entry, Reason::Changed, "replaced by another file since it was listed".into());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                entry.action = Action::AlreadyGone;
                entry.message = "gone before clean got to it".into();
                return entry;
            }
            Err(e) => return failed(entry, format!("cannot open: {e}")),
        };
        // Held until the unlink (the fd closes when `file` drops), as systemd-tmpfiles does.
        match try_flock(file.as_raw_fd()) {
            Ok(true) => {}
            Ok(false) => return kept(entry, Reason::Locked, "another process holds a flock on it".into()),
            Err(e) => {
                return kept(entry, Reason::Locked, format!("its lock could not be tested ({e}); kept to be safe"))
            }
        }
        let open = |p: &Path| open_regular_by_name(parent.raw(), p, &st);
        let validation = match temps::validate_temp(&c.path, class, &open) {
            Ok(v) => v,
            Err(e) => return failed(entry, format!("cannot read: {e}")),
        };
        let temp = class.temp.as_ref().cloned().unwrap_or(TempName { writer: TempWriter::Tempfile, target: None });
        let verdict = self.assess(c, parent, &temp, validation.as_ref());
        let summary = format!("left by {writer}{}; {}", verdict.writing(), verdict.content);
        if verdict.salvageable() {
            entry.fix = Some(repair_fix(c));
            return kept(entry, Reason::Salvageable, format!("{summary} and {}", verdict.salvage_note()));
        }
        self.remove_file(entry, parent, name, &st, summary)
    }

    /// The shared temp assessment, with the target's state read from disk relative to `parent`.
    fn assess(
        &self,
        c: &Candidate,
        parent: &Dir,
        temp: &TempName,
        v: Option<&crate::validate::Validation>,
    ) -> temps::TempAssessment {
        let dir = c.path.parent().unwrap_or(Path::new(""));
        temps::assess_temp(temp, &c.path, v, &|target| target_state(parent, dir, c.scan_dir.as_deref(), target))
    }

    fn remove_file(
        &self,
        mut entry: CleanEntry,
        parent: &Dir,
        name: &CStr,
        st: &libc::stat,
        summary: String,
    ) -> CleanEntry {
        if self.config.dry_run {
            entry.action = Action::WouldRemove;
            entry.message = summary;
            return entry;
        }
        fail::fail_point!("clean::before-unlink");
        let result = unlink_if_same(parent, name, st, 0);
        report_unlink(entry, result, summary, "replaced by another file since it was judged; left alone")
            .unwrap_or_else(|(entry, e)| failed(*entry, format!("cannot remove: {e}")))
    }

    fn decide_temp_dir(
        &mut self,
        c: &Candidate,
        parent: &Dir,
        name: &CStr,
        dev: u64,
        class: &Classified,
    ) -> CleanEntry {
        let entry = self.entry(c, Action::Kept, None, String::new());
        let (mut entry, dir_st) = match restat_dir(entry, parent, name, dev, |kind| format!("now a {kind}; left alone"))
        {
            Ok(ok) => ok,
            Err(entry) => return *entry,
        };
        let dir = match parent.open_child(OsStr::from_bytes(name.to_bytes())) {
            Ok(dir) => dir,
            Err(AtomicError::Symlink { .. }) => {
                return kept(entry, Reason::Changed, "replaced by a symlink since it was listed; left alone".into())
            }
            Err(e) => return failed(entry, e.to_string()),
        };
        match fstat(dir.raw()) {
            Ok(st) if st.st_dev == dir_st.st_dev && st.st_ino == dir_st.st_ino => {}
            Ok(_) => return kept(entry, Reason::Changed, "replaced since it was listed; left alone".into()),
            Err(e) => return failed(entry, format!("cannot stat: {e}")),
        }
        let names = match names_in(dir.raw()) {
            Ok(names) => names,
            Err(e) => return failed(entry, format!("cannot list: {e}")),
        };
        let others: Vec<String> = names
            .iter()
            .filter(|n| n.as_bytes() != ATOMICWRITES_FILE.as_bytes())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        if !others.is_empty() {
            return kept(
                entry,
                Reason::NotEmpty,
                format!("holds more than atomicwrites' {ATOMICWRITES_FILE}: {}; left alone", others.join(", ")),
            );
        }
        let inner_name = CString::new(ATOMICWRITES_FILE).expect("no NUL");
        let inner = match dir.lstat(&inner_name) {
            Ok(inner) => inner,
            Err(e) => return failed(entry, format!("cannot stat {ATOMICWRITES_FILE}: {e}")),
        };
        // Directory ctime is ignored (systemd-tmpfiles' rule): removing children changes it.
        let mut age = self.age_of(&dir_st, false);
        if let Some(inner) = &inner {
            if inner.st_mode & libc::S_IFMT != libc::S_IFREG {
                return kept(
                    entry,
                    Reason::NotRegular,
                    format!("its {ATOMICWRITES_FILE} is a {}; left alone", kind_name(inner.st_mode)),
                );
            }
            if inner.st_dev != dev {
                return kept(entry, Reason::OtherFilesystem, "on another filesystem than the root".into());
            }
            entry.bytes = inner.st_size as u64;
            age = age.min(self.age_of(inner, true));
        }
        entry.age_seconds = Some(age.as_secs());
        if age < self.config.older_than {
            return kept(entry, Reason::Young, young_message(age, self.config.older_than));
        }
        if self.is_open(dir_st.st_dev, dir_st.st_ino)
            || inner.as_ref().is_some_and(|i| self.is_open(i.st_dev, i.st_ino))
        {
            return kept(entry, Reason::Open, "open in another process: a write may be in progress".into());
        }
        match try_flock(dir.raw()) {
            Ok(true) => {}
            Ok(false) => return kept(entry, Reason::Locked, "another process holds a flock on it".into()),
            Err(e) => {
                return kept(entry, Reason::Locked, format!("its lock could not be tested ({e}); kept to be safe"))
            }
        }
        let mut summary = "left by the Rust atomicwrites crate".to_string();
        let mut held = None;
        if let Some(inner) = &inner {
            let file = match open_if_same(dir.raw(), &inner_name, inner) {
                Ok(Some(file)) => file,
                Ok(None) => return kept(entry, Reason::Changed, "replaced since it was listed; left alone".into()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return kept(entry, Reason::Changed, "changed since it was listed; left alone".into())
                }
                Err(e) => return failed(entry, format!("cannot open {ATOMICWRITES_FILE}: {e}")),
            };
            match try_flock(file.as_raw_fd()) {
                Ok(true) => {}
                Ok(false) => return kept(entry, Reason::Locked, "another process holds a flock on it".into()),
                Err(e) => {
                    return kept(entry, Reason::Locked, format!("its lock could not be tested ({e}); kept to be safe"))
                }
            }
            let open = |p: &Path| open_regular_by_name(dir.raw(), p, inner);
            let validation = match temps::validate_temp(&c.path, class, &open) {
                Ok(v) => v,
                Err(e) => return failed(entry, format!("cannot read: {e}")),
            };
            let temp = class.temp.clone().unwrap_or(TempName { writer: TempWriter::AtomicWrites, target: None });
            let verdict = self.assess(c, parent, &temp, validation.as_ref());
            summary = format!("{summary}{}; {}", verdict.writing(), verdict.content);
            if verdict.salvageable() {
                entry.fix = Some(repair_fix(c));
                return kept(entry, Reason::Salvageable, format!("{summary} and {}", verdict.salvage_note()));
            }
            held = Some(file);
        } else {
            summary.push_str("; empty");
        }
        if self.config.dry_run {
            entry.action = Action::WouldRemove;
            entry.message = summary;
            return entry;
        }
        if let Some(inner) = &inner {
            fail::fail_point!("clean::before-unlink");
            match unlink_if_same(&dir, &inner_name, inner, 0) {
                Ok(Unlinked::Done | Unlinked::Gone) => {}
                Ok(Unlinked::Changed) => {
                    return kept(entry, Reason::Changed, format!("its {ATOMICWRITES_FILE} changed; left alone"))
                }
                Err(e) => return failed(entry, format!("cannot remove {ATOMICWRITES_FILE}: {e}")),
            }
        }
        drop(held);
        let result = unlink_if_same(parent, name, &dir_st, libc::AT_REMOVEDIR);
        report_unlink(entry, result, summary, "replaced since it was judged; left alone").unwrap_or_else(
            |(entry, e)| {
                if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY) | Some(libc::EEXIST)) {
                    kept(*entry, Reason::NotEmpty, "something was put in it meanwhile; left alone".into())
                } else {
                    failed(*entry, format!("cannot remove: {e}"))
                }
            },
        )
    }

    fn decide_backup(&mut self, c: &Candidate, parent: &Dir, name: &CStr, dev: u64, stamp: SystemTime) -> CleanEntry {
        let entry = self.entry(c, Action::Kept, None, String::new());
        let limit = self.config.backups.unwrap_or(Duration::MAX);
        let (mut entry, st) =
            match restat_dir(entry, parent, name, dev, |kind| format!("a {kind}, not a backup folder")) {
                Ok(ok) => ok,
                Err(entry) => return *entry,
            };
        let stamp_age = self.now.duration_since(stamp).unwrap_or(Duration::ZERO);
        let age = stamp_age.min(self.age_of(&st, false));
        entry.age_seconds = Some(age.as_secs());
        if age < limit {
            return kept(entry, Reason::Young, format!("scanaudit backup younger than --backups {}", show(limit)));
        }
        let os_name = OsStr::from_bytes(name.to_bytes());
        let dry = self.config.dry_run;
        let mut bytes = 0;
        match remove_tree(parent, os_name, &st, dev, dry, &mut bytes) {
            Ok(()) => {
                entry.bytes = bytes;
                entry.action = if dry { Action::WouldRemove } else { Action::Removed };
                entry.message = format!("scanaudit backup older than --backups {}", show(limit));
            }
            Err(TreeError::Gone) => {
                entry.action = Action::AlreadyGone;
                entry.message = "someone else removed it first".into();
            }
            Err(TreeError::Changed(message)) => {
                entry.bytes = bytes;
                return kept(entry, Reason::Changed, message);
            }
            Err(TreeError::OtherFilesystem(message)) => {
                entry.bytes = bytes;
                return kept(entry, Reason::OtherFilesystem, message);
            }
            Err(TreeError::Io(message)) => {
                entry.bytes = bytes;
                return failed(entry, message);
            }
        }
        entry
    }
}

/// How an `unlink_if_same` outcome reads in the report; an I/O error is handed back for the
/// caller to word (a directory has its own "not empty" case).
fn report_unlink(
    mut entry: CleanEntry,
    result: io::Result<Unlinked>,
    summary: String,
    changed: &str,
) -> Result<CleanEntry, (Box<CleanEntry>, io::Error)> {
    match result {
        Ok(Unlinked::Done) => {
            entry.action = Action::Removed;
            entry.message = summary;
            Ok(entry)
        }
        Ok(Unlinked::Gone) => {
            entry.action = Action::AlreadyGone;
            entry.message = "someone else removed it first".into();
            Ok(entry)
        }
        Ok(Unlinked::Changed) => Ok(kept(entry, Reason::Changed, changed.into())),
        Err(e) => Err((Box::new(entry), e)),
    }
}

/// Looks again, just before acting, at a directory the walk listed: still there, still a
/// directory, still on the root's filesystem. `Err` is the entry to report instead.
fn restat_dir(
    mut entry: CleanEntry,
    parent: &Dir,
    name: &CStr,
    dev: u64,
    not_a_dir: impl Fn(&str) -> String,
) -> Result<(CleanEntry, libc::stat), Box<CleanEntry>> {
    let st = match parent.lstat(name) {
        Ok(Some(st)) => st,
        Ok(None) => {
            entry.action = Action::AlreadyGone;
            entry.message = "gone before clean got to it".into();
            return Err(Box::new(entry));
        }
        Err(e) => return Err(Box::new(failed(entry, format!("cannot stat: {e}")))),
    };
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        let message = not_a_dir(kind_name(st.st_mode));
        return Err(Box::new(kept(entry, Reason::NotRegular, message)));
    }
    if st.st_dev != dev {
        return Err(Box::new(kept(entry, Reason::OtherFilesystem, "on another filesystem than the root".into())));
    }
    Ok((entry, st))
}

fn kept(mut entry: CleanEntry, reason: Reason, message: String) -> CleanEntry {
    entry.action = Action::Kept;
    entry.reason = Some(reason);
    entry.message = message;
    entry
}

fn failed(mut entry: CleanEntry, message: String) -> CleanEntry {
    entry.action = Action::Failed;
    entry.reason = None;
    entry.message = message;
    entry
}

fn young_message(age: Duration, limit: Duration) -> String {
    format!(
        "changed {} ago, younger than --older-than {}: a write may still be in progress",
        human_age(age),
        show(limit)
    )
}

fn repair_fix(c: &Candidate) -> String {
    let dir = c.scan_dir.as_deref().or_else(|| c.path.parent()).unwrap_or(Path::new("."));
    repair_command(dir)
}

/// `1h`, `30m`, `7days`: how humantime prints a duration.
pub fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// The state of a temp's target, read from disk relative to the temp's directory handle and
/// validated the way `check` validates that kind of file. Anything but a regular file counts
/// as broken: the temp may be the only good copy, so it is kept.
fn target_state(parent: &Dir, dir: &Path, scan_dir: Option<&Path>, target: &str) -> TargetState {
    let Ok(c_name) = CString::new(target) else { return TargetState::Broken };
    if target.contains('/') || target == "." || target == ".." {
        return TargetState::Broken;
    }
    let st = match parent.lstat(&c_name) {
        Ok(None) => return TargetState::Missing,
        Ok(Some(st)) => st,
        Err(_) => return TargetState::Broken,
    };
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return TargetState::Broken;
    }
    let target_path = dir.join(target);
    let class = layout::classify_file(&target_path, scan_dir, &|_| false);
    let open = |p: &Path| open_regular_by_name(parent.raw(), p, &st);
    TargetState::of(&temps::validate_classified(&target_path, &class, &open).map_err(|e| e.to_string()))
}

// ------------------------------------------------------------------------------------------
// Opening the way down from the root

enum Gone {
    Vanished,
    Symlink(PathBuf),
    OtherFs(PathBuf),
    Error(String),
}

/// Opens (or reuses) the handle of `path`'s parent, walking down from the root one component
/// at a time with `O_NOFOLLOW`; returns the parent's path (the key in `root.opened`) and the
/// candidate's name.
fn open_parent(root: &mut Root<'_>, path: &Path) -> Result<(PathBuf, CString), Gone> {
    let parent = path.parent().unwrap_or(Path::new(""));
    let name = path.file_name().ok_or_else(|| Gone::Error(format!("{}: no file name", path.display())))?;
    let c_name = CString::new(name.as_bytes()).map_err(|_| Gone::Error("NUL in a file name".into()))?;
    if root.opened.contains_key(parent) {
        return Ok((parent.to_path_buf(), c_name));
    }
    // Few directories hold temps; cap the handles kept open anyway.
    if root.opened.len() >= 64 {
        root.opened.clear();
    }
    let rel =
        parent.strip_prefix(root.base).map_err(|_| Gone::Error(format!("{} is outside its root", path.display())))?;
    let mut dir = root.dir.try_clone().map_err(|e| Gone::Error(e.to_string()))?;
    for component in rel.components() {
        let std::path::Component::Normal(part) = component else {
            return Err(Gone::Error(format!("{}: unexpected path component", path.display())));
        };
        dir = match dir.open_child(part) {
            Ok(child) => child,
            Err(AtomicError::Symlink { path }) => return Err(Gone::Symlink(path)),
            Err(AtomicError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Err(Gone::Vanished)
            }
            Err(e) => return Err(Gone::Error(e.to_string())),
        };
        match fstat(dir.raw()) {
            Ok(st) if st.st_dev == root.dev => {}
            Ok(_) => return Err(Gone::OtherFs(dir.path().to_path_buf())),
            Err(e) => return Err(Gone::Error(format!("cannot stat {}: {e}", dir.path().display()))),
        }
    }
    root.opened.insert(parent.to_path_buf(), dir);
    Ok((parent.to_path_buf(), c_name))
}

// ------------------------------------------------------------------------------------------
// Opening and naming what was judged

/// Opens `name` in `dir` ([`open_regular_at`]) only if it is still the regular file `expected`
/// (same device and inode): `Ok(None)` when it is something else now.
fn open_if_same(dir: RawFd, name: &CStr, expected: &libc::stat) -> io::Result<Option<File>> {
    let Ok(file) = open_regular_at(dir, name)? else { return Ok(None) };
    let st = fstat(file.as_raw_fd())?;
    Ok((st.st_dev == expected.st_dev && st.st_ino == expected.st_ino).then_some(file))
}

/// The [`temps::Opener`] clean gives the shared validation: the file name of `path`, opened in
/// `dir`, only if it is still the regular file judged (`expected`), else an error.
fn open_regular_by_name(dir: RawFd, path: &Path, expected: &libc::stat) -> io::Result<File> {
    let name = path.file_name().ok_or_else(|| io::Error::other("no file name"))?;
    let c_name = CString::new(name.as_bytes()).map_err(|_| io::Error::other("NUL in a file name"))?;
    open_if_same(dir, &c_name, expected)?.ok_or_else(|| io::Error::other("changed since it was listed"))
}

/// What is at `mode`, in the words every refusal uses ([`EntryKind::describe`]).
fn kind_name(mode: libc::mode_t) -> &'static str {
    EntryKind::from_mode(mode).describe()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clean names what it found in the words the writer, the reader and backups use: one
    /// spelling per kind ("symbolic link", "FIFO", "character device"), not a second list.
    #[test]
    fn kinds_are_named_as_every_other_refusal_names_them() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("nowhere", dir.path().join("link")).unwrap();
        let handle = Dir::open(dir.path()).unwrap();
        let st = handle.lstat(&CString::new("link").unwrap()).unwrap().unwrap();
        assert_eq!(kind_name(st.st_mode), "symbolic link");
        assert_eq!(kind_name(libc::S_IFIFO), "FIFO");
        assert_eq!(kind_name(libc::S_IFCHR), "character device");
        assert_eq!(kind_name(libc::S_IFDIR), "directory");
    }
}
