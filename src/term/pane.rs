//! A task's pane: the terminal model its PTY output is parsed into, on the reader thread, with
//! bounded scrollback and answers to terminal queries. The `changed` flag coalesces notifications.

use std::borrow::Cow;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::clamp::Clamp;
use super::fast_forward::Scanner;
use super::guard::{self, Contained};
use super::unfinished::Unfinished;

pub const DEFAULT_SCROLLBACK: usize = 2000;

/// The smallest screen a pane (and so its agent's terminal) has: vt100 panics on most output
/// with one row or one column, and a remote client may ask for any size.
pub const MIN_ROWS: u16 = 2;
pub const MIN_COLS: u16 = 2;

/// `rows` × `cols`, at least `MIN_ROWS` × `MIN_COLS`: the size a pane and its PTY both take,
/// so the agent's terminal and the model always agree.
pub fn pane_size(rows: u16, cols: u16) -> (u16, u16) {
    (rows.max(MIN_ROWS), cols.max(MIN_COLS))
}

pub struct Pane {
    model: Mutex<Model>,
    scrollback: usize,
    changed: AtomicBool,
}

/// The parser and what follows its input for fast-forwarding and clamping counts, under one
/// lock: they must all see every byte in the same order.
struct Model {
    parser: vt100::Parser<Queries>,
    scanner: Scanner,
    clamp: Clamp,
    /// What the parser holds of a sequence or character it has not finished: a copy of the
    /// screen does not hold it, a snapshot must.
    unfinished: Unfinished,
    /// Told of every change, under this lock (see `Tap`).
    tap: Option<Tap>,
    /// The number the tap gave the last change it was told of.
    tapped: u64,
    /// How many times vt100 panicked and the model was reset (see `recover`).
    resets: u64,
}

/// A change to a pane, as its tap is told of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tapped<'a> {
    /// Bytes were parsed: the agent's as they came (before any clamping), except that text
    /// fast-forwarded (`fast_forward.rs`: scrolled out of the screen and the scrollback unseen)
    /// is the line feeds that replaced it. A model of the same size and scrollback fed them ends
    /// exactly as this one, having parsed no more than it did: a flood costs an attached
    /// client what it cost the server, not every byte of it.
    Output(&'a [u8]),
    /// The screen was resized.
    Resized { rows: u16, cols: u16 },
}

/// Told of each change to a pane while its lock is held, so that a copy of the pane's state
/// taken with `state_and_tapped` holds exactly the changes up to the number the tap returned
/// last: a server streams a pane's bytes to its clients this way, after a snapshot.
pub type Tap = Box<dyn FnMut(Tapped<'_>) -> u64 + Send>;

/// A copy of everything a pane's parser holds, taken at one moment.
#[derive(Debug, Clone)]
pub struct PaneState {
    pub screen: vt100::Screen,
    pub title: Option<String>,
    /// See `Unfinished`.
    pub unfinished: Vec<u8>,
}

impl Model {
    fn state(&self) -> PaneState {
        PaneState {
            screen: self.parser.screen().clone(),
            title: self.parser.callbacks().title.clone(),
            unfinished: self.unfinished.bytes().to_vec(),
        }
    }

    /// Parses `bytes`, counts clamped to the screen (see `clamp.rs`).
    fn process(&mut self, bytes: &[u8]) {
        let (rows, cols) = self.parser.screen().size();
        let bytes = self.clamp.rewrite(bytes, rows.max(cols));
        self.parser.process(&bytes);
    }

    /// After vt100 panicked (contained) while changing the screen: a fresh model of `size`,
    /// showing the old screen if vt100 can still write and read it, blank otherwise. The title
    /// and the replies not yet sent are kept; what follows the agent's bytes starts over with
    /// the fresh parser, between sequences.
    fn recover(&mut self, (rows, cols): (u16, u16), scrollback: usize, panic: Contained) {
        tracing::warn!("a pane's terminal model was reset: {}", panic.message);
        let old = &self.parser;
        let seed = guard::contained(|| old.screen().state_formatted()).ok();
        let callbacks = std::mem::take(self.parser.callbacks_mut());
        let fresh =
            |callbacks| vt100::Parser::new_with_callbacks(rows, cols, scrollback, callbacks);
        let mut parser = fresh(callbacks.clone());
        if let Some(seed) = seed {
            if guard::contained(|| parser.process(&seed)).is_err() {
                parser = fresh(callbacks);
            }
        }
        *self = Model {
            parser,
            scanner: Scanner::default(),
            clamp: Clamp::default(),
            unfinished: Unfinished::default(),
            tap: self.tap.take(),
            tapped: self.tapped,
            resets: self.resets + 1,
        };
    }
}

impl std::fmt::Debug for Pane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pane").finish_non_exhaustive()
    }
}

