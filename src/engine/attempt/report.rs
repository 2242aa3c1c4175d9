//! What an attempt tells the run loop: its progress while it runs, and its report at the end.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::git::DiffStat;
use crate::usage::Usage;

use super::super::state::AttemptEnd;

/// Told to the run loop while an attempt runs.
pub enum Progress {
    /// The agent process started; its terminal takes input and resizes now.
    Spawned {
        index: usize,
        attempt: u32,
        pgid: i32,
        argv: Vec<String>,
    },
    /// The agent is waiting for input at `prompt` (None: it went on).
    Waiting {
        index: usize,
        attempt: u32,
        prompt: Option<String>,
    },
    Done {
        index: usize,
        report: Box<AttemptReport>,
    },
}

#[derive(Debug, Clone)]
pub struct AttemptReport {
    pub attempt: u32,
    pub end: AttemptEnd,
    /// False when trying again cannot help (e.g. dependency branches conflict).
    pub retryable: bool,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub started_at: SystemTime,
    pub duration: Duration,
    pub log: PathBuf,
    pub argv: Vec<String>,
    pub input_hash: Option<String>,
    /// The task's output (result JSON or captured text) and its hash, on success.
    pub output: Option<(serde_json::Value, String)>,
    pub head_commit: Option<String>,
    pub diff_stat: Option<DiffStat>,
    pub saved_ref: Option<String>,
    /// Where the attempt's files are kept, untouched, when they could not be saved.
    pub unsaved: Option<PathBuf>,
    /// What the agent reported it used (stream-json agents).
    pub usage: Option<Usage>,
    /// The task's check, when it ran.
    pub check: Option<CheckOutcome>,
}

/// How the task's `check` went after the agent exited 0.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    pub command: String,
    /// None when it did not exit by itself (timeout, cancel) or was killed by a signal.
    pub exit_code: Option<i32>,
    pub passed: bool,
    pub duration: Duration,
    /// What it printed (escapes stripped, last 64 KiB), for the next attempt's envelope.
    pub output: String,
}

impl AttemptReport {
    /// An attempt that has not got anywhere yet: failed, retryable, no facts.
    pub fn new(attempt: u32, started_at: SystemTime, log: PathBuf) -> AttemptReport {
        AttemptReport {
            attempt,
            end: AttemptEnd::Failed,
            retryable: true,
            exit_code: None,
            error: None,
            started_at,
            duration: Duration::ZERO,
            log,
            argv: Vec::new(),
            input_hash: None,
            output: None,
            head_commit: None,
            diff_stat: None,
            saved_ref: None,
            unsaved: None,
            usage: None,
            check: None,
        }
    }
}
