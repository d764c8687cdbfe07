//! Salvaging what a torn (or intact) old output still holds (spec §3.7): the fields that
//! cannot be rebuilt from checkpoints (`model`, `timestamp`, the consistency-check edits) can be
//! carried over from the old file when it is readable, even only as a prefix.
//!
//! A hard kill leaves a **prefix** of the document (spec §4). Python writes members in order, so
//! the prefix holds the leading top-level members complete (`dataset`, `model`, `timestamp`,
//! `metrics`, …) and then a prefix of the `results` array. [`salvage_leading_fields`] finds the
//! boundaries of top-level members and of `results` elements with a small scanner that respects
//! strings and escapes, and parses each complete piece on its own with [`crate::pyjson::parse`].
//! It never recurses and never panics, whatever the bytes. The scanner (`value_end`,
//! `string_end`, `skip_ws`, `walk_members`) is the one tokenizer of every salvage: `pipeline`
//! and `lossless` read torn files with it too.

use crate::pyjson::{parse, PyObject, PyValue};

/// What could be recovered from an old output file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SalvagedFields {
    /// Every complete top-level member before the first incomplete one, in file order, except
    /// the big unit lists `results` and `units` (a `results` array goes to [`Self::results`]).
    pub fields: PyObject,
    /// The complete elements of the top-level `results` array, in order.
    pub results: Vec<PyValue>,
    /// Whether the `results` array was seen whole (its closing `]`).
    pub results_complete: bool,
    /// Whether the whole file parsed as one JSON object.
    pub complete: bool,
    /// `result_for`'s index, built on first use.
    by_key: std::cell::OnceCell<std::collections::HashMap<String, usize>>,
}

impl SalvagedFields {
    /// A top-level string member, e.g. `model` or `timestamp`.
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(PyValue::as_str)
    }

    /// Whether nothing at all was recovered.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.results.is_empty()
    }

    /// The salvaged result whose `unit_id` (or, failing that, `route_key`) is `key`; the last
    /// one wins, as in a Python dict built over the list.
    pub fn result_for(&self, key: &str) -> Option<&PyValue> {
        let index = self.by_key.get_or_init(|| {
            // Inserting in order lets the last element of each key win.
            self.results.iter().enumerate().filter_map(|(i, r)| Some((result_key(r)?.to_owned(), i))).collect()
        });
        index.get(key).map(|&i| &self.results[i])
    }

    /// Unit `id`'s stage-1 result as the `results_verified.json` salvaged in `self` still holds
    /// it. Verify edits a candidate row in place and appends its keys (spec §3.3, docs/openant-eras.md
    /// §1.2): a row without any of them is the stage-1 row as it was; a row Stage 2 agreed with
    /// (`verification.agree` true, no other word, no consistency pass) kept its `finding`, and
    /// without the appended keys it is the stage-1 row again. Any other edited row (a
    /// disagreement, an incomplete or errored verification, a consistency update) no longer says
    /// what stage 1 found: `None`.
    pub fn stage1_row_of_verified(&self, id: &str) -> Option<PyValue> {
        let row = self.result_for(id).filter(|r| r.get("unit_id").and_then(PyValue::as_str) == Some(id))?;
        let object = row.as_object()?;
        if VERIFY_CONSISTENCY_KEYS.iter().any(|k| object.contains_key(*k)) {
            return None;
        }
        let Some(verification) = object.get("verification") else {
            return (!object.contains_key("verification_note")).then(|| row.clone());
        };
        let agreed = verification.get("agree").and_then(PyValue::as_bool) == Some(true);
        let lower = |v: Option<&PyValue>| v.and_then(PyValue::as_str).map(str::to_lowercase);
        let same_word = match verification.get("correct_finding") {
            None => true,
            correct => lower(correct).is_some() && lower(correct) == lower(object.get("finding")),
        };
        let note_empty = object.get("verification_note").is_none_or(|n| n.as_str() == Some(""));
        if !(agreed && same_word && note_empty && !verification.get("incomplete").is_some_and(super::py::truthy)) {
            return None;
        }
        let mut stage1 = object.clone();
        for key in VERIFY_ROW_KEYS {
            stage1.shift_remove(*key);
        }
        Some(PyValue::from(stage1))
    }
}

/// The keys verify appends to a stage-1 row it verified (spec §3.3 step 3).
const VERIFY_ROW_KEYS: &[&str] = &["verification", "verification_note"];

/// The keys verify's consistency pass appends (spec §3.3 step 4, docs/openant-eras.md §1.2).
const VERIFY_CONSISTENCY_KEYS: &[&str] = &["consistency_update", "consistency_downgrade_blocked"];

