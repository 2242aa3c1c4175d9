//! Drawing: one `draw(&App, &mut Frame)` that lays out the list, panes and status lines, then the
//! overlay of the current mode. Reads the app only; panes come from their cached renders.

mod form;
mod list;
mod overlays;
pub(super) mod pane;
mod panes;
mod popups;
mod status;
mod text;

use ratatui::layout::Rect;
use ratatui::Frame;

use super::app::{App, Mode};

pub fn draw(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let layout = app.layout_in(area);
    if let Some(list) = layout.list {
        list::draw(app, &layout, list, frame);
    }
    panes::draw(app, &layout, frame);
    status::draw(app, &layout, frame);
    let overlay = layout.overlay;
    match &app.mode {
        Mode::Help { scroll } => overlays::draw_help(*scroll, overlay, frame),
        Mode::Diff { .. } => overlays::draw_diff(app, overlay, frame),
        Mode::Details { task, scroll } => {
            overlays::draw_details(app, *task, *scroll, overlay, frame)
        }
        Mode::Compare {
            group,
            scroll,
            hscroll,
        } => overlays::draw_compare(app, group, (*scroll, *hscroll), overlay, frame),
        Mode::Confirm(confirm) => popups::draw_confirm(app, confirm, area, frame),
        Mode::Form(form_state) => form::draw(form_state, area, frame),
        Mode::Summary => popups::draw_summary(app, area, frame),
        Mode::Normal | Mode::Attach | Mode::Stopping { .. } | Mode::Search(_) => {}
    }
    if !app.notices.is_empty() {
        popups::draw_notices(&app.notices, area, frame);
    }
}

/// The size of the text in the scrollable view of the current mode (help, diff, details or
/// compare) as drawn in `area`: its lines, and the columns of its widest line.
pub(super) fn overlay_size(app: &App, area: Rect) -> (usize, usize) {
    let width = overlays::inner_width(area);
    let lines = match &app.mode {
        Mode::Help { .. } => overlays::help_wrapped(width),
        Mode::Diff { patch, task, .. } => {
            let top = overlays::diff_top(app, *task, width).len();
            return match patch {
                Some(Ok(p)) => (top + p.lines.len(), text::widest(&p.lines)),
                _ => (top + 1, 0),
            };
        }
        Mode::Details { task, .. } => overlays::details_wrapped(app, *task, width),
        Mode::Compare { group, .. } => overlays::compare_lines(app, group),
        _ => return (0, 0),
    };
    (lines.len(), text::widest(&lines))
}
