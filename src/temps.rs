//! Stray temp files: what document a temp holds (validated against its target's shape, or
//! the shape its content tells), which file it was written for, and whether it is worth
//! keeping. `check` reports the assessment, `clean` keeps a temp it calls salvageable, and
//! `repair` promotes one.

use std::io;
use std::path::Path;

use crate::layout::safe_filename::checkpoint_file_name;
use crate::layout::{self, shape_for, CheckpointStep, Classified, FileKind, TempName, TempWriter};
use crate::shape::{any_recording_keys, Captured, Captures};
use crate::validate::{self, Validation};

/// How a file's content is opened for reading. `check` opens by path
/// ([`no_follow::open_regular`]); `clean` opens relative to a directory handle and refuses
/// anything but the regular file it judged.
pub type Opener<'a> = &'a dyn Fn(&Path) -> io::Result<std::fs::File>;

/// Validates a classified file the way `check` does: a temp by [`validate_temp`], a JSON file
/// against its kind's shape, anything else not at all (`Ok(None)`).
pub fn validate_classified(path: &Path, class: &Classified, open: Opener<'_>) -> io::Result<Option<Validation>> {
    match class.kind {
        FileKind::Temp => validate_temp(path, class, open),
        kind if kind.is_json() => {
            validate::validate_open(open(path)?, shape_for(kind, class.checkpoint_step)).map(Some)
        }
        _ => Ok(None),
    }
}

/// The document a temp file holds, checked against its target's shape when the name says
/// what the target is. An atomicwrites dir holds its document in `tmpfile.tmp`.
pub fn validate_temp(path: &Path, class: &Classified, open: Opener<'_>) -> io::Result<Option<Validation>> {
    let content = match class.temp.as_ref().map(|t| t.writer) {
        Some(layout::TempWriter::AtomicWrites) => {
            let inner = path.join(ATOMICWRITES_FILE);
            match std::fs::symlink_metadata(&inner) {
                Ok(meta) if meta.is_file() => inner,
                Ok(_) => return Ok(None),
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(error) => return Err(error),
            }
        }
        _ => path.to_path_buf(),
    };
    let target_kind = class.temp.as_ref().and_then(|t| t.target.as_deref()).map(|target| target_kind(path, target));
    let validation = match target_kind {
        Some(kind) => validate::validate_open(open(&content)?, shape_for(kind, None))?,
        None => validate::validate_open(open(&content)?, &any_recording_keys())?,
    };
    if target_kind.is_none() && validation.is_valid() {
        // The name does not say: let the content (and, for today's write_json temp, the
        // directory) tell, and hold it to that kind's shape.
        let writer = class.temp.as_ref().map(|t| t.writer);
        let kinds = temp_kinds(writer, path, &validation.captures);
        if let Some((kind, step)) = kinds.first().filter(|_| kinds.len() == 1).map(|c| (c.kind, c.step)) {
            return validate::validate_open(open(&content)?, shape_for(kind, step)).map(Some);
        }
        // Several kinds fit (dataset.json or dataset_enhanced.json): the shape they share.
        if let Some(kind) = kinds.first().map(|c| c.kind) {
            return validate::validate_open(open(&content)?, shape_for(kind, None)).map(Some);
        }
    }
    Ok(Some(validation))
}

/// A file a temp may have been written for, told from its content and directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempCandidate {
    pub kind: FileKind,
    /// The checkpoint dir's step, for a temp inside one.
    pub step: Option<CheckpointStep>,
    /// The target's file name in the temp's directory, when the content tells it.
    pub name: Option<String>,
}

/// The targets a temp whose name does not say could have been written for, from the top-level
/// keys of the complete document it holds (`captures`) and its directory. Today's
/// `write_json` temp (`.tmp-XXXXXXXX.tmp`) sits beside its target: inside a `*_checkpoints/`
/// dir it is a unit checkpoint (named by its `id`), `_summary.json` or `_fingerprint.json`;
/// in the scan dir an output, and since `write_json` writes both `dataset.json` and
/// `dataset_enhanced.json`, a dataset-shaped document is either. One candidate, or none, is
/// what a promotion needs; repair and clean ask the same question.
pub fn temp_kinds(writer: Option<TempWriter>, path: &Path, captures: &Captures) -> Vec<TempCandidate> {
    let has = |key: &str| captures.top_level_keys.iter().any(|k| k == key);
    let parent = path.parent().map(layout::file_name).unwrap_or_default();
    if writer == Some(TempWriter::WriteJson) {
        if let Some(step) = CheckpointStep::from_dir_name(&parent) {
            let (kind, name) = if has("scheme_version") && has("key_digest") {
                (FileKind::CheckpointFingerprint, Some(crate::layout::reserved_names::FINGERPRINT_FILE.to_string()))
            } else if has("phase") && has("total_units") {
                (FileKind::CheckpointSummary, Some(crate::layout::reserved_names::SUMMARY_FILE.to_string()))
            } else if has("id") {
                let id = captures.get("id").and_then(Captured::as_str);
                (FileKind::Checkpoint, id.map(checkpoint_file_name))
            } else {
                return Vec::new();
            };
            return vec![TempCandidate { kind, step: Some(step), name }];
        }
    }
    let Some(kind) = sniff_kind(captures) else { return Vec::new() };
    let candidate = |kind: FileKind| TempCandidate { kind, step: None, name: default_name(kind) };
    if writer == Some(TempWriter::WriteJson) && kind == FileKind::DatasetEnhanced {
        return vec![candidate(FileKind::Dataset), candidate(FileKind::DatasetEnhanced)];
    }
    vec![candidate(kind)]
}

