//! The verbs, from parsed arguments to an exit status: each checks its configuration
//! ([`crate::config`]), runs its domain module, renders with [`crate::report`] and maps what
//! happened to exit bits. `repair` and `migrate` share one runner ([`plan_and_apply`]).

pub mod plan_and_apply;

use std::io;

use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::config::{CheckConfig, CleanConfig, MigrateConfig, RepairConfig, UsageError};
use crate::exit_codes::ExitCode;
use crate::finding::{FindingKind, Level};
use crate::progress::Progress;
use crate::report::migrate::Migrate;
use crate::report::repair::Repair;
use crate::report::{self, output_error};
use plan_and_apply::{finish_output, Run};

/// Runs one parsed command. A configuration the flags cannot make is a usage error (exit 2).
pub fn run(command: Command) -> ExitCode {
    match configured(command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("scanaudit: error: {error}");
            ExitCode::USAGE
        }
    }
}

fn configured(command: Command) -> Result<ExitCode, UsageError> {
    Ok(match command {
        Command::Check(args) => check(&CheckConfig::from_args(args)?),
        Command::Clean(args) => clean(&CleanConfig::from_args(args)?),
        Command::Repair(args) => repair(&RepairConfig::from_args(args)?),
        Command::Migrate(args) => migrate(&MigrateConfig::from_args(args)?),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "scanaudit", &mut io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man => {
            let man = clap_mangen::Man::new(Cli::command());
            match man.render(&mut io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => output_error(&error),
            }
        }
    })
}

fn check(config: &CheckConfig) -> ExitCode {
    let progress = Progress::new(config.output.progress);
    let outcome = crate::check::run(config, &progress);
    let findings = config.grading.apply(outcome.findings.clone());
    let mut code = ExitCode::SUCCESS;
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

fn clean(config: &CleanConfig) -> ExitCode {
    // One instance at a time; a second one exits at once, never waits (cron must not pile up).
    // A dry run removes nothing, so it needs no lock, and writes nothing: not even a lock file.
    let _lock = match config.dry_run {
        true => None,
        false => match crate::scan_lock::lock(&config.lock_path) {
            Ok(lock) => Some(lock),
            Err(error) => {
                eprintln!("scanaudit: {error}");
                return ExitCode::OPERATIONAL;
            }
        },
    };
    let progress = Progress::new(config.output.progress);
    let outcome = crate::clean::run(config, &progress);
    let mut code = ExitCode::SUCCESS;
    if outcome.removed_any() {
        code |= ExitCode::FIXED;
    }
    if outcome.failed() {
        code |= ExitCode::OPERATIONAL;
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let written = report::clean::render(&mut out, &config.output, &config.roots, &outcome);
    finish_output(written, &mut out, code)
}

fn repair(config: &RepairConfig) -> ExitCode {
    let run = Run { roots: &config.roots, apply: &config.apply, output: &config.output };
    plan_and_apply::run::<Repair>(
        run,
        || crate::repair::plan(&config.roots, &config.filters, config.apply.min_idle),
        crate::repair::apply,
    )
}

fn migrate(config: &MigrateConfig) -> ExitCode {
    if config.list {
        let stdout = io::stdout();
        let mut out = stdout.lock();
        let written = report::migrate::write_list(&mut out, &config.output, crate::migrate::MIGRATIONS);
        return finish_output(written, &mut out, ExitCode::SUCCESS);
    }
    let run = Run { roots: &config.roots, apply: &config.apply, output: &config.output };
    plan_and_apply::run::<Migrate>(
        run,
        || crate::migrate::plan(&config.roots, &config.filters, config.apply.min_idle),
        crate::migrate::apply,
    )
}
