//! `scanaudit repair` end to end on copies of the healthy reference scans: damage an output
//! the ways real damage happens, repair, compare with the reference bytes; then check is clean
//! and a second repair does nothing (e2fsck's two-pass test). Plus the safety rules.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{
    actions, code, damage, named_fields, scanaudit, strip_evidence, verb_json, Damage, TestEnv, Tree, OLD, OUTPUTS,
};
use serde_json::Value;

const SCAN: &str = common::FULL_SCAN;

const DAMAGES: [Damage; 7] = [
    Damage::Missing,
    Damage::Empty,
    Damage::Cut(0.03),
    Damage::Cut(0.5),
    Damage::Cut(0.97),
    Damage::ZeroTail(0.4),
    Damage::TempBeside,
];

fn repair_json(args: &[&str]) -> (i32, Value) {
    verb_json("repair", args)
}

/// Every output, damaged every way, comes back as the reference: byte for byte when the old
/// file still held the fields no checkpoint records, and otherwise equal apart from exactly
/// the fields the plan names. `dynamic_test_results.json` keeps the evidence the checkpoints
/// hold, which OpenAnt's own resume drops.
#[test]
fn every_output_damaged_every_way_is_rebuilt() {
    for output in OUTPUTS {
        for how in DAMAGES {
            let env = TestEnv::scan(SCAN);
            let reference = env.read(output);
            env.damage(output, how);
            env.assert_rebuilt(output, &reference, &format!("{output} {how:?}"));
            if matches!(how, Damage::TempBeside) && output != "dynamic_test_results.json" {
                assert!(env.read(output) == reference, "a promoted temp is the file itself: {output}");
            }
        }
    }
}

