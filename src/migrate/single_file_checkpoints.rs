//! Migration `single-file-checkpoints` (spec §2.6): the fork's `analyze_checkpoint.json` and
//! `verify_checkpoint.json` and whole-dataset enhance checkpoints hold paid-for LLM work that
//! current OpenAnt never resumes. Each becomes the `{step}_checkpoints/` files current OpenAnt
//! would have written for the same units ([`crate::regen::single_file`]), plus `_summary.json`,
//! and the single file is retired into the backup, so nothing is deleted.
//!
//! Per-unit files already in the target dir win: OpenAnt writes them only after the single
//! file stopped changing (a later run of a current version), and an earlier, killed migrate
//! wrote the same bytes. A torn or unrecognisable single file is reported, never half
//! converted.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::action::{ContentCheck, MigrationAction, Planned, Step, Unfixable};
use crate::backup::sha256_hex;
use crate::layout::FileKind;
use crate::no_follow;
use crate::pyjson::{self, PyValue};
use crate::regen::json_input::JsonInput;
use crate::regen::single_file::{
    self, convert, summary_document, Converted, LeftOutWhy, LegacyInputs, LegacyKind, UnusableWhy, ANALYZE_DATASETS,
    SUMMARY_FILE,
};
use crate::text::{brief_list, plural};

pub const ID: &str = "single-file-checkpoints";

/// The fork's misnamed enhance dir: `fork-enhance-dir` (applied before this migration) merges
/// it into `enhance_checkpoints/`, so its files count as already there.
const FORK_ENHANCE_DIR: &str = "dataset_enhanced_checkpoint_checkpoints";

/// How many file names a note lists before saying how many more.
const SHOWN: usize = 3;

struct Legacy {
    path: PathBuf,
    name: String,
    sha256: String,
    document: PyValue,
    kind: LegacyKind,
    modified: SystemTime,
}

pub fn plan(scan_dir: &Path) -> Planned {
    let mut planned = Planned::default();
    let mut found = find_legacy_files(scan_dir, &mut planned);
    // Several whole-dataset files all feed enhance_checkpoints/: the newest one's units win,
    // then older files fill in what it lacks.
    found.sort_by(|a, b| (a.kind.dir_name(), b.modified, &a.name).cmp(&(b.kind.dir_name(), a.modified, &b.name)));
    let mut claimed: HashMap<&'static str, HashMap<String, String>> = HashMap::new();
    for legacy in &found {
        let claimed = claimed.entry(legacy.kind.dir_name()).or_default();
        match plan_one(scan_dir, legacy, claimed) {
            Ok(Some(action)) => planned.actions.push(action),
            Ok(None) => {}
            Err(PlanError::Io(path, message)) => planned.io_errors.push((path, message)),
            Err(PlanError::Unfixable(reason)) => {
                planned.unfixable.push(Unfixable { migration: ID, path: legacy.path.clone(), reason })
            }
        }
    }
    planned
}

enum PlanError {
    Io(PathBuf, String),
    Unfixable(String),
}

fn io_error(path: &Path, error: impl std::fmt::Display) -> PlanError {
    PlanError::Io(path.to_path_buf(), error.to_string())
}

/// The single-file checkpoints at the top of the scan dir ([`single_file::find`]); the ones
/// under a single-file name that cannot be converted are reported.
fn find_legacy_files(scan_dir: &Path, planned: &mut Planned) -> Vec<Legacy> {
    let found = single_file::find(scan_dir);
    planned.io_errors.extend(found.io_errors);
    for unusable in found.unusable {
        let reason = match &unusable.why {
            UnusableWhy::Torn(_) => format!(
                "{}: a torn single file is not converted, so no unit is taken from bad input; OpenAnt re-runs the step",
                unusable.describe()
            ),
            UnusableWhy::UnknownShape => unusable.describe(),
        };
        planned.unfixable.push(Unfixable { migration: ID, path: unusable.path, reason });
    }
    found
        .files
        .into_iter()
        .map(|f| Legacy {
            sha256: sha256_hex(&f.bytes),
            path: f.path,
            name: f.name,
            document: f.document,
            kind: f.kind,
            modified: f.modified,
        })
        .collect()
}

