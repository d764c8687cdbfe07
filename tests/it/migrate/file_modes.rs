//! `file-modes`: git keeps no modes, so the fixture is made here: the healthy fork scan with
//! the outputs the fork's atomic writer leaves at 0600.

use std::os::unix::fs::PermissionsExt;

use super::common::{check_json, code, kinds, Tree};
use super::{files_of, migrate, migrate_json, planned, OLD};

const FORK: &str = "healthy/projects/forkproj/scans/5c3855e0a1b/python";
const PRIVATE: [&str; 3] = ["results.json", "results_verified.json", "pipeline_output.json"];

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn fork_with_private_outputs() -> Tree {
    let tree = Tree::copy(FORK, OLD);
    for name in PRIVATE {
        std::fs::set_permissions(tree.path(FORK).join(name), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    tree
}

#[test]
fn private_outputs_get_the_umask_mode_and_nothing_else_changes() {
    let tree = fork_with_private_outputs();
    let scan = tree.path(FORK);
    let before = files_of(&scan);
    let (_, doc) = check_json(&[scan.to_str().unwrap()]);
    assert_eq!(kinds(&doc, &scan).iter().filter(|(_, k)| k == "restrictive-mode").count(), 3);

    let (status, doc) = migrate_json(&[scan.to_str().unwrap(), "--dry-run"]);
    assert_eq!(status, 4, "a dry run with work left exits 4");
    assert_eq!(planned(&doc, &scan), vec![(".".to_string(), "file-modes".to_string()); 3]);
    assert!(PRIVATE.iter().all(|n| mode(&scan.join(n)) == 0o600), "a dry run changed a mode");

    let output = migrate(&[scan.to_str().unwrap(), "--yes"]);
    assert_eq!(code(&output), 1, "{}", String::from_utf8_lossy(&output.stdout));
    let want = 0o666 & !scanaudit::fsx::current_umask();
    for name in PRIVATE {
        assert_eq!(mode(&scan.join(name)), want, "{name}");
    }
    assert_eq!(files_of(&scan), before, "a mode change rewrote bytes");
    let (_, doc) = check_json(&[scan.to_str().unwrap()]);
    assert!(kinds(&doc, &scan).iter().all(|(_, k)| k != "restrictive-mode"), "{doc:#}");

    let again = migrate(&[scan.to_str().unwrap(), "--yes"]);
    assert_eq!(code(&again), 0, "the second run must have nothing to do");
}

#[test]
fn without_a_terminal_or_yes_nothing_changes() {
    let tree = fork_with_private_outputs();
    let scan = tree.path(FORK);
    let output = migrate(&[scan.to_str().unwrap()]);
    assert_eq!(code(&output), 4);
    assert!(String::from_utf8_lossy(&output.stderr).contains("--yes"));
    assert!(PRIVATE.iter().all(|n| mode(&scan.join(n)) == 0o600));
}

#[test]
fn a_scan_dir_changed_recently_is_left_alone() {
    let tree = fork_with_private_outputs();
    let scan = tree.path(FORK);
    std::fs::write(scan.join("scan.report.json"), std::fs::read(scan.join("scan.report.json")).unwrap()).unwrap();
    let (status, doc) = migrate_json(&[scan.to_str().unwrap(), "--yes"]);
    assert_eq!(status, 4, "{doc:#}");
    assert_eq!(doc["scan_dirs"][0]["status"], "in-use");
    assert!(PRIVATE.iter().all(|n| mode(&scan.join(n)) == 0o600));
}
