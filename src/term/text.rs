//! Terminal output as plain text, as a terminal shows it (for `output`, `grove logs --plain`).

/// The width plain text is laid out at: what grove's panes start with, so cursor moves land
/// where they did for the agent.
const PLAIN_COLS: u16 = 120;
const PLAIN_ROWS: u16 = 40;

/// Terminal output as plain text, as a terminal shows it: parsed by the terminal model (vt100)
/// and read back from its history and screen. Stripping escapes instead would glue words that
/// full-screen programs space with cursor moves (Claude Code's UI) and keep text they overwrote.
/// Lone line feeds count as new lines, as a PTY (ONLCR) makes them.
pub fn plain_text(bytes: &[u8]) -> String {
    let mut fed = Vec::with_capacity(bytes.len() + bytes.len() / 16);
    let mut newlines = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            newlines += 1;
            if i == 0 || bytes[i - 1] != b'\r' {
                fed.push(b'\r');
            }
        }
        fed.push(b);
    }
    let mut parser = vt100::Parser::new(PLAIN_ROWS, PLAIN_COLS, newlines + 1);
    // Counts clamped to the screen as the panes do: vt100 loops over them.
    let mut clamp = super::clamp::Clamp::default();
    parser.process(&clamp.rewrite(&fed, PLAIN_ROWS.max(PLAIN_COLS)));
    let screen = parser.screen_mut();
    screen.set_scrollback(usize::MAX);
    let history = screen.scrollback();
    let rows = usize::from(PLAIN_ROWS);
    let mut lines: Vec<String> = Vec::with_capacity(history + rows);
    // Each view shows `rows` lines from `history - offset`: read them oldest first.
    let mut offset = history;
    loop {
        screen.set_scrollback(offset);
        let first = history - offset;
        let view: Vec<String> = screen.rows(0, PLAIN_COLS).collect();
        for (i, row) in view.into_iter().enumerate() {
            if first + i == lines.len() {
                lines.push(row.trim_end().to_string());
            }
        }
        if offset == 0 {
            break;
        }
        offset = offset.saturating_sub(rows);
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    let mut text = lines.join("\n");
    if !text.is_empty() && bytes.ends_with(b"\n") {
        text.push('\n');
    }
    text
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
