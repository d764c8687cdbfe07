//! Migration `file-modes`: outputs the fork's atomic writer left at mode 0600 (spec §4, §5.2:
//! `tempfile.mkstemp` creates 0600 and `os.replace` keeps it) get the mode a plain write would
//! have given them, `0666 & ~umask`, as current OpenAnt's writer does.
//!
//! The same rule as check's `restrictive-mode`: only the top-level JSON outputs, and only when
//! the scan's plainly written files (step reports, checkpoint summaries) are readable by
//! others. When every file is private the owner chose a restrictive umask, and 0600 is theirs
//! to keep. And only where no file of the scan dir comes from today's OpenAnt (identity-gate
//! era), whose `write_json` writes every JSON 0600 by design: the one rule
//! [`crate::era::private_output_is_forks`], on the markers of the scan dir's names.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::action::{MigrationAction, Planned, Step};
use crate::consistency::OUTPUT_NAMES;

pub const ID: &str = "file-modes";

pub fn plan(scan_dir: &Path) -> Planned {
    plan_with_umask(scan_dir, crate::fsx::current_umask())
}

fn plan_with_umask(scan_dir: &Path, umask: u32) -> Planned {
    let mut planned = Planned::default();
    let target_bits = 0o666 & !umask;
    match crate::era::names_on_disk(scan_dir) {
        Ok(era) if !crate::era::private_output_is_forks(&era) => return planned,
        Ok(_) => {}
        Err(error) => {
            planned.io_errors.push((scan_dir.to_path_buf(), error.to_string()));
            return planned;
        }
    }
    if !others_read_plain_files(scan_dir, &mut planned) {
        return planned;
    }
    for name in OUTPUT_NAMES {
        let path = scan_dir.join(name);
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => continue,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => {
                planned.io_errors.push((path, error.to_string()));
                continue;
            }
        };
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o777 != 0o600 || target_bits == 0o600 {
            continue;
        }
        let to = (mode & !0o777) | target_bits;
        planned.actions.push(MigrationAction {
            migration: ID,
            target: path.clone(),
            reason: format!(
                "mode {mode:04o} (left by the fork's atomic writer): chmod {to:04o} so other users and tools can read it"
            ),
            notes: Vec::new(),
            steps: vec![Step::SetMode { path, from: mode, to }],
        });
    }
    planned
}

/// Whether any step report (`*.report.json`) or checkpoint `_summary.json` is readable by group
/// or others: OpenAnt writes those plainly, so they show the umask the scan ran under.
fn others_read_plain_files(scan_dir: &Path, planned: &mut Planned) -> bool {
    let entries = match crate::no_follow::list_dir(scan_dir) {
        Ok(entries) => entries,
        Err(error) => {
            planned.io_errors.push((scan_dir.to_path_buf(), error.to_string()));
            return false;
        }
    };
    use crate::no_follow::EntryKind;
    let readable =
        |path: &Path| std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o044 != 0);
    for entry in entries {
        let name = entry.name.to_string_lossy();
        let is = |kind| entry.kind == kind;
        if is(EntryKind::File) && name.ends_with(".report.json") && readable(&entry.path) {
            return true;
        }
        if is(EntryKind::Dir) && name.ends_with("_checkpoints") && readable(&entry.path.join("_summary.json")) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path, mode: u32) {
        std::fs::write(path, b"{}").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn private_outputs_in_a_shared_scan_are_opened_up() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("scan.report.json"), 0o644);
        touch(&dir.path().join("results.json"), 0o600);
        touch(&dir.path().join("dataset.json"), 0o644);
        touch(&dir.path().join("notes.json"), 0o600);
        let planned = plan_with_umask(dir.path(), 0o022);
        let steps: Vec<_> = planned.actions.iter().flat_map(|a| &a.steps).collect();
        assert_eq!(steps.len(), 1, "{steps:?}");
        match steps[0] {
            Step::SetMode { path, from, to } => {
                assert_eq!((path.file_name().unwrap().to_str().unwrap(), *from, *to), ("results.json", 0o600, 0o644))
            }
            other => panic!("unexpected step {other:?}"),
        }
    }

    #[test]
    fn todays_openant_writes_0600_by_design() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("parse.report.json"), 0o644);
        touch(&dir.path().join("results.json"), 0o600);
        std::fs::create_dir(dir.path().join("analyze_checkpoints")).unwrap();
        touch(&dir.path().join("analyze_checkpoints/_fingerprint.json"), 0o600);
        assert!(plan_with_umask(dir.path(), 0o022).actions.is_empty());
        // Without the identity-gate marker, the same modes are the fork's writer's.
        std::fs::remove_file(dir.path().join("analyze_checkpoints/_fingerprint.json")).unwrap();
        assert_eq!(plan_with_umask(dir.path(), 0o022).actions.len(), 1);
    }

    #[test]
    fn an_all_private_scan_is_the_owners_choice() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("scan.report.json"), 0o600);
        touch(&dir.path().join("results.json"), 0o600);
        assert!(plan_with_umask(dir.path(), 0o022).actions.is_empty());
    }

    #[test]
    fn summaries_show_the_scan_umask_and_a_private_umask_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("analyze_checkpoints")).unwrap();
        touch(&dir.path().join("analyze_checkpoints/_summary.json"), 0o640);
        touch(&dir.path().join("pipeline_output.json"), 0o600);
        assert_eq!(plan_with_umask(dir.path(), 0o027).actions.len(), 1);
        assert!(plan_with_umask(dir.path(), 0o077).actions.is_empty());
    }
}
