//! What repair and migrate share between planning and acting: the plan (per scan dir, the
//! actions a verb will take, what it cannot do there, and whether the dir may be touched at
//! all), the apply loop (per scan dir, under its lock, one backup session, stopping between
//! actions on SIGINT/SIGTERM), and the outcome of each action. Each verb brings its own
//! action, "cannot do" and result types, and how one action is carried out ([`ApplyDir`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::backup::BackupSession;
use crate::layout::ScanDirIndex;
use crate::progress::Progress;
use crate::scan_lock::ScanDirLock;
use crate::walk::{self, EntryType, Filters};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "reason")]
pub enum DirStatus {
    /// Nothing to do.
    Healthy,
    /// Actions are planned.
    Planned,
    /// Work to do, but OpenAnt (or a recent write) may be using the dir: left alone.
    InUse(crate::repair::guard::InUse),
}

#[derive(Debug, Clone, Serialize)]
pub struct DirPlan<A, U> {
    #[serde(flatten, serialize_with = "crate::json_path::scan_dir")]
    pub scan_dir: PathBuf,
    #[serde(flatten)]
    pub status: DirStatus,
    pub actions: Vec<A>,
    pub unfixable: Vec<U>,
    #[serde(skip)]
    pub io_errors: Vec<(PathBuf, String)>,
}

impl<A, U> DirPlan<A, U> {
    /// The plan of `dir`, which may be touched when there is work to do and OpenAnt (or a
    /// recent write) is not using it ([`crate::repair::guard::in_use`]).
    pub fn new(
        dir: &Path,
        actions: Vec<A>,
        unfixable: Vec<U>,
        io_errors: Vec<(PathBuf, String)>,
        min_idle: Duration,
        now: SystemTime,
    ) -> DirPlan<A, U> {
        let status = if actions.is_empty() {
            DirStatus::Healthy
        } else if let Some(reason) = crate::repair::guard::in_use(dir, min_idle, now) {
            DirStatus::InUse(reason)
        } else {
            DirStatus::Planned
        };
        DirPlan { scan_dir: dir.to_path_buf(), status, actions, unfixable, io_errors }
    }

