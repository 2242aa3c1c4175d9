//! The run loop's task: its spec and agent, its state machine, its pane and running attempt,
//! what its attempts left (output, commit, diff stat) and its merge; and its view for front ends.

use std::sync::Arc;

use crate::agent::AgentCommand;
use crate::git::DiffStat;
use crate::plan::model::TaskSpec;
use crate::record::results::MergeRecord;
use crate::term::pane::Pane;

use super::super::api::{AttemptView, CheckView, TaskView, Usage};
use super::super::attempt::{AttemptHandle, AttemptReport};
use super::super::state::TaskState;
use super::Run;

pub(super) struct Task {
    pub(super) spec: TaskSpec,
    pub(super) agent: AgentCommand,
    pub(super) state: TaskState,
    pub(super) pane: Arc<Pane>,
    /// Set while an attempt is in flight: its one request channel (stop, pause, input…).
    pub(super) attempt: Option<AttemptHandle>,
    /// Bumped on every retry schedule so a stale timer is ignored.
    pub(super) retry_generation: u64,
    /// The retry's delay is over: it starts as soon as a slot is free, before pending tasks.
    pub(super) retry_due: bool,
    pub(super) pane_size: (u16, u16),
    pub(super) attempts: Vec<AttemptReport>,
    pub(super) output: Option<(serde_json::Value, String)>,
    pub(super) head_commit: Option<String>,
    pub(super) diff_stat: Option<DiffStat>,
    pub(super) merge: MergeRecord,
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
            state: TaskState::new(spec.max_attempts()),
            pane: Arc::new(Pane::new(pane_size.0, pane_size.1, spec.scrollback)),
            spec,
            agent,
            attempt: None,
            retry_generation: 0,
            retry_due: false,
            pane_size,
            attempts: Vec::new(),
            output: None,
            head_commit: None,
            diff_stat: None,
            merge: MergeRecord::default(),
            ports: Vec::new(),
            held: None,
            copied_keys: Vec::new(),
            pending: None,
        }
    }
}

impl Run {
    /// Task `index` as front ends see it.
    pub(super) fn view(&self, index: usize) -> TaskView {
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
            attempts: t
                .attempts
                .iter()
                .map(|a| AttemptView {
                    n: a.attempt,
                    status: a.end.status(),
                    exit_code: a.exit_code,
                    started_at: a.started_at,
                    duration: Some(a.duration),
                    log: a.log.clone(),
                    error: a.error.clone(),
                    check: a.check.as_ref().map(|c| CheckView {
                        command: c.command.clone(),
                        exit_code: c.exit_code,
                        passed: c.passed,
                        duration: c.duration,
                    }),
                })
                .collect(),
            error: t.state.error.clone(),
            branch: self.paths.branch(&t.spec.name),
            worktree: self.paths.worktree(&t.spec.name),
            envelope_path: self.paths.envelope(&t.spec.name),
            head_commit: t.head_commit.clone(),
            diff_stat: t.diff_stat.clone(),
            merge: t.merge.state,
            merge_conflicts: t.merge.conflicts.clone(),
            input_hash: last.and_then(|a| a.input_hash.clone()),
            output_hash: t.output.as_ref().map(|(_, h)| h.clone()),
            usage: task_usage(t),
            waiting: t.state.waiting.clone(),
            group: t.spec.group.as_ref().map(|g| g.name.clone()),
            sandbox: t.spec.sandbox.label(),
            max_memory: t.spec.max_memory,
            held: t.held.clone(),
            timeout: t.spec.timeout,
            kill_grace: t.spec.kill_grace,
            copied_keys: t.copied_keys.clone(),
            pending: t.pending.clone(),
        }
    }
}

/// The usage of all of a task's attempts, summed.
pub(super) fn task_usage(t: &Task) -> Option<Usage> {
    Usage::total(t.attempts.iter().filter_map(|a| a.usage.as_ref()))
}
