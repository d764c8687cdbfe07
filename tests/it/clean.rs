//! `scanaudit clean` end to end: the real binary on copies of the testdata trees, plus two
//! library-level races driven by failpoints.
//!
//! Ages: clean judges age by the newest of mtime and ctime, and ctime cannot be backdated. A
//! fresh copy of a tree is therefore young whatever its mtime says (one test proves exactly
//! that), and the tests that need "old" strays use `--older-than 1s` after sleeping past it.

use crate::common;

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::Duration;

use common::{code, filters, scanaudit, Tree, OLD};
use serde_json::Value;

const TEMPS: &str = "damaged/projects/damaged-temps";
const SALVAGEABLE: &str = "scans/c7df82da132/python/.tmp-results.json-k3j_a9xq.json";

/// The temps of every writer in damaged-temps that hold nothing worth keeping, relative to it.
const DISPOSABLE: [(&str, &str); 7] = [
    ("scans/6af6cd56d75/python/tmpk3j_a9xq.tmp", "open-ant-fork"),
    ("scans/c7df82da132/meta.json.tmp.48213", "go-scan-meta"),
    ("scans/c7df82da132/python/.atomicwrite8ldufS", "atomic-writes"),
    ("scans/c7df82da132/python/.pipeline_output.json.Xy12Ab", "atomic-write-file"),
    ("scans/c7df82da132/python/.results_verified.json.scanaudit-Ab12Cd.tmp", "scanaudit"),
    ("scans/c7df82da132/python/.tmp-dataset_enhanced.json-ab12cd34.json", "open-ant"),
    ("scans/c7df82da132/python/.tmpAb3dE9", "tempfile"),
];

/// `scanaudit clean` with its own runtime dir, so tests never share the single-instance lock
/// and no lock file lands in the tree.
fn clean_cmd(runtime: &Path) -> assert_cmd::Command {
    let mut cmd = scanaudit();
    cmd.env("XDG_RUNTIME_DIR", runtime).arg("clean");
    cmd
}

fn clean_json(runtime: &Path, args: &[&str]) -> (i32, Value, String) {
    let output = clean_cmd(runtime).args(args).args(["--format", "json"]).output().expect("run");
    let doc = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {} / stderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (code(&output), doc, String::from_utf8_lossy(&output.stderr).into_owned())
}

/// path relative to `base` → (action, reason).
fn actions(doc: &Value, base: &Path) -> BTreeMap<String, (String, String)> {
    doc["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            let path = Path::new(e["path"].as_str().unwrap());
            let rel = path.strip_prefix(base).unwrap_or(path).to_string_lossy().into_owned();
            (rel, (e["action"].as_str().unwrap().to_string(), e["reason"].as_str().unwrap_or("").to_string()))
        })
        .collect()
}

fn entry<'a>(doc: &'a Value, suffix: &str) -> &'a Value {
    doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no entry for {suffix}: {doc:#}"))
}

/// Every regular file and symlink below `root` with its bytes (a link: its target path).
fn contents(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            let bytes = if e.file_type().is_symlink() {
                std::fs::read_link(e.path()).unwrap().into_os_string().into_encoded_bytes()
            } else {
                std::fs::read(e.path()).unwrap()
            };
            (e.path().strip_prefix(root).unwrap().to_path_buf(), bytes)
        })
        .collect()
}

/// Lets every file of a fresh copy become older than `--older-than 1s` (ctime included).
fn let_age() {
    std::thread::sleep(Duration::from_millis(1200));
}

