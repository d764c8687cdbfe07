//! Discovery: roots → entries. Hidden files are included (temp files are dotfiles), symlinks
//! are reported and never followed, other filesystems are never entered, FIFOs, sockets and
//! devices are never opened, and an unreadable directory is reported while the walk goes on.
//! Metadata is left for the parallel phase: the walk only reads directories (several at once).
//! Entries come out in path order (a directory's entries by name, right after it): each
//! directory's entries are sorted by name as it is listed, in parallel, so no sort of the
//! whole walk is left for the end.

use std::path::{Path, PathBuf};

use globset::GlobSet;
use rayon::iter::{IntoParallelRefIterator, ParallelIterator};
use walkdir::WalkDir;

use crate::layout::state_names::{BACKUPS_DIR, STATE_DIR};
use crate::layout::{file_name, temp_names};

/// What the walk found at a path, from the directory entry's type alone (no stat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    File,
    Dir,
    Symlink,
    /// FIFO, socket, block or character device.
    Special,
    /// atomicwrites' `.atomicwriteXXXXXX/` temp dir; not descended into.
    TempDir,
    /// A scanaudit backup folder `.scanaudit/backups/<timestamp>/`; not descended into.
    BackupDir,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    pub entry_type: EntryType,
}

/// A path the walk could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkError {
    pub path: PathBuf,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct WalkOutput {
    pub entries: Vec<Entry>,
    pub errors: Vec<WalkError>,
    /// What `--include`/`--exclude` left out: each excluded directory once (not what it holds)
    /// and each file not included. A scan dir with anything here is not seen whole, so check's
    /// cross-file rules skip it. Backup folders are not listed: no rule reads them.
    pub left_out: Vec<PathBuf>,
}

/// Narrows the walk. A glob is matched against the path relative to its root and against
/// the file name, so `*.md` and `**/analyze_checkpoints/**` both work.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub include: Option<GlobSet>,
    pub exclude: Option<GlobSet>,
}

impl Filters {
    fn matches(set: &GlobSet, root: &Path, path: &Path) -> bool {
        let rel = path.strip_prefix(root).unwrap_or(path);
        set.is_match(rel) || path.file_name().is_some_and(|name| set.is_match(name))
    }

    fn excluded(&self, root: &Path, path: &Path) -> bool {
        self.exclude.as_ref().is_some_and(|set| Filters::matches(set, root, path))
    }

    fn included(&self, root: &Path, path: &Path) -> bool {
        self.include.as_ref().is_none_or(|set| Filters::matches(set, root, path))
    }
}

pub fn walk(roots: &[PathBuf], filters: &Filters) -> WalkOutput {
    let mut out = WalkOutput::default();
    for root in roots {
        walk_root(root, filters, &mut out);
    }
    out
}

fn walk_root(root: &Path, filters: &Filters, out: &mut WalkOutput) {
    // An explicitly named root is looked at through a symlink (as fd and ripgrep do), but
    // nothing below it is. walkdir decides what the root is (and reports a root it cannot
    // see); what is below it is listed by [`Walk`].
    let walker = WalkDir::new(root).follow_links(false).follow_root_links(true).same_file_system(true);
    let first = out.entries.len();
    let mut items = Vec::new();
    for next in walker.max_depth(0) {
        let dent = match next {
            Ok(dent) => dent,
            Err(error) => {
                items.push(Item::Error(walk_error(root, &error)));
                continue;
            }
        };
        let ft = dent.file_type();
        // What walkdir enters: a root that is a directory, or a symlink to one.
        let target = std::fs::metadata(root).ok();
        let entered = ft.is_dir() || (ft.is_symlink() && target.as_ref().is_some_and(|meta| meta.is_dir()));
        let walk = Walk { root, filters, device: target.as_ref().map(device) };
        if let Visit::Descend(dir) = walk.visit(dent.into_path(), ft, true, entered, &mut items) {
            items.push(Item::Listed(walk.list(&dir, 0)));
        }
    }
    let top = Listing::new(items);
    out.entries.reserve(top.entries);
    flatten(top, out);
    debug_assert!(out.entries[first..].is_sorted_by(|a, b| walk_order(&a.path, &b.path).is_le()));
}

