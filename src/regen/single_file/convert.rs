//! Converting a parsed single-file checkpoint into the per-unit checkpoint files current
//! OpenAnt reads, in memory ([`convert`]), with the `_summary.json` `write_summary` would write
//! ([`summary_document`]), and adding converted units to a step's loaded checkpoint set
//! ([`merge_units`]). Pure: `migrate` and `repair` decide where the bytes go.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::SystemTime;

use chrono::{DateTime, Timelike, Utc};

use super::field_note::FieldNote;
use super::kind::LegacyKind;
use crate::layout::safe_filename::checkpoint_file_name;
use crate::layout::CheckpointStep;
use crate::pyjson::{python_round, to_python_string, PyObject, PyValue};
use crate::regen::checkpoints::{classify, is_restorable, CheckpointSet, CpStatus, SUMMARY_FILE};
use crate::regen::py::{add, is_str, truthy};
use crate::regen::RegenError;
use crate::text::brief_list;

/// Longest file name (bytes) Linux file systems take; OpenAnt's `safe_filename` counts code
/// points, so a multi-byte id can give a name OpenAnt itself cannot create.
const NAME_MAX: usize = 255;

/// Units of single files added to a checkpoint set (see [`merge_units`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merged {
    /// Ids added.
    pub added: Vec<String>,
    /// Names of the set's own files that won over a unit of the single file.
    pub kept: Vec<String>,
    /// Ids an earlier (newer) single file had already given.
    pub superseded: Vec<String>,
}

/// Adds converted units to a set loaded from the step's per-unit dir, as `migrate` would
/// write them there: a file the dir already has under the unit's name (even one that does not
/// parse), or for the unit's id, wins, since OpenAnt wrote it after the single file stopped
/// changing. `earlier` holds the ids and file names that other single files of the step,
/// merged before, gave; theirs win too.
pub fn merge_units(set: &mut CheckpointSet, units: &[UnitCheckpoint], earlier: &HashSet<String>) -> Merged {
    let mut merged = Merged::default();
    let mut files = Vec::new();
    for unit in units {
        if earlier.contains(&unit.id) || earlier.contains(&unit.file_name) {
            merged.superseded.push(unit.id.clone());
            continue;
        }
        if set.unreadable(&unit.file_name).is_some() {
            merged.kept.push(unit.file_name.clone());
            continue;
        }
        if let Some(own) = set.by_name(&unit.file_name).or_else(|| set.get(&unit.id)) {
            merged.kept.push(own.name.clone());
            continue;
        }
        merged.added.push(unit.id.clone());
        files.push((unit.file_name.clone(), Ok(unit.bytes.clone().into_bytes())));
    }
    if !files.is_empty() {
        set.extend_files(files);
    }
    merged
}

/// A legacy document and what its conversion may consult besides it.
#[derive(Debug, Clone, Copy)]
pub struct LegacyInputs<'a> {
    pub kind: LegacyKind,
    pub document: &'a PyValue,
    /// The legacy file's mtime: when its last unit was done. `_summary.json`'s timestamp.
    pub modified: SystemTime,
    /// `results.json` of the scan dir, for [`LegacyKind::ForkVerify`]: the fork keyed verify
    /// progress by `route_key`, current OpenAnt by `unit_id`, and the findings it verifies
    /// (`total_units`) are the vulnerable/bypassable results.
    pub results: Option<&'a PyValue>,
    /// The dataset the fork's analyze read (its `dataset` field names it), for
    /// [`LegacyKind::ForkAnalyze`]'s `total_units`.
    pub dataset: Option<&'a PyValue>,
}

/// One per-unit checkpoint file.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitCheckpoint {
    /// The `id` inside the file.
    pub id: String,
    /// `safe_filename(id) + ".json"`: always a single file name, whatever the id holds.
    pub file_name: String,
    pub value: PyValue,
    /// `value` as OpenAnt's `write_json` writes it: `json.dump(indent=2)`, ensure_ascii, no
    /// trailing newline.
    pub bytes: String,
}

/// Why a unit of the legacy file gets no per-unit file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftOutWhy {
    /// The step failed on it; OpenAnt's own legacy migration leaves these out so they re-run.
    Errored,
    /// The interrupted run never reached it (no `agent_context` yet).
    NotReached,
    /// The entry cannot be a checkpoint file (no usable id, not an object, a name that cannot
    /// exist or is the summary's).
    Unusable,
    /// A later entry writes the same file (the same id again, or a `safe_filename` collision);
    /// as in OpenAnt's write order, the later one is kept.
    Overwritten,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// The unit's id, when it has a usable one.
    pub id: Option<String>,
    pub why: LeftOutWhy,
    pub detail: String,
}

/// The per-unit files and `_summary.json` of one legacy file.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    pub kind: LegacyKind,
    /// In the order OpenAnt would have written them, one per file name.
    pub units: Vec<UnitCheckpoint>,
    /// The files the step's writer saves for the units that failed (errored results, error
    /// agent_contexts, empty verifications), which [`Self::units`] leaves out as OpenAnt's own
    /// legacy migration does. No name is also in `units`. `repair` restores them as what a
    /// failed retry writes, as it does errored per-unit files.
    pub errored: Vec<UnitCheckpoint>,
    /// The `total_units` of the summary.
    pub total_units: usize,
    /// The summary's timestamp (from [`LegacyInputs::modified`]).
    pub timestamp: String,
    /// `_summary.json` over [`Self::units`].
    pub summary: PyValue,
    pub left_out: Vec<LeftOut>,
    pub filled_in: Vec<FieldNote>,
}

impl Converted {
    /// `_summary.json`'s bytes.
    pub fn summary_bytes(&self) -> String {
        // A summary is a few flat levels deep: the writer cannot fail on it.
        to_python_string(&self.summary, true).unwrap_or_default()
    }

    pub fn left_out(&self, why: LeftOutWhy) -> impl Iterator<Item = &LeftOut> {
        self.left_out.iter().filter(move |l| l.why == why)
    }
}

