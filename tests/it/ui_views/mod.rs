//! The dashboard without a terminal: App state built from engine events, panes fed real escape
//! sequences, drawn into ratatui's TestBackend; keys checked for the commands and modes they give.

use std::collections::HashMap;

use crate::support::dash;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use grove::engine::api::{
    AttemptView, Command, Event, MergeState, RunInfo, RunSummary, TaskId, TaskStatus, TaskView,
};
use grove::git::{DiffStat, FileStat, MergeOutcome};
use grove::term::pane::{Pane, DEFAULT_SCROLLBACK};
use grove::ui::{draw, Action, App, Confirm, DashboardOptions, DiffTo, Load, Mode};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;

fn t0() -> SystemTime {
    dash::started()
}

fn at(secs: u64) -> SystemTime {
    t0() + Duration::from_secs(secs)
}

/// The moment every test draws at: 95 s into the run.
fn now() -> SystemTime {
    at(95)
}

fn info(repo_root: &Path, base_commit: &str) -> RunInfo {
    RunInfo {
        run_id: "20231114-221320-k3f9".into(),
        plan_name: "refactor".into(),
        repo_root: repo_root.to_path_buf(),
        run_dir: repo_root.join(".grove/runs/20231114-221320-k3f9"),
        results_path: PathBuf::from("/repo/.grove/runs/20231114-221320-k3f9/results.json"),
        base_commit: base_commit.into(),
        base_label: "main".into(),
        base_branch: Some("main".into()),
        started_at: t0(),
        agents: Vec::new(),
    }
}

/// A task of the views' run: support's task with this run's prompt, attempts, times and paths.
fn view(index: usize, name: &str, status: TaskStatus) -> TaskView {
    let started = !matches!(status, TaskStatus::Pending | TaskStatus::Skipped);
    TaskView {
        prompt: format!("Do the {name} work.\nKeep it small."),
        attempt: u32::from(started),
        max_attempts: 3,
        started_at: started.then(|| at(10 + index as u64)),
        ended_at: status.is_final().then(|| at(70)),
        branch: format!("grove/20231114-221320-k3f9/{name}"),
        worktree: PathBuf::from(format!("/repo/.grove/worktrees/{name}")),
        envelope_path: PathBuf::from(format!("/repo/.grove/runs/r/{name}/envelope.json")),
        ..dash::view(index, name, "demo", status)
    }
}

fn summary(succeeded: usize, failed: usize, interrupted: bool) -> RunSummary {
    RunSummary {
        run_id: "20231114-221320-k3f9".into(),
        results_path: PathBuf::from("/repo/.grove/runs/20231114-221320-k3f9/results.json"),
        results_error: None,
        total: succeeded + failed,
        succeeded,
        failed,
        timed_out: 0,
        cancelled: 0,
        skipped: 0,
        elapsed: Duration::from_secs(83),
        interrupted,
        success: failed == 0 && !interrupted,
    }
}

/// An app with its panes, playing the engine's part for resizes.
struct Dash {
    app: App,
    panes: HashMap<String, Arc<Pane>>,
    names: Vec<String>,
    width: u16,
    height: u16,
}

impl Dash {
    fn new(width: u16, height: u16) -> Dash {
        Dash::with_info(info(Path::new("/repo"), "0123456789abcdef"), width, height)
    }

    fn with_info(info: RunInfo, width: u16, height: u16) -> Dash {
        Dash::with_options(info, DashboardOptions::default(), width, height)
    }

    fn with_options(info: RunInfo, opts: DashboardOptions, width: u16, height: u16) -> Dash {
        let mut app = App::new(info, opts);
        app.set_size(width, height);
        Dash {
            app,
            panes: HashMap::new(),
            names: Vec::new(),
            width,
            height,
        }
    }

    fn add(&mut self, view: TaskView) -> Arc<Pane> {
        let pane = Arc::new(Pane::new(24, 80, DEFAULT_SCROLLBACK));
        self.panes.insert(view.name.clone(), pane.clone());
        self.names.push(view.name.clone());
        self.app.apply_event(Event::TaskAdded {
            view,
            pane: pane.clone(),
        });
        self.resize_panes();
        pane
    }

    /// What the engine does with `Command::Resize`: resizes the pane. Returns the commands.
    fn resize_panes(&mut self) -> Vec<(String, u16, u16)> {
        let mut sizes = Vec::new();
        for command in self.app.pane_resizes() {
            let Command::Resize { task, rows, cols } = command else {
                panic!("pane_resizes gave {command:?}");
            };
            let name = self.names[task.index()].clone();
            self.panes[&name].resize(rows, cols);
            sizes.push((name, rows, cols));
        }
        sizes
    }

    /// Output arrives on the pane and the engine announces it.
    fn output(&mut self, name: &str, bytes: &[u8]) {
        let pane = &self.panes[name];
        if pane.feed(bytes, &mut std::io::sink()) {
            let index = self.index(name);
            self.app.apply_event(Event::Output {
                task: TaskId(index),
            });
        }
    }

