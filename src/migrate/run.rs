//! The `scanaudit migrate` verb from a checked configuration to an exit status: list, or plan,
//! show, confirm, apply, show again.

use std::io::{self, Write};

use super::{apply, plan, ActionOutcome, Applied, DirStatus, Plan, MIGRATIONS};
use crate::cli::Format;
use crate::config::MigrateConfig;
use crate::exit_codes::ExitCode;
use crate::report::migrate as render;

/// Runs the verb, writing everything to stdout (the question goes to stderr).
pub fn run(config: &MigrateConfig) -> ExitCode {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if config.list {
        return finish_output(render::write_list(&mut out, &config.output, MIGRATIONS), &mut out, ExitCode::SUCCESS);
    }
    let stop = crate::repair::stop_flag();
    let plan = plan(&config.roots, &config.filters, config.min_idle);
    let mut code = plan_status(&plan);
    if let Err(error) = render::render_plan(&mut out, &config.output, &plan) {
        return code | crate::report::output_error(&error);
    }
    if plan.action_count() == 0 {
        return report(&mut out, config, &plan, None, code);
    }
    if config.dry_run {
        if config.output.format == Format::Table {
            let _ = writeln!(out, "dry run: nothing was changed");
        }
        return report(&mut out, config, &plan, None, code | ExitCode::PROBLEMS);
    }
    if !config.yes {
        let _ = out.flush();
        if !config.interactive {
            eprintln!("scanaudit: not applied: no terminal to confirm on; re-run with --yes to apply the plan");
            return report(&mut out, config, &plan, None, code | ExitCode::PROBLEMS);
        }
        let question = format!("Apply these {} changes?", plan.action_count());
        if !crate::report::repair::confirm(&question) {
            eprintln!("scanaudit: nothing was changed");
            return report(&mut out, config, &plan, None, code | ExitCode::PROBLEMS);
        }
    }
    let applied = apply(&plan, &stop);
    code |= applied_status(&applied);
    report(&mut out, config, &plan, Some(&applied), code)
}

/// Bits the plan alone decides: unreadable paths (8); old data that cannot be migrated, or
/// a scan dir with work to do that is in use (4).
fn plan_status(plan: &Plan) -> ExitCode {
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
    code
}

fn applied_status(applied: &Applied) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    let any = |f: fn(&ActionOutcome) -> bool| applied.results().any(|r| f(&r.outcome));
    if any(|o| matches!(o, ActionOutcome::Done | ActionOutcome::DoneNotDurable(_))) {
        code |= ExitCode::FIXED;
    }
    if any(|o| matches!(o, ActionOutcome::Failed(_))) {
        code |= ExitCode::OPERATIONAL | ExitCode::PROBLEMS;
    }
    if any(|o| matches!(o, ActionOutcome::Skipped(_))) {
        code |= ExitCode::PROBLEMS;
    }
    if applied.interrupted {
        code |= ExitCode::INTERRUPTED;
    }
    code
}

/// The closing output: the JSON document, or the table of results and the summary line.
fn report(
    out: &mut dyn Write,
    config: &MigrateConfig,
    plan: &Plan,
    applied: Option<&Applied>,
    code: ExitCode,
) -> ExitCode {
    let written = if config.output.format == Format::Json {
        render::write_json(out, &config.roots, plan, applied, config.dry_run)
    } else {
        match applied {
            Some(applied) => render::write_plan(out, plan, Some(applied))
                .and_then(|()| writeln!(out, "{}", render::summary_line(plan, Some(applied)))),
            None if config.output.quiet && code == ExitCode::SUCCESS => Ok(()),
            None => writeln!(out, "{}", render::summary_line(plan, None)),
        }
    };
    finish_output(written, out, code)
}

fn finish_output(written: io::Result<()>, out: &mut dyn Write, code: ExitCode) -> ExitCode {
    match written.and_then(|()| out.flush()) {
        Ok(()) => code,
        Err(error) => code | crate::report::output_error(&error),
    }
}
