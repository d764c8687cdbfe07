//! Differential tests against the real thing, `python3`'s `json` module (what OpenAnt reads
//! and writes with) and `round`: `scanaudit::pyjson` byte for byte, and `check`'s validator
//! accept for accept.
//!
//! Inputs are generated with proptest strategies, written in batches to a temp file (one hex
//! line per input, so any bytes survive), and one `python3` process per batch answers for the
//! whole batch. Knobs:
//! * `SCANAUDIT_DIFF_CASES` — cases per test (default 4000);
//! * `SCANAUDIT_DIFF_SEED` — the RNG seed (default: a fixed one, so CI is reproducible; printed on failure).

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use scanaudit::pyjson::{parse, python_float_repr, python_round, to_python_string, ParseErrorKind, PyValue};
use scanaudit::shape::Shape;
use scanaudit::validate::validate_bytes;

use crate::common::Rng;

const BATCH: usize = 500;

fn cases() -> usize {
    std::env::var("SCANAUDIT_DIFF_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(4000)
}

fn seed() -> u64 {
    // Fixed by default so CI is reproducible; set SCANAUDIT_DIFF_SEED (e.g. to `date +%s%N`)
    // to explore new inputs.
    std::env::var("SCANAUDIT_DIFF_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5ca7_a0d1_7000_0001)
}

/// Draws `n` values from `strategy` with a seeded RNG (no shrinking: failures print the input).
fn sample<S: Strategy>(strategy: S, n: usize, seed: u64) -> Vec<S::Value> {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    (0..n).map(|_| strategy.new_tree(&mut runner).expect("strategy").current()).collect()
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex from python")).collect()
}

/// Runs `script` once over `lines` (written to a temp file passed as argv[1]) and returns its
/// output lines, one per input line.
fn python(script: &str, lines: &[String]) -> Vec<String> {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    for line in lines {
        writeln!(file, "{line}").expect("write temp file");
    }
    file.flush().expect("flush temp file");
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(file.path())
        .output()
        .expect("python3 must be installed for the differential tests");
    assert!(out.status.success(), "python3 failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("python output is ASCII");
    let answers: Vec<String> = text.lines().map(str::to_owned).collect();
    assert_eq!(answers.len(), lines.len(), "one answer per input");
    answers
}

/// Reads each input as OpenAnt does (`open(path)` = strict UTF-8 text, then `json.load`) and
/// answers `OK <dumps ensure_ascii=True> <dumps ensure_ascii=False | SURR>` in hex, or
/// `ERR <exception>`. `SURR`: Python accepted a lone surrogate it cannot encode back.
const LOADS_DUMPS: &str = r#"
import sys, json
out = []
for line in open(sys.argv[1]):
    data = bytes.fromhex(line.strip())
    try:
        v = json.loads(data.decode('utf-8'))
    except Exception as e:
        out.append('ERR ' + type(e).__name__)
        continue
    a = json.dumps(v, indent=2, ensure_ascii=True).encode('utf-8').hex()
    try:
        b = json.dumps(v, indent=2, ensure_ascii=False).encode('utf-8').hex()
    except UnicodeEncodeError:
        b = 'SURR'
    out.append('OK ' + a + ' ' + b)
sys.stdout.write(''.join(o + '\n' for o in out))
"#;

/// Compares our parse + both Python writers with Python's answer for one input.
/// `Err(message)` describes a disagreement.
fn check_against_python(input: &[u8], answer: &str) -> Result<(), String> {
    let ours = parse(input);
    let show = || String::from_utf8_lossy(input).into_owned();
    let parts: Vec<&str> = answer.split(' ').collect();
    match (parts[0], ours) {
        ("OK", Ok(value)) => {
            let want_ascii = String::from_utf8(unhex(parts.get(1).unwrap_or(&""))).unwrap();
            let want_raw = parts.get(2).unwrap_or(&"");
            let got_ascii = to_python_string(&value, true).map_err(|e| e.to_string())?;
            if got_ascii != want_ascii {
                return Err(format!(
                    "ensure_ascii=True differs for {:?}\n python: {want_ascii:?}\n    ours: {got_ascii:?}",
                    show()
                ));
            }
            let want_raw = String::from_utf8(unhex(want_raw)).unwrap();
            let got_raw = to_python_string(&value, false).map_err(|e| e.to_string())?;
            if got_raw != want_raw {
                return Err(format!(
                    "ensure_ascii=False differs for {:?}\n python: {want_raw:?}\n    ours: {got_raw:?}",
                    show()
                ));
            }
            Ok(())
        }
        // Documented difference: a lone surrogate escape, which Python keeps (and usually
        // cannot write back: SURR) but we reject. Python may also accept because a later
        // duplicate key dropped the string, so check the escape itself at the error offset.
        ("OK", Err(e)) if e.kind == ParseErrorKind::LoneSurrogate && is_lone_surrogate_at(input, e.offset) => Ok(()),
        ("OK", Err(e)) => Err(format!("python accepts, we reject ({e}): {:?}", show())),
        ("ERR", Ok(v)) => {
            Err(format!("python rejects ({}), we accept as {v:?}: {:?}", parts.get(1).unwrap_or(&""), show()))
        }
        ("ERR", Err(e)) => {
            if e.offset > input.len() {
                return Err(format!("offset {} beyond input {:?}", e.offset, show()));
            }
            Ok(())
        }
        _ => Err(format!("unexpected python answer {answer:?}")),
    }
}

/// Whether `input[at..]` is a `\uXXXX` escape of a surrogate that is not the high half of a
/// valid pair.
fn is_lone_surrogate_at(input: &[u8], at: usize) -> bool {
    let unit = |at: usize| -> Option<u32> {
        let esc = input.get(at..at + 6)?;
        if &esc[..2] != b"\\u" {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(&esc[2..]).ok()?, 16).ok()
    };
    match unit(at) {
        Some(0xD800..=0xDBFF) => !matches!(unit(at + 6), Some(0xDC00..=0xDFFF)),
        Some(0xDC00..=0xDFFF) => true,
        _ => false,
    }
}

/// Checks every input against Python; returns how many Python accepted and rejected.
fn run_loads_dumps(inputs: &[Vec<u8>], seed: u64) -> (usize, usize) {
    let mut failures = Vec::new();
    let mut accepted = 0;
    for chunk in inputs.chunks(BATCH) {
        let lines: Vec<String> = chunk.iter().map(|b| hex(b)).collect();
        let answers = python(LOADS_DUMPS, &lines);
        for (input, answer) in chunk.iter().zip(&answers) {
            accepted += usize::from(answer.starts_with("OK"));
            if let Err(msg) = check_against_python(input, answer) {
                failures.push(msg);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} inputs disagree with python3 (SCANAUDIT_DIFF_SEED={seed}); first ones:\n{}",
        failures.len(),
        inputs.len(),
        failures.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
    (accepted, inputs.len() - accepted)
}

// ---------------------------------------------------------------------------------------------
// Generated documents, rendered to JSON text with varied formatting.

#[derive(Debug, Clone)]
enum Doc {
    Null,
    Bool(bool),
    Int(String),
    Float(f64, u8),
    Str(String, u8),
    Arr(Vec<Doc>, u8),
    Obj(Vec<((String, u8), Doc)>, u8),
}

fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::char::range(' ', '~'),
        2 => proptest::char::range('\0', '\u{1f}'),
        1 => Just('\u{7f}'),
        1 => proptest::char::range('\u{80}', '\u{9f}'),
        2 => proptest::char::range('\u{a0}', '\u{7ff}'),
        1 => proptest::char::range('\u{800}', '\u{d7ff}'),
        1 => proptest::char::range('\u{e000}', '\u{ffff}'),
        1 => prop_oneof![Just('\u{2028}'), Just('\u{2029}'), Just('\u{feff}'), Just('"'), Just('\\'), Just('/')],
        2 => proptest::char::range('\u{10000}', '\u{10ffff}'),
    ]
}

fn any_string() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::collection::vec(any_char(), 0..16).prop_map(|v| v.into_iter().collect()),
        // Long strings, cheaply: a short random piece repeated (generation dominates runtime).
        1 => (proptest::collection::vec(any_char(), 1..16), 20usize..200)
            .prop_map(|(v, n)| v.into_iter().collect::<String>().repeat(n)),
    ]
}

fn any_int() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "-?[1-9][0-9]{19,80}",
        Just("0".to_owned()),
        Just("-0".to_owned()),
        (0u32..128).prop_map(|k| (1u128 << k).to_string()),
    ]
}

