//! `pipeline_output.json` rebuilt the way `scan` built it (spec §3.4; OpenAnt
//! `core/reporter.build_pipeline_output` called from `core/scanner.scan_repository`).
//!
//! The build itself is deterministic and needs no LLM: [`build_pipeline_output`] mirrors
//! OpenAnt's function on already-loaded inputs, Python semantics included (truthiness, `.get`
//! defaults versus `or`, `==` across int/float, where OpenAnt would raise). What `scan` passed as
//! arguments is not recorded anywhere; [`rebuild_pipeline_output`] recovers it, preferring the
//! leading fields of the old `pipeline_output.json` (intact or torn, see
//! [`salvage_leading_fields`]) and falling back to the step reports, `application_context.json`,
//! `project.json` and `meta.json`, naming every field it had to guess.
//!
//! Not reproduced: the standalone `build-output` variant (different name, app type, level and
//! a directory-order glob of step reports) — this module rebuilds the scan-time file only.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Timelike, Utc};

use super::common::{InexactField, InputUsed, JsonInput, RebuildError, RebuiltOutput};
use super::py::{add, hash_key, py_eq, py_or, py_str, sub, truthy, HashKey};
use super::salvage::{skip_ws, string_end, value_end};
use crate::pyjson::{self, PyObject, PyValue};

/// The steps `scan` can run before `build-output`, in pipeline order (spec §1.3).
pub const STEPS_BEFORE_BUILD_OUTPUT: &[&str] =
    &["parse", "app-context", "llm-reachability", "enhance", "analyze", "verify"];

/// Which `build_pipeline_output` produced the file (spec §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineEra {
    /// Since upstream `ec5213b` (2026-04-28; fork master too): caller/callee dedup, CWE
    /// fallbacks, `vulnerable_code_section`, confirmed fallback on the final verdict only.
    Current,
    /// Before `ec5213b`: no dedup, `cwe_id`/`cwe_name` only from `vulnerabilities[0]` (defaults
    /// `0`/`"Unknown"`), no `vulnerable_code_section`, and the confirmed fallback also requires
    /// `verification.agree` (default true).
    Legacy,
}

/// The caller arguments of OpenAnt's `build_pipeline_output`, as values.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildArgs {
    /// `repo_name` (`None` = not passed; a falsy value falls back to `results.dataset`).
    pub repo_name: Option<PyValue>,
    pub repo_url: Option<PyValue>,
    /// Also picks the code fence of `vulnerable_code_section`.
    pub language: Option<PyValue>,
    /// Written as given (`Null` when not passed).
    pub commit_sha: PyValue,
    pub application_type: PyValue,
    pub processing_level: PyValue,
    /// The `analysis_date` string.
    pub analysis_date: String,
    /// When set, written as the whole `repository` object instead of the four fields built
    /// from the arguments (salvaged from an old file).
    pub repository: Option<PyValue>,
}

/// A pipeline-output input file (`call_graph.json`, `diff_manifest.json`,
/// `diff_filter.report.json`) as `build_pipeline_output` sees it.
pub type SidecarInput = JsonInput;

/// Everything `build_pipeline_output` reads.
#[derive(Debug, Clone)]
pub struct BuildInputs<'a> {
    /// The parsed results file (`results_verified.json` or `results.json`).
    pub experiment: &'a PyValue,
    pub call_graph: &'a SidecarInput,
    pub diff_manifest: &'a SidecarInput,
    pub diff_filter_report: &'a SidecarInput,
    /// The step reports passed by `scan`, in order (already replaced by
    /// `{"step": …, "status": "unknown"}` where unreadable).
    pub step_reports: &'a [PyValue],
    pub args: &'a BuildArgs,
    pub era: PipelineEra,
}

fn fail(msg: impl Into<String>) -> RebuildError {
    RebuildError::OpenAntWouldFail(msg.into())
}

fn as_dict<'v>(v: &'v PyValue, what: &str) -> Result<&'v PyObject, RebuildError> {
    v.as_object().ok_or_else(|| fail(format!("{what} is not a JSON object ('.get' raises AttributeError)")))
}

/// Python `len(v)`.
fn py_len(v: &PyValue, what: &str) -> Result<usize, RebuildError> {
    match v {
        PyValue::Array(a) => Ok(a.len()),
        PyValue::Object(o) => Ok(o.len()),
        PyValue::Str(s) => Ok(s.chars().count()),
        _ => Err(fail(format!("len() of {what}, which has no length"))),
    }
}

/// The items of something OpenAnt iterates and then calls `.get` on: a list of objects (an
/// empty string or object iterates nothing).
fn iter_dicts<'v>(v: &'v PyValue, what: &str) -> Result<Vec<&'v PyObject>, RebuildError> {
    match v {
        PyValue::Array(items) => items
            .iter()
            .map(|i| i.as_object().ok_or_else(|| fail(format!("an entry of {what} is not an object"))))
            .collect(),
        PyValue::Str(s) if s.is_empty() => Ok(Vec::new()),
        PyValue::Object(o) if o.is_empty() => Ok(Vec::new()),
        _ => Err(fail(format!("{what} is not a list of objects"))),
    }
}

/// `d.get(key, default)` (a key-presence default).
fn get_or<'v>(d: &'v PyObject, key: &str, default: &'v PyValue) -> &'v PyValue {
    d.get(key).unwrap_or(default)
}

/// `(r.get("route_key") or r.get("unit_id"))`.
fn result_key(r: &PyObject) -> &PyValue {
    static NULL: PyValue = PyValue::Null;
    py_or(r.get("route_key"), r.get("unit_id")).unwrap_or(&NULL)
}

/// `next((r for r in all_results if (r.get("route_key") or r.get("unit_id")) == key), None)`,
/// evaluated lazily (an entry that is not an object raises only if it is reached), for many
/// keys: string keys, the normal case, are looked up in an index built once, so a scan with
/// thousands of findings is not quadratic.
struct ResultLookup<'v> {
    items: &'v [PyValue],
    /// First index of each string key, when every entry is an object (else the slow path
    /// keeps Python's "raises only if reached" behaviour).
    by_str: Option<HashMap<&'v str, usize>>,
}

impl<'v> ResultLookup<'v> {
    fn new(all_results: &'v PyValue) -> Result<ResultLookup<'v>, RebuildError> {
        let items: &[PyValue] = match all_results {
            PyValue::Array(items) => items,
            PyValue::Str(s) if s.is_empty() => &[],
            PyValue::Object(o) if o.is_empty() => &[],
            _ => return Err(fail("results is not a list of objects")),
        };
        let by_str = items.iter().all(|i| i.as_object().is_some()).then(|| {
            let mut map = HashMap::new();
            for (i, item) in items.iter().enumerate() {
                if let Some(key) = item.as_object().and_then(|r| result_key(r).as_str()) {
                    map.entry(key).or_insert(i);
                }
            }
            map
        });
        Ok(ResultLookup { items, by_str })
    }

    fn first(&self, key: &PyValue) -> Result<Option<&'v PyObject>, RebuildError> {
        if let (Some(by_str), PyValue::Str(k)) = (&self.by_str, key) {
            return Ok(by_str.get(k.as_str()).and_then(|&i| self.items[i].as_object()));
        }
        for item in self.items {
            let r = item.as_object().ok_or_else(|| fail("an entry of results is not an object"))?;
            if py_eq(result_key(r), key) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }
}

fn str_value(s: &str) -> PyValue {
    PyValue::Str(s.to_owned())
}

/// The Markdown code-fence tag for a language hint (`_FENCE_LANG`); `""` for anything else.
pub fn fence_for(language: &str) -> &'static str {
    match language.to_lowercase().as_str() {
        "python" | "py" => "python",
        "javascript" | "js" => "javascript",
        "typescript" | "ts" => "typescript",
        "go" | "golang" => "go",
        "java" => "java",
        "ruby" | "rb" => "ruby",
        "php" => "php",
        "rust" => "rust",
        "c" => "c",
        "cpp" | "c++" => "cpp",
        "csharp" | "c#" => "csharp",
        _ => "",
    }
}

/// `_build_vulnerable_code_section(file_path, code, language)`: `""` when the code is falsy.
pub fn vulnerable_code_section(
    file_path: &str,
    code: &PyValue,
    language: Option<&PyValue>,
) -> Result<String, RebuildError> {
    if !truthy(code) {
        return Ok(String::new());
    }
    let lang = match language {
        Some(l) if truthy(l) => l.as_str().ok_or_else(|| fail("language is not a string ('.lower' raises)"))?,
        _ => "",
    };
    let code = py_str(code).ok_or_else(|| RebuildError::Unsupported("vulnerable_code is a list or object".into()))?;
    Ok(format!("## Vulnerable Code\n\n`{file_path}`:\n\n```{}\n{code}\n```", fence_for(lang)))
}

/// The `stage2_verdict` of a confirmed finding (spec §3.4.3).
pub fn stage2_verdict(finding: &PyObject) -> Result<PyValue, RebuildError> {
    let empty = PyValue::object();
    let verification = as_dict(get_or(finding, "verification", &empty), "verification")?;
    Ok(if verification.get("agree").is_some_and(truthy) {
        str_value(if finding.get("exploit_path").is_some_and(truthy) { "confirmed" } else { "agreed" })
    } else if !verification.is_empty() {
        str_value("rejected")
    } else {
        get_or(finding, "finding", &str_value("vulnerable")).clone()
    })
}

/// `" -> ".join(x)` for what Python can join: a list of strings, a string (its characters) or
/// an object (its keys).
fn join_arrow(x: &PyValue) -> Result<String, RebuildError> {
    let parts: Vec<String> = match x {
        PyValue::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or_else(|| fail("data_flow holds a non-string")))
            .collect::<Result<_, _>>()?,
        PyValue::Str(s) => s.chars().map(String::from).collect(),
        PyValue::Object(o) => o.keys().cloned().collect(),
        _ => return Err(fail("data_flow is not iterable")),
    };
    Ok(parts.join(" -> "))
}

