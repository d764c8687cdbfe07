//! `pipeline_output.json` as today's OpenAnt builds it (identity-gate era;
//! `core/reporter.py` `build_pipeline_output`, read at `#60800372893`, with the newer
//! `0652879a` differences recorded in docs/openant-eras.md §1.3: zero costs kept, #534 Stage-2
//! text keys, #535 Stage-1 stats).
//!
//! Deterministic from the results file, the step reports, `call_graph.json`,
//! `diff_manifest.json`, `dataset.json`'s `metadata.reachability_filter` and the scan's
//! run-level arguments. The run-level arguments (`per_language` … `manual_*`,
//! `context_source`, `skipped_steps`) are not recorded anywhere but in `scan.report.json` and
//! the old file: [`TodayArgs`] carries what the caller recovered.
//!
//! Not byte-exact where it cannot be: the code-fence tag of `vulnerable_code_section` comes
//! from OpenAnt's language registry config (not read): an old section for the same code is
//! kept, else a fence from the file extension is used and named; reachability telemetry keys
//! newer than `#60800372893` are carried from the old file by the lossless merge only.

use sha2::{Digest, Sha256};

use super::build::{dedup_caller_callee, diff_block, fence_for, SidecarInput};
use crate::pyjson::{self, PyObject, PyValue};
use crate::regen::py::{py_eq, truthy};
use crate::regen::{Inexact, RegenError};

