//! Fixture helpers the rebuild modules' unit tests share.

use super::CheckpointSet;
use crate::layout::CheckpointStep;
use crate::pyjson::{parse, PyValue};

/// A document from JSON text that must parse.
pub fn p(s: &str) -> PyValue {
    parse(s.as_bytes()).unwrap()
}

/// A file modification time, `secs` after the epoch.
pub fn at(secs: u64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

/// A checkpoint set of `step` from `(file name, JSON text)` pairs, as if read from a dir.
pub fn checkpoint_set(step: CheckpointStep, files: &[(&str, &str)]) -> CheckpointSet {
    CheckpointSet::from_files(step, files.iter().map(|(n, s)| (n.to_string(), Ok(s.as_bytes().to_vec()))).collect())
}

/// Copies the tree at `from` to `to` (created), for a test that damages a fixture's copy.
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
