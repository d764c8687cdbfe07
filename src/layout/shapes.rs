//! The shape each file kind must have (spec §1.4, §2.3, §2.4, §2.6). Every shape accepts all
//! the real variants the spec lists — older eras, the fork, error records — so a healthy scan
//! of any era passes. Keys whose values come from the LLM are left unconstrained.

use std::sync::OnceLock;

use super::kinds::{CheckpointStep, FileKind};
use crate::shape::{array, map, nullable, obj, one_of, rows, tagged, RowPolicy, Shape};

/// The facts the shapes record during the one parse of each file, for the cross-file rules
/// of `consistency`. Only small values: ids, verdicts, counters, lengths.
pub mod tag {
    /// `dataset*.json`: `units[].id`, `units[].diff_selected`.
    pub const UNIT_ID: &str = "unit.id";
    pub const UNIT_DIFF_SELECTED: &str = "unit.diff_selected";
    /// results files: `results[]` fields, and the `metrics` counters by name.
    pub const RESULT_UNIT_ID: &str = "result.unit_id";
    pub const RESULT_ROUTE_KEY: &str = "result.route_key";
    pub const RESULT_VERDICT: &str = "result.verdict";
    pub const RESULT_FINDING: &str = "result.finding";
    pub const RESULT_VERIFICATION: &str = "result.verification";
    pub const RESULT_AGREE: &str = "result.verification.agree";
    /// Identity-gate era: a row's top-level `error` (an errored row) and
    /// `verification.incomplete` (a three-state verify result, #286).
    pub const RESULT_ERROR: &str = "result.error";
    pub const RESULT_INCOMPLETE: &str = "result.verification.incomplete";
    /// Identity-gate era: a row's `security_classification`, which
    /// `metrics.enhance_unclassified_analyzed` counts (#611).
    pub const RESULT_SECURITY_CLASSIFICATION: &str = "result.security_classification";
    pub const RESULTS: &str = "results";
    pub const CONFIRMED_FINDINGS: &str = "confirmed_findings";
    pub const METRICS: &[(&str, &str)] = &[
        ("total", "metrics.total"),
        ("vulnerable", "metrics.vulnerable"),
        ("bypassable", "metrics.bypassable"),
        ("inconclusive", "metrics.inconclusive"),
        ("insufficient_context", "metrics.insufficient_context"),
        ("protected", "metrics.protected"),
        ("safe", "metrics.safe"),
        ("errors", "metrics.errors"),
    ];
    /// Metrics only the identity-gate era writes (`needs_review`, `enhance_unclassified_analyzed`,
    /// #611): not verdict buckets of the older recount.
    pub const METRICS_IDENTITY_GATE: &[(&str, &str)] = &[
        ("needs_review", "metrics.needs_review"),
        ("enhance_unclassified_analyzed", "metrics.enhance_unclassified_analyzed"),
    ];
    /// The name of every other metric, for the era markers.
    pub const METRIC_OTHER_KEY: &str = "metrics.other_key";
    /// pipeline_output.json: `findings[].id`.
    pub const FINDING_ID: &str = "finding.id";
    /// dynamic_test_results.json.
    pub const TOTAL_FINDINGS: &str = "total_findings";
    pub const DYNAMIC_FINDING_ID: &str = "dynamic.finding_id";
    /// `_summary.json`.
    pub const PHASE: &str = "phase";
    pub const TOTAL_UNITS: &str = "total_units";
    /// Identity-gate era `_summary.json` `incomplete` (#293/#385).
    pub const SUMMARY_INCOMPLETE: &str = "summary.incomplete";
    pub const TIMESTAMP: &str = "timestamp";
    /// Per-unit checkpoints: `id` (captured under its own name by `ObjectShape::capture`) and
    /// what §2.5 classifies them by.
    pub const ID: &str = "id";
    pub const CP_AGENT_CONTEXT_ERROR: &str = "cp.agent_context.error";
    pub const CP_RESULT: &str = "cp.result";
    pub const CP_RESULT_VERDICT: &str = "cp.result.verdict";
    pub const CP_RESULT_FINDING: &str = "cp.result.finding";
    pub const CP_VERIFICATION: &str = "cp.verification";
    pub const CP_CORRECT_FINDING: &str = "cp.verification.correct_finding";
    pub const CP_STATUS: &str = "cp.status";
    /// Identity-gate era three-state records (#286): a top-level `error` (errored),
    /// `verification.incomplete`, an enhance context's `security_classification`.
    pub const CP_ERROR: &str = "cp.error";
    pub const CP_VERIFICATION_INCOMPLETE: &str = "cp.verification.incomplete";
    pub const CP_SECURITY_CLASSIFICATION: &str = "cp.security_classification";
    /// `_fingerprint.json`.
    pub const SCHEME_VERSION: &str = "scheme_version";
    /// The fork's `analyze_checkpoint.json`: `results[].unit_id`.
    pub const LEGACY_RESULT_UNIT_ID: &str = "legacy.result.unit_id";
    /// meta.json.
    pub const KIND: &str = "kind";
    pub const STATUS: &str = "status";
    /// Step reports: `status` (shared tag above) and every `outputs` value.
    pub const REPORT_OUTPUT: &str = "report.output";
}

