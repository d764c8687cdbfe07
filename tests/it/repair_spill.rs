//! Repair's plan moves what it will write out of memory into unnamed files (`O_TMPFILE`) in the
//! scan dir (src/spill.rs; the outputs rebuilt from a document written into them as they are
//! serialized), and its apply links each in as the atomic writer's temp file (or copies it
//! into one where linking is refused): the same bytes, backups and manifest hashes as when they stay in memory; a refused unnamed file
//! keeps them in memory; and a declined or failed apply leaves nothing in the scan dir.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use scanaudit::backup::sha256_hex;
use scanaudit::repair::{self, ActionKind, ActionOutcome, Holding, Plan};
use scanaudit::spill::{Contents, MemoryBudget};
use serde_json::Value;

use crate::common::{self, alone, backup_sessions, scanaudit, Damage, TestEnv, OUTPUTS};

/// A copy of the full scan with every output torn, and pipeline_output.json's complete temp
/// beside it (so one action promotes a temp).
fn damaged() -> TestEnv {
    let env = TestEnv::scan(common::FULL_SCAN);
    for output in OUTPUTS {
        let how = if output == "pipeline_output.json" { Damage::TempBeside } else { Damage::Cut(0.5) };
        env.damage(output, how);
    }
    env
}

fn plan_of(env: &TestEnv, holding: Holding) -> Plan {
    let dir = repair::plan::plan_dir(&env.scan, Duration::from_secs(60), SystemTime::now(), holding);
    Plan { scan_dirs: vec![dir], walk_errors: Vec::new() }
}

/// Each write action's target and the bytes it will write.
fn planned_writes(plan: &Plan) -> Vec<(PathBuf, Vec<u8>)> {
    let writes: Vec<_> = plan.scan_dirs[0]
        .actions
        .iter()
        .filter(|a| a.action != ActionKind::Quarantine)
        .map(|a| (a.target.clone(), a.contents.as_ref().expect("contents").bytes().unwrap().into_owned()))
        .collect();
    assert!(writes.len() >= 5, "every output is written: {writes:?}");
    writes
}

fn spilled(plan: &Plan) -> Vec<bool> {
    plan.scan_dirs[0].actions.iter().filter_map(|a| a.contents.as_ref()).map(Contents::is_spilled).collect()
}

fn apply_all_done(plan: &Plan) {
    let applied = repair::apply(plan, &AtomicBool::new(false));
    let results = &applied.dirs[0].results;
    assert!(results.iter().all(|r| matches!(r, ActionOutcome::Done)), "{results:?}");
}

/// The session's manifest with what differs between two runs (times, the scan dir) taken out.
fn manifest(scan: &Path) -> Value {
    let sessions = backup_sessions(scan);
    assert_eq!(sessions.len(), 1, "one backup session");
    let session = sessions.first().unwrap();
    let mut doc: Value = serde_json::from_slice(&std::fs::read(session.join("manifest.json")).unwrap()).unwrap();
    for key in ["scan_dir", "created_at"] {
        doc.as_object_mut().unwrap().remove(key);
    }
    for entry in doc["entries"].as_array_mut().unwrap() {
        entry.as_object_mut().unwrap().remove("backed_up_at");
    }
    doc
}

/// Every file below `root` (symlinks as such), with its bytes.
fn listing(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().strip_prefix(root).unwrap().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect()
}

/// This process's open files in `dir` (an unnamed file shows as `dir/#inode (deleted)`).
fn open_files_in(dir: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.parent() == Some(dir))
        .count()
}

