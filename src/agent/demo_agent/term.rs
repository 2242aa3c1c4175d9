//! The demo agent's terminal voice: colored lines, a spinner and a progress bar redrawn with
//! `\r`, all paced so a run of `duration` seconds spreads its output evenly. Redrawn lines fit
//! the terminal's width, read again before every frame, so a pane that is narrow (or resized)
//! never gets a line that wraps and leaves a copy of itself on every frame.

use std::io::Write;
use std::time::{Duration, Instant};

pub const RESET: &str = "\x1b[0m";
pub const BOLD: &str = "\x1b[1m";
pub const DIM: &str = "\x1b[2m";
pub const RED: &str = "\x1b[31m";
pub const GREEN: &str = "\x1b[32m";
pub const YELLOW: &str = "\x1b[33m";
pub const BLUE: &str = "\x1b[34m";
pub const MAGENTA: &str = "\x1b[35m";
pub const CYAN: &str = "\x1b[36m";
/// Carriage return plus "erase line", so a redrawn line never leaves a longer tail behind.
const REDRAW: &str = "\r\x1b[2K";

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const FRAME: Duration = Duration::from_millis(80);
const BAR_WIDTH: usize = 24;

/// How many pacing units a whole successful run uses; every step takes a share of them.
pub const RUN_UNITS: u32 = 100;

/// Writes agent output and sleeps between frames so the run lasts about `duration`.
pub struct Term<'a> {
    out: &'a mut dyn Write,
    unit: Duration,
    /// When the whole run should be over (`None` if that is past the clock's range).
    end: Option<Instant>,
    /// The terminal's width now, when known.
    columns: &'a dyn Fn() -> Option<u16>,
}

impl<'a> Term<'a> {
    pub fn new(
        out: &'a mut dyn Write,
        duration: Duration,
        columns: &'a dyn Fn() -> Option<u16>,
    ) -> Self {
        Term {
            out,
            unit: duration / RUN_UNITS,
            end: Instant::now().checked_add(duration),
            columns,
        }
    }

    /// Waits out what is left of the run's duration (the steps' rounding leaves a little).
    pub fn finish(&mut self) {
        if let Some(end) = self.end {
            std::thread::sleep(end.saturating_duration_since(Instant::now()));
        }
    }

    /// One finished line. Output errors are ignored on purpose: a closed pane must not stop
    /// the agent from writing its files and result.
    pub fn line(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}{RESET}");
        let _ = self.out.flush();
    }

    /// A tool-call-like header, e.g. `⏺ Read(src/utils.py)`.
    pub fn tool(&mut self, name: &str, arg: &str) {
        self.line(&format!("{MAGENTA}⏺{RESET} {BOLD}{name}{RESET}({arg})"));
    }

    /// An indented detail under a tool call.
    pub fn detail(&mut self, text: &str) {
        self.line(&format!("  {DIM}⎿{RESET}  {text}"));
    }

    /// Waits `units` pacing units without drawing anything.
    pub fn pause(&mut self, units: u32) {
        std::thread::sleep(self.unit.saturating_mul(units));
    }

    /// A spinner next to `label` for `units`, then `done` in its place.
    pub fn spin(&mut self, label: &str, units: u32, done: &str) {
        let (count, wait) = self.frames(units);
        for i in 0..count {
            let frame = SPINNER[i as usize % SPINNER.len()];
            self.redraw(&format!("{CYAN}{frame}{RESET} {label}{DIM}…{RESET}"));
            std::thread::sleep(wait);
        }
        self.redraw(&format!("{GREEN}✓{RESET} {done}\n"));
    }

    /// A progress bar filling from 0 to 100% over `units`.
    pub fn progress(&mut self, label: &str, units: u32) {
        let (count, wait) = self.frames(units);
        for i in 0..count {
            let room = self.room();
            self.redraw(&bar(label, i, count, room));
            std::thread::sleep(wait);
        }
        let room = self.room();
        self.redraw(&format!("{}\n", bar(label, count, count, room)));
    }

    /// A spinner that never stops: the agent is stuck waiting (the timeout demo).
    pub fn spin_forever(&mut self, label: &str) -> ! {
        let since = Instant::now();
        loop {
            for frame in SPINNER {
                let secs = since.elapsed().as_secs();
                self.redraw(&format!(
                    "{YELLOW}{frame}{RESET} {label}{DIM}… ({secs}s){RESET}"
                ));
                std::thread::sleep(FRAME);
            }
        }
    }

    /// Redraws the current line, cut to the terminal's width.
    fn redraw(&mut self, text: &str) {
        let text = match self.room() {
            Some(room) => fit(text, room),
            None => text.to_string(),
        };
        let _ = write!(self.out, "{REDRAW}{text}");
        let _ = self.out.flush();
    }

    /// Columns a redrawn line may take: one less than the terminal's, so the cursor never
    /// waits past the last column (where the next character would wrap).
    fn room(&self) -> Option<usize> {
        (self.columns)().map(|cols| usize::from(cols).saturating_sub(1).max(1))
    }

    /// Frame count and wait per frame of an animation lasting `units`: about one frame per
    /// `FRAME`, and at least one so a zero-duration run still draws everything once.
    fn frames(&self, units: u32) -> (u32, Duration) {
        let total = self.unit.saturating_mul(units);
        let count = (total.as_millis() / FRAME.as_millis()).max(1);
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        (count, total / count)
    }
}

