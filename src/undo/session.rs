//! Reading one backup session for `scanaudit undo`, and refusing it when it cannot be trusted:
//! the manifest is opened without following a symlink anywhere from the scan dir down, parsed
//! whole (a torn manifest is refused), every path it names must stay inside the scan dir
//! (relative, no `..`, no NUL, not scanaudit's own state, no symlink on the way), and every
//! backup copy undo would put back must still hash to what the manifest says (an edited backup
//! or manifest is refused). A refused session is never partly undone.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::backup::{
    file_sha256, read_manifest_bytes, BackupAction, BackupEntry, BackupMethod, Change, Manifest, MANIFEST_NAME,
};
use crate::fsx::{AtomicError, Dir};
use crate::layout::state_names::{BACKUPS_DIR, STATE_DIR};
use crate::no_follow::open_regular_in;

/// A session as `undo --list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    /// The session directory's name (what `--session` takes).
    pub session: String,
    #[serde(flatten, serialize_with = "crate::json_path::path")]
    pub path: PathBuf,
    /// When the session began (RFC 3339 UTC), from its manifest.
    pub created_at: Option<String>,
    /// The verb that wrote it; for manifests older than the `verb` field, what its entries say.
    pub verb: Option<String>,
    /// For an undo: the session it undid.
    pub undoes: Option<String>,
    /// False: the run was stopped while it was writing.
    pub complete: Option<bool>,
    /// Files the session backed up, created or changed.
    pub files: usize,
    /// Bytes of the backup copies.
    pub bytes: u64,
    /// Why the manifest cannot be read (then the other fields are empty).
    pub problem: Option<String>,
}

/// A session read and checked, ready to plan from.
#[derive(Debug)]
pub struct Loaded {
    pub name: String,
    /// The session directory.
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// What the session changed, in the order it changed it.
    pub changes: Vec<Change>,
    /// Written before manifests recorded `changes`: only files are known (not renames,
    /// directories or modes).
    pub legacy: bool,
}

impl Loaded {
    /// The verb that wrote the session, as the plan names it.
    pub fn verb(&self) -> &str {
        self.manifest.verb.as_deref().unwrap_or_else(|| inferred_verb(&self.manifest.entries).unwrap_or("session"))
    }

    /// Where the backup copy of `entry` is.
    pub fn backup_path(&self, entry: &BackupEntry) -> PathBuf {
        self.dir.join(&entry.backup_path)
    }
}

/// The session names under `<scan_dir>/.scanaudit/backups/`, oldest first (by the time the
/// name spells, then the `-N` suffix); names that are no session stamp are left out.
pub fn session_names(scan_dir: &Path) -> Vec<String> {
    let backups = scan_dir.join(STATE_DIR).join(BACKUPS_DIR);
    if !crate::no_follow::is_dir(&scan_dir.join(STATE_DIR)) {
        return Vec::new();
    }
    let Ok(listed) = crate::no_follow::list_dir(&backups) else { return Vec::new() };
    let mut names: Vec<String> = listed
        .into_iter()
        .filter(|e| e.kind == crate::no_follow::EntryKind::Dir)
        .filter_map(|e| e.name.to_str().map(str::to_string))
        .filter(|name| crate::backup_prune::backup_stamp(name).is_some())
        .collect();
    names.sort_by_key(|name| order_key(name));
    names
}

fn order_key(name: &str) -> (String, u32) {
    match name.split_once('-') {
        Some((stamp, n)) => (stamp.to_string(), n.parse().unwrap_or(u32::MAX)),
        None => (name.to_string(), 1),
    }
}

/// The directory of the session `name` of `scan_dir`.
pub fn session_path(scan_dir: &Path, name: &str) -> PathBuf {
    scan_dir.join(STATE_DIR).join(BACKUPS_DIR).join(name)
}

