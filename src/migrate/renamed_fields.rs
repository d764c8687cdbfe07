//! Migration `renamed-fields`: plans nothing, on purpose.
//!
//! Issue 7 asks for the old field forms to be rewritten only where a current OpenAnt reader
//! fails on them. OpenAnt's readers were read on the fix branch (`fix/issue16-20-atomic-json`,
//! "fix") and on the fork's `master`, and run offline on old-form data (the `oldtool` fixture):
//! every reader accepts all three forms, so no file is rewritten. Rewriting paid-for LLM output
//! without need would only add risk. The evidence, per form (paths under `libs/openant-core/`):
//!
//! * `code.primary_origin.enhanced` (dataset.json, dataset_enhanced.json, and the `code` of
//!   enhance checkpoints; renamed `deps_inlined` in d710b90). The one pipeline reader is stage 1,
//!   `experiment.analyze_unit` (called from `core/analyzer.py:62` fix, `:63` master), which
//!   falls back to the old key:
//!   `primary_origin.get("deps_inlined", primary_origin.get("enhanced", False))`
//!   (`experiment.py:354` fix, `:353` master). `validate_dataset_schema.py:40,78` (fix; `:40,79`
//!   master) accepts either key. The enhancer only writes `deps_inlined`
//!   (`utilities/agentic_enhancer/agent.py:456` fix, `:471` master). The parsers' reads of
//!   `deps_inlined` (e.g. `parsers/python/unit_generator.py:345`) are of units they have just
//!   built, never of an old file. Nothing in the Go CLI reads units.
//! * `is_enhanced` in stage-1 results (results.json, results_verified.json, the fork's
//!   analyze_checkpoint.json, per-unit analyze checkpoints; `has_deps_inlined` since d710b90).
//!   Nothing reads it: `git grep is_enhanced` on both branches finds only prose in
//!   `parsers/javascript/PARSER_UPGRADE_PLAN.md`, and its successor is only written
//!   (`experiment.py:433` fix, `:432` master). A restored result is copied whole
//!   (`core/analyzer.py:166-167` fix, `:167-168` master), and the resume test there looks at
//!   `verdict`/`finding` only (`:159-161` fix, `:160-162` master).
//! * A string `agent_context.error` (dicts with `type` since d710b90). Every reader tests
//!   truthiness or `isinstance(err, dict)`: the resume rule `_load_completed_units`
//!   (`utilities/context_enhancer.py:809` fix, `:808` master) and the legacy migration (`:820`)
//!   treat it as an error, exactly like a dict, so the unit is re-run either way; the summary
//!   counts (`:548-551` fix, `:552-555` master) and `StepCheckpoint.status`
//!   (`core/checkpoint.py:261-264` fix, `:267-270` master) count it as type `unknown`;
//!   `_compute_agentic_stats` (`context_enhancer.py:845-853`) and the enhance step summary
//!   (`core/enhancer.py:124-131` fix, `:194-201` master) count it as `legacy_string`;
//!   `is_retryable_error` has a string branch (`utilities/rate_limiter.py:239-243` fix,
//!   `:244-248` master). The Go CLI sees only `_summary.json` and Python's status envelope.
//!
//! Offline runs of the real functions on the `oldtool` scan (both branches, SDK stubbed, no
//! LLM call) agreed: enhance restored the six good units and re-ran the string-error one,
//! `run_analysis` and `run_verification` restored results carrying `is_enhanced`,
//! `build_pipeline_output`, `report-data` and `export_csv` succeeded, and `analyze_unit` gave
//! `has_deps_inlined: true` for a unit with only `enhanced: true`.
//!
//! The migration stays in the registry so `migrate --list` shows that these forms were
//! considered, and so a future OpenAnt that drops a fallback has one obvious place to act.

use std::path::Path;

use super::action::Planned;

pub const ID: &str = "renamed-fields";

/// Plans nothing for any scan dir: see the module doc for why. It does not read the scan dir
/// either, since no content could change the answer.
pub fn plan(_scan_dir: &Path) -> Planned {
    Planned::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scan dir holding every old form, as upstream wrote it before d710b90: the planner
    /// must leave it alone, because current OpenAnt reads it as it is.
    #[test]
    fn old_forms_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let unit = r#"{
  "id": "tool/cache.py:warm_cache",
  "code": {"primary_code": "def warm_cache(keys): pass",
           "primary_origin": {"file_path": "tool/cache.py", "enhanced": true,
                              "files_included": ["tool/cache.py", "tool/db.py"]}},
  "agent_context": {"error": "Agent error: Connection error.", "security_classification": "neutral",
                    "confidence": 0.0}
}"#;
        let result =
            r#"{"finding": "safe", "verdict": "SAFE", "is_enhanced": true, "unit_id": "tool/cache.py:warm_cache"}"#;
        let files = [
            ("dataset_enhanced.json", format!(r#"{{"name": "oldtool", "units": [{unit}], "metadata": {{}}}}"#)),
            ("enhance_checkpoint.json", format!(r#"{{"units": [{unit}], "metadata": {{"checkpoint": true}}}}"#)),
            ("results.json", format!(r#"{{"results": [{result}]}}"#)),
        ];
        for (name, text) in &files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let planned = plan(dir.path());
        assert!(planned.actions.is_empty(), "{:?}", planned.actions);
        assert!(planned.unfixable.is_empty(), "{:?}", planned.unfixable);
        assert!(planned.io_errors.is_empty(), "{:?}", planned.io_errors);
        for (name, text) in &files {
            assert_eq!(std::fs::read_to_string(dir.path().join(name)).unwrap(), *text, "{name}");
        }
    }

    /// `migrate --list` must still show the migration, so users see these forms were considered.
    #[test]
    fn listed() {
        let migration = super::super::registry::find(ID).expect("registered");
        assert!(migration.description.contains("nothing is rewritten"), "{}", migration.description);
    }
}
