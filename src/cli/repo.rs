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