/// The walkdir error as the walk reports it: an error without a path is the root's.
fn walk_error(root: &Path, error: &walkdir::Error) -> WalkError {
    let path = error.path().unwrap_or(root).to_path_buf();
    let message = match error.io_error() {
        Some(io) => io.to_string(),
        None => error.to_string(),
    };
    WalkError { path, message }
}

fn device(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.dev()
}

/// What a directory's listing found, in the order of its entries: a subdirectory's own
/// listing comes right after its entry, as a serial walkdir gives them, so errors and what
/// the filters left out keep walkdir's order once the listings are flattened.
enum Item {
    Entry(Entry),
    Error(WalkError),
    LeftOut(PathBuf),
    Listed(Listing),
    /// What [`flatten`] has moved out.
    Taken,
}

/// A directory's items, and the order its entries go out in.
struct Listing {
    items: Vec<Item>,
    /// The indices of the entry items in path order: a directory's own listing, the item
    /// right after its entry, goes out right after it, which makes the whole walk's entries
    /// path order ([`walk_order`]).
    order: Vec<usize>,
    /// How many entries this listing and those in it hold.
    entries: usize,
    /// Neither this listing nor those in it hold an error or a path the filters left out:
    /// [`take_errors_and_left_out`] need not go through it (it went through the whole walk,
    /// on check's one thread, to find nothing in a healthy tree; issue 17).
    quiet: bool,
}

impl Listing {
    /// Sorts the entries of `items`: they share the listed directory's path up to their names
    /// (but for the backup folders of a `.scanaudit/` in it, whose path goes on after that
    /// name, which [`walk_order`] ranks as the whole walk's sort did).
    fn new(items: Vec<Item>) -> Listing {
        let path = |at: usize| match &items[at] {
            Item::Entry(entry) => entry.path.as_path(),
            _ => unreachable!("only entries are ordered"),
        };
        let mut order: Vec<usize> = (0..items.len()).filter(|&at| matches!(items[at], Item::Entry(_))).collect();
        order.sort_unstable_by(|&a, &b| walk_order(path(a), path(b)));
        let nested: usize =
            items.iter().map(|item| if let Item::Listed(listing) = item { listing.entries } else { 0 }).sum();
        let entries = order.len() + nested;
        let quiet = items.iter().all(|item| match item {
            Item::Error(_) | Item::LeftOut(_) => false,
            Item::Listed(listing) => listing.quiet,
            Item::Entry(_) | Item::Taken => true,
        });
        Listing { items, order, entries, quiet }
    }
}

/// Moves what `listing` found into `out`: errors and what the filters left out in the order
/// of the listings, entries in path order.
fn flatten(mut listing: Listing, out: &mut WalkOutput) {
    take_errors_and_left_out(&mut listing, out);
    take_entries(listing, out);
}

fn take_errors_and_left_out(listing: &mut Listing, out: &mut WalkOutput) {
    if listing.quiet {
        return;
    }
    for item in &mut listing.items {
        match item {
            Item::Error(_) | Item::LeftOut(_) => match std::mem::replace(item, Item::Taken) {
                Item::Error(error) => out.errors.push(error),
                Item::LeftOut(path) => out.left_out.push(path),
                _ => unreachable!("matched above"),
            },
            Item::Listed(nested) => take_errors_and_left_out(nested, out),
            Item::Entry(_) | Item::Taken => {}
        }
    }
}

fn take_entries(mut listing: Listing, out: &mut WalkOutput) {
    // A root the filters left out is still listed: its listing follows no entry, and is the
    // only one at its level.
    for at in 0..listing.items.len() {
        let orphan = matches!(listing.items[at], Item::Listed(_))
            && !matches!(at.checked_sub(1).map(|before| &listing.items[before]), Some(Item::Entry(_)));
        if orphan {
            if let Item::Listed(nested) = std::mem::replace(&mut listing.items[at], Item::Taken) {
                take_entries(nested, out);
            }
        }
    }
    for &at in &listing.order {
        if let Item::Entry(entry) = std::mem::replace(&mut listing.items[at], Item::Taken) {
            out.entries.push(entry);
        }
        // The listing of a directory is the item right after its entry.
        if let Some(Item::Listed(_)) = listing.items.get(at + 1) {
            if let Item::Listed(nested) = std::mem::replace(&mut listing.items[at + 1], Item::Taken) {
                take_entries(nested, out);
            }
        }
    }
}

