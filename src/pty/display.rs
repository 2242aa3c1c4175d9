//! Showing output apart from recording it: the reader thread records every byte (the attempt
//! log, the captured tail) as it reads it and hands what is to be shown to a display thread of
//! its own, which parses it into the pane. However long the terminal model takes over some
//! output, the reader goes on reading, so the log is complete when the output ends.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Output read but not shown yet, at most this much: past it, what waits is dropped from the
/// display (never from the log), and the pane says so.
const BACKLOG_BYTES: usize = 16 * 1024 * 1024;

/// While the display has output of its own to parse (waiting or being parsed) and the next
/// chunk would make it more than this much, the reader waits, after recording that chunk, for
/// the display to finish what it has: the agent then waits on its PTY as on any terminal slower
/// than it, and a flooding agent costs grove one chunk being read and one being shown, instead
/// of megabytes queued in between (8 agents a few MiB behind each were 20 MB of peak RSS).
const ROOM_BYTES: usize = 1024 * 1024;

/// A display that finished nothing for this long is stuck (a long parse, its pane held): the
/// reader stops waiting for it, and queues up to `BACKLOG_BYTES`, until it finishes a chunk.
const STALL: Duration = Duration::from_millis(500);

/// Shows output, on the display thread. `replies` writes back into the PTY (for answering
/// terminal queries).
pub trait Display: Send + 'static {
    fn show(&mut self, bytes: &[u8], replies: &mut dyn Write);
}

/// Output waiting for the display thread.
pub(super) struct Backlog {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// Signalled when the display has shown a chunk.
    shown: Condvar,
    stall: Duration,
}

impl Default for Backlog {
    fn default() -> Backlog {
        Backlog::with_stall(STALL)
    }
}

#[derive(Default)]
struct Queue {
    chunks: VecDeque<Vec<u8>>,
    bytes: usize,
    /// Bytes dropped since the display last took a chunk.
    dropped: usize,
    closed: bool,
    /// Bytes of the chunk the display is showing.
    showing: usize,
    /// Chunks the display has shown so far.
    shown: u64,
    /// The display showed nothing for `STALL` while the reader waited; cleared when it has.
    stalled: bool,
}

impl Queue {
    /// The reader waits before queuing `len` more bytes.
    fn full(&self, len: usize) -> bool {
        let busy = self.bytes + self.showing;
        !self.stalled && busy > 0 && busy + len > ROOM_BYTES
    }
}

impl Backlog {
    fn with_stall(stall: Duration) -> Backlog {
        Backlog {
            queue: Mutex::default(),
            ready: Condvar::new(),
            shown: Condvar::new(),
            stall,
        }
    }

    /// Queues a chunk; first, while the display has too much (`ROOM_BYTES`), waits for it to
    /// show what it has, unless it is stalled.
    pub(super) fn push(&self, chunk: Vec<u8>) {
        if chunk.is_empty() {
            return;
        }
        let Ok(mut queue) = self.queue.lock() else {
            return;
        };
        while queue.full(chunk.len()) {
            let shown = queue.shown;
            let Ok((waited, timeout)) = self
                .shown
                .wait_timeout_while(queue, self.stall, |q| q.shown == shown)
            else {
                return;
            };
            queue = waited;
            queue.stalled = timeout.timed_out();
        }
        if queue.bytes + chunk.len() > BACKLOG_BYTES {
            queue.dropped += queue.bytes;
            queue.chunks.clear();
            queue.bytes = 0;
        }
        queue.bytes += chunk.len();
        queue.chunks.push_back(chunk);
        self.ready.notify_one();
    }

    /// No more output: the display thread ends once it has shown what waits.
    pub(super) fn close(&self) {
        if let Ok(mut queue) = self.queue.lock() {
            queue.closed = true;
        }
        self.ready.notify_one();
    }

    /// The next chunk, with the bytes dropped before it; None once closed and empty. The
    /// display calls `shown` when it has shown it.
    fn next(&self) -> Option<(usize, Vec<u8>)> {
        let mut queue = self.queue.lock().ok()?;
        loop {
            if let Some(chunk) = queue.chunks.pop_front() {
                queue.bytes -= chunk.len();
                queue.showing = chunk.len();
                return Some((std::mem::take(&mut queue.dropped), chunk));
            }
            if queue.closed {
                return None;
            }
            queue = self.ready.wait(queue).ok()?;
        }
    }