/// Converts one legacy document. Never fails: entries that cannot be converted are reported in
/// [`Converted::left_out`].
pub fn convert(inputs: &LegacyInputs<'_>) -> Converted {
    let mut out = Units::default();
    let mut filled_in = Vec::new();
    let total_units = match inputs.kind {
        LegacyKind::WholeDataset => enhance_units(inputs.document, &mut out),
        LegacyKind::ForkAnalyze => analyze_units(inputs, &mut out, &mut filled_in),
        LegacyKind::ForkVerify => verify_units(inputs, &mut out, &mut filled_in),
    };
    if inputs.kind != LegacyKind::WholeDataset && !out.slots.is_empty() {
        let legacy_total = inputs.document.get("token_usage").map_or(String::new(), |u| {
            let total =
                |k: &str| u.get(k).map_or_else(|| "?".to_owned(), |v| to_python_string(v, true).unwrap_or_default());
            format!(
                " (the file records the step's total: {} input and {} output tokens, ${})",
                total("total_input_tokens"),
                total("total_output_tokens"),
                total("total_cost_usd")
            )
        });
        filled_in.push(FieldNote {
            field: "usage".to_owned(),
            note: format!(
                "left out of every unit file: the single file records no per-unit usage{legacy_total}; OpenAnt reads a missing usage as zero"
            ),
        });
    }
    let units: Vec<UnitCheckpoint> = out.slots.into_iter().flatten().collect();
    let names: HashSet<&str> = units.iter().map(|u| u.file_name.as_str()).collect();
    let errored: Vec<UnitCheckpoint> =
        out.errored.into_values().filter(|e| !names.contains(e.file_name.as_str())).collect();
    let timestamp = summary_timestamp(inputs.modified);
    let (summary, notes) = summary_document(inputs.kind, total_units, &timestamp, units.iter().map(|u| &u.value));
    filled_in.extend(notes);
    Converted { kind: inputs.kind, units, errored, total_units, timestamp, summary, left_out: out.left_out, filled_in }
}

/// `_summary.json` as `StepCheckpoint.write_summary` writes it right after a migration, the counts of the given per-unit documents classified by the step's resume
/// rule (errors keyed as the step keys them: the enhance error type, `api` for analyze and
/// verify), and their `usage` summed the way OpenAnt sums it (`cost_usd` rounded to 6 places).
/// Callers that keep existing files beside converted ones pass all of them. The notes name
/// usage values OpenAnt could not have added up.
///
/// The phase is `done` when the unit files cover every unit of the step's input (completed
/// plus errored reach `total_units`): that run finished, and OpenAnt writes `done` after a
/// finished run. Otherwise `in_progress`. An `in_progress` dir makes the Go CLI ask "Previous
/// analyze run interrupted (7/7 completed), resume?", and answering `n` deletes the dir
/// (`os.RemoveAll`, spec §6): never a trap to set for a finished run (issue 12).
pub fn summary_document<'a>(
    kind: LegacyKind,
    total_units: usize,
    timestamp: &str,
    docs: impl IntoIterator<Item = &'a PyValue>,
) -> (PyValue, Vec<FieldNote>) {
    let step = kind.step();
    let mut completed = 0usize;
    let mut errors = 0usize;
    let mut breakdown = PyObject::default();
    let mut input_tokens = PyValue::from(0);
    let mut output_tokens = PyValue::from(0);
    let mut cost = PyValue::Float(0.0);
    let mut notes = Vec::new();
    for doc in docs {
        if is_restorable(step, doc) {
            completed += 1;
        } else if let CpStatus::Error(kind) = classify(doc) {
            errors += 1;
            let key = if step == CheckpointStep::Enhance { kind } else { "api".to_owned() };
            let n = breakdown.get(&key).and_then(PyValue::as_i64).unwrap_or(0);
            breakdown.insert(key, PyValue::from(n + 1));
        }
        let Some(usage) = doc.get("usage") else { continue };
        let id = doc.get("id").and_then(PyValue::as_str).unwrap_or("?");
        if !matches!(usage, PyValue::Object(_)) {
            notes.push(FieldNote {
                field: "usage".to_owned(),
                note: format!("{id}: usage is not an object and is not counted (OpenAnt would fail on it)"),
            });
            continue;
        }
        for (sum, key, default) in [
            (&mut input_tokens, "input_tokens", PyValue::from(0)),
            (&mut output_tokens, "output_tokens", PyValue::from(0)),
            (&mut cost, "cost_usd", PyValue::Float(0.0)),
        ] {
            let value = usage.get(key).unwrap_or(&default);
            match add(sum, value).map_err(RegenError::from) {
                Ok(total) => *sum = total,
                Err(error) => notes
                    .push(FieldNote { field: format!("usage.{key}"), note: format!("{id}: not counted ({error})") }),
            }
        }
    }
    let cost = PyValue::Float(python_round(cost.as_f64().unwrap_or(0.0), 6));
    let mut usage = PyObject::default();
    usage.insert("input_tokens".to_owned(), input_tokens);
    usage.insert("output_tokens".to_owned(), output_tokens);
    usage.insert("cost_usd".to_owned(), cost);
    let mut summary = PyObject::default();
    summary.insert("step".to_owned(), kind.summary_step().into());
    let phase = if total_units > 0 && completed + errors >= total_units { "done" } else { "in_progress" };
    summary.insert("phase".to_owned(), phase.into());
    summary.insert("timestamp".to_owned(), timestamp.into());
    summary.insert("total_units".to_owned(), total_units.into());
    summary.insert("completed".to_owned(), completed.into());
    summary.insert("errors".to_owned(), errors.into());
    summary.insert("error_breakdown".to_owned(), PyValue::from(breakdown));
    summary.insert("usage".to_owned(), PyValue::from(usage));
    (PyValue::from(summary), notes)
}

/// `datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")` at `when` instead of now:
/// whole seconds print no fraction, anything else six digits (microseconds, truncated from the
/// file system's nanoseconds as `st_mtime_ns // 1000` is).
pub fn summary_timestamp(when: SystemTime) -> String {
    let at: DateTime<Utc> = when.into();
    let micros = at.nanosecond() % 1_000_000_000 / 1000;
    let mut text = at.format("%Y-%m-%dT%H:%M:%S").to_string();
    if micros != 0 {
        text.push_str(&format!(".{micros:06}"));
    }
    text.push('Z');
    text
}

