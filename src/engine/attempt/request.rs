//! The one request channel of an attempt: everything the run loop asks of a running attempt
//! (stop, kill now, pause, continue, input, resize) goes through the `AttemptHandle` it keeps,
//! and is served by the attempt itself, next to its work, for as long as it runs.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::pty::{self, PtyControl, StopReport};

use super::super::pause::PauseClock;

/// Why an attempt is being stopped from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    Cancelled,
    FailFast(String),
    Shutdown,
    /// A race sibling whose job another sibling (named) won.
    Raced(String),
}

impl StopReason {
    pub(super) fn describe(&self) -> String {
        match self {
            StopReason::Cancelled => "cancelled".into(),
            StopReason::FailFast(task) => format!("cancelled: fail_fast after '{task}' failed"),
            StopReason::Shutdown => "cancelled: grove was stopped".into(),
            StopReason::Raced(winner) => format!("cancelled: {}", picked(winner)),
        }
    }
}

/// Why a race sibling stopped: another one was picked.
pub fn picked(winner: &str) -> String {
    format!("'{winner}' was picked")
}

/// What the run loop asks of a running attempt.
#[derive(Debug)]
pub enum Request {
    /// End the attempt: its running process group gets SIGTERM, the grace period, SIGKILL.
    /// Only the first stop counts.
    Stop(StopReason),
    /// No (more) grace period before SIGKILL, for every group the attempt stops from now on.
    KillNow,
    /// Stop the attempt's processes (SIGTSTP, then SIGSTOP) and its timeout clock; `Ack` is
    /// dropped once done.
    Pause(Ack),
    /// Let them go on (SIGCONT) and restart the clock; `Ack` is dropped once done.
    Continue(Ack),
    /// Bytes for the agent's terminal (dropped before the agent runs).
    Input(Vec<u8>),
    /// The agent's terminal size (rows, cols); the agent starts with the latest one.
    Resize(u16, u16),
}

/// Held by every attempt a pause or continue went to, and dropped once it is done there.
#[derive(Debug, Clone)]
pub struct Ack {
    /// Never sent on: dropping the last copy is the answer.
    _held: mpsc::UnboundedSender<Infallible>,
}

/// Completes once every copy of its `Ack` is dropped.
pub struct Acked(mpsc::UnboundedReceiver<Infallible>);

impl Ack {
    pub fn new() -> (Ack, Acked) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Ack { _held: tx }, Acked(rx))
    }
}

impl Acked {
    pub async fn all(mut self) {
        if let Some(never) = self.0.recv().await {
            match never {}
        }
    }
}

/// The run loop's end of an attempt's request channel.
#[derive(Debug)]
pub struct AttemptHandle {
    requests: mpsc::UnboundedSender<Request>,
}

impl AttemptHandle {
    /// Asks; an attempt that has ended does not hear it (an `Ack` in it is dropped).
    pub fn send(&self, request: Request) {
        let _ = self.requests.send(request);
    }
}

/// The attempt's end of the channel, before it is served.
pub struct Requests {
    requests: mpsc::UnboundedReceiver<Request>,
}

/// A new attempt's request channel.
pub fn channel() -> (AttemptHandle, Requests) {
    let (tx, rx) = mpsc::unbounded_channel();
    (AttemptHandle { requests: tx }, Requests { requests: rx })
}

/// What the attempt's requests have set, as its work reads it.
#[derive(Clone)]
pub(super) struct Control {
    stop: watch::Receiver<Option<StopReason>>,
    kill_now: watch::Receiver<bool>,
    /// The attempt's pause clock: its timeout does not count paused time.
    pub clock: watch::Receiver<PauseClock>,
    terminal: Arc<Mutex<Terminal>>,
}

/// The attempt's processes as pause, input and resize reach them.
struct Terminal {
    /// The process group running now (agent, setup step or check): the one a pause stops.
    group: Option<i32>,
    paused: bool,
    /// The agent's terminal, once it runs.
    pty: Option<PtyControl>,
    size: (u16, u16),
}

