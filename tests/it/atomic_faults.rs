//! Fault injection: every step of the atomic writer fails in turn (fail crate failpoints), over
//! an existing file. The target must hold exactly the old or exactly the new bytes, and no temp
//! file may remain. The fail registry is process-global, so everything runs in ONE test, alone
//! in its own process.

use std::path::Path;

use scanaudit::atomic::write_atomic;
use scanaudit::fsx::{AtomicError, Step};

const OLD: &[u8] = b"{\n  \"generation\": 1,\n  \"payload\": \"old\"\n}";

fn json(b: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<serde::de::IgnoredAny>(b).map(|_| ()).map_err(|e| e.to_string())
}

fn new_contents() -> Vec<u8> {
    // Large enough that a torn (half) write is clearly distinguishable.
    contents_of(256 * 1024)
}

fn contents_of(payload_bytes: usize) -> Vec<u8> {
    let payload = "n".repeat(payload_bytes);
    format!("{{\n  \"generation\": 2,\n  \"payload\": \"{payload}\"\n}}").into_bytes()
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[derive(Debug, PartialEq)]
enum Expect {
    /// The write fails at this step; the target keeps the old bytes.
    Fails(Option<Step>),
    /// The write happens; the directory fsync failed.
    WrittenNotDurable,
}

#[test]
fn every_failpoint_leaves_old_or_new_and_no_temp() {
    crate::common::alone!(every_failpoint_leaves_old_or_new_and_no_temp);
    let scenario = fail::FailScenario::setup();
    // Small contents are validated after the read-back; from 1 MiB on, while a thread of the
    // writer's writes and reads them back: every step fails the same way in both.
    for new in [new_contents(), contents_of(3 << 20)] {
        every_failpoint_with(&new);
    }
    scenario.teardown();
}

fn every_failpoint_with(new: &[u8]) {
    let cases = [
        ("atomic::create", Expect::Fails(Some(Step::Create))),
        ("atomic::write", Expect::Fails(Some(Step::Write))),
        ("atomic::fsync", Expect::Fails(Some(Step::Fsync))),
        ("atomic::read-back", Expect::Fails(Some(Step::ReadBack))),
        ("atomic::validate", Expect::Fails(None)),
        ("atomic::chown", Expect::Fails(Some(Step::Chown))),
        ("atomic::chmod", Expect::Fails(Some(Step::Chmod))),
        ("atomic::rename", Expect::Fails(Some(Step::Rename))),
        ("atomic::dir-fsync", Expect::WrittenNotDurable),
    ];
    for (name, expect) in &cases {
        for action in ["return", "panic"] {
            if *expect == Expect::WrittenNotDurable && action == "panic" {
                continue; // a panic after the rename cannot be "old bytes"; covered by the crash test
            }
            let d = tempfile::tempdir().unwrap();
            let target = d.path().join("results.json");
            std::fs::write(&target, OLD).unwrap();
            fail::cfg(*name, action).unwrap();
            let result = std::panic::catch_unwind(|| write_atomic(&target, new, &json));
            fail::remove(*name);

            let now = std::fs::read(&target).unwrap();
            assert!(now == OLD || now == new, "{name}/{action}: torn target ({} bytes)", now.len());
            assert_eq!(
                dir_entries(d.path()),
                vec!["results.json".to_string()],
                "{name}/{action}: something besides the target is left"
            );
            match (action, expect, result) {
                ("panic", _, Err(_)) => assert_eq!(now, OLD, "{name}/panic"),
                ("panic", _, Ok(r)) => panic!("{name}: failpoint did not fire: {r:?}"),
                (_, Expect::Fails(step), Ok(Err(err))) => {
                    assert_eq!(now, OLD, "{name}: target changed although the write failed");
                    assert_eq!(err.step(), *step, "{name}: {err}");
                    if step.is_none() {
                        assert!(matches!(err, AtomicError::Validation { .. }), "{err}");
                    }
                    assert!(err.to_string().contains("results.json"), "{name}: error must name the path: {err}");
                }
                (_, Expect::WrittenNotDurable, Ok(Ok(outcome))) => {
                    assert_eq!(now, new, "{name}: the rename happened, so new bytes");
                    assert!(!outcome.durable, "{name}: must report durable=false");
                    assert!(outcome.dir_sync_error.is_some());
                }
                (_, _, other) => panic!("{name}: unexpected result {other:?}"),
            }
        }
    }

    // A new file (no old one): failing steps leave nothing at all.
    for (name, expect) in &cases {
        if *expect == Expect::WrittenNotDurable || *name == "atomic::chown" {
            continue; // chown only runs when replacing
        }
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("fresh.json");
        fail::cfg(*name, "return").unwrap();
        let result = write_atomic(&target, new, &json);
        fail::remove(*name);
        assert!(result.is_err(), "{name}: should fail");
        assert_eq!(dir_entries(d.path()), Vec::<String>::new(), "{name}");
    }

    // And with no failpoint configured, the same write succeeds durably.
    let d = tempfile::tempdir().unwrap();
    let target = d.path().join("results.json");
    std::fs::write(&target, OLD).unwrap();
    let outcome = write_atomic(&target, new, &json).unwrap();
    assert!(outcome.durable);
    assert_eq!(std::fs::read(&target).unwrap(), new);
}

/// Bytes in memory are validated while the writer's own thread writes, fsyncs and reads them
/// back (the read-back then proves the verdict is the one on what is on disk). Here the
/// read-back waits for the validation: were the steps run one after the other, it would wait
/// in vain (until the timeout) and see no verdict yet.
#[test]
fn in_memory_contents_are_validated_while_they_are_written() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::Duration;

    crate::common::alone!(in_memory_contents_are_validated_while_they_are_written);
    let scenario = fail::FailScenario::setup();
    let validated = Arc::new((Mutex::new(false), Condvar::new()));
    let validated_before_read_back = Arc::new(AtomicBool::new(false));
    let (waiting, seen) = (validated.clone(), validated_before_read_back.clone());
    fail::cfg_callback("atomic::read-back", move || {
        let (done, changed) = &*waiting;
        let done = done.lock().unwrap();
        let (done, _) = changed.wait_timeout_while(done, Duration::from_secs(30), |done| !*done).unwrap();
        seen.store(*done, Ordering::SeqCst);
    })
    .unwrap();
    let validator = |bytes: &[u8]| {
        let (done, changed) = &*validated;
        *done.lock().unwrap() = true;
        changed.notify_all();
        json(bytes)
    };
    // Large enough to be worth a thread (small files are written and validated in turn).
    let payload = "v".repeat(4 << 20);
    let new = format!("{{\"payload\": \"{payload}\"}}").into_bytes();
    let d = tempfile::tempdir().unwrap();
    let target = d.path().join("results.json");
    std::fs::write(&target, OLD).unwrap();
    let result = write_atomic(&target, &new, &validator);
    fail::remove("atomic::read-back");
    result.unwrap();
    assert!(validated_before_read_back.load(Ordering::SeqCst), "validated only after the read-back");
    assert_eq!(std::fs::read(&target).unwrap(), new);
    assert_eq!(dir_entries(d.path()), vec!["results.json".to_string()]);
    scenario.teardown();
}
