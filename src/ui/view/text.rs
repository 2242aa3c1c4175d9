//! Fitting styled lines to a width: wrapped at spaces (long words cut), continuation lines
//! indented, so a view shows every character instead of cutting lines at its edge; and the part
//! of a long text that a scrolled view shows.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// `lines` wrapped to `width` columns; continuation lines start with `indent` spaces.
pub(super) fn wrap(lines: &[Line<'static>], width: usize, indent: usize) -> Vec<Line<'static>> {
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        if line.width() <= width || width <= indent + 1 {
            out.push(line.clone());
            continue;
        }
        wrap_line(line, width, indent, &mut out);
    }
    out
}

fn wrap_line(line: &Line<'static>, width: usize, indent: usize, out: &mut Vec<Line<'static>>) {
    let cells: Vec<(char, Style)> = line
        .spans
        .iter()
        .flat_map(|span| {
            let style = line.style.patch(span.style);
            span.content.chars().map(move |c| (c, style))
        })
        .collect();
    let mut start = 0;
    let mut first = true;
    while start < cells.len() {
        let room = if first { width } else { width - indent };
        // The most characters that fit, then back to the last space among them.
        let mut used = 0;
        let mut end = start;
        while end < cells.len() {
            let w = cells[end].0.width().unwrap_or(0);
            if used + w > room {
                break;
            }
            used += w;
            end += 1;
        }
        // Not within a first line's hanging part (`name        value`): that would leave the
        // name alone on its line.
        let keep = if first { indent } else { 0 };
        if end < cells.len() {
            if let Some(space) = cells[start..end].iter().rposition(|(c, _)| *c == ' ') {
                if space > keep {
                    end = start + space + 1;
                }
            }
        }
        let end = end.max(start + 1);
        let mut spans = Vec::new();
        if !first {
            spans.push(Span::raw(" ".repeat(indent)));
        }
        spans.extend(runs(&cells[start..end]));
        out.push(Line::from(spans));
        start = end;
        first = false;
        // A continuation does not start with the spaces it was broken at.
        while start < cells.len() && cells[start].0 == ' ' {
            start += 1;
        }
    }
}

/// Characters with their styles as spans, one per run of the same style.
fn runs(cells: &[(char, Style)]) -> Vec<Span<'static>> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut text = String::new();
    let mut style = None;
    for &(c, s) in cells {
        if style.is_some_and(|st| st != s) {
            spans.push(Span::styled(
                std::mem::take(&mut text),
                style.unwrap_or_default(),
            ));
        }
        style = Some(s);
        text.push(c);
    }
    if !text.is_empty() {
        spans.push(Span::styled(text, style.unwrap_or_default()));
    }
    spans
}

/// The widest of `lines`, in columns.
pub(super) fn widest(lines: &[Line]) -> usize {
    lines.iter().map(Line::width).max().unwrap_or(0)
}

/// The part of `parts` (one after the other) that fits `area` from `scroll` on, so long texts
/// are not copied whole into each frame.
pub(super) fn window<'a>(parts: &[&[Line<'a>]], scroll: usize, area: Rect) -> Vec<Line<'a>> {
    let (mut skip, mut room) = (scroll, usize::from(area.height));
    let mut out = Vec::with_capacity(room);
    for part in parts {
        let start = skip.min(part.len());
        let end = (start + room).min(part.len());
        out.extend_from_slice(&part[start..end]);
        skip -= start;
        room -= end - start;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn long_lines_wrap_at_spaces_with_an_indent() {
        let lines = vec![
            Line::raw("short"),
            Line::raw("  key   the words of a long explanation"),
        ];
        let wrapped = wrap(&lines, 20, 8);
        assert_eq!(
            texts(&wrapped),
            [
                "short",
                "  key   the words ",
                "        of a long ",
                "        explanation"
            ]
        );
        assert!(wrapped.iter().all(|l| l.width() <= 20));
    }

    #[test]
    fn a_word_longer_than_the_width_is_cut() {
        let wrapped = wrap(&[Line::raw("/a/very/long/path/without/spaces")], 12, 2);
        assert_eq!(
            texts(&wrapped),
            ["/a/very/long", "  /path/with", "  out/spaces"]
        );
    }
}
