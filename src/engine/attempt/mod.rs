//! One attempt of a task: worktree, envelope, setup (copied files, venv, setup commands), the
//! agent in a PTY, waiting with timeout, cancellation and the idle watch, then committing the
//! work (success) or saving it on an attempt ref (otherwise).
//!
//! The stages run in order and return a `Failure` to end the attempt; `attempt` is the one place
//! a failure is turned into the report (and the work saved when the failure says so).

mod check;
mod env;
mod job;
mod outcome;
pub(super) mod report;
mod request;
pub(super) mod setup;
mod sink;
mod stream;
mod terminal;
mod watch;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use tokio::sync::{mpsc, Notify};

use crate::git::{self, DiffStat};
use crate::pty;
use crate::record::envelope::Envelope;
use crate::record::journal::AttemptFact;
use crate::record::{self, RunPaths};
use crate::sandbox::Confinement;

use super::blocking::blocking;
use super::follow_up;
use super::keep::{keep_unsaved, save_worktree};
use super::output::Tail;
use super::state::AttemptEnd;
use outcome::Failure;
use request::Control;
use stream::{Adapter, Stream};
use terminal::Terminal;
use watch::{IdleWatch, Reporter, WatchSpec};

pub use job::AttemptJob;
pub use report::{Progress, Work};
pub use request::{channel, picked, Ack, Acked, AttemptHandle, Request, Requests, StopReason};

