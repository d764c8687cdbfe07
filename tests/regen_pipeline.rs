//! Rebuilding `pipeline_output.json` and `dynamic_test_results.json` (+ Markdown) for every
//! healthy fixture scan, from the scan's own files, and comparing with what is on disk.
//!
//! The fixtures were built by `testdata/generate.py` the OpenAnt way (`build_pipeline_output`,
//! `build_dynamic`), so a byte-exact match here means the Rust rebuild agrees with that model of
//! OpenAnt on real-shaped inputs (every era, diff mode, JS routes, non-ASCII, dedup, …).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use scanaudit::pyjson::{self, PyValue};
use scanaudit::regen::common::RebuiltOutput;
//DYN use scanaudit::regen::dynamic::{self, DynamicOptions};
use scanaudit::regen::pipeline::{self, OldOutput, PipelineOptions};

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
        let out = pipeline::rebuild_pipeline_output(&dir, &PipelineOptions::default()).unwrap();
        assert!(out.inexact.is_empty(), "{}: {}", dir.display(), show(&out));
        assert!(
            out.bytes == on_disk,
            "{}: bytes differ\n--- got\n{}\n--- want\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.bytes),
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
            let opts = PipelineOptions { now: Some(fixed_now()), old_output: OldOutput::Bytes(prefix), era: None };
            let out = pipeline::rebuild_pipeline_output(&dir, &opts).unwrap();
            let ctx = format!("{} cut at {cut}", dir.display());
            assert_equal_except_inexact(&out, &on_disk, &ctx);
            let salvaged = pipeline::salvage_leading_fields(&on_disk[..cut]);
            assert_eq!(out.is_inexact("analysis_date"), salvaged.analysis_date.is_none(), "{ctx}");
            if cut >= text.find("\"results\": {").unwrap() {
                // Every leading field was in the prefix: the rebuild is exact.
                assert!(out.inexact.is_empty(), "{ctx}: {}", show(&out));
                assert_eq!(out.bytes, on_disk, "{ctx}");
            }
        }
    }
}

#[test]
fn pipeline_output_rebuilds_without_an_old_file() {
    for dir in scans_with("pipeline_output.json") {
        let on_disk = std::fs::read(dir.join("pipeline_output.json")).unwrap();
        let opts = PipelineOptions { now: Some(fixed_now()), old_output: OldOutput::Ignore, era: None };
        let out = pipeline::rebuild_pipeline_output(&dir, &opts).unwrap();
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

#[test]
fn pipeline_rebuild_fails_cleanly_without_the_results_file() {
    let tmp = tempfile::tempdir().unwrap();
    let err = pipeline::rebuild_pipeline_output(tmp.path(), &PipelineOptions::default()).unwrap_err();
    assert!(err.to_string().contains("results.json"), "{err}");
}
