//! `results_verified.json` ← `results.json` + the verify checkpoints (spec §3.3; OpenAnt's
//! `core/verifier.run_verification` and `FindingVerifier.verify_batch` with every finding
//! restored).

use crate::pyjson::{to_python_string, PyObject, PyValue};

use super::checkpoints::{is_restorable, CheckpointSet, Era};
use super::py::{id_text, lower, truthy};
use super::results::count_verdicts;
use super::salvage::SalvagedFields;
use super::{result_field, Inexact, Rebuilt, RegenError};
use crate::layout::safe_filename::checkpoint_file_name;
use crate::layout::CheckpointStep;

/// Whether a stage-1 result is a verify candidate: `finding` (or `verdict.lower()` when the key
/// is missing) is exactly `vulnerable` or `bypassable`.
pub fn is_candidate(r: &PyValue) -> bool {
    let finding = match r.get("finding") {
        Some(f) => f.as_str().map(str::to_owned),
        None => Some(r.get("verdict").and_then(PyValue::as_str).map(lower).unwrap_or_default()),
    };
    matches!(finding.as_deref(), Some("vulnerable" | "bypassable"))
}

/// The checkpoint key of a candidate: `r.get("unit_id") or r.get("route_key", "unknown")`.
fn checkpoint_key(r: &PyValue) -> Option<PyValue> {
    match r.get("unit_id") {
        Some(u) if truthy(u) => Some(u.clone()),
        _ => Some(r.get("route_key").cloned().unwrap_or_else(|| PyValue::from("unknown"))),
    }
}

/// The merge key: `r.get("unit_id") or r.get("route_key")` (Python `None` as `Null`).
fn merge_key(r: &PyValue) -> PyValue {
    match r.get("unit_id") {
        Some(u) if truthy(u) => u.clone(),
        _ => r.get("route_key").cloned().unwrap_or(PyValue::Null),
    }
}

