//! The bridge between repair's plan and the regen functions: loads a scan dir's inputs,
//! rebuilds one output at a time in order, and lets an output rebuilt (or promoted) earlier
//! feed the next.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::plan::Unfixable;
use super::state::{output_name, REBUILD_ORDER};
use crate::layout::{CheckpointStep, FileKind};
use crate::pyjson::{self, PyValue};
use crate::regen::checkpoints::{self, CheckpointSet};
use crate::regen::common::RebuiltOutput;
use crate::regen::dynamic::{rebuild_dynamic_results, DynamicOptions, MissingReason};
use crate::regen::enhanced::{rebuild_enhanced, EnhanceInputs};
use crate::regen::pipeline::{rebuild_pipeline_output, PipelineOptions};
use crate::regen::results::{rebuild_results, AnalyzeInputs};
use crate::regen::verified::rebuild_verified;
use crate::regen::{self, Rebuilt, RegenError};

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

    /// Reads and parses an input of the scan dir (or what an earlier action provides). A
    /// damaged input stops the rebuild: nothing is written from bad input.
    fn parsed(&self, name: &str) -> Result<PyValue, CannotRebuild> {
        let provided = REBUILD_ORDER.iter().find(|k| output_name(**k) == name).and_then(|k| self.provided.get(k));
        let bytes = match provided {
            Some(bytes) => bytes.clone(),
            None => std::fs::read(self.dir.join(name)).map_err(|error| CannotRebuild {
                reason: format!("its input {name} cannot be read ({error})"),
                fix: None,
            })?,
        };
        pyjson::parse(&bytes).map_err(|error| CannotRebuild {
            reason: format!("its input {name} is damaged ({error}); repair or re-create it first"),
            fix: None,
        })
    }

    fn optional(&self, name: &str) -> Option<PyValue> {
        std::fs::read(self.dir.join(name)).ok().and_then(|bytes| pyjson::parse(&bytes).ok())
    }

    fn old_bytes(&self, kind: FileKind) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(output_name(kind))).ok()
    }

    fn checkpoints(&self, dir_name: &str, step: CheckpointStep) -> Result<CheckpointSet, CannotRebuild> {
        CheckpointSet::load_dir(&self.dir.join(dir_name), step)
            .map_err(|error| CannotRebuild { reason: format!("{dir_name}/ cannot be read ({error})"), fix: None })
    }

    fn missing_units(&mut self, kind: FileKind, units: &[String], verb: &str) {
        let path = self.dir.join(output_name(kind));
        for unit in units {
            self.missing.push(Unfixable {
                path: path.clone(),
                reason: format!("unit {unit} has no usable checkpoint: it was not invented; OpenAnt redoes it"),
                fix: Some(format!("openant {verb}")),
            });
        }
    }

    pub fn rebuild(&mut self, kind: FileKind) -> Result<RebuiltFile, CannotRebuild> {
        let (era, _) = checkpoints::detect_era_in_dir(&self.dir);
        let salvaged = self.old_bytes(kind).map(|bytes| regen::salvage_leading_fields(&bytes));
        let regen_error = |error: RegenError| CannotRebuild { reason: error.to_string(), fix: None };
        match kind {
            FileKind::DatasetEnhanced => {
                let report = self.optional("enhance.report.json");
                let dataset_name = input_name(report.as_ref(), "dataset_path").unwrap_or_else(|| "dataset.json".into());
                let dataset = self.parsed(&dataset_name)?;
                let cp_dir = checkpoints::enhance_checkpoint_dir_in(&self.dir, era);
                let set = self.checkpoints(cp_dir, CheckpointStep::Enhance)?;
                let inputs = EnhanceInputs { dataset: &dataset, checkpoints: &set, era, salvaged: salvaged.as_ref() };
                let rebuilt = rebuild_enhanced(&inputs).map_err(regen_error)?;
                self.missing_units(kind, &rebuilt.missing_units, "enhance");
                Ok(from_regen(rebuilt, vec![dataset_name, format!("{cp_dir}/")]))
            }
            FileKind::Results => {
                let report = self.optional("analyze.report.json");
                let default = if self.dir.join("dataset_enhanced.json").exists()
                    || self.provided.contains_key(&FileKind::DatasetEnhanced)
                {
                    "dataset_enhanced.json"
                } else {
                    "dataset.json"
                };
                let dataset_name = input_name(report.as_ref(), "dataset_path").unwrap_or_else(|| default.into());
                let dataset = self.parsed(&dataset_name)?;
                let set = self.checkpoints("analyze_checkpoints", CheckpointStep::Analyze)?;
                let inputs = AnalyzeInputs::from_report(&dataset, report.as_ref(), default);
                let now = chrono::Local::now().naive_local();
                let rebuilt = rebuild_results(&inputs, &set, era, salvaged.as_ref(), now).map_err(regen_error)?;
                self.missing_units(kind, &rebuilt.missing_units, "analyze");
                Ok(from_regen(rebuilt, vec![dataset_name, "analyze_checkpoints/".into()]))
            }
            FileKind::ResultsVerified => {
                let results = self.parsed("results.json")?;
                let set = self.checkpoints("verify_checkpoints", CheckpointStep::Verify)?;
                let rebuilt = rebuild_verified(&results, &set, era, salvaged.as_ref()).map_err(regen_error)?;
                self.missing_units(kind, &rebuilt.missing_units, "verify");
                Ok(from_regen(rebuilt, vec!["results.json".into(), "verify_checkpoints/".into()]))
            }
            FileKind::PipelineOutput => {
                let mut provided = HashMap::new();
                for source in [FileKind::Results, FileKind::ResultsVerified] {
                    if let Some(bytes) = self.provided.get(&source) {
                        let value =
                            pyjson::parse(bytes).map_err(|e| CannotRebuild { reason: e.to_string(), fix: None })?;
                        provided.insert(output_name(source).to_string(), value);
                    }
                }
                let options = PipelineOptions { provided, ..PipelineOptions::default() };
                let rebuilt = rebuild_pipeline_output(&self.dir, &options).map_err(|error| CannotRebuild {
                    reason: error.to_string(),
                    fix: Some("openant build-output".into()),
                })?;
                Ok(from_output(rebuilt, &self.dir))
            }
            FileKind::DynamicTestResults => {
                let pipeline = self.parsed("pipeline_output.json")?;
                let rebuilt =
                    rebuild_dynamic_results(&self.dir, &pipeline, &DynamicOptions::default()).map_err(|error| {
                        CannotRebuild { reason: error.to_string(), fix: Some("openant dynamic-test".into()) }
                    })?;
                let path = self.dir.join(output_name(kind));
                for missing in &rebuilt.missing {
                    self.missing.push(Unfixable {
                        path: path.clone(),
                        reason: format!(
                            "finding {} has no usable test result ({}): it was not invented",
                            missing.finding_id.as_str().unwrap_or("?"),
                            describe_missing(&missing.reason)
                        ),
                        fix: Some("openant dynamic-test".into()),
                    });
                }
                Ok(from_output(rebuilt.json, &self.dir))
            }
            _ => Err(CannotRebuild { reason: format!("scanaudit does not rebuild {}", kind.describe()), fix: None }),
        }
    }
}

