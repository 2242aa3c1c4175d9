//! The dashboard without a terminal: App state built from engine events, panes fed real escape
//! sequences, drawn into ratatui's TestBackend; keys checked for the commands and modes they give.

use std::collections::HashMap;
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

#[path = "support/dash.rs"]
mod dash;

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
        let mut app = App::new(info, DashboardOptions::default());
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
    }
}

/// Five tasks in every kind of state; the running one printed colors and a progress bar.
fn scene() -> Dash {
    let mut d = Dash::new(120, 34);
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

#[test]
fn list_and_grid_show_every_state() {
    let mut d = scene();
    let terminal = d.draw();
    let buffer = terminal.backend().buffer().clone();
    insta::assert_snapshot!("grid", terminal.backend());
    let text = buffer_text(&buffer);
    for expected in [
        "retrying in 4s",
        "+12 −3, 2 files",
        "merged",
        "1/3",
        "running",
        "succeeded",
        "failed",
        "pending",
        "[##########] 100%",
        "moved here",
        "run 20231114-221320-k3f9",
        "1m35s",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from\n{text}");
    }
    // The progress bar was redrawn in place with \r: only its last state is on screen.
    assert!(!text.contains("60%"));
    // Colors come through the terminal emulator.
    let (x, y) = find(&buffer, "compiling").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Indexed(2));
    let (x, y) = find(&buffer, "error: none").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Indexed(1));
    // The cursor move put the text at row 6, column 3 of the pane.
    let parser = d.app.layout().slot(0).unwrap().inner();
    assert_eq!(
        find(&buffer, "moved here"),
        Some((parser.x + 2, parser.y + 5))
    );
}

#[test]
fn zoom_gives_the_selected_pane_the_screen_and_resizes_it() {
    let mut d = scene();
    d.draw();
    d.key(KeyCode::Char('j'));
    let actions = d.key(KeyCode::Enter);
    assert!(actions.is_empty());
    assert!(d.app.zoomed());
    let terminal = d.draw();
    insta::assert_snapshot!("zoom", terminal.backend());
    assert_eq!(d.panes["docs"].with_screen(|s| s.size()), Some((30, 118)));
    // Panes hidden by the zoom keep their last size.
    let grid_size = d.panes["parser"].with_screen(|s| s.size());
    assert_ne!(grid_size, Some((30, 118)));
    d.key(KeyCode::Char('z'));
    assert!(!d.app.zoomed());
    assert_eq!(d.panes["parser"].with_screen(|s| s.size()), grid_size);
    // Zoom again with Esc to leave it.
    d.key(KeyCode::Char('z'));
    d.key(KeyCode::Esc);
    assert!(!d.app.zoomed());
}

#[test]
fn resizes_are_sent_once_per_size_and_only_for_shown_panes() {
    let mut d = Dash::new(80, 24);
    let names: Vec<String> = (0..12).map(|i| format!("t{i:02}")).collect();
    for (i, name) in names.iter().enumerate() {
        d.add(view(i, name, TaskStatus::Running));
    }
    let shown = d.app.layout().panes.len();
    assert!(shown < 12, "an 80x24 screen cannot show 12 legible panes");
    // Adding tasks already resized the shown ones; nothing is left to send.
    assert!(d.resize_panes().is_empty());
    for name in &names[shown..] {
        assert_eq!(d.panes[name].with_screen(|s| s.size()), Some((24, 80)));
    }
    // Output on a pane that is not shown does not ask for a redraw.
    let hidden = shown;
    assert!(!d.app.apply_event(Event::Output {
        task: TaskId(hidden)
    }));
    assert!(d.app.apply_event(Event::Output { task: TaskId(0) }));
    // Selecting a task on the next page shows and sizes its page.
    for _ in 0..shown {
        d.key(KeyCode::Char('j'));
    }
    assert_eq!(d.app.selected(), shown);
    assert!(d.app.layout().slot(shown).is_some());
    assert_ne!(
        d.panes[&names[shown]].with_screen(|s| s.size()),
        Some((24, 80))
    );
    // A terminal resize sizes the shown panes again.
    d.app.set_size(100, 30);
    let sizes = d.resize_panes();
    assert_eq!(sizes.len(), d.app.layout().panes.len());
}

#[test]
fn only_panes_that_changed_are_read_again() {
    let mut d = scene();
    d.draw();
    // Output the engine has not announced yet is not read: the cached render stays.
    d.panes["docs"].feed(b"quietly added\r\n", &mut std::io::sink());
    assert!(!d.text().contains("quietly added"));
    d.app.apply_event(Event::Output { task: TaskId(1) });
    assert!(d.text().contains("quietly added"));
    // Drawing took the change, so the engine will announce the next output.
    assert!(!d.panes["docs"].take_changed());
}

