//! `scanaudit undo`: `--list` (also what it does without `--session` or `--last`), or the
//! undo of one session per scan dir through the one plan/confirm/apply runner.

use std::io;

use super::plan_and_apply::{self, finish_output, Run};
use super::scope;
use crate::config::UndoConfig;
use crate::diag;
use crate::exit_codes::ExitCode;
use crate::report;
use crate::report::undo::Undo;
use crate::undo::Which;

pub fn run(mut config: UndoConfig) -> ExitCode {
    let (usable, code) = scope::usable_roots(&config.roots);
    if usable.is_empty() {
        return code;
    }
    config.roots = usable;
    let which = match (&config.which, config.list) {
        (Some(which), false) => which,
        _ => return code | list(&config),
    };
    let plan = crate::undo::plan(&config.roots, which, config.apply.min_idle);
    if let (Which::Named(name), true) = (which, plan.scan_dirs.is_empty()) {
        let roots: Vec<String> = config.roots.iter().map(|r| r.display().to_string()).collect();
        diag::error(None, format!("{}: no backup session {name} (see `scanaudit undo --list`)", roots.join(", ")));
        return code | ExitCode::OPERATIONAL;
    }
    let run = Run { roots: &config.roots, apply: &config.apply, output: &config.output };
    code | plan_and_apply::run::<Undo>(run, |_| plan, crate::undo::apply)
}

fn list(config: &UndoConfig) -> ExitCode {
    let (dirs, errors) = crate::undo::list(&config.roots);
    let code = if errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::OPERATIONAL };
    for (path, error) in &errors {
        diag::error(Some(path), format!("cannot read: {error}"));
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let written = report::undo::write_list(&mut out, &config.output, &config.roots, &dirs);
    finish_output(written, &mut out, code)
}
