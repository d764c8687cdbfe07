//! The reader: what Python's `json.load` accepts from a UTF-8 text file, iteratively.
//!
//! Grammar and decisions follow CPython 3.11's C scanner (`Modules/_json.c`):
//! whitespace is only space, tab, LF and CR; `NaN`, `Infinity` and `-Infinity` are values;
//! strings reject raw control characters U+0000–U+001F (strict mode) and accept the escapes
//! `\" \\ \/ \b \f \n \r \t \uXXXX` (hex in either case); a `\u` high surrogate followed by a
//! `\u` low surrogate is one character; numbers are `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`,
//! ints when there is neither fraction nor exponent (`-0` is the int `0`), floats otherwise
//! (overflowing to ±Infinity like `float()`); an int of more than [`MAX_INT_DIGITS`] digits is an
//! error (Python raises `ValueError`); anything but whitespace after the value is an error.
//!
//! Nesting deeper than [`MAX_DEPTH`] is an error, as OpenAnt's reader raises `RecursionError`
//! there (the rule and its reasons are in [`super::limits`]).
//!
//! Deliberate differences, both rejections of input Python would take:
//! * invalid UTF-8 — Python's `open(path)` decoding fails too, so only `json.loads(bytes)`
//!   differs; a UTF-8 BOM is rejected as Python's text-mode `json.load` does;
//! * a lone surrogate escape such as `"\ud800"`: Python keeps it in a `str`, which a Rust
//!   `String` cannot hold (this holds even where Python would later drop the string, as an
//!   overwritten duplicate key's value). The error says the file is valid for OpenAnt, so a
//!   caller refuses to rebuild from it instead of treating it as damage.

use std::borrow::Cow;
use std::fmt;

use super::bytescan::find_special;
use super::limits::LimitKind;
use super::limits::{MAX_DEPTH, MAX_INT_DIGITS};
use super::value::{PyInt, PyObject, PyValue};

/// A rejected input: what is wrong and the byte offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct ParseError {
    /// Byte offset into the input; equal to the input length when the input ended early.
    pub offset: usize,
    pub kind: ParseErrorKind,
}

/// The kinds of [`ParseError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The bytes are not UTF-8 (the offset is where the first bad sequence starts).
    InvalidUtf8,
    /// The input ended inside a value: the document is truncated.
    UnexpectedEnd,
    /// A byte that cannot appear here; `expected` says what could have.
    Unexpected { expected: &'static str },
    /// A raw control character (U+0000–U+001F) inside a string.
    ControlCharacterInString,
    /// A backslash escape that is not one of JSON's.
    InvalidEscape,
    /// A `\u` escape naming a lone UTF-16 surrogate. Python accepts it (the file is valid for
    /// OpenAnt); scanaudit cannot hold it, so it cannot carry the value into a rebuilt file.
    LoneSurrogate,
    /// More than whitespace after the value (Python's "Extra data").
    TrailingData,
    /// Arrays/objects nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// An int with more than [`MAX_INT_DIGITS`] digits (Python raises `ValueError`).
    IntTooLong,
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseErrorKind::InvalidUtf8 => f.write_str("invalid UTF-8"),
            ParseErrorKind::UnexpectedEnd => f.write_str("unexpected end of input"),
            ParseErrorKind::Unexpected { expected } => write!(f, "expected {expected}"),
            ParseErrorKind::ControlCharacterInString => f.write_str("raw control character in a string"),
            ParseErrorKind::InvalidEscape => f.write_str("invalid escape in a string"),
            ParseErrorKind::LoneSurrogate => f.write_str(
                "a lone UTF-16 surrogate escape (OpenAnt reads it; scanaudit cannot carry it into a rebuilt file)",
            ),
            ParseErrorKind::TrailingData => f.write_str("extra data after the JSON value"),
            ParseErrorKind::TooDeep => LimitKind::TooDeep.fmt(f),
            ParseErrorKind::IntTooLong => LimitKind::IntTooLong.fmt(f),
        }
    }
}

/// Parses one JSON document the way Python's `json.load` reads it from a UTF-8 text file.
///
/// Never panics and never recurses, whatever the input; nesting is limited to [`MAX_DEPTH`].
pub fn parse(bytes: &[u8]) -> Result<PyValue, ParseError> {
    Parser::new(bytes)?.document()
}

