//! `single-file-checkpoints` through the library: the generated fork-era and old-upstream scans
//! come out as `testdata/migrated/` has them (built by the generator's own Python reference of
//! this migration), a second plan is empty, a run killed midway is finished by the next one,
//! and on crafted inputs (odd ids, usage sums, existing files, several single files of one
//! step) the result is byte for byte what the Python reference leaves.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use scanaudit::migrate::plan::{plan_dir, DirPlan, DirStatus, Plan};
use scanaudit::migrate::single_file_checkpoints::ID;
use scanaudit::migrate::{apply, ActionOutcome, MigrationAction, Step};

use super::common::{check_json, kinds, testdata};
use super::{assert_same_tree, legacy_copy};

const STOPPED: &str = "projects/forkstop/scans/7e1a0c3b9d2/javascript";
const RESUMED: &str = "projects/forkstop/scans/a565352c0ff/javascript";
const OLDTOOL: &str = "projects/oldtool/scans/0d729f6a1b2";

/// This migration's part of the plan for one scan dir.
fn plan_single(dir: &Path, min_idle: Duration) -> DirPlan {
    let mut planned = plan_dir(dir, min_idle, SystemTime::now());
    planned.actions.retain(|a| a.migration == ID);
    planned.unfixable.retain(|u| u.migration == ID);
    if planned.actions.is_empty() {
        planned.status = DirStatus::Healthy;
    }
    planned
}

fn run(dir_plan: DirPlan) {
    let n = dir_plan.actions.len();
    let applied = apply(&Plan { scan_dirs: vec![dir_plan], walk_errors: Vec::new() }, &AtomicBool::new(false));
    let outcomes: Vec<_> = applied.results().map(|r| r.outcome.clone()).collect();
    assert_eq!(outcomes.len(), n);
    assert!(outcomes.iter().all(|o| matches!(o, ActionOutcome::Done)), "{outcomes:?}");
}

fn notes(action: &MigrationAction) -> String {
    action.notes.join("\n")
}

