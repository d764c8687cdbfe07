//! Salvaging what a torn (or intact) old output still holds (spec §3.7): the fields that
//! cannot be rebuilt from checkpoints (`model`, `timestamp`, the consistency-check edits) can be
//! carried over from the old file when it is readable, even only as a prefix.
//!
//! A hard kill leaves a **prefix** of the document (spec §4). Python writes members in order, so
//! the prefix holds the leading top-level members complete (`dataset`, `model`, `timestamp`,
//! `metrics`, …) and then a prefix of the `results` array. [`salvage_leading_fields`] answers
//! those from the tree the lossless merge reads the old file into ([`lossless::read_old`]), so a
//! rebuild reads and parses its old output once and holds one tree of it: the builders read the
//! fields and rows through [`SalvagedFields`], then the merge takes the tree
//! ([`SalvagedFields::into_tree`]). It never recurses and never panics, whatever the bytes.

use std::cell::OnceCell;
use std::collections::HashMap;

use super::lossless::{self, Node};
use super::partial_json::{may_be_whole_object, skip_ws, value_end, walk_members};
use crate::pyjson::{parse, PyObject, PyValue};

/// What could be recovered from an old output file: every complete top-level member before the
/// first incomplete one, in file order ([`Self::field`]; the big unit lists `results` and
/// `units` aside), and the complete elements of the top-level `results` array
/// ([`Self::results`]). Read from the old file's lossless tree, which it holds.
#[derive(Debug, Clone, Default)]
pub struct SalvagedFields {
    /// The old file as the lossless merge reads it ([`lossless::salvage_tree`]).
    tree: Option<Node>,
    /// Where the fields and rows are.
    leading: Leading,
    /// `result_for`'s index, built on first use.
    by_key: OnceCell<HashMap<String, RowAt>>,
}

/// Where [`SalvagedFields`] finds the leading members and rows.
#[derive(Debug, Clone)]
enum Leading {
    /// In the tree: a whole object's members, or the complete members of one cut short.
    InTree {
        /// Whether the whole file parsed as one JSON object.
        complete: bool,
    },
    /// Read apart from the tree ([`leading_members`]), where the member-by-member reading and
    /// the tree's differ: a `results` array whose elements parse but which, nested too deep,
    /// does not parse whole, or an object that parses whole before trailing bytes and names
    /// `results` twice. Never for a file OpenAnt wrote.
    Owned(LeadingMembers),
}

impl Default for Leading {
    fn default() -> Leading {
        Leading::InTree { complete: false }
    }
}

/// The leading members read member by member, each complete piece parsed on its own.
#[derive(Debug, Clone, Default, PartialEq)]
struct LeadingMembers {
    fields: PyObject,
    results: Vec<PyValue>,
    results_complete: bool,
    complete: bool,
}

/// Where a salvaged row is: in which group of rows ([`SalvagedFields::row_groups`]), at which
/// index of it.
type RowAt = (usize, usize);

/// One group of salvaged rows: a `results` array read whole, or the elements of one cut short
/// (its complete ones are rows).
#[derive(Clone, Copy)]
enum RowGroup<'a> {
    Values(&'a [PyValue]),
    Nodes(&'a [Node]),
}

impl<'a> RowGroup<'a> {
    fn row(self, i: usize) -> Option<&'a PyValue> {
        match self {
            RowGroup::Values(values) => values.get(i),
            RowGroup::Nodes(nodes) => match nodes.get(i) {
                Some(Node::Complete(value)) => Some(value),
                _ => None,
            },
        }
    }

    fn rows(self) -> impl Iterator<Item = (usize, &'a PyValue)> {
        let (values, nodes) = match self {
            RowGroup::Values(values) => (values, &[][..]),
            RowGroup::Nodes(nodes) => (&[][..], nodes),
        };
        values.iter().enumerate().chain(nodes.iter().enumerate().filter_map(|(i, n)| match n {
            Node::Complete(value) => Some((i, value)),
            _ => None,
        }))
    }
}

/// The keys that are no field: the unit lists.
fn is_field_key(key: &str) -> bool {
    key != "results" && key != "units"
}

