//! `scanaudit undo`: put back what one backup session (a repair, a migrate, or an undo)
//! changed in a scan dir, never over later work.
//!
//! The sessions are the `.scanaudit/backups/<UTC stamp>/` dirs the walk finds under the roots;
//! the dir holding `.scanaudit/` is the one its manifest's paths are relative to (for a
//! language-level migration, the run dir the scan moved out of). `--list` shows them
//! ([`list`]); [`plan`] reads the chosen session of each such dir ([`session`]: refused when
//! it cannot be trusted), plans its reverts ([`plan::plan_session`]); [`apply`] carries them
//! out through the one apply loop. The verb itself (show, confirm, exit status) is
//! [`crate::cmd::plan_and_apply`]'s.

pub mod apply;
pub mod plan;
pub mod session;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::backup::MANIFEST_NAME;
pub use crate::config::Which;
use crate::dir_plan::DirPlan;
use crate::walk::{self, EntryType, Filters};
pub use plan::{Kept, UndoAction};
pub use session::SessionInfo;

/// What undo will do, per scan dir.
pub type Plan = crate::dir_plan::Plan<UndoAction, Kept>;

/// What undo did, per scan dir.
pub type Applied = crate::dir_plan::Applied<crate::dir_plan::ActionOutcome>;

/// The sessions of one scan dir, oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct DirSessions {
    #[serde(flatten, serialize_with = "crate::json_path::scan_dir")]
    pub scan_dir: PathBuf,
    pub sessions: Vec<SessionInfo>,
}

/// The dirs under `roots` that hold backup sessions, in path order, and the paths the walk
/// could not read.
fn session_dirs(roots: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let walked = walk::walk(roots, &Filters::default());
    let dirs: BTreeSet<PathBuf> = walked
        .entries
        .iter()
        .filter(|e| e.entry_type == EntryType::BackupDir)
        .filter_map(|e| e.path.ancestors().nth(3).map(Path::to_path_buf))
        .collect();
    (dirs.into_iter().collect(), walked.errors.into_iter().map(|e| (e.path, e.message)).collect())
}

/// `undo --list`: every session under `roots`, per scan dir, and the paths that could not be read.
pub fn list(roots: &[PathBuf]) -> (Vec<DirSessions>, Vec<(PathBuf, String)>) {
    let (dirs, errors) = session_dirs(roots);
    let listed = dirs
        .into_iter()
        .map(|dir| {
            let sessions = session::session_names(&dir).iter().map(|name| session::info(&dir, name)).collect();
            DirSessions { scan_dir: dir, sessions }
        })
        .filter(|d| !d.sessions.is_empty())
        .collect();
    (listed, errors)
}

/// Plans the undo of the session `which` names in every dir under `roots` that has it.
pub fn plan(roots: &[PathBuf], which: &Which, min_idle: Duration) -> Plan {
    let (dirs, walk_errors) = session_dirs(roots);
    let now = SystemTime::now();
    let scan_dirs = dirs.iter().filter_map(|dir| plan_dir(dir, which, min_idle, now)).collect();
    Plan { scan_dirs, walk_errors }
}

fn plan_dir(dir: &Path, which: &Which, min_idle: Duration, now: SystemTime) -> Option<DirPlan<UndoAction, Kept>> {
    let names = session::session_names(dir);
    let name = match which {
        Which::Last => names.last()?,
        Which::Named(wanted) => names.iter().find(|n| *n == wanted)?,
    };
    let manifest = session::session_path(dir, name).join(MANIFEST_NAME);
    let planned = session::load(dir, name).and_then(|loaded| {
        plan::plan_session(dir, &loaded)
            .map_err(|why| format!("{}: cannot plan its undo: {why}; nothing was changed", manifest.display()))
    });
    match planned {
        Ok((actions, kept)) => Some(DirPlan::new(dir, actions, kept, Vec::new(), min_idle, now)),
        Err(why) => {
            // Refused: nothing of it is planned, and the run says why (exit bits 4 and 8).
            let kept = Kept { session: name.clone(), path: manifest.clone(), reason: why.clone() };
            Some(DirPlan::new(dir, Vec::new(), vec![kept], vec![(manifest, why)], min_idle, now))
        }
    }
}

/// Carries out the runnable part of `plan` ([`crate::dir_plan::apply`]).
pub fn apply(plan: &Plan, stop: &AtomicBool) -> Applied {
    crate::dir_plan::apply::<_, _, apply::UndoDir>(plan, stop)
}