/// `steps_to_reproduce` (spec §3.4.3): `vuln.steps_to_reproduce` if truthy, else the truthy
/// parts attack vector / top-level exploit_path data flow / top-level verification_explanation,
/// joined by a blank line, else null.
pub fn steps_to_reproduce(finding: &PyObject, vuln: &PyObject) -> Result<PyValue, RebuildError> {
    if let Some(s) = vuln.get("steps_to_reproduce").filter(|s| truthy(s)) {
        return Ok(s.clone());
    }
    let mut parts: Vec<String> = Vec::new();
    if let Some(av) = finding.get("attack_vector").filter(|v| truthy(v)) {
        parts.push(av.as_str().ok_or_else(|| fail("attack_vector is not a string (str.join raises)"))?.to_owned());
    }
    let empty = PyValue::object();
    let exploit_path = py_or(finding.get("exploit_path"), Some(&empty)).unwrap_or(&empty);
    let exploit_path = as_dict(exploit_path, "exploit_path")?;
    if let Some(df) = exploit_path.get("data_flow").filter(|v| truthy(v)) {
        parts.push(format!("Data flow: {}", join_arrow(df)?));
    }
    if let Some(ve) = finding.get("verification_explanation").filter(|v| truthy(v)) {
        let ve = ve.as_str().ok_or_else(|| fail("verification_explanation is not a string"))?;
        parts.push(format!("Verification: {ve}"));
    }
    Ok(if parts.is_empty() { PyValue::Null } else { PyValue::Str(parts.join("\n\n")) })
}

/// A finding's key for dedup: `f.get("route_key") or f.get("unit_id", "")`.
fn dedup_key(f: &PyObject) -> PyValue {
    let empty = str_value("");
    py_or(f.get("route_key"), Some(f.get("unit_id").unwrap_or(&empty))).cloned().unwrap_or(PyValue::Null)
}

/// `_dedup_caller_callee` on a parsed call graph (spec §3.4.2): for every callee with exactly
/// one caller, both confirmed, both CWE ids equal (Python `==`) and truthy, drop every confirmed
/// finding keyed by the callee. A function that is its own only caller is dropped too.
pub fn dedup_caller_callee<'v>(
    confirmed: Vec<&'v PyObject>,
    all_results: &PyValue,
    call_graph: &PyValue,
) -> Result<Vec<&'v PyObject>, RebuildError> {
    let cg = as_dict(call_graph, "call_graph.json")?;
    let empty = PyValue::object();
    let reverse = as_dict(get_or(cg, "reverse_call_graph", &empty), "reverse_call_graph")?;
    let mut nan = 0usize;
    let unhashable = || fail("a finding's route_key/unit_id is a list or object (unhashable)");
    let mut cwe_by_key: HashMap<HashKey, PyValue> = HashMap::new();
    let lookup = ResultLookup::new(all_results);
    for f in &confirmed {
        let rk = dedup_key(f);
        let key = hash_key(&rk, &mut nan).ok_or_else(unhashable)?;
        let cwe = match f.get("cwe_id") {
            Some(c) if !c.is_null() => c.clone(),
            _ => match lookup.as_ref().map_err(Clone::clone)?.first(&rk)? {
                Some(full) => full.get("cwe_id").cloned().unwrap_or_else(|| PyValue::from(0)),
                None => PyValue::from(0),
            },
        };
        cwe_by_key.insert(key, cwe);
    }
    let zero = PyValue::from(0);
    let mut remove: HashSet<HashKey> = HashSet::new();
    for (callee, callers) in reverse {
        if py_len(callers, "a caller list")? != 1 {
            continue;
        }
        let caller = match callers {
            PyValue::Array(items) => items[0].clone(),
            PyValue::Str(s) => PyValue::Str(s.chars().take(1).collect()),
            _ => return Err(fail("a caller list is an object (callers[0] raises KeyError)")),
        };
        let caller_key = hash_key(&caller, &mut nan).ok_or_else(|| fail("a caller id is unhashable"))?;
        let callee_key = HashKey::Str(callee.clone());
        let (Some(caller_cwe), Some(callee_cwe)) = (cwe_by_key.get(&caller_key), cwe_by_key.get(&callee_key)) else {
            continue;
        };
        if truthy(caller_cwe) && !py_eq(caller_cwe, &zero) && py_eq(caller_cwe, callee_cwe) {
            remove.insert(callee_key);
        }
    }
    if remove.is_empty() {
        return Ok(confirmed);
    }
    let mut kept = Vec::with_capacity(confirmed.len());
    for f in confirmed {
        let key = hash_key(&dedup_key(f), &mut nan).ok_or_else(unhashable)?;
        if !remove.contains(&key) {
            kept.push(f);
        }
    }
    Ok(kept)
}

/// The `diff` block (`_load_diff_metadata`, spec §3.4.6), or `None` when the manifest is
/// absent or does not parse.
pub fn diff_block(manifest: &SidecarInput, filter_report: &SidecarInput) -> Result<Option<PyValue>, RebuildError> {
    let Some(manifest) = manifest.value() else {
        return Ok(None);
    };
    let m = as_dict(manifest, "diff_manifest.json")?;
    let get = |k: &str| m.get(k).cloned().unwrap_or(PyValue::Null);
    let mut out = PyObject::new();
    out.insert("mode".into(), str_value("incremental"));
    for k in ["base_ref", "base_sha", "head_sha", "scope"] {
        out.insert(k.into(), get(k));
    }
    out.insert("pr_number".into(), m.get("pr_number").filter(|v| truthy(v)).cloned().unwrap_or(PyValue::Null));
    let changed = match m.get("changed_files").filter(|v| truthy(v)) {
        Some(v) => py_len(v, "changed_files")?,
        None => 0,
    };
    out.insert("changed_files".into(), PyValue::from(changed));
    if let Some(stats) = filter_report.value() {
        let s = as_dict(stats, "diff_filter.report.json")?;
        let zero = PyValue::from(0);
        out.insert("units_in_diff".into(), s.get("selected").cloned().unwrap_or(PyValue::Null));
        out.insert("units_total_parsed".into(), s.get("total").cloned().unwrap_or(PyValue::Null));
        for k in ["callers_added", "fallback_file_match"] {
            out.insert(k.into(), py_or(s.get(k), Some(&zero)).cloned().unwrap_or(PyValue::from(0)));
        }
    }
    Ok(Some(PyValue::Object(out)))
}

/// `pipeline_stats.costs` and `.durations` from the step reports: the key's position comes
/// from the first report that sets it, the value from the last truthy one (spec §3.4.4).
pub fn costs_and_durations(step_reports: &[PyValue]) -> Result<(PyObject, PyObject), RebuildError> {
    let mut costs = PyObject::new();
    let mut durations = PyObject::new();
    for sr in step_reports {
        let sr = as_dict(sr, "a step report")?;
        let step = match sr.get("step") {
            None => "unknown".to_owned(),
            Some(PyValue::Str(s)) => s.clone(),
            Some(_) => return Err(RebuildError::Unsupported("a step report's `step` is not a string".into())),
        };
        if let Some(cost) = sr.get("cost_usd").filter(|v| truthy(v)) {
            let mut actual = PyObject::new();
            actual.insert("actual".into(), cost.clone());
            costs.insert(step.clone(), PyValue::Object(actual));
        }
        if let Some(d) = sr.get("duration_seconds").filter(|v| truthy(v)) {
            durations.insert(step, d.clone());
        }
    }
    Ok((costs, durations))
}

/// The confirmed findings before dedup (spec §3.4.1).
fn confirmed_findings<'a>(
    experiment: &'a PyObject,
    all_results: &'a PyValue,
    era: PipelineEra,
) -> Result<Vec<&'a PyObject>, RebuildError> {
    match experiment.get("confirmed_findings") {
        Some(c) if !c.is_null() => iter_dicts(c, "confirmed_findings"),
        _ => {
            let mut out = Vec::new();
            for r in iter_dicts(all_results, "results")? {
                // `r.get("finding", r.get("verdict", "").lower())`: the default is evaluated
                // eagerly, so a non-string verdict raises even when `finding` is present.
                let verdict = match r.get("verdict") {
                    None => String::new(),
                    Some(PyValue::Str(s)) => s.to_lowercase(),
                    Some(_) => return Err(fail("a result's verdict is not a string ('.lower' raises)")),
                };
                let f = r.get("finding").cloned().unwrap_or(PyValue::Str(verdict));
                let hit = matches!(f.as_str(), Some("vulnerable" | "bypassable"));
                let agreed = match era {
                    PipelineEra::Current => true,
                    PipelineEra::Legacy => {
                        let empty = PyValue::object();
                        let v = as_dict(get_or(r, "verification", &empty), "verification")?;
                        v.get("agree").is_none_or(truthy)
                    }
                };
                if hit && agreed {
                    out.push(r);
                }
            }
            Ok(out)
        }
    }
}

