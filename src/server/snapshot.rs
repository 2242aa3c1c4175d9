//! A pane's whole state (history, screen, cursor, pen, input modes, alternate screen, title, an
//! unfinished sequence) as one byte stream: fed to a terminal model of the same size, fresh or
//! not, it leaves that model as the pane is. The server sends it on attach and to a client that
//! fell behind; the pane's output after it then goes on where it left off.

use serde::{Deserialize, Serialize};

use crate::term::guard;
use crate::term::pane::{Pane, PaneState};

/// One pane's state: `bytes`, then `unfinished`. `bytes` is what vt100 writes (the cells' text
/// and ASCII escapes), so it is text: JSON carries it as a string instead of an array of
/// numbers. `unfinished` is the agent's own bytes of a sequence or character it has begun, which
/// need not be text (half a character).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaneSnapshot {
    pub rows: u16,
    pub cols: u16,
    pub bytes: String,
    pub unfinished: Vec<u8>,
}

impl PaneSnapshot {
    /// The snapshot of `pane`, or `None` when its model is poisoned (a reader thread panicked).
    pub fn of(pane: &Pane) -> Option<PaneSnapshot> {
        pane.state().map(PaneSnapshot::of_state)
    }

    /// An empty pane of the default size: for a pane whose state cannot be read.
    pub fn empty() -> PaneSnapshot {
        PaneSnapshot {
            rows: crate::pty::DEFAULT_ROWS,
            cols: crate::pty::DEFAULT_COLS,
            bytes: "\x1bc".into(),
            unfinished: Vec::new(),
        }
    }

    /// The snapshot of a copy of a pane's state (the copy is used up: its history is drawn by
    /// scrolling it). Where vt100 panics writing it (agents' output is untrusted), an empty
    /// pane of the default size.
    pub fn of_state(state: PaneState) -> PaneSnapshot {
        guard::contained(|| PaneSnapshot::formatted(state))
            .unwrap_or_else(|_| PaneSnapshot::empty())
    }

    fn formatted(state: PaneState) -> PaneSnapshot {
        let PaneState {
            mut screen,
            title,
            unfinished,
        } = state;
        screen.set_scrollback(0);
        let live = screen.state_formatted();
        let mut out = reset(&screen);
        if !screen.alternate_screen() {
            write_history(&mut screen, &mut out);
        }
        PaneSnapshot::finish(&screen, out, &live, title.as_deref(), unfinished)
    }

    /// The snapshot of the screen `pane` shows, without its history, and the number of its
    /// tap's last change it holds: a few rows, taken under the pane's lock without copying the
    /// history, so that an attaching client draws every pane at once. Last, whether the pane
    /// has a history to send after it (its main screen is up: the alternate screen's snapshot
    /// is all a snapshot can hold). `None` when the pane's view is scrolled back (never on the
    /// server), vt100 panics writing it, or its model is poisoned.
    pub fn screen_of(pane: &Pane) -> Option<(PaneSnapshot, u64, bool)> {
        let (snapshot, tapped) = pane.inspect(|screen, title, unfinished| {
            guard::contained(|| PaneSnapshot::screen_formatted(screen, title, unfinished))
                .ok()
                .flatten()
        })?;
        let (snapshot, history) = snapshot?;
        Some((snapshot, tapped, history))
    }

    fn screen_formatted(
        screen: &vt100::Screen,
        title: Option<&str>,
        unfinished: &[u8],
    ) -> Option<(PaneSnapshot, bool)> {
        if screen.scrollback() != 0 {
            return None;
        }
        let out = reset(screen);
        let live = screen.state_formatted();
        let snapshot = PaneSnapshot::finish(screen, out, &live, title, unfinished.to_vec());
        Some((snapshot, !screen.alternate_screen()))
    }

    /// `out` (the reset and what comes before the screen), then the screen's own state
    /// (`live`: its rows, cursor, pen and modes) and the title.
    fn finish(
        screen: &vt100::Screen,
        mut out: Vec<u8>,
        live: &[u8],
        title: Option<&str>,
        unfinished: Vec<u8>,
    ) -> PaneSnapshot {
        let (rows, cols) = screen.size();
        out.extend_from_slice(live);
        // An empty one takes a title away. A title never holds BEL or ESC (they end the OSC it
        // came in).
        out.extend_from_slice(b"\x1b]2;");
        out.extend_from_slice(title.unwrap_or_default().as_bytes());
        out.push(0x07);
        PaneSnapshot {
            rows,
            cols,
            bytes: text(out),
            unfinished,
        }
    }

    /// Feeds the snapshot into `pane`, resized to the snapshot's size first.
    pub fn apply_to(&self, pane: &Pane) {
        pane.resize(self.rows, self.cols);
        pane.scroll_to_live();
        // Nothing in a snapshot asks the terminal a question: no replies to send.
        pane.feed(self.bytes.as_bytes(), &mut std::io::sink());
        // Last, the start of a sequence or character the agent has not finished: its output
        // after the snapshot finishes it.
        pane.feed(&self.unfinished, &mut std::io::sink());
    }
}

/// What a snapshot begins with: a full reset (the stream also applies to a model that already
/// holds something, a client that fell behind, and leaves no history of its own behind), then
/// the alternate screen when it is up. vt100 shows only the active screen: the main one (and its
/// history) cannot be read while the alternate one is up, so the client gets that one alone.
fn reset(screen: &vt100::Screen) -> Vec<u8> {
    let mut out = b"\x1bc".to_vec();
    if screen.alternate_screen() {
        out.extend_from_slice(b"\x1b[?1049h");
    }
    out
}

/// Writes the main screen's history, oldest line first, into the history of the model that
/// reads `out`: a screenful at a time, each drawn with vt100's own formatting (so wide chars,
/// colors and erased cells come out as they were) and then scrolled up into the history (SU).
/// Consecutive screenfuls share a line, so that a line continued on the next one (a wrapped
/// row) is drawn before its continuation and keeps its wrap.
fn write_history(pages: &mut vt100::Screen, out: &mut Vec<u8>) {
    let (rows, cols) = pages.size();
    // The same size again moves a cursor waiting to wrap past the last column back onto it:
    // vt100 would otherwise end each screenful by redrawing the live row's last cell there.
    pages.set_size(rows, cols);
    pages.set_scrollback(usize::MAX);
    let history = pages.scrollback();
    let step = usize::from(rows.saturating_sub(1).max(1));
    let mut drawn = 0;
    while drawn < history {
        pages.set_scrollback(history - drawn);
        out.extend(pages.contents_formatted());
        let up = step.min(history - drawn);
        out.extend_from_slice(format!("\x1b[{up}S").as_bytes());
        drawn += up;
    }
}

fn text(bytes: Vec<u8>) -> String {
    // vt100 writes only the cells' strings and ASCII: never invalid.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