/// What comes after an entry the walk looked at.
enum Visit {
    Next,
    /// Enter this directory: its listing goes right after what the entry pushed.
    Descend(PathBuf),
    /// walkdir's `skip_current_dir` on a directory it did not enter (on another file system)
    /// skips the rest of the directory holding it instead: so does this walk, to report the
    /// same entries.
    StopListing,
}

/// How many levels below a root are listed in parallel ([`Walk::list`]).
const PARALLEL_DEPTH: usize = 8;

/// One root's walk below the root: each directory listed on its own, the subdirectories of
/// one in parallel (reading directories was a tenth of check's time on a 24-scan tree, all on
/// one thread; issue 17). The same entries, errors and left-out paths, in the same order, as
/// one serial walkdir over the root with `same_file_system`.
struct Walk<'a> {
    root: &'a Path,
    filters: &'a Filters,
    /// The root's file system: a directory on another one is reported, not entered.
    device: Option<u64>,
}

impl Walk<'_> {
    /// What the walk makes of one entry of type `ft` into `items`. `entered`: a directory
    /// walkdir would enter (below the root: a directory on the root's file system).
    fn visit(
        &self,
        path: PathBuf,
        ft: std::fs::FileType,
        is_root: bool,
        entered: bool,
        items: &mut Vec<Item>,
    ) -> Visit {
        // walkdir's skip_current_dir: leaves an entered directory, else the listing it is in
        // (the root is in none).
        let skip = || if entered || is_root { Visit::Next } else { Visit::StopListing };
        if !is_root && self.filters.excluded(self.root, &path) {
            let next = if ft.is_dir() { skip() } else { Visit::Next };
            items.push(Item::LeftOut(path));
            return next;
        }
        // What a skip_current_dir made of the walk.
        let mut skipped = None;
        let entry_type = if ft.is_symlink() {
            EntryType::Symlink
        } else if ft.is_dir() {
            let name = file_name(&path);
            if name == STATE_DIR {
                // scanaudit's own state: backups are reported, never validated (they hold
                // torn files on purpose), and the lock file is not data.
                items.extend(list_backups(&path, self.root, self.filters).map(Item::Entry));
                return skip();
            }
            if temp_names::recognise_dir(&name).is_some() {
                skipped = Some(skip());
                EntryType::TempDir
            } else if name == "repo" && path.parent().is_some_and(|p| p.join("project.json").is_file()) {
                // A project's cloned repository is the scanned code, not scan data.
                return skip();
            } else {
                EntryType::Dir
            }
        } else if ft.is_file() {
            EntryType::File
        } else {
            EntryType::Special
        };
        // An entered directory not skipped is listed next: a root that is a symlink to a
        // directory too, whatever becomes of its entry.
        let next = match skipped {
            Some(next) => next,
            None if entered => Visit::Descend(path.clone()),
            None => Visit::Next,
        };
        if !matches!(entry_type, EntryType::Dir) && !self.filters.included(self.root, &path) {
            items.push(Item::LeftOut(path));
            return next;
        }
        items.push(Item::Entry(Entry { path, entry_type }));
        next
    }

    /// Lists `dir`, an entered directory, and (in parallel) the subdirectories it enters.
    fn list(&self, dir: &Path, depth: usize) -> Listing {
        let mut items = Vec::new();
        let read = match std::fs::read_dir(dir) {
            Ok(read) => read,
            Err(error) => {
                items.push(Item::Error(WalkError { path: dir.to_path_buf(), message: error.to_string() }));
                return Listing::new(items);
            }
        };
        let mut subdirs: Vec<(usize, PathBuf)> = Vec::new();
        for next in read {
            // As walkdir reports them: an entry that cannot be read is the root's error; one
            // whose type, or a directory whose file system, cannot be told is its own.
            let dent = match next {
                Ok(dent) => dent,
                Err(error) => {
                    items.push(Item::Error(WalkError { path: self.root.to_path_buf(), message: error.to_string() }));
                    continue;
                }
            };
            let path = dent.path();
            let ft = match dent.file_type() {
                Ok(ft) => ft,
                Err(error) => {
                    items.push(Item::Error(WalkError { path, message: error.to_string() }));
                    continue;
                }
            };
            let entered = match ft.is_dir() {
                true => match std::fs::metadata(&path) {
                    Ok(meta) => Some(device(&meta)) == self.device,
                    Err(error) => {
                        items.push(Item::Error(WalkError { path, message: error.to_string() }));
                        continue;
                    }
                },
                false => false,
            };
            match self.visit(path, ft, false, entered, &mut items) {
                Visit::Next => {}
                Visit::Descend(sub) => {
                    subdirs.push((items.len(), sub));
                    items.push(Item::Taken);
                }
                Visit::StopListing => break,
            }
        }
        // In parallel near the root only: each level listed in parallel adds rayon's frames to
        // a worker's 2 MiB stack (and a waiting worker may run other listings on top), while a
        // tree can nest as deep as PATH_MAX allows; the levels near the root already give every
        // core a subtree.
        let listings: Vec<Listing> = if depth < PARALLEL_DEPTH {
            subdirs.par_iter().map(|(_, sub)| self.list(sub, depth + 1)).collect()
        } else {
            subdirs.iter().map(|(_, sub)| self.list(sub, depth + 1)).collect()
        };
        for ((at, _), listing) in subdirs.into_iter().zip(listings) {
            items[at] = Item::Listed(listing);
        }
        Listing::new(items)
    }
}

