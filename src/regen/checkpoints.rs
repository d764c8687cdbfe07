//! Loading a checkpoint directory of any era (spec §2), classifying its files (§2.5), and
//! deciding the era of a scan (§5.2).
//!
//! This is the one checkpoint loader: every rebuild (enhance, analyze, verify, dynamic-test)
//! reads its checkpoint dir through [`CheckpointSet`].
//!
//! OpenAnt keys checkpoints by the `id` **inside** each file (`StepCheckpoint.load`: a Python
//! dict keyed by any truthy `id`, so an int id is a key too and matches only an id equal to it
//! in Python, `1 == 1.0`, never the string `"1"`), walking the dir in `os.listdir` order, so when
//! two files carry the same id the one listed last wins — an order that depends on the file
//! system. Rebuilds must be deterministic, so this module decides duplicates by a fixed rule
//! instead (see [`CheckpointSet::get`]) and reports them. Files that do not parse, are not JSON
//! objects, do not have the step's shape, or carry no usable id are reported in
//! [`CheckpointSet::issues`] and skipped, as OpenAnt skips them; they are never fatal.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use std::io;
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use rayon::prelude::*;

use super::py::{get2, hash_key, is_str, key_text, truthy, HashKey};
use super::salvage::{salvage_fields, SalvagedFields};
use crate::layout::safe_filename::checkpoint_file_name;
use crate::layout::CheckpointStep;
use crate::no_follow;
use crate::pyjson::{parse, PyValue};
use crate::validate::Validation;

/// Name of the per-dir summary file, which is never a unit.
pub const SUMMARY_FILE: &str = "_summary.json";

/// The OpenAnt line a scan was made with (spec §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Era {
    /// Upstream (knostic) since `d710b90`, including the fix branch `fix/issue16-20-atomic-json`:
    /// results in unit order, sonnet = `claude-sonnet-4-20250514`, `results_verified.json`
    /// without `code_by_route` and written with ensure_ascii=False, the diff filter applies.
    Fix,
    /// The fork's `master` line: results sorted by `unit_id`, an `insufficient_context` metric
    /// in results.json, sonnet = `claude-sonnet-4-6`, `code_by_route` in `results_verified.json`
    /// (ensure_ascii=True), enhance checkpoints in `dataset_enhanced_checkpoint_checkpoints/`
    /// (`enhance_checkpoints/` once `scanaudit migrate` renamed it), `verify_explanations/`, no
    /// diff filter.
    ForkMaster,
}

impl Era {
    /// The enhance checkpoint directory this era's `scan` writes.
    pub fn enhance_checkpoint_dir(self) -> &'static str {
        match self {
            Era::Fix => "enhance_checkpoints",
            Era::ForkMaster => "dataset_enhanced_checkpoint_checkpoints",
        }
    }

    /// The model id `run_analysis` writes for the CLI model name (`opus`/`sonnet`): anything
    /// but `opus` selects sonnet, as in OpenAnt's `model == "opus"` test.
    pub fn analyze_model_id(self, model: &str) -> &'static str {
        match (model, self) {
            ("opus", _) => "claude-opus-4-6",
            (_, Era::Fix) => "claude-sonnet-4-20250514",
            (_, Era::ForkMaster) => "claude-sonnet-4-6",
        }
    }

    /// `ensure_ascii` of `results_verified.json`.
    pub fn verified_ensure_ascii(self) -> bool {
        matches!(self, Era::ForkMaster)
    }

    /// Whether enhance/analyze honour `diff_selected` (master predates incremental scans).
    pub fn has_diff_filter(self) -> bool {
        matches!(self, Era::Fix)
    }
}

/// What the era decision looks at. Everything is optional; see [`detect_era`].
#[derive(Debug, Clone, Copy, Default)]
pub struct EraEvidence<'a> {
    /// `enhance_checkpoints/` exists.
    pub has_enhance_checkpoints: bool,
    /// `dataset_enhanced_checkpoint_checkpoints/` exists.
    pub has_fork_enhance_checkpoints: bool,
    /// A single-file checkpoint under a name only the fork gives one (`analyze_checkpoint.json`,
    /// `verify_checkpoint.json`, `dataset_enhanced_checkpoint.json`) is at the top of the scan.
    pub has_fork_single_files: bool,
    /// What the old `results.json` still holds.
    pub old_results: Option<&'a SalvagedFields>,
    /// What the old `results_verified.json` still holds.
    pub old_verified: Option<&'a SalvagedFields>,
    /// The parsed `scan.report.json`.
    pub scan_report: Option<&'a PyValue>,
    /// `verify_explanations/` exists (only the fork's verifier writes it).
    pub has_verify_explanations: bool,
    /// Files only the upstream/fix line writes exist (`meta.json` in the run dir,
    /// `diff_manifest.json`, `diff_filter.report.json`, `llm_reachability.json`).
    pub has_upstream_only_files: bool,
}

