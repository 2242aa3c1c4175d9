//! One agent's terminal as drawn: its screen rendered into a buffer the size of the pane, kept
//! until the terminal or the size changes, and copied into each frame from there.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;
use tui_term::widget::{Cursor, PseudoTerminal};

use crate::term::pane::Pane;

/// A task's pane as last rendered.
pub struct PaneRender {
    /// The pane as last drawn, re-read from the terminal model only when it changed.
    rendered: Buffer,
    stale: bool,
    /// Lines the pane is scrolled back, as of `rendered`.
    scrolled: usize,
}

impl Default for PaneRender {
    fn default() -> PaneRender {
        PaneRender {
            rendered: Buffer::empty(Rect::default()),
            stale: true,
            scrolled: 0,
        }
    }
}

impl PaneRender {
    /// The terminal (or how it is shown) changed: read it again before the next frame.
    pub fn mark_stale(&mut self) {
        self.stale = true;
    }

    /// Lines the shown screen is scrolled back from the live one.
    pub fn scrolled(&self) -> usize {
        self.scrolled
    }

    /// Renders `pane` again for a pane whose inside is `inner` when it changed or the size did;
    /// the cursor is drawn when `cursor` (only while the agent runs).
    pub fn refresh(&mut self, pane: &Pane, inner: Rect, cursor: bool) {
        let resized =
            self.rendered.area.width != inner.width || self.rendered.area.height != inner.height;
        if !self.stale && !resized {
            return;
        }
        // Cleared before reading, so output arriving during the read is announced again.
        pane.take_changed();
        let area = Rect::new(0, 0, inner.width, inner.height);
        if resized {
            self.rendered = Buffer::empty(area);
        }
        let buf = &mut self.rendered;
        let cursor = Cursor::default().visibility(cursor);
        let scrolled = pane.with_screen(|screen| {
            PseudoTerminal::new(screen).cursor(cursor).render(area, buf);
            screen.scrollback()
        });
        self.scrolled = scrolled.unwrap_or(0);
        self.stale = false;
    }

    /// Copies the cached render into `buf` at `inner`; nothing when it was made for another size
    /// (the next `refresh` renders it again).
    pub fn draw(&self, inner: Rect, buf: &mut Buffer) {
        let src = &self.rendered;
        if src.area.width != inner.width || src.area.height != inner.height {
            return;
        }
        for y in 0..inner.height {
            for x in 0..inner.width {
                buf[(inner.x + x, inner.y + y)] = src[(x, y)].clone();
            }
        }
    }
}
