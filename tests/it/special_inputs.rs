//! Inputs that are not regular files, through the real binary: a FIFO where a scan's input
//! belongs never hangs `repair` or `migrate` (every run has a deadline and is killed past it),
//! and a symlink is never followed (text planted outside the scan dir never comes in, and
//! nothing outside is written).

use crate::common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{damage, set_age, Damage, Tree, OLD, OUTPUTS};
use serde_json::Value;

/// Far above any run's time on a loaded machine; only a hang reaches it.
const DEADLINE: Duration = Duration::from_secs(90);
const SCAN: &str = common::FULL_SCAN;
/// An upstream scan from before the language level (its `meta.json` would sit in the scan dir
/// itself): what migrate moves, reading its datasets to tell the language.
const OLD_SCAN: &str = "legacy/projects/oldtool/scans/0d729f6a1b2";

/// The inputs a FIFO hung a verb on (issue 12, break 2); `../meta.json` is the run dir's.
const FIFO_INPUTS: [&str; 7] = [
    "results.json",
    "results_verified.json",
    "dataset_enhanced.json",
    "dataset.json",
    "pipeline_output.json",
    "scan.report.json",
    "../meta.json",
];

const MARKER: &str = "PLANTED-OUTSIDE-THE-SCAN-DIR-7f3a";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `scanaudit ARGS...` with stdout and stderr in files (a full pipe never stalls it) and
/// kills it when it is still running at the deadline: a hang fails the test, never the suite.
fn run_with_deadline(args: &[&OsStr]) -> Run {
    let out = tempfile::tempdir().expect("tempdir");
    let stdout_path = out.path().join("stdout");
    let stderr_path = out.path().join("stderr");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("scanaudit"))
        .args(args)
        .env_remove("OPENANT_HOME")
        .env_remove("NO_COLOR")
        .env("TERM", "dumb")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("spawn scanaudit");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "scanaudit {:?} still running after {DEADLINE:?}: it hangs\nstdout so far: {}",
                args,
                std::fs::read_to_string(&stdout_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        code: status.code().expect("exited normally"),
        stdout: std::fs::read_to_string(&stdout_path).expect("stdout"),
        stderr: std::fs::read_to_string(&stderr_path).expect("stderr"),
    }
}

/// Makes a FIFO at `path` (replacing what is there), as old as the tree around it. Call it
/// after `set_age`, which opens what it dates and would block on a FIFO.
fn mkfifo(path: &Path) {
    if std::fs::symlink_metadata(path).is_ok() {
        std::fs::remove_file(path).expect("remove");
    }
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL");
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
    let old = filetime::FileTime::from_system_time(std::time::SystemTime::now() - OLD);
    filetime::set_symlink_file_times(path, old, old).expect("date the FIFO");
}

/// The path of `rel` (which may start with `../`) from `scan`, without `..` in it.
fn input_path(scan: &Path, rel: &str) -> PathBuf {
    match rel.strip_prefix("../") {
        Some(name) => scan.parent().expect("run dir").join(name),
        None => scan.join(rel),
    }
}

fn json_of(verb: &str, run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!("{verb}: stdout is not one JSON document ({e}):\n{}\nstderr: {}", run.stdout, run.stderr)
    })
}

/// Every string in a document, for asserting that a path is named somewhere.
fn mentions(doc: &Value, needle: &str) -> bool {
    match doc {
        Value::String(s) => s.contains(needle),
        Value::Array(items) => items.iter().any(|v| mentions(v, needle)),
        Value::Object(map) => map.values().any(|v| mentions(v, needle)),
        _ => false,
    }
}

/// A FIFO in place of any input: repair finishes, and names the FIFO as what it left alone or
/// could not rebuild from. The other outputs are missing, so every rebuild that can read the
/// input does.
#[test]
fn a_fifo_input_never_hangs_repair() {
    for input in FIFO_INPUTS {
        let tree = Tree::copy("healthy", OLD);
        let scan = tree.path(SCAN);
        for output in OUTPUTS.iter().filter(|o| **o != input) {
            damage(&scan.join(output), Damage::Missing);
        }
        set_age(tree.root(), OLD);
        let fifo = input_path(&scan, input);
        mkfifo(&fifo);
        let run = run_with_deadline(&[
            OsStr::new("repair"),
            OsStr::new("--yes"),
            OsStr::new("--format"),
            OsStr::new("json"),
            scan.as_os_str(),
        ]);
        let doc = json_of("repair", &run);
        assert!(mentions(&doc, fifo.to_str().unwrap()), "{input}: the FIFO is not named:\n{doc:#}");
        let told = doc.to_string();
        assert!(told.contains("FIFO"), "{input}: not said to be a FIFO:\n{doc:#}");
        assert_ne!(run.code & 4, 0, "{input}: a FIFO input leaves work undone: {}", run.code);
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "{input}: the FIFO was replaced");
    }
}

/// The same for migrate, on a scan it moves into its language level (reading its datasets to
/// tell the language) and on a language-level scan whose run dir holds `meta.json`: it finishes
/// with one complete document, and the FIFO is never read or replaced (a move takes it along
/// as it is).
#[test]
fn a_fifo_input_never_hangs_migrate() {
    for (tree_name, scan_rel) in [("legacy", OLD_SCAN), ("healthy", SCAN)] {
        for input in FIFO_INPUTS {
            let tree = Tree::copy(tree_name, OLD);
            let scan = tree.path(scan_rel);
            // Before the language level, meta.json sat in the scan dir itself.
            let fifo = if tree_name == "legacy" && input == "../meta.json" {
                scan.join("meta.json")
            } else {
                input_path(&scan, input)
            };
            set_age(tree.root(), OLD);
            mkfifo(&fifo);
            let run = run_with_deadline(&[
                OsStr::new("migrate"),
                OsStr::new("--yes"),
                OsStr::new("--format"),
                OsStr::new("json"),
                scan.as_os_str(),
            ]);
            json_of("migrate", &run);
            let fifos: Vec<PathBuf> = walkdir::WalkDir::new(tree.root())
                .into_iter()
                .map(|e| e.expect("walk"))
                .filter(|e| e.file_type().is_fifo())
                .map(|e| e.into_path())
                .collect();
            assert_eq!(fifos.len(), 1, "{tree_name} {input}: the FIFO is gone or was copied: {fifos:?}");
            assert_eq!(fifos[0].file_name(), fifo.file_name(), "{tree_name} {input}");
        }
    }
}