/// The file inside atomicwrites' `.atomicwriteXXXXXX/` temp dir that holds the document.
pub const ATOMICWRITES_FILE: &str = "tmpfile.tmp";

/// The kind the target of a temp file in the same directory would have.
fn target_kind(temp: &Path, target: &str) -> FileKind {
    let target_path = temp.with_file_name(target);
    let kind = layout::classify_file(&target_path, temp.parent(), &|_| false).kind;
    if kind == FileKind::Other {
        FileKind::GenericJson
    } else {
        kind
    }
}

/// Guesses which OpenAnt output a complete document is, from its top-level keys.
fn sniff_kind(captures: &Captures) -> Option<FileKind> {
    let has = |key: &str| captures.top_level_keys.iter().any(|k| k == key);
    Some(if has("scheme_version") && has("key_digest") {
        FileKind::CheckpointFingerprint
    } else if has("verify") && has("results") {
        FileKind::ResultsVerified
    } else if has("metrics") && has("results") && has("code_by_route") {
        FileKind::Results
    } else if has("findings") && has("pipeline_stats") {
        FileKind::PipelineOutput
    } else if has("units") && has("metadata") {
        FileKind::DatasetEnhanced
    } else if has("step") && has("status") && has("outputs") {
        FileKind::StepReport
    } else if (has("results") && has("counts")) || has("completed_keys") {
        FileKind::LegacyCheckpoint
    } else {
        return None;
    })
}

/// The state of the file a temp was meant to replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    Missing,
    Broken,
    Healthy,
}

impl TargetState {
    /// The state of a target that exists, from how its validation went.
    pub fn of(outcome: &Result<Option<Validation>, String>) -> TargetState {
        match outcome {
            Ok(Some(v)) if !v.is_valid() => TargetState::Broken,
            Err(_) => TargetState::Broken,
            _ => TargetState::Healthy,
        }
    }
}

/// What a temp file is worth: who wrote it, for which target, whether it holds a complete
/// document, and how the target is. `check` reports it; `clean` keeps a salvageable temp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempAssessment {
    /// The target the temp's name carries.
    pub named_target: Option<String>,
    /// Where the name does not say and several targets fit the content, all of them: then
    /// `target` is `None` and nothing is promoted.
    pub candidates: Vec<String>,
    /// The temp sits in a `*_checkpoints/` dir: never promoted (checkpoints are per unit,
    /// OpenAnt redoes a unit without one), only explained and left to `clean`.
    pub in_checkpoint_dir: bool,
    /// The target: named, or guessed from the kind of the complete document it holds.
    pub target: Option<String>,
    pub target_state: Option<TargetState>,
    /// It holds a complete, valid document.
    pub complete: bool,
    /// "holds nothing", "holds a complete, valid document", "holds an incomplete document (...)".
    pub content: String,
}

impl TempAssessment {
    /// Complete, and its target is missing or broken: the temp may be the only good copy.
    pub fn salvageable(&self) -> bool {
        !self.in_checkpoint_dir
            && self.complete
            && matches!(self.target_state, Some(TargetState::Missing | TargetState::Broken))
    }

    /// " while writing results.json", ", probably while writing results.json" or "".
    pub fn writing(&self) -> String {
        match (&self.named_target, &self.target) {
            (Some(t), _) => format!(" while writing {t}"),
            (None, Some(t)) => format!(", probably while writing {t}"),
            (None, None) if !self.candidates.is_empty() => {
                format!(", while writing one of {} (its content fits each)", self.candidates.join(", "))
            }
            (None, None) => String::new(),
        }
    }

