//! One attempt of a task: worktree, envelope, the agent in a PTY, waiting with timeout and
//! cancellation, then committing the work (success) or saving it on an attempt ref (otherwise).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};

use crate::agent::{self, AgentCommand, TemplateVars};
use crate::git::{self, DiffStat};
use crate::plan::model::TaskSpec;
use crate::pty::{self, pane::Pane, OutputSink, PtyControl, SpawnSpec};
use crate::record::audit::Audit;
use crate::record::envelope::Envelope;
use crate::record::{self, RunPaths};

use super::api::Event;
use super::output::Tail;
use super::pause::{pausable_sleep, PauseClock};
use super::state::AttemptEnd;

/// Why an attempt is being stopped from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    Cancelled,
    FailFast(String),
    Shutdown,
}

impl StopReason {
    fn describe(&self) -> String {
        match self {
            StopReason::Cancelled => "cancelled".into(),
            StopReason::FailFast(task) => format!("cancelled: fail_fast after '{task}' failed"),
            StopReason::Shutdown => "cancelled: grove was stopped".into(),
        }
    }
}

/// Everything an attempt needs, owned, so it can run on its own task.
pub struct AttemptJob {
    pub index: usize,
    pub attempt: u32,
    pub max_attempts: u32,
    pub spec: TaskSpec,
    pub agent: AgentCommand,
    /// The prompt as the agent gets it (with earlier outputs when passed).
    pub prompt: String,
    pub context: serde_json::Map<String, serde_json::Value>,
    pub paths: RunPaths,
    pub base_commit: String,
    /// Branches of the task's dependencies, merged into the start commit in this order.
    pub dependency_branches: Vec<String>,
    pub audit: Audit,
    pub pane: Arc<Pane>,
    pub pane_size: (u16, u16),
    pub events: mpsc::UnboundedSender<Event>,
    /// The run's pause clock (Ctrl-Z): the timeout does not count paused time.
    pub paused: watch::Receiver<PauseClock>,
    /// Set by a second stop signal: no grace period before SIGKILL.
    pub kill_now: Arc<AtomicBool>,
}

impl AttemptJob {
    /// The wait between SIGTERM and SIGKILL when stopping the agent's group.
    fn grace(&self) -> Duration {
        if self.kill_now.load(Ordering::SeqCst) {
            Duration::ZERO
        } else {
            self.spec.kill_grace
        }
    }
}

/// Told to the run loop while an attempt runs.
pub enum Progress {
    /// The agent process started; its terminal can take input and resizes now.
    Spawned {
        index: usize,
        attempt: u32,
        control: PtyControl,
        pgid: i32,
        argv: Vec<String>,
    },
    Done {
        index: usize,
        report: Box<AttemptReport>,
    },
}

#[derive(Debug, Clone)]
pub struct AttemptReport {
    pub attempt: u32,
    pub end: AttemptEnd,
    /// False when trying again cannot help (e.g. dependency branches conflict).
    pub retryable: bool,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub started_at: SystemTime,
    pub duration: Duration,
    pub log: PathBuf,
    pub argv: Vec<String>,
    pub input_hash: Option<String>,
    /// The task's output (result JSON or captured text) and its hash, on success.
    pub output: Option<(serde_json::Value, String)>,
    /// Captured text, whatever the outcome (for diagnostics and headless summaries).
    pub captured: String,
    pub head_commit: Option<String>,
    pub diff_stat: Option<DiffStat>,
    pub saved_ref: Option<String>,
}

/// Runs one attempt to its end and reports through `progress`.
pub async fn run(
    job: AttemptJob,
    stop: oneshot::Receiver<StopReason>,
    progress: mpsc::UnboundedSender<Progress>,
) {
    let index = job.index;
    let report = run_inner(&job, stop, &progress).await;
    let _ = progress.send(Progress::Done {
        index,
        report: Box::new(report),
    });
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("internal error: {e}"))
}

