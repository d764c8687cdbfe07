//! Byte-level JSON validation and damage classification.
//!
//! A file is healthy when it is valid UTF-8 and holds exactly one complete JSON document
//! (Python's dialect: `NaN`, `Infinity` and `-Infinity` are accepted because OpenAnt's `json`
//! module writes and reads them), followed by nothing but whitespace, and has the shape of
//! its kind. When it is not, the first problem is classified the way the damage happened:
//! nothing at all (`empty`), a prefix (`truncated`), NUL bytes where data should be
//! (`zero-filled`), broken syntax or extra data (`corrupt`), bytes that are not UTF-8
//! (`invalid-utf8`), or a well-formed document of the wrong shape (`schema`).
//!
//! A file is read whole when it fits in what is left of [`MEMORY_BUDGET`], shared by all
//! threads (UTF-8 is checked in one pass, then serde_json parses the `str` at GB/s); otherwise
//! it streams through [`Utf8Reader`] in bounded memory. So peak memory stays bounded however
//! many cores validate at once and however large the files are.
//!
//! Either way [`crate::fastjson`] tries first: one pass that takes a healthy file (the same
//! [`ShapeSeed`], so the same captures) and gives up on anything else, which the full
//! validator below then decides and words.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeSeed;
use serde_json::error::Category;

use crate::fastjson;
use crate::finding::{FindingKind, Location};
use crate::pyjson::limits::{self, LimitScanner, LimitViolation};
use crate::shape::{Captures, Shape, ShapeSeed, ShapeState, TopLevelKeys};

/// Bytes of file content all threads together may hold in memory at once. Besides it, each
/// thread keeps a read buffer of at most [`KEPT_BUFFER`] between files, and a streamed file
/// holds three chunks of [`fastjson`]'s reader at a time.
pub const MEMORY_BUDGET: u64 = 256 * 1024 * 1024;

/// Files larger than this always stream, whatever the budget holds.
pub const IN_MEMORY_LIMIT: u64 = 64 * 1024 * 1024;

static IN_MEMORY: AtomicU64 = AtomicU64::new(0);

/// A reservation of `len` bytes of [`MEMORY_BUDGET`], released on drop.
struct Reservation(u64);

impl Reservation {
    fn take(len: u64) -> Option<Reservation> {
        if len > IN_MEMORY_LIMIT {
            return None;
        }
        IN_MEMORY
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used + len <= MEMORY_BUDGET).then_some(used + len)
            })
            .ok()
            .map(|_| Reservation(len))
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        IN_MEMORY.fetch_sub(self.0, Ordering::AcqRel);
    }
}

/// The first thing wrong with a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// One of the per-file damage kinds: empty, truncated, zero-filled, corrupt, invalid-utf8, schema.
    pub kind: FindingKind,
    pub location: Option<Location>,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Validation {
    pub problem: Option<Problem>,
    pub captures: Captures,
}

impl Validation {
    pub fn is_valid(&self) -> bool {
        self.problem.is_none()
    }
}

/// Validates an in-memory document against `shape`.
pub fn validate_bytes(bytes: &[u8], shape: &Shape) -> Validation {
    validate_bytes_keys(bytes, shape, TopLevelKeys::Recorded)
}

/// [`validate_bytes`], recording the top-level keys or not.
fn validate_bytes_keys(bytes: &[u8], shape: &Shape, keys: TopLevelKeys) -> Validation {
    // Most files are healthy: one pass decides that; anything else is decided below. A file
    // cut short (what repair is run for) would be read to its end only to give up.
    if !ends_unfinished(tail(bytes)) {
        if let Some(captures) = fastjson::validate_slice_keys(bytes, shape, keys) {
            return Validation { problem: None, captures };
        }
    }
    full_validation(bytes, shape)
}

/// How much of a file's end [`ends_unfinished`] looks at.
const TAIL: usize = 256;

/// The last [`TAIL`] bytes of `bytes`.
fn tail(bytes: &[u8]) -> &[u8] {
    &bytes[bytes.len().saturating_sub(TAIL)..]
}

/// Whether a text ending in `tail` surely is no whole document of an object or array: its last
/// byte but whitespace is no `}` or `]`. Only a hint that the fast path would read it all to
/// give up (a fifth of a cut output's validation, issue 17): the full validator decides every
/// file either way. `false` for a tail of whitespace only.
fn ends_unfinished(tail: &[u8]) -> bool {
    match tail.iter().rev().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
        Some(last) => !matches!(last, b'}' | b']'),
        None => false,
    }
}

/// [`validate_bytes`] without the fast path: the validator that decides and words every problem.
fn full_validation(bytes: &[u8], shape: &Shape) -> Validation {
    let source = SliceBytes(bytes);
    let validation = damage_before_shape(syntax_and_shape(bytes, shape), &source);
    apply_limits(validation, limits::first_violation(bytes), &source)
}

/// The shape is checked while the document is parsed, so a value of the wrong type can stop
/// the parse before damage further on is seen. But json.load reads the whole document before
/// OpenAnt looks at its shape: a file it cannot read is damaged, not of the wrong shape. So a
/// schema problem stands only when the rest of the document parses (an error path: one more
/// parse, without the shape).
fn damage_before_shape(validation: Validation, bytes: &dyn ByteSource) -> Validation {
    if validation.problem.as_ref().is_none_or(|p| p.kind != FindingKind::Schema) {
        return validation;
    }
    let syntax = retry_with_python_text(bytes, &Shape::Any);
    match syntax.problem {
        Some(problem) => Validation {
            problem: Some(problem),
            captures: Captures { top_level_keys: validation.captures.top_level_keys, ..Captures::default() },
        },
        None => validation,
    }
}

/// What OpenAnt's reader refuses in an otherwise well-formed document (nesting past its
/// recursion limit, ints past its digit limit: the one rule, in [`limits`]) is `corrupt`.
/// Python reads the whole document before OpenAnt looks at its shape, so a violation anywhere
/// wins over a schema problem; against damage, the first by offset wins, as Python reads in
/// order.
fn apply_limits(validation: Validation, violation: Option<LimitViolation>, bytes: &dyn ByteSource) -> Validation {
    let Some(violation) = violation else { return validation };
    let wins = match &validation.problem {
        None => true,
        Some(p) if p.kind == FindingKind::Schema => true,
        Some(p) => p.location.is_none_or(|l| violation.offset < l.offset),
    };
    if !wins {
        return validation;
    }
    invalid(Problem {
        kind: FindingKind::Corrupt,
        location: Some(location_at(bytes, violation.offset)),
        message: violation.kind.to_string(),
    })
}

fn syntax_and_shape(bytes: &[u8], shape: &Shape) -> Validation {
    if let Some(problem) = leading_problem(bytes) {
        return invalid(problem);
    }
    // Parse the valid UTF-8 prefix; whatever it finds first, before the bad byte, wins.
    let (text, utf8_error) = match std::str::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(error) => (std::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or_default(), Some(error)),
    };
    let state = RefCell::new(ShapeState::default());
    let mut de = serde_json::Deserializer::from_str(text);
    let result = ShapeSeed::new(shape, &state).deserialize(&mut de).and_then(|()| de.end());
    let source = SliceBytes(bytes);
    match (utf8_error, &result) {
        (Some(error), Ok(())) => {
            invalid(utf8_problem(&source, error.valid_up_to() as u64, error.error_len().is_none()))
        }
        // The prefix stops where the bad bytes start: if that is all that is wrong with it,
        // the bad bytes are the first problem (the stream path sees them the same way).
        (Some(error), Err(e)) if prefix_ended_early(text.as_bytes(), e) => {
            invalid(utf8_problem(&source, error.valid_up_to() as u64, error.error_len().is_none()))
        }
        _ => finish(result, state, &source, shape),
    }
}

fn prefix_ended_early(prefix: &[u8], error: &serde_json::Error) -> bool {
    let source = SliceBytes(prefix);
    error.classify() == Category::Eof
        || (error.classify() == Category::Syntax
            && position_of(&source, error).is_some_and(|l| unfinished_token_at_end(&source, l.offset).is_some()))
}

fn invalid(problem: Problem) -> Validation {
    Validation { problem: Some(problem), captures: Captures::default() }
}

/// Validates a file: in memory when the budget allows, else as a stream.
/// `Err` means the file could not be read (the caller reports it as `unreadable`).
pub fn validate_file(path: &Path, shape: &Shape) -> io::Result<Validation> {
    validate_open(crate::no_follow::open_regular(path)?, shape)
}

