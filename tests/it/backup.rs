//! Backups: layout, manifest contents and hashes, refusals.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use scanaudit::atomic::accept_any;
use scanaudit::backup::{
    replace_with_backup, sha256_hex, BackupAction, BackupError, BackupMethod, BackupSession, Manifest,
};
use sha2::{Digest, Sha256};

fn json(b: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<serde::de::IgnoredAny>(b).map(|_| ()).map_err(|e| e.to_string())
}

/// A scan dir with a results file and a checkpoint.
fn scan_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("results.json"), b"{\"old\": true}").unwrap();
    std::fs::create_dir_all(d.path().join("analyze_checkpoints")).unwrap();
    std::fs::write(d.path().join("analyze_checkpoints/unit_1.json"), b"{\"id\": \"unit_1\"").unwrap();
    d
}

fn sessions(scan: &Path) -> Vec<PathBuf> {
    let backups = scan.join(".scanaudit/backups");
    let mut v: Vec<PathBuf> = match std::fs::read_dir(&backups) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

fn read_manifest(session: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(session.join("manifest.json")).unwrap()).unwrap()
}

fn is_timestamp_dir_name(name: &str) -> bool {
    // 20261126T101500Z, optionally followed by -N
    let (stamp, suffix) = match name.split_once('-') {
        Some((s, n)) => (s, Some(n)),
        None => (name, None),
    };
    let b = stamp.as_bytes();
    b.len() == 16
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && suffix.is_none_or(|n| n.parse::<u32>().is_ok())
}

#[test]
fn replace_backs_up_then_writes_and_records_hashes() {
    let d = scan_dir();
    let new = b"{\n  \"new\": true\n}";
    let r = replace_with_backup(
        d.path(),
        Path::new("results.json"),
        new,
        BackupAction::Regenerate,
        "results.json is truncated; rebuilt from analyze checkpoints",
        &json,
    )
    .unwrap();
    assert_eq!(std::fs::read(d.path().join("results.json")).unwrap(), new);
    assert!(r.outcome.replaced && r.outcome.durable);

    let s = sessions(d.path());
    assert_eq!(s.len(), 1);
    let name = s[0].file_name().unwrap().to_str().unwrap();
    assert!(is_timestamp_dir_name(name), "{name}");
    // The old bytes, under the same relative path.
    assert_eq!(std::fs::read(s[0].join("results.json")).unwrap(), b"{\"old\": true}");

    let m = read_manifest(&s[0]);
    assert!(m.complete);
    assert_eq!(m.scanaudit.format, 1);
    assert!(Path::new(&m.scan_dir).is_absolute(), "{}", m.scan_dir);
    assert_eq!(m.entries.len(), 1);
    let e = &m.entries[0];
    assert_eq!(e.path, "results.json");
    assert_eq!(e.backup_path, "results.json");
    assert_eq!(e.action, BackupAction::Regenerate);
    assert_eq!(e.method, BackupMethod::Copy);
    assert_eq!(e.reason, "results.json is truncated; rebuilt from analyze checkpoints");
    assert_eq!(e.bytes, 13);
    // Hashes computed independently.
    assert_eq!(e.old_sha256, format!("{:x}", Sha256::digest(b"{\"old\": true}")));
    assert_eq!(e.new_sha256.as_deref(), Some(format!("{:x}", Sha256::digest(new)).as_str()));
    assert_eq!(r.backup.as_ref().unwrap(), e);
    assert!(e.backed_up_at.ends_with('Z') && e.backed_up_at.contains('T'));

    // The raw manifest uses the documented field names and kebab-case actions.
    let raw: serde_json::Value = serde_json::from_slice(&std::fs::read(s[0].join("manifest.json")).unwrap()).unwrap();
    let entry = &raw["entries"][0];
    for key in ["path", "action", "reason", "old_sha256", "new_sha256", "bytes", "backed_up_at"] {
        assert!(entry.get(key).is_some(), "manifest entry lacks {key}: {entry}");
    }
    // Only the backup and the manifest are there; no temp files.
    let mut names: Vec<_> =
        std::fs::read_dir(&s[0]).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["manifest.json", "results.json"]);
}

