//! Keeping an attempt's work when it does not end in a commit: saving its worktree on the
//! attempt ref, or, when even that cannot be written (a full disk), moving the worktree aside
//! where nothing touches it again.

use crate::git;
use crate::record::audit::Audit;
use crate::record::journal::AttemptFact;
use crate::record::RunPaths;

use super::blocking::blocking;
use super::state::AttemptEnd;

/// Saves the task's worktree as attempt `attempt` left it on
/// `refs/grove/<run>/<task>/attempt-<n>` (without `excludes`); the ref, or None when there is no
/// worktree to save.
pub(super) async fn save_worktree(
    paths: &RunPaths,
    task: &str,
    attempt: u32,
    reason: &str,
    excludes: &[String],
    audit: &Audit,
) -> Result<Option<String>, String> {
    let worktree = paths.worktree(task);
    // No folder, or the empty one a worktree creation killed before it wrote anything leaves:
    // no agent ran there, so there is nothing to save (and nothing to keep aside).
    let empty = std::fs::read_dir(&worktree).map(|mut entries| entries.next().is_none());
    if !worktree.exists() || matches!(empty, Ok(true)) {
        return Ok(None);
    }
    let refname = paths.attempt_ref(task, attempt);
    let message = format!(
        "grove: {task} attempt {attempt} ({reason})\n\nGrove-Run: {}\n",
        paths.run_id
    );
    let (repo, wt, r, ex) = (
        paths.repo_root.clone(),
        worktree,
        refname.clone(),
        excludes.to_vec(),
    );
    let saved = match blocking(move || git::save_snapshot(&repo, &wt, &r, &message, &ex)).await {
        Ok(Ok(commit)) => {
            audit.commit(task, attempt, &commit, &refname);
            return Ok(Some(refname));
        }
        Ok(Err(e)) => format!("saving attempt: {e}"),
        Err(e) => e,
    };
    audit.error(task, &saved);
    Err(saved)
}

/// An attempt whose work could not be saved (`why`): its worktree is moved aside to
/// `<task>.attempt-<n>.unsaved` (still a valid git worktree) where nothing grove does later
/// touches it, and the attempt fails for good, its error saying where the files are.
pub(super) async fn keep_unsaved(
    paths: &RunPaths,
    task: &str,
    report: &mut AttemptFact,
    why: &str,
    audit: &Audit,
) {
    let worktree = paths.worktree(task);
    let aside = paths.unsaved_worktree(task, report.attempt);
    let (repo, from, to) = (paths.repo_root.clone(), worktree.clone(), aside.clone());
    let moved = match blocking(move || git::move_worktree(&repo, &from, &to)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e),
    };
    let kept = match moved {
        Ok(()) => aside,
        Err(e) => {
            // Left where it is: the task ends here, so no later attempt resets that path.
            audit.error(task, &format!("moving the unsaved worktree aside: {e}"));
            worktree
        }
    };
    let error = report.error.take().unwrap_or_else(|| "failed".into());
    report.error = Some(format!(
        "{error}; {why}: the attempt's files are kept, untouched, in {}",
        kept.display()
    ));
    report.status = AttemptEnd::Failed.status();
    report.retryable = false;
    report.unsaved = Some(kept);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// grove killed inside `git worktree add` leaves the task's folder made but empty (libgit2
    /// writes the `.git` file into it next): resume finds nothing to save there, and must not
    /// take it for an attempt whose work could not be saved.
    #[tokio::test]
    async fn an_empty_worktree_folder_has_nothing_to_save() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        git2::Repository::init(&repo).unwrap();
        let paths = RunPaths::new(&repo, "p-20260101-000000");
        std::fs::create_dir_all(paths.worktree("t")).unwrap();
        let records = dir.path().join("records");
        std::fs::create_dir_all(&records).unwrap();
        let audit = Audit::open(&records).unwrap();
        let saved = save_worktree(&paths, "t", 2, "interrupted", &[], &audit).await;
        assert_eq!(saved, Ok(None));

        // A folder with files in it but no repository is not taken for empty.
        std::fs::write(paths.worktree("t").join("work.txt"), "agent's").unwrap();
        let saved = save_worktree(&paths, "t", 2, "interrupted", &[], &audit).await;
        assert!(saved.is_err(), "{saved:?}");
    }
}
