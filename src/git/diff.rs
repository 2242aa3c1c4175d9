//! Differences between two commits: per-file line counts and unified patch text.

use std::path::Path;

use git2::{Diff, DiffFormat, DiffOptions, Patch, Repository};

use super::refs::commit_of;
use super::{open, DiffStat, FileStat, GitContext, GitError};

/// Lines added and removed per file from `from` to `to` (any revspecs naming commits).
pub fn diff_stat(repo_root: &Path, from: &str, to: &str) -> Result<DiffStat, GitError> {
    let repo = open(repo_root)?;
    let diff = tree_diff(&repo, from, to)?;
    let what = || format!("counting lines changed from {from} to {to}");
    let mut stat = DiffStat::default();
    for (idx, delta) in diff.deltas().enumerate() {
        let path = delta
            .new_file()
            .path()
            .or(delta.old_file().path())
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        // Binary files have no patch; they count as changed with no lines.
        let (insertions, deletions) = match Patch::from_diff(&diff, idx).ctx(what, repo_root)? {
            Some(patch) => {
                let (_, added, removed) = patch.line_stats().ctx(what, repo_root)?;
                (added, removed)
            }
            None => (0, 0),
        };
        stat.insertions += insertions;
        stat.deletions += deletions;
        stat.files.push(FileStat {
            path,
            insertions,
            deletions,
        });
    }
    Ok(stat)
}

/// Unified diff text from commit `from` to commit `to`.
pub fn diff_patch(repo_root: &Path, from: &str, to: &str) -> Result<String, GitError> {
    let repo = open(repo_root)?;
    let diff = tree_diff(&repo, from, to)?;
    patch_text(&diff, repo_root, || format!("from {from} to {to}"))
}

/// Unified diff text from commit `from` to the files of the worktree at `worktree` as they are
/// now: committed, staged or not, and new files not ignored (a running agent's work so far).
pub fn worktree_patch(worktree: &Path, from: &str) -> Result<String, GitError> {
    let repo = open(worktree)?;
    let old = commit_of(&repo, from)?
        .tree()
        .ctx(|| format!("reading the tree of '{from}'"), worktree)?;
    let mut opts = DiffOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .show_untracked_content(true);
    let diff = repo
        .diff_tree_to_workdir_with_index(Some(&old), Some(&mut opts))
        .ctx(|| format!("diffing {from} against the worktree"), worktree)?;
    patch_text(&diff, worktree, || format!("from {from} to the worktree"))
}

fn patch_text(diff: &Diff, path: &Path, what: impl Fn() -> String) -> Result<String, GitError> {
    let mut text = String::new();
    diff.print(DiffFormat::Patch, |_, _, line| {
        // Content lines come without their +/-/space marker; headers carry their own text.
        if matches!(line.origin(), '+' | '-' | ' ') {
            text.push(line.origin());
        }
        text.push_str(&String::from_utf8_lossy(line.content()));
        true
    })
    .ctx(|| format!("printing the diff {}", what()), path)?;
    Ok(text)
}

fn tree_diff<'r>(repo: &'r Repository, from: &str, to: &str) -> Result<Diff<'r>, GitError> {
    let tree = |rev: &str| {
        commit_of(repo, rev)?
            .tree()
            .ctx(|| format!("reading the tree of '{rev}'"), repo.path())
    };
    let (old, new) = (tree(from)?, tree(to)?);
    repo.diff_tree_to_tree(Some(&old), Some(&new), None)
        .ctx(|| format!("diffing {from} against {to}"), repo.path())
}
