//! A fast path for healthy JSON: one pass over the bytes that checks syntax, UTF-8 and
//! Python's reader limits ([`MAX_DEPTH`], [`MAX_INT_DIGITS`]) while it drives the same
//! [`ShapeSeed`] `crate::validate` drives through serde_json, so the shape is checked and the
//! captures recorded by the one seed.
//!
//! It answers only "healthy, with these captures" or "give up". It gives up on anything it does
//! not read exactly as the full validator does: any syntax error, shape violation, bad UTF-8,
//! limit hit, byte-order mark, `NaN`/`Infinity`, lone surrogate escape, number that overflows a
//! float, empty or NUL-filled file. Then the full validator decides, and words the problem; this
//! module never has to reproduce a message or an offset.
//!
//! Input comes in chunks: a whole in-memory file is one chunk (keys are then borrowed from it),
//! a streamed file is read [`CHUNK`] bytes at a time, so memory stays one chunk plus what a
//! string or number spanning a chunk boundary needs. Values no shape looks at are skipped by a
//! loop that calls no visitor and tests string bytes eight at a time.

use std::cell::RefCell;
use std::fmt;
use std::fs::File;
use std::io;
use std::sync::mpsc;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::pyjson::{MAX_DEPTH, MAX_INT_DIGITS};
use crate::shape::{Captures, Shape, ShapeSeed, ShapeState, TopLevelKeys};

/// Bytes read from a streamed file at a time.
pub const CHUNK: usize = 1 << 20;

/// serde_json refuses to nest `deserialize_any` more than 128 levels (its recursion limit);
/// shapes are far shallower, but a document past this is left to the full validator.
const MAX_ANY_DEPTH: usize = 100;

/// The captures of a healthy in-memory document, or `None` when the full validator must decide.
///
/// Its UTF-8 is checked string by string as the reader meets them, not in a pass of its own
/// over the whole input: outside strings the reader takes ASCII only, and a string's bytes
/// past ASCII are seen by the same SIMD loop that looks for its end, so only strings holding
/// some are checked again, and a whole file read once more was an eighth of check's parsing
/// on the 24-scan tree (issue 17). Strings and ASCII between them make the whole input valid
/// UTF-8 exactly when each string is.
pub fn validate_slice(bytes: &[u8], shape: &Shape) -> Option<Captures> {
    validate_slice_keys(bytes, shape, TopLevelKeys::Recorded)
}

/// [`validate_slice`], recording the top-level keys or not.
pub fn validate_slice_keys(bytes: &[u8], shape: &Shape, keys: TopLevelKeys) -> Option<Captures> {
    run_keys(SliceSource { data: bytes, ended: false }, shape, keys)
}

/// [`validate_slice`] for a file read [`CHUNK`] bytes at a time from offset 0 with positioned
/// reads (the file's own offset is left where it was, for the full validator). A read error
/// gives up too: the full validator reads the file again and reports it.
pub fn validate_file(file: &File, shape: &Shape) -> Option<Captures> {
    read_ahead(FileChunks { file, offset: 0 }, CHUNK, shape)
}

/// The document fed `chunk` bytes at a time, each copied into a buffer of its own as a file's
/// would be (the tests hold every chunk size to the same answer).
#[cfg(test)]
pub fn validate_in_chunks(bytes: &[u8], chunk: usize, shape: &Shape) -> Option<Captures> {
    run(Chunked::new(bytes, chunk), shape)
}

/// [`validate_in_chunks`] with the chunks read and UTF-8-checked ahead on a thread of their
/// own, as a file's are.
#[cfg(test)]
pub fn validate_read_ahead(bytes: &[u8], chunk: usize, shape: &Shape) -> Option<Captures> {
    read_ahead(bytes, chunk, shape)
}

/// Validates what `reader` holds, read `size` bytes at a time. A thread of its own reads and
/// UTF-8-checks the next chunk while this one parses the current one: the copy out of the page
/// cache is a fifth of a big file's time, and it no longer waits for the parse. When no
/// thread can be had, the chunks are read in turn here.
fn read_ahead<R: io::Read + Send>(mut reader: R, size: usize, shape: &Shape) -> Option<Captures> {
    let size = size.max(1);
    std::thread::scope(|scope| {
        // One chunk being parsed, one waiting, one being read: at most three buffers.
        let (full_tx, full_rx) = mpsc::sync_channel::<Delivery>(1);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
        let reading = &mut reader;
        let spawned = std::thread::Builder::new()
            .name("read-ahead".into())
            .spawn_scoped(scope, move || read_chunks(reading, size, &full_tx, &empty_rx));
        match spawned {
            Ok(_) => Some(run(ReadAhead { current: Vec::new(), full: full_rx, empty: empty_tx, end: None }, shape)),
            Err(_) => None,
        }
    })
    // Nothing was read when the spawn failed.
    .unwrap_or_else(|| run(Chunked::new(reader, size), shape))
}

/// What the reading thread hands over: a chunk of valid UTF-8 (but for a character cut at its
/// end, completed by the next), the end of the input (and whether its last character was
/// whole), or a read error or invalid UTF-8.
enum Delivery {
    Chunk(Vec<u8>),
    End { whole: bool },
    GiveUp,
}

