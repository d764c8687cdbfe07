//! What a scan dir holds, as repair needs to know it: the state of each output it can
//! rebuild, the temp files that could restore one, torn checkpoints, and when anything in the
//! dir last changed.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rayon::prelude::*;

use crate::backup::OwnWrites;
use crate::finding::FindingKind;
use crate::layout::{self, shape_for, CheckpointStep, FileKind};
use crate::no_follow::{self, EntryKind};
use crate::regen::checkpoints::LoadObserver;
use crate::shape::Captured;
use crate::validate::{self, Problem, Validation};

/// The outputs repair rebuilds, in the order it rebuilds them (each feeds the next).
pub const REBUILD_ORDER: [FileKind; 5] = [
    FileKind::DatasetEnhanced,
    FileKind::Results,
    FileKind::ResultsVerified,
    FileKind::PipelineOutput,
    FileKind::DynamicTestResults,
];

/// The file name of a rebuildable output.
pub use crate::layout::output_file_name as output_name;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputState {
    Missing,
    Damaged(Problem),
    Healthy,
    /// Not a regular file (a symlink, a FIFO, a directory): never read or touched, for this reason.
    NotRegular(String),
    Unreadable(String),
}

/// What a file was when the plan read it: gone, or this inode with this size and these
/// change times (taken before the read). Repair acts on a file only while it is still so:
/// another repair, or OpenAnt, may have changed it since, and the plan was made from what it
/// was. Checked under the scan dir's lock, just before the action runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStamp {
    Missing,
    Present {
        dev: u64,
        ino: u64,
        size: u64,
        mtime: (i64, i64),
        ctime: (i64, i64),
    },
    /// Could not be looked at: never matches, so nothing is done to it.
    Unknown,
}

impl FileStamp {
    /// The file at `path` now, not following a symlink.
    pub fn of(path: &Path) -> FileStamp {
        match std::fs::symlink_metadata(path) {
            Ok(m) => FileStamp::from_metadata(&m),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => FileStamp::Missing,
            Err(_) => FileStamp::Unknown,
        }
    }

    /// The file this metadata is of (a path's without following a symlink, or an open file's).
    pub fn from_metadata(m: &std::fs::Metadata) -> FileStamp {
        use std::os::unix::fs::MetadataExt;
        FileStamp::Present {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    /// The file this `stat` is of (an open file's `fstat`).
    pub fn from_stat(st: &libc::stat) -> FileStamp {
        FileStamp::Present {
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size as u64,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
        }
    }

    /// Whether the file at `path` is still what this stamp says.
    pub fn still_holds(&self, path: &Path) -> bool {
        *self != FileStamp::Unknown && FileStamp::of(path) == *self
    }
}

/// A temp file that holds a complete, valid document of its target's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalvageableTemp {
    pub path: PathBuf,
    pub modified: Option<SystemTime>,
    /// Taken before the temp was read.
    pub stamp: FileStamp,
}

/// A checkpoint file OpenAnt cannot use: torn, without id, or a misnamed duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCheckpoint {
    pub path: PathBuf,
    pub reason: String,
    /// Taken before the checkpoint was read.
    pub stamp: FileStamp,
}

#[derive(Debug, Clone)]
pub struct ScanDirState {
    pub dir: PathBuf,
    pub outputs: BTreeMap<FileKind, OutputState>,
    /// Per target output, the salvageable temps, newest first.
    pub temps: BTreeMap<FileKind, Vec<SalvageableTemp>>,
    pub bad_checkpoints: Vec<BadCheckpoint>,
    /// Inputs that are there but are not what repair may read (besides the outputs, whose
    /// state says so): never opened or entered.
    pub refused: Vec<RefusedInput>,
    pub io_errors: Vec<(PathBuf, String)>,
}

/// The unit checkpoints a gather found, not yet judged, among what else its walk found, in
/// walk order ([`ScanDirState::judge_checkpoints`]).
pub struct UnjudgedCheckpoints {
    found: Vec<Found>,
}

impl ScanDirState {
    /// What `dir` holds, every checkpoint judged.
    pub fn gather(dir: &Path) -> ScanDirState {
        let (mut state, unjudged) = ScanDirState::gather_before_checkpoints(dir);
        state.judge_checkpoints(unjudged, &SeenCheckpoints::default());
        state
    }

    /// What `dir` holds, its unit checkpoints left to judge, so that the rebuilds, which read
    /// most of them, can be made first and show what they read ([`SeenCheckpoints`]): until
    /// [`ScanDirState::judge_checkpoints`], `bad_checkpoints` and `io_errors` are empty.
    pub fn gather_before_checkpoints(dir: &Path) -> (ScanDirState, UnjudgedCheckpoints) {
        // The outputs are validated at once, and while the walk runs: each is a pass over up
        // to a hundred MB, and one after another they were most of the gather (issue 17). Each
        // lands in its own slot, so what is recorded does not depend on which ends first.
        let (outputs, (refused, (temps, unjudged))) = rayon::join(
            || {
                REBUILD_ORDER
                    .par_iter()
                    // One output a task: they differ in size a hundredfold, and the biggest
                    // should not wait behind another.
                    .with_max_len(1)
                    .map(|&kind| (kind, output_state(&dir.join(output_name(kind)), kind)))
                    .collect::<BTreeMap<_, _>>()
            },
            || rayon::join(|| refused_inputs(dir), || ScanDirState::scan_entries(dir)),
        );
        let state = ScanDirState {
            dir: dir.to_path_buf(),
            outputs,
            temps,
            bad_checkpoints: Vec::new(),
            refused,
            io_errors: Vec::new(),
        };
        (state, unjudged)
    }