#[test]
fn help_lists_every_key() {
    let mut d = scene();
    d.key(KeyCode::Char('?'));
    assert!(matches!(d.app.mode(), Mode::Help { .. }));
    let terminal = d.draw();
    insta::assert_snapshot!("help", terminal.backend());
    // Page by page to its end, which the bottom edge announces until it is reached.
    let mut text = buffer_text(terminal.backend().buffer());
    assert!(text.contains("↓ more"), "{text}");
    while !text.contains(" end ") {
        d.key(KeyCode::PageDown);
        let page = buffer_text(d.draw().backend().buffer());
        assert!(page.contains(" end ") || page.contains("↓ more"), "{page}");
        text.push_str(&page);
    }
    for key in [
        "j / ↓",
        "Enter / z",
        "Tab",
        "Ctrl-]",
        "Ctrl-Z",
        "PgUp / PgDn",
        "Home / End",
    ] {
        assert!(text.contains(key), "{key} missing");
    }
    for key in ["i  ", "c  ", "r  ", "m  ", "d  ", "l  ", "q / Ctrl-C"] {
        assert!(text.contains(&format!("  {key}")), "{key} missing");
    }
    // q closes the help, as Esc does; it does not quit.
    d.key(KeyCode::Char('q'));
    assert!(matches!(d.app.mode(), Mode::Normal));
    assert!(d.app.exit_code().is_none());
}

#[test]
fn views_scroll_within_their_content() {
    let mut d = scene();
    d.height = 16;
    d.app.set_size(120, 16);
    d.key(KeyCode::Char('?'));
    d.key(KeyCode::Char('G'));
    let Mode::Help { scroll: bottom } = *d.app.mode() else {
        panic!("not in help");
    };
    assert!(bottom > 0);
    d.key(KeyCode::Char('j'));
    assert!(matches!(*d.app.mode(), Mode::Help { scroll } if scroll == bottom));
    d.key(KeyCode::Char('k'));
    assert!(matches!(*d.app.mode(), Mode::Help { scroll } if scroll == bottom - 1));
    d.key(KeyCode::Home);
    assert!(matches!(*d.app.mode(), Mode::Help { scroll: 0 }));
    d.app.handle_mouse(mouse(MouseEventKind::ScrollDown, 50, 5));
    assert!(matches!(*d.app.mode(), Mode::Help { scroll: 3 }));
}

fn commit_files(
    repo: &git2::Repository,
    files: &[(&str, &str)],
    parent: Option<git2::Oid>,
) -> git2::Oid {
    let root = repo.workdir().unwrap().to_path_buf();
    let mut index = repo.index().unwrap();
    for (path, text) in files {
        std::fs::write(root.join(path), text).unwrap();
        index.add_path(Path::new(path)).unwrap();
    }
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::new(
        "grove test",
        "t@grove.invalid",
        &git2::Time::new(1_700_000_000, 0),
    )
    .unwrap();
    let parents: Vec<git2::Commit> = parent
        .map(|p| repo.find_commit(p).unwrap())
        .into_iter()
        .collect();
    let parents: Vec<&git2::Commit> = parents.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, "change", &tree, &parents)
        .unwrap()
}

#[test]
fn diff_view_shows_the_patch_from_git_colored() {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    let base = commit_files(&repo, &[("a.txt", "one\ntwo\nthree\n")], None);
    let head = commit_files(
        &repo,
        &[("a.txt", "one\n2\nthree\nfour\n"), ("b.txt", "new file\n")],
        Some(base),
    );
    let mut d = Dash::with_info(info(dir.path(), &base.to_string()), 100, 30);
    let mut task = view(0, "edit", TaskStatus::Succeeded);
    task.head_commit = Some(head.to_string());
    d.add(task);

    let actions = d.key(KeyCode::Char('d'));
    let load = only_load(&actions);
    assert_eq!(
        load,
        Load::Diff {
            repo_root: dir.path().to_path_buf(),
            from: base.to_string(),
            to: DiffTo::Commit(head.to_string()),
        }
    );
    assert!(d.text().contains("loading…"));
    d.app.loaded(load.run());
    let terminal = d.draw();
    insta::assert_snapshot!("diff", terminal.backend());
    let buffer = terminal.backend().buffer();
    let text = buffer_text(buffer);
    assert!(text.contains("+2    −1    a.txt"), "{text}");
    assert!(text.contains("+1    −0    b.txt"), "{text}");
    let (x, y) = find(buffer, "+four").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Green);
    let (x, y) = find(buffer, "-two").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    d.key(KeyCode::Esc);
    assert!(matches!(d.app.mode(), Mode::Normal));
}

