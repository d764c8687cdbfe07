//! What every file in an OpenAnt tree is (spec §1.2, §2, §4): its kind, the scan dir it
//! belongs to, the shape its JSON must have, and which temp files stand for which targets.

pub mod reserved_names;
pub mod safe_filename;
mod scan_dirs;
pub mod shapes;
pub mod state_names;
pub mod temp_names;

use std::ffi::OsStr;
use std::fmt;
use std::path::{Component, Path};

use serde::Serialize;

pub use scan_dirs::ScanDirIndex;
pub use shapes::shape_for;
pub use temp_names::{TempName, TempWriter};

/// The kind of a file, named the way findings and `--format json` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    Dataset,
    AnalyzerOutput,
    CallGraph,
    DatasetEnhanced,
    Results,
    ResultsVerified,
    PipelineOutput,
    DynamicTestResults,
    ApplicationContext,
    LlmReachability,
    DiffManifest,
    DiffFilterReport,
    StepReport,
    Checkpoint,
    CheckpointSummary,
    /// `_fingerprint.json` in a gated checkpoint dir (identity-gate era): a reserved file,
    /// never a unit checkpoint.
    CheckpointFingerprint,
    /// `results__<8hex>.json` / `results__legacy.json`: a results file OpenAnt archived on an
    /// analyze identity change (identity-gate era). Healthy, never read again.
    ResultsArchive,
    /// `*_checkpoints.superseded-*/`'s files: a checkpoint dir OpenAnt archived on an identity
    /// mismatch (identity-gate era). Never read again: checked as generic JSON only.
    SupersededCheckpoint,
    LegacyCheckpoint,
    ScanMeta,
    Project,
    ParserIntermediate,
    Temp,
    Backup,
    GenericJson,
    Symlink,
    SpecialFile,
    Directory,
    /// Not JSON (Markdown, HTML, CSV, …): counted, not parsed.
    Other,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Dataset => "dataset",
            FileKind::AnalyzerOutput => "analyzer-output",
            FileKind::CallGraph => "call-graph",
            FileKind::DatasetEnhanced => "dataset-enhanced",
            FileKind::Results => "results",
            FileKind::ResultsVerified => "results-verified",
            FileKind::PipelineOutput => "pipeline-output",
            FileKind::DynamicTestResults => "dynamic-test-results",
            FileKind::ApplicationContext => "application-context",
            FileKind::LlmReachability => "llm-reachability",
            FileKind::DiffManifest => "diff-manifest",
            FileKind::DiffFilterReport => "diff-filter-report",
            FileKind::StepReport => "step-report",
            FileKind::Checkpoint => "checkpoint",
            FileKind::CheckpointSummary => "checkpoint-summary",
            FileKind::CheckpointFingerprint => "checkpoint-fingerprint",
            FileKind::ResultsArchive => "results-archive",
            FileKind::SupersededCheckpoint => "superseded-checkpoint",
            FileKind::LegacyCheckpoint => "legacy-checkpoint",
            FileKind::ScanMeta => "scan-meta",
            FileKind::Project => "project",
            FileKind::ParserIntermediate => "parser-intermediate",
            FileKind::Temp => "temp",
            FileKind::Backup => "backup",
            FileKind::GenericJson => "generic-json",
            FileKind::Symlink => "symlink",
            FileKind::SpecialFile => "special-file",
            FileKind::Directory => "directory",
            FileKind::Other => "other",
        }
    }

    /// Whether files of this kind are parsed as JSON.
    pub fn is_json(self) -> bool {
        !matches!(
            self,
            FileKind::Temp
                | FileKind::Backup
                | FileKind::Symlink
                | FileKind::SpecialFile
                | FileKind::Directory
                | FileKind::Other
        )
    }

    /// Outputs `scanaudit repair` can rebuild from checkpoints or a salvageable temp.
    pub fn is_rebuildable(self) -> bool {
        matches!(
            self,
            FileKind::DatasetEnhanced
                | FileKind::Results
                | FileKind::ResultsVerified
                | FileKind::PipelineOutput
                | FileKind::DynamicTestResults
        )
    }

    /// What the generic kind means in words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::Dataset => "parser dataset",
            FileKind::AnalyzerOutput => "analyzer output",
            FileKind::CallGraph => "call graph",
            FileKind::DatasetEnhanced => "enhanced dataset",
            FileKind::Results => "stage-1 results",
            FileKind::ResultsVerified => "verified results",
            FileKind::PipelineOutput => "pipeline output",
            FileKind::DynamicTestResults => "dynamic test results",
            FileKind::ApplicationContext => "application context",
            FileKind::LlmReachability => "LLM reachability signals",
            FileKind::DiffManifest => "diff manifest",
            FileKind::DiffFilterReport => "diff filter report",
            FileKind::StepReport => "step report",
            FileKind::Checkpoint => "checkpoint",
            FileKind::CheckpointSummary => "checkpoint summary",
            FileKind::CheckpointFingerprint => "checkpoint identity sidecar",
            FileKind::ResultsArchive => "archived stage-1 results",
            FileKind::SupersededCheckpoint => "archived (superseded) checkpoint",
            FileKind::LegacyCheckpoint => "single-file checkpoint",
            FileKind::ScanMeta => "scan meta.json",
            FileKind::Project => "project.json",
            FileKind::ParserIntermediate => "parser intermediate",
            FileKind::Temp => "temp file",
            FileKind::Backup => "scanaudit backup",
            FileKind::GenericJson => "JSON file",
            FileKind::Symlink => "symlink",
            FileKind::SpecialFile => "special file",
            FileKind::Directory => "directory",
            FileKind::Other => "file",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The step a checkpoint directory belongs to (spec §2.1), from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckpointStep {
    Enhance,
    Analyze,
    Verify,
    DynamicTest,
    /// `llm_reach_checkpoints/` (identity-gate era, #532): per-unit LLM reachability signals.
    LlmReach,
    /// A `*_checkpoints` dir of a step we do not know (e.g. a parser's own agentic mode).
    Unknown,
}

