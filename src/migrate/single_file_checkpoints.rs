//! Migration `single-file-checkpoints`.

use std::path::Path;

use super::Planned;

pub const ID: &str = "single-file-checkpoints";

pub fn plan(_scan_dir: &Path) -> Planned {
    Planned::default()
}