fn creates(action: &MigrationAction) -> Vec<String> {
    action
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Create { path, .. } => Some(path.file_name().unwrap().to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

/// The retired single files sit in the scan dir's backup, byte for byte.
fn backed_up(scan: &Path, name: &str) -> Option<Vec<u8>> {
    let backups = scan.join(".scanaudit/backups");
    std::fs::read_dir(backups).ok()?.filter_map(|e| std::fs::read(e.ok()?.path().join(name)).ok()).next()
}

#[test]
fn fixture_scans_migrate_to_the_expected_tree_and_then_plan_nothing() {
    let tree = legacy_copy();
    let legacy = tree.path("legacy");
    let originals: Vec<(PathBuf, Vec<u8>)> =
        ["analyze_checkpoint.json", "verify_checkpoint.json", "dataset_enhanced_checkpoint.json"]
            .iter()
            .map(|n| (legacy.join(STOPPED).join(n), std::fs::read(legacy.join(STOPPED).join(n)).unwrap()))
            .collect();

    let stopped = plan_single(&legacy.join(STOPPED), Duration::from_secs(600));
    assert!(stopped.unfixable.is_empty() && stopped.io_errors.is_empty(), "{stopped:?}");
    let targets: Vec<String> =
        stopped.actions.iter().map(|a| a.target.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(targets, ["analyze_checkpoint.json", "dataset_enhanced_checkpoint.json", "verify_checkpoint.json"]);
    let analyze = &stopped.actions[0];
    assert!(
        notes(analyze).contains("left out 1 errored unit as OpenAnt's own legacy migration does"),
        "{}",
        notes(analyze)
    );
    assert!(notes(analyze).contains("usage: left out of every unit file"), "{}", notes(analyze));
    let verify = &stopped.actions[2];
    // Keyed by unit id, not by the fork's route keys (`GET:/api/invoices/:id`).
    assert_eq!(
        creates(verify),
        [
            "src__lib__données__format.js_formaterMontant.json",
            "src__routes__export.js_exportCsv.json",
            "src__routes__invoices.js_getInvoice.json",
            "_summary.json"
        ]
    );
    assert!(notes(verify).contains("\"src/lib/merge.js:deepMerge\""), "{}", notes(verify));
    run(stopped);

    let resumed = plan_single(&legacy.join(RESUMED), Duration::from_secs(600));
    assert_eq!(resumed.actions.len(), 1);
    let kept = &resumed.actions[0];
    assert!(creates(kept).is_empty(), "existing per-unit files win: {:?}", creates(kept));
    assert!(notes(kept).contains("kept 2 files already in verify_checkpoints/"), "{}", notes(kept));
    assert!(notes(kept).contains("kept the existing verify_checkpoints/_summary.json"), "{}", notes(kept));
    run(resumed);

    let oldtool = plan_single(&legacy.join(OLDTOOL), Duration::from_secs(600));
    assert_eq!(oldtool.actions.len(), 1);
    assert!(notes(&oldtool.actions[0]).contains("\"tool/cache.py:warm_cache\""));
    run(oldtool);

    assert_same_tree(&legacy.join("projects/forkstop"), &testdata("migrated/projects/forkstop"));
    // Later migrations (the language level) may move the old scan in the expected tree.
    let want = [OLDTOOL.to_string(), format!("{OLDTOOL}/python")]
        .iter()
        .map(|d| testdata(&format!("migrated/{d}/enhance_checkpoints")))
        .find(|d| d.is_dir())
        .expect("the expected tree has oldtool's enhance_checkpoints/");
    assert_same_tree(&legacy.join(OLDTOOL).join("enhance_checkpoints"), &want);
    assert!(!legacy.join(OLDTOOL).join("enhance_checkpoint.json").exists());

    for (path, bytes) in originals {
        assert!(!path.exists(), "{} was not retired", path.display());
        let kept = backed_up(&legacy.join(STOPPED), &path.file_name().unwrap().to_string_lossy());
        assert_eq!(kept.as_deref(), Some(&bytes[..]), "{} is not in the backup", path.display());
    }
    for scan in [STOPPED, RESUMED, OLDTOOL] {
        let again = plan_single(&legacy.join(scan), Duration::from_secs(600));
        assert!(again.actions.is_empty() && again.unfixable.is_empty(), "{scan}: {again:?}");
    }
    // check no longer sees a single-file checkpoint, and reads every new file as its kind.
    let (_, doc) = check_json(&[legacy.join("projects/forkstop").to_str().unwrap()]);
    let found = kinds(&doc, &legacy);
    let bad: Vec<_> = found
        .iter()
        .filter(|(_, k)| {
            ["legacy-layout", "schema", "checkpoint-name-mismatch", "checkpoint-missing-id"].contains(&k.as_str())
        })
        .collect();
    assert!(bad.is_empty(), "{bad:?}\n{doc:#}");
}

/// The single-file scan whose files hold every unit (repair's fixture) migrates to the expected
/// tree as well.
#[test]
fn a_scan_whose_single_files_hold_every_unit_migrates_to_the_expected_tree() {
    const DONE: &str = "projects/forkdone/scans/3d5e7f9a1c2/javascript";
    let tree = legacy_copy();
    let scan = tree.path("legacy").join(DONE);
    let planned = plan_single(&scan, Duration::from_secs(600));
    assert!(planned.unfixable.is_empty() && planned.io_errors.is_empty(), "{planned:?}");
    assert_eq!(planned.actions.len(), 3);
    run(planned);
    assert_same_tree(&tree.path("legacy/projects/forkdone"), &testdata("migrated/projects/forkdone"));
    assert!(plan_single(&scan, Duration::from_secs(600)).actions.is_empty());
}

/// A run killed after some unit files (and again after the summary): the legacy file is still
/// there, and the next plan writes only what is missing, then retires it.
#[test]
fn a_run_killed_midway_is_finished_by_the_next_plan() {
    for written in [3usize, usize::MAX] {
        let tree = legacy_copy();
        let scan = tree.path("legacy").join(STOPPED);
        let mut first = plan_single(&scan, Duration::from_secs(600));
        // Keep only the analyze action, cut before its Retire (and, the first time, after two files).
        first.actions.truncate(1);
        let steps = &mut first.actions[0].steps;
        let retire = steps.pop();
        assert!(matches!(retire, Some(Step::Retire { .. })));
        steps.truncate(written);
        let total_creates = creates(&first.actions[0]).len();
        run(first);
        assert!(scan.join("analyze_checkpoint.json").exists());

        // What the killed run wrote is seconds old: no idle time is asked for.
        let second = plan_single(&scan, Duration::ZERO);
        let analyze = second.actions.iter().find(|a| a.target.ends_with("analyze_checkpoint.json")).unwrap();
        let remaining = creates(analyze);
        // Four unit files and the summary in all; CreateDir came first.
        let done = total_creates.min(written - 1);
        assert_eq!(total_creates, if written == usize::MAX { 5 } else { 2 });
        assert_eq!(remaining.len(), 5 - done, "{remaining:?}");
        let note = format!("{done} files were already written by an earlier migrate run");
        assert!(notes(analyze).contains(&note), "{}", notes(analyze));
        assert!(!notes(analyze).contains("kept"), "our own files are not newer ones: {}", notes(analyze));
        run(second);
        assert!(plan_single(&scan, Duration::ZERO).actions.is_empty());
        assert_same_tree(
            &scan.join("analyze_checkpoints"),
            &testdata(&format!("migrated/{STOPPED}/analyze_checkpoints")),
        );
    }
}

/// A scan dir built from JSON texts, old enough not to look in use.
fn scan_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn torn_or_unknown_single_files_are_reported_and_left_alone() {
    let dir = scan_dir(&[
        ("dataset.json", r#"{"units": []}"#),
        ("analyze_checkpoint.json", r#"{"results": [{"unit_id": "a", "verdict": "SAFE"}, {"unit_id": "#),
        ("verify_checkpoint.json", r#"{"something": "else"}"#),
        ("enhance_checkpoint.json", r#"{"units": [], "metadata": {}}"#),
        ("notes.json", r#"{"units": [{"id": "x", "agent_context": {"a": 1}}]}"#),
    ]);
    let planned = plan_single(dir.path(), Duration::ZERO);
    assert!(planned.actions.is_empty(), "{planned:?}");
    let mut reasons: Vec<(String, String)> = planned
        .unfixable
        .iter()
        .map(|u| (u.path.file_name().unwrap().to_string_lossy().into_owned(), u.reason.clone()))
        .collect();
    reasons.sort();
    let names: Vec<&str> = reasons.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["analyze_checkpoint.json", "enhance_checkpoint.json", "verify_checkpoint.json"]);
    assert!(reasons[0].1.contains("does not parse"), "{}", reasons[0].1);
    assert!(reasons[2].1.contains("not a single-file checkpoint of a known shape"), "{}", reasons[2].1);
    assert!(!dir.path().join("analyze_checkpoints").exists());
}

/// The newest whole-dataset file of a scan wins where two hold the same unit; a file with
/// `metadata.checkpoint` under an OpenAnt output's name is that output, not a checkpoint.
#[test]
fn the_newest_whole_dataset_checkpoint_wins_and_outputs_are_not_checkpoints() {
    let dir = scan_dir(&[
        ("dataset.json", r#"{"units": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}"#),
        (
            "dataset_enhanced.json",
            r#"{"units": [{"id": "a", "agent_context": {"v": "final"}}], "metadata": {"checkpoint": true}}"#,
        ),
        (
            "enhance_checkpoint.json",
            r#"{"units": [{"id": "a", "agent_context": {"v": "old"}}, {"id": "b", "agent_context": {"v": "old"}}], "metadata": {"checkpoint": true}}"#,
        ),
        (
            "my-run.json",
            r#"{"units": [{"id": "a", "agent_context": {"v": "new"}}, {"id": "c", "agent_context": {"v": "new"}}], "metadata": {"checkpoint": true}}"#,
        ),
    ]);
    let older = filetime::FileTime::from_unix_time(1_700_000_000, 0);
    let newer = filetime::FileTime::from_unix_time(1_700_000_100, 0);
    filetime::set_file_mtime(dir.path().join("enhance_checkpoint.json"), older).unwrap();
    filetime::set_file_mtime(dir.path().join("my-run.json"), newer).unwrap();
    let planned = plan_single(dir.path(), Duration::ZERO);
    let targets: Vec<String> =
        planned.actions.iter().map(|a| a.target.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(targets, ["my-run.json", "enhance_checkpoint.json"]);
    assert_eq!(creates(&planned.actions[0]), ["a.json", "c.json", "_summary.json"]);
    assert_eq!(creates(&planned.actions[1]), ["b.json"]);
    assert!(notes(&planned.actions[1]).contains("1 unit taken from the newer my-run.json instead: a.json"));
    run(planned);
    let cp = |name: &str| std::fs::read_to_string(dir.path().join("enhance_checkpoints").join(name)).unwrap();
    assert!(cp("a.json").contains("\"v\": \"new\""));
    assert!(cp("b.json").contains("\"v\": \"old\""));
    assert!(cp("_summary.json").contains("\"timestamp\": \"2023-11-14T22:15:00Z\""), "{}", cp("_summary.json"));
    assert!(dir.path().join("dataset_enhanced.json").exists());
    assert!(!dir.path().join("my-run.json").exists() && !dir.path().join("enhance_checkpoint.json").exists());
}

/// Runs the generator's Python reference of this migration on `dir`.
fn python_reference(dir: &Path) {
    let status = Command::new("python3")
        .args([
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); import generate; generate.migrate_single_file_checkpoints(sys.argv[2])",
        ])
        .arg(testdata(""))
        .arg(dir)
        .status()
        .expect("python3 must be installed for the differential tests");
    assert!(status.success());
}

/// Crafted single files of every kind: ids with separators, `..`, non-ASCII and astral
/// characters, duplicates and `safe_filename` collisions, usage that sums to float noise,
/// existing files (one identical, one newer) and a summary over both.
#[test]
fn crafted_single_files_convert_exactly_as_the_python_reference() {
    let enhance = r#"{"name": "r", "units": [
        {"id": "../../etc/passwd", "code": {"primary_code": "x = 1  # «é» 😀"}, "agent_context": {"security_classification": "exploitable",
         "agent_metadata": {"iterations": 3, "total_tokens": 10, "input_tokens": 7, "output_tokens": 3, "cost_usd": 0.1}}},
        {"id": "a/b c:d", "agent_context": {"security_classification": "neutral", "agent_metadata": {"input_tokens": 1, "output_tokens": 0, "cost_usd": 0.2}}},
        {"id": "a__b_c_d", "agent_context": {"security_classification": "neutral", "agent_metadata": {"input_tokens": 0, "output_tokens": 0}}},
        {"id": "naïve 😀/x", "agent_context": {"confidence": 1e16, "f": 3.0, "agent_metadata": {"input_tokens": 2, "cost_usd": 1e-7}}},
        {"id": "err", "agent_context": {"error": {"type": "billing"}}},
        {"id": "twice", "agent_context": {"n": 1}}, {"id": "twice", "agent_context": {"n": 2}},
        {"id": "_summary", "agent_context": {"n": 1}},
        {"id": "pending"}
    ], "metadata": {"checkpoint": true, "token_usage": {"total_calls": 4}}}"#;
    let analyze = r#"{"results": [
        {"finding": "vulnerable", "verdict": "VULNERABLE", "route_key": "GET:/x/:id", "unit_id": "x.js:get", "elapsed_seconds": 1.1},
        {"unit_id": "y.js:boom", "verdict": "ERROR", "finding": "error", "error": "529"},
        {"finding": "safe", "verdict": "SAFE", "unit_id": "z.js:plain"},
        {"finding": "safe", "verdict": "SAFE", "route_key": "POST:/nocode", "unit_id": "w.js:nocode"}
    ], "code_by_route": {"GET:/x/:id": "function get() { return \"é\"; }", "z.js:plain": ""},
       "counts": {}, "dataset": "dataset.json", "model": "claude-opus-4-6"}"#;
    let verify = r#"{"completed_keys": ["GET:/x/:id", "lib.js:m", "GET:/x/:id", "gone"],
        "verified": [
          {"route_key": "GET:/x/:id", "verification": {"agree": true, "correct_finding": "vulnerable"}, "finding": "vulnerable", "verification_note": null},
          {"route_key": "GET:/x/:id", "verification": {"agree": false, "correct_finding": "safe"}, "finding": "safe", "verification_note": "Changed from vulnerable to safe"},
          {"route_key": "lib.js:m", "verification": {"agree": true, "correct_finding": "bypassable"}, "finding": "bypassable", "verification_note": null},
          {"route_key": "POST:/e", "verification": {}, "finding": "vulnerable"}
        ]}"#;
    let results = r#"{"results": [
        {"unit_id": "x.js:get", "route_key": "GET:/x/:id", "finding": "vulnerable"},
        {"unit_id": "x.js:get2", "route_key": "GET:/x/:id", "verdict": "VULNERABLE"},
        {"unit_id": "lib.js:m", "route_key": "lib.js:m", "finding": "bypassable"},
        {"unit_id": "e.js:e", "route_key": "POST:/e", "finding": "vulnerable"}
    ]}"#;
    let dataset = r#"{"units": [{"id": "x.js:get"}, {"id": "y.js:boom"}, {"id": "z.js:plain"}, {"id": "w.js:nocode"}, {"id": "q"}]}"#;
    // The fork master's enhance retry copies dataset_enhanced.json to the fork's name as it is:
    // no checkpoint flag, error units included.
    let retry_copy = r#"{"units": [
        {"id": "x.js:get", "agent_context": {"security_classification": "exploitable", "agent_metadata": {"iterations": 2, "input_tokens": 5, "output_tokens": 1, "cost_usd": 0.01}}},
        {"id": "y.js:boom", "agent_context": {"error": {"type": "billing"}, "security_classification": "neutral", "confidence": 0.0}}
    ], "metadata": {"agentic_enhanced": true, "enhancement_mode": "agentic"}}"#;
    // One file already identical to what the migration writes, one newer and different.
    let identical = "{\n  \"result\": {\n    \"finding\": \"safe\",\n    \"verdict\": \"SAFE\",\n    \"unit_id\": \"z.js:plain\"\n  },\n  \"route_key\": \"z.js:plain\",\n  \"code_for_route\": \"\",\n  \"id\": \"z.js:plain\"\n}";
    let newer = r#"{"result": {"verdict": "SAFE", "finding": "safe"}, "route_key": "GET:/x/:id", "code_for_route": "", "usage": {"input_tokens": 5, "output_tokens": 2, "cost_usd": 0.30000000000000004}, "id": "x.js:get"}"#;
    let errored = r#"{"result": {"verdict": "ERROR", "finding": "error"}, "route_key": "q", "code_for_route": "", "usage": {"input_tokens": 1, "output_tokens": 0, "cost_usd": 0.1}, "id": "q"}"#;
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("dataset.json", dataset), ("enhance_checkpoint.json", enhance)],
        vec![("dataset.json", dataset), ("analyze_checkpoint.json", analyze)],
        vec![
            ("dataset.json", dataset),
            ("analyze_checkpoint.json", analyze),
            ("analyze_checkpoints/z.js_plain.json", identical),
            ("analyze_checkpoints/x.js_get.json", newer),
            ("analyze_checkpoints/q.json", errored),
        ],
        vec![("dataset.json", dataset), ("results.json", results), ("verify_checkpoint.json", verify)],
        vec![("dataset.json", dataset), ("verify_checkpoint.json", verify)],
        vec![("dataset.json", dataset), ("dataset_enhanced_checkpoint.json", retry_copy)],
        vec![
            ("dataset.json", dataset),
            ("dataset_enhanced_checkpoint.json", enhance),
            (
                "dataset_enhanced_checkpoint_checkpoints/a__b_c_d.json",
                r#"{"id": "a__b_c_d", "agent_context": {"kept": true}}"#,
            ),
        ],
    ];
    // Sub-second mtimes: the summary's timestamp then carries microseconds.
    let mtime = filetime::FileTime::from_unix_time(1_774_087_533, 120_044_999);
    for (i, files) in cases.iter().enumerate() {
        let ours = scan_dir(files);
        let theirs = scan_dir(files);
        for dir in [&ours, &theirs] {
            for (name, _) in files.iter().filter(|(n, _)| n.ends_with("checkpoint.json")) {
                filetime::set_file_mtime(dir.path().join(name), mtime).unwrap();
            }
        }
        run(plan_single(ours.path(), Duration::ZERO));
        python_reference(theirs.path());
        assert_same_tree(ours.path(), theirs.path());
        assert!(plan_single(ours.path(), Duration::ZERO).actions.is_empty(), "case {i}: a second plan");
    }
}

