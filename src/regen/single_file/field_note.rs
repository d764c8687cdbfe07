//! A field of a converted or rebuilt output that could not be taken from the single-file
//! checkpoint as it is ([`FieldNote`]): what `convert` filled in or left out, and how the
//! OpenAnt version that wrote the file would have written the field differently
//! (`find::format_notes`).

/// A field that could not be taken from the legacy file: filled in, or left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldNote {
    pub field: String,
    pub note: String,
}
