//! The state of one optional JSON input a rebuild reads from the scan dir itself: absent,
//! unreadable (as Python's `json.load` would fail), or parsed.

use std::path::Path;

use crate::pyjson::{self, PyValue};

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
        // One look: a file removed between a stat and the read is absent, not unreadable.
        match crate::no_follow::read(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => JsonInput::Absent,
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
