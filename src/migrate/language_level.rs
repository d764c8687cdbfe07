//! Migration `language-level` (spec §1.1, §5.1): before `3b9ceeb` the scan dir was
//! `scans/<sha>/` itself; since then OpenAnt looks in `scans/<sha>/<language>/` (the project's
//! language), so an older scan is not found. Its entries move into the language dir.
//!
//! The language comes from the dataset (`metadata.generator` of `dataset.json` and
//! `dataset_enhanced.json` names the parser; the datasets carry no `language` field) and from
//! `project.json` two levels up, whose `language` is the dir name OpenAnt builds. When nothing
//! tells the language, or they disagree, nothing moves.
//!
//! Each entry is its own atomic rename (a dir moves whole), never over an existing entry, so a
//! killed run leaves every entry either in the old place or in the new one, and the next plan
//! moves the rest. The datasets move last: while anything is left to move, the evidence is
//! still where it was. Left in `scans/<sha>/`: scanaudit's `.scanaudit/` (the lock this run
//! holds, and backups whose manifests name paths relative to the old dir), the run dir's
//! `meta.json` (and its Go temp files), and language dirs (the target, or a later scan of
//! another language at the same commit).
//!
//! This migration runs last in a scan dir, after the others changed it on the old paths, so it
//! plans from the dir as the others' steps will leave it: their planners run here too.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, BufReader};
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::action::{MigrationAction, Planned, Step, Unfixable};
use crate::layout::state_names::STATE_DIR;
use crate::layout::{file_name, temp_names, LANGUAGES};
use crate::no_follow;
use crate::pyjson::{self, PyValue};
use crate::text::plural;

pub const ID: &str = "language-level";

/// The run dir's own file (spec §1.1), shared by every language scan of the commit.
const RUN_DIR_FILES: &[&str] = &["meta.json"];

/// The files whose `metadata.generator` names the parser, in the order they move (last).
const DATASETS: &[&str] = &["dataset_enhanced.json", "dataset.json"];

/// `earlier`: what the migrations before this one planned for `scan_dir`; their steps run
/// first, on the old paths, so the entries they create, move or retire are accounted for.
pub fn plan(scan_dir: &Path, earlier: &[MigrationAction]) -> Planned {
    let mut planned = Planned::default();
    // The rule check's `legacy-layout` uses: a scan dir right under `scans/`.
    if scan_dir.parent().map(file_name).as_deref() != Some("scans") {
        return planned;
    }
    let mut entries = match list(scan_dir) {
        Ok(entries) => entries,
        Err(error) => {
            planned.io_errors.push((scan_dir.to_path_buf(), format!("cannot list the directory: {error}")));
            return planned;
        }
    };
    for step in earlier.iter().flat_map(|a| &a.steps) {
        apply_step(scan_dir, step, &mut entries);
    }
    let mut left = Vec::new();
    entries.retain(|name, kind| {
        let stays = stays_in_run_dir(name, *kind);
        if stays {
            left.push(name.to_string_lossy().into_owned());
        }
        !stays
    });
    if entries.is_empty() {
        return planned;
    }
    let language = match language(scan_dir, &mut planned.io_errors) {
        Ok(language) => language,
        Err(reason) => {
            planned.unfixable.push(Unfixable { migration: ID, path: scan_dir.to_path_buf(), reason });
            return planned;
        }
    };
    let target = scan_dir.join(language.name);
    match fs::symlink_metadata(&target) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            let reason = format!("{} exists and is not a directory: the scan cannot move into it", target.display());
            planned.unfixable.push(Unfixable { migration: ID, path: target, reason });
            return planned;
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => {
            planned.io_errors.push((target, error.to_string()));
            return planned;
        }
    }
    // Never over an entry already there: a name in both means two scans (or a hand-made copy),
    // and mixing them would be worse than leaving both.
    let mut clash = false;
    for name in entries.keys() {
        let there = target.join(name);
        match fs::symlink_metadata(&there) {
            Ok(_) => {
                clash = true;
                let reason = format!(
                    "{} and {} both exist: the scan cannot move into {}/ without replacing one; decide by hand",
                    scan_dir.join(name).display(),
                    there.display(),
                    language.name
                );
                planned.unfixable.push(Unfixable { migration: ID, path: scan_dir.join(name), reason });
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                clash = true;
                planned.io_errors.push((there, error.to_string()));
            }
        }
    }
    if clash {
        return planned;
    }
    let mut names: Vec<&OsString> = entries.keys().collect();
    names
        .sort_by_key(|name| (DATASETS.iter().position(|d| OsStr::new(d) == name.as_os_str()), name.as_encoded_bytes()));
    let mut steps = vec![Step::CreateDir { path: target.clone() }];
    steps.extend(names.iter().map(|name| Step::Rename { from: scan_dir.join(name), to: target.join(name) }));
    let mut notes = Vec::new();
    if !left.is_empty() {
        left.sort();
        notes.push(format!("left in {}: {}", scan_dir.display(), left.join(", ")));
    }
    planned.actions.push(MigrationAction {
        migration: ID,
        target: scan_dir.to_path_buf(),
        reason: format!(
            "move the scan ({}) into {}/, where OpenAnt looks since 3b9ceeb; the language is {} ({})",
            plural(names.len(), "entry", "entries"),
            language.name,
            language.name,
            language.sources.join(", ")
        ),
        notes,
        steps,
    });
    planned
}