/// Rebuilds `results_verified.json` from the results document verify read (`results.json`),
/// the verify checkpoints, and, if the old file is (partly) readable, what it still holds.
///
/// Carried over from `salvaged` for each result that had a `consistency_update` in the old
/// file: the update, the `finding` and `verification.correct_finding` it set (spec §3.7).
/// Also, where the old result had **no** `verification_note` while the checkpoint restores
/// `""` with the same verification (a fresh run writes no note on agreement), the key is left
/// out as in the old file. A candidate whose verify checkpoint is torn or gone (an earlier
/// repair quarantined it) gets the verification of its complete old entry, when that entry
/// holds one verify's resume rule accepts.
///
/// The rows of `results_doc` become the output's (moved, not copied).
pub fn rebuild_verified(
    results_doc: PyValue,
    checkpoints: &CheckpointSet,
    era: Era,
    salvaged: Option<&SalvagedFields>,
) -> Result<Rebuilt, RegenError> {
    let PyValue::Object(mut experiment) = results_doc else {
        return Err(RegenError::BadInput("results.json is not a JSON object".to_owned()));
    };
    // Taken out: nothing below reads the document's own `results`.
    let mut all_results = match experiment.get_mut("results") {
        None => Vec::new(),
        Some(PyValue::Array(r)) => std::mem::take(r),
        Some(_) => return Err(RegenError::BadInput("results.json `results` is not a list".to_owned())),
    };
    if let Some(i) = all_results.iter().position(|r| !matches!(r, PyValue::Object(_))) {
        return Err(RegenError::BadInput(format!("results.json result {i} is not an object")));
    }
    let mut inexact = Vec::new();
    let mut missing = Vec::new();
    let candidates: Vec<usize> = (0..all_results.len()).filter(|&i| is_candidate(&all_results[i])).collect();

    for &i in &candidates {
        let r = &mut all_results[i];
        let key = checkpoint_key(r);
        let label = key.as_ref().map_or_else(|| "unknown".to_owned(), id_text);
        let cp = key.as_ref().and_then(PyValue::as_str).and_then(|k| checkpoints.get(k));
        match cp.filter(|cp| is_restorable(checkpoints.step, &cp.data)) {
            Some(cp) => {
                let PyValue::Object(map) = r else { continue };
                for k in ["verification", "finding", "verification_note"] {
                    if let Some(v) = cp.data.get(k) {
                        map.insert(k.to_owned(), v.clone());
                    }
                }
            }
            None => {
                let torn = cp.is_none()
                    && key
                        .as_ref()
                        .and_then(PyValue::as_str)
                        .is_some_and(|k| checkpoints.unreadable(&checkpoint_file_name(k)).is_some());
                if cp.is_none() {
                    if let Some(prev) = old_verification(r, salvaged) {
                        let PyValue::Object(map) = r else { continue };
                        for k in ["verification", "finding", "verification_note"] {
                            if let Some(v) = prev.get(k) {
                                map.insert(k.to_owned(), v.clone());
                            }
                        }
                        let why = if torn { "its checkpoint is torn" } else { "it has no verify checkpoint" };
                        inexact.push(Inexact::new(
                            format!("unit {label}"),
                            format!(
                                "verification carried over from the old results_verified.json: {why} (the next \
                                 `openant verify` redoes it)"
                            ),
                        ));
                        continue;
                    }
                }
                let what = match cp {
                    Some(_) => "only an errored verify checkpoint",
                    None if torn => {
                        "a torn verify checkpoint, and the old results_verified.json holds no complete verified entry"
                    }
                    None => "no verify checkpoint",
                };
                inexact.push(Inexact::new(
                    format!("unit {label}"),
                    format!(
                        "{what}: left unverified (no `verification` key, as when verification raises; it counts as \
                         disagreed and stays a confirmed finding); re-run `openant verify`"
                    ),
                ));
                missing.push(label);
            }
        }
    }

    if let Some(old) = salvaged {
        carry_over(&mut all_results, &candidates, old, &mut inexact);
    }
    for &i in &candidates {
        let r = &all_results[i];
        let key = merge_key(r);
        let in_old = key.as_str().is_some_and(|k| salvaged.is_some_and(|s| s.result_for(k).is_some()));
        if !in_old && r.get("verification_note").and_then(PyValue::as_str) == Some("") {
            inexact.push(Inexact::new(
                result_field(&id_text(&key), "verification_note"),
                "restored as \"\" (what an OpenAnt restore writes); a fresh run wrote no note on agreement, and \
                 the old file does not say which",
            ));
        }
    }
    note_crosscheck_groups(&all_results, &candidates, &mut inexact);

    // Merge: substitute the verified object with the same key (the last one wins). The
    // candidates were edited in place, so only duplicate keys change anything.
    // Keys are compared as their exact JSON text, in one map, so this is linear in the results.
    let key_text = |r: &PyValue| crate::pyjson::to_python_string(&merge_key(r), true).unwrap_or_default();
    let mut last_candidate: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for &c in &candidates {
        last_candidate.insert(key_text(&all_results[c]), c);
    }
    let confirmed: Vec<PyValue> = candidates
        .iter()
        .map(|&c| &all_results[c])
        .filter(|r| {
            let f = r.get("finding").map_or(Some(String::new()), |f| f.as_str().map(lower));
            matches!(f.as_deref(), Some("vulnerable" | "bypassable"))
        })
        .cloned()
        .collect();
    let winners: Vec<Option<usize>> = all_results.iter().map(|r| last_candidate.get(&key_text(r)).copied()).collect();
    let merged = super::last_use::merge_rows(&mut all_results, winners);

    let copied = |k: &str| experiment.get(k).cloned().unwrap_or_else(|| PyValue::from(""));
    note_copied_timestamp(&experiment, salvaged, &mut inexact);
    let mut metrics = PyObject::default();
    metrics.insert("total".to_owned(), PyValue::from(merged.len()));
    metrics.extend(count_verdicts(&merged, false));
    let mut doc = PyObject::default();
    doc.insert("dataset".to_owned(), copied("dataset"));
    doc.insert("model".to_owned(), copied("model"));
    doc.insert("timestamp".to_owned(), copied("timestamp"));
    doc.insert("verify".to_owned(), PyValue::Bool(true));
    doc.insert("metrics".to_owned(), PyValue::from(metrics));
    doc.insert("results".to_owned(), PyValue::Array(merged));
    if era == Era::ForkMaster {
        doc.insert(
            "code_by_route".to_owned(),
            experiment.get("code_by_route").cloned().unwrap_or_else(PyValue::object),
        );
    }
    doc.insert("confirmed_findings".to_owned(), PyValue::Array(confirmed));
    let value = PyValue::from(doc);
    let bytes = to_python_string(&value, era.verified_ensure_ascii())?;
    Ok(Rebuilt::new(value, bytes, inexact, missing))
}

