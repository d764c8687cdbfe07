//! The cross-file rules of `scanaudit check` (spec/openant-layout.md §2.4, §2.7, §9), end to
//! end on the generated trees. Git keeps neither mtimes nor modes, so the rules that depend on
//! them get their ages and modes set here.

use crate::common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{check_json, findings, kinds, testdata, Tree, OLD};
use serde_json::Value;

const FRESH: Duration = Duration::from_secs(5);

fn expected(name: &str) -> Vec<Value> {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(testdata(&format!("expected/{name}.json"))).unwrap()).unwrap();
    doc["findings"].as_array().unwrap().clone()
}

/// Asserts that checking `root` gives exactly the `want` findings (paths relative to `base`),
/// each with the level, file kind and fix the generator recorded.
fn assert_exactly(doc: &Value, base: &Path, want: &[&Value]) {
    let got: BTreeSet<(String, String)> = kinds(doc, base).into_iter().collect();
    let want_set: BTreeSet<(String, String)> =
        want.iter().map(|f| (f["path"].as_str().unwrap().into(), f["kind"].as_str().unwrap().into())).collect();
    assert_eq!(got, want_set, "{doc:#}");
    for exp in want {
        let path = base.join(exp["path"].as_str().unwrap());
        let finding =
            findings(doc).iter().find(|f| f["path"] == path.to_str().unwrap() && f["kind"] == exp["kind"]).unwrap();
        assert_eq!(finding["level"], exp["level"], "{finding:#}");
        assert_eq!(finding["file_kind"], exp["file_kind"], "{finding:#}");
        let fix = exp["fix"]
            .as_str()
            .map(|fix| fix.replace("{scan_dir}", base.join(exp["scan_dir"].as_str().unwrap()).to_str().unwrap()));
        assert_eq!(finding["fix"].as_str(), fix.as_deref(), "{finding:#}");
        assert!(!finding["message"].as_str().unwrap().is_empty());
    }
}

