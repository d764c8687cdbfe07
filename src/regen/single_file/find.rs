//! Finding the single-file checkpoints (spec §2.6) at the top of a scan dir and telling what
//! each is: its kind ([`LegacyKind`]), why one cannot be used ([`Unusable`]), what it recorded
//! about its run ([`RunRecord`]) and how its OpenAnt version wrote outputs differently
//! ([`format_notes`]). Shared by `migrate`, which splits them, and `repair`, which rebuilds
//! outputs from their units.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::field_note::FieldNote;
use super::kind::LegacyKind;
use crate::layout::{classify_file, CheckpointStep, FileKind, LEGACY_CHECKPOINT_NAMES};
use crate::pyjson::{self, PyValue};

/// Datasets the fork's analyze reads in a scan dir; its checkpoint's `dataset` field is data, so
/// only these names are ever opened.
pub const ANALYZE_DATASETS: &[&str] = &["dataset.json", "dataset_enhanced.json"];

/// A single-file checkpoint at the top of a scan dir.
#[derive(Debug, Clone)]
pub struct LegacyFile {
    pub path: PathBuf,
    pub name: String,
    /// The file as read (migrate hashes it before retiring it).
    pub bytes: Vec<u8>,
    pub document: PyValue,
    pub kind: LegacyKind,
    /// The file's mtime: when its last unit was done.
    pub modified: SystemTime,
}

/// Why a file under a single-file checkpoint's name cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnusableWhy {
    /// It does not parse (a kill tore it, or it was never complete): the parse error.
    Torn(String),
    /// It parses, but has none of the shapes of spec §2.6.
    UnknownShape,
}

/// A file named like a single-file checkpoint that cannot be converted: reported, never read
/// for units, never moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    pub path: PathBuf,
    pub name: String,
    /// The step its name belongs to.
    pub step: CheckpointStep,
    pub why: UnusableWhy,
}

impl Unusable {
    /// `analyze_checkpoint.json does not parse (…)`, or why its content is not one.
    pub fn describe(&self) -> String {
        match &self.why {
            UnusableWhy::Torn(error) => format!("{} does not parse ({error})", self.name),
            UnusableWhy::UnknownShape => format!(
                "{} is not a single-file checkpoint of a known shape (analyze: results[]; verify: verified[]; enhance: units[] with metadata.checkpoint true)",
                self.name
            ),
        }
    }
}

/// The single-file checkpoints of one scan dir.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// In name order.
    pub files: Vec<LegacyFile>,
    pub unusable: Vec<Unusable>,
    pub io_errors: Vec<(PathBuf, String)>,
}

impl Found {
    /// The files that hold `step`'s units, newest first (then by name): where two hold the
    /// same unit, the newer one's is the later work, as OpenAnt's later write of a per-unit
    /// file replaces the earlier.
    pub fn of_step(&self, step: CheckpointStep) -> Vec<&LegacyFile> {
        let mut files: Vec<&LegacyFile> = self.files.iter().filter(|f| f.kind.step() == step).collect();
        files.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| a.name.cmp(&b.name)));
        files
    }

    pub fn unusable_of_step(&self, step: CheckpointStep) -> impl Iterator<Item = &Unusable> {
        self.unusable.iter().filter(move |u| u.step == step)
    }
}

/// The step a single-file checkpoint name belongs to.
fn step_of_name(name: &str) -> CheckpointStep {
    match name {
        "analyze_checkpoint.json" => CheckpointStep::Analyze,
        "verify_checkpoint.json" => CheckpointStep::Verify,
        _ => CheckpointStep::Enhance,
    }
}

