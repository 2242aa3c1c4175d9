//! The live dashboard (ratatui + crossterm): the agent list, a terminal pane per agent, status
//! and key lines, and the views over them; it talks to the engine only through commands and events.

mod app;
mod diff;
mod farewell;
mod form;
/// Shared with the line front ends (`grove show`), so numbers read the same everywhere.
pub(crate) mod format;
mod input;
mod keymap;
mod layout;
mod load;
mod run;
mod search;
mod terminal;
mod view;

pub use app::{Action, App, Confirm, Flash, Mode};
pub use form::{AgentChoice, Field, FormOutcome, TaskForm, TextInput};
pub use keymap::markdown as key_table_markdown;
pub use layout::{PaneSlot, ScreenLayout};
pub use load::{DiffTo, Load, Loaded};
pub use run::run;
pub use terminal::TerminalSession;
pub use view::draw;

#[derive(Debug, Clone, Default)]
pub struct DashboardOptions {
    /// Quit by itself when every task has ended, with the headless exit codes.
    pub exit_when_done: bool,
    /// The agents the new-task form offers (`n`).
    pub agents: Vec<AgentChoice>,
    /// Warnings printed before the dashboard opened (and hidden by it): shown in it until the
    /// first key.
    pub notices: Vec<String>,
}
