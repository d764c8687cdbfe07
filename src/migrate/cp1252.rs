//! Migration `cp1252-to-utf8`: files a Windows scan wrote in the locale's code page before
//! 3cdca87 (spec §5) become UTF-8, the text and everything else about the file unchanged.
//!
//! Only files OpenAnt wrote with raw non-ASCII text are looked at ([`RawText`]): the three
//! `ensure_ascii=False` JSON outputs and the Markdown reports, wherever they sit in the scan
//! dir. A file is re-encoded only when it is not UTF-8 and decodes cleanly as cp1252, and a
//! JSON file only when the decoded document is healthy; since valid UTF-8 is never touched,
//! a second run plans nothing.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::action::{ContentCheck, MigrationAction, Planned, Step, Unfixable};
use crate::backup::sha256_hex;
use crate::cp1252::{judge, RawText, Verdict};
use crate::layout::{self, shape_for, ScanDirIndex};
use crate::no_follow::open_regular;
use crate::walk::{self, EntryType, Filters};

pub const ID: &str = "cp1252-to-utf8";

pub fn plan(scan_dir: &Path) -> Planned {
    let mut planned = Planned::default();
    let walked = walk::walk(&[scan_dir.to_path_buf()], &Filters::default());
    planned.io_errors.extend(walked.errors.into_iter().map(|e| (e.path, e.message)));
    let index = ScanDirIndex::build(
        walked.entries.iter().map(|e| (e.path.as_path(), matches!(e.entry_type, EntryType::Dir | EntryType::TempDir))),
    );
    let files: std::collections::HashSet<&Path> =
        walked.entries.iter().filter(|e| e.entry_type == EntryType::File).map(|e| e.path.as_path()).collect();
    // The walk reports symlinks, special files, temp dirs and backups as such; only regular
    // files are candidates, and temp files classify as temps below.
    let mut candidates: Vec<&Path> = files.iter().copied().filter(|p| owned_by(p, scan_dir, &index)).collect();
    candidates.sort();
    for path in candidates {
        let parent = path.parent().unwrap_or(scan_dir);
        let class = layout::classify_file(path, Some(scan_dir), &|name| files.contains(parent.join(name).as_path()));
        let Some(raw) = RawText::of(class.kind, path) else { continue };
        let bytes = match read(path) {
            Ok(bytes) => bytes,
            Err(message) => {
                planned.io_errors.push((path.to_path_buf(), message));
                continue;
            }
        };
        let unfixable = |reason: String| Unfixable { migration: ID, path: path.to_path_buf(), reason };
        match judge(&bytes, raw, shape_for(class.kind, class.checkpoint_step)) {
            Verdict::Utf8 => {}
            Verdict::Convert(contents) => planned.actions.push(action(path, raw, &bytes, contents)),
            Verdict::Undefined(undefined) => planned.unfixable.push(unfixable(format!(
                "not UTF-8, and not cp1252 either: byte 0x{:02X} at offset {} has no character in cp1252, so this is not a file OpenAnt wrote on Windows; left alone",
                undefined.byte, undefined.offset
            ))),
            Verdict::DamagedUtf8 { invalid, multibyte } => planned.unfixable.push(unfixable(format!(
                "not UTF-8 at offset {invalid}, but not cp1252 either: it holds valid UTF-8 multibyte characters (the first at offset {multibyte}), so it is UTF-8 text with damaged bytes; re-encoding it would garble every character; left for `scanaudit repair`"
            ))),
            Verdict::Damaged(problem) => planned.unfixable.push(unfixable(format!(
                "decodes as cp1252, but the document is damaged besides ({}: {}); left for `scanaudit repair`, which rebuilds it as UTF-8",
                problem.kind, problem.message
            ))),
        }
    }
    planned
}

/// Whether `path` belongs to `scan_dir` itself rather than to a scan dir nested in it (which
/// is planned on its own).
fn owned_by(path: &Path, scan_dir: &Path, index: &ScanDirIndex) -> bool {
    path.ancestors().skip(1).take_while(|a| *a != scan_dir).all(|a| !index.contains(a))
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    open_regular(path)
        .and_then(|mut file| file.read_to_end(&mut bytes))
        .map_err(|error| format!("reading {}: {error}", path.display()))?;
    Ok(bytes)
}

