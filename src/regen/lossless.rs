//! Lossless by construction (issue 11, item 3): a rebuilt output never holds less than the file
//! it replaces. One generic merge, used by every rebuilt output of every era:
//!
//! 1. [`salvage_tree`] reads the old file, even a torn prefix of it, as a tree: every member and
//!    element whose value is complete, and, for a container cut short, what it holds so far.
//! 2. [`merge_lossless`] walks that tree beside the rebuilt document. A key of the old file that
//!    the builder did not produce is carried over **at its place**: right after the key that
//!    precedes it in the old file (at the front when none does). Objects present on both sides
//!    are merged the same way, recursively (`metrics`, `repository`, `pipeline_stats`, a row's
//!    `verification`, ...). Arrays of rows are merged row by row where rows have a key
//!    ([`row_key`]: `results[]`/`confirmed_findings[]` by `unit_id`, else `route_key`;
//!    `findings[]` and a dataset's `units[]` by `id`; `dynamic_test_results.json`'s `results[]`
//!    by `finding_id`), so a row keeps the keys only the old file had (an errored row's
//!    `error`, `error_info`, a consistency update). Every carried key is returned by its path
//!    for the plan's notes.
//! 3. [`merge_lossless_text`] is the same merge reading the old file's text where a caller does
//!    not hold its tree (a torn dataset of many MB beside a rebuilt one as large): one top-level
//!    member, one row, at a time.
//!
//! Limits, by design: the builder's value wins wherever it produced the key (the rebuild is
//! the truth for what it computes); arrays whose elements have no key (lists of strings,
//! `skipped_steps`) are the builder's; an old row whose key the rebuilt array does not have (a
//! unit no longer in the input, or one without a checkpoint whose old row was cut short) is not
//! added back, since the metrics count rows: it is named ([`Merged::dropped_rows`]); a
//! dynamic-test result, from which nothing is counted, is carried back as far as it is
//! readable ([`Merged::carried_rows`]); a
//! value that is itself cut short in a torn file is carried as far as it is readable (an
//! object's complete members, an array's complete elements: [`Merged::carried_partly`]), and a
//! scalar cut short, of which nothing is readable, is named ([`Merged::torn`]).

use super::partial_json::{may_be_whole_object, skip_ws, value_end, walk_members};
use crate::pyjson::{parse, parse_projected, Keep, PyObject, PyValue};

/// A node of an old file's readable prefix.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A value read whole.
    Complete(PyValue),
    /// An object cut short: its members read so far (the last one may itself be partial).
    PartialObject(Vec<(String, Node)>),
    /// An array cut short: its elements read so far.
    PartialArray(Vec<Node>),
    /// A string or scalar cut short (or not valid): nothing of it is readable.
    Torn,
}

impl Node {
    /// The keys this node has (complete or partial), in order; none for non-objects.
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Node::Complete(PyValue::Object(o)) => o.keys().map(String::as_str).collect(),
            Node::PartialObject(members) => members.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// The member `key`, as a node.
    pub fn member(&self, key: &str) -> Option<Node> {
        match self {
            Node::Complete(PyValue::Object(o)) => o.get(key).cloned().map(Node::Complete),
            Node::PartialObject(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, n)| n.clone()),
            _ => None,
        }
    }
}

/// A borrowed view of a node or of a value inside a complete one: the merge walks the old
/// document without copying it (a results file of 100 MB would otherwise be cloned once per
/// level it is walked through).
#[derive(Clone, Copy)]
enum NodeRef<'a> {
    Value(&'a PyValue),
    Node(&'a Node),
}

impl<'a> NodeRef<'a> {
    fn of(node: &'a Node) -> NodeRef<'a> {
        match node {
            Node::Complete(value) => NodeRef::Value(value),
            node => NodeRef::Node(node),
        }
    }

    fn is_object(self) -> bool {
        matches!(self, NodeRef::Value(PyValue::Object(_)) | NodeRef::Node(Node::PartialObject(_)))
    }

    fn is_array(self) -> bool {
        matches!(self, NodeRef::Value(PyValue::Array(_)) | NodeRef::Node(Node::PartialArray(_)))
    }

    /// The value, when it was read whole.
    fn complete(self) -> Option<&'a PyValue> {
        match self {
            NodeRef::Value(value) => Some(value),
            NodeRef::Node(_) => None,
        }
    }

    fn member(self, key: &str) -> Option<NodeRef<'a>> {
        match self {
            NodeRef::Value(PyValue::Object(o)) => o.get(key).map(NodeRef::Value),
            NodeRef::Node(Node::PartialObject(members)) => {
                members.iter().rev().find(|(k, _)| k == key).map(|(_, n)| NodeRef::of(n))
            }
            _ => None,
        }
    }

    /// The members, in order (a later duplicate key keeps the first place and takes the last
    /// value, as a Python dict).
    fn members(self) -> Vec<(&'a str, NodeRef<'a>)> {
        match self {
            NodeRef::Value(PyValue::Object(o)) => o.iter().map(|(k, v)| (k.as_str(), NodeRef::Value(v))).collect(),
            NodeRef::Node(Node::PartialObject(members)) => {
                let mut out: Vec<(&'a str, NodeRef<'a>)> = Vec::new();
                for (k, n) in members {
                    match out.iter_mut().find(|(ok, _)| *ok == k.as_str()) {
                        Some(slot) => slot.1 = NodeRef::of(n),
                        None => out.push((k.as_str(), NodeRef::of(n))),
                    }
                }
                out
            }
            _ => Vec::new(),
        }
    }

    fn elements(self) -> Vec<NodeRef<'a>> {
        match self {
            NodeRef::Value(PyValue::Array(a)) => a.iter().map(NodeRef::Value).collect(),
            NodeRef::Node(Node::PartialArray(items)) => items.iter().map(NodeRef::of).collect(),
            _ => Vec::new(),
        }
    }

    /// What it still holds (see [`readable_value`]).
    fn readable(self) -> Option<PyValue> {
        match self {
            NodeRef::Value(value) => Some(value.clone()),
            NodeRef::Node(node) => readable_value(node),
        }
    }

    fn row_key(self, path: &str) -> Option<String> {
        let field = |k: &str| match self.member(k).and_then(NodeRef::complete) {
            Some(PyValue::Str(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        };
        row_key_by(path, field)
    }
}

/// Deepest container nesting [`salvage_tree`] descends into; deeper values count only if
/// complete.
const MAX_SALVAGE_DEPTH: usize = 64;

/// Reads the old file's bytes as a tree: the whole document when it parses, else its readable
/// prefix (a kill leaves a prefix, possibly followed by NULs). `None` when not even the opening
/// `{` of an object is there. Never panics, whatever the bytes.
pub fn salvage_tree(bytes: &[u8]) -> Option<Node> {
    read_old(bytes).tree
}

/// [`salvage_tree`]'s answer, with how it was read: what `salvage::SalvagedFields` needs to
/// answer from the same tree instead of reading the bytes again.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub tree: Option<Node>,
    /// The whole input parsed as one object (not only the object it begins with).
    pub whole: bool,
    /// The last top-level member is an array cut short whose every element was read whole and
    /// is followed by its closing `]`. Only a nesting deeper than the parse allows makes one:
    /// each element parses, the array around them does not.
    pub last_array_closed: bool,
}