fn lock(terminal: &Mutex<Terminal>) -> MutexGuard<'_, Terminal> {
    terminal
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Requests {
    /// The next request sent and not read yet, if any: what the run loop's in-process tests
    /// read of what it asked an attempt that never runs.
    #[cfg(test)]
    pub(crate) fn try_next(&mut self) -> Option<Request> {
        self.requests.try_recv().ok()
    }

    /// Splits the channel into what the attempt's work reads (`Control`) and the future that
    /// serves the requests; it never completes, and is dropped with the attempt's work. When the
    /// run loop's handle is gone, the attempt is stopped as cancelled.
    pub(super) fn serve(
        self,
        size: (u16, u16),
    ) -> (Control, impl std::future::Future<Output = Infallible>) {
        let (stop_tx, stop) = watch::channel(None);
        let (kill_tx, kill_now) = watch::channel(false);
        let (clock_tx, clock) = watch::channel(PauseClock::default());
        let terminal = Arc::new(Mutex::new(Terminal {
            group: None,
            paused: false,
            pty: None,
            size,
        }));
        let control = Control {
            stop,
            kill_now,
            clock,
            terminal: terminal.clone(),
        };
        let mut requests = self.requests;
        let served = async move {
            while let Some(request) = requests.recv().await {
                match request {
                    Request::Stop(reason) => {
                        stop_tx.send_if_modified(|stop| {
                            let first = stop.is_none();
                            stop.get_or_insert(reason);
                            first
                        });
                    }
                    Request::KillNow => {
                        kill_tx.send_replace(true);
                    }
                    Request::Pause(_ack) => pause(&terminal, &clock_tx, true),
                    Request::Continue(_ack) => pause(&terminal, &clock_tx, false),
                    Request::Input(bytes) => {
                        if let Some(pty) = &lock(&terminal).pty {
                            let _ = pty.write(&bytes);
                        }
                    }
                    Request::Resize(rows, cols) => {
                        let mut terminal = lock(&terminal);
                        terminal.size = (rows, cols);
                        if let Some(pty) = &terminal.pty {
                            let _ = pty.resize(rows, cols);
                        }
                    }
                }
            }
            stop_tx.send_if_modified(|stop| {
                let first = stop.is_none();
                stop.get_or_insert(StopReason::Cancelled);
                first
            });
            std::future::pending().await
        };
        (control, served)
    }
}

/// Pauses or continues the attempt: its clock, and its running group.
fn pause(terminal: &Mutex<Terminal>, clock: &watch::Sender<PauseClock>, paused: bool) {
    let mut terminal = lock(terminal);
    terminal.paused = paused;
    clock.send_modify(|clock| match paused {
        true => clock.pause(),
        false => clock.resume(),
    });
    if let Some(pgid) = terminal.group {
        pty::pause_group(pgid, paused);
    }
}

impl Control {
    /// A process group of the attempt started: one started while paused waits with the others.
    pub fn group_started(&self, pgid: i32) {
        let mut terminal = lock(&self.terminal);
        terminal.group = Some(pgid);
        if terminal.paused {
            pty::pause_group(pgid, true);
        }
    }

    /// The running group ended.
    pub fn group_ended(&self) {
        lock(&self.terminal).group = None;
    }

    /// The agent runs: input and resizes reach its terminal, which takes the latest size.
    pub fn agent_spawned(&self, pty: PtyControl) {
        let mut terminal = lock(&self.terminal);
        let (rows, cols) = terminal.size;
        let _ = pty.resize(rows, cols);
        terminal.pty = Some(pty);
    }

