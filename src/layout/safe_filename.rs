//! OpenAnt's checkpoint file naming (`utilities/safe_filename.py`, spec §2.2).

use sha2::{Digest, Sha256};

/// Longest stem kept verbatim; 233 = 255 - len(".json") - len("_") - 16 hex digits.
const MAX_STEM_CHARS: usize = 233;

/// The file stem OpenAnt gives the checkpoint of `unit_id` (append `.json` for the name).
///
/// Replacements happen in OpenAnt's order, and the length limit counts code points (Python
/// `len`), not bytes.
pub fn safe_filename(unit_id: &str) -> String {
    // One pass does what OpenAnt's two `replace` rounds do: the first only brings in `_`,
    // which the second leaves alone. Checked for every checkpoint, so no intermediate string.
    let mut replaced = String::with_capacity(unit_id.len() + 8);
    for c in unit_id.chars() {
        match c {
            '/' | '\\' => replaced.push_str("__"),
            ':' | ' ' => replaced.push('_'),
            other => replaced.push(other),
        }
    }
    if replaced.chars().count() <= MAX_STEM_CHARS {
        return replaced;
    }
    let mut stem: String = replaced.chars().take(MAX_STEM_CHARS).collect();
    stem.push('_');
    stem.push_str(&id_hash16(unit_id));
    stem
}

/// The file name OpenAnt writes the checkpoint of `unit_id` to.
pub fn checkpoint_file_name(unit_id: &str) -> String {
    let mut name = safe_filename(unit_id);
    name.push_str(".json");
    name
}

/// Whether `name` is a correct checkpoint file name for `unit_id`: the bare
/// `safe_filename(id).json`, or (identity-gate era, #317) the name OpenAnt gives a unit whose
/// bare name collides case-insensitively with another unit's:
/// `<safe_filename(id) cut to 233 chars>_<sha256(id)[:16]>.json`. Once used, that name sticks,
/// so both are accepted for every id. The one place the accepted names are defined.
pub fn is_checkpoint_name_for(name: &str, unit_id: &str) -> bool {
    let Some(stem) = name.strip_suffix(".json") else { return false };
    // Check asks this of every checkpoint, and nearly all are named right: the bare name is
    // compared with the id as it goes, with no string made (issue 17).
    if is_uncut_safe_filename(stem, unit_id) {
        return true;
    }
    let safe = safe_filename(unit_id);
    if stem == safe {
        return true;
    }
    let mut disambiguated: String = safe.chars().take(MAX_STEM_CHARS).collect();
    disambiguated.push('_');
    disambiguated.push_str(&id_hash16(unit_id));
    stem == disambiguated
}

/// Whether `stem` is `safe_filename(unit_id)` where that keeps the whole id: a false answer
/// leaves the question open. The replaced characters are ASCII, so byte for byte.
fn is_uncut_safe_filename(stem: &str, unit_id: &str) -> bool {
    // Each byte of the id gives at most two of the stem, and the stem is cut only past
    // MAX_STEM_CHARS code points, which are at least as many bytes.
    if unit_id.len() * 2 > MAX_STEM_CHARS {
        return false;
    }
    let mut rest = stem.as_bytes();
    for &b in unit_id.as_bytes() {
        let expected: &[u8] = match b {
            b'/' | b'\\' => b"__",
            b':' | b' ' => b"_",
            _ => std::slice::from_ref(&b),
        };
        match rest.strip_prefix(expected) {
            Some(after) => rest = after,
            None => return false,
        }
    }
    rest.is_empty()
}

/// The first 16 hex digits of sha256(unit_id).
fn id_hash16(unit_id: &str) -> String {
    Sha256::digest(unit_id.as_bytes())[..8].iter().map(|b| format!("{b:02x}")).collect()
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
    fn one_pass_is_openant_two_replaces() {
        for id in ["", "a/b\\c:d e", "//::  \\\\", "_/_:_", "é/ü:ß x", "a\\/b: :c", "plain.py"] {
            let two_rounds = id.replace(['/', '\\'], "__").replace([':', ' '], "_");
            assert_eq!(safe_filename(id), two_rounds, "{id:?}");
        }
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
    fn case_collision_names_are_accepted() {
        let id = "src/App.py:f";
        let hash: String = Sha256::digest(id.as_bytes())[..8].iter().map(|b| format!("{b:02x}")).collect();
        assert!(is_checkpoint_name_for("src__App.py_f.json", id));
        assert!(is_checkpoint_name_for(&format!("src__App.py_f_{hash}.json"), id));
        // Another id's hash, or the hash without the stem, is not this unit's name.
        assert!(!is_checkpoint_name_for(&format!("src__app.py_f_{hash}.json"), "src/app.py:f"));
        assert!(!is_checkpoint_name_for(&format!("{hash}.json"), id));
        assert!(!is_checkpoint_name_for("src__App.py_f_0123456789abcdef.json", id));
        assert!(!is_checkpoint_name_for("src__App.py_f", id));
        // A long id: the stem is cut to 233 code points before the suffix.
        let long = format!("src/{}:f", "x".repeat(300));
        let h: String = Sha256::digest(long.as_bytes())[..8].iter().map(|b| format!("{b:02x}")).collect();
        let cut: String = safe_filename(&long).chars().take(233).collect();
        assert!(is_checkpoint_name_for(&format!("{cut}_{h}.json"), &long));
        assert!(is_checkpoint_name_for(&checkpoint_file_name(&long), &long));
    }

    /// The names accepted before the bare name was compared without making it: the oracle.
    fn reference_is_checkpoint_name_for(name: &str, unit_id: &str) -> bool {
        let Some(stem) = name.strip_suffix(".json") else { return false };
        let safe = safe_filename(unit_id);
        if stem == safe {
            return true;
        }
        let mut disambiguated: String = safe.chars().take(MAX_STEM_CHARS).collect();
        disambiguated.push('_');
        disambiguated.push_str(&id_hash16(unit_id));
        stem == disambiguated
    }

    proptest::proptest! {
        #[test]
        fn the_accepted_names_are_the_ones_accepted_before(
            id in "[a/\\\\: _é.]{0,130}",
            tweak in proptest::option::of((proptest::num::usize::ANY, "[a/\\\\: _é.]{0,2}")),
        ) {
            let mut names = vec![checkpoint_file_name(&id), format!("{}_{}.json", safe_filename(&id).chars().take(MAX_STEM_CHARS).collect::<String>(), id_hash16(&id)), safe_filename(&id)];
            if let Some((at, insert)) = tweak {
                let mut name = checkpoint_file_name(&id);
                let at = name.char_indices().map(|(i, _)| i).nth(at % name.chars().count().max(1)).unwrap_or(0);
                name.insert_str(at, &insert);
                names.push(name);
            }
            for name in &names {
                proptest::prop_assert_eq!(is_checkpoint_name_for(name, &id), reference_is_checkpoint_name_for(name, &id), "{:?} {:?}", name, id);
            }
        }
    }

    #[test]
    fn boundary_is_inclusive() {
        let id = "x".repeat(233);
        assert_eq!(safe_filename(&id), id);
        let id = "x".repeat(234);
        assert_eq!(safe_filename(&id).chars().count(), 250);
    }
}