/// An array or object being filled: where its items start on the shared item stacks, and for
/// an object the key its next value belongs to.
enum Frame {
    Array(usize),
    Object(usize, String),
}

/// The items of every open container, innermost last. A container's items are collected here
/// and moved into a vector (map) of exactly their number when it closes: no container grows by
/// doubling (a 20,000-element array would otherwise hold room for 32,768) and the stacks' room
/// is reused from one container to the next.
#[derive(Default)]
pub(super) struct Items {
    pub(super) elements: Vec<PyValue>,
    pub(super) members: Vec<(String, PyValue)>,
}

impl Items {
    pub(super) fn close_array(&mut self, start: usize) -> PyValue {
        // Not `split_off`: at `start == 0` it hands over the stack's whole buffer, room and
        // all, so the largest arrays (a dataset's units) kept the doubling slack.
        PyValue::Array(self.elements.drain(start..).collect())
    }

    pub(super) fn close_object(&mut self, start: usize) -> PyValue {
        let mut map = PyObject::with_capacity_and_hasher(self.members.len() - start, Default::default());
        for (key, value) in self.members.drain(start..) {
            // Python dict semantics: a repeated key keeps its first position and takes the
            // last value (IndexMap::insert does exactly that).
            map.insert(key, value);
        }
        PyValue::from(map)
    }
}

/// The reader's position in a document, and the steps both [`parse`] and the projected reader
/// (`super::project`) take through it, so that both accept and reject exactly the same input.
pub(super) struct Parser<'a> {
    text: &'a str,
    pub(super) pos: usize,
}

impl<'a> Parser<'a> {
    /// A reader at the start of `bytes`, which must be UTF-8.
    pub(super) fn new(bytes: &'a [u8]) -> Result<Parser<'a>, ParseError> {
        // simdutf8 validates several times faster than std; std (same verdicts, both are strict
        // UTF-8) only runs to name the offset of a rejected file.
        let text = match simdutf8::basic::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => std::str::from_utf8(bytes)
                .map_err(|e| ParseError { offset: e.valid_up_to(), kind: ParseErrorKind::InvalidUtf8 })?,
        };
        Ok(Parser { text, pos: 0 })
    }

    pub(super) fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    pub(super) fn err(&self, kind: ParseErrorKind) -> ParseError {
        ParseError { offset: self.pos, kind }
    }

    /// `Unexpected { expected }` at the current byte, or `UnexpectedEnd` at the end.
    pub(super) fn unexpected(&self, expected: &'static str) -> ParseError {
        if self.pos >= self.bytes().len() {
            self.err(ParseErrorKind::UnexpectedEnd)
        } else {
            self.err(ParseErrorKind::Unexpected { expected })
        }
    }

