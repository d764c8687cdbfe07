//! One reader decides for every verb (issue 12, breaks 5 and 6): a file is valid when
//! OpenAnt's `json.load` reads it (Python's nesting and integer limits included), and `check`
//! and `repair` say the same of it. Each test runs the real binary on a copy of a healthy scan
//! with one thing planted, then checks that the verbs agree and that repair settles: a second
//! repair plans nothing.

use crate::common;

use std::path::Path;

use common::{actions, check_json, findings, unfixable, verb_json, TestEnv, Tree, OLD};
use serde_json::Value;

const SCAN: &str = common::FULL_SCAN;
const CHECKPOINT: &str = "analyze_checkpoints/app__db__queries.py_run_query.json";

/// Inserts `text` right after the first `"confidence": 0.68` of the checkpoint.
fn plant_in_checkpoint(scan: &Path, text: &str) {
    let path = scan.join(CHECKPOINT);
    let original = std::fs::read_to_string(&path).unwrap();
    assert!(original.contains("\"confidence\": 0.68,"));
    let planted = original.replacen("\"confidence\": 0.68,", &format!("\"confidence\": 0.68, {text},"), 1);
    std::fs::write(&path, planted).unwrap();
}

fn deep_array(levels: usize) -> String {
    format!("{}{}", "[".repeat(levels), "]".repeat(levels))
}

/// The findings on `rel` (relative to the scan dir) as (kind, message) pairs.
fn findings_on(doc: &Value, scan: &Path, rel: &str) -> Vec<(String, String)> {
    let path = scan.join(rel);
    findings(doc)
        .iter()
        .filter(|f| Path::new(f["path"].as_str().unwrap()) == path)
        .map(|f| (f["kind"].as_str().unwrap().to_owned(), f["message"].as_str().unwrap().to_owned()))
        .collect()
}

fn kinds_in(doc: &Value) -> Vec<String> {
    findings(doc).iter().map(|f| f["kind"].as_str().unwrap().to_owned()).collect()
}

fn repair(scan: &Path) -> (i32, Value) {
    verb_json("repair", &["--yes", scan.to_str().unwrap()])
}

/// A second repair (once the files look idle again) plans nothing and writes no new backup.
fn second_repair_does_nothing(tree: &Tree, scan: &Path) {
    common::set_age(tree.root(), OLD);
    let backups = |scan: &Path| std::fs::read_dir(scan.join(".scanaudit/backups")).map_or(0, |d| d.count());
    let before = backups(scan);
    let (_, doc) = repair(scan);
    assert_eq!(actions(&doc).len(), 0, "the second repair plans again: {doc:#}");
    assert_eq!(backups(scan), before, "the second repair made a backup: {doc:#}");
}

/// A checkpoint holding an array 1000 levels deep: OpenAnt's reader raises RecursionError on
/// it. check calls it corrupt (not valid, as before, which then made repair leave its unit
/// out, check call results.json stale, and every repair rewrite it with a new backup).
#[test]
fn a_checkpoint_too_deep_for_openant_is_corrupt_and_repair_settles() {
    let env = TestEnv::scan(SCAN);
    let scan = &env.scan;
    plant_in_checkpoint(scan, &format!("\"deep\": {}", deep_array(1000)));
    std::fs::remove_file(scan.join("results.json")).unwrap();
    env.age();

    let (_, doc) = check_json(&[scan.to_str().unwrap()]);
    let on_checkpoint = findings_on(&doc, scan, CHECKPOINT);
    assert_eq!(on_checkpoint.len(), 1, "{doc:#}");
    assert_eq!(on_checkpoint[0].0, "corrupt", "{doc:#}");
    assert!(on_checkpoint[0].1.contains("RecursionError"), "{doc:#}");

    let (_, doc) = repair(scan);
    assert!(scan.join("results.json").is_file(), "{doc:#}");
    assert!(!scan.join(CHECKPOINT).exists(), "the unreadable checkpoint is quarantined: {doc:#}");
    let (_, doc) = check_json(&[scan.to_str().unwrap()]);
    assert!(!kinds_in(&doc).contains(&"output-stale".to_owned()), "{doc:#}");
    second_repair_does_nothing(&env.tree, scan);
}

/// A value a million levels deep in dataset_enhanced.json: check and repair agree it is
/// damaged (check said nothing while repair refused to read it); repair rebuilds it from the
/// checkpoints, keeping the original in its backup, and then has nothing left to do.
#[test]
fn a_value_too_deep_in_dataset_enhanced_is_corrupt_for_both_verbs() {
    let env = TestEnv::scan(SCAN);
    let scan = &env.scan;
    let path = scan.join("dataset_enhanced.json");
    let original = std::fs::read_to_string(&path).unwrap();
    let planted = format!("{{\"deep\": {}, {}", deep_array(1_000_000), &original[1..]);
    std::fs::write(&path, &planted).unwrap();
    env.age();

    let (_, doc) = check_json(&[scan.to_str().unwrap()]);
    let found = findings_on(&doc, scan, "dataset_enhanced.json");
    assert_eq!(found.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["corrupt"], "{doc:#}");
    assert!(found[0].1.contains("RecursionError"), "{doc:#}");

    let (_, doc) = repair(scan);
    let targets: Vec<&str> = actions(&doc).iter().map(|a| a["target"].as_str().unwrap()).collect();
    assert!(targets.iter().any(|t| t.ends_with("dataset_enhanced.json")), "{doc:#}");
    let (_, doc) = check_json(&[scan.to_str().unwrap()]);
    assert!(findings_on(&doc, scan, "dataset_enhanced.json").is_empty(), "{doc:#}");
    second_repair_does_nothing(&env.tree, scan);
}