async fn run_inner(
    job: &AttemptJob,
    mut stop: oneshot::Receiver<StopReason>,
    progress: &mpsc::UnboundedSender<Progress>,
) -> AttemptReport {
    let task = job.spec.name.clone();
    let paths = &job.paths;
    let worktree = paths.worktree(&task);
    let branch = paths.branch(&task);
    let log_path = paths.attempt_log(&task, job.attempt);
    let result_path = paths.attempt_result(&task, job.attempt);
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let mut report = AttemptReport {
        attempt: job.attempt,
        end: AttemptEnd::Failed,
        retryable: true,
        exit_code: None,
        error: None,
        started_at,
        duration: Duration::ZERO,
        log: log_path.clone(),
        argv: Vec::new(),
        input_hash: None,
        output: None,
        captured: String::new(),
        head_commit: None,
        diff_stat: None,
        saved_ref: None,
    };
    let fail = |mut r: AttemptReport, error: String| {
        r.error = Some(error);
        r.duration = clock.elapsed();
        r
    };

    // 1. The worktree, from the base commit with the dependencies' work merged in.
    let repo = paths.repo_root.clone();
    let (base, deps) = (job.base_commit.clone(), job.dependency_branches.clone());
    let message = format!("grove: start {task} from its dependencies");
    let start = match blocking(move || git::merge_branches_for_start(&repo, &base, &deps, &message))
        .await
    {
        Ok(Ok(Ok(commit))) => commit,
        Ok(Ok(Err(paths))) => {
            report.retryable = false;
            return fail(
                report,
                format!("dependency branches conflict in: {}", paths.join(", ")),
            );
        }
        Ok(Err(e)) => return fail(report, e.to_string()),
        Err(e) => return fail(report, e),
    };
    let (repo, wt, br, st) = (
        paths.repo_root.clone(),
        worktree.clone(),
        branch.clone(),
        start.clone(),
    );
    match blocking(move || git::create_worktree(&repo, &wt, &br, &st)).await {
        Ok(Ok(())) => job
            .audit
            .worktree(&task, job.attempt, &worktree, &branch, &start),
        Ok(Err(e)) => return fail(report, e.to_string()),
        Err(e) => return fail(report, e),
    }

    // 2. The envelope.
    let _ = std::fs::remove_file(&result_path);
    let envelope = Envelope {
        task_id: format!("{}/{}", paths.run_id, task),
        run_id: paths.run_id.clone(),
        task: task.clone(),
        agent: job.agent.name.clone(),
        prompt: job.prompt.clone(),
        inputs: job.spec.inputs.clone(),
        context: job.context.clone(),
        attempt: job.attempt,
        max_attempts: job.max_attempts,
        timeout_s: job.spec.timeout.as_secs_f64(),
        worktree: worktree.display().to_string(),
        branch: branch.clone(),
        base_commit: job.base_commit.clone(),
        result_path: result_path.display().to_string(),
        created_at: record::rfc3339(SystemTime::now()),
    };
    let envelope_path = paths.envelope(&task);
    let bytes = envelope.to_bytes();
    if let Err(e) = record::write_atomic(&envelope_path, &bytes) {
        return fail(
            report,
            format!("cannot write {}: {e}", envelope_path.display()),
        );
    }
    report.input_hash = Some(record::sha256(&bytes));

    // 3. The agent in its terminal.
    let envelope_s = envelope_path.display().to_string();
    let result_s = result_path.display().to_string();
    let worktree_s = worktree.display().to_string();
    let argv = agent::render_argv(
        &job.agent.argv,
        &TemplateVars {
            prompt: &job.prompt,
            envelope: &envelope_s,
            result: &result_s,
            task: &task,
            worktree: &worktree_s,
        },
    );
    report.argv = argv.clone();
    let env = agent_env(job, &envelope_s, &result_s, &worktree_s);
    let log = match File::create(&log_path) {
        Ok(f) => f,
        Err(e) => return fail(report, format!("cannot create {}: {e}", log_path.display())),
    };
    if job.attempt > 1 {
        let banner = format!(
            "\r\n\x1b[2m── attempt {}/{} ──\x1b[0m\r\n",
            job.attempt, job.max_attempts
        );
        job.pane.feed(banner.as_bytes(), &mut std::io::sink());
    }
    let tail = Arc::new(Mutex::new(Tail::default()));
    let sink = AttemptSink {
        log,
        tail: tail.clone(),
        pane: job.pane.clone(),
        events: job.events.clone(),
        index: job.index,
    };
    let spec = SpawnSpec {
        argv: argv.clone(),
        cwd: worktree.clone(),
        env: env.clone(),
        rows: job.pane_size.0,
        cols: job.pane_size.1,
    };
    let env_names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    job.audit
        .spawn(&task, job.attempt, &argv, &worktree, &env_names);
    let mut spawned = match pty::spawn(&spec, sink) {
        Ok(s) => s,
        Err(e) => {
            job.audit.spawn_failed(&task, job.attempt, &e.to_string());
            let r = fail(report, e.to_string());
            return save_attempt(job, r).await;
        }
    };
    let pgid = spawned.pgid;
    let _ = progress.send(Progress::Spawned {
        index: job.index,
        attempt: job.attempt,
        control: spawned.control.clone(),
        pgid,
        argv: argv.clone(),
    });

    // 4. Wait for exit, timeout or a stop request.
    let mut stopped: Option<String> = None;
    let mut timed_out = false;
    let exit = tokio::select! {
        exit = &mut spawned.exit => exit.ok(),
        _ = pausable_sleep(job.spec.timeout, job.paused.clone()) => {
            timed_out = true;
            job.audit.timeout(&task, job.attempt, job.spec.timeout);
            None
        }
        reason = &mut stop => {
            stopped = Some(reason.map(|r| r.describe()).unwrap_or_else(|_| "cancelled".into()));
            None
        }
    };
    let exit = match exit {
        Some(exit) => {
            // The leader is gone; anything it left behind in its group goes too.
            let leftovers = pty::stop_group(pgid, job.grace()).await;
            if leftovers.terminated {
                job.audit.kill(
                    &task,
                    job.attempt,
                    pgid,
                    "leftover processes after exit",
                    leftovers.killed,
                );
            }
            Some(exit)
        }
        None => {
            let reason = if timed_out { "timeout" } else { "cancel" };
            let stop_report = pty::stop_group(pgid, job.grace()).await;
            job.audit
                .kill(&task, job.attempt, pgid, reason, stop_report.killed);
            tokio::time::timeout(Duration::from_secs(5), &mut spawned.exit)
                .await
                .ok()
                .and_then(Result::ok)
        }
    };
    // Output after exit is still the agent's: wait (bounded) for the reader to drain.
    let _ = tokio::time::timeout(Duration::from_secs(5), &mut spawned.eof).await;
    if let Some(exit) = &exit {
        job.audit
            .exit(&task, job.attempt, pgid, exit.code, exit.signal.as_deref());
        report.exit_code = Some(exit.code);
    }
    report.captured = tail.lock().map(|t| t.text()).unwrap_or_default();

    // 5. Outcome.
    if timed_out {
        report.end = AttemptEnd::TimedOut;
        let r = fail(
            report,
            format!(
                "timed out after {}",
                humantime::format_duration(job.spec.timeout)
            ),
        );
        return save_attempt(job, r).await;
    }
    if let Some(reason) = stopped {
        report.end = AttemptEnd::Cancelled;
        let r = fail(report, reason);
        return save_attempt(job, r).await;
    }
    match &exit {
        Some(e) if e.success() => {}
        Some(e) => {
            let error = match &e.signal {
                Some(signal) => format!("killed by signal: {signal}"),
                None => format!("exit code {}", e.code),
            };
            let r = fail(report, error);
            return save_attempt(job, r).await;
        }
        None => {
            let r = fail(report, "the agent's exit status was lost".into());
            return save_attempt(job, r).await;
        }
    }
    let output = match read_result(&result_path) {
        Ok(Some((value, bytes))) => {
            let stored = paths.result(&task);
            if let Err(e) = record::write_atomic(&stored, &bytes) {
                let r = fail(report, format!("cannot write {}: {e}", stored.display()));
                return save_attempt(job, r).await;
            }
            (value, record::sha256(&bytes))
        }
        Ok(None) => {
            let text = report.captured.clone();
            let stored = paths.output_text(&task);
            if let Err(e) = record::write_atomic(&stored, text.as_bytes()) {
                let r = fail(report, format!("cannot write {}: {e}", stored.display()));
                return save_attempt(job, r).await;
            }
            let hash = record::sha256(text.as_bytes());
            (serde_json::Value::String(text), hash)
        }
        Err(e) => {
            let r = fail(report, e);
            return save_attempt(job, r).await;
        }
    };

    // 6. Commit the work on the task branch.
    let message = format!(
        "grove: {task} (attempt {})\n\nGrove-Run: {}\nGrove-Input-Hash: {}\n",
        job.attempt,
        paths.run_id,
        report.input_hash.clone().unwrap_or_default()
    );
    let (wt, repo, base) = (
        worktree.clone(),
        paths.repo_root.clone(),
        job.base_commit.clone(),
    );
    let committed = blocking(
        move || -> Result<(Option<String>, String, DiffStat), git::GitError> {
            let commit = git::commit_worktree(&wt, &message, &[])?;
            let head = git::head_commit(&wt)?;
            let stat = git::diff_stat(&repo, &base, &head)?;
            Ok((commit, head, stat))
        },
    )
    .await;
    match committed {
        Ok(Ok((commit, head, stat))) => {
            if let Some(commit) = commit {
                job.audit.commit(&task, job.attempt, &commit, &branch);
            }
            report.head_commit = Some(head);
            report.diff_stat = Some(stat);
        }
        Ok(Err(e)) => {
            let r = fail(report, format!("commit failed: {e}"));
            return save_attempt(job, r).await;
        }
        Err(e) => return fail(report, e),
    }
    report.end = AttemptEnd::Succeeded;
    report.output = Some(output);
    report.duration = clock.elapsed();
    report
}

