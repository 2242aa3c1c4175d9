//! A program in a real PTY, its screen read through a terminal emulator (vt100), driven by keys,
//! mouse, resizes and signals as a person (or their terminal) would. Every wait looks at the
//! emulated screen each time it changes, up to the tests' one `wait::DEADLINE`. Shared by the
//! dashboard's end-to-end tests.

use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use portable_pty::{native_pty_system, CommandBuilder, MasterPty, PtySize};

use super::repo::{Repo, GROVE};
use super::wait::{poll, DEADLINE};

pub const ROWS: u16 = 50;
pub const COLS: u16 = 200;

/// What brackets a race's siblings in the agent list.
pub const RACE_GLYPHS: [char; 3] = ['┌', '├', '└'];

/// What the program wrote: the emulated screen and every raw byte.
pub struct Output {
    pub parser: vt100::Parser,
    pub raw: Vec<u8>,
    pub closed: bool,
}

/// A program running in a real PTY, its output parsed by vt100 on a reader thread.
pub struct Tty {
    pub child: Box<dyn portable_pty::Child + Send + Sync>,
    pub master: Box<dyn MasterPty + Send>,
    pub writer: Box<dyn Write + Send>,
    pub out: Arc<(Mutex<Output>, Condvar)>,
}

impl Tty {
    /// `cmd` in a 200x50 terminal.
    pub fn spawn(cmd: CommandBuilder) -> Tty {
        Tty::spawn_sized(cmd, ROWS, COLS)
    }

    /// `cmd` in a terminal of `rows` x `cols`.
    pub fn spawn_sized(cmd: CommandBuilder, rows: u16, cols: u16) -> Tty {
        let (child, master) = start_in_pty(cmd, rows, cols);
        let mut reader = master.try_clone_reader().unwrap();
        let writer = master.take_writer().unwrap();
        let out = Arc::new((
            Mutex::new(Output {
                parser: vt100::Parser::new(rows, cols, 0),
                raw: Vec::new(),
                closed: false,
            }),
            Condvar::new(),
        ));
        let shared = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            loop {
                let n = reader.read(&mut buf).unwrap_or(0);
                let (lock, changed) = &*shared;
                let mut out = lock.lock().unwrap_or_else(|e| e.into_inner());
                if n == 0 {
                    out.closed = true;
                    changed.notify_all();
                    return;
                }
                out.parser.process(&buf[..n]);
                out.raw.extend_from_slice(&buf[..n]);
                changed.notify_all();
            }
        });
        Tty {
            child,
            master,
            writer,
            out,
        }
    }

    /// `grove run PLAN ARGS` in the repository (see `grove_run`).
    pub fn run(repo: &Repo, plan: &str, args: &[&str]) -> Tty {
        Tty::spawn(grove_run(repo, plan, args))
    }

    pub fn pid(&self) -> i32 {
        self.child.process_id().unwrap() as i32
    }

    /// `n`, then Esc once the new-task form shows: the screen's text with the form, once it
    /// has closed again.
    pub fn peek_new_task_form(&mut self) -> String {
        self.send(b"n");
        let form = self.wait_for("the new-task form", |s| {
            s.contains("┌ new task ").then(|| s.text())
        });
        self.send(b"\x1b");
        self.wait_for("the form closed", |s| {
            (!s.contains("┌ new task ")).then_some(())
        });
        form
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(self.pid(), signal) };
    }

    /// Resizes the terminal, as a terminal window does (the program gets SIGWINCH).
    pub fn resize(&mut self, rows: u16, cols: u16) {
        let (lock, _) = &*self.out;
        lock.lock()
            .unwrap()
            .parser
            .screen_mut()
            .set_size(rows, cols);
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
    }

    /// Looks at the screen, and again at each change, until `check` gives a value; fails with
    /// the screen after DEADLINE or once the program has ended.
    pub fn wait_for<T>(&self, what: &str, mut check: impl FnMut(&Screen) -> Option<T>) -> T {
        let deadline = Instant::now() + DEADLINE;
        let (lock, changed) = &*self.out;
        let mut out = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let screen = Screen::of(out.parser.screen());
            if let Some(found) = check(&screen) {
                return found;
            }
            let now = Instant::now();
            assert!(
                now < deadline && !out.closed,
                "waited in vain for {what}; the screen ({}):\n{}",
                if out.closed {
                    "program ended"
                } else {
                    "timeout"
                },
                screen.text()
            );
            out = changed.wait_timeout(out, deadline - now).unwrap().0;
        }
    }

    pub fn screen(&self) -> Screen {
        Screen::of(self.out.0.lock().unwrap().parser.screen())
    }

    /// Waits for the program to end (its side of the PTY closed) and returns its exit code.
    pub fn exit_code(&mut self) -> u32 {
        let deadline = Instant::now() + DEADLINE;
        let (lock, changed) = &*self.out;
        let mut out = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !out.closed {
            let now = Instant::now();
            assert!(
                now < deadline,
                "the program did not end; the screen:\n{}",
                Screen::of(out.parser.screen()).text()
            );
            out = changed.wait_timeout(out, deadline - now).unwrap().0;
        }
        drop(out);
        self.child.wait().unwrap().exit_code()
    }

    /// After the program ended: it left the alternate screen, showed the cursor, turned mouse
    /// reporting off and put the terminal back into cooked mode (line editing and echo).
    pub fn assert_restored(&self) {
        let out = self.out.0.lock().unwrap();
        let last = |seq: &[u8]| out.raw.windows(seq.len()).rposition(|w| w == seq);
        let entered = last(b"\x1b[?1049h").expect("the dashboard never used the alternate screen");
        let left = last(b"\x1b[?1049l").expect("the alternate screen was never left");
        assert!(
            left > entered,
            "the alternate screen was entered again after leaving it"
        );
        let hidden = last(b"\x1b[?25l").expect("the cursor was never hidden");
        let shown = last(b"\x1b[?25h").expect("the cursor was never shown again");
        assert!(
            shown > hidden,
            "the cursor was hidden again after being shown"
        );
        let screen = out.parser.screen();
        assert!(
            !screen.alternate_screen(),
            "the emulator is still on the alternate screen"
        );
        assert!(!screen.hide_cursor(), "the cursor is still hidden");
        assert_eq!(
            screen.mouse_protocol_mode(),
            vt100::MouseProtocolMode::None,
            "mouse reporting is still on"
        );
        let fd = self.master.as_raw_fd().unwrap();
        // SAFETY: tcgetattr fills a termios struct for a descriptor we own.
        let mut termios: libc::termios = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::tcgetattr(fd, &mut termios) }, 0);
        assert_ne!(
            termios.c_lflag & libc::ICANON,
            0,
            "the terminal is still raw"
        );
        assert_ne!(termios.c_lflag & libc::ECHO, 0, "echo is still off");
    }
}