fn interesting_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => any::<u64>().prop_map(f64::from_bits),
        2 => any::<f64>(),
        2 => (any::<i32>(), -8i32..8).prop_map(|(m, e)| f64::from(m) * 10f64.powi(e)),
        1 => (-330i32..310, prop_oneof![Just(1.0), Just(-1.0), Just(2.5), Just(9.999999999999999)])
            .prop_map(|(e, m)| m * 10f64.powi(e)),
        1 => (0u64..(1 << 52)).prop_map(f64::from_bits), // subnormals
        // Quarter steps where 17 digits are needed: exact ties between two shortest candidates.
        1 => ((1u64 << 49)..(1u64 << 52), 0u8..4, -3i32..3)
            .prop_map(|(k, q, e)| (k as f64 + f64::from(q) * 0.25) * 2f64.powi(e)),
        1 => prop_oneof![
            Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY), Just(-0.0), Just(0.0),
            Just(1e16), Just(1e15), Just(9999999999999998.0), Just(1e-4), Just(1e-5),
            Just(0.1 + 0.2), Just(f64::MAX), Just(f64::MIN_POSITIVE), Just(5e-324),
        ],
    ]
}

fn leaf() -> impl Strategy<Value = Doc> {
    prop_oneof![
        1 => Just(Doc::Null),
        1 => any::<bool>().prop_map(Doc::Bool),
        2 => any_int().prop_map(Doc::Int),
        3 => (interesting_float(), any::<u8>()).prop_map(|(x, f)| Doc::Float(x, f)),
        3 => (any_string(), any::<u8>()).prop_map(|(s, f)| Doc::Str(s, f)),
    ]
}

fn key() -> impl Strategy<Value = (String, u8)> {
    (
        prop_oneof![
            2 => prop_oneof![Just("a"), Just("b"), Just("id"), Just("")].prop_map(str::to_owned),
            3 => any_string(),
        ],
        any::<u8>(),
    )
}

fn tree() -> impl Strategy<Value = Doc> {
    leaf().prop_recursive(8, 64, 6, |inner| {
        prop_oneof![
            (proptest::collection::vec(inner.clone(), 0..6), any::<u8>()).prop_map(|(v, w)| Doc::Arr(v, w)),
            (proptest::collection::vec((key(), inner), 0..6), any::<u8>()).prop_map(|(v, w)| Doc::Obj(v, w)),
        ]
    })
}

