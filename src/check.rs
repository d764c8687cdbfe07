//! `scanaudit check`: walk, classify every file, validate every JSON file in parallel, and
//! turn what was found into findings. Read-only.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rayon::prelude::*;

use crate::config::CheckConfig;
use crate::consistency::{self, FileFacts, Meta, Options, ScanDirView};
use crate::cp1252::{self, RawText, Sniffed, Verdict};
use crate::finding::{Finding, FindingKind, Level, Location};
use crate::layout::safe_filename::{checkpoint_file_name, is_checkpoint_name_for};
use crate::layout::{self, shape_for, CheckpointStep, Classified, FileKind, ScanDirIndex, TempName, TempWriter};
use crate::no_follow;
use crate::report::Progress;
use crate::shape::{any_recording_keys, Captured, Captures};
use crate::validate::{self, Problem, Validation};
use crate::walk::{self, EntryType};

/// A temp file younger than this may belong to a write still in progress.
pub const TEMP_GRACE: Duration = Duration::from_secs(3600);

/// Everything `check` learned, before presentation.
#[derive(Debug)]
pub struct CheckOutcome {
    pub findings: Vec<Finding>,
    pub scan_dirs: usize,
    pub files: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    /// Some path could not be read: the audit is incomplete.
    pub incomplete: bool,
}

/// What the parallel phase learned about one file.
#[derive(Debug)]
struct Examined {
    path: PathBuf,
    class: Classified,
    scan_dir: Option<PathBuf>,
    size: u64,
    /// When the content last changed. Deliberately not ctime: restoring a tree with `cp -a`
    /// or `rsync` resets ctime, and would make every abandoned temp look like a live write.
    modified: Option<SystemTime>,
    /// Permission bits.
    mode: u32,
    outcome: Result<Option<Validation>, String>,
    /// For a file OpenAnt writes as raw text whose bytes are not UTF-8: whether they are cp1252.
    code_page: Option<CodePage>,
}

/// What the bytes of a raw-text file that is not UTF-8 are (see [`crate::cp1252`]).
#[derive(Debug)]
enum CodePage {
    /// Decodes cleanly as cp1252 (into a healthy document, for JSON): `scanaudit migrate`
    /// re-encodes it.
    Cp1252,
    /// Decodes as cp1252 into a damaged document: repair's business.
    Cp1252Damaged(Problem),
    /// UTF-8 with damaged bytes: it holds valid multibyte characters, so it is not cp1252.
    DamagedUtf8,
    /// Not cp1252 either.
    Neither,
}

pub fn run(config: &CheckConfig, progress: &Progress) -> CheckOutcome {
    let started = Instant::now();
    progress.set_message("walking");
    let walked = walk::walk(&config.roots, &config.filters);

    let index = ScanDirIndex::build(
        walked.entries.iter().map(|e| (e.path.as_path(), matches!(e.entry_type, EntryType::Dir | EntryType::TempDir))),
    );
    let known: HashSet<&Path> = walked.entries.iter().map(|e| e.path.as_path()).collect();

    let mut findings: Vec<Finding> = Vec::new();
    let mut incomplete = false;
    for error in &walked.errors {
        incomplete = true;
        findings.push(
            Finding::new(FindingKind::Unreadable, &error.path, format!("cannot read: {}", error.message))
                .scan_dir(index.scan_dir_of(&error.path).map(Path::to_path_buf))
                .file_kind(FileKind::Directory),
        );
    }

    let mut jobs: Vec<(PathBuf, Classified, Option<PathBuf>)> = Vec::new();
    for entry in &walked.entries {
        let path = &entry.path;
        let scan_dir = index.scan_dir_of(path).map(Path::to_path_buf);
        match entry.entry_type {
            EntryType::Dir => {
                if let Some(finding) = directory_finding(path, scan_dir, &known) {
                    findings.push(finding);
                }
            }
            EntryType::File => {
                let parent = path.parent().unwrap_or(Path::new(""));
                let sibling_exists = |name: &str| known.contains(parent.join(name).as_path());
                let class = layout::classify_file(path, scan_dir.as_deref(), &sibling_exists);
                jobs.push((path.clone(), class, scan_dir));
            }
            EntryType::TempDir => {
                let class = Classified {
                    kind: FileKind::Temp,
                    checkpoint_step: None,
                    temp: layout::temp_names::recognise_dir(&layout::file_name(path)),
                };
                jobs.push((path.clone(), class, scan_dir));
            }
            EntryType::Symlink => findings.push(
                Finding::new(FindingKind::Symlink, path, symlink_message(path))
                    .scan_dir(scan_dir)
                    .file_kind(FileKind::Symlink),
            ),
            EntryType::Special => findings.push(
                Finding::new(
                    FindingKind::SpecialFile,
                    path,
                    "a FIFO, socket or device where scan data belongs; never opened",
                )
                .scan_dir(scan_dir)
                .file_kind(FileKind::SpecialFile),
            ),
            EntryType::BackupDir => {
                let owner = path.ancestors().nth(3).map(Path::to_path_buf);
                findings.push(
                    Finding::new(FindingKind::Backup, path, "scanaudit backup of files it replaced or moved")
                        .scan_dir(owner.clone())
                        .file_kind(FileKind::Backup)
                        .fix(owner.map(|dir| format!("scanaudit clean --backups 30d {}", shell_quote(&dir)))),
                );
            }
        }
    }

    progress.start_files(jobs.len() as u64);
    let examined: Vec<Examined> = jobs
        .into_par_iter()
        .map(|(path, class, scan_dir)| {
            let result = examine(path, class, scan_dir);
            progress.inc();
            result
        })
        .collect();
    progress.finish();

    let by_path: HashMap<&Path, &Examined> = examined.iter().map(|e| (e.path.as_path(), e)).collect();
    let now = SystemTime::now();
    let mut files = 0u64;
    let mut bytes = 0u64;
    for file in &examined {
        files += 1;
        bytes += file.size;
        match &file.outcome {
            Err(message) => {
                incomplete = true;
                findings.push(
                    Finding::new(FindingKind::Unreadable, &file.path, format!("cannot read: {message}"))
                        .scan_dir(file.scan_dir.clone())
                        .file_kind(file.class.kind),
                );
            }
            Ok(validation) => {
                if file.class.kind == FileKind::Temp {
                    findings.push(temp_finding(file, validation.as_ref(), &by_path, now));
                } else if let Some(validation) = validation {
                    findings.extend(file_findings(file, validation));
                }
            }
        }
    }

    if config.filters.include.is_none() && config.filters.exclude.is_none() {
        progress.set_message("cross-checking");
        findings.extend(cross_check(config, &walked.entries, &index, &examined, now));
    }

    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    CheckOutcome { findings, scan_dirs: index.len(), files, bytes, elapsed: started.elapsed(), incomplete }
}

