//! The Python package (`pyproject.toml`): maturin from PyPI builds the wheel exactly as a release
//! would (`--release --locked`), a fresh venv installs it, and the `scanaudit` that venv puts on
//! PATH is the real binary: its version is Cargo.toml's and it checks `testdata/healthy`.
//!
//! The release build goes to its own target dir below `target/` (as trybuild's builds do), so
//! it neither waits for the lock `cargo test` holds on `target/` nor rebuilds from scratch on
//! every run: only the first run pays for a full release build. Skipped, with a message, only
//! where `python3` cannot make a venv with pip or PyPI cannot be reached.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::testdata;

/// maturin releases the pyproject's `requires` accepts; the same range here.
const MATURIN: &str = "maturin>=1.9,<2";

/// Runs `cmd` to its end or kills it after `limit`; stdout and stderr go to files (no pipe can
/// fill and stall it).
fn run(cmd: &mut Command, limit: Duration) -> Output {
    let logs = tempfile::tempdir().expect("tempdir");
    let (out, err) = (logs.path().join("out"), logs.path().join("err"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            panic!("{cmd:?} still ran after {limit:?}:\n{}", String::from_utf8_lossy(&std::fs::read(&err).unwrap()));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output { status, stdout: std::fs::read(&out).unwrap(), stderr: std::fs::read(&err).unwrap() }
}

fn text(output: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A fresh venv at `dir`, or None when this `python3` cannot make one with pip in it.
fn venv(dir: &Path) -> Option<PathBuf> {
    let made = run(Command::new("python3").args(["-m", "venv"]).arg(dir), Duration::from_secs(300));
    if !made.status.success() || !dir.join("bin/pip").exists() {
        eprintln!("SKIPPED python_package: `python3 -m venv` cannot make a venv with pip here:\n{}", text(&made));
        return None;
    }
    Some(dir.join("bin"))
}

#[test]
fn the_wheel_installs_the_real_binary_into_a_fresh_venv() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(build_bin) = venv(&tmp.path().join("build-venv")) else { return };
    let reach = run(
        Command::new(build_bin.join("python")).args([
            "-c",
            "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/maturin/', timeout=30)",
        ]),
        Duration::from_secs(120),
    );
    if !reach.status.success() {
        eprintln!("SKIPPED python_package: PyPI (https://pypi.org) is unreachable:\n{}", text(&reach));
        return;
    }
    let pip = run(
        Command::new(build_bin.join("pip")).args(["install", "--disable-pip-version-check", "--quiet", MATURIN]),
        Duration::from_secs(600),
    );
    assert!(pip.status.success(), "pip install {MATURIN}: {}", text(&pip));

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wheels = tmp.path().join("wheels");
    let started = Instant::now();
    let build = run(
        Command::new(build_bin.join("maturin"))
            .args(["build", "--release", "--locked", "--out"])
            .arg(&wheels)
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"))
            .current_dir(root)
            .env("CARGO_TARGET_DIR", root.join("target/python-wheel"))
            .env_remove("RUSTFLAGS"),
        Duration::from_secs(45 * 60),
    );
    assert!(build.status.success(), "maturin build: {}", text(&build));
    eprintln!("python_package: maturin build took {:.0?}", started.elapsed());
    let built: Vec<PathBuf> = std::fs::read_dir(&wheels).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(built.len(), 1, "one wheel: {built:?}");
    let wheel = &built[0];
    let version = env!("CARGO_PKG_VERSION");
    let name = wheel.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with(&format!("scanaudit-{version}-py3-none-")), "wheel name {name}");

    // A fresh venv, with nothing but the wheel (no index: nothing else may come in).
    let Some(bin) = venv(&tmp.path().join("user-venv")) else { return };
    let install = run(
        Command::new(bin.join("pip"))
            .args(["install", "--disable-pip-version-check", "--no-index", "--no-deps"])
            .arg(wheel),
        Duration::from_secs(300),
    );
    assert!(install.status.success(), "pip install the wheel: {}", text(&install));
    let exe = bin.join("scanaudit");
    assert!(std::fs::symlink_metadata(&exe).expect("the venv's bin/scanaudit").file_type().is_file(), "a real file");

    let meta = run(
        Command::new(bin.join("python")).args([
            "-c",
            "import importlib.metadata as m; d = m.metadata('scanaudit'); \
             print(d['Version']); print(d['Requires-Python']); print(d.get_payload().splitlines()[0])",
        ]),
        Duration::from_secs(60),
    );
    assert!(meta.status.success(), "metadata: {}", text(&meta));
    assert_eq!(
        String::from_utf8_lossy(&meta.stdout).lines().collect::<Vec<_>>(),
        [version, ">=3.8", "# scanaudit"],
        "version from Cargo.toml, requires-python, README as the description"
    );

    let clean_env = |cmd: &mut Command| {
        cmd.env_remove("OPENANT_HOME").env_remove("NO_COLOR").env("TERM", "dumb");
    };
    let mut cmd = Command::new(&exe);
    cmd.arg("--version");
    clean_env(&mut cmd);
    let shown = run(&mut cmd, Duration::from_secs(60));
    assert!(shown.status.success(), "--version: {}", text(&shown));
    assert_eq!(String::from_utf8_lossy(&shown.stdout).trim(), format!("scanaudit {version}"));

    let mut cmd = Command::new(&exe);
    cmd.arg("check").arg(testdata("healthy"));
    clean_env(&mut cmd);
    let checked = run(&mut cmd, Duration::from_secs(300));
    assert_eq!(checked.status.code(), Some(0), "check testdata/healthy: {}", text(&checked));
    assert!(String::from_utf8_lossy(&checked.stdout).contains("no problems found"), "{}", text(&checked));
}
