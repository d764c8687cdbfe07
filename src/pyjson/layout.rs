//! The indented layout Python's `json.dumps(indent=2)` and Go's `MarshalIndent(v, "", "  ")`
//! share: each item on its own line indented by two spaces per level, `,` at the end of every
//! item but the last, `": "` after keys, and empty containers as `[]` / `{}`.
//! The two writers differ only in how scalars are spelled, which [`Scalars`] supplies.

use super::{PyValue, WriteError, MAX_DEPTH};

/// How one writer spells strings and floats.
pub(super) trait Scalars {
    fn string(&self, out: &mut String, s: &str);
    fn float(&self, out: &mut String, x: f64) -> Result<(), WriteError>;
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