    /// Why a complete temp whose target is missing or damaged is still not promoted.
    pub fn not_promoted_note(&self) -> Option<String> {
        let missing = matches!(self.target_state, Some(TargetState::Missing | TargetState::Broken));
        if !self.complete || self.salvageable() {
            return None;
        }
        if self.in_checkpoint_dir && missing {
            let name = self.target.as_deref().unwrap_or("its target");
            let state = if self.target_state == Some(TargetState::Missing) { "missing" } else { "damaged" };
            return Some(format!(
                "{name} is {state}, but a temp inside a checkpoint dir is never promoted: OpenAnt redoes a unit it has no checkpoint for"
            ));
        }
        (!self.candidates.is_empty())
            .then(|| "several targets fit its content, so repair cannot tell which one to restore from it".to_string())
    }

    /// "results.json is missing: repair can restore it from this file".
    pub fn salvage_note(&self) -> String {
        let name = self.target.as_deref().unwrap_or("the target");
        let state = if self.target_state == Some(TargetState::Missing) { "missing" } else { "damaged" };
        format!("{name} is {state}: repair can restore it from this file")
    }
}

/// Assesses a temp from its name and what [`validate_temp`] found in it; `target_state` tells
/// the state of a target, by file name in the temp's directory.
pub fn assess_temp(
    temp: &TempName,
    path: &Path,
    validation: Option<&Validation>,
    target_state: &dyn Fn(&str) -> TargetState,
) -> TempAssessment {
    let complete = validation.is_some_and(Validation::is_valid);
    let candidates: Vec<TempCandidate> = match validation.filter(|v| v.is_valid()) {
        Some(v) if temp.target.is_none() => temp_kinds(Some(temp.writer), path, &v.captures),
        _ => Vec::new(),
    };
    let in_checkpoint_dir = temp.writer == TempWriter::WriteJson
        && path.parent().is_some_and(|p| CheckpointStep::from_dir_name(&layout::file_name(p)).is_some());
    let target = temp.target.clone().or_else(|| match candidates.as_slice() {
        [one] => one.name.clone(),
        _ => None,
    });
    // A torn write_json temp: its readable prefix may still tell the target (never promoted).
    let target = target.or_else(|| match validation {
        Some(v) if !v.is_valid() && temp.writer == TempWriter::WriteJson => torn_target(path, &v.captures),
        _ => None,
    });
    let candidates: Vec<String> =
        if candidates.len() > 1 { candidates.into_iter().filter_map(|c| c.name).collect() } else { Vec::new() };
    let content = match validation {
        None => "holds nothing".to_string(),
        Some(v) if v.is_valid() => "holds a complete, valid document".to_string(),
        Some(v) => {
            format!("holds an incomplete document ({})", v.problem.as_ref().map_or("unreadable", |p| p.kind.as_str()))
        }
    };
    TempAssessment {
        named_target: temp.target.clone(),
        candidates,
        in_checkpoint_dir,
        target_state: target.as_deref().map(target_state),
        target,
        complete,
        content,
    }
}

/// The target of a torn `write_json` temp, from the top-level keys before the tear
/// (`json.dump` writes keys in the writer's order: `results.json` starts `dataset, model,
/// provider`, `results_verified.json` has `verify` before its rows, `pipeline_output.json`
/// starts `repository, analysis_date`; a sidecar starts `scheme_version`, a summary `step,
/// phase`). `None` when the prefix does not tell.
fn torn_target(path: &Path, captures: &Captures) -> Option<String> {
    let has = |key: &str| captures.top_level_keys.iter().any(|k| k == key);
    let parent = path.parent().map(layout::file_name).unwrap_or_default();
    let name = if CheckpointStep::from_dir_name(&parent).is_some() {
        if has("scheme_version") {
            crate::layout::reserved_names::FINGERPRINT_FILE
        } else if has("step") && has("phase") {
            crate::layout::reserved_names::SUMMARY_FILE
        } else {
            return None;
        }
    } else if has("verify") {
        "results_verified.json"
    } else if has("provider") || has("analyze_fingerprint") {
        "results.json"
    } else if has("repository") && has("analysis_date") {
        "pipeline_output.json"
    } else {
        return None;
    };
    Some(name.to_string())
}