/// A chain up to 50 containers deep around a small tree.
fn deep() -> impl Strategy<Value = Doc> {
    (proptest::collection::vec((any::<bool>(), key(), any::<u8>()), 0..50), tree()).prop_map(|(wrappers, mut doc)| {
        for (is_arr, k, w) in wrappers {
            doc = if is_arr { Doc::Arr(vec![doc], w) } else { Doc::Obj(vec![(k, doc)], w) };
        }
        doc
    })
}

fn document() -> impl Strategy<Value = Doc> {
    prop_oneof![6 => tree(), 1 => deep()]
}

fn ws(style: u8) -> &'static str {
    ["", "", " ", "\n", "\n  ", "\t", "\r\n", " \t\n\r "][usize::from(style % 8)]
}

fn render_string(out: &mut String, s: &str, style: u8) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if style & 1 == 1 => out.push_str("\\/"),
            '\n' if style & 2 == 2 => out.push_str("\\n"),
            '\t' if style & 2 == 2 => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (style & 4 == 4 && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    if style & 8 == 8 {
                        let _ = write!(out, "\\u{u:04X}");
                    } else {
                        let _ = write!(out, "\\u{u:04x}");
                    }
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn render_float(out: &mut String, x: f64, style: u8) {
    if x.is_nan() {
        out.push_str("NaN");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        let text = match style % 6 {
            0 => format!("{x:?}"),
            1 => format!("{x:e}"),
            2 => format!("{x:E}"),
            3 => format!("{x:.17e}"),
            4 => format!("{x:.25e}").replace('e', "e+").replace("e+-", "e-"),
            _ => python_float_repr(x),
        };
        out.push_str(&text);
    }
}

fn render(out: &mut String, doc: &Doc) {
    match doc {
        Doc::Null => out.push_str("null"),
        Doc::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Doc::Int(n) => out.push_str(n),
        Doc::Float(x, style) => render_float(out, *x, *style),
        Doc::Str(s, style) => render_string(out, s, *style),
        Doc::Arr(items, w) => {
            out.push('[');
            out.push_str(ws(*w));
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    out.push_str(ws(w >> 3));
                }
                render(out, item);
                out.push_str(ws(w >> 5));
            }
            out.push(']');
        }
        Doc::Obj(entries, w) => {
            out.push('{');
            out.push_str(ws(*w));
            for (i, ((k, kstyle), item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    out.push_str(ws(w >> 3));
                }
                render_string(out, k, *kstyle);
                out.push_str(ws(w >> 2));
                out.push(':');
                out.push_str(ws(w >> 4));
                render(out, item);
                out.push_str(ws(w >> 5));
            }
            out.push('}');
        }
    }
}

fn document_text() -> impl Strategy<Value = String> {
    (document(), any::<u8>()).prop_map(|(doc, w)| {
        let mut out = String::from(ws(w));
        render(&mut out, &doc);
        out.push_str(ws(w >> 3));
        out
    })
}

/// Valid documents: Python and we must both accept, and write the same bytes for both
/// ensure_ascii settings.
#[test]
fn dumps_matches_python_byte_for_byte() {
    let seed = seed();
    let inputs: Vec<Vec<u8>> = sample(document_text(), cases(), seed).into_iter().map(String::into_bytes).collect();
    let (accepted, _) = run_loads_dumps(&inputs, seed);
    assert_eq!(accepted, inputs.len(), "every generated document is valid JSON");
}

// ---------------------------------------------------------------------------------------------
// Accept/reject agreement on mutated and garbage input.

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    Delete(Index, usize),
    Insert(Index, Vec<u8>),
    Replace(Index, u8),
    Duplicate(Index, usize),
}

fn noise_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => proptest::sample::select(b"[]{}\",:0123456789.eE+-\\u tfnNIa/ \n\t\r".to_vec()),
        1 => proptest::sample::select(vec![0x00, 0x0c, 0x7f, 0x80, 0xbf, 0xc3, 0xa9, 0xed, 0xa0, 0xef, 0xbb, 0xff]),
        1 => any::<u8>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1usize..4).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), proptest::collection::vec(noise_byte(), 1..4)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), noise_byte()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<Index>(), 1usize..8).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        let at = |i: &Index| if len == 0 { 0 } else { i.index(len + 1) };
        match m {
            Mutation::Truncate(i) => bytes.truncate(at(i)),
            Mutation::Delete(i, n) => {
                let start = at(i).min(len);
                bytes.drain(start..(start + n).min(len));
            }
            Mutation::Insert(i, b) => {
                let pos = at(i);
                bytes.splice(pos..pos, b.iter().copied());
            }
            Mutation::Replace(i, b) => {
                if len > 0 {
                    let pos = i.index(len);
                    bytes[pos] = *b;
                }
            }
            Mutation::Duplicate(i, n) => {
                let start = at(i).min(len);
                let piece = bytes[start..(start + n).min(len)].to_vec();
                bytes.splice(start..start, piece);
            }
        }
    }
    bytes
}

fn small_document_text() -> impl Strategy<Value = String> {
    (leaf().prop_recursive(4, 16, 4, |inner| {
        prop_oneof![
            (proptest::collection::vec(inner.clone(), 0..4), any::<u8>()).prop_map(|(v, w)| Doc::Arr(v, w)),
            (proptest::collection::vec((key(), inner), 0..4), any::<u8>()).prop_map(|(v, w)| Doc::Obj(v, w)),
        ]
    }),)
        .prop_map(|(doc,)| {
            let mut out = String::new();
            render(&mut out, &doc);
            out
        })
}

