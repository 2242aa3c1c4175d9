use super::*;

fn row_text(pane: &Pane, row: u16) -> String {
    pane.with_screen(|s| {
        let (_, cols) = s.size();
        s.contents_between(row, 0, row, cols)
    })
    .unwrap_or_default()
}

#[test]
fn lines_are_the_history_then_the_screen_and_the_view_stays() {
    let pane = Pane::new(4, 20, 100);
    let mut out = String::new();
    for i in 1..=10 {
        out.push_str(&format!("line {i}\r\n"));
    }
    pane.feed(out.as_bytes(), &mut std::io::sink());
    pane.scroll_to(3);
    let lines = pane.lines();
    let texts: Vec<&str> = lines.iter().map(|l| l.trim_end()).collect();
    let expected: Vec<String> = (1..=10).map(|i| format!("line {i}")).collect();
    assert_eq!(texts[..10], expected);
    assert_eq!(texts[10], "", "the cursor's empty line ends the screen");
    assert_eq!(lines.len(), 11);
    assert_eq!(pane.scroll_offset(), 3);
}

#[test]
fn answers_cursor_position_from_state_before_the_query() {
    let pane = Pane::new(24, 80, 10);
    let mut replies = Vec::new();
    // The query sits between output that moves the cursor and more output after it.
    pane.feed(b"\x1b[5;10Habc\x1b[6nxyz\r\n", &mut replies);
    assert_eq!(replies, b"\x1b[5;13R");
}

#[test]
fn answers_device_status_and_attributes() {
    let pane = Pane::new(24, 80, 10);
    let mut replies = Vec::new();
    pane.feed(b"\x1b[5n", &mut replies);
    assert_eq!(replies, b"\x1b[0n");
    replies.clear();
    pane.feed(b"\x1b[c", &mut replies);
    assert_eq!(replies, b"\x1b[?1;2c");
    replies.clear();
    pane.feed(b"\x1b[0c", &mut replies);
    assert_eq!(replies, b"\x1b[?1;2c");
    replies.clear();
    pane.feed(b"\x1b[>c", &mut replies);
    assert_eq!(replies, b"\x1b[>0;0;0c");
    replies.clear();
    pane.feed(b"plain output\r\n\x1b[31mred\x1b[0m", &mut replies);
    assert!(replies.is_empty());
}

#[test]
fn answers_a_query_split_across_two_feeds() {
    let pane = Pane::new(24, 80, 10);
    let mut replies = Vec::new();
    pane.feed(b"\r\n\r\nab\x1b[", &mut replies);
    assert!(replies.is_empty());
    pane.feed(b"6", &mut replies);
    assert!(replies.is_empty());
    pane.feed(b"n", &mut replies);
    assert_eq!(replies, b"\x1b[3;3R");
    replies.clear();
    pane.feed(b"\x1b", &mut replies);
    pane.feed(b"[>c", &mut replies);
    assert_eq!(replies, b"\x1b[>0;0;0c");
}

#[test]
fn several_queries_in_one_chunk_are_answered_in_order() {
    let pane = Pane::new(24, 80, 10);
    let mut replies = Vec::new();
    pane.feed(b"\x1b[6n\x1b[2;4H\x1b[6n\x1b[c", &mut replies);
    assert_eq!(replies, b"\x1b[1;1R\x1b[2;4R\x1b[?1;2c");
}

#[test]
fn the_title_is_kept_and_an_empty_one_takes_it_away() {
    let pane = Pane::new(4, 20, 10);
    let mut sink = std::io::sink();
    assert_eq!(pane.title(), None);
    pane.feed(b"\x1b]0;first\x07text", &mut sink);
    assert_eq!(pane.title().as_deref(), Some("first"));
    pane.feed(b"\x1b]2;second\x1b\\", &mut sink);
    assert_eq!(pane.title().as_deref(), Some("second"));
    // The icon name alone is not the title.
    pane.feed(b"\x1b]1;icon\x07", &mut sink);
    assert_eq!(pane.title().as_deref(), Some("second"));
    pane.feed(b"\x1b]2;\x07", &mut sink);
    assert_eq!(pane.title(), None);
}