/// `label [████░░░░]  50%`, the bar as long as fits in `room` columns (up to `BAR_WIDTH`); with
/// no room for a bar of a few cells, `label  50%`.
fn bar(label: &str, done: u32, of: u32, room: Option<usize>) -> String {
    // Around the label and the bar: " [", "] " and "100%".
    const AROUND: usize = 8;
    const MIN_BAR: usize = 4;
    let (done, of) = (u64::from(done), u64::from(of.max(1)));
    let percent = 100 * done / of;
    let width = room.map_or(BAR_WIDTH, |room| {
        room.saturating_sub(label.chars().count() + AROUND)
            .min(BAR_WIDTH)
    });
    if width < MIN_BAR {
        return format!("{BLUE}{label}{RESET} {percent:>3}%");
    }
    let filled = (width as u64 * done / of) as usize;
    format!(
        "{BLUE}{label}{RESET} [{GREEN}{}{DIM}{}{RESET}] {percent:>3}%",
        "█".repeat(filled),
        "░".repeat(width - filled)
    )
}

/// `text` cut after `room` visible characters (each counted as one column: the agent's redrawn
/// lines hold no wide characters); escape sequences are kept whole and cost nothing. A cut line
/// ends with a reset so no color runs on.
fn fit(text: &str, room: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut shown = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters, then one final byte in '@'..='~'.
            out.push(c);
            if chars.peek() == Some(&'[') {
                out.extend(chars.next());
                for c in chars.by_ref() {
                    out.push(c);
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        if c == '\n' || shown < room {
            shown += usize::from(c != '\n');
            out.push(c);
        } else {
            out.push_str(RESET);
            // The line's end still comes, when it has one.
            if text.ends_with('\n') {
                out.push('\n');
            }
            return out;
        }
    }
    out
}

/// The width of the terminal on standard output (TIOCGWINSZ), else `COLUMNS`, else unknown.
pub fn stdout_columns() -> Option<u16> {
    // SAFETY: TIOCGWINSZ fills a winsize struct we own; on failure it is left zeroed.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        return Some(size.ws_col);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|&c| c > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible(text: &str) -> usize {
        strip_ansi_escapes::strip_str(text)
            .trim_end_matches('\n')
            .chars()
            .count()
    }

    #[test]
    fn the_bar_fits_its_room_down_to_no_bar() {
        for room in 1..60 {
            for done in [0, 5, 10] {
                let line = fit(&bar("checking changes", done, 10, Some(room)), room);
                assert!(visible(&line) <= room, "{room}: {line:?}");
            }
        }
        assert!(bar("checking changes", 5, 10, Some(30)).contains('█'));
        assert!(!bar("checking changes", 5, 10, Some(20)).contains('█'));
        let unknown = strip_ansi_escapes::strip_str(bar("x", 10, 10, None));
        assert_eq!(unknown.matches('█').count(), BAR_WIDTH, "{unknown}");
    }

    #[test]
    fn fit_keeps_escapes_whole_and_the_line_end() {
        assert_eq!(fit("\x1b[32mabcdef\x1b[0m\n", 3), "\x1b[32mabc\x1b[0m\n");
        assert_eq!(fit("ab\n", 5), "ab\n");
        assert_eq!(fit("⠋ thinking…", 4), "⠋ th\x1b[0m");
    }
}
