//! Helpers that keep each integration test a few readable lines.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, SystemTime};

use assert_cmd::Command;
use serde_json::Value;

/// Runs the calling test alone in a fresh process of this test binary, for a test that changes
/// process-wide state (the umask, the fail crate's failpoints) which the binary's other tests,
/// running in parallel threads, would see. `test` is the test's full name, `module_path!()`
/// and the function's name. True in that child, where the caller runs the test's body; in the
/// parent the child has run it, and a failure there fails the caller.
pub fn alone_in_own_process(test: &str) -> bool {
    const ALONE: &str = "SCANAUDIT_TEST_ALONE";
    // libtest names a test by its path below the crate.
    let name = test.split_once("::").map_or(test, |(_crate, path)| path);
    if std::env::var_os(ALONE).is_some_and(|v| v == name) {
        return true;
    }
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([name, "--exact", "--test-threads=1"])
        .env(ALONE, name)
        .output()
        .expect("run the test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{name} failed in its own process ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    false
}

/// Returns from the calling test unless it runs alone in its own process
/// ([`alone_in_own_process`]): `alone!(test_name)` as the test's first line. For a test that
/// changes process-wide state, and for one that takes a scan dir's `flock` in this process: a
/// child another test thread is spawning holds a copy of every descriptor until its `exec`
/// (close-on-exec or not), so the lock would still be held when the test takes it again.
macro_rules! alone {
    ($test:ident) => {
        if !crate::common::alone_in_own_process(concat!(module_path!(), "::", stringify!($test))) {
            return;
        }
    };
}
pub(crate) use alone;

/// Old enough that no scan dir looks in use (tests set every copied file to this age).
pub const OLD: Duration = Duration::from_secs(3 * 86_400);

/// A full scan of today's layout with verify and dynamic tests: every output can be rebuilt
/// from its checkpoints.
pub const FULL_SCAN: &str = "healthy/projects/acme-webapp/scans/3f9c2e1b7a6/python";

/// The five outputs repair rebuilds, in its rebuild order.
pub const OUTPUTS: [&str; 5] = [
    "dataset_enhanced.json",
    "results.json",
    "results_verified.json",
    "pipeline_output.json",
    "dynamic_test_results.json",
];

pub fn testdata(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(sub)
}

/// The built `scanaudit` binary, with an environment that does not leak the developer's
/// terminal or OpenAnt home into the test.
pub fn scanaudit() -> Command {
    let mut cmd = Command::cargo_bin("scanaudit").expect("binary is built");
    cmd.env_remove("OPENANT_HOME").env_remove("NO_COLOR").env("TERM", "dumb");
    cmd.env_remove("COLUMNS").env_remove("CLICOLOR_FORCE").env_remove("CLICOLOR");
    cmd
}

/// A private copy of a testdata tree. Git does not keep mtimes, so every file is set to
/// `age` ago: tests decide whether temp files look abandoned or in progress.
pub struct Tree {
    pub dir: tempfile::TempDir,
}

impl Tree {
    pub fn copy(sub: &str, age: Duration) -> Tree {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(&testdata(sub), &dir.path().join(sub));
        apply_modes(dir.path(), sub);
        set_age(dir.path(), age);
        Tree { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

/// Git keeps no modes, so the generator lists in `expected/modes.json` the files it wrote with a
/// mode other than the checkout's (today's OpenAnt writes every JSON file 0600); a copy of
/// `sub` gets them back.
pub fn apply_modes(root: &Path, sub: &str) {
    use std::os::unix::fs::PermissionsExt;
    let listed = testdata("expected/modes.json");
    let modes: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(&listed).expect("expected/modes.json")).expect("modes.json");
    let prefix = format!("{}/", sub.trim_end_matches('/'));
    for (rel, mode) in modes {
        if !(rel.starts_with(&prefix) || rel == sub) {
            continue;
        }
        let path = root.join(&rel);
        let mode = u32::from_str_radix(&mode, 8).expect("octal mode");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("setting the mode of {}: {e}", path.display()));
    }
}

/// Copies the tree at `from` to `to` (created), keeping symlinks as symlinks.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let ty = entry.file_type().expect("file type");
        let target = to.join(entry.file_name());
        if ty.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if ty.is_symlink() {
            let link = std::fs::read_link(entry.path()).expect("readlink");
            std::os::unix::fs::symlink(link, &target).expect("symlink");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Sets the mtime (and so, on the next change, nothing else) of every file below `root`.
pub fn set_age(root: &Path, age: Duration) {
    let when = filetime::FileTime::from_system_time(SystemTime::now() - age);
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let entry = entry.expect("walk");
        if !entry.file_type().is_symlink() {
            filetime::set_file_mtime(entry.path(), when).expect("set mtime");
        }
    }
}

/// Generates one large current scan under `root` (`generate.py bench`, `units` units) and
/// returns its scan dir.
pub fn generated_scan(root: &Path, units: usize) -> PathBuf {
    let status = std::process::Command::new("python3")
        .arg(testdata("generate.py"))
        .args(["bench", root.to_str().unwrap(), "--scans", "1", "--units", &units.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run python3");
    assert!(status.success(), "generate.py bench failed");
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.expect("walk").into_path())
        .find(|p| p.ends_with("results.json"))
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .expect("a scan dir with results.json")
}

/// Runs `check --format json` and returns the exit code and the document.
pub fn check_json(args: &[&str]) -> (i32, Value) {
    let output = scanaudit().arg("check").args(args).args(["--format", "json"]).output().expect("run");
    let doc = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)));
    (code(&output), doc)
}