    fn index(&self, name: &str) -> usize {
        self.names.iter().position(|n| n == name).unwrap()
    }

    fn key(&mut self, code: KeyCode) -> Vec<Action> {
        self.key_with(code, KeyModifiers::NONE)
    }

    fn key_with(&mut self, code: KeyCode, modifiers: KeyModifiers) -> Vec<Action> {
        let actions = self.app.handle_key(KeyEvent::new(code, modifiers));
        self.resize_panes();
        actions
    }

    fn draw(&mut self) -> Terminal<TestBackend> {
        self.resize_panes();
        self.app.prepare_frame(now());
        let mut terminal = Terminal::new(TestBackend::new(self.width, self.height)).unwrap();
        terminal.draw(|frame| draw(&self.app, frame)).unwrap();
        terminal
    }

    fn text(&mut self) -> String {
        buffer_text(self.draw().backend().buffer())
    }

    /// The screen drawn `secs` into the run.
    fn text_at(&mut self, secs: u64) -> String {
        self.resize_panes();
        self.app.prepare_frame(at(secs));
        let mut terminal = Terminal::new(TestBackend::new(self.width, self.height)).unwrap();
        terminal.draw(|frame| draw(&self.app, frame)).unwrap();
        buffer_text(terminal.backend().buffer())
    }

    fn change(&mut self, view: TaskView) {
        self.app.apply_event(Event::TaskChanged(view));
    }
}

fn buffer_text(buffer: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// Position of the first cell of `needle` on screen.
fn find(buffer: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let first = needle.chars().next()?;
    for y in 0..buffer.area.height {
        let row: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        if let Some(byte) = row.find(needle) {
            let x = row[..byte].chars().count() as u16;
            if buffer[(x, y)].symbol().starts_with(first) {
                return Some((x, y));
            }
        }
    }
    None
}

fn stat() -> DiffStat {
    let file = |path: &str, insertions, deletions| FileStat {
        path: path.into(),
        insertions,
        deletions,
    };
    DiffStat {
        files: vec![file("README.md", 10, 1), file("src/lib.rs", 2, 2)],
        insertions: 12,
        deletions: 3,
    }
}

fn attempt(n: u32, status: TaskStatus, exit_code: Option<i32>) -> AttemptView {
    AttemptView {
        n,
        status,
        exit_code,
        started_at: at(10),
        duration: Some(Duration::from_millis(2300)),
        log: PathBuf::from(format!("/repo/.grove/runs/r/flaky/attempt-{n}.log")),
        error: (status != TaskStatus::Succeeded)
            .then(|| format!("agent exited with code {}", exit_code.unwrap_or(-1))),
        check: None,
        follow_up: None,
    }
}

/// Five tasks in every kind of state; the running one printed colors and a progress bar.
fn scene() -> Dash {
    scene_with(DashboardOptions::default())
}

fn scene_with(opts: DashboardOptions) -> Dash {
    let info = info(Path::new("/repo"), "0123456789abcdef");
    let mut d = Dash::with_options(info, opts, 120, 34);
    d.add(view(0, "parser", TaskStatus::Running));
    let mut docs = view(1, "docs", TaskStatus::Succeeded);
    docs.diff_stat = Some(stat());
    docs.merge = MergeState::Merged;
    docs.head_commit = Some("89abcdef0123456789abcdef0123456789abcdef".into());
    d.add(docs);
    let mut flaky = view(2, "flaky", TaskStatus::Failed);
    flaky.attempts = vec![attempt(1, TaskStatus::Failed, Some(1))];
    flaky.error = Some("agent exited with code 1".into());
    d.add(flaky);
    let mut waiting = view(3, "retry-me", TaskStatus::Retrying);
    waiting.retry_at = Some(now() + Duration::from_millis(3200));
    d.add(waiting);
    d.add(view(4, "later", TaskStatus::Pending));
    d.output(
        "parser",
        b"\x1b[1;32mcompiling\x1b[0m parser\r\n\x1b[31merror\x1b[0m: none\r\n\
          [##        ] 20%\r[######    ] 60%\r[##########] 100%\r\n\
          \x1b[6;3Hmoved here",
    );
    d.output("docs", b"wrote README.md\r\ndone\r\n");
    d.output("flaky", b"marker missing\r\n");
    d
}

/// The one load a key asked for.
fn only_load(actions: &[Action]) -> Load {
    match actions {
        [Action::Load(load)] => load.clone(),
        _ => panic!("expected one load, got {:?}", sent(actions)),
    }
}

fn ctrl(c: char) -> (KeyCode, KeyModifiers) {
    (KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn sent(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            Action::Send(c) => format!("{c:?}"),
            Action::Load(l) => format!("load {l:?}"),
        })
        .collect()
}

fn mouse(kind: MouseEventKind, column: u16, row: u16) -> MouseEvent {
    MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    }
}

mod detach;
mod ending;
mod input;
mod layout;
mod views;
