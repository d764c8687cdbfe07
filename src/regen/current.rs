//! `results.json` and `results_verified.json` as today's OpenAnt writes them (the
//! identity-gate era, spec/openant-current.md §3; `core/analyzer.py@06f37c27`,
//! `core/verifier.py@088cf150`, `core/checkpoint.py#60850865867`), rebuilt as "re-run the step
//! with every unit restored from its checkpoint". The older eras' builders are
//! [`super::results`] and [`super::verified`]; which one applies is decided per output by
//! [`crate::era::builder_for`].
//!
//! What differs from May's builders, from the code:
//! * results.json: keys `dataset, model, provider, timestamp, metrics, results, code_by_route,
//!   analyze_fingerprint`; `model`/`provider` are the analyze binding's (any provider's model id);
//!   `analyze_fingerprint` is the `key_digest` of the `analyze_checkpoints/_fingerprint.json`
//!   the run stamped; metrics end with `enhance_unclassified_analyzed` (rows whose own
//!   `security_classification` is a sentinel: `incomplete`, `error`, `unknown`); counting: the
//!   effective finding (a non-blank `finding`, else a non-blank `verdict`), none → `errors`,
//!   lower-cased and folded (`insufficient_context` → `inconclusive`), a bucket name → that
//!   bucket, anything else → `errors`. A checkpoint is adopted unless its result is an error
//!   (`analyze_result_is_error`) or stale (a sentinel-classified row whose unit now has a
//!   completed classification, #611). `--limit` keeps the highest-priority units
//!   (exploitable > vulnerable_internal > other, stable) before cutting.
//! * results_verified.json: candidates are rows whose `str(finding or verdict)` lower-cased is
//!   vulnerable/bypassable; metrics recounted in three states (a row with a truthy `error` →
//!   `errors`; `verification.incomplete` → `needs_review`; else the lower-cased
//!   `finding or verdict or "error"` when it is a metrics key, else `verdict == "ERROR"` →
//!   `errors`, else uncounted); `confirmed_findings` keeps every verified row whose final finding
//!   is vulnerable/bypassable, errored and incomplete ones included (#284, by design).

use chrono::NaiveDateTime;
use indexmap::IndexMap;

use super::checkpoints::CheckpointSet;
use super::last_use::take_member;
use super::py::{id_text, key_text, py_str, truthy};
use super::results::{
    analyze_timestamp, carry_stage1_updates, dataset_units, note_dataset_rename, note_stage1_groups, reorder,
    truncate_like_slice, uid_of, unit_code, unit_sources, Dataset, Unit,
};
use super::salvage::SalvagedFields;
use super::{Inexact, Rebuilt, RegenError};
use crate::layout::safe_filename::checkpoint_file_name;
use crate::pyjson::{to_python_string, PyObject, PyValue};

/// `SENTINEL_CLASSIFICATIONS` of `core/verdict_taxonomy.py@0b939ffa` (#611).
pub const SENTINEL_CLASSIFICATIONS: &[&str] = &["incomplete", "error", "unknown"];

/// A value with where it came from, for the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Sourced {
    pub value: PyValue,
    pub source: String,
}

/// What today's `analyze` was run with and on.
#[derive(Debug, Clone)]
pub struct CurrentAnalyze<'a> {
    pub dataset: Dataset<'a>,
    /// `basename(dataset path)`.
    pub dataset_name: String,
    /// `inputs.limit` of `analyze.report.json` (null or 0: no limit).
    pub limit: Option<PyValue>,
    /// `--exploitable` (standalone analyze only).
    pub exploitable_filter: Option<PyValue>,
    /// The analyze binding's model id.
    pub model: Sourced,
    /// The analyze binding's provider name.
    pub provider: Sourced,
    /// The `key_digest` of `analyze_checkpoints/_fingerprint.json`.
    pub analyze_fingerprint: Sourced,
    /// The scan's `results_verified.json` as far as it reads: its unchanged stage-1 rows stand
    /// in for units neither a checkpoint nor the old results.json holds.
    pub verified: Option<&'a SalvagedFields>,
}

/// Where `model` and `provider` of a today's results.json come from: the old file, else
/// `analyze.report.json` `inputs`, else the analyze dir's `_fingerprint.json` (`model`,
/// `provider_name`). A value no source holds is never invented: the error says so.
pub fn pick_identity(
    key: &str,
    old: Option<&SalvagedFields>,
    report: Option<&PyValue>,
    fingerprint: Option<&PyValue>,
) -> Result<Sourced, RegenError> {
    let usable = |v: &PyValue| v.as_str().is_some_and(|s| !s.is_empty());
    if let Some(v) = old.and_then(|o| o.field(key)).filter(|v| usable(v)) {
        return Ok(Sourced { value: v.clone(), source: "the old results.json".to_owned() });
    }
    if let Some(v) = report.and_then(|r| r.get("inputs")).and_then(|i| i.get(key)).filter(|v| usable(v)) {
        return Ok(Sourced { value: v.clone(), source: "analyze.report.json inputs".to_owned() });
    }
    let fp_key = if key == "provider" { "provider_name" } else { key };
    if let Some(v) = fingerprint.and_then(|f| f.get(fp_key)).filter(|v| usable(v)) {
        return Ok(Sourced { value: v.clone(), source: format!("analyze_checkpoints/_fingerprint.json {fp_key}") });
    }
    Err(RegenError::BadInput(format!(
        "the analyze {key} is not recorded anywhere (no old results.json, analyze.report.json inputs or \
         analyze_checkpoints/_fingerprint.json holds it), and scanaudit never writes a {key} that was not used"
    )))
}

