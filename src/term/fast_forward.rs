//! Fast-forwarding floods of plain output: text that the rest of the same batch scrolls out of
//! the screen and the whole scrollback is never visible, so instead of being parsed cell by
//! cell it is replaced by a few line feeds (plus its color changes) that leave the terminal in
//! the same state. Parsing is most of what grove spends on an agent's output, and an agent
//! that prints megabytes at once mostly prints such text.
//!
//! The replacement is exact, not approximate. For a stretch `P` of a batch followed by `R`:
//! - `P` starts right after a line feed in the ground state (no escape sequence or UTF-8
//!   character in progress), holds only "plain" bytes (no ESC other than complete SGR color
//!   sequences, no CAN/SUB), contains at least `rows` line feeds and ends with CR LF. So after
//!   `P` the cursor is in column 0 of the bottom row, and the only state `P` changed besides
//!   cell contents is the text attributes (its SGR sequences).
//! - The plain text at the start of `R` has at least `rows + scrollback` line feeds. Each
//!   scrolls one row out at the bottom, so every row `P` wrote, on screen or in the scrollback,
//!   is gone by then.
//! - No scroll region may be set (line feeds would scroll only the region) and the main screen
//!   must be showing (the alternate screen has no scrollback); the caller checks the latter.
//!
//! `P` is then replaced by its SGR sequences (from the last that resets every attribute on:
//! those before it change nothing that lasts) followed by `rows` times CR LF, which leaves the
//! cursor, the attributes and (after `R`) every visible cell and scrollback row as `P` would.

/// The escape-sequence state of vte (the parser inside vt100), tracked byte for byte with the
/// same transitions, so a batch can be cut only where the parser is in the ground state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum State {
    #[default]
    Ground,
    Escape,
    EscapeIntermediate,
    CsiEntry,
    CsiParam,
    CsiIntermediate,
    CsiIgnore,
    DcsEntry,
    DcsParam,
    DcsIntermediate,
    DcsIgnore,
    DcsPassthrough,
    OscString,
    SosPmApcString,
}

/// C0 controls that vte executes (or ignores) without changing state, in the states that
/// have them.
pub(super) fn is_c0(b: u8) -> bool {
    matches!(b, 0x00..=0x17 | 0x19 | 0x1c..=0x1f)
}

/// The transitions any state shares: CAN and SUB abort to ground, ESC starts a new sequence.
fn anywhere(state: State, b: u8) -> State {
    match b {
        0x18 | 0x1a => State::Ground,
        0x1b => State::Escape,
        _ => state,
    }
}

/// One byte outside the ground state, as vte's `advance_*` functions move.
pub(super) fn step(state: State, b: u8) -> State {
    use State::*;
    match state {
        Ground => anywhere(Ground, b),
        Escape => match b {
            0x20..=0x2f => EscapeIntermediate,
            b'P' => DcsEntry,
            b'X' | b'^' | b'_' => SosPmApcString,
            b'[' => CsiEntry,
            b']' => OscString,
            0x30..=0x7e => Ground,
            0x18 | 0x1a => Ground,
            _ => Escape,
        },
        EscapeIntermediate => match b {
            0x20..=0x2f | 0x7f => EscapeIntermediate,
            0x30..=0x7e => Ground,
            _ if is_c0(b) => EscapeIntermediate,
            _ => anywhere(state, b),
        },
        CsiEntry | CsiParam => match b {
            0x20..=0x2f => CsiIntermediate,
            0x30..=0x3b => CsiParam,
            0x3c..=0x3f if state == CsiEntry => CsiParam,
            0x3c..=0x3f => CsiIgnore,
            0x40..=0x7e => Ground,
            _ if is_c0(b) || b == 0x7f => state,
            _ => anywhere(state, b),
        },
        CsiIntermediate => match b {
            0x20..=0x2f => CsiIntermediate,
            0x30..=0x3f => CsiIgnore,
            0x40..=0x7e => Ground,
            _ if is_c0(b) || b == 0x7f => state,
            _ => anywhere(state, b),
        },
        CsiIgnore => match b {
            0x20..=0x3f | 0x7f => CsiIgnore,
            0x40..=0x7e => Ground,
            _ if is_c0(b) => CsiIgnore,
            _ => anywhere(state, b),
        },
        DcsEntry | DcsParam => match b {
            0x20..=0x2f => DcsIntermediate,
            0x30..=0x3b => DcsParam,
            0x3c..=0x3f if state == DcsEntry => DcsParam,
            0x3c..=0x3f => DcsIgnore,
            0x40..=0x7e => DcsPassthrough,
            _ if is_c0(b) || b == 0x7f => state,
            _ => anywhere(state, b),
        },
        DcsIntermediate => match b {
            0x20..=0x2f => DcsIntermediate,
            0x30..=0x3f => DcsIgnore,
            0x40..=0x7e => DcsPassthrough,
            _ if is_c0(b) || b == 0x7f => state,
            _ => anywhere(state, b),
        },
        DcsPassthrough => match b {
            0x18 | 0x1a | 0x9c => Ground,
            0x1b => Escape,
            _ => DcsPassthrough,
        },
        OscString => match b {
            0x07 | 0x18 | 0x1a => Ground,
            0x1b => Escape,
            _ => OscString,
        },
        DcsIgnore | SosPmApcString => anywhere(state, b),
    }
}

