//! Windows code page 1252, as Python's `cp1252` codec reads it (spec §5, 3cdca87). Before
//! 3cdca87 OpenAnt opened its files in text mode with the locale's encoding, so on a Western
//! Windows machine every file it wrote with raw non-ASCII text (the three `ensure_ascii=False`
//! JSON outputs and the Markdown reports) holds cp1252 bytes, which current OpenAnt's UTF-8
//! readers reject. `check` reports such files and `migrate` re-encodes them; both decide here.
//!
//! The decoding itself is `encoding_rs`'s windows-1252. That is the WHATWG definition, which
//! maps the five bytes Python leaves undefined to C1 controls; Python's codec raises on them,
//! and a file holding one was not written through a cp1252 stream (Python cannot encode those
//! code points in cp1252 either), so they are rejected before decoding.

use std::borrow::Cow;
use std::io::{self, Read};

use crate::layout::{file_name, FileKind};
use crate::shape::Shape;
use crate::validate::{validate_bytes, Problem};

/// The bytes Python's `cp1252` codec has no character for.
pub const UNDEFINED: [u8; 5] = [0x81, 0x8D, 0x8F, 0x90, 0x9D];

/// JSON kinds OpenAnt writes with `ensure_ascii=False`. Every other JSON file it writes is ASCII
/// (`ensure_ascii=True`) or comes from Go or node, which always write UTF-8: non-UTF-8 bytes in
/// those are damage, not a code page, and are left to `repair`.
pub const RAW_JSON_KINDS: &[FileKind] =
    &[FileKind::ResultsVerified, FileKind::PipelineOutput, FileKind::DynamicTestResults];

pub fn is_undefined(byte: u8) -> bool {
    UNDEFINED.contains(&byte)
}

/// A byte that stops cp1252 decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undefined {
    pub offset: usize,
    pub byte: u8,
}

/// `bytes.decode("cp1252")` with Python's strict error handling: the text, or the first byte
/// the codec rejects. Borrowed when the bytes are ASCII.
pub fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, Undefined> {
    if let Some(offset) = bytes.iter().position(|&b| is_undefined(b)) {
        return Err(Undefined { offset, byte: bytes[offset] });
    }
    // Every byte left maps to a character, so there is nothing to replace.
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
    Ok(text)
}

/// Where the first *valid* UTF-8 multibyte sequence starts in `bytes`, if there is one.
///
/// Text a cp1252 stream wrote almost never holds one: a valid sequence needs a lead byte
/// (`Â`..`ô`) followed by exactly the right number of continuation bytes (`\x80`..`\xBF`,
/// mostly punctuation and symbols in cp1252), as in the mojibake `Ã©`. A file holding one is a
/// UTF-8 file whose other bytes are damaged (a multibyte character cut by a torn write or a bit
/// flip), and re-encoding it as if it were cp1252 would turn every character into mojibake
/// (issue 12). So cp1252 is proven positively: not UTF-8, every byte defined in cp1252, and no
/// valid UTF-8 multibyte sequence anywhere.
pub fn first_utf8_multibyte(bytes: &[u8]) -> Option<usize> {
    let mut rest = bytes;
    let mut base = 0;
    loop {
        let (valid, skip) = match std::str::from_utf8(rest) {
            Ok(text) => (text, None),
            Err(error) => {
                // The first `valid_up_to` bytes are valid UTF-8 by the error's contract.
                let valid = std::str::from_utf8(&rest[..error.valid_up_to()]).unwrap_or("");
                (valid, Some(error.valid_up_to() + error.error_len().unwrap_or(rest.len() - error.valid_up_to())))
            }
        };
        if let Some(at) = valid.bytes().position(|b| !b.is_ascii()) {
            return Some(base + at);
        }
        match skip {
            Some(skip) if skip < rest.len() => {
                rest = &rest[skip..];
                base += skip;
            }
            _ => return None,
        }
    }
}

/// A file OpenAnt wrote through a text stream with non-ASCII text in it, so in cp1252 on
/// Windows before 3cdca87.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawText {
    /// A JSON output written with `ensure_ascii=False`.
    Json(FileKind),
    /// A Markdown report (`report/*.md`, `DYNAMIC_TEST_RESULTS.md`, `verify_explanations/*.md`).
    Markdown,
}

