//! `grove clean <run-id> | --all [--force] [--records]`: removes a run's worktrees (those holding
//! unsaved work only with --force), prunes stale worktree metadata, deletes its branches
//! (unmerged ones only with --force) and its attempt refs (only with --force), and with
//! --records its records too. Runs that are running are left alone, and so are unfinished ones
//! unless --force.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cli::exit::UsageError;
use crate::cli::history::{self, RunEntry, RunState};
use crate::git;
use crate::record::{self, folders, RunPaths};

pub struct CleanOptions {
    pub force: bool,
    pub records: bool,
}

/// Cleans one run, or every run (`run_id` None). Exit code 1 when something could not be removed.
/// grove's folders that are links are refused (exit 2) before anything is removed, and folders
/// are removed only for runs grove made (a run id with grove's records).
pub fn clean(
    root: &Path,
    run_id: Option<&str>,
    opts: &CleanOptions,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    let ids = match run_id {
        Some(id) => {
            let paths = RunPaths::new(root, id);
            let no_run = || {
                UsageError(format!(
                    "no run '{id}' in {} (see grove ls)",
                    root.display()
                ))
            };
            if !crate::plan::valid_name(id) {
                return Err(no_run().into());
            }
            folders::check_run_folders(&paths)?;
            let known = folders::grove_made(&paths)
                || !git::branches_under(root, &format!("grove/{id}/"))?.is_empty();
            if !known {
                return Err(no_run().into());
            }
            vec![id.to_string()]
        }
        None => {
            folders::check_all_run_folders(root)?;
            let mut ids = history::dir_names(&record::runs_dir(root));
            ids.extend(history::dir_names(&record::worktrees_dir(root)));
            ids.sort();
            ids.dedup();
            for id in &ids {
                folders::check_run_folders(&RunPaths::new(root, id))?;
            }
            ids
        }
    };
    let mut failed = false;
    for id in &ids {
        let entry = RunEntry::load(root, id);
        if let RunState::Running { pid } = entry.state() {
            if run_id.is_some() {
                return Err(UsageError(format!(
                    "run '{id}' is running (grove process {pid}); stop it first"
                ))
                .into());
            }
            writeln!(out, "{id}: running (grove process {pid}), left alone")?;
            continue;
        }
        // A run grove can resume keeps its worktrees, branches and saved attempts for that.
        let resumable = entry.state() == RunState::Unfinished && entry.record.is_some();
        if resumable && !opts.force {
            if run_id.is_some() {
                return Err(UsageError(format!(
                    "run '{id}' did not finish: grove resume {id} continues it; grove clean {id} --force removes it"
                ))
                .into());
            }
            writeln!(
                out,
                "{id}: unfinished, kept (grove resume {id} continues it; grove clean {id} --force removes it)"
            )?;
            continue;
        }
        let made = folders::grove_made(&entry.paths);
        if !made && entry.paths.worktrees().exists() {
            writeln!(
                out,
                ".grove/worktrees/{id}: no run grove made (no records in .grove/runs/{id}/), left alone"
            )?;
        }
        if !made && run_id.is_none() {
            continue;
        }
        failed |= !clean_run(root, &entry, made, opts, out)?;
    }
    if ids.is_empty() {
        writeln!(out, "no runs in {}", root.display())?;
    }
    Ok(if failed { 1 } else { 0 })
}

