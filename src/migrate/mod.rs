//! `scanaudit migrate`: upgrade old-format scan results to the current layout (spec §5, §2.6).
//!
//! Each migration has a stable id, a one-line description and a planner that looks at one
//! scan dir and says what it would change, as [`MigrationAction`]s made of [`Step`]s. Planners
//! only read; [`apply`] carries the steps out, each on its own atomically, backing up
//! everything it replaces or retires. Planners decide from what is on disk, so a migration
//! that was completed (or half-completed and killed) plans nothing (or only the rest) the
//! next time: every migration is idempotent.

pub mod apply;
pub mod cp1252;
pub mod enhance_dir;
pub mod file_modes;
pub mod language_level;
pub mod plan;
pub mod renamed_fields;
pub mod single_file_checkpoints;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::layout::FileKind;

pub use apply::{apply, ActionOutcome, Applied, DirOutcome};
pub use plan::{plan, DirPlan, DirStatus, Plan};

/// What a planner found in one scan dir.
#[derive(Debug, Clone, Default)]
pub struct Planned {
    pub actions: Vec<MigrationAction>,
    /// Old-format data this migration cannot upgrade, and why.
    pub unfixable: Vec<Unfixable>,
    /// Paths that could not be read while planning.
    pub io_errors: Vec<(PathBuf, String)>,
}

/// One migration as `migrate --list` shows it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Migration {
    /// Stable id, used in plans, JSON output and backup manifests.
    pub id: &'static str,
    /// One line: what it upgrades.
    pub description: &'static str,
    /// Plans one scan dir, given the actions the migrations before it planned there (their
    /// steps run first, so a planner whose work depends on the dir's final contents, like the
    /// language-level move, sees them without planning them again).
    #[serde(skip)]
    pub planner: fn(&Path, &[MigrationAction]) -> Planned,
}

/// Every migration, in the order they are applied to a scan dir. The order matters:
/// the fork's enhance dir is merged before single-file checkpoints are split into it (so
/// "existing files win" sees the merged dir), content rewrites come before mode changes, and
/// the language-level move comes last because it changes every path in the scan dir.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        id: enhance_dir::ID,
        description: "rename the fork's dataset_enhanced_checkpoint_checkpoints/ to enhance_checkpoints/ (merged when both exist)",
        planner: |dir, _| enhance_dir::plan(dir),
    },
    Migration {
        id: single_file_checkpoints::ID,
        description: "split single-file checkpoints (analyze_checkpoint.json, verify_checkpoint.json, whole-dataset enhance checkpoints) into per-unit {step}_checkpoints/ dirs",
        planner: |dir, _| single_file_checkpoints::plan(dir),
    },
    Migration {
        id: cp1252::ID,
        description: "re-encode files written as cp1252 on Windows (before 3cdca87) as UTF-8",
        planner: |dir, _| cp1252::plan(dir),
    },
    Migration {
        id: renamed_fields::ID,
        description: "old field forms (primary_origin.enhanced, is_enhanced, string agent_context.error): current OpenAnt reads them as they are, so nothing is rewritten",
        planner: |dir, _| renamed_fields::plan(dir),
    },
    Migration {
        id: file_modes::ID,
        description: "give outputs written at mode 0600 the mode 0666 & ~umask",
        planner: |dir, _| file_modes::plan(dir),
    },
    Migration {
        id: language_level::ID,
        description: "move a scan dir without a language level (scans/<sha>/, before 3b9ceeb) into scans/<sha>/<language>/",
        planner: language_level::plan,
    },
];

/// One change the plan shows as a row; carried out step by step.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationAction {
    /// The migration's id.
    pub migration: &'static str,
    /// The file or dir the action is about (what the row shows).
    #[serde(flatten, serialize_with = "crate::json_path::target")]
    pub target: PathBuf,
    /// One line: what changes, and why.
    pub reason: String,
    /// Anything the user should know: existing files kept, the newer of two files kept,
    /// values that had to be filled in.
    pub notes: Vec<String>,
    #[serde(skip)]
    pub steps: Vec<Step>,
}

/// How a written file is checked (after read-back) before it replaces anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentCheck {
    /// Valid JSON of this kind's shape (strict UTF-8).
    Json(FileKind),
    /// Valid UTF-8 text (Markdown and the like).
    Utf8Text,
}

/// One filesystem change. Paths are absolute or relative to the working directory, and always
/// inside the scan dir being migrated. Each step is atomic on its own; a step that finds the
/// disk no longer as planned does nothing and says so.
#[derive(Debug, Clone)]
pub enum Step {
    /// Create a new file with `contents`. If something exists at `path` when the step runs, the
    /// existing file wins and is left alone (the outcome says so).
    Create { path: PathBuf, contents: Vec<u8>, check: ContentCheck },
    /// Replace the file at `path` with `contents`, after backing it up. `expected_sha256` is the
    /// hash of the bytes the plan was made from: a file changed since planning is left alone.
    Rewrite { path: PathBuf, contents: Vec<u8>, check: ContentCheck, expected_sha256: String },
    /// Move a file superseded by the migration (e.g. a single-file checkpoint that was split)
    /// into the backup dir. Left alone if its hash is no longer `expected_sha256`.
    Retire { path: PathBuf, expected_sha256: String },
    /// Rename a file or dir; never over an existing entry (then nothing moves).
    Rename { from: PathBuf, to: PathBuf },
    /// Create a directory (mode `0777 & ~umask`); an existing directory is fine.
    CreateDir { path: PathBuf },
    /// Remove a directory only if it is empty (what a merge leaves behind).
    RemoveEmptyDir { path: PathBuf },
    /// Set the permission bits of a regular file, if they are still `from`.
    SetMode { path: PathBuf, from: u32, to: u32 },
}

/// Old-format data a migration cannot upgrade.
#[derive(Debug, Clone, Serialize)]
pub struct Unfixable {
    pub migration: &'static str,
    #[serde(flatten, serialize_with = "crate::json_path::path")]
    pub path: PathBuf,
    pub reason: String,
}

/// The migration with this id.
pub fn find(id: &str) -> Option<&'static Migration> {
    MIGRATIONS.iter().find(|m| m.id == id)
}