impl RawText {
    /// Whether a classified file is one of these. HTML and CSV reports are left out: OpenAnt
    /// wrote them as UTF-8 before 3cdca87 already.
    pub fn of(kind: FileKind, path: &std::path::Path) -> Option<RawText> {
        if RAW_JSON_KINDS.contains(&kind) {
            return Some(RawText::Json(kind));
        }
        (kind == FileKind::Other && file_name(path).ends_with(".md")).then_some(RawText::Markdown)
    }
}

/// What the bytes of a [`RawText`] file are.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Valid UTF-8: nothing to do.
    Utf8,
    /// Not UTF-8, decodes cleanly as cp1252, and (JSON) the decoded document is healthy:
    /// the text re-encoded as UTF-8, everything else (line endings included) as it was.
    Convert(Vec<u8>),
    /// JSON that decodes cleanly as cp1252 into a damaged document: repair's business.
    Damaged(Problem),
    /// Not UTF-8, but holding valid UTF-8 multibyte characters (at `multibyte`): UTF-8 text
    /// with damaged bytes (at `invalid`), never cp1252. Re-encoding it would garble every
    /// character; it is damage, repair's business.
    DamagedUtf8 { invalid: usize, multibyte: usize },
    /// Not cp1252 either.
    Undefined(Undefined),
}

/// Judges a whole file. `shape` is the shape of its kind (JSON only).
///
/// The JSON files were written by `json.dump(indent=2, ensure_ascii=False)` through a cp1252
/// text stream, so the UTF-8 encoding of the decoded text is byte for byte what the same
/// writer produces through a UTF-8 stream: the document is never re-serialized.
pub fn judge(bytes: &[u8], raw: RawText, shape: &Shape) -> Verdict {
    let invalid = match std::str::from_utf8(bytes) {
        Ok(_) => return Verdict::Utf8,
        Err(error) => error.valid_up_to(),
    };
    if let Some(multibyte) = first_utf8_multibyte(bytes) {
        return Verdict::DamagedUtf8 { invalid, multibyte };
    }
    let text = match decode(bytes) {
        Ok(text) => text.into_owned().into_bytes(),
        Err(undefined) => return Verdict::Undefined(undefined),
    };
    if let RawText::Json(_) = raw {
        if let Some(problem) = validate_bytes(&text, shape).problem {
            return Verdict::Damaged(problem);
        }
    }
    Verdict::Convert(text)
}

/// What a stream of bytes is, as far as encodings go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Utf8,
    /// Not UTF-8, but decodes cleanly as cp1252.
    Cp1252,
    /// Neither.
    Neither,
}

