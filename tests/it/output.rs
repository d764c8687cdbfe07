//! The human output every verb shares: the findings table (sections by scan dir, whole paths,
//! kinds and commands, at any width), `--format lines`, `--color` and its conventions. The
//! width is forced with `COLUMNS`, which the binary honours when stdout is not a terminal.

use crate::common;

use common::{code, filters, findings, scanaudit, Tree, OLD};
use serde_json::Value;

/// `scanaudit check damaged` in a private copy of testdata/damaged, run from the copy's root so
/// that every path is relative; stdout as text.
fn check_damaged(tree: &Tree, columns: Option<&str>, extra: &[&str]) -> (i32, String) {
    let mut cmd = scanaudit();
    cmd.current_dir(tree.root());
    if let Some(columns) = columns {
        cmd.env("COLUMNS", columns);
    }
    let output = cmd.args(["check", "damaged"]).args(extra).output().unwrap();
    (code(&output), String::from_utf8(output.stdout).unwrap())
}

fn snapshot(name: &str, tree: &Tree, text: &str) {
    let mut settings = insta::Settings::clone_current();
    for (from, to) in filters(tree.root()) {
        settings.add_filter(&from, to);
    }
    // Escapes shown, so a colour snapshot can be read and reviewed.
    settings.add_filter("\x1b", "␛");
    settings.bind(|| insta::assert_snapshot!(name, text));
}

#[test]
fn damaged_table_snapshots_at_80_and_200_columns() {
    let tree = Tree::copy("damaged", OLD);
    for columns in ["80", "200"] {
        let (status, plain) = check_damaged(&tree, Some(columns), &[]);
        assert_eq!(status, 4);
        snapshot(&format!("damaged_table_{columns}"), &tree, &plain);
        let (_, coloured) = check_damaged(&tree, Some(columns), &["--color", "always"]);
        snapshot(&format!("damaged_table_{columns}_color"), &tree, &coloured);
    }
}

/// Piped and without COLUMNS, the table is 100 columns wide: a line is longer only when it is
/// one unbreakable path or command.
#[test]
fn piped_output_is_100_columns_wide() {
    let tree = Tree::copy("damaged", OLD);
    // Without the summary line, whose elapsed time differs between runs.
    let table = |columns| {
        let (_, text) = check_damaged(&tree, columns, &[]);
        text.lines().take_while(|l| !l.starts_with("checked ")).collect::<Vec<_>>().join("\n")
    };
    let piped = table(None);
    assert_eq!(piped, table(Some("100")));
    assert_ne!(piped, table(Some("160")), "COLUMNS is honoured");
}

/// The place of a finding as the table shows it: FILE relative to its scan dir (else to the
/// directory holding it), then line and column.
fn place(finding: &Value) -> String {
    let path = finding["path"].as_str().unwrap();
    let dir = match finding["scan_dir"].as_str() {
        Some(dir) => dir.to_string(),
        None => path.rsplit_once('/').map_or("", |(dir, _)| dir).to_string(),
    };
    let file = path.strip_prefix(&format!("{dir}/")).unwrap_or(path);
    match finding["location"].as_object() {
        Some(loc) => format!("{file}:{}:{}", loc["line"], loc["column"]),
        None => file.to_string(),
    }
}

/// At 80 columns nothing is split: each finding's level, kind and place stand whole on one
/// line (in that order), its scan dir is a section line, and its fix command is one whole line.
#[test]
fn at_80_columns_no_path_kind_or_command_is_split() {
    let tree = Tree::copy("damaged", OLD);
    let (_, text) = check_damaged(&tree, Some("80"), &[]);
    let output = scanaudit().current_dir(tree.root()).args(["check", "damaged", "--format", "json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(findings(&doc).len() > 50);
    for finding in findings(&doc) {
        let (level, kind, place) =
            (finding["level"].as_str().unwrap(), finding["kind"].as_str().unwrap(), place(finding));
        let row = lines.iter().any(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            words.len() >= 3 && words[0] == level && words[1] == kind && words[2] == place
        });
        assert!(row, "no row `{level} {kind} {place}`:\n{text}");
        if let Some(dir) = finding["scan_dir"].as_str() {
            assert!(lines.iter().any(|l| l.starts_with(&format!("{dir}: "))), "no section line for {dir}");
        }
        if let Some(fix) = finding["fix"].as_str() {
            let whole = lines.iter().any(|l| {
                let l = l.trim_start();
                l == format!("fix: {fix}") || l.split_once(": ").is_some_and(|(n, c)| n.starts_with("fix ") && c == fix)
            });
            assert!(whole, "the fix `{fix}` is not one whole line:\n{text}");
        }
    }
    // A line wider than 80 is a path or command kept whole: a section line, a fix line, a row
    // that is its level, kind and path alone (the fallback), or one word a wrap cannot break.
    for line in lines.iter().filter(|l| l.chars().count() > 80) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let kept_whole = line.starts_with("damaged/")
            || line.starts_with("checked ")
            || words[0].starts_with("fix")
            || words.len() == 1
            || (words.len() == 3 && ["error", "warn", "info"].contains(&words[0]));
        assert!(kept_whole, "too wide: {line:?}");
    }
}

