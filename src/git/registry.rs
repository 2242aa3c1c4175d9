//! How a worktree is registered in the repository: the names under `.git/worktrees/` and the
//! paths libgit2 records there, which worktree.rs, links.rs and merge.rs all go by.

use std::path::{Path, PathBuf};

use git2::Repository;
use sha2::{Digest, Sha256};

use super::{io_err, GitContext, GitError};

/// Names of the worktrees registered in .git/worktrees/ (names that are not UTF-8 are skipped:
/// grove never creates such names).
pub(crate) fn worktree_names(repo: &Repository) -> Result<Vec<String>, GitError> {
    let names = repo
        .worktrees()
        .ctx(|| "listing worktrees".into(), repo.path())?;
    Ok(names
        .iter()
        .filter_map(|name| name.ok().flatten().map(str::to_string))
        .collect())
}

/// The name under .git/worktrees/ for a worktree at `path`: its last two path components (run
/// id and task folder, readable in `git worktree list`) plus a hash of the whole path, which is
/// what keeps names unique.
pub(super) fn worktree_name(path: &Path) -> String {
    let readable: Vec<String> = path
        .components()
        .rev()
        .take(2)
        .map(|c| sanitize(&c.as_os_str().to_string_lossy()))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hash}", readable.join("."))
}

/// Keeps characters that are safe in a directory name and a ref component.
fn sanitize(part: &str) -> String {
    let cleaned: String = part
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' => c,
            _ => '-',
        })
        .collect();
    cleaned.trim_matches('-').to_string()
}

/// `path` made absolute with symlinks resolved as far as it exists, matching how libgit2 records
/// worktree paths, so a registered worktree can be recognized by its path.
pub(super) fn absolute(path: &Path) -> Result<PathBuf, GitError> {
    let path = std::path::absolute(path).map_err(io_err("resolving", path))?;
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return Ok(rest.iter().rev().fold(real, |acc, part| acc.join(part)));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return Ok(path),
        }
    }
}
