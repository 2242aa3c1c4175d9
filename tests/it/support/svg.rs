//! A terminal screen (as vt100 parsed it) drawn as an SVG picture: one cell per character on a
//! fixed grid, each character placed at its cell so any monospace font lines up, with the
//! screen's colors, bold, dim, italic, underline and inverse.

use std::fmt::Write;

/// Width and height of one cell, and the font size, in SVG units. A cell is as wide as a
/// monospace font's character (0.602 em in DejaVu Sans Mono and Menlo), so renderers that flow a
/// run of text instead of placing each character at its `x` still line it up.
const CELL_W: f64 = 8.428;
const CELL_H: f64 = 17.0;
const FONT_SIZE: f64 = 14.0;
const DEFAULT_FG: &str = "#cccccc";
const DEFAULT_BG: &str = "#1e1e1e";
/// The 16 basic colors (a common dark terminal theme).
const BASIC: [&str; 16] = [
    "#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
    "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
];

/// How a run of characters looks.
#[derive(Clone, PartialEq)]
struct Look {
    fg: String,
    bold: bool,
    dim: bool,
    italic: bool,
    underline: bool,
}

/// The screen as an SVG document.
pub fn render(screen: &vt100::Screen) -> String {
    let (rows, cols) = screen.size();
    let (width, height) = (f64::from(cols) * CELL_W, f64::from(rows) * CELL_H);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.1} {height:.1}" font-family="'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', 'Noto Sans Symbols 2', 'Segoe UI Symbol', monospace" font-size="{FONT_SIZE}">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="100%" height="100%" fill="{DEFAULT_BG}"/>"#
    );
    for row in 0..rows {
        let cells: Vec<Option<&vt100::Cell>> = (0..cols).map(|c| screen.cell(row, c)).collect();
        backgrounds(&mut svg, row, &cells);
        texts(&mut svg, row, &cells);
    }
    svg.push_str("</svg>\n");
    svg
}

/// Foreground and background of a cell, inverse applied.
fn colors(cell: &vt100::Cell) -> (String, Option<String>) {
    let fg = color(cell.fgcolor());
    let bg = color(cell.bgcolor());
    if cell.inverse() {
        (
            bg.unwrap_or_else(|| DEFAULT_BG.into()),
            Some(fg.unwrap_or_else(|| DEFAULT_FG.into())),
        )
    } else {
        (fg.unwrap_or_else(|| DEFAULT_FG.into()), bg)
    }
}

/// One rectangle per run of cells with the same background other than the screen's.
fn backgrounds(svg: &mut String, row: u16, cells: &[Option<&vt100::Cell>]) {
    let mut col = 0;
    while col < cells.len() {
        let bg = cells[col].and_then(|c| colors(c).1);
        let start = col;
        while col < cells.len() && cells[col].and_then(|c| colors(c).1) == bg {
            col += 1;
        }
        if let Some(bg) = bg {
            let _ = writeln!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{CELL_H}" fill="{bg}"/>"#,
                start as f64 * CELL_W,
                f64::from(row) * CELL_H,
                (col - start) as f64 * CELL_W,
            );
        }
    }
}

/// One text element per run of characters that look the same, each character at its cell.
fn texts(svg: &mut String, row: u16, cells: &[Option<&vt100::Cell>]) {
    let baseline = f64::from(row) * CELL_H + FONT_SIZE;
    let mut run: Option<(Look, Vec<(usize, String)>)> = None;
    for (col, cell) in cells.iter().enumerate() {
        let Some(cell) = cell.filter(|c| !c.is_wide_continuation()) else {
            continue;
        };
        let text = match cell.contents() {
            "" => " ",
            text => text,
        };
        let look = Look {
            fg: colors(cell).0,
            bold: cell.bold(),
            dim: cell.dim(),
            italic: cell.italic(),
            underline: cell.underline(),
        };
        match &mut run {
            Some((current, chars)) if *current == look => chars.push((col, text.to_string())),
            _ => {
                if let Some((look, chars)) = run.take() {
                    text_element(svg, baseline, &look, &chars);
                }
                run = Some((look, vec![(col, text.to_string())]));
            }
        }
    }
    if let Some((look, chars)) = run {
        text_element(svg, baseline, &look, &chars);
    }
}

