//! Which directories are scan dirs. Content decides (a dir holding OpenAnt outputs or
//! checkpoint dirs), with the path as a second source (`scans/<sha>/<language>/`, ad-hoc
//! `open_ant_*` dirs), so a scan dir is found wherever the user's tree puts it.

use std::path::{Path, PathBuf};

use foldhash::HashSet;
use rayon::prelude::*;

use super::kinds::CheckpointStep;
use super::output_names::is_scan_dir_marker;
use super::path_names::{name_of, text_of};
use super::scan_dir_names::{is_language_dir_name, ADHOC_PREFIXES, AUTO_LANGUAGE, LANGUAGES};
use super::temp_names;

#[derive(Debug, Default)]
pub struct ScanDirIndex {
    dirs: HashSet<PathBuf>,
}

impl ScanDirIndex {
    /// Builds the index from every walked path (files and directories).
    ///
    /// What depends on an entry's parent alone (is it a checkpoint dir, is it in the index
    /// yet) is worked out once per run of entries with the same parent, as the walk gives a
    /// directory's files: this runs on one thread before the parallel phase, where splitting
    /// and hashing every path's parent and grandparent was most of its time (issue 17). Any
    /// order of entries gives the same index.
    pub fn build<'a>(entries: impl IntoIterator<Item = (&'a Path, bool)>) -> ScanDirIndex {
        let mut dirs = HashSet::default();
        let mut run: Option<ParentRun<'a>> = None;
        for (path, is_dir) in entries {
            let split = split_plain_name(path);
            let same = matches!((&run, split), (Some(r), Some((prefix, _))) if r.prefix == Some(prefix));
            if !same {
                let Some(parent) = path.parent() else {
                    run = None;
                    continue;
                };
                run = Some(ParentRun {
                    prefix: split.map(|(prefix, _)| prefix),
                    parent,
                    checkpoint_dir: CheckpointStep::from_dir_name(&name_of(parent)).is_some(),
                    parent_marked: false,
                    grandparent_marked: false,
                });
            }
            let run = run.as_mut().expect("a run for this entry's parent");
            let name = match split {
                Some((_, name)) => text_of(std::os::unix::ffi::OsStrExt::from_bytes(name)),
                None => name_of(path),
            };
            let marks_parent = is_scan_dir_marker(&name, is_dir)
                || (!is_dir
                    && temp_names::recognise_file(&name, &|_| false)
                        .and_then(|t| t.target)
                        .is_some_and(|target| is_scan_dir_marker(&target, false)));
            if marks_parent && !run.parent_marked {
                if !is_auto_parse_dir(run.parent) {
                    dirs.insert(run.parent.to_path_buf());
                }
                run.parent_marked = true;
            }
            // A checkpoint file marks its grandparent even when the walk started inside
            // the checkpoint dir.
            if !is_dir && run.checkpoint_dir && !run.grandparent_marked {
                if let Some(grandparent) = run.parent.parent() {
                    dirs.insert(grandparent.to_path_buf());
                }
                run.grandparent_marked = true;
            }
            if is_dir && (is_language_scan_dir(path) || ADHOC_PREFIXES.iter().any(|p| name.starts_with(p))) {
                dirs.insert(path.to_path_buf());
            }
        }
        ScanDirIndex { dirs }
    }

    /// [`ScanDirIndex::build`] on all cores, over runs of `entries` (each gives its path and
    /// whether it is a directory): an entry marks what it marks whatever else is walked, so
    /// the indexes of the parts make the whole one. Built serially, this was the largest part
    /// of check's serial work between the walk and the parallel phase (issue 17).
    pub fn build_in_parallel<T: Sync>(entries: &[T], entry: impl Fn(&T) -> (&Path, bool) + Sync) -> ScanDirIndex {
        // Large enough that a part's runs of one parent stay mostly whole.
        const PART: usize = 4096;
        entries.par_chunks(PART).map(|part| ScanDirIndex::build(part.iter().map(&entry))).reduce(
            ScanDirIndex::default,
            |mut whole, part| {
                whole.dirs.extend(part.dirs);
                whole
            },
        )
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

/// What [`ScanDirIndex::build`] knows about the parent of the entries it is going through.
struct ParentRun<'a> {
    /// The bytes before the last `/` of the run's paths, whose last component is a plain
    /// name: every such path with these bytes has this parent. `None`: a run of one.
    prefix: Option<&'a [u8]>,
    parent: &'a Path,
    /// The parent is a checkpoint dir: its files mark the grandparent.
    checkpoint_dir: bool,
    /// What the parent's or the grandparent's marking did is done (inserting again would
    /// change nothing).
    parent_marked: bool,
    grandparent_marked: bool,
}

