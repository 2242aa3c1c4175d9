//! Keystrokes as the bytes a terminal would send, for attach mode: what the agent reads from its
//! PTY must match what it would get in a real terminal (Ctrl-C is 0x03, ↑ is ESC [ A, …).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Bytes for `key`; `application_cursor` is the agent's DECCKM mode (arrows as ESC O x).
/// None for keys a terminal sends nothing for.
pub fn key_bytes(key: KeyEvent, application_cursor: bool) -> Option<Vec<u8>> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let mut out = Vec::with_capacity(8);
    if alt {
        out.push(0x1b);
    }
    match key.code {
        KeyCode::Char(c) if ctrl => out.push(control_byte(c)?),
        KeyCode::Char(c) => {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        KeyCode::Enter => out.push(b'\r'),
        KeyCode::Tab => out.push(b'\t'),
        KeyCode::BackTab => out.extend_from_slice(b"\x1b[Z"),
        KeyCode::Backspace => out.push(0x7f),
        KeyCode::Esc => out.push(0x1b),
        KeyCode::Up => out.extend_from_slice(&cursor(b'A', application_cursor)),
        KeyCode::Down => out.extend_from_slice(&cursor(b'B', application_cursor)),
        KeyCode::Right => out.extend_from_slice(&cursor(b'C', application_cursor)),
        KeyCode::Left => out.extend_from_slice(&cursor(b'D', application_cursor)),
        KeyCode::Home => out.extend_from_slice(&cursor(b'H', application_cursor)),
        KeyCode::End => out.extend_from_slice(&cursor(b'F', application_cursor)),
        KeyCode::Insert => out.extend_from_slice(b"\x1b[2~"),
        KeyCode::Delete => out.extend_from_slice(b"\x1b[3~"),
        KeyCode::PageUp => out.extend_from_slice(b"\x1b[5~"),
        KeyCode::PageDown => out.extend_from_slice(b"\x1b[6~"),
        KeyCode::F(n) => out.extend_from_slice(function_key(n)?),
        _ => return None,
    }
    Some(out)
}

fn cursor(letter: u8, application: bool) -> [u8; 3] {
    [0x1b, if application { b'O' } else { b'[' }, letter]
}

/// Ctrl with a key: letters and `@[\]^_` map to 0x00-0x1f, space to NUL, `?` to DEL.
/// Terminals report Ctrl-\ to Ctrl-_ as Ctrl-4 to Ctrl-7, and crossterm follows them.
fn control_byte(c: char) -> Option<u8> {
    match c.to_ascii_lowercase() {
        c @ 'a'..='z' => Some(c as u8 - b'a' + 1),
        '@' | ' ' | '2' => Some(0),
        '[' | '3' => Some(0x1b),
        '\\' | '4' => Some(0x1c),
        ']' | '5' => Some(0x1d),
        '^' | '6' => Some(0x1e),
        '_' | '7' | '-' => Some(0x1f),
        '?' | '8' => Some(0x7f),
        _ => None,
    }
}

fn function_key(n: u8) -> Option<&'static [u8]> {
    const KEYS: [&[u8]; 12] = [
        b"\x1bOP",
        b"\x1bOQ",
        b"\x1bOR",
        b"\x1bOS",
        b"\x1b[15~",
        b"\x1b[17~",
        b"\x1b[18~",
        b"\x1b[19~",
        b"\x1b[20~",
        b"\x1b[21~",
        b"\x1b[23~",
        b"\x1b[24~",
    ];
    KEYS.get(usize::from(n).checked_sub(1)?).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn encodes_like_a_terminal() {
        let none = KeyModifiers::NONE;
        let ctrl = KeyModifiers::CONTROL;
        assert_eq!(
            key_bytes(key(KeyCode::Char('c'), ctrl), false),
            Some(vec![3])
        );
        assert_eq!(
            key_bytes(key(KeyCode::Char('é'), none), false),
            Some("é".into())
        );
        assert_eq!(
            key_bytes(key(KeyCode::Enter, none), false),
            Some(b"\r".to_vec())
        );
        assert_eq!(
            key_bytes(key(KeyCode::Up, none), false),
            Some(b"\x1b[A".to_vec())
        );
        assert_eq!(
            key_bytes(key(KeyCode::Up, none), true),
            Some(b"\x1bOA".to_vec())
        );
        assert_eq!(
            key_bytes(key(KeyCode::Char('x'), KeyModifiers::ALT), false),
            Some(b"\x1bx".to_vec())
        );
        assert_eq!(
            key_bytes(key(KeyCode::F(5), none), false),
            Some(b"\x1b[15~".to_vec())
        );
        assert_eq!(key_bytes(key(KeyCode::F(13), none), false), None);
    }
}