    /// Walks the scan dir (in name order), then examines its temps in parallel and returns
    /// them; the rest of what the walk found (its errors, the unit checkpoints) is returned in
    /// walk order.
    fn scan_entries(dir: &Path) -> (BTreeMap<FileKind, Vec<SalvageableTemp>>, UnjudgedCheckpoints) {
        let walked = walk_files(dir);
        let found: Vec<Option<Found>> = walked
            .into_par_iter()
            .map(|walked| match walked {
                Walked::Error(path, error) => Some(Found::IoError(path, error)),
                Walked::File { path, depth } => examine_entry(dir, &path, depth),
            })
            .collect();
        let mut temps: BTreeMap<FileKind, Vec<SalvageableTemp>> = BTreeMap::new();
        let mut rest = Vec::new();
        for found in found.into_iter().flatten() {
            match found {
                Found::Temp(kind, temp) => temps.entry(kind).or_default().push(*temp),
                other => rest.push(other),
            }
        }
        // Newest first, once all are in (sorting after each push made many temps quadratic);
        // the path decides between temps of one mtime, so the order is total.
        for kind_temps in temps.values_mut() {
            kind_temps.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| a.path.cmp(&b.path)));
        }
        (temps, UnjudgedCheckpoints { found: rest })
    }

    /// Judges the unit checkpoints a gather left (in parallel: tens of thousands of files):
    /// from what a load showed `seen` when it read one of them as this step's checkpoint,
    /// else by reading and validating it here; then records the bad ones and the errors in
    /// walk order, so the lists read as a serial walk would leave them.
    pub fn judge_checkpoints(&mut self, unjudged: UnjudgedCheckpoints, seen: &SeenCheckpoints) {
        let seen = seen.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let judged: Vec<Option<Found>> = unjudged
            .found
            .into_par_iter()
            .map(|found| match found {
                Found::Checkpoint(path, step) => match seen.get(&path, step) {
                    Some(verdict) => judge_seen(verdict, &path),
                    None => consider_checkpoint(&path, step),
                },
                other => Some(other),
            })
            .collect();
        for found in judged.into_iter().flatten() {
            match found {
                Found::IoError(path, error) => self.io_errors.push((path, error)),
                Found::BadCheckpoint(bad) => self.bad_checkpoints.push(bad),
                Found::Temp(..) | Found::Checkpoint(..) => unreachable!("temps are recorded, checkpoints judged"),
            }
        }
    }
}

/// What the checkpoint loads made while [`SeenCheckpoints::observer`] watched saw of each
/// unit file they read, as much as quarantine needs: the files are judged from it rather
/// than read and validated a second time (issue 17). The verdict is of the bytes the load
/// read, with the stamp of the file they were read from.
#[derive(Default)]
pub struct SeenCheckpoints {
    /// By checkpoint dir and the step it was loaded as, by file name.
    files: Mutex<SeenFiles>,
}

/// A few loaded dirs of tens of thousands of files each: the dirs are looked through, the
/// files hashed by name (with foldhash: this is done once per file loaded and once per file
/// judged).
#[derive(Default)]
struct SeenFiles(Vec<SeenDir>);

struct SeenDir {
    dir: PathBuf,
    step: CheckpointStep,
    files: HashMap<OsString, SeenVerdict, foldhash::fast::RandomState>,
}

impl SeenDir {
    /// Whether this is what a load of `dir` as `step`'s checkpoints saw. Paths are compared as
    /// the bytes the walk and the loader both join from the scan dir: two spellings of one dir
    /// only miss, and a missed file is read again.
    fn is(&self, dir: &Path, step: CheckpointStep) -> bool {
        self.step == step && self.dir.as_os_str() == dir.as_os_str()
    }
}

impl SeenFiles {
    /// What a load of `path`'s dir as `step`'s checkpoints saw of it.
    fn get(&self, path: &Path, step: Option<CheckpointStep>) -> Option<&SeenVerdict> {
        let (dir, step) = (path.parent()?, step?);
        self.0.iter().find(|seen| seen.is(dir, step))?.files.get(path.file_name()?)
    }

    fn insert(&mut self, dir: &Path, step: CheckpointStep, name: &std::ffi::OsStr, verdict: SeenVerdict) {
        let index = self.0.iter().position(|seen| seen.is(dir, step)).unwrap_or_else(|| {
            self.0.push(SeenDir { dir: dir.to_path_buf(), step, files: HashMap::default() });
            self.0.len() - 1
        });
        self.0[index].files.insert(name.to_owned(), verdict);
    }
}

/// One seen file: `None` when it is a unit checkpoint OpenAnt uses as it is (nearly all: kept
/// small), else what [`checkpoint_reason`] judges.
type SeenVerdict = Option<Box<SeenFacts>>;

/// What quarantine judges a checkpoint from: its stamp and its validation's verdict and id.
struct SeenFacts {
    stamp: FileStamp,
    problem: Option<FindingKind>,
    id: Option<Captured>,
}

impl SeenCheckpoints {
    /// The observer to run the plan's rebuilds under ([`crate::regen::checkpoints::observe_loads`]).
    pub fn observer(self: &Arc<Self>) -> Arc<LoadObserver> {
        let seen = Arc::clone(self);
        Arc::new(move |path: &Path, step: CheckpointStep, st: &libc::stat, validation: &Validation| {
            let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return };
            let problem = validation.problem.as_ref().map(|p| p.kind);
            let id = validation.captures.get("id");
            let used_as_it_is = problem.is_none()
                && matches!(id, Some(Captured::Str(id)) if layout::safe_filename::is_checkpoint_name_for(&layout::file_name(path), id));
            let verdict = (!used_as_it_is)
                .then(|| Box::new(SeenFacts { stamp: FileStamp::from_stat(st), problem, id: id.cloned() }));
            let mut files = seen.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            files.insert(dir, step, name, verdict);
        })
    }
}