#[test]
fn old_strays_of_every_writer_go_the_salvageable_one_stays_and_nothing_else_changes() {
    let tree = Tree::copy("damaged", OLD);
    let rt = tempfile::tempdir().unwrap();
    let base = tree.path(TEMPS);
    let before = contents(&base);
    let_age();

    let (status, doc, _) = clean_json(rt.path(), &[base.to_str().unwrap(), "--older-than", "1s"]);
    assert_eq!(status, 1, "something was removed: {doc:#}");
    let got = actions(&doc, &base);
    let mut want: BTreeMap<String, (String, String)> =
        DISPOSABLE.iter().map(|(p, _)| (p.to_string(), ("removed".into(), String::new()))).collect();
    want.insert(SALVAGEABLE.into(), ("kept".into(), "salvageable".into()));
    assert_eq!(got, want, "{doc:#}");

    // One stray of each writer was removed, and is gone from the disk.
    for (rel, writer) in DISPOSABLE {
        assert_eq!(entry(&doc, rel)["writer"], writer, "{rel}");
        assert!(std::fs::symlink_metadata(base.join(rel)).is_err(), "{rel} still exists");
    }
    // The salvageable temp is kept, with the command that restores its target from it.
    let salvage = entry(&doc, SALVAGEABLE);
    assert!(salvage["message"].as_str().unwrap().contains("results.json is missing"), "{salvage:#}");
    assert!(salvage["fix"].as_str().unwrap().starts_with("scanaudit repair "), "{salvage:#}");
    assert!(base.join(SALVAGEABLE).is_file());
    let removed_bytes: u64 = DISPOSABLE.iter().map(|(rel, _)| entry(&doc, rel)["bytes"].as_u64().unwrap()).sum();
    assert_eq!(doc["summary"]["bytes_reclaimed"].as_u64(), Some(removed_bytes));
    assert!(removed_bytes > 0);

    // Every other file is byte-identical.
    let mut expected = before;
    expected.retain(|p, _| !DISPOSABLE.iter().any(|(rel, _)| p.starts_with(rel)));
    assert_eq!(contents(&base), expected);

    // A second run has nothing to remove: exit 0, and --quiet still reports the salvageable temp.
    let (status, doc, _) = clean_json(rt.path(), &[base.to_str().unwrap(), "--older-than", "1s"]);
    assert_eq!(status, 0, "{doc:#}");
    assert_eq!(doc["summary"]["removed"], 0);
    let output = clean_cmd(rt.path()).args([base.to_str().unwrap(), "--older-than", "1s", "--quiet"]).output().unwrap();
    assert_eq!(code(&output), 0);
    assert!(String::from_utf8_lossy(&output.stdout).contains("kept: salvageable"));
}

/// A fresh copy has old mtimes (3 days) but a ctime of now: the newest of the two counts, so
/// with the default --older-than 1h every temp is young and kept. Touching one file's mtime
/// after the ctime has aged keeps that one too.
#[test]
fn young_strays_are_kept_by_ctime_and_by_mtime() {
    let tree = Tree::copy("damaged", OLD);
    let rt = tempfile::tempdir().unwrap();
    let base = tree.path(TEMPS);
    let (status, doc, _) = clean_json(rt.path(), &[base.to_str().unwrap()]);
    assert_eq!(status, 0);
    let got = actions(&doc, &base);
    assert_eq!(got.len(), DISPOSABLE.len() + 1, "{doc:#}");
    assert!(got.values().all(|(action, reason)| action == "kept" && reason == "young"), "{got:?}");
    for (rel, _) in DISPOSABLE {
        assert!(base.join(rel).exists());
    }

    let_age();
    let fresh = base.join(DISPOSABLE[6].0);
    filetime::set_file_mtime(&fresh, filetime::FileTime::now()).unwrap();
    let (status, doc, _) = clean_json(rt.path(), &[base.to_str().unwrap(), "--older-than", "1s"]);
    assert_eq!(status, 1);
    assert_eq!(entry(&doc, DISPOSABLE[6].0)["reason"], "young", "{doc:#}");
    assert!(fresh.exists());
}

#[test]
fn dry_run_lists_what_would_go_and_deletes_nothing() {
    let tree = Tree::copy("damaged", OLD);
    let rt = tempfile::tempdir().unwrap();
    let base = tree.path(TEMPS);
    let before = contents(&base);
    let_age();
    let (status, doc, _) = clean_json(rt.path(), &[base.to_str().unwrap(), "--older-than", "1s", "--dry-run"]);
    assert_eq!(status, 0, "a dry run removes nothing: {doc:#}");
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["summary"]["would_remove"], DISPOSABLE.len());
    assert_eq!(doc["summary"]["removed"], 0);
    assert!(doc["summary"]["bytes_reclaimable"].as_u64().unwrap() > 0);
    assert_eq!(contents(&base), before);

    let output = clean_cmd(rt.path()).args([base.to_str().unwrap(), "--older-than", "1s", "-n"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("would remove"), "{stdout}");
    assert!(stdout.contains("nothing was deleted"), "{stdout}");
    assert_eq!(contents(&base), before);
}

