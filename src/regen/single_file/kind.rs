//! Which single-file checkpoint (spec §2.6) a parsed document is ([`LegacyKind`]): recognised
//! by name and content, with the step it checkpoints and the names current OpenAnt gives that
//! step's per-unit dir and `_summary.json` step.

use crate::layout::{CheckpointStep, FORK_ENHANCE_FILE};
use crate::pyjson::PyValue;

/// Which single-file checkpoint a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegacyKind {
    /// A whole-dataset enhance checkpoint (`units[]`, `metadata.checkpoint: true`).
    WholeDataset,
    /// The fork's `analyze_checkpoint.json`.
    ForkAnalyze,
    /// The fork's `verify_checkpoint.json`.
    ForkVerify,
}

impl LegacyKind {
    /// Recognises a parsed top-level file of a scan dir by its name and content. Whole-dataset
    /// enhance checkpoints are recognised by content under any name, so callers must not offer
    /// OpenAnt's own outputs: upstream before d710b90 also left `metadata.checkpoint: true` in
    /// the finished `dataset_enhanced.json`, which is no checkpoint. The fork's own name needs
    /// no flag: its master's enhance retry copies `dataset_enhanced.json` there as it is (error
    /// units included, no `metadata.checkpoint`) and migrates its units like any checkpoint's.
    pub fn of_document(name: &str, doc: &PyValue) -> Option<LegacyKind> {
        let is_array = |key: &str| matches!(doc.get(key), Some(PyValue::Array(_)));
        match name {
            "analyze_checkpoint.json" if is_array("results") => Some(LegacyKind::ForkAnalyze),
            "verify_checkpoint.json" if is_array("verified") || is_array("completed_keys") => {
                Some(LegacyKind::ForkVerify)
            }
            FORK_ENHANCE_FILE if is_array("units") => Some(LegacyKind::WholeDataset),
            _ if is_array("units")
                && matches!(doc.get("metadata").and_then(|m| m.get("checkpoint")), Some(PyValue::Bool(true))) =>
            {
                Some(LegacyKind::WholeDataset)
            }
            _ => None,
        }
    }

    pub fn step(self) -> CheckpointStep {
        match self {
            LegacyKind::WholeDataset => CheckpointStep::Enhance,
            LegacyKind::ForkAnalyze => CheckpointStep::Analyze,
            LegacyKind::ForkVerify => CheckpointStep::Verify,
        }
    }

    /// The per-unit directory current OpenAnt resumes this step from (spec §2.1).
    pub fn dir_name(self) -> &'static str {
        match self {
            LegacyKind::WholeDataset => "enhance_checkpoints",
            LegacyKind::ForkAnalyze => "analyze_checkpoints",
            LegacyKind::ForkVerify => "verify_checkpoints",
        }
    }

    /// The `step` value `_summary.json` carries (spec §2.1: `StepCheckpoint("Analyze")` etc.).
    pub fn summary_step(self) -> &'static str {
        match self {
            LegacyKind::WholeDataset => "enhance",
            LegacyKind::ForkAnalyze => "Analyze",
            LegacyKind::ForkVerify => "Verify",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regen::test_support::p as json;

    #[test]
    fn documents_are_recognised_by_name_and_shape() {
        let analyze = json(r#"{"results": [], "code_by_route": {}}"#);
        let verify = json(r#"{"completed_keys": [], "verified": []}"#);
        let whole = json(r#"{"units": [], "metadata": {"checkpoint": true}}"#);
        assert_eq!(LegacyKind::of_document("analyze_checkpoint.json", &analyze), Some(LegacyKind::ForkAnalyze));
        // results.json has the same keys: only the fork's name makes it a checkpoint.
        assert_eq!(LegacyKind::of_document("results.json", &analyze), None);
        assert_eq!(LegacyKind::of_document("verify_checkpoint.json", &verify), Some(LegacyKind::ForkVerify));
        assert_eq!(LegacyKind::of_document("my-run.json", &whole), Some(LegacyKind::WholeDataset));
        assert_eq!(LegacyKind::of_document("enhance_checkpoint.json", &whole), Some(LegacyKind::WholeDataset));
        let not_marked = json(r#"{"units": [], "metadata": {"checkpoint": 1}}"#);
        assert_eq!(LegacyKind::of_document("enhance_checkpoint.json", &not_marked), None);
        assert_eq!(LegacyKind::of_document("analyze_checkpoint.json", &json("[1]")), None);
        assert_eq!(LegacyKind::ForkAnalyze.dir_name(), "analyze_checkpoints");
        assert_eq!(LegacyKind::ForkVerify.summary_step(), "Verify");
    }

    #[test]
    fn the_forks_enhance_file_needs_no_checkpoint_flag() {
        // The fork master's retry copy of dataset_enhanced.json: no flag, error units included.
        let copy =
            json(r#"{"units": [{"id": "a", "agent_context": {"x": 1}}], "metadata": {"agentic_enhanced": true}}"#);
        assert_eq!(LegacyKind::of_document("dataset_enhanced_checkpoint.json", &copy), Some(LegacyKind::WholeDataset));
        assert_eq!(LegacyKind::of_document("enhance_checkpoint.json", &copy), None);
        assert_eq!(LegacyKind::of_document("my-run.json", &copy), None);
        assert!(crate::layout::FORK_FILE_NAMES.contains(&"dataset_enhanced_checkpoint.json"));
    }
}