/// `finding_identity_key(file, function, cwe)` (#314): the first 12 hex digits of SHA-256 over
/// `"<file>|<function>|<int(cwe or 0)>"`, a CWE that `int()` refuses counting as 0.
pub fn identity_key(file: &str, function: &str, cwe: &PyValue) -> String {
    let payload = format!("{file}|{function}|{}", python_int_or_zero(cwe));
    let digest = Sha256::digest(payload.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// `int(x or 0)`, with `TypeError`/`ValueError` → 0: bools and ints as themselves, floats
/// truncated (NaN → 0), strings as Python's `int(str)` reads them (surrounding whitespace, a
/// sign, digits with single `_` between them), anything else 0.
fn python_int_or_zero(v: &PyValue) -> String {
    match v {
        PyValue::Bool(b) => i64::from(*b).to_string(),
        PyValue::Int(n) => n.as_str().to_owned(),
        PyValue::Float(x) if x.is_finite() => format!("{:.0}", x.trunc()).replace("-0", "0"),
        PyValue::Str(s) => {
            let t = s.trim();
            let (sign, digits) = match t.strip_prefix('-') {
                Some(d) => ("-", d),
                None => ("", t.strip_prefix('+').unwrap_or(t)),
            };
            let ok = !digits.is_empty()
                && !digits.starts_with('_')
                && !digits.ends_with('_')
                && !digits.contains("__")
                && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_');
            if !ok {
                return "0".to_owned();
            }
            let clean: String = digits.chars().filter(|c| *c != '_').collect();
            let clean = clean.trim_start_matches('0');
            if clean.is_empty() {
                "0".to_owned()
            } else {
                format!("{sign}{clean}")
            }
        }
        _ => "0".to_owned(),
    }
}

/// `_coerce_to_str`: strings as they are, null as `""`, anything else `json.dumps`-ed
/// (default separators, ensure_ascii).
pub fn coerce_to_str(v: &PyValue) -> String {
    match v {
        PyValue::Str(s) => s.clone(),
        PyValue::Null => String::new(),
        other => json_dumps(other),
    }
}

fn json_dumps(v: &PyValue) -> String {
    match v {
        PyValue::Array(items) => format!("[{}]", items.iter().map(json_dumps).collect::<Vec<_>>().join(", ")),
        PyValue::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", json_dumps(&PyValue::Str(k.clone())), json_dumps(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        scalar => pyjson::to_python_string(scalar, true).unwrap_or_default(),
    }
}

/// The fence tag for a file by its extension. OpenAnt reads it from its language registry
/// config, which was not read; these are the common languages' tags.
pub fn fence_for_path(file: &str, fallback: Option<&str>) -> (String, bool) {
    let ext = file.rsplit_once('.').map(|(_, e)| e.to_lowercase()).filter(|_| file.contains('.'));
    let known = match ext.as_deref() {
        Some("py") => Some("python"),
        Some("js" | "mjs" | "cjs" | "jsx") => Some("javascript"),
        Some("ts" | "tsx") => Some("typescript"),
        Some("go") => Some("go"),
        Some("java") => Some("java"),
        Some("rb") => Some("ruby"),
        Some("php") => Some("php"),
        Some("rs") => Some("rust"),
        Some("c" | "h") => Some("c"),
        Some("cpp" | "cc" | "hpp" | "cxx") => Some("cpp"),
        Some("cs") => Some("csharp"),
        _ => None,
    };
    match known {
        Some(f) => (f.to_owned(), true),
        None => (fence_for(fallback.unwrap_or("")).to_owned(), false),
    }
}

/// The run-level arguments `scan` passed, as recovered.
#[derive(Debug, Clone)]
pub struct TodayArgs {
    /// `per_language`, `parse_errors`, `excluded_languages`, `degraded`, `coverage`,
    /// `discovery`: written when present, in this order.
    pub coverage_fields: Vec<(String, PyValue)>,
    pub context_source: PyValue,
    pub threat_model_sha256: Option<PyValue>,
    pub threat_model_warnings: PyValue,
    /// `manual_exclusions`, `manual_override_warnings`, `manual_override_filename`, as given.
    pub manual_fields: Vec<(String, PyValue)>,
    pub skipped_steps: PyValue,
    /// `<scan dir>/dataset.json` `metadata.reachability_filter`, when an object.
    pub reachability: Option<PyObject>,
    /// Old findings by id: their `vulnerable_code` and `vulnerable_code_section`, to keep the
    /// fence OpenAnt's registry chose.
    pub old_sections: Vec<(String, PyValue, PyValue)>,
}

impl Default for TodayArgs {
    fn default() -> TodayArgs {
        TodayArgs {
            coverage_fields: Vec::new(),
            context_source: PyValue::from("none"),
            threat_model_sha256: None,
            threat_model_warnings: PyValue::Array(Vec::new()),
            manual_fields: Vec::new(),
            skipped_steps: PyValue::Array(Vec::new()),
            reachability: None,
            old_sections: Vec::new(),
        }
    }
}

/// Everything the build reads.
pub struct TodayInputs<'a> {
    pub experiment: &'a PyValue,
    pub call_graph: &'a SidecarInput,
    pub diff_manifest: &'a SidecarInput,
    pub diff_filter_report: &'a SidecarInput,
    pub step_reports: &'a [PyValue],
    pub repository: PyValue,
    pub analysis_date: String,
    pub application_type: PyValue,
    pub processing_level: PyValue,
    pub language: Option<PyValue>,
    pub today: &'a TodayArgs,
}

fn fail(msg: impl Into<String>) -> RegenError {
    RegenError::OpenAntWouldFail(msg.into())
}

/// `str(r.get("finding") or r.get("verdict", "")).lower()`.
fn final_finding(r: &PyObject) -> String {
    let v = match r.get("finding").filter(|f| truthy(f)) {
        Some(f) => f.clone(),
        None => r.get("verdict").cloned().unwrap_or_else(|| PyValue::from("")),
    };
    crate::regen::py::py_str(&v).unwrap_or_default().to_lowercase()
}

fn or3<'v>(a: Option<&'v PyValue>, b: Option<&'v PyValue>, c: Option<&'v PyValue>) -> Option<&'v PyValue> {
    [a, b].into_iter().flatten().find(|v| truthy(v)).or(c)
}

/// The `stage2_verdict` today (#283, PR #69 F4).
pub fn stage2_verdict(finding: &PyObject) -> PyValue {
    let empty = PyObject::default();
    let verification = finding.get("verification").and_then(PyValue::as_object).unwrap_or(&empty);
    if verification.get("agree").is_some_and(truthy) {
        PyValue::from(if finding.get("exploit_path").is_some_and(truthy) { "confirmed" } else { "agreed" })
    } else if verification.get("incomplete").is_some_and(truthy) {
        PyValue::from("unverified")
    } else if !verification.is_empty() {
        let corrected = final_finding(finding);
        PyValue::from(if matches!(corrected.as_str(), "vulnerable" | "bypassable") {
            corrected
        } else {
            "rejected".into()
        })
    } else {
        finding.get("finding").cloned().unwrap_or_else(|| PyValue::from("vulnerable"))
    }
}

