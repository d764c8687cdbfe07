//! A path's last component as layout compares it: a lossy UTF-8 `String`, so a name that is
//! not UTF-8 never equals an OpenAnt name.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::path::Path;

/// The last component of `path` (`""` for none, e.g. `..` or `/`).
pub fn file_name(path: &Path) -> String {
    path.file_name().map(|n| text_of(n).into_owned()).unwrap_or_default()
}

/// [`file_name`] without the copy when the name is UTF-8 (every name OpenAnt writes): what
/// the per-file classification compares, once or more for each of a tree's files.
pub fn name_of(path: &Path) -> Cow<'_, str> {
    path.file_name().map(text_of).unwrap_or_default()
}

/// `name` as text, lossily: `to_string_lossy`, but for the UTF-8 name (nearly every one)
/// by `str::from_utf8`, whose ASCII fast path is several times quicker than the lossy
/// decoder's walk through the name (issue 17). The same answer either way.
pub fn text_of(name: &OsStr) -> Cow<'_, str> {
    use std::os::unix::ffi::OsStrExt;
    match std::str::from_utf8(name.as_bytes()) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => name.to_string_lossy(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn text_is_the_lossy_text() {
        for name in
            [&b"results.json"[..], b"", "é😀.json".as_bytes(), b"a\xffb", b"\xe2\x82", b"\xed\xa0\x80x", b"\xc0\xaf"]
        {
            let name = OsStr::from_bytes(name);
            assert_eq!(text_of(name), name.to_string_lossy(), "{name:?}");
            let path = Path::new("dir").join(name);
            assert_eq!(name_of(&path), path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
            assert_eq!(
                file_name(&path),
                path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            );
        }
    }
}
