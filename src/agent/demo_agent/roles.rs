//! The four roles, and what the generator, tester and documenter write: computed from the
//! request and the surveyed worktree before anything is written (the reviewer is in `review`).

use super::python::{self, PyDef, PyFunction};
use super::request::{Request, Work};
use super::workspace::{find, Edit, SourceFile};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Generator,
    Reviewer,
    Tester,
    Documenter,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Generator,
        Role::Reviewer,
        Role::Tester,
        Role::Documenter,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Generator => "generator",
            Role::Reviewer => "reviewer",
            Role::Tester => "tester",
            Role::Documenter => "documenter",
        }
    }

    /// Prompt words that suggest the role when `inputs.role` is not given.
    fn cues(self) -> &'static [&'static str] {
        match self {
            Role::Generator => &[],
            Role::Reviewer => &["review", "audit", "inspect", "critique"],
            Role::Tester => &["test", "pytest", "coverage"],
            Role::Documenter => &["document", "docs", "readme", "explain", "docstring"],
        }
    }

    /// The role of the first prompt word that cues one, else generator.
    pub fn from_prompt(prompt: &str) -> Role {
        python::words(prompt)
            .find_map(|w| {
                Role::ALL
                    .into_iter()
                    .find(|r| r.cues().iter().any(|c| w.starts_with(c)))
            })
            .unwrap_or(Role::Generator)
    }

    pub fn work(self, req: &Request<'_>, files: &[SourceFile]) -> Work {
        match self {
            Role::Generator => generator(req, files),
            Role::Reviewer => super::review::reviewer(req, files),
            Role::Tester => tester(req, files),
            Role::Documenter => documenter(req, files),
        }
    }
}

/// How many files a role shows itself reading for context.
const CONTEXT_READS: usize = 5;

/// The named paths that exist, then other Python files, then the README.
pub fn context_reads(files: &[SourceFile], first: &[&str]) -> Vec<String> {
    let named = first.iter().filter_map(|p| find(files, p));
    let python = files.iter().filter(|f| f.path.ends_with(".py"));
    let readme = find(files, "README.md");
    let mut reads: Vec<String> = Vec::new();
    for file in named.chain(python).chain(readme) {
        if reads.len() < CONTEXT_READS && !reads.contains(&file.path) {
            reads.push(file.path.clone());
        }
    }
    reads
}

fn text_of<'a>(files: &'a [SourceFile], path: &str) -> Option<&'a str> {
    find(files, path).and_then(|f| f.text.as_deref())
}

fn names(functions: &[&PyFunction]) -> String {
    let names: Vec<&str> = functions.iter().map(|f| f.name).collect();
    names.join(", ")
}

/// Writes or extends `src/<module>.py` with catalog functions the prompt asks for.
pub fn generator(req: &Request<'_>, files: &[SourceFile]) -> Work {
    let path = req.module_path();
    let before = text_of(files, &path);
    let written: Vec<String> = before
        .map(|t| python::defs(t).into_iter().map(|d| d.name).collect())
        .unwrap_or_default();
    let picked = python::pick(req.prompt, &written);
    let reads = context_reads(files, &[&path]);
    if picked.is_empty() {
        let summary = format!("{path} already has every helper the demo agent knows");
        return Work {
            reads,
            edits: Vec::new(),
            summary,
        };
    }
    let mut content = match before.map(str::trim_end).filter(|t| !t.is_empty()) {
        // Two blank lines between top-level definitions, as PEP 8 asks.
        Some(text) => format!("{text}\n\n\n"),
        None => format!(
            "\"\"\"Small helpers for {}, written by grove's demo agent.\"\"\"\n\n\n",
            req.module
        ),
    };
    content.push_str(&format!("# Task {}: {}\n", req.task, req.request_line()));
    let sources: Vec<&str> = picked.iter().map(|f| f.source).collect();
    content.push_str(&sources.join("\n\n"));
    Work {
        reads,
        summary: format!("added {} to {path}", names(&picked)),
        edits: vec![Edit::new(path, before, content)],
    }
}

