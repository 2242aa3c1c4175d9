//! The demo agent's terminal voice: colored lines, a spinner and a progress bar redrawn with
//! `\r`, all paced so a run of `duration` seconds spreads its output evenly.

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
}

impl<'a> Term<'a> {
    pub fn new(out: &'a mut dyn Write, duration: Duration) -> Self {
        Term {
            out,
            unit: duration / RUN_UNITS,
            end: Instant::now().checked_add(duration),
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
            self.redraw(&bar(label, i, count, columns()));
            std::thread::sleep(wait);
        }
        self.redraw(&format!("{}\n", bar(label, count, count, columns())));
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

    fn redraw(&mut self, text: &str) {
        let _ = write!(self.out, "{REDRAW}{text}");
        let _ = self.out.flush();
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

/// Columns of the terminal the agent writes to (its pane), when stdout is one. Read at every
/// frame: the pane is resized with the dashboard.
fn columns() -> Option<usize> {
    // SAFETY: TIOCGWINSZ fills the winsize it is given; on a descriptor that is no terminal it
    // fails and leaves it alone.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

/// `label [████░░░░]  42%`, narrower when `columns` is too few (a small pane): a line that
/// wraps would not be redrawn in place. Without room for a bar, the label and the percentage.
fn bar(label: &str, done: u32, of: u32, columns: Option<usize>) -> String {
    let (done, of) = (u64::from(done), u64::from(of.max(1)));
    let percent = 100 * done / of;
    // The last column stays free: a line that reaches it may wrap in some terminals.
    let room = columns.map_or(usize::MAX, |c| c.saturating_sub(1));
    let label_len = label.chars().count();
    let width = BAR_WIDTH.min(room.saturating_sub(label_len + 8));
    if width < 4 {
        let label: String = label.chars().take(room.saturating_sub(5)).collect();
        return format!("{BLUE}{label}{RESET} {percent:>3}%");
    }
    let filled = (width as u64 * done / of) as usize;
    format!(
        "{BLUE}{label}{RESET} [{GREEN}{}{DIM}{}{RESET}] {percent:>3}%",
        "█".repeat(filled),
        "░".repeat(width - filled)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the bar shows, without its colors.
    fn shown(text: &str) -> String {
        String::from_utf8(strip_ansi_escapes::strip(text)).unwrap()
    }

    #[test]
    fn the_progress_bar_fits_its_pane() {
        let full = shown(&bar("checking changes", 5, 10, None));
        assert_eq!(
            full,
            format!(
                "checking changes [{}{}]  50%",
                "█".repeat(12),
                "░".repeat(12)
            )
        );
        for cols in [100, 48, 33, 24, 12] {
            let line = shown(&bar("checking changes", 5, 10, Some(cols)));
            assert!(line.chars().count() < cols, "{cols}: {line}");
            assert!(line.ends_with(" 50%"), "{cols}: {line}");
        }
        assert!(shown(&bar("checking changes", 5, 10, Some(33))).contains('█'));
    }
}
