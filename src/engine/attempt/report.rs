//! What an attempt tells the run loop: its progress while it runs, and its report at the end.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::git::DiffStat;
use crate::record::journal::{AttemptFact, CheckFact};
use crate::record::results::{AttemptRecord, CheckRecord};
use crate::record::rfc3339;
use crate::usage::Usage;

use super::super::api::{AttemptView, CheckView};
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
    /// The task's check, when it ran: the journal's shape, carried as it is.
    pub check: Option<CheckFact>,
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

/// The one place an attempt is mapped to and from its other shapes: the journal's fact (read
/// back by resume), results.json's record and the front ends' view.
impl AttemptReport {
    /// The attempt as the journal keeps it.
    pub fn fact(&self, task: &str) -> AttemptFact {
        AttemptFact {
            task: task.to_string(),
            attempt: self.attempt,
            status: self.end.status(),
            retryable: self.retryable,
            exit_code: self.exit_code,
            error: self.error.clone(),
            started_at: self.started_at,
            duration_s: self.duration.as_secs_f64(),
            log: self.log.clone(),
            argv: self.argv.clone(),
            input_hash: self.input_hash.clone(),
            output: self.output.as_ref().map(|(v, _)| v.clone()),
            output_hash: self.output.as_ref().map(|(_, h)| h.clone()),
            head_commit: self.head_commit.clone(),
            diff_stat: self.diff_stat.clone(),
            saved_ref: self.saved_ref.clone(),
            unsaved: self.unsaved.clone(),
            usage: self.usage.clone(),
            check: self.check.clone(),
        }
    }

    /// The attempt the journal kept.
    pub fn from_fact(f: &AttemptFact) -> AttemptReport {
        AttemptReport {
            attempt: f.attempt,
            end: AttemptEnd::from_status(f.status),
            retryable: f.retryable,
            exit_code: f.exit_code,
            error: f.error.clone(),
            started_at: f.started_at,
            duration: Duration::try_from_secs_f64(f.duration_s).unwrap_or_default(),
            log: f.log.clone(),
            argv: f.argv.clone(),
            input_hash: f.input_hash.clone(),
            output: f.output.clone().zip(f.output_hash.clone()),
            head_commit: f.head_commit.clone(),
            diff_stat: f.diff_stat.clone(),
            saved_ref: f.saved_ref.clone(),
            unsaved: f.unsaved.clone(),
            usage: f.usage.clone(),
            check: f.check.clone(),
        }
    }

    /// The attempt in results.json.
    pub fn record(&self) -> AttemptRecord {
        AttemptRecord {
            n: self.attempt,
            status: self.end.status(),
            exit_code: self.exit_code,
            started_at: rfc3339(self.started_at),
            duration_s: self.duration.as_secs_f64(),
            log: self.log.display().to_string(),
            error: self.error.clone(),
            saved_ref: self.saved_ref.clone(),
            unsaved: self.unsaved.as_ref().map(|p| p.display().to_string()),
            usage: self.usage.clone(),
            check: self.check.as_ref().map(|c| CheckRecord {
                command: c.command.clone(),
                exit_code: c.exit_code,
                duration_s: c.duration_s,
            }),
        }
    }

    /// The attempt as front ends see it.
    pub fn view(&self) -> AttemptView {
        AttemptView {
            n: self.attempt,
            status: self.end.status(),
            exit_code: self.exit_code,
            started_at: self.started_at,
            duration: Some(self.duration),
            log: self.log.clone(),
            error: self.error.clone(),
            check: self.check.as_ref().map(|c| CheckView {
                command: c.command.clone(),
                exit_code: c.exit_code,
                passed: c.passed,
                duration: Duration::try_from_secs_f64(c.duration_s).unwrap_or_default(),
            }),
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

    fn full() -> AttemptReport {
        let mut report = ended(2, AttemptEnd::TimedOut, "abc");
        report.retryable = false;
        report.exit_code = Some(137);
        report.error = Some("timed out after 5s".into());
        report.duration = Duration::from_millis(1500);
        report.argv = vec!["sh".into(), "-c".into(), "x".into()];
        report.input_hash = Some("in".into());
        report.saved_ref = Some("refs/grove/r/t/attempt-2".into());
        report.unsaved = Some(PathBuf::from("/w/t.attempt-2.unsaved"));
        report.usage = Some(Usage::default());
        report.check = Some(CheckFact {
            command: "make test".into(),
            exit_code: None,
            passed: false,
            duration_s: 0.25,
            output: "boom".into(),
        });
        report
    }

    #[test]
    fn the_journal_gives_back_the_attempt_it_kept() {
        let report = full();
        let fact = report.fact("t");
        assert_eq!(fact.task, "t");
        assert_eq!(fact.status, crate::status::TaskStatus::TimedOut);
        let back = AttemptReport::from_fact(&fact);
        assert_eq!(back.fact("t"), fact);
        assert_eq!(back.end, AttemptEnd::TimedOut);
        assert_eq!(back.duration, Duration::from_millis(1500));
        assert_eq!(back.output, report.output);
    }

    #[test]
    fn results_and_views_show_the_same_attempt() {
        let report = full();
        let record = report.record();
        assert_eq!((record.n, record.duration_s), (2, 1.5));
        assert_eq!(record.log, "log");
        assert_eq!(record.unsaved.as_deref(), Some("/w/t.attempt-2.unsaved"));
        let check = record.check.unwrap();
        assert_eq!(
            (check.command.as_str(), check.exit_code, check.duration_s),
            ("make test", None, 0.25)
        );
        let view = report.view();
        assert_eq!(view.status, crate::status::TaskStatus::TimedOut);
        assert_eq!(view.duration, Some(Duration::from_millis(1500)));
        let check = view.check.unwrap();
        assert!(!check.passed);
        assert_eq!(check.duration, Duration::from_millis(250));
    }

    #[test]
    fn a_new_attempt_has_got_nowhere_yet() {
        let report = AttemptReport::new(2, SystemTime::UNIX_EPOCH, PathBuf::from("log"));
        assert_eq!(report.end, AttemptEnd::Failed);
        assert!(report.retryable && report.error.is_none() && report.output.is_none());
    }
}
