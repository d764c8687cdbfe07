//! `scanaudit check`: walk, classify every file, validate every JSON file in parallel, and
//! turn what was found into findings. Read-only.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use foldhash::{HashMap, HashSet};
use rayon::prelude::*;

use crate::cli::Format;
use crate::config::CheckConfig;
use crate::consistency::{self, FileFacts, Meta, Options, ScanDirView};
use crate::cp1252::{self, RawText, Sniffed, Verdict};
use crate::finding::{Finding, FindingKind, Level, Location};
use crate::layout::safe_filename::{checkpoint_file_name, is_checkpoint_name_for};
use crate::layout::{self, shape_for, CheckpointStep, Classified, FileKind, ScanDirIndex, TempName};
use crate::no_follow;
use crate::progress::Progress;
use crate::shape::{Captured, Captures, TopLevelKeys};
use crate::temps::{assess_temp, validate_temp, TargetState};
use crate::text::{
    clean_backups_command, clean_command, human_age, is_repair_command, migrate_command, repair_command, shell_quote,
};
use crate::validate::{self, Problem, Validation};
use crate::walk::{self, EntryType, Filters};

/// A temp file younger than this may belong to a write still in progress.
pub const TEMP_GRACE: Duration = Duration::from_secs(3600);

/// Everything `check` learned, before presentation.
#[derive(Debug)]
pub struct CheckOutcome {
    pub findings: Vec<Finding>,
    pub scan_dirs: usize,
    pub files: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    /// Some path could not be read: the audit is incomplete.
    pub incomplete: bool,
    /// Every file examined (the `files` counted), with its scan dir, in walk order: what
    /// `--format junit` makes a testcase of. Listed only when asked ([`Listing::Files`]):
    /// the other formats never read it, and making it was a copy of every path on check's
    /// serial end (issue 17).
    pub checked: Vec<CheckedFile>,
    /// The scan dirs the examined files belong to, sorted and each once.
    pub file_scan_dirs: Vec<PathBuf>,
    /// The scan dirs `--include`/`--exclude` left files out of, sorted: their cross-file
    /// rules were not run.
    pub narrowed: Vec<PathBuf>,
}

/// One file `check` examined, and the scan dir it belongs to (none: outside every scan dir).
#[derive(Debug, Clone)]
pub struct CheckedFile {
    pub path: PathBuf,
    pub scan_dir: Option<PathBuf>,
}

/// What the parallel phase learned about one file. Its path and scan dir are borrowed from
/// the walk and the index: copying them for every file was two allocations each in the
/// parallel phase, and comparing the copies a cache miss each on the serial end (issue 17).
#[derive(Debug)]
struct Examined<'w> {
    path: &'w Path,
    class: Classified,
    scan_dir: Option<&'w Path>,
    size: u64,
    /// When the content last changed. Deliberately not ctime: restoring a tree with `cp -a`
    /// or `rsync` resets ctime, and would make every abandoned temp look like a live write.
    modified: Option<SystemTime>,
    /// Permission bits.
    mode: u32,
    outcome: Result<Option<Validation>, String>,
    /// For a file OpenAnt writes as raw text whose bytes are not UTF-8: whether they are cp1252.
    code_page: Option<CodePage>,
}

/// What the bytes of a raw-text file that is not UTF-8 are (see [`crate::cp1252`]).
#[derive(Debug)]
enum CodePage {
    /// Decodes cleanly as cp1252 (into a healthy document, for JSON): `scanaudit migrate`
    /// re-encodes it.
    Cp1252,
    /// Decodes as cp1252 into a damaged document: repair's business.
    Cp1252Damaged(Problem),
    /// UTF-8 with damaged bytes: it holds valid multibyte characters, so it is not cp1252.
    DamagedUtf8,
    /// Not cp1252 either.
    Neither,
}

pub fn run(config: &CheckConfig, progress: &Progress) -> CheckOutcome {
    let listing = match config.output.format {
        Format::Junit => Listing::Files,
        _ => Listing::None,
    };
    audit(&config.roots, &config.filters, config.min_idle, config.now, progress, Teardown::Leak, listing)
}

/// Whether [`audit`] lists the files it examined in [`CheckOutcome::checked`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listing {
    Files,
    None,
}

/// What [`audit`] does with what it built and no longer needs (the walk, the index, every
/// file's validation and captures).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Teardown {
    /// Frees it: the process goes on (repair asks for the stale outputs of each scan dir).
    Free,
    /// Leaves it allocated: the `check` verb, whose process ends once the report is written,
    /// where freeing every path and capture one by one would only cost time.
    Leak,
}

/// The findings of check's cross-file rules that say an output of `scan_dir` parses but is
/// stale or inconsistent with the checkpoints (`output-stale`, `metrics-mismatch`,
/// `finding-id-gap`) and that `scanaudit repair` fixes: what repair rebuilds though nothing
/// is damaged. `min_idle` as for check.
pub fn stale_outputs(scan_dir: &Path, min_idle: Duration, now: SystemTime) -> Vec<Finding> {
    let outcome = audit(
        &[scan_dir.to_path_buf()],
        &Filters::default(),
        min_idle,
        now,
        &Progress::hidden(),
        Teardown::Free,
        Listing::None,
    );
    outcome
        .findings
        .into_iter()
        .filter(|f| {
            matches!(f.kind, FindingKind::OutputStale | FindingKind::MetricsMismatch | FindingKind::FindingIdGap)
        })
        .filter(|f| f.fix.as_deref().is_some_and(is_repair_command))
        .collect()
}

