//! The rule for plan, task and agent names, and reading a name that follows it.

use super::error::{quoted, Bad, Res};
use super::scope::Scope;
use super::tree::Entry;

/// The rule for plan, task and agent names: `[A-Za-z0-9._-]{1,64}`, and nothing that could
/// escape a folder or upset git once used as a branch path part or folder name.
pub fn valid_name(s: &str) -> bool {
    name_problem(s).is_none()
}

/// What breaks the name rule, if anything.
pub(super) fn name_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("names must not be empty".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Some(format!(
            "{c:?} is not allowed (use letters, digits, '.', '_' and '-')"
        ));
    }
    let problem = if s.len() > 64 {
        "names are at most 64 characters"
    } else if s.starts_with(['.', '-']) {
        "names must not start with '.' or '-'"
    } else if s.contains("..") {
        "names must not contain '..'"
    } else if s.ends_with(".lock") {
        "names must not end with '.lock'"
    } else if s.ends_with('.') {
        "names must not end with '.'"
    } else {
        return None;
    };
    Some(problem.into())
}

/// A string value that follows the name rule.
pub(super) fn read_name(scope: &Scope, entry: &Entry, what: &str) -> Res<String> {
    let name = scope.string(entry)?;
    match name_problem(name) {
        None => Ok(name.to_string()),
        Some(problem) => Err(Bad::at(
            entry.value.span.start,
            format!("invalid {what} {}: {problem}", quoted(name)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn name_rule() {
        for good in ["gen", "a.b", "A_1-x", "x".repeat(64).as_str(), "v1.2"] {
            assert!(valid_name(good), "{good} should be valid");
        }
        for bad in [
            "",
            "a b",
            "a/b",
            ".hidden",
            "-x",
            "a..b",
            "x.lock",
            "x.",
            "é",
            "x".repeat(65).as_str(),
        ] {
            assert!(!valid_name(bad), "{bad} should be invalid");
        }
    }
}
