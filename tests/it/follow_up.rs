//! Follow-ups, usage limits and `grove agents`' checks with the real Claude Code and Codex CLIs
//! (pinned, from npm) against the stand-in model APIs on 127.0.0.1: a follow-up continues the
//! agent's session (the API sees the earlier messages), from `grove follow-up` and from the
//! dashboard's `f`; a usage limit holds the task until the reset, then its session goes on
//! without a retry spent. The real-CLI tests say SKIPPED and pass only when the CLIs cannot be
//! installed here.

use std::time::{Duration, Instant};

use crate::support::real_cli::*;
use crate::support::*;
use crate::support::{server, tty};
use serde_json::json;

/// The prompt a session held at a usage limit goes on with (engine/follow_up.rs).
const AFTER_LIMIT: &str = "Your usage limit has reset: go on with the task where you stopped.";

/// `grove follow-up RUN TASK PROMPT --headless` with the real CLIs against `api`.
fn follow_up(
    repo: &Repo,
    api: &StandIn,
    run: &str,
    task: &str,
    prompt: &str,
) -> std::process::Output {
    let bin = bin().unwrap();
    grove(
        repo,
        bin,
        api,
        &["follow-up", run, task, prompt, "--headless"],
    )
    .output()
    .unwrap()
}

/// The bodies of the agent's turns as text, to look for what they carried.
fn turn_text(api: &StandIn, n: usize) -> String {
    api.turns()[n]["body"].to_string()
}