/// Regular files directly in `dir` by name; `Ok(None)` when there is no such dir.
fn dir_files(dir: &Path) -> Result<Option<BTreeMap<String, PathBuf>>, PlanError> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(PlanError::Unfixable(format!(
                "{} exists and is not a directory, so the per-unit files have nowhere to go",
                dir.display()
            )))
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error(dir, error)),
    }
    let mut files = BTreeMap::new();
    for entry in no_follow::list_dir(dir).map_err(|e| io_error(dir, e))? {
        if let Some(name) = entry.name.to_str() {
            files.insert(name.to_owned(), entry.path);
        }
    }
    Ok(Some(files))
}

fn plan_one(
    scan_dir: &Path,
    legacy: &Legacy,
    claimed: &mut HashMap<String, String>,
) -> Result<Option<MigrationAction>, PlanError> {
    let dir_name = legacy.kind.dir_name();
    let dir = scan_dir.join(dir_name);
    let mut existing = dir_files(&dir)?.unwrap_or_default();
    if legacy.kind == LegacyKind::WholeDataset {
        if let Ok(Some(fork)) = dir_files(&scan_dir.join(FORK_ENHANCE_DIR)) {
            for (name, path) in fork {
                existing.entry(name).or_insert(path);
            }
        }
    }
    let results = match legacy.kind {
        LegacyKind::ForkVerify => JsonInput::load(&scan_dir.join("results.json")),
        _ => JsonInput::Absent,
    };
    let dataset = match legacy.document.get("dataset").and_then(PyValue::as_str) {
        Some(name) if legacy.kind == LegacyKind::ForkAnalyze && ANALYZE_DATASETS.contains(&name) => {
            JsonInput::load(&scan_dir.join(name))
        }
        _ => JsonInput::Absent,
    };
    let converted = convert(&LegacyInputs {
        kind: legacy.kind,
        document: &legacy.document,
        modified: legacy.modified,
        results: results.value(),
        dataset: dataset.value(),
    });

    let mut steps = vec![Step::CreateDir { path: dir.clone() }];
    let mut kept = Vec::new();
    let mut already = Vec::new();
    let mut from_newer: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut created = Vec::new();
    for unit in &converted.units {
        if let Some(source) = claimed.get(&unit.file_name) {
            from_newer.entry(source.clone()).or_default().push(&unit.file_name);
            continue;
        }
        if let Some(path) = existing.get(&unit.file_name) {
            match no_follow::read(path).map_err(|e| e.to_string()) {
                Ok(bytes) if bytes == unit.bytes.as_bytes() => already.push(unit.file_name.as_str()),
                _ => kept.push(unit.file_name.as_str()),
            }
            continue;
        }
        steps.push(Step::Create {
            path: dir.join(&unit.file_name),
            contents: unit.bytes.clone().into_bytes(),
            check: ContentCheck::Json(FileKind::Checkpoint),
        });
        created.push(unit);
    }
    // A newer single file of the same step writes the summary (and then `from_newer` is empty).
    let mut summary_kept = claimed.contains_key(SUMMARY_FILE);
    if !summary_kept {
        let bytes = if kept.is_empty() && already.is_empty() {
            converted.summary_bytes()
        } else {
            merged_summary(&converted, &existing, &created)
        };
        match existing.get(SUMMARY_FILE).map(|path| no_follow::read(path).map_err(|e| e.to_string())) {
            Some(Ok(old)) if old == bytes.as_bytes() => already.push(SUMMARY_FILE),
            Some(_) => summary_kept = true,
            None => steps.push(Step::Create {
                path: dir.join(SUMMARY_FILE),
                contents: bytes.into_bytes(),
                check: ContentCheck::Json(FileKind::CheckpointSummary),
            }),
        }
    }
    for unit in &converted.units {
        claimed.entry(unit.file_name.clone()).or_insert_with(|| legacy.name.clone());
    }
    claimed.entry(SUMMARY_FILE.to_owned()).or_insert_with(|| legacy.name.clone());
    steps.push(Step::Retire { path: legacy.path.clone(), expected_sha256: legacy.sha256.clone() });

    let notes = notes(&converted, dir_name, &kept, &already, &from_newer, summary_kept);
    let reason = format!(
        "split {} into {dir_name}/ ({} of {} unit checkpoints to write) so current OpenAnt resumes from it; the single file moves to the backup",
        legacy.name,
        created.len(),
        converted.units.len()
    );
    Ok(Some(MigrationAction { migration: ID, target: legacy.path.clone(), reason, notes, steps }))
}

