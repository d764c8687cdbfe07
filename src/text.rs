//! Wording every verb shares: counted nouns, short id lists, ages, shell-quoted paths and the
//! scanaudit commands a finding's `fix` names. Pure text: it decides nothing about scan dirs.

use std::path::Path;
use std::time::Duration;

/// `text` with every control character escaped as Rust escapes it (`\n`, `\u{1b}`): file
/// names and unit ids come from the scanned repository and the scan dir, and a name holding
/// an escape sequence must not move the cursor, recolour or clear a user's terminal, nor
/// break a one-line format in two. Borrowed when there is nothing to escape (nearly always).
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect(),
    )
}

/// `one` for exactly one, else `many`: the one plural rule of every message.
pub fn noun<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// `3 units`: a count in a finding or plan note.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", noun(n as u64, one, many))
}

/// `4,210 files`: a count in a summary line, grouped by thousands.
pub fn plural_grouped(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), noun(n, one, many))
}

/// `4210` → `4,210`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How many ids a [`brief_list`] shows before "and N more".
pub const SHOWN_IDS: usize = 3;

/// `"a", "b", "c" and 2 more`: the first few ids, quoted, then how many more. Quoted as Rust
/// quotes a string, so an id that holds a quote or a control character cannot read as two.
pub fn brief_list<'s>(ids: impl IntoIterator<Item = &'s str>) -> String {
    let ids: Vec<&str> = ids.into_iter().collect();
    brief_list_of(ids.iter().copied(), ids.len())
}

/// [`brief_list`] of `total` ids of which `shown` yields the first (at least
/// [`SHOWN_IDS`] of them, or all), for lists too long to collect.
pub fn brief_list_of<'s>(shown: impl IntoIterator<Item = &'s str>, total: usize) -> String {
    let shown: Vec<String> = shown.into_iter().take(SHOWN_IDS).map(|id| format!("{id:?}")).collect();
    let more = total.saturating_sub(SHOWN_IDS);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// `59s`, `3h 12m`, `2d 1h`.
pub fn human_age(age: Duration) -> String {
    let secs = age.as_secs();
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// `path` relative to `dir` (`.` for `dir` itself), or whole when outside it.
pub fn rel(path: &Path, dir: &Path) -> String {
    match path.strip_prefix(dir) {
        Ok(p) if p.as_os_str().is_empty() => ".".into(),
        Ok(p) => p.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// Quotes a path for a POSIX shell only when it needs it.
pub fn shell_quote(path: &Path) -> String {
    let text = path.to_string_lossy();
    let safe = !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-./:@%+=,".contains(&b));
    if safe {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The command that upgrades the old formats of a scan dir.
pub fn migrate_command(scan_dir: &Path) -> String {
    format!("scanaudit migrate {}", shell_quote(scan_dir))
}

/// The command that rebuilds what is damaged or stale in a scan dir: the `fix` of every
/// finding that is `scanaudit repair`'s to fix.
pub fn repair_command(scan_dir: &Path) -> String {
    format!("scanaudit repair {}", shell_quote(scan_dir))
}

/// Whether a finding's `fix` makes it `scanaudit repair`'s to fix: what repair acts on, and
/// what no check after a repair may still report.
pub fn is_repair_command(fix: &str) -> bool {
    fix.starts_with("scanaudit repair ")
}

/// The command that removes the stray temps of a directory.
pub fn clean_command(dir: &Path) -> String {
    format!("scanaudit clean {}", shell_quote(dir))
}

/// The command that prunes a scan dir's old backups.
pub fn clean_backups_command(scan_dir: &Path) -> String {
    format!("scanaudit clean --backups 30d {}", shell_quote(scan_dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(printable("scans/a\u{1b}[2Jb\n\tc é"), r"scans/a\u{1b}[2Jb\n\tc é");
        assert!(matches!(printable("plain é ✓"), std::borrow::Cow::Borrowed("plain é ✓")));
        assert_eq!(printable("del\u{7f} c1\u{9b}"), r"del\u{7f} c1\u{9b}");
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote(Path::new("a/b-c.json")), "a/b-c.json");
        assert_eq!(shell_quote(Path::new("a b/it's")), r"'a b/it'\''s'");
    }

    #[test]
    fn ages() {
        assert_eq!(human_age(Duration::from_secs(59)), "59s");
        assert_eq!(human_age(Duration::from_secs(3 * 3600 + 12 * 60)), "3h 12m");
        assert_eq!(human_age(Duration::from_secs(2 * 86_400 + 3600)), "2d 1h");
    }

    #[test]
    fn counts() {
        assert_eq!(plural(1, "unit", "units"), "1 unit");
        assert_eq!(plural(4210, "unit", "units"), "4210 units");
        assert_eq!(plural_grouped(4210, "file", "files"), "4,210 files");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn ids_are_listed_briefly() {
        assert_eq!(brief_list(["a", "b"]), "\"a\", \"b\"");
        assert_eq!(brief_list(["a", "b", "c", "d", "e"]), "\"a\", \"b\", \"c\" and 2 more");
    }

    /// The rule picked where consistency's list (plain `"…"`) and regen's (`{:?}`) disagreed:
    /// an id is quoted as Rust quotes a string, so one holding `", "` stays one id.
    #[test]
    fn an_id_with_a_quote_stays_one_id() {
        assert_eq!(brief_list([r#"a", "b"#]), r#""a\", \"b""#);
    }
}
