//! `cp1252-to-utf8` on the Windows-era fixture scan (`testdata/legacy/projects/winproj`):
//! through the library and through the verb, compared byte for byte with the generator's
//! reference result, then left with nothing to do; check then finds nothing of the code page.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use scanaudit::migrate::{self, plan::plan_dir, ActionOutcome, DirStatus, Plan};
use serde_json::Value;

use super::common::{check_json, code, findings, set_age, testdata};
use super::{assert_same_tree, files_of, legacy_copy, migrate, migrate_json, OLD};

const WINPROJ: &str = "projects/winproj";
const SCAN: &str = "projects/winproj/scans/7e1c0ffee2d/python";
const DISCLOSURE: &str = "report/disclosures/DISCLOSURE_02_VULNERABLE.md";

fn plan_of(dir: &Path) -> Plan {
    Plan { scan_dirs: vec![plan_dir(dir, Duration::from_secs(60), SystemTime::now())], walk_errors: Vec::new() }
}

fn cp1252_targets(plan: &Plan) -> Vec<String> {
    let scan = &plan.scan_dirs[0];
    scan.actions
        .iter()
        .filter(|a| a.migration == migrate::cp1252::ID)
        .map(|a| a.target.strip_prefix(&scan.scan_dir).unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Findings of `check` on `root`, the info-level backup that migrate leaves aside.
fn check_findings(root: &Path) -> (i32, Vec<Value>) {
    let (code, doc) = check_json(&[root.to_str().unwrap()]);
    (code, findings(&doc).iter().filter(|f| f["kind"] != "backup").cloned().collect())
}

#[test]
fn the_library_plans_and_applies_the_reference_result() {
    crate::common::alone!(the_library_plans_and_applies_the_reference_result);
    let tree = legacy_copy();
    let dir = tree.path("legacy").join(SCAN);

    let plan = plan_of(&dir);
    let scan = &plan.scan_dirs[0];
    assert_eq!(scan.status, DirStatus::Planned);
    assert_eq!(
        cp1252_targets(&plan),
        [
            "DYNAMIC_TEST_RESULTS.md",
            "dynamic_test_results.json",
            "pipeline_output.json",
            "report/SUMMARY_REPORT.md",
            "report/disclosures/DISCLOSURE_01_VULNERABLE.md",
            DISCLOSURE,
            "results_verified.json",
        ]
    );
    assert!(scan.actions.iter().all(|a| a.notes.iter().any(|n| n.contains("CRLF"))), "{:?}", scan.actions);
    assert!(scan.unfixable.is_empty() && scan.io_errors.is_empty(), "{scan:?}");

    let applied = migrate::apply(&plan, &AtomicBool::new(false));
    for result in applied.results() {
        assert!(matches!(result.outcome, ActionOutcome::Done), "{result:?}");
        assert!(result.details.is_empty(), "{result:?}");
    }
    // The originals are kept in the backup.
    let backup = applied.dirs[0].backup_dir.clone().expect("a backup session");
    assert_eq!(files_of(&backup).keys().filter(|p| !p.ends_with("manifest.json")).count(), 7);

    assert_same_tree(&tree.path("legacy").join(WINPROJ), &testdata("migrated").join(WINPROJ));
    let again = plan_of(&dir);
    assert!(cp1252_targets(&again).is_empty(), "{:?}", again.scan_dirs[0].actions);
    let (code, left) = check_findings(&dir);
    assert!(left.is_empty(), "{left:#?}");
    assert_eq!(code, 0);
}

#[test]
fn the_verb_migrates_once_and_then_has_nothing_to_do() {
    let tree = legacy_copy();
    let root = tree.path("legacy").join(WINPROJ);
    let (code_before, before) = check_findings(&root);
    assert_eq!(code_before, 4, "cp1252 outputs are invalid-utf8 errors");
    assert!(before.iter().all(|f| f["fix"].as_str().unwrap().starts_with("scanaudit migrate ")), "{before:#?}");

    let output = migrate(&[root.to_str().unwrap(), "--yes"]);
    assert_eq!(code(&output), 1, "{}", String::from_utf8_lossy(&output.stdout));
    assert_same_tree(&root, &testdata("migrated").join(WINPROJ));

    let files = files_of(&root);
    let output = migrate(&[root.to_str().unwrap(), "--yes"]);
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stdout));
    assert!(String::from_utf8_lossy(&output.stdout).contains("nothing to migrate"));
    assert_eq!(files_of(&root), files);
    let (code_after, after) = check_findings(&root);
    assert!(after.is_empty(), "{after:#?}");
    assert_eq!(code_after, 0);
}

