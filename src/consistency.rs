//! Cross-file rules per scan dir (spec/openant-layout.md §2.4, §2.5, §2.7, §9): a file can
//! parse perfectly and still be wrong for its scan. The rules read only what the one
//! validating parse of each file captured (ids, verdicts, counters: see `layout::shapes::tag`)
//! plus file names, mtimes and modes; no file is read a second time.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

// foldhash, not std's SipHash: the id sets and the top-level file map are built and probed
// for every scan dir, keyed by unit ids and names read from the files (issue 17). Nothing
// here depends on their iteration order, which std randomises per process too.
use foldhash::{HashMap, HashSet};

use crate::captures::{Captured, Captures, RowKind, Rows};
use crate::era::{DirEra, Era};
use crate::finding::{Finding, FindingKind, Level};
use crate::layout::safe_filename::checkpoint_file_name;
use crate::layout::shapes::{tag, RESULT_ROWS};
use crate::layout::{file_name, CheckpointStep, FileKind, STEP_NAMES};
use crate::text::{brief_list, brief_list_of, human_age, migrate_command, plural, repair_command, SHOWN_IDS};
use crate::validate::Validation;

/// Slack when comparing mtimes with each other and with recorded timestamps: copies and
/// coarse filesystem clocks move mtimes by a little.
const MTIME_SLACK: Duration = Duration::from_secs(2);

/// What the walk and the one parse learned about one file of a scan dir.
#[derive(Debug, Clone, Copy)]
pub struct FileFacts<'a> {
    pub path: &'a Path,
    /// The path below the scan dir (`results.json`, `analyze_checkpoints/x.json`).
    pub rel: &'a str,
    pub kind: FileKind,
    pub step: Option<CheckpointStep>,
    pub modified: Option<SystemTime>,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// The validation of a JSON file that could be read; `None` for other files.
    pub validation: Option<&'a Validation>,
    /// A file OpenAnt wrote as raw text (see [`crate::cp1252::RawText`]) in cp1252, that
    /// `scanaudit migrate` re-encodes as UTF-8.
    pub cp1252: bool,
}

impl<'a> FileFacts<'a> {
    /// Directly in the scan dir.
    fn top_level(&self) -> bool {
        !self.rel.contains('/')
    }

    /// The directory directly in the scan dir that holds it (`analyze_checkpoints`), if it
    /// sits one level down.
    fn subdir(&self) -> Option<&'a str> {
        let (dir, rest) = self.rel.split_once('/')?;
        (!rest.contains('/')).then_some(dir)
    }

    /// The captures of a file that parsed and had its shape.
    fn captures(&self) -> Option<&'a Captures> {
        self.validation.filter(|v| v.is_valid()).map(|v| &v.captures)
    }
}

/// `meta.json` of the scan's run dir, where the scan dir has one.
#[derive(Debug, Clone, Copy)]
pub enum Meta<'a> {
    Absent,
    /// Present; its captures when it parsed and had its shape.
    Present(Option<&'a Captures>),
}

impl<'a> Meta<'a> {
    fn captures(&self) -> Option<&'a Captures> {
        match self {
            Meta::Present(c) => *c,
            Meta::Absent => None,
        }
    }

    fn status(&self) -> Option<&'a str> {
        self.captures().and_then(|c| c.get(tag::STATUS)).and_then(Captured::as_str)
    }
}

/// One scan dir as the rules see it.
#[derive(Debug)]
pub struct ScanDirView<'a> {
    pub dir: &'a Path,
    /// Its files, checkpoint files included (not the contents of `.scanaudit/`).
    pub files: Vec<FileFacts<'a>>,
    /// Its directories (any depth the walk saw).
    pub dirs: Vec<&'a Path>,
    /// The run dir's `meta.json` (`scans/<sha>/meta.json`; the scan dir's own before the
    /// language level existed).
    pub meta: Meta<'a>,
    /// The per-language `meta.json` inside a language-level scan dir (identity-gate era, #664).
    pub scan_meta: Meta<'a>,
}

impl<'a> ScanDirView<'a> {
    /// Whether a scan is running, from the union of both `meta.json` files as today's Go CLI
    /// reads them (`scan_meta.go`): the per-language one decides, and a legacy run-dir one
    /// still counts unless the per-language one says `success`.
    pub fn meta_running(&self) -> bool {
        meta_union_running(self.scan_meta.status(), self.meta.status())
    }

    /// The `meta.json` whose `kind` applies: the per-language one when present, else the
    /// run dir's.
    fn kind_meta(&self) -> Meta<'a> {
        match self.scan_meta {
            Meta::Present(_) => self.scan_meta,
            Meta::Absent => self.meta,
        }
    }
}

/// [`ScanDirView::meta_running`] on the two statuses (`None`: no such file, or unreadable).
/// Shared with repair's in-use guard.
pub fn meta_union_running(scan_dir_status: Option<&str>, run_dir_status: Option<&str>) -> bool {
    scan_dir_status == Some("running") || (scan_dir_status != Some("success") && run_dir_status == Some("running"))
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub min_idle: Duration,
    pub now: SystemTime,
}

/// The top-level outputs OpenAnt writes as JSON, which the fork's atomic writer may leave 0600.
pub const OUTPUT_NAMES: &[&str] = &[
    "dataset.json",
    "analyzer_output.json",
    "dataset_enhanced.json",
    "results.json",
    "results_verified.json",
    "pipeline_output.json",
    "dynamic_test_results.json",
    "application_context.json",
    "llm_reachability.json",
];

/// Runs every rule on one scan dir.
pub fn check_scan_dir(view: &ScanDirView, options: &Options) -> Vec<Finding> {
    let top = view.files.iter().filter(|f| f.top_level()).map(|f| (f.rel, *f)).collect();
    let mut rules = Rules {
        view,
        options,
        top,
        names_era: names_era(view),
        era: dir_era(view),
        checkpoints: checkpoint_dirs(view),
        findings: Vec::new(),
        missing: BTreeMap::new(),
        stale: BTreeMap::new(),
    };
    rules.diff_manifest();
    rules.modes();
    rules.legacy();
    // A scan being written right now is between states: its outputs and checkpoints are
    // expected to disagree until the step ends. Leave it to a later check.
    if !rules.live() {
        rules.checkpoint_dirs();
        rules.step_reports();
        rules.analyze_unit_set();
        rules.metrics();
        rules.unverified();
        rules.finding_ids();
        rules.dynamic();
    }
    rules.finish()
}

struct Rules<'v, 'a> {
    view: &'v ScanDirView<'a>,
    options: &'v Options,
    /// The era markers of the scan dir's entry names (see [`names_era`]).
    names_era: DirEra,
    /// Those and the markers of its files' contents (see [`dir_era`]).
    era: DirEra,
    /// The files directly in the scan dir, by name.
    top: HashMap<&'a str, FileFacts<'a>>,
    checkpoints: Vec<CheckpointDir<'a>>,
    findings: Vec<Finding>,
    /// Missing outputs, by path, with why each should exist (several rules may say so).
    missing: BTreeMap<PathBuf, Vec<String>>,
    /// Stale outputs, by path, with the reasons.
    stale: BTreeMap<PathBuf, Vec<String>>,
}

/// A checkpoint directory with its `_summary.json` and per-unit files.
struct CheckpointDir<'a> {
    step: CheckpointStep,
    dir: PathBuf,
    summary: Option<FileFacts<'a>>,
    units: Vec<FileFacts<'a>>,
}

/// The era markers a scan dir carries by its names (the same facts `era::names_on_disk`
/// reads for migrate), plus its files' contents (an output's keys, a step report's status).
fn names_era(view: &ScanDirView) -> DirEra {
    let mut era = DirEra::new();
    for file in &view.files {
        // Only the top level and the checkpoint dirs' entries, as `era::names_on_disk`.
        if file.top_level() || file.subdir().is_some_and(|d| d.ends_with("_checkpoints")) {
            era.extend(crate::era::name_marker(file.rel, false));
        }
        if file.rel == "meta.json" && file.kind == FileKind::ScanMeta {
            let language_level = view.dir.parent().and_then(Path::parent).map(file_name).as_deref() == Some("scans");
            era.extend(crate::era::scan_dir_meta_marker(language_level));
        }
    }
    for dir in &view.dirs {
        if let Some(rel) = dir.strip_prefix(view.dir).ok().and_then(Path::to_str).filter(|r| !r.contains('/')) {
            era.extend(crate::era::name_marker(rel, true));
        }
    }
    era
}

/// Every era marker of a scan dir: its names and the contents of its files.
fn dir_era(view: &ScanDirView) -> DirEra {
    let mut era = names_era(view);
    for file in &view.files {
        era.extend(content_era(file).markers().iter().cloned());
    }
    era
}

/// The era markers of one file's content (`era::content_markers`) when it parsed.
fn content_era(file: &FileFacts) -> DirEra {
    let mut era = DirEra::new();
    if let Some(c) = file.captures() {
        era.extend(crate::era::content_markers(file.kind, file.rel, c));
    }
    era
}

/// The checkpoint dirs directly in the scan dir, with their files.
fn checkpoint_dirs<'a>(view: &ScanDirView<'a>) -> Vec<CheckpointDir<'a>> {
    let mut dirs: BTreeMap<&'a str, CheckpointDir<'a>> = BTreeMap::new();
    for file in &view.files {
        let Some(step) = file.step else { continue };
        if !matches!(file.kind, FileKind::Checkpoint | FileKind::CheckpointSummary) {
            continue;
        }
        let Some(name) = file.subdir() else { continue };
        let entry = dirs.entry(name).or_insert_with(|| CheckpointDir {
            step,
            dir: view.dir.join(name),
            summary: None,
            units: Vec::new(),
        });
        if file.kind == FileKind::CheckpointSummary {
            entry.summary = Some(*file);
        } else {
            entry.units.push(*file);
        }
    }
    dirs.into_values().collect()
}

