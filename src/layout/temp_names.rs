//! Recognising the temp files every known writer leaves behind when it is killed mid-write
//! (spec §4 and anchors §B). Recognition is by name only; `clean` adds its own safety checks.

use serde::Serialize;

/// Who left a temp file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TempWriter {
    /// Fix-branch OpenAnt `atomic_write_json`: `.tmp-<target>-XXXXXXXX.json`.
    OpenAnt,
    /// Today's OpenAnt `utilities/file_io.write_json` (identity-gate era, PR #96):
    /// `.tmp-XXXXXXXX.tmp`. The name does not say the target; its content and directory do.
    WriteJson,
    /// The fork's `core/utils.atomic_write_json`: `tmpXXXXXXXX.tmp`.
    OpenAntFork,
    /// Go `SaveScanMeta`: `meta.json.tmp.<digits>`.
    GoScanMeta,
    /// Rust `tempfile`: `.tmpXXXXXX`.
    Tempfile,
    /// Rust `atomic-write-file`: `.<target>.XXXXXX`.
    AtomicWriteFile,
    /// Rust `atomicwrites`: a `.atomicwriteXXXXXX/` directory.
    AtomicWrites,
    /// scanaudit's own writer: `.<target>.scanaudit-XXXXXX.tmp`.
    Scanaudit,
}

impl TempWriter {
    pub fn describe(self) -> &'static str {
        match self {
            TempWriter::OpenAnt => "OpenAnt's atomic writer",
            TempWriter::WriteJson => "OpenAnt's write_json (identity-gate era)",
            TempWriter::OpenAntFork => "the OpenAnt fork's atomic writer",
            TempWriter::GoScanMeta => "the OpenAnt Go CLI (meta.json)",
            TempWriter::Tempfile => "the Rust tempfile crate",
            TempWriter::AtomicWriteFile => "the Rust atomic-write-file crate",
            TempWriter::AtomicWrites => "the Rust atomicwrites crate",
            TempWriter::Scanaudit => "scanaudit",
        }
    }
}

/// A recognised temp name: who wrote it and, where the name says, for which target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempName {
    pub writer: TempWriter,
    /// The file name of the target in the same directory, when the name carries it.
    pub target: Option<String>,
}

/// Characters `tempfile.mkstemp` draws from.
fn is_mkstemp_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
}

fn all(s: &str, pred: impl Fn(u8) -> bool) -> bool {
    s.bytes().all(pred)
}

/// The temp today's `utilities/file_io.write_json` leaves when killed: `mkstemp(prefix=".tmp-",
/// suffix=".tmp")`, 8 characters of mkstemp's alphabet `[a-z0-9_]`.
pub fn is_write_json_temp(name: &str) -> bool {
    name.strip_prefix(".tmp-")
        .and_then(|n| n.strip_suffix(".tmp"))
        .is_some_and(|r| r.len() == 8 && all(r, is_mkstemp_char))
}

/// Recognises a temp *file* name. `target_exists` tells whether a sibling of the given name
/// exists; it disambiguates atomic-write-file's `.<name>.XXXXXX`, which is otherwise the shape
/// of many ordinary dotfiles (`.eslintrc.backup`).
pub fn recognise_file(name: &str, target_exists: &dyn Fn(&str) -> bool) -> Option<TempName> {
    // Ours first: `.<target>.scanaudit-XXXXXX.tmp`.
    if let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) {
        if let Some((target, rand)) = inner.rsplit_once(".scanaudit-") {
            if !target.is_empty() && rand.len() == 6 && all(rand, |b| b.is_ascii_alphanumeric()) {
                return Some(TempName { writer: TempWriter::Scanaudit, target: Some(target.to_string()) });
            }
        }
    }
    // Today's OpenAnt: `.tmp-XXXXXXXX.tmp`.
    if is_write_json_temp(name) {
        return Some(TempName { writer: TempWriter::WriteJson, target: None });
    }
    // OpenAnt: `.tmp-<target>-XXXXXXXX.json`.
    if let Some(inner) = name.strip_prefix(".tmp-").and_then(|n| n.strip_suffix(".json")) {
        if let Some((target, rand)) = inner.rsplit_once('-') {
            if !target.is_empty() && rand.len() == 8 && all(rand, is_mkstemp_char) {
                return Some(TempName { writer: TempWriter::OpenAnt, target: Some(target.to_string()) });
            }
        }
    }
    // The fork: `tmpXXXXXXXX.tmp`.
    if let Some(rand) = name.strip_prefix("tmp").and_then(|n| n.strip_suffix(".tmp")) {
        if rand.len() == 8 && all(rand, is_mkstemp_char) {
            return Some(TempName { writer: TempWriter::OpenAntFork, target: None });
        }
    }
    // Go: `meta.json.tmp.<1-10 digits>` (os.CreateTemp replaces `*` with a decimal number).
    if let Some(digits) = name.strip_prefix("meta.json.tmp.") {
        if (1..=10).contains(&digits.len()) && all(digits, |b| b.is_ascii_digit()) {
            return Some(TempName { writer: TempWriter::GoScanMeta, target: Some("meta.json".into()) });
        }
    }
    // tempfile: `.tmpXXXXXX`.
    if let Some(rand) = name.strip_prefix(".tmp") {
        if rand.len() == 6 && all(rand, |b| b.is_ascii_alphanumeric()) {
            return Some(TempName { writer: TempWriter::Tempfile, target: None });
        }
    }
    // atomic-write-file: `.<target>.XXXXXX`, accepted only for a plausible target.
    if let Some(inner) = name.strip_prefix('.') {
        if let Some((target, rand)) = inner.rsplit_once('.') {
            if !target.is_empty()
                && rand.len() == 6
                && all(rand, |b| b.is_ascii_alphanumeric())
                && (has_output_extension(target) || target_exists(target))
            {
                return Some(TempName { writer: TempWriter::AtomicWriteFile, target: Some(target.to_string()) });
            }
        }
    }
    None
}