/// Audits `roots`: every file the walk sees through `filters`, and the cross-file rules on
/// every scan dir the filters left nothing out of.
fn audit(
    roots: &[PathBuf],
    filters: &Filters,
    min_idle: Duration,
    now: SystemTime,
    progress: &Progress,
    teardown: Teardown,
    listing: Listing,
) -> CheckOutcome {
    let started = Instant::now();
    progress.set_message("walking");
    let walked = walk::walk(roots, filters);

    let index = ScanDirIndex::build_in_parallel(&walked.entries, |e| {
        (e.path.as_path(), matches!(e.entry_type, EntryType::Dir | EntryType::TempDir))
    });
    // Every walked path, for the few names whose class depends on a sibling (a dotfile shaped
    // like an atomic-write temp, a `project.json` outside `projects/`): built the first time
    // one asks, which a healthy tree may never do. Built serially: the first asker is a rayon
    // worker, and rayon work inside the lock could run another classify job on the same thread,
    // which would wait on the lock it holds.
    let known_paths: OnceLock<HashSet<&Path>> = OnceLock::new();
    let is_known = |path: &Path| {
        known_paths.get_or_init(|| walked.entries.iter().map(|e| e.path.as_path()).collect()).contains(path)
    };

    let mut findings: Vec<Finding> = Vec::new();
    let mut incomplete = false;
    for error in &walked.errors {
        incomplete = true;
        findings.push(
            Finding::new(FindingKind::Unreadable, &error.path, format!("cannot read: {}", error.message))
                .scan_dir(index.scan_dir_of(&error.path).map(Path::to_path_buf))
                .file_kind(FileKind::Directory),
        );
    }

    // The files classified and examined in the parallel phase, gathered first so that phase
    // knows its length: rayon then writes each result into its place in one vector, where a
    // filtered iterator collected per-thread vectors and copied them together on this thread,
    // the whole of what was examined once more (issue 17).
    let mut jobs: Vec<&walk::Entry> = Vec::with_capacity(walked.entries.len());
    for entry in &walked.entries {
        let path = &entry.path;
        let scan_dir = || index.scan_dir_of(path).map(Path::to_path_buf);
        match entry.entry_type {
            EntryType::Dir => {
                if let Some(finding) = directory_finding(path, scan_dir(), &is_known) {
                    findings.push(finding);
                }
            }
            // Classified and examined in the parallel phase.
            EntryType::File | EntryType::TempDir => jobs.push(entry),
            EntryType::Symlink => findings.push(
                Finding::new(FindingKind::Symlink, path, symlink_message(path))
                    .scan_dir(scan_dir())
                    .file_kind(FileKind::Symlink),
            ),
            EntryType::Special => findings.push(
                Finding::new(
                    FindingKind::SpecialFile,
                    path,
                    "a FIFO, socket or device where scan data belongs; never opened",
                )
                .scan_dir(scan_dir())
                .file_kind(FileKind::SpecialFile),
            ),
            EntryType::BackupDir => {
                let owner = path.ancestors().nth(3).map(Path::to_path_buf);
                findings.push(
                    Finding::new(FindingKind::Backup, path, "scanaudit backup of files it replaced or moved")
                        .scan_dir(owner.clone())
                        .file_kind(FileKind::Backup)
                        .fix(owner.as_deref().map(clean_backups_command)),
                );
            }
        }
    }

    progress.start_files(jobs.len() as u64);
    // Besides its file, each job notes what this thread must turn into findings (what the file
    // alone tells, a read error, a temp), which a healthy tree rarely has, and tallies what
    // every file adds (its bytes, its scan dir): this thread then goes through those notes
    // only, not through every file once more (issue 17).
    let tally = Tally::default();
    let examined: Vec<Examined> = jobs
        .par_iter()
        .enumerate()
        .map_init(
            || Worker::new(&tally),
            |worker, (at, &entry)| {
                let path = entry.path.as_path();
                let scan_dir = worker.last.scan_dir_of(&index, path);
                let class = match entry.entry_type {
                    EntryType::TempDir => Classified {
                        kind: FileKind::Temp,
                        checkpoint_step: None,
                        temp: layout::temp_names::recognise_dir(&layout::file_name(path)),
                    },
                    _ => {
                        let parent = path.parent().unwrap_or(Path::new(""));
                        let sibling_exists = |name: &str| is_known(&parent.join(name));
                        layout::classify_file(path, scan_dir, &sibling_exists)
                    }
                };
                let file = examine(path, class, scan_dir);
                let note = match (&file.outcome, file.class.kind == FileKind::Temp) {
                    (Err(message), _) => Some(Note::Unreadable(
                        Finding::new(FindingKind::Unreadable, file.path, format!("cannot read: {message}"))
                            .scan_dir(file.scan_dir.map(Path::to_path_buf))
                            .file_kind(file.class.kind),
                    )),
                    (Ok(_), true) => Some(Note::Temp),
                    (Ok(Some(validation)), false) => {
                        Some(file_findings(&file, validation)).filter(|f| !f.is_empty()).map(Note::Findings)
                    }
                    (Ok(None), false) => None,
                };
                worker.add(&file, at, note);
                progress.inc();
                file
            },
        )
        .collect();
    progress.finish();

    let Tally { bytes, runs, scan_metas, notes } = tally;
    let bytes = bytes.into_inner();
    let runs = runs_of(&examined, into_inner(runs));
    let file_scan_dirs: BTreeSet<&Path> = runs.iter().filter_map(|run| run[0].scan_dir).collect();
    let mut scan_metas = into_inner(scan_metas);
    scan_metas.sort_unstable();
    let scan_metas: Vec<&Examined> = scan_metas.into_iter().map(|at| &examined[at]).collect();
    let mut notes = into_inner(notes);
    notes.sort_unstable_by_key(|(at, _)| *at);
    let files = examined.len() as u64;
    // A temp's finding looks at its target: the map is only built when there is a temp.
    let by_path: HashMap<&Path, &Examined> = match notes.iter().any(|(_, note)| matches!(note, Note::Temp)) {
        true => examined.iter().map(|e| (e.path, e)).collect(),
        false => HashMap::default(),
    };
    for (at, note) in notes {
        match note {
            Note::Findings(own) => findings.extend(own),
            Note::Unreadable(finding) => {
                incomplete = true;
                findings.push(finding);
            }
            Note::Temp => {
                let file = &examined[at];
                let validation = file.outcome.as_ref().ok().and_then(Option::as_ref);
                findings.push(temp_finding(file, validation, &by_path, now));
            }
        }
    }

    // Every scan dir holding something the filters left out, however deep: its view is not
    // whole. A filter that leaves nothing out (`--exclude nonexistent`) narrows nothing.
    let narrowed: HashSet<&Path> =
        walked.left_out.iter().flat_map(|path| path.ancestors().skip(1)).filter(|a| index.contains(a)).collect();
    progress.set_message("cross-checking");
    findings.extend(cross_check(
        roots,
        &narrowed,
        &walked.entries,
        &index,
        &runs,
        &scan_metas,
        &Options { min_idle, now },
    ));
    let mut narrowed: Vec<PathBuf> = narrowed.into_iter().map(Path::to_path_buf).collect();
    narrowed.sort();

    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    drop(by_path);
    let checked = match listing {
        Listing::Files => examined
            .iter()
            .map(|e| CheckedFile { path: e.path.to_path_buf(), scan_dir: e.scan_dir.map(Path::to_path_buf) })
            .collect(),
        Listing::None => Vec::new(),
    };
    let file_scan_dirs: Vec<PathBuf> = file_scan_dirs.into_iter().map(Path::to_path_buf).collect();
    let scan_dirs = index.len();
    if teardown == Teardown::Leak {
        std::mem::forget(examined);
        std::mem::forget(known_paths);
        std::mem::forget(index);
        std::mem::forget(walked);
    }
    CheckOutcome {
        findings,
        scan_dirs,
        files,
        bytes,
        elapsed: started.elapsed(),
        incomplete,
        checked,
        file_scan_dirs,
        narrowed,
    }
}

