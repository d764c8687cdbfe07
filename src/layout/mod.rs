//! What every file in an OpenAnt tree is (spec §1.2, §2, §4): its kind, the scan dir it
//! belongs to, the shape its JSON must have, and which temp files stand for which targets.
//!
//! This file only declares the parts and re-exports what callers name: `kinds` (FileKind,
//! CheckpointStep), `classify` (classify_file), `output_names` and `scan_dir_names` (the names
//! OpenAnt gives files and directories), `path_names`, `scan_dirs` (which dirs are scan dirs),
//! `shapes`, `temp_names`, `reserved_names`, `state_names` and `safe_filename`. The parts
//! import each other, never this file.

mod classify;
mod kinds;
mod output_names;
mod path_names;
pub mod reserved_names;
pub mod safe_filename;
mod scan_dir_names;
mod scan_dirs;
pub mod shapes;
pub mod state_names;
pub mod temp_names;

pub use classify::{classify_file, Classified};
pub use kinds::{CheckpointStep, FileKind};
pub use output_names::{
    is_scan_dir_marker, output_file_name, FORK_ENHANCE_FILE, FORK_FILE_NAMES, LEGACY_CHECKPOINT_NAMES, STEP_NAMES,
};
pub use path_names::file_name;
pub use scan_dir_names::{is_language_dir_name, is_language_level_meta, ADHOC_PREFIXES, AUTO_LANGUAGE, LANGUAGES};
pub use scan_dirs::ScanDirIndex;
pub use shapes::shape_for;
pub use temp_names::{TempName, TempWriter};
