//! The integration tests, in one binary so that the suite links once (one module per area, as
//! uv and fd do). Run one area with `cargo test --test it -- check::`, one test with
//! `cargo test --test it -- --exact check::healthy_table_says_so`.
//!
//! The modules share one process and run in parallel threads, so a test that changes
//! process-wide state (the umask, the fail crate's failpoints) runs alone in a child process:
//! see `common::alone_in_own_process`.

mod common;

mod atomic_crash;
mod atomic_faults;
mod atomic_umask;
mod backup;
mod check;
mod ci_formats;
mod clean;
mod concurrency;
mod consistency;
mod current_era;
mod current_fixtures;
mod interface;
mod lossless;
mod migrate;
mod non_utf8_names;
mod one_reader;
mod output;
mod pyjson_testdata;
mod python_differential;
mod python_package;
mod regen_pipeline;
mod regen_reference;
mod repair;
mod repair_current;
mod repair_spill;
mod repair_trust;
mod signals;
mod source_tree;
mod special_inputs;
mod undo;
