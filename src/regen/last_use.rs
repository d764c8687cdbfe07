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
pub(crate) fn index_of(set: &CheckpointSet, file: &LoadedFile) -> usize {
    let offset = file as *const LoadedFile as usize - set.files.as_ptr() as usize;
    offset / std::mem::size_of::<LoadedFile>()
}

/// Member `key` of a checkpoint's data: moved out (a null left in its place) on the file's
/// `last` read, cloned before it.
pub(crate) fn take_member(data: &mut PyValue, key: &str, last: bool) -> Option<PyValue> {
    let value = data.get_mut(key)?;
    Some(if last { std::mem::replace(value, PyValue::Null) } else { value.clone() })
}