#[test]
fn a_claude_follow_up_continues_its_session_and_commits_on_top() {
    if bin().is_none() {
        return;
    }
    let repo = Repo::new();
    prepare_claude_home(&repo, true);
    let api = StandIn::start(json!([
        {"tool": "Bash", "input": {"command": "echo one > one.txt", "description": "write"}},
        {"text": "I wrote one.txt."},
        {"tool": "Bash", "input": {"command": "echo two > two.txt", "description": "write"}},
        {"text": "I wrote two.txt too."}
    ]));
    let (out, run_id) = run_headless(
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
prompt = "write one to one.txt"
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    let branch = format!("grove/{run_id}/hello");
    let first_tip = repo.git(&["rev-parse", &branch]);

    // The prompt starts with dashes: it stays the prompt.
    let prompt = "--now write two to two.txt";
    let out = follow_up(&repo, &api, &run_id, "hello", prompt);
    assert!(out.status.success(), "{}", text(&out));
    let results = repo.results(&run_id);
    let hello = task(&results, "hello");
    assert_eq!(hello["status"], "succeeded", "{hello:#}");
    assert_eq!(hello["output"], "I wrote two.txt too.");
    let attempts = hello["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{hello:#}");
    assert!(attempts[0].get("follow_up").is_none(), "{hello:#}");
    assert_eq!(attempts[1]["follow_up"], prompt);
    // The new commit is on top of the first one, with both files.
    assert_eq!(repo.git(&["rev-parse", &format!("{branch}~1")]), first_tip);
    assert_eq!(repo.git(&["show", &format!("{branch}:one.txt")]), "one");
    assert_eq!(repo.git(&["show", &format!("{branch}:two.txt")]), "two");
    // The agent kept its context: the follow-up's first turn carried the first conversation.
    let turns = api.turns();
    assert_eq!(turns.len(), 4, "{turns:#?}");
    let resumed = turn_text(&api, 2);
    for earlier in [
        "write one to one.txt",
        "echo one > one.txt",
        "I wrote one.txt.",
    ] {
        assert!(resumed.contains(earlier), "{earlier:?} not in {resumed}");
    }
    assert!(resumed.contains(prompt), "{resumed}");
    // It ran as `claude -p --resume <session> … -- <prompt>`.
    let session = attempts[0]["usage"]["session_id"].as_str().unwrap();
    let journal = std::fs::read_to_string(repo.run_dir(&run_id).join("journal.jsonl")).unwrap();
    let spawned = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| l["entry"] == "spawned" && l["attempt"] == 2)
        .expect("attempt 2 spawned");
    let argv: Vec<&str> = spawned["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let at = argv.iter().position(|a| *a == "--resume").unwrap();
    assert_eq!(argv[at + 1], session);
    assert_eq!(argv[argv.len() - 2..], ["--", prompt]);
}

#[test]
fn a_follow_up_interrupted_by_a_crash_resumes_as_that_follow_up() {
    let Some(bin) = bin() else {
        return;
    };
    let repo = Repo::new();
    prepare_claude_home(&repo, true);
    // The follow-up's first turn never gets an answer: grove is killed meanwhile.
    let api = StandIn::start(json!([
        {"text": "First answer."},
        {"hang": true},
        {"text": "Answered after the crash."}
    ]));
    let (out, run_id) = run_headless(
        &repo,
        &api,
        r#"
name = "p"
[defaults]
agent = "claude"
timeout = "60s"
[[tasks]]
name = "ask"
prompt = "say something"
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    let mut grove_process = grove(
        &repo,
        bin,
        &api,
        &["follow-up", &run_id, "ask", "and then?", "--headless"],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let journal = repo.run_dir(&run_id).join("journal.jsonl");
    let deadline = Instant::now() + Duration::from_secs(60);
    while api.turns().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the follow-up never asked the API"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A crash of grove: its server, where the follow-up runs, is killed; the client ends.
    server::kill9(repo.path());
    wait_for("grove to end once its server is gone", || {
        grove_process.try_wait().unwrap()
    });
    let text_of = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
    assert!(text_of(&journal).contains(r#""entry":"follow_up""#));

    let out = grove(&repo, bin, &api, &["resume", &run_id, "--headless"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let results = repo.results(&run_id);
    let ask = task(&results, "ask");
    assert_eq!(ask["status"], "succeeded", "{ask:#}");
    assert_eq!(ask["output"], "Answered after the crash.");
    let attempts = ask["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{ask:#}");
    // The interrupted follow-up and the one the resume ran again are both that follow-up.
    assert_eq!(attempts[1]["status"], "cancelled");
    assert_eq!(attempts[1]["follow_up"], "and then?");
    assert_eq!(attempts[2]["follow_up"], "and then?");
    let resumed = turn_text(&api, 2);
    assert!(resumed.contains("First answer."), "{resumed}");
    assert!(
        processes_of_run(&run_id).is_empty(),
        "{:?}",
        processes_of_run(&run_id)
    );
}

#[test]
fn a_codex_follow_up_resumes_its_thread() {
    if bin().is_none() {
        return;
    }
    let repo = Repo::new();
    let api = StandIn::start(json!([
        {"tool": "exec_command", "input": {"cmd": "echo one > one.txt"}},
        {"text": "I wrote one.txt."},
        {"text": "Nothing else to do."}
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
prompt = "write one to one.txt"
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = follow_up(&repo, &api, &run_id, "hello", "anything else?");
    assert!(out.status.success(), "{}", text(&out));
    let results = repo.results(&run_id);
    let hello = task(&results, "hello");
    assert_eq!(hello["status"], "succeeded", "{hello:#}");
    assert_eq!(hello["output"], "Nothing else to do.");
    assert_eq!(hello["attempts"][1]["follow_up"], "anything else?");
    // The resumed thread's request carries the first turn's messages.
    let resumed = turn_text(&api, 2);
    assert!(resumed.contains("write one to one.txt"), "{resumed}");
    assert!(resumed.contains("I wrote one.txt."), "{resumed}");
    assert!(resumed.contains("anything else?"), "{resumed}");
}

#[test]
fn follow_ups_that_cannot_continue_a_session_exit_2_and_change_nothing() {
    let repo = Repo::new();
    let (out, _) = repo.run_plan(
        r#"
name = "p"
[defaults]
agent = "shell"
[agents.sessions]
command = ["sh", "-c", "--", "{prompt}"]
resume = ["sh", "-c", "--", "{prompt}", "{session}"]
[[tasks]]
name = "plain"
prompt = "echo plain"
[[tasks]]
name = "nosession"
agent = "sessions"
prompt = "echo no session"
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let journal = repo.run_dir(&run_id).join("journal.jsonl");
    let before = std::fs::read(&journal).unwrap();
    let refused = |task: &str, expected: &str| {
        let out = repo.grove(&["follow-up", &run_id, task, "more", "--headless"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{expected:?} not in {stderr}");
    };
    refused(
        "plain",
        "agent 'shell' has no sessions to continue (give it a `resume` command in [agents.shell])",
    );
    refused(
        "nosession",
        "'nosession' has no recorded session to continue",
    );
    refused("nope", "no task 'nope'");
    let out = repo.grove(&["follow-up", "no-such-run", "plain", "more", "--headless"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    // Nothing was written: not even the journal's line for a reopened run.
    assert_eq!(std::fs::read(&journal).unwrap(), before);

    // A `resume` template without the session is refused at its line and column.
    let plan = repo.write_plan(
        "name = \"p\"\n[agents.x]\ncommand = [\"sh\", \"-c\", \"--\", \"{prompt}\"]\n\
         resume = [\"sh\", \"{prompt}\"]\n[[tasks]]\nname = \"t\"\nagent = \"x\"\nprompt = \"p\"\n",
    );
    let out = repo.grove(&["validate", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("plan.toml:4:10") && stderr.contains("'resume' must pass the session"),
        "{stderr}"
    );
    // One that lets a prompt starting with '-' be read as an option is warned about.
    let plan = repo.write_plan(
        "name = \"p\"\n[agents.y]\ncommand = [\"sh\", \"-c\", \"--\", \"{prompt}\"]\n\
         resume = [\"sh\", \"{prompt}\", \"{session}\"]\n[[tasks]]\nname = \"t\"\nagent = \"y\"\n\
         prompt = \"p\"\n",
    );
    let out = repo.grove(&["validate", plan.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("agent 'y': argument 1 ('{prompt}') starts with the prompt"),
        "{stderr}"
    );
}

#[test]
fn a_usage_limit_holds_the_task_until_the_reset_then_its_session_goes_on() {
    let Some(bin) = bin() else {
        return;
    };
    let repo = Repo::new();
    prepare_claude_home(&repo, true);
    // The first turn meets the account's 5-hour limit, resetting 3 s later; then it works.
    let api = StandIn::start(json!([
        {"usage_limit": 3},
        {"text": "Done after the reset."}
    ]));
    let plan = repo.write_plan(
        r#"
name = "p"
max_parallel = 1
[defaults]
timeout = "60s"
retries = 0
[[tasks]]
name = "limited"
agent = "claude"
prompt = "summarize the repository"
[[tasks]]
name = "other"
agent = "shell"
prompt = "echo other agents go on"
"#,
    );
    // A subscription's login (not an API key) is what has usage limits.
    let out = grove(
        &repo,
        bin,
        &api,
        &["run", plan.to_str().unwrap(), "--headless"],
    )
    .env_remove("ANTHROPIC_API_KEY")
    .env("CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-oat01-grove-test")
    .output()
    .unwrap();
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    let run_id = run_id(&out);
    let results = repo.results(&run_id);
    let limited = task(&results, "limited");
    assert_eq!(limited["status"], "succeeded", "{limited:#}\n{printed}");
    assert_eq!(limited["output"], "Done after the reset.");
    // Two attempts with no retries allowed: the held one did not count.
    let attempts = limited["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{limited:#}");
    let error = attempts[0]["error"].as_str().unwrap();
    assert!(error.contains("You've hit your 5-hour limit"), "{error}");
    assert_eq!(attempts[1]["follow_up"], AFTER_LIMIT);
    // Shown while it waited, and said in the audit log with the reset.
    assert!(
        printed.contains("held") && printed.contains("usage limit, resets "),
        "{printed}"
    );
    let audit = repo.audit(&run_id);
    assert!(
        audit.iter().any(|l| l["event"] == "usage_limit"),
        "{audit:#?}"
    );
    // The other agent's task went on meanwhile, in the one slot the held task did not keep.
    let other = task(&results, "other");
    assert_eq!(other["status"], "succeeded");
    let started = |a: &serde_json::Value| a["started_at"].as_str().unwrap().to_string();
    assert!(
        started(&other["attempts"][0]) < started(&attempts[1]),
        "{other:#}\n{limited:#}"
    );
    // The second attempt continued the session: its request carries the first prompt.
    let resumed = turn_text(&api, 1);
    assert!(resumed.contains("summarize the repository"), "{resumed}");
    assert!(resumed.contains(AFTER_LIMIT), "{resumed}");
}

#[test]
fn the_dashboards_f_asks_for_a_follow_up_or_says_why_not() {
    let Some(bin) = bin() else {
        return;
    };
    let repo = Repo::new();
    prepare_claude_home(&repo, true);
    let api = StandIn::start(json!([
        {"text": "First answer."},
        {"text": "Second answer."}
    ]));
    let plan = r#"
name = "p"
[defaults]
timeout = "60s"
[[tasks]]
name = "ask"
agent = "claude"
prompt = "say something"
[[tasks]]
name = "plain"
agent = "shell"
prompt = "echo plain"
"#;
    let mut cmd = tty::grove_run(&repo, plan, &[]);
    cmd.env(
        "PATH",
        format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    cmd.env("ANTHROPIC_BASE_URL", api.url());
    cmd.env("ANTHROPIC_API_KEY", API_KEY);
    cmd.env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
    cmd.env("DISABLE_TELEMETRY", "1");
    cmd.env("DISABLE_AUTOUPDATER", "1");
    let mut dash = tty::Tty::spawn(cmd);
    let order = ["ask", "plain"];
    dash.wait_for("both tasks done", |s| {
        (s.status("ask").as_deref() == Some("succeeded")
            && s.status("plain").as_deref() == Some("succeeded"))
        .then_some(())
    });
    let run_id = dash.wait_for("the run id", |s| s.run_id());
    // Every task has ended: the summary shows; Esc puts it away to look around.
    dash.wait_for("the summary", |s| s.contains("run finished").then_some(()));
    dash.send(b"\x1b");
    dash.wait_for("the summary put away", |s| {
        (!s.contains("run finished")).then_some(())
    });

    // A shell task has no session: the status line says so.
    tty::select(&mut dash, "plain", &order);
    dash.send(b"f");
    dash.wait_for("why not", |s| {
        s.contains("agent 'shell' has no sessions to continue")
            .then_some(())
    });

    // The claude task: the form asks for a prompt; Enter starts the follow-up.
    tty::select(&mut dash, "ask", &order);
    dash.send(b"f");
    dash.wait_for("the follow-up form", |s| {
        s.contains("follow-up of ask").then_some(())
    });
    dash.send(b"and now?");
    dash.send(b"\r");
    let deadline = Instant::now() + Duration::from_secs(60);
    let ask = loop {
        let results = repo.results(&run_id);
        let ask = task(&results, "ask").clone();
        let attempts = ask["attempts"].as_array().map_or(0, Vec::len);
        if attempts == 2 && ask["status"] == "succeeded" {
            break ask;
        }
        assert!(Instant::now() < deadline, "no follow-up: {ask:#}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(ask["attempts"][1]["follow_up"], "and now?");
    assert_eq!(ask["output"], "Second answer.");
    let resumed = turn_text(&api, 1);
    assert!(resumed.contains("First answer."), "{resumed}");
    // The run finished again; its details show the follow-up's prompt on its attempt.
    dash.wait_for("the summary again", |s| {
        s.contains("run finished").then_some(())
    });
    dash.send(b"\x1b");
    dash.wait_for("the summary put away", |s| {
        (!s.contains("run finished")).then_some(())
    });
    dash.send(b"l");
    dash.wait_for("the follow-up in the details", |s| {
        s.contains("follow-up: and now?").then_some(())
    });
    dash.send(b"\x1b");
    dash.wait_for("the details closed", |s| {
        (!s.contains("follow-up: and now?")).then_some(())
    });
    dash.send(b"q");
    assert_eq!(dash.exit_code(), 0);
    dash.assert_restored();
}

#[test]
fn grove_agents_shows_each_agents_checks_with_the_fix() {
    let Some(bin) = bin() else {
        return;
    };
    let repo = Repo::new();
    let api = StandIn::start(json!([]));
    // Onboarding done and the key approved, but this repository not trusted yet.
    prepare_claude_home(&repo, false);
    let out = grove(&repo, bin, &api, &["agents"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout);
    let check = |agent: &str, what: &str| {
        listing
            .lines()
            .skip_while(|l| !l.starts_with("checks"))
            .find(|l| {
                let mut words = l.split_whitespace();
                words.next() == Some(agent) && words.next() == Some(what)
            })
            .unwrap_or_else(|| panic!("no {agent} {what} check in:\n{listing}"))
            .to_string()
    };
    assert!(
        check("claude", "version").contains("ok   2.1.332"),
        "{listing}"
    );
    assert!(check("claude", "credentials").contains("ok"), "{listing}");
    assert!(check("claude", "onboarding").contains("ok"), "{listing}");
    let trusted = check("claude", "trusted");
    let root = repo.path().display().to_string();
    assert!(
        trusted.contains("FIX") && trusted.contains(&format!("(cd {root} && claude)")),
        "{trusted}"
    );
    // Each preset of the program is checked: the interactive one too.
    assert!(check("claude-interactive", "trusted").contains("FIX"));
    assert!(
        check("codex", "version").contains("codex-cli 0.171.0"),
        "{listing}"
    );
    // Trusted, the fix is gone.
    prepare_claude_home(&repo, true);
    let out = grove(&repo, bin, &api, &["agents"]).output().unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    let trusted = listing
        .lines()
        .find(|l| l.starts_with("claude ") && l.contains("trusted"))
        .unwrap();
    assert!(trusted.contains("ok"), "{listing}");
}
