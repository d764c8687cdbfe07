//! Reading back the leading fields of an old `pipeline_output.json`, intact or cut anywhere
//! (spec §3.7, §4): the arguments `scan` passed are recorded nowhere else, so they are
//! recovered from whatever is left of the old file, with the one tokenizer of
//! [`crate::regen::salvage`].

use crate::pyjson::{self, PyValue};
use crate::regen::partial_json::{skip_ws, value_end, walk_members};

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
    walk_members(b, pos, |key, start| {
        let end = value_end(b, start);
        let value = end.and_then(|e| pyjson::parse(&b[start..e]).ok());
        let complete = value.is_some();
        out.push(Member { key, start, value });
        end.filter(|_| complete)
    });
    out
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(full.application_type, Some(PyValue::from("cli_tool")));
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
        assert_eq!(salvage_leading_fields(&z).application_type, Some(PyValue::from("cli_tool")));
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
