//! Counts in escape sequences, clamped to the screen before the terminal model sees them.
//!
//! vt100 carries out some counts one step at a time (insert characters: `ESC [ n @`, insert
//! lines: `ESC [ n L`, scroll down: `ESC [ n T`), and inserting characters grows the row by `n`
//! cells first: `ESC [ 65535 @`, 10 bytes, costs it about a second. Every count or position of
//! a sequence that moves the cursor, inserts, deletes, erases, scrolls or repeats is therefore
//! cut to `max(rows, cols)` on its way in. That leaves the screen exactly as it was:
//! - inserting or deleting characters (`@`, `P`) or lines (`L`, `M`), erasing characters (`X`)
//!   and scrolling (`S`, `T`) reach a fixed point after at most `rows` (lines) or `cols`
//!   (characters) steps: from there every step removes a blank row or cell and adds one;
//! - cursor moves and positions (`A`–`H`, `d`, `f`, `` ` ``, `a`, `e`) end at the edge of the
//!   screen, which any count of at least its size reaches;
//! - sequences vt100 does not carry out (`b` repeat, `I`, `Z` tabs) change nothing either way.
//!
//! Only sequences without intermediates or private markers are rewritten (those are the ones
//! vt100 carries out), and only their numbers: their parameters are held back until the final
//! byte says what they are. Parsing is the same as vte's (numbers saturate at 65535; at most
//! 32 parameters are kept), so what is held is small whatever the agent sends, and C0 controls
//! inside the sequence, which vte executes where they stand, go through at once.

use std::borrow::Cow;

use super::fast_forward::{is_c0, step, State};

/// Final bytes of the sequences whose numbers are counts or positions.
const COUNTED: &[u8] = b"@ABCDEFGHILMPSTXZ`abdef";

/// Parameters (and subparameters) vte keeps of one sequence; it ignores any after these.
const MAX_PARAMS: usize = 32;

/// Follows everything fed to one parser, in order, rewriting counts larger than the screen.
#[derive(Debug, Default, Clone)]
pub struct Clamp {
    state: State,
    /// The parameters of the sequence being read, from its `ESC [` on (which went through).
    held: Option<Held>,
}

/// A sequence's parameters as vte takes them: numbers (None: no digits) and separators.
#[derive(Debug, Default, Clone)]
struct Held {
    numbers: Vec<Option<u16>>,
    separators: Vec<u8>,
}

impl Held {
    fn full(&self) -> bool {
        self.separators.len() == MAX_PARAMS
    }

    fn digit(&mut self, b: u8) {
        if self.full() {
            return;
        }
        if self.numbers.is_empty() {
            self.numbers.push(None);
        }
        if let Some(n) = self.numbers.last_mut() {
            let value = n.unwrap_or(0).saturating_mul(10);
            *n = Some(value.saturating_add(u16::from(b - b'0')));
        }
    }

    fn separator(&mut self, b: u8) {
        if self.full() {
            return;
        }
        if self.numbers.is_empty() {
            self.numbers.push(None);
        }
        self.separators.push(b);
        self.numbers.push(None);
    }

    /// The parameters as bytes, each number cut to `limit` when given.
    fn write(&self, limit: Option<u16>, out: &mut Vec<u8>) {
        for (i, number) in self.numbers.iter().enumerate() {
            if let Some(n) = number {
                let n = limit.map_or(*n, |limit| (*n).min(limit));
                out.extend_from_slice(n.to_string().as_bytes());
            }
            if let Some(&sep) = self.separators.get(i) {
                out.push(sep);
            }
        }
    }
}

/// What goes to the parser: the input as it is until something in it must change.
struct Out<'a> {
    input: &'a [u8],
    owned: Option<Vec<u8>>,
    /// Where the input not yet copied to `owned` starts.
    from: usize,
}

