//! Terminal output as plain text, as a terminal shows it (for `output`, `grove logs --plain`).

/// The width plain text is laid out at: what grove's panes start with, so cursor moves land
/// where they did for the agent.
const PLAIN_COLS: u16 = 120;
const PLAIN_ROWS: u16 = 40;

/// Rows of history the terminal model keeps between harvests: the lines that scrolled into it
/// are read out and the model starts afresh from its screen, so any output costs at most this
/// many rows of cells (a row holds every cell of its width: 120 cells of 32 bytes).
const HISTORY: usize = 1024;
/// The output goes in by pieces of at most this many lines or bytes, fewer rows than the
/// history holds (a line is at most a few rows when wrapped), so that no line scrolls out of it
/// before it is read: only the blank rows of a count of scrolls past this are lost.
const PIECE_LINES: usize = 256;
const PIECE_BYTES: usize = 16 * 1024;

/// Terminal output as plain text, as a terminal shows it: parsed by the terminal model (vt100)
/// and read back from its history and screen. Stripping escapes instead would glue words that
/// full-screen programs space with cursor moves (Claude Code's UI) and keep text they overwrote.
/// Lone line feeds count as new lines, as a PTY (ONLCR) makes them. Memory stays bounded
/// whatever the output (`HISTORY`).
pub fn plain_text(bytes: &[u8]) -> String {
    let mut fed = Vec::with_capacity(bytes.len() + bytes.len() / 16);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            fed.push(b'\r');
        }
        fed.push(b);
    }
    let new_model = || vt100::Parser::new(PLAIN_ROWS, PLAIN_COLS, HISTORY);
    let mut parser = new_model();
    // Counts clamped to the screen as the panes do: vt100 loops over them.
    let mut clamp = super::clamp::Clamp::default();
    // Where the parser is in the byte stream: the model is renewed only between sequences.
    let mut scanner = super::fast_forward::Scanner::default();
    let mut lines: Vec<String> = Vec::new();
    for piece in pieces(&fed) {
        scanner.scan(piece, (PLAIN_ROWS, PLAIN_COLS), 0);
        let piece = clamp.rewrite(piece, PLAIN_ROWS.max(PLAIN_COLS));
        let between = !scanner.in_sequence() && !scanner.in_character();
        // vt100 panics on some output: what the model held is then lost, the rest goes on.
        let went = super::guard::contained(|| {
            parser.process(&piece);
            let screen = parser.screen_mut();
            if between && !screen.alternate_screen() && history_len(screen) >= HISTORY / 2 {
                lines.extend(read_rows(screen, false));
                // The screen (cells, cursor, pen, modes) goes on in a model with no history.
                let kept = screen.state_formatted();
                parser = new_model();
                parser.process(&kept);
            }
        });
        if went.is_err() {
            parser = new_model();
        }
    }
    let last = super::guard::contained(|| read_rows(parser.screen_mut(), true));
    lines.extend(last.unwrap_or_default());
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    let mut text = lines.join("\n");
    if !text.is_empty() && bytes.ends_with(b"\n") {
        text.push('\n');
    }
    text
}

/// `fed` cut after every `PIECE_LINES` line feeds, and at `PIECE_BYTES` at most.
fn pieces(fed: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = fed;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut feeds = 0;
        let mut end = rest.len().min(PIECE_BYTES);
        for (i, &b) in rest[..end].iter().enumerate() {
            if b == b'\n' {
                feeds += 1;
                if feeds == PIECE_LINES {
                    end = i + 1;
                    break;
                }
            }
        }
        let (piece, after) = rest.split_at(end);
        rest = after;
        Some(piece)
    })
}

/// How many rows the model's history holds.
fn history_len(screen: &mut vt100::Screen) -> usize {
    let was = screen.scrollback();
    screen.set_scrollback(usize::MAX);
    let history = screen.scrollback();
    screen.set_scrollback(was);
    history
}

/// The history's rows as text, oldest first, trimmed at the end; then the screen's when
/// `with_screen`.
fn read_rows(screen: &mut vt100::Screen, with_screen: bool) -> Vec<String> {
    let history = history_len(screen);
    let rows = usize::from(PLAIN_ROWS);
    let wanted = history + if with_screen { rows } else { 0 };
    let mut lines: Vec<String> = Vec::with_capacity(wanted);
    // Each view shows `rows` lines from `history - offset`: read them oldest first.
    let mut offset = history;
    while lines.len() < wanted {
        screen.set_scrollback(offset);
        let first = history - offset;
        let view: Vec<String> = screen.rows(0, PLAIN_COLS).collect();
        for (i, row) in view.into_iter().enumerate() {
            if first + i == lines.len() && lines.len() < wanted {
                lines.push(row.trim_end().to_string());
            }
        }
        if offset == 0 {
            break;
        }
        offset = offset.saturating_sub(rows);
    }
    screen.set_scrollback(0);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_escapes_and_resolves_redraws() {
        assert_eq!(
            plain_text(b"\x1b[32mok\x1b[0m\r\nprogress 10%\rprogress 100%\r\ndone\r\n"),
            "ok\nprogress 100%\ndone\n"
        );
    }

    /// Far more lines than the model's history, with redraws of lines on the screen and
    /// colors across the pieces' seams: every line comes out, in order, as written last.
    #[test]
    fn output_longer_than_the_history_comes_out_whole() {
        let mut out = Vec::new();
        let mut expected = Vec::new();
        for i in 0..5000 {
            // A progress line redrawn in place, then finished; every 7th line is wide.
            out.extend_from_slice(format!("\x1b[3{}mline {i} 0%\rline {i} 100%", i % 8).as_bytes());
            let mut line = format!("line {i} 100%");
            if i % 7 == 0 {
                let tail = "x".repeat(150);
                out.extend_from_slice(tail.as_bytes());
                line.push_str(&tail[..120 - line.len()]);
                expected.push(line);
                line = tail[120 - format!("line {i} 100%").len()..].to_string();
            }
            out.extend_from_slice(b"\x1b[0m\n");
            expected.push(line);
            if i % 50 == 49 {
                // Back up into the screen and rewrite the line before.
                out.extend_from_slice(
                    format!("\x1b[2A\rline {} redone\x1b[K\n\n", i - 1).as_bytes(),
                );
                let at = expected.len() - 2;
                expected[at] = format!("line {} redone", i - 1);
            }
        }
        let text = plain_text(&out);
        let got: Vec<&str> = text.lines().collect();
        assert_eq!(got.len(), expected.len());
        for (n, (got, expected)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(got, expected, "line {n}");
        }
    }

    #[test]
    fn words_spaced_by_cursor_moves_stay_apart() {
        // Claude Code's UI, as a PTY delivered it when it could not reach its API.
        let ui =
            b"\x1b[1CUnable\x1b[1Cto\x1b[1Cconnect\x1b[1Cto\x1b[1CAnthropic\x1b[1Cservices\r\n\
                   \x1b[2;1Hold line\x1b[2;1H\x1b[2Knew line\r\n";
        assert_eq!(
            plain_text(ui),
            " Unable to connect to Anthropic services\nnew line\n"
        );
    }
}
