//! The registry of migrations: every [`Migration`] with its id, description and planner, in
//! the order they are applied to a scan dir ([`MIGRATIONS`]), and the lookup by id ([`find`]).

use std::path::Path;

use serde::Serialize;

use super::action::{MigrationAction, Planned};
use super::{cp1252, enhance_dir, file_modes, language_level, renamed_fields, single_file_checkpoints};

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

/// The migration with this id.
pub fn find(id: &str) -> Option<&'static Migration> {
    MIGRATIONS.iter().find(|m| m.id == id)
}
