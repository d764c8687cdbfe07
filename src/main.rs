//! The `scanaudit` binary: parse the command line, run the verb, map the outcome to an exit
//! status. Everything else lives in the library.

use std::io::{self, Write};
use std::process::ExitCode as ProcessExitCode;

use clap::{CommandFactory, Parser};
use scanaudit::cli::{Cli, Command};
use scanaudit::config::{CheckConfig, CleanConfig, MigrateConfig, RepairConfig};
use scanaudit::exit_codes::ExitCode;
use scanaudit::finding::{FindingKind, Level};
use scanaudit::progress::Progress;
use scanaudit::report::{self, output_error};

fn main() -> ProcessExitCode {
    run().into()
}

fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version are not errors.
            let code = if error.use_stderr() { ExitCode::USAGE } else { ExitCode::SUCCESS };
            let _ = error.print();
            return code;
        }
    };
    match cli.command {
        Command::Check(args) => match CheckConfig::from_args(args) {
            Ok(config) => check(&config),
            Err(error) => {
                eprintln!("scanaudit: error: {error}");
                ExitCode::USAGE
            }
        },
        Command::Clean(args) => match CleanConfig::from_args(args) {
            Ok(config) => clean(&config),
            Err(error) => {
                eprintln!("scanaudit: error: {error}");
                ExitCode::USAGE
            }
        },
        Command::Repair(args) => match RepairConfig::from_args(args) {
            Ok(config) => scanaudit::repair::run::run(&config),
            Err(error) => {
                eprintln!("scanaudit: error: {error}");
                ExitCode::USAGE
            }
        },
        Command::Migrate(args) => match MigrateConfig::from_args(args) {
            Ok(config) => scanaudit::migrate::run::run(&config),
            Err(error) => {
                eprintln!("scanaudit: error: {error}");
                ExitCode::USAGE
            }
        },
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
    }
}

fn check(config: &CheckConfig) -> ExitCode {
    let progress = Progress::new(config.output.progress);
    let outcome = scanaudit::check::run(config, &progress);
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
    let written =
        report::render_check(&mut out, &config.output, &config.roots, &outcome, &findings).and_then(|()| out.flush());
    match written {
        Ok(()) => code,
        Err(error) => code | output_error(&error),
    }
}

fn clean(config: &CleanConfig) -> ExitCode {
    // One instance at a time; a second one exits at once, never waits (cron must not pile up).
    // A dry run removes nothing, so it needs no lock, and writes nothing: not even a lock file.
    let _lock = match config.dry_run {
        true => None,
        false => match scanaudit::clean::lock(&config.lock_path) {
            Ok(lock) => Some(lock),
            Err(error) => {
                eprintln!("scanaudit: {error}");
                return ExitCode::OPERATIONAL;
            }
        },
    };
    let progress = Progress::new(config.output.progress);
    let outcome = scanaudit::clean::run(config, &progress);
    let mut code = ExitCode::SUCCESS;
    if outcome.removed_any() {
        code |= ExitCode::FIXED;
    }
    if outcome.failed() {
        code |= ExitCode::OPERATIONAL;
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let written = report::clean::render(&mut out, &config.output, &config.roots, &outcome).and_then(|()| out.flush());
    match written {
        Ok(()) => code,
        Err(error) => code | output_error(&error),
    }
}
