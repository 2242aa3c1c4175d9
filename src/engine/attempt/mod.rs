//! One attempt of a task: worktree, envelope, setup (copied files, venv, setup commands), the
//! agent in a PTY, waiting with timeout, cancellation and the idle watch, then committing the
//! work (success) or saving it on an attempt ref (otherwise).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, Notify};

use crate::agent::usage_limit::UsageLimit;
use crate::agent::{self, AgentCommand, TemplateVars};
use crate::git::{self, DiffStat};
use crate::plan::model::{SandboxMode, TaskSpec};
use crate::pty::{self, Display, Exit, OutputSink, SpawnSpec, Spawned};
use crate::record::audit::Audit;
use crate::record::envelope::Envelope;
use crate::record::{self, RunPaths};
use crate::sandbox::{Confinement, Inputs};
use crate::term::pane::Pane;
use crate::usage::Usage;

use super::api::Event;
use super::follow_up::{self, FollowUp};
use super::keep::save_attempt;
use super::leftovers::stop_marked;
use super::output::Tail;
use super::pause::Budget;
use super::setup;
use super::state::AttemptEnd;
use super::stream::{Adapter, Stream};
use super::watch::{IdleWatch, Reporter, WatchSpec};

mod request;

use request::Control;
pub use request::{channel, picked, Ack, AttemptHandle, Request, Requests, StopReason};

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
    /// The task's reserved TCP ports (`GROVE_PORT_0`…).
    pub ports: Vec<u16>,
    /// Continue the agent's session (`prompt` is then the follow-up's).
    pub follow_up: Option<FollowUp>,
}

/// Told to the run loop while an attempt runs.
pub enum Progress {
    /// The agent process started; its terminal takes input and resizes now.
    Spawned {
        index: usize,
        attempt: u32,
        pgid: i32,
        argv: Vec<String>,
    },
    /// The agent is waiting for input at `prompt` (None: it went on).
    Waiting {
        index: usize,
        attempt: u32,
        prompt: Option<String>,
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
    pub head_commit: Option<String>,
    pub diff_stat: Option<DiffStat>,
    pub saved_ref: Option<String>,
    /// Where the attempt's files are kept, untouched, when they could not be saved.
    pub unsaved: Option<PathBuf>,
    /// What the agent reported it used (stream-json agents).
    pub usage: Option<Usage>,
    /// The task's check, when it ran.
    pub check: Option<CheckOutcome>,
    /// A follow-up's prompt (the attempt continued the agent's session with it).
    pub follow_up: Option<String>,
    /// The agent stopped at its account's usage limit.
    pub usage_limit: Option<UsageLimit>,
}

/// How the task's `check` went after the agent exited 0.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    pub command: String,
    /// None when it did not exit by itself (timeout, cancel) or was killed by a signal.
    pub exit_code: Option<i32>,
    pub passed: bool,
    pub duration: Duration,
    /// What it printed (escapes stripped, last 64 KiB), for the next attempt's envelope.
    pub output: String,
}

impl AttemptReport {
    /// An attempt that has not got anywhere yet: failed, retryable, no facts.
    pub fn new(attempt: u32, started_at: SystemTime, log: PathBuf) -> AttemptReport {
        AttemptReport {
            attempt,
            end: AttemptEnd::Failed,
            retryable: true,
            exit_code: None,
            error: None,
            started_at,
            duration: Duration::ZERO,
            log,
            argv: Vec::new(),
            input_hash: None,
            output: None,
            head_commit: None,
            diff_stat: None,
            saved_ref: None,
            unsaved: None,
            usage: None,
            check: None,
            follow_up: None,
            usage_limit: None,
        }
    }
}

/// Runs one attempt to its end, serving its `requests` meanwhile, and reports through
/// `progress`.
pub async fn run(job: AttemptJob, requests: Requests, progress: mpsc::UnboundedSender<Progress>) {
    let index = job.index;
    let mut confinement = None;
    let (control, served) = requests.serve(job.pane_size);
    let report = tokio::select! {
        report = run_inner(&job, &control, &progress, &mut confinement) => report,
        never = served => match never {},
    };
    // Its cgroup is emptied and removed, its temp folder deleted: file system work.
    if let Some(confinement) = confinement {
        let _ = blocking(move || drop(confinement)).await;
    }
    let _ = progress.send(Progress::Done {
        index,
        report: Box::new(report),
    });
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("internal error: {e}"))
}