/// OpenAnt's `build_pipeline_output` on loaded inputs: the value it writes (spec §3.4).
///
/// Returns the document and the fields that may differ from what OpenAnt wrote at scan time
/// because an input it read then is unreadable now (`findings` when `call_graph.json` is torn,
/// `diff` when a diff sidecar is torn).
pub fn build_pipeline_output(inputs: &BuildInputs<'_>) -> Result<(PyValue, Vec<InexactField>), RebuildError> {
    let mut inexact = Vec::new();
    let experiment = as_dict(inputs.experiment, "the results file")?;
    let empty_list = PyValue::Array(Vec::new());
    let empty_obj = PyValue::object();
    let empty_map = PyObject::new();
    let all_results = get_or(experiment, "results", &empty_list);
    let code_by_route = get_or(experiment, "code_by_route", &empty_obj);
    let metrics = as_dict(get_or(experiment, "metrics", &empty_obj), "metrics")?;

    let mut confirmed = confirmed_findings(experiment, all_results, inputs.era)?;
    if inputs.era == PipelineEra::Current {
        match inputs.call_graph {
            SidecarInput::Absent => {}
            SidecarInput::Unreadable(why) => inexact.push(InexactField::new(
                "findings",
                format!(
                    "call_graph.json is unreadable ({why}): caller/callee dedup skipped, as OpenAnt would \
                     skip it now; if the file was intact at scan time, findings were deduplicated then"
                ),
            )),
            SidecarInput::Parsed(cg) => confirmed = dedup_caller_callee(confirmed, all_results, cg)?,
        }
    }

    let language = inputs.args.language.as_ref();
    let lookup = ResultLookup::new(all_results)?;
    let mut findings = Vec::with_capacity(confirmed.len());
    for (i, finding) in confirmed.iter().enumerate() {
        let unknown = str_value("unknown");
        let route_key = py_or(finding.get("route_key"), Some(get_or(finding, "unit_id", &unknown)))
            .cloned()
            .unwrap_or(PyValue::Null);
        let rk = route_key
            .as_str()
            .ok_or_else(|| fail("a finding's route_key/unit_id is not a string (':' in … raises)"))?
            .to_owned();
        let full_result = lookup.first(&route_key)?.unwrap_or(finding);
        let vulns = get_or(finding, "vulnerabilities", &empty_list);
        let vuln: &PyObject = if truthy(vulns) {
            match vulns {
                PyValue::Array(items) => as_dict(&items[0], "vulnerabilities[0]")?,
                _ => return Err(fail("vulnerabilities is not a list")),
            }
        } else {
            &empty_map
        };
        let description = py_or(py_or(vuln.get("description"), finding.get("reasoning")), full_result.get("reasoning"))
            .cloned()
            .unwrap_or(PyValue::Null);
        let vulnerable_code = match vuln.get("vulnerable_code").filter(|v| truthy(v)) {
            Some(v) => v.clone(),
            None => as_dict(code_by_route, "code_by_route")?.get(&rk).cloned().unwrap_or(PyValue::Null),
        };
        let file_path = match rk.split_once(':') {
            Some((file, _)) => file.to_owned(),
            None => "unknown".to_owned(),
        };
        let section = match inputs.era {
            PipelineEra::Current => Some(vulnerable_code_section(&file_path, &vulnerable_code, language)?),
            PipelineEra::Legacy => None,
        };
        let impact = py_or(vuln.get("impact"), finding.get("attack_vector")).cloned().unwrap_or(PyValue::Null);
        let steps = steps_to_reproduce(finding, vuln)?;
        let s2 = stage2_verdict(finding)?;

        let mut out = PyObject::new();
        out.insert("id".into(), PyValue::Str(format!("VULN-{:03}", i + 1)));
        let name = get_or(finding, "finding", &str_value("Unknown Vulnerability")).clone();
        out.insert("name".into(), vuln.get("name").cloned().unwrap_or(name));
        let short = get_or(finding, "verdict", &str_value("vuln")).clone();
        out.insert("short_name".into(), vuln.get("short_name").cloned().unwrap_or(short));
        let mut location = PyObject::new();
        location.insert("file".into(), PyValue::Str(file_path));
        location.insert("function".into(), route_key.clone());
        out.insert("location".into(), PyValue::Object(location));
        let (cwe_id, cwe_name) = match inputs.era {
            PipelineEra::Current => {
                let zero = PyValue::from(0);
                let unk = str_value("Unknown");
                (
                    py_or(py_or(vuln.get("cwe_id"), finding.get("cwe_id")), Some(get_or(full_result, "cwe_id", &zero))),
                    py_or(
                        py_or(vuln.get("cwe_name"), finding.get("cwe_name")),
                        Some(get_or(full_result, "cwe_name", &unk)),
                    ),
                )
                    .to_owned_pair()
            }
            PipelineEra::Legacy => (
                vuln.get("cwe_id").cloned().unwrap_or(PyValue::from(0)),
                vuln.get("cwe_name").cloned().unwrap_or(str_value("Unknown")),
            ),
        };
        out.insert("cwe_id".into(), cwe_id);
        out.insert("cwe_name".into(), cwe_name);
        let s1_default = get_or(finding, "finding", &str_value("vulnerable")).clone();
        out.insert("stage1_verdict".into(), finding.get("verdict").cloned().unwrap_or(s1_default));
        out.insert("stage2_verdict".into(), s2);
        out.insert("description".into(), description);
        out.insert("vulnerable_code".into(), vulnerable_code);
        if let Some(section) = section {
            out.insert("vulnerable_code_section".into(), PyValue::Str(section));
        }
        out.insert("impact".into(), impact);
        out.insert("suggested_fix".into(), vuln.get("suggested_fix").cloned().unwrap_or(PyValue::Null));
        out.insert("steps_to_reproduce".into(), steps);
        findings.push(PyValue::Object(out));
    }

    let (costs, durations) = costs_and_durations(inputs.step_reports)?;
    let total_units = match metrics.get("total") {
        Some(t) => t.clone(),
        None => PyValue::from(py_len(all_results, "results")?),
    };
    let zero = PyValue::from(0);
    let m = |k: &str| get_or(metrics, k, &zero);
    let units_analyzed = sub(&total_units, m("errors"))?;

    let args = inputs.args;
    let repository = match &args.repository {
        Some(r) => r.clone(),
        None => {
            let mut repo = PyObject::new();
            let dataset = get_or(experiment, "dataset", &unknown_value()).clone();
            let name = match &args.repo_name {
                Some(n) if truthy(n) => n.clone(),
                _ => dataset,
            };
            repo.insert("name".into(), name);
            repo.insert("url".into(), truthy_or_empty(args.repo_url.as_ref()));
            repo.insert("language".into(), truthy_or_empty(args.language.as_ref()));
            repo.insert("commit_sha".into(), args.commit_sha.clone());
            PyValue::Object(repo)
        }
    };

    let mut stats = PyObject::new();
    stats.insert("total_units".into(), total_units.clone());
    stats.insert("reachable_units".into(), total_units.clone());
    stats.insert("units_analyzed".into(), units_analyzed);
    stats.insert("processing_level".into(), args.processing_level.clone());
    stats.insert("costs".into(), PyValue::Object(costs));
    stats.insert("durations".into(), PyValue::Object(durations));
    stats.insert("skipped_steps".into(), PyValue::Array(Vec::new()));

    let mut results = PyObject::new();
    results.insert("vulnerable".into(), add(m("vulnerable"), m("bypassable"))?);
    results.insert("safe".into(), add(m("safe"), m("protected"))?);
    results.insert("inconclusive".into(), m("inconclusive").clone());
    results.insert("total".into(), total_units);

    let mut doc = PyObject::new();
    doc.insert("repository".into(), repository);
    doc.insert("analysis_date".into(), PyValue::Str(args.analysis_date.clone()));
    doc.insert("application_type".into(), args.application_type.clone());
    doc.insert("pipeline_stats".into(), PyValue::Object(stats));
    doc.insert("results".into(), PyValue::Object(results));
    doc.insert("findings".into(), PyValue::Array(findings));
    if matches!(inputs.diff_manifest, SidecarInput::Unreadable(_)) {
        inexact.push(InexactField::new(
            "diff",
            "diff_manifest.json exists but is unreadable: no diff block, as OpenAnt would write now; \
             the scan-time file had one if the manifest was intact then",
        ));
    } else if inputs.diff_manifest.value().is_some() && matches!(inputs.diff_filter_report, SidecarInput::Unreadable(_))
    {
        inexact.push(InexactField::new(
            "diff",
            "diff_filter.report.json is unreadable: the diff block lacks units_in_diff, units_total_parsed, \
             callers_added and fallback_file_match",
        ));
    }
    if let Some(diff) = diff_block(inputs.diff_manifest, inputs.diff_filter_report)? {
        doc.insert("diff".into(), diff);
    }
    Ok((PyValue::Object(doc), inexact))
}

fn unknown_value() -> PyValue {
    str_value("unknown")
}

/// `x or ""`.
fn truthy_or_empty(v: Option<&PyValue>) -> PyValue {
    match v {
        Some(v) if truthy(v) => v.clone(),
        _ => str_value(""),
    }
}

trait OwnedPair {
    fn to_owned_pair(self) -> (PyValue, PyValue);
}

impl OwnedPair for (Option<&PyValue>, Option<&PyValue>) {
    fn to_owned_pair(self) -> (PyValue, PyValue) {
        (self.0.cloned().unwrap_or(PyValue::Null), self.1.cloned().unwrap_or(PyValue::Null))
    }
}

/// `datetime.now(timezone.utc).isoformat()`: `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`.
pub fn python_utc_isoformat(t: DateTime<Utc>) -> String {
    let micros = t.nanosecond() / 1000 % 1_000_000;
    let base = t.format("%Y-%m-%dT%H:%M:%S");
    if micros == 0 {
        format!("{base}+00:00")
    } else {
        format!("{base}.{micros:06}+00:00")
    }
}

// -------------------------------------------------------------------------------------------
// Salvaging the leading fields of an old (possibly torn) pipeline_output.json
// -------------------------------------------------------------------------------------------

/// What could be read back from an old `pipeline_output.json`, intact or cut anywhere.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SalvagedPipeline {
    /// `repository`, if complete and an object.
    pub repository: Option<PyValue>,
    /// `analysis_date`, if complete.
    pub analysis_date: Option<PyValue>,
    pub application_type: Option<PyValue>,
    /// `pipeline_stats.processing_level`.
    pub processing_level: Option<PyValue>,
    pub costs: Option<PyValue>,
    pub durations: Option<PyValue>,
    /// Whether the first complete finding has `vulnerable_code_section` (tells the era).
    pub first_finding_has_code_section: Option<bool>,
    /// The file used `\r\n` line breaks (a text-mode write on Windows).
    pub crlf: bool,
    /// The whole document parsed.
    pub complete: bool,
}

