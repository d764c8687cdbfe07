//! The verbs, from parsed arguments to an exit status: each checks its configuration
//! ([`crate::config`]) and its roots ([`scope`]), runs its domain module, renders with
//! [`crate::report`] and maps what happened to exit bits. `repair` and `migrate` share one
//! runner ([`plan_and_apply`]); the man pages are [`man`]'s.

mod man;
pub mod plan_and_apply;
mod scope;
mod undo;

use std::io;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::config::{CheckConfig, CleanConfig, MigrateConfig, RepairConfig, UndoConfig, UsageError};
use crate::diag;
use crate::exit_codes::ExitCode;
use crate::finding::{FindingKind, Level};
use crate::interrupt::{Interrupt, Mode};
use crate::progress::Progress;
use crate::repair::Holding;
use crate::report::migrate::Migrate;
use crate::report::repair::Repair;
use crate::report::{self, output_error};
use crate::scan_lock::LockError;
use crate::text::thousands;
use plan_and_apply::{finish_output, Run};

/// Runs one parsed command line. A configuration the flags cannot make is a usage error.
pub fn run(cli: Cli) -> ExitCode {
    diag::set_verbosity(cli.global.quiet, cli.global.verbose);
    // Checked here, not by clap: a global flag before the verb and one after it are matched
    // by different commands, where clap's conflicts do not reach.
    let checked = match cli.global.quiet && cli.global.verbose {
        true => Err(UsageError::QuietAndVerbose),
        false => configured(cli.command, &cli.global),
    };
    match checked {
        Ok(code) => code,
        Err(error) => {
            diag::error(None, error);
            ExitCode::USAGE
        }
    }
}

fn configured(command: Command, global: &GlobalArgs) -> Result<ExitCode, UsageError> {
    Ok(match command {
        Command::Check(args) => check(CheckConfig::from_args(args, global)?),
        Command::Clean(args) => clean(CleanConfig::from_args(args, global)?),
        Command::Repair(args) => repair(RepairConfig::from_args(args, global)?),
        Command::Migrate(args) => migrate(MigrateConfig::from_args(args, global)?),
        Command::Undo(args) => undo::run(UndoConfig::from_args(args, global)?),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "scanaudit", &mut io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man { verb } => man::print(verb.as_deref())?,
    })
}

/// Narrows `roots` to the usable ones ([`scope::usable_roots`]); `None` when none is left,
/// with the exit bits to stop with.
fn usable(roots: &mut Vec<std::path::PathBuf>) -> (bool, ExitCode) {
    let (usable, code) = scope::usable_roots(roots);
    *roots = usable;
    (!roots.is_empty(), code)
}

fn check(mut config: CheckConfig) -> ExitCode {
    let (any, mut code) = usable(&mut config.roots);
    if !any {
        return code;
    }
    let progress = Progress::new(config.output.progress);
    let _interrupt = Interrupt::install(Mode::ReadOnly, &progress);
    let outcome = crate::check::run(&config, &progress);
    progress.finish();
    let scan_dirs = outcome.file_scan_dirs.iter().map(PathBuf::as_path);
    scope::note_roots_without_scans(&config.roots, scan_dirs.clone());
    scope::explain_eras(scan_dirs);
    if let Some(first) = outcome.narrowed.first() {
        let dirs = match outcome.narrowed.len() {
            1 => format!("scan dir {}", first.display()),
            n => {
                format!("{} scan dirs ({} and {} more)", thousands(n as u64), first.display(), thousands(n as u64 - 1))
            }
        };
        diag::note(format!(
            "--include/--exclude left files of {dirs} out: the cross-file rules (stale, inconsistent \
             or missing outputs) were not run there, since they need every file of a scan dir"
        ));
    }
    let findings = config.grading.apply(outcome.findings.clone());
    if findings.iter().any(|f| f.level == Level::Error) {
        code |= ExitCode::PROBLEMS;
    }
    if findings.iter().any(|f| f.kind == FindingKind::Unreadable) {
        code |= ExitCode::OPERATIONAL;
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let written = report::render_check(&mut out, &config.output, &config.roots, &outcome, &findings);
    let code = finish_output(written, &mut out, code);
    // The process ends next: freeing every path and capture one by one would only cost time.
    std::mem::forget((outcome, findings));
    code
}

fn clean(mut config: CleanConfig) -> ExitCode {
    let (any, mut code) = usable(&mut config.roots);
    if !any {
        return code;
    }
    // One instance at a time; a second one exits at once, never waits (cron must not pile up).
    // A dry run removes nothing, so it needs no lock, and writes nothing: not even a lock file.
    let _lock = match config.dry_run {
        true => None,
        false => match crate::scan_lock::lock(&config.lock_path) {
            Ok(lock) => Some(lock),
            Err(LockError::Busy { path }) => {
                diag::error(Some(&path), "another scanaudit clean is running and holds this lock");
                return code | ExitCode::OPERATIONAL;
            }
            Err(LockError::Io { path, source }) => {
                diag::error(Some(&path), format!("cannot take this lock: {source}"));
                return code | ExitCode::OPERATIONAL;
            }
        },
    };
    let progress = Progress::new(config.output.progress);
    let mode = if config.dry_run { Mode::ReadOnly } else { Mode::Writing };
    let interrupt = Interrupt::install(mode, &progress);
    // Clean decides and removes file by file: it writes from its start.
    interrupt.begin_writing();
    let outcome = crate::clean::run(&config, &progress, interrupt.stop_flag());
    progress.finish();
    if outcome.scan_dirs == 0 {
        scope::note_roots_without_scans(&config.roots, std::iter::empty::<&Path>());
    }
    if outcome.removed_any() {
        code |= ExitCode::FIXED;
    }
    if outcome.failed() {
        code |= ExitCode::OPERATIONAL;
    }
    if outcome.interrupted {
        code |= ExitCode::INTERRUPTED;
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let written = report::clean::render(&mut out, &config.output, &config.roots, &outcome);
    finish_output(written, &mut out, code)
}

fn repair(mut config: RepairConfig) -> ExitCode {
    let (any, code) = usable(&mut config.roots);
    if !any {
        return code;
    }
    let run = Run { roots: &config.roots, apply: &config.apply, output: &config.output };
    code | plan_and_apply::run::<Repair>(
        run,
        |progress| {
            // A dry run writes nothing, so what it would write stays in memory.
            let holding = if config.apply.dry_run {
                Holding::Memory
            } else {
                Holding::Spilled(crate::spill::MemoryBudget::new(crate::spill::IN_MEMORY))
            };
            crate::repair::plan(&config.roots, &config.filters, config.apply.min_idle, holding, progress)
        },
        crate::repair::apply,
    )
}

fn migrate(mut config: MigrateConfig) -> ExitCode {
    if config.list {
        let stdout = io::stdout();
        let mut out = stdout.lock();
        let written = report::migrate::write_list(&mut out, &config.output, crate::migrate::MIGRATIONS);
        return finish_output(written, &mut out, ExitCode::SUCCESS);
    }
    let (any, code) = usable(&mut config.roots);
    if !any {
        return code;
    }
    let run = Run { roots: &config.roots, apply: &config.apply, output: &config.output };
    code | plan_and_apply::run::<Migrate>(
        run,
        |progress| crate::migrate::plan(&config.roots, &config.filters, config.apply.min_idle, progress),
        crate::migrate::apply,
    )
}

/// The exit bits of a failed write of a man page or completion script.
fn written(result: io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => output_error(&error),
    }
}
