//! How a path is written in `--format json`, the same in every verb's document. A path is a
//! string (`"path": "..."`); a path that is not valid UTF-8 (a Unix file name may be any bytes)
//! gets its lossy form there (each invalid byte as U+FFFD) and, beside it, the exact bytes in
//! standard base64 (`"path_bytes": "..."`), the way ripgrep's JSON carries such names. So the
//! document is always complete and valid, a UTF-8 path reads as it always has, and a program
//! can recover any path exactly.
//!
//! Each path field is declared `#[serde(flatten, serialize_with = "json_path::KEY")]`: the
//! function writes the key and, when needed, `KEY_bytes`.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::ser::{SerializeMap, Serializer};

/// Writes `key` (the lossy string, or `null`) and, for a path that is not UTF-8, `key_bytes`.
fn fields<S: Serializer>(
    s: S,
    key: &'static str,
    bytes_key: &'static str,
    path: Option<&Path>,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(None)?;
    match path {
        None => map.serialize_entry(key, &None::<&str>)?,
        Some(path) => {
            map.serialize_entry(key, &path.to_string_lossy())?;
            if path.to_str().is_none() {
                map.serialize_entry(bytes_key, &base64(path.as_os_str().as_bytes()))?;
            }
        }
    }
    map.end()
}

macro_rules! path_fields {
    ($($name:ident, $opt_name:ident => $key:literal;)*) => {$(
        #[doc = concat!("`\"", $key, "\"` (and `\"", $key, "_bytes\"` when not UTF-8).")]
        pub fn $name<S: Serializer, P: AsRef<Path>>(path: &P, s: S) -> Result<S::Ok, S::Error> {
            fields(s, $key, concat!($key, "_bytes"), Some(path.as_ref()))
        }

        #[doc = concat!("`\"", $key, "\"`, `null` when absent (and `\"", $key, "_bytes\"` when not UTF-8).")]
        pub fn $opt_name<S: Serializer, P: AsRef<Path>>(path: &Option<P>, s: S) -> Result<S::Ok, S::Error> {
            fields(s, $key, concat!($key, "_bytes"), path.as_ref().map(AsRef::as_ref))
        }
    )*};
}

path_fields! {
    path, opt_path => "path";
    scan_dir, opt_scan_dir => "scan_dir";
    target, opt_target => "target";
    source, opt_source => "source";
    backup_dir, opt_backup_dir => "backup_dir";
}

/// Each root as given on the command line: a string, lossy for a name that is not UTF-8, whose
/// bytes the document's `roots_bytes` holds (see [`roots_bytes`]).
pub fn roots(roots: &[std::path::PathBuf]) -> Vec<String> {
    roots.iter().map(|r| r.to_string_lossy().into_owned()).collect()
}

/// `roots_bytes`: per root, the base64 of its bytes when it is not UTF-8, else `null`; `None`
/// (the key is left out) when every root is UTF-8.
pub fn roots_bytes(roots: &[std::path::PathBuf]) -> Option<Vec<Option<String>>> {
    roots
        .iter()
        .any(|r| r.to_str().is_none())
        .then(|| roots.iter().map(|r| r.to_str().is_none().then(|| base64(r.as_os_str().as_bytes()))).collect())
}

/// Standard base64 (RFC 4648 §4, with padding), what ripgrep's JSON uses for such bytes.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::path::PathBuf;

    #[test]
    fn base64_is_rfc_4648() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected, "{input}");
        }
        assert_eq!(base64(b"\xff\xfe\x00"), "//4A");
    }

    #[derive(serde::Serialize)]
    struct Row {
        #[serde(flatten, serialize_with = "path")]
        path: PathBuf,
        #[serde(flatten, serialize_with = "opt_source")]
        source: Option<PathBuf>,
        n: u32,
    }

    #[test]
    fn a_utf8_path_is_a_plain_string_and_any_other_gets_its_bytes() {
        let row = Row { path: PathBuf::from("/s/results.json"), source: None, n: 1 };
        assert_eq!(serde_json::to_string(&row).unwrap(), r#"{"path":"/s/results.json","source":null,"n":1}"#);
        let odd = PathBuf::from(OsStr::from_bytes(b"/s/results\xff.json"));
        let row = Row { path: odd.clone(), source: Some(odd), n: 2 };
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"{"path":"/s/results\ufffd.json","path_bytes":"L3MvcmVzdWx0c/8uanNvbg==","source":"/s/results\ufffd.json","source_bytes":"L3MvcmVzdWx0c/8uanNvbg==","n":2}"#
                .replace("\\ufffd", "\u{fffd}")
        );
    }
}
