//! The Python semantics OpenAnt's builders rely on, written once for every rebuild: truthiness,
//! `or`, `==` (with `78 == 78.0` but `"78" != 78`), dict-key identity, `dict.get` chains,
//! `str()`/f-string and `format(x, ".Nf")` text of scalars, how `json.dump` turns a dict key
//! into text, and `+`/`-` on JSON values (ints of any size, as Python's).

use std::fmt;

use crate::pyjson::{self, python_float_repr, PyInt, PyValue};

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

/// `d.get(key)` where `d` may not be a dict (Python would raise; we answer `None`).
pub(crate) fn get<'a>(v: &'a PyValue, key: &str) -> Option<&'a PyValue> {
    v.get(key)
}

/// `d.get(key, {}).get(inner)` chains, tolerant of non-dicts.
pub(crate) fn get2<'a>(v: &'a PyValue, key: &str, inner: &str) -> Option<&'a PyValue> {
    v.get(key)?.get(inner)
}

/// `value == "<s>"` in Python: only a `str` equals a `str`.
pub(crate) fn is_str(v: Option<&PyValue>, s: &str) -> bool {
    v.and_then(PyValue::as_str) == Some(s)
}

/// `x.lower()` for a `str` (Unicode lower-casing, as Python's `str.lower`).
pub(crate) fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// The `TypeError` Python raises for `a + b` / `a - b` on operands it cannot combine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError(pub String);

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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

/// Python `a + b` for JSON values: numbers (bools as ints; int + int stays an exact int of any
/// size; anything with a float is a float), and the concatenations `str + str` and
/// `list + list`. Anything else raises in Python: the `TypeError`.
pub fn add(a: &PyValue, b: &PyValue) -> Result<PyValue, TypeError> {
    match (a, b) {
        (PyValue::Str(x), PyValue::Str(y)) => Ok(PyValue::Str(format!("{x}{y}"))),
        (PyValue::Array(x), PyValue::Array(y)) => Ok(PyValue::Array(x.iter().chain(y).cloned().collect())),
        _ => arith(a, b, '+'),
    }
}

/// Python `a - b` for JSON numbers.
pub fn sub(a: &PyValue, b: &PyValue) -> Result<PyValue, TypeError> {
    arith(a, b, '-')
}

fn arith(a: &PyValue, b: &PyValue, op: char) -> Result<PyValue, TypeError> {
    let int_of = |v: &PyValue| match v {
        PyValue::Bool(b) => Some(PyInt::from(i64::from(*b))),
        PyValue::Int(n) => Some(n.clone()),
        _ => None,
    };
    if let (Some(x), Some(y)) = (int_of(a), int_of(b)) {
        let y = if op == '+' { y } else { negate(&y) };
        return Ok(add_ints(&x, &y));
    }
    match (a, b) {
        (
            PyValue::Bool(_) | PyValue::Int(_) | PyValue::Float(_),
            PyValue::Bool(_) | PyValue::Int(_) | PyValue::Float(_),
        ) => {
            let float = |v: &PyValue| match v {
                PyValue::Bool(b) => f64::from(u8::from(*b)),
                other => other.as_f64().unwrap_or(f64::NAN),
            };
            let (x, y) = (float(a), float(b));
            Ok(PyValue::Float(if op == '+' { x + y } else { x - y }))
        }
        _ => Err(TypeError(format!("unsupported operand type(s) for {op}: '{}' and '{}'", type_name(a), type_name(b)))),
    }
}

fn negate(n: &PyInt) -> PyInt {
    let text = n.as_str();
    let negated = match text.strip_prefix('-') {
        Some(rest) => rest.to_owned(),
        None if text == "0" => text.to_owned(),
        None => format!("-{text}"),
    };
    PyInt::parse(&negated).unwrap_or_else(|| n.clone())
}

fn add_ints(x: &PyInt, y: &PyInt) -> PyValue {
    match (x.as_i128(), y.as_i128()) {
        (Some(a), Some(b)) => match a.checked_add(b) {
            Some(s) => PyValue::from(s),
            None => PyValue::Int(big_add(x.as_str(), y.as_str())),
        },
        _ => PyValue::Int(big_add(x.as_str(), y.as_str())),
    }
}

/// Adds two canonical decimal integers of any size.
fn big_add(a: &str, b: &str) -> PyInt {
    let (na, da) = split_sign(a);
    let (nb, db) = split_sign(b);
    let text = if na == nb {
        let sum = add_mag(da, db);
        if na {
            format!("-{sum}")
        } else {
            sum
        }
    } else {
        // Different signs: subtract the smaller magnitude from the larger.
        let (big, small, neg) = if cmp_mag(da, db) == std::cmp::Ordering::Less { (db, da, nb) } else { (da, db, na) };
        let diff = sub_mag(big, small);
        if neg && diff != "0" {
            format!("-{diff}")
        } else {
            diff
        }
    };
    PyInt::parse(&text).unwrap_or_else(|| PyInt::from(0))
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    }
}

