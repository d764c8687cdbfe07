//! Rendering of `scanaudit undo`: the sessions (`--list`, table or JSON), and what its plan
//! rows hold. The layout, the summary line and the JSON document are [`super::plan`]'s.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::json::Header;
use super::layout::{self, Cell, Layout, Para, Row, Section, Table};
use super::plan::{PlanRows, Words};
use crate::cli::Format;
use crate::config::OutputConfig;
use crate::dir_plan::ActionOutcome;
use crate::text::{plural_grouped, rel, thousands};
use crate::undo::{DirSessions, Kept, UndoAction};

/// `undo --list`: per scan dir, its sessions, oldest first.
pub fn write_list(
    out: &mut dyn Write,
    output: &OutputConfig,
    roots: &[PathBuf],
    dirs: &[DirSessions],
) -> io::Result<()> {
    let count: usize = dirs.iter().map(|d| d.sessions.len()).sum();
    let summary = format!(
        "undo: {} in {}",
        plural_grouped(count as u64, "backup session", "backup sessions"),
        plural_grouped(dirs.len() as u64, "scan dir", "scan dirs")
    );
    if output.format == Format::Json {
        #[derive(Serialize)]
        struct ListDoc<'a> {
            #[serde(flatten)]
            header: Header,
            scan_dirs: &'a [DirSessions],
            summary: &'a str,
        }
        serde_json::to_writer_pretty(
            &mut *out,
            &ListDoc { header: Header::new(roots), scan_dirs: dirs, summary: &summary },
        )?;
        return writeln!(out);
    }
    if count > 0 {
        layout::write_sections(out, Layout::stdout(output.color), &list_sections(dirs))?;
    }
    if !output.quiet || count > 0 {
        writeln!(out, "{summary}")?;
        if count > 0 {
            writeln!(out, "Undo one with `scanaudit undo --session SESSION PATH` or the newest with `--last`.")?;
        }
    }
    Ok(())
}

/// One section per scan dir: its sessions, oldest first, the note last (the column that wraps).
fn list_sections(dirs: &[DirSessions]) -> Vec<Section> {
    dirs.iter()
        .filter(|dir| !dir.sessions.is_empty())
        .map(|dir| {
            let rows = dir
                .sessions
                .iter()
                .map(|s| {
                    let note = match (&s.problem, s.complete, &s.undoes) {
                        (Some(problem), _, _) => problem.clone(),
                        (None, Some(false), _) => "stopped while it wrote".to_string(),
                        (None, _, Some(undid)) => format!("undid {undid}"),
                        _ => String::new(),
                    };
                    Row {
                        cells: vec![
                            Cell::new(s.session.clone()),
                            Cell::new(s.verb.as_deref().unwrap_or("?")),
                            Cell::new(thousands(s.files as u64)),
                            Cell::new(thousands(s.bytes)),
                        ],
                        text: vec![Para::Wrap(note)],
                    }
                })
                .collect();
            Section {
                title: dir.scan_dir.display().to_string(),
                about: plural_grouped(dir.sessions.len() as u64, "backup session", "backup sessions"),
                lines: Vec::new(),
                tables: vec![Table { header: vec!["SESSION", "VERB", "FILES", "BYTES", "NOTE"], rows }],
            }
        })
        .collect()
}

/// `undo`'s rows.
pub struct Undo;

impl PlanRows for Undo {
    type Action = UndoAction;
    type Unfixable = Kept;
    type Result = ActionOutcome;
    const WORDS: Words = Words {
        verb: "undo",
        nothing: "nothing to undo",
        cannot: "kept (changed since, or refused)",
        results_key: "results",
        action_columns: ["UNDO", "PATH"],
        planned_column: "WHY",
        unfixable_columns: &["SESSION", "KEPT", "WHY"],
    };

    fn action_name(action: &UndoAction) -> String {
        action.undo.to_string()
    }

    fn target(action: &UndoAction) -> &Path {
        &action.target
    }

    fn reason(action: &UndoAction) -> String {
        format!("{} (session {})", action.reason, action.session)
    }

    fn notes(action: &UndoAction) -> &[String] {
        &action.notes
    }

    fn unfixable_path(kept: &Kept) -> &Path {
        &kept.path
    }

    fn unfixable_row(kept: &Kept, scan_dir: &Path) -> Row {
        Row {
            cells: vec![Cell::new(kept.session.clone()), Cell::new(rel(&kept.path, scan_dir))],
            text: vec![Para::Wrap(kept.reason.clone())],
        }
    }
}