/// Decides the era from the scan itself; the first decisive rule wins, and the reason is
/// returned for the report:
/// 1. only `dataset_enhanced_checkpoint_checkpoints/` exists (master's enhance dir quirk) → fork;
/// 2. the fork's single-file checkpoints are there → fork. They come before the evidence of the
///    old outputs because the fork before c2191e2 still wrote `claude-sonnet-4-20250514` and
///    before 574360a no `code_by_route` in results_verified.json, as the fix branch does;
/// 3. the old results.json `metrics` has `insufficient_context` → fork;
/// 4. the old results.json `model` is `claude-sonnet-4-6` → fork, `claude-sonnet-4-20250514` → fix;
/// 5. the old results_verified.json has `code_by_route` → fork; a complete one without it → fix;
/// 6. `scan.report.json` `summary.steps_resumed` exists → fork;
/// 7. `verify_explanations/` exists → fork;
/// 8. upstream-only files exist → fix;
/// 9. otherwise fix (the reference line).
///
/// Rule 1 is the only one a migrated fork scan loses (its enhance dir is `enhance_checkpoints/`
/// then), so the others must carry it; rule 2 goes once migrate has split the single files.
///
/// The fork's formats are its master's: its writers before the a565352 merge differ in a few
/// fields, which a rebuild from their single files names in its notes
/// ([`super::single_file::format_notes`]).
pub fn detect_era(e: &EraEvidence<'_>) -> (Era, &'static str) {
    if e.has_fork_enhance_checkpoints && !e.has_enhance_checkpoints {
        return (Era::ForkMaster, "enhance checkpoints are in dataset_enhanced_checkpoint_checkpoints/ (fork master)");
    }
    if e.has_fork_single_files {
        return (Era::ForkMaster, "the scan has the fork's single-file checkpoints (fork, before or after its merge)");
    }
    if let Some(old) = e.old_results {
        if old.field("metrics").and_then(|m| m.get("insufficient_context")).is_some() {
            return (Era::ForkMaster, "the old results.json counts insufficient_context (fork master)");
        }
        match old.str_field("model") {
            Some("claude-sonnet-4-6") => {
                return (Era::ForkMaster, "the old results.json names model claude-sonnet-4-6 (fork master)")
            }
            Some("claude-sonnet-4-20250514") => {
                return (Era::Fix, "the old results.json names model claude-sonnet-4-20250514 (fix branch)")
            }
            _ => {}
        }
    }
    if let Some(old) = e.old_verified {
        if old.field("code_by_route").is_some() {
            return (Era::ForkMaster, "the old results_verified.json has code_by_route (fork master)");
        }
        if old.complete() {
            return (Era::Fix, "the old results_verified.json has no code_by_route (fix branch)");
        }
    }
    if e.scan_report.and_then(|r| get2(r, "summary", "steps_resumed")).is_some() {
        return (Era::ForkMaster, "scan.report.json has summary.steps_resumed (fork master)");
    }
    if e.has_verify_explanations {
        return (Era::ForkMaster, "the scan has verify_explanations/, which only the fork's verifier writes");
    }
    if e.has_upstream_only_files {
        return (Era::Fix, "the scan has files only the upstream line writes (meta.json, diff or reachability files)");
    }
    (Era::Fix, "no fork-specific evidence: assuming the upstream/fix-branch formats")
}

/// The enhance checkpoint dir of a scan: `enhance_checkpoints/` whenever it exists (current
/// OpenAnt, and fork scans after `scanaudit migrate` renamed the fork's dir), else the era's
/// own name.
pub fn enhance_checkpoint_dir_in(scan_dir: &Path, era: Era) -> &'static str {
    if no_follow::is_dir(&scan_dir.join(Era::Fix.enhance_checkpoint_dir())) {
        Era::Fix.enhance_checkpoint_dir()
    } else {
        era.enhance_checkpoint_dir()
    }
}

/// [`detect_era`] over a scan dir on disk (reads the old outputs and `scan.report.json` if
/// present; unreadable files count as absent).
pub fn detect_era_in_dir(scan_dir: &Path) -> (Era, &'static str) {
    let read = |name: &str| no_follow::read(&scan_dir.join(name)).ok();
    // Only the fields `detect_era` reads: the rows are not held (nor parsed, unless such a
    // field follows them).
    let old_results = read("results.json").map(|b| salvage_fields(&b, &["metrics", "model"]));
    let old_verified = read("results_verified.json").map(|b| salvage_fields(&b, &["code_by_route"]));
    let scan_report = read("scan.report.json").and_then(|b| parse(&b).ok());
    let upstream_only =
        ["diff_manifest.json", "diff_filter.report.json", "llm_reachability.json", "meta.json", "../meta.json"]
            .iter()
            .any(|n| no_follow::is_file(&scan_dir.join(n)));
    detect_era(&EraEvidence {
        has_enhance_checkpoints: no_follow::is_dir(&scan_dir.join("enhance_checkpoints")),
        has_fork_enhance_checkpoints: no_follow::is_dir(&scan_dir.join("dataset_enhanced_checkpoint_checkpoints")),
        has_fork_single_files: crate::layout::FORK_FILE_NAMES.iter().any(|n| no_follow::is_file(&scan_dir.join(n))),
        old_results: old_results.as_ref(),
        old_verified: old_verified.as_ref(),
        scan_report: scan_report.as_ref(),
        has_verify_explanations: no_follow::is_dir(&scan_dir.join("verify_explanations")),
        has_upstream_only_files: upstream_only,
    })
}

/// How `StepCheckpoint.status` classifies a unit file (spec §2.5 rules 2–6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpStatus {
    Completed,
    /// An error, with `status()`'s type: the enhance error type (`unknown` for string or
    /// type-less errors), `analysis_error`, `verification_error` or `test_error`.
    Error(String),
}

/// Classifies the data of one checkpoint file the way `StepCheckpoint.status` does.
pub fn classify(data: &PyValue) -> CpStatus {
    if let Some(err) = get2(data, "agent_context", "error").filter(|e| truthy(e)) {
        let kind = match err {
            PyValue::Object(o) => o.get("type").map_or_else(|| "unknown".to_owned(), super::py::id_text),
            _ => "unknown".to_owned(),
        };
        return CpStatus::Error(kind);
    }
    if let Some(res) = data.get("result") {
        if is_str(res.get("verdict"), "ERROR") || is_str(res.get("finding"), "error") {
            return CpStatus::Error("analysis_error".to_owned());
        }
        return CpStatus::Completed;
    }
    if let Some(v) = data.get("verification") {
        if !truthy(v) || is_str(v.get("correct_finding"), "error") {
            return CpStatus::Error("verification_error".to_owned());
        }
        return CpStatus::Completed;
    }
    if is_str(data.get("status"), "ERROR") {
        return CpStatus::Error("test_error".to_owned());
    }
    CpStatus::Completed
}

/// Whether the step's own resume rule restores this checkpoint instead of re-running the unit
/// (spec §2.5): enhance needs a non-empty `agent_context` without a truthy `error`; analyze a
/// result that is neither `verdict:"ERROR"` nor `finding:"error"`; verify a non-empty
/// `verification` whose `correct_finding` is not `"error"`; dynamic-test `status != "ERROR"`.
pub fn is_restorable(step: CheckpointStep, data: &PyValue) -> bool {
    match step {
        CheckpointStep::Enhance => match data.get("agent_context") {
            Some(ac) => truthy(ac) && !ac.get("error").is_some_and(truthy),
            None => false,
        },
        CheckpointStep::Analyze => {
            let res = data.get("result");
            !(is_str(res.and_then(|r| r.get("verdict")), "ERROR")
                || is_str(res.and_then(|r| r.get("finding")), "error"))
        }
        CheckpointStep::Verify => match data.get("verification") {
            Some(v) => truthy(v) && !is_str(v.get("correct_finding"), "error"),
            None => false,
        },
        CheckpointStep::DynamicTest => !is_str(data.get("status"), "ERROR"),
        CheckpointStep::LlmReach | CheckpointStep::Unknown => classify(data) == CpStatus::Completed,
    }
}

