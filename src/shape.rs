//! Structural checks that run *inside* the parse: a [`Shape`] drives a serde seed over the
//! document, so a multi-GB file is checked in one streaming pass without building a DOM.
//! Parts of a document no shape constrains are skipped with `IgnoredAny`, whose serde_json
//! implementation is iterative: arbitrarily deep nesting there cannot overflow the stack.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::captures::{raw_row_budget, same_len_bytes_equal, RowFold};
pub use crate::captures::{Captured, Captures, JsonType, RowPolicy};

/// What a JSON value must look like.
#[derive(Debug, Clone)]
pub enum Shape {
    Any,
    String,
    Number,
    Bool,
    Null,
    /// A string from a closed set.
    Enum(&'static [&'static str]),
    Array(Box<Shape>),
    Object(ObjectShape),
    /// An object with arbitrary keys whose values all have one shape.
    Map(Box<Shape>),
    /// Any of these; picked by the value's JSON type, so at most one alternative per type.
    Union(Vec<Shape>),
    /// The inner shape, and the value is recorded in [`Captures`] under the tag, wherever in
    /// the document it sits (with the index of the nearest enclosing array element).
    Tagged(&'static str, Box<Shape>),
    /// The inner shape (an array), whose elements' tagged values are rows folded by the
    /// policy once there are more than [`raw_row_budget`] of them (see [`Captures::rows`]).
    Rows(&'static RowPolicy, Box<Shape>),
}

#[derive(Debug, Clone, Default)]
pub struct ObjectShape {
    fields: Vec<Field>,
    /// When non-empty, the object must hold every key of at least one of these sets.
    variants: Vec<&'static [&'static str]>,
    /// The shape of the values of keys not listed in `fields` (any value when `None`).
    others: Option<Box<Shape>>,
    /// When set, the name of every key not listed in `fields` is recorded under this tag.
    other_keys: Option<&'static str>,
    /// Bit `n` set when some field's name is `n` bytes long (63 for any longer): most keys
    /// of a document's objects are not listed, and are told so by their length alone.
    name_lengths: u64,
}

/// The bit of [`ObjectShape::name_lengths`] for a name `len` bytes long.
fn length_bit(len: usize) -> u64 {
    1 << len.min(63)
}

#[derive(Debug, Clone)]
struct Field {
    name: &'static str,
    shape: Shape,
    required: bool,
}

impl ObjectShape {
    pub fn new() -> ObjectShape {
        ObjectShape::default()
    }

    /// A key that must be present, with the shape its value must have.
    pub fn req(self, name: &'static str, shape: Shape) -> ObjectShape {
        self.field(Field { name, shape, required: true })
    }

    /// A key that may be absent; when present its value must have the shape.
    pub fn opt(self, name: &'static str, shape: Shape) -> ObjectShape {
        self.field(Field { name, shape, required: false })
    }

    fn field(mut self, field: Field) -> ObjectShape {
        self.name_lengths |= length_bit(field.name.len());
        self.fields.push(field);
        self
    }

    /// An optional key whose value is recorded in [`Captures`] under its own name, for
    /// checks that need it after the parse (a checkpoint's `id`).
    pub fn capture(self, name: &'static str, shape: Shape) -> ObjectShape {
        self.opt(name, tagged(name, shape))
    }

    /// Values of keys not listed must have this shape.
    pub fn others(mut self, shape: Shape) -> ObjectShape {
        self.others = Some(Box::new(shape));
        self
    }

    /// Records the names of keys not listed in [`Captures`] under `tag` (a metric no era
    /// scanaudit knows writes, say).
    pub fn record_other_keys(mut self, tag: &'static str) -> ObjectShape {
        self.other_keys = Some(tag);
        self
    }

    /// The object must hold all keys of at least one of the given sets.
    pub fn variant(mut self, keys: &'static [&'static str]) -> ObjectShape {
        self.variants.push(keys);
        self
    }

    pub fn shape(self) -> Shape {
        Shape::Object(self)
    }
}