/// Every regular file below `root` (symlinks and special files not followed or opened).
fn regular_files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).expect("read")))
        .collect();
    files.sort();
    files
}

fn assert_marker_absent(scan: &Path) {
    for (path, bytes) in regular_files(scan) {
        assert!(
            !bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
            "text from outside the scan dir came in through a symlink: {}",
            path.display()
        );
    }
}

fn repair(scan: &Path) -> Run {
    run_with_deadline(&[
        OsStr::new("repair"),
        OsStr::new("--yes"),
        OsStr::new("--format"),
        OsStr::new("json"),
        scan.as_os_str(),
    ])
}

/// Replaces `name` in the scan dir with a symlink to a copy of it outside the scan dir, each
/// JSON file of which `plant` marks with [`MARKER`]; damages `output`, repairs, and asserts that
/// nothing of the outside came in, nothing outside was written, and repair named the link and
/// left it a link. Returns the tree and the scan dir.
fn repair_past_a_symlinked(name: &str, plant: fn(&mut Value), output: &str) -> (Tree, PathBuf) {
    let tree = Tree::copy("healthy", OLD);
    let scan = tree.path(SCAN);
    let link = scan.join(name);
    let outside = tree.path("outside").join(name);
    let planted = |from: &Path, to: &Path| {
        let mut value: Value = serde_json::from_slice(&std::fs::read(from).unwrap()).unwrap();
        plant(&mut value);
        std::fs::write(to, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    };
    if link.is_dir() {
        std::fs::create_dir_all(&outside).unwrap();
        for entry in std::fs::read_dir(&link).unwrap() {
            let path = entry.unwrap().path();
            planted(&path, &outside.join(path.file_name().unwrap()));
        }
        std::fs::remove_dir_all(&link).unwrap();
    } else {
        std::fs::create_dir_all(outside.parent().unwrap()).unwrap();
        planted(&link, &outside);
        std::fs::remove_file(&link).unwrap();
    }
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    damage(&scan.join(output), Damage::Missing);
    set_age(tree.root(), OLD);
    let before = regular_files(&tree.path("outside"));
    let doc = json_of("repair", &repair(&scan));
    assert_marker_absent(&scan);
    assert_eq!(regular_files(&tree.path("outside")), before, "written outside the scan dir");
    assert!(mentions(&doc, link.to_str().unwrap()), "the symlink is not named:\n{doc:#}");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced");
    (tree, scan)
}

/// An `analyze_checkpoints/` that is a symlink to checkpoints elsewhere is never read: nothing
/// of theirs reaches the rebuilt outputs, nothing outside is written, and repair names the link.
#[test]
fn a_symlinked_checkpoint_dir_is_never_entered() {
    let plant = |checkpoint: &mut Value| {
        if checkpoint.get("result").is_some_and(Value::is_object) {
            checkpoint["result"]["reasoning"] = Value::from(MARKER);
            checkpoint["code_for_route"] = Value::from(MARKER);
        }
    };
    repair_past_a_symlinked("analyze_checkpoints", plant, "results.json");
}

/// A `results.json` that is a symlink to a file elsewhere is never read as the input of
/// `results_verified.json`; it is left alone as check reports it, a symlink.
#[test]
fn a_symlinked_input_is_never_read() {
    let plant = |results: &mut Value| {
        for result in results["results"].as_array_mut().unwrap() {
            result["reasoning"] = Value::from(MARKER);
        }
    };
    let (_tree, scan) = repair_past_a_symlinked("results.json", plant, "results_verified.json");
    // check names it the same way: a symlink, never followed.
    let (_, checked) = common::check_json(&[scan.to_str().unwrap()]);
    let kinds = common::kinds(&checked, &scan);
    assert!(kinds.contains(&("results.json".to_string(), "symlink".to_string())), "{kinds:?}");
}

/// A scan dir named on the command line through a symlink is looked at through it, as check's
/// walk does (fd, ripgrep): only what lies below a named root is never reached through one.
#[test]
fn a_root_named_through_a_symlink_is_still_read() {
    let tree = Tree::copy("healthy", OLD);
    let scan = tree.path(SCAN);
    damage(&scan.join("results.json"), Damage::Missing);
    set_age(tree.root(), OLD);
    let link = tree.path("link-to-scan");
    std::os::unix::fs::symlink(&scan, &link).unwrap();
    let migrated = run_with_deadline(&[
        OsStr::new("migrate"),
        OsStr::new("--dry-run"),
        OsStr::new("--format"),
        OsStr::new("json"),
        link.as_os_str(),
    ]);
    json_of("migrate", &migrated);
    assert_eq!(migrated.code & 8, 0, "migrate could not read the named root: {}", migrated.stdout);
    let run = repair(&link);
    let doc = json_of("repair", &run);
    assert_eq!(run.code & 8, 0, "repair could not read the named root:\n{doc:#}");
    assert!(scan.join("results.json").is_file(), "not rebuilt:\n{doc:#}");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
}
