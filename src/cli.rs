//! The command line, as clap derive definitions. Raw flags only: `config` checks them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::finding::FindingKind;

pub const EXIT_STATUS_HELP: &str = "\
Exit status (bits, OR-ed together):
  0   nothing wrong
  1   problems were fixed (repair, clean, migrate)
  4   problems remain (check found some)
  8   operational error: a path could not be read, the run is incomplete
  16  usage error
  32  interrupted";

#[derive(Debug, Parser)]
#[command(
    name = "scanaudit",
    version,
    about = "Audit and repair OpenAnt scan output directories",
    long_about = "Audit and repair OpenAnt scan output directories: find truncated, zero-filled and \
corrupt JSON, stray temp files from interrupted writes, and files of the wrong shape.",
    after_help = EXIT_STATUS_HELP,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Options every verb takes, before or after the verb's name.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// When to colour by level: auto (on a terminal; NO_COLOR turns it off, CLICOLOR_FORCE on)
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN", global = true)]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find every damaged file under the given paths (read-only)
    #[command(after_help = EXIT_STATUS_HELP)]
    Check(CheckArgs),
    /// Remove stray temp files left by interrupted writes, safely enough for cron
    #[command(after_help = CLEAN_HELP)]
    Clean(CleanArgs),
    /// Rebuild broken or missing outputs from checkpoints and temp files, with backups
    #[command(after_help = EXIT_STATUS_HELP)]
    Repair(RepairArgs),
    /// Upgrade scan results written by older OpenAnt versions to the current layout, with backups
    #[command(after_help = EXIT_STATUS_HELP)]
    Migrate(MigrateArgs),
    /// Put back what one backup session (a repair, migrate or undo) changed, never over later work
    #[command(long_about = UNDO_ABOUT, after_help = UNDO_HELP)]
    Undo(UndoArgs),
    /// Print a shell completion script
    Completions {
        /// The shell to generate completions for
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout
    Man,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scan trees, scan dirs or single files to check [default: $OPENANT_HOME/projects or ~/.openant/projects]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub walk: WalkArgs,

    /// A run whose checkpoints say in progress counts as interrupted once nothing in its
    /// checkpoint dir changed for this long (e.g. 30s, 10m, 2h, 1d)
    #[arg(long, value_name = "AGE", default_value = "10m", value_parser = parse_age)]
    pub min_idle: std::time::Duration,

    #[command(flatten)]
    pub grading: GradingArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

pub const CLEAN_HELP: &str = "\
Removes only regular files named like a known temp pattern (and atomicwrites' .atomicwriteXXXXXX/
dirs) that are older than --older-than by the newest of mtime and ctime, not open in any process,
not flock-ed, on the root's filesystem, and not salvageable (a complete document whose target is
missing or broken is kept for `scanaudit repair`). Symlinks are never followed or removed.
One instance at a time: the lock is $XDG_RUNTIME_DIR/scanaudit/clean.lock, or
<first PATH>/.scanaudit/clean.lock when XDG_RUNTIME_DIR is unset. Never prompts.

Exit status (bits, OR-ed together):
  0   nothing removed (temps kept on purpose are not problems; --dry-run always)
  1   something was removed
  8   an I/O error (the run went on past it), or another clean holds the lock
  16  usage error";

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Scan trees or scan dirs to clean [default: $OPENANT_HOME/projects or ~/.openant/projects]
    pub paths: Vec<PathBuf>,

    /// Only remove temps older than this, by the newest of mtime and ctime (e.g. 30m, 1h, 7d)
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub older_than: String,

    /// List what would be removed; delete nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Also remove scanaudit backup folders (.scanaudit/backups/<timestamp>/) older than AGE
    #[arg(long, value_name = "AGE")]
    pub backups: Option<String>,

    /// Start no new removal after this long; the rest is reported as not examined
    #[arg(long, value_name = "DURATION")]
    pub max_runtime: Option<String>,

    #[command(flatten)]
    pub walk: WalkArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct RepairArgs {
    /// Scan trees or scan dirs to repair [default: $OPENANT_HOME/projects or ~/.openant/projects]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub rest: PlanVerbArgs,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Scan trees or scan dirs to migrate [default: $OPENANT_HOME/projects or ~/.openant/projects]
    pub paths: Vec<PathBuf>,

    /// List the migrations (id and description) and exit
    #[arg(long, conflicts_with_all = ["dry_run", "yes"])]
    pub list: bool,

    #[command(flatten)]
    pub rest: PlanVerbArgs,
}

/// The flags repair and migrate share, after their own.
#[derive(Debug, Args)]
pub struct PlanVerbArgs {
    #[command(flatten)]
    pub walk: WalkArgs,