pub fn obj() -> ObjectShape {
    ObjectShape::new()
}

pub fn array(of: Shape) -> Shape {
    Shape::Array(Box::new(of))
}

pub fn map(of: Shape) -> Shape {
    Shape::Map(Box::new(of))
}

pub fn one_of(shapes: Vec<Shape>) -> Shape {
    Shape::Union(shapes)
}

/// Any document; when it is an object, its top-level keys are recorded in [`Captures`].
pub fn any_recording_keys() -> Shape {
    Shape::Union(vec![map(Shape::Any), Shape::Any])
}

/// This shape, with the value recorded in [`Captures`] under `tag` (see [`Shape::Tagged`]).
pub fn tagged(tag: &'static str, shape: Shape) -> Shape {
    Shape::Tagged(tag, Box::new(shape))
}

/// This array shape, its elements' tagged values folded as rows (see [`Shape::Rows`]).
pub fn rows(policy: &'static RowPolicy, shape: Shape) -> Shape {
    Shape::Rows(policy, Box::new(shape))
}

/// Shorthand for "this shape, or null".
pub fn nullable(shape: Shape) -> Shape {
    Shape::Union(vec![shape, Shape::Null])
}

/// Collects captures and the first schema violation while serde drives the seed.
#[derive(Debug, Default)]
pub struct ShapeState {
    pub captures: Captures,
    /// The violation, stored here because serde_json appends a position to its own message.
    pub violation: Option<String>,
    /// The folded array being walked, if any.
    folding: Option<Folding>,
    /// [`Captures::top_level_keys`] is left empty.
    skip_top_level_keys: bool,
}

/// Whether a validation records the keys of the top-level object
/// ([`Captures::top_level_keys`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopLevelKeys {
    Recorded,
    /// Left out where that saves time (a copy of every key of every file): for a caller that
    /// never reads them. They may still be there.
    Unwanted,
}

impl ShapeState {
    pub fn new(keys: TopLevelKeys) -> ShapeState {
        ShapeState { skip_top_level_keys: keys == TopLevelKeys::Unwanted, ..ShapeState::default() }
    }
}

/// A [`Shape::Rows`] array being walked: its values are kept in `captures.items` from
/// `start` on until they outgrow the budget, then folded.
#[derive(Debug)]
struct Folding {
    policy: &'static RowPolicy,
    start: usize,
    fold: Option<RowFold>,
}

impl ShapeState {
    fn record(&mut self, tag: &'static str, index: Option<usize>, value: Captured) {
        let Some(index) = index else {
            self.captures.fields.push((tag, value));
            return;
        };
        let items = &mut self.captures.items;
        match &mut self.folding {
            Some(Folding { fold: Some(fold), .. }) if fold.covers(tag) => fold.record(tag, index, &value),
            Some(Folding { policy, start, fold: fold @ None }) if policy.covers(tag) => {
                items.push((tag, index, value));
                if items.len() - *start > raw_row_budget() {
                    #[cfg(test)]
                    crate::captures::FOLDS_STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let mut folded = RowFold::new(policy);
                    let kept: Vec<_> = items.drain(*start..).collect();
                    for (t, i, v) in kept {
                        if folded.covers(t) {
                            folded.record(t, i, &v);
                        } else {
                            items.push((t, i, v));
                        }
                    }
                    *fold = Some(folded);
                }
            }
            _ => items.push((tag, index, value)),
        }
    }

    fn record_str(&mut self, tag: &'static str, index: Option<usize>, value: &str) {
        if let (Some(Folding { fold: Some(fold), .. }), Some(index)) = (&mut self.folding, index) {
            if fold.record_str(tag, index, value) {
                return;
            }
        }
        self.record(tag, index, Captured::Str(value.to_string()))
    }

