//! What ties a task's worktree to the repository (`<worktree>/.git`, and `commondir` and
//! `gitdir` in its folder under `.git/worktrees/`) and its HEAD: its agent can write all of them
//! (a commit needs that folder), so before grove works on the worktree after the agent, outside
//! any sandbox, it puts them back as it made them. Followed as the agent left them, a `.git` or
//! `commondir` pointed at a repository the agent made would have grove run that repository's
//! filter commands, and a HEAD pointed at `main` would have grove commit onto main. Reflogs
//! grove appends to are not followed through a link either: git appends through one.

use std::fs;
use std::path::Path;

use git2::Repository;

use super::registry::{absolute, worktree_name};
use super::{io_err, open, GitContext, GitError};

/// The repository of the task worktree at `worktree` (registered in the repository at
/// `repo_root`), opened once its links are as grove made them.
pub(crate) fn open_task(repo_root: &Path, worktree: &Path) -> Result<Repository, GitError> {
    let common = open(repo_root)?.commondir().to_path_buf();
    let worktree = absolute(worktree)?;
    // `.git/worktrees/` itself is out of the agent's reach: its entry for this path is grove's.
    let admin = common.join("worktrees").join(worktree_name(&worktree));
    if !fs::symlink_metadata(&admin).is_ok_and(|m| m.is_dir()) {
        return Err(GitError::NoWorktree {
            path: worktree,
            repo: repo_root.to_path_buf(),
        });
    }
    let link = worktree.join(".git");
    restore(&link, "gitdir: ", &admin)?;
    restore(&admin.join("commondir"), "", &common)?;
    restore(&admin.join("gitdir"), "", &link)?;
    let logs = admin.join("logs");
    unlink(&logs)?;
    unlink(&logs.join("HEAD"))?;
    open(&worktree)
}

/// Puts a HEAD that names a branch other than `branch` (the task's) back on `branch`; a detached
/// HEAD stays (a commit there moves no branch). The branch's reflog is made safe to append to.
pub(crate) fn restore_head(repo: &Repository, branch: &str) -> Result<(), GitError> {
    unlink_branch_log(repo.commondir(), branch)?;
    let own = format!("refs/heads/{branch}");
    let head = repo
        .find_reference("HEAD")
        .ctx(|| "reading HEAD".into(), repo.path())?;
    match head.symbolic_target_bytes() {
        Some(target) if target != own.as_bytes() => repo
            .set_head(&own)
            .ctx(|| format!("putting HEAD back on {branch}"), repo.path()),
        _ => Ok(()),
    }
}

/// Makes the file at `file` read `<prefix><target>`: left alone when it is a file that already
/// names `target`, rewritten otherwise (a link in its place is replaced, never followed).
fn restore(file: &Path, prefix: &str, target: &Path) -> Result<(), GitError> {
    let names_target = fs::symlink_metadata(file).is_ok_and(|m| m.is_file())
        && fs::read_to_string(file).is_ok_and(|text| {
            text.strip_prefix(prefix)
                .is_some_and(|named| Path::new(named.trim_end()) == target)
        });
    if names_target {
        return Ok(());
    }
    let text = format!("{prefix}{}\n", target.display());
    crate::record::write_atomic(file, text.as_bytes()).map_err(io_err("restoring", file))
}

/// Before grove moves branch `branch` of the repository whose common git folder is `common`: a
/// link in place of the branch's reflog (an agent can write the reflogs of its run's branches)
/// is removed.
pub(crate) fn unlink_branch_log(common: &Path, branch: &str) -> Result<(), GitError> {
    unlink(&common.join("logs/refs/heads").join(branch))
}

/// Removes `path` when it is a symbolic link; anything else stays.
fn unlink(path: &Path) -> Result<(), GitError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::remove_file(path).map_err(io_err("removing the link", path))
        }
        _ => Ok(()),
    }
}