/// `cmd` in a new `rows` x `cols` PTY as its session leader; the PTY's master side.
pub fn start_in_pty(
    mut cmd: CommandBuilder,
    rows: u16,
    cols: u16,
) -> (
    Box<dyn portable_pty::Child + Send + Sync>,
    Box<dyn MasterPty + Send>,
) {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    cmd.env("TERM", "xterm-256color");
    let child = pair.slave.spawn_command(cmd).unwrap();
    // Only the child holds the slave side, so closing the master hangs its terminal up.
    drop(pair.slave);
    (child, pair.master)
}

/// `grove run PLAN ARGS` in the repository with the test's clean HOME, the plan written to that
/// HOME (outside the repository, so its checkout stays clean).
pub fn grove_run(repo: &Repo, plan: &str, args: &[&str]) -> CommandBuilder {
    let path = repo.home.path().join("plan.toml");
    std::fs::write(&path, plan).unwrap();
    let mut cmd = grove_pty_cmd(repo, &["run"]);
    cmd.arg(&path);
    cmd.args(args);
    cmd
}

/// `grove ARGS` for a PTY, in the repository with the test's clean HOME.
pub fn grove_pty_cmd(repo: &Repo, args: &[&str]) -> CommandBuilder {
    let mut cmd = CommandBuilder::new(GROVE);
    cmd.args(args);
    cmd.cwd(repo.path());
    cmd.env("HOME", repo.home.path());
    cmd.env("XDG_CONFIG_HOME", repo.home.path());
    cmd.env("GIT_CONFIG_NOSYSTEM", "1");
    cmd
}

impl Drop for Tty {
    /// A failed test must not leave grove (or its agents) behind: SIGTERM makes grove stop its
    /// agents; SIGKILL only if it does not end.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(libc::SIGTERM);
            let ended = poll(|| matches!(self.child.try_wait(), Ok(Some(_))).then_some(()));
            if ended.is_some() {
                return;
            }
            let _ = self.child.kill();
        }
    }
}

/// The emulated screen as a grid of characters, one per column.
pub struct Screen {
    pub cells: Vec<Vec<char>>,
    pub selected_rows: Vec<bool>,
}

