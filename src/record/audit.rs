//! The audit log (`audit.log`): one JSON line per spawn, exit, retry, timeout, kill, commit and
//! merge, with timestamps, written through tracing + tracing-appender. Environment values are
//! never logged, only their names.

use std::path::Path;
use std::time::Duration;

use tracing::Dispatch;
use tracing_appender::rolling::{RollingFileAppender, Rotation};

/// The audit log's name in a run directory.
pub use super::paths::AUDIT_FILE as FILE;

/// A run's audit log. Each run has its own dispatcher, so several runs in one process (tests)
/// and the program's own diagnostics never mix.
#[derive(Clone)]
pub struct Audit {
    dispatch: Dispatch,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Audit")
    }
}

impl Audit {
    /// Opens (appends to) `<dir>/audit.log`, creating what is missing; an error when that
    /// cannot be done (a run directory that is not writable, say).
    pub fn open(dir: &Path) -> std::io::Result<Audit> {
        // Created private, and refused when a link is in its place, before the appender opens
        // it (which would create it with the default mode, through a link).
        super::folders::record_file()
            .create(true)
            .append(true)
            .open(dir.join(FILE))
            .map_err(|e| std::io::Error::other(format!("{FILE}: {e}")))?;
        let appender = RollingFileAppender::builder()
            .rotation(Rotation::NEVER)
            .filename_prefix(FILE)
            .build(dir)
            .map_err(|e| std::io::Error::other(format!("{FILE}: {e}")))?;
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_target(false)
            .with_level(false)
            .with_ansi(false)
            .with_writer(appender)
            .finish();
        Ok(Audit {
            dispatch: Dispatch::new(subscriber),
        })
    }

    fn emit(&self, f: impl FnOnce()) {
        tracing::dispatcher::with_default(&self.dispatch, f);
    }

    pub fn run_started(&self, run_id: &str, plan: &str, base_commit: &str) {
        self.emit(|| tracing::info!(event = "run_started", run_id, plan, base_commit));
    }

    pub fn run_resumed(&self, run_id: &str, pid: u32) {
        self.emit(|| tracing::info!(event = "run_resumed", run_id, pid));
    }

    /// The run was paused (Ctrl-Z) or continued.
    pub fn paused(&self, paused: bool) {
        self.emit(|| tracing::info!(event = "paused", paused));
    }

    pub fn run_finished(&self, run_id: &str, interrupted: bool) {
        self.emit(|| tracing::info!(event = "run_finished", run_id, interrupted));
    }

    pub fn worktree(&self, task: &str, attempt: u32, path: &Path, branch: &str, start: &str) {
        let path = path.display().to_string();
        self.emit(|| {
            tracing::info!(
                event = "worktree",
                task,
                attempt,
                path,
                branch,
                start_commit = start
            )
        });
    }

    pub fn spawn(&self, task: &str, attempt: u32, argv: &[String], cwd: &Path, env_names: &[&str]) {
        let argv = serde_json::to_string(argv).unwrap_or_default();
        let env = env_names.join(",");
        let cwd = cwd.display().to_string();
        self.emit(|| tracing::info!(event = "spawn", task, attempt, argv, cwd, env));
    }

    pub fn spawn_failed(&self, task: &str, attempt: u32, error: &str) {
        self.emit(|| tracing::info!(event = "spawn_failed", task, attempt, error));
    }

    pub fn exit(&self, task: &str, attempt: u32, pid: i32, code: i32, signal: Option<&str>) {
        let signal = signal.unwrap_or("");
        self.emit(|| tracing::info!(event = "exit", task, attempt, pid, code, signal));
    }

    pub fn timeout(&self, task: &str, attempt: u32, after: Duration) {
        let after_s = after.as_secs_f64();
        self.emit(|| tracing::info!(event = "timeout", task, attempt, after_s));
    }

