//! The `scanaudit` binary: parse the command line, run the verb, map the outcome to an exit
//! status. Everything else lives in the library ([`scanaudit::cmd`]).

use std::process::ExitCode as ProcessExitCode;

use clap::Parser;
use scanaudit::cli::Cli;
use scanaudit::exit_codes::ExitCode;

/// mimalloc (Microsoft's allocator, the `mimalloc` crate): repair builds and frees millions of
/// small JSON nodes, where glibc's malloc and free took a fifth of its time (issue 17).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process. mimalloc asks for them on its arena;
/// every fresh 2 MiB page is then zeroed whole by the kernel for the few KiB a file needs, and
/// zeroed again after each purge. That zeroing was a sixth to a third of check's CPU on the
/// tree benchmark and about a fifth of repair's time on the 20,000-unit one (issue 17): with
/// 4 KiB pages only what is touched is zeroed. Best effort: a kernel without the setting
/// keeps its pages.
///
/// Run from `.init_array`, before Rust's runtime starts: std allocates (the main thread's
/// name) before `main`, and that first allocation makes mimalloc reserve and initialise its
/// arena, whose first touch then zeroed whole huge pages, up to 12 ms of check's serial
/// start on the 24-scan tree when the kernel had huge pages to give (issue 17).
#[cfg(target_os = "linux")]
extern "C" fn without_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Runs [`without_huge_pages`] as the loader starts the process, before any allocation.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static WITHOUT_HUGE_PAGES: extern "C" fn() = without_huge_pages;

fn main() -> ProcessExitCode {
    match Cli::try_parse() {
        Ok(cli) => scanaudit::cmd::run(cli),
        Err(error) => {
            // --help and --version are not errors.
            let code = if error.use_stderr() { ExitCode::USAGE } else { ExitCode::SUCCESS };
            let _ = error.print();
            code
        }
    }
    .into()
}
