//! OpenAnt's `build_pipeline_output` on already-loaded inputs (spec §3.4), for both eras of
//! the finding list ([`PipelineEra`]), and the pieces today's build shares ([`super::today`]):
//! code sections, Stage-2 verdicts, steps to reproduce, the caller/callee dedup, the diff block,
//! costs and durations.

use std::collections::{HashMap, HashSet};

use crate::pyjson::{PyObject, PyValue};
use crate::regen::json_input::JsonInput;
use crate::regen::py::{add, hash_key, py_eq, py_or, py_str, sub, truthy, HashKey};
use crate::regen::{Inexact, RegenError};

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

fn fail(msg: impl Into<String>) -> RegenError {
    RegenError::OpenAntWouldFail(msg.into())
}

fn as_dict<'v>(v: &'v PyValue, what: &str) -> Result<&'v PyObject, RegenError> {
    v.as_object().ok_or_else(|| fail(format!("{what} is not a JSON object ('.get' raises AttributeError)")))
}

/// Python `len(v)`.
fn py_len(v: &PyValue, what: &str) -> Result<usize, RegenError> {
    match v {
        PyValue::Array(a) => Ok(a.len()),
        PyValue::Object(o) => Ok(o.len()),
        PyValue::Str(s) => Ok(s.chars().count()),
        _ => Err(fail(format!("len() of {what}, which has no length"))),
    }
}

