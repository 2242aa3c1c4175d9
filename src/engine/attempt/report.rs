//! What an attempt tells the run loop: its progress while it runs, and its report at the end:
//! the journal's `AttemptFact`, which the engine carries as it is. Here: how the engine reads it
//! (`end`), folds it into its task (`reduce`), and shows it in results.json (`record`) and to
//! front ends (`view`), each in one place.

use std::time::Duration;

use crate::git::DiffStat;
use crate::record::journal::AttemptFact;
use crate::record::results::{AttemptRecord, CheckRecord};
use crate::record::rfc3339;

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
        report: Box<AttemptFact>,
    },
}

/// The engine's reading of an attempt, and its projections.
impl AttemptFact {
    /// How the attempt ended.
    pub fn end(&self) -> AttemptEnd {
        AttemptEnd::from_status(self.status)
    }

    /// The attempt in results.json.
    pub fn record(&self) -> AttemptRecord {
        AttemptRecord {
            n: self.attempt,
            status: self.status,
            exit_code: self.exit_code,
            started_at: rfc3339(self.started_at),
            duration_s: self.duration_s,
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
            follow_up: self.follow_up.clone(),
        }
    }

    /// The attempt as front ends see it.
    pub fn view(&self) -> AttemptView {
        AttemptView {
            n: self.attempt,
            status: self.status,
            exit_code: self.exit_code,
            started_at: self.started_at,
            duration: Some(self.duration()),
            log: self.log.clone(),
            error: self.error.clone(),
            check: self.check.as_ref().map(|c| CheckView {
                command: c.command.clone(),
                exit_code: c.exit_code,
                passed: c.passed,
                duration: Duration::try_from_secs_f64(c.duration_s).unwrap_or_default(),
            }),
            follow_up: self.follow_up.clone(),
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

impl AttemptFact {
    /// Folds this ended attempt into its task (yazi's `reduce`): the report joins `attempts`, and
    /// a success's work becomes the task's. The one place a running run (an attempt ended, an
    /// interrupted one settled) and a resumed one (the journal's attempts) do it.
    pub fn reduce(self, attempts: &mut Vec<AttemptFact>, work: &mut Work) {
        if self.end() == AttemptEnd::Succeeded {
            *work = Work {
                output: self.output.clone().zip(self.output_hash.clone()),
                head_commit: self.head_commit.clone(),
                diff_stat: self.diff_stat.clone(),
            };
        }
        attempts.push(self);
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::SystemTime;

    use super::*;
    use crate::record::journal::CheckFact;
    use crate::status::TaskStatus;
    use crate::usage::Usage;

    fn ended(attempt: u32, end: AttemptEnd, head: &str) -> AttemptFact {
        let mut report =
            AttemptFact::new("t", attempt, SystemTime::UNIX_EPOCH, PathBuf::from("log"));
        report.status = end.status();
        report.head_commit = Some(head.into());
        report.output = Some(serde_json::json!(head));
        report.output_hash = Some(format!("hash of {head}"));
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

    fn full() -> AttemptFact {
        let mut report = ended(2, AttemptEnd::TimedOut, "abc");
        report.retryable = false;
        report.exit_code = Some(137);
        report.error = Some("timed out after 5s".into());
        report.duration_s = 1.5;
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
    fn results_and_views_show_the_same_attempt() {
        let report = full();
        assert_eq!(report.end(), AttemptEnd::TimedOut);
        let record = report.record();
        assert_eq!(
            (record.n, record.status, record.duration_s),
            (2, TaskStatus::TimedOut, 1.5)
        );
        assert_eq!(record.log, "log");
        assert_eq!(record.unsaved.as_deref(), Some("/w/t.attempt-2.unsaved"));
        let check = record.check.unwrap();
        assert_eq!(
            (check.command.as_str(), check.exit_code, check.duration_s),
            ("make test", None, 0.25)
        );
        let view = report.view();
        assert_eq!(view.status, TaskStatus::TimedOut);
        assert_eq!(view.duration, Some(Duration::from_millis(1500)));
        let check = view.check.unwrap();
        assert!(!check.passed);
        assert_eq!(check.duration, Duration::from_millis(250));
    }

    #[test]
    fn a_new_attempt_has_got_nowhere_yet() {
        let report = AttemptFact::new("t", 2, SystemTime::UNIX_EPOCH, PathBuf::from("log"));
        assert_eq!(report.end(), AttemptEnd::Failed);
        assert!(report.retryable && report.error.is_none() && report.output.is_none());
    }
}