/// `analyze_fingerprint`: the `key_digest` of the analyze dir's sidecar, which the run that wrote
/// results.json stamped into it; else the old file's, when the sidecar is gone or unreadable.
pub fn pick_fingerprint(old: Option<&SalvagedFields>, fingerprint: Option<&PyValue>) -> Result<Sourced, RegenError> {
    if let Some(d) = fingerprint.and_then(|f| f.get("key_digest")).filter(|d| d.as_str().is_some()) {
        return Ok(Sourced { value: d.clone(), source: "analyze_checkpoints/_fingerprint.json key_digest".to_owned() });
    }
    if let Some(d) = old.and_then(|o| o.field("analyze_fingerprint")) {
        return Ok(Sourced { value: d.clone(), source: "the old results.json".to_owned() });
    }
    Err(RegenError::BadInput(
        "analyze_fingerprint is not known: analyze_checkpoints/_fingerprint.json is missing or unreadable and the \
         old results.json holds none; without it the next `openant verify` discards its checkpoints"
            .to_owned(),
    ))
}

/// A unit's `security_classification`, agent_context first, then llm_context (strings only).
fn unit_classification(unit: &PyValue) -> Option<&str> {
    for ctx in ["agent_context", "llm_context"] {
        if let Some(c) = unit.get(ctx).and_then(|c| c.get("security_classification")).filter(|c| !c.is_null()) {
            return c.as_str();
        }
    }
    None
}

/// The units today's `run_analysis` analyzes, in order.
pub fn analyzed_units<'a>(inp: &CurrentAnalyze<'a>) -> Result<Vec<Unit<'a>>, RegenError> {
    let mut units = dataset_units(inp.dataset)?;
    if units.iter().any(|u| u.get("diff_selected").is_some()) {
        units.retain(|u| u.get("diff_selected").is_some_and(truthy));
    }
    if let Some(filter) = inp.exploitable_filter.as_ref().filter(|f| truthy(f)) {
        let keep: &[&str] =
            if filter.as_str() == Some("strict") { &["exploitable"] } else { &["exploitable", "vulnerable_internal"] };
        units.retain(|u| unit_classification(u).is_some_and(|c| keep.contains(&c)));
    }
    if let Some(limit) = inp.limit.as_ref().filter(|l| truthy(l)) {
        let Some(n) = limit.as_int().and_then(|n| n.as_i128()) else {
            return Err(RegenError::BadInput(format!("analyze limit {limit:?} is not an integer")));
        };
        // `_apply_limit`: a stable sort by priority, highest first, then `[:n]`.
        let priority = |u: &PyValue| match unit_classification(u) {
            Some("exploitable") => 2,
            Some("vulnerable_internal") => 1,
            _ => 0,
        };
        units.sort_by_key(|u| std::cmp::Reverse(priority(u)));
        truncate_like_slice(&mut units, n);
    }
    Ok(units)
}

/// `analyze_result_is_error` (`core/checkpoint.py`): not an object, `verdict == "ERROR"`,
/// `finding == "error"`, or neither a non-blank verdict nor a non-blank finding.
pub fn analyze_result_is_error(res: Option<&PyValue>) -> bool {
    let Some(res @ PyValue::Object(_)) = res else { return true };
    let verdict = res.get("verdict");
    let finding = res.get("finding");
    if verdict.and_then(PyValue::as_str) == Some("ERROR") || finding.and_then(PyValue::as_str) == Some("error") {
        return true;
    }
    let effective = |v: Option<&PyValue>| v.and_then(PyValue::as_str).is_some_and(|s| !s.trim().is_empty());
    !(effective(verdict) || effective(finding))
}

/// `_cp_is_stale` (#611): the checkpoint's row is sentinel-classified while the unit now has a
/// completed classification.
fn is_stale(cp: &PyValue, unit: &PyValue) -> bool {
    let Some(cp_cls) = cp.get("result").and_then(|r| r.get("security_classification")).and_then(PyValue::as_str) else {
        return false;
    };
    SENTINEL_CLASSIFICATIONS.contains(&cp_cls)
        && unit_classification(unit).is_some_and(|c| !SENTINEL_CLASSIFICATIONS.contains(&c))
}

/// `fold_legacy_finding`, as far as it is known (#623): `insufficient_context` is
/// `inconclusive`. The function's own text was not found upstream.
fn fold_legacy_finding(finding: &str) -> &str {
    match finding {
        "insufficient_context" => "inconclusive",
        other => other,
    }
}

