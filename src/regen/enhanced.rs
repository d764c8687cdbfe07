//! `dataset_enhanced.json` ← the input dataset + the enhance checkpoints (spec §3.1; OpenAnt's
//! `context_enhancer.enhance_dataset_agentic` with every unit restored).

use crate::layout::safe_filename::checkpoint_file_name;
use crate::pyjson::{python_round, PyObject, PyValue};

use super::checkpoints::{CheckpointSet, Era};
use super::last_use::{index_of, take_member, Uses};
use super::py::{add, get, id_text, key_text, truthy};
use super::salvage::SalvagedFields;
use super::single_file::RunRecord;
use super::{Document, Inexact, Rebuilt, RegenError};

/// What the enhance rebuild reads besides the dataset and the checkpoints.
#[derive(Debug, Clone, Copy)]
pub struct EnhanceInputs<'a> {
    pub era: Era,
    /// What the old `dataset_enhanced.json` still holds, if it exists: its `metadata.token_usage`
    /// is carried over when the file was complete enough to contain it. Only the fields
    /// [`OLD_FIELDS_READ`] are read of it.
    pub salvaged: Option<&'a SalvagedFields>,
    /// What a whole-dataset single-file checkpoint recorded of its run, when every checkpoint
    /// comes from it: its `metadata.token_usage` stands in for the old file's.
    pub single_file: Option<&'a RunRecord>,
}

/// The top-level fields of the old `dataset_enhanced.json` the rebuild reads
/// ([`EnhanceInputs::salvaged`]): a caller may salvage these alone.
pub const OLD_FIELDS_READ: &[&str] = &[OLD_METADATA];

/// The old file's field `metadata.token_usage` is carried over from.
const OLD_METADATA: &str = "metadata";

/// Where a working unit's `agent_context` comes from, decided before any is moved.
enum Restore {
    /// A completed id, from this file (`None`: no file enhance restores it from).
    Completed(Option<usize>),
    /// Only an errored checkpoint, this file.
    Errored(usize),
    /// Nothing restored; whether the unit has a checkpoint at all.
    Nothing { has_checkpoint: bool },
}

/// Rebuilds `dataset_enhanced.json` (written with ensure_ascii=True) from the input dataset
/// as read (`enhance.report.json` `inputs.dataset_path`, normally `dataset.json`) and the
/// enhance checkpoint dir (`enhance_checkpoints/`, or on the fork
/// `dataset_enhanced_checkpoint_checkpoints/`).
///
/// The dataset becomes the output, and the restored `agent_context` and `code` values are
/// moved out of `checkpoints` (a null left in their place) rather than copied: a 20,000-unit
/// scan held each twice. The set's names, ids and other members are left as they are.
///
/// * Working units: with the diff filter (fix era) only the units whose `diff_selected` is
///   truthy when any unit has the key; all units stay in the output, in order.
/// * A working unit whose id is "completed" (any file with that id passes the enhance resume
///   rule) gets `agent_context` (and `code`, when present) from the file named
///   `safe_filename(id).json`, exactly as OpenAnt restores it; `agent_context` keeps its place
///   if the unit had one, otherwise it is appended last.
/// * An errored unit keeps the checkpoint's error `agent_context` (what a failed retry writes);
///   a unit with no checkpoint or an empty `agent_context` stays unenhanced. Both are listed
///   in `missing_units` and noted.
/// * `metadata` gets `agentic_enhanced`, `enhancement_mode`, `agentic_stats` and `token_usage`
///   appended (existing keys keep their places).
pub fn rebuild_enhanced(
    dataset: PyValue,
    checkpoints: &mut CheckpointSet,
    inp: &EnhanceInputs<'_>,
) -> Result<Rebuilt, RegenError> {
    enhanced_document(dataset, checkpoints, inp)?.serialize()
}

