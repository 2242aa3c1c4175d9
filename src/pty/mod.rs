//! Agents in pseudo-terminals: spawn in their own session and process group, read output on a
//! blocking thread (recorded as it is read, shown by a display thread), write input through a
//! writer thread, resize. Signalling, stopping and pausing whole groups is `group.rs`.

mod display;
mod group;
mod reaper;

pub use display::Display;
pub use group::{
    group_alive, kill_group_now, pause_group, signal_group, stop_group, tagged_groups, StopReport,
};
pub use reaper::{become_subreaper, output, reap_orphans};

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, MasterPty, PtySize};
use tokio::sync::oneshot;

use crate::environment::Environment;

/// Size every agent's terminal starts with.
pub const DEFAULT_ROWS: u16 = 40;
pub const DEFAULT_COLS: u16 = 120;

/// While the PTY already holds more output (the agent prints faster than grove reads), reads
/// are gathered into one batch for the sink, up to this size or age. One large batch costs one
/// log write and one lock of the pane instead of a hundred, and lets the pane fast-forward text
/// that scrolls away unseen; output of an agent that pauses goes through at once.
const BATCH_BYTES: usize = 1024 * 1024;
const BATCH_AGE: Duration = Duration::from_millis(100);
const READ_SIZE: usize = 64 * 1024;
/// Output of at least this much in one go is a burst, worth waiting `BURST_WAIT` ms for more.
const BURST_BYTES: usize = 4096;
const BURST_WAIT: libc::c_int = 3;

#[derive(Debug, thiserror::Error)]
pub enum PtyError {
    #[error("cannot open a pseudo-terminal: {0}")]
    Open(String),
    #[error("cannot start '{program}': {reason}")]
    Spawn { program: String, reason: String },
    #[error("empty command")]
    EmptyCommand,
}

/// What to run, where, with which environment: exactly `base_env` (not grove's own), then
/// `TERM`, then `env` on top. The program is looked for on `base_env`'s (or `env`'s) PATH.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    pub base_env: Environment,
    pub env: Vec<(String, String)>,
    pub rows: u16,
    pub cols: u16,
}

/// How the agent's leader process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// Exit code; for a process killed by a signal, 128 + signal number when known.
    pub code: i32,
    pub signal: Option<String>,
}

impl Exit {
    pub fn success(&self) -> bool {
        self.code == 0 && self.signal.is_none()
    }
}

/// Records everything the agent prints, on the reader thread, as it is read (nothing here may
/// wait for the terminal model); returns what to show, which the display thread then takes
/// (the bytes themselves, when they are shown as read: no copy).
pub trait OutputSink: Send + 'static {
    fn output(&mut self, bytes: Vec<u8>) -> Vec<u8>;
    /// The output has ended (EOF), before `Spawned::eof` fires: a sink holding a partial line
    /// can flush it here.
    fn finish(&mut self) -> Vec<u8> {
        Vec::new()
    }
}

/// Writes input to, and resizes, a running agent's terminal. Cheap to clone.
#[derive(Clone)]
pub struct PtyControl {
    /// Bytes for the agent, written in order by the PTY's writer thread.
    input: std::sync::mpsc::Sender<Vec<u8>>,
    master: Arc<Mutex<Box<dyn MasterPty + Send>>>,
}

impl std::fmt::Debug for PtyControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PtyControl")
    }
}

impl PtyControl {
    /// Queues bytes for the agent's terminal. A writer thread delivers them: an agent that does
    /// not read its input fills the terminal's input queue, and then only that thread waits,
    /// never the run loop or the reader answering a terminal query.
    pub fn write(&self, bytes: &[u8]) -> io::Result<()> {
        self.input
            .send(bytes.to_vec())
            .map_err(|_| io::Error::other("the agent's terminal is closed"))
    }

    pub fn resize(&self, rows: u16, cols: u16) -> io::Result<()> {
        let master = self
            .master
            .lock()
            .map_err(|_| io::Error::other("pty control lock poisoned"))?;
        master
            .resize(pty_size(rows, cols))
            .map_err(|e| io::Error::other(e.to_string()))
    }
}

