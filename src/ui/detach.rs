//! Leaving the dashboard while the grove server keeps the agents running: how the dashboard
//! ended (`Outcome`), the keys that detach (`q` then `d`, `Ctrl-]`) and detaching on a signal.

use std::fmt;

use crossterm::event::KeyEvent;

use super::app::{Action, App, Mode};
use super::keymap::{self, Act, Scope};

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
}

impl fmt::Display for DetachReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DetachReason::Key => f.write_str("the detach key"),
            DetachReason::Signal(signal) => f.write_str(signal),
        }
    }
}

impl App {
    /// How the dashboard ends, once it should close.
    pub fn outcome(&self) -> Option<Outcome> {
        match (&self.detached, self.exit_code()) {
            (Some(reason), _) => Some(Outcome::Detached(reason.clone())),
            (None, Some(code)) => Some(Outcome::Ended(code)),
            (None, None) => None,
        }
    }

    /// The caller received `signal`: say so on the status line (the frame drawn before the
    /// dashboard closes) and detach.
    pub fn detach_for_signal(&mut self, signal: String) {
        // The status line shows the attached agent or the search instead of the message.
        if matches!(self.mode, Mode::Attach | Mode::Search(_)) {
            self.mode = Mode::Normal;
        }
        self.note(format!(
            "{signal}: detaching; the agents keep running in the grove server"
        ));
        self.detached = Some(DetachReason::Signal(signal));
    }

    /// `Ctrl-]` outside an agent: detach when the agents can keep running.
    pub(super) fn detach_key(&mut self) {
        match self.detachable {
            true => self.detached = Some(DetachReason::Key),
            false => self.note("nothing to detach from"),
        }
    }

    /// The keys of the question `q` asks when the agents could keep running.
    pub(super) fn leave_key(&mut self, key: KeyEvent) -> Vec<Action> {
        match keymap::action(Scope::Leave, key) {
            Some(Act::Detach) => {
                self.detached = Some(DetachReason::Key);
                Vec::new()
            }
            Some(Act::StopRun) => self.stop(),
            Some(Act::Stay) => {
                self.mode = Mode::Normal;
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}
