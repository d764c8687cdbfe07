//! `results.json` ← the input dataset + the analyze checkpoints (spec §3.2; OpenAnt's
//! `core/analyzer.run_analysis` with every unit restored).

use std::collections::HashMap;
use std::ops::{Deref, Range};
use std::sync::Arc;

use chrono::{NaiveDateTime, Timelike};
use indexmap::IndexMap;

use crate::pyjson::{self, parse_projected, Keep, Member, ParseError, PyObject, PyValue, Step};

use super::checkpoints::{is_restorable, CheckpointSet, Era};
use super::last_use::{index_of, take_member, Uses};
use super::py::{get2, id_text, is_str, key_text, lower, truthy};
use super::salvage::SalvagedFields;
use super::single_file::RunRecord;
use super::{result_field, Document, Inexact, Rebuilt, RegenError};
use crate::layout::safe_filename::checkpoint_file_name;
use crate::layout::CheckpointStep;

/// What `analyze` was run with (`analyze.report.json` `inputs`, spec §1.4.11) and on.
#[derive(Debug, Clone)]
pub struct AnalyzeInputs<'a> {
    /// The input dataset as read (`dataset_enhanced.json` when enhance ran, else `dataset.json`).
    pub dataset: Dataset<'a>,
    /// `basename(dataset path)`, written as `dataset`.
    pub dataset_name: String,
    /// The CLI model name (`"opus"`/`"sonnet"`), when known.
    pub model: Option<String>,
    /// `inputs.limit` (null or 0: no limit).
    pub limit: Option<PyValue>,
    /// `inputs.exploitable_filter` (standalone analyze only; null: no filter).
    pub exploitable_filter: Option<PyValue>,
    /// What the fork's `analyze_checkpoint.json` recorded of its run, when every checkpoint
    /// comes from it: its `model` and `code_by_route` order stand in for the old file's.
    pub single_file: Option<&'a RunRecord>,
    /// The scan's `results_verified.json` as far as it reads: the stage-1 rows it still holds
    /// unchanged ([`SalvagedFields::stage1_row_of_verified`]) stand in for units that neither a
    /// checkpoint nor the old results.json holds.
    pub verified: Option<&'a SalvagedFields>,
}

impl<'a> AnalyzeInputs<'a> {
    /// Reads `dataset_path` (basename), `model`, `limit` and `exploitable_filter` from a parsed
    /// `analyze.report.json`; `default_name` is used when the report has no dataset path.
    pub fn from_report(
        dataset: impl Into<Dataset<'a>>,
        report: Option<&PyValue>,
        default_name: &str,
    ) -> AnalyzeInputs<'a> {
        let inputs = report.and_then(|r| r.get("inputs"));
        let field = |k: &str| inputs.and_then(|i| i.get(k)).filter(|v| !v.is_null()).cloned();
        let dataset_name =
            field("dataset_path").and_then(|p| p.as_str().map(basename)).unwrap_or_else(|| default_name.to_owned());
        AnalyzeInputs {
            dataset: dataset.into(),
            dataset_name,
            model: field("model").and_then(|m| m.as_str().map(str::to_owned)),
            limit: field("limit"),
            exploitable_filter: field("exploitable_filter"),
            single_file: None,
            verified: None,
        }
    }
}

/// Python's `os.path.basename` for a POSIX path (and a Windows one, as OpenAnt on Windows).
fn basename(path: &str) -> String {
    path.rsplit(['/', '\\']).next().unwrap_or(path).to_owned()
}

/// Python's `datetime.isoformat()` of a naive local time: microseconds, the fraction omitted
/// when it is zero.
pub fn python_isoformat(t: NaiveDateTime) -> String {
    let micros = t.nanosecond() / 1000 % 1_000_000;
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    if micros == 0 {
        base
    } else {
        format!("{base}.{micros:06}")
    }
}

/// results.json `timestamp` (`datetime.now()` when analyze finished): the old file's, else
/// `now`, named inexact.
pub(crate) fn analyze_timestamp(
    salvaged: Option<&SalvagedFields>,
    now: NaiveDateTime,
    inexact: &mut Vec<Inexact>,
) -> PyValue {
    match salvaged.and_then(|s| s.field("timestamp")) {
        Some(ts) => ts.clone(),
        None => {
            inexact.push(Inexact::new(
                "timestamp",
                "set to now: the original (datetime.now() when analyze finished) is not recoverable",
            ));
            PyValue::from(python_isoformat(now))
        }
    }
}

/// Notes an old results.json that named another input dataset than the one written.
pub(crate) fn note_dataset_rename(salvaged: Option<&SalvagedFields>, dataset_name: &str, inexact: &mut Vec<Inexact>) {
    if let Some(old) = salvaged.and_then(|s| s.str_field("dataset")).filter(|d| *d != dataset_name) {
        inexact.push(Inexact::new(
            "dataset",
            format!("the old file named {old:?}; written {dataset_name:?} from the analyze inputs"),
        ));
    }
}

/// The units `run_analysis` analyzes, in order: the diff filter (fix era), the exploitable
/// filter, then the limit (spec §3.2.1).
pub fn analyzed_units<'a>(inp: &AnalyzeInputs<'a>, era: Era) -> Result<Vec<Unit<'a>>, RegenError> {
    let mut units = dataset_units(inp.dataset)?;
    if era.has_diff_filter() && units.iter().any(|u| u.get("diff_selected").is_some()) {
        units.retain(|u| u.get("diff_selected").is_some_and(truthy));
    }
    if let Some(filter) = inp.exploitable_filter.as_ref().filter(|f| truthy(f)) {
        let keep: &[&str] =
            if is_str(Some(filter), "strict") { &["exploitable"] } else { &["exploitable", "vulnerable_internal"] };
        units.retain(|u| {
            get2(u, "agent_context", "security_classification")
                .and_then(PyValue::as_str)
                .is_some_and(|c| keep.contains(&c))
        });
    }
    if let Some(limit) = inp.limit.as_ref().filter(|l| truthy(l)) {
        let Some(n) = limit.as_int().and_then(|n| n.as_i128()) else {
            return Err(RegenError::BadInput(format!("analyze limit {limit:?} is not an integer")));
        };
        truncate_like_slice(&mut units, n);
    }
    Ok(units)
}

/// What the results builders (here and in [`super::current`]) read of the input dataset: of
/// each unit, its `id`, `diff_selected`, the `security_classification` of its `agent_context`
/// and `llm_context`, and its `code` ([`unit_code`]). The code is most of a dataset's text and
/// is read only for a unit no adoptable checkpoint holds, so it is left in the text until then.
pub const DATASET_READ: Keep = Keep::Members(&[(
    "units",
    Member::Keep(Keep::Elements(&Keep::Members(&[
        ("id", Member::Keep(Keep::All)),
        ("diff_selected", Member::Keep(Keep::All)),
        ("agent_context", Member::Keep(CLASSIFICATION)),
        ("llm_context", Member::Keep(CLASSIFICATION)),
        ("code", Member::Span),
    ]))),
)]);

const CLASSIFICATION: Keep = Keep::Members(&[("security_classification", Member::Keep(Keep::All))]);