/// Writes queued input to the PTY until every `PtyControl` is gone or the terminal closes.
fn spawn_writer(
    pgid: i32,
    mut writer: Box<dyn Write + Send>,
) -> io::Result<std::sync::mpsc::Sender<Vec<u8>>> {
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::Builder::new()
        .name(format!("grove-write-{pgid}"))
        .spawn(move || {
            for bytes in rx {
                if writer
                    .write_all(&bytes)
                    .and_then(|()| writer.flush())
                    .is_err()
                {
                    // The agent's side is gone; nobody will read the rest.
                    break;
                }
            }
        })?;
    Ok(tx)
}

/// Replies from the display thread are queued like any other input.
struct ReplyWriter(PtyControl);

impl Write for ReplyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map(|_| buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A started agent. It is over when both `exit` and `eof` have fired.
pub struct Spawned {
    /// Process id of the leader, which is also the id of its process group and session.
    pub pgid: i32,
    pub control: PtyControl,
    pub exit: oneshot::Receiver<Exit>,
    pub eof: oneshot::Receiver<()>,
}

/// The pane's size (`term::pane::pane_size`), so the agent's terminal and its model agree.
fn pty_size(rows: u16, cols: u16) -> PtySize {
    let (rows, cols) = crate::term::pane::pane_size(rows, cols);
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

/// Starts `spec.argv` in a new PTY, in its own session (so its own process group), and starts
/// the reader, display and waiter threads.
pub fn spawn(
    spec: &SpawnSpec,
    mut sink: impl OutputSink,
    display: impl Display,
) -> Result<Spawned, PtyError> {
    let program = spec.argv.first().ok_or(PtyError::EmptyCommand)?;
    let pair = native_pty_system()
        .openpty(pty_size(spec.rows, spec.cols))
        .map_err(|e| PtyError::Open(e.to_string()))?;

    let mut cmd = CommandBuilder::new(program);
    cmd.args(&spec.argv[1..]);
    cmd.cwd(&spec.cwd);
    cmd.env_clear();
    for (key, value) in spec.base_env.iter() {
        cmd.env(key, value);
    }
    cmd.env("TERM", "xterm-256color");
    for (key, value) in &spec.env {
        cmd.env(key, value);
    }
    let spawn_error = |e: &dyn std::fmt::Display| PtyError::Spawn {
        program: program.clone(),
        reason: e.to_string(),
    };
    // Registered as waited for (by the waiter thread below), so the orphan reaper leaves it be.
    let mut child = reaper::start_waited(|| {
        let child = pair.slave.spawn_command(cmd).map_err(|e| spawn_error(&e))?;
        let pid = child.process_id().and_then(|p| i32::try_from(p).ok());
        match pid {
            Some(pid) => Ok((child, pid)),
            None => Err(spawn_error(&"no process id")),
        }
    })?;
    // The parent must not keep the slave open, or the reader never sees EOF.
    drop(pair.slave);
    let pgid = child
        .process_id()
        .and_then(|p| i32::try_from(p).ok())
        .ok_or_else(|| spawn_error(&"no process id"))?;

    let mut reader = pair
        .master
        .try_clone_reader()
        .map_err(|e| spawn_error(&e))?;
    let writer = pair.master.take_writer().map_err(|e| spawn_error(&e))?;
    // The master stays open (in `PtyControl`, a clone of which the reader keeps) for as long as
    // the reader runs, so its descriptor can be asked how much output is waiting.
    let master_fd = pair.master.as_raw_fd();
    let control = PtyControl {
        input: spawn_writer(pgid, writer).map_err(|e| spawn_error(&e))?,
        master: Arc::new(Mutex::new(pair.master)),
    };

    let (exit_tx, exit_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name(format!("grove-wait-{pgid}"))
        .spawn(move || {
            let waited = child.wait();
            reaper::waited_for(pgid);
            let exit = match waited {
                Ok(status) => Exit {
                    code: exit_code_of(&status),
                    signal: status.signal().map(str::to_string),
                },
                Err(e) => Exit {
                    code: -1,
                    signal: Some(format!("wait failed: {e}")),
                },
            };
            let _ = exit_tx.send(exit);
        })
        .map_err(|e| spawn_error(&e))?;

    let backlog = Arc::new(display::Backlog::default());
    let replies = ReplyWriter(control.clone());
    display::spawn(
        format!("grove-show-{pgid}"),
        backlog.clone(),
        display,
        replies,
    )
    .map_err(|e| spawn_error(&e))?;
    let (eof_tx, eof_rx) = oneshot::channel();
    // Keeps the master open while the reader asks its descriptor how much output waits.
    let master = control.clone();
    std::thread::Builder::new()
        .name(format!("grove-read-{pgid}"))
        .spawn(move || {
            let _master = master;
            let mut buf = vec![0u8; READ_SIZE];
            let mut batch: Vec<u8> = Vec::new();
            let mut batch_started = Instant::now();
            loop {
                let n = match reader.read(&mut buf) {
                    // Linux reports EIO once every slave descriptor is closed: that is EOF.
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if batch.is_empty() {
                    batch_started = Instant::now();
                }
                // A burst (more than one small read) waits briefly for the rest of it; a
                // short answer, like the echo of a key, goes out at once.
                let wait = if batch.len() + n >= BURST_BYTES {
                    BURST_WAIT
                } else {
                    0
                };
                let gather = batch.len() + n < BATCH_BYTES
                    && batch_started.elapsed() < BATCH_AGE
                    && master_fd.is_some_and(|fd| output_ready(fd, wait));
                if batch.is_empty() && !gather {
                    backlog.push(sink.output(buf[..n].to_vec()));
                    continue;
                }
                // A batch is handed over, not copied, so each is new: its largest size at once
                // (it ends at the read that takes it to BATCH_BYTES), never grown.
                if batch.capacity() == 0 {
                    batch.reserve_exact(BATCH_BYTES + READ_SIZE);
                }
                batch.extend_from_slice(&buf[..n]);
                if !gather {
                    backlog.push(sink.output(std::mem::take(&mut batch)));
                }
            }
            if !batch.is_empty() {
                backlog.push(sink.output(batch));
            }
            backlog.push(sink.finish());
            backlog.close();
            let _ = eof_tx.send(());
        })
        .map_err(|e| spawn_error(&e))?;

    Ok(Spawned {
        pgid,
        control,
        exit: exit_rx,
        eof: eof_rx,
    })
}

/// True when the PTY master has output to read (or has hung up) within `wait_ms`.
fn output_ready(fd: std::os::fd::RawFd, wait_ms: libc::c_int) -> bool {
    let mut waiting: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which points to a live local; the
    // descriptor is the PTY master, open while the reader thread runs. Cheaper than poll when
    // output is already there, as it mostly is during a flood.
    if unsafe { libc::ioctl(fd, libc::FIONREAD, &mut waiting) } == 0 && waiting > 0 {
        return true;
    }
    if wait_ms == 0 {
        return false;
    }
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, living for the call; the descriptor is the PTY master, open
    // while the reader thread runs.
    unsafe { libc::poll(&mut poll, 1, wait_ms) > 0 }
}

fn exit_code_of(status: &portable_pty::ExitStatus) -> i32 {
    match status.signal() {
        None => i32::try_from(status.exit_code()).unwrap_or(i32::MAX),
        Some(name) => 128 + signal_number(name).unwrap_or(0),
    }
}

/// portable-pty reports signals by their description (strsignal); map the common ones back.
fn signal_number(description: &str) -> Option<i32> {
    let d = description.to_ascii_lowercase();
    [
        ("hangup", libc::SIGHUP),
        ("interrupt", libc::SIGINT),
        ("quit", libc::SIGQUIT),
        ("abort", libc::SIGABRT),
        ("killed", libc::SIGKILL),
        ("segmentation", libc::SIGSEGV),
        ("broken pipe", libc::SIGPIPE),
        ("terminated", libc::SIGTERM),
    ]
    .into_iter()
    .find(|(word, _)| d.contains(word))
    .map(|(_, n)| n)
}