impl Out<'_> {
    /// Takes the input up to `i` as it is and leaves out byte `i`; returns the output to add to.
    fn leave_out(&mut self, i: usize) -> &mut Vec<u8> {
        let owned = self.owned.get_or_insert_with(Vec::new);
        owned.extend_from_slice(&self.input[self.from..i]);
        self.from = i + 1;
        owned
    }
}

impl Clamp {
    /// `bytes` as the parser should take them, with counts larger than `limit` (the larger of
    /// the screen's rows and columns) cut to it. Parameters of a sequence that does not end in
    /// `bytes` are held back for the next call.
    pub fn rewrite<'a>(&mut self, bytes: &'a [u8], limit: u16) -> Cow<'a, [u8]> {
        let limit = limit.max(1);
        let mut out = Out {
            input: bytes,
            owned: None,
            from: 0,
        };
        let mut i = 0;
        while i < bytes.len() {
            if self.state == State::Ground {
                // Only ESC leaves the ground state.
                match memchr::memchr(0x1b, &bytes[i..]) {
                    Some(n) => i += n,
                    None => break,
                }
            }
            let b = bytes[i];
            if let Some(held) = &mut self.held {
                match b {
                    b'0'..=b'9' => held.digit(b),
                    b';' | b':' => held.separator(b),
                    // Executed where they stand, so before the parameters as well as after.
                    _ if is_c0(b) => {
                        out.leave_out(i).push(b);
                        self.state = step(self.state, b);
                        i += 1;
                        continue;
                    }
                    // Ignored in a sequence's parameters.
                    0x7f..=0xff => {}
                    _ => {
                        let limit = COUNTED.contains(&b).then_some(limit);
                        let to = out.leave_out(i);
                        held.write(limit, to);
                        to.push(b);
                        self.held = None;
                        self.state = step(self.state, b);
                        i += 1;
                        continue;
                    }
                }
                out.leave_out(i);
                self.state = step(self.state, b);
                i += 1;
                continue;
            }
            let before = self.state;
            self.state = step(before, b);
            i += 1;
            if before == State::Escape && self.state == State::CsiEntry {
                // The usual case, a whole sequence whose numbers need no change, goes through
                // as it is.
                match sequence_ahead(&bytes[i..], limit) {
                    Ahead::Untouched(len) => {
                        i += len;
                        self.state = State::Ground;
                    }
                    Ahead::NotCounted => {}
                    Ahead::Unknown => self.held = Some(Held::default()),
                }
            }
        }
        match out.owned {
            None => Cow::Borrowed(bytes),
            Some(mut owned) => {
                owned.extend_from_slice(&bytes[out.from..]);
                Cow::Owned(owned)
            }
        }
    }

    /// Bytes held back (for tests: bounded whatever the input).
    #[cfg(test)]
    fn held_len(&self) -> usize {
        self.held
            .as_ref()
            .map_or(0, |h| h.numbers.len() + h.separators.len())
    }
}

/// What follows an `ESC [`, as far as the batch tells.
enum Ahead {
    /// A whole sequence of this many bytes (final byte included) that needs no change.
    Untouched(usize),
    /// A sequence with intermediates or a private marker: vt100 counts nothing with it.
    NotCounted,
    /// Anything else: its parameters are held until its final byte.
    Unknown,
}

