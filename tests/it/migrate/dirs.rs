//! fork-enhance-dir and language-level through the library, on copies of `testdata/legacy`:
//! the migrated tree is `testdata/migrated` (the generator's reference implementations) byte for
//! byte, a second plan is empty, and a run killed after any step, planned and applied again,
//! ends in the same tree, having planned only what was left.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use scanaudit::migrate::{self, plan::plan_dir, ActionOutcome, MigrationAction, Plan, Step};
use scanaudit::progress::Progress;
use scanaudit::walk::Filters;
use serde_json::Value;

use crate::common::{self, testdata, Tree};

use super::OLD;
const FORKPROJ: &str = "projects/forkproj/scans/5c3855e0a1b/python";
const FORKMERGE: &str = "projects/forkmerge/scans/7606ea3c1d2/python";
const OLDTOOL: &str = "projects/oldtool/scans/0d729f6a1b2";
const GOTOOL: &str = "projects/gotool/scans/1e4d7c0b9a8";

/// A copy of the legacy tree, every file old, with the mtimes the generator recorded.
fn legacy() -> (Tree, PathBuf) {
    let tree = Tree::copy("legacy", OLD);
    let root = tree.path("legacy");
    let recorded: BTreeMap<String, i64> =
        serde_json::from_slice(&std::fs::read(testdata("expected/legacy-mtimes.json")).unwrap()).unwrap();
    assert!(!recorded.is_empty());
    for (rel, secs) in recorded {
        filetime::set_file_mtime(root.join(rel), filetime::FileTime::from_unix_time(secs, 0)).unwrap();
    }
    (tree, root)
}

fn plan_all(root: &Path) -> Plan {
    migrate::plan(&[root.to_path_buf()], &Filters::default(), Duration::ZERO, &Progress::hidden())
}

fn apply_all(plan: &Plan) -> migrate::Applied {
    let applied = migrate::apply(plan, &AtomicBool::new(false));
    for dir in &applied.dirs {
        for result in &dir.results {
            assert!(
                matches!(result.outcome, ActionOutcome::Done),
                "{}: {:?} {:?}",
                dir.scan_dir.display(),
                result.outcome,
                result.details
            );
        }
    }
    applied
}

/// Every entry below `root` but scanaudit's own state: files with their bytes, dirs as `None`.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".scanaudit")
        .map(|e| {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
            (rel, e.file_type().is_file().then(|| std::fs::read(e.path()).unwrap()))
        })
        .collect()
}

fn assert_same_tree(got: &Path, want: &Path) {
    let (got, want) = (snapshot(got), snapshot(want));
    let only = |a: &BTreeMap<PathBuf, _>, b: &BTreeMap<PathBuf, _>| -> Vec<PathBuf> {
        a.keys().filter(|k| !b.contains_key(*k)).cloned().collect()
    };
    let differ: Vec<&PathBuf> =
        got.iter().filter(|(k, v)| want.get(*k).is_some_and(|w| w != *v)).map(|(k, _)| k).collect();
    assert!(
        got == want,
        "only migrated: {:?}\nonly expected: {:?}\ndifferent: {differ:?}",
        only(&got, &want),
        only(&want, &got)
    );
}

fn action<'p>(plan: &'p Plan, scan_dir: &Path, migration: &str) -> Option<&'p MigrationAction> {
    plan.scan_dirs.iter().filter(|d| d.scan_dir == scan_dir).flat_map(|d| &d.actions).find(|a| a.migration == migration)
}

/// The steps as text, the copy's root replaced (each kill runs in a fresh copy).
fn debug(root: &Path, steps: &[Step]) -> Vec<String> {
    steps.iter().map(|s| format!("{s:?}").replace(&*root.to_string_lossy(), "ROOT")).collect()
}

