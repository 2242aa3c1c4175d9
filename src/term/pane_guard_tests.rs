use std::sync::Arc;

use super::*;

/// Pieces of output that made vt100 panic, on tiny screens or after resizes.
const HOSTILE: &[&str] = &[
    "a",
    "hello world ",
    "\r\n",
    "\n",
    "\r",
    "\x1b[5S",
    "\x1b[5T",
    "\x1b[5L",
    "\x1b[5M",
    "\x1b[2;1r",
    "\x1b[1;2r",
    "\x1b[2;3r",
    "中",
    "\u{301}",
    "\x1b[5@",
    "\x1b[5P",
    "\x1b[5X",
    "\x1b[H",
    "\x1b[K",
    "\x1b[J",
    "\x1b[1K",
    "\x1b[2K",
    "\x1b[1J",
    "\x1b[?1049h",
    "\x1b[?1049l",
    "\x1b[10;10H",
    "\x1b[6n",
    "\t",
    "\x1bD",
    "\x1bM",
    "\x1bE",
    "\x1b[r",
    "\x1b[3;1H",
    "\x1b[1;3H",
    "\x1b[2A",
    "\x1b[2B",
    "\x1b[2C",
    "\x1b[2D",
    "\x1b[?6h",
    "\x1b[?6l",
    "\x1b7",
    "\x1b8",
    "\x1b[?7l",
    "\x1b[?7h",
    "\x1b[4h",
    "\x1b[4l",
    "\x08",
    "\x1b[2Z",
    "\x1b[2I",
    "\x1b[3g",
];

fn size(pane: &Pane) -> (u16, u16) {
    pane.with_screen(|s| s.size())
        .expect("the pane's lock is not poisoned")
}

/// A full reset, then "ok": the pane must show it at the top left.
fn assert_works(pane: &Pane) {
    pane.feed(b"\x1bcok", &mut std::io::sink());
    let top = pane
        .with_screen(|s| s.contents_between(0, 0, 0, 2))
        .expect("the pane's lock is not poisoned");
    assert_eq!(top, "ok");
}

#[test]
fn a_pane_and_its_size_are_at_least_two_by_two() {
    assert_eq!(pane_size(0, 0), (MIN_ROWS, MIN_COLS));
    assert_eq!(pane_size(1, 80), (2, 80));
    assert_eq!(pane_size(24, 1), (24, 2));
    assert_eq!(pane_size(24, 80), (24, 80));
    for (rows, cols) in [(0, 0), (1, 1), (1, 30), (30, 1)] {
        let pane = Pane::new(rows, cols, 10);
        assert_eq!(size(&pane), pane_size(rows, cols));
        pane.resize(1, 1);
        assert_eq!(size(&pane), (2, 2));
    }
}

#[test]
fn tiny_panes_fed_hostile_output_and_resized_keep_showing_text() {
    for (rows, cols) in [(1, 1), (1, 12), (12, 1), (0, 0)] {
        let pane = Pane::new(rows, cols, 10);
        for piece in HOSTILE {
            pane.feed(piece.as_bytes(), &mut std::io::sink());
            pane.feed("中\n中\r\n\x1b[2K".as_bytes(), &mut std::io::sink());
        }
        for (r, c) in [(1, 1), (0, 0), (24, 1), (1, 24), (1, 1)] {
            pane.resize(r, c);
            pane.feed("x中\r\n中".as_bytes(), &mut std::io::sink());
        }
        assert_eq!(size(&pane), (2, 2));
        // The text shows as it fits: two columns.
        pane.feed(b"\x1bcab", &mut std::io::sink());
        let top = pane.with_screen(|s| s.contents_between(0, 0, 0, 2));
        assert_eq!(top.as_deref(), Some("ab"));
        pane.resize(5, 20);
        assert_works(&pane);
        assert!(pane.lines().iter().any(|line| line.starts_with("ok")));
    }
}

#[test]
fn random_output_and_resizes_never_panic_out_of_a_pane() {
    let mut rng = fastrand::Rng::with_seed(20);
    let mut resets = 0;
    for _ in 0..3000 {
        let pane = Pane::new(rng.u16(0..7), rng.u16(0..7), 10);
        for _ in 0..rng.usize(1..24) {
            if rng.u8(0..3) == 0 {
                pane.resize(rng.u16(0..7), rng.u16(0..7));
            } else {
                let piece = HOSTILE[rng.usize(..HOSTILE.len())];
                pane.feed(piece.as_bytes(), &mut std::io::sink());
            }
        }
        resets += pane.resets();
        assert_works(&pane);
    }
    // The seed is one whose sequences do make vt100 panic: the test covers the recovery.
    assert!(resets > 0, "no sequence made vt100 panic");
}

/// Makes vt100 0.16.2 panic (`row.rs`, clear_wide): a wide char cut by a resize, then an erase.
fn feed_panicking_sequence(pane: &Pane) {
    pane.feed("a中".as_bytes(), &mut std::io::sink());
    pane.resize(5, 2);
    pane.feed(b"\x1b[?6l\x1b[K", &mut std::io::sink());
}

#[test]
fn the_sequence_used_below_does_panic_in_vt100() {
    let caught = guard::contained(|| {
        let mut parser = vt100::Parser::new(6, 5, 10);
        parser.process("a中".as_bytes());
        parser.screen_mut().set_size(5, 2);
        parser.process(b"\x1b[?6l\x1b[K");
    });
    assert!(caught.is_err());
}

#[test]
fn a_panic_resets_the_pane_which_stays_usable_and_unpoisoned() {
    let pane = Pane::new(6, 5, 10);
    pane.feed(b"\x1b]2;the title\x07", &mut std::io::sink());
    let told = Arc::new(Mutex::new(Vec::new()));
    let tap_told = Arc::clone(&told);
    pane.set_tap(|_| {
        let tap: Tap = Box::new(move |change| {
            let mut told = tap_told.lock().unwrap();
            if let Tapped::Output(bytes) = change {
                told.extend_from_slice(bytes);
            }
            told.len() as u64
        });
        (tap, 0)
    });
    feed_panicking_sequence(&pane);
    assert_eq!(pane.resets(), 1);
    assert!(!pane.model.is_poisoned());
    assert_eq!(size(&pane), (5, 2), "the reset pane keeps its size");
    assert_eq!(pane.title().as_deref(), Some("the title"));
    assert_eq!(
        told.lock().unwrap().as_slice(),
        "a中\x1b[?6l\x1b[K".as_bytes(),
        "the tap is told of every byte, the ones vt100 panicked on too"
    );
    // A query after the reset is still answered.
    let mut replies = Vec::new();
    pane.feed(b"\x1b[H\x1b[6n", &mut replies);
    assert_eq!(replies, b"\x1b[1;1R");
    pane.resize(6, 20);
    assert_works(&pane);
}
