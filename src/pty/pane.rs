//! A task's pane: the terminal model its PTY output is parsed into, on the reader thread.
//! Front ends only read it; the `changed` flag coalesces "pane N changed" notifications.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

pub const DEFAULT_SCROLLBACK: usize = 2000;

pub struct Pane {
    parser: Mutex<vt100::Parser>,
    changed: AtomicBool,
}

impl std::fmt::Debug for Pane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pane").finish_non_exhaustive()
    }
}

impl Pane {
    pub fn new(rows: u16, cols: u16, scrollback: usize) -> Pane {
        Pane {
            parser: Mutex::new(vt100::Parser::new(rows, cols, scrollback)),
            changed: AtomicBool::new(false),
        }
    }

    /// Parses output (called on the PTY reader thread). `replies` is the PTY's input, for
    /// answering terminal queries. Returns true when the pane went from unchanged to changed,
    /// i.e. when the caller should notify the front end.
    pub fn feed(&self, bytes: &[u8], _replies: &mut dyn Write) -> bool {
        if let Ok(mut parser) = self.parser.lock() {
            parser.process(bytes);
        }
        !self.changed.swap(true, Ordering::AcqRel)
    }

    /// Clears the changed flag; true if it was set. Front ends call this when they draw.
    pub fn take_changed(&self) -> bool {
        self.changed.swap(false, Ordering::AcqRel)
    }

    pub fn resize(&self, rows: u16, cols: u16) {
        if let Ok(mut parser) = self.parser.lock() {
            parser.screen_mut().set_size(rows, cols);
        }
    }

    /// Runs `f` with the current screen.
    pub fn with_screen<R>(&self, f: impl FnOnce(&vt100::Screen) -> R) -> Option<R> {
        self.parser.lock().ok().map(|p| f(p.screen()))
    }
}
