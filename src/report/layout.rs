//! The one table layout of every verb's human output: sections (a scan dir, its counts, the
//! commands that fix it), each followed by a table whose cells never wrap except the last
//! column's text. Paths, kinds and commands are never split: a row whose path leaves too little
//! room for its text puts the path alone on its line and the text under it. Colour comes from
//! each cell's style, and only when asked for; widths are measured without it.

use std::io::{self, IsTerminal, Write};

use anstyle::{AnsiColor, Style};
use unicode_width::UnicodeWidthStr;

use crate::text::printable;

/// Width of the output when stdout is not a terminal (a pager, a file, a CI log) and `COLUMNS`
/// does not say: what a reader's window comfortably shows.
pub const PIPED_WIDTH: usize = 100;

/// Narrower than this, nothing lays out well; a `COLUMNS` below it is ignored.
const MIN_WIDTH: usize = 40;

/// The fewest columns the wrapping text keeps beside a path before the row falls back to the
/// path on its own line.
const MIN_TEXT: usize = 30;

/// Between two columns.
const GAP: &str = "  ";

/// The width to lay out for: the terminal's when stdout is one, else `COLUMNS`, else
/// [`PIPED_WIDTH`]. Never a fixed width on a terminal: a window is as wide as it is.
pub fn width() -> usize {
    let stdout = io::stdout();
    if stdout.is_terminal() {
        if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size_of(&stdout) {
            return usize::from(w).max(MIN_WIDTH);
        }
    }
    columns_env(std::env::var("COLUMNS").ok().as_deref())
}

/// `COLUMNS` when it holds a usable width, else [`PIPED_WIDTH`].
fn columns_env(columns: Option<&str>) -> usize {
    columns.and_then(|c| c.trim().parse().ok()).filter(|&c| c >= MIN_WIDTH).unwrap_or(PIPED_WIDTH)
}

/// How to lay out: the width, and whether to colour.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub width: usize,
    pub color: bool,
}

impl Layout {
    /// The layout of this process's stdout ([`width`]), coloured or not as `--color` decided.
    pub fn stdout(color: bool) -> Layout {
        Layout { width: width(), color }
    }
}

/// The style of a level or outcome word.
pub fn error_style() -> Style {
    Style::new().fg_color(Some(AnsiColor::Red.into())).bold()
}

pub fn warn_style() -> Style {
    Style::new().fg_color(Some(AnsiColor::Yellow.into()))
}

pub fn info_style() -> Style {
    Style::new().fg_color(Some(AnsiColor::Cyan.into()))
}

pub fn good_style() -> Style {
    Style::new().fg_color(Some(AnsiColor::Green.into()))
}

fn heading_style() -> Style {
    Style::new().bold()
}

/// One cell of a column that never wraps.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub text: String,
    pub style: Style,
}

impl Cell {
    pub fn new(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), style: Style::new() }
    }

    pub fn styled(text: impl Into<String>, style: Style) -> Cell {
        Cell { text: text.into(), style }
    }
}

/// A paragraph of a row's text: prose that wraps, or a line kept whole (a command).
#[derive(Debug, Clone)]
pub enum Para {
    Wrap(String),
    Whole(String),
}

/// One row: the cells of the columns that never wrap (the last of them may be long: a path),
/// then the text of the last column.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub cells: Vec<Cell>,
    pub text: Vec<Para>,
}

impl Row {
    /// The row with every control character in its cells and text escaped
    /// ([`crate::text::printable`]).
    fn printable(&self) -> Row {
        let cells = self.cells.iter().map(|c| Cell { text: printable(&c.text).into_owned(), style: c.style }).collect();
        let text = self
            .text
            .iter()
            .map(|p| match p {
                Para::Wrap(t) => Para::Wrap(printable(t).into_owned()),
                Para::Whole(t) => Para::Whole(printable(t).into_owned()),
            })
            .collect();
        Row { cells, text }
    }
}

/// A table: `header` names every column, the text column last.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub header: Vec<&'static str>,
    pub rows: Vec<Row>,
}

/// A section: a title line (a path, whole, then what is said of it), lines kept whole under it
/// (the commands that fix it), then its tables.
#[derive(Debug, Clone, Default)]
pub struct Section {
    pub title: String,
    pub about: String,
    pub lines: Vec<String>,
    pub tables: Vec<Table>,
}

