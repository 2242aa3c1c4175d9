//! Agent tables, worktree setup keys, checks and races.

use super::*;

// ---- agents and worktree setup keys ----

#[test]
fn worktree_setup_keys_are_checked_where_written() {
    let task = "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\nagent = \"shell\"\n";
    toml_fails_at(
        &format!("{task}copy = [\".env\", \"../up.txt\"]\n"),
        6,
        17,
        "task 'a': 'copy': '../up.txt' is a path leaving the repository",
    );
    toml_fails_at(
        &format!("{task}copy = [\"/etc/passwd\"]\n"),
        6,
        9,
        "'copy': '/etc/passwd' is an absolute path",
    );
    // Checked once normalised: `./.grove` once copied `.grove` into itself until ENAMETOOLONG.
    for own in [".git/config", "./.git", "./.grove", ".//.grove/runs"] {
        toml_fails_at(
            &format!("{task}copy = [\"{own}\"]\n"),
            6,
            9,
            &format!("'copy': '{own}' is inside git's or grove's own folder"),
        );
    }
    toml_fails_at(
        &format!("{task}copy = [\"./\"]\n"),
        6,
        9,
        "'copy': './' is not a path inside the repository",
    );
    toml_fails_at(
        &format!("{task}setup = [\"npm ci\", \"  \"]\n"),
        6,
        20,
        "task 'a': 'setup' must not hold an empty command",
    );
    toml_fails_at(
        &format!("{task}python = {{ requirement = [\"x\"] }}\n"),
        6,
        12,
        "unknown key 'python.requirement' in task 'a'",
    );
    toml_fails_at(
        &format!("{task}ports = 65\n"),
        6,
        9,
        "task 'a': 'ports' must be at most 64, got 65",
    );
    toml_fails_at(
        &format!("{task}idle_after = \"0s\"\n"),
        6,
        14,
        "task 'a': 'idle_after' must be more than zero",
    );
    toml_fails_at(
        &format!("{task}auto_yes = \"yes\"\n"),
        6,
        12,
        "task 'a': 'auto_yes' must be a boolean",
    );
}

#[test]
fn agent_tables_override_preset_fields_and_reject_bad_ones() {
    let plan = load_text(
        "plan.toml",
        "name = \"p\"\n[agents.claude]\nargs = [\"--model\", \"opus\"]\nenv = { A = \"1\" }\n\
         [agents.ask]\ncommand = [\"ask\", \"{prompt}\"]\nyes_prompts = [\"Go on?\"]\naccept_key = \"1\"\n\
         [[tasks]]\nname = \"a\"\nprompt = \"x\"\nagent = \"shell\"\n",
    )
    .unwrap();
    let claude = &plan.agents["claude"];
    assert_eq!(
        claude.command,
        grove::agent::preset("claude").unwrap().command
    );
    assert_eq!(claude.args, ["--model", "opus"]);
    assert_eq!(claude.env["A"], "1");
    assert_eq!(claude.output, AgentOutput::ClaudeStreamJson);
    let ask = &plan.agents["ask"];
    assert_eq!(ask.output, AgentOutput::Terminal);
    assert_eq!(ask.yes_prompts, ["Go on?"]);
    assert_eq!(ask.accept_key, "1");
    // The user's args go before the preset's "--" and prompt.
    let resolved = grove::agent::resolve(&plan, "claude").unwrap();
    assert_eq!(
        resolved.argv[resolved.argv.len() - 4..],
        ["--model", "opus", "--", "{prompt}"].map(String::from)
    );

    toml_fails_at(
        "name = \"p\"\n[agents.claude]\noutput = \"json\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n",
        3,
        10,
        "agent 'claude': 'output' must be one of \"terminal\", \"claude-stream-json\", \"codex-json\", got \"json\"",
    );
    toml_fails_at(
        "name = \"p\"\n[agents.claude]\nargs = \"--verbose\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n",
        3,
        8,
        "agent 'claude': 'args' must be an array, found a string",
    );
    toml_fails_at(
        "name = \"p\"\n[agents.x]\ncommand = [\"x\"]\naccept_key = \"\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n",
        4,
        14,
        "agent 'x': 'accept_key' must not be empty",
    );
}

#[test]
fn worktree_setup_keys_fold_over_defaults() {
    let plan = load_text(
        "plan.toml",
        "name = \"p\"\n[defaults]\nagent = \"shell\"\ncopy = [\".env\"]\nsetup = [\"make deps\"]\n\
         python = { requirements = [\"pytest\"] }\nports = 2\nidle_after = \"30s\"\nauto_yes = true\n\
         [[tasks]]\nname = \"a\"\nprompt = \"x\"\n\
         [[tasks]]\nname = \"b\"\nprompt = \"x\"\ncopy = [\"./config//local.toml\"]\nsetup = []\n\
         python = { requirements_file = \"req.txt\" }\nports = 0\nidle_after = 5\nauto_yes = false\n",
    )
    .unwrap();
    let (a, b) = (&plan.tasks[0], &plan.tasks[1]);
    assert_eq!(a.copy, [".env"]);
    assert_eq!(a.setup, ["make deps"]);
    assert_eq!(
        a.python,
        Some(PythonEnv {
            requirements: vec!["pytest".into()],
            requirements_file: None
        })
    );
    assert_eq!(
        (a.ports, a.idle_after, a.auto_yes),
        (2, Duration::from_secs(30), true)
    );
    assert_eq!(b.copy, ["config/local.toml"]);
    assert!(b.setup.is_empty());
    assert_eq!(
        b.python,
        Some(PythonEnv {
            requirements: Vec::new(),
            requirements_file: Some("req.txt".into())
        })
    );
    assert_eq!(
        (b.ports, b.idle_after, b.auto_yes),
        (0, Duration::from_secs(5), false)
    );

    let plain = load_text("plan.toml", &format!("name = \"p\"\n{ONE_TASK}")).unwrap();
    let t = &plain.tasks[0];
    assert!(t.copy.is_empty() && t.setup.is_empty() && t.python.is_none());
    assert_eq!(
        (t.ports, t.idle_after, t.auto_yes),
        (0, Duration::from_secs(10), false)
    );
}

