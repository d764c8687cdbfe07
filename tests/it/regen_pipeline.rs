//! Rebuilding `pipeline_output.json` and `dynamic_test_results.json` (+ Markdown) for every
//! healthy fixture scan, from the scan's own files, and comparing with what is on disk.
//!
//! The fixtures were built by `testdata/generate.py` the OpenAnt way (`build_pipeline_output`,
//! `build_dynamic`), so a byte-exact match here means the Rust rebuild agrees with that model of
//! OpenAnt on real-shaped inputs (every era, diff mode, JS routes, non-ASCII, dedup, …).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use scanaudit::pyjson::{self, PyValue};
use scanaudit::regen::dynamic::{self, DynamicOptions};
use scanaudit::regen::pipeline::{self, PipelineOptions};
use scanaudit::regen::OldOutput;
use scanaudit::regen::Rebuilt as RebuiltOutput;

fn healthy_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/healthy")
}

/// Every scan dir under testdata/healthy holding `name`.
fn scans_with(name: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(healthy_root())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() == name && e.file_type().is_file())
        .filter_map(|e| e.path().parent().map(Path::to_path_buf))
        .collect();
    out.sort();
    out
}

/// Whether the file on disk is of today's format (`context_source`, which today's build-output
/// always writes): the rebuild is asked for the era of the file it is compared with.
fn todays(on_disk: &[u8]) -> bool {
    pyjson::parse(on_disk).unwrap().get("context_source").is_some()
}

fn fixed_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-01-02T03:04:05.000006Z").unwrap().with_timezone(&Utc)
}

fn show(out: &RebuiltOutput) -> String {
    out.inexact.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

/// Sets the value at a dotted path to null in an object tree (a no-op if absent).
fn mask(v: &mut PyValue, path: &str) {
    let mut cur = v;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        let Some(next) = cur.get_mut(p) else { return };
        if i + 1 == parts.len() {
            *next = PyValue::Null;
            return;
        }
        cur = next;
    }
}

/// Compares `rebuilt` with the file on disk after nulling exactly the fields named inexact.
fn assert_equal_except_inexact(rebuilt: &RebuiltOutput, on_disk: &[u8], ctx: &str) {
    let mut want = pyjson::parse(on_disk).unwrap();
    let mut got = rebuilt.value.clone();
    for f in &rebuilt.inexact {
        mask(&mut want, &f.field);
        mask(&mut got, &f.field);
    }
    let want = pyjson::to_python_string(&want, false).unwrap();
    let got = pyjson::to_python_string(&got, false).unwrap();
    assert!(
        want == got,
        "{ctx}: differs outside the inexact fields\ninexact:\n{}\n--- got\n{got}\n--- want\n{want}",
        show(rebuilt)
    );
}

#[test]
fn pipeline_output_rebuilds_byte_exact_with_the_old_file() {
    let scans = scans_with("pipeline_output.json");
    assert!(scans.len() >= 7, "fixtures missing: {scans:?}");
    for dir in scans {
        let on_disk = std::fs::read(dir.join("pipeline_output.json")).unwrap();
        let opts = PipelineOptions { today: todays(&on_disk), ..PipelineOptions::default() };
        let out = pipeline::rebuild_pipeline_output(&dir, opts).unwrap();
        assert!(out.inexact.is_empty(), "{}: {}", dir.display(), show(&out));
        assert!(
            out.bytes.as_bytes() == on_disk,
            "{}: bytes differ\n--- got\n{}\n--- want\n{}",
            dir.display(),
            out.bytes,
            String::from_utf8_lossy(&on_disk)
        );
        assert!(out.inputs.iter().any(|i| i.path.ends_with("pipeline_output.json")));
    }
}