/// An input dataset as a results rebuild holds it: read as [`DATASET_READ`] says, or whole.
#[derive(Debug, Clone)]
pub struct InputDataset {
    tree: PyValue,
    codes: Option<DeferredCodes>,
}

/// The units' `code` values left in the dataset's text: where each lies, by unit index.
#[derive(Debug, Clone)]
struct DeferredCodes {
    text: Arc<Vec<u8>>,
    by_unit: HashMap<usize, Range<usize>>,
}

impl InputDataset {
    /// Reads a dataset's text as [`DATASET_READ`] says; it is refused exactly as
    /// [`pyjson::parse`] refuses it.
    pub fn read(text: Arc<Vec<u8>>) -> Result<InputDataset, ParseError> {
        let projected = parse_projected(&text, &DATASET_READ)?;
        let by_unit = projected
            .spans
            .into_iter()
            .filter_map(|(path, range)| match path.as_slice() {
                [Step::Key(_), Step::Index(i), Step::Key(_)] => Some((*i, range)),
                _ => None,
            })
            .collect();
        Ok(InputDataset { tree: projected.value, codes: Some(DeferredCodes { text, by_unit }) })
    }

    /// A dataset already read whole.
    pub fn whole(tree: PyValue) -> InputDataset {
        InputDataset { tree, codes: None }
    }
}

/// An input dataset as the builders read it: whole, or an [`InputDataset`].
#[derive(Debug, Clone, Copy)]
pub struct Dataset<'a> {
    tree: &'a PyValue,
    codes: Option<&'a DeferredCodes>,
}

impl<'a> From<&'a PyValue> for Dataset<'a> {
    fn from(tree: &'a PyValue) -> Dataset<'a> {
        Dataset { tree, codes: None }
    }
}

impl<'a> From<&'a InputDataset> for Dataset<'a> {
    fn from(dataset: &'a InputDataset) -> Dataset<'a> {
        Dataset { tree: &dataset.tree, codes: dataset.codes.as_ref() }
    }
}

/// A unit of the input dataset: its members as read (it derefs to them), and where its `code`
/// is ([`unit_code`]).
#[derive(Debug, Clone, Copy)]
pub struct Unit<'a> {
    value: &'a PyValue,
    /// `None` when the unit holds its code; else the code's text (`None` inside: no code).
    code_text: Option<Option<&'a [u8]>>,
}

impl Deref for Unit<'_> {
    type Target = PyValue;

    fn deref(&self) -> &PyValue {
        self.value
    }
}

