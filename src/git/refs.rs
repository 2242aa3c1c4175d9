//! Reading and deleting refs: HEAD and branch tips, ancestry checks, cleanup of grove's refs.

use std::path::Path;
use std::time::{Duration, SystemTime};

use git2::{BranchType, Commit, ErrorCode, Oid, Repository};

use super::lock::retry_locked;
use super::{io_err, open, GitContext, GitError};

/// The commit `rev` (a branch, tag, commit id or any revspec) names.
pub(crate) fn commit_of<'r>(repo: &'r Repository, rev: &str) -> Result<Commit<'r>, GitError> {
    repo.revparse_single(rev)
        .and_then(|object| object.peel_to_commit())
        .ctx(|| format!("resolving '{rev}' to a commit"), repo.path())
}

/// The tip of local branch `branch`.
pub(crate) fn branch_oid(repo: &Repository, branch: &str) -> Result<Oid, GitError> {
    let found = repo.find_branch(branch, BranchType::Local);
    match found {
        Ok(b) => b.get().peel_to_commit().map(|c| c.id()).ctx(
            || format!("reading the tip of branch '{branch}'"),
            repo.path(),
        ),
        Err(e) if matches!(e.code(), ErrorCode::NotFound | ErrorCode::InvalidSpec) => {
            Err(GitError::NoSuchBranch {
                branch: branch.to_string(),
                repo: repo.path().to_path_buf(),
            })
        }
        Err(e) => Err(e).ctx(|| format!("looking up branch '{branch}'"), repo.path()),
    }
}

/// HEAD commit id of a repository or worktree.
pub fn head_commit(path: &Path) -> Result<String, GitError> {
    let repo = open(path)?;
    let id = repo
        .head()
        .and_then(|head| head.peel_to_commit())
        .ctx(|| "reading HEAD".into(), path)?
        .id();
    Ok(id.to_string())
}

pub fn branch_tip(repo_root: &Path, branch: &str) -> Result<String, GitError> {
    let repo = open(repo_root)?;
    Ok(branch_oid(&repo, branch)?.to_string())
}

/// Deletes local branch `branch`; Ok when it does not exist. A worktree that has it checked out
/// must be removed first.
pub fn delete_branch(repo_root: &Path, branch: &str) -> Result<(), GitError> {
    let repo = open(repo_root)?;
    retry_locked(|| match repo.find_branch(branch, BranchType::Local) {
        Ok(mut b) => b
            .delete()
            .ctx(|| format!("deleting branch '{branch}'"), repo_root),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(()),
        Err(e) => Err(e).ctx(|| format!("looking up branch '{branch}'"), repo_root),
    })
}

/// Local branches whose names start with `prefix` (e.g. "grove/run-1/"), sorted.
pub fn branches_under(repo_root: &Path, prefix: &str) -> Result<Vec<String>, GitError> {
    let repo = open(repo_root)?;
    let branches = repo
        .branches(Some(BranchType::Local))
        .ctx(|| "listing branches".into(), repo_root)?;
    let mut names = Vec::new();
    for branch in branches {
        let (branch, _) = branch.ctx(|| "listing branches".into(), repo_root)?;
        if let Ok(Some(name)) = branch.name() {
            if name.starts_with(prefix) {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// The refs whose names lie under `prefix` (e.g. "refs/grove/run-1"), sorted.
pub fn refs_under(repo_root: &Path, prefix: &str) -> Result<Vec<String>, GitError> {
    let repo = open(repo_root)?;
    // A trailing slash keeps "refs/grove/run-1" from also matching "refs/grove/run-10/…".
    let dir = format!("{}/", prefix.trim_end_matches('/'));
    let mut names: Vec<String> = repo
        .references()
        .ctx(|| "listing refs".into(), repo_root)?
        .names()
        .filter_map(|name| name.ok().map(str::to_string))
        .filter(|name| name.starts_with(&dir))
        .collect();
    names.sort();
    Ok(names)
}

/// Deletes every ref whose name lies under `prefix` (e.g. "refs/grove/run-1"); returns how many.
pub fn delete_refs_under(repo_root: &Path, prefix: &str) -> Result<usize, GitError> {
    let names = refs_under(repo_root, prefix)?;
    let repo = open(repo_root)?;
    for name in &names {
        retry_locked(|| match repo.find_reference(name) {
            Ok(mut r) => r
                .delete()
                .ctx(|| format!("deleting ref '{name}'"), repo_root),
            // Deleted by the try that then met a lock (packed-refs).
            Err(e) if e.code() == ErrorCode::NotFound => Ok(()),
            Err(e) => Err(e).ctx(|| format!("deleting ref '{name}'"), repo_root),
        })?;
    }
    Ok(names.len())
}

/// Removes the lock file of local branch `branch` when it was made at or after `since`: the
/// lock a merge into it held when its grove process was killed (a lock is otherwise only ever
/// held for an instant). An older lock is someone else's and stays. Ok(true) when removed.
pub fn remove_stale_ref_lock(
    repo_root: &Path,
    branch: &str,
    since: SystemTime,
) -> Result<bool, GitError> {
    let repo = open(repo_root)?;
    let lock = repo
        .commondir()
        .join("refs/heads")
        .join(format!("{branch}.lock"));
    remove_lock_made_since(&lock, since)
}

/// Removes the main checkout's index lock when `branch` is checked out there and the lock was
/// made at or after `since`: the lock a merge updating that checkout held when its grove process
/// was killed. Ok(true) when removed.
pub fn remove_stale_index_lock(
    repo_root: &Path,
    branch: &str,
    since: SystemTime,
) -> Result<bool, GitError> {
    let repo = open(repo_root)?;
    let head = repo.find_reference("HEAD");
    let target = format!("refs/heads/{branch}");
    if !head.is_ok_and(|h| h.symbolic_target() == Ok(Some(target.as_str()))) {
        return Ok(false);
    }
    let lock = repo.path().join("index.lock");
    remove_lock_made_since(&lock, since)
}

fn remove_lock_made_since(lock: &Path, since: SystemTime) -> Result<bool, GitError> {
    let modified = match std::fs::metadata(lock).and_then(|m| m.modified()) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err("inspecting", lock)(e)),
    };
    // File times can be coarser than the journal's clock.
    if modified + Duration::from_secs(1) < since {
        return Ok(false);
    }
    std::fs::remove_file(lock).map_err(io_err("removing", lock))?;
    Ok(true)
}

/// True when every commit of `branch` is already reachable from `target_branch`.
pub fn is_merged_into(
    repo_root: &Path,
    branch: &str,
    target_branch: &str,
) -> Result<bool, GitError> {
    let repo = open(repo_root)?;
    let tip = branch_oid(&repo, branch)?;
    let target = branch_oid(&repo, target_branch)?;
    contains(&repo, target, tip)
}

/// Whether `commit` is `ancestor` or descends from it.
pub(crate) fn contains(repo: &Repository, commit: Oid, ancestor: Oid) -> Result<bool, GitError> {
    if commit == ancestor {
        return Ok(true);
    }
    repo.graph_descendant_of(commit, ancestor).ctx(
        || format!("checking whether {commit} contains {ancestor}"),
        repo.path(),
    )
}
