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

/// The work of a task's attempts: what the latest one that succeeded produced.
#[derive(Debug, Clone, Default)]
pub struct Work {
    /// The task's output (result JSON or captured text) and its hash.
    pub output: Option<(serde_json::Value, String)>,
    pub head_commit: Option<String>,
    pub diff_stat: Option<DiffStat>,
}

impl AttemptReport {
    /// Folds this ended attempt into its task (yazi's `reduce`): the report joins `attempts`, and
    /// a success's work becomes the task's. The one place a running run (an attempt ended, an
    /// interrupted one settled) and a resumed one (the journal's attempts) do it.
    pub fn reduce(self, attempts: &mut Vec<AttemptReport>, work: &mut Work) {
        if self.end == AttemptEnd::Succeeded {
            *work = Work {
                output: self.output.clone(),
                head_commit: self.head_commit.clone(),
                diff_stat: self.diff_stat.clone(),
            };
        }
        attempts.push(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(attempt: u32, end: AttemptEnd, head: &str) -> AttemptReport {
        let mut report = AttemptReport::new(attempt, SystemTime::UNIX_EPOCH, PathBuf::from("log"));
        report.end = end;
        report.head_commit = Some(head.into());
        report.output = Some((serde_json::json!(head), format!("hash of {head}")));
        report
    }

    #[test]
    fn the_latest_success_is_the_tasks_work_and_every_attempt_is_kept() {
        let (mut attempts, mut work) = (Vec::new(), Work::default());
        ended(1, AttemptEnd::Failed, "a").reduce(&mut attempts, &mut work);
        assert!(work.output.is_none() && work.head_commit.is_none());
        ended(2, AttemptEnd::Succeeded, "b").reduce(&mut attempts, &mut work);
        ended(3, AttemptEnd::Cancelled, "c").reduce(&mut attempts, &mut work);
        assert_eq!(work.head_commit.as_deref(), Some("b"));
        assert_eq!(
            work.output,
            Some((serde_json::json!("b"), "hash of b".into()))
        );
        ended(4, AttemptEnd::Succeeded, "d").reduce(&mut attempts, &mut work);
        assert_eq!(work.head_commit.as_deref(), Some("d"));
        let numbers: Vec<u32> = attempts.iter().map(|a| a.attempt).collect();
        assert_eq!(numbers, [1, 2, 3, 4]);
    }

    #[test]
    fn a_new_attempt_has_got_nowhere_yet() {
        let report = AttemptReport::new(2, SystemTime::UNIX_EPOCH, PathBuf::from("log"));
        assert_eq!(report.end, AttemptEnd::Failed);
        assert!(report.retryable && report.error.is_none() && report.output.is_none());
    }
}
