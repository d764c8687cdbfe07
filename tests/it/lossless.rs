//! Lossless by construction (issue 11): a rebuilt output never holds less than the file it
//! replaces, for every output of every era. Each healthy fixture scan (every era scanaudit knows)
//! gets, in each of its rebuildable outputs, keys its builder never produces (in every row, and
//! at the top level where that is no era's marker), then the output is damaged so that its
//! whole old content is still readable (a NUL tail) or only a prefix is (a cut), and repaired.
//! Every key path the old file's readable part held must be in the result; an output given a
//! top-level key no era knows must be left untouched (a newer OpenAnt wrote it).

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{code, scanaudit, Tree, OLD, OUTPUTS};
use serde_json::{Map, Value};

/// Outputs whose top-level keys are era markers: an unknown key there means a newer OpenAnt.
const KEYED_BY_ERA: [&str; 3] = ["results.json", "results_verified.json", "pipeline_output.json"];

/// Every healthy scan dir holding at least one rebuildable output, relative to the tree root.
fn healthy_scans() -> Vec<String> {
    let root = common::testdata("");
    let mut scans: BTreeSet<String> = BTreeSet::new();
    for entry in walkdir::WalkDir::new(root.join("healthy")) {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_file() && OUTPUTS.contains(&name.as_ref()) {
            let dir = entry.path().parent().unwrap().strip_prefix(&root).unwrap();
            scans.insert(dir.to_string_lossy().into_owned());
        }
    }
    scans.into_iter().collect()
}

/// The identity of an array element: the id it carries, else its index.
fn element_id(index: usize, element: &Value) -> String {
    ["unit_id", "finding_id", "id"]
        .iter()
        .find_map(|k| element.get(k).and_then(Value::as_str))
        .map(|id| format!("[{id}]"))
        .unwrap_or_else(|| format!("[#{index}]"))
}

/// Every key path of a document (`results[a.py:f].verification.agree`). In a `torn` document
/// the last element of an array may be the row the cut went through: when it carries no id
/// yet (a stage-1 row names its `unit_id` near its end), nothing says which row it is, and it
/// is left out.
fn key_paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>, torn: bool) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = format!("{prefix}.{key}");
                key_paths(child, &path, out, torn);
                out.insert(path);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let id = element_id(i, item);
                if torn && i + 1 == items.len() && id.starts_with("[#") && item.is_object() {
                    continue;
                }
                key_paths(item, &format!("{prefix}{id}"), out, torn);
            }
        }
        _ => {}
    }
}

/// Adds a key no builder produces to every object row of the document's arrays of rows.
fn add_row_keys(doc: &mut Value) {
    for rows in ["units", "results", "confirmed_findings", "findings"] {
        if let Some(items) = doc.get_mut(rows).and_then(Value::as_array_mut) {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                item.insert("x_reviewer_note".into(), Value::String("checked by hand".into()));
            }
        }
    }
}

/// Inserts `key` as the document's second top-level key.
fn with_top_level_key(doc: &Value, key: &str) -> Value {
    let mut out = Map::new();
    for (i, (k, v)) in doc.as_object().unwrap().iter().enumerate() {
        out.insert(k.clone(), v.clone());
        if i == 0 {
            out.insert(key.into(), Value::String("added".into()));
        }
    }
    Value::Object(out)
}

/// Python's `json.dumps(indent=2)` layout, which serde_json's pretty printer shares for these
/// documents closely enough (the test compares keys, not bytes); non-ASCII stays raw.
fn write(path: &Path, doc: &Value, tail: Tail) {
    let mut bytes = serde_json::to_vec_pretty(doc).unwrap();
    match tail {
        Tail::Nul => bytes.resize(bytes.len() + 512, 0),
        Tail::Cut(f) => bytes.truncate((bytes.len() as f64 * f) as usize),
    }
    std::fs::write(path, bytes).unwrap();
}

#[derive(Debug, Clone, Copy)]
enum Tail {
    /// The whole document, then NUL bytes: zero-filled, every key readable.
    Nul,
    /// A prefix: truncated, the keys before the cut readable.
    Cut(f64),
}

fn repair(scan: &Path) -> (i32, Value) {
    let output = scanaudit().args(["repair", "--yes", "--format", "json", scan.to_str().unwrap()]).output().unwrap();
    (code(&output), serde_json::from_slice(&output.stdout).unwrap())
}