/// [`consider_checkpoint`]'s verdict on the checkpoint at `path`, from what a load saw of it.
fn judge_seen(verdict: &SeenVerdict, path: &Path) -> Option<Found> {
    let facts = verdict.as_ref()?;
    let reason = checkpoint_reason(path, facts.problem, facts.id.as_ref())?;
    Some(Found::BadCheckpoint(BadCheckpoint { path: path.to_path_buf(), reason, stamp: facts.stamp }))
}

/// An entry of the scan dir's walk that repair may look into.
enum Walked {
    /// The walk could not read this.
    Error(PathBuf, String),
    /// A regular file below the scan dir (not in scanaudit's state dir).
    File { path: PathBuf, depth: usize },
}

/// What one file of the scan dir is to repair, when it is anything.
enum Found {
    IoError(PathBuf, String),
    /// Boxed: the walk's list of what it found is kept, one entry per unit checkpoint, while
    /// the rebuilds run, and a temp is rare.
    Temp(FileKind, Box<SalvageableTemp>),
    BadCheckpoint(BadCheckpoint),
    /// A unit checkpoint of this step, not judged yet.
    Checkpoint(PathBuf, Option<CheckpointStep>),
}

/// Every regular file below `dir` and every error of the walk, in walk order (names sorted),
/// scanaudit's state dir left out.
fn walk_files(dir: &Path) -> Vec<Walked> {
    let mut walked = Vec::new();
    let walker = walkdir::WalkDir::new(dir).follow_links(false).same_file_system(true).sort_by_file_name();
    let mut it = walker.into_iter();
    while let Some(entry) = it.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                let path = error.path().unwrap_or(dir).to_path_buf();
                walked.push(Walked::Error(path, error.to_string()));
                continue;
            }
        };
        if entry.file_type().is_dir()
            && entry.depth() > 0
            && layout::file_name(entry.path()) == crate::layout::state_names::STATE_DIR
        {
            it.skip_current_dir();
            continue;
        }
        if !entry.file_type().is_file() || entry.depth() == 0 {
            continue;
        }
        let depth = entry.depth();
        walked.push(Walked::File { path: entry.into_path(), depth });
    }
    walked
}

/// What the file at `path`, `depth` levels below the scan dir `dir`, is to repair.
fn examine_entry(dir: &Path, path: &Path, depth: usize) -> Option<Found> {
    let parent = path.parent().unwrap_or(dir);
    let class = layout::classify_file(path, Some(dir), &|n| parent.join(n).exists());
    // Single-file checkpoints (`FileKind::LegacyCheckpoint`) are never quarantined: a torn one
    // may be the only record of paid-for units, and `migrate` or a person may still salvage
    // it. A rebuild that needs it reports it instead (rebuild.rs).
    match class.kind {
        // A temp inside a checkpoint dir (depth 2) is never promoted: checkpoints are per
        // unit, OpenAnt redoes a unit without one; `clean` removes it.
        FileKind::Temp if depth == 1 => consider_temp(path, class.temp),
        // `_summary.json` and `_fingerprint.json` are classified apart from unit checkpoints
        // (today's `_RESERVED_FILES`) and never reach here: the sidecar is never quarantined,
        // since without it OpenAnt reuses checkpoints of any model.
        FileKind::Checkpoint => unit_checkpoint(path, class.checkpoint_step),
        _ => None,
    }
}

/// A unit checkpoint to judge, unless it is one of the reserved files of a checkpoint dir.
fn unit_checkpoint(path: &Path, step: Option<CheckpointStep>) -> Option<Found> {
    // Today's `_RESERVED_FILES`: never a unit checkpoint, never quarantined (layout classifies
    // them apart already; this keeps the rule where quarantine is decided).
    if crate::layout::reserved_names::RESERVED_CHECKPOINT_FILES.contains(&layout::file_name(path).as_str()) {
        return None;
    }
    Some(Found::Checkpoint(path.to_path_buf(), step))
}

/// The output a temp can restore, if it holds a complete, valid document of one.
fn consider_temp(path: &Path, temp: Option<layout::TempName>) -> Option<Found> {
    let stamp = FileStamp::of(path);
    let writer = temp.as_ref().map(|t| t.writer);
    let io_error = |error: std::io::Error| Some(Found::IoError(path.to_path_buf(), error.to_string()));
    let kinds: Vec<FileKind> = match temp.and_then(|t| t.target).as_deref() {
        Some(name) => REBUILD_ORDER.iter().copied().filter(|k| output_name(*k) == name).collect(),
        // Today's write_json temp (.tmp-XXXXXXXX.tmp): the kind its content tells, when
        // exactly one target fits (check's `temp_kinds`, the same question check and clean
        // ask); a dataset-shaped document may be dataset.json or dataset_enhanced.json, so it
        // is never promoted.
        None if writer == Some(layout::TempWriter::WriteJson) => {
            let keys = match validate::validate_file(path, &crate::shape::any_recording_keys()) {
                Ok(v) if v.is_valid() => v.captures,
                Ok(_) => return None,
                Err(error) => return io_error(error),
            };
            match crate::temps::temp_kinds(writer, path, &keys).as_slice() {
                [one] if REBUILD_ORDER.contains(&one.kind) => vec![one.kind],
                _ => Vec::new(),
            }
        }
        // The name does not say (the fork's tmpXXXXXXXX.tmp): try each kind's shape.
        None => REBUILD_ORDER.to_vec(),
    };
    for kind in kinds {
        match validate::validate_file(path, shape_for(kind, None)) {
            Ok(v) if v.is_valid() && holds_kind(kind, &v.captures.top_level_keys) => {
                let modified = std::fs::symlink_metadata(path).and_then(|m| m.modified()).ok();
                return Some(Found::Temp(
                    kind,
                    Box::new(SalvageableTemp { path: path.to_path_buf(), modified, stamp }),
                ));
            }
            Ok(_) => {}
            Err(error) => return io_error(error),
        }
    }
    None
}