/// The reading thread: fills buffers (recycled from `empty` when the parser is done with
/// them) and sends them on until the end, an error, or the parser hanging up.
fn read_chunks(
    reader: &mut impl io::Read,
    size: usize,
    full: &mpsc::SyncSender<Delivery>,
    empty: &mpsc::Receiver<Vec<u8>>,
) {
    let mut utf8 = Utf8Stream::default();
    loop {
        let mut buf = empty.try_recv().unwrap_or_default();
        buf.resize(size, 0);
        let delivery = match reader.read(&mut buf) {
            Ok(0) => Delivery::End { whole: utf8.pending == 0 },
            Ok(n) => {
                buf.truncate(n);
                if utf8.feed(&buf) {
                    Delivery::Chunk(buf)
                } else {
                    Delivery::GiveUp
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => Delivery::GiveUp,
        };
        let last = !matches!(delivery, Delivery::Chunk(_));
        if full.send(delivery).is_err() || last {
            return;
        }
    }
}

/// The parser's side of [`read_ahead`].
struct ReadAhead {
    current: Vec<u8>,
    full: mpsc::Receiver<Delivery>,
    empty: mpsc::Sender<Vec<u8>>,
    /// Once the end came: whether the last character was whole.
    end: Option<bool>,
}

impl<'de> Source<'de> for ReadAhead {
    const CHECKED: bool = true;
    fn window(&self) -> &[u8] {
        &self.current
    }

    fn refill(&mut self) -> Result<bool> {
        if self.end.is_some() {
            self.current.clear();
            return Ok(false);
        }
        // The reading thread may have stopped already: the buffer is then just dropped.
        let _ = self.empty.send(std::mem::take(&mut self.current));
        match self.full.recv() {
            Ok(Delivery::Chunk(chunk)) => {
                self.current = chunk;
                Ok(true)
            }
            Ok(Delivery::End { whole }) => {
                self.end = Some(whole);
                Ok(false)
            }
            Ok(Delivery::GiveUp) | Err(_) => Err(GiveUp),
        }
    }

    fn borrow(&self, _: usize, _: usize) -> Option<&'de [u8]> {
        None
    }

    fn finish(&self) -> Result<()> {
        match self.end {
            Some(true) => Ok(()),
            _ => Err(GiveUp),
        }
    }
}

fn run<'de, S: Source<'de>>(source: S, shape: &Shape) -> Option<Captures> {
    run_keys(source, shape, TopLevelKeys::Recorded)
}

fn run_keys<'de, S: Source<'de>>(source: S, shape: &Shape, keys: TopLevelKeys) -> Option<Captures> {
    let state = RefCell::new(ShapeState::new(keys));
    let mut reader =
        Reader { src: source, pos: 0, depth: 0, any_depth: 0, objects: [0; KIND_WORDS], scratch: Vec::new() };
    ShapeSeed::new(shape, &state).deserialize(&mut reader).ok()?;
    reader.end().ok()?;
    Some(state.into_inner().captures)
}

/// The one error: the full validator must decide.
#[derive(Debug)]
pub struct GiveUp;

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a plainly healthy document")
    }
}

impl std::error::Error for GiveUp {}

impl de::Error for GiveUp {
    fn custom<T: fmt::Display>(_: T) -> GiveUp {
        GiveUp
    }
}

type Result<T> = std::result::Result<T, GiveUp>;

/// Where the bytes come from: a window on the current chunk, replaced by the next one on
/// `refill` (an empty one at the end).
trait Source<'de> {
    /// Every window is checked for UTF-8 before it is read (but for a character cut by its
    /// end). When not, the reader checks each string's bytes, the only place it takes a byte
    /// past ASCII.
    const CHECKED: bool;
    fn window(&self) -> &[u8];
    /// Moves to the next chunk; false at the end of the input.
    fn refill(&mut self) -> Result<bool>;
    /// `window()[start..end]` for as long as the input lives, when it does.
    fn borrow(&self, start: usize, end: usize) -> Option<&'de [u8]>;
    /// Called at the end of the input: was everything valid UTF-8?
    fn finish(&self) -> Result<()>;
}

struct SliceSource<'de> {
    data: &'de [u8],
    /// Past the end: the window is empty, as a chunked source's is at its end.
    ended: bool,
}

impl<'de> Source<'de> for SliceSource<'de> {
    const CHECKED: bool = false;
    fn window(&self) -> &[u8] {
        if self.ended {
            &[]
        } else {
            self.data
        }
    }

    fn refill(&mut self) -> Result<bool> {
        self.ended = true;
        Ok(false)
    }

    fn borrow(&self, start: usize, end: usize) -> Option<&'de [u8]> {
        Some(&self.data[start..end])
    }

    fn finish(&self) -> Result<()> {
        Ok(())
    }
}

/// A file read from an offset of its own with positioned reads, so the file's offset stays
/// where the full validator expects it.
struct FileChunks<'f> {
    file: &'f File,
    offset: u64,
}

