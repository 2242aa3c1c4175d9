//! How an attempt's processes ended and what that makes of the attempt: the one `Failure` type
//! every stage returns, and the pure judgements (error wording, exit, result file) behind it.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use crate::pty::Exit;
use crate::usage::Usage;

use super::super::state::AttemptEnd;
use super::stream::StreamFacts;

/// Why an attempt did not succeed: how it ends, the error it reports, whether trying again can
/// help, and whether its worktree holds work to save on the attempt ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    pub end: AttemptEnd,
    pub error: String,
    pub retryable: bool,
    pub save: bool,
}

impl Failure {
    /// A failure before anything worth saving is in the worktree.
    pub fn early(error: String) -> Failure {
        Failure {
            end: AttemptEnd::Failed,
            error,
            retryable: true,
            save: false,
        }
    }

    /// A failure once the worktree may hold work: it is saved.
    pub fn saved(end: AttemptEnd, error: String) -> Failure {
        Failure {
            end,
            error,
            retryable: true,
            save: true,
        }
    }

    /// Trying again cannot help (the same cause fails it again).
    pub fn not_retryable(self) -> Failure {
        Failure {
            retryable: false,
            ..self
        }
    }
}

/// How a process in the attempt's terminal ended.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum How {
    Exited,
    /// Still running `result_grace` after its (latest) result: stopped.
    AfterResult,
    /// Idle at its input box with `idle_exit`: stopped.
    Idle,
    TimedOut,
    /// Stopped from outside, with the reason.
    Stopped(String),
}

/// How the agent's run ends the attempt: a failure, or the text a structured agent gave as its
/// result (None for an agent printing plain text). `exit_error` says why its exit was not a
/// success; it is asked only when the agent exited by itself: an agent stopped after the grace
/// that followed its result is judged by the result alone.
pub(super) fn judge(
    how: How,
    facts: Option<&StreamFacts>,
    timeout: Duration,
    exit_error: impl FnOnce() -> Option<String>,
) -> Result<Option<String>, Failure> {
    match how {
        How::TimedOut => return Err(Failure::saved(AttemptEnd::TimedOut, timed_out(timeout))),
        How::Stopped(reason) => return Err(Failure::saved(AttemptEnd::Cancelled, reason)),
        How::Exited | How::AfterResult | How::Idle => {}
    }
    let failed = |error| Failure::saved(AttemptEnd::Failed, error);
    if let Some(error) = facts.and_then(StreamFacts::error) {
        return Err(failed(error));
    }
    if how == How::Exited {
        if let Some(error) = exit_error() {
            return Err(failed(error));
        }
    }
    match facts {
        Some(facts) if !facts.has_result() => {
            Err(failed("the stream ended without a result".into()))
        }
        Some(facts) => Ok(facts.output()),
        None => Ok(None),
    }
}

/// Why an agent that was denied tool calls and changed nothing failed (`fail_on_denied`).
pub(super) fn denied_for_nothing(
    fail_on_denied: bool,
    agent: &str,
    usage: Option<&Usage>,
) -> Option<String> {
    let denials = &usage?.permission_denials;
    if !fail_on_denied || denials.is_empty() {
        return None;
    }
    let n = denials.len();
    Some(format!(
        "{agent} was denied {n} tool call{} and changed nothing: {}",
        if n == 1 { "" } else { "s" },
        denials.join("; ")
    ))
}

pub(super) fn timed_out(after: Duration) -> String {
    format!("timed out after {}", humantime::format_duration(after))
}

/// Why a process that exited did not succeed (None: it did).
pub(super) fn exit_error(exit: Option<&Exit>) -> Option<String> {
    match exit {
        Some(e) if e.success() => None,
        Some(e) => Some(match &e.signal {
            Some(signal) => format!("killed by signal: {signal}"),
            None => format!("exit code {}", e.code),
        }),
        None => Some("the agent's exit status was lost".into()),
    }
}