fn fuzz_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => (small_document_text(), proptest::collection::vec(mutation(), 1..4))
            .prop_map(|(text, ms)| mutate(text.into_bytes(), &ms)),
        1 => proptest::collection::vec(noise_byte(), 0..24),
        1 => small_document_text().prop_map(String::into_bytes),
    ]
}

/// Hand-picked edge cases, each checked against Python like the generated ones.
fn edge_cases() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        "",
        " ",
        "1.",
        "-",
        "01",
        "-01",
        "1e5",
        "1E+5",
        "1e-5",
        "1.5e",
        ".5",
        "+1",
        "0x10",
        "NaN",
        "-NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "+Infinity",
        "infinity",
        "[NaN]",
        "[1,]",
        "{\"a\":1,}",
        "[,]",
        "{,}",
        "{\"a\"}",
        "{\"a\":}",
        "{1:1}",
        "[1 2]",
        "{}{}",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\"\\ud83d\\ude00\"",
        "\"\\uD83D\\uDE00\"",
        "\"\\u00e9\"",
        "\"\\u00E9\"",
        "\"\\x41\"",
        "\"\\U0041\"",
        "\"\\u004\"",
        "\"\\u\"",
        "\"\\\"",
        "\"\\/\"",
        "\"\u{7f}\"",
        "\"a\tb\"",
        "\"a\nb\"",
        "\u{feff}{}",
        "{}\u{feff}",
        "\u{a0}1",
        "1\u{a0}",
        "\u{c}1",
        "[\u{b}]",
        "1 ",
        "\n1\r\n",
        "true",
        "True",
        "nul",
        "nulls",
        "[true false]",
        "-Infinityx",
        "-Inf",
        "[-]",
        "[1e400, -1e400, 1e-400]",
        "-0",
        "-0.0",
        "[-0, 0.0, -0e5]",
        "1.0e+",
        "1.e5",
        "\"\u{2028}\u{2029}\"",
        "{\"a\":1,\"a\":2,\"b\":3,\"a\":4}",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    v.push(b"\"\xff\"".to_vec());
    v.push(b"\"\xed\xa0\x80\"".to_vec());
    v.push(b"\"\xc3\"".to_vec());
    v.push(b"\xef\xbb\xbf[]".to_vec());
    v.push(b"[\x00]".to_vec());
    v.push("9".repeat(4300).into_bytes());
    v.push(format!("-{}", "9".repeat(4300)).into_bytes());
    v.push("9".repeat(4301).into_bytes());
    v.push(format!("{}.5", "9".repeat(5000)).into_bytes());
    v.push(format!("1{}", "0".repeat(400)).into_bytes());
    v.push(format!("{}1{}", "[".repeat(50), "]".repeat(50)).into_bytes());
    v
}

#[test]
fn parser_accepts_exactly_what_json_loads_accepts() {
    let seed = seed();
    let mut inputs = edge_cases();
    inputs.extend(sample(fuzz_input(), cases(), seed));
    let (accepted, rejected) = run_loads_dumps(&inputs, seed);
    // The mix must exercise both sides, or the test proves little.
    assert!(
        accepted * 10 >= inputs.len() && rejected * 10 >= inputs.len(),
        "unbalanced fuzz mix: {accepted} accepted, {rejected} rejected"
    );
    eprintln!("accept/reject: {accepted} accepted, {rejected} rejected by python3");
}

