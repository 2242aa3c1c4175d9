//! What the run loop does for its decisions, apart from deciding: attempts, timers, merges and
//! worktree removals run on their own tasks or blocking threads and report back as `RunEvent`s.

use std::time::Duration;

use crate::git;

use super::super::admission;
use super::super::attempt;
use super::dispatcher::Run;
use super::event::{Effect, RunEvent};
use super::merge::merge_task;

impl Run {
    /// Carries out what the decisions asked for, in order.
    pub(super) fn carry_out(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::StartAttempt { job, requests } => {
                    tokio::spawn(attempt::run(*job, requests, self.progress_tx.clone()));
                }
                Effect::AwaitAcks { acked, paused } => {
                    let internal = self.internal_tx.clone();
                    let before = self.answering.take();
                    self.answering = Some(tokio::spawn(async move {
                        if let Some(before) = before {
                            let _ = before.await;
                        }
                        acked.all().await;
                        let _ = internal.send(RunEvent::Paused(paused));
                    }));
                }
                Effect::RetryTimer {
                    index,
                    generation,
                    delay,
                } => self.after(delay, RunEvent::RetryDue { index, generation }),
                Effect::MemoryCheck => self.after(admission::RECHECK, RunEvent::MemoryCheck),
                Effect::LimitTimer { delay } => self.after(delay, RunEvent::LimitReset),
                Effect::Merge { index } => self.merge(index),
                Effect::RemoveWorktree { index } => self.remove_worktree_now(index),
            }
        }
    }

    /// Wakes the loop with `event` after `delay`.
    pub(super) fn after(&self, delay: Duration, event: RunEvent) {
        let internal = self.internal_tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = internal.send(event);
        });
    }

    pub(super) fn merge(&self, index: usize) {
        let name = self.tasks[index].spec.name.clone();
        let paths = self.paths.clone();
        let target = self.repo.base_branch.clone();
        let label = self.repo.base_label.clone();
        let internal = self.internal_tx.clone();
        tokio::task::spawn_blocking(move || {
            let outcome =
                merge_task(&paths, &name, target.as_deref(), &label).map_err(|e| e.to_string());
            let _ = internal.send(RunEvent::MergeDone { index, outcome });
        });
    }

    pub(super) fn remove_worktree_now(&self, index: usize) {
        let task = &self.tasks[index];
        let (repo, path) = (
            self.paths.repo_root.clone(),
            self.paths.worktree(&task.spec.name),
        );
        let internal = self.internal_tx.clone();
        let audit = self.audit.clone();
        let name = task.spec.name.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = git::remove_worktree(&repo, &path) {
                audit.error(&name, &format!("removing worktree: {e}"));
            }
            let _ = internal.send(RunEvent::WorktreeRemoved);
        });
    }
}
