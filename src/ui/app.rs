//! The dashboard's state: tasks with their panes, the selection and the mode, updated by engine
//! events and by keys and mouse (which return what to send). No terminal and no I/O here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ratatui::layout::{Position, Rect};
use ratatui::text::Line;

use super::diff::PatchView;
use super::form::{AgentChoice, TaskForm};
use super::format;
use super::layout::{ListMode, ScreenLayout};
use super::load::{Load, Loaded};
use super::outcome::DetachReason;
use super::search::Search;
use super::view::pane::PaneRender;
use super::DashboardOptions;
use crate::engine::api::{Command, Event, RunInfo, RunSummary, TaskStatus, TaskView};
use crate::git::MergePreview;
use crate::term::pane::Pane;

/// What the dashboard is showing and how keys are read.
#[derive(Debug, Clone)]
pub enum Mode {
    /// The list and the panes (grid or zoomed).
    Normal,
    /// Keys go to the selected agent's PTY until Ctrl-].
    Attach,
    Help {
        scroll: usize,
    },
    Diff {
        task: usize,
        /// The commit shown, so a late answer for another commit is dropped; None: the task's
        /// worktree as it is now (a running task's work so far).
        head: Option<String>,
        scroll: usize,
        /// Columns scrolled sideways.
        hscroll: usize,
        patch: Option<Result<PatchView, String>>,
    },
    Details {
        task: usize,
        scroll: usize,
    },
    /// The siblings of a race side by side.
    Compare {
        group: String,
        scroll: usize,
        hscroll: usize,
    },
    Confirm(Confirm),
    /// Searching the selected pane's history (`/`).
    Search(Search),
    /// The new-task form (`n`).
    Form(Box<TaskForm>),
    /// The run ended; the summary is shown over the dashboard.
    Summary,
    /// Quit was confirmed; waiting for the engine to stop the agents and write the results.
    Stopping {
        /// When the agents were sent SIGTERM, and when they get SIGKILL (the longest grace of
        /// those still going).
        since: SystemTime,
        grace: Duration,
        /// A second Ctrl-C asked to kill them at once.
        killing: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    Cancel {
        task: String,
    },
    Quit {
        active: usize,
    },
    /// `q` while the grove server would keep the agents running: detach, or stop the run.
    Leave {
        active: usize,
    },
    /// Merging a succeeded task (on a race sibling: picking it).
    Merge {
        task: String,
        /// The race siblings the pick discards.
        discards: Vec<String>,
        /// What the merge would do, once looked at.
        preview: Option<Result<MergePreview, String>>,
    },
}

/// Something the event loop must do for the app.
#[derive(Debug, Clone)]
pub enum Action {
    Send(Command),
    Load(Load),
}

/// A message on the bottom line, for a few seconds (longer for an error) or until the next key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
    /// When it was first drawn: it is shown from then on for its time.
    shown: Option<SystemTime>,
}

impl Flash {
    pub fn new(text: impl Into<String>, error: bool) -> Flash {
        Flash {
            text: text.into(),
            error,
            shown: None,
        }
    }

    /// How long it stays on screen.
    fn lasts(&self) -> Duration {
        Duration::from_secs(if self.error { 12 } else { 5 })
    }
}

pub(super) struct Task {
    pub(super) view: TaskView,
    pub(super) pane: Arc<Pane>,
    /// The pane as last drawn, re-read from the terminal model only when it changed.
    pub(super) render: PaneRender,
    /// The size last sent in `Command::Resize`.
    sent_size: Option<(u16, u16)>,
}