/// What a file of the parallel phase leaves for check's own thread to do.
enum Note {
    /// What the file alone tells ([`file_findings`]), when it tells something.
    Findings(Vec<Finding>),
    /// It could not be read: the finding, and the audit is incomplete.
    Unreadable(Finding),
    /// A temp, whose finding looks at its target among the other files ([`temp_finding`]).
    Temp,
}

/// What the parallel phase adds up over every file: what each [`Worker`] gathered, handed
/// over once as it is dropped.
#[derive(Default)]
struct Tally<'w> {
    bytes: AtomicU64,
    /// Where each run of files of one scan dir (or of none) starts, in walk order: where a
    /// job starts, and where the scan dir changes within it ([`runs_of`] joins them).
    runs: Mutex<Vec<(usize, Option<&'w Path>)>>,
    /// The places of the `meta.json` files (`FileKind::ScanMeta`), which the cross-file rules
    /// look up by path.
    scan_metas: Mutex<Vec<usize>>,
    /// Each file's [`Note`], by its place in walk order.
    notes: Mutex<Vec<(usize, Note)>>,
}

/// One job of the parallel phase (rayon's `map_init` state, a run of files in walk order):
/// what it gathers goes into the [`Tally`] when rayon drops it, the job done.
struct Worker<'t, 'w> {
    tally: &'t Tally<'w>,
    last: ScanDirOfParent<'w>,
    bytes: u64,
    /// The place and scan dir of the last file added.
    previous: Option<(usize, Option<&'w Path>)>,
    runs: Vec<(usize, Option<&'w Path>)>,
    scan_metas: Vec<usize>,
    notes: Vec<(usize, Note)>,
}

impl<'t, 'w> Worker<'t, 'w> {
    fn new(tally: &'t Tally<'w>) -> Worker<'t, 'w> {
        Worker {
            tally,
            last: ScanDirOfParent::default(),
            bytes: 0,
            previous: None,
            runs: Vec::new(),
            scan_metas: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Counts the `at`th file of the walk.
    fn add(&mut self, file: &Examined<'w>, at: usize, note: Option<Note>) {
        self.bytes += file.size;
        let goes_on = self.previous.is_some_and(|(before, dir)| before + 1 == at && same_dir(dir, file.scan_dir));
        if !goes_on {
            self.runs.push((at, file.scan_dir));
        }
        self.previous = Some((at, file.scan_dir));
        if file.class.kind == FileKind::ScanMeta {
            self.scan_metas.push(at);
        }
        if let Some(note) = note {
            self.notes.push((at, note));
        }
    }
}

impl Drop for Worker<'_, '_> {
    fn drop(&mut self) {
        self.tally.bytes.fetch_add(self.bytes, Ordering::Relaxed);
        locked(&self.tally.runs).append(&mut self.runs);
        locked(&self.tally.scan_metas).append(&mut self.scan_metas);
        locked(&self.tally.notes).append(&mut self.notes);
    }
}

/// Whether two scan dirs of files are the same. Every one is the index's one copy of its
/// path: the same dir, the same pointer.
fn same_dir(a: Option<&Path>, b: Option<&Path>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => std::ptr::eq(a, b),
        (a, b) => a.is_none() && b.is_none(),
    }
}

/// `examined` cut into runs of files of one scan dir (or of none), in walk order, at the
/// places in `starts` ([`Tally::runs`]): a place whose scan dir is the one before it goes on
/// the run before.
fn runs_of<'a, 'w>(
    examined: &'a [Examined<'w>],
    mut starts: Vec<(usize, Option<&'w Path>)>,
) -> Vec<&'a [Examined<'w>]> {
    starts.sort_unstable_by_key(|(at, _)| *at);
    starts.dedup_by(|(_, dir), (_, before)| same_dir(*dir, *before));
    let ends = starts.iter().skip(1).map(|(at, _)| *at).chain([examined.len()]);
    starts.iter().zip(ends).map(|((start, _), end)| &examined[*start..end]).collect()
}

/// A lock's guard, poisoned or not: a job that panicked fails the whole phase anyway, and a
/// drop must not panic while it unwinds.
fn locked<T>(lock: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(PoisonError::into_inner)
}

fn into_inner<T>(lock: Mutex<T>) -> T {
    lock.into_inner().unwrap_or_else(PoisonError::into_inner)
}

/// [`ScanDirIndex::scan_dir_of`] for paths in walk order, where a directory's files come one
/// after another: the answer depends on the parent alone, so it is kept for the next file of
/// the same directory instead of looked up again (three path hashes per file).
#[derive(Default)]
struct ScanDirOfParent<'a> {
    last: Option<(&'a [u8], Option<&'a Path>)>,
}

impl<'a> ScanDirOfParent<'a> {
    fn scan_dir_of(&mut self, index: &'a ScanDirIndex, path: &'a Path) -> Option<&'a Path> {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        // The bytes before the last `/` name the parent when what follows is a plain name
        // (not empty, `.` or `..`): two such paths with the same bytes there share the parent.
        let parent = bytes
            .iter()
            .rposition(|&b| b == b'/')
            .filter(|&slash| !matches!(&bytes[slash + 1..], b"" | b"." | b".."))
            .map(|slash| &bytes[..slash]);
        let Some(parent) = parent else { return index.scan_dir_of(path) };
        match self.last {
            Some((last, scan_dir)) if last == parent => scan_dir,
            _ => {
                let scan_dir = index.scan_dir_of(path);
                self.last = Some((parent, scan_dir));
                scan_dir
            }
        }
    }
}

