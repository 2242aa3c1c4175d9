//! Records of a run under `<repo>/.grove/runs/<run-id>/`: layout, atomic writes, hashes, times,
//! the envelope, results.json, the audit log, the journal and the run's lock.

pub mod audit;
pub mod envelope;
pub mod folders;
pub mod journal;
pub mod lock;
pub mod paths;
pub mod results;

pub use paths::{runs_dir, worktrees_dir, RunPaths, UNSAVED};

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

/// Writes `bytes` to `path` atomically: a temp file in the same directory, synced, then renamed
/// over the target. Readers see the old or the new file, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_new(path, bytes, 0o666, 0o777)
}

/// Writes one of a run's record files: atomically like [`write_atomic`], the file private
/// (0600) and the folders it creates too (0700). A link in the file's place is replaced, never
/// followed.
pub fn write_record(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_new(path, bytes, folders::PRIVATE_FILE, folders::PRIVATE_DIR)
}

/// The temp-then-rename write, with the modes (less the umask) of the file and of the folders
/// it creates.
fn write_new(path: &Path, bytes: &[u8], file_mode: u32, dir_mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(dir_mode)
        .create(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        // create_new: never through a link that happens to have the temp file's name.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(file_mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// How the writes to one record file went lately, so that a failure is told when it starts (not
/// on every write that fails after it), and again when the file is written after all, and a run's
/// summary knows whether the file is current.
#[derive(Debug, Default)]
pub struct WriteHealth {
    failed: std::sync::Mutex<Option<String>>,
}

/// What [`WriteHealth::note`] found worth telling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteNews {
    /// The first write that failed (after a success, or ever), and why.
    Failing(String),
    /// The first write that succeeded after failures.
    Recovered,
}

impl WriteHealth {
    /// Notes how a write went (its error, if it failed).
    pub fn note(&self, error: Option<String>) -> Option<WriteNews> {
        let mut failed = self
            .failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let news = match (&*failed, &error) {
            (None, Some(e)) => Some(WriteNews::Failing(e.clone())),
            (Some(_), None) => Some(WriteNews::Recovered),
            _ => None,
        };
        *failed = error;
        news
    }

    /// Why the last write failed, when it did.
    pub fn failure(&self) -> Option<String> {
        self.failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// RFC 3339 UTC with milliseconds.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// Creates the run directory for a new run id `<plan>-<yyyymmdd-HHMMSS>` (UTC), adding `-2`,
/// `-3`… when taken. Creating the directory is what claims the id, so two grove processes
/// starting in the same second get different ids. An id whose worktree folder is already there
/// (say, one the repository brought) is taken too. grove's folders that are links are refused
/// before anything is created.
pub fn create_run_dir(
    repo_root: &Path,
    plan_name: &str,
    now: SystemTime,
) -> Result<RunPaths, folders::FolderError> {
    folders::check_grove_folders(repo_root)?;
    let runs = runs_dir(repo_root);
    let io = |source| folders::FolderError::Io {
        path: runs.display().to_string(),
        source,
    };
    folders::ensure_folder(&repo_root.join(".grove"), 0o777).map_err(io)?;
    folders::ensure_folder(&runs, folders::PRIVATE_DIR).map_err(io)?;
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
    // "2026-11-21T04:47:00Z" -> "20261121-044700"
    let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
    let base = format!("{plan_name}-{}-{}", &digits[..8], &digits[8..14]);
    for n in 1u32..=10_000 {
        let id = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        if std::fs::symlink_metadata(worktrees_dir(repo_root).join(&id)).is_ok() {
            continue;
        }
        let created = std::fs::DirBuilder::new()
            .mode(folders::PRIVATE_DIR)
            .create(runs.join(&id));
        match created {
            Ok(()) => return Ok(RunPaths::new(repo_root, &id)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(e)),
        }
    }
    Err(io(std::io::Error::other(format!(
        "no free run id for {base}"
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_has_prefix_and_known_value() {
        assert_eq!(
            sha256(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn run_ids_are_unique_within_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let a = create_run_dir(dir.path(), "plan", now).unwrap();
        let b = create_run_dir(dir.path(), "plan", now).unwrap();
        assert_eq!(a.run_id, "plan-20270115-080000");
        assert_eq!(b.run_id, "plan-20270115-080000-2");
        assert!(b.run_dir.is_dir());
        // A worktree folder already there takes its id too, whatever it is.
        let worktrees = worktrees_dir(dir.path());
        std::fs::create_dir_all(&worktrees).unwrap();
        std::os::unix::fs::symlink("/", worktrees.join("plan-20270115-080000-3")).unwrap();
        let c = create_run_dir(dir.path(), "plan", now).unwrap();
        assert_eq!(c.run_id, "plan-20270115-080000-4");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&c.run_dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn write_health_tells_a_failure_once_and_its_end() {
        let health = WriteHealth::default();
        assert_eq!(health.note(None), None);
        let full = || Some("No space left on device".to_string());
        assert_eq!(
            health.note(full()),
            Some(WriteNews::Failing("No space left on device".into()))
        );
        assert_eq!(health.note(full()), None);
        assert_eq!(health.failure(), full());
        assert_eq!(health.note(None), Some(WriteNews::Recovered));
        assert_eq!(health.note(None), None);
        assert_eq!(health.failure(), None);
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