    pub fn kill(&self, task: &str, attempt: u32, pgid: i32, reason: &str, killed: bool) {
        let signal = if killed { "SIGTERM,SIGKILL" } else { "SIGTERM" };
        self.emit(|| tracing::info!(event = "kill", task, attempt, pgid, reason, signal));
    }

    pub fn retry(&self, task: &str, next_attempt: u32, delay: Duration, reason: &str) {
        let delay_s = delay.as_secs_f64();
        self.emit(|| tracing::info!(event = "retry", task, next_attempt, delay_s, reason));
    }

    pub fn commit(&self, task: &str, attempt: u32, commit: &str, reference: &str) {
        self.emit(|| tracing::info!(event = "commit", task, attempt, commit, reference));
    }

    pub fn merge(&self, task: &str, outcome: &str, commit: &str, detail: &str) {
        self.emit(|| tracing::info!(event = "merge", task, outcome, commit, detail));
    }

    /// A worktree setup step (copy, venv, requirements, a setup command) and how it ended.
    pub fn setup(&self, task: &str, attempt: u32, step: &str, outcome: &str) {
        self.emit(|| tracing::info!(event = "setup", task, attempt, step, outcome));
    }

    /// The task's `check` command, run on the work of attempt `attempt`, and how it ended.
    pub fn check(&self, task: &str, attempt: u32, command: &str, outcome: &str) {
        self.emit(|| tracing::info!(event = "check", task, attempt, command, outcome));
    }

    /// `auto_yes` answered the agent's question `prompt` by typing `key`.
    pub fn answer(&self, task: &str, attempt: u32, prompt: &str, key: &str) {
        let key = key.escape_default().to_string();
        self.emit(|| tracing::info!(event = "auto_yes", task, attempt, prompt, key));
    }

    /// A task joined the running plan (started from the dashboard).
    pub fn task_added(&self, task: &str, agent: &str) {
        self.emit(|| tracing::info!(event = "task_added", task, agent));
    }

    /// A finished task continues its agent's session `session` (a follow-up).
    pub fn follow_up(&self, task: &str, session: &str) {
        self.emit(|| tracing::info!(event = "follow_up", task, session));
    }

    /// An agent reached its usage limit: its tasks wait until `resets` (RFC 3339).
    pub fn usage_limit(&self, task: &str, agent: &str, resets: &str) {
        self.emit(|| tracing::info!(event = "usage_limit", task, agent, resets));
    }

    /// A race's winner: `task` of raced task `group` is merged, its siblings discarded.
    pub fn pick(&self, group: &str, task: &str, how: &str) {
        self.emit(|| tracing::info!(event = "pick", group, task, how));
    }

    pub fn state(&self, task: &str, status: &str, detail: &str) {
        self.emit(|| tracing::info!(event = "state", task, status, detail));
    }

    pub fn error(&self, task: &str, error: &str) {
        self.emit(|| tracing::info!(event = "error", task, error));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_json_lines_with_env_names_only() {
        let dir = tempfile::tempdir().unwrap();
        let audit = Audit::open(dir.path()).unwrap();
        audit.spawn(
            "t",
            1,
            &["sh".into(), "-c".into(), "echo hi".into()],
            dir.path(),
            &["SECRET_TOKEN"],
        );
        audit.retry("t", 2, Duration::from_millis(1500), "exit code 1");
        let text = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "spawn");
        assert_eq!(lines[0]["env"], "SECRET_TOKEN");
        assert!(lines[0]["timestamp"].as_str().unwrap().contains('T'));
        assert_eq!(lines[1]["delay_s"], 1.5);
    }

    #[test]
    fn a_log_that_cannot_be_opened_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the log should be: no permissions involved, so root fails too.
        std::fs::create_dir(dir.path().join(FILE)).unwrap();
        let err = Audit::open(dir.path()).unwrap_err();
        assert!(err.to_string().starts_with("audit.log: "), "{err}");
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(Audit::open(&file.join("run")).is_err());
    }
}
