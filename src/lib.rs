//! scanaudit: audit and repair OpenAnt scan output directories.

pub mod atomic;
pub mod backup;
