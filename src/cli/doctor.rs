//! `grove doctor`: whether each hosted agent's program can start here: found on PATH, its
//! version, credentials (an API key or a login), and for Claude Code its first-run state
//! (onboarding done, the repository trusted), with the one thing to do about each problem.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::agent::{credentials, find_program};

/// `grove doctor`: checks every hosted agent, with the repository containing `repo` (or the
/// current directory) for Claude Code's trust, and prints the report.
pub fn doctor(repo: Option<&Path>) -> anyhow::Result<i32> {
    let root = super::repo::start_dir(repo)
        .ok()
        .and_then(|dir| crate::git::discover_root(&dir).ok());
    print(&checks(root.as_deref()), &mut super::out::stdout()).context("cannot write the report")
}

/// The hosted agents' programs, with how to install each.
const PROGRAMS: &[(&str, &str)] = &[
    ("claude", "npm install -g @anthropic-ai/claude-code"),
    ("codex", "npm install -g @openai/codex"),
    ("gemini", "npm install -g @google/gemini-cli"),
    (
        "aider",
        "python3 -m pip install aider-install && aider-install",
    ),
];

/// How long `PROGRAM --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(15);

/// One line of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub program: &'static str,
    pub what: &'static str,
    /// None: not applicable (the program is not installed).
    pub ok: Option<bool>,
    pub detail: String,
}

/// Every check, for the repository at `repo` (its main working tree) when there is one.
pub fn checks(repo: Option<&Path>) -> Vec<Check> {
    PROGRAMS
        .iter()
        .flat_map(|&(program, _)| checks_of(program, repo).unwrap_or_default())
        .collect()
}

/// The checks of one hosted agent's program (`claude`, or a path ending in it), None for a
/// program grove has no checks for.
pub fn checks_of(program: &str, repo: Option<&Path>) -> Option<Vec<Check>> {
    let name = Path::new(program).file_name()?.to_str()?;
    let &(program, install) = PROGRAMS.iter().find(|(p, _)| *p == name)?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut out = Vec::new();
    let check = |what, ok, detail: String| Check {
        program,
        what,
        ok,
        detail,
    };
    let Some(path) = find_program(program) else {
        out.push(check(
            "program",
            None,
            format!("not on PATH (install: {install})"),
        ));
        return Some(out);
    };
    out.push(check("program", Some(true), path.display().to_string()));
    let version = version(&path);
    out.push(check(
        "version",
        Some(version.is_ok()),
        version.unwrap_or_else(|e| e),
    ));
    let argv = [program.to_string()];
    let env = |name: &str| std::env::var(name).ok();
    let creds = credentials::check(&credentials::Agent {
        argv: &argv,
        env: &env,
        home: home.as_deref(),
    });
    out.push(check(
        "credentials",
        Some(creds.is_ok()),
        creds.unwrap_or_else(|e| e),
    ));
    if program == "claude" {
        out.extend(
            claude_state(home.as_deref(), repo)
                .into_iter()
                .map(|(what, r)| check(what, Some(r.is_ok()), r.unwrap_or_else(|e| e))),
        );
    }
    Some(out)
}

/// `PROGRAM --version`'s first line, within `VERSION_TIMEOUT`.
fn version(path: &Path) -> Result<String, String> {
    let mut child = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    let deadline = Instant::now() + VERSION_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("`--version` did not answer".into());
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    match (out.status.success(), text.lines().next()) {
        (true, Some(line)) => Ok(line.trim().to_string()),
        _ => Err(format!("`--version` failed ({})", out.status)),
    }
}

/// Claude Code's first-run state in `~/.claude.json`: onboarding (without it, it exits at once
/// when it cannot reach its own service) and trust, recorded per main repository root (which
/// covers every worktree below it).
fn claude_state(
    home: Option<&Path>,
    repo: Option<&Path>,
) -> Vec<(&'static str, Result<String, String>)> {
    let run_once = "run `claude` once in a terminal";
    let config = home.map(|h| h.join(".claude.json"));
    let value = config
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .unwrap_or_default();
    let onboarding = match value["hasCompletedOnboarding"] == true {
        true => Ok("done".to_string()),
        false => Err(format!(
            "not done: {run_once} and finish its first-run questions"
        )),
    };
    let mut state = vec![("onboarding", onboarding)];
    if let Some(repo) = repo {
        let trusted = repo.ancestors().any(|dir| {
            value["projects"][dir.display().to_string()]["hasTrustDialogAccepted"] == true
        });
        let result = match trusted {
            true => Ok(repo.display().to_string()),
            false => Err(format!(
                "{} is not trusted: {run_once} there (cd {} && claude) and choose \"Yes, I trust \
                 this folder\"",
                repo.display(),
                repo.display()
            )),
        };
        state.push(("trusted", result));
    }
    state
}

/// The report, one line per check; the exit code: 1 when an installed program has a problem.
pub fn print(checks: &[Check], out: &mut dyn Write) -> std::io::Result<i32> {
    for c in checks {
        writeln!(out, "{:<7} {}", c.program, line(c))?;
    }
    Ok(i32::from(checks.iter().any(|c| c.ok == Some(false))))
}

/// A check as the report shows it after its program: what, `ok`/`FIX`/`-`, the detail (a
/// failure's says the one thing to do).
pub fn line(c: &Check) -> String {
    let mark = match c.ok {
        Some(true) => "ok",
        Some(false) => "FIX",
        None => "-",
    };
    format!("{:<12} {:<4} {}", c.what, mark, c.detail)
}