/// `check` accepts a file exactly when OpenAnt's reader (`open()` as UTF-8, `json.load`) does,
/// on the same generated documents and damage as the parser test, Python's int-digit limit
/// (`ValueError`) included.
#[test]
fn validator_accepts_exactly_what_json_loads_accepts() {
    let seed = seed();
    let mut inputs = edge_cases();
    inputs.extend(sample(fuzz_input(), cases(), seed));
    let mut failures = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for chunk in inputs.chunks(BATCH) {
        let lines: Vec<String> = chunk.iter().map(|b| hex(b)).collect();
        for (input, answer) in chunk.iter().zip(python(LOADS_DUMPS, &lines)) {
            let validation = validate_bytes(input, &Shape::Any);
            let python_ok = answer.starts_with("OK");
            if python_ok {
                accepted += 1;
            } else {
                rejected += 1;
            }
            if validation.is_valid() != python_ok {
                failures.push(format!(
                    "python: {answer:.40}, check: {:?} for {:?}",
                    validation.problem,
                    String::from_utf8_lossy(input)
                ));
            }
            if let Some(location) = validation.problem.and_then(|p| p.location) {
                if location.offset > input.len() as u64 {
                    failures.push(format!("offset {} beyond {:?}", location.offset, String::from_utf8_lossy(input)));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} inputs disagree with python3 (SCANAUDIT_DIFF_SEED={seed}); first ones:\n{}",
        failures.len(),
        inputs.len(),
        failures.iter().take(8).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(accepted * 10 >= inputs.len() && rejected * 10 >= inputs.len(), "{accepted} accepted, {rejected} rejected");
}

// ---------------------------------------------------------------------------------------------
// Floats: repr and round.

const FLOAT_REPR: &str = r#"
import sys, json, struct
out = []
for line in open(sys.argv[1]):
    x = struct.unpack('>d', bytes.fromhex(line.strip()))[0]
    out.append(json.dumps(x))
sys.stdout.write(''.join(o + '\n' for o in out))
"#;

#[test]
fn float_repr_matches_python() {
    let seed = seed();
    let xs = sample(interesting_float(), cases() * 2, seed);
    let mut failures = Vec::new();
    for chunk in xs.chunks(BATCH * 4) {
        let lines: Vec<String> = chunk.iter().map(|x| hex(&x.to_be_bytes())).collect();
        for (x, want) in chunk.iter().zip(python(FLOAT_REPR, &lines)) {
            let got = python_float_repr(*x);
            let written = to_python_string(&PyValue::Float(*x), true).unwrap_or_default();
            if got != want || written != want {
                failures.push(format!("{:016x}: python {want}, ours {got} / {written}", x.to_bits()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} float reprs differ (SCANAUDIT_DIFF_SEED={seed}):\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
}

const ROUND: &str = r#"
import sys, struct
out = []
for line in open(sys.argv[1]):
    h, n = line.split()
    x = struct.unpack('>d', bytes.fromhex(h))[0]
    try:
        out.append(struct.pack('>d', round(x, int(n))).hex())
    except OverflowError:
        out.append('OVF')
sys.stdout.write(''.join(o + '\n' for o in out))
"#;

fn round_input() -> impl Strategy<Value = (f64, i32)> {
    let cost_like = prop_oneof![
        // Sums of token prices, as repair rounds them (round(Σcost, 6), round(elapsed, 2)).
        proptest::collection::vec(0u32..100_000, 1..20)
            .prop_map(|v| v.iter().map(|&t| f64::from(t) * 3e-6).sum::<f64>()),
        // Decimal literals with a 5 in the rounding place: 2.675, 0.125, 1.0005, ...
        (0u32..100_000, 1u32..8).prop_map(|(m, d)| format!("{}5e-{}", m, d).parse().unwrap_or(0.5)),
        (0.0f64..1000.0),
    ];
    // Dyadic rationals k / 2^j are exact in binary, so rounding them to fewer than j decimals
    // often lands exactly on a tie (0.125 -> 0.12, 0.375 -> 0.38): the half-even rule.
    let exact_tie =
        (-100_000i64..100_000, 1i32..12).prop_flat_map(|(k, j)| (Just(k as f64 / f64::from(1u32 << j)), 0..j));
    prop_oneof![
        3 => (cost_like, prop_oneof![Just(2), Just(6), 0i32..10]),
        2 => exact_tie,
        2 => (interesting_float(), -20i32..20),
        1 => (interesting_float(), -330i32..330),
    ]
}

#[test]
fn round_matches_python() {
    let seed = seed();
    let pairs = sample(round_input(), cases() * 2, seed);
    let mut failures = Vec::new();
    for chunk in pairs.chunks(BATCH * 4) {
        let lines: Vec<String> = chunk.iter().map(|(x, n)| format!("{} {n}", hex(&x.to_be_bytes()))).collect();
        for ((x, n), want) in chunk.iter().zip(python(ROUND, &lines)) {
            let got = python_round(*x, *n);
            let ok = if want == "OVF" {
                got.is_infinite()
            } else {
                let want = f64::from_bits(u64::from_str_radix(&want, 16).unwrap_or(0));
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan())
            };
            if !ok {
                failures.push(format!("round({x:?}, {n}): python {want}, ours {got:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} roundings differ (SCANAUDIT_DIFF_SEED={seed}):\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// cp1252: what `migrate` re-encodes and `check` sniffs, against Python's own codec.

/// For each input: `U` when it is UTF-8, else `C <utf-8 of the cp1252 text>` or `E <offset>`
/// where Python's strict cp1252 decoder stops.
const CP1252: &str = r#"
import sys
def _one_char(b):
    try:
        return len(b.decode('utf-8')) == 1
    except UnicodeDecodeError:
        return False
out = []
for line in open(sys.argv[1]):
    data = bytes.fromhex(line.strip())
    try:
        data.decode('utf-8')
        out.append('U')
        continue
    except UnicodeDecodeError:
        pass
    # A valid UTF-8 multibyte character anywhere: damaged UTF-8, never cp1252 (issue 12).
    multibyte = next((i for i in range(len(data)) for n in (2, 3, 4)
                      if data[i] >= 0x80 and _one_char(data[i:i + n])), None)
    if multibyte is not None:
        out.append('M %d' % multibyte)
        continue
    try:
        out.append('C ' + data.decode('cp1252').encode('utf-8').hex())
    except UnicodeDecodeError as e:
        out.append('E %d' % e.start)
sys.stdout.write(''.join(o + '\n' for o in out))
"#;

/// Bytes a Windows-era file is made of: mostly text, high bytes of every range, the five bytes
/// cp1252 leaves undefined, and real UTF-8 (which must never be touched).
fn code_page_input() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        6 => 0x20u8..0x7f,
        1 => Just(b'\r'),
        1 => Just(b'\n'),
        3 => 0x80u8..=0xff,
        2 => 0x80u8..=0x9f,
        1 => proptest::sample::select(scanaudit::cp1252::UNDEFINED.to_vec()),
    ];
    let bytes = proptest::collection::vec(byte, 0..48);
    prop_oneof![
        6 => bytes.clone(),
        2 => any_string().prop_map(String::into_bytes),
        2 => (any_string(), bytes).prop_map(|(s, b)| [s.into_bytes(), b].concat()),
    ]
}

#[test]
fn cp1252_matches_pythons_codec() {
    use scanaudit::cp1252::{decode, judge, sniff, RawText, Sniffed, Verdict};
    let seed = seed();
    let mut inputs = sample(code_page_input(), cases(), seed);
    // Every byte on its own, and all 256 in a row.
    inputs.extend((0..=255u8).map(|b| vec![b]));
    inputs.push((0..=255u8).collect());
    let mut failures = Vec::new();
    let mut seen = [0usize; 3];
    for chunk in inputs.chunks(BATCH * 4) {
        let lines: Vec<String> = chunk.iter().map(|b| hex(b)).collect();
        for (input, want) in chunk.iter().zip(python(CP1252, &lines)) {
            let verdict = judge(input, RawText::Markdown, &Shape::Any);
            let sniffed = sniff(input.as_slice()).unwrap();
            let ok = match (want.split_once(' '), &verdict) {
                (None, Verdict::Utf8) => sniffed == Sniffed::Utf8,
                (Some(("C", text)), Verdict::Convert(ours)) => {
                    *ours == unhex(text)
                        && sniffed == Sniffed::Cp1252
                        && decode(input).is_ok_and(|t| t.as_bytes() == ours.as_slice())
                }
                (Some(("E", at)), Verdict::Undefined(undefined)) => {
                    at.parse() == Ok(undefined.offset) && sniffed == Sniffed::Neither
                }
                (Some(("M", at)), Verdict::DamagedUtf8 { multibyte, .. }) => {
                    at.parse() == Ok(*multibyte) && sniffed == Sniffed::Neither
                }
                _ => false,
            };
            seen[match &verdict {
                Verdict::Utf8 => 0,
                Verdict::Convert(_) => 1,
                _ => 2,
            }] += 1;
            if !ok {
                failures.push(format!("{input:02x?}: python {want}, ours {verdict:?} / {sniffed:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} inputs differ (SCANAUDIT_DIFF_SEED={seed}):\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
    // The inputs exercise all three answers.
    assert!(seen.iter().all(|&n| n > cases() / 20), "{seen:?}");
}

// ---------------------------------------------------------------------------------------------
// The fuzz target: real files from testdata, mutated the ways attacks and crashes damage them,
// judged by a long-lived python3 with OpenAnt's reader limits, for as long as asked.
//
// Knobs: `SCANAUDIT_FUZZ_SECONDS` (default 3; `.ci/run` runs 60) and `SCANAUDIT_DIFF_SEED`.
// A disagreement prints the first inputs and writes every one to a temp dir it names.

fn fuzz_seconds() -> f64 {
    std::env::var("SCANAUDIT_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0)
}

/// OpenAnt's reader as an oracle: one JSON-lines request per input (its bytes in hex), one
/// answer line each, `"OK"` or the exception's name. Python's nesting limit depends on the
/// caller's stack, so the oracle sets its recursion limit to fail exactly where OpenAnt's
/// documented effective limit is (`MAX_DEPTH`, src/pyjson/limits.rs), calibrated from the very
/// call site that reads the inputs; the int-digit limit is Python's own default.
const ORACLE: &str = r#"
import sys, json
MAX_DEPTH = int(sys.argv[1])

def attempt(text):
    try:
        json.loads(text)
        return 'OK'
    except Exception as e:
        return type(e).__name__

def arrays(depth):
    return '[' * depth + ']' * depth

def objects(depth):
    return '{"a":' * (depth - 1) + '{}' + '}' * (depth - 1)

# Every call of attempt() below is made from this module's top level, so the stack under
# json.loads is the same when calibrating and when judging.
for limit in range(MAX_DEPTH, MAX_DEPTH + 200):
    sys.setrecursionlimit(limit)
    if (attempt(arrays(MAX_DEPTH)) == 'OK' and attempt(objects(MAX_DEPTH)) == 'OK'
            and attempt(arrays(MAX_DEPTH + 1)) == 'RecursionError'
            and attempt(objects(MAX_DEPTH + 1)) == 'RecursionError'):
        break
else:
    sys.exit('cannot calibrate the recursion limit to %d levels' % MAX_DEPTH)

for line in sys.stdin:
    data = bytes.fromhex(json.loads(line))
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError:
        answer = 'UnicodeDecodeError'
    else:
        answer = attempt(text)
    sys.stdout.write(json.dumps(answer) + '\n')
    sys.stdout.flush()
"#;

struct Oracle {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Oracle {
    fn spawn() -> Oracle {
        use std::process::Stdio;
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(ORACLE)
            .arg(scanaudit::pyjson::MAX_DEPTH.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 must be installed for the fuzz target");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        Oracle { child, stdin, stdout }
    }

    /// Python's answer for each input. A thread writes while this one reads, so neither
    /// side's pipe can fill up and block the other.
    fn ask(&mut self, inputs: &[Vec<u8>]) -> Vec<String> {
        use std::io::BufRead;
        let Oracle { stdin, stdout, .. } = self;
        std::thread::scope(|scope| {
            scope.spawn(move || {
                for input in inputs {
                    writeln!(stdin, "\"{}\"", hex(input)).expect("write to python3");
                }
                stdin.flush().expect("flush to python3");
            });
            (0..inputs.len())
                .map(|_| {
                    let mut line = String::new();
                    stdout.read_line(&mut line).expect("read from python3");
                    assert!(!line.is_empty(), "python3 stopped answering");
                    serde_json::from_str::<String>(&line).expect("an answer is a JSON string")
                })
                .collect()
        })
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Seed files of different kinds (a checkpoint, a summary, step reports, outputs written with
/// and without ensure_ascii), with the shape `check` holds each to.
fn fuzz_seeds() -> Vec<(String, Vec<u8>, &'static Shape)> {
    const SCAN: &str = "healthy/projects/acme-webapp/scans/3f9c2e1b7a6/python";
    let scan_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(SCAN);
    [
        "analyze_checkpoints/app__db__queries.py_run_query.json",
        "analyze_checkpoints/_summary.json",
        "verify_checkpoints/app__routes__search.py_search.json",
        "dynamic_test_checkpoints/VULN-001.json",
        "application_context.json",
        "scan.report.json",
        "pipeline_output.json",
        "results_verified.json",
    ]
    .iter()
    .map(|rel| {
        let path = scan_dir.join(rel);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("seed {}: {e}", path.display()));
        let class = scanaudit::layout::classify_file(&path, Some(&scan_dir), &|_| false);
        (rel.to_string(), bytes, scanaudit::layout::shape_for(class.kind, class.checkpoint_step))
    })
    .collect()
}

/// Positions of `byte` in `bytes`.
fn positions(bytes: &[u8], byte: u8) -> Vec<usize> {
    bytes.iter().enumerate().filter(|(_, &b)| b == byte).map(|(i, _)| i).collect()
}

/// One mutation of a real file: what crashes, disks and attackers do to it.
fn fuzz_mutate(bytes: &mut Vec<u8>, rng: &mut Rng) {
    let depth = scanaudit::pyjson::MAX_DEPTH;
    let digits = scanaudit::pyjson::MAX_INT_DIGITS;
    let len = bytes.len();
    // A new first member of a random object: `{"fz": VALUE, ...`.
    let insert_member = |bytes: &mut Vec<u8>, rng: &mut Rng, value: String| {
        let opens = positions(bytes, b'{');
        if let Some(&at) = (!opens.is_empty()).then(|| rng.pick(&opens)) {
            let member = format!("\"fz\": {value}, ");
            bytes.splice(at + 1..at + 1, member.into_bytes());
        }
    };
    match rng.below(12) {
        0 => {
            // A bit flip.
            if len > 0 {
                let at = rng.below(len);
                bytes[at] ^= 1 << rng.below(8);
            }
        }
        1 => {
            // A byte replaced with one from JSON's alphabet or the high half.
            if len > 0 {
                let at = rng.below(len);
                bytes[at] = *rng.pick(b"[]{}\",:0123456789.eE+-\\u tfnNI \n\x00\x7f\x80\xbf\xc3\xa9\xed\xef\xff");
            }
        }
        2 => bytes.truncate(rng.below(len + 1)),
        3 => {
            // Zero-filled: the tail, or a block in the middle, never reached the disk.
            let start = rng.below(len + 1);
            let end = if rng.below(2) == 0 { len } else { (start + 1 + rng.below(64)).min(len) };
            bytes[start..end].fill(0);
        }
        4 => {
            // Deep nesting around OpenAnt's limit (and far past it), arrays or objects.
            let any = 1 + rng.below(1500);
            let n = *rng.pick(&[depth - 2, depth - 1, depth, depth + 1, 990, 996, 1000, 2000, any]);
            let value = if rng.below(2) == 0 {
                format!("{}{}", "[".repeat(n), "]".repeat(n))
            } else {
                format!("{}{{}}{}", "{\"a\": ".repeat(n), "}".repeat(n))
            };
            insert_member(bytes, rng, value);
        }
        5 => {
            // Long ints around Python's digit limit, and long floats, which have none.
            let any = 1 + rng.below(6000);
            let n = *rng.pick(&[digits - 1, digits, digits + 1, 5000, any]);
            let value = match rng.below(4) {
                0 => format!("-{}", "9".repeat(n)),
                1 => format!("1{}.5", "0".repeat(n)),
                2 => format!("{}e2", "7".repeat(n)),
                _ => format!("1{}", "0".repeat(n - 1)),
            };
            insert_member(bytes, rng, value);
        }
        6 => {
            // A surrogate escape right after a quote: inside a string when the quote opens one.
            let quotes = positions(bytes, b'"');
            if !quotes.is_empty() {
                let at = *rng.pick(&quotes) + 1;
                let escape = *rng.pick(&[
                    "\\ud800",
                    "\\udc00",
                    "\\ud83d\\ude00",
                    "\\ud800\\ud800",
                    "\\ud800\\u0041",
                    "\\uDBFF",
                    "\\ud800\\",
                    "\\ud80",
                ]);
                bytes.splice(at..at, escape.bytes());
            }
        }
        7 => {
            // A number replaced with one that overflows, underflows or is a Python literal.
            let digit_runs: Vec<usize> =
                (0..len).filter(|&i| bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit())).collect();
            if !digit_runs.is_empty() {
                let start = *rng.pick(&digit_runs);
                let end = (start..len).find(|&i| !bytes[i].is_ascii_digit()).unwrap_or(len);
                let big = format!("1{}", "0".repeat(400));
                let value = *rng.pick(&[
                    "1e400",
                    "-1e400",
                    "1e-400",
                    "1E309",
                    "2e308",
                    "1.7976931348623157e308",
                    "1.8e308",
                    big.as_str(),
                    "NaN",
                    "Infinity",
                    "-Infinity",
                ]);
                bytes.splice(start..end, value.bytes());
            }
        }
        8 => {
            // A multibyte UTF-8 character cut: a continuation byte lost, or the file ends in it.
            let leads: Vec<usize> = (0..len).filter(|&i| bytes[i] >= 0xC2 && bytes[i] <= 0xF4).collect();
            if leads.is_empty() {
                let quotes = positions(bytes, b'"');
                if !quotes.is_empty() {
                    let at = *rng.pick(&quotes) + 1;
                    let cuts: [&[u8]; 3] = [b"\xe2\x9c", b"\xc3", b"\xf0\x9f\x98"];
                    let cut = *rng.pick(&cuts);
                    bytes.splice(at..at, cut.iter().copied());
                }
            } else {
                let at = *rng.pick(&leads);
                if rng.below(2) == 0 {
                    bytes.remove((at + 1).min(bytes.len() - 1));
                } else {
                    bytes.truncate(at + 1);
                }
            }
        }
        9 => {
            // A range deleted or duplicated (a torn or doubled write).
            let start = rng.below(len + 1);
            let end = (start + 1 + rng.below(32)).min(len);
            if rng.below(2) == 0 {
                bytes.drain(start..end);
            } else {
                let piece = bytes[start..end].to_vec();
                bytes.splice(start..start, piece);
            }
        }
        10 => {
            // The document written twice, or with a BOM, or with trailing whitespace.
            match rng.below(3) {
                0 => {
                    let again = bytes.clone();
                    bytes.extend(again);
                }
                1 => {
                    bytes.splice(0..0, [0xEF, 0xBB, 0xBF]);
                }
                _ => bytes.extend_from_slice(b" \n\t\r"),
            }
        }
        _ => {
            // A string value cut open: a quote removed.
            let quotes = positions(bytes, b'"');
            if !quotes.is_empty() {
                bytes.remove(*rng.pick(&quotes));
            }
        }
    }
}

/// Our verdicts on one input against Python's answer; `Err` describes a disagreement.
fn fuzz_judge(input: &[u8], shape: &Shape, answer: &str) -> Result<(), String> {
    let python_ok = answer == "OK";
    let any = validate_bytes(input, &Shape::Any);
    if any.is_valid() != python_ok {
        return Err(format!("python: {answer}; check (any shape): {:?}", any.problem));
    }
    // With its file kind's shape: a document Python reads may only be of the wrong shape;
    // one it refuses must never pass as merely of the wrong shape.
    let shaped = validate_bytes(input, shape);
    let shaped_kind = shaped.problem.as_ref().map(|p| p.kind.as_str());
    let agrees = if python_ok {
        matches!(shaped_kind, None | Some("schema"))
    } else {
        shaped_kind.is_some_and(|kind| kind != "schema")
    };
    if !agrees {
        return Err(format!("python: {answer}; check (its kind's shape): {:?}", shaped.problem));
    }
    for problem in [&any.problem, &shaped.problem].into_iter().flatten() {
        if problem.location.is_some_and(|l| l.offset > input.len() as u64) {
            return Err(format!("offset beyond the input: {problem:?}"));
        }
    }
    match (python_ok, parse(input)) {
        (true, Ok(_)) | (false, Err(_)) => Ok(()),
        // Documented: Python keeps a lone surrogate in a str, a PyValue cannot hold one; the
        // parser says so (and repair refuses to rebuild from the file), check calls it valid.
        (true, Err(e)) if e.kind == ParseErrorKind::LoneSurrogate && is_lone_surrogate_at(input, e.offset) => Ok(()),
        (true, Err(e)) => Err(format!("python: OK; pyjson::parse: {e}")),
        (false, Ok(_)) => Err(format!("python: {answer}; pyjson::parse accepts")),
    }
}

/// The fuzz target (issue 12, "Keep the attacks"): check's validator (with no shape and with
/// the file kind's shape) and pyjson::parse accept exactly what OpenAnt's reader accepts, on
/// real files mutated for `SCANAUDIT_FUZZ_SECONDS`.
#[test]
fn fuzz_reader_against_python() {
    let seed = seed();
    let budget = Duration::from_secs_f64(fuzz_seconds());
    let seeds = fuzz_seeds();
    let mut rng = Rng(seed | 1);
    let mut oracle = Oracle::spawn();
    let started = Instant::now();
    let (mut cases, mut accepted) = (0usize, 0usize);
    let mut failures: Vec<(String, Vec<u8>, String)> = Vec::new();
    while started.elapsed() < budget && failures.len() < 20 {
        let batch: Vec<(usize, Vec<u8>)> = (0..64)
            .map(|_| {
                let which = rng.below(seeds.len());
                let mut bytes = seeds[which].1.clone();
                for _ in 0..1 + rng.below(3) {
                    fuzz_mutate(&mut bytes, &mut rng);
                }
                (which, bytes)
            })
            .collect();
        let inputs: Vec<Vec<u8>> = batch.iter().map(|(_, b)| b.clone()).collect();
        for ((which, input), answer) in batch.into_iter().zip(oracle.ask(&inputs)) {
            cases += 1;
            accepted += usize::from(answer == "OK");
            if let Err(why) = fuzz_judge(&input, seeds[which].2, &answer) {
                failures.push((seeds[which].0.clone(), input, why));
            }
        }
    }
    if !failures.is_empty() {
        let dir = std::env::temp_dir().join(format!("scanaudit-fuzz-{seed}"));
        std::fs::create_dir_all(&dir).expect("failure dir");
        let mut report = String::new();
        for (i, (seed_file, input, why)) in failures.iter().enumerate() {
            std::fs::write(dir.join(format!("case-{i}.json")), input).expect("write failing input");
            let shown = String::from_utf8_lossy(&input[..input.len().min(300)]).into_owned();
            let _ = writeln!(report, "case-{i} (from {seed_file}): {why}\n  {shown:?}");
        }
        panic!(
            "{} of {cases} mutated files disagree with python3 (SCANAUDIT_DIFF_SEED={seed}); all written to {}:\n{}",
            failures.len(),
            dir.display(),
            report
        );
    }
    eprintln!("fuzz: {cases} mutated files in {:.1} s, {accepted} read by python3", started.elapsed().as_secs_f64());
    assert!(cases > 0);
    // Both verdicts must be exercised, or the run proves little.
    assert!(accepted > 0 && accepted < cases, "{accepted} of {cases} accepted");
}
