//! The two bottom lines: run id, counts per status, elapsed time; then either the last message
//! or the keys that work in the current mode.

use std::time::{Duration, SystemTime};

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::engine::api::{TaskStatus, Usage};
use crate::ui::app::{App, Confirm, Mode};
use crate::ui::format;
use crate::ui::keymap::{self, Act, Scope};
use crate::ui::layout::ScreenLayout;
use crate::ui::search::Search;
use crate::usage::dollars;

/// A part of the status bar: its spans, and how much it matters (the least important parts go
/// first on a narrow screen).
struct Part {
    spans: Vec<Span<'static>>,
    rank: u8,
}

impl Part {
    fn new(rank: u8, spans: Vec<Span<'static>>) -> Part {
        Part { spans, rank }
    }

    fn width(&self) -> usize {
        self.spans.iter().map(Span::width).sum()
    }
}

pub(super) fn draw(app: &App, layout: &ScreenLayout, frame: &mut Frame) {
    let bar = Style::new().bg(Color::Indexed(236));
    let width = usize::from(layout.status.width);
    let line = fit_parts(status_parts(app, layout, false), width)
        .or_else(|| fit_parts(status_parts(app, layout, true), width))
        .unwrap_or_default();
    frame.render_widget(Paragraph::new(line).style(bar), layout.status);
    frame.render_widget(Paragraph::new(second_line(app, width)), layout.keys);
}

/// The status bar's parts in their order; `compact` counts read `● 1` instead of `● 1 running`.
fn status_parts(app: &App, layout: &ScreenLayout, compact: bool) -> Vec<Part> {
    let mut parts = vec![
        Part::new(
            10,
            vec![Span::styled(
                " grove ",
                Style::new().add_modifier(Modifier::BOLD),
            )],
        ),
        Part::new(50, vec![Span::raw(format!("run {}", app.info.run_id))]),
    ];
    // What is still going on first, then what has ended, each in `ALL`'s order.
    let active = TaskStatus::ALL.into_iter().filter(|s| !s.is_final());
    let mut counts = Vec::new();
    for status in active.chain(TaskStatus::ALL.into_iter().filter(|s| s.is_final())) {
        let n = app.tasks.iter().filter(|t| t.view.status == status).count();
        if n > 0 {
            let text = match compact {
                true => format!(" {}{n}", format::status_symbol(status)),
                false => format!(" {} {n} {}", format::status_symbol(status), status.word()),
            };
            counts.push(Span::styled(text, format::status_style(status)));
        }
    }
    if !counts.is_empty() {
        counts.insert(0, Span::raw(" │"));
        parts.push(Part::new(100, counts));
    }
    let waiting = app
        .tasks
        .iter()
        .filter(|t| t.view.waiting.is_some())
        .count();
    if waiting > 0 {
        parts.push(Part::new(
            95,
            vec![
                Span::raw(" "),
                Span::styled(format!(" {waiting} waiting "), format::waiting_style()),
            ],
        ));
    }
    if app
        .tasks
        .iter()
        .any(|t| t.view.sandbox.starts_with("unavailable"))
    {
        parts.push(Part::new(
            60,
            vec![
                Span::raw(" "),
                Span::styled(
                    " unsandboxed: no Landlock ",
                    Style::new().fg(Color::Black).bg(Color::Yellow),
                ),
            ],
        ));
    }
    let usage = Usage::total(app.tasks.iter().filter_map(|t| t.view.usage.as_ref()));
    if let Some(usage) = usage {
        parts.push(Part::new(
            40,
            vec![Span::raw(format!(" │ {}", dollars(usage.cost_usd)))],
        ));
    }
    let clock = match &app.summary {
        Some(summary) if summary.total == 0 => " │ no tasks yet".to_string(),
        Some(summary) => format!(" │ finished in {}", format::clock(summary.elapsed)),
        None => format!(" │ {}", format::clock(app.run_time())),
    };
    parts.push(Part::new(80, vec![Span::raw(clock)]));
    if layout.panes.len() > 1 && layout.panes.len() < layout.total {
        let first = layout.panes[0].index + 1;
        let last = first + layout.panes.len() - 1;
        let text = format!(" │ panes {first}–{last} of {}", layout.total);
        parts.push(Part::new(90, vec![Span::raw(text)]));
    }
    parts
}

/// The parts that fit `width`, dropping the least important first; None if even the most
/// important one alone does not fit.
fn fit_parts(mut parts: Vec<Part>, width: usize) -> Option<Line<'static>> {
    while parts.iter().map(Part::width).sum::<usize>() > width {
        let least = parts
            .iter()
            .enumerate()
            .min_by_key(|(_, p)| p.rank)
            .map(|(i, _)| i)?;
        if parts.len() == 1 {
            return None;
        }
        parts.remove(least);
    }
    let mut spans: Vec<Span<'static>> = parts.into_iter().flat_map(|p| p.spans).collect();
    // The line starts one column in, whichever part comes first.
    if spans.first().is_some_and(|s| !s.content.starts_with(' ')) {
        spans.insert(0, Span::raw(" "));
    }
    Some(Line::from(spans))
}

