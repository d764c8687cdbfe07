//! Recovering what `scan` passed to `build_pipeline_output` and reading the inputs it built
//! from: [`rebuild_pipeline_output`] prefers the leading fields of the old
//! `pipeline_output.json` (intact or torn, see [`super::salvage`]) and falls back to the step
//! reports, `application_context.json`, `project.json` and `meta.json`, naming every field it
//! had to guess; then it builds the era's format ([`super::build`] or [`super::today`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Timelike, Utc};

use super::build::{
    build_pipeline_output, truthy_or_empty, unknown_value, BuildArgs, BuildInputs, PipelineEra,
    STEPS_BEFORE_BUILD_OUTPUT,
};
use super::salvage::{salvage_leading_fields, SalvagedPipeline};
use super::today;
use crate::pyjson::{self, PyObject, PyValue};
use crate::regen::json_input::JsonInput;
use crate::regen::py::truthy;
use crate::regen::{Inexact, InputUsed, OldOutput, Rebuilt, RegenError};

/// A file of the scan dir that an earlier repair step is about to write, as this rebuild reads
/// it instead of what is on disk.
pub enum Provided {
    /// Its document.
    Parsed(PyValue),
    /// How to read its document, called only if this rebuild reads the file: it reads one of
    /// the two results files, and parsing the other (the larger, results.json, on most scans)
    /// cost as much memory as its text three times over.
    OnDemand(Box<dyn FnOnce() -> Result<PyValue, String>>),
}

impl std::fmt::Debug for Provided {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Provided::Parsed(value) => f.debug_tuple("Parsed").field(value).finish(),
            Provided::OnDemand(_) => f.write_str("OnDemand"),
        }
    }
}

/// Options for [`rebuild_pipeline_output`].
#[derive(Debug, Default)]
pub struct PipelineOptions {
    /// The time used for `analysis_date` when it cannot be salvaged (default: now).
    pub now: Option<DateTime<Utc>>,
    pub old_output: OldOutput,
    /// Force an era instead of detecting it.
    pub era: Option<PipelineEra>,
    /// Files of the scan dir by name (`results.json`, `results_verified.json`) whose content an
    /// earlier repair step is about to write: used instead of what is on disk.
    pub provided: HashMap<String, Provided>,
    /// Build today's (identity-gate era) format ([`super::today`]).
    pub today: bool,
    /// The scan dir holds evidence that verify ran (its checkpoints, its step report, its
    /// output), as the caller judges it: without a step report naming build-output's input,
    /// the verified results are that input (spec §1.1, §1.3).
    pub verify_ran: bool,
}

