//! What a scan dir holds, as repair needs to know it: the state of each output it can
//! rebuild, the temp files that could restore one, torn checkpoints, and when anything in the
//! dir last changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::layout::{self, shape_for, CheckpointStep, FileKind};
use crate::shape::Captured;
use crate::validate::{self, Problem};

/// The outputs repair rebuilds, in the order it rebuilds them (each feeds the next).
pub const REBUILD_ORDER: [FileKind; 5] = [
    FileKind::DatasetEnhanced,
    FileKind::Results,
    FileKind::ResultsVerified,
    FileKind::PipelineOutput,
    FileKind::DynamicTestResults,
];

pub fn output_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::DatasetEnhanced => "dataset_enhanced.json",
        FileKind::Results => "results.json",
        FileKind::ResultsVerified => "results_verified.json",
        FileKind::PipelineOutput => "pipeline_output.json",
        FileKind::DynamicTestResults => "dynamic_test_results.json",
        _ => "",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputState {
    Missing,
    Damaged(Problem),
    Healthy,
    /// Not a regular file (a symlink, a FIFO): never touched.
    NotRegular,
    Unreadable(String),
}

/// A temp file that holds a complete, valid document of its target's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalvageableTemp {
    pub path: PathBuf,
    pub modified: Option<SystemTime>,
}

/// A checkpoint file OpenAnt cannot use: torn, without id, or a misnamed duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCheckpoint {
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct ScanDirState {
    pub dir: PathBuf,
    pub outputs: BTreeMap<FileKind, OutputState>,
    /// Per target output, the salvageable temps, newest first.
    pub temps: BTreeMap<FileKind, Vec<SalvageableTemp>>,
    pub bad_checkpoints: Vec<BadCheckpoint>,
    /// The newest mtime of any file in the scan dir (scanaudit's own state excluded).
    pub last_change: Option<SystemTime>,
    /// `meta.json` (in the run dir or the scan dir) says a scan is running.
    pub scan_running: bool,
    pub io_errors: Vec<(PathBuf, String)>,
}

impl ScanDirState {
    pub fn gather(dir: &Path) -> ScanDirState {
        let mut state = ScanDirState {
            dir: dir.to_path_buf(),
            outputs: BTreeMap::new(),
            temps: BTreeMap::new(),
            bad_checkpoints: Vec::new(),
            last_change: None,
            scan_running: false,
            io_errors: Vec::new(),
        };
        (state.scan_running, state.last_change) = activity(dir);
        for kind in REBUILD_ORDER {
            let state_of = output_state(&dir.join(output_name(kind)), kind);
            state.outputs.insert(kind, state_of);
        }
        state.scan_entries();
        state
    }

