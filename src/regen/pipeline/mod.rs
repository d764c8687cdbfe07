//! `pipeline_output.json` rebuilt the way `scan` built it (spec §3.4; OpenAnt
//! `core/reporter.build_pipeline_output` called from `core/scanner.scan_repository`).
//!
//! * [`build`]: the build itself, deterministic and without an LLM: [`build_pipeline_output`]
//!   mirrors OpenAnt's function on already-loaded inputs, Python semantics included
//!   (truthiness, `.get` defaults versus `or`, `==` across int/float, where OpenAnt would raise).
//! * [`today`]: the same for today's (identity-gate era) format, over the pieces of `build`
//!   both eras share.
//! * [`salvage`]: the leading fields of an old `pipeline_output.json`, intact or torn.
//! * [`inputs`]: what `scan` passed as arguments is recorded nowhere; [`rebuild_pipeline_output`]
//!   recovers it (old file first, then the step reports, `application_context.json`,
//!   `project.json`, `meta.json`), naming every field it had to guess, and builds the file.
//!
//! Not reproduced: the standalone `build-output` variant (different name, app type, level and
//! a directory-order glob of step reports): this module rebuilds the scan-time file only.

pub mod build;
pub mod inputs;
pub mod salvage;
pub mod today;

pub use build::{build_pipeline_output, BuildArgs, BuildInputs, PipelineEra, SidecarInput, STEPS_BEFORE_BUILD_OUTPUT};
pub use inputs::{python_utc_isoformat, rebuild_pipeline_output, PipelineOptions, Provided};
pub use salvage::{salvage_leading_fields, SalvagedPipeline};
