//! The bridge between repair's plan and the regen functions: loads a scan dir's inputs,
//! rebuilds one output at a time in order, and lets an output rebuilt (or promoted) earlier
//! feed the next.

use std::cell::{OnceCell, RefCell};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::state::{output_name, REBUILD_ORDER};
use super::unfixable::Unfixable;
use crate::era::{Builder, Era};
use crate::layout::safe_filename::checkpoint_file_name;
use crate::layout::{CheckpointStep, FileKind};
use crate::no_follow;
use crate::pyjson::{self, PyValue};
use crate::recoverable;
use crate::regen::checkpoints::{self, CheckpointSet, IssueKind};
use crate::regen::dynamic::{rebuild_dynamic_results, DynamicOptions, MissingReason};
use crate::regen::enhanced::{self, enhanced_document, EnhanceInputs};
use crate::regen::lossless;
use crate::regen::pipeline::{rebuild_pipeline_output, PipelineOptions, Provided};
use crate::regen::results::{results_document, AnalyzeInputs, InputDataset};
use crate::regen::single_file::{self, LeftOutWhy, LegacyInputs, LegacyKind, RunRecord, Unusable};
use crate::regen::verified::rebuild_verified;
use crate::regen::{self, current, Rebuilt, RegenError};
use crate::spill::{Contents, MemoryBudget, TextWriter};
use crate::text::brief_list;

/// A rebuilt output, ready for the atomic writer.
#[derive(Debug, Clone)]
pub struct RebuiltFile {
    /// The bytes to write: in memory, or, for a rebuild that wrote its text as it serialized
    /// it for a plan that will be applied ([`Rebuilder::spill_provided`]), in an unnamed file
    /// once they did not fit the plan's memory budget ([`crate::spill::TextWriter`]).
    pub contents: Contents,
    /// The document `bytes` hold: the lossless merge works on it rather than parsing `bytes`
    /// back. `null` for an output no later rebuild is handed ([`is_handed_on`]) whose document
    /// was freed as it was written ([`regen::Document::serialize_consuming`]).
    pub value: PyValue,
    /// What could not be reproduced exactly, and what was done.
    pub notes: Vec<String>,
    /// The files it was built from, for the plan.
    pub inputs: Vec<String>,
}

/// Why an output cannot be rebuilt here, and what can rebuild it.
#[derive(Debug, Clone)]
pub struct CannotRebuild {
    pub reason: String,
    pub fix: Option<String>,
}

pub use crate::recoverable::step_ran;

/// The largest file a rebuild reads into memory (an input, or the old output it salvages
/// from). A rebuild holds the documents it reads as trees, several times their size (a torn
/// 2 GB `results.json` took 14.5 GB): past this, the output is refused with the reason rather
/// than the machine run out of memory. A 20,000-unit scan's largest output is about 90 MB.
pub const MAX_REBUILD_READ: u64 = 500_000_000;

/// Why `path` is not read: it is over [`MAX_REBUILD_READ`]. `None` when it is within it (or
/// cannot be looked at: the read that follows says why).
pub fn over_read_limit(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let size = std::fs::symlink_metadata(path).ok().filter(|m| m.is_file())?.size();
    (size > MAX_REBUILD_READ).then(|| {
        format!(
            "{} is {} MB, over the {} MB a rebuild reads into memory: nothing is rebuilt from it, and it is left as it is",
            path.display(),
            size / 1_000_000,
            MAX_REBUILD_READ / 1_000_000
        )
    })
}

/// A step's checkpoints as a rebuild reads them: the per-unit dir's files, plus the units of
/// the scan's single-file checkpoints of that step (spec §2.6), converted to the per-unit files
/// `scanaudit migrate` would write, a per-unit file winning for the same unit.
struct StepCheckpoints {
    set: CheckpointSet,
    /// For the plan: the per-unit dir and the single files the units came from.
    inputs: Vec<String>,
    /// What the single files gave, what their conversion filled in or left out, and where the
    /// OpenAnt that wrote them wrote the output differently.
    notes: Vec<String>,
    /// The record of the run that wrote the one single file every unit came from.
    record: Option<RunRecord>,
    /// Ids taken from a verify single file (the fork's `confirmed_findings` rule differs).
    from_fork_verify: HashSet<String>,
    /// Files named like the step's single-file checkpoint that cannot be read.
    unusable: Vec<Unusable>,
}

pub struct Rebuilder {
    dir: PathBuf,
    /// Outputs an earlier action will write, by kind: later rebuilds read these instead of
    /// the damaged files on disk.
    /// The same bytes the plan's action holds (one copy for both; in an unnamed file rather
    /// than memory when the plan spilled them, [`crate::spill`]).
    provided: HashMap<FileKind, Contents>,
    /// When set, what is provided past this budget is moved out of memory into unnamed files
    /// in the scan dir ([`Rebuilder::spill_provided`]).
    spill: Option<MemoryBudget>,
    /// The outline of each provided output a later rebuild reads era markers from
    /// ([`OUTLINED`]), taken while its bytes are in memory rather than read back.
    outlines: HashMap<FileKind, Option<Outline>>,
    /// The document the output rebuilt last holds (its `provided` bytes parse to exactly
    /// this), for the rebuild right after it, which reads it as an input: parsing the bytes
    /// back would cost as much as the rebuild's own work. Taken by the first read of it, and
    /// kept no longer than that next rebuild ([`Rebuilder::keep_handed_for`]).
    handed: RefCell<Option<(FileKind, PyValue)>>,
    missing: Vec<Unfixable>,
    /// Inputs that exist but could not be read (an I/O error, not a missing file).
    unreadable: RefCell<Vec<(PathBuf, String)>>,
    /// The scan's single-file checkpoints, read when a rebuild first needs them.
    legacy: OnceCell<single_file::Found>,
    /// The line (upstream or fork) the scan's files on disk tell, read once: telling it reads
    /// the results files, which the disk does not change while a plan is made.
    line: OnceCell<checkpoints::Era>,
}

impl Rebuilder {
    pub fn new(dir: &Path) -> Rebuilder {
        Rebuilder {
            dir: dir.to_path_buf(),
            provided: HashMap::new(),
            spill: None,
            outlines: HashMap::new(),
            handed: RefCell::new(None),
            missing: Vec::new(),
            unreadable: RefCell::new(Vec::new()),
            legacy: OnceCell::new(),
            line: OnceCell::new(),
        }
    }

    /// [`checkpoints::detect_era_in_dir`], once per scan dir.
    fn line(&self) -> checkpoints::Era {
        *self.line.get_or_init(|| checkpoints::detect_era_in_dir(&self.dir).0)
    }

    /// From now on, what is provided and does not fit what is left of `budget` is moved into an
    /// unnamed file in the scan dir ([`crate::spill`]; kept in memory where the filesystem
    /// refuses one) once the outline a later rebuild reads of it is taken, and a document
    /// serialized past it is written into one as it is serialized ([`Rebuilder::finish_merged`]):
    /// a plan that will be applied does not hold every output it will write in memory.
    pub fn spill_provided(&mut self, budget: MemoryBudget) {
        self.spill = Some(budget);
    }

    /// Records what the output `kind` will hold; the same contents for the plan's action.
    fn hold(&mut self, kind: FileKind, bytes: Contents) -> Contents {
        self.outlines.remove(&kind);
        let spill = matches!(&self.spill, Some(budget) if !bytes.is_spilled() && !budget.take(bytes.len()));
        let bytes = if spill {
            // Taken only for bytes about to leave memory: bytes kept in memory are outlined
            // when (and if) a later rebuild asks, without a read back.
            if let (true, Contents::Memory(memory)) = (OUTLINED.contains(&kind), &bytes) {
                self.outlines.insert(kind, lossless::outline(memory));
            }
            bytes.spilled_into(&self.dir)
        } else {
            bytes
        };
        self.provided.insert(kind, bytes.clone());
        bytes
    }

    /// What the output `kind` will hold once an earlier action (a promotion) has run; the
    /// same contents for the plan's action.
    pub fn provide(&mut self, kind: FileKind, bytes: impl Into<Contents>) -> Contents {
        self.forget_handed();
        self.hold(kind, bytes.into())
    }

