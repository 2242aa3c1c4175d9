//! results.json: the run's outcome, rewritten atomically whenever a task ends.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::status::{MergeState, TaskStatus};
use crate::usage::Usage;

/// results.json's name in a run directory.
pub use super::paths::RESULTS_FILE as FILE;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Results {
    pub run_id: String,
    pub plan: String,
    pub repo: String,
    pub base_commit: String,
    /// The base as written in the plan (or HEAD's branch); merges go into it when it is a branch.
    #[serde(default)]
    pub base_branch: Option<String>,
    pub strategy: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub total_execution_time: f64,
    pub total_tasks: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub timed_out: usize,
    pub cancelled: usize,
    pub skipped: usize,
    pub success_rate: f64,
    /// True when the run was stopped (Ctrl-C, SIGTERM, quit) rather than ending by itself.
    #[serde(default)]
    pub interrupted: bool,
    /// Whether the run as a whole succeeded (what its exit code 0 says); absent in records of
    /// older grove versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    pub tasks: Vec<TaskResult>,
    pub results_by_agent: BTreeMap<String, AgentTally>,
    pub errors: Vec<TaskError>,
    /// Usage of every task that reported some, summed (no session); absent when none did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The races (`replicas` / `agents`) of the run, in plan order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupRecord>,
}

/// A race: its siblings, how the winner is picked, and which sibling was (None: not yet).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupRecord {
    pub name: String,
    pub pick: String,
    pub siblings: Vec<String>,
    pub picked: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskResult {
    pub name: String,
    pub agent: String,
    pub status: TaskStatus,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    /// The agent's result JSON, or the captured text (last 64 KiB, escapes stripped).
    pub output: serde_json::Value,
    pub branch: String,
    pub worktree: String,
    pub head_commit: Option<String>,
    #[serde(default)]
    pub diff_stat: Option<crate::git::DiffStat>,
    pub attempts: Vec<AttemptRecord>,
    pub merge: MergeRecord,
    pub provenance: Provenance,
    /// What the task's attempts reported they used (stream-json agents), summed; the session
    /// is the latest attempt's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The raced task this one is a sibling of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `worktree`, `off`, or `unavailable` (the default, on a kernel without Landlock).
    #[serde(default)]
    pub sandbox: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttemptRecord {
    pub n: u32,
    pub status: TaskStatus,
    pub exit_code: Option<i32>,
    pub started_at: String,
    pub duration_s: f64,
    pub log: String,
    #[serde(default)]
    pub error: Option<String>,
    /// Where a failed attempt's files were saved (`refs/grove/<run>/<task>/attempt-<n>`).
    #[serde(default)]
    pub saved_ref: Option<String>,
    /// Where its files are kept, untouched, when they could not be saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsaved: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The task's check, when it ran in this attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckRecord>,
    /// A follow-up's prompt: the attempt continued the agent's session with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<String>,
}

/// `check: {command, exit_code, duration_s}` of an attempt; `exit_code` is null when the check
/// did not exit by itself (timeout, cancel, signal).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckRecord {
    pub command: String,
    pub exit_code: Option<i32>,
    pub duration_s: f64,
}

/// Where a task's merge stands, with what it left: the merge commit, the conflicting paths, or
/// why it was refused. The engine's tasks hold one, and results.json keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MergeRecord {
    pub state: MergeState,
    pub commit: Option<String>,
    pub conflicts: Vec<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