/// Length of the SGR sequence (`ESC [ digits ; : m`) at the start of `bytes`, if complete.
fn sgr_len(bytes: &[u8]) -> Option<usize> {
    if bytes.get(1) != Some(&b'[') {
        return None;
    }
    let params = bytes[2..]
        .iter()
        .take_while(|b| matches!(b, b'0'..=b'9' | b';' | b':'))
        .count();
    (bytes.get(2 + params) == Some(&b'm')).then_some(3 + params)
}

/// Whether the SGR sequence `sgr` (`ESC [ params m`) begins with a full reset of the attributes:
/// its first parameter is 0 or empty.
fn resets(sgr: &[u8]) -> bool {
    let Some(params) = sgr.get(2..sgr.len().saturating_sub(1)) else {
        return false;
    };
    let first = params.split(|&b| b == b';').next().unwrap_or_default();
    first.iter().all(|&b| b == b'0')
}

/// A stretch of a batch in the ground state with only plain bytes and SGR sequences.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
    line_feeds: usize,
}

/// What to feed instead of `bytes[start..end]`.
#[derive(Debug, PartialEq, Eq)]
pub struct Skip {
    pub start: usize,
    pub end: usize,
    pub replacement: Vec<u8>,
}

/// Follows everything fed to one parser, in order.
#[derive(Debug, Default, Clone)]
pub struct Scanner {
    state: State,
    /// A scroll region may be set (any `CSI ... r` since the last full reset). Kept even when
    /// the region is reset again, as the two screens have their own: never wrong, at worst
    /// no fast-forward for that pane.
    region: bool,
    /// The last batch ended inside a UTF-8 character (or may have): the parser holds its
    /// first bytes and would take whatever comes next as the rest.
    mid_char: bool,
}

impl Scanner {
    /// True when the parser is between sequences and characters, with no scroll region
    /// possibly set: bytes of our own (a complete sequence) can then go in without mixing
    /// into the agent's.
    pub fn at_rest(&self) -> bool {
        self.state == State::Ground && !self.mid_char && !self.region
    }

    /// True when the parser is inside an escape sequence (or string) it has not finished.
    pub fn in_sequence(&self) -> bool {
        self.state != State::Ground
    }

    /// True when the parser may hold the first bytes of a UTF-8 character.
    pub fn in_character(&self) -> bool {
        self.state == State::Ground && self.mid_char
    }