/// What walking each directory sorted by name gives: component-wise path order
/// (`Path::cmp`), computed on the bytes with `/` below every other byte (the walk's paths
/// have no `//`, `.` or trailing `/`), at a fraction of the cost of splitting components.
fn walk_order(a: &Path, b: &Path) -> std::cmp::Ordering {
    use std::os::unix::ffi::OsStrExt;
    let (a, b) = (a.as_os_str().as_bytes(), b.as_os_str().as_bytes());
    let rank = |byte: u8| if byte == b'/' { 0 } else { u16::from(byte) + 1 };
    // Siblings share long prefixes: skip them eight bytes at a time.
    let shorter = a.len().min(b.len());
    let mut at = 0;
    while at + 8 <= shorter && a[at..at + 8] == b[at..at + 8] {
        at += 8;
    }
    match a[at..shorter].iter().zip(&b[at..shorter]).position(|(x, y)| x != y) {
        Some(offset) => rank(a[at + offset]).cmp(&rank(b[at + offset])),
        None => a.len().cmp(&b.len()),
    }
}

fn list_backups(scanaudit_dir: &Path, root: &Path, filters: &Filters) -> impl Iterator<Item = Entry> {
    let backups = scanaudit_dir.join(BACKUPS_DIR);
    // A `backups` that is a symlink is never entered.
    let read = crate::no_follow::list_dir(&backups).unwrap_or_default();
    let mut found: Vec<PathBuf> = Vec::new();
    for dent in read {
        if dent.kind == crate::no_follow::EntryKind::Dir && filters.included(root, &dent.path) {
            found.push(dent.path)
        }
    }
    found.sort();
    found.into_iter().map(|path| Entry { path, entry_type: EntryType::BackupDir })
}

#[cfg(test)]
mod tests {
    use super::*;
    use globset::{Glob, GlobSetBuilder};