/// One parsed checkpoint file.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedFile {
    /// File name inside the checkpoint dir.
    pub name: String,
    /// The parsed JSON object.
    pub data: PyValue,
    /// The `id` inside, when it is a non-empty string (what unit ids match).
    pub id: Option<String>,
    /// The `id` as `load()`'s dict key: a string id, or a truthy hashable non-string one (an
    /// int, float or bool, which only an id equal to it in Python matches). `None` when the
    /// file has no usable id.
    pub key: Option<HashKey>,
}

/// A file that was skipped or needs attention, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileIssue {
    pub name: String,
    pub kind: IssueKind,
    pub problem: String,
}

/// The kinds of [`FileIssue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IssueKind {
    /// Could not be read or parsed, or is not a JSON object: skipped (`status()`: `unreadable`).
    Unreadable,
    /// No truthy `id`: skipped (`status()`: `missing_id`).
    MissingId,
    /// A truthy `id` that is not a string: no unit id can match it.
    NonStringId,
    /// The name is not `safe_filename(id).json`: a collision or a foreign file.
    ForeignName,
    /// Several files carry the same id; the issue names the one used.
    DuplicateId,
    /// Valid for OpenAnt, but holds what scanaudit cannot carry into a rebuilt file (a lone
    /// surrogate escape): a rebuild from this set must refuse, never leave the unit out.
    CannotCarry,
}

/// Every unit file of one checkpoint directory, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointSet {
    pub step: CheckpointStep,
    /// Whether the directory existed at all.
    pub dir_exists: bool,
    /// Parsed object files (with or without a usable id), sorted by name (byte order).
    pub files: Vec<LoadedFile>,
    /// The winning file (index into `files`) for every id key; see [`CheckpointSet::get`].
    by_id: IndexMap<HashKey, usize>,
    /// Skipped files, duplicate ids, and names that are not `safe_filename(id).json`.
    pub issues: Vec<FileIssue>,
    /// `_summary.json`, when it parses.
    pub summary: Option<PyValue>,
    /// NaN ids seen so far: each is a key of its own (a NaN equals nothing).
    nan_ids: usize,
}

impl CheckpointSet {
    /// An empty set, as for a directory that does not exist.
    pub fn empty(step: CheckpointStep) -> CheckpointSet {
        CheckpointSet {
            step,
            dir_exists: false,
            files: Vec::new(),
            by_id: IndexMap::new(),
            issues: Vec::new(),
            summary: None,
            nan_ids: 0,
        }
    }