/// Reads the old file's bytes as [`salvage_tree`] does, noting how (see [`Reading`]).
pub fn read_old(bytes: &[u8]) -> Reading {
    let read = |tree, whole, last_array_closed| Reading { tree, whole, last_array_closed };
    if may_be_whole_object(bytes) {
        if let Ok(v @ PyValue::Object(_)) = parse(bytes) {
            return read(Some(Node::Complete(v)), true, false);
        }
    }
    let start = skip_ws(bytes, 0);
    if bytes.get(start) != Some(&b'{') {
        return read(None, false, false);
    }
    // `read_value` of the top-level object, keeping its last member's `]`.
    if let Some(end) = value_end(bytes, start) {
        if let Ok(v) = parse(&bytes[start..end]) {
            return read(Some(Node::Complete(v)), false, false);
        }
    }
    let (members, last_array_closed) = read_members(bytes, start, 0);
    read(Some(Node::PartialObject(members)), false, last_array_closed)
}

/// The top-level members of an old file as [`salvage_tree`] reads them, without their values:
/// each key and where its value starts, in file order (a key read twice, twice).
struct TopMembers {
    members: Vec<(String, usize)>,
    /// The object read whole ([`Node::Complete`]; else [`Node::PartialObject`]).
    complete: bool,
}

/// [`TopMembers`] of `bytes`; `None` where [`salvage_tree`] is. The values are found by their
/// extent and checked as [`parse`] reads them, none built.
fn top_members(bytes: &[u8]) -> Option<TopMembers> {
    // `read_old`'s reading: the object read whole, when it parses (the whole input parses only
    // if its object does), else its members up to the first that does not.
    let start = skip_ws(bytes, 0);
    if bytes.get(start) != Some(&b'{') {
        return None;
    }
    let complete = value_end(bytes, start).is_some_and(|end| parses(&bytes[start..end]));
    let mut members = Vec::new();
    walk_members(bytes, start, |key, at| {
        if at >= bytes.len() || bytes[at] == 0 {
            return None;
        }
        members.push((key, at));
        // Every member of an object read whole is; else the first that is not ends the reading.
        let end = value_end(bytes, at)?;
        (complete || parses(&bytes[at..end])).then_some(end)
    });
    Some(TopMembers { members, complete })
}

/// Whether [`parse`] reads `piece`, told without building it: its objects are checked member
/// by member and left empty.
fn parses(piece: &[u8]) -> bool {
    const NOTHING: Keep = Keep::Members(&[]);
    let keep = if piece.first() == Some(&b'[') { Keep::Elements(&NOTHING) } else { NOTHING };
    parse_projected(piece, &keep).is_ok()
}

/// The top level of [`salvage_tree`] with only the values of the members named `read`: its keys
/// (those of an object read whole once, at the first place) and, for each key named, its
/// [`Node::member`], every other member's value left out as [`Node::Torn`]. For the era markers
/// of an old file whose tree is not held (the keys and `metrics`), without building its units.
pub fn salvage_top(bytes: &[u8], read: &[&str]) -> Option<Node> {
    let top = top_members(bytes)?;
    let members = if top.complete { last_values(top.members) } else { top.members };
    let members = members
        .into_iter()
        .map(|(key, at)| {
            let node = if read.contains(&key.as_str()) { read_value(bytes, at, 1).0 } else { Node::Torn };
            (key, node)
        })
        .collect();
    Some(Node::PartialObject(members))
}

/// Members as a dict holds them: a key read twice at its first place, with its last value.
fn last_values(members: Vec<(String, usize)>) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::with_capacity(members.len());
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (key, at) in members {
        match index.get(&key) {
            Some(&i) => out[i].1 = at,
            None => {
                index.insert(key.clone(), out.len());
                out.push((key, at));
            }
        }
    }
    out
}

/// The top-level keys of a document (or of its readable prefix) and its `metrics` member, read
/// without building the rest: era markers need only these, and the files they are read from
/// (results files of many MB) are read whole elsewhere. Values are skipped by their extent,
/// never parsed, except `metrics`.
pub fn outline(bytes: &[u8]) -> Option<(Vec<String>, Option<Node>)> {
    let start = skip_ws(bytes, 0);
    if bytes.get(start) != Some(&b'{') {
        return None;
    }
    let mut keys = Vec::new();
    let mut metrics = None;
    walk_members(bytes, start, |key, at| {
        // A key with nothing after its colon is not part of the outline.
        bytes.get(at)?;
        if key == "metrics" {
            metrics = Some(read_value(bytes, at, 0).0);
        }
        keys.push(key);
        value_end(bytes, at)
    });
    Some((keys, metrics))
}

