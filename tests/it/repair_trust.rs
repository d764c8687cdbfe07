//! Issue 12's breaks of repair's own logic, each through the real binary: the results file
//! `pipeline_output.json` is rebuilt from (4), repair writing what its own check calls an error
//! (7), an output repair cannot read (11); and the invariant over every damaged fixture: after
//! `repair`, `check` reports no error that repair could have avoided, and a second repair plans
//! nothing.

use crate::common;

use std::path::Path;

use common::{actions, check_json, findings, unfixable, verb_json, Damage, TestEnv, Tree, OLD};
use scanaudit::text::is_repair_command;
use serde_json::Value;

/// Scans where verify ran, one per era that writes `results_verified.json`: the fix branch,
/// today's OpenAnt (identity gate) and the fork's master.
const VERIFIED_SCANS: [&str; 3] = [
    "healthy/projects/acme-webapp/scans/3f9c2e1b7a6/python",
    "healthy/projects/nimbus-api/scans/6b1d0e9c4a2/python",
    "healthy/projects/forkproj/scans/5c3855e0a1b/python",
];

/// The fix-branch scan with verify and dynamic tests.
const ACME: &str = VERIFIED_SCANS[0];

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn repair(scan: &Path) -> (i32, Value) {
    verb_json("repair", &["--yes", scan.to_str().unwrap()])
}

fn check(scan: &Path) -> Value {
    check_json(&[scan.to_str().unwrap()]).1
}

/// The errors of `after` (a check after a repair) that repair could have avoided: every one
/// whose fix is `scanaudit repair` (repair's own to fix), and every one `before` (the check
/// before the repair) did not have at that path (repair wrote it).
fn avoidable_errors(before: &Value, after: &Value) -> Vec<String> {
    let had = |f: &Value| {
        findings(before).iter().any(|b| b["level"] == "error" && b["kind"] == f["kind"] && b["path"] == f["path"])
    };
    findings(after)
        .iter()
        .filter(|f| f["level"] == "error")
        .filter(|f| f["fix"].as_str().is_some_and(is_repair_command) || !had(f))
        .map(|f| format!("{} on {} (fix {}): {}", f["kind"], f["path"], f["fix"], f["message"]))
        .collect()
}

/// After a repair: nothing repair could have avoided, and a second repair plans nothing.
fn settled(scan: &Path, before: &Value, repaired: &Value) {
    let after = check(scan);
    let avoidable = avoidable_errors(before, &after);
    assert!(avoidable.is_empty(), "{}: {avoidable:#?}\nrepair: {repaired:#}", scan.display());
    let (_, again) = repair(scan);
    assert!(actions(&again).is_empty(), "{}: second repair {again:#}", scan.display());
}

/// Break 4. Steps run one by one (no `scan.report.json`) and `build-output.report.json` torn:
/// no report names build-output's input. Verify ran, so its output is that input, even when
/// the same repair rebuilds it: the findings are the verified ones, with their Stage-2
/// verdicts, the costs keep verify's, and the dynamic-test results rebuilt after it attach to
/// the right findings.
#[test]
fn pipeline_output_is_built_from_the_verified_results_when_verify_ran() {
    for rel in VERIFIED_SCANS {
        for verified in [Damage::Missing, Damage::Cut(0.5)] {
            let env = TestEnv::scan(rel);
            let scan = &env.scan;
            let reference = read_json(&scan.join("pipeline_output.json"));
            env.damage("build-output.report.json", Damage::Cut(0.4));
            env.damage("scan.report.json", Damage::Missing);
            env.damage("results_verified.json", verified);
            env.damage("pipeline_output.json", Damage::Cut(0.3));
            env.damage("dynamic_test_results.json", Damage::Cut(0.3));
            let before = check(scan);
            let (status, doc) = repair(scan);
            assert_eq!(status & 8, 0, "{rel} ({verified:?}): {doc:#}");
            let rebuilt = read_json(&scan.join("pipeline_output.json"));
            let what = format!("{rel} with results_verified.json {verified:?}");
            let count = |doc: &Value| doc["findings"].as_array().map(Vec::len);
            assert_eq!(count(&rebuilt), count(&reference), "{what}: findings\n{doc:#}");
            let verdicts = |doc: &Value| -> Vec<Value> {
                doc["findings"].as_array().unwrap().iter().map(|f| f["stage2_verdict"].clone()).collect()
            };
            assert_eq!(verdicts(&rebuilt), verdicts(&reference), "{what}: stage2_verdict");
            assert_eq!(rebuilt["findings"], reference["findings"], "{what}: findings differ");
            assert!(rebuilt["pipeline_stats"]["costs"].get("verify").is_some(), "{what}: costs lost verify");
            assert_eq!(rebuilt["pipeline_stats"]["costs"], reference["pipeline_stats"]["costs"], "{what}: costs");
            let after = check(scan);
            let mismatched: Vec<&Value> = findings(&after).iter().filter(|f| f["kind"] == "dynamic-mismatch").collect();
            assert!(mismatched.is_empty(), "{what}: {mismatched:#?}");
            settled(scan, &before, &doc);
        }
    }
}

