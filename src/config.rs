//! Raw flags turned into a checked configuration before any work starts.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::cli::{
    ApplyArgs, CheckArgs, CleanArgs, ColorChoice, Format, GlobalArgs, GradingArgs, MigrateArgs, OutputArgs, RepairArgs,
    UndoArgs, WalkArgs,
};
use crate::finding::{Finding, FindingKind, Level};
use crate::layout::state_names::{CLEAN_LOCK_NAME, RUNTIME_DIR_NAME, STATE_DIR};
use crate::walk::Filters;

/// A problem with the command line (exit 16).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("invalid glob {glob:?}: {source}")]
    Glob { glob: String, source: globset::Error },
    #[error("no PATH given and no OpenAnt home found: set OPENANT_HOME or HOME, or pass a PATH")]
    NoDefaultRoot,
    #[error("--allow and --deny both name {0}")]
    AllowDeny(FindingKind),
    #[error("{verb} does not take --format {format}: its formats are table and json (github, junit and lines are for check)")]
    Format { verb: &'static str, format: &'static str },
    #[error("-q/--quiet and -v/--verbose say opposite things: give one")]
    QuietAndVerbose,
    #[error("no man page for {verb:?}: the pages are scanaudit's and those of {verbs}")]
    NoManPage { verb: String, verbs: String },
}

/// `scanaudit clean`, checked.
#[derive(Debug, Clone)]
pub struct CleanConfig {
    pub roots: Vec<PathBuf>,
    pub filters: Filters,
    pub older_than: Duration,
    pub dry_run: bool,
    /// `--backups AGE`: prune scanaudit backup folders older than this.
    pub backups: Option<Duration>,
    pub max_runtime: Option<Duration>,
    /// The single-instance lock file.
    pub lock_path: PathBuf,
    pub output: OutputConfig,
}

impl CleanConfig {
    pub fn from_args(args: CleanArgs, global: &GlobalArgs) -> Result<CleanConfig, UsageError> {
        let roots = roots(args.paths)?;
        let lock_path = CleanConfig::lock_path(std::env::var_os("XDG_RUNTIME_DIR"), &roots[0]);
        Ok(CleanConfig {
            filters: filters(&args.walk)?,
            older_than: args.older_than,
            dry_run: args.dry_run,
            backups: args.backups,
            max_runtime: args.max_runtime,
            lock_path,
            output: plain_output("clean", &args.output, global)?,
            roots,
        })
    }