/// Issue 12, break 13: a converted checkpoint dir whose unit files cover every unit of the
/// step's input says `phase: done`, as OpenAnt writes after a finished run, so the Go CLI asks
/// no "Previous run interrupted, resume?" whose "n" deletes the dir. A dir covering only part of
/// the units stays `in_progress`, as the interrupted run left it. Through the real binary.
#[test]
fn the_verb_says_done_only_for_a_conversion_that_covers_every_unit() {
    let tree = legacy_copy();
    let finished = tree.path("legacy/projects/forkdone/scans/3d5e7f9a1c2/javascript");
    let stopped = tree.path(&format!("legacy/{STOPPED}"));
    for dir in [&finished, &stopped] {
        let output = super::migrate(&["--yes", "--quiet", dir.to_str().unwrap()]);
        assert_eq!(super::common::code(&output) & 8, 0, "{}", String::from_utf8_lossy(&output.stderr));
    }
    let phase = |dir: &Path, step: &str| -> String {
        let summary = dir.join(format!("{step}_checkpoints/_summary.json"));
        let bytes = std::fs::read(&summary).unwrap_or_else(|e| panic!("{}: {e}", summary.display()));
        let summary: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        summary["phase"].as_str().unwrap_or_else(|| panic!("no phase in {summary}")).to_owned()
    };
    for step in ["enhance", "analyze", "verify"] {
        assert_eq!(phase(&finished, step), "done", "forkdone's {step} single file held every unit");
        assert_eq!(phase(&stopped, step), "in_progress", "forkstop's {step} run was interrupted");
    }
}
