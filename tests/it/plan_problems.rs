//! A plan with several problems: validation tells every one (up to a limit), each on its own
//! line at its file:line:col, suggests the nearest known name for an unknown one, and does not
//! pile up problems that only follow from another.

use std::path::Path;

use crate::support::*;
use grove::cli::exit::ExitCode;
use grove::plan::{load, PlanError};

/// Loads `text` as plan.toml in a fresh temp dir; the error it must give, and its lines.
fn problems(text: &str) -> (PlanError, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.toml");
    std::fs::write(&path, text).unwrap();
    let err = load(&path).expect_err("the plan should be rejected");
    let prefix = format!("{}:", path.display());
    let lines = err
        .to_string()
        .lines()
        .map(|l| l.strip_prefix(&prefix).unwrap_or(l).to_string())
        .collect();
    (err, lines)
}

#[test]
fn every_problem_is_told_at_its_place_in_file_order() {
    let (err, lines) = problems(
        r#"name = "p"
strategy = "paralel"
max_parallel = 0
[defaults]
timeout = "soon"
[[tasks]]
name = "a"
agnet = "demo"
prompt = "x"
retries = -1
[[tasks]]
name = "b"
prompt = "y"
agent = "shel"
depends_on = ["aa"]
backoff = { intial = "1s" }
"#,
    );
    assert_eq!(
        lines,
        [
            r#"2:12: 'strategy' must be one of "parallel", "sequential", "fallback", "batched", got "paralel" (did you mean "parallel"?)"#,
            "3:16: 'max_parallel' must be 1 or more, got 0",
            r#"5:11: [defaults]: bad duration "soon" for 'timeout' (use e.g. "90s", "5m", "1h30m")"#,
            "8:1: unknown key 'agnet' in task 'a' (did you mean 'agent'?)",
            "10:11: task 'a': 'retries' must be 0 or more, got -1",
            "14:9: task 'b': unknown agent 'shel' (did you mean 'shell'?) (presets: demo, shell, claude, claude-interactive, codex, aider, gemini; defined agents: none)",
            "15:15: task 'b' depends on unknown task 'aa' (did you mean 'a'?)",
            "16:13: unknown key 'backoff.intial' in task 'b' (did you mean 'backoff.initial'?)",
        ],
    );
    assert_eq!(err.line_col(), Some((2, 12)));
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn past_the_limit_problems_are_counted() {
    let keys: String = (0..25).map(|i| format!("unknown_{i} = 1\n")).collect();
    let (_, lines) = problems(&format!(
        "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n{keys}"
    ));
    assert_eq!(lines.len(), 21, "{lines:#?}");
    assert_eq!(lines[0], "5:1: unknown key 'unknown_0' in task 'a'");
    assert_eq!(
        lines[20],
        "… and 5 more problems (only the first 20 are told)"
    );
}

#[test]
fn choices_and_names_suggest_the_nearest() {
    let (_, lines) = problems(
        r#"name = "p"
[agents.reviewer]
command = ["true"]
output = "termnial"
[[tasks]]
name = "a"
prompt = "x"
merge = "atuo"
keep_worktrees = "nevr"
agent = "reveiwer"
pick = "first-pasing"
replicas = 2
"#,
    );
    let told = lines.join("\n");
    for phrase in [
        r#"got "termnial" (did you mean "terminal"?)"#,
        r#"got "atuo" (did you mean "auto"?)"#,
        r#"got "nevr" (did you mean "never"?)"#,
        "unknown agent 'reveiwer' (did you mean 'reviewer'?)",
        r#"got "first-pasing" (did you mean "first-passing"?)"#,
    ] {
        assert!(told.contains(phrase), "{phrase:?} in:\n{told}");
    }
    // Nothing near: no suggestion.
    let (_, lines) =
        problems("name = \"p\"\ncolour = 1\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n");
    assert_eq!(lines, ["2:1: unknown top-level key 'colour'"]);
}

/// A problem is told once, not again as every problem that would follow from it.
#[test]
fn no_problem_follows_from_another() {
    // The defaults' prompt file is missing: the tasks relying on it are not also told they have
    // no prompt.
    let (_, lines) = problems(
        "name = \"p\"\n[defaults]\nprompt_file = \"gone.md\"\n[[tasks]]\nname = \"a\"\n[[tasks]]\nname = \"b\"\n",
    );
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with("3:15: [defaults]: ") && lines[0].contains("prompt_file 'gone.md'"),
        "{lines:#?}"
    );
    // An agent with a bad field is still an agent its tasks may name.
    let (_, lines) = problems(
        "name = \"p\"\n[agents.mine]\ncommand = [\"true\"]\noutput = 3\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\nagent = \"mine\"\n",
    );
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].starts_with("4:10: agent 'mine': 'output' must be a string"));
    // A task with a problem still has its name: depending on it is fine, repeating it is not.
    let (_, lines) = problems(
        "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\nretries = \"no\"\n[[tasks]]\nname = \"b\"\nprompt = \"y\"\ndepends_on = [\"a\"]\n[[tasks]]\nname = \"a\"\nprompt = \"z\"\n",
    );
    assert_eq!(
        lines,
        [
            "5:11: task 'a': 'retries' must be an integer, found a string",
            "11:8: duplicate task name 'a' (first used on line 3)",
        ]
    );
}

/// `grove validate` says every problem on its own `error:` line, exits 2, creates nothing.
#[test]
fn validate_tells_every_problem_and_exits_2() {
    let repo = Repo::new();
    repo.write(
        "plan.toml",
        "name = \"p\"\nmax_parallel = 0\n[[tasks]]\nname = \"a\"\nagnet = \"demo\"\nprompt = \"x\"\n",
    );
    let out = repo.grove(&["validate", "plan.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with("error: ") && lines[0].contains("plan.toml:2:16: "));
    assert!(
        lines[1].starts_with("error: ")
            && lines[1]
                .contains("plan.toml:5:1: unknown key 'agnet' in task 'a' (did you mean 'agent'?)"),
        "{stderr}"
    );
    assert!(!Path::new(&repo.path().join(".grove")).exists());
}
