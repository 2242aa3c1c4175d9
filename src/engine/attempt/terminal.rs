//! The attempt's terminal: its processes (setup steps, the agent, the check) run one after the
//! other in PTYs, their output into the attempt's log and pane, under the attempt's timeout
//! (paused time does not count) and its requests (stop, kill now, pause).

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::pty::{self, Display, Exit, SpawnSpec, Spawned};
use crate::sandbox::Confinement;

use super::super::leftovers::stop_marked;
use super::super::output::Tail;
use super::super::pause::Budget;
use super::job::AttemptJob;
use super::outcome::{self, How};
use super::request::Control;
use super::sink::{AttemptSink, PaneDisplay};
use super::stream::{Adapter, Stream};
use super::watch::IdleWatch;

/// Running processes (setup steps, then the agent) in the attempt's terminal: output into the
/// attempt's log and pane, under the attempt's time budget (paused time does not count) and stop
/// request.
pub(super) struct Terminal<'a> {
    pub job: &'a AttemptJob,
    log: File,
    pub worktree: PathBuf,
    env: Vec<(String, String)>,
    budget: Budget,
    /// What the run loop asked: stop, kill now, pause.
    control: &'a Control,
    /// Every process of the attempt starts under it.
    confined: &'a Confinement,
    /// The cgroup's OOM kills before the latest process started.
    oom_before: u64,
}

impl<'a> Terminal<'a> {
    /// The attempt's terminal: its processes start in `worktree` with `env`, confined, and run
    /// under the attempt's timeout from now on.
    pub fn new(
        job: &'a AttemptJob,
        control: &'a Control,
        log: File,
        worktree: PathBuf,
        env: Vec<(String, String)>,
        confined: &'a Confinement,
    ) -> Terminal<'a> {
        Terminal {
            job,
            log,
            worktree,
            env,
            budget: Budget::new(job.spec.timeout, control.clock.clone()),
            control,
            confined,
            oom_before: 0,
        }
    }
}

impl Terminal<'_> {
    /// How a process of the attempt is started: in the worktree, with the attempt's
    /// environment, through the sandbox wrapper when it has something to apply.
    pub fn spawn_spec(&mut self, argv: &[String]) -> SpawnSpec {
        self.oom_before = self.confined.oom_kills();
        SpawnSpec {
            argv: self.confined.wrap(argv),
            cwd: self.worktree.clone(),
            base_env: self.job.env.clone(),
            env: self.env.clone(),
            rows: self.job.pane_size.0,
            cols: self.job.pane_size.1,
        }
    }

    /// Why the latest process did not succeed (None: it did), `out of memory` when the kernel
    /// killed in the attempt's cgroup meanwhile.
    pub fn exit_error(&self, exit: Option<&Exit>) -> Option<String> {
        let why = outcome::exit_error(exit)?;
        Some(
            self.confined
                .explain(why, self.oom_before, self.job.spec.max_memory),
        )
    }

    pub fn sink(
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
    pub fn display(&self) -> PaneDisplay {
        PaneDisplay {
            pane: self.job.pane.clone(),
            events: self.job.events.clone(),
            index: self.job.index,
        }
    }

    /// A dim line of grove's own in the log and the pane (what setup does).
    pub fn announce(&mut self, text: &str) {
        let line = format!("\x1b[2m{text}\x1b[0m\r\n");
        let _ = self.log.write_all(line.as_bytes());
        self.display().show(line.as_bytes(), &mut std::io::sink());
    }

    /// Runs one process (a setup step, the check) to its end in the attempt's terminal,
    /// announced as `$ label`, its output also in `tail` when given. Err: it could not start.
    pub async fn run_shown(
        &mut self,
        label: &str,
        argv: &[String],
        tail: Option<Arc<Mutex<Tail>>>,
    ) -> Result<(How, Option<Exit>), String> {
        self.announce(&format!("$ {label}"));
        let sink = self.sink(tail, None, None).map_err(|e| e.to_string())?;
        let spec = self.spawn_spec(argv);
        let mut spawned = pty::spawn(&spec, sink, self.display()).map_err(|e| e.to_string())?;
        Ok(self.wait(&mut spawned, None, None).await)
    }

    /// Waits for the process to exit, the deadline or a stop request, watching for input
    /// prompts when given a watch, and for the end of a structured agent's output (its result
    /// and `result_grace`) when given its stream. Whatever ends it, its whole process group is
    /// stopped and its output drained before this returns.
    pub async fn wait(
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
