//! The agent list: three lines per task with status, name, agent, attempt, time, then the diff
//! stat and merge state (or the error of a task that failed).

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState};
use ratatui::Frame;

use crate::engine::api::{MergeState, TaskView};
use crate::ui::app::App;
use crate::ui::format;
use crate::ui::layout::{list_offset, ScreenLayout};
use crate::usage::dollars;

pub(super) fn draw(app: &App, layout: &ScreenLayout, area: Rect, frame: &mut Frame) {
    let width = usize::from(area.width.saturating_sub(2));
    let items: Vec<ListItem> = app
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| ListItem::new(item(&t.view, race_glyph(app, i), app, width)))
        .collect();
    let list = List::new(items)
        .block(Block::bordered().title(" tasks "))
        .highlight_style(
            Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD),
        );
    let mut state = ListState::default()
        .with_offset(list_offset(app.selected, layout.list_capacity()))
        .with_selected((!app.tasks.is_empty()).then_some(app.selected));
    frame.render_stateful_widget(list, area, &mut state);
}

/// Siblings of a race are drawn as one bracket: `┌` first, `├` between, `└` last.
fn race_glyph(app: &App, index: usize) -> Option<&'static str> {
    let group = app.tasks[index].view.group.as_ref()?;
    let same = |i: Option<usize>| {
        i.and_then(|i| app.tasks.get(i))
            .is_some_and(|t| t.view.group.as_ref() == Some(group))
    };
    Some(match (same(index.checked_sub(1)), same(Some(index + 1))) {
        (false, _) => "┌ ",
        (true, true) => "├ ",
        (true, false) => "└ ",
    })
}

fn item(view: &TaskView, glyph: Option<&str>, app: &App, width: usize) -> Vec<Line<'static>> {
    let status = format::status_text(view, app.now);
    let style = format::task_style(view);
    let symbol = format::status_symbol(view.status);
    // The status word sits at the right edge; the name gets what is left, cut in the middle
    // (names often share a prefix), and the status is cut when even a short name has no room.
    let glyph = glyph.unwrap_or("");
    let min_name = view.name.chars().count().min(10);
    let status = match width.checked_sub(min_name + glyph.chars().count() + 3) {
        Some(room) if room >= status.chars().count() => status,
        Some(room) => format::cut_end(&status, room.max(1)),
        None => String::new(),
    };
    let room = width
        .saturating_sub(status.chars().count() + glyph.chars().count() + 3)
        .max(1);
    let name = format!("{glyph}{}", format::cut_middle(&view.name, room));
    let pad = width.saturating_sub(name.chars().count() + status.chars().count() + 2);
    let first = Line::from(vec![
        Span::styled(format!("{symbol} "), format::status_style(view.status)),
        Span::styled(name, Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(" ".repeat(pad.max(1))),
        Span::styled(status, style),
    ]);

    let dim = Style::new().fg(Color::Gray);
    let mut facts = vec![
        Span::raw("  "),
        Span::styled(view.agent.clone(), dim),
        Span::styled(format!("  {}/{}", view.attempt, view.max_attempts), dim),
    ];
    if let Some(elapsed) = format::task_elapsed(view, app.now) {
        facts.push(Span::styled(format!("  {}", format::clock(elapsed)), dim));
    }
    if let Some(usage) = &view.usage {
        facts.push(Span::styled(format!("  {}", dollars(usage.cost_usd)), dim));
    }
    let mut outcome = vec![Span::raw("  ")];
    if let Some(stat) = &view.diff_stat {
        outcome.push(Span::raw(format!("{}  ", format::diff_stat(stat))));
    }
    if view.merge != MergeState::NotRequested {
        let color = match view.merge {
            MergeState::Merged => Color::Green,
            MergeState::Conflict | MergeState::Refused => Color::Red,
            _ => Color::Yellow,
        };
        outcome.push(Span::styled(view.merge.word(), Style::new().fg(color)));
    }
    if outcome.len() == 1 {
        if let Some(error) = &view.error {
            outcome.push(Span::styled(error.clone(), Style::new().fg(Color::Red)));
        }
    }
    vec![first, Line::from(facts), Line::from(outcome)]
}
