//! `check --format github` and `--format junit`: GitHub Actions annotations and JUnit XML,
//! checked against `--format json`'s findings; the JUnit output read by a real JUnit reader
//! (junitparser from PyPI, in a throwaway venv); README's CI recipe run as written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::common::{code, findings, scanaudit, Tree, OLD};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `check ARGS --format FORMAT` from `dir`: exit code and stdout.
fn check_in(dir: &Path, args: &[&str], format: &str) -> (i32, String) {
    let output = scanaudit().current_dir(dir).arg("check").args(args).args(["--format", format]).output().unwrap();
    // Notes (a dir holding no scan dir) may be said; nothing else.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.lines().all(|line| line.starts_with("scanaudit: note: ")), "{stderr}");
    (code(&output), String::from_utf8(output.stdout).expect("UTF-8 output"))
}

fn json_in(dir: &Path, args: &[&str]) -> (i32, Value) {
    let (code, out) = check_in(dir, args, "json");
    (code, serde_json::from_str(&out).expect("JSON"))
}

/// GitHub's toolkit escaping, written out again here so that the test does not trust the code
/// under test: `escapeData` and `escapeProperty` of `@actions/core`.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The workflow command a JSON finding should become.
fn expected_command(finding: &Value) -> String {
    let name = match finding["level"].as_str().unwrap() {
        "error" => "error",
        "warn" => "warning",
        _ => "notice",
    };
    let mut properties = vec![format!("file={}", escape_property(finding["path"].as_str().unwrap()))];
    if let Some(loc) = finding["location"].as_object() {
        properties.push(format!("line={}", loc["line"]));
        properties.push(format!("col={}", loc["column"]));
    }
    properties.push(format!("title={}", finding["kind"].as_str().unwrap()));
    let mut message = finding["message"].as_str().unwrap().to_string();
    if let Some(fix) = finding["fix"].as_str() {
        message.push_str("\nfix: ");
        message.push_str(fix);
    }
    format!("::{name} {}::{}", properties.join(","), escape_data(&message))
}

#[test]
fn github_one_annotation_per_finding_then_the_summary() {
    let args = ["testdata/damaged"];
    let (json_code, doc) = json_in(manifest_dir(), &args);
    let (github_code, out) = check_in(manifest_dir(), &args, "github");
    assert_eq!(github_code, json_code, "the format does not change the exit status");
    assert_eq!(github_code & 4, 4);
    let lines: Vec<&str> = out.lines().collect();
    let expected: Vec<String> = findings(&doc).iter().map(expected_command).collect();
    assert!(!expected.is_empty());
    assert_eq!(lines[..lines.len() - 1], expected[..], "one workflow command per finding, in order");
    assert!(lines.last().unwrap().starts_with("checked "), "then the human summary: {out}");
    // Paths stay as given (relative), so the annotations land on the repository's files.
    assert!(lines[0].contains(" file=testdata/damaged/"), "{}", lines[0]);

    // A message with a comma and a colon, and a fix on a second line: the comma and colon
    // stay as they are in the message, the line break is %0A, nothing breaks the line.
    let finding = findings(&doc)
        .iter()
        .find(|f| {
            let message = f["message"].as_str().unwrap();
            message.contains(',') && message.contains(':') && f["fix"].is_string()
        })
        .expect("a finding whose message has a comma and a colon, with a fix");
    let message = finding["message"].as_str().unwrap();
    let line = lines.iter().find(|l| l.ends_with(&format!("{message}%0Afix: {}", finding["fix"].as_str().unwrap())));
    assert!(line.is_some(), "no annotation ends with the escaped message and fix {message:?}:\n{out}");
}

#[test]
fn github_annotation_escapes_commas_and_colons_in_the_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a,b:c%.json"), b"{\"x\": [1, 2").unwrap();
    let (code, out) = check_in(dir.path(), &["."], "github");
    assert_eq!(code & 4, 4, "{out}");
    assert!(out.lines().any(|l| l.starts_with("::error file=./a%2Cb%3Ac%25.json,line=1,col=")), "{out}");
}