/// The agent's result file, if it wrote one: its JSON value and exact bytes.
/// The agent may have put anything at that path, and grove reads it outside the sandbox: a link
/// is not followed (it could name a file the sandbox hides), a FIFO is not waited on; only a
/// regular file is read.
pub(super) fn read_result(path: &Path) -> Result<Option<(serde_json::Value, Vec<u8>)>, String> {
    use crate::plan::paths::{open_regular, OpenError};
    let cannot = |e: &dyn std::fmt::Display| format!("cannot read result {}: {e}", path.display());
    let not_regular = |kind: &str| {
        format!(
            "$GROVE_RESULT ({}) is not a regular file but {kind}: grove reads only a file written there",
            path.display()
        )
    };
    let mut file = match open_regular(path) {
        Ok((file, _)) => file,
        Err(OpenError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(OpenError::Io(e)) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(not_regular("a symlink"))
        }
        Err(OpenError::NotRegular(kind)) => return Err(not_regular(kind)),
        Err(OpenError::Io(e)) => return Err(cannot(&e)),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| cannot(&e))?;
    match serde_json::from_slice(&bytes) {
        Ok(value) => Ok(Some((value, bytes))),
        Err(e) => Err(format!(
            "the agent wrote invalid JSON to $GROVE_RESULT ({}): {e}",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i32, signal: Option<&str>) -> Exit {
        Exit {
            code,
            signal: signal.map(String::from),
        }
    }

    #[test]
    fn an_exit_is_judged_by_its_code_and_signal() {
        assert_eq!(exit_error(Some(&exited(0, None))), None);
        assert_eq!(
            exit_error(Some(&exited(3, None))).as_deref(),
            Some("exit code 3")
        );
        assert_eq!(
            exit_error(Some(&exited(0, Some("Terminated")))).as_deref(),
            Some("killed by signal: Terminated")
        );
        assert_eq!(
            exit_error(None).as_deref(),
            Some("the agent's exit status was lost")
        );
    }

    #[test]
    fn a_timeout_names_its_limit() {
        assert_eq!(timed_out(Duration::from_secs(90)), "timed out after 1m 30s");
    }

    #[test]
    fn timeouts_and_stops_end_the_attempt_without_asking_the_exit() {
        let asked = || -> Option<String> { panic!("the exit was asked") };
        let timeout = Duration::from_secs(5);
        let err = judge(How::TimedOut, None, timeout, asked).unwrap_err();
        assert_eq!(
            err,
            Failure::saved(AttemptEnd::TimedOut, "timed out after 5s".into())
        );
        let err = judge(How::Stopped("cancelled".into()), None, timeout, asked).unwrap_err();
        assert_eq!(
            err,
            Failure::saved(AttemptEnd::Cancelled, "cancelled".into())
        );
    }

    #[test]
    fn only_an_agent_that_exited_by_itself_is_judged_by_its_exit() {
        let timeout = Duration::from_secs(5);
        let failed = || Some("exit code 1".to_string());
        let err = judge(How::Exited, None, timeout, failed).unwrap_err();
        assert_eq!(
            err,
            Failure::saved(AttemptEnd::Failed, "exit code 1".into())
        );
        assert_eq!(judge(How::Exited, None, timeout, || None), Ok(None));
        assert_eq!(judge(How::Idle, None, timeout, failed), Ok(None));
        assert_eq!(judge(How::AfterResult, None, timeout, failed), Ok(None));
    }

    #[test]
    fn a_stream_without_a_result_fails() {
        let facts = StreamFacts::default();
        let err = judge(How::Exited, Some(&facts), Duration::from_secs(5), || None).unwrap_err();
        assert_eq!(err.error, "the stream ended without a result");
        assert!(err.save && err.retryable);
    }

    #[test]
    fn denials_fail_only_when_asked_and_there_were_some() {
        let usage = Usage {
            permission_denials: vec!["Bash(rm)".into(), "Write(x)".into()],
            ..Usage::default()
        };
        assert_eq!(
            denied_for_nothing(true, "claude", Some(&usage)).as_deref(),
            Some("claude was denied 2 tool calls and changed nothing: Bash(rm); Write(x)")
        );
        let one = Usage {
            permission_denials: vec!["Bash(rm)".into()],
            ..Usage::default()
        };
        assert_eq!(
            denied_for_nothing(true, "claude", Some(&one)).as_deref(),
            Some("claude was denied 1 tool call and changed nothing: Bash(rm)")
        );
        assert_eq!(denied_for_nothing(false, "claude", Some(&usage)), None);
        assert_eq!(
            denied_for_nothing(true, "claude", Some(&Usage::default())),
            None
        );
        assert_eq!(denied_for_nothing(true, "claude", None), None);
    }

    #[test]
    fn failures_say_what_is_saved_and_retried() {
        let early = Failure::early("no".into());
        assert_eq!(
            (early.end, early.save, early.retryable),
            (AttemptEnd::Failed, false, true)
        );
        let final_ = Failure::saved(AttemptEnd::TimedOut, "t".into()).not_retryable();
        assert_eq!(
            (final_.end, final_.save, final_.retryable),
            (AttemptEnd::TimedOut, true, false)
        );
    }

    #[test]
    fn a_result_file_is_read_only_when_it_is_a_regular_file_of_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("result.json");
        assert_eq!(read_result(&path), Ok(None));
        std::fs::write(&path, b"{\"a\": 1}").unwrap();
        let (value, bytes) = read_result(&path).unwrap().unwrap();
        assert_eq!(value, serde_json::json!({"a": 1}));
        assert_eq!(bytes, b"{\"a\": 1}");
        std::fs::write(&path, b"{nope").unwrap();
        let err = read_result(&path).unwrap_err();
        assert!(
            err.starts_with("the agent wrote invalid JSON to $GROVE_RESULT"),
            "{err}"
        );
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let err = read_result(&link).unwrap_err();
        assert!(err.contains("is not a regular file but a symlink"), "{err}");
        let folder = dir.path().join("folder");
        std::fs::create_dir(&folder).unwrap();
        let err = read_result(&folder).unwrap_err();
        assert!(err.contains("is not a regular file but"), "{err}");
    }
}