/// `_summary.json` over what the dir will hold once the action has run: the files already
/// there and the new ones.
fn merged_summary(
    converted: &Converted,
    existing: &BTreeMap<String, PathBuf>,
    created: &[&single_file::UnitCheckpoint],
) -> String {
    let mut docs: Vec<PyValue> = existing
        .iter()
        .filter(|(name, _)| name.ends_with(".json") && name.as_str() != SUMMARY_FILE)
        .filter_map(|(_, path)| pyjson::parse(&no_follow::read(path).map_err(|e| e.to_string()).ok()?).ok())
        .collect();
    docs.extend(created.iter().map(|u| u.value.clone()));
    let (summary, _) = summary_document(converted.kind, converted.total_units, &converted.timestamp, &docs);
    pyjson::to_python_string(&summary, true).unwrap_or_default()
}

fn names(items: &[&str]) -> String {
    let mut text = items.iter().take(SHOWN).copied().collect::<Vec<_>>().join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}

fn notes(
    converted: &Converted,
    dir_name: &str,
    kept: &[&str],
    already: &[&str],
    from_newer: &BTreeMap<String, Vec<&str>>,
    summary_kept: bool,
) -> Vec<String> {
    let mut notes = Vec::new();
    if !kept.is_empty() {
        notes.push(format!(
            "kept {} already in {dir_name}/ (written by OpenAnt after this single file, so newer): {}",
            plural(kept.len(), "file", "files"),
            names(kept)
        ));
    }
    if !already.is_empty() {
        notes.push(format!(
            "{} already written by an earlier migrate run: {}",
            plural(already.len(), "file was", "files were"),
            names(already)
        ));
    }
    for (source, files) in from_newer {
        notes.push(format!(
            "{} taken from the newer {source} instead: {}",
            plural(files.len(), "unit", "units"),
            names(files)
        ));
    }
    if summary_kept {
        notes.push(format!("kept the existing {dir_name}/_summary.json"));
    }
    let ids = |why: LeftOutWhy| -> Vec<&str> {
        converted.left_out(why).map(|l| l.id.as_deref().unwrap_or("(no id)")).collect()
    };
    let errored = ids(LeftOutWhy::Errored);
    if !errored.is_empty() {
        notes.push(format!(
            "left out {} as OpenAnt's own legacy migration does, so OpenAnt re-runs them: {}",
            plural(errored.len(), "errored unit", "errored units"),
            brief_list(errored.iter().copied())
        ));
    }
    let not_reached = ids(LeftOutWhy::NotReached);
    if !not_reached.is_empty() {
        notes.push(format!(
            "{} the interrupted run had not reached yet: OpenAnt runs them",
            plural(not_reached.len(), "unit", "units")
        ));
    }
    for why in [LeftOutWhy::Unusable, LeftOutWhy::Overwritten] {
        let what: Vec<String> = converted
            .left_out(why)
            .map(|l| match &l.id {
                Some(id) => format!("{id:?}: {}", l.detail),
                None => l.detail.clone(),
            })
            .collect();
        if what.is_empty() {
            continue;
        }
        let label = match why {
            LeftOutWhy::Unusable => "left out (cannot be a checkpoint file)",
            _ => "superseded by a later entry with the same file name",
        };
        let mut text = what.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; ");
        if what.len() > SHOWN {
            text.push_str(&format!("; and {} more", what.len() - SHOWN));
        }
        notes.push(format!("{} {label}: {text}", plural(what.len(), "entry", "entries")));
    }
    for field in &converted.filled_in {
        notes.push(format!("{}: {}", field.field, field.note));
    }
    notes
}
