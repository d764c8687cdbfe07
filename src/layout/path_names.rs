//! A path's last component as layout compares it: a lossy UTF-8 `String`, so a name that is
//! not UTF-8 never equals an OpenAnt name.

use std::borrow::Cow;
use std::path::Path;

/// The last component of `path` (`""` for none, e.g. `..` or `/`).
pub fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// [`file_name`] without the copy when the name is UTF-8 (every name OpenAnt writes): what
/// the per-file classification compares, once or more for each of a tree's files.
pub fn name_of(path: &Path) -> Cow<'_, str> {
    path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
}
