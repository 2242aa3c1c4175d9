//! `grove merge <run-id> <task>…`: merges succeeded tasks of a finished run into its base
//! branch, one at a time, and records each outcome in the run's results.json and audit log.

use std::path::Path;

use anyhow::Context;

use crate::engine::describe_merge;
use crate::git::{self, MergeOutcome};
use crate::record::audit::Audit;
use crate::record::results::Results;
use crate::record::RunPaths;

/// A mistake in what was asked (unknown run or task): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn merge(repo: Option<&Path>, run_id: &str, tasks: &[String]) -> anyhow::Result<i32> {
    let start = match repo {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir().context("no current directory")?,
    };
    let root =
        git::discover_root(&start).map_err(|e| UsageError(format!("{}: {e}", start.display())))?;
    let paths = RunPaths::new(&root, run_id);
    let results_path = paths.results();
    if !results_path.exists() {
        return Err(UsageError(format!(
            "{}: no run '{run_id}' here (runs are in .grove/runs/)",
            root.display()
        ))
        .into());
    }
    let mut results = Results::load(&results_path)?;
    for name in tasks {
        if !results.tasks.iter().any(|t| &t.name == name) {
            return Err(UsageError(format!("run '{run_id}' has no task '{name}'")).into());
        }
    }
    let audit = Audit::open(&paths.run_dir)
        .with_context(|| format!("cannot open the audit log in {}", paths.run_dir.display()))?;
    let mut all_merged = true;
    for name in tasks {
        let Some(task) = results.tasks.iter_mut().find(|t| &t.name == name) else {
            continue;
        };
        let outcome = if task.merge.state == "discarded" {
            MergeOutcome::Refused {
                reason: format!(
                    "task '{name}' was discarded: another sibling of its race was picked"
                ),
            }
        } else if task.status != "succeeded" {
            MergeOutcome::Refused {
                reason: format!(
                    "task '{name}' did not succeed ({}); nothing to merge",
                    task.status
                ),
            }
        } else {
            match &results.base_branch {
                Some(base) => {
                    let message =
                        format!("grove: merge {name} ({run_id})\n\nGrove-Run: {run_id}\n");
                    git::merge_into(&root, &task.branch, base, &message)?
                }
                None => MergeOutcome::Refused {
                    reason: format!(
                        "the run's base {} is not a branch (a tag or commit); cannot merge into it",
                        &results.base_commit[..12.min(results.base_commit.len())]
                    ),
                },
            }
        };
        let (word, commit, detail) = describe_merge(&outcome);
        audit.merge(name, word, &commit, &detail);
        match &outcome {
            MergeOutcome::Merged { commit, .. } | MergeOutcome::AlreadyMerged { commit } => {
                task.merge.state = "merged".into();
                task.merge.commit = Some(commit.clone());
                task.merge.conflicts.clear();
                task.merge.reason = None;
                println!(
                    "{name}: merged into {} ({detail}, {})",
                    results.base_branch.as_deref().unwrap_or("base"),
                    &commit[..12.min(commit.len())]
                );
                if let Some(group) = task.group.clone() {
                    pick(&mut results, &group, name);
                    audit.pick(&group, name, "grove merge");
                }
            }
            MergeOutcome::Conflict { paths } => {
                all_merged = false;
                task.merge.state = "conflict".into();
                task.merge.conflicts = paths.clone();
                println!(
                    "{name}: conflict in {}; nothing was changed",
                    paths.join(", ")
                );
            }
            MergeOutcome::Refused { reason } => {
                all_merged = false;
                if task.status == "succeeded" {
                    task.merge.state = "refused".into();
                    task.merge.reason = Some(reason.clone());
                }
                println!("{name}: refused: {reason}");
            }
        }
        results.save(&results_path)?;
    }
    Ok(if all_merged { 0 } else { 1 })
}

/// `name` is merged: it is its race's pick, and its siblings not merged are discarded.
fn pick(results: &mut Results, group: &str, name: &str) {
    for sibling in &mut results.tasks {
        if sibling.group.as_deref() == Some(group)
            && sibling.name != name
            && sibling.merge.state != "merged"
        {
            sibling.merge.state = "discarded".into();
        }
    }
    if let Some(record) = results.groups.iter_mut().find(|g| g.name == group) {
        record.picked = Some(name.to_string());
    }
}