impl io::Read for FileChunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match std::os::unix::fs::FileExt::read_at(self.file, buf, self.offset) {
                Ok(n) => {
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// A reader seen one chunk at a time, each checked for UTF-8 as it arrives.
struct Chunked<R> {
    reader: R,
    buf: Vec<u8>,
    len: usize,
    utf8: Utf8Stream,
}

impl<R: io::Read> Chunked<R> {
    fn new(reader: R, size: usize) -> Chunked<R> {
        Chunked { reader, buf: vec![0; size.max(1)], len: 0, utf8: Utf8Stream::default() }
    }
}

impl<'de, R: io::Read> Source<'de> for Chunked<R> {
    const CHECKED: bool = true;
    fn window(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn refill(&mut self) -> Result<bool> {
        let n = self.reader.read(&mut self.buf).map_err(|_| GiveUp)?;
        self.len = n;
        if !self.utf8.feed(&self.buf[..n]) {
            return Err(GiveUp);
        }
        Ok(n > 0)
    }

    fn borrow(&self, _: usize, _: usize) -> Option<&'de [u8]> {
        None
    }

    fn finish(&self) -> Result<()> {
        if self.utf8.pending == 0 {
            Ok(())
        } else {
            Err(GiveUp)
        }
    }
}

/// UTF-8 checked chunk by chunk: a character cut by a chunk's end waits in `carry` for the
/// rest of its bytes.
#[derive(Default)]
struct Utf8Stream {
    carry: [u8; 4],
    pending: usize,
}

impl Utf8Stream {
    /// False at the first invalid sequence.
    fn feed(&mut self, mut chunk: &[u8]) -> bool {
        if self.pending > 0 {
            let width = match self.carry[0] {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let take = (width - self.pending).min(chunk.len());
            self.carry[self.pending..self.pending + take].copy_from_slice(&chunk[..take]);
            self.pending += take;
            chunk = &chunk[take..];
            if self.pending < width {
                return true;
            }
            if std::str::from_utf8(&self.carry[..width]).is_err() {
                return false;
            }
            self.pending = 0;
        }
        if simdutf8::basic::from_utf8(chunk).is_ok() {
            return true;
        }
        match simdutf8::compat::from_utf8(chunk) {
            Ok(_) => true,
            Err(e) if e.error_len().is_none() => {
                let tail = &chunk[e.valid_up_to()..];
                self.carry[..tail.len()].copy_from_slice(tail);
                self.pending = tail.len();
                true
            }
            Err(_) => false,
        }
    }
}

/// The text of a string read whole from one window, between its quotes. It is valid UTF-8
/// without checking it again (a tenth of the time of a results file went to that second check
/// of short strings): a chunk's window is UTF-8-checked before it is read (in
/// [`Utf8Stream::feed`], where only a character cut by the chunk's end is held back, and that
/// lies after any quote of the window), and a span between two ASCII quotes starts and ends
/// on character boundaries; a slice's strings are checked as they are found
/// ([`Reader::segment_is_text`]).
fn checked_text(bytes: &[u8]) -> &str {
    debug_assert!(std::str::from_utf8(bytes).is_ok(), "a window's string is not valid UTF-8");
    // SAFETY: valid UTF-8 as said above; the debug assertion holds the property tests to it.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

/// Enough bits for one container kind per level up to [`MAX_DEPTH`].
const KIND_WORDS: usize = MAX_DEPTH / 64 + 1;

struct Reader<S> {
    src: S,
    /// Position in the current window.
    pos: usize,
    /// Arrays and objects open around the position.
    depth: usize,
    /// How many of them `deserialize_any` opened.
    any_depth: usize,
    /// Bit `d` set when the container open at depth `d` is an object.
    objects: [u64; KIND_WORDS],
    /// A string with escapes, or a value spanning chunks, being put together.
    scratch: Vec<u8>,
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `word` that is `"`, `\` or a control character; the lowest set
/// bit is exact (the carries of the subtractions only run upwards from a match).
fn specials(word: u64) -> u64 {
    let quote = word ^ (LO * b'"' as u64);
    let backslash = word ^ (LO * b'\\' as u64);
    let zero_quote = quote.wrapping_sub(LO) & !quote;
    let zero_backslash = backslash.wrapping_sub(LO) & !backslash;
    let control = word.wrapping_sub(LO * 0x20) & !word;
    (zero_quote | zero_backslash | control) & HI
}

/// Index of the first `"`, `\` or control character in `w` from `at`: 32 bytes a step with
/// SSE2 (part of every x86_64 CPU), then eight a step, then one.
fn find_special(w: &[u8], at: usize) -> Option<usize> {
    find_special_noting_high(w, at).map(|(found, _)| found)
}

/// [`find_special`], and whether a byte past ASCII may lie between `at` and what it found:
/// false only when none does (a byte after it, read in the same step, may make it true).
fn find_special_noting_high(w: &[u8], at: usize) -> Option<(usize, bool)> {
    let mut high = false;
    #[cfg(target_arch = "x86_64")]
    let at = match find_special_sse2(w, at, &mut high) {
        Ok(found) => return Some((found, high)),
        Err(rest) => rest,
    };
    find_special_words_noting_high(w, at, &mut high).map(|found| (found, high))
}

/// `Ok(index)` of the first special byte in the 32-byte blocks from `at`, or `Err(where the
/// blocks end)`; sets `high` when a block it read holds a byte past ASCII.
#[cfg(target_arch = "x86_64")]
fn find_special_sse2(w: &[u8], mut at: usize, high: &mut bool) -> std::result::Result<usize, usize> {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_setzero_si128,
        _mm_subs_epu8,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are always available;
    // every load is unaligned-safe (`loadu`) and reads 16 bytes inside `w` (`at + 32 <= len`).
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let control_max = _mm_set1_epi8(0x1F);
        let zero = _mm_setzero_si128();
        let hits = |block: __m128i| {
            // A byte <= 0x1F saturates to zero when 0x1F is subtracted.
            let control = _mm_cmpeq_epi8(_mm_subs_epu8(block, control_max), zero);
            let mark = _mm_or_si128(_mm_cmpeq_epi8(block, quote), _mm_cmpeq_epi8(block, backslash));
            _mm_movemask_epi8(_mm_or_si128(mark, control)) as u32
        };
        let mut past_ascii = 0;
        while at + 32 <= w.len() {
            let (low_block, high_block) =
                (_mm_loadu_si128(w.as_ptr().add(at).cast()), _mm_loadu_si128(w.as_ptr().add(at + 16).cast()));
            // The top bit of each byte: set past ASCII.
            past_ascii |= _mm_movemask_epi8(_mm_or_si128(low_block, high_block));
            let mask = u64::from(hits(low_block)) | (u64::from(hits(high_block)) << 16);
            if mask != 0 {
                *high |= past_ascii != 0;
                return Ok(at + mask.trailing_zeros() as usize);
            }
            at += 32;
        }
        *high |= past_ascii != 0;
    }
    Err(at)
}

/// [`find_special`] eight bytes at a time (see [`specials`]).
#[cfg(test)]
fn find_special_words(w: &[u8], at: usize) -> Option<usize> {
    find_special_words_noting_high(w, at, &mut false)
}

/// [`find_special_words`], setting `high` as [`find_special_sse2`] does.
fn find_special_words_noting_high(w: &[u8], mut at: usize, high: &mut bool) -> Option<usize> {
    let mut past_ascii = 0;
    while at + 8 <= w.len() {
        let word = u64::from_le_bytes(w[at..at + 8].try_into().expect("eight bytes"));
        past_ascii |= word & HI;
        let hits = specials(word);
        if hits != 0 {
            *high |= past_ascii != 0;
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    *high |= past_ascii != 0;
    let found = w[at..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).map(|i| at + i);
    *high |= !w[at..found.unwrap_or(w.len())].is_ascii();
    found
}

impl<'de, S: Source<'de>> Reader<S> {
    /// Moves to the next chunk (the window must be used up).
    fn refill(&mut self) -> Result<bool> {
        let more = self.src.refill()?;
        self.pos = 0;
        Ok(more)
    }

    #[inline]
    fn peek(&mut self) -> Result<Option<u8>> {
        loop {
            if let Some(&b) = self.src.window().get(self.pos) {
                return Ok(Some(b));
            }
            if !self.refill()? {
                return Ok(None);
            }
        }
    }

    #[inline]
    fn next_byte(&mut self) -> Result<u8> {
        let b = self.peek()?.ok_or(GiveUp)?;
        self.pos += 1;
        Ok(b)
    }

    /// The next byte that is not whitespace, not consumed; the end of the input gives up.
    #[inline]
    fn peek_token(&mut self) -> Result<u8> {
        loop {
            let w = self.src.window();
            while let Some(&b) = w.get(self.pos) {
                if !is_whitespace(b) {
                    return Ok(b);
                }
                self.pos += 1;
            }
            if !self.refill()? {
                return Err(GiveUp);
            }
        }
    }

    fn expect(&mut self, byte: u8) -> Result<()> {
        if self.peek_token()? != byte {
            return Err(GiveUp);
        }
        self.pos += 1;
        Ok(())
    }

    /// After the input's document: nothing but whitespace, and all of it UTF-8.
    fn end(&mut self) -> Result<()> {
        loop {
            let w = self.src.window();
            if !w[self.pos..].iter().all(|&b| is_whitespace(b)) {
                return Err(GiveUp);
            }
            self.pos = w.len();
            if !self.refill()? {
                return self.src.finish();
            }
        }
    }

    /// An array or object opens (its bracket consumed).
    fn open(&mut self, object: bool) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(GiveUp);
        }
        let (word, bit) = (self.depth / 64, self.depth % 64);
        if object {
            self.objects[word] |= 1 << bit;
        } else {
            self.objects[word] &= !(1 << bit);
        }
        Ok(())
    }

    fn in_object(&self) -> bool {
        self.objects[self.depth / 64] & (1 << (self.depth % 64)) != 0
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<()> {
        let w = self.src.window();
        if w.len() - self.pos >= word.len() {
            if &w[self.pos..self.pos + word.len()] != word {
                return Err(GiveUp);
            }
            self.pos += word.len();
            return Ok(());
        }
        for &expected in word {
            if self.next_byte()? != expected {
                return Err(GiveUp);
            }
        }
        Ok(())
    }

    /// A run of ASCII digits, possibly across chunks; with `keep`, appended to `scratch`.
    fn digits(&mut self, keep: bool) -> Result<usize> {
        let mut count = 0;
        loop {
            let w = self.src.window();
            let run = w[self.pos..].iter().take_while(|b| b.is_ascii_digit()).count();
            if keep {
                self.scratch.extend_from_slice(&w[self.pos..self.pos + run]);
            }
            self.pos += run;
            count += run;
            if self.pos < w.len() || !self.refill()? {
                return Ok(count);
            }
        }
    }

    /// A number by JSON's grammar; true when it is an int. With `keep`, its text is left in
    /// `scratch`. An int longer than Python reads gives up.
    fn number(&mut self, keep: bool) -> Result<bool> {
        if keep {
            self.scratch.clear();
        }
        let push = |r: &mut Self, b: u8| {
            r.pos += 1;
            if keep {
                r.scratch.push(b);
            }
        };
        let mut b = self.peek()?;
        if b == Some(b'-') {
            push(self, b'-');
            b = self.peek()?;
        }
        let int_digits = match b {
            Some(b'0') => {
                push(self, b'0');
                if matches!(self.peek()?, Some(b'0'..=b'9')) {
                    return Err(GiveUp);
                }
                1
            }
            Some(b'1'..=b'9') => self.digits(keep)?,
            _ => return Err(GiveUp),
        };
        let mut is_int = true;
        if self.peek()? == Some(b'.') {
            push(self, b'.');
            if self.digits(keep)? == 0 {
                return Err(GiveUp);
            }
            is_int = false;
        }
        if let Some(e @ (b'e' | b'E')) = self.peek()? {
            push(self, e);
            if let Some(sign @ (b'+' | b'-')) = self.peek()? {
                push(self, sign);
            }
            if self.digits(keep)? == 0 {
                return Err(GiveUp);
            }
            is_int = false;
        }
        if is_int && int_digits > MAX_INT_DIGITS {
            return Err(GiveUp);
        }
        Ok(is_int)
    }

    /// The number just read into `scratch`, handed to the visitor as serde_json hands it: an
    /// int that fits as `u64`/`i64` (`-0` as `-0.0`), anything else as the `f64` serde_json
    /// parses from the same text. One that overflows a float gives up (Python reads it as inf).
    fn visit_number<V: Visitor<'de>>(&mut self, is_int: bool, visitor: V) -> Result<V::Value> {
        let text = &self.scratch;
        let (negative, digits) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, &text[..]),
        };
        if is_int && digits.len() <= 18 {
            let value = digits.iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
            return match (negative, value) {
                (false, v) => visitor.visit_u64(v),
                (true, 0) => visitor.visit_f64(-0.0),
                (true, v) => visitor.visit_i64(-(v as i64)),
            };
        }
        let text = std::str::from_utf8(text).map_err(|_| GiveUp)?;
        let value: f64 = serde_json::from_str(text).map_err(|_| GiveUp)?;
        visitor.visit_f64(value)
    }

    /// The escape after a backslash; with `keep`, its character is appended to `scratch`.
    fn escape(&mut self, keep: bool) -> Result<()> {
        let simple = match self.next_byte()? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0C,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let unit = self.hex4()?;
                let code = match unit {
                    0xD800..=0xDBFF => {
                        // Only a pair: a lone surrogate is Python's, not serde_json's.
                        if self.next_byte()? != b'\\' || self.next_byte()? != b'u' {
                            return Err(GiveUp);
                        }
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(GiveUp);
                        }
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(GiveUp),
                    unit => unit,
                };
                if keep {
                    let c = char::from_u32(code).ok_or(GiveUp)?;
                    self.scratch.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                return Ok(());
            }
            _ => return Err(GiveUp),
        };
        if keep {
            self.scratch.push(simple);
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = (self.next_byte()? as char).to_digit(16).ok_or(GiveUp)?;
            value = value * 16 + digit;
        }
        Ok(value)
    }

    /// Whether `w[start..end]`, the bytes of a string between an opening quote or escape and
    /// the next one, is text: a source whose windows are checked already has it so; a slice's
    /// (see [`validate_slice`]) is checked here when [`find_special_noting_high`] saw a byte
    /// past ASCII. It starts and ends on character boundaries, as ASCII bytes bound it.
    #[inline]
    fn segment_is_text(w: &[u8], start: usize, end: usize, high: bool) -> bool {
        S::CHECKED || !high || simdutf8::basic::from_utf8(&w[start..end]).is_ok()
    }

    /// Skips a string's rest (its opening quote consumed).
    fn skip_string(&mut self) -> Result<()> {
        loop {
            let w = self.src.window();
            match find_special_noting_high(w, self.pos) {
                Some((i, high)) => {
                    if !Self::segment_is_text(w, self.pos, i, high) {
                        return Err(GiveUp);
                    }
                    let b = w[i];
                    self.pos = i + 1;
                    match (b, w.get(i + 1)) {
                        (b'"', _) => return Ok(()),
                        // A one-letter escape in the window (code's `\n` and `\"`, most of a
                        // dataset's escapes) is stepped over here, as `escape` would.
                        (b'\\', Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't')) => self.pos += 1,
                        (b'\\', _) => self.escape(false)?,
                        _ => return Err(GiveUp),
                    }
                }
                None => {
                    self.pos = w.len();
                    if !self.refill()? {
                        return Err(GiveUp);
                    }
                }
            }
        }
    }

