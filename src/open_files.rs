//! Which files some process holds open, for clean's "never remove a file in use" rule: on
//! Linux every readable `/proc/PID/fd/N`, compared by (device, inode); elsewhere the check is
//! skipped and [`OpenCheck`] says so.

use std::collections::HashSet;
#[cfg(target_os = "linux")]
use std::io;

use serde::Serialize;

/// How the "open in some process" rule was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum OpenCheck {
    /// Not needed: no candidate was old enough to ask.
    NotNeeded,
    /// `/proc/*/fd` was scanned. `unreadable` processes (other users', without root) could not
    /// be inspected; a file only they hold open is still protected if they `flock` it.
    Proc { processes: u64, unreadable: u64 },
    /// No `/proc` (not Linux, or not mounted): only the age and `flock` rules protect open files.
    Skipped { reason: String },
}

/// The (device, inode) of every file open in another process, and how that was found out.
#[cfg(target_os = "linux")]
pub(crate) fn scan() -> (HashSet<(u64, u64)>, OpenCheck) {
    use std::os::unix::fs::MetadataExt;
    let mut set = HashSet::new();
    let proc_dir = match std::fs::read_dir("/proc") {
        Ok(dir) => dir,
        Err(e) => return (set, OpenCheck::Skipped { reason: format!("/proc cannot be read: {e}") }),
    };
    let me = std::process::id().to_string();
    let (mut processes, mut unreadable) = (0u64, 0u64);
    for pid in proc_dir.flatten() {
        let name = pid.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) || name == me {
            continue;
        }
        processes += 1;
        let fds = match std::fs::read_dir(pid.path().join("fd")) {
            Ok(fds) => fds,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // it exited
            Err(_) => {
                unreadable += 1;
                continue;
            }
        };
        for fd in fds.flatten() {
            // stat follows the magic link to the open file itself, even if it was unlinked.
            if let Ok(meta) = std::fs::metadata(fd.path()) {
                set.insert((meta.dev(), meta.ino()));
            }
        }
    }
    (set, OpenCheck::Proc { processes, unreadable })
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn scan() -> (HashSet<(u64, u64)>, OpenCheck) {
    (HashSet::new(), OpenCheck::Skipped { reason: "not Linux: no /proc/*/fd to scan".into() })
}