/// How the `results[]` rows of a results file are kept (folded past a budget, see
/// [`crate::shape::Shape::Rows`]): their unit ids and route keys exactly, and their other
/// facts as far as the cross-file rules tell them apart (`consistency::ResultFacts`).
pub static RESULT_ROWS: RowPolicy = RowPolicy {
    tags: &[
        tag::RESULT_UNIT_ID,
        tag::RESULT_ROUTE_KEY,
        tag::RESULT_VERDICT,
        tag::RESULT_FINDING,
        tag::RESULT_VERIFICATION,
        tag::RESULT_AGREE,
        tag::RESULT_ERROR,
        tag::RESULT_INCOMPLETE,
        tag::RESULT_SECURITY_CLASSIFICATION,
    ],
    id: tag::RESULT_UNIT_ID,
    fallback_key: tag::RESULT_ROUTE_KEY,
    canonical_str: result_word,
    shown: crate::text::SHOWN_IDS,
};

/// Every word the rules compare a row's verdict, finding or classification with (as is or
/// lower-cased): the metrics' names, the buckets, and the sentinels.
pub const RESULT_WORDS: &[&str] = &[
    "total",
    "vulnerable",
    "bypassable",
    "inconclusive",
    "insufficient_context",
    "protected",
    "safe",
    "errors",
    "error",
    "needs_review",
    "enhance_unclassified_analyzed",
    "incomplete",
    "unknown",
];

/// A row string as the rules can tell it apart: itself when it is one of [`RESULT_WORDS`] in
/// any case (the rules compare some exactly, some lower-cased); else only whether it is
/// empty, blank or neither, which is all the rules ask of other strings.
fn result_word(s: &str) -> &str {
    let word = if s.is_ascii() {
        RESULT_WORDS.iter().any(|w| w.eq_ignore_ascii_case(s))
    } else {
        // Rare: a non-ASCII character may lower-case to ASCII (the Kelvin sign).
        RESULT_WORDS.contains(&s.to_lowercase().as_str())
    };
    if word {
        s
    } else if s.is_empty() {
        ""
    } else if s.trim().is_empty() {
        " "
    } else {
        "\u{1}"
    }
}

