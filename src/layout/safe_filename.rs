//! OpenAnt's checkpoint file naming (`utilities/safe_filename.py`, spec §2.2).

use sha2::{Digest, Sha256};

/// Longest stem kept verbatim; 233 = 255 - len(".json") - len("_") - 16 hex digits.
const MAX_STEM_CHARS: usize = 233;

/// The file stem OpenAnt gives the checkpoint of `unit_id` (append `.json` for the name).
///
/// Replacements happen in OpenAnt's order, and the length limit counts code points (Python
/// `len`), not bytes.
pub fn safe_filename(unit_id: &str) -> String {
    let replaced = unit_id.replace(['/', '\\'], "__").replace([':', ' '], "_");
    if replaced.chars().count() <= MAX_STEM_CHARS {
        return replaced;
    }
    let digest = Sha256::digest(unit_id.as_bytes());
    let mut stem: String = replaced.chars().take(MAX_STEM_CHARS).collect();
    stem.push('_');
    for byte in &digest[..8] {
        stem.push_str(&format!("{byte:02x}"));
    }
    stem
}

/// The file name OpenAnt writes the checkpoint of `unit_id` to.
pub fn checkpoint_file_name(unit_id: &str) -> String {
    let mut name = safe_filename(unit_id);
    name.push_str(".json");
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(checkpoint_file_name("src/app.py:Foo.bar baz"), "src__app.py_Foo.bar_baz.json");
        assert_eq!(checkpoint_file_name("GET:/api/users/:id"), "GET___api__users___id.json");
        assert_eq!(safe_filename(r"a\b"), "a__b");
    }

    #[test]
    fn keeps_other_characters() {
        assert_eq!(safe_filename("a<b>|c?*\"é"), "a<b>|c?*\"é");
    }

    #[test]
    fn long_ids_are_cut_at_233_code_points_and_hashed() {
        let id = format!("src/{}:f", "é".repeat(300));
        let stem = safe_filename(&id);
        assert_eq!(stem.chars().count(), 250);
        let (head, hash) = stem.rsplit_once('_').unwrap();
        assert_eq!(head.chars().count(), 233);
        assert_eq!(hash.len(), 16);
        // sha256 of the *original* id, not of the replaced one.
        let expected = Sha256::digest(id.as_bytes());
        let expected_hex: String = expected[..8].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hash, expected_hex);
    }

    #[test]
    fn boundary_is_inclusive() {
        let id = "x".repeat(233);
        assert_eq!(safe_filename(&id), id);
        let id = "x".repeat(234);
        assert_eq!(safe_filename(&id).chars().count(), 250);
    }
}