pub struct App {
    pub(super) info: RunInfo,
    exit_when_done: bool,
    pub(super) tasks: Vec<Task>,
    pub(super) selected: usize,
    pub(super) zoomed: bool,
    /// How much room the task list takes (`t`).
    pub(super) list: ListMode,
    pub(super) mode: Mode,
    pub(super) size: Rect,
    pub(super) now: SystemTime,
    pub(super) summary: Option<RunSummary>,
    pub(super) flash: Option<Flash>,
    /// What the details view loaded: the envelope's lines, the path they came from, and
    /// whether the task's worktree was gone.
    pub(super) envelope: Option<(PathBuf, Vec<Line<'static>>, bool)>,
    /// Where the run clock counts from: a time, and the run's time then (the start and zero, or
    /// when a retry reopened a finished run and its time at the finish).
    clock_from: (SystemTime, Duration),
    exit: Option<i32>,
    /// Whether leaving the dashboard can leave the agents running (the grove server has them).
    pub(super) detachable: bool,
    /// Set once the dashboard should close and leave the run going.
    pub(super) detached: Option<DetachReason>,
    /// Agents that started waiting for input since the loop last looked: (task, prompt).
    alerts: Vec<(String, String)>,
    /// The agents the new-task form offers.
    pub(super) agents: Vec<AgentChoice>,
    /// A task started from here: selected once the engine announces it.
    pub(super) select_when_added: Option<String>,
    /// Ctrl-Z: where suspending the dashboard stands.
    suspend: Suspend,
    /// Warnings printed before the dashboard opened, shown over it until the first key.
    pub(super) notices: Vec<String>,
    /// A key was pressed here: the panes take this dashboard's sizes again where another one
    /// attached to the run has resized them (the one used last wins, as tmux's `latest`).
    pub(super) claim_sizes: bool,
}

/// Ctrl-Z asks the engine to stop the agents first; the dashboard suspends itself once it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Suspend {
    No,
    Asked,
    Ready,
}

impl App {
    pub fn new(info: RunInfo, opts: DashboardOptions) -> App {
        let now = info.started_at;
        App {
            info,
            exit_when_done: opts.exit_when_done,
            tasks: Vec::new(),
            selected: 0,
            zoomed: false,
            list: ListMode::default(),
            mode: Mode::Normal,
            size: Rect::default(),
            now,
            summary: None,
            flash: None,
            envelope: None,
            clock_from: (now, Duration::ZERO),
            exit: None,
            detachable: opts.detachable,
            detached: None,
            alerts: Vec::new(),
            agents: opts.agents,
            select_when_added: None,
            suspend: Suspend::No,
            notices: opts.notices,
            claim_sizes: false,
        }
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    pub fn selected(&self) -> usize {
        self.selected
    }

    pub fn zoomed(&self) -> bool {
        self.zoomed
    }

    pub fn flash(&self) -> Option<&Flash> {
        self.flash.as_ref()
    }

    /// The exit code once the dashboard should close.
    pub fn exit_code(&self) -> Option<i32> {
        self.exit
    }

    /// True once the run has ended (the summary is known).
    pub fn finished(&self) -> bool {
        self.summary.is_some()
    }

    /// True while something on screen counts time (the run clock, a retry countdown, a
    /// message that will go).
    pub fn needs_clock(&self) -> bool {
        !self.finished() || self.flash.is_some()
    }

    /// The run's time so far, as its clock shows it.
    pub(super) fn run_time(&self) -> Duration {
        let (from, time) = self.clock_from;
        time + self.now.duration_since(from).unwrap_or_default()
    }

    pub fn set_size(&mut self, width: u16, height: u16) {
        self.size = Rect::new(0, 0, width, height);
    }

    /// Where everything goes on the current screen.
    pub fn layout(&self) -> ScreenLayout {
        self.layout_in(self.size)
    }

    pub(super) fn layout_in(&self, area: Rect) -> ScreenLayout {
        ScreenLayout::compute(
            area,
            self.tasks.len(),
            self.selected,
            self.zoomed,
            self.list,
        )
    }

    /// Tasks whose agents started waiting for input since the last call: (task, prompt line).
    pub fn take_alerts(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.alerts)
    }

