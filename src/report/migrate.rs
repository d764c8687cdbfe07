//! Rendering of `scanaudit migrate`: the list of migrations (`--list`), and what its plan rows
//! hold. The layout, the summary line and the JSON document are [`super::plan`]'s.

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use super::json::{tool, Tool};
use super::layout::{self, Cell, Layout, Para, Row, Table};
use super::plan::{PlanRows, Words};
use crate::cli::Format;
use crate::config::OutputConfig;
use crate::migrate::apply::ActionResult;
use crate::migrate::{Migration, MigrationAction, Unfixable};
use crate::text::rel;

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
    let rows = migrations
        .iter()
        .map(|m| Row { cells: vec![Cell::new(m.id)], text: vec![Para::Wrap(m.description.into())] })
        .collect();
    let table = Table { header: vec!["ID", "WHAT IT UPGRADES"], rows };
    layout::write_table(out, Layout::stdout(output.color), &table)?;
    writeln!(out, "Migrations run in this order; each one is skipped where it does not apply.")
}

/// `migrate`'s rows.
pub struct Migrate;

impl PlanRows for Migrate {
    type Action = MigrationAction;
    type Unfixable = Unfixable;
    type Result = ActionResult;
    const WORDS: Words = Words {
        verb: "migrate",
        nothing: "nothing to migrate",
        cannot: "cannot be migrated",
        results_key: "results",
        action_columns: ["MIGRATION", "PATH"],
        planned_column: "CHANGE",
        unfixable_columns: &["MIGRATION", "CANNOT MIGRATE", "WHY"],
    };

    fn action_name(action: &MigrationAction) -> String {
        action.migration.to_string()
    }

    fn target(action: &MigrationAction) -> &Path {
        &action.target
    }

    fn reason(action: &MigrationAction) -> String {
        action.reason.clone()
    }

    fn notes(action: &MigrationAction) -> &[String] {
        &action.notes
    }

    fn unfixable_path(unfixable: &Unfixable) -> &Path {
        &unfixable.path
    }

    fn unfixable_row(u: &Unfixable, scan_dir: &Path) -> Row {
        Row {
            cells: vec![Cell::new(u.migration.to_string()), Cell::new(rel(&u.path, scan_dir))],
            text: vec![Para::Wrap(u.reason.clone())],
        }
    }
}