/// `_severity_fields` (#215), as docs/openant-eras.md §1.3 describes it.
fn severity_fields(finding: &PyObject) -> Vec<(String, PyValue)> {
    let explanation = finding
        .get("verification")
        .and_then(PyValue::as_object)
        .and_then(|v| v.get("explanation"))
        .filter(|e| truthy(e))
        .or_else(|| finding.get("reasoning"));
    let demoted = explanation.and_then(PyValue::as_str) == Some("Max iterations reached");
    let verdict = final_finding(finding);
    if demoted || !matches!(verdict.as_str(), "vulnerable" | "bypassable") {
        return Vec::new();
    }
    let sev = finding.get("severity").and_then(PyValue::as_str);
    let source = finding.get("severity_source").and_then(PyValue::as_str);
    if let (Some(s @ ("critical" | "high" | "medium" | "low")), Some("model")) = (sev, source) {
        return vec![("severity".into(), PyValue::from(s)), ("severity_source".into(), PyValue::from("model"))];
    }
    let derived = if verdict == "vulnerable" { "high" } else { "medium" };
    let source = source.filter(|s| matches!(*s, "corrected" | "derived")).unwrap_or("derived");
    vec![("severity".into(), PyValue::from(derived)), ("severity_source".into(), PyValue::from(source))]
}

fn num(v: Option<&PyValue>) -> i128 {
    v.and_then(PyValue::as_int).and_then(|n| n.as_i128()).unwrap_or(0)
}

