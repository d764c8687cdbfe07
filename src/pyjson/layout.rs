//! The indented layout Python's `json.dumps(indent=2)` and Go's `MarshalIndent(v, "", "  ")`
//! share: each item on its own line indented by two spaces per level, `,` at the end of every
//! item but the last, `": "` after keys, and empty containers as `[]` / `{}`.
//! The two writers differ only in how scalars are spelled, which [`Scalars`] supplies, and in
//! which characters of a string become `\uxxxx`: Go's through [`write_string`], Python's
//! through [`write_string_escaping_controls`], which finds the runs to copy a word at a time.
//! Either writer fails only as [`WriteError`] says.

use super::bytescan::find_special;
use super::limits::MAX_DEPTH;
use super::value::PyValue;

/// Why a value cannot be written in the requested style.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// Nested deeper than [`MAX_DEPTH`]; Python's `json.dumps` fails with `RecursionError`.
    #[error("value nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// Go's `json.Marshal` refuses NaN and ±Infinity (`UnsupportedValueError`).
    #[error("Go's encoding/json cannot write the float {0}")]
    NonFiniteFloat(&'static str),
}

/// How one writer spells strings and floats. `Sync`: a long array's elements are written by
/// several threads at once.
pub(super) trait Scalars: Sync {
    fn string(&self, out: &mut String, s: &str);
    fn float(&self, out: &mut String, x: f64) -> Result<(), WriteError>;
}

/// A JSON string literal as both writers spell it: `"` and `\` escaped, the five controls
/// with short escapes (`\b \f \n \r \t`), every character `u_escaped` picks as `\uxxxx`
/// (lower-case hex; astral characters as a UTF-16 surrogate pair), everything else as is.
pub(super) fn write_string(out: &mut String, s: &str, u_escaped: impl Fn(char) -> bool) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Characters written as they are go out in runs, one copy per run.
    let mut run_start = 0;
    for (i, c) in s.char_indices() {
        if short_escape(c).is_some() || u_escaped(c) {
            out.push_str(&s[run_start..i]);
            push_escaped(out, c);
            run_start = i + c.len_utf8();
        }
    }
    out.push_str(&s[run_start..]);
    out.push('"');
}

/// [`write_string`] for a writer whose `u_escaped` picks exactly the controls below U+0020
/// and, with `escape_from_del`, every character from U+007F on (Python's `encode_basestring`
/// and `encode_basestring_ascii`): the same bytes, with the runs between escapes found a word
/// at a time instead of a character at a time.
pub(super) fn write_string_escaping_controls(out: &mut String, s: &str, escape_from_del: bool) {
    if escape_from_del {
        write_runs::<true>(out, s);
    } else {
        write_runs::<false>(out, s);
    }
}

fn write_runs<const FROM_DEL: bool>(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(s.len() + 2);
    out.push('"');
    let mut run_start = 0;
    loop {
        // Every byte `find_special` stops at starts a character to escape: `"`, `\`, a control,
        // or (FROM_DEL) U+007F or the first byte of a non-ASCII character. The bytes before it
        // are ASCII, so it is a char boundary.
        let at = find_special::<FROM_DEL>(bytes, run_start);
        out.push_str(&s[run_start..at]);
        let Some(c) = s[at..].chars().next() else { break };
        push_escaped(out, c);
        run_start = at + c.len_utf8();
    }
    out.push('"');
}

/// The two-character escape of `"`, `\` and the five controls that have one.
fn short_escape(c: char) -> Option<&'static str> {
    Some(match c {
        '"' => "\\\"",
        '\\' => "\\\\",
        '\u{8}' => "\\b",
        '\u{c}' => "\\f",
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        _ => return None,
    })
}

/// `c` escaped: its short escape if it has one, else `\uxxxx` (a surrogate pair past U+FFFF).
fn push_escaped(out: &mut String, c: char) {
    if let Some(escape) = short_escape(c) {
        out.push_str(escape);
    } else {
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            push_u_escape(out, *unit);
        }
    }
}

fn push_u_escape(out: &mut String, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digit = |shift: u16| HEX[usize::from((unit >> shift) & 0xf)];
    let escape = [b'\\', b'u', digit(12), digit(8), digit(4), digit(0)];
    out.extend(escape.map(char::from));
}