/// Writes `sections`, a blank line between two.
pub fn write_sections(out: &mut dyn Write, layout: Layout, sections: &[Section]) -> io::Result<()> {
    for (i, section) in sections.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        let title = paint(&printable(&section.title), heading_style(), layout.color);
        match section.about.is_empty() {
            true => writeln!(out, "{title}")?,
            false => writeln!(out, "{title}: {}", printable(&section.about))?,
        }
        for line in &section.lines {
            writeln!(out, "  {}", printable(line))?;
        }
        for table in &section.tables {
            write_table(out, layout, table)?;
        }
    }
    Ok(())
}

/// Writes one table: the header, then each row, the text wrapped beside the cells, or under
/// them where the last cell leaves too little room.
pub fn write_table(out: &mut dyn Write, layout: Layout, table: &Table) -> io::Result<()> {
    if table.rows.is_empty() {
        return Ok(());
    }
    // Measured and wrapped as they will be shown: control characters escaped.
    let rows: Vec<Row> = table.rows.iter().map(Row::printable).collect();
    let fixed = table.header.len().saturating_sub(1);
    // Every column but the last fixed one is short (a level, a kind, an action): as wide as
    // its widest cell.
    let mut widths: Vec<usize> = table.header[..fixed].iter().map(|h| h.width()).collect();
    for row in &rows {
        for (i, cell) in row.cells.iter().take(fixed.saturating_sub(1)).enumerate() {
            widths[i] = widths[i].max(cell.text.width());
        }
    }
    let long = fixed.saturating_sub(1);
    let long_start: usize = widths[..long].iter().map(|w| w + GAP.len()).sum();
    // The long column is as wide as its widest cell that still leaves MIN_TEXT for the text.
    let room = layout.width.saturating_sub(long_start + GAP.len() + MIN_TEXT);
    let fits = |row: &Row| row.cells.get(long).is_none_or(|c| c.text.width() <= room);
    if fixed > 0 {
        widths[long] = rows
            .iter()
            .filter(|r| fits(r))
            .filter_map(|r| r.cells.get(long))
            .fold(table.header[long].width(), |w, c| w.max(c.text.width()));
    }
    let text_start: usize = widths.iter().map(|w| w + GAP.len()).sum();
    let text_width = layout.width.saturating_sub(text_start).max(MIN_TEXT.min(layout.width));

    let header: Vec<Cell> = table.header[..fixed].iter().map(|h| Cell::styled(*h, heading_style())).collect();
    let last_header = table.header.last().copied().unwrap_or_default();
    writeln!(out, "{}", line(&header, &widths, Some(&paint(last_header, heading_style(), layout.color)), layout))?;
    for row in &rows {
        if fits(row) {
            let mut text = wrap_all(&row.text, text_width).into_iter();
            let first = text.next();
            writeln!(out, "{}", line(&row.cells, &widths, first.as_deref(), layout))?;
            for rest in text {
                writeln!(out, "{:text_start$}{rest}", "")?;
            }
        } else {
            // The fallback: the long cell alone after the short ones, the text under it.
            writeln!(out, "{}", line(&row.cells, &widths[..long], None, layout))?;
            let indent = if layout.width.saturating_sub(long_start) >= MIN_TEXT { long_start } else { GAP.len() * 2 };
            for text in wrap_all(&row.text, layout.width.saturating_sub(indent).max(1)) {
                writeln!(out, "{:indent$}{text}", "")?;
            }
        }
    }
    Ok(())
}

/// The cells padded to `widths` (a cell past the widths is written whole, unpadded), then
/// `text`; no trailing spaces.
fn line(cells: &[Cell], widths: &[usize], text: Option<&str>, layout: Layout) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        let pad = widths.get(i).map_or(0, |w| w.saturating_sub(cell.text.width()));
        parts.push(format!("{}{:pad$}", paint(&cell.text, cell.style, layout.color), ""));
    }
    if let Some(text) = text {
        parts.push(text.to_string());
    }
    let joined = parts.join(GAP);
    joined.trim_end().to_string()
}