#[test]
fn diff_of_a_running_task_is_its_worktree_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    let base = commit_files(&repo, &[("a.txt", "one\n")], None);
    // The agent's work so far: an edit not committed and a new file.
    std::fs::write(dir.path().join("a.txt"), "one\nedited\n").unwrap();
    std::fs::write(dir.path().join("new.txt"), "brand new\n").unwrap();
    let mut d = Dash::with_info(info(dir.path(), &base.to_string()), 100, 30);
    let mut task = view(0, "edit", TaskStatus::Running);
    task.worktree = dir.path().to_path_buf();
    d.add(task);

    let actions = d.key(KeyCode::Char('d'));
    let load = only_load(&actions);
    assert_eq!(
        load,
        Load::Diff {
            repo_root: dir.path().to_path_buf(),
            from: base.to_string(),
            to: DiffTo::Worktree(dir.path().to_path_buf()),
        }
    );
    d.app.loaded(load.run());
    let text = d.text();
    assert!(text.contains("diff edit: main..worktree"), "{text}");
    assert!(text.contains("its worktree's changes so far"), "{text}");
    assert!(
        text.contains("+edited") && text.contains("+brand new"),
        "{text}"
    );
    // r reads the worktree again.
    std::fs::write(dir.path().join("later.txt"), "written later\n").unwrap();
    let again = only_load(&d.key(KeyCode::Char('r')));
    d.app.loaded(again.run());
    assert!(d.text().contains("+written later"), "{}", d.text());
}

#[test]
fn a_conflicted_task_s_diff_says_what_to_do_next() {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    let base = commit_files(&repo, &[("a.txt", "one\n")], None);
    let head = commit_files(&repo, &[("a.txt", "two\n")], Some(base));
    let mut d = Dash::with_info(info(dir.path(), &base.to_string()), 100, 30);
    let mut task = view(0, "edit", TaskStatus::Succeeded);
    task.head_commit = Some(head.to_string());
    task.merge = MergeState::Conflict;
    task.merge_conflicts = vec!["a.txt".into()];
    d.add(task);
    let load = only_load(&d.key(KeyCode::Char('d')));
    d.app.loaded(load.run());
    let text = d.text();
    assert!(
        text.contains("conflicts in a.txt: nothing was merged. Next:"),
        "{text}"
    );
    assert!(
        text.contains("then: grove merge 20231114-221320-k3f9 edit"),
        "{text}"
    );
    assert!(text.contains("or have an agent do it"), "{text}");
}

#[test]
fn a_task_that_ended_without_a_commit_has_no_diff() {
    let mut d = scene();
    d.key(KeyCode::Char('j'));
    d.key(KeyCode::Char('j'));
    let actions = d.key(KeyCode::Char('d'));
    assert!(actions.is_empty());
    assert!(matches!(d.app.mode(), Mode::Normal));
    assert!(
        d.text().contains("flaky left no commit to compare"),
        "{}",
        d.text()
    );
}

#[test]
fn details_show_attempts_provenance_paths_and_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let envelope = dir.path().join("envelope.json");
    std::fs::write(
        &envelope,
        "{\n  \"task\": \"flaky\",\n  \"attempt\": 2\n}\n",
    )
    .unwrap();
    let mut d = Dash::new(110, 44);
    let mut task = view(0, "flaky", TaskStatus::Failed);
    task.attempt = 2;
    task.attempts = vec![
        attempt(1, TaskStatus::Failed, Some(1)),
        attempt(2, TaskStatus::TimedOut, None),
    ];
    task.envelope_path = envelope.clone();
    task.input_hash = Some("sha256:1f2e3d".into());
    task.output_hash = Some("sha256:4c5b6a".into());
    task.head_commit = Some("fedcba9876543210".into());
    d.add(task);

    let actions = d.key(KeyCode::Char('l'));
    let load = only_load(&actions);
    d.app.loaded(load.run());
    let text = d.text();
    let tmp = dir.path().display().to_string();
    insta::assert_snapshot!("details", text.replace(&tmp, "<tmp>"));
    for expected in [
        "Do the flaky work.",
        "#1",
        "exit 1",
        "2.3s",
        "attempt-2.log",
        "timed out",
        "sha256:1f2e3d",
        "sha256:4c5b6a",
        "grove/20231114-221320-k3f9/flaky",
        "/repo/.grove/worktrees/flaky",
        "\"attempt\": 2",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from\n{text}");
    }
}

/// The text rows inside the open view's border.
fn overlay_rows(d: &mut Dash) -> Vec<String> {
    let terminal = d.draw();
    let buffer = terminal.backend().buffer();
    let inner = d
        .app
        .layout()
        .overlay
        .inner(ratatui::layout::Margin::new(1, 1));
    (inner.y..inner.bottom())
        .map(|y| {
            let row: String = (inner.x..inner.right())
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect();
            row.trim_end().to_string()
        })
        .collect()
}