impl CheckpointStep {
    /// `None` when the directory is not a checkpoint directory at all.
    pub fn from_dir_name(name: &str) -> Option<CheckpointStep> {
        let step = name.strip_suffix("_checkpoints")?;
        Some(match step {
            "enhance" | "dataset_enhanced_checkpoint" => CheckpointStep::Enhance,
            "analyze" => CheckpointStep::Analyze,
            "verify" => CheckpointStep::Verify,
            "dynamic_test" => CheckpointStep::DynamicTest,
            "llm_reach" => CheckpointStep::LlmReach,
            _ => CheckpointStep::Unknown,
        })
    }

    /// The `openant` verb that resumes this step.
    pub fn openant_verb(self) -> Option<&'static str> {
        match self {
            CheckpointStep::Enhance => Some("enhance"),
            CheckpointStep::Analyze => Some("analyze"),
            CheckpointStep::Verify => Some("verify"),
            CheckpointStep::DynamicTest => Some("dynamic-test"),
            // The LLM reachability pass runs inside `openant scan`.
            CheckpointStep::LlmReach => Some("scan"),
            CheckpointStep::Unknown => None,
        }
    }
}

/// Steps that write `{step}.report.json` (spec §1.4.11).
pub const STEP_NAMES: &[&str] = &[
    "parse",
    "app-context",
    "llm-reachability",
    "enhance",
    "analyze",
    "verify",
    "build-output",
    "dynamic-test",
    "report",
    "report-data",
    "scan",
];

/// Languages OpenAnt names scan dirs after (`config/languages.json`).
pub const LANGUAGES: &[&str] = &["python", "javascript", "go", "c", "ruby", "php", "zig"];

/// What `-l auto` stores as the language (PR #199): the scan dir of a multi-language scan is
/// `scans/<sha>/auto/`, holding per-language parse dirs `auto/<language>/`.
pub const AUTO_LANGUAGE: &str = "auto";

/// Prefixes of the ad-hoc scan dirs the Python CLI creates with `mkdtemp`.
pub const ADHOC_PREFIXES: &[&str] = &["open_ant_", "openant_dyntest_"];

/// Single-file checkpoints of the fork and of upstream before d710b90 (spec §2.6).
pub const LEGACY_CHECKPOINT_NAMES: &[&str] =
    &["analyze_checkpoint.json", "verify_checkpoint.json", FORK_ENHANCE_FILE, "enhance_checkpoint.json"];

/// The fork's whole-dataset enhance checkpoint (`<output stem>_checkpoint.json`, 7606ea3): a
/// retry copy of `dataset_enhanced.json`.
pub const FORK_ENHANCE_FILE: &str = "dataset_enhanced_checkpoint.json";

/// Names only the fork gives its single-file checkpoints (7606ea3, d3b1b84): upstream's
/// `enhance --checkpoint FILE` took any name.
pub const FORK_FILE_NAMES: &[&str] = &["analyze_checkpoint.json", "verify_checkpoint.json", FORK_ENHANCE_FILE];

