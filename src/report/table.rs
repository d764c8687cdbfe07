//! The findings table: sorted by path, one row per finding, fitted to the terminal width.

use comfy_table::{presets, Attribute, Cell, Color, ContentArrangement, Table};

use crate::finding::{Finding, Level};

/// Width of the table when stdout is not a terminal (a pager, a file, a CI log), unless
/// `COLUMNS` says otherwise: wide enough for paths, narrow enough to read.
const PIPED_WIDTH: u16 = 160;

/// Off a terminal, the table is `COLUMNS` wide, else [`PIPED_WIDTH`].
pub fn fit_width(table: &mut Table) {
    if table.width().is_none() {
        let columns = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|&c: &u16| c >= 40);
        table.set_width(columns.unwrap_or(PIPED_WIDTH));
    }
}

pub fn render(findings: &[Finding], color: bool) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    fit_width(&mut table);
    // Colour only through the cells styled below, and only when asked for; comfy-table still
    // measures the terminal for the width.
    if color {
        table.enforce_styling();
    }
    let header = ["LEVEL", "KIND", "PATH", "PROBLEM", "FIX"];
    table.set_header(header.iter().map(|h| {
        let cell = Cell::new(h);
        if color {
            cell.add_attribute(Attribute::Bold)
        } else {
            cell
        }
    }));
    for finding in findings {
        let mut problem = finding.message.clone();
        if let Some(loc) = finding.location {
            problem.push_str(&format!(" [line {}, column {}, byte {}]", loc.line, loc.column, loc.offset));
        }
        let level = Cell::new(finding.level.as_str());
        let level = if color {
            level.fg(match finding.level {
                Level::Error => Color::Red,
                Level::Warn => Color::Yellow,
                Level::Info => Color::Cyan,
            })
        } else {
            level
        };
        table.add_row(vec![
            level,
            Cell::new(finding.kind.as_str()),
            Cell::new(finding.path.display()),
            Cell::new(problem),
            Cell::new(finding.fix.as_deref().unwrap_or("-")),
        ]);
    }
    table
}
