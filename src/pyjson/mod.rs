//! Byte-exact reading and writing of the JSON files OpenAnt produces.
//!
//! OpenAnt writes its JSON from two languages, and every file scanaudit rewrites must come out
//! byte-identical to what OpenAnt itself would have written (design.md, "Format fidelity";
//! spec/openant-layout.md §3.0):
//!
//! * Python: `json.dump(value, f, indent=2, ensure_ascii=X)` → [`to_python_string`] (or
//!   [`into_python_string`], which frees the value as it writes it; or [`write_python_into`]
//!   and [`write_python_into_consuming`], which hand the text to a [`Drain`] as they write it).
//! * Go: `json.MarshalIndent(v, "", "  ")` plus `"\n"` → [`to_go_string`].
//!
//! [`parse`] reads a file into a [`PyValue`], accepting what Python's `json.load` accepts on a
//! UTF-8 text file and keeping everything needed to write it back unchanged: ints of any size
//! verbatim, floats as `f64` (NaN and ±Infinity included), the int/float distinction (`0` versus
//! `0.0`) and object key order. Duplicate keys behave like a Python dict: the key keeps its first
//! position and takes the last value.
//!
//! What Python's reader refuses (nesting past its recursion limit, ints past its digit limit)
//! is defined once, in [`limits`], which `check`'s validator applies too. Nesting is limited to
//! [`MAX_DEPTH`] levels in the parser and in both writers, so no input can exhaust the stack.
//!
//! One thing Python accepts cannot be held in a [`PyValue`]: a lone UTF-16 surrogate in a `\u`
//! escape (a Rust `String` cannot hold one). [`parse`] reports it as
//! [`ParseErrorKind::LoneSurrogate`]; the file is valid for OpenAnt (and `check` says so), so a
//! caller must refuse to rebuild from it rather than drop it. Invalid UTF-8 is rejected, as
//! Python's text-mode `open` rejects it.
//!
//! [`python_round`] is CPython's `round(x, ndigits)` for floats, which repair uses for costs and
//! durations.
//!
//! [`parse_projected`] reads a document exactly as [`parse`] does but builds only the members a
//! caller names, recording where some others lie to be read later if needed.
//!
//! This file only declares the parts and re-exports what callers name: `value` (PyValue,
//! PyInt, PyObject), `parse`, `project`, `limits`, `layout` (the indented layout both writers share and
//! WriteError), `python` and `go`, and `bytescan` (the word-at-a-time search both the reader and
//! the writers step over plain string bytes with). The parts import each other, never this file.

mod bytescan;
mod go;
mod layout;
pub mod limits;
mod parse;
mod project;
mod python;
mod value;

pub use go::to_go_string;
pub use layout::{Drain, WriteError};
pub use limits::{MAX_DEPTH, MAX_INT_DIGITS};
pub use parse::{parse, ParseError, ParseErrorKind};
pub use project::{parse_projected, Keep, Member, Projected, Step};
pub use python::{
    into_python_string, python_float_repr, python_round, to_python_string, write_python_into,
    write_python_into_consuming,
};
pub use value::{PyInt, PyObject, PyValue};
