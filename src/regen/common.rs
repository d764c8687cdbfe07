//! Types shared by the rebuilders, and the small pieces of Python semantics OpenAnt's builders
//! depend on: truthiness, `==` (with `78 == 78.0` but `"78" != 78`), dict-key identity,
//! `str()`/f-string formatting of scalars, and `+`/`-` on JSON numbers.

use std::path::{Path, PathBuf};

use crate::pyjson::{self, python_float_repr, PyValue};

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

/// Python truthiness of a JSON value.
pub fn truthy(v: &PyValue) -> bool {
    match v {
        PyValue::Null => false,
        PyValue::Bool(b) => *b,
        PyValue::Int(n) => n.as_str() != "0",
        // NaN is truthy in Python; -0.0 is falsy.
        PyValue::Float(x) => *x != 0.0,
        PyValue::Str(s) => !s.is_empty(),
        PyValue::Array(a) => !a.is_empty(),
        PyValue::Object(o) => !o.is_empty(),
    }
}

/// Python's `a or b` on optional values (`None` = the key was absent, which `.get` turns into
/// `None` = null): the first truthy one, else the last.
pub fn py_or<'a>(first: Option<&'a PyValue>, second: Option<&'a PyValue>) -> Option<&'a PyValue> {
    match first {
        Some(v) if truthy(v) => Some(v),
        _ => second,
    }
}

/// The exact integer value of a number, as canonical decimal text, if it is integral
/// (bools count as 0/1, as in Python).
fn integral_text(v: &PyValue) -> Option<String> {
    match v {
        PyValue::Bool(b) => Some(if *b { "1" } else { "0" }.to_owned()),
        PyValue::Int(n) => Some(n.as_str().to_owned()),
        PyValue::Float(x) if x.is_finite() && x.fract() == 0.0 => {
            // `{:.0}` of an integral f64 prints its exact digits.
            let s = format!("{x:.0}");
            Some(if s == "-0" { "0".to_owned() } else { s })
        }
        _ => None,
    }
}

fn is_number(v: &PyValue) -> bool {
    matches!(v, PyValue::Bool(_) | PyValue::Int(_) | PyValue::Float(_))
}

/// Python's `a == b` for values loaded from JSON: numbers compare by value across int, float and
/// bool (`78 == 78.0`, `True == 1`), strings never equal numbers (`"78" != 78`), NaN equals
/// nothing, containers compare element-wise (objects regardless of key order).
pub fn py_eq(a: &PyValue, b: &PyValue) -> bool {
    match (a, b) {
        (PyValue::Null, PyValue::Null) => true,
        (PyValue::Str(x), PyValue::Str(y)) => x == y,
        (PyValue::Float(x), PyValue::Float(y)) => x == y,
        (x, y) if is_number(x) && is_number(y) => match (integral_text(x), integral_text(y)) {
            (Some(p), Some(q)) => p == q,
            _ => false,
        },
        (PyValue::Array(x), PyValue::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q)),
        (PyValue::Object(x), PyValue::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => false,
    }
}

/// The identity of a value used as a Python dict key or set member: equal keys (Python `==` and
/// equal hashes) map to the same `HashKey`. NaN is never equal to another NaN object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HashKey {
    Null,
    Str(String),
    /// Any number equal to this exact integer (ints, bools and integral floats).
    Integral(String),
    /// A non-integral float (or ±Infinity), by its bits.
    Float(u64),
    /// A NaN: unique per occurrence.
    Nan(usize),
}

/// The dict-key identity of `v`, or `None` when Python would raise `TypeError: unhashable type`
/// (lists and dicts). `nan_counter` makes every NaN distinct.
pub fn hash_key(v: &PyValue, nan_counter: &mut usize) -> Option<HashKey> {
    match v {
        PyValue::Null => Some(HashKey::Null),
        PyValue::Str(s) => Some(HashKey::Str(s.clone())),
        PyValue::Float(x) if x.is_nan() => {
            *nan_counter += 1;
            Some(HashKey::Nan(*nan_counter))
        }
        PyValue::Bool(_) | PyValue::Int(_) | PyValue::Float(_) => Some(match integral_text(v) {
            Some(t) => HashKey::Integral(t),
            None => HashKey::Float(v.as_f64().unwrap_or(0.0).to_bits()),
        }),
        PyValue::Array(_) | PyValue::Object(_) => None,
    }
}

