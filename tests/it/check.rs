//! `scanaudit check` end to end: the real binary on the bundled testdata trees.

use crate::common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use common::{check_json, code, filters, findings, kinds, scanaudit, testdata, Tree, OLD};
use predicates::prelude::*;
use serde_json::Value;

const FRESH: Duration = Duration::from_secs(5);

#[test]
fn healthy_trees_of_every_era_give_no_finding() {
    let tree = Tree::copy("healthy", OLD);
    let (code, doc) = check_json(&[tree.path("healthy").to_str().unwrap()]);
    assert_eq!(findings(&doc), &Vec::<Value>::new(), "{doc:#}");
    assert_eq!(code, 0);
    assert!(doc["summary"]["scan_dirs"].as_u64().unwrap() >= 7);
    assert!(doc["summary"]["files"].as_u64().unwrap() > 300);
}

#[test]
fn healthy_table_says_so() {
    scanaudit().args(["check", testdata("healthy").to_str().unwrap()]).assert().code(0).stdout(
        predicate::str::is_match(r"^checked \d+ scan dirs, [\d,]+ files \(.+\) in \d+\.\d s: no problems found\n$")
            .unwrap(),
    );
}

/// Every damage the generator made is found, with its file kind and byte offset, and
/// nothing else is reported.
#[test]
fn damaged_tree_gives_exactly_the_expected_findings() {
    let tree = Tree::copy("damaged", OLD);
    let base = tree.path("damaged");
    let (code, doc) = check_json(&[base.to_str().unwrap()]);
    assert_eq!(code, 4);

    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(testdata("expected/damaged.json")).unwrap()).unwrap();
    let expected = expected["findings"].as_array().unwrap();
    let want: BTreeSet<(String, String)> =
        expected.iter().map(|f| (f["path"].as_str().unwrap().into(), f["kind"].as_str().unwrap().into())).collect();
    let got: BTreeSet<(String, String)> = kinds(&doc, &base).into_iter().collect();
    assert_eq!(got, want);

    for exp in expected {
        let path = base.join(exp["path"].as_str().unwrap());
        let finding =
            findings(&doc).iter().find(|f| f["path"] == path.to_str().unwrap() && f["kind"] == exp["kind"]).unwrap();
        assert_eq!(finding["file_kind"], exp["file_kind"], "{finding:#}");
        if let Some(offset) = exp["offset"].as_u64() {
            assert_eq!(finding["location"]["offset"].as_u64(), Some(offset), "{finding:#}");
        }
        if exp.get("level").is_some() {
            // Cross-file findings: the generator says which level and fix each must carry.
            assert_eq!(finding["level"], exp["level"], "{finding:#}");
            let fix = exp["fix"]
                .as_str()
                .map(|fix| fix.replace("{scan_dir}", base.join(exp["scan_dir"].as_str().unwrap()).to_str().unwrap()));
            assert_eq!(finding["fix"].as_str(), fix.as_deref(), "{finding:#}");
            continue;
        }
        // Only files scanaudit knows nothing about (generic JSON, links) lack a fix command.
        let no_fix_expected = ["generic-json", "symlink"].contains(&finding["file_kind"].as_str().unwrap());
        assert_eq!(finding["fix"].is_string(), !no_fix_expected, "{finding:#}");
    }
}

#[test]
fn abandoned_temps_warn_and_fresh_ones_are_informational() {
    for (age, level) in [(OLD, "warn"), (FRESH, "info")] {
        let tree = Tree::copy("damaged", age);
        let (_, doc) = check_json(&[tree.path("damaged/projects/damaged-temps").to_str().unwrap()]);
        let temps: Vec<&Value> = findings(&doc).iter().filter(|f| f["kind"] == "stray-temp").collect();
        assert!(temps.len() >= 6, "{doc:#}");
        assert!(temps.iter().all(|f| f["level"] == level), "{doc:#}");
    }
}

#[test]
fn a_complete_temp_beside_a_missing_target_points_to_repair() {
    let tree = Tree::copy("damaged", OLD);
    let (_, doc) = check_json(&[tree.path("damaged").to_str().unwrap()]);
    let salvageable = findings(&doc)
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(".tmp-results.json-k3j_a9xq.json"))
        .expect("the complete OpenAnt temp is reported");
    let message = salvageable["message"].as_str().unwrap();
    assert!(message.contains("complete, valid document"), "{message}");
    assert!(message.contains("results.json is missing"), "{message}");
    assert!(salvageable["fix"].as_str().unwrap().starts_with("scanaudit repair "));

    let torn = findings(&doc)
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(".tmp-dataset_enhanced.json-ab12cd34.json"))
        .unwrap();
    assert!(torn["message"].as_str().unwrap().contains("incomplete"));
    assert!(torn["fix"].as_str().unwrap().starts_with("scanaudit clean "));
}

