//! results.json: the run's outcome, rewritten atomically whenever a task ends.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::status::TaskStatus;
use crate::usage::Usage;

/// results.json's name in a run directory.
pub const FILE: &str = "results.json";

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
    pub status: String,
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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MergeRecord {
    pub state: String,
    pub commit: Option<String>,
    pub conflicts: Vec<String>,
    #[serde(default)]
    pub reason: Option<String>,
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
    /// Recomputes the counts, rate, per-agent tallies and error list from `tasks`.
    pub fn recount(&mut self) {
        let count = |s: &str| self.tasks.iter().filter(|t| t.status == s).count();
        self.total_tasks = self.tasks.len();
        self.succeeded = count("succeeded");
        self.failed = count("failed");
        self.timed_out = count("timed_out");
        self.cancelled = count("cancelled");
        self.skipped = count("skipped");
        self.success_rate = if self.total_tasks == 0 {
            0.0
        } else {
            self.succeeded as f64 / self.total_tasks as f64
        };
        self.results_by_agent.clear();
        for task in &self.tasks {
            let tally = self.results_by_agent.entry(task.agent.clone()).or_default();
            tally.tasks += 1;
            match task.status.as_str() {
                "succeeded" => tally.succeeded += 1,
                "failed" | "timed_out" | "cancelled" => tally.failed += 1,
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
