//! The run loop: owns every task's state, applies the strategy's decisions, starts attempts,
//! handles front-end commands, merges, and writes results.json and the journal. Waits on
//! channels only.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use crate::agent::{self, AgentCommand};
use crate::git::{self, MergeOutcome};
use crate::plan::model::{KeepWorktrees, MergeMode, Pick, Plan, TaskSpec};
use crate::plan::RepoTarget;
use crate::record::audit::Audit;
use crate::record::journal::{AttemptFact, Entry, Journal, MergeFact, RunStarted, StateFact};
use crate::record::lock::{LockError, RunLock};
use crate::record::results::{
    GroupRecord, MergeRecord, Provenance, Results, ResultsError, TaskResult,
};
use crate::record::{self, RunPaths, WriteHealth, WriteNews};
use crate::term::pane::Pane;

use super::admission;
use super::api::*;
use super::attempt::{self, Ack, AttemptHandle, AttemptJob, Progress, Request, StopReason, Work};
use super::follow_up::FollowUp;
use super::limits::Limits;
use super::output;
use super::ports::Ports;
use super::resume::{self, Recovery};
use super::retry;
use super::schedule;
use super::state::{AttemptEnd, TaskState, Transition};

mod follow;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot create the run directory under {path}: {source}")]
    RunDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot prepare the repository: {0}")]
    Git(#[from] git::GitError),
    #[error("task '{task}': unknown agent '{agent}'")]
    UnknownAgent { task: String, agent: String },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Folder(#[from] record::folders::FolderError),
}

/// What to run, where, and how big agents' terminals start.
pub struct RunRequest {
    pub plan: Plan,
    pub repo: RepoTarget,
    pub pane_size: (u16, u16),
}

struct Task {
    spec: TaskSpec,
    agent: AgentCommand,
    state: TaskState,
    pane: Arc<Pane>,
    /// Set while an attempt is in flight: its one request channel (stop, pause, input…).
    attempt: Option<AttemptHandle>,
    /// Bumped on every retry schedule so a stale timer is ignored.
    retry_generation: u64,
    /// The retry's delay is over: it starts as soon as a slot is free, before pending tasks.
    retry_due: bool,
    pane_size: (u16, u16),
    attempts: Vec<AttemptFact>,
    /// What the latest successful attempt produced.
    work: Work,
    merge: MergeState,
    merge_commit: Option<String>,
    merge_conflicts: Vec<String>,
    merge_reason: Option<String>,
    /// TCP ports held for the task from its first attempt until it ends.
    ports: Vec<u16>,
    /// Why it did not start when its turn came (admission control: low memory).
    held: Option<String>,
    /// The keys of its plan entry a copy (`N`) takes over, for the form to name them.
    copied_keys: Vec<String>,
    /// While pending: what it waits for (a dependency, a slot, its turn).
    pending: Option<String>,
    /// Its next attempts continue the agent's session (a follow-up; after a usage limit).
    follow_up: Option<FollowUp>,
}

impl Task {
    fn new(spec: TaskSpec, agent: AgentCommand, pane_size: (u16, u16)) -> Task {
        Task {
            state: TaskState::new(spec.max_attempts()),
            pane: Arc::new(Pane::new(pane_size.0, pane_size.1, spec.scrollback)),
            spec,
            agent,
            attempt: None,
            retry_generation: 0,
            retry_due: false,
            pane_size,
            attempts: Vec::new(),
            work: Work::default(),
            merge: MergeState::NotRequested,
            merge_commit: None,
            merge_conflicts: Vec::new(),
            merge_reason: None,
            ports: Vec::new(),
            held: None,
            copied_keys: Vec::new(),
            pending: None,
            follow_up: None,
        }
    }
}

enum Internal {
    Attempt(Progress),
    RetryDue {
        index: usize,
        generation: u64,
    },
    MergeDone {
        index: usize,
        outcome: Result<MergeOutcome, String>,
    },
    WorktreeRemoved,
    /// Every attempt in flight has paused (true) or continued (false).
    Paused(bool),
    /// Look at the machine's memory again for tasks held by `min_free_memory`.
    MemoryCheck,
    /// An agent's usage limit may have reset.
    LimitReset,
}

struct Run {
    plan: Plan,
    repo: RepoTarget,
    paths: RunPaths,
    audit: Audit,
    tasks: Vec<Task>,
    events: mpsc::UnboundedSender<Event>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    /// Where every attempt reports its progress (one channel for all, read by the loop).
    progress_tx: mpsc::UnboundedSender<Progress>,
    started_at: SystemTime,
    clock: Instant,
    /// Stop was asked for (Shutdown, or the front end went away): end once idle.
    stop_requested: bool,
    /// Tasks were cancelled by that stop: the run was interrupted.
    shutting_down: bool,
    merge_queue: VecDeque<usize>,
    merging: bool,
    /// Worktree removals in flight (the run ends after they finish).
    removing: usize,
    /// RunFinished was sent for the current idle state: when, and the run's active time then
    /// (what results.json keeps as the run's completion, even when rewritten after a merge).
    finished: Option<(SystemTime, Duration)>,
    /// Time the run sat finished before something reopened it (a retry, a task added): the
    /// user looking around, not the run's time.
    idle: Duration,
    /// results.json is behind: written once per loop turn, however many tasks changed in it.
    results_dirty: bool,
    /// How the writes of results.json and of the journal went lately.
    results_health: WriteHealth,
    journal_health: WriteHealth,
    ports: Ports,
    /// The size new tasks' panes start with.
    pane_size: (u16, u16),
    journal: Journal,
    /// Held while this process runs the run, so other grove processes see it as live.
    _lock: RunLock,
    /// Time the run was active before this process took it over (`grove resume`).
    elapsed_before: Duration,
    /// The run is paused (Ctrl-Z): every attempt is asked to pause, those that start too.
    paused: bool,
    /// Set by `KillNow`: attempts being stopped skip (the rest of) the grace period, those that
    /// start too.
    kill_now: bool,
    /// The latest pause or continue waiting for every attempt's ack; the next one answers after
    /// it, so front ends hear `Paused` in the order they asked.
    answering: Option<tokio::task::JoinHandle<()>>,
    /// What a resumed run does before scheduling anything.
    recovery: Vec<Recovery>,
    /// A `MemoryCheck` is on its way.
    memory_check_armed: bool,
    /// The agents at their usage limit.
    limits: Limits,
    /// `grove follow-up`: the follow-up (task, prompt) the reopened run starts with.
    follow_up_request: Option<(String, String)>,
}

/// What a task resumed from the journal brings with it.
pub(super) struct Restored {
    pub state: TaskState,
    pub attempts: Vec<AttemptFact>,
    pub work: Work,
    pub merge: MergeState,
    pub merge_commit: Option<String>,
    pub merge_conflicts: Vec<String>,
    pub merge_reason: Option<String>,
    /// The end of its last attempt's terminal output, shown in its pane again.
    pub screen: Vec<u8>,
    /// The session its next attempts continue.
    pub follow_up: Option<FollowUp>,
}

/// Everything a run loop starts from: a new run, or one rebuilt from its journal.
pub(super) struct Launch {
    pub plan: Plan,
    pub repo: RepoTarget,
    pub paths: RunPaths,
    pub agents: Vec<AgentCommand>,
    pub pane_size: (u16, u16),
    pub audit: Audit,
    pub journal: Journal,
    pub lock: RunLock,
    pub started_at: SystemTime,
    pub elapsed_before: Duration,
    /// Per task (plan order) when resuming.
    pub restored: Vec<Option<Restored>>,
    pub recovery: Vec<Recovery>,
    /// `grove follow-up`: the follow-up (task, prompt) a reopened run starts with.
    pub follow_up: Option<(String, String)>,
}

/// The agent command of every task, in plan order.
pub(super) fn resolve_agents(plan: &Plan) -> Result<Vec<AgentCommand>, EngineError> {
    plan.tasks
        .iter()
        .map(|spec| {
            agent::resolve(plan, &spec.agent).ok_or_else(|| EngineError::UnknownAgent {
                task: spec.name.clone(),
                agent: spec.agent.clone(),
            })
        })
        .collect()
}

/// Creates the run's records and starts it on the current tokio runtime.
pub fn start(req: RunRequest) -> Result<(FrontEnd, tokio::task::JoinHandle<()>), EngineError> {
    let RunRequest {
        plan,
        repo,
        pane_size,
    } = req;
    let agents = resolve_agents(&plan)?;
    git::ensure_grove_excluded(&repo.root)?;
    let started_at = SystemTime::now();
    let paths = record::create_run_dir(&repo.root, &plan.name, started_at)?;
    let format = match plan.source.format {
        crate::plan::model::PlanFormat::Toml => "toml",
        crate::plan::model::PlanFormat::Json => "json",
    };
    let record_error = |source| EngineError::RunDir {
        path: paths.run_dir.display().to_string(),
        source,
    };
    write_plan_copy(&paths, &plan).map_err(record_error)?;
    let lock = RunLock::acquire(&paths.run_dir)?;
    let audit = Audit::open(&paths.run_dir).map_err(record_error)?;
    let journal = Journal::create(&paths.run_dir).map_err(record_error)?;
    let start = RunStarted {
        run_id: paths.run_id.clone(),
        plan_name: plan.name.clone(),
        // Absolute, so relative prompt files resolve the same from wherever grove resumes.
        plan_path: std::path::absolute(&plan.source.path)
            .unwrap_or_else(|_| plan.source.path.clone()),
        plan_format: format.into(),
        plan_text: plan.source.text.clone(),
        tasks: plan.tasks.iter().map(|t| t.name.clone()).collect(),
        prompts: plan
            .tasks
            .iter()
            .map(|t| (t.name.clone(), t.prompt.clone()))
            .collect(),
        repo_root: repo.root.clone(),
        base_commit: repo.base_commit.clone(),
        base_branch: repo.base_branch.clone(),
        base_label: repo.base_label.clone(),
        pane_rows: pane_size.0,
        pane_cols: pane_size.1,
        pid: std::process::id(),
    };
    journal
        .append(Entry::RunStarted(Box::new(start)), true)
        .map_err(record_error)?;
    audit.run_started(&paths.run_id, &plan.name, &repo.base_commit);
    let restored = plan.tasks.iter().map(|_| None).collect();
    Ok(launch(Launch {
        plan,
        repo,
        paths,
        agents,
        pane_size,
        audit,
        journal,
        lock,
        started_at,
        elapsed_before: Duration::ZERO,
        restored,
        recovery: Vec::new(),
        follow_up: None,
    }))
}

/// Builds the run loop's state, announces the tasks, and starts the loop.
pub(super) fn launch(l: Launch) -> (FrontEnd, tokio::task::JoinHandle<()>) {
    let pane_size = l.pane_size;
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let (internal_tx, internal_rx) = mpsc::unbounded_channel();
    let (progress_tx, progress_rx) = mpsc::unbounded_channel();
    let tasks = l
        .plan
        .tasks
        .iter()
        .zip(l.agents)
        .zip(l.restored)
        .map(|((spec, agent), restored)| {
            let mut task = Task::new(spec.clone(), agent, pane_size);
            task.copied_keys = crate::plan::copy::task_keys(&l.plan, spec)
                .into_iter()
                .map(|(key, _)| key)
                .collect();
            if let Some(r) = restored {
                task.pane.feed(&r.screen, &mut std::io::sink());
                task.state = r.state;
                task.attempts = r.attempts;
                task.work = r.work;
                task.merge = r.merge;
                task.merge_commit = r.merge_commit;
                task.merge_conflicts = r.merge_conflicts;
                task.merge_reason = r.merge_reason;
                task.follow_up = r.follow_up;
            }
            task
        })
        .collect();
    let info = RunInfo {
        run_id: l.paths.run_id.clone(),
        plan_name: l.plan.name.clone(),
        repo_root: l.repo.root.clone(),
        run_dir: l.paths.run_dir.clone(),
        results_path: l.paths.results(),
        base_commit: l.repo.base_commit.clone(),
        base_label: l.repo.base_label.clone(),
        base_branch: l.repo.base_branch.clone(),
        started_at: l.started_at,
    };
    let run = Run {
        plan: l.plan,
        repo: l.repo,
        paths: l.paths,
        audit: l.audit,
        tasks,
        events: events_tx,
        internal_tx,
        progress_tx,
        started_at: l.started_at,
        clock: Instant::now(),
        stop_requested: false,
        shutting_down: false,
        merge_queue: VecDeque::new(),
        merging: false,
        removing: 0,
        finished: None,
        results_dirty: false,
        results_health: WriteHealth::default(),
        journal_health: WriteHealth::default(),
        ports: Ports::default(),
        pane_size,
        journal: l.journal,
        _lock: l.lock,
        elapsed_before: l.elapsed_before,
        idle: Duration::ZERO,
        paused: false,
        kill_now: false,
        answering: None,
        recovery: l.recovery,
        memory_check_armed: false,
        limits: Limits::default(),
        follow_up_request: l.follow_up,
    };
    for i in 0..run.tasks.len() {
        let _ = run.events.send(Event::TaskAdded {
            view: run.view(i),
            pane: run.tasks[i].pane.clone(),
        });
    }
    run.write_results();
    let handle = tokio::spawn(run.main(commands_rx, internal_rx, progress_rx));
    (
        FrontEnd {
            commands: commands_tx,
            events: events_rx,
            info,
        },
        handle,
    )
}

impl Run {
    async fn main(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut internal: mpsc::UnboundedReceiver<Internal>,
        mut progress: mpsc::UnboundedReceiver<Progress>,
    ) {
        self.recover().await;
        if let Some((task, prompt)) = self.follow_up_request.take() {
            self.command(Command::FollowUp { task, prompt });
        }
        let mut commands_open = true;
        loop {
            self.schedule();
            if self.idle() {
                if self.finished.is_none() {
                    self.finish();
                }
                if self.stop_requested || !commands_open {
                    break;
                }
            }
            if std::mem::take(&mut self.results_dirty) {
                self.write_results();
            }
            tokio::select! {
                cmd = commands.recv(), if commands_open => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => {
                        commands_open = false;
                        self.shutdown();
                    }
                },
                msg = internal.recv() => match msg {
                    Some(msg) => self.internal(msg),
                    None => break,
                },
                // The run holds a sender, so this never ends while the loop runs.
                Some(p) = progress.recv() => self.internal(Internal::Attempt(p)),
            }
        }
        if self.tasks.is_empty() {
            self.forget();
        } else if self.results_dirty {
            self.write_results();
        }
    }

    /// A run no task ever joined (bare `grove`, then `q`) did nothing worth keeping: its records
    /// go, so it is not listed. Tasks only ever join a run, so an empty one never had any. Should
    /// the removal fail, the run is merely listed, as it was before.
    fn forget(&self) {
        let _ = std::fs::remove_dir_all(&self.paths.run_dir);
    }

    fn idle(&self) -> bool {
        self.tasks.iter().all(|t| t.state.status.is_final())
            && !self.merging
            && self.merge_queue.is_empty()
            && self.removing == 0
    }

    fn now() -> SystemTime {
        SystemTime::now()
    }

    /// Active time of the run, sessions before a resume included.
    fn elapsed(&self) -> Duration {
        self.elapsed_before + self.clock.elapsed().saturating_sub(self.idle)
    }

    /// A resumed run first settles what the crash or stop left open: leftover agents are
    /// stopped and interrupted attempts' files saved on their attempt refs, unfinished tasks
    /// become pending, interrupted merges and worktree removals are done again.
    async fn recover(&mut self) {
        if self.recovery.is_empty() {
            return;
        }
        // Killed while merging, grove may have left the base and, when the base is checked out,
        // the checkout's index locked. Cleared once, before any step can start a merge (which
        // takes those locks itself).
        let interrupted_merge = self
            .recovery
            .iter()
            .filter_map(|step| match step {
                Recovery::Merge { lock_since, .. } => *lock_since,
                _ => None,
            })
            .min();
        if let (Some(since), Some(base)) = (interrupted_merge, self.repo.base_branch.clone()) {
            let repo = self.paths.repo_root.clone();
            let cleared = tokio::task::spawn_blocking(move || {
                git::remove_stale_ref_lock(&repo, &base, since)?;
                git::remove_stale_index_lock(&repo, &base, since)
            })
            .await;
            if let Ok(Err(e)) = cleared {
                self.audit.error("", &e.to_string());
            }
        }
        for step in std::mem::take(&mut self.recovery) {
            match step {
                Recovery::InFlight {
                    index,
                    attempt,
                    started_at,
                    argv,
                    requeue,
                } => {
                    let mut report = resume::interrupted_attempt(
                        &self.paths,
                        &self.tasks[index].spec,
                        attempt,
                        started_at,
                        argv,
                        &self.audit,
                    )
                    .await;
                    // A task's attempts since its follow-up are that follow-up.
                    let follow_up = self.tasks[index].follow_up.as_ref();
                    report.follow_up = follow_up.map(|f| f.prompt.clone());
                    self.journal_attempt(&report);
                    let (end, error) = (report.end(), report.error.clone());
                    // Work that could not be saved ends the task where it is.
                    let requeue = requeue && report.unsaved.is_none();
                    let task = &mut self.tasks[index];
                    report.reduce(&mut task.attempts, &mut task.work);
                    let next = match requeue {
                        true => Transition::Resume {
                            interrupted_attempt: true,
                        },
                        false => Transition::AttemptEnded {
                            end,
                            error,
                            retry_at: None,
                        },
                    };
                    self.transition(index, next);
                }
                Recovery::Discard { index } => self.transition(
                    index,
                    Transition::CancelBecause(
                        "discarded: another sibling of its race was picked".into(),
                    ),
                ),
                Recovery::Requeue {
                    index,
                    interrupted_attempt,
                } => self.transition(
                    index,
                    Transition::Resume {
                        interrupted_attempt,
                    },
                ),
                Recovery::Finish { index } => {
                    if let Some(last) = self.tasks[index].attempts.last() {
                        let (end, error) = (last.end(), last.error.clone());
                        self.transition(
                            index,
                            Transition::AttemptEnded {
                                end,
                                error,
                                retry_at: None,
                            },
                        );
                    }
                }
                Recovery::Merge { index, .. } => self.request_merge(index),
                Recovery::RemoveWorktree { index } => self.remove_worktree(index),
            }
        }
        self.results_dirty = true;
    }

    fn journal(&self, entry: Entry, sync: bool) {
        let outcome = self.journal.append(entry, sync);
        if let Err(e) = &outcome {
            self.audit
                .error("", &format!("cannot write the journal: {e}"));
        }
        let path = self.paths.run_dir.join(record::journal::FILE);
        self.tell_write(
            &self.journal_health,
            &path,
            outcome.err().map(|e| e.to_string()),
        );
    }

    /// Tells the front ends when writing a record file starts failing, and when it works again.
    fn tell_write(&self, health: &WriteHealth, path: &std::path::Path, error: Option<String>) {
        let (text, failed) = match health.note(error) {
            None => return,
            Some(WriteNews::Failing(e)) => (format!("cannot write {}: {e}", path.display()), true),
            Some(WriteNews::Recovered) => (format!("{} is written again", path.display()), false),
        };
        let _ = self.events.send(Event::RecordWrite { text, failed });
    }

    /// The task's whole state after a transition; made durable when the task ended.
    fn journal_state(&self, index: usize) {
        let t = &self.tasks[index];
        let s = &t.state;
        let fact = StateFact {
            task: t.spec.name.clone(),
            status: s.status,
            attempt: s.attempt,
            max_attempts: s.max_attempts,
            started_at: s.started_at,
            ended_at: s.ended_at,
            retry_at: s.retry_at,
            error: s.error.clone(),
        };
        self.journal(Entry::State(fact), s.status.is_final());
    }

    fn journal_attempt(&self, report: &AttemptFact) {
        self.journal(Entry::Attempt(Box::new(report.clone())), false);
    }

    fn journal_merge(&self, index: usize) {
        let t = &self.tasks[index];
        let fact = MergeFact {
            task: t.spec.name.clone(),
            state: t.merge,
            commit: t.merge_commit.clone(),
            conflicts: t.merge_conflicts.clone(),
            reason: t.merge_reason.clone(),
        };
        self.journal(Entry::Merge(fact), t.merge != MergeState::Pending);
    }

    /// The single entry point for task state changes: apply, log, tell front ends, record.
    fn transition(&mut self, index: usize, t: Transition) {
        let task = &mut self.tasks[index];
        if let Err(e) = task.state.apply(t, Self::now()) {
            self.audit.error(&task.spec.name, &e.to_string());
            return;
        }
        let status = task.state.status;
        self.audit.state(
            &task.spec.name,
            status.word(),
            task.state.error.as_deref().unwrap_or(""),
        );
        self.journal_state(index);
        // Any change reopens a finished run (a retry, a task added); it finishes again later.
        self.reopen();
        if status.is_final() {
            self.task_ended(index);
            self.results_dirty = true;
        }
        self.changed(index);
    }

    fn changed(&self, index: usize) {
        let _ = self.events.send(Event::TaskChanged(self.view(index)));
    }

    /// Starts (or skips) what can start now; then each pending task says what it waits for.
    fn schedule(&mut self) {
        self.start_ready();
        self.explain_pending();
    }

    /// Sends each pending task's new reason for waiting when it changed.
    fn explain_pending(&mut self) {
        let statuses: Vec<TaskStatus> = self.tasks.iter().map(|t| t.state.status).collect();
        for i in 0..self.tasks.len() {
            let why = match statuses[i] {
                TaskStatus::Pending => schedule::pending_reason(
                    &self.plan.strategy,
                    &self.plan.tasks,
                    &statuses,
                    self.plan.max_parallel,
                    i,
                ),
                _ => None,
            };
            if self.tasks[i].pending != why {
                self.tasks[i].pending = why;
                if statuses[i] == TaskStatus::Pending {
                    self.changed(i);
                }
            }
        }
    }

    fn start_ready(&mut self) {
        if self.shutting_down {
            let pending: Vec<usize> = (0..self.tasks.len())
                .filter(|&i| self.tasks[i].state.status == TaskStatus::Pending)
                .collect();
            for i in pending {
                self.transition(i, Transition::Cancel);
            }
            return;
        }
        // Memory is looked at (a read of /proc/meminfo) only when something would start or is
        // held, at most once a turn: the loop also turns for every key typed into an agent.
        let min_free_memory = self.plan.min_free_memory;
        let mut looked = None;
        let mut low_memory = || {
            looked
                .get_or_insert_with(|| admission::hold(min_free_memory))
                .clone()
        };
        let by_memory: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| self.held_by_memory(i))
            .collect();
        if !by_memory.is_empty() && low_memory().is_none() {
            for i in by_memory {
                self.hold(i, &None);
            }
        }
        // Retries whose delay is over go first: they were started before any pending task.
        // Not while paused: their setup steps would run while everything else is stopped.
        if !self.paused {
            for i in 0..self.tasks.len() {
                let task = &self.tasks[i];
                let due = task.retry_due && task.state.status == TaskStatus::Retrying;
                if due && self.active() < self.plan.max_parallel {
                    if self.limit_holds(i) {
                        continue;
                    }
                    if let held @ Some(_) = low_memory() {
                        self.hold(i, &held);
                        continue;
                    }
                    self.tasks[i].retry_due = false;
                    self.start_attempt(i);
                }
            }
        }
        loop {
            let statuses = self.scheduled_statuses();
            let decision = schedule::decide(
                &self.plan.strategy,
                &self.plan.tasks,
                &statuses,
                self.plan.max_parallel,
            );
            if decision.start.is_empty() && decision.skip.is_empty() {
                return;
            }
            for (i, reason) in decision.skip {
                self.transition(i, Transition::Skip(reason));
            }
            let held = match decision.start.is_empty() {
                true => None,
                false => low_memory(),
            };
            if held.is_some() {
                for i in decision.start {
                    self.hold(i, &held);
                }
                return;
            }
            for i in decision.start {
                self.start_attempt(i);
            }
        }
    }

    /// Task `i` would start now, but memory is low (`held`): it says so, and memory is looked
    /// at again shortly. Called with None, it is no longer held.
    fn hold(&mut self, i: usize, held: &Option<String>) {
        if self.tasks[i].held != *held {
            self.tasks[i].held = held.clone();
            self.changed(i);
        }
        if held.is_some() && !self.memory_check_armed {
            self.memory_check_armed = true;
            let internal = self.internal_tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(admission::RECHECK).await;
                let _ = internal.send(Internal::MemoryCheck);
            });
        }
    }

    fn start_attempt(&mut self, index: usize) {
        self.tasks[index].held = None;
        self.transition(index, Transition::Prepare);
        let wanted = self.tasks[index].spec.ports;
        if wanted > 0 && self.tasks[index].ports.is_empty() {
            match self.ports.reserve(wanted) {
                Ok(ports) => self.tasks[index].ports = ports,
                Err(e) => {
                    let task = &self.tasks[index];
                    let log = self.paths.attempt_log(&task.spec.name, task.state.attempt);
                    let mut report =
                        AttemptFact::new(&task.spec.name, task.state.attempt, Self::now(), log);
                    report.error = Some(format!("cannot reserve {wanted} TCP ports: {e}"));
                    self.attempt_done(index, report);
                    return;
                }
            }
        }
        let statuses: Vec<TaskStatus> = self.tasks.iter().map(|t| t.state.status).collect();
        let sources = schedule::output_sources(&self.plan.strategy, index, &statuses);
        let previous: Vec<(String, String)> = sources
            .iter()
            .filter_map(|&i| {
                let t = &self.tasks[i];
                t.work
                    .output
                    .as_ref()
                    .map(|(v, _)| (t.spec.name.clone(), output::output_text(v)))
            })
            .collect();
        let task = &self.tasks[index];
        let mut context = serde_json::Map::new();
        if !previous.is_empty() {
            let list = previous
                .iter()
                .map(|(task, out)| serde_json::json!({ "task": task, "output": out }))
                .collect();
            context.insert("previous_outputs".into(), serde_json::Value::Array(list));
        }
        // The agent gets to see why its last attempt's check failed, to fix it.
        if let Some(check) = task
            .attempts
            .last()
            .and_then(|a| a.check.as_ref())
            .filter(|c| !c.passed)
        {
            let failure = serde_json::json!({
                "command": check.command,
                "exit_code": check.exit_code,
                "output": check.output,
            });
            context.insert("check_failure".into(), failure);
        }
        let dependency_branches = task
            .spec
            .depends_on
            .iter()
            .map(|d| self.paths.branch(d))
            .collect();
        let job = AttemptJob {
            index,
            attempt: task.state.attempt,
            max_attempts: task.state.max_attempts,
            spec: task.spec.clone(),
            agent: task.agent.clone(),
            prompt: match &task.follow_up {
                Some(f) => f.prompt.clone(),
                None => output::prompt_with_outputs(&task.spec.prompt, &previous),
            },
            context,
            paths: self.paths.clone(),
            base_commit: self.repo.base_commit.clone(),
            dependency_branches,
            audit: self.audit.clone(),
            pane: task.pane.clone(),
            pane_size: task.pane_size,
            events: self.events.clone(),
            ports: task.ports.clone(),
            follow_up: task.follow_up.clone(),
        };
        let (handle, requests) = attempt::channel();
        // Started while the run is paused: it waits with the others.
        if self.paused {
            handle.send(Request::Pause(Ack::new().0));
        }
        if self.kill_now {
            handle.send(Request::KillNow);
        }
        self.tasks[index].attempt = Some(handle);
        tokio::spawn(attempt::run(job, requests, self.progress_tx.clone()));
    }

    fn internal(&mut self, msg: Internal) {
        match msg {
            Internal::Attempt(Progress::Spawned {
                index,
                attempt,
                pgid,
                argv,
            }) => {
                let task = &mut self.tasks[index];
                if task.state.attempt == attempt {
                    let task = task.spec.name.clone();
                    self.journal(
                        Entry::Spawned {
                            task,
                            attempt,
                            pgid,
                            argv,
                        },
                        false,
                    );
                    self.transition(index, Transition::Start);
                }
            }
            Internal::Attempt(Progress::Waiting {
                index,
                attempt,
                prompt,
            }) => {
                let state = &mut self.tasks[index].state;
                if state.attempt == attempt && state.set_waiting(prompt) {
                    self.changed(index);
                }
            }
            Internal::Attempt(Progress::Done { index, report }) => {
                self.attempt_done(index, *report)
            }
            Internal::RetryDue { index, generation } => {
                let task = &self.tasks[index];
                if task.state.status == TaskStatus::Retrying && task.retry_generation == generation
                {
                    // Started by `schedule`, which runs next.
                    self.tasks[index].retry_due = true;
                }
            }
            Internal::MergeDone { index, outcome } => {
                self.merging = false;
                self.merge_finished(index, outcome);
                self.next_merge();
            }
            Internal::WorktreeRemoved => self.removing = self.removing.saturating_sub(1),
            Internal::Paused(paused) => {
                let _ = self.events.send(Event::Paused(paused));
            }
            // `schedule`, which runs next, looks again.
            Internal::MemoryCheck => self.memory_check_armed = false,
            Internal::LimitReset => self.limit_reset(),
        }
    }

    fn active(&self) -> usize {
        self.tasks
            .iter()
            .filter(|t| matches!(t.state.status, TaskStatus::Preparing | TaskStatus::Running))
            .count()
    }

    fn attempt_done(&mut self, index: usize, report: AttemptFact) {
        self.journal_attempt(&report);
        self.tasks[index].attempt = None;
        if self.hold_at_limit(index, &report) {
            let task = &mut self.tasks[index];
            report.reduce(&mut task.attempts, &mut task.work);
            return;
        }
        let task = &mut self.tasks[index];
        let end = report.end();
        let error = report.error.clone();
        let retry = end != AttemptEnd::Succeeded
            && end != AttemptEnd::Cancelled
            && report.retryable
            && task.state.attempts_left()
            && !self.shutting_down;
        let retry_at = if retry {
            let delay = retry::delay(&task.spec.backoff, report.attempt, fastrand::f64());
            self.audit.retry(
                &task.spec.name,
                report.attempt + 1,
                delay,
                error.as_deref().unwrap_or(""),
            );
            self.schedule_retry_timer(index, delay);
            // Validation caps backoff at 30 days; the clock must not panic should one pass.
            let now = Self::now();
            Some(now.checked_add(delay).unwrap_or(now))
        } else {
            None
        };
        let task = &mut self.tasks[index];
        report.reduce(&mut task.attempts, &mut task.work);
        self.transition(
            index,
            Transition::AttemptEnded {
                end,
                error,
                retry_at,
            },
        );
    }

    /// Wakes the loop with `RetryDue` after `delay`; a newer timer for the task supersedes it.
    fn schedule_retry_timer(&mut self, index: usize, delay: std::time::Duration) {
        let task = &mut self.tasks[index];
        task.retry_generation += 1;
        task.retry_due = false;
        let generation = task.retry_generation;
        let internal = self.internal_tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = internal.send(Internal::RetryDue { index, generation });
        });
    }

    /// A task reached a final status: merge, clean up its worktree, free its ports, fail fast.
    fn task_ended(&mut self, index: usize) {
        let ports = std::mem::take(&mut self.tasks[index].ports);
        self.ports.release(&ports);
        let task = &self.tasks[index];
        let status = task.state.status;
        let first_passing = task
            .spec
            .group
            .as_ref()
            .is_some_and(|g| g.pick == Pick::FirstPassing);
        if status == TaskStatus::Succeeded && (task.spec.merge == MergeMode::Auto || first_passing)
        {
            self.request_merge(index);
        }
        let task = &self.tasks[index];
        let had_worktree = !task.attempts.is_empty();
        // Unsaved work stays where it was kept, whatever `keep_worktrees` says.
        let unsaved = task.attempts.last().is_some_and(|a| a.unsaved.is_some());
        if had_worktree && !unsaved && removes_worktree(task.spec.keep_worktrees, status) {
            self.remove_worktree(index);
        }
        let failed_for_good = matches!(status, TaskStatus::Failed | TaskStatus::TimedOut);
        // A race fails only when none of its siblings can still win.
        let race_alive = self.tasks[index].spec.group.as_ref().is_some_and(|g| {
            self.tasks.iter().any(|t| {
                t.spec.group.as_ref() == Some(g)
                    && (!t.state.status.is_final() || t.state.status == TaskStatus::Succeeded)
            })
        });
        if self.plan.fail_fast && failed_for_good && !race_alive && !self.shutting_down {
            let name = self.tasks[index].spec.name.clone();
            self.stop_all(
                StopReason::FailFast(name.clone()),
                Some(format!("fail_fast: '{name}' {}", status.word())),
            );
        }
    }

    /// Removes the task's worktree on a blocking thread (the run ends after it is gone).
    fn remove_worktree(&mut self, index: usize) {
        let task = &self.tasks[index];
        let (repo, path) = (
            self.paths.repo_root.clone(),
            self.paths.worktree(&task.spec.name),
        );
        let internal = self.internal_tx.clone();
        let audit = self.audit.clone();
        let name = task.spec.name.clone();
        self.removing += 1;
        tokio::task::spawn_blocking(move || {
            if let Err(e) = git::remove_worktree(&repo, &path) {
                audit.error(&name, &format!("removing worktree: {e}"));
            }
            let _ = internal.send(Internal::WorktreeRemoved);
        });
    }

    /// Stops every task in flight; pending ones are skipped (with `skip_reason`) or cancelled.
    fn stop_all(&mut self, reason: StopReason, skip_reason: Option<String>) {
        for i in 0..self.tasks.len() {
            let not_started = match (&skip_reason, self.tasks[i].state.status) {
                (Some(r), TaskStatus::Pending) => Transition::Skip(r.clone()),
                _ => Transition::Cancel,
            };
            self.stop_task(i, reason.clone(), not_started);
        }
    }

    /// Stops task `i` if it has not ended: one not started (pending, or waiting for a retry)
    /// takes the `not_started` transition; a running attempt is told to stop for `reason`, and
    /// the task's state changes when the attempt has ended.
    fn stop_task(&mut self, i: usize, reason: StopReason, not_started: Transition) {
        match self.tasks[i].state.status {
            TaskStatus::Pending | TaskStatus::Retrying => self.transition(i, not_started),
            TaskStatus::Preparing | TaskStatus::Running => {
                if let Some(attempt) = &self.tasks[i].attempt {
                    attempt.send(Request::Stop(reason));
                }
            }
            _ => {}
        }
    }

    /// Ends the run: if tasks are still pending or running they are cancelled and the run counts
    /// as interrupted; if everything has ended already, the loop just ends.
    fn shutdown(&mut self) {
        self.stop_requested = true;
        let unfinished: Vec<String> = self
            .tasks
            .iter()
            .filter(|t| !t.state.status.is_final())
            .map(|t| t.spec.name.clone())
            .collect();
        if !unfinished.is_empty() && !self.shutting_down {
            self.journal(Entry::Stopping { tasks: unfinished }, true);
            self.shutting_down = true;
            self.reopen();
            self.merge_queue.clear();
            self.stop_all(StopReason::Shutdown, None);
        }
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.tasks.iter().position(|t| t.spec.name == name)
    }

    /// Sends a request to every attempt in flight.
    fn ask_attempts(&self, request: impl Fn() -> Request) {
        for attempt in self.tasks.iter().filter_map(|t| t.attempt.as_ref()) {
            attempt.send(request());
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Shutdown => self.shutdown(),
            Command::KillNow => {
                self.kill_now = true;
                self.ask_attempts(|| Request::KillNow);
                self.shutdown();
            }
            Command::Pause | Command::Continue => {
                let paused = matches!(cmd, Command::Pause);
                self.paused = paused;
                let (ack, acked) = Ack::new();
                self.ask_attempts(|| match paused {
                    true => Request::Pause(ack.clone()),
                    false => Request::Continue(ack.clone()),
                });
                drop(ack);
                self.audit.paused(paused);
                // Answered once every attempt has done it.
                let internal = self.internal_tx.clone();
                let before = self.answering.take();
                self.answering = Some(tokio::spawn(async move {
                    if let Some(before) = before {
                        let _ = before.await;
                    }
                    acked.all().await;
                    let _ = internal.send(Internal::Paused(paused));
                }));
            }
            Command::Cancel { task } => {
                if let Some(i) = self.index_of(&task) {
                    self.stop_task(i, StopReason::Cancelled, Transition::Cancel);
                }
            }
            Command::Retry { task } => {
                let Some(i) = self.index_of(&task) else {
                    return;
                };
                if self.shutting_down {
                    return;
                }
                let status = self.tasks[i].state.status;
                if matches!(
                    status,
                    TaskStatus::Failed
                        | TaskStatus::TimedOut
                        | TaskStatus::Cancelled
                        | TaskStatus::Skipped
                ) {
                    self.transition(i, Transition::Requeue);
                    self.requeue_dependents(i);
                }
            }
            Command::Merge { task } => {
                if let Some(i) = self.index_of(&task) {
                    self.request_merge(i);
                }
            }
            Command::AddTask { task } => self.add_task(task),
            Command::FollowUp { task, prompt } => match self.index_of(&task) {
                Some(i) => self.follow_up(i, prompt),
                None => self.reject(task.clone(), format!("no task '{task}'")),
            },
            Command::CopyTask { task, mut copy } => match self.index_of(&task) {
                Some(i) => {
                    copy.keys = crate::plan::copy::task_keys(&self.plan, &self.tasks[i].spec);
                    self.add_task(copy);
                }
                None => self.reject(copy.name, format!("no task '{task}' to copy")),
            },
            Command::Input { task, bytes } => {
                if let Some(i) = self.index_of(&task) {
                    if let Some(attempt) = &self.tasks[i].attempt {
                        attempt.send(Request::Input(bytes));
                    }
                }
            }
            Command::Resize { task, rows, cols } => {
                if let Some(i) = self.index_of(&task) {
                    let t = &mut self.tasks[i];
                    t.pane_size = (rows.max(1), cols.max(1));
                    t.pane.resize(rows.max(1), cols.max(1));
                    if let Some(attempt) = &t.attempt {
                        attempt.send(Request::Resize(rows.max(1), cols.max(1)));
                    }
                }
            }
        }
    }

    /// A task joins the run: appended to the plan (validated like a plan file, with its
    /// defaults), the run's plan copy rewritten, then scheduled like any pending task.
    fn add_task(&mut self, new: NewTask) {
        if self.stop_requested {
            return self.reject(new.name, "the run is stopping".into());
        }
        let grown = crate::plan::UserConfig::load_for_started_run()
            .and_then(|config| crate::plan::grow::with_task(&self.plan, &new, &config));
        let plan = match grown {
            Ok(plan) => plan,
            // A flash line: several problems in one.
            Err(e) => return self.reject(new.name, e.to_string().replace('\n', "; ")),
        };
        // The plan grew by exactly this task, appended last.
        let spec = match plan.tasks.last() {
            Some(spec) if plan.tasks.len() == self.tasks.len() + 1 && spec.name == new.name => {
                spec.clone()
            }
            _ => return self.reject(new.name, "the plan did not take the task".into()),
        };
        let Some(agent) = agent::resolve(&plan, &spec.agent) else {
            return self.reject(new.name, format!("unknown agent '{}'", spec.agent));
        };
        if let Err(e) = write_plan_copy(&self.paths, &plan) {
            let error = format!(
                "cannot write the plan to {}: {e}",
                self.paths.run_dir.display()
            );
            return self.reject(new.name, error);
        }
        self.journal(
            Entry::TaskAdded {
                plan_text: plan.source.text.clone(),
                task: spec.name.clone(),
                prompt: spec.prompt.clone(),
            },
            true,
        );
        self.plan = plan;
        self.audit.task_added(&spec.name, &spec.agent);
        let index = self.tasks.len();
        let copied_keys = new.keys.keys().cloned().collect();
        self.tasks.push(Task::new(spec, agent, self.pane_size));
        self.tasks[index].copied_keys = copied_keys;
        let _ = self.events.send(Event::TaskAdded {
            view: self.view(index),
            pane: self.tasks[index].pane.clone(),
        });
        self.reopen();
        self.results_dirty = true;
    }

    /// The run is going on again after it had finished: the time it sat finished is not its time.
    fn reopen(&mut self) {
        if let Some((at, _)) = self.finished.take() {
            self.idle += Self::now().duration_since(at).unwrap_or_default();
        }
    }

    fn reject(&self, name: String, error: String) {
        self.audit.error(&name, &format!("task not added: {error}"));
        let _ = self.events.send(Event::TaskRejected { name, error });
    }

    /// After a manual retry: tasks skipped because of this one become pending again.
    fn requeue_dependents(&mut self, index: usize) {
        let name = self.tasks[index].spec.name.clone();
        let dependents: Vec<usize> = (0..self.tasks.len())
            .filter(|&j| {
                self.tasks[j].state.status == TaskStatus::Skipped
                    && self.tasks[j].spec.depends_on.contains(&name)
            })
            .collect();
        for j in dependents {
            self.transition(j, Transition::Requeue);
            self.requeue_dependents(j);
        }
    }

    fn request_merge(&mut self, index: usize) {
        let task = &mut self.tasks[index];
        if task.state.status != TaskStatus::Succeeded
            || matches!(
                task.merge,
                MergeState::Pending | MergeState::Merged | MergeState::Discarded
            )
        {
            return;
        }
        task.merge = MergeState::Pending;
        self.merge_queue.push_back(index);
        self.journal_merge(index);
        self.changed(index);
        self.pick(index);
        self.next_merge();
    }

    /// A race sibling is being merged: it is the race's pick. Its siblings are discarded (their
    /// branches and saved attempts stay), and those not ended yet are cancelled.
    fn pick(&mut self, index: usize) {
        let Some(group) = self.tasks[index].spec.group.clone() else {
            return;
        };
        let winner = self.tasks[index].spec.name.clone();
        let how = match self.tasks[index].spec.merge {
            MergeMode::Auto => "merge = auto",
            MergeMode::Manual if group.pick == Pick::FirstPassing => "first-passing",
            MergeMode::Manual => "manual",
        };
        self.audit.pick(&group.name, &winner, how);
        let siblings: Vec<usize> = (0..self.tasks.len())
            .filter(|&j| j != index && self.tasks[j].spec.group.as_ref() == Some(&group))
            .collect();
        for j in siblings {
            self.tasks[j].merge = MergeState::Discarded;
            self.journal_merge(j);
            let cancel = Transition::CancelBecause(attempt::picked(&winner));
            self.stop_task(j, StopReason::Raced(winner.clone()), cancel);
            // Shows the discard (a task not started has shown its cancel already).
            self.changed(j);
        }
        self.results_dirty = true;
    }

    /// One merge at a time, in the order they were requested.
    fn next_merge(&mut self) {
        if self.merging {
            return;
        }
        let Some(index) = self.merge_queue.pop_front() else {
            return;
        };
        self.merging = true;
        let name = self.tasks[index].spec.name.clone();
        let paths = self.paths.clone();
        let target = self.repo.base_branch.clone();
        let label = self.repo.base_label.clone();
        let internal = self.internal_tx.clone();
        tokio::task::spawn_blocking(move || {
            let outcome =
                merge_task(&paths, &name, target.as_deref(), &label).map_err(|e| e.to_string());
            let _ = internal.send(Internal::MergeDone { index, outcome });
        });
    }

    fn merge_finished(&mut self, index: usize, outcome: Result<MergeOutcome, String>) {
        let outcome = outcome.unwrap_or_else(|e| MergeOutcome::Refused { reason: e });
        let task = &mut self.tasks[index];
        apply_merge_outcome(task, &outcome);
        let (word, commit, detail) = describe_merge(&outcome);
        self.audit.merge(&task.spec.name, word, &commit, &detail);
        self.journal_merge(index);
        let task = &self.tasks[index];
        let _ = self.events.send(Event::Merged {
            task: task.spec.name.clone(),
            outcome,
        });
        self.changed(index);
        self.results_dirty = true;
    }

    fn finish(&mut self) {
        self.finished = Some((Self::now(), self.elapsed()));
        self.results_dirty = false;
        self.write_results();
        self.audit
            .run_finished(&self.paths.run_id, self.shutting_down);
        self.journal(
            Entry::RunFinished {
                interrupted: self.shutting_down,
            },
            true,
        );
        let count = |s: TaskStatus| self.tasks.iter().filter(|t| t.state.status == s).count();
        let summary = RunSummary {
            run_id: self.paths.run_id.clone(),
            results_path: self.paths.results(),
            results_error: self.results_health.failure(),
            total: self.tasks.len(),
            succeeded: count(TaskStatus::Succeeded),
            failed: count(TaskStatus::Failed),
            timed_out: count(TaskStatus::TimedOut),
            cancelled: count(TaskStatus::Cancelled),
            skipped: count(TaskStatus::Skipped),
            elapsed: self.elapsed(),
            interrupted: self.shutting_down,
            success: self.run_succeeded(),
        };
        let _ = self.events.send(Event::RunFinished(summary));
    }

    /// Fallback runs succeed when one alternative did; other strategies when every task did.
    /// Either way a succeeded task whose merge was refused (by the checkout's state, a lock, a
    /// base that is not a branch) fails the run: its work did not arrive where it was asked to.
    fn run_succeeded(&self) -> bool {
        if self
            .tasks
            .iter()
            .any(|t| t.state.status == TaskStatus::Succeeded && t.merge == MergeState::Refused)
        {
            return false;
        }
        let ok = |t: &Task| t.state.status == TaskStatus::Succeeded;
        // A race succeeds when one of its siblings did.
        let done = |t: &Task| {
            ok(t)
                || t.spec.group.as_ref().is_some_and(|g| {
                    self.tasks
                        .iter()
                        .any(|s| s.spec.group.as_ref() == Some(g) && ok(s))
                })
        };
        match self.plan.strategy {
            crate::plan::model::Strategy::Fallback => self.tasks.iter().any(ok),
            _ => self.tasks.iter().all(done),
        }
    }

    fn view(&self, index: usize) -> TaskView {
        let t = &self.tasks[index];
        let last = t.attempts.last();
        TaskView {
            index,
            name: t.spec.name.clone(),
            agent: t.spec.agent.clone(),
            prompt: t.spec.prompt.clone(),
            status: t.state.status,
            attempt: t.state.attempt,
            max_attempts: t.state.max_attempts,
            started_at: t.state.started_at,
            ended_at: t.state.ended_at,
            retry_at: t.state.retry_at,
            attempts: t.attempts.iter().map(AttemptFact::view).collect(),
            error: t.state.error.clone(),
            branch: self.paths.branch(&t.spec.name),
            worktree: self.paths.worktree(&t.spec.name),
            envelope_path: self.paths.envelope(&t.spec.name),
            head_commit: t.work.head_commit.clone(),
            diff_stat: t.work.diff_stat.clone(),
            merge: t.merge,
            merge_conflicts: t.merge_conflicts.clone(),
            input_hash: last.and_then(|a| a.input_hash.clone()),
            output_hash: t.work.output.as_ref().map(|(_, h)| h.clone()),
            usage: task_usage(t),
            waiting: t.state.waiting.clone(),
            group: t.spec.group.as_ref().map(|g| g.name.clone()),
            sandbox: t.spec.sandbox.label(),
            max_memory: t.spec.max_memory,
            held: t.held.clone(),
            follow_up: self.follow_up_refusal(index),
            timeout: t.spec.timeout,
            kill_grace: t.spec.kill_grace,
            copied_keys: t.copied_keys.clone(),
            pending: t.pending.clone(),
        }
    }

    fn write_results(&self) {
        let results = self.results();
        let error = results.save(&self.paths.results()).err().map(|e| {
            self.audit.error("", &e.to_string());
            match e {
                ResultsError::Write { source, .. } => source.to_string(),
                other => other.to_string(),
            }
        });
        self.tell_write(&self.results_health, &self.paths.results(), error);
    }

    fn results(&self) -> Results {
        let tasks = self
            .tasks
            .iter()
            .map(|t| task_result(t, &self.paths, &self.repo.base_commit))
            .collect();
        let mut results = Results {
            run_id: self.paths.run_id.clone(),
            plan: self.plan.name.clone(),
            repo: self.paths.repo_root.display().to_string(),
            base_commit: self.repo.base_commit.clone(),
            base_branch: self.repo.base_branch.clone(),
            strategy: self.plan.strategy.name().into(),
            started_at: record::rfc3339(self.started_at),
            completed_at: self.finished.map(|(at, _)| record::rfc3339(at)),
            total_execution_time: self
                .finished
                .map_or_else(|| self.elapsed(), |(_, d)| d)
                .as_secs_f64(),
            total_tasks: 0,
            succeeded: 0,
            failed: 0,
            timed_out: 0,
            cancelled: 0,
            skipped: 0,
            success_rate: 0.0,
            interrupted: self.shutting_down,
            tasks,
            results_by_agent: Default::default(),
            errors: Vec::new(),
            usage: None,
            groups: self.groups(),
        };
        results.recount();
        results
    }
}

