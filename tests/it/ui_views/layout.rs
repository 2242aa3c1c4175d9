//! The main view: the list and the grid of panes, zoom, pane sizes, what is read again, help.

use super::*;

#[test]
fn list_and_grid_show_every_state() {
    let mut d = scene();
    let terminal = d.draw();
    let buffer = terminal.backend().buffer().clone();
    insta::assert_snapshot!("grid", terminal.backend());
    let text = buffer_text(&buffer);
    for expected in [
        "retrying in 4s",
        "+12 −3, 2 files",
        "merged",
        "1/3",
        "running",
        "succeeded",
        "failed",
        "pending",
        "[##########] 100%",
        "moved here",
        "run 20231114-221320-k3f9",
        "1m35s",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from\n{text}");
    }
    // The progress bar was redrawn in place with \r: only its last state is on screen.
    assert!(!text.contains("60%"));
    // Colors come through the terminal emulator.
    let (x, y) = find(&buffer, "compiling").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Indexed(2));
    let (x, y) = find(&buffer, "error: none").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Indexed(1));
    // The cursor move put the text at row 6, column 3 of the pane.
    let parser = d.app.layout().slot(0).unwrap().inner();
    assert_eq!(
        find(&buffer, "moved here"),
        Some((parser.x + 2, parser.y + 5))
    );
}

#[test]
fn zoom_gives_the_selected_pane_the_screen_and_resizes_it() {
    let mut d = scene();
    d.draw();
    d.key(KeyCode::Char('j'));
    let actions = d.key(KeyCode::Enter);
    assert!(actions.is_empty());
    assert!(d.app.zoomed());
    let terminal = d.draw();
    insta::assert_snapshot!("zoom", terminal.backend());
    assert_eq!(d.panes["docs"].with_screen(|s| s.size()), Some((30, 118)));
    // Panes hidden by the zoom keep their last size.
    let grid_size = d.panes["parser"].with_screen(|s| s.size());
    assert_ne!(grid_size, Some((30, 118)));
    d.key(KeyCode::Char('z'));
    assert!(!d.app.zoomed());
    assert_eq!(d.panes["parser"].with_screen(|s| s.size()), grid_size);
    // Zoom again with Esc to leave it.
    d.key(KeyCode::Char('z'));
    d.key(KeyCode::Esc);
    assert!(!d.app.zoomed());
}

#[test]
fn resizes_are_sent_once_per_size_and_only_for_shown_panes() {
    let mut d = Dash::new(80, 24);
    let names: Vec<String> = (0..12).map(|i| format!("t{i:02}")).collect();
    for (i, name) in names.iter().enumerate() {
        d.add(view(i, name, TaskStatus::Running));
    }
    let shown = d.app.layout().panes.len();
    assert!(shown < 12, "an 80x24 screen cannot show 12 legible panes");
    // Adding tasks already resized the shown ones; nothing is left to send.
    assert!(d.resize_panes().is_empty());
    for name in &names[shown..] {
        assert_eq!(d.panes[name].with_screen(|s| s.size()), Some((24, 80)));
    }
    // Output on a pane that is not shown does not ask for a redraw.
    let hidden = shown;
    assert!(!d.app.apply_event(Event::Output {
        task: TaskId(hidden)
    }));
    assert!(d.app.apply_event(Event::Output { task: TaskId(0) }));
    // Selecting a task on the next page shows and sizes its page.
    for _ in 0..shown {
        d.key(KeyCode::Char('j'));
    }
    assert_eq!(d.app.selected(), shown);
    assert!(d.app.layout().slot(shown).is_some());
    assert_ne!(
        d.panes[&names[shown]].with_screen(|s| s.size()),
        Some((24, 80))
    );
    // A terminal resize sizes the shown panes again.
    d.app.set_size(100, 30);
    let sizes = d.resize_panes();
    assert_eq!(sizes.len(), d.app.layout().panes.len());
}

#[test]
fn only_panes_that_changed_are_read_again() {
    let mut d = scene();
    d.draw();
    // Output the engine has not announced yet is not read: the cached render stays.
    d.panes["docs"].feed(b"quietly added\r\n", &mut std::io::sink());
    assert!(!d.text().contains("quietly added"));
    d.app.apply_event(Event::Output { task: TaskId(1) });
    assert!(d.text().contains("quietly added"));
    // Drawing took the change, so the engine will announce the next output.
    assert!(!d.panes["docs"].take_changed());
}

#[test]
fn help_lists_every_key() {
    let mut d = scene();
    d.key(KeyCode::Char('?'));
    assert!(matches!(d.app.mode(), Mode::Help { .. }));
    let terminal = d.draw();
    insta::assert_snapshot!("help", terminal.backend());
    // Page by page to its end, which the bottom edge announces until it is reached.
    let mut text = buffer_text(terminal.backend().buffer());
    assert!(text.contains("↓ more"), "{text}");
    while !text.contains(" end ") {
        d.key(KeyCode::PageDown);
        let page = buffer_text(d.draw().backend().buffer());
        assert!(page.contains(" end ") || page.contains("↓ more"), "{page}");
        text.push_str(&page);
    }
    for key in [
        "j / ↓",
        "Enter / z",
        "Tab",
        "Ctrl-]",
        "Ctrl-Z",
        "PgUp / PgDn",
        "Home / End",
        "d / Enter",
    ] {
        assert!(text.contains(key), "{key} missing");
    }
    for key in ["i  ", "c  ", "r  ", "m  ", "d  ", "l  ", "q / Ctrl-C"] {
        assert!(text.contains(&format!("  {key}")), "{key} missing");
    }
    // q closes the help, as Esc does; it does not quit.
    d.key(KeyCode::Char('q'));
    assert!(matches!(d.app.mode(), Mode::Normal));
    assert!(d.app.exit_code().is_none());
}
