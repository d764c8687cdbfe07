//! The few Python semantics the rebuilds need: truthiness, `dict.get` defaults, `str.lower`,
//! `+` on JSON numbers, and how `json.dump` turns a non-string dict key into text.

use crate::pyjson::{python_float_repr, PyInt, PyValue};

/// Python's `bool(x)`: one definition for every rebuild.
pub(crate) use super::common::truthy;

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

/// Python `a + b` for two JSON numbers: int + int stays an exact int, anything with a float is
/// a float. `None` when either side is not a number (Python would raise `TypeError`).
pub(crate) fn add(a: &PyValue, b: &PyValue) -> Option<PyValue> {
    match (a, b) {
        (PyValue::Int(x), PyValue::Int(y)) => Some(add_ints(x, y)),
        (PyValue::Bool(_), _) | (_, PyValue::Bool(_)) => add(&bool_as_int(a), &bool_as_int(b)),
        _ => Some(PyValue::Float(a.as_f64()? + b.as_f64()?)),
    }
}

fn bool_as_int(v: &PyValue) -> PyValue {
    match v {
        PyValue::Bool(b) => PyValue::from(i64::from(*b)),
        other => other.clone(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truthiness_follows_python() {
        assert!(!truthy(&PyValue::Null));
        assert!(!truthy(&PyValue::from(0)));
        assert!(!truthy(&PyValue::Float(-0.0)));
        assert!(truthy(&PyValue::Float(f64::NAN)));
        assert!(!truthy(&PyValue::from("")));
        assert!(truthy(&PyValue::from("x")));
        assert!(!truthy(&PyValue::object()));
        assert!(!truthy(&PyValue::Array(vec![])));
    }

    #[test]
    fn addition_keeps_int_and_float_kinds() {
        assert_eq!(add(&PyValue::from(2), &PyValue::from(3)), Some(PyValue::from(5)));
        assert_eq!(add(&PyValue::from(2), &PyValue::Float(0.5)), Some(PyValue::Float(2.5)));
        assert_eq!(add(&PyValue::Float(0.1), &PyValue::Float(0.2)), Some(PyValue::Float(0.1 + 0.2)));
        assert_eq!(add(&PyValue::from("a"), &PyValue::from(1)), None);
        let big = PyValue::Int(PyInt::parse("170141183460469231731687303715884105727").unwrap());
        assert_eq!(
            add(&big, &PyValue::from(1)),
            Some(PyValue::Int(PyInt::parse("170141183460469231731687303715884105728").unwrap()))
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
