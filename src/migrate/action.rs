//! What a migration's planner says it would change in one scan dir ([`Planned`]): rows of the
//! plan ([`MigrationAction`]), each made of atomic filesystem changes ([`Step`]) whose written
//! contents are checked first ([`ContentCheck`]), and the old-format data it cannot upgrade
//! ([`Unfixable`]). Planners build these; `apply` carries them out.

use std::path::PathBuf;

use serde::Serialize;

use crate::layout::FileKind;

/// What a planner found in one scan dir.
#[derive(Debug, Clone, Default)]
pub struct Planned {
    pub actions: Vec<MigrationAction>,
    /// Old-format data this migration cannot upgrade, and why.
    pub unfixable: Vec<Unfixable>,
    /// Paths that could not be read while planning.
    pub io_errors: Vec<(PathBuf, String)>,
}

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