    /// A string's rest (its opening quote consumed), handed to the visitor: borrowed from the
    /// input when it has no escapes and the input lives long enough.
    #[inline]
    fn visit_string<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let w = self.src.window();
        if let Some((end, high)) = find_special_noting_high(w, self.pos) {
            if w[end] == b'"' {
                if !Self::segment_is_text(w, self.pos, end, high) {
                    return Err(GiveUp);
                }
                let start = self.pos;
                self.pos = end + 1;
                if let Some(bytes) = self.src.borrow(start, end) {
                    return visitor.visit_borrowed_str(checked_text(bytes));
                }
                return visitor.visit_str(checked_text(&w[start..end]));
            }
        }
        self.scratch.clear();
        loop {
            let w = self.src.window();
            match find_special(w, self.pos) {
                Some(i) => {
                    self.scratch.extend_from_slice(&w[self.pos..i]);
                    let b = w[i];
                    self.pos = i + 1;
                    match b {
                        b'"' => break,
                        b'\\' => self.escape(true)?,
                        _ => return Err(GiveUp),
                    }
                }
                None => {
                    self.scratch.extend_from_slice(&w[self.pos..]);
                    self.pos = w.len();
                    if !self.refill()? {
                        return Err(GiveUp);
                    }
                }
            }
        }
        visitor.visit_str(simdutf8::basic::from_utf8(&self.scratch).map_err(|_| GiveUp)?)
    }

    /// An object's key and colon (the key's opening quote next).
    fn skip_key(&mut self) -> Result<()> {
        self.expect(b'"')?;
        self.skip_string()?;
        self.expect(b':')
    }

    /// Skips one value, nested ones included, without recursion and without a visitor.
    fn skip_value(&mut self) -> Result<()> {
        let base = self.depth;
        'value: loop {
            match self.peek_token()? {
                b'"' => {
                    self.pos += 1;
                    self.skip_string()?;
                }
                b'{' => {
                    self.pos += 1;
                    self.open(true)?;
                    if self.peek_token()? == b'}' {
                        self.pos += 1;
                        self.depth -= 1;
                    } else {
                        self.skip_key()?;
                        continue 'value;
                    }
                }
                b'[' => {
                    self.pos += 1;
                    self.open(false)?;
                    if self.peek_token()? == b']' {
                        self.pos += 1;
                        self.depth -= 1;
                    } else {
                        continue 'value;
                    }
                }
                b'-' | b'0'..=b'9' => {
                    self.number(false)?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => return Err(GiveUp),
            }
            // After a value: close containers until one goes on, or the skipped value ends.
            while self.depth > base {
                let b = self.peek_token()?;
                self.pos += 1;
                let object = self.in_object();
                match b {
                    b',' => {
                        if object {
                            self.skip_key()?;
                        }
                        continue 'value;
                    }
                    b']' if !object => self.depth -= 1,
                    b'}' if object => self.depth -= 1,
                    _ => return Err(GiveUp),
                }
            }
            return Ok(());
        }
    }

    /// A container `deserialize_any` opens is visited, then must have been read to its end.
    fn visit_container<T>(&mut self, object: bool, visit: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.pos += 1;
        self.open(object)?;
        self.any_depth += 1;
        if self.any_depth > MAX_ANY_DEPTH {
            return Err(GiveUp);
        }
        let depth = self.depth;
        let value = visit(self)?;
        self.any_depth -= 1;
        if self.depth + 1 != depth {
            return Err(GiveUp);
        }
        Ok(value)
    }
}

