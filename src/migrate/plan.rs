//! What migrate will change in each scan dir, decided before anything is touched, so the user
//! sees the whole plan (and `--dry-run` stops there).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{MigrationAction, Unfixable, MIGRATIONS};
use crate::layout::ScanDirIndex;
use crate::repair::guard;
use crate::walk::{self, EntryType, Filters};

pub use crate::repair::DirStatus;

#[derive(Debug, Clone, Serialize)]
pub struct DirPlan {
    pub scan_dir: PathBuf,
    #[serde(flatten)]
    pub status: DirStatus,
    pub actions: Vec<MigrationAction>,
    pub unfixable: Vec<Unfixable>,
    #[serde(skip)]
    pub io_errors: Vec<(PathBuf, String)>,
}

impl DirPlan {
    pub fn has_work(&self) -> bool {
        !self.actions.is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub scan_dirs: Vec<DirPlan>,
    /// Paths the walk could not read.
    #[serde(skip)]
    pub walk_errors: Vec<(PathBuf, String)>,
}

impl Plan {
    pub fn action_count(&self) -> usize {
        self.runnable().map(|d| d.actions.len()).sum()
    }

    /// Scan dirs whose actions will run.
    pub fn runnable(&self) -> impl Iterator<Item = &DirPlan> {
        self.scan_dirs.iter().filter(|d| d.status == DirStatus::Planned)
    }
}

/// Finds the scan dirs under `roots` and plans each with every migration.
pub fn plan(roots: &[PathBuf], filters: &Filters, min_idle: Duration) -> Plan {
    let walked = walk::walk(roots, filters);
    let index = ScanDirIndex::build(
        walked.entries.iter().map(|e| (e.path.as_path(), matches!(e.entry_type, EntryType::Dir | EntryType::TempDir))),
    );
    let mut dirs: Vec<PathBuf> = index.iter().map(PathBuf::from).collect();
    dirs.sort();
    let now = SystemTime::now();
    let scan_dirs = dirs.iter().map(|dir| plan_dir(dir, min_idle, now)).collect();
    Plan { scan_dirs, walk_errors: walked.errors.into_iter().map(|e| (e.path, e.message)).collect() }
}

/// Plans one scan dir with every migration, in application order.
pub fn plan_dir(dir: &Path, min_idle: Duration, now: SystemTime) -> DirPlan {
    let mut actions = Vec::new();
    let mut unfixable = Vec::new();
    let mut io_errors = Vec::new();
    for migration in MIGRATIONS {
        let planned = (migration.planner)(dir);
        actions.extend(planned.actions);
        unfixable.extend(planned.unfixable);
        io_errors.extend(planned.io_errors);
    }
    let status = if actions.is_empty() {
        DirStatus::Healthy
    } else if let Some(reason) = guard::in_use_dir(dir, min_idle, now) {
        DirStatus::InUse(reason)
    } else {
        DirStatus::Planned
    };
    DirPlan { scan_dir: dir.to_path_buf(), status, actions, unfixable, io_errors }
}
