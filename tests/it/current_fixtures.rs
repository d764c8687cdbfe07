//! Today's OpenAnt (the identity-gate era, docs/openant-eras.md) through every verb, on the
//! generator's today's-era scans (issue 11): healthy scans give no finding and no verb plans
//! anything for them; every output, damaged every way, is rebuilt in today's format and equal
//! to the reference but for the fields the plan names; `_fingerprint.json` never changes; a
//! scan dir mixing eras keeps each output in its own era's format; an output carrying a marker
//! no known OpenAnt writes is left alone with the reason.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{
    actions, check_json, code, damage, findings, scanaudit, unfixable, verb_json, Damage, TestEnv, Tree, OLD, OUTPUTS,
};
use serde_json::Value;

/// A full scan by today's OpenAnt, every unit restored: sidecars, three-state records, archives.
const NIMBUS: &str = "healthy/projects/nimbus-api/scans/6b1d0e9c4a2/python";
/// A `-l auto` multi-language scan: per-language parse dirs below the scan dir.
const POLYGLOT: &str = "healthy/projects/polyglot-shop/scans/c0ffee5a1b2/auto";
/// A fix-branch scan whose verify today's OpenAnt ran later.
const HARBOR: &str = "healthy/projects/harbor-sync/scans/4a7c9e1f3b5/python";
const TODAY: [&str; 3] = [NIMBUS, POLYGLOT, HARBOR];

/// The damages every output gets: gone, empty, cut near both ends, cut at two offsets drawn
/// from `SCANAUDIT_DAMAGE_SEED` (printed on failure; a new seed each day by default, so runs
/// explore new offsets while any failure can be replayed), and a NUL tail.
fn damages() -> (u64, Vec<Damage>) {
    let seed = std::env::var("SCANAUDIT_DAMAGE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400)
    });
    // splitmix64: a fixed, well-mixed sequence from the seed.
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let damages = vec![
        Damage::Missing,
        Damage::Empty,
        Damage::Cut(0.02),
        Damage::Cut(0.98),
        Damage::Cut(next()),
        Damage::Cut(next()),
        Damage::ZeroTail(0.3),
    ];
    (seed, damages)
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Every `_fingerprint.json` below `root`, with its bytes and mode.
fn fingerprints(root: &Path) -> Vec<(PathBuf, Vec<u8>, u32)> {
    let mut found: Vec<(PathBuf, Vec<u8>, u32)> = walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.file_name().is_some_and(|n| n == "_fingerprint.json"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let mode = mode(&p);
            (p, bytes, mode)
        })
        .collect();
    found.sort();
    found
}

#[test]
fn the_fixtures_carry_todays_modes() {
    let env = TestEnv::scan(NIMBUS);
    let scan = &env.scan;
    // Today's writer leaves every JSON file 0600 and Markdown at the umask's mode: the tests
    // below mean something only when the copies have those modes.
    assert_eq!(mode(&scan.join("results.json")), 0o600);
    assert_eq!(mode(&scan.join("analyze_checkpoints/_fingerprint.json")), 0o600);
    assert_ne!(mode(&scan.join("report/SUMMARY_REPORT.md")), 0o600);
}

#[test]
fn healthy_scans_of_today_give_no_finding() {
    let tree = Tree::copy("healthy", OLD);
    for scan in TODAY {
        let (status, doc) = check_json(&[tree.path(scan).to_str().unwrap()]);
        assert_eq!(findings(&doc), &Vec::<Value>::new(), "{scan}: {doc:#}");
        assert_eq!(status, 0, "{scan}");
        assert_eq!(doc["summary"]["scan_dirs"], 1, "{scan}: one scan dir (parse dirs of an auto scan are not)");
    }
}

#[test]
fn no_verb_plans_anything_for_healthy_scans_of_today() {
    let tree = Tree::copy("healthy", OLD);
    for scan in TODAY {
        let dir = tree.path(scan);
        let dir = dir.to_str().unwrap();
        for verb in ["repair", "migrate"] {
            let (status, doc) = verb_json(verb, &[dir, "--dry-run"]);
            assert_eq!((status, actions(&doc).len(), unfixable(&doc).len()), (0, 0, 0), "{verb} {scan}: {doc:#}");
        }
        let output = scanaudit()
            .env("XDG_RUNTIME_DIR", tree.root())
            .args(["clean", dir, "--dry-run", "--older-than", "0s", "--format", "json"])
            .output()
            .unwrap();
        let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(code(&output), 0, "clean {scan}: {doc:#}");
        assert!(doc["entries"].as_array().is_none_or(Vec::is_empty), "clean {scan}: {doc:#}");
    }
}

/// Each output of today's scan, damaged every way, comes back in today's format: byte for
/// byte where the old file still held what no checkpoint records, else equal apart from
/// exactly the fields the plan names; then check is clean and a second repair does nothing.
#[test]
fn every_output_of_today_damaged_every_way_is_rebuilt() {
    rebuilt_every_way(NIMBUS, &OUTPUTS);
}

/// The same on the multi-language scan, whose parse outputs sit in per-language subdirs.
#[test]
fn a_multi_language_scans_outputs_are_rebuilt() {
    rebuilt_every_way(POLYGLOT, &["results.json", "pipeline_output.json"]);
}

