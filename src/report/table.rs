//! The findings table of `check`: one section per scan dir (its path, its counts and the
//! commands that fix it, each whole), then a table of its findings, `LEVEL KIND
//! FILE:LINE:COL PROBLEM`, FILE relative to the scan dir. Findings outside every scan dir are
//! grouped by the directory that holds them. The layout is [`super::layout`]'s.

use std::path::{Path, PathBuf};

use anstyle::Style;

use super::layout::{self, Cell, Para, Row, Section, Table};
use super::summary::Counts;
use crate::finding::{Finding, Level};
use crate::text::{plural_grouped, rel};

/// The colour of a level, on every verb's output that shows one.
pub fn level_style(level: Level) -> Style {
    match level {
        Level::Error => layout::error_style(),
        Level::Warn => layout::warn_style(),
        Level::Info => layout::info_style(),
    }
}

/// `3 errors, 1 warning, 2 notes`.
pub fn counts_text(counts: Counts) -> String {
    let mut parts = Vec::new();
    if counts.errors > 0 {
        parts.push(plural_grouped(counts.errors, "error", "errors"));
    }
    if counts.warnings > 0 {
        parts.push(plural_grouped(counts.warnings, "warning", "warnings"));
    }
    if counts.infos > 0 {
        parts.push(plural_grouped(counts.infos, "note", "notes"));
    }
    parts.join(", ")
}

/// The directory a finding's section is about: its scan dir, else the directory holding it.
fn section_dir(finding: &Finding) -> (PathBuf, bool) {
    match &finding.scan_dir {
        Some(dir) => (dir.clone(), true),
        None => (finding.path.parent().map(Path::to_path_buf).unwrap_or_default(), false),
    }
}

/// `FILE:LINE:COL`, FILE relative to the section's directory (line and column only when the
/// damage has a place in the file).
fn place(finding: &Finding, dir: &Path) -> String {
    let file = if dir.as_os_str().is_empty() { finding.path.display().to_string() } else { rel(&finding.path, dir) };
    match finding.location {
        Some(loc) => format!("{file}:{}:{}", loc.line, loc.column),
        None => file,
    }
}

/// The sections of `findings` (already sorted by path), in path order of their directories.
pub fn sections(findings: &[Finding]) -> Vec<Section> {
    let mut groups: Vec<((PathBuf, bool), Vec<&Finding>)> = Vec::new();
    for finding in findings {
        let key = section_dir(finding);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(finding),
            None => groups.push((key, vec![finding])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    groups.into_iter().map(|((dir, is_scan_dir), members)| section(&dir, is_scan_dir, &members)).collect()
}

fn section(dir: &Path, is_scan_dir: bool, findings: &[&Finding]) -> Section {
    let mut fixes: Vec<&str> = Vec::new();
    for fix in findings.iter().filter_map(|f| f.fix.as_deref()) {
        if !fixes.contains(&fix) {
            fixes.push(fix);
        }
    }
    let numbered = fixes.len() > 1;
    let lines = fixes
        .iter()
        .enumerate()
        .map(|(i, fix)| match numbered {
            true => format!("fix {}: {fix}", i + 1),
            false => format!("fix: {fix}"),
        })
        .collect();
    let rows = findings
        .iter()
        .map(|finding| {
            let mut text = finding.message.clone();
            if let (true, Some(fix)) = (numbered, finding.fix.as_deref()) {
                let n = fixes.iter().position(|f| *f == fix).unwrap_or(0) + 1;
                text.push_str(&format!(" (fix {n})"));
            }
            Row {
                cells: vec![
                    Cell::styled(finding.level.as_str(), level_style(finding.level)),
                    Cell::new(finding.kind.as_str()),
                    Cell::new(place(finding, dir)),
                ],
                text: vec![Para::Wrap(text)],
            }
        })
        .collect();
    let mut about = counts_text(Counts::of(findings.iter().copied()));
    if !is_scan_dir {
        about = format!("{about} (not in a scan dir)");
    }
    let title = if dir.as_os_str().is_empty() { ".".to_string() } else { dir.display().to_string() };
    Section {
        title,
        about,
        lines,
        tables: vec![Table { header: vec!["LEVEL", "KIND", "FILE:LINE:COL", "PROBLEM"], rows }],
    }
}