/// Runs the cross-file rules on every scan dir the walk saw whole: at or below a root (a
/// single file given as root is checked alone) and not `narrowed` by --include/--exclude.
fn cross_check<'a>(
    roots: &[PathBuf],
    narrowed: &HashSet<&Path>,
    entries: &[walk::Entry],
    index: &ScanDirIndex,
    runs: &[&'a [Examined<'a>]],
    scan_metas: &[&'a Examined<'a>],
    options: &Options,
) -> Vec<Finding> {
    let whole = |dir: &Path| roots.iter().any(|root| dir.starts_with(root)) && !narrowed.contains(dir);
    let mut views: HashMap<&Path, ScanDirView> = HashMap::default();
    for dir in index.iter().filter(|d| whole(d)) {
        views.insert(
            dir,
            ScanDirView { dir, files: Vec::new(), dirs: Vec::new(), meta: Meta::Absent, scan_meta: Meta::Absent },
        );
    }
    // A scan dir's files come in runs (one, unless something outside it sits between): each is
    // looked up once here (this loop is serial; issue 17), and its facts are made in the
    // parallel phase below, each view's by the job that checks it.
    let mut runs_of_dir: HashMap<&Path, Vec<&[Examined]>> = HashMap::default();
    for &run in runs {
        let Some(dir) = run[0].scan_dir.and_then(|d| views.get_key_value(d)).map(|(dir, _)| *dir) else {
            continue;
        };
        runs_of_dir.entry(dir).or_default().push(run);
    }
    for entry in entries.iter().filter(|e| e.entry_type == EntryType::Dir) {
        if let Some(view) = index.scan_dir_of(&entry.path).and_then(|d| views.get_mut(d)) {
            view.dirs.push(&entry.path);
        }
    }
    // meta.json sits in the run dir, above the scan dir (or in it, before the language
    // level). When the walk did not reach it (a scan dir given as root), it is read here:
    // a few hundred bytes, once.
    let by_path: HashMap<&Path, &Examined> = scan_metas.iter().map(|e| (e.path, *e)).collect();
    let mut outside: HashMap<PathBuf, Option<Validation>> = HashMap::default();
    let meta_path = |dir: &Path| -> Option<PathBuf> {
        let parent = dir.parent()?;
        if layout::file_name(parent) == "scans" {
            return Some(dir.join("meta.json"));
        }
        (parent.parent().map(layout::file_name).as_deref() == Some("scans")).then(|| parent.join("meta.json"))
    };
    for view in views.values() {
        if let Some(path) = meta_path(view.dir).filter(|p| !by_path.contains_key(p.as_path())) {
            let validation = match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_file() => validate::validate_file(&path, shape_for(FileKind::ScanMeta, None)).ok(),
                _ => None,
            };
            let present = validation.is_some() || std::fs::symlink_metadata(&path).is_ok();
            if present {
                outside.insert(path, validation);
            }
        }
    }
    for view in views.values_mut() {
        // Since #664 a language-level scan dir has its own meta.json; the walk saw it with the
        // scan dir's files.
        let own = view.dir.join("meta.json");
        if meta_path(view.dir).as_deref() != Some(own.as_path()) {
            if let Some(file) = by_path.get(own.as_path()) {
                view.scan_meta = Meta::Present(match &file.outcome {
                    Ok(Some(v)) if v.is_valid() => Some(&v.captures),
                    _ => None,
                });
            }
        }
        let Some(path) = meta_path(view.dir) else { continue };
        view.meta = if let Some(file) = by_path.get(path.as_path()) {
            Meta::Present(match &file.outcome {
                Ok(Some(v)) if v.is_valid() => Some(&v.captures),
                _ => None,
            })
        } else if let Some(validation) = outside.get(&path) {
            Meta::Present(validation.as_ref().filter(|v| v.is_valid()).map(|v| &v.captures))
        } else {
            Meta::Absent
        };
    }
    let views: Vec<(ScanDirView, Vec<&[Examined]>)> = views
        .into_values()
        .map(|view| {
            let runs = runs_of_dir.remove(view.dir).unwrap_or_default();
            (view, runs)
        })
        .collect();
    views
        .into_par_iter()
        .flat_map_iter(|(mut view, runs)| {
            view.files = file_facts(view.dir, &runs);
            consistency::check_scan_dir(&view, options)
        })
        .collect()
}