    pub fn has_work(&self) -> bool {
        !self.actions.is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan<A, U> {
    pub scan_dirs: Vec<DirPlan<A, U>>,
    /// Paths the walk could not read.
    #[serde(skip)]
    pub walk_errors: Vec<(PathBuf, String)>,
}

impl<A, U> Plan<A, U> {
    /// Finds the scan dirs under `roots` and plans each with `plan_dir`, in path order.
    pub fn build(
        roots: &[PathBuf],
        filters: &Filters,
        progress: &Progress,
        plan_dir: impl Fn(&Path) -> DirPlan<A, U>,
    ) -> Plan<A, U> {
        // A root named on the command line is looked at through a symlink, as check's walk
        // does (fd, ripgrep); resolved once here, so that a scan dir that is itself the named
        // root can be read, while nothing below a root is ever reached through a symlink.
        let roots: Vec<PathBuf> = roots
            .iter()
            .map(|root| match crate::no_follow::kind(root) {
                Ok(crate::no_follow::EntryKind::Symlink) => {
                    std::fs::canonicalize(root).unwrap_or_else(|_| root.clone())
                }
                _ => root.clone(),
            })
            .collect();
        progress.set_message("walking");
        let walked = walk::walk(&roots, filters);
        let index = ScanDirIndex::build(
            walked
                .entries
                .iter()
                .map(|e| (e.path.as_path(), matches!(e.entry_type, EntryType::Dir | EntryType::TempDir))),
        );
        let mut dirs: Vec<PathBuf> = index.iter().map(PathBuf::from).collect();
        dirs.sort();
        progress.start_count("planning", dirs.len() as u64, "scan dirs");
        let scan_dirs = dirs
            .iter()
            .map(|dir| {
                let planned = plan_dir(dir);
                progress.inc();
                planned
            })
            .collect();
        Plan { scan_dirs, walk_errors: walked.errors.into_iter().map(|e| (e.path, e.message)).collect() }
    }

    pub fn action_count(&self) -> usize {
        self.runnable().map(|d| d.actions.len()).sum()
    }

    /// Scan dirs whose actions will run.
    pub fn runnable(&self) -> impl Iterator<Item = &DirPlan<A, U>> {
        self.scan_dirs.iter().filter(|d| d.status == DirStatus::Planned)
    }

    /// A path could not be read while walking or planning (exit bit 8).
    pub fn has_read_errors(&self) -> bool {
        !self.walk_errors.is_empty() || self.scan_dirs.iter().any(|d| !d.io_errors.is_empty())
    }

    /// Something this verb cannot do here, or a scan dir with work to do that is in use (exit bit 4).
    pub fn leaves_work_undone(&self) -> bool {
        self.scan_dirs
            .iter()
            .any(|d| !d.unfixable.is_empty() || (matches!(d.status, DirStatus::InUse(_)) && d.has_work()))
    }
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

/// A verb's record of one action: its [`ActionOutcome`], and for some verbs what the action
/// found on the way.
pub trait Outcome {
    /// The record of an action that was not carried out, or of a failure around the actions.
    fn of(outcome: ActionOutcome) -> Self;
    fn outcome(&self) -> &ActionOutcome;
    /// What the action found in the way and left (shown under its row).
    fn details(&self) -> &[String] {
        &[]
    }
}

impl Outcome for ActionOutcome {
    fn of(outcome: ActionOutcome) -> Self {
        outcome
    }

    fn outcome(&self) -> &ActionOutcome {
        self
    }
}

/// What was done in one scan dir: one result per planned action, in order (plus a failure to
/// write the backup manifest, when that failed).
#[derive(Debug, Clone)]
pub struct DirOutcome<R> {
    pub scan_dir: PathBuf,
    pub results: Vec<R>,
    pub backup_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Applied<R> {
    pub dirs: Vec<DirOutcome<R>>,
    pub interrupted: bool,
}

impl<R> Default for Applied<R> {
    fn default() -> Self {
        Applied { dirs: Vec::new(), interrupted: false }
    }
}

impl<R> Applied<R> {
    /// Every result, dir after dir.
    pub fn results(&self) -> impl Iterator<Item = &R> {
        self.dirs.iter().flat_map(|d| &d.results)
    }
}

/// How a verb carries out the actions of one scan dir, one after the other. A fresh value per
/// scan dir holds what an action leaves for the next (an earlier failure blocks the rest).
pub trait ApplyDir<A>: Default {
    type Result: Outcome;
    /// The verb, as the backup manifest names it (`repair`, `migrate`, `undo`).
    const VERB: &'static str;
    fn step(&mut self, session: &mut BackupSession, scan_dir: &Path, action: &A) -> Self::Result;
}

/// Applies the runnable part of `plan`: per scan dir, under its lock and in one backup session,
/// each action by `S`. Stops between actions once `stop` is set (SIGINT, SIGTERM); whatever
/// was done is complete and backed up.
pub fn apply<A, U, S: ApplyDir<A>>(plan: &Plan<A, U>, stop: &AtomicBool) -> Applied<S::Result> {
    let mut applied = Applied::default();
    for dir in plan.runnable() {
        let all = |outcome: ActionOutcome| dir.actions.iter().map(|_| S::Result::of(outcome.clone())).collect();
        let untouched = |results| DirOutcome { scan_dir: dir.scan_dir.clone(), results, backup_dir: None };
        if stop.load(Ordering::SeqCst) {
            applied.interrupted = true;
            applied.dirs.push(untouched(all(ActionOutcome::Skipped("interrupted".into()))));
            continue;
        }
        let _lock = match ScanDirLock::try_acquire(&dir.scan_dir) {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                let why = "another scanaudit holds the scan dir's lock";
                applied.dirs.push(untouched(all(ActionOutcome::Skipped(why.into()))));
                continue;
            }
            Err(error) => {
                let why = format!("cannot take the scan dir's lock: {error}");
                applied.dirs.push(untouched(all(ActionOutcome::Failed(why))));
                continue;
            }
        };
        let mut session = match BackupSession::begin(&dir.scan_dir) {
            Ok(session) => session,
            Err(error) => {
                let why = format!("cannot start a backup: {error}");
                applied.dirs.push(untouched(all(ActionOutcome::Failed(why))));
                continue;
            }
        };
        session.set_verb(S::VERB);
        let mut verb = S::default();
        let mut results = Vec::new();
        for action in &dir.actions {
            if stop.load(Ordering::SeqCst) {
                applied.interrupted = true;
                results.push(S::Result::of(ActionOutcome::Skipped("interrupted".into())));
                continue;
            }
            results.push(verb.step(&mut session, &dir.scan_dir, action));
        }
        let backup_dir = session.session_dir().map(PathBuf::from);
        if let Err(error) = session.finish() {
            results.push(S::Result::of(ActionOutcome::Failed(format!("writing the backup manifest: {error}"))));
        }
        applied.dirs.push(DirOutcome { scan_dir: dir.scan_dir.clone(), results, backup_dir });
    }
    applied
}
