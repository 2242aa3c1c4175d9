//! Showing output apart from recording it: the reader thread records every byte (the attempt
//! log, the captured tail) as it reads it and hands what is to be shown to a display thread of
//! its own, which parses it into the pane. However long the terminal model takes over some
//! output, the reader goes on reading, so the log is complete when the output ends.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};

/// Output read but not shown yet, at most this much: past it, what waits is dropped from the
/// display (never from the log), and the pane says so.
const BACKLOG_BYTES: usize = 16 * 1024 * 1024;

/// Shows output, on the display thread. `replies` writes back into the PTY (for answering
/// terminal queries).
pub trait Display: Send + 'static {
    fn show(&mut self, bytes: &[u8], replies: &mut dyn Write);
}

/// Output waiting for the display thread.
#[derive(Default)]
pub(super) struct Backlog {
    queue: Mutex<Queue>,
    ready: Condvar,
}

#[derive(Default)]
struct Queue {
    chunks: VecDeque<Vec<u8>>,
    bytes: usize,
    /// Bytes dropped since the display last took a chunk.
    dropped: usize,
    closed: bool,
}

impl Backlog {
    /// Queues a chunk; never waits for the display.
    pub(super) fn push(&self, chunk: Vec<u8>) {
        if chunk.is_empty() {
            return;
        }
        let Ok(mut queue) = self.queue.lock() else {
            return;
        };
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

    /// The next chunk, with the bytes dropped before it; None once closed and empty.
    fn next(&self) -> Option<(usize, Vec<u8>)> {
        let mut queue = self.queue.lock().ok()?;
        loop {
            if let Some(chunk) = queue.chunks.pop_front() {
                queue.bytes -= chunk.len();
                return Some((std::mem::take(&mut queue.dropped), chunk));
            }
            if queue.closed {
                return None;
            }
            queue = self.ready.wait(queue).ok()?;
        }
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