/// Runs the cross-file rules on every scan dir the walk saw whole: at or below a root (a
/// single file given as root is checked alone) and not narrowed by --include/--exclude.
fn cross_check(
    config: &CheckConfig,
    entries: &[walk::Entry],
    index: &ScanDirIndex,
    examined: &[Examined],
    now: SystemTime,
) -> Vec<Finding> {
    let whole = |dir: &Path| config.roots.iter().any(|root| dir.starts_with(root));
    let mut views: HashMap<&Path, ScanDirView> = HashMap::new();
    for dir in index.iter().filter(|d| whole(d)) {
        views.insert(
            dir,
            ScanDirView { dir, files: Vec::new(), dirs: Vec::new(), meta: Meta::Absent, scan_meta: Meta::Absent },
        );
    }
    for file in examined {
        let Some(view) = file.scan_dir.as_deref().and_then(|d| views.get_mut(d)) else { continue };
        // Below the scan dir, by bytes (component-wise Path comparisons are slow at 100k files).
        // Names that are not UTF-8 are none of OpenAnt's, and stay out of the view.
        let Some(rel) = relative(view.dir, &file.path) else { continue };
        let validation = match &file.outcome {
            Ok(Some(v)) => Some(v),
            _ => None,
        };
        view.files.push(FileFacts {
            path: &file.path,
            rel,
            kind: file.class.kind,
            step: file.class.checkpoint_step,
            modified: file.modified,
            mode: file.mode,
            validation,
            cp1252: matches!(file.code_page, Some(CodePage::Cp1252)),
        });
    }
    for entry in entries.iter().filter(|e| e.entry_type == EntryType::Dir) {
        if let Some(view) = index.scan_dir_of(&entry.path).and_then(|d| views.get_mut(d)) {
            view.dirs.push(&entry.path);
        }
    }
    // meta.json sits in the run dir, above the scan dir (or in it, before the language
    // level). When the walk did not reach it (a scan dir given as root), it is read here:
    // a few hundred bytes, once.
    let by_path: HashMap<&Path, &Examined> =
        examined.iter().filter(|e| e.class.kind == FileKind::ScanMeta).map(|e| (e.path.as_path(), e)).collect();
    let mut outside: HashMap<PathBuf, Option<Validation>> = HashMap::new();
    let meta_path = |dir: &Path| -> Option<PathBuf> {
        let parent = dir.parent()?;
        if layout::file_name(parent) == "scans" {
            return Some(dir.join("meta.json"));
        }
        (parent.parent().map(layout::file_name).as_deref() == Some("scans")).then(|| parent.join("meta.json"))
    };
    for view in views.values() {
        if let Some(path) = meta_path(view.dir).filter(|p| !by_path.contains_key(p.as_path())) {
            let validation = match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_file() => validate::validate_file(&path, shape_for(FileKind::ScanMeta, None)).ok(),
                _ => None,
            };
            let present = validation.is_some() || std::fs::symlink_metadata(&path).is_ok();
            if present {
                outside.insert(path, validation);
            }
        }
    }
    for view in views.values_mut() {
        // Since #664 a language-level scan dir has its own meta.json; the walk saw it with the
        // scan dir's files.
        let own = view.dir.join("meta.json");
        if meta_path(view.dir).as_deref() != Some(own.as_path()) {
            if let Some(file) = by_path.get(own.as_path()) {
                view.scan_meta = Meta::Present(match &file.outcome {
                    Ok(Some(v)) if v.is_valid() => Some(&v.captures),
                    _ => None,
                });
            }
        }
        let Some(path) = meta_path(view.dir) else { continue };
        view.meta = if let Some(file) = by_path.get(path.as_path()) {
            Meta::Present(match &file.outcome {
                Ok(Some(v)) if v.is_valid() => Some(&v.captures),
                _ => None,
            })
        } else if let Some(validation) = outside.get(&path) {
            Meta::Present(validation.as_ref().filter(|v| v.is_valid()).map(|v| &v.captures))
        } else {
            Meta::Absent
        };
    }
    let options = Options { min_idle: config.min_idle, now };
    let views: Vec<ScanDirView> = views.into_values().collect();
    views.par_iter().flat_map_iter(|view| consistency::check_scan_dir(view, &options)).collect()
}

/// `path` below `dir` as text, when `path` is strictly below it and the rest is UTF-8.
fn relative<'p>(dir: &Path, path: &'p Path) -> Option<&'p str> {
    use std::os::unix::ffi::OsStrExt;
    let rest = path.as_os_str().as_bytes().strip_prefix(dir.as_os_str().as_bytes())?;
    let rest = rest.strip_prefix(b"/").filter(|r| !r.is_empty())?;
    std::str::from_utf8(rest).ok()
}