/// The facts the cross-file rules read of a scan dir's files, from its runs of them in walk
/// order.
fn file_facts<'a>(dir: &Path, runs: &[&'a [Examined<'a>]]) -> Vec<FileFacts<'a>> {
    let mut files = Vec::with_capacity(runs.iter().map(|run| run.len()).sum());
    for file in runs.iter().copied().flatten() {
        // Below the scan dir, by bytes (component-wise Path comparisons are slow at 100k
        // files). Names that are not UTF-8 are none of OpenAnt's, and stay out of the view.
        let Some(rel) = relative(dir, file.path) else { continue };
        let validation = match &file.outcome {
            Ok(Some(v)) => Some(v),
            _ => None,
        };
        files.push(FileFacts {
            path: file.path,
            rel,
            kind: file.class.kind,
            step: file.class.checkpoint_step,
            modified: file.modified,
            mode: file.mode,
            validation,
            cp1252: matches!(file.code_page, Some(CodePage::Cp1252)),
        });
    }
    files
}

/// `path` below `dir` as text, when `path` is strictly below it and the rest is UTF-8.
fn relative<'p>(dir: &Path, path: &'p Path) -> Option<&'p str> {
    use std::os::unix::ffi::OsStrExt;
    let rest = path.as_os_str().as_bytes().strip_prefix(dir.as_os_str().as_bytes())?;
    let rest = rest.strip_prefix(b"/").filter(|r| !r.is_empty())?;
    std::str::from_utf8(rest).ok()
}

/// Why a directory stands where OpenAnt reads and writes one of its files: check reports it
/// (`special-file`) and repair leaves it alone, in these words.
pub fn directory_in_place_of_file(name: &str) -> String {
    format!(
        "a directory where OpenAnt expects its {name} file: OpenAnt can neither read nor replace it, \
         and scanaudit never opens or removes it (move it aside by hand)"
    )
}

/// A `special-file` finding for a directory named like a file OpenAnt reads (`results.json`,
/// a checkpoint, a step report), inside a scan dir.
fn directory_finding(path: &Path, scan_dir: Option<PathBuf>, is_known: &dyn Fn(&Path) -> bool) -> Option<Finding> {
    let name = layout::file_name(path);
    if scan_dir.is_none() || !name.ends_with(".json") {
        return None;
    }
    let parent = path.parent().unwrap_or(Path::new(""));
    let sibling_exists = |n: &str| is_known(&parent.join(n));
    let class = layout::classify_file(path, scan_dir.as_deref(), &sibling_exists);
    if matches!(class.kind, FileKind::Other | FileKind::GenericJson | FileKind::Temp | FileKind::Backup) {
        return None;
    }
    Some(
        Finding::new(FindingKind::SpecialFile, path, directory_in_place_of_file(&name))
            .scan_dir(scan_dir)
            .file_kind(FileKind::Directory),
    )
}

fn symlink_message(path: &Path) -> String {
    match std::fs::read_link(path) {
        Ok(target) => format!("symlink to {}; scanaudit never follows symlinks", target.display()),
        Err(_) => "symlink; scanaudit never follows symlinks".into(),
    }
}

