//! What the one parse of a file keeps of it for the checks that run after it (see
//! [`crate::shape::Shape::Tagged`]), in bounded memory: scalars and lengths, and, for the rows
//! of an array a [`RowPolicy`] folds (`results[]`), not one entry per value but the count of
//! each distinct kind of row and the exact sets of its ids. A 1 GB `results.json` records
//! millions of values; folded, what is kept is its ids (one compact copy, [`IdSet`]) and a
//! handful of row kinds.

use foldhash::HashMap;
use std::borrow::Cow;
#[cfg(test)]
use std::sync::atomic::AtomicUsize;

use crate::id_set::{self, IdSet};

/// The JSON types, named the way messages name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

impl JsonType {
    pub fn name(self) -> &'static str {
        match self {
            JsonType::Object => "an object",
            JsonType::Array => "an array",
            JsonType::String => "a string",
            JsonType::Number => "a number",
            JsonType::Bool => "a boolean",
            JsonType::Null => "null",
        }
    }
}

/// A value recorded by a [`crate::shape::Shape::Tagged`]: scalars by value, containers by
/// their length. Small by construction: nothing a document holds is kept beyond one string.
#[derive(Debug, Clone, PartialEq)]
pub enum Captured {
    Str(String),
    Number(f64),
    Bool(bool),
    Null,
    Array(usize),
    Object(usize),
}

