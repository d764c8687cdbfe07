//! `scanaudit migrate` end to end, one module per migration.
//!
//! (Created on the `mig-single` branch with only its own module; the shared harness lives on
//! main and is reconciled there.)

#[path = "../common/mod.rs"]
mod common;

mod single_file;