/// A Markdown file that is not UTF-8 and not cp1252 either (a reviewer's note typed in a
/// Cyrillic editor: cp1251, whose Ѓ is 0x81, a byte cp1252 leaves undefined) is not a file
/// OpenAnt wrote on Windows: it is left byte for byte as it is, and listed with the reason.
#[test]
fn bytes_cp1252_leaves_undefined_are_left_alone_and_reported() {
    let tree = legacy_copy();
    let dir = tree.path("legacy").join(SCAN);
    let target = dir.join(DISCLOSURE);
    let mut bytes = std::fs::read(&target).unwrap();
    // "\r\n_Прегледано од Ѓорѓе._\r\n" in cp1251.
    bytes.extend_from_slice(b"\r\n_\xcf\xf0\xe5\xe3\xeb\xe5\xe4\xe0\xed\xee \xee\xe4 \x81\xee\xf0\x83\xe5._\r\n");
    std::fs::write(&target, &bytes).unwrap();
    // Changed just now, the scan dir would look in use.
    set_age(&target, OLD);

    let (status, doc) = migrate_json(&[dir.to_str().unwrap(), "--yes"]);
    assert_eq!(status, 1 | 4, "done, with something left that cannot be migrated: {doc:#}");
    let scan = &doc["scan_dirs"][0];
    let unfixable = scan["unfixable"].as_array().unwrap();
    assert_eq!(unfixable.len(), 1, "{doc:#}");
    assert_eq!(unfixable[0]["path"], target.to_str().unwrap());
    assert_eq!(unfixable[0]["migration"], "cp1252-to-utf8");
    assert!(unfixable[0]["reason"].as_str().unwrap().contains("byte 0x81"), "{:#}", unfixable[0]);
    assert_eq!(scan["actions"].as_array().unwrap().len(), 6);
    assert_eq!(std::fs::read(&target).unwrap(), bytes);

    // check does not parse Markdown: it only sniffs for cp1252, so this file is no finding.
    let (_, left) = check_findings(&dir);
    assert!(left.is_empty(), "{left:#?}");
}

/// A torn cp1252 output is repair's business: migrate leaves it and says why, and check sends
/// it to repair, not to migrate.
#[test]
fn a_torn_cp1252_output_is_left_to_repair() {
    let tree = legacy_copy();
    let dir = tree.path("legacy").join(SCAN);
    let target = dir.join("pipeline_output.json");
    let bytes = std::fs::read(&target).unwrap();
    std::fs::write(&target, &bytes[..bytes.len() * 2 / 3]).unwrap();

    let plan = plan_of(&dir);
    assert!(!cp1252_targets(&plan).contains(&"pipeline_output.json".to_string()));
    let why = plan.scan_dirs[0].unfixable.iter().find(|u| u.path == target).expect("listed as not upgradable");
    assert!(why.reason.contains("damaged") && why.reason.contains("scanaudit repair"), "{}", why.reason);

    let (_, found) = check_findings(&dir);
    let on_it: Vec<&Value> = found.iter().filter(|f| f["path"] == target.to_str().unwrap()).collect();
    assert_eq!(on_it.len(), 1, "{found:#?}");
    assert_eq!(on_it[0]["kind"], "invalid-utf8");
    assert!(on_it[0]["fix"].as_str().unwrap().starts_with("scanaudit repair "), "{:#}", on_it[0]);
    assert!(on_it[0]["message"].as_str().unwrap().contains("damaged besides"), "{:#}", on_it[0]);
}

/// Issue 12: a UTF-8 output (real non-ASCII text, `ensure_ascii=False`) with ONE multibyte
/// character cut is damaged UTF-8, not cp1252. migrate must never re-encode it (that would turn
/// every `é` into `Ã©`); it leaves the file byte for byte and says why, and check sends it to
/// repair.
#[test]
fn utf8_with_one_cut_character_is_never_re_encoded() {
    let tree = super::common::Tree::copy("healthy", OLD);
    let dir = tree.path("healthy/projects/acme-webapp/scans/3f9c2e1b7a6/python");
    let target = dir.join("results_verified.json");
    let mut bytes = std::fs::read(&target).unwrap();
    // The last byte of the first multibyte character goes, as a bit flip or a bad copy does.
    let lead = bytes.iter().position(|&b| b >= 0xC2).expect("the fixture holds non-ASCII text");
    let len = if bytes[lead] >= 0xF0 {
        4
    } else if bytes[lead] >= 0xE0 {
        3
    } else {
        2
    };
    bytes.remove(lead + len - 1);
    assert!(!bytes[lead + len..].is_ascii(), "more non-ASCII text follows");
    std::fs::write(&target, &bytes).unwrap();
    set_age(&target, OLD);

    let (status, doc) = migrate_json(&[dir.to_str().unwrap(), "--yes"]);
    assert_eq!(std::fs::read(&target).unwrap(), bytes, "migrate changed the file: {doc:#}");
    let scan = &doc["scan_dirs"][0];
    assert!(scan["actions"].as_array().unwrap().iter().all(|a| a["target"] != target.to_str().unwrap()), "{doc:#}");
    let why = scan["unfixable"].as_array().unwrap().iter().find(|u| u["path"] == target.to_str().unwrap());
    let why = why.unwrap_or_else(|| panic!("listed as left alone: {doc:#}"));
    assert!(why["reason"].as_str().unwrap().contains("multibyte"), "{why:#}");
    assert_eq!(status & 4, 4, "something is left: {doc:#}");

    let (_, found) = check_findings(&dir);
    let on_it: Vec<&Value> = found.iter().filter(|f| f["path"] == target.to_str().unwrap()).collect();
    assert_eq!(on_it.len(), 1, "{found:#?}");
    assert_eq!(on_it[0]["kind"], "invalid-utf8");
    assert!(on_it[0]["fix"].as_str().unwrap().starts_with("scanaudit repair "), "{:#}", on_it[0]);
    assert!(on_it[0]["message"].as_str().unwrap().contains("not a Windows code page"), "{:#}", on_it[0]);
}