#[test]
fn nested_paths_keep_their_relative_layout_and_torn_files_are_copied_byte_for_byte() {
    let d = scan_dir();
    // A torn file: a valid prefix then NULs, plus invalid UTF-8.
    let mut torn = b"{\"id\": \"unit_2\", \"code\": \"\xff\xfe".to_vec();
    torn.extend_from_slice(&[0u8; 5000]);
    std::fs::write(d.path().join("analyze_checkpoints/unit_2.json"), &torn).unwrap();
    std::fs::set_permissions(d.path().join("analyze_checkpoints/unit_2.json"), std::fs::Permissions::from_mode(0o640))
        .unwrap();

    let mut session = BackupSession::begin(d.path()).unwrap();
    let e = session
        .backup_file(Path::new("analyze_checkpoints/unit_2.json"), BackupAction::Quarantine, "torn checkpoint")
        .unwrap();
    // Absolute paths under the scan dir are accepted too.
    let abs = d.path().join("analyze_checkpoints/unit_1.json");
    let e1 = session.backup_file(&abs, BackupAction::Regenerate, "x").unwrap();
    let session_dir = session.session_dir().unwrap().to_path_buf();
    assert_eq!(session.finish().unwrap(), Some(session_dir.join("manifest.json")));

    let copy = session_dir.join("analyze_checkpoints/unit_2.json");
    assert_eq!(std::fs::read(&copy).unwrap(), torn);
    assert_eq!(std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777, 0o640);
    assert_eq!(e.path, "analyze_checkpoints/unit_2.json");
    assert_eq!(e.old_sha256, sha256_hex(&torn));
    assert_eq!(e.bytes, torn.len() as u64);
    assert_eq!(e.new_sha256, None);
    assert_eq!(e1.path, "analyze_checkpoints/unit_1.json");
    // The original stays (copy, not move).
    assert_eq!(std::fs::read(d.path().join("analyze_checkpoints/unit_2.json")).unwrap(), torn);
    let m = read_manifest(&session_dir);
    assert_eq!(m.entries.len(), 2);
    assert_eq!(m.entries[0].old_sha256, sha256_hex(&torn));
}

#[test]
fn move_file_quarantines() {
    let d = scan_dir();
    let before = std::fs::read(d.path().join("analyze_checkpoints/unit_1.json")).unwrap();
    let mut session = BackupSession::begin(d.path()).unwrap();
    let e = session
        .move_file(Path::new("analyze_checkpoints/unit_1.json"), BackupAction::Quarantine, "truncated checkpoint")
        .unwrap();
    let sd = session.session_dir().unwrap().to_path_buf();
    session.finish().unwrap();
    assert!(!d.path().join("analyze_checkpoints/unit_1.json").exists());
    assert_eq!(std::fs::read(sd.join("analyze_checkpoints/unit_1.json")).unwrap(), before);
    assert_eq!(e.method, BackupMethod::Move);
    assert_eq!(e.old_sha256, sha256_hex(&before));
}

#[test]
fn paths_outside_the_scan_dir_are_refused() {
    let d = scan_dir();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x.json"), b"{}").unwrap();
    let mut session = BackupSession::begin(d.path()).unwrap();
    for p in [
        PathBuf::from("../x.json"),
        PathBuf::from("analyze_checkpoints/../../x.json"),
        PathBuf::from("../../etc/passwd"),
        PathBuf::from(""),
        PathBuf::from("."),
        outside.path().join("x.json"),
        PathBuf::from("/etc/passwd"),
    ] {
        let err = session.backup_file(&p, BackupAction::Regenerate, "r").unwrap_err();
        assert!(matches!(err, BackupError::OutsideScanDir { .. }), "{}: {err}", p.display());
        let err = session.replace(&p, b"{}", BackupAction::Regenerate, "r", &json).unwrap_err();
        assert!(matches!(err, BackupError::OutsideScanDir { .. }), "{err}");
    }
    // scanaudit's own state is not backed up.
    std::fs::create_dir_all(d.path().join(".scanaudit")).unwrap();
    std::fs::write(d.path().join(".scanaudit/lock"), b"").unwrap();
    let err = session.backup_file(Path::new(".scanaudit/lock"), BackupAction::Migrate, "r").unwrap_err();
    assert!(matches!(err, BackupError::OwnState { .. }), "{err}");
    assert_eq!(session.finish().unwrap(), None);
    assert_eq!(sessions(d.path()), Vec::<PathBuf>::new());
    assert_eq!(std::fs::read(outside.path().join("x.json")).unwrap(), b"{}", "outside file untouched");
}

#[test]
fn symlinks_are_never_followed() {
    let d = scan_dir();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(elsewhere.path().join("secret.json"), b"{\"s\":1}").unwrap();
    // A symlinked file and a symlinked directory inside the scan dir.
    symlink(elsewhere.path().join("secret.json"), d.path().join("link.json")).unwrap();
    symlink(elsewhere.path(), d.path().join("linkdir")).unwrap();
    let mut session = BackupSession::begin(d.path()).unwrap();
    let err = session.backup_file(Path::new("link.json"), BackupAction::Regenerate, "r").unwrap_err();
    assert!(matches!(err, BackupError::Symlink { .. }), "{err}");
    let err = session.backup_file(Path::new("linkdir/secret.json"), BackupAction::Regenerate, "r").unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    let err =
        session.replace(Path::new("linkdir/secret.json"), b"{}", BackupAction::Regenerate, "r", &json).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read(elsewhere.path().join("secret.json")).unwrap(), b"{\"s\":1}");
    drop(session);

    // A symlinked .scanaudit must not redirect the backups.
    let d2 = scan_dir();
    symlink(elsewhere.path(), d2.path().join(".scanaudit")).unwrap();
    let err = replace_with_backup(d2.path(), Path::new("results.json"), b"{}", BackupAction::Regenerate, "r", &json)
        .unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read(d2.path().join("results.json")).unwrap(), b"{\"old\": true}", "no backup, no replacement");
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 1);
}