#[test]
fn pipeline_output_rebuilds_from_a_torn_old_file() {
    for dir in scans_with("pipeline_output.json") {
        let on_disk = std::fs::read(dir.join("pipeline_output.json")).unwrap();
        let text = String::from_utf8(on_disk.clone()).unwrap();
        let mut cuts = vec![0, 1, 40, on_disk.len() / 3, on_disk.len() / 2, on_disk.len() - 1];
        for marker in ["\"analysis_date\"", "\"application_type\"", "\"processing_level\"", "\"costs\"", "\"findings\""]
        {
            let at = text.find(marker).unwrap();
            cuts.extend([at, at + marker.len() + 5]);
        }
        for cut in cuts {
            let prefix = on_disk[..cut].to_vec();
            let opts = PipelineOptions {
                now: Some(fixed_now()),
                old_output: OldOutput::Bytes(prefix),
                era: None,
                today: todays(&on_disk),
                ..PipelineOptions::default()
            };
            let out = pipeline::rebuild_pipeline_output(&dir, opts).unwrap();
            let ctx = format!("{} cut at {cut}", dir.display());
            assert_equal_except_inexact(&out, &on_disk, &ctx);
            let salvaged = pipeline::salvage_leading_fields(&on_disk[..cut]);
            assert_eq!(out.is_inexact("analysis_date"), salvaged.analysis_date.is_none(), "{ctx}");
            if cut >= text.find("\"results\": {").unwrap() {
                // Every leading field was in the prefix: the rebuild is exact.
                assert!(out.inexact.is_empty(), "{ctx}: {}", show(&out));
                assert_eq!(out.bytes.as_bytes(), on_disk, "{ctx}");
            }
        }
    }
}

#[test]
fn pipeline_output_rebuilds_without_an_old_file() {
    for dir in scans_with("pipeline_output.json") {
        let on_disk = std::fs::read(dir.join("pipeline_output.json")).unwrap();
        let opts = PipelineOptions {
            now: Some(fixed_now()),
            old_output: OldOutput::Ignore,
            era: None,
            today: todays(&on_disk),
            ..PipelineOptions::default()
        };
        let out = pipeline::rebuild_pipeline_output(&dir, opts).unwrap();
        let ctx = dir.display().to_string();
        assert_equal_except_inexact(&out, &on_disk, &ctx);
        assert!(out.is_inexact("analysis_date"), "{ctx}");
        assert_eq!(out.value.get("analysis_date").and_then(PyValue::as_str), Some("2030-01-02T03:04:05.000006+00:00"));
        assert!(out.is_inexact("repository"), "{ctx}");
        let allowed = ["analysis_date", "repository", "pipeline_stats.processing_level"];
        for f in &out.inexact {
            assert!(allowed.contains(&f.field.as_str()), "{ctx}: unexpected inexact field {f}");
        }
        // The guesses named inexact hold for every fixture (all were made the common way:
        // project scans against the active project, ad-hoc scans without --repo-name).
        let want = pyjson::parse(&on_disk).unwrap();
        assert_eq!(out.value.get("repository"), want.get("repository"), "{ctx}");
        assert_eq!(
            out.value.get("pipeline_stats").and_then(|s| s.get("processing_level")),
            want.get("pipeline_stats").and_then(|s| s.get("processing_level")),
            "{ctx}"
        );
    }
}

/// A results file an earlier repair step provides is read only if the build reads it: the
/// other one's reader is never called, and the one read is used instead of the disk's.
#[test]
fn a_provided_results_file_is_read_only_when_the_build_reads_it() {
    use pipeline::Provided;
    use std::cell::Cell;
    use std::rc::Rc;
    for dir in scans_with("pipeline_output.json") {
        let on_disk = std::fs::read(dir.join("pipeline_output.json")).unwrap();
        let ctx = dir.display().to_string();
        let base = || PipelineOptions { now: Some(fixed_now()), today: todays(&on_disk), ..PipelineOptions::default() };
        // Which file the build reads, told by giving it both and seeing which it calls for.
        let called: Rc<Cell<Option<&'static str>>> = Rc::new(Cell::new(None));
        let mut opts = base();
        for name in ["results.json", "results_verified.json"] {
            let (called, path) = (Rc::clone(&called), dir.join(name));
            let read = move || {
                assert!(called.replace(Some(name)).is_none(), "both results files were read");
                Ok(pyjson::parse(&std::fs::read(path).map_err(|e| e.to_string())?).unwrap())
            };
            opts.provided.insert(name.to_owned(), Provided::OnDemand(Box::new(read)));
        }
        let verify_ran = dir.join("results_verified.json").exists();
        opts.verify_ran = verify_ran;
        let out = pipeline::rebuild_pipeline_output(&dir, opts).unwrap();
        let read = called.get().expect("the results file the build reads was read");
        // The same document as built from the disk alone.
        let from_disk = pipeline::rebuild_pipeline_output(&dir, PipelineOptions { verify_ran, ..base() }).unwrap();
        assert_eq!(out.bytes, from_disk.bytes, "{ctx}: read {read}");
        // A reader that fails names the file and stops the rebuild.
        let mut opts = base();
        opts.verify_ran = verify_ran;
        opts.provided.insert(read.to_owned(), Provided::OnDemand(Box::new(|| Err("gone".to_owned()))));
        let err = pipeline::rebuild_pipeline_output(&dir, opts).unwrap_err().to_string();
        assert!(err.contains(read) && err.contains("gone"), "{ctx}: {err}");
    }
}

