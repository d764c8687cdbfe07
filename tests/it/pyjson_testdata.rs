//! Every healthy file in `testdata/` — written the way OpenAnt's Python (json.dump, both
//! ensure_ascii settings) and Go (MarshalIndent) writers write them — comes back
//! byte-identical when read with `pyjson::parse` and written in the style its writer uses.

use crate::common;

use std::collections::BTreeMap;

use scanaudit::pyjson::{parse, to_go_string, to_python_string};

/// How OpenAnt writes a file, from its name (spec §1.2, §3.0, §5.2).
fn writers(name: &str) -> &'static [&'static str] {
    match name {
        "meta.json" | "project.json" | "diff_manifest.json" => &["go"],
        // The fix branch writes these with ensure_ascii=False; the fork's results_verified
        // and older eras use ensure_ascii=True.
        "results_verified.json" | "pipeline_output.json" | "dynamic_test_results.json" => {
            &["python-utf8", "python-ascii"]
        }
        // The JS parser writes this through node's JSON.stringify, which matches Python's
        // ensure_ascii=False layout for the values it holds.
        "analyzer_output.json" => &["python-ascii", "python-utf8"],
        _ => &["python-ascii"],
    }
}

#[test]
fn every_healthy_json_file_round_trips_byte_for_byte() {
    let root = common::testdata("healthy");
    let mut by_writer: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type().is_file() || !name.ends_with(".json") {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap();
        let value = match parse(&bytes) {
            Ok(value) => value,
            Err(e) => {
                failures.push(format!("{}: does not parse: {e}", entry.path().display()));
                continue;
            }
        };
        let matched = writers(&name).iter().find(|writer| {
            let written = match **writer {
                "go" => to_go_string(&value),
                "python-utf8" => to_python_string(&value, false),
                _ => to_python_string(&value, true),
            };
            written.is_ok_and(|w| w.as_bytes() == bytes)
        });
        match matched {
            Some(writer) => *by_writer.entry(writer).or_default() += 1,
            None => failures.push(format!("{}: no writer reproduces it", entry.path().display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Each writer style must actually be exercised, or this test proves less than it says.
    for writer in ["go", "python-ascii", "python-utf8"] {
        assert!(by_writer.get(writer).copied().unwrap_or(0) > 0, "no healthy file written as {writer}: {by_writer:?}");
    }
    assert!(by_writer.values().sum::<usize>() > 250, "{by_writer:?}");
}