struct Collector {
    scan_dir: PathBuf,
    inputs: Vec<InputUsed>,
    inexact: Vec<Inexact>,
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
        self.inexact.push(Inexact::new(field, reason));
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
pub fn rebuild_pipeline_output(scan_dir: &Path, mut opts: PipelineOptions) -> Result<Rebuilt, RegenError> {
    let mut c =
        Collector { scan_dir: scan_dir.to_path_buf(), inputs: Vec::new(), inexact: Vec::new(), notes: Vec::new() };

    // The old output, for its leading fields.
    let old_bytes = opts.old_output.read(
        scan_dir.join("pipeline_output.json"),
        "old pipeline_output.json (salvaged leading fields)",
        &mut c.inputs,
    );
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
    // Taken, not copied: the document of a results file is tens of MB of tree.
    let loaded_results = match opts.provided.remove(&results_name) {
        Some(Provided::Parsed(value)) => JsonInput::Parsed(value),
        Some(Provided::OnDemand(read)) => match read() {
            Ok(value) => JsonInput::Parsed(value),
            Err(why) => JsonInput::Unreadable(why),
        },
        None => JsonInput::load(&results_path),
    };
    // The other one is not read: freed now, not held through the build.
    drop(std::mem::take(&mut opts.provided));
    let experiment = match loaded_results {
        JsonInput::Parsed(v) => v,
        JsonInput::Absent => {
            return Err(RegenError::Input { path: results_path, reason: "missing (rebuild it first)".into() })
        }
        JsonInput::Unreadable(why) => {
            return Err(RegenError::Input {
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
                let mut o = PyObject::default();
                o.insert("step".into(), PyValue::Str(step.clone()));
                o.insert("status".into(), PyValue::from("unknown"));
                step_reports.push(PyValue::from(o));
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
                    PyValue::from("reachable")
                }
                (None, false) => {
                    c.inexact(
                        "pipeline_stats.processing_level",
                        "parse.report.json is unreadable; assumed the default \"reachable\"",
                    );
                    PyValue::from("reachable")
                }
            }
        }
    };

    // repository / language.
    let (repository, language, args_repo) = repository_from_sources(&mut c, &salvaged, &parse_report, sr);

    if opts.today {
        let old_tree = old_bytes.as_deref().and_then(crate::regen::lossless::salvage_tree);
        let old = |k: &str| match old_tree.as_ref().and_then(|t| t.member(k)) {
            Some(crate::regen::lossless::Node::Complete(v)) => Some(v),
            _ => None,
        };
        let summary = get_path(sr, &["summary"]);
        let from_scan = |k: &str| summary.and_then(|s| s.get(k)).cloned();
        let mut today = today::TodayArgs::default();
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
                PyValue::from("none")
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
                        let reason =
                            reasons.as_ref().and_then(|r| r.get(s)).cloned().unwrap_or_else(|| PyValue::from(""));
                        let mut o = PyObject::default();
                        o.insert("step".into(), PyValue::from(s.as_str()));
                        o.insert("reason".into(), reason);
                        PyValue::from(o)
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
                    None => PyValue::from("unknown"),
                }
            }
        };
        let repository = match repository {
            Some(r) => r,
            None => {
                let mut repo = PyObject::default();
                let name = match &args_repo.0 {
                    Some(n) if truthy(n) => n.clone(),
                    _ => experiment.get("dataset").cloned().unwrap_or_else(unknown_value),
                };
                repo.insert("name".into(), name);
                repo.insert("url".into(), truthy_or_empty(args_repo.1.as_ref()));
                repo.insert("language".into(), truthy_or_empty(language.as_ref()));
                repo.insert("commit_sha".into(), args_repo.2.clone());
                PyValue::from(repo)
            }
        };
        let inputs = today::TodayInputs {
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
        let (value, build_inexact) = today::build_today(&inputs)?;
        c.inexact.extend(build_inexact);
        let text = pyjson::to_python_string(&value, false).map_err(RegenError::from)?;
        let bytes = if salvaged.crlf { text.replace('\n', "\r\n") } else { text };
        return Ok(Rebuilt {
            value,
            bytes,
            inexact: c.inexact,
            missing_units: Vec::new(),
            inputs: c.inputs,
            notes: c.notes,
        });
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
    let text = pyjson::to_python_string(&value, false).map_err(RegenError::from)?;
    let bytes = if salvaged.crlf {
        c.notes.push("the old file used CRLF line breaks (a Windows text-mode write); kept".to_owned());
        text.replace('\n', "\r\n")
    } else {
        text
    };
    Ok(Rebuilt { value, bytes, inexact: c.inexact, missing_units: Vec::new(), inputs: c.inputs, notes: c.notes })
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
        return PyValue::from("web_app");
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
        return PyValue::from("web_app");
    }
    let ctx = c.load("application_context.json", "application_context.json (application type)");
    let from_file = ctx.value().and_then(PyValue::as_object).map(|o| o.get("application_type").cloned());
    match from_file {
        Some(v) => match v {
            Some(t) if truthy(&t) => t,
            _ => PyValue::from("web_app"),
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
                PyValue::from("web_app")
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
                crate::layout::LANGUAGES.contains(&dir).then(|| PyValue::from(dir))
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
    let name = repo_path.map(|p| PyValue::from(py_basename(p)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isoformat_omits_a_zero_fraction() {
        let t = DateTime::parse_from_rfc3339("2026-05-14T09:45:00.318274Z").unwrap().with_timezone(&Utc);
        assert_eq!(python_utc_isoformat(t), "2026-05-14T09:45:00.318274+00:00");
        let t = DateTime::parse_from_rfc3339("2026-05-14T09:45:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(python_utc_isoformat(t), "2026-05-14T09:45:00+00:00");
    }
}
