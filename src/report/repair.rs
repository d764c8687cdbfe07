//! Rendering of `scanaudit repair`: the plan, the question, what was done, as a table or one
//! JSON document.

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use comfy_table::{presets, Cell, ContentArrangement, Table};
use serde::Serialize;

use super::json::FORMAT_VERSION;
use crate::cli::Format;
use crate::config::OutputConfig;
use crate::repair::{Action, ActionOutcome, Applied, DirPlan, DirStatus, Plan, Unfixable};

/// `path` relative to `dir` (`.` for `dir` itself), or whole when outside it.
pub(crate) fn rel(path: &Path, dir: &Path) -> String {
    match path.strip_prefix(dir) {
        Ok(p) if p.as_os_str().is_empty() => ".".into(),
        Ok(p) => p.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

pub(crate) fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    super::table::fit_width(&mut table);
    table.set_header(header.iter().map(Cell::new));
    table
}

fn describe_action(action: &Action) -> String {
    let mut text = action.reason.clone();
    if let Some(source) = &action.source {
        text.push_str(&format!(
            " (from {})",
            source.file_name().map_or_else(String::new, |n| n.to_string_lossy().into())
        ));
    }
    for note in &action.notes {
        text.push_str(&format!("\n• {note}"));
    }
    text
}

pub(crate) fn outcome_text(outcome: &ActionOutcome) -> String {
    match outcome {
        ActionOutcome::Done => "done".into(),
        ActionOutcome::DoneNotDurable(why) => format!("written, durability not guaranteed ({why})"),
        ActionOutcome::Failed(why) => format!("FAILED: {why}"),
        ActionOutcome::Skipped(why) => format!("skipped: {why}"),
    }
}

/// The plan as a table, plus what cannot be fixed and which dirs are left alone.
pub fn write_plan(out: &mut dyn Write, plan: &Plan, applied: Option<&Applied>) -> io::Result<()> {
    let mut actions = table(&["SCAN DIR", "ACTION", "FILE", if applied.is_some() { "RESULT" } else { "WHY" }]);
    let mut any = false;
    for dir in &plan.scan_dirs {
        let outcomes = applied.and_then(|a| a.dirs.iter().find(|d| d.scan_dir == dir.scan_dir));
        for (i, action) in dir.actions.iter().enumerate() {
            any = true;
            let last = match (&dir.status, outcomes) {
                (DirStatus::InUse(why), _) => format!("not run: scan dir in use ({why})\n{}", describe_action(action)),
                (_, Some(o)) => {
                    format!(
                        "{}\n{}",
                        o.outcomes.get(i).map_or_else(|| "-".into(), outcome_text),
                        describe_action(action)
                    )
                }
                _ => describe_action(action),
            };
            actions.add_row(vec![
                Cell::new(dir.scan_dir.display()),
                Cell::new(
                    serde_json::to_value(action.action)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                ),
                Cell::new(rel(&action.target, &dir.scan_dir)),
                Cell::new(last),
            ]);
        }
    }
    if any {
        writeln!(out, "{actions}")?;
    }
    let unfixable: Vec<(&DirPlan, &Unfixable)> =
        plan.scan_dirs.iter().flat_map(|d| d.unfixable.iter().map(move |u| (d, u))).collect();
    if !unfixable.is_empty() {
        let mut t = table(&["SCAN DIR", "CANNOT FIX", "WHY", "FIX"]);
        for (dir, u) in unfixable {
            t.add_row(vec![
                Cell::new(dir.scan_dir.display()),
                Cell::new(rel(&u.path, &dir.scan_dir)),
                Cell::new(&u.reason),
                Cell::new(u.fix.as_deref().unwrap_or("-")),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    for (path, error) in &plan.walk_errors {
        writeln!(out, "cannot read {}: {error}", path.display())?;
    }
    // Read errors in a scan dir that no row above explains already.
    for dir in &plan.scan_dirs {
        for (path, error) in dir.io_errors.iter().filter(|(p, _)| !dir.unfixable.iter().any(|u| &u.path == p)) {
            writeln!(out, "cannot read {}: {error}", path.display())?;
        }
    }
    Ok(())
}

/// `repair: 3 scan dirs, 5 actions planned ...` or what was done.
pub fn summary_line(plan: &Plan, applied: Option<&Applied>) -> String {
    let dirs = plan.scan_dirs.len();
    let in_use = plan.scan_dirs.iter().filter(|d| matches!(d.status, DirStatus::InUse(_)) && d.has_work()).count();
    let unfixable: usize = plan.scan_dirs.iter().map(|d| d.unfixable.len()).sum();
    let mut parts = Vec::new();
    match applied {
        None => parts.push(format!("{} planned", plural(plan.action_count(), "action", "actions"))),
        Some(applied) => {
            let count =
                |f: fn(&ActionOutcome) -> bool| applied.dirs.iter().flat_map(|d| &d.outcomes).filter(|o| f(o)).count();
            parts.push(format!(
                "{} done",
                plural(
                    count(|o| matches!(o, ActionOutcome::Done | ActionOutcome::DoneNotDurable(_))),
                    "action",
                    "actions"
                )
            ));
            let failed = count(|o| matches!(o, ActionOutcome::Failed(_)));
            if failed > 0 {
                parts.push(format!("{failed} failed"));
            }
            let skipped = count(|o| matches!(o, ActionOutcome::Skipped(_)));
            if skipped > 0 {
                parts.push(format!("{skipped} skipped"));
            }
        }
    }
    if in_use > 0 {
        parts.push(format!("{} in use, left alone", plural(in_use, "scan dir", "scan dirs")));
    }
    if unfixable > 0 {
        parts.push(format!("{unfixable} cannot be fixed here"));
    }
    if plan.action_count() == 0 && in_use == 0 && unfixable == 0 {
        return format!("repair: checked {}: nothing to do", plural(dirs, "scan dir", "scan dirs"));
    }
    format!("repair: checked {}: {}", plural(dirs, "scan dir", "scan dirs"), parts.join(", "))
}

pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    crate::text::plural_grouped(n as u64, one, many)
}

#[derive(Serialize)]
struct Document<'a> {
    scanaudit: Tool,
    roots: Vec<String>,
    /// Per root, its bytes when some root is not UTF-8 (`json_path`).
    #[serde(skip_serializing_if = "Option::is_none")]
    roots_bytes: Option<Vec<Option<String>>>,
    dry_run: bool,
    applied: bool,
    interrupted: bool,
    scan_dirs: Vec<DirDoc<'a>>,
    summary: String,
}

#[derive(Serialize)]
pub(crate) struct Tool {
    version: &'static str,
    format: u32,
}

/// The `scanaudit` header of every JSON document.
pub(crate) fn tool() -> Tool {
    Tool { version: env!("CARGO_PKG_VERSION"), format: FORMAT_VERSION }
}

#[derive(Serialize)]
struct DirDoc<'a> {
    #[serde(flatten)]
    plan: &'a DirPlan,
    outcomes: Option<&'a [ActionOutcome]>,
    #[serde(flatten, serialize_with = "crate::json_path::opt_backup_dir")]
    backup_dir: Option<&'a PathBuf>,
}

pub fn write_json(
    out: &mut dyn Write,
    roots: &[PathBuf],
    plan: &Plan,
    applied: Option<&Applied>,
    dry_run: bool,
) -> io::Result<()> {
    let scan_dirs = plan
        .scan_dirs
        .iter()
        .map(|dir| {
            let done = applied.and_then(|a| a.dirs.iter().find(|d| d.scan_dir == dir.scan_dir));
            DirDoc {
                plan: dir,
                outcomes: done.map(|d| d.outcomes.as_slice()),
                backup_dir: done.and_then(|d| d.backup_dir.as_ref()),
            }
        })
        .collect();
    let document = Document {
        scanaudit: tool(),
        roots: crate::json_path::roots(roots),
        roots_bytes: crate::json_path::roots_bytes(roots),
        dry_run,
        applied: applied.is_some(),
        interrupted: applied.is_some_and(|a| a.interrupted),
        scan_dirs,
        summary: summary_line(plan, applied),
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)
}

/// Prints the plan (table format only; JSON waits for the outcome).
pub fn render_plan(out: &mut dyn Write, output: &OutputConfig, plan: &Plan) -> io::Result<()> {
    if output.format == Format::Table && !(output.quiet && plan.action_count() == 0 && !has_unfixable(plan)) {
        write_plan(out, plan, None)?;
    }
    Ok(())
}

fn has_unfixable(plan: &Plan) -> bool {
    plan.scan_dirs.iter().any(|d| !d.unfixable.is_empty() || matches!(d.status, DirStatus::InUse(_)))
}

/// Asks on stderr, reads the answer from stdin; anything but y/yes is no.
pub fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = io::stderr().flush();
    let mut answer = String::new();
    if io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