#[test]
fn healthy_github_output_is_the_summary_alone() {
    let (code, out) = check_in(manifest_dir(), &["testdata/healthy"], "github");
    let (json_code, doc) = json_in(manifest_dir(), &["testdata/healthy"]);
    assert_eq!(code, json_code);
    let annotations: Vec<&str> = out.lines().filter(|l| l.starts_with("::error ")).collect();
    assert!(annotations.is_empty(), "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("::")).count(), findings(&doc).len(), "{out}");
}

#[test]
fn plan_verbs_and_clean_refuse_the_ci_formats() {
    for verb in ["repair", "migrate", "clean"] {
        for format in ["github", "junit"] {
            let output = scanaudit().args([verb, "testdata/healthy", "--format", format]).output().unwrap();
            assert_eq!(code(&output), 16, "{verb} --format {format}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains(&format!("{verb} does not take --format {format}"))
                    && stderr.contains("table and json"),
                "{stderr}"
            );
            assert!(output.stdout.is_empty());
        }
    }
}

// ------------------------------------------------------------------------------------------
// JUnit, read by junitparser.

/// A venv with junitparser, or None (said on stderr) when python3 has no venv or pip cannot
/// reach PyPI.
fn junitparser_venv(dir: &Path) -> Option<PathBuf> {
    let venv = dir.join("venv");
    let made =
        assert_cmd::Command::new("python3").args(["-m", "venv"]).arg(&venv).timeout(Duration::from_secs(120)).output();
    if !made.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: python3 -m venv is unavailable ({made:?}); the JUnit reader test needs it");
        return None;
    }
    let pip = assert_cmd::Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "junitparser"])
        .timeout(Duration::from_secs(300))
        .output();
    if !pip.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: pip could not install junitparser from PyPI (no network?): {pip:?}");
        return None;
    }
    Some(venv.join("bin/python"))
}

/// What junitparser reads in a JUnit file: per suite, its attributes, what it counts itself,
/// and its cases.
const READ_JUNIT: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure
xml = JUnitXml.fromfile(sys.argv[1])
suites = []
for suite in xml:
    cases = []
    for case in suite:
        cases.append({"name": case.name, "classname": case.classname,
                      "failures": sum(isinstance(r, Failure) for r in case.result),
                      "out": case.system_out})
    suites.append({"name": suite.name, "tests": suite.tests, "failures": suite.failures, "cases": cases})
declared = {"tests": xml.tests, "failures": xml.failures}
xml.update_statistics()
print(json.dumps({"suites": suites, "declared": declared,
                  "counted": {"tests": xml.tests, "failures": xml.failures}}))
"#;

