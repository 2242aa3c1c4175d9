//! Starting tasks: what the strategy lets start now (or skips), retries whose delay is over,
//! admission control, and the attempt job each start hands the loop.

use crate::record::journal::AttemptFact;

use super::super::admission;
use super::super::api::TaskStatus;
use super::super::attempt::{self, Ack, AttemptJob, Request};
use super::super::output;
use super::super::schedule;
use super::super::state::Transition;
use super::dispatcher::Run;
use super::event::Effect;

impl Run {
    /// Starts (or skips) what can start now; then each pending task says what it waits for.
    pub(super) fn schedule(&mut self) {
        self.start_ready();
        self.explain_pending();
    }

    /// Sends each pending task's new reason for waiting when it changed.
    pub(super) fn explain_pending(&mut self) {
        let statuses: Vec<TaskStatus> = self.tasks.iter().map(|t| t.facts.state.status).collect();
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

    pub(super) fn start_ready(&mut self) {
        if self.shutting_down {
            let pending: Vec<usize> = (0..self.tasks.len())
                .filter(|&i| self.tasks[i].facts.state.status == TaskStatus::Pending)
                .collect();
            for i in pending {
                self.transition(i, Transition::Cancel);
            }
            return;
        }
        // Memory is looked at (a read of /proc/meminfo) only when something would start or is
        // held, at most once a turn: the loop also turns for every key typed into an agent.
        let (min_free_memory, env) = (self.plan.min_free_memory, self.env.clone());
        let mut looked = None;
        let mut low_memory = || {
            looked
                .get_or_insert_with(|| admission::hold(min_free_memory, &env))
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
                let due = task.retry_due && task.facts.state.status == TaskStatus::Retrying;
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
    pub(super) fn hold(&mut self, i: usize, held: &Option<String>) {
        if self.tasks[i].held != *held {
            self.tasks[i].held = held.clone();
            self.changed(i);
        }
        if held.is_some() && !self.memory_check_armed {
            self.memory_check_armed = true;
            self.effects.push(Effect::MemoryCheck);
        }
    }

    pub(super) fn start_attempt(&mut self, index: usize) {
        self.tasks[index].held = None;
        self.transition(index, Transition::Prepare);
        let wanted = self.tasks[index].spec.ports;
        if wanted > 0 && self.tasks[index].ports.is_empty() {
            match self.ports.reserve(wanted) {
                Ok(ports) => self.tasks[index].ports = ports,
                Err(e) => {
                    let task = &self.tasks[index];
                    let log = self
                        .paths
                        .attempt_log(&task.spec.name, task.facts.state.attempt);
                    let mut report = AttemptFact::new(
                        &task.spec.name,
                        task.facts.state.attempt,
                        Self::now(),
                        log,
                    );
                    report.error = Some(format!("cannot reserve {wanted} TCP ports: {e}"));
                    self.attempt_done(index, report);
                    return;
                }
            }
        }
        let statuses: Vec<TaskStatus> = self.tasks.iter().map(|t| t.facts.state.status).collect();
        let sources = schedule::output_sources(&self.plan.strategy, index, &statuses);
        let previous: Vec<(String, String)> = sources
            .iter()
            .filter_map(|&i| {
                let t = &self.tasks[i];
                t.facts
                    .work
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
            .facts
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
            attempt: task.facts.state.attempt,
            max_attempts: task.facts.state.max_attempts,
            spec: task.spec.clone(),
            agent: task.agent.clone(),
            prompt: match &task.facts.follow_up {
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
            follow_up: task.facts.follow_up.clone(),
            env: self.env.clone(),
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
        self.effects.push(Effect::StartAttempt {
            job: Box::new(job),
            requests,
        });
    }
}
