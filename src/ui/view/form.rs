//! The new-task form as a box over the dashboard: each field on its line (the prompt on
//! several), the focused one highlighted with its cursor, the agents marked found or missing.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use crate::ui::form::{Field, TaskForm, TextInput};
use crate::ui::layout::popup;

/// Lines of the prompt shown at once.
const PROMPT_ROWS: usize = 8;
const LABEL: usize = 10;

pub(super) fn draw(form: &TaskForm, area: Rect, frame: &mut Frame) {
    let width = area.width.saturating_sub(4).min(100);
    let lines = lines(form, usize::from(width.saturating_sub(2)));
    let height = lines.len() as u16 + 2;
    let area = popup(area, width, height);
    let title = match (&form.copy_of, &form.follow_up_of) {
        (_, Some(task)) => format!(" follow-up of {task} "),
        (Some(copy), None) => format!(" copy of {} ", copy.task),
        (None, None) => " new task ".to_string(),
    };
    let block = Block::bordered()
        .title(Line::styled(
            title,
            Style::new().add_modifier(Modifier::BOLD),
        ))
        .border_style(Style::new().fg(Color::Cyan));
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The form's lines for a box `width` columns wide inside.
fn lines(form: &TaskForm, width: usize) -> Vec<Line<'static>> {
    let dim = Style::new().fg(Color::Gray);
    let mut lines = Vec::new();
    if let Some(task) = &form.follow_up_of {
        let agent = form.agents.first().map_or("", |a| a.name.as_str());
        lines.push(Line::styled(
            format!(" {agent} continues {task}'s session in its worktree; its commit goes on top"),
            dim,
        ));
        lines.extend(prompt_lines(form));
        lines.push(error_line(form));
        lines.push(Line::styled(" Enter start · Esc cancel", dim));
        return lines;
    }
    lines.push(field_line(form, Field::Name, "name", &form.name, None));

    // The agents, as many to a line as fit.
    let mut agents = vec![label(form, Field::Agent, "agent")];
    let mut used = LABEL + 1;
    for (i, agent) in form.agents.iter().enumerate() {
        let mark = if agent.found { "✓" } else { "✗ missing" };
        let text = format!(" {} {mark} ", agent.name);
        let mut style = if agent.found {
            Style::new()
        } else {
            Style::new().fg(Color::Red)
        };
        if i == form.agent {
            style = style.add_modifier(Modifier::REVERSED);
        }
        let len = text.chars().count() + 1;
        if used + len > width && used > LABEL + 1 {
            lines.push(Line::from(std::mem::take(&mut agents)));
            agents.push(Span::raw(" ".repeat(LABEL + 1)));
            used = LABEL + 1;
        }
        used += len;
        agents.push(Span::styled(text, style));
        agents.push(Span::raw(" "));
    }
    lines.push(Line::from(agents));
    lines.extend(prompt_lines(form));

    let optional = "empty: the plan's default";
    lines.push(field_line(
        form,
        Field::Timeout,
        "timeout",
        &form.timeout,
        Some(&format!("{optional} (e.g. 90s, 10m, 1h30m)")),
    ));
    lines.push(field_line(
        form,
        Field::Retries,
        "retries",
        &form.retries,
        Some(optional),
    ));
    if let Some(copy) = &form.copy_of {
        let kept = match copy.keys.is_empty() {
            true => "nothing else to keep".to_string(),
            false => copy.keys.join(", "),
        };
        lines.push(Line::from(vec![
            label_text("keeps"),
            Span::styled(format!("{kept} (as in {})", copy.task), dim),
        ]));
    }
    lines.push(error_line(form));
    lines.push(Line::styled(
        " Enter start · Esc cancel · Tab / Shift-Tab field · ←/→ agent",
        dim,
    ));
    lines
}

/// The prompt's label and its `PROMPT_ROWS` lines around the cursor.
fn prompt_lines(form: &TaskForm) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(vec![
        label(form, Field::Prompt, "prompt"),
        Span::styled(
            "Ctrl-J or Alt-Enter: new line",
            Style::new().fg(Color::Gray),
        ),
    ])];
    let focused = form.focus == Field::Prompt;
    let text = form.prompt.text();
    let prompt_lines: Vec<&str> = text.split('\n').collect();
    let (cursor_line, cursor_col) = form.prompt.cursor_line_col();
    let first = cursor_line.saturating_sub(PROMPT_ROWS - 1);
    for row in first..first + PROMPT_ROWS {
        let mut spans = vec![Span::raw(" ".repeat(LABEL + 1))];
        if let Some(line) = prompt_lines.get(row) {
            let cursor = (focused && row == cursor_line).then_some(cursor_col);
            spans.extend(with_cursor(line, cursor));
        }
        lines.push(Line::from(spans));
    }
    lines
}

/// Why the last Enter did not start anything (an empty line when it did not fail).
fn error_line(form: &TaskForm) -> Line<'static> {
    match &form.error {
        Some(error) => Line::styled(format!(" {error}"), Style::new().fg(Color::Red)),
        None => Line::default(),
    }
}

/// A label for a line that is no field.
fn label_text(text: &str) -> Span<'static> {
    Span::styled(
        format!(" {text:<LABEL$}"),
        Style::new().add_modifier(Modifier::BOLD),
    )
}

fn label(form: &TaskForm, field: Field, text: &str) -> Span<'static> {
    let style = if form.focus == field {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    };
    Span::styled(format!(" {text:<LABEL$}"), style)
}

/// A one-line field: its label, its text (with the cursor when focused), a hint when empty.
fn field_line(
    form: &TaskForm,
    field: Field,
    name: &str,
    input: &TextInput,
    hint: Option<&str>,
) -> Line<'static> {
    let focused = form.focus == field;
    let text = input.text();
    let mut spans = vec![label(form, field, name)];
    spans.extend(with_cursor(
        &text,
        focused.then(|| input.cursor_line_col().1),
    ));
    if let Some(hint) = hint.filter(|_| text.is_empty()) {
        spans.push(Span::styled(
            format!(" {hint}"),
            Style::new().fg(Color::Gray),
        ));
    }
    Line::from(spans)
}

/// `text` with the character at `cursor` (or a space after the end) shown reversed.
fn with_cursor(text: &str, cursor: Option<usize>) -> Vec<Span<'static>> {
    let Some(at) = cursor else {
        return vec![Span::raw(text.to_string())];
    };
    let chars: Vec<char> = text.chars().collect();
    let before: String = chars[..at.min(chars.len())].iter().collect();
    let under = chars.get(at).map_or(" ".to_string(), |c| c.to_string());
    let after: String = chars
        .get(at + 1..)
        .map_or(String::new(), |r| r.iter().collect());
    vec![
        Span::raw(before),
        Span::styled(under, Style::new().add_modifier(Modifier::REVERSED)),
        Span::raw(after),
    ]
}
