//! `scanaudit migrate`: one module per migration (the lead's harness joins them here).

#[path = "../common/mod.rs"]
mod common;

mod cp1252;