/// Why a directory stands where OpenAnt reads and writes one of its files: check reports it
/// (`special-file`) and repair leaves it alone, in these words.
pub fn directory_in_place_of_file(name: &str) -> String {
    format!(
        "a directory where OpenAnt expects its {name} file: OpenAnt can neither read nor replace it, \
         and scanaudit never opens or removes it (move it aside by hand)"
    )
}

/// A `special-file` finding for a directory named like a file OpenAnt reads (`results.json`,
/// a checkpoint, a step report), inside a scan dir.
fn directory_finding(path: &Path, scan_dir: Option<PathBuf>, known: &HashSet<&Path>) -> Option<Finding> {
    let name = layout::file_name(path);
    if scan_dir.is_none() || !name.ends_with(".json") {
        return None;
    }
    let parent = path.parent().unwrap_or(Path::new(""));
    let sibling_exists = |n: &str| known.contains(parent.join(n).as_path());
    let class = layout::classify_file(path, scan_dir.as_deref(), &sibling_exists);
    if matches!(class.kind, FileKind::Other | FileKind::GenericJson | FileKind::Temp | FileKind::Backup) {
        return None;
    }
    Some(
        Finding::new(FindingKind::SpecialFile, path, directory_in_place_of_file(&name))
            .scan_dir(scan_dir)
            .file_kind(FileKind::Directory),
    )
}

fn symlink_message(path: &Path) -> String {
    match std::fs::read_link(path) {
        Ok(target) => format!("symlink to {}; scanaudit never follows symlinks", target.display()),
        Err(_) => "symlink; scanaudit never follows symlinks".into(),
    }
}

/// Stats and validates one file. Never panics; I/O errors become `Err(message)`.
/// JSON files are opened once and stat-ed through the open handle.
fn examine(path: PathBuf, class: Classified, scan_dir: Option<PathBuf>) -> Examined {
    use std::os::unix::fs::PermissionsExt;
    let mut size = 0;
    let mut modified = None;
    let mut mode = 0;
    let mut stat = |meta: &std::fs::Metadata| {
        size = if meta.is_file() { meta.len() } else { 0 };
        modified = meta.modified().ok();
        mode = meta.permissions().mode() & 0o7777;
    };
    let outcome = if class.kind.is_json() {
        no_follow::open_regular(&path)
            .and_then(|file| {
                stat(&file.metadata()?);
                let mut validation = validate::validate_open(file, shape_for(class.kind, class.checkpoint_step))?;
                consistency::compact(class.kind, &mut validation.captures);
                Ok(validation)
            })
            .map(Some)
    } else {
        std::fs::symlink_metadata(&path).and_then(|meta| {
            stat(&meta);
            match class.kind {
                FileKind::Temp => validate_temp(&path, &class, &|p: &Path| no_follow::open_regular(p)),
                _ => Ok(None),
            }
        })
    };
    let code_page = match (&outcome, RawText::of(class.kind, &path)) {
        (Ok(Some(v)), Some(RawText::Json(kind)))
            if v.problem.as_ref().is_some_and(|p| p.kind == FindingKind::InvalidUtf8) =>
        {
            code_page_of_json(&path, kind, size)
        }
        // Markdown is not validated, only sniffed, and only where a scan dir owns it. A file
        // that cannot be read is left alone, as check always has for files it does not parse.
        (Ok(None), Some(RawText::Markdown)) if scan_dir.is_some() => {
            match no_follow::open_regular(&path).and_then(cp1252::sniff) {
                Ok(Sniffed::Cp1252) => Some(CodePage::Cp1252),
                _ => None,
            }
        }
        _ => None,
    };
    let outcome = outcome.map_err(|e| e.to_string());
    Examined { path, class, scan_dir, size, modified, mode, outcome, code_page }
}

/// Reads a raw JSON output that is not UTF-8 again (rare: only Windows-era and damaged files)
/// and judges its bytes as `migrate` does. One too large to hold is only sniffed.
fn code_page_of_json(path: &Path, kind: FileKind, size: u64) -> Option<CodePage> {
    use std::io::Read;
    let mut file = no_follow::open_regular(path).ok()?;
    if size > validate::IN_MEMORY_LIMIT {
        return match cp1252::sniff(&mut file).ok()? {
            Sniffed::Cp1252 => Some(CodePage::Cp1252),
            _ => Some(CodePage::Neither),
        };
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    match cp1252::judge(&bytes, RawText::Json(kind), shape_for(kind, None)) {
        Verdict::Convert(_) => Some(CodePage::Cp1252),
        Verdict::Damaged(problem) => Some(CodePage::Cp1252Damaged(problem)),
        Verdict::Undefined(_) => Some(CodePage::Neither),
        Verdict::DamagedUtf8 { .. } => Some(CodePage::DamagedUtf8),
        // Changed since it was validated.
        Verdict::Utf8 => None,
    }
}

/// How a file's content is opened for reading. `check` opens by path
/// ([`no_follow::open_regular`]); `clean` opens relative to a directory handle and refuses
/// anything but the regular file it judged.
pub type Opener<'a> = &'a dyn Fn(&Path) -> io::Result<std::fs::File>;

/// Validates a classified file the way `check` does: a temp by [`validate_temp`], a JSON file
/// against its kind's shape, anything else not at all (`Ok(None)`).
pub fn validate_classified(path: &Path, class: &Classified, open: Opener<'_>) -> io::Result<Option<Validation>> {
    match class.kind {
        FileKind::Temp => validate_temp(path, class, open),
        kind if kind.is_json() => {
            validate::validate_open(open(path)?, shape_for(kind, class.checkpoint_step)).map(Some)
        }
        _ => Ok(None),
    }
}

/// The document a temp file holds, checked against its target's shape when the name says
/// what the target is. An atomicwrites dir holds its document in `tmpfile.tmp`.
pub fn validate_temp(path: &Path, class: &Classified, open: Opener<'_>) -> io::Result<Option<Validation>> {
    let content = match class.temp.as_ref().map(|t| t.writer) {
        Some(layout::TempWriter::AtomicWrites) => {
            let inner = path.join(ATOMICWRITES_FILE);
            match std::fs::symlink_metadata(&inner) {
                Ok(meta) if meta.is_file() => inner,
                Ok(_) => return Ok(None),
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(error) => return Err(error),
            }
        }
        _ => path.to_path_buf(),
    };
    let target_kind = class.temp.as_ref().and_then(|t| t.target.as_deref()).map(|target| target_kind(path, target));
    let validation = match target_kind {
        Some(kind) => validate::validate_open(open(&content)?, shape_for(kind, None))?,
        None => validate::validate_open(open(&content)?, &any_recording_keys())?,
    };
    if target_kind.is_none() && validation.is_valid() {
        // The name does not say: let the content (and, for today's write_json temp, the
        // directory) tell, and hold it to that kind's shape.
        let writer = class.temp.as_ref().map(|t| t.writer);
        let kinds = temp_kinds(writer, path, &validation.captures);
        if let Some((kind, step)) = kinds.first().filter(|_| kinds.len() == 1).map(|c| (c.kind, c.step)) {
            return validate::validate_open(open(&content)?, shape_for(kind, step)).map(Some);
        }
        // Several kinds fit (dataset.json or dataset_enhanced.json): the shape they share.
        if let Some(kind) = kinds.first().map(|c| c.kind) {
            return validate::validate_open(open(&content)?, shape_for(kind, None)).map(Some);
        }
    }
    Ok(Some(validation))
}

/// A file a temp may have been written for, told from its content and directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempCandidate {
    pub kind: FileKind,
    /// The checkpoint dir's step, for a temp inside one.
    pub step: Option<CheckpointStep>,
    /// The target's file name in the temp's directory, when the content tells it.
    pub name: Option<String>,
}