/// The per-unit files so far, one slot per file name; a later write to a name empties the
/// earlier slot (OpenAnt's later `write_json` replaces the file).
#[derive(Default)]
struct Units {
    slots: Vec<Option<UnitCheckpoint>>,
    by_name: HashMap<String, usize>,
    left_out: Vec<LeftOut>,
    /// Errored units' files by name, in first-seen order; a later one of a name replaces it.
    errored: indexmap::IndexMap<String, UnitCheckpoint>,
}

impl Units {
    fn left_out(&mut self, id: Option<&str>, why: LeftOutWhy, detail: impl Into<String>) {
        self.left_out.push(LeftOut { id: id.map(str::to_owned), why, detail: detail.into() });
    }

    /// Leaves an errored unit out of the files, as [`LeftOutWhy::Errored`], and keeps the file
    /// the step's writer would have saved for it, if it can exist.
    fn errored(&mut self, id: Option<&str>, detail: impl Into<String>, value: Option<PyValue>) {
        self.left_out(id, LeftOutWhy::Errored, detail);
        let (Some(id), Some(value)) = (id, value) else { return };
        let file_name = checkpoint_file_name(id);
        if id.contains('\0') || file_name.len() > NAME_MAX || file_name == SUMMARY_FILE {
            return;
        }
        let Ok(bytes) = to_python_string(&value, true) else { return };
        self.errored.insert(file_name.clone(), UnitCheckpoint { id: id.to_owned(), file_name, value, bytes });
    }

    /// Adds the file of `id` unless its name cannot exist, in which case the unit is left out.
    fn push(&mut self, id: &str, value: PyValue) {
        let file_name = checkpoint_file_name(id);
        if id.contains('\0') {
            return self.left_out(Some(id), LeftOutWhy::Unusable, "the id holds a NUL byte, which no file name can");
        }
        if file_name.len() > NAME_MAX {
            return self.left_out(
                Some(id),
                LeftOutWhy::Unusable,
                format!("its file name would be {} bytes, more than the file system allows (OpenAnt cannot write it either)", file_name.len()),
            );
        }
        if file_name == SUMMARY_FILE {
            return self.left_out(Some(id), LeftOutWhy::Unusable, "its file name would be the step's _summary.json");
        }
        let bytes = match to_python_string(&value, true) {
            Ok(bytes) => bytes,
            Err(error) => return self.left_out(Some(id), LeftOutWhy::Unusable, format!("cannot be written: {error}")),
        };
        if let Some(&earlier) = self.by_name.get(&file_name) {
            if let Some(old) = self.slots[earlier].take() {
                let detail = if old.id == id {
                    "it appears again later in the file, and the later entry is kept".to_owned()
                } else {
                    format!("{id:?} comes later and has the same file name {file_name}")
                };
                self.left_out(Some(&old.id), LeftOutWhy::Overwritten, detail);
            }
        }
        self.by_name.insert(file_name.clone(), self.slots.len());
        self.slots.push(Some(UnitCheckpoint { id: id.to_owned(), file_name, value, bytes }));
    }
}

/// A usable unit id: a non-empty string (OpenAnt's loaders skip a falsy `id`).
fn usable_id(v: Option<&PyValue>) -> Option<&str> {
    v.and_then(PyValue::as_str).filter(|s| !s.is_empty())
}

fn object(pairs: Vec<(&str, PyValue)>) -> PyValue {
    PyValue::from(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<PyObject>())
}

/// `_migrate_legacy_checkpoint` then `_save_unit_checkpoint`: every unit whose `agent_context`
/// is non-empty and has no truthy `error` becomes `{id, agent_context, code?, usage?}`.
/// Returns `total_units` as enhance counts it: the units after the diff filter.
fn enhance_units(doc: &PyValue, out: &mut Units) -> usize {
    let units = doc.get("units").and_then(PyValue::as_array).map_or(&[][..], Vec::as_slice);
    for unit in units {
        let id = usable_id(unit.get("id"));
        let Some(fields) = unit.as_object() else {
            out.left_out(None, LeftOutWhy::Unusable, "a unit that is not an object");
            continue;
        };
        let context = match fields.get("agent_context") {
            Some(ac) if truthy(ac) => ac,
            _ => {
                out.left_out(id, LeftOutWhy::NotReached, "no agent_context yet");
                continue;
            }
        };
        if !matches!(context, PyValue::Object(_)) {
            out.left_out(id, LeftOutWhy::Unusable, "agent_context is not an object");
            continue;
        }
        let cp = |id: &str| {
            let mut cp = vec![("id", PyValue::from(id)), ("agent_context", context.clone())];
            if let Some(code) = fields.get("code") {
                cp.push(("code", code.clone()));
            }
            if let Some(meta) = context.get("agent_metadata").filter(|m| matches!(m, PyValue::Object(_))) {
                let input = meta.get("input_tokens");
                let output = meta.get("output_tokens");
                if input.is_some_and(truthy) || output.is_some_and(truthy) {
                    cp.push((
                        "usage",
                        object(vec![
                            ("input_tokens", input.cloned().unwrap_or_else(|| 0.into())),
                            ("output_tokens", output.cloned().unwrap_or_else(|| 0.into())),
                            ("cost_usd", meta.get("cost_usd").cloned().unwrap_or(PyValue::Float(0.0))),
                        ]),
                    ));
                }
            }
            object(cp)
        };
        if let Some(error) = context.get("error").filter(|e| truthy(e)) {
            let detail = match error {
                PyValue::Str(s) => s.clone(),
                other => other.get("type").and_then(PyValue::as_str).unwrap_or("error").to_owned(),
            };
            out.errored(id, detail, id.map(cp));
            continue;
        }
        let Some(id) = id else {
            out.left_out(None, LeftOutWhy::Unusable, "a unit without a string id");
            continue;
        };
        out.push(id, cp(id));
    }
    if units.iter().any(|u| u.get("diff_selected").is_some()) {
        units.iter().filter(|u| u.get("diff_selected").is_some_and(truthy)).count()
    } else {
        units.len()
    }
}