impl SalvagedFields {
    /// A complete top-level member, except `results` and `units`; the last of a key read twice.
    pub fn field(&self, key: &str) -> Option<&PyValue> {
        if !is_field_key(key) {
            return None;
        }
        match (&self.leading, &self.tree) {
            (Leading::Owned(owned), _) => owned.fields.get(key),
            (Leading::InTree { .. }, Some(Node::Complete(PyValue::Object(map)))) => map.get(key),
            (Leading::InTree { .. }, Some(Node::PartialObject(members))) => {
                members.iter().rev().filter(|(k, _)| k == key).find_map(|(_, node)| match node {
                    Node::Complete(value) => Some(value),
                    _ => None,
                })
            }
            _ => None,
        }
    }

    /// The fields ([`Self::field`]) in file order: a key read twice at its first place.
    pub fn fields(&self) -> Vec<(&str, &PyValue)> {
        let keys: Vec<&str> = match (&self.leading, &self.tree) {
            (Leading::Owned(owned), _) => owned.fields.keys().map(String::as_str).collect(),
            (Leading::InTree { .. }, Some(Node::Complete(PyValue::Object(map)))) => {
                map.keys().map(String::as_str).collect()
            }
            (Leading::InTree { .. }, Some(Node::PartialObject(members))) => {
                let mut keys: Vec<&str> = Vec::new();
                for (key, node) in members {
                    if matches!(node, Node::Complete(_)) && !keys.contains(&key.as_str()) {
                        keys.push(key);
                    }
                }
                keys
            }
            _ => Vec::new(),
        };
        keys.into_iter().filter_map(|k| Some((k, self.field(k)?))).collect()
    }

