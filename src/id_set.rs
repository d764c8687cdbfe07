//! An exact set of strings in compact form, for the ids a large file records (a 1 GB
//! `results.json` holds a million unit ids): the bytes sit in fixed-size chunks that are never
//! reallocated (so growing never holds two copies), each id is a 4-byte offset into them, and
//! the spans are sorted once so membership is a binary search and iteration is in byte order
//! (the order a `BTreeSet<&str>` gives). Exact: ids are compared as strings, never by hash.

use std::cmp::Ordering;

/// Bytes per chunk (2^20); an id longer than a chunk gets a chunk of its own.
const CHUNK_BITS: u32 = 20;
const CHUNK: usize = 1 << CHUNK_BITS;
/// How many chunks a 4-byte span can name (`chunk << CHUNK_BITS | start`): 4 GiB of ids
/// (2 in tests, which then reach the 8-byte spans too).
const NARROW_CHUNKS: usize = if cfg!(test) { 2 } else { 1 << (32 - CHUNK_BITS) };

/// Where each id starts: 4 bytes each while the ids fit in 4 GiB, 8 after. An id is stored
/// as its length (LEB128) then its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Spans {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl Default for Spans {
    fn default() -> Spans {
        Spans::Narrow(Vec::new())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdSet {
    chunks: Vec<Vec<u8>>,
    spans: Spans,
    /// Whether `spans` is sorted and free of duplicates (after [`IdSet::seal`]).
    sealed: bool,
}

/// The bytes of the id starting at `start` of `chunk` (compared as bytes: the order of
/// `str`s is their bytes' order).
fn id_at(chunk: &[u8], start: usize) -> &[u8] {
    let (mut len, mut shift, mut at) = (0usize, 0, start);
    loop {
        let byte = chunk[at];
        at += 1;
        len |= usize::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            break;
        }
    }
    &chunk[at..at + len]
}

impl IdSet {
    pub fn new() -> IdSet {
        IdSet::default()
    }

    /// Adds `id` (a duplicate is dropped when the set is sealed).
    pub fn push(&mut self, id: &str) {
        self.sealed = false;
        let mut prefix = [0u8; 10];
        let mut prefix_len = 0;
        let mut len = id.len();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            prefix[prefix_len] = if len > 0 { byte | 0x80 } else { byte };
            prefix_len += 1;
            if len == 0 {
                break;
            }
        }
        let need = prefix_len + id.len();
        let fits = self.chunks.last().is_some_and(|c| c.capacity() - c.len() >= need);
        if !fits {
            self.chunks.push(Vec::with_capacity(CHUNK.max(need)));
        }
        let chunk_index = self.chunks.len() - 1;
        let chunk = &mut self.chunks[chunk_index];
        // A chunk holds at most max(CHUNK, one id) bytes: a start fits in CHUNK_BITS.
        let start = chunk.len();
        chunk.extend_from_slice(&prefix[..prefix_len]);
        chunk.extend_from_slice(id.as_bytes());
        if chunk_index >= NARROW_CHUNKS {
            if let Spans::Narrow(narrow) = &self.spans {
                self.spans = Spans::Wide(narrow.iter().map(|s| u64::from(*s)).collect());
            }
        }
        match &mut self.spans {
            Spans::Narrow(spans) => spans.push(((chunk_index as u32) << CHUNK_BITS) | start as u32),
            Spans::Wide(spans) => spans.push(((chunk_index as u64) << CHUNK_BITS) | start as u64),
        }
    }

    fn text(&self, span: u64) -> &[u8] {
        let chunk = (span >> CHUNK_BITS) as usize;
        id_at(&self.chunks[chunk], (span & (CHUNK as u64 - 1)) as usize)
    }

    /// Sorts and deduplicates; membership and ordered iteration need it. Large sets sort on
    /// all cores.
    pub fn seal(&mut self) {
        if self.sealed {
            return;
        }
        fn sort<'t, T: Copy + Send + Sync>(spans: &mut Vec<T>, text: &(dyn Fn(T) -> &'t [u8] + Sync)) {
            let by_text = |a: &T, b: &T| text(*a).cmp(text(*b));
            if spans.len() > 1 << 14 {
                use rayon::slice::ParallelSliceMut;
                spans.par_sort_unstable_by(by_text);
            } else {
                spans.sort_unstable_by(by_text);
            }
            spans.dedup_by(|a, b| text(*a) == text(*b));
        }
        let mut spans = std::mem::take(&mut self.spans);
        match &mut spans {
            Spans::Narrow(s) => sort(s, &|span| self.text(u64::from(span))),
            Spans::Wide(s) => sort(s, &|span| self.text(span)),
        }
        self.spans = spans;
        self.sealed = true;
    }

    /// The number of distinct ids (of pushes, before [`IdSet::seal`]).
    pub fn len(&self) -> usize {
        match &self.spans {
            Spans::Narrow(s) => s.len(),
            Spans::Wide(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn span(&self, i: usize) -> u64 {
        match &self.spans {
            Spans::Narrow(s) => u64::from(s[i]),
            Spans::Wide(s) => s[i],
        }
    }

    /// Whether `id` is in the set (a binary search once sealed, a scan before).
    pub fn contains(&self, id: &str) -> bool {
        if !self.sealed {
            return self.iter().any(|have| have == id);
        }
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.text(self.span(mid)).cmp(id.as_bytes()) {
                Ordering::Less => low = mid + 1,
                Ordering::Greater => high = mid,
                Ordering::Equal => return true,
            }
        }
        false
    }

    /// The ids, in byte order once sealed (in push order before).
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        // Only whole `&str`s are pushed, so the bytes are UTF-8 (checked anyway: no `unsafe`).
        (0..self.len()).map(|i| std::str::from_utf8(self.text(self.span(i))).unwrap_or_default())
    }

    /// Adds every id of `other` (unsealing this set).
    pub fn extend_from(&mut self, other: &IdSet) {
        for id in other.iter() {
            self.push(id);
        }
    }
}

