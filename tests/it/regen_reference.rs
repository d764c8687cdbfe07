//! The healthy trees under `testdata/healthy/` were built by `testdata/generate.py` from their
//! checkpoints the way OpenAnt builds them, so they are reference outputs: rebuilding each
//! output from the scan's own inputs + checkpoints must give the same bytes, exactly when the
//! old file's §3.7 fields are salvaged, and apart from the fields the rebuild names as inexact
//! when they are not. Damaged (truncated) old files must give back what their prefix holds.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use scanaudit::layout::CheckpointStep;
use scanaudit::pyjson::{parse, PyValue};
use scanaudit::regen::checkpoints::{detect_era_in_dir, CheckpointSet, Era};
use scanaudit::regen::enhanced::{rebuild_enhanced, EnhanceInputs};
use scanaudit::regen::results::{rebuild_results, AnalyzeInputs};
use scanaudit::regen::verified::rebuild_verified;
use scanaudit::regen::{salvage_leading_fields, Rebuilt, SalvagedFields};

struct Scan {
    rel: &'static str,
    era: Era,
    verified: bool,
}

const SCANS: &[Scan] = &[
    Scan { rel: "projects/acme-webapp/scans/3f9c2e1b7a6/python", era: Era::Fix, verified: true },
    Scan { rel: "projects/acme-webapp/scans/a1b2c3d4e5f/python", era: Era::Fix, verified: true },
    Scan { rel: "projects/widgets/storefront/scans/9f8e7d6c5b4/javascript", era: Era::Fix, verified: false },
    Scan { rel: "projects/forkproj/scans/5c3855e0a1b/python", era: Era::ForkMaster, verified: true },
    Scan { rel: "projects/scratchpad/scans/nogit/go", era: Era::Fix, verified: false },
    Scan { rel: "open_ant_k2j3h4x9", era: Era::Fix, verified: false },
];

fn dir(scan: &Scan) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/healthy").join(scan.rel)
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> PyValue {
    parse(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn now() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2031, 1, 2).unwrap().and_hms_micro_opt(3, 4, 5, 600_700).unwrap()
}

fn enhanced(scan: &Scan, era: Era, salvaged: Option<&SalvagedFields>) -> Rebuilt {
    let d = dir(scan);
    let dataset = json(&d.join("dataset.json"));
    let cp_dir = scanaudit::regen::checkpoints::enhance_checkpoint_dir_in(&d, era);
    let cps = CheckpointSet::load_dir(&d.join(cp_dir), CheckpointStep::Enhance).unwrap();
    assert!(cps.dir_exists, "{}: no enhance checkpoints", scan.rel);
    let mut cps = cps;
    rebuild_enhanced(dataset, &mut cps, &EnhanceInputs { era, salvaged, single_file: None }).unwrap()
}

fn results(scan: &Scan, era: Era, salvaged: Option<&SalvagedFields>) -> Rebuilt {
    let d = dir(scan);
    let report = json(&d.join("analyze.report.json"));
    let name = report.at("inputs").at("dataset_path").as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    // The input dataset is the (healthy) file on disk the report names.
    let dataset = json(&d.join(&name));
    let inputs = AnalyzeInputs::from_report(&dataset, Some(&report), "dataset.json");
    let cps = CheckpointSet::load_dir(&d.join("analyze_checkpoints"), CheckpointStep::Analyze).unwrap();
    let mut cps = cps;
    rebuild_results(&inputs, &mut cps, era, salvaged, now()).unwrap()
}

fn verified(scan: &Scan, era: Era, salvaged: Option<&SalvagedFields>) -> Rebuilt {
    let d = dir(scan);
    let results_doc = json(&d.join("results.json"));
    let cps = CheckpointSet::load_dir(&d.join("verify_checkpoints"), CheckpointStep::Verify).unwrap();
    rebuild_verified(results_doc, &cps, era, salvaged).unwrap()
}