/// Looks at the parameters and final byte at the start of `bytes` (what follows `ESC [`), so
/// that the usual sequences (complete, plain parameters, numbers within `limit`) go through as
/// they are.
fn sequence_ahead(bytes: &[u8], limit: u16) -> Ahead {
    let mut largest: u16 = 0;
    let mut number: u16 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                number = number
                    .saturating_mul(10)
                    .saturating_add(u16::from(b - b'0'));
                largest = largest.max(number);
            }
            b';' | b':' => number = 0,
            0x3c..=0x3f if i == 0 => return Ahead::NotCounted,
            0x20..=0x2f => return Ahead::NotCounted,
            0x40..=0x7e if !COUNTED.contains(&b) || largest <= limit => {
                return Ahead::Untouched(i + 1)
            }
            _ => return Ahead::Unknown,
        }
    }
    Ahead::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite_all(clamp: &mut Clamp, parts: &[&[u8]], limit: u16) -> Vec<u8> {
        parts
            .iter()
            .flat_map(|p| clamp.rewrite(p, limit).into_owned())
            .collect()
    }

    #[test]
    fn counts_beyond_the_screen_are_cut_to_it() {
        let mut clamp = Clamp::default();
        let out = rewrite_all(
            &mut clamp,
            &[b"a\x1b[999999999@b\x1b[5;70000Hc\x1b[80L\x1b[81T"],
            80,
        );
        assert_eq!(out, b"a\x1b[80@b\x1b[5;80Hc\x1b[80L\x1b[80T");
    }

    #[test]
    fn other_sequences_and_small_counts_go_through_untouched() {
        let mut clamp = Clamp::default();
        let input: &[u8] = b"\x1b[38;5;200m\x1b[?1049h\x1b[2004h\x1b[12;40H\x1b[6n\x1b[>0;999c";
        assert!(matches!(clamp.rewrite(input, 80), Cow::Borrowed(_)));
        // Intermediates and private markers: not a sequence vt100 counts with.
        let input: &[u8] = b"\x1b[?999999@\x1b[9999 @\x1b[99;?99999@\x1b]0;\x1b[9999@\x07";
        let out = clamp.rewrite(input, 80).into_owned();
        assert_eq!(
            out,
            b"\x1b[?999999@\x1b[9999 @\x1b[99;?99999@\x1b]0;\x1b[80@\x07"
        );
    }

    #[test]
    fn a_sequence_split_between_batches_is_clamped_whole() {
        let mut clamp = Clamp::default();
        let out = rewrite_all(&mut clamp, &[b"x\x1b", b"[99", b"99", b"", b"9@y"], 80);
        assert_eq!(out, b"x\x1b[80@y");
    }

    #[test]
    fn controls_inside_a_sequence_go_through_where_they_stand() {
        let mut clamp = Clamp::default();
        let out = rewrite_all(&mut clamp, &[b"\x1b[99\r\n", b"99\x7f\xc3@"], 80);
        assert_eq!(out, b"\x1b[\r\n80@");
        // CAN ends the sequence: what was held goes out as it was.
        let out = rewrite_all(&mut clamp, &[b"\x1b[99999;", b"\x18\x1b[3"], 80);
        assert_eq!(out, b"\x1b[65535;\x18\x1b[");
        assert_eq!(rewrite_all(&mut clamp, &[b"A"], 80), b"3A");
    }

    #[test]
    fn what_is_held_stays_small_whatever_the_sequence() {
        let mut clamp = Clamp::default();
        clamp.rewrite(b"\x1b[", 80);
        for _ in 0..1000 {
            clamp.rewrite(&[b'9'; 1000], 80);
            clamp.rewrite(&[b';'; 1000], 80);
            clamp.rewrite(&[b':'; 1000], 80);
        }
        assert!(clamp.held_len() <= 2 * MAX_PARAMS + 1);
        let out = clamp.rewrite(b"@", 80).into_owned();
        // The first number (vte saturates at 65535) is cut; nothing past 32 parameters is kept.
        assert!(out.starts_with(b"80;;;"));
        assert_eq!(out.iter().filter(|&&b| b == b';').count(), MAX_PARAMS);
    }

    /// A random stream of text and sequences with counts around the screen size: small enough
    /// that the unclamped parse is cheap, large enough that many are clamped.
    fn stream(rng: &mut fastrand::Rng, limit: u16) -> Vec<u8> {
        let mut out = Vec::new();
        let count = |rng: &mut fastrand::Rng| -> String {
            match rng.u8(0..10) {
                0 => String::new(),
                1 => "0".into(),
                2 => format!("00{}", rng.u16(0..=3 * limit + 5)),
                _ => rng.u16(0..=3 * limit + 5).to_string(),
            }
        };
        for _ in 0..rng.usize(50..300) {
            match rng.u8(0..24) {
                0..=5 => {
                    let len = rng.usize(0..12);
                    out.extend((0..len).map(|_| rng.u8(b'a'..=b'z')));
                }
                6 => out.extend_from_slice("中é".as_bytes()),
                7 => out.extend_from_slice(if rng.bool() { b"\r\n" } else { b"\n" }),
                8..=15 => {
                    let finals = COUNTED;
                    let final_byte = finals[rng.usize(0..finals.len())];
                    out.extend_from_slice(b"\x1b[");
                    out.extend_from_slice(count(rng).as_bytes());
                    // A second parameter, a subparameter, or controls in the middle.
                    match rng.u8(0..8) {
                        0 => out.extend_from_slice(format!(";{}", count(rng)).as_bytes()),
                        1 => out.extend_from_slice(format!(":{}", count(rng)).as_bytes()),
                        2 => out.extend_from_slice(b"\r\x7f\x08"),
                        3 => out.extend_from_slice(b"\n\xc3"),
                        _ => {}
                    }
                    out.push(final_byte);
                }
                16 => out.extend_from_slice(format!("\x1b[{}r", count(rng)).as_bytes()),
                17 => out.extend_from_slice(b"\x1b[2;3r\x1b[?6h"),
                18 => out.extend_from_slice(b"\x1b[r\x1b[?6l"),
                19 => out.extend_from_slice(if rng.bool() {
                    b"\x1b[?1049h"
                } else {
                    b"\x1b[?1049l"
                }),
                20 => out.extend_from_slice(b"\x1b[41m\x1b7"),
                21 => out.extend_from_slice(b"\x1b8\x1b[0m"),
                22 => out.extend_from_slice(
                    format!("\x1b[?{}@\x1b[{} P", count(rng), count(rng)).as_bytes(),
                ),
                _ => out.extend_from_slice(b"\x1b[99;"),
            }
        }
        out
    }

    /// Everything visible of a screen: its state, and its contents at every scrollback offset.
    fn snapshot(screen: &mut vt100::Screen, scrollback: usize) -> Vec<Vec<u8>> {
        let mut views = vec![screen.state_formatted()];
        for back in 0..=scrollback {
            screen.set_scrollback(back);
            views.push(screen.contents_formatted());
        }
        screen.set_scrollback(0);
        views
    }

    #[test]
    fn clamped_screens_equal_unclamped_ones() {
        let mut clamped_count = 0;
        for seed in 0..500 {
            let mut rng = fastrand::Rng::with_seed(seed);
            // vt100 itself fails on one row or one column (wrapping a line, a wide character).
            let (rows, cols) = (rng.u16(2..8), rng.u16(2..14));
            let limit = rows.max(cols);
            let scrollback = 6;
            let bytes = stream(&mut rng, limit);
            let mut clamp = Clamp::default();
            let mut clamped = vt100::Parser::new(rows, cols, scrollback);
            let mut reference = vt100::Parser::new(rows, cols, scrollback);
            let mut rest = bytes.as_slice();
            while !rest.is_empty() {
                let (chunk, tail) = rest.split_at(rng.usize(1..=rest.len().min(40)));
                rest = tail;
                let rewritten = clamp.rewrite(chunk, limit);
                if rewritten.as_ref() != chunk {
                    clamped_count += 1;
                }
                reference.process(chunk);
                clamped.process(&rewritten);
                assert_eq!(
                    snapshot(clamped.screen_mut(), scrollback),
                    snapshot(reference.screen_mut(), scrollback),
                    "seed {seed}, {rows}x{cols}, after {:?}",
                    String::from_utf8_lossy(&bytes[..bytes.len() - rest.len()])
                );
            }
        }
        assert!(clamped_count > 1000, "only {clamped_count} batches changed");
    }
}
