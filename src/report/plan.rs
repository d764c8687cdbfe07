//! Rendering of a plan/apply verb (`repair`, `migrate`): the plan table, what cannot be done,
//! the results once applied, the summary line and the one JSON document. Each verb says only
//! what its rows hold ([`PlanRows`]); the layout is the same for both.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::json::Header;
use super::layout::{self, Cell, Layout, Para, Row, Section, Table};
use crate::cli::Format;
use crate::config::OutputConfig;
use crate::dir_plan::{ActionOutcome, Applied, DirOutcome, DirPlan, DirStatus, Outcome, Plan};
use crate::text::{plural_grouped, rel};

/// What one verb's plan rows hold.
pub trait PlanRows {
    type Action: Serialize;
    type Unfixable: Serialize;
    type Result: Outcome + Serialize;
    const WORDS: Words;

    /// The action column: what kind of action it is.
    fn action_name(action: &Self::Action) -> String;
    fn target(action: &Self::Action) -> &Path;
    /// Why the action is planned, in one line.
    fn reason(action: &Self::Action) -> String;
    /// What the action's notes add, one line each under the reason.
    fn notes(action: &Self::Action) -> &[String];
    fn unfixable_path(unfixable: &Self::Unfixable) -> &Path;
    /// A row of the second table ([`Words::unfixable_columns`]), paths relative to `scan_dir`.
    fn unfixable_row(unfixable: &Self::Unfixable, scan_dir: &Path) -> Row;
}

/// The words a verb's output differs in.
pub struct Words {
    /// `repair`, `migrate`: the summary line's first word.
    pub verb: &'static str,
    /// The summary when nothing is planned, nothing is left and nothing is in use.
    pub nothing: &'static str,
    /// What the summary says of the rows of the second table: `cannot be fixed here`.
    pub cannot: &'static str,
    /// The key of each scan dir's results in the JSON document.
    pub results_key: &'static str,
    /// The plan table's columns before the last one: the action, and the path it acts on.
    pub action_columns: [&'static str; 2],
    /// The plan table's last column before anything ran (then it is `RESULT`).
    pub planned_column: &'static str,
    /// The second table's columns, the path last but one, the text last.
    pub unfixable_columns: &'static [&'static str],
}

/// An action's reason, then its notes, one bullet each.
fn describe<V: PlanRows>(action: &V::Action) -> Vec<Para> {
    let mut text = vec![Para::Wrap(V::reason(action))];
    text.extend(V::notes(action).iter().map(|note| Para::Wrap(format!("• {note}"))));
    text
}

type VerbPlan<V> = Plan<<V as PlanRows>::Action, <V as PlanRows>::Unfixable>;
type VerbDirPlan<V> = DirPlan<<V as PlanRows>::Action, <V as PlanRows>::Unfixable>;

/// The word of the RESULT column, coloured by how it went, and what it adds.
fn outcome_cell(outcome: &ActionOutcome) -> (Cell, Option<String>) {
    match outcome {
        ActionOutcome::Done => (Cell::styled("done", layout::good_style()), None),
        ActionOutcome::DoneNotDurable(why) => {
            (Cell::styled("written", layout::warn_style()), Some(format!("durability not guaranteed ({why})")))
        }
        ActionOutcome::Failed(why) => (Cell::styled("FAILED", layout::error_style()), Some(why.clone())),
        ActionOutcome::Skipped(why) => (Cell::styled("skipped", layout::warn_style()), Some(why.clone())),
    }
}

/// What a scan dir's section line says of it.
fn dir_about<V: PlanRows>(dir: &VerbDirPlan<V>, done: Option<&DirOutcome<V::Result>>) -> String {
    let count = |n: usize, one: &str, many: &str| plural_grouped(n as u64, one, many);
    let mut parts = Vec::new();
    match (&dir.status, done) {
        (DirStatus::InUse(why), _) if !dir.actions.is_empty() => {
            parts.push(format!("in use ({why}): {} not run", count(dir.actions.len(), "action", "actions")))
        }
        (_, Some(done)) => {
            let ok = done
                .results
                .iter()
                .filter(|r| matches!(r.outcome(), ActionOutcome::Done | ActionOutcome::DoneNotDurable(_)))
                .count();
            parts.push(format!("{} done of {}", count(ok, "action", "actions"), dir.actions.len()));
        }
        _ if !dir.actions.is_empty() => {
            parts.push(format!("{} planned", count(dir.actions.len(), "action", "actions")))
        }
        _ => {}
    }
    if !dir.unfixable.is_empty() {
        parts.push(format!("{} {}", dir.unfixable.len(), V::WORDS.cannot));
    }
    parts.join(", ")
}

