//! Which OpenAnt wrote a scan dir, told from markers on disk (issue 11; the table with sources
//! is `docs/openant-eras.md`). Eras are data: every fact here names its era, and a rule that
//! differs between eras asks this module, never hard-codes a guess.
//!
//! A scan dir is not of one era: OpenAnt resumes old scan dirs, so a verify run of today's
//! OpenAnt over analyze checkpoints of May's is normal. [`DirEra`] therefore collects every
//! marker seen, and rules ask what they need ("did today's writer write here?", "does this
//! output carry a marker no known OpenAnt writes?").
//!
//! Markers come in two kinds:
//! * names ([`name_marker`]): `_fingerprint.json`, `llm_reach_checkpoints/`, archives OpenAnt
//!   leaves on purpose, the `.tmp-XXXXXXXX.tmp` temp, a `meta.json` inside the scan dir;
//! * keys ([`key_markers`]): top-level keys and metric names of the outputs. A key that only
//!   today's writers write marks [`Era::IdentityGate`]; a key that *no* known era writes marks
//!   a newer OpenAnt than scanaudit knows ([`Marker::unknown`]), whose builder scanaudit
//!   cannot know: check says so and repair leaves that output alone.

use std::fmt;

use crate::layout::reserved_names::{is_archived_results, is_superseded_checkpoint_dir, FINGERPRINT_FILE};
use crate::layout::temp_names::is_write_json_temp;
use crate::layout::FileKind;

/// The OpenAnt lines and versions whose on-disk formats differ (spec/openant-layout.md §5,
/// spec/openant-current.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Era {
    /// Upstream from 0d729f6 to d710b90 (2026-02-26 .. 2026-04-14): no checkpoint dirs.
    UpstreamEarly,
    /// Upstream from d710b90 to 368b559 and the fix branch (2026-04-14 .. 2026-05-14):
    /// per-unit checkpoint dirs, the formats of spec/openant-layout.md §1-§4.
    Checkpoints,
    /// The fork's master line (2026-03-19 .. 2026-04-29, spec §5.2).
    Fork,
    /// Upstream after 2026-05-13 (spec/openant-current.md): the `write_json` writer (0600,
    /// `.tmp-XXXXXXXX.tmp`), identity sidecars, three-state records, `provider`.
    IdentityGate,
}

impl Era {
    pub fn id(self) -> &'static str {
        match self {
            Era::UpstreamEarly => "upstream-early",
            Era::Checkpoints => "checkpoints",
            Era::Fork => "fork",
            Era::IdentityGate => "identity-gate",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Era::UpstreamEarly => "upstream OpenAnt before d710b90 (no checkpoint dirs)",
            Era::Checkpoints => "upstream OpenAnt from d710b90 to 2026-05-13",
            Era::Fork => "the OpenAnt fork's master line",
            Era::IdentityGate => "upstream OpenAnt after 2026-05-13 (identity-gate era)",
        }
    }
}