/// The targets a temp whose name does not say could have been written for, from the top-level
/// keys of the complete document it holds (`captures`) and its directory. Today's
/// `write_json` temp (`.tmp-XXXXXXXX.tmp`) sits beside its target: inside a `*_checkpoints/`
/// dir it is a unit checkpoint (named by its `id`), `_summary.json` or `_fingerprint.json`;
/// in the scan dir an output, and since `write_json` writes both `dataset.json` and
/// `dataset_enhanced.json`, a dataset-shaped document is either. One candidate, or none, is
/// what a promotion needs; repair and clean ask the same question.
pub fn temp_kinds(writer: Option<TempWriter>, path: &Path, captures: &Captures) -> Vec<TempCandidate> {
    let has = |key: &str| captures.top_level_keys.iter().any(|k| k == key);
    let parent = path.parent().map(layout::file_name).unwrap_or_default();
    if writer == Some(TempWriter::WriteJson) {
        if let Some(step) = CheckpointStep::from_dir_name(&parent) {
            let (kind, name) = if has("scheme_version") && has("key_digest") {
                (FileKind::CheckpointFingerprint, Some(crate::layout::reserved_names::FINGERPRINT_FILE.to_string()))
            } else if has("phase") && has("total_units") {
                (FileKind::CheckpointSummary, Some(crate::layout::reserved_names::SUMMARY_FILE.to_string()))
            } else if has("id") {
                let id = captures.get("id").and_then(Captured::as_str);
                (FileKind::Checkpoint, id.map(checkpoint_file_name))
            } else {
                return Vec::new();
            };
            return vec![TempCandidate { kind, step: Some(step), name }];
        }
    }
    let Some(kind) = sniff_kind(captures) else { return Vec::new() };
    let candidate = |kind: FileKind| TempCandidate { kind, step: None, name: default_name(kind) };
    if writer == Some(TempWriter::WriteJson) && kind == FileKind::DatasetEnhanced {
        return vec![candidate(FileKind::Dataset), candidate(FileKind::DatasetEnhanced)];
    }
    vec![candidate(kind)]
}

/// The file inside atomicwrites' `.atomicwriteXXXXXX/` temp dir that holds the document.
pub const ATOMICWRITES_FILE: &str = "tmpfile.tmp";

/// The kind the target of a temp file in the same directory would have.
fn target_kind(temp: &Path, target: &str) -> FileKind {
    let target_path = temp.with_file_name(target);
    let kind = layout::classify_file(&target_path, temp.parent(), &|_| false).kind;
    if kind == FileKind::Other {
        FileKind::GenericJson
    } else {
        kind
    }
}

/// Guesses which OpenAnt output a complete document is, from its top-level keys.
fn sniff_kind(captures: &Captures) -> Option<FileKind> {
    let has = |key: &str| captures.top_level_keys.iter().any(|k| k == key);
    Some(if has("scheme_version") && has("key_digest") {
        FileKind::CheckpointFingerprint
    } else if has("verify") && has("results") {
        FileKind::ResultsVerified
    } else if has("metrics") && has("results") && has("code_by_route") {
        FileKind::Results
    } else if has("findings") && has("pipeline_stats") {
        FileKind::PipelineOutput
    } else if has("units") && has("metadata") {
        FileKind::DatasetEnhanced
    } else if has("step") && has("status") && has("outputs") {
        FileKind::StepReport
    } else if (has("results") && has("counts")) || has("completed_keys") {
        FileKind::LegacyCheckpoint
    } else {
        return None;
    })
}