/// How `StepCheckpoint.status` counts a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitStatus {
    Completed,
    /// Identity-gate era only (#286): ran, but its result is not final.
    Incomplete,
    Errored,
}

/// A checkpoint file classified the way `StepCheckpoint.status` does (§2.5).
struct Classified<'a> {
    id: Option<&'a str>,
    status: UnitStatus,
}

impl Classified<'_> {
    fn completed(&self) -> bool {
        self.status == UnitStatus::Completed
    }
}

/// `identity_gate`: classify by today's three-state `status()`, else by the older §2.5 rule.
fn classify<'a>(file: &FileFacts<'a>, identity_gate: bool) -> Classified<'a> {
    let Some(c) = file.captures() else {
        // Unparseable (or of a shape OpenAnt would still read: counted either way).
        return Classified { id: None, status: UnitStatus::Errored };
    };
    let id = c.get(tag::ID).and_then(Captured::as_str);
    let status = match (c.get(COMPLETED), c.get(STATUS_TODAY)) {
        (Some(old), Some(Captured::Str(today))) => {
            if identity_gate {
                match today.as_str() {
                    "completed" => UnitStatus::Completed,
                    "incomplete" => UnitStatus::Incomplete,
                    _ => UnitStatus::Errored,
                }
            } else if old.truthy() {
                UnitStatus::Completed
            } else {
                UnitStatus::Errored
            }
        }
        _ if identity_gate => status_today(c),
        _ if completed(c) => UnitStatus::Completed,
        _ => UnitStatus::Errored,
    };
    Classified { id, status }
}

/// Where [`compact`] keeps a checkpoint's classification, by the older rule and by today's.
const COMPLETED: &str = "cp.completed";
const STATUS_TODAY: &str = "cp.status_today";

/// Identity-gate era `status()` (`core/checkpoint.py`): the §2.5 error rules (an analyze
/// result without a non-blank verdict or finding is an error too), then
/// `verification.incomplete` makes the unit incomplete, then a truthy top-level `error`
/// overrides to errored (so the errored verify record, which also says incomplete, is an
/// error), then an enhance context whose `security_classification` is `"incomplete"` is
/// incomplete.
fn status_today(c: &Captures) -> UnitStatus {
    let str_of = |t: &str| c.get(t).and_then(Captured::as_str);
    let blank = |t: &str| str_of(t).is_none_or(|s| s.trim().is_empty());
    let result_error = c.get(tag::CP_RESULT).is_some_and(|r| {
        !matches!(r, Captured::Object(_))
            || str_of(tag::CP_RESULT_VERDICT) == Some("ERROR")
            || str_of(tag::CP_RESULT_FINDING) == Some("error")
            || (blank(tag::CP_RESULT_VERDICT) && blank(tag::CP_RESULT_FINDING))
    });
    let verification_error =
        c.get(tag::CP_VERIFICATION).is_some_and(|v| !v.truthy() || str_of(tag::CP_CORRECT_FINDING) == Some("error"));
    let mut status = if str_of(tag::ID).is_none()
        || c.get(tag::CP_AGENT_CONTEXT_ERROR).is_some_and(Captured::truthy)
        || result_error
        || verification_error
        || str_of(tag::CP_STATUS) == Some("ERROR")
    {
        UnitStatus::Errored
    } else if c.get(tag::CP_VERIFICATION_INCOMPLETE).is_some_and(Captured::truthy) {
        UnitStatus::Incomplete
    } else {
        UnitStatus::Completed
    };
    if c.get(tag::CP_ERROR).is_some_and(Captured::truthy) {
        status = UnitStatus::Errored;
    } else if status == UnitStatus::Completed && str_of(tag::CP_SECURITY_CLASSIFICATION) == Some("incomplete") {
        status = UnitStatus::Incomplete;
    }
    status
}

/// §2.5, on a checkpoint's captures.
fn completed(c: &Captures) -> bool {
    let str_of = |t: &str| c.get(t).and_then(Captured::as_str);
    let errored = str_of(tag::ID).is_none()
        || c.get(tag::CP_AGENT_CONTEXT_ERROR).is_some_and(Captured::truthy)
        || (c.get(tag::CP_RESULT).is_some()
            && (str_of(tag::CP_RESULT_VERDICT) == Some("ERROR") || str_of(tag::CP_RESULT_FINDING) == Some("error")))
        || c.get(tag::CP_VERIFICATION).is_some_and(|v| !v.truthy() || str_of(tag::CP_CORRECT_FINDING) == Some("error"))
        || str_of(tag::CP_STATUS) == Some("ERROR");
    !errored
}

/// Shrinks what a file's parse captured to what the rules and per-file findings read, right
/// after the parse: a checkpoint keeps its `id` and its §2.5 classification, and no file keeps
/// its top-level key list (only temp files need it, to tell what they hold). At 100,000
/// checkpoints this is most of the memory the captures take.
pub fn compact(kind: FileKind, captures: &mut Captures) {
    if !keeps_top_level_keys(kind) {
        captures.top_level_keys = Vec::new();
    }
    if kind == FileKind::Checkpoint {
        let done = completed(captures);
        let today = match status_today(captures) {
            UnitStatus::Completed => "completed",
            UnitStatus::Incomplete => "incomplete",
            UnitStatus::Errored => "errored",
        };
        let id = captures.fields.iter().position(|(t, _)| *t == tag::ID).map(|i| captures.fields.swap_remove(i));
        captures.fields = id
            .into_iter()
            .chain([(COMPLETED, Captured::Bool(done)), (STATUS_TODAY, Captured::Str(today.to_string()))])
            .collect();
        captures.items = Vec::new();
    } else {
        if matches!(kind, FileKind::Results | FileKind::ResultsVerified) {
            captures.fold_rows(&RESULT_ROWS);
        }
        captures.fields.shrink_to_fit();
        captures.items.shrink_to_fit();
    }
}

/// Whether [`compact`] keeps the top-level key list of a file of `kind`: the outputs whose keys
/// tell their era (`era::content_markers`), and the identity sidecar, held to its scheme's keys.
pub fn keeps_top_level_keys(kind: FileKind) -> bool {
    matches!(
        kind,
        FileKind::Results | FileKind::ResultsVerified | FileKind::PipelineOutput | FileKind::CheckpointFingerprint
    )
}

fn output_of(step: CheckpointStep) -> Option<&'static str> {
    Some(match step {
        CheckpointStep::Enhance => "dataset_enhanced.json",
        CheckpointStep::Analyze => "results.json",
        CheckpointStep::Verify => "results_verified.json",
        CheckpointStep::DynamicTest => "dynamic_test_results.json",
        // What the LLM reachability pass writes from its checkpoints is not recorded in the
        // spec: no output rule for it.
        CheckpointStep::LlmReach | CheckpointStep::Unknown => return None,
    })
}

/// `2026-05-14T09:24:59.991203Z` (fraction optional), as `_summary.json` writes it.
fn parse_utc(text: &str) -> Option<SystemTime> {
    let text = text.strip_suffix('Z')?;
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    let secs = naive.and_utc().timestamp();
    let nanos = naive.and_utc().timestamp_subsec_nanos();
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos))
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// The fix of a missing or damaged rebuildable output: [`repair_command`], unless a rebuild
/// would recover nothing of the step's results ([`crate::recoverable::nothing_holds`], which
/// repair's plan asks too, so the two agree): then the `openant` step that produces it.
pub fn fix_for_output(scan_dir: &Path, kind: FileKind) -> String {
    match crate::recoverable::nothing_holds(scan_dir, kind, &|_| false) {
        Some(nothing) => nothing.fix(),
        None => repair_command(scan_dir),
    }
}

/// The ids a set of checkpoints is held against: a dataset's unit ids, or the keys of a
/// results file's rows.
enum Known<'a> {
    Ids(HashSet<&'a str>),
    Keys(Cow<'a, Rows>),
}

impl Known<'_> {
    fn contains(&self, id: &str) -> bool {
        match self {
            Known::Ids(ids) => ids.contains(id),
            Known::Keys(rows) => rows.has_key(id),
        }
    }
}

