//! Everything scanaudit says on stderr besides the progress bar and the y/N question, in one
//! format: errors (`scanaudit: error: <path>: <what>`, whatever the verb), notes on what
//! changed the run (`scanaudit: note: ...`, also kept for the JSON document's `notes`), and,
//! under `-v`, why each scan dir is what it is. Clap's own usage errors keep clap's style.

use std::fmt::Display;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

/// 0: `-q` (errors only), 1: the default, 2: `-v`.
static VERBOSITY: AtomicU8 = AtomicU8::new(1);

/// The notes of this run, in the order said, for the JSON document.
static NOTES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Sets how much is said, once, from the global `-q`/`-v`.
pub fn set_verbosity(quiet: bool, verbose: bool) {
    let level = match (quiet, verbose) {
        (true, _) => 0,
        (false, false) => 1,
        (false, true) => 2,
    };
    VERBOSITY.store(level, Ordering::Relaxed);
}

pub fn verbose() -> bool {
    VERBOSITY.load(Ordering::Relaxed) >= 2
}

/// `scanaudit: error: <path>: <what>` (or `scanaudit: error: <what>` when no path is to blame).
/// Always said, `-q` or not.
pub fn error(path: Option<&Path>, what: impl Display) {
    eprintln!("{}", crate::text::printable(&error_line(path, &what)));
}

fn error_line(path: Option<&Path>, what: &dyn Display) -> String {
    match path {
        Some(path) => format!("scanaudit: error: {}: {what}", path.display()),
        None => format!("scanaudit: error: {what}"),
    }
}

/// A fact that changed the run or says what to do next: on stderr (not under `-q`), and in
/// the JSON document's `notes`.
pub fn note(what: impl Display) {
    let what = what.to_string();
    if VERBOSITY.load(Ordering::Relaxed) >= 1 {
        eprintln!("scanaudit: note: {}", crate::text::printable(&what));
    }
    NOTES.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(what);
}

/// The notes said so far.
pub fn notes() -> Vec<String> {
    NOTES.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
}

/// A line only `-v` shows.
pub fn explain(what: impl Display) {
    if verbose() {
        eprintln!("scanaudit: {}", crate::text::printable(&what.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_path_first() {
        assert_eq!(error_line(Some(Path::new("/x/y")), &"no such file"), "scanaudit: error: /x/y: no such file");
        assert_eq!(error_line(None, &"bad"), "scanaudit: error: bad");
    }
}