/// The shape a file of this kind must have; `Shape::Any` for generic JSON.
pub fn shape_for(kind: FileKind, step: Option<CheckpointStep>) -> &'static Shape {
    macro_rules! cached {
        ($build:expr) => {{
            static SHAPE: OnceLock<Shape> = OnceLock::new();
            SHAPE.get_or_init(|| $build)
        }};
    }
    match kind {
        FileKind::Dataset => cached!(dataset(false)),
        FileKind::DatasetEnhanced => cached!(dataset(true)),
        FileKind::AnalyzerOutput => cached!(obj().shape()),
        FileKind::CallGraph => cached!(call_graph()),
        FileKind::Results => cached!(results(false)),
        FileKind::ResultsVerified => cached!(results(true)),
        FileKind::PipelineOutput => cached!(pipeline_output()),
        FileKind::DynamicTestResults => cached!(dynamic_test_results()),
        FileKind::ApplicationContext => cached!(application_context()),
        FileKind::LlmReachability => cached!(llm_reachability()),
        FileKind::DiffManifest => cached!(diff_manifest()),
        FileKind::DiffFilterReport => cached!(diff_filter_report()),
        FileKind::StepReport => cached!(step_report()),
        FileKind::CheckpointSummary => cached!(checkpoint_summary()),
        FileKind::CheckpointFingerprint => cached!(checkpoint_fingerprint()),
        FileKind::ResultsArchive => cached!(results(false)),
        FileKind::Checkpoint => match step.unwrap_or(CheckpointStep::Unknown) {
            CheckpointStep::Enhance => cached!(enhance_checkpoint()),
            CheckpointStep::Analyze => cached!(analyze_checkpoint()),
            CheckpointStep::Verify => cached!(verify_checkpoint()),
            CheckpointStep::DynamicTest => cached!(dynamic_test_checkpoint()),
            CheckpointStep::LlmReach => cached!(llm_reach_checkpoint()),
            CheckpointStep::Unknown => cached!(obj().capture("id", Shape::Any).shape()),
        },
        FileKind::LegacyCheckpoint => cached!(legacy_checkpoint()),
        FileKind::ScanMeta => cached!(scan_meta()),
        FileKind::Project => cached!(project()),
        FileKind::ParserIntermediate
        | FileKind::SupersededCheckpoint
        | FileKind::GenericJson
        | FileKind::Temp
        | FileKind::Backup
        | FileKind::Symlink
        | FileKind::SpecialFile
        | FileKind::Directory
        | FileKind::Other => &Shape::Any,
    }
}

fn string_or_null() -> Shape {
    nullable(Shape::String)
}

fn any_object() -> Shape {
    obj().shape()
}

/// `agent_context`: a dict, whose `error` is a string before d710b90 and a dict after.
fn agent_context() -> Shape {
    obj()
        .opt("error", one_of(vec![Shape::String, any_object(), Shape::Null]))
        .opt("include_functions", array(Shape::Any))
        .shape()
}

/// The same, in a checkpoint, where `error` decides the classification (§2.5), and (since
/// #286) a `security_classification` of `"incomplete"` makes the unit incomplete.
fn checkpoint_agent_context() -> Shape {
    obj()
        .opt("error", tagged(tag::CP_AGENT_CONTEXT_ERROR, one_of(vec![Shape::String, any_object(), Shape::Null])))
        .opt("include_functions", array(Shape::Any))
        .opt("security_classification", tagged(tag::CP_SECURITY_CLASSIFICATION, Shape::Any))
        .shape()
}

/// §1.4.5 (and §1.4.6 for the enhanced dataset, whose metadata gains the agentic keys).
fn dataset(enhanced: bool) -> Shape {
    let unit = obj()
        .req("id", tagged(tag::UNIT_ID, Shape::String))
        .opt("unit_type", Shape::String)
        .opt("code", any_object())
        .opt("diff_selected", tagged(tag::UNIT_DIFF_SELECTED, Shape::Bool))
        .opt("agent_context", agent_context())
        .shape();
    let metadata = if enhanced {
        obj().opt("agentic_stats", any_object()).opt("token_usage", any_object()).shape()
    } else {
        any_object()
    };
    obj()
        .req("units", array(unit))
        .opt("name", Shape::String)
        .opt("statistics", any_object())
        .opt("metadata", metadata)
        .shape()
}

fn call_graph() -> Shape {
    obj().opt("reverse_call_graph", map(array(Shape::Any))).opt("call_graph", map(Shape::Any)).shape()
}

/// Stage-1 counters. Values are ints; `insufficient_context` exists on the fork.
fn metrics() -> Shape {
    let mut shape = obj();
    for (name, tag) in tag::METRICS.iter().chain(tag::METRICS_IDENTITY_GATE) {
        shape = shape.opt(name, tagged(tag, Shape::Number));
    }
    shape.others(Shape::Number).record_other_keys(tag::METRIC_OTHER_KEY).shape()
}

