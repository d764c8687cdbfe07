//! The command line, as clap derive definitions. Raw flags only: `config` checks them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::finding::FindingKind;

/// The `--help` sections, as macros so that each verb's text is one `concat!` of them.
macro_rules! exit_status_help {
    () => {
        "\
Exit status (bits, OR-ed together):
  0   nothing wrong
  1   problems were fixed (repair, clean, migrate, undo)
  4   problems remain (check found some; a plan was not applied)
  8   operational error: a PATH that does not exist or is not a directory or JSON file, a
      path that could not be read or written: the run is incomplete
  16  usage error
  32  interrupted (SIGINT or SIGTERM stopped repair, migrate or clean)"
    };
}

macro_rules! signals_help {
    () => {
        "\
Ctrl-C (SIGINT) and SIGTERM:
  repair, migrate, clean: the change in progress is finished, no other is started (every change
  is whole and backed up), what was done is reported, and the exit status has bit 32; before
  the first change (planning, the y/N question) they exit 32 at once, having changed nothing.
  check and every --dry-run (which write nothing): the progress bar is cleared, then scanaudit
  dies of the signal, as fd does, so that a shell loop around it stops too."
    };
}

macro_rules! durations_help {
    () => {
        "\
DURATION: a number and a unit: 30s, 10m, 1.5h, 7d, 2w, 1h30m, \"10 minutes\" (units ms, s, m, h,
d, w, M, y and their long names); 0 alone is no time; a bare number is refused (10s or 10m?);
at most 100 years."
    };
}

pub const EXIT_STATUS_HELP: &str = concat!(exit_status_help!(), "\n\n", signals_help!());
const DURATION_VERB_HELP: &str = concat!(durations_help!(), "\n\n", exit_status_help!(), "\n\n", signals_help!());

#[derive(Debug, Parser)]
#[command(
    name = "scanaudit",
    version,
    about = "Audit and repair OpenAnt scan output directories",
    long_about = "Audit and repair OpenAnt scan output directories: find truncated, zero-filled and \
corrupt JSON, stray temp files from interrupted writes, and files of the wrong shape.",
    after_help = EXIT_STATUS_HELP,
    max_term_width = 100,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every verb takes, before or after the verb's name (`scanaudit -q check`,
/// `scanaudit check -q`).
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// No progress bar and no notes; no output at all when there is nothing to report
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub quiet: bool,

    /// Also say on stderr why each scan dir is what it is: its OpenAnt era and the markers
    /// on disk that decided it
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub verbose: bool,

    /// When to colour by level: auto (on a terminal; NO_COLOR turns it off, CLICOLOR_FORCE on)
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN", global = true, help_heading = "Global options")]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find every damaged file under the given paths (read-only)
    #[command(after_help = DURATION_VERB_HELP)]
    Check(CheckArgs),
    /// Remove stray temp files left by interrupted writes, safely enough for cron
    #[command(after_help = CLEAN_HELP)]
    Clean(CleanArgs),
    /// Rebuild broken or missing outputs from checkpoints and temp files, with backups
    #[command(after_help = DURATION_VERB_HELP)]
    Repair(RepairArgs),
    /// Upgrade scan results written by older OpenAnt versions to the current layout, with backups
    #[command(after_help = DURATION_VERB_HELP)]
    Migrate(MigrateArgs),
    /// Put back what one backup session (a repair, migrate or undo) changed, never over later work
    #[command(long_about = UNDO_ABOUT, after_help = UNDO_HELP)]
    Undo(UndoArgs),
    /// Print a shell completion script
    Completions {
        /// The shell to generate completions for
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff) to stdout: scanaudit's, or one verb's
    Man {
        /// The verb whose page to print
        verb: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scan trees, scan dirs or single files to check [default: $OPENANT_HOME/projects or ~/.openant/projects]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub walk: WalkArgs,

    /// A run whose checkpoints say in progress counts as interrupted once nothing in its
    /// checkpoint dir changed for this long
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub min_idle: Duration,

    #[command(flatten)]
    pub grading: GradingArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

pub const CLEAN_HELP: &str = concat!(
    "\
Removes only regular files named like a known temp pattern (and atomicwrites' .atomicwriteXXXXXX/
dirs) that are older than --older-than by the newest of mtime and ctime, not open in any process,
not flock-ed, on the root's filesystem, and not salvageable (a complete document whose target is
missing or broken is kept for `scanaudit repair`). Symlinks are never followed or removed.
One instance at a time: the lock is $XDG_RUNTIME_DIR/scanaudit/clean.lock, or
<first PATH>/.scanaudit/clean.lock when XDG_RUNTIME_DIR is unset. Never prompts.