/// [`outline`] of a whole document already parsed: what `outline` reads from its text.
pub fn outline_of_document(document: &PyValue) -> Option<(Vec<String>, Option<Node>)> {
    let map = document.as_object()?;
    Some((map.keys().cloned().collect(), map.get("metrics").cloned().map(Node::Complete)))
}

/// Reads the value at `pos`: `(node, end)` where `end` is `Some(offset after it)` only when the
/// value is complete.
fn read_value(b: &[u8], pos: usize, depth: usize) -> (Node, Option<usize>) {
    let (node, end, _) = read_value_noting(b, pos, depth);
    (node, end)
}

/// [`read_value`], and whether the value is an array cut short that its `]` closes after every
/// element was read whole ([`Reading::last_array_closed`]).
fn read_value_noting(b: &[u8], pos: usize, depth: usize) -> (Node, Option<usize>, bool) {
    if let Some(end) = value_end(b, pos) {
        if let Ok(v) = parse(&b[pos..end]) {
            return (Node::Complete(v), Some(end), false);
        }
    }
    match b.get(pos) {
        Some(b'{') if depth < MAX_SALVAGE_DEPTH => (Node::PartialObject(read_members(b, pos, depth).0), None, false),
        Some(b'[') if depth < MAX_SALVAGE_DEPTH => {
            let (elements, closed) = read_elements(b, pos, depth);
            (Node::PartialArray(elements), None, closed)
        }
        _ => (Node::Torn, None, false),
    }
}

/// The members of the object at `pos`, and whether the last is an array its `]` closes (see
/// [`read_value_noting`]).
fn read_members(b: &[u8], pos: usize, depth: usize) -> (Vec<(String, Node)>, bool) {
    let mut out = Vec::new();
    let mut last_closed = false;
    walk_members(b, pos, |key, start| {
        if start >= b.len() || b[start] == 0 {
            return None;
        }
        let (node, end, closed) = read_value_noting(b, start, depth + 1);
        out.push((key, node));
        last_closed = closed;
        end
    });
    (out, last_closed)
}

/// The elements of the array at `pos`, as far as they read, and whether its `]` follows the
/// last of them (every one read whole).
fn read_elements(b: &[u8], pos: usize, depth: usize) -> (Vec<Node>, bool) {
    let mut out = Vec::new();
    let closed = for_each_element(b, pos, depth, |node| out.push(node));
    (out, closed)
}

/// [`read_elements`] one element at a time: `each` is handed every element read (a torn
/// scalar is none) and may drop it before the next is read.
fn for_each_element(b: &[u8], pos: usize, depth: usize, mut each: impl FnMut(Node)) -> bool {
    let mut i = skip_ws(b, pos + 1);
    if b.get(i) == Some(&b']') {
        return true;
    }
    loop {
        if i >= b.len() || b[i] == 0 || b[i] == b']' {
            return false;
        }
        let (node, end) = read_value(b, i, depth + 1);
        if !matches!(node, Node::Torn) {
            each(node);
        }
        let Some(end) = end else { return false };
        i = skip_ws(b, end);
        if b.get(i) != Some(&b',') {
            return b.get(i) == Some(&b']');
        }
        i = skip_ws(b, i + 1);
    }
}

/// What the merge did, for the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merged {
    /// Paths of the keys carried over from the old file (`error_info` of a row is
    /// `results[<unit>].error_info`).
    pub carried: Vec<String>,
    /// Paths of keys whose value, an object or array, was cut short in the old file: carried
    /// as far as it was readable (its complete members or elements).
    pub carried_partly: Vec<String>,
    /// Paths of keys the old file had but whose scalar value was cut short there: nothing of it
    /// is readable, so nothing is carried.
    pub torn: Vec<String>,
    /// Rows of the old file (by key) the rebuilt array does not have.
    pub dropped_rows: Vec<String>,
    /// Standalone rows (dynamic-test results) the rebuild had no data for, carried back from
    /// the old file as far as they were readable.
    pub carried_rows: Vec<String>,
}

impl Merged {
    /// Whether the merge changed the rebuilt document at all.
    pub fn changed(&self) -> bool {
        !(self.carried.is_empty() && self.carried_partly.is_empty() && self.carried_rows.is_empty())
    }

    /// One line per kind, for the plan's notes.
    pub fn notes(&self, file: &str) -> Vec<String> {
        let mut notes = Vec::new();
        if !self.carried.is_empty() {
            notes.push(format!(
                "carried over from the old {file} at their place (the rebuild does not produce them): {}",
                brief(&self.carried)
            ));
        }
        if !self.carried_partly.is_empty() {
            notes.push(format!(
                "cut short in the old {file}, carried as far as they were readable (their complete members): {}",
                brief(&self.carried_partly)
            ));
        }
        if !self.torn.is_empty() {
            notes.push(format!(
                "cut short in the old {file} inside their value, so nothing of them could be carried: {}",
                brief(&self.torn)
            ));
        }
        if !self.carried_rows.is_empty() {
            notes.push(format!(
                "results the rebuild has no checkpoint for, carried back from the old {file} as far as they were readable (the next `openant dynamic-test` redoes them): {}",
                brief(&self.carried_rows)
            ));
        }
        if !self.dropped_rows.is_empty() {
            notes.push(format!(
                "rows of the old {file} whose unit or finding the rebuild no longer has (as OpenAnt's own re-run would drop them): {}",
                brief(&self.dropped_rows)
            ));
        }
        notes
    }
}