// `PyValue` has no Index impl; a tiny helper keeps the test readable.
trait Idx {
    fn at(&self, k: &str) -> &PyValue;
}
impl Idx for PyValue {
    fn at(&self, k: &str) -> &PyValue {
        self.get(k).unwrap_or(&PyValue::Null)
    }
}

/// Masks, in both documents, every field an inexact note names, so the rest can be compared.
fn mask(doc: &mut PyValue, rebuilt: &Rebuilt) {
    for note in &rebuilt.inexact {
        let field = note.field.as_str();
        if let Some(rest) = field.strip_prefix("results[") {
            let Some((id, key)) = rest.rsplit_once("].") else { continue };
            for list in ["results", "confirmed_findings"] {
                let Some(items) = doc.get_mut(list).and_then(PyValue::as_array_mut) else { continue };
                for r in items.iter_mut() {
                    let matches = r.get("unit_id").and_then(PyValue::as_str) == Some(id)
                        || r.get("route_key").and_then(PyValue::as_str) == Some(id);
                    if matches {
                        r.as_object_mut().unwrap().shift_remove(key);
                    }
                }
            }
        } else if field == "code_by_route" {
            if let Some(PyValue::Object(map)) = doc.get_mut("code_by_route") {
                map.sort_keys();
            }
        } else if let Some((a, b)) = field.split_once('.') {
            if let Some(inner) = doc.get_mut(a).and_then(PyValue::as_object_mut) {
                inner.shift_remove(b);
            }
        } else if !field.starts_with("unit ") && !field.starts_with("units[") {
            doc.as_object_mut().unwrap().shift_remove(field);
        }
    }
}

fn assert_same_bytes(what: &str, rebuilt: &Rebuilt, old: &[u8]) {
    if rebuilt.bytes.as_bytes() != old {
        let old = String::from_utf8_lossy(old);
        let line = rebuilt.bytes.lines().zip(old.lines()).position(|(a, b)| a != b);
        let show = |s: &str, i: usize| s.lines().skip(i.saturating_sub(3)).take(7).collect::<Vec<_>>().join("\n");
        match line {
            Some(i) => panic!(
                "{what}: differs at line {}\n--- rebuilt\n{}\n--- on disk\n{}\ninexact: {:#?}",
                i + 1,
                show(&rebuilt.bytes, i),
                show(&old, i),
                rebuilt.inexact
            ),
            None => panic!("{what}: lengths differ ({} vs {})", rebuilt.bytes.len(), old.len()),
        }
    }
}

fn assert_same_masked(what: &str, rebuilt: &Rebuilt, old: &[u8]) {
    let mut a = rebuilt.value.clone();
    let mut b = parse(old).unwrap();
    mask(&mut a, rebuilt);
    mask(&mut b, rebuilt);
    if a != b {
        let sa = scanaudit::pyjson::to_python_string(&a, true).unwrap();
        let sb = scanaudit::pyjson::to_python_string(&b, true).unwrap();
        let i = sa.lines().zip(sb.lines()).position(|(x, y)| x != y).unwrap_or(0);
        let show = |s: &str| s.lines().skip(i.saturating_sub(3)).take(7).collect::<Vec<_>>().join("\n");
        panic!(
            "{what}: differs beyond the inexact fields at masked line {}\n--- rebuilt\n{}\n--- on disk\n{}\ninexact: {:#?}",
            i + 1,
            show(&sa),
            show(&sb),
            rebuilt.inexact
        );
    }
}

#[test]
fn eras_are_detected_from_the_scans() {
    for scan in SCANS {
        assert_eq!(detect_era_in_dir(&dir(scan)).0, scan.era, "{}", scan.rel);
    }
}

