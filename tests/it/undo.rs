//! `scanaudit undo`: each writing verb undone gives back the whole tree as it was (bytes,
//! modes, names), and the undo undone gives back the tree the verb left; later work is kept;
//! a killed undo leaves every file old or new and the next one finishes; hostile manifests
//! are refused with nothing written; `--list` and `--dry-run`.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::common::{
    backup_sessions, damage, scanaudit, session_complete, verb_json, wait_for_first_write, Damage, TestEnv, Tree,
    FULL_SCAN, OLD, OUTPUTS,
};

/// What a tree holds, by path below `root`: each entry's kind and mode, a file's sha256, a
/// link's target. With `state`, scanaudit's own `.scanaudit/` dirs too (to prove nothing at
/// all was written); without, what the verbs are about.
fn snapshot(root: &Path, state: bool) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let walk = walkdir::WalkDir::new(root).follow_links(false).sort_by_file_name().min_depth(1);
    for entry in walk.into_iter().filter_entry(|e| state || e.file_name() != ".scanaudit") {
        let entry = entry.expect("walk");
        let meta = entry.path().symlink_metadata().expect("lstat");
        let mode = meta.permissions().mode();
        let what = if meta.file_type().is_symlink() {
            format!("link {:?}", std::fs::read_link(entry.path()).unwrap())
        } else if meta.is_file() {
            format!("file {mode:o} {:x}", Sha256::digest(std::fs::read(entry.path()).unwrap()))
        } else {
            format!("dir {mode:o}")
        };
        out.insert(entry.path().strip_prefix(root).unwrap().to_path_buf(), what);
    }
    out
}

fn assert_same(expected: &BTreeMap<PathBuf, String>, got: &BTreeMap<PathBuf, String>, context: &str) {
    let differ: Vec<_> = expected
        .keys()
        .chain(got.keys())
        .filter(|k| expected.get(*k) != got.get(*k))
        .map(|k| format!("{}: {:?} != {:?}", k.display(), expected.get(k), got.get(k)))
        .collect();
    assert!(differ.is_empty(), "{context}: the trees differ:\n{}", differ.join("\n"));
}

fn undo(args: &[&str], path: &Path) -> (i32, Value) {
    let mut args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    args.push(path.as_os_str());
    verb_json("undo", &args)
}

/// Runs `verb --yes` over `root`, then `undo --last`, then `undo --last` again (the undo's own
/// session): the tree is as before the verb, then as after it.
fn round_trip(root: &Path, verb: &[&str]) {
    let before = snapshot(root, false);
    let output = scanaudit().args(verb).arg("--yes").arg(root).output().unwrap();
    assert_eq!(output.status.code().map(|c| c & 8), Some(0), "{verb:?}: {}", String::from_utf8_lossy(&output.stdout));
    let after = snapshot(root, false);
    assert_ne!(before, after, "{verb:?} changed nothing: the case proves nothing");

    let (status, doc) = undo(&["--last", "--yes"], root);
    assert_eq!(status, 1, "undo of {verb:?}: {doc:#}");
    assert_same(&before, &snapshot(root, false), &format!("after undoing {verb:?}"));

    let (status, doc) = undo(&["--last", "--yes"], root);
    assert_eq!(status, 1, "undo of the undo of {verb:?}: {doc:#}");
    assert_same(&after, &snapshot(root, false), &format!("after undoing the undo of {verb:?}"));
}

#[test]
fn repair_undone_gives_back_the_damaged_tree_and_undone_again_the_repaired_one() {
    let tree = Tree::copy("damaged", OLD);
    // A hand-made torn manifest lives there on purpose (check's `backup` finding): it is
    // refused, which the hostile-manifest tests cover.
    std::fs::remove_dir_all(tree.path("damaged/projects/damaged-backup")).unwrap();
    round_trip(&tree.path("damaged"), &["repair", "--quiet"]);
}

#[test]
fn migrate_undone_gives_back_the_legacy_tree_and_undone_again_the_migrated_one() {
    let tree = Tree::copy("legacy", OLD);
    round_trip(&tree.path("legacy"), &["migrate", "--quiet"]);
}

/// clean removes stray temps without a backup (README says so): nothing it does is a session
/// undo could list or undo.
#[test]
fn clean_leaves_no_session_to_undo() {
    let tree = Tree::copy("damaged", OLD);
    let root = tree.path("damaged");
    let (_, before) = undo(&["--list"], &root);
    let output = scanaudit().args(["clean", "--older-than", "0s"]).arg(&root).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "clean removed nothing: {}", String::from_utf8_lossy(&output.stdout));
    let (status, after) = undo(&["--list"], &root);
    assert_eq!(status, 0);
    assert_eq!(before["scan_dirs"], after["scan_dirs"]);
}

