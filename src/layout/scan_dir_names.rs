//! The names OpenAnt gives the directories that lead to a scan dir: `scans/<sha>/<language>/`
//! with the languages it knows, `auto/` for a multi-language scan, and the prefixes of the
//! ad-hoc dirs its Python CLI creates; plus the per-language `meta.json` that path implies.

use std::path::Path;

use super::path_names::name_of;

/// Languages OpenAnt names scan dirs after (`config/languages.json`).
pub const LANGUAGES: &[&str] = &["python", "javascript", "go", "c", "ruby", "php", "zig"];

/// What `-l auto` stores as the language (PR #199): the scan dir of a multi-language scan is
/// `scans/<sha>/auto/`, holding per-language parse dirs `auto/<language>/`.
pub const AUTO_LANGUAGE: &str = "auto";

/// Prefixes of the ad-hoc scan dirs the Python CLI creates with `mkdtemp`.
pub const ADHOC_PREFIXES: &[&str] = &["open_ant_", "openant_dyntest_"];

/// `scans/<sha>/<language>/meta.json`.
pub fn is_language_level_meta(path: &Path) -> bool {
    let Some(dir) = path.parent() else { return false };
    is_language_dir_name(&name_of(dir)) && dir.parent().and_then(Path::parent).map(name_of).as_deref() == Some("scans")
}

/// A language-level dir name: a language, or `auto` for multi-language scans (PR #199).
pub fn is_language_dir_name(name: &str) -> bool {
    LANGUAGES.contains(&name) || name == AUTO_LANGUAGE
}