    fn set(globs: &[&str]) -> GlobSet {
        let mut b = GlobSetBuilder::new();
        for g in globs {
            b.add(Glob::new(g).unwrap());
        }
        b.build().unwrap()
    }

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("s/analyze_checkpoints")).unwrap();
        std::fs::create_dir_all(p.join("s/.scanaudit/backups/20260101T000000Z")).unwrap();
        std::fs::create_dir_all(p.join("s/.atomicwriteAbC123")).unwrap();
        std::fs::write(p.join("s/.atomicwriteAbC123/tmpfile.tmp"), "{").unwrap();
        std::fs::write(p.join("s/results.json"), "{}").unwrap();
        std::fs::write(p.join("s/.tmpAbC123"), "{}").unwrap();
        std::fs::write(p.join("s/analyze_checkpoints/a.json"), "{}").unwrap();
        std::fs::write(p.join("s/notes.md"), "x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc/passwd", p.join("s/link.json")).unwrap();
        dir
    }

    fn rel(out: &WalkOutput, root: &Path) -> Vec<(String, EntryType)> {
        out.entries
            .iter()
            .map(|e| (e.path.strip_prefix(root).unwrap().to_string_lossy().into_owned(), e.entry_type))
            .collect()
    }

    #[test]
    fn sees_hidden_files_reports_links_and_skips_own_state() {
        let dir = tree();
        let out = walk(&[dir.path().to_path_buf()], &Filters::default());
        let entries = rel(&out, dir.path());
        assert!(entries.contains(&("s/.tmpAbC123".into(), EntryType::File)));
        assert!(entries.contains(&("s/.atomicwriteAbC123".into(), EntryType::TempDir)));
        assert!(entries.contains(&("s/.scanaudit/backups/20260101T000000Z".into(), EntryType::BackupDir)));
        #[cfg(unix)]
        assert!(entries.contains(&("s/link.json".into(), EntryType::Symlink)));
        assert!(!entries.iter().any(|(p, _)| p.contains("tmpfile.tmp")));
        assert!(out.errors.is_empty());
    }

    #[test]
    fn include_and_exclude_globs() {
        let dir = tree();
        let filters = Filters { include: Some(set(&["*.json"])), exclude: Some(set(&["analyze_checkpoints"])) };
        let out = walk(&[dir.path().to_path_buf()], &filters);
        let files: Vec<String> =
            rel(&out, dir.path()).into_iter().filter(|(_, t)| *t == EntryType::File).map(|(p, _)| p).collect();
        assert_eq!(files, ["s/results.json"]);
        let mut left_out: Vec<String> =
            out.left_out.iter().map(|p| p.strip_prefix(dir.path()).unwrap().to_string_lossy().into_owned()).collect();
        left_out.sort();
        // The excluded dir once (not its a.json), and every non-directory the include missed.
        assert_eq!(left_out, ["s/.atomicwriteAbC123", "s/.tmpAbC123", "s/analyze_checkpoints", "s/notes.md"]);
        let unfiltered = walk(&[dir.path().to_path_buf()], &Filters::default());
        assert!(unfiltered.left_out.is_empty(), "{:?}", unfiltered.left_out);
    }

    /// The walk's paths below a shared root, by construction: components of `a`, `.`, `_`, `-`
    /// (`-` and `.` are below `/` in bytes, which the walk's order ranks lowest), never `.` or
    /// `..` themselves, no `//`, no trailing `/`. A root such as `..` is a prefix every path of its
    /// walk shares, never compared.
    const WALK_PATH: &str = "([a_-][a._-]{0,3}|[.][a_-][a._-]{0,2}|[.][.][a._-]{1,2})(/([a_-][a._-]{0,3}|[.][a_-][a._-]{0,2}|[.][.][a._-]{1,2})){0,3}";

    proptest::proptest! {
        #[test]
        fn walk_order_is_path_order(a in WALK_PATH, b in WALK_PATH) {
            let (a, b) = (Path::new(&a), Path::new(&b));
            proptest::prop_assert_eq!(walk_order(a, b), a.cmp(b));
        }
    }

    /// The walk before it listed directories in parallel: one serial walkdir over the root.
    /// The oracle the parallel walk is held to, entry for entry, error for error, in order.
    fn serial_walk(root: &Path, filters: &Filters) -> WalkOutput {
        let mut out = WalkOutput::default();
        let mut it = WalkDir::new(root).follow_links(false).follow_root_links(true).same_file_system(true).into_iter();
        while let Some(next) = it.next() {
            let dent = match next {
                Ok(dent) => dent,
                Err(error) => {
                    out.errors.push(walk_error(root, &error));
                    continue;
                }
            };
            let path = dent.path();
            let ft = dent.file_type();
            if dent.depth() > 0 && filters.excluded(root, path) {
                if ft.is_dir() {
                    it.skip_current_dir();
                }
                out.left_out.push(path.to_path_buf());
                continue;
            }
            let entry_type = if ft.is_symlink() {
                EntryType::Symlink
            } else if ft.is_dir() {
                let name = file_name(path);
                if name == STATE_DIR {
                    out.entries.extend(list_backups(path, root, filters));
                    it.skip_current_dir();
                    continue;
                }
                if temp_names::recognise_dir(&name).is_some() {
                    it.skip_current_dir();
                    EntryType::TempDir
                } else if name == "repo" && path.parent().is_some_and(|p| p.join("project.json").is_file()) {
                    it.skip_current_dir();
                    continue;
                } else {
                    EntryType::Dir
                }
            } else if ft.is_file() {
                EntryType::File
            } else {
                EntryType::Special
            };
            if !matches!(entry_type, EntryType::Dir) && !filters.included(root, path) {
                out.left_out.push(path.to_path_buf());
                continue;
            }
            out.entries.push(Entry { path: path.to_path_buf(), entry_type });
        }
        out.entries.sort_by(|a, b| walk_order(&a.path, &b.path));
        out
    }

    #[test]
    fn the_parallel_walk_reports_what_a_serial_walkdir_does() {
        let dir = tree();
        let p = dir.path();
        for (i, sub) in
            ["s/enhance_checkpoints", "t/a/b/c", "t/a/d", "proj/repo/src", "u/.atomicwriteXyZ987/in"].iter().enumerate()
        {
            std::fs::create_dir_all(p.join(sub)).unwrap();
            std::fs::write(p.join(sub).join(format!("f{i}.json")), "{}").unwrap();
            std::fs::write(p.join(sub).join(format!("g{i}.md")), "x").unwrap();
        }
        std::fs::write(p.join("proj/project.json"), "{}").unwrap();
        std::fs::create_dir_all(p.join("t/.scanaudit/backups/20260202T000000Z")).unwrap();
        // Siblings whose names sort around a directory's own path (`-` and `.` below `/`) and
        // around the backup folders of a `.scanaudit/`.
        for sub in ["t/a.b", "t/a-", "t/a0", "t/.scanaudit-x", "t/.scanaudi", "s/analyze_checkpoints.old"] {
            std::fs::create_dir_all(p.join(sub)).unwrap();
            std::fs::write(p.join(sub).join("z.json"), "{}").unwrap();
        }
        for file in ["t/.scanaudit.json", "t/a.json", "t/.scanaudiu"] {
            std::fs::write(p.join(file), "{}").unwrap();
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(p.join("t"), p.join("u/to_t")).unwrap();
            std::os::unix::fs::symlink(p.join("t"), p.join("root_link")).unwrap();
            // A name that is no file's: an entry that cannot be stat'ed when a glob asks nothing of it.
            std::os::unix::fs::symlink(p.join("nowhere"), p.join("t/a/dangling")).unwrap();
        }
        let filter_sets = [
            Filters::default(),
            Filters { include: Some(set(&["*.json"])), exclude: None },
            Filters { include: None, exclude: Some(set(&["a", "*.md"])) },
            Filters { include: Some(set(&["**/b/**", "*.md"])), exclude: Some(set(&["enhance_checkpoints"])) },
        ];
        let roots = [p.to_path_buf(), p.join("t"), p.join("root_link"), p.join("s/results.json"), p.join("missing")];
        for filters in &filter_sets {
            for root in &roots {
                let (parallel, serial) = (walk(std::slice::from_ref(root), filters), serial_walk(root, filters));
                assert_eq!(parallel.entries, serial.entries, "{root:?} {filters:?}");
                assert_eq!(parallel.errors, serial.errors, "{root:?} {filters:?}");
                assert_eq!(parallel.left_out, serial.left_out, "{root:?} {filters:?}");
            }
        }
    }

    #[test]
    fn a_missing_root_is_an_error_not_a_panic() {
        let out = walk(&[PathBuf::from("/nonexistent/scanaudit/root")], &Filters::default());
        assert_eq!(out.errors.len(), 1);
        assert!(out.entries.is_empty());
    }

    #[test]
    fn a_file_root_is_walked_as_itself() {
        let dir = tree();
        let file = dir.path().join("s/results.json");
        let out = walk(std::slice::from_ref(&file), &Filters::default());
        assert_eq!(out.entries, [Entry { path: file, entry_type: EntryType::File }]);
    }
}
