//! `scanaudit repair` on small scan dirs written the way today's OpenAnt (the identity-gate era)
//! writes them, built in a temp dir: outputs rebuilt in today's formats (provider,
//! analyze_fingerprint, the three-state recount, errored rows kept whole), nothing of the old
//! file lost, outputs with markers no known OpenAnt writes left alone, and a second repair does
//! nothing.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{code, scanaudit, set_age};
use serde_json::{json, Value};

const DIGEST: &str = "sha256:5f1d3c0a9b7e6d5c4b3a29180716f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4";

fn write(path: &Path, value: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn row(id: &str, finding: &str) -> Value {
    json!({"function_analyzed": id, "finding": finding, "reasoning": format!("because {id}"),
           "attack_vector": null, "confidence": 0.9, "cwe_id": 89, "cwe_name": "SQL Injection",
           "verdict": finding.to_uppercase(), "route_key": id, "elapsed_seconds": 1.5, "unit_id": id})
}

/// A today's scan dir: three units analyzed (a, c vulnerable, b safe), verify ran on a and c,
/// c's verification errored (three-state record). No outputs yet.
fn todays_scan(root: &Path) -> PathBuf {
    let scan = root.join("scan");
    let units: Vec<Value> = ["a.py:f", "b.py:g", "c.py:h"]
        .iter()
        .map(|id| json!({"id": id, "code": {"primary_code": format!("def {id}(): pass")}}))
        .collect();
    write(&scan.join("dataset.json"), &json!({"name": "demo", "units": units}));
    for (id, finding) in [("a.py:f", "vulnerable"), ("b.py:g", "safe"), ("c.py:h", "vulnerable")] {
        let name = id.replace(':', "_");
        write(
            &scan.join(format!("analyze_checkpoints/{name}.json")),
            &json!({"result": row(id, finding), "route_key": id, "code_for_route": format!("def {id}(): pass"),
                    "usage": {"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.01}, "id": id}),
        );
    }
    let fingerprint = |phase: &str| {
        json!({"scheme_version": 2, "phase": phase, "model": "gpt-5.1", "provider_name": "openai-main",
               "adapter_type": "openai", "config_base_url": null, "templates_sha": "sha256:00",
               "key_digest": DIGEST, "written_at": "2026-09-30T12:00:00.123456Z"})
    };
    write(&scan.join("analyze_checkpoints/_fingerprint.json"), &fingerprint("analyze"));
    write(&scan.join("verify_checkpoints/_fingerprint.json"), &fingerprint("verify"));
    write(
        &scan.join("analyze.report.json"),
        &json!({"step": "analyze", "status": "success", "timestamp": "2026-09-30T11:00:00.5Z", "duration_seconds": 12.5,
                "cost_usd": 0.03, "token_usage": {"input_tokens": 30, "output_tokens": 15, "total_tokens": 45},
                "summary": {"total_units": 3, "analyzed": 3, "error_count": 0,
                            "verdicts": {"vulnerable": 2, "bypassable": 0, "inconclusive": 0, "protected": 0, "safe": 1, "errors": 0}},
                "inputs": {"dataset_path": scan.join("dataset.json"), "model": "gpt-5.1", "provider": "openai-main", "limit": null},
                "outputs": {"results_path": scan.join("results.json")}, "errors": []}),
    );
    write(
        &scan.join("verify_checkpoints/a.py_f.json"),
        &json!({"verification": {"agree": true, "correct_finding": "vulnerable", "explanation": "reachable", "iterations": 2, "total_tokens": 100},
                "finding": "vulnerable", "verification_note": "", "usage": {"input_tokens": 1, "output_tokens": 1, "cost_usd": 0.001}, "id": "a.py:f"}),
    );
    write(
        &scan.join("verify_checkpoints/c.py_h.json"),
        &json!({"verification": {"incomplete": true}, "finding": "vulnerable", "verification_note": "Verification errored: 529 overloaded",
                "usage": {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}, "error": "529 overloaded", "id": "c.py:h"}),
    );
    write(
        &scan.join("verify.report.json"),
        &json!({"step": "verify", "status": "partial", "timestamp": "2026-09-30T11:10:00Z", "duration_seconds": 3.0, "cost_usd": 0.0,
                "token_usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
                "summary": {"findings_input": 2, "findings_verified": 2, "agreed": 1, "disagreed": 0, "disagreed_inconclusive": 0,
                            "confirmed_vulnerabilities": 1, "needs_review": 0, "error_count": 1, "units_analyzed_total": 3,
                            "downgraded": 0, "upgraded": 0},
                "inputs": {"results_path": scan.join("results.json"), "analyzer_output_path": null},
                "outputs": {"verified_results_path": scan.join("results_verified.json")}, "errors": []}),
    );
    set_age(root, Duration::from_secs(3600));
    scan
}

fn repair(scan: &Path) -> (i32, Value) {
    let output = scanaudit().args(["repair", "--yes", "--format", "json"]).arg(scan).output().expect("run scanaudit");
    let doc = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)));
    (code(&output), doc)
}

fn actions(doc: &Value) -> Vec<&Value> {
    doc["scan_dirs"].as_array().unwrap().iter().flat_map(|d| d["actions"].as_array().unwrap()).collect()
}

fn regenerated(doc: &Value) -> Vec<String> {
    actions(doc)
        .iter()
        .filter(|a| a["action"] == "regenerate")
        .map(|a| Path::new(a["target"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn missing_outputs_are_rebuilt_in_todays_formats_and_a_second_repair_does_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let scan = todays_scan(tmp.path());
    let sidecar = std::fs::read(scan.join("analyze_checkpoints/_fingerprint.json")).unwrap();
    let (_, doc) = repair(&scan);
    let rebuilt = regenerated(&doc);
    assert!(rebuilt.contains(&"results.json".to_string()), "{doc:#}");
    assert!(rebuilt.contains(&"results_verified.json".to_string()), "{doc:#}");

    let results = read(&scan.join("results.json"));
    assert_eq!(
        keys(&results),
        ["dataset", "model", "provider", "timestamp", "metrics", "results", "code_by_route", "analyze_fingerprint"]
    );
    assert_eq!(results["model"], "gpt-5.1");
    assert_eq!(results["provider"], "openai-main");
    assert_eq!(results["analyze_fingerprint"], DIGEST);
    assert_eq!(
        results["metrics"],
        json!({"total": 3, "vulnerable": 2, "bypassable": 0, "inconclusive": 0, "protected": 0, "safe": 1, "errors": 0,
               "enhance_unclassified_analyzed": 0})
    );

    let verified = read(&scan.join("results_verified.json"));
    assert_eq!(
        verified["metrics"],
        json!({"total": 3, "vulnerable": 1, "bypassable": 0, "inconclusive": 0, "protected": 0, "safe": 1, "errors": 1,
               "needs_review": 0})
    );
    let c = &verified["results"][2];
    assert_eq!(c["error"], "529 overloaded");
    assert_eq!(c["verification"], json!({"incomplete": true}));
    assert_eq!(verified["confirmed_findings"].as_array().unwrap().len(), 2, "errored rows stay confirmed (#284)");
    // The verify sidecar and the analyze sidecar are never touched.
    assert_eq!(std::fs::read(scan.join("analyze_checkpoints/_fingerprint.json")).unwrap(), sidecar);

    // A second repair plans nothing and changes nothing (e2fsck's two passes).
    let before: Vec<Vec<u8>> =
        ["results.json", "results_verified.json"].iter().map(|n| std::fs::read(scan.join(n)).unwrap()).collect();
    set_age(tmp.path(), Duration::from_secs(3600));
    let (_, again) = repair(&scan);
    assert!(actions(&again).is_empty(), "second repair: {again:#}");
    let after: Vec<Vec<u8>> =
        ["results.json", "results_verified.json"].iter().map(|n| std::fs::read(scan.join(n)).unwrap()).collect();
    assert_eq!(before, after, "a second repair rewrote an output differently");
}

#[test]
fn a_torn_results_json_is_rebuilt_keeping_what_it_held() {
    let tmp = tempfile::tempdir().unwrap();
    let scan = todays_scan(tmp.path());
    repair(&scan);
    // Give the old file a key the builder does not produce, in a row and at the top, then tear it.
    let mut results = read(&scan.join("results.json"));
    results["results"][0]["error_info"] = json!({"kind": "quota"});
    let text = serde_json::to_string_pretty(&results).unwrap();
    let cut = text.find("\"code_by_route\"").unwrap();
    std::fs::write(scan.join("results.json"), &text.as_bytes()[..cut]).unwrap();
    set_age(tmp.path(), Duration::from_secs(3600));
    let (status, doc) = repair(&scan);
    assert_eq!(status & 1, 1, "{doc:#}");
    let rebuilt = read(&scan.join("results.json"));
    assert_eq!(rebuilt["provider"], "openai-main");
    assert_eq!(rebuilt["analyze_fingerprint"], DIGEST);
    assert_eq!(rebuilt["timestamp"], results["timestamp"], "the salvaged timestamp is kept");
    assert_eq!(rebuilt["results"][0]["error_info"], json!({"kind": "quota"}));
    let notes: Vec<&str> = actions(&doc)
        .iter()
        .filter(|a| a["target"].as_str().unwrap().ends_with("/results.json"))
        .flat_map(|a| a["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()))
        .collect();
    assert!(notes.iter().any(|n| n.contains("results[a.py:f].error_info")), "{notes:#?}");
}

#[test]
fn an_output_with_a_key_no_known_openant_writes_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let scan = todays_scan(tmp.path());
    repair(&scan);
    let mut verified = read(&scan.join("results_verified.json"));
    verified["metrics"]["disagreed_inconclusive"] = json!(0);
    let text = serde_json::to_string_pretty(&verified).unwrap();
    // Torn, so repair would rebuild it if it knew how.
    let torn = &text.as_bytes()[..text.len() - 40];
    std::fs::write(scan.join("results_verified.json"), torn).unwrap();
    set_age(tmp.path(), Duration::from_secs(3600));
    let (status, doc) = repair(&scan);
    assert_eq!(std::fs::read(scan.join("results_verified.json")).unwrap(), torn, "left as it is");
    assert_eq!(status & 4, 4, "{doc:#}");
    let unfixable = doc["scan_dirs"][0]["unfixable"].as_array().unwrap();
    let entry = unfixable
        .iter()
        .find(|u| u["path"].as_str().unwrap().ends_with("results_verified.json"))
        .unwrap_or_else(|| panic!("{doc:#}"));
    assert!(entry["reason"].as_str().unwrap().contains("metric \"disagreed_inconclusive\""), "{entry:#}");
    assert!(entry["fix"].as_str().unwrap().contains("openant verify"), "{entry:#}");
}

#[test]
fn results_without_any_known_model_are_not_invented() {
    let tmp = tempfile::tempdir().unwrap();
    let scan = todays_scan(tmp.path());
    // No report inputs and a sidecar without model: the model is recorded nowhere.
    let mut report = read(&scan.join("analyze.report.json"));
    report["inputs"] = json!({"dataset_path": null, "provider": "openai-main", "limit": null});
    write(&scan.join("analyze.report.json"), &report);
    let mut fp = read(&scan.join("analyze_checkpoints/_fingerprint.json"));
    fp.as_object_mut().unwrap().remove("model");
    write(&scan.join("analyze_checkpoints/_fingerprint.json"), &fp);
    set_age(tmp.path(), Duration::from_secs(3600));
    let (status, doc) = repair(&scan);
    assert!(!scan.join("results.json").exists(), "{doc:#}");
    assert_eq!(status & 4, 4);
    let text = doc.to_string();
    assert!(text.contains("never writes a model"), "{doc:#}");
}