fn file_findings(file: &Examined, validation: &Validation) -> Vec<Finding> {
    let scan_dir = file.scan_dir.clone();
    if let Some(problem) = &validation.problem {
        let Problem { kind, location, message } = problem;
        let mut message = format!("{}: {message}", file.class.kind.describe());
        let mut fix = fix_for_damage(file);
        match &file.code_page {
            Some(CodePage::Cp1252) => {
                message.push_str(
                    "; it is cp1252 text from a Windows scan before 3cdca87, which current OpenAnt cannot read",
                );
                fix = scan_dir.as_deref().map(migrate_command);
            }
            Some(CodePage::Cp1252Damaged(damage)) => message.push_str(&format!(
                "; it decodes as cp1252 (written on Windows before 3cdca87) but is damaged besides: {}: {}",
                damage.kind, damage.message
            )),
            Some(CodePage::DamagedUtf8) => message.push_str(
                "; the rest of the file is UTF-8 (it holds valid multibyte characters), so these are damaged bytes, not a Windows code page",
            ),
            Some(CodePage::Neither) | None => {}
        }
        match file.class.kind {
            FileKind::CheckpointFingerprint => message.push_str(&fingerprint_damage_note(file)),
            FileKind::ResultsArchive | FileKind::SupersededCheckpoint => message.push_str(
                "; it is an archive today's OpenAnt left on purpose and never reads again: nothing depends on it, and no command rebuilds it",
            ),
            _ => {}
        }
        return vec![Finding::new(*kind, &file.path, message)
            .scan_dir(scan_dir.clone())
            .file_kind(file.class.kind)
            .location(*location)
            .fix(fix)];
    }
    let mut findings = unknown_era_findings(file, &validation.captures);
    match file.class.kind {
        FileKind::Checkpoint => findings.extend(checkpoint_id_findings(file, &validation.captures)),
        FileKind::CheckpointFingerprint if findings.is_empty() => {
            findings.extend(fingerprint_key_findings(file, &validation.captures))
        }
        _ => {}
    }
    findings
}

/// A file whose content carries a marker no known OpenAnt writes (`era::content_markers`:
/// an output key or metric, a step status, a sidecar scheme): a newer OpenAnt than scanaudit
/// knows wrote it. Not damage (info); the rules that depend on its era skip it.
fn unknown_era_findings(file: &Examined, captures: &Captures) -> Vec<Finding> {
    // Only what each marker is goes into the message (the finding names the file by its path),
    // so no per-file relative path is built on this path every file takes.
    let markers = crate::era::content_markers(file.class.kind, "", captures);
    let unknown: Vec<String> = markers.iter().filter(|m| m.unknown()).map(|m| m.what.clone()).collect();
    if unknown.is_empty() {
        return Vec::new();
    }
    let message = format!(
        "{}: written by a newer OpenAnt than scanaudit knows: {}; upgrade scanaudit (the rules that depend on this file's format are skipped for it)",
        file.class.kind.describe(),
        unknown.join(", ")
    );
    vec![Finding::new(FindingKind::UnknownEra, &file.path, message)
        .scan_dir(file.scan_dir.clone())
        .file_kind(file.class.kind)]
}

/// What a damaged identity sidecar means (identity-gate era, `core/checkpoint.py`
/// `sync_identity`): not a repair rebuild, because its `key_digest` covers the model and
/// prompt settings the checkpoints were made with, which no other file records.
fn fingerprint_damage_note(file: &Examined) -> String {
    let dir = file.path.parent().map(layout::file_name).unwrap_or_default();
    let verb = file.class.checkpoint_step.and_then(CheckpointStep::openant_verb).unwrap_or("scan");
    format!(
        "; {} treats a corrupt sidecar as an identity mismatch: the next `openant {verb}` moves all of {dir}/ aside to {dir}.superseded-<hex> (kept, never read again) and redoes, paying again, every unit. scanaudit cannot rebuild it (its key_digest covers the model and prompt settings these checkpoints were made with). If those settings are unchanged, moving the torn sidecar out of {dir}/ instead makes OpenAnt adopt the checkpoints as legacy and write a new one",
        crate::era::Era::IdentityGate.describe()
    )
}

/// A scheme-2 sidecar must hold that scheme's keys (scheme 1's exact key set is not recorded,
/// so a scheme-1 sidecar is held to its shape only).
fn fingerprint_key_findings(file: &Examined, captures: &Captures) -> Vec<Finding> {
    let scheme = captures.get(layout::shapes::tag::SCHEME_VERSION).and_then(Captured::as_f64);
    if scheme != Some(crate::era::FINGERPRINT_SCHEME_WITH_KNOWN_KEYS as f64) {
        return Vec::new();
    }
    let missing: Vec<&str> = layout::shapes::FINGERPRINT_V2_KEYS
        .iter()
        .copied()
        .filter(|k| !captures.top_level_keys.iter().any(|have| have == k))
        .collect();
    if missing.is_empty() {
        return Vec::new();
    }
    let keys: Vec<String> = missing.iter().map(|k| format!("\"{k}\"")).collect();
    let message = format!(
        "{}: $: missing required {} {} of scheme_version 2{}",
        file.class.kind.describe(),
        if missing.len() == 1 { "key" } else { "keys" },
        keys.join(", "),
        fingerprint_damage_note(file)
    );
    vec![Finding::new(FindingKind::Schema, &file.path, message)
        .scan_dir(file.scan_dir.clone())
        .file_kind(file.class.kind)
        .fix(fix_for_damage(file))]
}

/// `id` must be present, a string, and name the file (spec §2.2).
fn checkpoint_id_findings(file: &Examined, captures: &Captures) -> Vec<Finding> {
    let finding = |kind, message: String| {
        Finding::new(kind, &file.path, message).scan_dir(file.scan_dir.clone()).file_kind(FileKind::Checkpoint)
    };
    let fix_repair = file.scan_dir.as_deref().map(repair_command);
    match captures.get("id") {
        None => vec![finding(
            FindingKind::CheckpointMissingId,
            "checkpoint has no \"id\": OpenAnt cannot tell which unit it belongs to and redoes the unit".into(),
        )
        .fix(fix_repair)],
        Some(Captured::Str(id)) => {
            let expected = checkpoint_file_name(id);
            let actual = layout::file_name(&file.path);
            if is_checkpoint_name_for(&actual, id) {
                return Vec::new();
            }
            let sibling = file.path.with_file_name(&expected);
            let (message, fix) = if sibling.exists() {
                (
                    format!("holds unit \"{id}\", whose checkpoint is {expected}, which also exists: two unit ids collide, or this is a copy that OpenAnt may load instead of the real one"),
                    fix_repair,
                )
            } else {
                (
                    format!("holds unit \"{id}\", which OpenAnt names {expected}"),
                    Some(format!("mv -n {} {}", shell_quote(&file.path), shell_quote(&sibling))),
                )
            };
            vec![finding(FindingKind::CheckpointNameMismatch, message).fix(fix)]
        }
        Some(other) => vec![finding(
            FindingKind::Schema,
            format!("checkpoint: $.id: expected a string, found {}", other.json_type().name()),
        )
        .fix(fix_repair)],
    }
}

