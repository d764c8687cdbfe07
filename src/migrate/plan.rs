//! What migrate will change in each scan dir, decided before anything is touched, so the user
//! sees the whole plan (and `--dry-run` stops there).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::action::{MigrationAction, Unfixable};
use super::registry::MIGRATIONS;
use crate::progress::Progress;
use crate::walk::Filters;

pub use crate::dir_plan::DirStatus;

/// What migrate will change in one scan dir.
pub type DirPlan = crate::dir_plan::DirPlan<MigrationAction, Unfixable>;

/// What migrate will change, per scan dir.
pub type Plan = crate::dir_plan::Plan<MigrationAction, Unfixable>;

/// Finds the scan dirs under `roots` and plans each with every migration.
pub fn plan(roots: &[PathBuf], filters: &Filters, min_idle: Duration, progress: &Progress) -> Plan {
    let now = SystemTime::now();
    Plan::build(roots, filters, progress, |dir| plan_dir(dir, min_idle, now))
}

/// Plans one scan dir with every migration, in application order.
pub fn plan_dir(dir: &Path, min_idle: Duration, now: SystemTime) -> DirPlan {
    let mut actions = Vec::new();
    let mut unfixable = Vec::new();
    let mut io_errors = Vec::new();
    for migration in MIGRATIONS {
        let planned = (migration.planner)(dir, &actions);
        actions.extend(planned.actions);
        unfixable.extend(planned.unfixable);
        io_errors.extend(planned.io_errors);
    }
    DirPlan::new(dir, actions, unfixable, io_errors, min_idle, now)
}
