//! A program in a pseudo-terminal of a fixed size, its output parsed by a terminal emulator
//! (vt100) on a reader thread, so the benchmark sees the screen as a person would; plus what
//! /proc says about a process (CPU time, peak RSS).

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use portable_pty::{native_pty_system, CommandBuilder, MasterPty, PtySize};

type Predicate = Box<dyn FnMut(&vt100::Screen) -> bool + Send>;

/// A condition on the screen, evaluated on the reader thread right after each chunk is parsed,
/// so the time recorded is when the emulator first showed it, not when the waiter woke up.
struct Watch {
    predicate: Predicate,
    met: Option<Instant>,
}

struct State {
    parser: vt100::Parser,
    watch: Option<Watch>,
    exited: Option<(Instant, u32)>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub struct Term {
    pid: i32,
    started: Instant,
    writer: Box<dyn Write + Send>,
    // Kept open: closing the master would hang up the program.
    _master: Box<dyn MasterPty + Send>,
    shared: Arc<Shared>,
}

impl Term {
    /// Starts `argv` in a new `rows`x`cols` terminal in `cwd`, with `env` added.
    pub fn spawn(
        argv: &[&str],
        cwd: &Path,
        env: &[(&str, &str)],
        rows: u16,
        cols: u16,
    ) -> anyhow::Result<Term> {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(|e| anyhow!("openpty: {e}"))?;
        let mut cmd = CommandBuilder::new(argv[0]);
        cmd.args(&argv[1..]);
        cmd.cwd(cwd);
        cmd.env("TERM", "xterm-256color");
        // The benchmark may itself run inside tmux; its tmux reference must not nest.
        cmd.env_remove("TMUX");
        for (key, value) in env {
            cmd.env(key, value);
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                parser: vt100::Parser::new(rows, cols, 0),
                watch: None,
                exited: None,
            }),
            changed: Condvar::new(),
        });
        let mut reader = pair
            .master
            .try_clone_reader()
            .map_err(|e| anyhow!("pty reader: {e}"))?;
        let writer = pair
            .master
            .take_writer()
            .map_err(|e| anyhow!("pty writer: {e}"))?;
        let started = Instant::now();
        let mut child = pair
            .slave
            .spawn_command(cmd)
            .map_err(|e| anyhow!("cannot start {}: {e}", argv[0]))?;
        drop(pair.slave);
        let pid = child
            .process_id()
            .and_then(|p| i32::try_from(p).ok())
            .context("no pid")?;

        let state = shared.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                let mut guard = state.lock();
                let s = &mut *guard;
                s.parser.process(&buf[..n]);
                if let Some(watch) = s.watch.as_mut().filter(|w| w.met.is_none()) {
                    if (watch.predicate)(s.parser.screen()) {
                        watch.met = Some(Instant::now());
                    }
                }
                drop(guard);
                state.changed.notify_all();
            }
        });
        let state = shared.clone();
        std::thread::spawn(move || {
            let code = child.wait().map(|s| s.exit_code()).unwrap_or(u32::MAX);
            state.lock().exited = Some((Instant::now(), code));
            state.changed.notify_all();
        });
        Ok(Term {
            pid,
            started,
            writer,
            _master: pair.master,
            shared,
        })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// When the program was started (just before the fork).
    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn send(&mut self, bytes: &[u8]) -> anyhow::Result<Instant> {
        self.writer.write_all(bytes)?;
        self.writer.flush()?;
        Ok(Instant::now())
    }

    /// The screen as text.
    pub fn text(&self) -> String {
        self.shared.lock().parser.screen().contents()
    }

    /// Arms a watch made by `make` from the current screen (so it can note what is there
    /// already), runs `before` (e.g. sending a key), then waits until the screen satisfies the
    /// watch; returns when the emulator first showed it.
    pub fn until<P>(
        &mut self,
        timeout: Duration,
        before: impl FnOnce(&mut Self) -> anyhow::Result<()>,
        make: impl FnOnce(&vt100::Screen) -> P,
    ) -> anyhow::Result<Instant>
    where
        P: FnMut(&vt100::Screen) -> bool + Send + 'static,
    {
        {
            let mut s = self.shared.lock();
            let mut predicate = make(s.parser.screen());
            let met = predicate(s.parser.screen()).then(Instant::now);
            s.watch = Some(Watch {
                predicate: Box::new(predicate),
                met,
            });
        }
        before(self)?;
        let deadline = Instant::now() + timeout;
        let mut s = self.shared.lock();
        loop {
            if let Some(met) = s.watch.as_ref().and_then(|w| w.met) {
                s.watch = None;
                return Ok(met);
            }
            if s.exited.is_some() {
                let screen = s.parser.screen().contents();
                bail!("the program ended before the screen showed what was awaited:\n{screen}");
            }
            let now = Instant::now();
            if now >= deadline {
                let screen = s.parser.screen().contents();
                s.watch = None;
                bail!("timed out waiting for the screen; it shows:\n{screen}");
            }
            s = self
                .shared
                .changed
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits until the screen contains `needle`.
    pub fn until_text(&mut self, timeout: Duration, needle: &str) -> anyhow::Result<Instant> {
        let needle = needle.to_string();
        self.until(
            timeout,
            |_| Ok(()),
            |_| move |s: &vt100::Screen| s.contents().contains(&needle),
        )
    }

    /// Waits for the program to exit, calling `tick` about every `every` meanwhile; returns
    /// when it exited and its exit code.
    pub fn wait_exit(
        &self,
        timeout: Duration,
        every: Duration,
        mut tick: impl FnMut(),
    ) -> anyhow::Result<(Instant, u32)> {
        let deadline = Instant::now() + timeout;
        loop {
            tick();
            let s = self.shared.lock();
            if let Some(exited) = s.exited {
                return Ok(exited);
            }
            if Instant::now() >= deadline {
                bail!(
                    "timed out waiting for pid {} to exit; the screen shows:\n{}",
                    self.pid,
                    s.parser.screen().contents()
                );
            }
            drop(
                self.shared
                    .changed
                    .wait_timeout(s, every)
                    .unwrap_or_else(PoisonError::into_inner),
            );
        }
    }

    pub fn exited(&self) -> bool {
        self.shared.lock().exited.is_some()
    }

    /// SIGTERM, then up to `grace` for it to exit, then SIGKILL. grove stops its agents on
    /// SIGTERM; tmux and mprocs take their children down with them.
    pub fn stop(&self, grace: Duration) {
        if self.exited() {
            return;
        }
        // SAFETY: kill has no memory-safety preconditions; the pid is our own child's.
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        if self
            .wait_exit(grace, Duration::from_millis(20), || ())
            .is_err()
        {
            // SAFETY: as above.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            let _ = self.wait_exit(Duration::from_secs(5), Duration::from_millis(20), || ());
        }
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(20));
    }
}

