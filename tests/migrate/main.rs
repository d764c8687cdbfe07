//! `scanaudit migrate`: each migration's tests live in their own module.

#[path = "../common/mod.rs"]
mod common;

// fork-enhance-dir and language-level.
mod dirs;