#[test]
fn a_file_changed_after_the_repair_is_kept_and_the_rest_is_put_back() {
    let env = TestEnv::scan(FULL_SCAN);
    damage(&env.file("results.json"), Damage::Cut(0.5));
    damage(&env.file("pipeline_output.json"), Damage::Cut(0.5));
    env.age();
    let damaged_pipeline = env.read("pipeline_output.json");
    let (status, doc) = env.repair();
    assert_eq!(status & 8, 0, "{doc:#}");
    assert_ne!(env.read("pipeline_output.json"), damaged_pipeline);
    let later = b"{\"edited\": \"by hand after the repair\"}\n";
    std::fs::write(env.file("results.json"), later).unwrap();
    env.age();

    let (status, doc) = env.run("undo", &["--last", "--yes"]);
    assert_eq!(status, 1 | 4, "{doc:#}");
    assert_eq!(env.read("results.json"), later, "later work was overwritten");
    assert_eq!(env.read("pipeline_output.json"), damaged_pipeline, "the rest of the session was not put back");
    let kept = &doc["scan_dirs"][0]["unfixable"];
    let reason = kept[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("changed since the repair: kept; the backup is at "), "{doc:#}");
    let backup = PathBuf::from(reason.rsplit("the backup is at ").next().unwrap());
    assert!(backup.is_file(), "the backup named is not there: {}", backup.display());
}

/// SIGKILL at random moments while undo puts back the outputs of a large repaired scan (1,000
/// units, multi-MB files): every output is exactly the repaired file or exactly the damaged
/// original, and the next undo of the same session finishes the job. Each kill lands while
/// undo writes: it waits for the undo's own session to appear (its first write), then for a
/// random part of how long a reference undo wrote; kills that left the undo's session
/// unfinished are counted, and must be there. `SCANAUDIT_UNDO_KILLS` sets the count.
#[test]
fn killed_undos_leave_old_or_new_and_the_next_one_finishes() {
    let kills: usize = std::env::var("SCANAUDIT_UNDO_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let dir = tempfile::tempdir().unwrap();
    let scan = super::common::generated_scan(&dir.path().join("big"), 1000);
    for output in OUTPUTS {
        damage(&scan.join(output), Damage::Cut(0.6));
    }
    super::common::set_age(dir.path(), OLD);
    let damaged: Vec<Vec<u8>> = OUTPUTS.iter().map(|o| std::fs::read(scan.join(o)).unwrap()).collect();
    let (status, doc) = verb_json("repair", &[OsArg::from("--yes"), scan.clone().into()]);
    assert_eq!(status & 8, 0, "{doc:#}");
    let repaired: Vec<Vec<u8>> = OUTPUTS.iter().map(|o| std::fs::read(scan.join(o)).unwrap()).collect();
    let session = backup_sessions(&scan).into_iter().next().unwrap();
    let name = session.file_name().unwrap().to_str().unwrap().to_string();
    let undo_cmd = |scan: &Path| {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("scanaudit"));
        cmd.args(["undo", "--yes", "--quiet", "--session", &name])
            .arg(scan)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd
    };
    let reset = |scan: &Path| {
        for (output, bytes) in OUTPUTS.iter().zip(&repaired) {
            std::fs::write(scan.join(output), bytes).unwrap();
        }
        super::common::set_age(scan, OLD);
    };
    let window = super::common::writing_window(&mut undo_cmd(&scan), &scan);
    for (output, bytes) in OUTPUTS.iter().zip(&damaged) {
        assert!(std::fs::read(scan.join(output)).unwrap() == *bytes, "the reference undo did not put {output} back");
    }

    let mut rng = super::common::Rng(0x2545_f491_4f6c_dd1d);
    let mut mid_write = 0;
    for _ in 0..kills {
        reset(&scan);
        let before = backup_sessions(&scan);
        let mut child = undo_cmd(&scan).spawn().unwrap();
        wait_for_first_write(&mut child, &scan, &before);
        std::thread::sleep(Duration::from_micros(rng.next() % (window.as_micros() as u64 + 1)));
        let _ = child.kill();
        let _ = child.wait();
        for (i, output) in OUTPUTS.iter().enumerate() {
            let now = std::fs::read(scan.join(output)).unwrap();
            assert!(now == damaged[i] || now == repaired[i], "{output} is neither the repaired file nor the original");
        }
        mid_write += usize::from(backup_sessions(&scan).difference(&before).any(|s| !session_complete(s)));
    }
    eprintln!("{kills} kills, {mid_write} stopped an undo while it wrote; an undo writes for {window:?}");
    if kills >= 4 {
        assert!(mid_write > 0, "no kill landed while undo was writing");
    }
    let (status, doc) =
        verb_json("undo", &[OsArg::from("--yes"), "--session".into(), name.as_str().into(), scan.clone().into()]);
    assert_eq!(status & 8, 0, "{doc:#}");
    for (i, output) in OUTPUTS.iter().enumerate() {
        assert!(std::fs::read(scan.join(output)).unwrap() == damaged[i], "{output} after the final undo: {doc:#}");
    }
}