    /// What the output `kind` will hold once its rebuild is written: `bytes`, which hold the
    /// document `value` ([`RebuiltFile::value`], after the lossless merge). A later rebuild
    /// that reads it ([`handed_readers`]) takes `value` rather than parsing `bytes` back; a
    /// document no rebuild takes is freed now.
    pub fn provide_rebuilt(&mut self, kind: FileKind, bytes: impl Into<Contents>, value: PyValue) -> Contents {
        self.forget_handed();
        let bytes = bytes.into();
        // Written into an unnamed file as it was serialized: outlined from its document, which
        // is what its bytes hold, rather than read back.
        let outline = (bytes.is_spilled() && OUTLINED.contains(&kind) && !matches!(value, PyValue::Null))
            .then(|| lossless::outline_of_document(&value));
        let bytes = self.hold(kind, bytes);
        if let Some(outline) = outline {
            self.outlines.insert(kind, outline);
        }
        if is_handed_on(kind) {
            *self.handed.get_mut() = Some((kind, value));
        } else {
            drop_in_background(value);
        }
        bytes
    }

    /// Called before `kind` is considered: the handed document stays while the rebuilds
    /// considered read it ([`handed_readers`]), and is freed at the first that does not,
    /// rather than held through later rebuilds.
    pub fn keep_handed_for(&mut self, kind: FileKind) {
        if self.handed.get_mut().as_ref().is_some_and(|(of, _)| !handed_readers(kind).contains(of)) {
            self.forget_handed();
        }
    }

    /// Frees the handed document ([`drop_in_background`]).
    pub fn forget_handed(&mut self) {
        if let Some(handed) = self.handed.get_mut().take() {
            drop_in_background(handed);
        }
    }

    /// The handed document, when it is the output named `name`: taken, so it is read once.
    fn take_handed(&self, name: &str) -> Option<PyValue> {
        let mut handed = self.handed.borrow_mut();
        if handed.as_ref().is_some_and(|(kind, _)| output_name(*kind) == name) {
            return handed.take().map(|(_, value)| value);
        }
        None
    }

    /// Units the last rebuild had no usable checkpoint for: never invented, listed.
    pub fn take_missing_units(&mut self) -> Vec<Unfixable> {
        std::mem::take(&mut self.missing)
    }

    /// Inputs the last rebuilds could not read: they make the run incomplete.
    pub fn take_unreadable(&mut self) -> Vec<(PathBuf, String)> {
        self.unreadable.take()
    }

    /// Reads and parses an input of the scan dir (or what an earlier action provides). A
    /// damaged input stops the rebuild: nothing is written from bad input.
    fn parsed(&self, name: &str) -> Result<PyValue, CannotRebuild> {
        if let Some(value) = self.take_handed(name) {
            return Ok(value);
        }
        let bytes = self.input_bytes(name)?;
        pyjson::parse(&bytes).map_err(|error| damaged_input(name, error))
    }

    /// The input dataset of a results.json rebuild, read as [`parsed`](Rebuilder::parsed)
    /// reads an input (the same refusals), but only as far as the builders read it
    /// ([`InputDataset::read`]): the units' code stays in the text.
    fn input_dataset(&self, name: &str) -> Result<InputDataset, CannotRebuild> {
        if let Some(value) = self.take_handed(name) {
            return Ok(InputDataset::whole(value));
        }
        let bytes = self.input_bytes(name)?;
        InputDataset::read(bytes).map_err(|error| damaged_input(name, error))
    }

    /// The bytes of an input of the scan dir, or what an earlier action provides.
    fn input_bytes(&self, name: &str) -> Result<Arc<Vec<u8>>, CannotRebuild> {
        let provided = REBUILD_ORDER.iter().find(|k| output_name(**k) == name).and_then(|k| self.provided.get(k));
        match provided {
            Some(Contents::Memory(bytes)) => Ok(Arc::clone(bytes)),
            Some(contents) => {
                // Spilled bytes are read back for the rebuild that reads them, and freed after it.
                let bytes = contents.bytes().map_err(|error| {
                    // Scanaudit's own unnamed file, not the scan's: said so.
                    let what = format!("its planned contents, held in an unnamed file, cannot be read back: {error}");
                    self.unreadable.borrow_mut().push((self.dir.join(name), what));
                    CannotRebuild { reason: format!("its input {name} cannot be read ({error})"), fix: None }
                })?;
                Ok(Arc::new(bytes.into_owned()))
            }
            None => {
                if let Some(reason) = over_read_limit(&self.dir.join(name)) {
                    return Err(CannotRebuild { reason: format!("its input {reason}"), fix: None });
                }
                let read = no_follow::read(&self.dir.join(name)).map_err(|error| {
                    // A missing input is no read error, and a refused one (a symlink, a FIFO) is
                    // already named in the plan as left alone; anything else leaves the run incomplete.
                    if error.kind() != std::io::ErrorKind::NotFound && !no_follow::is_refusal(&error) {
                        self.unreadable.borrow_mut().push((self.dir.join(name), error.to_string()));
                    }
                    CannotRebuild { reason: format!("its input {name} cannot be read ({error})"), fix: None }
                })?;
                Ok(Arc::new(read))
            }
        }
    }

    fn optional(&self, name: &str) -> Option<PyValue> {
        no_follow::read(&self.dir.join(name)).ok().and_then(|bytes| pyjson::parse(&bytes).ok())
    }

    fn old_bytes(&self, kind: FileKind) -> Option<Vec<u8>> {
        no_follow::read(&self.dir.join(output_name(kind))).ok()
    }

    /// What `results_verified.json` still holds, as far as it reads: stage-1 rows verify left
    /// unchanged, for a results.json rebuild whose units have no other source. Only the rows of
    /// units `analyze` has no checkpoint for are kept: the builders read no other (they take a
    /// unit's row from here only when `analyze.get(unit)` has none).
    fn verified_rows(&self, analyze: &CheckpointSet) -> Option<regen::SalvagedFields> {
        self.old_bytes(FileKind::ResultsVerified)
            .map(|bytes| regen::salvage::salvage_rows_where(&bytes, |key| analyze.get(key).is_none()))
    }

    /// `dir_name`'s checkpoints plus the units of the step's single files. `results` is the
    /// results document verify reads: the fork keyed its verify progress by route_key, and
    /// results.json tells which unit each belongs to.
    fn checkpoints(
        &self,
        dir_name: &str,
        step: CheckpointStep,
        results: Option<&PyValue>,
    ) -> Result<StepCheckpoints, CannotRebuild> {
        let mut set = CheckpointSet::load_dir(&self.dir.join(dir_name), step)
            .map_err(|error| CannotRebuild { reason: format!("{dir_name}/ cannot be read ({error})"), fix: None })?;
        // A checkpoint OpenAnt reads but scanaudit cannot hold: leaving its unit out would
        // write less than the scan holds (and check would ask for the rebuild again).
        if let Some(issue) = set.issues.iter().find(|i| i.kind == IssueKind::CannotCarry) {
            return Err(CannotRebuild {
                reason: format!("{dir_name}/{} holds {}: nothing is rebuilt from this step", issue.name, issue.problem),
                fix: None,
            });
        }
        let own_files = set.files.len() + set.issues.iter().filter(|i| i.kind == IssueKind::Unreadable).count();
        let legacy = self.legacy.get_or_init(|| single_file::find(&self.dir));
        let mut inputs = Vec::new();
        if set.dir_exists {
            inputs.push(format!("{dir_name}/"));
        }
        let mut notes = Vec::new();
        let mut from_fork_verify = HashSet::new();
        let mut claimed: HashSet<String> = HashSet::new();
        let mut contributors = Vec::new();
        for file in legacy.of_step(step) {
            let converted = single_file::convert(&LegacyInputs {
                kind: file.kind,
                document: &file.document,
                modified: file.modified,
                results: results.filter(|_| file.kind == LegacyKind::ForkVerify),
                dataset: None,
            });
            let merged = single_file::merge_units(&mut set, &converted.units, &claimed);
            claimed.extend(converted.units.iter().flat_map(|u| [u.id.clone(), u.file_name.clone()]));
            // After the good ones: an errored unit never displaces a completed one.
            let errored = single_file::merge_units(&mut set, &converted.errored, &claimed);
            claimed.extend(converted.errored.iter().flat_map(|u| [u.id.clone(), u.file_name.clone()]));
            if file.kind == LegacyKind::ForkVerify {
                from_fork_verify.extend(merged.added.iter().cloned());
            }
            notes.extend(single_file_notes(file, &converted, &merged, &errored, dir_name));
            if !merged.added.is_empty() || !errored.added.is_empty() {
                inputs.push(file.name.clone());
                contributors.push(file);
            }
        }
        if inputs.is_empty() {
            inputs.push(format!("{dir_name}/"));
        }
        let record = match contributors[..] {
            [only] if own_files == 0 => Some(RunRecord::of(only)),
            _ => None,
        };
        let unusable = legacy.unusable_of_step(step).cloned().collect();
        Ok(StepCheckpoints { set, inputs, notes, record, from_fork_verify, unusable })
    }

