//! The real Codex CLI (0.171.0, from npm) under grove's `codex` preset, against a stand-in
//! Responses API on 127.0.0.1: its JSON events become a transcript, its work is committed, its
//! usage recorded. Says SKIPPED and passes only when the CLI cannot be installed here.

use crate::support::real_cli::*;
use crate::support::*;
use serde_json::json;

#[test]
fn codex_runs_a_command_and_its_turn_becomes_output_and_usage() {
    if bin().is_none() {
        return;
    }
    let repo = Repo::new();
    let api = StandIn::start(json!([
        {"tool": "exec_command", "input": {"cmd": "echo hello > out.txt"}},
        {"text": "I wrote out.txt.", "usage": {"cache_read_input_tokens": 5}}
    ]));
    prepare_codex_home(&repo, &api);
    let (out, run_id) = run_headless(
        &repo,
        &api,
        r#"
name = "p"
[defaults]
agent = "codex"
timeout = "60s"
[[tasks]]
name = "hello"
prompt = "--write hello to out.txt"
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    let results = repo.results(&run_id);
    let hello = task(&results, "hello");
    let log = std::fs::read(repo.run_dir(&run_id).join("agents/hello/attempt-1.log")).unwrap();
    let log = String::from_utf8_lossy(&log);
    assert_eq!(hello["status"], "succeeded", "{hello:#}\n{log}");
    // The command ran (codex's own sandbox is off inside grove's: see agent::in_grove_sandbox).
    assert!(log.contains(r#""exit_code":0"#), "{log}");
    assert_eq!(hello["output"], "I wrote out.txt.");
    assert_eq!(
        repo.git(&["show", &format!("grove/{run_id}/hello:out.txt")]),
        "hello"
    );
    let usage = &hello["usage"];
    assert_eq!(usage["input_tokens"], 22, "{usage:#}");
    assert_eq!(usage["output_tokens"], 14);
    assert_eq!(usage["cache_read_input_tokens"], 5);
    assert_eq!(usage["num_turns"], 1);
    let session = usage["session_id"].as_str().unwrap();
    assert!(!session.is_empty(), "{usage:#}");
    // The prompt reached codex whole, after `--`, though it starts with dashes.
    let turns = api.turns();
    assert!(
        turns[0].to_string().contains("--write hello to out.txt"),
        "{}",
        turns[0]
    );
}
