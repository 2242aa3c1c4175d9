//! An attempt's end folded into its task: retry or not, the task's end (merge, worktree
//! removal, ports, fail-fast).

use std::time::Duration;

use crate::plan::model::{MergeMode, Pick};

use super::super::api::TaskStatus;
use crate::record::journal::AttemptFact;

use super::super::attempt::StopReason;
use super::super::retry;
use super::super::state::{removes_worktree, Transition};
use super::dispatcher::Run;
use super::event::Effect;

impl Run {
    pub(super) fn attempt_done(&mut self, index: usize, report: AttemptFact) {
        self.journal_attempt(&report);
        self.tasks[index].attempt = None;
        if self.hold_at_limit(index, &report) {
            let facts = &mut self.tasks[index].facts;
            report.reduce(&mut facts.attempts, &mut facts.work);
            return;
        }
        let task = &mut self.tasks[index];
        let end = report.end();
        let error = report.error.clone();
        let retry = task.facts.state.retries_after(end, report.retryable) && !self.shutting_down;
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
        let facts = &mut self.tasks[index].facts;
        report.reduce(&mut facts.attempts, &mut facts.work);
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
    pub(super) fn schedule_retry_timer(&mut self, index: usize, delay: Duration) {
        let task = &mut self.tasks[index];
        task.retry_generation += 1;
        task.retry_due = false;
        let generation = task.retry_generation;
        self.effects.push(Effect::RetryTimer {
            index,
            generation,
            delay,
        });
    }

    /// A task reached a final status: merge, clean up its worktree, free its ports, fail fast.
    pub(super) fn task_ended(&mut self, index: usize) {
        let ports = std::mem::take(&mut self.tasks[index].ports);
        self.ports.release(&ports);
        let task = &self.tasks[index];
        let status = task.facts.state.status;
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
        let had_worktree = !task.facts.attempts.is_empty();
        // Unsaved work stays where it was kept, whatever `keep_worktrees` says.
        let unsaved = task
            .facts
            .attempts
            .last()
            .is_some_and(|a| a.unsaved.is_some());
        if had_worktree && !unsaved && removes_worktree(task.spec.keep_worktrees, status) {
            self.remove_worktree(index);
        }
        let failed_for_good = matches!(status, TaskStatus::Failed | TaskStatus::TimedOut);
        // A race fails only when none of its siblings can still win.
        let race_alive = self.tasks[index].spec.group.as_ref().is_some_and(|g| {
            self.tasks.iter().any(|t| {
                t.spec.group.as_ref() == Some(g)
                    && (!t.facts.state.status.is_final()
                        || t.facts.state.status == TaskStatus::Succeeded)
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
    pub(super) fn remove_worktree(&mut self, index: usize) {
        self.removing += 1;
        self.effects.push(Effect::RemoveWorktree { index });
    }
}
