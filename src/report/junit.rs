//! `--format junit`: JUnit XML, so that Jenkins and GitLab show an audit as a test report.
//! One `<testsuite>` per scan dir (files outside every scan dir make one suite of their own),
//! one `<testcase>` per checked file (name: the path below the scan dir; classname: the scan
//! dir), a `<failure>` per error finding, and the file's warnings and notes as lines of one
//! `<system-out>`. A finding on a path that is not a checked file (a directory, a symlink, a
//! missing output) gets a testcase of its own, so no finding is lost. `failures` counts
//! `<failure>` elements, as junitparser's and Jenkins' readers do.
//!
//! Written by hand with [`escape`]: the document is flat, and a writer crate (quick-xml)
//! would still leave the characters XML 1.0 forbids (NUL and other control bytes, which
//! messages about damaged files can quote) for us to handle.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::Path;

use crate::check::CheckedFile;
use crate::finding::{Finding, Level};

/// The suite of the files that belong to no scan dir.
const OUTSIDE: &str = "(outside any scan dir)";

/// A suite: its scan dir (none: [`OUTSIDE`]), and its testcases by path.
type Suites<'a> = BTreeMap<(bool, Option<&'a Path>), BTreeMap<&'a Path, Vec<&'a Finding>>>;

pub fn write(out: &mut dyn Write, checked: &[CheckedFile], findings: &[Finding]) -> io::Result<()> {
    // Scan dirs first, by path; the outside suite last.
    let mut suites: Suites = BTreeMap::new();
    for file in checked {
        let dir = file.scan_dir.as_deref();
        suites.entry((dir.is_none(), dir)).or_default().entry(file.path.as_path()).or_default();
    }
    let mut suite_of: HashMap<&Path, Option<&Path>> =
        checked.iter().map(|f| (f.path.as_path(), f.scan_dir.as_deref())).collect();
    for finding in findings {
        let dir = *suite_of.entry(finding.path.as_path()).or_insert(finding.scan_dir.as_deref());
        suites.entry((dir.is_none(), dir)).or_default().entry(finding.path.as_path()).or_default().push(finding);
    }

    let failures = |cases: &BTreeMap<&Path, Vec<&Finding>>| -> usize {
        cases.values().flatten().filter(|f| f.level == Level::Error).count()
    };
    let tests: usize = suites.values().map(BTreeMap::len).sum();
    let all_failures: usize = suites.values().map(failures).sum();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(out, r#"<testsuites name="scanaudit" tests="{tests}" failures="{all_failures}" errors="0">"#)?;
    for ((_, dir), cases) in &suites {
        let suite = match dir {
            Some(dir) => dir.to_string_lossy(),
            None => OUTSIDE.into(),
        };
        let suite = escape(&suite);
        writeln!(
            out,
            r#"  <testsuite name="{suite}" tests="{}" failures="{}" errors="0" skipped="0">"#,
            cases.len(),
            failures(cases)
        )?;
        for (path, found) in cases {
            let name = escape(&case_name(path, *dir));
            if found.is_empty() {
                writeln!(out, r#"    <testcase name="{name}" classname="{suite}"/>"#)?;
                continue;
            }
            writeln!(out, r#"    <testcase name="{name}" classname="{suite}">"#)?;
            let mut notes = Vec::new();
            for finding in found {
                if finding.level == Level::Error {
                    writeln!(
                        out,
                        r#"      <failure type="{}" message="{}">{}</failure>"#,
                        escape(finding.kind.as_str()),
                        escape(&finding.message),
                        escape(&details(finding))
                    )?;
                } else {
                    notes.push(format!("{} {}: {}", finding.level.as_str(), finding.kind.as_str(), details(finding)));
                }
            }
            if !notes.is_empty() {
                writeln!(out, "      <system-out>{}</system-out>", escape(&notes.join("\n")))?;
            }
            writeln!(out, "    </testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

/// The path below the scan dir (`.` for the scan dir itself); outside one, the path as given.
fn case_name(path: &Path, dir: Option<&Path>) -> String {
    match dir {
        Some(dir) => crate::text::rel(path, dir),
        None => path.display().to_string(),
    }
}

/// The message, where in the file, and the fix.
fn details(finding: &Finding) -> String {
    let mut text = finding.message.clone();
    if let Some(loc) = finding.location {
        text.push_str(&format!(" [line {}, column {}, byte {}]", loc.line, loc.column, loc.offset));
    }
    if let Some(fix) = &finding.fix {
        text.push_str(&format!("\nfix: {fix}"));
    }
    text
}

/// Text fit for XML 1.0 element content and (double- or single-quoted) attribute values:
/// the five markup characters as entities, tab and line breaks as character references (so
/// that attribute values keep them), and the characters XML 1.0 cannot carry at all (other
/// control characters, U+FFFE, U+FFFF) as U+FFFD.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::FindingKind;
    use std::path::PathBuf;

    #[test]
    fn escape_markup_breaks_and_forbidden_characters() {
        assert_eq!(escape(r#"a<b>&"c"'d'"#), "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;");
        assert_eq!(escape("x\ny\r\tz"), "x&#10;y&#13;&#9;z");
        assert_eq!(escape("nul\0 bell\u{7} \u{FFFF}"), "nul\u{FFFD} bell\u{FFFD} \u{FFFD}");
        assert_eq!(escape("plain é ✓"), "plain é ✓");
    }

    #[test]
    fn suites_per_scan_dir_cases_per_file_and_counts() {
        let dir = PathBuf::from("p/scans/a/python");
        let checked = vec![
            CheckedFile { path: dir.join("results.json"), scan_dir: Some(dir.clone()) },
            CheckedFile { path: dir.join("results_verified.json"), scan_dir: Some(dir.clone()) },
            CheckedFile { path: "p/notes/x.json".into(), scan_dir: None },
        ];
        let findings = vec![
            Finding::new(FindingKind::Truncated, dir.join("results.json"), "ends <early> & \"soon\"")
                .scan_dir(Some(dir.clone())),
            Finding::new(FindingKind::Empty, dir.join("results.json"), "second").scan_dir(Some(dir.clone())),
            Finding::new(FindingKind::StrayTemp, dir.join("results.json.tmp"), "a temp").scan_dir(Some(dir.clone())),
            Finding::new(FindingKind::Truncated, "p/notes/x.json", "outside"),
        ];
        let mut out = Vec::new();
        write(&mut out, &checked, &findings).unwrap();
        let xml = String::from_utf8(out).unwrap();
        assert!(xml.contains(r#"<testsuites name="scanaudit" tests="4" failures="3" errors="0">"#), "{xml}");
        assert!(xml.contains(r#"<testsuite name="p/scans/a/python" tests="3" failures="2""#), "{xml}");
        assert!(xml.contains(r#"<testsuite name="(outside any scan dir)" tests="1" failures="1""#), "{xml}");
        assert!(xml.contains(r#"<testcase name="results_verified.json" classname="p/scans/a/python"/>"#), "{xml}");
        assert!(xml.contains(r#"message="ends &lt;early&gt; &amp; &quot;soon&quot;""#), "{xml}");
        assert!(xml.contains("<system-out>warn stray-temp: a temp</system-out>"), "{xml}");
        assert!(xml.contains(r#"<testcase name="p/notes/x.json" classname="(outside any scan dir)">"#), "{xml}");
        // The scan dir's suite comes before the outside one.
        assert!(xml.find("p/scans/a/python").unwrap() < xml.find(OUTSIDE).unwrap());
    }
}