    /// `$XDG_RUNTIME_DIR/scanaudit/clean.lock` when that is set (per user, cleared at logout,
    /// never inside scan data); else `<first root>/.scanaudit/clean.lock` (the parent's, when
    /// the root is a file), beside scanaudit's other state, which nothing OpenAnt reads.
    pub fn lock_path(xdg_runtime_dir: Option<std::ffi::OsString>, first_root: &Path) -> PathBuf {
        match xdg_runtime_dir.filter(|d| !d.is_empty()) {
            Some(dir) => PathBuf::from(dir).join(RUNTIME_DIR_NAME).join(CLEAN_LOCK_NAME),
            None => {
                let base =
                    if first_root.is_file() { first_root.parent().unwrap_or(Path::new(".")) } else { first_root };
                base.join(STATE_DIR).join(CLEAN_LOCK_NAME)
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct CheckConfig {
    pub roots: Vec<PathBuf>,
    pub filters: Filters,
    /// How long a checkpoint dir must be quiet before an in-progress run counts as interrupted.
    pub min_idle: std::time::Duration,
    /// The moment every age of the run is measured from (how long a checkpoint dir has been
    /// quiet, how old a temp is): taken once, so all rules and findings of a run agree, and
    /// two runs given the same moment say the same.
    pub now: std::time::SystemTime,
    pub grading: Grading,
    pub output: OutputConfig,
}

#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub format: Format,
    pub color: bool,
    pub quiet: bool,
    pub progress: bool,
}

/// How findings are re-graded: `--allow`, `--deny`, `--strict`.
#[derive(Debug, Clone, Default)]
pub struct Grading {
    pub allow: HashSet<FindingKind>,
    pub deny: HashSet<FindingKind>,
    pub strict: bool,
}

impl Grading {
    /// Drops allowed findings and raises denied ones (and warnings under `--strict`) to errors.
    pub fn apply(&self, findings: Vec<Finding>) -> Vec<Finding> {
        findings
            .into_iter()
            .filter(|f| !self.allow.contains(&f.kind))
            .map(|mut f| {
                if self.deny.contains(&f.kind) || (self.strict && f.level == Level::Warn) {
                    f.level = Level::Error;
                }
                f
            })
            .collect()
    }
}

impl CheckConfig {
    pub fn from_args(args: CheckArgs, global: &GlobalArgs) -> Result<CheckConfig, UsageError> {
        Ok(CheckConfig {
            roots: roots(args.paths)?,
            filters: filters(&args.walk)?,
            min_idle: args.min_idle,
            now: std::time::SystemTime::now(),
            grading: grading(args.grading)?,
            output: output(&args.output, global),
        })
    }
}

#[derive(Debug, Clone)]
pub struct RepairConfig {
    pub roots: Vec<PathBuf>,
    pub filters: Filters,
    pub apply: ApplyConfig,
    pub output: OutputConfig,
}

impl RepairConfig {
    pub fn from_args(args: RepairArgs, global: &GlobalArgs) -> Result<RepairConfig, UsageError> {
        Ok(RepairConfig {
            roots: roots(args.paths)?,
            filters: filters(&args.rest.walk)?,
            apply: ApplyConfig::from_args(&args.rest.apply),
            output: plain_output("repair", &args.rest.output, global)?,
        })
    }
}

/// How a planned change may run (repair, migrate).
#[derive(Debug, Clone)]
pub struct ApplyConfig {
    pub dry_run: bool,
    pub yes: bool,
    pub min_idle: std::time::Duration,
    /// stdin and stderr are terminals: the plan can be confirmed with a y/N question.
    pub interactive: bool,
}

impl ApplyConfig {
    fn from_args(args: &ApplyArgs) -> ApplyConfig {
        ApplyConfig {
            dry_run: args.dry_run,
            yes: args.yes,
            min_idle: args.min_idle,
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct MigrateConfig {
    pub roots: Vec<PathBuf>,
    pub filters: Filters,
    /// `--list`: print the migrations and stop.
    pub list: bool,
    pub apply: ApplyConfig,
    pub output: OutputConfig,
}

impl MigrateConfig {
    pub fn from_args(args: MigrateArgs, global: &GlobalArgs) -> Result<MigrateConfig, UsageError> {
        Ok(MigrateConfig {
            // --list looks at nothing on disk, so it needs no default root either.
            roots: if args.list { args.paths } else { roots(args.paths)? },
            filters: filters(&args.rest.walk)?,
            list: args.list,
            apply: ApplyConfig::from_args(&args.rest.apply),
            output: plain_output("migrate", &args.rest.output, global)?,
        })
    }
}

/// Which session of each scan dir to undo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// The newest (an undo's own session included: `undo --last` twice is a redo).
    Last,
    /// The session with this name (`20261207T101500Z`, `20261207T101500Z-2`).
    Named(String),
}

/// `scanaudit undo`, checked.
#[derive(Debug, Clone)]
pub struct UndoConfig {
    pub roots: Vec<PathBuf>,
    /// `--list`; also what `undo` without `--session` or `--last` does.
    pub list: bool,
    pub which: Option<Which>,
    pub apply: ApplyConfig,
    pub output: OutputConfig,
}

impl UndoConfig {
    pub fn from_args(args: UndoArgs, global: &GlobalArgs) -> Result<UndoConfig, UsageError> {
        let which = match (args.session, args.last) {
            (Some(name), _) => Some(Which::Named(name)),
            (None, true) => Some(Which::Last),
            (None, false) => None,
        };
        Ok(UndoConfig {
            roots: roots(args.paths)?,
            list: args.list || which.is_none(),
            which,
            apply: ApplyConfig::from_args(&args.apply),
            output: plain_output("undo", &args.output, global)?,
        })
    }
}

fn roots(paths: Vec<PathBuf>) -> Result<Vec<PathBuf>, UsageError> {
    if paths.is_empty() {
        Ok(vec![default_root()?])
    } else {
        Ok(paths)
    }
}

fn filters(args: &WalkArgs) -> Result<Filters, UsageError> {
    Ok(Filters { include: glob_set(&args.include)?, exclude: glob_set(&args.exclude)? })
}

fn grading(args: GradingArgs) -> Result<Grading, UsageError> {
    let allow: HashSet<FindingKind> = args.allow.into_iter().collect();
    let deny: HashSet<FindingKind> = args.deny.into_iter().collect();
    if let Some(kind) = allow.intersection(&deny).min() {
        return Err(UsageError::AllowDeny(*kind));
    }
    Ok(Grading { allow, deny, strict: args.strict })
}

pub fn output(args: &OutputArgs, global: &GlobalArgs) -> OutputConfig {
    OutputConfig {
        format: args.format,
        color: colour(global.color),
        quiet: global.quiet,
        progress: !global.quiet && std::io::stderr().is_terminal(),
    }
}

/// The output of a verb that reports actions, not findings (clean, repair, migrate): table or
/// JSON only; the CI formats (github, junit) describe findings, which only check reports.
fn plain_output(verb: &'static str, args: &OutputArgs, global: &GlobalArgs) -> Result<OutputConfig, UsageError> {
    if !args.format.is_plain() {
        return Err(UsageError::Format { verb, format: args.format.as_str() });
    }
    Ok(output(args, global))
}

/// Whether to colour stdout: `--color always|never`, else the conventions (no-color.org,
/// bixense.com/clicolors; anstyle-query reads most): `NO_COLOR` non-empty turns colour off,
/// `CLICOLOR_FORCE` other than `0` turns it on even when piped, `CLICOLOR=0`, an unset `TERM`
/// or `TERM=dumb` off, else on when stdout is a terminal.
fn colour(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if anstyle_query::no_color() => false,
        ColorChoice::Auto if std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") => true,
        ColorChoice::Auto => {
            anstyle_query::clicolor() != Some(false)
                && anstyle_query::term_supports_color()
                && std::io::stdout().is_terminal()
        }
    }
}

/// `$OPENANT_HOME/projects`, else `~/.openant/projects`: where OpenAnt keeps scans.
pub fn default_root() -> Result<PathBuf, UsageError> {
    if let Some(home) = std::env::var_os("OPENANT_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(home).join("projects"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".openant").join("projects")),
        None => Err(UsageError::NoDefaultRoot),
    }
}

fn glob_set(globs: &[String]) -> Result<Option<GlobSet>, UsageError> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        builder.add(Glob::new(glob).map_err(|source| UsageError::Glob { glob: glob.clone(), source })?);
    }
    builder.build().map(Some).map_err(|source| UsageError::Glob { glob: globs.join(" "), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grading_allows_denies_and_is_strict() {
        let findings = vec![
            Finding::new(FindingKind::Symlink, "a", "x"),
            Finding::new(FindingKind::Backup, "b", "x"),
            Finding::new(FindingKind::StrayTemp, "c", "x"),
        ];
        let grading =
            Grading { allow: [FindingKind::Symlink].into(), deny: [FindingKind::Backup].into(), strict: true };
        let graded = grading.apply(findings);
        let levels: Vec<(FindingKind, Level)> = graded.iter().map(|f| (f.kind, f.level)).collect();
        assert_eq!(levels, [(FindingKind::Backup, Level::Error), (FindingKind::StrayTemp, Level::Error)]);
    }

    #[test]
    fn lock_lives_in_the_runtime_dir_else_beside_the_first_root() {
        let lock = CleanConfig::lock_path(Some("/run/user/1000".into()), Path::new("/data/projects"));
        assert_eq!(lock, Path::new("/run/user/1000/scanaudit/clean.lock"));
        let lock = CleanConfig::lock_path(Some("".into()), Path::new("/nonexistent/projects"));
        assert_eq!(lock, Path::new("/nonexistent/projects/.scanaudit/clean.lock"));
    }

    #[test]
    fn bad_globs_are_usage_errors() {
        assert!(matches!(glob_set(&["a[".into()]), Err(UsageError::Glob { .. })));
    }
}
