//! A task's pane: the terminal model its PTY output is parsed into, on the reader thread, with
//! bounded scrollback and answers to terminal queries. The `changed` flag coalesces notifications.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::clamp::Clamp;
use super::fast_forward::Scanner;
use super::unfinished::Unfinished;

pub const DEFAULT_SCROLLBACK: usize = 2000;

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
}

/// A change to a pane, as its tap is told of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tapped<'a> {
    /// Bytes were parsed (as they came, before any clamping or fast-forwarding).
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
#[derive(Default)]
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
    pub fn new(rows: u16, cols: u16, scrollback: usize) -> Pane {
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
    /// i.e. when the caller should notify the front end.
    pub fn feed(&self, bytes: &[u8], replies: &mut dyn Write) -> bool {
        let answers = match self.model() {
            Some(mut model) => {
                let size = model.parser.screen().size();
                match model.scanner.scan(bytes, size, self.scrollback) {
                    Some(skip) => {
                        model.process(&bytes[..skip.start]);
                        // The alternate screen has no scrollback to push the text through.
                        if model.parser.screen().alternate_screen() {
                            model.process(&bytes[skip.start..skip.end]);
                        } else {
                            model.process(&skip.replacement);
                        }
                        model.process(&bytes[skip.end..]);
                    }
                    None => model.process(bytes),
                }
                let Model {
                    scanner,
                    unfinished,
                    tap,
                    tapped,
                    ..
                } = &mut *model;
                unfinished.follow(scanner, bytes);
                if let Some(tap) = tap {
                    *tapped = tap(Tapped::Output(bytes));
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
    /// output, so the lines above are first scrolled into the history instead.
    pub fn resize(&self, rows: u16, cols: u16) {
        if let Some(mut model) = self.model() {
            let screen = model.parser.screen();
            let (cursor_row, _) = screen.cursor_position();
            let excess = (cursor_row + 1).saturating_sub(rows.max(1));
            // Only between the agent's sequences and characters, where a complete sequence of
            // our own cannot change the meaning of its bytes; and not with a scroll region,
            // where scrolling keeps no history.
            if excess > 0 && !screen.alternate_screen() && model.scanner.at_rest() {
                // Scroll up (SU) and move the cursor up (CUU) with its line: the cursor column,
                // attributes and saved cursor are left alone.
                let ours = format!("\x1b[{excess}S\x1b[{excess}A");
                let size = screen.size();
                model.scanner.scan(ours.as_bytes(), size, self.scrollback);
                model.process(ours.as_bytes());
            }
            model.parser.screen_mut().set_size(rows, cols);
            let Model { tap, tapped, .. } = &mut *model;
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
        let screen = model.parser.screen_mut();
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row_text(pane: &Pane, row: u16) -> String {
        pane.with_screen(|s| {
            let (_, cols) = s.size();
            s.contents_between(row, 0, row, cols)
        })
        .unwrap_or_default()
    }

    #[test]
    fn lines_are_the_history_then_the_screen_and_the_view_stays() {
        let pane = Pane::new(4, 20, 100);
        let mut out = String::new();
        for i in 1..=10 {
            out.push_str(&format!("line {i}\r\n"));
        }
        pane.feed(out.as_bytes(), &mut std::io::sink());
        pane.scroll_to(3);
        let lines = pane.lines();
        let texts: Vec<&str> = lines.iter().map(|l| l.trim_end()).collect();
        let expected: Vec<String> = (1..=10).map(|i| format!("line {i}")).collect();
        assert_eq!(texts[..10], expected);
        assert_eq!(texts[10], "", "the cursor's empty line ends the screen");
        assert_eq!(lines.len(), 11);
        assert_eq!(pane.scroll_offset(), 3);
    }

    #[test]
    fn answers_cursor_position_from_state_before_the_query() {
        let pane = Pane::new(24, 80, 10);
        let mut replies = Vec::new();
        // The query sits between output that moves the cursor and more output after it.
        pane.feed(b"\x1b[5;10Habc\x1b[6nxyz\r\n", &mut replies);
        assert_eq!(replies, b"\x1b[5;13R");
    }

    #[test]
    fn answers_device_status_and_attributes() {
        let pane = Pane::new(24, 80, 10);
        let mut replies = Vec::new();
        pane.feed(b"\x1b[5n", &mut replies);
        assert_eq!(replies, b"\x1b[0n");
        replies.clear();
        pane.feed(b"\x1b[c", &mut replies);
        assert_eq!(replies, b"\x1b[?1;2c");
        replies.clear();
        pane.feed(b"\x1b[0c", &mut replies);
        assert_eq!(replies, b"\x1b[?1;2c");
        replies.clear();
        pane.feed(b"\x1b[>c", &mut replies);
        assert_eq!(replies, b"\x1b[>0;0;0c");
        replies.clear();
        pane.feed(b"plain output\r\n\x1b[31mred\x1b[0m", &mut replies);
        assert!(replies.is_empty());
    }

    #[test]
    fn answers_a_query_split_across_two_feeds() {
        let pane = Pane::new(24, 80, 10);
        let mut replies = Vec::new();
        pane.feed(b"\r\n\r\nab\x1b[", &mut replies);
        assert!(replies.is_empty());
        pane.feed(b"6", &mut replies);
        assert!(replies.is_empty());
        pane.feed(b"n", &mut replies);
        assert_eq!(replies, b"\x1b[3;3R");
        replies.clear();
        pane.feed(b"\x1b", &mut replies);
        pane.feed(b"[>c", &mut replies);
        assert_eq!(replies, b"\x1b[>0;0;0c");
    }

    #[test]
    fn several_queries_in_one_chunk_are_answered_in_order() {
        let pane = Pane::new(24, 80, 10);
        let mut replies = Vec::new();
        pane.feed(b"\x1b[6n\x1b[2;4H\x1b[6n\x1b[c", &mut replies);
        assert_eq!(replies, b"\x1b[1;1R\x1b[2;4R\x1b[?1;2c");
    }

    #[test]
    fn the_title_is_kept_and_an_empty_one_takes_it_away() {
        let pane = Pane::new(4, 20, 10);
        let mut sink = std::io::sink();
        assert_eq!(pane.title(), None);
        pane.feed(b"\x1b]0;first\x07text", &mut sink);
        assert_eq!(pane.title().as_deref(), Some("first"));
        pane.feed(b"\x1b]2;second\x1b\\", &mut sink);
        assert_eq!(pane.title().as_deref(), Some("second"));
        // The icon name alone is not the title.
        pane.feed(b"\x1b]1;icon\x07", &mut sink);
        assert_eq!(pane.title().as_deref(), Some("second"));
        pane.feed(b"\x1b]2;\x07", &mut sink);
        assert_eq!(pane.title(), None);
    }

    #[test]
    fn feed_reports_only_the_first_change_until_taken() {
        let pane = Pane::new(4, 20, 10);
        let mut sink = std::io::sink();
        assert!(pane.feed(b"a", &mut sink));
        assert!(!pane.feed(b"b", &mut sink));
        assert!(pane.take_changed());
        assert!(!pane.take_changed());
        assert!(pane.feed(b"c", &mut sink));
    }

    #[test]
    fn scrollback_is_bounded() {
        let pane = Pane::new(5, 20, 100);
        let mut sink = std::io::sink();
        for i in 0..3000 {
            pane.feed(format!("line {i}\r\n").as_bytes(), &mut sink);
        }
        pane.scroll_by(isize::MAX);
        assert_eq!(pane.scroll_offset(), 100);
        // The oldest line kept is 100 lines above the top of the live screen.
        let live_top = 3000 - 4;
        assert_eq!(row_text(&pane, 0), format!("line {}", live_top - 100));
    }

    #[test]
    fn a_scrolled_view_stays_put_when_output_arrives() {
        let pane = Pane::new(5, 20, 100);
        let mut sink = std::io::sink();
        for i in 0..50 {
            pane.feed(format!("line {i}\r\n").as_bytes(), &mut sink);
        }
        pane.scroll_by(10);
        let before: Vec<String> = (0..5).map(|r| row_text(&pane, r)).collect();
        for i in 50..60 {
            pane.feed(format!("line {i}\r\n").as_bytes(), &mut sink);
        }
        let after: Vec<String> = (0..5).map(|r| row_text(&pane, r)).collect();
        assert_eq!(before, after);
        assert_eq!(pane.scroll_offset(), 20);
        pane.scroll_to_live();
        assert_eq!(pane.scroll_offset(), 0);
        assert_eq!(row_text(&pane, 3), "line 59");
        pane.scroll_by(-5);
        assert_eq!(pane.scroll_offset(), 0);
    }

    #[test]
    fn shrinking_keeps_the_newest_lines_and_scrolls_the_rest_into_the_history() {
        let pane = Pane::new(24, 80, 100);
        let mut sink = std::io::sink();
        for i in 1..=30 {
            pane.feed(format!("line {i}\r\n").as_bytes(), &mut sink);
        }
        pane.resize(10, 80);
        // The cursor's (empty) line stays at the bottom, the last line printed just above it.
        assert_eq!(pane.with_screen(|s| s.cursor_position()), Some((9, 0)));
        assert_eq!(row_text(&pane, 8), "line 30");
        assert_eq!(row_text(&pane, 0), "line 22");
        // Every earlier line is in the history, in order, none lost.
        pane.scroll_by(isize::MAX);
        assert_eq!(pane.scroll_offset(), 21);
        assert_eq!(row_text(&pane, 0), "line 1");
        pane.scroll_by(-10);
        assert_eq!(row_text(&pane, 0), "line 11");
        assert_eq!(row_text(&pane, 9), "line 20");
        pane.scroll_to_live();
        pane.feed(b"line 31\r\n", &mut sink);
        assert_eq!(row_text(&pane, 7), "line 30");
        assert_eq!(row_text(&pane, 8), "line 31");
    }

    #[test]
    fn shrinking_leaves_the_screen_alone_in_the_middle_of_a_sequence() {
        let pane = Pane::new(24, 80, 100);
        let mut replies = Vec::new();
        for i in 1..=30 {
            pane.feed(format!("line {i}\r\n").as_bytes(), &mut replies);
        }
        // A cursor report split by the resize: our bytes must not go into it.
        pane.feed(b"\x1b[", &mut replies);
        pane.resize(10, 80);
        pane.feed(b"6n", &mut replies);
        assert_eq!(replies, b"\x1b[10;1R");
        // Half a character: its first byte is waiting in the parser.
        let pane = Pane::new(24, 80, 100);
        for i in 1..=30 {
            pane.feed(format!("line {i}\r\n").as_bytes(), &mut replies);
        }
        pane.feed("é".as_bytes().split_at(1).0, &mut replies);
        pane.resize(10, 80);
        pane.feed("é".as_bytes().split_at(1).1, &mut replies);
        let cell = pane.with_screen(|s| s.cell(9, 0).map(|c| c.contents().to_string()));
        assert_eq!(cell.flatten().as_deref(), Some("é"));
    }

    #[test]
    fn shrinking_the_alternate_screen_scrolls_nothing_into_the_history() {
        let pane = Pane::new(24, 80, 100);
        let mut sink = std::io::sink();
        pane.feed(b"\x1b[?1049h\x1b[24;1Hbottom", &mut sink);
        pane.resize(10, 80);
        pane.scroll_by(isize::MAX);
        assert_eq!(pane.scroll_offset(), 0);
    }

    #[test]
    fn a_flood_of_huge_counts_leaves_the_screen_they_ask_for() {
        let pane = Pane::new(6, 20, 10);
        let mut sink = std::io::sink();
        let flood = |pane: &Pane, sequence: &str| {
            let mut sink = std::io::sink();
            pane.feed(sequence.repeat(1000).as_bytes(), &mut sink);
        };
        let rows = |pane: &Pane| (0..6).map(|r| row_text(pane, r)).collect::<Vec<_>>();
        pane.feed(
            b"0123456789\r\nsecond\r\nthird\r\nfourth\x1b[1;4H",
            &mut sink,
        );
        // Insert characters: everything right of the cursor goes.
        flood(&pane, "\x1b[999999999@");
        pane.feed(b"X\x1b[3;1H", &mut sink);
        // Insert lines: everything from the cursor's line down goes.
        flood(&pane, "\x1b[999999999L");
        assert_eq!(rows(&pane), ["012X", "second", "", "", "", ""]);
        // Cursor moves stop at the edges; repeat does nothing (vt100 does not know it).
        flood(&pane, "\x1b[999999999B\x1b[999999999C\x1b[999999999b");
        pane.feed(b"!", &mut sink);
        flood(&pane, "\x1b[999999999D");
        pane.feed(b"bottom", &mut sink);
        assert_eq!(rows(&pane)[5], format!("bottom{}!", " ".repeat(13)));
        // Scrolling down clears the screen; the history is what it was.
        flood(&pane, "\x1b[999999999T");
        assert_eq!(rows(&pane), ["", "", "", "", "", ""]);
        pane.scroll_by(isize::MAX);
        assert_eq!(pane.scroll_offset(), 0);
        pane.scroll_to_live();
        // Deleting, erasing and scrolling up too.
        pane.feed(b"\x1b[Habc\r\ndef\x1b[1;2H", &mut sink);
        flood(&pane, "\x1b[999999999P\x1b[999999999X\x1b[999999999M");
        pane.feed(b"\x1b[2;1Hlast\r\n", &mut sink);
        assert_eq!(rows(&pane), ["", "last", "", "", "", ""]);
        // Scrolling up pushes the screen into the history, which stays as long as it is kept.
        pane.feed(b"\x1b[999999999S", &mut sink);
        pane.scroll_by(isize::MAX);
        assert_eq!(pane.scroll_offset(), 6);
        assert_eq!(row_text(&pane, 1), "last");
        pane.scroll_to_live();
        flood(&pane, "\x1b[999999999S");
        pane.scroll_by(isize::MAX);
        assert_eq!(pane.scroll_offset(), 10);
    }

    #[test]
    fn resize_changes_the_screen_and_cursor_reports_follow() {
        let pane = Pane::new(24, 80, 10);
        pane.resize(10, 30);
        assert_eq!(pane.with_screen(|s| s.size()), Some((10, 30)));
        let mut replies = Vec::new();
        pane.feed(b"\x1b[99;99H\x1b[6n", &mut replies);
        assert_eq!(replies, b"\x1b[10;30R");
    }
}

/// Fast-forwarding must leave every pane exactly as parsing everything would.
#[cfg(test)]
mod fast_forward_tests {
    use super::*;

    const ROWS: u16 = 5;
    const COLS: u16 = 20;
    const SCROLLBACK: usize = 30;

    /// A stream that is mostly floods of lines, with every kind of sequence that must stop or
    /// survive a fast-forward mixed in.
    fn stream(rng: &mut fastrand::Rng) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..rng.usize(20..60) {
            match rng.u8(0..20) {
                0..=9 => {
                    for _ in 0..rng.usize(1..200) {
                        // Mostly lines that fit, so that line feeds are all that scrolls and
                        // an off-by-one in what is skipped shows in the oldest scrollback rows.
                        let len = if rng.u8(0..10) == 0 {
                            rng.usize(0..50)
                        } else {
                            rng.usize(0..=usize::from(COLS))
                        };
                        out.extend((0..len).map(|_| rng.u8(0x20..0x7f)));
                        if rng.u8(0..8) == 0 {
                            out.extend_from_slice(b"\x1b[1;3");
                            out.push(b'0' + rng.u8(0..8));
                            out.push(b'm');
                        }
                        out.extend_from_slice(if rng.u8(0..10) == 0 { b"\n" } else { b"\r\n" });
                    }
                }
                10 => out.extend_from_slice("é中🙂x\u{301}\r\n".as_bytes()),
                11 => out.extend_from_slice(b"\x1b[3A\x1b[2;5Hmoved\x1b[K"),
                // A scroll region with the cursor below it: line feeds there scroll nothing.
                12 => out.extend_from_slice(b"\x1b[2;4r\x1b[5;1H"),
                13 => out.extend_from_slice(b"\x1b[r"),
                14 => out.extend_from_slice(b"\x1b[?1049h"),
                15 => out.extend_from_slice(b"\x1b[?1049l"),
                16 => out.extend_from_slice(b"\x1b]0;title\r\nstill title\r\n"),
                17 => out.extend_from_slice(b"\x07\x18\t\x08\x1b[6n\x1b[0m"),
                18 => out.extend_from_slice(b"\xe4\xb8"),
                _ => out.extend_from_slice(b"\x1bc"),
            }
        }
        out
    }

    fn chunks(bytes: &[u8], rng: &mut fastrand::Rng) -> Vec<Vec<u8>> {
        let mut parts = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            // Mostly large batches (where fast-forwarding happens), some tiny ones.
            let n = if rng.bool() {
                rng.usize(1..16)
            } else {
                rng.usize(1000..20_000)
            };
            let (head, tail) = rest.split_at(n.min(rest.len()));
            parts.push(head.to_vec());
            rest = tail;
        }
        parts
    }

    /// Everything visible: each scrollback position's screen with attributes, the cursor, the
    /// modes, and where the view is.
    fn snapshot(screen: &mut vt100::Screen) -> Vec<Vec<u8>> {
        let offset = screen.scrollback();
        let mut views = vec![screen.state_formatted(), offset.to_string().into_bytes()];
        for back in (0..=SCROLLBACK).step_by(3) {
            screen.set_scrollback(back);
            views.push(screen.contents_formatted());
        }
        screen.set_scrollback(offset);
        views
    }

    #[test]
    fn fast_forwarded_panes_equal_fully_parsed_ones() {
        let mut skipped_bytes = 0;
        for seed in 0..200 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let bytes = stream(&mut rng);
            let pane = Pane::new(ROWS, COLS, SCROLLBACK);
            let mut reference =
                vt100::Parser::new_with_callbacks(ROWS, COLS, SCROLLBACK, Queries::default());
            let (mut pane_replies, mut reference_replies) = (Vec::new(), Vec::new());
            let scrolled_back = seed % 3 == 0;
            if scrolled_back {
                // A view scrolled into the history must stay the same too.
                reference.process(&b"line\r\n".repeat(40));
                reference.screen_mut().set_scrollback(7);
                pane.feed(&b"line\r\n".repeat(40), &mut pane_replies);
                pane.scroll_by(7);
            }
            for chunk in chunks(&bytes, &mut rng) {
                {
                    let model = pane.model().unwrap();
                    let size = model.parser.screen().size();
                    if let Some(skip) = model.scanner.clone().scan(&chunk, size, SCROLLBACK) {
                        skipped_bytes += skip.end - skip.start;
                    }
                }
                pane.feed(&chunk, &mut pane_replies);
                reference.process(&chunk);
                reference_replies.append(&mut reference.callbacks_mut().replies);
                // After every batch, not just at the end: later output would hide a mistake.
                let mut model = pane.model().unwrap();
                assert_eq!(
                    snapshot(model.parser.screen_mut()),
                    snapshot(reference.screen_mut()),
                    "seed {seed}"
                );
            }
            assert_eq!(pane_replies, reference_replies, "seed {seed}");
        }
        assert!(
            skipped_bytes > 1_000_000,
            "only {skipped_bytes} bytes fast-forwarded"
        );
    }
}