async fn run_inner(
    job: &AttemptJob,
    control: &Control,
    progress: &mpsc::UnboundedSender<Progress>,
    confinement: &mut Option<Confinement>,
) -> AttemptReport {
    let task = job.spec.name.clone();
    let paths = &job.paths;
    let worktree = paths.worktree(&task);
    let branch = paths.branch(&task);
    let log_path = paths.attempt_log(&task, job.attempt);
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let mut report = AttemptReport::new(job.attempt, started_at, log_path.clone());
    report.follow_up = job.follow_up.as_ref().map(|f| f.prompt.clone());
    let fail = |mut r: AttemptReport, error: String| {
        r.error = Some(error);
        r.duration = clock.elapsed();
        r
    };

    // 1. The worktree, from the base commit with the dependencies' work merged in; a
    //    follow-up's is the task's own (kept, or made again from its branch's tip).
    if job.follow_up.is_some() {
        let (repo, wt, br) = (paths.repo_root.clone(), worktree.clone(), branch.clone());
        match blocking(move || follow_up::worktree(&repo, &wt, &br)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return fail(report, e.to_string()),
            Err(e) => return fail(report, e),
        }
    } else {
        let repo = paths.repo_root.clone();
        let (base, deps) = (job.base_commit.clone(), job.dependency_branches.clone());
        let message = format!("grove: start {task} from its dependencies");
        let start =
            match blocking(move || git::merge_branches_for_start(&repo, &base, &deps, &message))
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
    }

    // 2. The sandbox, then the envelope.
    let confined = match confine(job, &worktree).await {
        Ok(confined) => &*confinement.insert(confined),
        Err(e) => return fail(report, e),
    };
    let result_path = confined
        .result_path()
        .unwrap_or_else(|| paths.attempt_result(&task, job.attempt));
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
    if let Err(e) = record::write_record(&envelope_path, &bytes) {
        return fail(
            report,
            format!("cannot write {}: {e}", envelope_path.display()),
        );
    }
    report.input_hash = Some(record::sha256(&bytes));

    // 3. Setup, then the agent, in the attempt's terminal; the timeout covers both.
    let envelope_s = envelope_path.display().to_string();
    let result_s = result_path.display().to_string();
    let worktree_s = worktree.display().to_string();
    let vars = TemplateVars {
        prompt: &job.prompt,
        envelope: &envelope_s,
        result: &result_s,
        task: &task,
        worktree: &worktree_s,
        session: "",
    };
    let argv = match (&job.follow_up, &job.agent.resume) {
        (Some(f), Some(resume)) => agent::session::resume_argv(resume, &f.session, &vars),
        _ => agent::render_argv(&job.agent.argv, &vars),
    };
    let argv = match job.spec.sandbox.mode {
        SandboxMode::Worktree => agent::in_grove_sandbox(argv),
        SandboxMode::Off | SandboxMode::Unavailable => argv,
    };
    report.argv = argv.clone();
    let mut env = agent_env(job, &envelope_s, &result_s, &worktree);
    env.extend(confined.env());
    if let Some(why) = no_credentials(&argv, &env) {
        // It would wait for a browser login until the timeout, every attempt.
        report.retryable = false;
        let r = fail(report, why);
        return save_attempt(job, r, &[]).await;
    }
    let log = match record::folders::record_file()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&log_path)
    {
        Ok(f) => f,
        Err(e) => return fail(report, format!("cannot create {}: {e}", log_path.display())),
    };
    if job.attempt > 1 {
        let what = if job.follow_up.is_some() {
            "follow-up, "
        } else {
            ""
        };
        let banner = format!(
            "\r\n\x1b[2m── {what}attempt {}/{} ──\x1b[0m\r\n",
            job.attempt, job.max_attempts
        );
        job.pane.feed(banner.as_bytes(), &mut std::io::sink());
    }
    let mut term = Terminal {
        job,
        log,
        worktree: worktree.clone(),
        env,
        budget: Budget::new(job.spec.timeout, control.clock.clone()),
        control,
        confined,
        oom_before: 0,
    };
    let mut excludes = setup::planned_excludes(&job.spec);
    if let Err(failure) = prepare(&mut term, &mut excludes).await {
        report.end = failure.end;
        report.retryable = failure.retryable;
        let r = fail(report, failure.error);
        return save_attempt(job, r, &excludes).await;
    }

    // 4. The agent.
    let tail = Arc::new(Mutex::new(Tail::default()));
    let adapter = Adapter::for_output(job.agent.output);
    let stream = adapter.as_ref().map(|_| Arc::new(Stream::default()));
    // An agent printing a stream of JSON takes no input, so it never waits for any.
    let activity = stream.is_none().then(|| Arc::new(Notify::new()));
    let shown = adapter.zip(stream.clone());
    let sink = match term.sink(Some(tail.clone()), shown, activity.clone()) {
        Ok(sink) => sink,
        Err(e) => return fail(report, format!("cannot write {}: {e}", log_path.display())),
    };
    let spec = term.spawn_spec(&argv);
    let env_names: Vec<&str> = spec.env.iter().map(|(k, _)| k.as_str()).collect();
    job.audit
        .spawn(&task, job.attempt, &argv, &worktree, &env_names);
    let mut spawned = match pty::spawn(&spec, sink, term.display()) {
        Ok(s) => s,
        Err(e) => {
            job.audit.spawn_failed(&task, job.attempt, &e.to_string());
            let r = fail(report, e.to_string());
            return save_attempt(job, r, &excludes).await;
        }
    };
    control.agent_spawned(spawned.control.clone());
    let _ = progress.send(Progress::Spawned {
        index: job.index,
        attempt: job.attempt,
        pgid: spawned.pgid,
        argv: argv.clone(),
    });
    let watch = activity.map(|activity| {
        IdleWatch::new(
            WatchSpec {
                idle_after: job.spec.idle_after,
                auto_yes: job.spec.auto_yes,
                idle_exit: job.spec.idle_exit,
                yes_prompts: job.agent.yes_prompts.clone(),
                accept_key: job.agent.accept_key.clone(),
            },
            activity,
            job.pane.clone(),
            spawned.control.clone(),
            Reporter {
                progress: progress.clone(),
                audit: job.audit.clone(),
                index: job.index,
                attempt: job.attempt,
                task: task.clone(),
            },
        )
    });
    let (how, exit) = term.wait(&mut spawned, watch, stream.as_deref()).await;
    report.exit_code = exit.as_ref().map(|e| e.code);
    let captured = tail.lock().map(|t| t.text()).unwrap_or_default();
    let facts = stream.map(|s| s.take());
    if let Some(facts) = &facts {
        report.usage = facts.usage();
        report.usage_limit = facts.usage_limit().cloned();
    }

    // 5. Outcome.
    match how {
        How::TimedOut => {
            report.end = AttemptEnd::TimedOut;
            let r = fail(report, timed_out(job.spec.timeout));
            return save_attempt(job, r, &excludes).await;
        }
        How::Stopped(reason) => {
            report.end = AttemptEnd::Cancelled;
            let r = fail(report, reason);
            return save_attempt(job, r, &excludes).await;
        }
        How::Exited | How::AfterResult | How::Idle => {}
    }
    if let Some(error) = facts.as_ref().and_then(|f| f.error()) {
        let r = fail(report, error);
        return save_attempt(job, r, &excludes).await;
    }
    // An agent stopped after the grace that followed its result is judged by the result alone.
    if how == How::Exited {
        if let Some(error) = term.exit_error(exit.as_ref()) {
            let r = fail(report, error);
            return save_attempt(job, r, &excludes).await;
        }
    }
    let result_text = match &facts {
        Some(facts) if !facts.has_result() => {
            let r = fail(report, "the stream ended without a result".into());
            return save_attempt(job, r, &excludes).await;
        }
        Some(facts) => facts.output(),
        None => None,
    };

    // 6. The check: the attempt succeeds only if it passes.
    if let Some(command) = job.spec.check.clone() {
        if let Err((end, error)) = run_check(&mut term, &command, &mut report).await {
            report.end = end;
            let r = fail(report, error);
            return save_attempt(job, r, &excludes).await;
        }
    }
    let output = match read_result(&result_path) {
        Ok(Some((value, bytes))) => {
            let stored = paths.result(&task);
            if let Err(e) = record::write_record(&stored, &bytes) {
                let r = fail(report, format!("cannot write {}: {e}", stored.display()));
                return save_attempt(job, r, &excludes).await;
            }
            (value, record::sha256(&bytes))
        }
        Ok(None) => {
            let text = result_text.unwrap_or(captured);
            let stored = paths.output_text(&task);
            if let Err(e) = record::write_record(&stored, text.as_bytes()) {
                let r = fail(report, format!("cannot write {}: {e}", stored.display()));
                return save_attempt(job, r, &excludes).await;
            }
            let hash = record::sha256(text.as_bytes());
            (serde_json::Value::String(text), hash)
        }
        Err(e) => {
            let r = fail(report, e);
            return save_attempt(job, r, &excludes).await;
        }
    };

    // 7. Commit the work on the task branch.
    let message = format!(
        "grove: {task} (attempt {})\n\nGrove-Run: {}\nGrove-Input-Hash: {}\n",
        job.attempt,
        paths.run_id,
        report.input_hash.clone().unwrap_or_default()
    );
    let (wt, repo, br, base, ex) = (
        worktree.clone(),
        paths.repo_root.clone(),
        branch.clone(),
        job.base_commit.clone(),
        excludes.clone(),
    );
    let committed = blocking(
        move || -> Result<(Option<String>, String, DiffStat), git::GitError> {
            let commit = git::commit_worktree(&repo, &wt, &br, &message, &ex)?;
            let head = git::head_commit(&wt)?;
            let stat = git::diff_stat(&repo, &base, &head)?;
            Ok((commit, head, stat))
        },
    )
    .await;
    match committed {
        Ok(Ok((commit, head, stat))) => {
            if let Some(commit) = &commit {
                job.audit.commit(&task, job.attempt, commit, &branch);
            }
            report.head_commit = Some(head);
            report.diff_stat = Some(stat);
            if let (None, Some(denied)) = (&commit, denied_for_nothing(job, &report)) {
                // The same permissions deny the same calls again.
                report.retryable = false;
                return fail(report, denied);
            }
        }
        Ok(Err(e)) => {
            let r = fail(report, format!("commit failed: {e}"));
            return save_attempt(job, r, &excludes).await;
        }
        Err(e) => {
            let r = fail(report, e);
            return save_attempt(job, r, &excludes).await;
        }
    }
    report.end = AttemptEnd::Succeeded;
    report.output = Some(output);
    report.duration = clock.elapsed();
    report
}

