//! Finding the next byte of a JSON string body that needs attention, eight bytes at a time.
//!
//! Reading and writing a string both spend their time stepping over runs of plain bytes between
//! the few that matter: the closing `"`, a `\`, a raw control character (U+0000–U+001F), and,
//! for a writer that escapes everything past `~`, U+007F and every non-ASCII byte. A string of
//! source code is mostly such runs, so [`find_special`] tests a whole 64-bit word per step
//! (SWAR: "SIMD within a register") and only the word holding a special byte is looked at
//! byte by byte. Nothing here allocates or panics.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A mask with the high bit set in (at least) the lowest byte of `word` that is below `n`
/// (`n <= 0x80`). Bits can also be set in bytes above a flagged one (a borrow runs upwards),
/// never below it, so the lowest set bit is exact: the first such byte.
#[inline(always)]
fn below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS
}

/// As [`below`], for the bytes equal to `b`.
#[inline(always)]
fn equal(word: u64, b: u8) -> u64 {
    below(word ^ (ONES * u64::from(b)), 1)
}

/// Whether `b` is special: `"`, `\`, below U+0020, or (with `FROM_DEL`) `>= 0x7f`.
#[inline(always)]
fn is_special<const FROM_DEL: bool>(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20 || (FROM_DEL && b >= 0x7f)
}

/// The offset of the first byte at or after `from` that is `"`, `\` or below 0x20, and with
/// `FROM_DEL` also the first that is 0x7f or above (any byte of a non-ASCII character);
/// `bytes.len()` when there is none.
#[inline]
pub(super) fn find_special<const FROM_DEL: bool>(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7]]);
        let mut mask = below(word, 0x20) | equal(word, b'"') | equal(word, b'\\');
        if FROM_DEL {
            // The high bit marks every byte >= 0x80 exactly; DEL on its own.
            mask |= (word & HIGHS) | equal(word, 0x7f);
        }
        if mask != 0 {
            // Little-endian load: the lowest set bit belongs to the first byte in memory.
            return i + (mask.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if is_special::<FROM_DEL>(b) {
            return i;
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The byte-at-a-time definition the word-at-a-time search must agree with.
    fn oracle<const FROM_DEL: bool>(bytes: &[u8], from: usize) -> usize {
        (from..bytes.len()).find(|&i| is_special::<FROM_DEL>(bytes[i])).unwrap_or(bytes.len())
    }

    #[test]
    fn every_byte_value_at_every_word_position() {
        for b in 0..=255u8 {
            for at in 0..20 {
                let mut bytes = vec![b'a'; 20];
                bytes[at] = b;
                for from in 0..=20 {
                    assert_eq!(find_special::<false>(&bytes, from), oracle::<false>(&bytes, from), "{b:#x} at {at}");
                    assert_eq!(find_special::<true>(&bytes, from), oracle::<true>(&bytes, from), "{b:#x} at {at}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn agrees_with_the_bytewise_search(
            bytes in proptest::collection::vec(prop_oneof![
                8 => 0x20u8..0x7f,
                1 => any::<u8>(),
                1 => proptest::sample::select(vec![b'"', b'\\', 0x1f, 0x20, 0x21, 0x7e, 0x7f, 0x80, 0xff, 0x00]),
            ], 0..80),
            from in 0usize..80,
        ) {
            let from = from.min(bytes.len());
            prop_assert_eq!(find_special::<false>(&bytes, from), oracle::<false>(&bytes, from));
            prop_assert_eq!(find_special::<true>(&bytes, from), oracle::<true>(&bytes, from));
        }
    }
}
