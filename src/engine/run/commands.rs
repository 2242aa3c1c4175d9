//! Front-end commands, and stopping: cancel, retry by hand, merge, pause, input, resize, tasks
//! added or copied while the run goes on, shutdown and fail-fast.

use crate::agent;
use crate::plan::{PlanError, UserConfig};
use crate::record::journal::Entry;

use super::super::api::{Command, Event, NewTask, TaskStatus};
use super::super::attempt::{Ack, Request, StopReason};
use super::super::launch::write_plan_copy;
use super::super::state::{retryable_by_hand, Transition};
use super::dispatcher::Run;
use super::event::Effect;
use super::task::Task;

impl Run {
    pub(super) fn stop_all(&mut self, reason: StopReason, skip_reason: Option<String>) {
        for i in 0..self.tasks.len() {
            let not_started = match (&skip_reason, self.tasks[i].facts.state.status) {
                (Some(r), TaskStatus::Pending) => Transition::Skip(r.clone()),
                _ => Transition::Cancel,
            };
            self.stop_task(i, reason.clone(), not_started);
        }
    }

    /// Stops task `i` if it has not ended: one not started (pending, or waiting for a retry)
    /// takes the `not_started` transition; a running attempt is told to stop for `reason`, and
    /// the task's state changes when the attempt has ended.
    pub(super) fn stop_task(&mut self, i: usize, reason: StopReason, not_started: Transition) {
        match self.tasks[i].facts.state.status {
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
    pub(super) fn shutdown(&mut self) {
        self.stop_requested = true;
        let unfinished: Vec<String> = self
            .tasks
            .iter()
            .filter(|t| !t.facts.state.status.is_final())
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

    pub(super) fn command(
        &mut self,
        cmd: Command,
        config: Option<Box<Result<UserConfig, PlanError>>>,
    ) {
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
                self.effects.push(Effect::AwaitAcks { acked, paused });
            }
            Command::Cancel { task } => {
                if let Some(i) = self.task_index(task) {
                    self.stop_task(i, StopReason::Cancelled, Transition::Cancel);
                }
            }
            Command::Retry { task } => {
                let Some(i) = self.task_index(task) else {
                    return;
                };
                if self.shutting_down {
                    return;
                }
                if retryable_by_hand(self.tasks[i].facts.state.status) {
                    self.transition(i, Transition::Requeue);
                    self.requeue_dependents(i);
                }
            }
            Command::Merge { task } => {
                if let Some(i) = self.task_index(task) {
                    self.request_merge(i);
                }
            }
            Command::AddTask { task } => self.add_task(task, config),
            Command::FollowUp { task, prompt } => match self.task_index(task) {
                Some(i) => self.follow_up(i, prompt),
                None => self.reject(task.to_string(), format!("no task {task}")),
            },
            Command::CopyTask { task, mut copy } => match self.task_index(task) {
                Some(i) => {
                    copy.keys = crate::plan::copy::task_keys(&self.plan, &self.tasks[i].spec);
                    self.add_task(copy, config);
                }
                None => self.reject(copy.name, format!("no task {task} to copy")),
            },
            Command::Input { task, bytes } => {
                if let Some(i) = self.task_index(task) {
                    if let Some(attempt) = &self.tasks[i].attempt {
                        attempt.send(Request::Input(bytes));
                    }
                }
            }
            Command::Resize { task, rows, cols } => {
                if let Some(i) = self.task_index(task) {
                    let t = &mut self.tasks[i];
                    let (rows, cols) = crate::term::pane::pane_size(rows, cols);
                    t.pane_size = (rows, cols);
                    t.pane.resize(rows, cols);
                    if let Some(attempt) = &t.attempt {
                        attempt.send(Request::Resize(rows, cols));
                    }
                }
            }
        }
    }

    /// A task joins the run: appended to the plan (validated like a plan file, with its
    /// defaults), the run's plan copy rewritten, then scheduled like any pending task.
    /// `config` is the user config as the loop read it with the command (`RunEvent::command`).
    pub(super) fn add_task(
        &mut self,
        new: NewTask,
        config: Option<Box<Result<UserConfig, PlanError>>>,
    ) {
        if self.stop_requested {
            return self.reject(new.name, "the run is stopping".into());
        }
        let Some(config) = config else {
            return self.reject(new.name, "the user config was not read".into());
        };
        // Programs are looked for on the run's PATH: the server's own may differ.
        let path = self.env.var("PATH");
        let grown = (*config)
            .and_then(|config| crate::plan::grow::with_task(&self.plan, &new, &config, path));
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
        // Written here, synchronously like the journal: whether it could be written decides
        // whether the task joins, and the plan copy is on disk before anyone hears of the task.
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

    pub(super) fn reject(&self, name: String, error: String) {
        self.audit.error(&name, &format!("task not added: {error}"));
        let _ = self.events.send(Event::TaskRejected { name, error });
    }

    /// After a manual retry: tasks skipped because of this one become pending again.
    pub(super) fn requeue_dependents(&mut self, index: usize) {
        let name = self.tasks[index].spec.name.clone();
        let dependents: Vec<usize> = (0..self.tasks.len())
            .filter(|&j| {
                self.tasks[j].facts.state.status == TaskStatus::Skipped
                    && self.tasks[j].spec.depends_on.contains(&name)
            })
            .collect();
        for j in dependents {
            self.transition(j, Transition::Requeue);
            self.requeue_dependents(j);
        }
    }
}
