//! scanaudit beside another scanaudit, and right after itself: a repair that planned before
//! another finished changes nothing the other already fixed; what scanaudit itself just wrote
//! (before a SIGKILL, a SIGINT, or as the previous verb) never makes the next run refuse the
//! scan dir as "in use", while a fresh write by OpenAnt still does. Two real processes, the
//! default `--min-idle`.

use crate::common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{actions, damage, verb_json, Damage, TestEnv, Tree, OLD, OUTPUTS};
use serde_json::Value;

const SCAN: &str = common::FULL_SCAN;

fn bin() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("scanaudit"));
    cmd.env_remove("OPENANT_HOME").env_remove("NO_COLOR").env("TERM", "dumb");
    cmd
}

/// The healthy scan with every output zero-filled or emptied, all of it written long ago.
fn damaged_scan() -> (Tree, PathBuf) {
    let env = TestEnv::scan(SCAN);
    let hows = [Damage::Empty, Damage::ZeroTail(0.4), Damage::Empty, Damage::ZeroTail(0.5), Damage::Empty];
    for (output, how) in OUTPUTS.iter().zip(hows) {
        env.damage(output, how);
    }
    (env.tree, env.scan)
}

/// Every entry of every backup manifest under `scan`.
fn manifest_entries(scan: &Path) -> Vec<Value> {
    let Ok(sessions) = std::fs::read_dir(scan.join(".scanaudit/backups")) else { return Vec::new() };
    sessions
        .map(|s| s.unwrap().path().join("manifest.json"))
        .filter(|m| m.exists())
        .flat_map(|m| {
            let doc: Value = serde_json::from_slice(&std::fs::read(m).unwrap()).unwrap();
            doc["entries"].as_array().unwrap().clone()
        })
        .collect()
}

/// A pipe that holds one page: a child writing more blocks until it is read.
fn one_page_pipe() -> (std::fs::File, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fresh descriptors that this function then owns.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (read, write) = unsafe { (std::fs::File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: fcntl on a descriptor owned above.
    assert!(unsafe { libc::fcntl(fds[1], libc::F_SETPIPE_SZ, 4096) } >= 0);
    (read, write)
}

fn bytes_waiting(pipe: &std::fs::File) -> usize {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    assert_eq!(unsafe { libc::ioctl(pipe.as_raw_fd(), libc::FIONREAD, &mut n) }, 0);
    n as usize
}

/// Break 8: two repairs at once. The late one has made its plan and sits printing it (into a
/// full pipe, as into a paused terminal) while the other repairs everything; when it goes on,
/// it must find its plan stale and write nothing, not rewrite the fixed outputs "because
/// zero-filled/empty" into a second backup.
#[test]
fn a_repair_that_planned_before_another_finished_rewrites_nothing() {
    let (_tree, scan) = damaged_scan();
    let (mut plan_pipe, write_end) = one_page_pipe();
    // The plan is written line by line, and a line waits whole for room in the pipe: most of
    // the page is filled first, so that the plan cannot fit, and the late repair is blocked
    // once its plan has started to arrive and no more comes.
    const FILLER: usize = 3500;
    std::fs::File::from(write_end.try_clone().unwrap()).write_all(&[b'#'; FILLER]).unwrap();
    let mut late = bin().args(["repair", "--yes"]).arg(&scan).stdout(Stdio::from(write_end)).spawn().unwrap();
    let started = Instant::now();
    let (mut waiting, mut still_since) = (FILLER, Instant::now());
    while waiting == FILLER || still_since.elapsed() < Duration::from_secs(1) {
        assert!(late.try_wait().unwrap().is_none(), "the late repair ended before its plan filled the pipe");
        assert!(started.elapsed() < Duration::from_secs(300), "the late repair never printed its plan");
        std::thread::sleep(Duration::from_millis(20));
        let now = bytes_waiting(&plan_pipe);
        if now != waiting {
            (waiting, still_since) = (now, Instant::now());
        }
    }

    // (Bit 4 throughout: one unit of this scan has no usable checkpoint, which repair reports.)
    let (status, doc) = verb_json("repair", &["--yes", scan.to_str().unwrap()]);
    assert_eq!(status & (1 | 8), 1, "{doc:#}");
    let fixed: Vec<(Vec<u8>, u64)> = OUTPUTS
        .iter()
        .map(|o| (std::fs::read(scan.join(o)).unwrap(), scan.join(o).metadata().unwrap().ino()))
        .collect();

    let mut printed = String::new();
    plan_pipe.read_to_string(&mut printed).unwrap();
    let late = late.wait().unwrap().code().unwrap();
    assert_eq!(late & (1 | 8), 0, "the late repair changed or failed something (exit {late}):\n{printed}");
    assert!(printed.contains("0 actions done, 5 skipped"), "{printed}");
    for (output, (bytes, ino)) in OUTPUTS.iter().zip(&fixed) {
        assert!(std::fs::read(scan.join(output)).unwrap() == *bytes, "{output} was rewritten");
        assert_eq!(scan.join(output).metadata().unwrap().ino(), *ino, "{output} was replaced");
    }
    let entries = manifest_entries(&scan);
    let mut backed_up: BTreeMap<String, usize> = BTreeMap::new();
    for entry in &entries {
        *backed_up.entry(entry["path"].as_str().unwrap().to_string()).or_default() += 1;
        assert_ne!(entry["old_sha256"], entry["new_sha256"], "a file was rewritten with what it held: {entry:#}");
    }
    assert!(backed_up.values().all(|n| *n == 1), "an original was backed up twice: {backed_up:?}");
    assert_eq!(backed_up.len(), OUTPUTS.len(), "{backed_up:?}");
    let (_, again) = verb_json("repair", &["--yes", scan.to_str().unwrap()]);
    assert!(actions(&again).is_empty(), "{again:#}");
}

/// Sends `signal` to a repair of a damaged scan once it has written its first output, while
/// others are still damaged. Retries on a fresh copy when the repair got done first.
fn stop_repair_mid_write(signal: libc::c_int) -> (Tree, PathBuf) {
    for _ in 0..20 {
        let (tree, scan) = damaged_scan();
        let first = scan.join(OUTPUTS[0]);
        let mut child: Child =
            bin().args(["repair", "--yes"]).arg(&scan).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        while first.metadata().unwrap().len() == 0 && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_micros(200));
        }
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        child.wait().unwrap();
        let last = scan.join(OUTPUTS[OUTPUTS.len() - 1]);
        if first.metadata().unwrap().len() > 0 && last.metadata().unwrap().len() == 0 {
            return (tree, scan);
        }
    }
    panic!("signal {signal} never landed between the first and the last output");
}