/// The fork's `results[]` as `_process_and_save` saves each: `{result, route_key,
/// code_for_route, id}`, without `usage` (see [`convert`]). Errored results are left out.
fn analyze_units(inputs: &LegacyInputs<'_>, out: &mut Units, notes: &mut Vec<FieldNote>) -> usize {
    let doc = inputs.document;
    let results = doc.get("results").and_then(PyValue::as_array).map_or(&[][..], Vec::as_slice);
    let code_by_route = doc.get("code_by_route").and_then(PyValue::as_object);
    let mut no_code = Vec::new();
    for result in results {
        if !matches!(result, PyValue::Object(_)) {
            out.left_out(None, LeftOutWhy::Unusable, "a result that is not an object");
            continue;
        }
        let Some(id) = usable_id(result.get("unit_id")) else {
            out.left_out(None, LeftOutWhy::Unusable, "a result without a string unit_id");
            continue;
        };
        // The fork and the fix branch both take `result.get("route_key", uid)`.
        let route_key = result.get("route_key").cloned().unwrap_or_else(|| id.into());
        let code = route_key.as_str().and_then(|k| code_by_route?.get(k)).cloned();
        if is_str(result.get("verdict"), "ERROR") || is_str(result.get("finding"), "error") {
            let detail = result.get("error").and_then(PyValue::as_str).unwrap_or("verdict ERROR");
            // An exception result has no route_key and no code_by_route entry: the fix
            // branch saves it under the unit id with "" as its code.
            let value = object(vec![
                ("result", result.clone()),
                ("route_key", route_key),
                ("code_for_route", code.unwrap_or_else(|| PyValue::from(""))),
                ("id", id.into()),
            ]);
            out.errored(Some(id), detail, Some(value));
            continue;
        }
        let code = code.unwrap_or_else(|| {
            no_code.push(id.to_owned());
            PyValue::from("")
        });
        out.push(
            id,
            object(vec![
                ("result", result.clone()),
                ("route_key", route_key),
                ("code_for_route", code),
                ("id", id.into()),
            ]),
        );
    }
    if !no_code.is_empty() {
        notes.push(FieldNote {
            field: "code_for_route".to_owned(),
            note: format!(
                "set to \"\" for {} (code_by_route has no entry for their route_key)",
                brief_list(no_code.iter().map(String::as_str))
            ),
        });
    }
    let units = inputs.dataset.and_then(|d| d.get("units")).and_then(PyValue::as_array);
    let dataset_name = doc.get("dataset").and_then(PyValue::as_str).unwrap_or("the dataset");
    match units {
        Some(units) => {
            notes.push(FieldNote {
                field: "total_units".to_owned(),
                note: format!(
                    "the unit count of {dataset_name} (the single file does not record it; a run limited by --limit or --exploitable-only had fewer)"
                ),
            });
            if units.iter().any(|u| u.get("diff_selected").is_some()) {
                units.iter().filter(|u| u.get("diff_selected").is_some_and(truthy)).count()
            } else {
                units.len()
            }
        }
        None => {
            notes.push(FieldNote {
                field: "total_units".to_owned(),
                note: format!(
                    "the number of results in the file: {dataset_name} could not be read, and the single file does not record the unit count"
                ),
            });
            results.len()
        }
    }
}

/// The fork's `verified[]` as `_verify_batch_*` saves each: `{verification, finding,
/// verification_note, id}` keyed by the result's `unit_id` (else its `route_key`), found in
/// results.json by `route_key`. Entries without a usable verification, and keys the fork marked
/// done without saving one (d3b1b84 did so for a failed attempt), are errors.
fn verify_units(inputs: &LegacyInputs<'_>, out: &mut Units, notes: &mut Vec<FieldNote>) -> usize {
    let doc = inputs.document;
    let verified = doc.get("verified").and_then(PyValue::as_array).map_or(&[][..], Vec::as_slice);
    let completed_keys = doc.get("completed_keys").and_then(PyValue::as_array).map_or(&[][..], Vec::as_slice);
    let candidates = inputs
        .results
        .and_then(|r| r.get("results"))
        .and_then(PyValue::as_array)
        .map(|results| results.iter().filter(|r| is_verify_candidate(r)).collect::<Vec<_>>());
    // route_key -> the keys current OpenAnt gives the results with that route_key, in order;
    // the fork saved one entry per such result, in the same order.
    let mut keys_by_route: HashMap<&str, VecDeque<&str>> = HashMap::new();
    for r in candidates.iter().flatten() {
        let route_key = match r.get("route_key") {
            Some(PyValue::Str(s)) => s.as_str(),
            Some(_) => continue,
            None => "unknown",
        };
        let key = match r.get("unit_id") {
            Some(v) if truthy(v) => match v.as_str() {
                Some(s) => s,
                None => continue,
            },
            _ => route_key,
        };
        keys_by_route.entry(route_key).or_default().push_back(key);
    }
    let mut unmatched = Vec::new();
    let mut seen_routes: HashSet<&str> = HashSet::new();
    for entry in verified {
        if !matches!(entry, PyValue::Object(_)) {
            out.left_out(None, LeftOutWhy::Unusable, "a verified entry that is not an object");
            continue;
        }
        let Some(route_key) = usable_id(entry.get("route_key")) else {
            out.left_out(None, LeftOutWhy::Unusable, "a verified entry without a string route_key");
            continue;
        };
        seen_routes.insert(route_key);
        let key = match keys_by_route.get_mut(route_key).and_then(VecDeque::pop_front) {
            Some(key) => key,
            None => {
                unmatched.push(route_key);
                route_key
            }
        };
        let verification = entry.get("verification");
        let usable =
            verification.is_some_and(truthy) && !is_str(verification.and_then(|v| v.get("correct_finding")), "error");
        // The fork wrote `r.get("finding")` / `r.get("verification_note")`, None when absent;
        // the fix branch writes `r.get(..., "")` for the same absence.
        let text_or_empty = |k: &str| match entry.get(k) {
            None | Some(PyValue::Null) => PyValue::from(""),
            Some(v) => v.clone(),
        };
        if !usable {
            let value = verification.filter(|v| matches!(v, PyValue::Object(_))).map(|v| {
                object(vec![
                    ("verification", v.clone()),
                    ("finding", text_or_empty("finding")),
                    ("verification_note", text_or_empty("verification_note")),
                    ("id", key.into()),
                ])
            });
            out.errored(Some(key), "no usable verification", value);
            continue;
        }
        let Some(verification @ PyValue::Object(_)) = verification else {
            out.left_out(Some(key), LeftOutWhy::Unusable, "verification is not an object");
            continue;
        };
        out.push(
            key,
            object(vec![
                ("verification", verification.clone()),
                ("finding", text_or_empty("finding")),
                ("verification_note", text_or_empty("verification_note")),
                ("id", key.into()),
            ]),
        );
    }
    let mut abandoned: Vec<&str> = Vec::new();
    for key in completed_keys.iter().filter_map(PyValue::as_str) {
        if !seen_routes.contains(key) && !abandoned.contains(&key) {
            abandoned.push(key);
        }
    }
    for key in &abandoned {
        out.left_out(Some(key), LeftOutWhy::Errored, "marked done with no verification saved (the attempt failed)");
    }
    if !unmatched.is_empty() {
        let why = if candidates.is_some() {
            "no vulnerable or bypassable result in results.json has this route_key"
        } else {
            "results.json could not be read"
        };
        notes.push(FieldNote {
            field: "id".to_owned(),
            note: format!(
                "keyed by route_key for {} ({why}); current OpenAnt looks a finding up by its unit_id and re-verifies it when that differs",
                brief_list(unmatched.iter().copied())
            ),
        });
    }
    match candidates {
        Some(candidates) => candidates.len(),
        None => {
            notes.push(FieldNote {
                field: "total_units".to_owned(),
                note: "the number of findings the file names: results.json, which lists the findings to verify, could not be read".to_owned(),
            });
            seen_routes.len() + abandoned.len()
        }
    }
}