    /// The dataset the newest `analyze_checkpoint.json` says its run read, when it is one of
    /// the two a scan's analyze reads (the field is data: no other name is ever opened).
    fn single_file_dataset(&self) -> Option<&'static str> {
        let legacy = self.legacy.get_or_init(|| single_file::find(&self.dir));
        let file = legacy.of_step(CheckpointStep::Analyze).into_iter().next()?;
        let named = file.document.get("dataset")?.as_str()?;
        single_file::ANALYZE_DATASETS.iter().copied().find(|n| *n == named)
    }

    /// A torn (or unrecognisable) single-file checkpoint of the step is never converted or
    /// moved: it is reported. The output is still rebuilt when every unit it needs has another
    /// checkpoint file, even an errored one, since that would win over the single file's;
    /// otherwise the file may hold units nothing else has, and nothing is rebuilt without them.
    fn refuse_if_unusable(
        &mut self,
        loaded: &StepCheckpoints,
        missing_units: &[String],
        verb: &str,
        notes: &mut Vec<String>,
    ) -> Result<(), CannotRebuild> {
        let Some(first) = loaded.unusable.first() else { return Ok(()) };
        let set = &loaded.set;
        let missing_units: Vec<&String> = missing_units
            .iter()
            .filter(|u| set.get(u).is_none() && set.unreadable(&checkpoint_file_name(u)).is_none())
            .collect();
        for unusable in &loaded.unusable {
            self.missing.push(Unfixable {
                path: unusable.path.clone(),
                reason: format!(
                    "{}: a single-file checkpoint that cannot be read is neither converted nor moved, and no unit is taken from it",
                    unusable.describe()
                ),
                fix: None,
            });
        }
        if missing_units.is_empty() {
            notes.push(format!(
                "{} was not read ({}): every unit has another checkpoint, which would win over its units anyway",
                first.name,
                first.describe()
            ));
            return Ok(());
        }
        Err(CannotRebuild {
            reason: format!(
                "its input {}: nothing is rebuilt from a damaged single-file checkpoint, and it may hold the {} {} no other checkpoint has ({})",
                first.describe(),
                missing_units.len(),
                if missing_units.len() == 1 { "unit" } else { "units" },
                brief_list(missing_units.iter().map(|u| u.as_str()))
            ),
            fix: Some(format!("openant {verb}")),
        })
    }

    fn missing_units(&mut self, kind: FileKind, units: &[String], verb: &str) {
        let path = self.dir.join(output_name(kind));
        for unit in units {
            self.missing.push(Unfixable {
                path: path.clone(),
                reason: format!("unit {unit} has no usable checkpoint: it was not invented; OpenAnt redoes it"),
                fix: Some(format!("openant {verb}")),
            });
        }
    }

    /// Rebuilds `kind` with the builder of its era ([`crate::era::builder_for`]), then carries
    /// every key of the old file the builder does not produce into the result
    /// ([`lossless::merge_lossless`]). An output whose own keys or era evidence carry a marker no
    /// known OpenAnt writes is not rebuilt.
    ///
    /// A rebuild that would recover nothing of the step's own results (and one built from such
    /// an output) is refused first ([`recoverable::nothing_holds`], which check asks too): it
    /// would invent every row, and the file is left as it is for OpenAnt to produce.
    pub fn rebuild(&mut self, kind: FileKind) -> Result<RebuiltFile, CannotRebuild> {
        // The old outputs this rebuild reads besides its inputs (which `parsed` checks): its own
        // (salvaged from), and the results files, whose keys and rows it takes and which tell
        // the OpenAnt line every builder depends on ([`Rebuilder::line`]).
        let old_outputs = [kind, FileKind::Results, FileKind::ResultsVerified];
        for old in old_outputs {
            if let Some(reason) = over_read_limit(&self.dir.join(output_name(old))) {
                return Err(CannotRebuild { reason, fix: Some(format!("openant {}", step_verb(kind))) });
            }
        }
        if let Some(nothing) = recoverable::nothing_holds(&self.dir, kind, &|k| self.provided.contains_key(&k)) {
            return Err(CannotRebuild { fix: Some(nothing.fix()), reason: nothing.reason });
        }
        // The old file, read and parsed once: the builders read its fields and rows, then the
        // lossless merge takes its tree. Of an output merged from its text ([`merged_from_text`]),
        // only the fields its builder reads, and the keys and `metrics` its era markers are
        // read from ([`markers_of`]), are held until then.
        let (mut old, top) = match self.old_bytes(kind) {
            Some(bytes) if merged_from_text(kind) => (
                Some(regen::salvage::salvage_fields(&bytes, enhanced::OLD_FIELDS_READ)),
                lossless::salvage_top(&bytes, &["metrics"]),
            ),
            bytes => (bytes.map(|bytes| regen::salvage_leading_fields(&bytes)), None),
        };
        let builder = self.builder_for(kind, top.as_ref().or(old.as_ref().and_then(regen::SalvagedFields::tree)));
        drop(top);
        let mut file = match builder {
            Builder::Unknown(markers) => {
                let list: Vec<String> = markers.iter().map(|m| m.to_string()).collect();
                return Err(CannotRebuild {
                    reason: format!(
                        "not rebuilt: it (or the run that writes it) carries {} that no OpenAnt version scanaudit knows \
                         writes, so a newer OpenAnt wrote it and its format is unknown; the file is left as it is",
                        list.join(", ")
                    ),
                    fix: Some(format!("openant {} (re-runs it from its checkpoints), or upgrade scanaudit", step_verb(kind))),
                });
            }
            Builder::Known(Era::IdentityGate) if matches!(kind, FileKind::Results | FileKind::ResultsVerified) => {
                self.rebuild_current(kind, old.as_ref())?
            }
            Builder::Known(era) => self.rebuild_era(kind, era == Era::IdentityGate, &mut old)?,
        };
        // Unless the rebuild merged it already (it took it).
        if let Some(tree) = old.and_then(regen::SalvagedFields::into_tree) {
            file = make_lossless(file, tree, output_name(kind))?;
        }
        Ok(file)
    }

    /// The era evidence of `kind` and the builder it selects.
    fn builder_for(&self, kind: FileKind, old: Option<&lossless::Node>) -> Builder {
        let name = output_name(kind);
        let own = old.map(|o| markers_of(kind, name, o)).unwrap_or_default();
        let mut evidence = Vec::new();
        let sidecar = |dir: &str| -> Option<crate::era::Marker> {
            let rel = format!("{dir}/{}", crate::layout::reserved_names::FINGERPRINT_FILE);
            let value = self.optional(&rel)?;
            // A sidecar without a readable scheme is not a newer OpenAnt's: OpenAnt resets the
            // dir on it (docs/openant-eras.md §1.5). Its name still says today's OpenAnt ran.
            match value.get("scheme_version").and_then(PyValue::as_f64) {
                Some(scheme) => Some(crate::era::fingerprint_scheme_marker(scheme, &rel)),
                None => crate::era::name_marker(&rel, false),
            }
        };
        let input_markers = |input: FileKind| -> Vec<crate::era::Marker> {
            // A document handed to this rebuild is what its provided bytes hold: its keys are
            // read from it, not by scanning the text; else the outline taken of provided bytes
            // before they were spilled.
            let handed = self.handed.borrow();
            let outline = match (handed.as_ref().filter(|(of, _)| *of == input), self.provided.get(&input)) {
                (Some((_, document)), _) => lossless::outline_of_document(document),
                (None, Some(contents)) => match self.outlines.get(&input) {
                    Some(outline) => outline.clone(),
                    None => contents.bytes().ok().and_then(|bytes| lossless::outline(&bytes)),
                },
                (None, None) => self.old_bytes(input).and_then(|bytes| lossless::outline(&bytes)),
            };
            let Some((keys, metrics)) = outline else { return Vec::new() };
            let metric_keys: Vec<&str> = metrics.as_ref().map(|m| m.keys()).unwrap_or_default();
            crate::era::key_markers(input, output_name(input), keys.iter().map(String::as_str), metric_keys)
        };
        match kind {
            FileKind::Results => {
                evidence.extend(sidecar("analyze_checkpoints"));
                let report = self.optional("analyze.report.json");
                if report.as_ref().and_then(|r| r.get("inputs")).and_then(|i| i.get("provider")).is_some() {
                    evidence.push(crate::era::analyze_report_provider_marker("analyze.report.json"));
                }
            }
            FileKind::ResultsVerified => {
                evidence.extend(sidecar("verify_checkpoints"));
                evidence.extend(input_markers(FileKind::Results));
            }
            FileKind::PipelineOutput => {
                evidence.extend(input_markers(FileKind::ResultsVerified));
                evidence.extend(input_markers(FileKind::Results));
            }
            _ => {}
        }
        let era = self.line();
        let default = match era {
            checkpoints::Era::ForkMaster => Era::Fork,
            checkpoints::Era::Fix => Era::Checkpoints,
        };
        let own_predates_today = old.is_some_and(|o| {
            let keys = o.keys();
            let metrics = o.member("metrics");
            let complete: Option<Vec<&str>> =
                metrics.as_ref().filter(|m| matches!(m, lossless::Node::Complete(_))).map(|m| m.keys());
            crate::era::predates_today(kind, &keys, complete.as_deref()).is_some()
        });
        crate::era::builder_for(&own, &evidence, own_predates_today, default)
    }

    /// Today's (identity-gate era) builders. `salvaged`: what the old file still holds.
    fn rebuild_current(
        &mut self,
        kind: FileKind,
        salvaged: Option<&regen::SalvagedFields>,
    ) -> Result<RebuiltFile, CannotRebuild> {
        let regen_error = |error: RegenError| CannotRebuild {
            reason: error.to_string(),
            fix: Some(format!("openant {}", step_verb(kind))),
        };
        match kind {
            FileKind::Results => {
                let report = self.optional("analyze.report.json");
                let enhanced = self.dir.join("dataset_enhanced.json").exists()
                    || self.provided.contains_key(&FileKind::DatasetEnhanced);
                let default = if enhanced { "dataset_enhanced.json" } else { "dataset.json" };
                let dataset_name = input_name(report.as_ref(), "dataset_path").unwrap_or_else(|| default.into());
                let dataset = self.input_dataset(&dataset_name)?;
                let mut loaded = self.checkpoints("analyze_checkpoints", CheckpointStep::Analyze, None)?;
                let verified = self.verified_rows(&loaded.set);
                let fingerprint = self.optional("analyze_checkpoints/_fingerprint.json");
                let field = |k: &str| {
                    report
                        .as_ref()
                        .and_then(|r| r.get("inputs"))
                        .and_then(|i| i.get(k))
                        .filter(|v| !v.is_null())
                        .cloned()
                };
                let inputs = current::CurrentAnalyze {
                    dataset: (&dataset).into(),
                    dataset_name: dataset_name.clone(),
                    limit: field("limit"),
                    exploitable_filter: field("exploitable_filter"),
                    model: current::pick_identity("model", salvaged, report.as_ref(), fingerprint.as_ref())
                        .map_err(regen_error)?,
                    provider: current::pick_identity("provider", salvaged, report.as_ref(), fingerprint.as_ref())
                        .map_err(regen_error)?,
                    analyze_fingerprint: current::pick_fingerprint(salvaged, fingerprint.as_ref())
                        .map_err(regen_error)?,
                    verified: verified.as_ref(),
                };
                let now = chrono::Local::now().naive_local();
                let rebuilt =
                    current::rebuild_results_current(&inputs, &mut loaded.set, salvaged, now).map_err(regen_error)?;
                let mut inputs = vec![dataset_name];
                if fingerprint.is_some() {
                    inputs.push("analyze_checkpoints/_fingerprint.json".into());
                }
                self.finish(kind, rebuilt, loaded, inputs, "analyze")
            }
            _ => {
                let results = self.parsed("results.json")?;
                let loaded = self.checkpoints("verify_checkpoints", CheckpointStep::Verify, Some(&results))?;
                let rebuilt = current::rebuild_verified_current(results, &loaded.set, salvaged).map_err(regen_error)?;
                self.finish(kind, rebuilt, loaded, vec!["results.json".into()], "verify")
            }
        }
    }

    /// The builders of the older eras (spec/openant-layout.md §3). `old`: what the old file
    /// still holds; a rebuild that merges it into its document itself takes it.
    fn rebuild_era(
        &mut self,
        kind: FileKind,
        today: bool,
        old: &mut Option<regen::SalvagedFields>,
    ) -> Result<RebuiltFile, CannotRebuild> {
        let salvaged = old.as_ref();
        let era = self.line();
        let regen_error = |error: RegenError| CannotRebuild { reason: error.to_string(), fix: None };
        match kind {
            FileKind::DatasetEnhanced => {
                let report = self.optional("enhance.report.json");
                let dataset_name = input_name(report.as_ref(), "dataset_path").unwrap_or_else(|| "dataset.json".into());
                let dataset = self.parsed(&dataset_name)?;
                let cp_dir = checkpoints::enhance_checkpoint_dir_in(&self.dir, era);
                let mut loaded = self.checkpoints(cp_dir, CheckpointStep::Enhance, None)?;
                // Single-shot enhance records (`{id, llm_context, context_key}`, PR #95) are
                // restored by a builder whose dataset metadata today's OpenAnt writes in a form
                // not established (docs/openant-eras.md §1.8): rebuilding would write another
                // format, or drop the units' `llm_context`. Left alone, with the reason.
                if let Some(file) = loaded.set.files.iter().find(|f| f.data.get("context_key").is_some()) {
                    return Err(CannotRebuild {
                        reason: format!(
                            "not rebuilt: {cp_dir}/ holds single-shot enhance records ({} has \"context_key\"), whose \
                             dataset_enhanced.json metadata scanaudit does not know how today's OpenAnt writes; \
                             the file is left as it is",
                            file.name
                        ),
                        fix: Some("openant enhance (restores every unit from its checkpoints)".into()),
                    });
                }
                let inputs = EnhanceInputs { era, salvaged, single_file: loaded.record.as_ref() };
                // The dataset becomes the output, and the restored values leave the set: only
                // names and ids are read from it afterwards (`finish`).
                let document = enhanced_document(dataset, &mut loaded.set, &inputs).map_err(regen_error)?;
                self.finish_merged(kind, document, old, loaded, vec![dataset_name], "enhance")
            }
            FileKind::Results => {
                let report = self.optional("analyze.report.json");
                let enhanced = self.dir.join("dataset_enhanced.json").exists()
                    || self.provided.contains_key(&FileKind::DatasetEnhanced);
                // Without a report, the dataset the fork's analyze_checkpoint.json names is the
                // one that run read.
                let default = match self.single_file_dataset() {
                    Some(name) => name,
                    None if enhanced => "dataset_enhanced.json",
                    None => "dataset.json",
                };
                let dataset_name = input_name(report.as_ref(), "dataset_path").unwrap_or_else(|| default.into());
                let dataset = self.input_dataset(&dataset_name)?;
                let mut loaded = self.checkpoints("analyze_checkpoints", CheckpointStep::Analyze, None)?;
                let verified = self.verified_rows(&loaded.set);
                let mut inputs = AnalyzeInputs::from_report(&dataset, report.as_ref(), default);
                inputs.single_file = loaded.record.as_ref();
                inputs.verified = verified.as_ref();
                let now = chrono::Local::now().naive_local();
                let document = results_document(&inputs, &mut loaded.set, era, salvaged, now).map_err(regen_error)?;
                // Freed before the text is written: the dataset's tree, results_verified.json's
                // rows and the old file's tree are not read again, and outweigh the text. Here, not
                // in the background: the text's allocation reuses their memory (freed later, the
                // plan's peak rose by 80 MB).
                drop(inputs);
                drop((dataset, verified));
                self.finish_merged(kind, document, old, loaded, vec![dataset_name], "analyze")
            }
            FileKind::ResultsVerified => {
                let results = self.parsed("results.json")?;
                let mut loaded = self.checkpoints("verify_checkpoints", CheckpointStep::Verify, Some(&results))?;
                let rebuilt = rebuild_verified(results, &loaded.set, era, salvaged).map_err(regen_error)?;
                if let Some(note) = fork_confirmed_note(&rebuilt.value, &loaded.from_fork_verify) {
                    loaded.notes.push(note);
                }
                self.finish(kind, rebuilt, loaded, vec!["results.json".into()], "verify")
            }
            FileKind::PipelineOutput => {
                let mut provided = HashMap::new();
                for source in [FileKind::Results, FileKind::ResultsVerified] {
                    if let Some(contents) = self.provided.get(&source) {
                        let input = match self.take_handed(output_name(source)) {
                            Some(value) => Provided::Parsed(value),
                            // Parsed only if the build reads this one of the two.
                            None => {
                                let contents = contents.clone();
                                Provided::OnDemand(Box::new(move || {
                                    let bytes = contents.bytes().map_err(|e| e.to_string())?;
                                    pyjson::parse(&bytes).map_err(|e| e.to_string())
                                }))
                            }
                        };
                        provided.insert(output_name(source).to_string(), input);
                    }
                }
                let verify_ran = step_ran(&self.dir, FileKind::ResultsVerified)
                    || self.provided.contains_key(&FileKind::ResultsVerified);
                let options = PipelineOptions { provided, today, verify_ran, ..PipelineOptions::default() };
                let rebuilt = rebuild_pipeline_output(&self.dir, options).map_err(|error| CannotRebuild {
                    reason: error.to_string(),
                    fix: Some("openant build-output".into()),
                })?;
                Ok(rebuilt_file(rebuilt, Vec::new(), &self.dir))
            }
            FileKind::DynamicTestResults => {
                let pipeline = self.parsed("pipeline_output.json")?;
                let rebuilt =
                    rebuild_dynamic_results(&self.dir, &pipeline, &DynamicOptions::default()).map_err(|error| {
                        CannotRebuild { reason: error.to_string(), fix: Some("openant dynamic-test".into()) }
                    })?;
                let path = self.dir.join(output_name(kind));
                for missing in &rebuilt.missing {
                    self.missing.push(Unfixable {
                        path: path.clone(),
                        reason: format!(
                            "finding {} has no usable test result ({}): it was not invented",
                            missing.finding_id.as_str().unwrap_or("?"),
                            describe_missing(&missing.reason)
                        ),
                        fix: Some("openant dynamic-test".into()),
                    });
                }
                Ok(rebuilt_file(rebuilt.json, Vec::new(), &self.dir))
            }
            _ => Err(CannotRebuild { reason: format!("scanaudit does not rebuild {}", kind.describe()), fix: None }),
        }
    }

    /// [`Rebuilder::finish`] for a document not yet serialized, of an output written with
    /// `ensure_ascii=True` (results.json, dataset_enhanced.json): the lossless merge
    /// ([`make_lossless`]) is done first, so the old file's tree is freed before the text is
    /// allocated (it was most of the peak beside the document and its text), and the text is
    /// written once. The bytes are make_lossless's: such a document has no raw `\r\n` and no
    /// non-ASCII, and make_lossless wrote the merged document again the same way.
    fn finish_merged(
        &mut self,
        kind: FileKind,
        mut document: regen::Document,
        old: &mut Option<regen::SalvagedFields>,
        loaded: StepCheckpoints,
        first: Vec<String>,
        verb: &str,
    ) -> Result<RebuiltFile, CannotRebuild> {
        let merged = match old.take() {
            // Only the fields the builder read were held: the old file is read again, and
            // merged from its text, one member and one row at a time.
            Some(fields) if merged_from_text(kind) => {
                drop(fields);
                let bytes = self.old_bytes(kind).ok_or_else(|| CannotRebuild {
                    reason: format!("the old {} cannot be read again to carry its keys over", output_name(kind)),
                    fix: None,
                })?;
                lossless::merge_lossless_text(&bytes, &mut document.value)
            }
            old => old
                .and_then(regen::SalvagedFields::into_tree)
                .map(|tree| lossless::merge_lossless(&tree, &mut document.value)),
        };
        // A document no later rebuild is handed is freed as it is written.
        let keep_value = is_handed_on(kind);
        let cannot = |error: RegenError| CannotRebuild { reason: error.to_string(), fix: None };
        let (rebuilt, written) = match &self.spill {
            // A plan to be applied: past its memory budget the text goes straight into the
            // unnamed file the apply links in, never whole in memory.
            Some(budget) => {
                let mut writer = TextWriter::new(&self.dir, budget);
                let mut rebuilt = document.serialize_into(keep_value, &mut writer).map_err(cannot)?;
                let written = writer.finish(std::mem::take(&mut rebuilt.bytes)).map_err(|error| CannotRebuild {
                    reason: format!("its text could not be written into an unnamed file nor kept in memory ({error})"),
                    fix: None,
                })?;
                (rebuilt, Some(written))
            }
            None if keep_value => (document.serialize().map_err(cannot)?, None),
            None => (document.serialize_consuming().map_err(cannot)?, None),
        };
        let mut file = self.finish(kind, rebuilt, loaded, first, verb)?;
        if let Some(written) = written {
            file.contents = written;
        }
        file.notes.extend(merged.iter().flat_map(|m| m.notes(output_name(kind))));
        Ok(file)
    }

    /// The plan entry of a rebuild from a step's checkpoints: its inputs (`first` and then the
    /// checkpoints'), the single files' notes before the rebuild's own, and the units it had
    /// no usable checkpoint for.
    fn finish(
        &mut self,
        kind: FileKind,
        rebuilt: Rebuilt,
        loaded: StepCheckpoints,
        first: Vec<String>,
        verb: &str,
    ) -> Result<RebuiltFile, CannotRebuild> {
        let mut notes = loaded.notes.clone();
        self.refuse_if_unusable(&loaded, &rebuilt.missing_units, verb, &mut notes)?;
        self.missing_units(kind, &rebuilt.missing_units, verb);
        let mut inputs = first;
        inputs.extend(loaded.inputs);
        // The step's checkpoints as trees (the analyze step's are most of the results rebuild's memory).
        drop_in_background(loaded.set);
        let mut file = rebuilt_file(rebuilt, inputs, &self.dir);
        notes.append(&mut file.notes);
        file.notes = notes;
        Ok(file)
    }
}

