//! Single-file checkpoints (spec §2.6) turned into the per-unit checkpoint files current OpenAnt
//! reads, in memory: a parsed legacy file in, the `{step}_checkpoints/` documents out.
//!
//! Three shapes exist, none of which current OpenAnt resumes from:
//!
//! * whole-dataset enhance checkpoints (`units[]` plus `metadata.checkpoint: true`): upstream
//!   `enhance --checkpoint FILE` before d710b90 (never deleted) and the fork's
//!   `dataset_enhanced_checkpoint.json` (7606ea3, deleted on success);
//! * the fork's `analyze_checkpoint.json` = `{results[], code_by_route, counts, dataset, model,
//!   token_usage?}` (d3b1b84; 3f6087a's retry path may leave a verbatim copy of results.json);
//! * the fork's `verify_checkpoint.json` = `{completed_keys[], verified[{route_key,
//!   verification, finding, verification_note}], token_usage?}`.
//!
//! Each unit becomes the document the fix branch's writer would have saved for it
//! (`_save_unit_checkpoint`, `_process_and_save`, `_verify_batch_*`), keyed and named the way
//! that writer keys it, and errored units are left out as `_migrate_legacy_checkpoint` leaves
//! them out, so OpenAnt re-runs them. `_summary.json` is what `StepCheckpoint.write_summary`
//! writes right after such a migration (phase `done` when the files cover every unit of the
//! step's input, else `in_progress`), stamped with the legacy file's
//! mtime (when the work was done) rather than the clock, so a conversion is deterministic.
//!
//! * [`kind`]: which single-file checkpoint a document is;
//! * [`find`](mod@find): which single files a scan dir holds, and what each is;
//! * [`convert`](mod@convert): their units as per-unit files, pure; `migrate` and `repair` decide
//!   where the bytes go;
//! * [`field_note`]: a field either of them could not take from the single file as it is.

pub mod convert;
pub mod field_note;
pub mod find;
pub mod kind;

pub use crate::regen::checkpoints::SUMMARY_FILE;
pub use convert::*;
pub use field_note::FieldNote;
pub use find::*;
pub use kind::LegacyKind;
