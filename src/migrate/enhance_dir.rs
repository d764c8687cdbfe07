//! Migration `fork-enhance-dir` (spec §2.6, §5.2): the fork's `enhance_dataset` derives its
//! checkpoint dir from `dataset_enhanced_checkpoint.json`, so its per-unit enhance checkpoints
//! land in `dataset_enhanced_checkpoint_checkpoints/`, where current OpenAnt (and the Go resume
//! prompt) never looks: the LLM work in them is redone. They belong in `enhance_checkpoints/`.
//!
//! Without an `enhance_checkpoints/` the dir is renamed whole: one atomic rename, so a killed
//! run leaves either the old name or the new one. When both exist (a current OpenAnt enhanced
//! the same scan dir too) the fork's files are moved in one by one. A unit in both keeps its
//! newer file (by mtime) and the other one is retired into the backup, never deleted; the plan
//! says which won. Files are matched by the `id` inside (OpenAnt loads by id) and by name, and a
//! file whose name is not `safe_filename(id).json` moves under its own name (check reports the
//! name). The decisions are made in name order against the target dir as the earlier moves
//! leave it, so a run killed midway plans exactly the remaining moves the next time and ends
//! with the same tree.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};

use super::action::{MigrationAction, Planned, Step, Unfixable};
use crate::backup::sha256_hex;
use crate::pyjson::{self, PyValue};
use crate::regen::checkpoints::SUMMARY_FILE;
use crate::text::plural;

pub const ID: &str = "fork-enhance-dir";

/// The fork master's enhance checkpoint dir.
pub const FORK_DIR: &str = "dataset_enhanced_checkpoint_checkpoints";
/// Where current OpenAnt keeps (and resumes) enhance checkpoints.
pub const ENHANCE_DIR: &str = "enhance_checkpoints";

/// How many names a note lists before saying how many more.
const SHOWN: usize = 3;

pub fn plan(scan_dir: &Path) -> Planned {
    let mut planned = Planned::default();
    let fork = scan_dir.join(FORK_DIR);
    let enhance = scan_dir.join(ENHANCE_DIR);
    match kind_of(&fork) {
        Ok(Kind::Missing) => return planned,
        Ok(Kind::Dir) => {}
        Ok(other) => {
            planned
                .unfixable
                .push(unfixable(&fork, format!("{FORK_DIR} is {}, not a directory: left alone", other.describe())));
            return planned;
        }
        Err(error) => {
            planned.io_errors.push((fork, error));
            return planned;
        }
    }
    match kind_of(&enhance) {
        Ok(Kind::Missing) => planned.actions.push(MigrationAction {
            migration: ID,
            target: fork.clone(),
            reason: format!(
                "rename the fork's {FORK_DIR}/ to {ENHANCE_DIR}/, where current OpenAnt resumes enhance from"
            ),
            notes: Vec::new(),
            steps: vec![Step::Rename { from: fork, to: enhance }],
        }),
        Ok(Kind::Dir) => merge(&fork, &enhance, &mut planned),
        Ok(other) => planned.unfixable.push(unfixable(
            &enhance,
            format!("{ENHANCE_DIR} is {}, not a directory: {FORK_DIR}/ cannot be merged into it", other.describe()),
        )),
        Err(error) => planned.io_errors.push((enhance, error)),
    }
    planned
}

fn unfixable(path: &Path, reason: String) -> Unfixable {
    Unfixable { migration: ID, path: path.to_path_buf(), reason }
}

/// What is at a path, without following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Missing,
    File,
    Dir,
    Symlink,
    Other,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Missing => "missing",
            Kind::File => "a file",
            Kind::Dir => "a directory",
            Kind::Symlink => "a symbolic link",
            Kind::Other => "a special file",
        }
    }
}

fn kind_of(path: &Path) -> Result<Kind, String> {
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(kind_from(meta.file_type())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Kind::Missing),
        Err(error) => Err(error.to_string()),
    }
}