impl<'de, S: Source<'de>> de::Deserializer<'de> for &mut Reader<S> {
    type Error = GiveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek_token()? {
            b'"' => {
                self.pos += 1;
                self.visit_string(visitor)
            }
            b'-' | b'0'..=b'9' => {
                let is_int = self.number(true)?;
                self.visit_number(is_int, visitor)
            }
            b't' => {
                self.literal(b"true")?;
                visitor.visit_bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                visitor.visit_bool(false)
            }
            b'n' => {
                self.literal(b"null")?;
                visitor.visit_unit()
            }
            b'[' => self.visit_container(false, |r| visitor.visit_seq(Elements { reader: r, items: Items::new() })),
            b'{' => self.visit_container(true, |r| visitor.visit_map(Entries { reader: r, items: Items::new() })),
            _ => Err(GiveUp),
        }
    }

    #[inline]
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_value()?;
        visitor.visit_unit()
    }

    /// Object keys come here: a string goes straight to the string reader.
    #[inline]
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek_token()? == b'"' {
            self.pos += 1;
            return self.visit_string(visitor);
        }
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier
    }
}

/// Where a walk through one array's or object's items is: before the first, between two, or
/// past the closing bracket.
struct Items {
    first: bool,
    done: bool,
}

impl Items {
    fn new() -> Items {
        Items { first: true, done: false }
    }