fn temp_finding(
    file: &Examined,
    validation: Option<&Validation>,
    by_path: &HashMap<&Path, &Examined>,
    now: SystemTime,
) -> Finding {
    let temp: &TempName = file.class.temp.as_ref().expect("temp files carry their name");
    let age = file.modified.and_then(|t| now.duration_since(t).ok());
    let young = age.is_none_or(|age| age < TEMP_GRACE);
    let dir = file.path.parent().unwrap_or(Path::new("."));
    let fix_dir = file.scan_dir.as_deref().unwrap_or(dir);

    let assessment = assess_temp(temp, &file.path, validation, &|name| {
        let target_path = dir.join(name);
        match by_path.get(target_path.as_path()) {
            None => TargetState::Missing,
            Some(t) => TargetState::of(&t.outcome),
        }
    });

    let mut message = format!("left by {}", temp.writer.describe());
    message.push_str(&assessment.writing());
    if let Some(age) = age {
        message.push_str(&format!(", {} ago", human_age(age)));
    }
    message.push_str(&format!("; {}", assessment.content));
    let fix = if assessment.salvageable() {
        message.push_str(&format!(" and {}", assessment.salvage_note()));
        repair_command(fix_dir)
    } else {
        if let (Some(name), Some(TargetState::Healthy)) = (assessment.target.as_deref(), assessment.target_state) {
            message.push_str(&format!("; {name} is intact"));
        }
        if let Some(note) = assessment.not_promoted_note() {
            message.push_str(&format!("; {note}"));
        }
        format!("scanaudit clean {}", shell_quote(dir))
    };
    let level = if young {
        message.push_str(" (younger than an hour: a write may still be in progress)");
        Level::Info
    } else {
        Level::Warn
    };
    Finding::new(FindingKind::StrayTemp, &file.path, message)
        .level(level)
        .scan_dir(file.scan_dir.clone())
        .file_kind(FileKind::Temp)
        .location(None::<Location>)
        .fix(Some(fix))
}

/// The state of the file a temp was meant to replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    Missing,
    Broken,
    Healthy,
}

impl TargetState {
    /// The state of a target that exists, from how its validation went.
    pub fn of(outcome: &Result<Option<Validation>, String>) -> TargetState {
        match outcome {
            Ok(Some(v)) if !v.is_valid() => TargetState::Broken,
            Err(_) => TargetState::Broken,
            _ => TargetState::Healthy,
        }
    }
}

/// What a temp file is worth: who wrote it, for which target, whether it holds a complete
/// document, and how the target is. `check` reports it; `clean` keeps a salvageable temp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempAssessment {
    /// The target the temp's name carries.
    pub named_target: Option<String>,
    /// Where the name does not say and several targets fit the content, all of them: then
    /// `target` is `None` and nothing is promoted.
    pub candidates: Vec<String>,
    /// The temp sits in a `*_checkpoints/` dir: never promoted (checkpoints are per unit,
    /// OpenAnt redoes a unit without one), only explained and left to `clean`.
    pub in_checkpoint_dir: bool,
    /// The target: named, or guessed from the kind of the complete document it holds.
    pub target: Option<String>,
    pub target_state: Option<TargetState>,
    /// It holds a complete, valid document.
    pub complete: bool,
    /// "holds nothing", "holds a complete, valid document", "holds an incomplete document (...)".
    pub content: String,
}

impl TempAssessment {
    /// Complete, and its target is missing or broken: the temp may be the only good copy.
    pub fn salvageable(&self) -> bool {
        !self.in_checkpoint_dir
            && self.complete
            && matches!(self.target_state, Some(TargetState::Missing | TargetState::Broken))
    }

    /// " while writing results.json", ", probably while writing results.json" or "".
    pub fn writing(&self) -> String {
        match (&self.named_target, &self.target) {
            (Some(t), _) => format!(" while writing {t}"),
            (None, Some(t)) => format!(", probably while writing {t}"),
            (None, None) if !self.candidates.is_empty() => {
                format!(", while writing one of {} (its content fits each)", self.candidates.join(", "))
            }
            (None, None) => String::new(),
        }
    }

    /// Why a complete temp whose target is missing or damaged is still not promoted.
    pub fn not_promoted_note(&self) -> Option<String> {
        let missing = matches!(self.target_state, Some(TargetState::Missing | TargetState::Broken));
        if !self.complete || self.salvageable() {
            return None;
        }
        if self.in_checkpoint_dir && missing {
            let name = self.target.as_deref().unwrap_or("its target");
            let state = if self.target_state == Some(TargetState::Missing) { "missing" } else { "damaged" };
            return Some(format!(
                "{name} is {state}, but a temp inside a checkpoint dir is never promoted: OpenAnt redoes a unit it has no checkpoint for"
            ));
        }
        (!self.candidates.is_empty())
            .then(|| "several targets fit its content, so repair cannot tell which one to restore from it".to_string())
    }

    /// "results.json is missing: repair can restore it from this file".
    pub fn salvage_note(&self) -> String {
        let name = self.target.as_deref().unwrap_or("the target");
        let state = if self.target_state == Some(TargetState::Missing) { "missing" } else { "damaged" };
        format!("{name} is {state}: repair can restore it from this file")
    }
}