/// Why the agent must not start: it has no credentials and would wait for a login.
fn no_credentials(argv: &[String], env: &[(String, String)]) -> Option<String> {
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
    };
    let home = lookup("HOME").map(PathBuf::from);
    agent::credentials::missing_before_start(&agent::credentials::Agent {
        argv,
        env: &lookup,
        home: home.as_deref(),
    })
}

/// Why an agent that was denied tool calls and changed nothing failed (`fail_on_denied`).
fn denied_for_nothing(job: &AttemptJob, report: &AttemptReport) -> Option<String> {
    let denials = &report.usage.as_ref()?.permission_denials;
    if !job.spec.fail_on_denied || denials.is_empty() {
        return None;
    }
    let n = denials.len();
    Some(format!(
        "{} was denied {n} tool call{} and changed nothing: {}",
        job.agent.name,
        if n == 1 { "" } else { "s" },
        denials.join("; ")
    ))
}

fn timed_out(after: Duration) -> String {
    format!("timed out after {}", humantime::format_duration(after))
}

/// Why a process that exited did not succeed (None: it did).
fn exit_error(exit: Option<&Exit>) -> Option<String> {
    match exit {
        Some(e) if e.success() => None,
        Some(e) => Some(match &e.signal {
            Some(signal) => format!("killed by signal: {signal}"),
            None => format!("exit code {}", e.code),
        }),
        None => Some("the agent's exit status was lost".into()),
    }
}