/// `r.get("finding", r.get("verdict", "").lower()) in ("vulnerable", "bypassable")`.
fn is_verify_candidate(r: &PyValue) -> bool {
    let finding = match r.get("finding") {
        Some(v) => v.as_str().map(str::to_owned),
        None => r.get("verdict").and_then(PyValue::as_str).map(str::to_lowercase),
    };
    matches!(finding.as_deref(), Some("vulnerable" | "bypassable"))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::regen::test_support::{at, p as json};

    fn run(kind: LegacyKind, doc: &PyValue) -> Converted {
        convert(&LegacyInputs { kind, document: doc, modified: at(1_774_087_533), results: None, dataset: None })
    }

    fn ids(c: &Converted) -> Vec<&str> {
        c.units.iter().map(|u| u.id.as_str()).collect()
    }

    fn left(c: &Converted, why: LeftOutWhy) -> Vec<Option<&str>> {
        c.left_out(why).map(|l| l.id.as_deref()).collect()
    }

    #[test]
    fn enhance_units_are_saved_as_save_unit_checkpoint_saves_them() {
        let doc = json(
            r#"{"name": "x", "units": [
                {"id": "a.py:f", "code": {"primary_code": "def f(): pass"}, "agent_context": {"security_classification": "neutral",
                 "agent_metadata": {"iterations": 2, "total_tokens": 90}}},
                {"id": "b.py:g", "agent_context": {"security_classification": "exploitable",
                 "agent_metadata": {"iterations": 3, "input_tokens": 0, "output_tokens": 7, "cost_usd": 0.25}}},
                {"id": "c.py:h", "agent_context": {"error": "Agent error: Connection error."}},
                {"id": "d.py:i", "agent_context": {"error": {"type": "rate_limit", "message": "429"}}},
                {"id": "e.py:j", "agent_context": {}},
                {"id": "f.py:k"},
                {"id": "g.py:l", "agent_context": "done"},
                {"agent_context": {"security_classification": "neutral"}},
                [1, 2]
            ], "metadata": {"checkpoint": true}}"#,
        );
        let c = run(LegacyKind::WholeDataset, &doc);
        assert_eq!(ids(&c), ["a.py:f", "b.py:g"]);
        assert_eq!(
            c.units[0].bytes,
            r#"{
  "id": "a.py:f",
  "agent_context": {
    "security_classification": "neutral",
    "agent_metadata": {
      "iterations": 2,
      "total_tokens": 90
    }
  },
  "code": {
    "primary_code": "def f(): pass"
  }
}"#
        );
        // usage only when the tokens are non-zero, with the defaults for what is missing.
        let usage = c.units[1].value.get("usage").unwrap();
        assert_eq!(
            to_python_string(usage, true).unwrap(),
            "{\n  \"input_tokens\": 0,\n  \"output_tokens\": 7,\n  \"cost_usd\": 0.25\n}"
        );
        assert!(c.units[1].value.get("code").is_none());
        assert_eq!(c.units[0].file_name, "a.py_f.json");
        assert_eq!(left(&c, LeftOutWhy::Errored), [Some("c.py:h"), Some("d.py:i")]);
        assert_eq!(c.left_out(LeftOutWhy::Errored).nth(1).unwrap().detail, "rate_limit");
        assert_eq!(left(&c, LeftOutWhy::NotReached), [Some("e.py:j"), Some("f.py:k")]);
        assert_eq!(left(&c, LeftOutWhy::Unusable), [Some("g.py:l"), None, None]);
        assert_eq!(c.total_units, 9);
        // Enhance usage comes from the units themselves: nothing to note.
        assert!(c.filled_in.is_empty(), "{:?}", c.filled_in);
        let summary = c.summary_bytes();
        assert!(summary.contains("\"completed\": 2,"), "{summary}");
        assert!(
            summary.contains("\"input_tokens\": 0,\n    \"output_tokens\": 7,\n    \"cost_usd\": 0.25"),
            "{summary}"
        );
    }

    #[test]
    fn enhance_total_counts_only_diff_selected_units() {
        let doc = json(
            r#"{"units": [{"id": "a", "diff_selected": true}, {"id": "b", "diff_selected": false}, {"id": "c"}],
                "metadata": {"checkpoint": true}}"#,
        );
        assert_eq!(run(LegacyKind::WholeDataset, &doc).total_units, 1);
    }

    #[test]
    fn analyze_results_become_process_and_save_files_without_usage() {
        let doc = json(
            r#"{"results": [
                {"function_analyzed": "get", "finding": "vulnerable", "verdict": "VULNERABLE", "route_key": "GET:/api/x/:id", "unit_id": "src/x.js:get"},
                {"unit_id": "src/y.js:boom", "verdict": "ERROR", "finding": "error", "error": "Error code: 529"},
                {"verdict": "ERROR", "reasoning": "Failed to parse response", "route_key": "src/z.js:bad", "unit_id": "src/z.js:bad", "finding": "error"},
                {"finding": "safe", "verdict": "SAFE", "unit_id": "src/w.js:plain"},
                {"finding": "safe", "verdict": "SAFE", "route_key": "POST:/gone", "unit_id": "src/v.js:gone"}
              ],
              "code_by_route": {"GET:/api/x/:id": "async function get() {}", "src/w.js:plain": "function plain() {}"},
              "counts": {"vulnerable": 1}, "dataset": "dataset_enhanced.json", "model": "claude-opus-4-6",
              "token_usage": {"total_calls": 3, "total_input_tokens": 1200, "total_output_tokens": 300, "total_tokens": 1500, "total_cost_usd": 0.0405}}"#,
        );
        let c = run(LegacyKind::ForkAnalyze, &doc);
        assert_eq!(ids(&c), ["src/x.js:get", "src/w.js:plain", "src/v.js:gone"]);
        assert_eq!(left(&c, LeftOutWhy::Errored), [Some("src/y.js:boom"), Some("src/z.js:bad")]);
        let get = &c.units[0].value;
        let keys: Vec<&str> = get.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["result", "route_key", "code_for_route", "id"]);
        assert_eq!(get.get("code_for_route").unwrap().as_str(), Some("async function get() {}"));
        // No route_key: the unit id, as `result.get("route_key", uid)`.
        assert_eq!(c.units[1].value.get("route_key").unwrap().as_str(), Some("src/w.js:plain"));
        assert_eq!(c.units[1].value.get("code_for_route").unwrap().as_str(), Some("function plain() {}"));
        assert_eq!(c.units[2].value.get("code_for_route").unwrap().as_str(), Some(""));
        let fields: Vec<&str> = c.filled_in.iter().map(|n| n.field.as_str()).collect();
        assert_eq!(fields, ["code_for_route", "total_units", "usage"]);
        assert!(c.filled_in[2].note.contains("1200 input and 300 output tokens, $0.0405"), "{:?}", c.filled_in[2]);
        // Without the dataset, the total is the number of results, and the note says so.
        assert_eq!(c.total_units, 5);
        assert!(c.filled_in[1].note.contains("could not be read"));
        let dataset =
            json(r#"{"units": [{"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": "d"}, {"id": "e"}, {"id": "f"}]}"#);
        let with = convert(&LegacyInputs {
            kind: LegacyKind::ForkAnalyze,
            document: &doc,
            modified: at(0),
            results: None,
            dataset: Some(&dataset),
        });
        assert_eq!(with.total_units, 6);
        let summary = with.summary;
        assert_eq!(summary.get("completed").unwrap().as_i64(), Some(3));
        assert_eq!(summary.get("errors").unwrap().as_i64(), Some(0));
        assert_eq!(summary.get("timestamp").unwrap().as_str(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            to_python_string(summary.get("usage").unwrap(), true).unwrap(),
            "{\n  \"input_tokens\": 0,\n  \"output_tokens\": 0,\n  \"cost_usd\": 0.0\n}"
        );
    }

    #[test]
    fn verify_entries_are_keyed_by_unit_id_through_results_json() {
        let doc = json(
            r#"{"completed_keys": ["GET:/a", "lib.js:merge", "GET:/a", "POST:/b", "lib.js:lost"],
                "verified": [
                  {"route_key": "GET:/a", "verification": {"agree": true, "correct_finding": "vulnerable"}, "finding": "vulnerable", "verification_note": null},
                  {"route_key": "GET:/a", "verification": {"agree": false, "correct_finding": "safe"}, "finding": "safe", "verification_note": "Changed from vulnerable to safe"},
                  {"route_key": "lib.js:merge", "verification": {"agree": true, "correct_finding": "bypassable"}, "finding": null},
                  {"route_key": "POST:/b", "verification": {}, "finding": "vulnerable", "verification_note": null},
                  {"route_key": "POST:/c", "verification": {"correct_finding": "error"}, "finding": "vulnerable"}
                ]}"#,
        );
        let results = json(
            r#"{"results": [
                {"unit_id": "routes.js:first", "route_key": "GET:/a", "finding": "vulnerable"},
                {"unit_id": "routes.js:safe", "route_key": "GET:/s", "finding": "safe"},
                {"unit_id": "routes.js:second", "route_key": "GET:/a", "verdict": "BYPASSABLE"},
                {"unit_id": "lib.js:merge", "route_key": "lib.js:merge", "finding": "bypassable"},
                {"unit_id": "routes.js:b", "route_key": "POST:/b", "finding": "vulnerable"},
                {"unit_id": "", "route_key": "POST:/c", "finding": "vulnerable"}
            ]}"#,
        );
        let c = convert(&LegacyInputs {
            kind: LegacyKind::ForkVerify,
            document: &doc,
            modified: at(1),
            results: Some(&results),
            dataset: None,
        });
        assert_eq!(ids(&c), ["routes.js:first", "routes.js:second", "lib.js:merge"]);
        let first = &c.units[0].value;
        assert_eq!(
            first.as_object().unwrap().keys().map(String::as_str).collect::<Vec<_>>(),
            ["verification", "finding", "verification_note", "id"]
        );
        // null from the fork's `r.get(...)` is the fix branch's "".
        assert_eq!(first.get("verification_note").unwrap().as_str(), Some(""));
        assert_eq!(c.units[2].value.get("finding").unwrap().as_str(), Some(""));
        assert_eq!(
            c.units[1].value.get("verification_note").unwrap().as_str(),
            Some("Changed from vulnerable to safe")
        );
        // An empty unit_id falls back to the route_key; errors keep their key in the report.
        assert_eq!(left(&c, LeftOutWhy::Errored), [Some("routes.js:b"), Some("POST:/c"), Some("lib.js:lost")]);
        assert_eq!(c.total_units, 5);
        assert_eq!(c.filled_in.iter().map(|n| n.field.as_str()).collect::<Vec<_>>(), ["usage"]);
    }

    #[test]
    fn verify_without_results_json_keys_by_route_key_and_says_so() {
        let doc = json(
            r#"{"completed_keys": ["GET:/a", "x.py:f"], "verified": [
                {"route_key": "GET:/a", "verification": {"agree": true, "correct_finding": "vulnerable"}, "finding": "vulnerable", "verification_note": null}]}"#,
        );
        let c = run(LegacyKind::ForkVerify, &doc);
        assert_eq!(ids(&c), ["GET:/a"]);
        assert_eq!(c.units[0].file_name, "GET___a.json");
        assert_eq!(c.total_units, 2);
        let notes: Vec<&str> = c.filled_in.iter().map(|n| n.field.as_str()).collect();
        assert_eq!(notes, ["id", "total_units", "usage"]);
        assert!(c.filled_in[0].note.contains("results.json could not be read"));
    }

    #[test]
    fn ids_are_only_ever_file_names() {
        let doc = json(
            r#"{"units": [
                {"id": "../../etc/passwd", "agent_context": {"x": 1}},
                {"id": "_summary", "agent_context": {"x": 1}},
                {"id": "nul\u0000byte", "agent_context": {"x": 1}},
                {"id": "a/b", "agent_context": {"x": 1}},
                {"id": "a__b", "agent_context": {"x": 2}},
                {"id": "same", "agent_context": {"x": 1}},
                {"id": "same", "agent_context": {"x": 3}},
                {"id": "", "agent_context": {"x": 1}}
            ], "metadata": {"checkpoint": true}}"#,
        );
        let mut doc = doc;
        let long = format!("src/{}.py:f", "é".repeat(200));
        let unit = json(r#"{"agent_context": {"x": 1}}"#);
        let PyValue::Object(mut unit) = unit else { unreachable!() };
        unit.insert("id".to_owned(), long.clone().into());
        doc.get_mut("units").unwrap().as_array_mut().unwrap().push(PyValue::Object(unit));
        let c = run(LegacyKind::WholeDataset, &doc);
        let names: Vec<&str> = c.units.iter().map(|u| u.file_name.as_str()).collect();
        assert_eq!(names, ["..__..__etc__passwd.json", "a__b.json", "same.json"]);
        assert!(names.iter().all(|n| !n.contains('/') && *n != "." && *n != ".."));
        assert_eq!(c.units[1].id, "a__b");
        assert_eq!(c.units[2].value.get("agent_context").unwrap().get("x").unwrap().as_i64(), Some(3));
        assert_eq!(left(&c, LeftOutWhy::Overwritten), [Some("a/b"), Some("same")]);
        assert_eq!(left(&c, LeftOutWhy::Unusable), [Some("_summary"), Some("nul\0byte"), None, Some(long.as_str())]);
    }

    #[test]
    fn summary_timestamps_are_write_summarys_format_at_the_mtime() {
        assert_eq!(summary_timestamp(at(1_774_087_533)), "2026-03-21T10:05:33Z");
        let frac = UNIX_EPOCH + Duration::new(1_774_087_533, 120_044_999);
        assert_eq!(summary_timestamp(frac), "2026-03-21T10:05:33.120044Z");
        let tiny = UNIX_EPOCH + Duration::new(5, 999);
        assert_eq!(summary_timestamp(tiny), "1970-01-01T00:00:05Z");
        // Before 1970 the microseconds are floored, as `st_mtime_ns // 1000` is.
        let before = UNIX_EPOCH - Duration::new(0, 1500);
        assert_eq!(summary_timestamp(before), "1969-12-31T23:59:59.999998Z");
    }

    #[test]
    fn a_summary_is_done_only_when_the_files_cover_every_unit() {
        let done = json(r#"{"result": {"verdict": "SAFE"}, "id": "a"}"#);
        let errored = json(r#"{"result": {"verdict": "ERROR", "finding": "error"}, "id": "b"}"#);
        let phase = |total: usize, docs: &[PyValue]| {
            let (summary, _) = summary_document(LegacyKind::ForkAnalyze, total, "T", docs);
            summary.get("phase").and_then(PyValue::as_str).unwrap().to_owned()
        };
        assert_eq!(phase(2, &[done.clone(), errored.clone()]), "done");
        assert_eq!(phase(1, std::slice::from_ref(&done)), "done");
        assert_eq!(phase(3, &[done.clone(), errored]), "in_progress");
        assert_eq!(phase(0, &[]), "in_progress");
    }

    #[test]
    fn summary_sums_usage_as_python_does_and_counts_by_the_resume_rule() {
        let docs = [
            json(
                r#"{"result": {"verdict": "SAFE"}, "usage": {"input_tokens": 10, "output_tokens": 1, "cost_usd": 0.1}, "id": "a"}"#,
            ),
            json(
                r#"{"result": {"verdict": "ERROR", "finding": "error"}, "usage": {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.2}, "id": "b"}"#,
            ),
            json(
                r#"{"result": {"verdict": "SAFE"}, "usage": {"input_tokens": 2.5, "cost_usd": 0.0000004}, "id": "c"}"#,
            ),
            json(r#"{"result": {"verdict": "SAFE"}, "usage": {"input_tokens": null}, "id": "d"}"#),
            json(r#"{"result": {"verdict": "SAFE"}, "id": "e"}"#),
        ];
        let (summary, notes) = summary_document(LegacyKind::ForkAnalyze, 9, "T", &docs);
        assert_eq!(
            to_python_string(&summary, true).unwrap(),
            r#"{
  "step": "Analyze",
  "phase": "in_progress",
  "timestamp": "T",
  "total_units": 9,
  "completed": 4,
  "errors": 1,
  "error_breakdown": {
    "api": 1
  },
  "usage": {
    "input_tokens": 12.5,
    "output_tokens": 1,
    "cost_usd": 0.3
  }
}"#
        );
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].field, "usage.input_tokens");
        let enhance = [
            json(r#"{"id": "a", "agent_context": {"error": {"type": "rate_limit"}}}"#),
            json(r#"{"id": "b", "agent_context": {}}"#),
        ];
        let (summary, _) = summary_document(LegacyKind::WholeDataset, 2, "T", &enhance);
        // An empty agent_context is neither restorable nor an error for enhance.
        assert_eq!(summary.get("completed").unwrap().as_i64(), Some(0));
        assert_eq!(
            to_python_string(summary.get("error_breakdown").unwrap(), true).unwrap(),
            "{\n  \"rate_limit\": 1\n}"
        );
    }

    #[test]
    fn bytes_are_json_dump_indent_2_ensure_ascii() {
        let doc = json(
            r#"{"units": [{"id": "naïve/😀 x:y", "agent_context": {"r": "«é»", "f": 1e16, "g": 3.0}}], "metadata": {"checkpoint": true}}"#,
        );
        let c = run(LegacyKind::WholeDataset, &doc);
        let unit = &c.units[0];
        assert_eq!(unit.file_name, "naïve__😀_x_y.json");
        assert_eq!(
            unit.bytes,
            "{\n  \"id\": \"na\\u00efve/\\ud83d\\ude00 x:y\",\n  \"agent_context\": {\n    \"r\": \"\\u00ab\\u00e9\\u00bb\",\n    \"f\": 1e+16,\n    \"g\": 3.0\n  }\n}"
        );
        assert_eq!(unit.bytes, to_python_string(&unit.value, true).unwrap());
    }

    #[test]
    fn errored_units_keep_the_file_a_failed_unit_gets() {
        let doc = json(
            r#"{"results": [
                {"unit_id": "a.js:boom", "verdict": "ERROR", "finding": "error", "error": "529"},
                {"verdict": "ERROR", "reasoning": "Failed to parse", "route_key": "GET:/b", "unit_id": "b.js:bad", "finding": "error"},
                {"finding": "safe", "verdict": "SAFE", "unit_id": "c.js:ok"},
                {"unit_id": "c.js:ok", "verdict": "ERROR", "finding": "error", "error": "retried later"}
            ], "code_by_route": {"GET:/b": "function b() {}"}}"#,
        );
        let c = run(LegacyKind::ForkAnalyze, &doc);
        assert_eq!(ids(&c), ["c.js:ok"]);
        let errored: Vec<&str> = c.errored.iter().map(|u| u.id.as_str()).collect();
        // A unit that also completed is never among the errored files.
        assert_eq!(errored, ["a.js:boom", "b.js:bad"]);
        let boom = &c.errored[0].value;
        assert_eq!(boom.get("route_key").unwrap().as_str(), Some("a.js:boom"));
        assert_eq!(boom.get("code_for_route").unwrap().as_str(), Some(""));
        assert_eq!(c.errored[1].value.get("code_for_route").unwrap().as_str(), Some("function b() {}"));
        assert_eq!(c.errored[1].bytes, to_python_string(&c.errored[1].value, true).unwrap());
        // Still left out of what migrate writes, as before.
        assert_eq!(left(&c, LeftOutWhy::Errored), [Some("a.js:boom"), Some("b.js:bad"), Some("c.js:ok")]);

        let whole = json(
            r#"{"units": [{"id": "e", "code": {"primary_code": "x"}, "agent_context": {"error": "Agent error"}}, {"agent_context": {"error": "no id"}}],
                "metadata": {"checkpoint": true}}"#,
        );
        let c = run(LegacyKind::WholeDataset, &whole);
        assert_eq!(c.errored.len(), 1);
        assert_eq!(
            c.errored[0].bytes,
            "{\n  \"id\": \"e\",\n  \"agent_context\": {\n    \"error\": \"Agent error\"\n  },\n  \"code\": {\n    \"primary_code\": \"x\"\n  }\n}"
        );

        let verify = json(
            r#"{"completed_keys": ["k1", "k2", "k3"], "verified": [
                {"route_key": "k1", "verification": {}, "finding": "vulnerable", "verification_note": null},
                {"route_key": "k2", "finding": "vulnerable"}]}"#,
        );
        let c = run(LegacyKind::ForkVerify, &verify);
        let errored: Vec<&str> = c.errored.iter().map(|u| u.id.as_str()).collect();
        // k2 has no verification at all and k3 nothing saved: no file to keep.
        assert_eq!(errored, ["k1"]);
        assert_eq!(c.errored[0].value.get("verification_note").unwrap().as_str(), Some(""));
    }

    #[test]
    fn merged_units_never_displace_the_per_unit_dirs_files() {
        use crate::regen::checkpoints::CheckpointSet;
        let cp = |id: &str, verdict: &str| {
            let value = json(&format!(r#"{{"result": {{"verdict": "{verdict}"}}, "id": "{id}"}}"#));
            let bytes = to_python_string(&value, true).unwrap();
            UnitCheckpoint { id: id.to_owned(), file_name: checkpoint_file_name(id), value, bytes }
        };
        let file = |name: &str, text: &str| (name.to_owned(), Ok(text.as_bytes().to_vec()));
        let mut set = CheckpointSet::from_files(
            CheckpointStep::Analyze,
            vec![
                file("a.json", r#"{"result": {"verdict": "SAFE", "own": true}, "id": "a"}"#),
                // The file of unit "b" under another name: its id still wins.
                file("other.json", r#"{"result": {"verdict": "SAFE", "own": true}, "id": "b"}"#),
                file("c.json", r#"{"result": {"ver"#),
            ],
        );
        let earlier: HashSet<String> = ["e".to_owned()].into();
        let units =
            [cp("a", "VULNERABLE"), cp("b", "VULNERABLE"), cp("c", "VULNERABLE"), cp("d", "SAFE"), cp("e", "SAFE")];
        let merged = merge_units(&mut set, &units, &earlier);
        assert_eq!(merged.added, ["d"]);
        assert_eq!(merged.kept, ["a.json", "other.json", "c.json"]);
        assert_eq!(merged.superseded, ["e"]);
        assert_eq!(set.get("a").unwrap().data.get("result").unwrap().get("own"), Some(&PyValue::Bool(true)));
        assert_eq!(set.get("d").unwrap().name, "d.json");
        assert!(set.get("c").is_none(), "a torn per-unit file is not replaced by the single file's");
        assert!(set.by_name("d.json").is_some(), "the set stays sorted by name");
    }
}