/// [`rebuild_enhanced`] without the serialization.
pub fn enhanced_document(
    dataset: PyValue,
    checkpoints: &mut CheckpointSet,
    inp: &EnhanceInputs<'_>,
) -> Result<Document, RegenError> {
    let mut dataset = dataset;
    let PyValue::Object(doc) = &mut dataset else {
        return Err(RegenError::BadInput("the input dataset is not a JSON object".to_owned()));
    };
    let mut inexact = Vec::new();
    let mut missing = Vec::new();

    let had_units = doc.contains_key("units");
    // Taken out of the document (and put back below): the units are most of it.
    let mut units = match doc.get_mut("units") {
        None => Vec::new(),
        Some(PyValue::Array(units)) => std::mem::take(units),
        Some(_) => return Err(RegenError::BadInput("the input dataset's `units` is not a list".to_owned())),
    };
    if let Some(i) = units.iter().position(|u| !matches!(u, PyValue::Object(_))) {
        return Err(RegenError::BadInput(format!("unit {i} of the input dataset is not an object")));
    }
    let working: Vec<usize> = if inp.era.has_diff_filter() && units.iter().any(|u| u.get("diff_selected").is_some()) {
        (0..units.len()).filter(|&i| units[i].get("diff_selected").is_some_and(truthy)).collect()
    } else {
        (0..units.len()).collect()
    };

    let restores = plan_restores(&working, &units, checkpoints);
    let mut uses = Uses::count(
        checkpoints,
        restores.iter().filter_map(|r| match r {
            Restore::Completed(file) => *file,
            Restore::Errored(file) => Some(*file),
            Restore::Nothing { .. } => None,
        }),
    );
    let cps = checkpoints;
    for (&i, restore) in working.iter().zip(restores) {
        let unit = &mut units[i];
        let uid = unit.get("id").cloned();
        let uid_str = uid.as_ref().and_then(PyValue::as_str).map(str::to_owned);
        let label = uid.as_ref().map_or_else(|| format!("<unit {i} without id>"), id_text);
        let field = format!("units[{label}].agent_context");
        match restore {
            Restore::Completed(Some(file)) => {
                let name = checkpoint_file_name(uid_str.as_deref().unwrap_or_default());
                let last = uses.last(file);
                let data = &mut cps.files[file].data;
                let ac = take_member(data, "agent_context", last).unwrap_or_else(PyValue::object);
                if ac.get("error").is_some_and(truthy) {
                    inexact.push(Inexact::new(
                        &field,
                        format!(
                            "{name} holds an error while another file with this id is complete; restored from \
                             {name} as OpenAnt does (re-run `openant enhance` to retry the unit)"
                        ),
                    ));
                    missing.push(label.clone());
                }
                set(unit, "agent_context", ac);
                if let Some(code) = take_member(data, "code", last) {
                    set(unit, "code", code);
                }
                continue;
            }
            Restore::Completed(None) => {
                let name = checkpoint_file_name(uid_str.as_deref().unwrap_or_default());
                let why = match cps.unreadable(&name) {
                    Some(issue) => format!(
                        "{name} is unusable ({}): OpenAnt would stop on it; left unenhanced, re-run `openant \
                         enhance` after removing it",
                        issue.problem
                    ),
                    None => format!(
                        "completed only under another file name, and OpenAnt restores from {name}, which does \
                         not exist: the unit stays unenhanced and is not re-run (as in OpenAnt)"
                    ),
                };
                inexact.push(Inexact::new(&field, why));
                missing.push(label.clone());
                continue;
            }
            Restore::Errored(file) => {
                let last = uses.last(file);
                let ac = take_member(&mut cps.files[file].data, "agent_context", last).unwrap_or(PyValue::Null);
                set(unit, "agent_context", ac);
                inexact.push(Inexact::new(
                    &field,
                    format!(
                        "unit {label} has only an errored checkpoint: kept its error agent_context (what a failed \
                         retry writes); re-run `openant enhance` to retry it"
                    ),
                ));
            }
            Restore::Nothing { has_checkpoint } => {
                let what = if has_checkpoint { "an empty agent_context in its checkpoint" } else { "no checkpoint" };
                inexact.push(Inexact::new(
                    &field,
                    format!("unit {label} has {what}: left unenhanced; re-run `openant enhance`"),
                ));
            }
        }
        missing.push(label);
    }
    let cps = &*cps;

    let stats = agentic_stats(working.iter().map(|&i| &units[i]), &mut inexact);
    let recorded = inp.single_file.and_then(|r| Some((r, r.token_usage.as_ref()?)));
    let token_usage = match (salvaged_token_usage(inp.salvaged), recorded) {
        (Some(tu), _) => tu,
        (None, Some((record, tu))) => {
            inexact.push(Inexact::new(
                "metadata.token_usage",
                format!(
                    "taken from {}'s metadata.token_usage: the tracker totals of the run that wrote it, as of its last unit, which that run wrote here when it finished",
                    record.source
                ),
            ));
            tu.clone()
        }
        (None, None) => {
            inexact.push(Inexact::new(
                "metadata.token_usage",
                "recomputed as a standalone `openant enhance` re-run with every unit restored writes it (total_calls \
                 0, sums of the checkpoints' usage); the original run's tracker totals are not recoverable",
            ));
            token_usage(&working, &units, cps)
        }
    };

    if had_units {
        doc.insert("units".to_owned(), PyValue::Array(units));
    }
    let meta = doc.entry("metadata".to_owned()).or_insert_with(PyValue::object);
    let PyValue::Object(meta) = meta else {
        return Err(RegenError::BadInput("the input dataset's `metadata` is not an object".to_owned()));
    };
    meta.insert("agentic_enhanced".to_owned(), PyValue::Bool(true));
    meta.insert("enhancement_mode".to_owned(), PyValue::from("agentic"));
    meta.insert("agentic_stats".to_owned(), stats);
    meta.insert("token_usage".to_owned(), token_usage);

    Ok(Document::new(dataset, inexact, missing))
}