/// Writes `tests/test_<module>.py`: real assertions for the catalog functions the module
/// defines (or, when the module is not in this worktree, the ones the prompt asks for), and a
/// callable check for any other public function.
pub fn tester(req: &Request<'_>, files: &[SourceFile]) -> Work {
    let module_path = req.module_path();
    let path = format!("tests/test_{}.py", req.module);
    let found: Vec<PyDef> = text_of(files, &module_path)
        .map(python::defs)
        .unwrap_or_default()
        .into_iter()
        .filter(|d| !d.name.starts_with('_'))
        .collect();
    let from_prompt = found.is_empty();
    let known: Vec<&PyFunction> = if from_prompt {
        python::pick(req.prompt, &[])
    } else {
        found
            .iter()
            .filter_map(|d| python::by_name(&d.name))
            .collect()
    };
    let others: Vec<&str> = found
        .iter()
        .map(|d| d.name.as_str())
        .filter(|n| python::by_name(n).is_none())
        .collect();

    let mut imported: Vec<&str> = known.iter().map(|f| f.name).collect();
    imported.extend(&others);
    let mut tests: Vec<String> = known
        .iter()
        .map(|f| format!("def test_{}():\n{}", f.name, f.test))
        .collect();
    tests.extend(
        others
            .iter()
            .map(|n| format!("def test_{n}_is_callable():\n    assert callable({n})\n")),
    );
    let pytest = if tests.iter().any(|t| t.contains("pytest.")) {
        "\nimport pytest\n"
    } else {
        ""
    };
    let imports: String = imported.iter().map(|n| format!("    {n},\n")).collect();
    let content = format!(
        "\"\"\"Tests for {module_path}, written by grove's demo agent for task {task}.\"\"\"\n\n\
         import pathlib\nimport sys\n{pytest}\n\
         sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / \"src\"))\n\n\
         from {module} import (  # noqa: E402\n{imports})\n\n\n{tests}",
        task = req.task,
        module = req.module,
        tests = tests.join("\n\n"),
    );
    let mut summary = format!("wrote {} tests for {module_path} in {path}", tests.len());
    if from_prompt {
        summary.push_str(&format!(
            " ({module_path} is not in this worktree yet; the tests follow the prompt)"
        ));
    }
    let before = text_of(files, &path);
    Work {
        reads: context_reads(files, &[&module_path, &path]),
        edits: vec![Edit::new(path, before, content)],
        summary,
    }
}

/// Writes `docs/<module>.md` for the module's functions (or the ones the prompt asks for) and
/// links it from README.md when there is one.
pub fn documenter(req: &Request<'_>, files: &[SourceFile]) -> Work {
    let module_path = req.module_path();
    let doc_path = format!("docs/{}.md", req.module);
    let found = text_of(files, &module_path)
        .map(python::defs)
        .unwrap_or_default();
    let from_prompt = found.is_empty();
    let documented: Vec<PyDef> = if from_prompt {
        python::pick(req.prompt, &[])
            .iter()
            .flat_map(|f| python::defs(f.source))
            .collect()
    } else {
        found
    };

    let mut doc = format!(
        "# `{}`\n\nHelpers in `{module_path}`, documented by grove's demo agent for task `{}`.\n",
        req.module, req.task
    );
    if from_prompt {
        doc.push_str(
            "The module is not in this worktree yet: this page describes the helpers the \
             request asks for.\n",
        );
    }
    doc.push_str("\n| function | what it does |\n| --- | --- |\n");
    for d in &documented {
        let what = d.doc.as_deref().unwrap_or("(no docstring)");
        doc.push_str(&format!("| `{}` | {} |\n", cell(&d.signature), cell(what)));
    }
    for d in &documented {
        doc.push_str(&function_section(d, (!from_prompt).then_some(&module_path)));
    }

    let mut edits = vec![Edit::new(doc_path.clone(), text_of(files, &doc_path), doc)];
    let mut summary = format!(
        "documented {} functions of {module_path} in {doc_path}",
        documented.len()
    );
    let readme = text_of(files, "README.md");
    if let Some(text) = readme.filter(|t| !t.contains(&doc_path)) {
        let listed: Vec<String> = documented.iter().map(|d| format!("`{}`", d.name)).collect();
        let content = format!(
            "{}\n\n## {}\n\nThe `{}` helpers are described in [{doc_path}]({doc_path}):\n{}.\n",
            text.trim_end(),
            req.module,
            req.module,
            listed.join(", ")
        );
        edits.push(Edit::new("README.md".into(), readme, content));
        summary.push_str(" and linked it from README.md");
    }
    Work {
        reads: context_reads(files, &[&module_path, "README.md"]),
        edits,
        summary,
    }
}

/// Text safe inside a Markdown table cell (type hints like `int | None` hold a pipe).
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn function_section(d: &PyDef, defined_in: Option<&String>) -> String {
    let mut section = format!("\n## `{}`\n\n", d.signature);
    section.push_str(d.doc.as_deref().unwrap_or("No docstring yet."));
    section.push('\n');
    if let Some(path) = defined_in {
        section.push_str(&format!("\nDefined in `{path}` at line {}.\n", d.line));
    }
    if let Some(f) = python::by_name(&d.name) {
        let example: String = f
            .test
            .lines()
            .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
            .collect();
        section.push_str(&format!("\nExample:\n\n```python\n{example}```\n"));
    }
    section
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_follows_the_first_cue_in_the_prompt() {
        assert_eq!(Role::from_prompt("Write tests, then review"), Role::Tester);
        assert_eq!(Role::from_prompt("Review the tests"), Role::Reviewer);
        assert_eq!(Role::from_prompt("Document utils"), Role::Documenter);
        assert_eq!(Role::from_prompt("Add slugify"), Role::Generator);
    }
}