    /// Loads `dir`. A missing directory gives an empty set; only failing to list an existing
    /// directory is an error. Every `*.json` name is considered, dot-files included (as
    /// OpenAnt's `os.listdir` loop does); entries that are not regular files (directories,
    /// symlinks, FIFOs) are reported and never opened. A `dir` that is a symlink is refused
    /// (an error), never entered: its checkpoints are not this scan's.
    ///
    /// A step has one file per unit (tens of thousands): they are read and parsed in parallel,
    /// each file's bytes dropped once parsed, and folded into the set in name order as
    /// [`CheckpointSet::extend_files`] folds them.
    pub fn load_dir(dir: &Path, step: CheckpointStep) -> io::Result<CheckpointSet> {
        let entries = match no_follow::list_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(CheckpointSet::empty(step)),
            Err(e) => return Err(e),
        };
        let listed = entries.into_iter().map(|entry| (entry.name.to_string_lossy().into_owned(), entry)).collect();
        let mut set = CheckpointSet::empty(step);
        set.dir_exists = true;
        match LOAD_OBSERVER.with_borrow(Option::clone) {
            None => set.fold_files(listed, |entry| (read_entry(&entry), None)),
            Some(observer) => set.fold_files(listed, |entry| read_observed(&entry, step, &*observer)),
        }
        Ok(set)
    }

    /// Builds a set from `(file name, bytes or read error)` pairs (names not ending in `.json`
    /// are ignored, as OpenAnt ignores them).
    pub fn from_files(step: CheckpointStep, files: Vec<(String, Result<Vec<u8>, String>)>) -> CheckpointSet {
        let mut set = CheckpointSet::empty(step);
        set.dir_exists = true;
        set.extend_files(files);
        set
    }

    /// Adds files to the set as if they were in its directory (`from_files`' rules), and
    /// decides duplicate ids again over all of them.
    pub fn extend_files(&mut self, files: Vec<(String, Result<Vec<u8>, String>)>) {
        self.fold_files(files, |content| (content, None));
    }

    /// The files considered (`*.json`, not the sidecar), in name order: each one's content
    /// (and its shape validation, when the read made it already) got by `content` and examined
    /// in parallel, then folded in serially.
    fn fold_files<T: Send>(
        &mut self,
        mut files: Vec<(String, T)>,
        content: impl Fn(T) -> (Result<Vec<u8>, String>, Option<Validation>) + Sync + Send,
    ) {
        files.retain(|(name, _)| is_considered(name));
        files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let step = self.step;
        let examined = files
            .into_par_iter()
            .map(|(name, file)| {
                let (bytes, validation) = content(file);
                let examined = examine_file(step, &name, bytes, validation);
                (name, examined)
            })
            .collect();
        self.fold_examined(examined);
    }

    /// Adds files examined on their own, in the order given (name order), then sorts the set's
    /// files and decides duplicate ids over all of them. Serial: the order of the issues and
    /// the numbering of NaN ids depend on it.
    fn fold_examined(&mut self, examined: Vec<(String, ExaminedFile)>) {
        for (name, examined) in examined {
            self.push_examined(name, examined);
        }
        self.files.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        self.index_ids();
    }

    fn push_examined(&mut self, name: String, examined: ExaminedFile) {
        let data = match examined {
            ExaminedFile::Skipped(kind, problem) => {
                self.issues.push(FileIssue { name, kind, problem });
                return;
            }
            ExaminedFile::Summary(data) => {
                self.summary = Some(data);
                return;
            }
            ExaminedFile::Object(data) => data,
        };
        let mut key = None;
        let id = match data.get("id") {
            Some(PyValue::Str(s)) if !s.is_empty() => Some(s.clone()),
            Some(v) if truthy(v) => {
                key = hash_key(v, &mut self.nan_ids);
                let problem = if key.is_some() {
                    "its id is not a string: no unit id can match it, only a finding id equal to it"
                } else {
                    "its id is a list or object (unhashable): skipped"
                };
                self.issues.push(FileIssue {
                    name: name.clone(),
                    kind: IssueKind::NonStringId,
                    problem: problem.to_owned(),
                });
                None
            }
            _ => {
                self.issues.push(FileIssue {
                    name: name.clone(),
                    kind: IssueKind::MissingId,
                    problem: "missing_id: skipped".to_owned(),
                });
                None
            }
        };
        if let Some(id) = &id {
            let expected = checkpoint_file_name(id);
            if expected != name {
                self.issues.push(FileIssue {
                    name: name.clone(),
                    kind: IssueKind::ForeignName,
                    problem: format!(
                        "named differently from safe_filename(id) = {expected:?} (collision or foreign file)"
                    ),
                });
            }
        }
        if let Some(id) = &id {
            key = Some(HashKey::Str(id.clone()));
        }
        self.files.push(LoadedFile { name, data, id, key });
    }

    /// The duplicate rule. `load()` lets the file listed last win, and `os.listdir` order is
    /// arbitrary, so instead: the file named `safe_filename(id).json` wins (that is the file
    /// `StepCheckpoint.save` writes, hence the latest save for the id: what OpenAnt resumes
    /// from whenever it wrote the dir itself); without one, the file whose name sorts last
    /// (byte order) wins. Ids are compared as dict keys (`1`, `1.0` and `true` are one id).
    /// Every duplicate is reported.
    fn index_ids(&mut self) {
        let mut groups: HashMap<&HashKey, Vec<usize>> = HashMap::new();
        for (i, f) in self.files.iter().enumerate() {
            if let Some(key) = &f.key {
                groups.entry(key).or_default().push(i);
            }
        }
        let mut by_id = IndexMap::new();
        let mut issues = Vec::new();
        // Keep ids in file-name order for stable iteration.
        for (i, f) in self.files.iter().enumerate() {
            let Some(key) = &f.key else { continue };
            if by_id.contains_key(key) {
                continue;
            }
            let group = &groups[key];
            let id = match &f.id {
                Some(id) => id.clone(),
                None => f.data.get("id").and_then(key_text).unwrap_or_default(),
            };
            let expected = checkpoint_file_name(&id);
            let winner = group
                .iter()
                .copied()
                .find(|&j| self.files[j].name == expected)
                .unwrap_or_else(|| group.last().copied().unwrap_or(i));
            if group.len() > 1 {
                let names: Vec<&str> = group.iter().map(|&j| self.files[j].name.as_str()).collect();
                issues.push(FileIssue {
                    name: self.files[winner].name.clone(),
                    kind: IssueKind::DuplicateId,
                    problem: format!(
                        "id {id:?} appears in {} files ({}); this one is used",
                        group.len(),
                        names.join(", ")
                    ),
                });
            }
            by_id.insert(key.clone(), winner);
        }
        self.by_id = by_id;
        // Earlier duplicate reports were about a smaller set of files.
        self.issues.retain(|i| i.kind != IssueKind::DuplicateId);
        self.issues.extend(issues);
    }

    /// The checkpoint for `id` as `load()` would return it (with the deterministic duplicate
    /// rule of this module).
    pub fn get(&self, id: &str) -> Option<&LoadedFile> {
        self.by_id.get(&HashKey::Str(id.to_owned())).map(|&i| &self.files[i])
    }

    /// The checkpoint whose `id` a Python dict lookup with `id` finds: a string matches a
    /// string id, a number an id equal to it (`1 == 1.0 == true`); a NaN, a list or an object
    /// matches nothing.
    pub fn get_value(&self, id: &PyValue) -> Option<&LoadedFile> {
        if matches!(id, PyValue::Float(x) if x.is_nan()) {
            return None;
        }
        let key = hash_key(id, &mut 0)?;
        self.by_id.get(&key).map(|&i| &self.files[i])
    }

    /// The winning file of every id, in file-name order (strings and other ids alike).
    pub fn winners(&self) -> impl Iterator<Item = &LoadedFile> {
        self.by_id.values().map(|&i| &self.files[i])
    }

    /// The checkpoint for `id` if the step's resume rule restores it ([`is_restorable`]).
    pub fn restorable(&self, id: &str) -> Option<&LoadedFile> {
        self.get(id).filter(|f| is_restorable(self.step, &f.data))
    }

    /// The file of this exact name (enhance opens `safe_filename(id).json` directly).
    pub fn by_name(&self, name: &str) -> Option<&LoadedFile> {
        self.files.binary_search_by(|f| f.name.as_bytes().cmp(name.as_bytes())).ok().map(|i| &self.files[i])
    }

    /// The problem of a file of this name that existed but could not be used.
    pub fn unreadable(&self, name: &str) -> Option<&FileIssue> {
        self.issues.iter().find(|i| i.name == name && i.kind == IssueKind::Unreadable)
    }

    /// Ids the enhance step treats as completed (`_load_completed_units`): **any** file with the
    /// id passes the enhance rule (a set over all files, not the last-wins map).
    pub fn enhance_completed_ids(&self) -> HashSet<&str> {
        self.files
            .iter()
            .filter(|f| is_restorable(CheckpointStep::Enhance, &f.data))
            .filter_map(|f| f.id.as_deref())
            .collect()
    }

    /// All ids, in file-name order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().filter_map(|k| match k {
            HashKey::Str(s) => Some(s.as_str()),
            _ => None,
        })
    }

    /// `(completed, errors, error_breakdown)` the way `StepCheckpoint.status` counts every file
    /// (unreadable and id-less files included as errors).
    pub fn status_counts(&self) -> (usize, usize, BTreeMap<String, usize>) {
        let mut completed = 0;
        let mut breakdown: BTreeMap<String, usize> = BTreeMap::new();
        for f in &self.files {
            if f.id.is_none() {
                *breakdown.entry("missing_id".to_owned()).or_default() += 1;
                continue;
            }
            match classify(&f.data) {
                CpStatus::Completed => completed += 1,
                CpStatus::Error(kind) => *breakdown.entry(kind).or_default() += 1,
            }
        }
        for issue in &self.issues {
            if issue.kind == IssueKind::Unreadable && issue.name != SUMMARY_FILE {
                *breakdown.entry("unreadable".to_owned()).or_default() += 1;
            }
        }
        let errors = breakdown.values().sum();
        (completed, errors, breakdown)
    }
}

