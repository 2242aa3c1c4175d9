//! Recording a worktree's state: committing it on its branch, or snapshotting it to a side ref.

use std::path::Path;

use git2::{Commit, ErrorCode, Index, IndexAddOption, Oid, Repository};

use super::{filters, links, signature, submodule, GitContext, GitError};

/// Stages every change in the worktree (new, modified, deleted files; .gitignore respected; plus
/// `extra_excludes`, gitignore-style patterns that must never be committed; content through the
/// repository's line-ending attributes and clean filter drivers, as `git add` stores it) and commits on the
/// worktree's branch with `message`. Ok(None) when there is nothing to commit. Commits the agent
/// made itself stay as they are: this commit's parent is the current HEAD. Work inside a
/// submodule (which this commit could only record as a commit id) is an error naming it.
/// `worktree` is the task worktree of branch `branch` in the repository at `repo_root`; its git
/// links, and a HEAD moved to another branch, are put back first (see `links`).
pub fn commit_worktree(
    repo_root: &Path,
    worktree: &Path,
    branch: &str,
    message: &str,
    extra_excludes: &[String],
) -> Result<Option<String>, GitError> {
    let repo = links::open_task(repo_root, worktree)?;
    links::restore_head(&repo, branch)?;
    // Files inside a submodule are not the superproject's to commit: refused, not dropped.
    submodule::check(&repo)?;
    let mut index = staged_index(&repo, extra_excludes)?;
    let tree = write_tree(&repo, &mut index)?;
    let head = head_of(&repo)?;
    let unchanged = match &head {
        Some(head) => head.tree_id() == tree,
        None => index.is_empty(),
    };
    if unchanged {
        return Ok(None);
    }
    index.write().ctx(|| "writing the index".into(), worktree)?;
    let parents: Vec<&Commit> = head.iter().collect();
    commit_tree(&repo, Some("HEAD"), tree, &parents, message).map(|id| Some(id.to_string()))
}

/// Saves the worktree's state (HEAD plus every uncommitted change, same staging rules as
/// [`commit_worktree`]) as a commit stored at `refname`, without moving HEAD or the branch and
/// without touching the worktree's files or index. With nothing uncommitted the ref points at
/// HEAD. Returns the commit id. Like [`commit_worktree`], through the links grove made.
pub fn save_snapshot(
    repo_root: &Path,
    worktree: &Path,
    refname: &str,
    message: &str,
    extra_excludes: &[String],
) -> Result<String, GitError> {
    let repo = links::open_task(repo_root, worktree)?;
    // The index is only changed in memory and never written back.
    let mut index = staged_index(&repo, extra_excludes)?;
    submodule::inline_work(&repo, &mut index)?;
    let tree = write_tree(&repo, &mut index)?;
    let head = head_of(&repo)?;
    let id = match &head {
        Some(head) if head.tree_id() == tree => head.id(),
        _ => {
            let parents: Vec<&Commit> = head.iter().collect();
            commit_tree(&repo, None, tree, &parents, message)?
        }
    };
    repo.reference(refname, id, true, message)
        .ctx(|| format!("writing ref '{refname}'"), worktree)?;
    Ok(id.to_string())
}

/// The repository's index with every worktree change staged (in memory).
fn staged_index(repo: &Repository, extra_excludes: &[String]) -> Result<Index, GitError> {
    let path = repo.workdir().unwrap_or(repo.path()).to_path_buf();
    let mut index = repo.index().ctx(|| "reading the index".into(), &path)?;
    let before = filters::ids(&index);
    let matcher = ExtraExcludes::new(repo, extra_excludes)?;
    let mut failure = None;
    let mut filter = |file: &Path, _: &[u8]| -> i32 {
        match matcher.excludes(repo, file) {
            Ok(true) => 1,
            Ok(false) => 0,
            Err(e) => {
                failure = Some(e);
                -1
            }
        }
    };
    let staged = index
        .add_all(["*"], IndexAddOption::DEFAULT, Some(&mut filter))
        .and_then(|()| index.update_all(["*"], Some(&mut filter)));
    if let Some(e) = failure {
        return Err(e);
    }
    staged.ctx(|| "staging the worktree's changes".into(), &path)?;
    // libgit2 applies line-ending attributes itself but runs no filter driver.
    filters::clean_changed(repo, &mut index, &before)?;
    Ok(index)
}

fn write_tree(repo: &Repository, index: &mut Index) -> Result<Oid, GitError> {
    let path = repo.workdir().unwrap_or(repo.path());
    index
        .write_tree()
        .ctx(|| "writing the staged tree".into(), path)
}

/// `extra_excludes` as ignore rules on the repository handle doing the staging, so untracked
/// files they match are skipped like any ignored file. Ignore rules do not protect tracked files,
/// so staging asks [`ExtraExcludes::excludes`] about every changed path; comparing against a
/// second handle without the extra rules lets only the extra patterns (not .gitignore) decide.
struct ExtraExcludes {
    without_rules: Option<Repository>,
}

impl ExtraExcludes {
    fn new(repo: &Repository, extra_excludes: &[String]) -> Result<Self, GitError> {
        if extra_excludes.is_empty() {
            return Ok(Self {
                without_rules: None,
            });
        }
        repo.add_ignore_rule(&extra_excludes.join("\n")).ctx(
            || format!("adding exclude patterns {extra_excludes:?}"),
            repo.path(),
        )?;
        let plain =
            Repository::open(repo.path()).ctx(|| "opening repository".into(), repo.path())?;
        Ok(Self {
            without_rules: Some(plain),
        })
    }

    /// Whether `file` (relative to the worktree) matches one of the extra patterns.
    fn excludes(&self, repo: &Repository, file: &Path) -> Result<bool, GitError> {
        let Some(plain) = &self.without_rules else {
            return Ok(false);
        };
        let ignored = |r: &Repository| {
            r.status_should_ignore(file).ctx(
                || format!("matching '{}' against ignore rules", file.display()),
                r.path(),
            )
        };
        Ok(ignored(repo)? && !ignored(plain)?)
    }
}

/// HEAD's commit, or None on a branch with no commits yet.
fn head_of(repo: &Repository) -> Result<Option<Commit<'_>>, GitError> {
    match repo.head() {
        Ok(head) => head
            .peel_to_commit()
            .map(Some)
            .ctx(|| "reading HEAD".into(), repo.path()),
        Err(e) if e.code() == ErrorCode::UnbornBranch => Ok(None),
        Err(e) => Err(e).ctx(|| "reading HEAD".into(), repo.path()),
    }
}

fn commit_tree(
    repo: &Repository,
    update_ref: Option<&str>,
    tree: Oid,
    parents: &[&Commit],
    message: &str,
) -> Result<Oid, GitError> {
    let sig = signature(repo)?;
    let tree = repo
        .find_tree(tree)
        .ctx(|| format!("reading tree {tree}"), repo.path())?;
    repo.commit(update_ref, &sig, &sig, message, &tree, parents)
        .ctx(|| "creating a commit".into(), repo.path())
}