fn cmp_mag(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn add_mag(a: &str, b: &str) -> String {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let mut carry = 0u8;
    for i in 0..a.len().max(b.len()) {
        let da = if i < a.len() { a[a.len() - 1 - i] - b'0' } else { 0 };
        let db = if i < b.len() { b[b.len() - 1 - i] - b'0' } else { 0 };
        let s = da + db + carry;
        out.push(b'0' + s % 10);
        carry = s / 10;
    }
    if carry > 0 {
        out.push(b'0' + carry);
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn sub_mag(a: &str, b: &str) -> String {
    // Requires |a| >= |b|.
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0i8;
    for i in 0..a.len() {
        let da = (a[a.len() - 1 - i] - b'0') as i8;
        let db = if i < b.len() { (b[b.len() - 1 - i] - b'0') as i8 } else { 0 };
        let mut d = da - db - borrow;
        borrow = 0;
        if d < 0 {
            d += 10;
            borrow = 1;
        }
        out.push(b'0' + d as u8);
    }
    while out.len() > 1 && out.last() == Some(&b'0') {
        out.pop();
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The text `json.dump` writes for a dict key: a `str` as is, `int`/`float`/`bool`/`None` the
/// way Python converts them. `None` for keys Python cannot hash (lists, dicts).
pub(crate) fn key_text(v: &PyValue) -> Option<String> {
    Some(match v {
        PyValue::Str(s) => s.clone(),
        PyValue::Int(n) => n.as_str().to_owned(),
        PyValue::Float(x) => python_float_repr(*x),
        PyValue::Bool(true) => "true".to_owned(),
        PyValue::Bool(false) => "false".to_owned(),
        PyValue::Null => "null".to_owned(),
        PyValue::Array(_) | PyValue::Object(_) => return None,
    })
}

/// A short, readable name for a unit id value in notes.
pub(crate) fn id_text(v: &PyValue) -> String {
    match v {
        PyValue::Str(s) => s.clone(),
        other => key_text(other).unwrap_or_else(|| "<unhashable id>".to_owned()),
    }
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
        assert_eq!(add(&v("2"), &v("3")).unwrap(), v("5"));
        assert_eq!(add(&v("2"), &v("0.5")).unwrap(), v("2.5"));
        assert_eq!(add(&v("true"), &v("true")).unwrap(), v("2"));
        assert_eq!(add(&v("\"a\""), &v("\"b\"")).unwrap(), v("\"ab\""));
        assert_eq!(sub(&v("10"), &v("1.0")).unwrap(), v("9.0"));
        assert_eq!(add(&v("[1]"), &v("[2]")).unwrap(), v("[1, 2]"));
        assert_eq!(
            add(&v("\"a\""), &v("1")),
            Err(TypeError("unsupported operand type(s) for +: 'str' and 'int'".to_owned()))
        );
        assert!(sub(&v("null"), &v("1")).is_err());
    }

    /// The two `+` of old disagreed beyond 128 bits (one refused, one kept every digit):
    /// Python's ints have no limit, so neither does this one.
    #[test]
    fn integers_of_any_size_add_and_subtract_exactly() {
        assert_eq!(
            add(&v("123456789012345678901234567890123456789012"), &v("1")).unwrap(),
            v("123456789012345678901234567890123456789013")
        );
        assert_eq!(
            sub(&v("-123456789012345678901234567890123456789012"), &v("-123456789012345678901234567890123456789012"))
                .unwrap(),
            v("0")
        );
        assert_eq!(sub(&v("5"), &v("7")).unwrap(), v("-2"));
        assert_eq!(sub(&v("true"), &v("0")).unwrap(), v("1"));
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

    #[test]
    fn addition_keeps_int_and_float_kinds() {
        assert_eq!(add(&PyValue::from(2), &PyValue::from(3)), Ok(PyValue::from(5)));
        assert_eq!(add(&PyValue::from(2), &PyValue::Float(0.5)), Ok(PyValue::Float(2.5)));
        assert_eq!(add(&PyValue::Float(0.1), &PyValue::Float(0.2)), Ok(PyValue::Float(0.1 + 0.2)));
        assert!(add(&PyValue::from("a"), &PyValue::from(1)).is_err());
        let big = PyValue::Int(PyInt::parse("170141183460469231731687303715884105727").unwrap());
        assert_eq!(
            add(&big, &PyValue::from(1)),
            Ok(PyValue::Int(PyInt::parse("170141183460469231731687303715884105728").unwrap()))
        );
        assert_eq!(big_add("-1000", "1").as_str(), "-999");
        assert_eq!(big_add("5", "-5").as_str(), "0");
        assert_eq!(big_add("-5", "-7").as_str(), "-12");
    }

    #[test]
    fn dict_keys_are_converted_like_json_dump() {
        assert_eq!(key_text(&PyValue::from(3)).as_deref(), Some("3"));
        assert_eq!(key_text(&PyValue::Float(1.0)).as_deref(), Some("1.0"));
        assert_eq!(key_text(&PyValue::Null).as_deref(), Some("null"));
        assert_eq!(key_text(&PyValue::Bool(true)).as_deref(), Some("true"));
        assert_eq!(key_text(&PyValue::Array(vec![])), None);
    }
}
