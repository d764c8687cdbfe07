//! SIGKILL at random moments while migrate upgrades a large old scan (500 units: a
//! whole-dataset enhance checkpoint and the fork's analyze_checkpoint.json to split, private
//! outputs, no language level): every file is always an old file or a file the uninterrupted
//! migrate writes, never a torn one, and the next migrate finishes the job exactly.
//! `SCANAUDIT_MIGRATE_KILLS` sets the count.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::common::{code, generated_scan};
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
    cmd.args(["migrate", "--yes", "--quiet", "--min-idle", "0s"]).arg(root).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
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
    let root = old_big_scan(&work.path().join("big"));
    let reference = old_big_scan(&work.path().join("reference"));
    let old: HashSet<[u8; 32]> = files_of(&root).values().map(|b| digest(b)).collect();

    let started = Instant::now();
    let status = migrate_bin(&reference).status().unwrap();
    let took = started.elapsed();
    assert_eq!(status.code().unwrap() & 8, 0);
    assert_eq!(status.code().unwrap() & 1, 1, "the reference migrate changed nothing");
    let migrated = settled_files(&reference);
    let new: HashSet<[u8; 32]> = migrated.values().map(|b| digest(b)).collect();

    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut partial = 0;
    for _ in 0..kills {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = migrate_bin(&root).spawn().unwrap();
        std::thread::sleep(Duration::from_micros(seed % (took.as_micros() as u64 + 1)));
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
    }
    let output = migrate_bin(&root).output().unwrap();
    assert_eq!(code(&output) & 8, 0);
    assert!(settled_files(&root) == migrated, "the final migrate did not finish the job exactly");
    let again = migrate_bin(&root).status().unwrap();
    assert_eq!(again.code(), Some(0), "a finished migration plans nothing");
    eprintln!("{kills} kills, {partial} left a partly migrated tree; one migrate takes {took:?}");
}
