//! `scanaudit repair`: rebuild broken or missing outputs from checkpoints, losing nothing.
//!
//! Plan first (`plan`), then act (`apply`): per scan dir, in a fixed order, promote complete
//! temp files, regenerate outputs, quarantine torn checkpoints. Every write goes through the
//! atomic writer and everything replaced or moved is backed up first. The verb itself (show,
//! confirm, exit status) is [`crate::cmd::plan_and_apply`]'s.

pub mod guard;
pub mod plan;
pub mod rebuild;
pub mod state;
mod unfixable;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use crate::atomic::{Validate, WriteOptions};
use crate::backup::{BackupAction, BackupSession};
use crate::dir_plan::ApplyDir;
use crate::layout::shape_for;
use crate::progress::Progress;
use crate::shape::Shape;
use crate::validate::{validate_bytes, validate_open_len, Validation};
use crate::walk::Filters;

pub use plan::{Action, ActionKind, DirPlan, DirStatus, Holding};
pub use unfixable::Unfixable;

/// What repair will do, per scan dir.
pub type Plan = crate::dir_plan::Plan<Action, Unfixable>;

/// Finds the scan dirs under `roots` and plans each, holding what it will write as `holding`
/// says (in memory for a dry run).
pub fn plan(roots: &[PathBuf], filters: &Filters, min_idle: Duration, holding: Holding, progress: &Progress) -> Plan {
    let now = SystemTime::now();
    Plan::build(roots, filters, progress, |dir| plan::plan_dir(dir, min_idle, now, holding.clone()))
}

pub use crate::dir_plan::ActionOutcome;

/// What was done in one scan dir: one outcome per planned action.
pub type DirOutcome = crate::dir_plan::DirOutcome<ActionOutcome>;

/// What repair did, per scan dir.
pub type Applied = crate::dir_plan::Applied<ActionOutcome>;

/// Applies the runnable part of `plan` ([`crate::dir_plan::apply`]): promotions, rebuilds and
/// quarantines, each backed up.
pub fn apply(plan: &Plan, stop: &AtomicBool) -> Applied {
    crate::dir_plan::apply::<_, _, RepairDir>(plan, stop)
}

/// Repair's actions in one scan dir. Why the remaining rebuilds may not run: they were built
/// from earlier outputs as planned, and an earlier one failed or was not written.
#[derive(Default)]
struct RepairDir {
    blocked: Option<&'static str>,
}

impl ApplyDir<Action> for RepairDir {
    type Result = ActionOutcome;
    const VERB: &'static str = "repair";

    fn step(&mut self, session: &mut BackupSession, scan_dir: &Path, action: &Action) -> ActionOutcome {
        let rebuild = action.action != ActionKind::Quarantine;
        if let (Some(why), true) = (self.blocked, rebuild) {
            return ActionOutcome::Skipped(why.into());
        }
        // Under the lock, before anything is written: the plan was made from what the files
        // were then, and another repair (or OpenAnt) may have changed them since.
        if let Some(changed) = action.changed_since_planned() {
            if rebuild {
                self.blocked = Some("an earlier output changed since the plan was made: left alone; run repair again");
            }
            return ActionOutcome::Skipped(format!(
                "{} changed since the plan was made (another repair, or OpenAnt): left alone; run repair again",
                changed.display()
            ));
        }
        let outcome = run_action(session, scan_dir, action);
        if matches!(outcome, ActionOutcome::Failed(_)) && self.blocked.is_none() {
            self.blocked = Some("an earlier action in this scan dir failed");
        }
        outcome
    }
}

fn run_action(session: &mut BackupSession, scan_dir: &Path, action: &Action) -> ActionOutcome {
    // The backup session names files relative to the scan dir.
    let rel = |path: &Path| path.strip_prefix(scan_dir).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf());
    let target = rel(&action.target);
    let result = match action.action {
        ActionKind::PromoteTemp | ActionKind::Regenerate => {
            let Some(contents) = action.contents.as_ref() else {
                return ActionOutcome::Failed("nothing prepared to write".into());
            };
            let shape = shape_for(action.kind.unwrap_or(crate::layout::FileKind::GenericJson), None);
            let validator = ShapeValidator(shape);
            let backup_action = if action.action == ActionKind::PromoteTemp {
                BackupAction::PromoteTemp
            } else {
                BackupAction::Regenerate
            };
            let options = WriteOptions::default();
            let replaced =
                session.replace_from(&target, contents.source(), options, backup_action, &action.reason, &validator);
            replaced.and_then(|replaced| {
                if let Some(temp) = action.source.as_deref().map(rel) {
                    // The temp's content now lives in the target; keep the temp itself in the
                    // backup rather than deleting it.
                    session.move_file(&temp, BackupAction::PromoteTemp, "promoted into its target")?;
                }
                Ok(replaced)
            })
        }
        ActionKind::Quarantine => {
            return match session.move_file(&target, BackupAction::Quarantine, &action.reason) {
                Ok(_) => ActionOutcome::Done,
                Err(error) => ActionOutcome::Failed(error.to_string()),
            };
        }
    };
    match result {
        Ok(replaced) if replaced.outcome.durable => ActionOutcome::Done,
        Ok(replaced) => ActionOutcome::DoneNotDurable(
            replaced.outcome.dir_sync_error.unwrap_or_else(|| "directory not synced".to_string()),
        ),
        Err(error) => ActionOutcome::Failed(error.to_string()),
    }
}

/// An output read back before it replaces its target must be a healthy document of its kind.
struct ShapeValidator(&'static Shape);

impl ShapeValidator {
    fn verdict(validation: Validation) -> Result<(), String> {
        match validation.problem {
            None => Ok(()),
            Some(problem) => Err(format!("{}: {}", problem.kind, problem.message)),
        }
    }
}

impl Validate for ShapeValidator {
    fn bytes(&self, bytes: &[u8]) -> Result<(), String> {
        Self::verdict(validate_bytes(bytes, self.0))
    }

    /// Spilled contents: the file is validated as check validates one, a big one streamed in
    /// bounded memory.
    fn file(&self, file: std::fs::File, len: u64) -> std::io::Result<Result<(), String>> {
        validate_open_len(file, len, self.0).map(Self::verdict)
    }
}
