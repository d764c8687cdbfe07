//! The Python writer: `json.dumps(value, indent=2, ensure_ascii=X)`, and CPython's float
//! `repr` and `round`.
//!
//! With an indent, CPython 3.11 encodes through the pure-Python `_make_iterencode` (layout in
//! [`super::layout`]), strings through the C `encode_basestring_ascii` / `encode_basestring`,
//! floats through `float.__repr__` (`NaN`, `Infinity`, `-Infinity` for the non-finite ones) and
//! ints through `int.__repr__`.

use super::layout::WriteError;
use super::layout::{
    write_indented, write_indented_consuming, write_indented_into, write_string_escaping_controls, Drain, Scalars,
};
use super::value::PyValue;

/// The exact text `json.dumps(value, indent=2, ensure_ascii=ensure_ascii)` returns (what
/// `json.dump` writes to a file): no trailing newline, `\n` line breaks.
///
/// Fails only for nesting deeper than [`super::limits::MAX_DEPTH`], where Python fails too.
pub fn to_python_string(value: &PyValue, ensure_ascii: bool) -> Result<String, WriteError> {
    write_indented(value, &Python { ensure_ascii })
}

/// [`to_python_string`] taking the value, which is freed part by part as it is written: for a
/// document no one reads after it is written, so that its tree and its text never both exist
/// whole. The same text, or the same error.
pub fn into_python_string(value: PyValue, ensure_ascii: bool) -> Result<String, WriteError> {
    write_indented_consuming(value, &Python { ensure_ascii })
}

/// [`to_python_string`] with the text handed to `drain` as it is written (for a file that takes
/// it a piece at a time): what `drain` took, followed by the text returned, is the text
/// `to_python_string` returns. Fails as it fails.
pub fn write_python_into(value: &PyValue, ensure_ascii: bool, drain: &mut impl Drain) -> Result<String, WriteError> {
    write_indented_into(value, &Python { ensure_ascii }, drain)
}

/// [`write_python_into`] taking the value, freed as it is written ([`into_python_string`]).
pub fn write_python_into_consuming(
    value: PyValue,
    ensure_ascii: bool,
    drain: &mut impl Drain,
) -> Result<String, WriteError> {
    write_indented_into(value, &Python { ensure_ascii }, drain)
}

struct Python {
    ensure_ascii: bool,
}

impl Scalars for Python {
    /// `encode_basestring_ascii` / `encode_basestring`: other controls as `\u00xx`, and with
    /// `ensure_ascii` everything past `~` too.
    fn string(&self, out: &mut String, s: &str) {
        // Exactly `write_string(out, s, |c| c < ' ' || (self.ensure_ascii && c > '~'))`,
        // faster (the tests hold the two to the same bytes).
        write_string_escaping_controls(out, s, self.ensure_ascii);
    }

    fn float(&self, out: &mut String, x: f64) -> Result<(), WriteError> {
        out.push_str(&python_float_repr(x));
        Ok(())
    }
}

/// The shortest round-trip digits of a finite, non-zero `x` (no sign), and the decimal exponent
/// of the first digit: `x = ±d.ddd × 10^exp`.
///
/// These are the digits of Python's `repr` (David Gay's `dtoa` mode 0) and of Go's
/// `strconv.FormatFloat(x, _, -1, 64)`: the shortest string that reads back as `x`, the one
/// closest to `x` when several are that short, and the one ending in an even digit when two
/// are equally close (Gay: "Round-nearest-even"; Go `ryuDigits32`: round up only if
/// `cNextDigit > 5 || cNextDigit == 5 && (!c0 || central&1 == 1)`).
pub(super) fn shortest_digits(x: f64) -> (String, i32) {
    let x = x.abs();
    // Rust's `{:e}` without a precision prints the shortest round-trip digits, closest to x,
    // but breaks an exact tie upwards (e.g. 1772326908235441.25 -> ...441.3, Python ...441.2).
    let (digits, exp) = split_exp(&format!("{x:e}"));
    // A tie means the exact value has exactly one more digit, a 5, and Rust's last digit is
    // the rounded-up, odd one. Cheap filter first, then the exact expansion (every f64 has at
    // most 767 significant decimal digits, so 1100 is exact).
    if digits.ends_with(['1', '3', '5', '7', '9']) {
        let (longer, longer_exp) = split_exp(&format!("{x:.*e}", digits.len()));
        if longer_exp == exp && longer.ends_with('5') {
            let (exact, _) = split_exp(&format!("{x:.1100e}"));
            if exact.trim_end_matches('0') == longer {
                let mut down = digits.clone().into_bytes();
                if let Some(last) = down.last_mut() {
                    *last -= 1;
                }
                let down = String::from_utf8_lossy(&down).into_owned();
                let text = format!("{}.{}e{exp}", &down[..1], &down[1..]);
                if text.parse::<f64>() == Ok(x) {
                    return (down.trim_end_matches('0').to_owned(), exp);
                }
            }
        }
    }
    (digits, exp)
}