/// The kind of a top-level file of a scan dir, from its name alone.
fn scan_dir_file_kind(name: &str) -> Option<FileKind> {
    Some(match name {
        "dataset.json" => FileKind::Dataset,
        "analyzer_output.json" => FileKind::AnalyzerOutput,
        "call_graph.json" => FileKind::CallGraph,
        "dataset_enhanced.json" => FileKind::DatasetEnhanced,
        "results.json" => FileKind::Results,
        "results_verified.json" => FileKind::ResultsVerified,
        "pipeline_output.json" => FileKind::PipelineOutput,
        "dynamic_test_results.json" => FileKind::DynamicTestResults,
        "application_context.json" => FileKind::ApplicationContext,
        "llm_reachability.json" => FileKind::LlmReachability,
        "diff_manifest.json" => FileKind::DiffManifest,
        "diff_filter.report.json" => FileKind::DiffFilterReport,
        "scan_result.json" | "functions.json" | "scan_results.json" | "pipeline_results.json" => {
            FileKind::ParserIntermediate
        }
        n if LEGACY_CHECKPOINT_NAMES.contains(&n) => FileKind::LegacyCheckpoint,
        n if n.ends_with(".report.json") => FileKind::StepReport,
        _ => return None,
    })
}

/// Names whose presence makes their directory a scan dir.
pub fn is_scan_dir_marker(name: &str, is_dir: bool) -> bool {
    if is_dir {
        return CheckpointStep::from_dir_name(name).is_some();
    }
    name == "DYNAMIC_TEST_RESULTS.md" || scan_dir_file_kind(name).is_some_and(|k| k != FileKind::ParserIntermediate)
}

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
    let name = file_name(path);
    if let Some(temp) = temp_names::recognise_file(&name, sibling_exists) {
        return Classified { kind: FileKind::Temp, checkpoint_step: None, temp: Some(temp) };
    }
    let parent_name = path.parent().map(file_name).unwrap_or_default();
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
        let rel: Vec<String> = path
            .strip_prefix(scan_dir)
            .map(|rel| {
                rel.components()
                    .filter_map(|c| match c {
                        Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let rel: Vec<&str> = rel.iter().map(String::as_str).collect();
        match rel.as_slice() {
            [name] => {
                if let Some(kind) = scan_dir_file_kind(name) {
                    return Classified::plain(kind);
                }
                if reserved_names::is_archived_results(name) {
                    return Classified::plain(FileKind::ResultsArchive);
                }
                if *name == "call_graphs.json" && file_name(scan_dir) == AUTO_LANGUAGE {
                    return Classified::plain(FileKind::ParserIntermediate);
                }
            }
            // A multi-language scan's per-language parse dir (`auto/<language>/`): flat parser
            // outputs, checked by their shapes, but not a scan dir of their own.
            [language, name] if file_name(scan_dir) == AUTO_LANGUAGE && LANGUAGES.contains(language) => {
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
    } else if name == "project.json" && (sibling_exists("scans") || is_project_dir(path.parent())) {
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

/// `scans/<sha>/<language>/meta.json`.
pub fn is_language_level_meta(path: &Path) -> bool {
    let Some(dir) = path.parent() else { return false };
    is_language_dir_name(&file_name(dir))
        && dir.parent().and_then(Path::parent).map(file_name).as_deref() == Some("scans")
}

/// A language-level dir name: a language, or `auto` for multi-language scans (PR #199).
pub fn is_language_dir_name(name: &str) -> bool {
    LANGUAGES.contains(&name) || name == AUTO_LANGUAGE
}

/// `projects/<name>/` or `projects/<org>/<repo>/`.
fn is_project_dir(dir: Option<&Path>) -> bool {
    let Some(dir) = dir else { return false };
    let parent = dir.parent();
    let is_projects = |p: Option<&Path>| p.and_then(Path::file_name) == Some(OsStr::new("projects"));
    is_projects(parent) || is_projects(parent.and_then(Path::parent))
}

pub fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn grandparent_name(path: &Path) -> Option<String> {
    path.parent()?.parent()?.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// The file name of a rebuildable output ([`FileKind::is_rebuildable`]) in its scan dir; `""`
/// for any other kind.
pub fn output_file_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::DatasetEnhanced => "dataset_enhanced.json",
        FileKind::Results => "results.json",
        FileKind::ResultsVerified => "results_verified.json",
        FileKind::PipelineOutput => "pipeline_output.json",
        FileKind::DynamicTestResults => "dynamic_test_results.json",
        _ => "",
    }
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

    #[test]
    fn markers() {
        assert!(is_scan_dir_marker("results.json", false));
        assert!(is_scan_dir_marker("parse.report.json", false));
        assert!(is_scan_dir_marker("analyze_checkpoints", true));
        assert!(!is_scan_dir_marker("analyze_checkpoints", false));
        assert!(!is_scan_dir_marker("functions.json", false));
        assert!(!is_scan_dir_marker("notes.json", false));
    }
}
