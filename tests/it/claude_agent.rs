//! The `claude` preset against a fake `claude` (tests/fixtures/claude, first on PATH) replaying
//! stream-json transcripts: the readable transcript on the dashboard, usage in results.json,
//! failures for error results and streams without a result; validation and `grove agents`.

use std::path::{Path, PathBuf};

use crate::support::*;
use grove::agent::stream_json::{JsonAdapter, StreamJson};
use grove::engine::api::{TaskStatus, Usage};
use ratatui::style::Color;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// PATH with the fake claude first.
fn fake_path() -> String {
    format!(
        "{}:{}",
        fixtures().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// PATH without any claude: only the system folders.
const NO_CLAUDE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

fn transcript(name: &str) -> Vec<u8> {
    std::fs::read(
        fixtures()
            .join("claude-transcripts")
            .join(format!("{name}.jsonl")),
    )
    .unwrap()
}

/// The transcript as it leaves a PTY (LF becomes CR LF), without the fake's own directives.
fn as_from_pty(raw: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| format!("{l}\r\n").into_bytes())
        .collect()
}

#[test]
fn the_dashboard_shows_a_readable_transcript_and_the_cost() {
    let mut d = dash::Dash::new(120, 30);
    d.add(dash::view(0, "notes", "claude", TaskStatus::Running));
    d.add(dash::view(1, "shell-task", "shell", TaskStatus::Running));
    // The adapter turns the raw stream into the pane's text, in odd-sized chunks as a PTY
    // delivers them.
    let mut adapter = StreamJson::default();
    let mut result = None;
    for chunk in as_from_pty(&transcript("success")).chunks(97) {
        let rendered = adapter.feed(chunk);
        for event in rendered.events {
            if let grove::agent::stream_json::StreamEvent::Result(r) = event {
                result = Some(r);
            }
        }
        d.output(0, &rendered.transcript);
    }
    let result = result.expect("the stream's result was parsed");
    let mut done = dash::view(0, "notes", "claude", TaskStatus::Succeeded);
    done.usage = Some(result.usage.clone());
    d.change(done);
    d.output(1, b"plain output\r\n");
    let screen = d.draw();
    let text = dash::rows(&screen).join("\n");
    for expected in [
        "● claude · claude-sonnet-4-5 · session sess-success-1",
        "I'll start by reading the README.",
        "→ Read README.md",
        "→ Bash cat missing.txt",
        "✗ Bash failed: cat: missing.txt: No such file or directory",
        "→ Write NOTES.md",
        "✓ result 4 turns · 8.5s · $0.0123",
        "Wrote NOTES.md with the project notes.",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} not on screen:\n{text}"
        );
    }
    // No raw JSON reaches the pane.
    assert!(!text.contains("\"type\""), "{text}");
    // Cost per task in the list, and the run's total in the status bar.
    let (_, y) = dash::find_left_of(&screen, "$0.0123", 40).expect("cost in the list");
    assert!(y < 4, "cost on row {y}:\n{text}");
    let status_row = &dash::rows(&screen)[28];
    assert!(status_row.contains("│ $0.0123"), "{status_row}");
    // Tool errors stand out in red.
    let (x, y) = dash::find_all(&screen, "✗ Bash failed")[0];
    assert_eq!(screen[(x, y)].fg, Color::Indexed(1));
}