// ---- check ----

#[test]
fn check_is_a_task_key_also_in_defaults() {
    let plan = load_text(
        "plan.toml",
        r#"name = "p"
[defaults]
agent = "shell"
check = "cargo test"
[[tasks]]
name = "a"
prompt = "x"
[[tasks]]
name = "b"
prompt = "x"
check = "make lint"
"#,
    )
    .unwrap();
    assert_eq!(plan.tasks[0].check.as_deref(), Some("cargo test"));
    assert_eq!(plan.tasks[1].check.as_deref(), Some("make lint"));
    let plain = load_text("plan.toml", &format!("name = \"p\"\n{ONE_TASK}")).unwrap();
    assert_eq!(plain.tasks[0].check, None);

    let task = "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\nagent = \"shell\"\n";
    toml_fails_at(
        &format!("{task}check = \"  \"\n"),
        6,
        9,
        "task 'a': 'check' must not be an empty command",
    );
    toml_fails_at(&format!("{task}check = [\"make\"]\n"), 6, 9, "'check'");
    toml_fails_at(
        "name = \"p\"\n[defaults]\ncheck = \"\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n",
        3,
        9,
        "[defaults]: 'check' must not be an empty command",
    );
}

// ---- racing ----

#[test]
fn replicas_and_agents_expand_to_siblings() {
    use grove::plan::model::{Pick, RaceGroup};
    let plan = load_text(
        "plan.toml",
        r#"name = "p"
[defaults]
agent = "shell"
[[tasks]]
name = "job"
prompt = "x"
replicas = 3
pick = "first-passing"
[[tasks]]
name = "mix"
prompt = "y"
agents = ["shell", "demo"]
[[tasks]]
name = "after"
prompt = "z"
depends_on = ["job.2"]
"#,
    )
    .unwrap();
    let names: Vec<&str> = plan.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["job.1", "job.2", "job.3", "mix.1", "mix.2", "after"]
    );
    let job = Some(RaceGroup {
        name: "job".into(),
        pick: Pick::FirstPassing,
    });
    assert!(plan.tasks[..3]
        .iter()
        .all(|t| t.group == job && t.prompt == "x"));
    assert_eq!(
        (plan.tasks[3].agent.as_str(), plan.tasks[4].agent.as_str()),
        ("shell", "demo")
    );
    assert_eq!(
        plan.tasks[4].group.as_ref().map(|g| g.pick),
        Some(Pick::Manual)
    );
    assert_eq!(plan.tasks[5].group, None);
}

#[test]
fn race_keys_are_checked_where_written() {
    let head = "name = \"p\"\n[[tasks]]\nname = \"job\"\nprompt = \"x\"\nagent = \"shell\"\n";
    toml_fails_at(
        &format!("{head}replicas = 1\n"),
        6,
        12,
        "'replicas' must be 2 or more, got 1",
    );
    toml_fails_at(
        &format!("{head}pick = \"first-passing\"\n"),
        6,
        1,
        "'pick' needs 'replicas' or 'agents'",
    );
    toml_fails_at(
        &format!("{head}replicas = 2\npick = \"best\"\n"),
        7,
        8,
        "'pick'",
    );
    toml_fails_at(
        &format!("{head}agents = [\"shell\", \"demo\"]\n"),
        6,
        1,
        "both 'agent' and 'agents' are set",
    );
    toml_fails_at(
        "name = \"p\"\n[[tasks]]\nname = \"job\"\nprompt = \"x\"\nagents = [\"shell\", \"nope\"]\n",
        5,
        20,
        "unknown agent 'nope'",
    );
    // A sibling name taken by a task the user named that way, in either order.
    let sibling_first = "name = \"p\"\n[defaults]\nagent = \"shell\"\n[[tasks]]\nname = \"job\"\nprompt = \"x\"\nreplicas = 2\n[[tasks]]\nname = \"job.2\"\nprompt = \"y\"\n";
    toml_fails_at(
        sibling_first,
        9,
        8,
        "task name 'job.2' is also a sibling of raced task 'job' (line 5)",
    );
    let user_first = "name = \"p\"\n[defaults]\nagent = \"shell\"\n[[tasks]]\nname = \"job.1\"\nprompt = \"y\"\n[[tasks]]\nname = \"job\"\nprompt = \"x\"\nreplicas = 2\n";
    toml_fails_at(
        user_first,
        8,
        8,
        "task name 'job.1' is also a sibling of raced task 'job' (line 5)",
    );
    // Nothing can depend on a race as a whole.
    let dependent = "name = \"p\"\n[defaults]\nagent = \"shell\"\n[[tasks]]\nname = \"job\"\nprompt = \"x\"\nreplicas = 2\n[[tasks]]\nname = \"next\"\nprompt = \"y\"\ndepends_on = [\"job\"]\n";
    toml_fails_at(
        dependent,
        11,
        15,
        "task 'next' depends on raced task 'job'; depend on one of its siblings ('job.1')",
    );
}
