//! The names of the files OpenAnt writes in a scan dir (spec §1.4, §2.6): which kind each
//! top-level name means, which names make their directory a scan dir, the step reports, the
//! single-file checkpoints of older eras and the fork, and the file name of each rebuildable
//! output.

use super::kinds::{CheckpointStep, FileKind};

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
pub(super) fn scan_dir_file_kind(name: &str) -> Option<FileKind> {
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