#[test]
fn dataset_enhanced_is_rebuilt_byte_for_byte() {
    for scan in SCANS {
        let path = dir(scan).join("dataset_enhanced.json");
        let old = read(&path);
        let salvaged = salvage_leading_fields(&old);
        let with = enhanced(scan, scan.era, Some(&salvaged));
        assert_same_bytes(&format!("{} dataset_enhanced.json (salvaged)", scan.rel), &with, &old);
        assert!(!with.names_inexact("metadata.token_usage"));

        let without = enhanced(scan, scan.era, None);
        assert!(without.names_inexact("metadata.token_usage"), "{}", scan.rel);
        assert_same_masked(&format!("{} dataset_enhanced.json", scan.rel), &without, &old);
        // Only the fresh acme scan has tracker totals a restore cannot give (total_calls).
        let fresh = scan.rel.contains("a1b2c3d4e5f");
        assert_eq!(without.bytes.as_bytes() == old.as_slice(), !fresh, "{}", scan.rel);
    }
}

#[test]
fn results_are_rebuilt_byte_for_byte() {
    for scan in SCANS {
        let path = dir(scan).join("results.json");
        let old = read(&path);
        let salvaged = salvage_leading_fields(&old);
        let with = results(scan, scan.era, Some(&salvaged));
        assert_same_bytes(&format!("{} results.json (salvaged)", scan.rel), &with, &old);
        assert!(!with.names_inexact("timestamp") && !with.names_inexact("code_by_route"));

        let without = results(scan, scan.era, None);
        assert!(without.names_inexact("timestamp") && without.names_inexact("model"), "{}", scan.rel);
        assert_eq!(without.value.at("timestamp"), &PyValue::from("2031-01-02T03:04:05.600700"));
        assert_same_masked(&format!("{} results.json", scan.rel), &without, &old);
        // The generator wrote code_by_route in OpenAnt's restore order (restored units in unit
        // order, re-run ones after them), which is what a rebuild without the old file gives.
        let keys = |v: &PyValue| v.at("code_by_route").as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&without.value), keys(&parse(&old).unwrap()), "{}", scan.rel);
    }
}

#[test]
fn results_verified_is_rebuilt_byte_for_byte() {
    for scan in SCANS.iter().filter(|s| s.verified) {
        let path = dir(scan).join("results_verified.json");
        let old = read(&path);
        let salvaged = salvage_leading_fields(&old);
        let with = verified(scan, scan.era, Some(&salvaged));
        assert_same_bytes(&format!("{} results_verified.json (salvaged)", scan.rel), &with, &old);

        let without = verified(scan, scan.era, None);
        assert_same_masked(&format!("{} results_verified.json", scan.rel), &without, &old);
    }
}

#[test]
fn units_with_errored_checkpoints_are_listed() {
    let acme = &SCANS[0];
    let e = enhanced(acme, Era::Fix, None);
    assert_eq!(e.missing_units, ["app/services/cache.py:CacheClient.get"]);
    let r = results(acme, Era::Fix, None);
    assert_eq!(r.missing_units.len(), 1);
    assert!(r.missing_units[0].ends_with("handle_webhook"), "{:?}", r.missing_units);
}