/// One member of a possibly cut object: its key, where its value starts, and the value if the
/// input holds all of it and it parses.
struct Member {
    key: String,
    start: usize,
    value: Option<PyValue>,
}

/// The members of the object starting at `pos` (a `{`), as far as the input goes.
fn object_members(b: &[u8], pos: usize) -> Vec<Member> {
    let mut out = Vec::new();
    if b.get(pos) != Some(&b'{') {
        return out;
    }
    let mut i = pos + 1;
    loop {
        i = skip_ws(b, i);
        if b.get(i) != Some(&b'"') {
            return out;
        }
        let Some(key_end) = string_end(b, i) else { return out };
        let Ok(PyValue::Str(key)) = pyjson::parse(&b[i..key_end]) else { return out };
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return out;
        }
        let start = skip_ws(b, i + 1);
        let end = value_end(b, start);
        let value = end.and_then(|e| pyjson::parse(&b[start..e]).ok());
        let complete = value.is_some();
        out.push(Member { key, start, value });
        let Some(end) = end.filter(|_| complete) else { return out };
        i = skip_ws(b, end);
        if b.get(i) != Some(&b',') {
            return out;
        }
        i += 1;
    }
}

/// Reads back the leading fields of an old `pipeline_output.json` from whatever is left of it:
/// an intact file, a prefix cut anywhere (mid-token, mid-UTF-8 character), or a prefix followed
/// by NULs. A field is returned only when its whole value is present and valid. Never panics.
pub fn salvage_leading_fields(bytes: &[u8]) -> SalvagedPipeline {
    let mut out = SalvagedPipeline { crlf: bytes.starts_with(b"{\r\n"), ..SalvagedPipeline::default() };
    if let Ok(doc) = pyjson::parse(bytes) {
        out.complete = true;
        if let Some(o) = doc.as_object() {
            out.repository = o.get("repository").filter(|r| r.as_object().is_some()).cloned();
            out.analysis_date = o.get("analysis_date").cloned();
            out.application_type = o.get("application_type").cloned();
            if let Some(stats) = o.get("pipeline_stats").and_then(PyValue::as_object) {
                out.processing_level = stats.get("processing_level").cloned();
                out.costs = stats.get("costs").filter(|c| c.as_object().is_some()).cloned();
                out.durations = stats.get("durations").filter(|c| c.as_object().is_some()).cloned();
            }
            out.first_finding_has_code_section = o
                .get("findings")
                .and_then(PyValue::as_array)
                .and_then(|f| f.first())
                .and_then(PyValue::as_object)
                .map(|f| f.contains_key("vulnerable_code_section"));
        }
        return out;
    }
    let top = skip_ws(bytes, 0);
    for m in object_members(bytes, top) {
        match (m.key.as_str(), m.value) {
            ("repository", Some(v)) if v.as_object().is_some() => out.repository = Some(v),
            ("analysis_date", Some(v)) => out.analysis_date = Some(v),
            ("application_type", Some(v)) => out.application_type = Some(v),
            ("pipeline_stats", _) => {
                for s in object_members(bytes, m.start) {
                    match (s.key.as_str(), s.value) {
                        ("processing_level", Some(v)) => out.processing_level = Some(v),
                        ("costs", Some(v)) if v.as_object().is_some() => out.costs = Some(v),
                        ("durations", Some(v)) if v.as_object().is_some() => out.durations = Some(v),
                        _ => {}
                    }
                }
            }
            ("findings", _) if bytes.get(m.start) == Some(&b'[') => {
                let first = skip_ws(bytes, m.start + 1);
                if let Some(Ok(PyValue::Object(f))) =
                    value_end(bytes, first).map(|end| pyjson::parse(&bytes[first..end]))
                {
                    out.first_finding_has_code_section = Some(f.contains_key("vulnerable_code_section"));
                }
            }
            _ => {}
        }
    }
    out
}

// -------------------------------------------------------------------------------------------
// Rebuilding from a scan dir
// -------------------------------------------------------------------------------------------

/// Where the old `pipeline_output.json` comes from.
#[derive(Debug, Clone, Default)]
pub enum OldOutput {
    /// `<scan dir>/pipeline_output.json`, if it exists.
    #[default]
    FromScanDir,
    /// These bytes (e.g. a salvaged temp file or a backup copy).
    Bytes(Vec<u8>),
    /// Do not use an old file.
    Ignore,
}

/// Options for [`rebuild_pipeline_output`].
#[derive(Debug, Clone, Default)]
pub struct PipelineOptions {
    /// The time used for `analysis_date` when it cannot be salvaged (default: now).
    pub now: Option<DateTime<Utc>>,
    pub old_output: OldOutput,
    /// Force an era instead of detecting it.
    pub era: Option<PipelineEra>,
    /// Files of the scan dir by name (`results.json`, `results_verified.json`) whose content an
    /// earlier repair step is about to write: used instead of what is on disk.
    pub provided: HashMap<String, PyValue>,
    /// Build today's (identity-gate era) format ([`super::pipeline_current`]).
    pub today: bool,
    /// The scan dir holds evidence that verify ran (its checkpoints, its step report, its
    /// output), as the caller judges it: without a step report naming build-output's input,
    /// the verified results are that input (spec §1.1, §1.3).
    pub verify_ran: bool,
}

struct Collector {
    scan_dir: PathBuf,
    inputs: Vec<InputUsed>,
    inexact: Vec<InexactField>,
    notes: Vec<String>,
}

impl Collector {
    fn load(&mut self, name: &str, role: &'static str) -> JsonInput {
        let path = self.scan_dir.join(name);
        let input = JsonInput::load(&path);
        if input.exists() {
            self.inputs.push(InputUsed { path, role });
        }
        input
    }

    fn inexact(&mut self, field: &str, reason: impl Into<String>) {
        self.inexact.push(InexactField::new(field, reason));
    }
}

fn get_path<'v>(v: Option<&'v PyValue>, path: &[&str]) -> Option<&'v PyValue> {
    let mut cur = v?;
    for k in path {
        cur = cur.get(k)?;
    }
    Some(cur)
}

fn str_list(v: Option<&PyValue>) -> Option<Vec<String>> {
    v?.as_array()?.iter().map(|s| s.as_str().map(str::to_owned)).collect()
}

/// Python `os.path.basename` on a POSIX path string.
fn py_basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// The project dir of a project scan dir (`…/<project>/scans/<sha>/<lang>/`, or the pre-language
/// layout `…/<project>/scans/<sha>/`).
fn project_dir_of(scan_dir: &Path) -> Option<PathBuf> {
    let run = scan_dir.parent()?;
    if run.parent()?.file_name()? == "scans" {
        return Some(run.parent()?.parent()?.to_path_buf());
    }
    if run.file_name()? == "scans" {
        return Some(run.parent()?.to_path_buf());
    }
    None
}

