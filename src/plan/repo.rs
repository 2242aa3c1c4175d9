//! Finding the repository a plan runs against, and the commit its `base` names.

use std::path::{Path, PathBuf};

use git2::{ErrorCode, Repository};

use super::error::{quoted, PlanError};
use super::model::Plan;
use crate::git::DiscoverError;

/// The repository and base commit a run starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoTarget {
    /// The main worktree's working directory, canonical.
    pub root: PathBuf,
    /// 40 hex digits.
    pub base_commit: String,
    /// Short branch name (e.g. "main", "feature/x") when the base is a local branch.
    pub base_branch: Option<String>,
    /// What to print: `base` as written, or "HEAD (main)".
    pub base_label: String,
}

/// Finds the git repository containing `start_dir` and resolves the plan's `base` in it.
pub fn resolve_repo(plan: &Plan, start_dir: &Path) -> Result<RepoTarget, PlanError> {
    let dir = start_dir.to_path_buf();
    let (repo, root) = crate::git::discover(start_dir).map_err(|e| match e {
        DiscoverError::NotARepo => PlanError::NotARepo { dir: dir.clone() },
        DiscoverError::Bare => PlanError::BareRepo { dir: dir.clone() },
        DiscoverError::Git(e) => PlanError::git(&dir, &e),
        resolve @ DiscoverError::Resolve { .. } => PlanError::Git {
            dir: dir.clone(),
            message: resolve.to_string(),
        },
    })?;

    let (commit, base_branch, base_label) = match &plan.base {
        None => {
            let head = match repo.head() {
                Ok(head) => head,
                Err(e) if e.code() == ErrorCode::UnbornBranch => {
                    return Err(PlanError::NoCommits { dir })
                }
                Err(e) => return Err(PlanError::git(&dir, &e)),
            };
            let commit = head
                .peel_to_commit()
                .map_err(|e| PlanError::git(&dir, &e))?;
            let branch = match head.is_branch() {
                true => head.shorthand().ok().map(str::to_string),
                false => None,
            };
            let label = match &branch {
                Some(b) => format!("HEAD ({b})"),
                None => format!("HEAD (detached at {})", short_id(&commit)),
            };
            (commit, branch, label)
        }
        Some(base) => {
            let (commit, branch) = resolve_base(&repo, base).ok_or_else(|| {
                if repo.is_empty().unwrap_or(false) {
                    return PlanError::NoCommits { dir: dir.clone() };
                }
                let source = &plan.source;
                let offset = source.base_span.as_ref().map(|s| s.start);
                PlanError::invalid(
                    &source.path,
                    &source.text,
                    offset,
                    &format!(
                        "base {} does not resolve to a commit in {}",
                        quoted(base),
                        root.display()
                    ),
                )
            })?;
            (commit, branch, base.clone())
        }
    };
    Ok(RepoTarget {
        root,
        base_commit: commit.id().to_string(),
        base_branch,
        base_label,
    })
}

/// A local branch named `base` wins over any other reading of it (tag, commit, rev syntax).
fn resolve_base<'r>(
    repo: &'r Repository,
    base: &str,
) -> Option<(git2::Commit<'r>, Option<String>)> {
    if let Ok(branch) = repo.find_reference(&format!("refs/heads/{base}")) {
        return Some((branch.peel_to_commit().ok()?, Some(base.to_string())));
    }
    let commit = repo.revparse_single(base).ok()?.peel_to_commit().ok()?;
    Some((commit, None))
}

/// A commit's id as git abbreviates it: its first 7 hex digits.
fn short_id(commit: &git2::Commit<'_>) -> String {
    let mut id = commit.id().to_string();
    id.truncate(7);
    id
}
