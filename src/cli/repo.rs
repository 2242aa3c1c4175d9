//! Which repository a command works in: the one containing `--repo`, or the current directory.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::exit::UsageError;

/// Where to look for the repository: `--repo`, or the current directory.
pub fn start_dir(repo: Option<&Path>) -> anyhow::Result<PathBuf> {
    match repo {
        Some(dir) => Ok(dir.to_path_buf()),
        None => std::env::current_dir().context("no current directory"),
    }
}

/// The repository containing `repo` (or the current directory); not one is a usage error.
pub fn repo_root(repo: Option<&Path>) -> anyhow::Result<PathBuf> {
    let start = start_dir(repo)?;
    crate::git::discover_root(&start)
        .map_err(|e| UsageError(format!("{}: {e}", start.display())).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::exit::exit_code_and_message;

    #[test]
    fn the_repository_is_found_from_inside_it_and_elsewhere_is_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        git2::Repository::init(&root).unwrap();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        let found = repo_root(Some(&root.join("a/b"))).unwrap();
        assert_eq!(found.canonicalize().unwrap(), root.canonicalize().unwrap());

        let outside = dir.path().join("plain");
        std::fs::create_dir(&outside).unwrap();
        let err = repo_root(Some(&outside)).unwrap_err();
        let (code, message) = exit_code_and_message(&err);
        assert_eq!(code, 2);
        assert!(
            message.starts_with(&outside.display().to_string()),
            "{message}"
        );
    }
}
