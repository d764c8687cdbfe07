//! The `scanaudit` binary: parse the command line, run the verb, map the outcome to an exit
//! status. Everything else lives in the library.

use std::io::{self, Write};
use std::process::ExitCode as ProcessExitCode;

use clap::{CommandFactory, Parser};
use scanaudit::cli::{Cli, Command};
use scanaudit::config::{CheckConfig, CleanConfig, MigrateConfig, RepairConfig};
use scanaudit::exit_codes::ExitCode;
use scanaudit::finding::{FindingKind, Level};
use scanaudit::report::{self, Progress};

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
            Ok(config) => repair(&config),
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
    let _lock = match scanaudit::clean::lock(&config.lock_path) {
        Ok(lock) => lock,
        Err(error) => {
            eprintln!("scanaudit: {error}");
            return ExitCode::OPERATIONAL;
        }
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

fn repair(config: &RepairConfig) -> ExitCode {
    use scanaudit::cli::Format;
    use scanaudit::repair::{self, ActionOutcome, DirStatus};
    use scanaudit::report::repair as render;

    let stop = repair::stop_flag();
    let plan = repair::plan(&config.roots, &config.filters, config.min_idle);
    let mut code = ExitCode::SUCCESS;
    if !plan.walk_errors.is_empty() || plan.scan_dirs.iter().any(|d| !d.io_errors.is_empty()) {
        code |= ExitCode::OPERATIONAL;
    }
    if plan
        .scan_dirs
        .iter()
        .any(|d| !d.unfixable.is_empty() || (matches!(d.status, DirStatus::InUse(_)) && d.has_work()))
    {
        code |= ExitCode::PROBLEMS;
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let json = config.output.format == Format::Json;
    let pending = plan.action_count() > 0;
    let finish = |out: &mut dyn Write, applied: Option<&repair::Applied>, code: ExitCode| -> ExitCode {
        let written = if json {
            render::write_json(out, &config.roots, &plan, applied, config.dry_run)
        } else {
            match applied {
                Some(applied) => render::write_plan(out, &plan, Some(applied))
                    .and_then(|()| writeln!(out, "{}", render::summary_line(&plan, Some(applied)))),
                None if config.output.quiet && code == ExitCode::SUCCESS => Ok(()),
                None => writeln!(out, "{}", render::summary_line(&plan, None)),
            }
        };
        match written.and_then(|()| out.flush()) {
            Ok(()) => code,
            Err(error) => code | output_error(&error),
        }
    };
    if let Err(error) = render::render_plan(&mut out, &config.output, &plan) {
        return code | output_error(&error);
    }
    if !pending {
        return finish(&mut out, None, code);
    }
    if config.dry_run {
        if !json {
            let _ = writeln!(out, "dry run: nothing was changed");
        }
        return finish(&mut out, None, code | ExitCode::PROBLEMS);
    }
    if !config.yes {
        let _ = out.flush();
        let question = format!("Apply these {} changes?", plan.action_count());
        if !config.interactive {
            eprintln!("scanaudit: not applied: no terminal to confirm on; re-run with --yes to apply the plan");
            return finish(&mut out, None, code | ExitCode::PROBLEMS);
        }
        if !render::confirm(&question) {
            eprintln!("scanaudit: nothing was changed");
            return finish(&mut out, None, code | ExitCode::PROBLEMS);
        }
    }
    let applied = repair::apply(&plan, &stop);
    let outcomes = || applied.dirs.iter().flat_map(|d| &d.outcomes);
    if outcomes().any(|o| matches!(o, ActionOutcome::Done | ActionOutcome::DoneNotDurable(_))) {
        code |= ExitCode::FIXED;
    }
    if outcomes().any(|o| matches!(o, ActionOutcome::Failed(_))) {
        code |= ExitCode::OPERATIONAL | ExitCode::PROBLEMS;
    }
    if outcomes().any(|o| matches!(o, ActionOutcome::Skipped(_))) {
        code |= ExitCode::PROBLEMS;
    }
    if applied.interrupted {
        code |= ExitCode::INTERRUPTED;
    }
    finish(&mut out, Some(&applied), code)
}

/// A broken pipe (`scanaudit check | head`) is not an error; anything else writing stdout is.
fn output_error(error: &io::Error) -> ExitCode {
    if error.kind() == io::ErrorKind::BrokenPipe {
        ExitCode::SUCCESS
    } else {
        eprintln!("scanaudit: error: writing output: {error}");
        ExitCode::OPERATIONAL
    }
}