/// Rebuilds `<scan_dir>/pipeline_output.json` as `scan` built it. Reads, never writes.
pub fn rebuild_pipeline_output(scan_dir: &Path, opts: &PipelineOptions) -> Result<RebuiltOutput, RebuildError> {
    let mut c =
        Collector { scan_dir: scan_dir.to_path_buf(), inputs: Vec::new(), inexact: Vec::new(), notes: Vec::new() };

    // The old output, for its leading fields.
    let old_bytes = match &opts.old_output {
        OldOutput::Ignore => None,
        OldOutput::Bytes(b) => Some(b.clone()),
        OldOutput::FromScanDir => {
            let path = scan_dir.join("pipeline_output.json");
            match crate::no_follow::read(&path) {
                Ok(b) => {
                    c.inputs.push(InputUsed { path, role: "old pipeline_output.json (salvaged leading fields)" });
                    Some(b)
                }
                Err(_) => None,
            }
        }
    };
    let salvaged = old_bytes.as_deref().map(salvage_leading_fields).unwrap_or_default();
    if old_bytes.is_some() && !salvaged.complete {
        c.notes.push("the old pipeline_output.json is torn: only its complete leading fields were used".to_owned());
    }

    let scan_report = c.load("scan.report.json", "scan.report.json (steps completed/skipped)");
    let sr = scan_report.value();
    let steps_completed = str_list(get_path(sr, &["summary", "steps_completed"]));
    let steps_skipped = str_list(get_path(sr, &["summary", "steps_skipped"]));
    let build_report = c.load("build-output.report.json", "build-output.report.json (results path)");

    // Which results file build-output read: the one its report names; else, in a scan, the
    // verified results when verify completed (spec §1.3); else (steps run one by one) the
    // verified results whenever verify ran, since the Go step verb reads only
    // `results_verified.json` (spec §1.1, §3.4). An output rebuilt earlier in this same repair
    // counts as existing: it is what build-output read.
    let recorded = get_path(build_report.value(), &["inputs", "results_path"])
        .and_then(PyValue::as_str)
        .map(py_basename)
        .filter(|n| matches!(*n, "results.json" | "results_verified.json"));
    let verify_ran = opts.verify_ran
        || opts.provided.contains_key("results_verified.json")
        || std::fs::symlink_metadata(scan_dir.join("results_verified.json")).is_ok();
    let results_name = match (recorded, &steps_completed) {
        (Some(n), _) => n.to_owned(),
        (None, Some(steps)) if steps.iter().any(|s| s == "verify") => "results_verified.json".to_owned(),
        (None, Some(_)) => "results.json".to_owned(),
        (None, None) if verify_ran => "results_verified.json".to_owned(),
        (None, None) => "results.json".to_owned(),
    };
    let results_path = scan_dir.join(&results_name);
    let loaded_results = match opts.provided.get(&results_name) {
        Some(v) => JsonInput::Parsed(v.clone()),
        None => JsonInput::load(&results_path),
    };
    let experiment = match loaded_results {
        JsonInput::Parsed(v) => v,
        JsonInput::Absent => {
            return Err(RebuildError::Input { path: results_path, reason: "missing (rebuild it first)".into() })
        }
        JsonInput::Unreadable(why) => {
            return Err(RebuildError::Input {
                path: results_path,
                reason: format!("unreadable ({why}); rebuild it first"),
            })
        }
    };
    c.inputs.push(InputUsed { path: results_path, role: "results file (findings, metrics, code_by_route)" });

    let call_graph = c.load("call_graph.json", "call_graph.json (caller/callee dedup)");
    let diff_manifest = c.load("diff_manifest.json", "diff_manifest.json (diff block)");
    let diff_filter = c.load("diff_filter.report.json", "diff_filter.report.json (diff block)");

    // The step reports scan passed, in order.
    let steps: Vec<String> = match &steps_completed {
        Some(all) => all.iter().take_while(|s| s.as_str() != "build-output").cloned().collect(),
        None => {
            c.notes.push(
                "scan.report.json is missing or unreadable: the steps before build-output were taken from the \
                 step reports present, in pipeline order"
                    .to_owned(),
            );
            STEPS_BEFORE_BUILD_OUTPUT
                .iter()
                .filter(|s| **s != "verify" || results_name == "results_verified.json")
                .filter(|s| scan_dir.join(format!("{s}.report.json")).exists())
                .map(|s| (*s).to_owned())
                .collect()
        }
    };
    let mut step_reports = Vec::with_capacity(steps.len());
    let mut unreadable_steps = Vec::new();
    let mut loaded: HashMap<String, JsonInput> = HashMap::new();
    for step in &steps {
        let input = c.load(&format!("{step}.report.json"), "step report (costs, durations)");
        match input.value() {
            Some(v) if v.as_object().is_some() => step_reports.push(v.clone()),
            _ => {
                unreadable_steps.push(step.clone());
                let mut o = PyObject::new();
                o.insert("step".into(), PyValue::Str(step.clone()));
                o.insert("status".into(), str_value("unknown"));
                step_reports.push(PyValue::Object(o));
            }
        }
        loaded.insert(step.clone(), input);
    }
    let mut salvaged_costs = None;
    if !unreadable_steps.is_empty() {
        let list = unreadable_steps.join(", ");
        if let (Some(costs), Some(durations)) = (&salvaged.costs, &salvaged.durations) {
            salvaged_costs = Some((costs.clone(), durations.clone()));
            c.notes.push(format!(
                "step report(s) {list} unreadable: costs and durations taken from the old pipeline_output.json"
            ));
        } else {
            for f in ["pipeline_stats.costs", "pipeline_stats.durations"] {
                c.inexact(f, format!("step report(s) {list} unreadable or missing: they contribute nothing"));
            }
        }
    }

    let parse_report = match loaded.remove("parse") {
        Some(p) => p,
        None => c.load("parse.report.json", "parse.report.json (language, processing level)"),
    };
    let llm_ran =
        steps.iter().any(|s| s == "llm-reachability") || scan_dir.join("llm-reachability.report.json").exists();

    // Era.
    let era = opts.era.unwrap_or_else(|| match salvaged.first_finding_has_code_section {
        Some(true) => PipelineEra::Current,
        Some(false) => PipelineEra::Legacy,
        None => detect_era_from_results(&experiment),
    });

    // analysis_date.
    let analysis_date = match salvaged.analysis_date.as_ref().and_then(PyValue::as_str) {
        Some(d) => d.to_owned(),
        None => {
            let d = python_utc_isoformat(opts.now.unwrap_or_else(Utc::now));
            c.inexact("analysis_date", format!("the scan-time UTC timestamp is not recorded anywhere; set to {d}"));
            d
        }
    };

    // application_type.
    let application_type = match &salvaged.application_type {
        Some(t) => t.clone(),
        None => app_type_from_sources(&mut c, steps_completed.as_deref(), steps_skipped.as_deref(), &steps),
    };

    // processing_level.
    let processing_level = match &salvaged.processing_level {
        Some(p) => p.clone(),
        None => {
            let recorded = get_path(parse_report.value(), &["inputs", "processing_level"]).cloned();
            match (recorded, llm_ran) {
                (Some(level), false) => level,
                (_, true) => {
                    c.inexact(
                        "pipeline_stats.processing_level",
                        "llm-reachability ran, so parse recorded level \"all\" and the requested --level is not \
                         recorded; assumed the default \"reachable\"",
                    );
                    str_value("reachable")
                }
                (None, false) => {
                    c.inexact(
                        "pipeline_stats.processing_level",
                        "parse.report.json is unreadable; assumed the default \"reachable\"",
                    );
                    str_value("reachable")
                }
            }
        }
    };

    // repository / language.
    let (repository, language, args_repo) = repository_from_sources(&mut c, &salvaged, &parse_report, sr);

    if opts.today {
        let old_tree = old_bytes.as_deref().and_then(super::lossless::salvage_tree);
        let old = |k: &str| match old_tree.as_ref().and_then(|t| t.member(k)) {
            Some(super::lossless::Node::Complete(v)) => Some(v),
            _ => None,
        };
        let summary = get_path(sr, &["summary"]);
        let from_scan = |k: &str| summary.and_then(|s| s.get(k)).cloned();
        let mut today = super::pipeline_current::TodayArgs::default();
        for k in ["per_language", "parse_errors", "excluded_languages", "degraded", "coverage", "discovery"] {
            if let Some(v) = old(k).or_else(|| from_scan(k)).filter(|v| !v.is_null()) {
                today.coverage_fields.push((k.to_owned(), v));
            }
        }
        today.context_source = match old("context_source").or_else(|| from_scan("context_source")) {
            Some(v) => v,
            None => {
                c.inexact(
                    "context_source",
                    "not in the old file or scan.report.json: written OpenAnt's default \"none\"",
                );
                str_value("none")
            }
        };
        today.threat_model_sha256 = old("threat_model_sha256").or_else(|| from_scan("threat_model_sha256"));
        today.threat_model_warnings = old("threat_model_warnings")
            .or_else(|| from_scan("threat_model_warnings"))
            .unwrap_or(PyValue::Array(Vec::new()));
        for k in ["manual_exclusions", "manual_override_warnings", "manual_override_filename"] {
            let v = old(k).or_else(|| from_scan(k).filter(|v| truthy(v) || (k == "manual_exclusions" && !v.is_null())));
            if let Some(v) = v {
                today.manual_fields.push((k.to_owned(), v));
            }
        }
        today.skipped_steps = match get_path(old("pipeline_stats").as_ref(), &["skipped_steps"]).cloned() {
            Some(v) => v,
            None => {
                let reasons = from_scan("steps_skipped_reasons");
                let list: Vec<PyValue> = steps_skipped
                    .iter()
                    .flatten()
                    .filter(|s| STEPS_BEFORE_BUILD_OUTPUT.contains(&s.as_str()))
                    .map(|s| {
                        let reason = reasons.as_ref().and_then(|r| r.get(s)).cloned().unwrap_or_else(|| str_value(""));
                        let mut o = PyObject::new();
                        o.insert("step".into(), str_value(s));
                        o.insert("reason".into(), reason);
                        PyValue::Object(o)
                    })
                    .collect();
                if sr.is_none() {
                    c.inexact("pipeline_stats.skipped_steps", "scan.report.json is unreadable: no skipped steps known");
                }
                PyValue::Array(list)
            }
        };
        let dataset = c.load("dataset.json", "dataset.json (metadata.reachability_filter)");
        today.reachability =
            get_path(dataset.value(), &["metadata", "reachability_filter"]).and_then(PyValue::as_object).cloned();
        if let Some(PyValue::Array(findings)) = old("findings") {
            for f in findings {
                if let (Some(id), Some(code), Some(section)) =
                    (f.get("id").and_then(PyValue::as_str), f.get("vulnerable_code"), f.get("vulnerable_code_section"))
                {
                    today.old_sections.push((id.to_owned(), code.clone(), section.clone()));
                }
            }
        }
        let application_type = match old("application_type") {
            Some(t) => t,
            None => {
                let ctx = c.load("application_context.json", "application_context.json (application type)");
                match ctx.value().and_then(|v| v.get("application_type")).filter(|t| truthy(t)) {
                    Some(t) => t.clone(),
                    None => str_value("unknown"),
                }
            }
        };
        let repository = match repository {
            Some(r) => r,
            None => {
                let mut repo = PyObject::new();
                let name = match &args_repo.0 {
                    Some(n) if truthy(n) => n.clone(),
                    _ => experiment.get("dataset").cloned().unwrap_or_else(unknown_value),
                };
                repo.insert("name".into(), name);
                repo.insert("url".into(), truthy_or_empty(args_repo.1.as_ref()));
                repo.insert("language".into(), truthy_or_empty(language.as_ref()));
                repo.insert("commit_sha".into(), args_repo.2.clone());
                PyValue::Object(repo)
            }
        };
        let inputs = super::pipeline_current::TodayInputs {
            experiment: &experiment,
            call_graph: &call_graph,
            diff_manifest: &diff_manifest,
            diff_filter_report: &diff_filter,
            step_reports: &step_reports,
            repository,
            analysis_date,
            application_type,
            processing_level,
            language,
            today: &today,
        };
        let (value, build_inexact) = super::pipeline_current::build_today(&inputs)?;
        c.inexact.extend(build_inexact);
        let text = pyjson::to_python_string(&value, false)
            .map_err(|e| RebuildError::Unsupported(format!("cannot serialize the output: {e}")))?;
        let bytes = if salvaged.crlf { text.replace('\n', "\r\n").into_bytes() } else { text.into_bytes() };
        return Ok(RebuiltOutput { value, bytes, inexact: c.inexact, inputs: c.inputs, notes: c.notes });
    }

    let args = BuildArgs {
        repo_name: args_repo.0,
        repo_url: args_repo.1,
        language,
        commit_sha: args_repo.2,
        application_type,
        processing_level,
        analysis_date,
        repository,
    };
    let inputs = BuildInputs {
        experiment: &experiment,
        call_graph: &call_graph,
        diff_manifest: &diff_manifest,
        diff_filter_report: &diff_filter,
        step_reports: &step_reports,
        args: &args,
        era,
    };
    let (mut value, build_inexact) = build_pipeline_output(&inputs)?;
    c.inexact.extend(build_inexact);
    if let Some((costs, durations)) = salvaged_costs {
        if let Some(stats) = value.get_mut("pipeline_stats") {
            let _ = stats.insert("costs", costs);
            let _ = stats.insert("durations", durations);
        }
    }
    let text = pyjson::to_python_string(&value, false)
        .map_err(|e| RebuildError::Unsupported(format!("cannot serialize the output: {e}")))?;
    let bytes = if salvaged.crlf {
        c.notes.push("the old file used CRLF line breaks (a Windows text-mode write); kept".to_owned());
        text.replace('\n', "\r\n").into_bytes()
    } else {
        text.into_bytes()
    };
    Ok(RebuiltOutput { value, bytes, inexact: c.inexact, inputs: c.inputs, notes: c.notes })
}