/// The plan, one section per scan dir with work or something it cannot do: the table of its
/// actions (with their results once applied), the table of what cannot be done; then the
/// paths that could not be read.
pub fn write_plan<V: PlanRows>(
    out: &mut dyn Write,
    layout: Layout,
    plan: &VerbPlan<V>,
    applied: Option<&Applied<V::Result>>,
) -> io::Result<()> {
    let [action_column, target_column] = V::WORDS.action_columns;
    let mut sections = Vec::new();
    for dir in plan.scan_dirs.iter().filter(|d| !d.actions.is_empty() || !d.unfixable.is_empty()) {
        let done = applied.and_then(|a| a.dirs.iter().find(|d| d.scan_dir == dir.scan_dir));
        let mut tables = Vec::new();
        if !dir.actions.is_empty() {
            let mut table = match done {
                Some(_) => Table { header: vec!["RESULT", action_column, target_column, "WHY"], rows: Vec::new() },
                None => Table { header: vec![action_column, target_column, V::WORDS.planned_column], rows: Vec::new() },
            };
            for (i, action) in dir.actions.iter().enumerate() {
                let mut cells =
                    vec![Cell::new(V::action_name(action)), Cell::new(rel(V::target(action), &dir.scan_dir))];
                let mut text = Vec::new();
                if let Some(done) = done {
                    let result = done.results.get(i);
                    let (cell, said) = result.map_or((Cell::new("-"), None), |r| outcome_cell(r.outcome()));
                    cells.insert(0, cell);
                    text.extend(said.map(Para::Wrap));
                    text.extend(describe::<V>(action));
                    text.extend(result.map_or(&[][..], Outcome::details).iter().map(|d| Para::Wrap(format!("• {d}"))));
                } else {
                    text = describe::<V>(action);
                }
                table.rows.push(Row { cells, text });
            }
            tables.push(table);
        }
        if !dir.unfixable.is_empty() {
            let rows = dir.unfixable.iter().map(|u| V::unfixable_row(u, &dir.scan_dir)).collect();
            tables.push(Table { header: V::WORDS.unfixable_columns.to_vec(), rows });
        }
        sections.push(Section {
            title: dir.scan_dir.display().to_string(),
            about: dir_about::<V>(dir, done),
            lines: Vec::new(),
            tables,
        });
    }
    layout::write_sections(out, layout, &sections)?;
    if !sections.is_empty() {
        writeln!(out)?;
    }
    // Read errors are errors: said on stderr by `cmd::plan_and_apply`, not in the table.
    Ok(())
}

/// The read errors of a plan that no "cannot" row explains already (repair's rule: a row that
/// names the file says why; migrate used to repeat it).
pub fn unexplained_read_errors<V: PlanRows>(plan: &VerbPlan<V>) -> Vec<(&Path, &str)> {
    let mut errors: Vec<(&Path, &str)> = plan.walk_errors.iter().map(|(p, e)| (p.as_path(), e.as_str())).collect();
    for dir in &plan.scan_dirs {
        let explained = |path: &PathBuf| dir.unfixable.iter().any(|u| V::unfixable_path(u) == path);
        errors.extend(dir.io_errors.iter().filter(|(p, _)| !explained(p)).map(|(p, e)| (p.as_path(), e.as_str())));
    }
    errors
}

/// `repair: checked 3 scan dirs: 5 actions planned ...` or what was done.
pub fn summary_line<V: PlanRows>(plan: &VerbPlan<V>, applied: Option<&Applied<V::Result>>) -> String {
    let summary = PlanSummary::new(plan, applied);
    let count = |n: u64, one: &str, many: &str| plural_grouped(n, one, many);
    let dirs = count(summary.scan_dirs, "scan dir", "scan dirs");
    let mut parts = Vec::new();
    match applied {
        None => parts.push(format!("{} planned", count(summary.planned, "action", "actions"))),
        Some(_) => {
            parts.push(format!("{} done", count(summary.done, "action", "actions")));
            if summary.failed > 0 {
                parts.push(format!("{} failed", summary.failed));
            }
            if summary.skipped > 0 {
                parts.push(format!("{} skipped", summary.skipped));
            }
        }
    }
    if summary.in_use > 0 {
        parts.push(format!("{} in use, left alone", count(summary.in_use, "scan dir", "scan dirs")));
    }
    if summary.unfixable > 0 {
        parts.push(format!("{} {}", summary.unfixable, V::WORDS.cannot));
    }
    if summary.planned == 0 && summary.in_use == 0 && summary.unfixable == 0 {
        return format!("{}: checked {dirs}: {}", V::WORDS.verb, V::WORDS.nothing);
    }
    format!("{}: checked {dirs}: {}", V::WORDS.verb, parts.join(", "))
}

/// The `summary` object of repair's and migrate's JSON document (format 2): counts, as
/// check's and clean's; field names are a public interface (README "JSON output").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    /// Scan dirs found under the roots.
    pub scan_dirs: u64,
    /// Actions planned in scan dirs that may be touched.
    pub planned: u64,
    /// Actions done (including those whose directory fsync failed).
    pub done: u64,
    pub failed: u64,
    /// Not attempted: interrupted, the scan dir locked, or an earlier action failed.
    pub skipped: u64,
    /// Scan dirs with work to do left alone because they are in use.
    pub in_use: u64,
    /// Things found that this verb cannot do here (the second table's rows).
    pub unfixable: u64,
    /// Paths that could not be read while walking or planning.
    pub read_errors: u64,
}