#[test]
fn details_scroll_through_the_facts_into_the_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let envelope = dir.path().join("envelope.json");
    let text: String = (0..40).map(|i| format!("envelope line {i}\n")).collect();
    std::fs::write(&envelope, text).unwrap();
    let mut d = Dash::new(110, 200);
    let mut task = view(0, "flaky", TaskStatus::Failed);
    task.envelope_path = envelope;
    d.add(task);
    let load = only_load(&d.key(KeyCode::Char('l')));
    d.app.loaded(load.run());
    // Everything, on a terminal tall enough for it.
    let all = overlay_rows(&mut d);
    let len = all.iter().rposition(|r| !r.is_empty()).unwrap() + 1;
    assert_eq!(all[len - 1], "  envelope line 39");
    // A short terminal shows, at every scroll position, the same lines in the same order.
    d.height = 16;
    d.app.set_size(110, 16);
    let mut positions = 0;
    loop {
        let Mode::Details { scroll, .. } = *d.app.mode() else {
            panic!("not in details");
        };
        let rows = overlay_rows(&mut d);
        assert_eq!(rows, all[scroll..scroll + rows.len()], "at line {scroll}");
        positions += 1;
        d.key(KeyCode::Char('j'));
        if matches!(*d.app.mode(), Mode::Details { scroll: next, .. } if next == scroll) {
            assert_eq!(scroll + rows.len(), len);
            break;
        }
    }
    assert!(positions > 40);
}

#[test]
fn details_say_when_the_envelope_cannot_be_read() {
    let mut d = scene();
    let actions = d.key(KeyCode::Char('l'));
    let load = only_load(&actions);
    d.app.loaded(load.run());
    assert!(d
        .text()
        .contains("cannot read /repo/.grove/runs/r/parser/envelope.json"));
}

#[test]
fn summary_stays_until_q_and_quits_with_the_run_exit_code() {
    let mut d = scene();
    for (index, name) in [(0, "parser"), (3, "retry-me"), (4, "later")] {
        d.app
            .apply_event(Event::TaskChanged(view(index, name, TaskStatus::Succeeded)));
    }
    d.app.apply_event(Event::RunFinished(summary(4, 1, false)));
    assert!(matches!(d.app.mode(), Mode::Summary));
    assert_eq!(d.app.exit_code(), None);
    assert!(!d.app.needs_clock());
    let terminal = d.draw();
    insta::assert_snapshot!("summary", terminal.backend());
    let text = buffer_text(terminal.backend().buffer());
    assert!(text.contains("4 of 5 tasks succeeded (80%)"));
    assert!(text.contains("total time 1m23s"));
    assert!(text.contains("✓ 4 succeeded   ✗ 1 failed"));
    assert!(!text.contains("cancelled"));
    assert!(text.contains("results /repo/.grove/runs/20231114-221320-k3f9/results.json"));
    // Esc browses the finished run; q closes without asking.
    d.key(KeyCode::Esc);
    assert!(matches!(d.app.mode(), Mode::Normal));
    assert!(d.key(KeyCode::Char('q')).is_empty());
    assert_eq!(d.app.exit_code(), Some(1));
}

/// The color of the summary box's border.
fn summary_color(d: &mut Dash) -> Color {
    let terminal = d.draw();
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "run finished").unwrap();
    assert_eq!(buffer[(x - 2, y)].symbol(), "┌");
    buffer[(x - 2, y)].fg
}

#[test]
fn a_results_json_that_cannot_be_written_is_said_not_named() {
    let mut d = scene();
    let text = "cannot write /repo/.grove/runs/r/results.json: No space left on device".to_string();
    d.app.apply_event(Event::RecordWrite {
        text: text.clone(),
        failed: true,
    });
    assert_eq!(d.app.flash().unwrap().text, text);
    assert!(d.app.flash().unwrap().error);
    d.app.apply_event(Event::RunFinished(RunSummary {
        results_error: Some("No space left on device".into()),
        ..summary(4, 0, false)
    }));
    let shown = d.text();
    assert!(
        shown.contains("results NOT written (No space left on device)"),
        "{shown}"
    );
    assert!(!shown.contains("results /repo"), "{shown}");
}

#[test]
fn the_summary_is_green_when_the_run_succeeded_whatever_the_counts() {
    let mut d = scene();
    d.app.apply_event(Event::RunFinished(summary(4, 1, false)));
    assert_eq!(summary_color(&mut d), Color::Red);
    // Under `fallback` one success makes the run a success (exit code 0).
    let mut d = scene();
    d.app.apply_event(Event::RunFinished(RunSummary {
        success: true,
        ..summary(1, 2, false)
    }));
    assert!(d.text().contains("1 of 3 tasks succeeded"));
    assert_eq!(summary_color(&mut d), Color::Green);
    d.key(KeyCode::Char('q'));
    assert_eq!(d.app.exit_code(), Some(0));
}

