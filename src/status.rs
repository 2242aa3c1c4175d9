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
