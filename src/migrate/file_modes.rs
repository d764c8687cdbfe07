//! Migration `file-modes`.

use std::path::Path;

use super::Planned;

pub const ID: &str = "file-modes";

pub fn plan(_scan_dir: &Path) -> Planned {
    Planned::default()
}
