//! The live dashboard (ratatui + crossterm): the agent list, a terminal pane per agent, status
//! and key lines, and the views over them; it talks to the engine only through commands and events.

mod app;
mod detach;
mod diff;
mod farewell;
mod form;
/// Shared with the line front ends (`grove show`), so numbers read the same everywhere.
pub(crate) mod format;
mod input;
mod keymap;
mod layout;
mod load;
mod outcome;
mod run;
mod search;
mod terminal;
mod view;

pub use app::{Action, App, Confirm, Flash, Mode};
pub use form::{AgentChoice, Field, FormOutcome, TaskForm, TextInput};
pub use keymap::markdown as key_table_markdown;
pub use layout::{PaneSlot, ScreenLayout};
pub use load::{DiffTo, Load, Loaded};
pub use outcome::{DetachReason, Outcome};
pub use run::run;
pub use terminal::TerminalSession;
pub use view::draw;

#[derive(Debug, Default)]
pub struct DashboardOptions {
    /// Quit by itself when every task has ended, with the headless exit codes.
    pub exit_when_done: bool,
    /// The agents the new-task form offers (`n`).
    pub agents: Vec<AgentChoice>,
    /// Warnings printed before the dashboard opened (and hidden by it): shown in it until the
    /// first key.
    pub notices: Vec<String>,
    /// The grove server runs the agents, so the dashboard can close without stopping them: `q`
    /// asks detach or stop, `Ctrl-]` detaches. False: `q` stops the agents, as it always did.
    pub detachable: bool,
    /// Names of signals the caller received ("SIGTERM"), each a request to detach: the dashboard
    /// says so on its status line for one frame and returns `Outcome::Detached`. Honoured
    /// whatever `detachable` says (the caller passes it only when the agents survive); a closed
    /// channel is no request.
    pub detach_requests: Option<tokio::sync::mpsc::UnboundedReceiver<String>>,
}