fn read_junit(python: &Path, xml: &str, dir: &Path) -> Value {
    let file = dir.join("report.xml");
    std::fs::write(&file, xml).unwrap();
    let output = assert_cmd::Command::new(python)
        .args(["-c", READ_JUNIT])
        .arg(&file)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(output.status.success(), "junitparser: {}\n{xml}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn junit_read_by_junitparser_matches_the_json_findings() {
    let dir = tempfile::tempdir().unwrap();
    let Some(python) = junitparser_venv(dir.path()) else { return };

    let (json_code, doc) = json_in(manifest_dir(), &["testdata/damaged"]);
    let (junit_code, xml) = check_in(manifest_dir(), &["testdata/damaged"], "junit");
    assert_eq!(junit_code, json_code, "the format does not change the exit status");
    let read = read_junit(&python, &xml, dir.path());

    let errors = doc["summary"]["errors"].as_u64().unwrap();
    assert!(errors > 0);
    // The declared totals are what junitparser counts from the cases.
    assert_eq!(read["declared"], read["counted"], "{xml}");
    assert_eq!(read["declared"]["failures"].as_u64(), Some(errors));
    let suites = read["suites"].as_array().unwrap();
    let mut cases = std::collections::HashMap::new();
    for suite in suites {
        let suite_cases = suite["cases"].as_array().unwrap();
        assert_eq!(suite["tests"].as_u64(), Some(suite_cases.len() as u64), "{}", suite["name"]);
        let failed: u64 = suite_cases.iter().map(|c| c["failures"].as_u64().unwrap()).sum();
        assert_eq!(suite["failures"].as_u64(), Some(failed), "{}", suite["name"]);
        for case in suite_cases {
            assert_eq!(case["classname"], suite["name"]);
            let classname = case["classname"].as_str().unwrap();
            let name = case["name"].as_str().unwrap();
            let path = if classname == "(outside any scan dir)" {
                PathBuf::from(name)
            } else if name == "." {
                PathBuf::from(classname)
            } else {
                Path::new(classname).join(name)
            };
            cases.insert(path, case.clone());
        }
    }
    // One suite per scan dir, plus the files outside any.
    let scan_dirs = doc["summary"]["scan_dirs"].as_u64().unwrap();
    assert!(suites.iter().any(|s| s["name"] == "(outside any scan dir)"));
    assert!(suites.len() as u64 <= scan_dirs + 1, "{} suites, {scan_dirs} scan dirs", suites.len());
    // Every checked file is a testcase (and the paths that are no file, a directory or a link).
    assert!(cases.len() as u64 >= doc["summary"]["files"].as_u64().unwrap());
    // Each finding sits on its file's testcase: a failure per error, a line of output per warning.
    let mut per_path: std::collections::HashMap<PathBuf, (u64, Vec<String>)> = Default::default();
    for finding in findings(&doc) {
        let entry = per_path.entry(PathBuf::from(finding["path"].as_str().unwrap())).or_default();
        match finding["level"].as_str().unwrap() {
            "error" => entry.0 += 1,
            level => entry.1.push(format!("{level} {}: {}", finding["kind"].as_str().unwrap(), finding["message"])),
        }
        if let Some(scan_dir) = finding["scan_dir"].as_str() {
            let case = &cases[Path::new(finding["path"].as_str().unwrap())];
            assert_eq!(case["classname"], scan_dir, "{finding}");
        }
    }
    for (path, (failures, notes)) in &per_path {
        let case = cases.get(path).unwrap_or_else(|| panic!("no testcase for {path:?}"));
        assert_eq!(case["failures"].as_u64(), Some(*failures), "{path:?}");
        let out = case["out"].as_str().unwrap_or("");
        let note_lines = out.lines().filter(|l| l.starts_with("warn ") || l.starts_with("info ")).count();
        assert_eq!(note_lines, notes.len(), "{path:?}: {out:?}");
        for note in notes {
            // The message as JSON quoted it: compare without the quotes.
            let prefix = &note[..note.find(": ").unwrap()];
            assert!(out.contains(prefix), "{path:?}: {note} not in {out:?}");
        }
    }
    let clean_cases = cases.values().filter(|c| c["failures"] == 0 && c["out"].is_null()).count();
    assert!(clean_cases > 0, "healthy files are passing testcases");

    // Healthy testdata: zero failures, every file a passing testcase.
    let (healthy_code, xml) = check_in(manifest_dir(), &["testdata/healthy"], "junit");
    let (_, healthy) = json_in(manifest_dir(), &["testdata/healthy"]);
    assert_eq!(healthy_code & 4, 0);
    let read = read_junit(&python, &xml, dir.path());
    assert_eq!(read["declared"]["failures"].as_u64(), Some(0), "{xml}");
    assert_eq!(read["declared"], read["counted"]);
    assert!(read["declared"]["tests"].as_u64().unwrap() >= healthy["summary"]["files"].as_u64().unwrap());
}

// ------------------------------------------------------------------------------------------
// README's CI recipe, run as written.

fn ci_section_blocks() -> Vec<(String, String)> {
    crate::common::readme_section_blocks("## CI recipe")
}

#[test]
fn readme_github_actions_recipe_annotates_as_written() {
    let blocks = ci_section_blocks();
    let (_, workflow) =
        blocks.iter().find(|(info, body)| info == "yaml" && body.contains("--format github")).expect("a workflow");
    let run = workflow
        .lines()
        .filter_map(|l| l.trim_start().trim_start_matches("- ").strip_prefix("run: "))
        .find(|command| command.contains("--format github"))
        .expect("a run: step with --format github");
    let words: Vec<&str> = run.split_whitespace().collect();
    assert_eq!(words[..2], ["scanaudit", "check"], "{run}");
    assert!(!run.contains(['$', '>', '|', '\'', '"']), "run it without a shell: {run}");
    // The snippet checks scan results committed to the repository, from its top: a checkout
    // whose scan dir is damaged.
    let checkout = Tree::copy("damaged", OLD);
    let path = words.iter().skip(2).find(|w| !w.starts_with('-')).expect("a PATH");
    std::fs::rename(checkout.path("damaged"), checkout.root().join(path)).unwrap();
    let output = scanaudit().current_dir(checkout.root()).args(&words[1..]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The step fails the job (exit 4 and up), with annotations on the repository's files.
    assert_eq!(code(&output) & 4, 4, "{stdout}");
    let annotation = format!("::error file={path}/projects/");
    assert!(stdout.lines().any(|l| l.starts_with(&annotation)), "{stdout}");
    assert!(stdout.lines().last().is_some_and(|l| l.starts_with("checked ")), "{stdout}");
}
