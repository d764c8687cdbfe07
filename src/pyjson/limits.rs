//! The limits of OpenAnt's reader, in one place: what Python 3.11's `json.load` refuses in a
//! document that is otherwise well-formed JSON.
//!
//! Every verb decides validity by this rule. [`super::parse`] (repair, regen, migrate) applies
//! it while it builds values; `check`'s streaming validator (`crate::validate`) cannot see depth
//! or digits through serde, so it runs [`LimitScanner`] over the same bytes. Both use the
//! constants and the wording below, and `tests/python_differential.rs` holds both to python3.
//!
//! Python's reader accepts, and so does scanaudit (`check` never calls these damage):
//! lone UTF-16 surrogate escapes (`"\ud800"`, kept in a `str`), numbers that overflow a float
//! (`1e400` is `inf`), and `NaN`, `Infinity`, `-Infinity`.

use std::fmt;

/// Deepest nesting of arrays and objects a document may have to be valid; the parser refuses
/// deeper documents and the writers refuse to write them.
///
/// Python has no nesting limit of its own: its C scanner counts each array or object against
/// the recursion limit (1000), together with every frame already on the stack. Measured with
/// Python 3.11.7: `json.loads` at the top level of a script fails from 996 levels, and every
/// frame of the caller costs one level (20 frames deep it fails from 973). OpenAnt calls
/// `json.load` from inside its CLI, step runner and loaders, and its readers fail from about
/// 990 levels; the exact count depends on the entry point (the Go CLI, `python -m`, a step
/// function called from another). 980 keeps a margin of about ten frames below every entry
/// point we know, so a document scanaudit calls valid is one every OpenAnt reader can read
/// (and `json.dumps(indent=2)`, which fails from the same depth, can write). Between 981 and
/// about 990 levels a file may still load in some entry point; no OpenAnt writer produces such
/// nesting (LLM answers are a few levels deep), so calling it corrupt costs nothing real.
pub const MAX_DEPTH: usize = 980;

/// Python refuses to convert an int with more decimal digits than this
/// (`sys.int_info.default_max_str_digits`, Python ≥ 3.11): `json.loads` raises `ValueError` and
/// `json.dumps` cannot write one either. The sign does not count; a number with a fraction or
/// an exponent is a float and has no such limit.
pub const MAX_INT_DIGITS: usize = 4300;

/// What Python's reader refuses in a well-formed document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// An array or object opened more than [`MAX_DEPTH`] levels deep.
    TooDeep,
    /// An int of more than [`MAX_INT_DIGITS`] digits.
    IntTooLong,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitKind::TooDeep => write!(
                f,
                "nested more than {MAX_DEPTH} levels deep: OpenAnt's json.load raises RecursionError \
                 (Python's recursion limit, about 990 levels from OpenAnt's readers)"
            ),
            LimitKind::IntTooLong => write!(
                f,
                "an integer with more than {MAX_INT_DIGITS} digits: OpenAnt's json.load raises ValueError \
                 (Python's int_max_str_digits)"
            ),
        }
    }
}

/// The first place a document breaks a limit: the byte offset of the `[`/`{` opened one level
/// too deep, or of the first byte of the too-long int.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitViolation {
    pub offset: u64,
    pub kind: LimitKind,
}

/// A lexical scan for [`LimitViolation`]s, fed the document in chunks of any size.
///
/// It follows strings and escapes so brackets and digits inside strings do not count. On a
/// document that is not well-formed JSON its answer only matters up to the first syntax error,
/// which the caller compares by offset. A run of digits followed by `.`, `e` or `E` is taken as
/// a float; in a well-formed document that is exactly Python's rule.
#[derive(Debug, Clone, Default)]
pub struct LimitScanner {
    offset: u64,
    depth: usize,
    state: ScanState,
    /// Digits of the int being read, and where it started.
    digits: usize,
    number_start: u64,
    first: Option<LimitViolation>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum ScanState {
    #[default]
    Outside,
    InString,
    Escape,
    /// In the integer part of a number (`digits` so far).
    IntDigits,
    /// In a word or a fraction/exponent: nothing to count until the token ends.
    OtherToken,
}

impl LimitScanner {
    pub fn new() -> LimitScanner {
        LimitScanner::default()
    }

    /// The first violation seen so far.
    pub fn violation(&self) -> Option<LimitViolation> {
        self.first
    }

    fn found(&mut self, offset: u64, kind: LimitKind) {
        if self.first.is_none() {
            self.first = Some(LimitViolation { offset, kind });
        }
    }