/// Why OpenAnt cannot use this unit checkpoint, if it cannot: read and validated here.
fn consider_checkpoint(path: &Path, step: Option<CheckpointStep>) -> Option<Found> {
    let stamp = FileStamp::of(path);
    let validation = match validate::validate_file(path, shape_for(FileKind::Checkpoint, step)) {
        Ok(v) => v,
        Err(error) => return Some(Found::IoError(path.to_path_buf(), error.to_string())),
    };
    let reason = checkpoint_reason(path, validation.problem.map(|p| p.kind), validation.captures.get("id"));
    reason.map(|reason| Found::BadCheckpoint(BadCheckpoint { path: path.to_path_buf(), reason, stamp }))
}

/// Why OpenAnt cannot use the unit checkpoint at `path`, if it cannot, from its validation
/// against the step's checkpoint shape: the problem it found, and the `id` it captured.
fn checkpoint_reason(path: &Path, problem: Option<FindingKind>, id: Option<&Captured>) -> Option<String> {
    match (problem, id) {
        (Some(problem), _) => Some(format!("{problem} checkpoint")),
        (None, None) => Some("checkpoint without \"id\"".to_string()),
        (None, Some(Captured::Str(id))) => {
            let expected = layout::safe_filename::checkpoint_file_name(id);
            // A misnamed copy of a unit whose real checkpoint exists: OpenAnt may load either,
            // so it goes. A misnamed only copy is the unit's work: it stays. A #317
            // case-collision name (`<safe>_<16 hex>.json`) is a correct name, and on a
            // case-insensitive filesystem its bare name "exists" as another unit's file.
            (!layout::safe_filename::is_checkpoint_name_for(&layout::file_name(path), id)
                && path.with_file_name(&expected).exists())
            .then(|| format!("duplicate of {expected}"))
        }
        (None, Some(_)) => Some("checkpoint whose \"id\" is not a string".to_string()),
    }
}

/// Whether a document that passed `kind`'s shape is really that kind and not a sibling kind
/// with overlapping keys (results vs results_verified).
fn holds_kind(kind: FileKind, keys: &[String]) -> bool {
    let has = |k: &str| keys.iter().any(|key| key == k);
    match kind {
        FileKind::Results => !has("verify") && !has("confirmed_findings"),
        FileKind::ResultsVerified => has("verify") || has("confirmed_findings"),
        _ => true,
    }
}

fn output_state(path: &Path, kind: FileKind) -> OutputState {
    match no_follow::kind(path) {
        Ok(EntryKind::Missing) => OutputState::Missing,
        Err(error) => OutputState::Unreadable(error.to_string()),
        // The same words as check's `special-file` finding: one verdict for both verbs.
        Ok(EntryKind::Dir) => OutputState::NotRegular(format!(
            "{}: left alone",
            crate::check::directory_in_place_of_file(&crate::layout::file_name(path))
        )),
        Ok(EntryKind::File) => match validate::validate_file(path, shape_for(kind, None)) {
            Ok(v) => match v.problem {
                Some(problem) => OutputState::Damaged(problem),
                None => OutputState::Healthy,
            },
            Err(error) => OutputState::Unreadable(error.to_string()),
        },
        Ok(other) => OutputState::NotRegular(RefusedInput { path: path.to_path_buf(), kind: other }.describe()),
    }
}

/// An input of the scan that is there but is not what repair may read: a symlink or special
/// file named like a file OpenAnt writes, a checkpoint dir that is a symlink or no directory,
/// or a `meta.json` that is not a regular file. The same entries check reports as `symlink`
/// and `special-file`; repair never opens or enters them and says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedInput {
    pub path: PathBuf,
    pub kind: EntryKind,
}

impl RefusedInput {
    /// What it is and what repair does about it, e.g. "a FIFO, not a regular file: never
    /// opened; nothing is read from it".
    pub fn describe(&self) -> String {
        let what = match self.kind {
            EntryKind::Symlink => "a symbolic link: never followed".to_owned(),
            other => format!("a {}, not a regular file: never opened", other.describe()),
        };
        format!("{what}; nothing is read from it, and it is left alone")
    }
}

/// The scan dir's [`RefusedInput`]s, the outputs repair rebuilds aside (their state tells).
pub fn refused_inputs(dir: &Path) -> Vec<RefusedInput> {
    let mut refused = Vec::new();
    // Unreadable dirs are reported by the walk that plans the work.
    let entries = no_follow::list_dir(dir).unwrap_or_default();
    for entry in entries {
        let name = entry.name.to_string_lossy();
        if REBUILD_ORDER.iter().any(|k| output_name(*k) == name) {
            continue;
        }
        let read_by_repair = if name.ends_with("_checkpoints") {
            entry.kind != EntryKind::Dir
        } else {
            let kind = layout::classify_file(&entry.path, Some(dir), &|_| false).kind;
            !matches!(entry.kind, EntryKind::File | EntryKind::Dir) && kind.is_json() && kind != FileKind::GenericJson
        };
        if read_by_repair {
            refused.push(RefusedInput { path: entry.path, kind: entry.kind });
        }
    }
    for meta in scan_meta_paths(dir) {
        match no_follow::kind(&meta) {
            Ok(EntryKind::File | EntryKind::Missing) | Err(_) => {}
            Ok(kind) if !refused.iter().any(|r| r.path == meta) => refused.push(RefusedInput { path: meta, kind }),
            Ok(_) => {}
        }
    }
    refused
}

