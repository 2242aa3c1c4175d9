//! Agents in pseudo-terminals: spawn in their own session and process group, read output on a
//! blocking thread (recorded as it is read, shown by a display thread), write input through a
//! writer thread, resize, and stop the whole group (TERM, grace, KILL).

mod display;
mod reaper;

pub use display::Display;
pub use reaper::{become_subreaper, output, reap_orphans};

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, MasterPty, PtySize};
use tokio::sync::oneshot;

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

/// What to run, where, with which environment (added to grove's own).
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    pub argv: Vec<String>,
    pub cwd: PathBuf,
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
/// wait for the terminal model); returns what to show, which the display thread then takes.
pub trait OutputSink: Send + 'static {
    fn output(&mut self, bytes: &[u8]) -> Vec<u8>;
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

fn pty_size(rows: u16, cols: u16) -> PtySize {
    PtySize {
        rows: rows.max(1),
        cols: cols.max(1),
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
                    backlog.push(sink.output(&buf[..n]));
                    continue;
                }
                batch.extend_from_slice(&buf[..n]);
                if !gather {
                    backlog.push(sink.output(&batch));
                    batch.clear();
                }
            }
            if !batch.is_empty() {
                backlog.push(sink.output(&batch));
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

/// Sends `signal` to every process of group `pgid`. False if the group no longer exists.
pub fn signal_group(pgid: i32, signal: i32) -> bool {
    if pgid <= 1 {
        return false;
    }
    // SAFETY: killpg has no memory-safety preconditions; pgid > 1 never targets init or "all".
    unsafe { libc::killpg(pgid, signal) == 0 }
}

/// True while any process of group `pgid` is alive. Zombies (dead, waiting to be reaped by
/// whoever adopted them) do not count: they hold no resources and run no code. The /proc scan
/// that tells them apart runs on a blocking thread, and only when the group still has a
/// process at all (once stopped it usually has none, and that takes one system call).
pub async fn group_alive(pgid: i32) -> bool {
    group_exists(pgid)
        && tokio::task::spawn_blocking(move || has_live_member(pgid))
            .await
            .unwrap_or_else(|_| has_live_member(pgid))
}

/// Whether group `pgid` has any process, zombies included (what the kernel answers to a signal
/// 0). A group of another user exists too, though it cannot be signalled.
fn group_exists(pgid: i32) -> bool {
    // With pgid > 1 signal_group makes the call, so errno is its answer.
    pgid > 1
        && (signal_group(pgid, 0)
            || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH))
}

/// Of a group that exists: whether a member is not a zombie. Where /proc cannot tell, every
/// member counts.
fn has_live_member(pgid: i32) -> bool {
    !cfg!(target_os = "linux") || group_members(pgid).next().is_some()
}

/// Live (non-zombie) processes of group `pgid`, from /proc.
fn group_members(pgid: i32) -> impl Iterator<Item = i32> {
    live_processes().filter_map(move |(pid, group)| (group == pgid).then_some(pid))
}

/// (pid, process group) of every live (non-zombie) process, from /proc.
fn live_processes() -> impl Iterator<Item = (i32, i32)> {
    processes().filter_map(|p| p.live.then_some((p.pid, p.group)))
}

/// A process as /proc/<pid>/stat tells it.
struct Process {
    pid: i32,
    parent: i32,
    group: i32,
    /// Not a zombie (dead, waiting to be reaped).
    live: bool,
}

/// Every process, from /proc.
fn processes() -> impl Iterator<Item = Process> {
    let entries = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    entries.filter_map(|entry| {
        let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
        // The command name is in parentheses and may contain anything; fields follow the last ')'.
        let rest = &stat[stat.rfind(')')? + 1..];
        let mut fields = rest.split_whitespace();
        let state = fields.next()?;
        let parent: i32 = fields.next()?.parse().ok()?;
        let group: i32 = fields.next()?.parse().ok()?;
        Some(Process {
            pid,
            parent,
            group,
            live: state != "Z" && state != "X",
        })
    })
}

/// How a group was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopReport {
    /// SIGTERM was sent (the group was alive).
    pub terminated: bool,
    /// Processes outlived the grace period and got SIGKILL.
    pub killed: bool,
}