fn brief(items: &[String]) -> String {
    const SHOWN: usize = 12;
    if items.len() <= SHOWN {
        items.join(", ")
    } else {
        format!("{} and {} more", items[..SHOWN].join(", "), items.len() - SHOWN)
    }
}

/// The key that identifies a row of the array at `path` (`""` = top level), if rows there are
/// keyed: `results[]` and `confirmed_findings[]` by `unit_id` (else `route_key`; the rows of
/// `dynamic_test_results.json` by `finding_id`), `findings[]` and a dataset's `units[]` by `id`.
pub fn row_key(path: &str, row: &Node) -> Option<String> {
    let field = |k: &str| match row.member(k) {
        Some(Node::Complete(PyValue::Str(s))) if !s.is_empty() => Some(s),
        _ => None,
    };
    row_key_by(path, field)
}

/// [`row_key`] of a rebuilt row, read in place.
fn row_key_of_value<'v>(path: &str, row: &'v PyValue) -> Option<&'v str> {
    let field = |k: &str| row.get(k).and_then(PyValue::as_str).filter(|s| !s.is_empty());
    row_key_by(path, field)
}

/// Which field keys the rows at `path` (one rule for old and rebuilt rows).
fn row_key_by<T>(path: &str, field: impl Fn(&str) -> Option<T>) -> Option<T> {
    match path {
        "results" | "confirmed_findings" => {
            field("unit_id").or_else(|| field("route_key")).or_else(|| field("finding_id"))
        }
        "findings" | "units" => field("id"),
        _ => None,
    }
}

/// Carries every key of `old` that `new` lacks into `new`, at its place, recursively (see the
/// module docs). `new` is the rebuilt document.
pub fn merge_lossless(old: &Node, new: &mut PyValue) -> Merged {
    let mut merged = Merged::default();
    merge_object(NodeRef::of(old), new, "", &mut merged);
    merged
}

/// [`merge_lossless`]`(&salvage_tree(bytes)?, new)` without the old file's tree: the old file's
/// top-level members are read from its text one at a time, and its top-level arrays of rows one
/// row at a time, each freed once merged. The same document and the same [`Merged`], in the
/// same order; `None` where [`salvage_tree`] is. For a torn old file of many MB merged into a
/// rebuilt document as large, whose tree would otherwise be held beside it.
pub fn merge_lossless_text(bytes: &[u8], new: &mut PyValue) -> Option<Merged> {
    let top = top_members(bytes)?;
    let mut merged = Merged::default();
    let PyValue::Object(map) = new else { return Some(merged) };
    // [`merge_object`] at the top level, each old member read where it is needed: a member of
    // an object read whole is the last value of its key at the first place, as in the tree,
    // and an object cut short gives its members as `NodeRef::members` does.
    let members = last_values(top.members);
    let mut anchor: Option<&str> = None;
    for (key, at) in &members {
        let (key, at) = (key.as_str(), *at);
        // At the top level (depth 1) a value read is an object (or array) exactly when it
        // starts as one: whole, or cut short and read as far as it goes.
        let starts = bytes[at];
        match map.get_mut(key) {
            Some(value) => {
                match &*value {
                    PyValue::Object(_) if starts == b'{' => {
                        let node = read_value(bytes, at, 1).0;
                        merge_object(NodeRef::of(&node), value, key, &mut merged);
                    }
                    PyValue::Array(_) if starts == b'[' => {
                        if let Some(mut rows) = RowMerge::new(value, key) {
                            for_each_element(bytes, at, 1, |row| rows.merge(NodeRef::of(&row), &mut merged));
                        }
                    }
                    _ => {}
                }
                anchor = Some(key);
            }
            None => {
                let node = read_value(bytes, at, 1).0;
                if carry(map, anchor, key, NodeRef::of(&node), "", &mut merged) {
                    anchor = Some(key);
                }
            }
        }
    }
    Some(merged)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn merge_object(old: NodeRef<'_>, new: &mut PyValue, path: &str, merged: &mut Merged) {
    let PyValue::Object(map) = new else { return };
    if !old.is_object() {
        return;
    }
    // The last old key that `new` has, so far: a carried key goes right after it.
    let mut anchor: Option<&str> = None;
    for (key, node) in old.members() {
        // The member's path is spelled only where it is used: most members of most rows are
        // scalars the rebuild has too, and need none.
        match map.get_mut(key) {
            Some(value) => {
                match &*value {
                    PyValue::Object(_) if node.is_object() => merge_object(node, value, &join(path, key), merged),
                    PyValue::Array(_) if node.is_array() => merge_rows(node, value, &join(path, key), merged),
                    _ => {}
                }
                anchor = Some(key);
            }
            None => {
                if carry(map, anchor, key, node, path, merged) {
                    anchor = Some(key);
                }
            }
        }
    }
}

/// Carries the old member `key`, which `map` lacks, right after the key `anchor` (first when
/// there is none): whole when it was read whole, as far as it is readable when the cut went
/// through it, and only named when nothing of it is readable. Whether it was carried.
fn carry(
    map: &mut PyObject,
    anchor: Option<&str>,
    key: &str,
    node: NodeRef<'_>,
    path: &str,
    merged: &mut Merged,
) -> bool {
    let here = join(path, key);
    let (value, carried) = match node {
        NodeRef::Value(value) => (Some(value.clone()), &mut merged.carried),
        NodeRef::Node(Node::Torn) => {
            merged.torn.push(here);
            return false;
        }
        // A container the cut went through: its complete members (elements) are what the old
        // file still holds of it, carried and named as cut short.
        partial => (partial.readable(), &mut merged.carried_partly),
    };
    let Some(value) = value else { return false };
    let at = anchor.and_then(|a| map.get_index_of(a)).map_or(0, |i| i + 1);
    insert_at(map, at, key.to_owned(), value);
    carried.push(here);
    true
}

/// What a node of a torn file still holds: a complete value whole, a container cut short as its
/// readable members or elements (recursively), a scalar cut short as nothing.
fn readable_value(node: &Node) -> Option<PyValue> {
    match node {
        Node::Complete(value) => Some(value.clone()),
        Node::PartialObject(members) => {
            let mut object = PyObject::default();
            for (key, member) in members {
                if let Some(value) = readable_value(member) {
                    object.insert(key.clone(), value);
                }
            }
            Some(PyValue::from(object))
        }
        Node::PartialArray(elements) => Some(PyValue::Array(elements.iter().filter_map(readable_value).collect())),
        Node::Torn => None,
    }
}

/// A row of `dynamic_test_results.json`: keyed by `finding_id`, with no unit id.
fn is_standalone_row(row: NodeRef<'_>) -> bool {
    row.member("finding_id").is_some() && row.member("unit_id").is_none() && row.member("route_key").is_none()
}

fn insert_at(map: &mut PyObject, at: usize, key: String, value: PyValue) {
    let (i, _) = map.insert_full(key, value);
    if at < map.len() {
        map.move_index(i, at);
    }
}

fn merge_rows(old: NodeRef<'_>, new: &mut PyValue, path: &str, merged: &mut Merged) {
    let Some(mut rows) = RowMerge::new(new, path) else { return };
    for old_row in old.elements() {
        rows.merge(old_row, merged);
    }
}

/// The merge of an old array of rows into the rebuilt one, one old row at a time in file order
/// (so that the old rows need not all be read before the first is merged).
struct RowMerge<'n> {
    rows: &'n mut Vec<PyValue>,
    path: &'n str,
    /// Rebuilt rows by key: their positions, in order (a map, since scans have many thousands).
    new_positions: std::collections::HashMap<String, Vec<usize>>,
    /// The keys already named as dropped.
    named: Vec<String>,
    /// Where the next carried-back row goes: after the rebuilt row the previous old row matched.
    after: Option<usize>,
    /// Rows carried back so far (the positions above are of the rows before them).
    inserted: usize,
}

