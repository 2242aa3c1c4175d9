//! Small boxes over the dashboard: the questions (cancel a task, quit, leave) and the run summary.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::text;
use crate::engine::api::{RunSummary, TaskStatus};
use crate::git::{MergePreview, MergeWay};
use crate::ui::app::{App, Confirm};
use crate::ui::format;
use crate::ui::keymap::{self, Act, Scope};
use crate::ui::layout::popup;

pub(super) fn draw_confirm(app: &App, confirm: &Confirm, area: Rect, frame: &mut Frame) {
    let (title, mut lines) = match confirm {
        Confirm::Cancel { task } => (" cancel ", vec![Line::raw(format!("Cancel {task}?"))]),
        Confirm::Quit { active } => {
            let tasks = if *active == 1 {
                "task has"
            } else {
                "tasks have"
            };
            let question = format!(
                "{active} {tasks} not ended; quitting stops them and writes the results to {}. Quit?",
                app.info.results_path.display()
            );
            (" quit ", vec![Line::raw(question)])
        }
        Confirm::Merge {
            task,
            discards,
            preview,
        } => (
            " merge ",
            merge_lines(app, task, discards, preview.as_ref()),
        ),
        Confirm::Leave { active } => (" leave the dashboard ", leave_lines(*active)),
    };
    let bold = Style::new().add_modifier(Modifier::BOLD);
    if !matches!(confirm, Confirm::Leave { .. }) {
        lines.push(Line::default());
        lines.push(Line::from(vec![
            Span::styled(keymap::first_key(Scope::Confirm, Act::Yes), bold),
            Span::raw(" yes   "),
            Span::styled(keymap::first_key(Scope::Confirm, Act::No), bold),
            Span::raw(" no"),
        ]));
    }
    let width = area.width.saturating_sub(4).min(72);
    let lines = text::wrap(&lines, usize::from(width.saturating_sub(2)), 2);
    let height = lines.len() as u16 + 2;
    draw_box(
        title,
        Color::Yellow,
        lines,
        popup(area, width, height),
        frame,
    );
}

/// The question `q` asks when the grove server would keep the agents running: each choice with
/// its keys from the key table.
fn leave_lines(active: usize) -> Vec<Line<'static>> {
    let tasks = if active == 1 {
        "1 task has"
    } else {
        &format!("{active} tasks have")
    };
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let label = |act| keymap::binding(Scope::Leave, act).label;
    let width = [Act::Detach, Act::StopRun, Act::Stay]
        .iter()
        .map(|&act| label(act).chars().count())
        .max()
        .unwrap_or_default();
    let choice = |act, text: &str| {
        Line::from(vec![
            Span::styled(format!("{:<width$}", label(act)), bold),
            Span::raw(format!("  {text}")),
        ])
    };
    vec![
        Line::raw(format!("{tasks} not ended.")),
        Line::default(),
        choice(Act::Detach, "detach: the agents keep running"),
        choice(Act::StopRun, "stop the run: cancel every agent"),
        choice(Act::Stay, "stay"),
    ]
}

/// The warnings printed before the dashboard opened, at the top, until the first key.
pub(super) fn draw_notices(notices: &[String], area: Rect, frame: &mut Frame) {
    let width = area.width.saturating_sub(4).min(100);
    let mut lines: Vec<Line> = notices.iter().map(|n| Line::raw(n.clone())).collect();
    lines.push(Line::styled(
        "any key puts this away",
        Style::new().fg(Color::Gray),
    ));
    let lines = text::wrap(&lines, usize::from(width.saturating_sub(2)), 2);
    let height = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let at = Rect::new(area.x + (area.width - width) / 2, area.y + 1, width, height);
    draw_box(
        " before the dashboard opened ",
        Color::Yellow,
        lines,
        at,
        frame,
    );
}

/// Files named before "and N more".
const FILES_SHOWN: usize = 6;

/// The merge question: what the merge would do, which files, which siblings it discards.
fn merge_lines(
    app: &App,
    task: &str,
    discards: &[String],
    preview: Option<&Result<MergePreview, String>>,
) -> Vec<Line<'static>> {
    let base = app
        .info
        .base_branch
        .as_ref()
        .unwrap_or(&app.info.base_label);
    let mut lines = vec![
        Line::styled(
            format!("Merge {task} into {base}?"),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Line::default(),
    ];
    let warn = Style::new().fg(Color::Red);
    match preview {
        None => lines.push(Line::raw("looking at what the merge would do…")),
        Some(Err(e)) => lines.push(Line::styled(
            format!("cannot tell what it would do: {e}"),
            warn,
        )),
        Some(Ok(preview)) => {
            lines.push(match &preview.way {
                MergeWay::FastForward => {
                    Line::raw(format!("a fast-forward: {base} moves to {task}'s commit"))
                }
                MergeWay::MergeCommit => Line::raw(format!(
                    "a merge commit on {base} ({base} has moved on since {task} started)"
                )),
                MergeWay::AlreadyMerged => Line::raw(format!(
                    "{base} has {task}'s commits already: nothing to merge"
                )),
                MergeWay::Conflict(paths) => Line::styled(
                    format!(
                        "it would conflict in {}: nothing would change (rebase {task}'s branch \
                         on {base} first)",
                        paths.join(", ")
                    ),
                    warn,
                ),
            });
            let n = preview.files.len();
            let mut files = preview.files[..n.min(FILES_SHOWN)].join(", ");
            if n > FILES_SHOWN {
                files.push_str(&format!(" and {} more", n - FILES_SHOWN));
            }
            lines.push(Line::raw(match n {
                0 => "no files changed".to_string(),
                1 => format!("1 file: {files}"),
                n => format!("{n} files: {files}"),
            }));
        }
    }
    if !discards.is_empty() {
        lines.push(Line::raw(format!(
            "it is the race's pick: discards {} (their branches stay)",
            discards.join(", ")
        )));
    }
    lines
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
        Line::styled(
            format!(
                "{} quit · {} browse the run",
                keymap::first_key(Scope::Main, Act::Quit),
                keymap::first_key(Scope::Main, Act::Back)
            ),
            Color::Gray,
        ),
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