/// Cleans one run that is not running; false when something could not be removed. Its folders
/// (worktrees, records) only when grove made it (`made`); its branches and refs in any case.
fn clean_run(
    root: &Path,
    entry: &RunEntry,
    made: bool,
    opts: &CleanOptions,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let id = entry.run_id();
    let mut ok = true;
    let mut problem = |out: &mut dyn Write, what: String| -> std::io::Result<()> {
        ok = false;
        writeln!(out, "{id}: {what}")
    };

    let folder = entry.paths.worktrees();
    let tasks = if made {
        history::dir_names(&folder)
    } else {
        Vec::new()
    };
    for task in &tasks {
        stop_leftover_agents(&folder.join(task));
    }
    let mut worktrees = 0;
    let mut unsaved = Vec::new();
    for task in &tasks {
        if task.ends_with(record::UNSAVED) && !opts.force {
            unsaved.push(folder.join(task).display().to_string());
            continue;
        }
        match git::remove_worktree(root, &folder.join(task)) {
            Ok(()) => worktrees += 1,
            Err(e) => problem(out, format!("cannot remove worktree: {e}"))?,
        }
    }
    if made {
        // Empty once its worktrees are gone; a folder that is not empty is reported above.
        let _ = std::fs::remove_dir(&folder);
    }
    if let Err(e) = git::prune_worktrees(root) {
        problem(out, format!("cannot prune worktree metadata: {e}"))?;
    }

    let mut deleted = 0;
    let mut kept = Vec::new();
    for branch in git::branches_under(root, &format!("grove/{id}/"))? {
        if !opts.force && !merged(root, entry, &branch) {
            kept.push(branch);
            continue;
        }
        match git::delete_branch(root, &branch) {
            Ok(()) => deleted += 1,
            Err(e) => problem(out, format!("cannot delete branch: {e}"))?,
        }
    }
    // Attempt refs hold the work of failed and interrupted attempts: kept unless --force.
    let attempt_refs = format!("refs/grove/{id}");
    let (refs, kept_refs) = if opts.force {
        match git::delete_refs_under(root, &attempt_refs) {
            Ok(n) => (n, Vec::new()),
            Err(e) => {
                problem(out, format!("cannot delete attempt refs: {e}"))?;
                (0, Vec::new())
            }
        }
    } else {
        (0, git::refs_under(root, &attempt_refs)?)
    };
    let mut removed_records = false;
    if opts.records && made {
        match std::fs::remove_dir_all(&entry.paths.run_dir) {
            Ok(()) => removed_records = true,
            Err(e) => problem(
                out,
                format!("cannot remove {}: {e}", entry.paths.run_dir.display()),
            )?,
        }
    }

    writeln!(
        out,
        "{id}: removed {worktrees} worktree{}, deleted {deleted} branch{} and {refs} attempt ref{}{}",
        plural(worktrees, "s"),
        plural(deleted, "es"),
        plural(refs, "s"),
        if removed_records {
            ", removed its records"
        } else {
            ""
        }
    )?;
    if !unsaved.is_empty() {
        writeln!(
            out,
            "{id}: kept {} worktree{} holding work grove could not save (--force removes them): {}",
            unsaved.len(),
            plural(unsaved.len(), "s"),
            unsaved.join(", ")
        )?;
    }
    if !kept.is_empty() {
        let base = entry.base_branch().unwrap_or("the base");
        writeln!(
            out,
            "{id}: kept {} branch{} not merged into {base} (--force deletes them): {}",
            kept.len(),
            plural(kept.len(), "es"),
            kept.join(", ")
        )?;
    }
    if !kept_refs.is_empty() {
        writeln!(
            out,
            "{id}: kept {} attempt ref{} (work saved from failed or interrupted attempts; --force deletes them): {}",
            kept_refs.len(),
            plural(kept_refs.len(), "s"),
            kept_refs.join(", ")
        )?;
    }
    Ok(ok)
}

/// Agents a killed grove left running would go on writing into the worktree: they are killed
/// first (found by the GROVE_WORKTREE they inherited), and waited for, up to a few seconds.
fn stop_leftover_agents(worktree: &Path) {
    let worktree = worktree.display().to_string();
    let tags = [("GROVE_WORKTREE", worktree.as_str())];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let groups = crate::pty::tagged_groups(&tags);
        if groups.is_empty() || Instant::now() >= deadline {
            return;
        }
        for pgid in groups {
            crate::pty::kill_group_now(pgid);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the branch holds nothing the base lacks: merged into the base branch, or (for a base
/// that is a tag or commit) still at the base commit.
fn merged(root: &Path, entry: &RunEntry, branch: &str) -> bool {
    match (entry.base_branch(), entry.base_commit()) {
        (Some(base), _) => git::is_merged_into(root, branch, base).unwrap_or(false),
        (None, Some(commit)) => git::branch_tip(root, branch).is_ok_and(|tip| tip == commit),
        (None, None) => false,
    }
}

fn plural(n: usize, suffix: &str) -> &str {
    if n == 1 {
        ""
    } else {
        suffix
    }
}