/// The old results_verified.json entry of a candidate whose verify checkpoint is torn or gone
/// (an earlier repair quarantined it), when that entry holds a verification verify's resume
/// rule would have restored: its `verification`, `finding` and `verification_note` are what the
/// checkpoint held, so they are set as a restore sets them. A complete entry only, never
/// invented.
fn old_verification<'s>(r: &PyValue, salvaged: Option<&'s SalvagedFields>) -> Option<&'s PyValue> {
    let key = merge_key(r);
    let prev = salvaged?.result_for(key.as_str()?)?;
    is_restorable(CheckpointStep::Verify, prev).then_some(prev)
}

pub(crate) fn carry_over(
    all_results: &mut [PyValue],
    candidates: &[usize],
    old: &SalvagedFields,
    inexact: &mut Vec<Inexact>,
) {
    for &i in candidates {
        let key = merge_key(&all_results[i]);
        let Some(k) = key.as_str() else { continue };
        let Some(prev) = old.result_for(k) else { continue };
        let PyValue::Object(map) = &mut all_results[i] else { continue };
        if let Some(update) = prev.get("consistency_update") {
            if let Some(f) = prev.get("finding") {
                map.insert("finding".to_owned(), f.clone());
            }
            if let Some(cf) = prev.get("verification").and_then(|v| v.get("correct_finding")) {
                let v = map.entry("verification".to_owned()).or_insert_with(PyValue::object);
                if let PyValue::Object(v) = v {
                    v.insert("correct_finding".to_owned(), cf.clone());
                }
            }
            map.insert("consistency_update".to_owned(), update.clone());
            inexact.push(Inexact::new(
                result_field(k, "consistency_update"),
                "carried over (with the finding and correct_finding it set) from the old results_verified.json: the \
                 cross-check's LLM edit is not in the checkpoints",
            ));
        }
        let restored_empty_note = map.get("verification_note").and_then(PyValue::as_str) == Some("");
        if restored_empty_note
            && prev.get("verification_note").is_none()
            && prev.get("verification") == map.get("verification")
        {
            map.shift_remove("verification_note");
        }
    }
}

/// `_group_by_pattern` of `FindingVerifier`: the route_key split at its last `:`, a leading
/// `[a-z]+Msg` of the function part replaced by `*Msg`.
pub fn crosscheck_pattern(route_key: &str) -> String {
    let Some((file_part, func_part)) = route_key.rsplit_once(':') else { return route_key.to_owned() };
    let lowers = func_part.bytes().take_while(u8::is_ascii_lowercase).count();
    let func = if lowers > 0 && func_part[lowers..].starts_with("Msg") {
        format!("*Msg{}", &func_part[lowers + 3..])
    } else {
        func_part.to_owned()
    };
    format!("{file_part}:{func}")
}