/// Cut points: several fractions of the file plus the boundaries around the timestamp and the
/// first result, and one byte short of complete.
fn cuts(old: &[u8]) -> Vec<usize> {
    let text = String::from_utf8_lossy(old);
    let mut cuts: Vec<usize> = [1, 5, 20, 35, 50, 65, 80, 95].iter().map(|p| old.len() * p / 100).collect();
    for marker in ["\"timestamp\"", "\"metrics\"", "\"results\": [", "\n    },\n"] {
        if let Some(i) = text.find(marker) {
            cuts.extend([i, i + marker.len()]);
        }
    }
    cuts.extend([0, old.len() - 1]);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

fn check_prefix(what: &str, rebuilt: &Rebuilt, salvaged: &SalvagedFields, old_bytes: &[u8], tail_fields: &[&str]) {
    // Whatever the prefix held is exact.
    for field in ["timestamp", "model"] {
        if salvaged.field(field).is_some() {
            assert!(!rebuilt.names_inexact(field), "{what}: {field} was salvaged");
            assert_eq!(rebuilt.value.get(field), salvaged.field(field), "{what}: {field}");
        }
    }
    let old = parse(old_bytes).unwrap();
    let rebuilt_results = rebuilt.value.at("results").as_array().unwrap();
    for s in salvaged.results() {
        if s.get("stage1_consistency_update").is_some() || s.get("consistency_update").is_some() {
            let id = s.at("unit_id");
            let r = rebuilt_results.iter().find(|r| r.at("unit_id") == id).unwrap();
            assert_eq!(r, s, "{what}: consistency-updated result carried over");
        }
    }
    // The rest is identical apart from what is named inexact.
    assert_same_masked(what, rebuilt, old_bytes);
    // And a prefix that holds every non-rebuildable field gives the exact bytes back.
    let needs: Vec<&PyValue> = old
        .at("results")
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r.get("stage1_consistency_update").is_some()
                || r.get("consistency_update").is_some()
                || (r.get("verification").is_some() && r.get("verification_note").is_none())
        })
        .collect();
    let all_held = tail_fields.iter().all(|f| salvaged.field(f).is_some())
        && needs.iter().all(|n| salvaged.results().any(|s| s.at("unit_id") == n.at("unit_id")));
    if all_held && rebuilt.inexact.iter().all(|n| !n.field.starts_with("units[") && !n.field.starts_with("metadata")) {
        let code_by_route_ok = !rebuilt.names_inexact("code_by_route") || salvaged.field("code_by_route").is_some();
        if code_by_route_ok {
            assert_same_bytes(what, rebuilt, old_bytes);
        }
    }
}

#[test]
fn torn_old_outputs_give_back_what_their_prefix_holds() {
    for scan in SCANS {
        let d = dir(scan);
        let old = read(&d.join("results.json"));
        for cut in cuts(&old) {
            let salvaged = salvage_leading_fields(&old[..cut]);
            assert!(!salvaged.complete());
            let what = format!("{} results.json cut at {cut}", scan.rel);
            let rebuilt = results(scan, scan.era, Some(&salvaged));
            check_prefix(&what, &rebuilt, &salvaged, &old, &["timestamp", "model"]);
        }
        if scan.verified {
            let old = read(&d.join("results_verified.json"));
            for cut in cuts(&old) {
                let salvaged = salvage_leading_fields(&old[..cut]);
                let what = format!("{} results_verified.json cut at {cut}", scan.rel);
                let rebuilt = verified(scan, scan.era, Some(&salvaged));
                check_prefix(&what, &rebuilt, &salvaged, &old, &[]);
            }
        }
        let old = read(&d.join("dataset_enhanced.json"));
        for cut in cuts(&old) {
            let salvaged = salvage_leading_fields(&old[..cut]);
            let rebuilt = enhanced(scan, scan.era, Some(&salvaged));
            // The metadata is the last member: only a prefix that holds all of it gives token_usage.
            assert_eq!(rebuilt.names_inexact("metadata.token_usage"), salvaged.field("metadata").is_none());
            assert_same_masked(&format!("{} dataset_enhanced.json cut at {cut}", scan.rel), &rebuilt, &old);
        }
    }
}

#[test]
fn salvage_recovers_every_complete_element_of_every_prefix() {
    // Every prefix of two small results.json files (one per era), and of the acme verified file
    // (raw UTF-8) every prefix near a multi-byte character plus a stride through the rest:
    // salvage is O(prefix) per call, so all 28 K prefixes would only slow the test down.
    for (scan, name) in [(&SCANS[5], "results.json"), (&SCANS[3], "results.json")] {
        let old = read(&dir(scan).join(name));
        every_prefix(&old, &(0..=old.len()).collect::<Vec<_>>());
    }
    let old = read(&dir(&SCANS[0]).join("results_verified.json"));
    let mut cuts: Vec<usize> = (0..=old.len()).step_by(97).collect();
    for (i, b) in old.iter().enumerate() {
        if *b >= 0x80 {
            cuts.extend(i.saturating_sub(1)..(i + 2).min(old.len() + 1));
        }
    }
    cuts.push(old.len());
    cuts.sort_unstable();
    cuts.dedup();
    every_prefix(&old, &cuts);
}