/// The notes on one single file of a step: how many units came from it, which per-unit files
/// won over it, and, when any came from it, what the conversion filled in or left out and how
/// its OpenAnt version wrote the output differently. The conversion's `total_units` and
/// `usage` notes are left out: they concern `_summary.json` and usage totals, which no rebuilt
/// output holds.
fn single_file_notes(
    file: &single_file::LegacyFile,
    converted: &single_file::Converted,
    merged: &single_file::Merged,
    errored: &single_file::Merged,
    dir_name: &str,
) -> Vec<String> {
    let name = &file.name;
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut notes = Vec::new();
    let what = match file.kind {
        LegacyKind::WholeDataset => "whole-dataset enhance checkpoint",
        LegacyKind::ForkAnalyze | LegacyKind::ForkVerify => "single-file checkpoint of the fork before a565352",
    };
    if !merged.added.is_empty() {
        notes.push(format!(
            "{name}: {} taken from this {what}, as `scanaudit migrate` would write them into {}/",
            plural(merged.added.len(), "unit", "units"),
            file.kind.dir_name()
        ));
    }
    if !errored.added.is_empty() {
        notes.push(format!(
            "{name}: errored units taken too, as what a failed retry writes (`scanaudit migrate` leaves them out, as OpenAnt's own legacy migration does; OpenAnt re-runs them either way): {}",
            brief_list(errored.added.iter().map(String::as_str))
        ));
    }
    let kept: Vec<&str> = merged.kept.iter().chain(&errored.kept).map(String::as_str).collect();
    if !kept.is_empty() {
        notes.push(format!(
            "{name}: for {} of its units {dir_name}/ has its own file, which wins (OpenAnt wrote it after the single file): {}",
            kept.len(),
            brief_list(kept.iter().copied())
        ));
    }
    let superseded: Vec<&str> = merged.superseded.iter().chain(&errored.superseded).map(String::as_str).collect();
    if !superseded.is_empty() {
        notes.push(format!(
            "{name}: {} taken from a newer single file instead: {}",
            plural(superseded.len(), "unit", "units"),
            brief_list(superseded.iter().copied())
        ));
    }
    if merged.added.is_empty() && errored.added.is_empty() {
        // Nothing of it is in the output: what its conversion filled in does not matter.
        return notes;
    }
    let ids = |why: LeftOutWhy| -> Vec<&str> {
        converted.left_out(why).map(|l| l.id.as_deref().unwrap_or("(no id)")).collect()
    };
    // Errored units without a file to restore (a key the fork marked done but saved nothing for).
    let restorable: HashSet<&str> = converted.errored.iter().map(|u| u.id.as_str()).collect();
    let lost: Vec<&str> = ids(LeftOutWhy::Errored).into_iter().filter(|id| !restorable.contains(id)).collect();
    if !lost.is_empty() {
        notes.push(format!(
            "{name}: {} failed with nothing saved, so OpenAnt re-runs them: {}",
            plural(lost.len(), "unit", "units"),
            brief_list(lost.iter().copied())
        ));
    }
    let not_reached = ids(LeftOutWhy::NotReached);
    if !not_reached.is_empty() {
        notes.push(format!(
            "{name}: {} the interrupted run had not reached: {}",
            plural(not_reached.len(), "unit", "units"),
            brief_list(not_reached.iter().copied())
        ));
    }
    for why in [LeftOutWhy::Unusable, LeftOutWhy::Overwritten] {
        for left in converted.left_out(why) {
            let id = left.id.as_deref().map_or_else(String::new, |id| format!("{id:?} "));
            let label = if why == LeftOutWhy::Unusable { "left out" } else { "superseded" };
            notes.push(format!("{name}: {id}{label}: {}", left.detail));
        }
    }
    for field in converted.filled_in.iter().filter(|f| f.field != "total_units" && f.field != "usage") {
        notes.push(format!("{name}: {}: {}", field.field, field.note));
    }
    for field in single_file::format_notes(file) {
        notes.push(format!("{}: {}", field.field, field.note));
    }
    notes
}

