//! The command line every verb shares (issue 13): one error style and exit bits for a PATH
//! that cannot be looked at, the global `-q`/`-v` before or after the verb, one duration
//! syntax, the notes that say what changed the run, the `summary` objects, the man pages.

use crate::common;

use common::{scanaudit, Damage, TestEnv, FULL_SCAN};
use serde_json::Value;

const VERBS: [&str; 4] = ["check", "clean", "repair", "migrate"];

/// The arguments that make a verb run to its end without asking (repair and migrate plan only).
fn verb_args(verb: &str) -> Vec<&str> {
    match verb {
        "repair" | "migrate" => vec![verb, "--dry-run"],
        _ => vec![verb],
    }
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_path_that_does_not_exist_is_an_operational_error_in_every_verb() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("projcets");
    for verb in VERBS {
        let output = scanaudit().args(verb_args(verb)).arg(&typo).output().unwrap();
        assert_eq!(output.status.code(), Some(8), "{verb}: {output:?}");
        assert_eq!(
            stderr(&output),
            format!("scanaudit: error: {}: no such file or directory\n", typo.display()),
            "{verb}"
        );
        assert!(output.stdout.is_empty(), "{verb}: no table, no finding: {output:?}");
        assert!(!typo.exists(), "{verb} created the path it was given");
    }
}

#[test]
fn a_file_that_is_not_json_is_an_operational_error_and_a_json_file_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    for verb in VERBS {
        let output = scanaudit().args(verb_args(verb)).arg(dir.path().join("notes.txt")).output().unwrap();
        assert_eq!(output.status.code(), Some(8), "{verb}: {output:?}");
        assert!(stderr(&output).contains("notes.txt: not a directory or a JSON file"), "{verb}: {output:?}");
    }
    std::fs::write(dir.path().join("data.json"), "{}").unwrap();
    scanaudit().arg("check").arg(dir.path().join("data.json")).assert().code(0);
}

#[test]
fn the_other_paths_are_still_done_beside_a_typo() {
    let dir = tempfile::tempdir().unwrap();
    let output = scanaudit()
        .args(["check", "--format", "json"])
        .arg(common::testdata("healthy"))
        .arg(dir.path().join("typo"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(8), "{output:?}");
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(doc["summary"]["scan_dirs"].as_u64().unwrap() > 0, "{doc:#}");
}

#[test]
fn a_root_without_scans_gets_a_note_in_every_verb() {
    let dir = tempfile::tempdir().unwrap();
    for verb in VERBS {
        let output = scanaudit().args(verb_args(verb)).arg(dir.path()).output().unwrap();
        let note = format!("scanaudit: note: no OpenAnt scan found under {}\n", dir.path().display());
        assert!(stderr(&output).contains(&note), "{verb}: {output:?}");
        assert_eq!(output.status.code(), Some(0), "{verb}: {output:?}");
        // -q silences notes, before or after the verb.
        let quiet = scanaudit().arg("-q").args(verb_args(verb)).arg(dir.path()).output().unwrap();
        assert!(quiet.stderr.is_empty() && quiet.stdout.is_empty(), "{verb} -q: {quiet:?}");
        let quiet = scanaudit().args(verb_args(verb)).arg("--quiet").arg(dir.path()).output().unwrap();
        assert!(quiet.stderr.is_empty() && quiet.stdout.is_empty(), "{verb} --quiet: {quiet:?}");
    }
    let output = scanaudit().args(["check", "--format", "json"]).arg(dir.path()).output().unwrap();
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["notes"], serde_json::json!([format!("no OpenAnt scan found under {}", dir.path().display())]));
}

#[test]
fn global_flags_go_before_or_after_the_verb() {
    let healthy = common::testdata("healthy");
    for args in [["-q", "check"], ["check", "-q"], ["--quiet", "check"], ["check", "--quiet"]] {
        let output = scanaudit().args(args).arg(&healthy).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}: {output:?}");
        assert!(output.stdout.is_empty(), "{args:?}: quiet and nothing to report: {output:?}");
    }
    for args in [["-v", "check"], ["check", "-v"], ["--verbose", "check"], ["check", "--verbose"]] {
        let output = scanaudit().args(args).arg(&healthy).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}: {output:?}");
        assert!(stderr(&output).contains(": era "), "{args:?}: {output:?}");
    }
    for args in [["-q", "check", "-v"], ["check", "-q", "-v"], ["-v", "-q", "check"]] {
        let both = scanaudit().args(args).arg(&healthy).output().unwrap();
        assert_eq!(both.status.code(), Some(16), "{args:?}: -q and -v conflict: {both:?}");
        assert_eq!(stderr(&both), "scanaudit: error: -q/--quiet and -v/--verbose say opposite things: give one\n");
    }
}

