//! All terminal output: the findings table, the JSON document, the CI formats (GitHub Actions
//! annotations, JUnit XML), the summary line.

pub mod clean;
mod github;
mod json;
mod junit;
pub mod migrate;
pub mod plan;
pub mod repair;
mod summary;
mod table;

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
        Format::Table | Format::Github => {
            if output.quiet && findings.is_empty() {
                return Ok(());
            }
            if output.format == Format::Github {
                github::write(out, findings)?;
            } else if !findings.is_empty() {
                writeln!(out, "{}", table::render(findings, output.color))?;
            }
            writeln!(out, "{}", summary.line())
        }
    }
}
