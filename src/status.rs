//! Where a task stands and where its merge stands: the words shared by the engine, its records
//! and its front ends.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Pending,
    Preparing,
    Running,
    Retrying,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
    Skipped,
}

impl TaskStatus {
    /// Every status, ended ones first, in the order counts are shown.
    pub const ALL: [TaskStatus; 9] = [
        TaskStatus::Succeeded,
        TaskStatus::Failed,
        TaskStatus::TimedOut,
        TaskStatus::Cancelled,
        TaskStatus::Skipped,
        TaskStatus::Running,
        TaskStatus::Preparing,
        TaskStatus::Retrying,
        TaskStatus::Pending,
    ];

    /// The word shown to people (`timed out`, not `timed_out`).
    pub fn word(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Preparing => "preparing",
            TaskStatus::Running => "running",
            TaskStatus::Retrying => "retrying",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::TimedOut => "timed out",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::Skipped => "skipped",
        }
    }

    /// "3 succeeded, 1 running": how many of `statuses` are in each status, in `ALL`'s order;
    /// "-" for none.
    pub fn counts(statuses: &[TaskStatus]) -> String {
        let parts: Vec<String> = TaskStatus::ALL
            .iter()
            .map(|s| (s, statuses.iter().filter(|x| *x == s).count()))
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{n} {}", s.word()))
            .collect();
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(", ")
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded
                | TaskStatus::Failed
                | TaskStatus::TimedOut
                | TaskStatus::Cancelled
                | TaskStatus::Skipped
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeState {
    NotRequested,
    Pending,
    Merged,
    Conflict,
    Refused,
    /// A race sibling not picked: another sibling was merged; its branch stays.
    Discarded,
}

impl MergeState {
    pub fn word(self) -> &'static str {
        match self {
            MergeState::NotRequested => "-",
            MergeState::Pending => "pending",
            MergeState::Merged => "merged",
            MergeState::Conflict => "conflict",
            MergeState::Refused => "refused",
            MergeState::Discarded => "discarded",
        }
    }
}

/// What happens to a task's merge; `MergeState::after` says where each leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeStep {
    /// A merge is asked for (`merge = auto`, `m`, a race's first-passing pick).
    Request,
    /// The merge ran and merged (or found the branch merged already).
    Merged,
    /// The merge ran into conflicts; nothing was changed.
    Conflict,
    /// The merge was refused (the checkout's state, a lock, a base that is not a branch).
    Refused,
    /// Another sibling of the task's race was picked.
    Discard,
    /// `grove resume`: a merge pending when grove stopped is to be requested again.
    Forget,
    /// A follow-up puts new commits on the branch: what a merge did or refused was for the old
    /// tip, and the branch is to be merged again. Not while a merge runs, nor for a discarded
    /// sibling.
    FollowUp,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a merge cannot go from {from:?} by {step:?}")]
pub struct IllegalMerge {
    pub from: MergeState,
    pub step: MergeStep,
}

impl MergeState {
    /// THE merge transition: the state `step` leads to from this one, or why it cannot happen.
    /// A merge can be requested when none is pending or done; a race sibling can be discarded
    /// until it is merged; a merge that ran records what git did, whatever was recorded before
    /// (the branch is merged, or not, either way).
    pub fn after(self, step: MergeStep) -> Result<MergeState, IllegalMerge> {
        use MergeState::*;
        match (step, self) {
            (MergeStep::Request, NotRequested | Conflict | Refused) => Ok(Pending),
            (MergeStep::Merged, _) => Ok(Merged),
            (MergeStep::Conflict, _) => Ok(Conflict),
            (MergeStep::Refused, _) => Ok(Refused),
            (MergeStep::Discard, NotRequested | Pending | Conflict | Refused) => Ok(Discarded),
            (MergeStep::Forget, Pending) => Ok(NotRequested),
            (MergeStep::FollowUp, NotRequested | Merged | Conflict | Refused) => Ok(NotRequested),
            (step, from) => Err(IllegalMerge { from, step }),
        }
    }

    /// Takes `step` (see `after`); an illegal one changes nothing.
    pub fn apply(&mut self, step: MergeStep) -> Result<(), IllegalMerge> {
        *self = self.after(step)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::MergeState::*;
    use super::*;

    const ALL: [MergeState; 6] = [NotRequested, Pending, Merged, Conflict, Refused, Discarded];

    /// The states `step` may leave, and where it leads from each.
    fn legal(step: MergeStep) -> Vec<(MergeState, MergeState)> {
        ALL.iter()
            .filter_map(|&from| from.after(step).ok().map(|to| (from, to)))
            .collect()
    }

    #[test]
    fn a_merge_is_requested_only_when_none_is_pending_or_done() {
        assert_eq!(
            legal(MergeStep::Request),
            vec![
                (NotRequested, Pending),
                (Conflict, Pending),
                (Refused, Pending)
            ]
        );
        assert_eq!(
            Merged.after(MergeStep::Request),
            Err(IllegalMerge {
                from: Merged,
                step: MergeStep::Request
            })
        );
    }

    #[test]
    fn a_sibling_is_discarded_until_it_is_merged() {
        let from: Vec<MergeState> = legal(MergeStep::Discard).iter().map(|m| m.0).collect();
        assert_eq!(from, vec![NotRequested, Pending, Conflict, Refused]);
        assert!(legal(MergeStep::Discard).iter().all(|m| m.1 == Discarded));
        assert!(Merged.after(MergeStep::Discard).is_err());
        assert!(Discarded.after(MergeStep::Discard).is_err());
    }

    #[test]
    fn an_outcome_records_what_git_did_from_any_state() {
        for (step, to) in [
            (MergeStep::Merged, Merged),
            (MergeStep::Conflict, Conflict),
            (MergeStep::Refused, Refused),
        ] {
            assert_eq!(
                legal(step),
                ALL.iter().map(|&f| (f, to)).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn a_follow_up_makes_a_done_merge_to_do_again() {
        let from: Vec<MergeState> = legal(MergeStep::FollowUp).iter().map(|m| m.0).collect();
        assert_eq!(from, vec![NotRequested, Merged, Conflict, Refused]);
        assert!(legal(MergeStep::FollowUp)
            .iter()
            .all(|m| m.1 == NotRequested));
    }

    #[test]
    fn only_a_pending_merge_is_forgotten_for_a_resume() {
        assert_eq!(legal(MergeStep::Forget), vec![(Pending, NotRequested)]);
    }
}