/// Recognises atomicwrites' temp *directory* `.atomicwriteXXXXXX`.
pub fn recognise_dir(name: &str) -> Option<TempName> {
    let rand = name.strip_prefix(".atomicwrite")?;
    (rand.len() == 6 && all(rand, |b| b.is_ascii_alphanumeric()))
        .then_some(TempName { writer: TempWriter::AtomicWrites, target: None })
}

fn has_output_extension(name: &str) -> bool {
    [".json", ".md", ".csv", ".html", ".sarif"].iter().any(|ext| name.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str) -> Option<TempName> {
        recognise_file(name, &|_| false)
    }

    fn writer(name: &str) -> Option<TempWriter> {
        rec(name).map(|t| t.writer)
    }

    #[test]
    fn every_writer_is_recognised_with_its_target() {
        let t = rec(".tmp-results.json-k3j_a9xq.json").unwrap();
        assert_eq!((t.writer, t.target.as_deref()), (TempWriter::OpenAnt, Some("results.json")));
        let t = rec(".tmp-experiment_a-b_c.json-abcdefgh.json").unwrap();
        assert_eq!(t.target.as_deref(), Some("experiment_a-b_c.json"));
        assert_eq!(writer("tmpk3j_a9xq.tmp"), Some(TempWriter::OpenAntFork));
        let t = rec("meta.json.tmp.1234567890").unwrap();
        assert_eq!((t.writer, t.target.as_deref()), (TempWriter::GoScanMeta, Some("meta.json")));
        assert_eq!(writer(".tmpsMsY7U"), Some(TempWriter::Tempfile));
        let t = rec(".awf.json.itnV9u").unwrap();
        assert_eq!((t.writer, t.target.as_deref()), (TempWriter::AtomicWriteFile, Some("awf.json")));
        let t = rec(".results.json.scanaudit-Ab12Cd.tmp").unwrap();
        assert_eq!((t.writer, t.target.as_deref()), (TempWriter::Scanaudit, Some("results.json")));
        assert_eq!(recognise_dir(".atomicwrite8ldufS").map(|t| t.writer), Some(TempWriter::AtomicWrites));
        let t = rec(".tmp-k3j_a9xq.tmp").unwrap();
        assert_eq!((t.writer, t.target), (TempWriter::WriteJson, None));
    }

    #[test]
    fn near_misses_are_not_temps() {
        for name in [
            "results.json",
            ".tmp-results.json-K3J_A9XQ.json", // mkstemp never uses upper case
            ".tmp-results.json-short.json",
            "tmpk3j_a9x.tmp",
            "meta.json.tmp.",
            "meta.json.tmp.12345678901",
            "meta.json.tmp.12a",
            ".tmp",
            ".tmpabc",
            ".eslintrc.backup", // atomic-write-file shape, but no such target and not an output name
            ".results.json.scanaudit-Ab12C.tmp",
            "_summary.json",
            ".gitignore",
            ".tmp-K3J_A9XQ.tmp",
            ".tmp-k3j_a9x.tmp",
        ] {
            assert_eq!(rec(name), None, "{name}");
        }
        assert_eq!(recognise_dir(".atomicwrite"), None);
        assert_eq!(recognise_dir("atomicwrite8ldufS"), None);
    }

    #[test]
    fn atomic_write_file_shape_needs_a_plausible_target() {
        assert_eq!(
            recognise_file(".eslintrc.backup", &|t| t == "eslintrc").map(|t| t.writer),
            Some(TempWriter::AtomicWriteFile)
        );
        assert_eq!(writer(".pipeline_output.json.Xy12Ab"), Some(TempWriter::AtomicWriteFile));
    }
}