/// The single-file checkpoints at the top of `scan_dir`: the names the fork and old upstream
/// used (which convert, or are reported as [`Unusable`]), and any other `*.json` that is no
/// file OpenAnt names and holds a whole-dataset enhance checkpoint (`enhance --checkpoint
/// FILE` took any name). Symlinks and special files are never opened.
pub fn find(scan_dir: &Path) -> Found {
    let mut found = Found::default();
    let entries = match crate::no_follow::list_dir(scan_dir) {
        Ok(entries) => entries,
        Err(error) => {
            found.io_errors.push((scan_dir.to_path_buf(), error.to_string()));
            return found;
        }
    };
    for entry in entries {
        let Some(name) = entry.name.to_str().map(str::to_owned) else { continue };
        if !name.ends_with(".json") {
            continue;
        }
        let path = scan_dir.join(&name);
        let named = LEGACY_CHECKPOINT_NAMES.contains(&name.as_str());
        if !named {
            let sibling = |n: &str| std::fs::symlink_metadata(scan_dir.join(n)).is_ok();
            if classify_file(&path, Some(scan_dir), &sibling).kind != FileKind::GenericJson {
                continue;
            }
        }
        if entry.kind != crate::no_follow::EntryKind::File {
            continue;
        }
        let bytes = match crate::no_follow::read(&path).map_err(|e| e.to_string()) {
            Ok(bytes) => bytes,
            Err(error) => {
                found.io_errors.push((path, error));
                continue;
            }
        };
        let unusable = |why| Unusable { path: path.clone(), name: name.clone(), step: step_of_name(&name), why };
        let document = match pyjson::parse(&bytes) {
            Ok(document) => document,
            Err(error) if named => {
                found.unusable.push(unusable(UnusableWhy::Torn(error.to_string())));
                continue;
            }
            Err(_) => continue,
        };
        let Some(kind) = LegacyKind::of_document(&name, &document) else {
            if named {
                found.unusable.push(unusable(UnusableWhy::UnknownShape));
            }
            continue;
        };
        let modified = match std::fs::symlink_metadata(&path).and_then(|m| m.modified()) {
            Ok(modified) => modified,
            Err(error) => {
                found.io_errors.push((path, error.to_string()));
                continue;
            }
        };
        found.files.push(LegacyFile { path, name, bytes, document, kind, modified });
    }
    found
}

/// What a single file recorded about the run that wrote it beyond its units: values that run
/// also wrote into its output and that no per-unit file carries. A rebuild whose units all
/// come from the file takes them from here when the old output no longer holds them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunRecord {
    /// The file's name, for notes.
    pub source: String,
    /// Analyze: the model id, which the run wrote as results.json `model`.
    pub model: Option<PyValue>,
    /// Analyze: the run's `code_by_route` keys in insertion order; results.json kept that dict,
    /// so its key order is the run's completion order.
    pub code_by_route_order: Vec<String>,
    /// Whole dataset: `metadata.token_usage`, the run's tracker totals as of its last unit,
    /// which it wrote into `dataset_enhanced.json` when it finished.
    pub token_usage: Option<PyValue>,
}

impl RunRecord {
    pub fn of(file: &LegacyFile) -> RunRecord {
        let doc = &file.document;
        let mut record = RunRecord { source: file.name.clone(), ..RunRecord::default() };
        match file.kind {
            LegacyKind::ForkAnalyze => {
                record.model = doc.get("model").filter(|m| m.as_str().is_some()).cloned();
                if let Some(cbr) = doc.get("code_by_route").and_then(PyValue::as_object) {
                    record.code_by_route_order = cbr.keys().cloned().collect();
                }
            }
            LegacyKind::WholeDataset => {
                record.token_usage = doc
                    .get("metadata")
                    .and_then(|m| m.get("token_usage"))
                    .filter(|t| matches!(t, PyValue::Object(_)))
                    .cloned();
            }
            LegacyKind::ForkVerify => {}
        }
        record
    }
}

