//! Whether a rebuild of an output would recover anything of its step's own results, decided
//! once for both verbs: repair refuses a rebuild that would invent every row (and the rebuilds
//! built from that output), and check's fix for the missing or damaged output is then the
//! OpenAnt step that produces it, not `scanaudit repair`.
//!
//! What counts as a source is what the builders read: the step's per-unit checkpoints, its
//! single-file checkpoint (spec §2.6), the rows the old file still holds as far as it reads,
//! and for `results.json` the stage-1 rows `results_verified.json` still holds
//! ([`crate::regen::SalvagedFields::stage1_row_of_verified`]). Without any, OpenAnt itself
//! has nothing to resume from either: re-running the step is what produces the file.

use std::path::Path;

use crate::layout::FileKind;
use crate::no_follow;
use crate::pyjson::{self, PyValue};
use crate::regen::salvage_leading_fields;

/// Why nothing can be rebuilt for an output, and the OpenAnt step that produces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NothingHolds {
    /// The `openant` verb to re-run.
    pub verb: &'static str,
    pub reason: String,
}

impl NothingHolds {
    /// The command for a finding's `fix` and repair's plan.
    pub fn fix(&self) -> String {
        format!("openant {}", self.verb)
    }
}

/// Whether a step left evidence that it ran in this scan dir, so that a missing output is
/// missing and not merely never produced (verify is off by default, for one). A single-file
/// checkpoint is such evidence: the fork deleted it once the output was written, so one that
/// is left means a run of the step stopped before or right after writing it.
///
/// A step report counts unless its status says the step wrote nothing (today's `skipped` and
/// `interrupted`, `era::STEP_STATUSES_WITHOUT_OUTPUTS`): a skipped dynamic test leaves a report
/// and no `dynamic_test_results.json`, and that is healthy.
pub fn step_ran(dir: &Path, kind: FileKind) -> bool {
    let any = |names: &[&str]| {
        names.iter().any(|n| match n.strip_suffix(".report.json") {
            Some(_) => no_follow::is_present(&dir.join(n)) && !report_wrote_nothing(&dir.join(n)),
            None => no_follow::is_present(&dir.join(n)),
        })
    };
    match kind {
        FileKind::DatasetEnhanced => any(&[
            "enhance_checkpoints",
            "dataset_enhanced_checkpoint_checkpoints",
            "enhance.report.json",
            "dataset_enhanced_checkpoint.json",
            "enhance_checkpoint.json",
        ]),
        FileKind::Results => any(&["analyze_checkpoints", "analyze.report.json", "analyze_checkpoint.json"]),
        FileKind::ResultsVerified => any(&["verify_checkpoints", "verify.report.json", "verify_checkpoint.json"]),
        FileKind::PipelineOutput => any(&["build-output.report.json"]),
        FileKind::DynamicTestResults => any(&["dynamic_test_checkpoints", "dynamic-test.report.json"]),
        _ => false,
    }
}

/// Whether a step report's `status` says the step wrote no output. A report that cannot be
/// read says nothing either way and counts as evidence, as before.
fn report_wrote_nothing(path: &Path) -> bool {
    no_follow::read(path).is_ok_and(|bytes| {
        pyjson::parse(&bytes)
            .ok()
            .and_then(|v| v.get("status").and_then(PyValue::as_str).map(str::to_owned))
            .is_some_and(|status| crate::era::STEP_STATUSES_WITHOUT_OUTPUTS.contains(&status.as_str()))
    })
}

/// Why a rebuild of `kind` in `dir` would recover nothing, or `None` when something holds
/// (some of) its results. An output built from one that nothing holds, and that cannot be
/// read, says so too: it is not rebuilt from another input instead (`pipeline_output.json`
/// from `results.json` when verify ran). `provided(k)` says an earlier action of the same
/// repair supplies `k` (a promoted temp, a rebuild).
pub fn nothing_holds(dir: &Path, kind: FileKind, provided: &dyn Fn(FileKind) -> bool) -> Option<NothingHolds> {
    if let Some(own) = own_results_absent(dir, kind) {
        return Some(own);
    }
    let inputs: &[FileKind] = match kind {
        FileKind::ResultsVerified => &[FileKind::Results],
        FileKind::PipelineOutput if step_ran(dir, FileKind::ResultsVerified) => {
            &[FileKind::ResultsVerified, FileKind::Results]
        }
        FileKind::PipelineOutput => &[FileKind::Results],
        FileKind::DynamicTestResults => &[FileKind::PipelineOutput],
        _ => &[],
    };
    inputs.iter().find_map(|input| {
        if provided(*input) || readable(dir, *input) {
            return None;
        }
        let upstream = nothing_holds(dir, *input, provided)?;
        Some(NothingHolds {
            verb: upstream.verb,
            reason: format!(
                "not rebuilt: its input {} is left as it is ({}), and nothing else is a right input",
                crate::layout::output_file_name(*input),
                upstream.reason
            ),
        })
    })
}

/// Whether the output of `kind` reads as a whole document.
fn readable(dir: &Path, kind: FileKind) -> bool {
    no_follow::read(&dir.join(crate::layout::output_file_name(kind))).is_ok_and(|b| pyjson::parse(&b).is_ok())
}

/// The step's own sources of rows, for the two steps whose rows only an LLM produces.
fn own_results_absent(dir: &Path, kind: FileKind) -> Option<NothingHolds> {
    let (verb, checkpoint_dir, single_file, what) = match kind {
        FileKind::Results => ("analyze", "analyze_checkpoints", "analyze_checkpoint.json", "stage-1 rows"),
        FileKind::ResultsVerified => ("verify", "verify_checkpoints", "verify_checkpoint.json", "verify's results"),
        _ => return None,
    };
    if has_unit_files(&dir.join(checkpoint_dir)) || no_follow::is_present(&dir.join(single_file)) {
        return None;
    }
    let old_rows = |name: &str| {
        no_follow::read(&dir.join(name)).ok().map(|bytes| salvage_leading_fields(&bytes)).unwrap_or_default()
    };
    let own = old_rows(crate::layout::output_file_name(kind));
    if own.results().next().is_some() {
        return None;
    }
    if kind == FileKind::Results {
        let verified = old_rows("results_verified.json");
        let carried = verified.results().any(|row| {
            row.get("unit_id").and_then(PyValue::as_str).is_some_and(|id| verified.stage1_row_of_verified(id).is_some())
        });
        if carried {
            return None;
        }
    }
    let and_verified = if kind == FileKind::Results { ", none in results_verified.json" } else { "" };
    Some(NothingHolds {
        verb,
        reason: format!(
            "nothing holds {what} (no {checkpoint_dir}/ files, no {single_file}, no readable rows{and_verified}): a \
             rebuild would invent every row; run `openant {verb}` to produce it"
        ),
    })
}

/// Whether a checkpoint dir holds any unit file (anything but `_summary.json` and the sidecar).
fn has_unit_files(dir: &Path) -> bool {
    no_follow::list_dir(dir).is_ok_and(|entries| {
        entries.iter().any(|e| e.name.to_str().is_none_or(|n| n.ends_with(".json") && !n.starts_with('_')))
    })
}