    /// Takes in `bytes` (all of which the caller then feeds to the parser, in order) and
    /// returns the stretch that may be replaced, for a screen of `rows` rows and a scrollback
    /// of `scrollback` rows. The caller must still check that the main screen is showing at
    /// `start` (after feeding `bytes[..start]`).
    pub fn scan(&mut self, bytes: &[u8], size: (u16, u16), scrollback: usize) -> Option<Skip> {
        let (rows, cols) = (usize::from(size.0), usize::from(size.1).max(1));
        let keep = rows + scrollback;
        let mut best: Option<Run> = None;
        let mut run = (self.state == State::Ground && !self.region).then_some(Run {
            start: 0,
            end: 0,
            line_feeds: 0,
        });
        let mut close = |run: &mut Option<Run>, end: usize| {
            if let Some(mut r) = run.take() {
                r.end = end;
                if best.is_none_or(|b| r.line_feeds > b.line_feeds) {
                    best = Some(r);
                }
            }
        };
        let mut i = 0;
        while i < bytes.len() {
            if self.state == State::Ground {
                // Everything up to the next ESC, CAN or SUB stays in the ground state; only
                // its line feeds matter. Found with memchr: this runs over every byte.
                let next =
                    memchr::memchr3(0x1b, 0x18, 0x1a, &bytes[i..]).map_or(bytes.len(), |n| i + n);
                if let Some(r) = run.as_mut() {
                    r.line_feeds += memchr::memchr_iter(b'\n', &bytes[i..next]).count();
                }
                i = next;
                let Some(&b) = bytes.get(i) else {
                    break;
                };
                match b {
                    0x1b => {
                        if let Some(len) = sgr_len(&bytes[i..]) {
                            i += len;
                            continue;
                        }
                        close(&mut run, i);
                        self.state = State::Escape;
                    }
                    _ => {
                        close(&mut run, i);
                        run = (!self.region).then_some(Run {
                            start: i + 1,
                            end: 0,
                            line_feeds: 0,
                        });
                    }
                }
                i += 1;
                continue;
            }
            let b = bytes[i];
            let before = self.state;
            self.state = step(before, b);
            if self.state == State::Ground {
                match before {
                    State::CsiEntry | State::CsiParam | State::CsiIntermediate if b == b'r' => {
                        self.region = true;
                    }
                    State::Escape if b == b'c' => self.region = false,
                    _ => {}
                }
                if run.is_none() && !self.region {
                    run = Some(Run {
                        start: i + 1,
                        end: 0,
                        line_feeds: 0,
                    });
                }
            }
            i += 1;
        }
        close(&mut run, bytes.len());
        if !bytes.is_empty() {
            self.mid_char = self.state == State::Ground && !ends_a_character(bytes);
        }
        // Fewer line feeds than this cannot hold a skip (though long lines may scroll more).
        let run = best.filter(|r| r.line_feeds > 2 * rows)?;
        skip_in(&bytes[run.start..run.end], rows, cols, keep).map(|mut skip| {
            skip.start += run.start;
            skip.end += run.start;
            skip
        })
    }
}

/// Whether `bytes` (ending in the ground state) ends with a complete UTF-8 character, so the
/// parser holds no partial one. When the last character starts before what `bytes` holds, the
/// answer is no: it is never wrong to say the parser may be inside one.
fn ends_a_character(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(4)..];
    let Some(lead) = tail.iter().rposition(|b| b & 0xc0 != 0x80) else {
        return false;
    };
    tail.len() - lead >= utf8_len(tail[lead])
}