pub(super) fn write_indented(value: &PyValue, style: &impl Scalars) -> Result<String, WriteError> {
    write_indented_into(value, style, &mut KeepWhole)
}

/// [`write_indented`] taking the value: every part of it is freed once written, so the whole
/// tree and the whole text never exist together (a rebuilt dataset's tree is about three times
/// its text). The same bytes, and the same error, as [`write_indented`] on the same value.
pub(super) fn write_indented_consuming(value: PyValue, style: &impl Scalars) -> Result<String, WriteError> {
    write_indented_into(value, style, &mut KeepWhole)
}

/// Where the text goes as it is written: the writer appends to one `String`, and after each
/// array element and object member (at any level) hands it to [`Drain::drain`], which may take
/// the text written so far (and leave the `String` empty) to put it elsewhere, e.g. a file, so
/// that the whole text never has to be in memory. The text it takes, followed by the `String`
/// the writer returns, is the text [`write_indented`] returns.
pub trait Drain {
    /// The capacity the text starts with, given about how long the whole text is (rarely
    /// short: [`estimated_len`]).
    fn capacity(&mut self, estimated_len: usize) -> usize;
    /// Called with the text written so far; may take any of it from its start.
    fn drain(&mut self, text: &mut String);
}

/// The drain that takes nothing: the writer returns the whole text.
struct KeepWhole;

impl Drain for KeepWhole {
    fn capacity(&mut self, estimated_len: usize) -> usize {
        // Room for the whole text up front: growing by doubling would copy a 100 MB text several
        // times and fault in every intermediate buffer. Room reserved and never written costs no
        // memory (the pages are never touched).
        estimated_len
    }

    #[inline(always)]
    fn drain(&mut self, _text: &mut String) {}
}

/// [`write_indented`] (borrowing `value`) or [`write_indented_consuming`] (taking it), the text
/// handed to `drain` as it is written: returns what `drain` left of it.
pub(super) fn write_indented_into(
    value: impl Walked,
    style: &impl Scalars,
    drain: &mut impl Drain,
) -> Result<String, WriteError> {
    let mut out = String::with_capacity(drain.capacity(estimated_len(value.value(), 0)));
    write_value(&mut out, value, style, 0, drain)?;
    Ok(out)
}

/// A value as the writer walks it: borrowed, the tree left as it is, or owned, each element and
/// member freed right after it is written. One writer for both, so they write the same bytes.
pub(super) trait Walked: Sized + Send {
    fn value(&self) -> &PyValue;
    /// An array's elements (none for any other value).
    fn elements(self) -> impl Iterator<Item = Self>;
    /// An object's keys and values, in order (none for any other value).
    fn members(self) -> impl Iterator<Item = (impl AsRef<str>, Self)>;
}

impl Walked for &PyValue {
    fn value(&self) -> &PyValue {
        self
    }

    fn elements(self) -> impl Iterator<Item = Self> {
        self.as_array().map_or(&[][..], Vec::as_slice).iter()
    }

    fn members(self) -> impl Iterator<Item = (impl AsRef<str>, Self)> {
        self.as_object().into_iter().flat_map(|map| map.iter())
    }
}

impl Walked for PyValue {
    fn value(&self) -> &PyValue {
        self
    }

    fn elements(self) -> impl Iterator<Item = Self> {
        match self {
            PyValue::Array(items) => items,
            _ => Vec::new(),
        }
        .into_iter()
    }

    fn members(self) -> impl Iterator<Item = (impl AsRef<str>, Self)> {
        let map = match self {
            PyValue::Object(map) => Some(*map),
            _ => None,
        };
        map.into_iter().flatten()
    }
}