fn describe_missing(reason: &MissingReason) -> String {
    match reason {
        MissingReason::NoCheckpoint => "no checkpoint".into(),
        MissingReason::Errored => "its checkpoint records an ERROR".into(),
        MissingReason::Stale(why) => format!("its checkpoint belongs to another finding: {why}"),
        MissingReason::Unrestorable(why) => why.clone(),
    }
}

/// The basename of a path a step report recorded among its inputs.
fn input_name(report: Option<&PyValue>, key: &str) -> Option<String> {
    let path = report?.get("inputs")?.get(key)?.as_str()?;
    let name = path.rsplit(['/', '\\']).next()?;
    (!name.is_empty()).then(|| name.to_string())
}

fn from_regen(rebuilt: Rebuilt, inputs: Vec<String>) -> RebuiltFile {
    let notes = group_notes(rebuilt.inexact.iter().map(|i| (i.field.as_str(), i.note.as_str())));
    RebuiltFile { bytes: rebuilt.bytes.into_bytes(), notes, inputs }
}

/// One line per kind of note: the same note on many units (`results[<id>].verification_note`)
/// becomes `results[*].verification_note (N units, e.g. <id>)`.
fn group_notes<'a>(notes: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    const LIST_UP_TO: usize = 3;
    let mut groups: Vec<(String, &str, Vec<&str>)> = Vec::new();
    for (field, note) in notes {
        let (pattern, unit) = match (field.find('['), field.rfind(']')) {
            (Some(open), Some(close)) if open < close => {
                (format!("{}[*]{}", &field[..open], &field[close + 1..]), &field[open + 1..close])
            }
            _ => (field.to_string(), ""),
        };
        match groups.iter_mut().find(|(p, n, _)| *p == pattern && *n == note) {
            Some((_, _, units)) => units.push(unit),
            None => groups.push((pattern, note, vec![unit])),
        }
    }
    groups
        .into_iter()
        .flat_map(|(pattern, note, units)| {
            if units.len() <= LIST_UP_TO {
                let field = |unit: &str| if unit.is_empty() { pattern.clone() } else { pattern.replacen('*', unit, 1) };
                units.iter().map(|u| format!("{}: {note}", field(u))).collect::<Vec<_>>()
            } else {
                vec![format!("{pattern} ({} units, e.g. {}): {note}", units.len(), units[0])]
            }
        })
        .collect()
}

fn from_output(rebuilt: RebuiltOutput, dir: &Path) -> RebuiltFile {
    let mut notes = group_notes(rebuilt.inexact.iter().map(|i| (i.field.as_str(), i.note.as_str())));
    notes.extend(rebuilt.notes);
    let mut inputs: Vec<String> = Vec::new();
    for input in &rebuilt.inputs {
        let name = input.path.strip_prefix(dir).unwrap_or(&input.path).display().to_string();
        if !inputs.contains(&name) {
            inputs.push(name);
        }
    }
    RebuiltFile { bytes: rebuilt.bytes, notes, inputs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_about_many_units_are_grouped() {
        let many: Vec<(String, &str)> =
            (0..5).map(|i| (format!("results[u{i}].verification_note"), "restored as \"\"")).collect();
        let mut notes: Vec<(&str, &str)> = many.iter().map(|(f, n)| (f.as_str(), *n)).collect();
        notes.push(("timestamp", "set to now"));
        notes.push(("results[x].finding", "kept"));
        let grouped = group_notes(notes.into_iter());
        assert_eq!(
            grouped,
            [
                "results[*].verification_note (5 units, e.g. u0): restored as \"\"",
                "timestamp: set to now",
                "results[x].finding: kept"
            ]
        );
    }
}