/// Saves whatever a failed, timed-out or cancelled attempt left in its worktree on its attempt
/// ref, so nothing an agent wrote is lost.
async fn save_attempt(job: &AttemptJob, mut report: AttemptReport) -> AttemptReport {
    let reason = report.error.clone().unwrap_or_default();
    report.saved_ref =
        save_worktree(&job.paths, &job.spec.name, job.attempt, &reason, &job.audit).await;
    report
}

/// Saves the task's worktree as attempt `attempt` left it on
/// `refs/grove/<run>/<task>/attempt-<n>`; the ref when something was saved.
pub(super) async fn save_worktree(
    paths: &RunPaths,
    task: &str,
    attempt: u32,
    reason: &str,
    audit: &Audit,
) -> Option<String> {
    let worktree = paths.worktree(task);
    if !worktree.exists() {
        return None;
    }
    let refname = paths.attempt_ref(task, attempt);
    let message = format!(
        "grove: {task} attempt {attempt} ({reason})\n\nGrove-Run: {}\n",
        paths.run_id
    );
    let (wt, r) = (worktree, refname.clone());
    match blocking(move || git::save_snapshot(&wt, &r, &message, &[])).await {
        Ok(Ok(commit)) => {
            audit.commit(task, attempt, &commit, &refname);
            return Some(refname);
        }
        Ok(Err(e)) => audit.error(task, &format!("saving attempt: {e}")),
        Err(e) => audit.error(task, &e),
    }
    None
}

