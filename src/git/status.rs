//! What is in a worktree besides its commits: the untracked files (for excluding what worktree
//! setup created from grove's commits).

use std::path::Path;

use git2::StatusOptions;

use super::{open, GitContext, GitError};

/// Untracked files of the worktree (paths relative to it, `/`-separated), each file listed on
/// its own (not its directory). Ignored files are not listed, and neither is anything matching
/// `extra_excludes` (gitignore-style patterns, as in `commit_worktree`).
pub fn untracked_files(
    worktree: &Path,
    extra_excludes: &[String],
) -> Result<Vec<String>, GitError> {
    let repo = open(worktree)?;
    if !extra_excludes.is_empty() {
        repo.add_ignore_rule(&extra_excludes.join("\n")).ctx(
            || format!("adding exclude patterns {extra_excludes:?}"),
            worktree,
        )?;
    }
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(true);
    let statuses = repo
        .statuses(Some(&mut opts))
        .ctx(|| "listing untracked files".into(), worktree)?;
    Ok(statuses
        .iter()
        .filter(|e| e.status().is_wt_new())
        .filter_map(|e| e.path().ok().map(str::to_string))
        .collect())
}