/// The sorted union of two sealed sets, without duplicates.
pub fn union<'a>(a: &'a IdSet, b: &'a IdSet) -> impl Iterator<Item = &'a str> + 'a {
    let mut a = a.iter().peekable();
    let mut b = b.iter().peekable();
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) => match x.cmp(y) {
            Ordering::Less => a.next(),
            Ordering::Greater => b.next(),
            Ordering::Equal => {
                b.next();
                a.next()
            }
        },
        (Some(_), None) => a.next(),
        (None, _) => b.next(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_sets_are_sorted_deduplicated_and_searchable() {
        let mut set = IdSet::new();
        for id in ["b", "a", "", "c:1", "a", "é"] {
            set.push(id);
        }
        assert!(set.contains("c:1") && set.contains("a"));
        set.seal();
        assert_eq!(set.iter().collect::<Vec<_>>(), ["", "a", "b", "c:1", "é"]);
        assert!(set.contains("") && set.contains("é") && set.contains("b"));
        assert!(!set.contains("c") && !set.contains("d"));
        assert_eq!(set.len(), 5);
    }

    #[test]
    fn ids_spread_over_chunks_and_long_ids_stay_whole() {
        let mut set = IdSet::new();
        let long = "x".repeat(CHUNK + 10);
        set.push("é");
        let ids: Vec<String> = (0..100_000).map(|i| format!("svc/module_{i:07}.py:handler")).collect();
        for id in &ids {
            set.push(id);
        }
        set.push(&long);
        set.seal();
        assert!(set.chunks.len() > 2 && matches!(set.spans, Spans::Wide(_)));
        assert_eq!(set.len(), ids.len() + 2);
        assert!(ids.iter().all(|id| set.contains(id)));
        assert!(set.contains(&long) && !set.contains(&long[1..]));
        let mut sorted: Vec<&str> = ids.iter().map(String::as_str).chain([long.as_str(), "é"]).collect();
        sorted.sort();
        assert!(set.iter().eq(sorted));
    }

    #[test]
    fn union_merges_in_order() {
        let mut a = IdSet::new();
        let mut b = IdSet::new();
        ["a", "c", "e"].iter().for_each(|i| a.push(i));
        ["b", "c", "f"].iter().for_each(|i| b.push(i));
        a.seal();
        b.seal();
        assert_eq!(union(&a, &b).collect::<Vec<_>>(), ["a", "b", "c", "e", "f"]);
        assert_eq!(union(&a, &IdSet::new()).collect::<Vec<_>>(), ["a", "c", "e"]);
    }
}
