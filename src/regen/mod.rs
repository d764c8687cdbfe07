//! Rebuilding OpenAnt's final outputs from what a scan dir still holds (spec §3), without an
//! LLM and without writing anything: every function here returns the rebuilt value, its exact
//! bytes, and an account of what could not be reproduced exactly.
//!
//! * [`pipeline`]: `pipeline_output.json` as `scan` built it (spec §3.4).
//! * [`dynamic`]: `dynamic_test_results.json` and `DYNAMIC_TEST_RESULTS.md` (spec §3.5).
//! * [`common`]: the shared result types ([`common::RebuiltOutput`], [`common::InexactField`]) and
//!   the bits of Python semantics (truthiness, `==`, `str()`, `+`/`-`) OpenAnt's builders rely on.

pub mod common;
pub mod dynamic;
pub mod pipeline;