type OsArg = std::ffi::OsString;

/// A repaired scan dir and its one session's manifest, to be made hostile.
fn repaired() -> (TestEnv, PathBuf) {
    let env = TestEnv::scan(FULL_SCAN);
    env.damage("results.json", Damage::Cut(0.5));
    let (status, doc) = env.repair();
    assert_eq!(status & 8, 0, "{doc:#}");
    let session = backup_sessions(&env.scan).into_iter().next().expect("a session");
    (env, session)
}

fn edit_manifest(session: &Path, edit: impl FnOnce(&mut Value)) {
    let path = session.join("manifest.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut manifest);
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
}

/// Refused: the run names the manifest and what is wrong, and writes nothing at all.
fn assert_refused(env: &TestEnv, session: &Path, expect: &str, case: &str) {
    let before = snapshot(env.tree.root(), true);
    let output = scanaudit().args(["undo", "--last", "--yes"]).arg(&env.scan).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).replace('\n', " ");
    let stdout: String = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(output.status.code().map(|c| c & (1 | 4 | 8)), Some(4 | 8), "{case}: {stdout}");
    let manifest = session.join("manifest.json").display().to_string();
    let (status, doc) = env.run("undo", &["--last", "--yes"]);
    assert_eq!(status, 4 | 8, "{case}: {doc:#}");
    let reason = doc["scan_dirs"][0]["unfixable"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with(&format!("{manifest}: refused")), "{case}: {doc:#}");
    assert!(reason.contains(expect), "{case}: {reason:?} does not say {expect:?}");
    assert!(stdout.contains("refused"), "{case}: the table does not say it: {stdout}");
    assert_same(&before, &snapshot(env.tree.root(), true), case);
}

#[test]
fn hostile_manifests_are_refused_and_nothing_is_written() {
    let path_cases: [(&str, &str, &str); 4] = [
        ("../", "../../outside.json", "a `..` component"),
        ("absolute", "/etc/passwd", "an absolute path"),
        ("NUL", "results\u{0}.json", "a NUL byte"),
        ("own state", ".scanaudit/lock", "scanaudit's own state"),
    ];
    for (case, path, expect) in path_cases {
        let (env, session) = repaired();
        edit_manifest(&session, |m| m["changes"][0]["path"] = Value::from(path));
        assert_refused(&env, &session, expect, case);
    }

    let (env, session) = repaired();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), env.file("link")).unwrap();
    edit_manifest(&session, |m| m["changes"][0]["path"] = Value::from("link/results.json"));
    assert_refused(&env, &session, "is a symbolic link on the way", "symlink on the way");

    let (env, session) = repaired();
    let manifest = std::fs::read(session.join("manifest.json")).unwrap();
    std::fs::write(session.join("manifest.json"), &manifest[..manifest.len() / 2]).unwrap();
    assert_refused(&env, &session, "torn", "torn");

    let (env, session) = repaired();
    let copy = session.join("results.json");
    let mut bytes = std::fs::read(&copy).unwrap();
    bytes.extend_from_slice(b" ");
    std::fs::write(&copy, bytes).unwrap();
    assert_refused(&env, &session, "one of them was edited", "edited backup copy");

    let (env, session) = repaired();
    edit_manifest(&session, |m| m["entries"][0]["old_sha256"] = Value::from("0".repeat(64)));
    assert_refused(&env, &session, "one of them was edited", "edited manifest hash");
}