/// The fork's verify (every version that wrote `verify_checkpoint.json`, and its master until
/// 98ff638) put a finding in `confirmed_findings` only when Stage 2 agreed; its master and
/// current OpenAnt keep every finding whose final verdict is vulnerable or bypassable. Says
/// which findings from the fork's file that changes, if any.
fn fork_confirmed_note(rebuilt: &PyValue, from_fork: &HashSet<String>) -> Option<String> {
    let confirmed = rebuilt.get("confirmed_findings")?.as_array()?;
    let differ: Vec<&str> = confirmed
        .iter()
        .filter(|r| r.get("verification").and_then(|v| v.get("agree")) != Some(&PyValue::Bool(true)))
        .filter_map(|r| {
            let key = r.get("unit_id").and_then(PyValue::as_str).filter(|k| !k.is_empty());
            key.or_else(|| r.get("route_key").and_then(PyValue::as_str))
        })
        .filter(|k| from_fork.contains(*k))
        .collect();
    (!differ.is_empty()).then(|| {
        format!(
            "confirmed_findings: holds {} that Stage 2 did not agree with but left vulnerable or bypassable, as the fork's master writes it; the fork that wrote verify_checkpoint.json required verification.agree and left {} out",
            brief_list(differ.iter().copied()),
            if differ.len() == 1 { "it" } else { "them" }
        )
    })
}

