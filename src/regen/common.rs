//! Types shared by the rebuilders of `pipeline` and `dynamic`: the rebuilt output, its error, the
//! inputs it read, and the state of one optional JSON input.

use std::path::{Path, PathBuf};

use crate::pyjson::{self, PyValue};

/// One field of a rebuilt output that is not (or may not be) what OpenAnt wrote: the same
/// notion the other rebuilds report, under the name these modules use.
pub use super::Inexact as InexactField;

/// A file the rebuild read, and what it was used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputUsed {
    pub path: PathBuf,
    pub role: &'static str,
}

/// A rebuilt output: the value, the exact bytes OpenAnt's writer would produce for it, what is
/// inexact, the inputs used, and free-form notes (warnings that do not make a field inexact).
#[derive(Debug, Clone)]
pub struct RebuiltOutput {
    pub value: PyValue,
    pub bytes: Vec<u8>,
    pub inexact: Vec<InexactField>,
    pub inputs: Vec<InputUsed>,
    pub notes: Vec<String>,
}

impl RebuiltOutput {
    /// True when every field is believed to be byte-exact.
    pub fn is_exact(&self) -> bool {
        self.inexact.is_empty()
    }

    /// Whether `field` is named in the inexact list.
    pub fn is_inexact(&self, field: &str) -> bool {
        self.inexact.iter().any(|f| f.field == field)
    }
}

/// Why a rebuild could not be done at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RebuildError {
    /// A required input is missing or unreadable.
    #[error("{path}: {reason}")]
    Input { path: PathBuf, reason: String },
    /// The input has a shape on which OpenAnt's own builder raises (Python `TypeError`,
    /// `AttributeError`, …), so there is no OpenAnt output to reproduce.
    #[error("OpenAnt could not build this either: {0}")]
    OpenAntWouldFail(String),
    /// A value this implementation cannot reproduce (e.g. an int beyond 128 bits in arithmetic).
    #[error("cannot reproduce: {0}")]
    Unsupported(String),
}

impl From<super::py::TypeError> for RebuildError {
    fn from(e: super::py::TypeError) -> RebuildError {
        RebuildError::OpenAntWouldFail(e.0)
    }
}

/// The state of one optional JSON input.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonInput {
    /// No such file.
    Absent,
    /// The file exists but Python's `json.load` would fail on it (or we cannot read it).
    Unreadable(String),
    Parsed(PyValue),
}

impl JsonInput {
    pub fn load(path: &Path) -> JsonInput {
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return JsonInput::Absent,
            _ => {}
        }
        match crate::no_follow::read(path) {
            Err(e) => JsonInput::Unreadable(e.to_string()),
            Ok(bytes) => match pyjson::parse(&bytes) {
                Ok(v) => JsonInput::Parsed(v),
                Err(e) => JsonInput::Unreadable(e.to_string()),
            },
        }
    }

    pub fn value(&self) -> Option<&PyValue> {
        match self {
            JsonInput::Parsed(v) => Some(v),
            _ => None,
        }
    }

    pub fn exists(&self) -> bool {
        !matches!(self, JsonInput::Absent)
    }
}