/// Break 7. Units whose analyze checkpoint is gone, and results.json missing or torn before
/// their entries: their stage-1 rows that results_verified.json still holds as stage 1 wrote
/// them (a row verify never edited, a row Stage 2 agreed with) are carried, so `metrics.total`
/// and the results agree. A unit whose result survives nowhere (a row Stage 2 changed) is
/// left out, as an interrupted analyze leaves it, and check says so as a warning naming
/// `openant analyze`, not as a `metrics-mismatch` error.
#[test]
fn units_without_checkpoints_keep_the_stage1_results_that_survive() {
    // Untouched by verify; agreed with by Stage 2; changed by Stage 2 (bypassable to vulnerable).
    const KEPT: [(&str, &str); 2] = [
        ("app/config.py:load_settings", "app__config.py_load_settings.json"),
        ("app/routes/users.py:get_user", "app__routes__users.py_get_user.json"),
    ];
    const LOST: (&str, &str) = ("app/routes/files.py:download_file", "app__routes__files.py_download_file.json");
    for results in [Damage::Missing, Damage::Cut(0.02)] {
        for lose_one in [false, true] {
            let env = TestEnv::scan(ACME);
            let scan = &env.scan;
            let reference = read_json(&scan.join("results.json"));
            let gone: Vec<(&str, &str)> = KEPT.iter().copied().chain(lose_one.then_some(LOST)).collect();
            for (_, file) in &gone {
                std::fs::remove_file(scan.join("analyze_checkpoints").join(file)).unwrap();
            }
            env.damage("results.json", results);
            env.age();
            let what = format!("results.json {results:?}, {} checkpoints gone", gone.len());
            let before = check(scan);
            let (status, doc) = repair(scan);
            assert_eq!(status & 8, 0, "{what}: {doc:#}");
            let rebuilt = read_json(&scan.join("results.json"));
            let rows = |doc: &Value| -> Vec<Value> { doc["results"].as_array().unwrap().clone() };
            let mut expected = rows(&reference);
            if lose_one {
                expected.retain(|r| r["unit_id"] != LOST.0);
            }
            let mut got = rows(&rebuilt);
            let key = |r: &Value| r["unit_id"].as_str().unwrap().to_string();
            got.sort_by_key(key);
            expected.sort_by_key(key);
            assert_eq!(got, expected, "{what}: the carried rows are not the stage-1 rows\n{doc:#}");
            assert_eq!(rebuilt["metrics"]["total"], reference["metrics"]["total"], "{what}");
            let after = check(scan);
            let kinds: Vec<(&str, &str)> = findings(&after)
                .iter()
                .filter(|f| f["path"].as_str().unwrap().ends_with("/results.json"))
                .map(|f| (f["kind"].as_str().unwrap(), f["level"].as_str().unwrap()))
                .collect();
            assert!(!kinds.iter().any(|(k, _)| *k == "metrics-mismatch"), "{what}: {after:#}");
            let partial = findings(&after).iter().find(|f| {
                f["kind"] == "run-incomplete"
                    && f["path"].as_str().unwrap().ends_with("/results.json")
                    && f["message"].as_str().unwrap().contains("metrics.total")
            });
            if lose_one {
                let partial = partial.unwrap_or_else(|| panic!("{what}: no warning on the partial results: {after:#}"));
                assert_eq!(partial["level"], "warn", "{partial:#}");
                assert_eq!(partial["fix"], "openant analyze", "{partial:#}");
                assert!(partial["message"].as_str().unwrap().contains(LOST.0), "{partial:#}");
            } else {
                assert!(partial.is_none(), "{what}: {partial:#?}");
            }
            settled(scan, &before, &doc);
        }
    }
}