/// Where each working unit's `agent_context` comes from, in `working`'s order: the files are
/// chosen on the set as loaded, before the restore moves anything out of it.
fn plan_restores(working: &[usize], units: &[PyValue], cps: &CheckpointSet) -> Vec<Restore> {
    let completed = cps.enhance_completed_ids();
    working
        .iter()
        .map(|&i| {
            let uid_str = units[i].get("id").and_then(PyValue::as_str);
            if let Some(id) = uid_str.filter(|id| completed.contains(id)) {
                return Restore::Completed(unit_file(cps, id).map(|file| index_of(cps, file)));
            }
            let cp = uid_str.and_then(|id| cps.get(id));
            match cp.filter(|f| f.data.get("agent_context").is_some_and(|ac| ac.get("error").is_some_and(truthy))) {
                Some(file) => Restore::Errored(index_of(cps, file)),
                None => Restore::Nothing { has_checkpoint: cp.is_some() },
            }
        })
        .collect()
}

/// Python's `d[key] = value`.
fn set(unit: &mut PyValue, key: &str, value: PyValue) {
    if let PyValue::Object(map) = unit {
        map.insert(key.to_owned(), value);
    }
}

/// `ContextEnhancer._compute_agentic_stats` over the working units (after restoring).
pub(crate) fn agentic_stats<'a>(units: impl Iterator<Item = &'a PyValue>, inexact: &mut Vec<Inexact>) -> PyValue {
    let mut n = [0i64; 9];
    const PROCESSED: usize = 0;
    const WITH_CONTEXT: usize = 1;
    const FUNCS: usize = 3;
    const CONTROLS: usize = 4;
    const EXPLOITABLE: usize = 5;
    const VULNERABLE: usize = 6;
    const NEUTRAL: usize = 7;
    const ERRORS: usize = 8;
    let mut iterations = PyValue::from(0);
    let mut error_summary = PyObject::default();
    for unit in units {
        let Some(ac) = unit.get("agent_context").filter(|ac| truthy(ac)) else { continue };
        if !matches!(ac, PyValue::Object(_)) {
            inexact.push(Inexact::new(
                "metadata.agentic_stats",
                format!("unit {} has a non-object agent_context (OpenAnt would fail): not counted", unit_label(unit)),
            ));
            continue;
        }
        if let Some(err) = ac.get("error").filter(|e| truthy(e)) {
            n[ERRORS] += 1;
            let kind = match err {
                PyValue::Object(o) => o.get("type").and_then(key_text).unwrap_or_else(|| "unknown".to_owned()),
                _ => "legacy_string".to_owned(),
            };
            let count = error_summary.entry(kind).or_insert_with(|| PyValue::from(0));
            *count = add(count, &PyValue::from(1)).unwrap_or(PyValue::from(1));
            continue;
        }
        n[PROCESSED] += 1;
        if let Some(funcs) = ac.get("include_functions").filter(|f| truthy(f)) {
            n[WITH_CONTEXT] += 1;
            n[FUNCS] += match funcs {
                PyValue::Array(a) => a.len() as i64,
                PyValue::Object(o) => o.len() as i64,
                PyValue::Str(s) => s.chars().count() as i64,
                _ => 0,
            };
        }
        match ac.get("security_classification").map_or(Some("neutral"), PyValue::as_str) {
            Some("security_control") => n[CONTROLS] += 1,
            Some("exploitable") => n[EXPLOITABLE] += 1,
            Some("vulnerable_internal") => n[VULNERABLE] += 1,
            _ => n[NEUTRAL] += 1,
        }
        let it = ac.get("agent_metadata").and_then(|m| m.get("iterations")).cloned().unwrap_or(PyValue::from(0));
        match add(&iterations, &it) {
            Ok(sum) => iterations = sum,
            Err(_) => inexact.push(Inexact::new(
                "metadata.agentic_stats.total_iterations",
                format!("unit {} has non-numeric agent_metadata.iterations: not added", unit_label(unit)),
            )),
        }
    }
    let mut st = PyObject::default();
    st.insert("units_processed".to_owned(), PyValue::from(n[PROCESSED]));
    st.insert("units_with_context".to_owned(), PyValue::from(n[WITH_CONTEXT]));
    st.insert("total_iterations".to_owned(), iterations);
    st.insert("functions_added".to_owned(), PyValue::from(n[FUNCS]));
    st.insert("security_controls_found".to_owned(), PyValue::from(n[CONTROLS]));
    st.insert("exploitable_found".to_owned(), PyValue::from(n[EXPLOITABLE]));
    st.insert("vulnerable_found".to_owned(), PyValue::from(n[VULNERABLE]));
    st.insert("neutral_found".to_owned(), PyValue::from(n[NEUTRAL]));
    st.insert("errors".to_owned(), PyValue::from(n[ERRORS]));
    st.insert("error_summary".to_owned(), PyValue::from(error_summary));
    PyValue::from(st)
}

