//! The one place that decides a task's state transitions. Every change of `TaskStatus` goes
//! through `TaskState::apply`, which refuses transitions that make no sense.

use std::time::SystemTime;

use crate::plan::model::KeepWorktrees;
use crate::record::journal::StateFact;

use crate::status::TaskStatus;

/// How an attempt ended, as far as the task's state is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEnd {
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
}

impl AttemptEnd {
    pub fn status(self) -> TaskStatus {
        match self {
            AttemptEnd::Succeeded => TaskStatus::Succeeded,
            AttemptEnd::Failed => TaskStatus::Failed,
            AttemptEnd::TimedOut => TaskStatus::TimedOut,
            AttemptEnd::Cancelled => TaskStatus::Cancelled,
        }
    }

    /// Whether another attempt may follow an attempt that ended so: a success or a cancel
    /// never retries.
    pub fn may_retry(self) -> bool {
        !matches!(self, AttemptEnd::Succeeded | AttemptEnd::Cancelled)
    }

    /// The end a recorded attempt status stands for (the inverse of `status`; any other
    /// status counts as failed).
    pub fn from_status(status: TaskStatus) -> AttemptEnd {
        match status {
            TaskStatus::Succeeded => AttemptEnd::Succeeded,
            TaskStatus::TimedOut => AttemptEnd::TimedOut,
            TaskStatus::Cancelled => AttemptEnd::Cancelled,
            _ => AttemptEnd::Failed,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// Start preparing the next attempt (worktree, envelope).
    Prepare,
    /// The agent process is running.
    Start,
    /// The attempt ended; `retry_at` is set when another attempt will follow.
    AttemptEnded {
        end: AttemptEnd,
        error: Option<String>,
        retry_at: Option<SystemTime>,
    },
    /// Cancel a task that has no attempt in flight (pending or waiting to retry).
    Cancel,
    /// Like `Cancel`, saying why (a race sibling whose job another sibling won).
    CancelBecause(String),
    /// The task will not run, for this reason.
    Skip(String),
    /// Back to pending (manual retry, or a skipped dependent of a retried task). The retry budget
    /// grows so that one more attempt is allowed.
    Requeue,
    /// A follow-up of a finished task: pending again, with one more attempt in its budget.
    FollowUp,
    /// The attempt stopped at the agent's usage limit: pending again until the reset, the
    /// attempt not counted against the budget.
    Held { error: String },
    /// `grove resume`: the task was unfinished when grove stopped (crash, or cancelled by a
    /// signal or quit), so it is pending again. An attempt that grove's stop interrupted does not
    /// count against the retry budget.
    Resume { interrupted_attempt: bool },
}

/// THE rule for a retry by hand (`r`, `Command::Retry`): a task that ended without success
/// (failed, timed out, cancelled, skipped) can run again, even with its budget spent.
pub fn retryable_by_hand(status: TaskStatus) -> bool {
    matches!(
        status,
        TaskStatus::Failed | TaskStatus::TimedOut | TaskStatus::Cancelled | TaskStatus::Skipped
    )
}

/// THE rule for which tasks a follow-up (`f`, `grove follow-up`) may continue: one that ran and
/// ended (succeeded, failed, timed out, cancelled); a skipped task never ran.
pub fn can_follow_up(status: TaskStatus) -> bool {
    matches!(
        status,
        TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::TimedOut | TaskStatus::Cancelled
    )
}

/// Whether a task that ended with `status` gives its worktree up, per `keep_worktrees`.
pub fn removes_worktree(keep: KeepWorktrees, status: TaskStatus) -> bool {
    match keep {
        KeepWorktrees::Always => false,
        KeepWorktrees::Never => true,
        KeepWorktrees::Failed => status == TaskStatus::Succeeded,
    }
}

#[derive(Debug, Clone)]
pub struct TaskState {
    pub status: TaskStatus,
    /// Number of the current (or last) attempt; 0 before the first.
    pub attempt: u32,
    pub max_attempts: u32,
    pub started_at: Option<SystemTime>,
    pub ended_at: Option<SystemTime>,
    pub retry_at: Option<SystemTime>,
    pub error: Option<String>,
    /// While running: the prompt line the agent waits at for input. Every transition clears it.
    pub waiting: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid transition {transition} from {from:?}")]
pub struct InvalidTransition {
    pub from: TaskStatus,
    pub transition: String,
}

impl TaskState {
    pub fn new(max_attempts: u32) -> TaskState {
        TaskState {
            status: TaskStatus::Pending,
            attempt: 0,
            max_attempts,
            started_at: None,
            ended_at: None,
            retry_at: None,
            error: None,
            waiting: None,
        }
    }

    /// The state as the journal keeps it, for task `task`.
    pub fn fact(&self, task: &str) -> StateFact {
        StateFact {
            task: task.to_string(),
            status: self.status,
            attempt: self.attempt,
            max_attempts: self.max_attempts,
            started_at: self.started_at,
            ended_at: self.ended_at,
            retry_at: self.retry_at,
            error: self.error.clone(),
        }
    }

    /// The state the journal kept (`fact`'s inverse; a waiting prompt is not kept).
    pub fn of_fact(fact: &StateFact) -> TaskState {
        TaskState {
            status: fact.status,
            attempt: fact.attempt,
            max_attempts: fact.max_attempts,
            started_at: fact.started_at,
            ended_at: fact.ended_at,
            retry_at: fact.retry_at,
            error: fact.error.clone(),
            waiting: None,
        }
    }

    /// The running agent waits for input at `prompt`, or (None) went on. Only a running task
    /// waits; true when this changed anything.
    pub fn set_waiting(&mut self, prompt: Option<String>) -> bool {
        if (prompt.is_some() && self.status != TaskStatus::Running) || self.waiting == prompt {
            return false;
        }
        self.waiting = prompt;
        true
    }

    pub fn attempts_left(&self) -> bool {
        self.attempt < self.max_attempts
    }

    /// THE retry decision after an attempt of this task ended with `end`: another attempt follows
    /// when the end may retry, the attempt's failure is one a retry can fix (`retryable`: not a
    /// setup or configuration error), and the budget has attempts left. The run loop (which also
    /// does not retry while stopping) and `grove resume` both ask this.
    pub fn retries_after(&self, end: AttemptEnd, retryable: bool) -> bool {
        end.may_retry() && retryable && self.attempts_left()
    }

    pub fn apply(&mut self, t: Transition, now: SystemTime) -> Result<(), InvalidTransition> {
        use TaskStatus::*;
        let invalid = |from: TaskStatus, t: &Transition| InvalidTransition {
            from,
            transition: format!("{t:?}"),
        };
        match (&t, self.status) {
            (Transition::Prepare, Pending | Retrying) => {
                self.attempt += 1;
                self.status = Preparing;
                self.started_at = Some(now);
                self.retry_at = None;
                self.ended_at = None;
                self.error = None;
            }
            (Transition::Start, Preparing) => self.status = Running,
            (
                Transition::AttemptEnded {
                    end,
                    error,
                    retry_at,
                },
                Preparing | Running,
            ) => {
                self.error = error.clone();
                match retry_at {
                    Some(at) if end.may_retry() => {
                        self.status = Retrying;
                        self.retry_at = Some(*at);
                    }
                    _ => {
                        self.status = end.status();
                        self.ended_at = Some(now);
                    }
                }
            }
            (Transition::Cancel, Pending | Retrying) => {
                self.status = Cancelled;
                self.retry_at = None;
                self.ended_at = Some(now);
                self.error = Some("cancelled".into());
            }
            (Transition::CancelBecause(reason), Pending | Retrying) => {
                self.status = Cancelled;
                self.retry_at = None;
                self.ended_at = Some(now);
                self.error = Some(format!("cancelled: {reason}"));
            }
            (Transition::Skip(reason), Pending) => {
                self.status = Skipped;
                self.ended_at = Some(now);
                self.error = Some(reason.clone());
            }
            (Transition::Requeue, from) if retryable_by_hand(from) => {
                self.status = Pending;
                self.max_attempts = self.max_attempts.max(self.attempt + 1);
                self.ended_at = None;
                self.error = None;
            }
            (Transition::FollowUp, from) if can_follow_up(from) => {
                self.status = Pending;
                self.max_attempts = self.max_attempts.max(self.attempt + 1);
                self.ended_at = None;
                self.error = None;
            }
            (Transition::Held { error }, Preparing | Running) => {
                self.status = Pending;
                self.max_attempts = self.max_attempts.max(self.attempt) + 1;
                self.error = Some(error.clone());
            }
            (
                Transition::Resume {
                    interrupted_attempt,
                },
                Preparing | Running | Retrying | Cancelled,
            ) => {
                self.status = Pending;
                if *interrupted_attempt {
                    self.max_attempts = self.max_attempts.max(self.attempt) + 1;
                }
                self.retry_at = None;
                self.ended_at = None;
                self.error = None;
            }
            (t, from) => return Err(invalid(from, t)),
        }
        self.waiting = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        SystemTime::now()
    }

    #[test]
    fn failing_attempts_retry_until_budget_spent() {
        let mut s = TaskState::new(2);
        s.apply(Transition::Prepare, now()).unwrap();
        s.apply(Transition::Start, now()).unwrap();
        let retry_at = Some(now());
        s.apply(
            Transition::AttemptEnded {
                end: AttemptEnd::Failed,
                error: Some("exit code 1".into()),
                retry_at,
            },
            now(),
        )
        .unwrap();
        assert_eq!(s.status, TaskStatus::Retrying);
        s.apply(Transition::Prepare, now()).unwrap();
        assert_eq!(s.attempt, 2);
        assert!(!s.attempts_left());
        s.apply(
            Transition::AttemptEnded {
                end: AttemptEnd::TimedOut,
                error: Some("timed out".into()),
                retry_at: None,
            },
            now(),
        )
        .unwrap();
        assert_eq!(s.status, TaskStatus::TimedOut);
        // A manual retry adds one attempt to the budget; numbers continue.
        s.apply(Transition::Requeue, now()).unwrap();
        s.apply(Transition::Prepare, now()).unwrap();
        assert_eq!((s.attempt, s.max_attempts), (3, 3));
    }

    #[test]
    fn nonsense_transitions_are_refused() {
        let mut s = TaskState::new(1);
        assert!(s.apply(Transition::Start, now()).is_err());
        assert!(s.apply(Transition::Requeue, now()).is_err());
        s.apply(Transition::Skip("dependency 'a' failed".into()), now())
            .unwrap();
        assert!(s.apply(Transition::Prepare, now()).is_err());
        assert!(s.apply(Transition::Cancel, now()).is_err());
    }

    #[test]
    fn resume_makes_unfinished_tasks_pending_without_spending_budget_on_interruptions() {
        let mut s = TaskState::new(2);
        s.apply(Transition::Prepare, now()).unwrap();
        s.apply(Transition::Start, now()).unwrap();
        s.apply(
            Transition::Resume {
                interrupted_attempt: true,
            },
            now(),
        )
        .unwrap();
        assert_eq!(
            (s.status, s.attempt, s.max_attempts),
            (TaskStatus::Pending, 1, 3)
        );
        s.apply(Transition::Prepare, now()).unwrap();
        assert_eq!(s.attempt, 2);
        s.apply(
            Transition::AttemptEnded {
                end: AttemptEnd::Failed,
                error: Some("exit code 1".into()),
                retry_at: Some(now()),
            },
            now(),
        )
        .unwrap();
        // Waiting for a retry: the failed attempt counts.
        s.apply(
            Transition::Resume {
                interrupted_attempt: false,
            },
            now(),
        )
        .unwrap();
        assert_eq!((s.status, s.max_attempts), (TaskStatus::Pending, 3));
        // Finished tasks are not resumed.
        let mut done = TaskState::new(1);
        done.apply(Transition::Skip("x".into()), now()).unwrap();
        assert!(done
            .apply(
                Transition::Resume {
                    interrupted_attempt: false
                },
                now()
            )
            .is_err());
    }

    #[test]
    fn only_a_running_task_waits_and_any_transition_ends_it() {
        let mut s = TaskState::new(1);
        assert!(!s.set_waiting(Some("Name?".into())));
        s.apply(Transition::Prepare, now()).unwrap();
        s.apply(Transition::Start, now()).unwrap();
        assert!(s.set_waiting(Some("Name?".into())));
        assert!(!s.set_waiting(Some("Name?".into())));
        assert_eq!(s.waiting.as_deref(), Some("Name?"));
        s.apply(
            Transition::AttemptEnded {
                end: AttemptEnd::Succeeded,
                error: None,
                retry_at: None,
            },
            now(),
        )
        .unwrap();
        assert_eq!(s.waiting, None);
        assert!(!s.set_waiting(None));
    }

    #[test]
    fn a_follow_up_reopens_a_finished_task_and_a_held_attempt_costs_nothing() {
        let mut s = TaskState::new(1);
        s.apply(Transition::Prepare, now()).unwrap();
        s.apply(Transition::Start, now()).unwrap();
        let held = Transition::Held {
            error: "usage limit".into(),
        };
        s.apply(held, now()).unwrap();
        assert_eq!(
            (s.status, s.attempt, s.max_attempts),
            (TaskStatus::Pending, 1, 2)
        );
        s.apply(Transition::Prepare, now()).unwrap();
        let ended = Transition::AttemptEnded {
            end: AttemptEnd::Succeeded,
            error: None,
            retry_at: None,
        };
        s.apply(ended, now()).unwrap();
        assert!(!s.attempts_left());
        s.apply(Transition::FollowUp, now()).unwrap();
        assert_eq!((s.status, s.max_attempts), (TaskStatus::Pending, 3));
        assert!(s.ended_at.is_none());
        // Only a finished task gets one; only a running attempt is held.
        assert!(s.apply(Transition::FollowUp, now()).is_err());
        let held = Transition::Held { error: "x".into() };
        assert!(s.apply(held, now()).is_err());
    }

    #[test]
    fn a_cancelled_attempt_never_retries() {
        let mut s = TaskState::new(3);
        s.apply(Transition::Prepare, now()).unwrap();
        s.apply(
            Transition::AttemptEnded {
                end: AttemptEnd::Cancelled,
                error: Some("cancelled".into()),
                retry_at: Some(now()),
            },
            now(),
        )
        .unwrap();
        assert_eq!(s.status, TaskStatus::Cancelled);
    }
}
