//! A terminal screen (vt100's model of what a program drew) as an SVG picture: every cell's
//! character, colors and boldness, laid out on a fixed grid so it looks as it did on screen.
#![allow(dead_code)]

use std::fmt::Write;

/// Cell size in pixels, for a 14 px monospace font.
const CELL_W: f64 = 8.4;
const CELL_H: f64 = 17.0;
const FONT_SIZE: f64 = 14.0;
const BACKGROUND: &str = "#1e1e2e";
const FOREGROUND: &str = "#d4d4d4";

/// The 16 ANSI colors (a dark theme), then xterm's 6x6x6 cube and gray ramp.
fn indexed(i: u8) -> String {
    const ANSI: [&str; 16] = [
        "#1e1e2e", "#e06c75", "#98c379", "#e5c07b", "#61afef", "#c678dd", "#56b6c2", "#d4d4d4",
        "#5c6370", "#ff7b86", "#b5e890", "#ffd68a", "#82c4ff", "#dd9bf0", "#7fd7e0", "#ffffff",
    ];
    match i {
        0..=15 => ANSI[usize::from(i)].to_string(),
        16..=231 => {
            let i = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            let (r, g, b) = (level(i / 36), level((i / 6) % 6), level(i % 6));
            format!("#{r:02x}{g:02x}{b:02x}")
        }
        _ => {
            let v = 8 + (i - 232) * 10;
            format!("#{v:02x}{v:02x}{v:02x}")
        }
    }
}

fn color(c: vt100::Color, default: &str) -> String {
    match c {
        vt100::Color::Default => default.to_string(),
        vt100::Color::Idx(i) => indexed(i),
        vt100::Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// How one cell looks: its colors (after reverse video) and weight.
#[derive(Clone, PartialEq)]
struct Look {
    fg: String,
    bg: String,
    bold: bool,
}

fn look(cell: &vt100::Cell) -> Look {
    let mut fg = color(cell.fgcolor(), FOREGROUND);
    let mut bg = color(cell.bgcolor(), BACKGROUND);
    if cell.inverse() {
        std::mem::swap(&mut fg, &mut bg);
    }
    Look {
        fg,
        bg,
        bold: cell.bold(),
    }
}

/// The screen as an SVG document.
pub fn render(screen: &vt100::Screen) -> String {
    let (rows, cols) = screen.size();
    let (width, height) = (f64::from(cols) * CELL_W, f64::from(rows) * CELL_H);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="{FONT_SIZE}">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="100%" height="100%" fill="{BACKGROUND}"/>"#
    );
    for row in 0..rows {
        let y = f64::from(row) * CELL_H;
        // Runs of cells that look the same: one background rectangle and one text each.
        let mut col = 0;
        while col < cols {
            let Some(first) = screen.cell(row, col) else {
                break;
            };
            let style = look(first);
            let mut text = String::new();
            let start = col;
            while col < cols {
                let Some(cell) = screen.cell(row, col) else {
                    break;
                };
                if look(cell) != style {
                    break;
                }
                let contents = cell.contents();
                text.push_str(if contents.is_empty() { " " } else { contents });
                col += 1;
            }
            let x = f64::from(start) * CELL_W;
            let w = f64::from(col - start) * CELL_W;
            if style.bg != BACKGROUND {
                let _ = writeln!(
                    svg,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{CELL_H}" fill="{}"/>"#,
                    style.bg
                );
            }
            if !text.trim().is_empty() {
                let weight = if style.bold {
                    r#" font-weight="bold""#
                } else {
                    ""
                };
                let _ = writeln!(
                    svg,
                    r#"<text x="{x:.1}" y="{:.1}" fill="{}"{weight} textLength="{w:.1}" lengthAdjust="spacingAndGlyphs" xml:space="preserve">{}</text>"#,
                    y + CELL_H * 0.78,
                    style.fg,
                    escape(&text)
                );
            }
        }
    }
    svg.push_str("</svg>\n");
    svg
}