    fn scan_entries(&mut self) {
        let walker = walkdir::WalkDir::new(&self.dir).follow_links(false).same_file_system(true).sort_by_file_name();
        let mut it = walker.into_iter();
        while let Some(entry) = it.next() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    let path = error.path().unwrap_or(&self.dir).to_path_buf();
                    self.io_errors.push((path, error.to_string()));
                    continue;
                }
            };
            let name = layout::file_name(entry.path());
            if entry.file_type().is_dir() && entry.depth() > 0 && name == crate::backup::STATE_DIR {
                it.skip_current_dir();
                continue;
            }
            if !entry.file_type().is_file() || entry.depth() == 0 {
                continue;
            }
            let path = entry.path();
            let parent = path.parent().unwrap_or(&self.dir);
            let class = layout::classify_file(path, Some(&self.dir), &|n| parent.join(n).exists());
            // Single-file checkpoints (`FileKind::LegacyCheckpoint`) are never quarantined: a
            // torn one may be the only record of paid-for units, and `migrate` or a person may
            // still salvage it. A rebuild that needs it reports it instead (rebuild.rs).
            match class.kind {
                FileKind::Temp if entry.depth() == 1 => self.consider_temp(path, class.temp.and_then(|t| t.target)),
                FileKind::Checkpoint => self.consider_checkpoint(path, class.checkpoint_step),
                _ => {}
            }
        }
    }

    fn consider_temp(&mut self, path: &Path, target: Option<String>) {
        let kinds: Vec<FileKind> = match target.as_deref() {
            Some(name) => REBUILD_ORDER.iter().copied().filter(|k| output_name(*k) == name).collect(),
            // The name does not say (the fork's tmpXXXXXXXX.tmp): try each kind's shape.
            None => REBUILD_ORDER.to_vec(),
        };
        for kind in kinds {
            match validate::validate_file(path, shape_for(kind, None)) {
                Ok(v) if v.is_valid() && holds_kind(kind, &v.captures.top_level_keys) => {
                    let modified = std::fs::symlink_metadata(path).and_then(|m| m.modified()).ok();
                    let temps = self.temps.entry(kind).or_default();
                    temps.push(SalvageableTemp { path: path.to_path_buf(), modified });
                    temps.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| a.path.cmp(&b.path)));
                    return;
                }
                Ok(_) => {}
                Err(error) => {
                    self.io_errors.push((path.to_path_buf(), error.to_string()));
                    return;
                }
            }
        }
    }

    fn consider_checkpoint(&mut self, path: &Path, step: Option<CheckpointStep>) {
        let validation = match validate::validate_file(path, shape_for(FileKind::Checkpoint, step)) {
            Ok(v) => v,
            Err(error) => {
                self.io_errors.push((path.to_path_buf(), error.to_string()));
                return;
            }
        };
        let reason = match (&validation.problem, validation.captures.get("id")) {
            (Some(problem), _) => Some(format!("{} checkpoint", problem.kind)),
            (None, None) => Some("checkpoint without \"id\"".to_string()),
            (None, Some(Captured::Str(id))) => {
                let expected = layout::safe_filename::checkpoint_file_name(id);
                // A misnamed copy of a unit whose real checkpoint exists: OpenAnt may load
                // either, so it goes. A misnamed only copy is the unit's work: it stays.
                (expected != layout::file_name(path) && path.with_file_name(&expected).exists())
                    .then(|| format!("duplicate of {expected}"))
            }
            (None, Some(_)) => Some("checkpoint whose \"id\" is not a string".to_string()),
        };
        if let Some(reason) = reason {
            self.bad_checkpoints.push(BadCheckpoint { path: path.to_path_buf(), reason });
        }
    }
}

/// Whether a document that passed `kind`'s shape is really that kind and not a sibling kind
/// with overlapping keys (results vs results_verified).
fn holds_kind(kind: FileKind, keys: &[String]) -> bool {
    let has = |k: &str| keys.iter().any(|key| key == k);
    match kind {
        FileKind::Results => !has("verify") && !has("confirmed_findings"),
        FileKind::ResultsVerified => has("verify") || has("confirmed_findings"),
        _ => true,
    }
}

fn output_state(path: &Path, kind: FileKind) -> OutputState {
    match std::fs::symlink_metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => OutputState::Missing,
        Err(error) => OutputState::Unreadable(error.to_string()),
        Ok(meta) if !meta.is_file() => OutputState::NotRegular,
        Ok(_) => match validate::validate_file(path, shape_for(kind, None)) {
            Ok(v) => match v.problem {
                Some(problem) => OutputState::Damaged(problem),
                None => OutputState::Healthy,
            },
            Err(error) => OutputState::Unreadable(error.to_string()),
        },
    }
}

/// Whether `meta.json` says a scan is running, and the newest mtime of any file in the scan
/// dir (scanaudit's own state excluded; files only, because a directory's mtime also moves
/// when scanaudit creates its own state).
pub fn activity(dir: &Path) -> (bool, Option<SystemTime>) {
    let mut last_change = None;
    let walker = walkdir::WalkDir::new(dir).follow_links(false).same_file_system(true);
    let mut it = walker.into_iter();
    while let Some(entry) = it.next() {
        // Unreadable entries are reported by the walk that plans the work.
        let Ok(entry) = entry else { continue };
        if entry.file_type().is_dir() && entry.depth() > 0 && entry.file_name() == crate::backup::STATE_DIR {
            it.skip_current_dir();
            continue;
        }
        if entry.file_type().is_file() {
            if let Some(modified) = entry.metadata().ok().and_then(|m| m.modified().ok()) {
                last_change = last_change.max(Some(modified));
            }
        }
    }
    (scan_running(dir), last_change)
}

/// `meta.json` lives in the run dir (`scans/<sha>/`), or in the scan dir itself before the
/// language level existed.
fn scan_running(dir: &Path) -> bool {
    [dir.parent().map(|p| p.join("meta.json")), Some(dir.join("meta.json"))].into_iter().flatten().any(|meta| {
        std::fs::read(&meta)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .is_some_and(|v| v["status"] == "running")
    })
}
