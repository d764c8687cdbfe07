//! `--format json`: one document, `{"scanaudit", "roots", "notes", "summary", "findings"}`.
//! Field names are a public interface (documented in README, pinned by snapshot tests).

use std::io::{self, Write};
use std::path::PathBuf;

use serde::Serialize;

use super::Summary;
use crate::finding::Finding;

/// Bumped when a field changes meaning or disappears; adding fields does not bump it. The
/// changes are listed in README ("JSON output", changelog). 2: repair's and migrate's
/// `summary` is an object of counts (was the summary line, now `summary_line`).
pub const FORMAT_VERSION: u32 = 2;

#[derive(Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    header: Header,
    summary: &'a Summary,
    findings: &'a [Finding],
}

/// The `scanaudit` header of every JSON document.
#[derive(Serialize)]
pub(crate) struct Tool {
    version: &'static str,
    format: u32,
}

pub(crate) fn tool() -> Tool {
    Tool { version: env!("CARGO_PKG_VERSION"), format: FORMAT_VERSION }
}

/// What every JSON document about some roots opens with: the tool, and the roots.
#[derive(Serialize)]
pub(crate) struct Header {
    scanaudit: Tool,
    roots: Vec<String>,
    /// Per root, its bytes when some root is not UTF-8 (`json_path`).
    #[serde(skip_serializing_if = "Option::is_none")]
    roots_bytes: Option<Vec<Option<String>>>,
    /// What changed the run or what to do next, as said on stderr ([`crate::diag::note`]).
    notes: Vec<String>,
}

impl Header {
    pub(crate) fn new(roots: &[PathBuf]) -> Header {
        Header {
            scanaudit: tool(),
            roots: crate::json_path::roots(roots),
            roots_bytes: crate::json_path::roots_bytes(roots),
            notes: crate::diag::notes(),
        }
    }
}

pub fn write(out: &mut dyn Write, roots: &[PathBuf], summary: &Summary, findings: &[Finding]) -> io::Result<()> {
    let document = Document { header: Header::new(roots), summary, findings };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)
}
