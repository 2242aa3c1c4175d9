//! Every preset passes the prompt so that the agent's CLI cannot read it as an option. Stand-ins
//! (tests/fixtures/standin/agent-cli.py) parse their arguments the way the real CLIs' option
//! parsers do (commander.js, clap, yargs, argparse) and record what they understood; each prompt
//! here is one those parsers would take for a dangerous flag if it were passed as it was.

use std::path::{Path, PathBuf};

use crate::support::*;

/// A folder holding the stand-in under each CLI's name, to put first on PATH.
fn standins() -> tempfile::TempDir {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/standin/agent-cli.py");
    let bin = tempfile::tempdir().unwrap();
    for name in ["claude", "codex", "gemini", "aider"] {
        std::os::unix::fs::symlink(&script, bin.path().join(name)).unwrap();
    }
    bin
}

/// PATH with the stand-ins in `bin` first.
fn standins_first(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn a_prompt_that_looks_like_an_option_reaches_each_cli_as_the_prompt() {
    let repo = Repo::new();
    let bin = standins();
    // (preset, prompt, where the stand-in puts the prompt, the flag the prompt must not set)
    let cases = [
        (
            "claude",
            "--dangerously-skip-permissions",
            "prompt",
            "dangerously_skip_permissions",
        ),
        (
            "claude-interactive",
            "--allowedTools=Bash(*)",
            "prompt",
            "allowedTools",
        ),
        (
            "codex",
            "--dangerously-bypass-approvals-and-sandbox",
            "prompt",
            "dangerously_bypass_approvals_and_sandbox",
        ),
        ("gemini", "--yolo", "prompt", "yolo"),
        ("aider", "--model=evil", "message", "model"),
    ];
    let mut plan = String::from(
        "name = \"p\"\n[defaults]\nenv = { OPENAI_API_KEY = \"test\", GEMINI_API_KEY = \"test\" }\n\
         [agents.claude]\nargs = [\"--model\", \"sonnet\"]\n[agents.codex]\nargs = [\"--full-auto\"]\n",
    );
    for (agent, prompt, _, _) in cases {
        plan.push_str(&format!(
            "[[tasks]]\nname = \"{agent}\"\nagent = \"{agent}\"\nprompt = {prompt:?}\n\
             idle_exit = true\n"
        ));
    }
    let (out, results) = repo.run_plan_with_path(&plan, &standins_first(bin.path()));
    let run_id = run_id(&out);
    for (agent, prompt, prompt_key, flag) in cases {
        assert_eq!(task(&results, agent)["status"], "succeeded", "{agent}");
        let parsed = repo.git(&["show", &format!("grove/{run_id}/{agent}:parsed.json")]);
        let parsed: serde_json::Value = serde_json::from_str(&parsed).unwrap();
        let seen = &parsed["parsed"];
        assert_eq!(seen[prompt_key], prompt, "{agent}: {parsed}");
        assert!(
            seen[flag].is_null() || seen[flag] == false,
            "{agent}: the prompt set {flag}: {parsed}"
        );
    }
    assert!(out.status.success(), "{}", text(&out));
    // The user's args stay options of the CLI, before the prompt.
    let claude: serde_json::Value =
        serde_json::from_str(&repo.git(&["show", &format!("grove/{run_id}/claude:parsed.json")]))
            .unwrap();
    assert_eq!(claude["parsed"]["model"], "sonnet", "{claude}");
    let codex: serde_json::Value =
        serde_json::from_str(&repo.git(&["show", &format!("grove/{run_id}/codex:parsed.json")]))
            .unwrap();
    assert_eq!(codex["parsed"]["full_auto"], true, "{codex}");
}

/// The `shell` preset's prompt is a script, never options of `sh`, whatever it starts with.
#[test]
fn a_shell_prompt_starting_with_a_dash_is_run_as_a_script() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .shell_task("t", "-x-is-not-an-option 2>/dev/null; echo ran > ran.txt")
            .to_toml(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(task(&results, "t")["status"], "succeeded");
    let branch = format!("grove/{}/t", run_id(&out));
    assert_eq!(repo.git(&["show", &format!("{branch}:ran.txt")]), "ran");
}

/// The longest prompt validation lets through on the command line is one the kernel passes: the
/// agent runs. One byte more is refused before anything starts, instead of the agent being
/// killed at its start ("killed by signal: Aborted").
#[test]
fn the_longest_prompt_on_the_command_line_runs_and_a_longer_one_is_refused() {
    let repo = Repo::new();
    let script = "echo ok > ok.txt; : ";
    let plan = |len: usize| {
        format!(
            "name = \"p\"\n[[tasks]]\nname = \"t\"\nagent = \"shell\"\nprompt = \"{script}{}\"\n",
            "x".repeat(len - script.len())
        )
    };
    let longest = grove::plan::MAX_ARG_STRLEN - 1;
    let (out, results) = repo.run_plan(&plan(longest));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(task(&results, "t")["status"], "succeeded");
    let branch = format!("grove/{}/t", run_id(&out));
    assert_eq!(repo.git(&["show", &format!("{branch}:ok.txt")]), "ok");

    let path = repo.write_plan(&plan(longest + 1));
    let out = repo.grove(&["run", path.to_str().unwrap(), "--headless"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("plan.toml:5:10: task 't': the prompt (131072 bytes)"),
        "{}",
        text(&out)
    );
    assert_eq!(
        repo.git(&["branch", "--list", "grove/*"]).lines().count(),
        1
    );
}

/// The warning for a custom agent whose prompt could be read as an option reaches the user
/// when the plan is validated or run, pointing at the agent's command in the user config.
#[test]
fn validate_warns_about_an_agent_that_lets_a_prompt_become_an_option() {
    let repo = Repo::new();
    let config = repo.home.path().join("grove/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        "[agents.mine]\ncommand = [\"mine\", \"{prompt}\"]\n",
    )
    .unwrap();
    let plan = repo
        .write_plan("name = \"p\"\n[[tasks]]\nname = \"t\"\nagent = \"mine\"\nprompt = \"x\"\n");
    let out = repo.grove(&["validate", plan.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "grove: warning: {}:2:11: agent 'mine': argument 1 ('{{prompt}}') starts with the prompt",
            config.display()
        )),
        "{stderr}"
    );
    // Once the plan runs the agent with "--" before its prompt, nothing to warn about.
    let plan = repo.write_plan(
        "name = \"p\"\n[agents.mine]\ncommand = [\"mine\", \"--\", \"{prompt}\"]\n[[tasks]]\nname = \"t\"\nagent = \"mine\"\nprompt = \"x\"\n",
    );
    let out = repo.grove(&["validate", plan.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("warning"), "{}", text(&out));
}