/// Every rule, one damaged project each: checked on its own, the project gives exactly the
/// findings the generator recorded for it, with their levels and fix commands.
#[test]
fn each_rule_finds_its_fixture_and_nothing_else() {
    let tree = Tree::copy("damaged", OLD);
    let base = tree.path("damaged");
    let all = expected("damaged");
    let rules = [
        ("consistency-output-missing", &["output-missing"][..]),
        ("consistency-scan-unfinished", &["output-missing"]),
        ("consistency-output-stale", &["output-stale", "run-incomplete"]),
        ("consistency-run-incomplete", &["run-incomplete"]),
        ("consistency-run-interrupted", &["run-interrupted"]),
        ("consistency-metrics", &["metrics-mismatch"]),
        ("consistency-unverified", &["unverified-finding", "run-incomplete"]),
        ("consistency-finding-ids", &["finding-id-gap"]),
        ("consistency-dynamic", &["dynamic-mismatch"]),
        ("consistency-stale-checkpoint", &["stale-checkpoint"]),
        ("consistency-diff-manifest", &["stale-diff-manifest"]),
    ];
    for (project, kinds_wanted) in rules {
        let prefix = format!("projects/{project}/");
        let want: Vec<&Value> = all.iter().filter(|f| f["path"].as_str().unwrap().starts_with(&prefix)).collect();
        let kinds_got: BTreeSet<&str> = want.iter().map(|f| f["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds_got, kinds_wanted.iter().copied().collect(), "{project}");
        let (code, doc) = check_json(&[base.join(&prefix).to_str().unwrap()]);
        assert_exactly(&doc, &base, &want);
        let errors = want.iter().any(|f| f["level"] == "error");
        assert_eq!(code, if errors { 4 } else { 0 }, "{project}: {doc:#}");
    }
}

/// Old layouts give legacy-layout, each pointing to migrate. The Windows scan's cp1252 outputs
/// are also invalid-utf8 (errors: current OpenAnt cannot read them), pointing to migrate too.
#[test]
fn legacy_layouts_are_reported_for_migrate() {
    let tree = Tree::copy("legacy", OLD);
    let base = tree.path("legacy");
    let want = expected("legacy");
    assert!(want.len() >= 3);
    let (code, doc) = check_json(&[base.to_str().unwrap()]);
    assert_exactly(&doc, &base, &want.iter().collect::<Vec<_>>());
    for finding in findings(&doc) {
        assert!(["legacy-layout", "invalid-utf8"].contains(&finding["kind"].as_str().unwrap()), "{finding:#}");
        assert!(finding["fix"].as_str().unwrap().starts_with("scanaudit migrate "), "{finding:#}");
    }
    assert_eq!(code, 4, "the cp1252 outputs are errors");
    let others = [base.join("projects/forkproj"), base.join("projects/oldtool")];
    let others: Vec<&str> = others.iter().map(|p| p.to_str().unwrap()).collect();
    assert_eq!(check_json(&others).0, 0, "legacy-layout is a warning");
    assert_eq!(check_json(&[&others[..], &["--strict"]].concat()).0, 4);
}

/// §2.7: analyze interrupted on the fix branch writes `_summary.json` phase done and no new
/// results.json; the old one is older than the summary, by mtime and by its timestamp.
#[test]
fn an_output_older_than_its_finished_run_is_stale() {
    let tree = Tree::copy("damaged", OLD);
    let project = tree.path("damaged/projects/consistency-output-stale-age");
    let (_, doc) = check_json(&[project.to_str().unwrap()]);
    assert_eq!(findings(&doc), &Vec::<Value>::new(), "uniform ages: nothing is stale: {doc:#}");

    let results = walkdir::WalkDir::new(&project)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .find(|p| p.ends_with("python/results.json"))
        .unwrap();
    // Before the run that wrote `_summary.json` (its timestamp says 2026-05-20) and its mtime.
    let before_run = SystemTime::UNIX_EPOCH + Duration::from_secs(1_777_593_600); // 2026-05-01
    filetime::set_file_mtime(&results, filetime::FileTime::from_system_time(before_run)).unwrap();
    let (code, doc) = check_json(&[project.to_str().unwrap()]);
    let got = kinds(&doc, &project);
    assert_eq!(got.len(), 1, "{doc:#}");
    assert_eq!(got[0].1, "output-stale");
    let finding = &findings(&doc)[0];
    assert_eq!(finding["path"], results.to_str().unwrap());
    assert_eq!(finding["level"], "error");
    assert!(finding["fix"].as_str().unwrap().starts_with("scanaudit repair "));
    assert!(finding["message"].as_str().unwrap().contains("analyze_checkpoints/_summary.json"));
    assert_eq!(code, 4);
}

/// An in-progress run is interrupted only once its checkpoint dir has been quiet for --min-idle.
#[test]
fn in_progress_runs_count_as_interrupted_only_when_idle() {
    let project = "damaged/projects/consistency-run-interrupted";
    let old = Tree::copy("damaged", OLD);
    let (_, doc) = check_json(&[old.path(project).to_str().unwrap()]);
    assert_eq!(kinds(&doc, &old.path(project)).iter().filter(|(_, k)| k == "run-interrupted").count(), 1);
    let (_, doc) = check_json(&[old.path(project).to_str().unwrap(), "--min-idle", "5d"]);
    assert_eq!(findings(&doc), &Vec::<Value>::new(), "{doc:#}");

    let fresh = Tree::copy("damaged", FRESH);
    let (code, doc) = check_json(&[fresh.path(project).to_str().unwrap()]);
    assert_eq!((code, findings(&doc).len()), (0, 0), "a run that may be going on is left alone: {doc:#}");
    let (_, doc) = check_json(&[fresh.path(project).to_str().unwrap(), "--min-idle", "1s"]);
    assert_eq!(findings(&doc).len(), 1, "{doc:#}");
}

#[test]
fn a_bad_min_idle_is_a_usage_error() {
    common::scanaudit().args(["check", "--min-idle", "ten minutes"]).assert().code(16);
}

/// The fork's atomic writer leaves outputs 0600 while the rest of the scan is 0644. A scan
/// written under umask 077 (everything 0600) is a choice, not a finding.
#[test]
fn outputs_left_at_0600_are_reported_unless_everything_is() {
    let tree = Tree::copy("healthy", OLD);
    let scan = tree.path("healthy/projects/forkproj/scans/5c3855e0a1b/python");
    for entry in walkdir::WalkDir::new(&scan) {
        let entry = entry.unwrap();
        let mode = if entry.file_type().is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    for name in ["results.json", "results_verified.json"] {
        std::fs::set_permissions(scan.join(name), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let (code, doc) = check_json(&[scan.to_str().unwrap()]);
    let got: BTreeSet<(String, String)> = kinds(&doc, &scan).into_iter().collect();
    let want: BTreeSet<(String, String)> = ["results.json", "results_verified.json"]
        .iter()
        .map(|n| (n.to_string(), "restrictive-mode".to_string()))
        .collect();
    assert_eq!(got, want, "{doc:#}");
    for f in findings(&doc) {
        assert_eq!(f["level"], "warn");
        // migrate's file-modes gives it the mode OpenAnt's own writer sets, with a record.
        assert_eq!(f["fix"].as_str().unwrap(), format!("scanaudit migrate {}", scan.display()));
    }
    assert_eq!(code, 0);

    for entry in walkdir::WalkDir::new(&scan) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    let (_, doc) = check_json(&[scan.to_str().unwrap()]);
    assert_eq!(findings(&doc), &Vec::<Value>::new(), "{doc:#}");
}

/// A scan dir given as the root still has its run dir's meta.json read: the healthy
/// incremental scan stays clean, and the stale manifest is still found.
#[test]
fn meta_json_above_a_scan_dir_root_is_still_consulted() {
    let tree = Tree::copy("healthy", OLD);
    let incremental = tree.path("healthy/projects/widgets/storefront/scans/9f8e7d6c5b4/javascript");
    let (code, doc) = check_json(&[incremental.to_str().unwrap()]);
    assert_eq!((code, findings(&doc).len()), (0, 0), "{doc:#}");

    let damaged = Tree::copy("damaged", OLD);
    let manifest = expected("damaged")
        .into_iter()
        .find(|f| f["kind"] == "stale-diff-manifest")
        .map(|f| damaged.path("damaged").join(f["path"].as_str().unwrap()))
        .unwrap();
    let (_, doc) = check_json(&[manifest.parent().unwrap().to_str().unwrap()]);
    assert_eq!(kinds(&doc, manifest.parent().unwrap()), [("diff_manifest.json".into(), "stale-diff-manifest".into())]);
}

/// Cross-file rules need the whole scan dir: a single file, or a walk narrowed by
/// --include/--exclude, gets only per-file findings; a filter that leaves nothing of the scan
/// dir out narrows nothing.
#[test]
fn partial_views_get_no_cross_file_findings() {
    let tree = Tree::copy("damaged", OLD);
    let scan = expected("damaged")
        .into_iter()
        .find(|f| f["kind"] == "metrics-mismatch" && f["file_kind"] == "results")
        .map(|f| tree.path("damaged").join(f["path"].as_str().unwrap()))
        .unwrap();
    let (code, doc) = check_json(&[scan.to_str().unwrap()]);
    assert_eq!((code, findings(&doc).len()), (0, 0), "{doc:#}");
    let dir = scan.parent().unwrap();
    let (_, doc) = check_json(&[dir.to_str().unwrap(), "--exclude", "*.md"]);
    assert_eq!(findings(&doc).len(), 0, "{doc:#}");
    let (_, doc) = check_json(&[dir.to_str().unwrap(), "--exclude", "*.yaml", "--include", "*"]);
    assert_eq!(findings(&doc).len(), 2, "nothing left out, the rules run: {doc:#}");
    let (_, doc) = check_json(&[dir.to_str().unwrap()]);
    assert_eq!(findings(&doc).len(), 2, "results.json and results_verified.json: {doc:#}");
}

/// A scan being written now (meta.json says running, or a checkpoint dir in progress, and
/// something changed within --min-idle) is between states: only the layout rules apply.
#[test]
fn a_scan_in_progress_is_left_to_a_later_check() {
    for (age, findings_wanted) in [(FRESH, 0), (OLD, 2)] {
        let tree = Tree::copy("damaged", age);
        let project = tree.path("damaged/projects/consistency-metrics");
        let meta = walkdir::WalkDir::new(&project)
            .into_iter()
            .map(|e| e.unwrap().into_path())
            .find(|p| p.ends_with("meta.json"))
            .unwrap();
        let text = std::fs::read_to_string(&meta).unwrap().replace("\"success\"", "\"running\"");
        std::fs::write(&meta, text).unwrap();
        common::set_age(&project, age);
        let (_, doc) = check_json(&[project.to_str().unwrap()]);
        assert_eq!(findings(&doc).len(), findings_wanted, "{doc:#}");
    }
}
