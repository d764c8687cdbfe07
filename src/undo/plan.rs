//! Planning an undo of one session: its changes in reverse order, each compared with what is
//! on disk now. A change whose result is still there is reverted; one that never happened (a
//! run killed before it) or is already reverted needs nothing; anything else is later work,
//! which is kept and reported, never overwritten. Earlier reverts of the same plan are taken
//! into account ([`Overlay`]): a file the session quarantined and then re-created is first
//! removed, then put back.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::session::{safe_components, Loaded};
use crate::backup::{file_sha256, BackupEntry, Change};
use crate::fsx::{Dir, EntryKind};
use crate::no_follow::open_regular_in;

/// One revert, as the plan shows it and apply carries it out.
#[derive(Debug, Clone, Serialize)]
pub struct UndoAction {
    /// The session being undone.
    pub session: String,
    /// What is done: `restore`, `remove`, `put-back`, `rename-back`, `remove-dir`,
    /// `create-dir`, `set-mode`.
    pub undo: &'static str,
    #[serde(flatten, serialize_with = "crate::json_path::target")]
    pub target: PathBuf,
    /// One line: what changes, and why.
    pub reason: String,
    pub notes: Vec<String>,
    #[serde(skip)]
    pub revert: Revert,
}

/// What apply does, with what it expects to find (paths relative to the scan dir).
#[derive(Debug, Clone)]
pub enum Revert {
    /// Put the backup copy of `entry` back over the file, which must hash to `expect`.
    Restore { path: String, expect: String, entry: BackupEntry },
    /// Remove (into this undo's backup) the file the session created, which must hash to `expect`.
    Remove { path: String, expect: String },
    /// Put the file the session moved into its backup back at `path`, where nothing may be.
    PutBack { path: String, entry: BackupEntry },
    /// Rename `from` (where the session moved it) back to `to`, where nothing may be.
    RenameBack { from: String, to: String },
    /// Remove the directory the session made, if it is empty.
    RemoveDir { path: String },
    /// Make again the directory the session removed.
    CreateDir { path: String },
    /// Set the file's mode back from `expect` to `mode`.
    SetMode { path: String, expect: u32, mode: u32 },
}

/// A change undo leaves as it is: later work is there, or nothing to put back.
#[derive(Debug, Clone, Serialize)]
pub struct Kept {
    pub session: String,
    #[serde(flatten, serialize_with = "crate::json_path::path")]
    pub path: PathBuf,
    /// Why it is kept, and where the backup is.
    pub reason: String,
}

/// What is at a path: on disk now, or once the reverts planned so far are done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Now {
    Missing,
    File { sha256: String, mode: u32 },
    Dir,
    Other(&'static str),
}

/// What the reverts planned so far leave at a path.
#[derive(Debug, Clone)]
enum Sim {
    Is(Now),
    /// What was at this other path just before this revert (a rename back).
    MovedFrom(String),
}

/// The planned reverts' effect on paths, on top of the disk.
struct Overlay<'a> {
    root: &'a Dir,
    paths: HashMap<String, Vec<(usize, Sim)>>,
    seq: usize,
}

impl Overlay<'_> {
    fn set(&mut self, path: &str, sim: Sim) {
        self.seq += 1;
        self.paths.entry(path.to_string()).or_default().push((self.seq, sim));
    }

    /// What is at `path` once the reverts planned before `limit` are done.
    fn now(&self, path: &str, limit: usize) -> Result<Now, String> {
        let mut prefix = path;
        loop {
            let latest = self.paths.get(prefix).and_then(|v| v.iter().rev().find(|(seq, _)| *seq < limit));
            if let Some((seq, sim)) = latest {
                let rest = &path[prefix.len()..];
                return match sim {
                    Sim::Is(now) if rest.is_empty() => Ok(now.clone()),
                    // Below a file, or below a dir that does not exist on disk yet.
                    Sim::Is(_) => Ok(Now::Missing),
                    Sim::MovedFrom(from) => self.now(&format!("{from}{rest}"), *seq),
                };
            }
            match prefix.rfind('/') {
                Some(i) => prefix = &path[..i],
                None => return probe(self.root, path),
            }
        }
    }

    fn current(&self, path: &str) -> Result<Now, String> {
        self.now(path, usize::MAX)
    }
}