/// `r.get("unit_id") or r.get("route_key")`, as a string.
pub(crate) fn result_key(r: &PyValue) -> Option<&str> {
    match r.get("unit_id") {
        Some(PyValue::Str(s)) if !s.is_empty() => Some(s),
        Some(v) if super::py::truthy(v) => None,
        _ => r.get("route_key").and_then(PyValue::as_str),
    }
}

/// Recovers the leading top-level members and the complete prefix of the `results` array from
/// the bytes of a possibly torn JSON object. Garbage in gives an empty result, never a panic.
pub fn salvage_leading_fields(bytes: &[u8]) -> SalvagedFields {
    if may_be_whole_object(bytes) {
        if let Ok(PyValue::Object(map)) = parse(bytes) {
            return from_complete(*map);
        }
    }
    let mut out = SalvagedFields::default();
    let mut pos = skip_ws(bytes, 0);
    if bytes.get(pos) != Some(&b'{') {
        return out;
    }
    pos += 1;
    loop {
        pos = skip_ws(bytes, pos);
        if bytes.get(pos) != Some(&b'"') {
            return out;
        }
        let Some(key_end) = value_end(bytes, pos) else { return out };
        let Ok(PyValue::Str(key)) = parse(&bytes[pos..key_end]) else { return out };
        pos = skip_ws(bytes, key_end);
        if bytes.get(pos) != Some(&b':') {
            return out;
        }
        pos = skip_ws(bytes, pos + 1);
        if key == "results" && bytes.get(pos) == Some(&b'[') {
            match salvage_array(bytes, pos, &mut out.results) {
                Some(end) => {
                    out.results_complete = true;
                    pos = end;
                }
                None => return out,
            }
        } else {
            let Some(end) = value_end(bytes, pos) else { return out };
            let Ok(value) = parse(&bytes[pos..end]) else { return out };
            if key != "units" && key != "results" {
                out.fields.insert(key, value);
            }
            pos = end;
        }
        pos = skip_ws(bytes, pos);
        match bytes.get(pos) {
            Some(b',') => pos += 1,
            _ => return out,
        }
    }
}

fn from_complete(mut map: PyObject) -> SalvagedFields {
    let mut out = SalvagedFields { complete: true, ..SalvagedFields::default() };
    if let Some(PyValue::Array(items)) = map.get("results") {
        out.results = items.clone();
        out.results_complete = true;
    }
    map.shift_remove("results");
    map.shift_remove("units");
    out.fields = map;
    out
}

