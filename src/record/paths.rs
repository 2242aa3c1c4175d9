//! The layout of grove's folders in a repository and of one run's records: where each thing
//! lives and what its files are called. Every other part of `record/` builds on it.

use std::path::{Path, PathBuf};

/// The journal's name in a run directory.
pub const JOURNAL_FILE: &str = "journal.jsonl";
/// results.json's name in a run directory.
pub const RESULTS_FILE: &str = "results.json";
/// The audit log's name in a run directory.
pub const AUDIT_FILE: &str = "audit.log";

/// Where everything of one run lives, and the names of its git objects.
#[derive(Debug, Clone)]
pub struct RunPaths {
    pub repo_root: PathBuf,
    pub run_id: String,
    pub run_dir: PathBuf,
}

impl RunPaths {
    pub fn new(repo_root: &Path, run_id: &str) -> RunPaths {
        RunPaths {
            repo_root: repo_root.to_path_buf(),
            run_id: run_id.to_string(),
            run_dir: runs_dir(repo_root).join(run_id),
        }
    }

    pub fn worktree(&self, task: &str) -> PathBuf {
        self.worktrees().join(task)
    }
    /// Where an attempt's worktree is kept when its work could not be saved.
    pub fn unsaved_worktree(&self, task: &str, attempt: u32) -> PathBuf {
        self.worktrees()
            .join(format!("{task}.attempt-{attempt}{UNSAVED}"))
    }
    pub fn branch(&self, task: &str) -> String {
        format!("grove/{}/{}", self.run_id, task)
    }
    pub fn attempt_ref(&self, task: &str, attempt: u32) -> String {
        format!("refs/grove/{}/{}/attempt-{}", self.run_id, task, attempt)
    }
    pub fn task_dir(&self, task: &str) -> PathBuf {
        self.run_dir.join("agents").join(task)
    }
    pub fn envelope(&self, task: &str) -> PathBuf {
        self.task_dir(task).join("envelope.json")
    }
    pub fn attempt_log(&self, task: &str, attempt: u32) -> PathBuf {
        self.task_dir(task).join(format!("attempt-{attempt}.log"))
    }
    /// Where the agent of attempt `n` is told to write its result (`$GROVE_RESULT`).
    pub fn attempt_result(&self, task: &str, attempt: u32) -> PathBuf {
        self.task_dir(task)
            .join(format!("attempt-{attempt}.result.json"))
    }
    /// The result of the task's successful attempt.
    pub fn result(&self, task: &str) -> PathBuf {
        self.task_dir(task).join("result.json")
    }
    /// The captured output text, when the agent wrote no result.
    pub fn output_text(&self, task: &str) -> PathBuf {
        self.task_dir(task).join("output.txt")
    }
    pub fn results(&self) -> PathBuf {
        self.run_dir.join(RESULTS_FILE)
    }
    pub fn audit(&self) -> PathBuf {
        self.run_dir.join(AUDIT_FILE)
    }
    /// The folder holding every worktree of the run.
    pub fn worktrees(&self) -> PathBuf {
        worktrees_dir(&self.repo_root).join(&self.run_id)
    }
}

/// The ending of the folder an attempt's worktree is kept in when its work could not be saved.
pub const UNSAVED: &str = ".unsaved";

/// `<repo>/.grove/worktrees`.
pub fn worktrees_dir(repo_root: &Path) -> PathBuf {
    repo_root.join(".grove/worktrees")
}

/// `<repo>/.grove/runs`.
pub fn runs_dir(repo_root: &Path) -> PathBuf {
    repo_root.join(".grove/runs")
}