#[test]
fn verbose_says_why_each_scan_dir_is_of_its_era() {
    let env = TestEnv::scan(FULL_SCAN);
    let output = scanaudit().args(["check", "-v"]).arg(&env.scan).output().unwrap();
    let line = format!("scanaudit: {}: no era marker among its names", env.scan.display());
    assert!(stderr(&output).contains(&line), "{output:?}");
    std::fs::write(env.file("analyze_checkpoints/_fingerprint.json"), "{}").unwrap();
    for verb in VERBS {
        let output = scanaudit().args(verb_args(verb)).arg("-v").arg(&env.scan).output().unwrap();
        let line = format!("scanaudit: {}: era identity-gate", env.scan.display());
        let text = stderr(&output);
        assert!(text.contains(&line) || verb == "clean", "{verb}: {text}");
        if verb != "clean" {
            assert!(text.contains("_fingerprint.json"), "{verb}: the marker that decided: {text}");
        }
    }
}

#[test]
fn every_duration_flag_takes_the_same_forms_in_every_verb() {
    let dir = tempfile::tempdir().unwrap();
    let flags: [(&[&str], &str); 6] = [
        (&["check"], "--min-idle"),
        (&["repair", "--dry-run"], "--min-idle"),
        (&["migrate", "--dry-run"], "--min-idle"),
        (&["clean"], "--older-than"),
        (&["clean"], "--backups"),
        (&["clean"], "--max-runtime"),
    ];
    for (verb, flag) in flags {
        for good in ["10m", "10 minutes", "1.5h", "1h30m", "0s", "0", "7d", "100y"] {
            let output = scanaudit().args(verb).args([flag, good]).arg(dir.path()).output().unwrap();
            assert_eq!(output.status.code(), Some(0), "{verb:?} {flag} {good}: {output:?}");
        }
        for (bad, why) in [
            ("10", "no unit (10s? 10m?)"),
            ("99999999999d", "more than 100 years"),
            ("101y", "more than 100 years"),
            ("soon", "expected a number and a unit"),
            ("-1h", "expected a number and a unit"),
        ] {
            let output = scanaudit().args(verb).arg(format!("{flag}={bad}")).arg(dir.path()).output().unwrap();
            assert_eq!(output.status.code(), Some(16), "{verb:?} {flag} {bad}: {output:?}");
            let text = stderr(&output);
            assert!(text.starts_with("error: invalid value") && text.contains(why), "{verb:?} {flag} {bad}: {text}");
        }
    }
}

#[test]
fn include_or_exclude_says_the_cross_file_rules_were_off() {
    let env = TestEnv::scan(FULL_SCAN);
    let note = "--include/--exclude left files of scan dir ";
    let plain = scanaudit().arg("check").arg(&env.scan).output().unwrap();
    assert!(!stderr(&plain).contains("--include/--exclude"), "{plain:?}");
    // A filter that leaves nothing out narrows nothing: no note, the rules run.
    let nothing_left_out = scanaudit().args(["check", "--exclude", "nonexistent"]).arg(&env.scan).output().unwrap();
    assert!(!stderr(&nothing_left_out).contains("--include/--exclude"), "{nothing_left_out:?}");
    for filter in [["--exclude", "*.md"], ["--include", "*.json"], ["--exclude", "enhance_checkpoints"]] {
        let output = scanaudit().args(["check", "--format", "json"]).args(filter).arg(&env.scan).output().unwrap();
        assert!(stderr(&output).contains(note), "{filter:?}: {output:?}");
        let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
        let noted = doc["notes"].as_array().unwrap().iter().filter_map(Value::as_str).any(|n| n.starts_with(note));
        assert!(noted, "{doc:#}");
    }
}

