//! `check` on scans written the way today's OpenAnt (the identity-gate era,
//! spec/openant-current.md) writes them: healthy ones give no finding, damage is still found,
//! and what a newer OpenAnt writes is said to be that, not damage.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{check_json, findings, kinds, scanaudit, set_age, OLD};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Writes `value` as today's `write_json` does: `indent=2`, no trailing newline, mode 0600.
fn write_json(path: &Path, value: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    chmod(path, 0o600);
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn hash16(id: &str) -> String {
    Sha256::digest(id.as_bytes())[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn fingerprint(phase: &str) -> Value {
    json!({
        "scheme_version": 2, "phase": phase, "model": "gpt-5.1", "provider_name": "openai",
        "adapter_type": "openai", "config_base_url": null, "templates_sha": "sha256:ab",
        "key_digest": "sha256:0a1b2c3d4e5f", "written_at": "2026-09-30T12:00:00.123456Z"
    })
}

fn summary(step: &str, total: u64, completed: u64, incomplete: u64, errors: u64, usage: bool) -> Value {
    let mut s = json!({
        "step": step, "phase": "done", "timestamp": "2026-09-30T12:00:00.123456Z", "total_units": total,
        "completed": completed, "incomplete": incomplete, "errors": errors, "error_breakdown": {}
    });
    if usage {
        s["usage"] = json!({"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.01,
                            "cost_incomplete": true, "unpriced_models": ["m"]});
    }
    s
}

fn step_report(step: &str, status: &str) -> Value {
    json!({
        "step": step, "status": status, "timestamp": "2026-09-30T12:00:00Z", "duration_seconds": 1.5,
        "cost_usd": 0.0, "token_usage": {"input_tokens": 1, "cost_incomplete": false, "unpriced_models": []},
        "summary": {"error_count": 1}, "inputs": {}, "outputs": {}, "errors": []
    })
}

/// A healthy multi-step scan as today's OpenAnt leaves it, under `root/p/scans/abc/python`.
/// Returns the scan dir.
fn todays_scan(root: &Path) -> PathBuf {
    let run = root.join("p/scans/abc");
    let dir = run.join("python");
    // A legacy run-dir meta.json from an older scan, and today's per-language one (#664).
    write_json(
        &run.join("meta.json"),
        &json!({"kind": "full", "commit": "abc", "started_at": "t",
        "status": "success", "language": "python"}),
    );
    write_json(
        &dir.join("meta.json"),
        &json!({"kind": "full", "commit": "abc", "started_at": "t",
        "status": "success", "language": "python"}),
    );
    let ids = ["src/a.py:f", "src/b.py:g", "src/c.py:h", "src/d.py:k", "src/e.py:m"];
    let units: Vec<Value> = ids.iter().map(|id| json!({"id": id, "code": {}})).collect();
    write_json(&dir.join("dataset.json"), &json!({"units": units, "metadata": {}}));
    write_json(&dir.join("dataset_enhanced.json"), &json!({"units": units, "metadata": {"token_usage": {}}}));

    // Enhance: a single-shot record (PR #95) and an incomplete classification (#286).
    let enhance = dir.join("enhance_checkpoints");
    write_json(&enhance.join("_summary.json"), &summary("Enhance", 5, 4, 1, 0, true));
    for (i, id) in ids.iter().enumerate() {
        let record = if i == 0 {
            json!({"id": id, "llm_context": {"security_classification": "incomplete"}, "context_key": "llm_context"})
        } else {
            json!({"id": id, "llm_context": {"security_classification": "neutral"}, "context_key": "llm_context"})
        };
        write_json(&enhance.join(format!("{}.json", id.replace('/', "__").replace(':', "_"))), &record);
    }

    // Analyze: sidecar, a #317 case-collision name, an errored unit.
    let analyze = dir.join("analyze_checkpoints");
    write_json(&analyze.join("_fingerprint.json"), &fingerprint("analyze"));
    write_json(&analyze.join("_summary.json"), &summary("Analyze", 5, 4, 0, 1, true));
    let verdicts = ["VULNERABLE", "SAFE", "INSUFFICIENT_CONTEXT", "ERROR", "VULNERABLE"];
    for (id, verdict) in ids.iter().zip(verdicts) {
        let finding = verdict.to_lowercase();
        let record = json!({"result": {"verdict": verdict, "finding": if verdict == "ERROR" { "error".to_string() } else { finding }},
            "route_key": id, "code_for_route": "def f(): pass", "id": id});
        let stem = id.replace('/', "__").replace(':', "_");
        let name = if *id == "src/b.py:g" { format!("{stem}_{}.json", hash16(id)) } else { format!("{stem}.json") };
        write_json(&analyze.join(name), &record);
    }
    let rows = vec![
        json!({"unit_id": ids[0], "route_key": ids[0], "verdict": "VULNERABLE", "finding": "vulnerable"}),
        json!({"unit_id": ids[1], "route_key": ids[1], "verdict": "SAFE", "finding": "safe",
               "security_classification": "incomplete"}),
        json!({"unit_id": ids[2], "route_key": ids[2], "verdict": "INSUFFICIENT_CONTEXT", "finding": "insufficient_context"}),
        json!({"unit_id": ids[3], "verdict": "ERROR", "finding": "error", "error": "boom", "error_info": {"kind": "api"}}),
        json!({"unit_id": ids[4], "route_key": ids[4], "verdict": "VULNERABLE", "finding": "vulnerable"}),
    ];
    write_json(
        &dir.join("results.json"),
        &json!({
            "dataset": "dataset.json", "model": "gpt-5.1", "provider": "openai", "timestamp": "2026-09-30T12:00:00.5",
            "metrics": {"total": 5, "vulnerable": 2, "bypassable": 0, "inconclusive": 1, "protected": 0, "safe": 1,
                        "errors": 1, "enhance_unclassified_analyzed": 1},
            "results": rows, "code_by_route": {}, "analyze_fingerprint": "sha256:0a1b2c3d4e5f"
        }),
    );

    // Verify: one errored record (counts as errors, stays confirmed, #284), one incomplete.
    let verify = dir.join("verify_checkpoints");
    write_json(&verify.join("_fingerprint.json"), &fingerprint("verify"));
    write_json(&verify.join("_summary.json"), &summary("Verify", 2, 0, 1, 1, true));
    write_json(
        &verify.join("src__a.py_f.json"),
        &json!({"verification": {"incomplete": true}, "finding": "vulnerable",
        "verification_note": "Verification errored: timeout", "usage": {}, "error": "timeout", "id": ids[0]}),
    );
    write_json(
        &verify.join("src__e.py_m.json"),
        &json!({"verification": {"agree": true, "incomplete": true},
        "finding": "vulnerable", "usage": {}, "id": ids[4]}),
    );
    let mut verified = rows.clone();
    verified[0]["verification"] = json!({"incomplete": true});
    verified[0]["error"] = json!("timeout");
    verified[0]["verification_note"] = json!("Verification errored: timeout");
    verified[4]["verification"] = json!({"agree": true, "incomplete": true});
    write_json(
        &dir.join("results_verified.json"),
        &json!({
            "dataset": "dataset.json", "model": "gpt-5.1", "timestamp": "2026-09-30T12:00:00.5", "verify": true,
            "metrics": {"total": 5, "vulnerable": 0, "bypassable": 0, "inconclusive": 0, "protected": 0, "safe": 1,
                        "errors": 2, "needs_review": 1},
            "results": verified, "confirmed_findings": [verified[0], verified[4]]
        }),
    );

    // LLM reachability (#532): no usage in its summary.
    let reach = dir.join("llm_reach_checkpoints");
    write_json(&reach.join("_fingerprint.json"), &fingerprint("llm_reach"));
    let mut reach_summary = summary("llm_reach", 1, 1, 0, 0, false);
    reach_summary["step"] = json!("llm_reach");
    write_json(&reach.join("_summary.json"), &reach_summary);
    write_json(
        &reach.join("src__a.py_f.json"),
        &json!({"signals": [{"unit_id": ids[0], "kind": "entry",
        "confidence": 0.9, "reason": "route"}], "projection_sha": "sha256:1", "usage": {}, "id": ids[0]}),
    );

    // Archives OpenAnt leaves on purpose.
    write_json(&dir.join("results__0a1b2c3d.json"), &json!({"metrics": {"total": 0}, "results": []}));
    write_json(&dir.join("results__legacy.json"), &json!({"metrics": {"total": 0}, "results": []}));
    let superseded = dir.join("analyze_checkpoints.superseded-0a1b2c3d");
    write_json(&superseded.join("_fingerprint.json"), &fingerprint("analyze"));
    write_json(&superseded.join("whatever_name.json"), &json!({"result": {"verdict": "SAFE"}, "id": "gone"}));

    write_json(
        &dir.join("pipeline_output.json"),
        &json!({
            "repository": {"name": "r", "url": "", "language": "python", "commit_sha": null},
            "analysis_date": "2026-09-30T12:00:00.123456+00:00", "application_type": "unknown",
            "per_language": {}, "parse_errors": [], "degraded": false, "coverage": {}, "discovery": {},
            "context_source": "none", "threat_model_warnings": [],
            "pipeline_stats": {"total_units": 5, "costs": {"parse": {"actual": 0.0}}, "skipped_steps": [{"step": "dynamic-test", "reason": "not_requested"}]},
            "results": {"vulnerable": 2, "vulnerable_before_dedup": 2, "deduplicated": 0, "safe": 1, "protected": 0,
                        "inconclusive": 0, "errors": 1, "needs_review": 0, "total": 5},
            "findings": [
                {"id": "VULN-001", "identity_key": "0123456789ab", "name": "n", "short_name": "s",
                 "location": {"file": "src/a.py", "function": "f"}, "cwe_id": 89, "cwe_name": "SQLi",
                 "stage1_verdict": "VULNERABLE", "stage2_verdict": "unverified"},
                {"id": "VULN-002", "identity_key": "0123456789ac", "name": "n", "short_name": "s",
                 "location": {"file": "src/e.py", "function": "m"}, "cwe_id": 89, "cwe_name": "SQLi",
                 "stage1_verdict": "VULNERABLE", "stage2_verdict": "agreed"}
            ]
        }),
    );

    // Step reports of today's statuses, and one from an older OpenAnt at 0644.
    write_json(&dir.join("parse.report.json"), &step_report("parse", "success"));
    chmod(&dir.join("parse.report.json"), 0o644);
    write_json(&dir.join("enhance.report.json"), &step_report("enhance", "partial"));
    write_json(&dir.join("analyze.report.json"), &step_report("analyze", "partial"));
    write_json(&dir.join("verify.report.json"), &step_report("verify", "partial"));
    write_json(&dir.join("dynamic-test.report.json"), &step_report("dynamic-test", "skipped"));
    write_json(&dir.join("scan.report.json"), &step_report("scan", "partial"));
    // Markdown stays 0666 & ~umask.
    std::fs::create_dir_all(dir.join("report")).unwrap();
    std::fs::write(dir.join("report/SUMMARY_REPORT.md"), "# Summary\n").unwrap();
    chmod(&dir.join("report/SUMMARY_REPORT.md"), 0o644);
    dir
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `check` on the tree at `root`, every file aged [`OLD`] first (the test's writes are fresh).
fn aged_check(root: &Path) -> (i32, Value) {
    set_age(root, OLD);
    check(root)
}

fn check(root: &Path) -> (i32, Value) {
    check_json(&[root.to_str().unwrap()])
}

fn rel_kinds(doc: &Value, root: &Path) -> Vec<(String, String)> {
    kinds(doc, root)
}

fn sorted_kinds(doc: &Value, root: &Path) -> Vec<(String, String)> {
    let mut kinds = kinds(doc, root);
    kinds.sort();
    kinds
}

fn finding<'d>(doc: &'d Value, kind: &str) -> &'d Value {
    findings(doc).iter().find(|f| f["kind"] == kind).unwrap_or_else(|| panic!("no {kind} in {doc:#}"))
}

#[test]
fn a_healthy_scan_of_todays_openant_gives_no_finding() {
    let root = tempfile::tempdir().unwrap();
    todays_scan(root.path());
    let (code, doc) = aged_check(root.path());
    assert_eq!(findings(&doc).len(), 0, "{doc:#}");
    assert_eq!(code, 0);
    assert_eq!(doc["summary"]["scan_dirs"], 1);
    // repair never plans anything for the identity sidecars (quarantining one would make
    // OpenAnt reuse checkpoints made by any model).
    let output =
        scanaudit().args(["repair", "--dry-run", "--format", "json", root.path().to_str().unwrap()]).output().unwrap();
    let plan = String::from_utf8_lossy(&output.stdout);
    assert!(!plan.contains("_fingerprint.json"), "{plan}");
    assert!(!plan.contains("quarantine"), "{plan}");
}

#[test]
fn a_torn_sidecar_is_damage_whose_fix_is_not_a_rebuild() {
    let root = tempfile::tempdir().unwrap();
    let dir = todays_scan(root.path());
    std::fs::write(dir.join("analyze_checkpoints/_fingerprint.json"), "{\"scheme_version\": 2, \"pha").unwrap();
    let (code, doc) = aged_check(root.path());
    assert_eq!(
        rel_kinds(&doc, root.path()),
        [("p/scans/abc/python/analyze_checkpoints/_fingerprint.json".to_string(), "truncated".to_string())]
    );
    let f = finding(&doc, "truncated");
    assert_eq!(f["file_kind"], "checkpoint-fingerprint");
    assert_eq!(f["fix"], "openant analyze");
    assert!(f["message"].as_str().unwrap().contains("analyze_checkpoints.superseded-"), "{f:#}");
    assert_eq!(code, 4);
}

#[test]
fn a_sidecar_missing_scheme_keys_is_a_schema_error_and_a_newer_scheme_is_not() {
    let root = tempfile::tempdir().unwrap();
    let dir = todays_scan(root.path());
    write_json(&dir.join("verify_checkpoints/_fingerprint.json"), &json!({"scheme_version": 2, "phase": "verify"}));
    write_json(&dir.join("analyze_checkpoints/_fingerprint.json"), &json!({"scheme_version": 3, "digest": "x"}));
    // Scheme 1 (PR #244 .. PR #572) is an older sidecar of the same era: healthy.
    write_json(
        &dir.join("llm_reach_checkpoints/_fingerprint.json"),
        &json!({"scheme_version": 1, "phase": "llm_reach",
        "model": "m", "key_digest": "sha256:1", "written_at": "2026-09-01T00:00:00Z"}),
    );
    let (code, doc) = aged_check(root.path());
    let got = sorted_kinds(&doc, root.path());
    assert_eq!(
        got,
        [
            ("p/scans/abc/python/analyze_checkpoints/_fingerprint.json".to_string(), "unknown-era".to_string()),
            ("p/scans/abc/python/verify_checkpoints/_fingerprint.json".to_string(), "schema".to_string()),
        ]
    );
    assert_eq!(finding(&doc, "unknown-era")["level"], "info");
    assert!(finding(&doc, "unknown-era")["message"].as_str().unwrap().contains("newer OpenAnt"));
    assert_eq!(code, 4);
}

#[test]
fn an_unknown_step_status_or_metric_is_a_newer_openant_and_skips_the_recount() {
    let root = tempfile::tempdir().unwrap();
    let dir = todays_scan(root.path());
    write_json(&dir.join("analyze.report.json"), &step_report("analyze", "deferred"));
    // A metric no era writes, and counts that no known rule gives: not guessed.
    let mut verified: Value = read_json(&dir.join("results_verified.json"));
    verified["metrics"]["disagreed_protected"] = json!(1);
    verified["metrics"]["errors"] = json!(0);
    write_json(&dir.join("results_verified.json"), &verified);
    let (code, doc) = aged_check(root.path());
    let got = sorted_kinds(&doc, root.path());
    assert_eq!(
        got,
        [
            ("p/scans/abc/python/analyze.report.json".to_string(), "unknown-era".to_string()),
            ("p/scans/abc/python/results_verified.json".to_string(), "unknown-era".to_string()),
        ],
        "{doc:#}"
    );
    assert_eq!(code, 0, "unknown-era is info: a healthy scan still exits 0");
}

#[test]
fn todays_counts_are_recounted_by_todays_rules() {
    let root = tempfile::tempdir().unwrap();
    let dir = todays_scan(root.path());
    // Counted the old way (the errored row as needs_review, insufficient_context apart).
    let mut results: Value = read_json(&dir.join("results.json"));
    results["metrics"]["inconclusive"] = json!(0);
    results["metrics"]["errors"] = json!(2);
    results["metrics"]["enhance_unclassified_analyzed"] = json!(0);
    write_json(&dir.join("results.json"), &results);
    let mut verified: Value = read_json(&dir.join("results_verified.json"));
    verified["metrics"]["errors"] = json!(1);
    verified["metrics"]["needs_review"] = json!(2);
    write_json(&dir.join("results_verified.json"), &verified);
    let (_, doc) = aged_check(root.path());
    let got = sorted_kinds(&doc, root.path());
    assert_eq!(
        got,
        [
            ("p/scans/abc/python/results.json".to_string(), "metrics-mismatch".to_string()),
            ("p/scans/abc/python/results_verified.json".to_string(), "metrics-mismatch".to_string()),
        ],
        "{doc:#}"
    );
    for f in findings(&doc) {
        assert!(f["message"].as_str().unwrap().contains("identity-gate era"), "{f:#}");
    }
    let message = findings(&doc).iter().find(|f| f["file_kind"] == "results").unwrap()["message"].as_str().unwrap();
    assert!(message.contains("metrics.enhance_unclassified_analyzed is 0 but 1"), "{message}");
    assert!(message.contains("metrics.inconclusive is 0 but 1"), "{message}");
}

#[test]
fn a_write_json_temp_is_explained_from_its_content_and_directory() {
    let root = tempfile::tempdir().unwrap();
    let dir = todays_scan(root.path());
    // A complete results.json in a temp, and results.json gone: salvageable.
    std::fs::rename(dir.join("results.json"), dir.join(".tmp-k3j_a9xq.tmp")).unwrap();
    // A complete checkpoint in a temp inside a checkpoint dir: never promoted.
    std::fs::rename(
        dir.join("analyze_checkpoints/src__a.py_f.json"),
        dir.join("analyze_checkpoints/.tmp-abcd_123.tmp"),
    )
    .unwrap();
    let (_, doc) = aged_check(root.path());
    let temps: Vec<&Value> = findings(&doc).iter().filter(|f| f["kind"] == "stray-temp").collect();
    assert_eq!(temps.len(), 2, "{doc:#}");
    let top = temps.iter().find(|f| f["path"].as_str().unwrap().ends_with("python/.tmp-k3j_a9xq.tmp")).unwrap();
    let message = top["message"].as_str().unwrap();
    assert!(message.contains("write_json") && message.contains("probably while writing results.json"), "{message}");
    assert!(message.contains("results.json is missing: repair can restore it"), "{message}");
    assert!(top["fix"].as_str().unwrap().starts_with("scanaudit repair"));
    let inner = temps.iter().find(|f| f["path"].as_str().unwrap().contains("analyze_checkpoints/.tmp-")).unwrap();
    let message = inner["message"].as_str().unwrap();
    assert!(message.contains("probably while writing src__a.py_f.json"), "{message}");
    assert!(message.contains("never promoted"), "{message}");
    assert!(inner["fix"].as_str().unwrap().starts_with("scanaudit clean"));

    // repair plans to promote the top-level one, and only that one.
    let output =
        scanaudit().args(["repair", "--dry-run", "--format", "json", root.path().to_str().unwrap()]).output().unwrap();
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    let promotions: Vec<&Value> = plan["scan_dirs"][0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["source"].as_str().is_some_and(|s| s.contains(".tmp-")))
        .collect();
    assert_eq!(promotions.len(), 1, "{plan:#}");
    assert!(promotions[0]["source"].as_str().unwrap().ends_with("python/.tmp-k3j_a9xq.tmp"));
    assert!(promotions[0]["target"].as_str().unwrap().ends_with("python/results.json"));

    // clean removes the checkpoint-dir temp once old (by ctime too) and keeps the
    // salvageable one.
    std::thread::sleep(Duration::from_millis(1200));
    let runtime = tempfile::tempdir().unwrap();
    let output = scanaudit()
        .env("XDG_RUNTIME_DIR", runtime.path())
        .args(["clean", "--older-than", "1s", "--format", "json", root.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.code().is_some());
    assert!(!dir.join("analyze_checkpoints/.tmp-abcd_123.tmp").exists(), "{}", String::from_utf8_lossy(&output.stdout));
    assert!(dir.join(".tmp-k3j_a9xq.tmp").exists());
}

#[test]
fn a_dataset_shaped_write_json_temp_fits_two_targets_and_is_not_promoted() {
    let root = tempfile::tempdir().unwrap();
    let dir = todays_scan(root.path());
    std::fs::rename(dir.join("dataset.json"), dir.join(".tmp-aaaa_bbb.tmp")).unwrap();
    let (_, doc) = aged_check(root.path());
    let temp = finding(&doc, "stray-temp");
    let message = temp["message"].as_str().unwrap();
    assert!(message.contains("one of dataset.json, dataset_enhanced.json"), "{message}");
    assert!(temp["fix"].as_str().unwrap().starts_with("scanaudit clean"), "{temp:#}");
}

#[test]
fn restrictive_mode_is_only_the_forks() {
    let root = tempfile::tempdir().unwrap();
    let dir = todays_scan(root.path());
    set_age(root.path(), OLD);
    // Today's scan: 0600 JSON beside a 0644 step report of an older run is by design.
    let (_, doc) = check(root.path());
    assert!(findings(&doc).is_empty(), "{doc:#}");
    // Without any of today's markers the same modes are the fork's writer's.
    let bare = root.path().join("q/scans/abc/python");
    write_json(&bare.join("results.json"), &json!({"metrics": {"total": 0}, "results": []}));
    write_json(&bare.join("parse.report.json"), &step_report("parse", "success"));
    chmod(&bare.join("parse.report.json"), 0o644);
    let (_, doc) = aged_check(root.path());
    let modes: Vec<(String, String)> =
        rel_kinds(&doc, root.path()).into_iter().filter(|(_, k)| k == "restrictive-mode").collect();
    assert_eq!(modes, [("q/scans/abc/python/results.json".to_string(), "restrictive-mode".to_string())]);
    assert!(dir.exists());
}

#[test]
fn the_scan_dir_meta_decides_the_scan_kind_and_whether_it_runs() {
    let root = tempfile::tempdir().unwrap();
    let dir = todays_scan(root.path());
    let run = dir.parent().unwrap().to_path_buf();
    let diff =
        json!({"base_ref": "main", "base_sha": "a", "head_sha": "b", "scope": "changed_files", "changed_files": []});
    write_json(&dir.join("diff_manifest.json"), &diff);
    // The run dir's legacy meta says full, today's per-language one says diff: healthy.
    write_json(
        &dir.join("meta.json"),
        &json!({"kind": "diff", "commit": "abc", "started_at": "t",
        "status": "success", "language": "python"}),
    );
    let (_, doc) = aged_check(root.path());
    assert!(findings(&doc).is_empty(), "{doc:#}");
    // The per-language one says full: the manifest is stale.
    write_json(
        &dir.join("meta.json"),
        &json!({"kind": "full", "commit": "abc", "started_at": "t",
        "status": "success", "language": "python"}),
    );
    let (_, doc) = aged_check(root.path());
    assert_eq!(
        rel_kinds(&doc, root.path()),
        [("p/scans/abc/python/diff_manifest.json".to_string(), "stale-diff-manifest".to_string())]
    );
    // The per-language meta says running and a file just changed: a live scan gets only the
    // layout rules, so a half-written result set is not reported.
    std::fs::remove_file(dir.join("diff_manifest.json")).unwrap();
    write_json(
        &dir.join("meta.json"),
        &json!({"kind": "full", "commit": "abc", "started_at": "t",
        "status": "running", "language": "python"}),
    );
    set_age(root.path(), OLD);
    std::fs::remove_file(dir.join("results_verified.json")).unwrap();
    write_json(
        &dir.join("verify_checkpoints/src__e.py_m.json"),
        &json!({"verification": {"agree": true},
        "finding": "vulnerable", "usage": {}, "id": "src/e.py:m"}),
    );
    let (_, doc) = check(root.path());
    assert!(findings(&doc).is_empty(), "{doc:#}");
    assert!(run.join("meta.json").exists());
}

#[test]
fn a_multi_language_scan_is_one_scan_dir_and_its_parse_dirs_are_not() {
    let root = tempfile::tempdir().unwrap();
    let auto = root.path().join("p/scans/abc/auto");
    for lang in ["python", "go"] {
        write_json(&auto.join(format!("{lang}/dataset.json")), &json!({"units": [{"id": "a"}]}));
        write_json(&auto.join(format!("{lang}/analyzer_output.json")), &json!({}));
        write_json(&auto.join(format!("{lang}/call_graph.json")), &json!({"call_graph": {}}));
    }
    write_json(
        &auto.join("dataset.json"),
        &json!({"units": [{"id": "python::a", "language": "python"},
        {"id": "go::a", "language": "go"}], "statistics": {"total_units": 2}}),
    );
    write_json(
        &auto.join("call_graphs.json"),
        &json!({"python": "python/call_graph.json", "go": "go/call_graph.json"}),
    );
    write_json(
        &auto.join("meta.json"),
        &json!({"kind": "full", "commit": "abc", "started_at": "t",
        "status": "success", "language": "auto"}),
    );
    let (code, doc) = aged_check(root.path());
    assert!(findings(&doc).is_empty(), "{doc:#}");
    assert_eq!(doc["summary"]["scan_dirs"], 1);
    assert_eq!(code, 0);
    // A torn per-language parse output is damage, fixed by parsing again.
    std::fs::write(auto.join("go/dataset.json"), "{\"units\": [").unwrap();
    let (_, doc) = aged_check(root.path());
    let f = finding(&doc, "truncated");
    assert_eq!(f["file_kind"], "dataset");
    assert_eq!(f["fix"], "openant parse");
    assert!(f["scan_dir"].as_str().unwrap().ends_with("scans/abc/auto"));
}

#[test]
fn a_misnamed_checkpoint_is_still_found_next_to_317_names() {
    let root = tempfile::tempdir().unwrap();
    let dir = todays_scan(root.path());
    std::fs::rename(dir.join("analyze_checkpoints/src__c.py_h.json"), dir.join("analyze_checkpoints/wrong.json"))
        .unwrap();
    let (_, doc) = aged_check(root.path());
    assert_eq!(
        rel_kinds(&doc, root.path()),
        [("p/scans/abc/python/analyze_checkpoints/wrong.json".to_string(), "checkpoint-name-mismatch".to_string())]
    );
}

#[test]
fn a_scan_mixing_mays_analyze_with_todays_verify_is_healthy() {
    let root = tempfile::tempdir().unwrap();
    let dir = todays_scan(root.path());
    // May's analyze: no sidecar, no provider / analyze_fingerprint, May's counting (the
    // insufficient_context row is in no bucket), files 0644.
    std::fs::remove_file(dir.join("analyze_checkpoints/_fingerprint.json")).unwrap();
    let mut results: Value = read_json(&dir.join("results.json"));
    let obj = results.as_object_mut().unwrap();
    obj.remove("provider");
    obj.remove("analyze_fingerprint");
    results["metrics"] = json!({"total": 5, "vulnerable": 2, "bypassable": 0, "inconclusive": 0, "protected": 0,
                                "safe": 1, "errors": 1});
    write_json(&dir.join("results.json"), &results);
    chmod(&dir.join("results.json"), 0o644);
    let mut summary: Value = read_json(&dir.join("analyze_checkpoints/_summary.json"));
    summary.as_object_mut().unwrap().remove("incomplete");
    write_json(&dir.join("analyze_checkpoints/_summary.json"), &summary);
    chmod(&dir.join("analyze_checkpoints/_summary.json"), 0o644);
    write_json(&dir.join("analyze.report.json"), &step_report("analyze", "success"));
    chmod(&dir.join("analyze.report.json"), 0o644);
    let (code, doc) = aged_check(root.path());
    assert!(findings(&doc).is_empty(), "{doc:#}");
    assert_eq!(code, 0);
    // The same counts in a results.json of today's newest OpenAnt (#611's metric present) are
    // wrong: each file is counted by its own era.
    results["provider"] = json!("openai");
    results["metrics"]["enhance_unclassified_analyzed"] = json!(1);
    write_json(&dir.join("results.json"), &results);
    let (_, doc) = aged_check(root.path());
    assert_eq!(
        rel_kinds(&doc, root.path()),
        [("p/scans/abc/python/results.json".to_string(), "metrics-mismatch".to_string())]
    );
}

#[test]
fn an_earlier_identity_gate_results_json_is_held_to_its_own_counting() {
    let root = tempfile::tempdir().unwrap();
    let dir = todays_scan(root.path());
    // Before #611 (no enhance_unclassified_analyzed) and #623: insufficient_context counted as
    // errors (#427). Healthy.
    let mut results: Value = read_json(&dir.join("results.json"));
    results["metrics"].as_object_mut().unwrap().remove("enhance_unclassified_analyzed");
    results["metrics"]["inconclusive"] = json!(0);
    results["metrics"]["errors"] = json!(2);
    write_json(&dir.join("results.json"), &results);
    let (_, doc) = aged_check(root.path());
    assert!(findings(&doc).is_empty(), "{doc:#}");
    // Counts no version of the era gives are still damage.
    results["metrics"]["safe"] = json!(3);
    write_json(&dir.join("results.json"), &results);
    let (_, doc) = aged_check(root.path());
    assert_eq!(
        rel_kinds(&doc, root.path()),
        [("p/scans/abc/python/results.json".to_string(), "metrics-mismatch".to_string())]
    );
}