impl<'n> RowMerge<'n> {
    /// `None` when `new` is no array, or the rows at `path` have no key (they are the builder's).
    fn new(new: &'n mut PyValue, path: &'n str) -> Option<RowMerge<'n>> {
        let PyValue::Array(rows) = new else { return None };
        if !matches!(path, "results" | "confirmed_findings" | "findings" | "units") {
            return None;
        }
        let mut new_positions: std::collections::HashMap<String, Vec<usize>> = std::collections::HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            if let Some(k) = row_key_of_value(path, row) {
                new_positions.entry(k.to_owned()).or_default().push(i);
            }
        }
        Some(RowMerge { rows, path, new_positions, named: Vec::new(), after: None, inserted: 0 })
    }

    /// Merges the next old row: every old row of a key is merged in, in file order, so a key
    /// met twice (two rows of one unit) loses neither row's keys. A row without a key is left.
    fn merge(&mut self, old_row: NodeRef<'_>, merged: &mut Merged) {
        let path = self.path;
        let Some(k) = old_row.row_key(path) else { return };
        let positions: Vec<usize> = self
            .new_positions
            .get(k.as_str())
            .map(|p| p.iter().map(|i| i + self.inserted).collect())
            .unwrap_or_default();
        if positions.is_empty() {
            // A dynamic-test result (keyed by `finding_id`) stands alone: nothing is counted
            // from it, so a result the rebuild has no data for (no checkpoint, and the old row
            // cut short or not carried by the builder) comes back as far as it is readable.
            // Unit rows feed the metrics, which the builder computed from its own rows: those
            // are named instead (the next OpenAnt run redoes the unit).
            if is_standalone_row(old_row) {
                if let Some(value) = old_row.readable() {
                    let at = self.after.map_or(0, |i| i + 1);
                    self.rows.insert(at, value);
                    self.inserted += 1;
                    self.after = Some(at);
                    merged.carried_rows.push(format!("{path}[{k}]"));
                }
                return;
            }
            // Only the top-level unit lists are named; confirmed_findings follows results.
            if path != "confirmed_findings" && !self.named.contains(&k) {
                merged.dropped_rows.push(format!("{path}[{k}]"));
                self.named.push(k);
            }
            return;
        }
        for &i in &positions {
            merge_object(old_row, &mut self.rows[i], &format!("{path}[{k}]"), merged);
        }
        self.after = positions.last().copied();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::to_python_string;
    use proptest::prelude::*;

    fn p(s: &str) -> PyValue {
        parse(s.as_bytes()).unwrap()
    }

    fn keys(v: &PyValue) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn carried_keys_keep_their_place() {
        let old = salvage_tree(br#"{"a": 1, "x": 2, "b": 3, "y": {"k": 1}, "c": 4, "z": 5}"#).unwrap();
        let mut new = p(r#"{"a": 10, "b": 30, "c": 40}"#);
        let m = merge_lossless(&old, &mut new);
        assert_eq!(keys(&new), ["a", "x", "b", "y", "c", "z"]);
        assert_eq!(new.get("a"), Some(&PyValue::from(10)));
        assert_eq!(m.carried, ["x", "y", "z"]);
        // A key before every rebuilt key goes first.
        let old = salvage_tree(br#"{"w": 0, "a": 1}"#).unwrap();
        let mut new = p(r#"{"a": 1, "b": 2}"#);
        merge_lossless(&old, &mut new);
        assert_eq!(keys(&new), ["w", "a", "b"]);
    }

    #[test]
    fn nested_objects_and_keyed_rows() {
        let old = salvage_tree(
            br#"{"metrics": {"total": 2, "extra": 7}, "results": [
              {"unit_id": "a", "finding": "vulnerable", "error": "boom", "error_info": {"kind": "quota"}},
              {"unit_id": "gone", "finding": "safe"}]}"#,
        )
        .unwrap();
        let mut new = p(r#"{"metrics": {"total": 1}, "results": [{"unit_id": "a", "finding": "vulnerable"}]}"#);
        let m = merge_lossless(&old, &mut new);
        assert_eq!(new.get("metrics"), Some(&p(r#"{"total": 1, "extra": 7}"#)));
        let row = &new.get("results").unwrap().as_array().unwrap()[0];
        assert_eq!(keys(row), ["unit_id", "finding", "error", "error_info"]);
        assert_eq!(m.carried, ["metrics.extra", "results[a].error", "results[a].error_info"]);
        assert_eq!(m.dropped_rows, ["results[gone]"]);
    }

    #[test]
    fn a_torn_file_gives_its_complete_members_only() {
        let doc = p(
            r#"{"dataset": "d", "extra": {"k": [1, 2, 3]}, "results": [{"unit_id": "a", "note": "n"}, {"unit_id": "b", "note": "m"}]}"#,
        );
        let text = to_python_string(&doc, true).unwrap();
        let cut = text.find("\"k\": [").unwrap() + 8;
        let old = salvage_tree(&text.as_bytes()[..cut]).unwrap();
        let mut new = p(r#"{"dataset": "d", "results": []}"#);
        let m = merge_lossless(&old, &mut new);
        assert_eq!(m.carried_partly, ["extra"]);
        // The cut left no element of `k` whole.
        assert_eq!(new.get("extra"), Some(&p(r#"{"k": []}"#)));
        // Cut inside b's row: a's note is carried, b's row is partial but keyed.
        let cut = text.find("\"m\"").unwrap() + 2;
        let old = salvage_tree(&text.as_bytes()[..cut]).unwrap();
        let mut new = p(r#"{"dataset": "d", "results": [{"unit_id": "a"}, {"unit_id": "b"}]}"#);
        let m = merge_lossless(&old, &mut new);
        assert_eq!(m.carried, ["extra", "results[a].note"]);
        assert_eq!(m.torn, ["results[b].note"]);
    }

    #[test]
    fn a_dynamic_result_without_data_comes_back_as_far_as_it_was_readable() {
        let doc = p(
            r#"{"total_findings": 3, "results": [{"finding_id": "VULN-001", "status": "CONFIRMED"}, {"finding_id": "VULN-002", "status": "ERROR", "details": "d", "test_code": "x = 1"}, {"finding_id": "VULN-003", "status": "BLOCKED"}]}"#,
        );
        let text = to_python_string(&doc, true).unwrap();
        let cut = text.find("\"test_code\"").unwrap() + 15;
        let old = salvage_tree(&text.as_bytes()[..cut]).unwrap();
        // The rebuild has data for VULN-001 only (and VULN-003, which the cut hid).
        let mut new = p(
            r#"{"total_findings": 3, "results": [{"finding_id": "VULN-001", "status": "CONFIRMED"}, {"finding_id": "VULN-003", "status": "BLOCKED"}]}"#,
        );
        let m = merge_lossless(&old, &mut new);
        assert_eq!(m.carried_rows, ["results[VULN-002]"]);
        let ids: Vec<&str> = new
            .get("results")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.get("finding_id").unwrap().as_str().unwrap())
            .collect();
        assert_eq!(ids, ["VULN-001", "VULN-002", "VULN-003"]);
        let carried = &new.get("results").unwrap().as_array().unwrap()[1];
        assert_eq!(keys(carried), ["finding_id", "status", "details"]);
        assert!(m.dropped_rows.is_empty());
    }

    #[test]
    fn an_outline_reads_top_level_keys_and_metrics_only() {
        let text = r#"{"dataset": "d", "metrics": {"total": 2, "needs_review": 0}, "results": [{"unit_id": "a"}, {"unit_id": "b"}], "tail": 1}"#;
        let (keys, metrics) = outline(text.as_bytes()).unwrap();
        assert_eq!(keys, ["dataset", "metrics", "results", "tail"]);
        assert_eq!(metrics.unwrap().keys(), ["total", "needs_review"]);
        // Cut inside results: the keys up to it.
        let cut = text.find("\"b\"").unwrap();
        let (keys, metrics) = outline(&text.as_bytes()[..cut]).unwrap();
        assert_eq!(keys, ["dataset", "metrics", "results"]);
        assert!(matches!(metrics, Some(Node::Complete(_))));
        assert_eq!(outline(b"[1, 2]"), None);
    }

    #[test]
    fn garbage_salvages_nothing() {
        for bad in [&b""[..], b"[1]", b"\x00\x00", b"nope", b"\xff{"] {
            assert!(salvage_tree(bad).is_none(), "{bad:?}");
        }
        assert_eq!(salvage_tree(b"{"), Some(Node::PartialObject(Vec::new())));
    }

    /// Every complete key path of `old` (objects recursively; keyed rows by key: some row of
    /// the same key holds it) is in `new`.
    fn superset(old: NodeRef<'_>, new: &PyValue, path: &str) -> Result<(), String> {
        for (key, node) in old.members() {
            let here = join(path, key);
            let Some(value) = new.get(key) else {
                if node.complete().is_some() {
                    return Err(format!("{here} lost"));
                }
                continue;
            };
            match value {
                PyValue::Object(_) if node.is_object() => superset(node, value, &here)?,
                PyValue::Array(rows) if node.is_array() => {
                    for old_row in node.elements() {
                        let Some(k) = old_row.row_key(&here) else { continue };
                        let same: Vec<&PyValue> = rows
                            .iter()
                            .filter(|r| NodeRef::Value(r).row_key(&here).as_deref() == Some(k.as_str()))
                            .collect();
                        if !same.is_empty() && !same.iter().any(|r| superset(old_row, r, &here).is_ok()) {
                            return Err(format!("{here}[{k}] lost keys"));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn assert_superset(old: &Node, new: &PyValue, path: &str) {
        if let Err(e) = superset(NodeRef::of(old), new, path) {
            panic!("{e}");
        }
    }

    fn arb_leaf() -> impl Strategy<Value = PyValue> {
        prop_oneof![
            Just(PyValue::Null),
            any::<bool>().prop_map(PyValue::Bool),
            any::<i32>().prop_map(|n| PyValue::from(i64::from(n))),
            "[a-z\\\"é ]{0,6}".prop_map(PyValue::Str),
        ]
    }

    fn arb_object(depth: u32) -> BoxedStrategy<PyValue> {
        let leaf = arb_leaf().boxed();
        let value = if depth == 0 { leaf } else { prop_oneof![3 => leaf, 1 => arb_object(depth - 1)].boxed() };
        proptest::collection::vec(("[a-e]{1,2}", value), 0..5)
            .prop_map(|kv| PyValue::from(kv.into_iter().collect::<PyObject>()))
            .boxed()
    }

    /// An old output: top-level keys, a nested object, and keyed rows, as every output has.
    fn arb_doc() -> impl Strategy<Value = PyValue> {
        (arb_object(2), arb_object(1), proptest::collection::vec((0u8..4, arb_object(1)), 0..4)).prop_map(
            |(top, metrics, rows)| {
                let mut doc = top.as_object().unwrap().clone();
                doc.insert("metrics".into(), metrics);
                let rows = rows
                    .into_iter()
                    .map(|(id, mut r)| {
                        r.as_object_mut().unwrap().insert("unit_id".into(), PyValue::from(format!("u{id}")));
                        r
                    })
                    .collect();
                doc.insert("results".into(), PyValue::Array(rows));
                PyValue::from(doc)
            },
        )
    }

    /// What a builder produces: some of the old keys (others its own), rows of some of the
    /// old units with fewer keys.
    fn rebuild_of(old: &PyValue, keep: &[bool]) -> PyValue {
        let mut flag = keep.iter().copied().cycle();
        let mut new = PyObject::default();
        new.insert("built".into(), PyValue::from(1));
        for (k, v) in old.as_object().unwrap() {
            if !flag.next().unwrap_or(true) {
                continue;
            }
            let v = match (k.as_str(), v) {
                ("results", PyValue::Array(rows)) => PyValue::Array(
                    rows.iter()
                        .filter(|_| flag.next().unwrap_or(true))
                        .map(|r| {
                            let mut o = PyObject::default();
                            o.insert("unit_id".into(), r.get("unit_id").unwrap().clone());
                            PyValue::from(o)
                        })
                        .collect(),
                ),
                (_, PyValue::Object(_)) => PyValue::object(),
                _ => PyValue::from("rebuilt"),
            };
            new.insert(k.clone(), v);
        }
        PyValue::from(new)
    }

    /// JSON-like text as a torn old output holds it: keys from a small pool (so the rebuilt
    /// document shares some, and an object may name one twice), rows keyed by `id` / `unit_id` /
    /// `finding_id` or not keyed or not objects, and now and then a value `parse` refuses (a
    /// malformed number, a lone surrogate, nesting past its limit) though its extent is found.
    fn arb_text(depth: u32, bad: bool) -> BoxedStrategy<String> {
        let good = proptest::sample::select(vec![
            "null",
            "true",
            "0",
            "-2.5",
            "1e3",
            "\"\"",
            "\"s\"",
            "\"\\u00e9\\n\"",
            "\"u1\"",
        ])
        .prop_map(str::to_owned);
        let refused = prop_oneof![
            3 => proptest::sample::select(vec!["1.2.3", "\"\\ud800\"", "tru"]).prop_map(str::to_owned),
            1 => Just(format!("{}{}", "[".repeat(crate::pyjson::MAX_DEPTH), "]".repeat(crate::pyjson::MAX_DEPTH))),
        ];
        let leaf = if bad { prop_oneof![30 => good, 1 => refused].boxed() } else { good.boxed() };
        if depth == 0 {
            return leaf.boxed();
        }
        let key = proptest::sample::select(vec![
            "id",
            "unit_id",
            "finding_id",
            "route_key",
            "a",
            "b",
            "metrics",
            "metadata",
            "units",
            "results",
        ]);
        let value = prop_oneof![3 => leaf, 2 => arb_text(depth - 1, bad)].boxed();
        let object = proptest::collection::vec((key, value.clone()), 0..5).prop_map(|members| {
            let members: Vec<String> = members.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
            format!("{{{}}}", members.join(", "))
        });
        let array = proptest::collection::vec(value, 0..5).prop_map(|items| format!("[{}]", items.join(", ")));
        prop_oneof![object, array].boxed()
    }

    /// A whole old output's text: a top-level object of such members, its arrays of rows.
    fn arb_old_text(bad: bool) -> impl Strategy<Value = String> {
        let member_key = proptest::sample::select(vec!["a", "b", "c", "agent_context", "error", "id", "unit_id"]);
        let keyed = (
            proptest::sample::select(vec!["id", "unit_id", "finding_id", "x"]),
            0u8..4,
            proptest::collection::vec((member_key, arb_text(1, bad)), 0..4),
        )
            .prop_map(|(key, id, members)| {
                let members: String = members.iter().map(|(k, v)| format!(", \"{k}\": {v}")).collect();
                format!("{{\"{key}\": \"u{id}\"{members}}}")
            });
        let row = prop_oneof![5 => keyed, 1 => arb_text(1, bad)];
        let rows = proptest::collection::vec(row, 0..5).prop_map(|rows| format!("[{}]", rows.join(", ")));
        let member = prop_oneof![
            3 => (proptest::sample::select(vec!["units", "results", "findings"]), prop_oneof![4 => rows, 1 => arb_text(2, bad)]),
            2 => (proptest::sample::select(vec!["metadata", "metrics", "a", "b"]), arb_text(2, bad)),
        ];
        proptest::collection::vec(member, 0..6).prop_map(|members| {
            let members: Vec<String> = members.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
            format!("{{\n  {}\n}}", members.join(",\n  "))
        })
    }

    /// The old text, whole or cut at any byte (and then maybe followed by NULs, as a kill
    /// leaves a file), and a rebuilt document: the old document, when it parses, with some keys
    /// left out at the top and in its rows (as a builder leaves out what it does not produce),
    /// or another document.
    fn arb_merge_case() -> impl Strategy<Value = (Vec<u8>, PyValue)> {
        let cut = (any::<proptest::sample::Index>(), 0usize..3, any::<bool>());
        let other = arb_old_text(false).prop_filter_map("parses", |text| parse(text.as_bytes()).ok());
        let leave_out = proptest::collection::vec(any::<bool>(), 1..16);
        (arb_old_text(true), cut, other, leave_out).prop_map(|(text, (cut, nuls, whole), other, leave_out)| {
            let new = match parse(text.as_bytes()) {
                Ok(doc) if leave_out[0] => thinned(doc, &mut leave_out.iter().copied().cycle()),
                _ => other,
            };
            let mut bytes = text.into_bytes();
            if !whole {
                bytes.truncate(cut.index(bytes.len() + 1));
                bytes.extend(std::iter::repeat_n(0, nuls));
            }
            (bytes, new)
        })
    }

    /// `doc` with the members `leave_out` picks left out, at the top and in the objects of its
    /// arrays (their row keys kept), recursively.
    fn thinned(doc: PyValue, leave_out: &mut impl Iterator<Item = bool>) -> PyValue {
        match doc {
            PyValue::Object(map) => {
                let mut kept = PyObject::default();
                for (k, v) in *map {
                    if matches!(k.as_str(), "id" | "unit_id" | "finding_id") || !leave_out.next().unwrap_or(false) {
                        kept.insert(k, thinned(v, leave_out));
                    }
                }
                PyValue::from(kept)
            }
            PyValue::Array(items) => PyValue::Array(items.into_iter().map(|v| thinned(v, leave_out)).collect()),
            scalar => scalar,
        }
    }

    proptest! {
        /// The lossless property: old file (whole, or cut at any offset) + rebuild ⊇ the old
        /// file's keys, top-level, nested and per keyed row; ensure_ascii either way.
        #[test]
        fn rebuild_plus_old_is_a_superset_of_the_old_keys(
            old in arb_doc(),
            keep in proptest::collection::vec(any::<bool>(), 1..12),
            cut in any::<proptest::sample::Index>(),
            ascii in any::<bool>(),
        ) {
            let text = to_python_string(&old, ascii).unwrap();
            let whole = salvage_tree(text.as_bytes()).unwrap();
            let mut new = rebuild_of(&old, &keep);
            merge_lossless(&whole, &mut new);
            assert_superset(&whole, &new, "");
            prop_assert_eq!(new.get("built"), Some(&PyValue::from(1)));
            let at = cut.index(text.len() + 1);
            if let Some(prefix) = text.is_char_boundary(at).then(|| salvage_tree(&text.as_bytes()[..at])).flatten() {
                let mut new = rebuild_of(&old, &keep);
                merge_lossless(&prefix, &mut new);
                assert_superset(&prefix, &new, "");
            }
        }

        /// A document's outline is its text's, so a rebuild handed the document reads its era
        /// markers from it rather than scanning the text.
        #[test]
        fn a_documents_outline_is_its_texts(doc in arb_doc(), ascii in any::<bool>()) {
            let text = to_python_string(&doc, ascii).unwrap();
            prop_assert_eq!(outline_of_document(&doc), outline(text.as_bytes()));
        }

        /// The merge from the old file's text is the merge from its tree: the same document,
        /// key order included, and the same notes in the same order.
        #[test]
        fn merging_from_the_text_is_merging_from_the_tree((old, new) in arb_merge_case()) {
            let mut from_tree = new.clone();
            let want = salvage_tree(&old).map(|tree| merge_lossless(&tree, &mut from_tree));
            let mut from_text = new;
            let got = merge_lossless_text(&old, &mut from_text);
            prop_assert_eq!(got, want);
            prop_assert_eq!(to_python_string(&from_text, true), to_python_string(&from_tree, true));
        }

        /// The top level read for era markers has the tree's keys, and the tree's member for
        /// each key it was asked to read.
        #[test]
        fn the_top_level_alone_has_the_trees_keys_and_named_members((old, _) in arb_merge_case()) {
            let tree = salvage_tree(&old);
            let top = salvage_top(&old, &["metrics", "units"]);
            prop_assert_eq!(top.is_some(), tree.is_some());
            if let (Some(top), Some(tree)) = (top, tree) {
                prop_assert_eq!(top.keys(), tree.keys());
                for key in ["metrics", "units"] {
                    prop_assert_eq!(top.member(key), tree.member(key));
                }
            }
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Some(tree) = salvage_tree(&bytes) {
                let mut new = PyValue::object();
                let _ = merge_lossless(&tree, &mut new);
            }
        }

        #[test]
        fn never_panics_on_json_like(s in "[{}\\[\\]\",:\\\\ a-z0-9\n]{0,200}") {
            let _ = salvage_tree(s.as_bytes());
        }
    }
}