/// `text` in `style` when colouring.
pub fn paint(text: &str, style: Style, color: bool) -> String {
    if color && style != Style::new() {
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}

/// Every paragraph: prose wrapped to `width`, a whole line as it is.
fn wrap_all(paras: &[Para], width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for para in paras {
        match para {
            Para::Whole(text) => lines.push(text.clone()),
            Para::Wrap(text) => {
                for paragraph in text.split('\n') {
                    lines.extend(wrap(paragraph, width));
                }
            }
        }
    }
    lines
}

/// First-fit word wrap at spaces, by display width. A word wider than `width` (a path, a
/// quoted id) gets a line of its own and is never broken. A bullet (`• `) hangs its lines and
/// stays with its first word.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    if let Some(rest) = text.strip_prefix("• ") {
        let lines = wrap(rest, width.saturating_sub(2));
        return lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| format!("{}{l}", if i == 0 { "• " } else { "  " }))
            .collect();
    }
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_width = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let w = word.width();
        if current.is_empty() {
            current = word.to_string();
            current_width = w;
        } else if current_width + 1 + w <= width {
            current.push(' ');
            current.push_str(word);
            current_width += 1 + w;
        } else {
            lines.push(std::mem::replace(&mut current, word.to_string()));
            current_width = w;
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_wrap_and_are_never_broken() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("a averyveryverylongword b", 6), ["a", "averyveryverylongword", "b"]);
        assert_eq!(wrap("• one two three", 9), ["• one two", "  three"]);
        assert_eq!(wrap("• averyverylongword x", 9), ["• averyverylongword", "  x"]);
        assert_eq!(wrap("", 9), [""]);
    }

    #[test]
    fn columns_env_needs_a_usable_width() {
        assert_eq!(columns_env(Some("80")), 80);
        assert_eq!(columns_env(Some("12")), PIPED_WIDTH);
        assert_eq!(columns_env(Some("wide")), PIPED_WIDTH);
        assert_eq!(columns_env(None), PIPED_WIDTH);
    }

    fn render(width: usize, table: &Table) -> String {
        let mut out = Vec::new();
        write_table(&mut out, Layout { width, color: false }, table).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn row(kind: &str, path: &str, text: &str) -> Row {
        Row { cells: vec![Cell::new("error"), Cell::new(kind), Cell::new(path)], text: vec![Para::Wrap(text.into())] }
    }

    #[test]
    fn only_the_text_wraps_and_a_long_path_gets_its_own_line() {
        let long = "analyze_checkpoints/a_rather_long_checkpoint_file_name_of_a_unit.json";
        let table = Table {
            header: vec!["LEVEL", "KIND", "FILE", "PROBLEM"],
            rows: vec![
                row("empty", "results.json", "the file is empty, which OpenAnt cannot read at all"),
                row("schema", long, "a checkpoint without its id"),
            ],
        };
        let text = render(60, &table);
        assert_eq!(
            text,
            "\
LEVEL  KIND    FILE          PROBLEM
error  empty   results.json  the file is empty, which
                             OpenAnt cannot read at all
error  schema  analyze_checkpoints/a_rather_long_checkpoint_file_name_of_a_unit.json
               a checkpoint without its id
"
        );
        // Wide enough, every row is one line.
        assert_eq!(render(200, &table).lines().count(), 3);
    }

    /// A name from the scanned repository holding terminal escapes is shown escaped, measured
    /// as shown, and never splits a row.
    #[test]
    fn control_characters_in_cells_and_text_are_escaped() {
        let table = Table {
            header: vec!["LEVEL", "KIND", "FILE", "PROBLEM"],
            rows: vec![row("truncated", "a\u{1b}[2J\nb.json", "ends\r\nearly")],
        };
        let shown = render(80, &table);
        assert!(!shown.chars().any(|c| c.is_control() && c != '\n'), "{shown:?}");
        assert_eq!(shown.lines().nth(1).unwrap(), r"error  truncated  a\u{1b}[2J\nb.json  ends\r\nearly");
        let mut out = Vec::new();
        let section =
            Section { title: "x\u{7}y".into(), about: "ok\u{1b}".into(), lines: vec!["z\n".into()], tables: vec![] };
        write_sections(&mut out, Layout { width: 80, color: false }, &[section]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "x\\u{7}y: ok\\u{1b}\n  z\\n\n");
    }

    #[test]
    fn colour_is_not_measured() {
        let table = Table {
            header: vec!["LEVEL", "PROBLEM"],
            rows: vec![Row { cells: vec![Cell::styled("warn", warn_style())], text: vec![Para::Wrap("x".into())] }],
        };
        let mut out = Vec::new();
        write_table(&mut out, Layout { width: 80, color: true }, &table).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\u{1b}["), "{text:?}");
        assert!(text.lines().nth(1).unwrap().ends_with("   x"), "{text:?}");
    }
}