/// Today's `_count_verdicts` (`core/analyzer.py@06f37c27`): every row counts exactly once.
pub fn count_verdicts_current(results: &[PyValue]) -> PyObject {
    let mut counts: IndexMap<&str, i64> =
        ["vulnerable", "bypassable", "inconclusive", "protected", "safe", "errors"].iter().map(|k| (*k, 0)).collect();
    for r in results {
        if r.is_null() {
            continue;
        }
        let effective = |k: &str| r.get(k).and_then(PyValue::as_str).filter(|s| !s.trim().is_empty());
        let Some(finding) = effective("finding").or_else(|| effective("verdict")) else {
            counts["errors"] += 1;
            continue;
        };
        let lowered = finding.to_lowercase();
        match counts.get_mut(fold_legacy_finding(&lowered)) {
            Some(n) => *n += 1,
            None => counts["errors"] += 1,
        }
    }
    counts.into_iter().map(|(k, v)| (k.to_owned(), PyValue::from(v))).collect()
}

/// `enhance_unclassified_analyzed` (#611): rows whose own `security_classification` is a
/// sentinel string.
pub fn enhance_unclassified_analyzed(results: &[PyValue]) -> usize {
    results
        .iter()
        .filter(|r| {
            r.get("security_classification")
                .and_then(PyValue::as_str)
                .is_some_and(|c| SENTINEL_CLASSIFICATIONS.contains(&c))
        })
        .count()
}

/// Rebuilds today's `results.json` (ensure_ascii=True). Units without an adoptable checkpoint
/// keep their complete old entry when the old file has one that is not an error; otherwise an
/// errored or stale checkpoint's row is used (what a failed retry writes) and the unit is named
/// in [`Rebuilt::missing_units`], or the unit is left out. The rows and `code_for_route` values
/// used are moved out of `checkpoints` (a null left in their place) rather than copied.
pub fn rebuild_results_current(
    inp: &CurrentAnalyze<'_>,
    checkpoints: &mut CheckpointSet,
    salvaged: Option<&SalvagedFields>,
    now: NaiveDateTime,
) -> Result<Rebuilt, RegenError> {
    let units = analyzed_units(inp)?;
    let (sources, mut uses) = unit_sources(&units, checkpoints);
    let mut inexact = Vec::new();
    let mut missing = Vec::new();
    let mut results = Vec::with_capacity(units.len());
    let mut adopted: Vec<(PyValue, PyValue)> = Vec::new();
    let mut rerun: Vec<(PyValue, PyValue)> = Vec::new();
    for (i, (unit, source)) in units.iter().zip(sources).enumerate() {
        let uid = uid_of(i, unit);
        let label = id_text(&uid);
        let route = |cp: &mut PyValue, last: bool| {
            (
                cp.get("route_key").cloned().unwrap_or_else(|| uid.clone()),
                take_member(cp, "code_for_route", last).unwrap_or_else(|| PyValue::from("")),
            )
        };
        let row = |cp: &mut PyValue, last: bool| take_member(cp, "result", last).unwrap_or_else(PyValue::object);
        if let Some(file) = source {
            let last = uses.last(file);
            let cp = &mut checkpoints.files[file].data;
            let error = analyze_result_is_error(cp.get("result"));
            let stale = !error && is_stale(cp, unit);
            if !error && !stale {
                adopted.push(route(cp, last));
                results.push(row(cp, last));
                continue;
            }
            if let Some(old) = old_row(&uid, salvaged) {
                inexact.push(Inexact::new(
                    format!("unit {label}"),
                    format!(
                        "kept its entry of the old results.json: its checkpoint is {} (the next `openant analyze` redoes it)",
                        if error { "an error" } else { "stale (the unit was re-enhanced since, #611)" }
                    ),
                ));
                adopted.push(old_route(&uid, unit, old, salvaged));
                results.push(old.clone());
                missing.push(label);
                continue;
            }
            inexact.push(Inexact::new(
                format!("unit {label}"),
                if error {
                    "its analyze checkpoint is an error: used that error row (what a failed retry writes); re-run `openant analyze` to retry it"
                } else {
                    "its analyze checkpoint is stale (the unit was re-enhanced since, #611): used its row; re-run `openant analyze` to redo it"
                },
            ));
            rerun.push(route(cp, last));
            results.push(row(cp, last));
            missing.push(label);
            continue;
        }
        let torn = uid.as_str().is_some_and(|id| checkpoints.unreadable(&checkpoint_file_name(id)).is_some());
        let why = if torn { "its checkpoint is torn" } else { "it has no analyze checkpoint" };
        let from_verified = || {
            let row = inp.verified?.stage1_row_of_verified(uid.as_str()?)?;
            (!analyze_result_is_error(Some(&row))).then_some(row)
        };
        match old_row(&uid, salvaged) {
            Some(old) => {
                inexact.push(Inexact::new(
                    format!("unit {label}"),
                    format!("carried over from the old results.json: {why} (the next `openant analyze` redoes it)"),
                ));
                adopted.push(old_route(&uid, unit, old, salvaged));
                results.push(old.clone());
            }
            None => match from_verified() {
                Some(row) => {
                    inexact.push(Inexact::new(
                        format!("unit {label}"),
                        format!(
                            "carried over from results_verified.json (a row verify left as stage 1 wrote it): {why} \
                             (the next `openant analyze` redoes it)"
                        ),
                    ));
                    // Today's results_verified.json has no code_by_route: analyze's own value.
                    adopted.push((row.get("route_key").cloned().unwrap_or_else(|| uid.clone()), unit_code(unit)));
                    results.push(row);
                }
                None => {
                    inexact.push(Inexact::new(
                        format!("unit {label}"),
                        format!("{why}, and the old results.json holds no entry for it (nor results_verified.json its stage-1 row): left out (metrics.total still counts it); re-run `openant analyze`"),
                    ));
                    missing.push(label);
                }
            },
        }
    }
    let mut code_by_route = PyObject::default();
    for (key, code) in adopted.into_iter().chain(rerun) {
        match key_text(&key) {
            Some(k) => {
                code_by_route.entry(k).or_insert(code);
            }
            None => inexact.push(Inexact::new("code_by_route", "a route_key is a list or object: entry left out")),
        }
    }
    let old_cbr = salvaged.and_then(|s| s.field("code_by_route")).and_then(PyValue::as_object);
    match old_cbr {
        Some(old) if old.len() == code_by_route.len() && old.keys().all(|k| code_by_route.contains_key(k)) => {
            if !old.keys().eq(code_by_route.keys()) {
                reorder(&mut code_by_route, old.keys());
                inexact.push(Inexact::new("code_by_route", "key order taken from the old results.json"));
            }
        }
        _ => inexact.push(Inexact::new(
            "code_by_route",
            "keys in restore order (adopted units in dataset order, then re-run ones); a run that analyzed units \
             itself wrote their completion order, which is not recoverable (the contents are exact)",
        )),
    }
    carry_stage1_updates(&mut results, salvaged, &mut inexact);
    note_stage1_groups(&results, &mut inexact);

    let mut metrics = PyObject::default();
    metrics.insert("total".to_owned(), PyValue::from(units.len()));
    metrics.extend(count_verdicts_current(&results));
    metrics.insert("enhance_unclassified_analyzed".to_owned(), PyValue::from(enhance_unclassified_analyzed(&results)));

    let timestamp = analyze_timestamp(salvaged, now, &mut inexact);
    for (key, s) in
        [("model", &inp.model), ("provider", &inp.provider), ("analyze_fingerprint", &inp.analyze_fingerprint)]
    {
        if s.source != "the old results.json" {
            inexact.push(Inexact::new(key, format!("taken from {}", s.source)));
        }
        if let Some(old) = salvaged.and_then(|o| o.field(key)).filter(|o| **o != s.value) {
            inexact
                .push(Inexact::new(key, format!("the old file had {old:?}; written {:?} from {}", s.value, s.source)));
        }
    }
    note_dataset_rename(salvaged, &inp.dataset_name, &mut inexact);

    let mut doc = PyObject::default();
    doc.insert("dataset".to_owned(), PyValue::from(inp.dataset_name.clone()));
    doc.insert("model".to_owned(), inp.model.value.clone());
    doc.insert("provider".to_owned(), inp.provider.value.clone());
    doc.insert("timestamp".to_owned(), timestamp);
    doc.insert("metrics".to_owned(), PyValue::from(metrics));
    doc.insert("results".to_owned(), PyValue::Array(results));
    doc.insert("code_by_route".to_owned(), PyValue::from(code_by_route));
    doc.insert("analyze_fingerprint".to_owned(), inp.analyze_fingerprint.value.clone());
    let value = PyValue::from(doc);
    let bytes = to_python_string(&value, true)?;
    Ok(Rebuilt::new(value, bytes, inexact, missing))
}