    /// Ends a folded array: its rows join the captures when they were folded.
    fn end_rows(&mut self, outer: Option<Folding>) {
        if let Some(Folding { policy, fold: Some(fold), .. }) = std::mem::replace(&mut self.folding, outer) {
            let rows = fold.finish();
            match &mut self.captures.rows {
                // A repeated key's second array: both arrays' rows count.
                Some(earlier) => earlier.merge(&rows, policy.shown),
                None => self.captures.rows = Some(Box::new(rows)),
            }
        }
    }
}

/// The seed to hand to a serde_json deserializer.
pub struct ShapeSeed<'a> {
    shape: &'a Shape,
    state: &'a RefCell<ShapeState>,
    path: JsonPath<'a>,
    capture: Option<&'static str>,
}

impl<'a> ShapeSeed<'a> {
    pub fn new(shape: &'a Shape, state: &'a RefCell<ShapeState>) -> ShapeSeed<'a> {
        ShapeSeed { shape, state, path: JsonPath::Root, capture: None }
    }

    fn child(&self, shape: &'a Shape, path: JsonPath<'a>, capture: Option<&'static str>) -> ShapeSeed<'a> {
        ShapeSeed { shape, state: self.state, path, capture }
    }

    fn fail<E: de::Error>(&self, message: String) -> E {
        let mut state = self.state.borrow_mut();
        if state.violation.is_none() {
            state.violation = Some(message.clone());
        }
        E::custom(message)
    }

    fn record(&self, value: Captured) {
        if let Some(tag) = self.capture {
            self.state.borrow_mut().record(tag, self.path.element_index(), value);
        }
    }

    /// The alternative of `self.shape` that accepts a value of type `ty`.
    fn resolve(&self, ty: JsonType) -> Option<&'a Shape> {
        fn accepts(shape: &Shape, ty: JsonType) -> bool {
            matches!(
                (shape, ty),
                (Shape::Any, _)
                    | (Shape::String | Shape::Enum(_), JsonType::String)
                    | (Shape::Number, JsonType::Number)
                    | (Shape::Bool, JsonType::Bool)
                    | (Shape::Null, JsonType::Null)
                    | (Shape::Array(_), JsonType::Array)
                    | (Shape::Object(_) | Shape::Map(_), JsonType::Object)
            )
        }
        match self.shape {
            Shape::Union(alternatives) => alternatives.iter().find(|s| accepts(s, ty)),
            Shape::Tagged(_, inner) | Shape::Rows(_, inner) => self.child(inner, self.path, self.capture).resolve(ty),
            shape => accepts(shape, ty).then_some(shape),
        }
    }

    fn expect<E: de::Error>(&self, ty: JsonType) -> Result<&'a Shape, E> {
        self.resolve(ty)
            .ok_or_else(|| self.fail(format!("{}: expected {}, found {}", self.path, describe(self.shape), ty.name())))
    }

    fn scalar<E: de::Error>(&self, ty: JsonType, captured: Captured) -> Result<(), E> {
        self.expect::<E>(ty)?;
        self.record(captured);
        Ok(())
    }
}

fn describe(shape: &Shape) -> String {
    match shape {
        Shape::Any => "any value".into(),
        Shape::String => JsonType::String.name().into(),
        Shape::Number => JsonType::Number.name().into(),
        Shape::Bool => JsonType::Bool.name().into(),
        Shape::Null => JsonType::Null.name().into(),
        Shape::Enum(values) => {
            let quoted: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
            format!("one of {}", quoted.join(", "))
        }
        Shape::Array(_) => JsonType::Array.name().into(),
        Shape::Object(_) | Shape::Map(_) => JsonType::Object.name().into(),
        Shape::Union(alternatives) => {
            let names: Vec<String> = alternatives.iter().map(describe).collect();
            names.join(" or ")
        }
        Shape::Tagged(_, inner) | Shape::Rows(_, inner) => describe(inner),
    }
}

