//! The source tree's own shape: no two files of `src/` import each other, directly or round a
//! circle (`scripts/deps.py`, which prints each cycle with the lines that close it).

use std::path::Path;
use std::process::Command;

#[test]
fn no_import_cycles_between_source_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output =
        Command::new("python3").arg(root.join("scripts/deps.py")).output().expect("run python3 scripts/deps.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("no import cycles"),
        "scripts/deps.py found import cycles:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The checker itself finds a circle: two files that name each other, and a parent module that
/// a child reaches through `super::` while the parent reaches the child.
#[test]
fn the_cycle_checker_finds_a_planted_circle() {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir(src.path().join("regen")).unwrap();
    std::fs::write(src.path().join("lib.rs"), "pub mod a;\npub mod b;\npub mod regen;\n").unwrap();
    std::fs::write(src.path().join("a.rs"), "use crate::b::thing;\n").unwrap();
    std::fs::write(src.path().join("b.rs"), "pub fn thing() { crate::a::other() }\n").unwrap();
    std::fs::write(src.path().join("regen/mod.rs"), "mod py;\nuse self::py::add;\n").unwrap();
    // Only test code reaches back: not a cycle.
    std::fs::write(src.path().join("regen/py.rs"), "#[cfg(test)]\nmod tests { use super::super::*; }\n").unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("python3")
        .arg(root.join("scripts/deps.py"))
        .arg("--src")
        .arg(src.path())
        .output()
        .expect("run python3 scripts/deps.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("src/a.rs:1 -> src/b.rs") && stdout.contains("src/b.rs:1 -> src/a.rs"), "{stdout}");
    assert!(!stdout.contains("regen"), "test-only code counted:\n{stdout}");

    std::fs::write(src.path().join("regen/py.rs"), "pub fn add() { super::helper() }\n").unwrap();
    let output =
        Command::new("python3").arg(root.join("scripts/deps.py")).arg("--src").arg(src.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("src/regen/py.rs:1 -> src/regen/mod.rs"), "{stdout}");
}

/// README's module map names every file or directory of `src/`, and names nothing that is gone.
#[test]
fn the_readme_module_map_matches_the_tree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme.find("### Module map").expect("README has a module map");
    let map = &readme[start..];
    let map = &map[..map[3..].find("\n## ").map_or(map.len(), |end| end + 3)];
    let named: Vec<&str> = map.split('`').skip(1).step_by(2).collect();
    let src = root.join("src");
    for entry in walkdir::WalkDir::new(&src).into_iter().map(Result::unwrap) {
        let rel = entry.path().strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        if !rel.ends_with(".rs") || rel == "lib.rs" {
            continue;
        }
        let top = match rel.split_once('/') {
            Some((dir, _)) => format!("{dir}/"),
            None => rel.clone(),
        };
        assert!(
            named.contains(&top.as_str()) || named.contains(&rel.as_str()),
            "README's module map does not name src/{rel}"
        );
    }
    for name in named.iter().filter(|n| n.ends_with(".rs") || n.ends_with('/')) {
        let exists = src.join(name).exists()
            || walkdir::WalkDir::new(&src).into_iter().map(Result::unwrap).any(|e| e.path().ends_with(name));
        assert!(exists, "README's module map names `{name}`, which src/ does not hold");
    }
}
