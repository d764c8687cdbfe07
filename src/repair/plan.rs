//! What repair will do to each scan dir, decided before anything is touched, so the user
//! sees the whole plan (and `--dry-run` stops there).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::rebuild::{self, Rebuilder};
use super::state::{output_name, FileStamp, OutputState, ScanDirState, SeenCheckpoints, REBUILD_ORDER};
use super::unfixable::Unfixable;
use crate::finding::FindingKind;
use crate::layout::FileKind;
use crate::spill::{Contents, MemoryBudget};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// Restore a target from a temp file that holds its complete document.
    PromoteTemp,
    /// Rebuild an output from checkpoints and the scan's other files.
    Regenerate,
    /// Move a torn or unusable checkpoint into the backup dir, so OpenAnt redoes that unit.
    Quarantine,
}

#[derive(Debug, Clone, Serialize)]
pub struct Action {
    pub action: ActionKind,
    #[serde(flatten, serialize_with = "crate::json_path::target")]
    pub target: PathBuf,
    /// The temp file promoted, for `promote-temp`.
    #[serde(flatten, serialize_with = "crate::json_path::opt_source")]
    pub source: Option<PathBuf>,
    pub reason: String,
    /// What could not be reproduced exactly, and what was done instead.
    pub notes: Vec<String>,
    /// What it writes; the rebuilds after it read the same bytes. In an unnamed file beside
    /// the target when the plan is to be applied ([`Holding`]).
    #[serde(skip)]
    pub contents: Option<Contents>,
    #[serde(skip)]
    pub kind: Option<FileKind>,
    /// The files this action was planned from (its target, the temp it promotes), as they
    /// were before the plan read them: it runs only if they still are.
    #[serde(skip)]
    pub planned_from: Vec<(PathBuf, FileStamp)>,
}

impl Action {
    /// The first file this action was planned from that has changed since.
    pub fn changed_since_planned(&self) -> Option<&Path> {
        self.planned_from.iter().find(|(path, stamp)| !stamp.still_holds(path)).map(|(path, _)| path.as_path())
    }
}

pub use crate::dir_plan::DirStatus;

/// What repair will do to one scan dir.
pub type DirPlan = crate::dir_plan::DirPlan<Action, Unfixable>;

/// `a, b, c and 4 more`.
fn list_inputs(inputs: &[String]) -> String {
    const SHOWN: usize = 3;
    if inputs.len() <= SHOWN + 1 {
        inputs.join(", ")
    } else {
        format!("{} and {} more", inputs[..SHOWN].join(", "), inputs.len() - SHOWN)
    }
}

/// Outputs that parse but that check's cross-file rules find stale or inconsistent with the
/// checkpoints (`output-stale`, `metrics-mismatch`, `finding-id-gap`), for which check's fix
/// is this verb: rebuilding from the checkpoints is what makes them right.
fn inconsistent_outputs(dir: &Path, min_idle: Duration, now: SystemTime) -> Vec<(FileKind, String)> {
    crate::check::stale_outputs(dir, min_idle, now)
        .into_iter()
        .filter_map(|f| {
            let kind = f.file_kind.filter(|k| REBUILD_ORDER.contains(k))?;
            (f.path.parent() == Some(dir)).then(|| (kind, format!("{}: {}", f.kind, f.message)))
        })
        .collect()
}

/// An output whose only problem is cp1252 text that `migrate` converts into a healthy document.
fn cp1252_convertible(path: &Path, kind: FileKind, problem: FindingKind) -> bool {
    if problem != FindingKind::InvalidUtf8 {
        return false;
    }
    let Some(raw) = crate::cp1252::RawText::of(kind, path) else { return false };
    // Judged on the whole text: one too large to read is rebuilt, or refused with the reason.
    if rebuild::over_read_limit(path).is_some() {
        return false;
    }
    crate::no_follow::read(path).is_ok_and(|bytes| {
        matches!(
            crate::cp1252::judge(&bytes, raw, crate::layout::shape_for(kind, None)),
            crate::cp1252::Verdict::Convert(_)
        )
    })
}

/// Where a plan holds the bytes it will write until its apply writes them.
#[derive(Debug, Clone)]
pub enum Holding {
    /// In memory: a dry run, which writes nothing.
    Memory,
    /// In memory while the budget (shared by every scan dir of the plan) lasts; past it, each
    /// moved into an unnamed file in the scan dir as soon as it is planned ([`crate::spill`]),
    /// or, for an output rebuilt from a document, written into one as it is serialized
    /// ([`crate::spill::TextWriter`]), so a plan's outputs are not all in memory at once; in
    /// memory where the filesystem refuses one.
    Spilled(MemoryBudget),
}