fn action(path: &Path, raw: RawText, original: &[u8], contents: Vec<u8>) -> MigrationAction {
    let characters = String::from_utf8_lossy(&contents).chars().filter(|c| !c.is_ascii()).count();
    let mut notes = Vec::new();
    if original.windows(2).any(|w| w == b"\r\n") {
        notes.push("Windows line endings (CRLF) kept: they are part of the file as OpenAnt wrote it".to_string());
    }
    let (what, check) = match raw {
        RawText::Json(kind) => (kind.describe(), ContentCheck::Json(kind)),
        RawText::Markdown => ("Markdown report", ContentCheck::Utf8Text),
    };
    MigrationAction {
        migration: ID,
        target: path.to_path_buf(),
        reason: format!(
            "{what} written in cp1252 on Windows (before 3cdca87): re-encode its {characters} non-ASCII character{} as UTF-8",
            if characters == 1 { "" } else { "s" }
        ),
        notes,
        steps: vec![Step::Rewrite {
            path: PathBuf::from(path),
            contents,
            check,
            expected_sha256: sha256_hex(original),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (rel, bytes) in files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        dir
    }

    fn rewritten(planned: &Planned) -> Vec<(String, Vec<u8>)> {
        planned
            .actions
            .iter()
            .map(|a| match &a.steps[..] {
                [Step::Rewrite { path, contents, .. }] => (layout::file_name(path), contents.clone()),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    const DYN: &[u8] =
        b"{\r\n  \"repository\": \"r\xe9sum\xe9 \x80\",\r\n  \"total_findings\": 0,\r\n  \"total_cost_usd\": 0.0,\r\n  \"results\": []\r\n}";

    #[test]
    fn converts_raw_text_and_keeps_crlf() {
        let dir = scan(&[
            ("dynamic_test_results.json", DYN),
            ("report/SUMMARY_REPORT.md", b"# R\xe9sum\xe9 \x97 ok\r\n"),
            ("DYNAMIC_TEST_RESULTS.md", "# déjà UTF-8\r\n".as_bytes()),
            // Written ASCII by OpenAnt: a high byte there is damage, not a code page.
            ("results.json", b"{\"x\": \"\xe9\"}"),
            // A temp is never a migration target.
            (".tmp-dynamic_test_results.json-abcdefgh.json", DYN),
        ]);
        let planned = plan(dir.path());
        assert!(planned.unfixable.is_empty() && planned.io_errors.is_empty(), "{planned:?}");
        assert_eq!(
            rewritten(&planned),
            [
                (
                    "dynamic_test_results.json".to_string(),
                    "{\r\n  \"repository\": \"résumé €\",\r\n  \"total_findings\": 0,\r\n  \"total_cost_usd\": 0.0,\r\n  \"results\": []\r\n}"
                        .as_bytes()
                        .to_vec()
                ),
                ("SUMMARY_REPORT.md".to_string(), "# Résumé — ok\r\n".as_bytes().to_vec()),
            ]
        );
        let Step::Rewrite { expected_sha256, check, .. } = &planned.actions[0].steps[0] else { unreachable!() };
        assert_eq!(*expected_sha256, sha256_hex(DYN));
        assert_eq!(*check, ContentCheck::Json(crate::layout::FileKind::DynamicTestResults));
        assert!(planned.actions[0].reason.contains("3 non-ASCII characters"), "{}", planned.actions[0].reason);
        assert_eq!(planned.actions[1].notes.len(), 1);
    }

    #[test]
    fn leaves_torn_and_foreign_bytes_and_says_why() {
        let dir = scan(&[
            ("dynamic_test_results.json", &DYN[..DYN.len() - 6]),
            ("report/disclosures/DISCLOSURE_01_X.md", b"\xcf\xf0\xe5\xe3\xeb\xe5\xe4\xe0\xed\xee \x81"),
        ]);
        let planned = plan(dir.path());
        assert!(planned.actions.is_empty(), "{:?}", planned.actions);
        let reasons: Vec<(String, &str)> =
            planned.unfixable.iter().map(|u| (layout::file_name(&u.path), u.reason.as_str())).collect();
        assert_eq!(reasons.len(), 2);
        assert_eq!(reasons[0].0, "dynamic_test_results.json");
        assert!(reasons[0].1.contains("truncated") && reasons[0].1.contains("repair"), "{}", reasons[0].1);
        assert_eq!(reasons[1].0, "DISCLOSURE_01_X.md");
        assert!(reasons[1].1.contains("byte 0x81 at offset 11"), "{}", reasons[1].1);
    }

    #[test]
    fn nested_scan_dirs_are_left_to_their_own_plan() {
        let dir = scan(&[
            ("report/SUMMARY_REPORT.md", b"caf\xe9"),
            ("python/results.json", b"{}"),
            ("python/report/SUMMARY_REPORT.md", b"caf\xe9"),
        ]);
        let planned = plan(dir.path());
        let targets: Vec<PathBuf> = planned.actions.iter().map(|a| a.target.clone()).collect();
        assert_eq!(targets, [dir.path().join("report/SUMMARY_REPORT.md")]);
        assert_eq!(plan(&dir.path().join("python")).actions.len(), 1);
    }

    #[test]
    fn a_second_plan_after_the_rewrite_is_empty() {
        let dir = scan(&[("dynamic_test_results.json", DYN)]);
        for (path, contents) in rewritten(&plan(dir.path())) {
            std::fs::write(dir.path().join(path), contents).unwrap();
        }
        let again = plan(dir.path());
        assert!(again.actions.is_empty() && again.unfixable.is_empty(), "{again:?}");
    }
}