/// What is at `path` (relative to `root`) on disk; a file is hashed.
pub fn probe(root: &Dir, path: &str) -> Result<Now, String> {
    let comps = safe_components(path)?;
    let mut dir = root.try_clone().map_err(|e| e.to_string())?;
    for c in &comps[..comps.len() - 1] {
        match dir.entry_kind(c).map_err(|e| e.to_string())? {
            EntryKind::Dir => dir = dir.open_child(c).map_err(|e| e.to_string())?,
            EntryKind::Missing => return Ok(Now::Missing),
            EntryKind::Symlink => {
                return Err(format!(
                    "{} is a symbolic link (undo never follows symlinks)",
                    dir.path().join(c).display()
                ))
            }
            _ => return Ok(Now::Missing),
        }
    }
    let last: &OsString = &comps[comps.len() - 1];
    let display = dir.path().join(last);
    match dir.entry_kind(last).map_err(|e| e.to_string())? {
        EntryKind::Missing => Ok(Now::Missing),
        EntryKind::Dir => Ok(Now::Dir),
        EntryKind::File => {
            let mut file = open_regular_in(&dir, last).map_err(|e| format!("{}: {e}", display.display()))?;
            let mode =
                file.metadata().map_err(|e| format!("{}: {e}", display.display()))?.permissions().mode() & 0o7777;
            let (_, sha256) = file_sha256(&mut file, &display).map_err(|e| e.to_string())?;
            Ok(Now::File { sha256, mode })
        }
        other => Ok(Now::Other(other.describe())),
    }
}