#[test]
fn a_retry_after_the_end_reopens_the_run() {
    let mut d = scene();
    d.app.apply_event(Event::RunFinished(summary(3, 1, false)));
    d.key(KeyCode::Char('j'));
    d.key(KeyCode::Char('j'));
    let actions = d.key(KeyCode::Char('r'));
    assert_eq!(
        sent(&actions),
        vec![format!("Retry {{ task: {:?} }}", TaskId(d.index("flaky")))]
    );
    d.app
        .apply_event(Event::TaskChanged(view(2, "flaky", TaskStatus::Running)));
    assert!(matches!(d.app.mode(), Mode::Normal));
    assert!(d.app.needs_clock());
}

#[test]
fn exit_when_done_quits_by_itself() {
    let mut app = App::new(
        info(Path::new("/repo"), "0123"),
        DashboardOptions {
            exit_when_done: true,
            ..Default::default()
        },
    );
    app.apply_event(Event::RunFinished(summary(2, 0, false)));
    assert_eq!(app.exit_code(), Some(0));
}

#[test]
fn an_interrupted_run_closes_at_once() {
    let mut d = scene();
    d.app.apply_event(Event::RunFinished(summary(1, 0, true)));
    assert_eq!(d.app.exit_code(), Some(130));
}

#[test]
fn cancel_asks_first() {
    let mut d = scene();
    assert!(d.key(KeyCode::Char('c')).is_empty());
    assert!(matches!(d.app.mode(), Mode::Confirm(Confirm::Cancel { task }) if task == "parser"));
    insta::assert_snapshot!("confirm_cancel", d.draw().backend());
    assert!(d.key(KeyCode::Char('n')).is_empty());
    assert!(matches!(d.app.mode(), Mode::Normal));
    d.key(KeyCode::Char('c'));
    let actions = d.key(KeyCode::Char('y'));
    assert_eq!(
        sent(&actions),
        vec![format!(
            "Cancel {{ task: {:?} }}",
            TaskId(d.index("parser"))
        )]
    );
    assert!(matches!(d.app.mode(), Mode::Normal));
    // A task that has ended cannot be cancelled; no question is asked.
    d.key(KeyCode::Char('j'));
    assert!(d.key(KeyCode::Char('c')).is_empty());
    assert!(matches!(d.app.mode(), Mode::Normal));
    assert!(d.text().contains("docs has already ended (succeeded)"));
    // Pending and retrying tasks can be cancelled.
    d.key(KeyCode::Char('j'));
    d.key(KeyCode::Char('j'));
    d.key(KeyCode::Char('c'));
    assert!(matches!(d.app.mode(), Mode::Confirm(Confirm::Cancel { task }) if task == "retry-me"));
}

#[test]
fn quit_asks_while_agents_run_then_stops_them_and_waits_for_the_results() {
    let mut d = scene();
    assert!(d.key(KeyCode::Char('q')).is_empty());
    assert!(matches!(
        d.app.mode(),
        Mode::Confirm(Confirm::Quit { active: 3 })
    ));
    insta::assert_snapshot!("confirm_quit", d.draw().backend());
    d.key(KeyCode::Esc);
    assert!(matches!(d.app.mode(), Mode::Normal));
    let (code, modifiers) = ctrl('c');
    d.key_with(code, modifiers);
    let actions = d.key(KeyCode::Char('y'));
    assert_eq!(sent(&actions), vec!["Shutdown"]);
    assert!(matches!(d.app.mode(), Mode::Stopping { .. }));
    assert!(d.key(KeyCode::Char('q')).is_empty());
    assert_eq!(d.app.exit_code(), None);
    // The grace period counts down on screen; a second Ctrl-C kills at once, as headless does.
    let text = d.text();
    assert!(
        text.contains("stopping the agents: SIGKILL in 5s · Ctrl-C kills them now"),
        "{text}"
    );
    let (code, modifiers) = ctrl('c');
    assert_eq!(sent(&d.key_with(code, modifiers)), vec!["KillNow"]);
    assert!(d.text().contains("killing the agents now"), "{}", d.text());
    d.app.apply_event(Event::RunFinished(summary(1, 3, true)));
    assert_eq!(d.app.exit_code(), Some(130));
}

#[test]
fn quit_without_running_agents_does_not_ask() {
    let mut d = Dash::new(80, 24);
    d.add(view(0, "done", TaskStatus::Succeeded));
    let actions = d.key(KeyCode::Char('q'));
    assert_eq!(sent(&actions), vec!["Shutdown"]);
    assert!(matches!(d.app.mode(), Mode::Stopping { .. }));
}

