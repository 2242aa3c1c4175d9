//! The full-screen views: help (every key), a task's diff against the base, and its details
//! (prompt, attempts, provenance, paths, envelope).

use std::borrow::Cow;

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use super::text::{self, window};
use crate::engine::api::{MergeState, TaskView};
use crate::ui::app::{App, Mode};
use crate::ui::format;
use crate::ui::keymap::{self, Scope};

/// Width of the name column of the details' facts.
const FACT_COLUMN: usize = 12;
/// Width of the key column in the help view.
const KEY_COLUMN: usize = 24;

/// Every key, from the key table, by where it works.
pub(super) fn help_lines() -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for scope in Scope::ALL {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.push(Line::styled(
            scope.title(),
            Style::new().add_modifier(Modifier::BOLD),
        ));
        for b in keymap::shown(scope) {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {:<w$}", b.label, w = KEY_COLUMN - 2),
                    Style::new().fg(Color::Cyan),
                ),
                Span::raw(b.help),
            ]));
        }
    }
    lines
}

/// The help as shown in a view `width` columns wide inside: wrapped under the key column.
pub(super) fn help_wrapped(width: usize) -> Vec<Line<'static>> {
    text::wrap(&help_lines(), width, KEY_COLUMN)
}

pub(super) fn draw_help(scroll: usize, area: Rect, frame: &mut Frame) {
    let lines = help_wrapped(inner_width(area));
    draw_scrolled(" keys ", &[&lines], (scroll, 0), area, frame);
}

pub(super) fn draw_diff(app: &App, area: Rect, frame: &mut Frame) {
    let Mode::Diff {
        task,
        head,
        scroll,
        hscroll,
        patch,
    } = &app.mode
    else {
        return;
    };
    let name = app.tasks.get(*task).map_or("", |t| t.view.name.as_str());
    let to = head.as_deref().map_or("worktree", format::short_commit);
    let title = format!(" diff {name}: {}..{to} ", app.info.base_label);
    let top = diff_top(app, *task, inner_width(area));
    match patch {
        Some(Ok(patch)) => draw_scrolled(
            &title,
            &[&top, &patch.lines],
            (*scroll, *hscroll),
            area,
            frame,
        ),
        Some(Err(e)) => {
            let line = Line::styled(format!("cannot show the diff: {e}"), Color::Red);
            let lines = text::wrap(&[line], inner_width(area), 2);
            draw_scrolled(&title, &[&top, &lines], (0, 0), area, frame);
        }
        None => draw_scrolled(
            &title,
            &[&top, &[Line::from("loading…")]],
            (0, 0),
            area,
            frame,
        ),
    }
}

/// What the diff view says above the patch: that a running task's diff is its worktree so far,
/// or, after a merge conflict, what to do next.
pub(super) fn diff_top(app: &App, task: usize, width: usize) -> Vec<Line<'static>> {
    let Some(view) = app.tasks.get(task).map(|t| &t.view) else {
        return Vec::new();
    };
    let note = Style::new().fg(Color::Yellow);
    let base = app
        .info
        .base_branch
        .as_ref()
        .unwrap_or(&app.info.base_label);
    let mut lines = Vec::new();
    if matches!(app.mode, Mode::Diff { head: None, .. }) {
        lines.push(Line::styled(
            format!(
                "{} is {}: its worktree's changes so far, committed or not (r reads them again)",
                view.name,
                view.status.word()
            ),
            note,
        ));
    } else if view.merge == MergeState::Conflict {
        let (run, name, branch) = (&app.info.run_id, &view.name, &view.branch);
        lines.push(Line::styled(
            format!(
                "merging into {base} conflicts in {}: nothing was merged. Next:",
                view.merge_conflicts.join(", ")
            ),
            Style::new().fg(Color::Red),
        ));
        lines.push(Line::styled(
            format!(
                "- rebase its branch on {base} yourself (git switch {branch} && git rebase \
                 {base}), then: grove merge {run} {name}"
            ),
            note,
        ));
        lines.push(Line::styled(
            format!(
                "- or have an agent do it: n starts a task; ask it to rebase {branch} on {base} and \
                 resolve the conflicts, then merge that task"
            ),
            note,
        ));
    }
    if !lines.is_empty() {
        lines.push(Line::default());
    }
    text::wrap(&lines, width, 2)
}

pub(super) fn draw_details(app: &App, task: usize, scroll: usize, area: Rect, frame: &mut Frame) {
    let name = app.tasks.get(task).map_or("", |t| t.view.name.as_str());
    let title = format!(" details {name} ");
    let lines = details_wrapped(app, task, inner_width(area));
    draw_scrolled(&title, &[&lines], (scroll, 0), area, frame);
}