    /// The first byte of the next item, its separating comma consumed; `None` once `close`
    /// ends the container.
    #[inline]
    fn next<'de, S: Source<'de>>(&mut self, reader: &mut Reader<S>, close: u8) -> Result<Option<u8>> {
        if self.done {
            return Ok(None);
        }
        let mut b = reader.peek_token()?;
        if b == close {
            reader.pos += 1;
            reader.depth -= 1;
            self.done = true;
            return Ok(None);
        }
        if !self.first {
            if b != b',' {
                return Err(GiveUp);
            }
            reader.pos += 1;
            b = reader.peek_token()?;
        }
        self.first = false;
        Ok(Some(b))
    }
}

struct Elements<'r, S> {
    reader: &'r mut Reader<S>,
    items: Items,
}

impl<'de, S: Source<'de>> SeqAccess<'de> for Elements<'_, S> {
    type Error = GiveUp;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        match self.items.next(self.reader, b']')? {
            None => Ok(None),
            Some(_) => seed.deserialize(&mut *self.reader).map(Some),
        }
    }
}

struct Entries<'r, S> {
    reader: &'r mut Reader<S>,
    items: Items,
}

impl<'de, S: Source<'de>> MapAccess<'de> for Entries<'_, S> {
    type Error = GiveUp;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.items.next(self.reader, b'}')? {
            None => Ok(None),
            // Keys are strings; the seed reads one whether it wants its text or not.
            Some(b'"') => seed.deserialize(&mut *self.reader).map(Some),
            Some(_) => Err(GiveUp),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        self.reader.expect(b':')?;
        seed.deserialize(&mut *self.reader)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{array, obj, tagged, Captured};

    fn shape() -> Shape {
        obj()
            .capture("id", Shape::Any)
            .capture("n", Shape::Number)
            .opt("list", tagged("list", array(obj().capture("k", Shape::String).shape())))
            .shape()
    }

    /// Every chunk size gives the slice's answer.
    fn all_chunkings(doc: &[u8], shape: &Shape) -> Option<Captures> {
        let whole = validate_slice(doc, shape);
        for size in (1..=64).chain([CHUNK]) {
            assert_eq!(
                validate_in_chunks(doc, size, shape),
                whole,
                "chunks of {size}: {}",
                String::from_utf8_lossy(doc)
            );
            assert_eq!(
                validate_read_ahead(doc, size, shape),
                whole,
                "chunks of {size} read ahead: {}",
                String::from_utf8_lossy(doc)
            );
        }
        whole
    }

    #[test]
    fn healthy_documents_are_taken_with_their_captures() {
        let doc = r#"{"id": "a\"b\u00e9\ud83d\ude00é", "n": -12.5e-1, "skip": [{"x": [1, 2.0, true, false, null, "\\"]}],
            "list": [{"k": "v1"}, {"k": "\/\b\f\n\r\t"}]}"#;
        let captures = all_chunkings(doc.as_bytes(), &shape()).expect("healthy");
        assert_eq!(captures.get("id"), Some(&Captured::Str("a\"bé😀é".into())));
        assert_eq!(captures.get("n"), Some(&Captured::Number(-1.25)));
        assert_eq!(captures.get("list"), Some(&Captured::Array(2)));
        let ks: Vec<_> = captures.items("k").map(|(i, c)| (i, c.clone())).collect();
        assert_eq!(ks, [(0, Captured::Str("v1".into())), (1, Captured::Str("/\u{8}\u{c}\n\r\t".into()))]);
        assert_eq!(captures.top_level_keys, ["id", "n", "skip", "list"]);
    }