#[test]
fn attach_sends_keys_to_the_agent_until_ctrl_bracket() {
    let mut d = scene();
    d.panes["parser"].scroll_by(1);
    assert!(d.key(KeyCode::Char('i')).is_empty());
    assert!(matches!(d.app.mode(), Mode::Attach));
    let terminal = d.draw();
    insta::assert_snapshot!("attach", terminal.backend());
    let text = buffer_text(terminal.backend().buffer());
    assert!(text.contains("ATTACHED"));
    assert!(text.contains("Ctrl-] detaches"));
    // Keys that mean something to grove are typed into the agent instead.
    assert_eq!(
        sent(&d.key(KeyCode::Char('q'))),
        vec![format!(
            "Input {{ task: {:?}, bytes: [113] }}",
            TaskId(d.index("parser"))
        )]
    );
    let (code, modifiers) = ctrl('c');
    assert_eq!(
        sent(&d.key_with(code, modifiers)),
        vec![format!(
            "Input {{ task: {:?}, bytes: [3] }}",
            TaskId(d.index("parser"))
        )]
    );
    assert_eq!(
        sent(&d.key(KeyCode::Enter)),
        vec![format!(
            "Input {{ task: {:?}, bytes: [13] }}",
            TaskId(d.index("parser"))
        )]
    );
    let pasted = d.app.handle_paste("two words");
    assert_eq!(
        sent(&pasted),
        vec![format!(
            "Input {{ task: {:?}, bytes: {:?} }}",
            TaskId(d.index("parser")),
            b"two words"
        )]
    );
    let (code, modifiers) = ctrl(']');
    assert!(d.key_with(code, modifiers).is_empty());
    assert!(matches!(d.app.mode(), Mode::Normal));
    assert!(!d.text().contains("ATTACHED"));
}

#[test]
fn attach_is_only_for_a_running_agent() {
    let mut d = scene();
    d.key(KeyCode::Char('j'));
    assert!(d.key(KeyCode::Char('i')).is_empty());
    assert!(matches!(d.app.mode(), Mode::Normal));
    assert!(d
        .text()
        .contains("docs is succeeded; only a running agent takes input"));
}

#[test]
fn selection_moves_with_j_k_tab_and_clicks() {
    let mut d = scene();
    d.key(KeyCode::Char('k'));
    assert_eq!(d.app.selected(), 0);
    d.key(KeyCode::Down);
    d.key(KeyCode::Char('j'));
    assert_eq!(d.app.selected(), 2);
    d.key(KeyCode::Up);
    assert_eq!(d.app.selected(), 1);
    for _ in 0..10 {
        d.key(KeyCode::Char('j'));
    }
    assert_eq!(d.app.selected(), 4);
    d.key(KeyCode::Tab);
    assert_eq!(d.app.selected(), 0);
    d.key(KeyCode::BackTab);
    assert_eq!(d.app.selected(), 4);
    // A click on the third list item (three lines each, under the border), then on a pane.
    assert!(d
        .app
        .handle_mouse(mouse(MouseEventKind::Down(MouseButton::Left), 4, 8)));
    assert_eq!(d.app.selected(), 2);
    // Moving the pointer (or clicking where there is no task) changes nothing: no redraw.
    assert!(!d.app.handle_mouse(mouse(MouseEventKind::Moved, 4, 14)));
    assert!(!d
        .app
        .handle_mouse(mouse(MouseEventKind::Up(MouseButton::Left), 4, 8)));
    assert!(!d
        .app
        .handle_mouse(mouse(MouseEventKind::Down(MouseButton::Left), 0, 0)));
    assert_eq!(d.app.selected(), 2);
    let pane = d.app.layout().slot(1).unwrap().area;
    d.app.handle_mouse(mouse(
        MouseEventKind::Down(MouseButton::Left),
        pane.x + 3,
        pane.y + 3,
    ));
    assert_eq!(d.app.selected(), 1);
}

fn mouse(kind: MouseEventKind, column: u16, row: u16) -> MouseEvent {
    MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    }
}

#[test]
fn retry_and_merge_only_where_they_make_sense() {
    let mut d = scene();
    // parser is running: neither retry nor merge.
    assert!(d.key(KeyCode::Char('r')).is_empty());
    assert!(d.text().contains("parser is running; nothing to retry"));
    assert!(d.key(KeyCode::Char('m')).is_empty());
    assert!(d
        .text()
        .contains("only a succeeded task can be merged; parser is running"));
    // docs succeeded and is merged already.
    d.key(KeyCode::Char('j'));
    assert!(d.key(KeyCode::Char('m')).is_empty());
    assert!(d.text().contains("docs is already merged"));
    let mut docs = view(1, "docs", TaskStatus::Succeeded);
    docs.head_commit = Some("89abcdef".into());
    d.app.apply_event(Event::TaskChanged(docs));
    // m asks first, looking at what the merge would do; y merges.
    let asked = sent(&d.key(KeyCode::Char('m')));
    assert_eq!(asked.len(), 1);
    assert!(asked[0].starts_with("load MergePreview"), "{asked:?}");
    assert!(d.text().contains("Merge docs into main?"));
    assert_eq!(
        sent(&d.key(KeyCode::Char('y'))),
        vec![format!("Merge {{ task: {:?} }}", TaskId(d.index("docs")))]
    );
    assert!(d.text().contains("merging docs into main"));
    // flaky failed: retry works even with no retries left.
    d.key(KeyCode::Char('j'));
    assert_eq!(
        sent(&d.key(KeyCode::Char('r'))),
        vec![format!("Retry {{ task: {:?} }}", TaskId(d.index("flaky")))]
    );
}

