//! The run loop's follow-ups and usage-limit holds: a finished task asked to continue its
//! agent's session (`Command::FollowUp`), and an attempt that stopped at the agent's usage
//! limit, which holds that agent's tasks until the reset instead of spending retries.

use std::time::{Duration, SystemTime};

use crate::record::journal::{AttemptFact, Entry};
use crate::record::results::MergeRecord;
use crate::status::MergeStep;

use super::super::api::{MergeState, TaskStatus};
use super::super::follow_up::{self, FollowUp, AFTER_LIMIT};
use super::super::state::{AttemptEnd, Transition};
use super::dispatcher::Run;
use super::event::Effect;
use super::task::Task;

/// Where a held task's `held` reason starts, to tell it from low memory's.
const HELD_BY_LIMIT: &str = "usage limit";

/// Whether `task` is held by its agent's usage limit (not by low memory).
fn held_by_limit(task: &Task) -> bool {
    task.held
        .as_deref()
        .is_some_and(|h| h.starts_with(HELD_BY_LIMIT))
}

impl Run {
    /// Whether task `i` is held by low memory (admission control), not by a usage limit.
    pub(super) fn held_by_memory(&self, i: usize) -> bool {
        let task = &self.tasks[i];
        task.held.is_some() && !held_by_limit(task)
    }

    /// A follow-up of task `index` with `prompt`: journaled, then the task is pending again
    /// and its next attempt continues the session. Refused (`TaskRejected`) with the reason.
    pub(super) fn follow_up(&mut self, index: usize, prompt: String) {
        let t = &self.tasks[index];
        let name = t.spec.name.clone();
        let facts = &t.facts;
        let (status, merge) = (facts.state.status, facts.merge.state);
        let asked = follow_up::follow_up(&name, status, merge, &t.agent, &facts.attempts, &prompt);
        let follow_up = match asked {
            Ok(f) if !self.stop_requested => f,
            Ok(_) => return self.reject(name, "the run is stopping".into()),
            Err(e) => return self.reject(name, e),
        };
        self.audit.follow_up(&name, &follow_up.session);
        self.set_follow_up(index, follow_up);
        // New commits on the branch: a merge done or refused before was for the old tip.
        let merge = &mut self.tasks[index].facts.merge;
        if merge.state != MergeState::NotRequested && merge.state.after(MergeStep::FollowUp).is_ok()
        {
            *merge = MergeRecord::default();
            self.journal_merge(index);
        }
        self.transition(index, Transition::FollowUp);
    }

    fn set_follow_up(&mut self, index: usize, follow_up: FollowUp) {
        let task = self.tasks[index].spec.name.clone();
        let entry = Entry::FollowUp {
            task,
            follow_up: follow_up.clone(),
        };
        self.journal(entry, true);
        self.tasks[index].facts.follow_up = Some(follow_up);
    }

    /// The attempt that ended with `report` stopped at its agent's usage limit: the agent's
    /// tasks are held until the reset, this one pending again (the attempt not counted), to
    /// continue its session then. False (nothing done) for any other end.
    pub(super) fn hold_at_limit(&mut self, index: usize, report: &AttemptFact) -> bool {
        let Some(limit) = report.usage_limit.as_ref() else {
            return false;
        };
        if report.end() == AttemptEnd::Cancelled || self.shutting_down {
            return false;
        }
        let now = SystemTime::now();
        let agent = self.tasks[index].agent.name.clone();
        let reset = self.limits.hit(&agent, limit, now);
        let name = self.tasks[index].spec.name.clone();
        if let Some(session) = follow_up::session_of(std::slice::from_ref(report)) {
            let prompt = AFTER_LIMIT.to_string();
            self.set_follow_up(index, FollowUp { prompt, session });
        }
        let error = format!("{agent} reached its usage limit: {}", limit.message);
        let resets = crate::record::rfc3339(reset);
        self.audit.usage_limit(&name, &agent, &resets);
        let delay = reset.duration_since(now).unwrap_or_default() + Duration::from_millis(100);
        self.effects.push(Effect::LimitTimer { delay });
        self.transition(index, Transition::Held { error });
        true
    }

    /// Whether task `i` must wait for its agent's usage limit to reset; if so, it shows why
    /// (`held: usage limit, resets 14:00`).
    pub(super) fn limit_holds(&mut self, i: usize) -> bool {
        let held = self
            .limits
            .held(&self.tasks[i].agent.name, SystemTime::now());
        let Some(held) = held else {
            return false;
        };
        if self.tasks[i].held.as_ref() != Some(&held) {
            self.tasks[i].held = Some(held);
            self.changed(i);
        }
        true
    }

    /// Every task's status as the scheduler is to see it: a pending task whose agent is at its
    /// usage limit looks like one waiting for a retry (not ready, and no slot taken, so the
    /// other agents' tasks go on), and shows why it is held.
    pub(super) fn scheduled_statuses(&mut self) -> Vec<TaskStatus> {
        (0..self.tasks.len())
            .map(|i| {
                let status = self.tasks[i].facts.state.status;
                match status == TaskStatus::Pending && self.limit_holds(i) {
                    true => TaskStatus::Retrying,
                    false => status,
                }
            })
            .collect()
    }

    /// A usage limit may have reset: its tasks are no longer held (the scheduler, which runs
    /// next, starts them or holds them again).
    pub(super) fn limit_reset(&mut self) {
        if !self.limits.expire(SystemTime::now()) {
            return;
        }
        for i in 0..self.tasks.len() {
            if held_by_limit(&self.tasks[i]) {
                self.tasks[i].held = None;
                self.changed(i);
            }
        }
    }
}