fn every_prefix(old: &[u8], cuts: &[usize]) {
    let full = parse(old).unwrap();
    let all = full.at("results").as_array().unwrap();
    let mut last = 0;
    for &cut in cuts {
        let s = salvage_leading_fields(&old[..cut]);
        let results: Vec<&PyValue> = s.results().collect();
        assert!(results.len() >= last, "cut {cut}: fewer elements than a shorter prefix");
        assert!(results.iter().copied().eq(&all[..results.len()]), "cut {cut}");
        for (k, v) in s.fields() {
            assert_eq!(full.get(k), Some(v), "cut {cut}: {k}");
        }
        last = results.len();
    }
    assert_eq!(last, all.len());
    assert!(salvage_leading_fields(old).complete());
}

/// The notes a rebuild without the old file gives (what repair's plan shows) are about this
/// scan: each names a field the rebuilt or the reference output has (a top-level key, `a.b`),
/// a key of one of its entries (`results[<unit>].<key>`, `units[<unit>].<key>`) or a unit of
/// the dataset (`unit <id>`), and says something; and every unit the rebuild lists as missing (OpenAnt's to redo) has a note.
#[test]
fn every_note_names_a_field_or_unit_of_the_scan() {
    for scan in SCANS {
        let d = dir(scan);
        let mut rebuilds = vec![
            ("dataset_enhanced.json", enhanced(scan, scan.era, None)),
            ("results.json", results(scan, scan.era, None)),
        ];
        if scan.verified {
            rebuilds.push(("results_verified.json", verified(scan, scan.era, None)));
        }
        let dataset = json(&d.join("dataset.json"));
        let units: Vec<&str> =
            dataset.at("units").as_array().unwrap().iter().map(|u| u.at("id").as_str().unwrap()).collect();
        for (name, rebuilt) in &rebuilds {
            let reference = json(&d.join(name));
            for note in &rebuilt.inexact {
                let what = format!("{} {name}: {}: {}", scan.rel, note.field, note.note);
                assert!(!note.note.trim().is_empty(), "{what}: the note says nothing");
                let named = [&rebuilt.value, &reference].iter().any(|doc| names(doc, &units, &note.field));
                assert!(named, "{what}: names no field or unit of the scan");
            }
            for unit in &rebuilt.missing_units {
                let noted = rebuilt
                    .inexact
                    .iter()
                    .any(|n| n.field == format!("unit {unit}") || n.field.starts_with(&format!("units[{unit}].")));
                assert!(noted, "{} {name}: missing unit {unit} has no note", scan.rel);
            }
        }
    }
}

/// Whether an inexact note's `field` names something of `doc` (an output) or a unit in `units`.
fn names(doc: &PyValue, units: &[&str], field: &str) -> bool {
    if let Some(unit) = field.strip_prefix("unit ") {
        return units.contains(&unit);
    }
    for (list, id_keys) in [("results[", &["unit_id", "route_key"][..]), ("units[", &["id"][..])] {
        if let Some(rest) = field.strip_prefix(list) {
            // The entry, not its key: a note may be about a key an entry lacks or only may have.
            let Some((id, _key)) = rest.rsplit_once("].") else { return false };
            let items = doc.at(&list[..list.len() - 1]).as_array().map(Vec::as_slice).unwrap_or_default();
            return items.iter().any(|item| id_keys.iter().any(|k| item.at(k).as_str() == Some(id)));
        }
    }
    match field.split_once('.') {
        Some((outer, inner)) => doc.at(outer).get(inner).is_some(),
        None => doc.get(field).is_some(),
    }
}