/// Validates an already opened file (see [`crate::no_follow::open_regular`]).
pub fn validate_open(file: File, shape: &Shape) -> io::Result<Validation> {
    let len = file.metadata()?.len();
    validate_open_len(file, len, shape)
}

/// [`validate_open`] for a file whose length the caller has just learned from its `fstat`.
pub fn validate_open_len(file: File, len: u64, shape: &Shape) -> io::Result<Validation> {
    validate_open_len_keys(file, len, shape, TopLevelKeys::Recorded)
}

/// [`validate_open_len`], recording the top-level keys or not: `check` reads them of a few
/// kinds of files only, and copying every key of every file was 1-2% of its time (issue 17).
pub fn validate_open_len_keys(file: File, len: u64, shape: &Shape, keys: TopLevelKeys) -> io::Result<Validation> {
    if let Some(_reservation) = Reservation::take(len) {
        return with_read_buffer(|bytes| {
            read_rest_into(&file, len, bytes)?;
            Ok(validate_bytes_keys(bytes, shape, keys))
        });
    }
    validate_stream(file, shape)
}

/// A read buffer up to this size is kept for the thread's next file; a larger one is freed.
/// Big enough for the few MB files of a scan tree: at 256 KiB, the buffers freed and taken
/// anew for them doubled check's peak RSS on the 24-scan tree (48 → 96 MB) and cost 8% of its
/// time, so keeping them bounds memory better than freeing them.
const KEPT_BUFFER: usize = 4 * 1024 * 1024;

thread_local! {
    /// The buffer the thread's last file was read into, kept for its next one.
    static READ_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Runs `f` on an empty buffer of the thread's: check reads thousands of small files one
/// after another, and a fresh buffer for each cost a page fault per 4 KiB read (the
/// allocator hands back freed pages to the system, and takes them back zeroed), a third of
/// the reading (issue 17). A buffer above [`KEPT_BUFFER`] is freed after use, so what stays
/// allocated between files is bounded; a nested call finds the cell empty and starts afresh.
fn with_read_buffer<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    let mut bytes = READ_BUFFER.take();
    bytes.clear();
    let result = f(&mut bytes);
    if bytes.capacity() <= KEPT_BUFFER {
        READ_BUFFER.set(bytes);
    }
    result
}

/// The most one `read` returns on Linux (`MAX_RW_COUNT`): a read this long may be short
/// without being at the end.
const MAX_READ: usize = 0x7fff_f000;

/// [`read_rest_into`] a new buffer.
#[cfg(test)]
fn read_rest(file: &File, len: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    read_rest_into(file, len, &mut bytes)?;
    Ok(bytes)
}

/// Reads what is left of `file`, `len` bytes by its `fstat`, into `bytes` (empty, maybe with
/// capacity left from an earlier file), made at least one byte larger: a file still `len`
/// bytes long takes one `read`, whose short count with all `len` bytes in says it is at its
/// end (a file that reads short before that is read on until a `read` gives 0). std's
/// `read_to_end` adds an `fstat`, an `lseek` and a last `read` returning 0 to every file. A
/// file that grew meanwhile is read on.
fn read_rest_into(file: &File, len: u64, bytes: &mut Vec<u8>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    bytes.reserve(len as usize + 1);
    loop {
        if bytes.len() == bytes.capacity() {
            bytes.reserve(bytes.capacity().max(8192));
        }
        let spare = bytes.spare_capacity_mut();
        let asked = spare.len().min(MAX_READ);
        // SAFETY: the kernel writes at most `asked` bytes into the vector's spare capacity.
        let n = unsafe { libc::read(file.as_raw_fd(), spare.as_mut_ptr().cast(), asked) };
        if n < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        let n = n as usize;
        // SAFETY: `read` initialised the first `n` bytes of the spare capacity.
        unsafe { bytes.set_len(bytes.len() + n) };
        // A short read is the end only once the `fstat` length is in: a network or FUSE file
        // system may read short before it, and a file cut there would be judged truncated.
        if n == 0 || (n < asked && asked < MAX_READ && bytes.len() as u64 >= len) {
            return Ok(());
        }
    }
}

fn validate_stream(file: File, shape: &Shape) -> io::Result<Validation> {
    // Most files are healthy: one pass in bounded memory decides that (with positioned reads,
    // leaving the file's offset where the full validator below expects it), unless the file's
    // end shows it cut short.
    if !file_ends_unfinished(&file) {
        if let Some(captures) = fastjson::validate_file(&file, shape) {
            return Ok(Validation { problem: None, captures });
        }
    }
    full_stream_validation(file, shape)
}

/// [`ends_unfinished`] of an open file's end, read by position (the offset is left as it is);
/// `false` when it cannot be read.
fn file_ends_unfinished(file: &File) -> bool {
    use std::os::unix::fs::FileExt;
    let Ok(len) = file.metadata().map(|m| m.len()) else { return false };
    let mut tail = [0u8; TAIL];
    let start = len.saturating_sub(TAIL as u64);
    match file.read_at(&mut tail[..(len - start) as usize], start) {
        Ok(read) => ends_unfinished(&tail[..read]),
        Err(_) => false,
    }
}

/// [`validate_stream`] without the fast path.
fn full_stream_validation(file: File, shape: &Shape) -> io::Result<Validation> {
    let bytes = FileBytes::new(file.try_clone()?)?;
    let mut head = [0u8; 3];
    let head_len = bytes.read_into(0, &mut head)?;
    if head_len == 3 && head == BOM {
        return Ok(Validation { problem: leading_problem(&head), captures: Captures::default() });
    }
    let mut scanner = LimitScanner::new();
    let mut reader =
        Utf8Reader::new(Scanned { inner: BufReader::with_capacity(64 * 1024, file), scanner: &mut scanner });
    let state = RefCell::new(ShapeState::default());
    let result = {
        // serde_json reads a reader one byte at a time: a BufReader on top keeps that a copy
        // from its buffer, not a call down the Utf8Reader and scanner stack per byte.
        let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(64 * 1024, &mut reader));
        ShapeSeed::new(shape, &state).deserialize(&mut de).and_then(|()| de.end())
    };
    let utf8_error = reader.utf8_error();
    drop(reader);
    if let Err(error) = &result {
        if error.classify() == Category::Io {
            return match utf8_error {
                Some((offset, incomplete_at_end)) => Ok(Validation {
                    problem: Some(utf8_problem(&bytes, offset, incomplete_at_end)),
                    captures: Captures::default(),
                }),
                None => Err(io::Error::other(serde_message(error))),
            };
        }
    }
    let parsed_whole = result.is_ok();
    let validation = damage_before_shape(finish(result, state, &bytes, shape), &bytes);
    // A document parsed to its end was scanned to its end on the way; otherwise the scan
    // stopped early, and the limits are checked over the whole file (an error path).
    let violation = if parsed_whole {
        scanner.finish()
    } else {
        let mut whole = LimitScanner::new();
        bytes.chunks(0, &mut |_, chunk| {
            whole.feed(chunk);
            true
        });
        whole.finish()
    };
    Ok(apply_limits(validation, violation, &bytes))
}

/// Feeds every byte read to a [`LimitScanner`] on the way through.
struct Scanned<'s, R> {
    inner: R,
    scanner: &'s mut LimitScanner,
}

impl<R: Read> Read for Scanned<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.scanner.feed(&buf[..n]);
        Ok(n)
    }
}

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

fn is_json_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn empty(len: u64) -> Problem {
    let message = if len == 0 {
        "the file is empty (0 bytes)".to_string()
    } else {
        format!("the file holds only whitespace ({len} bytes)")
    };
    Problem { kind: FindingKind::Empty, location: Some(Location { offset: 0, line: 1, column: 1 }), message }
}

/// Problems visible before parsing: no document at all, or a byte-order mark.
fn leading_problem(bytes: &[u8]) -> Option<Problem> {
    if bytes.iter().all(|&b| is_json_whitespace(b)) {
        return Some(empty(bytes.len() as u64));
    }
    if bytes.starts_with(&BOM) {
        return Some(Problem {
            kind: FindingKind::Corrupt,
            location: Some(Location { offset: 0, line: 1, column: 1 }),
            message: "starts with a UTF-8 byte-order mark, which OpenAnt never writes and Python's json.load rejects"
                .into(),
        });
    }
    None
}