/// Collects answers to terminal queries while the parser runs. The parser calls back with the
/// screen exactly as it is after the bytes before the query, so a cursor position report is right
/// even when the query sits in the middle of a chunk or arrives split over two chunks. It also
/// keeps the window title the agent set: vt100 hands it to a callback and keeps no copy.
#[derive(Default, Clone)]
struct Queries {
    replies: Vec<u8>,
    title: Option<String>,
}

impl vt100::Callbacks for Queries {
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        // An empty title is no title (it is how a title is taken away).
        self.title = (!title.is_empty()).then(|| String::from_utf8_lossy(title).into_owned());
    }

    fn unhandled_csi(
        &mut self,
        screen: &mut vt100::Screen,
        i1: Option<u8>,
        i2: Option<u8>,
        params: &[&[u16]],
        c: char,
    ) {
        let first = params.first().and_then(|p| p.first()).copied().unwrap_or(0);
        // Writing into a Vec cannot fail.
        let _ = match (i1, i2, c, first) {
            (None, None, 'n', 5) => self.replies.write_all(b"\x1b[0n"),
            (None | Some(b'?'), None, 'n', 6) => {
                let (row, col) = screen.cursor_position();
                let (_, cols) = screen.size();
                let col = col.min(cols.saturating_sub(1));
                let private = if i1.is_some() { "?" } else { "" };
                write!(self.replies, "\x1b[{private}{};{}R", row + 1, col + 1)
            }
            (None, None, 'c', 0) => self.replies.write_all(b"\x1b[?1;2c"),
            (Some(b'>'), None, 'c', 0) => self.replies.write_all(b"\x1b[>0;0;0c"),
            _ => Ok(()),
        };
    }
}

impl Pane {
    /// A blank pane of `rows` × `cols`, at least `MIN_ROWS` × `MIN_COLS` (see `pane_size`).
    pub fn new(rows: u16, cols: u16, scrollback: usize) -> Pane {
        let (rows, cols) = pane_size(rows, cols);
        Pane {
            model: Mutex::new(Model {
                parser: vt100::Parser::new_with_callbacks(
                    rows,
                    cols,
                    scrollback,
                    Queries::default(),
                ),
                scanner: Scanner::default(),
                clamp: Clamp::default(),
                unfinished: Unfinished::default(),
                tap: None,
                tapped: 0,
                resets: 0,
            }),
            scrollback,
            changed: AtomicBool::new(false),
        }
    }