fn kind_from(t: fs::FileType) -> Kind {
    if t.is_symlink() {
        Kind::Symlink
    } else if t.is_dir() {
        Kind::Dir
    } else if t.is_file() {
        Kind::File
    } else {
        Kind::Other
    }
}

/// One entry of either dir, as far as the merge needs to know it.
#[derive(Debug, Clone)]
struct Entry {
    name: OsString,
    kind: Kind,
    modified: Option<SystemTime>,
    /// For regular `*.json` files: what is in them.
    json: Option<JsonFile>,
}

#[derive(Debug, Clone)]
struct JsonFile {
    sha256: String,
    /// The `id` inside, when it is a non-empty string.
    id: Option<String>,
    /// Parses as an object and (unit files) carries an id: OpenAnt can use it.
    usable: bool,
}

impl Entry {
    fn display(&self) -> String {
        self.name.to_string_lossy().into_owned()
    }

    fn describe(&self) -> &'static str {
        match (self.kind, &self.json) {
            (_, Some(_)) => "a JSON file",
            (kind, None) => kind.describe(),
        }
    }

    fn id(&self) -> Option<&str> {
        self.json.as_ref().and_then(|j| j.id.as_deref())
    }
}

/// Reads every entry of `dir`; regular `*.json` files are hashed and parsed. Entries that cannot
/// be read are reported in `io_errors` and left out (so they stay where they are).
fn read_entries(dir: &Path, io_errors: &mut Vec<(PathBuf, String)>) -> Option<Vec<Entry>> {
    let listing = match crate::no_follow::list_dir(dir) {
        Ok(listing) => listing,
        Err(error) => {
            io_errors.push((dir.to_path_buf(), format!("cannot list the directory: {error}")));
            return None;
        }
    };
    let mut entries = Vec::new();
    for item in listing {
        let path = item.path;
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(error) => {
                io_errors.push((path, error.to_string()));
                continue;
            }
        };
        let kind = kind_from(meta.file_type());
        let name = item.name;
        let mut json = None;
        if kind == Kind::File && name.to_string_lossy().ends_with(".json") {
            let bytes = match crate::no_follow::read(&path) {
                Ok(bytes) => bytes,
                Err(error) => {
                    io_errors.push((path, format!("cannot read: {error}")));
                    continue;
                }
            };
            let parsed = pyjson::parse(&bytes).ok().filter(|v| matches!(v, PyValue::Object(_)));
            let id = match parsed.as_ref().and_then(|v| v.get("id")) {
                Some(PyValue::Str(id)) if !id.is_empty() => Some(id.clone()),
                _ => None,
            };
            let usable = parsed.is_some() && (name == SUMMARY_FILE || id.is_some());
            json = Some(JsonFile { sha256: sha256_hex(&bytes), id, usable });
        }
        entries.push(Entry { name, kind, modified: meta.modified().ok(), json });
    }
    entries.sort_by(|a, b| a.name.as_encoded_bytes().cmp(b.name.as_encoded_bytes()));
    Some(entries)
}

/// `enhance_checkpoints/` as the merge leaves it so far.
struct Target {
    by_name: BTreeMap<OsString, Entry>,
    by_id: BTreeMap<String, BTreeSet<OsString>>,
}

impl Target {
    fn new(entries: Vec<Entry>) -> Target {
        let mut target = Target { by_name: BTreeMap::new(), by_id: BTreeMap::new() };
        for entry in entries {
            target.insert(entry);
        }
        target
    }

    fn insert(&mut self, entry: Entry) {
        if let Some(id) = entry.id() {
            self.by_id.entry(id.to_string()).or_default().insert(entry.name.clone());
        }
        self.by_name.insert(entry.name.clone(), entry);
    }

    fn remove(&mut self, name: &OsString) {
        if let Some(entry) = self.by_name.remove(name) {
            if let Some(id) = entry.id() {
                if let Some(names) = self.by_id.get_mut(id) {
                    names.remove(name);
                }
            }
        }
    }