/// What a top-level entry is, as far as the move cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    /// Anything else (files, symlinks, special files: a rename moves them as they are).
    Other,
}

fn list(dir: &Path) -> io::Result<BTreeMap<OsString, Kind>> {
    let mut entries = BTreeMap::new();
    for item in no_follow::list_dir(dir)? {
        let kind = if item.kind == no_follow::EntryKind::Dir { Kind::Dir } else { Kind::Other };
        entries.insert(item.name, kind);
    }
    Ok(entries)
}

/// The top-level name a path inside `scan_dir` is under, and whether the path is that entry.
fn top_level<'p>(scan_dir: &Path, path: &'p Path) -> Option<(&'p OsStr, bool)> {
    let rel = path.strip_prefix(scan_dir).ok()?;
    let mut components = rel.components();
    let Some(Component::Normal(first)) = components.next() else { return None };
    Some((first, components.next().is_none()))
}

fn apply_step(scan_dir: &Path, step: &Step, entries: &mut BTreeMap<OsString, Kind>) {
    let add = |entries: &mut BTreeMap<OsString, Kind>, path: &Path, is_dir: bool| {
        if let Some((name, whole)) = top_level(scan_dir, path) {
            let kind = if is_dir || !whole { Kind::Dir } else { Kind::Other };
            entries.entry(name.to_os_string()).or_insert(kind);
        }
    };
    match step {
        Step::Create { path, .. } => add(entries, path, false),
        Step::CreateDir { path } => add(entries, path, true),
        Step::Rename { from, to } => {
            let kind = top_level(scan_dir, from).filter(|(_, whole)| *whole).and_then(|(name, _)| entries.remove(name));
            add(entries, to, kind == Some(Kind::Dir));
        }
        Step::Retire { path, .. } | Step::RemoveEmptyDir { path } => {
            if let Some((name, true)) = top_level(scan_dir, path) {
                entries.remove(name);
            }
        }
        Step::Rewrite { .. } | Step::SetMode { .. } => {}
    }
}

/// Entries that belong to the run dir `scans/<sha>/`, not to the scan.
fn stays_in_run_dir(name: &OsStr, kind: Kind) -> bool {
    let name = name.to_string_lossy();
    if name == STATE_DIR || RUN_DIR_FILES.contains(&name.as_ref()) {
        return true;
    }
    if kind == Kind::Dir && LANGUAGES.contains(&name.as_ref()) {
        return true;
    }
    temp_names::recognise_file(&name, &|_| false)
        .and_then(|t| t.target)
        .is_some_and(|target| RUN_DIR_FILES.contains(&target.as_str()))
}