    /// Feeds the next bytes of the document.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.first.is_some() {
            self.offset += chunk.len() as u64;
            return;
        }
        let mut i = 0;
        while i < chunk.len() {
            let b = chunk[i];
            match self.state {
                ScanState::InString => {
                    // Skip the run of plain string bytes in one go.
                    match chunk[i..].iter().position(|&c| c == b'"' || c == b'\\') {
                        Some(n) => {
                            i += n;
                            self.state = if chunk[i] == b'"' { ScanState::Outside } else { ScanState::Escape };
                        }
                        None => i = chunk.len(),
                    }
                    i += 1;
                    continue;
                }
                ScanState::Escape => self.state = ScanState::InString,
                ScanState::IntDigits if b.is_ascii_digit() => self.digits += 1,
                ScanState::IntDigits if matches!(b, b'.' | b'e' | b'E') => self.state = ScanState::OtherToken,
                ScanState::IntDigits => {
                    self.end_int();
                    self.outside(b, i);
                }
                ScanState::OtherToken if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-') => {}
                ScanState::OtherToken | ScanState::Outside => self.outside(b, i),
            }
            i += 1;
        }
        self.offset += chunk.len() as u64;
    }

    /// Call at the end of the document (an int may run to the last byte).
    pub fn finish(&mut self) -> Option<LimitViolation> {
        if self.state == ScanState::IntDigits {
            self.end_int();
        }
        self.state = ScanState::Outside;
        self.first
    }

    fn end_int(&mut self) {
        if self.digits > MAX_INT_DIGITS {
            self.found(self.number_start, LimitKind::IntTooLong);
        }
        self.digits = 0;
    }

    fn outside(&mut self, b: u8, i: usize) {
        let at = self.offset + i as u64;
        self.state = match b {
            b'"' => ScanState::InString,
            b'[' | b'{' => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    self.found(at, LimitKind::TooDeep);
                }
                ScanState::Outside
            }
            b']' | b'}' => {
                self.depth = self.depth.saturating_sub(1);
                ScanState::Outside
            }
            b'0'..=b'9' => {
                self.number_start = at;
                self.digits = 1;
                ScanState::IntDigits
            }
            b'-' => {
                self.number_start = at;
                self.digits = 0;
                ScanState::IntDigits
            }
            _ if b.is_ascii_alphabetic() || b == b'.' || b == b'+' => ScanState::OtherToken,
            _ => ScanState::Outside,
        };
    }
}

/// The first limit violation in a whole document.
pub fn first_violation(bytes: &[u8]) -> Option<LimitViolation> {
    let mut scanner = LimitScanner::new();
    scanner.feed(bytes);
    scanner.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep(n: usize) -> Vec<u8> {
        format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes()
    }

    #[test]
    fn depth_up_to_the_limit_is_fine() {
        assert_eq!(first_violation(&deep(MAX_DEPTH)), None);
        assert_eq!(
            first_violation(&deep(MAX_DEPTH + 1)),
            Some(LimitViolation { offset: MAX_DEPTH as u64, kind: LimitKind::TooDeep })
        );
        let objects = format!("{}1{}", "{\"a\": ".repeat(MAX_DEPTH + 1), "}".repeat(MAX_DEPTH + 1));
        assert_eq!(first_violation(objects.as_bytes()).map(|v| v.kind), Some(LimitKind::TooDeep));
    }

    #[test]
    fn brackets_and_digits_in_strings_do_not_count() {
        let s = format!("[\"{}\\\"{}\"]", "[".repeat(2000), "9".repeat(5000));
        assert_eq!(first_violation(s.as_bytes()), None);
    }

    #[test]
    fn long_ints_but_not_floats() {
        let ok = format!("[-{}]", "9".repeat(MAX_INT_DIGITS));
        assert_eq!(first_violation(ok.as_bytes()), None);
        let bad = format!("[1, -{}]", "9".repeat(MAX_INT_DIGITS + 1));
        assert_eq!(first_violation(bad.as_bytes()), Some(LimitViolation { offset: 4, kind: LimitKind::IntTooLong }));
        assert_eq!(first_violation("9".repeat(MAX_INT_DIGITS + 1).as_bytes()).map(|v| v.offset), Some(0));
        for float in [format!("{}.5", "9".repeat(5000)), format!("{}e5", "9".repeat(5000))] {
            assert_eq!(first_violation(float.as_bytes()), None);
        }
    }

    #[test]
    fn chunks_of_any_size_agree() {
        let doc = format!("{{\"a\\\"[\": [{}, \"x\"], \"b\": {}}}", "1".repeat(4301), deep(990).len());
        let whole = first_violation(doc.as_bytes());
        assert!(whole.is_some());
        for size in [1, 2, 3, 7, 64] {
            let mut scanner = LimitScanner::new();
            for chunk in doc.as_bytes().chunks(size) {
                scanner.feed(chunk);
            }
            assert_eq!(scanner.finish(), whole, "chunks of {size}");
        }
    }
}