    /// Completes when the attempt is asked to stop, with why (as the attempt's error says it).
    pub async fn stopped(&self) -> String {
        let mut stop = self.stop.clone();
        let reason = match stop.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone(),
            // Served until the attempt's work ends: not before.
            Err(_) => None,
        };
        reason.map_or_else(|| "cancelled".into(), |r| r.describe())
    }

    /// Stops a group of the attempt's processes: SIGTERM, `grace`, SIGKILL. `KillNow` cuts the
    /// grace period short, whenever it comes.
    pub async fn stop_group(&self, pgid: i32, grace: Duration) -> StopReport {
        let mut kill_now = self.kill_now.clone();
        let killed = async move {
            if kill_now.wait_for(|now| *now).await.is_err() {
                // Nobody can ask for it any more.
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            report = pty::stop_group(pgid, grace) => report,
            () = killed => pty::stop_group(pgid, Duration::ZERO).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};

    use super::*;

    /// `sh -c script` in a process group of its own; its pid is the group id.
    fn own_group(script: &str) -> (Child, i32) {
        let child = Command::new("sh")
            .args(["-c", script])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = i32::try_from(child.id()).unwrap();
        (child, pgid)
    }

    /// The process's state letter from /proc (`T`: stopped).
    fn state(pid: i32) -> char {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        stat[stat.rfind(')').unwrap() + 1..]
            .trim_start()
            .chars()
            .next()
            .unwrap()
    }

    /// Waits (up to a minute) until `done` holds.
    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(tokio::time::Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn served(size: (u16, u16)) -> (AttemptHandle, Control, tokio::task::JoinHandle<()>) {
        let (handle, requests) = channel();
        let (control, serve) = requests.serve(size);
        let task = tokio::spawn(async move { match serve.await {} });
        (handle, control, task)
    }

    #[tokio::test]
    async fn the_first_stop_is_the_reason() {
        let (handle, control, task) = served((24, 80));
        handle.send(Request::Stop(StopReason::FailFast("a".into())));
        handle.send(Request::Stop(StopReason::Cancelled));
        assert_eq!(
            control.stopped().await,
            "cancelled: fail_fast after 'a' failed"
        );
        let (ack, acked) = Ack::new();
        handle.send(Request::Continue(ack));
        acked.all().await;
        assert_eq!(
            control.stopped().await,
            "cancelled: fail_fast after 'a' failed"
        );
        task.abort();
    }

    #[tokio::test]
    async fn a_handle_gone_stops_the_attempt_as_cancelled() {
        let (handle, control, task) = served((24, 80));
        drop(handle);
        assert_eq!(control.stopped().await, "cancelled");
        task.abort();
    }

    #[tokio::test]
    async fn a_pause_is_acknowledged_once_the_clock_stopped() {
        let (handle, control, task) = served((24, 80));
        let (ack, acked) = Ack::new();
        handle.send(Request::Pause(ack.clone()));
        drop(ack);
        acked.all().await;
        assert!(control.clock.borrow().is_paused());
        let (ack, acked) = Ack::new();
        handle.send(Request::Continue(ack));
        acked.all().await;
        assert!(!control.clock.borrow().is_paused());
        task.abort();
    }

    #[tokio::test]
    async fn an_ended_attempt_drops_the_ack() {
        let (handle, requests) = channel();
        drop(requests);
        let (ack, acked) = Ack::new();
        handle.send(Request::Pause(ack));
        acked.all().await;
    }

    #[tokio::test]
    async fn a_group_started_while_paused_waits_until_continued() {
        let (handle, control, task) = served((24, 80));
        let (ack, acked) = Ack::new();
        handle.send(Request::Pause(ack));
        acked.all().await;
        let (mut child, pgid) = own_group("exec sleep 30");
        control.group_started(pgid);
        until("the group is stopped", || state(pgid) == 'T').await;
        let (ack, acked) = Ack::new();
        handle.send(Request::Continue(ack));
        acked.all().await;
        until("the group goes on", || state(pgid) != 'T').await;
        control.group_ended();
        child.kill().unwrap();
        child.wait().unwrap();
        task.abort();
    }

    #[tokio::test]
    async fn kill_now_cuts_the_grace_short() {
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready");
        let script = format!("trap '' TERM; touch '{}'; exec sleep 30", ready.display());
        let (mut child, pgid) = own_group(&script);
        until("the group ignores SIGTERM", || ready.exists()).await;
        let (handle, control, task) = served((24, 80));
        // A grace period that never ends on its own.
        let stopping = tokio::spawn(async move { control.stop_group(pgid, Duration::MAX).await });
        handle.send(Request::KillNow);
        let report = tokio::time::timeout(Duration::from_secs(60), stopping)
            .await
            .expect("KillNow did not end the grace period")
            .unwrap();
        assert!(report.terminated && report.killed, "{report:?}");
        child.wait().unwrap();
        task.abort();
    }

    #[test]
    fn stop_reasons_say_why() {
        assert_eq!(StopReason::Cancelled.describe(), "cancelled");
        assert_eq!(
            StopReason::Shutdown.describe(),
            "cancelled: grove was stopped"
        );
        assert_eq!(
            StopReason::Raced("b".into()).describe(),
            "cancelled: 'b' was picked"
        );
    }
}
