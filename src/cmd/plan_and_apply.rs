//! The one runner of the verbs that plan, then change things (repair, migrate): plan, show,
//! confirm (a dry run, `--yes`, or the y/N question on a terminal), apply, show again, and the
//! exit bits of the plan and of what ran (design.md: 1 changed something, 4 something is
//! left, 8 an I/O error, 32 interrupted).

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use crate::cli::Format;
use crate::config::{ApplyConfig, OutputConfig};
use crate::dir_plan::{stop_flag, ActionOutcome, Applied, Outcome, Plan};
use crate::exit_codes::ExitCode;
use crate::progress::Progress;
use crate::report::layout::Layout;
use crate::report::output_error;
use crate::report::plan::{self as render, PlanRows};

/// What the runner needs of a verb's configuration.
pub struct Run<'c> {
    pub roots: &'c [PathBuf],
    pub apply: &'c ApplyConfig,
    pub output: &'c OutputConfig,
}

type VerbPlan<V> = Plan<<V as PlanRows>::Action, <V as PlanRows>::Unfixable>;

/// Runs a plan/apply verb, writing everything to stdout (the question goes to stderr): `plan`
/// makes the plan, `apply` carries out its runnable part, stopping between actions once the
/// flag is set (SIGINT, SIGTERM).
pub fn run<V: PlanRows>(
    config: Run<'_>,
    plan: impl FnOnce(&Progress) -> VerbPlan<V>,
    apply: impl FnOnce(&VerbPlan<V>, &AtomicBool) -> Applied<V::Result>,
) -> ExitCode {
    let stop = stop_flag();
    let progress = Progress::new(config.output.progress);
    let plan = plan(&progress);
    progress.finish();
    let mut code = plan_status(plan.has_read_errors(), plan.leaves_work_undone());
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if let Err(error) = render::render_plan::<V>(&mut out, config.output, &plan) {
        return code | output_error(&error);
    }
    if plan.action_count() == 0 {
        return report::<V>(&mut out, &config, &plan, None, code);
    }
    if let Err(not_applied) = may_apply(config.apply, config.output.format, plan.action_count(), &mut out) {
        return report::<V>(&mut out, &config, &plan, None, code | not_applied);
    }
    let progress = Progress::new(config.output.progress);
    progress.set_message("applying");
    let applied = apply(&plan, &stop);
    progress.finish();
    code |= outcome_status(applied.results().map(Outcome::outcome), applied.interrupted);
    report::<V>(&mut out, &config, &plan, Some(&applied), code)
}

/// The closing output: the JSON document, or the table of results and the summary line.
fn report<V: PlanRows>(
    out: &mut dyn Write,
    config: &Run<'_>,
    plan: &VerbPlan<V>,
    applied: Option<&Applied<V::Result>>,
    code: ExitCode,
) -> ExitCode {
    let written = if config.output.format == Format::Json {
        render::write_json::<V>(out, config.roots, plan, applied, config.apply.dry_run)
    } else {
        match applied {
            Some(applied) => render::write_plan::<V>(out, Layout::stdout(config.output.color), plan, Some(applied))
                .and_then(|()| writeln!(out, "{}", render::summary_line::<V>(plan, Some(applied)))),
            None if config.output.quiet && code == ExitCode::SUCCESS => Ok(()),
            None => writeln!(out, "{}", render::summary_line::<V>(plan, None)),
        }
    };
    finish_output(written, out, code)
}

/// `code`, plus the bits of a failed write or flush of `out`.
pub fn finish_output(written: io::Result<()>, out: &mut dyn Write, code: ExitCode) -> ExitCode {
    match written.and_then(|()| out.flush()) {
        Ok(()) => code,
        Err(error) => code | output_error(&error),
    }
}

/// Whether to apply a plan with `pending` actions, after it was printed to `out`. `Err` holds
/// the exit bits of a plan that was not applied (4: the work is still to do).
fn may_apply(config: &ApplyConfig, format: Format, pending: usize, out: &mut dyn Write) -> Result<(), ExitCode> {
    if config.dry_run {
        if format == Format::Table {
            let _ = writeln!(out, "dry run: nothing was changed");
        }
        return Err(ExitCode::PROBLEMS);
    }
    if config.yes {
        return Ok(());
    }
    let _ = out.flush();
    if !config.interactive {
        eprintln!("scanaudit: not applied: no terminal to confirm on; re-run with --yes to apply the plan");
        return Err(ExitCode::PROBLEMS);
    }
    if !confirm(&format!("Apply these {pending} changes?")) {
        eprintln!("scanaudit: nothing was changed");
        return Err(ExitCode::PROBLEMS);
    }
    Ok(())
}

/// Asks on stderr, reads the answer from stdin; anything but y/yes is no.
fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = io::stderr().flush();
    let mut answer = String::new();
    if io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Bits a plan alone decides: paths that could not be read (8); something left that this verb
/// cannot do, or a scan dir with work to do that is in use (4).
fn plan_status(read_errors: bool, left_undone: bool) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    if read_errors {
        code |= ExitCode::OPERATIONAL;
    }
    if left_undone {
        code |= ExitCode::PROBLEMS;
    }
    code
}

/// Bits of what ran: something done (1), failed (8 and 4), skipped (4), interrupted (32).
fn outcome_status<'a>(outcomes: impl IntoIterator<Item = &'a ActionOutcome>, interrupted: bool) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    for outcome in outcomes {
        code |= match outcome {
            ActionOutcome::Done | ActionOutcome::DoneNotDurable(_) => ExitCode::FIXED,
            ActionOutcome::Failed(_) => ExitCode::OPERATIONAL | ExitCode::PROBLEMS,
            ActionOutcome::Skipped(_) => ExitCode::PROBLEMS,
        };
    }
    if interrupted {
        code |= ExitCode::INTERRUPTED;
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_combine_into_bits() {
        let outcomes = [ActionOutcome::Done, ActionOutcome::Skipped("interrupted".into())];
        assert_eq!(outcome_status(&outcomes, true).code(), 1 | 4 | 32);
        assert_eq!(outcome_status(&[ActionOutcome::Failed("x".into())], false).code(), 4 | 8);
        assert_eq!(outcome_status(&[], false), ExitCode::SUCCESS);
    }

    #[test]
    fn a_dry_run_never_applies() {
        let config = ApplyConfig { dry_run: true, yes: false, min_idle: std::time::Duration::ZERO, interactive: true };
        let mut out = Vec::new();
        assert_eq!(may_apply(&config, Format::Table, 3, &mut out), Err(ExitCode::PROBLEMS));
        assert_eq!(String::from_utf8(out).unwrap(), "dry run: nothing was changed\n");
    }
}