    pub(super) fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn document(mut self) -> Result<PyValue, ParseError> {
        let mut stack: Vec<Frame> = Vec::new();
        let mut items = Items::default();
        self.skip_ws();
        'value: loop {
            // Read one value, or open a container and come back for its first item.
            let mut value = match self.peek() {
                Some(open @ (b'[' | b'{')) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(self.err(ParseErrorKind::TooDeep));
                    }
                    self.pos += 1;
                    self.skip_ws();
                    if open == b'[' {
                        if self.peek() == Some(b']') {
                            self.pos += 1;
                            PyValue::Array(Vec::new())
                        } else {
                            stack.push(Frame::Array(items.elements.len()));
                            continue 'value;
                        }
                    } else if self.peek() == Some(b'}') {
                        self.pos += 1;
                        PyValue::from(PyObject::default())
                    } else {
                        let key = self.key()?;
                        stack.push(Frame::Object(items.members.len(), key));
                        continue 'value;
                    }
                }
                _ => self.scalar()?,
            };
            // Hand the finished value to its container; close containers as they end.
            loop {
                let Some(frame) = stack.pop() else {
                    self.skip_ws();
                    if self.pos != self.bytes().len() {
                        return Err(self.err(ParseErrorKind::TrailingData));
                    }
                    return Ok(value);
                };
                self.skip_ws();
                value = match frame {
                    Frame::Array(start) => {
                        items.elements.push(value);
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                stack.push(Frame::Array(start));
                                continue 'value;
                            }
                            Some(b']') => self.pos += 1,
                            _ => return Err(self.unexpected("',' or ']'")),
                        }
                        items.close_array(start)
                    }
                    Frame::Object(start, key) => {
                        items.members.push((key, value));
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                let key = self.key()?;
                                stack.push(Frame::Object(start, key));
                                continue 'value;
                            }
                            Some(b'}') => self.pos += 1,
                            _ => return Err(self.unexpected("',' or '}'")),
                        }
                        items.close_object(start)
                    }
                };
            }
        }
    }

    /// `"key"` then `:`, leaving the position at the value.
    fn key(&mut self) -> Result<String, ParseError> {
        self.key_with(Self::string)
    }

    /// [`Parser::key`], the key borrowed from the text when it has no escape.
    pub(super) fn key_cow(&mut self) -> Result<Cow<'a, str>, ParseError> {
        self.key_with(Self::string_cow)
    }

    /// [`Parser::key`] only checked.
    pub(super) fn skip_key(&mut self) -> Result<(), ParseError> {
        self.key_with(Self::skip_string)
    }

    /// `"key"` read by `read`, then `:`, leaving the position at the value.
    fn key_with<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T, ParseError>) -> Result<T, ParseError> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("property name in double quotes"));
        }
        let key = read(self)?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.unexpected("':'"));
        }
        self.pos += 1;
        self.skip_ws();
        Ok(key)
    }

    /// [`Parser::scalar`] only checked: strings and numbers are not built (nothing allocated).
    pub(super) fn skip_scalar(&mut self) -> Result<(), ParseError> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'-') if self.bytes().get(self.pos + 1) != Some(&b'I') => self.number_syntax().map(drop),
            Some(b'0'..=b'9') => self.number_syntax().map(drop),
            _ => self.scalar().map(drop),
        }
    }

    pub(super) fn scalar(&mut self) -> Result<PyValue, ParseError> {
        match self.peek() {
            Some(b'"') => self.string().map(PyValue::Str),
            Some(b'n') => self.literal("null", PyValue::Null),
            Some(b't') => self.literal("true", PyValue::Bool(true)),
            Some(b'f') => self.literal("false", PyValue::Bool(false)),
            Some(b'N') => self.literal("NaN", PyValue::Float(f64::NAN)),
            Some(b'I') => self.literal("Infinity", PyValue::Float(f64::INFINITY)),
            Some(b'-') if self.bytes().get(self.pos + 1) == Some(&b'I') => {
                self.literal("-Infinity", PyValue::Float(f64::NEG_INFINITY))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.unexpected("a value")),
        }
    }

    fn literal(&mut self, word: &'static str, value: PyValue) -> Result<PyValue, ParseError> {
        let rest = &self.bytes()[self.pos..];
        if rest.starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else if word.as_bytes().starts_with(rest) {
            // A proper prefix of the literal, then the end: truncated, not corrupt.
            Err(ParseError { offset: self.bytes().len(), kind: ParseErrorKind::UnexpectedEnd })
        } else {
            Err(self.err(ParseErrorKind::Unexpected { expected: "a value" }))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<PyValue, ParseError> {
        let (start, is_float) = self.number_syntax()?;
        let text = &self.text[start..self.pos];
        if is_float {
            // Rust's parser is correctly rounded like Python's float(); overflow gives ±inf.
            let x: f64 = text
                .parse()
                .map_err(|_| ParseError { offset: start, kind: ParseErrorKind::Unexpected { expected: "a number" } })?;
            Ok(PyValue::Float(x))
        } else {
            PyInt::parse(text)
                .map(PyValue::Int)
                .ok_or(ParseError { offset: start, kind: ParseErrorKind::Unexpected { expected: "a number" } })
        }
    }

    /// Steps over a number, checking its syntax and the int digit limit: where it starts and
    /// whether it is a float. (The conversions [`Parser::number`] then makes cannot fail on
    /// text this accepts.)
    fn number_syntax(&mut self) -> Result<(usize, bool), ParseError> {
        let start = self.pos;
        let b = self.bytes();
        if b[self.pos] == b'-' {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => {
                // A lone '-' (Python: "Expecting value" at the '-').
                if self.pos >= b.len() {
                    return Err(self.err(ParseErrorKind::UnexpectedEnd));
                }
                return Err(ParseError { offset: start, kind: ParseErrorKind::Unexpected { expected: "a value" } });
            }
        }
        let int_digits = self.pos - int_start;
        let mut is_float = false;
        // A fraction needs a digit after the '.', an exponent a digit after [eE][-+]?;
        // otherwise the number ends before them (as in Python's regex).
        // A '.', 'e' or 'e-' at the very end means the file was cut mid-number.
        let cut = |at: usize| ParseError { offset: at, kind: ParseErrorKind::UnexpectedEnd };
        if self.peek() == Some(b'.') {
            match b.get(self.pos + 1) {
                None => return Err(cut(b.len())),
                Some(b'0'..=b'9') => {
                    self.pos += 1;
                    self.digits();
                    is_float = true;
                }
                Some(_) => {}
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            let sign = usize::from(matches!(b.get(self.pos + 1), Some(b'+' | b'-')));
            if self.pos + 1 + sign >= b.len() {
                return Err(cut(b.len()));
            }
            if matches!(b.get(self.pos + 1 + sign), Some(b'0'..=b'9')) {
                self.pos += 1 + sign;
                self.digits();
                is_float = true;
            }
        }
        if !is_float && int_digits > MAX_INT_DIGITS {
            return Err(ParseError { offset: start, kind: ParseErrorKind::IntTooLong });
        }
        Ok((start, is_float))
    }

    /// A string starting at the opening quote; leaves the position after the closing quote.
    fn string(&mut self) -> Result<String, ParseError> {
        // Most strings (every key, nearly every value) have no escape: one exact allocation.
        self.string_cow().map(Cow::into_owned)
    }

    /// [`Parser::string`], borrowed from the text when it has no escape.
    fn string_cow(&mut self) -> Result<Cow<'a, str>, ParseError> {
        self.pos += 1;
        let start = self.pos;
        self.pos = find_special::<false>(self.bytes(), start);
        // The run stops only at ASCII bytes, so it ends on a char boundary.
        if self.peek() == Some(b'"') {
            self.pos += 1;
            return Ok(Cow::Borrowed(&self.text[start..self.pos - 1]));
        }
        // Sized to the whole raw body, not grown: a code snippet has an escape every line, and
        // doubling from its first run left up to half of each buffer unused in a parsed tree.
        // Every escape is longer than what it decodes to, so decoding never outgrows it.
        let mut out = String::with_capacity(escaped_body_end(self.bytes(), self.pos) - start);
        self.escaped_body(start, Some(&mut out))?;
        Ok(Cow::Owned(out))
    }

    /// [`Parser::string`] only checked (nothing allocated), with the same errors.
    pub(super) fn skip_string(&mut self) -> Result<(), ParseError> {
        self.pos += 1;
        let start = self.pos;
        self.pos = find_special::<false>(self.bytes(), start);
        self.escaped_body(start, None)
    }

    /// The rest of a string body from the special byte at the position (the body began at
    /// `run_start`): decoded into `out` when given, else only checked. Leaves the position
    /// after the closing quote.
    fn escaped_body(&mut self, mut run_start: usize, mut out: Option<&mut String>) -> Result<(), ParseError> {
        loop {
            if let Some(out) = out.as_deref_mut() {
                out.push_str(&self.text[run_start..self.pos]);
            }
            match self.peek() {
                None => return Err(self.err(ParseErrorKind::UnexpectedEnd)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    let c = self.escape()?;
                    if let Some(out) = out.as_deref_mut() {
                        out.push(c);
                    }
                }
                Some(_) => return Err(self.err(ParseErrorKind::ControlCharacterInString)),
            }
            run_start = self.pos;
            self.pos = find_special::<false>(self.bytes(), run_start);
        }
    }

    /// One escape starting at the backslash.
    fn escape(&mut self) -> Result<char, ParseError> {
        let at = self.pos;
        let c = match self.bytes().get(at + 1) {
            None => {
                self.pos = self.bytes().len();
                return Err(self.err(ParseErrorKind::UnexpectedEnd));
            }
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unicode_escape(),
            Some(_) => return Err(self.err(ParseErrorKind::InvalidEscape)),
        };
        self.pos += 2;
        Ok(c)
    }

    /// Four hex digits after `\u` at `at`, if they are there.
    fn hex4(&self, at: usize) -> Result<u32, ParseErrorKind> {
        let b = self.bytes();
        if b.get(at) != Some(&b'\\') || b.get(at + 1) != Some(&b'u') {
            return Err(ParseErrorKind::InvalidEscape);
        }
        let mut n = 0;
        for i in 0..4 {
            let d = match b.get(at + 2 + i) {
                None => return Err(ParseErrorKind::UnexpectedEnd),
                Some(&d) => (d as char).to_digit(16).ok_or(ParseErrorKind::InvalidEscape)?,
            };
            n = n * 16 + d;
        }
        Ok(n)
    }

    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let at = self.pos;
        let fail = |kind| ParseError { offset: at, kind };
        let first = self.hex4(at).map_err(|kind| match kind {
            ParseErrorKind::UnexpectedEnd => ParseError { offset: self.bytes().len(), kind },
            kind => fail(kind),
        })?;
        self.pos += 6;
        match first {
            0xD800..=0xDBFF => match self.hex4(self.pos) {
                Ok(second @ 0xDC00..=0xDFFF) => {
                    self.pos += 6;
                    let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                    char::from_u32(c).ok_or(fail(ParseErrorKind::LoneSurrogate))
                }
                _ => Err(fail(ParseErrorKind::LoneSurrogate)),
            },
            0xDC00..=0xDFFF => Err(fail(ParseErrorKind::LoneSurrogate)),
            c => char::from_u32(c).ok_or(fail(ParseErrorKind::InvalidEscape)),
        }
    }
}