/// One temp is held open by another process (`sleep` with it as stdin), one by the test
/// process itself: both are kept, the rest go.
#[test]
fn temps_open_in_another_process_are_kept() {
    let tree = Tree::copy("damaged", OLD);
    let rt = tempfile::tempdir().unwrap();
    let base = tree.path(TEMPS);
    let by_child = base.join(DISPOSABLE[0].0);
    let by_test = base.join(DISPOSABLE[6].0);
    let mut child =
        StdCommand::new("sleep").arg("60").stdin(std::fs::File::open(&by_child).unwrap()).spawn().expect("sleep");
    let held = std::fs::File::open(&by_test).unwrap();
    let_age();
    let (status, doc, _) = clean_json(rt.path(), &[base.to_str().unwrap(), "--older-than", "1s"]);
    child.kill().unwrap();
    child.wait().unwrap();
    drop(held);
    assert_eq!(status, 1);
    if cfg!(target_os = "linux") {
        assert_eq!(entry(&doc, DISPOSABLE[0].0)["reason"], "open", "{doc:#}");
        assert_eq!(entry(&doc, DISPOSABLE[6].0)["reason"], "open", "{doc:#}");
        assert_eq!(doc["summary"]["open_file_check"]["method"], "proc");
    }
    assert!(by_child.exists() && by_test.exists());
    assert_eq!(entry(&doc, DISPOSABLE[1].0)["action"], "removed");
}

