//! The real Claude Code CLI (2.1.332, from npm) under grove, against a stand-in Anthropic API on
//! 127.0.0.1 with scripted answers: the headless transcript, usage and commit; API errors and
//! retries; a timeout that leaves nothing behind; a background task's second result; permission
//! denials. Each test says SKIPPED and passes only when the CLI cannot be installed here.

use crate::support::real_cli::*;
use crate::support::*;
use serde_json::json;

/// Runs `plan` headless with the real CLIs against `api`: its output and results.json.
fn run(repo: &Repo, api: &StandIn, plan: &str) -> (std::process::Output, serde_json::Value) {
    let (out, id) = run_headless(repo, api, plan);
    let results = repo.results(&id);
    (out, results)
}

fn attempt_log(repo: &Repo, run_id: &str, task: &str, attempt: u32) -> String {
    let path = repo
        .run_dir(run_id)
        .join(format!("agents/{task}/attempt-{attempt}.log"));
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

#[test]
fn a_headless_run_shows_its_transcript_commits_its_work_and_records_usage() {
    if bin().is_none() {
        return;
    }
    let repo = Repo::new();
    prepare_claude_home(&repo, true);
    let api = StandIn::start(json!([
        {"tool": "Bash", "input": {"command": "echo hello > out.txt", "description": "write"},
         "usage": {"cache_read_input_tokens": 300, "cache_creation_input_tokens": 40}},
        {"text": "I wrote out.txt."}
    ]));
    let (out, results) = run(
        &repo,
        &api,
        r#"
name = "p"
[defaults]
agent = "claude"
timeout = "60s"
[agents.claude]
args = ["--dangerously-skip-permissions"]
[[tasks]]
name = "hello"
prompt = "write hello to out.txt"
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let hello = task(&results, "hello");
    assert_eq!(hello["status"], "succeeded", "{hello:#}");
    assert_eq!(hello["output"], "I wrote out.txt.");
    assert_eq!(
        repo.git(&["show", &format!("grove/{run_id}/hello:out.txt")]),
        "hello"
    );
    let usage = &hello["usage"];
    assert_eq!(usage["input_tokens"], 22, "{usage:#}");
    assert_eq!(usage["output_tokens"], 14);
    assert_eq!(usage["cache_read_input_tokens"], 300);
    assert_eq!(usage["cache_creation_input_tokens"], 40);
    assert_eq!(usage["num_turns"], 2);
    assert!(usage["cost_usd"].as_f64().unwrap() > 0.0, "{usage:#}");
    let models = usage["models"].as_object().unwrap();
    assert_eq!(models.len(), 1, "{usage:#}");
    assert_eq!(
        models.values().next().unwrap()["cache_read_input_tokens"],
        300
    );
    let session = usage["session_id"].as_str().unwrap();
    assert_eq!(session.len(), 36, "{usage:#}");
    // The API saw the tool's result in the second turn.
    let turns = api.turns();
    assert_eq!(turns.len(), 2);
    assert!(turns[1].to_string().contains("tool_result"), "{}", turns[1]);
    // The raw stream is in the attempt log.
    let log = attempt_log(&repo, &run_id, "hello", 1);
    assert!(log.contains(r#""type":"result""#), "{log}");
}

#[test]
fn api_errors_are_worded_from_their_status_and_the_attempt_is_retried() {
    if bin().is_none() {
        return;
    }
    let repo = Repo::new();
    prepare_claude_home(&repo, true);
    let overloaded = json!({"status": 529, "message": "Overloaded"});
    let api = StandIn::start(json!([overloaded, overloaded, {"text": "Fine now."}]));
    let (out, results) = run(
        &repo,
        &api,
        r#"
name = "p"
[defaults]
agent = "claude"
timeout = "60s"
retries = 1
backoff = { initial = "100ms" }
env = { CLAUDE_CODE_MAX_RETRIES = "1" }
[[tasks]]
name = "busy"
prompt = "say something"
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let busy = task(&results, "busy");
    assert_eq!(busy["status"], "succeeded", "{busy:#}");
    assert_eq!(busy["output"], "Fine now.");
    let first = &busy["attempts"][0];
    let error = first["error"].as_str().unwrap();
    assert!(
        error.starts_with("claude ended with an API error (529 overloaded_error): API Error: 529"),
        "{error}"
    );
    // Claude Code's own retry is in the stream (the pane shows it as `↻ API 529, retry 1/1`).
    let log = attempt_log(&repo, &run_id, "busy", 1);
    assert!(log.contains(r#""subtype":"api_retry""#), "{log}");
}

#[test]
fn a_timeout_stops_claude_and_leaves_nothing_running() {
    if bin().is_none() {
        return;
    }
    let repo = Repo::new();
    prepare_claude_home(&repo, true);
    let api = StandIn::start(json!([{"hang": true}]));
    let (out, results) = run(
        &repo,
        &api,
        r#"
name = "p"
[defaults]
agent = "claude"
timeout = "4s"
kill_grace = "1s"
[[tasks]]
name = "stuck"
prompt = "think hard"
"#,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stuck = task(&results, "stuck");
    assert_eq!(stuck["status"], "timed_out", "{stuck:#}");
    assert_eq!(processes_of_run(&run_id(&out)), Vec::<String>::new());
}

#[test]
fn a_background_task_ends_in_a_second_result_whose_usage_adds_up() {
    if bin().is_none() {
        return;
    }
    let repo = Repo::new();
    prepare_claude_home(&repo, true);
    let marker = repo.home.path().join("background-done");
    let api = StandIn::start(json!([
        {"tool": "Bash",
         "input": {"command": format!("touch '{}'", marker.display()),
                   "description": "bg", "run_in_background": true}},
        {"text": "Started it."},
        {"tool": "Bash",
         "input": {"command": "sleep 300", "description": "forever", "run_in_background": true},
         "usage": {"cache_read_input_tokens": 1000}},
        {"text": "Started another."}
    ]));
    let (out, results) = run(
        &repo,
        &api,
        r#"
name = "p"
[defaults]
agent = "claude"
timeout = "90s"
result_grace = "3s"
[agents.claude]
args = ["--dangerously-skip-permissions"]
[[tasks]]
name = "bg"
prompt = "start the background jobs"
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    let bg = task(&results, "bg");
    assert_eq!(bg["status"], "succeeded", "{bg:#}");
    // Judged by its results: the last one's text is the output, the usage of both adds up.
    assert_eq!(bg["output"], "Started another.");
    let usage = &bg["usage"];
    assert_eq!(usage["num_turns"], 4, "{usage:#}");
    assert_eq!(usage["cache_read_input_tokens"], 1000, "{usage:#}");
    // Claude Code waited for its `sleep 300`: grove stopped it after the grace, and the sleep.
    let run_id = run_id(&out);
    let stopped = repo
        .audit(&run_id)
        .into_iter()
        .any(|l| l["event"] == "kill" && l["reason"] == "after result");
    assert!(stopped, "{:#?}", repo.audit(&run_id));
    assert_eq!(processes_of_run(&run_id), Vec::<String>::new());
}

#[test]
fn denied_tool_calls_that_changed_nothing_fail_the_task() {
    if bin().is_none() {
        return;
    }
    let repo = Repo::new();
    prepare_claude_home(&repo, true);
    let api = StandIn::start(json!([
        {"tool": "Bash", "input": {"command": "echo hello > out.txt", "description": "write"}},
        {"text": "I could not write it."}
    ]));
    let (out, results) = run(
        &repo,
        &api,
        r#"
name = "p"
[defaults]
agent = "claude"
timeout = "60s"
retries = 2
[[tasks]]
name = "denied"
prompt = "write hello to out.txt"
"#,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let denied = task(&results, "denied");
    assert_eq!(denied["status"], "failed", "{denied:#}");
    assert_eq!(
        denied["error"],
        "claude was denied 1 tool call and changed nothing: Bash: echo hello > out.txt"
    );
    assert_eq!(denied["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(
        denied["usage"]["permission_denials"],
        json!(["Bash: echo hello > out.txt"])
    );
}

#[test]
fn claude_interactive_waits_on_its_permission_question_auto_yes_answers_and_idle_exit_ends_it() {
    if bin().is_none() {
        return;
    }
    let repo = Repo::new();
    prepare_claude_home(&repo, true);
    let api = StandIn::start(json!([
        {"tool": "Bash", "input": {"command": "echo hello > out.txt", "description": "write"}},
        {"text": "I wrote out.txt."}
    ]));
    let (out, results) = run(
        &repo,
        &api,
        r#"
name = "p"
[defaults]
agent = "claude-interactive"
timeout = "90s"
idle_after = "2s"
auto_yes = true
idle_exit = true
[agents.claude-interactive]
args = ["--permission-mode", "default"]
[[tasks]]
name = "tui"
prompt = "write hello to out.txt"
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let tui = task(&results, "tui");
    assert_eq!(tui["status"], "succeeded", "{tui:#}");
    assert_eq!(
        repo.git(&["show", &format!("grove/{run_id}/tui:out.txt")]),
        "hello"
    );
    let audit = repo.audit(&run_id);
    let answers: Vec<(String, String)> = audit
        .iter()
        .filter(|l| l["event"] == "auto_yes")
        .map(|l| (l["prompt"].to_string(), l["key"].to_string()))
        .collect();
    assert_eq!(
        answers,
        [(
            r#""Do you want to proceed?""#.to_string(),
            r#""1""#.to_string()
        )]
    );
    assert!(
        audit
            .iter()
            .any(|l| l["event"] == "kill" && l["reason"] == "idle"),
        "{audit:#?}"
    );
    assert_eq!(processes_of_run(&run_id), Vec::<String>::new());
}

#[test]
fn the_folder_trust_dialog_is_never_answered_and_shows_as_needing_setup() {
    if bin().is_none() {
        return;
    }
    let repo = Repo::new();
    prepare_claude_home(&repo, false);
    let api = StandIn::start(json!([{"text": "Hello."}]));
    let (out, results) = run(
        &repo,
        &api,
        r#"
name = "p"
[defaults]
agent = "claude-interactive"
timeout = "12s"
kill_grace = "1s"
idle_after = "1s"
auto_yes = true
idle_exit = true
[[tasks]]
name = "tui"
prompt = "say hello"
"#,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let tui = task(&results, "tui");
    assert_eq!(tui["status"], "timed_out", "{tui:#}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("waiting") && l.contains("for input at: needs setup: ")),
        "{stdout}"
    );
    let audit = repo.audit(&run_id(&out));
    assert!(
        !audit.iter().any(|l| l["event"] == "auto_yes"),
        "{audit:#?}"
    );
    // Claude Code never got past the dialog to the model.
    assert_eq!(api.turns().len(), 0);
}

#[test]
fn doctor_says_what_a_first_run_is_missing_and_how_to_fix_it() {
    let Some(bin) = bin() else {
        return;
    };
    let repo = Repo::new();
    let api = StandIn::start(json!([]));
    let doctor = |repo: &Repo| {
        let out = grove(repo, bin, &api, &["doctor"])
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let line = |report: &str, program: &str, what: &str| {
        report
            .lines()
            .find(|l| l.starts_with(&format!("{program:<7} {what:<12}")))
            .unwrap_or_else(|| panic!("no {program} {what} in:\n{report}"))
            .to_string()
    };
    // A throwaway HOME: never run, so neither onboarded nor trusting the repository.
    let (code, report) = doctor(&repo);
    assert_eq!(code, Some(1), "{report}");
    assert!(
        line(&report, "claude", "version").contains("ok   2.1.332"),
        "{report}"
    );
    assert!(line(&report, "claude", "credentials").contains("ok   $ANTHROPIC_API_KEY"));
    assert!(line(&report, "claude", "onboarding").contains("FIX  not done: run `claude` once"));
    let root = repo.path().display().to_string();
    assert_eq!(
        line(&report, "claude", "trusted"),
        format!(
            "claude  trusted      FIX  {root} is not trusted: run `claude` once in a terminal \
             there (cd {root} && claude) and choose \"Yes, I trust this folder\""
        )
    );
    assert!(
        line(&report, "codex", "version").contains("0.171.0"),
        "{report}"
    );
    assert!(line(&report, "gemini", "program").contains("-    not on PATH"));
    prepare_claude_home(&repo, true);
    let (code, report) = doctor(&repo);
    assert_eq!(code, Some(0), "{report}");
    assert!(line(&report, "claude", "trusted").contains(&format!("ok   {root}")));
}