    #[test]
    fn unwanted_top_level_keys_are_all_that_is_left_out() {
        let docs = [
            r#"{"id": "a", "n": 1, "skip": [{"x": 1}], "list": [{"k": "v1"}], "unlisted": {"y": [2]}}"#,
            r#"{"unlisted": 1, "id": 2}"#,
            r#"{"n": 1}"#,
            r#"[{"id": 1}]"#,
            r#"{"id": "a""#,
            r#"{"id": "a", "n": "x"}"#,
            r#"{"id": "a", "list": [{"k": 1}]}"#,
        ];
        for doc in docs {
            let recorded = validate_slice(doc.as_bytes(), &shape()).map(|mut c| {
                c.top_level_keys.clear();
                c
            });
            assert_eq!(validate_slice_keys(doc.as_bytes(), &shape(), TopLevelKeys::Unwanted), recorded, "{doc}");
        }
        assert!(validate_slice(docs[0].as_bytes(), &shape()).is_some_and(|c| c.top_level_keys.len() == 5));
    }

    #[test]
    fn numbers_are_what_serde_json_reads() {
        for text in [
            "0",
            "-0",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "1e-400",
            "123456789012345678901234567890",
            "0.1",
            "2.5E+3",
            "-999999999999999999",
        ] {
            let doc = format!("{{\"n\": {text}}}");
            let captures = all_chunkings(doc.as_bytes(), &shape()).expect(text);
            let expected: f64 = serde_json::from_str(text).unwrap();
            let got = captures.get("n").and_then(|c| c.as_f64()).unwrap();
            assert_eq!(got.to_bits(), expected.to_bits(), "{text}");
        }
    }

    #[test]
    fn anything_unusual_gives_up() {
        let long_int = format!("[{}]", "7".repeat(MAX_INT_DIGITS + 1));
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        for doc in [
            "",
            " \n",
            "\u{feff}{}",
            "{\"n\": NaN}",
            "[Infinity]",
            "[-Infinity]",
            "{\"id\": \"\\ud800\"}",
            "[\"\\udc00\"]",
            "[\"\\ud800x\"]",
            "{\"n\": 1e400}",
            "[01]",
            "[1.]",
            "[-]",
            "[1e]",
            "[.5]",
            "{\"a\": 1,}",
            "[1,]",
            "[,1]",
            "{\"a\" 1}",
            "[1] x",
            "[1]\0",
            "\0\0",
            "{\"id\": \"a\u{1}\"}",
            "[\"\\x\"]",
            "[\"\\u12g4\"]",
            "[tru]",
            "[nul]",
            "{\"n\": \"x\"}",
            "[1",
            "{\"a\": [}]",
            "{1: 2}",
            &long_int,
            &deep,
        ] {
            assert_eq!(all_chunkings(doc.as_bytes(), &shape()), None, "{doc:?}");
        }
        assert_eq!(all_chunkings(b"[\"caf\xe9\"]", &shape()), None);
        assert_eq!(all_chunkings(b"[\"\xc3", &shape()), None);
        assert_eq!(all_chunkings(b"[\"a\"]\xc3", &shape()), None);
        // At the limits, still taken.
        let ok_int = format!("[-{}]", "7".repeat(MAX_INT_DIGITS));
        let ok_deep = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        for doc in [ok_int, ok_deep, format!("[{}.5]", "7".repeat(5000))] {
            assert!(all_chunkings(doc.as_bytes(), &Shape::Any).is_some());
        }
    }

