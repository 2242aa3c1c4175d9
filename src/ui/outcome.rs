//! How the dashboard ended: the run's exit code, or detached (and why) with the agents still
//! running in the grove server.

use std::fmt;

/// How the dashboard ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The run ended or was stopped from here: its exit code (RunSummary::exit_code semantics:
    /// 0 all succeeded, 1 otherwise, 130 interrupted).
    Ended(i32),
    /// The dashboard closed; the agents keep running in the grove server.
    Detached(DetachReason),
}

/// Why the dashboard detached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DetachReason {
    /// Its user asked: `q` then detach, or `Ctrl-]`.
    Key,
    /// The caller received this signal ("SIGTERM") and asked the dashboard to detach.
    Signal(String),
    /// The terminal could not be drawn on (closed) before any signal said so.
    TerminalLost,
}

impl fmt::Display for DetachReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DetachReason::Key => f.write_str("the detach key"),
            DetachReason::Signal(signal) => f.write_str(signal),
            DetachReason::TerminalLost => f.write_str("the terminal went away"),
        }
    }
}