    /// The files a fork file competes with: the one under its name, and every one with its id.
    fn rivals(&self, file: &Entry) -> Vec<&Entry> {
        let mut names: BTreeSet<&OsString> = BTreeSet::new();
        if self.by_name.contains_key(&file.name) {
            names.insert(&file.name);
        }
        if let Some(names_with_id) = file.id().and_then(|id| self.by_id.get(id)) {
            names.extend(names_with_id);
        }
        names.into_iter().filter_map(|n| self.by_name.get(n)).collect()
    }
}

/// Which of two files holding the same unit (or the same `_summary.json`) stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Winner {
    /// The fork's file.
    Fork,
    /// The file already in `enhance_checkpoints/`.
    Target,
}

/// Why it stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// OpenAnt can use only this one (the other does not parse, or has no id).
    OnlyUsable,
    /// The two are byte for byte the same: the file already in place stays.
    Identical,
    Newer,
    /// Different contents, same mtime: the file already in place stays.
    SameMtime,
}

/// A usable file beats one OpenAnt cannot use; identical bytes keep the file already in place;
/// otherwise the newer mtime wins, and a tie keeps the file already in place. Both entries are
/// JSON files (see [`incompatible`]).
fn decide(fork: &Entry, target: &Entry) -> (Winner, Why) {
    let (Some(f), Some(t)) = (&fork.json, &target.json) else { return (Winner::Target, Why::SameMtime) };
    if f.usable != t.usable {
        return (if f.usable { Winner::Fork } else { Winner::Target }, Why::OnlyUsable);
    }
    if f.sha256 == t.sha256 {
        return (Winner::Target, Why::Identical);
    }
    match (fork.modified, target.modified) {
        (Some(a), Some(b)) if a > b => (Winner::Fork, Why::Newer),
        (Some(a), Some(b)) if a < b => (Winner::Target, Why::Newer),
        _ => (Winner::Target, Why::SameMtime),
    }
}

fn mtime(entry: &Entry) -> String {
    entry.modified.map_or_else(
        || "mtime unknown".to_string(),
        |t| DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::AutoSi, true),
    )
}

/// What the note names a file's contents by.
fn label(entry: &Entry) -> String {
    match entry.id() {
        Some(id) => format!("unit {id}"),
        None => entry.display(),
    }
}

/// The plan's note on one decided pair: `(dir name, entry)` of the file kept and of the one
/// retired.
fn note(kept: (&str, &Entry), retired: (&str, &Entry), why: Why) -> String {
    let what = label(kept.1);
    let kept_name = format!("{}/{}", kept.0, kept.1.display());
    let retired_name = format!("{}/{}", retired.0, retired.1.display());
    match why {
        Why::Identical => format!("{what}: {retired_name} is identical to {kept_name}; the copy goes to the backup"),
        Why::Newer => format!(
            "{what}: kept the newer {kept_name} ({}); the older {retired_name} ({}) goes to the backup",
            mtime(kept.1),
            mtime(retired.1)
        ),
        Why::SameMtime => format!(
            "{what}: {kept_name} and {retired_name} differ but have the same mtime ({}): kept {kept_name}; {retired_name} goes to the backup",
            mtime(kept.1)
        ),
        Why::OnlyUsable => format!(
            "{what}: kept {kept_name}; {retired_name} does not parse or has no id and goes to the backup"
        ),
    }
}

