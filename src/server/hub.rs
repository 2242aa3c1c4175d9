//! One hosted run's attached clients: what each of them is sent, in order. Every change gets
//! one number from one counter, taken under the hub's lock: the run's events (from the task that
//! follows the run) and each pane's output and resizes (from the pane's tap, under the pane's
//! own lock, on the PTY's reader thread). A frame is encoded once and queued for every client.
//!
//! A snapshot is the tasks' views as of a number `views`, and each pane's screen as of the number
//! its tap gave last (`PaneSnapshot::screen_of`): the client's `Filter` then drops what it holds
//! already. A pane's history is big (thousands of rows to copy, format and parse again), so it
//! follows the snapshot, a pane at a time between the client's other frames (`Stream::Pane`, the
//! pane's whole state, as of a later number): a dashboard draws every task and screen first. No
//! lock is held across panes, so a snapshot never stops the agents' output.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::frame;
use super::messages::{Bytes, Stream};
use super::queue::{Bound, ClientQueue, Next};
use super::snapshot::PaneSnapshot;
use crate::engine::api::{Event, TaskId, TaskView};
use crate::term::pane::{Pane, Tapped};

/// How much may wait for one client before it gets a fresh snapshot instead, and for one of its
/// panes before it gets that pane's whole state instead.
pub const CLIENT_BOUND: Bound = Bound {
    items: 16 * 1024,
    bytes: 8 * 1024 * 1024,
    pane_bytes: 512 * 1024,
};

#[derive(Default)]
pub struct Hub {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The run's engine has ended: nothing more will come.
    closed: bool,
    seq: u64,
    tasks: Vec<(TaskView, Arc<Pane>)>,
    /// The run's `RunFinished`, while it stands (a task going on again reopens the run).
    finished: Option<Event>,
    clients: Vec<Arc<Slot>>,
}

/// A queued frame, and what it is about (for the client's `Filter`).
#[derive(Clone)]
pub struct Item {
    seq: u64,
    pane: Option<TaskId>,
    frame: Arc<Vec<u8>>,
}

/// One attached client's queue.
pub struct Slot {
    queue: Mutex<ClientQueue<Item>>,
    wake: Notify,
}

/// What a client already holds after a snapshot: views up to `views`, each pane's bytes up to
/// its number; and the panes whose history it is still owed.
#[derive(Debug, Default)]
pub struct Filter {
    views: u64,
    panes: Vec<u64>,
    owed: VecDeque<(TaskId, Arc<Pane>)>,
}

impl Filter {
    /// Whether the client needs `item`: not when it holds it already, nor when the item's pane
    /// is owed its whole state (taken after the item happened).
    fn keeps(&self, item: &Item) -> bool {
        match item.pane {
            Some(task) if self.owed.iter().any(|(owed, _)| *owed == task) => false,
            Some(task) => item.seq > self.panes.get(task.index()).copied().unwrap_or(0),
            None => item.seq > self.views,
        }
    }
}

/// A snapshot's frames, and what the client then holds.
pub struct Snapshot {
    pub frames: Vec<Vec<u8>>,
    pub filter: Filter,
    seq: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding it left plain data behind; go on with it.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hub {
    /// A task joined the run: its pane's changes go to the clients from now on, after a `Task`
    /// frame holding the pane as it is.
    pub fn add_task(self: &Arc<Self>, view: TaskView, pane: &Arc<Pane>) {
        let task = view.id;
        let hub = self.clone();
        let shared = pane.clone();
        pane.set_tap(move |state| {
            let mut locked = hub.lock();
            let frame = || Stream::Task {
                view: Box::new(view.clone()),
                pane: PaneSnapshot::of_state(state),
                scrollback: shared.scrollback(),
            };
            let seq = Self::push_locked(&mut locked, None, frame);
            if locked.tasks.len() == task.index() {
                locked.tasks.push((view, shared));
            }
            drop(locked);
            let tap = move |change: Tapped<'_>| match change {
                Tapped::Output(bytes) => hub.push(Some(task), || Stream::Output {
                    task,
                    data: Bytes::of(bytes),
                }),
                Tapped::Resized { rows, cols } => {
                    hub.push(Some(task), || Stream::Resized { task, rows, cols })
                }
            };
            (Box::new(tap), seq)
        });
    }

