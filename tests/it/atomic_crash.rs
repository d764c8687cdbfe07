//! Crash test: a child process rewrites a multi-MB JSON file through `write_atomic` in a loop
//! and is SIGKILLed at random moments. After every kill the target must parse and be exactly
//! one complete generation; the only other entries allowed are our own temp files.
//!
//! The child is this same test binary, re-executed with `SCANAUDIT_CRASH_CHILD=<dir>` and
//! filtered to `atomic_crash::crash_child`, which does nothing in a normal test run.
//!
//! `SCANAUDIT_CRASH_KILLS` sets the number of kills (default 200);
//! `SCANAUDIT_CRASH_SEED` fixes the random sleeps (the seed is printed).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scanaudit::atomic::write_atomic;

use crate::common::Rng;

const CHILD_ENV: &str = "SCANAUDIT_CRASH_CHILD";
const TARGET: &str = "results.json";
/// Size of each payload; the documents are a bit larger.
const PAYLOAD_BYTES: usize = 3 * 1024 * 1024;

/// The exact bytes of generation `generation`: even and odd generations carry different
/// payloads, and the counter makes every generation distinguishable.
fn document(generation: u64) -> Vec<u8> {
    let (parity, fill) = if generation % 2 == 0 { ("even", b'a') } else { ("odd", b'b') };
    let mut doc =
        format!("{{\n  \"generation\": {generation},\n  \"parity\": \"{parity}\",\n  \"payload\": \"").into_bytes();
    doc.resize(doc.len() + PAYLOAD_BYTES, fill);
    doc.extend_from_slice(format!("\",\n  \"end\": {generation}\n}}").as_bytes());
    doc
}

fn json(b: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<serde::de::IgnoredAny>(b).map(|_| ()).map_err(|e| e.to_string())
}

/// Child mode: write generations forever (bounded, in case the parent dies).
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return; // normal test run: nothing to do
    };
    let base: u64 = std::env::var("SCANAUDIT_CRASH_GEN_BASE").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000);
    let target = Path::new(&dir).join(TARGET);
    let mut out = std::io::stdout();
    let started = Instant::now();
    for i in 0..10_000u64 {
        let doc = document(base + i);
        if i == 0 {
            // Tell the parent the loop is running (the first write is about to start).
            let _ = out.write_all(b"ready\n");
            let _ = out.flush();
        }
        write_atomic(&target, &doc, &json).unwrap();
        if started.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
}

fn is_our_temp(name: &str) -> bool {
    let Some(random) = name.strip_prefix(&format!(".{TARGET}.scanaudit-")).and_then(|r| r.strip_suffix(".tmp")) else {
        return false;
    };
    random.len() == 6 && random.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[test]
fn sigkill_leaves_old_or_new_never_torn() {
    let kills: u32 = std::env::var("SCANAUDIT_CRASH_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let seed: u64 = std::env::var("SCANAUDIT_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
    }) | 1;
    eprintln!("crash test: {kills} kills, SCANAUDIT_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let exe = std::env::current_exe().unwrap();
    let d = tempfile::tempdir().unwrap();
    let target = d.path().join(TARGET);
    std::fs::write(&target, document(0)).unwrap();

    let started = Instant::now();
    let mut generations_seen = std::collections::BTreeSet::new();
    let mut temps_left = 0usize;
    for kill in 0..kills {
        let base = u64::from(kill + 1) * 100_000;
        let mut child = Command::new(&exe)
            .args(["atomic_crash::crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, d.path())
            .env("SCANAUDIT_CRASH_GEN_BASE", base.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the child's write loop runs, then let it write for 0-30 ms.
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        while !line.contains("ready") {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 {
                panic!("child exited before starting: {:?}", child.wait());
            }
        }
        std::thread::sleep(Duration::from_micros(rng.next() % 30_000));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "kill {kill}: the child ended on its own ({status}); a failed write_atomic panics"
        );

        // The target is exactly one complete generation.
        let bytes = std::fs::read(&target).unwrap();
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("kill {kill}: target does not parse: {e}"));
        let generation = value["generation"].as_u64().unwrap_or_else(|| panic!("kill {kill}: no generation"));
        assert!(bytes == document(generation), "kill {kill}: target is not exactly generation {generation}");
        generations_seen.insert(generation);

        // Besides the target, only our own temp files (SIGKILL skips cleanup), removed here
        // as `scanaudit clean` would.
        for entry in std::fs::read_dir(d.path()).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name == TARGET {
                continue;
            }
            assert!(is_our_temp(&name), "kill {kill}: unexpected entry {name:?}");
            temps_left += 1;
            std::fs::remove_file(d.path().join(&name)).unwrap();
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "crash test: {kills} kills in {:.1} s, {} distinct generations observed, {temps_left} temp files left by kills",
        elapsed.as_secs_f64(),
        generations_seen.len()
    );
    // The kills must land at different points, and some mid-write (a temp file left behind),
    // or the test proves little.
    if kills >= 20 {
        assert!(generations_seen.len() > 1, "every kill saw the same generation: the child never got to write");
        assert!(temps_left > 0, "no kill ever landed mid-write");
    }
}