#[test]
fn fifo_is_refused_without_opening_it() {
    let d = scan_dir();
    let fifo = d.path().join("pipe.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut session = BackupSession::begin(d.path()).unwrap();
    let err = session.backup_file(Path::new("pipe.json"), BackupAction::Regenerate, "r").unwrap_err();
    assert!(matches!(err, BackupError::NotRegularFile { kind: "FIFO", .. }), "{err}");
}

#[test]
fn same_path_twice_in_a_session_and_two_sessions_in_one_second() {
    let d = scan_dir();
    let mut a = BackupSession::begin(d.path()).unwrap();
    a.replace(Path::new("results.json"), b"[1]", BackupAction::Regenerate, "first", &json).unwrap();
    let second =
        a.replace(Path::new("results.json"), b"[2]", BackupAction::Migrate, "second", &json).unwrap().backup.unwrap();
    assert_eq!(second.backup_path, "results.json.~2~");
    let sd = a.session_dir().unwrap().to_path_buf();
    a.finish().unwrap();
    assert_eq!(std::fs::read(sd.join("results.json")).unwrap(), b"{\"old\": true}");
    assert_eq!(std::fs::read(sd.join("results.json.~2~")).unwrap(), b"[1]");
    let m = read_manifest(&sd);
    assert_eq!(m.entries[1].old_sha256, sha256_hex(b"[1]"));
    assert_eq!(m.entries[1].new_sha256, Some(sha256_hex(b"[2]")));

    // Two more sessions right away: distinct directories (suffix when the second collides).
    for _ in 0..2 {
        replace_with_backup(
            d.path(),
            Path::new("results.json"),
            b"[3]",
            BackupAction::Regenerate,
            "again",
            &accept_any,
        )
        .unwrap();
    }
    let s = sessions(d.path());
    assert_eq!(s.len(), 3);
    for p in &s {
        assert!(is_timestamp_dir_name(p.file_name().unwrap().to_str().unwrap()));
        assert!(read_manifest(p).complete);
    }
}

#[test]
fn missing_target_is_created_without_backup_and_invalid_contents_change_nothing() {
    let d = scan_dir();
    let r = replace_with_backup(
        d.path(),
        Path::new("analyze_checkpoints/new.json"),
        b"{}",
        BackupAction::Regenerate,
        "missing output",
        &json,
    )
    .unwrap();
    assert!(r.backup.is_none());
    assert!(!r.outcome.replaced);
    // Nothing backed up, but the write is recorded (before it happened), so that the next run
    // knows the fresh file is scanaudit's own.
    let s = sessions(d.path());
    assert_eq!(s.len(), 1);
    let m = read_manifest(&s[0]);
    assert!(m.entries.is_empty(), "nothing backed up");
    assert_eq!(m.written.len(), 1);
    assert_eq!(m.written[0].path, "analyze_checkpoints/new.json");
    assert_eq!(m.written[0].sha256, scanaudit::backup::sha256_hex(b"{}"));
    std::fs::remove_dir_all(d.path().join(".scanaudit")).unwrap();

    // Invalid new contents: backup taken, target unchanged, manifest says not replaced.
    let err =
        replace_with_backup(d.path(), Path::new("results.json"), b"{\"new\":", BackupAction::Regenerate, "r", &json)
            .unwrap_err();
    assert!(matches!(err, BackupError::Atomic(_)), "{err}");
    assert_eq!(std::fs::read(d.path().join("results.json")).unwrap(), b"{\"old\": true}");
    let s = sessions(d.path());
    let m = read_manifest(&s[0]);
    assert_eq!(m.entries.len(), 1);
    assert_eq!(m.entries[0].new_sha256, None);
}

#[test]
fn dropped_session_leaves_an_incomplete_manifest() {
    let d = scan_dir();
    let mut s = BackupSession::begin(d.path()).unwrap();
    s.backup_file(Path::new("results.json"), BackupAction::Regenerate, "r").unwrap();
    let sd = s.session_dir().unwrap().to_path_buf();
    drop(s);
    let m = read_manifest(&sd);
    assert!(!m.complete);
    assert_eq!(m.entries.len(), 1);
}