pub const TOP_LEFT: [char; 3] = ['┌', '┏', '╔'];
pub const TOP_RIGHT: [char; 3] = ['┐', '┓', '╗'];
pub const BOTTOM_LEFT: [char; 3] = ['└', '┗', '╚'];

/// Where a pane is on screen and what it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct PaneBox {
    pub title: String,
    /// Row and column of its top-left corner.
    pub top: usize,
    pub left: usize,
    /// Size inside the border: what the agent's terminal should be.
    pub rows: usize,
    pub cols: usize,
    pub lines: Vec<String>,
    pub corner: char,
}

impl PaneBox {
    /// How many lines back into its history the pane is scrolled, from its title ("↑N lines").
    pub fn scrolled_back(&self) -> usize {
        let Some((_, rest)) = self.title.split_once('↑') else {
            return 0;
        };
        rest.split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

impl Screen {
    pub fn of(screen: &vt100::Screen) -> Screen {
        let (rows, cols) = screen.size();
        let mut cells = Vec::with_capacity(usize::from(rows));
        let mut selected_rows = Vec::with_capacity(usize::from(rows));
        for r in 0..rows {
            let row: Vec<char> = (0..cols)
                .map(|c| {
                    screen
                        .cell(r, c)
                        .and_then(|cell| cell.contents().chars().next())
                        .unwrap_or(' ')
                })
                .collect();
            cells.push(row);
            // The list highlights the selected task's lines with a background color.
            let highlighted = screen
                .cell(r, 2)
                .is_some_and(|cell| cell.bgcolor() != vt100::Color::Default);
            selected_rows.push(highlighted);
        }
        Screen {
            cells,
            selected_rows,
        }
    }

    pub fn text(&self) -> String {
        self.cells
            .iter()
            .map(|r| r.iter().collect::<String>().trim_end().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn contains(&self, needle: &str) -> bool {
        self.cells
            .iter()
            .any(|r| r.iter().collect::<String>().contains(needle))
    }

    /// Row of the task's first line in the agent list, and the text of that line.
    pub fn list_line(&self, name: &str) -> Option<(usize, String)> {
        (0..self.cells.len()).find_map(|r| {
            if self.cells[r].first() != Some(&'│') {
                return None;
            }
            let line: String = self.cells[r][1..]
                .iter()
                .take_while(|&&c| c != '│')
                .collect();
            // Race siblings are bracketed (`┌ job.1`); the bracket is not part of the name.
            let line = line.replacen(RACE_GLYPHS, " ", 1);
            let mut words = line.split_whitespace();
            let _symbol = words.next()?;
            (words.next()? == name).then_some((r, line))
        })
    }

    /// The status the agent list shows for a task ("running", "retrying in 2s", …).
    pub fn status(&self, name: &str) -> Option<String> {
        let (_, line) = self.list_line(name)?;
        let rest = line.split_whitespace().skip(2).collect::<Vec<_>>();
        Some(rest.join(" "))
    }

    /// The list's two lines under a task's name: agent, attempt, time; diff stat, merge, error.
    pub fn list_details(&self, name: &str) -> Option<String> {
        let (row, _) = self.list_line(name)?;
        let lines: Vec<String> = (row + 1..row + 3)
            .map(|r| {
                self.cells[r][1..]
                    .iter()
                    .take_while(|&&c| c != '│')
                    .collect::<String>()
                    .trim()
                    .to_string()
            })
            .collect();
        Some(lines.join(" / "))
    }

    /// The task highlighted in the list.
    pub fn list_selection(&self) -> Option<String> {
        let row = (0..self.cells.len()).find(|&r| {
            self.selected_rows[r] && self.cells[r].first() == Some(&'│') && r + 1 < self.cells.len()
        })?;
        let line: String = self.cells[row][1..]
            .iter()
            .take_while(|&&c| c != '│')
            .collect();
        let line = line.replacen(RACE_GLYPHS, " ", 1);
        line.split_whitespace().nth(1).map(str::to_string)
    }

    /// The pane whose border title names `name`.
    pub fn pane(&self, name: &str) -> Option<PaneBox> {
        for (r, row) in self.cells.iter().enumerate() {
            for (c, &corner) in row.iter().enumerate() {
                if !TOP_LEFT.contains(&corner) {
                    continue;
                }
                let right = c + 1 + row[c + 1..].iter().position(|ch| TOP_RIGHT.contains(ch))?;
                let title: String = row[c + 1..right].iter().collect();
                let mut words = title.split_whitespace().filter(|w| *w != "ATTACHED");
                let _symbol = words.next();
                if words.next() != Some(name) {
                    continue;
                }
                let bottom = r
                    + 1
                    + self.cells[r + 1..]
                        .iter()
                        .position(|line| BOTTOM_LEFT.contains(&line[c]))?;
                let lines = self.cells[r + 1..bottom]
                    .iter()
                    .map(|line| line[c + 1..right].iter().collect::<String>())
                    .collect::<Vec<_>>();
                return Some(PaneBox {
                    title: title
                        .trim_matches(|ch: char| !ch.is_alphanumeric())
                        .to_string(),
                    top: r,
                    left: c,
                    rows: bottom - r - 1,
                    cols: right - c - 1,
                    lines,
                    corner,
                });
            }
        }
        None
    }

    /// The task whose pane is highlighted (thick border, or double while attached).
    pub fn pane_selection(&self) -> Option<String> {
        self.cells.iter().find_map(|row| {
            let c = row.iter().position(|ch| *ch == '┏' || *ch == '╔')?;
            let title: String = row[c + 1..].iter().collect();
            let mut words = title.split_whitespace().filter(|w| *w != "ATTACHED");
            let _symbol = words.next();
            words.next().map(str::to_string)
        })
    }

    /// The run id from the status bar ("grove run <id> │ …").
    pub fn run_id(&self) -> Option<String> {
        self.cells.iter().find_map(|row| {
            let text: String = row.iter().collect();
            let rest = text.trim_start().strip_prefix("grove run ")?;
            rest.split_whitespace().next().map(str::to_string)
        })
    }
}

/// q while agents run asks first; y stops them, writes the results and closes (exit 130).
pub fn quit_stopping_agents(dash: &mut Tty) {
    dash.send(b"q");
    dash.wait_for("the leave question", |s| {
        s.contains("leave the dashboard").then_some(())
    });
    dash.send(b"s");
    assert_eq!(dash.exit_code(), 130);
    dash.assert_restored();
}

/// A dashboard that detached (a signal, a closed terminal, the detach key) ended well, left the
/// terminal as it found it and printed the run id and the way back.
pub fn assert_detached(dash: &mut Tty, run_id: &str) {
    assert_eq!(dash.exit_code(), 0, "a detach is not a failure");
    dash.assert_restored();
    let said = dash.screen().text();
    assert!(
        said.contains(&format!("grove: detached from run {run_id}"))
            && said.contains(&format!("grove attach {run_id}")),
        "no way back printed:\n{said}"
    );
}

/// Selects `name` (see [`select`]) and cancels it: c asks, y does it.
pub fn cancel(dash: &mut Tty, name: &str, order: &[&str]) {
    select(dash, name, order);
    dash.send(b"c");
    dash.wait_for("the cancel question", |s| {
        s.contains(&format!("Cancel {name}?")).then_some(())
    });
    dash.send(b"y");
}

/// Moves the selection with j/k to `name` and checks it on screen: the list row and the pane.
pub fn select(dash: &mut Tty, name: &str, order: &[&str]) {
    let current = dash
        .wait_for("a selection", |s| s.list_selection())
        .to_string();
    let from = order.iter().position(|n| *n == current).unwrap();
    let to = order.iter().position(|n| *n == name).unwrap();
    let key: &[u8] = if to > from { b"j" } else { b"k" };
    for _ in 0..from.abs_diff(to) {
        dash.send(key);
    }
    dash.wait_for(&format!("{name} selected"), |s| {
        (s.list_selection().as_deref() == Some(name) && s.pane_selection().as_deref() == Some(name))
            .then_some(())
    });
}

/// `grove` with no command in `repo`: the dashboard on an empty ad-hoc run.
pub fn grove_new(repo: &Repo) -> Tty {
    Tty::spawn(grove_pty_cmd(repo, &[]))
}

/// Fills the open new-task form: the agent `right` steps right of the first found one, the
/// prompt typed line by line (Ctrl-J between lines), then Enter.
pub fn fill_form(dash: &mut Tty, right: usize, prompt: &[&str]) {
    dash.wait_for("the new-task form", |s| {
        s.contains("┌ new task ").then_some(())
    });
    dash.send(b"\t");
    for _ in 0..right {
        dash.send(b"\x1b[C");
    }
    dash.send(b"\t");
    for (i, line) in prompt.iter().enumerate() {
        if i > 0 {
            dash.send(b"\n");
        }
        dash.send(line.as_bytes());
    }
    dash.wait_for("the prompt typed", |s| {
        s.contains(prompt[prompt.len() - 1]).then_some(())
    });
    dash.send(b"\r");
}