    /// A top-level string member, e.g. `model` or `timestamp`.
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.field(key).and_then(PyValue::as_str)
    }

    /// The groups the salvaged rows are in, in file order: every `results` array read (a key
    /// read twice adds its rows after the first's).
    fn row_groups(&self) -> Vec<RowGroup<'_>> {
        match (&self.leading, &self.tree) {
            (Leading::Owned(owned), _) => vec![RowGroup::Values(&owned.results)],
            (Leading::InTree { .. }, Some(Node::Complete(PyValue::Object(map)))) => match map.get("results") {
                Some(PyValue::Array(rows)) => vec![RowGroup::Values(rows)],
                _ => Vec::new(),
            },
            (Leading::InTree { .. }, Some(Node::PartialObject(members))) => members
                .iter()
                .filter(|(key, _)| key == "results")
                .filter_map(|(_, node)| match node {
                    Node::Complete(PyValue::Array(rows)) => Some(RowGroup::Values(rows)),
                    Node::PartialArray(nodes) => Some(RowGroup::Nodes(nodes)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The complete elements of the top-level `results` array, in order.
    pub fn results(&self) -> impl Iterator<Item = &PyValue> {
        self.row_groups().into_iter().flat_map(|group| group.rows().map(|(_, row)| row))
    }

    /// Whether the `results` array was seen whole (its closing `]`).
    pub fn results_complete(&self) -> bool {
        match (&self.leading, &self.tree) {
            (Leading::Owned(owned), _) => owned.results_complete,
            (Leading::InTree { .. }, Some(Node::Complete(PyValue::Object(map)))) => {
                matches!(map.get("results"), Some(PyValue::Array(_)))
            }
            (Leading::InTree { .. }, Some(Node::PartialObject(members))) => {
                members.iter().any(|(key, node)| key == "results" && matches!(node, Node::Complete(PyValue::Array(_))))
            }
            _ => false,
        }
    }

    /// Whether the whole file parsed as one JSON object.
    pub fn complete(&self) -> bool {
        match &self.leading {
            Leading::Owned(owned) => owned.complete,
            Leading::InTree { complete } => *complete,
        }
    }

    /// Whether nothing at all was recovered.
    pub fn is_empty(&self) -> bool {
        self.fields().is_empty() && self.results().next().is_none()
    }

    /// The old file's tree, for era markers ([`lossless::Node::keys`]).
    pub fn tree(&self) -> Option<&Node> {
        self.tree.as_ref()
    }

    /// The old file's tree, for the lossless merge once the builders are done reading.
    pub fn into_tree(self) -> Option<Node> {
        self.tree
    }

    /// The salvaged result whose `unit_id` (or, failing that, `route_key`) is `key`; the last
    /// one wins, as in a Python dict built over the list.
    pub fn result_for(&self, key: &str) -> Option<&PyValue> {
        let groups = self.row_groups();
        let index = self.by_key.get_or_init(|| {
            // Inserting in order lets the last element of each key win.
            let mut index = HashMap::new();
            for (g, group) in groups.iter().enumerate() {
                for (i, row) in group.rows() {
                    if let Some(key) = result_key(row) {
                        index.insert(key.to_owned(), (g, i));
                    }
                }
            }
            index
        });
        let &(g, i) = index.get(key)?;
        groups.get(g)?.row(i)
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
/// the bytes of a possibly torn JSON object, and keeps the old file's lossless tree they are
/// read from. Garbage in gives an empty result, never a panic.
pub fn salvage_leading_fields(bytes: &[u8]) -> SalvagedFields {
    let read = lossless::read_old(bytes);
    let leading = if reads_alike(&read, bytes) {
        Leading::InTree { complete: read.whole }
    } else {
        Leading::Owned(leading_members(bytes))
    };
    SalvagedFields { tree: read.tree, leading, by_key: OnceCell::new() }
}

/// Whether the tree holds what reading the file member by member ([`leading_members`]) gives.
/// The two differ only where the tree reads a value whole that the member-by-member reading
/// splits, the top-level `results` array: a cut-short array there whose `]` follows its last
/// element (the array did not parse whole, nested too deep, while each element did: read
/// member by member, the file goes on after it); and an object read whole before trailing
/// bytes that has `results` twice (member by member, the rows of both are kept).
fn reads_alike(read: &lossless::Reading, bytes: &[u8]) -> bool {
    match &read.tree {
        Some(Node::PartialObject(members)) => {
            !(read.last_array_closed && members.last().is_some_and(|(key, _)| key == "results"))
        }
        Some(Node::Complete(_)) if !read.whole => {
            let start = skip_ws(bytes, 0);
            let mut results = 0;
            walk_members(bytes, start, |key, at| {
                results += usize::from(key == "results");
                value_end(bytes, at)
            });
            results < 2
        }
        _ => true,
    }
}

/// The leading members read member by member: each complete top-level member and each
/// complete element of a top-level `results` array parsed on its own, up to the first that
/// is not complete. The tree's reading differs only where [`reads_alike`] says.
fn leading_members(bytes: &[u8]) -> LeadingMembers {
    leading_members_where(bytes, |_| true)
}

/// [`leading_members`] keeping only the rows `kept` accepts, the others dropped as they are
/// read.
fn leading_members_where(bytes: &[u8], kept: impl Fn(&PyValue) -> bool) -> LeadingMembers {
    if may_be_whole_object(bytes) {
        if let Ok(PyValue::Object(map)) = parse(bytes) {
            let mut leading = from_complete(*map);
            leading.results.retain(&kept);
            return leading;
        }
    }
    let mut fields = PyObject::default();
    let mut results = Vec::new();
    let results_complete = walk_leading(
        bytes,
        usize::MAX,
        |key, value| {
            if is_field_key(&key) {
                fields.insert(key, value);
            }
        },
        |row| {
            if kept(&row) {
                results.push(row);
            }
        },
    );
    LeadingMembers { fields, results, results_complete, complete: false }
}

/// The top-level fields named `keys` as [`salvage_leading_fields`] reads them, and whether
/// the file parses whole, without its tree or rows: for a reader of those fields alone (the
/// OpenAnt line, told from the results files). The members before the last one named `keys`
/// (a `results` array among them) are parsed only to tell whether the reading goes on past
/// them, and dropped; the members after it are not parsed. Holds no rows and no tree.
pub fn salvage_fields(bytes: &[u8], keys: &[&str]) -> SalvagedFields {
    let mut fields = PyObject::default();
    let complete = may_be_whole_object(bytes) && {
        match parse(bytes) {
            Ok(PyValue::Object(map)) => {
                fields = map.into_iter().filter(|(k, _)| is_field_key(k) && keys.contains(&k.as_str())).collect();
                true
            }
            _ => false,
        }
    };
    if !complete {
        // Read by extent only: how many members the answer depends on.
        let start = skip_ws(bytes, 0);
        let (mut seen, mut needed) = (0, 0);
        if bytes.get(start) == Some(&b'{') {
            walk_members(bytes, start, |key, at| {
                seen += 1;
                if keys.contains(&key.as_str()) {
                    needed = seen;
                }
                value_end(bytes, at)
            });
        }
        walk_leading(
            bytes,
            needed,
            |key, value| {
                if is_field_key(&key) && keys.contains(&key.as_str()) {
                    fields.insert(key, value);
                }
            },
            drop,
        );
    }
    let leading = LeadingMembers { fields, results: Vec::new(), results_complete: false, complete };
    SalvagedFields { tree: None, leading: Leading::Owned(leading), by_key: OnceCell::new() }
}

/// [`salvage_leading_fields`] keeping only the rows whose key ([`result_key`]) `keep` accepts,
/// read one by one and the others dropped as they are read, and no tree: for a reader that
/// looks rows up only by such keys ([`SalvagedFields::result_for`],
/// [`SalvagedFields::stage1_row_of_verified`]), which answer for them as over every row. The
/// fields, `complete` and `results_complete` are [`salvage_leading_fields`]'s.
pub fn salvage_rows_where(bytes: &[u8], keep: impl Fn(&str) -> bool) -> SalvagedFields {
    let leading = leading_members_where(bytes, |row: &PyValue| result_key(row).is_some_and(&keep));
    SalvagedFields { tree: None, leading: Leading::Owned(leading), by_key: OnceCell::new() }
}

/// Reads the first `members` top-level members of a possibly torn object one by one, up to the
/// first that is not complete: `field(key, value)` for each complete one (every key), and, for
/// a `results` array, `row(element)` for each complete element instead. Returns whether a
/// `results` array was read to its closing `]`.
fn walk_leading(
    bytes: &[u8],
    members: usize,
    mut field: impl FnMut(String, PyValue),
    mut row: impl FnMut(PyValue),
) -> bool {
    let mut results_complete = false;
    let mut pos = skip_ws(bytes, 0);
    if bytes.get(pos) != Some(&b'{') {
        return results_complete;
    }
    pos += 1;
    for _ in 0..members {
        pos = skip_ws(bytes, pos);
        if bytes.get(pos) != Some(&b'"') {
            break;
        }
        let Some(key_end) = value_end(bytes, pos) else { break };
        let Ok(PyValue::Str(key)) = parse(&bytes[pos..key_end]) else { break };
        pos = skip_ws(bytes, key_end);
        if bytes.get(pos) != Some(&b':') {
            break;
        }
        pos = skip_ws(bytes, pos + 1);
        if key == "results" && bytes.get(pos) == Some(&b'[') {
            match salvage_array(bytes, pos, &mut row) {
                Some(end) => {
                    results_complete = true;
                    pos = end;
                }
                None => break,
            }
        } else {
            let Some(end) = value_end(bytes, pos) else { break };
            let Ok(value) = parse(&bytes[pos..end]) else { break };
            field(key, value);
            pos = end;
        }
        pos = skip_ws(bytes, pos);
        match bytes.get(pos) {
            Some(b',') => pos += 1,
            _ => break,
        }
    }
    results_complete
}

fn from_complete(mut map: PyObject) -> LeadingMembers {
    let mut out = LeadingMembers { complete: true, ..LeadingMembers::default() };
    if let Some(PyValue::Array(items)) = map.get_mut("results") {
        out.results = std::mem::take(items);
        out.results_complete = true;
    }
    map.shift_remove("results");
    map.shift_remove("units");
    out.fields = map;
    out
}

/// Parses the complete elements of the array starting at `start` (a `[`), handing each to `row`.
/// Returns the offset after the closing `]`, or `None` if the array is torn or malformed.
fn salvage_array(bytes: &[u8], start: usize, row: &mut impl FnMut(PyValue)) -> Option<usize> {
    let mut pos = skip_ws(bytes, start + 1);
    if bytes.get(pos) == Some(&b']') {
        return Some(pos + 1);
    }
    loop {
        pos = skip_ws(bytes, pos);
        let end = value_end(bytes, pos)?;
        row(parse(&bytes[pos..end]).ok()?);
        pos = skip_ws(bytes, end);
        match bytes.get(pos) {
            Some(b',') => pos += 1,
            Some(b']') => return Some(pos + 1),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::to_python_string;
    use crate::regen::partial_json::string_end;
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
        assert!(s.complete() && s.results_complete());
        assert_eq!(s.results().count(), 2);
        assert_eq!(s.str_field("model"), Some("m"));
        assert!(s.field("code_by_route").is_some());
        assert!(s.field("results").is_none());
    }

    #[test]
    fn prefixes_give_leading_fields_and_complete_elements() {
        let d = doc();
        let cut = d.find("\"b\"").unwrap();
        let s = salvage_leading_fields(&d.as_bytes()[..cut]);
        assert!(!s.complete() && !s.results_complete());
        assert_eq!(s.str_field("timestamp"), Some("2026-01-01T00:00:00.5"));
        assert_eq!(s.results().count(), 1);
        assert_eq!(s.results().next().unwrap().get("s").and_then(PyValue::as_str), Some("x\"}]"));
        // Cut inside the timestamp: dataset and model only.
        let cut = d.find("2026").unwrap() + 3;
        let s = salvage_leading_fields(&d.as_bytes()[..cut]);
        assert_eq!(s.fields().iter().map(|(k, _)| *k).collect::<Vec<_>>(), ["dataset", "model"]);
        // A torn number is never taken as complete.
        let s = salvage_leading_fields(b"{\"a\": 12");
        assert!(s.fields().is_empty());
        let s = salvage_leading_fields(b"{\"a\": 12,");
        assert_eq!(s.field("a"), Some(&PyValue::from(12)));
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
        assert!(salvage_leading_fields(br#"{"model": "m", "a": , "b": 1"#).field("b").is_none());
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
            let n = s.fields().len() + s.results().count();
            assert!(n >= last || s.complete(), "prefix {cut}");
            last = n;
        }
    }

    /// What the tree gives, checked against the member-by-member reading it replaced
    /// ([`leading_members`], the oracle): the same fields in the same order, the same rows,
    /// the same answers; and the tree is the lossless merge's. Says whether the tree answered.
    fn reads_like_members(bytes: &[u8]) -> bool {
        let s = salvage_leading_fields(bytes);
        let oracle = leading_members(bytes);
        let fields: Vec<(&str, &PyValue)> = oracle.fields.iter().map(|(k, v)| (k.as_str(), v)).collect();
        assert_eq!(s.fields(), fields, "{:?}", String::from_utf8_lossy(bytes));
        for (key, value) in &fields {
            assert_eq!(s.field(key), Some(*value));
        }
        assert!(s.field("results").is_none() && s.field("units").is_none());
        assert!(s.results().eq(oracle.results.iter()), "{:?}", String::from_utf8_lossy(bytes));
        assert_eq!(s.results_complete(), oracle.results_complete, "{:?}", String::from_utf8_lossy(bytes));
        assert_eq!(s.complete(), oracle.complete);
        assert_eq!(s.is_empty(), oracle.fields.is_empty() && oracle.results.is_empty());
        for row in &oracle.results {
            let Some(key) = result_key(row) else { continue };
            let last = oracle.results.iter().rev().find(|r| result_key(r) == Some(key));
            assert_eq!(s.result_for(key), last);
            assert_eq!(s.stage1_row_of_verified(key), oracle_stage1(&oracle, key));
        }
        assert_eq!(s.tree(), lossless::salvage_tree(bytes).as_ref());
        // The rows of some keys only: the same answers for those keys.
        let some = |key: &str| key.len() % 2 == 0;
        let rows = salvage_rows_where(bytes, some);
        assert_eq!(rows.fields(), fields);
        assert_eq!((rows.complete(), rows.results_complete()), (oracle.complete, oracle.results_complete));
        assert!(rows.results().all(|r| result_key(r).is_some_and(some)) && rows.tree().is_none());
        for key in oracle.results.iter().filter_map(result_key) {
            if some(key) {
                assert_eq!(rows.result_for(key), s.result_for(key));
                assert_eq!(rows.stage1_row_of_verified(key), s.stage1_row_of_verified(key));
            }
        }
        // The fields alone, as the OpenAnt line reads them.
        for keys in [&["metrics", "model"][..], &["code_by_route"], &["x", "units", "results", "model"], &[]] {
            let light = salvage_fields(bytes, keys);
            let wanted: Vec<(&str, &PyValue)> = fields.iter().filter(|(k, _)| keys.contains(k)).copied().collect();
            assert_eq!(light.fields(), wanted, "{keys:?} {:?}", String::from_utf8_lossy(bytes));
            assert_eq!(light.complete(), oracle.complete);
            assert!(light.tree().is_none() && light.results().next().is_none());
        }
        matches!(s.leading, Leading::InTree { .. })
    }

    /// `stage1_row_of_verified` over the oracle's rows.
    fn oracle_stage1(oracle: &LeadingMembers, id: &str) -> Option<PyValue> {
        let owned = SalvagedFields { tree: None, leading: Leading::Owned(oracle.clone()), by_key: OnceCell::new() };
        owned.stage1_row_of_verified(id)
    }

    /// Every output of the test scans, cut at many offsets (and whole): the tree answers, and
    /// answers as the member-by-member reading did.
    #[test]
    fn the_tree_reads_real_outputs_like_the_member_reading_at_every_cut() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let names = [
            "results.json",
            "results_verified.json",
            "dataset_enhanced.json",
            "pipeline_output.json",
            "dynamic_test_results.json",
        ];
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![root];
        let mut files = 0;
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let is_output = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| names.contains(&n));
                let Ok(bytes) = std::fs::read(&path) else { continue };
                if !is_output || !seen.insert(bytes.clone()) {
                    continue;
                }
                files += 1;
                let step = (bytes.len() / 60).max(1);
                let mut cuts: Vec<usize> = (0..=bytes.len()).step_by(step).collect();
                // Cuts right after an element or member closes, before its comma.
                for (i, w) in bytes.windows(2).enumerate() {
                    if w == b"},".as_slice() || w == b"],".as_slice() {
                        cuts.push(i + 1);
                    }
                }
                cuts.push(bytes.len());
                cuts.sort_unstable();
                cuts.dedup();
                for cut in cuts.into_iter().filter(|c| *c <= bytes.len()) {
                    assert!(reads_like_members(&bytes[..cut]), "{} cut at {cut}", path.display());
                }
                // Padded with NULs, as a crash may leave a whole file.
                let mut padded = bytes.clone();
                padded.extend([0u8; 16]);
                assert!(reads_like_members(&padded), "{} padded", path.display());
            }
        }
        assert!(files > 20, "{files} outputs");
    }

    /// Where the readings differ, the member-by-member one is kept: a `results` array whose
    /// every element parses but which, nested one level more, does not; and an object read
    /// whole before trailing bytes with `results` twice.
    #[test]
    fn where_the_readings_differ_the_member_reading_answers() {
        let deep = format!("{}{}", "[".repeat(crate::pyjson::MAX_DEPTH), "]".repeat(crate::pyjson::MAX_DEPTH));
        let text = format!(r#"{{"model": "m", "results": [{{"unit_id": "a"}}, {deep}], "timestamp": "t", "x": 1"#);
        assert!(!reads_like_members(text.as_bytes()));
        let s = salvage_leading_fields(text.as_bytes());
        assert_eq!(s.results().count(), 2);
        assert!(s.results_complete());
        assert_eq!(s.str_field("timestamp"), Some("t"));
        let text = br#"{"results": [{"unit_id": "a"}], "model": "m", "results": [{"unit_id": "b"}]}  x"#;
        assert!(!reads_like_members(text));
        assert_eq!(salvage_leading_fields(text).results().count(), 2);
        // Named once, the tree answers.
        assert!(reads_like_members(br#"{"results": [{"unit_id": "a"}], "model": "m"}  x"#));
        assert!(reads_like_members(br#"{"model": "m", "model": "n", "results": [{"unit_id": "a"}], "model": "#));
    }

    proptest! {
        #[test]
        fn the_tree_reads_json_like_bytes_like_the_member_reading(
            s in "[{}\\[\\]\",:\\\\ a-z0-9\n\u{0}]{0,200}",
        ) {
            reads_like_members(s.as_bytes());
        }

        /// Documents with the shape of an output (repeated keys among them), cut anywhere.
        #[test]
        fn the_tree_reads_cut_documents_like_the_member_reading(
            members in proptest::collection::vec(
                (prop_oneof!["model", "results", "units", "metrics", "x"], 0u8..4),
                0..6,
            ),
            cut in any::<proptest::sample::Index>(),
            tail in prop_oneof![Just(""), Just("\0\0"), Just(" x"), Just("}")],
        ) {
            let value = |key: &str, n: u8| match (key, n) {
                ("results" | "units", _) => format!(
                    "[{}]",
                    (0..n).map(|i| format!(r#"{{"unit_id": "u{}", "n": [{i}, {{"k": "v\\"}}]}}"#, i % 2)).collect::<Vec<_>>().join(", ")
                ),
                (_, 0) => "\"s\"".to_owned(),
                (_, 1) => "12".to_owned(),
                (_, _) => r#"{"total": 2, "e": [1, 2]}"#.to_owned(),
            };
            let body: Vec<String> = members.iter().map(|(k, n)| format!("\"{k}\": {}", value(k, *n))).collect();
            let text = format!("{{{}}}{tail}", body.join(", "));
            let at = cut.index(text.len() + 1);
            reads_like_members(text.as_bytes());
            reads_like_members(&text.as_bytes()[..at]);
        }
    }
}
