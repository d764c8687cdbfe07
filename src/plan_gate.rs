//! What repair and migrate share between planning and acting: whether the plan runs (a dry
//! run, `--yes`, or the y/N question on a terminal), and the exit bits of a plan and of what
//! ran (design.md: 1 changed something, 4 something is left, 8 an I/O error, 32 interrupted).

use std::io::Write;

use crate::cli::Format;
use crate::config::ApplyConfig;
use crate::exit_codes::ExitCode;
use crate::repair::ActionOutcome;

/// Whether to apply a plan with `pending` actions, after it was printed to `out`. `Err` holds
/// the exit bits of a plan that was not applied (4: the work is still to do).
pub fn may_apply(config: &ApplyConfig, format: Format, pending: usize, out: &mut dyn Write) -> Result<(), ExitCode> {
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
    if !crate::report::repair::confirm(&format!("Apply these {pending} changes?")) {
        eprintln!("scanaudit: nothing was changed");
        return Err(ExitCode::PROBLEMS);
    }
    Ok(())
}

/// Bits a plan alone decides: paths that could not be read (8); something left that this verb
/// cannot do, or a scan dir with work to do that is in use (4).
pub fn plan_status(read_errors: bool, left_undone: bool) -> ExitCode {
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
pub fn outcome_status<'a>(outcomes: impl IntoIterator<Item = &'a ActionOutcome>, interrupted: bool) -> ExitCode {
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