/// The spilled plan writes exactly what the in-memory one writes, and its backups and
/// manifest (old and new hashes, what was written, every change) are the same.
#[test]
fn spilled_contents_write_the_bytes_and_hashes_in_memory_contents_do() {
    alone!(spilled_contents_write_the_bytes_and_hashes_in_memory_contents_do);
    let (spilling, keeping) = (damaged(), damaged());
    let spilled_plan = plan_of(&spilling, Holding::Spilled(MemoryBudget::new(0)));
    assert!(spilled(&spilled_plan).iter().all(|s| *s), "every write's bytes are spilled");
    let writes = planned_writes(&spilled_plan);
    assert_eq!(open_files_in(&spilling.scan), writes.len(), "one unnamed file per write, in the scan dir");
    // The in-memory plan of the other copy, given the same bytes (rebuilt outputs carry the
    // time they were built).
    let mut kept_plan = plan_of(&keeping, Holding::Memory);
    assert!(spilled(&kept_plan).iter().all(|s| !*s), "a plan held in memory spills nothing");
    for action in &mut kept_plan.scan_dirs[0].actions {
        if let Some((_, bytes)) = writes.iter().find(|(target, _)| target.file_name() == action.target.file_name()) {
            action.contents = Some(Contents::from(bytes.clone()));
        }
    }
    apply_all_done(&spilled_plan);
    apply_all_done(&kept_plan);
    for (target, bytes) in &writes {
        assert!(std::fs::read(target).unwrap() == *bytes, "{} holds what was planned", target.display());
        let other = keeping.scan.join(target.file_name().unwrap());
        assert!(std::fs::read(other).unwrap() == *bytes, "{} is the same from memory", target.display());
    }
    let (spilled_manifest, kept_manifest) = (manifest(&spilling.scan), manifest(&keeping.scan));
    assert_eq!(spilled_manifest, kept_manifest);
    for (target, bytes) in &writes {
        let name = target.file_name().unwrap().to_str().unwrap();
        let hash = sha256_hex(bytes);
        let written = spilled_manifest["written"].as_array().unwrap();
        assert!(written.iter().any(|w| w["path"] == name && w["sha256"] == hash.as_str()), "{name}: {written:?}");
    }
    let entries = spilled_manifest["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["new_sha256"].is_string()), "replacements record their new hash");
    let backups =
        |scan: &Path| listing(&scan.join(".scanaudit")).into_iter().filter(|(p, _)| !p.ends_with("manifest.json"));
    let strip = |scan: &Path| -> Vec<_> {
        backups(scan).map(|(p, b)| (p.components().skip(2).collect::<PathBuf>(), b)).collect()
    };
    assert!(strip(&spilling.scan) == strip(&keeping.scan), "the same backup copies");
    drop(spilled_plan);
    assert_eq!(open_files_in(&spilling.scan), 0, "the unnamed files went with the plan");
}

/// A plan keeps its bytes in memory while its budget lasts, and spills each output past it:
/// with room for everything nothing is spilled, with room for the first write only the rest
/// is, and the apply writes the same bytes either way.
#[test]
fn a_plan_spills_only_past_its_memory_budget() {
    let roomy = plan_of(&damaged(), Holding::Spilled(MemoryBudget::new(u64::MAX)));
    assert!(spilled(&roomy).iter().all(|s| !*s), "all in memory: {:?}", spilled(&roomy));
    let writes = planned_writes(&roomy);
    let first = writes[0].1.len() as u64;
    let env = damaged();
    let tight = plan_of(&env, Holding::Spilled(MemoryBudget::new(first)));
    let spilled = spilled(&tight);
    assert!(!spilled[0] && spilled[1..].iter().all(|s| *s), "only past the budget: {spilled:?}");
    let tight_writes = planned_writes(&tight);
    assert!(tight_writes.iter().map(|w| &w.1).eq(writes.iter().map(|w| &w.1)), "the same bytes either way");
    apply_all_done(&tight);
    for (target, bytes) in &tight_writes {
        assert!(std::fs::read(target).unwrap() == *bytes, "{}", target.display());
    }
}

/// Where the filesystem refuses an unnamed file, the bytes stay in memory and are written the
/// same way.
#[test]
fn a_refused_unnamed_file_keeps_the_bytes_in_memory() {
    alone!(a_refused_unnamed_file_keeps_the_bytes_in_memory);
    let env = damaged();
    fail::cfg("spill::create", "return").unwrap();
    let plan = plan_of(&env, Holding::Spilled(MemoryBudget::new(0)));
    fail::remove("spill::create");
    assert!(spilled(&plan).iter().all(|s| !*s), "nothing spilled");
    assert_eq!(open_files_in(&env.scan), 0);
    let writes = planned_writes(&plan);
    apply_all_done(&plan);
    let manifest = manifest(&env.scan);
    for (target, bytes) in &writes {
        assert!(std::fs::read(target).unwrap() == *bytes, "{}", target.display());
        let name = target.file_name().unwrap().to_str().unwrap();
        let written = manifest["written"].as_array().unwrap();
        assert!(written.iter().any(|w| w["path"] == name && w["sha256"] == sha256_hex(bytes).as_str()), "{name}");
    }
    let (_, check) = env.check();
    let left: Vec<&Value> = common::findings(&check).iter().filter(|f| f["kind"] != "backup").collect();
    assert!(left.is_empty(), "check after repair: {left:#?}");
}

/// Where writes into unnamed files fail (the disk is full), every output stays in memory, the
/// same bytes as when they succeed, and the apply writes them. Outputs rebuilt from a document
/// (dataset_enhanced.json, results.json here) are written into their unnamed file as they are
/// serialized: what it holds when a write fails is read back.
#[test]
fn a_failed_write_into_an_unnamed_file_keeps_the_text_in_memory() {
    alone!(a_failed_write_into_an_unnamed_file_keeps_the_text_in_memory);
    let env = damaged();
    let written = plan_of(&env, Holding::Spilled(MemoryBudget::new(0)));
    assert!(spilled(&written).iter().all(|s| *s));
    // Rebuilt outputs carry the time they were built: lines that say it are left out.
    let timeless = |bytes: &[u8]| -> Vec<Vec<u8>> {
        bytes.split(|b| *b == b'\n').filter(|l| !l.windows(4).any(|w| w == b"time")).map(<[u8]>::to_vec).collect()
    };
    // dataset_enhanced.json's first piece goes in (and is read back), or nothing does.
    for failing in ["1*off->return", "return"] {
        fail::cfg("spill::write", failing).unwrap();
        let plan = plan_of(&env, Holding::Spilled(MemoryBudget::new(0)));
        fail::remove("spill::write");
        assert!(spilled(&plan).iter().all(|s| !*s), "{failing}: all in memory: {:?}", spilled(&plan));
        let writes = planned_writes(&plan);
        for ((target, bytes), (_, want)) in writes.iter().zip(planned_writes(&written)) {
            assert!(timeless(bytes) == timeless(&want), "{failing}: {}: the same bytes", target.display());
        }
        if failing == "return" {
            apply_all_done(&plan);
            for (target, bytes) in &writes {
                assert!(std::fs::read(target).unwrap() == *bytes, "{}", target.display());
            }
        }
    }
    drop(written);
    assert_eq!(open_files_in(&env.scan), 0);
}

/// A plan the user declines leaves the scan dir exactly as it was.
#[test]
fn a_declined_plan_leaves_nothing() {
    let env = damaged();
    let before = listing(env.tree.root());
    // Off a terminal, without --yes: planned, shown, not applied (its writes fit the memory
    // budget, so they stay in memory).
    let output = scanaudit().arg("repair").arg(&env.scan).output().unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("regenerate"));
    assert!(listing(env.tree.root()) == before, "nothing written, nothing left");
    // Every write spilled, then the plan dropped unapplied: the unnamed files leave nothing.
    let plan = plan_of(&env, Holding::Spilled(MemoryBudget::new(0)));
    assert!(spilled(&plan).iter().all(|s| *s), "every write spilled: {:?}", spilled(&plan));
    assert!(open_files_in(&env.scan) > 0, "the unnamed files are open while the plan lives");
    drop(plan);
    assert_eq!(open_files_in(&env.scan), 0);
    assert!(listing(env.tree.root()) == before, "nothing written, nothing left");
}