/// The old file's complete, non-error row of this unit.
fn old_row<'s>(uid: &PyValue, salvaged: Option<&'s SalvagedFields>) -> Option<&'s PyValue> {
    let id = uid.as_str()?;
    let old = salvaged?.result_for(id)?;
    (matches!(old, PyValue::Object(_)) && old.get("unit_id").and_then(PyValue::as_str) == Some(id))
        .then_some(old)
        .filter(|o| !analyze_result_is_error(Some(o)))
}

/// The `code_by_route` entry of a unit whose old row is kept: the old file's entry when it was
/// read, else the unit's code as analyze stores it.
fn old_route(uid: &PyValue, unit: &Unit<'_>, old: &PyValue, salvaged: Option<&SalvagedFields>) -> (PyValue, PyValue) {
    let key = old.get("route_key").cloned().unwrap_or_else(|| uid.clone());
    let code = salvaged
        .and_then(|s| s.field("code_by_route"))
        .and_then(|c| c.get(&key_text(&key)?).cloned())
        .unwrap_or_else(|| unit_code(unit));
    (key, code)
}

/// `str(r.get("finding") or r.get("verdict", ""))` lower-cased (verify's candidate read).
fn final_finding(r: &PyValue) -> String {
    let v = match r.get("finding").filter(|f| truthy(f)) {
        Some(f) => f.clone(),
        None => r.get("verdict").cloned().unwrap_or_else(|| PyValue::from("")),
    };
    py_str(&v).unwrap_or_default().to_lowercase()
}

