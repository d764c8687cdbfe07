//! Raw flags turned into a checked configuration before any work starts.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::PathBuf;

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::cli::{CheckArgs, ColorChoice, Format, GradingArgs, OutputArgs};
use crate::finding::{Finding, FindingKind, Level};
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
}

#[derive(Debug, Clone)]
pub struct CheckConfig {
    pub roots: Vec<PathBuf>,
    pub filters: Filters,
    /// How long a checkpoint dir must be quiet before an in-progress run counts as interrupted.
    pub min_idle: std::time::Duration,
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
    pub fn from_args(args: CheckArgs) -> Result<CheckConfig, UsageError> {
        let roots = if args.paths.is_empty() { vec![default_root()?] } else { args.paths };
        Ok(CheckConfig {
            roots,
            filters: Filters { include: glob_set(&args.walk.include)?, exclude: glob_set(&args.walk.exclude)? },
            min_idle: args.min_idle,
            grading: grading(args.grading)?,
            output: output(&args.output),
        })
    }
}

fn grading(args: GradingArgs) -> Result<Grading, UsageError> {
    let allow: HashSet<FindingKind> = args.allow.into_iter().collect();
    let deny: HashSet<FindingKind> = args.deny.into_iter().collect();
    if let Some(kind) = allow.intersection(&deny).min() {
        return Err(UsageError::AllowDeny(*kind));
    }
    Ok(Grading { allow, deny, strict: args.strict })
}

pub fn output(args: &OutputArgs) -> OutputConfig {
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
                && std::io::stdout().is_terminal()
        }
    };
    OutputConfig {
        format: args.format,
        color,
        quiet: args.quiet,
        progress: !args.quiet && std::io::stderr().is_terminal(),
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
    fn bad_globs_are_usage_errors() {
        assert!(matches!(glob_set(&["a[".into()]), Err(UsageError::Glob { .. })));
    }
}