/// The input dataset's `units`, each an object (an absent list is empty), as both eras'
/// `run_analysis` read them: borrowed, since the dataset is most of the memory a rebuild uses.
pub(crate) fn dataset_units(dataset: Dataset<'_>) -> Result<Vec<Unit<'_>>, RegenError> {
    let units: &[PyValue] = match dataset.tree.get("units") {
        None => &[],
        Some(PyValue::Array(units)) => units,
        Some(_) => return Err(RegenError::BadInput("the input dataset's `units` is not a list".to_owned())),
    };
    if let Some(i) = units.iter().position(|u| !matches!(u, PyValue::Object(_))) {
        return Err(RegenError::BadInput(format!("unit {i} of the input dataset is not an object")));
    }
    let code_text = |i: usize| dataset.codes.map(|codes| codes.by_unit.get(&i).map(|range| &codes.text[range.clone()]));
    Ok(units.iter().enumerate().map(|(i, value)| Unit { value, code_text: code_text(i) }).collect())
}

/// Python's `units[:n]`, a negative `n` counting from the end.
pub(crate) fn truncate_like_slice<T>(units: &mut Vec<T>, n: i128) {
    let len = units.len() as i128;
    let end = if n < 0 { (len + n).max(0) } else { n.min(len) };
    units.truncate(end as usize);
}

/// `_count_verdicts` (spec §3.2.4): `finding` when the key exists (even null), else
/// `verdict.lower()`; exact, case-sensitive matches of the metric keys count there, otherwise
/// `verdict == "ERROR"` counts as `errors`. `insufficient_context` is a key on the fork's
/// results.json only.
pub fn count_verdicts(results: &[PyValue], insufficient_context: bool) -> PyObject {
    let mut keys = vec!["vulnerable", "bypassable", "inconclusive"];
    if insufficient_context {
        keys.push("insufficient_context");
    }
    keys.extend(["protected", "safe", "errors"]);
    let mut counts: IndexMap<&str, i64> = keys.iter().map(|k| (*k, 0)).collect();
    for r in results {
        let finding: Option<String> = match r.get("finding") {
            Some(f) => f.as_str().map(str::to_owned),
            None => match r.get("verdict") {
                None => Some("error".to_owned()),
                Some(v) => v.as_str().map(lower),
            },
        };
        match finding.as_deref().and_then(|f| counts.get_mut(f)) {
            Some(n) => *n += 1,
            None => {
                if is_str(r.get("verdict"), "ERROR") {
                    counts["errors"] += 1;
                }
            }
        }
    }
    counts.into_iter().map(|(k, v)| (k.to_owned(), PyValue::from(v))).collect()
}

/// Rebuilds `results.json` (ensure_ascii=True).
///
/// `salvaged` is what the old results.json still holds: its `model` and `timestamp`, and for
/// every salvaged result that carries a `stage1_consistency_update`, that update and the
/// `verdict` it set, are carried over (spec §3.7). `now` is the local time used for
/// `timestamp` when nothing was salvaged.
///
/// A unit with no usable checkpoint (torn, or gone because an earlier repair quarantined it)
/// keeps its complete entry of the old file, at the place OpenAnt puts results, so no paid-for
/// result is lost; it stays in [`Rebuilt::missing_units`] only if that entry is an error.
///
/// Each unit's `result` and `code_for_route` are moved out of `checkpoints` (a null left in
/// their place) rather than copied; the set's names, ids and other members are left as they are.
/// The id analyze gives unit `i` (`unit.get("id") or f"unit_{i}"`).
pub(crate) fn uid_of(i: usize, unit: &PyValue) -> PyValue {
    unit.get("id").cloned().unwrap_or_else(|| PyValue::from(format!("unit_{i}")))
}

/// Each unit's checkpoint file (by [`uid_of`]), chosen before any value is moved out of the
/// set, and how often each file is read.
pub(crate) fn unit_sources(units: &[Unit<'_>], checkpoints: &CheckpointSet) -> (Vec<Option<usize>>, Uses) {
    let sources: Vec<Option<usize>> = units
        .iter()
        .enumerate()
        .map(|(i, unit)| {
            uid_of(i, unit).as_str().and_then(|id| checkpoints.get(id)).map(|cp| index_of(checkpoints, cp))
        })
        .collect();
    let uses = Uses::count(checkpoints, sources.iter().flatten().copied());
    (sources, uses)
}

pub fn rebuild_results(
    inp: &AnalyzeInputs<'_>,
    checkpoints: &mut CheckpointSet,
    era: Era,
    salvaged: Option<&SalvagedFields>,
    now: NaiveDateTime,
) -> Result<Rebuilt, RegenError> {
    results_document(inp, checkpoints, era, salvaged, now)?.serialize()
}

/// [`rebuild_results`] without the serialization.
pub fn results_document(
    inp: &AnalyzeInputs<'_>,
    checkpoints: &mut CheckpointSet,
    era: Era,
    salvaged: Option<&SalvagedFields>,
    now: NaiveDateTime,
) -> Result<Document, RegenError> {
    let units = analyzed_units(inp, era)?;
    let (sources, mut uses) = unit_sources(&units, checkpoints);
    let mut inexact = Vec::new();
    let mut missing = Vec::new();
    let mut results: Vec<PyValue> = Vec::with_capacity(units.len());
    let mut restored_routes: Vec<(PyValue, PyValue)> = Vec::new();
    let mut rerun_routes: Vec<(PyValue, PyValue)> = Vec::new();
    for (i, (unit, source)) in units.iter().zip(sources).enumerate() {
        let uid = uid_of(i, unit);
        let label = id_text(&uid);
        let Some(file) = source else {
            let torn = uid.as_str().is_some_and(|id| checkpoints.unreadable(&checkpoint_file_name(id)).is_some());
            let why = if torn { "its checkpoint is torn" } else { "it has no analyze checkpoint" };
            let carried = carry_over(&uid, unit, salvaged).or_else(|| carry_from_verified(&uid, unit, inp.verified));
            if let Some(carried) = carried {
                inexact.push(Inexact::new(
                    format!("unit {label}"),
                    format!(
                        "carried over from {}: {why} (the next `openant analyze` redoes it); \
                         its code_by_route entry {}",
                        carried.source, carried.code_source
                    ),
                ));
                if carried.restorable {
                    restored_routes.push(carried.route);
                } else {
                    // An error result: OpenAnt re-ran the unit then, as it will now.
                    missing.push(label);
                    rerun_routes.push(carried.route);
                }
                results.push(carried.result);
                continue;
            }
            let what = if torn {
                "its analyze checkpoint is torn and the old results.json holds no complete entry for it (nor results_verified.json its stage-1 row)"
            } else {
                "no analyze checkpoint, and neither the old results.json nor results_verified.json holds its stage-1 result"
            };
            inexact.push(Inexact::new(
                format!("unit {label}"),
                format!("{what}: left out of results (metrics.total still counts it); re-run `openant analyze`"),
            ));
            missing.push(label);
            continue;
        };
        // Judged before anything is moved out of it.
        let restorable = is_restorable(checkpoints.step, &checkpoints.files[file].data);
        let last = uses.last(file);
        let data = &mut checkpoints.files[file].data;
        let result = take_member(data, "result", last).unwrap_or_else(PyValue::object);
        let route = (
            data.get("route_key").cloned().unwrap_or_else(|| uid.clone()),
            take_member(data, "code_for_route", last).unwrap_or_else(|| PyValue::from("")),
        );
        if restorable {
            restored_routes.push(route);
        } else {
            inexact.push(Inexact::new(
                format!("unit {label}"),
                "its analyze checkpoint is an error: used that error result (what a failed retry writes), its \
                 code_by_route entry placed after every restored one; re-run `openant analyze` to retry it",
            ));
            missing.push(label);
            rerun_routes.push(route);
        }
        results.push(result);
    }
    let mut code_by_route = PyObject::default();
    for (key, code) in restored_routes.into_iter().chain(rerun_routes) {
        match key_text(&key) {
            Some(k) => {
                code_by_route.insert(k, code);
            }
            None => inexact.push(Inexact::new("code_by_route", "a route_key is a list or object: entry left out")),
        }
    }

    order_like_old(&mut code_by_route, salvaged, inp.single_file, &mut inexact);
    carry_stage1_updates(&mut results, salvaged, &mut inexact);
    note_stage1_groups(&results, &mut inexact);

    if era == Era::ForkMaster {
        // `results.sort(key=lambda r: r.get("unit_id", ""))`, stable.
        results.sort_by(|a, b| sort_key(a).cmp(sort_key(b)));
    }

    let mut metrics = PyObject::default();
    metrics.insert("total".to_owned(), PyValue::from(units.len()));
    metrics.extend(count_verdicts(&results, era == Era::ForkMaster));

    let model = pick_model(inp, era, salvaged, &mut inexact);
    let timestamp = analyze_timestamp(salvaged, now, &mut inexact);
    note_dataset_rename(salvaged, &inp.dataset_name, &mut inexact);

    let mut doc = PyObject::default();
    doc.insert("dataset".to_owned(), PyValue::from(inp.dataset_name.clone()));
    doc.insert("model".to_owned(), model);
    doc.insert("timestamp".to_owned(), timestamp);
    doc.insert("metrics".to_owned(), PyValue::from(metrics));
    doc.insert("results".to_owned(), PyValue::Array(results));
    doc.insert("code_by_route".to_owned(), PyValue::from(code_by_route));
    Ok(Document::new(PyValue::from(doc), inexact, missing))
}

/// A unit's entry taken over from the old results.json, and its `code_by_route` entry.
struct Carried {
    result: PyValue,
    route: (PyValue, PyValue),
    /// Where the `code_by_route` value came from, for the note.
    code_source: &'static str,
    /// Whether the result passes analyze's resume rule (an error result is re-run).
    restorable: bool,
    /// The file it came from, for the note.
    source: &'static str,
}

/// The old results.json entry of a unit that has no usable analyze checkpoint (torn, or gone
/// because an earlier repair quarantined it), so that rebuilding never drops a paid-for
/// result. Only a complete entry whose `unit_id` is the unit's id counts; nothing is
/// invented. Its `code_by_route` entry is `_process_unit`'s: keyed by the result's
/// `route_key` (the unit id for an exception result, which has none), valued by the old file's
/// entry when the old `code_by_route` was read, else by what analyze stores, the unit's
/// `code.primary_code` (`""` for an exception result).
fn carry_over(uid: &PyValue, unit: &Unit<'_>, salvaged: Option<&SalvagedFields>) -> Option<Carried> {
    let salvaged = salvaged?;
    let id = uid.as_str()?;
    let old = salvaged.result_for(id).filter(|r| matches!(r, PyValue::Object(_)) && is_str(r.get("unit_id"), id))?;
    let route_key = old.get("route_key");
    let old_code = salvaged.field("code_by_route").and_then(|c| c.get(&key_text(route_key.unwrap_or(uid))?).cloned());
    let (code, code_source) = match (old_code, route_key) {
        (Some(code), _) => (code, "from the old file too"),
        (None, Some(_)) => (unit_code(unit), "rebuilt from the unit's code in the input dataset, as analyze stores it"),
        (None, None) => (PyValue::from(""), "\"\" under the unit id, as for any exception result"),
    };
    // Judged by analyze's own resume rule, on the entry as its checkpoint would have held it.
    let as_checkpoint = PyValue::from([("result".to_owned(), old.clone())].into_iter().collect::<PyObject>());
    Some(Carried {
        result: old.clone(),
        route: (route_key.unwrap_or(uid).clone(), code),
        code_source,
        restorable: is_restorable(CheckpointStep::Analyze, &as_checkpoint),
        source: "the old results.json",
    })
}

/// A unit's stage-1 result as `results_verified.json` still holds it, when no checkpoint and
/// no old results.json entry does. The fork's file keeps its `code_by_route`; the fix branch's
/// has none, and the entry is then rebuilt from the unit's code, as analyze stores it.
fn carry_from_verified(uid: &PyValue, unit: &Unit<'_>, verified: Option<&SalvagedFields>) -> Option<Carried> {
    let verified = verified?;
    let result = verified.stage1_row_of_verified(uid.as_str()?)?;
    let route_key = result.get("route_key").cloned();
    let old_code =
        verified.field("code_by_route").and_then(|c| c.get(&key_text(route_key.as_ref().unwrap_or(uid))?).cloned());
    let (code, code_source) = match (old_code, &route_key) {
        (Some(code), _) => (code, "from results_verified.json too"),
        (None, Some(_)) => (unit_code(unit), "rebuilt from the unit's code in the input dataset, as analyze stores it"),
        (None, None) => (PyValue::from(""), "\"\" under the unit id, as for any exception result"),
    };
    let as_checkpoint = PyValue::from([("result".to_owned(), result.clone())].into_iter().collect::<PyObject>());
    Some(Carried {
        restorable: is_restorable(CheckpointStep::Analyze, &as_checkpoint),
        route: (route_key.unwrap_or_else(|| uid.clone()), code),
        code_source,
        result,
        source: "results_verified.json (a row verify left as stage 1 wrote it)",
    })
}

/// `code_for_route` of `_process_unit`: `unit.get("code", {})`, its `primary_code` (default
/// `""`) when it is a dict, else the value itself. A code left in the dataset's text is read
/// here, for the few units that need it.
pub(crate) fn unit_code(unit: &Unit<'_>) -> PyValue {
    let read;
    let code = match unit.code_text {
        None => unit.get("code"),
        Some(text) => {
            // The projected read accepted the whole text, so the value's own bytes read alone
            // (pyjson::project's tests check it).
            read = text.map(|text| pyjson::parse(text).expect("a value the projected read accepted"));
            read.as_ref()
        }
    };
    match code {
        None => PyValue::from(""),
        Some(PyValue::Object(code)) => code.get("primary_code").cloned().unwrap_or_else(|| PyValue::from("")),
        Some(other) => other.clone(),
    }
}

/// `code_by_route` order is OpenAnt's restore order (restored units in unit order, then the
/// re-run ones); a fresh parallel run wrote completion order. When the old file still has its
/// `code_by_route` with the same keys, its order is kept; else, when every unit came from the
/// fork's `analyze_checkpoint.json`, that file's order, which the fork's results.json kept
/// (keys it lacks after it).
fn order_like_old(
    code_by_route: &mut PyObject,
    salvaged: Option<&SalvagedFields>,
    single_file: Option<&RunRecord>,
    inexact: &mut Vec<Inexact>,
) {
    let old = salvaged.and_then(|s| s.field("code_by_route")).and_then(PyValue::as_object);
    match old {
        Some(old) if old.len() == code_by_route.len() && old.keys().all(|k| code_by_route.contains_key(k)) => {
            if !old.keys().eq(code_by_route.keys()) {
                reorder(code_by_route, old.keys());
                inexact.push(Inexact::new("code_by_route", "key order taken from the old results.json"));
            }
        }
        _ => match single_file.filter(|r| !r.code_by_route_order.is_empty()) {
            Some(record) => {
                reorder(code_by_route, record.code_by_route_order.iter());
                inexact.push(Inexact::new(
                    "code_by_route",
                    format!(
                        "key order taken from {}, whose code_by_route the fork's results.json kept (keys it lacks after its own; the contents are exact)",
                        record.source
                    ),
                ));
            }
            None => inexact.push(Inexact::new(
                "code_by_route",
                "keys in restore order (restored units in unit order, then re-run ones); a fresh parallel run wrote \
                 completion order, which is not recoverable (the contents are exact)",
            )),
        },
    }
}

/// Moves the keys of `order` that `map` has to its front, in that order; the rest follow in
/// their own order.
pub(crate) fn reorder<'k>(map: &mut PyObject, order: impl Iterator<Item = &'k String>) {
    let mut reordered = PyObject::with_capacity_and_hasher(map.len(), Default::default());
    for k in order {
        if let Some(v) = map.shift_remove(k) {
            reordered.insert(k.clone(), v);
        }
    }
    reordered.extend(std::mem::take(map));
    *map = reordered;
}

fn sort_key(r: &PyValue) -> &str {
    r.get("unit_id").and_then(PyValue::as_str).unwrap_or("")
}

fn pick_model(
    inp: &AnalyzeInputs<'_>,
    era: Era,
    salvaged: Option<&SalvagedFields>,
    inexact: &mut Vec<Inexact>,
) -> PyValue {
    let from_report = inp.model.as_deref().map(|m| era.analyze_model_id(m));
    if let Some(old) = salvaged.and_then(|s| s.field("model")) {
        if let Some(r) = from_report.filter(|r| old.as_str() != Some(*r)) {
            inexact.push(Inexact::new(
                "model",
                format!("kept the old file's {old:?}; analyze.report.json inputs would give {r:?}"),
            ));
        }
        return old.clone();
    }
    if let Some((record, model)) = inp.single_file.and_then(|r| Some((r, r.model.as_ref()?))) {
        let mut note = format!("taken from {}, which records the model of the run that wrote it", record.source);
        if let Some(r) = from_report.filter(|r| model.as_str() != Some(*r)) {
            note.push_str(&format!(" (analyze.report.json inputs would give {r:?})"));
        }
        inexact.push(Inexact::new("model", note));
        return model.clone();
    }
    match from_report {
        Some(id) => {
            inexact.push(Inexact::new(
                "model",
                format!("{id:?} taken from analyze.report.json inputs (not in checkpoints)"),
            ));
            PyValue::from(id)
        }
        None => {
            inexact.push(Inexact::new(
                "model",
                "not in checkpoints and no analyze.report.json or old results.json: assumed the default opus, \
                 claude-opus-4-6",
            ));
            PyValue::from("claude-opus-4-6")
        }
    }
}

/// Carries `verdict` + `stage1_consistency_update` over from salvaged results of the same
/// `unit_id` that carry an update.
pub(crate) fn carry_stage1_updates(
    results: &mut [PyValue],
    salvaged: Option<&SalvagedFields>,
    inexact: &mut Vec<Inexact>,
) {
    let Some(salvaged) = salvaged else { return };
    // The last old element of each unit id wins, as a reverse search would find it.
    let old_by_unit: std::collections::HashMap<&str, &PyValue> =
        salvaged.results().filter_map(|o| Some((o.get("unit_id")?.as_str()?, o))).collect();
    for r in results.iter_mut() {
        let Some(uid) = r.get("unit_id").and_then(PyValue::as_str).map(str::to_owned) else { continue };
        let Some(&old) = old_by_unit.get(uid.as_str()) else { continue };
        let Some(update) = old.get("stage1_consistency_update") else { continue };
        let PyValue::Object(map) = r else { continue };
        if let Some(v) = old.get("verdict") {
            map.insert("verdict".to_owned(), v.clone());
        }
        map.insert("stage1_consistency_update".to_owned(), update.clone());
        inexact.push(Inexact::new(
            result_field(&uid, "stage1_consistency_update"),
            "carried over (with its verdict) from the old results.json: the consistency check's LLM edit is not \
             in the checkpoints",
        ));
    }
}

/// `_extract_function_signature_pattern` of `utilities/stage1_consistency.py`.
pub fn stage1_pattern(route_key: &str) -> String {
    let Some((file_part, func_part)) = route_key.rsplit_once(':') else { return route_key.to_owned() };
    let filename = file_part.rsplit('/').next().unwrap_or(file_part);
    let normalized = if let Some((_, method)) = func_part.rsplit_once('.') {
        format!("*.{method}")
    } else {
        const PREFIXES: [&str; 9] =
            ["build_", "get_", "create_", "make_", "init_", "setup_", "default_", "cached_", "new_"];
        let mut n = func_part.trim_start_matches('_');
        while let Some(rest) = PREFIXES.iter().find_map(|p| n.strip_prefix(p)) {
            n = rest;
        }
        format!("*_{n}")
    };
    format!("{filename}:{normalized}")
}

/// Notes every result in a group the stage-1 consistency check would send to the LLM (two or
/// more results of one pattern whose verdict classes differ), unless an update was carried over
/// for that result.
pub(crate) fn note_stage1_groups(results: &[PyValue], inexact: &mut Vec<Inexact>) {
    let mut groups: IndexMap<String, Vec<&PyValue>> = IndexMap::new();
    for r in results {
        let rk = r.get("route_key").and_then(PyValue::as_str).unwrap_or("");
        groups.entry(stage1_pattern(rk)).or_default().push(r);
    }
    for (pattern, group) in groups {
        if group.len() < 2 {
            continue;
        }
        let mut classes: Vec<String> = Vec::new();
        for r in &group {
            let v = r.get("verdict").and_then(PyValue::as_str).unwrap_or("").to_uppercase();
            let class = match v.as_str() {
                "VULNERABLE" | "BYPASSABLE" => "VULNERABLE".to_owned(),
                "SAFE" | "PROTECTED" => "SAFE".to_owned(),
                _ => v,
            };
            if !classes.contains(&class) {
                classes.push(class);
            }
        }
        if classes.len() < 2 {
            continue;
        }
        for r in group {
            if r.get("stage1_consistency_update").is_some() {
                continue;
            }
            let label = r.get("unit_id").map_or_else(|| "<no unit_id>".to_owned(), id_text);
            inexact.push(Inexact::new(
                result_field(&label, "stage1_consistency_update"),
                format!(
                    "may have been added by the stage-1 consistency check on pattern {pattern:?}: not reproducible"
                ),
            ));
            inexact.push(Inexact::new(
                result_field(&label, "verdict"),
                format!(
                    "the stage-1 consistency check would run on pattern {pattern:?} (verdicts {}); its LLM edits \
                     (verdict, stage1_consistency_update) cannot be reproduced: kept the checkpointed verdict",
                    classes.join("/")
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::CheckpointStep;
    use crate::regen::salvage_leading_fields;
    use crate::regen::test_support::{checkpoint_set, p};

    fn cps(files: &[(&str, &str)]) -> CheckpointSet {
        checkpoint_set(CheckpointStep::Analyze, files)
    }

    fn now() -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 5, 20).unwrap().and_hms_micro_opt(10, 11, 12, 345).unwrap()
    }

    fn ok_cp(id: &str, route: &str, finding: &str) -> String {
        format!(
            r#"{{"result":{{"finding":"{finding}","verdict":"{}","route_key":"{route}","unit_id":"{id}"}},"route_key":"{route}","code_for_route":"code {id}","usage":{{}},"id":"{id}"}}"#,
            finding.to_uppercase()
        )
    }

    #[test]
    fn code_by_route_puts_errored_units_after_every_restored_one() {
        // Spec §3.2.2: units z (errored), a, m, r → keys a, m, GET:/x, z.
        let ds = p(r#"{"units":[{"id":"z"},{"id":"a"},{"id":"m"},{"id":"r"}]}"#);
        let z = r#"{"result":{"unit_id":"z","verdict":"ERROR","finding":"error","error":"529"},"route_key":"z","code_for_route":"","usage":{},"id":"z"}"#;
        let set = cps(&[
            ("z.json", z),
            ("a.json", &ok_cp("a", "a", "safe")),
            ("m.json", &ok_cp("m", "m", "safe")),
            ("r.json", &ok_cp("r", "GET:/x", "vulnerable")),
        ]);
        let inp = AnalyzeInputs::from_report(&ds, None, "dataset.json");
        let r = rebuild_results(&inp, &mut set.clone(), Era::Fix, None, now()).unwrap();
        let keys: Vec<&String> = r.value.get("code_by_route").unwrap().as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "m", "GET:/x", "z"]);
        // results stay in unit order, the errored result included.
        let ids: Vec<&str> = r.value.get("results").unwrap().as_array().unwrap().iter().map(sort_key).collect();
        assert_eq!(ids, ["z", "a", "m", "r"]);
        assert_eq!(r.missing_units, ["z"]);
        assert_eq!(r.value.get("metrics").unwrap().get("errors"), Some(&PyValue::from(1)));
        assert_eq!(r.value.get("timestamp"), Some(&PyValue::from("2026-05-20T10:11:12.000345")));
        assert!(r.names_inexact("timestamp") && r.names_inexact("model"));
        assert_eq!(r.value.get("model"), Some(&PyValue::from("claude-opus-4-6")));
    }

    #[test]
    fn duplicate_route_keys_keep_the_first_place_and_the_last_value() {
        let ds = p(r#"{"units":[{"id":"a"},{"id":"b"},{"id":"c"}]}"#);
        let set = cps(&[
            ("a.json", &ok_cp("a", "K", "safe")),
            ("b.json", &ok_cp("b", "L", "safe")),
            ("c.json", &ok_cp("c", "K", "safe")),
        ]);
        let r = rebuild_results(&AnalyzeInputs::from_report(&ds, None, "d"), &mut set.clone(), Era::Fix, None, now())
            .unwrap();
        assert_eq!(r.value.get("code_by_route"), Some(&p(r#"{"K":"code c","L":"code b"}"#)));
    }

    #[test]
    fn missing_units_are_left_out_but_counted_in_total() {
        let ds = p(r#"{"units":[{"id":"a"},{"id":"b"}]}"#);
        let set = cps(&[("a.json", &ok_cp("a", "a", "vulnerable"))]);
        let r = rebuild_results(&AnalyzeInputs::from_report(&ds, None, "d"), &mut set.clone(), Era::Fix, None, now())
            .unwrap();
        assert_eq!(r.value.get("results").unwrap().as_array().unwrap().len(), 1);
        assert_eq!(r.value.get("metrics").unwrap().get("total"), Some(&PyValue::from(2)));
        assert_eq!(r.missing_units, ["b"]);
        assert!(r.names_inexact("unit b"));
    }

    #[test]
    fn filters_diff_exploitable_and_limit() {
        let ds = p(r#"{"units":[
            {"id":"a","diff_selected":true,"agent_context":{"security_classification":"exploitable"}},
            {"id":"b","diff_selected":true,"agent_context":{"security_classification":"vulnerable_internal"}},
            {"id":"c","diff_selected":false,"agent_context":{"security_classification":"exploitable"}},
            {"id":"d","agent_context":{"security_classification":"exploitable"}},
            {"id":"e","diff_selected":1,"agent_context":{"security_classification":"neutral"}},
            {"id":"f","diff_selected":"yes"}]}"#);
        let ids = |inp: &AnalyzeInputs<'_>, era| {
            analyzed_units(inp, era).unwrap().iter().map(|u| id_text(u.get("id").unwrap())).collect::<Vec<_>>()
        };
        let mut inp = AnalyzeInputs::from_report(&ds, None, "d");
        assert_eq!(ids(&inp, Era::Fix), ["a", "b", "e", "f"]);
        assert_eq!(ids(&inp, Era::ForkMaster), ["a", "b", "c", "d", "e", "f"]);
        inp.exploitable_filter = Some(PyValue::from("all"));
        assert_eq!(ids(&inp, Era::Fix), ["a", "b"]);
        inp.exploitable_filter = Some(PyValue::from("strict"));
        assert_eq!(ids(&inp, Era::Fix), ["a"]);
        inp.exploitable_filter = None;
        inp.limit = Some(PyValue::from(3));
        assert_eq!(ids(&inp, Era::Fix), ["a", "b", "e"]);
        inp.limit = Some(PyValue::from(0));
        assert_eq!(ids(&inp, Era::Fix), ["a", "b", "e", "f"]);
        inp.limit = Some(PyValue::from(-1));
        assert_eq!(ids(&inp, Era::Fix), ["a", "b", "e"]);
        inp.limit = Some(PyValue::from(99));
        assert_eq!(ids(&inp, Era::Fix).len(), 4);
        let report = p(
            r#"{"inputs":{"dataset_path":"/x/y/dataset_enhanced.json","model":"sonnet","exploitable_filter":null,"limit":2}}"#,
        );
        let inp = AnalyzeInputs::from_report(&ds, Some(&report), "d");
        assert_eq!(inp.dataset_name, "dataset_enhanced.json");
        assert_eq!(inp.model.as_deref(), Some("sonnet"));
        assert_eq!(inp.exploitable_filter, None);
        assert_eq!(ids(&inp, Era::Fix), ["a", "b"]);
    }

    #[test]
    fn metrics_are_case_sensitive_and_follow_finding_then_verdict() {
        let results = [
            p(r#"{"finding":"vulnerable","verdict":"VULNERABLE"}"#),
            p(r#"{"finding":"Vulnerable","verdict":"VULNERABLE"}"#),
            p(r#"{"finding":null,"verdict":"SAFE"}"#),
            p(r#"{"finding":null,"verdict":"ERROR"}"#),
            p(r#"{"verdict":"SAFE"}"#),
            p(r#"{"finding":"error","verdict":"ERROR"}"#),
            p(r#"{"unit_id":"x"}"#),
            p(r#"{"finding":"insufficient_context","verdict":"INSUFFICIENT_CONTEXT"}"#),
            p(r#"{"finding":"errors"}"#),
        ];
        let fix = count_verdicts(&results, false);
        assert_eq!(
            PyValue::from(fix),
            p(r#"{"vulnerable":1,"bypassable":0,"inconclusive":0,"protected":0,"safe":1,"errors":3}"#)
        );
        let fork = count_verdicts(&results, true);
        assert_eq!(
            PyValue::from(fork),
            p(
                r#"{"vulnerable":1,"bypassable":0,"inconclusive":0,"insufficient_context":1,"protected":0,"safe":1,"errors":3}"#
            )
        );
    }

    #[test]
    fn fork_sorts_by_unit_id_and_names_its_sonnet() {
        let ds = p(r#"{"units":[{"id":"b"},{"id":"a"},{"id":"c"}]}"#);
        let set = cps(&[
            ("a.json", &ok_cp("a", "a", "safe")),
            ("b.json", &ok_cp("b", "b", "safe")),
            ("c.json", &ok_cp("c", "c", "safe")),
        ]);
        let mut inp = AnalyzeInputs::from_report(&ds, None, "d");
        inp.model = Some("sonnet".to_owned());
        let r = rebuild_results(&inp, &mut set.clone(), Era::ForkMaster, None, now()).unwrap();
        let ids: Vec<&str> = r.value.get("results").unwrap().as_array().unwrap().iter().map(sort_key).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        // code_by_route stays in restore (unit) order.
        let keys: Vec<&String> = r.value.get("code_by_route").unwrap().as_object().unwrap().keys().collect();
        assert_eq!(keys, ["b", "a", "c"]);
        assert_eq!(r.value.get("model"), Some(&PyValue::from("claude-sonnet-4-6")));
        assert!(r.value.get("metrics").unwrap().get("insufficient_context").is_some());
    }

    #[test]
    fn a_single_files_record_gives_the_model_and_key_order_the_old_file_no_longer_has() {
        let ds = p(r#"{"units":[{"id":"b"},{"id":"a"},{"id":"c"}]}"#);
        let set = cps(&[
            ("a.json", &ok_cp("a", "a", "safe")),
            ("b.json", &ok_cp("b", "b", "safe")),
            ("c.json", &ok_cp("c", "c", "safe")),
        ]);
        // The fork before c2191e2 wrote the upstream sonnet id; the record says what it wrote.
        let record = RunRecord {
            source: "analyze_checkpoint.json".to_owned(),
            model: Some(PyValue::from("claude-sonnet-4-20250514")),
            code_by_route_order: vec!["c".to_owned(), "gone".to_owned(), "a".to_owned()],
            token_usage: None,
        };
        let mut inp = AnalyzeInputs::from_report(&ds, None, "d");
        inp.model = Some("sonnet".to_owned());
        inp.single_file = Some(&record);
        let r = rebuild_results(&inp, &mut set.clone(), Era::ForkMaster, None, now()).unwrap();
        assert_eq!(r.value.get("model"), Some(&PyValue::from("claude-sonnet-4-20250514")));
        let model_note = &r.inexact.iter().find(|n| n.field == "model").unwrap().note;
        assert!(model_note.contains("analyze.report.json inputs would give \"claude-sonnet-4-6\""), "{model_note}");
        // The record's order first, then keys it does not have.
        let keys: Vec<&String> = r.value.get("code_by_route").unwrap().as_object().unwrap().keys().collect();
        assert_eq!(keys, ["c", "a", "b"]);
        assert!(r.inexact.iter().any(|n| n.field == "code_by_route" && n.note.contains("analyze_checkpoint.json")));

        // What the old file still holds comes first.
        let old = salvage_leading_fields(br#"{"dataset":"d","model":"claude-opus-4-6","timestamp":"t","metrics":{},"results":[],"code_by_route":{"a":"code a","b":"code b","c":"code c"}}"#);
        let r = rebuild_results(&inp, &mut set.clone(), Era::ForkMaster, Some(&old), now()).unwrap();
        assert_eq!(r.value.get("model"), Some(&PyValue::from("claude-opus-4-6")));
        let keys: Vec<&String> = r.value.get("code_by_route").unwrap().as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "b", "c"]);
    }

    #[test]
    fn stage1_patterns_and_carried_updates() {
        assert_eq!(stage1_pattern("libs/a/foo.py:_build_async_httpx_client"), "foo.py:*_async_httpx_client");
        assert_eq!(stage1_pattern("x/bar.py:_get_default_async_httpx_client"), "bar.py:*_async_httpx_client");
        assert_eq!(stage1_pattern("libs/core/base.py:Blob.as_bytes"), "base.py:*.as_bytes");
        assert_eq!(stage1_pattern("GET:/x"), "GET:*_/x");
        assert_eq!(stage1_pattern("nocolon"), "nocolon");
        assert_eq!(stage1_pattern("a.py:get_new_user"), "a.py:*_user");

        let ds = p(r#"{"units":[{"id":"u.py:get_user"},{"id":"u.py:create_user"}]}"#);
        let set = cps(&[
            ("u.py_get_user.json", &ok_cp("u.py:get_user", "u.py:get_user", "vulnerable")),
            ("u.py_create_user.json", &ok_cp("u.py:create_user", "u.py:create_user", "safe")),
        ]);
        let inp = AnalyzeInputs::from_report(&ds, None, "d");
        let r = rebuild_results(&inp, &mut set.clone(), Era::Fix, None, now()).unwrap();
        assert!(r.names_inexact("results[u.py:create_user].verdict"));
        let old = salvage_leading_fields(
            br#"{"dataset":"d","model":"claude-opus-4-6","timestamp":"2026-01-01T00:00:00","metrics":{},"results":[
            {"unit_id":"u.py:get_user"},
            {"verdict":"VULNERABLE","unit_id":"u.py:create_user","finding":"safe","stage1_consistency_update":{"from":"SAFE","to":"VULNERABLE"}},"#,
        );
        let r = rebuild_results(&inp, &mut set.clone(), Era::Fix, Some(&old), now()).unwrap();
        let res = &r.value.get("results").unwrap().as_array().unwrap()[1];
        assert_eq!(res.get("verdict"), Some(&PyValue::from("VULNERABLE")));
        let keys: Vec<&String> = res.as_object().unwrap().keys().collect();
        assert_eq!(keys.last().map(|k| k.as_str()), Some("stage1_consistency_update"));
        // The finding is unchanged, so the metrics are too.
        assert_eq!(r.value.get("metrics").unwrap().get("safe"), Some(&PyValue::from(1)));
        assert_eq!(r.value.get("timestamp"), Some(&PyValue::from("2026-01-01T00:00:00")));
        assert!(!r.names_inexact("timestamp") && !r.names_inexact("model"));
    }

    /// A scan of units a, b, c, d whose checkpoint for b is torn, c's is missing and d's is
    /// fine, and an old results.json written by a full restore (unit order).
    fn carry_scan() -> (PyValue, CheckpointSet, String) {
        let ds =
            p(r#"{"units":[{"id":"a","code":{"primary_code":"code a"}},{"id":"b","code":{"primary_code":"code b"}},
            {"id":"c","code":"raw c"},{"id":"d","code":{"primary_code":"code d"}}]}"#);
        let set = cps(&[
            ("a.json", &ok_cp("a", "a", "safe")),
            ("b.json", r#"{"result": {"finding": "vulne"#),
            ("d.json", &ok_cp("d", "d", "vulnerable")),
        ]);
        let old = r#"{"dataset": "d", "model": "claude-opus-4-6", "timestamp": "2026-01-01T00:00:00", "metrics": {},
            "results": [
            {"finding": "safe", "verdict": "SAFE", "route_key": "a", "unit_id": "a"},
            {"finding": "vulnerable", "verdict": "VULNERABLE", "route_key": "GET:/b", "unit_id": "b"},
            {"finding": "safe", "verdict": "SAFE", "route_key": "c", "unit_id": "c"},
            {"finding": "vulnerable", "verdict": "VULNERABLE", "route_key": "d", "unit_id": "d"},
            {"finding": "safe", "verdict": "SAFE", "route_key": "gone", "unit_id": "gone"}],
            "code_by_route": {"a": "code a", "GET:/b": "old code b", "c": "old c", "d": "code d", "gone": "x"}}"#;
        (ds, set, old.to_owned())
    }

    #[test]
    fn units_without_a_usable_checkpoint_keep_their_old_entry() {
        let (ds, set, old) = carry_scan();
        let inp = AnalyzeInputs::from_report(&ds, None, "d");
        // A torn old file: code_by_route is lost, so the codes come from the dataset units.
        let cut = old.find("{\"finding\": \"vulnerable\", \"verdict\": \"VULNERABLE\", \"route_key\": \"d\"").unwrap();
        let salvaged = salvage_leading_fields(&old.as_bytes()[..cut]);
        let r = rebuild_results(&inp, &mut set.clone(), Era::Fix, Some(&salvaged), now()).unwrap();
        let ids: Vec<&str> = r.value.get("results").unwrap().as_array().unwrap().iter().map(sort_key).collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
        assert_eq!(
            r.value.get("code_by_route"),
            Some(&p(r#"{"a":"code a","GET:/b":"code b","c":"raw c","d":"code d"}"#))
        );
        assert!(r.missing_units.is_empty(), "{:?}", r.missing_units);
        let note = |unit: &str| r.inexact.iter().find(|n| n.field == format!("unit {unit}")).unwrap().note.clone();
        assert!(
            note("b").starts_with("carried over from the old results.json: its checkpoint is torn"),
            "{}",
            note("b")
        );
        assert!(note("c").starts_with("carried over from the old results.json: it has no analyze checkpoint"));
        let metrics = r.value.get("metrics").unwrap();
        assert_eq!(
            (metrics.get("total"), metrics.get("vulnerable")),
            (Some(&PyValue::from(4)), Some(&PyValue::from(2)))
        );

        // A complete old file: its code_by_route values are used; the unit no longer in the
        // dataset is not carried over.
        let salvaged = salvage_leading_fields(old.as_bytes());
        let r = rebuild_results(&inp, &mut set.clone(), Era::Fix, Some(&salvaged), now()).unwrap();
        assert_eq!(r.value.get("results").unwrap().as_array().unwrap().len(), 4);
        assert_eq!(
            r.value.get("code_by_route"),
            Some(&p(r#"{"a":"code a","GET:/b":"old code b","c":"old c","d":"code d"}"#))
        );

        // Without the old entries (cut inside b's), b and c are left out and named.
        let cut = old.find("\"GET:/b\"").unwrap();
        let salvaged = salvage_leading_fields(&old.as_bytes()[..cut]);
        let r = rebuild_results(&inp, &mut set.clone(), Era::Fix, Some(&salvaged), now()).unwrap();
        assert_eq!(r.missing_units, ["b", "c"]);
        let b = &r.inexact.iter().find(|n| n.field == "unit b").unwrap().note;
        assert!(
            b.starts_with("its analyze checkpoint is torn and the old results.json holds no complete entry"),
            "{b}"
        );

        // The fork sorts results by unit id, carried ones included.
        let ds = p(r#"{"units":[{"id":"d"},{"id":"b"},{"id":"a"}]}"#);
        let inp = AnalyzeInputs::from_report(&ds, None, "d");
        let r = rebuild_results(
            &inp,
            &mut set.clone(),
            Era::ForkMaster,
            Some(&salvage_leading_fields(old.as_bytes())),
            now(),
        )
        .unwrap();
        let ids: Vec<&str> = r.value.get("results").unwrap().as_array().unwrap().iter().map(sort_key).collect();
        assert_eq!(ids, ["a", "b", "d"]);
    }

    #[test]
    fn carried_error_results_go_with_the_re_run_units() {
        // An exception result has no route_key: its code_by_route entry is "" under the unit id,
        // after every restored entry, and the unit is still one OpenAnt re-runs.
        let ds = p(r#"{"units":[{"id":"z","code":{"primary_code":"code z"}},{"id":"a"}]}"#);
        let set = cps(&[("z.json", ""), ("a.json", &ok_cp("a", "a", "safe"))]);
        let old = br#"{"dataset": "d", "results": [{"unit_id": "z", "verdict": "ERROR", "finding": "error", "error": "529"},"#;
        let salvaged = salvage_leading_fields(old);
        let r = rebuild_results(
            &AnalyzeInputs::from_report(&ds, None, "d"),
            &mut set.clone(),
            Era::Fix,
            Some(&salvaged),
            now(),
        )
        .unwrap();
        assert_eq!(r.value.get("code_by_route"), Some(&p(r#"{"a":"code a","z":""}"#)));
        assert_eq!(r.missing_units, ["z"]);
        assert_eq!(r.value.get("metrics").unwrap().get("errors"), Some(&PyValue::from(1)));
    }

    /// Units whose code takes every form `unit_code` reads: in an object (after or before the
    /// id, with or without `primary_code`, escaped), repeated (the last wins), not an object,
    /// absent; ids that are not strings or absent; only unit `a` has a checkpoint.
    const CODE_SHAPES: &str = r#"{"name": "x", "units": [
        {"code": {"primary_code": "code a", "deps": [1, {"k": "v"}]}, "id": "a"},
        {"id": "b", "code": {"other": 1}},
        {"code": "raw c", "id": "c", "code": {"primary_code": "c\u00e9\n2", "primary_code": "c3"}},
        {"id": "d", "code": ["list", 1.5, null]},
        {"id": "e", "agent_context": {"security_classification": "exploitable", "x": [1]}},
        {"co\u0064e": {"primary_code": "f\ud83d\ude00"}, "id": "f", "code2": "not it"},
        {"id": 7, "code": "seven"},
        {"code": "anon"},
        {"id": "g", "code": null},
        {"id": "h", "code": 12}
    ], "units_after": {"code": "nothing"}}"#;

    #[test]
    fn a_dataset_read_without_its_code_rebuilds_the_same_bytes() {
        let whole = p(CODE_SHAPES);
        let read = InputDataset::read(Arc::new(CODE_SHAPES.as_bytes().to_vec())).unwrap();
        // Only what the builders read is in the tree.
        let unit = &read.tree.get("units").unwrap().as_array().unwrap()[4];
        assert_eq!(unit, &p(r#"{"id": "e", "agent_context": {"security_classification": "exploitable"}}"#));
        let set = cps(&[("a.json", &ok_cp("a", "a", "safe"))]);
        // Every other unit is carried over from a torn old file (its code_by_route lost), so its
        // code_by_route entry is its code.
        let mut old = String::from(
            r#"{"dataset": "d", "model": "claude-opus-4-6", "timestamp": "t", "metrics": {}, "results": ["#,
        );
        for id in ["b", "c", "d", "e", "f", "g", "h", "unit_7"] {
            old.push_str(&format!(
                r#"{{"finding": "safe", "verdict": "SAFE", "route_key": "{id}", "unit_id": "{id}"}}, "#
            ));
        }
        let salvaged = salvage_leading_fields(old.as_bytes());
        for era in [Era::Fix, Era::ForkMaster] {
            let rebuild = |dataset: Dataset<'_>| {
                let inp = AnalyzeInputs::from_report(dataset, None, "d");
                rebuild_results(&inp, &mut set.clone(), era, Some(&salvaged), now()).unwrap()
            };
            let (a, b) = (rebuild(Dataset::from(&whole)), rebuild(Dataset::from(&read)));
            assert_eq!(a.bytes, b.bytes);
            assert_eq!(a.inexact, b.inexact);
            assert_eq!(
                a.value.get("code_by_route"),
                Some(&p(
                    r#"{"a": "code a", "b": "", "c": "c3", "d": ["list", 1.5, null], "e": "", "f": "f\ud83d\ude00", "unit_7": "anon", "g": null, "h": 12}"#
                ))
            );
        }
    }

    #[test]
    fn unit_code_reads_a_code_left_in_the_text() {
        let read = InputDataset::read(Arc::new(CODE_SHAPES.as_bytes().to_vec())).unwrap();
        let whole = p(CODE_SHAPES);
        let from_text = dataset_units(Dataset::from(&read)).unwrap();
        let from_tree = dataset_units(Dataset::from(&whole)).unwrap();
        assert_eq!(from_text.len(), from_tree.len());
        for (t, w) in from_text.iter().zip(&from_tree) {
            assert!(t.code_text.is_some() && w.code_text.is_none());
            assert_eq!(unit_code(t), unit_code(w), "{:?}", w.get("id"));
        }
        assert_eq!(unit_code(&from_text[7]), PyValue::from("anon"));
        assert_eq!(unit_code(&from_text[4]), PyValue::from(""));
    }

    #[test]
    fn the_filters_read_the_same_units_from_a_dataset_read_without_its_code() {
        let text = r#"{"units": [
            {"id": "a", "diff_selected": 1, "diff_selected": null, "agent_context": {"security_classification": "exploitable"}},
            {"diff_selected": [0], "i\u0064": "b", "agent_context": {"security_classification": "neutral"}},
            {"agent_context": "exploitable", "diff_selected": true, "id": "c"},
            {"id": "d", "diff_selected": "", "code": "x"},
            {"id": "e", "diff_selected": {"k": 0}, "agent_context": {"security_classification": "vulnerable_internal", "security_classification": "exploitable"}}
        ]}"#;
        let (whole, read) = (p(text), InputDataset::read(Arc::new(text.as_bytes().to_vec())).unwrap());
        for (filter, limit) in [(None, None), (Some("strict"), None), (Some("all"), Some(1)), (None, Some(-1))] {
            for era in [Era::Fix, Era::ForkMaster] {
                let ids = |dataset: Dataset<'_>| {
                    let mut inp = AnalyzeInputs::from_report(dataset, None, "d");
                    inp.exploitable_filter = filter.map(PyValue::from);
                    inp.limit = limit.map(PyValue::from);
                    analyzed_units(&inp, era).unwrap().iter().map(|u| id_text(u.get("id").unwrap())).collect::<Vec<_>>()
                };
                assert_eq!(ids(Dataset::from(&whole)), ids(Dataset::from(&read)), "{filter:?} {limit:?} {era:?}");
            }
        }
    }

    #[test]
    fn isoformat_drops_a_zero_fraction() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap().and_hms_opt(3, 4, 5).unwrap();
        assert_eq!(python_isoformat(t), "2026-01-02T03:04:05");
    }
}