fn describe_missing(reason: &MissingReason) -> String {
    match reason {
        MissingReason::NoCheckpoint => "no checkpoint".into(),
        MissingReason::Errored => "its checkpoint records an ERROR".into(),
        MissingReason::Stale(why) => format!("its checkpoint belongs to another finding: {why}"),
        MissingReason::Unrestorable(why) => why.clone(),
    }
}

/// The basename of a path a step report recorded among its inputs.
fn input_name(report: Option<&PyValue>, key: &str) -> Option<String> {
    let path = report?.get("inputs")?.get(key)?.as_str()?;
    let name = path.rsplit(['/', '\\']).next()?;
    (!name.is_empty()).then(|| name.to_string())
}

/// One line per kind of note: the same note on many units (`results[<id>].verification_note`)
/// becomes `results[*].verification_note (N units, e.g. <id>)`.
fn group_notes<'a>(notes: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    const LIST_UP_TO: usize = 3;
    let mut groups: Vec<(String, &str, Vec<&str>)> = Vec::new();
    for (field, note) in notes {
        let (pattern, unit) = match (field.find('['), field.rfind(']')) {
            (Some(open), Some(close)) if open < close => {
                (format!("{}[*]{}", &field[..open], &field[close + 1..]), &field[open + 1..close])
            }
            _ => (field.to_string(), ""),
        };
        match groups.iter_mut().find(|(p, n, _)| *p == pattern && *n == note) {
            Some((_, _, units)) => units.push(unit),
            None => groups.push((pattern, note, vec![unit])),
        }
    }
    groups
        .into_iter()
        .flat_map(|(pattern, note, units)| {
            if units.len() <= LIST_UP_TO {
                let field = |unit: &str| if unit.is_empty() { pattern.clone() } else { pattern.replacen('*', unit, 1) };
                units.iter().map(|u| format!("{}: {note}", field(u))).collect::<Vec<_>>()
            } else {
                vec![format!("{pattern} ({} units, e.g. {}): {note}", units.len(), units[0])]
            }
        })
        .collect()
}

/// The plan entry of a rebuilt output: its notes grouped by kind (then the rebuild's own
/// notes), and the inputs the caller names followed by those the rebuild read itself (as
/// paths relative to the scan dir, each once).
fn rebuilt_file(rebuilt: Rebuilt, mut inputs: Vec<String>, dir: &Path) -> RebuiltFile {
    let mut notes = group_notes(rebuilt.inexact.iter().map(|i| (i.field.as_str(), i.note.as_str())));
    notes.extend(rebuilt.notes);
    for input in &rebuilt.inputs {
        let name = input.path.strip_prefix(dir).unwrap_or(&input.path).display().to_string();
        if !inputs.contains(&name) {
            inputs.push(name);
        }
    }
    RebuiltFile { contents: Contents::from(rebuilt.bytes.into_bytes()), value: rebuilt.value, notes, inputs }
}

/// [`lossless::outline`]: an output's top-level keys and its `metrics`.
type Outline = (Vec<String>, Option<lossless::Node>);

/// The outputs whose outline the rebuilds after them read era markers from (`input_markers`
/// in [`Rebuilder::builder_for`]).
const OUTLINED: [FileKind; 2] = [FileKind::Results, FileKind::ResultsVerified];

/// The earlier outputs whose rebuilt document the rebuild of `kind` reads, handed to it rather
/// than parsed back from their bytes ([`Rebuilder::provide_rebuilt`]).
///
/// Not dataset_enhanced.json's, which the results rebuild reads: its document is the dataset
/// with every unit's map grown in place, about 40% larger than the tree its bytes parse into,
/// and the results rebuild is where repair's memory peaks (measured: 130 MB more at the peak,
/// for no measurable time saved). The results rebuild parses its bytes.
fn handed_readers(kind: FileKind) -> &'static [FileKind] {
    match kind {
        FileKind::ResultsVerified => &[FileKind::Results],
        FileKind::PipelineOutput => &[FileKind::Results, FileKind::ResultsVerified],
        FileKind::DynamicTestResults => &[FileKind::PipelineOutput],
        _ => &[],
    }
}

/// Whether the lossless merge of `kind` reads the old file's text (again, once the document is
/// built: [`lossless::merge_lossless_text`]) rather than its tree, held through the rebuild:
/// dataset_enhanced.json, whose builder reads one field of the old file, and whose old tree
/// was a quarter of the enhance rebuild's peak. The results builders read the old rows.
fn merged_from_text(kind: FileKind) -> bool {
    kind == FileKind::DatasetEnhanced
}

/// Whether a later rebuild is handed the document of `kind` ([`handed_readers`]).
fn is_handed_on(kind: FileKind) -> bool {
    REBUILD_ORDER.iter().any(|reader| handed_readers(*reader).contains(&kind))
}