/// The details as shown in a view `width` columns wide inside: wrapped under the value column.
pub(super) fn details_wrapped(app: &App, task: usize, width: usize) -> Vec<Line<'static>> {
    let Some(view) = app.tasks.get(task).map(|t| &t.view) else {
        return Vec::new();
    };
    let (rest, envelope) = details_lines(app, task);
    let mut lines = text::wrap(&facts(view, app), width, FACT_COLUMN);
    lines.extend(text::wrap(&rest, width, 4));
    lines.extend(text::wrap(&envelope, width, 4));
    lines
}

pub(super) fn draw_compare(
    app: &App,
    group: &str,
    scroll: (usize, usize),
    area: Rect,
    frame: &mut Frame,
) {
    let title = format!(" race {group} ");
    draw_scrolled(&title, &[&compare_lines(app, group)], scroll, area, frame);
}

/// Columns inside a view's border.
pub(super) fn inner_width(area: Rect) -> usize {
    usize::from(area.width.saturating_sub(2))
}

/// One row per sibling of race `group`: status, duration, cost, diff stat, check, merge.
pub(super) fn compare_lines(app: &App, group: &str) -> Vec<Line<'static>> {
    let siblings: Vec<&TaskView> = app
        .tasks
        .iter()
        .map(|t| &t.view)
        .filter(|v| v.group.as_deref() == Some(group))
        .collect();
    let width = siblings
        .iter()
        .map(|v| v.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut lines = vec![Line::styled(
        format!(
            "  {:<width$}  {:<10} {:>7} {:>8}  {:<20} {:<18} merge",
            "task", "status", "time", "cost", "diff", "check"
        ),
        bold,
    )];
    for v in siblings {
        let time = format::task_elapsed(v, app.now).map_or("-".into(), format::clock);
        let cost = v
            .usage
            .as_ref()
            .map_or("-".into(), |u| crate::usage::dollars(u.cost_usd));
        let diff = v.diff_stat.as_ref().map_or("-".into(), format::diff_stat);
        let check = match v.attempts.last().and_then(|a| a.check.as_ref()) {
            None => "-".to_string(),
            Some(c) if c.passed => format!("passed {}", format::duration(c.duration)),
            Some(c) => match c.exit_code {
                Some(code) => format!("failed (exit {code})"),
                None => "stopped".to_string(),
            },
        };
        lines.push(Line::from(vec![
            Span::raw(format!("  {:<width$}  ", v.name)),
            Span::styled(
                format!("{:<10}", v.status.word()),
                format::status_style(v.status),
            ),
            Span::raw(format!(
                " {time:>7} {cost:>8}  {diff:<20} {check:<18} {}",
                v.merge.word()
            )),
        ]));
        if let Some(error) = v.error.as_ref().filter(|_| v.status.is_final()) {
            lines.push(Line::styled(
                format!("  {:<width$}  {error}", ""),
                Color::Red,
            ));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "  m on a sibling merges it; the others are discarded (their branches stay)",
        Style::new().fg(Color::Gray),
    ));
    lines
}

/// A bordered view of `parts`, one after the other, from line `scroll.0` on and column
/// `scroll.1`; its bottom edge says where in the text it is and that more is below or aside.
fn draw_scrolled(
    title: &str,
    parts: &[&[Line]],
    (scroll, hscroll): (usize, usize),
    area: Rect,
    frame: &mut Frame,
) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let rows = usize::from(area.height.saturating_sub(2));
    let widest = parts.iter().map(|p| text::widest(p)).max().unwrap_or(0);
    let mut block = Block::bordered()
        .title(Line::styled(
            title.to_string(),
            Style::new().add_modifier(Modifier::BOLD),
        ))
        .border_style(Style::new().fg(Color::Cyan));
    if let Some(place) = place(scroll, rows, len, hscroll, widest, inner_width(area)) {
        block =
            block.title_bottom(Line::styled(place, Style::new().fg(Color::Yellow)).right_aligned());
    }
    let inner = block.inner(area);
    frame.render_widget(Clear, area);
    frame.render_widget(block, area);
    let shown = Paragraph::new(window(parts, scroll, inner)).scroll((0, hscroll as u16));
    frame.render_widget(shown, inner);
}

/// `lines 21–40 of 85 ↓ more` and `→ wider` when the text does not fit the view; None if it does.
pub(super) fn place(
    scroll: usize,
    rows: usize,
    len: usize,
    hscroll: usize,
    widest: usize,
    width: usize,
) -> Option<String> {
    let mut parts = Vec::new();
    if len > rows {
        let last = (scroll + rows).min(len);
        let more = match last < len {
            true => " ↓ more",
            false => " end",
        };
        parts.push(format!("lines {}–{last} of {len}{more}", scroll + 1));
    }
    if widest > width + hscroll {
        parts.push("→ wider (h/l)".to_string());
    } else if hscroll > 0 {
        parts.push("← (h)".to_string());
    }
    (!parts.is_empty()).then(|| format!(" {} ", parts.join(" · ")))
}