/// Break 9: a repair killed (SIGKILL) or stopped (SIGINT) after writing part of its plan; the
/// next repair, at once and with the default --min-idle, finishes the job: the outputs the
/// first one wrote are scanaudit's own writes, not OpenAnt at work.
#[test]
fn a_repair_stopped_mid_run_is_finished_by_the_next_one_at_once() {
    for signal in [libc::SIGKILL, libc::SIGINT] {
        let (_tree, scan) = stop_repair_mid_write(signal);
        let (status, doc) = verb_json("repair", &["--yes", scan.to_str().unwrap()]);
        assert_eq!(status & (1 | 8), 1, "signal {signal}: {doc:#}");
        assert_eq!(doc["scan_dirs"][0]["status"], "planned", "signal {signal}: {doc:#}");
        for output in OUTPUTS {
            assert!(scan.join(output).metadata().unwrap().len() > 0, "signal {signal}: {output} still empty");
        }
        let (_, again) = verb_json("repair", &["--yes", scan.to_str().unwrap()]);
        assert!(actions(&again).is_empty(), "signal {signal}: {again:#}");
    }
}

/// Break 9, between verbs: repair then migrate at once, and migrate (splitting single-file
/// checkpoints, moving the scan down a language level) then repair at once.
#[test]
fn repair_then_migrate_and_migrate_then_repair_run_at_once() {
    let tree = Tree::copy("legacy", OLD);
    let scan = tree.path("legacy/projects/forkproj/scans/5c3855e0a1b/python");
    damage(&scan.join("results.json"), Damage::Cut(0.7));
    common::set_age(tree.root(), OLD);
    let (status, doc) = verb_json("repair", &["--yes", scan.to_str().unwrap()]);
    assert_eq!(status & (1 | 8), 1, "{doc:#}");
    let (status, doc) = verb_json("migrate", &["--yes", scan.to_str().unwrap()]);
    assert_eq!(doc["scan_dirs"][0]["status"], "planned", "{doc:#}");
    assert_eq!(status & (1 | 8), 1, "{doc:#}");

    let tree = Tree::copy("legacy", OLD);
    let run_dir = tree.path("legacy/projects/oldtool/scans/0d729f6a1b2");
    damage(&run_dir.join("dynamic_test_results.json"), Damage::Cut(0.3));
    common::set_age(tree.root(), OLD);
    let (status, doc) = verb_json("migrate", &["--yes", run_dir.to_str().unwrap()]);
    assert_eq!(status & (1 | 8), 1, "{doc:#}");
    let scan = run_dir.join("python");
    assert!(scan.join("dynamic_test_results.json").exists(), "{doc:#}");
    let (status, doc) = verb_json("repair", &["--yes", scan.to_str().unwrap()]);
    assert_eq!(doc["scan_dirs"][0]["status"], "planned", "{doc:#}");
    assert_eq!(status & (1 | 8), 1, "{doc:#}");
    let rebuilt = actions(&doc).iter().any(|a| a["target"].as_str().unwrap().ends_with("dynamic_test_results.json"));
    assert!(rebuilt, "{doc:#}");
}

/// What scanaudit wrote stops counting as its own once OpenAnt writes over it, and a fresh
/// OpenAnt write elsewhere in the dir still makes repair leave the dir alone.
#[test]
fn a_fresh_openant_write_still_means_in_use_after_scanaudit_wrote() {
    let env = TestEnv::scan(SCAN);
    let scan = &env.scan;
    env.damage("results.json", Damage::Cut(0.5));
    assert_eq!(env.repair().0 & (1 | 8), 1);

    // OpenAnt rewrites the file scanaudit just wrote (and tears it): a fresh write, not aged.
    damage(&scan.join("results.json"), Damage::Cut(0.5));
    let (status, doc) = env.repair();
    assert_eq!(status, 4, "{doc:#}");
    assert_eq!(doc["scan_dirs"][0]["status"], "in-use", "{doc:#}");

    // The torn file is old; OpenAnt just wrote a checkpoint beside what scanaudit wrote.
    let torn = scan.join("results.json");
    filetime::set_file_mtime(&torn, filetime::FileTime::from_system_time(std::time::SystemTime::now() - OLD)).unwrap();
    let checkpoint = std::fs::read_dir(scan.join("analyze_checkpoints")).unwrap().next().unwrap().unwrap().path();
    std::fs::write(&checkpoint, std::fs::read(&checkpoint).unwrap()).unwrap();
    let (status, doc) = env.repair();
    assert_eq!(status, 4, "{doc:#}");
    assert_eq!(doc["scan_dirs"][0]["status"], "in-use", "{doc:#}");
}
