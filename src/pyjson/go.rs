//! The Go writer: `json.MarshalIndent(v, "", "  ")` followed by `"\n"`, as OpenAnt's Go CLI
//! writes `meta.json`, `project.json`, `config.json` and `diff_manifest.json`.
//!
//! Source of every rule below: Go's `src/encoding/json/encode.go` (golang/go @ 956bcd29,
//! `appendString`, `floatEncoder.encode`) and `indent.go` (`appendIndent`); OpenAnt's CLI is
//! built with `go 1.25.7` (`apps/openant-cli/go.mod`), so the `\b`/`\f` short escapes added in
//! Go 1.22 apply. Keys are written in the order read: Go writes struct fields in declaration
//! order, which is the order in the file (maps, which Go sorts, come back sorted already).

use super::layout::WriteError;
use super::layout::{write_indented, write_string, Scalars};
use super::python::shortest_digits;
use super::value::PyValue;

/// The exact bytes Go's `json.MarshalIndent(v, "", "  ")` plus a trailing `"\n"` produce.
///
/// Fails for NaN and ±Infinity, which Go refuses to marshal, and for nesting deeper than
/// [`super::limits::MAX_DEPTH`].
pub fn to_go_string(value: &PyValue) -> Result<String, WriteError> {
    let mut out = write_indented(value, &Go)?;
    out.push('\n');
    Ok(out)
}

struct Go;

impl Scalars for Go {
    /// `appendString(dst, s, escapeHTML=true)`.
    fn string(&self, out: &mut String, s: &str) {
        // Other controls, the HTML-sensitive `< > &`, and the JSONP-breaking U+2028/U+2029 as
        // `\u00xx` / `\u202x`.
        write_string(out, s, |c| matches!(c, '\u{0}'..='\u{1f}' | '<' | '>' | '&' | '\u{2028}' | '\u{2029}'));
    }