impl fmt::Display for Era {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One thing on disk that tells who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Marker {
    /// `None`: no known OpenAnt writes this (a newer one than scanaudit knows).
    pub era: Option<Era>,
    /// The path below the scan dir it was seen at.
    pub rel: String,
    /// What it is, in words: `key "provider"`, `identity sidecar _fingerprint.json`.
    pub what: String,
}

impl Marker {
    pub fn unknown(&self) -> bool {
        self.era.is_none()
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {}", self.what, self.rel)
    }
}

/// The marker a path below the scan dir carries by its name alone, if any. `rel` uses `/`.
pub fn name_marker(rel: &str, is_dir: bool) -> Option<Marker> {
    let (parent, name) = match rel.rsplit_once('/') {
        Some((parent, name)) => (Some(parent), name),
        None => (None, rel),
    };
    let marker = |era: Era, what: &str| Some(Marker { era: Some(era), rel: rel.to_string(), what: what.to_string() });
    if is_dir {
        return match name {
            "llm_reach_checkpoints" if parent.is_none() => marker(Era::IdentityGate, "LLM reachability checkpoint dir"),
            n if parent.is_none() && is_superseded_checkpoint_dir(n) => {
                marker(Era::IdentityGate, "superseded checkpoint dir (identity mismatch archive)")
            }
            "dataset_enhanced_checkpoint_checkpoints" if parent.is_none() => {
                marker(Era::Fork, "the fork's enhance checkpoint dir")
            }
            "verify_explanations" if parent.is_none() => marker(Era::Fork, "the fork's verify explanations"),
            _ => None,
        };
    }
    match (parent, name) {
        (Some(dir), FINGERPRINT_FILE) if dir.ends_with("_checkpoints") && !dir.contains('/') => {
            marker(Era::IdentityGate, "identity sidecar _fingerprint.json")
        }
        (None, n) if is_archived_results(n) => marker(Era::IdentityGate, "archived results (analyze identity change)"),
        (_, n) if is_write_json_temp(n) => marker(Era::IdentityGate, "write_json temp .tmp-XXXXXXXX.tmp"),
        (None, "analyze_checkpoint.json" | "verify_checkpoint.json" | "dataset_enhanced_checkpoint.json") => {
            marker(Era::Fork, "the fork's single-file checkpoint")
        }
        _ => None,
    }
}

/// The marker of a `meta.json` directly inside a language-level scan dir
/// (`scans/<sha>/<language>/meta.json`, #664): today's Go CLI writes one per language. Before
/// the language level existed (3b9ceeb) the scan dir *was* the run dir, and its `meta.json` is
/// the run-dir one, so the caller says which layout the scan dir has.
pub fn scan_dir_meta_marker(language_level: bool) -> Option<Marker> {
    language_level.then(|| Marker {
        era: Some(Era::IdentityGate),
        rel: "meta.json".to_string(),
        what: "per-language meta.json (#664)".to_string(),
    })
}

/// Keys of one output, by the era that writes them. A key in none of these lists is written by
/// no OpenAnt scanaudit knows.
struct KeyTable {
    kind: FileKind,
    /// Written by every era that writes this output (or by old eras only).
    common: &'static [&'static str],
    /// Written only by the fork.
    fork: &'static [&'static str],
    /// Written only by today's OpenAnt.
    identity_gate: &'static [&'static str],
    /// Prefixes of key families today's OpenAnt writes (`manual_*`).
    identity_gate_prefixes: &'static [&'static str],
}

const TOP_LEVEL_KEYS: &[KeyTable] = &[
    KeyTable {
        kind: FileKind::Results,
        common: &["dataset", "model", "timestamp", "metrics", "results", "code_by_route"],
        fork: &[],
        identity_gate: &["provider", "analyze_fingerprint"],
        identity_gate_prefixes: &[],
    },
    KeyTable {
        kind: FileKind::ResultsVerified,
        common: &["dataset", "model", "timestamp", "verify", "metrics", "results", "confirmed_findings"],
        fork: &["code_by_route"],
        identity_gate: &[],
        identity_gate_prefixes: &[],
    },
    KeyTable {
        kind: FileKind::PipelineOutput,
        // The report module's hand-written variant (§5.3) adds `false_positives`.
        common: &[
            "repository",
            "analysis_date",
            "application_type",
            "pipeline_stats",
            "results",
            "findings",
            "diff",
            "false_positives",
        ],
        fork: &[],
        identity_gate: &[
            "per_language",
            "parse_errors",
            "excluded_languages",
            "degraded",
            "coverage",
            "discovery",
            "context_source",
            "threat_model_sha256",
            "threat_model_warnings",
        ],
        identity_gate_prefixes: &["manual_"],
    },
];