impl Default for MergeRecord {
    fn default() -> MergeRecord {
        MergeRecord {
            state: MergeState::NotRequested,
            commit: None,
            conflicts: Vec::new(),
            reason: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    pub input_hash: Option<String>,
    pub output_hash: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    /// The argv of every attempt, in order.
    pub commands: Vec<Vec<String>>,
    pub retry_count: u32,
    pub worktree_path: String,
    pub base_commit: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AgentTally {
    pub tasks: usize,
    pub succeeded: usize,
    /// Tasks that ended without success (failed, timed out or cancelled); skipped ones not.
    pub failed: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskError {
    pub task: String,
    pub error: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid results JSON: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

impl Results {
    /// The exit code the run ended with, as a foreground run's (`RunSummary::exit_code`): 130
    /// when it was stopped, 0 when it succeeded, else 1; None while it has not ended. Records
    /// from before `success` was written count every task succeeded as success.
    pub fn exit_code(&self) -> Option<i32> {
        self.completed_at.as_ref()?;
        let success = self
            .success
            .unwrap_or(self.total_tasks > 0 && self.succeeded == self.total_tasks);
        Some(match (self.interrupted, success) {
            (true, _) => 130,
            (false, true) => 0,
            (false, false) => 1,
        })
    }

    /// Recomputes the counts, rate, per-agent tallies and error list from `tasks`.
    pub fn recount(&mut self) {
        let count = |s: TaskStatus| self.tasks.iter().filter(|t| t.status == s).count();
        self.total_tasks = self.tasks.len();
        self.succeeded = count(TaskStatus::Succeeded);
        self.failed = count(TaskStatus::Failed);
        self.timed_out = count(TaskStatus::TimedOut);
        self.cancelled = count(TaskStatus::Cancelled);
        self.skipped = count(TaskStatus::Skipped);
        self.success_rate = if self.total_tasks == 0 {
            0.0
        } else {
            self.succeeded as f64 / self.total_tasks as f64
        };
        self.results_by_agent.clear();
        for task in &self.tasks {
            let tally = self.results_by_agent.entry(task.agent.clone()).or_default();
            tally.tasks += 1;
            match task.status {
                TaskStatus::Succeeded => tally.succeeded += 1,
                TaskStatus::Failed | TaskStatus::TimedOut | TaskStatus::Cancelled => {
                    tally.failed += 1
                }
                _ => {}
            }
        }
        self.usage =
            Usage::total(self.tasks.iter().filter_map(|t| t.usage.as_ref())).map(|mut u| {
                u.session_id = None;
                u
            });
        self.errors = self
            .tasks
            .iter()
            .filter_map(|t| {
                t.error.as_ref().map(|e| TaskError {
                    task: t.name.clone(),
                    error: e.clone(),
                })
            })
            .collect();
    }

    pub fn load(path: &Path) -> Result<Results, ResultsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ResultsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ResultsError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    pub fn save(&self, path: &Path) -> Result<(), ResultsError> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        super::write_record(path, &bytes).map_err(|source| ResultsError::Write {
            path: path.display().to_string(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// results.json as grove wrote it when its statuses were strings (two tasks of a demo run,
    /// one of them made to time out and conflict).
    const WRITTEN: &str = r#"{
  "run_id": "demo-20261204-041554",
  "plan": "demo",
  "repo": "/r",
  "base_commit": "a9883f860d3371bf81312ed05a838a45bc0e962a",
  "base_branch": "main",
  "strategy": "parallel",
  "started_at": "2026-12-04T04:15:54.772Z",
  "completed_at": "2026-12-04T04:16:01.927Z",
  "total_execution_time": 6.917314736,
  "total_tasks": 4,
  "succeeded": 4,
  "failed": 0,
  "timed_out": 0,
  "cancelled": 0,
  "skipped": 0,
  "success_rate": 1.0,
  "interrupted": false,
  "tasks": [
    {
      "name": "code_generator",
      "agent": "demo",
      "status": "succeeded",
      "exit_code": 0,
      "error": null,
      "output": {
        "role": "generator",
        "summary": "added slugify, word_count, is_palindrome to src/utils.py",
        "files": [
          "src/utils.py"
        ],
        "attempt": 1
      },
      "branch": "grove/demo-20261204-041554/code_generator",
      "worktree": "/r/.grove/worktrees/x",
      "head_commit": "f6bfd14a7fa47bb70434a87276c3fad3df9a9658",
      "diff_stat": {
        "files": [
          {
            "path": "src/utils.py",
            "insertions": 27,
            "deletions": 0
          }
        ],
        "insertions": 27,
        "deletions": 0
      },
      "attempts": [
        {
          "n": 1,
          "status": "succeeded",
          "exit_code": 0,
          "started_at": "2026-12-04T04:15:55.012Z",
          "duration_s": 5.160534797,
          "log": "/r/log",
          "error": null,
          "saved_ref": null
        }
      ],
      "merge": {
        "state": "merged",
        "commit": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "conflicts": [],
        "reason": null
      },
      "provenance": {
        "input_hash": "sha256:b624b62a9f03c6463e896132d55741081b27c843bf4359e426d99df2bc74df24",
        "output_hash": "sha256:dc88021e5ef5a9b649852f9009810d47d4483dc3ac5cd601ec714703aafda95b",
        "started_at": "2026-12-04T04:15:55.012Z",
        "completed_at": "2026-12-04T04:16:00.175Z",
        "commands": [
          [
            "grove",
            "demo-agent"
          ]
        ],
        "retry_count": 0,
        "worktree_path": "/r/.grove/worktrees/x",
        "base_commit": "a9883f860d3371bf81312ed05a838a45bc0e962a"
      },
      "sandbox": "worktree"
    },
    {
      "name": "code_reviewer",
      "agent": "demo",
      "status": "timed_out",
      "exit_code": 0,
      "error": null,
      "output": null,
      "branch": "grove/demo-20261204-041554/code_reviewer",
      "worktree": "/r/.grove/worktrees/x",
      "head_commit": "8b939c3837086887db9b59cf76e44890a3ef3ea8",
      "diff_stat": {
        "files": [
          {
            "path": "REVIEW.md",
            "insertions": 30,
            "deletions": 0
          }
        ],
        "insertions": 30,
        "deletions": 0
      },
      "attempts": [
        {
          "n": 1,
          "status": "timed_out",
          "exit_code": 0,
          "started_at": "2026-12-04T04:15:55.012Z",
          "duration_s": 4.163218319,
          "log": "/r/log",
          "error": null,
          "saved_ref": null
        }
      ],
      "merge": {
        "state": "conflict",
        "commit": null,
        "conflicts": [
          "src/utils.py"
        ],
        "reason": null
      },
      "provenance": {
        "input_hash": "sha256:afb415debac71b2ff651d2fab32763588cc736c25f9008fbfb9db4de23a7c6ab",
        "output_hash": "sha256:b8187ae78726fd2b8c885ac49e2b9a62292b794a510a328ca148d11519c87552",
        "started_at": "2026-12-04T04:15:55.012Z",
        "completed_at": "2026-12-04T04:15:59.176Z",
        "commands": [
          [
            "grove",
            "demo-agent"
          ]
        ],
        "retry_count": 0,
        "worktree_path": "/r/.grove/worktrees/x",
        "base_commit": "a9883f860d3371bf81312ed05a838a45bc0e962a"
      },
      "sandbox": "worktree"
    }
  ],
  "results_by_agent": {},
  "errors": []
}
"#;

    #[test]
    fn typed_statuses_read_and_write_the_same_json() {
        let results: Results = serde_json::from_str(WRITTEN).expect("it reads");
        assert_eq!(results.tasks[1].status, TaskStatus::TimedOut);
        assert_eq!(results.tasks[1].attempts[0].status, TaskStatus::TimedOut);
        assert_eq!(results.tasks[1].merge.state, MergeState::Conflict);
        assert_eq!(results.tasks[0].merge.state, MergeState::Merged);
        let dir = std::env::temp_dir().join(format!("grove-results-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(FILE);
        results.save(&path).expect("it writes");
        let written = std::fs::read_to_string(&path);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(written.expect("written"), WRITTEN);
    }

    #[test]
    fn the_exit_code_is_the_recorded_outcome_once_the_run_ended() {
        let mut results: Results = serde_json::from_str(WRITTEN).expect("it reads");
        // Written before `success` was: every task succeeded.
        assert_eq!(results.success, None);
        assert_eq!(results.exit_code(), Some(0));
        results.success = Some(false);
        assert_eq!(results.exit_code(), Some(1));
        results.interrupted = true;
        assert_eq!(results.exit_code(), Some(130));
        results.completed_at = None;
        assert_eq!(results.exit_code(), None);
    }
}