/// Parses the complete elements of the array starting at `start` (a `[`) into `items`.
/// Returns the offset after the closing `]`, or `None` if the array is torn or malformed.
fn salvage_array(bytes: &[u8], start: usize, items: &mut Vec<PyValue>) -> Option<usize> {
    let mut pos = skip_ws(bytes, start + 1);
    if bytes.get(pos) == Some(&b']') {
        return Some(pos + 1);
    }
    loop {
        pos = skip_ws(bytes, pos);
        let end = value_end(bytes, pos)?;
        items.push(parse(&bytes[pos..end]).ok()?);
        pos = skip_ws(bytes, end);
        match bytes.get(pos) {
            Some(b',') => pos += 1,
            Some(b']') => return Some(pos + 1),
            _ => return None,
        }
    }
}

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
/// This is the one tokenizer of every salvage (this module's and `pipeline`'s).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::to_python_string;
    use proptest::prelude::*;

    fn doc() -> String {
        let v = parse(
            br#"{"dataset": "d.json", "model": "m", "timestamp": "2026-01-01T00:00:00.5", "metrics": {"total": 2},
                "results": [{"unit_id": "a", "s": "x\"}]"}, {"unit_id": "b", "n": [1, 2]}], "code_by_route": {"a": "c"}}"#,
        )
        .unwrap();
        to_python_string(&v, true).unwrap()
    }

    #[test]
    fn complete_file_gives_everything() {
        let s = salvage_leading_fields(doc().as_bytes());
        assert!(s.complete && s.results_complete);
        assert_eq!(s.results.len(), 2);
        assert_eq!(s.str_field("model"), Some("m"));
        assert!(s.fields.contains_key("code_by_route"));
        assert!(!s.fields.contains_key("results"));
    }

    #[test]
    fn prefixes_give_leading_fields_and_complete_elements() {
        let d = doc();
        let cut = d.find("\"b\"").unwrap();
        let s = salvage_leading_fields(&d.as_bytes()[..cut]);
        assert!(!s.complete && !s.results_complete);
        assert_eq!(s.str_field("timestamp"), Some("2026-01-01T00:00:00.5"));
        assert_eq!(s.results.len(), 1);
        assert_eq!(s.results[0].get("s").and_then(PyValue::as_str), Some("x\"}]"));
        // Cut inside the timestamp: dataset and model only.
        let cut = d.find("2026").unwrap() + 3;
        let s = salvage_leading_fields(&d.as_bytes()[..cut]);
        assert_eq!(s.fields.keys().map(String::as_str).collect::<Vec<_>>(), ["dataset", "model"]);
        // A torn number is never taken as complete.
        let s = salvage_leading_fields(b"{\"a\": 12");
        assert!(s.fields.is_empty());
        let s = salvage_leading_fields(b"{\"a\": 12,");
        assert_eq!(s.fields.get("a"), Some(&PyValue::from(12)));
    }

    #[test]
    fn result_lookup_by_unit_id_then_route_key() {
        let s = salvage_leading_fields(
            br#"{"results": [{"route_key": "GET:/x"}, {"unit_id": "u"}, {"unit_id": "u", "k": 1}]}"#,
        );
        assert_eq!(s.result_for("u").and_then(|r| r.get("k")), Some(&PyValue::from(1)));
        assert!(s.result_for("GET:/x").is_some());
        assert!(s.result_for("nope").is_none());
    }

    /// The pipeline_output.json salvager's copy of this tokenizer answered an empty slice for an
    /// empty scalar; the one tokenizer answers `None` (no value), so a member `"a": ,` ends the
    /// salvage there in both callers, as the empty slice did once it failed to parse.
    #[test]
    fn an_empty_scalar_is_no_value() {
        let text = br#"{"a": , "b": 1}"#;
        assert_eq!(value_end(text, 6), None);
        assert_eq!(value_end(b"]", 0), None);
        assert_eq!(value_end(b"", 0), None);
        assert_eq!(value_end(b"12", 0), None);
        assert_eq!(value_end(b"12,", 0), Some(2));
        assert_eq!(salvage_leading_fields(br#"{"model": "m", "a": , "b": 1"#).str_field("model"), Some("m"));
        assert!(!salvage_leading_fields(br#"{"model": "m", "a": , "b": 1"#).fields.contains_key("b"));
    }

    #[test]
    fn garbage_is_empty() {
        for bad in [&b""[..], b"[1,2]", b"{", b"{\"", b"{\"a\"", b"{\"a\":", b"\xff\xfe", b"{\"a\": }", b"{]]]]"] {
            let s = salvage_leading_fields(bad);
            assert!(s.is_empty(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = salvage_leading_fields(&bytes);
        }

        #[test]
        fn never_panics_on_json_like_bytes(s in "[{}\\[\\]\",:\\\\ a-z0-9\n]{0,200}") {
            let _ = salvage_leading_fields(s.as_bytes());
        }
    }

    /// The byte-at-a-time tokenizer `value_end` and `string_end` replaced: their oracle.
    fn value_end_bytewise(bytes: &[u8], start: usize) -> Option<usize> {
        match *bytes.get(start)? {
            b'"' => string_end_bytewise(bytes, start),
            b'{' | b'[' => {
                let mut depth = 0usize;
                let mut pos = start;
                loop {
                    match *bytes.get(pos)? {
                        b'"' => {
                            pos = string_end_bytewise(bytes, pos)?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.checked_sub(1)?;
                            if depth == 0 {
                                return Some(pos + 1);
                            }
                        }
                        _ => {}
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

    fn string_end_bytewise(bytes: &[u8], start: usize) -> Option<usize> {
        let mut pos = start + 1;
        loop {
            match *bytes.get(pos)? {
                b'\\' => pos += 2,
                b'"' => return Some(pos + 1),
                _ => pos += 1,
            }
        }
    }

    proptest! {
        #[test]
        fn tokenizer_matches_the_bytewise_one(
            s in "[{}\\[\\]\",:\\\\ a-z0-9\n\u{e9}]{0,120}",
            cut in any::<proptest::sample::Index>(),
        ) {
            let bytes = s.as_bytes();
            for start in 0..=bytes.len() {
                prop_assert_eq!(value_end(bytes, start), value_end_bytewise(bytes, start), "start {}", start);
                if bytes.get(start) == Some(&b'"') {
                    prop_assert_eq!(string_end(bytes, start), string_end_bytewise(bytes, start));
                }
            }
            // Whole documents, cut anywhere.
            let doc = doc();
            let doc = &doc.as_bytes()[..cut.index(doc.len() + 1)];
            for start in 0..doc.len() {
                prop_assert_eq!(value_end(doc, start), value_end_bytewise(doc, start), "start {}", start);
            }
        }
    }

    #[test]
    fn every_prefix_is_monotone() {
        let d = doc();
        let mut last = 0;
        for cut in 0..=d.len() {
            let s = salvage_leading_fields(&d.as_bytes()[..cut]);
            let n = s.fields.len() + s.results.len();
            assert!(n >= last || s.complete, "prefix {cut}");
            last = n;
        }
    }
}