/// How many bytes the UTF-8 character starting with `lead` has: 1 for ASCII, or a byte no
/// character starts with (the parser replaces it at once).
pub(super) fn utf8_len(lead: u8) -> usize {
    match lead {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}

/// Rows a line (without its line feed) takes when printed from column 0 with `cols` columns:
/// vt100 always wraps. Counted only for plain ASCII text ending at most in CR; anything else
/// (colors, tabs, wide characters, CR in the middle) counts as one row, which is never more
/// than it takes.
fn line_rows(line: &[u8], cols: usize) -> usize {
    let text = line.strip_suffix(b"\r").unwrap_or(line);
    if text.iter().all(|b| (0x20..0x7f).contains(b)) {
        text.len().saturating_sub(1) / cols + 1
    } else {
        1
    }
}

/// The stretch of a plain run to replace: from after its first line feed to after the last
/// CR LF whose following lines still scroll `keep` rows, if that stretch has `rows` line feeds.
fn skip_in(run: &[u8], rows: usize, cols: usize, keep: usize) -> Option<Skip> {
    let start = memchr::memchr(b'\n', run)? + 1;
    // Walking back over line feeds, adding up the rows of the complete lines after each.
    let mut scrolled = 0;
    let mut next_line_feed = None;
    let mut end = None;
    for i in memchr::memrchr_iter(b'\n', run) {
        if let Some(next) = next_line_feed {
            scrolled += line_rows(&run[i + 1..next], cols);
        }
        if scrolled >= keep && i > 0 && run[i - 1] == b'\r' {
            end = Some(i + 1);
            break;
        }
        next_line_feed = Some(i);
    }
    let end = end.filter(|&e| e > start)?;
    let skipped = &run[start..end];
    if memchr::memchr_iter(b'\n', skipped).count() < rows {
        return None;
    }
    // Inside a plain run every ESC starts a complete SGR sequence.
    let sgrs: Vec<&[u8]> = memchr::memchr_iter(0x1b, skipped)
        .map(|i| &skipped[i..i + sgr_len(&skipped[i..]).unwrap_or(1)])
        .collect();
    // A full reset makes every sequence before it irrelevant: the attributes after the stretch
    // are what the sequences from the last reset on make of the defaults.
    let from = sgrs.iter().rposition(|sgr| resets(sgr)).unwrap_or(0);
    let mut replacement = sgrs[from..].concat();
    for _ in 0..rows {
        replacement.extend_from_slice(b"\r\n");
    }
    (replacement.len() < skipped.len()).then_some(Skip {
        start,
        end,
        replacement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROWS: u16 = 4;
    const SCROLLBACK: usize = 10;

    fn flood(lines: usize) -> Vec<u8> {
        (0..lines)
            .flat_map(|i| format!("line {i}\r\n").into_bytes())
            .collect()
    }

    const COLS: u16 = 8;

    fn scan(scanner: &mut Scanner, bytes: &[u8]) -> Option<Skip> {
        scanner.scan(bytes, (ROWS, COLS), SCROLLBACK)
    }

    #[test]
    fn a_flood_is_skipped_up_to_the_lines_that_stay_visible() {
        let bytes = flood(100);
        let skip = scan(&mut Scanner::default(), &bytes).unwrap();
        // From after the first line to the last CR LF followed by rows + scrollback lines.
        assert_eq!(skip.start, "line 0\r\n".len());
        let kept: Vec<u8> = (86..100)
            .flat_map(|i| format!("line {i}\r\n").into_bytes())
            .collect();
        assert_eq!(&bytes[skip.end..], kept.as_slice());
        assert_eq!(skip.replacement, b"\r\n".repeat(4));
    }

    #[test]
    fn wrapped_lines_count_as_the_rows_they_take() {
        // 20 characters take 3 rows of 8 columns: 5 lines scroll the 14 rows kept.
        let line = format!("{}\r\n", "x".repeat(20));
        let bytes = line.repeat(40).into_bytes();
        let skip = scan(&mut Scanner::default(), &bytes).unwrap();
        assert_eq!(bytes.len() - skip.end, 5 * line.len());
        // A line of exactly 8 characters takes one row.
        let line = format!("{}\r\n", "y".repeat(8));
        let bytes = line.repeat(40).into_bytes();
        let skip = scan(&mut Scanner::default(), &bytes).unwrap();
        assert_eq!(bytes.len() - skip.end, 14 * line.len());
    }

    #[test]
    fn colors_in_the_skipped_text_are_replayed_in_order() {
        let mut bytes = b"first\r\n\x1b[31mred\r\n\x1b[1;4mbold\r\n".to_vec();
        bytes.extend(flood(40));
        let skip = scan(&mut Scanner::default(), &bytes).unwrap();
        assert_eq!(
            skip.replacement,
            b"\x1b[31m\x1b[1;4m\r\n\r\n\r\n\r\n".to_vec()
        );
    }

    #[test]
    fn short_batches_are_not_skipped() {
        assert_eq!(scan(&mut Scanner::default(), &flood(18)), None);
    }

    #[test]
    fn nothing_is_skipped_inside_a_string_sequence_until_it_ends() {
        let mut scanner = Scanner::default();
        let mut bytes = b"\x1b]0;a title that never ends\r\n".to_vec();
        bytes.extend(flood(100));
        assert_eq!(scan(&mut scanner, &bytes), None);
        // Still inside the OSC string on the next batch; BEL ends it.
        assert_eq!(scan(&mut scanner, &flood(100)), None);
        let mut bytes = b"\x07\r\n".to_vec();
        bytes.extend(flood(100));
        assert!(scan(&mut scanner, &bytes).is_some());
    }

    #[test]
    fn a_sequence_split_between_batches_is_followed() {
        let mut scanner = Scanner::default();
        assert_eq!(scan(&mut scanner, b"\x1b[3"), None);
        // "1;2" continues the CSI and "H" ends it; the flood after it is skippable.
        let mut bytes = b"1;2H".to_vec();
        bytes.extend(flood(100));
        assert!(scan(&mut scanner, &bytes).is_some());
    }

    #[test]
    fn a_scroll_region_stops_skipping_until_a_full_reset() {
        let mut scanner = Scanner::default();
        let mut bytes = b"\x1b[1;3r".to_vec();
        bytes.extend(flood(100));
        assert_eq!(scan(&mut scanner, &bytes), None);
        // Resetting the region is not enough (the other screen may still have one)...
        let mut bytes = b"\x1b[r".to_vec();
        bytes.extend(flood(100));
        assert_eq!(scan(&mut scanner, &bytes), None);
        // ...a full reset (RIS) is.
        let mut bytes = b"\x1bc".to_vec();
        bytes.extend(flood(100));
        assert!(scan(&mut scanner, &bytes).is_some());
    }

    #[test]
    fn other_escapes_split_the_flood_into_runs() {
        let mut bytes = flood(10);
        bytes.extend_from_slice(b"\x1b[2J");
        bytes.extend(flood(100));
        let skip = scan(&mut Scanner::default(), &bytes).unwrap();
        let run_start = flood(10).len() + 4;
        assert_eq!(skip.start, run_start + "line 0\r\n".len());
    }
}