impl<'v, 'a> Rules<'v, 'a> {
    fn file(&self, name: &str) -> Option<&FileFacts<'a>> {
        self.top.get(name)
    }

    /// The captures of a top-level file that parsed with its shape.
    fn captures(&self, name: &str) -> Option<&'a Captures> {
        self.file(name).and_then(FileFacts::captures)
    }

    fn repair(&self) -> Option<String> {
        Some(repair_command(self.view.dir))
    }

    /// Old layouts: `scanaudit migrate` upgrades them.
    fn migrate(&self) -> Option<String> {
        Some(migrate_command(self.view.dir))
    }

    fn push(&mut self, kind: FindingKind, path: &Path, file_kind: FileKind, message: String, fix: Option<String>) {
        self.findings.push(
            Finding::new(kind, path, message).scan_dir(Some(self.view.dir.to_path_buf())).file_kind(file_kind).fix(fix),
        );
    }

    /// §2.4, §2.7, §9.3: phase against outputs, file-classified counts against `total_units`.
    fn checkpoint_dirs(&mut self) {
        for cp in std::mem::take(&mut self.checkpoints) {
            self.checkpoint_dir(&cp);
            self.checkpoints.push(cp);
        }
    }

    /// Whether a run is writing this scan dir now: a checkpoint dir in progress, or meta.json
    /// saying running, with something in the scan dir written within `--min-idle`.
    fn live(&self) -> bool {
        let newest = self.view.files.iter().filter_map(|f| f.modified).max();
        let recent = newest
            .and_then(|t| self.options.now.duration_since(t).ok())
            .is_none_or(|idle| idle < self.options.min_idle);
        if !recent {
            return false;
        }
        let in_progress = self.checkpoints.iter().any(|cp| {
            cp.summary.as_ref().and_then(FileFacts::captures).and_then(|c| c.get(tag::PHASE)).and_then(Captured::as_str)
                == Some("in_progress")
        });
        let running = self.view.meta_running();
        in_progress || running
    }

    fn checkpoint_dir(&mut self, cp: &CheckpointDir<'a>) {
        {
            let Some(summary) = cp.summary else { return };
            let Some(c) = summary.captures() else { return };
            let Some(verb) = cp.step.openant_verb() else { return };
            let phase = c.get(tag::PHASE).and_then(Captured::as_str).unwrap_or("");
            let total_units = c.get(tag::TOTAL_UNITS).and_then(Captured::as_f64).unwrap_or(0.0);
            let ig = self.era.identity_gate();
            let classified: Vec<Classified> = cp.units.iter().map(|f| classify(f, ig)).collect();
            let completed = classified.iter().filter(|c| c.completed()).count();
            let incomplete = classified.iter().filter(|c| c.status == UnitStatus::Incomplete).count();
            let errors = classified.len() - completed - incomplete;
            // Today's OpenAnt counts incomplete units apart (#286); older eras had none.
            let incomplete_note = if incomplete > 0 { format!(", {incomplete} incomplete") } else { String::new() };
            let all_checkpointed = total_units > 0.0 && (classified.len() as f64) >= total_units;
            let dir_name = file_name(&cp.dir);
            let output_name = output_of(cp.step);
            let output_path = output_name.map(|n| self.view.dir.join(n));
            let output_present = output_path.as_deref().is_some_and(exists);

            // The LLM reachability pass (#532) writes no record for a unit of a dropped batch
            // (absence is its retry marker) and counts it as incomplete in its summary: a gap
            // the summary accounts for is that run's recorded state, not a lost checkpoint.
            let recorded_incomplete = if cp.step == CheckpointStep::LlmReach {
                c.get(tag::SUMMARY_INCOMPLETE).and_then(Captured::as_f64).unwrap_or(0.0)
            } else {
                0.0
            };
            if phase == "done" && (classified.len() as f64) + recorded_incomplete < total_units {
                let message = format!(
                    "{dir_name}: _summary.json says done, but only {completed} completed{incomplete_note} and {errors} errored unit checkpoints exist for {} units: the {verb} run did not reach every unit (or a torn checkpoint was moved aside), and the next run redoes the units without one",
                    total_units
                );
                self.push(
                    FindingKind::RunIncomplete,
                    &cp.dir,
                    FileKind::Directory,
                    message,
                    Some(format!("openant {verb}")),
                );
            }
            if phase == "in_progress" {
                let newest = cp.units.iter().chain(std::iter::once(&summary)).filter_map(|f| f.modified).max();
                let idle = newest.and_then(|t| self.options.now.duration_since(t).ok());
                if idle.is_some_and(|idle| idle >= self.options.min_idle) {
                    let output_note = match (output_name, output_present) {
                        (Some(name), true) => format!("; {name} is from an unfinished or earlier run"),
                        _ => String::new(),
                    };
                    let message = format!(
                        "{dir_name}: _summary.json still says in_progress ({completed} completed{incomplete_note}, {errors} errored of {total_units} units) and nothing in it changed for {}: the {verb} run was interrupted{output_note}",
                        human_age(idle.unwrap_or_default())
                    );
                    self.push(
                        FindingKind::RunInterrupted,
                        &cp.dir,
                        FileKind::Directory,
                        message,
                        Some(format!("openant {verb}")),
                    );
                }
            }
            let (Some(output_name), Some(output_path)) = (output_name, output_path) else { return };
            if !output_present && (phase == "done" || all_checkpointed) {
                let why = if phase == "done" {
                    format!("{dir_name}/_summary.json says the {verb} run is done")
                } else {
                    format!("every one of the {total_units} units has a checkpoint in {dir_name}")
                };
                self.missing.entry(output_path).or_default().push(why);
                return;
            }
            // §2.7: analyze interrupted on the fix branch writes phase done and no new
            // results.json. phase done is written just before the output (enhance, analyze,
            // verify), so an output older than the summary, by mtime and by the summary's own
            // timestamp, is from an earlier run. Dynamic writes its summary after the output.
            if phase == "done" && cp.step != CheckpointStep::DynamicTest {
                let Some(output) = self.file(output_name).copied() else { return };
                if output.validation.is_none_or(|v| !v.is_valid()) {
                    return;
                }
                let recorded = c.get(tag::TIMESTAMP).and_then(Captured::as_str).and_then(parse_utc);
                if let (Some(out_time), Some(summary_time), Some(recorded)) =
                    (output.modified, summary.modified, recorded)
                {
                    if out_time + MTIME_SLACK < summary_time && out_time + MTIME_SLACK < recorded {
                        let age = summary_time.duration_since(out_time).unwrap_or_default();
                        self.stale.entry(output_path).or_default().push(format!(
                            "it is {} older than {dir_name}/_summary.json, which says the {verb} run finished: that run never wrote it",
                            human_age(age)
                        ));
                    }
                }
            }
        }
    }

    /// Step reports that say an output was written, and `scan.report.json` (written last).
    fn step_reports(&mut self) {
        let mut any_step_report = false;
        let mut newest: Option<SystemTime> = None;
        for file in &self.view.files {
            newest = newest.max(file.modified);
            if file.kind != FileKind::StepReport || !file.top_level() {
                continue;
            }
            let name = file_name(file.path);
            let step = name.strip_suffix(".report.json").unwrap_or(&name);
            if !STEP_NAMES.contains(&step) {
                continue;
            }
            if step != "scan" {
                any_step_report = true;
            }
            let Some(c) = file.captures() else { continue };
            let status = c.get(tag::STATUS).and_then(Captured::as_str).unwrap_or("");
            if !crate::era::STEP_STATUSES_WITH_OUTPUTS.contains(&status) {
                continue;
            }
            let dir_name = file_name(self.view.dir);
            for (_, value) in c.fields.iter().filter(|(t, _)| *t == tag::REPORT_OUTPUT) {
                let Some(recorded) = value.as_str() else { continue };
                // Recorded paths are absolute paths of where the scan was made: compare by
                // name, and only for outputs that sat in the scan dir itself.
                let recorded = Path::new(recorded);
                let output = file_name(recorded);
                let parent = recorded.parent().map(file_name).unwrap_or_default();
                if !OUTPUT_NAMES.contains(&output.as_str()) || parent != dir_name {
                    continue;
                }
                let path = self.view.dir.join(&output);
                if !exists(&path) {
                    self.missing.entry(path).or_default().push(format!("{name} says it was written"));
                }
            }
        }
        let scan_report = self.view.dir.join("scan.report.json");
        let busy = newest
            .and_then(|t| self.options.now.duration_since(t).ok())
            .is_none_or(|idle| idle < self.options.min_idle);
        if any_step_report && !exists(&scan_report) && !busy {
            let message = "step reports but no scan.report.json, which `openant scan` writes last: the scan never finished (or its steps were run one by one)".to_string();
            self.findings.push(
                Finding::new(FindingKind::OutputMissing, &scan_report, message)
                    .level(Level::Warn)
                    .scan_dir(Some(self.view.dir.to_path_buf()))
                    .file_kind(FileKind::StepReport)
                    .fix(Some("openant scan".into())),
            );
        }
    }

    /// The unit ids of the analyze input dataset: all of them, and the diff-selected ones.
    fn dataset_ids(&self, name: &str) -> Option<(HashSet<&'a str>, HashSet<&'a str>)> {
        let c = self.captures(name)?;
        let mut ids: BTreeMap<usize, &'a str> = BTreeMap::new();
        for (i, v) in c.items(tag::UNIT_ID) {
            if let Some(id) = v.as_str() {
                ids.insert(i, id);
            }
        }
        let selected_flags: BTreeMap<usize, bool> =
            c.items(tag::UNIT_DIFF_SELECTED).map(|(i, v)| (i, matches!(v, Captured::Bool(true)))).collect();
        let all: HashSet<&str> = ids.values().copied().collect();
        let working: HashSet<&str> = if selected_flags.is_empty() {
            all.clone()
        } else {
            ids.iter().filter(|(i, _)| selected_flags.get(i).copied().unwrap_or(false)).map(|(_, id)| *id).collect()
        };
        Some((all, working))
    }

    /// The analyze input: `dataset_enhanced.json` when enhance ran, else `dataset.json`.
    fn analyze_input(&self) -> Option<(&'static str, HashSet<&'a str>, HashSet<&'a str>)> {
        for name in ["dataset_enhanced.json", "dataset.json"] {
            if self.file(name).is_some() {
                return self.dataset_ids(name).map(|(all, working)| (name, all, working));
            }
        }
        None
    }

    /// §9.5 staleness, and results.json's unit set against the analyze checkpoints.
    fn analyze_unit_set(&mut self) {
        let dirs = std::mem::take(&mut self.checkpoints);
        self.unit_sets(&dirs);
        self.checkpoints = dirs;
    }

    fn unit_sets(&mut self, dirs: &[CheckpointDir<'a>]) {
        for cp in dirs {
            let ids: Vec<&str> = cp.units.iter().filter_map(|f| classify(f, false).id).collect();
            let (input, known): (&str, Option<Known>) = match cp.step {
                CheckpointStep::Enhance => {
                    ("dataset.json", self.dataset_ids("dataset.json").map(|(all, _)| Known::Ids(all)))
                }
                CheckpointStep::Analyze => match self.analyze_input() {
                    Some((name, all, _)) => (name, Some(Known::Ids(all))),
                    None => ("dataset.json", None),
                },
                CheckpointStep::Verify => ("results.json", self.results_keys("results.json")),
                _ => continue,
            };
            let Some(known) = known else { continue };
            let stale: BTreeSet<&str> = ids.iter().copied().filter(|id| !known.contains(id)).collect();
            if !stale.is_empty() {
                let message = format!(
                    "{}: {} for units not in the current {input}: {} (left from an earlier parse; OpenAnt still adds their cost to usage totals)",
                    file_name(&cp.dir),
                    plural(stale.len(), "checkpoint", "checkpoints"),
                    brief_list(stale.iter().copied())
                );
                self.push(FindingKind::StaleCheckpoint, &cp.dir, FileKind::Directory, message, None);
            }
        }

        let Some(analyze) = dirs.iter().find(|d| d.step == CheckpointStep::Analyze) else { return };
        let Some(results) = self.captures("results.json") else { return };
        let Some((_, _, working)) = self.analyze_input() else { return };
        let results = results.rows(&RESULT_ROWS);
        let checkpointed: HashSet<&str> = analyze.units.iter().filter_map(|f| classify(f, false).id).collect();
        // A damaged checkpoint (no id, torn) is its own finding; it still counts by name here.
        let names: HashSet<String> = analyze.units.iter().map(|f| file_name(f.path)).collect();
        // A unit the fork's analyze_checkpoint.json holds has its checkpoint there (a rebuild
        // takes it from there); `legacy-layout` already says current OpenAnt needs it migrated.
        let in_single_file: HashSet<&str> = self
            .captures("analyze_checkpoint.json")
            .map(|c| c.items(tag::LEGACY_RESULT_UNIT_ID).filter_map(|(_, v)| v.as_str()).collect())
            .unwrap_or_default();
        // In byte order, as a set's: counted, and the first few kept (a results file may hold
        // a million ids).
        let mut unchecked = results.ids().filter(|id| {
            !checkpointed.contains(id) && !names.contains(&checkpoint_file_name(id)) && !in_single_file.contains(id)
        });
        let unchecked_shown: Vec<&str> = unchecked.by_ref().take(SHOWN_IDS).collect();
        let unchecked_count = unchecked_shown.len() + unchecked.count();
        let left_out: BTreeSet<&str> =
            checkpointed.intersection(&working).copied().filter(|id| !results.has_id(id)).collect();
        let path = self.view.dir.join("results.json");
        if !left_out.is_empty() {
            self.stale.entry(path.clone()).or_default().push(format!(
                "{} in analyze_checkpoints {} missing from it: {}",
                plural(left_out.len(), "unit", "units"),
                if left_out.len() == 1 { "is" } else { "are" },
                brief_list(left_out.iter().copied())
            ));
        }
        if unchecked_count > 0 {
            // Results whose checkpoint is gone (torn and quarantined, or deleted): a rebuild
            // keeps them from the old file, but no checkpoint can be made for them, so this is
            // not repair's to fix; OpenAnt's next analyze run redoes exactly those units.
            let message = format!(
                "results.json holds {} with no analyze checkpoint ({}): the next `openant analyze` redoes {}",
                plural(unchecked_count, "unit", "units"),
                brief_list_of(unchecked_shown, unchecked_count),
                if unchecked_count == 1 { "it" } else { "them" }
            );
            self.push(FindingKind::RunIncomplete, &path, FileKind::Results, message, Some("openant analyze".into()));
        }
    }

    /// The keys verify checkpoints are named by: `unit_id`, else `route_key` (§2.1).
    fn results_keys(&self, name: &str) -> Option<Known<'a>> {
        Some(Known::Keys(self.captures(name)?.rows(&RESULT_ROWS)))
    }

    /// §3.2 step 4 and §3.3 step 6: the counters against the results they count.
    fn metrics(&mut self) {
        for (name, file_kind) in
            [("results.json", FileKind::Results), ("results_verified.json", FileKind::ResultsVerified)]
        {
            let Some(file) = self.file(name).copied() else { continue };
            let Some(c) = file.captures() else { continue };
            // Counted by the rule of the era that wrote the file, told by its own keys; a file
            // with a key no known era writes is a newer OpenAnt's, whose rule is unknown
            // (`unknown-era` says so): not guessed.
            let era = content_era(&file);
            if !era.unknown().is_empty() {
                continue;
            }
            if era.identity_gate() {
                self.metrics_today(name, file_kind, c);
                continue;
            }
            let rows = c.rows(&RESULT_ROWS);
            let results = result_kinds(&rows);
            let mut problems: Vec<String> = Vec::new();
            // metrics.total counts every unit analyze was given; fewer results than that means
            // units without a result, which only re-running the step fills in (repair never
            // invents a unit, so it would write the same counts again).
            let mut units_without_results = false;
            let metric = |key: &str| {
                tag::METRICS.iter().find(|(k, _)| *k == key).and_then(|(_, t)| c.get(t)).and_then(Captured::as_f64)
            };
            let len = c.get(tag::RESULTS).and_then(|v| match v {
                Captured::Array(n) => Some(*n),
                _ => None,
            });
            if let (Some(total), Some(len)) = (metric("total"), len) {
                if total != len as f64 {
                    problems.push(format!("metrics.total is {total} but there are {len} results"));
                    units_without_results = file_kind == FileKind::Results && total > len as f64;
                }
            }
            let counted: Vec<&str> = tag::METRICS
                .iter()
                .map(|(k, _)| *k)
                .filter(|k| *k != "total" && *k != "errors" && metric(k).is_some())
                .collect();
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for (r, n) in &results {
                let f = r.stage_finding();
                if let Some(f) = f.as_deref().filter(|f| counted.contains(f)) {
                    *counts.entry(tag::METRICS.iter().find(|(k, _)| k == &f).map_or("", |(k, _)| *k)).or_default() += n;
                } else if r.verdict == Some("ERROR") {
                    *counts.entry("errors").or_default() += n;
                }
            }
            for (key, _) in tag::METRICS.iter().filter(|(k, _)| *k != "total") {
                let Some(value) = metric(key) else { continue };
                let recount = counts.get(key).copied().unwrap_or(0);
                if value != recount as f64 {
                    problems.push(format!("metrics.{key} is {value} but {recount} results count there"));
                }
            }
            if file_kind == FileKind::ResultsVerified {
                if let Some(Captured::Array(confirmed)) = c.get(tag::CONFIRMED_FINDINGS) {
                    // Final finding vulnerable or bypassable; before ec5213b also agree==true.
                    let finals: Vec<&(ResultFacts, usize)> = results
                        .iter()
                        .filter(|(r, _)| {
                            r.finding
                                .and_then(Captured::as_str)
                                .map(str::to_lowercase)
                                .is_some_and(|f| f == "vulnerable" || f == "bypassable")
                        })
                        .collect();
                    let finals_count: usize = finals.iter().map(|(_, n)| n).sum();
                    let agreed: usize =
                        finals.iter().filter(|(r, _)| r.agree.is_some_and(Captured::truthy)).map(|(_, n)| n).sum();
                    if *confirmed > finals_count || *confirmed < agreed {
                        problems.push(format!(
                            "confirmed_findings holds {confirmed} but {} results end vulnerable or bypassable{}",
                            finals_count,
                            if agreed != finals_count {
                                format!(" ({agreed} with Stage 2 agreeing)")
                            } else {
                                String::new()
                            }
                        ));
                    }
                }
            }
            if units_without_results && problems.len() == 1 {
                self.partial_results(c);
            } else if !problems.is_empty() {
                let path = self.view.dir.join(name);
                let message = format!("{}: {}", file_kind.describe(), problems.join("; "));
                self.push(FindingKind::MetricsMismatch, &path, file_kind, message, self.repair());
            }
        }
    }

    /// The identity-gate era's counting (spec/openant-current.md §3, docs/openant-eras.md
    /// §1.1-§1.2): `results.json` by `_count_verdicts` (#427, #324, #623), and
    /// `results_verified.json` by verify's three-state recount (#284, #286).
    fn metrics_today(&mut self, name: &str, file_kind: FileKind, c: &Captures) {
        let rows = c.rows(&RESULT_ROWS);
        let results = result_kinds(&rows);
        let metric = |key: &str| {
            tag::METRICS
                .iter()
                .chain(tag::METRICS_IDENTITY_GATE)
                .find(|(k, _)| *k == key)
                .and_then(|(_, t)| c.get(t))
                .and_then(Captured::as_f64)
        };
        let mut problems: Vec<String> = Vec::new();
        let mut units_without_results = false;
        if let (Some(total), Some(Captured::Array(len))) = (metric("total"), c.get(tag::RESULTS)) {
            if total != *len as f64 {
                problems.push(format!("metrics.total is {total} but there are {len} results"));
                units_without_results = file_kind == FileKind::Results && total > *len as f64;
            }
        }
        let verified = file_kind == FileKind::ResultsVerified;
        let buckets: &[&str] = if verified {
            &["vulnerable", "bypassable", "inconclusive", "protected", "safe", "errors", "needs_review"]
        } else {
            &["vulnerable", "bypassable", "inconclusive", "protected", "safe", "errors"]
        };
        // The analyze counting changed within this era (#427/#324 unknown words and null verdicts
        // to errors, then #623 insufficient_context to inconclusive); only a file with
        // `enhance_unclassified_analyzed` (#611, newer than all three) is surely today's. An
        // older file of the era is held to any of the countings its versions used.
        let rules: &[AnalyzeCounting] = if verified || metric("enhance_unclassified_analyzed").is_some() {
            &[AnalyzeCounting::Today]
        } else {
            &[AnalyzeCounting::Today, AnalyzeCounting::WithoutFold, AnalyzeCounting::May]
        };
        let bucket_problems = |rule: AnalyzeCounting| {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for (r, n) in &results {
                let bucket = if verified { r.verify_bucket_today() } else { r.analyze_bucket(rule, &metric) };
                if let Some(bucket) = bucket {
                    *counts.entry(bucket).or_default() += n;
                }
            }
            let mut problems = Vec::new();
            for key in buckets {
                let Some(value) = metric(key) else { continue };
                let recount = counts.get(key).copied().unwrap_or(0);
                if value != recount as f64 {
                    problems.push(format!("metrics.{key} is {value} but {recount} results count there"));
                }
            }
            problems
        };
        let mut by_rule = rules.iter().map(|rule| bucket_problems(*rule));
        let today = by_rule.next().unwrap_or_default();
        if !today.is_empty() && by_rule.all(|p| !p.is_empty()) {
            problems.extend(today);
        }
        // #611: rows analyzed while their enhance classification was a sentinel; it overlaps
        // the buckets and is in no sum.
        if let (false, Some(value)) = (verified, metric("enhance_unclassified_analyzed")) {
            let recount: usize = results.iter().filter(|(r, _)| r.unclassified_today()).map(|(_, n)| n).sum();
            if value != recount as f64 {
                problems.push(format!(
                    "metrics.enhance_unclassified_analyzed is {value} but {recount} results carry an incomplete, error or unknown security_classification"
                ));
            }
        }
        if verified {
            if let Some(Captured::Array(confirmed)) = c.get(tag::CONFIRMED_FINDINGS) {
                // The verified rows whose finding (else verdict) is vulnerable or bypassable,
                // errored and incomplete ones included (#284, by design). Rows verify never
                // returned carry no verification and may or may not be among them.
                let finals: Vec<&(ResultFacts, usize)> =
                    results.iter().filter(|(r, _)| r.final_vulnerable_today()).collect();
                let finals_count: usize = finals.iter().map(|(_, n)| n).sum();
                let verified_finals: usize =
                    finals.iter().filter(|(r, _)| r.verification.is_some()).map(|(_, n)| n).sum();
                if *confirmed > finals_count || *confirmed < verified_finals {
                    problems.push(format!(
                        "confirmed_findings holds {confirmed} but {} verified results end vulnerable or bypassable",
                        verified_finals
                    ));
                }
            }
        }
        if units_without_results && problems.len() == 1 {
            self.partial_results(c);
        } else if !problems.is_empty() {
            let path = self.view.dir.join(name);
            let message = format!(
                "{}: {} (counted as {} counts)",
                file_kind.describe(),
                problems.join("; "),
                Era::IdentityGate.describe()
            );
            self.push(FindingKind::MetricsMismatch, &path, file_kind, message, self.repair());
        }
    }

    /// A results.json with fewer results than `metrics.total` and its counts otherwise right:
    /// what an interrupted analyze writes (the fork's master, spec §2.7), and what a rebuild
    /// writes when a unit's result survives nowhere (repair never invents one). Nothing is
    /// wrong with the file; the run is incomplete, and only `openant analyze` fills it in.
    fn partial_results(&mut self, c: &Captures) {
        let len = match c.get(tag::RESULTS) {
            Some(Captured::Array(n)) => *n,
            _ => return,
        };
        let total =
            tag::METRICS.iter().find(|(k, _)| *k == "total").and_then(|(_, t)| c.get(t)).and_then(Captured::as_f64);
        let Some(total) = total else { return };
        let short = total as usize - len;
        let in_results = c.rows(&RESULT_ROWS);
        // Named only when the input's analyzed units account for exactly the shortfall (a
        // limit or the exploitable filter also leave units out).
        let named = self
            .analyze_input()
            .map(|(_, _, working)| working.into_iter().filter(|id| !in_results.has_id(id)).collect::<BTreeSet<&str>>())
            .filter(|missing| missing.len() == short)
            .map(|missing| format!(" ({})", brief_list(missing.iter().copied())))
            .unwrap_or_default();
        let message = format!(
            "results.json: metrics.total is {total} but there are {len} results: {}{named} {} no result, as an interrupted \
             analyze leaves it (a partial results.json); the next `openant analyze` analyzes {}",
            plural(short, "unit", "units"),
            if short == 1 { "has" } else { "have" },
            if short == 1 { "it" } else { "them" }
        );
        let path = self.view.dir.join("results.json");
        self.push(FindingKind::RunIncomplete, &path, FileKind::Results, message, Some("openant analyze".into()));
    }

    /// §9.4: every vulnerable or bypassable stage-1 result verified.
    fn unverified(&mut self) {
        let Some(c) = self.captures("results_verified.json") else { return };
        let rows = c.rows(&RESULT_ROWS);
        let unverified: Vec<&RowKind> = rows
            .kinds
            .iter()
            .filter(|k| {
                let r = ResultFacts::of(k);
                r.stage_finding().is_some_and(|f| f == "vulnerable" || f == "bypassable")
                    && !r.verification.is_some_and(Captured::truthy)
            })
            .collect();
        let count: usize = unverified.iter().map(|k| k.rows).sum();
        if count == 0 {
            return;
        }
        // The first rows in document order, from the first few each kind keeps.
        let mut first: Vec<&(usize, Option<String>)> = unverified.iter().flat_map(|k| &k.first).collect();
        first.sort_by_key(|(i, _)| *i);
        let shown = first.iter().map(|(_, id)| id.as_deref().unwrap_or("?"));
        let path = self.view.dir.join("results_verified.json");
        let message = format!(
            "{} never verified by Stage 2 (no verification): {}; the verify run was cut short or its calls failed",
            plural(count, "vulnerable or bypassable result was", "vulnerable or bypassable results were"),
            brief_list_of(shown, count)
        );
        self.push(
            FindingKind::UnverifiedFinding,
            &path,
            FileKind::ResultsVerified,
            message,
            Some("openant verify".into()),
        );
    }

    fn pipeline_ids(&self) -> Option<Vec<&'a str>> {
        let c = self.captures("pipeline_output.json")?;
        Some(c.items(tag::FINDING_ID).filter_map(|(_, v)| v.as_str()).collect())
    }

    /// §9.4: pipeline_output ids are VULN-001..VULN-N in order.
    fn finding_ids(&mut self) {
        let Some(ids) = self.pipeline_ids() else { return };
        let wrong = ids.iter().enumerate().find(|(i, id)| **id != format!("VULN-{:03}", i + 1));
        if let Some((i, id)) = wrong {
            let path = self.view.dir.join("pipeline_output.json");
            let message = format!(
                "finding {} has id \"{id}\" where build-output writes \"VULN-{:03}\": the ids must run VULN-001..VULN-{:03} in order, which dynamic tests and reports key on",
                i + 1,
                i + 1,
                ids.len()
            );
            self.push(FindingKind::FindingIdGap, &path, FileKind::PipelineOutput, message, self.repair());
        }
    }

    /// §9.4 and §2.7: dynamic results and checkpoints against the current pipeline_output.
    fn dynamic(&mut self) {
        let Some(ids) = self.pipeline_ids() else { return };
        let dynamic_dir = self.view.dir.join("dynamic_test_checkpoints");
        let checkpoints = std::mem::take(&mut self.checkpoints);
        self.dynamic_against(&ids, &dynamic_dir, checkpoints.iter().find(|d| d.step == CheckpointStep::DynamicTest));
        self.checkpoints = checkpoints;
    }

    fn dynamic_against(&mut self, ids: &[&'a str], dynamic_dir: &Path, cp: Option<&CheckpointDir<'a>>) {
        let mut stale_checkpoints = false;
        if let Some(cp) = cp {
            let current: HashSet<&str> = ids.iter().copied().collect();
            let foreign: BTreeSet<&str> =
                cp.units.iter().filter_map(|f| classify(f, false).id).filter(|id| !current.contains(id)).collect();
            let total = cp
                .summary
                .as_ref()
                .and_then(FileFacts::captures)
                .and_then(|c| c.get(tag::TOTAL_UNITS))
                .and_then(Captured::as_f64);
            let mut problems = Vec::new();
            if let Some(total) = total.filter(|t| *t != ids.len() as f64) {
                problems.push(format!(
                    "_summary.json counts {total} findings but pipeline_output.json now has {}",
                    ids.len()
                ));
            }
            if !foreign.is_empty() {
                problems.push(format!(
                    "{} for ids pipeline_output.json no longer has: {}",
                    plural(foreign.len(), "checkpoint", "checkpoints"),
                    brief_list(foreign.iter().copied())
                ));
            }
            if !problems.is_empty() {
                stale_checkpoints = true;
                let message = format!(
                    "dynamic_test_checkpoints: {}; they were made for another finding list, so their VULN ids now name different findings and a re-run would restore them onto the wrong ones: move the directory aside first",
                    problems.join("; ")
                );
                self.push(
                    FindingKind::DynamicMismatch,
                    dynamic_dir,
                    FileKind::Directory,
                    message,
                    Some("openant dynamic-test".into()),
                );
            }
        }
        let Some(c) = self.captures("dynamic_test_results.json") else { return };
        let Some(total) = c.get(tag::TOTAL_FINDINGS).and_then(Captured::as_f64) else { return };
        let tested: Vec<&str> = c.items(tag::DYNAMIC_FINDING_ID).filter_map(|(_, v)| v.as_str()).collect();
        let mut problems = Vec::new();
        if total != ids.len() as f64 {
            problems.push(format!(
                "total_findings is {total} but pipeline_output.json has {}",
                plural(ids.len(), "finding", "findings")
            ));
        }
        // Results for some of the findings, in their order, and the right total: a rebuild
        // that had no test result for the others (repair never invents one). The file is
        // right about what it holds; the next `openant dynamic-test` runs the rest.
        let mut rest = ids.iter();
        let partial =
            total == ids.len() as f64 && tested.len() < ids.len() && tested.iter().all(|t| rest.any(|i| i == t));
        if partial && !stale_checkpoints {
            let untested: Vec<&str> = ids.iter().copied().filter(|id| !tested.contains(id)).collect();
            let message = format!(
                "dynamic_test_results.json has no result for {} ({}) of pipeline_output.json's {}: the next `openant dynamic-test` tests {}",
                plural(untested.len(), "finding", "findings"),
                brief_list(untested.iter().copied()),
                ids.len(),
                if untested.len() == 1 { "it" } else { "them" }
            );
            let path = self.view.dir.join("dynamic_test_results.json");
            self.push(
                FindingKind::RunIncomplete,
                &path,
                FileKind::DynamicTestResults,
                message,
                Some("openant dynamic-test".into()),
            );
            return;
        }
        if tested != ids {
            problems.push(format!(
                "its results are for {} where pipeline_output.json has {}",
                brief_list(tested.iter().copied()),
                brief_list(ids.iter().copied())
            ));
        }
        if !problems.is_empty() {
            let path = self.view.dir.join("dynamic_test_results.json");
            let fix =
                if stale_checkpoints || cp.is_none() { Some("openant dynamic-test".into()) } else { self.repair() };
            self.push(FindingKind::DynamicMismatch, &path, FileKind::DynamicTestResults, problems.join("; "), fix);
        }
    }

    /// §1.2 hazard: parse uses diff_manifest.json whenever it exists.
    fn diff_manifest(&mut self) {
        let Some(manifest) = self.file("diff_manifest.json").copied() else { return };
        let why = match self.view.kind_meta() {
            Meta::Absent => "there is no meta.json to say this was an incremental scan",
            Meta::Present(Some(c)) if c.get(tag::KIND).and_then(Captured::as_str) == Some("full") => {
                "meta.json says kind \"full\""
            }
            Meta::Present(_) => return,
        };
        let message = format!(
            "diff_manifest.json is present but {why}: OpenAnt's parse uses it whenever it exists, so this scan's outputs (and the next full scan in this dir) cover only the diff. Move it out of the scan dir, then run a full scan again"
        );
        self.push(
            FindingKind::StaleDiffManifest,
            manifest.path,
            FileKind::DiffManifest,
            message,
            Some("openant scan".into()),
        );
    }

    /// The fork's atomic writer leaves outputs at 0600 (§4, §5.2). Only flagged when the
    /// scan's plainly written files are readable by others, i.e. not a umask choice, and
    /// only where no file comes from today's OpenAnt, whose `write_json` writes every JSON
    /// 0600 by design (`era::private_output_is_forks`, shared with migrate's `file-modes`).
    fn modes(&mut self) {
        if !crate::era::private_output_is_forks(&self.names_era) {
            return;
        }
        let shared = self
            .view
            .files
            .iter()
            .filter(|f| matches!(f.kind, FileKind::StepReport | FileKind::CheckpointSummary))
            .map(|f| f.mode & 0o044)
            .fold(0, |a, b| a | b);
        if shared == 0 {
            return;
        }
        let outputs: Vec<FileFacts> = self
            .view
            .files
            .iter()
            .filter(|f| f.top_level() && OUTPUT_NAMES.contains(&f.rel))
            .filter(|f| f.mode & 0o777 == 0o600)
            .copied()
            .collect();
        for file in outputs {
            let message = format!(
                "mode 0600 (left by the atomic writer of {}; no file here comes from {}, which writes every JSON 0600 by design) while the scan's other files are mode {:o}: other users and tools cannot read it",
                Era::Fork.describe(),
                Era::IdentityGate.describe(),
                0o600 | shared
            );
            self.push(FindingKind::RestrictiveMode, file.path, file.kind, message, self.migrate());
        }
    }

    /// §5.3 and §2.6: layouts `scanaudit migrate` upgrades.
    fn legacy(&mut self) {
        let dir = self.view.dir;
        if dir.parent().map(file_name).as_deref() == Some("scans") {
            let message = "scan dir with no language level (scans/<sha>/ itself, before 3b9ceeb): current OpenAnt looks in scans/<sha>/<language>/".to_string();
            self.push(FindingKind::LegacyLayout, dir, FileKind::Directory, message, self.migrate());
        }
        let legacy_files: Vec<FileFacts> =
            self.view.files.iter().filter(|f| f.kind == FileKind::LegacyCheckpoint && f.top_level()).copied().collect();
        for file in legacy_files {
            let message = format!(
                "single-file checkpoint {} (fork, or upstream before d710b90): current OpenAnt resumes only from per-unit checkpoint dirs",
                file_name(file.path)
            );
            self.push(FindingKind::LegacyLayout, file.path, FileKind::LegacyCheckpoint, message, self.migrate());
        }
        let misnamed: Vec<&Path> = self
            .view
            .dirs
            .iter()
            .copied()
            .filter(|d| d.parent() == Some(dir) && file_name(d) == "dataset_enhanced_checkpoint_checkpoints")
            .collect();
        for d in misnamed {
            let message = "the fork's misnamed enhance checkpoint dir: OpenAnt's resume looks for enhance_checkpoints/ and does not see it".to_string();
            self.push(FindingKind::LegacyLayout, d, FileKind::Directory, message, self.migrate());
        }
        let cp1252: Vec<FileFacts> = self.view.files.iter().filter(|f| f.cp1252).copied().collect();
        for file in cp1252 {
            let what = match file.kind {
                FileKind::Other => "Markdown report",
                kind => kind.describe(),
            };
            let message = format!(
                "{what} in cp1252 where OpenAnt now writes UTF-8: a Windows scan from before 3cdca87 wrote it in the locale's code page"
            );
            self.push(FindingKind::LegacyLayout, file.path, file.kind, message, self.migrate());
        }
    }

    fn finish(mut self) -> Vec<Finding> {
        let dir = self.view.dir.to_path_buf();
        for (path, reasons) in std::mem::take(&mut self.missing) {
            let name = file_name(&path);
            let kind = crate::layout::classify_file(&path, Some(&dir), &|_| false).kind;
            let fix = if kind.is_rebuildable() {
                Some(fix_for_output(&dir, kind))
            } else {
                Some(match name.as_str() {
                    "application_context.json" => "openant generate-context".to_string(),
                    "llm_reachability.json" => "openant scan".to_string(),
                    _ => "openant parse".to_string(),
                })
            };
            let message = format!("{name} is missing, but {}", reasons.join(", and "));
            self.push(FindingKind::OutputMissing, &path, kind, message, fix);
        }
        for (path, reasons) in std::mem::take(&mut self.stale) {
            let kind = crate::layout::classify_file(&path, Some(&dir), &|_| false).kind;
            let message = format!("{} is stale: {}", file_name(&path), reasons.join("; "));
            self.push(FindingKind::OutputStale, &path, kind, message, self.repair());
        }
        self.findings
    }
}

