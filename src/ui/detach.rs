//! Leaving the dashboard while the grove server keeps the agents running: the keys that detach
//! (`q` then `d`, `Ctrl-]`), detaching on a signal, and how the dashboard ends (`App::outcome`).

use crossterm::event::KeyEvent;

use super::app::{Action, App, Mode};
use super::keymap::{self, Act, Scope};
use super::outcome::{DetachReason, Outcome};

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

    /// The terminal cannot be drawn on any more: a detachable dashboard detaches (true), else the
    /// dashboard fails as it always did (false).
    pub fn detach_on_lost_terminal(&mut self) -> bool {
        if self.detachable {
            self.detached = Some(DetachReason::TerminalLost);
        }
        self.detachable
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
