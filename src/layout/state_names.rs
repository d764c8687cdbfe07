//! The names scanaudit gives its own state: the `.scanaudit/` directory in a scan dir (backups,
//! the per-scan-dir lock, clean's lock when there is no runtime dir) and the runtime-dir lock.
//! Nothing OpenAnt reads lives there; the walk reports backups instead of validating them, and
//! no writer backs up or repairs anything under it.

/// scanaudit's own state directory inside a scan dir (or a clean root).
pub const STATE_DIR: &str = ".scanaudit";
/// The backups directory inside [`STATE_DIR`]; one `<UTC stamp>` folder per writing run.
pub const BACKUPS_DIR: &str = "backups";
/// How a backup folder's name spells the time its run started (UTC), optionally followed by
/// `-N` when two runs started in the same second.
pub const BACKUP_STAMP_FORMAT: &str = "%Y%m%dT%H%M%SZ";
/// The per-scan-dir lock inside [`STATE_DIR`], held while repair or migrate works there.
pub const SCAN_DIR_LOCK_NAME: &str = "lock";
/// clean's single-instance lock file, in [`RUNTIME_DIR_NAME`] under `$XDG_RUNTIME_DIR` or in
/// the first root's [`STATE_DIR`].
pub const CLEAN_LOCK_NAME: &str = "clean.lock";
/// scanaudit's directory under `$XDG_RUNTIME_DIR`.
pub const RUNTIME_DIR_NAME: &str = "scanaudit";
