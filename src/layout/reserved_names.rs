//! Names OpenAnt gives entries that are not unit data: the reserved files of a checkpoint dir
//! (its run summary, today's identity sidecar), the checkpoint dirs today's OpenAnt gates, and
//! the archives it moves aside on an identity change (docs/openant-eras.md). Which era wrote
//! them is [`crate::era`]'s question; what they are is here, so layout classifies them without
//! asking era.

/// The identity sidecar of a gated checkpoint dir (PR #244): never a unit checkpoint.
pub const FINGERPRINT_FILE: &str = "_fingerprint.json";
/// The run summary of a checkpoint dir (§2.4): never a unit checkpoint.
pub const SUMMARY_FILE: &str = "_summary.json";
/// `_RESERVED_FILES` of today's `core/checkpoint.py`: files in a checkpoint dir that are not
/// unit checkpoints. Older OpenAnt knew only `_summary.json`, and it skipped the sidecar
/// anyway (no `id`), so the rule holds for every era.
pub const RESERVED_CHECKPOINT_FILES: &[&str] = &[SUMMARY_FILE, FINGERPRINT_FILE];

/// The checkpoint dirs today's OpenAnt gates with an identity sidecar.
pub const GATED_CHECKPOINT_DIRS: &[&str] = &["analyze_checkpoints", "verify_checkpoints", "llm_reach_checkpoints"];

/// Whether `name` is a checkpoint dir OpenAnt moved aside on an identity mismatch:
/// `<step>_checkpoints.superseded-<8 hex>[-n]`. An archive: healthy, never read again.
pub fn is_superseded_checkpoint_dir(name: &str) -> bool {
    let Some((dir, suffix)) = name.split_once(".superseded-") else { return false };
    if !dir.ends_with("_checkpoints") {
        return false;
    }
    let (hex, n) = match suffix.split_once('-') {
        Some((hex, n)) => (hex, Some(n)),
        None => (suffix, None),
    };
    hex.len() == 8
        && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && n.is_none_or(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `name` is a results file `_archive_stale_results` moved aside (docs/openant-eras.md
/// §1.1): `results__<8 hex of the old stamp>.json` or `results__legacy.json`, with `-1`, `-2`,
/// ... appended when the name is taken. An archive: healthy, never read again.
pub fn is_archived_results(name: &str) -> bool {
    let Some(tag) = name.strip_prefix("results__").and_then(|n| n.strip_suffix(".json")) else {
        return false;
    };
    let (tag, n) = match tag.rsplit_once('-') {
        Some((tag, n)) => (tag, Some(n)),
        None => (tag, None),
    };
    let stamp =
        tag == "legacy" || (tag.len() == 8 && tag.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    stamp && n.is_none_or(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}