/// Why setup did not get the worktree ready.
struct SetupFailure {
    end: AttemptEnd,
    error: String,
    retryable: bool,
}

impl SetupFailure {
    fn failed(error: String, retryable: bool) -> Self {
        SetupFailure {
            end: AttemptEnd::Failed,
            error,
            retryable,
        }
    }
}

/// Copies files, makes the venv, runs the setup commands, each shown in the pane and logged;
/// adds what setup created to `excludes` (even when a step failed, so a saved attempt does not
/// hold it either).
async fn prepare(term: &mut Terminal<'_>, excludes: &mut Vec<String>) -> Result<(), SetupFailure> {
    let job = term.job;
    let (task, attempt) = (job.spec.name.as_str(), job.attempt);
    if !job.spec.copy.is_empty() {
        let (from, to, paths) = (
            job.paths.repo_root.clone(),
            term.worktree.clone(),
            job.spec.copy.clone(),
        );
        match blocking(move || setup::copy_files(&from, &to, &paths)).await {
            Ok(Ok(())) => {
                job.audit.setup(task, attempt, "copy", "ok");
                term.announce(&format!("copied {}", job.spec.copy.join(", ")));
            }
            Ok(Err(e)) => {
                job.audit.setup(task, attempt, "copy", &e);
                // Trying again finds the same files missing.
                return Err(SetupFailure::failed(e, false));
            }
            Err(e) => return Err(SetupFailure::failed(e, true)),
        }
    }
    let steps = setup::steps(&job.spec, &term.worktree);
    let mut outcome = Ok(());
    for step in &steps {
        outcome = term.step(step).await;
        if outcome.is_err() {
            break;
        }
    }
    if !steps.is_empty() {
        let (wt, planned) = (term.worktree.clone(), excludes.clone());
        let created = match blocking(move || setup::created_excludes(&wt, &planned)).await {
            Ok(Ok(created)) => Ok(created),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e),
        };
        match created {
            Ok(created) => excludes.extend(created),
            Err(e) if outcome.is_ok() => {
                let error = format!("cannot list the files setup created: {e}");
                outcome = Err(SetupFailure::failed(error, true));
            }
            Err(_) => {}
        }
    }
    outcome
}