fn second_line(app: &App, width: usize) -> Line<'static> {
    if let Mode::Attach = app.mode {
        let name = app.selected_task().map_or("", |t| t.view.name.as_str());
        let detach = keymap::binding(Scope::Attached, Act::Detach).label;
        let bar = Line::styled(
            format!(
                " ATTACHED to {name}: keys go to the agent (Ctrl-C included) · {detach} detaches"
            ),
            attached_style(),
        );
        if bar.width() <= width {
            return bar;
        }
        return Line::styled(
            format!(" ATTACHED · {}", key_bar(app, width).to_string().trim()),
            attached_style(),
        );
    }
    if let Mode::Search(search) = &app.mode {
        return search_line(app, search, width);
    }
    if let Some(flash) = &app.flash {
        let color = if flash.error {
            Color::Red
        } else {
            Color::Yellow
        };
        return Line::styled(format!(" {}", flash.text), Style::new().fg(color));
    }
    if let Mode::Stopping {
        since,
        grace,
        killing,
    } = app.mode
    {
        return Line::styled(stopping_text(app.now, since, grace, killing), Color::Yellow);
    }
    key_bar(app, width)
}

/// While searching: the text (with a cursor while it is typed), which match is shown, the keys.
fn search_line(app: &App, search: &Search, width: usize) -> Line<'static> {
    let mut spans = vec![Span::styled(
        format!(" /{}", search.query),
        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
    )];
    if search.typing {
        spans.push(Span::styled(
            " ",
            Style::new().add_modifier(Modifier::REVERSED),
        ));
    } else {
        let at = match &search.found {
            Some(found) => format!(": match {} of {}", found.nth, found.count),
            None => ": not found".to_string(),
        };
        spans.push(Span::styled(at, Style::new().fg(Color::Yellow)));
    }
    let used: usize = spans.iter().map(Span::width).sum();
    let keys = key_bar(app, width.saturating_sub(used + 2));
    spans.push(Span::raw("  "));
    spans.extend(
        keys.spans
            .into_iter()
            .map(|s| s.style(Style::new().fg(Color::Gray))),
    );
    Line::from(spans)
}

/// While quitting: the grace period counting down to SIGKILL, then the results being written.
fn stopping_text(now: SystemTime, since: SystemTime, grace: Duration, killing: bool) -> String {
    let left = (since + grace).duration_since(now).unwrap_or_default();
    if killing {
        " killing the agents now; writing the results…".to_string()
    } else if left.is_zero() {
        " stopping the agents: SIGKILL sent; writing the results…".to_string()
    } else {
        // Rounded up, as the retry countdown: never "in 0s" while still waiting.
        let secs = left.as_millis().div_ceil(1000) as u64;
        let left = format::clock(Duration::from_secs(secs));
        let kill = keymap::ctrl_key(Scope::Main, Act::Quit);
        format!(" stopping the agents: SIGKILL in {left} · {kill} kills them now")
    }
}

fn attached_style() -> Style {
    Style::new()
        .fg(Color::Black)
        .bg(Color::Magenta)
        .add_modifier(Modifier::BOLD)
}

/// The keys of the current mode that fit `width`, from the key table: the most important ones
/// when not all fit, always with the way out (`? help`, `q quit`, `q/Esc close`…).
fn key_bar(app: &App, width: usize) -> Line<'static> {
    let scope = match app.mode {
        Mode::Normal | Mode::Summary => Scope::Main,
        Mode::Attach => Scope::Attached,
        Mode::Help { .. } | Mode::Diff { .. } | Mode::Details { .. } | Mode::Compare { .. } => {
            Scope::View
        }
        Mode::Confirm(Confirm::Leave { .. }) => Scope::Leave,
        Mode::Confirm(_) => Scope::Confirm,
        Mode::Search(_) => Scope::Search,
        Mode::Form(_) => Scope::Form,
        Mode::Stopping { .. } => return Line::default(),
    };
    let has_tasks = !app.tasks.is_empty();
    // Enter finds what was typed: offered only while typing.
    let typing = matches!(&app.mode, Mode::Search(s) if s.typing);
    let offered: Vec<(usize, &str, u8)> = keymap::BINDINGS
        .iter()
        .enumerate()
        .filter(|(_, b)| b.scope == scope && (has_tasks || !b.needs_task))
        .filter(|(_, b)| {
            scope != Scope::Search || typing == (b.act == Act::Submit) || b.act == Act::Close
        })
        .filter_map(|(i, b)| b.bar.map(|(text, rank)| (i, text, rank)))
        .collect();
    let mut by_rank = offered.clone();
    by_rank.sort_by_key(|(i, _, rank)| (std::cmp::Reverse(*rank), *i));
    const SEP: usize = 3;
    let mut used = 1;
    let mut kept = Vec::new();
    for (i, text, rank) in by_rank {
        let w = text.chars().count() + if kept.is_empty() { 0 } else { SEP };
        if used + w <= width || rank == keymap::ALWAYS {
            used += w;
            kept.push(i);
        }
    }
    let text: Vec<&str> = offered
        .iter()
        .filter(|(i, _, _)| kept.contains(i))
        .map(|(_, text, _)| *text)
        .collect();
    Line::styled(
        format!(" {}", text.join(" · ")),
        Style::new().fg(Color::Gray),
    )
}