/// Stops a whole process group: SIGTERM (plus SIGCONT, in case it was stopped), up to `grace`
/// for it to go, then SIGKILL. Returns once no live process is left in the group (or after a
/// last bounded wait following SIGKILL).
pub async fn stop_group(pgid: i32, grace: Duration) -> StopReport {
    let mut report = StopReport {
        terminated: false,
        killed: false,
    };
    if !group_alive(pgid).await {
        return report;
    }
    signal_group(pgid, libc::SIGTERM);
    signal_group(pgid, libc::SIGCONT);
    report.terminated = true;
    if wait_group_gone(pgid, grace).await {
        return report;
    }
    signal_group(pgid, libc::SIGKILL);
    report.killed = true;
    wait_group_gone(pgid, Duration::from_secs(5)).await;
    report
}

/// Kills a group at once (a second Ctrl-C).
pub fn kill_group_now(pgid: i32) {
    signal_group(pgid, libc::SIGKILL);
}

/// Stops (`paused`) or continues a group. SIGTSTP comes first so programs that handle it can
/// save their terminal state; SIGSTOP follows because an agent's group is orphaned (its parent,
/// grove, is in another session), and the kernel ignores SIGTSTP sent to an orphaned group.
pub fn pause_group(pgid: i32, paused: bool) {
    if paused {
        signal_group(pgid, libc::SIGTSTP);
        signal_group(pgid, libc::SIGSTOP);
    } else {
        signal_group(pgid, libc::SIGCONT);
    }
}

/// Process groups with a live process whose environment has every `KEY=value` of `tags`: how
/// what an agent left running is found after grove was killed (agents inherit their GROVE_*
/// variables), whatever the group ids, and never an unrelated process that reused an id.
pub fn tagged_groups(tags: &[(&str, &str)]) -> Vec<i32> {
    let wanted: Vec<Vec<u8>> = tags
        .iter()
        .map(|(k, v)| format!("{k}={v}").into_bytes())
        .collect();
    let mut groups: Vec<i32> = live_processes()
        .filter(|(pid, _)| {
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                return false;
            };
            let vars: Vec<&[u8]> = environ.split(|&b| b == 0).collect();
            wanted.iter().all(|w| vars.contains(&w.as_slice()))
        })
        .map(|(_, group)| group)
        .collect();
    groups.sort_unstable();
    groups.dedup();
    groups
}

/// Waits until the group has no live process, checking briefly; false on timeout. A limit past
/// what the clock can hold never runs out.
async fn wait_group_gone(pgid: i32, limit: Duration) -> bool {
    let deadline = Instant::now().checked_add(limit);
    loop {
        if !group_alive(pgid).await {
            return true;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};

    use super::*;

    /// A child in a process group of its own; its pid is the group id.
    fn own_group(program: &str, args: &[&str]) -> (Child, i32) {
        let child = Command::new(program)
            .args(args)
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = i32::try_from(child.id()).unwrap();
        (child, pgid)
    }

    #[tokio::test]
    async fn a_group_is_alive_until_only_zombies_are_left() {
        let (mut sleeper, pgid) = own_group("sleep", &["30"]);
        assert!(group_alive(pgid).await);
        signal_group(pgid, libc::SIGKILL);
        // Killed and not yet reaped: a zombie, which the kernel still counts as the group.
        let deadline = Instant::now() + Duration::from_secs(10);
        while group_alive(pgid).await {
            assert!(Instant::now() < deadline, "the group outlived SIGKILL");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(group_exists(pgid));
        sleeper.wait().unwrap();
        assert!(!group_exists(pgid));
        assert!(!group_alive(pgid).await);
    }

    #[tokio::test]
    async fn stopping_a_group_that_is_gone_sends_nothing() {
        let (mut quick, pgid) = own_group("true", &[]);
        quick.wait().unwrap();
        let report = stop_group(pgid, Duration::from_secs(5)).await;
        assert!(!report.terminated && !report.killed);
        assert!(!group_alive(1).await);
    }

    #[tokio::test]
    async fn the_longest_grace_does_not_overflow_the_clock() {
        let (mut sleeper, pgid) = own_group("sleep", &["30"]);
        let report = stop_group(pgid, Duration::MAX).await;
        assert!(report.terminated && !report.killed);
        sleeper.wait().unwrap();
    }
}
