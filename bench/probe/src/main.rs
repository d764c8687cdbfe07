//! The bare floor for `scanaudit check` on a tree: walk (no sort, no symlink following),
//! read every regular file whole and parse every `.json` one with serde_json into
//! `IgnoredAny`, on all cores. Nothing is classified, checked or reported: whatever check
//! does beyond this is what `bench/check.py tree` reports as the ratio.
//!
//! Usage: check-probe DIR... ; prints files, bytes and how many JSON files did not parse.

use rayon::prelude::*;
use serde::de::IgnoredAny;

fn main() {
    let mut paths = Vec::new();
    for root in std::env::args_os().skip(1) {
        for entry in walkdir::WalkDir::new(root).follow_links(false).same_file_system(true) {
            let Ok(entry) = entry else { continue };
            if entry.file_type().is_file() {
                paths.push(entry.into_path());
            }
        }
    }
    let (bytes, bad) = paths
        .par_iter()
        .map(|path| {
            let Ok(data) = std::fs::read(path) else { return (0, 1) };
            let json = path.extension().is_some_and(|e| e == "json");
            let bad = json && serde_json::from_slice::<IgnoredAny>(&data).is_err();
            (data.len() as u64, u64::from(bad))
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    println!("{} files, {bytes} bytes, {bad} JSON files did not parse", paths.len());
}
