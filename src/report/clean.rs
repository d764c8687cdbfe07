//! What `scanaudit clean` did: a table (one row per path looked at) or one JSON document,
//! then a summary line. Field names of the JSON are a public interface (README, snapshot test).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::json::Header;
use super::layout::{self, Cell, Layout, Para, Row, Section, Table};
use super::summary::human_bytes;
use crate::clean::{Action, CleanEntry, CleanError, CleanOutcome, What};
use crate::cli::Format;
use crate::config::OutputConfig;
use crate::open_files::OpenCheck;
use crate::text::{plural_grouped, rel};

/// The `summary` object of `clean --format json`.
#[derive(Debug, Clone, Serialize)]
pub struct CleanSummary {
    pub scan_dirs: u64,
    /// Paths looked at: temps, temp dirs, backup folders (with `--backups`).
    pub examined: u64,
    pub removed: u64,
    pub would_remove: u64,
    pub kept: u64,
    pub already_gone: u64,
    /// Paths that hit an I/O error, plus paths the walk could not read.
    pub failed: u64,
    /// Bytes removed (0 under `--dry-run`).
    pub bytes_reclaimed: u64,
    /// Bytes `--dry-run` would remove (0 otherwise).
    pub bytes_reclaimable: u64,
    /// Kept paths by reason.
    pub kept_by_reason: BTreeMap<&'static str, u64>,
    pub elapsed_ms: u64,
    /// `--max-runtime` stopped the run before everything was examined.
    pub cut_short: bool,
    pub open_file_check: OpenCheck,
}

impl CleanSummary {
    pub fn new(outcome: &CleanOutcome) -> CleanSummary {
        let count = |a| outcome.count(a) as u64;
        let bytes = |a| outcome.entries.iter().filter(|e| e.action == a).map(|e| e.bytes).sum();
        let mut kept_by_reason = BTreeMap::new();
        for e in &outcome.entries {
            if let (Action::Kept, Some(reason)) = (e.action, e.reason) {
                *kept_by_reason.entry(reason.as_str()).or_insert(0) += 1;
            }
        }
        CleanSummary {
            scan_dirs: outcome.scan_dirs as u64,
            examined: outcome.entries.len() as u64,
            removed: count(Action::Removed),
            would_remove: count(Action::WouldRemove),
            kept: count(Action::Kept),
            already_gone: count(Action::AlreadyGone),
            failed: count(Action::Failed) + outcome.errors.len() as u64,
            bytes_reclaimed: bytes(Action::Removed),
            bytes_reclaimable: bytes(Action::WouldRemove),
            kept_by_reason,
            elapsed_ms: outcome.elapsed.as_millis() as u64,
            cut_short: outcome.cut_short,
            open_file_check: outcome.open_check.clone(),
        }
    }

    /// `removed 7 temp files (52.3 kB reclaimed) in 0.1 s; kept 2 (1 salvageable, 1 young)`.
    pub fn line(&self, outcome: &CleanOutcome) -> String {
        let gone_kind = if outcome.dry_run { Action::WouldRemove } else { Action::Removed };
        let temps = outcome.entries.iter().filter(|e| e.action == gone_kind && e.what != What::Backup).count() as u64;
        let backups = outcome.entries.iter().filter(|e| e.action == gone_kind && e.what == What::Backup).count() as u64;
        let mut what = Vec::new();
        if temps > 0 {
            what.push(plural_grouped(temps, "temp file", "temp files"));
        }
        if backups > 0 {
            what.push(plural_grouped(backups, "backup", "backups"));
        }
        let elapsed = format!("in {:.1} s", self.elapsed_ms as f64 / 1000.0);
        let mut line = match (what.is_empty(), outcome.dry_run) {
            (true, false) => format!("nothing to remove {elapsed}"),
            (true, true) => format!("dry run: nothing would be removed {elapsed}"),
            (false, false) => {
                format!("removed {} ({} reclaimed) {elapsed}", what.join(" and "), human_bytes(self.bytes_reclaimed))
            }
            (false, true) => format!(
                "dry run: would remove {} ({}) {elapsed}; nothing was deleted",
                what.join(" and "),
                human_bytes(self.bytes_reclaimable)
            ),
        };
        if self.kept > 0 {
            let reasons: Vec<String> = self.kept_by_reason.iter().map(|(r, n)| format!("{n} {r}")).collect();
            line.push_str(&format!("; kept {} ({})", self.kept, reasons.join(", ")));
        }
        if self.already_gone > 0 {
            line.push_str(&format!("; {} already gone", self.already_gone));
        }
        if self.failed > 0 {
            line.push_str(&format!("; {}", plural_grouped(self.failed, "error", "errors")));
        }
        line
    }

