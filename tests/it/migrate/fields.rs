//! `renamed-fields` plans nothing (current OpenAnt reads the old forms; see the module doc of
//! `scanaudit::migrate::renamed_fields`), and a full migrate leaves those old forms, which are
//! paid-for LLM output, byte for byte as they were.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use scanaudit::migrate::{self, renamed_fields};
use scanaudit::progress::Progress;
use scanaudit::walk::Filters;
use serde_json::Value;

use crate::common::{testdata, Tree};

/// The era between 3b9ceeb and d710b90: language level, no checkpoints, old field forms only.
const LEGACY_TOOL: &str = "projects/legacy-tool/scans/0d1e2f3a4b5/python";
/// Upstream before 3b9ceeb: no language level, a whole-dataset enhance checkpoint, old forms.
const OLDTOOL: &str = "projects/oldtool/scans/0d729f6a1b2";

/// The files that carry the old forms in both fixtures (pipeline_output.json copies none of them).
const CARRIERS: &[&str] = &["dataset.json", "dataset_enhanced.json", "results.json", "results_verified.json"];

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// How often each old form occurs in a scan dir's carriers: (`primary_origin` objects with
/// `enhanced` and no `deps_inlined`, results with `is_enhanced`, string `agent_context.error`s).
fn old_forms(scan_dir: &Path) -> (usize, usize, usize) {
    let (mut enhanced, mut is_enhanced, mut string_errors) = (0, 0, 0);
    for name in CARRIERS {
        let doc = read_json(&scan_dir.join(name));
        for unit in doc["units"].as_array().into_iter().flatten() {
            let origin = &unit["code"]["primary_origin"];
            if origin.get("enhanced").is_some() && origin.get("deps_inlined").is_none() {
                enhanced += 1;
            }
            if unit["agent_context"]["error"].is_string() {
                string_errors += 1;
            }
        }
        let results = doc["results"].as_array().into_iter().flatten();
        is_enhanced += results.filter(|r| r.get("is_enhanced").is_some()).count();
    }
    (enhanced, is_enhanced, string_errors)
}

/// Without this the other tests would pass vacuously on a fixture that lost its old forms.
#[test]
fn fixtures_hold_every_old_form() {
    for dir in [testdata("healthy").join(LEGACY_TOOL), testdata("legacy").join(OLDTOOL)] {
        let (enhanced, is_enhanced, string_errors) = old_forms(&dir);
        assert!(enhanced > 0 && is_enhanced > 0 && string_errors > 0, "{}: {:?}", dir.display(), old_forms(&dir));
    }
}

#[test]
fn planner_plans_nothing_for_old_forms() {
    for dir in [testdata("healthy").join(LEGACY_TOOL), testdata("legacy").join(OLDTOOL)] {
        let planned = renamed_fields::plan(&dir);
        assert!(planned.actions.is_empty(), "{}: {:?}", dir.display(), planned.actions);
        assert!(planned.unfixable.is_empty(), "{}: {:?}", dir.display(), planned.unfixable);
        assert!(planned.io_errors.is_empty(), "{}: {:?}", dir.display(), planned.io_errors);
    }
}

/// A scan whose only old-format data is the old field forms needs no migration at all.
#[test]
fn old_field_forms_alone_need_no_migration() {
    let tree = Tree::copy("healthy", Duration::from_secs(3600));
    let dir = tree.path("healthy").join(LEGACY_TOOL);
    let planned = migrate::plan::plan_dir(&dir, Duration::ZERO, SystemTime::now());
    assert!(!planned.has_work(), "{:?}", planned.actions);
    assert!(planned.unfixable.is_empty(), "{:?}", planned.unfixable);
}

/// After every migration has run on the legacy tree, each carrier of the old forms is where
/// the migrations put it (the language-level move may add `python/`) with its bytes unchanged,
/// and planning again finds nothing for `renamed-fields`.
#[test]
fn full_migrate_keeps_old_forms_byte_for_byte() {
    crate::common::alone!(full_migrate_keeps_old_forms_byte_for_byte);
    let tree = Tree::copy("legacy", Duration::from_secs(3600));
    let root = tree.path("legacy");
    let before: Vec<(&str, Vec<u8>)> = CARRIERS
        .iter()
        .map(|name| (*name, std::fs::read(testdata("legacy").join(OLDTOOL).join(name)).unwrap()))
        .collect();

    let plan = migrate::plan(std::slice::from_ref(&root), &Filters::default(), Duration::ZERO, &Progress::hidden());
    assert!(plan.scan_dirs.iter().flat_map(|d| &d.actions).all(|a| a.migration != renamed_fields::ID));
    let applied = migrate::apply(&plan, &AtomicBool::new(false));
    assert!(!applied.interrupted);

    let scan = root.join(OLDTOOL);
    for (name, bytes) in &before {
        let candidates: [PathBuf; 2] = [scan.join(name), scan.join("python").join(name)];
        let found: Vec<&PathBuf> = candidates.iter().filter(|p| p.is_file()).collect();
        assert_eq!(found.len(), 1, "{name}: expected in exactly one of {candidates:?}");
        assert!(std::fs::read(found[0]).unwrap() == *bytes, "{} changed", found[0].display());
    }

    let again = migrate::plan(std::slice::from_ref(&root), &Filters::default(), Duration::ZERO, &Progress::hidden());
    assert!(again.scan_dirs.iter().flat_map(|d| &d.actions).all(|a| a.migration != renamed_fields::ID));
}
