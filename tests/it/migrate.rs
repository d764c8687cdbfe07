//! `scanaudit migrate` end to end. This file holds the shared harness and the verb's own
//! behaviour (list, plan, confirm, modes, in-use); each migration's fixtures are tested in
//! its own module.

use crate::common;

mod cp1252;
mod dirs;
mod fields;
mod file_modes;
mod killed;
mod single_file;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{scanaudit, testdata, Tree};
use serde_json::Value;

pub use common::OLD;

/// A private copy of `testdata/legacy`, every file 3 days old, then the mtimes the generator
/// recorded in `expected/legacy-mtimes.json` (what "newer wins" and `_summary.json`
/// timestamps are decided from), since git keeps no mtimes.
pub fn legacy_copy() -> Tree {
    let tree = Tree::copy("legacy", OLD);
    let listed = testdata("expected/legacy-mtimes.json");
    if let Ok(bytes) = std::fs::read(&listed) {
        let mtimes: BTreeMap<String, i64> = serde_json::from_slice(&bytes).expect("legacy-mtimes.json");
        for (rel, secs) in mtimes {
            let path = tree.path("legacy").join(rel);
            filetime::set_file_mtime(&path, filetime::FileTime::from_unix_time(secs, 0))
                .unwrap_or_else(|e| panic!("setting the mtime of {}: {e}", path.display()));
        }
    }
    tree
}

/// Runs `scanaudit migrate ARGS...`.
pub fn migrate(args: &[&str]) -> Output {
    scanaudit().arg("migrate").args(args).output().expect("run scanaudit")
}

pub fn migrate_json(args: &[&str]) -> (i32, Value) {
    let output = scanaudit().arg("migrate").args(args).args(["--format", "json"]).output().expect("run scanaudit");
    let doc = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (common::code(&output), doc)
}

/// Every file below `root` (relative path → bytes), scanaudit's own `.scanaudit/` excluded.
pub fn files_of(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut walk = walkdir::WalkDir::new(root).sort_by_file_name().into_iter();
    while let Some(entry) = walk.next() {
        let entry = entry.expect("walk");
        if entry.file_type().is_dir() && entry.file_name() == ".scanaudit" {
            walk.skip_current_dir();
            continue;
        }
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(root).expect("below root").to_path_buf();
            files.insert(rel, std::fs::read(entry.path()).expect("read"));
        }
    }
    files
}

/// `actual` holds exactly the files of `expected`, byte for byte (`.scanaudit/` aside).
pub fn assert_same_tree(actual: &Path, expected: &Path) {
    let (got, want) = (files_of(actual), files_of(expected));
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    let differ: Vec<_> = want.iter().filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v)).map(|(k, _)| k).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && differ.is_empty(),
        "{} differs from {}:\nmissing: {missing:#?}\nextra: {extra:#?}\ndifferent bytes: {differ:#?}",
        actual.display(),
        expected.display()
    );
}

/// (scan dir relative to `base`, migration id) of every planned action in a JSON document.
pub fn planned(doc: &Value, base: &Path) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for dir in doc["scan_dirs"].as_array().expect("scan_dirs") {
        let scan_dir = Path::new(dir["scan_dir"].as_str().expect("scan_dir"));
        let rel = match scan_dir.strip_prefix(base) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => scan_dir.to_string_lossy().into_owned(),
        };
        for action in dir["actions"].as_array().expect("actions") {
            rows.push((rel.clone(), action["migration"].as_str().expect("migration").to_string()));
        }
    }
    rows
}

#[test]
fn list_names_every_migration_in_order() {
    let output = migrate(&["--list"]);
    assert_eq!(common::code(&output), 0);
    let text = String::from_utf8(output.stdout).unwrap();
    let ids = [
        "fork-enhance-dir",
        "single-file-checkpoints",
        "cp1252-to-utf8",
        "renamed-fields",
        "file-modes",
        "language-level",
    ];
    let positions: Vec<usize> =
        ids.iter().map(|id| text.find(id).unwrap_or_else(|| panic!("{id} not listed:\n{text}"))).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "not in application order:\n{text}");

    let (code, doc) = migrate_json(&["--list"]);
    assert_eq!(code, 0);
    let listed: Vec<&str> = doc["migrations"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(listed, ids);
    assert!(doc["migrations"].as_array().unwrap().iter().all(|m| !m["description"].as_str().unwrap().is_empty()));
}

#[test]
fn current_scans_need_nothing() {
    let tree = Tree::copy("healthy", OLD);
    let root = tree.path("healthy");
    let before = files_of(&root);
    let output = migrate(&[root.to_str().unwrap(), "--yes"]);
    assert_eq!(common::code(&output), 0, "{}", String::from_utf8_lossy(&output.stdout));
    assert!(String::from_utf8_lossy(&output.stdout).contains("nothing to migrate"));
    assert_eq!(files_of(&root), before);
}