pub fn code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

/// The findings of a JSON document as (path relative to `base`, kind) pairs.
pub fn kinds(doc: &Value, base: &Path) -> Vec<(String, String)> {
    findings(doc)
        .iter()
        .map(|f| {
            let path = Path::new(f["path"].as_str().expect("path"));
            let rel = path.strip_prefix(base).unwrap_or(path);
            (rel.to_string_lossy().into_owned(), f["kind"].as_str().expect("kind").to_string())
        })
        .collect()
}

pub fn findings(doc: &Value) -> &Vec<Value> {
    doc["findings"].as_array().expect("findings array")
}

/// insta filters for anything that varies between runs: temp paths, timings, ages.
pub fn filters(root: &Path) -> Vec<(String, String)> {
    vec![
        (regex::escape(&root.to_string_lossy()), "[ROOT]".into()),
        (r"in \d+\.\d s".into(), "in [ELAPSED] s".into()),
        (r#""elapsed_ms": \d+"#.into(), r#""elapsed_ms": "[ELAPSED]""#.into()),
        (r"\d+(s|m|h \d+m|d \d+h) ago".into(), "[AGE] ago".into()),
        (r#""version": "[^"]+""#.into(), r#""version": "[VERSION]""#.into()),
    ]
}

/// Runs `scanaudit VERB ARGS... --format json` and returns the exit code and the document,
/// which must be one complete JSON document. The arguments may be paths that are not UTF-8.
pub fn verb_json<A: AsRef<OsStr>>(verb: &str, args: &[A]) -> (i32, Value) {
    let output = scanaudit().arg(verb).args(args).args(["--format", "json"]).output().expect("run");
    let doc = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        let args: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
        panic!(
            "{verb} {args:?}: stdout is not one complete JSON document ({e}):\n{}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (code(&output), doc)
}

/// One case's private copy of a testdata tree and the scan dir it works on, so that a case is
/// its damage, one run and its asserts:
///
/// ```ignore
/// let env = TestEnv::scan(FULL_SCAN);
/// env.damage("results.json", Damage::Missing);
/// let (status, doc) = env.repair();
/// ```
pub struct TestEnv {
    pub tree: Tree,
    /// The scan dir the case works on, in `tree`.
    pub scan: PathBuf,
}

impl TestEnv {
    /// A copy of the testdata tree `scan` lies in (its first component), every file [`OLD`];
    /// the case works on the scan dir `scan`.
    pub fn scan(scan: &str) -> TestEnv {
        let sub = scan.split('/').next().expect("a testdata tree");
        let tree = Tree::copy(sub, OLD);
        let scan = tree.path(scan);
        TestEnv { tree, scan }
    }

    /// `name` in the scan dir.
    pub fn file(&self, name: &str) -> PathBuf {
        self.scan.join(name)
    }

    /// The bytes of `name` in the scan dir.
    pub fn read(&self, name: &str) -> Vec<u8> {
        let path = self.file(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// `name` in the scan dir, parsed.
    pub fn json(&self, name: &str) -> Value {
        serde_json::from_slice(&self.read(name)).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
    }

    /// Damages `name` in the scan dir `how`, then ages the tree back to [`OLD`] (the damage
    /// was a fresh write, and a fresh write makes the scan dir look in use).
    pub fn damage(&self, name: &str, how: Damage) -> &Self {
        damage(&self.file(name), how);
        self.age()
    }

    /// Ages the whole tree back to [`OLD`], after the case's own changes.
    pub fn age(&self) -> &Self {
        set_age(self.tree.root(), OLD);
        self
    }

    /// `scanaudit VERB ARGS... SCAN_DIR --format json`: the exit code and the document.
    pub fn run(&self, verb: &str, args: &[&str]) -> (i32, Value) {
        let mut args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        args.push(self.scan.as_os_str());
        verb_json(verb, &args)
    }

    /// `scanaudit repair --yes SCAN_DIR`.
    pub fn repair(&self) -> (i32, Value) {
        self.run("repair", &["--yes"])
    }

    /// `scanaudit check SCAN_DIR`.
    pub fn check(&self) -> (i32, Value) {
        self.run("check", &[])
    }

    /// Repairs the scan dir and asserts that `output`, damaged since it held `reference`, came
    /// back: byte for byte, or equal apart from exactly the top-level fields the plan names
    /// (and the `evidence` of dynamic_test_results.json's results, which the checkpoints keep
    /// and OpenAnt's resume drops); then check finds nothing but the backup, and a second repair
    /// does nothing (e2fsck's two-pass test). `context` names the case in a failure.
    pub fn assert_rebuilt(&self, output: &str, reference: &[u8], context: &str) {
        let (status, doc) = self.repair();
        let context = format!("{context}: {doc:#}");
        assert!(status & 1 == 1 && status & 8 == 0, "exit {status}: {context}");
        let action = actions(&doc)
            .into_iter()
            .find(|a| a["target"].as_str().unwrap().ends_with(output))
            .unwrap_or_else(|| panic!("no action for {context}"));
        let rebuilt = self.read(output);
        if rebuilt != reference || output == "dynamic_test_results.json" {
            let named = named_fields(action);
            assert!(
                !named.is_empty() || output == "dynamic_test_results.json",
                "differs without naming why: {context}"
            );
            let mut got: Value = serde_json::from_slice(&rebuilt).unwrap();
            let mut want: Value = serde_json::from_slice(reference).unwrap();
            for doc in [&mut got, &mut want] {
                for field in &named {
                    doc.as_object_mut().unwrap().remove(field);
                }
                if output == "dynamic_test_results.json" {
                    strip_evidence(doc);
                }
            }
            assert_eq!(got, want, "{context}");
        }

        let (_, check) = self.check();
        let left: Vec<&Value> = findings(&check).iter().filter(|f| f["kind"] != "backup").collect();
        assert!(left.is_empty(), "check after repair: {left:#?}\n{context}");
        let (again, doc) = self.repair();
        assert_eq!((again & 1, actions(&doc).len()), (0, 0), "second repair: {doc:#}");
    }
}

/// Removes the `evidence` of every result of a dynamic_test_results.json document.
pub fn strip_evidence(doc: &mut Value) {
    if let Some(results) = doc.get_mut("results").and_then(Value::as_array_mut) {
        for r in results {
            if let Some(o) = r.as_object_mut() {
                o.remove("evidence");
            }
        }
    }
}

/// xorshift64*: a reproducible random stream from a seed, for sleep times and mutations.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// In `0..n` (0 when n is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The actions of a repair or migrate document, over all scan dirs.
pub fn actions(doc: &Value) -> Vec<&Value> {
    doc["scan_dirs"].as_array().expect("scan_dirs").iter().flat_map(|d| d["actions"].as_array().unwrap()).collect()
}

/// What a repair or migrate document says cannot be done, over all scan dirs.
pub fn unfixable(doc: &Value) -> Vec<&Value> {
    doc["scan_dirs"].as_array().expect("scan_dirs").iter().flat_map(|d| d["unfixable"].as_array().unwrap()).collect()
}

/// Top-level fields a rebuild's notes name ("timestamp: ..."): the only ones allowed to differ
/// from the reference.
pub fn named_fields(action: &Value) -> Vec<String> {
    action["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(|n| n.as_str()?.split(':').next().map(str::to_string))
        .filter(|f| !f.contains(' ') && !f.contains('[') && !f.contains('.'))
        .collect()
}

/// How a test damages an output, the ways real damage happens.
#[derive(Debug, Clone, Copy)]
pub enum Damage {
    Missing,
    Empty,
    /// Cut at this fraction of the file.
    Cut(f64),
    /// A valid prefix up to this fraction, then NUL bytes to the original length.
    ZeroTail(f64),
    /// Missing, with a complete temp from an interrupted atomic write beside it.
    TempBeside,
}

/// Damages `path` in place (rewriting keeps the file's mode, as a torn write of OpenAnt's does).
pub fn damage(path: &Path, how: Damage) {
    let bytes = std::fs::read(path).expect("read");
    let at = |f: f64| ((bytes.len() as f64) * f) as usize;
    match how {
        Damage::Missing => std::fs::remove_file(path).expect("remove"),
        Damage::Empty => std::fs::write(path, b"").expect("write"),
        Damage::Cut(f) => std::fs::write(path, &bytes[..at(f)]).expect("write"),
        Damage::ZeroTail(f) => {
            let mut torn = bytes[..at(f)].to_vec();
            torn.resize(bytes.len(), 0);
            std::fs::write(path, torn).expect("write");
        }
        Damage::TempBeside => {
            let name = path.file_name().expect("name").to_string_lossy();
            std::fs::write(path.with_file_name(format!(".tmp-{name}-k3j_a9xq.json")), &bytes).expect("write");
            std::fs::remove_file(path).expect("remove");
        }
    }
}

/// The backup session dirs scanaudit made under `scan_dir`.
pub fn backup_sessions(scan_dir: &Path) -> std::collections::BTreeSet<PathBuf> {
    match std::fs::read_dir(scan_dir.join(".scanaudit/backups")) {
        Ok(entries) => entries.map(|e| e.expect("entry").path()).collect(),
        Err(_) => Default::default(),
    }
}

/// Whether the backup session at `session` finished: its manifest says `"complete": true`. A
/// session without one, or with `false`, was stopped while it was writing.
pub fn session_complete(session: &Path) -> bool {
    std::fs::read(session.join("manifest.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .is_some_and(|manifest| manifest["complete"] == true)
}

/// Waits until `child` (a repair or migrate of `scan_dir`) starts writing: a backup session
/// that is not in `before` appears (the first write records itself there before it happens).
/// False when the child ended first.
pub fn wait_for_first_write(
    child: &mut std::process::Child,
    scan_dir: &Path,
    before: &std::collections::BTreeSet<PathBuf>,
) -> bool {
    loop {
        if backup_sessions(scan_dir).difference(before).next().is_some() {
            return true;
        }
        if child.try_wait().expect("try_wait").is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `cmd` (a repair or migrate of `scan_dir`) to the end and returns how long it was
/// writing: from its first write to its exit.
pub fn writing_window(cmd: &mut std::process::Command, scan_dir: &Path) -> Duration {
    let before = backup_sessions(scan_dir);
    let mut child = cmd.spawn().expect("spawn");
    assert!(wait_for_first_write(&mut child, scan_dir, &before), "the reference run wrote nothing");
    let writing = std::time::Instant::now();
    let status = child.wait().expect("wait");
    assert_eq!(status.code().map(|c| c & 8), Some(0), "the reference run failed: {status}");
    writing.elapsed()
}

/// The fenced code blocks of README's section `heading` (`"## CI recipe"`), as (info string,
/// body): what the recipe tests run as written.
pub fn readme_section_blocks(heading: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md");
    let section = text.split(&format!("\n{heading}")).nth(1).unwrap_or_else(|| panic!("a '{heading}' section"));
    let section = section.split("\n## ").next().unwrap();
    let mut blocks = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```") {
            let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
            blocks.push((info.trim().to_string(), body.join("\n")));
        }
    }
    blocks
}