/// Frees `value` on a thread of its own: a rebuild's trees are hundreds of MB in millions of
/// allocations, and freeing one takes a good part of the time parsing it took, which the work
/// after it need not wait for. When the system refuses a thread, the value is freed here.
pub fn drop_in_background<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new().name("drop".into()).spawn(move || drop(value));
}

/// Why a rebuild reads nothing from its input `name`, which the reader refused.
fn damaged_input(name: &str, error: pyjson::ParseError) -> CannotRebuild {
    CannotRebuild {
        reason: if error.kind == pyjson::ParseErrorKind::LoneSurrogate {
            format!("its input {name} holds {error}: nothing is rebuilt from it")
        } else {
            format!("its input {name} is damaged ({error}); repair or re-create it first")
        },
        fix: None,
    }
}

/// The `openant` step that writes `kind`.
fn step_verb(kind: FileKind) -> &'static str {
    match kind {
        FileKind::DatasetEnhanced => "enhance",
        FileKind::Results => "analyze",
        FileKind::ResultsVerified => "verify",
        FileKind::PipelineOutput => "build-output",
        FileKind::DynamicTestResults => "dynamic-test",
        _ => "scan",
    }
}

/// The era markers an old output's keys carry: its top-level keys and its `metrics` keys, as
/// far as its readable prefix goes.
fn markers_of(kind: FileKind, rel: &str, old: &lossless::Node) -> Vec<crate::era::Marker> {
    let metrics = old.member("metrics");
    let metric_keys: Vec<&str> = metrics.as_ref().map(|m| m.keys()).unwrap_or_default();
    crate::era::key_markers(kind, rel, old.keys(), metric_keys)
}

