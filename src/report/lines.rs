//! `--format lines`: one finding per line, `PATH:LINE:COL: LEVEL[KIND] MESSAGE`, as cargo and
//! ruff print theirs, for grep and editors' error lists. PATH is as check saw it (relative to
//! the working directory when the root given was); LINE and COL are 1-based (COL in bytes, as
//! in the JSON) and left out, with their colons, when the finding is about the whole file.
//! Control characters in a path or message are escaped, so a finding is always one line.

use std::io::{self, Write};

use crate::finding::Finding;
use crate::text::printable;

pub fn write(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    for finding in findings {
        writeln!(out, "{}", line(finding))?;
    }
    Ok(())
}

fn line(finding: &Finding) -> String {
    let path = printable(&finding.path.to_string_lossy()).into_owned();
    let place = match finding.location {
        Some(loc) => format!("{path}:{}:{}", loc.line, loc.column),
        None => path,
    };
    format!("{place}: {}[{}] {}", finding.level.as_str(), finding.kind.as_str(), printable(&finding.message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{FindingKind, Location};

    #[test]
    fn a_finding_is_one_line() {
        let mut finding = Finding::new(FindingKind::Truncated, "scans/a\nb/results.json", "ends early:\nEOF");
        assert_eq!(line(&finding), r"scans/a\nb/results.json: error[truncated] ends early:\nEOF");
        finding.location = Some(Location { offset: 9, line: 2, column: 3 });
        assert_eq!(line(&finding), r"scans/a\nb/results.json:2:3: error[truncated] ends early:\nEOF");
    }
}
