//! SIGKILL at random moments while migrate upgrades a large old scan (500 units: a
//! whole-dataset enhance checkpoint and the fork's analyze_checkpoint.json to split, private
//! outputs, no language level): every file is always an old file or a file the uninterrupted
//! migrate writes, never a torn one, and the next migrate, at once and with the default
//! --min-idle, finishes the job exactly. Each kill lands while migrate writes: it waits for the
//! run's first write (its backup session appearing), then for a random part of how long a
//! reference run wrote; kills that stopped a session unfinished are counted, and must be there.
//! Each run starts from a fresh copy of the old scan. `SCANAUDIT_MIGRATE_KILLS` sets the count.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::common::{
    backup_sessions, code, generated_scan, session_complete, wait_for_first_write, writing_window, Rng,
};
use super::files_of;

/// Fixed, long ago: `_summary.json` timestamps come from the legacy files' mtimes, so the
/// reference copy and the killed copy must agree on them.
const MTIME: i64 = 1_773_900_000;

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A generated current scan, turned into what older OpenAnt left behind.
fn old_big_scan(root: &Path) -> PathBuf {
    let scan = generated_scan(root, 500);

    // The fork's single-file analyze checkpoint (d3b1b84), instead of the per-unit dir.
    let results = read_json(&scan.join("results.json"));
    let mut counts = results["metrics"].clone();
    counts.as_object_mut().unwrap().remove("total");
    let analyze = json!({
        "results": results["results"],
        "code_by_route": results["code_by_route"],
        "counts": counts,
        "dataset": "dataset_enhanced.json",
        "model": results["model"],
    });
    std::fs::write(scan.join("analyze_checkpoint.json"), serde_json::to_vec_pretty(&analyze).unwrap()).unwrap();
    std::fs::remove_dir_all(scan.join("analyze_checkpoints")).unwrap();
    // Upstream's `enhance --checkpoint` whole-dataset file, instead of the per-unit dir.
    let mut enhanced = read_json(&scan.join("dataset_enhanced.json"));
    enhanced["metadata"]["checkpoint"] = json!(true);
    std::fs::write(scan.join("enhance_checkpoint.json"), serde_json::to_vec_pretty(&enhanced).unwrap()).unwrap();
    std::fs::remove_dir_all(scan.join("enhance_checkpoints")).unwrap();
    // The fork's atomic writer left these private.
    for name in ["results.json", "pipeline_output.json"] {
        std::fs::set_permissions(scan.join(name), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // Before 3b9ceeb: no language level.
    let run_dir = scan.parent().unwrap().to_path_buf();
    for entry in std::fs::read_dir(&scan).unwrap() {
        let entry = entry.unwrap();
        std::fs::rename(entry.path(), run_dir.join(entry.file_name())).unwrap();
    }
    std::fs::remove_dir(&scan).unwrap();
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.unwrap();
        if !entry.file_type().is_symlink() {
            filetime::set_file_mtime(entry.path(), filetime::FileTime::from_unix_time(MTIME, 0)).unwrap();
        }
    }
    root.join("projects")
}

fn migrate_bin(root: &Path) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("scanaudit"));
    cmd.args(["migrate", "--yes", "--quiet"]).arg(root).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// The scan dir of an old big scan: the run dir, where the single-file checkpoint is (and
/// where scanaudit keeps its state, language level or not).
fn run_dir(projects: &Path) -> PathBuf {
    walkdir::WalkDir::new(projects)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .find(|p| p.ends_with("analyze_checkpoint.json"))
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .expect("analyze_checkpoint.json")
}

/// `to` becomes an exact copy of `from` (modes kept, every mtime [`MTIME`]).
fn fresh_copy(from: &Path, to: &Path) {
    if to.exists() {
        std::fs::remove_dir_all(to).unwrap();
    }
    super::common::copy_dir(from, to);
    for entry in walkdir::WalkDir::new(to) {
        let entry = entry.unwrap();
        filetime::set_file_mtime(entry.path(), filetime::FileTime::from_unix_time(MTIME, 0)).unwrap();
    }
}

fn is_scanaudit_temp(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    name.starts_with('.') && name.ends_with(".tmp") && name.contains(".scanaudit-")
}

/// The files of `root` without the temp files a SIGKILL can leave (recognisable by name, and
/// what `scanaudit clean` removes).
fn settled_files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = files_of(root);
    files.retain(|path, _| !is_scanaudit_temp(path));
    files
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[test]
fn killed_migrations_leave_old_or_new_files_and_the_next_one_finishes() {
    let kills: usize = std::env::var("SCANAUDIT_MIGRATE_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(12);
    let work = tempfile::tempdir().unwrap();
    let pristine = old_big_scan(&work.path().join("pristine"));
    let root = work.path().join("big/projects");
    let reference = work.path().join("reference/projects");
    let old: HashSet<[u8; 32]> = files_of(&pristine).values().map(|b| digest(b)).collect();

    fresh_copy(&pristine, &reference);
    let window = writing_window(&mut migrate_bin(&reference), &run_dir(&reference));
    let migrated = settled_files(&reference);
    assert!(migrated != settled_files(&pristine), "the reference migrate changed nothing");
    let new: HashSet<[u8; 32]> = migrated.values().map(|b| digest(b)).collect();

    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut mid_write, mut partial) = (0, 0);
    for _ in 0..kills {
        fresh_copy(&pristine, &root);
        let scan = run_dir(&root);
        let before = backup_sessions(&scan);
        let mut child = migrate_bin(&root).spawn().unwrap();
        wait_for_first_write(&mut child, &scan, &before);
        std::thread::sleep(Duration::from_micros(rng.next() % (window.as_micros() as u64 + 1)));
        let _ = child.kill();
        let _ = child.wait();
        let now = files_of(&root);
        for (path, bytes) in &now {
            let hash = digest(bytes);
            assert!(
                old.contains(&hash) || new.contains(&hash) || is_scanaudit_temp(path),
                "{} is neither an old file nor one the migration writes",
                path.display()
            );
        }
        partial += usize::from(settled_files(&root) != migrated && now.len() != old.len());
        mid_write += usize::from(backup_sessions(&scan).difference(&before).any(|s| !session_complete(s)));
    }
    eprintln!(
        "{kills} kills, {mid_write} stopped a migrate while it wrote, {partial} left a partly migrated tree; \
         a migrate writes for {window:?}"
    );
    if kills >= 4 {
        assert!(mid_write > 0, "no kill landed while migrate was writing");
    }
    let output = migrate_bin(&root).output().unwrap();
    assert_eq!(code(&output) & 8, 0);
    assert!(settled_files(&root) == migrated, "the final migrate did not finish the job exactly");
    let again = migrate_bin(&root).status().unwrap();
    assert_eq!(again.code(), Some(0), "a finished migration plans nothing");
}