/// Carries every key of the old file the rebuild does not produce into it (see
/// [`lossless`]), re-serialized the way the builder wrote it (its `ensure_ascii`, its line
/// breaks), and names the carried keys in the notes. `old` is freed once merged: a document
/// serialized anew must not have the old file's tree beside it.
fn make_lossless(mut file: RebuiltFile, old: lossless::Node, name: &str) -> Result<RebuiltFile, CannotRebuild> {
    let (crlf, ensure_ascii) = {
        let bytes = file.contents.bytes().map_err(|e| CannotRebuild {
            reason: format!("its rebuilt text cannot be read back to merge the old file into it ({e})"),
            fix: None,
        })?;
        // Which `ensure_ascii` the builder wrote with: `False` leaves non-ASCII text and DEL raw;
        // without either, both settings write the same bytes, so `True` reproduces them.
        (bytes.windows(2).any(|w| w == b"\r\n"), bytes.is_ascii() && !bytes.contains(&0x7f))
    };
    let merged = lossless::merge_lossless(&old, &mut file.value);
    file.notes.extend(merged.notes(name));
    if !merged.changed() {
        drop_in_background(old);
        return Ok(file);
    }
    drop(old);
    // Serialized anew below: the builder's bytes are not needed beside it.
    file.contents = Contents::from(Vec::new());
    let out = pyjson::to_python_string(&file.value, ensure_ascii)
        .map_err(|e| CannotRebuild { reason: format!("cannot serialize the merged document: {e}"), fix: None })?;
    file.contents = Contents::from(if crlf { out.replace('\n', "\r\n").into_bytes() } else { out.into_bytes() });
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regen::test_support::copy_tree;
    use std::sync::Arc;

    /// A rebuilt results.json's document is kept through the rebuilds that read it, a healthy
    /// results_verified.json between them included, and freed at the first that does not; a
    /// rebuilt dataset_enhanced.json's is never kept.
    #[test]
    fn a_handed_document_lives_until_the_last_rebuild_that_reads_it() {
        let scan = tempfile::tempdir().unwrap();
        let mut rebuilder = Rebuilder::new(scan.path());
        let handed = |r: &Rebuilder| r.handed.borrow().as_ref().map(|(kind, _)| *kind);
        let doc = || pyjson::parse(b"{}").unwrap();
        rebuilder.provide_rebuilt(FileKind::DatasetEnhanced, Arc::new(b"{}".to_vec()), doc());
        assert_eq!(handed(&rebuilder), None);
        rebuilder.provide_rebuilt(FileKind::Results, Arc::new(b"{}".to_vec()), doc());
        rebuilder.keep_handed_for(FileKind::ResultsVerified);
        rebuilder.keep_handed_for(FileKind::PipelineOutput);
        assert_eq!(handed(&rebuilder), Some(FileKind::Results));
        rebuilder.keep_handed_for(FileKind::DynamicTestResults);
        assert_eq!(handed(&rebuilder), None);
        // Taken by the first read, so a second read parses the bytes.
        rebuilder.provide_rebuilt(FileKind::PipelineOutput, Arc::new(b"{}".to_vec()), doc());
        rebuilder.keep_handed_for(FileKind::DynamicTestResults);
        assert!(rebuilder.take_handed("pipeline_output.json").is_some());
        assert!(rebuilder.take_handed("pipeline_output.json").is_none());
    }

    #[test]
    fn the_forks_confirmed_findings_rule_is_named_where_it_differs() {
        let rebuilt = pyjson::parse(
            br#"{"confirmed_findings": [
                {"unit_id": "a", "verification": {"agree": true}, "finding": "vulnerable"},
                {"unit_id": "b", "verification": {"agree": false}, "finding": "vulnerable"},
                {"unit_id": "", "route_key": "GET:/c", "verification": {}, "finding": "bypassable"},
                {"unit_id": "d", "verification": {"agree": false}, "finding": "vulnerable"}
            ]}"#,
        )
        .unwrap();
        let from_fork: HashSet<String> = ["a", "b", "GET:/c"].iter().map(|s| s.to_string()).collect();
        let note = fork_confirmed_note(&rebuilt, &from_fork).unwrap();
        // d's verification is not the fork's: its own checkpoint decided it.
        assert!(
            note.starts_with("confirmed_findings: holds \"b\", \"GET:/c\" that Stage 2 did not agree with"),
            "{note}"
        );
        assert!(fork_confirmed_note(&rebuilt, &HashSet::new()).is_none());
    }

    /// A torn output too large to hold in memory (a 2 GB `results.json` once took 14.5 GB) is
    /// refused before it is read, naming the file, its size and the limit; so is a rebuild
    /// that would read it as an input. Sparse files: the case costs no disk and reads nothing.
    #[test]
    fn an_output_over_the_read_limit_is_refused_with_the_reason() {
        let scan = tempfile::tempdir().unwrap();
        let results = scan.path().join("results.json");
        std::fs::write(&results, b"{\"results\": [").unwrap();
        std::fs::OpenOptions::new().write(true).open(&results).unwrap().set_len(600_000_000).unwrap();
        let mut rebuilder = Rebuilder::new(scan.path());
        // Every rebuild reads the results files for the OpenAnt line (detect_era_in_dir).
        for kind in REBUILD_ORDER {
            let refused = rebuilder.rebuild(kind).unwrap_err();
            let expected = format!(
                "{} is 600 MB, over the 500 MB a rebuild reads into memory: nothing is rebuilt from it, and it is \
                 left as it is",
                results.display()
            );
            assert_eq!(refused.reason, expected, "{kind:?}");
            assert_eq!(refused.fix, Some(format!("openant {}", step_verb(kind))));
        }
        let dataset = scan.path().join("dataset.json");
        std::fs::File::create(&dataset).unwrap().set_len(MAX_REBUILD_READ + 1).unwrap();
        let refused = rebuilder.parsed("dataset.json").unwrap_err();
        assert!(refused.reason.starts_with("its input ") && refused.reason.contains("dataset.json is 500 MB, over"));
    }

    /// A copy of a healthy fixture scan, to damage.
    fn healthy_scan_copy() -> tempfile::TempDir {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/healthy/projects/acme-webapp/scans/3f9c2e1b7a6/python");
        let scan = tempfile::tempdir().unwrap();
        copy_tree(&fixture, scan.path());
        scan
    }

    /// analyze's results.json is merged with the old file before it is serialized (the old
    /// tree freed first): the bytes are the merged document written as `make_lossless` writes
    /// it again (ensure_ascii=True, `\n`), and the merge's notes come after the rebuild's.
    #[test]
    fn a_results_rebuild_merges_the_old_file_before_writing_it_once() {
        let scan = healthy_scan_copy();
        let path = scan.path().join("results.json");
        let mut old = pyjson::parse(&std::fs::read(&path).unwrap()).unwrap();
        for row in old.get_mut("results").and_then(PyValue::as_array_mut).unwrap() {
            row.as_object_mut().unwrap().insert("kept_by_merge".into(), PyValue::from("\u{e9}"));
        }
        let text = pyjson::to_python_string(&old, true).unwrap();
        std::fs::write(&path, &text.as_bytes()[..text.len() * 7 / 10]).unwrap();
        let file = Rebuilder::new(scan.path()).rebuild(FileKind::Results).unwrap();
        let rows = file.value.get("results").and_then(PyValue::as_array).unwrap();
        assert!(rows.iter().any(|r| r.get("kept_by_merge").is_some()));
        assert_eq!(file.contents.bytes().unwrap(), pyjson::to_python_string(&file.value, true).unwrap().as_bytes());
        let last = file.notes.last().unwrap();
        assert!(last.starts_with("carried over from the old results.json at their place"), "{:?}", file.notes);
    }

    /// dataset_enhanced.json is merged with its old torn file from the text, once the document
    /// is built, and written as it is freed: the bytes and the merge's notes are those the old
    /// file's tree gives, merged into the document the builder writes without an old file.
    #[test]
    fn an_enhance_rebuild_merges_the_old_torn_file_as_its_tree_does() {
        let scan = healthy_scan_copy();
        let path = scan.path().join("dataset_enhanced.json");
        let mut old = pyjson::parse(&std::fs::read(&path).unwrap()).unwrap();
        old.as_object_mut().unwrap().shift_insert(1, "kept_at_the_top".into(), PyValue::from("t"));
        let units = old.get_mut("units").and_then(PyValue::as_array_mut).unwrap();
        for unit in units.iter_mut() {
            unit.as_object_mut().unwrap().insert("kept_by_merge".into(), PyValue::from("\u{e9}"));
        }
        units.insert(1, pyjson::parse(br#"{"id": "gone.py:f", "code": "x"}"#).unwrap());
        let text = pyjson::to_python_string(&old, true).unwrap();
        let torn = &text.as_bytes()[..text.len() * 7 / 10];
        std::fs::remove_file(&path).unwrap();
        let built = Rebuilder::new(scan.path()).rebuild(FileKind::DatasetEnhanced).unwrap();
        std::fs::write(&path, torn).unwrap();
        let file = Rebuilder::new(scan.path()).rebuild(FileKind::DatasetEnhanced).unwrap();
        let mut want = pyjson::parse(&built.contents.bytes().unwrap()).unwrap();
        let merged = lossless::merge_lossless(&lossless::salvage_tree(torn).unwrap(), &mut want);
        assert!(!merged.carried.is_empty() && !merged.dropped_rows.is_empty(), "{merged:?}");
        assert_eq!(
            String::from_utf8(file.contents.bytes().unwrap().into_owned()).unwrap(),
            pyjson::to_python_string(&want, true).unwrap()
        );
        let notes = merged.notes("dataset_enhanced.json");
        assert!(file.notes.ends_with(&notes), "{:?}", file.notes);
        // Nothing reads the document once written: it was freed as it was.
        assert_eq!(file.value, PyValue::Null);
    }

    /// A checkpoint no rebuild can carry (a lone surrogate), in `dir` of `scan`.
    fn write_uncarriable_checkpoint(scan: &Path, dir: &str) {
        let unit = r#"{"id": "x.py:f", "result": {"unit_id": "x.py:f", "finding": "\ud800"}, "llm_context": "\ud800"}"#;
        std::fs::write(scan.join(dir).join("x.py_f.json"), unit).unwrap();
    }

    /// A damaged input dataset refuses the rebuild before its checkpoints would: a rebuild that
    /// reads the two at once (they need nothing from each other) must keep this order.
    #[test]
    fn a_damaged_dataset_refuses_a_rebuild_before_its_checkpoints_do() {
        for (kind, dataset, dir) in [
            (FileKind::DatasetEnhanced, "dataset.json", "enhance_checkpoints"),
            (FileKind::Results, "dataset_enhanced.json", "analyze_checkpoints"),
        ] {
            let scan = healthy_scan_copy();
            write_uncarriable_checkpoint(scan.path(), dir);
            let refused = Rebuilder::new(scan.path()).rebuild(kind).unwrap_err();
            assert!(refused.reason.starts_with(&format!("{dir}/x.py_f.json holds ")), "{kind:?}: {}", refused.reason);
            let path = scan.path().join(dataset);
            let text = std::fs::read(&path).unwrap();
            std::fs::write(&path, &text[..text.len() / 2]).unwrap();
            let refused = Rebuilder::new(scan.path()).rebuild(kind).unwrap_err();
            assert!(
                refused.reason.starts_with(&format!("its input {dataset} is damaged (")),
                "{kind:?}: {}",
                refused.reason
            );
        }
    }

    /// An old results.json from a newer OpenAnt refuses the rebuild with that reason, not with
    /// what its checkpoints say: a rebuild loading them while the old file is salvaged, before
    /// its era is told, must keep this order.
    #[test]
    fn an_unknown_era_refuses_a_results_rebuild_before_its_checkpoints_do() {
        let scan = healthy_scan_copy();
        write_uncarriable_checkpoint(scan.path(), "analyze_checkpoints");
        let path = scan.path().join("results.json");
        let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
        let newer = text.replacen('{', "{\"analysis_schema\": 3, ", 1);
        std::fs::write(&path, &newer.as_bytes()[..newer.len() / 2]).unwrap();
        let refused = Rebuilder::new(scan.path()).rebuild(FileKind::Results).unwrap_err();
        assert!(
            refused.reason.contains("\"analysis_schema\"") && refused.reason.contains("newer"),
            "{}",
            refused.reason
        );
    }

    /// The checkpoints the enhance and results rebuilds load are shown to this thread's load
    /// observer, each unit file once: the plan judges them from what was shown (a load moved
    /// to another thread, or made twice, would break that).
    #[test]
    fn checkpoints_loaded_beside_the_serial_reads_are_observed_once_each() {
        use std::sync::Mutex;
        let scan = healthy_scan_copy();
        let shown: Arc<Mutex<Vec<(CheckpointStep, String)>>> = Arc::default();
        let observer: Arc<checkpoints::LoadObserver> = {
            let shown = Arc::clone(&shown);
            Arc::new(move |path: &Path, step, _: &libc::stat, _: &crate::validate::Validation| {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                shown.lock().unwrap().push((step, name));
            })
        };
        let _observing = checkpoints::observe_loads(observer);
        let mut rebuilder = Rebuilder::new(scan.path());
        for (kind, step, dir) in [
            (FileKind::DatasetEnhanced, CheckpointStep::Enhance, "enhance_checkpoints"),
            (FileKind::Results, CheckpointStep::Analyze, "analyze_checkpoints"),
        ] {
            rebuilder.rebuild(kind).unwrap();
            let mut units: Vec<String> = std::fs::read_dir(scan.path().join(dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != checkpoints::SUMMARY_FILE)
                .collect();
            units.sort();
            let shown: Vec<(CheckpointStep, String)> = shown.lock().unwrap().drain(..).collect();
            assert!(shown.iter().all(|(shown_step, _)| *shown_step == step), "{kind:?}");
            let mut seen: Vec<String> = shown.into_iter().map(|(_, name)| name).collect();
            seen.sort();
            assert!(!units.is_empty());
            assert_eq!(seen, units, "{kind:?}");
        }
    }

    #[test]
    fn notes_about_many_units_are_grouped() {
        let many: Vec<(String, &str)> =
            (0..5).map(|i| (format!("results[u{i}].verification_note"), "restored as \"\"")).collect();
        let mut notes: Vec<(&str, &str)> = many.iter().map(|(f, n)| (f.as_str(), *n)).collect();
        notes.push(("timestamp", "set to now"));
        notes.push(("results[x].finding", "kept"));
        let grouped = group_notes(notes.into_iter());
        assert_eq!(
            grouped,
            [
                "results[*].verification_note (5 units, e.g. u0): restored as \"\"",
                "timestamp: set to now",
                "results[x].finding: kept"
            ]
        );
    }
}
