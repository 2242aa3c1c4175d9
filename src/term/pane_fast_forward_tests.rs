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
                    // Resets (full, or followed by more), and attributes that outlive them
                    // only when they come after: backgrounds, underline.
                    if rng.u8(0..6) == 0 {
                        let sgrs: [&[u8]; 7] = [
                            b"\x1b[0m",
                            b"\x1b[m",
                            b"\x1b[0;4;42m",
                            b"\x1b[;7m",
                            b"\x1b[44m",
                            b"\x1b[4:3m",
                            b"\x1b[00;1m",
                        ];
                        out.extend_from_slice(sgrs[rng.usize(0..sgrs.len())]);
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