struct Language {
    name: &'static str,
    /// Where it was read, for the plan.
    sources: Vec<String>,
}

/// The language the scan was made in: every source that names one must agree.
fn language(scan_dir: &Path, io_errors: &mut Vec<(PathBuf, String)>) -> Result<Language, String> {
    let mut found: Vec<(&'static str, String)> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for name in DATASETS.iter().rev() {
        let path = scan_dir.join(name);
        match dataset_generator(&path) {
            Ok(None) => {}
            Ok(Some(generator)) => match language_of_generator(&generator) {
                Some(language) => found.push((language, format!("{name} metadata.generator {generator:?}"))),
                None => unknown.push(format!("{name} names the parser {generator:?}, which is not one OpenAnt has")),
            },
            Err(SourceError::Io(error)) => io_errors.push((path, error)),
            Err(SourceError::Refused(error)) => unknown.push(format!("{} {error}", path.display())),
            Err(SourceError::Silent) => unknown.push(format!("{name} does not name its parser")),
        }
    }
    let project = scan_dir.parent().and_then(Path::parent).map(|p| p.join("project.json"));
    if let Some(path) = project {
        match project_language(&path) {
            Ok(None) => {}
            Ok(Some(language)) => match LANGUAGES.iter().find(|l| **l == language) {
                Some(l) => found.push((l, format!("project.json language {language:?}"))),
                None => unknown.push(format!("project.json names the language {language:?}, not one OpenAnt has")),
            },
            Err(SourceError::Io(error)) => io_errors.push((path, error)),
            Err(SourceError::Refused(error)) => unknown.push(format!("{} {error}", path.display())),
            Err(SourceError::Silent) => unknown.push("project.json has no usable language".to_string()),
        }
    }
    let Some((first, _)) = found.first() else {
        let mut reason =
            "cannot tell the scan's language: no dataset names its parser and no project.json names a language"
                .to_string();
        if !unknown.is_empty() {
            reason.push_str(&format!(" ({})", unknown.join("; ")));
        }
        return Err(reason + ": move it into scans/<sha>/<language>/ by hand");
    };
    if found.iter().any(|(l, _)| l != first) {
        let said: Vec<String> = found.iter().map(|(l, source)| format!("{source} says {l}")).collect();
        return Err(format!(
            "the dataset and project.json disagree on the language ({}): move it into scans/<sha>/<language>/ by hand",
            said.join("; ")
        ));
    }
    Ok(Language { name: first, sources: found.into_iter().map(|(_, source)| source).collect() })
}

/// The language of the parser that wrote a dataset (`metadata.generator`, spec §1.4.5): the
/// Python-hosted parsers write `<language>_unit_generator.py`, the JavaScript one
/// `unit_generator.js`, the Go one `go_parser`.
pub fn language_of_generator(generator: &str) -> Option<&'static str> {
    match generator {
        "unit_generator.js" => return Some("javascript"),
        "go_parser" => return Some("go"),
        _ => {}
    }
    let stem = generator.strip_suffix(".py").unwrap_or(generator);
    let language = stem.strip_suffix("_unit_generator")?;
    LANGUAGES.iter().copied().find(|l| *l == language)
}

/// Why a source of the language says nothing.
enum SourceError {
    Io(String),
    /// There, but not a regular file (a symlink, a FIFO): never opened.
    Refused(String),
    /// Readable (or torn), but it does not say.
    Silent,
}

fn source_error(error: io::Error) -> SourceError {
    if no_follow::is_refusal(&error) {
        SourceError::Refused(error.to_string())
    } else {
        SourceError::Io(format!("cannot read: {error}"))
    }
}

#[derive(Deserialize)]
struct DatasetHead {
    #[serde(default)]
    metadata: Option<DatasetMetadata>,
}

