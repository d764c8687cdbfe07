//! Which directories are scan dirs. Content decides (a dir holding OpenAnt outputs or
//! checkpoint dirs), with the path as a second source (`scans/<sha>/<language>/`, ad-hoc
//! `open_ant_*` dirs), so a scan dir is found wherever the user's tree puts it.

use std::path::{Path, PathBuf};

use foldhash::HashSet;

use super::kinds::CheckpointStep;
use super::output_names::is_scan_dir_marker;
use super::path_names::name_of;
use super::scan_dir_names::{is_language_dir_name, ADHOC_PREFIXES, AUTO_LANGUAGE, LANGUAGES};
use super::temp_names;

#[derive(Debug, Default)]
pub struct ScanDirIndex {
    dirs: HashSet<PathBuf>,
}

impl ScanDirIndex {
    /// Builds the index from every walked path (files and directories).
    pub fn build<'a>(entries: impl IntoIterator<Item = (&'a Path, bool)>) -> ScanDirIndex {
        let mut dirs = HashSet::default();
        for (path, is_dir) in entries {
            let name = name_of(path);
            let Some(parent) = path.parent() else { continue };
            let marks_parent = is_scan_dir_marker(&name, is_dir)
                || (!is_dir
                    && temp_names::recognise_file(&name, &|_| false)
                        .and_then(|t| t.target)
                        .is_some_and(|target| is_scan_dir_marker(&target, false)));
            if marks_parent && !is_auto_parse_dir(parent) {
                dirs.insert(parent.to_path_buf());
            }
            // A checkpoint file marks its grandparent even when the walk started inside
            // the checkpoint dir.
            if !is_dir && CheckpointStep::from_dir_name(&name_of(parent)).is_some() {
                if let Some(grandparent) = parent.parent() {
                    dirs.insert(grandparent.to_path_buf());
                }
            }
            if is_dir && (is_language_scan_dir(path) || ADHOC_PREFIXES.iter().any(|p| name.starts_with(p))) {
                dirs.insert(path.to_path_buf());
            }
        }
        ScanDirIndex { dirs }
    }

    pub fn len(&self) -> usize {
        self.dirs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    pub fn contains(&self, dir: &Path) -> bool {
        self.dirs.contains(dir)
    }

    /// The scan dir `path` belongs to: its nearest ancestor (at most three levels up, enough
    /// for `report/disclosures/X.md`) that is a scan dir.
    pub fn scan_dir_of(&self, path: &Path) -> Option<&Path> {
        path.ancestors().skip(1).take(3).find_map(|a| self.dirs.get(a).map(PathBuf::as_path))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        self.dirs.iter().map(PathBuf::as_path)
    }
}

/// `…/scans/<sha>/<language>`, `auto` included (multi-language scans, PR #199).
fn is_language_scan_dir(path: &Path) -> bool {
    is_language_dir_name(&name_of(path))
        && path.parent().and_then(Path::parent).map(name_of).as_deref() == Some("scans")
}

/// `…/scans/<sha>/auto/<language>`: a multi-language scan's per-language parse dir, which
/// holds parser outputs but is not a scan dir.
fn is_auto_parse_dir(path: &Path) -> bool {
    LANGUAGES.contains(&name_of(path).as_ref())
        && path.parent().is_some_and(|auto| name_of(auto) == AUTO_LANGUAGE && is_language_scan_dir(auto))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_scan_dirs_by_content_and_by_path() {
        let entries: Vec<(PathBuf, bool)> = vec![
            ("p/scans/abc/python".into(), true),
            ("q/out/results.json".into(), false),
            ("r/analyze_checkpoints/a.json".into(), false),
            ("t/open_ant_x1".into(), true),
            ("u/.tmp-pipeline_output.json-abcdefgh.json".into(), false),
            ("v/notes.json".into(), false),
            ("w/scans/abc/notalang".into(), true),
        ];
        let index = ScanDirIndex::build(entries.iter().map(|(p, d)| (p.as_path(), *d)));
        for dir in ["p/scans/abc/python", "q/out", "r", "t/open_ant_x1", "u"] {
            assert!(index.contains(Path::new(dir)), "{dir}");
        }
        assert!(!index.contains(Path::new("v")));
        assert!(!index.contains(Path::new("w/scans/abc/notalang")));
        assert_eq!(index.scan_dir_of(Path::new("r/analyze_checkpoints/a.json")), Some(Path::new("r")));
        assert_eq!(index.scan_dir_of(Path::new("v/notes.json")), None);
    }

    #[test]
    fn a_multi_language_scan_is_one_scan_dir() {
        let entries: Vec<(PathBuf, bool)> = vec![
            ("p/scans/abc/auto".into(), true),
            ("p/scans/abc/auto/python".into(), true),
            ("p/scans/abc/auto/python/dataset.json".into(), false),
            ("p/scans/abc/auto/python/call_graph.json".into(), false),
            ("p/scans/abc/auto/dataset.json".into(), false),
            ("p/scans/abc/auto/call_graphs.json".into(), false),
        ];
        let index = ScanDirIndex::build(entries.iter().map(|(p, d)| (p.as_path(), *d)));
        assert_eq!(index.len(), 1);
        assert!(index.contains(Path::new("p/scans/abc/auto")));
        assert_eq!(
            index.scan_dir_of(Path::new("p/scans/abc/auto/python/dataset.json")),
            Some(Path::new("p/scans/abc/auto"))
        );
    }
}