#[test]
fn feed_reports_only_the_first_change_until_taken() {
    let pane = Pane::new(4, 20, 10);
    let mut sink = std::io::sink();
    assert!(pane.feed(b"a", &mut sink));
    assert!(!pane.feed(b"b", &mut sink));
    assert!(pane.take_changed());
    assert!(!pane.take_changed());
    assert!(pane.feed(b"c", &mut sink));
}

#[test]
fn scrollback_is_bounded() {
    let pane = Pane::new(5, 20, 100);
    let mut sink = std::io::sink();
    for i in 0..3000 {
        pane.feed(format!("line {i}\r\n").as_bytes(), &mut sink);
    }
    pane.scroll_by(isize::MAX);
    assert_eq!(pane.scroll_offset(), 100);
    // The oldest line kept is 100 lines above the top of the live screen.
    let live_top = 3000 - 4;
    assert_eq!(row_text(&pane, 0), format!("line {}", live_top - 100));
}

#[test]
fn a_scrolled_view_stays_put_when_output_arrives() {
    let pane = Pane::new(5, 20, 100);
    let mut sink = std::io::sink();
    for i in 0..50 {
        pane.feed(format!("line {i}\r\n").as_bytes(), &mut sink);
    }
    pane.scroll_by(10);
    let before: Vec<String> = (0..5).map(|r| row_text(&pane, r)).collect();
    for i in 50..60 {
        pane.feed(format!("line {i}\r\n").as_bytes(), &mut sink);
    }
    let after: Vec<String> = (0..5).map(|r| row_text(&pane, r)).collect();
    assert_eq!(before, after);
    assert_eq!(pane.scroll_offset(), 20);
    pane.scroll_to_live();
    assert_eq!(pane.scroll_offset(), 0);
    assert_eq!(row_text(&pane, 3), "line 59");
    pane.scroll_by(-5);
    assert_eq!(pane.scroll_offset(), 0);
}

#[test]
fn shrinking_keeps_the_newest_lines_and_scrolls_the_rest_into_the_history() {
    let pane = Pane::new(24, 80, 100);
    let mut sink = std::io::sink();
    for i in 1..=30 {
        pane.feed(format!("line {i}\r\n").as_bytes(), &mut sink);
    }
    pane.resize(10, 80);
    // The cursor's (empty) line stays at the bottom, the last line printed just above it.
    assert_eq!(pane.with_screen(|s| s.cursor_position()), Some((9, 0)));
    assert_eq!(row_text(&pane, 8), "line 30");
    assert_eq!(row_text(&pane, 0), "line 22");
    // Every earlier line is in the history, in order, none lost.
    pane.scroll_by(isize::MAX);
    assert_eq!(pane.scroll_offset(), 21);
    assert_eq!(row_text(&pane, 0), "line 1");
    pane.scroll_by(-10);
    assert_eq!(row_text(&pane, 0), "line 11");
    assert_eq!(row_text(&pane, 9), "line 20");
    pane.scroll_to_live();
    pane.feed(b"line 31\r\n", &mut sink);
    assert_eq!(row_text(&pane, 7), "line 30");
    assert_eq!(row_text(&pane, 8), "line 31");
}

#[test]
fn shrinking_leaves_the_screen_alone_in_the_middle_of_a_sequence() {
    let pane = Pane::new(24, 80, 100);
    let mut replies = Vec::new();
    for i in 1..=30 {
        pane.feed(format!("line {i}\r\n").as_bytes(), &mut replies);
    }
    // A cursor report split by the resize: our bytes must not go into it.
    pane.feed(b"\x1b[", &mut replies);
    pane.resize(10, 80);
    pane.feed(b"6n", &mut replies);
    assert_eq!(replies, b"\x1b[10;1R");
    // Half a character: its first byte is waiting in the parser.
    let pane = Pane::new(24, 80, 100);
    for i in 1..=30 {
        pane.feed(format!("line {i}\r\n").as_bytes(), &mut replies);
    }
    pane.feed("é".as_bytes().split_at(1).0, &mut replies);
    pane.resize(10, 80);
    pane.feed("é".as_bytes().split_at(1).1, &mut replies);
    let cell = pane.with_screen(|s| s.cell(9, 0).map(|c| c.contents().to_string()));
    assert_eq!(cell.flatten().as_deref(), Some("é"));
}