#[derive(Deserialize)]
struct DatasetMetadata {
    #[serde(default)]
    generator: Option<serde_json::Value>,
}

/// `metadata.generator` of a dataset; `Ok(None)` when there is no such file. Datasets run to
/// hundreds of MB, so the units are skipped as they stream by instead of being built.
fn dataset_generator(path: &Path) -> Result<Option<String>, SourceError> {
    let file = match no_follow::open_regular(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(source_error(error)),
    };
    let generator = match serde_json::from_reader::<_, DatasetHead>(BufReader::new(file)) {
        Ok(head) => head.metadata.and_then(|m| m.generator),
        // What serde_json refuses but Python writes (NaN, …), or a torn file: the slow parser
        // decides (a torn dataset says nothing).
        Err(error) if error.is_io() => return Err(SourceError::Io(format!("cannot read: {error}"))),
        Err(_) => {
            let bytes = no_follow::read(path).map_err(source_error)?;
            let value = pyjson::parse(&bytes).map_err(|_| SourceError::Silent)?;
            match value.get("metadata").and_then(|m| m.get("generator")) {
                Some(PyValue::Str(s)) => Some(serde_json::Value::String(s.clone())),
                _ => None,
            }
        }
    };
    match generator {
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        _ => Err(SourceError::Silent),
    }
}

#[derive(Deserialize)]
struct ProjectHead {
    #[serde(default)]
    language: Option<serde_json::Value>,
}