impl PlanSummary {
    pub fn new<A, U, R: Outcome>(plan: &Plan<A, U>, applied: Option<&Applied<R>>) -> PlanSummary {
        let outcomes = |f: fn(&ActionOutcome) -> bool| -> u64 {
            applied.map_or(0, |a| a.results().filter(|r| f(r.outcome())).count() as u64)
        };
        let dirs = &plan.scan_dirs;
        PlanSummary {
            scan_dirs: dirs.len() as u64,
            planned: plan.action_count() as u64,
            done: outcomes(|o| matches!(o, ActionOutcome::Done | ActionOutcome::DoneNotDurable(_))),
            failed: outcomes(|o| matches!(o, ActionOutcome::Failed(_))),
            skipped: outcomes(|o| matches!(o, ActionOutcome::Skipped(_))),
            in_use: dirs.iter().filter(|d| matches!(d.status, DirStatus::InUse(_)) && d.has_work()).count() as u64,
            unfixable: dirs.iter().map(|d| d.unfixable.len() as u64).sum(),
            read_errors: (plan.walk_errors.len() + dirs.iter().map(|d| d.io_errors.len()).sum::<usize>()) as u64,
        }
    }
}

#[derive(Serialize)]
#[serde(bound = "")]
struct Document<'a, V: PlanRows> {
    #[serde(flatten)]
    header: Header,
    dry_run: bool,
    applied: bool,
    interrupted: bool,
    scan_dirs: Vec<DirDoc<'a, V>>,
    summary: PlanSummary,
    /// The summary line, as the table ends with it.
    summary_line: String,
}

#[derive(Serialize)]
#[serde(bound = "")]
struct DirDoc<'a, V: PlanRows> {
    #[serde(flatten)]
    plan: &'a VerbDirPlan<V>,
    #[serde(flatten)]
    results: Results<'a, V>,
    #[serde(flatten, serialize_with = "crate::json_path::opt_backup_dir")]
    backup_dir: Option<&'a PathBuf>,
}

/// A scan dir's results under the verb's own key ([`Words::results_key`]); `null` when
/// nothing ran there.
struct Results<'a, V: PlanRows>(Option<&'a [V::Result]>);

impl<V: PlanRows> Serialize for Results<'_, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(V::WORDS.results_key, &self.0)?;
        map.end()
    }
}

/// The whole run as one JSON document (`--format json`).
pub fn write_json<V: PlanRows>(
    out: &mut dyn Write,
    roots: &[PathBuf],
    plan: &VerbPlan<V>,
    applied: Option<&Applied<V::Result>>,
    dry_run: bool,
) -> io::Result<()> {
    let scan_dirs = plan
        .scan_dirs
        .iter()
        .map(|dir| {
            let done = applied.and_then(|a| a.dirs.iter().find(|d| d.scan_dir == dir.scan_dir));
            DirDoc::<V> {
                plan: dir,
                results: Results(done.map(|d| d.results.as_slice())),
                backup_dir: done.and_then(|d| d.backup_dir.as_ref()),
            }
        })
        .collect();
    let document = Document::<V> {
        header: Header::new(roots),
        dry_run,
        applied: applied.is_some(),
        interrupted: applied.is_some_and(|a| a.interrupted),
        scan_dirs,
        summary: PlanSummary::new(plan, applied),
        summary_line: summary_line::<V>(plan, applied),
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)
}

/// Prints the plan before anything is done (table format only; JSON waits for the outcome).
pub fn render_plan<V: PlanRows>(out: &mut dyn Write, output: &OutputConfig, plan: &VerbPlan<V>) -> io::Result<()> {
    let quiet_and_clean = output.quiet
        && plan.action_count() == 0
        && plan.scan_dirs.iter().all(|d| d.unfixable.is_empty() && !matches!(d.status, DirStatus::InUse(_)));
    if output.format == Format::Table && !quiet_and_clean {
        write_plan::<V>(out, Layout::stdout(output.color), plan, None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::migrate::Migrate;

    /// The rule picked where repair's renderer and migrate's disagreed: a read error that a
    /// row of the "cannot" table already names is not said again below it (repair's rule;
    /// migrate repeated it).
    #[test]
    fn a_read_error_a_cannot_row_explains_is_not_repeated() {
        let dir = PathBuf::from("/scans/s");
        let path = dir.join("results.json");
        let unfixable =
            crate::migrate::Unfixable { migration: "cp1252", path: path.clone(), reason: "undefined bytes".into() };
        let plan = Plan {
            scan_dirs: vec![DirPlan {
                scan_dir: dir.clone(),
                status: DirStatus::Healthy,
                actions: Vec::new(),
                unfixable: vec![unfixable],
                io_errors: vec![(path, "denied".into()), (dir.join("other.json"), "denied".into())],
            }],
            walk_errors: Vec::new(),
        };
        let mut out = Vec::new();
        write_plan::<Migrate>(&mut out, Layout { width: 100, color: false }, &plan, None).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("CANNOT MIGRATE"), "{text}");
        let errors = unexplained_read_errors::<Migrate>(&plan);
        assert_eq!(errors, [(Path::new("/scans/s/other.json"), "denied")]);
    }
}