/// The `meta.json` files that say whether a scan runs: the scan dir's own and its run dir's.
fn scan_meta_paths(dir: &Path) -> Vec<PathBuf> {
    std::iter::once(dir.join("meta.json")).chain(dir.parent().map(|p| p.join("meta.json"))).collect()
}

/// The newest mtime of a file in the scan dir that scanaudit did not write (files only,
/// because a directory's mtime also moves when scanaudit creates its own state). scanaudit's
/// own writes are its state dir, its temp files, and files holding exactly what a backup
/// manifest says it wrote there (the run dir's too: a language-level migration leaves its state
/// there); only files changed after `since` are hashed to tell, newest first.
pub fn last_foreign_change(dir: &Path, since: SystemTime) -> Option<SystemTime> {
    // The walk reads only the dirs (each entry's type comes with its name); the files' times
    // are taken on all cores: a scan dir holds tens of thousands of unit checkpoints, and one
    // `lstat` after another was most of the look (issue 17). What a file's time decides does
    // not depend on the order the times come in: among files changed after `since`, the newest
    // foreign one; else the newest of the rest.
    let modified: Vec<(SystemTime, PathBuf)> = files_not_written_by_scanaudit(dir)
        .into_par_iter()
        .filter_map(|path| Some((std::fs::symlink_metadata(&path).ok()?.modified().ok()?, path)))
        .collect();
    let (mut newer, older): (Vec<_>, Vec<_>) = modified.into_iter().partition(|(modified, _)| *modified > since);
    newer.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    let mut own: Option<OwnWrites> = None;
    let foreign = newer.into_iter().find_map(|(modified, path)| {
        let own = own.get_or_insert_with(|| {
            let run_dir = dir.parent().filter(|p| !p.as_os_str().is_empty());
            let dirs: Vec<&Path> = std::iter::once(dir).chain(run_dir).collect();
            OwnWrites::read(&dirs)
        });
        (!own.wrote(&path)).then_some(modified)
    });
    foreign.or_else(|| older.into_iter().map(|(modified, _)| modified).max())
}

/// Every regular file below `dir` but scanaudit's state dir and its temp files, as the walk
/// meets them.
fn files_not_written_by_scanaudit(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let walker = walkdir::WalkDir::new(dir).follow_links(false).same_file_system(true);
    let mut it = walker.into_iter();
    while let Some(entry) = it.next() {
        // Unreadable entries are reported by the walk that plans the work.
        let Ok(entry) = entry else { continue };
        if entry.file_type().is_dir() && entry.depth() > 0 && entry.file_name() == crate::layout::state_names::STATE_DIR
        {
            it.skip_current_dir();
            continue;
        }
        let ours = layout::temp_names::recognise_file(&entry.file_name().to_string_lossy(), &|_| false)
            .is_some_and(|temp| temp.writer == layout::TempWriter::Scanaudit);
        if entry.file_type().is_file() && !ours {
            files.push(entry.into_path());
        }
    }
    files
}