/// Runs one attempt to its end, serving its `requests` meanwhile, and reports through
/// `progress`.
pub async fn run(job: AttemptJob, requests: Requests, progress: mpsc::UnboundedSender<Progress>) {
    let index = job.index;
    let mut confinement = None;
    let (control, served) = requests.serve(job.pane_size);
    let report = tokio::select! {
        report = attempt(&job, &control, &progress, &mut confinement) => report,
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

/// The attempt's stages, and the one place their failure becomes the report: its end and error,
/// the work saved on the attempt ref when the failure says so.
async fn attempt(
    job: &AttemptJob,
    control: &Control,
    progress: &mpsc::UnboundedSender<Progress>,
    confinement: &mut Option<Confinement>,
) -> AttemptFact {
    let clock = Instant::now();
    let log = job.paths.attempt_log(&job.spec.name, job.attempt);
    let mut report = AttemptFact::new(&job.spec.name, job.attempt, SystemTime::now(), log);
    report.follow_up = job.follow_up.as_ref().map(|f| f.prompt.clone());
    // What setup put in the worktree, kept out of what is committed or saved.
    let mut excludes = Vec::new();
    let stages = Stages {
        job,
        control,
        progress,
    };
    let ended = stages.run(confinement, &mut report, &mut excludes).await;
    report.duration_s = clock.elapsed().as_secs_f64();
    match ended {
        Ok((output, hash)) => {
            report.status = AttemptEnd::Succeeded.status();
            report.output = Some(output);
            report.output_hash = Some(hash);
            report
        }
        Err(failure) => {
            report.status = failure.end.status();
            report.retryable = failure.retryable;
            report.error = Some(failure.error);
            if failure.save {
                save_attempt(job, report, &excludes).await
            } else {
                report
            }
        }
    }
}

/// Saves whatever a failed, timed-out or cancelled attempt left in its worktree on its attempt
/// ref, so nothing an agent wrote is lost. `excludes` keeps out what setup put there (copied
/// files, the venv, files setup commands created). When that fails, the worktree is kept aside
/// instead (`keep_unsaved`).
async fn save_attempt(
    job: &AttemptJob,
    mut report: AttemptFact,
    excludes: &[String],
) -> AttemptFact {
    let reason = report.error.clone().unwrap_or_default();
    let (paths, task, attempt) = (&job.paths, job.spec.name.as_str(), job.attempt);
    match save_worktree(paths, task, attempt, &reason, excludes, &job.audit).await {
        Ok(saved) => report.saved_ref = saved,
        Err(e) => keep_unsaved(paths, task, &mut report, &e, &job.audit).await,
    }
    report
}

/// What every stage reads.
struct Stages<'a> {
    job: &'a AttemptJob,
    control: &'a Control,
    progress: &'a mpsc::UnboundedSender<Progress>,
}

/// What the agent's run left: how it ended, what it printed, what its stream said.
struct AgentRun {
    how: outcome::How,
    exit: Option<pty::Exit>,
    /// Its output as text (escapes stripped, the last 64 KiB).
    captured: String,
    facts: Option<stream::StreamFacts>,
}

impl Stages<'_> {
    /// Every stage in order; the task's output (and its hash) when the attempt succeeded.
    async fn run(
        &self,
        confinement: &mut Option<Confinement>,
        report: &mut AttemptFact,
        excludes: &mut Vec<String>,
    ) -> Result<(serde_json::Value, String), Failure> {
        let job = self.job;
        let (task, paths) = (job.spec.name.as_str(), &job.paths);
        let worktree = paths.worktree(task);

        // 1. The worktree, from the base commit with the dependencies' work merged in; a
        //    follow-up's is the task's own (kept, or made again from its branch's tip).
        match job.follow_up {
            Some(_) => self.follow_up_worktree(&worktree).await?,
            None => self.worktree(&worktree).await?,
        }

        // 2. The sandbox, then the envelope.
        let confined = env::confine(job, &worktree).await.map_err(Failure::early)?;
        let confined = &*confinement.insert(confined);
        let result_path = confined
            .result_path()
            .unwrap_or_else(|| paths.attempt_result(task, job.attempt));
        let _ = std::fs::remove_file(&result_path);
        let envelope = self.envelope(&worktree, &result_path, report)?;

        // 3. Setup, then the agent, in the attempt's terminal; the timeout covers both.
        let (argv, env) = env::agent_command(job, &envelope, &result_path, &worktree, confined);
        report.argv = argv.clone();
        if let Some(why) = env::no_credentials(&argv, &env, &job.env) {
            // It would wait for a browser login until the timeout, every attempt.
            return Err(Failure::saved(AttemptEnd::Failed, why).not_retryable());
        }
        let log = open_log(&report.log)?;
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
        let mut term = Terminal::new(job, self.control, log, worktree, env, confined);
        *excludes = setup::planned_excludes(&job.spec);
        setup::prepare(&mut term, excludes).await?;

        // 4. The agent.
        let agent = self.agent(&mut term, &argv, &report.log).await?;
        report.exit_code = agent.exit.as_ref().map(|e| e.code);
        report.usage = agent.facts.as_ref().and_then(stream::StreamFacts::usage);
        let limit = agent
            .facts
            .as_ref()
            .and_then(stream::StreamFacts::usage_limit);
        report.usage_limit = limit.cloned();

        // 5. Outcome.
        let exit = agent.exit.as_ref();
        let result_text =
            outcome::judge(agent.how, agent.facts.as_ref(), job.spec.timeout, || {
                term.exit_error(exit)
            })?;

        // 6. The check: the attempt succeeds only if it passes.
        if let Some(command) = job.spec.check.clone() {
            check::run_check(&mut term, &command, report).await?;
        }
        let output = store_output(paths, task, &result_path, result_text, agent.captured)?;

        // 7. Commit the work on the task branch.
        self.commit(&term.worktree, report, excludes).await?;
        Ok(output)
    }

    /// The task's worktree on its branch, from the base commit with the dependencies' branches
    /// merged in.
    async fn worktree(&self, worktree: &Path) -> Result<(), Failure> {
        let job = self.job;
        let (task, paths) = (job.spec.name.as_str(), &job.paths);
        let branch = paths.branch(task);
        let repo = paths.repo_root.clone();
        let (base, deps) = (job.base_commit.clone(), job.dependency_branches.clone());
        let message = format!("grove: start {task} from its dependencies");
        let merged =
            blocking(move || git::merge_branches_for_start(&repo, &base, &deps, &message)).await;
        let start = match merged {
            Ok(Ok(Ok(commit))) => commit,
            Ok(Ok(Err(paths))) => {
                let error = format!("dependency branches conflict in: {}", paths.join(", "));
                return Err(Failure::early(error).not_retryable());
            }
            Ok(Err(e)) => return Err(Failure::early(e.to_string())),
            Err(e) => return Err(Failure::early(e)),
        };
        let (repo, wt, br, st) = (
            paths.repo_root.clone(),
            worktree.to_path_buf(),
            branch.clone(),
            start.clone(),
        );
        match blocking(move || git::create_worktree(&repo, &wt, &br, &st)).await {
            Ok(Ok(())) => {
                job.audit
                    .worktree(task, job.attempt, worktree, &branch, &start);
                Ok(())
            }
            Ok(Err(e)) => Err(Failure::early(e.to_string())),
            Err(e) => Err(Failure::early(e)),
        }
    }

    /// A follow-up's worktree: the task's own, kept as the last attempt left it, or made again
    /// from its branch's tip when it was removed.
    async fn follow_up_worktree(&self, worktree: &Path) -> Result<(), Failure> {
        let paths = &self.job.paths;
        let (repo, wt) = (paths.repo_root.clone(), worktree.to_path_buf());
        let branch = paths.branch(&self.job.spec.name);
        match blocking(move || follow_up::worktree(&repo, &wt, &branch)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Failure::early(e.to_string())),
            Err(e) => Err(Failure::early(e)),
        }
    }

    /// Writes the attempt's envelope (its hash is the attempt's input hash); where it is.
    fn envelope(
        &self,
        worktree: &Path,
        result_path: &Path,
        report: &mut AttemptFact,
    ) -> Result<PathBuf, Failure> {
        let job = self.job;
        let (task, paths) = (&job.spec.name, &job.paths);
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
            branch: paths.branch(task),
            base_commit: job.base_commit.clone(),
            result_path: result_path.display().to_string(),
            created_at: record::rfc3339(SystemTime::now()),
        };
        let path = paths.envelope(task);
        let bytes = envelope.to_bytes();
        if let Err(e) = record::write_record(&path, &bytes) {
            return Err(Failure::early(format!(
                "cannot write {}: {e}",
                path.display()
            )));
        }
        report.input_hash = Some(record::sha256(&bytes));
        Ok(path)
    }

    /// Runs the agent in the attempt's terminal to its end, watching for input prompts (an
    /// agent printing plain text) or for the end of its stream (a structured agent).
    async fn agent(
        &self,
        term: &mut Terminal<'_>,
        argv: &[String],
        log: &Path,
    ) -> Result<AgentRun, Failure> {
        let job = self.job;
        let task = job.spec.name.as_str();
        let tail = Arc::new(Mutex::new(Tail::default()));
        let adapter = Adapter::for_output(job.agent.output);
        let stream = adapter.as_ref().map(|_| Arc::new(Stream::default()));
        // An agent printing a stream of JSON takes no input, so it never waits for any.
        let activity = stream.is_none().then(|| Arc::new(Notify::new()));
        let shown = adapter.zip(stream.clone());
        let sink = term
            .sink(Some(tail.clone()), shown, activity.clone())
            .map_err(|e| Failure::early(format!("cannot write {}: {e}", log.display())))?;
        let spec = term.spawn_spec(argv);
        let env_names: Vec<&str> = spec.env.iter().map(|(k, _)| k.as_str()).collect();
        job.audit
            .spawn(task, job.attempt, argv, &term.worktree, &env_names);
        let mut spawned = match pty::spawn(&spec, sink, term.display()) {
            Ok(s) => s,
            Err(e) => {
                job.audit.spawn_failed(task, job.attempt, &e.to_string());
                return Err(Failure::saved(AttemptEnd::Failed, e.to_string()));
            }
        };
        self.control.agent_spawned(spawned.control.clone());
        let _ = self.progress.send(Progress::Spawned {
            index: job.index,
            attempt: job.attempt,
            pgid: spawned.pgid,
            argv: argv.to_vec(),
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
                    progress: self.progress.clone(),
                    audit: job.audit.clone(),
                    index: job.index,
                    attempt: job.attempt,
                    task: task.to_string(),
                },
            )
        });
        let (how, exit) = term.wait(&mut spawned, watch, stream.as_deref()).await;
        Ok(AgentRun {
            how,
            exit,
            captured: tail.lock().map(|t| t.text()).unwrap_or_default(),
            facts: stream.map(|s| s.take()),
        })
    }

    /// Commits the work on the task branch (what setup put there left out); a commit that
    /// changed nothing after tool calls were denied fails the attempt (`fail_on_denied`).
    async fn commit(
        &self,
        worktree: &Path,
        report: &mut AttemptFact,
        excludes: &[String],
    ) -> Result<(), Failure> {
        let job = self.job;
        let (task, paths) = (job.spec.name.as_str(), &job.paths);
        let branch = paths.branch(task);
        let message = format!(
            "grove: {task} (attempt {})\n\nGrove-Run: {}\nGrove-Input-Hash: {}\n",
            job.attempt,
            paths.run_id,
            report.input_hash.clone().unwrap_or_default()
        );
        let (wt, repo, br, base, ex) = (
            worktree.to_path_buf(),
            paths.repo_root.clone(),
            branch.clone(),
            job.base_commit.clone(),
            excludes.to_vec(),
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
        let (commit, head, stat) = match committed {
            Ok(Ok(committed)) => committed,
            Ok(Err(e)) => {
                let error = format!("commit failed: {e}");
                return Err(Failure::saved(AttemptEnd::Failed, error));
            }
            Err(e) => return Err(Failure::saved(AttemptEnd::Failed, e)),
        };
        if let Some(commit) = &commit {
            job.audit.commit(task, job.attempt, commit, &branch);
        }
        report.head_commit = Some(head);
        report.diff_stat = Some(stat);
        let denied = outcome::denied_for_nothing(
            job.spec.fail_on_denied,
            &job.agent.name,
            report.usage.as_ref(),
        );
        match (commit, denied) {
            // The same permissions deny the same calls again. Nothing to save: it is committed.
            (None, Some(denied)) => Err(Failure::early(denied).not_retryable()),
            _ => Ok(()),
        }
    }
}

