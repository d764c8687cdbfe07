//! The values of OpenAnt's JSON as Python's `json.load` returns them: [`PyValue`], objects as
//! insertion-ordered [`PyObject`]s, and ints of any size as [`PyInt`]s kept verbatim; with
//! conversions from Rust scalars and to and from `serde_json`.

use std::fmt;

use indexmap::IndexMap;

/// An object: string keys in insertion order.
///
/// Hashed with foldhash rather than std's SipHash: a repair parses millions of keys, and SipHash
/// was a visible share of that. The hasher is still seeded at random per process (and per map),
/// so crafted keys cannot be made to collide; the order is IndexMap's, never the hash's.
pub type PyObject = IndexMap<String, PyValue, foldhash::fast::RandomState>;

/// Anything Python's `json.load` returns from an OpenAnt file.
///
/// Equality is structural; as in Python, a NaN float is not equal to itself, and `Int` never
/// equals `Float` (`0` and `0.0` are kept apart because they are written differently).
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    Null,
    Bool(bool),
    /// A Python `int` of any size, kept as its decimal digits.
    Int(PyInt),
    /// A Python `float`, including NaN, ±Infinity and -0.0.
    Float(f64),
    Str(String),
    Array(Vec<PyValue>),
    /// Boxed so that every value (a null, a bool, an array item, an object member) is the size
    /// of a string plus a tag rather than of a whole map.
    Object(Box<PyObject>),
}

// Every array item and object member is a whole `PyValue`: a parsed 100 MB document holds
// millions of them, so their size is most of a tree's memory (issue 17).
const _: () = assert!(std::mem::size_of::<PyValue>() <= 32);

/// An integer of any size, stored as its canonical decimal text (`-?(0|[1-9][0-9]*)`, never
/// `-0`), so it is written back exactly as Python would.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PyInt(String);

impl PyInt {
    /// Parses the text of a JSON integer (`-?(0|[1-9][0-9]*)`). `-0` becomes `0`, as in Python.
    /// Returns `None` for anything else, leading zeros and `+` included.
    pub fn parse(text: &str) -> Option<PyInt> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let ok = match digits.as_bytes() {
            [] => false,
            [b'0'] => true,
            [b'0', ..] => false,
            d => d.iter().all(u8::is_ascii_digit),
        };
        if !ok {
            return None;
        }
        if digits == "0" {
            return Some(PyInt("0".to_owned()));
        }
        Some(PyInt(text.to_owned()))
    }

    /// The canonical decimal text, as Python's `repr(int)` writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value as an `i64`, if it fits.
    pub fn as_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }

    /// The value as a `u64`, if it fits.
    pub fn as_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }

    /// The value as an `i128`, if it fits.
    pub fn as_i128(&self) -> Option<i128> {
        self.0.parse().ok()
    }

    /// The nearest `f64` (what Python's `float(n)` gives, except that Python raises
    /// `OverflowError` where this returns ±Infinity).
    pub fn to_f64(&self) -> f64 {
        // The text is a valid decimal integer, which `f64::from_str` always accepts.
        self.0.parse().unwrap_or(f64::NAN)
    }
}

impl fmt::Display for PyInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! pyint_from {
    ($($t:ty),*) => {$(
        impl From<$t> for PyInt {
            fn from(n: $t) -> PyInt {
                PyInt(n.to_string())
            }
        }
        impl From<$t> for PyValue {
            fn from(n: $t) -> PyValue {
                PyValue::Int(PyInt::from(n))
            }
        }
    )*};
}
pyint_from!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

impl From<f64> for PyValue {
    fn from(x: f64) -> PyValue {
        PyValue::Float(x)
    }
}

impl From<bool> for PyValue {
    fn from(b: bool) -> PyValue {
        PyValue::Bool(b)
    }
}

impl From<&str> for PyValue {
    fn from(s: &str) -> PyValue {
        PyValue::Str(s.to_owned())
    }
}