/// Era from the results file: stage-1 results carry `cwe_id` since `ec5213b`.
fn detect_era_from_results(experiment: &PyValue) -> PipelineEra {
    let results = experiment.get("results").and_then(PyValue::as_array);
    let Some(results) = results else { return PipelineEra::Current };
    let successes: Vec<&PyObject> = results
        .iter()
        .filter_map(PyValue::as_object)
        .filter(|r| r.get("verdict").and_then(PyValue::as_str) != Some("ERROR"))
        .collect();
    if !successes.is_empty() && successes.iter().all(|r| !r.contains_key("cwe_id")) {
        PipelineEra::Legacy
    } else {
        PipelineEra::Current
    }
}

fn app_type_from_sources(
    c: &mut Collector,
    completed: Option<&[String]>,
    skipped: Option<&[String]>,
    steps: &[String],
) -> PyValue {
    let ran = match (completed, skipped) {
        (Some(_), Some(sk)) if sk.iter().any(|s| s == "app-context") => false,
        _ => steps.iter().any(|s| s == "app-context"),
    };
    if !ran {
        return str_value("web_app");
    }
    let report = c.load("app-context.report.json", "app-context.report.json (application type)");
    if get_path(report.value(), &["summary", "skipped"]).is_some_and(truthy) {
        if c.scan_dir.join("application_context.json").exists() {
            c.notes.push(
                "app-context failed in the scan; if it failed after naming application_context.json, OpenAnt \
                 read that file — assumed it did not (\"web_app\")"
                    .to_owned(),
            );
        }
        return str_value("web_app");
    }
    let ctx = c.load("application_context.json", "application_context.json (application type)");
    let from_file = ctx.value().and_then(PyValue::as_object).map(|o| o.get("application_type").cloned());
    match from_file {
        Some(v) => match v {
            Some(t) if truthy(&t) => t,
            _ => str_value("web_app"),
        },
        None => match get_path(report.value(), &["summary", "application_type"]) {
            Some(t) if truthy(t) => {
                c.notes.push(
                    "application_context.json is unreadable: application_type taken from app-context.report.json"
                        .to_owned(),
                );
                t.clone()
            }
            _ => {
                c.inexact(
                    "application_type",
                    "app-context ran but neither application_context.json nor its report is readable; assumed \"web_app\"",
                );
                str_value("web_app")
            }
        },
    }
}

type RepoArgs = (Option<PyValue>, Option<PyValue>, PyValue);