const METRIC_KEYS: &[KeyTable] = &[
    KeyTable {
        kind: FileKind::Results,
        common: &["total", "vulnerable", "bypassable", "inconclusive", "protected", "safe", "errors"],
        fork: &["insufficient_context"],
        identity_gate: &["enhance_unclassified_analyzed"],
        identity_gate_prefixes: &[],
    },
    KeyTable {
        kind: FileKind::ResultsVerified,
        common: &["total", "vulnerable", "bypassable", "inconclusive", "protected", "safe", "errors"],
        fork: &["insufficient_context"],
        identity_gate: &["needs_review"],
        identity_gate_prefixes: &[],
    },
];

/// Metric names upstream's issue tracker dates to versions after the newest code that could
/// be read (#509, #622): known by name, but how they are counted is not, so an output carrying
/// them cannot be rebuilt. They are reported like any unknown key.
pub const UNREAD_NEWER_METRICS: &[&str] = &["disagreed_inconclusive", "disagreed_protected"];

fn marker_for_key(table: Option<&KeyTable>, key: &str, rel: &str, what: &str) -> Option<Marker> {
    let table = table?;
    let era = if table.common.contains(&key) {
        return None;
    } else if table.fork.contains(&key) {
        Some(Era::Fork)
    } else if table.identity_gate.contains(&key) || table.identity_gate_prefixes.iter().any(|p| key.starts_with(p)) {
        Some(Era::IdentityGate)
    } else {
        None
    };
    Some(Marker { era, rel: rel.to_string(), what: format!("{what} \"{key}\"") })
}

/// The markers an output's top-level keys and metric names carry: today's keys mark
/// [`Era::IdentityGate`], the fork's mark [`Era::Fork`], keys no known era writes are
/// [`Marker::unknown`]. Kinds without era-specific keys give nothing.
pub fn key_markers<'k>(
    kind: FileKind,
    rel: &str,
    top_level_keys: impl IntoIterator<Item = &'k str>,
    metric_keys: impl IntoIterator<Item = &'k str>,
) -> Vec<Marker> {
    let top = TOP_LEVEL_KEYS.iter().find(|t| t.kind == kind);
    let metrics = METRIC_KEYS.iter().find(|t| t.kind == kind);
    let mut markers: Vec<Marker> =
        top_level_keys.into_iter().filter_map(|k| marker_for_key(top, k, rel, "top-level key")).collect();
    markers.extend(metric_keys.into_iter().filter_map(|k| marker_for_key(metrics, k, rel, "metric")));
    markers
}

/// Step report statuses, by era (`core/step_report.py`): May's OpenAnt wrote `success` and
/// `error` only.
pub const STEP_STATUSES: &[&str] = &["success", "error"];
pub const IDENTITY_GATE_STEP_STATUSES: &[&str] = &["partial", "interrupted", "skipped"];

/// Statuses of a step that ran to its end and wrote its outputs: `success`, and (identity-gate
/// era, #209/#285) `partial`, a finished step some units of which errored. `interrupted`
/// (#420: Ctrl+C, no output, #313) and `skipped` wrote none.
pub const STEP_STATUSES_WITH_OUTPUTS: &[&str] = &["success", "partial"];

/// Statuses of a step report that say the step wrote no output (identity-gate era): a report
/// with one is no evidence that the step's output should exist.
pub const STEP_STATUSES_WITHOUT_OUTPUTS: &[&str] = &["interrupted", "skipped"];

/// The marker a step report's `status` carries.
pub fn step_status_marker(status: &str, rel: &str) -> Option<Marker> {
    if STEP_STATUSES.contains(&status) {
        return None;
    }
    let era = IDENTITY_GATE_STEP_STATUSES.contains(&status).then_some(Era::IdentityGate);
    Some(Marker { era, rel: rel.to_string(), what: format!("step status \"{status}\"") })
}

/// The identity sidecar scheme versions scanaudit knows (`core/backend_identity.py`): 1 from
/// PR #244 (2026-08-16) to PR #572 (~2026-09-11), 2 since (docs/openant-eras.md §2, §3 item 18).
/// A scheme-1 sidecar mismatches today's OpenAnt, which then archives the dir and pays again:
/// healthy, not damage.
pub const FINGERPRINT_SCHEME_VERSIONS: &[i64] = &[1, 2];