/// Stats and validates one file. Never panics; I/O errors become `Err(message)`. A JSON file
/// (the walk saw a regular file) is opened once and stat-ed once, through the open handle
/// (see [`no_follow::open_listed_regular`]).
fn examine<'w>(path: &'w Path, class: Classified, scan_dir: Option<&'w Path>) -> Examined<'w> {
    use std::os::unix::fs::PermissionsExt;
    let mut size = 0;
    let mut modified = None;
    let mut mode = 0;
    let mut opened: Option<std::fs::File> = None;
    let mut stat = |meta: &std::fs::Metadata| {
        size = if meta.is_file() { meta.len() } else { 0 };
        modified = meta.modified().ok();
        mode = meta.permissions().mode() & 0o7777;
    };
    let outcome = if class.kind.is_json() {
        no_follow::open_listed_regular(path)
            .and_then(|(file, st)| {
                size = st.st_size as u64;
                modified = mtime(&st);
                mode = st.st_mode & 0o7777;
                let shape = shape_for(class.kind, class.checkpoint_step);
                // compact drops the top-level keys of most kinds: they need not be recorded.
                let keys = match consistency::keeps_top_level_keys(class.kind) {
                    true => TopLevelKeys::Recorded,
                    false => TopLevelKeys::Unwanted,
                };
                let mut validation = validate::validate_open_len_keys(file, size, shape, keys)?;
                consistency::compact(class.kind, &mut validation.captures);
                Ok(validation)
            })
            .map(Some)
    } else {
        // A Markdown report a scan dir owns is sniffed below: opened once here, as a JSON file
        // is, its `fstat` standing for the `lstat`. Any failure takes the path every other file
        // takes, so what is reported for it stays the same.
        let sniffed = scan_dir.is_some() && matches!(RawText::of(class.kind, path), Some(RawText::Markdown));
        match sniffed.then(|| no_follow::open_listed_regular(path).ok()).flatten() {
            Some((file, st)) => {
                size = st.st_size as u64;
                modified = mtime(&st);
                mode = st.st_mode & 0o7777;
                opened = Some(file);
                Ok(None)
            }
            None => std::fs::symlink_metadata(path).and_then(|meta| {
                stat(&meta);
                match class.kind {
                    FileKind::Temp => validate_temp(path, &class, &|p: &Path| no_follow::open_regular(p)),
                    _ => Ok(None),
                }
            }),
        }
    };
    let code_page = match (&outcome, RawText::of(class.kind, path)) {
        (Ok(Some(v)), Some(RawText::Json(kind)))
            if v.problem.as_ref().is_some_and(|p| p.kind == FindingKind::InvalidUtf8) =>
        {
            code_page_of_json(path, kind, size)
        }
        // Markdown is not validated, only sniffed, and only where a scan dir owns it. A file
        // that cannot be read is left alone, as check always has for files it does not parse.
        (Ok(None), Some(RawText::Markdown)) if scan_dir.is_some() => {
            let file = match opened.take() {
                Some(file) => Ok(file),
                None => no_follow::open_regular(path),
            };
            match file.and_then(cp1252::sniff) {
                Ok(Sniffed::Cp1252) => Some(CodePage::Cp1252),
                _ => None,
            }
        }
        _ => None,
    };
    let outcome = outcome.map_err(|e| e.to_string());
    Examined { path, class, scan_dir, size, modified, mode, outcome, code_page }
}

/// The modification time in an `fstat`'s answer.
fn mtime(st: &libc::stat) -> Option<SystemTime> {
    let seconds = Duration::from_secs(st.st_mtime.unsigned_abs());
    let whole = match st.st_mtime >= 0 {
        true => SystemTime::UNIX_EPOCH.checked_add(seconds),
        false => SystemTime::UNIX_EPOCH.checked_sub(seconds),
    };
    whole?.checked_add(Duration::from_nanos(u64::try_from(st.st_mtime_nsec).ok()?))
}