/// Splits Rust's `{:e}` output `d.ddde-N` into its digits and exponent.
fn split_exp(text: &str) -> (String, i32) {
    let (mantissa, exp) = text.split_once('e').unwrap_or((text, "0"));
    let digits = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

/// Python's `repr(x)` for a float: shortest round-trip digits, fixed notation when the
/// decimal exponent is in `[-4, 16)` (always with a fractional part: `3.0`), otherwise
/// `d[.ddd]e±XX` with at least two exponent digits; `NaN`, `Infinity`, `-Infinity` as
/// `json.dumps` spells them, and `-0.0`.
pub fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x == 0.0 {
        return format!("{sign}0.0");
    }
    let (digits, exp) = shortest_digits(x);
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() > int_len {
                format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
            } else {
                let zeros = "0".repeat(int_len - digits.len());
                format!("{sign}{digits}{zeros}.0")
            }
        } else {
            let zeros = "0".repeat((-exp - 1) as usize);
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{dot}{rest}e{exp_sign}{:02}", exp.abs())
    }
}

/// CPython's `round(x, ndigits)` for a float: the exact binary value of `x` rounded to
/// `ndigits` decimal places (negative: to tens, hundreds, …), ties to even, converted back to
/// the nearest float. `round(2.675, 2) == 2.67`, `round(0.125, 2) == 0.12`,
/// `round(5e-07, 6) == 0.0`. NaN and ±Infinity are returned unchanged, the sign of zero is kept.
///
/// Where Python raises `OverflowError` ("rounded value too large to represent", only possible
/// with negative `ndigits` near `f64::MAX`), this returns ±Infinity.
///
/// This follows `float___round___impl` and `double_round` in CPython's
/// `Objects/floatobject.c`: ndigits above 323 return `x`, below -308 return `0.0 * x`;
/// otherwise the value is rounded as a decimal string (dtoa mode 3) and parsed back.
pub fn python_round(x: f64, ndigits: i32) -> f64 {
    const NDIGITS_MAX: i32 = 323; // (DBL_MANT_DIG - DBL_MIN_EXP) * 0.30103
    const NDIGITS_MIN: i32 = -308; // -(DBL_MAX_EXP + 1) * 0.30103
    if !x.is_finite() || ndigits > NDIGITS_MAX {
        return x;
    }
    if ndigits < NDIGITS_MIN {
        return 0.0 * x;
    }
    // Every finite f64 is a dyadic rational with at most 1074 fractional decimal digits, so
    // 1100 fractional digits are its exact decimal expansion (no rounding happens here).
    let exact = format!("{:.1100}", x.abs());
    let (int_part, frac_part) = exact.split_once('.').unwrap_or((&exact, ""));
    let digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).collect();
    // Number of digits to keep: those before the decimal point plus `ndigits` after it.
    let keep = int_part.len() as i64 + i64::from(ndigits);
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if keep < 0 {
        // Even the first dropped digit lies beyond the rounding position: less than half.
        return if x.is_sign_negative() { -0.0 } else { 0.0 };
    }
    let keep = keep as usize;
    if keep >= digits.len() {
        return x;
    }
    let (kept, dropped) = digits.split_at(keep);
    let mut kept = kept.to_vec();
    let first = dropped[0];
    let beyond_half = dropped[1..].iter().any(|&d| d != b'0');
    let last_odd = kept.last().is_some_and(|d| (d - b'0') % 2 == 1);
    let round_up = first > b'5' || (first == b'5' && (beyond_half || last_odd));
    if round_up {
        increment_decimal(&mut kept);
    }
    if kept.is_empty() {
        kept.push(b'0');
    }
    let text = format!("{sign}{}e{}", String::from_utf8_lossy(&kept), -i64::from(ndigits));
    // Correctly rounded, like CPython's `_Py_dg_strtod`; overflow gives ±inf.
    text.parse().unwrap_or(x)
}