    fn model(&self) -> Option<MutexGuard<'_, Model>> {
        self.model.lock().ok()
    }

    /// Parses output (called on the PTY reader thread). `replies` is the PTY's input, for
    /// answering terminal queries. Returns true when the pane went from unchanged to changed,
    /// i.e. when the caller should notify the front end. Output that makes vt100 panic resets
    /// the pane (see `Model::recover`); the tap is told of the bytes all the same.
    pub fn feed(&self, bytes: &[u8], replies: &mut dyn Write) -> bool {
        let answers = match self.model() {
            Some(mut model) => {
                let model = &mut *model;
                let size = model.parser.screen().size();
                let parsed = guard::contained(|| {
                    match model.scanner.scan(bytes, size, self.scrollback) {
                        Some(skip) => {
                            model.process(&bytes[..skip.start]);
                            // The alternate screen has no scrollback to push the text through.
                            if model.parser.screen().alternate_screen() {
                                model.process(&bytes[skip.start..]);
                                return Cow::Borrowed(bytes);
                            }
                            model.process(&skip.replacement);
                            model.process(&bytes[skip.end..]);
                            let mut taken = Vec::with_capacity(
                                skip.start + skip.replacement.len() + (bytes.len() - skip.end),
                            );
                            taken.extend_from_slice(&bytes[..skip.start]);
                            taken.extend_from_slice(&skip.replacement);
                            taken.extend_from_slice(&bytes[skip.end..]);
                            Cow::Owned(taken)
                        }
                        None => {
                            model.process(bytes);
                            Cow::Borrowed(bytes)
                        }
                    }
                });
                let taken = match parsed {
                    Ok(taken) => {
                        model.unfinished.follow(&model.scanner, bytes);
                        taken
                    }
                    Err(panic) => {
                        model.recover(size, self.scrollback, panic);
                        Cow::Borrowed(bytes)
                    }
                };
                let Model { tap, tapped, .. } = model;
                if let Some(tap) = tap {
                    *tapped = tap(Tapped::Output(&taken));
                }
                let queued = &mut model.parser.callbacks_mut().replies;
                // Taken out (allocating only when an agent asked something) so the write below
                // happens without the lock: a PTY whose agent does not read its input can block.
                (!queued.is_empty()).then(|| std::mem::take(queued))
            }
            None => None,
        };
        if let Some(answers) = answers {
            // A failed reply means the agent's side of the PTY is gone; nothing is waiting for it.
            let _ = replies.write_all(&answers).and_then(|()| replies.flush());
        }
        !self.changed.swap(true, Ordering::AcqRel)
    }

    /// How many times the terminal model panicked on this pane's output or resize and was
    /// reset (each also logged as a warning).
    pub fn resets(&self) -> u64 {
        self.model().map_or(0, |m| m.resets)
    }

    /// How many lines of history it keeps.
    pub fn scrollback(&self) -> usize {
        self.scrollback
    }

    /// Clears the changed flag; true if it was set. Front ends call this when they draw.
    pub fn take_changed(&self) -> bool {
        self.changed.swap(false, Ordering::AcqRel)
    }

    /// Resizes the screen. Shrinking keeps the cursor's line on screen as xterm does: vt100
    /// drops the rows below the new height, which on the main screen are usually the newest
    /// output, so the lines above are first scrolled into the history instead. The pane is
    /// never smaller than `MIN_ROWS` × `MIN_COLS`; where vt100 panics, the pane is reset to
    /// the new size.
    pub fn resize(&self, rows: u16, cols: u16) {
        let (rows, cols) = pane_size(rows, cols);
        if let Some(mut model) = self.model() {
            let model = &mut *model;
            let resized = guard::contained(|| {
                let screen = model.parser.screen();
                let (cursor_row, _) = screen.cursor_position();
                let excess = (cursor_row + 1).saturating_sub(rows);
                // Only between the agent's sequences and characters, where a complete sequence
                // of our own cannot change the meaning of its bytes; and not with a scroll
                // region, where scrolling keeps no history.
                if excess > 0 && !screen.alternate_screen() && model.scanner.at_rest() {
                    // Scroll up (SU) and move the cursor up (CUU) with its line: the cursor
                    // column, attributes and saved cursor are left alone.
                    let ours = format!("\x1b[{excess}S\x1b[{excess}A");
                    let size = screen.size();
                    model.scanner.scan(ours.as_bytes(), size, self.scrollback);
                    model.process(ours.as_bytes());
                }
                model.parser.screen_mut().set_size(rows, cols);
            });
            if let Err(panic) = resized {
                model.recover((rows, cols), self.scrollback, panic);
            }
            let Model { tap, tapped, .. } = model;
            if let Some(tap) = tap {
                *tapped = tap(Tapped::Resized { rows, cols });
            }
        }
    }

    /// Installs the pane's tap. `install` gets the pane's state at that moment (under the
    /// lock: no change slips between) and returns the tap and the number the state stands at.
    pub fn set_tap(&self, install: impl FnOnce(PaneState) -> (Tap, u64)) {
        if let Some(mut model) = self.model() {
            let (tap, tapped) = install(model.state());
            model.tap = Some(tap);
            model.tapped = tapped;
        }
    }

    /// A copy of the pane's state, and the number its tap gave the last change it holds.
    pub fn state_and_tapped(&self) -> Option<(PaneState, u64)> {
        self.model().map(|m| (m.state(), m.tapped))
    }

    /// Runs `f` on the pane's screen, title and unfinished bytes as they are, under the lock:
    /// with the number its tap gave the last change they hold (see `state_and_tapped`), without
    /// copying the history.
    pub fn inspect<R>(
        &self,
        f: impl FnOnce(&vt100::Screen, Option<&str>, &[u8]) -> R,
    ) -> Option<(R, u64)> {
        self.model().map(|m| {
            let seen = f(
                m.parser.screen(),
                m.parser.callbacks().title.as_deref(),
                m.unfinished.bytes(),
            );
            (seen, m.tapped)
        })
    }

    /// Runs `f` with the current screen.
    pub fn with_screen<R>(&self, f: impl FnOnce(&vt100::Screen) -> R) -> Option<R> {
        self.model().map(|m| f(m.parser.screen()))
    }

    /// A copy of the screen (history included), the title and the unfinished bytes, all from
    /// the same moment.
    pub fn state(&self) -> Option<PaneState> {
        self.model().map(|m| m.state())
    }

    /// The window title the agent last set (OSC 0 or 2), if any and not empty.
    pub fn title(&self) -> Option<String> {
        self.model()
            .and_then(|m| m.parser.callbacks().title.clone())
    }

    /// Moves the view `lines` into the history (positive) or back towards live output
    /// (negative). The view is clamped to the history kept. While scrolled back, new output
    /// leaves the view where it is.
    pub fn scroll_by(&self, lines: isize) {
        if let Some(mut model) = self.model() {
            let screen = model.parser.screen_mut();
            let offset = screen.scrollback().saturating_add_signed(lines);
            screen.set_scrollback(offset);
        }
    }

    /// Returns the view to live output.
    pub fn scroll_to_live(&self) {
        if let Some(mut model) = self.model() {
            model.parser.screen_mut().set_scrollback(0);
        }
    }

    /// How many lines back into the history the view is (0 = live).
    pub fn scroll_offset(&self) -> usize {
        self.with_screen(|s| s.scrollback()).unwrap_or(0)
    }

    /// Puts the view `offset` lines back into the history (clamped to the history kept).
    pub fn scroll_to(&self, offset: usize) {
        if let Some(mut model) = self.model() {
            model.parser.screen_mut().set_scrollback(offset);
        }
    }

    /// Every line the pane keeps as text, oldest first: its history, then its screen. The view
    /// stays where it was.
    pub fn lines(&self) -> Vec<String> {
        let Some(mut model) = self.model() else {
            return Vec::new();
        };
        let model = &mut *model;
        let size = model.parser.screen().size();
        match guard::contained(|| lines_of(model.parser.screen_mut())) {
            Ok(lines) => lines,
            Err(panic) => {
                model.recover(size, self.scrollback, panic);
                guard::contained(|| lines_of(model.parser.screen_mut())).unwrap_or_default()
            }
        }
    }
}