/// The ways OpenAnt counted `results.json` verdicts over the identity-gate era.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AnalyzeCounting {
    /// #623 and after: `insufficient_context` is `inconclusive`, anything else unknown `errors`.
    Today,
    /// #427/#324, before #623: unknown words (`insufficient_context` too) and missing verdicts
    /// are `errors`.
    WithoutFold,
    /// The count of May's OpenAnt (the older eras' rule in [`Rules::metrics`]).
    May,
}

/// The captured facts of one `results[]` entry (of every entry of a [`RowKind`]).
#[derive(Default)]
struct ResultFacts<'a> {
    #[cfg(test)]
    unit_id: Option<&'a str>,
    verdict: Option<&'a str>,
    /// Present (even null) or absent.
    finding: Option<&'a Captured>,
    verification: Option<&'a Captured>,
    agree: Option<&'a Captured>,
    /// Identity-gate era: the row's top-level `error`, and `verification.incomplete`.
    error: Option<&'a Captured>,
    incomplete: Option<&'a Captured>,
    security_classification: Option<&'a Captured>,
}

impl<'a> ResultFacts<'a> {
    /// The facts of a kind of row.
    fn of(kind: &'a RowKind) -> ResultFacts<'a> {
        ResultFacts {
            #[cfg(test)]
            unit_id: None,
            verdict: kind.fact(tag::RESULT_VERDICT).and_then(Captured::as_str),
            finding: kind.fact(tag::RESULT_FINDING),
            verification: kind.fact(tag::RESULT_VERIFICATION),
            agree: kind.fact(tag::RESULT_AGREE),
            error: kind.fact(tag::RESULT_ERROR),
            incomplete: kind.fact(tag::RESULT_INCOMPLETE),
            security_classification: kind.fact(tag::RESULT_SECURITY_CLASSIFICATION),
        }
    }

    /// §3.2 step 4: `finding` when present (even null), else `verdict.lower()`.
    fn stage_finding(&self) -> Option<String> {
        match self.finding {
            Some(f) => f.as_str().map(str::to_string),
            None => Some(self.verdict.unwrap_or("error").to_lowercase()),
        }
    }

    /// Today's analyze `_count_verdicts`: the effective finding is a non-blank `finding`, else
    /// a non-blank `verdict`; none, or a word outside the six buckets, counts as `errors`;
    /// `insufficient_context` folds into `inconclusive` (#623).
    #[cfg(test)]
    fn analyze_bucket_today(&self) -> &'static str {
        self.analyze_bucket(AnalyzeCounting::Today, &|_| None).unwrap_or("errors")
    }

