//! Ctrl-C (SIGINT) and SIGTERM through a real signal to the real binary, one way in every
//! verb (README "Options every verb takes, errors, notes, signals"): a run that writes nothing
//! (check, `--dry-run`) dies of the signal, re-raised by its handler; a writing run (repair,
//! migrate, clean) stops between changes, exits with bit 32, and leaves every file either as it
//! was or whole. Each case first waits until the process catches both signals (its handler is
//! in place, `/proc/PID/status` `SigCgt`), so no case can pass by the default action alone
//! killing a process that had not yet installed its handler.

use crate::common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::{Damage, TestEnv, FULL_SCAN, OUTPUTS};
use serde_json::Value;

const SIGNALS: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

fn spawn(args: &[&str], root: &Path) -> Child {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("scanaudit"));
    cmd.env_remove("OPENANT_HOME").env("TERM", "dumb").args(args).arg(root);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn scanaudit")
}

/// Waits until `child` catches SIGINT and SIGTERM; false when it ended first.
fn handler_installed(child: &mut Child) -> bool {
    let wanted = (1u64 << (libc::SIGINT - 1)) | (1u64 << (libc::SIGTERM - 1));
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return false;
        }
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|line| line.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .unwrap_or(0);
        if caught & wanted == wanted {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn send(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) on our own child's pid, which has not been waited for.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
}

/// Runs `args ROOT`, sends `signal` once the handler is in place, and returns what the run
/// left; `None` when the run ended before the signal could be sent.
fn interrupted(args: &[&str], root: &Path, signal: libc::c_int) -> Option<Output> {
    let mut child = spawn(args, root);
    if !handler_installed(&mut child) {
        return None;
    }
    send(&child, signal);
    Some(child.wait_with_output().expect("wait"))
}

#[test]
fn check_and_dry_runs_die_of_the_signal_so_a_shell_loop_stops() {
    let dir = tempfile::tempdir().unwrap();
    let scan = common::generated_scan(dir.path(), 3000);
    for args in [&["check"][..], &["repair", "--dry-run"], &["migrate", "--dry-run"], &["clean", "--dry-run"]] {
        for signal in SIGNALS {
            let output = interrupted(args, &scan, signal).expect("the run ended before its handler was installed");
            if output.status.code() == Some(0) {
                continue; // It ended between the handler's install and the signal: nothing to see.
            }
            assert_eq!(output.status.signal(), Some(signal), "{args:?}: {output:?}");
            assert!(!output.status.core_dumped(), "{args:?}");
        }
    }
}

/// A tree whose outputs are all damaged, so repair writes one after the other.
fn damaged() -> TestEnv {
    let env = TestEnv::scan(FULL_SCAN);
    for output in OUTPUTS {
        env.damage(output, Damage::Cut(0.5));
    }
    env
}

#[test]
fn repair_stops_between_changes_exits_32_and_leaves_every_file_whole() {
    for signal in SIGNALS {
        let mut landed = false;
        for _ in 0..10 {
            let env = damaged();
            let before: Vec<Vec<u8>> = OUTPUTS.iter().map(|o| env.read(o)).collect();
            let sessions = common::backup_sessions(&env.scan);
            let mut child = spawn(&["repair", "--yes", "--format", "json"], &env.scan);
            if !common::wait_for_first_write(&mut child, &env.scan, &sessions) {
                continue;
            }
            send(&child, signal);
            let output = child.wait_with_output().unwrap();
            let code = output.status.code().expect("an exit status, not death by the signal");
            let doc: Value = serde_json::from_slice(&output.stdout).expect("the report is whole");
            for (output, old) in OUTPUTS.iter().zip(&before) {
                let now = env.read(output);
                let whole = serde_json::from_slice::<Value>(&now).is_ok();
                assert!(now == *old || whole, "{output} is neither as it was nor whole");
            }
            for session in common::backup_sessions(&env.scan) {
                assert!(common::session_complete(&session), "{}: manifest not complete", session.display());
            }
            if code & 32 == 0 {
                assert_eq!(doc["interrupted"], false, "{doc:#}");
                continue; // Done before the signal landed.
            }
            assert_eq!(doc["interrupted"], true, "{doc:#}");
            assert!(doc["summary"]["skipped"].as_u64().unwrap() > 0, "{doc:#}");
            assert_eq!(code & 8, 0, "{doc:#}");
            landed = true;
            break;
        }
        assert!(landed, "signal {signal} never landed while repair wrote");
    }
}

#[test]
fn a_writing_verb_stopped_before_its_first_change_exits_32_having_changed_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let scan = common::generated_scan(dir.path(), 3000);
    for (verb, signal) in [("repair", libc::SIGINT), ("migrate", libc::SIGTERM)] {
        let output = interrupted(&[verb, "--yes"], &scan, signal).expect("ended before its handler was installed");
        if output.status.code() == Some(0) {
            continue; // Planned (nothing to do) before the signal landed.
        }
        assert_eq!(output.status.code(), Some(32), "{verb}: {output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), "scanaudit: error: interrupted: nothing was changed\n");
        assert!(output.stdout.is_empty(), "{verb}: {output:?}");
        assert!(common::backup_sessions(&scan).is_empty(), "{verb} began a backup");
    }
}

#[test]
fn clean_stops_between_removals_and_exits_32() {
    let env = TestEnv::scan(FULL_SCAN);
    let runtime = tempfile::tempdir().unwrap();
    let temps: Vec<_> = (0..20_000).map(|i| env.scan.join(format!(".tmp-{i:08}.tmp"))).collect();
    // On a loaded machine the signal may land before clean's first removal or after its last;
    // such a try tested nothing of a stop between removals and is made again, temps put back.
    for _try in 0..5 {
        for temp in &temps {
            std::fs::write(temp, b"{\"torn").unwrap();
        }
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("scanaudit"))
            .env("XDG_RUNTIME_DIR", runtime.path())
            .args(["clean", "--older-than", "0s", "--format", "json"])
            .arg(&env.scan)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        assert!(handler_installed(&mut child), "clean ended before its handler was installed");
        send(&child, libc::SIGTERM);
        let output = child.wait_with_output().unwrap();
        let left = temps.iter().filter(|t| t.exists()).count() as u64;
        if left == 0 {
            continue;
        }
        let code = output.status.code().expect("an exit status, not death by the signal");
        if output.stdout.is_empty() {
            // The signal came before the first removal: the documented early stop (as the
            // writing verbs' test checks), not the stop between removals this test is for.
            assert_eq!(code, 32, "{output:?}");
            assert_eq!(String::from_utf8_lossy(&output.stderr), "scanaudit: error: interrupted: nothing was changed\n");
            assert_eq!(left, temps.len() as u64, "an early stop removed something");
            continue;
        }
        assert_eq!(code & 32, 32, "{}", String::from_utf8_lossy(&output.stderr));
        let doc: Value = serde_json::from_slice(&output.stdout).expect("the report is whole");
        assert_eq!(doc["summary"]["kept_by_reason"]["interrupted"].as_u64().unwrap(), left, "{}", doc["summary"]);
        for temp in temps.iter().filter(|t| t.exists()) {
            assert_eq!(std::fs::read(temp).unwrap(), b"{\"torn", "{} was changed, not removed", temp.display());
        }
        return;
    }
    panic!("the signal came before the first removal or after the last, five times: nothing was tested");
}