/// Whether a task that ended with `status` gives its worktree up, per `keep_worktrees`.
pub(super) fn removes_worktree(keep: KeepWorktrees, status: TaskStatus) -> bool {
    match keep {
        KeepWorktrees::Always => false,
        KeepWorktrees::Never => true,
        KeepWorktrees::Failed => status == TaskStatus::Succeeded,
    }
}

impl Run {
    /// Every race of the run, in plan order, with its pick.
    fn groups(&self) -> Vec<GroupRecord> {
        let mut groups: Vec<GroupRecord> = Vec::new();
        for t in &self.tasks {
            let Some(group) = &t.spec.group else {
                continue;
            };
            let at = match groups.iter().position(|g| g.name == group.name) {
                Some(at) => at,
                None => {
                    groups.push(GroupRecord {
                        name: group.name.clone(),
                        pick: group.pick.name().into(),
                        siblings: Vec::new(),
                        picked: None,
                    });
                    groups.len() - 1
                }
            };
            groups[at].siblings.push(t.spec.name.clone());
            // A race's pick is the sibling whose merge was requested.
            if !matches!(t.merge, MergeState::NotRequested | MergeState::Discarded) {
                groups[at].picked = Some(t.spec.name.clone());
            }
        }
        groups
    }
}

/// The run's copy of its plan, as given (and as grown by tasks added while it runs).
fn write_plan_copy(paths: &RunPaths, plan: &Plan) -> std::io::Result<()> {
    let name = match plan.source.format {
        crate::plan::model::PlanFormat::Toml => "plan.toml",
        crate::plan::model::PlanFormat::Json => "plan.json",
    };
    record::write_record(&paths.run_dir.join(name), plan.source.text.as_bytes())
}