#[test]
fn pipeline_rebuild_fails_cleanly_without_the_results_file() {
    let tmp = tempfile::tempdir().unwrap();
    let err = pipeline::rebuild_pipeline_output(tmp.path(), PipelineOptions::default()).unwrap_err();
    assert!(err.to_string().contains("results.json"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// dynamic_test_results.json and DYNAMIC_TEST_RESULTS.md
//
// The generator writes these the way OpenAnt does at the end of a dynamic-test run. For scans
// generated as *restored* runs (acme 3f9c…, forkproj) every result was restored from its
// checkpoint, so — as in OpenAnt — `evidence` is `[]` on disk while the checkpoints hold the
// evidence. The *fresh* scan (acme a1b2…) keeps the evidence and has one ERROR test, whose
// checkpoint OpenAnt would re-run. The legacy scan has no checkpoint dir at all.
// ---------------------------------------------------------------------------------------------

fn dyn_opts(evidence: dynamic::EvidencePolicy) -> DynamicOptions {
    DynamicOptions { now: Some(fixed_now()), evidence, ..DynamicOptions::default() }
}

#[test]
fn dynamic_results_rebuild_from_checkpoints() {
    let scans = scans_with("dynamic_test_results.json");
    assert!(scans.len() >= 4, "{scans:?}");
    let mut seen_restored = 0;
    let mut seen_fresh = 0;
    for dir in scans {
        let ctx = dir.display().to_string();
        let disk_bytes = std::fs::read(dir.join("dynamic_test_results.json")).unwrap();
        let disk = pyjson::parse(&disk_bytes).unwrap();
        let disk_results = disk.get("results").and_then(PyValue::as_array).unwrap().clone();
        let kept =
            dynamic::rebuild_dynamic_from_scan_dir(&dir, &dyn_opts(dynamic::EvidencePolicy::KeepFromCheckpoints))
                .unwrap();
        if !dir.join("dynamic_test_checkpoints").is_dir() {
            // Legacy: no checkpoint to restore from. The old file's results are carried over,
            // each named; without the old file every finding is listed, none invented.
            assert!(kept.missing.is_empty(), "{ctx}");
            assert_eq!(kept.json.value.get("results").and_then(PyValue::as_array).unwrap(), &disk_results, "{ctx}");
            for r in &disk_results {
                let field = format!("finding {}", r.get("finding_id").and_then(PyValue::as_str).unwrap());
                assert!(kept.json.is_inexact(&field), "{ctx}: {field}");
            }
            let opts = DynamicOptions { old_json: OldOutput::Ignore, ..dyn_opts(Default::default()) };
            let without = dynamic::rebuild_dynamic_from_scan_dir(&dir, &opts).unwrap();
            assert_eq!(without.missing.len(), disk_results.len(), "{ctx}");
            assert!(without.json.value.get("results").and_then(PyValue::as_array).unwrap().is_empty());
            assert!(without.missing.iter().all(|m| m.reason == dynamic::MissingReason::NoCheckpoint));
            continue;
        }
        let missing_ids: Vec<&PyValue> = kept.missing.iter().map(|m| &m.finding_id).collect();
        // Only ERROR tests the old file does not hold are missing (OpenAnt re-runs those), and
        // each is named inexact; an ERROR test the old file holds is carried over from it.
        for m in &kept.missing {
            assert_eq!(m.reason, dynamic::MissingReason::Errored, "{ctx}");
            let field = format!("results[{}]", m.finding_id.as_str().unwrap());
            assert!(kept.json.is_inexact(&field), "{ctx}: {field}");
        }
        let mut want = disk.clone();
        let want_results: Vec<PyValue> =
            disk_results.iter().filter(|r| !missing_ids.contains(&r.get("finding_id").unwrap())).cloned().collect();
        assert_eq!(disk_results.len() - want_results.len(), kept.missing.len(), "{ctx}");
        *want.get_mut("results").unwrap() = PyValue::Array(want_results.clone());
        let fresh =
            disk_results.iter().any(|r| r.get("evidence").and_then(PyValue::as_array).is_some_and(|e| !e.is_empty()));
        let got = if fresh {
            seen_fresh += 1;
            kept.json.value.clone()
        } else {
            // OpenAnt's resume wrote evidence []; ours kept the checkpoints' evidence and says so.
            seen_restored += 1;
            assert!(
                kept.json.notes.iter().any(|n| n == "evidence kept from checkpoints (OpenAnt's resume writes [])"),
                "{ctx}: {:?}",
                kept.json.notes
            );
            let resume =
                dynamic::rebuild_dynamic_from_scan_dir(&dir, &dyn_opts(dynamic::EvidencePolicy::AsOpenAntResume))
                    .unwrap();
            let mut masked = kept.json.value.clone();
            let evidence_count = masked
                .get_mut("results")
                .and_then(PyValue::as_array_mut)
                .unwrap()
                .iter_mut()
                .map(|r| std::mem::replace(r.get_mut("evidence").unwrap(), PyValue::Array(vec![])))
                .filter(|e| e.as_array().is_some_and(|a| !a.is_empty()))
                .count();
            assert!(evidence_count > 0, "{ctx}: the checkpoints should hold evidence");
            assert_eq!(masked, resume.json.value, "{ctx}: evidence is the only difference");
            resume.json.value
        };
        if kept.missing.is_empty() {
            // Salvaged total_cost_usd from the old file: byte-exact. An ERROR test's result is
            // the old file's own (carried over, and named so: OpenAnt would re-run it).
            for f in &kept.json.inexact {
                let carried = f.field.starts_with("finding ") && f.note.contains("records an ERROR");
                assert!(carried, "{ctx}: {}", show(&kept.json));
            }
            assert_eq!(pyjson::to_python_string(&got, false).unwrap().into_bytes(), disk_bytes, "{ctx}");
        } else {
            let mut got = got;
            mask(&mut got, "total_cost_usd");
            mask(&mut want, "total_cost_usd");
            assert_eq!(got, want, "{ctx}");
        }

        // Markdown, with the date salvaged from the old report.
        let disk_md = std::fs::read_to_string(dir.join("DYNAMIC_TEST_RESULTS.md")).unwrap();
        let policy =
            if fresh { dynamic::EvidencePolicy::KeepFromCheckpoints } else { dynamic::EvidencePolicy::AsOpenAntResume };
        let out = dynamic::rebuild_dynamic_from_scan_dir(&dir, &dyn_opts(policy)).unwrap();
        let md = out.markdown.unwrap();
        if out.missing.is_empty() {
            assert!(md.inexact.is_empty(), "{ctx}: {}", show(&md));
            assert_eq!(md.bytes, disk_md, "{ctx}");
        } else {
            assert!(md.is_inexact("results"), "{ctx}");
        }
        // Without the old report only the Date (and total cost) lines may differ.
        let opts = DynamicOptions { old_markdown: OldOutput::Ignore, old_json: OldOutput::Ignore, ..dyn_opts(policy) };
        let out = dynamic::rebuild_dynamic_from_scan_dir(&dir, &opts).unwrap();
        let md = out.markdown.unwrap();
        assert!(md.is_inexact("**Date:**"), "{ctx}");
        assert!(out.json.is_inexact("total_cost_usd"), "{ctx}: made inside scan");
        if out.missing.is_empty() {
            let text = md.value.as_str().unwrap();
            assert!(text.contains("**Date:** 2030-01-02 03:04:05 UTC\n"));
            let strip = |t: &str| {
                t.lines()
                    .filter(|l| !l.starts_with("**Date:**") && !l.starts_with("**Total Cost:**"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(strip(text), strip(&disk_md), "{ctx}");
        }
    }
    assert!(seen_restored >= 2 && seen_fresh >= 1, "restored {seen_restored}, fresh {seen_fresh}");
}

#[test]
fn dynamic_results_no_testable_variant_and_missing_pipeline() {
    let tmp = tempfile::tempdir().unwrap();
    let err = dynamic::rebuild_dynamic_from_scan_dir(tmp.path(), &DynamicOptions::default()).unwrap_err();
    assert!(err.to_string().contains("pipeline_output.json"), "{err}");
    let po = pyjson::parse(
        br#"{"repository": {"name": "x"}, "findings": [{"id": "VULN-001", "stage2_verdict": "rejected"}]}"#,
    )
    .unwrap();
    let out = dynamic::rebuild_dynamic_results(tmp.path(), &po, &DynamicOptions::default()).unwrap();
    assert!(out.no_testable_variant && out.markdown.is_none());
    assert_eq!(out.json.bytes, "{\n  \"findings_tested\": 0,\n  \"results\": []\n}");
}
