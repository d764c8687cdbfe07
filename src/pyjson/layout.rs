//! The indented layout Python's `json.dumps(indent=2)` and Go's `MarshalIndent(v, "", "  ")`
//! share: each item on its own line indented by two spaces per level, `,` at the end of every
//! item but the last, `": "` after keys, and empty containers as `[]` / `{}`.
//! The two writers differ only in how scalars are spelled, which [`Scalars`] supplies; even
//! their strings share [`write_string`] and differ only in which characters become `\uxxxx`.
//! Either writer fails only as [`WriteError`] says.

use super::limits::MAX_DEPTH;
use super::value::PyValue;

/// Why a value cannot be written in the requested style.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// Nested deeper than [`MAX_DEPTH`]; Python's `json.dumps` fails with `RecursionError`.
    #[error("value nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// Go's `json.Marshal` refuses NaN and ±Infinity (`UnsupportedValueError`).
    #[error("Go's encoding/json cannot write the float {0}")]
    NonFiniteFloat(&'static str),
}

/// How one writer spells strings and floats.
pub(super) trait Scalars {
    fn string(&self, out: &mut String, s: &str);
    fn float(&self, out: &mut String, x: f64) -> Result<(), WriteError>;
}

/// A JSON string literal as both writers spell it: `"` and `\` escaped, the five controls
/// with short escapes (`\b \f \n \r \t`), every character `u_escaped` picks as `\uxxxx`
/// (lower-case hex; astral characters as a UTF-16 surrogate pair), everything else as is.
pub(super) fn write_string(out: &mut String, s: &str, u_escaped: impl Fn(char) -> bool) {
    out.reserve(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u_escaped(c) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    push_u_escape(out, *unit);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_u_escape(out: &mut String, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[usize::from((unit >> shift) & 0xf)] as char);
    }
}

pub(super) fn write_indented(value: &PyValue, style: &impl Scalars) -> Result<String, WriteError> {
    let mut out = String::new();
    write_value(&mut out, value, style, 0)?;
    Ok(out)
}

fn newline(out: &mut String, level: usize) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_value(out: &mut String, value: &PyValue, style: &impl Scalars, level: usize) -> Result<(), WriteError> {
    match value {
        PyValue::Null => out.push_str("null"),
        PyValue::Bool(true) => out.push_str("true"),
        PyValue::Bool(false) => out.push_str("false"),
        PyValue::Int(n) => out.push_str(n.as_str()),
        PyValue::Float(x) => style.float(out, *x)?,
        PyValue::Str(s) => style.string(out, s),
        PyValue::Array(_) | PyValue::Object(_) if level >= MAX_DEPTH => return Err(WriteError::TooDeep),
        PyValue::Array(items) if items.is_empty() => out.push_str("[]"),
        PyValue::Object(map) if map.is_empty() => out.push_str("{}"),
        PyValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_value(out, item, style, level + 1)?;
            }
            newline(out, level);
            out.push(']');
        }
        PyValue::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                style.string(out, key);
                out.push_str(": ");
                write_value(out, item, style, level + 1)?;
            }
            newline(out, level);
            out.push('}');
        }
    }
    Ok(())
}