    /// The analyze bucket of this row by `rule`; `metric` tells which metrics the file has
    /// (May's counting counts a word only where the file has its metric).
    fn analyze_bucket(&self, rule: AnalyzeCounting, metric: &dyn Fn(&str) -> Option<f64>) -> Option<&'static str> {
        const BUCKETS: [&str; 6] = ["vulnerable", "bypassable", "inconclusive", "protected", "safe", "errors"];
        if rule == AnalyzeCounting::May {
            let word = self.stage_finding();
            let named = tag::METRICS
                .iter()
                .map(|(k, _)| *k)
                .filter(|k| *k != "total" && *k != "errors" && metric(k).is_some())
                .find(|k| word.as_deref() == Some(*k));
            return named.or((self.verdict == Some("ERROR")).then_some("errors"));
        }
        let non_blank = |s: Option<&str>| s.filter(|s| !s.trim().is_empty()).map(str::to_string);
        let word = non_blank(self.finding.and_then(Captured::as_str)).or_else(|| non_blank(self.verdict));
        let Some(mut word) = word.map(|w| w.to_lowercase()) else { return Some("errors") };
        if rule == AnalyzeCounting::Today && word == "insufficient_context" {
            word = "inconclusive".to_string();
        }
        Some(BUCKETS.into_iter().find(|b| *b == word).unwrap_or("errors"))
    }

    /// The first truthy of `finding`, `verdict`.
    fn word_today(&self) -> Option<String> {
        self.finding
            .and_then(Captured::as_str)
            .filter(|s| !s.is_empty())
            .or(self.verdict.filter(|s| !s.is_empty()))
            .map(str::to_lowercase)
    }

    /// Today's verify recount: a truthy `error` counts as `errors`; a truthy
    /// `verification.incomplete` as `needs_review`; else the lower-cased first truthy of
    /// `finding`, `verdict` (default `"error"`) when it names a metric; else `errors` when
    /// `verdict` is exactly `"ERROR"`; else the row is not counted.
    fn verify_bucket_today(&self) -> Option<&'static str> {
        if self.error.is_some_and(Captured::truthy) {
            return Some("errors");
        }
        if self.incomplete.is_some_and(Captured::truthy) {
            return Some("needs_review");
        }
        let word = self.word_today().unwrap_or_else(|| "error".to_string());
        let named = ["vulnerable", "bypassable", "inconclusive", "protected", "safe", "errors", "needs_review"]
            .into_iter()
            .find(|k| *k == word);
        named.or((self.verdict == Some("ERROR")).then_some("errors"))
    }

    /// `security_classification` is one of today's sentinels (`SENTINEL_CLASSIFICATIONS`,
    /// `core/verdict_taxonomy.py`).
    fn unclassified_today(&self) -> bool {
        self.security_classification
            .and_then(Captured::as_str)
            .is_some_and(|c| matches!(c, "incomplete" | "error" | "unknown"))
    }

    fn final_vulnerable_today(&self) -> bool {
        self.word_today().is_some_and(|w| w == "vulnerable" || w == "bypassable")
    }
}