/// `path`'s bytes before its last `/` and its name after it, when that name is a plain one
/// (not empty, `.` or `..`): then `Path::parent` is a function of the bytes before, and
/// `Path::file_name` is the name.
fn split_plain_name(path: &Path) -> Option<(&[u8], &[u8])> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    let slash = bytes.iter().rposition(|&b| b == b'/')?;
    let name = &bytes[slash + 1..];
    (!matches!(name, b"" | b"." | b"..")).then(|| (&bytes[..slash], name))
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

    /// The index as it was built before runs of one parent were worked out once: the
    /// oracle [`ScanDirIndex::build`] is held to.
    fn reference_build<'a>(entries: impl IntoIterator<Item = (&'a Path, bool)>) -> Vec<Vec<u8>> {
        use std::os::unix::ffi::OsStrExt;
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
            if !is_dir && CheckpointStep::from_dir_name(&name_of(parent)).is_some() {
                if let Some(grandparent) = parent.parent() {
                    dirs.insert(grandparent.to_path_buf());
                }
            }
            if is_dir && (is_language_scan_dir(path) || ADHOC_PREFIXES.iter().any(|p| name.starts_with(p))) {
                dirs.insert(path.to_path_buf());
            }
        }
        // The bytes, not `Path` equality, which is blind to `a//b` against `a/b`.
        let mut dirs: Vec<Vec<u8>> = dirs.into_iter().map(|d| d.as_os_str().as_bytes().to_vec()).collect();
        dirs.sort();
        dirs
    }

    fn index_bytes(index: &ScanDirIndex) -> Vec<Vec<u8>> {
        use std::os::unix::ffi::OsStrExt;
        let mut dirs: Vec<Vec<u8>> = index.iter().map(|d| d.as_os_str().as_bytes().to_vec()).collect();
        dirs.sort();
        dirs
    }

    /// Components the index cares about, and separators and dots it must keep as given.
    const COMPONENT: &str = "(scans|abc|python|auto|analyze_checkpoints|enhance_checkpoints|results\\.json|a\\.json|open_ant_x|\\.tmp-results\\.json-abcdefgh\\.json|meta\\.json|x|\\.|\\.\\.|)";

    proptest::proptest! {
        #[test]
        fn the_index_is_the_one_built_entry_by_entry(
            entries in proptest::collection::vec((proptest::string::string_regex(&format!("/?{COMPONENT}(//?{COMPONENT}){{0,5}}/?")).unwrap(), proptest::bool::ANY), 0..40)
        ) {
            let entries: Vec<(PathBuf, bool)> = entries.into_iter().map(|(p, d)| (PathBuf::from(p), d)).collect();
            let mut sorted = entries.clone();
            sorted.sort();
            for entries in [&entries, &sorted] {
                let built = ScanDirIndex::build(entries.iter().map(|(p, d)| (p.as_path(), *d)));
                proptest::prop_assert_eq!(index_bytes(&built), reference_build(entries.iter().map(|(p, d)| (p.as_path(), *d))));
            }
        }
    }

    #[test]
    fn a_tree_in_walk_order_gives_the_index_built_entry_by_entry() {
        let mut entries: Vec<(PathBuf, bool)> = Vec::new();
        for scan in ["p/scans/abc/python", "p/scans/abd/auto", "q/out", "r/open_ant_x1", "s//t/./u"] {
            entries.push((scan.into(), true));
            for step in ["analyze_checkpoints", "enhance_checkpoints", "notes"] {
                entries.push((format!("{scan}/{step}").into(), true));
                for unit in 0..3 {
                    entries.push((format!("{scan}/{step}/u{unit}.json").into(), false));
                }
                entries.push((format!("{scan}/{step}/.tmp-results.json-abcdefgh.json").into(), false));
            }
            for file in ["results.json", "x.md", "dataset.json", "python/call_graph.json"] {
                entries.push((format!("{scan}/{file}").into(), false));
            }
        }
        let built = ScanDirIndex::build(entries.iter().map(|(p, d)| (p.as_path(), *d)));
        assert_eq!(index_bytes(&built), reference_build(entries.iter().map(|(p, d)| (p.as_path(), *d))));
        assert!(built.len() >= 5, "{:?}", index_bytes(&built));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn the_index_built_in_parts_is_the_one_built_whole(
            entries in proptest::collection::vec((proptest::string::string_regex(&format!("/?{COMPONENT}(//?{COMPONENT}){{0,5}}/?")).unwrap(), proptest::bool::ANY), 0..12000)
        ) {
            let entries: Vec<(PathBuf, bool)> = entries.into_iter().map(|(p, d)| (PathBuf::from(p), d)).collect();
            let whole = ScanDirIndex::build(entries.iter().map(|(p, d)| (p.as_path(), *d)));
            let parts = ScanDirIndex::build_in_parallel(&entries, |(p, d)| (p.as_path(), *d));
            proptest::prop_assert_eq!(index_bytes(&parts), index_bytes(&whole));
        }
    }

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