impl From<String> for PyValue {
    fn from(s: String) -> PyValue {
        PyValue::Str(s)
    }
}

impl From<Vec<PyValue>> for PyValue {
    fn from(items: Vec<PyValue>) -> PyValue {
        PyValue::Array(items)
    }
}

impl From<PyObject> for PyValue {
    fn from(map: PyObject) -> PyValue {
        PyValue::Object(Box::new(map))
    }
}

impl PyValue {
    /// An empty object.
    pub fn object() -> PyValue {
        PyValue::from(PyObject::default())
    }

    /// The member `key` of an object; `None` for a missing key or a non-object.
    pub fn get(&self, key: &str) -> Option<&PyValue> {
        self.as_object()?.get(key)
    }

    /// The member `key` of an object, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut PyValue> {
        self.as_object_mut()?.get_mut(key)
    }

    /// Python's `d[key] = value` on an object: a new key is appended at the end, an existing
    /// key keeps its position and gets the new value, which returns the old one.
    /// Returns `Err(value)` unchanged when `self` is not an object.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<PyValue>) -> Result<Option<PyValue>, PyValue> {
        match self {
            PyValue::Object(map) => Ok(map.insert(key.into(), value.into())),
            _ => Err(value.into()),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, PyValue::Null)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            PyValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            PyValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<&PyInt> {
        match self {
            PyValue::Int(n) => Some(n),
            _ => None,
        }
    }

    /// An `Int` that fits in `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_int()?.as_i64()
    }

    /// A `Float` as is, or an `Int` converted (Python's `float(x)`; may lose precision).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            PyValue::Float(x) => Some(*x),
            PyValue::Int(n) => Some(n.to_f64()),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<PyValue>> {
        match self {
            PyValue::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_array_mut(&mut self) -> Option<&mut Vec<PyValue>> {
        match self {
            PyValue::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&PyObject> {
        match self {
            PyValue::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut PyObject> {
        match self {
            PyValue::Object(m) => Some(m),
            _ => None,
        }
    }
}

/// Conversion into `serde_json`, for code that wants serde. It is lossy where serde_json cannot
/// hold the value: an `Int` outside `i64`/`u64` becomes the nearest float (or `null` if that
/// overflows), and NaN/±Infinity become `null`. Floats stay floats (`0.0` stays `0.0`).
impl From<&PyValue> for serde_json::Value {
    fn from(v: &PyValue) -> serde_json::Value {
        use serde_json::Value;
        match v {
            PyValue::Null => Value::Null,
            PyValue::Bool(b) => Value::Bool(*b),
            PyValue::Int(n) => {
                if let Some(i) = n.as_i64() {
                    Value::from(i)
                } else if let Some(u) = n.as_u64() {
                    Value::from(u)
                } else {
                    serde_json::Number::from_f64(n.to_f64()).map_or(Value::Null, Value::Number)
                }
            }
            PyValue::Float(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
            PyValue::Str(s) => Value::String(s.clone()),
            PyValue::Array(items) => Value::Array(items.iter().map(Value::from).collect()),
            PyValue::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), Value::from(v))).collect()),
        }
    }
}

impl From<PyValue> for serde_json::Value {
    fn from(v: PyValue) -> serde_json::Value {
        serde_json::Value::from(&v)
    }
}

/// Conversion from `serde_json` (lossless: serde_json numbers are `i64`, `u64` or finite `f64`).
impl From<&serde_json::Value> for PyValue {
    fn from(v: &serde_json::Value) -> PyValue {
        use serde_json::Value;
        match v {
            Value::Null => PyValue::Null,
            Value::Bool(b) => PyValue::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    PyValue::from(i)
                } else if let Some(u) = n.as_u64() {
                    PyValue::from(u)
                } else {
                    PyValue::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => PyValue::Str(s.clone()),
            Value::Array(items) => PyValue::Array(items.iter().map(PyValue::from).collect()),
            Value::Object(map) => {
                PyValue::from(map.iter().map(|(k, v)| (k.clone(), PyValue::from(v))).collect::<PyObject>())
            }
        }
    }
}

impl From<serde_json::Value> for PyValue {
    fn from(v: serde_json::Value) -> PyValue {
        PyValue::from(&v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::{parse, to_python_string};

    #[test]
    fn pyint_parse_is_canonical() {
        assert_eq!(PyInt::parse("0").unwrap().as_str(), "0");
        assert_eq!(PyInt::parse("-0").unwrap().as_str(), "0");
        assert_eq!(PyInt::parse("-12").unwrap().as_str(), "-12");
        let big = "123456789012345678901234567890123456789012345678901234567890";
        assert_eq!(PyInt::parse(big).unwrap().as_str(), big);
        for bad in ["", "-", "01", "+1", "1.0", "1e3", "--1", " 1", "１"] {
            assert!(PyInt::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn pyint_conversions() {
        let n = PyInt::parse("18446744073709551616").unwrap(); // 2^64
        assert_eq!(n.as_u64(), None);
        assert_eq!(n.as_i64(), None);
        assert_eq!(n.as_i128(), Some(1i128 << 64));
        assert_eq!(n.to_f64(), 18446744073709551616.0);
        assert_eq!(PyInt::from(-5i32).as_i64(), Some(-5));
        assert_eq!(PyInt::from(u64::MAX).as_u64(), Some(u64::MAX));
    }

    #[test]
    fn accessors_and_insert_order() {
        let mut v = parse(br#"{"b": 1, "a": [true, null, "x", 2.5]}"#).unwrap();
        assert_eq!(v.get("b").and_then(PyValue::as_i64), Some(1));
        let a = v.get("a").and_then(PyValue::as_array).unwrap();
        assert_eq!(a[0].as_bool(), Some(true));
        assert!(a[1].is_null());
        assert_eq!(a[2].as_str(), Some("x"));
        assert_eq!(a[3].as_f64(), Some(2.5));
        assert_eq!(v.get("missing"), None);
        assert_eq!(PyValue::from(3).get("b"), None);

        // A new key goes to the end; an existing key keeps its place (Python dict semantics).
        assert_eq!(v.insert("c", "new"), Ok(None));
        assert_eq!(v.insert("b", 7), Ok(Some(PyValue::from(1))));
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["b", "a", "c"]);
        *v.get_mut("c").unwrap() = PyValue::Null;
        assert_eq!(v.get("c"), Some(&PyValue::Null));
        assert_eq!(PyValue::Null.insert("k", 1), Err(PyValue::from(1)));
        assert_eq!(
            to_python_string(&v, true).unwrap(),
            "{\n  \"b\": 7,\n  \"a\": [\n    true,\n    null,\n    \"x\",\n    2.5\n  ],\n  \"c\": null\n}"
        );
    }

    #[test]
    fn serde_json_round_trip_keeps_order_and_kinds() {
        let text =
            br#"{"z": 0, "y": 0.0, "x": -3, "w": 18446744073709551615, "v": [1e-05, "s", null, false], "u": {}}"#;
        let py = parse(text).unwrap();
        let sj = serde_json::Value::from(&py);
        let keys: Vec<&str> = sj.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["z", "y", "x", "w", "v", "u"]);
        assert!(sj["z"].is_i64());
        assert!(sj["y"].is_f64());
        assert_eq!(sj["w"].as_u64(), Some(u64::MAX));
        assert_eq!(PyValue::from(&sj), py);
    }

    #[test]
    fn serde_json_lossy_cases_are_documented_ones() {
        let big = parse(b"[123456789012345678901234567890, NaN, Infinity]").unwrap();
        let sj = serde_json::Value::from(big);
        assert_eq!(sj[0].as_f64(), Some(1.2345678901234568e29));
        assert!(sj[1].is_null());
        assert!(sj[2].is_null());
    }
}
