//! scanaudit: audit and repair OpenAnt scan output directories.
//!
//! The binary is a thin shell over this library: `cli` defines the flags, `config` checks
//! them, `cmd` runs each verb (`check` audits over `walk` + `layout` + `validate`; `repair`
//! and `migrate` plan and apply through `dir_plan`), `report` renders what happened, and
//! `exit_codes` turns it into a status.

pub mod atomic;
pub mod backup;
pub mod backup_prune;
pub mod captures;
pub mod check;
pub mod clean;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod consistency;
pub mod cp1252;
pub mod diag;
pub mod dir_plan;
pub mod era;
pub mod exit_codes;
pub mod fastjson;
pub mod finding;
pub mod fsx;
pub mod id_set;
pub mod interrupt;
pub mod json_path;
pub mod layout;
pub mod migrate;
pub mod no_follow;
pub mod open_files;
pub mod progress;
pub mod pyjson;
pub mod recoverable;
pub mod regen;
pub mod repair;
pub mod report;
pub mod scan_lock;
pub mod shape;
pub mod spill;
pub mod temps;
pub mod text;
pub mod undo;
pub mod validate;
pub mod walk;
