//! The reviewer role: reads every surveyed file and writes REVIEW.md with concrete findings
//! (layout problems and common Python pitfalls), file by file.

use super::python;
use super::request::{Request, Work};
use super::workspace::{find, Edit, SourceFile};

const REVIEW_PATH: &str = "REVIEW.md";
const LONG_LINE: usize = 100;
/// Past this many, a file's findings are summarised as "N more" so the review stays readable.
const FINDINGS_PER_FILE: usize = 8;

#[derive(Debug, Clone, PartialEq)]
struct Finding {
    line: Option<usize>,
    text: String,
}

impl Finding {
    fn at(line: usize, text: String) -> Self {
        Finding {
            line: Some(line),
            text,
        }
    }
}

pub fn reviewer(req: &Request<'_>, files: &[SourceFile]) -> Work {
    let reviewed: Vec<&SourceFile> = files.iter().filter(|f| f.path != REVIEW_PATH).collect();
    let mut sections = String::new();
    let mut clean = String::new();
    let mut unread = String::new();
    let (mut total, mut flagged, mut line_count) = (0, 0, 0);
    for file in &reviewed {
        let Some(text) = file.text.as_deref() else {
            unread.push_str(&format!(
                "- `{}` (binary, not UTF-8, or too large)\n",
                file.path
            ));
            continue;
        };
        line_count += file.lines();
        let found = findings(&file.path, text, files);
        if found.is_empty() {
            clean.push_str(&format!("- `{}` ({})\n", file.path, lines(file.lines())));
            continue;
        }
        total += found.len();
        flagged += 1;
        sections.push_str(&format!("\n## `{}`\n\n", file.path));
        for f in found.iter().take(FINDINGS_PER_FILE) {
            match f.line {
                Some(n) => sections.push_str(&format!("- line {n}: {}\n", f.text)),
                None => sections.push_str(&format!("- {}\n", f.text)),
            }
        }
        if found.len() > FINDINGS_PER_FILE {
            let more = found.len() - FINDINGS_PER_FILE;
            sections.push_str(&format!("- ({more} more of the same kinds)\n"));
        }
    }
    let read = reviewed.len() - unread.lines().count();
    let mut content = format!(
        "# Review\n\nTask `{}`: {}\n\nRead {read} files ({line_count} lines): {total} findings in {flagged} files.\n",
        req.task,
        req.request_line()
    );
    content.push_str(&sections);
    for (title, list) in [("Files without findings", clean), ("Not read", unread)] {
        if !list.is_empty() {
            content.push_str(&format!("\n## {title}\n\n{list}"));
        }
    }
    let before = find(files, REVIEW_PATH).and_then(|f| f.text.as_deref());
    Work {
        reads: reviewed
            .iter()
            .filter(|f| f.text.is_some())
            .map(|f| f.path.clone())
            .collect(),
        edits: vec![Edit::new(REVIEW_PATH.into(), before, content)],
        summary: format!(
            "reviewed {read} files: {total} findings in {flagged} files ({REVIEW_PATH})"
        ),
    }
}

fn findings(path: &str, text: &str, files: &[SourceFile]) -> Vec<Finding> {
    let mut found = layout_findings(text);
    if path.ends_with(".py") {
        found.extend(python_findings(path, text, files));
    }
    found.sort_by_key(|f| f.line);
    found
}

fn layout_findings(text: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    let numbered = || text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let trailing: Vec<usize> = numbered()
        .filter(|(_, l)| l.ends_with([' ', '\t']))
        .map(|(n, _)| n)
        .collect();
    if let Some(&first) = trailing.first() {
        let text = format!("trailing whitespace on {}", lines(trailing.len()));
        found.push(Finding::at(first, text));
    }
    let long: Vec<usize> = numbered()
        .filter(|(_, l)| l.chars().count() > LONG_LINE)
        .map(|(n, _)| n)
        .collect();
    if let Some(&first) = long.first() {
        let text = format!(
            "{} longer than {LONG_LINE} characters; wrap them",
            lines(long.len())
        );
        found.push(Finding::at(first, text));
    }
    if !text.is_empty() && !text.ends_with('\n') {
        let last = text.lines().count();
        found.push(Finding::at(
            last,
            "no newline at the end of the file".into(),
        ));
    }
    found
}

fn lines(n: usize) -> String {
    if n == 1 {
        "1 line".into()
    } else {
        format!("{n} lines")
    }
}

fn python_findings(path: &str, text: &str, files: &[SourceFile]) -> Vec<Finding> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let is_test = path.starts_with("tests/") || name.starts_with("test_") || name == "conftest.py";
    // Test names say what they check; asking them for docstrings is noise.
    let mut found: Vec<Finding> = python::defs(text)
        .into_iter()
        .filter(|d| d.doc.is_none() && !is_test)
        .map(|d| Finding::at(d.line, format!("function `{}` has no docstring", d.name)))
        .collect();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let code = line.trim();
        let mutable_default = ["=[]", "= []", "={}", "= {}"]
            .iter()
            .any(|d| code.contains(d));
        if code.starts_with("def ") && mutable_default {
            found.push(Finding::at(
                n,
                "a mutable default argument is shared between calls; default to None".into(),
            ));
        }
        if code.contains("== None") || code.contains("!= None") {
            found.push(Finding::at(
                n,
                "comparison with None by ==/!=; use `is None` / `is not None`".into(),
            ));
        }
        if code.starts_with("except:") {
            found.push(Finding::at(
                n,
                "bare `except:` also swallows KeyboardInterrupt and SystemExit".into(),
            ));
        }
        if !is_test && code.starts_with("print(") {
            found.push(Finding::at(
                n,
                "`print` in library code; return the value or use logging".into(),
            ));
        }
    }
    let stem = name.trim_end_matches(".py");
    let needs_tests = !is_test && !["__init__", "__main__", "setup"].contains(&stem);
    let test_name = format!("test_{stem}.py");
    if needs_tests && !files.iter().any(|f| f.path.ends_with(&test_name)) {
        found.push(Finding {
            line: None,
            text: format!("no tests: no file named {test_name}"),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_pitfalls_are_found_with_their_lines() {
        let text = "def total(xs, seen=[]):\n    if xs == None:\n        print(xs)\n    try:\n        pass\n    except:\n        pass \n";
        let found = findings("src/calc/total.py", text, &[]);
        let lines: Vec<Option<usize>> = found.iter().map(|f| f.line).collect();
        assert_eq!(
            lines,
            vec![None, Some(1), Some(1), Some(2), Some(3), Some(6), Some(7)]
        );
        assert!(found[0].text.contains("test_total.py"));
        assert!(found[1].text.contains("docstring") || found[2].text.contains("docstring"));
    }
}
