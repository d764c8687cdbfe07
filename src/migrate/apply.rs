//! Carrying out a migrate plan: per scan dir, under its lock, one backup session, every step
//! atomic on its own. A step that finds the disk changed since planning does nothing and
//! says so; the next run plans again from what is there.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use serde::Serialize;

use super::action::{ContentCheck, MigrationAction, Step};
use super::plan::Plan;
use crate::atomic;
use crate::backup::{sha256_hex, BackupAction, BackupSession};
use crate::fsx::{rename_noreplace, EntryKind};
use crate::layout::shape_for;
use crate::no_follow::open_regular_in;
use crate::validate::validate_bytes;

pub use crate::dir_plan::ActionOutcome;
use crate::dir_plan::{ApplyDir, Outcome};

/// What happened to one action, with what its steps found on the way.
#[derive(Debug, Clone, Serialize)]
pub struct ActionResult {
    #[serde(flatten)]
    pub outcome: ActionOutcome,
    /// Steps that found something in the way and left it (an existing file kept, a file
    /// changed since planning).
    pub details: Vec<String>,
}

impl Outcome for ActionResult {
    fn of(outcome: ActionOutcome) -> Self {
        ActionResult { outcome, details: Vec::new() }
    }

    fn outcome(&self) -> &ActionOutcome {
        &self.outcome
    }

    fn details(&self) -> &[String] {
        &self.details
    }
}

/// What was done in one scan dir: one result per planned action.
pub type DirOutcome = crate::dir_plan::DirOutcome<ActionResult>;

/// What migrate did, per scan dir.
pub type Applied = crate::dir_plan::Applied<ActionResult>;

/// Applies the runnable part of `plan` ([`crate::dir_plan::apply`]). Stops between actions
/// once `stop` is set.
pub fn apply(plan: &Plan, stop: &AtomicBool) -> Applied {
    crate::dir_plan::apply::<_, _, MigrateDir>(plan, stop)
}

/// Migrate's actions in one scan dir: whether one has failed.
#[derive(Default)]
struct MigrateDir {
    failed: bool,
}

impl ApplyDir<MigrationAction> for MigrateDir {
    type Result = ActionResult;
    const VERB: &'static str = "migrate";

    fn step(&mut self, session: &mut BackupSession, scan_dir: &Path, action: &MigrationAction) -> ActionResult {
        if self.failed {
            // Later migrations were planned on the assumption that earlier ones happened
            // (the language-level move above all): never run them over a failure.
            return ActionResult::of(ActionOutcome::Skipped("an earlier action in this scan dir failed".into()));
        }
        let result = run_action(session, scan_dir, action);
        self.failed |= matches!(result.outcome, ActionOutcome::Failed(_));
        result
    }
}

fn run_action(session: &mut BackupSession, scan_dir: &Path, action: &MigrationAction) -> ActionResult {
    let mut details = Vec::new();
    // New files are recorded before they are written, so that what this run wrote never makes
    // the scan dir look in use to the next one, even after a SIGKILL (replacements record
    // themselves).
    let creates: Vec<(&Path, &[u8])> = action
        .steps
        .iter()
        .filter_map(|step| match step {
            // The backup session names files relative to the scan dir.
            Step::Create { path, contents, .. } => {
                Some((path.strip_prefix(scan_dir).unwrap_or(path), contents.as_slice()))
            }
            _ => None,
        })
        .collect();
    if let Err(error) = session.will_write(&creates) {
        return ActionResult {
            outcome: ActionOutcome::Failed(format!("writing the backup manifest: {error}")),
            details,
        };
    }
    let mut not_durable = None;
    for step in &action.steps {
        match run_step(session, scan_dir, step, &action.reason) {
            Ok(StepDone::Done) => {}
            Ok(StepDone::NotDurable(why)) => not_durable = Some(why),
            Ok(StepDone::LeftAlone(why)) => details.push(why),
            Err(error) => return ActionResult { outcome: ActionOutcome::Failed(error), details },
        }
    }
    let outcome = match not_durable {
        Some(why) => ActionOutcome::DoneNotDurable(why),
        None => ActionOutcome::Done,
    };
    ActionResult { outcome, details }
}

enum StepDone {
    Done,
    NotDurable(String),
    /// Nothing changed, for this reason.
    LeftAlone(String),
}

