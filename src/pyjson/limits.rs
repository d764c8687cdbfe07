//! The limits of OpenAnt's reader, in one place: what Python 3.11's `json.load` refuses in a
//! document that is otherwise well-formed JSON.
//!
//! Every verb decides validity by this rule. [`super::parse`] (repair, regen, migrate) applies
//! it while it builds values; `check`'s streaming validator (`crate::validate`) cannot see depth
//! or digits through serde, so it runs [`LimitScanner`] over the same bytes. Both use the
//! constants and the wording below, and `tests/it/python_differential.rs` holds both to python3.
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
        if self.first.is_none() {
            self.scan(chunk);
        }
        self.offset += chunk.len() as u64;
    }

    fn scan(&mut self, chunk: &[u8]) {
        let mut i = 0;
        while i < chunk.len() {
            match self.state {
                ScanState::InString => {
                    // Most of a document is string content: skip to its end with memchr.
                    match memchr::memchr2(b'"', b'\\', &chunk[i..]) {
                        Some(n) => {
                            i += n;
                            self.state = if chunk[i] == b'"' { ScanState::Outside } else { ScanState::Escape };
                            i += 1;
                        }
                        None => return,
                    }
                }
                ScanState::Escape => {
                    self.state = ScanState::InString;
                    i += 1;
                }
                ScanState::Outside => {
                    // Indentation comes in runs.
                    while i < chunk.len() && matches!(chunk[i], b' ' | b'\n' | b'\r' | b'\t') {
                        i += 1;
                    }
                    if i < chunk.len() {
                        self.outside(chunk[i], i);
                        i += 1;
                    }
                }
                ScanState::IntDigits => {
                    let run = chunk[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                    self.digits += run;
                    i += run;
                    match chunk.get(i) {
                        None => return,
                        Some(b'.' | b'e' | b'E') => self.state = ScanState::OtherToken,
                        Some(&b) => {
                            self.end_int();
                            self.outside(b, i);
                        }
                    }
                    i += 1;
                }
                ScanState::OtherToken => {
                    let b = chunk[i];
                    if !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-')) {
                        self.outside(b, i);
                    }
                    i += 1;
                }
            }
            if self.first.is_some() {
                return;
            }
        }
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
///
/// Cheap, exact pre-filters first (SIMD search, no state): a document can be nested more than
/// [`MAX_DEPTH`] levels only if it holds more `[`/`{` bytes than that, and hold a too-long int
/// only if it has a run of more than [`MAX_INT_DIGITS`] digits somewhere, which must cover one
/// of every `MAX_INT_DIGITS + 1`-th bytes. Most files (checkpoints, reports) pass both; a large
/// one without long digit runs only needs its nesting followed, which skips strings with
/// memchr (the full scan costs about as much as the parse).
pub fn first_violation(bytes: &[u8]) -> Option<LimitViolation> {
    if has_long_digit_run(bytes) {
        let mut scanner = LimitScanner::new();
        scanner.feed(bytes);
        return scanner.finish();
    }
    // More than MAX_DEPTH opening brackets, or no way to nest that deep.
    memchr::memchr2_iter(b'[', b'{', bytes).nth(MAX_DEPTH)?;
    first_too_deep(bytes).map(|offset| LimitViolation { offset, kind: LimitKind::TooDeep })
}

fn has_long_digit_run(bytes: &[u8]) -> bool {
    let stride = MAX_INT_DIGITS + 1;
    (stride - 1..bytes.len()).step_by(stride).any(|at| {
        bytes[at].is_ascii_digit() && {
            let before = bytes[..at].iter().rev().take_while(|b| b.is_ascii_digit()).count();
            let after = bytes[at..].iter().take_while(|b| b.is_ascii_digit()).count();
            before + after > MAX_INT_DIGITS
        }
    })
}

/// [`LimitScanner`]'s depth rule alone: where an array or object opens more than
/// [`MAX_DEPTH`] levels deep, strings skipped.
fn first_too_deep(bytes: &[u8]) -> Option<u64> {
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => loop {
                i += 1;
                match memchr::memchr2(b'"', b'\\', &bytes[i.min(bytes.len())..]) {
                    None => return None,
                    Some(k) if bytes[i + k] == b'\\' => i += k + 1,
                    Some(k) => {
                        i += k;
                        break;
                    }
                }
            },
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i as u64);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
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
    fn the_pre_filter_never_hides_a_violation() {
        for n in [MAX_INT_DIGITS + 1, MAX_INT_DIGITS + 2, 2 * MAX_INT_DIGITS + 3] {
            for pad in [0, 1, 7, 4300, 4301] {
                let doc = format!("[{}, {}]", "1".repeat(pad), "9".repeat(n));
                assert!(first_violation(doc.as_bytes()).is_some(), "{n} digits after {pad}");
            }
        }
        assert_eq!(first_violation(format!("[{}]", "9".repeat(MAX_INT_DIGITS)).as_bytes()), None);
        assert!(!has_long_digit_run(format!("[{}]", "9".repeat(MAX_INT_DIGITS)).as_bytes()));
        // The depth-only path agrees with the scanner.
        for doc in [
            deep(MAX_DEPTH + 1),
            format!("[\"\\\\\", {}]", String::from_utf8(deep(MAX_DEPTH)).unwrap()).into_bytes(),
            format!("[\"\\\"[\", {}]", String::from_utf8(deep(MAX_DEPTH)).unwrap()).into_bytes(),
            format!("[\"{}\", 1]", "[".repeat(2000)).into_bytes(),
            format!("{}\"", "[".repeat(2000)).into_bytes(),
        ] {
            let mut scanner = LimitScanner::new();
            scanner.feed(&doc);
            assert_eq!(first_violation(&doc), scanner.finish(), "{}", String::from_utf8_lossy(&doc[..40]));
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
