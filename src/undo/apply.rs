//! Carrying out an undo plan, through the one apply loop ([`crate::dir_plan::apply`]: the scan
//! dir's lock, one backup session, stopping between reverts on SIGINT/SIGTERM). Each revert
//! checks again, under the lock, that the disk is as planned; what changed since is kept and
//! reported. Every revert goes through the backup session, so the undo is itself a session
//! (verb `undo`, naming the session it undid) that can be undone.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::plan::{probe, Now, Revert, UndoAction};
use super::session::read_backup;
use crate::atomic::{accept_any, WriteOptions};
use crate::backup::{BackupAction, BackupSession};
use crate::dir_plan::{ActionOutcome, ApplyDir};
use crate::fsx::{rename_noreplace, Dir, EntryKind};
use crate::no_follow::open_regular_in;

/// Undo's reverts in one scan dir: why the rest may not run (an earlier one failed).
#[derive(Default)]
pub struct UndoDir {
    failed: bool,
}

impl ApplyDir<UndoAction> for UndoDir {
    type Result = ActionOutcome;
    const VERB: &'static str = "undo";

    fn step(&mut self, session: &mut BackupSession, scan_dir: &Path, action: &UndoAction) -> ActionOutcome {
        if self.failed {
            // Later reverts were planned on the earlier ones being done (a directory made
            // again before files go back into it): never run them over a failure.
            return ActionOutcome::Skipped("an earlier revert in this scan dir failed".into());
        }
        session.set_undoes(&action.session);
        let outcome = match revert(session, scan_dir, action) {
            Ok(outcome) => outcome,
            Err(error) => ActionOutcome::Failed(error),
        };
        self.failed |= matches!(outcome, ActionOutcome::Failed(_));
        outcome
    }
}

fn revert(session: &mut BackupSession, scan_dir: &Path, action: &UndoAction) -> Result<ActionOutcome, String> {
    let root = Dir::open(scan_dir).map_err(|e| e.to_string())?;
    let changed = |path: &str| {
        Ok(ActionOutcome::Skipped(format!("{path} changed since the plan was made: kept; run undo again to see why")))
    };
    let reason = &action.reason;
    match &action.revert {
        Revert::Restore { path, expect, entry } => {
            if !matches!(probe(&root, path)?, Now::File { sha256, .. } if sha256 == *expect) {
                return changed(path);
            }
            let (bytes, _) = read_backup(scan_dir, &action.session, entry)?;
            let replaced = session
                .replace(Path::new(path), &bytes, BackupAction::Undo, reason, &accept_any)
                .map_err(|e| e.to_string())?;
            Ok(durability(replaced.outcome.durable, replaced.outcome.dir_sync_error))
        }
        Revert::Remove { path, expect } => {
            if !matches!(probe(&root, path)?, Now::File { sha256, .. } if sha256 == *expect) {
                return changed(path);
            }
            session.move_file(Path::new(path), BackupAction::Undo, reason).map_err(|e| e.to_string())?;
            Ok(ActionOutcome::Done)
        }
        Revert::PutBack { path, entry } => {
            if probe(&root, path)? != Now::Missing {
                return changed(path);
            }
            let (bytes, mode) = read_backup(scan_dir, &action.session, entry)?;
            let options = WriteOptions { new_file_mode: Some(mode), ..WriteOptions::default() };
            let replaced = session
                .replace_with(Path::new(path), &bytes, options, BackupAction::Undo, reason, &accept_any)
                .map_err(|e| e.to_string())?;
            Ok(durability(replaced.outcome.durable, replaced.outcome.dir_sync_error))
        }
        Revert::RenameBack { from, to } => {
            let (from_dir, from_name, _) = session.parent_of(Path::new(from)).map_err(|e| e.to_string())?;
            let (to_dir, to_name, _) = session.parent_of(Path::new(to)).map_err(|e| e.to_string())?;
            let here = from_dir.entry_kind(&from_name).map_err(|e| e.to_string())?;
            if here == EntryKind::Missing
                || to_dir.entry_kind(&to_name).map_err(|e| e.to_string())? != EntryKind::Missing
            {
                return changed(to);
            }
            session.will_rename(Path::new(from), Path::new(to)).map_err(|e| e.to_string())?;
            rename_noreplace(&from_dir, &from_name, &to_dir, &to_name)
                .map_err(|e| format!("moving {from} back to {to}: {e}"))?;
            Ok(synced(&[&to_dir, &from_dir]))
        }
        Revert::RemoveDir { path } => {
            let (dir, name, display) = session.parent_of(Path::new(path)).map_err(|e| e.to_string())?;
            if dir.entry_kind(&name).map_err(|e| e.to_string())? != EntryKind::Dir {
                return changed(path);
            }
            if !is_empty(&dir, &name) {
                return Ok(ActionOutcome::Skipped(format!("{} is not empty: kept", display.display())));
            }
            session.will_remove_dir(Path::new(path)).map_err(|e| e.to_string())?;
            match dir.remove_empty_child(&name) {
                Ok(()) => Ok(synced(&[&dir])),
                Err(error) if error.raw_os_error() == Some(libc::ENOTEMPTY) => {
                    Ok(ActionOutcome::Skipped(format!("{} is not empty: kept", display.display())))
                }
                Err(error) => Err(format!("removing the directory {}: {error}", display.display())),
            }
        }
        Revert::CreateDir { path } => {
            let (dir, name, _) = session.parent_of(Path::new(path)).map_err(|e| e.to_string())?;
            if dir.entry_kind(&name).map_err(|e| e.to_string())? != EntryKind::Missing {
                return changed(path);
            }
            session.will_create_dir(Path::new(path)).map_err(|e| e.to_string())?;
            dir.create_child(&name).map_err(|e| e.to_string())?;
            Ok(synced(&[&dir]))
        }
        Revert::SetMode { path, expect, mode } => {
            let (dir, name, display) = session.parent_of(Path::new(path)).map_err(|e| e.to_string())?;
            let file = open_regular_in(&dir, &name).map_err(|e| format!("{}: {e}", display.display()))?;
            let now = file.metadata().map_err(|e| format!("{}: {e}", display.display()))?.permissions().mode() & 0o7777;
            if now != *expect {
                return changed(path);
            }
            session.will_set_mode(Path::new(path), *expect, *mode).map_err(|e| e.to_string())?;
            file.set_permissions(std::fs::Permissions::from_mode(*mode))
                .map_err(|e| format!("chmod {mode:04o} {}: {e}", display.display()))?;
            Ok(ActionOutcome::Done)
        }
    }
}

/// Whether the directory `name` in `dir` holds nothing.
fn is_empty(dir: &Dir, name: &OsStr) -> bool {
    dir.open_child(name)
        .ok()
        .and_then(|child| crate::no_follow::names_in(child.raw()).ok())
        .is_some_and(|names| names.is_empty())
}

fn synced(dirs: &[&Dir]) -> ActionOutcome {
    match dirs.iter().try_for_each(|d| d.sync()) {
        Ok(()) => ActionOutcome::Done,
        Err(error) => ActionOutcome::DoneNotDurable(error.to_string()),
    }
}

fn durability(durable: bool, why: Option<String>) -> ActionOutcome {
    if durable {
        ActionOutcome::Done
    } else {
        ActionOutcome::DoneNotDurable(why.unwrap_or_else(|| "directory not synced".to_string()))
    }
}
