//! Migration `language-level`.

use std::path::Path;

use super::Planned;

pub const ID: &str = "language-level";

pub fn plan(_scan_dir: &Path) -> Planned {
    Planned::default()
}
