//! What merging a branch into another would do, found without changing anything (the merge is
//! done in memory): for the question the dashboard asks before a merge.

use std::path::Path;

use super::merge::conflict_paths;
use super::refs::{branch_oid, contains};
use super::{diff_stat, open, GitContext, GitError};

/// How a merge would go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeWay {
    /// The target would move to the source's tip.
    FastForward,
    /// A merge commit would join them.
    MergeCommit,
    /// The target already has the source's commits.
    AlreadyMerged,
    /// These paths would conflict; the merge would change nothing.
    Conflict(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergePreview {
    pub way: MergeWay,
    /// The files the source changed since the branches parted.
    pub files: Vec<String>,
}

/// What merging `source_branch` into `target_branch` would do now.
pub fn merge_preview(
    repo_root: &Path,
    source_branch: &str,
    target_branch: &str,
) -> Result<MergePreview, GitError> {
    let repo = open(repo_root)?;
    let target = branch_oid(&repo, target_branch)?;
    let source = branch_oid(&repo, source_branch)?;
    let what = || format!("looking at a merge of {source_branch} into {target_branch}");
    let way = if contains(&repo, target, source)? {
        MergeWay::AlreadyMerged
    } else if contains(&repo, source, target)? {
        MergeWay::FastForward
    } else {
        let ours = repo.find_commit(target).ctx(what, repo_root)?;
        let theirs = repo.find_commit(source).ctx(what, repo_root)?;
        let index = repo
            .merge_commits(&ours, &theirs, None)
            .ctx(what, repo_root)?;
        match index.has_conflicts() {
            true => MergeWay::Conflict(conflict_paths(&index).ctx(what, repo_root)?),
            false => MergeWay::MergeCommit,
        }
    };
    let base = repo.merge_base(target, source).ctx(what, repo_root)?;
    let stat = diff_stat(repo_root, &base.to_string(), &source.to_string())?;
    Ok(MergePreview {
        way,
        files: stat.files.into_iter().map(|f| f.path).collect(),
    })
}
