//! A client's side of an attached run: the connection made into the same `FrontEnd` the engine
//! hands an in-process front end (commands in, events out, a pane per task), so the dashboard
//! and the line printer work on a hosted run unchanged. A reader thread keeps a terminal model
//! per pane, fed from the server's snapshot and then its output bytes (as the engine's reader
//! threads feed the server's) by `PARSERS` threads, and tells the front end "pane N changed"; a
//! writer thread sends the front end's commands. Dropping the `FrontEnd` and closing the `Link` detaches.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::client::Connection;
use super::frame;
use super::messages::{FromClient, Request, Response, Stream};
use super::snapshot::PaneSnapshot;
use crate::engine::api::{Command, Event, FrontEnd, TaskId};
use crate::term::pane::Pane;

/// What asking to attach came to.
pub enum Attach {
    Attached(Box<Remote>),
    /// The server does not host that run (or hosts no live run, when none was named).
    NotHosted,
    /// The server refused, saying why.
    Failed {
        message: String,
        exit_code: i32,
    },
}

/// An attached run: its front end, and the link it came over.
pub struct Remote {
    pub front: FrontEnd,
    pub link: Link,
}

/// The connection of an attached run, seen from the client.
pub struct Link {
    close: Arc<dyn Fn() + Send + Sync>,
    shared: Arc<Shared>,
    reader: Option<JoinHandle<()>>,
    /// Closed when the reader ends.
    ended: Option<std::sync::mpsc::Receiver<()>>,
}

/// How long leaving waits for the server to answer (a finished run closing: its engine ending).
const LEAVE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Default)]
struct Shared {
    /// The run's `RunFinished` arrived.
    finished: AtomicBool,
    /// We ended the connection (detached).
    detached: AtomicBool,
    /// Why the stream ended, when it did not end cleanly.
    error: Mutex<Option<String>>,
}

impl Link {
    /// Whether the connection ended before the run finished, and not because we detached: the
    /// server went away (killed, out of memory, the machine rebooted…) or broke the stream.
    pub fn lost(&self) -> Option<String> {
        let ended = self.reader.as_ref().is_none_or(|r| r.is_finished());
        if !ended
            || self.shared.finished.load(Ordering::SeqCst)
            || self.shared.detached.load(Ordering::SeqCst)
        {
            return None;
        }
        let error = self
            .shared
            .error
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .unwrap_or_else(|| "the grove server closed the connection".into());
        Some(error)
    }

    /// Whether the run's `RunFinished` arrived.
    pub fn finished(&self) -> bool {
        self.shared.finished.load(Ordering::SeqCst)
    }