    #[test]
    fn tokens_split_across_chunks() {
        // Multi-byte characters, escapes, surrogate pairs, numbers and literals at every
        // offset of every chunk size (all_chunkings covers sizes 1..=64).
        let doc = "{\"id\": \"héllo wörld 😀 \\ud83d\\ude00 \\u00e9\\n\", \"n\": 12345.678e-2, \"t\": [true, false, null, \"€\"]}";
        let captures = all_chunkings(doc.as_bytes(), &shape()).expect("healthy");
        assert_eq!(captures.get("id"), Some(&Captured::Str("héllo wörld 😀 😀 é\n".into())));
        assert_eq!(captures.get("n"), Some(&Captured::Number(123.45678)));
    }

    #[test]
    fn utf8_stream_carries_cut_characters() {
        let text = "aé€😀z".as_bytes();
        for cut in 0..=text.len() {
            let mut stream = Utf8Stream::default();
            assert!(stream.feed(&text[..cut]) && stream.feed(&text[cut..]), "cut {cut}");
            assert_eq!(stream.pending, 0);
        }
        let mut stream = Utf8Stream::default();
        assert!(stream.feed(b"a\xe2\x82"));
        assert!(!stream.feed(b"z"));
        let mut stream = Utf8Stream::default();
        assert!(stream.feed(b"a\xf0"));
        assert_eq!(stream.pending, 1);
    }

    /// The slice's strings are checked for UTF-8 as they are read: a document differing from a
    /// healthy one only by bytes that are not UTF-8, in a key, a captured value or a skipped
    /// one, at any offset around the 32-byte blocks and 8-byte words, is never taken; with
    /// valid characters there it is, as when the whole input was checked first (and as the
    /// chunked sources, which check each chunk before it is read, answer).
    #[test]
    fn a_slice_is_taken_only_when_its_strings_are_utf8() {
        let inserts: [&[u8]; 9] = [
            b"\xc3\xa9",
            b"\xe2\x82\xac",
            b"\xf0\x9f\x98\x80",
            b"\xff",
            b"\x80",
            b"\xe2\x82",
            b"\xc0\xaf",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
        ];
        for insert in inserts {
            let valid = std::str::from_utf8(insert).is_ok();
            for len in [0, 1, 7, 8, 9, 15, 16, 31, 32, 33, 40, 63, 64, 65] {
                for at in [0, len / 2, len] {
                    let mut bytes = vec![b'a'; len];
                    bytes.splice(at..at, insert.iter().copied());
                    for (before, after) in [
                        (&b"{\"id\": \""[..], &b"\", \"n\": 1}"[..]),
                        (b"{\"id\": 1, \"n\": 2, \"skip\": [\"", b"\"]}"),
                        (b"{\"id\": 1, \"n\": 2, \"", b"\": 3}"),
                        (b"{\"id\": \"\\n", b"\\t\", \"n\": 1}"),
                        (b"{\"id\": 1, \"n\": 2, \"skip\": \"\\u00e9", b"\\\\\"}"),
                    ] {
                        let doc = [before, &bytes, after].concat();
                        let taken = all_chunkings(&doc, &shape());
                        assert_eq!(taken.is_some(), valid, "{doc:?}");
                    }
                }
            }
        }
    }

    /// Whenever a byte past ASCII lies before what [`find_special_noting_high`] found, it says
    /// so, at every position and start of the blocks and words.
    #[test]
    fn a_byte_past_ascii_before_the_special_is_noted() {
        for len in [0, 7, 8, 9, 31, 32, 33, 64, 95] {
            for high_at in 0..len {
                for hit in 0..=len {
                    let mut bytes = vec![b'a'; len];
                    bytes[high_at] = 0xe9;
                    if hit < len {
                        bytes[hit] = b'"';
                    }
                    for start in [0, 1, high_at, hit.min(len)] {
                        let found = find_special_noting_high(&bytes, start);
                        assert_eq!(found.map(|(i, _)| i), find_special(&bytes, start));
                        let end = found.map_or(len, |(i, _)| i);
                        let mut high = false;
                        let words = find_special_words_noting_high(&bytes, start, &mut high);
                        assert_eq!(words, found.map(|(i, _)| i));
                        if (start..end).contains(&high_at) {
                            assert!(
                                found.is_none_or(|(_, high)| high),
                                "len {len} high {high_at} hit {hit} start {start}"
                            );
                            assert!(high, "words: len {len} high {high_at} hit {hit} start {start}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn specials_finds_the_first_one() {
        for i in 0..8 {
            for special in [b'"', b'\\', 0x00, 0x1f] {
                let mut word = [b'a', 0xff, b'~', 0x80, b' ', b'!', 0xe9, b'#'];
                word[i] = special;
                assert_eq!(find_special(&word, 0), Some(i));
                word[7] = b'"';
                assert_eq!(find_special(&word, 0), Some(i));
            }
        }
        assert_eq!(find_special(&[b'a', 0xff, b'~', 0x80, b' ', b'!', 0xe9, b'#', b'x'], 0), None);
        // The 32-byte blocks and the word steps agree at every position and start.
        for len in [0, 7, 31, 32, 33, 64, 95] {
            for hit in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f, 0x0a] {
                    let mut bytes: Vec<u8> =
                        (0..len).map(|i| [b'a', 0xff, 0x80, b' ', 0x20, 0x7f, b'!'][i % 7]).collect();
                    bytes[hit] = special;
                    for start in [0, 1, hit] {
                        let expected = (start <= hit).then_some(hit);
                        assert_eq!(find_special(&bytes, start), expected, "len {len} hit {hit} start {start}");
                        assert_eq!(find_special_words(&bytes, start), expected);
                    }
                }
            }
        }
    }
}