/// The same for dynamic-test results (found by the invariant run on randomly damaged scans): a
/// finding with no test result anywhere (no checkpoint, and the old file torn before it) is
/// left out, never invented, and check says the next `openant dynamic-test` tests it, as a
/// warning, not a `dynamic-mismatch` error.
#[test]
fn a_dynamic_test_result_that_survives_nowhere_is_a_warning() {
    // An upstream scan from before per-unit checkpoints: its dynamic results live only in the file.
    const SCAN: &str = "healthy/projects/legacy-tool/scans/0d1e2f3a4b5/python";
    let env = TestEnv::scan(SCAN);
    let scan = &env.scan;
    let target = scan.join("dynamic_test_results.json");
    let bytes = std::fs::read(&target).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let cut = text.find("\"finding_id\": \"VULN-002\"").unwrap();
    std::fs::write(&target, &bytes[..cut]).unwrap();
    env.age();
    let before = check(scan);
    let (status, doc) = repair(scan);
    assert_eq!(status & 8, 0, "{doc:#}");
    let rebuilt = read_json(&target);
    let ids: Vec<&str> =
        rebuilt["results"].as_array().unwrap().iter().map(|r| r["finding_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["VULN-001"], "{doc:#}");
    let after = check(scan);
    let on_it: Vec<&Value> = findings(&after)
        .iter()
        .filter(|f| f["path"].as_str().unwrap().ends_with("/dynamic_test_results.json"))
        .collect();
    assert_eq!(on_it.len(), 1, "{after:#}");
    assert_eq!((&on_it[0]["kind"], &on_it[0]["level"]), (&Value::from("run-incomplete"), &Value::from("warn")));
    assert_eq!(on_it[0]["fix"], "openant dynamic-test");
    assert!(on_it[0]["message"].as_str().unwrap().contains("VULN-002"), "{:#}", on_it[0]);
    settled(scan, &before, &doc);
}

/// Runs `repair --yes` on `scan` as a user who cannot read what mode 000 makes unreadable:
/// root reads every file, so as root the run drops to `nobody` (the tree made theirs to
/// read and write).
fn repair_unprivileged(root: &Path, scan: &Path) -> std::process::Output {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("scanaudit"));
    cmd.args(["repair", "--yes", "--format", "json", scan.to_str().unwrap()]).env_remove("OPENANT_HOME");
    if unsafe { libc::geteuid() } == 0 {
        for entry in walkdir::WalkDir::new(root) {
            let entry = entry.unwrap();
            let mode = entry.metadata().unwrap().permissions().mode() & 0o7777;
            if mode != 0 && !entry.file_type().is_symlink() {
                let open = if entry.file_type().is_dir() { 0o777 } else { 0o666 };
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(open)).unwrap();
            }
        }
        cmd.uid(65534).gid(65534);
    }
    cmd.output().unwrap()
}

/// Break 11. An output (or an input a rebuild needs) that cannot be read makes the run
/// incomplete: exit bit 8, and the plan says which file and why.
#[test]
fn an_unreadable_damaged_output_sets_exit_bit_8() {
    use std::os::unix::fs::PermissionsExt;
    // (unreadable, torn): an unreadable torn output; a torn output whose input is unreadable.
    for (unreadable, torn) in
        [("pipeline_output.json", "pipeline_output.json"), ("dataset.json", "dataset_enhanced.json")]
    {
        let env = TestEnv::scan(ACME);
        let scan = &env.scan;
        env.damage(torn, Damage::Cut(0.5));
        std::fs::set_permissions(scan.join(unreadable), std::fs::Permissions::from_mode(0o000)).unwrap();
        let output = repair_unprivileged(env.tree.root(), scan);
        let doc: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
        });
        let status = common::code(&output);
        assert_eq!(status & 8, 8, "{unreadable}: exit {status}: {doc:#}");
        assert_eq!(status & 4, 4, "{unreadable}: something is left undone: {doc:#}");
        let said = unfixable(&doc).into_iter().any(|u| {
            u["path"].as_str().unwrap().ends_with(&format!("/{torn}"))
                && u["reason"].as_str().unwrap().contains("cannot be read")
                || u["path"].as_str().unwrap().ends_with(&format!("/{unreadable}"))
                    && u["reason"].as_str().unwrap().starts_with("cannot read")
        });
        assert!(said, "{unreadable}: the plan does not say what cannot be read: {doc:#}");
        // Nothing was written over what could not be read.
        assert_eq!(std::fs::metadata(scan.join(unreadable)).unwrap().permissions().mode() & 0o777, 0);
    }
}