/// A stage-1 result (§1.4.7): the LLM's keys come first and are free-form; `verdict` is
/// upper-cased by OpenAnt, so it is always a string, success, parse failure or exception.
/// `captured` records what the cross-file rules need (not for `confirmed_findings`, which
/// repeats results).
fn stage_one_result(verified: bool, captured: bool) -> Shape {
    let t = |tag: &'static str, shape: Shape| if captured { tagged(tag, shape) } else { shape };
    // Identity-gate era rows may carry `verdict: null` or no verdict at all (#324: OpenAnt
    // counts them as errors); every older era writes a string.
    let mut result = obj()
        .opt("verdict", t(tag::RESULT_VERDICT, string_or_null()))
        .opt("error", t(tag::RESULT_ERROR, Shape::Any))
        .opt("security_classification", t(tag::RESULT_SECURITY_CLASSIFICATION, Shape::Any))
        .opt("finding", t(tag::RESULT_FINDING, Shape::Any))
        .opt("unit_id", t(tag::RESULT_UNIT_ID, string_or_null()))
        .opt("route_key", t(tag::RESULT_ROUTE_KEY, string_or_null()))
        .opt("files_included", array(Shape::Any));
    if verified {
        let verification = obj()
            .opt("agree", t(tag::RESULT_AGREE, Shape::Any))
            .opt("incomplete", t(tag::RESULT_INCOMPLETE, Shape::Any))
            .shape();
        result = result
            .opt("verification", t(tag::RESULT_VERIFICATION, verification))
            .opt("verification_note", Shape::String);
    }
    result.shape()
}

/// §1.4.7 results.json and §1.4.8 results_verified.json.
fn results(verified: bool) -> Shape {
    let mut shape = obj()
        .req("metrics", metrics())
        .req("results", tagged(tag::RESULTS, rows(&RESULT_ROWS, array(stage_one_result(verified, true)))))
        .opt("dataset", Shape::String)
        .opt("model", string_or_null())
        .opt("timestamp", Shape::String)
        .opt("code_by_route", map(string_or_null()));
    if verified {
        shape = shape
            .opt("verify", Shape::Bool)
            .opt("confirmed_findings", tagged(tag::CONFIRMED_FINDINGS, array(stage_one_result(true, false))));
    }
    shape.shape()
}

/// §1.4.9, the keys `report/schema.py validate_pipeline_output` requires. The hand-written
/// report-input variant (§5.3) has the same required keys.
fn pipeline_output() -> Shape {
    let finding = obj()
        .req("id", tagged(tag::FINDING_ID, Shape::String))
        .req("name", Shape::Any)
        .req("short_name", Shape::Any)
        .req("location", obj().req("file", Shape::Any).req("function", Shape::Any).shape())
        .req("cwe_id", Shape::Any)
        .req("cwe_name", Shape::Any)
        .req("stage1_verdict", Shape::Any)
        .req("stage2_verdict", Shape::Any)
        .shape();
    obj()
        .req("repository", obj().req("name", Shape::Any).shape())
        .req("analysis_date", Shape::String)
        .req("application_type", Shape::Any)
        .req("pipeline_stats", any_object())
        .req("results", any_object())
        .req("findings", array(finding))
        .opt("diff", any_object())
        .shape()
}

const DYNAMIC_STATUSES: &[&str] = &["CONFIRMED", "NOT_REPRODUCED", "BLOCKED", "INCONCLUSIVE", "ERROR"];

fn dynamic_test_result(finding_id: Shape, status: Shape) -> ObjectShapeBuilder {
    obj()
        .req("finding_id", finding_id)
        .req("status", status)
        .opt("evidence", array(Shape::Any))
        .opt("elapsed_seconds", Shape::Number)
        .opt("generation_cost_usd", Shape::Number)
}

type ObjectShapeBuilder = crate::shape::ObjectShape;

/// §1.4.10: the normal file, or the no-testable-findings variant.
fn dynamic_test_results() -> Shape {
    obj()
        .req(
            "results",
            array(
                dynamic_test_result(tagged(tag::DYNAMIC_FINDING_ID, Shape::String), Shape::Enum(DYNAMIC_STATUSES))
                    .shape(),
            ),
        )
        .opt("total_findings", tagged(tag::TOTAL_FINDINGS, Shape::Number))
        .opt("total_cost_usd", Shape::Number)
        .opt("findings_tested", Shape::Number)
        .variant(&["repository", "total_findings", "total_cost_usd"])
        .variant(&["findings_tested"])
        .shape()
}

