//! The run loop itself (nextest's dispatcher is the model): `main` turns every input into a
//! `RunEvent`, `handle_event` decides and returns `Effect`s, `carry_out` (effects.rs) does them.
//! The decisions' parts live in the sibling files, each an `impl Run`.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use crate::environment::Environment;
use crate::plan::model::Plan;
use crate::plan::RepoTarget;
use crate::record::audit::Audit;
use crate::record::journal::{Entry, Journal};
use crate::record::lock::RunLock;
use crate::record::{RunPaths, WriteHealth};

use super::super::api::*;
use super::super::attempt::{Progress, Request};
use super::super::launch::{Launch, Recovery};
use super::super::limits::Limits;
use super::super::ports::Ports;
use super::super::state::Transition;
use super::event::{Effect, Flow, RunEvent};
use super::task::Task;

/// The loop's inputs (the senders are the front end's and the run's own).
pub(super) struct Inputs {
    commands: mpsc::UnboundedReceiver<Command>,
    internal: mpsc::UnboundedReceiver<RunEvent>,
    progress: mpsc::UnboundedReceiver<Progress>,
}

pub(super) struct Run {
    pub(super) plan: Plan,
    pub(super) repo: RepoTarget,
    pub(super) paths: RunPaths,
    pub(super) audit: Audit,
    pub(super) tasks: Vec<Task>,
    pub(super) events: mpsc::UnboundedSender<Event>,
    pub(super) internal_tx: mpsc::UnboundedSender<RunEvent>,
    /// Where every attempt reports its progress (one channel for all, read by the loop).
    pub(super) progress_tx: mpsc::UnboundedSender<Progress>,
    pub(super) started_at: SystemTime,
    pub(super) clock: Instant,
    /// Stop was asked for (Shutdown, or the front end went away): end once idle.
    pub(super) stop_requested: bool,
    /// Tasks were cancelled by that stop: the run was interrupted.
    pub(super) shutting_down: bool,
    pub(super) merge_queue: VecDeque<usize>,
    pub(super) merging: bool,
    /// Worktree removals in flight (the run ends after they finish).
    pub(super) removing: usize,
    /// RunFinished was sent for the current idle state: when, and the run's active time then
    /// (what results.json keeps as the run's completion, even when rewritten after a merge).
    pub(super) finished: Option<(SystemTime, Duration)>,
    /// Time the run sat finished before something reopened it (a retry, a task added): the
    /// user looking around, not the run's time.
    pub(super) idle: Duration,
    /// results.json is behind: written once per loop turn, however many tasks changed in it.
    pub(super) results_dirty: bool,
    /// How the writes of results.json and of the journal went lately.
    pub(super) results_health: WriteHealth,
    pub(super) journal_health: WriteHealth,
    pub(super) ports: Ports,
    /// The size new tasks' panes start with.
    pub(super) pane_size: (u16, u16),
    /// What the run's processes start with (the asking command's environment).
    pub(super) env: Environment,
    pub(super) journal: Journal,
    /// Held while this process runs the run, so other grove processes see it as live.
    pub(super) _lock: RunLock,
    /// Time the run was active before this process took it over (`grove resume`).
    pub(super) elapsed_before: Duration,
    /// The run is paused (Ctrl-Z): every attempt is asked to pause, those that start too.
    pub(super) paused: bool,
    /// Set by `KillNow`: attempts being stopped skip (the rest of) the grace period, those that
    /// start too.
    pub(super) kill_now: bool,
    /// The latest pause or continue waiting for every attempt's ack; the next one answers after
    /// it, so front ends hear `Paused` in the order they asked.
    pub(super) answering: Option<tokio::task::JoinHandle<()>>,
    /// What a resumed run does before scheduling anything.
    pub(super) recovery: Vec<Recovery>,
    /// A `MemoryCheck` is on its way.
    pub(super) memory_check_armed: bool,
    /// The agents at their usage limit.
    pub(super) limits: Limits,
    /// `grove follow-up`: the follow-up (task, prompt) the reopened run starts with.
    pub(super) follow_up_request: Option<(TaskId, String)>,
    /// What the decisions of the current event asked for, handed to the loop by `handle_event`.
    pub(super) effects: Vec<Effect>,
}
/// Builds the run loop's state from `l` and announces its tasks, without starting the loop.
pub(super) fn assemble(l: Launch) -> (Run, FrontEnd, Inputs) {
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
                task.facts = r.facts;
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
        // The config as the run's commands read it (it validated when the run started: one
        // broken since offers the presets and the plan's agents).
        agents: AgentChoice::all(
            &crate::plan::UserConfig::load_for_started_run_in(&l.env).unwrap_or_default(),
            &l.plan,
            l.env.var("PATH"),
        ),
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
        env: l.env,
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
        effects: Vec::new(),
    };
    for i in 0..run.tasks.len() {
        let _ = run.events.send(Event::TaskAdded {
            view: run.view(i),
            pane: run.tasks[i].pane.clone(),
        });
    }
    run.write_results();
    let inputs = Inputs {
        commands: commands_rx,
        internal: internal_rx,
        progress: progress_rx,
    };
    let front_end = FrontEnd {
        commands: commands_tx,
        events: events_rx,
        info,
    };
    (run, front_end, inputs)
}