impl<'de> DeserializeSeed<'de> for ShapeSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(mut self, deserializer: D) -> Result<(), D::Error> {
        // A tagged shape is its inner shape, recorded under the (innermost) tag.
        while let Shape::Tagged(tag, inner) = self.shape {
            self = self.child(inner, self.path, Some(tag));
        }
        if let Shape::Rows(policy, inner) = self.shape {
            let outer = {
                let mut state = self.state.borrow_mut();
                let start = state.captures.items.len();
                state.folding.replace(Folding { policy, start, fold: None })
            };
            let result = self.child(inner, self.path, self.capture).deserialize(deserializer);
            self.state.borrow_mut().end_rows(outer);
            return result;
        }
        if matches!(self.shape, Shape::Any) && self.capture.is_none() {
            IgnoredAny::deserialize(deserializer)?;
            Ok(())
        } else {
            deserializer.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for ShapeSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&describe(self.shape))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<(), E> {
        self.scalar(JsonType::Bool, Captured::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<(), E> {
        self.scalar(JsonType::Number, Captured::Number(value as f64))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
        self.scalar(JsonType::Number, Captured::Number(value as f64))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<(), E> {
        self.scalar(JsonType::Number, Captured::Number(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar(JsonType::Null, Captured::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        let shape = self.expect::<E>(JsonType::String)?;
        if let Shape::Enum(values) = shape {
            if !values.contains(&value) {
                return Err(self.fail(format!(
                    "{}: expected {}, found \"{}\"",
                    self.path,
                    describe(shape),
                    clip(value)
                )));
            }
        }
        if let Some(tag) = self.capture {
            self.state.borrow_mut().record_str(tag, self.path.element_index(), value);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let element = match self.expect::<A::Error>(JsonType::Array)? {
            Shape::Array(element) => element,
            _ => &Shape::Any,
        };
        let mut index = 0;
        loop {
            let seed = self.child(element, JsonPath::Index(&self.path, index), None);
            if seq.next_element_seed(seed)?.is_none() {
                self.record(Captured::Array(index));
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let shape = self.expect::<A::Error>(JsonType::Object)?;
        let at_top = matches!(self.path, JsonPath::Root);
        match shape {
            Shape::Object(object) => {
                let mut seen = Seen::new(object.fields.len());
                let mut present: Vec<String> = Vec::new();
                let mut present_count = 0;
                // An unlisted key's text is copied only when something reads it.
                let record_keys = at_top && !self.state.borrow().skip_top_level_keys;
                let keep_others = record_keys
                    || !object.variants.is_empty()
                    || object.others.is_some()
                    || object.other_keys.is_some();
                let mut other: Option<Key<'de>> = None;
                while let Some(field) =
                    access.next_key_seed(KeySeed { object, other: keep_others.then_some(&mut other) })?
                {
                    present_count += 1;
                    // A listed key's text is its field's name (they compared equal).
                    let text = match field {
                        Some(i) => object.fields[i].name,
                        None => other.as_ref().map_or("", Key::as_str),
                    };
                    if record_keys {
                        self.state.borrow_mut().captures.top_level_keys.push(text.to_string());
                    }
                    match field {
                        Some(i) => {
                            seen.insert(i);
                            let field = &object.fields[i];
                            access.next_value_seed(self.child(&field.shape, JsonPath::Key(&self.path, text), None))?;
                        }
                        None => {
                            if let Some(tag) = object.other_keys {
                                self.state.borrow_mut().record_str(tag, self.path.element_index(), text);
                            }
                            match &object.others {
                                Some(shape) => {
                                    access.next_value_seed(self.child(shape, JsonPath::Key(&self.path, text), None))?;
                                }
                                None => {
                                    access.next_value::<IgnoredAny>()?;
                                }
                            }
                        }
                    }
                    if !object.variants.is_empty() {
                        present.push(text.to_string());
                    }
                }
                let missing: Vec<&str> = object
                    .fields
                    .iter()
                    .enumerate()
                    .filter(|(i, f)| f.required && !seen.contains(*i))
                    .map(|(_, f)| f.name)
                    .collect();
                if !missing.is_empty() {
                    let keys: Vec<String> = missing.iter().map(|k| format!("\"{k}\"")).collect();
                    let noun = if missing.len() == 1 { "key" } else { "keys" };
                    return Err(self.fail(format!("{}: missing required {noun} {}", self.path, keys.join(", "))));
                }
                if !object.variants.is_empty()
                    && !object.variants.iter().any(|keys| keys.iter().all(|k| present.iter().any(|p| p == k)))
                {
                    let sets: Vec<String> =
                        object.variants.iter().map(|keys| format!("{{{}}}", keys.join(", "))).collect();
                    return Err(self.fail(format!("{}: expected the keys {}", self.path, sets.join(" or "))));
                }
                self.record(Captured::Object(present_count));
                Ok(())
            }
            Shape::Map(values) => {
                let mut count = 0;
                let record_keys = at_top && !self.state.borrow().skip_top_level_keys;
                while let Some(key) = access.next_key::<Key<'de>>()? {
                    let key = key.as_str();
                    if record_keys {
                        self.state.borrow_mut().captures.top_level_keys.push(key.to_string());
                    }
                    access.next_value_seed(self.child(values, JsonPath::Key(&self.path, key), None))?;
                    count += 1;
                }
                self.record(Captured::Object(count));
                Ok(())
            }
            _ => {
                let mut count = 0;
                while access.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
                    count += 1;
                }
                self.record(Captured::Object(count));
                Ok(())
            }
        }
    }
}

fn clip(value: &str) -> String {
    const MAX: usize = 40;
    if value.chars().count() <= MAX {
        value.to_string()
    } else {
        let head: String = value.chars().take(MAX).collect();
        format!("{head}…")
    }
}

/// An object key, borrowed from the input when serde_json can.
enum Key<'de> {
    Borrowed(&'de str),
    /// A key read from a stream, copied: short ones (every key a shape names) inline, so a
    /// streamed object costs no allocation per key.
    Inline(InlineKey),
    Owned(String),
}

/// A key of at most [`InlineKey::CAPACITY`] bytes, held without an allocation.
struct InlineKey {
    len: u8,
    bytes: [u8; InlineKey::CAPACITY],
}

impl InlineKey {
    const CAPACITY: usize = 39;

    fn new(key: &str) -> Option<InlineKey> {
        let mut bytes = [0; InlineKey::CAPACITY];
        bytes.get_mut(..key.len())?.copy_from_slice(key.as_bytes());
        Some(InlineKey { len: key.len() as u8, bytes })
    }

    fn as_str(&self) -> &str {
        // SAFETY: `bytes[..len]` is a copy of a whole `&str` (see `new`), so valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.bytes[..usize::from(self.len)]) }
    }
}

impl Key<'_> {
    /// A copy of a key read from a stream: inline when short. Out of line: the key readers
    /// that call it stay small for the many keys that need no copy.
    #[cold]
    #[inline(never)]
    fn copied<'de>(key: &str) -> Key<'de> {
        InlineKey::new(key).map_or_else(|| Key::Owned(key.to_string()), Key::Inline)
    }

    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Inline(key) => key.as_str(),
            Key::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::copied(v))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl ObjectShape {
    /// The index of the field named `key`. Most keys of a document's objects are not listed:
    /// their length rules them out; names often share a length, and the first and last bytes
    /// rule most of those out before the bytes are compared.
    fn field_index(&self, key: &str) -> Option<usize> {
        if self.name_lengths & length_bit(key.len()) == 0 {
            return None;
        }
        let key = key.as_bytes();
        self.fields.iter().position(|f| {
            let name = f.name.as_bytes();
            name.len() == key.len()
                && name.first() == key.first()
                && name.last() == key.last()
                && same_len_bytes_equal(name, key)
        })
    }
}

/// Reads an object's key straight into the index of its [`ObjectShape`] field, `None` for
/// another key, whose text is copied into `other` when it is given (most objects' unlisted
/// keys are skipped unread). The index alone is the seed's value: small enough to come back
/// in registers, where a key's text would go through memory for every key of a big file.
struct KeySeed<'s, 'de> {
    object: &'s ObjectShape,
    other: Option<&'s mut Option<Key<'de>>>,
}

impl<'de> KeySeed<'_, 'de> {
    fn other(self, key: impl FnOnce() -> Key<'de>) -> Option<usize> {
        if let Some(slot) = self.other {
            *slot = Some(key());
        }
        None
    }
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_, 'de> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_, 'de> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    #[inline]
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Option<usize>, E> {
        Ok(match self.object.field_index(v) {
            Some(i) => Some(i),
            None => self.other(|| Key::Borrowed(v)),
        })
    }

    #[inline]
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        Ok(match self.object.field_index(v) {
            Some(i) => Some(i),
            None => self.other(|| Key::copied(v)),
        })
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Option<usize>, E> {
        Ok(match self.object.field_index(&v) {
            Some(i) => Some(i),
            None => self.other(|| Key::Owned(v)),
        })
    }
}

/// Which of an object shape's fields a document's object held: a bit mask for the usual few
/// fields, so checking an object allocates nothing.
enum Seen {
    Mask(u64),
    Flags(Vec<bool>),
}

impl Seen {
    fn new(fields: usize) -> Seen {
        if fields <= 64 {
            Seen::Mask(0)
        } else {
            Seen::Flags(vec![false; fields])
        }
    }

    fn insert(&mut self, i: usize) {
        match self {
            Seen::Mask(mask) => *mask |= 1 << i,
            Seen::Flags(flags) => flags[i] = true,
        }
    }

    fn contains(&self, i: usize) -> bool {
        match self {
            Seen::Mask(mask) => mask & (1 << i) != 0,
            Seen::Flags(flags) => flags[i],
        }
    }
}

/// Where in the document a value sits, as a linked list up to the root (`$.results[3].verdict`).
#[derive(Clone, Copy)]
enum JsonPath<'a> {
    Root,
    Key(&'a JsonPath<'a>, &'a str),
    Index(&'a JsonPath<'a>, usize),
}

impl JsonPath<'_> {
    /// The index of the nearest enclosing array element, if any.
    fn element_index(&self) -> Option<usize> {
        let mut path = self;
        loop {
            match path {
                JsonPath::Root => return None,
                JsonPath::Key(parent, _) => path = parent,
                JsonPath::Index(_, index) => return Some(*index),
            }
        }
    }
}

impl fmt::Display for JsonPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonPath::Root => f.write_str("$"),
            JsonPath::Key(parent, key) => {
                let plain = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if plain {
                    write!(f, "{parent}.{key}")
                } else {
                    write!(f, "{parent}[{}]", serde_json::Value::from(*key))
                }
            }
            JsonPath::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(shape: &Shape, json: &str) -> (Result<(), String>, Captures) {
        let state = RefCell::new(ShapeState::default());
        let mut de = serde_json::Deserializer::from_str(json);
        let result = ShapeSeed::new(shape, &state).deserialize(&mut de).and_then(|()| de.end());
        let state = state.into_inner();
        (result.map_err(|e| state.violation.clone().unwrap_or_else(|| e.to_string())), state.captures)
    }

    fn sample() -> Shape {
        obj()
            .req("units", array(obj().req("id", Shape::String).opt("diff_selected", Shape::Bool).shape()))
            .opt("phase", Shape::Enum(&["in_progress", "done"]))
            .capture("id", Shape::Any)
            .shape()
    }

    #[test]
    fn accepts_matching_documents_and_ignores_unknown_keys() {
        let (result, captures) = check(&sample(), r#"{"x": [[[{}]]], "units": [{"id": "a", "code": {}}], "id": "u1"}"#);
        assert_eq!(result, Ok(()));
        assert_eq!(captures.top_level_keys, ["x", "units", "id"]);
        assert_eq!(captures.get("id"), Some(&Captured::Str("u1".into())));
    }

    #[test]
    fn names_the_path_of_a_type_error() {
        let (result, _) = check(&sample(), r#"{"units": [{"id": "a"}, {"id": 7}]}"#);
        assert_eq!(result, Err("$.units[1].id: expected a string, found a number".into()));
    }

    #[test]
    fn reports_missing_keys_and_bad_enum_values() {
        let (result, _) = check(&sample(), r#"{"phase": "done"}"#);
        assert_eq!(result, Err(r#"$: missing required key "units""#.into()));
        let (result, _) = check(&sample(), r#"{"units": [], "phase": 3}"#);
        assert_eq!(result, Err(r#"$.phase: expected one of "in_progress", "done", found a number"#.into()));
        let (result, _) = check(&sample(), r#"{"units": [], "phase": "later"}"#);
        assert_eq!(result, Err(r#"$.phase: expected one of "in_progress", "done", found "later""#.into()));
    }

    #[test]
    fn tagged_values_are_recorded_with_their_element_index() {
        let result = obj()
            .req("unit_id", tagged("unit", Shape::String))
            .opt("verification", tagged("verification", obj().opt("agree", tagged("agree", Shape::Any)).shape()))
            .shape();
        let shape = obj()
            .req("results", tagged("results", array(result)))
            .opt("metrics", obj().opt("total", tagged("total", Shape::Number)).others(Shape::Number).shape())
            .shape();
        let json = r#"{"metrics": {"total": 2, "safe": 1},
            "results": [{"unit_id": "a", "files": [{"unit_id": 1}]}, {"unit_id": "b", "verification": {"agree": true, "x": 1}}]}"#;
        let (result, captures) = check(&shape, json);
        assert_eq!(result, Ok(()));
        assert_eq!(captures.get("total"), Some(&Captured::Number(2.0)));
        assert_eq!(captures.get("results"), Some(&Captured::Array(2)));
        let units: Vec<(usize, &Captured)> = captures.items("unit").collect();
        assert_eq!(units, [(0, &Captured::Str("a".into())), (1, &Captured::Str("b".into()))]);
        assert_eq!(captures.items("verification").collect::<Vec<_>>(), [(1, &Captured::Object(2))]);
        assert_eq!(captures.items("agree").collect::<Vec<_>>(), [(1, &Captured::Bool(true))]);
        // `others` holds unlisted keys to their shape.
        let (result, _) = check(&shape, r#"{"results": [], "metrics": {"safe": "x"}}"#);
        assert_eq!(result, Err("$.metrics.safe: expected a number, found a string".into()));
    }

    #[test]
    fn captures_non_string_ids_by_type() {
        let (_, captures) = check(&sample(), r#"{"units": [], "id": 12}"#);
        assert_eq!(captures.get("id"), Some(&Captured::Number(12.0)));
    }

    #[test]
    fn variants_need_one_complete_key_set() {
        let shape = obj()
            .req("results", array(Shape::Any))
            .variant(&["repository", "total_findings"])
            .variant(&["findings_tested"])
            .shape();
        assert_eq!(check(&shape, r#"{"findings_tested": 0, "results": []}"#).0, Ok(()));
        assert_eq!(check(&shape, r#"{"repository": "r", "total_findings": 1, "results": []}"#).0, Ok(()));
        assert_eq!(
            check(&shape, r#"{"repository": "r", "results": []}"#).0,
            Err("$: expected the keys {repository, total_findings} or {findings_tested}".into())
        );
    }

    #[test]
    fn odd_keys_are_quoted_in_paths() {
        let shape = map(Shape::String);
        assert_eq!(check(&shape, r#"{"a b": 1}"#).0, Err(r#"$["a b"]: expected a string, found a number"#.into()));
    }

    #[test]
    fn deep_nesting_under_any_is_fine() {
        let depth = 100_000;
        let json = format!("{{\"units\": [], \"deep\": {}{}}}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(check(&sample(), &json).0, Ok(()));
    }
}
