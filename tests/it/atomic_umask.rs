//! New files get `0666 & !umask`. Changes the process umask, so it runs alone in its own
//! process.

use std::os::unix::fs::PermissionsExt;

use scanaudit::atomic::{accept_any, write_atomic};
use scanaudit::fsx::current_umask;

#[test]
fn new_file_mode_follows_umask() {
    crate::common::alone!(new_file_mode_follows_umask);
    let d = tempfile::tempdir().unwrap();
    // SAFETY: umask cannot fail; restored at the end.
    let original = unsafe { libc::umask(0o022) };
    for (mask, expected) in [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600), (0o002, 0o664)] {
        // SAFETY: as above.
        unsafe { libc::umask(mask) };
        assert_eq!(current_umask(), mask, "umask as read by scanaudit");
        let t = d.path().join(format!("new-{mask:o}.json"));
        let out = write_atomic(&t, b"{}", &accept_any).unwrap();
        let mode = std::fs::metadata(&t).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, expected, "umask {mask:o}");
        assert_eq!(out.mode, expected);
    }
    // SAFETY: as above.
    unsafe { libc::umask(original) };
}