/// Where the body of a string with escapes ends, scanning on from `at` (inside the body): the
/// first `"` that no backslash takes, or where the body turns out to be malformed (a raw control
/// character, the end of the input). It only sizes the decoded string's buffer; the decoder
/// itself finds and reports every error.
fn escaped_body_end(bytes: &[u8], mut at: usize) -> usize {
    loop {
        at = find_special::<false>(bytes, at);
        match bytes.get(at) {
            Some(b'\\') => at += 2,
            _ => return at.min(bytes.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(input: &[u8]) -> ParseErrorKind {
        parse(input).unwrap_err().kind
    }

    fn err(input: &[u8]) -> (usize, ParseErrorKind) {
        let e = parse(input).unwrap_err();
        (e.offset, e.kind)
    }

    #[test]
    fn scalars() {
        assert_eq!(parse(b"null").unwrap(), PyValue::Null);
        assert_eq!(parse(b" true ").unwrap(), PyValue::Bool(true));
        assert_eq!(parse(b"\t\r\nfalse\n").unwrap(), PyValue::Bool(false));
        assert_eq!(parse(b"\"a\"").unwrap(), PyValue::from("a"));
        assert_eq!(parse(b"0").unwrap(), PyValue::from(0));
        assert_eq!(parse(b"-7").unwrap(), PyValue::from(-7));
        assert_eq!(parse(b"0.0").unwrap(), PyValue::Float(0.0));
        assert_eq!(parse(b"1E2").unwrap(), PyValue::Float(100.0));
        assert_eq!(parse(b"1e-2").unwrap(), PyValue::Float(0.01));
        assert_eq!(parse(b"2.5e+3").unwrap(), PyValue::Float(2500.0));
    }

    #[test]
    fn int_and_float_kinds_are_kept() {
        assert!(matches!(parse(b"3").unwrap(), PyValue::Int(_)));
        assert!(matches!(parse(b"3.0").unwrap(), PyValue::Float(_)));
        assert!(matches!(parse(b"3e0").unwrap(), PyValue::Float(_)));
    }

    #[test]
    fn an_escaped_string_is_decoded_into_a_buffer_no_larger_than_its_raw_body() {
        let line = "    x = 1\\n";
        let raw = format!("[\"def f():\\n{}\\u00e9\\ud83d\\ude00\\\"\", 1]", line.repeat(200));
        let value = parse(raw.as_bytes()).unwrap();
        let PyValue::Str(s) = &value.as_array().unwrap()[0] else { panic!("not a string") };
        assert_eq!(s, &format!("def f():\n{}\u{e9}\u{1f600}\"", "    x = 1\n".repeat(200)));
        let body = raw.rfind("\", 1]").unwrap() - 2;
        assert!(s.capacity() <= body, "capacity {} for a {body}-byte body", s.capacity());
    }

    #[test]
    fn minus_zero_int_is_zero_but_minus_zero_float_keeps_its_sign() {
        assert_eq!(parse(b"-0").unwrap().as_int().unwrap().as_str(), "0");
        let PyValue::Float(z) = parse(b"-0.0").unwrap() else { panic!("not a float") };
        assert!(z == 0.0 && z.is_sign_negative());
    }

    #[test]
    fn big_ints_are_kept_exactly() {
        let text = "-123456789012345678901234567890123456789012345678901234567890";
        assert_eq!(parse(text.as_bytes()).unwrap().as_int().unwrap().as_str(), text);
        let max = "9".repeat(MAX_INT_DIGITS);
        assert!(parse(max.as_bytes()).is_ok());
        assert!(parse(format!("-{max}").as_bytes()).is_ok());
        let too_long = "9".repeat(MAX_INT_DIGITS + 1);
        assert_eq!(err(too_long.as_bytes()), (0, ParseErrorKind::IntTooLong));
        assert_eq!(err(format!("[-{too_long}]").as_bytes()), (1, ParseErrorKind::IntTooLong));
        // Long digit strings with a fraction are floats, as in Python: no limit.
        assert!(matches!(parse(format!("{too_long}.0").as_bytes()).unwrap(), PyValue::Float(_)));
    }

    #[test]
    fn non_finite_literals() {
        assert!(matches!(parse(b"NaN").unwrap(), PyValue::Float(x) if x.is_nan()));
        assert_eq!(parse(b"Infinity").unwrap(), PyValue::Float(f64::INFINITY));
        assert_eq!(parse(b"[-Infinity]").unwrap(), PyValue::Array(vec![PyValue::Float(f64::NEG_INFINITY)]));
        assert_eq!(parse(b"1e400").unwrap(), PyValue::Float(f64::INFINITY));
        assert_eq!(parse(b"-1e400").unwrap(), PyValue::Float(f64::NEG_INFINITY));
        for bad in [&b"nan"[..], b"-NaN", b"+1", b"inf", b"infinity", b"+Infinity"] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn key_order_is_kept() {
        let v = parse(br#"{"zeta": 1, "alpha": 2, "mid": {"b": 1, "a": 2}}"#).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["zeta", "alpha", "mid"]);
        let inner: Vec<&str> = v.get("mid").unwrap().as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(inner, ["b", "a"]);
    }

    #[test]
    fn duplicate_keys_first_position_last_value() {
        let v = parse(br#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        let pairs: Vec<(&str, i64)> =
            v.as_object().unwrap().iter().map(|(k, v)| (k.as_str(), v.as_i64().unwrap())).collect();
        assert_eq!(pairs, [("a", 3), ("b", 2)]);
    }

    #[test]
    fn escapes() {
        let v = parse(br#""\"\\\/\b\f\n\r\t\u00e9\u00C9\u20ac\ud83d\ude00\uD83D\uDE00""#).unwrap();
        assert_eq!(v.as_str().unwrap(), "\"\\/\u{8}\u{c}\n\r\t\u{e9}\u{c9}\u{20ac}😀😀");
        assert_eq!(parse(br#""\u0000""#).unwrap().as_str(), Some("\0"));
        // Raw DEL and raw non-ASCII are fine; raw controls are not.
        assert_eq!(parse("\"\u{7f}é\u{2028}\"".as_bytes()).unwrap().as_str(), Some("\u{7f}é\u{2028}"));
        assert_eq!(err(b"\"a\nb\""), (2, ParseErrorKind::ControlCharacterInString));
        assert_eq!(err(b"\"a\tb\""), (2, ParseErrorKind::ControlCharacterInString));
        assert_eq!(err(br#""\x""#), (1, ParseErrorKind::InvalidEscape));
        assert_eq!(err(br#""\u12g4""#), (1, ParseErrorKind::InvalidEscape));
        assert_eq!(err(br#""\U1234""#), (1, ParseErrorKind::InvalidEscape));
        assert_eq!(kind(br#""\u12"#), ParseErrorKind::UnexpectedEnd);
    }

    #[test]
    fn lone_surrogates_are_rejected_with_their_offset() {
        assert_eq!(err(br#"["\ud800"]"#), (2, ParseErrorKind::LoneSurrogate));
        assert_eq!(err(br#"["ab\udc00"]"#), (4, ParseErrorKind::LoneSurrogate));
        assert_eq!(err(br#""\ud800\u0041""#), (1, ParseErrorKind::LoneSurrogate));
        assert_eq!(err(br#""\ud800\ud800""#), (1, ParseErrorKind::LoneSurrogate));
        assert_eq!(err(br#""\ud800x""#), (1, ParseErrorKind::LoneSurrogate));
        let msg = parse(br#""\ud800""#).unwrap_err().to_string();
        assert!(msg.contains("surrogate") && msg.contains("byte 1"), "{msg}");
    }

    #[test]
    fn invalid_utf8_is_rejected_with_its_offset() {
        assert_eq!(err(b"[\"ab\xff\"]"), (4, ParseErrorKind::InvalidUtf8));
        // CESU-style encoded surrogate: Python's strict UTF-8 decoder rejects it too.
        assert_eq!(err(b"\"\xed\xa0\x80\""), (1, ParseErrorKind::InvalidUtf8));
        // Overlong encoding.
        assert_eq!(err(b"\"\xc0\xaf\""), (1, ParseErrorKind::InvalidUtf8));
        let msg = parse(b"\xff").unwrap_err().to_string();
        assert_eq!(msg, "invalid UTF-8 at byte 0");
    }

    #[test]
    fn bom_is_rejected_like_text_mode_json_load() {
        assert_eq!(err(b"\xef\xbb\xbf{}"), (0, ParseErrorKind::Unexpected { expected: "a value" }));
    }

    #[test]
    fn syntax_errors_name_the_byte() {
        assert_eq!(err(b""), (0, ParseErrorKind::UnexpectedEnd));
        assert_eq!(err(b"   "), (3, ParseErrorKind::UnexpectedEnd));
        assert_eq!(err(b"[1,]"), (3, ParseErrorKind::Unexpected { expected: "a value" }));
        assert_eq!(err(br#"{"a":1,}"#), (7, ParseErrorKind::Unexpected { expected: "property name in double quotes" }));
        assert_eq!(err(b"{1:2}"), (1, ParseErrorKind::Unexpected { expected: "property name in double quotes" }));
        assert_eq!(err(br#"{"a" 1}"#), (5, ParseErrorKind::Unexpected { expected: "':'" }));
        assert_eq!(err(b"[1 2]"), (3, ParseErrorKind::Unexpected { expected: "',' or ']'" }));
        assert_eq!(err(b"{} {}"), (3, ParseErrorKind::TrailingData));
        assert_eq!(err(b"01"), (1, ParseErrorKind::TrailingData));
        assert_eq!(err(b"1.x"), (1, ParseErrorKind::TrailingData));
        assert_eq!(err(b"1ex"), (1, ParseErrorKind::TrailingData));
        assert_eq!(err(b"1."), (2, ParseErrorKind::UnexpectedEnd));
        assert_eq!(err(b"1e"), (2, ParseErrorKind::UnexpectedEnd));
        assert_eq!(err(b"1e-"), (3, ParseErrorKind::UnexpectedEnd));
        assert_eq!(err(b"-"), (1, ParseErrorKind::UnexpectedEnd));
        assert_eq!(err(b"-x"), (0, ParseErrorKind::Unexpected { expected: "a value" }));
        assert_eq!(err(b".5"), (0, ParseErrorKind::Unexpected { expected: "a value" }));
        assert_eq!(err(b"[\x0c]"), (1, ParseErrorKind::Unexpected { expected: "a value" }));
        assert_eq!(err(b"{}\x00"), (2, ParseErrorKind::TrailingData));
        assert_eq!(err(b"nul"), (3, ParseErrorKind::UnexpectedEnd));
        assert_eq!(err(b"nulx"), (0, ParseErrorKind::Unexpected { expected: "a value" }));
    }

    #[test]
    fn truncated_documents_say_unexpected_end() {
        let doc = br#"{"a": [1, 2.5, "x\u00e9", {"b": null}], "c": true}"#;
        for cut in 0..doc.len() {
            let e = parse(&doc[..cut]).unwrap_err();
            assert_eq!(e.offset, cut, "cut at {cut}");
            assert_eq!(e.kind, ParseErrorKind::UnexpectedEnd, "cut at {cut}");
        }
        assert!(parse(doc).is_ok());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = vec![b'['; 1_000_000];
        assert_eq!(err(&deep), (MAX_DEPTH, ParseErrorKind::TooDeep));
        let mut objs = Vec::new();
        for _ in 0..1_000_000 {
            objs.extend_from_slice(br#"{"a":"#);
        }
        assert_eq!(kind(&objs), ParseErrorKind::TooDeep);
    }

    #[test]
    fn nesting_up_to_the_limit_is_accepted() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let v = parse(ok.as_bytes()).unwrap();
        assert!(v.as_array().is_some());
        let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(err(too_deep.as_bytes()), (MAX_DEPTH, ParseErrorKind::TooDeep));
    }

    #[test]
    fn empty_containers() {
        assert_eq!(parse(b"[ ]").unwrap(), PyValue::Array(vec![]));
        assert_eq!(parse(b"{\n}").unwrap(), PyValue::object());
        assert_eq!(parse(b"[[],{}]").unwrap(), PyValue::Array(vec![PyValue::Array(vec![]), PyValue::object()]));
    }

    impl Parser<'_> {
        /// The byte-at-a-time string reader `string` replaced, kept as its oracle.
        fn string_bytewise(&mut self) -> Result<String, ParseError> {
            self.pos += 1;
            let mut out = String::new();
            loop {
                let run_start = self.pos;
                while let Some(c) = self.peek() {
                    if c == b'"' || c == b'\\' || c < 0x20 {
                        break;
                    }
                    self.pos += 1;
                }
                out.push_str(&self.text[run_start..self.pos]);
                match self.peek() {
                    None => return Err(self.err(ParseErrorKind::UnexpectedEnd)),
                    Some(b'"') => {
                        self.pos += 1;
                        return Ok(out);
                    }
                    Some(b'\\') => out.push(self.escape()?),
                    Some(_) => return Err(self.err(ParseErrorKind::ControlCharacterInString)),
                }
            }
        }
    }

    /// String bodies: long plain runs (several words), escapes of every kind (lone surrogates,
    /// bad hex and cut-off ones included), raw controls, DEL, non-ASCII, and the end of input.
    fn string_body() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            6 => "[ -~&&[^\"\\\\]]{0,24}".prop_map(String::from),
            2 => proptest::sample::select(vec![
                "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u00e9", "\\u00C9", "\\u0000",
                "\\u001f", "\\ud83d\\ude00", "\\ud800", "\\udc00", "\\ud800\\u0041", "\\ud800x", "\\u12g4", "\\x",
                "\\u12", "\\", "\"", "\u{7f}", "\u{80}", "é", "\u{2028}", "😀", "\n", "\t", "\u{0}", "\u{1f}",
            ])
            .prop_map(str::to_owned),
            1 => "[\u{80}-\u{10ffff}]{1,6}".prop_map(String::from),
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
    }

    proptest::proptest! {
        #[test]
        fn string_matches_the_bytewise_reader(body in string_body(), close in proptest::prelude::any::<bool>()) {
            let text = format!("\"{body}{}", if close { "\"" } else { "" });
            let mut fast = Parser { text: &text, pos: 0 };
            let mut slow = Parser { text: &text, pos: 0 };
            proptest::prop_assert_eq!(fast.string(), slow.string_bytewise());
            proptest::prop_assert_eq!(fast.pos, slow.pos);
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn json_alphabet_never_panics(s in "[\\[\\]{}\",:0-9eE.+\\-\\\\u tfnNIa-d\u{e9}\u{1F600}]{0,64}") {
            if let Err(e) = parse(s.as_bytes()) {
                proptest::prop_assert!(e.offset <= s.len());
            }
        }
    }
}