#[test]
fn usage_and_output_reach_results_and_the_work_is_committed() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan_with_path(
        r#"
name = "p"
[defaults]
agent = "claude"
[agents.claude]
args = ["--max-turns", "5"]
[[tasks]]
name = "notes"
prompt = "success write the notes"
[[tasks]]
name = "mixed"
prompt = "find the TODOs"
env = { FAKE_CLAUDE_TRANSCRIPT = "nonjson" }
"#,
        &fake_path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let notes = task(&results, "notes");
    assert_eq!(notes["status"], "succeeded");
    // The task's output is the result text, not the stream.
    assert_eq!(notes["output"], "Wrote NOTES.md with the project notes.");
    let usage: Usage = serde_json::from_value(notes["usage"].clone()).unwrap();
    assert_eq!(
        usage,
        Usage {
            cost_usd: 0.0123,
            input_tokens: 690,
            output_tokens: 81,
            cache_read_input_tokens: 4096,
            cache_creation_input_tokens: 2048,
            num_turns: 4,
            session_id: Some("sess-success-1".into()),
            ..Usage::default()
        }
    );
    assert_eq!(notes["attempts"][0]["usage"]["cost_usd"], 0.0123);
    // The user's args are options of the preset's command, before the "--" and the prompt.
    assert_eq!(
        notes["provenance"]["commands"][0],
        serde_json::json!([
            "claude",
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--max-turns",
            "5",
            "--",
            "success write the notes"
        ])
    );
    let mixed = task(&results, "mixed");
    assert_eq!(mixed["status"], "succeeded");
    assert_eq!(mixed["output"], "No TODOs found.");
    assert_eq!(mixed["usage"]["session_id"], "sess-mixed-1");
    // Run totals: the sum over tasks, without a session.
    let total = &results["usage"];
    assert!(
        (total["cost_usd"].as_f64().unwrap() - 0.0143).abs() < 1e-9,
        "{total}"
    );
    assert_eq!(total["input_tokens"], 750);
    assert_eq!(total["output_tokens"], 90);
    assert_eq!(total["num_turns"], 5);
    assert!(total.get("session_id").is_none(), "{total}");

    // The raw stream stays in the attempt log; the stored output is the result text.
    let agent_dir = repo.run_dir(&run_id).join("agents/notes");
    let log = std::fs::read_to_string(agent_dir.join("attempt-1.log")).unwrap();
    assert!(log.contains(r#""type":"result""#), "{log}");
    assert_eq!(
        std::fs::read_to_string(agent_dir.join("output.txt")).unwrap(),
        "Wrote NOTES.md with the project notes."
    );
    // What the agent's tool wrote is committed.
    let branch = format!("grove/{run_id}/notes");
    assert!(repo
        .git(&["show", &format!("{branch}:NOTES.md")])
        .contains("Written by the agent."));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("cost $0.0143"), "{stdout}");
}

#[test]
fn error_results_and_cut_streams_fail_with_their_reason() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan_with_path(
        r#"
name = "p"
[defaults]
agent = "claude"
[[tasks]]
name = "limited"
prompt = "error run the tests"
[[tasks]]
name = "cut"
prompt = "noresult edit the parser"
"#,
        &fake_path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let limited = task(&results, "limited");
    assert_eq!(limited["status"], "failed");
    assert_eq!(
        limited["error"],
        "claude ended with an error (error_max_turns)"
    );
    // An error result still reports what it cost.
    assert_eq!(limited["usage"]["cost_usd"], 0.0045);
    assert_eq!(limited["usage"]["session_id"], "sess-error-1");
    // The files the failed attempt touched are saved on its ref.
    let saved = limited["attempts"][0]["saved_ref"].as_str().unwrap();
    assert_eq!(
        repo.git(&["show", &format!("{saved}:partial.txt")]),
        "partial"
    );

    let cut = task(&results, "cut");
    assert_eq!(cut["status"], "failed");
    assert_eq!(cut["error"], "the stream ended without a result");
    assert_eq!(cut["exit_code"], 0);
    assert!(cut.get("usage").is_none(), "{cut}");
    assert_eq!(results["usage"]["cost_usd"], 0.0045);
}

#[test]
fn a_preset_whose_program_is_missing_fails_validation_at_the_reference() {
    let repo = Repo::new();
    let plan = repo
        .write_plan("name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\nagent = \"claude\"\n");
    let out = repo
        .grove_cmd(&["validate", plan.to_str().unwrap()])
        .env("PATH", NO_CLAUDE_PATH)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        format!(
            "error: {}:5:9: agent 'claude' needs the program 'claude' on PATH",
            plan.display()
        )
    );
    // With the program on PATH the same plan is fine.
    let out = repo
        .grove_cmd(&["validate", plan.to_str().unwrap()])
        .env("PATH", fake_path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn the_sample_claude_plan_validates_when_claude_is_on_path() {
    let repo = Repo::new();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-plans/claude.toml");
    let validate = |path: &str| {
        repo.grove_cmd(&["validate", sample.to_str().unwrap()])
            .env("PATH", path)
            .output()
            .unwrap()
    };
    let out = validate(&fake_path());
    assert!(out.status.success(), "{}", text(&out));
    let out = validate(NO_CLAUDE_PATH);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs the program 'claude' on PATH"),
        "{}",
        text(&out)
    );
}

#[test]
fn user_config_agents_and_defaults_apply_and_the_plan_wins() {
    let repo = Repo::new();
    let config_dir = repo.home.path().join("grove");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        r#"
[defaults]
agent = "reviewer"
retries = 1
env = { FROM_CONFIG = "config", SHARED = "config" }

[agents.reviewer]
command = ["sh", "-c", "echo review $FROM_CONFIG $SHARED $ROLE; {prompt}"]
env = { ROLE = "config-role" }

[agents.claude]
args = ["--model", "sonnet"]
"#,
    )
    .unwrap();
    let (out, results) = repo.run_plan(
        r#"
name = "p"
[defaults]
env = { SHARED = "plan" }
[agents.reviewer]
env = { ROLE = "plan-role" }
[[tasks]]
name = "a"
prompt = "true"
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    let a = task(&results, "a");
    assert_eq!(a["agent"], "reviewer");
    assert_eq!(a["output"], "review config plan plan-role\n");
    let audit = repo.audit(&run_id(&out));
    assert!(audit.iter().any(|l| l["event"] == "spawn"));

    // `grove agents` lists the config's agents and overrides with their commands.
    let out = repo
        .grove_cmd(&["agents"])
        .env("PATH", fake_path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout);
    let line = |name: &str| {
        listing
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in:\n{listing}"))
            .to_string()
    };
    let claude = line("claude");
    assert!(claude.contains("config"), "{claude}");
    assert!(
        claude.contains(&fixtures().join("claude").display().to_string()),
        "{claude}"
    );
    assert!(
        claude.ends_with(
            "claude -p --output-format stream-json --verbose --model sonnet -- {prompt}"
        ),
        "{claude}"
    );
    assert!(line("reviewer").contains("'echo review $FROM_CONFIG $SHARED $ROLE; {prompt}'"));
    assert!(
        line("codex").contains("missing: 'codex' not on PATH"),
        "{listing}"
    );
    assert!(line("shell").contains("preset"), "{listing}");
}

#[test]
fn grove_agents_with_a_plan_lists_its_agents_even_when_programs_are_missing() {
    let repo = Repo::new();
    let plan = repo.write_plan(
        r#"
name = "p"
[agents.mine]
command = ["my-own-agent", "{prompt}"]
[agents.claude]
command = ["/opt/nowhere/claude", "-p", "{prompt}"]
[[tasks]]
name = "a"
prompt = "x"
agent = "claude"
"#,
    );
    let out = repo
        .grove_cmd(&["agents", "--plan", plan.to_str().unwrap()])
        .env("PATH", NO_CLAUDE_PATH)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout);
    let mine = listing
        .lines()
        .find(|l| l.starts_with("mine "))
        .unwrap_or_else(|| panic!("{listing}"));
    let words: Vec<&str> = mine.split_whitespace().collect();
    assert_eq!(words[1], "plan", "{mine}");
    assert!(
        mine.contains("missing: 'my-own-agent' not on PATH"),
        "{mine}"
    );
    assert!(mine.ends_with("  my-own-agent {prompt}"), "{mine}");
    assert!(
        listing.contains("missing: '/opt/nowhere/claude' not on PATH"),
        "{listing}"
    );
    // Validation of that plan names the overriding program.
    let out = repo
        .grove_cmd(&["validate", plan.to_str().unwrap()])
        .env("PATH", NO_CLAUDE_PATH)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(":10:9: agent 'claude' needs the program '/opt/nowhere/claude' on PATH"),
        "{}",
        text(&out)
    );
}

