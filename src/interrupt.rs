//! Ctrl-C (SIGINT) and SIGTERM, one way in every verb (README "Signals", `--help`):
//! * a verb that writes (repair, migrate, clean without `--dry-run`) stops between changes: the
//!   one in progress is finished, no other starts, what was done is reported, exit bit 32.
//!   Before its first change (planning, the y/N question) nothing is to finish: it exits 32 at
//!   once, saying that nothing was changed;
//! * a run that writes nothing (check, every `--dry-run`) dies of the signal, re-raised after
//!   the progress bar is cleared, as fd does, so that a shell loop around it stops too.
//!
//! The progress bar is cleared first in both cases. A thread of its own waits for the signals
//! ([`signal_hook::iterator`]), so that the clearing and the re-raise run outside a handler.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::exit_codes::ExitCode;
use crate::progress::Progress;

/// Whether the run may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// check, `--dry-run`: re-raise.
    ReadOnly,
    /// repair, migrate, clean: stop between changes, exit 32.
    Writing,
}

/// The handle a verb keeps while it runs.
pub struct Interrupt {
    stop: Arc<AtomicBool>,
    /// True once the first change may start: from then on a signal only sets `stop`. Behind a
    /// lock so that the signal thread's choice to exit and the verb's first write never cross.
    writing: Arc<Mutex<bool>>,
}

impl Interrupt {
    /// Starts listening for SIGINT and SIGTERM. `progress` is cleared before anything else.
    pub fn install(mode: Mode, progress: &Progress) -> Interrupt {
        let stop = Arc::new(AtomicBool::new(false));
        let writing = Arc::new(Mutex::new(false));
        let handle = Interrupt { stop: Arc::clone(&stop), writing: Arc::clone(&writing) };
        let progress = progress.clone();
        match Signals::new([SIGINT, SIGTERM]) {
            Ok(mut signals) => {
                std::thread::spawn(move || {
                    for signal in signals.forever() {
                        progress.finish();
                        if mode == Mode::ReadOnly {
                            // Unregistering is not needed: the default handler is restored
                            // before the signal is raised again.
                            let _ = signal_hook::low_level::emulate_default_handler(signal);
                            std::process::exit(128 + signal);
                        }
                        let writing = writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                        if !*writing {
                            crate::diag::error(None, "interrupted: nothing was changed");
                            std::process::exit(i32::from(ExitCode::INTERRUPTED.code()));
                        }
                        stop.store(true, Ordering::SeqCst);
                    }
                });
            }
            // Without the thread, the signals keep their default action (the process dies of
            // them): nothing is half-written either, since every write is atomic.
            Err(error) => crate::diag::error(None, format!("cannot listen for Ctrl-C: {error}")),
        }
        handle
    }

    /// From now on a signal stops the verb between changes instead of ending the process.
    pub fn begin_writing(&self) {
        *self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
    }

    /// Set once a signal came during the writing part: start no other change.
    pub fn stop_flag(&self) -> &AtomicBool {
        &self.stop
    }
}