/// The scheme whose keys scanaudit knows exactly (`layout::shapes::FINGERPRINT_V2_KEYS`).
pub const FINGERPRINT_SCHEME_WITH_KNOWN_KEYS: i64 = 2;

/// The marker a `_fingerprint.json`'s `scheme_version` carries: a scheme scanaudit does not
/// know is a newer OpenAnt; a known one marks the identity-gate era (so does the file name).
pub fn fingerprint_scheme_marker(scheme_version: f64, rel: &str) -> Marker {
    let known = FINGERPRINT_SCHEME_VERSIONS.iter().any(|v| *v as f64 == scheme_version);
    Marker {
        era: known.then_some(Era::IdentityGate),
        rel: rel.to_string(),
        what: format!("identity sidecar scheme_version {scheme_version}"),
    }
}

/// The markers one parsed file carries by its content: an output's keys and metric names, a
/// step report's status, a sidecar's scheme. `check` reports the unknown ones per file and
/// the cross-file rules ask them which era's rule applies, so both read them here.
pub fn content_markers(kind: FileKind, rel: &str, captures: &crate::shape::Captures) -> Vec<Marker> {
    use crate::layout::shapes::tag;
    match kind {
        FileKind::Results | FileKind::ResultsVerified | FileKind::PipelineOutput => {
            let metric_keys = tag::METRICS
                .iter()
                .chain(tag::METRICS_IDENTITY_GATE)
                .filter(|(_, t)| captures.get(t).is_some())
                .map(|(k, _)| *k)
                .chain(
                    captures.fields.iter().filter(|(t, _)| *t == tag::METRIC_OTHER_KEY).filter_map(|(_, v)| v.as_str()),
                );
            key_markers(kind, rel, captures.top_level_keys.iter().map(String::as_str), metric_keys)
        }
        FileKind::StepReport => captures
            .get(tag::STATUS)
            .and_then(crate::shape::Captured::as_str)
            .and_then(|status| step_status_marker(status, rel))
            .into_iter()
            .collect(),
        FileKind::CheckpointFingerprint => captures
            .get(tag::SCHEME_VERSION)
            .and_then(crate::shape::Captured::as_f64)
            .map(|v| fingerprint_scheme_marker(v, rel))
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// The era markers a scan dir carries by its entries' names, read from disk: its top-level
/// entries and the entries of its `*_checkpoints/` dirs, and its own `meta.json`
/// (language-level scan dirs only). For verbs that do not parse the scan (migrate).
pub fn names_on_disk(scan_dir: &std::path::Path) -> std::io::Result<DirEra> {
    let mut era = DirEra::new();
    let language_level = scan_dir.parent().and_then(std::path::Path::parent).and_then(std::path::Path::file_name)
        == Some(std::ffi::OsStr::new("scans"));
    use crate::no_follow::{list_dir, EntryKind};
    for entry in list_dir(scan_dir)? {
        let Ok(name) = entry.name.into_string() else { continue };
        let is_dir = entry.kind == EntryKind::Dir;
        era.extend(name_marker(&name, is_dir));
        if name == "meta.json" && !is_dir {
            era.extend(scan_dir_meta_marker(language_level));
        }
        if is_dir && name.ends_with("_checkpoints") {
            for inner in list_dir(&entry.path)? {
                let Ok(inner_name) = inner.name.into_string() else { continue };
                era.extend(name_marker(&format!("{name}/{inner_name}"), inner.kind == EntryKind::Dir));
            }
        }
    }
    Ok(era)
}

/// Modes (spec/openant-current.md §1): today's `write_json` writes every JSON file 0600 by
/// design, so a 0600 output can only be the fork's atomic writer's doing where no file of the
/// scan dir comes from today's OpenAnt. The one rule behind check's `restrictive-mode` and
/// migrate's `file-modes`.
pub fn private_output_is_forks(era: &DirEra) -> bool {
    !era.identity_gate()
}

/// Everything one scan dir's markers say.
#[derive(Debug, Clone, Default)]
pub struct DirEra {
    markers: Vec<Marker>,
}

impl DirEra {
    pub fn new() -> DirEra {
        DirEra::default()
    }

    pub fn add(&mut self, marker: Marker) {
        if !self.markers.contains(&marker) {
            self.markers.push(marker);
        }
    }

    pub fn extend(&mut self, markers: impl IntoIterator<Item = Marker>) {
        for marker in markers {
            self.add(marker);
        }
    }

    /// Whether any marker says `era` wrote something here.
    pub fn has(&self, era: Era) -> bool {
        self.markers.iter().any(|m| m.era == Some(era))
    }

    /// Today's writer wrote at least one file here.
    pub fn identity_gate(&self) -> bool {
        self.has(Era::IdentityGate)
    }

    /// Markers no known OpenAnt writes, sorted: a newer OpenAnt than scanaudit knows.
    pub fn unknown(&self) -> Vec<&Marker> {
        let mut unknown: Vec<&Marker> = self.markers.iter().filter(|m| m.unknown()).collect();
        unknown.sort();
        unknown
    }

    pub fn markers(&self) -> &[Marker] {
        &self.markers
    }
}

/// The marker of `analyze.report.json` whose `inputs` has `provider` (pluggable providers,
/// `core/analyzer.py` today): the analyze run was today's.
pub fn analyze_report_provider_marker(rel: &str) -> Marker {
    Marker { era: Some(Era::IdentityGate), rel: rel.to_string(), what: "analyze inputs.provider".to_string() }
}

/// Which builder rebuilds one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Builder {
    /// The builder of this era.
    Known(Era),
    /// No known builder: the output (or the evidence of the run that wrote it) carries markers
    /// no known OpenAnt writes. Repair leaves that output alone and says which markers.
    Unknown(Vec<Marker>),
}

/// Top-level keys today's writers always write, each with the key that always follows it
/// (docs/openant-eras.md §1.1, §1.3): a readable prefix of an old file that holds the follower
/// but not the key was written by an older OpenAnt.
const ALWAYS_WRITTEN_TODAY: &[(FileKind, &str, &str)] =
    &[(FileKind::Results, "provider", "timestamp"), (FileKind::PipelineOutput, "context_source", "pipeline_stats")];

/// Metrics today's writers always write (§1.1, §1.2), judged only on a metrics object read whole.
const METRICS_ALWAYS_WRITTEN_TODAY: &[(FileKind, &str)] =
    &[(FileKind::Results, "enhance_unclassified_analyzed"), (FileKind::ResultsVerified, "needs_review")];

/// Whether an old output's readable part shows that an OpenAnt older than today's wrote it: a
/// key today's writer always writes is absent where it would have been read. Returns what
/// shows it. `complete_metrics` are the metric names when the `metrics` object was read whole.
pub fn predates_today(kind: FileKind, top_level_keys: &[&str], complete_metrics: Option<&[&str]>) -> Option<String> {
    for (k, key, follower) in ALWAYS_WRITTEN_TODAY {
        if *k == kind && top_level_keys.contains(follower) && !top_level_keys.contains(key) {
            return Some(format!(
                "it has \"{follower}\" but no \"{key}\", which today's OpenAnt always writes before it"
            ));
        }
    }
    let metrics = complete_metrics?;
    METRICS_ALWAYS_WRITTEN_TODAY
        .iter()
        .find(|(k, m)| *k == kind && !metrics.contains(m))
        .map(|(_, m)| format!("its metrics have no \"{m}\", which today's OpenAnt always writes"))
}

/// Decides the builder of one output, never downgrading:
/// * any marker no known era writes, in the old file's keys (`own`) or in the evidence of the
///   run that writes this output (`evidence`: its checkpoint dir's sidecar, its step report, its
///   input file), makes it [`Builder::Unknown`];
/// * else any marker of today's era in either makes it today's ([`Era::IdentityGate`]): an
///   old file with today's keys is never rebuilt in an older format, and a run of today's
///   OpenAnt would write today's format;
/// * else, when the old file itself shows an older OpenAnt wrote it (`own_predates_today`, see
///   [`predates_today`]), `default`: a scan dir whose later steps ran under today's OpenAnt
///   keeps the outputs of its earlier steps in their own format, never upgraded;
/// * else `default`, the era the scan dir's older evidence gives.
pub fn builder_for(own: &[Marker], evidence: &[Marker], own_predates_today: bool, default: Era) -> Builder {
    let mut unknown: Vec<Marker> = own.iter().chain(evidence).filter(|m| m.unknown()).cloned().collect();
    if !unknown.is_empty() {
        unknown.sort();
        unknown.dedup();
        return Builder::Unknown(unknown);
    }
    let today = |markers: &[Marker]| markers.iter().any(|m| m.era == Some(Era::IdentityGate));
    if today(own) || (!own_predates_today && today(evidence)) {
        return Builder::Known(Era::IdentityGate);
    }
    Builder::Known(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn era_of(rel: &str, is_dir: bool) -> Option<Option<Era>> {
        name_marker(rel, is_dir).map(|m| m.era)
    }

    #[test]
    fn names_tell_todays_openant() {
        assert_eq!(era_of("analyze_checkpoints/_fingerprint.json", false), Some(Some(Era::IdentityGate)));
        assert_eq!(era_of("llm_reach_checkpoints", true), Some(Some(Era::IdentityGate)));
        assert_eq!(era_of("analyze_checkpoints.superseded-0a1b2c3d", true), Some(Some(Era::IdentityGate)));
        assert_eq!(era_of("verify_checkpoints.superseded-0a1b2c3d-2", true), Some(Some(Era::IdentityGate)));
        assert_eq!(era_of("results__0a1b2c3d.json", false), Some(Some(Era::IdentityGate)));
        assert_eq!(era_of("results__legacy.json", false), Some(Some(Era::IdentityGate)));
        assert_eq!(era_of("results__0a1b2c3d-2.json", false), Some(Some(Era::IdentityGate)));
        assert_eq!(era_of("results__legacy-1.json", false), Some(Some(Era::IdentityGate)));
        assert_eq!(era_of(".tmp-k3j_a9xq.tmp", false), Some(Some(Era::IdentityGate)));
        assert_eq!(era_of("analyze_checkpoints/.tmp-k3j_a9xq.tmp", false), Some(Some(Era::IdentityGate)));
        assert_eq!(scan_dir_meta_marker(true).map(|m| m.era), Some(Some(Era::IdentityGate)));
        assert_eq!(scan_dir_meta_marker(false), None);
        assert_eq!(era_of("analyze_checkpoint.json", false), Some(Some(Era::Fork)));
    }

    #[test]
    fn an_old_file_that_shows_an_older_writer_is_never_upgraded() {
        let pipeline = ["repository", "analysis_date", "application_type", "pipeline_stats"];
        assert!(predates_today(FileKind::PipelineOutput, &pipeline, None).is_some());
        let today = ["repository", "analysis_date", "application_type", "context_source", "pipeline_stats"];
        assert_eq!(predates_today(FileKind::PipelineOutput, &today, None), None);
        // A prefix that stops before the follower shows nothing.
        assert_eq!(predates_today(FileKind::PipelineOutput, &pipeline[..3], None), None);
        assert!(predates_today(FileKind::ResultsVerified, &[], Some(&["total", "errors"])).is_some());
        assert_eq!(predates_today(FileKind::ResultsVerified, &[], Some(&["total", "needs_review"])), None);
        assert_eq!(predates_today(FileKind::ResultsVerified, &[], None), None);
        let sidecar = name_marker("verify_checkpoints/_fingerprint.json", false).unwrap();
        // Today's verify ran later, but the old pipeline_output.json is of an older writer.
        assert_eq!(
            builder_for(&[], std::slice::from_ref(&sidecar), true, Era::Checkpoints),
            Builder::Known(Era::Checkpoints)
        );
    }

    #[test]
    fn near_misses_mark_nothing() {
        for (rel, dir) in [
            ("analyze_checkpoints.superseded-0A1B2C3D", true),
            ("analyze_checkpoints.superseded-0a1b2c3", true),
            ("analyze_checkpoints.superseded-0a1b2c3d-", true),
            ("notes.superseded-0a1b2c3d", true),
            ("results__0a1b2c3.json", false),
            ("results__LEGACY.json", false),
            ("results__0a1b2c3d-.json", false),
            ("results__0a1b2c3d-x.json", false),
            (".tmp-K3J_A9XQ.tmp", false),
            (".tmp-results.json-k3j_a9xq.json", false),
            ("_fingerprint.json", false),
            ("meta.json", false),
            ("report/meta.json", false),
            ("results.json", false),
        ] {
            assert_eq!(era_of(rel, dir), None, "{rel}");
        }
    }

    #[test]
    fn keys_tell_eras_and_unknown_keys_a_newer_openant() {
        let m = key_markers(
            FileKind::Results,
            "results.json",
            ["dataset", "model", "provider", "metrics", "analyze_fingerprint", "brand_new"],
            ["total", "enhance_unclassified_analyzed", "insufficient_context"],
        );
        let eras: Vec<(Option<Era>, &str)> = m.iter().map(|m| (m.era, m.what.as_str())).collect();
        assert_eq!(
            eras,
            [
                (Some(Era::IdentityGate), "top-level key \"provider\""),
                (Some(Era::IdentityGate), "top-level key \"analyze_fingerprint\""),
                (None, "top-level key \"brand_new\""),
                (Some(Era::IdentityGate), "metric \"enhance_unclassified_analyzed\""),
                (Some(Era::Fork), "metric \"insufficient_context\""),
            ]
        );
        let m = key_markers(FileKind::ResultsVerified, "results_verified.json", [], ["disagreed_inconclusive"]);
        assert!(m[0].unknown());
        let m = key_markers(FileKind::PipelineOutput, "pipeline_output.json", ["manual_source", "context_source"], []);
        assert!(m.iter().all(|m| m.era == Some(Era::IdentityGate)));
        assert!(key_markers(FileKind::Dataset, "dataset.json", ["whatever"], []).is_empty());
    }

    #[test]
    fn step_statuses() {
        assert_eq!(step_status_marker("success", "x").map(|m| m.era), None);
        assert_eq!(step_status_marker("partial", "x").map(|m| m.era), Some(Some(Era::IdentityGate)));
        assert_eq!(step_status_marker("exploded", "x").map(|m| m.era), Some(None));
    }

    #[test]
    fn content_markers_per_kind() {
        use crate::layout::{shape_for, CheckpointStep};
        let caps = |kind: FileKind, json: &str| {
            let v = crate::validate::validate_bytes(json.as_bytes(), shape_for(kind, Some(CheckpointStep::Analyze)));
            assert!(v.is_valid(), "{json}");
            v.captures
        };
        let c = caps(
            FileKind::StepReport,
            r#"{"step": "s", "status": "partial", "timestamp": "t", "duration_seconds": 0, "cost_usd": 0, "token_usage": {}, "summary": {}, "inputs": {}, "outputs": {}, "errors": []}"#,
        );
        let m = content_markers(FileKind::StepReport, "analyze.report.json", &c);
        assert_eq!(m.iter().map(|m| m.era).collect::<Vec<_>>(), [Some(Era::IdentityGate)]);
        let c = caps(FileKind::CheckpointFingerprint, r#"{"scheme_version": 3}"#);
        assert!(content_markers(FileKind::CheckpointFingerprint, "x", &c)[0].unknown());
        let c = caps(FileKind::CheckpointFingerprint, r#"{"scheme_version": 2}"#);
        assert_eq!(content_markers(FileKind::CheckpointFingerprint, "x", &c)[0].era, Some(Era::IdentityGate));
        let c = caps(FileKind::CheckpointFingerprint, r#"{"scheme_version": 1}"#);
        assert_eq!(content_markers(FileKind::CheckpointFingerprint, "x", &c)[0].era, Some(Era::IdentityGate));
        let c = caps(
            FileKind::ResultsVerified,
            r#"{"verify": true, "metrics": {"needs_review": 0, "brand_new": 1}, "results": []}"#,
        );
        let m = content_markers(FileKind::ResultsVerified, "results_verified.json", &c);
        assert_eq!(m.iter().map(|m| m.era).collect::<Vec<_>>(), [Some(Era::IdentityGate), None]);
        assert!(content_markers(FileKind::Dataset, "dataset.json", &Default::default()).is_empty());
    }

    #[test]
    fn names_on_disk_and_the_mode_rule() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("scans/abc/python");
        std::fs::create_dir_all(dir.join("verify_checkpoints")).unwrap();
        std::fs::write(dir.join("results.json"), "{}").unwrap();
        let era = names_on_disk(&dir).unwrap();
        assert!(!era.identity_gate() && private_output_is_forks(&era));
        std::fs::write(dir.join("verify_checkpoints/_fingerprint.json"), "{}").unwrap();
        assert!(!private_output_is_forks(&names_on_disk(&dir).unwrap()));
        std::fs::remove_file(dir.join("verify_checkpoints/_fingerprint.json")).unwrap();
        std::fs::write(dir.join("meta.json"), "{}").unwrap();
        assert!(names_on_disk(&dir).unwrap().identity_gate(), "a per-language meta.json (#664)");
        // Before the language level the scan dir's meta.json is the run dir's.
        let flat = root.path().join("scans/def");
        std::fs::create_dir_all(&flat).unwrap();
        std::fs::write(flat.join("meta.json"), "{}").unwrap();
        assert!(!names_on_disk(&flat).unwrap().identity_gate());
    }

    #[test]
    fn a_dir_collects_markers_once() {
        let mut era = DirEra::new();
        era.extend(name_marker("results__legacy.json", false));
        era.extend(name_marker("results__legacy.json", false));
        era.extend(step_status_marker("exploded", "scan.report.json"));
        assert!(era.identity_gate());
        assert!(!era.has(Era::Fork));
        assert_eq!(era.markers().len(), 2);
        assert_eq!(era.unknown().len(), 1);
        assert_eq!(era.unknown()[0].to_string(), "step status \"exploded\" in scan.report.json");
    }

    #[test]
    fn builders_never_downgrade_and_refuse_unknown_markers() {
        let own = key_markers(FileKind::Results, "results.json", ["dataset", "provider"], []);
        assert_eq!(builder_for(&own, &[], false, Era::Checkpoints), Builder::Known(Era::IdentityGate));
        let sidecar = fingerprint_scheme_marker(2.0, "analyze_checkpoints/_fingerprint.json");
        assert_eq!(
            builder_for(&[], std::slice::from_ref(&sidecar), false, Era::Fork),
            Builder::Known(Era::IdentityGate)
        );
        assert_eq!(builder_for(&[], &[], false, Era::Fork), Builder::Known(Era::Fork));
        assert!(fingerprint_scheme_marker(1.0, "x").era.is_some());
        let newer = fingerprint_scheme_marker(3.0, "analyze_checkpoints/_fingerprint.json");
        assert!(newer.unknown());
        match builder_for(&own, &[newer.clone(), sidecar], false, Era::Checkpoints) {
            Builder::Unknown(m) => assert_eq!(m, [newer]),
            other => panic!("{other:?}"),
        }
        let own = key_markers(FileKind::ResultsVerified, "results_verified.json", [], ["disagreed_inconclusive"]);
        assert!(matches!(builder_for(&own, &[], false, Era::IdentityGate), Builder::Unknown(_)));
    }
}
