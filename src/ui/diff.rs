//! The diff view's content: a unified patch turned into a per-file summary (+/− counts) and
//! colored lines, once on the thread that loads the patch, so the UI loop never goes over it and
//! scrolling and drawing stay cheap.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::format;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePatch {
    pub path: String,
    pub insertions: usize,
    pub deletions: usize,
}

/// A patch ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchView {
    pub files: Vec<FilePatch>,
    pub lines: Vec<Line<'static>>,
}

impl PatchView {
    pub fn new(patch: &str) -> PatchView {
        let files = file_stats(patch);
        let mut lines = Vec::new();
        if files.is_empty() {
            lines.push(Line::styled("no changes", Style::new().fg(Color::DarkGray)));
        }
        for f in &files {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("+{:<5}", f.insertions),
                    Style::new().fg(Color::Green),
                ),
                Span::styled(format!("−{:<5}", f.deletions), Style::new().fg(Color::Red)),
                Span::raw(f.path.clone()),
            ]));
        }
        lines.push(Line::default());
        let mut in_hunk = false;
        for raw in patch.lines() {
            if raw.starts_with("diff --git ") {
                in_hunk = false;
            } else if raw.starts_with("@@") {
                in_hunk = true;
            }
            lines.push(Line::styled(
                format::printable(raw),
                line_style(raw, in_hunk),
            ));
        }
        PatchView { files, lines }
    }
}

fn line_style(line: &str, in_hunk: bool) -> Style {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    if line.starts_with("diff --git ") {
        return bold.fg(Color::Yellow);
    }
    if !in_hunk {
        return bold;
    }
    match line.as_bytes().first() {
        Some(b'@') => Style::new().fg(Color::Cyan),
        Some(b'+') => Style::new().fg(Color::Green),
        Some(b'-') => Style::new().fg(Color::Red),
        Some(b'\\') => Style::new().fg(Color::DarkGray),
        _ => Style::new(),
    }
}

/// Per-file line counts. Only lines inside hunks count, so a removed line reading `-- x`
/// (shown as `--- x`) is not mistaken for a file header.
fn file_stats(patch: &str) -> Vec<FilePatch> {
    let mut files: Vec<FilePatch> = Vec::new();
    let mut in_hunk = false;
    for line in patch.lines() {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            in_hunk = false;
            files.push(FilePatch {
                path: git_header_path(rest),
                insertions: 0,
                deletions: 0,
            });
            continue;
        }
        let Some(file) = files.last_mut() else {
            continue;
        };
        if line.starts_with("@@") {
            in_hunk = true;
        } else if !in_hunk {
            // `+++ b/new-name` names the file after a rename; /dev/null means it was deleted.
            if let Some(path) = line.strip_prefix("+++ b/") {
                file.path = path.to_string();
            }
        } else if line.starts_with('+') {
            file.insertions += 1;
        } else if line.starts_with('-') {
            file.deletions += 1;
        }
    }
    files
}

/// `a/x b/x` -> `x` (the new side).
fn git_header_path(rest: &str) -> String {
    match rest.rfind(" b/") {
        Some(at) => rest[at + 3..].to_string(),
        None => rest.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "diff --git a/src/lib.rs b/src/lib.rs
index 1111111..2222222 100644
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,3 +1,3 @@
 fn a() {}
--- removed line that looks like a header
+fn b() {}
+\tindented
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
";

    #[test]
    fn counts_lines_per_file_inside_hunks_only() {
        let view = PatchView::new(PATCH);
        assert_eq!(
            view.files,
            vec![
                FilePatch {
                    path: "src/lib.rs".into(),
                    insertions: 2,
                    deletions: 1
                },
                FilePatch {
                    path: "gone.txt".into(),
                    insertions: 0,
                    deletions: 1
                },
            ]
        );
    }

    #[test]
    fn colors_added_and_removed_lines() {
        let view = PatchView::new(PATCH);
        let find = |text: &str| {
            view.lines
                .iter()
                .find(|l| l.to_string() == text)
                .map(|l| l.style.fg)
        };
        assert_eq!(find("+fn b() {}"), Some(Some(Color::Green)));
        assert_eq!(
            find("--- removed line that looks like a header"),
            Some(Some(Color::Red))
        );
        assert_eq!(find("@@ -1 +0,0 @@"), Some(Some(Color::Cyan)));
        assert_eq!(find("+    indented"), Some(Some(Color::Green)));
    }
}