fn unit_label(unit: &PyValue) -> String {
    unit.get("id").map_or_else(|| "<without id>".to_owned(), id_text)
}

fn salvaged_token_usage(salvaged: Option<&SalvagedFields>) -> Option<PyValue> {
    salvaged?.field(OLD_METADATA)?.get("token_usage").cloned()
}

/// `tracker.get_totals()` after a standalone restore: the usage of the checkpoint file of every
/// working unit (`safe_filename(id).json`, errored files included, in unit order) is injected
/// as prior usage when the token sums are non-zero; no calls are made.
/// The file enhance restores a unit from: `safe_filename(id).json`, or, since today's OpenAnt
/// (#317), the name it gives a unit whose name collides on a case-insensitive filesystem,
/// `<stem>_<sha256(id)[:16]>.json` holding that id (restored from there, by id).
fn unit_file<'c>(cps: &'c CheckpointSet, id: &str) -> Option<&'c super::checkpoints::LoadedFile> {
    let name = checkpoint_file_name(id);
    cps.by_name(&name).or_else(|| {
        cps.files.iter().find(|f| {
            f.name != name
                && crate::layout::safe_filename::is_checkpoint_name_for(&f.name, id)
                && f.data.get("id").and_then(PyValue::as_str) == Some(id)
        })
    })
}

