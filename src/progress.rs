//! A progress line on stderr, only when stderr is a terminal and `--quiet` is not given: a
//! spinner with the step's name and elapsed time, or a bar with counts and an integer rate,
//! grouped by thousands (`reading ███░░ 12,345/96,924 files  3,210 files/s`). Each step
//! replaces the line; [`Progress::finish`] clears it, and the verb calls it before writing
//! any output.

use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::text::thousands;

/// Clones share one line: the signal thread ([`crate::interrupt`]) holds a clone to clear it.
#[derive(Clone)]
pub struct Progress {
    enabled: bool,
    /// The line of the current step; `None` once finished (or never drawn).
    bar: Arc<Mutex<Option<ProgressBar>>>,
}

impl Progress {
    pub fn new(enabled: bool) -> Progress {
        Progress { enabled, bar: Arc::new(Mutex::new(None)) }
    }

    /// A progress that draws nothing (library use, tests).
    pub fn hidden() -> Progress {
        Progress::new(false)
    }

    /// Starts a step whose size is unknown: a spinner, its name and the time it has taken.
    pub fn set_message(&self, message: &'static str) {
        self.start_step(None, spinner_style(message));
    }

    /// Starts the step that reads every file, over `total` files.
    pub fn start_files(&self, total: u64) {
        self.start_count("reading", total, "files");
    }

    /// Starts the step `step` (`planning`) over `total` things called `noun` (`scan dirs`).
    pub fn start_count(&self, step: &'static str, total: u64, noun: &'static str) {
        self.start_step(Some(total), bar_style(step, noun));
    }

    fn start_step(&self, total: Option<u64>, style: ProgressStyle) {
        if !self.enabled {
            return;
        }
        let mut slot = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = slot.take() {
            old.finish_and_clear();
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        bar.set_style(style);
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        *slot = Some(bar);
    }

    pub fn inc(&self) {
        if !self.enabled {
            return;
        }
        // Cloned out of the lock (an Arc), so parallel workers do not wait on each other's draw.
        let bar = self.bar.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(bar) = bar {
            bar.inc(1);
        }
    }

    /// Clears the line; a later step draws a new one.
    pub fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    /// Never left on screen, whatever path the verb took out.
    fn drop(&mut self) {
        self.finish();
    }
}

fn spinner_style(message: &'static str) -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg}  {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key("msg", move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(message);
        })
}

fn bar_style(step: &'static str, noun: &'static str) -> ProgressStyle {
    ProgressStyle::with_template("{step} {bar:20} {counts}  {rate}  eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("step", move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(step);
        })
        .with_key("counts", move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}/{} {noun}", thousands(state.pos()), thousands(state.len().unwrap_or(0)));
        })
        .with_key("rate", move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}", rate(state.per_sec(), noun));
        })
}

/// `3,210 files/s`: whole units per second.
fn rate(per_sec: f64, noun: &str) -> String {
    let whole = if per_sec.is_finite() && per_sec > 0.0 { per_sec.round() as u64 } else { 0 };
    format!("{} {noun}/s", thousands(whole))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_whole_and_grouped() {
        assert_eq!(rate(3210.4567, "files"), "3,210 files/s");
        assert_eq!(rate(0.4, "scan dirs"), "0 scan dirs/s");
        assert_eq!(rate(f64::NAN, "files"), "0 files/s");
        assert_eq!(rate(f64::INFINITY, "files"), "0 files/s");
    }
}
