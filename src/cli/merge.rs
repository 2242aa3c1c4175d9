//! `grove merge <run-id> <task>…`: merges succeeded tasks of a run that is not running into
//! its base branch, one at a time, and records each outcome in the run's results.json, audit
//! log and journal (so a resume of an unfinished run keeps it).

use std::path::Path;

use anyhow::Context;

use crate::cli::exit::UsageError;
use crate::cli::history;
use crate::cli::out::say;
use crate::engine::api::{MergeState, TaskStatus};
use crate::engine::{describe_merge, merge_task, pick_race, record_outcome};
use crate::git::MergeOutcome;
use crate::record::audit::Audit;
use crate::record::journal::{self, Entry, Journal, MergeFact};
use crate::record::lock::{LockError, RunLock};
use crate::record::results::Results;

pub fn merge(root: &Path, run_id: &str, tasks: &[String]) -> anyhow::Result<i32> {
    let entry = history::existing_run(root, run_id)?;
    let paths = entry.paths;
    crate::record::folders::check_run_folders(&paths)?;
    // Held while merging: no grove runs or resumes the run meanwhile, so neither overwrites
    // what is recorded here, and both see it afterwards.
    let _lock = RunLock::acquire(&paths.run_dir).map_err(|e| match e {
        LockError::Held { pid } => anyhow::Error::from(UsageError(format!(
            "run '{run_id}' is running (grove process {pid}); merge with m in its dashboard, or stop it first"
        ))),
        other => other.into(),
    })?;
    let results_path = paths.results();
    if !results_path.exists() {
        return Err(UsageError(format!("run '{run_id}' has no results.json to merge from")).into());
    }
    let mut results = Results::load(&results_path)?;
    for name in tasks {
        if !results.tasks.iter().any(|t| &t.name == name) {
            return Err(UsageError(format!("run '{run_id}' has no task '{name}'")).into());
        }
    }
    // An unfinished run is rebuilt from its journal on resume: outcomes go there too.
    let journal = match paths.run_dir.join(journal::FILE).exists() {
        true => Some(Journal::reopen(&paths.run_dir).context("cannot open the run's journal")?),
        false => None,
    };
    let record = |fact: MergeFact| -> anyhow::Result<()> {
        if let Some(journal) = &journal {
            journal
                .append(Entry::Merge(fact), true)
                .context("cannot write the run's journal")?;
        }
        Ok(())
    };
    // A killed grove may have journaled a task's end without rewriting results.json: where the
    // journal knows a task's status and merge, they count.
    let journaled = |name: &str| {
        let record = entry
            .record
            .as_ref()?
            .tasks
            .iter()
            .find(|t| t.name == name)?;
        let status = record.state.as_ref()?.status;
        Some((status, record.merge.as_ref().map(|m| m.state)))
    };
    let audit = Audit::open(&paths.run_dir)
        .with_context(|| format!("cannot open the audit log in {}", paths.run_dir.display()))?;
    let short_base = results.base_commit[..12.min(results.base_commit.len())].to_string();
    let mut all_merged = true;
    for name in tasks {
        let Some(task) = results.tasks.iter_mut().find(|t| &t.name == name) else {
            continue;
        };
        let (status, merge) = journaled(name).unzip();
        let succeeded = status.unwrap_or(task.status) == TaskStatus::Succeeded;
        // Discarded by the journal, or a moment ago by this command's merge of a sibling.
        let discarded = task.merge.state == MergeState::Discarded
            || merge.flatten() == Some(MergeState::Discarded);
        let outcome = if discarded {
            MergeOutcome::Refused {
                reason: format!(
                    "task '{name}' was discarded: another sibling of its race was picked"
                ),
            }
        } else if !succeeded {
            MergeOutcome::Refused {
                reason: format!(
                    "task '{name}' did not succeed ({}); nothing to merge",
                    status.unwrap_or(task.status).word()
                ),
            }
        } else {
            merge_task(&paths, name, results.base_branch.as_deref(), &short_base)?
        };
        let (word, commit, detail) = describe_merge(&outcome);
        audit.merge(name, word, &commit, &detail);
        let fact = |state, commit, conflicts, reason| MergeFact {
            task: name.clone(),
            state,
            commit,
            conflicts,
            reason,
        };
        let mut discarded = Vec::new();
        let recorded = match &outcome {
            MergeOutcome::Merged { commit, .. } | MergeOutcome::AlreadyMerged { commit } => {
                record_outcome(&mut task.merge, &outcome);
                say(format_args!(
                    "{name}: merged into {} ({detail}, {})",
                    results.base_branch.as_deref().unwrap_or("base"),
                    &commit[..12.min(commit.len())]
                ));
                if let Some(group) = task.group.clone() {
                    discarded = pick(&mut results, &group, name);
                    audit.pick(&group, name, "grove merge");
                }
                Some(fact(
                    MergeState::Merged,
                    Some(commit.clone()),
                    Vec::new(),
                    None,
                ))
            }
            MergeOutcome::Conflict { paths } => {
                all_merged = false;
                record_outcome(&mut task.merge, &outcome);
                say(format_args!(
                    "{name}: conflict in {}; nothing was changed",
                    paths.join(", ")
                ));
                Some(fact(MergeState::Conflict, None, paths.clone(), None))
            }
            MergeOutcome::Refused { reason } => {
                all_merged = false;
                say(format_args!("{name}: refused: {reason}"));
                succeeded.then(|| {
                    record_outcome(&mut task.merge, &outcome);
                    fact(MergeState::Refused, None, Vec::new(), Some(reason.clone()))
                })
            }
        };
        if let Some(fact) = recorded {
            record(fact)?;
        }
        for sibling in discarded {
            record(MergeFact {
                task: sibling,
                state: MergeState::Discarded,
                commit: None,
                conflicts: Vec::new(),
                reason: None,
            })?;
        }
        results.save(&results_path)?;
    }
    Ok(if all_merged { 0 } else { 1 })
}

/// `name` is merged: it is its race's pick, and its siblings not merged are discarded (the
/// ones newly discarded are returned).
fn pick(results: &mut Results, group: &str, name: &str) -> Vec<String> {
    let Some(winner) = results.tasks.iter().position(|t| t.name == name) else {
        return Vec::new();
    };
    let races = (results.tasks.iter_mut()).map(|t| (t.group.as_deref(), &mut t.merge.state));
    let discarded = (pick_race(races, winner).into_iter())
        .map(|j| results.tasks[j].name.clone())
        .collect();
    if let Some(record) = results.groups.iter_mut().find(|g| g.name == group) {
        record.picked = Some(name.to_string());
    }
    discarded
}
