//! `dynamic_test_results.json` and `DYNAMIC_TEST_RESULTS.md` rebuilt from `pipeline_output.json`
//! and `dynamic_test_checkpoints/` (spec §3.5; OpenAnt `core/dynamic_tester.run_tests` and
//! `utilities/dynamic_tester.run_dynamic_tests`, `reporter.generate_report`).
//!
//! What OpenAnt does on a resume with every finding checkpointed, with one deliberate
//! difference: OpenAnt drops each restored result's `evidence` (it writes `[]`), while this
//! rebuild keeps the evidence the checkpoints hold by default ([`EvidencePolicy`]), so no data
//! is lost. A finding whose checkpoint is torn or gone keeps its result from the old
//! `dynamic_test_results.json` when that file (complete, or the complete entries of a torn
//! one) holds it and was written for the same number of findings. Other findings without a
//! usable checkpoint (missing, errored, stale, or with values OpenAnt cannot restore) would be
//! re-run with an LLM and Docker; they are listed in [`DynamicRebuild::missing`] and left out,
//! never invented.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;

use super::checkpoints::{CheckpointSet, IssueKind};
use super::json_input::JsonInput;
use super::py::{hash_key, py_eq, py_format_fixed, py_str, truthy, HashKey};
use super::salvage::{salvage_leading_fields, SalvagedFields};
use super::{Inexact, InputUsed, OldOutput, Rebuilt, RegenError};
use crate::layout::safe_filename::checkpoint_file_name;
use crate::layout::CheckpointStep;
use crate::pyjson::{self, python_round, PyObject, PyValue};

/// The statuses in the order the Markdown report lists them.
pub const STATUS_ORDER: &[&str] = &["CONFIRMED", "NOT_REPRODUCED", "BLOCKED", "INCONCLUSIVE", "ERROR"];

/// What to write as a restored result's `evidence`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EvidencePolicy {
    /// The checkpoint's evidence (the data the test produced). Default.
    #[default]
    KeepFromCheckpoints,
    /// `[]`, byte-for-byte what OpenAnt's own resume writes.
    AsOpenAntResume,
}

/// Options for [`rebuild_dynamic_results`].
#[derive(Debug, Clone, Default)]
pub struct DynamicOptions {
    /// The time used for the Markdown `**Date:**` line when it cannot be salvaged.
    pub now: Option<DateTime<Utc>>,
    pub evidence: EvidencePolicy,
    /// The old `dynamic_test_results.json` (its `total_cost_usd` is salvaged).
    pub old_json: OldOutput,
    /// The old `DYNAMIC_TEST_RESULTS.md` (its `**Date:**` and `**Total Cost:**` lines are salvaged).
    pub old_markdown: OldOutput,
}

/// Why a finding has no restored result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MissingReason {
    /// No checkpoint carries this finding's id.
    NoCheckpoint,
    /// The checkpoint's status is `ERROR` (OpenAnt re-runs it).
    Errored,
    /// The checkpoint carries the id but evidently belongs to another finding (spec §2.7).
    Stale(String),
    /// OpenAnt would raise on the checkpoint's values (e.g. `round(None, 2)`).
    Unrestorable(String),
}

/// A finding left out of the rebuilt results.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingFinding {
    pub index: usize,
    pub finding_id: PyValue,
    pub reason: MissingReason,
    /// The checkpoint file involved, if any.
    pub checkpoint: Option<String>,
}

/// A checkpoint file that `StepCheckpoint.load` would skip (or on which it would raise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedCheckpoint {
    pub file: String,
    pub reason: String,
}

/// The rebuilt dynamic-test outputs.
#[derive(Debug, Clone)]
pub struct DynamicRebuild {
    /// `dynamic_test_results.json`.
    pub json: Rebuilt,
    /// `DYNAMIC_TEST_RESULTS.md` (`value` is the text as a string); `None` for the no-testable
    /// variant, for which OpenAnt writes no Markdown.
    pub markdown: Option<Rebuilt>,
    /// Findings without a restored result, in finding order.
    pub missing: Vec<MissingFinding>,
    /// Checkpoint files that were not loaded.
    pub skipped_checkpoints: Vec<SkippedCheckpoint>,
    /// Whether no finding was testable (`{findings_tested: 0, results: []}`).
    pub no_testable_variant: bool,
}

/// One loaded checkpoint.
#[derive(Debug, Clone)]
struct Checkpoint {
    file: String,
    data: PyObject,
}

