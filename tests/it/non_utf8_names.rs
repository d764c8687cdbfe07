//! File names that are not UTF-8, through the real binary: every verb's JSON document is one
//! complete document, a path that is not UTF-8 carries its exact bytes beside its lossy text
//! (`path` + `path_bytes`, `target` + `target_bytes`, ...), and the table output finishes too.

use crate::common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use common::{code, damage, scanaudit, set_age, verb_json, Damage, Tree, OLD};
use serde_json::Value;

/// A project dir name with a byte that is never UTF-8: every path below it is not UTF-8.
const ODD_PROJECT: &[u8] = b"acme-\xffwebapp";

/// A copy of the healthy tree whose `acme-webapp` project is renamed to [`ODD_PROJECT`], its
/// newest scan's `results.json` missing beside the complete temp an interrupted write left,
/// and a stray `results\xff.json` beside it. Returns the tree and that scan dir.
fn odd_tree() -> (Tree, PathBuf) {
    let tree = Tree::copy("healthy", OLD);
    let projects = tree.path("healthy/projects");
    let odd = projects.join(OsStr::from_bytes(ODD_PROJECT));
    std::fs::rename(projects.join("acme-webapp"), &odd).unwrap();
    let scan = odd.join("scans/3f9c2e1b7a6/python");
    damage(&scan.join("results.json"), Damage::TempBeside);
    std::fs::write(scan.join(OsStr::from_bytes(b"results\xff.json")), b"{\"torn\": ").unwrap();
    set_age(tree.root(), OLD);
    (tree, scan)
}

fn decode_base64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_else(|e| panic!("not base64 ({e}): {text}"))
}

/// The keys a path is written under in every verb's document.
const PATH_KEYS: [&str; 5] = ["path", "scan_dir", "target", "source", "backup_dir"];

/// Every `KEY` / `KEY_bytes` pair in a document, as the path the pair stands for: the bytes when
/// given, else the string.
fn paths(doc: &Value, out: &mut Vec<(String, PathBuf)>) {
    match doc {
        Value::Object(map) => {
            for (key, value) in map {
                let pair = key.strip_suffix("_bytes").filter(|k| PATH_KEYS.contains(k) && map.contains_key(*k));
                if let Some(bytes) = pair.map(|_| value) {
                    let decoded = decode_base64(bytes.as_str().expect("a base64 string"));
                    let text = map[&key[..key.len() - "_bytes".len()]].as_str().expect("its lossy text");
                    assert_eq!(
                        text,
                        String::from_utf8_lossy(&decoded),
                        "{key}: the text is the lossy form of the bytes"
                    );
                    out.push((key.clone(), PathBuf::from(OsStr::from_bytes(&decoded))));
                }
                paths(value, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| paths(v, out)),
        _ => {}
    }
}

fn byte_paths(doc: &Value) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    paths(doc, &mut out);
    out
}

fn has(found: &[(String, PathBuf)], key: &str, path: &Path) -> bool {
    found.iter().any(|(k, p)| k == key && p == path)
}

#[test]
fn check_json_carries_the_bytes_of_every_odd_path() {
    let (tree, scan) = odd_tree();
    let (_, doc) = verb_json("check", &[tree.root().as_os_str()]);
    let found = byte_paths(&doc);
    let stray = scan.join(OsStr::from_bytes(b"results\xff.json"));
    assert!(has(&found, "path_bytes", &stray), "{found:?}");
    assert!(has(&found, "scan_dir_bytes", &scan), "{found:?}");
    // A UTF-8 path stays a plain string, with no bytes beside it.
    let healthy =
        doc["findings"].as_array().unwrap().iter().find(|f| !f["path"].as_str().unwrap().contains('\u{fffd}'));
    if let Some(finding) = healthy {
        assert!(finding.get("path_bytes").is_none(), "{finding:#}");
    }
}

#[test]
fn repair_json_is_complete_and_its_actions_name_odd_paths_exactly() {
    let (_tree, scan) = odd_tree();
    let (status, doc) = verb_json("repair", &[OsStr::new("--yes"), scan.as_os_str()]);
    let found = byte_paths(&doc);
    assert!(has(&found, "target_bytes", &scan.join("results.json")), "{found:?}\n{doc:#}");
    assert!(has(&found, "scan_dir_bytes", &scan), "{found:?}");
    assert!(found.iter().any(|(k, p)| k == "source_bytes" && p.starts_with(&scan)), "{found:?}");
    assert!(found.iter().any(|(k, p)| k == "backup_dir_bytes" && p.starts_with(&scan)), "{found:?}");
    assert!(doc["applied"].as_bool().unwrap(), "{doc:#}");
    assert_eq!(status & 8, 0, "{doc:#}");
    assert!(scan.join("results.json").is_file(), "the temp was promoted");
}

#[test]
fn migrate_json_is_complete_with_odd_paths() {
    let (tree, _) = odd_tree();
    // A legacy scan under an odd name: migrate plans (and applies) actions on odd paths.
    let legacy = Tree::copy("legacy", OLD);
    let projects = legacy.path("legacy/projects");
    let odd = projects.join(OsStr::from_bytes(b"old\xfetool"));
    std::fs::rename(projects.join("oldtool"), &odd).unwrap();
    set_age(legacy.root(), OLD);
    let (_, doc) = verb_json("migrate", &[OsStr::new("--yes"), legacy.root().as_os_str()]);
    let found = byte_paths(&doc);
    assert!(found.iter().any(|(k, p)| k == "target_bytes" && p.starts_with(&odd)), "{found:?}\n{doc:#}");
    assert!(found.iter().any(|(k, p)| k == "scan_dir_bytes" && p.starts_with(&odd)), "{found:?}");
    let (_, doc) = verb_json("migrate", &[tree.root().as_os_str()]);
    assert!(doc["scan_dirs"].is_array(), "{doc:#}");
}

#[test]
fn clean_json_carries_the_bytes_of_an_odd_temp() {
    let (tree, scan) = odd_tree();
    let (_, doc) = verb_json("clean", &[OsStr::new("--dry-run"), tree.root().as_os_str()]);
    let found = byte_paths(&doc);
    assert!(found.iter().any(|(k, p)| k == "path_bytes" && p.starts_with(&scan)), "{found:?}\n{doc:#}");
}

#[test]
fn roots_that_are_not_utf8_are_given_back_exactly() {
    let (_tree, scan) = odd_tree();
    let (_, doc) = verb_json("check", &[scan.as_os_str()]);
    let bytes = doc["roots_bytes"][0].as_str().expect("roots_bytes");
    assert_eq!(decode_base64(bytes), scan.as_os_str().as_bytes());
}

/// The table output of every verb finishes (no error mid-output) with odd names in it.
#[test]
fn table_output_finishes_for_every_verb() {
    let (tree, scan) = odd_tree();
    for args in [
        vec![OsStr::new("check"), tree.root().as_os_str()],
        vec![OsStr::new("repair"), OsStr::new("--dry-run"), scan.as_os_str()],
        vec![OsStr::new("migrate"), OsStr::new("--dry-run"), tree.root().as_os_str()],
        vec![OsStr::new("clean"), OsStr::new("--dry-run"), tree.root().as_os_str()],
    ] {
        let output = scanaudit().args(&args).output().expect("run");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!stdout.is_empty(), "{args:?}: no output");
        assert_eq!(
            code(&output) & 8,
            0,
            "{args:?}: operational error\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