/// See `Pane::lines`.
fn lines_of(screen: &mut vt100::Screen) -> Vec<String> {
    let (rows, cols) = screen.size();
    let rows = usize::from(rows);
    let was = screen.scrollback();
    screen.set_scrollback(usize::MAX);
    let history = screen.scrollback();
    let mut lines = Vec::with_capacity(history + rows);
    // A screenful at a time: line `i` (0 = the oldest kept) is at the top of the view when
    // it is `history - i` lines back; the screen's own lines are there when it is live.
    while lines.len() < history + rows {
        let next = lines.len();
        let back = history.saturating_sub(next);
        screen.set_scrollback(back);
        let top = history - back;
        let shown = screen.rows(0, cols).enumerate();
        lines.extend(shown.filter(|(r, _)| top + r >= next).map(|(_, row)| row));
        if lines.len() == next {
            break;
        }
    }
    screen.set_scrollback(was);
    lines
}

#[cfg(test)]
#[path = "pane_tests.rs"]
mod tests;

/// Hostile output and sizes never panic out of a pane.
#[cfg(test)]
#[path = "pane_guard_tests.rs"]
mod guard_tests;

/// Fast-forwarding must leave every pane exactly as parsing everything would.
#[cfg(test)]
#[path = "pane_fast_forward_tests.rs"]
mod fast_forward_tests;