    /// Leaves the run (it goes on in the server): call once the `FrontEnd` and every sender of
    /// its commands are gone, which makes the writer say `Leave`. Waits for the server's answer
    /// (at most `LEAVE_DEADLINE`; when this was the last client of a finished run, it comes once
    /// the run has closed), then ends the connection.
    pub fn detach(mut self) {
        self.shared.detached.store(true, Ordering::SeqCst);
        if let Some(ended) = self.ended.take() {
            let _ = ended.recv_timeout(LEAVE_DEADLINE);
        }
        (self.close)();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// Asks the server of `connection` to attach to run `run_id` (the newest live one when
/// `None`); see `open`.
pub fn attach(connection: Connection, run_id: Option<&str>) -> anyhow::Result<Attach> {
    let request = Request::Attach {
        run_id: run_id.map(str::to_string),
    };
    open(connection, &request)
}

/// Sends `request` (an `Attach`, or a start asking to attach) and, when the server attaches the
/// connection, starts the threads that make it a `FrontEnd`. Returns once the first snapshot is
/// in: the front end's first events are every task, with its pane as it is.
pub fn open(mut connection: Connection, request: &Request) -> anyhow::Result<Attach> {
    let mut response = connection.ask(request)?;
    if let Response::Started { .. } = response {
        response = connection.answer()?;
    }
    let info = match response {
        Response::Attached { info } => *info,
        Response::NotHosted => return Ok(Attach::NotHosted),
        Response::Failed { message, exit_code } => {
            return Ok(Attach::Failed { message, exit_code })
        }
        other => anyhow::bail!("the grove server answered an attach with {other:?}"),
    };
    let (reader, writer, close) = connection.into_parts();
    let close: Arc<dyn Fn() + Send + Sync> = Arc::from(close);
    let shared = Arc::new(Shared::default());
    let (events_tx, events) = unbounded_channel();
    let (commands, commands_rx) = unbounded_channel();
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let (ended_tx, ended) = std::sync::mpsc::channel::<()>();
    let reader = {
        let shared = shared.clone();
        let close = close.clone();
        std::thread::Builder::new()
            .name("grove-attach-read".into())
            .spawn(move || {
                let _ended = ended_tx;
                read_stream(reader, &events_tx, &shared, ready_tx);
                // The server's side is done: so is ours (the writer stops at its next command).
                close();
            })?
    };
    {
        let close = close.clone();
        std::thread::Builder::new()
            .name("grove-attach-write".into())
            .spawn(move || {
                // The reader ends the connection once the server answers the leave.
                if !write_commands(writer, commands_rx) {
                    close();
                }
            })?;
    }
    // The snapshot is in (or the stream ended before it was).
    let _ = ready.recv();
    Ok(Attach::Attached(Box::new(Remote {
        front: FrontEnd {
            commands,
            events,
            info,
        },
        link: Link {
            close,
            shared,
            reader: Some(reader),
            ended: Some(ended),
        },
    })))
}

/// Sends the front end's commands; once every sender is gone (the front end has ended), says
/// the client leaves. Returns whether it could.
fn write_commands(
    mut writer: Box<dyn Write + Send>,
    mut commands: UnboundedReceiver<Command>,
) -> bool {
    while let Some(command) = commands.blocking_recv() {
        if frame::write(&mut writer, &FromClient::Command(command)).is_err() {
            return false;
        }
    }
    frame::write(&mut writer, &FromClient::Leave).is_ok()
}

/// Work on the client's panes, done off the reading thread.
enum Work {
    /// A pane's whole state from a snapshot.
    Snapshot(PaneSnapshot),
    Output(Vec<u8>),
    Resize(u16, u16),
}

/// How many threads parse the panes' output: panes are independent, so a snapshot of many full
/// panes (an attach) and several flooding agents are parsed side by side, while the reading
/// thread goes on decoding frames and passing on the run's events (a dashboard lists every task
/// before their panes are filled).
const PARSERS: usize = 2;

/// The threads that feed the panes: each pane always on the same one, so its work stays in
/// order. A pane that went changed is said once (`Event::Output`), as the engine says it.
struct Parsers {
    queues: Vec<Arc<WorkQueue>>,
}

/// How much output may wait for one parser: beyond it the reading thread waits, so that what
/// the server sends next (the echo of a key typed into one agent while others flood) is not
/// queued behind megabytes here, and a client that cannot keep up leaves the backlog to the
/// server (which sends a pane's whole state instead).
const PARSER_BYTES: usize = 256 * 1024;

type Job = (TaskId, Arc<Pane>, Work);

/// Work waiting for one parser.
#[derive(Default)]
struct WorkQueue {
    state: Mutex<Waiting>,
    /// Work was queued, or the queue closed.
    ready: std::sync::Condvar,
    /// The parser took the queued work.
    taken: std::sync::Condvar,
}

#[derive(Default)]
struct Waiting {
    jobs: Vec<Job>,
    /// Of the jobs' output and snapshots.
    bytes: usize,
    /// The parser or the reader is gone.
    closed: bool,
}

impl WorkQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues work, first waiting while the parser has `PARSER_BYTES` of output to go (never for
    /// an empty queue). False once the parser is gone.
    fn give(&self, task: TaskId, pane: Arc<Pane>, work: Work) -> bool {
        let size = match &work {
            Work::Output(bytes) => bytes.len(),
            Work::Snapshot(snapshot) => snapshot.bytes.len(),
            Work::Resize(..) => 0,
        };
        let mut state = self.lock();
        while !state.closed && !state.jobs.is_empty() && state.bytes + size > PARSER_BYTES {
            state = self.taken.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        if state.closed {
            return false;
        }
        state.jobs.push((task, pane, work));
        state.bytes += size;
        self.ready.notify_one();
        true
    }

    /// Everything queued, once there is something; `None` once closed.
    fn take(&self) -> Option<Vec<Job>> {
        let mut state = self.lock();
        while state.jobs.is_empty() && !state.closed {
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        if state.jobs.is_empty() {
            return None;
        }
        let jobs = std::mem::take(&mut state.jobs);
        state.bytes = 0;
        self.taken.notify_all();
        Some(jobs)
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
        self.taken.notify_all();
    }
}

impl Parsers {
    fn start(events: &UnboundedSender<Event>) -> std::io::Result<Parsers> {
        let mut queues = Vec::with_capacity(PARSERS);
        for n in 0..PARSERS {
            let queue = Arc::new(WorkQueue::default());
            let work = queue.clone();
            let events = events.clone();
            std::thread::Builder::new()
                .name(format!("grove-attach-parse-{n}"))
                .spawn(move || {
                    while let Some(batch) = work.take() {
                        if !parse(batch, &events) {
                            break;
                        }
                    }
                    work.close();
                })?;
            queues.push(queue);
        }
        Ok(Parsers { queues })
    }

    fn give(&self, task: TaskId, pane: Arc<Pane>, work: Work) {
        // A parser that ended did so because the front end is gone: the reader notices too.
        let _ = self.queues[task.index() % self.queues.len()].give(task, pane, work);
    }
}

impl Drop for Parsers {
    fn drop(&mut self) {
        self.queues.iter().for_each(|q| q.close());
    }
}

/// Does a parser's batch of work a pane at a time, in order for each pane, its consecutive output
/// fed in one go (one lock of the pane, and the fast-forward sees it whole). False once the
/// front end is gone.
fn parse(batch: Vec<Job>, events: &UnboundedSender<Event>) -> bool {
    let mut panes: Vec<(TaskId, Arc<Pane>, Vec<Work>)> = Vec::new();
    for (task, pane, work) in batch {
        match panes.iter_mut().find(|(t, _, _)| *t == task) {
            Some((_, _, works)) => works.push(work),
            None => panes.push((task, pane, vec![work])),
        }
    }
    for (task, pane, works) in panes {
        let mut changed = false;
        let mut works = works.into_iter().peekable();
        while let Some(work) = works.next() {
            changed |= match work {
                Work::Snapshot(snapshot) => {
                    snapshot.apply_to(&pane);
                    true
                }
                Work::Output(mut bytes) => {
                    while let Some(Work::Output(more)) =
                        works.next_if(|w| matches!(w, Work::Output(_)))
                    {
                        bytes.extend_from_slice(&more);
                    }
                    // The server answers the agent's terminal queries: none from here.
                    pane.feed(&bytes, &mut std::io::sink())
                }
                Work::Resize(rows, cols) => {
                    pane.resize(rows, cols);
                    true
                }
            };
        }
        if changed && events.send(Event::Output { task }).is_err() {
            return false;
        }
    }
    true
}

/// The reading thread's buffer: a few of the server's write batches (`serve::WRITE_BATCH`).
const READ_BUFFER: usize = 256 * 1024;

/// Reads the run's stream into panes and events until it ends or the front end is gone.
fn read_stream(
    reader: Box<dyn Read + Send>,
    events: &UnboundedSender<Event>,
    shared: &Shared,
    ready: std::sync::mpsc::Sender<()>,
) {
    let parsers = match Parsers::start(events) {
        Ok(parsers) => parsers,
        Err(e) => {
            if let Ok(mut error) = shared.error.lock() {
                *error = Some(format!("cannot start the pane threads: {e}"));
            }
            return;
        }
    };
    // Frames are mostly small (a PTY read each): read them from a buffer, not a syscall each.
    let mut reader = std::io::BufReader::with_capacity(READ_BUFFER, reader);
    let mut panes: Vec<Arc<Pane>> = Vec::new();
    let pane = |panes: &[Arc<Pane>], task: TaskId| panes.get(task.index()).cloned();
    loop {
        let stream = match Stream::read(&mut reader) {
            Ok(Some(stream)) => stream,
            Ok(None) => break,
            Err(e) => {
                if let Ok(mut error) = shared.error.lock() {
                    *error = Some(format!("the connection to the grove server broke: {e}"));
                }
                break;
            }
        };
        let sent = match stream {
            Stream::Task {
                view,
                pane: snapshot,
                scrollback,
            } => {
                let task = view.id;
                match pane(&panes, task) {
                    Some(known) => {
                        parsers.give(task, known, Work::Snapshot(snapshot));
                        events.send(Event::TaskChanged(*view)).is_ok()
                    }
                    None if task.index() == panes.len() => {
                        let new = Arc::new(Pane::new(snapshot.rows, snapshot.cols, scrollback));
                        panes.push(new.clone());
                        let added = events.send(Event::TaskAdded {
                            view: *view,
                            pane: new.clone(),
                        });
                        parsers.give(task, new, Work::Snapshot(snapshot));
                        added.is_ok()
                    }
                    None => {
                        if let Ok(mut error) = shared.error.lock() {
                            *error = Some(format!(
                                "the grove server sent task {task} before task #{}",
                                panes.len()
                            ));
                        }
                        break;
                    }
                }
            }
            Stream::Pane {
                task,
                pane: snapshot,
            } => {
                if let Some(p) = pane(&panes, task) {
                    parsers.give(task, p, Work::Snapshot(snapshot));
                }
                true
            }
            Stream::Ready => {
                let _ = ready.send(());
                true
            }
            Stream::Event { event } => {
                if matches!(*event, Event::RunFinished(_)) {
                    shared.finished.store(true, Ordering::SeqCst);
                }
                events.send(*event).is_ok()
            }
            // Our `Leave` is answered: nothing follows.
            Stream::Left => break,
            Stream::Paused { paused } => events.send(Event::Paused(paused)).is_ok(),
            Stream::Output { task, data } => {
                if let Some(p) = pane(&panes, task) {
                    parsers.give(task, p, Work::Output(data));
                }
                true
            }
            Stream::Resized { task, rows, cols } => {
                if let Some(p) = pane(&panes, task) {
                    parsers.give(task, p, Work::Resize(rows, cols));
                }
                true
            }
        };
        if !sent {
            // The front end is gone: nothing more to read for.
            break;
        }
    }
}