/// Every kind of row with its facts and how many rows are of it.
fn result_kinds<'r>(rows: &'r Rows) -> Vec<(ResultFacts<'r>, usize)> {
    rows.kinds.iter().map(|k| (ResultFacts::of(k), k.rows)).collect()
}

/// The facts of each row, by index, from captures kept value by value (the rules read
/// [`result_kinds`]; this is the row-by-row reading they must agree with).
#[cfg(test)]
fn per_result(c: &Captures) -> BTreeMap<usize, ResultFacts<'_>> {
    let mut results: BTreeMap<usize, ResultFacts> = BTreeMap::new();
    for (tag_name, i, value) in &c.items {
        let r = results.entry(*i).or_default();
        match *tag_name {
            t if t == tag::RESULT_UNIT_ID => r.unit_id = value.as_str(),
            t if t == tag::RESULT_VERDICT => r.verdict = value.as_str(),
            t if t == tag::RESULT_FINDING => r.finding = Some(value),
            t if t == tag::RESULT_VERIFICATION => r.verification = Some(value),
            t if t == tag::RESULT_AGREE => r.agree = Some(value),
            t if t == tag::RESULT_ERROR => r.error = Some(value),
            t if t == tag::RESULT_INCOMPLETE => r.incomplete = Some(value),
            t if t == tag::RESULT_SECURITY_CLASSIFICATION => r.security_classification = Some(value),
            _ => {}
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_timestamps_parse() {
        let t = parse_utc("2026-05-14T09:24:59.991203Z").unwrap();
        let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs, 1_778_750_699);
        assert!(parse_utc("2026-05-14T09:24:59Z").is_some());
        assert!(parse_utc("2026-05-14T09:24:59").is_none());
    }

    use crate::layout::{shape_for, CheckpointStep, FileKind};
    use crate::validate::validate_bytes;

    fn captures(kind: FileKind, step: Option<CheckpointStep>, json: &str) -> Captures {
        let v = validate_bytes(json.as_bytes(), shape_for(kind, step));
        assert!(v.is_valid(), "{json}: {:?}", v.problem);
        v.captures
    }

    fn today(step: CheckpointStep, json: &str) -> UnitStatus {
        status_today(&captures(FileKind::Checkpoint, Some(step), json))
    }

    #[test]
    fn todays_three_state_classification() {
        use CheckpointStep::*;
        // The errored verify record also says incomplete: the top-level error wins (#286).
        let errored = r#"{"verification": {"incomplete": true}, "finding": "vulnerable",
            "verification_note": "Verification errored: x", "usage": {}, "error": "x", "id": "a"}"#;
        assert_eq!(today(Verify, errored), UnitStatus::Errored);
        let incomplete = r#"{"verification": {"agree": true, "incomplete": true}, "id": "a"}"#;
        assert_eq!(today(Verify, incomplete), UnitStatus::Incomplete);
        assert_eq!(today(Verify, r#"{"verification": {"agree": true}, "id": "a"}"#), UnitStatus::Completed);
        assert_eq!(today(Verify, r#"{"verification": {}, "id": "a"}"#), UnitStatus::Errored);
        let single_shot =
            r#"{"id": "a", "llm_context": {"security_classification": "neutral"}, "context_key": "llm_context"}"#;
        assert_eq!(today(Enhance, single_shot), UnitStatus::Completed);
        let unclassified = r#"{"id": "a", "agent_context": {"security_classification": "incomplete"}}"#;
        assert_eq!(today(Enhance, unclassified), UnitStatus::Incomplete);
        let context_error = r#"{"id": "a", "llm_context": {"error": {"type": "api"}}, "context_key": "llm_context"}"#;
        assert_eq!(today(Enhance, context_error), UnitStatus::Errored);
        // #324: neither a non-blank verdict nor finding is an analysis error today.
        assert_eq!(today(Analyze, r#"{"result": {"verdict": null}, "id": "a"}"#), UnitStatus::Errored);
        assert_eq!(today(Analyze, r#"{"result": {"verdict": " ", "finding": ""}, "id": "a"}"#), UnitStatus::Errored);
        assert_eq!(today(Analyze, r#"{"result": {"verdict": "SAFE"}, "id": "a"}"#), UnitStatus::Completed);
        assert_eq!(today(Analyze, r#"{"result": {"verdict": "SAFE"}}"#), UnitStatus::Errored);
        let reach = r#"{"signals": [], "projection_sha": "sha256:1", "usage": {}, "id": "a"}"#;
        assert_eq!(today(LlmReach, reach), UnitStatus::Completed);
        // The older rule, kept for older eras: the errored verify record counted completed.
        let c = captures(FileKind::Checkpoint, Some(Verify), errored);
        assert!(completed(&c));
    }

    #[test]
    fn compacted_checkpoints_keep_both_classifications() {
        let json = r#"{"verification": {"incomplete": true}, "error": "x", "id": "a"}"#;
        let mut c = captures(FileKind::Checkpoint, Some(CheckpointStep::Verify), json);
        compact(FileKind::Checkpoint, &mut c);
        let path = Path::new("verify_checkpoints/a.json");
        let v = Validation { problem: None, captures: c };
        let file = FileFacts {
            path,
            rel: "verify_checkpoints/a.json",
            kind: FileKind::Checkpoint,
            step: Some(CheckpointStep::Verify),
            modified: None,
            mode: 0o600,
            validation: Some(&v),
            cp1252: false,
        };
        assert_eq!(classify(&file, true).status, UnitStatus::Errored);
        assert_eq!(classify(&file, false).status, UnitStatus::Completed);
        assert_eq!(classify(&file, true).id, Some("a"));
    }

    fn rows(kind: FileKind, json: &str) -> Vec<(Option<String>, Option<&'static str>)> {
        let c = Box::leak(Box::new(captures(kind, None, json)));
        per_result(c)
            .values()
            .map(|r| {
                (
                    r.unit_id.map(str::to_string),
                    if kind == FileKind::Results { Some(r.analyze_bucket_today()) } else { r.verify_bucket_today() },
                )
            })
            .collect()
    }

    #[test]
    fn todays_analyze_counting() {
        let json = r#"{"metrics": {}, "results": [
            {"unit_id": "a", "verdict": "VULNERABLE", "finding": "vulnerable"},
            {"unit_id": "b", "verdict": "INSUFFICIENT_CONTEXT", "finding": "insufficient_context"},
            {"unit_id": "c", "verdict": null},
            {"unit_id": "d", "verdict": "WEIRD"},
            {"unit_id": "e", "verdict": "ERROR", "finding": "error", "error": "x", "error_info": {"kind": "api"}},
            {"unit_id": "f", "verdict": "Safe"},
            {"unit_id": "g", "finding": " vulnerable"}]}"#;
        let buckets: Vec<&str> = rows(FileKind::Results, json).into_iter().map(|(_, b)| b.unwrap()).collect();
        assert_eq!(buckets, ["vulnerable", "inconclusive", "errors", "errors", "errors", "safe", "errors"]);
    }

    #[test]
    fn todays_verify_recount() {
        let json = r#"{"metrics": {}, "verify": true, "results": [
            {"unit_id": "a", "verdict": "VULNERABLE", "finding": "vulnerable", "error": "x", "verification": {"incomplete": true}},
            {"unit_id": "b", "verdict": "VULNERABLE", "finding": "vulnerable", "verification": {"agree": true, "incomplete": true}},
            {"unit_id": "c", "verdict": "VULNERABLE", "finding": "Protected", "verification": {"agree": false}},
            {"unit_id": "d", "verdict": "ERROR", "finding": "error"},
            {"unit_id": "e", "verdict": "INSUFFICIENT_CONTEXT", "finding": "insufficient_context"},
            {"unit_id": "f", "verdict": "SAFE"}], "confirmed_findings": []}"#;
        let buckets: Vec<Option<&str>> = rows(FileKind::ResultsVerified, json).into_iter().map(|(_, b)| b).collect();
        assert_eq!(
            buckets,
            [Some("errors"), Some("needs_review"), Some("protected"), Some("errors"), None, Some("safe")]
        );
    }

    /// Every finding of `check` on `root` at the moment `now`, as Debug text (kind, path,
    /// message, fix), sorted. Runs compared with each other share `now`: messages say ages
    /// ("a temp 7m ago"), and a minute boundary between two runs once failed this comparison.
    fn audit(root: &Path, now: SystemTime) -> Vec<String> {
        let config = crate::config::CheckConfig {
            roots: vec![root.to_path_buf()],
            filters: Default::default(),
            min_idle: Duration::from_secs(600),
            now,
            grading: Default::default(),
            output: crate::config::OutputConfig {
                format: crate::cli::Format::Json,
                color: false,
                quiet: true,
                progress: false,
            },
        };
        let outcome = crate::check::run(&config, &crate::progress::Progress::hidden());
        let mut findings: Vec<String> = outcome.findings.iter().map(|f| format!("{f:?}")).collect();
        findings.sort();
        findings
    }

    /// `audit` with results rows kept value by value (folded after the parse), folded from
    /// the first value on, and folded past a small budget: all three must agree.
    fn audit_at_every_budget(root: &Path) -> Vec<String> {
        use std::sync::atomic::Ordering;
        let mut by_budget = Vec::new();
        let now = SystemTime::now();
        for budget in [usize::MAX, 0, 7] {
            let folds = crate::captures::FOLDS_STARTED.load(Ordering::Relaxed);
            by_budget.push(crate::captures::with_raw_row_budget(budget, || audit(root, now)));
            if budget == 0 {
                // Every tree holds a results file with a row: at budget 0 it must have folded.
                assert!(crate::captures::FOLDS_STARTED.load(Ordering::Relaxed) > folds, "nothing folded at budget 0");
            }
        }
        assert_eq!(by_budget[0], by_budget[1], "folded during the parse");
        assert_eq!(by_budget[0], by_budget[2], "folded past 7 values");
        by_budget.remove(0)
    }

    #[test]
    fn testdata_findings_are_the_same_past_the_row_budget() {
        let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        for tree in ["damaged", "healthy", "legacy", "migrated"] {
            audit_at_every_budget(&testdata.join(tree));
        }
    }

    /// A scan dir whose results files hold many rows of every kind the rules tell apart,
    /// and all the cross-file findings they feed.
    #[test]
    fn a_large_results_file_gives_the_same_findings_past_the_row_budget() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("open_ant_big");
        std::fs::create_dir_all(dir.join("analyze_checkpoints")).unwrap();
        std::fs::create_dir_all(dir.join("verify_checkpoints")).unwrap();
        let n = 400;
        let ids: Vec<String> = (0..n).map(|i| format!("app/m{i:04}.py:f")).collect();
        let units: Vec<String> = ids.iter().map(|id| format!(r#"{{"id": "{id}"}}"#)).collect();
        std::fs::write(dir.join("dataset.json"), format!(r#"{{"units": [{}]}}"#, units.join(", "))).unwrap();
        let verdicts = ["SAFE", "VULNERABLE", "Safe", "odd words", "", " ", "ERROR", "BYPASSABLE"];
        let findings = [r#""safe""#, r#""vulnerable""#, "null", r#""Protected""#, "3", r#""""#];
        let mut rows = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let verdict = verdicts[i % verdicts.len()];
            let finding = findings[i % findings.len()];
            let row = match i % 23 {
                // No unit id: named by its route key.
                0 => format!(r#"{{"route_key": "rk{i}", "verdict": "{verdict}"}}"#),
                // A repeated key: both ids are in the file.
                1 => format!(r#"{{"unit_id": "dup{i}", "unit_id": "{id}", "verdict": "{verdict}"}}"#),
                2 => format!(r#"{{"unit_id": null, "finding": {finding}}}"#),
                3 => format!(r#"{{"unit_id": "{id}", "files_included": []}}"#),
                _ => format!(
                    r#"{{"unit_id": "{id}", "route_key": "rk{i}", "verdict": "{verdict}", "finding": {finding}, "error": {}, "security_classification": "{}", "verification": {{"agree": {}, "incomplete": {}}}}}"#,
                    if i % 5 == 0 { r#""boom""# } else { "null" },
                    if i % 7 == 0 { "Incomplete" } else { "neutral" },
                    i % 2 == 0,
                    i % 11 == 0
                ),
            };
            rows.push(row);
        }
        // Rows for units the checkpoints do not have (results ahead of them).
        rows.push(r#"{"unit_id": "gone/a.py:f", "verdict": "SAFE"}"#.into());
        rows.push(r#"{"unit_id": "gone/b.py:f", "verdict": "SAFE"}"#.into());
        let results = |metrics: &str, extra: &str| {
            format!(r#"{{"metrics": {metrics}, "results": [{}]{extra}}}"#, rows.join(",\n"))
        };
        std::fs::write(dir.join("results.json"), results(r#"{"total": 500, "safe": 3, "vulnerable": 1}"#, "")).unwrap();
        std::fs::write(
            dir.join("results_verified.json"),
            results(r#"{"total": 402, "vulnerable": 9}"#, r#", "verify": true, "confirmed_findings": [{}, {}]"#),
        )
        .unwrap();
        let summary = |total: usize| {
            format!(
                r#"{{"step": "x", "phase": "done", "timestamp": "2026-05-20T09:24:59.991203Z", "total_units": {total}, "completed": 1, "errors": 0, "error_breakdown": {{}}}}"#
            )
        };
        std::fs::write(dir.join("analyze_checkpoints/_summary.json"), summary(n)).unwrap();
        std::fs::write(dir.join("verify_checkpoints/_summary.json"), summary(3)).unwrap();
        // Checkpoints for some units only, one for a unit no longer in the dataset.
        for id in ids.iter().skip(40).step_by(3).map(String::as_str).chain(["stale/x.py:f"]) {
            let body = format!(r#"{{"id": "{id}", "result": {{"verdict": "SAFE"}}}}"#);
            std::fs::write(dir.join("analyze_checkpoints").join(checkpoint_file_name(id)), body).unwrap();
        }
        for id in ["rk23", ids[5].as_str(), "dup1", "nowhere"] {
            let body = format!(r#"{{"id": "{id}", "verification": {{"agree": true}}}}"#);
            std::fs::write(dir.join("verify_checkpoints").join(checkpoint_file_name(id)), body).unwrap();
        }
        let old = SystemTime::now() - Duration::from_secs(86_400);
        for entry in walkdir::WalkDir::new(&dir) {
            let entry = entry.unwrap();
            std::fs::File::options().write(true).open(entry.path()).ok().map(|f| f.set_modified(old));
        }
        let findings = audit_at_every_budget(&dir);
        let all = findings.join("\n");
        for kind in ["MetricsMismatch", "UnverifiedFinding", "RunIncomplete", "StaleCheckpoint"] {
            assert!(all.contains(kind), "{kind} in {all}");
        }
    }

    #[test]
    fn meta_union() {
        assert!(meta_union_running(Some("running"), None));
        assert!(meta_union_running(None, Some("running")));
        assert!(meta_union_running(Some("failed"), Some("running")));
        assert!(!meta_union_running(Some("success"), Some("running")));
        assert!(!meta_union_running(None, Some("success")));
    }
}