#[test]
fn the_symlink_is_reported_and_its_torn_target_is_never_read() {
    let tree = Tree::copy("damaged", OLD);
    // The link points at testdata/outside-target.json, which is torn; copy it beside the tree.
    std::fs::copy(testdata("outside-target.json"), tree.path("outside-target.json")).unwrap();
    let (_, doc) = check_json(&[tree.path("damaged/projects/damaged-symlink").to_str().unwrap()]);
    let got = kinds(&doc, tree.root());
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1, "symlink");
}

#[test]
fn special_files_are_reported_and_never_opened() {
    let dir = assert_fs::TempDir::new().unwrap();
    let fifo = dir.path().join("results.json");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    // Opening a FIFO with no writer would block: the timeout turns that into a failure.
    let output = scanaudit()
        .args(["check", "--format", "json", dir.path().to_str().unwrap()])
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(kinds(&doc, dir.path()), [("results.json".to_string(), "special-file".to_string())]);
    assert_eq!(code(&output), 0, "a special file is a warning");
}

/// Unreadable paths are reported, set exit bit 8, and do not stop the walk. Root reads
/// everything, so as root the binary runs as `nobody` through setpriv.
#[test]
fn unreadable_paths_are_reported_and_the_walk_goes_on() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new().prefix("scanaudit-unreadable").tempdir_in("/tmp").unwrap();
    let root = dir.path().join("scan");
    std::fs::create_dir_all(root.join("locked")).unwrap();
    std::fs::write(root.join("locked/results.json"), "{}").unwrap();
    std::fs::write(root.join("secret.json"), "{}").unwrap();
    std::fs::write(root.join("dataset.json"), "{\"units\": [").unwrap();
    std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(root.join("secret.json"), std::fs::Permissions::from_mode(0o000)).unwrap();
    for p in [dir.path(), root.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(root.join("dataset.json"), std::fs::Permissions::from_mode(0o644)).unwrap();

    let is_root = unsafe { libc_geteuid() } == 0;
    let output = if is_root {
        let bin = assert_cmd::cargo::cargo_bin("scanaudit");
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin)
            .args(["check", "--format", "json", root.to_str().unwrap()])
            .output()
            .unwrap()
    } else {
        scanaudit().args(["check", "--format", "json", root.to_str().unwrap()]).output().unwrap()
    };
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "stdout: {} stderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let got: BTreeSet<(String, String)> = kinds(&doc, &root).into_iter().collect();
    let want: BTreeSet<(String, String)> = [
        ("locked".to_string(), "unreadable".to_string()),
        ("secret.json".to_string(), "unreadable".to_string()),
        ("dataset.json".to_string(), "truncated".to_string()),
    ]
    .into();
    assert_eq!(got, want, "{doc:#}");
    assert_eq!(code(&output), 4 | 8);
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[test]
fn allow_deny_and_strict_regrade_findings() {
    let tree = Tree::copy("damaged", OLD);
    let temps = tree.path("damaged/projects/damaged-symlink");
    let temps = temps.to_str().unwrap();
    // Only a symlink (warn): exit 0, --strict makes it an error, --deny too, --allow hides it.
    assert_eq!(check_json(&[temps]).0, 0);
    assert_eq!(check_json(&[temps, "--strict"]).0, 4);
    assert_eq!(check_json(&[temps, "--deny", "symlink"]).0, 4);
    let (code, doc) = check_json(&[temps, "--allow", "symlink"]);
    assert_eq!((code, findings(&doc).len()), (0, 0));
}

#[test]
fn include_and_exclude_narrow_the_walk() {
    let tree = Tree::copy("damaged", OLD);
    let base = tree.path("damaged");
    let (_, doc) = check_json(&[base.to_str().unwrap(), "--include", "**/notes/*.json"]);
    assert_eq!(kinds(&doc, &base), [("projects/notes/broken.json".to_string(), "truncated".to_string())]);
    let mut args =
        vec![base.to_str().unwrap(), "--exclude", "notes", "--exclude", "damaged-*", "--exclude", "current-*"];
    // Whole projects left out leave the other scan dirs whole: their cross-file rules still run.
    let (_, doc) = check_json(&args);
    let found = kinds(&doc, &base);
    assert!(!found.is_empty() && found.iter().all(|(path, _)| path.starts_with("projects/consistency-")), "{found:?}");
    args.extend(["--exclude", "consistency-*"]);
    let (_, doc) = check_json(&args);
    assert_eq!(findings(&doc).len(), 0, "{doc:#}");
}

