//! `--format github`: one GitHub Actions workflow command per finding,
//! `::error file=PATH,line=L,col=C,title=KIND::MESSAGE`, so that each damaged file is an
//! annotation on the run page. Escaped exactly as GitHub's toolkit does (`@actions/core`,
//! `command.ts`: `escapeData`, `escapeProperty`).

use std::io::{self, Write};

use crate::finding::{Finding, Level};

pub fn write(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    for finding in findings {
        writeln!(out, "{}", command(finding))?;
    }
    Ok(())
}

/// The workflow command of one finding. PATH is the path as check saw it (relative to the
/// working directory when the argument was), which is what GitHub resolves against the
/// checkout; line and column only when the damage has a place in the file.
fn command(finding: &Finding) -> String {
    let name = match finding.level {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "notice",
    };
    let mut properties = vec![format!("file={}", escape_property(&finding.path.to_string_lossy()))];
    if let Some(location) = finding.location {
        properties.push(format!("line={}", location.line));
        properties.push(format!("col={}", location.column));
    }
    properties.push(format!("title={}", escape_property(finding.kind.as_str())));
    let mut message = finding.message.clone();
    if let Some(fix) = &finding.fix {
        message.push_str("\nfix: ");
        message.push_str(fix);
    }
    format!("::{name} {}::{}", properties.join(","), escape_data(&message))
}

/// The message of a workflow command: `%`, CR and LF escaped (`%` first).
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A property value: as data, and also `:` and `,`, which delimit properties.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{FindingKind, Location};

    #[test]
    fn data_escapes_percent_first_then_line_breaks() {
        assert_eq!(escape_data("100% done\r\nnext: a, b"), "100%25 done%0D%0Anext: a, b");
        // A literal "%0A" in the text must not come out as a newline.
        assert_eq!(escape_data("%0A"), "%250A");
    }

    #[test]
    fn properties_also_escape_colon_and_comma() {
        assert_eq!(escape_property("a:b,c%d\ne"), "a%3Ab%2Cc%25d%0Ae");
        assert_eq!(escape_property("dir/file.json"), "dir/file.json");
    }

    #[test]
    fn one_command_per_finding_by_level_with_location_when_known() {
        let finding = Finding::new(FindingKind::Truncated, "scans/x,y:z/results.json", "ends early: 50% in, a, b");
        let mut located = finding.clone();
        located.location = Some(Location { offset: 9, line: 3, column: 7 });
        located.fix = Some("scanaudit repair scans".into());
        assert_eq!(
            command(&finding),
            "::error file=scans/x%2Cy%3Az/results.json,title=truncated::ends early: 50%25 in, a, b"
        );
        assert_eq!(
            command(&located),
            "::error file=scans/x%2Cy%3Az/results.json,line=3,col=7,title=truncated::\
             ends early: 50%25 in, a, b%0Afix: scanaudit repair scans"
        );
        assert!(command(&finding.clone().level(Level::Warn)).starts_with("::warning file="));
        assert!(command(&finding.level(Level::Info)).starts_with("::notice file="));
    }
}