/// Plans one scan dir.
pub fn plan_dir(dir: &Path, min_idle: Duration, now: SystemTime, holding: Holding) -> DirPlan {
    // Before anything is read: what each output was when the plan was made from it.
    let stamps: Vec<FileStamp> =
        REBUILD_ORDER.iter().map(|kind| FileStamp::of(&dir.join(output_name(*kind)))).collect();
    // The unit checkpoints are judged after the rebuilds, from what their loads read: most
    // of them are read once, not once to rebuild and once more to judge (issue 17).
    let (mut state, unjudged) = ScanDirState::gather_before_checkpoints(dir);
    let seen = std::sync::Arc::new(SeenCheckpoints::default());
    // Check's cross-file rules read the whole scan dir: asked only when some output parses,
    // since a damaged or missing output is rebuilt whatever they say.
    let inconsistent = std::cell::OnceCell::new();
    let mut actions = Vec::new();
    let mut unfixable = Vec::new();
    // Paths the rebuilds could not read (after the gather's, once those are known).
    let mut rebuild_io_errors = Vec::new();
    let mut rebuilder = Rebuilder::new(dir);
    if let Holding::Spilled(budget) = holding {
        rebuilder.spill_provided(budget);
    }
    for input in &state.refused {
        unfixable.push(Unfixable { path: input.path.clone(), reason: input.describe(), fix: None });
    }
    // The rebuilds' loads show what they read of each unit checkpoint.
    let observing = crate::regen::checkpoints::observe_loads(seen.observer());
    for (kind, stamp) in REBUILD_ORDER.into_iter().zip(stamps) {
        rebuilder.keep_handed_for(kind);
        let target = dir.join(output_name(kind));
        let output = &state.outputs[&kind];
        let why = match output {
            OutputState::Healthy => match inconsistent
                .get_or_init(|| inconsistent_outputs(dir, min_idle, now))
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, why)| why.clone())
            {
                Some(why) => why,
                None => continue,
            },
            OutputState::Missing if !rebuild::step_ran(dir, kind) => continue,
            OutputState::Missing => "missing".to_string(),
            OutputState::Damaged(problem) if cp1252_convertible(&target, kind, problem.kind) => {
                // Rebuilding would replace the scan's own text with what the checkpoints hold
                // (losing, e.g., dynamic-test evidence); re-encoding it loses nothing.
                unfixable.push(Unfixable {
                    path: target,
                    reason: "holds cp1252 text from a Windows scan (before 3cdca87): not damaged, only in the old \
                             encoding; migrate re-encodes it without loss"
                        .into(),
                    fix: Some(crate::text::migrate_command(dir)),
                });
                continue;
            }
            OutputState::Damaged(problem) => format!("{}: {}", problem.kind, problem.message),
            OutputState::NotRegular(reason) => {
                unfixable.push(Unfixable { path: target, reason: reason.clone(), fix: None });
                continue;
            }
            OutputState::Unreadable(error) => {
                unfixable.push(Unfixable {
                    path: target.clone(),
                    reason: format!(
                        "cannot read: {error}: whether it is damaged is unknown, so nothing is planned for it and the \
                         run is incomplete; make it readable and run repair again"
                    ),
                    fix: None,
                });
                rebuild_io_errors.push((target, error.clone()));
                continue;
            }
        };
        let damaged_or_missing = !matches!(output, OutputState::Healthy);
        if let Some(temp) = state.temps.get(&kind).and_then(|temps| temps.first()).filter(|_| damaged_or_missing) {
            match crate::no_follow::read(&temp.path) {
                Ok(bytes) => {
                    let bytes = rebuilder.provide(kind, bytes);
                    actions.push(Action {
                        action: ActionKind::PromoteTemp,
                        target: target.clone(),
                        source: Some(temp.path.clone()),
                        reason: format!("{why}; an interrupted write left its complete document"),
                        notes: Vec::new(),
                        contents: Some(bytes),
                        kind: Some(kind),
                        planned_from: vec![(target, stamp), (temp.path.clone(), temp.stamp)],
                    });
                    continue;
                }
                Err(error) => unfixable.push(Unfixable {
                    path: temp.path.clone(),
                    reason: format!("cannot read: {error}"),
                    fix: None,
                }),
            }
        }
        match rebuilder.rebuild(kind) {
            Ok(rebuilt) => {
                // Later outputs are built from this one as it will be, not as it is on disk.
                let bytes = rebuilder.provide_rebuilt(kind, rebuilt.contents, rebuilt.value);
                actions.push(Action {
                    action: ActionKind::Regenerate,
                    target: target.clone(),
                    source: None,
                    reason: format!("{why}; rebuilt from {}", list_inputs(&rebuilt.inputs)),
                    notes: rebuilt.notes,
                    contents: Some(bytes),
                    kind: Some(kind),
                    planned_from: vec![(target, stamp)],
                });
            }
            Err(cannot) => {
                unfixable.push(Unfixable { path: target, reason: format!("{why}; {}", cannot.reason), fix: cannot.fix })
            }
        }
        for missing in rebuilder.take_missing_units() {
            unfixable.push(missing);
        }
        rebuild_io_errors.extend(rebuilder.take_unreadable());
    }
    drop(observing);
    rebuilder.forget_handed();
    state.judge_checkpoints(unjudged, &seen);
    // Paths that could not be read: the run is incomplete (exit bit 8), as for check.
    let mut io_errors = state.io_errors.clone();
    io_errors.extend(rebuild_io_errors);
    for bad in &state.bad_checkpoints {
        actions.push(Action {
            action: ActionKind::Quarantine,
            target: bad.path.clone(),
            source: None,
            reason: format!("{}: OpenAnt redoes this unit on its next run", bad.reason),
            notes: Vec::new(),
            contents: None,
            kind: None,
            planned_from: vec![(bad.path.clone(), bad.stamp)],
        });
    }
    let mut seen = std::collections::HashSet::new();
    io_errors.retain(|(path, _)| seen.insert(path.clone()));
    DirPlan::new(dir, actions, unfixable, io_errors, min_idle, now)
}