mod no_panic {
    use super::*;
    use proptest::prelude::*;
    use scanaudit::pyjson::{to_python_string, PyObject};

    const KEYS: &[&str] = &[
        "units",
        "id",
        "results",
        "unit_id",
        "finding",
        "verdict",
        "route_key",
        "agent_context",
        "error",
        "type",
        "diff_selected",
        "code",
        "result",
        "verification",
        "correct_finding",
        "usage",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "metadata",
        "security_classification",
        "include_functions",
        "agent_metadata",
        "iterations",
        "code_for_route",
        "timestamp",
        "model",
        "consistency_update",
        "stage1_consistency_update",
        "verification_note",
        "code_by_route",
        "dataset",
    ];
    const STRS: &[&str] = &["vulnerable", "bypassable", "VULNERABLE", "ERROR", "error", "a", "a:b", "x.py:get_f", ""];

    fn value() -> impl Strategy<Value = PyValue> {
        let leaf = prop_oneof![
            Just(PyValue::Null),
            any::<bool>().prop_map(PyValue::Bool),
            (-3i64..5).prop_map(PyValue::from),
            prop_oneof![Just(0.5f64), Just(-0.0), Just(f64::NAN), Just(1e300)].prop_map(PyValue::Float),
            proptest::sample::select(STRS).prop_map(PyValue::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(PyValue::Array),
                proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                    PyValue::from(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<PyObject>())
                }),
            ]
        })
    }

    /// Documents shaped like a dataset / results file, with random members.
    fn shaped() -> impl Strategy<Value = PyValue> {
        let obj = || {
            proptest::collection::vec((proptest::sample::select(KEYS), value()), 0..8)
                .prop_map(|kv| PyValue::from(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<PyObject>()))
        };
        (proptest::collection::vec(obj(), 0..6), proptest::collection::vec(obj(), 0..6), value()).prop_map(
            |(units, results, meta)| {
                PyValue::from(PyObject::from_iter([
                    ("units".to_owned(), PyValue::Array(units)),
                    ("results".to_owned(), PyValue::Array(results)),
                    ("metadata".to_owned(), meta),
                ]))
            },
        )
    }

    fn files(vals: Vec<(String, PyValue)>) -> Vec<(String, Result<Vec<u8>, String>)> {
        vals.into_iter().map(|(n, v)| (n + ".json", Ok(to_python_string(&v, true).unwrap().into_bytes()))).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
        #[test]
        fn rebuilds_never_panic(
            doc in prop_oneof![value(), shaped()],
            cps in proptest::collection::vec((proptest::sample::select(STRS).prop_map(String::from), prop_oneof![value(), shaped()]), 0..5),
            old in value(),
            cut in any::<proptest::sample::Index>(),
            fork in any::<bool>(),
        ) {
            let era = if fork { Era::ForkMaster } else { Era::Fix };
            let old_bytes = to_python_string(&old, false).unwrap();
            let salvaged = salvage_leading_fields(&old_bytes.as_bytes()[..cut.index(old_bytes.len() + 1)]);
            for step in [CheckpointStep::Enhance, CheckpointStep::Analyze, CheckpointStep::Verify] {
                let set = CheckpointSet::from_files(step, files(cps.clone()));
                let _ = rebuild_enhanced(doc.clone(), &mut set.clone(), &EnhanceInputs { era, salvaged: Some(&salvaged), single_file: None });
                let report = PyValue::from(PyObject::from_iter([("inputs".to_owned(), doc.clone())]));
                let inputs = AnalyzeInputs::from_report(&doc, Some(&report), "dataset.json");
                let _ = rebuild_results(&inputs, &mut set.clone(), era, Some(&salvaged), now());
                let _ = rebuild_verified(doc.clone(), &set, era, Some(&salvaged));
            }
        }
    }
}