/// `meta.json` lives in the run dir (`scans/<sha>/`), or in the scan dir itself before the
/// language level existed; since #664 a language-level scan dir has its own too, and the two
/// are read as their union, as check reads them ([`crate::consistency::meta_union_running`]).
pub fn scan_running(dir: &Path) -> bool {
    let status = |meta: &Path| -> Option<String> {
        // A meta.json that is no regular file (a FIFO would block) is never read: it says nothing.
        no_follow::read(meta)
            .ok()
            // Read as OpenAnt reads it (NaN, a lone surrogate elsewhere in it: still its status).
            .and_then(|bytes| crate::pyjson::parse(&bytes).ok())
            .and_then(|v| v.get("status").and_then(crate::pyjson::PyValue::as_str).map(str::to_string))
    };
    let own = status(&dir.join("meta.json"));
    let run_dir = dir.parent().and_then(|p| status(&p.join("meta.json")));
    let language_level = dir.parent().and_then(Path::parent).map(layout::file_name).as_deref() == Some("scans");
    if language_level {
        crate::consistency::meta_union_running(own.as_deref(), run_dir.as_deref())
    } else {
        own.as_deref() == Some("running") || run_dir.as_deref() == Some("running")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regen::test_support::copy_tree;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A complete results.json, as a temp an interrupted write left holds it.
    const COMPLETE_RESULTS: &str = r#"{"dataset": "dataset.json", "model": "m", "provider": "p", "timestamp": "t",
            "metrics": {"total": 0}, "results": [], "code_by_route": {}, "analyze_fingerprint": "sha256:00"}"#;

    #[test]
    fn running_is_the_union_of_both_meta_files() {
        let root = tempfile::tempdir().unwrap();
        let run = root.path().join("scans/abc");
        let scan = run.join("python");
        std::fs::create_dir_all(&scan).unwrap();
        assert!(!scan_running(&scan));
        write(&run.join("meta.json"), r#"{"status": "running"}"#);
        assert!(scan_running(&scan), "a legacy run-dir meta still counts");
        write(&scan.join("meta.json"), r#"{"status": "success"}"#);
        assert!(!scan_running(&scan), "a per-language success suppresses the legacy one");
        write(&scan.join("meta.json"), r#"{"status": "failed"}"#);
        assert!(scan_running(&scan));
        write(&run.join("meta.json"), r#"{"status": "success"}"#);
        write(&scan.join("meta.json"), r#"{"status": "running"}"#);
        assert!(scan_running(&scan), "the per-language meta says running");
    }

    #[test]
    fn reserved_files_and_317_names_are_never_bad_checkpoints() {
        let root = tempfile::tempdir().unwrap();
        let scan = root.path().join("scan");
        let cp = scan.join("analyze_checkpoints");
        write(&cp.join("_fingerprint.json"), r#"{"scheme_version": 2, "phase": "analyze"}"#);
        write(&cp.join("_summary.json"), r#"{"step": "Analyze"}"#);
        let id = "src/A.py:f";
        let h: String = {
            use sha2::{Digest, Sha256};
            Sha256::digest(id.as_bytes())[..8].iter().map(|b| format!("{b:02x}")).collect()
        };
        let record = format!(r#"{{"result": {{"verdict": "SAFE"}}, "id": "{id}"}}"#);
        write(&cp.join(format!("src__A.py_f_{h}.json")), &record);
        // The bare name holds this id too here (what a case-insensitive filesystem shows).
        write(&cp.join("src__A.py_f.json"), &record);
        let state = ScanDirState::gather(&scan);
        assert!(state.bad_checkpoints.is_empty(), "{:?}", state.bad_checkpoints);
    }

    /// A scan with temps (complete and torn) and two checkpoint dirs of good, torn, id-less,
    /// int-id and misnamed checkpoints.
    fn mixed_scan(root: &Path) -> PathBuf {
        let scan = root.join("scan");
        let results = COMPLETE_RESULTS;
        for i in 0..6 {
            let temp = scan.join(format!("tmp{i:08}.tmp"));
            write(&temp, if i % 2 == 0 { results } else { r#"{"torn": "# });
            let when = filetime::FileTime::from_unix_time(1_700_000_000 + (i % 3) * 60, 0);
            filetime::set_file_mtime(&temp, when).unwrap();
        }
        for (dir, good) in [
            ("analyze_checkpoints", r#"{"result": {"verdict": "SAFE"}, "id": "ID"}"#),
            ("verify_checkpoints", r#"{"verification": {"correct_finding": "agree"}, "id": "ID"}"#),
        ] {
            for i in 0..150 {
                let id = format!("src/m.py:f{}", i % 61);
                let name = match i % 5 {
                    4 => format!("copy-{i}.json"),
                    _ => layout::safe_filename::checkpoint_file_name(&id),
                };
                let text = match i % 7 {
                    1 => good[..good.len() / 2].to_owned(),
                    2 => good.replace(r#", "id": "ID""#, ""),
                    3 => good.replace(r#""ID""#, "7"),
                    _ => good.replace("ID", &id),
                };
                write(&scan.join(dir).join(name), &text);
            }
        }
        scan
    }

    /// Checkpoints and temps examined in parallel are recorded as a one-thread gather records
    /// them: the same bad checkpoints with the same reasons, in walk order, and the same temps.
    #[test]
    fn parallel_gather_matches_a_serial_one() {
        let root = tempfile::tempdir().unwrap();
        let scan = mixed_scan(root.path());
        let gather_in = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| ScanDirState::gather(&scan))
        };
        let (serial, parallel) = (gather_in(1), gather_in(4));
        assert_eq!(parallel.bad_checkpoints, serial.bad_checkpoints);
        assert_eq!(parallel.temps, serial.temps);
        assert_eq!(parallel.io_errors, serial.io_errors);
        assert_eq!(parallel.outputs, serial.outputs);
        assert_eq!(parallel.refused, serial.refused);
        let reasons: std::collections::HashSet<&str> =
            serial.bad_checkpoints.iter().map(|b| b.reason.split(['"', '.']).next().unwrap()).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(serial.bad_checkpoints.windows(2).all(|w| w[0].path < w[1].path));
        assert_eq!(serial.temps[&FileKind::Results].len(), 3);
    }

    /// A target's temps are listed newest first, and temps of one mtime by path, whatever
    /// order the walk met them in.
    #[test]
    fn temps_are_newest_first_then_by_path() {
        let root = tempfile::tempdir().unwrap();
        let scan = root.path().join("scan");
        let results = COMPLETE_RESULTS;
        for (name, minutes) in
            [("tmp00000001.tmp", 1), ("tmp00000002.tmp", 3), ("tmp00000003.tmp", 2), ("tmp00000004.tmp", 3)]
        {
            let temp = scan.join(name);
            write(&temp, results);
            filetime::set_file_mtime(&temp, filetime::FileTime::from_unix_time(1_700_000_000 + minutes * 60, 0))
                .unwrap();
        }
        let state = ScanDirState::gather(&scan);
        let order: Vec<String> = state.temps[&FileKind::Results].iter().map(|t| layout::file_name(&t.path)).collect();
        assert_eq!(order, ["tmp00000002.tmp", "tmp00000004.tmp", "tmp00000003.tmp", "tmp00000001.tmp"]);
    }

    #[test]
    fn a_write_json_temp_is_promoted_only_for_one_fitting_output() {
        let root = tempfile::tempdir().unwrap();
        let scan = root.path().join("scan");
        let results = COMPLETE_RESULTS;
        write(&scan.join(".tmp-abcd1234.tmp"), results);
        write(&scan.join(".tmp-dddd1234.tmp"), r#"{"units": [], "metadata": {}}"#);
        write(&scan.join("analyze_checkpoints/.tmp-eeee1234.tmp"), r#"{"result": {"verdict": "SAFE"}, "id": "x"}"#);
        let state = ScanDirState::gather(&scan);
        let kinds: Vec<(FileKind, Vec<String>)> =
            state.temps.iter().map(|(k, t)| (*k, t.iter().map(|t| layout::file_name(&t.path)).collect())).collect();
        assert_eq!(kinds, [(FileKind::Results, vec![".tmp-abcd1234.tmp".to_string()])]);
    }

    /// Checkpoints judged from what the rebuilds' loads read are judged as a gather reading
    /// them itself judges them: the same bad checkpoints, reasons and stamps, in walk order. A
    /// dir loaded as another step's is judged by reading it again.
    #[test]
    fn checkpoints_judged_from_loads_match_a_gather_of_their_own() {
        use crate::regen::checkpoints::{observe_loads, CheckpointSet};
        let root = tempfile::tempdir().unwrap();
        let scan = mixed_scan(root.path());
        let reference = ScanDirState::gather(&scan);
        let loads = [
            [("analyze_checkpoints", CheckpointStep::Analyze), ("verify_checkpoints", CheckpointStep::Verify)],
            [("analyze_checkpoints", CheckpointStep::Analyze), ("verify_checkpoints", CheckpointStep::Analyze)],
        ];
        for loads in loads {
            let (mut state, unjudged) = ScanDirState::gather_before_checkpoints(&scan);
            let seen = Arc::new(SeenCheckpoints::default());
            let observing = observe_loads(seen.observer());
            for (dir, step) in loads {
                CheckpointSet::load_dir(&scan.join(dir), step).unwrap();
            }
            drop(observing);
            let shown: usize = seen.files.lock().unwrap().0.iter().map(|seen| seen.files.len()).sum();
            let files = |dir: &str| std::fs::read_dir(scan.join(dir)).unwrap().count();
            assert_eq!(shown, files("analyze_checkpoints") + files("verify_checkpoints"));
            state.judge_checkpoints(unjudged, &seen);
            assert_eq!(state.bad_checkpoints, reference.bad_checkpoints);
            assert_eq!(state.io_errors, reference.io_errors);
            assert_eq!(state.temps, reference.temps);
        }
    }

    /// A checkpoint is judged on what the load read, with the stamp of the file it read: one
    /// changed since no longer holds that stamp, so its quarantine would not run.
    #[test]
    fn a_checkpoint_changed_after_its_load_is_judged_on_what_was_read() {
        use crate::regen::checkpoints::{observe_loads, CheckpointSet};
        let root = tempfile::tempdir().unwrap();
        let cp = root.path().join("scan/analyze_checkpoints");
        let name = layout::safe_filename::checkpoint_file_name("src/a.py:f");
        write(&cp.join(&name), r#"{"result": {"verdict": "SAFE"}, "id": "src/a.py:f"#);
        let scan = root.path().join("scan");
        let (mut state, unjudged) = ScanDirState::gather_before_checkpoints(&scan);
        let seen = Arc::new(SeenCheckpoints::default());
        let observing = observe_loads(seen.observer());
        CheckpointSet::load_dir(&cp, CheckpointStep::Analyze).unwrap();
        drop(observing);
        // Mended after the load (a new inode, as OpenAnt's atomic write makes one).
        write(&cp.join("new.tmp"), r#"{"result": {"verdict": "SAFE"}, "id": "src/a.py:f"}"#);
        std::fs::rename(cp.join("new.tmp"), cp.join(&name)).unwrap();
        state.judge_checkpoints(unjudged, &seen);
        assert_eq!(state.bad_checkpoints.len(), 1, "{:?}", state.bad_checkpoints);
        let bad = &state.bad_checkpoints[0];
        assert_eq!(bad.reason, "truncated checkpoint");
        assert!(!bad.stamp.still_holds(&bad.path));
        assert!(ScanDirState::gather(&scan).bad_checkpoints.is_empty());
    }

    /// A copy of the healthy fixture scan with every output damaged another way (cut, zeroed,
    /// a dir, missing, a symlink), salvageable and torn temps, and bad checkpoints.
    fn damaged_fixture_scan(root: &Path) -> PathBuf {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/healthy/projects/acme-webapp/scans/3f9c2e1b7a6/python");
        let scan = mixed_scan(root);
        copy_tree(&fixture, &scan);
        let cut = |name: &str, keep: f64| {
            let bytes = std::fs::read(scan.join(name)).unwrap();
            std::fs::write(scan.join(name), &bytes[..(bytes.len() as f64 * keep) as usize]).unwrap();
        };
        cut("dataset_enhanced.json", 0.6);
        let results = std::fs::read(scan.join("results.json")).unwrap();
        let mut zeroed = results[..results.len() / 2].to_vec();
        zeroed.resize(results.len(), 0);
        std::fs::write(scan.join("results.json"), zeroed).unwrap();
        std::fs::remove_file(scan.join("results_verified.json")).unwrap();
        std::fs::create_dir(scan.join("results_verified.json")).unwrap();
        std::fs::remove_file(scan.join("pipeline_output.json")).unwrap();
        std::fs::remove_file(scan.join("dynamic_test_results.json")).unwrap();
        std::os::unix::fs::symlink("dataset.json", scan.join("dynamic_test_results.json")).unwrap();
        std::fs::remove_file(scan.join("application_context.json")).unwrap();
        std::os::unix::fs::symlink("nowhere", scan.join("application_context.json")).unwrap();
        scan
    }

    /// The gather as it was before its parts ran at once: the outputs one after another in
    /// rebuild order, then the walk.
    fn serial_gather(dir: &Path) -> ScanDirState {
        let mut state = ScanDirState {
            dir: dir.to_path_buf(),
            outputs: BTreeMap::new(),
            temps: BTreeMap::new(),
            bad_checkpoints: Vec::new(),
            refused: refused_inputs(dir),
            io_errors: Vec::new(),
        };
        for kind in REBUILD_ORDER {
            state.outputs.insert(kind, output_state(&dir.join(output_name(kind)), kind));
        }
        let (temps, unjudged) = ScanDirState::scan_entries(dir);
        state.temps = temps;
        state.judge_checkpoints(unjudged, &SeenCheckpoints::default());
        state
    }

    /// The outputs validated at once and beside the walk are recorded as a one-thread gather
    /// that validates them in turn records them: the same states (with the same problems and
    /// words), temps, refusals, bad checkpoints and errors, in the same order.
    #[test]
    fn outputs_validated_at_once_give_the_serial_gathers_state() {
        let root = tempfile::tempdir().unwrap();
        let scan = damaged_fixture_scan(root.path());
        let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let serial = one_thread.install(|| serial_gather(&scan));
        let kinds: Vec<&str> = serial
            .outputs
            .values()
            .map(|state| match state {
                OutputState::Missing => "missing",
                OutputState::Damaged(_) => "damaged",
                OutputState::Healthy => "healthy",
                OutputState::NotRegular(_) => "not regular",
                OutputState::Unreadable(_) => "unreadable",
            })
            .collect();
        assert_eq!(kinds, ["damaged", "damaged", "not regular", "missing", "not regular"]);
        assert!(!serial.refused.is_empty() && !serial.temps.is_empty() && !serial.bad_checkpoints.is_empty());
        for threads in [2, 4] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let parallel = pool.install(|| ScanDirState::gather(&scan));
            assert_eq!(parallel.outputs, serial.outputs);
            assert_eq!(parallel.temps, serial.temps);
            assert_eq!(parallel.refused, serial.refused);
            assert_eq!(parallel.bad_checkpoints, serial.bad_checkpoints);
            assert_eq!(parallel.io_errors, serial.io_errors);
        }
    }

    /// [`last_foreign_change`] as it was: every file's time taken in turn, all sorted newest
    /// first, the first at or before `since` or foreign after it answers.
    fn serial_last_foreign_change(dir: &Path, since: SystemTime) -> Option<SystemTime> {
        let mut files = Vec::new();
        let mut it = walkdir::WalkDir::new(dir).follow_links(false).same_file_system(true).into_iter();
        while let Some(entry) = it.next() {
            let Ok(entry) = entry else { continue };
            if entry.file_type().is_dir()
                && entry.depth() > 0
                && entry.file_name() == crate::layout::state_names::STATE_DIR
            {
                it.skip_current_dir();
                continue;
            }
            let ours = layout::temp_names::recognise_file(&entry.file_name().to_string_lossy(), &|_| false)
                .is_some_and(|temp| temp.writer == layout::TempWriter::Scanaudit);
            if entry.file_type().is_file() && !ours {
                if let Some(modified) = entry.metadata().ok().and_then(|m| m.modified().ok()) {
                    files.push((modified, entry.into_path()));
                }
            }
        }
        files.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
        let own = OwnWrites::read(&[dir]);
        files.into_iter().find_map(|(modified, path)| (modified <= since || !own.wrote(&path)).then_some(modified))
    }

    /// The newest foreign change found with the files' times taken at once is the one a serial
    /// look finds, whatever `since` is: before every file, between them, on one, after all;
    /// scanaudit's state dir and temps, however new, and symlinks and dirs never count.
    #[test]
    fn last_foreign_change_answers_as_a_serial_look_does() {
        use std::time::Duration;
        let root = tempfile::tempdir().unwrap();
        let scan = mixed_scan(root.path());
        let at = |seconds: i64| filetime::FileTime::from_unix_time(1_700_000_000 + seconds, 0);
        let time = |seconds: i64| SystemTime::UNIX_EPOCH + Duration::from_secs((1_700_000_000 + seconds) as u64);
        let files: Vec<PathBuf> = walkdir::WalkDir::new(&scan)
            .into_iter()
            .map(|entry| entry.unwrap())
            .filter(|entry| entry.file_type().is_file())
            .map(walkdir::DirEntry::into_path)
            .collect();
        // Spread over 0..100 s, a few of them sharing a time.
        for (i, path) in files.iter().enumerate() {
            filetime::set_file_mtime(path, at((i as i64 * 37) % 100)).unwrap();
        }
        write(&scan.join(".scanaudit/backups/x/results.json"), "{}");
        write(&scan.join(".results.json.scanaudit-Ab12Cd.tmp"), "{}");
        for ours in [".scanaudit/backups/x/results.json", ".results.json.scanaudit-Ab12Cd.tmp"] {
            filetime::set_file_mtime(scan.join(ours), at(500)).unwrap();
        }
        std::os::unix::fs::symlink("nowhere", scan.join("results.json")).unwrap();
        filetime::set_symlink_file_times(scan.join("results.json"), at(600), at(600)).unwrap();
        for since in [-10, 0, 36, 37, 50, 99, 100, 1000] {
            let since = time(since);
            assert_eq!(last_foreign_change(&scan, since), serial_last_foreign_change(&scan, since), "{since:?}");
        }
        assert_eq!(last_foreign_change(&scan, time(0)), Some(time(99)));
        assert_eq!(last_foreign_change(&scan, time(1000)), Some(time(99)));
        let empty = root.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert_eq!(last_foreign_change(&empty, time(0)), None);
    }
}