fn application_context() -> Shape {
    obj()
        .req("application_type", Shape::String)
        .opt("purpose", string_or_null())
        .opt("intended_behaviors", array(Shape::Any))
        .opt("trust_boundaries", any_object())
        .opt("not_a_vulnerability", array(Shape::Any))
        .opt("requires_remote_trigger", Shape::Bool)
        .opt("confidence", Shape::Number)
        .opt("evidence", array(Shape::Any))
        .opt("source", Shape::String)
        .shape()
}

fn llm_reachability() -> Shape {
    let signal = obj().req("unit_id", Shape::String).req("kind", Shape::String).shape();
    obj().req("signals", array(signal)).shape()
}

fn diff_manifest() -> Shape {
    obj()
        .req("base_ref", Shape::String)
        .req("base_sha", Shape::String)
        .req("head_sha", Shape::String)
        .req("scope", Shape::Enum(&["changed_files", "changed_functions", "callers"]))
        .req("changed_files", nullable(array(Shape::String)))
        .opt("pr_number", Shape::Number)
        .opt("hunks", map(Shape::Any))
        .shape()
}

fn diff_filter_report() -> Shape {
    obj()
        .req("total", Shape::Number)
        .req("selected", Shape::Number)
        .req("scope", Shape::String)
        .opt("base_ref", string_or_null())
        .opt("base_sha", string_or_null())
        .opt("head_sha", string_or_null())
        .opt("pr_number", nullable(Shape::Number))
        .opt("changed_files", Shape::Number)
        .shape()
}

/// §1.4.11. `status` is any string here: May's OpenAnt wrote `success`/`error`, today's adds
/// `partial`/`interrupted`/`skipped`, and a status no era writes is a newer OpenAnt
/// (`era::step_status_marker`), not damage.
fn step_report() -> Shape {
    obj()
        .req("step", Shape::String)
        .req("status", tagged(tag::STATUS, Shape::String))
        .req("timestamp", Shape::String)
        .req("duration_seconds", Shape::Number)
        .req("cost_usd", Shape::Number)
        .req("token_usage", any_object())
        .req("summary", any_object())
        .req("inputs", any_object())
        .req("outputs", map(tagged(tag::REPORT_OUTPUT, Shape::Any)))
        .req("errors", array(Shape::Any))
        .shape()
}

/// §2.4.
fn checkpoint_summary() -> Shape {
    obj()
        .req("step", Shape::String)
        .req("phase", tagged(tag::PHASE, Shape::Enum(&["in_progress", "done"])))
        .req("timestamp", tagged(tag::TIMESTAMP, Shape::String))
        .req("total_units", tagged(tag::TOTAL_UNITS, Shape::Number))
        .req("completed", Shape::Number)
        .req("errors", Shape::Number)
        .opt("incomplete", tagged(tag::SUMMARY_INCOMPLETE, Shape::Number))
        .req("error_breakdown", map(Shape::Number))
        .opt("usage", any_object())
        .shape()
}

/// Identity-gate era `_fingerprint.json` (`core/backend_identity.py`, scheme 2). Only
/// `scheme_version` is required by the shape: a scheme scanaudit does not know is a newer
/// OpenAnt, whose keys it cannot know; the keys scheme 2 requires are checked by
/// `check` once the version is known ([`FINGERPRINT_V2_KEYS`]).
fn checkpoint_fingerprint() -> Shape {
    obj()
        .req("scheme_version", tagged(tag::SCHEME_VERSION, Shape::Number))
        .opt("phase", Shape::String)
        .opt("model", string_or_null())
        .opt("provider_name", string_or_null())
        .opt("adapter_type", string_or_null())
        .opt("config_base_url", string_or_null())
        .opt("templates_sha", Shape::String)
        .opt("extra", any_object())
        .opt("key_digest", Shape::String)
        .opt("written_at", Shape::String)
        .shape()
}

/// The keys every scheme-2 sidecar holds (`extra` only when there are extra members).
pub const FINGERPRINT_V2_KEYS: &[&str] = &[
    "scheme_version",
    "phase",
    "model",
    "provider_name",
    "adapter_type",
    "config_base_url",
    "templates_sha",
    "key_digest",
    "written_at",
];