/// Python `str(v)` (what an f-string inserts) for scalars; `None` for lists and dicts, whose
/// Python `repr` this module does not reproduce.
pub fn py_str(v: &PyValue) -> Option<String> {
    match v {
        PyValue::Null => Some("None".to_owned()),
        PyValue::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
        PyValue::Int(n) => Some(n.as_str().to_owned()),
        PyValue::Float(x) if x.is_nan() => Some("nan".to_owned()),
        PyValue::Float(x) if x.is_infinite() => Some(if *x > 0.0 { "inf" } else { "-inf" }.to_owned()),
        PyValue::Float(x) => Some(python_float_repr(*x)),
        PyValue::Str(s) => Some(s.clone()),
        PyValue::Array(_) | PyValue::Object(_) => None,
    }
}

/// A Python number for arithmetic.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(i128),
    Float(f64),
}

fn num_of(v: &PyValue) -> Result<Option<Num>, RebuildError> {
    Ok(match v {
        PyValue::Bool(b) => Some(Num::Int(i128::from(*b))),
        PyValue::Int(n) => Some(Num::Int(n.as_i128().ok_or_else(|| {
            RebuildError::Unsupported(format!("arithmetic on the integer {n}, which exceeds 128 bits"))
        })?)),
        PyValue::Float(x) => Some(Num::Float(*x)),
        _ => None,
    })
}

fn num_value(n: Num) -> PyValue {
    match n {
        Num::Int(i) => PyValue::from(i),
        Num::Float(x) => PyValue::Float(x),
    }
}

fn type_name(v: &PyValue) -> &'static str {
    match v {
        PyValue::Null => "NoneType",
        PyValue::Bool(_) => "bool",
        PyValue::Int(_) => "int",
        PyValue::Float(_) => "float",
        PyValue::Str(_) => "str",
        PyValue::Array(_) => "list",
        PyValue::Object(_) => "dict",
    }
}

fn arith(a: &PyValue, b: &PyValue, op: char) -> Result<PyValue, RebuildError> {
    let fail = || {
        RebuildError::OpenAntWouldFail(format!(
            "unsupported operand type(s) for {op}: '{}' and '{}'",
            type_name(a),
            type_name(b)
        ))
    };
    let (x, y) = match (num_of(a)?, num_of(b)?) {
        (Some(x), Some(y)) => (x, y),
        _ => return Err(fail()),
    };
    let as_f = |n: Num| match n {
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    };
    Ok(match (x, y) {
        (Num::Int(p), Num::Int(q)) => {
            let r = if op == '+' { p.checked_add(q) } else { p.checked_sub(q) };
            num_value(Num::Int(
                r.ok_or_else(|| RebuildError::Unsupported("integer arithmetic beyond 128 bits".to_owned()))?,
            ))
        }
        _ => {
            let (p, q) = (as_f(x), as_f(y));
            num_value(Num::Float(if op == '+' { p + q } else { p - q }))
        }
    })
}

/// Python `a + b` for JSON values: numbers (bools as ints, int + float → float), and the
/// concatenations `str + str` and `list + list`; anything else raises in Python.
pub fn py_add(a: &PyValue, b: &PyValue) -> Result<PyValue, RebuildError> {
    match (a, b) {
        (PyValue::Str(x), PyValue::Str(y)) => Ok(PyValue::Str(format!("{x}{y}"))),
        (PyValue::Array(x), PyValue::Array(y)) => Ok(PyValue::Array(x.iter().chain(y).cloned().collect())),
        _ => arith(a, b, '+'),
    }
}

/// Python `a - b` for JSON numbers.
pub fn py_sub(a: &PyValue, b: &PyValue) -> Result<PyValue, RebuildError> {
    arith(a, b, '-')
}

