//! What a run looks at, said before and after the work: the roots checked before anything
//! runs (one that does not exist, or is neither a directory nor a JSON file OpenAnt could
//! write, is an operational error, never a finding), a root under which no scan dir was
//! found (a note), and under `-v` why each scan dir is of the era it is.

use std::path::{Path, PathBuf};

use crate::diag;
use crate::exit_codes::ExitCode;
use crate::layout::{classify_file, FileKind};

/// The roots that can be looked at, and bit 8 when some cannot; each of those is said on
/// stderr. A root is followed when it is a symlink, as the walk does.
pub fn usable_roots(roots: &[PathBuf]) -> (Vec<PathBuf>, ExitCode) {
    let mut usable = Vec::new();
    let mut code = ExitCode::SUCCESS;
    for root in roots {
        match unusable_because(root) {
            None => usable.push(root.clone()),
            Some(why) => {
                diag::error(Some(root), why);
                code |= ExitCode::OPERATIONAL;
            }
        }
    }
    (usable, code)
}

fn unusable_because(root: &Path) -> Option<String> {
    let metadata = match std::fs::metadata(root) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Some("no such file or directory".into());
        }
        Err(error) => return Some(format!("cannot read: {error}")),
    };
    if metadata.is_dir() {
        return None;
    }
    let sibling_exists = |name: &str| root.parent().is_some_and(|dir| crate::no_follow::is_present(&dir.join(name)));
    if metadata.is_file() && classify_file(root, None, &sibling_exists).kind != FileKind::Other {
        return None;
    }
    Some("not a directory or a JSON file: give a scan tree, a scan dir or one of its files".into())
}

/// Notes each directory root under which no scan dir was found; `scan_dirs` are the ones the
/// run found. A root inside a scan dir belongs to that scan dir.
pub fn note_roots_without_scans<'d>(roots: &[PathBuf], scan_dirs: impl IntoIterator<Item = &'d Path> + Clone) {
    for root in roots.iter().filter(|root| root.is_dir()) {
        let found = scan_dirs.clone().into_iter().any(|dir| dir.starts_with(root) || root.starts_with(dir));
        if !found {
            diag::note(format!("no OpenAnt scan found under {}", root.display()));
        }
    }
}

/// Under `-v`: per scan dir, the eras its entries' names mark and the markers that decided.
pub fn explain_eras<'d>(scan_dirs: impl IntoIterator<Item = &'d Path>) {
    if !diag::verbose() {
        return;
    }
    for dir in scan_dirs {
        diag::explain(era_line(dir));
    }
}

fn era_line(dir: &Path) -> String {
    let era = match crate::era::names_on_disk(dir) {
        Ok(era) => era,
        Err(error) => return format!("{}: era unknown: cannot list it: {error}", dir.display()),
    };
    let mut eras: Vec<crate::era::Era> = era.markers().iter().filter_map(|m| m.era).collect();
    eras.sort();
    eras.dedup();
    let mut line = format!("{}: ", dir.display());
    if eras.is_empty() {
        line.push_str(
            "no era marker among its names (an identity sidecar, a write_json temp, a per-language \
             meta.json, a fork or legacy name): the outputs' keys decide the era per file",
        );
    } else {
        let named: Vec<String> = eras.iter().map(|e| format!("{} ({})", e.id(), e.describe())).collect();
        line.push_str(&format!("era {}", named.join(" and ")));
    }
    let markers: Vec<String> = era.markers().iter().map(|m| m.to_string()).collect();
    if !markers.is_empty() {
        line.push_str(&format!(", because of: {}", markers.join("; ")));
    }
    if !era.unknown().is_empty() {
        line.push_str("; some markers are of an OpenAnt newer than scanaudit knows");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_that_cannot_be_looked_at() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("results.json"), "{}").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        assert_eq!(unusable_because(dir.path()), None);
        assert_eq!(unusable_because(&dir.path().join("results.json")), None);
        assert!(unusable_because(&dir.path().join("notes.txt")).unwrap().starts_with("not a directory or a JSON"));
        assert_eq!(unusable_because(&dir.path().join("typo")).unwrap(), "no such file or directory");
    }

    #[test]
    fn a_scan_dir_explains_its_era_by_its_markers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("analyze_checkpoints")).unwrap();
        std::fs::write(dir.path().join("analyze_checkpoints/_fingerprint.json"), "{}").unwrap();
        let line = era_line(dir.path());
        assert!(line.contains("era identity-gate"), "{line}");
        assert!(line.contains("_fingerprint.json"), "{line}");
        let old = tempfile::tempdir().unwrap();
        assert!(era_line(old.path()).contains("no era marker"));
    }
}
