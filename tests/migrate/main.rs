//! `scanaudit migrate`: one module per migration (the lead reconciles this list).

#[path = "../common/mod.rs"]
mod common;

mod fields;
