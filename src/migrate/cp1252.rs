//! Migration `cp1252-to-utf8`.

use std::path::Path;

use super::Planned;

pub const ID: &str = "cp1252-to-utf8";

pub fn plan(_scan_dir: &Path) -> Planned {
    Planned::default()
}