fn merge(fork: &Path, enhance: &Path, planned: &mut Planned) {
    let before = planned.io_errors.len();
    let Some(fork_entries) = read_entries(fork, &mut planned.io_errors) else { return };
    // Fork files that could not be read stay behind, so the dir will not be empty.
    let unreadable_left = planned.io_errors.len() > before;
    let Some(target_entries) = read_entries(enhance, &mut planned.io_errors) else { return };
    let mut target = Target::new(target_entries);
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    let mut moved = 0usize;
    let mut retired = 0usize;
    let mut left = false;
    // Byte-identical copies (a dir copied by hand, say) get one note between them.
    let mut identical = Vec::new();
    for file in fork_entries {
        let from = fork.join(&file.name);
        let to = enhance.join(&file.name);
        let rivals: Vec<Entry> = target.rivals(&file).into_iter().cloned().collect();
        if rivals.is_empty() {
            steps.push(Step::Rename { from, to });
            moved += 1;
            target.insert(file);
            continue;
        }
        if let Some(reason) = incompatible(&file, &rivals) {
            planned.unfixable.push(unfixable(&from, reason));
            left = true;
            continue;
        }
        let decisions: Vec<(Winner, Why)> = rivals.iter().map(|r| decide(&file, r)).collect();
        if decisions.iter().all(|(w, _)| *w == Winner::Fork) {
            for (rival, (_, why)) in rivals.iter().zip(&decisions) {
                let Some(json) = &rival.json else { continue };
                steps.push(Step::Retire { path: enhance.join(&rival.name), expected_sha256: json.sha256.clone() });
                notes.push(note((FORK_DIR, &file), (ENHANCE_DIR, rival), *why));
                retired += 1;
                target.remove(&rival.name);
            }
            steps.push(Step::Rename { from, to });
            moved += 1;
            target.insert(file);
        } else {
            let kept = rivals.iter().zip(&decisions).find(|(_, (w, _))| *w == Winner::Target);
            let (Some((rival, (_, why))), Some(json)) = (kept, &file.json) else { continue };
            steps.push(Step::Retire { path: from, expected_sha256: json.sha256.clone() });
            if *why == Why::Identical {
                identical.push(file.display());
            } else {
                notes.push(note((ENHANCE_DIR, rival), (FORK_DIR, &file), *why));
            }
            retired += 1;
        }
    }
    if !identical.is_empty() {
        let shown = identical.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
        let more = identical.len().saturating_sub(SHOWN);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        notes.push(format!(
            "{} identical in both dirs; the fork's copies go to the backup: {shown}{more}",
            plural(identical.len(), "file", "files")
        ));
    }
    if !left && !unreadable_left {
        steps.push(Step::RemoveEmptyDir { path: fork.to_path_buf() });
    }
    if steps.is_empty() {
        return;
    }
    let reason = if moved + retired == 0 {
        format!("remove the fork's empty {FORK_DIR}/ beside {ENHANCE_DIR}/")
    } else {
        format!(
            "merge the fork's {FORK_DIR}/ into {ENHANCE_DIR}/, where current OpenAnt resumes enhance from: {} moved, {} (older or duplicate) to the backup",
            plural(moved, "file", "files"),
            plural(retired, "superseded copy", "superseded copies")
        )
    };
    planned.actions.push(MigrationAction { migration: ID, target: fork.to_path_buf(), reason, notes, steps });
}

