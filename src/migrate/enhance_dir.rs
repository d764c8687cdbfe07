//! Migration `fork-enhance-dir`.

use std::path::Path;

use super::Planned;

pub const ID: &str = "fork-enhance-dir";

pub fn plan(_scan_dir: &Path) -> Planned {
    Planned::default()
}