#[test]
fn errors_in_the_user_config_name_its_file_line_and_column() {
    let repo = Repo::new();
    let config = repo.home.path().join("grove/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[defaults]\nretries = 1\ntimout = \"5m\"\n").unwrap();
    repo.write(
        "plan.toml",
        "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\nagent = \"shell\"\n",
    );
    let out = repo.grove(&["validate", "plan.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!(
            "error: {}:3:1: unknown key 'timout' in [defaults] (did you mean 'timeout'?)",
            config.display()
        )
    );
    // A config default naming a preset whose program is missing points into the config.
    std::fs::write(&config, "[defaults]\nagent = \"codex\"\n").unwrap();
    repo.write(
        "plan.toml",
        "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n",
    );
    let out = repo
        .grove_cmd(&["validate", "plan.toml"])
        .env("PATH", NO_CLAUDE_PATH)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!(
            "error: {}:2:9: agent 'codex' needs the program 'codex' on PATH",
            config.display()
        )
    );
    // Nothing was created in the repository.
    assert!(!repo.path().join(".grove").exists());
}

#[test]
fn an_agent_still_running_after_its_result_is_stopped_after_the_grace_and_judged_by_its_results() {
    // Claude Code 2.1.332 with a background Bash task: a result, then (when the task ends)
    // another init and result; then it stays alive (here: the fake sleeps a minute).
    let repo = Repo::new();
    let (out, results) = repo.run_plan_with_path(
        r#"
name = "p"
[defaults]
agent = "claude"
timeout = "20s"
result_grace = "300ms"
[[tasks]]
name = "bg"
prompt = "background start the server"
"#,
        &fake_path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let bg = task(&results, "bg");
    assert_eq!(bg["status"], "succeeded", "{bg:#}");
    assert_eq!(bg["output"], "Background finished.");
    let usage: Usage = serde_json::from_value(bg["usage"].clone()).unwrap();
    // Tokens and turns add up over the results; the cost is Claude Code's running total.
    assert_eq!(usage.input_tokens, 33);
    assert_eq!(usage.cache_read_input_tokens, 1100);
    assert_eq!(usage.cache_creation_input_tokens, 50);
    assert_eq!(usage.num_turns, 3);
    assert_eq!(usage.cost_usd, 0.001022);
    assert_eq!(usage.models["claude-opus-5-5"].input_tokens, 33);
    assert_eq!(usage.session_id.as_deref(), Some("sess-bg-1"));
    let kills: Vec<_> = repo
        .audit(&run_id(&out))
        .into_iter()
        .filter(|l| l["event"] == "kill")
        .collect();
    assert!(
        kills.iter().any(|l| l["reason"] == "after result"),
        "{kills:?}"
    );
}

#[test]
fn claude_interactive_is_refused_headless_without_idle_exit() {
    let repo = Repo::new();
    let (plan, path) = (
        "name = \"p\"\n[[tasks]]\nname = \"tui\"\nagent = \"claude-interactive\"\nprompt = \"x\"\n",
        fake_path(),
    );
    let file = repo.write_plan(plan);
    let out = repo
        .grove_cmd(&["run", file.to_str().unwrap(), "--headless"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: task 'tui': agent 'claude-interactive' runs Claude Code's interactive UI, which \
         waits at its input box when done and never ends by itself headless: set idle_exit = \
         true (the task ends when it sits idle there) or use agent = \"claude\""
    );
    assert!(!repo.path().join(".grove/runs").exists());
}
