//! Handing checkpoint values over to a rebuilt document without copying them: a value is
//! cloned while a later unit of the same rebuild still reads its file (two units with the same
//! id restore from one file), and moved out of the set on the file's last use. Nothing reads
//! a moved member afterwards: the rebuilds that use this read only a file's name, id and
//! untouched members once they are done with it (issue 17: the copies doubled repair's peak
//! memory).

use super::checkpoints::{CheckpointSet, LoadedFile};
use crate::pyjson::PyValue;

/// How many more times each file of a set is read by the rebuild.
pub(crate) struct Uses(Vec<u32>);

impl Uses {
    /// The count of every file of `set` that `reads` names (by index, once per read).
    pub(crate) fn count(set: &CheckpointSet, reads: impl Iterator<Item = usize>) -> Uses {
        let mut uses = vec![0; set.files.len()];
        for file in reads {
            uses[file] += 1;
        }
        Uses(uses)
    }

    /// Records one read of `file`: true when no other read of it follows.
    pub(crate) fn last(&mut self, file: usize) -> bool {
        self.0[file] = self.0[file].saturating_sub(1);
        self.0[file] == 0
    }
}

/// The index in `set.files` of a file that one of `set`'s lookups returned.
/// `file` must be an element of `set.files` (the lookups return nothing else); that is
/// asserted, so a misuse stops here rather than moving another unit's value.
pub(crate) fn index_of(set: &CheckpointSet, file: &LoadedFile) -> usize {
    let offset = (file as *const LoadedFile as usize).wrapping_sub(set.files.as_ptr() as usize);
    let index = offset / std::mem::size_of::<LoadedFile>();
    assert!(
        set.files.get(index).is_some_and(|f| std::ptr::eq(f, file)),
        "index_of: {} is not a file of this checkpoint set",
        file.name
    );
    index
}

/// Member `key` of a checkpoint's data: moved out (a null left in its place) on the file's
/// `last` read, cloned before it.
pub(crate) fn take_member(data: &mut PyValue, key: &str, last: bool) -> Option<PyValue> {
    let value = data.get_mut(key)?;
    Some(if last { std::mem::replace(value, PyValue::Null) } else { value.clone() })
}

/// The merged rows: row `i` becomes the row its winner names (`winners[i]`), itself when it
/// has none. Every row is taken once, moved: a row without a winner is no candidate, so no
/// other row reads it, and a winner is copied for all but the last row it stands for. `rows`
/// is left with nulls where rows were moved out.
pub(crate) fn merge_rows(rows: &mut [PyValue], winners: Vec<Option<usize>>) -> Vec<PyValue> {
    let mut uses = vec![0u32; rows.len()];
    for &c in winners.iter().flatten() {
        uses[c] += 1;
    }
    let mut merged = Vec::with_capacity(rows.len());
    for (i, winner) in winners.into_iter().enumerate() {
        let source = winner.unwrap_or(i);
        uses[source] = uses[source].saturating_sub(1);
        merged.push(if uses[source] == 0 {
            std::mem::replace(&mut rows[source], PyValue::Null)
        } else {
            rows[source].clone()
        });
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::CheckpointStep;

    fn set() -> CheckpointSet {
        let file = |id: &str| {
            (format!("{id}.json"), Ok(format!(r#"{{"id": "{id}", "result": {{"verdict": "SAFE"}}}}"#).into_bytes()))
        };
        CheckpointSet::from_files(CheckpointStep::Analyze, vec![file("a"), file("b"), file("c")])
    }

    #[test]
    fn a_lookup_gives_its_index_and_the_last_read_moves() {
        let mut set = set();
        let b = index_of(&set, set.get("b").unwrap());
        assert_eq!(set.files[b].name, "b.json");
        let mut uses = Uses::count(&set, [b, b].into_iter());
        let first = uses.last(b);
        assert_eq!(take_member(&mut set.files[b].data, "result", first), set.files[b].data.get("result").cloned());
        let last = uses.last(b);
        assert!(last);
        assert!(take_member(&mut set.files[b].data, "result", last).is_some());
        assert_eq!(set.files[b].data.get("result"), Some(&PyValue::Null), "moved out on the last read");
    }

    #[test]
    fn merged_rows_take_their_winner_moving_it_on_its_last_use() {
        let mut rows: Vec<PyValue> = (0..4).map(PyValue::from).collect();
        // Rows 0 and 2 stand for row 2; row 1 for itself; row 3 has no winner.
        let merged = merge_rows(&mut rows, vec![Some(2), Some(1), Some(2), None]);
        assert_eq!(merged, [2, 1, 2, 3].map(PyValue::from));
        assert_eq!(rows, [PyValue::from(0), PyValue::Null, PyValue::Null, PyValue::Null]);
    }

    #[test]
    #[should_panic(expected = "is not a file of this checkpoint set")]
    fn a_file_from_elsewhere_is_refused() {
        let set = set();
        let copy = set.files[1].clone();
        index_of(&set, &copy);
    }
}