/// Turns the parse outcome into a [`Validation`].
fn finish(
    result: Result<(), serde_json::Error>,
    state: RefCell<ShapeState>,
    bytes: &dyn ByteSource,
    shape: &Shape,
) -> Validation {
    let state = state.into_inner();
    let error = match result {
        Ok(()) => return Validation { problem: None, captures: state.captures },
        Err(error) => error,
    };
    let problem = classify(&error, &state, bytes);
    if problem.is_none() {
        // What Python accepts and serde_json does not: parse again with it neutralised.
        return retry_with_python_text(bytes, shape);
    }
    // A damaged document keeps only the top-level keys read before the damage: enough to
    // tell what a torn temp was (check's temp explanation); nothing else trusts them.
    let captures = Captures { top_level_keys: state.captures.top_level_keys, ..Captures::default() };
    Validation { problem, captures }
}

/// Classifies a serde_json error; `None` means the error is on something Python's reader
/// accepts (a float literal, a lone surrogate, an overflowing number): parse again with
/// [`PythonText`].
fn classify(error: &serde_json::Error, state: &ShapeState, bytes: &dyn ByteSource) -> Option<Problem> {
    let len = bytes.len();
    match error.classify() {
        Category::Eof if bytes.next_non_whitespace(0).is_none() => Some(empty(len)),
        Category::Eof => Some(Problem {
            kind: FindingKind::Truncated,
            location: Some(location_at(bytes, len)),
            message: format!("the document ends early: {} (file is {len} bytes)", serde_message(error)),
        }),
        Category::Data => Some(Problem {
            kind: FindingKind::Schema,
            location: position_of(bytes, error),
            message: state.violation.clone().unwrap_or_else(|| serde_message(error)),
        }),
        Category::Syntax | Category::Io => {
            let offset = position_of(bytes, error).map(|l| l.offset).unwrap_or(0);
            // serde_json points at the offending byte, or for some errors one byte before it.
            if let Some(nul) =
                [offset, offset + 1, offset.saturating_sub(1)].into_iter().find(|&o| bytes.get(o) == Some(0))
            {
                let mut start = nul;
                while start > 0 && bytes.get(start - 1) == Some(0) {
                    start -= 1;
                }
                return Some(zero_filled(bytes, start));
            }
            if [offset, offset.saturating_sub(1)].into_iter().any(|o| is_python_literal_at(bytes, o))
                || PYTHON_ACCEPTS.contains(&serde_message(error).as_str())
            {
                return None;
            }
            if let Some(start) = unfinished_token_at_end(bytes, offset) {
                let len = bytes.len();
                return Some(Problem {
                    kind: FindingKind::Truncated,
                    location: Some(location_at(bytes, len)),
                    message: format!(
                        "the document ends early, inside a number or literal at byte {start} (file is {len} bytes)"
                    ),
                });
            }
            let culprit = offset;
            let message = serde_message(error);
            if message.starts_with("trailing characters") {
                let start = bytes.next_non_whitespace(culprit).unwrap_or(culprit);
                let what = match bytes.get(start) {
                    Some(b'{' | b'[') => "a second JSON document follows the first (the file was written twice?)",
                    _ => "unexpected data after the end of the JSON document",
                };
                return Some(Problem {
                    kind: FindingKind::Corrupt,
                    location: Some(location_at(bytes, start)),
                    message: format!("{what} ({} bytes after it)", len - start),
                });
            }
            Some(Problem {
                kind: FindingKind::Corrupt,
                location: Some(location_at(bytes, culprit)),
                message: format!("syntax error: {message}"),
            })
        }
    }
}

/// serde_json reports a number or literal cut off by the end of the file (`-`, `1.`, `1e+`,
/// `Na`) as a syntax error, not as EOF. When the token at the error runs to the end of the
/// file and could still become a valid token, the file is a prefix: truncated. Returns where
/// the token starts.
fn unfinished_token_at_end(bytes: &dyn ByteSource, offset: u64) -> Option<u64> {
    const MAX_TOKEN: u64 = 32;
    let len = bytes.len();
    let is_token_byte = |b: u8| b.is_ascii_alphanumeric() || b"+-.".contains(&b);
    if offset >= len {
        return Some(len);
    }
    if len - offset > MAX_TOKEN || !bytes.get(offset).is_some_and(is_token_byte) {
        return None;
    }
    let mut start = offset;
    while start > 0 && offset - start < MAX_TOKEN && bytes.get(start - 1).is_some_and(is_token_byte) {
        start -= 1;
    }
    let mut token = vec![0u8; (len - start) as usize];
    let n = bytes.read_into(start, &mut token).ok()?;
    let token = &token[..n];
    if !token.iter().all(|&b| is_token_byte(b)) {
        return None;
    }
    let literal_prefix = [&b"true"[..], b"false", b"null", b"NaN", b"Infinity", b"-Infinity"]
        .iter()
        .any(|literal| literal.len() > token.len() && literal.starts_with(token));
    let number_prefix = token.iter().all(|b| b"0123456789+-.eE".contains(b));
    (literal_prefix || number_prefix).then_some(start)
}

fn zero_filled(bytes: &dyn ByteSource, offset: u64) -> Problem {
    let run = bytes.nul_run(offset);
    let len = bytes.len();
    let message = if offset == 0 && run == len {
        format!("the whole file is NUL bytes ({len} bytes): the data never reached the disk")
    } else if offset + run == len {
        format!("{run} NUL bytes from offset {offset} to the end of the file: the data never reached the disk")
    } else {
        format!("{run} NUL bytes at offset {offset} where JSON should be")
    };
    Problem { kind: FindingKind::ZeroFilled, location: Some(location_at(bytes, offset)), message }
}

fn utf8_problem(bytes: &dyn ByteSource, offset: u64, incomplete_at_end: bool) -> Problem {
    let len = bytes.len();
    if incomplete_at_end {
        return Problem {
            kind: FindingKind::Truncated,
            location: Some(location_at(bytes, len)),
            message: format!("the document ends early, in the middle of a UTF-8 character (file is {len} bytes)"),
        };
    }
    // A cut inside a character followed by NUL padding is zero-filling, not an encoding problem.
    for skip in 1..=3 {
        let start = offset + skip;
        if start < len && bytes.get(start) == Some(0) && bytes.nul_run(start) == len - start {
            return zero_filled(bytes, start);
        }
    }
    let byte = bytes.get(offset).unwrap_or(0);
    Problem {
        kind: FindingKind::InvalidUtf8,
        location: Some(location_at(bytes, offset)),
        // Whether it is a Windows code page is for the caller, who knows who wrote the file.
        message: format!("byte 0x{byte:02X} is not valid UTF-8"),
    }
}

/// serde_json's errors for what Python's reader accepts (a lone surrogate escape, a number
/// that overflows a float) where a shape makes serde_json read the value: [`PythonText`]
/// rewrites them for the second pass.
const PYTHON_ACCEPTS: [&str; 3] =
    ["number out of range", "lone leading surrogate in hex escape", "unexpected end of hex escape"];

fn is_python_literal_at(bytes: &dyn ByteSource, offset: u64) -> bool {
    let mut buf = [0u8; 9];
    let n = bytes.read_into(offset, &mut buf).unwrap_or(0);
    let head = &buf[..n];
    head.starts_with(b"NaN") || head.starts_with(b"Infinity") || head.starts_with(b"-Infinity")
}

fn retry_with_python_text(bytes: &dyn ByteSource, shape: &Shape) -> Validation {
    let state = RefCell::new(ShapeState::default());
    let mut utf8 = Utf8Reader::new(SourceReader { bytes, offset: 0 });
    let result = {
        let reader = PythonText::new(BufReader::new(&mut utf8));
        let mut de = serde_json::Deserializer::from_reader(reader);
        ShapeSeed::new(shape, &state).deserialize(&mut de).and_then(|()| de.end())
    };
    let state = state.into_inner();
    match result {
        Ok(()) => Validation { problem: None, captures: state.captures },
        Err(error) => {
            let problem = match (error.classify(), utf8.utf8_error()) {
                (Category::Io, Some((offset, incomplete))) => utf8_problem(bytes, offset, incomplete),
                _ => classify(&error, &state, bytes).unwrap_or_else(|| Problem {
                    kind: FindingKind::Corrupt,
                    location: position_of(bytes, &error),
                    message: format!("syntax error: {}", serde_message(&error)),
                }),
            };
            invalid(problem)
        }
    }
}

/// serde_json's message without the " at line L column C" it appends.
fn serde_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The byte offset serde_json's (line, column) points at.
fn position_of(bytes: &dyn ByteSource, error: &serde_json::Error) -> Option<Location> {
    let line = error.line() as u64;
    if line == 0 {
        return None;
    }
    let line_start = bytes.line_start(line)?;
    let offset = (line_start + (error.column() as u64).saturating_sub(1)).min(bytes.len());
    Some(location_at(bytes, offset))
}

fn location_at(bytes: &dyn ByteSource, offset: u64) -> Location {
    let (line, column) = bytes.line_col(offset);
    Location { offset, line, column }
}