/// The key paths of the part of `bytes` a reader can still use: the whole document when it
/// parses after stripping a NUL tail, else those of the longest prefix that closes into a
/// document (Python's own json, run on the prefix closed by the brackets still open).
fn readable_paths(bytes: &[u8]) -> BTreeSet<String> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end_matches('\0');
    let mut out = BTreeSet::new();
    if let Ok(doc) = serde_json::from_str::<Value>(text) {
        key_paths(&doc, "", &mut out, false);
        return out;
    }
    // Drop the last incomplete member, then close what is open: every complete member of the
    // prefix is then in the document.
    let mut end = text.len();
    while end > 0 {
        end = text[..end].rfind(['\n']).unwrap_or(0);
        let head = text[..end].trim_end().trim_end_matches(',');
        if let Some(doc) = close(head) {
            key_paths(&doc, "", &mut out, true);
            return out;
        }
    }
    out
}

/// Closes the brackets open at the end of `head` (outside strings), if it then parses.
fn close(head: &str) -> Option<Value> {
    let mut stack = Vec::new();
    let (mut in_string, mut escaped) = (false, false);
    for c in head.chars() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_string = false,
            (false, _, '"') => in_string = true,
            (false, _, '{') => stack.push('}'),
            (false, _, '[') => stack.push(']'),
            (false, _, '}' | ']') => {
                stack.pop();
            }
            _ => {}
        }
    }
    if in_string {
        return None;
    }
    let closed: String = head.chars().chain(stack.into_iter().rev()).collect();
    serde_json::from_str(&closed).ok()
}

#[test]
fn every_rebuilt_output_of_every_era_keeps_every_old_key() {
    let scans = healthy_scans();
    assert!(scans.len() >= 10, "every era's healthy scans: {scans:?}");
    let mut rebuilt = 0;
    for scan_rel in &scans {
        for output in OUTPUTS {
            for tail in [Tail::Nul, Tail::Cut(0.7), Tail::Cut(0.35)] {
                let tree = Tree::copy("healthy", OLD);
                let scan: PathBuf = tree.path(scan_rel);
                let target = scan.join(output);
                let Ok(bytes) = std::fs::read(&target) else { continue };
                let mut doc: Value = serde_json::from_slice(&bytes).unwrap();
                add_row_keys(&mut doc);
                if !KEYED_BY_ERA.contains(&output) {
                    doc = with_top_level_key(&doc, "x_reviewer_note");
                }
                write(&target, &doc, tail);
                let old = std::fs::read(&target).unwrap();
                let want = readable_paths(&old);
                common::set_age(tree.root(), OLD);
                let (status, report) = repair(&scan);
                let context = format!("{scan_rel}/{output} {tail:?}: exit {status}: {report:#}");
                assert_eq!(status & 8, 0, "{context}");
                let now = std::fs::read(&target).unwrap();
                if now == old {
                    // Left alone (no usable input for this era's builder): nothing lost, and
                    // the plan says why.
                    assert_eq!(status & 4, 4, "untouched without a reason: {context}");
                    continue;
                }
                rebuilt += 1;
                let got = readable_paths(&now);
                let lost: Vec<&String> = want.difference(&got).collect();
                assert!(lost.is_empty(), "lost {lost:?}\n{context}");
            }
        }
    }
    assert!(rebuilt >= 60, "only {rebuilt} rebuilds: the property was hardly exercised");
}

#[test]
fn an_output_with_a_key_no_era_knows_is_never_rebuilt() {
    let scans = healthy_scans();
    let mut refused = 0;
    for scan_rel in &scans {
        for output in KEYED_BY_ERA {
            let tree = Tree::copy("healthy", OLD);
            let scan = tree.path(scan_rel);
            let target = scan.join(output);
            let Ok(bytes) = std::fs::read(&target) else { continue };
            let doc = with_top_level_key(&serde_json::from_slice(&bytes).unwrap(), "x_from_a_newer_openant");
            write(&target, &doc, Tail::Cut(0.6));
            let old = std::fs::read(&target).unwrap();
            common::set_age(tree.root(), OLD);
            let (status, report) = repair(&scan);
            assert_eq!(std::fs::read(&target).unwrap(), old, "{scan_rel}/{output}: {report:#}");
            assert_eq!(status & 4, 4, "{scan_rel}/{output}: {report:#}");
            let reasons = report.to_string();
            assert!(reasons.contains("x_from_a_newer_openant"), "{scan_rel}/{output}: {report:#}");
            refused += 1;
        }
    }
    assert!(refused >= 20, "{refused}");
}