/// Reads a raw JSON output that is not UTF-8 again (rare: only Windows-era and damaged files)
/// and judges its bytes as `migrate` does. One too large to hold is only sniffed.
fn code_page_of_json(path: &Path, kind: FileKind, size: u64) -> Option<CodePage> {
    use std::io::Read;
    let mut file = no_follow::open_regular(path).ok()?;
    if size > validate::IN_MEMORY_LIMIT {
        return match cp1252::sniff(&mut file).ok()? {
            Sniffed::Cp1252 => Some(CodePage::Cp1252),
            _ => Some(CodePage::Neither),
        };
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    match cp1252::judge(&bytes, RawText::Json(kind), shape_for(kind, None)) {
        Verdict::Convert(_) => Some(CodePage::Cp1252),
        Verdict::Damaged(problem) => Some(CodePage::Cp1252Damaged(problem)),
        Verdict::Undefined(_) => Some(CodePage::Neither),
        Verdict::DamagedUtf8 { .. } => Some(CodePage::DamagedUtf8),
        // Changed since it was validated.
        Verdict::Utf8 => None,
    }
}

fn file_findings(file: &Examined, validation: &Validation) -> Vec<Finding> {
    let scan_dir = file.scan_dir.map(Path::to_path_buf);
    if let Some(problem) = &validation.problem {
        let Problem { kind, location, message } = problem;
        let mut message = format!("{}: {message}", file.class.kind.describe());
        let mut fix = fix_for_damage(file);
        match &file.code_page {
            Some(CodePage::Cp1252) => {
                message.push_str(
                    "; it is cp1252 text from a Windows scan before 3cdca87, which current OpenAnt cannot read",
                );
                fix = scan_dir.as_deref().map(migrate_command);
            }
            Some(CodePage::Cp1252Damaged(damage)) => message.push_str(&format!(
                "; it decodes as cp1252 (written on Windows before 3cdca87) but is damaged besides: {}: {}",
                damage.kind, damage.message
            )),
            Some(CodePage::DamagedUtf8) => message.push_str(
                "; the rest of the file is UTF-8 (it holds valid multibyte characters), so these are damaged bytes, not a Windows code page",
            ),
            Some(CodePage::Neither) | None => {}
        }
        match file.class.kind {
            FileKind::CheckpointFingerprint => message.push_str(&fingerprint_damage_note(file)),
            FileKind::ResultsArchive | FileKind::SupersededCheckpoint => message.push_str(
                "; it is an archive today's OpenAnt left on purpose and never reads again: nothing depends on it, and no command rebuilds it",
            ),
            _ => {}
        }
        return vec![Finding::new(*kind, file.path, message)
            .scan_dir(scan_dir.clone())
            .file_kind(file.class.kind)
            .location(*location)
            .fix(fix)];
    }
    let mut findings = unknown_era_findings(file, &validation.captures);
    match file.class.kind {
        FileKind::Checkpoint => findings.extend(checkpoint_id_findings(file, &validation.captures)),
        FileKind::CheckpointFingerprint if findings.is_empty() => {
            findings.extend(fingerprint_key_findings(file, &validation.captures))
        }
        _ => {}
    }
    findings
}

/// A file whose content carries a marker no known OpenAnt writes (`era::content_markers`:
/// an output key or metric, a step status, a sidecar scheme): a newer OpenAnt than scanaudit
/// knows wrote it. Not damage (info); the rules that depend on its era skip it.
fn unknown_era_findings(file: &Examined, captures: &Captures) -> Vec<Finding> {
    // Only what each marker is goes into the message (the finding names the file by its path),
    // so no per-file relative path is built on this path every file takes.
    let markers = crate::era::content_markers(file.class.kind, "", captures);
    let unknown: Vec<String> = markers.iter().filter(|m| m.unknown()).map(|m| m.what.clone()).collect();
    if unknown.is_empty() {
        return Vec::new();
    }
    let message = format!(
        "{}: written by a newer OpenAnt than scanaudit knows: {}; upgrade scanaudit (the rules that depend on this file's format are skipped for it)",
        file.class.kind.describe(),
        unknown.join(", ")
    );
    vec![Finding::new(FindingKind::UnknownEra, file.path, message)
        .scan_dir(file.scan_dir.map(Path::to_path_buf))
        .file_kind(file.class.kind)]
}

/// What a damaged identity sidecar means (identity-gate era, `core/checkpoint.py`
/// `sync_identity`): not a repair rebuild, because its `key_digest` covers the model and
/// prompt settings the checkpoints were made with, which no other file records.
fn fingerprint_damage_note(file: &Examined) -> String {
    let dir = file.path.parent().map(layout::file_name).unwrap_or_default();
    let verb = file.class.checkpoint_step.and_then(CheckpointStep::openant_verb).unwrap_or("scan");
    format!(
        "; {} treats a corrupt sidecar as an identity mismatch: the next `openant {verb}` moves all of {dir}/ aside to {dir}.superseded-<hex> (kept, never read again) and redoes, paying again, every unit. scanaudit cannot rebuild it (its key_digest covers the model and prompt settings these checkpoints were made with). If those settings are unchanged, moving the torn sidecar out of {dir}/ instead makes OpenAnt adopt the checkpoints as legacy and write a new one",
        crate::era::Era::IdentityGate.describe()
    )
}

/// A scheme-2 sidecar must hold that scheme's keys (scheme 1's exact key set is not recorded,
/// so a scheme-1 sidecar is held to its shape only).
fn fingerprint_key_findings(file: &Examined, captures: &Captures) -> Vec<Finding> {
    let scheme = captures.get(layout::shapes::tag::SCHEME_VERSION).and_then(Captured::as_f64);
    if scheme != Some(crate::era::FINGERPRINT_SCHEME_WITH_KNOWN_KEYS as f64) {
        return Vec::new();
    }
    let missing: Vec<&str> = layout::shapes::FINGERPRINT_V2_KEYS
        .iter()
        .copied()
        .filter(|k| !captures.top_level_keys.iter().any(|have| have == k))
        .collect();
    if missing.is_empty() {
        return Vec::new();
    }
    let keys: Vec<String> = missing.iter().map(|k| format!("\"{k}\"")).collect();
    let message = format!(
        "{}: $: missing required {} {} of scheme_version 2{}",
        file.class.kind.describe(),
        if missing.len() == 1 { "key" } else { "keys" },
        keys.join(", "),
        fingerprint_damage_note(file)
    );
    vec![Finding::new(FindingKind::Schema, file.path, message)
        .scan_dir(file.scan_dir.map(Path::to_path_buf))
        .file_kind(file.class.kind)
        .fix(fix_for_damage(file))]
}

/// `id` must be present, a string, and name the file (spec §2.2).
fn checkpoint_id_findings(file: &Examined, captures: &Captures) -> Vec<Finding> {
    let finding = |kind, message: String| {
        Finding::new(kind, file.path, message)
            .scan_dir(file.scan_dir.map(Path::to_path_buf))
            .file_kind(FileKind::Checkpoint)
    };
    let fix_repair = || file.scan_dir.map(repair_command);
    match captures.get("id") {
        None => vec![finding(
            FindingKind::CheckpointMissingId,
            "checkpoint has no \"id\": OpenAnt cannot tell which unit it belongs to and redoes the unit".into(),
        )
        .fix(fix_repair())],
        Some(Captured::Str(id)) => {
            let actual = layout::file_name(file.path);
            if is_checkpoint_name_for(&actual, id) {
                return Vec::new();
            }
            let expected = checkpoint_file_name(id);
            let sibling = file.path.with_file_name(&expected);
            let (message, fix) = if crate::no_follow::is_present(&sibling) {
                (
                    format!("holds unit \"{id}\", whose checkpoint is {expected}, which also exists: two unit ids collide, or this is a copy that OpenAnt may load instead of the real one"),
                    fix_repair(),
                )
            } else {
                (
                    format!("holds unit \"{id}\", which OpenAnt names {expected}"),
                    Some(format!("mv -n {} {}", shell_quote(file.path), shell_quote(&sibling))),
                )
            };
            vec![finding(FindingKind::CheckpointNameMismatch, message).fix(fix)]
        }
        Some(other) => vec![finding(
            FindingKind::Schema,
            format!("checkpoint: $.id: expected a string, found {}", other.json_type().name()),
        )
        .fix(fix_repair())],
    }
}

fn temp_finding(
    file: &Examined,
    validation: Option<&Validation>,
    by_path: &HashMap<&Path, &Examined>,
    now: SystemTime,
) -> Finding {
    let temp: &TempName = file.class.temp.as_ref().expect("temp files carry their name");
    let age = file.modified.and_then(|t| now.duration_since(t).ok());
    let young = age.is_none_or(|age| age < TEMP_GRACE);
    let dir = file.path.parent().unwrap_or(Path::new("."));
    let fix_dir = file.scan_dir.unwrap_or(dir);

    let assessment = assess_temp(temp, file.path, validation, &|name| {
        let target_path = dir.join(name);
        match by_path.get(target_path.as_path()) {
            None => TargetState::Missing,
            Some(t) => TargetState::of(&t.outcome),
        }
    });

    let mut message = format!("left by {}", temp.writer.describe());
    message.push_str(&assessment.writing());
    if let Some(age) = age {
        message.push_str(&format!(", {} ago", human_age(age)));
    }
    message.push_str(&format!("; {}", assessment.content));
    let fix = if assessment.salvageable() {
        message.push_str(&format!(" and {}", assessment.salvage_note()));
        repair_command(fix_dir)
    } else {
        if let (Some(name), Some(TargetState::Healthy)) = (assessment.target.as_deref(), assessment.target_state) {
            message.push_str(&format!("; {name} is intact"));
        }
        if let Some(note) = assessment.not_promoted_note() {
            message.push_str(&format!("; {note}"));
        }
        clean_command(dir)
    };
    let level = if young {
        message.push_str(" (younger than an hour: a write may still be in progress)");
        Level::Info
    } else {
        Level::Warn
    };
    Finding::new(FindingKind::StrayTemp, file.path, message)
        .level(level)
        .scan_dir(file.scan_dir.map(Path::to_path_buf))
        .file_kind(FileKind::Temp)
        .location(None::<Location>)
        .fix(Some(fix))
}

/// The next command for a damaged file (design.md "Findings").
fn fix_for_damage(file: &Examined) -> Option<String> {
    let scan_dir = file.scan_dir;
    let repair = || scan_dir.map(repair_command);
    let kind = file.class.kind;
    if kind.is_rebuildable() {
        return scan_dir.map(|dir| consistency::fix_for_output(dir, kind));
    }
    if kind == FileKind::Checkpoint {
        return repair();
    }
    let verb = match kind {
        FileKind::Dataset | FileKind::AnalyzerOutput | FileKind::CallGraph | FileKind::DiffFilterReport => "parse",
        FileKind::ApplicationContext => "generate-context",
        FileKind::LlmReachability | FileKind::ScanMeta | FileKind::DiffManifest => "scan",
        FileKind::Project => "init",
        FileKind::CheckpointSummary | FileKind::CheckpointFingerprint => {
            file.class.checkpoint_step.and_then(|s| s.openant_verb())?
        }
        FileKind::StepReport => {
            let name = layout::file_name(file.path);
            let step = name.strip_suffix(".report.json").unwrap_or(&name).to_string();
            return layout::STEP_NAMES.contains(&step.as_str()).then(|| format!("openant {step}"));
        }
        _ => return None,
    };
    Some(format!("openant {verb}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_scan_dir_is_the_one_the_index_gives() {
        let entries: Vec<(PathBuf, bool)> = vec![
            ("p/scans/abc/python".into(), true),
            ("p/scans/abc/python/analyze_checkpoints/a.json".into(), false),
            ("q/out/results.json".into(), false),
        ];
        let index = ScanDirIndex::build(entries.iter().map(|(p, d)| (p.as_path(), *d)));
        let paths: Vec<PathBuf> = [
            "p/scans/abc/python/analyze_checkpoints/a.json",
            "p/scans/abc/python/analyze_checkpoints/b.json",
            "p/scans/abc/python/results.json",
            "p/scans/abc/python/report/disclosures/x.md",
            "p/scans/abc/python/report/disclosures/..",
            "p/scans/abc/python/report/.",
            "p/scans/abc/python/report/",
            "q/out/results.json",
            "q/out/x/",
            "q/out/x",
            "results.json",
            "v/notes.json",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let mut kept = ScanDirOfParent::default();
        for path in &paths {
            assert_eq!(kept.scan_dir_of(&index, path), index.scan_dir_of(path), "{}", path.display());
        }
    }
}