impl Captured {
    pub fn json_type(&self) -> JsonType {
        match self {
            Captured::Str(_) => JsonType::String,
            Captured::Number(_) => JsonType::Number,
            Captured::Bool(_) => JsonType::Bool,
            Captured::Null => JsonType::Null,
            Captured::Array(_) => JsonType::Array,
            Captured::Object(_) => JsonType::Object,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Captured::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Captured::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// Python truthiness, as OpenAnt's `if value:` tests it.
    pub fn truthy(&self) -> bool {
        match self {
            Captured::Str(s) => !s.is_empty(),
            Captured::Number(n) => *n != 0.0,
            Captured::Bool(b) => *b,
            Captured::Null => false,
            Captured::Array(n) | Captured::Object(n) => *n > 0,
        }
    }
}

/// What the checker recorded while it walked the document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Captures {
    /// The keys of the top-level object, in document order (empty when it is not an object).
    pub top_level_keys: Vec<String>,
    /// Tagged values outside any array, in document order.
    pub fields: Vec<(&'static str, Captured)>,
    /// Tagged values inside arrays, with the index of their nearest enclosing array element
    /// (`$.results[3].unit_id` is recorded with index 3), in document order. The rows of a
    /// folded array are here while they fit [`raw_row_budget`], else in `rows`.
    pub items: Vec<(&'static str, usize, Captured)>,
    /// The rows of a folded array that outgrew the budget (see [`Captures::rows`]).
    pub rows: Option<Box<Rows>>,
}

impl Captures {
    /// The first value recorded under `tag` outside any array.
    pub fn get(&self, tag: &str) -> Option<&Captured> {
        self.fields.iter().find(|(n, _)| *n == tag).map(|(_, v)| v)
    }

    /// Every value recorded under `tag` inside arrays, with its element index (not the
    /// values of folded rows: see [`Captures::rows`]).
    pub fn items<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = (usize, &'a Captured)> + 'a {
        self.items.iter().filter(move |(n, _, _)| *n == tag).map(|(_, i, v)| (*i, v))
    }

    /// Folds the rows of `policy`'s tags once for all, right after the parse: later
    /// [`Captures::rows`] calls borrow them instead of folding the same values again (the
    /// cross-file rules ask a results file for its rows five times).
    pub fn fold_rows(&mut self, policy: &'static RowPolicy) {
        if !self.items.iter().any(|(t, _, _)| policy.covers(t)) {
            return;
        }
        let rows = self.rows(policy).into_owned();
        self.items.retain(|(t, _, _)| !policy.covers(t));
        self.rows = Some(Box::new(rows));
    }

    /// The rows of `policy`'s tags, folded: those folded during the parse, and those still
    /// kept value by value (under the budget) folded now, the same way.
    pub fn rows(&self, policy: &'static RowPolicy) -> Cow<'_, Rows> {
        let raw = self.items.iter().any(|(t, _, _)| policy.covers(t));
        match (&self.rows, raw) {
            (Some(rows), false) => Cow::Borrowed(rows),
            (folded, _) => {
                let mut items: Vec<&(&'static str, usize, Captured)> =
                    self.items.iter().filter(|(t, _, _)| policy.covers(t)).collect();
                // Rows are told apart by index (a repeated array's rows share them).
                items.sort_by_key(|(_, i, _)| *i);
                let mut fold = RowFold::new(policy);
                for (tag, index, value) in items {
                    fold.record(tag, *index, value);
                }
                let mut rows = fold.finish();
                if let Some(folded) = folded {
                    rows.merge(folded, policy.shown);
                }
                Cow::Owned(rows)
            }
        }
    }
}

/// How many row values a parse keeps one by one before it folds them (see [`Captures::rows`]).
const RAW_ROW_BUDGET: usize = 1 << 14;

#[cfg(not(test))]
pub fn raw_row_budget() -> usize {
    RAW_ROW_BUDGET
}

#[cfg(test)]
thread_local! {
    /// This thread's budget: tests set it on the threads of a pool of their own
    /// ([`with_raw_row_budget`]), so tests running meanwhile keep the real one.
    static TEST_BUDGET: std::cell::Cell<usize> = const { std::cell::Cell::new(RAW_ROW_BUDGET) };
}

/// Arrays folded since the process started, so a test can tell that a fold happened.
#[cfg(test)]
pub static FOLDS_STARTED: AtomicUsize = AtomicUsize::new(0);

#[cfg(test)]
pub fn raw_row_budget() -> usize {
    TEST_BUDGET.with(std::cell::Cell::get)
}

/// Runs `work` on a thread pool of its own whose threads (and so every parse `work` runs, on
/// them or through rayon) fold past `budget` values: for the tests that compare a file folded
/// while parsed with the same file folded after.
#[cfg(test)]
pub fn with_raw_row_budget<T: Send>(budget: usize, work: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .start_handler(move |_| TEST_BUDGET.with(|b| b.set(budget)))
        .build()
        .expect("a thread pool for the test")
        .install(work)
}

/// Which tagged values of an array's elements make a row, and what of them the checks can
/// tell apart (so that rows alike are counted together, exactly).
#[derive(Debug)]
pub struct RowPolicy {
    /// Every tag recorded in a row.
    pub tags: &'static [&'static str],
    /// The tag whose string values identify a row (`unit_id`): kept exactly, as a set.
    pub id: &'static str,
    /// A row's key when its `id` is not a non-empty string (`route_key`).
    pub fallback_key: &'static str,
    /// The string a fact's string value is kept as: any two strings it maps to the same
    /// must be alike for every check (e.g. every string outside a closed vocabulary, by
    /// emptiness and blankness). Numbers and containers are kept as zero/empty or not.
    pub canonical_str: fn(&str) -> &str,
    /// How many rows of each kind keep their id, for messages naming the first few.
    pub shown: usize,
}

impl RowPolicy {
    fn position(&self, tag: &str) -> Option<u8> {
        self.tags.iter().position(|t| same_tag(t, tag)).map(|p| p as u8)
    }

    pub fn covers(&self, tag: &str) -> bool {
        self.position(tag).is_some()
    }
}

/// `a == b` for two byte strings of one length, without a call into `memcmp` for the short
/// ones keys and row words are (two overlapping loads from each end cover 4 to 16 bytes).
#[inline]
pub fn same_len_bytes_equal(a: &[u8], b: &[u8]) -> bool {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len();
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("eight bytes"));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("four bytes"));
    match n {
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// `a == b` for tags, cheap when they differ: tags are constants, so equal ones are nearly
/// always at one address, and those of a policy often share a length and a prefix
/// (`result.…`) but not a last byte; the bytes are compared only when all that agrees.
fn same_tag(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && (a.as_ptr() == b.as_ptr()
            || (a.as_bytes().last() == b.as_bytes().last() && same_len_bytes_equal(a.as_bytes(), b.as_bytes())))
}

/// An array's rows, folded (see [`RowPolicy`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    /// The distinct kinds of row, in order of first appearance.
    pub kinds: Vec<RowKind>,
    /// The string ids that are their row's key (its last non-empty id string).
    keyed_ids: IdSet,
    /// The other id strings (empty ones, earlier values of a repeated key).
    other_ids: IdSet,
    /// The fallback keys of rows without a non-empty id string.
    fallback_keys: IdSet,
}

/// Rows with the same facts: how many, and the first few by index with their id (the last
/// id value recorded in the row, when a string).
#[derive(Debug, Clone, PartialEq)]
pub struct RowKind {
    /// The row's facts (last value per tag), in the policy's tag order, ids and keys aside.
    pub facts: Vec<(&'static str, Captured)>,
    pub rows: usize,
    pub first: Vec<(usize, Option<String>)>,
}

impl RowKind {
    pub fn fact(&self, tag: &str) -> Option<&Captured> {
        self.facts.iter().find(|(t, _)| *t == tag).map(|(_, v)| v)
    }
}

impl Rows {
    /// Every id string recorded, in byte order, each once.
    pub fn ids(&self) -> impl Iterator<Item = &str> + '_ {
        id_set::union(&self.keyed_ids, &self.other_ids)
    }

    pub fn has_id(&self, id: &str) -> bool {
        self.keyed_ids.contains(id) || self.other_ids.contains(id)
    }

    /// Whether `key` is some row's key: its last non-empty id string, else its last
    /// non-empty fallback key string.
    pub fn has_key(&self, key: &str) -> bool {
        self.keyed_ids.contains(key) || self.fallback_keys.contains(key)
    }

    /// Adds `other`'s rows (a second array folded apart); each kind keeps its first `shown`.
    pub fn merge(&mut self, other: &Rows, shown: usize) {
        for kind in &other.kinds {
            match self.kinds.iter_mut().find(|k| k.facts == kind.facts) {
                Some(mine) => {
                    mine.rows += kind.rows;
                    mine.first.extend(kind.first.iter().cloned());
                    mine.first.sort_by_key(|(i, _)| *i);
                    mine.first.truncate(shown);
                }
                None => self.kinds.push(kind.clone()),
            }
        }
        for (mine, theirs) in [
            (&mut self.keyed_ids, &other.keyed_ids),
            (&mut self.other_ids, &other.other_ids),
            (&mut self.fallback_keys, &other.fallback_keys),
        ] {
            mine.extend_from(theirs);
            mine.seal();
        }
    }
}

/// A fact as the fold compares it: strings by their canonical form's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Fact {
    Str(u32),
    Number(bool),
    Bool(bool),
    Null,
    Array(bool),
    Object(bool),
}

/// How many strings, of at most how many bytes, [`RowFold`] remembers as they came.
const RECENT_STRINGS: usize = 8;
const RECENT_LEN: usize = 32;

/// Folds rows as their values are recorded, one row at a time (a row ends when a value of
/// another element index comes).
#[derive(Debug)]
pub struct RowFold {
    policy: &'static RowPolicy,
    /// Where the policy's id and fallback key are in its tags: a tag at one of them is one
    /// of them (the first position of equal tags).
    id_position: Option<u8>,
    fallback_position: Option<u8>,
    strings: HashMap<Box<str>, u32>,
    kind_of: HashMap<Vec<(u8, Fact)>, usize>,
    rows: Rows,
    /// The row being recorded: its index, facts, and id text.
    current: Option<usize>,
    facts: Vec<(u8, Fact)>,
    text: String,
    id_spans: Vec<(usize, usize)>,
    /// The last id value: `Some(None)` when it was not a string.
    last_id: Option<Option<(usize, usize)>>,
    last_nonempty_id: Option<(usize, usize)>,
    last_nonempty_fallback: Option<(usize, usize)>,
    /// The last few short strings recorded, with their canonical form's number.
    recent: Vec<(Box<str>, u32)>,
    /// The facts and kind of the last row flushed.
    last_facts: Vec<(u8, Fact)>,
    last_kind: Option<usize>,
}

impl RowFold {
    pub fn new(policy: &'static RowPolicy) -> RowFold {
        RowFold {
            policy,
            id_position: policy.position(policy.id),
            fallback_position: policy.position(policy.fallback_key),
            strings: HashMap::default(),
            kind_of: HashMap::default(),
            rows: Rows::default(),
            current: None,
            facts: Vec::new(),
            text: String::new(),
            id_spans: Vec::new(),
            last_id: None,
            last_nonempty_id: None,
            last_nonempty_fallback: None,
            recent: Vec::new(),
            last_facts: Vec::new(),
            last_kind: None,
        }
    }

    pub fn covers(&self, tag: &str) -> bool {
        self.policy.covers(tag)
    }

    fn row(&mut self, index: usize) {
        if self.current != Some(index) {
            self.flush();
            self.current = Some(index);
        }
    }

    fn set(&mut self, position: u8, fact: Fact) {
        match self.facts.iter_mut().find(|(p, _)| *p == position) {
            Some(slot) => slot.1 = fact,
            None => self.facts.push((position, fact)),
        }
    }

    fn keep_text(&mut self, value: &str) -> (usize, usize) {
        let start = self.text.len();
        self.text.push_str(value);
        (start, self.text.len())
    }

    /// Records a string of row `index` under `tag`; false (and nothing recorded) when the
    /// policy does not cover `tag`, so a caller needs no [`RowFold::covers`] first.
    pub fn record_str(&mut self, tag: &str, index: usize, value: &str) -> bool {
        let Some(position) = self.policy.position(tag) else { return false };
        self.row(index);
        if Some(position) == self.id_position {
            let span = self.keep_text(value);
            self.id_spans.push(span);
            self.last_id = Some(Some(span));
            if !value.is_empty() {
                self.last_nonempty_id = Some(span);
            }
        } else if Some(position) == self.fallback_position {
            if !value.is_empty() {
                self.last_nonempty_fallback = Some(self.keep_text(value));
            }
        } else {
            let number = self.string_number(value);
            self.set(position, Fact::Str(number));
        }
        true
    }

    /// The number of `value`'s canonical form. Row strings mostly repeat a few words
    /// (`"SAFE"`, `"safe"`): the last few met are looked up as they are, before a string is
    /// made canonical and hashed.
    fn string_number(&mut self, value: &str) -> u32 {
        let known = |raw: &&(Box<str>, u32)| {
            raw.0.len() == value.len() && same_len_bytes_equal(raw.0.as_bytes(), value.as_bytes())
        };
        if let Some((_, number)) = self.recent.iter().find(known) {
            return *number;
        }
        let canonical = (self.policy.canonical_str)(value);
        let next = self.strings.len() as u32;
        let number = match self.strings.get(canonical) {
            Some(n) => *n,
            None => *self.strings.entry(canonical.into()).or_insert(next),
        };
        // Only words kept as they are (a closed vocabulary): free text would churn the list.
        let kept_as_is = canonical.as_ptr() == value.as_ptr() && canonical.len() == value.len();
        if kept_as_is && value.len() <= RECENT_LEN {
            if self.recent.len() == RECENT_STRINGS {
                self.recent.remove(0);
            }
            self.recent.push((value.into(), number));
        }
        number
    }

    pub fn record(&mut self, tag: &str, index: usize, value: &Captured) {
        if let Captured::Str(s) = value {
            self.record_str(tag, index, s);
            return;
        }
        let Some(position) = self.policy.position(tag) else { return };
        self.row(index);
        if Some(position) == self.id_position {
            self.last_id = Some(None);
        } else if Some(position) != self.fallback_position {
            let fact = match value {
                Captured::Number(n) => Fact::Number(*n != 0.0),
                Captured::Bool(b) => Fact::Bool(*b),
                Captured::Null => Fact::Null,
                Captured::Array(n) => Fact::Array(*n > 0),
                Captured::Object(n) => Fact::Object(*n > 0),
                Captured::Str(_) => unreachable!("strings are recorded above"),
            };
            self.set(position, fact);
        }
    }

    /// The kind of the row whose facts are in `facts` (sorted): most rows are of the kind of
    /// the row before, which is then known without hashing the facts.
    fn kind(&mut self) -> usize {
        if let Some(kind) = self.last_kind {
            if self.last_facts == self.facts {
                return kind;
            }
        }
        let kind = match self.kind_of.get(self.facts.as_slice()) {
            Some(k) => *k,
            None => {
                let names: HashMap<u32, &str> = self.strings.iter().map(|(s, n)| (*n, &**s)).collect();
                let facts = self
                    .facts
                    .iter()
                    .map(|(p, fact)| {
                        let value = match fact {
                            Fact::Str(n) => Captured::Str(names[n].to_string()),
                            Fact::Number(b) => Captured::Number(if *b { 1.0 } else { 0.0 }),
                            Fact::Bool(b) => Captured::Bool(*b),
                            Fact::Null => Captured::Null,
                            Fact::Array(b) => Captured::Array(usize::from(*b)),
                            Fact::Object(b) => Captured::Object(usize::from(*b)),
                        };
                        (self.policy.tags[*p as usize], value)
                    })
                    .collect();
                self.rows.kinds.push(RowKind { facts, rows: 0, first: Vec::new() });
                self.kind_of.insert(self.facts.clone(), self.rows.kinds.len() - 1);
                self.rows.kinds.len() - 1
            }
        };
        self.last_facts.clone_from(&self.facts);
        self.last_kind = Some(kind);
        kind
    }

    fn flush(&mut self) {
        let Some(index) = self.current.take() else { return };
        self.facts.sort_unstable_by_key(|(p, _)| *p);
        let kind = self.kind();
        let text = &self.text;
        let span_text = |(a, b): (usize, usize)| &text[a..b];
        let key = self.last_nonempty_id.map(span_text);
        for span in &self.id_spans {
            let id = span_text(*span);
            if Some(id) == key {
                self.rows.keyed_ids.push(id);
            } else {
                self.rows.other_ids.push(id);
            }
        }
        if key.is_none() {
            if let Some(fallback) = self.last_nonempty_fallback {
                self.rows.fallback_keys.push(span_text(fallback));
            }
        }
        let kind = &mut self.rows.kinds[kind];
        kind.rows += 1;
        if kind.first.len() < self.policy.shown {
            let id = match self.last_id {
                Some(Some(span)) => Some(span_text(span).to_string()),
                _ => None,
            };
            kind.first.push((index, id));
        }
        self.facts.clear();
        self.text.clear();
        self.id_spans.clear();
        self.last_id = None;
        self.last_nonempty_id = None;
        self.last_nonempty_fallback = None;
    }

    /// The rows, their id sets sealed.
    pub fn finish(mut self) -> Rows {
        self.flush();
        let mut rows = self.rows;
        rows.keyed_ids.seal();
        rows.other_ids.seal();
        rows.fallback_keys.seal();
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(s: &str) -> &str {
        if s == "safe" || s == "SAFE" {
            s
        } else {
            "?"
        }
    }

    static POLICY: RowPolicy = RowPolicy {
        tags: &["id", "key", "verdict", "ok"],
        id: "id",
        fallback_key: "key",
        canonical_str: canonical,
        shown: 2,
    };

    fn fold(items: &[(&'static str, usize, Captured)]) -> Rows {
        let mut fold = RowFold::new(&POLICY);
        for (t, i, v) in items {
            fold.record(t, *i, v);
        }
        fold.finish()
    }

    fn s(v: &str) -> Captured {
        Captured::Str(v.into())
    }

    #[test]
    fn same_len_bytes_equal_is_equality_at_every_length() {
        for n in 0..40 {
            let a: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(same_len_bytes_equal(&a, &a.clone()), "{n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_len_bytes_equal(&a, &b), "{n} {at}");
            }
        }
    }

    #[test]
    fn rows_alike_are_counted_together_and_ids_kept_exactly() {
        let rows = fold(&[
            ("id", 0, s("a")),
            ("verdict", 0, s("SAFE")),
            ("id", 1, s("b")),
            ("verdict", 1, s("SAFE")),
            ("ok", 1, Captured::Number(0.0)),
            ("id", 2, s("c")),
            ("verdict", 2, s("odd words")),
            ("ok", 2, Captured::Number(-0.0)),
            ("id", 3, s("d")),
            ("verdict", 3, s("other words")),
            ("ok", 3, Captured::Number(0.0)),
            ("id", 4, s("e")),
            ("verdict", 4, s("SAFE")),
            ("id", 5, s("f")),
            ("verdict", 5, s("SAFE")),
        ]);
        type Summary = (Vec<(&'static str, Captured)>, usize, Vec<usize>);
        let summary: Vec<Summary> =
            rows.kinds.iter().map(|k| (k.facts.clone(), k.rows, k.first.iter().map(|(i, _)| *i).collect())).collect();
        assert_eq!(
            summary,
            [
                (vec![("verdict", s("SAFE"))], 3, vec![0, 4]),
                (vec![("verdict", s("SAFE")), ("ok", Captured::Number(0.0))], 1, vec![1]),
                (vec![("verdict", s("?")), ("ok", Captured::Number(0.0))], 2, vec![2, 3]),
            ]
        );
        assert_eq!(rows.kinds[0].first[1], (4, Some("e".into())));
        assert_eq!(rows.ids().collect::<Vec<_>>(), ["a", "b", "c", "d", "e", "f"]);
        assert!(rows.has_key("f") && !rows.has_key("g"));
    }

    #[test]
    fn keys_fall_back_and_repeated_ids_keep_every_value() {
        let rows = fold(&[
            // A repeated key: both values are ids, the last is the row's key.
            ("id", 0, s("a")),
            ("id", 0, s("b")),
            // No id string: the fallback key is the key; a null id names no row.
            ("key", 1, s("route")),
            ("id", 1, Captured::Null),
            // An empty id is an id but no key.
            ("id", 2, s("")),
            ("key", 2, s("")),
        ]);
        assert_eq!(rows.ids().collect::<Vec<_>>(), ["", "a", "b"]);
        assert!(rows.has_key("b") && rows.has_key("route"));
        assert!(!rows.has_key("a") && !rows.has_key(""));
        let firsts: Vec<&(usize, Option<String>)> = rows.kinds.iter().flat_map(|k| &k.first).collect();
        assert_eq!(firsts, [&(0, Some("b".into())), &(1, None)]);
        assert_eq!(rows.kinds.iter().map(|k| k.rows).sum::<usize>(), 3);
    }

    #[test]
    fn rows_folded_after_the_parse_match_rows_folded_during_it() {
        let items: Vec<(&'static str, usize, Captured)> = (0..50)
            .flat_map(|i| [("id", i, s(&format!("u{i}"))), ("verdict", i, s(if i % 3 == 0 { "SAFE" } else { "x" }))])
            .collect();
        let raw = Captures { items: items.clone(), ..Captures::default() };
        let folded = Captures { rows: Some(Box::new(fold(&items))), ..Captures::default() };
        assert_eq!(raw.rows(&POLICY), folded.rows(&POLICY));
        // Half folded during the parse, half still raw: merged.
        let (a, b) = items.split_at(50);
        let half = Captures { items: b.to_vec(), rows: Some(Box::new(fold(a))), ..Captures::default() };
        let merged = half.rows(&POLICY);
        assert_eq!(merged.kinds.iter().map(|k| k.rows).sum::<usize>(), 50);
        assert!(merged.ids().eq(raw.rows(&POLICY).ids()));
    }
}
