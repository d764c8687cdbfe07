//! scanaudit: audit and repair OpenAnt scan output directories.
//!
//! The binary is a thin shell over this library: `cli` parses flags, `config` checks them,
//! `check` runs the audit, `report` renders it, `exit_codes` turns it into a status.

pub mod finding;
pub mod exit_codes;
pub mod layout;
pub mod shape;
pub mod validate;