/// Random access to the bytes being validated, in memory or on disk. Only error paths use
/// it, so the file variant favours simplicity over speed.
trait ByteSource {
    fn len(&self) -> u64;
    fn read_into(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;

    fn get(&self, offset: u64) -> Option<u8> {
        let mut b = [0u8];
        (self.read_into(offset, &mut b).ok()? == 1).then_some(b[0])
    }

    /// Calls `f` with successive chunks starting at `offset` until it returns false.
    fn chunks(&self, mut offset: u64, f: &mut dyn FnMut(u64, &[u8]) -> bool) {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = self.read_into(offset, &mut buf) {
            if n == 0 || !f(offset, &buf[..n]) {
                return;
            }
            offset += n as u64;
        }
    }

    fn nul_run(&self, offset: u64) -> u64 {
        let mut run = 0;
        self.chunks(offset, &mut |_, chunk| {
            let zeros = chunk.iter().take_while(|&&b| b == 0).count();
            run += zeros as u64;
            zeros == chunk.len()
        });
        run
    }

    fn next_non_whitespace(&self, offset: u64) -> Option<u64> {
        let mut found = None;
        self.chunks(offset, &mut |at, chunk| match chunk.iter().position(|&b| !is_json_whitespace(b)) {
            Some(i) => {
                found = Some(at + i as u64);
                false
            }
            None => true,
        });
        found
    }

    /// 1-based line and column (in bytes) of `offset`.
    fn line_col(&self, offset: u64) -> (u64, u64) {
        let (mut line, mut line_start) = (1u64, 0u64);
        self.chunks(0, &mut |at, chunk| {
            let end = (offset.saturating_sub(at) as usize).min(chunk.len());
            for (i, &b) in chunk[..end].iter().enumerate() {
                if b == b'\n' {
                    line += 1;
                    line_start = at + i as u64 + 1;
                }
            }
            at + (chunk.len() as u64) < offset
        });
        (line, offset - line_start + 1)
    }

    /// Offset of the first byte of 1-based `line`.
    fn line_start(&self, line: u64) -> Option<u64> {
        if line == 1 {
            return Some(0);
        }
        let mut seen = 1u64;
        let mut start = None;
        self.chunks(0, &mut |at, chunk| {
            for (i, &b) in chunk.iter().enumerate() {
                if b == b'\n' {
                    seen += 1;
                    if seen == line {
                        start = Some(at + i as u64 + 1);
                        return false;
                    }
                }
            }
            true
        });
        start
    }
}

struct SliceBytes<'a>(&'a [u8]);

impl ByteSource for SliceBytes<'_> {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_into(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let start = (offset as usize).min(self.0.len());
        let n = buf.len().min(self.0.len() - start);
        buf[..n].copy_from_slice(&self.0[start..start + n]);
        Ok(n)
    }
}

struct FileBytes {
    file: File,
    len: u64,
}

impl FileBytes {
    fn new(file: File) -> io::Result<FileBytes> {
        let len = file.metadata()?.len();
        Ok(FileBytes { file, len })
    }
}

impl ByteSource for FileBytes {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_into(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt;
            self.file.read_at(buf, offset)
        }
        #[cfg(windows)]
        {
            use std::os::windows::fs::FileExt;
            self.file.seek_read(buf, offset)
        }
    }
}

/// Adapts a [`ByteSource`] to `Read`.
struct SourceReader<'a> {
    bytes: &'a dyn ByteSource,
    offset: u64,
}

impl Read for SourceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.bytes.read_into(self.offset, buf)?;
        self.offset += n as u64;
        Ok(n)
    }
}

/// Passes bytes through, checking they are UTF-8, and hands out only whole characters.
/// At the first invalid sequence it returns what came before, then an `InvalidData` error,
/// and remembers where: serde_json's `IgnoredAny` would otherwise accept bad bytes inside
/// strings (anchors §C3).
pub struct Utf8Reader<R> {
    inner: R,
    buf: Vec<u8>,
    /// `buf[start..checked]` is validated and not yet handed out; `buf[checked..end]` is a
    /// possibly incomplete character waiting for more input.
    start: usize,
    checked: usize,
    end: usize,
    /// Offset of `buf[0]` in the stream.
    base: u64,
    eof: bool,
    bad: Option<(u64, bool)>,
}

impl<R: Read> Utf8Reader<R> {
    pub fn new(inner: R) -> Utf8Reader<R> {
        Utf8Reader { inner, buf: vec![0; 256 * 1024], start: 0, checked: 0, end: 0, base: 0, eof: false, bad: None }
    }

    /// Offset of the first invalid sequence, and whether it was merely cut off by the end
    /// of the input.
    pub fn utf8_error(&self) -> Option<(u64, bool)> {
        self.bad
    }