    /// The chunk `next` gave has been shown.
    fn shown(&self) {
        if let Ok(mut queue) = self.queue.lock() {
            queue.showing = 0;
            queue.shown += 1;
            queue.stalled = false;
        }
        self.shown.notify_one();
    }
}

/// Starts the display thread: it shows each chunk of `backlog` in order until the backlog is
/// closed and empty.
pub(super) fn spawn(
    name: String,
    backlog: Arc<Backlog>,
    mut display: impl Display,
    mut replies: impl Write + Send + 'static,
) -> std::io::Result<()> {
    std::thread::Builder::new().name(name).spawn(move || {
        while let Some((dropped, chunk)) = backlog.next() {
            if dropped > 0 {
                // CAN first: the dropped output may have stopped in the middle of a sequence.
                let notice = format!(
                    "\x18\x1b[0m\r\n\x1b[2m[grove: {dropped} bytes of output not shown (the \
                     terminal could not keep up); the attempt log has them]\x1b[0m\r\n"
                );
                display.show(notice.as_bytes(), &mut replies);
            }
            display.show(&chunk, &mut replies);
            drop(chunk);
            backlog.shown();
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_is_bounded_and_says_what_it_dropped() {
        let backlog = Backlog::default();
        let mib = 1024 * 1024;
        for i in 0..40u8 {
            backlog.push(vec![i; mib]);
        }
        backlog.push(Vec::new());
        backlog.close();
        let mut shown = Vec::new();
        let mut dropped = 0;
        while let Some((before, chunk)) = backlog.next() {
            dropped += before;
            shown.push(chunk[0]);
        }
        assert!(shown.len() * mib <= BACKLOG_BYTES);
        // What is shown is the newest output, in order; the rest is counted.
        assert_eq!(shown.last(), Some(&39));
        assert!(shown.windows(2).all(|w| w[1] == w[0] + 1));
        assert_eq!(dropped + shown.len() * mib, 40 * mib);
    }

    #[test]
    fn the_reader_waits_while_the_display_has_a_chunk() {
        // A stall longer than any test: the pusher waits for every chunk to be shown.
        let backlog = Arc::new(Backlog::with_stall(Duration::from_secs(600)));
        let mib = 1024 * 1024;
        let chunks: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; mib]).collect();
        let pusher = {
            let backlog = backlog.clone();
            std::thread::spawn(move || {
                let mut most = 0;
                for chunk in chunks {
                    backlog.push(chunk);
                    let queue = backlog.queue.lock().unwrap();
                    most = most.max(queue.bytes + queue.showing);
                }
                backlog.close();
                most
            })
        };
        let mut shown = Vec::new();
        while let Some((dropped, chunk)) = backlog.next() {
            assert_eq!(dropped, 0);
            shown.push(chunk[0]);
            std::thread::yield_now();
            backlog.shown();
        }
        // Never more than one chunk waiting or being shown, and nothing dropped.
        assert_eq!(pusher.join().unwrap(), mib);
        assert_eq!(shown, (0..8).collect::<Vec<u8>>());
    }

    /// Collects what it is shown.
    struct Collect(Arc<Mutex<Vec<u8>>>);

    impl Display for Collect {
        fn show(&mut self, bytes: &[u8], _replies: &mut dyn Write) {
            self.0.lock().unwrap().extend_from_slice(bytes);
        }
    }

    #[test]
    fn the_display_thread_shows_everything_in_order_then_ends() {
        let backlog = Arc::new(Backlog::default());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (done, ended) = std::sync::mpsc::channel::<()>();
        /// Its sender is dropped with it, when the display thread ends.
        struct Ends(Collect, #[allow(dead_code)] std::sync::mpsc::Sender<()>);
        impl Display for Ends {
            fn show(&mut self, bytes: &[u8], replies: &mut dyn Write) {
                self.0.show(bytes, replies);
            }
        }
        spawn(
            "test-show".into(),
            backlog.clone(),
            Ends(Collect(seen.clone()), done),
            std::io::sink(),
        )
        .unwrap();
        for part in [&b"one "[..], b"two ", b"three"] {
            backlog.push(part.to_vec());
        }
        backlog.close();
        // The thread drops its display (and the sender in it) when it ends.
        assert!(ended.recv().is_err());
        assert_eq!(*seen.lock().unwrap(), b"one two three");
    }
}
