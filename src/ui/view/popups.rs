//! Small boxes over the dashboard: the y/n questions (cancel a task, quit) and the run summary.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::engine::api::{RunSummary, TaskStatus};
use crate::ui::app::{App, Confirm};
use crate::ui::format;
use crate::ui::layout::popup;

pub(super) fn draw_confirm(app: &App, confirm: &Confirm, area: Rect, frame: &mut Frame) {
    let (title, question) = match confirm {
        Confirm::Cancel { task } => (" cancel ", format!("Cancel {task}?")),
        Confirm::Quit { active } => {
            let tasks = if *active == 1 {
                "task has"
            } else {
                "tasks have"
            };
            (
                " quit ",
                format!(
                    "{active} {tasks} not ended; quitting stops them and writes the results to {}. Quit?",
                    app.info.results_path.display()
                ),
            )
        }
    };
    let lines = vec![
        Line::raw(question),
        Line::default(),
        Line::from(vec![
            Span::styled("y", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(" yes   "),
            Span::styled("n", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(" no"),
        ]),
    ];
    draw_box(title, Color::Yellow, lines, popup(area, 56, 8), frame);
}

pub(super) fn draw_summary(app: &App, area: Rect, frame: &mut Frame) {
    let Some(summary) = &app.summary else {
        return;
    };
    let rate = format::percent(summary.succeeded, summary.total);
    let mut counts = Vec::new();
    for status in TaskStatus::ALL {
        // Succeeded always, so "0 succeeded" is said; the other statuses only when they occurred.
        let shown = count(summary, status).filter(|n| *n > 0 || status == TaskStatus::Succeeded);
        if let Some(n) = shown {
            counts.push(Span::styled(
                format!("{} {n} {}   ", format::status_symbol(status), status.word()),
                format::status_style(status),
            ));
        }
    }
    let lines = vec![
        Line::styled(
            format!(
                "{} of {} tasks succeeded ({rate}%)",
                summary.succeeded, summary.total
            ),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Line::from(counts),
        Line::raw(format!("total time {}", format::clock(summary.elapsed))),
        match &summary.results_error {
            None => Line::raw(format!("results {}", summary.results_path.display())),
            Some(e) => Line::styled(
                format!("results NOT written ({e})"),
                Style::new().fg(Color::Red),
            ),
        },
        Line::default(),
        Line::styled("q quit · Esc browse the run", Color::Gray),
    ];
    // The run's verdict, not the counts: under `fallback` one success is a successful run.
    let color = if summary.success {
        Color::Green
    } else {
        Color::Red
    };
    draw_box(" run finished ", color, lines, popup(area, 72, 10), frame);
}

/// The summary's count for a final status; None for the statuses a finished run cannot have.
fn count(summary: &RunSummary, status: TaskStatus) -> Option<usize> {
    match status {
        TaskStatus::Succeeded => Some(summary.succeeded),
        TaskStatus::Failed => Some(summary.failed),
        TaskStatus::TimedOut => Some(summary.timed_out),
        TaskStatus::Cancelled => Some(summary.cancelled),
        TaskStatus::Skipped => Some(summary.skipped),
        _ => None,
    }
}

fn draw_box(title: &str, color: Color, lines: Vec<Line>, area: Rect, frame: &mut Frame) {
    let block = Block::bordered()
        .title(Line::styled(
            title.to_string(),
            Style::new().add_modifier(Modifier::BOLD),
        ))
        .border_style(Style::new().fg(color));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