/// The invariant of break 7, on every damaged fixture: after `repair`, `check` reports no
/// error that repair could have avoided, and a second repair plans nothing.
#[test]
fn after_repair_no_damaged_fixture_has_an_error_repair_could_have_avoided() {
    let tree = Tree::copy("damaged", OLD);
    let projects = tree.path("damaged/projects");
    let mut dirs: Vec<_> = std::fs::read_dir(&projects).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    assert!(dirs.len() >= 25, "only {} damaged fixtures", dirs.len());
    for project in dirs {
        let before = check(&project);
        let (status, doc) = repair(&project);
        assert_eq!(status & 8, 0, "{}: {doc:#}", project.display());
        settled(&project, &before, &doc);
    }
}

/// An upstream scan from before per-unit checkpoints: its analyze and verify results live only
/// in their files.
const LEGACY_TOOL: &str = "healthy/projects/legacy-tool/scans/0d1e2f3a4b5/python";

/// A file left for OpenAnt: check's fix names `openant <verb>`, repair plans nothing for it and
/// says why with the same fix, leaves it (and `pipeline_output.json`) byte for byte as it was,
/// and adds no error check did not report before.
fn left_for_openant(damages: &[(&str, Damage)], name: &str, verb: &str, why: &str) {
    let env = TestEnv::scan(LEGACY_TOOL);
    let scan = &env.scan;
    for (file, how) in damages {
        env.damage(file, *how);
    }
    env.age();
    let what = format!("{damages:?}");
    let snapshot = |file: &str| std::fs::read(scan.join(file)).ok();
    let (target, pipeline) = (snapshot(name), snapshot("pipeline_output.json"));
    let before = check(scan);
    let on_it: Vec<&Value> =
        findings(&before).iter().filter(|f| f["path"].as_str().unwrap().ends_with(&format!("/{name}"))).collect();
    assert!(!on_it.is_empty(), "{what}: check reports nothing on {name}: {before:#}");
    for finding in &on_it {
        assert_eq!(finding["fix"], format!("openant {verb}"), "{what}: {finding:#}");
    }
    let (status, doc) = repair(scan);
    assert_eq!(status & 8, 0, "{what}: {doc:#}");
    let planned: Vec<&Value> =
        actions(&doc).into_iter().filter(|a| a["target"].as_str().unwrap().ends_with(&format!("/{name}"))).collect();
    assert!(planned.is_empty(), "{what}: repair rebuilt {name} from nothing: {doc:#}");
    let said = unfixable(&doc).into_iter().any(|u| {
        u["path"].as_str().unwrap().ends_with(&format!("/{name}"))
            && u["reason"].as_str().unwrap().contains(why)
            && u["fix"] == format!("openant {verb}")
    });
    assert!(said, "{what}: the plan does not say why {name} is left: {doc:#}");
    assert_eq!(snapshot(name), target, "{what}: {name} changed");
    assert_eq!(snapshot("pipeline_output.json"), pipeline, "{what}: pipeline_output.json changed");
    settled(scan, &before, &doc);
}

/// Follow-up of break 7. Verify ran before per-unit checkpoints existed: when
/// `results_verified.json` is missing or torn before its first row, nothing holds verify's
/// results, and a rebuild would invent every finding as unverified. Repair leaves it for
/// `openant verify`, and check's fix says so.
#[test]
fn a_verify_output_nothing_holds_is_left_for_openant_verify() {
    for how in [Damage::Missing, Damage::Cut(0.001)] {
        left_for_openant(
            &[("results_verified.json", how)],
            "results_verified.json",
            "verify",
            "nothing holds verify's results",
        );
    }
}

/// The same for `results.json` when nothing holds stage-1 rows: no analyze checkpoint, no
/// readable row of its own, and no `results_verified.json` to carry them from.
#[test]
fn an_analyze_output_nothing_holds_is_left_for_openant_analyze() {
    for how in [Damage::Missing, Damage::Cut(0.001)] {
        left_for_openant(
            &[("results.json", how), ("results_verified.json", Damage::Missing)],
            "results.json",
            "analyze",
            "nothing holds stage-1 rows",
        );
    }
}

/// And no cascade: an output built from one that is left for OpenAnt is not rebuilt from
/// another input instead (`pipeline_output.json` from `results.json` when verify ran).
#[test]
fn an_output_built_from_one_left_for_openant_is_left_too() {
    left_for_openant(
        &[("results_verified.json", Damage::Missing), ("pipeline_output.json", Damage::Cut(0.05))],
        "pipeline_output.json",
        "verify",
        "its input results_verified.json is left as it is",
    );
}