/// Notes each candidate of a group the verify cross-check would send to the LLM (its
/// `verification.correct_finding or finding` values differ), unless an update was carried over.
pub(crate) fn note_crosscheck_groups(all_results: &[PyValue], candidates: &[usize], inexact: &mut Vec<Inexact>) {
    let mut groups: indexmap::IndexMap<String, Vec<&PyValue>> = indexmap::IndexMap::new();
    for &c in candidates {
        let r = &all_results[c];
        let rk = r.get("route_key").and_then(PyValue::as_str).unwrap_or("");
        groups.entry(crosscheck_pattern(rk)).or_default().push(r);
    }
    let mut any = false;
    for (pattern, group) in groups {
        if group.len() < 2 {
            continue;
        }
        let mut verdicts: Vec<PyValue> = Vec::new();
        for r in &group {
            let v = r
                .get("verification")
                .and_then(|v| v.get("correct_finding"))
                .filter(|v| truthy(v))
                .or_else(|| r.get("finding"))
                .cloned()
                .unwrap_or(PyValue::Null);
            if !verdicts.contains(&v) {
                verdicts.push(v);
            }
        }
        if verdicts.len() < 2 {
            continue;
        }
        for r in group {
            if r.get("consistency_update").is_some() {
                continue;
            }
            let label = id_text(&merge_key(r));
            any = true;
            for k in ["verification", "consistency_update"] {
                inexact.push(Inexact::new(
                    result_field(&label, k),
                    format!("may have been edited by the verify cross-check on pattern {pattern:?}: not reproducible"),
                ));
            }
            inexact.push(Inexact::new(
                result_field(&label, "finding"),
                format!(
                    "the verify cross-check would run on pattern {pattern:?}; its LLM edits (finding, \
                     verification.correct_finding, consistency_update) cannot be reproduced: kept the checkpointed \
                     ones"
                ),
            ));
        }
    }
    if any {
        for k in ["metrics", "confirmed_findings"] {
            inexact.push(Inexact::new(k, "follow the findings the verify cross-check may have changed"));
        }
    }
}