    /// `floatEncoder(64).encode`: like ES6 number-to-string. `strconv.AppendFloat(f, 'f', -1)`
    /// (shortest digits, fixed notation, no `.0`) unless `abs < 1e-6 || abs >= 1e21` (and not
    /// zero), then `'e'` (`d.ddde±dd`) with a `e-0d` exponent shortened to `e-d`.
    fn float(&self, out: &mut String, x: f64) -> Result<(), WriteError> {
        if x.is_nan() {
            return Err(WriteError::NonFiniteFloat("NaN"));
        }
        if x.is_infinite() {
            return Err(WriteError::NonFiniteFloat(if x > 0.0 { "+Inf" } else { "-Inf" }));
        }
        if x.is_sign_negative() {
            out.push('-');
        }
        if x == 0.0 {
            out.push('0');
            return Ok(());
        }
        let abs = x.abs();
        let (digits, exp) = shortest_digits(abs);
        if !(1e-6..1e21).contains(&abs) {
            let (first, rest) = digits.split_at(1);
            out.push_str(first);
            if !rest.is_empty() {
                out.push('.');
                out.push_str(rest);
            }
            out.push('e');
            out.push(if exp < 0 { '-' } else { '+' });
            // strconv pads the exponent to two digits; encoding/json then drops the pad of a
            // negative one ("e-07" -> "e-7"), leaving positive ones as "e+21".
            if exp < 0 {
                out.push_str(&exp.abs().to_string());
            } else {
                out.push_str(&format!("{exp:02}"));
            }
        } else if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() > int_len {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            } else {
                out.push_str(&digits);
                out.push_str(&"0".repeat(int_len - digits.len()));
            }
        } else {
            out.push_str("0.");
            out.push_str(&"0".repeat((-exp - 1) as usize));
            out.push_str(&digits);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn go(text: &str) -> String {
        to_go_string(&parse(text.as_bytes()).unwrap()).unwrap()
    }

    fn go_float(x: f64) -> String {
        let mut out = String::new();
        Go.float(&mut out, x).unwrap();
        out
    }

    /// Layout per `encoding/json.Indent` (`appendIndent`): newline + prefix + indent per level,
    /// `": "` after keys, and `[]`/`{}` kept compact ("suppress indent in empty object/array").
    /// MarshalIndent adds no newline; OpenAnt's `SaveScanMeta`/`SaveProject`/`config.Save`/
    /// `WriteManifest` append `'\n'` themselves.
    #[test]
    fn layout_matches_marshal_indent() {
        assert_eq!(
            go(r#"{"kind":"full","commit":"abc","changed_files":[],"hunks":{},"n":3}"#),
            "{\n  \"kind\": \"full\",\n  \"commit\": \"abc\",\n  \"changed_files\": [],\n  \"hunks\": {},\n  \"n\": 3\n}\n"
        );
        assert_eq!(
            go(r#"{"hunks":{"a.go":[[1,2],[5,9]]}}"#),
            "{\n  \"hunks\": {\n    \"a.go\": [\n      [\n        1,\n        2\n      ],\n      [\n        5,\n        9\n      ]\n    ]\n  }\n}\n"
        );
        assert_eq!(go("[]"), "[]\n");
        assert_eq!(go("{}"), "{}\n");
        assert_eq!(go("null"), "null\n");
    }

    /// `appendString` with escapeHTML: `\"` `\\` `\b` `\f` `\n` `\r` `\t` short (Go >= 1.22),
    /// other C0 controls `\u00xx` (hex digits "0123456789abcdef"), `<` `>` `&` as `\u003c`
    /// `\u003e` `\u0026`, U+2028/U+2029 as `\u2028`/`\u2029`, everything else raw UTF-8
    /// (DEL and C1 controls included; `/` not escaped).
    #[test]
    fn string_escapes_match_append_string() {
        let v =
            PyValue::from("\"\\/\u{8}\u{c}\n\r\t\u{0}\u{1b}\u{1f}<a href='x'>&amp; \u{7f}\u{85}é\u{2028}\u{2029}😀");
        assert_eq!(
            to_go_string(&v).unwrap(),
            "\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001b\\u001f\\u003ca href='x'\\u003e\\u0026amp; \u{7f}\u{85}é\\u2028\\u2029😀\"\n"
        );
        // Keys get the same escaping (struct field names via nameEscHTML, map keys via
        // appendString).
        assert_eq!(go(r#"{"a<b":1}"#), "{\n  \"a\\u003cb\": 1\n}\n");
    }

    /// `floatEncoder`: cutoffs 1e-6 and 1e21 (ES6), 'f' with shortest digits, 'e' with the
    /// `e-0X` -> `e-X` clean-up; examples in the spirit of encode_test.go's float tests.
    #[test]
    fn floats_match_float_encoder() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (3.0, "3"),
            (0.5, "0.5"),
            (-1.25, "-1.25"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e-6, "0.000001"),
            (9.99e-7, "9.99e-7"),
            (1e-7, "1e-7"),
            (1.5e-10, "1.5e-10"),
            (5e-324, "5e-324"),
            (1e20, "100000000000000000000"),
            (123456789.125, "123456789.125"),
            (1e21, "1e+21"),
            (1.2345e22, "1.2345e+22"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (-2e-9, "-2e-9"),
            // An exact tie between two shortest candidates goes to the even digit
            // (strconv/ftoaryu.go ryuDigits32: `cNextDigit == 5 && c0 && central&1 == 1`).
            (1772326908235441.0 + 0.25, "1772326908235441.2"),
        ];
        for &(x, want) in cases {
            assert_eq!(go_float(x), want, "{x:?}");
        }
    }

    #[test]
    fn ints_verbatim_and_floats_stay_floats() {
        assert_eq!(
            go(r#"{"pr_number": 42, "big": 123456789012345678901234567890, "f": 2.0}"#),
            "{\n  \"pr_number\": 42,\n  \"big\": 123456789012345678901234567890,\n  \"f\": 2\n}\n"
        );
    }

    #[test]
    fn non_finite_floats_are_refused() {
        for (text, name) in [("NaN", "NaN"), ("Infinity", "+Inf"), ("[-Infinity]", "-Inf")] {
            assert_eq!(to_go_string(&parse(text.as_bytes()).unwrap()), Err(WriteError::NonFiniteFloat(name)));
        }
    }

    #[test]
    fn go_output_round_trips_through_the_parser() {
        let text = "{\n  \"kind\": \"diff\",\n  \"base\": \"main\",\n  \"scope\": \"callers\",\n  \"changed_files\": [\n    \"a<b>&c.go\"\n  ]\n}\n";
        let v = parse(text.as_bytes()).unwrap();
        assert_eq!(to_go_string(&v).unwrap(), text.replace("a<b>&c", "a\\u003cb\\u003e\\u0026c"));
        let escaped = to_go_string(&v).unwrap();
        assert_eq!(to_go_string(&parse(escaped.as_bytes()).unwrap()).unwrap(), escaped);
    }
}
