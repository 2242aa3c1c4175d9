//! git work through libgit2: worktrees, commits, attempt refs, in-memory merges, diff stats.
//! Nothing here runs on a UI loop; worktree add/remove/prune on one repository are serialized.

use serde::{Deserialize, Serialize};

/// Lines added and removed between two commits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffStat {
    pub files: Vec<FileStat>,
    pub insertions: usize,
    pub deletions: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    pub path: String,
    pub insertions: usize,
    pub deletions: usize,
}

/// What a merge into the base branch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The base branch now points at `commit` (the task tip on fast-forward, else a merge commit).
    Merged { commit: String, fast_forward: bool },
    /// The base branch already contained the task's commits.
    AlreadyMerged { commit: String },
    /// Nothing changed; these paths conflict.
    Conflict { paths: Vec<String> },
    /// Nothing changed, for this reason (dirty checkout, base not a branch, …).
    Refused { reason: String },
}