#[test]
fn merge_outcomes_are_shown() {
    let mut d = scene();
    d.app.apply_event(Event::Merged {
        task: TaskId(d.index("docs")),
        outcome: MergeOutcome::Conflict {
            paths: vec!["src/a.rs".into(), "src/b.rs".into()],
        },
    });
    assert!(d.app.flash().unwrap().error);
    assert!(d
        .text()
        .contains("merge of docs conflicts in src/a.rs, src/b.rs"));
    d.app.apply_event(Event::Merged {
        task: TaskId(d.index("docs")),
        outcome: MergeOutcome::Refused {
            reason: "uncommitted changes in the main worktree".into(),
        },
    });
    assert!(d
        .text()
        .contains("merge of docs refused: uncommitted changes in the main worktree"));
    d.app.apply_event(Event::Merged {
        task: TaskId(d.index("docs")),
        outcome: MergeOutcome::Merged {
            commit: "0123456789abcdef".into(),
            fast_forward: true,
        },
    });
    assert!(!d.app.flash().unwrap().error);
    assert!(d
        .text()
        .contains("merged docs into main (fast-forward 0123456789)"));
}

#[test]
fn scrolled_pane_stays_put_under_new_output_until_end() {
    let mut d = scene();
    let lines: String = (0..200).map(|i| format!("line {i}\r\n")).collect();
    d.output("parser", lines.as_bytes());
    d.draw();
    d.key(KeyCode::PageUp);
    let offset = d.panes["parser"].scroll_offset();
    assert!(offset > 0);
    let inner = d.app.layout().slot(0).unwrap().inner();
    let top = |d: &mut Dash| {
        let buffer = d.draw().backend().buffer().clone();
        (0..inner.width)
            .map(|x| buffer[(inner.x + x, inner.y)].symbol().to_string())
            .collect::<String>()
    };
    let before = top(&mut d);
    assert!(d.text().contains(&format!("↑{offset} lines")));
    d.output("parser", b"more\r\nand more\r\n");
    assert_eq!(top(&mut d), before);
    d.key(KeyCode::End);
    assert_eq!(d.panes["parser"].scroll_offset(), 0);
    assert!(d.text().contains("and more"));
    // The wheel scrolls the pane under the pointer.
    d.output("docs", lines.as_bytes());
    let docs = d.app.layout().slot(1).unwrap().area;
    d.app
        .handle_mouse(mouse(MouseEventKind::ScrollUp, docs.x + 2, docs.y + 2));
    assert!(d.panes["docs"].scroll_offset() > 0);
    assert_eq!(d.panes["parser"].scroll_offset(), 0);
}

#[test]
fn tiny_terminals_draw_every_mode_without_panicking() {
    let modes: [&[KeyCode]; 6] = [
        &[],
        &[KeyCode::Char('?')],
        &[KeyCode::Char('l')],
        &[KeyCode::Char('c')],
        &[KeyCode::Char('z'), KeyCode::Char('i')],
        &[KeyCode::Char('q')],
    ];
    for (width, height) in [(1, 1), (10, 5), (30, 8), (45, 12)] {
        for keys in modes {
            let mut d = scene();
            d.width = width;
            d.height = height;
            d.app.set_size(width, height);
            for key in keys {
                d.key(*key);
            }
            d.draw();
        }
        let mut d = scene();
        d.width = width;
        d.height = height;
        d.app.set_size(width, height);
        d.app.apply_event(Event::RunFinished(summary(1, 1, false)));
        d.draw();
    }
}