    /// Lines that qualify the result: a skipped open-file check, a run cut short.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        match &self.open_file_check {
            OpenCheck::Skipped { reason } => {
                notes.push(format!("note: the open-file check was skipped ({reason}); age and flock still protect"))
            }
            OpenCheck::Proc { unreadable, .. } if *unreadable > 0 => notes.push(format!(
                "note: the open files of {} could not be inspected (other users'); a flock they hold is still honoured",
                plural_grouped(*unreadable, "process", "processes")
            )),
            _ => {}
        }
        if self.cut_short {
            notes.push(format!(
                "note: --max-runtime was reached; {} not examined (run again to continue)",
                plural_grouped(self.kept_by_reason.get("max-runtime").copied().unwrap_or(0), "path was", "paths were")
            ));
        }
        notes
    }
}

#[derive(Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    header: Header,
    dry_run: bool,
    summary: &'a CleanSummary,
    entries: &'a [CleanEntry],
    errors: &'a [CleanError],
}

pub fn render(out: &mut dyn Write, output: &OutputConfig, roots: &[PathBuf], outcome: &CleanOutcome) -> io::Result<()> {
    let summary = CleanSummary::new(outcome);
    match output.format {
        Format::Json => {
            let document = Document {
                header: Header::new(roots),
                dry_run: outcome.dry_run,
                summary: &summary,
                entries: &outcome.entries,
                errors: &outcome.errors,
            };
            serde_json::to_writer_pretty(&mut *out, &document)?;
            writeln!(out)
        }
        // github, junit and lines describe findings: config refuses them for clean (a usage error).
        Format::Table | Format::Github | Format::Junit | Format::Lines => {
            if output.quiet && !outcome.worth_reporting() {
                return Ok(());
            }
            if !outcome.entries.is_empty() || !outcome.errors.is_empty() {
                layout::write_sections(out, Layout::stdout(output.color), &sections(outcome))?;
                writeln!(out)?;
            }
            writeln!(out, "{}", summary.line(outcome))?;
            for note in summary.notes() {
                writeln!(out, "{note}")?;
            }
            Ok(())
        }
    }
}

/// One section per scan dir (else per directory holding the path), a table of what happened
/// to each path in it; the read errors last, in a section of their own.
fn sections(outcome: &CleanOutcome) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    for e in &outcome.entries {
        let dir = e.scan_dir.clone().or_else(|| e.path.parent().map(Path::to_path_buf)).unwrap_or_default();
        let title = dir.display().to_string();
        if sections.last().is_none_or(|s| s.title != title) {
            sections.push(Section {
                title: title.clone(),
                about: String::new(),
                lines: Vec::new(),
                tables: vec![Table { header: vec!["ACTION", "BYTES", "PATH", "DETAIL"], rows: Vec::new() }],
            });
        }
        let action = match (e.action, e.reason) {
            (Action::Removed, _) => "removed".to_string(),
            (Action::WouldRemove, _) => "would remove".to_string(),
            (Action::Kept, Some(reason)) => format!("kept: {}", reason.as_str()),
            (Action::Kept, None) => "kept".to_string(),
            (Action::AlreadyGone, _) => "already gone".to_string(),
            (Action::Failed, _) => "error".to_string(),
        };
        let style = match e.action {
            Action::Removed | Action::WouldRemove => layout::good_style(),
            Action::Failed => layout::error_style(),
            _ => layout::info_style(),
        };
        let mut text = vec![Para::Wrap(e.message.clone())];
        text.extend(e.fix.as_ref().map(|fix| Para::Whole(format!("run: {fix}"))));
        let row = Row {
            cells: vec![Cell::styled(action, style), Cell::new(human_bytes(e.bytes)), Cell::new(rel(&e.path, &dir))],
            text,
        };
        if let Some(section) = sections.last_mut() {
            section.tables[0].rows.push(row);
        }
    }
    for section in &mut sections {
        section.about = plural_grouped(section.tables[0].rows.len() as u64, "path", "paths");
    }
    if !outcome.errors.is_empty() {
        let rows = outcome
            .errors
            .iter()
            .map(|e| Row {
                cells: vec![Cell::styled("error", layout::error_style()), Cell::new(e.path.display().to_string())],
                text: vec![Para::Wrap(format!("cannot read: {}", e.message))],
            })
            .collect();
        sections.push(Section {
            title: "could not be read".into(),
            about: String::new(),
            lines: Vec::new(),
            tables: vec![Table { header: vec!["ACTION", "PATH", "DETAIL"], rows }],
        });
    }
    sections
}
