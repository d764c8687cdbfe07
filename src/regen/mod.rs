//! Rebuilding OpenAnt's final outputs from their inputs and checkpoints (spec §3), as pure
//! functions: parsed documents and a loaded checkpoint set in, the rebuilt document and the exact
//! bytes OpenAnt would write out. Nothing here writes files.
//!
//! * [`enhanced`], [`results`], [`verified`]: `dataset_enhanced.json`, `results.json`,
//!   `results_verified.json` (spec §3.1–§3.3), over a [`checkpoints::CheckpointSet`].
//! * [`current`]: `results.json` and `results_verified.json` as today's OpenAnt writes them.
//! * [`pipeline`]: `pipeline_output.json` as `scan` built it (spec §3.4), both eras.
//! * [`dynamic`]: `dynamic_test_results.json` and `DYNAMIC_TEST_RESULTS.md` (spec §3.5).
//! * [`single_file`]: single-file checkpoints of the fork and of old upstream (spec §2.6) as
//!   the per-unit checkpoint files current OpenAnt resumes from.
//! * [`checkpoints`]: the one checkpoint loader every rebuild reads through, and the era.
//! * [`salvage`]: what a torn old output still holds (`partial_json` the one tokenizer of a torn file);
//!   [`lossless`]: the one merge that carries the old file's unknown keys into a rebuild.
//! * [`py`]: the Python semantics (truthiness, `==`, `str()`, `+`/`-`) OpenAnt's builders rely
//!   on; [`json_input`]: the state of one optional JSON input a rebuild reads itself.
//!
//! Every rebuild returns one [`Rebuilt`] or one [`RegenError`]. It reproduces "re-run the step
//! with every unit restored from its checkpoint" (spec §3.0) and says, in
//! [`Rebuilt::inexact`], where that cannot be exact without an LLM or a clock, and in
//! [`Rebuilt::missing_units`] which units had no usable checkpoint.

pub mod checkpoints;
pub mod current;
pub mod dynamic;
pub mod enhanced;
pub mod json_input;
mod last_use;
pub mod lossless;
mod partial_json;
pub mod pipeline;
pub mod py;
pub mod results;
pub mod salvage;
pub mod single_file;
#[cfg(test)]
pub(crate) mod test_support;
pub mod verified;

use std::fmt;
use std::path::PathBuf;

use crate::pyjson::{PyValue, WriteError};

pub use checkpoints::{CheckpointSet, Era};
pub use salvage::{salvage_leading_fields, SalvagedFields};

/// A rebuilt document before it is serialized, for the outputs OpenAnt writes with
/// `ensure_ascii=True` (analyze's results.json, enhance's dataset_enhanced.json): a caller that
/// holds the inputs, or the old file's tree for the lossless merge, frees them first, since
/// they outweigh the text.
#[derive(Debug)]
pub struct Document {
    pub value: PyValue,
    inexact: Vec<Inexact>,
    missing: Vec<String>,
}

impl Document {
    pub fn new(value: PyValue, inexact: Vec<Inexact>, missing: Vec<String>) -> Document {
        Document { value, inexact, missing }
    }

    /// The document as the step writes it (`ensure_ascii=True`).
    pub fn serialize(self) -> Result<Rebuilt, RegenError> {
        let bytes = crate::pyjson::to_python_string(&self.value, true)?;
        Ok(Rebuilt::new(self.value, bytes, self.inexact, self.missing))
    }

    /// [`Document::serialize`] for a document nothing reads once it is written: its tree is
    /// freed as it is written ([`crate::pyjson::into_python_string`]), so the tree and the
    /// text never both exist whole. The same bytes; the [`Rebuilt::value`] is `null`.
    pub fn serialize_consuming(self) -> Result<Rebuilt, RegenError> {
        let bytes = crate::pyjson::into_python_string(self.value, true)?;
        Ok(Rebuilt::new(PyValue::Null, bytes, self.inexact, self.missing))
    }

    /// [`Document::serialize`] (`keep_value`) or [`Document::serialize_consuming`], the text
    /// handed to `drain` as it is written (into a file, a piece at a time): the
    /// [`Rebuilt::bytes`] are what `drain` left of it, after what it took.
    pub fn serialize_into(
        self,
        keep_value: bool,
        drain: &mut impl crate::pyjson::Drain,
    ) -> Result<Rebuilt, RegenError> {
        let (value, rest) = if keep_value {
            let rest = crate::pyjson::write_python_into(&self.value, true, drain)?;
            (self.value, rest)
        } else {
            (PyValue::Null, crate::pyjson::write_python_into_consuming(self.value, true, drain)?)
        };
        Ok(Rebuilt::new(value, rest, self.inexact, self.missing))
    }
}

