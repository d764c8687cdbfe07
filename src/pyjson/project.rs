//! The projected reader: a document read exactly as [`parse`](super::parse) reads it (the same
//! acceptance, the same error kind, message and offset on every input), of which only the
//! members a caller names are built. Every other value is checked and stepped over without
//! being built; a member named [`Member::Span`] is stepped over too, and where its value lies in
//! the text is recorded, so that a caller can build it later, from the same bytes, only if it
//! turns out to need it.
//!
//! The result is the tree [`parse`](super::parse) gives with every member not named removed
//! from the objects [`Keep::Members`] applies to (a value of another type there is kept whole).
//! Duplicate keys behave as in the whole tree: the key keeps its first position and takes the
//! last value, and a recorded span inside an overwritten value is dropped with it.
//!
//! Why: repair's results.json rebuild reads a few members of each unit of a dataset whose
//! units' code is most of its text; the whole tree was about three times the file's size.

use std::ops::Range;

use super::limits::MAX_DEPTH;
use super::parse::{Items, ParseError, ParseErrorKind, Parser};
use super::value::PyValue;

/// What to build of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The whole value.
    All,
    /// Of an object, only these members (the first entry of a key counts); any other value
    /// whole.
    Members(&'static [(&'static str, Member)]),
    /// Of an array, every element as given; any other value whole.
    Elements(&'static Keep),
}

/// What to do with a member [`Keep::Members`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// Build it as given.
    Keep(Keep),
    /// Leave it out of the tree and record where its value lies ([`Projected::spans`]).
    Span,
}

/// One step of the way from the root to a value: an object's key, or an array's index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A projected document.
#[derive(Debug, Clone, PartialEq)]
pub struct Projected {
    /// The tree of the members kept.
    pub value: PyValue,
    /// Where each [`Member::Span`] member's value lies in the text (a byte range that
    /// [`parse`](super::parse) reads on its own), by its way from the root, in document order.
    pub spans: Vec<(Vec<Step>, Range<usize>)>,
}

/// Reads `bytes` as [`parse`](super::parse) does, building only what `keep` names.
///
/// Never panics and never recurses, whatever the input; nesting is limited to [`MAX_DEPTH`]
/// as in [`parse`](super::parse), skipped containers included.
pub fn parse_projected(bytes: &[u8], keep: &Keep) -> Result<Projected, ParseError> {
    let mut reader = Reader { p: Parser::new(bytes)?, items: Items::default(), spans: Vec::new(), seen: Vec::new() };
    let value = reader.document(keep)?;
    let spans = reader.spans.into_iter().flatten().collect();
    Ok(Projected { value, spans })
}

/// A container being built.
enum Frame<'k> {
    /// Its elements start at `start` on the item stack; `count` are done; each is read as
    /// `each` says.
    Array { start: usize, count: usize, each: &'k Keep },
    /// Its members start at `start`; `key` is the member being read, `named` its entry in
    /// `members` (`None` for an object built whole). `spans_from` is where the spans recorded
    /// inside the member being read start, `seen_from` where this object's entries of
    /// [`Reader::seen`] start.
    Object {
        start: usize,
        members: Option<&'k [(&'static str, Member)]>,
        key: String,
        named: Option<usize>,
        spans_from: usize,
        seen_from: usize,
    },
}

/// How the value at hand is read.
#[derive(Clone, Copy)]
enum Want<'k> {
    Build(&'k Keep),
    Span,
    Skip,
}

struct Reader<'a> {
    p: Parser<'a>,
    items: Items,
    /// Recorded spans; `None` once the value holding one was overwritten by a duplicate key.
    spans: Vec<Option<(Vec<Step>, Range<usize>)>>,
    /// For each open projected object, the named members that recorded spans: the entry's
    /// index and the range of [`Reader::spans`] they recorded, so a later member of the same
    /// key drops them (last value wins).
    seen: Vec<(usize, Range<usize>)>,
}