/// Runs the task's check in the attempt's terminal and records it in `report`; Err: how the
/// attempt ends instead of succeeding.
async fn run_check(
    term: &mut Terminal<'_>,
    command: &str,
    report: &mut AttemptReport,
) -> Result<(), (AttemptEnd, String)> {
    let job = term.job;
    let tail = Arc::new(Mutex::new(Tail::default()));
    let started = Instant::now();
    let ran = term
        .run_shown(&setup::shell_step(command), Some(tail.clone()))
        .await;
    let output = tail.lock().map(|t| t.text()).unwrap_or_default();
    let (how, exit) = match ran {
        Ok(ran) => ran,
        Err(e) => {
            job.audit.check(&job.spec.name, job.attempt, command, &e);
            return Err((
                AttemptEnd::Failed,
                format!("check '{command}' could not start: {e}"),
            ));
        }
    };
    let failure = match &how {
        How::TimedOut => Some((
            AttemptEnd::TimedOut,
            format!("{} (in check: {command})", timed_out(job.spec.timeout)),
        )),
        How::Stopped(reason) => Some((AttemptEnd::Cancelled, reason.clone())),
        How::Exited | How::AfterResult | How::Idle => term.exit_error(exit.as_ref()).map(|why| {
            (
                AttemptEnd::Failed,
                format!("check '{command}' failed: {why}"),
            )
        }),
    };
    let outcome = failure.as_ref().map_or("passed", |(_, e)| e.as_str());
    job.audit
        .check(&job.spec.name, job.attempt, command, outcome);
    report.check = Some(CheckOutcome {
        command: command.to_string(),
        exit_code: exit.as_ref().filter(|e| e.signal.is_none()).map(|e| e.code),
        passed: failure.is_none(),
        duration: started.elapsed(),
        output,
    });
    match failure {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

/// How a process in the attempt's terminal ended.
#[derive(Debug, Clone, PartialEq)]
enum How {
    Exited,
    /// Still running `result_grace` after its (latest) result: stopped.
    AfterResult,
    /// Idle at its input box with `idle_exit`: stopped.
    Idle,
    TimedOut,
    /// Stopped from outside, with the reason.
    Stopped(String),
}

/// Running processes (setup steps, then the agent) in the attempt's terminal: output into the
/// attempt's log and pane, under the attempt's time budget (paused time does not count) and stop
/// request.
struct Terminal<'a> {
    job: &'a AttemptJob,
    log: File,
    worktree: PathBuf,
    env: Vec<(String, String)>,
    budget: Budget,
    /// What the run loop asked: stop, kill now, pause.
    control: &'a Control,
    /// Every process of the attempt starts under it.
    confined: &'a Confinement,
    /// The cgroup's OOM kills before the latest process started.
    oom_before: u64,
}

impl Terminal<'_> {
    /// How a process of the attempt is started: in the worktree, with the attempt's
    /// environment, through the sandbox wrapper when it has something to apply.
    fn spawn_spec(&mut self, argv: &[String]) -> SpawnSpec {
        self.oom_before = self.confined.oom_kills();
        SpawnSpec {
            argv: self.confined.wrap(argv),
            cwd: self.worktree.clone(),
            env: self.env.clone(),
            rows: self.job.pane_size.0,
            cols: self.job.pane_size.1,
        }
    }

    /// Why the latest process did not succeed (None: it did), `out of memory` when the kernel
    /// killed in the attempt's cgroup meanwhile.
    fn exit_error(&self, exit: Option<&Exit>) -> Option<String> {
        let why = exit_error(exit)?;
        Some(
            self.confined
                .explain(why, self.oom_before, self.job.spec.max_memory),
        )
    }

    fn sink(
        &self,
        tail: Option<Arc<Mutex<Tail>>>,
        stream: Option<(Adapter, Arc<Stream>)>,
        activity: Option<Arc<Notify>>,
    ) -> std::io::Result<AttemptSink> {
        Ok(AttemptSink {
            log: self.log.try_clone()?,
            tail,
            stream,
            activity,
        })
    }

    /// Stops a group of the attempt's processes: SIGTERM, `kill_grace`, SIGKILL (at once after
    /// `KillNow`).
    async fn stop_group(&self, pgid: i32) -> pty::StopReport {
        self.control
            .stop_group(pgid, self.job.spec.kill_grace)
            .await
    }

    /// Where the attempt's output is shown: its task's pane.
    fn display(&self) -> PaneDisplay {
        PaneDisplay {
            pane: self.job.pane.clone(),
            events: self.job.events.clone(),
            index: self.job.index,
        }
    }

    /// A dim line of grove's own in the log and the pane (what setup does).
    fn announce(&mut self, text: &str) {
        let line = format!("\x1b[2m{text}\x1b[0m\r\n");
        let _ = self.log.write_all(line.as_bytes());
        self.display().show(line.as_bytes(), &mut std::io::sink());
    }

    /// Runs one process (a setup step, the check) to its end in the attempt's terminal,
    /// announced as `$ label`, its output also in `tail` when given. Err: it could not start.
    async fn run_shown(
        &mut self,
        step: &setup::Step,
        tail: Option<Arc<Mutex<Tail>>>,
    ) -> Result<(How, Option<Exit>), String> {
        self.announce(&format!("$ {}", step.label));
        let sink = self.sink(tail, None, None).map_err(|e| e.to_string())?;
        let spec = self.spawn_spec(&step.argv);
        let mut spawned = pty::spawn(&spec, sink, self.display()).map_err(|e| e.to_string())?;
        Ok(self.wait(&mut spawned, None, None).await)
    }

    /// One setup step to its end; a failure names it.
    async fn step(&mut self, step: &setup::Step) -> Result<(), SetupFailure> {
        let job = self.job;
        let (task, attempt) = (job.spec.name.as_str(), job.attempt);
        let failed = |why: String| format!("setup command '{}' failed: {why}", step.label);
        let (how, exit) = match self.run_shown(step, None).await {
            Ok(ran) => ran,
            Err(e) => {
                job.audit.setup(task, attempt, &step.label, &e);
                return Err(SetupFailure::failed(failed(e), true));
            }
        };
        let end = |end, error| SetupFailure {
            end,
            error,
            retryable: true,
        };
        match how {
            How::TimedOut => {
                let error = format!("{} (in setup: {})", timed_out(job.spec.timeout), step.label);
                Err(end(AttemptEnd::TimedOut, error))
            }
            How::Stopped(reason) => Err(end(AttemptEnd::Cancelled, reason)),
            How::Exited | How::AfterResult | How::Idle => match self.exit_error(exit.as_ref()) {
                None => {
                    job.audit.setup(task, attempt, &step.label, "ok");
                    Ok(())
                }
                Some(why) => {
                    job.audit.setup(task, attempt, &step.label, &why);
                    Err(end(AttemptEnd::Failed, failed(why)))
                }
            },
        }
    }

    /// Waits for the process to exit, the deadline or a stop request, watching for input
    /// prompts when given a watch, and for the end of a structured agent's output (its result
    /// and `result_grace`) when given its stream. Whatever ends it, its whole process group is
    /// stopped and its output drained before this returns.
    async fn wait(
        &mut self,
        spawned: &mut Spawned,
        mut watch: Option<IdleWatch>,
        stream: Option<&Stream>,
    ) -> (How, Option<Exit>) {
        let job = self.job;
        let task = job.spec.name.as_str();
        let pgid = spawned.pgid;
        self.control.group_started(pgid);
        let activity = watch.as_ref().map(|w| w.activity.clone());
        let first_look = watch.as_ref().map(IdleWatch::start);
        // Not polled until there is a first look.
        let look = tokio::time::sleep_until(first_look.unwrap_or_else(tokio::time::Instant::now));
        tokio::pin!(look);
        let mut looking = first_look.is_some();
        let deadline = self.budget.spent();
        tokio::pin!(deadline);
        // Armed while the agent's latest word is a result.
        let grace = tokio::time::sleep(job.spec.result_grace);
        tokio::pin!(grace);
        let mut ending = false;
        let control = self.control;
        let (how, exit) = loop {
            tokio::select! {
                exit = &mut spawned.exit => break (How::Exited, exit.ok()),
                _ = &mut deadline => {
                    job.audit.timeout(task, job.attempt, job.spec.timeout);
                    break (How::TimedOut, None);
                }
                reason = control.stopped() => break (How::Stopped(reason), None),
                () = woken(activity.as_deref()) => {
                    if let Some(w) = watch.as_mut() {
                        look.as_mut().reset(w.output());
                        looking = true;
                    }
                }
                () = changed(stream) => {
                    let finished = stream.is_some_and(Stream::after_result);
                    if finished && !ending {
                        let at = tokio::time::Instant::now() + job.spec.result_grace;
                        grace.as_mut().reset(at);
                    }
                    ending = finished;
                }
                () = &mut grace, if ending => break (How::AfterResult, None),
                () = &mut look, if looking => {
                    match watch.as_mut().and_then(IdleWatch::look) {
                        Some(next) => look.as_mut().reset(next),
                        None => looking = false,
                    }
                    if watch.as_ref().is_some_and(|w| w.idle) {
                        break (How::Idle, None);
                    }
                }
            }
        };
        let exit = match exit {
            Some(exit) => {
                // The leader is gone; anything it left behind in its group goes too.
                let leftovers = self.stop_group(pgid).await;
                if leftovers.terminated {
                    job.audit
                        .kill(task, job.attempt, pgid, LEFTOVERS, leftovers.killed);
                }
                Some(exit)
            }
            None => {
                let reason = match how {
                    How::TimedOut => "timeout",
                    How::AfterResult => "after result",
                    How::Idle => "idle",
                    _ => "cancel",
                };
                let stopped = self.stop_group(pgid).await;
                job.audit
                    .kill(task, job.attempt, pgid, reason, stopped.killed);
                tokio::time::timeout(Duration::from_secs(5), &mut spawned.exit)
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
        };
        // And so does whatever of the attempt left the group, however it ended.
        let (paths, attempt) = (&job.paths, job.attempt);
        stop_marked(paths, task, attempt, &job.audit, LEFTOVERS, |g| {
            self.stop_group(g)
        })
        .await;
        self.control.group_ended();
        // Output after exit is still the process's: wait (bounded) for the reader to drain.
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut spawned.eof).await;
        if let Some(exit) = &exit {
            job.audit
                .exit(task, job.attempt, pgid, exit.code, exit.signal.as_deref());
        }
        (how, exit)
    }
}

