//! The one tokenizer of every salvage: finds where a JSON value, string or object member ends
//! in bytes that may be cut short anywhere, without parsing them. `salvage`, `lossless` and
//! `pipeline` read torn files with it; each complete piece it finds still has to pass
//! [`crate::pyjson::parse`].

use crate::pyjson::{parse, PyValue};

/// Whether `bytes` can be a whole JSON object: only one whose last byte but JSON whitespace is
/// `}`. A torn prefix almost never ends so, and parsing it whole would build (and drop) the
/// tree of its entire readable prefix just to fail at the end.
pub(crate) fn may_be_whole_object(bytes: &[u8]) -> bool {
    bytes.iter().rev().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) == Some(&b'}')
}

pub(crate) fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while matches!(bytes.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

/// The end (exclusive) of the JSON value starting at `start`, found without parsing it:
/// strings to their closing quote (skipping escapes), arrays/objects to the bracket that closes
/// them (counting depth, ignoring brackets inside strings), scalars to the next delimiter.
/// `None` when the input ends first, so a torn scalar such as `12` at EOF (maybe `123`) is
/// never taken as complete, and `None` for an empty scalar (a delimiter where a value should
/// start): there is no value, as `json.load` would say. The piece still has to pass [`parse`].
/// Shared by every salvage, so a torn file reads the same everywhere.
pub(crate) fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    match *bytes.get(start)? {
        b'"' => string_end(bytes, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut pos = start;
            loop {
                // Step over everything but quotes and brackets in one go.
                pos += bytes.get(pos..)?.iter().position(|&b| IN_CONTAINER_STOPS[usize::from(b)])?;
                match bytes[pos] {
                    b'"' => {
                        pos = string_end(bytes, pos)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    _ => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(pos + 1);
                        }
                    }
                }
                pos += 1;
            }
        }
        _ => {
            let mut pos = start;
            while !matches!(bytes.get(pos)?, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                pos += 1;
            }
            (pos > start).then_some(pos)
        }
    }
}

/// The bytes [`value_end`] stops at inside an array or object: a string's opening quote and
/// the brackets that change the depth.
static IN_CONTAINER_STOPS: [bool; 256] = {
    let mut stops = [false; 256];
    stops[b'"' as usize] = true;
    stops[b'{' as usize] = true;
    stops[b'}' as usize] = true;
    stops[b'[' as usize] = true;
    stops[b']' as usize] = true;
    stops
};

/// Walks the members of the object whose `{` is at `pos`, as far as the input goes: for each
/// complete key it calls `value(key, start)`, `start` being where the member's value begins;
/// the callback answers where that value ends, or `None` when it is torn (the walk stops).
pub(crate) fn walk_members(bytes: &[u8], pos: usize, mut value: impl FnMut(String, usize) -> Option<usize>) {
    let mut i = pos + 1;
    loop {
        i = skip_ws(bytes, i);
        if bytes.get(i) != Some(&b'"') {
            return;
        }
        let Some(key_end) = string_end(bytes, i) else { return };
        let Ok(PyValue::Str(key)) = parse(&bytes[i..key_end]) else { return };
        i = skip_ws(bytes, key_end);
        if bytes.get(i) != Some(&b':') {
            return;
        }
        let Some(end) = value(key, skip_ws(bytes, i + 1)) else { return };
        i = skip_ws(bytes, end);
        if bytes.get(i) != Some(&b',') {
            return;
        }
        i += 1;
    }
}

/// The end (exclusive) of the string whose opening quote is at `start`.
pub(crate) fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut pos = start + 1;
    loop {
        // Only a quote or a backslash matters inside a string; memchr finds them many bytes
        // per step.
        pos += memchr::memchr2(b'"', b'\\', bytes.get(pos..)?)?;
        if bytes[pos] == b'"' {
            return Some(pos + 1);
        }
        pos += 2;
    }
}