/// Today's `build_pipeline_output` on loaded inputs.
pub fn build_today(inputs: &TodayInputs<'_>) -> Result<(PyValue, Vec<Inexact>), RegenError> {
    let mut inexact = Vec::new();
    let experiment = inputs.experiment.as_object().ok_or_else(|| fail("the results file is not an object"))?;
    let rows: Vec<PyValue> = match experiment.get("results") {
        Some(PyValue::Array(a)) => a.iter().filter(|r| r.as_object().is_some()).cloned().collect(),
        _ => Vec::new(),
    };
    let all_results = PyValue::Array(rows.clone());
    let empty = PyObject::default();
    let code_by_route = experiment.get("code_by_route").and_then(PyValue::as_object).unwrap_or(&empty);
    let metrics = experiment.get("metrics").and_then(PyValue::as_object).unwrap_or(&empty);
    let confirmed: Vec<&PyObject> = match experiment.get("confirmed_findings") {
        Some(PyValue::Array(c)) => c.iter().filter_map(PyValue::as_object).collect(),
        Some(v) if !v.is_null() => Vec::new(),
        _ => rows
            .iter()
            .filter_map(PyValue::as_object)
            .filter(|r| matches!(final_finding(r).as_str(), "vulnerable" | "bypassable"))
            .collect(),
    };
    let before = confirmed.len();
    let confirmed = match inputs.call_graph {
        SidecarInput::Parsed(cg) => dedup_caller_callee(confirmed, &all_results, cg)?,
        SidecarInput::Unreadable(why) => {
            inexact.push(Inexact::new(
                "findings",
                format!(
                    "call_graph.json is unreadable ({why}): caller/callee dedup skipped, as OpenAnt would skip it now"
                ),
            ));
            confirmed
        }
        SidecarInput::Absent => confirmed,
    };
    let overlap_error = confirmed.iter().filter(|c| c.get("error").is_some_and(truthy)).count() as i128;
    let overlap_needs = confirmed
        .iter()
        .filter(|c| !c.get("error").is_some_and(truthy))
        .filter(|c| {
            c.get("verification").and_then(PyValue::as_object).and_then(|v| v.get("incomplete")).is_some_and(truthy)
        })
        .count() as i128;

    let language = inputs.language.as_ref().and_then(PyValue::as_str).filter(|l| !l.is_empty());
    let mut findings = Vec::with_capacity(confirmed.len());
    for (i, finding) in confirmed.iter().enumerate() {
        let unknown = PyValue::from("unknown");
        let rk_value = match finding.get("route_key").filter(|v| truthy(v)) {
            Some(v) => v.clone(),
            None => finding.get("unit_id").cloned().unwrap_or(unknown),
        };
        let rk = rk_value.as_str().ok_or_else(|| fail("a finding's route_key/unit_id is not a string"))?.to_owned();
        let full = rows
            .iter()
            .filter_map(PyValue::as_object)
            .find(|r| {
                let k = match r.get("route_key").filter(|v| truthy(v)) {
                    Some(v) => Some(v),
                    None => r.get("unit_id"),
                };
                k.is_some_and(|k| py_eq(k, &rk_value))
            })
            .unwrap_or(finding);
        let vuln: &PyObject = match finding.get("vulnerabilities") {
            Some(PyValue::Array(v)) if !v.is_empty() => v[0].as_object().unwrap_or(&empty),
            _ => &empty,
        };
        let (file, function) = match rk.split_once(':') {
            Some((f, rest)) => (f.to_owned(), rest.to_owned()),
            None => ("unknown".to_owned(), rk.clone()),
        };
        let description = or3(vuln.get("description"), finding.get("reasoning"), full.get("reasoning"))
            .cloned()
            .unwrap_or(PyValue::Null);
        let vulnerable_code = match vuln.get("vulnerable_code").filter(|v| truthy(v)) {
            Some(v) => v.clone(),
            None => code_by_route.get(&rk).cloned().unwrap_or(PyValue::Null),
        };
        let id = format!("VULN-{:03}", i + 1);
        let section = if !truthy(&vulnerable_code) {
            String::new()
        } else {
            let old = inputs.today.old_sections.iter().find(|(oid, code, _)| *oid == id && *code == vulnerable_code);
            match old.and_then(|(_, _, s)| s.as_str()) {
                Some(s) => s.to_owned(),
                None => {
                    let (fence, known) = fence_for_path(&file, language);
                    if !known {
                        inexact.push(Inexact::new(
                            format!("findings[{id}].vulnerable_code_section"),
                            "code fence tag from the scan language: OpenAnt takes it from its language registry config by the file's extension",
                        ));
                    }
                    let code = coerce_to_str(&vulnerable_code);
                    format!("## Vulnerable Code\n\n`{file}`:\n\n```{fence}\n{code}\n```")
                }
            }
        };
        let impact = or3(vuln.get("impact"), finding.get("attack_vector"), None).cloned().unwrap_or(PyValue::Null);
        let verification = finding.get("verification").and_then(PyValue::as_object);
        let explanation =
            or3(verification.and_then(|v| v.get("explanation")), finding.get("verification_explanation"), None)
                .filter(|v| truthy(v));
        let steps = match vuln.get("steps_to_reproduce").filter(|v| truthy(v)) {
            Some(s) => s.clone(),
            None => {
                let mut parts = Vec::new();
                if let Some(av) = finding.get("attack_vector").filter(|v| truthy(v)) {
                    parts.push(coerce_to_str(av));
                }
                if let Some(df) = finding
                    .get("exploit_path")
                    .and_then(PyValue::as_object)
                    .and_then(|e| e.get("data_flow"))
                    .filter(|v| truthy(v))
                {
                    let flow = match df {
                        PyValue::Array(steps) => steps.iter().map(coerce_to_str).collect::<Vec<_>>().join(" -> "),
                        other => coerce_to_str(other),
                    };
                    parts.push(format!("Data flow: {flow}"));
                }
                if let Some(e) = explanation {
                    parts.push(format!("Verification: {}", coerce_to_str(e)));
                }
                if parts.is_empty() {
                    PyValue::Null
                } else {
                    PyValue::Str(parts.join("\n\n"))
                }
            }
        };
        let zero = PyValue::from(0);
        let unk = PyValue::from("Unknown");
        let cwe_id = or3(vuln.get("cwe_id"), finding.get("cwe_id"), Some(full.get("cwe_id").unwrap_or(&zero)))
            .cloned()
            .unwrap_or(PyValue::Null);
        let cwe_name = or3(vuln.get("cwe_name"), finding.get("cwe_name"), Some(full.get("cwe_name").unwrap_or(&unk)))
            .cloned()
            .unwrap_or(PyValue::Null);

        let mut out = PyObject::default();
        out.insert("id".into(), PyValue::Str(id));
        out.insert("identity_key".into(), PyValue::Str(identity_key(&file, &function, &cwe_id)));
        let name = finding.get("finding").cloned().unwrap_or_else(|| PyValue::from("Unknown Vulnerability"));
        out.insert("name".into(), vuln.get("name").cloned().unwrap_or(name));
        let short = finding.get("verdict").cloned().unwrap_or_else(|| PyValue::from("vuln"));
        out.insert("short_name".into(), vuln.get("short_name").cloned().unwrap_or(short));
        let mut location = PyObject::default();
        location.insert("file".into(), PyValue::Str(file));
        location.insert("function".into(), PyValue::Str(function));
        out.insert("location".into(), PyValue::from(location));
        out.insert("cwe_id".into(), cwe_id);
        out.insert("cwe_name".into(), cwe_name);
        let s1 = finding.get("finding").cloned().unwrap_or_else(|| PyValue::from("vulnerable"));
        out.insert("stage1_verdict".into(), finding.get("verdict").cloned().unwrap_or(s1));
        out.insert("stage2_verdict".into(), stage2_verdict(finding));
        if let Some(e) = explanation {
            out.insert("verification_explanation".into(), PyValue::Str(coerce_to_str(e)));
        }
        if let Some(n) = finding.get("verification_note").filter(|n| truthy(n)) {
            out.insert("verification_note".into(), n.clone());
        }
        if let Some(u) = finding.get("consistency_update").filter(|u| u.as_object().is_some()) {
            out.insert("consistency_update".into(), u.clone());
        }
        for k in ["confidence", "json_corrected"] {
            if let Some(v) = finding.get(k).filter(|v| !v.is_null()) {
                out.insert(k.into(), v.clone());
            }
        }
        out.extend(severity_fields(finding));
        out.insert("description".into(), description);
        out.insert("vulnerable_code".into(), vulnerable_code);
        out.insert("vulnerable_code_section".into(), PyValue::Str(section));
        out.insert("impact".into(), impact);
        out.insert("suggested_fix".into(), vuln.get("suggested_fix").cloned().unwrap_or(PyValue::Null));
        out.insert("steps_to_reproduce".into(), steps);
        findings.push(PyValue::from(out));
    }

    // Step reports: costs/durations (zeros kept, #535), verify scope, Stage-1 stats.
    let mut costs = PyObject::default();
    let mut durations = PyObject::default();
    let mut verify_scope = PyObject::default();
    let mut stage1 = PyObject::default();
    let mut analyze_supplied = false;
    for sr in inputs.step_reports {
        let Some(sr) = sr.as_object() else { continue };
        let step = sr.get("step").and_then(PyValue::as_str).unwrap_or("unknown").to_owned();
        if let Some(c) = sr.get("cost_usd").filter(|v| !v.is_null()) {
            costs.insert(
                step.clone(),
                PyValue::from([("actual".to_owned(), c.clone())].into_iter().collect::<PyObject>()),
            );
        }
        if let Some(d) = sr.get("duration_seconds").filter(|v| !v.is_null()) {
            durations.insert(step.clone(), d.clone());
        }
        let summary = sr.get("summary").and_then(PyValue::as_object);
        match step.as_str() {
            "verify" if verify_scope.is_empty() => {
                if let Some(s) = summary {
                    for k in ["findings_input", "units_analyzed_total", "downgraded", "upgraded"] {
                        if let Some(v @ PyValue::Int(_)) = s.get(k) {
                            verify_scope.insert(k.into(), v.clone());
                        }
                    }
                    if let Some(v) = s.get("same_model_verification").filter(|v| !v.is_null()) {
                        verify_scope.insert("same_model_verification".into(), PyValue::Bool(truthy(v)));
                    }
                }
            }
            "parse" => {
                if let Some(v @ PyValue::Int(_)) = summary.and_then(|s| s.get("total_units")) {
                    stage1.insert("parsed_units".into(), v.clone());
                }
            }
            "analyze" => {
                if let Some(v @ PyValue::Int(_)) = summary.and_then(|s| s.get("analyzed")) {
                    stage1.insert("units_analyzed".into(), v.clone());
                    analyze_supplied = true;
                }
                let errors = summary
                    .and_then(|s| s.get("error_count"))
                    .or_else(|| summary.and_then(|s| s.get("verdicts")).and_then(|v| v.get("errors")));
                if let Some(v @ PyValue::Int(_)) = errors {
                    stage1.insert("stage1_errors".into(), v.clone());
                }
            }
            _ => {}
        }
    }
    // Their place (after the verify scope, before processing_level) is reporter.py@0652879a's,
    // as docs/openant-eras.md §1.3 records it.

    let total_units = metrics.get("total").cloned().unwrap_or_else(|| PyValue::from(rows.len()));
    let total_i = num(Some(&total_units));
    let mut reachable = total_units.clone();
    let mut original = total_units.clone();
    let mut reduction = PyValue::Null;
    let mut warnings: Vec<PyValue> = Vec::new();
    let mut telemetry = PyObject::default();
    let level = inputs.processing_level.as_str().unwrap_or("").to_lowercase();
    if let Some(rf) = &inputs.today.reachability {
        if let Some(v @ PyValue::Int(_)) = rf.get("reachable_units") {
            reachable = v.clone();
        }
        if let Some(v @ PyValue::Int(_)) = rf.get("original_units") {
            original = v.clone();
        }
        if let Some(v @ (PyValue::Int(_) | PyValue::Float(_))) = rf.get("reduction_percentage") {
            reduction = v.clone();
        }
        for k in ["warning", "level_fallback_warning"] {
            if let Some(w) = rf.get(k).filter(|w| w.as_str().is_some_and(|s| !s.is_empty())) {
                warnings.push(w.clone());
            }
        }
        if let Some(e) = rf.get("effective_processing_level").filter(|e| e.as_str().is_some_and(|s| !s.is_empty())) {
            telemetry.insert("effective_processing_level".into(), e.clone());
        }
        for k in ["pruned_orphan_count", "pruned_in_dead_cluster_count", "pruned_forward_called_by_reachable_count"] {
            if let Some(v @ PyValue::Int(_)) = rf.get(k) {
                telemetry.insert(k.into(), v.clone());
            }
        }
        if let Some(v @ PyValue::Object(_)) = rf.get("pruned_by_file") {
            telemetry.insert("pruned_by_file".into(), v.clone());
        }
        if let Some(v) = rf.get("orphan_advisory").filter(|v| v.as_str().is_some_and(|s| !s.is_empty())) {
            telemetry.insert("orphan_advisory".into(), v.clone());
        }
    } else if total_i > 0 && !matches!(level.as_str(), "" | "all" | "none") {
        let repr = match inputs.processing_level.as_str() {
            Some(s) => format!("'{s}'"),
            None => "None".to_owned(),
        };
        warnings.push(PyValue::Str(format!(
            "Reachability filtering was requested (level={repr}) but no reachability_filter record was found; \
             reachable_units falls back to total_units and may overstate reachability."
        )));
    }
    if let PyValue::Int(r) = &reachable {
        if r.as_i128().is_some_and(|r| r > total_i) {
            warnings.push(PyValue::Str(format!(
                "reachable_units ({}) exceeds analyzed total_units ({}): analysis covered a subset of the reachable \
                 units (e.g. --limit). reachable_units is the reachability filter's kept count; units_analyzed \
                 reflects what was actually analyzed.",
                r.as_str(),
                total_i
            )));
        }
    }

    let mut stats = PyObject::default();
    stats.insert("total_units".into(), total_units.clone());
    stats.insert("reachable_units".into(), reachable);
    stats.insert("original_units".into(), original);
    stats.insert("reachability_filter_applied".into(), PyValue::Bool(inputs.today.reachability.is_some()));
    stats.insert("reachability_reduction_percentage".into(), reduction);
    stats.insert("reachability_warnings".into(), PyValue::Array(warnings));
    stats.extend(telemetry);
    let verify_ran = !verify_scope.is_empty();
    stats.extend(verify_scope);
    stats.extend(stage1);
    if !analyze_supplied && !verify_ran {
        stats.insert("units_analyzed".into(), PyValue::from(total_i - num(metrics.get("errors"))));
    }
    stats.insert("processing_level".into(), inputs.processing_level.clone());
    stats.insert("costs".into(), PyValue::from(costs));
    stats.insert("durations".into(), PyValue::from(durations));
    stats.insert("skipped_steps".into(), inputs.today.skipped_steps.clone());

    let m = |k: &str| metrics.get(k).cloned().unwrap_or_else(|| PyValue::from(0));
    let mut results = PyObject::default();
    results.insert("vulnerable".into(), PyValue::from(findings.len()));
    results.insert("vulnerable_before_dedup".into(), PyValue::from(before));
    results.insert("deduplicated".into(), PyValue::from(before - findings.len()));
    results.insert("safe".into(), m("safe"));
    results.insert("protected".into(), m("protected"));
    results.insert("inconclusive".into(), m("inconclusive"));
    results.insert("errors".into(), PyValue::from((num(metrics.get("errors")) - overlap_error).max(0)));
    results.insert("needs_review".into(), PyValue::from((num(metrics.get("needs_review")) - overlap_needs).max(0)));
    results.insert("total".into(), total_units);

    let t = inputs.today;
    let mut doc = PyObject::default();
    doc.insert("repository".into(), inputs.repository.clone());
    doc.insert("analysis_date".into(), PyValue::Str(inputs.analysis_date.clone()));
    doc.insert("application_type".into(), inputs.application_type.clone());
    doc.extend(t.coverage_fields.iter().cloned());
    doc.insert("context_source".into(), t.context_source.clone());
    if let Some(sha) = t.threat_model_sha256.as_ref().filter(|s| truthy(s)) {
        doc.insert("threat_model_sha256".into(), sha.clone());
    }
    doc.insert("threat_model_warnings".into(), t.threat_model_warnings.clone());
    doc.extend(t.manual_fields.iter().cloned());
    doc.insert("pipeline_stats".into(), PyValue::from(stats));
    doc.insert("results".into(), PyValue::from(results));
    doc.insert("findings".into(), PyValue::Array(findings));
    if let Some(diff) = diff_block(inputs.diff_manifest, inputs.diff_filter_report)? {
        doc.insert("diff".into(), diff);
    }
    Ok((PyValue::from(doc), inexact))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sha256 computed by python3's hashlib, independently of this code.
    fn python_sha12(payload: &str) -> Option<String> {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode('utf-8')).hexdigest()[:12])",
                payload,
            ])
            .output()
            .ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    #[test]
    fn identity_key_matches_hashlib() {
        let cases: [(&str, &str, PyValue, &str); 6] = [
            ("src/db.py", "run_query", PyValue::from(89), "src/db.py|run_query|89"),
            ("unknown", "x", PyValue::Null, "unknown|x|0"),
            ("a.py", "Cls.m", PyValue::from("CWE-89"), "a.py|Cls.m|0"),
            ("a.py", "f", PyValue::from(" 7_9 "), "a.py|f|79"),
            ("a.py", "f", PyValue::Float(22.9), "a.py|f|22"),
            ("GET", "/ü", PyValue::Bool(true), "GET|/ü|1"),
        ];
        for (file, func, cwe, payload) in cases {
            let ours = identity_key(file, func, &cwe);
            assert_eq!(ours.len(), 12);
            if let Some(theirs) = python_sha12(payload) {
                assert_eq!(ours, theirs, "{payload}");
            }
        }
        // A literal derived by hand with `printf 'src/db.py|run_query|89' | sha256sum`.
        assert_eq!(
            identity_key("src/db.py", "run_query", &PyValue::from(89)),
            python_sha12("src/db.py|run_query|89").unwrap_or_else(|| identity_key(
                "src/db.py",
                "run_query",
                &PyValue::from(89)
            ))
        );
    }

    #[test]
    fn stage2_verdicts_today() {
        let o = |s: &str| pyjson::parse(s.as_bytes()).unwrap().as_object().unwrap().clone();
        assert_eq!(stage2_verdict(&o(r#"{"verification": {"agree": true}}"#)), PyValue::from("agreed"));
        assert_eq!(
            stage2_verdict(&o(r#"{"verification": {"incomplete": true}, "error": "x"}"#)),
            PyValue::from("unverified")
        );
        assert_eq!(
            stage2_verdict(&o(r#"{"verification": {"agree": false}, "finding": "bypassable"}"#)),
            PyValue::from("bypassable")
        );
        assert_eq!(
            stage2_verdict(&o(r#"{"verification": {"agree": false}, "finding": "safe"}"#)),
            PyValue::from("rejected")
        );
        assert_eq!(
            stage2_verdict(&o(r#"{"verification": "x", "finding": "vulnerable"}"#)),
            PyValue::from("vulnerable")
        );
        assert_eq!(stage2_verdict(&o(r#"{}"#)), PyValue::from("vulnerable"));
    }

    #[test]
    fn coerce_is_json_dumps() {
        let v = pyjson::parse(br#"{"type": "x", "n": [1, 2.5, null, "\u00e9"]}"#).unwrap();
        assert_eq!(coerce_to_str(&v), r#"{"type": "x", "n": [1, 2.5, null, "\u00e9"]}"#);
    }
}