/// Adds one to a string of decimal digits (an empty string counts as 0).
fn increment_decimal(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return;
        }
    }
    digits.insert(0, b'1');
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn dumps(text: &str, ensure_ascii: bool) -> String {
        to_python_string(&parse(text.as_bytes()).unwrap(), ensure_ascii).unwrap()
    }

    #[test]
    fn float_repr_examples() {
        let cases: &[(f64, &str)] = &[
            (0.0001, "0.0001"),
            (1e-05, "1e-05"),
            (1000000000000000.0, "1000000000000000.0"),
            (1e16, "1e+16"),
            (3.0, "3.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1.2345678901234568e+17, "1.2345678901234568e+17"),
            (2.5e-07, "2.5e-07"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (1.5, "1.5"),
            (-123.456, "-123.456"),
            (9999999999999998.0, "9999999999999998.0"),
            (1e100, "1e+100"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (0.00012345, "0.00012345"),
            (1.2345e-5, "1.2345e-05"),
            (123456789.0, "123456789.0"),
            (1.5e15, "1500000000000000.0"),
            (1.5e16, "1.5e+16"),
            // Exact ties between two shortest candidates go to the even digit.
            (1772326908235441.0 + 0.25, "1772326908235441.2"),
            (1772326908235441.0 + 0.75, "1772326908235441.8"),
        ];
        for &(x, want) in cases {
            assert_eq!(python_float_repr(x), want, "{x:?}");
        }
    }

    #[test]
    fn ints_are_written_verbatim() {
        assert_eq!(dumps("123456789012345678901234567890", true), "123456789012345678901234567890");
        assert_eq!(dumps("-18446744073709551617", true), "-18446744073709551617");
        assert_eq!(dumps("-0", true), "0");
        assert_eq!(dumps("[0, 0.0, 1E2]", true), "[\n  0,\n  0.0,\n  100.0\n]");
    }

    #[test]
    fn layout() {
        assert_eq!(dumps("[]", true), "[]");
        assert_eq!(dumps("{}", true), "{}");
        assert_eq!(dumps(r#"{"a": [], "b": {}}"#, true), "{\n  \"a\": [],\n  \"b\": {}\n}");
        assert_eq!(
            dumps(r#"{"a":[1,{"b":null}],"c":"d"}"#, true),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": \"d\"\n}"
        );
        assert_eq!(dumps("[true,false,null]", false), "[\n  true,\n  false,\n  null\n]");
        assert_eq!(dumps("\"x\"", true), "\"x\"");
        assert!(!dumps(r#"{"a": 1}"#, true).ends_with('\n'));
    }

    #[test]
    fn key_order_and_duplicates_written_like_a_dict() {
        assert_eq!(dumps(r#"{"b": 1, "a": 2, "b": 3}"#, true), "{\n  \"b\": 3,\n  \"a\": 2\n}");
    }

    #[test]
    fn non_finite_floats_are_bare() {
        assert_eq!(
            dumps("[NaN, Infinity, -Infinity, 1e999]", true),
            "[\n  NaN,\n  Infinity,\n  -Infinity,\n  Infinity\n]"
        );
    }

    #[test]
    fn ensure_ascii_true_escapes() {
        let s = PyValue::from("\"\\/\n\r\t\u{8}\u{c}\u{0}\u{1f} ~\u{7f}\u{80}\u{9f}é\u{2028}\u{ffff}😀<>&");
        assert_eq!(
            to_python_string(&s, true).unwrap(),
            r#""\"\\/\n\r\t\b\f\u0000\u001f ~\u007f\u0080\u009f\u00e9\u2028\uffff\ud83d\ude00<>&""#
        );
        // Keys are escaped the same way.
        assert_eq!(dumps(r#"{"é": 1}"#, true), "{\n  \"\\u00e9\": 1\n}");
    }

    #[test]
    fn ensure_ascii_false_escapes_only_controls_quote_backslash() {
        let s = PyValue::from("\"\\/\n\r\t\u{8}\u{c}\u{0}\u{1f} ~\u{7f}\u{80}\u{9f}é\u{2028}\u{2029}😀<>&");
        assert_eq!(
            to_python_string(&s, false).unwrap(),
            "\"\\\"\\\\/\\n\\r\\t\\b\\f\\u0000\\u001f ~\u{7f}\u{80}\u{9f}é\u{2028}\u{2029}😀<>&\""
        );
        assert_eq!(dumps(r#"{"é": "\u00e9"}"#, false), "{\n  \"é\": \"é\"\n}");
    }

    #[test]
    fn too_deep_values_are_an_error() {
        let mut v = PyValue::Array(vec![]);
        for _ in 0..super::super::MAX_DEPTH {
            v = PyValue::Array(vec![v]);
        }
        assert_eq!(to_python_string(&v, true), Err(WriteError::TooDeep));
        let PyValue::Array(mut items) = v else { unreachable!() };
        let inner = items.pop().unwrap();
        assert!(to_python_string(&inner, true).is_ok());
    }

    #[test]
    fn round_examples() {
        assert_eq!(python_round(2.675, 2), 2.67);
        assert_eq!(python_round(0.125, 2), 0.12);
        assert_eq!(python_round(0.375, 2), 0.38);
        assert_eq!(python_round(5e-07, 6), 0.0);
        assert_eq!(python_round(1.5e-06, 6), 2e-06);
        assert_eq!(python_round(0.5, 0), 0.0);
        assert_eq!(python_round(1.5, 0), 2.0);
        assert_eq!(python_round(2.5, 0), 2.0);
        assert_eq!(python_round(-2.5, 0), -2.0);
        assert_eq!(python_round(0.1 + 0.2, 6), 0.3);
        assert_eq!(python_round(123.456, -1), 120.0);
        assert_eq!(python_round(125.0, -1), 120.0);
        assert_eq!(python_round(135.0, -1), 140.0);
        assert_eq!(python_round(999.9, 0), 1000.0);
        assert_eq!(python_round(9.995, 2), 9.99); // 9.99499999999999921840299066388979554176330566...
        assert_eq!(python_round(1.23456789e-300, 305), 1.23457e-300);
        assert_eq!(python_round(5e-324, 323), 0.0);
        assert_eq!(python_round(1e300, -299), 1e300);
        assert_eq!(python_round(4e300, -301), 0.0);
        assert_eq!(python_round(6e300, -301), 1e301);
    }

    #[test]
    fn round_special_values() {
        assert!(python_round(f64::NAN, 2).is_nan());
        assert_eq!(python_round(f64::INFINITY, 2), f64::INFINITY);
        assert_eq!(python_round(f64::NEG_INFINITY, -2), f64::NEG_INFINITY);
        let z = python_round(-0.001, 2);
        assert!(z == 0.0 && z.is_sign_negative());
        let z = python_round(-0.0, 2);
        assert!(z == 0.0 && z.is_sign_negative());
        let z = python_round(-5.0, -400);
        assert!(z == 0.0 && z.is_sign_negative());
        assert_eq!(python_round(0.1, 400), 0.1);
        assert_eq!(python_round(1.7976931348623157e308, -308), f64::INFINITY);
        assert_eq!(python_round(f64::MAX, 0), f64::MAX);
    }
}