#[test]
fn format_lines_gives_one_parseable_line_per_finding() {
    let tree = Tree::copy("damaged", OLD);
    let output = scanaudit().current_dir(tree.root()).args(["check", "damaged", "--format", "json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let (status, text) = check_damaged(&tree, None, &["--format", "lines"]);
    assert_eq!(status, 4);
    let line_re = regex::Regex::new(r"^(.+?)(?::(\d+):(\d+))?: (error|warn|info)\[([a-z0-9-]+)\] (.+)$").unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let summary = lines.pop().unwrap();
    assert!(summary.starts_with("checked "), "{summary}");
    assert_eq!(lines.len(), findings(&doc).len());
    for (line, finding) in lines.iter().zip(findings(&doc)) {
        let caps = line_re.captures(line).unwrap_or_else(|| panic!("not parseable: {line}"));
        assert_eq!(&caps[1], finding["path"].as_str().unwrap());
        assert_eq!(caps.get(2).map(|m| m.as_str().parse::<u64>().unwrap()), finding["location"]["line"].as_u64());
        assert_eq!(caps.get(3).map(|m| m.as_str().parse::<u64>().unwrap()), finding["location"]["column"].as_u64());
        assert_eq!(&caps[4], finding["level"].as_str().unwrap());
        assert_eq!(&caps[5], finding["kind"].as_str().unwrap());
        assert_eq!(&caps[6], finding["message"].as_str().unwrap().replace('\n', "\\n"));
    }
    // lines is check's: the other verbs refuse it.
    scanaudit().args(["repair", "--format", "lines", "damaged"]).current_dir(tree.root()).assert().code(16);
}

#[test]
fn color_is_global_and_follows_the_conventions() {
    let tree = Tree::copy("damaged", OLD);
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = scanaudit();
        cmd.current_dir(tree.root()).envs(env.iter().copied());
        let out = cmd.args(args).output().unwrap();
        out.stdout.contains(&0x1b)
    };
    let notes = "damaged/projects/notes";
    assert!(run(&["--color", "always", "check", notes], &[]), "before the verb");
    assert!(run(&["check", notes, "--color", "always"], &[]), "after the verb");
    assert!(!run(&["check", notes], &[]), "piped: plain");
    assert!(!run(&["--color", "never", "check", notes], &[("CLICOLOR_FORCE", "1")]));
    assert!(run(&["check", notes], &[("CLICOLOR_FORCE", "1")]), "CLICOLOR_FORCE colours piped output");
    assert!(!run(&["check", notes], &[("CLICOLOR_FORCE", "0")]), "CLICOLOR_FORCE=0 does not");
    assert!(!run(&["check", notes], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]), "NO_COLOR wins under auto");
    assert!(run(&["check", notes, "--color", "always"], &[("NO_COLOR", "1")]), "the flag beats NO_COLOR");
    // Every verb takes it, before or after its name.
    for verb in [["--color", "never", "repair", "--dry-run"], ["repair", "--dry-run", "--color", "never"]] {
        let out = scanaudit().current_dir(tree.root()).args(verb).arg(notes).output().unwrap();
        assert_ne!(code(&out), 16, "{}", String::from_utf8_lossy(&out.stderr));
    }
    for verb in ["clean", "migrate"] {
        let out = scanaudit()
            .current_dir(tree.root())
            .args(["--color", "always", verb, "--dry-run", notes])
            .output()
            .unwrap();
        assert_ne!(code(&out), 16, "{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// repair's plan at 80 columns: each scan dir a section line, each target whole on its row.
#[test]
fn repair_plan_at_80_columns_splits_no_path() {
    let tree = Tree::copy("damaged", OLD);
    let run = |format: &[&str], columns: &str| {
        let out = scanaudit()
            .current_dir(tree.root())
            .env("COLUMNS", columns)
            .args(["repair", "--dry-run", "--min-idle", "0s", "damaged"])
            .args(format)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let doc: Value = serde_json::from_str(&run(&["--format", "json"], "80")).unwrap();
    let text = run(&[], "80");
    let lines: Vec<&str> = text.lines().collect();
    let mut targets = 0;
    for dir in doc["scan_dirs"].as_array().unwrap() {
        let scan_dir = dir["scan_dir"].as_str().unwrap();
        for action in dir["actions"].as_array().unwrap() {
            targets += 1;
            let target = action["target"].as_str().unwrap();
            let file = target.strip_prefix(&format!("{scan_dir}/")).unwrap_or(target);
            assert!(lines.iter().any(|l| l.split_whitespace().nth(1) == Some(file)), "{file} not whole:\n{text}");
            assert!(lines.iter().any(|l| l.starts_with(&format!("{scan_dir}: "))), "no section for {scan_dir}");
        }
    }
    assert!(targets > 5, "{text}");
}

/// File names come from the scanned repository and the scan dir: one holding a terminal
/// escape (clear screen, set title, bell) is shown escaped in the table, in `lines` and in an
/// error line, never sent raw to the user's terminal.
#[test]
fn control_characters_in_names_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let torn = dir.path().join("evil\u{1b}[2J.json");
    std::fs::write(&torn, b"{\"a\": [1, 2").unwrap();
    let missing = dir.path().join("gone\u{1b}]0;title\u{7}.json");
    for format in ["table", "lines"] {
        let output = scanaudit()
            .env("COLUMNS", "100")
            .args(["check", "--color", "never", "--format", format])
            .arg(&torn)
            .arg(&missing)
            .output()
            .unwrap();
        let exit = code(&output);
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        for text in [&stdout, &stderr] {
            assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{format}: {text:?}");
        }
        assert!(stdout.contains(r"evil\u{1b}[2J.json"), "{format}: {stdout}");
        assert!(stdout.contains("truncated"), "{format}: {stdout}");
        assert!(stderr.contains(r"gone\u{1b}]0;title\u{7}.json"), "{format}: {stderr}");
        assert_eq!(exit, 4 | 8, "{format}: a finding (4) and an operational error (8)");
    }
}