/// How the OpenAnt version that wrote `file` would have written the step's output differently
/// from the format a rebuild uses (the fork's master, or upstream's current one), as far as
/// the file shows which version that was. Versions are told apart by what the fork added to
/// its single files: `counts.insufficient_context` (24412dc), `token_usage` (73a01a0), and
/// `agentic_stats.exploitable_found` (upstream d710b90, merged into the fork by a565352).
pub fn format_notes(file: &LegacyFile) -> Vec<FieldNote> {
    let doc = &file.document;
    let name = &file.name;
    let note = |field: &str, note: String| FieldNote { field: field.to_owned(), note };
    let mut notes = Vec::new();
    match file.kind {
        LegacyKind::ForkAnalyze => {
            let counts = doc.get("counts").and_then(PyValue::as_object);
            if counts.is_some_and(|c| !c.contains_key("insufficient_context")) {
                notes.push(note(
                    "results",
                    format!(
                        "{name} is from the fork before 24412dc (2026-03-22), whose results.json kept the results in unit order and had no metrics.insufficient_context; written as the fork's later versions write it (sorted by unit_id, with insufficient_context)"
                    ),
                ));
            } else if doc.get("token_usage").is_none() {
                notes.push(note(
                    "results",
                    format!(
                        "sorted by unit_id as the fork did from 6b173c1 (2026-03-22) on; {name} predates 73a01a0 and may come from 24412dc or ac844a5, which kept unit order"
                    ),
                ));
            }
        }
        LegacyKind::ForkVerify => {
            let verified = doc.get("verified").and_then(PyValue::as_array).map_or(&[][..], Vec::as_slice);
            if verified.iter().any(|v| matches!(v.get("verification_note"), Some(PyValue::Null))) {
                notes.push(note(
                    "verification_note",
                    format!(
                        "\"\" where {name} holds null, as the fork's master and current OpenAnt restore it; the fork that wrote {name} (before a565352) restored null"
                    ),
                ));
            }
            if doc.get("token_usage").is_none() {
                notes.push(note(
                    "code_by_route",
                    format!(
                        "written, as the fork did from 574360a (2026-03-19) on; {name} predates 73a01a0 and may come from d3b1b84, which wrote results_verified.json without it"
                    ),
                ));
            }
        }
        LegacyKind::WholeDataset => {
            let stats = doc.get("metadata").and_then(|m| m.get("agentic_stats")).and_then(PyValue::as_object);
            if stats.is_some_and(|s| !s.contains_key("exploitable_found")) {
                notes.push(note(
                    "metadata.agentic_stats",
                    format!(
                        "in the current format; the enhance that wrote {name} (the fork before a565352, or upstream before d710b90) wrote it without exploitable_found and error_summary and counted exploitable and vulnerable_internal units as neutral"
                    ),
                ));
                // Its `_save_checkpoint` set the flag on the dataset it then wrote out.
                notes.push(note(
                    "metadata.checkpoint",
                    format!(
                        "not written; that enhance left metadata.checkpoint true (before agentic_enhanced) in dataset_enhanced.json whenever a resumed run of it processed a unit, as a retry of {name}'s errored or unreached units would"
                    ),
                ));
            }
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regen::test_support::{at, p as json};

    #[test]
    fn run_records_and_format_notes_tell_the_forks_versions_apart() {
        let file = |name: &str, text: &str| {
            let document = json(text);
            let kind = LegacyKind::of_document(name, &document).unwrap();
            LegacyFile {
                path: PathBuf::from(name),
                name: name.to_owned(),
                bytes: Vec::new(),
                document,
                kind,
                modified: at(0),
            }
        };
        let early = file(
            "analyze_checkpoint.json",
            r#"{"results": [], "code_by_route": {"z": "", "a": ""}, "counts": {"vulnerable": 0, "safe": 0}, "dataset": "dataset.json", "model": "claude-sonnet-4-20250514"}"#,
        );
        let record = RunRecord::of(&early);
        assert_eq!(record.model.as_ref().and_then(PyValue::as_str), Some("claude-sonnet-4-20250514"));
        assert_eq!(record.code_by_route_order, ["z", "a"]);
        assert_eq!(record.token_usage, None);
        let notes = format_notes(&early);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].note.contains("before 24412dc"), "{notes:?}");
        let middle = file("analyze_checkpoint.json", r#"{"results": [], "counts": {"insufficient_context": 0}}"#);
        assert!(format_notes(&middle)[0].note.contains("may come from 24412dc or ac844a5"));
        let late = file(
            "analyze_checkpoint.json",
            r#"{"results": [], "counts": {"insufficient_context": 0}, "token_usage": {"total_calls": 1}}"#,
        );
        assert!(format_notes(&late).is_empty());

        let verify = file(
            "verify_checkpoint.json",
            r#"{"completed_keys": ["k"], "verified": [{"route_key": "k", "verification": {"agree": true}, "verification_note": null}], "token_usage": {}}"#,
        );
        let fields: Vec<String> = format_notes(&verify).into_iter().map(|n| n.field).collect();
        assert_eq!(fields, ["verification_note"]);

        let old = file(
            "enhance_checkpoint.json",
            r#"{"units": [], "metadata": {"checkpoint": true, "agentic_stats": {"units_processed": 0}, "token_usage": {"total_calls": 3}}}"#,
        );
        let fields: Vec<String> = format_notes(&old).into_iter().map(|n| n.field).collect();
        assert_eq!(fields, ["metadata.agentic_stats", "metadata.checkpoint"]);
        assert_eq!(RunRecord::of(&old).token_usage, Some(json(r#"{"total_calls": 3}"#)));
        let current = file(
            "enhance_checkpoint.json",
            r#"{"units": [], "metadata": {"checkpoint": true, "agentic_stats": {"exploitable_found": 0}}}"#,
        );
        assert!(format_notes(&current).is_empty());
    }

    #[test]
    fn find_reads_the_single_files_at_the_top_of_a_scan_dir() {
        let dir = tempfile::tempdir().unwrap();
        let put = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        put("analyze_checkpoint.json", r#"{"results": [{"unit_id": "#);
        put("verify_checkpoint.json", r#"{"something": "else"}"#);
        put("dataset_enhanced_checkpoint.json", r#"{"units": []}"#);
        put("my-run.json", r#"{"units": [], "metadata": {"checkpoint": true}}"#);
        put("notes.json", r#"{"units": []}"#);
        put("dataset_enhanced.json", r#"{"units": [], "metadata": {"checkpoint": true}}"#);
        std::os::unix::fs::symlink("my-run.json", dir.path().join("enhance_checkpoint.json")).unwrap();
        let found = find(dir.path());
        let names: Vec<&str> = found.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["dataset_enhanced_checkpoint.json", "my-run.json"]);
        let unusable: Vec<(&str, CheckpointStep, bool)> =
            found.unusable.iter().map(|u| (u.name.as_str(), u.step, matches!(u.why, UnusableWhy::Torn(_)))).collect();
        assert_eq!(
            unusable,
            [
                ("analyze_checkpoint.json", CheckpointStep::Analyze, true),
                ("verify_checkpoint.json", CheckpointStep::Verify, false)
            ]
        );
        assert!(found.unusable[0].describe().starts_with("analyze_checkpoint.json does not parse ("));
        assert_eq!(found.unusable_of_step(CheckpointStep::Verify).count(), 1);
        assert!(found.io_errors.is_empty(), "{:?}", found.io_errors);
        // Newest first: the later work wins where two files hold one unit.
        let older = filetime::FileTime::from_unix_time(1_700_000_000, 0);
        filetime::set_symlink_file_times(dir.path().join("dataset_enhanced_checkpoint.json"), older, older).unwrap();
        let found = find(dir.path());
        let order: Vec<&str> = found.of_step(CheckpointStep::Enhance).iter().map(|f| f.name.as_str()).collect();
        assert_eq!(order, ["my-run.json", "dataset_enhanced_checkpoint.json"]);
        assert!(found.of_step(CheckpointStep::Analyze).is_empty());
    }
}