/// The attempt's log, created empty.
fn open_log(path: &Path) -> Result<File, Failure> {
    record::folders::record_file()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| Failure::early(format!("cannot create {}: {e}", path.display())))
}

/// Stores the task's output with the run's records: the result file the agent wrote (its exact
/// bytes), else the stream's result text or what it printed. The output and its hash.
fn store_output(
    paths: &RunPaths,
    task: &str,
    result_path: &Path,
    result_text: Option<String>,
    captured: String,
) -> Result<(serde_json::Value, String), Failure> {
    let failed = |error| Failure::saved(AttemptEnd::Failed, error);
    let cannot =
        |path: &Path, e: std::io::Error| failed(format!("cannot write {}: {e}", path.display()));
    match outcome::read_result(result_path).map_err(failed)? {
        Some((value, bytes)) => {
            let stored = paths.result(task);
            record::write_record(&stored, &bytes).map_err(|e| cannot(&stored, e))?;
            Ok((value, record::sha256(&bytes)))
        }
        None => {
            let text = result_text.unwrap_or(captured);
            let stored = paths.output_text(task);
            record::write_record(&stored, text.as_bytes()).map_err(|e| cannot(&stored, e))?;
            let hash = record::sha256(text.as_bytes());
            Ok((serde_json::Value::String(text), hash))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> (tempfile::TempDir, RunPaths) {
        let dir = tempfile::tempdir().unwrap();
        let paths = RunPaths::new(dir.path(), "run");
        std::fs::create_dir_all(paths.task_dir("t")).unwrap();
        (dir, paths)
    }

    #[test]
    fn a_result_file_is_the_output_byte_for_byte() {
        let (dir, paths) = paths();
        let result = dir.path().join("result.json");
        std::fs::write(&result, b"{\"ok\":true}").unwrap();
        let stream_text = Some("said".to_string());
        let (value, hash) =
            store_output(&paths, "t", &result, stream_text, "printed".into()).unwrap();
        assert_eq!(value, serde_json::json!({"ok": true}));
        assert_eq!(hash, record::sha256(b"{\"ok\":true}"));
        let stored = std::fs::read(paths.result("t")).unwrap();
        assert_eq!(stored, b"{\"ok\":true}");
        assert!(!paths.output_text("t").exists());
    }

    #[test]
    fn without_a_result_file_the_streams_result_then_the_printed_text_is_the_output() {
        let (dir, paths) = paths();
        let missing = dir.path().join("none.json");
        let said = Some("said".to_string());
        let (value, hash) = store_output(&paths, "t", &missing, said, "printed".into()).unwrap();
        assert_eq!(value, serde_json::json!("said"));
        assert_eq!(hash, record::sha256(b"said"));
        let (value, _) = store_output(&paths, "t", &missing, None, "printed".into()).unwrap();
        assert_eq!(value, serde_json::json!("printed"));
        let stored = std::fs::read_to_string(paths.output_text("t")).unwrap();
        assert_eq!(stored, "printed");
    }

    #[test]
    fn an_unreadable_result_fails_the_attempt_and_saves_its_work() {
        let (dir, paths) = paths();
        let result = dir.path().join("result.json");
        std::fs::write(&result, b"not json").unwrap();
        let failure = store_output(&paths, "t", &result, None, String::new()).unwrap_err();
        assert!(failure.save && failure.retryable);
        assert_eq!(failure.end, AttemptEnd::Failed);
        assert!(failure.error.contains("invalid JSON"), "{}", failure.error);
    }
}
