//! Records of a run under `<repo>/.grove/runs/<run-id>/`: layout, atomic writes, hashes, times,
//! the envelope, results.json, the audit log, the journal and the run's lock.

pub mod audit;
pub mod envelope;
pub mod journal;
pub mod lock;
pub mod results;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

/// Writes `bytes` to `path` atomically: a temp file in the same directory, synced, then renamed
/// over the target. Readers see the old or the new file, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
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
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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

/// Where everything of one run lives, and the names of its git objects.
#[derive(Debug, Clone)]
pub struct RunPaths {
    pub repo_root: PathBuf,
    pub run_id: String,
    pub run_dir: PathBuf,
}

impl RunPaths {
    pub fn new(repo_root: &Path, run_id: &str) -> RunPaths {
        RunPaths {
            repo_root: repo_root.to_path_buf(),
            run_id: run_id.to_string(),
            run_dir: runs_dir(repo_root).join(run_id),
        }
    }

    pub fn worktree(&self, task: &str) -> PathBuf {
        self.worktrees().join(task)
    }
    /// Where an attempt's worktree is kept when its work could not be saved.
    pub fn unsaved_worktree(&self, task: &str, attempt: u32) -> PathBuf {
        self.worktrees()
            .join(format!("{task}.attempt-{attempt}{UNSAVED}"))
    }
    pub fn branch(&self, task: &str) -> String {
        format!("grove/{}/{}", self.run_id, task)
    }
    pub fn attempt_ref(&self, task: &str, attempt: u32) -> String {
        format!("refs/grove/{}/{}/attempt-{}", self.run_id, task, attempt)
    }
    pub fn task_dir(&self, task: &str) -> PathBuf {
        self.run_dir.join("agents").join(task)
    }
    pub fn envelope(&self, task: &str) -> PathBuf {
        self.task_dir(task).join("envelope.json")
    }
    pub fn attempt_log(&self, task: &str, attempt: u32) -> PathBuf {
        self.task_dir(task).join(format!("attempt-{attempt}.log"))
    }
    /// Where the agent of attempt `n` is told to write its result (`$GROVE_RESULT`).
    pub fn attempt_result(&self, task: &str, attempt: u32) -> PathBuf {
        self.task_dir(task)
            .join(format!("attempt-{attempt}.result.json"))
    }
    /// The result of the task's successful attempt.
    pub fn result(&self, task: &str) -> PathBuf {
        self.task_dir(task).join("result.json")
    }
    /// The captured output text, when the agent wrote no result.
    pub fn output_text(&self, task: &str) -> PathBuf {
        self.task_dir(task).join("output.txt")
    }
    pub fn results(&self) -> PathBuf {
        self.run_dir.join("results.json")
    }
    pub fn audit(&self) -> PathBuf {
        self.run_dir.join(audit::FILE)
    }
    /// The folder holding every worktree of the run.
    pub fn worktrees(&self) -> PathBuf {
        worktrees_dir(&self.repo_root).join(&self.run_id)
    }
}

/// The ending of the folder an attempt's worktree is kept in when its work could not be saved.
pub const UNSAVED: &str = ".unsaved";

/// `<repo>/.grove/worktrees`.
pub fn worktrees_dir(repo_root: &Path) -> PathBuf {
    repo_root.join(".grove/worktrees")
}

/// `<repo>/.grove/runs`.
pub fn runs_dir(repo_root: &Path) -> PathBuf {
    repo_root.join(".grove/runs")
}

/// Creates the run directory for a new run id `<plan>-<yyyymmdd-HHMMSS>` (UTC), adding `-2`,
/// `-3`… when taken. Creating the directory is what claims the id, so two grove processes
/// starting in the same second get different ids.
pub fn create_run_dir(
    repo_root: &Path,
    plan_name: &str,
    now: SystemTime,
) -> std::io::Result<RunPaths> {
    let runs = runs_dir(repo_root);
    std::fs::create_dir_all(&runs)?;
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
        match std::fs::create_dir(runs.join(&id)) {
            Ok(()) => return Ok(RunPaths::new(repo_root, &id)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "no free run id for {base} in {}",
        runs.display()
    )))
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