/// Why processes are stopped after the process they belong to ended (or was stopped).
const LEFTOVERS: &str = "leftover processes after exit";

/// The attempt's sandbox, decided and written on a blocking thread once its worktree exists.
async fn confine(job: &AttemptJob, worktree: &Path) -> Result<Confinement, String> {
    let (spec, argv, paths) = (job.spec.clone(), job.agent.argv.clone(), job.paths.clone());
    let (attempt, worktree) = (job.attempt, worktree.to_path_buf());
    blocking(move || {
        let task_dir = paths.task_dir(&spec.name);
        Confinement::prepare(&Inputs {
            spec: &spec,
            agent_argv: &argv,
            run_id: &paths.run_id,
            attempt,
            worktree: &worktree,
            envelope: &paths.envelope(&spec.name),
            spec_path: &task_dir.join("sandbox.json"),
        })
    })
    .await?
}

/// Completes when the stream has news; never without one.
async fn changed(stream: Option<&Stream>) {
    match stream {
        Some(s) => s.changed.notified().await,
        None => std::future::pending().await,
    }
}

/// Completes when `activity` is notified; never without one.
async fn woken(activity: Option<&Notify>) {
    match activity {
        Some(n) => n.notified().await,
        None => std::future::pending().await,
    }
}

/// The agent's result file, if it wrote one: its JSON value and exact bytes.
/// The agent may have put anything at that path, and grove reads it outside the sandbox: a link
/// is not followed (it could name a file the sandbox hides), a FIFO is not waited on; only a
/// regular file is read.
fn read_result(path: &Path) -> Result<Option<(serde_json::Value, Vec<u8>)>, String> {
    use crate::plan::paths::{open_regular, OpenError};
    let cannot = |e: &dyn std::fmt::Display| format!("cannot read result {}: {e}", path.display());
    let not_regular = |kind: &str| {
        format!(
            "$GROVE_RESULT ({}) is not a regular file but {kind}: grove reads only a file written there",
            path.display()
        )
    };
    let mut file = match open_regular(path) {
        Ok((file, _)) => file,
        Err(OpenError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(OpenError::Io(e)) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(not_regular("a symlink"))
        }
        Err(OpenError::NotRegular(kind)) => return Err(not_regular(kind)),
        Err(OpenError::Io(e)) => return Err(cannot(&e)),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| cannot(&e))?;
    match serde_json::from_slice(&bytes) {
        Ok(value) => Ok(Some((value, bytes))),
        Err(e) => Err(format!(
            "the agent wrote invalid JSON to $GROVE_RESULT ({}): {e}",
            path.display()
        )),
    }
}