#[test]
fn the_legacy_tree_migrates_to_the_expected_tree_and_then_has_nothing_to_do() {
    crate::common::alone!(the_legacy_tree_migrates_to_the_expected_tree_and_then_has_nothing_to_do);
    let (tree, root) = legacy();
    let plan = plan_all(&root);
    let fork = action(&plan, &root.join(FORKPROJ), migrate::enhance_dir::ID).expect("forkproj is renamed");
    assert_eq!(fork.steps.len(), 1, "{fork:?}");
    let merge = action(&plan, &root.join(FORKMERGE), migrate::enhance_dir::ID).expect("forkmerge is merged");
    let notes = merge.notes.join("\n");
    assert!(notes.contains("unit svc/core/money.py:round_cents: kept the newer enhance_checkpoints/svc__core__money.py_round_cents.json (2026-04-28T17:31:00Z)"), "{notes}");
    assert!(notes.contains("unit svc/api/handlers.py:delete_invoice: kept the newer dataset_enhanced_checkpoint_checkpoints/svc__api__handlers.py_delete_invoice.json (2026-04-29T08:01:40Z)"), "{notes}");
    assert!(
        notes.contains("_summary.json: kept the newer dataset_enhanced_checkpoint_checkpoints/_summary.json"),
        "{notes}"
    );
    for (scan, language) in [(OLDTOOL, "python"), (GOTOOL, "go")] {
        let moved = action(&plan, &root.join(scan), migrate::language_level::ID).expect("moved");
        assert!(moved.reason.contains(&format!("into {language}/")), "{}", moved.reason);
    }
    let legacy_before: BTreeMap<PathBuf, Option<Vec<u8>>> = snapshot(&root);
    let applied = apply_all(&plan);
    assert_same_tree(&root, &testdata("migrated"));

    // The merge's losers are in the backup, never deleted.
    let forkmerge = applied.dirs.iter().find(|d| d.scan_dir == root.join(FORKMERGE)).unwrap();
    let backup = forkmerge.backup_dir.as_ref().expect("a backup");
    for rel in [
        "dataset_enhanced_checkpoint_checkpoints/svc__core__money.py_round_cents.json",
        "enhance_checkpoints/svc__api__handlers.py_delete_invoice.json",
        "enhance_checkpoints/_summary.json",
    ] {
        let old = legacy_before[&Path::new(FORKMERGE).join(rel)].as_ref().unwrap();
        assert!(std::fs::read(backup.join(rel)).unwrap() == *old, "{rel}");
    }
    let manifest: Value = serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["entries"].as_array().unwrap().len(), 3, "{manifest:#}");

    let again = plan_all(&root);
    assert_eq!(again.action_count(), 0, "{:#?}", again.scan_dirs);
    assert!(again.scan_dirs.iter().all(|d| d.unfixable.is_empty()), "{:#?}", again.scan_dirs);
    // Neither old dir layout is left for check to report.
    let (_, doc) = common::check_json(&[root.to_str().unwrap()]);
    let old_dirs: Vec<&Value> = common::findings(&doc)
        .iter()
        .filter(|f| f["kind"] == "legacy-layout" && f["file_kind"] == "directory")
        .collect();
    assert!(old_dirs.is_empty(), "{old_dirs:#?}");
    drop(tree);
}

/// The plan for `scan` with only its first `k` steps (over all its actions, in order): what a
/// run killed after step `k` carried out.
fn prefix(plan: &Plan, scan: &Path, k: usize) -> Plan {
    let mut dir = plan.scan_dirs.iter().find(|d| d.scan_dir == scan).unwrap().clone();
    let mut left = k;
    dir.actions.retain_mut(|a| {
        let keep = left > 0;
        a.steps.truncate(left);
        left -= a.steps.len();
        keep
    });
    Plan { scan_dirs: vec![dir], walk_errors: Vec::new() }
}