/// The items of something OpenAnt iterates and then calls `.get` on: a list of objects (an
/// empty string or object iterates nothing).
fn iter_dicts<'v>(v: &'v PyValue, what: &str) -> Result<Vec<&'v PyObject>, RegenError> {
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
    fn new(all_results: &'v PyValue) -> Result<ResultLookup<'v>, RegenError> {
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

    fn first(&self, key: &PyValue) -> Result<Option<&'v PyObject>, RegenError> {
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
) -> Result<String, RegenError> {
    if !truthy(code) {
        return Ok(String::new());
    }
    let lang = match language {
        Some(l) if truthy(l) => l.as_str().ok_or_else(|| fail("language is not a string ('.lower' raises)"))?,
        _ => "",
    };
    let code = py_str(code).ok_or_else(|| RegenError::Unsupported("vulnerable_code is a list or object".into()))?;
    Ok(format!("## Vulnerable Code\n\n`{file_path}`:\n\n```{}\n{code}\n```", fence_for(lang)))
}

/// The `stage2_verdict` of a confirmed finding (spec §3.4.3).
pub fn stage2_verdict(finding: &PyObject) -> Result<PyValue, RegenError> {
    let empty = PyValue::object();
    let verification = as_dict(get_or(finding, "verification", &empty), "verification")?;
    Ok(if verification.get("agree").is_some_and(truthy) {
        PyValue::from(if finding.get("exploit_path").is_some_and(truthy) { "confirmed" } else { "agreed" })
    } else if !verification.is_empty() {
        PyValue::from("rejected")
    } else {
        get_or(finding, "finding", &PyValue::from("vulnerable")).clone()
    })
}

/// `" -> ".join(x)` for what Python can join: a list of strings, a string (its characters) or
/// an object (its keys).
fn join_arrow(x: &PyValue) -> Result<String, RegenError> {
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
pub fn steps_to_reproduce(finding: &PyObject, vuln: &PyObject) -> Result<PyValue, RegenError> {
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
    let empty = PyValue::from("");
    py_or(f.get("route_key"), Some(f.get("unit_id").unwrap_or(&empty))).cloned().unwrap_or(PyValue::Null)
}

/// `_dedup_caller_callee` on a parsed call graph (spec §3.4.2): for every callee with exactly
/// one caller, both confirmed, both CWE ids equal (Python `==`) and truthy, drop every confirmed
/// finding keyed by the callee. A function that is its own only caller is dropped too.
pub fn dedup_caller_callee<'v>(
    confirmed: Vec<&'v PyObject>,
    all_results: &PyValue,
    call_graph: &PyValue,
) -> Result<Vec<&'v PyObject>, RegenError> {
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
pub fn diff_block(manifest: &SidecarInput, filter_report: &SidecarInput) -> Result<Option<PyValue>, RegenError> {
    let Some(manifest) = manifest.value() else {
        return Ok(None);
    };
    let m = as_dict(manifest, "diff_manifest.json")?;
    let get = |k: &str| m.get(k).cloned().unwrap_or(PyValue::Null);
    let mut out = PyObject::default();
    out.insert("mode".into(), PyValue::from("incremental"));
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
    Ok(Some(PyValue::from(out)))
}

/// `pipeline_stats.costs` and `.durations` from the step reports: the key's position comes
/// from the first report that sets it, the value from the last truthy one (spec §3.4.4).
pub fn costs_and_durations(step_reports: &[PyValue]) -> Result<(PyObject, PyObject), RegenError> {
    let mut costs = PyObject::default();
    let mut durations = PyObject::default();
    for sr in step_reports {
        let sr = as_dict(sr, "a step report")?;
        let step = match sr.get("step") {
            None => "unknown".to_owned(),
            Some(PyValue::Str(s)) => s.clone(),
            Some(_) => return Err(RegenError::Unsupported("a step report's `step` is not a string".into())),
        };
        if let Some(cost) = sr.get("cost_usd").filter(|v| truthy(v)) {
            let mut actual = PyObject::default();
            actual.insert("actual".into(), cost.clone());
            costs.insert(step.clone(), PyValue::from(actual));
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
) -> Result<Vec<&'a PyObject>, RegenError> {
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
pub fn build_pipeline_output(inputs: &BuildInputs<'_>) -> Result<(PyValue, Vec<Inexact>), RegenError> {
    let mut inexact = Vec::new();
    let experiment = as_dict(inputs.experiment, "the results file")?;
    let empty_list = PyValue::Array(Vec::new());
    let empty_obj = PyValue::object();
    let empty_map = PyObject::default();
    let all_results = get_or(experiment, "results", &empty_list);
    let code_by_route = get_or(experiment, "code_by_route", &empty_obj);
    let metrics = as_dict(get_or(experiment, "metrics", &empty_obj), "metrics")?;

    let mut confirmed = confirmed_findings(experiment, all_results, inputs.era)?;
    if inputs.era == PipelineEra::Current {
        match inputs.call_graph {
            SidecarInput::Absent => {}
            SidecarInput::Unreadable(why) => inexact.push(Inexact::new(
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
        let unknown = PyValue::from("unknown");
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

        let mut out = PyObject::default();
        out.insert("id".into(), PyValue::Str(format!("VULN-{:03}", i + 1)));
        let name = get_or(finding, "finding", &PyValue::from("Unknown Vulnerability")).clone();
        out.insert("name".into(), vuln.get("name").cloned().unwrap_or(name));
        let short = get_or(finding, "verdict", &PyValue::from("vuln")).clone();
        out.insert("short_name".into(), vuln.get("short_name").cloned().unwrap_or(short));
        let mut location = PyObject::default();
        location.insert("file".into(), PyValue::Str(file_path));
        location.insert("function".into(), route_key.clone());
        out.insert("location".into(), PyValue::from(location));
        let (cwe_id, cwe_name) = match inputs.era {
            PipelineEra::Current => {
                let zero = PyValue::from(0);
                let unk = PyValue::from("Unknown");
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
                vuln.get("cwe_name").cloned().unwrap_or(PyValue::from("Unknown")),
            ),
        };
        out.insert("cwe_id".into(), cwe_id);
        out.insert("cwe_name".into(), cwe_name);
        let s1_default = get_or(finding, "finding", &PyValue::from("vulnerable")).clone();
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
        findings.push(PyValue::from(out));
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
            let mut repo = PyObject::default();
            let dataset = get_or(experiment, "dataset", &unknown_value()).clone();
            let name = match &args.repo_name {
                Some(n) if truthy(n) => n.clone(),
                _ => dataset,
            };
            repo.insert("name".into(), name);
            repo.insert("url".into(), truthy_or_empty(args.repo_url.as_ref()));
            repo.insert("language".into(), truthy_or_empty(args.language.as_ref()));
            repo.insert("commit_sha".into(), args.commit_sha.clone());
            PyValue::from(repo)
        }
    };

    let mut stats = PyObject::default();
    stats.insert("total_units".into(), total_units.clone());
    stats.insert("reachable_units".into(), total_units.clone());
    stats.insert("units_analyzed".into(), units_analyzed);
    stats.insert("processing_level".into(), args.processing_level.clone());
    stats.insert("costs".into(), PyValue::from(costs));
    stats.insert("durations".into(), PyValue::from(durations));
    stats.insert("skipped_steps".into(), PyValue::Array(Vec::new()));

    let mut results = PyObject::default();
    results.insert("vulnerable".into(), add(m("vulnerable"), m("bypassable"))?);
    results.insert("safe".into(), add(m("safe"), m("protected"))?);
    results.insert("inconclusive".into(), m("inconclusive").clone());
    results.insert("total".into(), total_units);

    let mut doc = PyObject::default();
    doc.insert("repository".into(), repository);
    doc.insert("analysis_date".into(), PyValue::Str(args.analysis_date.clone()));
    doc.insert("application_type".into(), args.application_type.clone());
    doc.insert("pipeline_stats".into(), PyValue::from(stats));
    doc.insert("results".into(), PyValue::from(results));
    doc.insert("findings".into(), PyValue::Array(findings));
    if matches!(inputs.diff_manifest, SidecarInput::Unreadable(_)) {
        inexact.push(Inexact::new(
            "diff",
            "diff_manifest.json exists but is unreadable: no diff block, as OpenAnt would write now; \
             the scan-time file had one if the manifest was intact then",
        ));
    } else if inputs.diff_manifest.value().is_some() && matches!(inputs.diff_filter_report, SidecarInput::Unreadable(_))
    {
        inexact.push(Inexact::new(
            "diff",
            "diff_filter.report.json is unreadable: the diff block lacks units_in_diff, units_total_parsed, \
             callers_added and fallback_file_match",
        ));
    }
    if let Some(diff) = diff_block(inputs.diff_manifest, inputs.diff_filter_report)? {
        doc.insert("diff".into(), diff);
    }
    Ok((PyValue::from(doc), inexact))
}

pub(super) fn unknown_value() -> PyValue {
    PyValue::from("unknown")
}

/// `x or ""`.
pub(super) fn truthy_or_empty(v: Option<&PyValue>) -> PyValue {
    match v {
        Some(v) if truthy(v) => v.clone(),
        _ => PyValue::from(""),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson;
    use crate::pyjson::parse;

    fn v(text: &str) -> PyValue {
        parse(text.as_bytes()).unwrap()
    }

    fn args(language: &str) -> BuildArgs {
        BuildArgs {
            repo_name: Some(v("\"demo\"")),
            repo_url: None,
            language: Some(PyValue::from(language)),
            commit_sha: PyValue::Null,
            application_type: PyValue::from("web_app"),
            processing_level: PyValue::from("reachable"),
            analysis_date: "2026-01-01T00:00:00+00:00".into(),
            repository: None,
        }
    }

    /// What `build_pipeline_output` reads, without a diff or step reports.
    fn plain_inputs<'a>(
        experiment: &'a PyValue,
        call_graph: &'a JsonInput,
        args: &'a BuildArgs,
        era: PipelineEra,
    ) -> BuildInputs<'a> {
        BuildInputs {
            experiment,
            call_graph,
            diff_manifest: &JsonInput::Absent,
            diff_filter_report: &JsonInput::Absent,
            step_reports: &[],
            args,
            era,
        }
    }

    fn build(experiment: &str, call_graph: Option<&str>, language: &str) -> PyValue {
        let exp = v(experiment);
        let cg = call_graph.map_or(JsonInput::Absent, |t| JsonInput::Parsed(v(t)));
        let a = args(language);
        let inputs = plain_inputs(&exp, &cg, &a, PipelineEra::Current);
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
        let inputs = plain_inputs(&exp, &cg, &a, PipelineEra::Current);
        assert!(matches!(build_pipeline_output(&inputs), Err(RegenError::OpenAntWouldFail(_))));
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
        let code = PyValue::from("x = 1");
        assert_eq!(
            vulnerable_code_section("a.py", &code, Some(&PyValue::from("Python"))).unwrap(),
            "## Vulnerable Code\n\n`a.py`:\n\n```python\nx = 1\n```"
        );
        assert_eq!(
            vulnerable_code_section("a.c", &code, Some(&PyValue::from("c++"))).unwrap(),
            "## Vulnerable Code\n\n`a.c`:\n\n```cpp\nx = 1\n```"
        );
        for lang in ["zig", ""] {
            assert_eq!(
                vulnerable_code_section("a.zig", &code, Some(&PyValue::from(lang))).unwrap(),
                "## Vulnerable Code\n\n`a.zig`:\n\n```\nx = 1\n```"
            );
        }
        assert_eq!(vulnerable_code_section("a", &code, None).unwrap(), "## Vulnerable Code\n\n`a`:\n\n```\nx = 1\n```");
        assert_eq!(vulnerable_code_section("a", &PyValue::from(""), Some(&PyValue::from("go"))).unwrap(), "");
        assert_eq!(vulnerable_code_section("a", &PyValue::Null, Some(&PyValue::from("go"))).unwrap(), "");
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
        assert_eq!(f[0].get("vulnerable_code"), Some(&PyValue::from("def f(): pass")));
        assert_eq!(
            f[0].get("vulnerable_code_section").and_then(PyValue::as_str),
            Some("## Vulnerable Code\n\n`a.py`:\n\n```\ndef f(): pass\n```")
        );
        assert_eq!(f[1].get("vulnerable_code"), Some(&PyValue::from("")));
        assert_eq!(f[1].get("vulnerable_code_section"), Some(&PyValue::from("")));
        let doc = build(r#"{"results": [{"route_key": "a.py:f", "finding": "vulnerable"}]}"#, None, "python");
        let f = doc.get("findings").and_then(PyValue::as_array).unwrap();
        assert_eq!(f[0].get("vulnerable_code"), Some(&PyValue::Null));
        assert_eq!(f[0].get("vulnerable_code_section"), Some(&PyValue::from("")));
    }

    #[test]
    fn stage2_verdict_cases() {
        let s2 = |t: &str| stage2_verdict(v(t).as_object().unwrap()).unwrap();
        assert_eq!(s2(r#"{"verification": {"agree": true}}"#), PyValue::from("agreed"));
        assert_eq!(s2(r#"{"verification": {"agree": 1}, "exploit_path": {"a": 1}}"#), PyValue::from("confirmed"));
        // verification.exploit_path is ignored; only a top-level one counts.
        assert_eq!(
            s2(r#"{"verification": {"agree": true, "exploit_path": {"data_flow": ["a"]}}}"#),
            PyValue::from("agreed")
        );
        assert_eq!(s2(r#"{"verification": {"agree": false}, "finding": "vulnerable"}"#), PyValue::from("rejected"));
        assert_eq!(s2(r#"{"verification": {}, "finding": "bypassable"}"#), PyValue::from("bypassable"));
        assert_eq!(s2(r#"{"finding": "bypassable"}"#), PyValue::from("bypassable"));
        assert_eq!(s2(r#"{"finding": null}"#), PyValue::Null);
        assert_eq!(s2(r#"{}"#), PyValue::from("vulnerable"));
        assert!(stage2_verdict(v(r#"{"verification": null}"#).as_object().unwrap()).is_err());
    }

    #[test]
    fn steps_to_reproduce_cases() {
        let empty = PyObject::default();
        let st = |t: &str| steps_to_reproduce(v(t).as_object().unwrap(), &empty).unwrap();
        assert_eq!(st(r#"{"attack_vector": "send x"}"#), PyValue::from("send x"));
        assert_eq!(st(r#"{"attack_vector": ""}"#), PyValue::Null);
        assert_eq!(st(r#"{}"#), PyValue::Null);
        // verification.explanation and verification.exploit_path are not used.
        assert_eq!(
            st(r#"{"attack_vector": "a", "verification": {"explanation": "e", "exploit_path": {"data_flow": ["p"]}}}"#),
            PyValue::from("a")
        );
        assert_eq!(
            st(r#"{"attack_vector": "a", "exploit_path": {"data_flow": ["x", "y"]}, "verification_explanation": "v"}"#),
            PyValue::from("a\n\nData flow: x -> y\n\nVerification: v")
        );
        let vuln = v(r#"{"steps_to_reproduce": "1. do"}"#);
        assert_eq!(
            steps_to_reproduce(v(r#"{"attack_vector": "a"}"#).as_object().unwrap(), vuln.as_object().unwrap()).unwrap(),
            PyValue::from("1. do")
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
            pyjson::to_python_string(&PyValue::from(costs), true).unwrap().replace([' ', '\n'], ""),
            r#"{"enhance":{"actual":0.5},"parse":{"actual":0.1}}"#
        );
        assert_eq!(
            pyjson::to_python_string(&PyValue::from(durations), true).unwrap().replace([' ', '\n'], ""),
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
        let inputs = plain_inputs(&exp, &JsonInput::Absent, &a, PipelineEra::Current);
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
        let inputs = plain_inputs(&exp, &JsonInput::Absent, &a, PipelineEra::Legacy);
        let doc = build_pipeline_output(&inputs).unwrap().0;
        assert_eq!(finding_keys(&doc), ["a.py:g"]);
        let f = &doc.get("findings").and_then(PyValue::as_array).unwrap()[0];
        assert_eq!(f.get("cwe_id"), Some(&PyValue::from(0)));
        assert_eq!(f.get("cwe_name"), Some(&PyValue::from("Unknown")));
        assert_eq!(f.get("vulnerable_code_section"), None);
    }
}
