//! The plan shape repair and migrate share: per scan dir, the actions a verb will take, what it
//! cannot do there, and whether the dir may be touched at all. Each verb brings its own action
//! and "cannot do" types.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::layout::ScanDirIndex;
use crate::walk::{self, EntryType, Filters};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "reason")]
pub enum DirStatus {
    /// Nothing to do.
    Healthy,
    /// Actions are planned.
    Planned,
    /// Work to do, but OpenAnt (or a recent write) may be using the dir: left alone.
    InUse(String),
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
    pub fn build(roots: &[PathBuf], filters: &Filters, plan_dir: impl Fn(&Path) -> DirPlan<A, U>) -> Plan<A, U> {
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
        let walked = walk::walk(&roots, filters);
        let index = ScanDirIndex::build(
            walked
                .entries
                .iter()
                .map(|e| (e.path.as_path(), matches!(e.entry_type, EntryType::Dir | EntryType::TempDir))),
        );
        let mut dirs: Vec<PathBuf> = index.iter().map(PathBuf::from).collect();
        dirs.sort();
        let scan_dirs = dirs.iter().map(|dir| plan_dir(dir)).collect();
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