/// Why a fork entry cannot be merged with the entries it meets in `enhance_checkpoints/`.
fn incompatible(file: &Entry, rivals: &[Entry]) -> Option<String> {
    let here = format!("{FORK_DIR}/{}", file.display());
    for rival in rivals {
        let there = format!("{ENHANCE_DIR}/{}", rival.display());
        if file.json.is_none() || rival.json.is_none() {
            return Some(format!(
                "{here} ({}) and {there} ({}) both exist and are not both checkpoint files: decide which to keep by hand",
                file.describe(),
                rival.describe()
            ));
        }
        if let (Some(a), Some(b)) = (file.id(), rival.id()) {
            if a != b {
                return Some(format!(
                    "{here} (unit {a}) and {there} (unit {b}) have the same name but hold different units: decide which to keep by hand"
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::layout::safe_filename::checkpoint_file_name;

    struct Scan {
        _tmp: tempfile::TempDir,
        dir: PathBuf,
    }

    impl Scan {
        fn new() -> Scan {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("scan");
            fs::create_dir_all(dir.join(FORK_DIR)).unwrap();
            Scan { _tmp: tmp, dir }
        }

        /// Writes `rel` with `bytes` and mtime `secs` after the epoch.
        fn write(&self, rel: &str, bytes: &str, secs: u64) -> PathBuf {
            let path = self.dir.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, bytes).unwrap();
            let when = filetime::FileTime::from_system_time(UNIX_EPOCH + Duration::from_secs(secs));
            filetime::set_file_mtime(&path, when).unwrap();
            path
        }

        fn unit(&self, dir: &str, id: &str, context: &str, secs: u64) -> PathBuf {
            let name = checkpoint_file_name(id);
            self.write(&format!("{dir}/{name}"), &cp(id, context), secs)
        }

        fn fork(&self) -> PathBuf {
            self.dir.join(FORK_DIR)
        }

        fn enhance(&self) -> PathBuf {
            self.dir.join(ENHANCE_DIR)
        }
    }

    fn cp(id: &str, context: &str) -> String {
        format!("{{\n  \"id\": \"{id}\",\n  \"agent_context\": {{\n    \"usage_context\": \"{context}\"\n  }}\n}}")
    }

    /// The steps as `op path [path]`, paths relative to the scan dir.
    fn steps(scan: &Scan, planned: &Planned) -> Vec<String> {
        let rel = |p: &Path| p.strip_prefix(&scan.dir).unwrap().to_string_lossy().into_owned();
        planned
            .actions
            .iter()
            .flat_map(|a| &a.steps)
            .map(|s| match s {
                Step::Rename { from, to } => format!("rename {} {}", rel(from), rel(to)),
                Step::Retire { path, .. } => format!("retire {}", rel(path)),
                Step::RemoveEmptyDir { path } => format!("rmdir {}", rel(path)),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn nothing_to_do_without_the_fork_dir() {
        let scan = Scan::new();
        fs::remove_dir(scan.fork()).unwrap();
        fs::create_dir(scan.enhance()).unwrap();
        let planned = plan(&scan.dir);
        assert!(planned.actions.is_empty() && planned.unfixable.is_empty() && planned.io_errors.is_empty());
    }

    #[test]
    fn the_fork_dir_alone_is_renamed_whole() {
        let scan = Scan::new();
        scan.unit(FORK_DIR, "a.py:f", "x", 10);
        let planned = plan(&scan.dir);
        assert_eq!(steps(&scan, &planned), [format!("rename {FORK_DIR} {ENHANCE_DIR}")]);
        assert_eq!(planned.actions[0].target, scan.fork());
    }

    #[test]
    fn a_symlinked_fork_dir_is_left_alone() {
        let scan = Scan::new();
        fs::remove_dir(scan.fork()).unwrap();
        fs::create_dir(scan.dir.join("elsewhere")).unwrap();
        std::os::unix::fs::symlink("elsewhere", scan.fork()).unwrap();
        let planned = plan(&scan.dir);
        assert!(planned.actions.is_empty());
        assert!(planned.unfixable[0].reason.contains("symbolic link"), "{:?}", planned.unfixable);
    }

    #[test]
    fn merging_keeps_the_newer_file_of_each_unit_and_says_so() {
        let scan = Scan::new();
        scan.unit(FORK_DIR, "only/fork.py:f", "fork", 10);
        scan.unit(FORK_DIR, "both/fork_newer.py:f", "fork", 30);
        scan.unit(ENHANCE_DIR, "both/fork_newer.py:f", "current", 20);
        scan.unit(FORK_DIR, "both/current_newer.py:f", "fork", 20);
        scan.unit(ENHANCE_DIR, "both/current_newer.py:f", "current", 30);
        scan.unit(FORK_DIR, "both/identical.py:f", "same", 50);
        scan.unit(ENHANCE_DIR, "both/identical.py:f", "same", 5);
        scan.unit(ENHANCE_DIR, "only/current.py:f", "current", 40);
        scan.write(&format!("{FORK_DIR}/_summary.json"), r#"{"step": "enhance", "phase": "done"}"#, 60);
        scan.write(&format!("{ENHANCE_DIR}/_summary.json"), r#"{"step": "enhance", "phase": "in_progress"}"#, 50);
        let planned = plan(&scan.dir);
        assert!(planned.unfixable.is_empty() && planned.io_errors.is_empty(), "{planned:?}");
        let fork_newer = checkpoint_file_name("both/fork_newer.py:f");
        let current_newer = checkpoint_file_name("both/current_newer.py:f");
        let identical = checkpoint_file_name("both/identical.py:f");
        let only = checkpoint_file_name("only/fork.py:f");
        assert_eq!(
            steps(&scan, &planned),
            [
                format!("retire {ENHANCE_DIR}/_summary.json"),
                format!("rename {FORK_DIR}/_summary.json {ENHANCE_DIR}/_summary.json"),
                format!("retire {FORK_DIR}/{current_newer}"),
                format!("retire {ENHANCE_DIR}/{fork_newer}"),
                format!("rename {FORK_DIR}/{fork_newer} {ENHANCE_DIR}/{fork_newer}"),
                format!("retire {FORK_DIR}/{identical}"),
                format!("rename {FORK_DIR}/{only} {ENHANCE_DIR}/{only}"),
                format!("rmdir {FORK_DIR}"),
            ]
        );
        let action = &planned.actions[0];
        assert!(action.reason.contains("3 files moved, 4 superseded copies (older or duplicate)"), "{}", action.reason);
        let notes = action.notes.join("\n");
        assert!(
            notes.contains(&format!(
                "unit both/current_newer.py:f: kept the newer {ENHANCE_DIR}/{current_newer} (1970-01-01T00:00:30Z); the older {FORK_DIR}/{current_newer} (1970-01-01T00:00:20Z) goes to the backup"
            )),
            "{notes}"
        );
        assert!(
            notes.contains(&format!("unit both/fork_newer.py:f: kept the newer {FORK_DIR}/{fork_newer}")),
            "{notes}"
        );
        assert!(notes.contains(&format!("_summary.json: kept the newer {FORK_DIR}/_summary.json")), "{notes}");
        assert!(
            notes.contains(&format!("1 file identical in both dirs; the fork's copies go to the backup: {identical}")),
            "{notes}"
        );
        // Retire steps carry the hash of the file planned from.
        let Some(Step::Retire { expected_sha256, .. }) = action.steps.first() else { panic!() };
        let summary = fs::read(scan.enhance().join("_summary.json")).unwrap();
        assert_eq!(*expected_sha256, sha256_hex(&summary));
    }

    #[test]
    fn files_meet_by_the_id_inside_as_well_as_by_name() {
        let scan = Scan::new();
        // A fork file under a name that is not safe_filename(id).json: it moves under its own
        // name, and competes with the current file of the same unit.
        scan.write(&format!("{FORK_DIR}/odd name.json"), &cp("u.py:f", "fork"), 30);
        scan.unit(ENHANCE_DIR, "u.py:f", "current", 20);
        scan.write(&format!("{FORK_DIR}/stray.json"), &cp("v.py:g", "fork"), 30);
        let planned = plan(&scan.dir);
        let canonical = checkpoint_file_name("u.py:f");
        assert_eq!(
            steps(&scan, &planned),
            [
                format!("retire {ENHANCE_DIR}/{canonical}"),
                format!("rename {FORK_DIR}/odd name.json {ENHANCE_DIR}/odd name.json"),
                format!("rename {FORK_DIR}/stray.json {ENHANCE_DIR}/stray.json"),
                format!("rmdir {FORK_DIR}"),
            ]
        );
    }

    #[test]
    fn duplicates_within_the_fork_dir_are_decided_as_a_later_run_would() {
        // Two fork files of one unit: the first moves in, the second then meets it there, just
        // as it would after a run killed between the two.
        let scan = Scan::new();
        scan.write(&format!("{FORK_DIR}/a.json"), &cp("u.py:f", "older"), 10);
        scan.write(&format!("{FORK_DIR}/b.json"), &cp("u.py:f", "newer"), 20);
        fs::create_dir(scan.enhance()).unwrap();
        let planned = plan(&scan.dir);
        assert_eq!(
            steps(&scan, &planned),
            [
                format!("rename {FORK_DIR}/a.json {ENHANCE_DIR}/a.json"),
                format!("retire {ENHANCE_DIR}/a.json"),
                format!("rename {FORK_DIR}/b.json {ENHANCE_DIR}/b.json"),
                format!("rmdir {FORK_DIR}"),
            ]
        );
        // The retire is planned against the bytes that will be there: a.json's.
        let a = fs::read(scan.fork().join("a.json")).unwrap();
        let Step::Retire { expected_sha256, .. } = &planned.actions[0].steps[1] else { panic!() };
        assert_eq!(*expected_sha256, sha256_hex(&a));
    }

    #[test]
    fn a_usable_file_beats_a_torn_one_whatever_the_mtimes() {
        let scan = Scan::new();
        let name = checkpoint_file_name("u.py:f");
        scan.write(&format!("{FORK_DIR}/{name}"), "{\"id\": \"u.py:f\", \"agent_con", 99);
        scan.unit(ENHANCE_DIR, "u.py:f", "current", 1);
        let planned = plan(&scan.dir);
        assert_eq!(steps(&scan, &planned), [format!("retire {FORK_DIR}/{name}"), format!("rmdir {FORK_DIR}")]);
        assert!(planned.actions[0].notes[0].contains("does not parse or has no id"), "{:?}", planned.actions[0].notes);
    }

    #[test]
    fn one_name_holding_two_units_is_left_for_the_user() {
        let scan = Scan::new();
        // `a/b` and `a__b` share the name a__b.json (safe_filename is not injective).
        scan.unit(FORK_DIR, "a/b", "fork", 30);
        scan.unit(ENHANCE_DIR, "a__b", "current", 20);
        scan.unit(FORK_DIR, "c.py:f", "fork", 30);
        fs::create_dir(scan.fork().join("notes")).unwrap();
        fs::create_dir(scan.enhance().join("notes")).unwrap();
        let planned = plan(&scan.dir);
        // The rest still moves; the dir stays, so it is not removed.
        let c = checkpoint_file_name("c.py:f");
        assert_eq!(steps(&scan, &planned), [format!("rename {FORK_DIR}/{c} {ENHANCE_DIR}/{c}")]);
        let reasons: Vec<&str> = planned.unfixable.iter().map(|u| u.reason.as_str()).collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].contains("hold different units"), "{reasons:?}");
        assert!(reasons[1].contains("not both checkpoint files"), "{reasons:?}");
        assert_eq!(planned.unfixable[0].path, scan.fork().join("a__b.json"));
    }

    #[test]
    fn an_empty_fork_dir_beside_enhance_checkpoints_is_removed() {
        let scan = Scan::new();
        scan.unit(ENHANCE_DIR, "u.py:f", "current", 1);
        let planned = plan(&scan.dir);
        assert_eq!(steps(&scan, &planned), [format!("rmdir {FORK_DIR}")]);
        assert!(planned.actions[0].reason.contains("empty"), "{}", planned.actions[0].reason);
    }

    #[test]
    fn enhance_checkpoints_that_is_a_file_blocks_the_merge() {
        let scan = Scan::new();
        scan.write(ENHANCE_DIR, "not a dir", 1);
        let planned = plan(&scan.dir);
        assert!(planned.actions.is_empty());
        assert!(planned.unfixable[0].reason.contains("not a directory"), "{:?}", planned.unfixable);
    }
}