/// A failed apply leaves no temp file, and once the plan is gone no unnamed file either.
#[test]
fn a_failed_apply_leaves_nothing_but_the_backup() {
    alone!(a_failed_apply_leaves_nothing_but_the_backup);
    let env = damaged();
    let before = listing(env.tree.root());
    let plan = plan_of(&env, Holding::Spilled(MemoryBudget::new(0)));
    assert!(spilled(&plan).iter().all(|s| *s));
    for failpoint in ["atomic::write", "atomic::validate", "atomic::rename"] {
        fail::cfg(failpoint, "return").unwrap();
        let applied = repair::apply(&plan, &AtomicBool::new(false));
        fail::remove(failpoint);
        let results = &applied.dirs[0].results;
        assert!(matches!(results[0], ActionOutcome::Failed(_)), "{failpoint}: {results:?}");
        let after: BTreeMap<_, _> = listing(env.tree.root())
            .into_iter()
            .filter(|(p, _)| !p.to_string_lossy().contains("/.scanaudit/"))
            .collect();
        assert!(after == before, "{failpoint}: nothing but the backup dir changed");
    }
    drop(plan);
    assert_eq!(open_files_in(&env.scan), 0);
}

/// Spilled contents are validated as read back before they replace anything: a torn document
/// in the place of a rebuilt one is refused with what is wrong with it, and the target and the
/// rest of the scan dir stay as they were.
#[test]
fn a_spilled_document_that_does_not_validate_is_refused() {
    alone!(a_spilled_document_that_does_not_validate_is_refused);
    let env = damaged();
    let mut plan = plan_of(&env, Holding::Spilled(MemoryBudget::new(0)));
    let first = &mut plan.scan_dirs[0].actions[0];
    let planned = first.contents.as_ref().unwrap().bytes().unwrap().into_owned();
    first.contents = Some(Contents::hold(planned[..planned.len() / 2].to_vec(), Some(&env.scan)));
    assert!(first.contents.as_ref().unwrap().is_spilled());
    let target = first.target.clone();
    let before = std::fs::read(&target).unwrap_or_default();
    let applied = repair::apply(&plan, &AtomicBool::new(false));
    let results = &applied.dirs[0].results;
    match &results[0] {
        ActionOutcome::Failed(why) => assert!(why.contains("truncated"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(std::fs::read(&target).unwrap_or_default() == before, "left as it was");
    let names: Vec<String> =
        std::fs::read_dir(&env.scan).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.contains(".scanaudit-")), "no temp left: {names:?}");
}
