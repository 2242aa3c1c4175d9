//! git work through libgit2: worktrees, commits, attempt refs, in-memory merges, diff stats.
//! Nothing here runs on a UI loop. Merges and worktree add/remove/prune on one repository are
//! serialized across threads and grove processes (`lock`), and retried while a git lock file is
//! held for an instant by someone else.

mod commit;
mod diff;
mod filters;
mod links;
mod lock;
mod merge;
mod preview;
mod refs;
mod registry;
mod status;
mod submodule;
mod worktree;

use std::path::{Path, PathBuf};

use git2::{Config, Repository, Signature};
use serde::{Deserialize, Serialize};

pub use commit::{commit_worktree, save_snapshot};
pub use diff::{diff_patch, diff_stat, worktree_patch};
pub use merge::{merge_branches_for_start, merge_into};
pub use preview::{merge_preview, MergePreview, MergeWay};
pub use refs::{
    branch_tip, branches_under, delete_branch, delete_refs_under, head_commit, is_merged_into,
    refs_under, remove_stale_index_lock, remove_stale_ref_lock,
};
pub use status::untracked_files;
pub use submodule::warnings as submodule_warnings;
pub use worktree::{
    create_worktree, ensure_grove_excluded, move_worktree, prune_worktrees, remove_worktree,
};

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
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

/// Any failure of a git operation, naming the operation and the repository path or ref involved.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git: {what} in {}: {source}", path.display())]
    Git {
        what: String,
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("branch '{branch}' does not exist in {}", repo.display())]
    NoSuchBranch { branch: String, repo: PathBuf },
    #[error("{} is not a worktree of {}", path.display(), repo.display())]
    NoWorktree { path: PathBuf, repo: PathBuf },
    /// Work an agent left inside a submodule, which a commit of the task's branch cannot carry.
    #[error("work inside submodule '{name}' ({}/) is not committed by grove: {detail}; it stays in the worktree", path.display())]
    SubmoduleWork {
        name: String,
        path: PathBuf,
        detail: String,
    },
    /// The git CLI, run where libgit2 cannot do what git does (clean filters), failed.
    #[error("`{command}` in {}: {stderr}", path.display())]
    Cli {
        command: String,
        path: PathBuf,
        stderr: String,
    },
}

/// Attaches "what failed, where" to libgit2 errors.
pub(crate) trait GitContext<T> {
    fn ctx(self, what: impl FnOnce() -> String, path: &Path) -> Result<T, GitError>;
}

impl<T> GitContext<T> for Result<T, git2::Error> {
    fn ctx(self, what: impl FnOnce() -> String, path: &Path) -> Result<T, GitError> {
        self.map_err(|source| GitError::Git {
            what: what(),
            path: path.to_path_buf(),
            source,
        })
    }
}

pub(crate) fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> GitError {
    let path = path.to_path_buf();
    move |source| GitError::Io { what, path, source }
}

pub(crate) fn open(path: &Path) -> Result<Repository, GitError> {
    Repository::open(path).ctx(|| "opening repository".into(), path)
}

/// Why no working tree to run against was found from a directory (see [`discover`]).
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("not inside a git repository")]
    NotARepo,
    #[error("is a bare repository (grove needs a working tree)")]
    Bare,
    #[error("git: {0}")]
    Git(git2::Error),
    #[error("cannot resolve {}: {source}", path.display())]
    Resolve {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The repository containing `start`, with its main worktree's working directory (canonical):
/// started inside a linked worktree (grove's own, say), runs still belong to the main one. A
/// bare repository has no working tree to run in.
pub fn discover(start: &Path) -> Result<(Repository, PathBuf), DiscoverError> {
    let repo = Repository::discover(start).map_err(|e| match e.code() {
        git2::ErrorCode::NotFound => DiscoverError::NotARepo,
        _ => DiscoverError::Git(e),
    })?;
    let workdir = repo.workdir().ok_or(DiscoverError::Bare)?;
    let root = main_workdir(&repo).unwrap_or_else(|| workdir.to_path_buf());
    match std::fs::canonicalize(&root) {
        Ok(root) => Ok((repo, root)),
        Err(source) => Err(DiscoverError::Resolve { path: root, source }),
    }
}

/// The main worktree's working directory of the repository containing `start` (canonical).
pub fn discover_root(start: &Path) -> Result<PathBuf, DiscoverError> {
    discover(start).map(|(_, root)| root)
}

/// For a linked worktree, the main worktree's working directory; `None` for the main one.
fn main_workdir(repo: &Repository) -> Option<PathBuf> {
    if !repo.is_worktree() {
        return None;
    }
    let main = Repository::open(repo.commondir()).ok()?;
    main.workdir().map(Path::to_path_buf)
}

/// The identity grove commits with: `user.name` / `user.email` from `config` where set, each
/// falling back to `grove <grove@localhost>` so a machine without a git identity still works.
pub fn signature_from_config(config: &Config) -> Result<Signature<'static>, git2::Error> {
    let name = config_value(config, "user.name").unwrap_or_else(|| "grove".to_string());
    let email = config_value(config, "user.email").unwrap_or_else(|| "grove@localhost".to_string());
    Signature::now(&name, &email)
}

fn config_value(config: &Config, key: &str) -> Option<String> {
    config
        .get_string(key)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

pub(crate) fn signature(repo: &Repository) -> Result<Signature<'static>, GitError> {
    let path = repo.path();
    let config = repo.config().ctx(|| "reading config".into(), path)?;
    signature_from_config(&config).ctx(|| "building the commit signature".into(), path)
}