/// A temp someone holds a flock on is kept. Whoever holds a flock also has the file open, so
/// on Linux the /proc scan usually sees it first; the flock rule is what protects a file whose
/// holder's /proc entry clean cannot read. As root the binary therefore runs as `nobody`
/// (setpriv), which cannot read the test process's fds, so only the flock rule can keep it.
#[test]
fn a_flocked_temp_is_kept_even_when_its_holder_is_invisible() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new().prefix("scanaudit-flock").tempdir_in("/tmp").unwrap();
    let scan = dir.path().join("scan");
    let runtime = dir.path().join("runtime");
    std::fs::create_dir_all(&scan).unwrap();
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::write(scan.join("results.json"), "{}").unwrap();
    std::fs::write(scan.join(".tmpLock01"), "{\"tru").unwrap();
    std::fs::write(scan.join(".tmpFree01"), "{\"tru").unwrap();
    for p in [dir.path(), scan.as_path(), runtime.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let locked = std::fs::File::open(scan.join(".tmpLock01")).unwrap();
    assert_eq!(unsafe { libc::flock(locked.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
    let_age();

    let is_root = unsafe { libc::geteuid() } == 0;
    let args = ["clean", "--format", "json", "--older-than", "1s", scan.to_str().unwrap()];
    let output = if is_root {
        StdCommand::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin("scanaudit"))
            .args(args)
            .env("XDG_RUNTIME_DIR", &runtime)
            .output()
            .unwrap()
    } else {
        scanaudit().env("XDG_RUNTIME_DIR", &runtime).args(args).output().unwrap()
    };
    drop(locked);
    let doc: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("stderr: {}", String::from_utf8_lossy(&output.stderr)));
    let kept = entry(&doc, ".tmpLock01");
    assert_eq!(kept["action"], "kept", "{doc:#}");
    if is_root {
        assert_eq!(kept["reason"], "locked", "{doc:#}");
        assert!(doc["summary"]["open_file_check"]["unreadable"].as_u64().unwrap() > 0, "{doc:#}");
    } else {
        assert!(["open", "locked"].contains(&kept["reason"].as_str().unwrap()), "{doc:#}");
    }
    assert!(scan.join(".tmpLock01").exists());
    assert_eq!(entry(&doc, ".tmpFree01")["action"], "removed", "{doc:#}");
    assert_eq!(code(&output), 1);
}

/// A symlink with a temp name, pointing at a file outside the tree, is never removed and its
/// target is never touched; the same for a link to a directory with atomicwrites' name.
#[test]
fn a_symlink_with_a_temp_name_is_left_alone_and_its_target_intact() {
    let tree = Tree::copy("damaged", OLD);
    let rt = tempfile::tempdir().unwrap();
    let base = tree.path(TEMPS);
    let outside = tree.path("outside.json");
    std::fs::write(&outside, "{\"precious\": true").unwrap();
    let outside_dir = tree.path("outside-dir");
    std::fs::create_dir(&outside_dir).unwrap();
    std::fs::write(outside_dir.join("tmpfile.tmp"), "{").unwrap();
    let link = base.join("scans/c7df82da132/python/.tmp-results_verified.json-zzzzzzzz.json");
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    let dir_link = base.join("scans/c7df82da132/python/.atomicwriteLINK01");
    std::os::unix::fs::symlink(&outside_dir, &dir_link).unwrap();
    let_age();

    let (status, doc, _) = clean_json(rt.path(), &[base.to_str().unwrap(), "--older-than", "1s"]);
    assert_eq!(status, 1);
    for path in [&link, &dir_link] {
        let e = entry(&doc, path.file_name().unwrap().to_str().unwrap());
        assert_eq!((e["action"].as_str(), e["reason"].as_str()), (Some("kept"), Some("not-regular")), "{e:#}");
        assert!(std::fs::symlink_metadata(path).unwrap().file_type().is_symlink());
    }
    assert_eq!(std::fs::read(&outside).unwrap(), b"{\"precious\": true");
    assert_eq!(std::fs::read(outside_dir.join("tmpfile.tmp")).unwrap(), b"{");
}

#[test]
fn max_runtime_stops_starting_removals_and_says_so() {
    let tree = Tree::copy("damaged", OLD);
    let rt = tempfile::tempdir().unwrap();
    let base = tree.path(TEMPS);
    let before = contents(&base);
    let_age();
    let (status, doc, _) =
        clean_json(rt.path(), &[base.to_str().unwrap(), "--older-than", "1s", "--max-runtime", "0s"]);
    assert_eq!(status, 0, "cut short is not an error: {doc:#}");
    assert_eq!(doc["summary"]["cut_short"], true);
    assert!(actions(&doc, &base).values().all(|(a, r)| a == "kept" && r == "max-runtime"), "{doc:#}");
    assert_eq!(contents(&base), before);
    let stdout = String::from_utf8_lossy(
        &clean_cmd(rt.path()).args([base.to_str().unwrap(), "--max-runtime", "0s"]).output().unwrap().stdout,
    )
    .into_owned();
    assert!(stdout.contains("--max-runtime was reached"), "{stdout}");
}

#[test]
fn json_document_snapshot() {
    let tree = Tree::copy("damaged", OLD);
    let rt = tempfile::tempdir().unwrap();
    let base = tree.path(TEMPS);
    let_age();
    let output =
        clean_cmd(rt.path()).args([base.to_str().unwrap(), "--older-than", "1s", "--format", "json"]).output().unwrap();
    assert_eq!(code(&output), 1);
    let mut filters = filters(tree.root());
    filters.push((r#""age_seconds": \d+"#.into(), r#""age_seconds": "[AGE]""#.into()));
    filters.push((r#""processes": \d+"#.into(), r#""processes": "[N]""#.into()));
    filters.push((r#""unreadable": \d+"#.into(), r#""unreadable": "[N]""#.into()));
    insta::with_settings!({ filters => filters.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect::<Vec<_>>() }, {
        insta::assert_snapshot!("clean_json", String::from_utf8_lossy(&output.stdout));
    });
}

#[test]
fn a_second_instance_exits_8_at_once() {
    let tree = Tree::copy("damaged", OLD);
    let rt = tempfile::tempdir().unwrap();
    let base = tree.path(TEMPS);
    let lock_path = rt.path().join("scanaudit/clean.lock");
    std::fs::create_dir_all(lock_path.parent().unwrap()).unwrap();
    let lock = std::fs::File::create(&lock_path).unwrap();
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
    let before = contents(&base);
    let output = clean_cmd(rt.path())
        .args([base.to_str().unwrap(), "--older-than", "0s"])
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(code(&output), 8);
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("scanaudit: error: {}: another scanaudit clean is running and holds this lock\n", lock_path.display())
    );
    assert!(output.stdout.is_empty());
    assert_eq!(contents(&base), before);
    drop(lock);
    clean_cmd(rt.path()).args([base.to_str().unwrap(), "--dry-run"]).assert().code(0);
}

/// Without XDG_RUNTIME_DIR the lock lives in the first root's `.scanaudit/`, which check and
/// clean never treat as scan data.
#[test]
fn without_a_runtime_dir_the_lock_is_in_the_roots_state_dir() {
    let tree = Tree::copy("damaged", OLD);
    let base = tree.path(TEMPS);
    scanaudit().env_remove("XDG_RUNTIME_DIR").args(["clean", base.to_str().unwrap()]).assert().code(0);
    assert!(base.join(".scanaudit/clean.lock").is_file());
    let (_, doc) = common::check_json(&[base.to_str().unwrap()]);
    let about_state: Vec<&serde_json::Value> = common::findings(&doc)
        .iter()
        .filter(|f| f["path"].as_str().is_some_and(|p| p.contains("/.scanaudit/")))
        .collect();
    assert!(about_state.is_empty(), "check reports scanaudit's own state: {about_state:?}");
}

#[test]
fn backups_older_than_age_are_pruned_and_nothing_else() {
    let tree = Tree::copy("damaged", OLD);
    let rt = tempfile::tempdir().unwrap();
    let scan = tree.path("damaged/projects/damaged-backup/scans/f9ed5b7e0c7/python");
    let backups = scan.join(".scanaudit/backups");
    let now = chrono::Utc::now();
    let stamp = |days: i64| (now - chrono::Duration::days(days)).format("%Y%m%dT%H%M%SZ").to_string();
    let old = backups.join(stamp(40));
    let old_second = backups.join(format!("{}-2", stamp(40)));
    let recent = backups.join(stamp(2));
    let old_name_fresh_mtime = backups.join(stamp(50));
    let not_ours = backups.join("keep-me");
    for dir in [&old, &old_second, &recent, &old_name_fresh_mtime, &not_ours] {
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/results.json"), "{\"old\": 1}").unwrap();
    }
    // A symlink inside a backup is removed as a link; its target outside is untouched.
    let outside = tree.path("outside.json");
    std::fs::write(&outside, "{}").unwrap();
    std::os::unix::fs::symlink(&outside, old.join("link.json")).unwrap();
    let long_ago =
        filetime::FileTime::from_system_time(std::time::SystemTime::now() - Duration::from_secs(40 * 86_400));
    for dir in [&old, &old_second, &recent, &not_ours] {
        filetime::set_file_mtime(dir, long_ago).unwrap();
    }

    let root = tree.path("damaged/projects/damaged-backup");
    let (status, doc, _) = clean_json(rt.path(), &[root.to_str().unwrap(), "--backups", "30d"]);
    assert_eq!(status, 1, "{doc:#}");
    let got: BTreeMap<String, (String, String)> =
        actions(&doc, &backups).into_iter().filter(|(k, _)| !k.starts_with('/')).collect();
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    let want: BTreeMap<String, (String, String)> = [
        (name(&old), ("removed".to_string(), String::new())),
        (name(&old_second), ("removed".to_string(), String::new())),
        (name(&recent), ("kept".to_string(), "young".to_string())),
        (name(&old_name_fresh_mtime), ("kept".to_string(), "young".to_string())),
        // The generator's backup: its copy's mtime is 3 days old, so it is young whatever the date.
        ("20261101T101010Z".to_string(), ("kept".to_string(), "young".to_string())),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want, "{doc:#}");
    assert!(!old.exists() && !old_second.exists());
    assert!(recent.join("sub/results.json").exists() && old_name_fresh_mtime.exists() && not_ours.exists());
    assert_eq!(std::fs::read(&outside).unwrap(), b"{}");
    assert!(entry(&doc, &name(&old))["bytes"].as_u64().unwrap() >= 10);

    // Without --backups, backups are never touched.
    let (status, doc, _) = clean_json(rt.path(), &[root.to_str().unwrap(), "--older-than", "0s"]);
    assert_eq!(status, 0);
    assert!(actions(&doc, &backups).is_empty(), "{doc:#}");
}

#[test]
fn quiet_is_silent_when_there_is_nothing_to_report() {
    let tree = Tree::copy("healthy", OLD);
    let rt = tempfile::tempdir().unwrap();
    let output = clean_cmd(rt.path()).args([tree.path("healthy").to_str().unwrap(), "--quiet"]).output().unwrap();
    assert_eq!(code(&output), 0);
    assert!(output.stdout.is_empty() && output.stderr.is_empty());
    let output = clean_cmd(rt.path()).arg(tree.path("healthy")).output().unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("nothing to remove in "));
}

#[test]
fn bad_durations_are_usage_errors() {
    let rt = tempfile::tempdir().unwrap();
    clean_cmd(rt.path())
        .args(["/nonexistent", "--older-than", "soon"])
        .assert()
        .code(16)
        .stderr(predicates::str::contains("invalid value 'soon' for '--older-than <DURATION>'"));
    clean_cmd(rt.path()).args(["/nonexistent", "--backups", "x"]).assert().code(16);
}

/// Issue 12: clean never creates the root it was asked to clean, and a dry run writes nothing
/// at all, even without XDG_RUNTIME_DIR (as under cron), where the lock would go in the root.
#[test]
fn a_missing_root_is_an_error_and_is_never_created() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo/dir");
    for dry_run in [true, false] {
        let mut cmd = scanaudit();
        cmd.env_remove("XDG_RUNTIME_DIR").args(["clean", typo.to_str().unwrap()]);
        if dry_run {
            cmd.arg("--dry-run");
        }
        let output = cmd.output().unwrap();
        assert_eq!(code(&output), 8, "dry run {dry_run}: {}", String::from_utf8_lossy(&output.stderr));
        assert!(!dir.path().join("typo").exists(), "dry run {dry_run}: clean created the root");
    }
}

#[test]
fn a_dry_run_writes_nothing_not_even_its_lock() {
    let tree = Tree::copy("damaged", OLD);
    let base = tree.path(TEMPS);
    let before = listing_with_dirs(&base);
    scanaudit().env_remove("XDG_RUNTIME_DIR").args(["clean", base.to_str().unwrap(), "--dry-run"]).assert().code(0);
    assert_eq!(listing_with_dirs(&base), before);
    assert!(!base.join(".scanaudit").exists());
}

fn listing_with_dirs(root: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = walkdir_paths(root);
    paths.sort();
    paths
}

fn walkdir_paths(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.is_symlink() {
            out.extend(walkdir_paths(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn a_missing_root_is_an_operational_error_exit_8() {
    let rt = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let output = clean_cmd(rt.path()).args(["--format", "json"]).arg(&missing).output().unwrap();
    assert_eq!(code(&output), 8);
    assert!(output.stdout.is_empty(), "no document about a root that is not there");
    let said = format!("scanaudit: error: {}: no such file or directory\n", missing.display());
    assert_eq!(String::from_utf8_lossy(&output.stderr), said);
}

// ------------------------------------------------------------------------------------------
// Races, through the library and failpoints: files removed by someone else after the listing.

fn config(root: &Path, runtime: &Path) -> scanaudit::config::CleanConfig {
    scanaudit::config::CleanConfig {
        roots: vec![root.to_path_buf()],
        filters: Default::default(),
        older_than: Duration::from_secs(1),
        dry_run: false,
        backups: None,
        max_runtime: None,
        lock_path: runtime.join("clean.lock"),
        output: scanaudit::config::OutputConfig {
            format: scanaudit::cli::Format::Json,
            color: false,
            quiet: true,
            progress: false,
        },
    }
}

#[test]
fn a_temp_removed_by_someone_else_between_listing_and_unlink_is_no_error() {
    // Failpoints are process-wide: the other tests' cleans must not run into them.
    let test = concat!(module_path!(), "::a_temp_removed_by_someone_else_between_listing_and_unlink_is_no_error");
    if !common::alone_in_own_process(test) {
        return;
    }
    use scanaudit::clean::Action;
    let scenario = fail::FailScenario::setup();
    let tree = Tree::copy("damaged", OLD);
    let rt = tempfile::tempdir().unwrap();
    let base = tree.path(TEMPS);
    let_age();

    // Right before each unlink, "someone else" removes every disposable temp.
    let victims: Vec<PathBuf> = DISPOSABLE.iter().map(|(rel, _)| base.join(rel)).collect();
    fail::cfg_callback("clean::before-unlink", move || {
        for v in &victims {
            let _ = std::fs::remove_file(v).or_else(|_| std::fs::remove_dir_all(v));
        }
    })
    .unwrap();
    let outcome =
        scanaudit::clean::run(&config(&base, rt.path()), &scanaudit::progress::Progress::hidden(), &Default::default());
    fail::remove("clean::before-unlink");
    assert!(!outcome.failed(), "{:#?}", outcome.entries);
    assert!(outcome.count(Action::AlreadyGone) >= 1, "{:#?}", outcome.entries);
    assert_eq!(outcome.count(Action::Failed), 0);
    assert!(outcome.entries.iter().all(|e| matches!(e.action, Action::AlreadyGone | Action::Kept | Action::Removed)));

    // Removed between the walk and the judging: the same.
    let tree = Tree::copy("damaged", OLD);
    let base = tree.path(TEMPS);
    let_age();
    let victims: Vec<PathBuf> = DISPOSABLE.iter().map(|(rel, _)| base.join(rel)).collect();
    fail::cfg_callback("clean::after-walk", move || {
        for v in &victims {
            let _ = std::fs::remove_file(v).or_else(|_| std::fs::remove_dir_all(v));
        }
    })
    .unwrap();
    let outcome =
        scanaudit::clean::run(&config(&base, rt.path()), &scanaudit::progress::Progress::hidden(), &Default::default());
    fail::remove("clean::after-walk");
    assert!(!outcome.failed(), "{:#?}", outcome.entries);
    assert_eq!(outcome.count(Action::AlreadyGone), DISPOSABLE.len(), "{:#?}", outcome.entries);
    scenario.teardown();
}

// ------------------------------------------------------------------------------------------
// The README's crontab line and systemd units, run exactly as written.

fn cron_section_blocks() -> Vec<(String, String)> {
    crate::common::readme_section_blocks("## Cron and systemd")
}

/// The arguments after `scanaudit` in a command line (`$HOME/.cargo/bin/scanaudit clean ...`).
fn scanaudit_args(command: &str) -> Vec<String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let at = words.iter().position(|w| w.ends_with("/scanaudit") || *w == "scanaudit").expect("a scanaudit command");
    words[at + 1..].iter().map(|w| w.to_string()).collect()
}

fn run_as_documented(args: &[String]) {
    assert_eq!(args.first().map(String::as_str), Some("clean"), "{args:?}");
    // The documented command names no path: it cleans ~/.openant/projects.
    let home = tempfile::tempdir().unwrap();
    let tree = Tree::copy("damaged", OLD);
    let projects = home.path().join(".openant/projects");
    std::fs::create_dir_all(projects.parent().unwrap()).unwrap();
    std::fs::rename(tree.path("damaged/projects"), &projects).unwrap();
    let rt = tempfile::tempdir().unwrap();
    let output = scanaudit().env("HOME", home.path()).env("XDG_RUNTIME_DIR", rt.path()).args(args).output().unwrap();
    // Everything in a fresh copy is younger than an hour: nothing to remove, not a word said.
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.stdout.is_empty(), "{}", String::from_utf8_lossy(&output.stdout));
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(projects.join(TEMPS.trim_start_matches("damaged/projects/")).join(DISPOSABLE[0].0).exists());
}

#[test]
fn readme_crontab_line_runs_as_written() {
    let blocks = cron_section_blocks();
    let (_, crontab) = blocks.iter().find(|(info, _)| info == "crontab").expect("a ```crontab block");
    let line = crontab.lines().find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert!(fields.len() > 5, "five time fields then the command: {line}");
    let command = fields[5..].join(" ");
    let args = scanaudit_args(&command);
    assert!(args.contains(&"--quiet".to_string()), "cron mails any output: {args:?}");
    run_as_documented(&args);
}

#[test]
fn readme_systemd_units_run_as_written() {
    let blocks = cron_section_blocks();
    let service = blocks.iter().find(|(_, b)| b.contains("[Service]")).expect("a service unit").1.clone();
    let timer = blocks.iter().find(|(_, b)| b.contains("[Timer]")).expect("a timer unit").1.clone();
    assert!(service.lines().any(|l| l == "Type=oneshot"), "{service}");
    // Exit 1 means "removed something": success for systemd too.
    assert!(service.lines().any(|l| l == "SuccessExitStatus=1"), "{service}");
    assert!(timer.lines().any(|l| l.starts_with("OnCalendar=")), "{timer}");
    assert!(timer.lines().any(|l| l == "WantedBy=timers.target"), "{timer}");
    let exec = service.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("ExecStart=");
    // `%h` is systemd's specifier for the user's home.
    let args = scanaudit_args(exec);
    run_as_documented(&args);
}