/// An int of 4,301 digits: OpenAnt's json.load raises ValueError, so check calls it corrupt.
#[test]
fn an_int_too_long_for_python_is_corrupt() {
    let env = TestEnv::scan(SCAN);
    let scan = &env.scan;
    plant_in_checkpoint(scan, &format!("\"n\": {}", "7".repeat(4301)));
    let (_, doc) = check_json(&[scan.to_str().unwrap()]);
    let found = findings_on(&doc, scan, CHECKPOINT);
    assert_eq!(found.len(), 1, "{doc:#}");
    assert_eq!(found[0].0, "corrupt");
    assert!(found[0].1.contains("ValueError"), "{doc:#}");
}

/// Python reads lone surrogate escapes and numbers that overflow a float (`1e400` is inf), in
/// any field: check calls neither corrupt, also where it reads the value (a checkpoint's
/// captured `result`, a typed `confidence`).
#[test]
fn lone_surrogates_and_overflowing_numbers_are_valid_in_every_field() {
    let env = TestEnv::scan(SCAN);
    let scan = &env.scan;
    let checkpoint = scan.join(CHECKPOINT);
    let text = std::fs::read_to_string(&checkpoint).unwrap();
    let planted = text.replacen("\"result\": {", "\"result\": {\n    \"note \\ud800\": \"\\udc00 x\\ud800\",", 1);
    assert_ne!(planted, text);
    std::fs::write(&checkpoint, planted).unwrap();
    let context = scan.join("application_context.json");
    let text = std::fs::read_to_string(&context).unwrap();
    std::fs::write(&context, text.replacen("\"confidence\": 0.85", "\"confidence\": 1e400", 1)).unwrap();
    env.age();

    let (status, doc) = check_json(&[scan.to_str().unwrap()]);
    assert_eq!(findings(&doc).len(), 0, "{doc:#}");
    assert_eq!(status, 0);
}

/// A checkpoint with a lone surrogate that repair would have to carry into a rebuilt
/// results.json: a Rust string cannot hold it, so repair refuses that rebuild and says why,
/// rather than leaving the unit out (and rewriting the file on every run).
#[test]
fn repair_refuses_to_rebuild_from_a_lone_surrogate_and_does_not_loop() {
    let env = TestEnv::scan(SCAN);
    let scan = &env.scan;
    plant_in_checkpoint(scan, "\"note\": \"x\\ud800y\"");
    std::fs::remove_file(scan.join("results.json")).unwrap();
    env.age();

    let (_, doc) = check_json(&[scan.to_str().unwrap()]);
    assert!(findings_on(&doc, scan, CHECKPOINT).is_empty(), "{doc:#}");
    for _ in 0..2 {
        let (_, doc) = repair(scan);
        assert!(!scan.join("results.json").exists(), "{doc:#}");
        let refused: Vec<&Value> =
            unfixable(&doc).into_iter().filter(|u| u["path"].as_str().unwrap().ends_with("results.json")).collect();
        assert!(refused.iter().any(|u| u["reason"].as_str().unwrap().contains("lone UTF-16 surrogate")), "{doc:#}");
        assert!(actions(&doc).iter().all(|a| !a["target"].as_str().unwrap().ends_with("results.json")), "{doc:#}");
        env.age();
    }
    assert!(scan.join(CHECKPOINT).is_file());
}

/// A directory named results.json: check reports it (a `special-file`: not a regular file,
/// never opened) and repair leaves it alone, both with the same reason.
#[test]
fn a_directory_named_like_an_output_is_reported_and_left_alone() {
    let env = TestEnv::scan(SCAN);
    let scan = &env.scan;
    std::fs::remove_file(scan.join("results.json")).unwrap();
    std::fs::create_dir(scan.join("results.json")).unwrap();
    std::fs::write(scan.join("results.json/keep"), b"mine").unwrap();
    env.age();

    let (_, doc) = check_json(&[scan.to_str().unwrap()]);
    let found = findings_on(&doc, scan, "results.json");
    assert_eq!(found.len(), 1, "{doc:#}");
    assert_eq!(found[0].0, "special-file", "{doc:#}");
    assert!(found[0].1.contains("a directory where OpenAnt expects its results.json file"), "{doc:#}");

    let (_, doc) = repair(scan);
    let refused: Vec<&Value> =
        unfixable(&doc).into_iter().filter(|u| u["path"].as_str().unwrap().ends_with("results.json")).collect();
    assert_eq!(refused.len(), 1, "{doc:#}");
    assert!(refused[0]["reason"].as_str().unwrap().starts_with(&found[0].1), "{doc:#}");
    assert_eq!(std::fs::read(scan.join("results.json/keep")).unwrap(), b"mine");
}