    /// Applies an engine event; true when the screen must be redrawn.
    pub fn apply_event(&mut self, event: Event) -> bool {
        match event {
            Event::TaskAdded { view, pane } => {
                let task = Task {
                    view,
                    pane,
                    render: PaneRender::default(),
                    sent_size: None,
                };
                let name = task.view.name.clone();
                match self.tasks.get_mut(task.view.id.index()) {
                    Some(slot) => *slot = task,
                    None => self.tasks.push(task),
                }
                if self.select_when_added.as_ref() == Some(&name) {
                    self.select_when_added = None;
                    self.select(self.tasks.len() - 1);
                }
            }
            Event::TaskChanged(view) => {
                let Some(task) = self.tasks.get_mut(view.id.index()) else {
                    return false;
                };
                if let Some(summary) = self.summary.take_if(|_| !view.status.is_final()) {
                    // A retry after the end reopened the run: its clock goes on from its time
                    // at the end, not counting the time spent looking around since.
                    self.clock_from = (self.now, summary.elapsed);
                    if matches!(self.mode, Mode::Summary) {
                        self.mode = Mode::Normal;
                    }
                }
                if let (None, Some(prompt)) = (&task.view.waiting, &view.waiting) {
                    self.alerts.push((view.name.clone(), prompt.clone()));
                }
                // The pane's cursor is drawn only while the agent runs.
                if task.view.status != view.status {
                    task.render.mark_stale();
                }
                let left =
                    task.view.status == TaskStatus::Running && view.status != TaskStatus::Running;
                task.view = view;
                // As tmux does: attach ends with the program attached to.
                if left
                    && matches!(self.mode, Mode::Attach)
                    && self.selected == task.view.id.index()
                {
                    let text = format!(
                        "{} exited ({}); detached",
                        task.view.name,
                        task.view.status.word()
                    );
                    self.mode = Mode::Normal;
                    self.note(text);
                }
            }
            Event::Output { task } => {
                let index = task.index();
                let Some(task) = self.tasks.get_mut(index) else {
                    return false;
                };
                task.render.mark_stale();
                return self.layout().slot(index).is_some();
            }
            Event::Merged { task, outcome } => {
                let name = self
                    .tasks
                    .get(task.index())
                    .map_or("", |t| t.view.name.as_str());
                let (text, error) = format::merge_outcome(name, &self.info.base_label, &outcome);
                self.flash = Some(Flash::new(text, error));
            }
            // Every attached dashboard hears it; only the one that asked suspends itself.
            Event::Paused(paused) => match (paused, self.suspend) {
                (true, Suspend::Asked) => self.suspend = Suspend::Ready,
                (true, Suspend::No) => self.note("agents paused by another dashboard"),
                (true, Suspend::Ready) => {}
                (false, _) => self.note("agents continued"),
            },
            Event::RunFinished(summary) => {
                let stopping = matches!(self.mode, Mode::Stopping { .. });
                // An empty run (`grove new` before any task) has nothing to sum up yet.
                let empty = summary.total == 0;
                if summary.interrupted || stopping || (self.exit_when_done && !empty) {
                    self.exit = Some(summary.exit_code());
                }
                self.summary = Some(summary);
                // A form being filled in stays open; the summary shows once it is closed.
                if !empty && !matches!(self.mode, Mode::Form(_)) {
                    self.mode = Mode::Summary;
                }
            }
            Event::RecordWrite { text, failed } => {
                self.flash = Some(Flash::new(text, failed));
            }
            Event::TaskRejected { name, error } => {
                if self.select_when_added.as_ref() == Some(&name) {
                    self.select_when_added = None;
                }
                self.flash = Some(Flash::new(format!("{name} not started: {error}"), true));
            }
        }
        true
    }

    /// The `Command::Resize` for each shown pane whose size changed since it was last sent, or,
    /// after a key was pressed here, whose pane another dashboard resized. Hidden panes keep
    /// their last size.
    pub fn pane_resizes(&mut self) -> Vec<Command> {
        let layout = self.layout();
        let claim = std::mem::take(&mut self.claim_sizes);
        let mut commands = Vec::new();
        for slot in &layout.panes {
            let inner = slot.inner();
            let size = (inner.height, inner.width);
            let Some(task) = self.tasks.get_mut(slot.index) else {
                continue;
            };
            let taken = || {
                let wanted = crate::term::pane::pane_size(size.0, size.1);
                let actual = task.pane.with_screen(|s| s.size());
                actual.is_some_and(|actual| actual != wanted)
            };
            if inner.is_empty() || (task.sent_size == Some(size) && !(claim && taken())) {
                continue;
            }
            task.sent_size = Some(size);
            task.render.mark_stale();
            commands.push(Command::Resize {
                task: task.view.id,
                rows: size.0,
                cols: size.1,
            });
        }
        commands
    }

    /// Sets the clock for this frame and re-reads the shown panes that changed.
    pub fn prepare_frame(&mut self, now: SystemTime) {
        self.now = now;
        if let Some(flash) = &mut self.flash {
            let shown = *flash.shown.get_or_insert(now);
            if now.duration_since(shown).unwrap_or_default() >= flash.lasts() {
                self.flash = None;
            }
        }
        for slot in self.layout().panes {
            let inner = slot.inner();
            let Some(task) = self.tasks.get_mut(slot.index) else {
                continue;
            };
            let running = task.view.status == TaskStatus::Running;
            task.render.refresh(&task.pane, inner, running);
        }
    }

