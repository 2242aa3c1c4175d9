//! What keys, mouse and paste do in each mode: they change the app's state and return the
//! commands and loads for the event loop to carry out.

mod search;

use crossterm::event::{
    KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Position;

use super::app::{Action, App, Confirm, Mode};
use super::form::{copy_name, FormOutcome, TaskForm};
use super::keymap::{self, Act, Scope};
use super::load::{DiffTo, Load};
use super::view;
use crate::engine::api::{Command, MergeState, TaskId, TaskStatus};
use crate::term::keys::key_bytes;

/// Lines moved by one mouse wheel step.
const WHEEL_LINES: isize = 3;
/// Columns moved by one step sideways.
const SIDEWAYS: isize = 8;

/// A move within a scrollable view.
#[derive(Debug, Clone, Copy)]
enum Scroll {
    By(isize),
    Page(isize),
    Top,
    Bottom,
    Sideways(isize),
}

impl App {
    pub fn handle_key(&mut self, key: KeyEvent) -> Vec<Action> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        self.claim_sizes = true;
        // The first key puts the notices away; it does what it does as well, but Esc (back).
        if !self.notices.is_empty() {
            self.notices.clear();
            if keymap::action(Scope::Main, key) == Some(Act::Back) {
                return Vec::new();
            }
        }
        match &self.mode {
            Mode::Attach => self.attached_key(key),
            Mode::Confirm(Confirm::Leave { .. }) => self.leave_key(key),
            Mode::Confirm(confirm) => {
                let confirm = confirm.clone();
                self.confirm_key(confirm, key)
            }
            Mode::Stopping { .. } => match keymap::action(Scope::Main, key) {
                Some(Act::Quit) if key.modifiers.contains(KeyModifiers::CONTROL) => self.kill_now(),
                _ => Vec::new(),
            },
            Mode::Form(_) => self.form_key(key),
            Mode::Search(_) => self.search_key(key),
            Mode::Help { .. } | Mode::Diff { .. } | Mode::Details { .. } | Mode::Compare { .. } => {
                self.view_key(key)
            }
            Mode::Normal | Mode::Summary => self.normal_key(key),
        }
    }

    /// Clicks select; the wheel scrolls the pane or view under the pointer. Returns false for
    /// events that change nothing (the pointer's moves, reported since mouse capture tracks
    /// every motion), so that they cost no frame.
    pub fn handle_mouse(&mut self, mouse: MouseEvent) -> bool {
        let pos = Position::new(mouse.column, mouse.row);
        let wheel = match mouse.kind {
            MouseEventKind::ScrollUp => -1,
            MouseEventKind::ScrollDown => 1,
            MouseEventKind::Down(MouseButton::Left) => {
                if matches!(self.mode, Mode::Normal | Mode::Summary) {
                    if let Some(index) = self.task_at(pos) {
                        self.select(index);
                        return true;
                    }
                }
                return false;
            }
            _ => return false,
        };
        match self.mode {
            Mode::Help { .. } | Mode::Diff { .. } | Mode::Details { .. } | Mode::Compare { .. } => {
                self.scroll_view(Scroll::By(wheel * WHEEL_LINES));
            }
            Mode::Normal | Mode::Summary | Mode::Attach | Mode::Search(_) => {
                let layout = self.layout();
                if let Some(slot) = layout.panes.iter().find(|s| s.area.contains(pos)) {
                    // Wheel down moves towards live output, i.e. fewer lines back.
                    self.scroll_pane(slot.index, -wheel * WHEEL_LINES);
                } else if layout.list.is_some_and(|l| l.contains(pos))
                    && !matches!(self.mode, Mode::Attach)
                {
                    self.select(self.selected.saturating_add_signed(wheel));
                }
            }
            Mode::Confirm(_) | Mode::Stopping { .. } | Mode::Form(_) => return false,
        }
        true
    }

    /// Pasted text goes to the attached agent, bracketed if it asked for that (or into the
    /// new-task form).
    pub fn handle_paste(&mut self, text: &str) -> Vec<Action> {
        if let Mode::Form(form) = &mut self.mode {
            form.paste(text);
            return Vec::new();
        }
        let Mode::Attach = self.mode else {
            return Vec::new();
        };
        let Some(task) = self.selected_task() else {
            return Vec::new();
        };
        let bracketed = task
            .pane
            .with_screen(|s| s.bracketed_paste())
            .unwrap_or(false);
        let mut bytes = Vec::with_capacity(text.len() + 12);
        if bracketed {
            bytes.extend_from_slice(b"\x1b[200~");
        }
        bytes.extend_from_slice(text.as_bytes());
        if bracketed {
            bytes.extend_from_slice(b"\x1b[201~");
        }
        vec![Action::Send(Command::Input {
            task: task.view.id,
            bytes,
        })]
    }

    fn normal_key(&mut self, key: KeyEvent) -> Vec<Action> {
        self.flash = None;
        let Some(act) = keymap::action(Scope::Main, key) else {
            return Vec::new();
        };
        let tasks = self.tasks.len();
        match act {
            Act::Quit => return self.quit(),
            Act::Suspend => return self.ask_suspend(),
            Act::Detach => self.detach_key(),
            Act::Back if matches!(self.mode, Mode::Summary) => self.mode = Mode::Normal,
            Act::Back => self.zoomed = false,
            Act::SelectNext => self.select(self.selected + 1),
            Act::SelectPrev => self.select(self.selected.saturating_sub(1)),
            Act::NextPane if tasks > 0 => self.select((self.selected + 1) % tasks),
            Act::PrevPane if tasks > 0 => self.select((self.selected + tasks - 1) % tasks),
            Act::Zoom => self.zoomed = !self.zoomed,
            Act::Attach => self.attach(),
            Act::Cancel => self.ask_cancel(),
            Act::Retry => return self.retry(),
            Act::Merge => return self.merge(),
            Act::Diff => return self.open_diff(),
            Act::Details => return self.open_details(),
            Act::Compare => self.open_compare(),
            Act::New => self.open_form(),
            Act::CopyTask => self.copy_task(),
            Act::FollowUp => self.open_follow_up(),
            Act::ToggleList => self.list = self.list.next(),
            Act::Find => self.start_search(),
            Act::Help => self.mode = Mode::Help { scroll: 0 },
            Act::PageUp => self.scroll_pane(self.selected, self.pane_page()),
            Act::PageDown => self.scroll_pane(self.selected, -self.pane_page()),
            Act::Oldest => self.scroll_pane(self.selected, isize::MAX),
            Act::Live => self.pane_to_live(self.selected),
            _ => {}
        }
        Vec::new()
    }

    /// Help, diff, details and compare: scrolling, and `q` or Esc close them (only the main view
    /// quits on `q`, as in lazygit).
    fn view_key(&mut self, key: KeyEvent) -> Vec<Action> {
        // The main view's Ctrl keys (quit, suspend, detach) work here too; its plain letters
        // do not.
        if key.modifiers.contains(KeyModifiers::CONTROL) {
            match keymap::action(Scope::Main, key) {
                Some(Act::Quit) => return self.quit(),
                Some(Act::Suspend) => return self.ask_suspend(),
                Some(Act::Detach) => {
                    self.detach_key();
                    return Vec::new();
                }
                _ => {}
            }
        }
        let scroll = match keymap::action(Scope::View, key) {
            Some(Act::Close) => {
                self.mode = Mode::Normal;
                return Vec::new();
            }
            Some(Act::LineDown) => Scroll::By(1),
            Some(Act::LineUp) => Scroll::By(-1),
            Some(Act::PageForward) => Scroll::Page(1),
            Some(Act::PageBack) => Scroll::Page(-1),
            Some(Act::Top) => Scroll::Top,
            Some(Act::Bottom) => Scroll::Bottom,
            Some(Act::Left) => Scroll::Sideways(-SIDEWAYS),
            Some(Act::Right) => Scroll::Sideways(SIDEWAYS),
            Some(Act::Reload) if matches!(self.mode, Mode::Diff { head: None, .. }) => {
                return vec![self.diff_load()];
            }
            _ => return Vec::new(),
        };
        self.scroll_view(scroll);
        Vec::new()
    }

    /// `command` for the task named `name` (confirmations and forms keep the name they show);
    /// nothing when no task has that name.
    fn send_to(&self, name: &str, command: impl FnOnce(TaskId) -> Command) -> Vec<Action> {
        (self.tasks.iter().find(|t| t.view.name == name))
            .map(|t| Action::Send(command(t.view.id)))
            .into_iter()
            .collect()
    }

    fn confirm_key(&mut self, confirm: Confirm, key: KeyEvent) -> Vec<Action> {
        match keymap::action(Scope::Confirm, key) {
            Some(Act::Yes) => match confirm {
                Confirm::Cancel { task } => {
                    self.mode = Mode::Normal;
                    self.note(format!("cancelling {task}"));
                    self.send_to(&task, |task| Command::Cancel { task })
                }
                Confirm::Quit { .. } => self.stop(),
                // Its own keys: leave_key.
                Confirm::Leave { .. } => Vec::new(),
                Confirm::Merge { task, .. } => {
                    self.mode = Mode::Normal;
                    self.note(format!("merging {task} into {}", self.info.base_label));
                    self.send_to(&task, |task| Command::Merge { task })
                }
            },
            Some(Act::No) => {
                self.mode = Mode::Normal;
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn attached_key(&mut self, key: KeyEvent) -> Vec<Action> {
        let Some(task) = self.selected_task() else {
            self.mode = Mode::Normal;
            return Vec::new();
        };
        let (name, id) = (task.view.name.clone(), task.view.id);
        if keymap::action(Scope::Attached, key) == Some(Act::Detach) {
            self.mode = Mode::Normal;
            self.note(format!("detached from {name}"));
            return Vec::new();
        }
        let application_cursor = task
            .pane
            .with_screen(|s| s.application_cursor())
            .unwrap_or(false);
        key_bytes(key, application_cursor)
            .map(|bytes| Action::Send(Command::Input { task: id, bytes }))
            .into_iter()
            .collect()
    }

    fn attach(&mut self) {
        let Some(task) = self.selected_task() else {
            return;
        };
        if task.view.status == TaskStatus::Running {
            self.mode = Mode::Attach;
            self.pane_to_live(self.selected);
        } else {
            let text = format!(
                "{} is {}; only a running agent takes input",
                task.view.name,
                task.view.status.word()
            );
            self.note(text);
        }
    }

    fn ask_cancel(&mut self) {
        let Some(task) = self.selected_task() else {
            return;
        };
        let name = task.view.name.clone();
        if task.view.status.is_final() {
            let text = format!("{name} has already ended ({})", task.view.status.word());
            self.note(text);
        } else {
            self.mode = Mode::Confirm(Confirm::Cancel { task: name });
        }
    }

    fn retry(&mut self) -> Vec<Action> {
        let Some(task) = self.selected_task() else {
            return Vec::new();
        };
        let (name, id, status) = (task.view.name.clone(), task.view.id, task.view.status);
        // A follow-up runs again where it ran: in the task's worktree, continuing its session.
        let follow_up = task
            .view
            .attempts
            .last()
            .is_some_and(|a| a.follow_up.is_some());
        if task.view.can_retry() {
            match follow_up {
                true => self.note(format!("retrying {name}'s follow-up in its worktree")),
                false => self.note(format!("retrying {name} in a fresh worktree")),
            }
            vec![Action::Send(Command::Retry { task: id })]
        } else {
            self.note(format!("{name} is {}; nothing to retry", status.word()));
            Vec::new()
        }
    }

    fn merge(&mut self) -> Vec<Action> {
        let Some(task) = self.selected_task() else {
            return Vec::new();
        };
        let name = task.view.name.clone();
        let text = match (task.view.status, task.view.merge) {
            (TaskStatus::Succeeded, MergeState::Merged) => format!("{name} is already merged"),
            (TaskStatus::Succeeded, MergeState::Pending) => {
                format!("{name} is being merged")
            }
            (_, MergeState::Discarded) => format!(
                "{name} was discarded: another sibling of {} was picked",
                task.view.group.as_deref().unwrap_or("its race")
            ),
            (TaskStatus::Succeeded, _) => match self.info.base_branch.clone() {
                Some(target) => return self.ask_merge(target),
                None => format!(
                    "base '{}' is not a branch (a tag or commit); cannot merge into it",
                    self.info.base_label
                ),
            },
            (status, _) => format!(
                "only a succeeded task can be merged; {name} is {}",
                status.word()
            ),
        };
        self.note(text);
        Vec::new()
    }

    /// `m` on a succeeded task: asks first, saying what the merge would do (looked at off the
    /// UI loop) and, on a race sibling, which siblings it discards.
    fn ask_merge(&mut self, target: String) -> Vec<Action> {
        let Some(task) = self.selected_task() else {
            return Vec::new();
        };
        let (name, group, source) = (
            task.view.name.clone(),
            task.view.group.clone(),
            task.view.branch.clone(),
        );
        let discards = self
            .tasks
            .iter()
            .filter(|t| group.is_some() && t.view.group == group && t.view.name != name)
            .map(|t| t.view.name.clone())
            .collect();
        self.mode = Mode::Confirm(Confirm::Merge {
            task: name.clone(),
            discards,
            preview: None,
        });
        vec![Action::Load(Load::MergePreview {
            repo_root: self.info.repo_root.clone(),
            task: name,
            source,
            target,
        })]
    }

    fn open_diff(&mut self) -> Vec<Action> {
        let Some(task) = self.selected_task() else {
            return Vec::new();
        };
        let view = &task.view;
        // While the agent works, its worktree as it is now; after, the commit it ended with.
        let live = matches!(view.status, TaskStatus::Running | TaskStatus::Preparing)
            || (view.head_commit.is_none() && !view.status.is_final());
        let head = match live {
            true => None,
            false => match view.head_commit.clone() {
                Some(head) => Some(head),
                None => {
                    let text = format!("{} left no commit to compare", view.name);
                    self.note(text);
                    return Vec::new();
                }
            },
        };
        if live && !view.worktree.is_dir() {
            let text = format!("{} has no worktree yet", view.name);
            self.note(text);
            return Vec::new();
        }
        self.mode = Mode::Diff {
            task: self.selected,
            head: head.clone(),
            scroll: 0,
            hscroll: 0,
            patch: None,
        };
        vec![self.diff_load()]
    }

    /// The load of the diff the diff view shows (again, for `r` on a live one).
    fn diff_load(&self) -> Action {
        let (task, head) = match &self.mode {
            Mode::Diff { task, head, .. } => (*task, head.clone()),
            _ => (self.selected, None),
        };
        let worktree = self.tasks.get(task).map(|t| t.view.worktree.clone());
        Action::Load(Load::Diff {
            repo_root: self.info.repo_root.clone(),
            from: self.info.base_commit.clone(),
            to: match head {
                Some(head) => DiffTo::Commit(head),
                None => DiffTo::Worktree(worktree.unwrap_or_default()),
            },
        })
    }

    fn open_details(&mut self) -> Vec<Action> {
        let Some(task) = self.selected_task() else {
            return Vec::new();
        };
        let path = task.view.envelope_path.clone();
        let worktree = task.view.worktree.clone();
        // Read again each time: the envelope is rewritten for every attempt.
        self.envelope = None;
        self.mode = Mode::Details {
            task: self.selected,
            scroll: 0,
        };
        vec![Action::Load(Load::Envelope { path, worktree })]
    }

    fn name_taken(&self, name: &str) -> bool {
        self.tasks.iter().any(|t| t.view.name == name)
    }

    /// `n`: the new-task form, with the first free `task-<n>` as its name.
    fn open_form(&mut self) {
        let name = (1..)
            .map(|n| format!("task-{n}"))
            .find(|name| !self.name_taken(name))
            .unwrap_or_default();
        self.mode = Mode::Form(Box::new(TaskForm::new(&name, self.agents.clone())));
    }

    fn form_key(&mut self, key: KeyEvent) -> Vec<Action> {
        let Mode::Form(form) = &mut self.mode else {
            return Vec::new();
        };
        let tasks = &self.tasks;
        let taken = |name: &str| tasks.iter().any(|t| t.view.name == name);
        match form.key(key, &taken) {
            FormOutcome::Editing => Vec::new(),
            FormOutcome::Cancel => {
                self.mode = self.after_form();
                Vec::new()
            }
            FormOutcome::FollowUp { task, prompt } => {
                self.mode = self.after_form();
                self.note(format!("following up on {task}"));
                self.send_to(&task, |task| Command::FollowUp { task, prompt })
            }
            FormOutcome::Submit(task) => {
                let copy_of = form.copy_of.take();
                self.mode = self.after_form();
                self.select_when_added = Some(task.name.clone());
                match copy_of {
                    Some(from) => {
                        self.note(format!("starting {}, a copy of {}", task.name, from.task));
                        self.send_to(&from.task, |from| Command::CopyTask {
                            task: from,
                            copy: task,
                        })
                    }
                    None => {
                        self.note(format!("starting {} ({})", task.name, task.agent));
                        vec![Action::Send(Command::AddTask { task })]
                    }
                }
            }
        }
    }

    /// Where closing the form goes: the summary when the run had ended meanwhile.
    fn after_form(&self) -> Mode {
        match &self.summary {
            Some(summary) if summary.total > 0 && self.active_count() == 0 => Mode::Summary,
            _ => Mode::Normal,
        }
    }

    /// `N`: the form filled in with the selected task under a new name (`fix-2`); Enter starts
    /// the copy, with every other key of the task (check, env, setup…) as it is.
    fn copy_task(&mut self) {
        let Some(task) = self.selected_task() else {
            self.note("no task to copy; n starts a new one");
            return;
        };
        let name = copy_name(&task.view.name, &|n| self.name_taken(n));
        let form = TaskForm::copy(&task.view, &name, self.agents.clone());
        self.mode = Mode::Form(Box::new(form));
    }

    /// `f`: the follow-up form of the selected task, or (status line) why it cannot have one.
    fn open_follow_up(&mut self) {
        let Some(task) = self.selected_task() else {
            self.note("no task to follow up on");
            return;
        };
        match &task.view.follow_up {
            Some(why) => {
                let why = why.clone();
                self.note(why);
            }
            None => {
                let form = TaskForm::follow_up(&task.view.name, &task.view.agent);
                self.mode = Mode::Form(Box::new(form));
            }
        }
    }

    /// `v` on a race sibling: its race side by side.
    fn open_compare(&mut self) {
        let Some(task) = self.selected_task() else {
            return;
        };
        match task.view.group.clone() {
            Some(group) => {
                self.mode = Mode::Compare {
                    group,
                    scroll: 0,
                    hscroll: 0,
                }
            }
            None => {
                let text = format!(
                    "{} is not part of a race (replicas / agents)",
                    task.view.name
                );
                self.note(text);
            }
        }
    }

    /// Lines PgUp/PgDn move a pane: its height less one, so a line of context stays.
    fn pane_page(&self) -> isize {
        let rows = self
            .layout()
            .slot(self.selected)
            .map_or(1, |s| s.inner().height);
        rows.saturating_sub(1).max(1) as isize
    }

    fn scroll_view(&mut self, scroll: Scroll) {
        let area = self.layout().overlay;
        let (len, widest) = view::overlay_size(self, area);
        let page = usize::from(area.height.saturating_sub(2)).max(1);
        let max = len.saturating_sub(page);
        if let Scroll::Sideways(n) = scroll {
            let room = usize::from(area.width.saturating_sub(2));
            if let Mode::Diff { hscroll, .. } | Mode::Compare { hscroll, .. } = &mut self.mode {
                *hscroll = hscroll
                    .saturating_add_signed(n)
                    .min(widest.saturating_sub(room));
            }
            return;
        }
        let (Mode::Help { scroll: offset }
        | Mode::Diff { scroll: offset, .. }
        | Mode::Details { scroll: offset, .. }
        | Mode::Compare { scroll: offset, .. }) = &mut self.mode
        else {
            return;
        };
        *offset = match scroll {
            Scroll::By(n) => offset.saturating_add_signed(n),
            Scroll::Page(n) => offset.saturating_add_signed(n * (page as isize - 1).max(1)),
            Scroll::Top => 0,
            Scroll::Bottom | Scroll::Sideways(_) => max,
        }
        .min(max);
    }
}
