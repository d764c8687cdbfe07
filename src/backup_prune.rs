//! Removing old scanaudit backups (`clean --backups`): the time a backup folder's name says it
//! was made, and a removal of the folder that never follows a link, never crosses into another
//! filesystem, and never removes a name that changed since it was looked at.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::fsx::{fstat, unlink_if_same, AtomicError, Dir, Unlinked};
use crate::layout::state_names::BACKUP_STAMP_FORMAT;
use crate::no_follow::names_in;

/// The time a backup folder's name says it was made: `YYYYMMDDTHHMMSSZ`, optionally `-N`.
pub fn backup_stamp(name: &str) -> Option<SystemTime> {
    let stamp = match name.split_once('-') {
        Some((stamp, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => stamp,
        Some(_) => return None,
        None => name,
    };
    if stamp.len() != 16 {
        return None;
    }
    let parsed = chrono::NaiveDateTime::parse_from_str(stamp, BACKUP_STAMP_FORMAT).ok()?;
    let secs = parsed.and_utc().timestamp();
    u64::try_from(secs).ok().map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// Why [`remove_tree`] stopped.
pub(crate) enum TreeError {
    /// Someone else removed it first.
    Gone,
    /// It changed since it was listed (became a symlink, another inode); left alone.
    Changed(String),
    /// A mount point inside: nothing below it was removed.
    OtherFilesystem(String),
    /// A system call failed.
    Io(String),
}

/// Removes (or, `dry`, only measures) the directory `name` in `parent` and everything in it:
/// every level is opened with `O_NOFOLLOW` and checked to be the same filesystem, entries are
/// removed with `unlinkat` relative to their directory's handle, so a symlink inside is removed
/// as a link and never followed, and a mount point inside stops the removal.
pub(crate) fn remove_tree(
    parent: &Dir,
    name: &OsStr,
    st: &libc::stat,
    dev: u64,
    dry: bool,
    bytes: &mut u64,
) -> Result<(), TreeError> {
    let dir = match parent.open_child(name) {
        Ok(dir) => dir,
        Err(AtomicError::Symlink { path }) => {
            return Err(TreeError::Changed(format!("{} became a symlink; left alone", path.display())))
        }
        Err(AtomicError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => return Err(TreeError::Gone),
        Err(e) => return Err(TreeError::Io(e.to_string())),
    };
    let here = fstat(dir.raw()).map_err(|e| TreeError::Io(format!("cannot stat {}: {e}", dir.path().display())))?;
    if here.st_dev != st.st_dev || here.st_ino != st.st_ino {
        return Err(TreeError::Changed(format!("{} changed since it was listed; left alone", dir.path().display())));
    }
    if here.st_dev != dev {
        return Err(TreeError::OtherFilesystem(format!(
            "{} is on another filesystem (a mount point); nothing below it was removed",
            dir.path().display()
        )));
    }
    let names = names_in(dir.raw()).map_err(|e| TreeError::Io(format!("cannot list {}: {e}", dir.path().display())))?;
    for child in names {
        let c_child = CString::new(child.as_bytes()).map_err(|_| TreeError::Io("NUL in a file name".into()))?;
        let child_st = match dir.lstat(&c_child) {
            Ok(Some(s)) => s,
            Ok(None) => continue,
            Err(e) => return Err(TreeError::Io(format!("cannot stat {}: {e}", dir.path().join(&child).display()))),
        };
        if child_st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            match remove_tree(&dir, &child, &child_st, dev, dry, bytes) {
                Ok(()) | Err(TreeError::Gone) => {}
                Err(e) => return Err(e),
            }
        } else {
            if child_st.st_mode & libc::S_IFMT == libc::S_IFREG {
                *bytes += child_st.st_size as u64;
            }
            if !dry {
                match unlink_if_same(&dir, &c_child, &child_st, 0) {
                    Ok(_) => {}
                    Err(e) => {
                        return Err(TreeError::Io(format!("cannot remove {}: {e}", dir.path().join(&child).display())))
                    }
                }
            }
        }
    }
    if dry {
        return Ok(());
    }
    let c_name = CString::new(name.as_bytes()).map_err(|_| TreeError::Io("NUL in a file name".into()))?;
    match unlink_if_same(parent, &c_name, st, libc::AT_REMOVEDIR) {
        Ok(Unlinked::Done | Unlinked::Gone) => Ok(()),
        Ok(Unlinked::Changed) => Err(TreeError::Changed("changed since it was listed; left alone".into())),
        Err(e) => Err(TreeError::Io(format!("cannot remove {}: {e}", dir.path().display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names() {
        let t = backup_stamp("20261101T101010Z").unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 1_793_527_810);
        assert_eq!(backup_stamp("20261101T101010Z-2"), Some(t));
        for bad in ["20261101T101010Z-", "20261101T101010Z-x", "2026-11-01", "20261301T101010Z", "notes", ""] {
            assert_eq!(backup_stamp(bad), None, "{bad}");
        }
    }
}
