//! The dashboard without a terminal, for tests of what agents look like on it: an App fed
//! engine events, real panes fed bytes, drawn into ratatui's TestBackend.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use grove::engine::api::{Command, Event, MergeState, RunInfo, TaskId, TaskStatus, TaskView};
use grove::term::pane::{Pane, DEFAULT_SCROLLBACK};
use grove::ui::{draw, App, DashboardOptions};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;

pub fn started() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// A task as the engine would announce it, running its first attempt.
pub fn view(index: usize, name: &str, agent: &str, status: TaskStatus) -> TaskView {
    TaskView {
        id: TaskId(index),
        name: name.into(),
        agent: agent.into(),
        prompt: format!("{name} the thing"),
        status,
        attempt: 1,
        max_attempts: 1,
        started_at: Some(started()),
        ended_at: status
            .is_final()
            .then(|| started() + Duration::from_secs(30)),
        retry_at: None,
        attempts: Vec::new(),
        error: None,
        branch: format!("grove/r/{name}"),
        worktree: PathBuf::from(format!("/repo/.grove/worktrees/r/{name}")),
        envelope_path: PathBuf::from(format!("/repo/.grove/runs/r/agents/{name}/envelope.json")),
        head_commit: None,
        diff_stat: None,
        merge: MergeState::NotRequested,
        merge_conflicts: Vec::new(),
        input_hash: None,
        output_hash: None,
        usage: None,
        waiting: None,
        group: None,
        sandbox: "worktree".into(),
        max_memory: None,
        held: None,
        follow_up: None,
        pending: None,
        timeout: Duration::from_secs(1800),
        kill_grace: Duration::from_secs(5),
        copied_keys: Vec::new(),
    }
}

pub struct Dash {
    pub app: App,
    pub panes: Vec<Arc<Pane>>,
    names: Vec<String>,
    terminal: Terminal<TestBackend>,
}

impl Dash {
    pub fn new(width: u16, height: u16) -> Dash {
        let info = RunInfo {
            run_id: "r".into(),
            plan_name: "p".into(),
            repo_root: PathBuf::from("/repo"),
            run_dir: PathBuf::from("/repo/.grove/runs/r"),
            results_path: PathBuf::from("/repo/.grove/runs/r/results.json"),
            base_commit: "0123456789abcdef".into(),
            base_label: "main".into(),
            base_branch: Some("main".into()),
            started_at: started(),
            agents: Vec::new(),
        };
        let mut app = App::new(info, DashboardOptions::default());
        app.set_size(width, height);
        Dash {
            app,
            panes: Vec::new(),
            names: Vec::new(),
            terminal: Terminal::new(TestBackend::new(width, height)).unwrap(),
        }
    }

    /// Announces a task; its pane gets the size the layout gives it, as the engine would do.
    pub fn add(&mut self, view: TaskView) {
        let pane = Arc::new(Pane::new(24, 80, DEFAULT_SCROLLBACK));
        self.panes.push(pane.clone());
        self.names.push(view.name.clone());
        self.app.apply_event(Event::TaskAdded { view, pane });
        for command in self.app.pane_resizes() {
            if let Command::Resize { task, rows, cols } = command {
                self.panes[task.index()].resize(rows, cols);
            }
        }
    }

    pub fn change(&mut self, view: TaskView) {
        self.app.apply_event(Event::TaskChanged(view));
    }

    pub fn output(&mut self, index: usize, bytes: &[u8]) {
        if self.panes[index].feed(bytes, &mut std::io::sink()) {
            self.app.apply_event(Event::Output {
                task: TaskId(index),
            });
        }
    }

    /// Draws a frame 95 s into the run; returns the screen.
    pub fn draw(&mut self) -> Buffer {
        self.app.prepare_frame(started() + Duration::from_secs(95));
        let app = &self.app;
        self.terminal.draw(|frame| draw(app, frame)).unwrap();
        self.terminal.backend().buffer().clone()
    }
}

/// The screen's rows as text.
pub fn rows(buf: &Buffer) -> Vec<String> {
    let area = buf.area;
    (0..area.height)
        .map(|y| {
            (0..area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect()
}

/// Where `text` is on the screen: (column, row) of its first character, for each place, top
/// to bottom and left to right.
pub fn find_all(buf: &Buffer, text: &str) -> Vec<(u16, u16)> {
    let mut found = Vec::new();
    for (y, row) in rows(buf).iter().enumerate() {
        for (byte, _) in row.match_indices(text) {
            let x = row[..byte].chars().count();
            found.push((x as u16, y as u16));
        }
    }
    found
}

/// The first place of `text` left of column `before_x` (in the list, for `before_x` its width).
pub fn find_left_of(buf: &Buffer, text: &str, before_x: u16) -> Option<(u16, u16)> {
    find_all(buf, text).into_iter().find(|(x, _)| *x < before_x)
}