",
    durations_help!(),
    "

Exit status (bits, OR-ed together):
  0   nothing removed (temps kept on purpose are not problems; --dry-run always)
  1   something was removed
  8   an I/O error (the run went on past it), a PATH that does not exist or is not a
      directory, or another clean holds the lock
  16  usage error
  32  interrupted (SIGINT or SIGTERM)

",
    signals_help!()
);

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Scan trees or scan dirs to clean [default: $OPENANT_HOME/projects or ~/.openant/projects]
    pub paths: Vec<PathBuf>,

    /// Only remove temps older than this, by the newest of mtime and ctime
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub older_than: Duration,

    /// List what would be removed; delete nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Also remove scanaudit backup folders (.scanaudit/backups/<timestamp>/) older than DURATION
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub backups: Option<Duration>,

    /// Start no new removal after this long; the rest is reported as not examined
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_runtime: Option<Duration>,

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
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub min_idle: Duration,
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
}

/// What every duration flag accepts, said once: in `--help` and in every parse error.
pub const DURATION_FORMS: &str = "a number and a unit, e.g. 30s, 10m, 1.5h, 7d, 2w, 1h30m or \"10 minutes\" \
(units: ms, s, m, h, d, w, M, y and their long names); 0 alone means no time; at most 100 years";

/// The longest duration any flag takes: more is a typo (a date, an extra digit). 100 of
/// humantime's years (365.25 days), so that `100y` itself is taken.
pub const MAX_DURATION: Duration = Duration::from_secs(3_155_760_000);

/// The one parser of every duration flag (`--min-idle`, `--older-than`, `--backups`,
/// `--max-runtime`): humantime's syntax, plus a decimal number before a unit (`1.5h`), and `0`.
/// A bare number other than 0 is refused: `10` could mean seconds or minutes.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("no unit (10s? 10m?): expected {DURATION_FORMS}"));
    }
    let parsed = match decimal(text) {
        Some(parsed) => parsed,
        None => humantime::parse_duration(text).map_err(|e| format!("{e}: expected {DURATION_FORMS}"))?,
    };
    if parsed > MAX_DURATION {
        return Err(format!("more than 100 years: expected {DURATION_FORMS}"));
    }
    Ok(parsed)
}

/// `1.5h`: one decimal number and one unit, which humantime does not take.
fn decimal(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    if !number.contains('.') {
        return None;
    }
    let number: f64 = number.parse().ok()?;
    let unit = humantime::parse_duration(&format!("1{}", unit.trim())).ok()?;
    let seconds = number * unit.as_secs_f64();
    (seconds.is_finite() && seconds <= MAX_DURATION.as_secs_f64()).then(|| Duration::from_secs_f64(seconds))
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    #[default]
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
    fn durations_parse_one_way() {
        let secs = Duration::from_secs;
        assert_eq!(parse_duration("10m"), Ok(secs(600)));
        assert_eq!(parse_duration("10 minutes"), Ok(secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(secs(5400)));
        assert_eq!(parse_duration("1.5h"), Ok(secs(5400)));
        assert_eq!(parse_duration("7d"), Ok(secs(7 * 86_400)));
        assert_eq!(parse_duration(" 0s "), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("100y"), Ok(MAX_DURATION));
        for bad in ["10", "1.5", "", "m", "soon", "-1h", "99999999999d", "101y", "1e400h"] {
            let error = parse_duration(bad).expect_err(bad);
            assert!(error.contains("expected a number and a unit"), "{bad}: {error}");
        }
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("101y").unwrap_err().contains("100 years"));
    }
}