/// Builds the run loop's state, announces the tasks, and starts the loop.
pub(crate) fn begin(l: Launch) -> (FrontEnd, tokio::task::JoinHandle<()>) {
    let (run, front_end, inputs) = assemble(l);
    (front_end, tokio::spawn(run.main(inputs)))
}

impl Run {
    pub(super) async fn main(mut self, mut inputs: Inputs) {
        self.recover().await;
        if let Some((task, prompt)) = self.follow_up_request.take() {
            let effects = self.handle_event(RunEvent::command(Command::FollowUp { task, prompt }));
            self.carry_out(effects);
        }
        let mut front_end_open = true;
        loop {
            let (effects, flow) = self.settle(front_end_open);
            self.carry_out(effects);
            if flow == Flow::End {
                break;
            }
            if std::mem::take(&mut self.results_dirty) {
                self.write_results();
            }
            let event = tokio::select! {
                cmd = inputs.commands.recv(), if front_end_open => match cmd {
                    Some(command) => RunEvent::command(command),
                    None => {
                        front_end_open = false;
                        RunEvent::FrontEndGone
                    }
                },
                msg = inputs.internal.recv() => match msg {
                    Some(msg) => msg,
                    None => break,
                },
                // The run holds a sender, so this never ends while the loop runs.
                Some(p) = inputs.progress.recv() => RunEvent::Attempt(p),
            };
            let effects = self.handle_event(event);
            self.carry_out(effects);
        }
        if self.tasks.is_empty() {
            self.forget();
        } else if self.results_dirty {
            self.write_results();
        }
    }

    /// What every turn of the loop begins with: start (or skip) what can start now, and, once
    /// nothing is left to do, finish the run; it ends when stopping or without a front end.
    pub(super) fn settle(&mut self, front_end_open: bool) -> (Vec<Effect>, Flow) {
        self.schedule();
        let mut flow = Flow::Go;
        if self.idle() {
            if self.finished.is_none() {
                self.finish();
            }
            if self.stop_requested || !front_end_open {
                flow = Flow::End;
            }
        }
        (std::mem::take(&mut self.effects), flow)
    }

    /// A run no task ever joined (bare `grove`, then `q`) did nothing worth keeping: its records
    /// go, so it is not listed. Tasks only ever join a run, so an empty one never had any. Should
    /// the removal fail, the run is merely listed, as it was before.
    pub(super) fn forget(&self) {
        let _ = std::fs::remove_dir_all(&self.paths.run_dir);
    }

    pub(super) fn idle(&self) -> bool {
        self.tasks.iter().all(|t| t.facts.state.status.is_final())
            && !self.merging
            && self.merge_queue.is_empty()
            && self.removing == 0
    }

    pub(super) fn now() -> SystemTime {
        SystemTime::now()
    }

