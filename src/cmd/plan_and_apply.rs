//! The one runner of the verbs that plan, then change things (repair, migrate): plan, show,
//! confirm (a dry run, `--yes`, or the y/N question on a terminal), apply, show again, and the
//! exit bits of the plan and of what ran (design.md: 1 changed something, 4 something is
//! left, 8 an I/O error, 32 interrupted).

use std::ffi::OsString;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::cli::Format;
use crate::config::{ApplyConfig, OutputConfig};
use crate::diag;
use crate::dir_plan::{ActionOutcome, Applied, DirStatus, Outcome, Plan};
use crate::exit_codes::ExitCode;
use crate::interrupt::{Interrupt, Mode};
use crate::progress::Progress;
use crate::repair::guard::{flag_duration, InUse};
use crate::report::layout::Layout;
use crate::report::output_error;
use crate::report::plan::{self as render, PlanRows};
use crate::text::shell_quote;

/// What the runner needs of a verb's configuration.
pub struct Run<'c> {
    pub roots: &'c [PathBuf],
    pub apply: &'c ApplyConfig,
    pub output: &'c OutputConfig,
}

type VerbPlan<V> = Plan<<V as PlanRows>::Action, <V as PlanRows>::Unfixable>;

/// Runs a plan/apply verb, writing everything to stdout (the question goes to stderr): `plan`
/// makes the plan, `apply` carries out its runnable part, stopping between actions once the
/// flag is set (SIGINT, SIGTERM: [`crate::interrupt`]).
pub fn run<V: PlanRows>(
    config: Run<'_>,
    plan: impl FnOnce(&Progress) -> VerbPlan<V>,
    apply: impl FnOnce(&VerbPlan<V>, &AtomicBool) -> Applied<V::Result>,
) -> ExitCode {
    let progress = Progress::new(config.output.progress);
    let mode = if config.apply.dry_run { Mode::ReadOnly } else { Mode::Writing };
    let interrupt = Interrupt::install(mode, &progress);
    let plan = plan(&progress);
    progress.finish();
    let mut code = plan_status(plan.has_read_errors(), plan.leaves_work_undone());
    for (path, error) in render::unexplained_read_errors::<V>(&plan) {
        diag::error(Some(path), format!("cannot read: {error}"));
    }
    let scan_dirs = || plan.scan_dirs.iter().map(|d| d.scan_dir.as_path());
    super::scope::note_roots_without_scans(config.roots, scan_dirs());
    super::scope::explain_eras(scan_dirs());
    note_in_use(&plan);
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
    interrupt.begin_writing();
    progress.set_message("applying");
    let applied = apply(&plan, interrupt.stop_flag());
    progress.finish();
    code |= outcome_status(applied.results().map(Outcome::outcome), applied.interrupted);
    note_backups(&applied);
    report::<V>(&mut out, &config, &plan, Some(&applied), code)
}

/// The note on scan dirs left alone as in use, with the override when a recent write (not a
/// running OpenAnt, which no flag overrides) is why.
fn note_in_use<A, U>(plan: &Plan<A, U>) {
    let in_use: Vec<&InUse> = plan
        .scan_dirs
        .iter()
        .filter(|d| d.has_work())
        .filter_map(|d| match &d.status {
            DirStatus::InUse(why) => Some(why),
            _ => None,
        })
        .collect();
    let Some(first) = in_use.first() else { return };
    let dirs = crate::text::plural(in_use.len(), "scan dir", "scan dirs");
    match in_use.iter().find_map(|why| match why {
        InUse::RecentWrite { min_idle, .. } => Some(*min_idle),
        InUse::ScanRunning => None,
    }) {
        Some(min_idle) => diag::note(format!(
            "{dirs} with work to do left alone as in use ({first}); a scan dir counts as in use while \
             anything in it changed within --min-idle ({}): if you know nothing writes there, run \
             again with --min-idle 0s",
            flag_duration(min_idle),
        )),
        None => diag::note(format!(
            "{dirs} with work to do left alone as in use ({first}); run again once the scan has ended"
        )),
    }
}

/// Where the originals of what was changed went.
fn note_backups<R>(applied: &Applied<R>) {
    let backups: Vec<&Path> = applied.dirs.iter().filter_map(|d| d.backup_dir.as_deref()).collect();
    match backups.as_slice() {
        [] => {}
        [one] => diag::note(format!("the originals of what changed are backed up in {}", one.display())),
        [first, ..] => diag::note(format!(
            "the originals of what changed are backed up in each scan dir's .scanaudit/backups/ ({} sessions, \
             e.g. {})",
            backups.len(),
            first.display()
        )),
    }
}

/// This command line with `--yes` instead of `--dry-run`/`-n`: the line that applies the plan.
fn rerun_with_yes() -> String {
    rerun_line(std::env::args_os().skip(1))
}

fn rerun_line(args: impl IntoIterator<Item = OsString>) -> String {
    let mut words = vec!["scanaudit".to_string()];
    let mut after_separator = false;
    for arg in args {
        let text = arg.to_string_lossy();
        if !after_separator {
            if text == "--" {
                after_separator = true;
            } else if text == "--dry-run" || text == "--yes" {
                continue;
            } else if text.len() > 1
                && text.starts_with('-')
                && !text.starts_with("--")
                && text[1..].bytes().all(|b| b.is_ascii_alphabetic())
            {
                // Short flags together (`-nq`): all but n and y.
                let rest: String = text[1..].chars().filter(|c| !matches!(c, 'n' | 'y')).collect();
                if !rest.is_empty() {
                    words.push(format!("-{rest}"));
                }
                continue;
            }
        }
        words.push(shell_quote(Path::new(&arg)));
    }
    // Before any `--`, so that it is read as the flag.
    let at = words.iter().position(|w| w == "--").unwrap_or(words.len());
    words.insert(at, "--yes".to_string());
    words.join(" ")
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
        let _ = out.flush();
        diag::note(format!("to apply this plan: {}", rerun_with_yes()));
        return Err(ExitCode::PROBLEMS);
    }
    if config.yes {
        return Ok(());
    }
    let _ = out.flush();
    if !config.interactive {
        diag::note(format!("not applied: no terminal to confirm on; to apply this plan: {}", rerun_with_yes()));
        return Err(ExitCode::PROBLEMS);
    }
    if !confirm(&format!("Apply these {pending} changes?")) {
        diag::note(format!("nothing was changed; to apply this plan without the question: {}", rerun_with_yes()));
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

    #[test]
    fn the_rerun_line_swaps_the_dry_run_for_yes() {
        let line = |args: &[&str]| rerun_line(args.iter().map(OsString::from));
        assert_eq!(line(&["repair", "--dry-run", "/a b"]), "scanaudit repair '/a b' --yes");
        assert_eq!(line(&["-q", "migrate", "-nq", "x"]), "scanaudit -q migrate -q x --yes");
        assert_eq!(line(&["repair", "-n", "--", "-odd"]), "scanaudit repair --yes -- -odd");
        assert_eq!(line(&["repair", "--min-idle", "0s"]), "scanaudit repair --min-idle 0s --yes");
    }
}