    /// A blocking load finished.
    pub fn loaded(&mut self, loaded: Loaded) {
        match loaded {
            Loaded::Diff { to, patch } => {
                if let Mode::Diff {
                    head, patch: slot, ..
                } = &mut self.mode
                {
                    if *head == to {
                        *slot = Some(patch);
                    }
                }
            }
            Loaded::Envelope {
                path,
                lines,
                worktree_removed,
            } => self.envelope = Some((path, lines, worktree_removed)),
            Loaded::MergePreview { task, preview } => {
                if let Mode::Confirm(Confirm::Merge {
                    task: asked,
                    preview: slot,
                    ..
                }) = &mut self.mode
                {
                    if *asked == task {
                        *slot = Some(preview);
                    }
                }
            }
        }
    }

    /// Ctrl-Z: stop the agents, then (once the engine says they are) suspend the dashboard.
    pub(super) fn ask_suspend(&mut self) -> Vec<Action> {
        self.suspend = Suspend::Asked;
        vec![Action::Send(Command::Pause)]
    }

    /// True once when the dashboard should suspend itself now (the agents are stopped).
    pub fn take_suspend(&mut self) -> bool {
        let ready = self.suspend == Suspend::Ready;
        if ready {
            self.suspend = Suspend::No;
        }
        ready
    }

    /// The engine's event stream ended. After the run has finished that only happens when grove
    /// is being stopped (quit, or SIGTERM/SIGHUP while the summary is shown): the dashboard then
    /// closes with the run's exit code. False if the run had not finished (an engine failure).
    pub fn events_ended(&mut self) -> bool {
        match &self.summary {
            Some(summary) => {
                self.exit.get_or_insert(summary.exit_code());
                true
            }
            None => false,
        }
    }

    /// The engine no longer takes commands (its loop ended).
    pub fn engine_gone(&mut self) {
        if self.suspend == Suspend::Asked {
            // No agents left to stop: suspend all the same.
            self.suspend = Suspend::Ready;
        }
        self.flash = Some(Flash::new(
            "the run has ended; grove can no longer act on tasks",
            true,
        ));
        if matches!(self.mode, Mode::Stopping { .. }) {
            self.exit = Some(self.summary.as_ref().map_or(130, |s| s.exit_code()));
        }
    }

    pub(super) fn selected_task(&self) -> Option<&Task> {
        self.tasks.get(self.selected)
    }

    pub(super) fn select(&mut self, index: usize) {
        if index < self.tasks.len() {
            self.selected = index;
        }
    }

    pub(super) fn note(&mut self, text: impl Into<String>) {
        self.flash = Some(Flash::new(text, false));
    }

    /// Tasks that have not ended.
    pub(super) fn active_count(&self) -> usize {
        self.tasks
            .iter()
            .filter(|t| !t.view.status.is_final())
            .count()
    }

    /// `q`: close at once when the run is over, else ask first if agents would be stopped (or,
    /// when the grove server would keep them running, whether to detach or stop the run).
    pub(super) fn quit(&mut self) -> Vec<Action> {
        if let Some(summary) = &self.summary {
            self.exit = Some(summary.exit_code());
            return Vec::new();
        }
        match self.active_count() {
            0 => self.stop(),
            active if self.detachable => {
                self.mode = Mode::Confirm(Confirm::Leave { active });
                Vec::new()
            }
            active => {
                self.mode = Mode::Confirm(Confirm::Quit { active });
                Vec::new()
            }
        }
    }

    pub(super) fn stop(&mut self) -> Vec<Action> {
        let grace = self
            .tasks
            .iter()
            .filter(|t| !t.view.status.is_final())
            .map(|t| t.view.kill_grace)
            .max()
            .unwrap_or_default();
        self.mode = Mode::Stopping {
            since: self.now,
            grace,
            killing: false,
        };
        vec![Action::Send(Command::Shutdown)]
    }

    /// Ctrl-C again while stopping: SIGKILL now, without the rest of the grace period.
    pub(super) fn kill_now(&mut self) -> Vec<Action> {
        match &mut self.mode {
            Mode::Stopping { killing, .. } if !*killing => {
                *killing = true;
                vec![Action::Send(Command::KillNow)]
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn scroll_pane(&mut self, index: usize, lines: isize) {
        if let Some(task) = self.tasks.get_mut(index) {
            task.pane.scroll_by(lines);
            task.render.mark_stale();
        }
    }

    pub(super) fn pane_to_live(&mut self, index: usize) {
        if let Some(task) = self.tasks.get_mut(index) {
            task.pane.scroll_to_live();
            task.render.mark_stale();
        }
    }

    pub(super) fn task_at(&self, pos: Position) -> Option<usize> {
        self.layout().task_at(pos, self.selected)
    }
}