#[test]
fn replaced_files_are_backed_up_with_a_manifest() {
    let env = TestEnv::scan(SCAN);
    let scan = &env.scan;
    let target = scan.join("results.json");
    damage(&target, Damage::Cut(0.5));
    let torn = std::fs::read(&target).unwrap();
    env.age();
    let (status, doc) = env.repair();
    assert_eq!(status & 1, 1);
    let backup_dir = PathBuf::from(doc["scan_dirs"][0]["backup_dir"].as_str().expect("a backup dir"));
    let backup_dir = if backup_dir.is_absolute() { backup_dir } else { scan.join(backup_dir) };
    assert_eq!(std::fs::read(backup_dir.join("results.json")).unwrap(), torn);
    let manifest: Value = serde_json::from_slice(&std::fs::read(backup_dir.join("manifest.json")).unwrap()).unwrap();
    let entry = &manifest["entries"][0];
    assert_eq!((entry["path"].as_str(), entry["action"].as_str()), (Some("results.json"), Some("regenerate")));
    assert_eq!(entry["old_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(entry["new_sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn plan_only_without_yes_off_a_terminal_and_with_dry_run() {
    for extra in [&[][..], &["--dry-run"][..]] {
        let env = TestEnv::scan(SCAN);
        let scan = &env.scan;
        let target = scan.join("pipeline_output.json");
        damage(&target, Damage::Empty);
        env.age();
        let output = scanaudit().arg("repair").args(extra).arg(scan).output().unwrap();
        assert_eq!(code(&output), 4, "{}", String::from_utf8_lossy(&output.stderr));
        assert!(String::from_utf8_lossy(&output.stdout).contains("regenerate"));
        assert_eq!(std::fs::read(&target).unwrap(), b"", "nothing written");
        assert!(!scan.join(".scanaudit").exists(), "no state created by a plan-only run");
    }
}

/// A scan dir in use is left alone: a running scan, a recent write, or another scanaudit.
#[test]
fn scan_dirs_in_use_are_skipped() {
    type MakeBusy = fn(&Path);
    let cases: [(&str, MakeBusy); 2] = [
        ("meta running", |scan| {
            let meta = scan.parent().unwrap().join("meta.json");
            let text = std::fs::read_to_string(&meta).unwrap().replace("\"success\"", "\"running\"");
            std::fs::write(meta, text).unwrap();
        }),
        ("recent write", |scan| std::fs::write(scan.join("notes.txt"), "just now").unwrap()),
    ];
    for (name, make_busy) in cases {
        let tree = Tree::copy("healthy", OLD);
        let scan = tree.path(SCAN);
        damage(&scan.join("results.json"), Damage::Cut(0.5));
        common::set_age(tree.root(), OLD);
        make_busy(&scan);
        let torn = std::fs::read(scan.join("results.json")).unwrap();
        let (status, doc) = repair_json(&["--yes", scan.to_str().unwrap()]);
        assert_eq!(status, 4, "{name}: {doc:#}");
        assert_eq!(doc["scan_dirs"][0]["status"], "in-use", "{name}");
        assert_eq!(std::fs::read(scan.join("results.json")).unwrap(), torn, "{name}");
    }
    // A healthy dir in use is simply healthy.
    let tree = Tree::copy("healthy", OLD);
    let scan = tree.path(SCAN);
    std::fs::write(scan.join("notes.txt"), "just now").unwrap();
    assert_eq!(repair_json(&["--yes", scan.to_str().unwrap()]).0, 0);
}

#[test]
fn another_scanaudit_holding_the_lock_is_respected() {
    use std::os::unix::io::AsRawFd;
    let env = TestEnv::scan(SCAN);
    let scan = &env.scan;
    env.damage("results.json", Damage::Cut(0.5));
    std::fs::create_dir(scan.join(".scanaudit")).unwrap();
    let lock = std::fs::File::create(scan.join(".scanaudit/lock")).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
    let torn = std::fs::read(scan.join("results.json")).unwrap();
    let (status, doc) = env.repair();
    assert_eq!(status & 4, 4, "{doc:#}");
    assert_eq!(status & 1, 0, "{doc:#}");
    assert_eq!(std::fs::read(scan.join("results.json")).unwrap(), torn);
    drop(lock);
}

/// Damaged inputs: nothing is rebuilt from them, the plan says why, and nothing is written.
#[test]
fn damaged_inputs_are_never_rebuilt_from() {
    let env = TestEnv::scan(SCAN);
    let scan = &env.scan;
    env.damage("dataset.json", Damage::Cut(0.5));
    env.damage("dataset_enhanced.json", Damage::Missing);
    let (status, doc) = env.repair();
    assert_eq!(status & 4, 4, "{doc:#}");
    assert!(!scan.join("dataset_enhanced.json").exists(), "nothing written from a torn dataset.json");
    let unfixable = doc["scan_dirs"][0]["unfixable"].as_array().unwrap();
    let reason = unfixable[0]["reason"].as_str().unwrap();
    assert!(reason.contains("dataset.json is damaged"), "{reason}");
}

/// Unit ids are data: an id that looks like a path never becomes one.
#[test]
fn a_unit_id_like_a_path_stays_data() {
    let env = TestEnv::scan(SCAN);
    let scan = &env.scan;
    let checkpoints = scan.join("analyze_checkpoints");
    let any = std::fs::read_dir(&checkpoints)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| !p.ends_with("_summary.json"))
        .unwrap();
    let mut cp: Value = serde_json::from_slice(&std::fs::read(&any).unwrap()).unwrap();
    cp["id"] = Value::from("../../../../x");
    std::fs::write(checkpoints.join("..__..__..__..__x.json"), serde_json::to_vec(&cp).unwrap()).unwrap();
    env.damage("results.json", Damage::Missing);
    let before = listing(env.tree.root());
    let (status, doc) = env.repair();
    assert_eq!(status & 8, 0, "{doc:#}");
    let after = listing(env.tree.root());
    let new: Vec<&PathBuf> = after.iter().filter(|p| !before.contains(p)).collect();
    assert!(new.iter().all(|p| p.starts_with(scan)), "written outside the scan dir: {new:?}");
    assert!(scan.join("results.json").exists());
}

fn listing(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root).into_iter().map(|e| e.unwrap().path().to_path_buf()).collect()
}

/// SIGKILL at random moments while repair writes the outputs of a large generated scan
/// (1,000 units, multi-MB files): every output is exactly the damaged original or exactly what
/// an uninterrupted repair writes, and the next repair, at once and with the default
/// --min-idle, completes. Each kill lands while repair writes: it waits for the run's first
/// write (its backup session appearing), then for a random part of how long a reference run
/// wrote; kills that stopped a session unfinished are counted, and must be there. Each run
/// starts from the damaged outputs. `SCANAUDIT_REPAIR_KILLS` sets the count.
#[test]
fn killed_repairs_leave_old_or_new_and_the_next_one_completes() {
    let kills: usize = std::env::var("SCANAUDIT_REPAIR_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let dir = tempfile::tempdir().unwrap();
    let scan = common::generated_scan(&dir.path().join("big"), 1000);
    for output in OUTPUTS {
        damage(&scan.join(output), Damage::Cut(0.6));
    }
    common::set_age(dir.path(), OLD);
    let damaged: Vec<Vec<u8>> = OUTPUTS.iter().map(|o| std::fs::read(scan.join(o)).unwrap()).collect();
    let repair = |scan: &Path| {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("scanaudit"));
        cmd.args(["repair", "--yes", "--quiet"])
            .arg(scan)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd
    };

    // What an uninterrupted repair writes, and how long it writes, from an identical copy.
    let reference_dir = dir.path().join("reference");
    copy_tree(&scan, &reference_dir);
    let window = common::writing_window(&mut repair(&reference_dir), &reference_dir);
    let repaired: Vec<Vec<u8>> = OUTPUTS.iter().map(|o| std::fs::read(reference_dir.join(o)).unwrap()).collect();
    assert!(damaged.iter().zip(&repaired).all(|(d, r)| d != r));

    let mut rng = common::Rng(0x9e37_79b9_7f4a_7c15);
    let (mut mid_write, mut mixed) = (0, 0);
    for _ in 0..kills {
        for (output, bytes) in OUTPUTS.iter().zip(&damaged) {
            std::fs::write(scan.join(output), bytes).unwrap();
        }
        common::set_age(&scan, OLD);
        let before = common::backup_sessions(&scan);
        let mut child = repair(&scan).spawn().unwrap();
        common::wait_for_first_write(&mut child, &scan, &before);
        std::thread::sleep(Duration::from_micros(rng.next() % (window.as_micros() as u64 + 1)));
        let _ = child.kill();
        let _ = child.wait();
        let mut states = Vec::new();
        for (i, output) in OUTPUTS.iter().enumerate() {
            let now = std::fs::read(scan.join(output)).unwrap();
            assert!(now == damaged[i] || now == repaired[i], "{output} is neither the damaged original nor the repair");
            states.push(now == repaired[i]);
        }
        mixed += usize::from(states.iter().any(|s| *s) && states.iter().any(|s| !*s));
        let sessions = common::backup_sessions(&scan);
        mid_write += usize::from(sessions.difference(&before).any(|s| !common::session_complete(s)));
    }
    eprintln!(
        "{kills} kills, {mid_write} stopped a repair while it wrote, {mixed} left a mix of repaired and damaged \
         outputs; a repair writes for {window:?}"
    );
    if kills >= 4 {
        assert!(mid_write > 0, "no kill landed while repair was writing");
    }
    let (status, doc) = repair_json(&["--yes", scan.to_str().unwrap()]);
    assert_eq!(status & 8, 0, "{doc:#}");
    for (i, output) in OUTPUTS.iter().enumerate() {
        assert!(std::fs::read(scan.join(output)).unwrap() == repaired[i], "{output} after the final repair: {doc:#}");
    }
}

fn copy_tree(from: &Path, to: &Path) {
    common::copy_dir(from, to);
    common::set_age(to, OLD);
}

/// Every finding check sends to `scanaudit repair` (cross-file ones included: stale outputs,
/// metrics that disagree, finding-id gaps, missing outputs) is gone after one repair, and a
/// second repair does nothing.
#[test]
fn every_finding_check_sends_to_repair_is_fixed_by_it() {
    let tree = Tree::copy("damaged", OLD);
    let projects = tree.path("damaged/projects");
    let mut exercised = 0;
    for entry in std::fs::read_dir(&projects).unwrap() {
        let project = entry.unwrap().path();
        let (_, before) = common::check_json(&[project.to_str().unwrap()]);
        let for_repair: Vec<(String, String)> = common::findings(&before)
            .iter()
            .filter(|f| f["fix"].as_str().is_some_and(|fix| fix.starts_with("scanaudit repair")))
            .map(|f| (f["kind"].as_str().unwrap().to_string(), f["path"].as_str().unwrap().to_string()))
            .collect();
        if for_repair.is_empty() {
            continue;
        }
        exercised += for_repair.len();
        let (status, doc) = repair_json(&["--yes", project.to_str().unwrap()]);
        assert_eq!(status & 8, 0, "{}: {doc:#}", project.display());
        let (_, after) = common::check_json(&[project.to_str().unwrap()]);
        let left: Vec<&(String, String)> = for_repair
            .iter()
            .filter(|(kind, path)| {
                common::findings(&after).iter().any(|f| f["kind"] == kind.as_str() && f["path"] == path.as_str())
            })
            .collect();
        assert!(left.is_empty(), "{}: repair left {left:?}\n{doc:#}", project.display());
        let (_, again) = repair_json(&["--yes", project.to_str().unwrap()]);
        assert_eq!(actions(&again).len(), 0, "{}: second repair {again:#}", project.display());
    }
    assert!(exercised >= 20, "only {exercised} findings pointed at repair");
}

/// Checkpoints of another era: the fork's scan keeps its enhance checkpoints in the misnamed
/// `dataset_enhanced_checkpoint_checkpoints/` beside current per-unit analyze/verify/dynamic
/// dirs, and writes results the fork's way (sorted by unit id, `insufficient_context`,
/// ASCII-escaped verified results with `code_by_route`). Damaged outputs come back as the fork
/// wrote them.
#[test]
fn fork_era_checkpoints_rebuild_fork_era_outputs() {
    fork_outputs_come_back("legacy/projects/forkproj/scans/5c3855e0a1b/python", |scan| {
        scan.join("dataset_enhanced_checkpoint_checkpoints").is_dir()
    });
}

/// Each of the fork's outputs of the fork scan `scan` (whose enhance checkpoints `layout`
/// asserts where they are), cut, comes back as the fork wrote it, byte for byte.
fn fork_outputs_come_back(scan: &str, layout: fn(&Path) -> bool) {
    for output in ["dataset_enhanced.json", "results.json", "results_verified.json"] {
        let env = TestEnv::scan(scan);
        assert!(layout(&env.scan), "{scan}: not the fork's enhance checkpoint layout");
        let reference = env.read(output);
        let (status, doc) = env.damage(output, Damage::Cut(0.7)).repair();
        assert_eq!(status & 8, 0, "{output}: {doc:#}");
        assert!(env.read(output) == reference, "{output} is not what the fork wrote: {doc:#}");
    }
}

/// Tears a checkpoint: the first half of its bytes, as a kill mid-write leaves it.
fn tear(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
}

/// Cuts `path` right after the first `results` entry that holds `needle` (Python's indent-2
/// layout closes an element of the top-level `results` list with a `}` at four spaces).
fn cut_after_entry(path: &Path, needle: &str) {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let at = text.find(needle).unwrap_or_else(|| panic!("{needle} not in {}", path.display()));
    let end = at + text[at..].find("\n    }").unwrap() + "\n    }".len();
    std::fs::write(path, &bytes[..end]).unwrap();
}

/// The notes of the action on `output`.
fn notes_of(doc: &Value, output: &str) -> Vec<String> {
    let action = actions(doc)
        .into_iter()
        .find(|a| a["target"].as_str().unwrap().ends_with(output))
        .unwrap_or_else(|| panic!("no action on {output}: {doc:#}"));
    action["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
}

/// After a repair that carried a result over: `check` asks nothing more of repair and only
/// warns that OpenAnt redoes the unit whose checkpoint was quarantined, and a second repair
/// does nothing (the two-pass test).
fn settled(scan: &Path, verb: &str) {
    let (_, check) = common::check_json(&[scan.to_str().unwrap()]);
    for f in common::findings(&check) {
        assert!(matches!(f["level"].as_str(), Some("warn" | "info")), "{f:#}");
        assert!(!f["fix"].as_str().is_some_and(|fix| fix.starts_with("scanaudit repair")), "{f:#}");
    }
    let redo = format!("openant {verb}");
    assert!(
        common::findings(&check).iter().any(|f| f["kind"] == "run-incomplete" && f["fix"] == redo.as_str()),
        "{check:#}"
    );
    let (again, doc) = repair_json(&["--yes", scan.to_str().unwrap()]);
    assert_eq!((again, actions(&doc).len()), (0, 0), "second repair: {doc:#}");
}

/// Repairs `env`'s scan dir and asserts that `output` came back as `reference`, byte for byte,
/// with a note that starts with `note`; then, for a unit OpenAnt's `verb` redoes, that the
/// scan is settled. Returns repair's document.
fn carried_over(env: &TestEnv, output: &str, reference: &[u8], note: &str, verb: Option<&str>) -> Value {
    let (status, doc) = env.repair();
    assert_eq!(status & 9, 1, "{doc:#}");
    assert!(env.read(output) == reference, "{doc:#}");
    assert!(notes_of(&doc, output).iter().any(|n| n.starts_with(note)), "{note}: {doc:#}");
    if let Some(verb) = verb {
        settled(&env.scan, verb);
    }
    doc
}

/// A torn analyze checkpoint and a results.json cut after that unit's entry: the rebuilt file
/// keeps the old entry and is byte for byte the original, the checkpoint is quarantined. The
/// unit then has no checkpoint at all; a later rebuild still keeps its result.
#[test]
fn a_torn_analyze_checkpoint_keeps_its_old_result() {
    const UNIT: &str = "app/db/queries.py:run_query";
    let env = TestEnv::scan(SCAN);
    let checkpoint = env.file("analyze_checkpoints/app__db__queries.py_run_query.json");
    let reference = env.read("results.json");
    tear(&checkpoint);
    cut_after_entry(&env.file("results.json"), &format!("\"unit_id\": \"{UNIT}\""));
    let note = format!("unit {UNIT}: carried over from the old results.json: its checkpoint is torn");
    carried_over(env.age(), "results.json", &reference, &note, Some("analyze"));
    assert!(!checkpoint.exists(), "the torn checkpoint is quarantined");

    cut_after_entry(&env.file("results.json"), &format!("\"unit_id\": \"{UNIT}\""));
    let note = format!("unit {UNIT}: carried over from the old results.json: it has no analyze checkpoint");
    carried_over(env.age(), "results.json", &reference, &note, Some("analyze"));
}

/// A complete results.json that is stale (older than the run its checkpoints finished) is
/// rebuilt; the unit whose checkpoint is torn keeps its entry, code_by_route included.
#[test]
fn a_stale_results_json_keeps_the_result_of_a_torn_checkpoint() {
    let env = TestEnv::scan(SCAN);
    let reference = env.read("results.json");
    tear(&env.file("analyze_checkpoints/app__routes__files.py_download_file.json"));
    env.age();
    // Older than analyze_checkpoints/_summary.json, by mtime and by its recorded timestamp.
    filetime::set_file_mtime(env.file("results.json"), filetime::FileTime::from_unix_time(1_767_225_600, 0)).unwrap();
    let (_, check) = env.check();
    assert!(common::findings(&check).iter().any(|f| f["kind"] == "output-stale"), "{check:#}");
    let note = "unit app/routes/files.py:download_file: carried over from the old results.json: its checkpoint is torn";
    carried_over(&env, "results.json", &reference, note, Some("analyze"));
}

/// The fork sorts results by unit id: a carried-over entry goes where the fork put it.
#[test]
fn a_torn_fork_checkpoint_keeps_its_old_result_in_unit_id_order() {
    let env = TestEnv::scan("legacy/projects/forkproj/scans/5c3855e0a1b/python");
    let reference = env.read("results.json");
    // The second result that is not an error (an error result's code_by_route entry goes last).
    let unit = env.json("results.json")["results"].as_array().unwrap()[1..]
        .iter()
        .find(|r| r["verdict"] != "ERROR")
        .and_then(|r| r["unit_id"].as_str())
        .unwrap()
        .to_string();
    tear(&env.file("analyze_checkpoints").join(scanaudit::layout::safe_filename::checkpoint_file_name(&unit)));
    cut_after_entry(&env.file("results.json"), &format!("\"unit_id\": \"{unit}\""));
    carried_over(env.age(), "results.json", &reference, &format!("unit {unit}: carried over"), None);
}

/// A torn verify checkpoint and a results_verified.json cut after that finding's entry: the
/// rebuilt file keeps the old verification, byte for byte.
#[test]
fn a_torn_verify_checkpoint_keeps_its_old_verification() {
    let env = TestEnv::scan(SCAN);
    let reference = env.read("results_verified.json");
    tear(&env.file("verify_checkpoints/app__db__queries.py_run_query.json"));
    cut_after_entry(&env.file("results_verified.json"), "\"unit_id\": \"app/db/queries.py:run_query\"");
    let note = "unit app/db/queries.py:run_query: verification carried over from the old results_verified.json: its \
                checkpoint is torn";
    carried_over(env.age(), "results_verified.json", &reference, note, Some("verify"));
}

/// A torn dynamic-test checkpoint and a dynamic_test_results.json cut after that finding's
/// result: the result is carried over as it was, the old total cost stands.
#[test]
fn a_torn_dynamic_test_checkpoint_keeps_its_old_result() {
    let env = TestEnv::scan(SCAN);
    let reference = env.json("dynamic_test_results.json");
    tear(&env.file("dynamic_test_checkpoints/VULN-002.json"));
    cut_after_entry(&env.file("dynamic_test_results.json"), "\"finding_id\": \"VULN-002\"");
    let (status, doc) = env.age().repair();
    assert_eq!(status & 9, 1, "{doc:#}");
    let mut rebuilt = env.json("dynamic_test_results.json");
    assert_eq!(rebuilt["results"][1], reference["results"][1], "carried over as it was");
    let mut want = reference.clone();
    strip_evidence(&mut rebuilt);
    strip_evidence(&mut want);
    assert_eq!(rebuilt, want);
    let note = "finding VULN-002: carried over from the old dynamic_test_results.json: its checkpoint is torn";
    assert!(notes_of(&doc, "dynamic_test_results.json").iter().any(|n| n.starts_with(note)), "{doc:#}");
    settled(&env.scan, "dynamic-test");
}

/// The fork before its merge, killed after each step had saved its last unit and written its
/// output, before it deleted that step's single-file checkpoint: every unit is in the single
/// files, and the outputs are what the fork wrote from them (the generator builds both).
const FORKDONE: &str = "legacy/projects/forkdone/scans/3d5e7f9a1c2/javascript";
/// The fork before its merge, whose enhance, analyze and verify re-runs were interrupted: the
/// single files hold some units, errors among them, and the outputs are an earlier run's.
const FORKSTOP: &str = "legacy/projects/forkstop/scans/7e1a0c3b9d2/javascript";
/// The fork's master re-ran verify to the end over an interrupted single-file verify; the
/// leftover `verify_checkpoint.json` says other things than the newer per-unit files.
const RESUMED: &str = "legacy/projects/forkstop/scans/a565352c0ff/javascript";
const OLDTOOL: &str = "legacy/projects/oldtool/scans/0d729f6a1b2";

/// Each output and the single file it is rebuilt from.
const SINGLE_FILES: [(&str, &str); 3] = [
    ("dataset_enhanced.json", "dataset_enhanced_checkpoint.json"),
    ("results.json", "analyze_checkpoint.json"),
    ("results_verified.json", "verify_checkpoint.json"),
];

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn unfixable(doc: &Value) -> Vec<(String, String, Option<String>)> {
    doc["scan_dirs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["unfixable"].as_array().unwrap())
        .map(|u| {
            let name = Path::new(u["path"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned();
            (name, u["reason"].as_str().unwrap().to_string(), u["fix"].as_str().map(str::to_string))
        })
        .collect()
}

/// After a repair from single files: check asks nothing more of repair and finds no output
/// missing or stale and no unit it would redo for want of a checkpoint; a second repair does
/// nothing and exits 0.
fn settled_after_single_files(scan: &Path) {
    let (_, check) = common::check_json(&[scan.to_str().unwrap()]);
    for f in common::findings(&check) {
        assert!(!f["fix"].as_str().is_some_and(|fix| fix.starts_with("scanaudit repair")), "{f:#}");
        assert!(!matches!(f["kind"].as_str(), Some("output-missing" | "output-stale" | "run-incomplete")), "{f:#}");
    }
    let (again, doc) = repair_json(&["--yes", scan.to_str().unwrap()]);
    assert_eq!((again, actions(&doc).len()), (0, 0), "second repair: {doc:#}");
}

/// Each output of a single-file-era scan, missing or torn, comes back from its single file as
/// the fork wrote it, byte for byte; only results.json's `timestamp` (the clock when analyze
/// finished, in no checkpoint) cannot come back once the old file has lost it. The single
/// files are read, never changed or moved.
#[test]
fn outputs_are_rebuilt_from_the_single_file_checkpoints_of_their_step() {
    for (output, single) in SINGLE_FILES {
        for how in [Damage::Missing, Damage::Empty, Damage::Cut(0.5), Damage::Cut(0.97)] {
            let env = TestEnv::scan(FORKDONE);
            let scan = &env.scan;
            let target = scan.join(output);
            let reference = read(&target);
            let singles: Vec<Vec<u8>> = SINGLE_FILES.iter().map(|(_, s)| read(&scan.join(s))).collect();
            damage(&target, how);
            env.age();
            let (status, doc) = env.repair();
            let context = format!("{output} {how:?}: {doc:#}");
            assert_eq!(status, 1, "{context}");
            let [action] = actions(&doc)[..] else { panic!("one action: {context}") };
            assert!(action["target"].as_str().unwrap().ends_with(output), "{context}");
            assert!(action["reason"].as_str().unwrap().ends_with(single), "the plan names its input: {context}");
            let units = if single == "verify_checkpoint.json" { 4 } else { 7 };
            let taken = format!("{single}: {units} units taken from this");
            assert!(notes_of(&doc, output).iter().any(|n| n.starts_with(&taken)), "{context}");

            let rebuilt = read(&target);
            if rebuilt != reference {
                assert!(
                    output == "results.json" && matches!(how, Damage::Missing | Damage::Empty),
                    "{output} is not what the fork wrote: {context}"
                );
                assert!(named_fields(action).contains(&"timestamp".to_string()), "{context}");
                let mut got: Value = serde_json::from_slice(&rebuilt).unwrap();
                let mut want: Value = serde_json::from_slice(&reference).unwrap();
                got.as_object_mut().unwrap().remove("timestamp");
                want.as_object_mut().unwrap().remove("timestamp");
                assert_eq!(got, want, "{context}");
                // The bytes too: serde_json's maps would not see a key order the fork kept.
                let text = String::from_utf8(rebuilt).unwrap();
                let line = text.lines().nth(3).unwrap();
                assert!(line.starts_with("  \"timestamp\": "), "{line}");
                let others = |t: &str| {
                    t.lines().enumerate().filter(|(i, _)| *i != 3).map(|(_, l)| l.to_string()).collect::<Vec<_>>()
                };
                assert_eq!(others(&text), others(&String::from_utf8(reference).unwrap()), "{context}");
            }
            for ((_, name), bytes) in SINGLE_FILES.iter().zip(&singles) {
                assert_eq!(&read(&scan.join(name)), bytes, "{name} changed: {context}");
            }
            settled_after_single_files(scan);
        }
    }
}

/// The fork deleted a single file once its output was written, so one that is left is
/// evidence the step ran: the output is rebuilt even when no step report says so.
#[test]
fn a_single_file_is_evidence_that_its_step_ran() {
    let env = TestEnv::scan(FORKDONE);
    let scan = &env.scan;
    let reference = read(&scan.join("results_verified.json"));
    std::fs::remove_file(scan.join("verify.report.json")).unwrap();
    std::fs::remove_file(scan.join("results_verified.json")).unwrap();
    env.age();
    let (status, doc) = env.repair();
    assert_eq!(status, 1, "{doc:#}");
    assert!(read(&scan.join("results_verified.json")) == reference, "{doc:#}");

    // Without analyze.report.json, the single file also says which dataset and model its run
    // used; only the clock's timestamp is not in it.
    let reference: Value = serde_json::from_slice(&read(&scan.join("results.json"))).unwrap();
    std::fs::remove_file(scan.join("analyze.report.json")).unwrap();
    std::fs::remove_file(scan.join("results.json")).unwrap();
    env.age();
    let (status, doc) = env.repair();
    assert_eq!(status, 1, "{doc:#}");
    let mut rebuilt: Value = serde_json::from_slice(&read(&scan.join("results.json"))).unwrap();
    let mut want = reference;
    rebuilt.as_object_mut().unwrap().remove("timestamp");
    want.as_object_mut().unwrap().remove("timestamp");
    assert_eq!(rebuilt, want, "{doc:#}");

    // A run of analyze on the parser's dataset names that one.
    let single = scan.join("analyze_checkpoint.json");
    let text = String::from_utf8(read(&single)).unwrap();
    std::fs::write(&single, text.replace("\"dataset\": \"dataset_enhanced.json\"", "\"dataset\": \"dataset.json\""))
        .unwrap();
    std::fs::remove_file(scan.join("results.json")).unwrap();
    env.age();
    let (status, doc) = env.repair();
    assert_eq!(status, 1, "{doc:#}");
    let rebuilt: Value = serde_json::from_slice(&read(&scan.join("results.json"))).unwrap();
    assert_eq!(rebuilt["dataset"], "dataset.json", "{doc:#}");
}

/// Where the per-unit dir has a unit too, its file wins over the single file's (OpenAnt wrote
/// it later); the other units still come from the single file, and check does not count them
/// as units OpenAnt redoes for want of a checkpoint.
#[test]
fn per_unit_files_win_over_the_single_files_units() {
    // The fork's master finished verify over the single file: every unit has a newer file.
    let tree = Tree::copy("legacy", OLD);
    let scan = tree.path(RESUMED);
    let target = scan.join("results_verified.json");
    let reference = read(&target);
    damage(&target, Damage::Missing);
    common::set_age(tree.root(), OLD);
    let (status, doc) = repair_json(&["--yes", scan.to_str().unwrap()]);
    assert_eq!(status, 1, "{doc:#}");
    assert!(read(&target) == reference, "the per-unit files' verifications, as before: {doc:#}");
    let kept = "verify_checkpoint.json: for 2 of its units verify_checkpoints/ has its own file, which wins";
    assert!(notes_of(&doc, "results_verified.json").iter().any(|n| n.starts_with(kept)), "{doc:#}");
    settled_after_single_files(&scan);

    // One unit of the single-file scan also has a per-unit file, which says something else.
    let tree = Tree::copy("legacy", OLD);
    let scan = tree.path(FORKDONE);
    let migrated = common::testdata(&FORKDONE.replacen("legacy", "migrated", 1));
    let name = "src__routes__health.js_health.json";
    let mut own: Value = serde_json::from_slice(&read(&migrated.join("analyze_checkpoints").join(name))).unwrap();
    own["result"]["reasoning"] = Value::from("re-analyzed by a later run");
    std::fs::create_dir(scan.join("analyze_checkpoints")).unwrap();
    std::fs::write(scan.join("analyze_checkpoints").join(name), serde_json::to_vec_pretty(&own).unwrap()).unwrap();
    let reference: Value = serde_json::from_slice(&read(&scan.join("results.json"))).unwrap();
    damage(&scan.join("results.json"), Damage::Missing);
    common::set_age(tree.root(), OLD);
    let (status, doc) = repair_json(&["--yes", scan.to_str().unwrap()]);
    assert_eq!(status, 1, "{doc:#}");
    let rebuilt: Value = serde_json::from_slice(&read(&scan.join("results.json"))).unwrap();
    let results = rebuilt["results"].as_array().unwrap();
    assert_eq!(results.len(), 7);
    for (got, want) in results.iter().zip(reference["results"].as_array().unwrap()) {
        assert_eq!(got["unit_id"], want["unit_id"]);
        if got["unit_id"] == "src/routes/health.js:health" {
            assert_eq!(got["reasoning"], "re-analyzed by a later run");
        } else {
            assert_eq!(got, want);
        }
    }
    assert_eq!(rebuilt["code_by_route"], reference["code_by_route"]);
    assert!(notes_of(&doc, "results.json").iter().any(|n| n.starts_with("analyze_checkpoint.json: 6 units taken")));
    settled_after_single_files(&scan);
}

/// An interrupted run's single file holds some units: those come back (its errored unit as
/// the error result a failed retry writes). The rest come back as the finished run before it
/// left them in results_verified.json, never invented: the file is whole again (`metrics.total`
/// counts every result), and its error results are listed for OpenAnt to redo.
#[test]
fn an_interrupted_runs_single_file_gives_back_the_units_it_holds() {
    let env = TestEnv::scan(FORKSTOP);
    let scan = &env.scan;
    env.damage("results.json", Damage::Missing);
    let (status, doc) = env.repair();
    assert_eq!(status, 5, "fixed, and units remain for OpenAnt: {doc:#}");
    let rebuilt: Value = serde_json::from_slice(&read(&scan.join("results.json"))).unwrap();
    let ids: Vec<&str> =
        rebuilt["results"].as_array().unwrap().iter().map(|r| r["unit_id"].as_str().unwrap()).collect();
    // Sorted by unit id, as the fork writes results.json.
    assert_eq!(
        ids,
        [
            "src/auth/session.js:checkSession",
            "src/lib/données/format.js:formaterMontant",
            "src/lib/i18n.js:traduire",
            "src/lib/merge.js:deepMerge",
            "src/routes/export.js:exportCsv",
            "src/routes/health.js:health",
            "src/routes/invoices.js:getInvoice",
            "src/routes/webhook.js:receive"
        ]
    );
    assert_eq!(rebuilt["results"][2]["verdict"], "ERROR");
    assert_eq!(rebuilt["metrics"]["total"], 8);
    let mut redo: Vec<String> = unfixable(&doc)
        .into_iter()
        .filter(|(name, _, fix)| name == "results.json" && fix.as_deref() == Some("openant analyze"))
        .map(|(_, reason, _)| reason.split(' ').nth(1).unwrap().to_string())
        .collect();
    redo.sort();
    // The error results: the single file's failed unit, and the finished run's error result.
    assert_eq!(redo, ["src/lib/i18n.js:traduire", "src/routes/webhook.js:receive"]);
    let notes = notes_of(&doc, "results.json");
    for unit in ["src/auth/session.js:checkSession", "src/lib/merge.js:deepMerge", "src/routes/webhook.js:receive"] {
        let carried = format!("unit {unit}: carried over from results_verified.json");
        assert!(notes.iter().any(|n| n.starts_with(&carried)), "{carried}: {notes:#?}");
    }
    assert!(notes.iter().any(|n| n.starts_with("analyze_checkpoint.json: 4 units taken")), "{notes:#?}");
    assert!(notes.iter().any(|n| n.contains("errored units taken too") && n.contains("traduire")), "{notes:#?}");
    settled_after_single_files(scan);
}

/// A torn single file is never moved or converted: it is reported, and an output that needs
/// units only it may hold is not rebuilt. When every unit has a per-unit checkpoint, the
/// file could add nothing, and the output is rebuilt without it.
#[test]
fn a_torn_single_file_is_reported_and_nothing_is_built_from_it() {
    let tree = Tree::copy("legacy", OLD);
    let scan = tree.path(FORKDONE);
    let single = scan.join("analyze_checkpoint.json");
    tear(&single);
    let torn = read(&single);
    damage(&scan.join("results.json"), Damage::Missing);
    common::set_age(tree.root(), OLD);
    let (status, doc) = repair_json(&["--yes", scan.to_str().unwrap()]);
    assert_eq!(status, 4, "{doc:#}");
    assert!(actions(&doc).is_empty(), "{doc:#}");
    assert!(!scan.join("results.json").exists(), "nothing written from a torn single file");
    assert_eq!(read(&single), torn, "the torn file stays as it is");
    assert!(!scan.join(".scanaudit").exists(), "nothing moved into a backup");
    let reported = unfixable(&doc);
    let output = reported.iter().find(|(name, _, _)| name == "results.json").expect("results.json is unfixable");
    assert!(output.1.contains("its input analyze_checkpoint.json does not parse"), "{}", output.1);
    assert!(output.1.contains("nothing is rebuilt from a damaged single-file checkpoint"), "{}", output.1);
    assert_eq!(output.2.as_deref(), Some("openant analyze"));
    assert!(reported.iter().any(|(name, _, _)| name == "analyze_checkpoint.json"), "{doc:#}");

    let tree = Tree::copy("legacy", OLD);
    let scan = tree.path(RESUMED);
    tear(&scan.join("verify_checkpoint.json"));
    let target = scan.join("results_verified.json");
    let reference = read(&target);
    damage(&target, Damage::Cut(0.5));
    common::set_age(tree.root(), OLD);
    let (status, doc) = repair_json(&["--yes", scan.to_str().unwrap()]);
    assert_eq!(status, 5, "rebuilt, and the torn file remains: {doc:#}");
    assert!(read(&target) == reference, "{doc:#}");
    let notes = notes_of(&doc, "results_verified.json");
    assert!(notes.iter().any(|n| n.starts_with("verify_checkpoint.json was not read")), "{notes:#?}");
    assert!(unfixable(&doc).iter().any(|(name, _, fix)| name == "verify_checkpoint.json" && fix.is_none()));
}

/// Upstream's `enhance --checkpoint FILE` before d710b90 (never deleted): dataset_enhanced.json
/// comes back from it, its errored unit as the error a failed retry writes. Its
/// `agentic_stats` are written in the current format, which the plan says.
#[test]
fn an_old_upstream_enhance_checkpoint_rebuilds_dataset_enhanced() {
    let env = TestEnv::scan(OLDTOOL);
    let scan = &env.scan;
    let target = scan.join("dataset_enhanced.json");
    let reference: Value = serde_json::from_slice(&read(&target)).unwrap();
    damage(&target, Damage::Missing);
    env.age();
    let (status, doc) = env.repair();
    assert_eq!(status, 5, "rebuilt; the errored unit is OpenAnt's to redo: {doc:#}");
    let notes = notes_of(&doc, "dataset_enhanced.json");
    assert!(notes.iter().any(|n| n.starts_with("enhance_checkpoint.json: 6 units taken")), "{notes:#?}");
    assert!(notes.iter().any(|n| n.starts_with("metadata.agentic_stats: in the current format")), "{notes:#?}");
    let mut rebuilt: Value = serde_json::from_slice(&read(&target)).unwrap();
    assert_eq!(rebuilt["units"], reference["units"]);
    let mut want = reference.clone();
    rebuilt["metadata"].as_object_mut().unwrap().remove("agentic_stats");
    want["metadata"].as_object_mut().unwrap().remove("agentic_stats");
    assert_eq!(rebuilt, want);
}

/// A fork scan after `scanaudit migrate`: its enhance checkpoints are in `enhance_checkpoints/`
/// (the healthy tree's forkproj is exactly that), so the era comes from the rest of the scan,
/// and `dataset_enhanced.json` is rebuilt from `enhance_checkpoints/`. Damaged outputs come back
/// as the fork wrote them.
#[test]
fn a_migrated_fork_scan_still_rebuilds_fork_era_outputs() {
    fork_outputs_come_back("healthy/projects/forkproj/scans/5c3855e0a1b/python", |scan| {
        scan.join("enhance_checkpoints").is_dir() && !scan.join("dataset_enhanced_checkpoint_checkpoints").exists()
    });
}

/// Without the outputs that name the fork (results.json's model and `insufficient_context`,
/// results_verified.json's `code_by_route`, scan.report.json's `steps_resumed`), a migrated fork
/// scan is still told by its `verify_explanations/`: the rebuilt files are the fork's formats.
#[test]
fn a_migrated_fork_scan_is_told_by_what_only_the_fork_writes() {
    const FORK: &str = "healthy/projects/forkproj/scans/5c3855e0a1b/python";
    let env = TestEnv::scan(FORK);
    let scan = &env.scan;
    for gone in ["results.json", "results_verified.json", "scan.report.json"] {
        std::fs::remove_file(scan.join(gone)).unwrap();
    }
    env.age();
    let (status, doc) = env.repair();
    assert_eq!(status & 8, 0, "{doc:#}");
    let read = |name: &str| -> Value { serde_json::from_slice(&std::fs::read(scan.join(name)).unwrap()).unwrap() };
    let results = read("results.json");
    assert_eq!(results["model"], "claude-sonnet-4-6", "{results:#}");
    assert!(results["metrics"].get("insufficient_context").is_some(), "{results:#}");
    let ids: Vec<&str> =
        results["results"].as_array().unwrap().iter().map(|r| r["unit_id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "the fork sorts results by unit_id");
    assert!(read("results_verified.json").get("code_by_route").is_some());
}

/// A Windows-era scan's cp1252 outputs are not damage: rebuilding them from checkpoints would
/// replace the scan's own text (dynamic-test evidence, for one). Repair leaves them, points to
/// migrate, and changes nothing.
#[test]
fn cp1252_outputs_are_left_to_migrate() {
    let env = TestEnv::scan("legacy/projects/winproj/scans/7e1c0ffee2d/python");
    let scan = &env.scan;
    let before: Vec<Vec<u8>> = OUTPUTS.iter().map(|o| std::fs::read(scan.join(o)).unwrap()).collect();
    let (status, doc) = env.repair();
    assert_eq!(status, 4, "{doc:#}");
    let after: Vec<Vec<u8>> = OUTPUTS.iter().map(|o| std::fs::read(scan.join(o)).unwrap()).collect();
    assert!(before == after, "repair rewrote a cp1252 output");
    let unfixable = doc["scan_dirs"][0]["unfixable"].as_array().unwrap();
    let names: Vec<&str> = unfixable.iter().map(|u| u["path"].as_str().unwrap().rsplit('/').next().unwrap()).collect();
    assert_eq!(names, ["results_verified.json", "pipeline_output.json", "dynamic_test_results.json"], "{doc:#}");
    let fix = format!("scanaudit migrate {}", scan.display());
    assert!(unfixable.iter().all(|u| u["fix"] == fix.as_str()), "{doc:#}");
}
