//! The two bottom lines: run id, counts per status, elapsed time; then either the last message
//! or the keys that work in the current mode.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::agent::stream_json::dollars;
use crate::engine::api::{TaskStatus, Usage};
use crate::ui::app::{App, Mode};
use crate::ui::format;
use crate::ui::layout::ScreenLayout;

pub(super) fn draw(app: &App, layout: &ScreenLayout, frame: &mut Frame) {
    let bar = Style::new().bg(Color::Indexed(236));
    let mut spans = vec![
        Span::styled(" grove ", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!("run {} │", app.info.run_id)),
    ];
    // What is still going on first, then what has ended, each in `ALL`'s order.
    let active = TaskStatus::ALL.into_iter().filter(|s| !s.is_final());
    for status in active.chain(TaskStatus::ALL.into_iter().filter(|s| s.is_final())) {
        let n = app.tasks.iter().filter(|t| t.view.status == status).count();
        if n > 0 {
            spans.push(Span::styled(
                format!(" {} {n} {}", format::status_symbol(status), status.word()),
                format::status_style(status),
            ));
        }
    }
    let waiting = app
        .tasks
        .iter()
        .filter(|t| t.view.waiting.is_some())
        .count();
    if waiting > 0 {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(
            format!(" {waiting} waiting "),
            format::waiting_style(),
        ));
    }
    if app
        .tasks
        .iter()
        .any(|t| t.view.sandbox.starts_with("unavailable"))
    {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(
            " unsandboxed: no Landlock ",
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ));
    }
    let usage = Usage::total(app.tasks.iter().filter_map(|t| t.view.usage.as_ref()));
    if let Some(usage) = usage {
        spans.push(Span::raw(format!(" │ {}", dollars(usage.cost_usd))));
    }
    let clock = match &app.summary {
        Some(summary) if summary.total == 0 => " │ no tasks yet".to_string(),
        Some(summary) => format!(" │ finished in {}", format::clock(summary.elapsed)),
        None => {
            let elapsed = app.now.duration_since(app.info.started_at);
            format!(" │ {}", format::clock(elapsed.unwrap_or_default()))
        }
    };
    spans.push(Span::raw(clock));
    if layout.panes.len() > 1 && layout.panes.len() < layout.total {
        let first = layout.panes[0].index + 1;
        let last = first + layout.panes.len() - 1;
        spans.push(Span::raw(format!(
            " │ panes {first}–{last} of {}",
            layout.total
        )));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(bar), layout.status);
    frame.render_widget(Paragraph::new(second_line(app)), layout.keys);
}

fn second_line(app: &App) -> Line<'static> {
    if let Mode::Attach = app.mode {
        let name = app.selected_task().map_or("", |t| t.view.name.as_str());
        return Line::styled(
            format!(
                " ATTACHED to {name}: keys go to the agent (Ctrl-C included) · Ctrl-] detaches"
            ),
            Style::new()
                .fg(Color::Black)
                .bg(Color::Magenta)
                .add_modifier(Modifier::BOLD),
        );
    }
    if let Some(flash) = &app.flash {
        let color = if flash.error {
            Color::Red
        } else {
            Color::Yellow
        };
        return Line::styled(format!(" {}", flash.text), Style::new().fg(color));
    }
    let keys = match app.mode {
        Mode::Normal if app.tasks.is_empty() => " n start a task · ? help · q quit",
        Mode::Normal if app.zoomed => {
            " Enter/Esc grid · j/k select · i attach · c cancel · r retry · m merge · d diff · l details · ? help · q quit"
        }
        Mode::Normal => {
            " j/k select · Enter zoom · i attach · c cancel · r retry · m merge · d diff · l details · ? help · q quit"
        }
        Mode::Help { .. } | Mode::Diff { .. } | Mode::Details { .. } | Mode::Compare { .. } => {
            " j/k scroll · PgUp/PgDn page · g/G top/bottom · Esc back · q quit"
        }
        Mode::Confirm(_) => " y yes · n no",
        Mode::Form(_) => " Enter start · Esc cancel · Tab next field",
        Mode::Summary => " q quit · Esc browse the run · r retry · m merge · d diff · l details",
        Mode::Stopping => " stopping the agents and writing the results…",
        Mode::Attach => "",
    };
    Line::styled(keys, Style::new().fg(Color::Gray))
}