/// Assesses a temp from its name and what [`validate_temp`] found in it; `target_state` tells
/// the state of a target, by file name in the temp's directory.
pub fn assess_temp(
    temp: &TempName,
    path: &Path,
    validation: Option<&Validation>,
    target_state: &dyn Fn(&str) -> TargetState,
) -> TempAssessment {
    let complete = validation.is_some_and(Validation::is_valid);
    let candidates: Vec<TempCandidate> = match validation.filter(|v| v.is_valid()) {
        Some(v) if temp.target.is_none() => temp_kinds(Some(temp.writer), path, &v.captures),
        _ => Vec::new(),
    };
    let in_checkpoint_dir = temp.writer == TempWriter::WriteJson
        && path.parent().is_some_and(|p| CheckpointStep::from_dir_name(&layout::file_name(p)).is_some());
    let target = temp.target.clone().or_else(|| match candidates.as_slice() {
        [one] => one.name.clone(),
        _ => None,
    });
    // A torn write_json temp: its readable prefix may still tell the target (never promoted).
    let target = target.or_else(|| match validation {
        Some(v) if !v.is_valid() && temp.writer == TempWriter::WriteJson => torn_target(path, &v.captures),
        _ => None,
    });
    let candidates: Vec<String> =
        if candidates.len() > 1 { candidates.into_iter().filter_map(|c| c.name).collect() } else { Vec::new() };
    let content = match validation {
        None => "holds nothing".to_string(),
        Some(v) if v.is_valid() => "holds a complete, valid document".to_string(),
        Some(v) => {
            format!("holds an incomplete document ({})", v.problem.as_ref().map_or("unreadable", |p| p.kind.as_str()))
        }
    };
    TempAssessment {
        named_target: temp.target.clone(),
        candidates,
        in_checkpoint_dir,
        target_state: target.as_deref().map(target_state),
        target,
        complete,
        content,
    }
}

/// The target of a torn `write_json` temp, from the top-level keys before the tear
/// (`json.dump` writes keys in the writer's order: `results.json` starts `dataset, model,
/// provider`, `results_verified.json` has `verify` before its rows, `pipeline_output.json`
/// starts `repository, analysis_date`; a sidecar starts `scheme_version`, a summary `step,
/// phase`). `None` when the prefix does not tell.
fn torn_target(path: &Path, captures: &Captures) -> Option<String> {
    let has = |key: &str| captures.top_level_keys.iter().any(|k| k == key);
    let parent = path.parent().map(layout::file_name).unwrap_or_default();
    let name = if CheckpointStep::from_dir_name(&parent).is_some() {
        if has("scheme_version") {
            crate::layout::reserved_names::FINGERPRINT_FILE
        } else if has("step") && has("phase") {
            crate::layout::reserved_names::SUMMARY_FILE
        } else {
            return None;
        }
    } else if has("verify") {
        "results_verified.json"
    } else if has("provider") || has("analyze_fingerprint") {
        "results.json"
    } else if has("repository") && has("analysis_date") {
        "pipeline_output.json"
    } else {
        return None;
    };
    Some(name.to_string())
}

fn default_name(kind: FileKind) -> Option<String> {
    Some(
        match kind {
            FileKind::ResultsVerified => "results_verified.json",
            FileKind::Results => "results.json",
            FileKind::PipelineOutput => "pipeline_output.json",
            FileKind::DatasetEnhanced => "dataset_enhanced.json",
            FileKind::Dataset => "dataset.json",
            _ => return None,
        }
        .to_string(),
    )
}

/// The command that upgrades the old formats of a scan dir.
pub fn migrate_command(scan_dir: &Path) -> String {
    format!("scanaudit migrate {}", shell_quote(scan_dir))
}

/// The command that rebuilds what is damaged or stale in a scan dir: the `fix` of every
/// finding that is `scanaudit repair`'s to fix.
pub fn repair_command(scan_dir: &Path) -> String {
    format!("scanaudit repair {}", shell_quote(scan_dir))
}

/// Whether a finding's `fix` makes it `scanaudit repair`'s to fix: what repair acts on, and
/// what no check after a repair may still report.
pub fn is_repair_command(fix: &str) -> bool {
    fix.starts_with("scanaudit repair ")
}

/// The fix of a missing or damaged rebuildable output: [`repair_command`], unless a rebuild
/// would recover nothing of the step's results ([`crate::recoverable::nothing_holds`], which
/// repair's plan asks too, so the two agree): then the `openant` step that produces it.
pub fn fix_for_output(scan_dir: &Path, kind: FileKind) -> String {
    match crate::recoverable::nothing_holds(scan_dir, kind, &|_| false) {
        Some(nothing) => nothing.fix(),
        None => repair_command(scan_dir),
    }
}

/// The next command for a damaged file (design.md "Findings").
fn fix_for_damage(file: &Examined) -> Option<String> {
    let scan_dir = file.scan_dir.as_deref();
    let repair = || scan_dir.map(repair_command);
    let kind = file.class.kind;
    if kind.is_rebuildable() {
        return scan_dir.map(|dir| fix_for_output(dir, kind));
    }
    if kind == FileKind::Checkpoint {
        return repair();
    }
    let verb = match kind {
        FileKind::Dataset | FileKind::AnalyzerOutput | FileKind::CallGraph | FileKind::DiffFilterReport => "parse",
        FileKind::ApplicationContext => "generate-context",
        FileKind::LlmReachability | FileKind::ScanMeta | FileKind::DiffManifest => "scan",
        FileKind::Project => "init",
        FileKind::CheckpointSummary | FileKind::CheckpointFingerprint => {
            file.class.checkpoint_step.and_then(|s| s.openant_verb())?
        }
        FileKind::StepReport => {
            let name = layout::file_name(&file.path);
            let step = name.strip_suffix(".report.json").unwrap_or(&name).to_string();
            return layout::STEP_NAMES.contains(&step.as_str()).then(|| format!("openant {step}"));
        }
        _ => return None,
    };
    Some(format!("openant {verb}"))
}

