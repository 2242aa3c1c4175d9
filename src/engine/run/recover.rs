//! A resumed run first settles what the crash or stop left open (`launch::Recovery`, decided
//! by `resume.rs` from the journal), before it schedules anything.

use crate::git;

use super::super::launch::Recovery;
use super::super::resume;
use super::super::state::Transition;
use super::dispatcher::Run;

impl Run {
    /// A resumed run first settles what the crash or stop left open: leftover agents are
    /// stopped and interrupted attempts' files saved on their attempt refs, unfinished tasks
    /// become pending, interrupted merges and worktree removals are done again.
    pub(super) async fn recover(&mut self) {
        if self.recovery.is_empty() {
            return;
        }
        // Killed while merging, grove may have left the base and, when the base is checked out,
        // the checkout's index locked. Cleared once, before any step can start a merge (which
        // takes those locks itself).
        let interrupted_merge = self
            .recovery
            .iter()
            .filter_map(|step| match step {
                Recovery::Merge { lock_since, .. } => *lock_since,
                _ => None,
            })
            .min();
        if let (Some(since), Some(base)) = (interrupted_merge, self.repo.base_branch.clone()) {
            let repo = self.paths.repo_root.clone();
            let cleared = tokio::task::spawn_blocking(move || {
                git::remove_stale_ref_lock(&repo, &base, since)?;
                git::remove_stale_index_lock(&repo, &base, since)
            })
            .await;
            if let Ok(Err(e)) = cleared {
                self.audit.error("", &e.to_string());
            }
        }
        for step in std::mem::take(&mut self.recovery) {
            match step {
                Recovery::InFlight {
                    index,
                    attempt,
                    started_at,
                    argv,
                    requeue,
                } => {
                    let mut report = resume::interrupted_attempt(
                        &self.paths,
                        &self.tasks[index].spec,
                        attempt,
                        started_at,
                        argv,
                        &self.audit,
                    )
                    .await;
                    // A task's attempts since its follow-up are that follow-up.
                    let follow_up = self.tasks[index].facts.follow_up.as_ref();
                    report.follow_up = follow_up.map(|f| f.prompt.clone());
                    self.journal_attempt(&report);
                    let (end, error) = (report.end(), report.error.clone());
                    // Work that could not be saved ends the task where it is.
                    let requeue = requeue && report.unsaved.is_none();
                    let facts = &mut self.tasks[index].facts;
                    report.reduce(&mut facts.attempts, &mut facts.work);
                    let next = match requeue {
                        true => Transition::Resume {
                            interrupted_attempt: true,
                        },
                        false => Transition::AttemptEnded {
                            end,
                            error,
                            retry_at: None,
                        },
                    };
                    self.transition(index, next);
                }
                Recovery::Discard { index } => self.transition(
                    index,
                    Transition::CancelBecause(
                        "discarded: another sibling of its race was picked".into(),
                    ),
                ),
                Recovery::Requeue {
                    index,
                    interrupted_attempt,
                } => self.transition(
                    index,
                    Transition::Resume {
                        interrupted_attempt,
                    },
                ),
                Recovery::Finish { index } => {
                    if let Some(last) = self.tasks[index].facts.attempts.last() {
                        let (end, error) = (last.end(), last.error.clone());
                        self.transition(
                            index,
                            Transition::AttemptEnded {
                                end,
                                error,
                                retry_at: None,
                            },
                        );
                    }
                }
                Recovery::Merge { index, .. } => self.request_merge(index),
                Recovery::RemoveWorktree { index } => self.remove_worktree(index),
            }
            // What a step started (a merge, a worktree removal) starts now, as the steps go.
            let effects = std::mem::take(&mut self.effects);
            self.carry_out(effects);
        }
        self.results_dirty = true;
    }
}