/// Whether a file name of a checkpoint dir is read at all: `*.json`, but not
/// `_fingerprint.json`, which is no unit checkpoint (today's `_RESERVED_FILES`, era.rs):
/// OpenAnt's `load` skips it, and so does every rebuild. `_summary.json` is read on its own.
fn is_considered(name: &str) -> bool {
    name.ends_with(".json") && name != crate::layout::reserved_names::FINGERPRINT_FILE
}

/// What one checkpoint file is, decided from its name and bytes alone (so files can be
/// examined in parallel); what depends on the other files (NaN id numbering, duplicates, the
/// order of issues) is decided when the set folds it in.
#[derive(Debug)]
enum ExaminedFile {
    /// Not used: why.
    Skipped(IssueKind, String),
    /// `_summary.json`, parsed.
    Summary(PyValue),
    /// A JSON object with this step's checkpoint shape.
    Object(PyValue),
}

/// A listed entry's bytes: read when it is a regular file, never opened otherwise.
fn read_entry(entry: &no_follow::Listed) -> Result<Vec<u8>, String> {
    match entry.kind {
        no_follow::EntryKind::File => no_follow::read(&entry.path).map_err(|e| format!("cannot read: {e}")),
        _ => Err("not a regular file: not opened".to_owned()),
    }
}

/// What sees every unit file a load reads, as it reads it ([`observe_loads`]): the file's
/// path, the step loaded, the `fstat` of the open file (taken before its bytes were
/// read) and the validation of those bytes against the step's checkpoint shape, which the
/// load then applies itself.
pub type LoadObserver = dyn Fn(&Path, CheckpointStep, &libc::stat, &Validation) + Sync + Send;

thread_local! {
    /// The observer of the loads this thread makes, while an [`ObservingLoads`] lives.
    static LOAD_OBSERVER: RefCell<Option<Arc<LoadObserver>>> = const { RefCell::new(None) };
}

/// From now until the returned guard is dropped, every [`CheckpointSet::load_dir`] this thread
/// makes shows each unit file it reads to `observer`. Repair judges which checkpoints to
/// quarantine with check's shape rule, the very validation the loader applies: seeing the
/// load's own read spares it a second read and validation of every file a rebuild loads
/// (issue 17). A hook rather than a parameter, so that the rebuilds between the plan and the
/// loader need not carry it; other loads (migrate, tests, other threads) are as they were.
pub fn observe_loads(observer: Arc<LoadObserver>) -> ObservingLoads {
    ObservingLoads {
        previous: LOAD_OBSERVER.with_borrow_mut(|current| current.replace(observer)),
        _this_thread: std::marker::PhantomData,
    }
}

/// Loads on this thread are observed while this lives ([`observe_loads`]); dropping it puts
/// back the observer there was before.
#[must_use = "loads are observed only while the guard lives"]
pub struct ObservingLoads {
    previous: Option<Arc<LoadObserver>>,
    /// Dropped on the thread it was made on, whose thread-local it restores.
    _this_thread: std::marker::PhantomData<*const ()>,
}

impl Drop for ObservingLoads {
    fn drop(&mut self) {
        let previous = self.previous.take();
        LOAD_OBSERVER.with_borrow_mut(|current| *current = previous);
    }
}

/// [`read_entry`], also validating a unit file's bytes against the step's checkpoint shape and
/// showing them to `observer` with the `fstat` of the open file. `_summary.json` is not a
/// unit: read as `read_entry` reads it.
fn read_observed(
    entry: &no_follow::Listed,
    step: CheckpointStep,
    observer: &LoadObserver,
) -> (Result<Vec<u8>, String>, Option<Validation>) {
    if entry.kind != no_follow::EntryKind::File || entry.name == SUMMARY_FILE {
        return (read_entry(entry), None);
    }
    use std::io::Read;
    // What `no_follow::read` does, keeping the `fstat` the open takes (for the buffer's size
    // and the stamp); the listing has just seen a regular file there, so the open needs no
    // `lstat` first (check's per-file path), one path lookup fewer per file.
    let read = || -> io::Result<(Vec<u8>, libc::stat)> {
        let (mut file, st) = no_follow::open_listed_regular(&entry.path)?;
        let mut bytes = Vec::with_capacity(usize::try_from(st.st_size).unwrap_or(0) + 1);
        file.read_to_end(&mut bytes)?;
        Ok((bytes, st))
    };
    match read() {
        Ok((bytes, st)) => {
            let validation = crate::validate::validate_bytes(&bytes, checkpoint_shape(step));
            observer(&entry.path, step, &st, &validation);
            (Ok(bytes), Some(validation))
        }
        Err(e) => (Err(format!("cannot read: {e}")), None),
    }
}

/// The shape `check` requires of this step's checkpoints.
fn checkpoint_shape(step: CheckpointStep) -> &'static crate::shape::Shape {
    crate::layout::shape_for(crate::layout::FileKind::Checkpoint, Some(step))
}