fn run_step(session: &mut BackupSession, scan_dir: &Path, step: &Step, reason: &str) -> Result<StepDone, String> {
    // The backup session names files relative to the scan dir.
    let rel = |path: &Path| path.strip_prefix(scan_dir).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf());
    match step {
        Step::Create { path, contents, check } => {
            let (dir, name, display) = session.parent_of(&rel(path)).map_err(|e| e.to_string())?;
            match dir.entry_kind(&name).map_err(|e| e.to_string())? {
                EntryKind::Missing => {}
                _ => return Ok(StepDone::LeftAlone(format!("kept the existing {}", display.display()))),
            }
            let validator = validator(*check);
            let outcome = dir.write_atomic(&name, contents, &validator).map_err(|e| e.to_string())?;
            Ok(durability(outcome))
        }
        Step::Rewrite { path, contents, check, expected_sha256 } => {
            let rel = rel(path);
            if hash_of(session, &rel)?.as_deref() != Some(expected_sha256.as_str()) {
                return Ok(StepDone::LeftAlone(changed_since_planning(path)));
            }
            let validator = validator(*check);
            let replaced = session
                .replace(&rel, contents, BackupAction::Migrate, reason, &validator)
                .map_err(|e| e.to_string())?;
            Ok(durability(replaced.outcome))
        }
        Step::Retire { path, expected_sha256 } => {
            let rel = rel(path);
            if hash_of(session, &rel)?.as_deref() != Some(expected_sha256.as_str()) {
                return Ok(StepDone::LeftAlone(changed_since_planning(path)));
            }
            session.move_file(&rel, BackupAction::Migrate, reason).map_err(|e| e.to_string())?;
            Ok(StepDone::Done)
        }
        Step::Rename { from, to } => {
            let (from_dir, from_name, from_display) = session.parent_of(&rel(from)).map_err(|e| e.to_string())?;
            let (to_dir, to_name, to_display) = session.parent_of(&rel(to)).map_err(|e| e.to_string())?;
            if from_dir.entry_kind(&from_name).map_err(|e| e.to_string())? == EntryKind::Missing {
                return Ok(StepDone::LeftAlone(format!("{} is gone", from_display.display())));
            }
            if to_dir.entry_kind(&to_name).map_err(|e| e.to_string())? != EntryKind::Missing {
                return Ok(StepDone::LeftAlone(format!(
                    "{} already exists: {} was not moved",
                    to_display.display(),
                    from_display.display()
                )));
            }
            session.will_rename(&rel(from), &rel(to)).map_err(|e| e.to_string())?;
            rename_noreplace(&from_dir, &from_name, &to_dir, &to_name)
                .map_err(|e| format!("moving {} to {}: {e}", from_display.display(), to_display.display()))?;
            let synced = to_dir.sync().and_then(|()| from_dir.sync());
            Ok(match synced {
                Ok(()) => StepDone::Done,
                Err(error) => StepDone::NotDurable(error.to_string()),
            })
        }
        Step::CreateDir { path } => {
            let (dir, name, display) = session.parent_of(&rel(path)).map_err(|e| e.to_string())?;
            match dir.entry_kind(&name).map_err(|e| e.to_string())? {
                EntryKind::Dir => Ok(StepDone::Done),
                EntryKind::Missing => {
                    session.will_create_dir(&rel(path)).map_err(|e| e.to_string())?;
                    dir.create_child(&name).map_err(|e| e.to_string())?;
                    Ok(match dir.sync() {
                        Ok(()) => StepDone::Done,
                        Err(error) => StepDone::NotDurable(error.to_string()),
                    })
                }
                other => Err(format!("{} is a {}, not a directory", display.display(), other.describe())),
            }
        }
        Step::RemoveEmptyDir { path } => {
            let (dir, name, display) = session.parent_of(&rel(path)).map_err(|e| e.to_string())?;
            if dir.entry_kind(&name).map_err(|e| e.to_string())? == EntryKind::Dir {
                session.will_remove_dir(&rel(path)).map_err(|e| e.to_string())?;
            }
            match dir.remove_empty_child(&name) {
                Ok(()) => Ok(match dir.sync() {
                    Ok(()) => StepDone::Done,
                    Err(error) => StepDone::NotDurable(error.to_string()),
                }),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(StepDone::Done),
                Err(error) if error.raw_os_error() == Some(libc::ENOTEMPTY) => {
                    Ok(StepDone::LeftAlone(format!("{} is not empty: left in place", display.display())))
                }
                Err(error) => Err(format!("removing the empty directory {}: {error}", display.display())),
            }
        }
        Step::SetMode { path, from, to } => {
            let (dir, name, display) = session.parent_of(&rel(path)).map_err(|e| e.to_string())?;
            let file = open_regular_in(&dir, &name).map_err(|e| format!("{}: {e}", display.display()))?;
            let mode =
                file.metadata().map_err(|e| format!("{}: {e}", display.display()))?.permissions().mode() & 0o7777;
            if mode != *from {
                return Ok(StepDone::LeftAlone(format!(
                    "{} is now mode {mode:04o}, not {from:04o}: left alone",
                    display.display()
                )));
            }
            session.will_set_mode(&rel(path), *from, *to).map_err(|e| e.to_string())?;
            file.set_permissions(std::fs::Permissions::from_mode(*to))
                .map_err(|e| format!("chmod {to:04o} {}: {e}", display.display()))?;
            Ok(StepDone::Done)
        }
    }
}

fn durability(outcome: atomic::WriteOutcome) -> StepDone {
    if outcome.durable {
        StepDone::Done
    } else {
        StepDone::NotDurable(outcome.dir_sync_error.unwrap_or_else(|| "directory not synced".to_string()))
    }
}

fn changed_since_planning(path: &Path) -> String {
    format!("{} changed since the plan was made: left alone", path.display())
}

/// sha256 of the regular file at `rel`, `None` when it is gone.
fn hash_of(session: &BackupSession, rel: &Path) -> Result<Option<String>, String> {
    let (dir, name, display) = session.parent_of(rel).map_err(|e| e.to_string())?;
    let mut file = match open_regular_in(&dir, &name) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("{}: {error}", display.display())),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| format!("reading {}: {e}", display.display()))?;
    Ok(Some(sha256_hex(&bytes)))
}

fn validator(check: ContentCheck) -> impl Fn(&[u8]) -> Result<(), String> {
    move |bytes: &[u8]| match check {
        ContentCheck::Json(kind) => match validate_bytes(bytes, shape_for(kind, None)).problem {
            None => Ok(()),
            Some(problem) => Err(format!("{}: {}", problem.kind, problem.message)),
        },
        ContentCheck::Utf8Text => std::str::from_utf8(bytes).map(drop).map_err(|e| format!("not UTF-8: {e}")),
    }
}