#[test]
fn shrinking_the_alternate_screen_scrolls_nothing_into_the_history() {
    let pane = Pane::new(24, 80, 100);
    let mut sink = std::io::sink();
    pane.feed(b"\x1b[?1049h\x1b[24;1Hbottom", &mut sink);
    pane.resize(10, 80);
    pane.scroll_by(isize::MAX);
    assert_eq!(pane.scroll_offset(), 0);
}

#[test]
fn a_flood_of_huge_counts_leaves_the_screen_they_ask_for() {
    let pane = Pane::new(6, 20, 10);
    let mut sink = std::io::sink();
    let flood = |pane: &Pane, sequence: &str| {
        let mut sink = std::io::sink();
        pane.feed(sequence.repeat(1000).as_bytes(), &mut sink);
    };
    let rows = |pane: &Pane| (0..6).map(|r| row_text(pane, r)).collect::<Vec<_>>();
    pane.feed(
        b"0123456789\r\nsecond\r\nthird\r\nfourth\x1b[1;4H",
        &mut sink,
    );
    // Insert characters: everything right of the cursor goes.
    flood(&pane, "\x1b[999999999@");
    pane.feed(b"X\x1b[3;1H", &mut sink);
    // Insert lines: everything from the cursor's line down goes.
    flood(&pane, "\x1b[999999999L");
    assert_eq!(rows(&pane), ["012X", "second", "", "", "", ""]);
    // Cursor moves stop at the edges; repeat does nothing (vt100 does not know it).
    flood(&pane, "\x1b[999999999B\x1b[999999999C\x1b[999999999b");
    pane.feed(b"!", &mut sink);
    flood(&pane, "\x1b[999999999D");
    pane.feed(b"bottom", &mut sink);
    assert_eq!(rows(&pane)[5], format!("bottom{}!", " ".repeat(13)));
    // Scrolling down clears the screen; the history is what it was.
    flood(&pane, "\x1b[999999999T");
    assert_eq!(rows(&pane), ["", "", "", "", "", ""]);
    pane.scroll_by(isize::MAX);
    assert_eq!(pane.scroll_offset(), 0);
    pane.scroll_to_live();
    // Deleting, erasing and scrolling up too.
    pane.feed(b"\x1b[Habc\r\ndef\x1b[1;2H", &mut sink);
    flood(&pane, "\x1b[999999999P\x1b[999999999X\x1b[999999999M");
    pane.feed(b"\x1b[2;1Hlast\r\n", &mut sink);
    assert_eq!(rows(&pane), ["", "last", "", "", "", ""]);
    // Scrolling up pushes the screen into the history, which stays as long as it is kept.
    pane.feed(b"\x1b[999999999S", &mut sink);
    pane.scroll_by(isize::MAX);
    assert_eq!(pane.scroll_offset(), 6);
    assert_eq!(row_text(&pane, 1), "last");
    pane.scroll_to_live();
    flood(&pane, "\x1b[999999999S");
    pane.scroll_by(isize::MAX);
    assert_eq!(pane.scroll_offset(), 10);
}

#[test]
fn resize_changes_the_screen_and_cursor_reports_follow() {
    let pane = Pane::new(24, 80, 10);
    pane.resize(10, 30);
    assert_eq!(pane.with_screen(|s| s.size()), Some((10, 30)));
    let mut replies = Vec::new();
    pane.feed(b"\x1b[99;99H\x1b[6n", &mut replies);
    assert_eq!(replies, b"\x1b[10;30R");
}