    /// An event of the run (its task views are kept for snapshots).
    pub fn event(&self, event: Event) {
        let mut state = self.lock();
        match &event {
            Event::TaskAdded { .. } | Event::Output { .. } => return,
            Event::TaskChanged(view) => {
                if !view.status.is_final() {
                    state.finished = None;
                }
                if let Some((kept, _)) = state.tasks.get_mut(view.id.index()) {
                    *kept = view.clone();
                }
            }
            Event::RunFinished(_) => state.finished = Some(event.clone()),
            _ => {}
        }
        Self::push_locked(&mut state, None, || Stream::of_event(event));
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Numbers a change and queues its frame for every client (encoded only if there is one).
    fn push(&self, pane: Option<TaskId>, stream: impl FnOnce() -> Stream) -> u64 {
        Self::push_locked(&mut self.lock(), pane, stream)
    }

    fn push_locked(
        state: &mut State,
        pane: Option<TaskId>,
        stream: impl FnOnce() -> Stream,
    ) -> u64 {
        state.seq += 1;
        let seq = state.seq;
        if state.clients.is_empty() {
            return seq;
        }
        let frame = match frame::encode(&stream()) {
            Ok(frame) => Arc::new(frame),
            Err(e) => {
                // Only a frame over the limit fails; the clients then get a snapshot.
                eprintln!("grove server: a frame was not sent: {e}");
                for client in &state.clients {
                    lock(&client.queue).push(seq, Item::lost(seq), usize::MAX, None);
                    client.wake.notify_one();
                }
                return seq;
            }
        };
        let size = frame.len();
        let item = Item { seq, pane, frame };
        for client in &state.clients {
            let lane = pane.map(TaskId::index);
            lock(&client.queue).push(seq, item.clone(), size, lane);
            client.wake.notify_one();
        }
        seq
    }

    /// A new client: its queue, and the snapshot it starts from.
    pub fn attach(&self) -> (Arc<Slot>, Snapshot) {
        self.attach_bounded(CLIENT_BOUND)
    }

    fn attach_bounded(&self, bound: Bound) -> (Arc<Slot>, Snapshot) {
        let slot = Arc::new(Slot {
            queue: Mutex::new(ClientQueue::new(bound)),
            wake: Notify::new(),
        });
        let (seq, tasks, finished) = {
            let mut state = self.lock();
            state.clients.push(slot.clone());
            (state.seq, state.tasks.clone(), state.finished.clone())
        };
        (slot, Self::snapshot_of(seq, tasks, finished))
    }

    /// The run's engine ended: each client gets what is queued for it, then its stream ends.
    pub fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        for client in &state.clients {
            client.wake.notify_one();
        }
    }

    fn closed(&self) -> bool {
        self.lock().closed
    }

    /// A client went away.
    pub fn detach(&self, slot: &Arc<Slot>) {
        self.lock().clients.retain(|s| !Arc::ptr_eq(s, slot));
    }

    /// A fresh snapshot, for a client that fell behind.
    pub fn snapshot(&self) -> Snapshot {
        let (seq, tasks, finished) = {
            let state = self.lock();
            (state.seq, state.tasks.clone(), state.finished.clone())
        };
        Self::snapshot_of(seq, tasks, finished)
    }

