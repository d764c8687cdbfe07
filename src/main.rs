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