/// Kills the migration of `scan` (in `project`) after every step in turn: the next plan has
/// the rest of the killed `migration` action and nothing for the language dir a half-done move
/// left (`language_dir`), and applying it gives the expected tree.
fn killed_after_every_step(project: &str, scan: &str, migration: &str, language_dir: Option<&str>) {
    let (tree, root) = legacy();
    let plan = plan_all(&root.join(project));
    let dir = root.join(scan);
    let actions: Vec<&MigrationAction> =
        plan.scan_dirs.iter().filter(|d| d.scan_dir == dir).flat_map(|d| &d.actions).collect();
    let total: usize = actions.iter().map(|a| a.steps.len()).sum();
    let position = actions.iter().position(|a| a.migration == migration).expect("the migration has work");
    let start: usize = actions[..position].iter().map(|a| a.steps.len()).sum();
    let ours = debug(&root, &actions[position].steps);
    drop(tree);
    for k in 0..=total {
        let (tree, root) = legacy();
        let dir = root.join(scan);
        let plan = plan_all(&root.join(project));
        migrate::apply(&prefix(&plan, &dir, k), &AtomicBool::new(false));
        let replan = plan_all(&root.join(project));
        if (start..=start + ours.len()).contains(&k) {
            let done = k - start;
            let rest = action(&replan, &dir, migration).map(|a| debug(&root, &a.steps)).unwrap_or_default();
            let mut want: Vec<String> = ours[done..].to_vec();
            if language_dir.is_some() && done > 0 && done < ours.len() {
                // The language dir is created again (an existing dir is fine).
                want.insert(0, ours[0].clone());
            }
            assert_eq!(rest, want, "killed after step {k}");
            if let Some(language) = language_dir.filter(|_| done > 0) {
                let inner = replan.scan_dirs.iter().find(|d| d.scan_dir == dir.join(language));
                assert!(inner.is_some_and(|d| d.actions.is_empty()), "killed after step {k}: {inner:#?}");
            }
        }
        apply_all(&replan);
        assert_same_tree(&root.join(project), &testdata("migrated").join(project));
        drop(tree);
    }
}

#[test]
fn a_merge_killed_after_any_step_plans_the_rest_and_ends_the_same() {
    crate::common::alone!(a_merge_killed_after_any_step_plans_the_rest_and_ends_the_same);
    killed_after_every_step("projects/forkmerge", FORKMERGE, migrate::enhance_dir::ID, None);
}

#[test]
fn a_language_move_killed_after_any_step_plans_the_rest_and_ends_the_same() {
    crate::common::alone!(a_language_move_killed_after_any_step_plans_the_rest_and_ends_the_same);
    killed_after_every_step("projects/oldtool", OLDTOOL, migrate::language_level::ID, Some("python"));
    killed_after_every_step("projects/gotool", GOTOOL, migrate::language_level::ID, Some("go"));
}

/// Something that appears in the language dir between plan and apply is never replaced: that
/// rename does nothing and says so, and the next plan names both files.
#[test]
fn an_entry_that_appears_in_the_language_dir_is_never_replaced() {
    crate::common::alone!(an_entry_that_appears_in_the_language_dir_is_never_replaced);
    let (_tree, root) = legacy();
    let dir = root.join(OLDTOOL);
    let plan = plan_all(&dir);
    std::fs::create_dir(dir.join("python")).unwrap();
    std::fs::write(dir.join("python/results.json"), b"mine").unwrap();
    let applied = migrate::apply(&plan, &AtomicBool::new(false));
    let details: Vec<&String> = applied.results().flat_map(|r| &r.details).collect();
    assert!(details.iter().any(|d| d.contains("python/results.json already exists")), "{details:?}");
    assert_eq!(std::fs::read(dir.join("python/results.json")).unwrap(), b"mine");
    assert!(dir.join("results.json").is_file());
    let again = plan_dir(&dir, Duration::ZERO, SystemTime::now());
    assert!(again.actions.iter().all(|a| a.migration != migrate::language_level::ID), "{:#?}", again.actions);
    assert!(again.unfixable.iter().any(|u| u.reason.contains("both exist")), "{:#?}", again.unfixable);
}