/// The snake_case word a status enum serializes to (as results.json spells it).
fn status_key(s: impl serde::Serialize) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The usage of all of a task's attempts, summed.
fn task_usage(t: &Task) -> Option<Usage> {
    Usage::total(t.attempts.iter().filter_map(|a| a.usage.as_ref()))
}

fn task_result(t: &Task, paths: &RunPaths, base_commit: &str) -> TaskResult {
    let name = &t.spec.name;
    let last = t.attempts.last();
    TaskResult {
        name: name.clone(),
        agent: t.spec.agent.clone(),
        status: status_key(t.state.status),
        exit_code: last.and_then(|a| a.exit_code),
        error: t.state.error.clone(),
        output: t
            .work
            .output
            .as_ref()
            .map(|(v, _)| v.clone())
            .unwrap_or(serde_json::Value::Null),
        branch: paths.branch(name),
        worktree: paths.worktree(name).display().to_string(),
        head_commit: t.work.head_commit.clone(),
        diff_stat: t.work.diff_stat.clone(),
        attempts: t.attempts.iter().map(AttemptFact::record).collect(),
        usage: task_usage(t),
        group: t.spec.group.as_ref().map(|g| g.name.clone()),
        sandbox: t.spec.sandbox.mode.word().into(),
        merge: MergeRecord {
            state: status_key(t.merge),
            commit: t.merge_commit.clone(),
            conflicts: t.merge_conflicts.clone(),
            reason: t.merge_reason.clone(),
        },
        provenance: Provenance {
            input_hash: last.and_then(|a| a.input_hash.clone()),
            output_hash: t.work.output.as_ref().map(|(_, h)| h.clone()),
            started_at: t.attempts.first().map(|a| record::rfc3339(a.started_at)),
            completed_at: t.state.ended_at.map(record::rfc3339),
            commands: t.attempts.iter().map(|a| a.argv.clone()).collect(),
            retry_count: (t.attempts.len() as u32).saturating_sub(1),
            worktree_path: paths.worktree(name).display().to_string(),
            base_commit: base_commit.to_string(),
        },
    }
}