impl<'a> Reader<'a> {
    fn document(&mut self, keep: &Keep) -> Result<PyValue, ParseError> {
        let mut stack: Vec<Frame<'_>> = Vec::new();
        let mut skip_stack: Vec<bool> = Vec::new();
        let mut want = Want::Build(keep);
        self.p.skip_ws();
        'value: loop {
            // Read one value (or skip it), or open a container and come back for its first item.
            let mut value: Option<PyValue> = match want {
                Want::Skip => {
                    self.skip_value(stack.len(), &mut skip_stack)?;
                    None
                }
                Want::Span => {
                    let start = self.p.pos;
                    self.skip_value(stack.len(), &mut skip_stack)?;
                    let path = path_of(&stack);
                    self.spans.push(Some((path, start..self.p.pos)));
                    None
                }
                Want::Build(keep) => match self.p.peek() {
                    Some(open @ (b'[' | b'{')) => {
                        if stack.len() >= MAX_DEPTH {
                            return Err(self.p.err(ParseErrorKind::TooDeep));
                        }
                        self.p.pos += 1;
                        self.p.skip_ws();
                        if open == b'[' {
                            if self.p.peek() == Some(b']') {
                                self.p.pos += 1;
                                Some(PyValue::Array(Vec::new()))
                            } else {
                                let each = match keep {
                                    Keep::Elements(each) => each,
                                    _ => &Keep::All,
                                };
                                stack.push(Frame::Array { start: self.items.elements.len(), count: 0, each });
                                want = Want::Build(each);
                                continue 'value;
                            }
                        } else if self.p.peek() == Some(b'}') {
                            self.p.pos += 1;
                            Some(PyValue::object())
                        } else {
                            let members = match keep {
                                Keep::Members(members) => Some(*members),
                                _ => None,
                            };
                            let (key, named, next) = self.member_key(members)?;
                            stack.push(Frame::Object {
                                start: self.items.members.len(),
                                members,
                                key,
                                named,
                                spans_from: self.spans.len(),
                                seen_from: self.seen.len(),
                            });
                            want = next;
                            continue 'value;
                        }
                    }
                    _ => Some(self.p.scalar()?),
                },
            };
            // Hand the finished value to its container; close containers as they end.
            loop {
                let Some(frame) = stack.last_mut() else {
                    self.p.skip_ws();
                    if self.p.pos != self.p.bytes().len() {
                        return Err(self.p.err(ParseErrorKind::TrailingData));
                    }
                    // The root is always built.
                    return Ok(value.unwrap_or(PyValue::Null));
                };
                self.p.skip_ws();
                match frame {
                    Frame::Array { start, count, each } => {
                        self.items.elements.extend(value.take());
                        *count += 1;
                        match self.p.peek() {
                            Some(b',') => {
                                self.p.pos += 1;
                                self.p.skip_ws();
                                want = Want::Build(each);
                                continue 'value;
                            }
                            Some(b']') => self.p.pos += 1,
                            _ => return Err(self.p.unexpected("',' or ']'")),
                        }
                        let start = *start;
                        stack.pop();
                        value = Some(self.items.close_array(start));
                    }
                    Frame::Object { start, members, key, named, spans_from, seen_from } => {
                        if let Some(named) = *named {
                            self.settle(named, *spans_from..self.spans.len(), *seen_from);
                        }
                        if let Some(value) = value.take() {
                            self.items.members.push((std::mem::take(key), value));
                        }
                        match self.p.peek() {
                            Some(b',') => {
                                self.p.pos += 1;
                                self.p.skip_ws();
                                let (next_key, next_named, next) = self.member_key(*members)?;
                                *key = next_key;
                                *named = next_named;
                                *spans_from = self.spans.len();
                                want = next;
                                continue 'value;
                            }
                            Some(b'}') => self.p.pos += 1,
                            _ => return Err(self.p.unexpected("',' or '}'")),
                        }
                        let (start, seen_from) = (*start, *seen_from);
                        stack.pop();
                        self.seen.truncate(seen_from);
                        value = Some(self.items.close_object(start));
                    }
                }
            }
        }
    }

    /// A member's key, the index of its entry in `members`, and how its value is read: built
    /// whole in an object built whole (`members` is `None`), else as its entry says, else
    /// skipped. A key that is not built is not allocated either (unless it has escapes).
    fn member_key(
        &mut self,
        members: Option<&'static [(&'static str, Member)]>,
    ) -> Result<(String, Option<usize>, Want<'static>), ParseError> {
        let Some(members) = members else {
            return Ok((self.p.key_cow()?.into_owned(), None, Want::Build(&Keep::All)));
        };
        let key = self.p.key_cow()?;
        match members.iter().position(|(name, _)| *name == key) {
            Some(i) => {
                let want = match &members[i].1 {
                    Member::Keep(keep) => Want::Build(keep),
                    Member::Span => Want::Span,
                };
                Ok((key.into_owned(), Some(i), want))
            }
            None => Ok((String::new(), None, Want::Skip)),
        }
    }

    /// The member of entry `named` just read recorded the spans `recorded`: a member of the same
    /// key read before it in this object (entries from `seen_from`) is overwritten, so its
    /// spans are dropped.
    fn settle(&mut self, named: usize, recorded: Range<usize>, seen_from: usize) {
        match self.seen[seen_from..].iter_mut().find(|(n, _)| *n == named) {
            Some((_, earlier)) => {
                for span in &mut self.spans[earlier.clone()] {
                    *span = None;
                }
                *earlier = recorded;
            }
            None if !recorded.is_empty() => self.seen.push((named, recorded)),
            None => {}
        }
    }

    /// Steps over one value, checking it as [`parse`](super::parse) would, `depth` containers
    /// deep. `open` is scratch room (whether each open container is an object), reused.
    fn skip_value(&mut self, depth: usize, open: &mut Vec<bool>) -> Result<(), ParseError> {
        open.clear();
        let p = &mut self.p;
        'value: loop {
            match p.peek() {
                Some(c @ (b'[' | b'{')) => {
                    if depth + open.len() >= MAX_DEPTH {
                        return Err(p.err(ParseErrorKind::TooDeep));
                    }
                    p.pos += 1;
                    p.skip_ws();
                    let close = if c == b'[' { b']' } else { b'}' };
                    if p.peek() == Some(close) {
                        p.pos += 1;
                    } else {
                        if c == b'{' {
                            p.skip_key()?;
                        }
                        open.push(c == b'{');
                        continue 'value;
                    }
                }
                _ => p.skip_scalar()?,
            }
            loop {
                let Some(&object) = open.last() else { return Ok(()) };
                p.skip_ws();
                match p.peek() {
                    Some(b',') => {
                        p.pos += 1;
                        p.skip_ws();
                        if object {
                            p.skip_key()?;
                        }
                        continue 'value;
                    }
                    Some(b']') if !object => p.pos += 1,
                    Some(b'}') if object => p.pos += 1,
                    _ => return Err(p.unexpected(if object { "',' or '}'" } else { "',' or ']'" })),
                }
                open.pop();
            }
        }
    }
}

