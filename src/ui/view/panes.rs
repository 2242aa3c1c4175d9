//! The agents' terminals: a bordered pane per shown task, its content copied from the render
//! cached in `App::prepare_frame` (`pane.rs`); the selected pane is highlighted, an attached one unmistakable.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph};
use ratatui::Frame;

use crate::ui::app::{App, Mode, Task};
use crate::ui::format;
use crate::ui::layout::ScreenLayout;
use crate::ui::search::{self, Search};

pub(super) fn draw(app: &App, layout: &ScreenLayout, frame: &mut Frame) {
    if app.tasks.is_empty() {
        let waiting = Paragraph::new("waiting for tasks…").block(Block::bordered());
        frame.render_widget(waiting, layout.pane_area);
        return;
    }
    let attached = matches!(app.mode, Mode::Attach);
    for slot in &layout.panes {
        let Some(task) = app.tasks.get(slot.index) else {
            continue;
        };
        let selected = slot.index == app.selected;
        let width = usize::from(slot.area.width.saturating_sub(2));
        let block = pane_block(app, task, selected, selected && attached, width);
        frame.render_widget(block, slot.area);
        task.render.draw(slot.inner(), frame.buffer_mut());
        if let Mode::Search(search) = &app.mode {
            if search.task == slot.index {
                mark_match(search, task, slot.inner(), frame);
            }
        }
    }
}

/// Highlights the match a search shows: on its line, where the text is.
fn mark_match(search: &Search, task: &Task, inner: Rect, frame: &mut Frame) {
    let Some(found) = &search.found else {
        return;
    };
    // Lines from the newest to the match, then placed on the view `scrolled` lines back.
    let from_end = found.total.saturating_sub(found.line + 1);
    let rows = usize::from(inner.height);
    let Some(row) = (rows + task.render.scrolled()).checked_sub(from_end + 1) else {
        return;
    };
    if row >= rows {
        return;
    }
    let y = inner.y + row as u16;
    let buf = frame.buffer_mut();
    let text: String = (0..inner.width)
        .map(|x| buf[(inner.x + x, y)].symbol().chars().next().unwrap_or(' '))
        .collect();
    let Some((start, len)) = search::columns_in(&text, &search.query) else {
        return;
    };
    for x in start..(start + len).min(usize::from(inner.width)) {
        let cell = &mut buf[(inner.x + x as u16, y)];
        cell.set_style(Style::new().fg(Color::Black).bg(Color::Yellow));
    }
}

/// The pane's border, its title fitting `width` columns: the name cut in the middle when the
/// status would not fit beside it.
fn pane_block(
    app: &App,
    task: &Task,
    selected: bool,
    attached: bool,
    width: usize,
) -> Block<'static> {
    let view = &task.view;
    let status = format::status_text(view, app.now);
    let around = status.chars().count() + 6 + if attached { 10 } else { 0 };
    let name = format::cut_middle(&view.name, width.saturating_sub(around).max(12));
    let mut title = Vec::with_capacity(6);
    if attached {
        title.push(Span::styled(" ATTACHED ", attached_style()));
    }
    title.extend([
        Span::raw(" "),
        Span::styled(
            format!("{} ", format::status_symbol(view.status)),
            format::status_style(view.status),
        ),
        Span::styled(name, Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(" · "),
        // Plain while it works; highlighted while the agent waits for input.
        match view.waiting {
            Some(_) => Span::styled(status, format::task_style(view)),
            None => Span::raw(status),
        },
        Span::raw(" "),
    ]);
    // Confined to its worktree is the default and goes without saying; anything else is shown.
    if view.sandbox != "worktree" || view.max_memory.is_some() {
        title.push(Span::styled(
            format!("sandbox: {} ", format::sandbox(view)),
            Style::new().fg(Color::DarkGray),
        ));
    }
    if task.render.scrolled() > 0 {
        title.push(Span::styled(
            format!("↑{} lines · End for live ", task.render.scrolled()),
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ));
    }
    let block = Block::bordered().title(Line::from(title));
    if attached {
        block
            .border_type(BorderType::Double)
            .border_style(Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD))
            .title_bottom(Line::styled(" Ctrl-] detaches ", attached_style()))
    } else if selected {
        block
            .border_type(BorderType::Thick)
            .border_style(Style::new().fg(Color::Cyan))
    } else {
        block.border_style(Style::new().fg(Color::DarkGray))
    }
}

fn attached_style() -> Style {
    Style::new()
        .fg(Color::Black)
        .bg(Color::Magenta)
        .add_modifier(Modifier::BOLD)
}