/// `StepCheckpoint.load()` on `dynamic_test_checkpoints/`, through the one checkpoint loader
/// ([`CheckpointSet`]): keyed by the truthy `id` inside (an int id too, as in the Python dict),
/// a duplicate id decided by that loader's rule (the file `save` names `safe_filename(id).json`
/// wins) and reported in the notes. Files the loader skips (unreadable, not an object, the
/// wrong shape, no usable id) are listed as skipped. A checkpoint dir that is a symlink is
/// never entered (its checkpoints are not this scan's).
fn load_checkpoints(
    dir: &Path,
) -> (IndexMap<HashKey, Checkpoint>, Vec<SkippedCheckpoint>, Vec<InputUsed>, Vec<String>) {
    let set = CheckpointSet::load_dir(dir, CheckpointStep::DynamicTest)
        .unwrap_or_else(|_| CheckpointSet::empty(CheckpointStep::DynamicTest));
    let keyed: HashSet<&str> = set.files.iter().filter(|f| f.key.is_some()).map(|f| f.name.as_str()).collect();
    let mut skipped = Vec::new();
    let mut duplicates = Vec::new();
    for issue in &set.issues {
        match issue.kind {
            IssueKind::DuplicateId => duplicates.push(format!("checkpoint {}: {}", issue.name, issue.problem)),
            IssueKind::ForeignName => {}
            _ if keyed.contains(issue.name.as_str()) => {}
            _ => skipped.push(SkippedCheckpoint { file: issue.name.clone(), reason: issue.problem.clone() }),
        }
    }
    let inputs = set
        .files
        .iter()
        .filter(|f| f.key.is_some())
        .map(|f| InputUsed { path: dir.join(&f.name), role: "dynamic test checkpoint" })
        .collect();
    let checkpoints = set
        .winners()
        .filter_map(|f| {
            let data = f.data.as_object()?.clone();
            Some((f.key.clone()?, Checkpoint { file: f.name.clone(), data }))
        })
        .collect();
    (checkpoints, skipped, inputs, duplicates)
}

/// The complete results of an old `dynamic_test_results.json`, by `finding_id` (the last one
/// of an id wins), for findings whose checkpoint is torn or gone (an earlier repair quarantined
/// it). VULN ids are positional (spec §2.7), so the old results are used only when the old file
/// was written for as many findings as `pipeline_output.json` has now.
fn old_results_by_id(old: Option<&SalvagedFields>, findings: usize) -> HashMap<HashKey, &PyValue> {
    let mut by_id = HashMap::new();
    let Some(old) = old else { return by_id };
    if !old.field("total_findings").is_some_and(|t| py_eq(t, &PyValue::from(findings))) {
        return by_id;
    }
    let mut nan = 0usize;
    for r in old.results() {
        let Some(key) = r.as_object().and_then(|o| o.get("finding_id")).and_then(|f| hash_key(f, &mut nan)) else {
            continue;
        };
        by_id.insert(key, r);
    }
    by_id
}

/// Python `round(x, n)` on a JSON value: ints (and bools, as ints) unchanged, floats rounded;
/// `None` where Python raises `TypeError`.
fn py_round(v: &PyValue, ndigits: i32) -> Option<PyValue> {
    match v {
        PyValue::Int(_) => Some(v.clone()),
        PyValue::Bool(b) => Some(PyValue::from(i64::from(*b))),
        PyValue::Float(x) => Some(PyValue::Float(python_round(*x, ndigits))),
        _ => None,
    }
}

/// The restored `DynamicTestResult.to_dict()` for a checkpoint (spec §3.5.2), or why OpenAnt
/// could not build it.
fn restored_result(fid: &PyValue, cp: &PyObject, evidence: EvidencePolicy) -> Result<PyObject, String> {
    let get = |k: &str, d: PyValue| cp.get(k).cloned().unwrap_or(d);
    let zero = || PyValue::from(0);
    let mut r = PyObject::default();
    r.insert("finding_id".into(), fid.clone());
    r.insert("status".into(), get("status", PyValue::from("ERROR")));
    r.insert("details".into(), get("details", PyValue::from("")));
    let ev = match evidence {
        EvidencePolicy::AsOpenAntResume => PyValue::Array(Vec::new()),
        EvidencePolicy::KeepFromCheckpoints => match cp.get("evidence") {
            Some(e @ PyValue::Array(_)) => e.clone(),
            _ => PyValue::Array(Vec::new()),
        },
    };
    r.insert("evidence".into(), ev);
    r.insert("test_code".into(), get("test_code", PyValue::from("")));
    r.insert("dockerfile".into(), get("dockerfile", PyValue::from("")));
    r.insert("docker_compose".into(), get("docker_compose", PyValue::from("")));
    let elapsed = get("elapsed_seconds", zero());
    r.insert(
        "elapsed_seconds".into(),
        py_round(&elapsed, 2).ok_or("elapsed_seconds is not a number (round() raises TypeError)")?,
    );
    let cost = get("generation_cost_usd", zero());
    r.insert(
        "generation_cost_usd".into(),
        py_round(&cost, 6).ok_or("generation_cost_usd is not a number (round() raises TypeError)")?,
    );
    r.insert("generation_input_tokens".into(), get("generation_input_tokens", zero()));
    r.insert("generation_output_tokens".into(), get("generation_output_tokens", zero()));
    r.insert("retry_count".into(), get("retry_count", zero()));
    Ok(r)
}

/// Signs that a checkpoint stored under a finding's id was written for another finding. Dynamic
/// checkpoints carry no fingerprint of the finding (spec §2.7), so only what they do carry can
/// be compared: a `finding_id` field different from the id, or (written by other tools or
/// versions) a location/function/name that disagrees with the finding.
fn staleness(fid: &PyValue, cp: &PyObject, finding: &PyObject) -> Option<String> {
    if let Some(cfid) = cp.get("finding_id") {
        if !py_eq(cfid, fid) {
            return Some(format!(
                "the checkpoint's finding_id is {}, not this finding's id",
                py_str(cfid).unwrap_or_else(|| "a container".into())
            ));
        }
    }
    let finding_function = finding.get("location").and_then(|l| l.get("function"));
    let cp_function = cp.get("location").and_then(|l| l.get("function")).or_else(|| cp.get("function"));
    if let (Some(a), Some(b)) = (cp_function, finding_function) {
        if !py_eq(a, b) {
            return Some("the checkpoint names another function than the finding's location".into());
        }
    }
    for key in ["name", "cwe_id"] {
        if let (Some(a), Some(b)) = (cp.get(key), finding.get(key)) {
            if !py_eq(a, b) {
                return Some(format!("the checkpoint's {key} differs from the finding's"));
            }
        }
    }
    None
}