/// The agent's result file, if it wrote one: its JSON value and exact bytes.
fn read_result(path: &Path) -> Result<Option<(serde_json::Value, Vec<u8>)>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read result {}: {e}", path.display())),
    };
    match serde_json::from_slice(&bytes) {
        Ok(value) => Ok(Some((value, bytes))),
        Err(e) => Err(format!(
            "the agent wrote invalid JSON to $GROVE_RESULT ({}): {e}",
            path.display()
        )),
    }
}

fn agent_env(
    job: &AttemptJob,
    envelope: &str,
    result: &str,
    worktree: &str,
) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("GROVE_RUN_ID".into(), job.paths.run_id.clone());
    env.insert("GROVE_TASK".into(), job.spec.name.clone());
    env.insert("GROVE_ATTEMPT".into(), job.attempt.to_string());
    env.insert("GROVE_ENVELOPE".into(), envelope.into());
    env.insert("GROVE_RESULT".into(), result.into());
    env.insert("GROVE_WORKTREE".into(), worktree.into());
    env.extend(job.agent.env.clone());
    env.extend(job.spec.env.clone());
    env.into_iter().collect()
}

/// Output of one attempt, on the PTY reader thread: the raw log, the text tail, the pane.
struct AttemptSink {
    log: File,
    tail: Arc<Mutex<Tail>>,
    pane: Arc<Pane>,
    events: mpsc::UnboundedSender<Event>,
    index: usize,
}

impl OutputSink for AttemptSink {
    fn output(&mut self, bytes: &[u8], replies: &mut dyn Write) {
        let _ = self.log.write_all(bytes);
        if let Ok(mut tail) = self.tail.lock() {
            tail.push(bytes);
        }
        if self.pane.feed(bytes, replies) {
            let _ = self.events.send(Event::Output { index: self.index });
        }
    }
}
