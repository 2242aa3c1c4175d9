//! Plan parsing and validation against real files: each bad input fails at an exact line and
//! column with a message naming the problem; good plans (TOML and JSON) give the same model.

use std::path::{Path, PathBuf};
use std::time::Duration;

use grove::cli::exit::ExitCode;
use grove::plan::model::{
    AgentOutput, Backoff, KeepWorktrees, MergeMode, Plan, PythonEnv, Strategy,
};
use grove::plan::{load, resolve_repo, PlanError};
use tempfile::TempDir;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Loads `text` saved as `file` in a fresh git repository, next to `extra` files (name, contents).
fn load_with(extra: &[(&str, &[u8])], file: &str, text: &str) -> Result<Plan, PlanError> {
    let dir = TempDir::new().unwrap();
    git2::Repository::init(dir.path()).unwrap();
    for (name, contents) in extra {
        std::fs::write(dir.path().join(name), contents).unwrap();
    }
    load(&write(dir.path(), file, text))
}

fn load_text(file: &str, text: &str) -> Result<Plan, PlanError> {
    load_with(&[], file, text)
}

/// Asserts loading fails at `line:col` with `phrase` in the one-line message.
fn fails_at(file: &str, text: &str, line: usize, col: usize, phrase: &str) {
    let err = load_text(file, text).expect_err("plan should be rejected");
    is_error_at(&err, file, line, col, phrase);
}

fn is_error_at(err: &PlanError, file: &str, line: usize, col: usize, phrase: &str) {
    let msg = err.to_string();
    assert_eq!(err.line_col(), Some((line, col)), "position of: {msg}");
    assert!(
        msg.contains(&format!("{file}:{line}:{col}: ")),
        "message should start with the position: {msg}"
    );
    assert!(msg.contains(phrase), "{msg:?} should contain {phrase:?}");
    assert!(!msg.contains('\n'), "one line: {msg:?}");
    assert_eq!(err.exit_code(), 2);
}

fn toml_fails_at(text: &str, line: usize, col: usize, phrase: &str) {
    fails_at("plan.toml", text, line, col, phrase);
}

fn json_fails_at(text: &str, line: usize, col: usize, phrase: &str) {
    fails_at("plan.json", text, line, col, phrase);
}

/// One task, for plans that need one and are about something else.
const ONE_TASK: &str = "[[tasks]]\nname = \"a\"\nprompt = \"x\"\n";

mod full;
mod keys;
mod prompts;
mod strategies;
mod tasks;