/// Reads `reader` to the end in bounded memory and says what its bytes are, by the same
/// rules as [`judge`]: cp1252 only when not UTF-8, every byte defined in cp1252 and no valid
/// UTF-8 multibyte sequence anywhere. For files `check` does not otherwise read, so no copy
/// is kept.
pub fn sniff(mut reader: impl Read) -> io::Result<Sniffed> {
    const CHUNK: usize = 64 * 1024;
    // Most sniffed files (a scan's Markdown reports) are a few KiB: a small buffer first, the
    // full chunk once a read fills it. Zeroing 64 KiB per file was most of check's cost for
    // them (issue 17); the verdict does not depend on where reads split the bytes.
    const FIRST: usize = 8 * 1024;
    let mut buf = vec![0u8; FIRST + 3];
    // Bytes of a UTF-8 character possibly cut by the end of the previous read.
    let mut carried = 0;
    let mut utf8 = true;
    let mut undefined = false;
    let mut multibyte = false;
    loop {
        let n = match reader.read(&mut buf[carried..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        let end = carried + n;
        // Undefined bytes are counted where they first arrive (never in the carried part).
        undefined |= buf[carried..end].iter().any(|&b| is_undefined(b));
        // Split off an incomplete but so far valid sequence at the end; it is judged with the
        // next read. Everything before it is judged now.
        let keep = incomplete_tail(&buf[..end]);
        let judged = &buf[..end - keep];
        utf8 &= std::str::from_utf8(judged).is_ok();
        multibyte |= first_utf8_multibyte(judged).is_some();
        if multibyte && !utf8 {
            // Damaged UTF-8: nothing later can make it UTF-8 or cp1252.
            return Ok(Sniffed::Neither);
        }
        buf.copy_within(end - keep..end, 0);
        carried = keep;
        if end == buf.len() && buf.len() < CHUNK + 3 {
            buf.resize(CHUNK + 3, 0);
        }
    }
    // A sequence still open at the end of the file is invalid UTF-8.
    utf8 &= carried == 0;
    Ok(match (utf8, undefined || multibyte) {
        (true, _) => Sniffed::Utf8,
        (false, false) => Sniffed::Cp1252,
        (false, true) => Sniffed::Neither,
    })
}

/// How many bytes at the end of `bytes` start a UTF-8 sequence that is valid so far but cut
/// short (at most 3).
fn incomplete_tail(bytes: &[u8]) -> usize {
    for keep in (1..=3.min(bytes.len())).rev() {
        let tail = &bytes[bytes.len() - keep..];
        if let Err(error) = std::str::from_utf8(tail) {
            if error.valid_up_to() == 0 && error.error_len().is_none() {
                return keep;
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::shape_for;

    #[test]
    fn decodes_like_python() {
        assert_eq!(decode(b"caf\xe9 \x80 \x93x\x94 \x85").unwrap(), "café € “x” …");
        assert_eq!(decode(b"\x9f\xa0\xff").unwrap(), "Ÿ\u{a0}ÿ");
        // Python does not strip a BOM when decoding cp1252.
        assert_eq!(decode(b"\xef\xbb\xbf").unwrap(), "ï»¿");
        for byte in UNDEFINED {
            assert_eq!(decode(&[b'a', byte]), Err(Undefined { offset: 1, byte }));
        }
        assert!(matches!(decode(b"plain"), Ok(Cow::Borrowed("plain"))));
    }

    #[test]
    fn judges_clean_and_unclean_bytes() {
        let md = |b: &[u8]| judge(b, RawText::Markdown, &Shape::Any);
        assert_eq!(md("déjà vu — ok".as_bytes()), Verdict::Utf8);
        assert_eq!(md(b"d\xe9j\xe0 vu \x97 ok\r\n"), Verdict::Convert("déjà vu — ok\r\n".as_bytes().to_vec()));
        assert_eq!(md(b"d\xe9j\xe0 \x81"), Verdict::Undefined(Undefined { offset: 5, byte: 0x81 }));
        // 0x81 inside a UTF-8 character is not a cp1252 question at all.
        assert_eq!(md("Ё".as_bytes()), Verdict::Utf8);
    }

    #[test]
    fn json_keeps_its_crlf_and_must_stay_whole() {
        let shape = shape_for(FileKind::DynamicTestResults, None);
        let raw = RawText::Json(FileKind::DynamicTestResults);
        let doc = b"{\r\n  \"repository\": \"caf\xe9\",\r\n  \"total_findings\": 0,\r\n  \"total_cost_usd\": 0.0,\r\n  \"results\": []\r\n}";
        let want = "{\r\n  \"repository\": \"café\",\r\n  \"total_findings\": 0,\r\n  \"total_cost_usd\": 0.0,\r\n  \"results\": []\r\n}";
        assert_eq!(judge(doc, raw, shape), Verdict::Convert(want.as_bytes().to_vec()));
        let torn = &doc[..doc.len() - 8];
        assert!(
            matches!(judge(torn, raw, shape), Verdict::Damaged(p) if p.kind == crate::finding::FindingKind::Truncated)
        );
    }

    #[test]
    fn which_files_are_raw_text() {
        let of = |kind, name: &str| RawText::of(kind, std::path::Path::new(name));
        assert_eq!(
            of(FileKind::PipelineOutput, "s/pipeline_output.json"),
            Some(RawText::Json(FileKind::PipelineOutput))
        );
        assert_eq!(of(FileKind::Other, "s/report/SUMMARY_REPORT.md"), Some(RawText::Markdown));
        assert_eq!(of(FileKind::Results, "s/results.json"), None);
        assert_eq!(of(FileKind::Other, "s/final-reports/report.html"), None);
    }

    /// Feeds the reader one byte at a time, so characters are cut at every boundary.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.split_first() {
                Some((&b, rest)) if !buf.is_empty() => {
                    buf[0] = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn sniffs_in_any_read_sizes() {
        let cases: &[(&[u8], Sniffed)] = &[
            (b"", Sniffed::Utf8),
            ("« naïve » — 🐜\r\n".as_bytes(), Sniffed::Utf8),
            ("Ѓ".as_bytes(), Sniffed::Utf8),
            (b"na\xefve \x97\r\n", Sniffed::Cp1252),
            (b"ends cut \xc3", Sniffed::Cp1252),
            (b"na\xefve \x81", Sniffed::Neither),
            (b"\x81 first, then na\xefve", Sniffed::Neither),
            (b"\xc3\xa9 then \x90 alone", Sniffed::Neither),
        ];
        for (bytes, want) in cases {
            assert_eq!(sniff(*bytes).unwrap(), *want, "{:?}", String::from_utf8_lossy(bytes));
            assert_eq!(sniff(Trickle(bytes)).unwrap(), *want, "{:?}", String::from_utf8_lossy(bytes));
        }
        // Across the first, smaller read's boundary, and where the buffer grows.
        for at in [8 * 1024 - 1, 8 * 1024, 8 * 1024 + 2] {
            let mut text = vec![b'a'; at];
            text.extend_from_slice("é".as_bytes());
            assert_eq!(sniff(text.as_slice()).unwrap(), Sniffed::Utf8, "{at}");
            text.push(0xE9);
            assert_eq!(sniff(text.as_slice()).unwrap(), Sniffed::Neither, "{at}");
            let mut text = vec![b'a'; at];
            text.extend_from_slice(b"\xe9 caf\xe9");
            assert_eq!(sniff(text.as_slice()).unwrap(), Sniffed::Cp1252, "{at}");
        }
        // Across the 64 KiB chunk boundary.
        let mut big = vec![b'a'; 64 * 1024 - 1];
        big.extend_from_slice("é".as_bytes());
        assert_eq!(sniff(big.as_slice()).unwrap(), Sniffed::Utf8);
        // A valid multibyte character before the bad byte: damaged UTF-8, never cp1252.
        big.push(0xE9);
        assert_eq!(sniff(big.as_slice()).unwrap(), Sniffed::Neither);
        let mut big = vec![b'a'; 64 * 1024 - 1];
        big.extend_from_slice(b"\xe9 caf\xe9");
        assert_eq!(sniff(big.as_slice()).unwrap(), Sniffed::Cp1252);
    }

    /// Issue 12: UTF-8 text with one multibyte character cut (`e2 9c 93` → `e2 9c`) is
    /// damaged UTF-8. Decoded as cp1252 it would become `VÃ©rifiÃ©`.
    #[test]
    fn utf8_with_a_cut_character_is_not_cp1252() {
        let mut bytes = "{\"note\": \"Vérifié — ".as_bytes().to_vec();
        bytes.extend_from_slice(b"\xe2\x9c ok\"}");
        assert_eq!(first_utf8_multibyte(&bytes), Some(11));
        let raw = RawText::Json(FileKind::ResultsVerified);
        assert_eq!(judge(&bytes, raw, &Shape::Any), Verdict::DamagedUtf8 { invalid: 24, multibyte: 11 });
        assert_eq!(sniff(bytes.as_slice()).unwrap(), Sniffed::Neither);
        assert_eq!(sniff(Trickle(&bytes)).unwrap(), Sniffed::Neither);
        // The same damage in a file with no other non-ASCII text is indistinguishable from
        // cp1252 by its bytes; only the document's health decides (see `judge`).
        assert_eq!(first_utf8_multibyte(b"{\"a\": \"\xe2\x9c\"}"), None);
    }

    #[test]
    fn multibyte_sequences_are_found_wherever_they_are() {
        assert_eq!(first_utf8_multibyte(b"plain ascii"), None);
        assert_eq!(first_utf8_multibyte(b"caf\xe9 na\xefve"), None);
        assert_eq!(first_utf8_multibyte(b"\xff\xfe \xc3\xa9"), Some(3));
        assert_eq!(first_utf8_multibyte("🐜".as_bytes()), Some(0));
        // Cut at the end: not a valid sequence.
        assert_eq!(first_utf8_multibyte(b"ab\xf0\x9f\x90"), None);
        // Overlong and surrogate encodings are not valid UTF-8.
        assert_eq!(first_utf8_multibyte(b"\xc0\xaf \xed\xa0\x80"), None);
    }
}