/// About how long the indented text of `value` at `level` is: exact for the layout, ints and
/// plain strings, generous for floats and strings (escapes), so that the estimate is rarely
/// short. Stops descending at [`MAX_DEPTH`], where writing fails anyway.
fn estimated_len(value: &PyValue, level: usize) -> usize {
    let item_overhead = 2 + 2 * (level + 1); // ",\n" and the indent
    match value {
        PyValue::Null | PyValue::Bool(_) => 5,
        PyValue::Int(n) => n.as_str().len(),
        PyValue::Float(_) => 24,
        PyValue::Str(s) => estimated_string_len(s),
        _ if level >= MAX_DEPTH => 0,
        PyValue::Array(items) => {
            2 + 2 * level + items.iter().map(|item| item_overhead + estimated_len(item, level + 1)).sum::<usize>()
        }
        PyValue::Object(map) => {
            2 + 2 * level
                + map
                    .iter()
                    .map(|(key, item)| item_overhead + estimated_string_len(key) + 2 + estimated_len(item, level + 1))
                    .sum::<usize>()
        }
    }
}

fn estimated_string_len(s: &str) -> usize {
    s.len() + s.len() / 8 + 2
}

/// Two spaces per level, for the indents up to this deep without a loop.
const SPACES: &str = "                                                                ";

fn newline(out: &mut String, level: usize) {
    out.push('\n');
    let mut width = 2 * level;
    while width > 0 {
        let step = width.min(SPACES.len());
        out.push_str(&SPACES[..step]);
        width -= step;
    }
}

fn write_value(
    out: &mut String,
    value: impl Walked,
    style: &impl Scalars,
    level: usize,
    drain: &mut impl Drain,
) -> Result<(), WriteError> {
    // What the value is, asked of it before its parts are taken (an owned value is taken apart).
    let (is_array, len) = match value.value() {
        PyValue::Null => {
            out.push_str("null");
            return Ok(());
        }
        PyValue::Bool(b) => {
            out.push_str(if *b { "true" } else { "false" });
            return Ok(());
        }
        PyValue::Int(n) => {
            out.push_str(n.as_str());
            return Ok(());
        }
        PyValue::Float(x) => return style.float(out, *x),
        PyValue::Str(s) => {
            style.string(out, s);
            return Ok(());
        }
        PyValue::Array(_) | PyValue::Object(_) if level >= MAX_DEPTH => return Err(WriteError::TooDeep),
        PyValue::Array(items) => (true, items.len()),
        PyValue::Object(map) => (false, map.len()),
    };
    match (is_array, len) {
        (true, 0) => out.push_str("[]"),
        (false, 0) => out.push_str("{}"),
        (true, _) => {
            let parallel = level < PARALLEL_LEVELS && len >= PARALLEL_MIN_ITEMS;
            out.push('[');
            if parallel {
                write_elements_in_parallel(out, value.elements(), style, level + 1, drain)?;
            } else {
                write_elements(out, value.elements(), true, style, level + 1, drain)?;
            }
            newline(out, level);
            out.push(']');
        }
        (false, _) => {
            out.push('{');
            for (i, (key, item)) in value.members().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                style.string(out, key.as_ref());
                out.push_str(": ");
                write_value(out, item, style, level + 1, drain)?;
                drain.drain(out);
            }
            newline(out, level);
            out.push('}');
        }
    }
    Ok(())
}

/// The elements of an array at `level`, each on its own line after a `,` (none before the
/// first element of the array: `first` says whether `items` starts the array).
fn write_elements<V: Walked>(
    out: &mut String,
    items: impl Iterator<Item = V>,
    first: bool,
    style: &impl Scalars,
    level: usize,
    drain: &mut impl Drain,
) -> Result<(), WriteError> {
    for (i, item) in items.enumerate() {
        if i > 0 || !first {
            out.push(',');
        }
        newline(out, level);
        write_value(out, item, style, level, drain)?;
        drain.drain(out);
    }
    Ok(())
}

/// Only arrays this near the top are split across threads: the long unit and result lists of
/// OpenAnt's outputs sit at level 1, and the pieces of one split array already keep every
/// thread busy.
const PARALLEL_LEVELS: usize = 2;
/// Shorter arrays are not worth the threads' start-up.
const PARALLEL_MIN_ITEMS: usize = 256;
/// Elements per piece one thread writes.
const PIECE_ITEMS: usize = 32;
/// Pieces written before they are appended to the output, so that at most this many pieces'
/// text is held twice at a time.
const PIECES_PER_ROUND: usize = 32;