/// The reverts of `session`, and what is kept, for the scan dir `scan_dir`.
pub fn plan_session(scan_dir: &Path, session: &Loaded) -> Result<(Vec<UndoAction>, Vec<Kept>), String> {
    let root = Dir::open(scan_dir).map_err(|e| e.to_string())?;
    let mut overlay = Overlay { root: &root, paths: HashMap::new(), seq: 0 };
    let verb = session.verb();
    let mut actions = Vec::new();
    let mut kept = Vec::new();
    let mut notes = Vec::new();
    if session.legacy {
        notes.push(
            "written before manifests recorded renames, directories and modes: only its files are put back".to_string(),
        );
    }
    if !session.manifest.complete {
        notes.push(format!("the {verb} was stopped while it wrote: undoing what it recorded"));
    }
    let mut action = |revert: Revert, undo: &'static str, target: &str, reason: String| {
        actions.push(UndoAction {
            session: session.name.clone(),
            undo,
            target: scan_dir.join(target),
            reason,
            notes: std::mem::take(&mut notes),
            revert,
        });
    };
    let mut keep = |path: &str, reason: String| {
        kept.push(Kept { session: session.name.clone(), path: scan_dir.join(path), reason });
    };
    let mut remove_dirs = Vec::new();
    let backup_of = |entry: &BackupEntry| session.backup_path(entry).display().to_string();
    for change in session.changes.iter().rev() {
        match change {
            Change::Replace { path, entry, sha256 } => {
                let entry = &session.manifest.entries[*entry];
                match overlay.current(path)? {
                    Now::File { sha256: now, mode } if now == *sha256 => {
                        overlay.set(path, Sim::Is(Now::File { sha256: entry.old_sha256.clone(), mode }));
                        let reason = format!("put back the file the {verb} replaced");
                        let revert = Revert::Restore { path: path.clone(), expect: now, entry: entry.clone() };
                        action(revert, "restore", path, reason);
                    }
                    Now::File { sha256: now, .. } if now == entry.old_sha256 => {}
                    Now::Missing => keep(
                        path,
                        format!("removed since the {verb}: not put back; the backup is at {}", backup_of(entry)),
                    ),
                    _ => keep(path, format!("changed since the {verb}: kept; the backup is at {}", backup_of(entry))),
                }
            }
            Change::Create { path, sha256 } => match overlay.current(path)? {
                Now::Missing => {}
                Now::File { sha256: now, .. } if now == *sha256 => {
                    overlay.set(path, Sim::Is(Now::Missing));
                    let reason = format!("remove the file the {verb} created (kept in this undo's backup)");
                    action(Revert::Remove { path: path.clone(), expect: now }, "remove", path, reason);
                }
                _ => keep(path, format!("changed since the {verb} created it: kept")),
            },
            Change::Move { path, entry } => {
                let entry = &session.manifest.entries[*entry];
                match overlay.current(path)? {
                    Now::Missing => {
                        let mode = entry.mode.unwrap_or(0o644);
                        overlay.set(path, Sim::Is(Now::File { sha256: entry.old_sha256.clone(), mode }));
                        let reason = format!("put back the file the {verb} moved into its backup");
                        action(Revert::PutBack { path: path.clone(), entry: entry.clone() }, "put-back", path, reason);
                    }
                    Now::File { sha256: now, .. } if now == entry.old_sha256 => {}
                    _ => keep(
                        path,
                        format!("something new is there since the {verb}: kept; the backup is at {}", backup_of(entry)),
                    ),
                }
            }
            Change::Rename { from, to } => match (overlay.current(from)?, overlay.current(to)?) {
                (Now::Missing, now) if now != Now::Missing => {
                    overlay.set(from, Sim::MovedFrom(to.clone()));
                    overlay.set(to, Sim::Is(Now::Missing));
                    let reason = format!("move {to} back to {from}, where the {verb} moved it from");
                    action(Revert::RenameBack { from: to.clone(), to: from.clone() }, "rename-back", to, reason);
                }
                (before, Now::Missing) if before != Now::Missing => {}
                _ => keep(to, format!("both {from} and {to} exist, or neither, since the {verb}: left as they are")),
            },
            Change::CreateDir { path } => match overlay.current(path)? {
                // Removed last: the files a session creates in a directory it made are
                // recorded before the directory is (in one batch, before the action's steps).
                Now::Dir => remove_dirs.push(path.clone()),
                Now::Missing => {}
                _ => keep(path, format!("no longer a directory since the {verb}: kept")),
            },
            Change::RemoveDir { path } => match overlay.current(path)? {
                Now::Missing => {
                    overlay.set(path, Sim::Is(Now::Dir));
                    let reason = format!("make again the empty directory the {verb} removed");
                    action(Revert::CreateDir { path: path.clone() }, "create-dir", path, reason);
                }
                Now::Dir => {}
                _ => keep(path, format!("something else is there since the {verb}: kept")),
            },
            Change::SetMode { path, from, to } => match overlay.current(path)? {
                Now::File { sha256, mode } if mode == *to && from != to => {
                    overlay.set(path, Sim::Is(Now::File { sha256, mode: *from }));
                    let reason = format!("set the mode back to {from:04o} (the {verb} set {to:04o})");
                    action(Revert::SetMode { path: path.clone(), expect: *to, mode: *from }, "set-mode", path, reason);
                }
                Now::File { mode, .. } if mode == *from => {}
                Now::Missing => {}
                _ => keep(path, format!("its mode changed since the {verb} set {to:04o}: kept")),
            },
        }
    }
    for path in remove_dirs {
        let reason = format!("remove the directory the {verb} made, if it is empty");
        action(Revert::RemoveDir { path: path.clone() }, "remove-dir", &path, reason);
    }
    Ok((actions, kept))
}
