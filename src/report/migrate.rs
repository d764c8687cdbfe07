//! Rendering of `scanaudit migrate`: the list of migrations, the plan, the question, what was
//! done, as a table or one JSON document.

use std::io::{self, Write};
use std::path::PathBuf;

use comfy_table::Cell;
use serde::Serialize;

use super::repair::{outcome_text, plural, rel, table, tool, Tool};
use crate::cli::Format;
use crate::config::OutputConfig;
use crate::migrate::{ActionOutcome, Applied, DirPlan, DirStatus, Migration, MigrationAction, Plan, Unfixable};

/// `migrate --list`.
pub fn write_list(out: &mut dyn Write, output: &OutputConfig, migrations: &[Migration]) -> io::Result<()> {
    if output.format == Format::Json {
        #[derive(Serialize)]
        struct ListDoc<'a> {
            scanaudit: Tool,
            migrations: &'a [Migration],
        }
        serde_json::to_writer_pretty(&mut *out, &ListDoc { scanaudit: tool(), migrations })?;
        return writeln!(out);
    }
    let mut t = table(&["ID", "WHAT IT UPGRADES"]);
    for m in migrations {
        t.add_row(vec![Cell::new(m.id), Cell::new(m.description)]);
    }
    writeln!(out, "{t}")?;
    writeln!(out, "Migrations run in this order; each one is skipped where it does not apply.")
}

fn describe(action: &MigrationAction) -> String {
    let mut text = action.reason.clone();
    for note in &action.notes {
        text.push_str(&format!("\n• {note}"));
    }
    text
}

/// The plan as a table (with results once applied), plus what cannot be migrated.
pub fn write_plan(out: &mut dyn Write, plan: &Plan, applied: Option<&Applied>) -> io::Result<()> {
    let last = if applied.is_some() { "RESULT" } else { "CHANGE" };
    let mut actions = table(&["SCAN DIR", "MIGRATION", "PATH", last]);
    let mut any = false;
    for dir in &plan.scan_dirs {
        let done = applied.and_then(|a| a.dirs.iter().find(|d| d.scan_dir == dir.scan_dir));
        for (i, action) in dir.actions.iter().enumerate() {
            any = true;
            let text = match (&dir.status, done.and_then(|d| d.results.get(i))) {
                (DirStatus::InUse(why), _) => format!("not run: scan dir in use ({why})\n{}", describe(action)),
                (_, Some(result)) => {
                    let mut text = format!("{}\n{}", outcome_text(&result.outcome), describe(action));
                    for detail in &result.details {
                        text.push_str(&format!("\n• {detail}"));
                    }
                    text
                }
                _ => describe(action),
            };
            actions.add_row(vec![
                Cell::new(dir.scan_dir.display()),
                Cell::new(action.migration),
                Cell::new(rel(&action.target, &dir.scan_dir)),
                Cell::new(text),
            ]);
        }
    }
    if any {
        writeln!(out, "{actions}")?;
    }
    let unfixable: Vec<(&DirPlan, &Unfixable)> =
        plan.scan_dirs.iter().flat_map(|d| d.unfixable.iter().map(move |u| (d, u))).collect();
    if !unfixable.is_empty() {
        let mut t = table(&["SCAN DIR", "MIGRATION", "CANNOT MIGRATE", "WHY"]);
        for (dir, u) in unfixable {
            t.add_row(vec![
                Cell::new(dir.scan_dir.display()),
                Cell::new(u.migration),
                Cell::new(rel(&u.path, &dir.scan_dir)),
                Cell::new(&u.reason),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    for (path, error) in plan.walk_errors.iter().chain(plan.scan_dirs.iter().flat_map(|d| &d.io_errors)) {
        writeln!(out, "cannot read {}: {error}", path.display())?;
    }
    Ok(())
}

/// `migrate: checked 3 scan dirs: 5 actions planned ...` or what was done.
pub fn summary_line(plan: &Plan, applied: Option<&Applied>) -> String {
    let dirs = plural(plan.scan_dirs.len(), "scan dir", "scan dirs");
    let in_use = plan.scan_dirs.iter().filter(|d| matches!(d.status, DirStatus::InUse(_)) && d.has_work()).count();
    let unfixable: usize = plan.scan_dirs.iter().map(|d| d.unfixable.len()).sum();
    let mut parts = Vec::new();
    match applied {
        None => parts.push(format!("{} planned", plural(plan.action_count(), "action", "actions"))),
        Some(applied) => {
            let count = |f: fn(&ActionOutcome) -> bool| applied.results().filter(|r| f(&r.outcome)).count();
            let done = count(|o| matches!(o, ActionOutcome::Done | ActionOutcome::DoneNotDurable(_)));
            parts.push(format!("{} done", plural(done, "action", "actions")));
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
        parts.push(format!("{unfixable} cannot be migrated"));
    }
    if plan.action_count() == 0 && in_use == 0 && unfixable == 0 {
        return format!("migrate: checked {dirs}: nothing to migrate");
    }
    format!("migrate: checked {dirs}: {}", parts.join(", "))
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
struct DirDoc<'a> {
    #[serde(flatten)]
    plan: &'a DirPlan,
    results: Option<&'a [crate::migrate::apply::ActionResult]>,
    #[serde(flatten, serialize_with = "crate::json_path::opt_backup_dir")]
    backup_dir: Option<&'a PathBuf>,
}

/// The whole run as one JSON document (`--format json`).
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
                results: done.map(|d| d.results.as_slice()),
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

/// Prints the plan before anything is done (table format only; JSON waits for the outcome).
pub fn render_plan(out: &mut dyn Write, output: &OutputConfig, plan: &Plan) -> io::Result<()> {
    let quiet_and_clean = output.quiet
        && plan.action_count() == 0
        && plan.scan_dirs.iter().all(|d| d.unfixable.is_empty() && !matches!(d.status, DirStatus::InUse(_)));
    if output.format == Format::Table && !quiet_and_clean {
        write_plan(out, plan, None)?;
    }
    Ok(())
}
