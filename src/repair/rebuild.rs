//! The bridge between repair's plan and the regen functions: loads a scan dir's inputs,
//! rebuilds one output at a time in order, and lets an output rebuilt (or promoted) earlier
//! feed the next.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::plan::Unfixable;
use crate::layout::FileKind;

/// A rebuilt output, ready for the atomic writer.
#[derive(Debug, Clone)]
pub struct RebuiltFile {
    pub bytes: Vec<u8>,
    /// What could not be reproduced exactly, and what was done.
    pub notes: Vec<String>,
    /// The files it was built from, for the plan.
    pub inputs: Vec<String>,
}

/// Why an output cannot be rebuilt here, and what can rebuild it.
#[derive(Debug, Clone)]
pub struct CannotRebuild {
    pub reason: String,
    pub fix: Option<String>,
}

/// Whether a step left evidence that it ran in this scan dir, so that a missing output is
/// missing and not merely never produced (verify is off by default, for one).
pub fn step_ran(dir: &Path, kind: FileKind) -> bool {
    let any = |names: &[&str]| names.iter().any(|n| dir.join(n).exists());
    match kind {
        FileKind::DatasetEnhanced => {
            any(&["enhance_checkpoints", "dataset_enhanced_checkpoint_checkpoints", "enhance.report.json"])
        }
        FileKind::Results => any(&["analyze_checkpoints", "analyze.report.json"]),
        FileKind::ResultsVerified => any(&["verify_checkpoints", "verify.report.json"]),
        FileKind::PipelineOutput => any(&["build-output.report.json"]),
        FileKind::DynamicTestResults => any(&["dynamic_test_checkpoints", "dynamic-test.report.json"]),
        _ => false,
    }
}

pub struct Rebuilder {
    dir: PathBuf,
    /// Outputs an earlier action will write, by kind: later rebuilds read these instead of
    /// the damaged files on disk.
    provided: HashMap<FileKind, Vec<u8>>,
    missing: Vec<Unfixable>,
}

impl Rebuilder {
    pub fn new(dir: &Path) -> Rebuilder {
        Rebuilder { dir: dir.to_path_buf(), provided: HashMap::new(), missing: Vec::new() }
    }

    pub fn provide(&mut self, kind: FileKind, bytes: Vec<u8>) {
        self.provided.insert(kind, bytes);
    }

    /// Units the last rebuild had no usable checkpoint for: never invented, listed.
    pub fn take_missing_units(&mut self) -> Vec<Unfixable> {
        std::mem::take(&mut self.missing)
    }

    /// The current bytes of an input: what an earlier action provides, else the file.
    pub fn input(&self, kind: FileKind, name: &str) -> Option<Vec<u8>> {
        self.provided.get(&kind).cloned().or_else(|| std::fs::read(self.dir.join(name)).ok())
    }

    pub fn rebuild(&mut self, kind: FileKind) -> Result<RebuiltFile, CannotRebuild> {
        let _ = kind;
        Err(CannotRebuild { reason: "regeneration is not wired yet".into(), fix: None })
    }
}
