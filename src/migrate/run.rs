//! The `scanaudit migrate` verb from a checked configuration to an exit status: list, or plan,
//! show, confirm, apply, show again.

use std::io::{self, Write};

use super::{apply, plan, Applied, Plan, MIGRATIONS};
use crate::cli::Format;
use crate::config::MigrateConfig;
use crate::exit_codes::ExitCode;
use crate::plan_gate::{may_apply, outcome_status, plan_status};
use crate::report::migrate as render;

/// Runs the verb, writing everything to stdout (the question goes to stderr).
pub fn run(config: &MigrateConfig) -> ExitCode {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if config.list {
        return finish_output(render::write_list(&mut out, &config.output, MIGRATIONS), &mut out, ExitCode::SUCCESS);
    }
    let stop = crate::repair::stop_flag();
    let plan = plan(&config.roots, &config.filters, config.apply.min_idle);
    let mut code = plan_status(plan.has_read_errors(), plan.leaves_work_undone());
    if let Err(error) = render::render_plan(&mut out, &config.output, &plan) {
        return code | crate::report::output_error(&error);
    }
    if plan.action_count() == 0 {
        return report(&mut out, config, &plan, None, code);
    }
    if let Err(not_applied) = may_apply(&config.apply, config.output.format, plan.action_count(), &mut out) {
        return report(&mut out, config, &plan, None, code | not_applied);
    }
    let applied = apply(&plan, &stop);
    code |= outcome_status(applied.results().map(|r| &r.outcome), applied.interrupted);
    report(&mut out, config, &plan, Some(&applied), code)
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
        render::write_json(out, &config.roots, plan, applied, config.apply.dry_run)
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
