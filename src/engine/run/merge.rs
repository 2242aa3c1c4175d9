//! Merges: the queue (one merge at a time, in the order they were requested), a race's pick,
//! and the rules both the run loop and `grove merge` follow: what an outcome records
//! (`record_outcome`), which siblings a pick discards (`pick_race`), the merge itself
//! (`merge_task`).

use crate::git::{self, MergeOutcome};
use crate::plan::model::{MergeMode, Pick};
use crate::record::results::MergeRecord;
use crate::record::RunPaths;
use crate::status::MergeStep;

use super::super::api::{Event, MergeState, TaskId, TaskStatus};
use super::super::attempt::{self, StopReason};
use super::super::state::Transition;
use super::dispatcher::Run;
use super::event::Effect;

impl Run {
    /// Task `index`'s merge is asked for: queued when it succeeded and its merge may be
    /// requested (none pending or done).
    pub(super) fn request_merge(&mut self, index: usize) {
        let task = &mut self.tasks[index];
        if task.facts.state.status != TaskStatus::Succeeded {
            return;
        }
        if task.facts.merge.state.apply(MergeStep::Request).is_err() {
            return;
        }
        self.merge_queue.push_back(index);
        self.journal_merge(index);
        self.changed(index);
        self.pick(index);
        self.next_merge();
    }

    /// A race sibling is being merged: it is the race's pick. Its siblings are discarded (their
    /// branches and saved attempts stay), and those not ended yet are cancelled.
    pub(super) fn pick(&mut self, index: usize) {
        let Some(group) = self.tasks[index].spec.group.clone() else {
            return;
        };
        let winner = self.tasks[index].spec.name.clone();
        let how = match self.tasks[index].spec.merge {
            MergeMode::Auto => "merge = auto",
            MergeMode::Manual if group.pick == Pick::FirstPassing => "first-passing",
            MergeMode::Manual => "manual",
        };
        self.audit.pick(&group.name, &winner, how);
        let races = (self.tasks.iter_mut()).map(|t| {
            (
                t.spec.group.as_ref().map(|g| g.name.as_str()),
                &mut t.facts.merge.state,
            )
        });
        for j in pick_race(races, index) {
            self.journal_merge(j);
            let cancel = Transition::CancelBecause(attempt::picked(&winner));
            self.stop_task(j, StopReason::Raced(winner.clone()), cancel);
            // Shows the discard (a task not started has shown its cancel already).
            self.changed(j);
        }
        self.results_dirty = true;
    }

    /// One merge at a time, in the order they were requested.
    pub(super) fn next_merge(&mut self) {
        if self.merging {
            return;
        }
        let Some(index) = self.merge_queue.pop_front() else {
            return;
        };
        self.merging = true;
        self.effects.push(Effect::Merge { index });
    }

    pub(super) fn merge_finished(&mut self, index: usize, outcome: Result<MergeOutcome, String>) {
        let outcome = outcome.unwrap_or_else(|e| MergeOutcome::Refused { reason: e });
        let task = &mut self.tasks[index];
        record_outcome(&mut task.facts.merge, &outcome);
        let (word, commit, detail) = describe_merge(&outcome);
        self.audit.merge(&task.spec.name, word, &commit, &detail);
        self.journal_merge(index);
        let _ = self.events.send(Event::Merged {
            task: TaskId(index),
            outcome,
        });
        self.changed(index);
        self.results_dirty = true;
    }
}

/// Merges task `task`'s branch of the run at `paths` into the run's base branch `base_branch`;
/// a base that is not a branch (`None`; `base_label` names it) is refused. The one merge of a
/// task, for the engine and for `grove merge`.
pub fn merge_task(
    paths: &RunPaths,
    task: &str,
    base_branch: Option<&str>,
    base_label: &str,
) -> Result<MergeOutcome, git::GitError> {
    let Some(base) = base_branch else {
        return Ok(MergeOutcome::Refused {
            reason: format!(
                "base '{base_label}' is not a branch (a tag or commit); cannot merge into it"
            ),
        });
    };
    let run_id = &paths.run_id;
    let message = format!("grove: merge {task} ({run_id})\n\nGrove-Run: {run_id}\n");
    git::merge_into(&paths.repo_root, &paths.branch(task), base, &message)
}

/// (outcome word, commit, detail) for logs and printers.
pub fn describe_merge(outcome: &MergeOutcome) -> (&'static str, String, String) {
    match outcome {
        MergeOutcome::Merged {
            commit,
            fast_forward,
        } => (
            "merged",
            commit.clone(),
            if *fast_forward {
                "fast-forward".into()
            } else {
                "merge commit".into()
            },
        ),
        MergeOutcome::AlreadyMerged { commit } => {
            ("merged", commit.clone(), "already merged".into())
        }
        MergeOutcome::Conflict { paths } => ("conflict", String::new(), paths.join(", ")),
        MergeOutcome::Refused { reason } => ("refused", String::new(), reason.clone()),
    }
}

/// What a merge's `outcome` leaves on a task's merge record: its state (by the merge
/// transition, `MergeState::after`), and the commit, the conflicting paths or the reason.
pub fn record_outcome(merge: &mut MergeRecord, outcome: &MergeOutcome) {
    let step = match outcome {
        MergeOutcome::Merged { .. } | MergeOutcome::AlreadyMerged { .. } => MergeStep::Merged,
        MergeOutcome::Conflict { .. } => MergeStep::Conflict,
        MergeOutcome::Refused { .. } => MergeStep::Refused,
    };
    // An outcome applies from every state: it records what git did.
    let _recorded = merge.state.apply(step).is_ok();
    match outcome {
        MergeOutcome::Merged { commit, .. } | MergeOutcome::AlreadyMerged { commit } => {
            merge.commit = Some(commit.clone());
            merge.conflicts.clear();
            merge.reason = None;
        }
        MergeOutcome::Conflict { paths } => merge.conflicts = paths.clone(),
        MergeOutcome::Refused { reason } => merge.reason = Some(reason.clone()),
    }
}

/// A race's pick: task `winner` is being merged. `tasks` is every task of the run in order: the
/// race it is a sibling of (None: no race), and its merge state. The winner's siblings whose
/// merge can still be discarded (not merged, not discarded already) are discarded, and returned.
pub fn pick_race<'a>(
    tasks: impl IntoIterator<Item = (Option<&'a str>, &'a mut MergeState)>,
    winner: usize,
) -> Vec<usize> {
    let mut tasks: Vec<(Option<&'a str>, &'a mut MergeState)> = tasks.into_iter().collect();
    let Some(race) = tasks.get(winner).and_then(|t| t.0) else {
        return Vec::new();
    };
    let mut discarded = Vec::new();
    for (j, (group, merge)) in tasks.iter_mut().enumerate() {
        if j != winner && *group == Some(race) && merge.apply(MergeStep::Discard).is_ok() {
            discarded.push(j);
        }
    }
    discarded
}