fn default_name(kind: FileKind) -> Option<String> {
    Some(
        match kind {
            FileKind::ResultsVerified => "results_verified.json",
            FileKind::Results => "results.json",
            FileKind::PipelineOutput => "pipeline_output.json",
            FileKind::DatasetEnhanced => "dataset_enhanced.json",
            FileKind::Dataset => "dataset.json",
            _ => return None,
        }
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(json: &str) -> Captures {
        crate::validate::validate_bytes(json.as_bytes(), &any_recording_keys()).captures
    }

    #[test]
    fn write_json_temps_are_told_by_content_and_directory() {
        let w = Some(TempWriter::WriteJson);
        let cp = Path::new("s/analyze_checkpoints/.tmp-abcdefgh.tmp");
        let sidecar = temp_kinds(w, cp, &keys(r#"{"scheme_version": 2, "phase": "analyze", "key_digest": "x"}"#));
        assert_eq!(sidecar[0].kind, FileKind::CheckpointFingerprint);
        assert_eq!(sidecar[0].name.as_deref(), Some("_fingerprint.json"));
        let summary = temp_kinds(w, cp, &keys(r#"{"step": "Analyze", "phase": "done", "total_units": 1}"#));
        assert_eq!(summary[0].name.as_deref(), Some("_summary.json"));
        // A unit checkpoint is named by its id once its shape has captured it.
        let v = crate::validate::validate_bytes(
            br#"{"result": {"verdict": "SAFE"}, "id": "src/a.py:f"}"#,
            shape_for(FileKind::Checkpoint, Some(CheckpointStep::Analyze)),
        );
        let unit = temp_kinds(w, cp, &v.captures);
        assert_eq!((unit[0].kind, unit[0].name.as_deref()), (FileKind::Checkpoint, Some("src__a.py_f.json")));
        assert_eq!(unit[0].step, Some(CheckpointStep::Analyze));
        let top = Path::new("s/.tmp-abcdefgh.tmp");
        let results =
            temp_kinds(w, top, &keys(r#"{"metrics": {}, "results": [], "code_by_route": {}, "provider": "p"}"#));
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].name.as_deref(), Some("results.json"));
        let dataset = temp_kinds(w, top, &keys(r#"{"units": [], "metadata": {}}"#));
        let names: Vec<_> = dataset.iter().map(|c| c.name.as_deref().unwrap()).collect();
        assert_eq!(names, ["dataset.json", "dataset_enhanced.json"]);
        // The fork's temp keeps its older reading: only dataset_enhanced.json.
        assert_eq!(temp_kinds(Some(TempWriter::OpenAntFork), top, &keys(r#"{"units": [], "metadata": {}}"#)).len(), 1);
    }

    #[test]
    fn a_torn_write_json_temp_is_explained_from_its_prefix() {
        let temp = TempName { writer: TempWriter::WriteJson, target: None };
        let assess = |path: &str, json: &str| {
            let v = crate::validate::validate_bytes(json.as_bytes(), &any_recording_keys());
            assert!(!v.is_valid());
            assess_temp(&temp, Path::new(path), Some(&v), &|_| TargetState::Missing)
        };
        let a = assess("s/.tmp-abcdefgh.tmp", r#"{"dataset": "d", "model": "m", "provider": "p", "metr"#);
        assert_eq!(a.target.as_deref(), Some("results.json"));
        assert!(!a.salvageable());
        assert_eq!(a.writing(), ", probably while writing results.json");
        let a = assess("s/verify_checkpoints/.tmp-abcdefgh.tmp", r#"{"scheme_version": 2, "pha"#);
        assert_eq!(a.target.as_deref(), Some("_fingerprint.json"));
        let a = assess("s/verify_checkpoints/.tmp-abcdefgh.tmp", r#"{"verification": {"agr"#);
        assert_eq!(a.target, None);
        assert_eq!(assess("s/.tmp-abcdefgh.tmp", "").target, None);
    }

    #[test]
    fn a_temp_in_a_checkpoint_dir_is_never_salvageable() {
        let temp = TempName { writer: TempWriter::WriteJson, target: None };
        let json = br#"{"result": {"verdict": "SAFE"}, "id": "a"}"#;
        let v = crate::validate::validate_bytes(json, shape_for(FileKind::Checkpoint, Some(CheckpointStep::Analyze)));
        let path = Path::new("s/analyze_checkpoints/.tmp-abcdefgh.tmp");
        let a = assess_temp(&temp, path, Some(&v), &|_| TargetState::Missing);
        assert_eq!(a.target.as_deref(), Some("a.json"));
        assert!(a.complete && a.in_checkpoint_dir && !a.salvageable());
        assert!(a.not_promoted_note().unwrap().contains("never promoted"));
        let v = crate::validate::validate_bytes(br#"{"units": [], "metadata": {}}"#, &any_recording_keys());
        let a = assess_temp(&temp, Path::new("s/.tmp-abcdefgh.tmp"), Some(&v), &|_| TargetState::Missing);
        assert_eq!(a.target, None);
        assert!(!a.salvageable());
        assert!(a.writing().contains("dataset.json, dataset_enhanced.json"));
    }
}