/// The `**Date:**` value OpenAnt writes: `datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")`.
pub fn markdown_date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Inserts a value as an f-string does (`str()`); lists and objects, whose Python `repr` is not
/// reproduced, are written as JSON and reported in `notes`.
fn fstr(v: &PyValue, what: &str, notes: &mut Vec<String>) -> String {
    py_str(v).unwrap_or_else(|| {
        notes.push(format!("{what} is a list or object: written as JSON, not as Python's str()"));
        pyjson::to_python_string(v, false).unwrap_or_default().replace('\n', " ")
    })
}

fn fixed(v: &PyValue, decimals: i32, what: &str, notes: &mut Vec<String>) -> String {
    py_format_fixed(v, decimals).unwrap_or_else(|| {
        notes.push(format!("{what} is not a number: OpenAnt's format() would raise; written with str()"));
        fstr(v, what, notes)
    })
}

/// `reporter.generate_report` (spec §3.5.4). `results` are the restored results with their
/// checkpoint (unrounded) `elapsed_seconds`/`generation_cost_usd`; `date` and `total_cost` are
/// the already formatted `**Date:**` and `**Total Cost:**` values.
pub fn render_markdown(
    results: &[PyValue],
    repo_name: &PyValue,
    date: &str,
    total_cost: &str,
) -> (String, Vec<String>) {
    let mut notes = Vec::new();
    let status_of = |r: &PyValue| r.get("status").cloned().unwrap_or(PyValue::Null);
    let count = |s: &str| results.iter().filter(|r| status_of(r).as_str() == Some(s)).count();
    let mut lines: Vec<String> = vec![
        format!("# Dynamic Test Results: {}", fstr(repo_name, "the repository name", &mut notes)),
        String::new(),
        format!("**Date:** {date}"),
        format!("**Total Findings Tested:** {}", results.len()),
        format!("**Total Cost:** ${total_cost}"),
        String::new(),
        "## Summary".into(),
        String::new(),
        "| Status | Count |".into(),
        "|--------|-------|".into(),
    ];
    for s in STATUS_ORDER {
        lines.push(format!("| {s} | {} |", count(s)));
    }
    lines.push(format!("| **Total** | **{}** |", results.len()));
    lines.push(String::new());
    let null = PyValue::Null;
    for s in STATUS_ORDER {
        let group: Vec<&PyValue> = results.iter().filter(|r| status_of(r).as_str() == Some(s)).collect();
        if group.is_empty() {
            continue;
        }
        lines.push(format!("## {s} ({})", group.len()));
        lines.push(String::new());
        for r in group {
            let g = |k: &str| r.get(k).unwrap_or(&null);
            lines.push(format!("### {}", fstr(g("finding_id"), "finding_id", &mut notes)));
            lines.push(String::new());
            lines.push(format!("**Status:** {s}"));
            lines.push(format!("**Details:** {}", fstr(g("details"), "details", &mut notes)));
            lines.push(format!("**Time:** {}s", fixed(g("elapsed_seconds"), 1, "elapsed_seconds", &mut notes)));
            lines.push(format!(
                "**Generation Cost:** ${}",
                fixed(g("generation_cost_usd"), 4, "generation_cost_usd", &mut notes)
            ));
            lines.push(String::new());
            if let Some(evidence) = r.get("evidence").and_then(PyValue::as_array).filter(|e| !e.is_empty()) {
                lines.push("**Evidence:**".into());
                lines.push(String::new());
                for e in evidence {
                    let ty = e.get("type").unwrap_or(&null);
                    let content = e.get("content").unwrap_or(&null);
                    let content = match content.as_str() {
                        Some(c) => c.chars().take(2000).collect(),
                        None => fstr(content, "an evidence content", &mut notes),
                    };
                    lines.push(format!("- **{}:**", fstr(ty, "an evidence type", &mut notes)));
                    lines.push("```".into());
                    lines.push(content);
                    lines.push("```".into());
                    lines.push(String::new());
                }
            }
            let code = g("test_code");
            if truthy(code) {
                lines.extend(["<details>".into(), "<summary>Generated Test Code</summary>".into(), String::new()]);
                lines.push("```python".into());
                lines.push(fstr(code, "test_code", &mut notes));
                lines.extend(["```".into(), String::new(), "</details>".into(), String::new()]);
            }
        }
    }
    (lines.join("\n"), notes)
}

/// The value of a complete `**<label>** …` line in an old Markdown report.
fn salvage_md_line(md: &[u8], label: &str) -> Option<String> {
    let text = String::from_utf8_lossy(md);
    let start = text.find(&format!("\n{label} "))? + 1;
    let rest = &text[start..];
    let end = rest.find('\n')?;
    let line = rest[..end].trim_end_matches('\r');
    let value = line.strip_prefix(label)?.strip_prefix(' ')?;
    (!value.contains('\u{fffd}')).then(|| value.to_owned())
}