/// §2.3 per-unit checkpoints. `id` is captured, not required: its absence is its own
/// finding (`checkpoint-missing-id`).
/// Agentic records hold `agent_context`; single-shot ones (PR #95, identity-gate era)
/// `{id, llm_context, context_key: "llm_context"}`.
fn enhance_checkpoint() -> Shape {
    obj()
        .opt("agent_context", checkpoint_agent_context())
        .opt("llm_context", checkpoint_agent_context())
        .opt("context_key", Shape::String)
        .opt("error", tagged(tag::CP_ERROR, Shape::Any))
        .variant(&["agent_context"])
        .variant(&["llm_context", "context_key"])
        .opt("code", any_object())
        .opt("usage", any_object())
        .capture("id", Shape::Any)
        .shape()
}

fn analyze_checkpoint() -> Shape {
    obj()
        .req(
            "result",
            tagged(
                tag::CP_RESULT,
                // The stage-1 row: today's may hold `verdict: null` (#324, an analysis error
                // by today's `status()`); older eras always a string. A record without the
                // key stays a shape error (repair's checkpoint loader relies on it).
                obj()
                    .req("verdict", tagged(tag::CP_RESULT_VERDICT, string_or_null()))
                    .opt("finding", tagged(tag::CP_RESULT_FINDING, Shape::Any))
                    .shape(),
            ),
        )
        .opt("route_key", string_or_null())
        .opt("code_for_route", string_or_null())
        .opt("usage", any_object())
        .opt("error", tagged(tag::CP_ERROR, Shape::Any))
        .capture("id", Shape::Any)
        .shape()
}

fn verify_checkpoint() -> Shape {
    obj()
        .req(
            "verification",
            tagged(
                tag::CP_VERIFICATION,
                obj()
                    .opt("correct_finding", tagged(tag::CP_CORRECT_FINDING, Shape::Any))
                    .opt("incomplete", tagged(tag::CP_VERIFICATION_INCOMPLETE, Shape::Any))
                    .shape(),
            ),
        )
        .opt("finding", string_or_null())
        .opt("verification_note", string_or_null())
        .opt("usage", any_object())
        .opt("error", tagged(tag::CP_ERROR, Shape::Any))
        .capture("id", Shape::Any)
        .shape()
}

/// `llm_reach_checkpoints/` records (#532, identity-gate era).
fn llm_reach_checkpoint() -> Shape {
    let signal = obj()
        .req("unit_id", Shape::String)
        .req("kind", Shape::String)
        .opt("confidence", Shape::Any)
        .opt("reason", Shape::Any)
        .shape();
    obj()
        .req("signals", array(signal))
        .opt("projection_sha", string_or_null())
        .opt("usage", any_object())
        .opt("error", tagged(tag::CP_ERROR, Shape::Any))
        .capture("id", Shape::Any)
        .shape()
}

fn dynamic_test_checkpoint() -> Shape {
    dynamic_test_result(Shape::String, tagged(tag::CP_STATUS, Shape::Enum(DYNAMIC_STATUSES)))
        .capture("id", Shape::Any)
        .shape()
}

/// §2.6: the fork's `analyze_checkpoint.json` / `verify_checkpoint.json` and the
/// whole-dataset enhance checkpoints.
fn legacy_checkpoint() -> Shape {
    let result = one_of(vec![obj().opt("unit_id", tagged(tag::LEGACY_RESULT_UNIT_ID, Shape::Any)).shape(), Shape::Any]);
    obj()
        .opt("results", array(result))
        .opt("units", array(Shape::Any))
        .opt("completed_keys", array(Shape::Any))
        .opt("verified", array(Shape::Any))
        .variant(&["results"])
        .variant(&["units"])
        .variant(&["completed_keys", "verified"])
        .shape()
}

/// §1.4.1; `omitempty` fields optional.
fn scan_meta() -> Shape {
    obj()
        .req("kind", tagged(tag::KIND, Shape::Enum(&["full", "diff"])))
        .req("commit", Shape::String)
        .req("started_at", Shape::String)
        .req("status", tagged(tag::STATUS, Shape::Enum(&["running", "success", "failed", "interrupted"])))
        .req("language", Shape::String)
        .opt("branch", Shape::String)
        .opt("finished_at", Shape::String)
        .opt("base", Shape::String)
        .opt("scope", Shape::String)
        .opt("diff_stats", any_object())
        .shape()
}