#[test]
fn race_siblings_are_grouped_and_compared() {
    let mut d = Dash::new(140, 34);
    d.add(view(0, "lint", TaskStatus::Succeeded));
    let check = |passed: bool, exit_code: i32| grove::engine::api::CheckView {
        command: "cargo test".into(),
        exit_code: Some(exit_code),
        passed,
        duration: Duration::from_millis(1500),
    };
    let mut one = view(1, "job.1", TaskStatus::Failed);
    one.attempts = vec![AttemptView {
        check: Some(check(false, 101)),
        ..attempt(1, TaskStatus::Failed, Some(0))
    }];
    one.error = Some("check 'cargo test' failed: exit code 101".into());
    let mut two = view(2, "job.2", TaskStatus::Succeeded);
    two.attempts = vec![AttemptView {
        check: Some(check(true, 0)),
        ..attempt(1, TaskStatus::Succeeded, Some(0))
    }];
    two.diff_stat = Some(stat());
    two.usage = Some(grove::engine::api::Usage {
        cost_usd: 0.25,
        ..Default::default()
    });
    let three = view(3, "job.3", TaskStatus::Running);
    for mut v in [one, two, three] {
        v.group = Some("job".into());
        d.add(v);
    }
    let text = d.text();
    assert!(text.contains("┌ job.1"), "{text}");
    assert!(text.contains("├ job.2"), "{text}");
    assert!(text.contains("└ job.3"), "{text}");
    assert!(!text.contains("┌ lint") && text.contains("lint"));

    // v on a task outside a race says so; on a sibling it compares the race.
    assert!(d.key(KeyCode::Char('v')).is_empty());
    assert!(d.text().contains("lint is not part of a race"));
    d.key(KeyCode::Char('j'));
    d.key(KeyCode::Char('v'));
    assert!(matches!(d.app.mode(), Mode::Compare { group, .. } if group == "job"));
    let text = d.text();
    assert!(text.contains(" race job "), "{text}");
    let row = |name: &str| {
        text.lines()
            .find(|l| {
                l.contains(&format!("  {name}  "))
                    && !l.contains("┌")
                    && !l.contains("├")
                    && !l.contains("└")
            })
            .unwrap_or_else(|| panic!("no row for {name}:\n{text}"))
            .to_string()
    };
    let r1 = row("job.1");
    assert!(
        r1.contains("failed") && r1.contains("failed (exit 101)"),
        "{r1}"
    );
    let r2 = row("job.2");
    assert!(r2.contains("succeeded") && r2.contains("$0.25"), "{r2}");
    assert!(r2.contains("+12 −3") && r2.contains("passed 1.5s"), "{r2}");
    let r3 = row("job.3");
    assert!(r3.contains("running"), "{r3}");
    assert!(text.contains("check 'cargo test' failed: exit code 101"));
    d.key(KeyCode::Esc);
    assert!(matches!(d.app.mode(), Mode::Normal));

    // A discarded sibling cannot be merged.
    let mut discarded = view(1, "job.1", TaskStatus::Succeeded);
    discarded.group = Some("job".into());
    discarded.merge = MergeState::Discarded;
    d.app.apply_event(Event::TaskChanged(discarded));
    assert!(d.key(KeyCode::Char('m')).is_empty());
    assert!(d
        .text()
        .contains("job.1 was discarded: another sibling of job was picked"));
}

#[test]
fn ctrl_z_stops_the_agents_first_then_suspends_once() {
    let mut d = scene();
    let (code, modifiers) = ctrl('z');
    let actions = d.key_with(code, modifiers);
    assert_eq!(sent(&actions), vec!["Pause"]);
    assert!(!d.app.zoomed(), "Ctrl-Z is not z");
    assert!(!d.app.take_suspend(), "not before the agents are stopped");
    d.app.apply_event(Event::Paused(true));
    assert!(d.app.take_suspend());
    assert!(!d.app.take_suspend());
    d.app.apply_event(Event::Paused(false));
    assert_eq!(d.app.flash().unwrap().text, "agents continued");
}

#[test]
fn messages_expire_and_pending_tasks_say_what_they_wait_for() {
    let mut d = scene();
    // A message stays a while, then the keys come back without a key being pressed.
    d.key(KeyCode::Char('r'));
    assert!(d.text().contains("parser is running; nothing to retry"));
    d.app.prepare_frame(at(95 + 30));
    assert!(!d.text_at(95 + 30).contains("nothing to retry"));
    assert!(d.text_at(95 + 30).contains("? help"));

    let mut later = view(4, "later", TaskStatus::Pending);
    later.started_at = None;
    later.pending = Some("after parser".into());
    d.change(later);
    assert!(d.text().contains("pending: after parser"), "{}", d.text());
}

#[test]
fn details_show_a_removed_worktree_as_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Dash::new(110, 44);
    let mut task = view(0, "gone", TaskStatus::Succeeded);
    task.worktree = dir.path().join("no-such-worktree");
    d.add(task);
    let load = only_load(&d.key(KeyCode::Char('l')));
    d.app.loaded(load.run());
    let text = d.text();
    assert!(text.contains("no-such-worktree (removed)"), "{text}");
}

#[test]
fn the_run_clock_goes_on_from_the_run_s_time_after_a_retry_reopens_it() {
    let mut d = scene();
    let mut finished = summary(2, 3, false);
    finished.elapsed = Duration::from_secs(40);
    d.app.apply_event(Event::RunFinished(finished));
    assert!(d.text().contains("finished in 40s"), "{}", d.text());
    // Ten minutes of looking around later, a retry reopens the run: its clock goes on from 40s.
    d.app.prepare_frame(at(95 + 600));
    let mut retried = view(2, "flaky", TaskStatus::Running);
    retried.attempt = 2;
    d.change(retried);
    assert!(
        d.text_at(95 + 605).contains("│ 45s"),
        "{}",
        d.text_at(95 + 605)
    );
}