/// Rebuilds `dynamic_test_results.json` and `DYNAMIC_TEST_RESULTS.md` for `scan_dir` from the
/// parsed `pipeline` (its `pipeline_output.json`) and `scan_dir/dynamic_test_checkpoints/`.
pub fn rebuild_dynamic_results(
    scan_dir: &Path,
    pipeline: &PyValue,
    opts: &DynamicOptions,
) -> Result<DynamicRebuild, RegenError> {
    let fail = |m: &str| RegenError::OpenAntWouldFail(m.to_owned());
    let mut inputs = Vec::new();
    let mut inexact = Vec::new();
    let mut notes = Vec::new();
    let po = pipeline.as_object().ok_or_else(|| fail("pipeline_output.json is not an object"))?;
    let findings: Vec<&PyObject> = match po.get("findings") {
        None => Vec::new(),
        Some(PyValue::Array(items)) => items
            .iter()
            .map(|f| f.as_object().ok_or_else(|| fail("a finding is not an object")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(fail("pipeline_output.json findings is not a list")),
    };
    let testable = findings.iter().any(|f| {
        matches!(f.get("stage2_verdict").and_then(PyValue::as_str), Some("confirmed" | "agreed" | "vulnerable"))
    });
    if !testable {
        // core/dynamic_tester.run_tests: plain write_json, ensure_ascii=True, no Markdown.
        let mut o = PyObject::default();
        o.insert("findings_tested".into(), PyValue::from(0));
        o.insert("results".into(), PyValue::Array(Vec::new()));
        let value = PyValue::from(o);
        let bytes = pyjson::to_python_string(&value, true).unwrap_or_default();
        return Ok(DynamicRebuild {
            json: Rebuilt { value, bytes, inexact, missing_units: Vec::new(), inputs, notes },
            markdown: None,
            missing: Vec::new(),
            skipped_checkpoints: Vec::new(),
            no_testable_variant: true,
        });
    }

    let repo = match po.get("repository") {
        None => PyValue::from("unknown"),
        Some(PyValue::Object(r)) => r.get("name").cloned().unwrap_or_else(|| PyValue::from("unknown")),
        Some(_) => return Err(fail("pipeline_output.json repository is not an object")),
    };

    let cp_dir = scan_dir.join("dynamic_test_checkpoints");
    let (checkpoints, skipped, cp_inputs, duplicates) = load_checkpoints(&cp_dir);
    inputs.extend(cp_inputs);
    for s in &skipped {
        notes.push(format!("checkpoint {} skipped: {}", s.file, s.reason));
    }
    notes.extend(duplicates);
    if let Some(total) = JsonInput::load(&cp_dir.join("_summary.json")).value().and_then(|s| s.get("total_units")) {
        if !py_eq(total, &PyValue::from(findings.len())) {
            notes.push(format!(
                "dynamic_test_checkpoints/_summary.json counts {} findings but pipeline_output.json has {}: the \
                 checkpoints may have been written for another pipeline_output.json (VULN ids are positional)",
                py_str(total).unwrap_or_default(),
                findings.len()
            ));
        }
    }

    let old_json = opts.old_json.read(
        scan_dir.join("dynamic_test_results.json"),
        "old dynamic_test_results.json (total_cost_usd, results of findings without a checkpoint)",
        &mut inputs,
    );
    let old_salvaged = old_json.as_deref().map(salvage_leading_fields);
    let old_results = old_results_by_id(old_salvaged.as_ref(), findings.len());

    // Restore each finding.
    let mut nan = 0usize;
    let mut results = Vec::new();
    let mut md_results = Vec::new();
    let mut missing = Vec::new();
    let mut carried = 0usize;
    let mut kept_evidence = false;
    for (i, finding) in findings.iter().enumerate() {
        let fid = finding.get("id").cloned().unwrap_or_else(|| PyValue::Str(format!("FINDING-{}", i + 1)));
        let key = hash_key(&fid, &mut nan).ok_or_else(|| fail("a finding id is a list or object (unhashable)"))?;
        // A NaN id equals nothing, not even another NaN.
        let is_nan = matches!(fid, PyValue::Float(x) if x.is_nan());
        let Some(cp) = checkpoints.get(&key).filter(|_| !is_nan) else {
            if let Some(&old) = old_results.get(&key) {
                let label = py_str(&fid).unwrap_or_default();
                let torn = fid.as_str().is_some_and(|f| {
                    let name = checkpoint_file_name(f);
                    skipped.iter().any(|s| s.file == name)
                });
                let why = if torn { "its checkpoint is torn" } else { "it has no dynamic-test checkpoint" };
                inexact.push(Inexact::new(
                    format!("finding {label}"),
                    format!(
                        "carried over from the old dynamic_test_results.json: {why} (the next `openant \
                         dynamic-test` redoes it)"
                    ),
                ));
                carried += 1;
                results.push(old.clone());
                md_results.push(old.clone());
                continue;
            }
            missing.push(MissingFinding {
                index: i,
                finding_id: fid,
                reason: MissingReason::NoCheckpoint,
                checkpoint: None,
            });
            continue;
        };
        let miss =
            |reason| MissingFinding { index: i, finding_id: fid.clone(), reason, checkpoint: Some(cp.file.clone()) };
        if cp.data.get("status").is_some_and(|s| py_eq(s, &PyValue::from("ERROR"))) {
            // The old file's result of an errored test is what that run wrote (OpenAnt would
            // re-run it): kept, never dropped.
            if let Some(&old) = old_results.get(&key) {
                let label = py_str(&fid).unwrap_or_default();
                inexact.push(Inexact::new(
                    format!("finding {label}"),
                    "carried over from the old dynamic_test_results.json: its checkpoint records an ERROR (the \
                     next `openant dynamic-test` redoes it)",
                ));
                carried += 1;
                results.push(old.clone());
                md_results.push(old.clone());
                continue;
            }
            missing.push(miss(MissingReason::Errored));
            continue;
        }
        if let Some(why) = staleness(&fid, &cp.data, finding) {
            missing.push(miss(MissingReason::Stale(why)));
            continue;
        }
        match restored_result(&fid, &cp.data, opts.evidence) {
            Ok(r) => {
                if let Some(fname) = fid.as_str().map(checkpoint_file_name) {
                    if fname != cp.file {
                        notes.push(format!(
                            "{} restored from {}, not from {fname} (the loader keys by the id inside)",
                            fid.as_str().unwrap_or(""),
                            cp.file
                        ));
                    }
                }
                kept_evidence |= r.get("evidence").is_some_and(truthy);
                let mut md = r.clone();
                for k in ["elapsed_seconds", "generation_cost_usd"] {
                    md.insert(k.into(), cp.data.get(k).cloned().unwrap_or_else(|| PyValue::from(0)));
                }
                results.push(PyValue::from(r));
                md_results.push(PyValue::from(md));
            }
            Err(why) => missing.push(miss(MissingReason::Unrestorable(why))),
        }
    }
    if kept_evidence {
        notes.push("evidence kept from checkpoints (OpenAnt's resume writes [])".to_owned());
    }
    for m in &missing {
        inexact.push(Inexact::new(
            format!("results[{}]", py_str(&m.finding_id).unwrap_or_default()),
            match &m.reason {
                MissingReason::NoCheckpoint => {
                    "no checkpoint: OpenAnt would re-run the test (LLM + Docker); left out".to_owned()
                }
                MissingReason::Errored => "checkpoint status ERROR: OpenAnt would re-run the test; left out".to_owned(),
                MissingReason::Stale(why) => format!("stale checkpoint ({why}); left out"),
                MissingReason::Unrestorable(why) => format!("checkpoint cannot be restored ({why}); left out"),
            },
        ));
    }

    // total_cost_usd: 0.0 + Σ generation_cost_usd over every loaded checkpoint (errored and stale
    // ones included), in the loader's order. Float addition: the last digits can depend on the
    // order, and OpenAnt sums in os.listdir order.
    let (mut cost, mut tin, mut tout) = (0.0f64, 0.0f64, 0.0f64);
    for cp in checkpoints.values() {
        for (key, acc) in [
            ("generation_cost_usd", &mut cost),
            ("generation_input_tokens", &mut tin),
            ("generation_output_tokens", &mut tout),
        ] {
            match cp.data.get(key).filter(|v| truthy(v)) {
                None => {}
                Some(v) => match v {
                    PyValue::Bool(b) => *acc += f64::from(u8::from(*b)),
                    PyValue::Int(_) | PyValue::Float(_) => *acc += v.as_f64().unwrap_or(0.0),
                    _ => {
                        return Err(fail(&format!("{key} in {} is not a number (the prior-usage sum raises)", cp.file)))
                    }
                },
            }
        }
    }
    let tracker_total = if cost > 0.0 || tin > 0.0 || tout > 0.0 { 0.0 + cost } else { 0.0 };
    let mut total_cost = PyValue::Float(python_round(tracker_total, 6));
    let mut md_total_cost = py_format_fixed(&PyValue::Float(tracker_total), 4).unwrap_or_default();
    let old_md = opts.old_markdown.read(
        scan_dir.join("DYNAMIC_TEST_RESULTS.md"),
        "old DYNAMIC_TEST_RESULTS.md (date, total cost)",
        &mut inputs,
    );
    let scan_report = JsonInput::load(&scan_dir.join("scan.report.json"));
    let in_scan = scan_report
        .value()
        .and_then(|s| s.get("summary"))
        .and_then(|s| s.get("steps_completed"))
        .and_then(PyValue::as_array)
        .is_some_and(|a| a.iter().any(|s| s.as_str() == Some("dynamic-test")));
    let salvaged_cost = old_salvaged.as_ref().and_then(|old| old.field("total_cost_usd").cloned());
    match salvaged_cost {
        Some(c) if missing.is_empty() => total_cost = c,
        _ if !missing.is_empty() => inexact.push(Inexact::new(
            "total_cost_usd",
            "findings would be re-run, adding their cost; only the checkpointed cost is counted",
        )),
        _ if carried > 0 => inexact.push(Inexact::new(
            "total_cost_usd",
            "the cost of the findings carried over from the old file is in no checkpoint: only the checkpointed \
             cost is counted",
        )),
        _ if in_scan => inexact.push(Inexact::new(
            "total_cost_usd",
            "made inside `scan`, whose tracker also held every earlier step's cost (not reconstructable); \
             written as a standalone resume would: round(Σ checkpoint generation_cost_usd, 6)",
        )),
        _ => notes.push(
            "total_cost_usd summed over the checkpoints in file-name order (OpenAnt: os.listdir order; float sums \
             can differ in the last digit)"
                .to_owned(),
        ),
    }

    let mut o = PyObject::default();
    o.insert("repository".into(), repo.clone());
    o.insert("total_findings".into(), PyValue::from(findings.len()));
    o.insert("total_cost_usd".into(), total_cost);
    o.insert("results".into(), PyValue::Array(results));
    let value = PyValue::from(o);
    let text = pyjson::to_python_string(&value, false).map_err(RegenError::from)?;
    let crlf = old_json.as_deref().is_some_and(|b| b.starts_with(b"{\r\n"));
    let bytes = if crlf { text.replace('\n', "\r\n") } else { text };

    // Markdown.
    let mut md_inexact = Vec::new();
    let mut md_notes = Vec::new();
    let date = match old_md.as_deref().and_then(|b| salvage_md_line(b, "**Date:**")) {
        Some(d) => d,
        None => {
            let d = markdown_date(opts.now.unwrap_or_else(Utc::now));
            md_inexact.push(Inexact::new("**Date:**", format!("the report time is not recorded; set to {d}")));
            d
        }
    };
    match old_md.as_deref().and_then(|b| salvage_md_line(b, "**Total Cost:**")) {
        Some(c) if missing.is_empty() => md_total_cost = c.trim_start_matches('$').to_owned(),
        _ if !missing.is_empty() || in_scan => {
            md_inexact.push(Inexact::new("**Total Cost:**", "the same tracker total as total_cost_usd (see there)"))
        }
        _ => {}
    }
    if !missing.is_empty() {
        md_inexact.push(Inexact::new("results", "findings without a restorable checkpoint are left out"));
    }
    if kept_evidence {
        md_notes.push("evidence blocks rendered from the checkpoints (OpenAnt's resume has none)".to_owned());
    }
    let (md, render_notes) = render_markdown(&md_results, &repo, &date, &md_total_cost);
    md_notes.extend(render_notes);
    let md_crlf = old_md.as_deref().is_some_and(|b| b.windows(2).any(|w| w == b"\r\n"));
    let md_bytes = if md_crlf { md.replace('\n', "\r\n") } else { md.clone() };
    let markdown = Rebuilt {
        value: PyValue::Str(md),
        bytes: md_bytes,
        missing_units: Vec::new(),
        inexact: md_inexact,
        inputs: inputs.clone(),
        notes: md_notes,
    };
    Ok(DynamicRebuild {
        json: Rebuilt { value, bytes, inexact, missing_units: Vec::new(), inputs, notes },
        markdown: Some(markdown),
        missing,
        skipped_checkpoints: skipped,
        no_testable_variant: false,
    })
}

/// [`rebuild_dynamic_results`] reading `scan_dir/pipeline_output.json`.
pub fn rebuild_dynamic_from_scan_dir(scan_dir: &Path, opts: &DynamicOptions) -> Result<DynamicRebuild, RegenError> {
    let path = scan_dir.join("pipeline_output.json");
    let pipeline = match JsonInput::load(&path) {
        JsonInput::Parsed(v) => v,
        JsonInput::Absent => return Err(RegenError::Input { path, reason: "missing (rebuild it first)".into() }),
        JsonInput::Unreadable(why) => {
            return Err(RegenError::Input { path, reason: format!("unreadable ({why}); rebuild it first") })
        }
    };
    let mut out = rebuild_dynamic_results(scan_dir, &pipeline, opts)?;
    let used = InputUsed { path, role: "pipeline_output.json (findings, repository name)" };
    out.json.inputs.insert(0, used.clone());
    if let Some(md) = &mut out.markdown {
        md.inputs.insert(0, used);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::parse;

    fn v(text: &str) -> PyValue {
        parse(text.as_bytes()).unwrap()
    }

    fn scan_with(checkpoints: &[(&str, &str)]) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("dynamic_test_checkpoints");
        std::fs::create_dir(&dir).unwrap();
        for (name, body) in checkpoints {
            std::fs::write(dir.join(name), body).unwrap();
        }
        tmp
    }

    const PO: &str = r#"{"repository": {"name": "demo"}, "findings": [
        {"id": "VULN-001", "stage2_verdict": "agreed", "location": {"function": "a.py:f"}},
        {"id": "VULN-002", "stage2_verdict": "vulnerable"},
        {"id": "VULN-003", "stage2_verdict": "rejected"},
        {"id": "VULN-004", "stage2_verdict": "agreed"}]}"#;

    fn opts() -> DynamicOptions {
        DynamicOptions { old_json: OldOutput::Ignore, old_markdown: OldOutput::Ignore, ..DynamicOptions::default() }
    }

    #[test]
    fn restores_by_id_and_lists_what_it_cannot() {
        let tmp = scan_with(&[
            // Restored; of two files with the same id, the one `save` names (safe_filename(id))
            // wins over a foreign name, even one that sorts last (the one loader's rule).
            (
                "VULN-001.json",
                r#"{"finding_id": "VULN-001", "status": "CONFIRMED", "evidence": [{"type": "http_response", "content": "ok"}], "elapsed_seconds": 2.675, "generation_cost_usd": 0.2, "id": "VULN-001"}"#,
            ),
            (
                "VULN-001~copy.json",
                r#"{"finding_id": "VULN-001", "status": "BLOCKED", "generation_cost_usd": 0.1, "id": "VULN-001"}"#,
            ),
            // Errored: re-run by OpenAnt, so missing here; its cost still counts.
            // (Every checkpoint has the step's shape, `finding_id` included, as `to_dict()` writes
            // it: the one loader skips a file `check` calls the wrong shape.)
            (
                "VULN-002.json",
                r#"{"finding_id": "VULN-002", "status": "ERROR", "generation_cost_usd": 0.05, "id": "VULN-002"}"#,
            ),
            // Stale: written for another finding.
            ("VULN-003.json", r#"{"finding_id": "VULN-009", "status": "CONFIRMED", "id": "VULN-003"}"#),
            // Torn, and a checkpoint for a finding that no longer exists (cost counted).
            ("VULN-004.json", r#"{"finding_id": "VULN-004", "sta"#),
            (
                "VULN-009.json",
                r#"{"finding_id": "VULN-009", "status": "ERROR", "generation_cost_usd": 0.05, "id": "VULN-009"}"#,
            ),
            ("_summary.json", r#"{"step": "dynamic_test", "total_units": 9}"#),
        ]);
        let out = rebuild_dynamic_results(tmp.path(), &v(PO), &opts()).unwrap();
        let results = out.json.value.get("results").and_then(PyValue::as_array).unwrap();
        assert_eq!(results.len(), 1);
        let r = &results[0];
        assert_eq!(r.get("status"), Some(&v("\"CONFIRMED\"")));
        assert_eq!(r.get("elapsed_seconds"), Some(&v("2.67")));
        assert_eq!(r.get("retry_count"), Some(&v("0")));
        assert_eq!(r.get("evidence").and_then(PyValue::as_array).map(Vec::len), Some(1));
        let reasons: Vec<(&str, &MissingReason)> =
            out.missing.iter().map(|m| (m.finding_id.as_str().unwrap(), &m.reason)).collect();
        assert_eq!(reasons[0], ("VULN-002", &MissingReason::Errored));
        assert!(matches!(reasons[1], ("VULN-003", MissingReason::Stale(_))));
        assert_eq!(reasons[2], ("VULN-004", &MissingReason::NoCheckpoint));
        assert_eq!(out.skipped_checkpoints.len(), 1);
        assert_eq!(out.skipped_checkpoints[0].file, "VULN-004.json");
        // 0.2 (the winning VULN-001 file) + 0.05 + 0.0 + 0.05, every loaded id included.
        assert_eq!(out.json.value.get("total_cost_usd"), Some(&v("0.3")));
        assert!(out.json.is_inexact("total_cost_usd"));
        assert!(out.json.is_inexact("results[VULN-003]"));
        assert!(out.json.notes.iter().any(|n| n.contains("counts 9 findings")));
        assert!(out
            .json
            .notes
            .iter()
            .any(|n| n.starts_with("checkpoint VULN-001.json: id \"VULN-001\" appears in 2 files")));
        assert!(out.json.notes.iter().any(|n| n == "evidence kept from checkpoints (OpenAnt's resume writes [])"));
        let resume = DynamicOptions { evidence: EvidencePolicy::AsOpenAntResume, ..opts() };
        let out = rebuild_dynamic_results(tmp.path(), &v(PO), &resume).unwrap();
        assert_eq!(
            out.json.value.get("results").and_then(|r| r.as_array()).unwrap()[0].get("evidence"),
            Some(&v("[]"))
        );
    }

    #[test]
    fn torn_or_gone_checkpoints_keep_the_old_result_of_the_same_finding_list() {
        let tmp = scan_with(&[
            (
                "VULN-001.json",
                r#"{"finding_id": "VULN-001", "status": "BLOCKED", "generation_cost_usd": 0.1, "id": "VULN-001"}"#,
            ),
            ("VULN-002.json", r#"{"finding_id": "VULN-002", "sta"#),
        ]);
        let old = |total: usize| {
            format!(
                r#"{{"repository": "demo", "total_findings": {total}, "total_cost_usd": 0.7, "results": [
                {{"finding_id": "VULN-002", "status": "CONFIRMED", "evidence": [{{"type": "t", "content": "c"}}], "generation_cost_usd": 0.2}},
                {{"finding_id": "VULN-004", "status": "NOT_REPRODUCED", "evidence": [], "generation_cost_usd": 0.4}},
                {{"finding_id": "VULN-003", "status": "BLO"#
            )
        };
        let with_old = |total| DynamicOptions { old_json: OldOutput::Bytes(old(total).into_bytes()), ..opts() };
        let out = rebuild_dynamic_results(tmp.path(), &v(PO), &with_old(4)).unwrap();
        let results = out.json.value.get("results").and_then(PyValue::as_array).unwrap();
        let ids: Vec<&str> = results.iter().map(|r| r.get("finding_id").unwrap().as_str().unwrap()).collect();
        assert_eq!(ids, ["VULN-001", "VULN-002", "VULN-004"]);
        // Carried over verbatim, evidence included.
        assert_eq!(results[1].get("evidence").and_then(PyValue::as_array).map(Vec::len), Some(1));
        let note = |f: &str| out.json.inexact.iter().find(|n| n.field == format!("finding {f}")).unwrap().note.clone();
        assert!(note("VULN-002").contains("dynamic_test_results.json: its checkpoint is torn"), "{}", note("VULN-002"));
        assert!(note("VULN-004").contains("it has no dynamic-test checkpoint"), "{}", note("VULN-004"));
        // VULN-003's old entry is torn: not carried over, and OpenAnt re-runs it.
        let missing: Vec<&str> = out.missing.iter().map(|m| m.finding_id.as_str().unwrap()).collect();
        assert_eq!(missing, ["VULN-003"]);
        assert!(out.json.is_inexact("total_cost_usd"));
        // With every finding accounted for, the old total stands.
        let two = r#"{"repository": {"name": "demo"}, "findings": [
            {"id": "VULN-001", "stage2_verdict": "agreed"}, {"id": "VULN-002", "stage2_verdict": "agreed"}]}"#;
        let out = rebuild_dynamic_results(tmp.path(), &v(two), &with_old(2)).unwrap();
        assert!(out.missing.is_empty());
        assert_eq!(out.json.value.get("total_cost_usd"), Some(&v("0.7")));
        // An old file written for another finding list is never used: VULN ids are positional.
        let out = rebuild_dynamic_results(tmp.path(), &v(PO), &with_old(5)).unwrap();
        let missing: Vec<&str> = out.missing.iter().map(|m| m.finding_id.as_str().unwrap()).collect();
        assert_eq!(missing, ["VULN-002", "VULN-003", "VULN-004"]);
    }

    #[test]
    fn restored_values_follow_to_dict() {
        let cp = v(r#"{"status": "NOT_REPRODUCED", "elapsed_seconds": 3, "generation_cost_usd": 5e-07, "id": "X"}"#);
        let r = restored_result(&v("\"X\""), cp.as_object().unwrap(), EvidencePolicy::KeepFromCheckpoints).unwrap();
        let text = pyjson::to_python_string(&PyValue::from(r), false).unwrap();
        assert_eq!(
            text,
            "{\n  \"finding_id\": \"X\",\n  \"status\": \"NOT_REPRODUCED\",\n  \"details\": \"\",\n  \"evidence\": [],\n  \
             \"test_code\": \"\",\n  \"dockerfile\": \"\",\n  \"docker_compose\": \"\",\n  \"elapsed_seconds\": 3,\n  \
             \"generation_cost_usd\": 0.0,\n  \"generation_input_tokens\": 0,\n  \"generation_output_tokens\": 0,\n  \
             \"retry_count\": 0\n}"
        );
        let bad = v(r#"{"status": "CONFIRMED", "elapsed_seconds": null, "id": "X"}"#);
        assert!(restored_result(&v("\"X\""), bad.as_object().unwrap(), EvidencePolicy::KeepFromCheckpoints).is_err());
    }

    #[test]
    fn markdown_layout() {
        let results = v(r#"[
          {"finding_id": "VULN-002", "status": "ERROR", "details": "d2", "evidence": [], "test_code": "", "elapsed_seconds": 0, "generation_cost_usd": 0},
          {"finding_id": "VULN-001", "status": "CONFIRMED", "details": "d1", "evidence": [{"type": "command_output", "content": "uid=0"}],
           "test_code": "print(1)", "elapsed_seconds": 12.25, "generation_cost_usd": 0.00125}]"#);
        let (md, notes) =
            render_markdown(results.as_array().unwrap(), &v("\"demo\""), "2026-05-14 10:05:00 UTC", "0.0013");
        assert!(notes.is_empty());
        let want = "# Dynamic Test Results: demo\n\n**Date:** 2026-05-14 10:05:00 UTC\n**Total Findings Tested:** 2\n\
**Total Cost:** $0.0013\n\n## Summary\n\n| Status | Count |\n|--------|-------|\n| CONFIRMED | 1 |\n\
| NOT_REPRODUCED | 0 |\n| BLOCKED | 0 |\n| INCONCLUSIVE | 0 |\n| ERROR | 1 |\n| **Total** | **2** |\n\n\
## CONFIRMED (1)\n\n### VULN-001\n\n**Status:** CONFIRMED\n**Details:** d1\n**Time:** 12.2s\n**Generation Cost:** $0.0013\n\n\
**Evidence:**\n\n- **command_output:**\n```\nuid=0\n```\n\n<details>\n<summary>Generated Test Code</summary>\n\n```python\n\
print(1)\n```\n\n</details>\n\n## ERROR (1)\n\n### VULN-002\n\n**Status:** ERROR\n**Details:** d2\n**Time:** 0.0s\n\
**Generation Cost:** $0.0000\n";
        assert_eq!(md, want);
        // Evidence content is cut at 2000 characters (not bytes).
        let long = format!(
            r#"[{{"finding_id": "V", "status": "BLOCKED", "details": "", "evidence": [{{"type": "t", "content": "{}"}}], "test_code": "", "elapsed_seconds": 1.0, "generation_cost_usd": 0.0}}]"#,
            "é".repeat(2100)
        );
        let (md, _) = render_markdown(v(&long).as_array().unwrap(), &v("\"r\""), "d", "0.0000");
        assert!(md.contains(&format!("```\n{}\n```", "é".repeat(2000))));
    }

    #[test]
    fn salvages_markdown_lines_only_when_complete() {
        let md = b"# Dynamic Test Results: x\n\n**Date:** 2026-05-14 10:05:00 UTC\n**Total Findings Tested:** 1\n**Total Cost:** $0.1234";
        assert_eq!(salvage_md_line(md, "**Date:**").as_deref(), Some("2026-05-14 10:05:00 UTC"));
        assert_eq!(salvage_md_line(md, "**Total Cost:**"), None);
        assert_eq!(salvage_md_line(&md[..40], "**Date:**"), None);
    }
}
