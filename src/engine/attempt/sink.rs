//! Where an attempt's processes' output goes: the log, the text tail, the stream-json adapter and
//! the idle watch on the PTY reader thread (`AttemptSink`), and the task's pane on the display
//! thread (`PaneDisplay`).

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, Notify};

use crate::pty::{self, OutputSink};
use crate::term::pane::Pane;

use super::super::api::{Event, TaskId};
use super::super::output::Tail;
use super::stream::{Adapter, Stream};

/// Output of one process of the attempt, on the PTY reader thread: the raw log, the text tail
/// (through the stream-json adapter for such agents) and a nudge to the idle watch, as it is read;
/// what is to be shown goes on to the display thread.
pub(super) struct AttemptSink {
    pub log: File,
    pub tail: Option<Arc<Mutex<Tail>>>,
    pub stream: Option<(Adapter, Arc<Stream>)>,
    pub activity: Option<Arc<Notify>>,
}

impl AttemptSink {
    /// Text for the pane: kept in the tail too.
    fn shown(&mut self, shown: Vec<u8>) -> Vec<u8> {
        if let Some(tail) = &self.tail {
            if let Ok(mut tail) = tail.lock() {
                tail.push(&shown);
            }
        }
        shown
    }

    /// An adapter's rendering: its facts recorded, its transcript shown.
    fn rendered(&mut self, rendered: crate::agent::stream_json::Rendered) -> Vec<u8> {
        if let Some((_, stream)) = &self.stream {
            stream.absorb(rendered.events);
        }
        self.shown(rendered.transcript)
    }
}

impl OutputSink for AttemptSink {
    fn output(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        // First, whatever the rest costs: the log is the record of everything the agent printed.
        let _ = self.log.write_all(&bytes);
        let shown = match &mut self.stream {
            Some((adapter, _)) => {
                let rendered = adapter.feed(&bytes);
                self.rendered(rendered)
            }
            None => self.shown(bytes),
        };
        if let Some(activity) = &self.activity {
            activity.notify_one();
        }
        shown
    }

    fn finish(&mut self) -> Vec<u8> {
        match &mut self.stream {
            Some((adapter, _)) => {
                let rendered = adapter.finish();
                self.rendered(rendered)
            }
            None => Vec::new(),
        }
    }
}

/// The task's pane, fed on the display thread (and with grove's own lines); the front end is
/// told when it changed.
pub(super) struct PaneDisplay {
    pub pane: Arc<Pane>,
    pub events: mpsc::UnboundedSender<Event>,
    pub index: usize,
}

impl pty::Display for PaneDisplay {
    fn show(&mut self, bytes: &[u8], replies: &mut dyn Write) {
        if !bytes.is_empty() && self.pane.feed(bytes, replies) {
            let _ = self.events.send(Event::Output {
                task: TaskId(self.index),
            });
        }
    }
}