fn is_candidate(r: &PyValue) -> bool {
    matches!(final_finding(r).as_str(), "vulnerable" | "bypassable")
}

/// Today's three-state recount of `results_verified.json` (`_write_verified_results`).
pub fn recount_verified(merged: &[PyValue]) -> PyObject {
    let mut counts: IndexMap<&str, i64> =
        ["vulnerable", "bypassable", "inconclusive", "protected", "safe", "errors", "needs_review"]
            .iter()
            .map(|k| (*k, 0))
            .collect();
    for r in merged {
        if r.get("error").is_some_and(truthy) {
            counts["errors"] += 1;
            continue;
        }
        if r.get("verification").and_then(|v| v.as_object()).and_then(|v| v.get("incomplete")).is_some_and(truthy) {
            counts["needs_review"] += 1;
            continue;
        }
        let word = [r.get("finding"), r.get("verdict")]
            .into_iter()
            .flatten()
            .find(|v| truthy(v))
            .cloned()
            .unwrap_or_else(|| PyValue::from("error"));
        let word = py_str(&word).unwrap_or_default().to_lowercase();
        if let Some(n) = counts.get_mut(word.as_str()) {
            *n += 1;
        } else if r.get("verdict").and_then(PyValue::as_str) == Some("ERROR") {
            counts["errors"] += 1;
        }
    }
    let mut out = PyObject::default();
    out.insert("total".to_owned(), PyValue::from(merged.len()));
    out.extend(counts.into_iter().map(|(k, v)| (k.to_owned(), PyValue::from(v))));
    out
}

/// The keys a verify record sets on its row.
const VERIFY_KEYS: [&str; 3] = ["verification", "finding", "verification_note"];

/// What an errored verify run appends to a row, in that order (`finding_verifier.py@03a2feee`,
/// docs/openant-eras.md §1.2): `finding` keeps its Stage-1 value and place.
const ERRORED_VERIFY_KEYS: [&str; 3] = ["error", "verification", "verification_note"];

