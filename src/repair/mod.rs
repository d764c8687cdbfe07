//! `scanaudit repair`: rebuild broken or missing outputs from checkpoints, losing nothing.
//!
//! Plan first (`plan`), then act (`apply`): per scan dir, in a fixed order, promote complete
//! temp files, regenerate outputs, quarantine torn checkpoints. Every write goes through the
//! atomic writer and everything replaced or moved is backed up first. [`run::run`] is the verb:
//! plan, show, confirm, apply, show again, and the exit status.

pub mod guard;
pub mod plan;
pub mod rebuild;
pub mod run;
pub mod state;
mod unfixable;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::backup::{BackupAction, BackupSession};
use crate::layout::shape_for;
use crate::scan_lock::ScanDirLock;
use crate::validate::validate_bytes;
use crate::walk::Filters;

pub use plan::{Action, ActionKind, DirPlan, DirStatus};
pub use unfixable::Unfixable;

/// What repair will do, per scan dir.
pub type Plan = crate::dir_plan::Plan<Action, Unfixable>;

/// Finds the scan dirs under `roots` and plans each.
pub fn plan(roots: &[PathBuf], filters: &Filters, min_idle: Duration) -> Plan {
    let now = SystemTime::now();
    Plan::build(roots, filters, |dir| plan::plan_dir(dir, min_idle, now))
}

/// What happened to one planned action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome", content = "detail")]
pub enum ActionOutcome {
    Done,
    /// Written, but the directory fsync failed: durability is not guaranteed.
    DoneNotDurable(String),
    Failed(String),
    /// Not attempted: the run was interrupted, the dir was locked, or an earlier action failed.
    Skipped(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct DirOutcome {
    #[serde(flatten, serialize_with = "crate::json_path::scan_dir")]
    pub scan_dir: PathBuf,
    pub outcomes: Vec<ActionOutcome>,
    #[serde(flatten, serialize_with = "crate::json_path::opt_backup_dir")]
    pub backup_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub dirs: Vec<DirOutcome>,
    pub interrupted: bool,
}

/// Applies the runnable part of `plan`. Stops between actions once `stop` is set (SIGINT,
/// SIGTERM); whatever was done is complete and backed up.
pub fn apply(plan: &Plan, stop: &AtomicBool) -> Applied {
    let mut applied = Applied::default();
    for dir in plan.runnable() {
        let mut outcomes = Vec::new();
        let skip_all = |why: &str| dir.actions.iter().map(|_| ActionOutcome::Skipped(why.to_string())).collect();
        if stop.load(Ordering::SeqCst) {
            applied.interrupted = true;
            applied.dirs.push(DirOutcome {
                scan_dir: dir.scan_dir.clone(),
                outcomes: skip_all("interrupted"),
                backup_dir: None,
            });
            continue;
        }
        let _lock = match ScanDirLock::try_acquire(&dir.scan_dir) {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                let why = "another scanaudit holds the scan dir's lock";
                applied.dirs.push(DirOutcome {
                    scan_dir: dir.scan_dir.clone(),
                    outcomes: skip_all(why),
                    backup_dir: None,
                });
                continue;
            }
            Err(error) => {
                let why = format!("cannot take the scan dir's lock: {error}");
                let outcomes = dir.actions.iter().map(|_| ActionOutcome::Failed(why.clone())).collect();
                applied.dirs.push(DirOutcome { scan_dir: dir.scan_dir.clone(), outcomes, backup_dir: None });
                continue;
            }
        };
        let mut session = match BackupSession::begin(&dir.scan_dir) {
            Ok(session) => session,
            Err(error) => {
                let why = format!("cannot start a backup: {error}");
                let outcomes = dir.actions.iter().map(|_| ActionOutcome::Failed(why.clone())).collect();
                applied.dirs.push(DirOutcome { scan_dir: dir.scan_dir.clone(), outcomes, backup_dir: None });
                continue;
            }
        };
        // Why the remaining rebuilds may not run: they were built from earlier outputs as
        // planned, and an earlier one failed or was not written.
        let mut blocked: Option<&str> = None;
        for action in &dir.actions {
            if stop.load(Ordering::SeqCst) {
                applied.interrupted = true;
                outcomes.push(ActionOutcome::Skipped("interrupted".into()));
                continue;
            }
            let rebuild = action.action != ActionKind::Quarantine;
            if let (Some(why), true) = (blocked, rebuild) {
                outcomes.push(ActionOutcome::Skipped(why.into()));
                continue;
            }
            // Under the lock, before anything is written: the plan was made from what the files
            // were then, and another repair (or OpenAnt) may have changed them since.
            if let Some(changed) = action.changed_since_planned() {
                outcomes.push(ActionOutcome::Skipped(format!(
                    "{} changed since the plan was made (another repair, or OpenAnt): left alone; run repair again",
                    changed.display()
                )));
                if rebuild {
                    blocked = Some("an earlier output changed since the plan was made: left alone; run repair again");
                }
                continue;
            }
            let outcome = run_action(&mut session, &dir.scan_dir, action);
            if matches!(outcome, ActionOutcome::Failed(_)) && blocked.is_none() {
                blocked = Some("an earlier action in this scan dir failed");
            }
            outcomes.push(outcome);
        }
        let backup_dir = session.session_dir().map(PathBuf::from);
        if let Err(error) = session.finish() {
            outcomes.push(ActionOutcome::Failed(format!("writing the backup manifest: {error}")));
        }
        applied.dirs.push(DirOutcome { scan_dir: dir.scan_dir.clone(), outcomes, backup_dir });
    }
    applied
}

fn run_action(session: &mut BackupSession, scan_dir: &Path, action: &Action) -> ActionOutcome {
    // The backup session names files relative to the scan dir.
    let rel = |path: &Path| path.strip_prefix(scan_dir).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf());
    let target = rel(&action.target);
    let result = match action.action {
        ActionKind::PromoteTemp | ActionKind::Regenerate => {
            let Some(contents) = action.contents.as_deref() else {
                return ActionOutcome::Failed("nothing prepared to write".into());
            };
            let shape = shape_for(action.kind.unwrap_or(crate::layout::FileKind::GenericJson), None);
            let validator = |bytes: &[u8]| match validate_bytes(bytes, shape).problem {
                None => Ok(()),
                Some(problem) => Err(format!("{}: {}", problem.kind, problem.message)),
            };
            let backup_action = if action.action == ActionKind::PromoteTemp {
                BackupAction::PromoteTemp
            } else {
                BackupAction::Regenerate
            };
            session.replace(&target, contents, backup_action, &action.reason, &validator).and_then(|replaced| {
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

/// A flag set by SIGINT or SIGTERM, so repair stops between actions instead of mid-write.
pub fn stop_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registration only fails for forbidden signals; these two are allowed.
        let _ = signal_hook::flag::register(signal, Arc::clone(&flag));
    }
    flag
}