/// The way from the root to the value being read.
fn path_of(stack: &[Frame<'_>]) -> Vec<Step> {
    stack
        .iter()
        .map(|frame| match frame {
            Frame::Array { count, .. } => Step::Index(*count),
            Frame::Object { key, .. } => Step::Key(key.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::pyjson::{parse, to_python_string, PyObject};

    /// Shaped like what the results builders read of a dataset.
    const UNITS: Keep = Keep::Members(&[(
        "units",
        Member::Keep(Keep::Elements(&Keep::Members(&[
            ("id", Member::Keep(Keep::All)),
            ("diff_selected", Member::Keep(Keep::All)),
            ("agent_context", Member::Keep(Keep::Members(&[("security_classification", Member::Keep(Keep::All))]))),
            ("code", Member::Span),
        ]))),
    )]);

    /// The oracle: the whole tree with the members `keep` does not name removed, and the
    /// values of the span members by their way from the root.
    fn project(value: &PyValue, keep: &Keep, path: &mut Vec<Step>, spans: &mut Vec<(Vec<Step>, PyValue)>) -> PyValue {
        match (keep, value) {
            (Keep::Members(members), PyValue::Object(object)) => {
                let mut out = PyObject::default();
                for (key, member) in object.iter() {
                    let Some((_, entry)) = members.iter().find(|(name, _)| name == key) else { continue };
                    path.push(Step::Key(key.clone()));
                    match entry {
                        Member::Keep(keep) => {
                            out.insert(key.clone(), project(member, keep, path, spans));
                        }
                        Member::Span => spans.push((path.clone(), member.clone())),
                    }
                    path.pop();
                }
                PyValue::from(out)
            }
            (Keep::Elements(each), PyValue::Array(elements)) => PyValue::Array(
                elements
                    .iter()
                    .enumerate()
                    .map(|(i, element)| {
                        path.push(Step::Index(i));
                        let projected = project(element, each, path, spans);
                        path.pop();
                        projected
                    })
                    .collect(),
            ),
            _ => value.clone(),
        }
    }

    /// Trees compared by their text: NaN equals itself, and key order and int/float count.
    fn text(value: &PyValue) -> String {
        to_python_string(value, false).unwrap()
    }

    /// Checks `parse_projected` against `parse` on `bytes`.
    fn agrees(bytes: &[u8], keep: &Keep) -> Result<(), TestCaseError> {
        let projected = parse_projected(bytes, keep);
        let whole = match parse(bytes) {
            Err(e) => {
                prop_assert_eq!(projected.err(), Some(e));
                return Ok(());
            }
            Ok(whole) => whole,
        };
        let projected = match projected {
            Ok(p) => p,
            Err(e) => return Err(TestCaseError::fail(format!("projected read refused what parse reads: {e}"))),
        };
        let mut expected_spans = Vec::new();
        let expected = project(&whole, keep, &mut Vec::new(), &mut expected_spans);
        prop_assert_eq!(text(&projected.value), text(&expected));
        let mut got: Vec<(Vec<Step>, String)> = projected
            .spans
            .iter()
            .map(|(path, range)| (path.clone(), text(&parse(&bytes[range.clone()]).unwrap())))
            .collect();
        let mut want: Vec<(Vec<Step>, String)> = expected_spans.iter().map(|(p, v)| (p.clone(), text(v))).collect();
        let order = |a: &(Vec<Step>, String), b: &(Vec<Step>, String)| format!("{:?}", a.0).cmp(&format!("{:?}", b.0));
        got.sort_by(order);
        want.sort_by(order);
        prop_assert_eq!(got, want);
        Ok(())
    }

    fn string() -> impl Strategy<Value = String> {
        // Mostly valid: a document with a bad string is refused before anything else is compared.
        let piece = prop_oneof![
            150 => "[ -~&&[^\"\\\\]]{0,12}".prop_map(String::from),
            50 => proptest::sample::select(vec![
                "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\u00e9", "\\u0063", "\\ud83d\\ude00", "é", "😀", "\u{7f}",
            ])
            .prop_map(str::to_owned),
            1 => proptest::sample::select(vec!["\\ud800", "\\udc00", "\\x", "\n", "\u{0}"]).prop_map(str::to_owned),
        ];
        proptest::collection::vec(piece, 0..5).prop_map(|p| format!("\"{}\"", p.concat()))
    }

    fn scalar() -> impl Strategy<Value = String> {
        prop_oneof![
            90 => string(),
            40 => proptest::sample::select(vec![
                "null", "true", "false", "0", "-0", "17", "-3", "0.0", "-0.0", "1e3", "2.5E-2", "NaN", "Infinity",
                "-Infinity", "123456789012345678901234567890",
            ])
            .prop_map(str::to_owned),
            // Rarely: a document holding one is refused.
            1 => Just("9".repeat(crate::pyjson::MAX_INT_DIGITS + 1)),
        ]
    }

    fn ws() -> impl Strategy<Value = &'static str> {
        proptest::sample::select(vec!["", "", " ", "\n  ", "\t", "\r\n"])
    }

    fn value() -> impl Strategy<Value = String> {
        scalar().prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec((ws(), inner.clone()), 0..4).prop_map(|items| {
                    let body: Vec<String> = items.into_iter().map(|(w, v)| format!("{w}{v}")).collect();
                    format!("[{}]", body.join(","))
                }),
                proptest::collection::vec((key(), ws(), inner), 0..4).prop_map(|members| {
                    let body: Vec<String> = members.into_iter().map(|(k, w, v)| format!("{k}:{w}{v}")).collect();
                    format!("{{{}}}", body.join(","))
                }),
            ]
        })
    }

    /// Keys the projection names (spelled plainly or with escapes), and others.
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => proptest::sample::select(vec![
                "\"id\"", "\"code\"", "\"diff_selected\"", "\"agent_context\"", "\"security_classification\"",
                "\"units\"", "\"primary_code\"", "\"\\u0063ode\"", "\"i\\u0064\"", "\"name\"", "\"llm_context\"",
            ])
            .prop_map(str::to_owned),
            1 => string(),
        ]
    }

    fn object_of(members: Vec<(String, String)>) -> String {
        let body: Vec<String> = members.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
        format!("{{{}}}", body.join(", "))
    }

    fn unit() -> impl Strategy<Value = String> {
        let member = prop_oneof![
            2 => value().prop_map(|v| ("\"id\"".to_owned(), v)),
            3 => prop_oneof![value(), proptest::collection::vec((key(), value()), 0..4).prop_map(object_of)]
                .prop_map(|v| ("\"code\"".to_owned(), v)),
            1 => value().prop_map(|v| ("\"diff_selected\"".to_owned(), v)),
            1 => proptest::collection::vec((key(), value()), 0..3)
                .prop_map(|m| ("\"agent_context\"".to_owned(), object_of(m))),
            2 => (key(), value()),
        ];
        proptest::collection::vec(member, 0..7).prop_map(object_of)
    }

    fn dataset() -> impl Strategy<Value = String> {
        let member = prop_oneof![
            4 => proptest::collection::vec(prop_oneof![6 => unit(), 1 => value()], 0..8)
                .prop_map(|units| ("\"units\"".to_owned(), format!("[\n{}\n]", units.join(",\n")))),
            1 => value().prop_map(|v| ("\"units\"".to_owned(), v)),
            2 => (key(), value()),
        ];
        prop_oneof![9 => proptest::collection::vec(member, 0..4).prop_map(object_of), 1 => value()]
    }

    /// A document, sometimes damaged: cut, a byte changed, or a byte put in.
    fn damaged() -> impl Strategy<Value = Vec<u8>> {
        (dataset(), 0..6u8, any::<prop::sample::Index>(), any::<u8>()).prop_map(|(doc, how, at, byte)| {
            let mut bytes = doc.into_bytes();
            let at = at.index(bytes.len() + 1);
            match how {
                1 => bytes.truncate(at),
                2 if at < bytes.len() => bytes[at] = byte,
                3 => bytes.insert(at, b"{}[]\",:\\ 0e-"[usize::from(byte) % 12]),
                _ => {}
            }
            bytes
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn agrees_with_parse_on_datasets(bytes in damaged()) {
            agrees(&bytes, &UNITS)?;
        }

        #[test]
        fn agrees_with_parse_on_the_json_alphabet(s in "[\\[\\]{}\",:0-9eE.+\\-\\\\u tfnNIa-d\u{e9}]{0,64}") {
            agrees(s.as_bytes(), &UNITS)?;
            agrees(s.as_bytes(), &Keep::All)?;
        }

        #[test]
        fn agrees_with_parse_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            agrees(&bytes, &UNITS)?;
        }
    }

    #[test]
    fn only_the_named_members_are_built_and_spans_are_where_the_value_is() {
        let doc = br#"{"units": [{"code": {"primary_code": "x"}, "id": "a", "big": [1, 2]}, {"id": 3}], "n": 1}"#;
        let p = parse_projected(doc, &UNITS).unwrap();
        assert_eq!(p.value, parse(br#"{"units": [{"id": "a"}, {"id": 3}]}"#).unwrap());
        let path = vec![Step::Key("units".into()), Step::Index(0), Step::Key("code".into())];
        assert_eq!(p.spans.len(), 1);
        assert_eq!(p.spans[0].0, path);
        assert_eq!(&doc[p.spans[0].1.clone()], br#"{"primary_code": "x"}"#);
    }

    #[test]
    fn a_duplicate_key_drops_the_spans_of_the_value_it_overwrites() {
        // The later `code` wins; the later `units` (without code for its unit 0) drops them all.
        let p = parse_projected(br#"{"units": [{"code": 1, "code": "two"}]}"#, &UNITS).unwrap();
        assert_eq!(p.spans.len(), 1);
        assert_eq!(p.spans[0].1, 31..36);
        let p = parse_projected(br#"{"units": [{"code": 1}], "x": 0, "units": [{"id": 2}]}"#, &UNITS).unwrap();
        assert!(p.spans.is_empty(), "{:?}", p.spans);
        assert_eq!(p.value, parse(br#"{"units": [{"id": 2}]}"#).unwrap());
        // An escaped key is the key it spells.
        let p = parse_projected(br#"{"units": [{"\u0063ode": "c", "i\u0064": "a"}]}"#, &UNITS).unwrap();
        assert_eq!(
            (p.spans.len(), p.value.get("units").unwrap().as_array().unwrap()[0].get("id").is_some()),
            (1, true)
        );
    }

    #[test]
    fn skipped_values_count_towards_the_depth_limit_with_the_same_offset() {
        for depth in [MAX_DEPTH - 3, MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH] {
            for inner in ["[", "{\"k\":"] {
                let open = inner.repeat(depth);
                let close: String = open
                    .chars()
                    .rev()
                    .filter_map(|c| match c {
                        '[' => Some(']'),
                        '{' => Some('}'),
                        _ => None,
                    })
                    .collect();
                for member in ["code", "other", "id"] {
                    let doc = format!("{{\"units\": [{{\"{member}\": {open}0{close}}}]}}");
                    let (a, b) = (parse(doc.as_bytes()), parse_projected(doc.as_bytes(), &UNITS));
                    assert_eq!(a.as_ref().err(), b.as_ref().err(), "{member} at depth {depth}");
                }
            }
        }
    }

    #[test]
    fn skipped_strings_and_numbers_fail_as_built_ones_do() {
        for bad in [
            r#""\ud800""#,
            r#""a\x""#,
            "\"a\nb\"",
            r#""\u12"#,
            "1.",
            "-",
            "01",
            "1e+",
            "nul",
            "[1,]",
            r#"{"a" 1}"#,
            r#"{"a":1,}"#,
            "[1 2]",
        ] {
            for member in ["code", "other", "id"] {
                let doc = format!("{{\"units\": [{{\"{member}\": {bad}}}]}}");
                let (a, b) = (parse(doc.as_bytes()), parse_projected(doc.as_bytes(), &UNITS));
                assert!(a.is_err(), "{doc}");
                assert_eq!(a.err(), b.err(), "{doc}");
            }
        }
        let long = "9".repeat(crate::pyjson::MAX_INT_DIGITS + 1);
        let doc = format!("{{\"other\": [{long}]}}");
        assert_eq!(parse(doc.as_bytes()).err(), parse_projected(doc.as_bytes(), &UNITS).err());
    }
}
