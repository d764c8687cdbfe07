//! What repair cannot fix in a scan dir, and the command that can: produced by the plan (inputs
//! it cannot read, outputs it cannot rebuild) and by the rebuilder (units without a usable
//! checkpoint), so it lives apart from both.

use std::path::PathBuf;

use serde::Serialize;

/// Something repair cannot fix, and the command that can.
#[derive(Debug, Clone, Serialize)]
pub struct Unfixable {
    #[serde(flatten, serialize_with = "crate::json_path::path")]
    pub path: PathBuf,
    pub reason: String,
    pub fix: Option<String>,
}