fn repository_from_sources(
    c: &mut Collector,
    salvaged: &SalvagedPipeline,
    parse_report: &JsonInput,
    scan_report: Option<&PyValue>,
) -> (Option<PyValue>, Option<PyValue>, RepoArgs) {
    if let Some(repo) = &salvaged.repository {
        let language = repo.get("language").cloned();
        return (Some(repo.clone()), language, (None, None, PyValue::Null));
    }
    // language = the parse result's canonical language.
    let language = match get_path(parse_report.value(), &["summary", "language"]) {
        Some(l) => Some(l.clone()),
        None => {
            let fallback = get_path(scan_report, &["summary", "language"]).cloned().or_else(|| {
                let dir = c.scan_dir.file_name()?.to_str()?;
                crate::layout::LANGUAGES.contains(&dir).then(|| str_value(dir))
            });
            c.inexact(
                "repository.language",
                "parse.report.json is unreadable: language taken from scan.report.json or the scan dir name",
            );
            fallback
        }
    };
    let project_dir = project_dir_of(&c.scan_dir);
    let project = match &project_dir {
        Some(dir) => {
            let path = dir.join("project.json");
            let p = JsonInput::load(&path);
            if p.exists() {
                c.inputs.push(InputUsed { path, role: "project.json (repository name, url, commit)" });
            }
            p
        }
        None => JsonInput::Absent,
    };
    if let Some(p) = project.value().and_then(PyValue::as_object) {
        // Go passes project.json's commit_sha. The scan dir is named after that commit's first
        // 11 characters, so when project.json has since been re-initialised at another commit,
        // the run dir's meta.json holds the commit the scan used.
        let run_name = c.scan_dir.parent().and_then(Path::file_name).and_then(|n| n.to_str()).map(str::to_owned);
        let matches_run = |v: &PyValue| match (v.as_str(), run_name.as_deref()) {
            (Some(sha), Some(run)) => sha.starts_with(run) || (run.len() == 11 && sha.get(..11) == Some(run)),
            _ => false,
        };
        let project_commit = p.get("commit_sha").cloned();
        let meta_commit = c.scan_dir.parent().and_then(|run| {
            let path = run.join("meta.json");
            let meta = JsonInput::load(&path);
            let commit = meta.value().and_then(|m| m.get("commit")).cloned();
            if commit.is_some() {
                c.inputs.push(InputUsed { path, role: "meta.json (commit of this run)" });
            }
            commit
        });
        let commit = match (&project_commit, &meta_commit) {
            (Some(pc), _) if matches_run(pc) => pc.clone(),
            (_, Some(mc)) if matches_run(mc) => mc.clone(),
            (Some(pc), _) => pc.clone(),
            (None, Some(mc)) => mc.clone(),
            (None, None) => PyValue::Null,
        };
        c.inexact(
            "repository",
            "not recorded: assumed `scan` ran against the active project (name, repo_url and commit_sha from \
             project.json); a positional repo path would have given the repo dir name, \"\" and null",
        );
        return (None, language.clone(), (p.get("name").cloned(), p.get("repo_url").cloned(), commit));
    }
    // Ad-hoc scan: repo_name = basename(repo_path).
    let repo_path = get_path(parse_report.value(), &["inputs", "repo_path"]).and_then(PyValue::as_str);
    let name = repo_path.map(|p| str_value(py_basename(p)));
    c.inexact(
        "repository",
        if name.is_some() {
            "not recorded: assumed no --repo-name/--repo-url/--commit-sha (name = basename of the repo path in \
             parse.report.json, url \"\", commit_sha null)"
        } else {
            "not recorded and parse.report.json is unreadable: name falls back to the results file's dataset"
        },
    );
    (None, language, (name, None, PyValue::Null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::parse;

    fn v(text: &str) -> PyValue {
        parse(text.as_bytes()).unwrap()
    }

    fn args(language: &str) -> BuildArgs {
        BuildArgs {
            repo_name: Some(v("\"demo\"")),
            repo_url: None,
            language: Some(str_value(language)),
            commit_sha: PyValue::Null,
            application_type: str_value("web_app"),
            processing_level: str_value("reachable"),
            analysis_date: "2026-01-01T00:00:00+00:00".into(),
            repository: None,
        }
    }

    fn build(experiment: &str, call_graph: Option<&str>, language: &str) -> PyValue {
        let exp = v(experiment);
        let cg = call_graph.map_or(JsonInput::Absent, |t| JsonInput::Parsed(v(t)));
        let a = args(language);
        let inputs = BuildInputs {
            experiment: &exp,
            call_graph: &cg,
            diff_manifest: &JsonInput::Absent,
            diff_filter_report: &JsonInput::Absent,
            step_reports: &[],
            args: &a,
            era: PipelineEra::Current,
        };
        build_pipeline_output(&inputs).unwrap().0
    }

    fn finding_keys(doc: &PyValue) -> Vec<String> {
        doc.get("findings")
            .and_then(PyValue::as_array)
            .unwrap()
            .iter()
            .map(|f| f.get("location").and_then(|l| l.get("function")).and_then(PyValue::as_str).unwrap().to_owned())
            .collect()
    }

    const CALLER_CALLEE: &str = r#"{"reverse_call_graph": {"a.py:callee": ["a.py:caller"], "a.py:self": ["a.py:self"],
        "a.py:multi": ["a.py:caller", "a.py:x"]}}"#;

    fn results_with_cwes(caller: &str, callee: &str) -> String {
        format!(
            r#"{{"results": [
              {{"unit_id": "a.py:caller", "route_key": "a.py:caller", "finding": "vulnerable", "verdict": "VULNERABLE", "cwe_id": {caller}}},
              {{"unit_id": "a.py:callee", "route_key": "a.py:callee", "finding": "vulnerable", "verdict": "VULNERABLE", "cwe_id": {callee}}},
              {{"unit_id": "a.py:multi", "route_key": "a.py:multi", "finding": "vulnerable", "verdict": "VULNERABLE", "cwe_id": {caller}}}
            ]}}"#
        )
    }

    #[test]
    fn dedup_uses_python_equality_for_cwe_ids() {
        let kept = |a: &str, b: &str| finding_keys(&build(&results_with_cwes(a, b), Some(CALLER_CALLEE), "python"));
        // Same CWE: the callee goes; the multi-caller function stays.
        assert_eq!(kept("78", "78"), ["a.py:caller", "a.py:multi"]);
        assert_eq!(kept("78", "78.0"), ["a.py:caller", "a.py:multi"]);
        assert_eq!(kept("\"78\"", "\"78\""), ["a.py:caller", "a.py:multi"]);
        // "78" != 78, different CWEs, and falsy CWEs never collapse.
        assert_eq!(kept("\"78\"", "78"), ["a.py:caller", "a.py:callee", "a.py:multi"]);
        assert_eq!(kept("78", "89"), ["a.py:caller", "a.py:callee", "a.py:multi"]);
        assert_eq!(kept("0", "0"), ["a.py:caller", "a.py:callee", "a.py:multi"]);
        assert_eq!(kept("0.0", "0"), ["a.py:caller", "a.py:callee", "a.py:multi"]);
        assert_eq!(kept("null", "null"), ["a.py:caller", "a.py:callee", "a.py:multi"]);
        // Without a call graph nothing is deduplicated.
        let none = finding_keys(&build(&results_with_cwes("78", "78"), None, "python"));
        assert_eq!(none, ["a.py:caller", "a.py:callee", "a.py:multi"]);
    }

    #[test]
    fn dedup_drops_a_function_that_is_its_own_only_caller_and_every_duplicate() {
        let exp = r#"{"results": [
          {"unit_id": "a.py:self", "finding": "vulnerable", "verdict": "VULNERABLE", "cwe_id": 22},
          {"unit_id": "a.py:other", "finding": "bypassable", "verdict": "BYPASSABLE", "cwe_id": 22}]}"#;
        assert_eq!(finding_keys(&build(exp, Some(CALLER_CALLEE), "python")), ["a.py:other"]);
        // Two confirmed findings with the callee key: both dropped; a null cwe falls back to the
        // first full result with that key.
        let exp = r#"{"results": [
            {"unit_id": "a.py:caller", "finding": "vulnerable", "verdict": "VULNERABLE", "cwe_id": 78},
            {"unit_id": "a.py:callee", "finding": "vulnerable", "verdict": "VULNERABLE", "cwe_id": 78}],
          "confirmed_findings": [
            {"unit_id": "a.py:caller", "finding": "vulnerable", "cwe_id": 78},
            {"unit_id": "a.py:callee", "finding": "vulnerable", "cwe_id": null},
            {"unit_id": "a.py:callee", "finding": "vulnerable", "cwe_id": null}]}"#;
        assert_eq!(finding_keys(&build(exp, Some(CALLER_CALLEE), "python")), ["a.py:caller"]);
    }

    #[test]
    fn dedup_rejects_what_python_rejects() {
        let exp = v(r#"{"results": [{"unit_id": ["x"], "finding": "vulnerable", "verdict": "V"}]}"#);
        let cg = JsonInput::Parsed(v(r#"{"reverse_call_graph": {}}"#));
        let a = args("python");
        let inputs = BuildInputs {
            experiment: &exp,
            call_graph: &cg,
            diff_manifest: &JsonInput::Absent,
            diff_filter_report: &JsonInput::Absent,
            step_reports: &[],
            args: &a,
            era: PipelineEra::Current,
        };
        assert!(matches!(build_pipeline_output(&inputs), Err(RebuildError::OpenAntWouldFail(_))));
    }

    #[test]
    fn ids_are_sequential_and_route_key_falls_back_to_unit_id() {
        let exp = r#"{"results": [
          {"route_key": "", "unit_id": "", "finding": "vulnerable", "verdict": "VULNERABLE"},
          {"unit_id": "b.py:f", "finding": "bypassable", "verdict": "BYPASSABLE"},
          {"route_key": "GET:/x", "unit_id": "r.js:h", "finding": "vulnerable", "verdict": "VULNERABLE"},
          {"finding": "vulnerable", "verdict": "VULNERABLE"}]}"#;
        let doc = build(exp, None, "python");
        let f = doc.get("findings").and_then(PyValue::as_array).unwrap();
        let ids: Vec<&str> = f.iter().map(|x| x.get("id").and_then(PyValue::as_str).unwrap()).collect();
        assert_eq!(ids, ["VULN-001", "VULN-002", "VULN-003", "VULN-004"]);
        // An empty unit_id is kept (not replaced by "unknown"); a missing one becomes "unknown".
        assert_eq!(finding_keys(&doc), ["", "b.py:f", "GET:/x", "unknown"]);
        let files: Vec<&str> = f
            .iter()
            .map(|x| x.get("location").and_then(|l| l.get("file")).and_then(PyValue::as_str).unwrap())
            .collect();
        assert_eq!(files, ["unknown", "b.py", "GET", "unknown"]);
    }

    #[test]
    fn code_section_fences() {
        let code = str_value("x = 1");
        assert_eq!(
            vulnerable_code_section("a.py", &code, Some(&str_value("Python"))).unwrap(),
            "## Vulnerable Code\n\n`a.py`:\n\n```python\nx = 1\n```"
        );
        assert_eq!(
            vulnerable_code_section("a.c", &code, Some(&str_value("c++"))).unwrap(),
            "## Vulnerable Code\n\n`a.c`:\n\n```cpp\nx = 1\n```"
        );
        for lang in ["zig", ""] {
            assert_eq!(
                vulnerable_code_section("a.zig", &code, Some(&str_value(lang))).unwrap(),
                "## Vulnerable Code\n\n`a.zig`:\n\n```\nx = 1\n```"
            );
        }
        assert_eq!(vulnerable_code_section("a", &code, None).unwrap(), "## Vulnerable Code\n\n`a`:\n\n```\nx = 1\n```");
        assert_eq!(vulnerable_code_section("a", &str_value(""), Some(&str_value("go"))).unwrap(), "");
        assert_eq!(vulnerable_code_section("a", &PyValue::Null, Some(&str_value("go"))).unwrap(), "");
        assert_eq!(fence_for("GOLANG"), "go");
        assert_eq!(fence_for("C#"), "csharp");
        assert_eq!(fence_for("rb"), "ruby");
    }

    #[test]
    fn vulnerable_code_comes_from_code_by_route_and_is_null_without_it() {
        let exp = r#"{"results": [{"route_key": "a.py:f", "finding": "vulnerable", "verdict": "VULNERABLE"},
                                  {"route_key": "a.py:g", "finding": "vulnerable", "verdict": "VULNERABLE"}],
                      "code_by_route": {"a.py:f": "def f(): pass", "a.py:g": ""}}"#;
        let doc = build(exp, None, "zig");
        let f = doc.get("findings").and_then(PyValue::as_array).unwrap();
        assert_eq!(f[0].get("vulnerable_code"), Some(&str_value("def f(): pass")));
        assert_eq!(
            f[0].get("vulnerable_code_section").and_then(PyValue::as_str),
            Some("## Vulnerable Code\n\n`a.py`:\n\n```\ndef f(): pass\n```")
        );
        assert_eq!(f[1].get("vulnerable_code"), Some(&str_value("")));
        assert_eq!(f[1].get("vulnerable_code_section"), Some(&str_value("")));
        let doc = build(r#"{"results": [{"route_key": "a.py:f", "finding": "vulnerable"}]}"#, None, "python");
        let f = doc.get("findings").and_then(PyValue::as_array).unwrap();
        assert_eq!(f[0].get("vulnerable_code"), Some(&PyValue::Null));
        assert_eq!(f[0].get("vulnerable_code_section"), Some(&str_value("")));
    }

    #[test]
    fn stage2_verdict_cases() {
        let s2 = |t: &str| stage2_verdict(v(t).as_object().unwrap()).unwrap();
        assert_eq!(s2(r#"{"verification": {"agree": true}}"#), str_value("agreed"));
        assert_eq!(s2(r#"{"verification": {"agree": 1}, "exploit_path": {"a": 1}}"#), str_value("confirmed"));
        // verification.exploit_path is ignored; only a top-level one counts.
        assert_eq!(
            s2(r#"{"verification": {"agree": true, "exploit_path": {"data_flow": ["a"]}}}"#),
            str_value("agreed")
        );
        assert_eq!(s2(r#"{"verification": {"agree": false}, "finding": "vulnerable"}"#), str_value("rejected"));
        assert_eq!(s2(r#"{"verification": {}, "finding": "bypassable"}"#), str_value("bypassable"));
        assert_eq!(s2(r#"{"finding": "bypassable"}"#), str_value("bypassable"));
        assert_eq!(s2(r#"{"finding": null}"#), PyValue::Null);
        assert_eq!(s2(r#"{}"#), str_value("vulnerable"));
        assert!(stage2_verdict(v(r#"{"verification": null}"#).as_object().unwrap()).is_err());
    }

    #[test]
    fn steps_to_reproduce_cases() {
        let empty = PyObject::new();
        let st = |t: &str| steps_to_reproduce(v(t).as_object().unwrap(), &empty).unwrap();
        assert_eq!(st(r#"{"attack_vector": "send x"}"#), str_value("send x"));
        assert_eq!(st(r#"{"attack_vector": ""}"#), PyValue::Null);
        assert_eq!(st(r#"{}"#), PyValue::Null);
        // verification.explanation and verification.exploit_path are not used.
        assert_eq!(
            st(r#"{"attack_vector": "a", "verification": {"explanation": "e", "exploit_path": {"data_flow": ["p"]}}}"#),
            str_value("a")
        );
        assert_eq!(
            st(r#"{"attack_vector": "a", "exploit_path": {"data_flow": ["x", "y"]}, "verification_explanation": "v"}"#),
            str_value("a\n\nData flow: x -> y\n\nVerification: v")
        );
        let vuln = v(r#"{"steps_to_reproduce": "1. do"}"#);
        assert_eq!(
            steps_to_reproduce(v(r#"{"attack_vector": "a"}"#).as_object().unwrap(), vuln.as_object().unwrap()).unwrap(),
            str_value("1. do")
        );
    }

    #[test]
    fn costs_and_durations_position_first_value_last() {
        let reports = v(r#"[
          {"step": "parse", "cost_usd": 0.0, "duration_seconds": 1.5},
          {"step": "enhance", "cost_usd": 0.25, "duration_seconds": 0.0},
          {"step": "parse", "cost_usd": 0.1, "duration_seconds": 2.0},
          {"step": "enhance", "cost_usd": 0.5, "duration_seconds": 3},
          {"step": "enhance", "cost_usd": 0, "duration_seconds": null},
          {"status": "unknown"}, {"step": "app-context", "status": "unknown"}]"#);
        let (costs, durations) = costs_and_durations(v_array(&reports)).unwrap();
        assert_eq!(
            pyjson::to_python_string(&PyValue::Object(costs), true).unwrap().replace([' ', '\n'], ""),
            r#"{"enhance":{"actual":0.5},"parse":{"actual":0.1}}"#
        );
        assert_eq!(
            pyjson::to_python_string(&PyValue::Object(durations), true).unwrap().replace([' ', '\n'], ""),
            r#"{"parse":2.0,"enhance":3}"#
        );
    }

    fn v_array(v: &PyValue) -> &[PyValue] {
        v.as_array().unwrap()
    }

    #[test]
    fn metrics_become_result_counts() {
        let exp = r#"{"dataset": "dataset_enhanced.json", "results": [{}, {}],
          "metrics": {"total": 9, "vulnerable": 2, "bypassable": 1, "inconclusive": 1, "protected": 2, "safe": 1, "errors": 2}}"#;
        let mut a = args("python");
        a.repo_name = None;
        let exp = v(exp);
        let inputs = BuildInputs {
            experiment: &exp,
            call_graph: &JsonInput::Absent,
            diff_manifest: &JsonInput::Absent,
            diff_filter_report: &JsonInput::Absent,
            step_reports: &[],
            args: &a,
            era: PipelineEra::Current,
        };
        let doc = build_pipeline_output(&inputs).unwrap().0;
        let text = pyjson::to_python_string(&doc, false).unwrap().replace([' ', '\n'], "");
        assert!(
            text.contains(
                r#""repository":{"name":"dataset_enhanced.json","url":"","language":"python","commit_sha":null}"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#""total_units":9,"reachable_units":9,"units_analyzed":7,"processing_level":"reachable""#)
        );
        assert!(text.contains(r#""results":{"vulnerable":3,"safe":3,"inconclusive":1,"total":9}"#));
        // Without metrics: total = len(results), counters 0.
        let exp = v(r#"{"results": [{}, {}, {}]}"#);
        let inputs = BuildInputs { experiment: &exp, ..inputs };
        let text = pyjson::to_python_string(&build_pipeline_output(&inputs).unwrap().0, false)
            .unwrap()
            .replace([' ', '\n'], "");
        assert!(text.contains(r#""total_units":3,"reachable_units":3,"units_analyzed":3"#));
        assert!(text.contains(r#""results":{"vulnerable":0,"safe":0,"inconclusive":0,"total":3}"#));
    }

    #[test]
    fn diff_block_with_and_without_the_filter_report() {
        let manifest = JsonInput::Parsed(v(
            r#"{"base_ref": "origin/main", "base_sha": "b", "head_sha": "h", "scope": "changed_files", "changed_files": ["a", "b"]}"#,
        ));
        let d = diff_block(&manifest, &JsonInput::Absent).unwrap().unwrap();
        assert_eq!(
            pyjson::to_python_string(&d, false).unwrap().replace([' ', '\n'], ""),
            r#"{"mode":"incremental","base_ref":"origin/main","base_sha":"b","head_sha":"h","scope":"changed_files","pr_number":null,"changed_files":2}"#
        );
        let stats = JsonInput::Parsed(v(
            r#"{"total": 10, "selected": 6, "pr_number": 0, "fallback_file_match": 2, "callers_added": null}"#,
        ));
        let d = diff_block(&JsonInput::Parsed(v(r#"{"pr_number": 7}"#)), &stats).unwrap().unwrap();
        assert_eq!(
            pyjson::to_python_string(&d, false).unwrap().replace([' ', '\n'], ""),
            r#"{"mode":"incremental","base_ref":null,"base_sha":null,"head_sha":null,"scope":null,"pr_number":7,"changed_files":0,"units_in_diff":6,"units_total_parsed":10,"callers_added":0,"fallback_file_match":2}"#
        );
        assert_eq!(diff_block(&JsonInput::Absent, &stats).unwrap(), None);
        assert_eq!(diff_block(&JsonInput::Unreadable("torn".into()), &stats).unwrap(), None);
        assert!(diff_block(&JsonInput::Parsed(v("[]")), &JsonInput::Absent).is_err());
    }

    #[test]
    fn legacy_era_rules() {
        let exp = v(r#"{"results": [
            {"unit_id": "a.py:f", "finding": "vulnerable", "verdict": "VULNERABLE", "cwe_id": 78, "verification": {"agree": false}},
            {"unit_id": "a.py:g", "finding": "vulnerable", "verdict": "VULNERABLE", "cwe_id": 78}],
            "code_by_route": {"a.py:g": "code"}}"#);
        let a = args("python");
        let inputs = BuildInputs {
            experiment: &exp,
            call_graph: &JsonInput::Absent,
            diff_manifest: &JsonInput::Absent,
            diff_filter_report: &JsonInput::Absent,
            step_reports: &[],
            args: &a,
            era: PipelineEra::Legacy,
        };
        let doc = build_pipeline_output(&inputs).unwrap().0;
        assert_eq!(finding_keys(&doc), ["a.py:g"]);
        let f = &doc.get("findings").and_then(PyValue::as_array).unwrap()[0];
        assert_eq!(f.get("cwe_id"), Some(&PyValue::from(0)));
        assert_eq!(f.get("cwe_name"), Some(&str_value("Unknown")));
        assert_eq!(f.get("vulnerable_code_section"), None);
    }

    #[test]
    fn isoformat_omits_a_zero_fraction() {
        let t = DateTime::parse_from_rfc3339("2026-05-14T09:45:00.318274Z").unwrap().with_timezone(&Utc);
        assert_eq!(python_utc_isoformat(t), "2026-05-14T09:45:00.318274+00:00");
        let t = DateTime::parse_from_rfc3339("2026-05-14T09:45:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(python_utc_isoformat(t), "2026-05-14T09:45:00+00:00");
    }

    #[test]
    fn salvage_from_prefixes() {
        let doc = r#"{
  "repository": {
    "name": "x",
    "url": "",
    "language": "go",
    "commit_sha": null
  },
  "analysis_date": "2026-05-14T09:45:00.318274+00:00",
  "application_type": "cli_tool",
  "pipeline_stats": {
    "total_units": 12,
    "reachable_units": 12,
    "units_analyzed": 12,
    "processing_level": "reachable",
    "costs": {},
    "durations": {
      "parse": 1.5
    },
    "skipped_steps": []
  },
  "results": {},
  "findings": [
    {
      "id": "VULN-001",
      "vulnerable_code_section": ""
    }
  ]
}"#;
        let full = salvage_leading_fields(doc.as_bytes());
        assert!(full.complete);
        assert_eq!(full.application_type, Some(str_value("cli_tool")));
        assert_eq!(full.first_finding_has_code_section, Some(true));
        let mut last = SalvagedPipeline::default();
        for cut in 0..doc.len() {
            let s = salvage_leading_fields(&doc.as_bytes()[..cut]);
            assert!(!s.complete);
            // Fields only ever appear (never wrong) as the prefix grows.
            for (got, want) in [
                (&s.repository, &full.repository),
                (&s.analysis_date, &full.analysis_date),
                (&s.application_type, &full.application_type),
                (&s.processing_level, &full.processing_level),
                (&s.durations, &full.durations),
            ] {
                if got.is_some() {
                    assert_eq!(got, want, "cut at {cut}");
                }
            }
            assert!(s.analysis_date.is_some() >= last.analysis_date.is_some());
            last = s;
        }
        let cut = doc.find("\"application_type\"").unwrap();
        let s = salvage_leading_fields(&doc.as_bytes()[..cut]);
        assert_eq!(s.analysis_date, full.analysis_date);
        assert_eq!(s.application_type, None);
        // A number cut at the end is not complete.
        let s = salvage_leading_fields(b"{\"repository\": {}, \"analysis_date\": 12");
        assert_eq!(s.analysis_date, None);
        assert!(s.repository.is_some());
        // A prefix followed by NULs.
        let mut z = doc.as_bytes()[..doc.find("\"pipeline_stats\"").unwrap()].to_vec();
        z.extend([0u8; 64]);
        assert_eq!(salvage_leading_fields(&z).application_type, Some(str_value("cli_tool")));
    }

    proptest::proptest! {
        #[test]
        fn salvage_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = salvage_leading_fields(&bytes);
        }

        #[test]
        fn salvage_never_panics_on_json_like_input(s in "[{}\\[\\]\":,a-z0-9 \\\\\n.-]{0,300}") {
            let _ = salvage_leading_fields(s.as_bytes());
            let mut b = b"{\"repository\": ".to_vec();
            b.extend(s.as_bytes());
            let _ = salvage_leading_fields(&b);
        }
    }
}