/// Python's `format(x, ".Nf")` for a JSON number (ints are converted to float first, as
/// `format(int, ".4f")` does): the exact binary value rounded half-to-even.
pub fn py_format_fixed(v: &PyValue, decimals: i32) -> Option<String> {
    let x = match v {
        PyValue::Bool(b) => f64::from(u8::from(*b)),
        PyValue::Int(n) => n.to_f64(),
        PyValue::Float(x) => *x,
        _ => return None,
    };
    if x.is_nan() {
        return Some("nan".to_owned());
    }
    if x.is_infinite() {
        return Some(if x > 0.0 { "inf" } else { "-inf" }.to_owned());
    }
    // `python_round` rounds the exact value half-to-even; the result is the float nearest to a
    // decimal with `decimals` places, which Rust then prints back exactly (no tie left).
    let rounded = pyjson::python_round(x, decimals);
    let places = usize::try_from(decimals).unwrap_or(0);
    let mut s = format!("{rounded:.places$}");
    if x.is_sign_negative() && !s.starts_with('-') {
        // Python keeps the sign of a negative value that rounds to zero ("-0.0000").
        s.insert(0, '-');
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::parse;

    fn v(text: &str) -> PyValue {
        parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn python_equality_across_number_kinds() {
        assert!(py_eq(&v("78"), &v("78.0")));
        assert!(py_eq(&v("true"), &v("1")));
        assert!(py_eq(&v("1.0"), &v("true")));
        assert!(!py_eq(&v("\"78\""), &v("78")));
        assert!(!py_eq(&v("78.5"), &v("78")));
        assert!(!py_eq(&v("NaN"), &v("NaN")));
        assert!(py_eq(&v("-0.0"), &v("0")));
        assert!(py_eq(&v("[1, {\"a\": 2.0}]"), &v("[1.0, {\"a\": 2}]")));
        assert!(py_eq(&v("{\"a\": 1, \"b\": 2}"), &v("{\"b\": 2, \"a\": 1}")));
        assert!(!py_eq(&v("null"), &v("0")));
        assert!(py_eq(&v("123456789012345678901234567890"), &v("123456789012345678901234567890")));
        assert!(py_eq(&v("1e20"), &v("100000000000000000000")));
    }

    #[test]
    fn hash_keys_follow_python_dict_identity() {
        let mut n = 0;
        let k = |t: &str, n: &mut usize| hash_key(&v(t), n);
        assert_eq!(k("78", &mut n), k("78.0", &mut n));
        assert_eq!(k("1", &mut n), k("true", &mut n));
        assert_ne!(k("\"78\"", &mut n), k("78", &mut n));
        assert_ne!(k("NaN", &mut n), k("NaN", &mut n));
        assert_eq!(k("[1]", &mut n), None);
        assert_eq!(k("{}", &mut n), None);
    }

    #[test]
    fn truthiness_and_or() {
        for falsy in ["null", "false", "0", "0.0", "-0.0", "\"\"", "[]", "{}"] {
            assert!(!truthy(&v(falsy)), "{falsy}");
        }
        for t in ["true", "1", "NaN", "\"0\"", "[0]", "{\"a\": null}"] {
            assert!(truthy(&v(t)), "{t}");
        }
        let zero = v("0");
        let one = v("1");
        assert_eq!(py_or(Some(&zero), Some(&one)), Some(&one));
        assert_eq!(py_or(Some(&one), None), Some(&one));
        assert_eq!(py_or(None, Some(&zero)), Some(&zero));
    }

    #[test]
    fn arithmetic_keeps_python_kinds() {
        assert_eq!(py_add(&v("2"), &v("3")).unwrap(), v("5"));
        assert_eq!(py_add(&v("2"), &v("0.5")).unwrap(), v("2.5"));
        assert_eq!(py_add(&v("true"), &v("true")).unwrap(), v("2"));
        assert_eq!(py_add(&v("\"a\""), &v("\"b\"")).unwrap(), v("\"ab\""));
        assert_eq!(py_sub(&v("10"), &v("1.0")).unwrap(), v("9.0"));
        assert!(matches!(py_add(&v("\"a\""), &v("1")), Err(RebuildError::OpenAntWouldFail(_))));
        assert!(matches!(py_sub(&v("null"), &v("1")), Err(RebuildError::OpenAntWouldFail(_))));
        assert!(matches!(
            py_add(&v("123456789012345678901234567890123456789012"), &v("1")),
            Err(RebuildError::Unsupported(_))
        ));
    }

    #[test]
    fn str_and_fixed_formatting() {
        assert_eq!(py_str(&v("null")).unwrap(), "None");
        assert_eq!(py_str(&v("1.0")).unwrap(), "1.0");
        assert_eq!(py_str(&v("1e-05")).unwrap(), "1e-05");
        assert_eq!(py_str(&v("true")).unwrap(), "True");
        assert_eq!(py_str(&v("[1]")), None);
        assert_eq!(py_format_fixed(&v("0.125"), 2).unwrap(), "0.12");
        assert_eq!(py_format_fixed(&v("2.675"), 2).unwrap(), "2.67");
        assert_eq!(py_format_fixed(&v("0.35"), 1).unwrap(), "0.3");
        assert_eq!(py_format_fixed(&v("0"), 4).unwrap(), "0.0000");
        assert_eq!(py_format_fixed(&v("12"), 1).unwrap(), "12.0");
        assert_eq!(py_format_fixed(&v("-0.00001"), 4).unwrap(), "-0.0000");
        assert_eq!(py_format_fixed(&v("\"x\""), 4), None);
    }
}