/// The environment of the agent and of setup commands: grove's variables, the reserved ports,
/// the agent's and the task's `env`, and the venv when the task has one.
fn agent_env(
    job: &AttemptJob,
    envelope: &str,
    result: &str,
    worktree: &Path,
) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("GROVE_RUN_ID".into(), job.paths.run_id.clone());
    env.insert("GROVE_TASK".into(), job.spec.name.clone());
    env.insert("GROVE_ATTEMPT".into(), job.attempt.to_string());
    env.insert("GROVE_ENVELOPE".into(), envelope.into());
    env.insert("GROVE_RESULT".into(), result.into());
    env.insert("GROVE_WORKTREE".into(), worktree.display().to_string());
    for (i, port) in job.ports.iter().enumerate() {
        env.insert(format!("GROVE_PORT_{i}"), port.to_string());
    }
    // Claude Code refuses `--dangerously-skip-permissions` as root unless told it runs in a
    // sandbox: in grove's, it does.
    let program = job.agent.argv.first().map(Path::new);
    let claude = program
        .and_then(Path::file_name)
        .is_some_and(|p| p == "claude");
    if claude && job.spec.sandbox.mode == SandboxMode::Worktree {
        env.insert("IS_SANDBOX".into(), "1".into());
    }
    env.extend(job.agent.env.clone());
    env.extend(job.spec.env.clone());
    if job.spec.python.is_some() {
        let bin = setup::venv_bin(worktree).display().to_string();
        let path = env
            .get("PATH")
            .cloned()
            .or_else(|| std::env::var("PATH").ok())
            .filter(|p| !p.is_empty());
        let path = match path {
            Some(path) => format!("{bin}:{path}"),
            None => bin,
        };
        env.insert("PATH".into(), path);
        let venv = worktree.join(setup::VENV).display().to_string();
        env.insert("VIRTUAL_ENV".into(), venv);
    }
    env.into_iter().collect()
}