pub fn human_age(age: Duration) -> String {
    let secs = age.as_secs();
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// Quotes a path for a POSIX shell only when it needs it.
pub fn shell_quote(path: &Path) -> String {
    let text = path.to_string_lossy();
    let safe = !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-./:@%+=,".contains(&b));
    if safe {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote(Path::new("a/b-c.json")), "a/b-c.json");
        assert_eq!(shell_quote(Path::new("a b/it's")), r"'a b/it'\''s'");
    }

    fn keys(json: &str) -> Captures {
        crate::validate::validate_bytes(json.as_bytes(), &any_recording_keys()).captures
    }

    #[test]
    fn write_json_temps_are_told_by_content_and_directory() {
        let w = Some(TempWriter::WriteJson);
        let cp = Path::new("s/analyze_checkpoints/.tmp-abcdefgh.tmp");
        let sidecar = temp_kinds(w, cp, &keys(r#"{"scheme_version": 2, "phase": "analyze", "key_digest": "x"}"#));
        assert_eq!(sidecar[0].kind, FileKind::CheckpointFingerprint);
        assert_eq!(sidecar[0].name.as_deref(), Some("_fingerprint.json"));
        let summary = temp_kinds(w, cp, &keys(r#"{"step": "Analyze", "phase": "done", "total_units": 1}"#));
        assert_eq!(summary[0].name.as_deref(), Some("_summary.json"));
        // A unit checkpoint is named by its id once its shape has captured it.
        let v = crate::validate::validate_bytes(
            br#"{"result": {"verdict": "SAFE"}, "id": "src/a.py:f"}"#,
            shape_for(FileKind::Checkpoint, Some(CheckpointStep::Analyze)),
        );
        let unit = temp_kinds(w, cp, &v.captures);
        assert_eq!((unit[0].kind, unit[0].name.as_deref()), (FileKind::Checkpoint, Some("src__a.py_f.json")));
        assert_eq!(unit[0].step, Some(CheckpointStep::Analyze));
        let top = Path::new("s/.tmp-abcdefgh.tmp");
        let results =
            temp_kinds(w, top, &keys(r#"{"metrics": {}, "results": [], "code_by_route": {}, "provider": "p"}"#));
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].name.as_deref(), Some("results.json"));
        let dataset = temp_kinds(w, top, &keys(r#"{"units": [], "metadata": {}}"#));
        let names: Vec<_> = dataset.iter().map(|c| c.name.as_deref().unwrap()).collect();
        assert_eq!(names, ["dataset.json", "dataset_enhanced.json"]);
        // The fork's temp keeps its older reading: only dataset_enhanced.json.
        assert_eq!(temp_kinds(Some(TempWriter::OpenAntFork), top, &keys(r#"{"units": [], "metadata": {}}"#)).len(), 1);
    }

    #[test]
    fn a_torn_write_json_temp_is_explained_from_its_prefix() {
        let temp = TempName { writer: TempWriter::WriteJson, target: None };
        let assess = |path: &str, json: &str| {
            let v = crate::validate::validate_bytes(json.as_bytes(), &any_recording_keys());
            assert!(!v.is_valid());
            assess_temp(&temp, Path::new(path), Some(&v), &|_| TargetState::Missing)
        };
        let a = assess("s/.tmp-abcdefgh.tmp", r#"{"dataset": "d", "model": "m", "provider": "p", "metr"#);
        assert_eq!(a.target.as_deref(), Some("results.json"));
        assert!(!a.salvageable());
        assert_eq!(a.writing(), ", probably while writing results.json");
        let a = assess("s/verify_checkpoints/.tmp-abcdefgh.tmp", r#"{"scheme_version": 2, "pha"#);
        assert_eq!(a.target.as_deref(), Some("_fingerprint.json"));
        let a = assess("s/verify_checkpoints/.tmp-abcdefgh.tmp", r#"{"verification": {"agr"#);
        assert_eq!(a.target, None);
        assert_eq!(assess("s/.tmp-abcdefgh.tmp", "").target, None);
    }

    #[test]
    fn a_temp_in_a_checkpoint_dir_is_never_salvageable() {
        let temp = TempName { writer: TempWriter::WriteJson, target: None };
        let json = br#"{"result": {"verdict": "SAFE"}, "id": "a"}"#;
        let v = crate::validate::validate_bytes(json, shape_for(FileKind::Checkpoint, Some(CheckpointStep::Analyze)));
        let path = Path::new("s/analyze_checkpoints/.tmp-abcdefgh.tmp");
        let a = assess_temp(&temp, path, Some(&v), &|_| TargetState::Missing);
        assert_eq!(a.target.as_deref(), Some("a.json"));
        assert!(a.complete && a.in_checkpoint_dir && !a.salvageable());
        assert!(a.not_promoted_note().unwrap().contains("never promoted"));
        let v = crate::validate::validate_bytes(br#"{"units": [], "metadata": {}}"#, &any_recording_keys());
        let a = assess_temp(&temp, Path::new("s/.tmp-abcdefgh.tmp"), Some(&v), &|_| TargetState::Missing);
        assert_eq!(a.target, None);
        assert!(!a.salvageable());
        assert!(a.writing().contains("dataset.json, dataset_enhanced.json"));
    }

    #[test]
    fn ages() {
        assert_eq!(human_age(Duration::from_secs(59)), "59s");
        assert_eq!(human_age(Duration::from_secs(3 * 3600 + 12 * 60)), "3h 12m");
        assert_eq!(human_age(Duration::from_secs(2 * 86_400 + 3600)), "2d 1h");
    }
}
