//! What the run loop's decisions take and give: `RunEvent`, every input of the loop, and
//! `Effect`, what a decision asks the loop to do.

use std::time::Duration;

use crate::git::MergeOutcome;
use crate::plan::{PlanError, UserConfig};

use super::super::api::Command;
use super::super::attempt::{Acked, AttemptJob, Progress, Requests};

/// Every input of the loop, as the decisions see it.
pub(super) enum RunEvent {
    /// From the front end. `AddTask` and `CopyTask` come with the user config, which the loop
    /// reads when it receives them (`RunEvent::command`), so the decisions do no file reads.
    Command {
        command: Command,
        config: Option<Box<Result<UserConfig, PlanError>>>,
    },
    /// The front end went away (its command sender was dropped): stop, as on `Shutdown`.
    FrontEndGone,
    Attempt(Progress),
    RetryDue {
        index: usize,
        generation: u64,
    },
    MergeDone {
        index: usize,
        outcome: Result<MergeOutcome, String>,
    },
    WorktreeRemoved,
    /// Every attempt in flight has paused (true) or continued (false).
    Paused(bool),
    /// Look at the machine's memory again for tasks held by `min_free_memory`.
    MemoryCheck,
    /// An agent's usage limit may have reset.
    LimitReset,
}

impl RunEvent {
    /// A front-end command as an event, with the user config read when it grows the plan.
    pub(super) fn command(command: Command) -> RunEvent {
        let config = match command {
            Command::AddTask { .. } | Command::CopyTask { .. } => {
                Some(Box::new(UserConfig::load_for_started_run()))
            }
            _ => None,
        };
        RunEvent::Command { command, config }
    }
}

/// Whether the loop goes on after a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    Go,
    End,
}

/// One thing a decision asks the loop to do.
pub(super) enum Effect {
    /// Run an attempt of the job's task on its own tokio task (it reports through `Progress`).
    StartAttempt {
        job: Box<AttemptJob>,
        requests: Requests,
    },
    /// Send `Paused(paused)` once every attempt has acknowledged its pause (or continue), and
    /// after the answer to the pause or continue before it.
    AwaitAcks { acked: Acked, paused: bool },
    /// Send `RetryDue` after `delay` (a newer timer of the task supersedes it).
    RetryTimer {
        index: usize,
        generation: u64,
        delay: Duration,
    },
    /// Send `MemoryCheck` after `admission::RECHECK`.
    MemoryCheck,
    /// Send `LimitReset` after `delay` (when an agent's usage limit resets).
    LimitTimer { delay: Duration },
    /// Merge task `index`'s branch into the base (a blocking thread), then `MergeDone`.
    Merge { index: usize },
    /// Remove task `index`'s worktree (a blocking thread), then `WorktreeRemoved`.
    RemoveWorktree { index: usize },
}
