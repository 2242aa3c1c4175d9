//! results.json: the run's outcome built from its tasks, and written (atomically, by
//! `Results::save`) once per loop turn when something in it changed; and whether the run as a
//! whole succeeded.

use crate::record::journal::AttemptFact;
use crate::record::results::{GroupRecord, Provenance, Results, ResultsError, TaskResult};
use crate::record::{self, RunPaths};

use super::super::api::{MergeState, TaskStatus};
use super::dispatcher::Run;
use super::task::{task_usage, Task};

impl Run {
    /// Fallback runs succeed when one alternative did; other strategies when every task did.
    /// Either way a succeeded task whose merge was refused (by the checkout's state, a lock, a
    /// base that is not a branch) fails the run: its work did not arrive where it was asked to.
    pub(super) fn run_succeeded(&self) -> bool {
        if self.tasks.iter().any(|t| {
            t.facts.state.status == TaskStatus::Succeeded
                && t.facts.merge.state == MergeState::Refused
        }) {
            return false;
        }
        let ok = |t: &Task| t.facts.state.status == TaskStatus::Succeeded;
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

    pub(super) fn write_results(&self) {
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

    pub(super) fn results(&self) -> Results {
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

impl Run {
    /// Every race of the run, in plan order, with its pick.
    pub(super) fn groups(&self) -> Vec<GroupRecord> {
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
            if !matches!(
                t.facts.merge.state,
                MergeState::NotRequested | MergeState::Discarded
            ) {
                groups[at].picked = Some(t.spec.name.clone());
            }
        }
        groups
    }
}

fn task_result(t: &Task, paths: &RunPaths, base_commit: &str) -> TaskResult {
    let name = &t.spec.name;
    let last = t.facts.attempts.last();
    TaskResult {
        name: name.clone(),
        agent: t.spec.agent.clone(),
        status: t.facts.state.status,
        exit_code: last.and_then(|a| a.exit_code),
        error: t.facts.state.error.clone(),
        output: t
            .facts
            .work
            .output
            .as_ref()
            .map(|(v, _)| v.clone())
            .unwrap_or(serde_json::Value::Null),
        branch: paths.branch(name),
        worktree: paths.worktree(name).display().to_string(),
        head_commit: t.facts.work.head_commit.clone(),
        diff_stat: t.facts.work.diff_stat.clone(),
        attempts: t.facts.attempts.iter().map(AttemptFact::record).collect(),
        usage: task_usage(t),
        group: t.spec.group.as_ref().map(|g| g.name.clone()),
        sandbox: t.spec.sandbox.mode.word().into(),
        merge: t.facts.merge.clone(),
        provenance: Provenance {
            input_hash: last.and_then(|a| a.input_hash.clone()),
            output_hash: t.facts.work.output.as_ref().map(|(_, h)| h.clone()),
            started_at: t
                .facts
                .attempts
                .first()
                .map(|a| record::rfc3339(a.started_at)),
            completed_at: t.facts.state.ended_at.map(record::rfc3339),
            commands: t.facts.attempts.iter().map(|a| a.argv.clone()).collect(),
            retry_count: (t.facts.attempts.len() as u32).saturating_sub(1),
            worktree_path: paths.worktree(name).display().to_string(),
            base_commit: base_commit.to_string(),
        },
    }
}