/// What `--list` says of the session `name` in `scan_dir`.
pub fn info(scan_dir: &Path, name: &str) -> SessionInfo {
    let path = session_path(scan_dir, name);
    let mut info = SessionInfo {
        session: name.to_string(),
        path,
        created_at: None,
        verb: None,
        undoes: None,
        complete: None,
        files: 0,
        bytes: 0,
        problem: None,
    };
    match read_manifest(scan_dir, name) {
        Ok((_, manifest)) => {
            let mut files: Vec<&str> = manifest.entries.iter().map(|e| e.path.as_str()).collect();
            files.extend(manifest.written.iter().map(|w| w.path.as_str()));
            files.extend(manifest.changes.iter().flat_map(change_paths));
            files.sort_unstable();
            files.dedup();
            info.files = files.len();
            info.bytes = manifest.entries.iter().map(|e| e.bytes).sum();
            info.verb = manifest.verb.clone().or_else(|| inferred_verb(&manifest.entries).map(str::to_string));
            info.undoes = manifest.undoes.clone();
            info.complete = Some(manifest.complete);
            info.created_at = Some(manifest.created_at);
        }
        Err(problem) => info.problem = Some(problem),
    }
    info
}

/// Reads and checks the session `name` of `scan_dir` (see the module docs). `Err` says what is
/// wrong, naming the manifest.
pub fn load(scan_dir: &Path, name: &str) -> Result<Loaded, String> {
    let (session_dir, manifest) = read_manifest(scan_dir, name)?;
    let manifest_path = session_dir.path().join(MANIFEST_NAME);
    let refuse = |what: String| format!("{}: refused: {what}; nothing was changed", manifest_path.display());
    let legacy = manifest.verb.is_none() && manifest.changes.is_empty();
    let changes = if legacy { legacy_changes(&manifest) } else { manifest.changes.clone() };
    let root = Dir::open(scan_dir).map_err(|e| refuse(e.to_string()))?;
    for change in &changes {
        for path in change_paths(change) {
            let comps = safe_components(path).map_err(|why| refuse(format!("it names {path:?}: {why}")))?;
            no_symlink_on_the_way(&root, &comps).map_err(|why| refuse(format!("it names {path:?}: {why}")))?;
        }
        let entry = match change {
            Change::Replace { entry, .. } | Change::Move { entry, .. } => *entry,
            _ => continue,
        };
        let Some(e) = manifest.entries.get(entry) else {
            return Err(refuse(format!("a change names entry {entry}, which the manifest does not have")));
        };
        if change_paths(change).first().copied() != Some(e.path.as_str()) {
            return Err(refuse(format!("entry {entry} is about {:?}, not {:?}", e.path, change_paths(change)[0])));
        }
        let comps = safe_components(&e.backup_path)
            .map_err(|why| refuse(format!("the backup path {:?}: {why}", e.backup_path)))?;
        let (_, sha256) = hash_backup(&session_dir, &comps).map_err(&refuse)?;
        if sha256 != e.old_sha256 {
            return Err(refuse(format!(
                "the backup copy {} hashes to {sha256}, the manifest says {}: one of them was edited",
                e.backup_path, e.old_sha256
            )));
        }
    }
    Ok(Loaded { name: name.to_string(), dir: session_dir.path().to_path_buf(), manifest, changes, legacy })
}

/// The bytes of `entry`'s backup copy in the session `name`, checked against its hash, and
/// the mode to put it back with: the one the manifest recorded, else the copy's own (a copy
/// keeps the original's permission bits).
pub fn read_backup(scan_dir: &Path, name: &str, entry: &BackupEntry) -> Result<(Vec<u8>, u32), String> {
    let session_dir = open_session_dir(scan_dir, name)?;
    let comps = safe_components(&entry.backup_path)?;
    let dir = open_parent(&session_dir, &comps)?;
    let last = comps.last().map(OsString::as_os_str).unwrap_or_default();
    let display = session_dir.path().join(&entry.backup_path);
    let mut file = open_regular_in(&dir, last).map_err(|e| format!("{}: {e}", display.display()))?;
    let copy_mode = file.metadata().map_err(|e| format!("{}: {e}", display.display()))?.permissions().mode();
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| format!("reading {}: {e}", display.display()))?;
    let sha256 = crate::backup::sha256_hex(&bytes);
    if sha256 != entry.old_sha256 {
        return Err(format!("the backup copy {} changed since the plan was made", display.display()));
    }
    Ok((bytes, entry.mode.unwrap_or(copy_mode & 0o7777)))
}