    fn fill(&mut self) -> io::Result<()> {
        // Keep the unchecked tail, move it to the front.
        self.buf.copy_within(self.checked..self.end, 0);
        self.base += self.checked as u64;
        self.end -= self.checked;
        self.start = 0;
        self.checked = 0;
        while !self.eof && self.checked == 0 {
            let n = self.inner.read(&mut self.buf[self.end..])?;
            if n == 0 {
                self.eof = true;
            }
            self.end += n;
            match std::str::from_utf8(&self.buf[..self.end]) {
                Ok(_) => self.checked = self.end,
                Err(e) => {
                    self.checked = e.valid_up_to();
                    let incomplete = e.error_len().is_none();
                    if !incomplete || self.eof {
                        self.bad = Some((self.base + e.valid_up_to() as u64, incomplete));
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Utf8Reader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start == self.checked {
            if self.bad.is_some() {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "invalid UTF-8"));
            }
            self.fill()?;
            if self.start == self.checked {
                return if self.bad.is_some() {
                    Err(io::Error::new(io::ErrorKind::InvalidData, "invalid UTF-8"))
                } else {
                    Ok(0)
                };
            }
        }
        let n = out.len().min(self.checked - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

/// Rewrites, at the same length so offsets stay exact, what Python's reader accepts and
/// serde_json refuses, so serde_json can check the rest:
/// * `NaN`, `Infinity` and `-Infinity` outside strings, where a value starts, into numbers;
/// * a number that overflows a float (`1e400`, which Python reads as `inf`; also an int of
///   more than 309 digits, which Python keeps exact) into `1e308` or `-1e308`, padded with
///   spaces: serde_json refuses to parse it where a shape captures or types the value;
/// * a `\u` escape of a lone UTF-16 surrogate (Python keeps it in a `str`) into `\ufffd`.
///
/// So a captured value is what Python reads but for these: NaN and ±Infinity read as 0,
/// overflowing numbers as ±1e308 and lone surrogates as U+FFFD. Only literals spelled exactly
/// right and numbers that are well-formed are rewritten: anything else is left for
/// serde_json to reject.
struct PythonText<R> {
    inner: R,
    state: TextState,
    /// Bytes whose rewriting is not decided yet: a number, a `\u` escape (and the escape after
    /// a high surrogate).
    pending: Vec<u8>,
    /// Decided bytes not handed out yet, from `ready_pos`.
    ready: Vec<u8>,
    ready_pos: usize,
    eof: bool,
}

#[derive(Clone, Copy)]
enum TextState {
    /// Between tokens; `value_start` when the next token is a value (after `[`, `,`, `:`).
    Outside {
        value_start: bool,
    },
    /// Just after a `-` (pending): `-Infinity` is Python, `-NaN` is not, `-1` is a number.
    Minus {
        value_start: bool,
    },
    /// Inside a number (pending).
    Number,
    /// Inside a number too long to hold back: passed through as it is.
    LongNumber,
    InString,
    /// After a backslash in a string (pending).
    Escape,
    /// After `\u` and `digits` hex digits (pending).
    UnicodeEscape {
        digits: u8,
    },
    /// After the escape of a high surrogate (pending, with what came after it so far).
    AfterHighSurrogate,
    /// Inside a literal: the original bytes still expected and their replacements.
    Literal {
        expect: &'static [u8],
        replace: &'static [u8],
    },
    /// Just after a literal: `NaN8` or `Infinity.5` is not Python, but `0.08` would be JSON.
    AfterLiteral,
}

/// A number token longer than this is passed through unchanged (serde_json may then refuse an
/// overflowing one; no writer produces such a number).
const MAX_HELD_NUMBER: usize = 1 << 16;

impl<R: Read> PythonText<R> {
    fn new(inner: R) -> PythonText<R> {
        PythonText {
            inner,
            state: TextState::Outside { value_start: true },
            pending: Vec::new(),
            ready: Vec::new(),
            ready_pos: 0,
            eof: false,
        }
    }

    fn flush_pending(&mut self) {
        self.ready.append(&mut self.pending);
    }

    fn between_tokens(&mut self, b: u8, value_start: bool) {
        self.state = match b {
            b'"' => TextState::InString,
            b' ' | b'\t' | b'\n' | b'\r' => TextState::Outside { value_start },
            b'[' | b',' | b':' => TextState::Outside { value_start: true },
            b'-' => {
                self.pending.push(b);
                return self.state = TextState::Minus { value_start };
            }
            b'0'..=b'9' => {
                self.pending.push(b);
                return self.state = TextState::Number;
            }
            b'N' if value_start => return self.literal(b"aN", b".0"),
            b'I' if value_start => return self.literal(b"nfinity", b".000000"),
            _ => TextState::Outside { value_start: false },
        };
        self.ready.push(b);
    }

    fn literal(&mut self, expect: &'static [u8], replace: &'static [u8]) {
        self.ready.push(b'0');
        self.state = TextState::Literal { expect, replace };
    }

    /// Decides a finished number: an overflowing one becomes `±1e308` and spaces.
    fn end_number(&mut self) {
        if let Ok(text) = std::str::from_utf8(&self.pending) {
            let negative = text.starts_with('-');
            let replacement: &[u8] = if negative { b"-1e308" } else { b"1e308" };
            if is_json_number(text)
                && text.parse::<f64>().is_ok_and(f64::is_infinite)
                && text.len() >= replacement.len()
            {
                let len = self.pending.len();
                self.pending.clear();
                self.pending.extend_from_slice(replacement);
                self.pending.resize(len, b' ');
            }
        }
        self.flush_pending();
    }

    /// The code unit of the `\uXXXX` escape at `pending[at..at + 6]`.
    fn escaped_unit(&self, at: usize) -> u32 {
        let hex = std::str::from_utf8(&self.pending[at + 2..at + 6]).unwrap_or("0");
        u32::from_str_radix(hex, 16).unwrap_or(0)
    }

    /// Replaces the pending lone surrogate escape (the first six bytes) with `\ufffd`, hands it
    /// out, and reads whatever followed it again as string content.
    fn replace_lone_surrogate(&mut self) {
        let rest = self.pending.split_off(6);
        self.pending.clear();
        self.ready.extend_from_slice(b"\\ufffd");
        self.state = TextState::InString;
        for b in rest {
            self.push(b);
        }
    }

    fn push(&mut self, b: u8) {
        match self.state {
            TextState::Outside { value_start } => self.between_tokens(b, value_start),
            TextState::Minus { value_start } => match b {
                b'I' if value_start => {
                    self.flush_pending();
                    self.literal(b"nfinity", b".000000");
                }
                b'0'..=b'9' => {
                    self.pending.push(b);
                    self.state = TextState::Number;
                }
                _ => {
                    self.flush_pending();
                    self.between_tokens(b, false);
                }
            },
            TextState::Number => {
                if b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-') {
                    self.pending.push(b);
                    if self.pending.len() > MAX_HELD_NUMBER {
                        self.flush_pending();
                        self.state = TextState::LongNumber;
                    }
                } else {
                    self.end_number();
                    self.between_tokens(b, false);
                }
            }
            TextState::LongNumber => {
                if b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-') {
                    self.ready.push(b);
                } else {
                    self.between_tokens(b, false);
                }
            }
            TextState::InString => match b {
                b'"' => {
                    self.ready.push(b);
                    self.state = TextState::Outside { value_start: false };
                }
                b'\\' => {
                    self.pending.push(b);
                    self.state = TextState::Escape;
                }
                _ => self.ready.push(b),
            },
            TextState::Escape => {
                self.pending.push(b);
                if b == b'u' {
                    self.state = TextState::UnicodeEscape { digits: 0 };
                } else {
                    self.flush_pending();
                    self.state = TextState::InString;
                }
            }
            TextState::UnicodeEscape { digits } => {
                if !b.is_ascii_hexdigit() {
                    // Not an escape serde_json accepts: its error is the answer.
                    self.flush_pending();
                    self.state = TextState::InString;
                    return self.push(b);
                }
                self.pending.push(b);
                if digits < 3 {
                    self.state = TextState::UnicodeEscape { digits: digits + 1 };
                    return;
                }
                match self.escaped_unit(0) {
                    0xD800..=0xDBFF => self.state = TextState::AfterHighSurrogate,
                    0xDC00..=0xDFFF => self.replace_lone_surrogate(),
                    _ => {
                        self.flush_pending();
                        self.state = TextState::InString;
                    }
                }
            }
            TextState::AfterHighSurrogate => {
                let k = self.pending.len() - 6;
                let fits = match k {
                    0 => b == b'\\',
                    1 => b == b'u',
                    _ => b.is_ascii_hexdigit(),
                };
                self.pending.push(b);
                if !fits {
                    return self.replace_lone_surrogate();
                }
                if k == 5 {
                    if (0xDC00..=0xDFFF).contains(&self.escaped_unit(6)) {
                        self.flush_pending();
                        self.state = TextState::InString;
                    } else {
                        self.replace_lone_surrogate();
                    }
                }
            }
            TextState::AfterLiteral => {
                if b.is_ascii_alphanumeric() || b"+-._".contains(&b) {
                    // Keep the offset, lose the validity: serde_json rejects the byte here.
                    self.ready.push(b'x');
                    self.state = TextState::Outside { value_start: false };
                } else {
                    self.between_tokens(b, false);
                }
            }
            TextState::Literal { expect, replace } => {
                if b != expect[0] {
                    self.between_tokens(b, false);
                } else {
                    self.ready.push(replace[0]);
                    self.state = if expect.len() == 1 {
                        TextState::AfterLiteral
                    } else {
                        TextState::Literal { expect: &expect[1..], replace: &replace[1..] }
                    };
                }
            }
        }
    }

    /// At the end of the input: a number may end there; anything else pending (a cut escape)
    /// stays as it is, for serde_json to call truncated.
    fn finish(&mut self) {
        if let TextState::Number = self.state {
            self.end_number();
        }
        self.flush_pending();
    }
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`
fn is_json_number(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

impl<R: Read> Read for PythonText<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.ready_pos < self.ready.len() {
                let n = buf.len().min(self.ready.len() - self.ready_pos);
                buf[..n].copy_from_slice(&self.ready[self.ready_pos..self.ready_pos + n]);
                self.ready_pos += n;
                return Ok(n);
            }
            self.ready.clear();
            self.ready_pos = 0;
            if self.eof {
                return Ok(0);
            }
            let mut chunk = [0u8; 8192];
            let n = self.inner.read(&mut chunk)?;
            if n == 0 {
                self.eof = true;
                self.finish();
            }
            for &b in &chunk[..n] {
                self.push(b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::obj;

    /// An output validated past the fast path when its end closes nothing gets what the one
    /// validator gives every file: the same problem, offset and words, or health, for outputs
    /// cut anywhere, zero-filled, whitespace-padded, empty, or whole; read whole or streamed.
    #[test]
    fn an_output_cut_short_is_judged_as_the_full_validator_judges_it() {
        use crate::layout::{shape_for, FileKind};
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/healthy/projects/acme-webapp/scans/3f9c2e1b7a6/python");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("output.json");
        let outputs = [
            (FileKind::DatasetEnhanced, "dataset_enhanced.json"),
            (FileKind::Results, "results.json"),
            (FileKind::ResultsVerified, "results_verified.json"),
            (FileKind::PipelineOutput, "pipeline_output.json"),
            (FileKind::DynamicTestResults, "dynamic_test_results.json"),
        ];
        let mut unfinished = 0;
        for (kind, name) in outputs {
            let whole = std::fs::read(fixture.join(name)).unwrap();
            let shape = shape_for(kind, None);
            let mut variants: Vec<Vec<u8>> =
                (0..=20).map(|i| whole[..whole.len() * i / 20].to_vec()).chain([whole.clone()]).collect();
            variants.extend([[&whole[..], b"\n \n"].concat(), [&whole[..whole.len() / 2], &[b' '; 300]].concat()]);
            let mut zeroed = whole[..whole.len() / 3].to_vec();
            zeroed.resize(whole.len(), 0);
            variants.push(zeroed);
            for bytes in variants {
                unfinished += usize::from(ends_unfinished(tail(&bytes)));
                let expected = full_validation(&bytes, shape);
                assert_eq!(validate_bytes(&bytes, shape), expected, "{kind:?}, {} bytes", bytes.len());
                std::fs::write(&path, &bytes).unwrap();
                let file = File::open(&path).unwrap();
                assert_eq!(file_ends_unfinished(&file), ends_unfinished(tail(&bytes)));
                let streamed = validate_stream(file, shape).unwrap();
                let full_streamed = full_stream_validation(File::open(&path).unwrap(), shape).unwrap();
                assert_eq!(streamed, full_streamed, "{kind:?}, {} bytes, streamed", bytes.len());
            }
        }
        assert!(unfinished > outputs.len() * 15, "{unfinished} taken past the fast path");
    }

    fn any(bytes: &[u8]) -> (Option<FindingKind>, Option<u64>) {
        let v = validate_bytes(bytes, &Shape::Any);
        (v.problem.as_ref().map(|p| p.kind), v.problem.and_then(|p| p.location).map(|l| l.offset))
    }

    #[test]
    fn healthy_documents() {
        for doc in [
            &b"{}"[..],
            b"[]",
            b"0",
            b"\"x\"",
            b"{\n  \"a\": [\n    1\n  ]\n}",
            b"{} \n\t\r\n",
            b"{\"a\": \"\xc3\xa9\"}",
        ] {
            assert_eq!(any(doc), (None, None), "{:?}", String::from_utf8_lossy(doc));
        }
    }

    #[test]
    fn python_float_literals_are_accepted() {
        assert_eq!(any(b"{\"a\": NaN, \"b\": [Infinity, -Infinity], \"c\": \"NaN\"}"), (None, None));
        assert_eq!(any(b"[NaN, Nope]").0, Some(FindingKind::Corrupt));
        assert_eq!(any(b"-NaN").0, Some(FindingKind::Corrupt));
        assert_eq!(any(b"[-Infinity,-1]"), (None, None));
        assert_eq!(any(b"[-30Infinity]").0, Some(FindingKind::Corrupt));
        assert_eq!(any(b"[3276N]").0, Some(FindingKind::Corrupt));
        assert_eq!(any(b"[NaN, \"\xff\"]").0, Some(FindingKind::InvalidUtf8));
        assert_eq!(any(b"[Na"), (Some(FindingKind::Truncated), Some(3)));
        assert_eq!(any(b"[Nope"), (Some(FindingKind::Corrupt), Some(1)));
        assert_eq!(any(b"[NaNa]").0, Some(FindingKind::Corrupt));
        for not_python in [&b"NaN8"[..], b"[Infinity.5]", b"[-Infinity1]", b"[NaN e]", b"NaNe5"] {
            assert_ne!(any(not_python), (None, None), "{}", String::from_utf8_lossy(not_python));
        }
        assert_eq!(any(b"[NaN,Infinity ,-Infinity]"), (None, None));
        assert_eq!(any(b"{\"a\" : \n Infinity}"), (None, None));
        let shape = obj().req("a", Shape::String).shape();
        let v = validate_bytes(b"{\"x\": NaN}", &shape);
        assert_eq!(v.problem.map(|p| p.kind), Some(FindingKind::Schema));
    }

    #[test]
    fn openants_reader_limits_are_corrupt() {
        let depth = crate::pyjson::MAX_DEPTH;
        let deep = |n: usize| format!("{{\"a\": {}{}}}", "[".repeat(n), "]".repeat(n)).into_bytes();
        assert_eq!(any(&deep(depth - 1)), (None, None));
        let p = validate_bytes(&deep(depth), &Shape::Any).problem.unwrap();
        assert_eq!((p.kind, p.location.map(|l| l.offset)), (FindingKind::Corrupt, Some(6 + depth as u64 - 1)));
        assert!(p.message.contains("RecursionError"), "{}", p.message);
        // A deep value truncated: Python fails on the depth first.
        let mut cut = deep(5000);
        cut.truncate(3000);
        assert_eq!(any(&cut).0, Some(FindingKind::Corrupt));
        // Too deep beats a schema problem: json.load fails before the shape is looked at.
        let shape = obj().req("b", Shape::String).shape();
        assert_eq!(validate_bytes(&deep(2000), &shape).problem.map(|p| p.kind), Some(FindingKind::Corrupt));
        // An earlier syntax error wins.
        let mut early = b"{\"a\" 1, \"b\": ".to_vec();
        early.extend(deep(2000));
        assert_eq!(any(&early), (Some(FindingKind::Corrupt), Some(5)));
        let digits = crate::pyjson::MAX_INT_DIGITS;
        assert_eq!(any(format!("[{}]", "7".repeat(digits)).as_bytes()), (None, None));
        let p = validate_bytes(format!("[1, {}]", "7".repeat(digits + 1)).as_bytes(), &Shape::Any).problem.unwrap();
        assert_eq!((p.kind, p.location.map(|l| l.offset)), (FindingKind::Corrupt, Some(4)));
        assert!(p.message.contains("ValueError"), "{}", p.message);
    }

    #[test]
    fn lone_surrogates_and_overflowing_numbers_are_valid_everywhere() {
        let shape = obj()
            .capture("id", Shape::String)
            .capture("n", Shape::Number)
            .opt("m", crate::shape::map(Shape::Number))
            .shape();
        for doc in [
            &br#"{"id": "a\ud800b", "n": 1e400}"#[..],
            br#"{"id": "\udc00", "n": -1e400, "m": {"\ud83d": 2e308}}"#,
            br#"{"id": "\ud800\ud800\udc00x", "n": 1e-400}"#,
            br#"{"id": "\ud800\"", "n": 0}"#,
            br#"{"id": "\ud800\n\ud83d\ude00", "n": [1]}"#,
        ] {
            let v = validate_bytes(doc, &shape);
            let text = String::from_utf8_lossy(doc);
            if text.contains("[1]") {
                assert_eq!(v.problem.map(|p| p.kind), Some(FindingKind::Schema), "{text}");
                continue;
            }
            assert_eq!(v.problem, None, "{text}");
            assert!(v.captures.get("id").is_some(), "{text}");
        }
        let big_int = format!("{{\"id\": \"x\", \"n\": {}}}", "9".repeat(400));
        let v = validate_bytes(big_int.as_bytes(), &shape);
        assert_eq!(v.problem, None);
        assert_eq!(v.captures.get("n").and_then(|c| c.as_f64()), Some(1e308));
        let v = validate_bytes(br#"{"id": "a\ud800", "n": NaN}"#, &shape);
        assert_eq!(v.captures.get("id").and_then(|c| c.as_str()), Some("a\u{fffd}"));
        // Malformed escapes and numbers are still corrupt.
        for bad in [&br#"{"id": "\ud80"}"#[..], br#"{"id": "\ud800\x"}"#, br#"{"n": 1e}"#, br#"{"n": 01}"#] {
            assert_eq!(validate_bytes(bad, &shape).problem.map(|p| p.kind), Some(FindingKind::Corrupt));
        }
    }

    #[test]
    fn empty_and_whitespace() {
        assert_eq!(any(b""), (Some(FindingKind::Empty), Some(0)));
        assert_eq!(any(b" \n "), (Some(FindingKind::Empty), Some(0)));
    }

    #[test]
    fn truncation_points_at_the_end() {
        assert_eq!(any(b"{\"a\": [1, 2"), (Some(FindingKind::Truncated), Some(11)));
        assert_eq!(any(b"{\"a\": \"abc"), (Some(FindingKind::Truncated), Some(10)));
        assert_eq!(any(b"{\"a\": tr"), (Some(FindingKind::Truncated), Some(8)));
        for cut in [&b"{\"a\":-"[..], b"{\"a\": 1.", b"{\"a\": 1e+", b"[-1", b"[-Inf"] {
            assert_eq!(any(cut), (Some(FindingKind::Truncated), Some(cut.len() as u64)), "{cut:?}");
        }
        // Cut inside a two-byte character.
        assert_eq!(any(b"{\"a\": \"\xc3"), (Some(FindingKind::Truncated), Some(8)));
    }

    #[test]
    fn nul_bytes_are_zero_filled() {
        assert_eq!(any(&[0u8; 64]), (Some(FindingKind::ZeroFilled), Some(0)));
        assert_eq!(any(b"{\"a\": 1}\0\0\0"), (Some(FindingKind::ZeroFilled), Some(8)));
        assert_eq!(any(b"{\"a\": [1,\0\0\0"), (Some(FindingKind::ZeroFilled), Some(9)));
        assert_eq!(any(b"{\"a\": \"ab\0\0"), (Some(FindingKind::ZeroFilled), Some(9)));
        assert_eq!(any(b"{\"a\": \"\xc3\0\0\0"), (Some(FindingKind::ZeroFilled), Some(8)));
        let v = validate_bytes(b"{\"a\": 1}\0\0\0", &Shape::Any);
        assert!(v.problem.unwrap().message.contains("3 NUL bytes from offset 8 to the end"));
    }

    #[test]
    fn corruption_kinds() {
        assert_eq!(any(b"\xef\xbb\xbf{}"), (Some(FindingKind::Corrupt), Some(0)));
        assert_eq!(any(b"{\"a\": 1} garbage"), (Some(FindingKind::Corrupt), Some(9)));
        let v = validate_bytes(b"{\"a\": 1}\n{\"a\": 2}", &Shape::Any);
        let p = v.problem.unwrap();
        assert_eq!((p.kind, p.location.map(|l| (l.offset, l.line, l.column))), (FindingKind::Corrupt, Some((9, 2, 1))));
        assert!(p.message.contains("second JSON document"));
        assert_eq!(any(b"{\"a\": 1,\n \"b\" 2}"), (Some(FindingKind::Corrupt), Some(14)));
        assert_eq!(any(b"{\"a\": 1,}"), (Some(FindingKind::Corrupt), Some(8)));
    }

    #[test]
    fn invalid_utf8_is_located() {
        let p = validate_bytes(b"{\"a\": \"caf\xe9\"}", &Shape::Any).problem.unwrap();
        assert_eq!((p.kind, p.location.map(|l| l.offset)), (FindingKind::InvalidUtf8, Some(10)));
        assert!(p.message.contains("0xE9"));
        // An earlier syntax error wins over a later bad byte.
        assert_eq!(any(b"{\"a\" 1, \"b\": \"\xff\"}").0, Some(FindingKind::Corrupt));
    }

    #[test]
    fn schema_errors_carry_the_violation() {
        let shape = obj().req("results", crate::shape::array(Shape::Any)).shape();
        let p = validate_bytes(b"{\"results\": {}}", &shape).problem.unwrap();
        assert_eq!(p.kind, FindingKind::Schema);
        assert_eq!(p.message, "$.results: expected an array, found an object");
    }

    #[test]
    fn damage_after_a_shape_error_wins() {
        // json.load fails on the syntax before OpenAnt looks at the shape.
        let shape = obj().req("a", Shape::String).shape();
        let p = validate_bytes(b"{\"a\": 2026-05-14\"}", &shape).problem.unwrap();
        assert_eq!((p.kind, p.location.map(|l| l.offset)), (FindingKind::Corrupt, Some(10)));
        assert_eq!(
            validate_bytes(b"{\"a\": 1, \"b\": [", &shape).problem.map(|p| p.kind),
            Some(FindingKind::Truncated)
        );
        assert_eq!(validate_bytes(b"{\"a\": 1, \"b\": []}", &shape).problem.map(|p| p.kind), Some(FindingKind::Schema));
    }

    #[test]
    fn lines_and_columns_are_one_based() {
        let p = validate_bytes(b"{\n  \"a\": x\n}", &Shape::Any).problem.unwrap();
        assert_eq!(p.location, Some(Location { offset: 9, line: 2, column: 8 }));
    }

    #[test]
    fn the_stream_path_agrees_with_the_memory_path() {
        let cases: Vec<Vec<u8>> = vec![
            b"{\"a\": [1, 2]}".to_vec(),
            b"{\"a\": [1, 2".to_vec(),
            b"{\"a\": \"caf\xe9\"}".to_vec(),
            b"{\"a\": \"\xc3".to_vec(),
            b"{\"a\": 1}\0\0\0".to_vec(),
            b"{\"a\": 1} x".to_vec(),
            b"[NaN]".to_vec(),
            b"\xef\xbb\xbf{}".to_vec(),
            format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
            format!("[{}", "[".repeat(5000)).into_bytes(),
            format!("[{}]", "1".repeat(5000)).into_bytes(),
            b"[\"\\ud800\", 1e400]".to_vec(),
        ];
        for case in cases {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("f.json");
            std::fs::write(&path, &case).unwrap();
            let streamed = validate_stream(File::open(&path).unwrap(), &Shape::Any).unwrap();
            assert_eq!(streamed, validate_bytes(&case, &Shape::Any), "{:?}", String::from_utf8_lossy(&case));
        }
    }

    /// The length the caller's `fstat` gave is a hint: a file that grew or shrank since is
    /// still read whole, and only what it holds.
    #[test]
    fn a_file_is_read_whole_whatever_length_was_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        let text = format!("{{\"a\": \"{}\"}}", "x".repeat(20_000));
        std::fs::write(&path, &text).unwrap();
        for seen in [0, 1, 8191, 8192, text.len() as u64 - 1, text.len() as u64, text.len() as u64 + 100] {
            let bytes = read_rest(&File::open(&path).unwrap(), seen).unwrap();
            assert_eq!(bytes, text.as_bytes(), "seen {seen}");
            let validation = validate_open_len(File::open(&path).unwrap(), seen, &Shape::Any).unwrap();
            assert!(validation.is_valid(), "seen {seen}");
        }
    }

    #[test]
    fn utf8_reader_hands_out_whole_characters_across_tiny_reads() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(1).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text = "{\"a\": \"héllo 😀\"}";
        let mut out = String::new();
        Utf8Reader::new(Trickle(text.as_bytes())).read_to_string(&mut out).unwrap();
        assert_eq!(out, text);
        let mut reader = Utf8Reader::new(Trickle(b"ab\xffcd"));
        let mut out = Vec::new();
        assert!(reader.read_to_end(&mut out).is_err());
        assert_eq!((out.as_slice(), reader.utf8_error()), (&b"ab"[..], Some((2, false))));
    }

    mod properties {
        use super::{validate_bytes, validate_stream, File, FindingKind, Shape};
        use proptest::prelude::*;
        use serde_json::{Map, Value};

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                (-1e300f64..1e300).prop_map(Value::from),
                "[a-zé😀\\\\\"\\n\\u{0}-\\u{1f} ]{0,12}".prop_map(Value::String),
            ];
            leaf.prop_recursive(5, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::vec(("[a-z_]{1,6}", inner), 0..6)
                        .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
                ]
            })
        }

        /// Documents as OpenAnt writes them: an object or array at the top, no trailing newline.
        fn document() -> impl Strategy<Value = Vec<u8>> {
            (prop::collection::vec(("[a-z]{1,5}", value()), 0..5), any::<bool>(), any::<bool>()).prop_map(
                |(kv, array, pretty)| {
                    let v = if array {
                        Value::Array(kv.into_iter().map(|(_, v)| v).collect())
                    } else {
                        Value::Object(kv.into_iter().collect())
                    };
                    if pretty {
                        serde_json::to_vec_pretty(&v).unwrap()
                    } else {
                        serde_json::to_vec(&v).unwrap()
                    }
                },
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            #[test]
            fn every_strict_prefix_is_empty_or_truncated(doc in document()) {
                prop_assert!(validate_bytes(&doc, &Shape::Any).is_valid());
                for cut in 0..doc.len() {
                    let v = validate_bytes(&doc[..cut], &Shape::Any);
                    let kind = v.problem.as_ref().map(|p| p.kind);
                    prop_assert!(
                        matches!(kind, Some(FindingKind::Empty | FindingKind::Truncated)),
                        "prefix {cut} of {:?} gave {:?}", String::from_utf8_lossy(&doc), v.problem
                    );
                }
            }

            #[test]
            fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
                for kind in [FileKind::Results, FileKind::Checkpoint, FileKind::PipelineOutput, FileKind::GenericJson] {
                    let v = validate_bytes(&bytes, shape_for(kind, Some(CheckpointStep::Analyze)));
                    if let Some(loc) = v.problem.and_then(|p| p.location) {
                        prop_assert!(loc.offset <= bytes.len() as u64);
                    }
                }
            }

            #[test]
            fn streaming_agrees_with_memory(doc in document(), cut in any::<prop::sample::Index>(), tail in prop::collection::vec(prop_oneof![Just(0u8), Just(0xE9u8), Just(b'x'), Just(b'{')], 0..4)) {
                let mut bytes = doc[..cut.index(doc.len() + 1)].to_vec();
                bytes.extend(tail);
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("f.json");
                std::fs::write(&path, &bytes).unwrap();
                let streamed = validate_stream(File::open(&path).unwrap(), &Shape::Any).unwrap();
                prop_assert_eq!(streamed, validate_bytes(&bytes, &Shape::Any));
            }
        }

        use crate::layout::{shape_for, CheckpointStep, FileKind};
    }

    /// The fast path (crate::fastjson) either gives up or says exactly what the full
    /// validator says: valid, with the same captures; and so for every chunk size.
    mod fast_path {
        use super::{fastjson, full_stream_validation, full_validation, validate_stream, File, Shape, Validation};
        use crate::layout::{classify_file, shape_for, CheckpointStep, FileKind};
        use crate::shape::{any_recording_keys, array, obj, tagged};
        use proptest::prelude::*;
        use serde_json::{Map, Value};
        use std::path::{Path, PathBuf};
        use std::sync::OnceLock;

        /// Every JSON file under testdata/, with the shape check gives it (by its name and
        /// directory).
        fn testdata() -> &'static [(PathBuf, Vec<u8>, &'static Shape)] {
            static FILES: OnceLock<Vec<(PathBuf, Vec<u8>, &'static Shape)>> = OnceLock::new();
            FILES.get_or_init(|| {
                let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
                let mut files = Vec::new();
                for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
                    let entry = entry.unwrap();
                    let path = entry.path();
                    if !entry.file_type().is_file() || !path.to_string_lossy().ends_with(".json") {
                        continue;
                    }
                    let classified = classify_file(path, path.parent(), &|_| false);
                    let shape = if classified.kind.is_json() {
                        shape_for(classified.kind, classified.checkpoint_step)
                    } else {
                        shape_for(FileKind::GenericJson, None)
                    };
                    files.push((path.to_path_buf(), std::fs::read(path).unwrap(), shape));
                }
                files
            })
        }

        fn capturing() -> Shape {
            obj()
                .capture("id", Shape::Any)
                .capture("n", Shape::Number)
                .opt("list", tagged("list", array(obj().capture("k", Shape::Any).shape())))
                .shape()
        }

        /// Asserts the agreement; true when the fast path took the document.
        fn agrees(bytes: &[u8], shape: &Shape, chunk_sizes: &[usize]) -> bool {
            let fast = fastjson::validate_slice(bytes, shape);
            if let Some(captures) = &fast {
                assert_eq!(
                    full_validation(bytes, shape),
                    Validation { problem: None, captures: captures.clone() },
                    "{:?}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                );
            }
            for &size in chunk_sizes {
                assert_eq!(
                    fastjson::validate_in_chunks(bytes, size, shape),
                    fast,
                    "chunks of {size}: {:?}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                );
                assert_eq!(
                    fastjson::validate_read_ahead(bytes, size, shape),
                    fast,
                    "chunks of {size} read ahead: {:?}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                );
            }
            fast.is_some()
        }

        #[test]
        fn every_testdata_file_agrees_and_healthy_ones_are_taken() {
            let (mut healthy, mut taken) = (0, 0);
            for (path, bytes, shape) in testdata() {
                let small: &[usize] =
                    if bytes.len() < 4096 { &[1, 7, 64, fastjson::CHUNK] } else { &[61, fastjson::CHUNK] };
                let took = agrees(bytes, shape, small);
                for other in [&Shape::Any, &any_recording_keys(), &capturing()] {
                    agrees(bytes, other, &[]);
                }
                if path.components().any(|c| c.as_os_str() == "healthy") {
                    healthy += 1;
                    // A healthy file the fast path leaves must hold what it leaves on purpose.
                    if !took && full_validation(bytes, shape).is_valid() {
                        let text = String::from_utf8_lossy(bytes);
                        assert!(
                            text.contains("NaN")
                                || text.contains("Infinity")
                                || text.contains("\\ud")
                                || text.contains("\\udc"),
                            "healthy {} was not taken",
                            path.display()
                        );
                    }
                    taken += usize::from(took);
                }
            }
            eprintln!("the fast path took {taken} of {healthy} healthy testdata files");
            assert!(healthy > 100, "{healthy} healthy files");
            assert!(taken * 10 >= healthy * 9, "the fast path took {taken} of {healthy} healthy files");
        }

        #[test]
        fn the_stream_entry_agrees_on_files() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("f.json");
            for (_, bytes, shape) in testdata().iter().step_by(25) {
                std::fs::write(&path, bytes).unwrap();
                let full = full_stream_validation(File::open(&path).unwrap(), shape).unwrap();
                let fast = fastjson::validate_file(&File::open(&path).unwrap(), shape);
                if let Some(captures) = fast {
                    assert_eq!(full, Validation { problem: None, captures });
                }
                assert_eq!(validate_stream(File::open(&path).unwrap(), shape).unwrap(), full);
            }
        }

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
                "[a-zé€😀\\\\\"/\\n\\u{0}-\\u{1f} ]{0,12}".prop_map(Value::String),
            ];
            leaf.prop_recursive(5, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::vec(("id|n|list|k|[a-z_é]{1,6}", inner), 0..6)
                        .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
                ]
            })
        }

        fn document() -> impl Strategy<Value = Vec<u8>> {
            (value(), any::<bool>(), any::<bool>()).prop_map(|(v, pretty, ascii)| {
                let text = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.unwrap();
                if !ascii {
                    return text.into_bytes();
                }
                // Python's ensure_ascii: escapes, surrogate pairs for astral characters.
                let mut out = String::new();
                for c in text.chars() {
                    if c.is_ascii() {
                        out.push(c);
                    } else {
                        for unit in c.encode_utf16(&mut [0; 2]) {
                            out.push_str(&format!("\\u{unit:04x}"));
                        }
                    }
                }
                out.into_bytes()
            })
        }

        #[derive(Debug, Clone)]
        enum Mutation {
            Truncate(prop::sample::Index),
            Set(prop::sample::Index, u8),
            Insert(prop::sample::Index, u8),
            Delete(prop::sample::Index),
        }

        fn mutation() -> impl Strategy<Value = Mutation> {
            let byte = prop_oneof![
                Just(0u8),
                Just(b'"'),
                Just(b'\\'),
                Just(b','),
                Just(b'['),
                Just(b'}'),
                Just(b'N'),
                Just(b'0'),
                Just(b'e'),
                Just(0xE9),
                Just(0x80),
                Just(b' '),
                any::<u8>()
            ];
            prop_oneof![
                any::<prop::sample::Index>().prop_map(Mutation::Truncate),
                (any::<prop::sample::Index>(), byte.clone()).prop_map(|(i, b)| Mutation::Set(i, b)),
                (any::<prop::sample::Index>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
                any::<prop::sample::Index>().prop_map(Mutation::Delete),
            ]
        }

        fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
            match mutation {
                Mutation::Truncate(i) => bytes.truncate(i.index(bytes.len() + 1)),
                Mutation::Set(i, b) if !bytes.is_empty() => {
                    let at = i.index(bytes.len());
                    bytes[at] = *b;
                }
                Mutation::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), *b),
                Mutation::Delete(i) if !bytes.is_empty() => {
                    bytes.remove(i.index(bytes.len()));
                }
                _ => {}
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            #[test]
            fn random_documents_agree(doc in document(), mutations in prop::collection::vec(mutation(), 0..3)) {
                let mut bytes = doc.clone();
                agrees(&bytes, &capturing(), &[1, 2, 3, 5, 8, 13, 64]);
                for m in &mutations {
                    mutate(&mut bytes, m);
                }
                for shape in [&Shape::Any, &any_recording_keys(), &capturing()] {
                    agrees(&bytes, shape, &[1, 3, 64]);
                }
            }

            #[test]
            fn unmutated_random_documents_are_taken(doc in document()) {
                // Strict JSON, valid UTF-8, no lone surrogates, within the limits: always taken.
                prop_assert!(agrees(&doc, &Shape::Any, &[1, 7]));
                prop_assert!(agrees(&doc, &any_recording_keys(), &[]));
            }

            #[test]
            fn mutated_testdata_files_agree(file in any::<prop::sample::Index>(), mutations in prop::collection::vec(mutation(), 1..4)) {
                let files = testdata();
                let (_, bytes, shape) = &files[file.index(files.len())];
                let mut bytes = bytes.clone();
                for m in &mutations {
                    mutate(&mut bytes, m);
                }
                agrees(&bytes, shape, &[fastjson::CHUNK, 97]);
                agrees(&bytes, &capturing(), &[]);
            }
        }

        #[test]
        fn every_checkpoint_step_shape_agrees_on_checkpoints() {
            for (_, bytes, _) in
                testdata().iter().filter(|(p, _, _)| p.to_string_lossy().contains("_checkpoints/")).take(200)
            {
                for step in [
                    CheckpointStep::Enhance,
                    CheckpointStep::Analyze,
                    CheckpointStep::Verify,
                    CheckpointStep::DynamicTest,
                    CheckpointStep::LlmReach,
                    CheckpointStep::Unknown,
                ] {
                    agrees(bytes, shape_for(FileKind::Checkpoint, Some(step)), &[]);
                }
            }
        }
    }
}
