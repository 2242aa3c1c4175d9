//! What a pane's parser holds of an escape sequence or UTF-8 character it has begun and not
//! finished at the end of what it was fed. A copy of the screen does not show it, so a snapshot
//! carries these bytes for the output after it to finish the same way.

use super::fast_forward::{utf8_len, Scanner};

/// The most kept: a string sequence (a title, a clipboard write) can be long, and an agent may
/// never end one.
pub const UNFINISHED_MAX: usize = 64 * 1024;

#[derive(Debug, Default)]
pub struct Unfinished {
    bytes: Vec<u8>,
}

impl Unfinished {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Follows `bytes`, which `scanner` has just scanned and the parser taken.
    pub fn follow(&mut self, scanner: &Scanner, bytes: &[u8]) {
        if scanner.in_sequence() {
            // Every sequence starts with ESC, and an ESC starts a new one in any state; none in
            // `bytes` means the sequence began before them.
            match memchr::memrchr(0x1b, bytes) {
                Some(start) => {
                    self.bytes.clear();
                    self.bytes.extend_from_slice(&bytes[start..]);
                }
                None => self.bytes.extend_from_slice(bytes),
            }
            self.bytes.truncate(UNFINISHED_MAX);
        } else if scanner.in_character() {
            // The scanner only says a character may be in progress; the last 4 bytes the parser
            // took (a character's most) tell.
            let last = |b: &[u8]| b.len().saturating_sub(4);
            let seen = [&self.bytes[last(&self.bytes)..], &bytes[last(bytes)..]].concat();
            let seen = &seen[last(&seen)..];
            self.bytes = match seen.iter().rposition(|b| b & 0xc0 != 0x80) {
                Some(lead) if seen.len() - lead < utf8_len(seen[lead]) => seen[lead..].to_vec(),
                _ => Vec::new(),
            };
        } else {
            self.bytes.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(scanner: &mut Scanner, unfinished: &mut Unfinished, bytes: &[u8]) {
        scanner.scan(bytes, (4, 20), 10);
        unfinished.follow(scanner, bytes);
    }

    #[test]
    fn an_unfinished_sequence_is_kept_until_it_ends_and_bounded() {
        let (mut scanner, mut unfinished) = (Scanner::default(), Unfinished::default());
        let mut feed = |bytes: &[u8]| {
            feed(&mut scanner, &mut unfinished, bytes);
            unfinished.bytes().to_vec()
        };
        assert_eq!(feed(b"text \x1b[3"), b"\x1b[3");
        assert_eq!(feed(b"1"), b"\x1b[31");
        assert_eq!(feed(b"m\xe4"), b"\xe4");
        assert_eq!(feed(b"\xb8"), b"\xe4\xb8");
        assert!(feed(b"\xad").is_empty());
        assert!(feed(b"\xe4\xb8\xad\x1b[31mdone").is_empty());
        // An ESC inside a string starts over.
        assert_eq!(feed(b"\x1b]2;title\x1b"), b"\x1b");
        assert!(feed(b"\\").is_empty());
        // A string that never ends is kept only up to the bound.
        feed(b"\x1b]2;");
        for _ in 0..20 {
            feed(&[b'x'; 10_000]);
        }
        let kept = feed(b"x");
        assert_eq!(kept.len(), UNFINISHED_MAX);
        assert!(kept.starts_with(b"\x1b]2;xxx"));
        assert!(feed(b"\x07").is_empty());
    }
}