/// The paths a change names, the one it is about first.
pub fn change_paths(change: &Change) -> Vec<&str> {
    match change {
        Change::Replace { path, .. }
        | Change::Create { path, .. }
        | Change::Move { path, .. }
        | Change::CreateDir { path }
        | Change::RemoveDir { path }
        | Change::SetMode { path, .. } => vec![path.as_str()],
        Change::Rename { from, to } => vec![from.as_str(), to.as_str()],
    }
}

/// `path` (relative, `/`-separated) as components; refused when it could leave the directory
/// it is relative to or reach scanaudit's own state.
pub fn safe_components(path: &str) -> Result<Vec<OsString>, String> {
    if path.is_empty() {
        return Err("an empty path".into());
    }
    if path.contains('\0') {
        return Err("a NUL byte in the path".into());
    }
    if path.starts_with('/') {
        return Err("an absolute path, outside the scan dir".into());
    }
    let mut comps = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => return Err("an empty or `.` component".into()),
            ".." => return Err("a `..` component, which leaves the scan dir".into()),
            _ => comps.push(OsString::from(comp)),
        }
    }
    if comps[0] == STATE_DIR {
        return Err(format!("scanaudit's own state under {STATE_DIR}/"));
    }
    Ok(comps)
}

/// Refuses a symlink among the directories leading to `comps`' last element (a missing one
/// ends the check: nothing below it exists to lead anywhere).
fn no_symlink_on_the_way(root: &Dir, comps: &[OsString]) -> Result<(), String> {
    let mut dir: Option<Dir> = None;
    for c in &comps[..comps.len() - 1] {
        match dir.as_ref().unwrap_or(root).open_child(c) {
            Ok(next) => dir = Some(next),
            Err(AtomicError::Symlink { path }) => {
                return Err(format!("{} is a symbolic link on the way (undo never follows symlinks)", path.display()))
            }
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

fn open_session_dir(scan_dir: &Path, name: &str) -> Result<Dir, String> {
    let comps = safe_components(name).map_err(|why| format!("the session name {name:?}: {why}"))?;
    if comps.len() != 1 {
        return Err(format!("the session name {name:?} is not one directory name"));
    }
    let root = Dir::open(scan_dir).map_err(|e| e.to_string())?;
    let state = root.open_child(OsStr::new(STATE_DIR)).map_err(|e| e.to_string())?;
    let backups = state.open_child(OsStr::new(BACKUPS_DIR)).map_err(|e| e.to_string())?;
    backups.open_child(&comps[0]).map_err(|e| e.to_string())
}

/// The session directory and its parsed manifest.
fn read_manifest(scan_dir: &Path, name: &str) -> Result<(Dir, Manifest), String> {
    let session_dir = open_session_dir(scan_dir, name)?;
    let path = session_dir.path().join(MANIFEST_NAME);
    let file = open_regular_in(&session_dir, OsStr::new(MANIFEST_NAME))
        .map_err(|e| format!("{}: cannot open the manifest: {e}", path.display()))?;
    let bytes = read_manifest_bytes(file).map_err(|e| format!("{}: cannot read the manifest: {e}", path.display()))?;
    let manifest = serde_json::from_slice::<Manifest>(&bytes)
        .map_err(|e| format!("{}: refused: the manifest is torn or not a scanaudit manifest ({e})", path.display()))?;
    Ok((session_dir, manifest))
}

fn open_parent(top: &Dir, comps: &[OsString]) -> Result<Dir, String> {
    let mut dir = top.try_clone().map_err(|e| e.to_string())?;
    for c in &comps[..comps.len() - 1] {
        dir = dir.open_child(c).map_err(|e| e.to_string())?;
    }
    Ok(dir)
}

fn hash_backup(session_dir: &Dir, comps: &[OsString]) -> Result<(u64, String), String> {
    let dir = open_parent(session_dir, comps)?;
    let last = comps.last().map(OsString::as_os_str).unwrap_or_default();
    let display = dir.path().join(last);
    let mut file = open_regular_in(&dir, last).map_err(|e| format!("the backup copy {}: {e}", display.display()))?;
    file_sha256(&mut file, &display).map_err(|e| e.to_string())
}

/// What a manifest written before `changes` existed says the session changed: each replaced
/// file, each file moved into the backup, each file written where no entry says one was
/// replaced (created); in that order. A replaced file's new hash is its entry's, or, when a
/// kill came between the write and the entry's update, the last `written` record of its path
/// (recorded before the write: if the write never came, the file still hashes to its old bytes
/// and the plan leaves it); with neither, nothing was written there.
fn legacy_changes(manifest: &Manifest) -> Vec<Change> {
    let mut changes = Vec::new();
    for (i, e) in manifest.entries.iter().enumerate() {
        let written_last = || manifest.written.iter().rev().find(|w| w.path == e.path).map(|w| &w.sha256);
        match (e.method, e.new_sha256.as_ref().or_else(written_last)) {
            (BackupMethod::Copy, Some(sha256)) => {
                changes.push(Change::Replace { path: e.path.clone(), entry: i, sha256: sha256.clone() })
            }
            (BackupMethod::Move, _) => changes.push(Change::Move { path: e.path.clone(), entry: i }),
            (BackupMethod::Copy, None) => {}
        }
    }
    for w in &manifest.written {
        let replaced = manifest.entries.iter().any(|e| e.path == w.path && e.method == BackupMethod::Copy);
        if !replaced {
            changes.push(Change::Create { path: w.path.clone(), sha256: w.sha256.clone() });
        }
    }
    changes
}

/// The verb a manifest without a `verb` field was written by, from what its entries did.
fn inferred_verb(entries: &[BackupEntry]) -> Option<&'static str> {
    entries.first().map(|e| match e.action {
        BackupAction::Regenerate | BackupAction::PromoteTemp | BackupAction::Quarantine => "repair",
        BackupAction::Migrate => "migrate",
        BackupAction::Undo => "undo",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_scan_dir_are_refused() {
        assert_eq!(safe_components("a/b.json").unwrap(), [OsString::from("a"), OsString::from("b.json")]);
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/\0b", ".scanaudit/lock"] {
            assert!(safe_components(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_legacy_replacement_killed_before_its_new_hash_takes_the_written_hash() {
        let entry = |path: &str, new: Option<&str>| {
            serde_json::json!({"path": path, "action": "regenerate", "reason": "r", "old_sha256": "old",
                "new_sha256": new, "bytes": 1, "backed_up_at": "2026-01-01T00:00:00Z",
                "backup_path": path, "method": "copy"})
        };
        let manifest: Manifest = serde_json::from_value(serde_json::json!({
            "scanaudit": {"version": "0.1.0", "format": 1}, "scan_dir": "/s",
            "created_at": "2026-01-01T00:00:00Z", "complete": false,
            "entries": [entry("a.json", Some("new-a")), entry("b.json", None), entry("c.json", None)],
            "written": [{"path": "b.json", "sha256": "first-b"}, {"path": "b.json", "sha256": "new-b"},
                        {"path": "d.json", "sha256": "new-d"}],
        }))
        .unwrap();
        assert_eq!(
            legacy_changes(&manifest),
            [
                Change::Replace { path: "a.json".into(), entry: 0, sha256: "new-a".into() },
                Change::Replace { path: "b.json".into(), entry: 1, sha256: "new-b".into() },
                Change::Create { path: "d.json".into(), sha256: "new-d".into() },
            ]
        );
    }

    #[test]
    fn sessions_sort_by_stamp_then_suffix() {
        let mut names = vec!["20261101T101010Z-10", "20261101T101010Z-2", "20261101T101010Z", "20251101T101010Z"];
        names.sort_by_key(|n| order_key(n));
        assert_eq!(names, ["20251101T101010Z", "20261101T101010Z", "20261101T101010Z-2", "20261101T101010Z-10"]);
    }
}
