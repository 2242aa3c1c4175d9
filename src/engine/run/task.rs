//! The run loop's task: its spec and agent, its state machine, its pane and running attempt,
//! what its attempts left (output, commit, diff stat) and its merge; and its view for front ends.

use std::sync::Arc;

use crate::agent::AgentCommand;
use crate::plan::model::TaskSpec;
use crate::record::RunPaths;
use crate::term::pane::Pane;

use crate::record::journal::AttemptFact;

use super::super::api::{TaskId, TaskView, Usage};
use super::super::attempt::AttemptHandle;
use super::super::follow_up;
use super::super::launch::TaskFacts;

pub(super) struct Task {
    pub(super) spec: TaskSpec,
    pub(super) agent: AgentCommand,
    /// Its state, attempts, what its success left and its merge: what the journal keeps.
    pub(super) facts: TaskFacts,
    pub(super) pane: Arc<Pane>,
    /// Set while an attempt is in flight: its one request channel (stop, pause, input…).
    pub(super) attempt: Option<AttemptHandle>,
    /// Bumped on every retry schedule so a stale timer is ignored.
    pub(super) retry_generation: u64,
    /// The retry's delay is over: it starts as soon as a slot is free, before pending tasks.
    pub(super) retry_due: bool,
    pub(super) pane_size: (u16, u16),
    /// TCP ports held for the task from its first attempt until it ends.
    pub(super) ports: Vec<u16>,
    /// Why it did not start when its turn came (admission control: low memory).
    pub(super) held: Option<String>,
    /// The keys of its plan entry a copy (`N`) takes over, for the form to name them.
    pub(super) copied_keys: Vec<String>,
    /// While pending: what it waits for (a dependency, a slot, its turn).
    pub(super) pending: Option<String>,
}

impl Task {
    pub(super) fn new(spec: TaskSpec, agent: AgentCommand, pane_size: (u16, u16)) -> Task {
        Task {
            facts: TaskFacts::new(spec.max_attempts()),
            pane: Arc::new(Pane::new(pane_size.0, pane_size.1, spec.scrollback)),
            spec,
            agent,
            attempt: None,
            retry_generation: 0,
            retry_due: false,
            pane_size,
            ports: Vec::new(),
            held: None,
            copied_keys: Vec::new(),
            pending: None,
        }
    }
}

impl Task {
    /// The task, `index` in its run at `paths`, as front ends see it.
    pub(super) fn view(&self, index: usize, paths: &RunPaths) -> TaskView {
        let t = self;
        let last = t.facts.attempts.last();
        TaskView {
            id: TaskId(index),
            name: t.spec.name.clone(),
            agent: t.spec.agent.clone(),
            prompt: t.spec.prompt.clone(),
            status: t.facts.state.status,
            attempt: t.facts.state.attempt,
            max_attempts: t.facts.state.max_attempts,
            started_at: t.facts.state.started_at,
            ended_at: t.facts.state.ended_at,
            retry_at: t.facts.state.retry_at,
            attempts: t.facts.attempts.iter().map(AttemptFact::view).collect(),
            error: t.facts.state.error.clone(),
            branch: paths.branch(&t.spec.name),
            worktree: paths.worktree(&t.spec.name),
            envelope_path: paths.envelope(&t.spec.name),
            head_commit: t.facts.work.head_commit.clone(),
            diff_stat: t.facts.work.diff_stat.clone(),
            merge: t.facts.merge.state,
            merge_conflicts: t.facts.merge.conflicts.clone(),
            input_hash: last.and_then(|a| a.input_hash.clone()),
            output_hash: t.facts.work.output.as_ref().map(|(_, h)| h.clone()),
            usage: task_usage(t),
            waiting: t.facts.state.waiting.clone(),
            group: t.spec.group.as_ref().map(|g| g.name.clone()),
            sandbox: t.spec.sandbox.label(),
            max_memory: t.spec.max_memory,
            held: t.held.clone(),
            follow_up: follow_up::refusal(
                &t.spec.name,
                t.facts.state.status,
                t.facts.merge.state,
                &t.agent,
                &t.facts.attempts,
            )
            .err(),
            timeout: t.spec.timeout,
            kill_grace: t.spec.kill_grace,
            copied_keys: t.copied_keys.clone(),
            pending: t.pending.clone(),
        }
    }
}

/// The usage of all of a task's attempts, summed.
pub(super) fn task_usage(t: &Task) -> Option<Usage> {
    Usage::total(t.facts.attempts.iter().filter_map(|a| a.usage.as_ref()))
}