    /// Active time of the run, sessions before a resume included.
    pub(super) fn elapsed(&self) -> Duration {
        self.elapsed_before + self.clock.elapsed().saturating_sub(self.idle)
    }

    /// The single entry point for task state changes: apply, log, tell front ends, record.
    pub(super) fn transition(&mut self, index: usize, t: Transition) {
        let task = &mut self.tasks[index];
        if let Err(e) = task.facts.state.apply(t, Self::now()) {
            self.audit.error(&task.spec.name, &e.to_string());
            return;
        }
        let status = task.facts.state.status;
        self.audit.state(
            &task.spec.name,
            status.word(),
            task.facts.state.error.as_deref().unwrap_or(""),
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

    /// Task `index` as front ends see it.
    pub(super) fn view(&self, index: usize) -> TaskView {
        self.tasks[index].view(index, &self.paths)
    }

    pub(super) fn changed(&self, index: usize) {
        let _ = self.events.send(Event::TaskChanged(self.view(index)));
    }

    /// Decides what `event` changes and returns what the loop is to do about it.
    pub(super) fn handle_event(&mut self, event: RunEvent) -> Vec<Effect> {
        match event {
            RunEvent::Command { command, config } => self.command(command, config),
            RunEvent::FrontEndGone => self.shutdown(),
            RunEvent::Attempt(Progress::Spawned {
                index,
                attempt,
                pgid,
                argv,
            }) => {
                let task = &mut self.tasks[index];
                if task.facts.state.attempt == attempt {
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
            RunEvent::Attempt(Progress::Waiting {
                index,
                attempt,
                prompt,
            }) => {
                let state = &mut self.tasks[index].facts.state;
                if state.attempt == attempt && state.set_waiting(prompt) {
                    self.changed(index);
                }
            }
            RunEvent::Attempt(Progress::Done { index, report }) => {
                self.attempt_done(index, *report)
            }
            RunEvent::RetryDue { index, generation } => {
                let task = &self.tasks[index];
                if task.facts.state.status == TaskStatus::Retrying
                    && task.retry_generation == generation
                {
                    // Started by `schedule`, which runs next.
                    self.tasks[index].retry_due = true;
                }
            }
            RunEvent::MergeDone { index, outcome } => {
                self.merging = false;
                self.merge_finished(index, outcome);
                self.next_merge();
            }
            RunEvent::WorktreeRemoved => self.removing = self.removing.saturating_sub(1),
            RunEvent::Paused(paused) => {
                let _ = self.events.send(Event::Paused(paused));
            }
            // `schedule`, which runs next, looks again.
            RunEvent::MemoryCheck => self.memory_check_armed = false,
            RunEvent::LimitReset => self.limit_reset(),
        }
        std::mem::take(&mut self.effects)
    }

    pub(super) fn active(&self) -> usize {
        self.tasks
            .iter()
            .filter(|t| {
                matches!(
                    t.facts.state.status,
                    TaskStatus::Preparing | TaskStatus::Running
                )
            })
            .count()
    }

    /// Sends a request to every attempt in flight.
    pub(super) fn ask_attempts(&self, request: impl Fn() -> Request) {
        for attempt in self.tasks.iter().filter_map(|t| t.attempt.as_ref()) {
            attempt.send(request());
        }
    }

    /// Where task `id` is in the run, when it is one of its tasks.
    pub(super) fn task_index(&self, id: TaskId) -> Option<usize> {
        (id.index() < self.tasks.len()).then_some(id.index())
    }

    /// The run is going on again after it had finished: the time it sat finished is not its time.
    pub(super) fn reopen(&mut self) {
        if let Some((at, _)) = self.finished.take() {
            self.idle += Self::now().duration_since(at).unwrap_or_default();
        }
    }

    pub(super) fn finish(&mut self) {
        self.finished = Some((Self::now(), self.elapsed()));
        // Written here, synchronously, before `RunFinished`: its summary says whether it could be.
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
        let count = |s: TaskStatus| {
            self.tasks
                .iter()
                .filter(|t| t.facts.state.status == s)
                .count()
        };
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
}