/// The details view below the task's facts: its prompt and attempts, rebuilt for each frame as
/// they change; then its envelope, as rendered once when it was loaded.
pub(super) fn details_lines(
    app: &App,
    task: usize,
) -> (Vec<Line<'static>>, Cow<'_, [Line<'static>]>) {
    let Some(view) = app.tasks.get(task).map(|t| &t.view) else {
        return (Vec::new(), Cow::Borrowed(&[]));
    };
    let mut lines = Vec::new();
    section(&mut lines, "prompt");
    lines.extend(view.prompt.lines().map(format::indented));
    section(&mut lines, "attempts");
    if view.attempts.is_empty() {
        lines.push(Line::raw("  none yet"));
    }
    for a in &view.attempts {
        let exit = a.exit_code.map_or("-".to_string(), |c| c.to_string());
        let took = a.duration.map_or("running".to_string(), format::duration);
        let started = humantime::format_rfc3339_seconds(a.started_at);
        lines.push(Line::from(vec![
            Span::raw(format!("  #{:<3}", a.n)),
            Span::styled(
                format!("{:<10}", a.status.word()),
                format::status_style(a.status),
            ),
            Span::raw(format!(" exit {exit:<4} {took:<8} started {started}")),
        ]));
        lines.push(Line::raw(format!("       log {}", a.log.display())));
        if let Some(prompt) = &a.follow_up {
            let first = prompt.lines().next().unwrap_or_default();
            lines.push(Line::raw(format!("       follow-up: {first}")));
        }
        if let Some(error) = &a.error {
            lines.push(Line::styled(format!("       {error}"), Color::Red));
        }
    }
    section(&mut lines, "envelope");
    let envelope = match &app.envelope {
        Some((path, envelope, _)) if *path == view.envelope_path => {
            Cow::Borrowed(envelope.as_slice())
        }
        _ => Cow::Owned(vec![Line::raw("  loading…")]),
    };
    (lines, envelope)
}

fn facts(view: &TaskView, app: &App) -> Vec<Line<'static>> {
    let none = || "-".to_string();
    let merge = match view.merge {
        MergeState::Conflict if !view.merge_conflicts.is_empty() => {
            format!("conflict in {}", view.merge_conflicts.join(", "))
        }
        state => state.word().to_string(),
    };
    let ended = view
        .ended_at
        .map(|t| humantime::format_rfc3339_seconds(t).to_string());
    let mut rows: Vec<(&str, String)> = vec![
        ("status", format::status_text(view, app.now)),
        ("agent", view.agent.clone()),
        (
            "attempt",
            format!("{} of {}", view.attempt, view.max_attempts),
        ),
        ("ended", ended.unwrap_or_else(none)),
        ("error", view.error.clone().unwrap_or_else(none)),
        ("branch", view.branch.clone()),
        ("worktree", worktree(view, app)),
        ("sandbox", format::sandbox(view)),
        ("head", view.head_commit.clone().unwrap_or_else(none)),
        (
            "diff",
            view.diff_stat.as_ref().map_or_else(none, format::diff_stat),
        ),
        ("merge", merge),
        ("input hash", view.input_hash.clone().unwrap_or_else(none)),
        ("output hash", view.output_hash.clone().unwrap_or_else(none)),
        ("envelope", view.envelope_path.display().to_string()),
    ];
    // Only agents that report usage (Claude Code) and agents waiting get these rows.
    if let Some(usage) = &view.usage {
        rows.insert(3, ("usage", format::usage(usage)));
        if let Some(session) = &usage.session_id {
            rows.insert(4, ("session", session.clone()));
        }
        if !usage.permission_denials.is_empty() {
            let denied = format::printable(&usage.permission_denials.join("; "));
            rows.insert(4, ("denied", denied));
        }
    }
    if let Some(prompt) = &view.waiting {
        rows.insert(1, ("waiting at", format::printable(prompt)));
    }
    rows.into_iter()
        .map(|(key, value)| {
            Line::from(vec![
                Span::styled(
                    format!("{key:<w$}", w = FACT_COLUMN),
                    Style::new().fg(Color::Cyan),
                ),
                Span::raw(value),
            ])
        })
        .collect()
}

/// The worktree's path, said to be removed once the details found it gone.
fn worktree(view: &TaskView, app: &App) -> String {
    let removed = matches!(&app.envelope, Some((path, _, true)) if *path == view.envelope_path);
    match removed {
        true => format!("{} (removed)", view.worktree.display()),
        false => view.worktree.display().to_string(),
    }
}

fn section(lines: &mut Vec<Line<'static>>, title: &'static str) {
    lines.push(Line::default());
    lines.push(Line::styled(
        title,
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
    ));
}