    #[command(flatten)]
    pub apply: ApplyArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// The flags of the verbs that plan, then change things (repair, migrate).
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Print the plan and change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Apply the plan without asking (needed when stdin is not a terminal)
    #[arg(short = 'y', long, conflicts_with = "dry_run")]
    pub yes: bool,

    /// Leave a scan dir alone when any of its files changed within DURATION (OpenAnt may be writing)
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    pub min_idle: std::time::Duration,
}

pub const UNDO_ABOUT: &str = "\
Put back what one backup session changed. Every writing verb (repair, migrate, undo) backs up \
what it replaces into <scan dir>/.scanaudit/backups/<UTC timestamp>/ with a manifest.json; undo \
reads the chosen session and, in reverse order, puts replaced files back byte for byte (and \
their mode), removes the files it created, returns moved and renamed files to their old paths, \
and undoes the directories and modes it changed. A file that changed since the session is kept \
and reported with where its backup is (exit bit 4); there is no --force. A manifest that is \
torn, edited, or names a path outside the scan dir (.., absolute, a symlink on the way) is \
refused and nothing is written. The undo is itself a backup session, so it can be undone. \
clean removes stray temps without a backup: that is not undoable.";

pub const UNDO_HELP: &str = "\
Examples:
  scanaudit undo --list ~/.openant/projects/acme
  scanaudit undo --last --dry-run ~/.openant/projects/acme
  scanaudit undo --session 20261207T101500Z --yes ~/.openant/projects/acme

Exit status (bits, OR-ed together):
  0   nothing to undo (--list always)
  1   something was put back
  4   something was kept: changed since the session, a refused manifest, a scan dir in use,
      or the plan was not applied (--dry-run, no terminal to confirm on, answered no)
  8   an I/O error, or a refused manifest
  16  usage error
  32  interrupted";

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// Scan trees or scan dirs whose backup sessions to list or undo [default: $OPENANT_HOME/projects or ~/.openant/projects]
    pub paths: Vec<PathBuf>,

    /// List the backup sessions per scan dir (when, which verb, how many files, how big) and exit
    #[arg(long, conflicts_with_all = ["session", "last", "dry_run", "yes"])]
    pub list: bool,

    /// Undo the session with this name (the timestamp --list shows, e.g. 20261207T101500Z)
    #[arg(long, value_name = "TIMESTAMP", conflicts_with = "last")]
    pub session: Option<String>,

    /// Undo the newest session of each scan dir (an undo's own session included: twice is a redo)
    #[arg(long)]
    pub last: bool,

    #[command(flatten)]
    pub apply: ApplyArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct WalkArgs {
    /// Only look at files matching GLOB (against the path below the root, or the file name); repeatable
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,

    /// Skip files and directories matching GLOB; repeatable
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GradingArgs {
    /// Hide findings of KIND; repeatable
    #[arg(long, value_name = "KIND")]
    pub allow: Vec<FindingKind>,

    /// Treat findings of KIND as errors; repeatable
    #[arg(long, value_name = "KIND")]
    pub deny: Vec<FindingKind>,

    /// Treat every warning as an error (a pre-release gate)
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format (github, junit and lines: check only)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// No progress bar, and no output at all when there is nothing to report
    #[arg(short, long)]
    pub quiet: bool,
}

/// `30s`, `10m`, `2h`, `1d` (a bare number is seconds).
pub fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 =
        number.parse().map_err(|_| format!("expected an age such as 30s, 10m, 2h or 1d, got {text:?}"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit {unit:?}: use s, m, h or d")),
    };
    Ok(std::time::Duration::from_secs(number.saturating_mul(scale)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    /// GitHub Actions workflow commands, one annotation per finding, then the summary line
    Github,
    /// JUnit XML: a testsuite per scan dir, a testcase per checked file
    Junit,
    /// One finding per line, PATH:LINE:COL: LEVEL[KIND] MESSAGE, for grep and editors
    Lines,
}

impl Format {
    /// The formats every verb takes; `check` also takes github and junit.
    pub fn is_plain(self) -> bool {
        matches!(self, Format::Table | Format::Json)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Github => "github",
            Format::Junit => "junit",
            Format::Lines => "lines",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ages_parse() {
        assert_eq!(parse_age("10m"), Ok(std::time::Duration::from_secs(600)));
        assert_eq!(parse_age("45"), Ok(std::time::Duration::from_secs(45)));
        assert_eq!(parse_age("1d"), Ok(std::time::Duration::from_secs(86_400)));
        assert!(parse_age("10 minutes").is_err());
        assert!(parse_age("m").is_err());
    }
}