fn token_usage(working: &[usize], units: &[PyValue], cps: &CheckpointSet) -> PyValue {
    let mut tin = PyValue::from(0);
    let mut tout = PyValue::from(0);
    let mut cost = PyValue::Float(0.0);
    for &i in working {
        let uid = match units[i].get("id") {
            None => "",
            Some(PyValue::Str(s)) => s.as_str(),
            Some(_) => continue,
        };
        let Some(file) = unit_file(cps, uid) else { continue };
        let usage = file.data.get("usage");
        let field = |k: &str, default: PyValue| usage.and_then(|u| get(u, k)).cloned().unwrap_or(default);
        tin = add(&tin, &field("input_tokens", PyValue::from(0))).unwrap_or(tin);
        tout = add(&tout, &field("output_tokens", PyValue::from(0))).unwrap_or(tout);
        cost = add(&cost, &field("cost_usd", PyValue::Float(0.0))).unwrap_or(cost);
    }
    let (mut total_in, mut total_out, mut total_cost) = (PyValue::from(0), PyValue::from(0), PyValue::Float(0.0));
    if truthy(&tin) || truthy(&tout) {
        total_in = add(&total_in, &tin).unwrap_or(total_in);
        total_out = add(&total_out, &tout).unwrap_or(total_out);
        total_cost = add(&total_cost, &cost).unwrap_or(total_cost);
    }
    let total = add(&total_in, &total_out).unwrap_or(PyValue::from(0));
    let rounded = match total_cost {
        PyValue::Float(x) => PyValue::Float(python_round(x, 6)),
        other => other,
    };
    let mut tu = PyObject::default();
    tu.insert("total_calls".to_owned(), PyValue::from(0));
    tu.insert("total_input_tokens".to_owned(), total_in);
    tu.insert("total_output_tokens".to_owned(), total_out);
    tu.insert("total_tokens".to_owned(), total);
    tu.insert("total_cost_usd".to_owned(), rounded);
    PyValue::from(tu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::CheckpointStep;
    use crate::regen::test_support::{checkpoint_set, p};

    /// `rebuild_enhanced` with nothing salvaged and no single file.
    fn rebuild_plain(dataset: &PyValue, checkpoints: &CheckpointSet, era: Era) -> Rebuilt {
        let inputs = EnhanceInputs { era, salvaged: None, single_file: None };
        rebuild_enhanced(dataset.clone(), &mut checkpoints.clone(), &inputs).unwrap()
    }

    fn cps(files: &[(&str, &str)]) -> CheckpointSet {
        checkpoint_set(CheckpointStep::Enhance, files)
    }

    #[test]
    fn agent_context_is_appended_last_when_new_and_keeps_its_place_otherwise() {
        let ds = p(r#"{"name":"x","units":[
            {"id":"a","code":{"primary_code":"old"},"metadata":{}},
            {"id":"b","agent_context":{"stale":true},"code":"c","metadata":{}}],
            "metadata":{"generator":"g"}}"#);
        let set = cps(&[
            (
                "a.json",
                r#"{"id":"a","agent_context":{"security_classification":"exploitable","include_functions":[{"id":"b"}],"agent_metadata":{"iterations":3}},"code":{"primary_code":"new"},"usage":{"input_tokens":10,"output_tokens":5,"cost_usd":0.1}}"#,
            ),
            (
                "b.json",
                r#"{"id":"b","agent_context":{"security_classification":"security_control","agent_metadata":{"iterations":2}},"usage":{"input_tokens":1,"output_tokens":1,"cost_usd":0.2}}"#,
            ),
        ]);
        let r = rebuild_plain(&ds, &set, Era::Fix);
        let units = r.value.get("units").unwrap().as_array().unwrap();
        let keys = |u: &PyValue| u.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&units[0]), ["id", "code", "metadata", "agent_context"]);
        assert_eq!(units[0].get("code").unwrap().get("primary_code").unwrap().as_str(), Some("new"));
        assert_eq!(keys(&units[1]), ["id", "agent_context", "code", "metadata"]);
        let meta = r.value.get("metadata").unwrap();
        assert_eq!(
            meta.as_object().unwrap().keys().cloned().collect::<Vec<_>>(),
            ["generator", "agentic_enhanced", "enhancement_mode", "agentic_stats", "token_usage"]
        );
        let st = meta.get("agentic_stats").unwrap();
        assert_eq!(st.get("units_processed"), Some(&PyValue::from(2)));
        assert_eq!(st.get("units_with_context"), Some(&PyValue::from(1)));
        assert_eq!(st.get("functions_added"), Some(&PyValue::from(1)));
        assert_eq!(st.get("total_iterations"), Some(&PyValue::from(5)));
        assert_eq!(st.get("exploitable_found"), Some(&PyValue::from(1)));
        assert_eq!(st.get("security_controls_found"), Some(&PyValue::from(1)));
        let tu = meta.get("token_usage").unwrap();
        assert_eq!(tu.get("total_calls"), Some(&PyValue::from(0)));
        assert_eq!(tu.get("total_tokens"), Some(&PyValue::from(17)));
        // 0.0 + 0.1 + 0.2 = 0.30000000000000004, rounded to 6 places.
        assert_eq!(tu.get("total_cost_usd"), Some(&PyValue::Float(0.3)));
        assert!(r.names_inexact("metadata.token_usage"));
        assert!(r.missing_units.is_empty());
    }

    #[test]
    fn errored_missing_and_unselected_units() {
        let ds = p(r#"{"units":[
            {"id":"e","diff_selected":true},{"id":"m","diff_selected":true},
            {"id":"x","diff_selected":false},{"id":"nokey"},{"id":"z","diff_selected":true}]}"#);
        let set = cps(&[
            (
                "e.json",
                r#"{"id":"e","agent_context":{"error":{"type":"rate_limit"},"security_classification":"neutral","confidence":0.0}}"#,
            ),
            ("x.json", r#"{"id":"x","agent_context":{"security_classification":"exploitable"}}"#),
            ("z.json", r#"{"id":"z","agent_context":{}}"#),
        ]);
        let r = rebuild_plain(&ds, &set, Era::Fix);
        let units = r.value.get("units").unwrap().as_array().unwrap();
        assert!(units[0].get("agent_context").unwrap().get("error").is_some());
        assert!(units[1].get("agent_context").is_none());
        // Outside the diff: never touched, even with a checkpoint.
        assert!(units[2].get("agent_context").is_none());
        assert!(units[3].get("agent_context").is_none());
        assert!(units[4].get("agent_context").is_none());
        assert_eq!(r.missing_units, ["e", "m", "z"]);
        assert!(r.names_inexact("units[m].agent_context"));
        let st = r.value.get("metadata").unwrap().get("agentic_stats").unwrap();
        assert_eq!(st.get("errors"), Some(&PyValue::from(1)));
        assert_eq!(st.get("error_summary"), Some(&p(r#"{"rate_limit":1}"#)));
        assert_eq!(st.get("units_processed"), Some(&PyValue::from(0)));
        // No token usage anywhere: nothing injected.
        assert_eq!(
            r.value.get("metadata").unwrap().get("token_usage"),
            Some(&p(
                r#"{"total_calls":0,"total_input_tokens":0,"total_output_tokens":0,"total_tokens":0,"total_cost_usd":0.0}"#
            ))
        );
        // The fork has no diff filter.
        let r = rebuild_plain(&ds, &set, Era::ForkMaster);
        assert!(r.value.get("units").unwrap().as_array().unwrap()[2].get("agent_context").is_some());
    }

    #[test]
    fn a_whole_dataset_files_token_usage_stands_in_for_the_old_files() {
        let ds = p(r#"{"units":[{"id":"a"}],"metadata":{}}"#);
        let set = cps(&[("a.json", r#"{"id":"a","agent_context":{"security_classification":"neutral"}}"#)]);
        let recorded = p(
            r#"{"total_calls":4,"total_input_tokens":900,"total_output_tokens":100,"total_tokens":1000,"total_cost_usd":0.0042}"#,
        );
        let record = RunRecord {
            source: "dataset_enhanced_checkpoint.json".to_owned(),
            token_usage: Some(recorded.clone()),
            ..RunRecord::default()
        };
        let inputs = EnhanceInputs { era: Era::ForkMaster, salvaged: None, single_file: Some(&record) };
        let r = rebuild_enhanced(ds.clone(), &mut set.clone(), &inputs).unwrap();
        assert_eq!(r.value.get("metadata").unwrap().get("token_usage"), Some(&recorded));
        let note = &r.inexact.iter().find(|n| n.field == "metadata.token_usage").unwrap().note;
        assert!(note.starts_with("taken from dataset_enhanced_checkpoint.json's metadata.token_usage"), "{note}");
        // The old file's own totals, when it still holds them, come first.
        let old = crate::regen::salvage_leading_fields(br#"{"units":[],"metadata":{"token_usage":{"total_calls":9}}}"#);
        let r = rebuild_enhanced(ds, &mut set.clone(), &EnhanceInputs { salvaged: Some(&old), ..inputs }).unwrap();
        assert_eq!(r.value.get("metadata").unwrap().get("token_usage"), Some(&p(r#"{"total_calls":9}"#)));
    }

    #[test]
    fn legacy_string_errors_and_neutral_default() {
        let units = [
            p(r#"{"agent_context":{"error":"boom"}}"#),
            p(r#"{"agent_context":{"x":1}}"#),
            p(r#"{"agent_context":{}}"#),
        ];
        let st = agentic_stats(units.iter(), &mut Vec::new());
        assert_eq!(st.get("error_summary"), Some(&p(r#"{"legacy_string":1}"#)));
        assert_eq!(st.get("neutral_found"), Some(&PyValue::from(1)));
        assert_eq!(st.get("units_processed"), Some(&PyValue::from(1)));
    }
}
