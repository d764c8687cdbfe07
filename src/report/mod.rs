//! All terminal output: the findings table, the JSON document, the CI formats (GitHub Actions
//! annotations, JUnit XML), one line per finding, the summary line.

pub mod clean;
mod github;
mod json;
mod junit;
pub mod layout;
mod lines;
pub mod migrate;
pub mod plan;
pub mod repair;
mod summary;
pub mod table;
pub mod undo;

use std::io::{self, Write};
use std::path::PathBuf;

pub use summary::{Counts, Summary};

use crate::check::CheckOutcome;
use crate::cli::Format;
use crate::config::OutputConfig;
use crate::exit_codes::ExitCode;
use crate::finding::Finding;

/// The exit bits of a failed write to stdout: none for a broken pipe (`scanaudit check | head`
/// is not an error), operational for anything else, which is also said on stderr.
pub fn output_error(error: &io::Error) -> ExitCode {
    if error.kind() == io::ErrorKind::BrokenPipe {
        ExitCode::SUCCESS
    } else {
        crate::diag::error(None, format!("writing output: {error}"));
        ExitCode::OPERATIONAL
    }
}

/// Renders a check: the table (or JSON, GitHub annotations, JUnit XML) and the summary line. `findings` are already graded.
pub fn render_check(
    out: &mut dyn Write,
    output: &OutputConfig,
    roots: &[PathBuf],
    outcome: &CheckOutcome,
    findings: &[Finding],
) -> io::Result<()> {
    let summary = Summary::new(outcome, findings);
    match output.format {
        Format::Json => json::write(out, roots, &summary, findings),
        Format::Junit => junit::write(out, &outcome.checked, findings),
        Format::Table | Format::Github | Format::Lines => {
            if output.quiet && findings.is_empty() {
                return Ok(());
            }
            match output.format {
                Format::Github => github::write(out, findings)?,
                Format::Lines => lines::write(out, findings)?,
                _ if findings.is_empty() => {}
                _ => {
                    layout::write_sections(out, layout::Layout::stdout(output.color), &table::sections(findings))?;
                    writeln!(out)?;
                }
            }
            // Notes and the next step go between the findings and the summary line.
            writeln!(out, "{}", summary.line())
        }
    }
}