/// CPU time (user + system, all threads) a live process has used, from /proc/<pid>/stat.
pub fn cpu_seconds(pid: i32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain anything) start after the last ')'.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat; field 3 (state) is fields[0] here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then(|| (utime + stime) as f64 / ticks as f64)
}

/// Peak resident set size (VmHWM) of a live process, in bytes.
pub fn peak_rss(pid: i32) -> Option<u64> {
    status_kb(pid, "VmHWM:").map(|kb| kb * 1024)
}

/// Resident set size now (VmRSS) of a live process, in bytes.
pub fn rss(pid: i32) -> Option<u64> {
    status_kb(pid, "VmRSS:").map(|kb| kb * 1024)
}

fn status_kb(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The process exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    stat.rfind(')')
        .and_then(|close| stat[close + 1..].split_whitespace().next())
        .is_some_and(|state| state != "Z")
}

/// Live processes whose parent is `ppid` and whose command name is `comm`.
pub fn children_named(ppid: i32, comm: &str) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                return false;
            };
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                return false;
            };
            let name = &stat[open + 1..close];
            let mut rest = stat[close + 1..].split_whitespace();
            let state = rest.next().unwrap_or("Z");
            let parent: i32 = rest.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            parent == ppid && name == comm && state != "Z"
        })
        .count()
}

/// Pids of live processes whose command line contains `needle` as one argument.
pub fn pids_with_arg(needle: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            cmdline
                .split(|b| *b == 0)
                .any(|arg| arg == needle.as_bytes())
                .then_some(pid)
        })
        .collect()
}