/// Rebuilds today's `results_verified.json` (ensure_ascii=False) from the results document
/// verify read and the verify checkpoints. An errored three-state record (top-level `error`)
/// is restored as a failed retry writes it, `error` included, and its unit named in
/// [`Rebuilt::missing_units`]; a candidate without a usable checkpoint keeps the verification
/// of its old row (its `error` too), or stays unverified.
pub fn rebuild_verified_current(
    results_doc: PyValue,
    checkpoints: &CheckpointSet,
    salvaged: Option<&SalvagedFields>,
) -> Result<Rebuilt, RegenError> {
    let PyValue::Object(mut experiment) = results_doc else {
        return Err(RegenError::BadInput("results.json is not a JSON object".to_owned()));
    };
    // `normalize_results`: non-object rows are dropped. The rows are moved out: nothing below
    // reads the document's own `results`.
    let mut all_results: Vec<PyValue> = match experiment.get_mut("results") {
        None => Vec::new(),
        Some(PyValue::Array(r)) => std::mem::take(r).into_iter().filter(|r| matches!(r, PyValue::Object(_))).collect(),
        Some(_) => return Err(RegenError::BadInput("results.json `results` is not a list".to_owned())),
    };
    let mut inexact = Vec::new();
    let mut missing = Vec::new();
    let candidates: Vec<usize> = (0..all_results.len()).filter(|&i| is_candidate(&all_results[i])).collect();
    for &i in &candidates {
        let key = match all_results[i].get("unit_id").filter(|u| truthy(u)) {
            Some(u) => u.clone(),
            None => all_results[i].get("route_key").cloned().unwrap_or_else(|| PyValue::from("unknown")),
        };
        let label = id_text(&key);
        let cp = key.as_str().and_then(|k| checkpoints.get(k));
        let PyValue::Object(row) = &mut all_results[i] else { continue };
        let restorable = |v: &PyValue| {
            v.get("verification").is_some_and(truthy)
                && v.get("verification").and_then(|v| v.get("correct_finding")).and_then(PyValue::as_str)
                    != Some("error")
        };
        match cp {
            Some(cp) if restorable(&cp.data) && !cp.data.get("error").is_some_and(truthy) => {
                for k in VERIFY_KEYS {
                    if let Some(v) = cp.data.get(k) {
                        row.insert(k.to_owned(), v.clone());
                    }
                }
            }
            Some(cp) if cp.data.get("error").is_some_and(truthy) => {
                for k in ERRORED_VERIFY_KEYS {
                    if let Some(v) = cp.data.get(k) {
                        row.insert(k.to_owned(), v.clone());
                    }
                }
                inexact.push(Inexact::new(
                    format!("unit {label}"),
                    "its verify record is errored: restored as that failed run wrote it (error kept, counted in \
                     errors, still a confirmed finding, #284); re-run `openant verify` to retry it",
                ));
                missing.push(label);
            }
            _ => {
                let old = key
                    .as_str()
                    .and_then(|k| salvaged?.result_for(k))
                    .filter(|o| o.get("verification").is_some_and(truthy));
                match old {
                    Some(old) => {
                        let keys = if old.get("error").is_some_and(truthy) { ERRORED_VERIFY_KEYS } else { VERIFY_KEYS };
                        for k in keys {
                            if let Some(v) = old.get(k) {
                                row.insert(k.to_owned(), v.clone());
                            }
                        }
                        let why = if cp.is_some() {
                            "its checkpoint is an error"
                        } else {
                            "it has no usable verify checkpoint"
                        };
                        inexact.push(Inexact::new(
                            format!("unit {label}"),
                            format!("verification carried over from the old results_verified.json: {why} (the next `openant verify` redoes it)"),
                        ));
                        if old.get("error").is_some_and(truthy) || cp.is_some() {
                            missing.push(label);
                        }
                    }
                    None => {
                        inexact.push(Inexact::new(
                            format!("unit {label}"),
                            "no usable verify checkpoint and no verified entry in the old file: left unverified (its \
                             Stage-1 row, still a confirmed finding); re-run `openant verify`",
                        ));
                        missing.push(label);
                    }
                }
            }
        }
    }
    if let Some(old) = salvaged {
        super::verified::carry_over(&mut all_results, &candidates, old, &mut inexact);
    }
    super::verified::note_crosscheck_groups(&all_results, &candidates, &mut inexact);

    // Merge by `unit_id or route_key`, the last verified row of a key winning.
    let merge_key = |r: &PyValue| {
        let k = match r.get("unit_id").filter(|u| truthy(u)) {
            Some(u) => u.clone(),
            None => r.get("route_key").cloned().unwrap_or(PyValue::Null),
        };
        to_python_string(&k, true).unwrap_or_default()
    };
    let mut last: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for &c in &candidates {
        last.insert(merge_key(&all_results[c]), c);
    }
    let confirmed: Vec<PyValue> =
        candidates.iter().map(|&c| &all_results[c]).filter(|r| is_candidate(r)).cloned().collect();
    let winners: Vec<Option<usize>> = all_results.iter().map(|r| last.get(&merge_key(r)).copied()).collect();
    let merged = super::last_use::merge_rows(&mut all_results, winners);

    let copied = |k: &str| experiment.get(k).cloned().unwrap_or_else(|| PyValue::from(""));
    super::verified::note_copied_timestamp(&experiment, salvaged, &mut inexact);
    let mut doc = PyObject::default();
    doc.insert("dataset".to_owned(), copied("dataset"));
    doc.insert("model".to_owned(), copied("model"));
    doc.insert("timestamp".to_owned(), copied("timestamp"));
    doc.insert("verify".to_owned(), PyValue::Bool(true));
    doc.insert("metrics".to_owned(), PyValue::from(recount_verified(&merged)));
    doc.insert("results".to_owned(), PyValue::Array(merged));
    doc.insert("confirmed_findings".to_owned(), PyValue::Array(confirmed));
    let value = PyValue::from(doc);
    let bytes = to_python_string(&value, false)?;
    Ok(Rebuilt::new(value, bytes, inexact, missing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::CheckpointStep;
    use crate::pyjson::parse;
    use crate::regen::salvage_leading_fields;

    fn p(s: &str) -> PyValue {
        parse(s.as_bytes()).unwrap()
    }

    fn cps(step: CheckpointStep, files: &[(&str, &str)]) -> CheckpointSet {
        CheckpointSet::from_files(step, files.iter().map(|(n, c)| (n.to_string(), Ok(c.as_bytes().to_vec()))).collect())
    }

    fn sourced(v: &str) -> Sourced {
        Sourced { value: PyValue::from(v), source: "test".to_owned() }
    }

    fn now() -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 9, 30).unwrap().and_hms_micro_opt(12, 0, 0, 5).unwrap()
    }

    #[test]
    fn todays_counting_rules() {
        let rows = [
            p(r#"{"finding": "vulnerable"}"#),
            p(r#"{"finding": "Vulnerable"}"#),
            p(r#"{"finding": " vulnerable"}"#),
            p(r#"{"finding": null, "verdict": null}"#),
            p(r#"{"finding": "", "verdict": "SAFE"}"#),
            p(r#"{"verdict": "ERROR", "finding": "error"}"#),
            p(r#"{"finding": "insufficient_context"}"#),
            p(r#"{"finding": "say what"}"#),
            p(r#"{}"#),
            PyValue::Null,
        ];
        assert_eq!(
            PyValue::from(count_verdicts_current(&rows)),
            p(r#"{"vulnerable": 2, "bypassable": 0, "inconclusive": 1, "protected": 0, "safe": 1, "errors": 5}"#)
        );
        let rows = [
            p(r#"{"security_classification": "incomplete"}"#),
            p(r#"{"security_classification": "unknown"}"#),
            p(r#"{"security_classification": "exploitable"}"#),
            p(r#"{"security_classification": ["error"]}"#),
            p(r#"{}"#),
        ];
        assert_eq!(enhance_unclassified_analyzed(&rows), 2);
    }

    #[test]
    fn the_analyze_error_predicate() {
        assert!(analyze_result_is_error(None));
        assert!(analyze_result_is_error(Some(&PyValue::Null)));
        assert!(analyze_result_is_error(Some(&p(r#"{"verdict": "ERROR", "finding": "vulnerable"}"#))));
        assert!(analyze_result_is_error(Some(&p(r#"{"verdict": null}"#))));
        assert!(analyze_result_is_error(Some(&p(r#"{"verdict": " ", "finding": ""}"#))));
        assert!(!analyze_result_is_error(Some(&p(r#"{"verdict": "SAY WHAT"}"#))));
        assert!(!analyze_result_is_error(Some(&p(r#"{"finding": "safe"}"#))));
    }

    #[test]
    fn limit_keeps_the_highest_priority_units() {
        let ds = p(
            r#"{"units": [{"id": "a"}, {"id": "b", "llm_context": {"security_classification": "vulnerable_internal"}},
            {"id": "c", "agent_context": {"security_classification": "exploitable"}}, {"id": "d"}]}"#,
        );
        let mut inp = CurrentAnalyze {
            dataset: (&ds).into(),
            dataset_name: "dataset.json".into(),
            limit: Some(PyValue::from(3)),
            exploitable_filter: None,
            model: sourced("m"),
            provider: sourced("p"),
            analyze_fingerprint: sourced("sha256:00"),
            verified: None,
        };
        let ids = |inp: &CurrentAnalyze<'_>| {
            analyzed_units(inp).unwrap().iter().map(|u| id_text(u.get("id").unwrap())).collect::<Vec<_>>()
        };
        assert_eq!(ids(&inp), ["c", "b", "a"]);
        inp.limit = None;
        inp.exploitable_filter = Some(PyValue::from("all"));
        assert_eq!(ids(&inp), ["b", "c"]);
    }

    fn analyze_cp(id: &str, finding: &str, extra: &str) -> String {
        format!(
            r#"{{"result": {{"finding": "{finding}", "verdict": "{}", "route_key": "{id}", "unit_id": "{id}"{extra}}}, "route_key": "{id}", "code_for_route": "code {id}", "id": "{id}"}}"#,
            finding.to_uppercase()
        )
    }

    #[test]
    fn results_today_has_provider_fingerprint_and_the_new_metric() {
        let ds = p(
            r#"{"units": [{"id": "a"}, {"id": "b", "agent_context": {"security_classification": "exploitable"}}, {"id": "c"}]}"#,
        );
        let set = cps(
            CheckpointStep::Analyze,
            &[
                ("a.json", &analyze_cp("a", "vulnerable", r#", "security_classification": "incomplete""#)),
                // Stale: a sentinel row whose unit is now classified.
                ("b.json", &analyze_cp("b", "safe", r#", "security_classification": "error""#)),
                ("c.json", &analyze_cp("c", "insufficient_context", "")),
            ],
        );
        let inp = CurrentAnalyze {
            dataset: (&ds).into(),
            dataset_name: "dataset.json".into(),
            limit: None,
            exploitable_filter: None,
            model: sourced("gpt-5"),
            provider: sourced("openai"),
            analyze_fingerprint: sourced("sha256:abc"),
            verified: None,
        };
        let r = rebuild_results_current(&inp, &mut set.clone(), None, now()).unwrap();
        let keys: Vec<&String> = r.value.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["dataset", "model", "provider", "timestamp", "metrics", "results", "code_by_route", "analyze_fingerprint"]
        );
        assert_eq!(
            r.value.get("metrics"),
            Some(&p(
                r#"{"total": 3, "vulnerable": 1, "bypassable": 0, "inconclusive": 1, "protected": 0, "safe": 1, "errors": 0, "enhance_unclassified_analyzed": 2}"#
            ))
        );
        assert_eq!(r.missing_units, ["b"]);
        // The stale unit's route goes after the adopted ones.
        let cbr: Vec<&String> = r.value.get("code_by_route").unwrap().as_object().unwrap().keys().collect();
        assert_eq!(cbr, ["a", "c", "b"]);
        assert_eq!(r.value.get("timestamp"), Some(&PyValue::from("2026-09-30T12:00:00.000005")));
        assert!(r.names_inexact("timestamp") && r.names_inexact("provider"));
    }

    #[test]
    fn identity_never_invented() {
        let old =
            salvage_leading_fields(br#"{"dataset": "d", "model": "m-old", "provider": "p-old", "timestamp": "t""#);
        let report = p(r#"{"inputs": {"model": "m-rep", "provider": "p-rep"}}"#);
        let fp = p(r#"{"scheme_version": 2, "model": "m-fp", "provider_name": "p-fp", "key_digest": "sha256:1"}"#);
        assert_eq!(pick_identity("model", Some(&old), Some(&report), Some(&fp)).unwrap().value, PyValue::from("m-old"));
        assert_eq!(pick_identity("provider", None, Some(&report), Some(&fp)).unwrap().value, PyValue::from("p-rep"));
        assert_eq!(pick_identity("provider", None, None, Some(&fp)).unwrap().value, PyValue::from("p-fp"));
        assert!(pick_identity("model", None, Some(&p(r#"{"inputs": {"model": ""}}"#)), None).is_err());
        assert_eq!(pick_fingerprint(Some(&old), Some(&fp)).unwrap().value, PyValue::from("sha256:1"));
        assert!(pick_fingerprint(Some(&old), None).is_err());
    }

    #[test]
    fn verified_today_recounts_in_three_states_and_keeps_errors() {
        let results = p(
            r#"{"dataset": "dataset.json", "model": "m", "provider": "p", "timestamp": "t", "metrics": {}, "results": [
            {"finding": "vulnerable", "verdict": "VULNERABLE", "unit_id": "a"},
            {"finding": "vulnerable", "verdict": "VULNERABLE", "unit_id": "b"},
            {"finding": "bypassable", "verdict": "BYPASSABLE", "unit_id": "c"},
            {"finding": "safe", "verdict": "SAFE", "unit_id": "d"},
            {"finding": "insufficient_context", "unit_id": "e"}], "code_by_route": {}, "analyze_fingerprint": "sha256:1"}"#,
        );
        let set = cps(
            CheckpointStep::Verify,
            &[
                (
                    "a.json",
                    r#"{"verification": {"agree": true, "correct_finding": "vulnerable", "explanation": "x"}, "finding": "vulnerable", "verification_note": "", "id": "a"}"#,
                ),
                (
                    "b.json",
                    r#"{"verification": {"incomplete": true}, "finding": "vulnerable", "verification_note": "Verification errored: 529", "usage": {}, "error": "529", "id": "b"}"#,
                ),
                (
                    "c.json",
                    r#"{"verification": {"agree": false, "correct_finding": "vulnerable", "incomplete": true}, "finding": "bypassable", "verification_note": "", "id": "c"}"#,
                ),
            ],
        );
        let r = rebuild_verified_current(results.clone(), &set, None).unwrap();
        assert_eq!(
            r.value.get("metrics"),
            Some(&p(
                r#"{"total": 5, "vulnerable": 1, "bypassable": 0, "inconclusive": 0, "protected": 0, "safe": 1, "errors": 1, "needs_review": 1}"#
            ))
        );
        let rows = r.value.get("results").unwrap().as_array().unwrap();
        assert_eq!(rows[1].get("error"), Some(&PyValue::from("529")));
        let confirmed: Vec<&str> = r
            .value
            .get("confirmed_findings")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.get("unit_id").unwrap().as_str().unwrap())
            .collect();
        assert_eq!(confirmed, ["a", "b", "c"]);
        assert_eq!(r.missing_units, ["b"]);
        let keys: Vec<&String> = r.value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["dataset", "model", "timestamp", "verify", "metrics", "results", "confirmed_findings"]);
    }

    #[test]
    fn a_dataset_read_without_its_code_rebuilds_the_same_bytes() {
        use crate::regen::results::InputDataset;
        // a adopted; b's checkpoint is an error and c's stale (both keep their old row); d has no
        // checkpoint and an old row; e has neither. The old file is torn before its
        // code_by_route, so kept rows take their unit's code.
        let text = r#"{"units": [
            {"code": {"primary_code": "code a"}, "id": "a"},
            {"id": "b", "code": {"primary_code": "code b", "primary_code": "b\u00e9"}},
            {"code": "raw c", "llm_context": {"security_classification": "exploitable", "more": 1}, "id": "c"},
            {"id": "d", "code": {"other": [1]}},
            {"id": "e", "code": "e"}
        ]}"#;
        let set = cps(
            CheckpointStep::Analyze,
            &[
                ("a.json", &analyze_cp("a", "safe", "")),
                ("b.json", &analyze_cp("b", "error", "")),
                ("c.json", &analyze_cp("c", "safe", r#", "security_classification": "error""#)),
            ],
        );
        let mut old = String::from(
            r#"{"dataset": "dataset.json", "model": "m", "provider": "p", "timestamp": "t", "metrics": {}, "results": ["#,
        );
        for id in ["a", "b", "c", "d"] {
            old.push_str(&format!(
                r#"{{"finding": "safe", "verdict": "SAFE", "route_key": "{id}", "unit_id": "{id}"}}, "#
            ));
        }
        let salvaged = salvage_leading_fields(old.as_bytes());
        let (whole, read) = (p(text), InputDataset::read(std::sync::Arc::new(text.as_bytes().to_vec())).unwrap());
        let rebuild = |dataset: Dataset<'_>| {
            let inp = CurrentAnalyze {
                dataset,
                dataset_name: "dataset.json".into(),
                limit: None,
                exploitable_filter: None,
                model: sourced("m"),
                provider: sourced("p"),
                analyze_fingerprint: sourced("sha256:1"),
                verified: None,
            };
            rebuild_results_current(&inp, &mut set.clone(), Some(&salvaged), now()).unwrap()
        };
        let (a, b) = (rebuild(Dataset::from(&whole)), rebuild(Dataset::from(&read)));
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.inexact, b.inexact);
        assert_eq!(a.value.get("code_by_route"), Some(&p(r#"{"a": "code a", "b": "b\u00e9", "c": "raw c", "d": ""}"#)));
    }
}