#[test]
fn list_shows_each_session_and_clean_backups_leaves_the_rest() {
    let (env, session) = repaired();
    let (status, doc) = env.run("undo", &["--list"]);
    assert_eq!(status, 0, "{doc:#}");
    let sessions = &doc["scan_dirs"][0]["sessions"];
    let first = &sessions[0];
    assert_eq!(first["session"], session.file_name().unwrap().to_str().unwrap());
    assert_eq!(first["path"], session.to_str().unwrap());
    assert_eq!(first["verb"], "repair");
    assert_eq!(first["complete"], true);
    assert_eq!(first["undoes"], Value::Null);
    assert_eq!(first["problem"], Value::Null);
    assert!(first["files"].as_u64().unwrap() >= 1 && first["bytes"].as_u64().unwrap() > 0, "{doc:#}");
    assert!(first["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(doc["scan_dirs"][0]["scan_dir"], env.scan.to_str().unwrap());

    let (status, doc) = env.run("undo", &["--last", "--yes"]);
    assert_eq!(status, 1, "{doc:#}");
    // The repair's session is made a year old: `clean --backups 30d` removes it, and the list
    // shows the undo's session that is left.
    let old = session.with_file_name("20251101T101010Z");
    std::fs::rename(&session, &old).unwrap();
    super::common::set_age(&old, Duration::from_secs(400 * 86_400));
    let (status, doc) = env.run("undo", &["--list"]);
    assert_eq!(status, 0);
    let sessions = doc["scan_dirs"][0]["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{doc:#}");
    assert_eq!(sessions[1]["verb"], "undo");
    assert_eq!(sessions[1]["undoes"], session.file_name().unwrap().to_str().unwrap());
    let output = scanaudit().args(["clean", "--backups", "30d"]).arg(&env.scan).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stdout));
    let (_, doc) = env.run("undo", &["--list"]);
    let left: Vec<&Value> = doc["scan_dirs"][0]["sessions"].as_array().unwrap().iter().collect();
    assert_eq!(left.len(), 1, "{doc:#}");
    assert_eq!(left[0]["verb"], "undo");
}

#[test]
fn a_dry_run_shows_the_plan_and_writes_nothing() {
    let (env, _) = repaired();
    let before = snapshot(env.tree.root(), true);
    let (status, doc) = env.run("undo", &["--last", "--dry-run"]);
    assert_eq!(status, 4, "{doc:#}");
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["applied"], false);
    let actions = doc["scan_dirs"][0]["actions"].as_array().unwrap();
    assert_eq!(actions[0]["undo"], "restore", "{doc:#}");
    assert_eq!(actions[0]["target"], env.file("results.json").to_str().unwrap());
    assert_same(&before, &snapshot(env.tree.root(), true), "dry run");

    let output = scanaudit().args(["undo", "--session", "20000101T000000Z", "--yes"]).arg(&env.scan).output().unwrap();
    assert_eq!(output.status.code(), Some(8));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no backup session 20000101T000000Z"));
}

/// A manifest written before `verb` and `changes` existed is still undone, for its files,
/// and the plan says what it cannot know.
#[test]
fn a_manifest_from_before_changes_were_recorded_is_undone_for_its_files() {
    let env = TestEnv::scan(FULL_SCAN);
    damage(&env.file("results.json"), Damage::Cut(0.5));
    env.age();
    let damaged = env.read("results.json");
    let (status, doc) = env.repair();
    assert_eq!(status & 8, 0, "{doc:#}");
    let session = backup_sessions(&env.scan).into_iter().next().unwrap();
    edit_manifest(&session, |m| {
        let m = m.as_object_mut().unwrap();
        for key in ["verb", "undoes", "changes"] {
            m.remove(key);
        }
        for entry in m["entries"].as_array_mut().unwrap() {
            entry.as_object_mut().unwrap().remove("mode");
        }
    });
    let (status, doc) = env.run("undo", &["--last", "--yes"]);
    assert_eq!(status, 1, "{doc:#}");
    assert_eq!(env.read("results.json"), damaged);
    let notes = doc["scan_dirs"][0]["actions"][0]["notes"].to_string();
    assert!(notes.contains("only its files are put back"), "{doc:#}");
}

/// A scan dir OpenAnt may be writing (a file scanaudit did not write changed within
/// --min-idle) is left alone, as repair leaves it.
#[test]
fn a_scan_dir_in_use_is_left_alone() {
    let (env, _) = repaired();
    let repaired_results = env.read("results.json");
    let dataset = env.file("dataset.json");
    std::fs::write(&dataset, std::fs::read(&dataset).unwrap()).unwrap();
    let (status, doc) = env.run("undo", &["--last", "--yes"]);
    assert_eq!(status, 4, "{doc:#}");
    assert_eq!(doc["scan_dirs"][0]["status"], "in-use", "{doc:#}");
    assert_eq!(env.read("results.json"), repaired_results);
}
