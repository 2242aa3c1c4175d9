//! Slow reads the dashboard hands to blocking threads (git for a diff, the envelope file for the
//! details view), so the UI loop never waits on git or the disk; what they fetch is also turned
//! into the lines the view shows there.

use std::path::PathBuf;

use ratatui::style::Color;
use ratatui::text::Line;

use super::diff::PatchView;
use super::format;
use crate::git;

/// What a diff goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffTo {
    Commit(String),
    /// The files of this worktree as they are now.
    Worktree(PathBuf),
}

/// Something to fetch off the UI loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Load {
    Diff {
        repo_root: PathBuf,
        from: String,
        to: DiffTo,
    },
    /// The envelope, and whether the task's worktree is still there.
    Envelope { path: PathBuf, worktree: PathBuf },
    /// What merging `source` into `target` would do, for the question before task `task`'s merge.
    MergePreview {
        repo_root: PathBuf,
        task: String,
        source: String,
        target: String,
    },
}

/// What a `Load` produced; errors are kept as text to show in the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// The diff up to commit `to`, split into files and colored here rather than on the UI loop
    /// (a patch can be large).
    Diff {
        /// The commit, or None for a worktree.
        to: Option<String>,
        patch: Result<PatchView, String>,
    },
    /// The envelope as the details view shows it (or why it cannot be read), rendered here once
    /// rather than on every frame.
    Envelope {
        path: PathBuf,
        lines: Vec<Line<'static>>,
        /// The task's worktree is gone (removed after it ended, or by `grove clean`).
        worktree_removed: bool,
    },
    MergePreview {
        task: String,
        preview: Result<git::MergePreview, String>,
    },
}

impl Load {
    /// Does the work; blocks (run it with `spawn_blocking`).
    pub fn run(self) -> Loaded {
        match self {
            Load::Diff {
                repo_root,
                from,
                to,
            } => {
                let (patch, to) = match to {
                    DiffTo::Commit(to) => (git::diff_patch(&repo_root, &from, &to), Some(to)),
                    DiffTo::Worktree(path) => (git::worktree_patch(&path, &from), None),
                };
                let patch = patch
                    .map(|patch| PatchView::new(&patch))
                    .map_err(|e| e.to_string());
                Loaded::Diff { to, patch }
            }
            Load::Envelope { path, worktree } => {
                let lines = match std::fs::read_to_string(&path) {
                    Ok(text) => text.lines().map(format::indented).collect(),
                    Err(e) => vec![Line::styled(
                        format!("  cannot read {}: {e}", path.display()),
                        Color::Red,
                    )],
                };
                Loaded::Envelope {
                    path,
                    lines,
                    worktree_removed: !worktree.is_dir(),
                }
            }
            Load::MergePreview {
                repo_root,
                task,
                source,
                target,
            } => {
                let preview =
                    git::merge_preview(&repo_root, &source, &target).map_err(|e| e.to_string());
                Loaded::MergePreview { task, preview }
            }
        }
    }
}
