//! Migration `cp1252-to-utf8` through the library: the Windows-era fixture scan is planned
//! and migrated on a copy, compared byte for byte with the generator's reference result, and
//! left with nothing more to do; check then finds nothing left of the code page.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use scanaudit::migrate::{self, plan::plan_dir, ActionOutcome, DirStatus, Plan};
use serde_json::Value;

use crate::common::{check_json, findings, testdata, Tree};

const OLD: Duration = Duration::from_secs(3 * 86_400);
const WINPROJ: &str = "projects/winproj";
const SCAN: &str = "projects/winproj/scans/7e1c0ffee2d/python";
const NOT_CP1252: &str = "report/disclosures/DISCLOSURE_02_VULNERABLE.md";

fn plan_of(dir: &Path) -> Plan {
    Plan { scan_dirs: vec![plan_dir(dir, Duration::from_secs(60), SystemTime::now())], walk_errors: Vec::new() }
}

/// Every regular file below `root` (scanaudit's own `.scanaudit/` aside), relative to it.
fn files(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".scanaudit")
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(root).unwrap().to_path_buf())
        .collect();
    out.sort();
    out
}

fn cp1252_targets(plan: &Plan) -> Vec<String> {
    let scan = &plan.scan_dirs[0];
    scan.actions
        .iter()
        .filter(|a| a.migration == migrate::cp1252::ID)
        .map(|a| a.target.strip_prefix(&scan.scan_dir).unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn windows_scan_becomes_the_reference_utf8_and_stays_so() {
    let tree = Tree::copy("legacy", OLD);
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
            "results_verified.json",
        ]
    );
    assert!(scan.actions.iter().all(|a| a.notes.iter().any(|n| n.contains("CRLF"))), "{:?}", scan.actions);
    let unfixable: Vec<_> = scan.unfixable.iter().filter(|u| u.migration == migrate::cp1252::ID).collect();
    assert_eq!(unfixable.len(), 1, "{unfixable:?}");
    assert_eq!(unfixable[0].path, dir.join(NOT_CP1252));
    assert!(unfixable[0].reason.contains("byte 0x81"), "{}", unfixable[0].reason);

    let applied = migrate::apply(&plan, &AtomicBool::new(false));
    for result in applied.results() {
        assert!(matches!(result.outcome, ActionOutcome::Done), "{result:?}");
        assert!(result.details.is_empty(), "{result:?}");
    }
    // The originals are in the backup.
    assert!(applied.dirs[0].backup_dir.as_deref().is_some_and(Path::is_dir));

    let got_root = tree.path("legacy").join(WINPROJ);
    let want_root = testdata("migrated").join(WINPROJ);
    let got = files(&got_root);
    assert_eq!(got, files(&want_root));
    for rel in &got {
        let (ours, want) = (std::fs::read(got_root.join(rel)).unwrap(), std::fs::read(want_root.join(rel)).unwrap());
        assert!(ours == want, "{} differs from testdata/migrated", rel.display());
    }

    let again = plan_of(&dir);
    assert!(cp1252_targets(&again).is_empty(), "{:?}", again.scan_dirs[0].actions);

    // Nothing of the code page is left for check to report (only the backup migrate made); the
    // cp1251 disclosure is Markdown, which check only sniffs for cp1252.
    let (code, doc) = check_json(&[got_root.to_str().unwrap()]);
    let left: Vec<&Value> = findings(&doc).iter().filter(|f| f["kind"] != "backup").collect();
    assert!(left.is_empty(), "{doc:#}");
    assert_eq!(code, 0);
}

/// A torn cp1252 output is repair's business: migrate leaves it and says why, and check sends
/// it to repair, not to migrate.
#[test]
fn a_torn_cp1252_output_is_left_to_repair() {
    let tree = Tree::copy("legacy", OLD);
    let dir = tree.path("legacy").join(SCAN);
    let target = dir.join("pipeline_output.json");
    let bytes = std::fs::read(&target).unwrap();
    std::fs::write(&target, &bytes[..bytes.len() * 2 / 3]).unwrap();

    let plan = plan_of(&dir);
    assert!(!cp1252_targets(&plan).contains(&"pipeline_output.json".to_string()));
    let why = plan.scan_dirs[0].unfixable.iter().find(|u| u.path == target).expect("listed as not upgradable");
    assert!(why.reason.contains("damaged") && why.reason.contains("scanaudit repair"), "{}", why.reason);

    let (_, doc) = check_json(&[dir.to_str().unwrap()]);
    let on_it: Vec<&Value> = findings(&doc).iter().filter(|f| f["path"] == target.to_str().unwrap()).collect();
    assert_eq!(on_it.len(), 1, "{doc:#}");
    assert_eq!(on_it[0]["kind"], "invalid-utf8");
    assert!(on_it[0]["fix"].as_str().unwrap().starts_with("scanaudit repair "), "{:#}", on_it[0]);
    assert!(on_it[0]["message"].as_str().unwrap().contains("damaged besides"), "{:#}", on_it[0]);
}