/// `language` of project.json (Go-written, always valid UTF-8 JSON); `Ok(None)` when there is
/// no project.json.
fn project_language(path: &Path) -> Result<Option<String>, SourceError> {
    let bytes = match no_follow::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(source_error(error)),
    };
    match serde_json::from_slice::<ProjectHead>(&bytes) {
        Ok(ProjectHead { language: Some(serde_json::Value::String(s)), .. }) => Ok(Some(s)),
        _ => Err(SourceError::Silent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::enhance_dir::{ENHANCE_DIR, FORK_DIR};
    use crate::migrate::registry::MIGRATIONS;

    /// This planner as `migrate` runs it: after the migrations before it, given their actions.
    fn plan(scan_dir: &Path) -> Planned {
        let mut earlier = Vec::new();
        for migration in MIGRATIONS.iter().take_while(|m| m.id != ID) {
            let planned = (migration.planner)(scan_dir, &earlier);
            earlier.extend(planned.actions);
        }
        super::plan(scan_dir, &earlier)
    }

    /// `<tmp>/projects/proj/scans/abc1234def0/` with project.json saying `project_language`.
    struct Run {
        _tmp: tempfile::TempDir,
        dir: PathBuf,
    }

    impl Run {
        fn new(project_language: Option<&str>) -> Run {
            let tmp = tempfile::tempdir().unwrap();
            let project = tmp.path().join("projects/proj");
            let dir = project.join("scans/abc1234def0");
            fs::create_dir_all(&dir).unwrap();
            if let Some(language) = project_language {
                let json = format!("{{\n  \"name\": \"proj\",\n  \"language\": \"{language}\"\n}}\n");
                fs::write(project.join("project.json"), json).unwrap();
            }
            Run { _tmp: tmp, dir }
        }

        fn dataset(&self, name: &str, generator: &str) {
            let json = format!(
                "{{\n  \"name\": \"proj\",\n  \"units\": [\n    {{\n      \"id\": \"a.py:f\"\n    }}\n  ],\n  \"metadata\": {{\n    \"generator\": \"{generator}\"\n  }}\n}}"
            );
            fs::write(self.dir.join(name), json).unwrap();
        }

        fn file(&self, rel: &str) {
            let path = self.dir.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "{}").unwrap();
        }
    }

    fn renames(run: &Run, planned: &Planned) -> Vec<String> {
        let rel = |p: &Path| p.strip_prefix(&run.dir).unwrap().to_string_lossy().into_owned();
        planned
            .actions
            .iter()
            .flat_map(|a| &a.steps)
            .map(|s| match s {
                Step::CreateDir { path } => format!("mkdir {}", rel(path)),
                Step::Rename { from, to } => format!("{} -> {}", rel(from), rel(to)),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn generators_name_their_languages() {
        for (generator, language) in [
            ("python_unit_generator.py", "python"),
            ("unit_generator.js", "javascript"),
            ("go_parser", "go"),
            ("c_unit_generator.py", "c"),
            ("ruby_unit_generator.py", "ruby"),
            ("php_unit_generator.py", "php"),
            ("zig_unit_generator.py", "zig"),
        ] {
            assert_eq!(language_of_generator(generator), Some(language), "{generator}");
        }
        for generator in ["", "unit_generator.py", "rust_unit_generator.py", "python_unit_generator.js", "go"] {
            assert_eq!(language_of_generator(generator), None, "{generator}");
        }
    }

    #[test]
    fn only_a_scan_dir_right_under_scans_moves() {
        let run = Run::new(Some("python"));
        let inner = run.dir.join("python");
        fs::create_dir(&inner).unwrap();
        fs::write(inner.join("dataset.json"), "{}").unwrap();
        assert!(plan(&inner).actions.is_empty());
        let elsewhere = run._tmp.path().join("out");
        fs::create_dir(&elsewhere).unwrap();
        fs::write(elsewhere.join("results.json"), "{}").unwrap();
        assert!(plan(&elsewhere).actions.is_empty());
    }

    #[test]
    fn every_scan_entry_moves_and_the_datasets_move_last() {
        let run = Run::new(Some("python"));
        run.dataset("dataset.json", "python_unit_generator.py");
        run.dataset("dataset_enhanced.json", "python_unit_generator.py");
        run.file("results.json");
        run.file("report/disclosures/DISCLOSURE_01_X.md");
        run.file("analyze_checkpoints/a.py_f.json");
        // The run dir's own entries, scanaudit's state and a later scan in another language stay.
        run.file(".scanaudit/lock");
        run.file("meta.json");
        run.file("meta.json.tmp.48213");
        run.file("javascript/dataset.json");
        let planned = plan(&run.dir);
        assert!(planned.unfixable.is_empty(), "{:?}", planned.unfixable);
        assert_eq!(
            renames(&run, &planned),
            [
                "mkdir python",
                "analyze_checkpoints -> python/analyze_checkpoints",
                "report -> python/report",
                "results.json -> python/results.json",
                "dataset_enhanced.json -> python/dataset_enhanced.json",
                "dataset.json -> python/dataset.json",
            ]
        );
        let action = &planned.actions[0];
        assert!(action.reason.contains("5 entries"), "{}", action.reason);
        assert!(action.reason.contains("project.json language \"python\""), "{}", action.reason);
        assert!(
            action.notes[0].ends_with(": .scanaudit, javascript, meta.json, meta.json.tmp.48213"),
            "{:?}",
            action.notes
        );
    }

    #[test]
    fn the_dataset_alone_tells_the_language() {
        let run = Run::new(None);
        run.dataset("dataset.json", "go_parser");
        let planned = plan(&run.dir);
        assert_eq!(renames(&run, &planned), ["mkdir go", "dataset.json -> go/dataset.json"]);
    }

    #[test]
    fn project_json_alone_tells_the_language() {
        let run = Run::new(Some("ruby"));
        run.file("results.json");
        let planned = plan(&run.dir);
        assert_eq!(renames(&run, &planned), ["mkdir ruby", "results.json -> ruby/results.json"]);
    }

    #[test]
    fn disagreement_is_unfixable() {
        let run = Run::new(Some("javascript"));
        run.dataset("dataset.json", "python_unit_generator.py");
        let planned = plan(&run.dir);
        assert!(planned.actions.is_empty());
        let reason = &planned.unfixable[0].reason;
        assert!(reason.contains("disagree"), "{reason}");
        assert!(reason.contains("python") && reason.contains("javascript"), "{reason}");
    }

    #[test]
    fn no_evidence_is_unfixable_and_says_what_was_seen() {
        let run = Run::new(Some("cobol"));
        run.dataset("dataset.json", "cobol_unit_generator.py");
        run.file("dataset_enhanced.json");
        let planned = plan(&run.dir);
        assert!(planned.actions.is_empty());
        let reason = &planned.unfixable[0].reason;
        assert!(reason.starts_with("cannot tell the scan's language"), "{reason}");
        assert!(reason.contains("\"cobol_unit_generator.py\""), "{reason}");
        assert!(reason.contains("dataset_enhanced.json does not name its parser"), "{reason}");
        assert!(reason.contains("project.json names the language \"cobol\""), "{reason}");
    }

    #[test]
    fn a_dataset_serde_refuses_is_read_the_python_way() {
        let run = Run::new(None);
        fs::write(
            run.dir.join("dataset.json"),
            r#"{"units": [{"score": NaN}], "metadata": {"generator": "c_unit_generator.py"}}"#,
        )
        .unwrap();
        assert_eq!(renames(&run, &plan(&run.dir)), ["mkdir c", "dataset.json -> c/dataset.json"]);
    }

    #[test]
    fn nothing_moves_over_an_existing_entry() {
        let run = Run::new(Some("python"));
        run.file("results.json");
        run.file("report.report.json");
        run.file("python/results.json");
        let planned = plan(&run.dir);
        assert!(planned.actions.is_empty());
        assert_eq!(planned.unfixable.len(), 1);
        let reason = &planned.unfixable[0].reason;
        assert!(reason.contains("results.json and ") && reason.contains("python/results.json both exist"), "{reason}");
    }

    #[test]
    fn a_half_done_move_plans_the_rest() {
        let run = Run::new(Some("python"));
        run.file("results.json");
        run.file("python/report.report.json");
        let planned = plan(&run.dir);
        assert_eq!(renames(&run, &planned), ["mkdir python", "results.json -> python/results.json"]);
        fs::remove_file(run.dir.join("results.json")).unwrap();
        assert!(plan(&run.dir).actions.is_empty());
    }

    #[test]
    fn what_earlier_migrations_create_moves_too() {
        // fork-enhance-dir renames the fork's dir before this move: the plan moves the new name.
        let run = Run::new(Some("python"));
        run.file(&format!("{FORK_DIR}/a.py_f.json"));
        let planned = plan(&run.dir);
        assert_eq!(renames(&run, &planned), ["mkdir python", &format!("{ENHANCE_DIR} -> python/{ENHANCE_DIR}")]);
    }

    #[test]
    fn steps_of_earlier_migrations_change_the_top_level_names() {
        let dir = Path::new("/s");
        let mut entries: BTreeMap<OsString, Kind> =
            [("a.json", Kind::Other), ("old", Kind::Dir), ("gone", Kind::Dir)].map(|(n, k)| (n.into(), k)).into();
        let steps = [
            Step::Retire { path: dir.join("a.json"), expected_sha256: String::new() },
            Step::Create {
                path: dir.join("new/x.json"),
                contents: Vec::new(),
                check: super::super::action::ContentCheck::Utf8Text,
            },
            Step::Rename { from: dir.join("old"), to: dir.join("renamed") },
            Step::RemoveEmptyDir { path: dir.join("gone") },
            Step::Retire { path: dir.join("renamed/inner.json"), expected_sha256: String::new() },
        ];
        for step in &steps {
            apply_step(dir, step, &mut entries);
        }
        let expected: BTreeMap<OsString, Kind> =
            [("new", Kind::Dir), ("renamed", Kind::Dir)].map(|(n, k)| (n.into(), k)).into();
        assert_eq!(entries, expected);
    }
}