/// A rebuilt output file: what every rebuild returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Rebuilt {
    /// The document (for `DYNAMIC_TEST_RESULTS.md`, the text as a string); `null` when it was
    /// freed as it was written ([`Document::serialize_consuming`]).
    pub value: PyValue,
    /// `value` serialized exactly as OpenAnt writes this file (`json.dump(indent=2)`, the
    /// file's `ensure_ascii`, no trailing newline; `\r\n` line breaks only where the old file
    /// had them).
    pub bytes: String,
    /// Fields and units that could not be reproduced exactly, and what was done instead.
    pub inexact: Vec<Inexact>,
    /// Units (ids) without a usable checkpoint; OpenAnt would re-run them with the LLM.
    pub missing_units: Vec<String>,
    /// The files the rebuild read itself (rebuilds handed parsed documents leave it empty).
    pub inputs: Vec<InputUsed>,
    /// Warnings that make no field inexact.
    pub notes: Vec<String>,
}

impl Rebuilt {
    /// A rebuild from documents the caller read: no inputs or notes of its own.
    pub fn new(value: PyValue, bytes: String, inexact: Vec<Inexact>, missing_units: Vec<String>) -> Rebuilt {
        Rebuilt { value, bytes, inexact, missing_units, inputs: Vec::new(), notes: Vec::new() }
    }

    /// Whether some note names `field` (tests and reports use this).
    pub fn names_inexact(&self, field: &str) -> bool {
        self.inexact.iter().any(|n| n.field == field)
    }

    /// The same question under the name the pipeline and dynamic-test rebuilds used.
    pub fn is_inexact(&self, field: &str) -> bool {
        self.names_inexact(field)
    }

    /// True when every field is believed to be byte-exact.
    pub fn is_exact(&self) -> bool {
        self.inexact.is_empty()
    }
}

/// A file the rebuild read, and what it was used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputUsed {
    pub path: PathBuf,
    pub role: &'static str,
}

/// One thing a rebuild could not reproduce exactly (or took from somewhere other than the
/// checkpoints), e.g. `field: "timestamp"`, `note: "set to now: the original is not recoverable"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inexact {
    /// The field (a top-level key, or `results[<unit id>].<key>`), or `unit <id>` for a unit.
    pub field: String,
    /// What happened and, where it helps, what the user can do.
    pub note: String,
}

impl Inexact {
    pub fn new(field: impl Into<String>, note: impl Into<String>) -> Inexact {
        Inexact { field: field.into(), note: note.into() }
    }
}

impl fmt::Display for Inexact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.note)
    }
}

/// Where the old output a rebuild salvages from (fields that cannot be recomputed) comes from.
#[derive(Debug, Clone, Default)]
pub enum OldOutput {
    /// The file of that name in the scan dir, if it exists.
    #[default]
    FromScanDir,
    /// These bytes (e.g. a salvaged temp file or a backup copy).
    Bytes(Vec<u8>),
    /// Do not use an old file.
    Ignore,
}

impl OldOutput {
    /// The old file's bytes: read from `path` (recorded in `inputs` with `role`) for
    /// [`OldOutput::FromScanDir`]; `None` when it is ignored or cannot be read.
    pub fn read(&self, path: PathBuf, role: &'static str, inputs: &mut Vec<InputUsed>) -> Option<Vec<u8>> {
        match self {
            OldOutput::Ignore => None,
            OldOutput::Bytes(b) => Some(b.clone()),
            OldOutput::FromScanDir => {
                let b = crate::no_follow::read(&path).ok()?;
                inputs.push(InputUsed { path, role });
                Some(b)
            }
        }
    }
}

/// Why a rebuild could not produce a document at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegenError {
    /// An input document does not have the shape the step needs (e.g. no `units` list).
    #[error("{0}")]
    BadInput(String),
    /// A required input file is missing or unreadable.
    #[error("{path}: {reason}")]
    Input { path: PathBuf, reason: String },
    /// The input has a shape on which OpenAnt's own builder raises (Python `TypeError`,
    /// `AttributeError`, …), so there is no OpenAnt output to reproduce.
    #[error("OpenAnt could not build this either: {0}")]
    OpenAntWouldFail(String),
    /// A value this implementation cannot reproduce (e.g. the Python `repr` of a list).
    #[error("cannot reproduce: {0}")]
    Unsupported(String),
    /// The rebuilt document cannot be serialized (nesting deeper than Python can write).
    #[error("cannot serialize the rebuilt document: {0}")]
    Write(#[from] WriteError),
}

impl From<py::TypeError> for RegenError {
    fn from(e: py::TypeError) -> RegenError {
        RegenError::OpenAntWouldFail(e.0)
    }
}

/// The key an inexact note uses for one result: `results[<unit id>].<key>`.
pub(crate) fn result_field(unit: &str, key: &str) -> String {
    format!("results[{unit}].{key}")
}