#[test]
fn repair_and_migrate_summaries_are_objects_of_counts() {
    let env = TestEnv::scan(FULL_SCAN);
    env.damage("results.json", Damage::Cut(0.5));
    let (_, planned) = env.run("repair", &["--dry-run"]);
    assert_eq!(planned["scanaudit"]["format"], 2);
    let summary = &planned["summary"];
    assert_eq!(summary["scan_dirs"], 1, "{planned:#}");
    assert!(summary["planned"].as_u64().unwrap() >= 1, "{planned:#}");
    assert_eq!(summary["done"], 0);
    for key in ["failed", "skipped", "in_use", "unfixable", "read_errors"] {
        assert!(summary[key].is_u64(), "{key}: {planned:#}");
    }
    assert!(planned["summary_line"].as_str().unwrap().starts_with("repair: checked 1 scan dir: "), "{planned:#}");
    let notes = planned["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n.as_str().unwrap().starts_with("to apply this plan: scanaudit repair")),
        "{planned:#}"
    );

    let (status, done) = env.run("repair", &["--yes"]);
    assert_eq!(status & 1, 1, "{done:#}");
    assert_eq!(done["summary"]["done"], summary["planned"], "{done:#}");
    let backup = done["scan_dirs"][0]["backup_dir"].as_str().unwrap();
    let said = done["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().ends_with(backup));
    assert!(said, "where the backups went: {done:#}");

    let (_, migrated) = env.run("migrate", &["--dry-run"]);
    assert_eq!(migrated["summary"]["scan_dirs"], 1, "{migrated:#}");
    assert!(migrated["summary"]["planned"].is_u64(), "{migrated:#}");
}

#[test]
fn a_dry_run_and_a_plan_not_applied_say_the_line_that_applies_it() {
    let env = TestEnv::scan(FULL_SCAN);
    env.damage("results.json", Damage::Cut(0.5));
    let output = scanaudit().args(["repair", "-n"]).arg(&env.scan).output().unwrap();
    assert_eq!(output.status.code(), Some(4), "{output:?}");
    let line = format!("scanaudit: note: to apply this plan: scanaudit repair {} --yes\n", env.scan.display());
    assert!(stderr(&output).ends_with(&line), "{output:?}");
    // No terminal to ask on: not applied, and the same line.
    let output = scanaudit().arg("repair").arg(&env.scan).output().unwrap();
    assert_eq!(output.status.code(), Some(4), "{output:?}");
    assert!(stderr(&output).contains("not applied: no terminal to confirm on"), "{output:?}");
    assert!(stderr(&output).contains(&format!("scanaudit repair {} --yes", env.scan.display())), "{output:?}");
}

#[test]
fn a_scan_dir_in_use_says_how_to_override() {
    let env = TestEnv::scan(FULL_SCAN);
    // Just written (not aged back): in use under the default --min-idle.
    common::damage(&env.file("results.json"), Damage::Cut(0.5));
    let output = scanaudit().args(["repair", "--dry-run"]).arg(&env.scan).output().unwrap();
    let text = stderr(&output);
    assert!(text.contains("left alone as in use") && text.contains("--min-idle 0s"), "{output:?}");
    let output = scanaudit().args(["repair", "--dry-run", "--min-idle", "0s"]).arg(&env.scan).output().unwrap();
    assert!(!stderr(&output).contains("left alone as in use"), "{output:?}");
}

#[test]
fn every_verb_has_a_man_page_naming_each_of_its_options() {
    use clap::CommandFactory;
    let mut command = scanaudit::cli::Cli::command();
    command.build();
    let main = scanaudit().arg("man").output().unwrap();
    assert!(main.status.success());
    let main = String::from_utf8(main.stdout).unwrap();
    for verb in command.get_subcommands().filter(|v| v.get_name() != "help") {
        let name = verb.get_name();
        assert!(main.contains(&format!("scanaudit\\-{name}(1)")), "scanaudit(1) names scanaudit-{name}(1)");
        let page = scanaudit().args(["man", name]).output().unwrap();
        assert!(page.status.success(), "{name}: {page:?}");
        let page = String::from_utf8(page.stdout).unwrap();
        assert!(page.contains(&format!(".TH scanaudit-{name} 1")), "{name}: {page}");
        for arg in verb.get_arguments().filter_map(|a| a.get_long()) {
            // roff escapes each `-`.
            assert!(page.contains(&format!("\\-\\-{}", arg.replace('-', "\\-"))), "{name} page lacks --{arg}");
        }
    }
    // No page is named that `scanaudit man` cannot print.
    for referenced in main.split("scanaudit\\-").skip(1) {
        let verb = referenced.split('(').next().unwrap();
        scanaudit().args(["man", verb]).assert().success();
    }
    let unknown = scanaudit().args(["man", "chek"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(16));
    assert!(stderr(&unknown).starts_with("scanaudit: error: no man page for \"chek\""), "{unknown:?}");
}

/// Another scanaudit holding a scan dir's lock does not hide a dry run's plan (a dry run takes
/// no lock); a real run leaves the dir untouched and says why.
#[test]
fn a_held_scan_dir_lock_hides_no_dry_run_plan_and_stops_the_real_run() {
    let env = TestEnv::scan(FULL_SCAN);
    env.damage("results.json", Damage::Cut(0.5));
    let damaged = std::fs::read(env.scan.join("results.json")).unwrap();
    let _held = scanaudit::scan_lock::ScanDirLock::try_acquire(&env.scan).unwrap().expect("nobody holds it yet");
    let (code, planned) = env.run("repair", &["--dry-run"]);
    assert_eq!(code, 4, "planned, not applied: {planned:#}");
    let count = planned["summary"]["planned"].as_u64().unwrap();
    assert!(count >= 1, "{planned:#}");
    let (code, applied) = env.run("repair", &["--yes"]);
    assert_eq!(code & 1, 0, "nothing may be fixed under another's lock: {applied:#}");
    assert_eq!(applied["summary"]["skipped"].as_u64().unwrap(), count, "{applied:#}");
    assert!(applied.to_string().contains("another scanaudit holds the scan dir's lock"), "{applied:#}");
    assert_eq!(std::fs::read(env.scan.join("results.json")).unwrap(), damaged);
}