    /// The tasks' frames, `Ready`, and the run's `RunFinished` when it stands.
    fn snapshot_of(
        seq: u64,
        tasks: Vec<(TaskView, Arc<Pane>)>,
        finished: Option<Event>,
    ) -> Snapshot {
        let mut frames = Vec::with_capacity(tasks.len() + 1);
        let mut filter = Filter {
            views: seq,
            panes: Vec::with_capacity(tasks.len()),
            owed: VecDeque::new(),
        };
        for (view, shared) in tasks {
            let shared_scrollback = shared.scrollback();
            let (pane, tapped) = match PaneSnapshot::screen_of(&shared) {
                Some((pane, tapped, history)) => {
                    if history {
                        filter.owed.push_back((view.id, shared));
                    }
                    (pane, tapped)
                }
                // A poisoned pane (its reader thread panicked) is sent empty.
                None => whole(&shared).unwrap_or((PaneSnapshot::empty(), seq)),
            };
            filter.panes.push(tapped);
            let task = Stream::Task {
                view: Box::new(view),
                pane,
                scrollback: shared_scrollback,
            };
            match frame::encode(&task) {
                Ok(frame) => frames.push(frame),
                Err(e) => eprintln!("grove server: a task's snapshot was not sent: {e}"),
            }
        }
        let finished = finished.map(Stream::of_event);
        for stream in std::iter::once(Stream::Ready).chain(finished) {
            match frame::encode(&stream) {
                Ok(frame) => frames.push(frame),
                Err(e) => eprintln!("grove server: a snapshot frame was not sent: {e}"),
            }
        }
        Snapshot {
            frames,
            filter,
            seq,
        }
    }
}

/// A pane's whole state, and the number of its tap's last change it holds.
fn whole(pane: &Pane) -> Option<(PaneSnapshot, u64)> {
    let (state, tapped) = pane.state_and_tapped()?;
    Some((PaneSnapshot::of_state(state), tapped))
}

impl Item {
    /// A change that could not be encoded: never sent (its size makes the queue drop).
    fn lost(seq: u64) -> Item {
        Item {
            seq,
            pane: None,
            frame: Arc::new(Vec::new()),
        }
    }
}

impl Slot {
    /// Waits for the next frames for this client, at most about `max` bytes of them (and a
    /// pane's history): queued items it does not hold yet, or a fresh snapshot when it fell
    /// behind; then the history of a pane it is owed. `None` once the run is closed and
    /// everything was sent.
    pub async fn next(&self, hub: &Hub, filter: &mut Filter, max: usize) -> Option<Vec<u8>> {
        loop {
            // Read before the queue: what was queued before the close is still sent.
            let closed = hub.closed();
            let mut out = Vec::new();
            let mut snapshot = false;
            let shed = lock(&self.queue).take_shed();
            if !shed.is_empty() {
                let state = hub.lock();
                for lane in shed {
                    let known = filter.owed.iter().any(|(task, _)| task.index() == lane);
                    if let (false, Some((view, pane))) = (known, state.tasks.get(lane)) {
                        filter.owed.push_back((view.id, pane.clone()));
                    }
                }
            }
            {
                let mut queue = lock(&self.queue);
                while out.len() < max {
                    match queue.pop() {
                        Some(Next::Item(item)) => {
                            if filter.keeps(&item) {
                                out.extend_from_slice(&item.frame);
                            }
                        }
                        Some(Next::Snapshot) => {
                            snapshot = true;
                            break;
                        }
                        None => break,
                    }
                }
            }
            if snapshot {
                let fresh = hub.snapshot();
                lock(&self.queue).snapshot_sent(fresh.seq);
                *filter = fresh.filter;
                fresh.frames.iter().for_each(|f| out.extend_from_slice(f));
            }
            // After what was queued (older than it), so that the history goes between the
            // client's other frames even while output floods.
            if let Some((task, pane)) = filter.owed.pop_front() {
                let taken = tokio::task::spawn_blocking(move || whole(&pane)).await;
                if let Ok(Some((pane, tapped))) = taken {
                    match frame::encode(&Stream::Pane { task, pane }) {
                        Ok(frame) => {
                            if let Some(held) = filter.panes.get_mut(task.index()) {
                                *held = tapped;
                            }
                            out.extend_from_slice(&frame);
                        }
                        Err(e) => eprintln!("grove server: a pane's history was not sent: {e}"),
                    }
                }
            }
            if !out.is_empty() {
                return Some(out);
            }
            if closed {
                return None;
            }
            self.wake.notified().await;
        }
    }

    /// How many times this client's backlog was dropped for a snapshot, and one of its panes'
    /// for that pane's whole state.
    pub fn times_behind(&self) -> (u64, u64) {
        let queue = lock(&self.queue);
        (queue.times_dropped(), queue.times_shed())
    }
}

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
