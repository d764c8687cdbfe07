//! `scanaudit migrate`: upgrade old-format scan results to the current layout (spec §5, §2.6).
//!
//! Each migration has a stable id, a one-line description and a planner that looks at one
//! scan dir and says what it would change, as [`MigrationAction`]s made of [`Step`]s. Planners
//! only read; [`apply`] carries the steps out, each on its own atomically, backing up
//! everything it replaces or retires. Planners decide from what is on disk, so a migration
//! that was completed (or half-completed and killed) plans nothing (or only the rest) the
//! next time: every migration is idempotent.

pub mod action;
pub mod apply;
pub mod cp1252;
pub mod enhance_dir;
pub mod file_modes;
pub mod language_level;
pub mod plan;
pub mod registry;
pub mod renamed_fields;
pub mod single_file_checkpoints;

pub use action::{ContentCheck, MigrationAction, Planned, Step, Unfixable};
pub use apply::{apply, ActionOutcome, Applied, DirOutcome};
pub use plan::{plan, DirPlan, DirStatus, Plan};
pub use registry::{find, Migration, MIGRATIONS};