/// The multi-language scan's enhance ran single-shot: its records (`{id, llm_context,
/// context_key}`) are checkpoints, but how today's OpenAnt writes the single-shot dataset's
/// metadata is not established, so a torn `dataset_enhanced.json` is left as it is, with the
/// reason and the `openant` step that restores it.
#[test]
fn a_single_shot_enhanced_dataset_is_left_alone_with_the_reason() {
    let env = TestEnv::scan(POLYGLOT);
    let scan = &env.scan;
    let target = scan.join("dataset_enhanced.json");
    damage(&target, Damage::Cut(0.5));
    let why = left_alone(env.tree.root(), scan, &target);
    assert!(why["reason"].as_str().unwrap().contains("single-shot"), "{why:#}");
    assert!(why["fix"].as_str().unwrap().starts_with("openant enhance"), "{why:#}");
}

/// Runs repair on `scan` and asserts it left `target` byte for byte, with exit bit 4 and one
/// entry saying why; returns that entry.
fn left_alone(root: &Path, scan: &Path, target: &Path) -> Value {
    let before = std::fs::read(target).unwrap();
    common::set_age(root, OLD);
    let (status, doc) = verb_json("repair", &["--yes", scan.to_str().unwrap()]);
    assert_eq!(std::fs::read(target).unwrap(), before, "{doc:#}");
    assert_eq!(status & 4, 4, "{doc:#}");
    let why: Vec<&Value> = unfixable(&doc).into_iter().filter(|u| u["path"].as_str() == target.to_str()).collect();
    assert_eq!(why.len(), 1, "{doc:#}");
    why[0].clone()
}

fn rebuilt_every_way(scan_rel: &str, outputs: &[&str]) {
    for &output in outputs {
        let (seed, damages) = damages();
        for how in damages {
            let env = TestEnv::scan(scan_rel);
            let reference = env.read(output);
            let sidecars = fingerprints(&env.scan);
            env.damage(output, how);
            let context = format!("{output} {how:?} (SCANAUDIT_DAMAGE_SEED={seed})");
            env.assert_rebuilt(output, &reference, &context);
            assert_eq!(fingerprints(&env.scan), sidecars, "{context}");
        }
    }
}

/// The identity sidecars decide what OpenAnt pays for: no verb moves, rewrites or re-modes
/// one, whatever else it does in the scan dir.
#[test]
fn fingerprints_are_byte_identical_after_every_verb() {
    let env = TestEnv::scan(NIMBUS);
    let scan = &env.scan;
    let sidecars = fingerprints(scan);
    // analyze, verify, llm_reach, and the one in the superseded analyze dir OpenAnt archived.
    assert_eq!(sidecars.len(), 4, "{sidecars:?}");
    // Work for every verb: a torn output for repair, an abandoned temp for clean.
    env.damage("results_verified.json", Damage::Cut(0.5));
    std::fs::write(scan.join("analyze_checkpoints/.tmp-ab12_x9z.tmp"), b"{\"step\": \"Anal").unwrap();
    env.age();
    let dir = scan.to_str().unwrap();
    let (status, doc) = verb_json("repair", &["--yes", dir]);
    assert_eq!(status & 1, 1, "{doc:#}");
    assert_eq!(fingerprints(scan), sidecars, "after repair");
    env.age();
    let (status, doc) = verb_json("migrate", &["--yes", dir]);
    assert_eq!(status & 8, 0, "{doc:#}");
    assert_eq!(fingerprints(scan), sidecars, "after migrate");
    let output = scanaudit()
        .env("XDG_RUNTIME_DIR", env.tree.root())
        .args(["clean", dir, "--older-than", "0s"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 1, "clean removed the temp: {}", String::from_utf8_lossy(&output.stdout));
    assert!(!scan.join("analyze_checkpoints/.tmp-ab12_x9z.tmp").exists());
    assert_eq!(fingerprints(scan), sidecars, "after clean");
}

/// A scan dir whose steps ran under two OpenAnts is normal: each output is rebuilt in the
/// format of the era that wrote it, never upgraded and never downgraded.
#[test]
fn a_mixed_era_scan_keeps_each_output_in_its_own_era() {
    for output in ["pipeline_output.json", "results_verified.json", "results.json"] {
        let env = TestEnv::scan(HARBOR);
        let scan = &env.scan;
        let target = scan.join(output);
        let reference: Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
        damage(&target, Damage::Cut(0.6));
        env.age();
        let (status, doc) = env.repair();
        assert!(status & 1 == 1 && status & 8 == 0, "{output}: exit {status}: {doc:#}");
        let rebuilt: Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&rebuilt), keys(&reference), "{output}: same era, same keys: {doc:#}");
        if output == "results_verified.json" {
            assert_eq!(rebuilt["metrics"], reference["metrics"], "today's recount: {doc:#}");
        }
    }
}

/// Issue 11 item 3: an output holding a key no known OpenAnt writes was written by a newer
/// OpenAnt whose builder scanaudit cannot know. Repair does not rebuild it: the file stays
/// byte for byte, the plan names the marker, exit bit 4. Check says so too.
#[test]
fn an_output_from_a_newer_openant_is_left_alone_with_the_reason() {
    let env = TestEnv::scan(NIMBUS);
    let scan = &env.scan;
    let target = scan.join("results.json");
    let text = String::from_utf8(std::fs::read(&target).unwrap()).unwrap();
    let newer = text.replacen("{\n  \"dataset\"", "{\n  \"analysis_schema\": 3,\n  \"dataset\"", 1);
    assert_ne!(newer, text);
    // Torn, so that repair would otherwise rebuild it.
    let torn = &newer.as_bytes()[..newer.len() / 2];
    std::fs::write(&target, torn).unwrap();
    let why = left_alone(env.tree.root(), scan, &target);
    let reason = why["reason"].as_str().unwrap();
    assert!(reason.contains("analysis_schema") && reason.contains("newer"), "{reason}");
}
