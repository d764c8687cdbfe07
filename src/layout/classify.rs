//! What a regular file is, from its name and where it sits ([`classify_file`]): a temp, a
//! checkpoint of some step, an output of its scan dir, a run's `meta.json`, a `project.json`,
//! or generic JSON / other.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::path::{Component, Path};

use super::kinds::{CheckpointStep, FileKind};
use super::output_names::scan_dir_file_kind;
use super::path_names::{name_of, text_of};
use super::reserved_names;
use super::scan_dir_names::{is_language_level_meta, AUTO_LANGUAGE, LANGUAGES};
use super::temp_names::{self, TempName};

fn is_json_name(name: &str) -> bool {
    name.ends_with(".json") || name.ends_with(".sarif")
}

/// Where a file sits and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub kind: FileKind,
    /// For `Checkpoint` and `CheckpointSummary`: the step of the directory.
    pub checkpoint_step: Option<CheckpointStep>,
    /// For `Temp`: the writer and target.
    pub temp: Option<TempName>,
}

impl Classified {
    fn plain(kind: FileKind) -> Classified {
        Classified { kind, checkpoint_step: None, temp: None }
    }
}

/// Classifies a regular file. `scan_dir` is the scan dir the file belongs to, if any;
/// `sibling_exists` answers whether a file of the given name exists beside it.
pub fn classify_file(path: &Path, scan_dir: Option<&Path>, sibling_exists: &dyn Fn(&str) -> bool) -> Classified {
    let name = name_of(path);
    if let Some(temp) = temp_names::recognise_file(&name, sibling_exists) {
        return Classified { kind: FileKind::Temp, checkpoint_step: None, temp: Some(temp) };
    }
    let parent_name = path.parent().map(name_of).unwrap_or_default();
    if reserved_names::is_superseded_checkpoint_dir(&parent_name) && name.ends_with(".json") {
        return Classified::plain(FileKind::SupersededCheckpoint);
    }
    if let Some(step) = CheckpointStep::from_dir_name(&parent_name) {
        if name == reserved_names::SUMMARY_FILE {
            return Classified { kind: FileKind::CheckpointSummary, checkpoint_step: Some(step), temp: None };
        }
        // Today's `_RESERVED_FILES`: the identity sidecar is never a unit checkpoint.
        if name == reserved_names::FINGERPRINT_FILE {
            return Classified { kind: FileKind::CheckpointFingerprint, checkpoint_step: Some(step), temp: None };
        }
        if name.ends_with(".json") {
            return Classified { kind: FileKind::Checkpoint, checkpoint_step: Some(step), temp: None };
        }
    }
    if let Some(scan_dir) = scan_dir {
        let rel: Vec<Cow<str>> = path
            .strip_prefix(scan_dir)
            .map(|rel| {
                rel.components()
                    .filter_map(|c| match c {
                        Component::Normal(s) => Some(text_of(s)),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let rel: Vec<&str> = rel.iter().map(Cow::as_ref).collect();
        match rel.as_slice() {
            [name] => {
                if let Some(kind) = scan_dir_file_kind(name) {
                    return Classified::plain(kind);
                }
                if reserved_names::is_archived_results(name) {
                    return Classified::plain(FileKind::ResultsArchive);
                }
                if *name == "call_graphs.json" && name_of(scan_dir) == AUTO_LANGUAGE {
                    return Classified::plain(FileKind::ParserIntermediate);
                }
            }
            // A multi-language scan's per-language parse dir (`auto/<language>/`): flat parser
            // outputs, checked by their shapes, but not a scan dir of their own.
            [language, name] if name_of(scan_dir) == AUTO_LANGUAGE && LANGUAGES.contains(language) => {
                if let Some(kind @ (FileKind::Dataset | FileKind::AnalyzerOutput | FileKind::CallGraph)) =
                    scan_dir_file_kind(name)
                {
                    return Classified::plain(kind);
                }
            }
            ["final-reports", "pipeline_output.json"] => return Classified::plain(FileKind::PipelineOutput),
            ["final-reports", name] if name.ends_with(".report.json") => {
                return Classified::plain(FileKind::StepReport)
            }
            _ => {}
        }
    // The path test first: it answers for every project in `projects/`, so the sibling
    // lookup (check builds its path set for it) is left for the rest.
    } else if name == "project.json" && (is_project_dir(path.parent()) || sibling_exists("scans")) {
        return Classified::plain(FileKind::Project);
    }
    // meta.json lives in the run dir `scans/<sha>/`, which before the language level existed
    // was also the scan dir.
    if name == "meta.json" && grandparent_name(path).as_deref() == Some("scans") {
        return Classified::plain(FileKind::ScanMeta);
    }
    // Since #664 (identity-gate era) the Go CLI also writes one per language, in the scan dir
    // `scans/<sha>/<language>/meta.json`.
    if name == "meta.json" && is_language_level_meta(path) {
        return Classified::plain(FileKind::ScanMeta);
    }
    Classified::plain(if is_json_name(&name) { FileKind::GenericJson } else { FileKind::Other })
}

/// `projects/<name>/` or `projects/<org>/<repo>/`.
fn is_project_dir(dir: Option<&Path>) -> bool {
    let Some(dir) = dir else { return false };
    let parent = dir.parent();
    let is_projects = |p: Option<&Path>| p.and_then(Path::file_name) == Some(OsStr::new("projects"));
    is_projects(parent) || is_projects(parent.and_then(Path::parent))
}

fn grandparent_name(path: &Path) -> Option<String> {
    path.parent()?.parent()?.file_name().map(|n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(path: &str, scan_dir: Option<&str>) -> FileKind {
        classify_file(Path::new(path), scan_dir.map(Path::new), &|_| false).kind
    }

    #[test]
    fn scan_dir_files() {
        let sd = Some("p/scans/abc/python");
        assert_eq!(kind("p/scans/abc/python/results.json", sd), FileKind::Results);
        assert_eq!(kind("p/scans/abc/python/analyze.report.json", sd), FileKind::StepReport);
        assert_eq!(kind("p/scans/abc/python/diff_filter.report.json", sd), FileKind::DiffFilterReport);
        assert_eq!(kind("p/scans/abc/python/analyze_checkpoint.json", sd), FileKind::LegacyCheckpoint);
        assert_eq!(kind("p/scans/abc/python/final-reports/pipeline_output.json", sd), FileKind::PipelineOutput);
        assert_eq!(kind("p/scans/abc/python/report/SUMMARY_REPORT.md", sd), FileKind::Other);
        assert_eq!(kind("p/scans/abc/python/codeql-results.sarif", sd), FileKind::GenericJson);
        assert_eq!(kind("p/scans/abc/python/scan_results.json", sd), FileKind::ParserIntermediate);
        assert_eq!(kind("p/scans/abc/python/sub/results.json", sd), FileKind::GenericJson);
    }

    #[test]
    fn checkpoints_by_directory() {
        let c = classify_file(Path::new("s/analyze_checkpoints/src__a.py_f.json"), Some(Path::new("s")), &|_| false);
        assert_eq!((c.kind, c.checkpoint_step), (FileKind::Checkpoint, Some(CheckpointStep::Analyze)));
        let c = classify_file(Path::new("s/dataset_enhanced_checkpoint_checkpoints/_summary.json"), None, &|_| false);
        assert_eq!((c.kind, c.checkpoint_step), (FileKind::CheckpointSummary, Some(CheckpointStep::Enhance)));
        // A temp inside a checkpoint dir is a temp, even though it ends in .json.
        assert_eq!(kind("s/analyze_checkpoints/.tmp-x.json-abcdefgh.json", Some("s")), FileKind::Temp);
    }

    #[test]
    fn run_and_project_files_outside_scan_dirs() {
        assert_eq!(kind("home/projects/acme/scans/abc1234def0/meta.json", None), FileKind::ScanMeta);
        assert_eq!(kind("home/projects/acme/project.json", None), FileKind::Project);
        assert_eq!(kind("home/projects/org/repo/project.json", None), FileKind::Project);
        assert_eq!(kind("elsewhere/project.json", None), FileKind::GenericJson);
        assert_eq!(kind("notes/x.json", None), FileKind::GenericJson);
        assert_eq!(kind("notes/x.txt", None), FileKind::Other);
    }

    #[test]
    fn todays_files() {
        let sd = Some("p/scans/abc/python");
        let c = classify_file(
            Path::new("p/scans/abc/python/analyze_checkpoints/_fingerprint.json"),
            sd.map(Path::new),
            &|_| false,
        );
        assert_eq!((c.kind, c.checkpoint_step), (FileKind::CheckpointFingerprint, Some(CheckpointStep::Analyze)));
        let c =
            classify_file(Path::new("p/scans/abc/python/llm_reach_checkpoints/a_f.json"), sd.map(Path::new), &|_| {
                false
            });
        assert_eq!((c.kind, c.checkpoint_step), (FileKind::Checkpoint, Some(CheckpointStep::LlmReach)));
        assert_eq!(kind("p/scans/abc/python/results__0a1b2c3d.json", sd), FileKind::ResultsArchive);
        assert_eq!(kind("p/scans/abc/python/results__legacy.json", sd), FileKind::ResultsArchive);
        assert_eq!(kind("p/scans/abc/python/results__X.json", sd), FileKind::GenericJson);
        assert_eq!(
            kind("p/scans/abc/python/analyze_checkpoints.superseded-0a1b2c3d/_fingerprint.json", sd),
            FileKind::SupersededCheckpoint
        );
        assert_eq!(kind("p/scans/abc/python/.tmp-abcd_123.tmp", sd), FileKind::Temp);
        assert_eq!(kind("p/scans/abc/python/analyze_checkpoints/.tmp-abcd_123.tmp", sd), FileKind::Temp);
        assert_eq!(kind("p/scans/abc/python/meta.json", sd), FileKind::ScanMeta);
        assert_eq!(kind("p/scans/abc/python/meta.json.tmp.123", sd), FileKind::Temp);
        assert_eq!(kind("p/scans/abc/python/report/meta.json", sd), FileKind::GenericJson);
        let auto = Some("p/scans/abc/auto");
        assert_eq!(kind("p/scans/abc/auto/meta.json", auto), FileKind::ScanMeta);
        assert_eq!(kind("p/scans/abc/auto/call_graphs.json", auto), FileKind::ParserIntermediate);
        assert_eq!(kind("p/scans/abc/auto/go/dataset.json", auto), FileKind::Dataset);
        assert_eq!(kind("p/scans/abc/auto/go/call_graph.json", auto), FileKind::CallGraph);
        assert_eq!(kind("p/scans/abc/auto/go/results.json", auto), FileKind::GenericJson);
        assert_eq!(kind("p/scans/abc/python/call_graphs.json", sd), FileKind::GenericJson);
    }
}