/// Examines one file: `validation` is its bytes' validation against the step's checkpoint
/// shape when the read made it already, else it is made here, if the shape rule is reached.
fn examine_file(
    step: CheckpointStep,
    name: &str,
    content: Result<Vec<u8>, String>,
    validation: Option<Validation>,
) -> ExaminedFile {
    let bytes = match content {
        Ok(bytes) => bytes,
        Err(problem) => return ExaminedFile::Skipped(IssueKind::Unreadable, problem),
    };
    let data = match parse(&bytes) {
        Ok(v) => v,
        Err(e) if e.kind == crate::pyjson::ParseErrorKind::LoneSurrogate => {
            return ExaminedFile::Skipped(IssueKind::CannotCarry, e.to_string());
        }
        Err(e) => {
            let problem = if bytes.iter().all(u8::is_ascii_whitespace) {
                "empty (a torn write): unreadable".to_owned()
            } else {
                format!("unreadable ({e})")
            };
            return ExaminedFile::Skipped(IssueKind::Unreadable, problem);
        }
    };
    if name == SUMMARY_FILE {
        return ExaminedFile::Summary(data);
    }
    if !matches!(data, PyValue::Object(_)) {
        return ExaminedFile::Skipped(IssueKind::Unreadable, "not a JSON object: skipped".to_owned());
    }
    // The shape `check` requires of this step's checkpoints (e.g. analyze needs a `result`
    // with a `verdict`): a file without it is not restored from, exactly as `check` reports it
    // and `repair` quarantines it.
    let validation = validation.unwrap_or_else(|| crate::validate::validate_bytes(&bytes, checkpoint_shape(step)));
    if let Some(problem) = validation.problem {
        return ExaminedFile::Skipped(
            IssueKind::Unreadable,
            format!("wrong shape for this step's checkpoints ({}): skipped", problem.message),
        );
    }
    ExaminedFile::Object(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regen::salvage_leading_fields;

    fn file(name: &str, json: &str) -> (String, Result<Vec<u8>, String>) {
        (name.to_owned(), Ok(json.as_bytes().to_vec()))
    }

    #[test]
    fn classification_and_resume_rules() {
        let p = |s: &str| parse(s.as_bytes()).unwrap();
        assert_eq!(
            classify(&p(r#"{"id":"a","agent_context":{"error":{"type":"rate_limit"}}}"#)),
            CpStatus::Error("rate_limit".into())
        );
        assert_eq!(classify(&p(r#"{"id":"a","agent_context":{"error":"boom"}}"#)), CpStatus::Error("unknown".into()));
        assert_eq!(classify(&p(r#"{"id":"a","agent_context":{}}"#)), CpStatus::Completed);
        assert!(!is_restorable(CheckpointStep::Enhance, &p(r#"{"id":"a","agent_context":{}}"#)));
        assert!(is_restorable(CheckpointStep::Enhance, &p(r#"{"id":"a","agent_context":{"x":1,"error":""}}"#)));
        assert_eq!(
            classify(&p(r#"{"result":{"finding":"error","verdict":"SAFE"}}"#)),
            CpStatus::Error("analysis_error".into())
        );
        assert!(!is_restorable(CheckpointStep::Analyze, &p(r#"{"result":{"verdict":"ERROR"}}"#)));
        // A checkpoint without `result` is restored by analyze (as `{}`).
        assert!(is_restorable(CheckpointStep::Analyze, &p(r#"{"id":"a"}"#)));
        assert_eq!(classify(&p(r#"{"verification":{}}"#)), CpStatus::Error("verification_error".into()));
        assert!(!is_restorable(CheckpointStep::Verify, &p(r#"{"verification":{"correct_finding":"error"}}"#)));
        assert!(!is_restorable(CheckpointStep::Verify, &p(r#"{"finding":"safe"}"#)));
        assert!(is_restorable(CheckpointStep::DynamicTest, &p(r#"{"id":"VULN-001"}"#)));
        assert_eq!(classify(&p(r#"{"status":"ERROR"}"#)), CpStatus::Error("test_error".into()));
    }

    #[test]
    fn torn_idless_and_foreign_files_are_reported_not_fatal() {
        let set = CheckpointSet::from_files(
            CheckpointStep::Analyze,
            vec![
                file("a.json", r#"{"result":{"verdict":"SAFE"},"id":"a"}"#),
                file("torn.json", r#"{"result": {"ver"#),
                file("empty.json", ""),
                file("noid.json", r#"{"result":{"verdict":"SAFE"}}"#),
                file("list.json", "[1]"),
                file("shapeless.json", r#"{"result":{"no":"verdict"},"id":"b"}"#),
                file("_summary.json", r#"{"step":"Analyze","phase":"done"}"#),
                file("notes.txt", "x"),
                ("gone.json".to_owned(), Err("cannot read: denied".to_owned())),
            ],
        );
        assert_eq!(set.ids().collect::<Vec<_>>(), ["a"]);
        assert!(set.summary.is_some());
        let names: Vec<&str> = set.issues.iter().map(|i| i.name.as_str()).collect();
        for n in ["torn.json", "empty.json", "noid.json", "list.json", "gone.json", "shapeless.json"] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        assert!(!names.contains(&"notes.txt"));
        let (completed, errors, _) = set.status_counts();
        assert_eq!((completed, errors), (1, 6));
        let shapeless = set.issues.iter().find(|i| i.name == "shapeless.json").unwrap();
        assert!(shapeless.problem.contains("wrong shape"), "{}", shapeless.problem);
    }

    #[test]
    fn duplicate_ids_prefer_the_safe_filename_then_the_last_name() {
        // `a/b`, `a__b` and `a\b` all map to `a__b.json`.
        let set = CheckpointSet::from_files(
            CheckpointStep::Analyze,
            vec![
                file("zz.json", r#"{"result":{"verdict":"SAFE","v":3},"id":"a/b"}"#),
                file("a__b.json", r#"{"result":{"verdict":"SAFE","v":1},"id":"a/b"}"#),
                file("b.json", r#"{"result":{"verdict":"SAFE","v":2},"id":"a/b"}"#),
                file("x.json", r#"{"result":{"verdict":"SAFE","v":1},"id":"x y"}"#),
                file("y.json", r#"{"result":{"verdict":"SAFE","v":2},"id":"x y"}"#),
            ],
        );
        assert_eq!(set.get("a/b").unwrap().name, "a__b.json");
        assert_eq!(set.get("x y").unwrap().name, "y.json");
        assert!(set.issues.iter().any(|i| i.problem.contains("appears in 3 files")));
        assert!(set.by_name("zz.json").is_some());
        assert!(set.by_name("nope.json").is_none());
    }

    /// The two loaders of old disagreed here: dynamic's took int ids and let the last file
    /// win; this one took string ids only. The one rule: ids are `load()`'s dict keys (an int
    /// id is a key, equal to `1.0` and `true`, never to `"1"`), and a duplicate goes to the
    /// file `save` names `safe_filename(id).json`, else to the name that sorts last.
    #[test]
    fn int_ids_are_keys_that_only_equal_numbers() {
        let set = CheckpointSet::from_files(
            CheckpointStep::DynamicTest,
            vec![
                file("1.json", r#"{"finding_id": "VULN-001", "status": "CONFIRMED", "id": 1}"#),
                file("s.json", r#"{"finding_id": "VULN-002", "status": "BLOCKED", "id": "1"}"#),
                file("z.json", r#"{"finding_id": "VULN-003", "status": "BLOCKED", "id": 1.0}"#),
                file("l.json", r#"{"finding_id": "VULN-004", "status": "BLOCKED", "id": [1]}"#),
            ],
        );
        let p = |s: &str| parse(s.as_bytes()).unwrap();
        // 1 and 1.0 are one key: `1.json` is safe_filename(1).json, so it wins over `z.json`.
        assert_eq!(set.get_value(&p("1")).unwrap().name, "1.json");
        assert_eq!(set.get_value(&p("1.0")).unwrap().name, "1.json");
        assert_eq!(set.get_value(&p("true")).unwrap().name, "1.json");
        // The string "1" is another key, and a unit id (a string) never finds the int one.
        assert_eq!(set.get_value(&p("\"1\"")).unwrap().name, "s.json");
        assert_eq!(set.get("1").unwrap().name, "s.json");
        assert_eq!(set.ids().collect::<Vec<_>>(), ["1"]);
        assert!(set.get_value(&p("[1]")).is_none());
        assert!(set.get_value(&p("NaN")).is_none());
        let problem = |name: &str| set.issues.iter().find(|i| i.name == name).map(|i| i.problem.as_str());
        assert_eq!(problem("l.json"), Some("its id is a list or object (unhashable): skipped"));
        assert!(set.issues.iter().any(|i| i.kind == IssueKind::DuplicateId && i.name == "1.json"));
        assert_eq!(set.winners().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["1.json", "s.json"]);
    }

    #[test]
    fn two_files_naming_one_id_resolve_to_the_saved_name_whatever_the_order() {
        let a = r#"{"finding_id": "VULN-001", "status": "CONFIRMED", "id": "VULN-001"}"#;
        let b = r#"{"finding_id": "VULN-001", "status": "BLOCKED", "id": "VULN-001"}"#;
        for files in [
            vec![file("VULN-001.json", a), file("VULN-001~copy.json", b)],
            vec![file("VULN-001~copy.json", b), file("VULN-001.json", a)],
            vec![file("0-early.json", b), file("VULN-001.json", a)],
        ] {
            let set = CheckpointSet::from_files(CheckpointStep::DynamicTest, files);
            assert_eq!(set.get("VULN-001").unwrap().name, "VULN-001.json");
        }
        // Without the saved name, the name that sorts last.
        let set = CheckpointSet::from_files(CheckpointStep::DynamicTest, vec![file("b.json", b), file("a.json", a)]);
        assert_eq!(set.get("VULN-001").unwrap().name, "b.json");
    }

    #[test]
    fn files_added_later_are_indexed_with_the_rest() {
        let mut set = CheckpointSet::from_files(
            CheckpointStep::Analyze,
            vec![
                file("x.json", r#"{"result":{"verdict":"SAFE","v":1},"id":"x y"}"#),
                file("y.json", r#"{"result":{"verdict":"SAFE","v":2},"id":"x y"}"#),
            ],
        );
        let duplicates = |set: &CheckpointSet| set.issues.iter().filter(|i| i.kind == IssueKind::DuplicateId).count();
        assert_eq!(duplicates(&set), 1);
        set.extend_files(vec![
            file("a.json", r#"{"result":{"verdict":"SAFE"},"id":"a"}"#),
            file("x_y.json", r#"{"result":{"verdict":"SAFE","v":3},"id":"x y"}"#),
        ]);
        // Sorted by name again, and the duplicate decided over all four files, once.
        let names: Vec<&str> = set.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.json", "x.json", "x_y.json", "y.json"]);
        assert_eq!(set.get("x y").unwrap().name, "x_y.json");
        assert_eq!(duplicates(&set), 1);
        assert!(set.issues.iter().any(|i| i.problem.contains("appears in 3 files")));
        assert_eq!(set.ids().collect::<Vec<_>>(), ["a", "x y"]);
    }

    #[test]
    fn enhance_completed_is_a_set_over_all_files() {
        let set = CheckpointSet::from_files(
            CheckpointStep::Enhance,
            vec![
                file("u.json", r#"{"id":"u","agent_context":{"error":{"type":"unknown"}}}"#),
                file("w.json", r#"{"id":"u","agent_context":{"security_classification":"neutral"}}"#),
            ],
        );
        assert!(set.enhance_completed_ids().contains("u"));
        // The last-wins view picks u.json (the safe_filename of "u").
        assert_eq!(set.get("u").unwrap().name, "u.json");
        assert!(set.restorable("u").is_none());
    }

    /// Files read and parsed in parallel fold into the very set a one-thread load gives, and
    /// the one `from_files` gives over the same bytes read one by one: duplicates, foreign
    /// names, torn, empty and id-less files, NaN and int ids, a summary, a fingerprint, a
    /// subdirectory and a symlink, all in the same order.
    #[test]
    fn parallel_load_matches_a_serial_one() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("analyze_checkpoints");
        std::fs::create_dir(&dir).unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        for i in 0..300 {
            let id = format!("src/m{}.py:f{i}", i % 7);
            let name = match i % 10 {
                3 => format!("copy-{i}.json"),
                _ => checkpoint_file_name(&id),
            };
            let text = match i % 13 {
                1 => format!(r#"{{"result": {{"verdict": "SAFE", "n": {i}"#),
                2 => "  \n".to_owned(),
                4 => format!(r#"{{"result": {{"verdict": "SAFE"}}, "n": {i}}}"#),
                5 => format!(r#"{{"result": {{"verdict": "SAFE"}}, "id": NaN, "n": {i}}}"#),
                6 => format!(r#"{{"result": {{"verdict": "SAFE"}}, "id": {}}}"#, i % 4),
                7 => format!(r#"{{"result": {{"no": "verdict"}}, "id": "{id}"}}"#),
                8 => "[1, 2]".to_owned(),
                _ => format!(r#"{{"result": {{"verdict": "SAFE", "n": {i}}}, "id": "src/m0.py:f{}"}}"#, i % 40),
            };
            write(&name, &text);
        }
        write(SUMMARY_FILE, r#"{"step": "Analyze", "phase": "done"}"#);
        write(crate::layout::reserved_names::FINGERPRINT_FILE, r#"{"scheme_version": 2}"#);
        write("notes.txt", "not json");
        std::fs::create_dir(dir.join("sub.json")).unwrap();
        std::os::unix::fs::symlink(dir.join("copy-3.json"), dir.join("link.json")).unwrap();

        let load_in = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| CheckpointSet::load_dir(&dir, CheckpointStep::Analyze).unwrap())
        };
        let serial = load_in(1);
        let parallel = load_in(4);
        // Compared as text: a NaN id is not equal to itself.
        let text = |set: &CheckpointSet| format!("{set:#?}");
        assert_eq!(text(&parallel), text(&serial));
        // A load observed (repair's) is the same load, and shows each unit file it read, once.
        let shown = Arc::new(std::sync::Mutex::new(Vec::new()));
        let observer: Arc<LoadObserver> = {
            let shown = Arc::clone(&shown);
            Arc::new(move |path, step, _stat, validation| {
                assert_eq!(step, CheckpointStep::Analyze);
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                shown.lock().unwrap().push((name, validation.is_valid()));
            })
        };
        let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
        let observed = pool.install(|| {
            let _observing = observe_loads(observer);
            CheckpointSet::load_dir(&dir, CheckpointStep::Analyze).unwrap()
        });
        assert_eq!(text(&observed), text(&serial));
        let mut shown = std::mem::take(&mut *shown.lock().unwrap());
        shown.sort();
        assert!(serial.files.iter().all(|f| shown.iter().any(|(n, _)| *n == f.name)));
        assert!(shown.iter().any(|(_, valid)| !valid));
        assert!(!shown.iter().any(|(n, _)| n == SUMMARY_FILE || n == "link.json" || n == "notes.txt"));
        assert!(shown.windows(2).all(|w| w[0].0 != w[1].0), "each file shown once");
        // Once the guard is gone, nothing is observed.
        assert!(LOAD_OBSERVER.with_borrow(Option::is_none));
        // What load_dir was before it went parallel: every file read first, one by one.
        let read_one_by_one: Vec<(String, Result<Vec<u8>, String>)> = no_follow::list_dir(&dir)
            .unwrap()
            .into_iter()
            .filter(|e| e.name.to_string_lossy().ends_with(".json"))
            .map(|e| (e.name.to_string_lossy().into_owned(), read_entry(&e)))
            .collect();
        assert_eq!(text(&CheckpointSet::from_files(CheckpointStep::Analyze, read_one_by_one)), text(&serial));
        // The dir has every case the fold decides.
        let kinds: HashSet<IssueKind> = serial.issues.iter().map(|i| i.kind).collect();
        for kind in [
            IssueKind::Unreadable,
            IssueKind::MissingId,
            IssueKind::NonStringId,
            IssueKind::ForeignName,
            IssueKind::DuplicateId,
        ] {
            assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
        }
        assert!(serial.summary.is_some());
        assert!(serial.nan_ids > 1);
        assert!(serial.issues.iter().any(|i| i.name == "link.json" && i.problem.contains("not a regular file")));
    }

    #[test]
    fn era_rules() {
        let fork_dir = EraEvidence { has_fork_enhance_checkpoints: true, ..Default::default() };
        assert_eq!(detect_era(&fork_dir).0, Era::ForkMaster);
        let both =
            EraEvidence { has_fork_enhance_checkpoints: true, has_enhance_checkpoints: true, ..Default::default() };
        assert_eq!(detect_era(&both).0, Era::Fix);
        let old = salvage_leading_fields(br#"{"dataset":"d","model":"claude-sonnet-4-6","timestamp":"t","metrics":{"total":1,"vulnerable":0,"bypassable":0,"inconclusive":0,"insufficient_context":0,"#);
        assert_eq!(detect_era(&EraEvidence { old_results: Some(&old), ..Default::default() }).0, Era::ForkMaster);
        let old = salvage_leading_fields(br#"{"dataset":"d","model":"claude-sonnet-4-20250514","#);
        assert_eq!(detect_era(&EraEvidence { old_results: Some(&old), ..Default::default() }).0, Era::Fix);
        // The fork before c2191e2 wrote the upstream sonnet id: its single files still tell.
        let old = salvage_leading_fields(br#"{"dataset":"d","model":"claude-sonnet-4-20250514","#);
        let stopped = EraEvidence { old_results: Some(&old), has_fork_single_files: true, ..Default::default() };
        assert_eq!(detect_era(&stopped).0, Era::ForkMaster);
        let report = parse(br#"{"summary":{"steps_resumed":[]}}"#).unwrap();
        assert_eq!(detect_era(&EraEvidence { scan_report: Some(&report), ..Default::default() }).0, Era::ForkMaster);
        // A migrated fork scan: enhance_checkpoints/ only, told apart by what else the fork wrote.
        let migrated =
            EraEvidence { has_enhance_checkpoints: true, has_verify_explanations: true, ..Default::default() };
        assert_eq!(detect_era(&migrated).0, Era::ForkMaster);
        let upstream =
            EraEvidence { has_enhance_checkpoints: true, has_upstream_only_files: true, ..Default::default() };
        assert_eq!(detect_era(&upstream).0, Era::Fix);
        assert_eq!(detect_era(&EraEvidence::default()).0, Era::Fix);
        assert_eq!(Era::ForkMaster.analyze_model_id("sonnet"), "claude-sonnet-4-6");
        assert_eq!(Era::Fix.analyze_model_id("sonnet"), "claude-sonnet-4-20250514");
        assert_eq!(Era::Fix.analyze_model_id("opus"), "claude-opus-4-6");
    }
}