fn apply_merge_outcome(task: &mut Task, outcome: &MergeOutcome) {
    match outcome {
        MergeOutcome::Merged { commit, .. } | MergeOutcome::AlreadyMerged { commit } => {
            task.merge = MergeState::Merged;
            task.merge_commit = Some(commit.clone());
            task.merge_conflicts.clear();
            task.merge_reason = None;
        }
        MergeOutcome::Conflict { paths } => {
            task.merge = MergeState::Conflict;
            task.merge_conflicts = paths.clone();
        }
        MergeOutcome::Refused { reason } => {
            task.merge = MergeState::Refused;
            task.merge_reason = Some(reason.clone());
        }
    }
}

/// (outcome word, commit, detail) for logs and printers.
/// Merges task `task`'s branch of the run at `paths` into the run's base branch `base_branch`;
/// a base that is not a branch (`None`; `base_label` names it) is refused. The one merge of a
/// task, for the engine and for `grove merge`.
pub fn merge_task(
    paths: &RunPaths,
    task: &str,
    base_branch: Option<&str>,
    base_label: &str,
) -> Result<MergeOutcome, git::GitError> {
    let Some(base) = base_branch else {
        return Ok(MergeOutcome::Refused {
            reason: format!(
                "base '{base_label}' is not a branch (a tag or commit); cannot merge into it"
            ),
        });
    };
    let run_id = &paths.run_id;
    let message = format!("grove: merge {task} ({run_id})\n\nGrove-Run: {run_id}\n");
    git::merge_into(&paths.repo_root, &paths.branch(task), base, &message)
}

pub fn describe_merge(outcome: &MergeOutcome) -> (&'static str, String, String) {
    match outcome {
        MergeOutcome::Merged {
            commit,
            fast_forward,
        } => (
            "merged",
            commit.clone(),
            if *fast_forward {
                "fast-forward".into()
            } else {
                "merge commit".into()
            },
        ),
        MergeOutcome::AlreadyMerged { commit } => {
            ("merged", commit.clone(), "already merged".into())
        }
        MergeOutcome::Conflict { paths } => ("conflict", String::new(), paths.join(", ")),
        MergeOutcome::Refused { reason } => ("refused", String::new(), reason.clone()),
    }
}