/// `internal/config/project.go`.
fn project() -> Shape {
    obj()
        .req("name", Shape::String)
        .req("repo_path", Shape::String)
        .req("source", Shape::String)
        .req("language", Shape::String)
        .req("commit_sha", Shape::String)
        .req("created_at", Shape::String)
        .opt("repo_url", Shape::String)
        .opt("commit_sha_short", Shape::String)
        .shape()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::validate_bytes;

    fn valid(kind: FileKind, step: Option<CheckpointStep>, json: &str) -> bool {
        validate_bytes(json.as_bytes(), shape_for(kind, step)).is_valid()
    }

    #[test]
    fn todays_records_and_reports_have_their_shapes() {
        use CheckpointStep::*;
        let cp = FileKind::Checkpoint;
        assert!(valid(cp, Some(Enhance), r#"{"id": "a", "llm_context": {}, "context_key": "llm_context"}"#));
        assert!(valid(cp, Some(Enhance), r#"{"id": "a", "agent_context": {"security_classification": "incomplete"}}"#));
        assert!(!valid(cp, Some(Enhance), r#"{"id": "a", "llm_context": {}}"#));
        assert!(!valid(cp, Some(Enhance), r#"{"id": "a"}"#));
        assert!(valid(
            cp,
            Some(Verify),
            r#"{"verification": {"incomplete": true}, "finding": "vulnerable", "verification_note": "Verification errored: x", "usage": {}, "error": "x", "id": "a"}"#
        ));
        assert!(valid(
            cp,
            Some(Analyze),
            r#"{"result": {"verdict": null}, "route_key": "a", "code_for_route": "x", "id": "a"}"#
        ));
        let reach = r#"{"signals": [{"unit_id": "a", "kind": "entry_point", "confidence": "high", "reason": "r"}], "projection_sha": "sha256:1", "usage": {}, "id": "a"}"#;
        assert!(valid(cp, Some(LlmReach), reach));
        assert!(!valid(cp, Some(LlmReach), r#"{"signals": [{"kind": "x"}], "id": "a"}"#));
        let summary = r#"{"step": "llm_reach", "phase": "done", "timestamp": "t", "total_units": 2, "completed": 1, "incomplete": 1, "errors": 0, "error_breakdown": {}}"#;
        assert!(valid(FileKind::CheckpointSummary, Some(LlmReach), summary));
        let report = r#"{"step": "analyze", "status": "interrupted", "timestamp": "t", "duration_seconds": 1, "cost_usd": 0, "token_usage": {"accounting_error": "x"}, "summary": {}, "inputs": {}, "outputs": {}, "errors": []}"#;
        assert!(valid(FileKind::StepReport, None, report));
        assert!(valid(FileKind::CheckpointFingerprint, None, r#"{"scheme_version": 2, "extra": {"a": 1}}"#));
        assert!(valid(FileKind::CheckpointFingerprint, None, r#"{"scheme_version": 9}"#));
        assert!(!valid(FileKind::CheckpointFingerprint, None, r#"{"phase": "analyze"}"#));
        // Today's results: provider, analyze_fingerprint, error rows with error_info, null verdicts.
        let results = r#"{"dataset": "d", "model": "m", "provider": "p", "timestamp": "t",
            "metrics": {"total": 2, "errors": 2, "enhance_unclassified_analyzed": 0},
            "results": [{"unit_id": "a", "verdict": "ERROR", "finding": "error", "error": "x", "error_info": {"kind": "quota"}},
                        {"unit_id": "b", "verdict": null}],
            "code_by_route": {}, "analyze_fingerprint": "sha256:0"}"#;
        assert!(valid(FileKind::Results, None, results));
        assert!(valid(FileKind::ResultsArchive, None, results));
    }

    #[test]
    fn unknown_metric_names_are_recorded() {
        let json = r#"{"metrics": {"total": 0, "needs_review": 0, "disagreed_protected": 1}, "results": []}"#;
        let v = validate_bytes(json.as_bytes(), shape_for(FileKind::ResultsVerified, None));
        assert!(v.is_valid());
        let others: Vec<&str> = v
            .captures
            .fields
            .iter()
            .filter(|(t, _)| *t == tag::METRIC_OTHER_KEY)
            .filter_map(|(_, c)| c.as_str())
            .collect();
        assert_eq!(others, ["disagreed_protected"]);
        assert_eq!(v.captures.get("metrics.needs_review").and_then(|c| c.as_f64()), Some(0.0));
    }
}