fn text_element(svg: &mut String, baseline: f64, look: &Look, chars: &[(usize, String)]) {
    // Spaces are kept inside a run (they keep flowing text in place), not at its ends.
    let blank = |(_, t): &(usize, String)| t.trim().is_empty();
    let Some(first) = chars.iter().position(|c| !blank(c)) else {
        return;
    };
    let last = chars.iter().rposition(|c| !blank(c)).unwrap_or(first);
    let chars = &chars[first..=last];
    let xs: Vec<String> = chars
        .iter()
        .flat_map(|(col, text)| {
            // A cell may hold a character with combining marks: they share its place.
            let x = format!("{:.1}", *col as f64 * CELL_W);
            text.chars().map(move |_| x.clone())
        })
        .collect();
    let mut attrs = format!(r#"fill="{}""#, look.fg);
    if look.bold {
        attrs.push_str(r#" font-weight="bold""#);
    }
    if look.dim {
        attrs.push_str(r#" fill-opacity="0.6""#);
    }
    if look.italic {
        attrs.push_str(r#" font-style="italic""#);
    }
    if look.underline {
        attrs.push_str(r#" text-decoration="underline""#);
    }
    let text: String = chars.iter().map(|(_, t)| escape(t)).collect();
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{baseline:.1}" {attrs} xml:space="preserve">{text}</text>"#,
        xs.join(" ")
    );
}

/// A vt100 color as an SVG color; None for the terminal's default.
fn color(c: vt100::Color) -> Option<String> {
    match c {
        vt100::Color::Default => None,
        vt100::Color::Rgb(r, g, b) => Some(format!("#{r:02x}{g:02x}{b:02x}")),
        vt100::Color::Idx(i) => Some(indexed(i)),
    }
}

/// xterm's 256 colors: the basic 16, a 6x6x6 cube, then 24 grays.
fn indexed(i: u8) -> String {
    match i {
        0..=15 => BASIC[usize::from(i)].to_string(),
        16..=231 => {
            let level = |n: u8| if n == 0 { 0 } else { 55 + 40 * n };
            let n = i - 16;
            format!(
                "#{:02x}{:02x}{:02x}",
                level(n / 36),
                level((n / 6) % 6),
                level(n % 6)
            )
        }
        232..=255 => {
            let v = 8 + 10 * (i - 232);
            format!("#{v:02x}{v:02x}{v:02x}")
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[test]
fn cells_become_colored_runs_at_their_places() {
    let mut parser = vt100::Parser::new(2, 10, 0);
    parser.process(b"ab \x1b[31;1mc<d\x1b[0m\r\n\x1b[44m  \x1b[0m\x1b[7mx\x1b[0m");
    let svg = render(parser.screen());
    assert!(
        svg.starts_with("<svg ") && svg.ends_with("</svg>\n"),
        "{svg}"
    );
    // A run of plain text without its trailing space; the red bold run at column 3, escaped.
    assert!(
        svg.contains(
            r##"<text x="0.0 8.4" y="14.0" fill="#cccccc" xml:space="preserve">ab</text>"##
        ),
        "{svg}"
    );
    assert!(
        svg.contains(r##"fill="#cd3131" font-weight="bold" xml:space="preserve">c&lt;d</text>"##),
        "{svg}"
    );
    // A blue background of two cells on the second row, and inverse text.
    assert!(
        svg.contains(r##"<rect x="0.0" y="17.0" width="16.9" height="17" fill="#2472c8"/>"##),
        "{svg}"
    );
    assert!(
        svg.contains(r##"width="8.4" height="17" fill="#cccccc"/>"##),
        "{svg}"
    );
    assert!(
        svg.contains(r##"fill="#1e1e1e" xml:space="preserve">x</text>"##),
        "{svg}"
    );
}