#[test]
fn a_single_file_is_checked_in_its_scan_dir_context() {
    let tree = Tree::copy("damaged", OLD);
    let base = tree.path("damaged");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(testdata("expected/damaged.json")).unwrap()).unwrap();
    let schema_case = expected["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "schema" && f["file_kind"] == "results")
        .expect("a results.json schema case");
    let file = base.join(schema_case["path"].as_str().unwrap());
    let (code, doc) = check_json(&[file.to_str().unwrap()]);
    assert_eq!(code, 4);
    assert_eq!(findings(&doc)[0]["file_kind"], "results");
    assert!(findings(&doc)[0]["scan_dir"].as_str().unwrap().ends_with(file.parent().unwrap().to_str().unwrap()));
}

#[test]
fn default_root_comes_from_openant_home() {
    let tree = Tree::copy("healthy", OLD);
    scanaudit()
        .env("OPENANT_HOME", tree.path("healthy"))
        .args(["check"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("no problems found"));
    // A default root that does not exist is an operational error, not a finding.
    scanaudit()
        .env("OPENANT_HOME", tree.path("nowhere"))
        .args(["check", "--format", "json"])
        .assert()
        .code(8)
        .stdout("")
        .stderr(format!("scanaudit: error: {}: no such file or directory\n", tree.path("nowhere/projects").display()));
}

#[test]
fn usage_errors_exit_16_and_help_exits_0() {
    scanaudit()
        .args(["check", "--allow", "no-such-kind"])
        .assert()
        .code(16)
        .stderr(predicate::str::contains("no-such-kind"));
    scanaudit().args(["check", "--include", "a["]).assert().code(16).stderr(predicate::str::contains("invalid glob"));
    scanaudit().args(["frobnicate"]).assert().code(16);
    scanaudit().args(["check", "--help"]).assert().code(0).stdout(predicate::str::contains("Exit status"));
    scanaudit().args(["--version"]).assert().code(0);
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    scanaudit().args(["completions", "bash"]).assert().code(0).stdout(predicate::str::contains("--include"));
    scanaudit().args(["completions", "zsh"]).assert().code(0).stdout(predicate::str::contains("check"));
    scanaudit().args(["man"]).assert().code(0).stdout(predicate::str::contains(".TH scanaudit"));
}

#[test]
fn colour_only_when_asked_and_never_under_no_color() {
    let damaged = testdata("damaged/projects/notes");
    let run = |args: &[&str], no_color: bool| {
        let mut cmd = scanaudit();
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        cmd.arg("check").args(args).arg(&damaged).output().unwrap().stdout
    };
    let has_escape = |out: Vec<u8>| out.contains(&0x1b);
    assert!(!has_escape(run(&[], false)), "piped output is plain");
    assert!(has_escape(run(&["--color", "always"], false)));
    assert!(!has_escape(run(&["--color", "never"], false)));
    assert!(!has_escape(run(&[], true)));
}

#[test]
fn quiet_is_silent_when_all_is_well() {
    scanaudit().args(["check", "--quiet", testdata("healthy").to_str().unwrap()]).assert().code(0).stdout("");
    scanaudit()
        .args(["check", "--quiet", testdata("damaged/projects/notes").to_str().unwrap()])
        .assert()
        .code(4)
        .stdout(predicate::str::contains("truncated"));
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("scanaudit"))
        .args(["check", testdata("damaged").to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(4), "{stderr}");
}

#[test]
fn json_snapshot() {
    let tree = Tree::copy("damaged", OLD);
    let output = scanaudit()
        .current_dir(tree.root())
        .args(["check", "--format", "json", "damaged/projects/damaged-temps"])
        .output()
        .unwrap();
    let mut settings = insta::Settings::clone_current();
    for (from, to) in filters(tree.root()) {
        settings.add_filter(&from, to);
    }
    settings.bind(|| insta::assert_snapshot!("temps_json", String::from_utf8_lossy(&output.stdout)));
}