/// `results_verified.json` copies `timestamp` from `results.json` (every era); when the old
/// file had another one, the plan says so.
pub(crate) fn note_copied_timestamp(
    experiment: &PyObject,
    salvaged: Option<&SalvagedFields>,
    inexact: &mut Vec<Inexact>,
) {
    if let (Some(old), Some(ts)) = (salvaged.and_then(|s| s.field("timestamp")), experiment.get("timestamp")) {
        if old != ts {
            inexact.push(Inexact::new(
                "timestamp",
                "copied from results.json as OpenAnt does; the old results_verified.json had another one",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::CheckpointStep;
    use crate::regen::salvage_leading_fields;
    use crate::regen::test_support::{checkpoint_set, p};

    fn cps(files: &[(&str, &str)]) -> CheckpointSet {
        checkpoint_set(CheckpointStep::Verify, files)
    }

    fn results_doc() -> PyValue {
        p(r#"{"dataset":"dataset_enhanced.json","model":"claude-opus-4-6","timestamp":"2026-05-14T09:25:00.1",
            "metrics":{"total":99},"results":[
            {"finding":"vulnerable","verdict":"VULNERABLE","route_key":"a.py:f","unit_id":"a.py:f"},
            {"finding":"safe","verdict":"SAFE","route_key":"a.py:g","unit_id":"a.py:g"},
            {"finding":"bypassable","verdict":"BYPASSABLE","route_key":"b.py:h","unit_id":"b.py:h"},
            {"finding":"vulnerable","verdict":"VULNERABLE","route_key":"c.py:k","unit_id":"c.py:k"},
            {"finding":"insufficient_context","verdict":"INSUFFICIENT_CONTEXT","route_key":"d.py:z","unit_id":"d.py:z"}],
            "code_by_route":{"a.py:f":"code é"}}"#)
    }

    fn agree(id: &str, finding: &str) -> String {
        format!(
            r#"{{"verification":{{"agree":true,"correct_finding":"{finding}","explanation":"ok","iterations":3,"total_tokens":9}},"finding":"{finding}","verification_note":"","usage":{{}},"id":"{id}"}}"#
        )
    }

    #[test]
    fn restore_appends_verification_and_empty_note_and_recounts() {
        let set = cps(&[
            ("a.py_f.json", &agree("a.py:f", "vulnerable")),
            (
                "b.py_h.json",
                r#"{"verification":{"agree":false,"correct_finding":"safe","explanation":"no"},"finding":"safe","verification_note":"Changed from bypassable to safe","usage":{},"id":"b.py:h"}"#,
            ),
            (
                "c.py_k.json",
                r#"{"verification":{},"finding":"vulnerable","verification_note":"","usage":{},"id":"c.py:k"}"#,
            ),
        ]);
        let r = rebuild_verified(results_doc(), &set, Era::Fix, None).unwrap();
        let v = &r.value;
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["dataset", "model", "timestamp", "verify", "metrics", "results", "confirmed_findings"]);
        let res = v.get("results").unwrap().as_array().unwrap();
        let rkeys: Vec<&String> = res[0].as_object().unwrap().keys().collect();
        assert_eq!(rkeys[rkeys.len() - 2..], ["verification", "verification_note"]);
        assert_eq!(res[0].get("verification_note"), Some(&PyValue::from("")));
        // The disagreement changes finding in place.
        assert_eq!(res[2].get("finding"), Some(&PyValue::from("safe")));
        assert_eq!(res[2].as_object().unwrap().get_index_of("finding"), Some(0));
        // The errored checkpoint leaves c unverified, and it stays confirmed.
        assert!(res[3].get("verification").is_none());
        assert_eq!(r.missing_units, ["c.py:k"]);
        // Recount: insufficient_context counts nowhere in the verified metrics.
        assert_eq!(
            v.get("metrics"),
            Some(&p(r#"{"total":5,"vulnerable":2,"bypassable":0,"inconclusive":0,"protected":0,"safe":2,"errors":0}"#))
        );
        let confirmed: Vec<&str> = v
            .get("confirmed_findings")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.get("unit_id").unwrap().as_str().unwrap())
            .collect();
        assert_eq!(confirmed, ["a.py:f", "c.py:k"]);
        // ensure_ascii=False on the fix branch: raw é would be written raw (none here in results).
        assert!(!r.bytes.contains("\\u00e9"));
    }

    #[test]
    fn fork_writes_code_by_route_and_escapes() {
        let set = cps(&[("a.py_f.json", &agree("a.py:f", "vulnerable"))]);
        let r = rebuild_verified(results_doc(), &set, Era::ForkMaster, None).unwrap();
        let keys: Vec<&String> = r.value.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["dataset", "model", "timestamp", "verify", "metrics", "results", "code_by_route", "confirmed_findings"]
        );
        assert!(r.bytes.contains("code \\u00e9"));
        let r = rebuild_verified(results_doc(), &set, Era::Fix, None).unwrap();
        assert!(!r.bytes.contains("code_by_route"));
    }

    #[test]
    fn no_candidates_copies_results_and_confirms_nothing() {
        let doc = p(r#"{"dataset":"d","results":[{"finding":"safe","unit_id":"x"}]}"#);
        let r = rebuild_verified(doc.clone(), &CheckpointSet::empty(CheckpointStep::Verify), Era::Fix, None).unwrap();
        assert_eq!(r.value.get("model"), Some(&PyValue::from("")));
        assert_eq!(r.value.get("confirmed_findings"), Some(&PyValue::Array(vec![])));
        assert!(r.missing_units.is_empty());
    }

    #[test]
    fn candidates_use_verdict_only_without_a_finding_key() {
        assert!(is_candidate(&p(r#"{"verdict":"VULNERABLE"}"#)));
        assert!(!is_candidate(&p(r#"{"finding":null,"verdict":"VULNERABLE"}"#)));
        assert!(!is_candidate(&p(r#"{"finding":"Vulnerable"}"#)));
        assert!(is_candidate(&p(r#"{"finding":"bypassable","verdict":"SAFE"}"#)));
    }

    #[test]
    fn salvage_carries_consistency_updates_and_note_absence() {
        let set =
            cps(&[("a.py_f.json", &agree("a.py:f", "vulnerable")), ("b.py_h.json", &agree("b.py:h", "bypassable"))]);
        let mut old = rebuild_verified(results_doc(), &set, Era::Fix, None).unwrap().value;
        {
            let res = old.get_mut("results").unwrap().as_array_mut().unwrap();
            let a = res[0].as_object_mut().unwrap();
            a.shift_remove("verification_note");
            let b = res[2].as_object_mut().unwrap();
            b.insert("finding".into(), PyValue::from("vulnerable"));
            b.get_mut("verification").unwrap().insert("correct_finding", "vulnerable").unwrap();
            b.insert("consistency_update".into(), p(r#"{"from":"bypassable","to":"vulnerable"}"#));
        }
        let old_bytes = to_python_string(&old, false).unwrap();
        let salvaged = salvage_leading_fields(old_bytes.as_bytes());
        let r = rebuild_verified(results_doc(), &set, Era::Fix, Some(&salvaged)).unwrap();
        let res = r.value.get("results").unwrap().as_array().unwrap();
        assert!(res[0].get("verification_note").is_none());
        assert_eq!(res[2].get("finding"), Some(&PyValue::from("vulnerable")));
        assert!(r.names_inexact("results[b.py:h].consistency_update"));
        // Confirmed findings follow the final finding, and the output now equals the old file
        // apart from confirmed_findings, which is recomputed from the same objects.
        assert_eq!(r.value.get("results"), old.get("results"));
    }

    #[test]
    fn torn_or_gone_checkpoints_keep_the_old_verification() {
        let full =
            cps(&[("a.py_f.json", &agree("a.py:f", "vulnerable")), ("b.py_h.json", &agree("b.py:h", "bypassable"))]);
        let old = rebuild_verified(results_doc(), &full, Era::Fix, None).unwrap();
        // a's checkpoint is torn, b's is gone (quarantined by an earlier repair).
        let set = cps(&[("a.py_f.json", r#"{"verification": {"agree": tr"#)]);
        let salvaged = salvage_leading_fields(old.bytes.as_bytes());
        let r = rebuild_verified(results_doc(), &set, Era::Fix, Some(&salvaged)).unwrap();
        assert_eq!(r.value.get("results"), old.value.get("results"));
        assert_eq!(r.missing_units, ["c.py:k"]);
        let note = |unit: &str| r.inexact.iter().find(|n| n.field == format!("unit {unit}")).unwrap().note.clone();
        assert!(note("a.py:f").contains("old results_verified.json: its checkpoint is torn"), "{}", note("a.py:f"));
        assert!(note("b.py:h").contains("it has no verify checkpoint"), "{}", note("b.py:h"));

        // Only a complete old entry whose verification verify would restore is carried over.
        let cut = old.bytes.find("\"b.py:h\"").unwrap();
        let salvaged = salvage_leading_fields(&old.bytes.as_bytes()[..cut]);
        let r = rebuild_verified(results_doc(), &set, Era::Fix, Some(&salvaged)).unwrap();
        assert_eq!(r.missing_units, ["b.py:h", "c.py:k"]);
        let mut errored = old.value.clone();
        let a = &mut errored.get_mut("results").unwrap().as_array_mut().unwrap()[0];
        a.get_mut("verification").unwrap().insert("correct_finding", "error").unwrap();
        let salvaged = salvage_leading_fields(to_python_string(&errored, false).unwrap().as_bytes());
        let r = rebuild_verified(results_doc(), &set, Era::Fix, Some(&salvaged)).unwrap();
        assert_eq!(r.missing_units, ["a.py:f", "c.py:k"]);
        let note = &r.inexact.iter().find(|n| n.field == "unit a.py:f").unwrap().note;
        assert!(note.starts_with("a torn verify checkpoint"), "{note}");
    }

    #[test]
    fn crosscheck_patterns() {
        assert_eq!(crosscheck_pattern("pkg/logger/console.go:errorMsg.json"), "pkg/logger/console.go:*Msg.json");
        assert_eq!(crosscheck_pattern("pkg/x.go:Msg.json"), "pkg/x.go:Msg.json");
        assert_eq!(crosscheck_pattern("a:b:c"), "a:b:c");
        assert_eq!(crosscheck_pattern("plain"), "plain");
    }
}