/// [`write_elements`] for a long array: pieces of consecutive elements are written to their
/// own strings on rayon's threads and appended in order. Each element's text depends only on
/// the element, the level and the style, so the result is the same bytes; when an element
/// cannot be written, the error is the first one in array order, as writing in order gives.
fn write_elements_in_parallel<V: Walked>(
    out: &mut String,
    mut items: impl Iterator<Item = V>,
    style: &impl Scalars,
    level: usize,
    drain: &mut impl Drain,
) -> Result<(), WriteError> {
    use rayon::prelude::*;
    for round in 0.. {
        let mut pieces: Vec<Vec<V>> = Vec::new();
        for _ in 0..PIECES_PER_ROUND {
            let piece: Vec<V> = items.by_ref().take(PIECE_ITEMS).collect();
            if piece.is_empty() {
                break;
            }
            pieces.push(piece);
        }
        if pieces.is_empty() {
            break;
        }
        let pieces: Vec<Result<String, WriteError>> = pieces
            .into_par_iter()
            .enumerate()
            .map(|(piece, piece_items)| {
                let mut text = String::new();
                let first = round == 0 && piece == 0;
                // A piece is handed to `drain` once appended, not while it is written.
                write_elements(&mut text, piece_items.into_iter(), first, style, level, &mut KeepWhole).map(|()| text)
            })
            .collect();
        for piece in pieces {
            out.push_str(&piece?);
            drain.drain(out);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::PyObject;
    use proptest::prelude::*;

    /// The character-at-a-time string writer the run-copying ones replaced: their oracle.
    fn write_string_charwise(out: &mut String, s: &str, u_escaped: impl Fn(char) -> bool) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if u_escaped(c) => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }

    /// The sequential writer the parallel one must agree with, byte for byte and error for error.
    fn write_value_sequential(
        out: &mut String,
        value: &PyValue,
        style: &impl Scalars,
        level: usize,
    ) -> Result<(), WriteError> {
        match value {
            PyValue::Array(_) | PyValue::Object(_) if level >= MAX_DEPTH => return Err(WriteError::TooDeep),
            PyValue::Array(items) if !items.is_empty() => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, level + 1);
                    write_value_sequential(out, item, style, level + 1)?;
                }
                newline(out, level);
                out.push(']');
            }
            PyValue::Object(map) if !map.is_empty() => {
                out.push('{');
                for (i, (key, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, level + 1);
                    style.string(out, key);
                    out.push_str(": ");
                    write_value_sequential(out, item, style, level + 1)?;
                }
                newline(out, level);
                out.push('}');
            }
            scalar => write_value(out, scalar, style, level, &mut KeepWhole)?,
        }
        Ok(())
    }

    /// A style that refuses non-finite floats (as Go's does), to see which error wins.
    struct Strict;

    impl Scalars for Strict {
        fn string(&self, out: &mut String, s: &str) {
            write_string(out, s, |c| c < ' ' || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}'));
        }

        fn float(&self, out: &mut String, x: f64) -> Result<(), WriteError> {
            if x.is_nan() {
                return Err(WriteError::NonFiniteFloat("NaN"));
            }
            out.push_str(&x.to_string());
            Ok(())
        }
    }

    fn python_escaped(ensure_ascii: bool) -> impl Fn(char) -> bool {
        move |c| c < ' ' || (ensure_ascii && c > '~')
    }

    fn go_escaped(c: char) -> bool {
        matches!(c, '\u{0}'..='\u{1f}' | '<' | '>' | '&' | '\u{2028}' | '\u{2029}')
    }

    fn any_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            6 => "[ -~]{0,40}".prop_map(String::from),
            2 => proptest::sample::select(vec![
                "\"", "\\", "\n", "\r", "\t", "\u{8}", "\u{c}", "\u{0}", "\u{1f}", "\u{7f}", "\u{80}", "\u{9f}",
                "é", "\u{2028}", "\u{2029}", "\u{ffff}", "😀", "<>&", "~",
            ])
            .prop_map(str::to_owned),
            1 => "[\u{80}-\u{10ffff}]{1,8}".prop_map(String::from),
        ];
        proptest::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat())
    }

    fn any_tree() -> impl Strategy<Value = PyValue> {
        let leaf = prop_oneof![
            Just(PyValue::Null),
            any::<bool>().prop_map(PyValue::from),
            any::<i64>().prop_map(PyValue::from),
            prop_oneof![Just(f64::NAN), any::<f64>()].prop_map(PyValue::Float),
            any_text().prop_map(PyValue::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(PyValue::Array),
                proptest::collection::vec((any_text(), inner), 0..4)
                    .prop_map(|members| PyValue::from(members.into_iter().collect::<PyObject>())),
            ]
        })
    }

    proptest! {
        #[test]
        fn strings_match_the_charwise_writer(s in any_text()) {
            for ensure_ascii in [false, true] {
                let mut want = String::new();
                write_string_charwise(&mut want, &s, python_escaped(ensure_ascii));
                let mut runs = String::new();
                write_string(&mut runs, &s, python_escaped(ensure_ascii));
                let mut words = String::new();
                write_string_escaping_controls(&mut words, &s, ensure_ascii);
                prop_assert_eq!(&runs, &want);
                prop_assert_eq!(&words, &want);
            }
            let mut want = String::new();
            write_string_charwise(&mut want, &s, go_escaped);
            let mut runs = String::new();
            write_string(&mut runs, &s, go_escaped);
            prop_assert_eq!(runs, want);
        }
    }

    proptest! {
        // Each case writes hundreds of trees.
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn long_arrays_written_in_parallel_match_the_sequential_writer(
            items in proptest::collection::vec(any_tree(), PARALLEL_MIN_ITEMS..PARALLEL_MIN_ITEMS + 3 * PIECE_ITEMS * PIECES_PER_ROUND / 2),
            nested in any::<bool>(),
        ) {
            let array = PyValue::Array(items);
            let value = if nested { PyValue::from([("results".to_owned(), array)].into_iter().collect::<PyObject>()) } else { array };
            let mut want = String::new();
            let want = write_value_sequential(&mut want, &value, &Strict, 0).map(|()| want);
            prop_assert_eq!(write_indented(&value, &Strict), want);
        }
    }

    /// A value nested one level deeper than the writers allow, at `depth` levels in.
    fn too_deep_at(depth: usize) -> PyValue {
        let mut value = PyValue::Array(vec![]);
        for _ in depth..MAX_DEPTH {
            value = PyValue::Array(vec![value]);
        }
        value
    }

    /// Some document: a tree, a long list of trees (written in parallel) under a key or not,
    /// now and then with a value too deep to write or a NaN (which [`Strict`] refuses) in it.
    fn any_document() -> impl Strategy<Value = PyValue> {
        let long = proptest::collection::vec(
            any_tree(),
            PARALLEL_MIN_ITEMS..PARALLEL_MIN_ITEMS + 2 * PIECE_ITEMS * PIECES_PER_ROUND,
        );
        let items = prop_oneof![4 => proptest::collection::vec(any_tree(), 0..4), 1 => long];
        let spoiled = proptest::option::weighted(0.3, (any::<proptest::sample::Index>(), any::<bool>()));
        (items, spoiled, any::<bool>()).prop_map(|(mut items, spoiled, nested)| {
            let level = usize::from(nested) + 1;
            if let (Some((at, deep)), false) = (spoiled, items.is_empty()) {
                let at = at.index(items.len());
                items[at] = if deep { too_deep_at(level) } else { PyValue::Float(f64::NAN) };
            }
            let array = PyValue::Array(items);
            if nested {
                PyValue::from([("units".to_owned(), array)].into_iter().collect::<PyObject>())
            } else {
                array
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The consuming writer writes what the borrowing one writes, and fails as it fails.
        #[test]
        fn the_consuming_writer_matches_the_borrowing_one(doc in any_document(), ascii in any::<bool>()) {
            prop_assert_eq!(write_indented_consuming(doc.clone(), &Strict), write_indented(&doc, &Strict));
            let python = |ascii| crate::pyjson::to_python_string(&doc, ascii);
            prop_assert_eq!(crate::pyjson::into_python_string(doc.clone(), ascii), python(ascii));
        }
    }

    /// Takes the text whenever it is at least `at_least` bytes long (0: every time it is asked).
    struct TakeFrom {
        at_least: usize,
        taken: String,
        asked: usize,
    }

    impl Drain for TakeFrom {
        fn capacity(&mut self, _estimated_len: usize) -> usize {
            0
        }

        fn drain(&mut self, text: &mut String) {
            self.asked += 1;
            if text.len() >= self.at_least {
                self.taken.push_str(text);
                text.clear();
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// What a drain takes as the text is written, and what is left, are the whole text, in
        /// order, from the borrowing and the consuming writer alike; an error is the same error.
        #[test]
        fn a_drained_text_is_the_whole_text(doc in any_document(), at_least in 0usize..200, ascii in any::<bool>()) {
            let whole = write_indented(&doc, &Strict);
            for consuming in [false, true] {
                let mut drain = TakeFrom { at_least, taken: String::new(), asked: 0 };
                let rest = if consuming {
                    write_indented_into(doc.clone(), &Strict, &mut drain)
                } else {
                    write_indented_into(&doc, &Strict, &mut drain)
                };
                prop_assert_eq!(rest.map(|rest| drain.taken + &rest), whole.clone());
            }
            let mut drain = TakeFrom { at_least, taken: String::new(), asked: 0 };
            let rest = crate::pyjson::write_python_into(&doc, ascii, &mut drain);
            prop_assert_eq!(rest.map(|rest| drain.taken + &rest), crate::pyjson::to_python_string(&doc, ascii));
        }
    }

    /// The drain is asked after each element of a long array, and after each member: a long
    /// document is never held whole by a drain that takes it.
    #[test]
    fn a_drain_is_asked_as_each_element_is_written() {
        let items = (0..3 * PIECE_ITEMS * PIECES_PER_ROUND).map(|i| PyValue::from(i as i64)).collect();
        let doc: PyObject =
            [("units".to_owned(), PyValue::Array(items)), ("n".to_owned(), PyValue::from(1))].into_iter().collect();
        let doc = PyValue::from(doc);
        let mut drain = TakeFrom { at_least: 0, taken: String::new(), asked: 0 };
        let rest = write_indented_into(doc.clone(), &Strict, &mut drain).unwrap();
        assert_eq!(rest, "\n}");
        assert_eq!(drain.taken + &rest, write_indented(&doc, &Strict).unwrap());
        assert!(drain.asked > 3 * PIECES_PER_ROUND, "asked {} times", drain.asked);
    }

    #[test]
    fn the_consuming_writer_fails_on_too_deep_values_as_the_borrowing_one() {
        for depth in [0, 1, 2, 3] {
            let mut value = too_deep_at(depth);
            for _ in 0..depth {
                value = PyValue::Array(vec![PyValue::from(1), value]);
            }
            assert_eq!(write_indented(&value, &Strict), Err(WriteError::TooDeep));
            assert_eq!(write_indented_consuming(value, &Strict), Err(WriteError::TooDeep));
        }
    }

    #[test]
    fn the_first_error_in_array_order_wins() {
        let mut too_deep = PyValue::Array(vec![]);
        for _ in 0..MAX_DEPTH {
            too_deep = PyValue::Array(vec![too_deep]);
        }
        let n = 3 * PIECE_ITEMS * PIECES_PER_ROUND;
        for (deep_at, nan_at) in [(5, n - 5), (n - 5, 5), (PIECE_ITEMS * PIECES_PER_ROUND + 1, n - 1)] {
            let mut items = vec![PyValue::from("x"); n];
            items[deep_at] = too_deep.clone();
            items[nan_at] = PyValue::Float(f64::NAN);
            let want = if deep_at < nan_at { WriteError::TooDeep } else { WriteError::NonFiniteFloat("NaN") };
            assert_eq!(write_indented(&PyValue::Array(items), &Strict), Err(want));
        }
    }

    #[test]
    fn indents_deeper_than_the_spaces_constant() {
        let mut value = PyValue::from(1);
        for _ in 0..(SPACES.len() / 2 + 3) {
            value = PyValue::Array(vec![value]);
        }
        let mut want = String::new();
        write_value_sequential(&mut want, &value, &Strict, 0).unwrap();
        assert_eq!(write_indented(&value, &Strict).unwrap(), want);
        assert!(want.contains(&format!("\n{}1\n", " ".repeat(SPACES.len() + 6))));
    }
}
