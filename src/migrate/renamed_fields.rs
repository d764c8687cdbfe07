//! Migration `renamed-fields`.

use std::path::Path;

use super::Planned;

pub const ID: &str = "renamed-fields";

pub fn plan(_scan_dir: &Path) -> Planned {
    Planned::default()
}
