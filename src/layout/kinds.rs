//! The kinds of file an OpenAnt tree holds ([`FileKind`], named the way findings and
//! `--format json` name them) and the step a checkpoint directory belongs to
//! ([`CheckpointStep`]). What decides a file's kind is [`super::classify`].

use std::fmt;

use serde::Serialize;

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