/// Output of one process of the attempt, on the PTY reader thread: the raw log, the text tail
/// (through the stream-json adapter for such agents) and a nudge to the idle watch, as it is read;
/// what is to be shown goes on to the display thread.
struct AttemptSink {
    log: File,
    tail: Option<Arc<Mutex<Tail>>>,
    stream: Option<(Adapter, Arc<Stream>)>,
    activity: Option<Arc<Notify>>,
}

impl AttemptSink {
    /// Text for the pane: kept in the tail too.
    fn shown(&mut self, shown: Vec<u8>) -> Vec<u8> {
        if let Some(tail) = &self.tail {
            if let Ok(mut tail) = tail.lock() {
                tail.push(&shown);
            }
        }
        shown
    }

    /// An adapter's rendering: its facts recorded, its transcript shown.
    fn rendered(&mut self, rendered: crate::agent::stream_json::Rendered) -> Vec<u8> {
        if let Some((_, stream)) = &self.stream {
            stream.absorb(rendered.events);
        }
        self.shown(rendered.transcript)
    }
}

impl OutputSink for AttemptSink {
    fn output(&mut self, bytes: &[u8]) -> Vec<u8> {
        // First, whatever the rest costs: the log is the record of everything the agent printed.
        let _ = self.log.write_all(bytes);
        let shown = match &mut self.stream {
            Some((adapter, _)) => {
                let rendered = adapter.feed(bytes);
                self.rendered(rendered)
            }
            None => self.shown(bytes.to_vec()),
        };
        if let Some(activity) = &self.activity {
            activity.notify_one();
        }
        shown
    }

    fn finish(&mut self) -> Vec<u8> {
        match &mut self.stream {
            Some((adapter, _)) => {
                let rendered = adapter.finish();
                self.rendered(rendered)
            }
            None => Vec::new(),
        }
    }
}

/// The task's pane, fed on the display thread (and with grove's own lines); the front end is
/// told when it changed.
struct PaneDisplay {
    pane: Arc<Pane>,
    events: mpsc::UnboundedSender<Event>,
    index: usize,
}

impl pty::Display for PaneDisplay {
    fn show(&mut self, bytes: &[u8], replies: &mut dyn Write) {
        if !bytes.is_empty() && self.pane.feed(bytes, replies) {
            let _ = self.events.send(Event::Output { index: self.index });
        }
    }
}
