//! Syntax, unknown and required keys, names, agents and values: each fails where it is written.

use super::*;

// ---- syntax ----

#[test]
fn toml_syntax_error() {
    toml_fails_at(
        "name = \"p\"\n[[tasks]]\nname = \n",
        3,
        8,
        "TOML syntax error",
    );
    toml_fails_at(
        "name = \"p\"\n[[tasks]]\nname = \"a\"\nname = \"b\"\n",
        4,
        1,
        "TOML syntax error at 'name': duplicate key",
    );
}

#[test]
fn json_syntax_error() {
    json_fails_at(
        "{\n  \"name\": \"p\",\n  \"tasks\": [}\n}\n",
        3,
        13,
        "JSON syntax error",
    );
}

// ---- unknown keys ----

#[test]
fn unknown_top_level_key() {
    toml_fails_at(
        "name = \"p\"\nmax_paralel = 2\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n",
        2,
        1,
        "unknown top-level key 'max_paralel'",
    );
}

#[test]
fn unknown_task_key() {
    toml_fails_at(
        "name = \"p\"\n[[tasks]]\nname = \"gen\"\nprompt = \"x\"\ntmeout = \"5m\"\n",
        5,
        1,
        "unknown key 'tmeout' in task 'gen'",
    );
}

#[test]
fn unknown_defaults_key() {
    toml_fails_at(
        "name = \"p\"\n[defaults]\nretrys = 2\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n",
        3,
        1,
        "unknown key 'retrys' in [defaults]",
    );
}

#[test]
fn unknown_backoff_key() {
    toml_fails_at(
        "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\nbackoff = { initial = \"1s\", jiter = 0.5 }\n",
        5,
        29,
        "unknown key 'backoff.jiter' in task 'a'",
    );
}

#[test]
fn unknown_agent_key() {
    toml_fails_at(
        "name = \"p\"\n[agents.mine]\ncommand = [\"echo\"]\nargz = []\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n",
        4,
        1,
        "unknown key 'argz' in agent 'mine'",
    );
}

// ---- required keys ----

#[test]
fn missing_plan_name() {
    toml_fails_at(
        "[[tasks]]\nname = \"a\"\nprompt = \"x\"\n",
        1,
        1,
        "no 'name'",
    );
}

#[test]
fn missing_task_name_points_at_task_table() {
    toml_fails_at(
        "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n\n[[tasks]]\nprompt = \"y\"\n",
        6,
        1,
        "task #2: missing required key 'name'",
    );
}

#[test]
fn missing_prompt_points_at_task_table() {
    toml_fails_at(
        "name = \"p\"\n[[tasks]]\nname = \"a\"\nagent = \"shell\"\n",
        2,
        1,
        "task 'a': needs 'prompt' or 'prompt_file'",
    );
}

#[test]
fn both_prompt_and_prompt_file() {
    let text = "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\nprompt_file = \"p.md\"\n";
    let err = load_with(&[("p.md", b"hello")], "plan.toml", text).unwrap_err();
    is_error_at(
        &err,
        "plan.toml",
        5,
        1,
        "task 'a': both 'prompt' and 'prompt_file' are set",
    );
}

#[test]
fn no_tasks() {
    toml_fails_at("name = \"p\"\n", 1, 1, "no tasks");
    toml_fails_at("name = \"p\"\ntasks = []\n", 2, 9, "no tasks");
}

// ---- names ----

#[test]
fn duplicate_task_name_points_at_second() {
    toml_fails_at(
        "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n[[tasks]]\nname = \"a\"\nprompt = \"y\"\n",
        6,
        8,
        "duplicate task name 'a' (first used on line 3)",
    );
}

#[test]
fn invalid_task_names() {
    let long = "x".repeat(65);
    for (name, phrase) in [
        ("a b", "' ' is not allowed"),
        ("a..b", "names must not contain '..'"),
        (long.as_str(), "names are at most 64 characters"),
        (".hidden", "names must not start with '.'"),
    ] {
        toml_fails_at(
            &format!("name = \"p\"\n[[tasks]]\nname = \"{name}\"\nprompt = \"x\"\n"),
            3,
            8,
            &format!("invalid task name '{name}': {phrase}"),
        );
    }
}

#[test]
fn invalid_plan_and_agent_names() {
    toml_fails_at(
        "name = \"../up\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n",
        1,
        8,
        "invalid plan name '../up'",
    );
    toml_fails_at(
        "name = \"p\"\n[agents.\"x.lock\"]\ncommand = [\"echo\"]\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n",
        2,
        9,
        "invalid agent name 'x.lock': names must not end with '.lock'",
    );
}

// ---- agents ----

#[test]
fn unknown_agent_lists_presets_and_plan_agents() {
    toml_fails_at(
        "name = \"p\"\n[agents.mine]\ncommand = [\"echo\"]\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\nagent = \"claud\"\n",
        7,
        9,
        "task 'a': unknown agent 'claud' (did you mean 'claude'?) (presets: demo, shell, claude, claude-interactive, codex, aider, gemini; defined agents: mine)",
    );
}

#[test]
fn unknown_agent_in_defaults_points_at_defaults() {
    toml_fails_at(
        "name = \"p\"\n[defaults]\nagent = \"nope\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n",
        3,
        9,
        "[defaults]: unknown agent 'nope' (presets: demo, shell, claude, claude-interactive, codex, aider, gemini; defined agents: none)",
    );
}

#[test]
fn agent_with_empty_command() {
    toml_fails_at(
        "name = \"p\"\n[agents.mine]\ncommand = []\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\nagent = \"mine\"\n",
        3,
        11,
        "agent 'mine': 'command' must start with a program",
    );
}

#[test]
fn agent_without_command() {
    toml_fails_at(
        "name = \"p\"\n[agents.mine]\nenv = { A = \"1\" }\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n",
        2,
        1,
        "agent 'mine': missing required key 'command'",
    );
}

// ---- values ----

#[test]
fn bad_duration() {
    toml_fails_at(
        "name = \"p\"\n[[tasks]]\nname = \"gen\"\nprompt = \"x\"\ntimeout = \"5 parsecs\"\n",
        5,
        11,
        "task 'gen': bad duration \"5 parsecs\" for 'timeout' (use e.g. \"90s\", \"5m\", \"1h30m\")",
    );
}

#[test]
fn zero_timeout() {
    toml_fails_at(
        "name = \"p\"\n[[tasks]]\nname = \"gen\"\nprompt = \"x\"\ntimeout = 0\n",
        5,
        11,
        "'timeout' must be more than zero",
    );
    toml_fails_at(
        "name = \"p\"\n[defaults]\ntimeout = \"0s\"\n[[tasks]]\nname = \"gen\"\nprompt = \"x\"\n",
        3,
        11,
        "[defaults]: 'timeout' must be more than zero",
    );
}

/// Durations near `i64::MAX` seconds once validated and then panicked in the engine ("overflow
/// when adding duration to instant"), leaving grove hung: every duration is capped at 30 days.
#[test]
fn durations_are_capped_at_30_days() {
    let task = "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n";
    for (key, col) in [
        ("timeout", 11),
        ("kill_grace", 14),
        ("idle_after", 14),
        ("backoff.initial", 19),
        ("backoff.max", 15),
    ] {
        for (value, shown) in [
            ("9223372036854775807", "9223372036854775807s"),
            ("\"31days\"", "31days"),
        ] {
            toml_fails_at(
                &format!("{task}{key} = {value}\n"),
                5,
                col,
                &format!("task 'a': '{key}' must be at most 30 days, got {shown}"),
            );
        }
    }
    // In a JSON plan and in [defaults] alike.
    json_fails_at(
        "{\"name\": \"p\", \"defaults\": {\"kill_grace\": \"100000h\"},\n \"tasks\": [{\"name\": \"a\", \"prompt\": \"x\"}]}\n",
        1,
        42,
        "[defaults]: 'kill_grace' must be at most 30 days, got 100000h",
    );
    // 30 days itself is fine.
    let plan = load_text(
        "plan.toml",
        &format!("{task}timeout = \"30days\"\nbackoff.max = 2592000\n"),
    )
    .unwrap();
    let month = Duration::from_secs(30 * 24 * 3600);
    assert_eq!(plan.tasks[0].timeout, month);
    assert_eq!(plan.tasks[0].backoff.max, month);
}

#[test]
fn negative_retries() {
    toml_fails_at(
        "name = \"p\"\n[[tasks]]\nname = \"gen\"\nprompt = \"x\"\nretries = -1\n",
        5,
        11,
        "'retries' must be 0 or more, got -1",
    );
}

#[test]
fn too_many_retries() {
    toml_fails_at(
        "name = \"p\"\n[[tasks]]\nname = \"gen\"\nprompt = \"x\"\nretries = 101\n",
        5,
        11,
        "'retries' must be at most 100",
    );
}

#[test]
fn zero_max_parallel() {
    toml_fails_at(
        "name = \"p\"\nmax_parallel = 0\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n",
        2,
        16,
        "'max_parallel' must be 1 or more, got 0",
    );
}

#[test]
fn jitter_out_of_range() {
    for jitter in ["1.5", "-0.1"] {
        toml_fails_at(
            &format!(
                "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n[tasks.backoff]\njitter = {jitter}\n"
            ),
            6,
            10,
            &format!("task 'a': 'backoff.jitter' must be between 0 and 1, got {jitter}"),
        );
    }
}

#[test]
fn bad_multiplier() {
    toml_fails_at(
        "name = \"p\"\n[defaults]\nbackoff = { multiplier = 0 }\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n",
        3,
        26,
        "[defaults]: 'backoff.multiplier' must be a finite number above 0, got 0",
    );
}

#[test]
fn missing_prompt_file() {
    toml_fails_at(
        "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt_file = \"prompts/nope.md\"\n",
        4,
        15,
        "task 'a': cannot read prompt_file 'prompts/nope.md'",
    );
}

#[test]
fn prompt_file_not_utf8() {
    let text = "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt_file = \"bin.md\"\n";
    let err = load_with(&[("bin.md", &[0xff, 0xfe, 0x00])], "plan.toml", text).unwrap_err();
    is_error_at(&err, "plan.toml", 4, 15, "'bin.md'");
    assert!(err.to_string().ends_with("not valid UTF-8"), "{err}");
}

#[test]
fn wrong_types() {
    let task = "[[tasks]]\nname = \"a\"\nprompt = \"x\"\n";
    toml_fails_at(
        &format!("name = \"p\"\nfail_fast = \"yes\"\n{task}"),
        2,
        13,
        "'fail_fast' must be a boolean (true or false), found a string",
    );
    toml_fails_at(
        &format!("name = \"p\"\nmax_parallel = 2.5\n{task}"),
        2,
        16,
        "'max_parallel' must be an integer, found a float",
    );
    toml_fails_at(
        &format!("name = 7\n{task}"),
        1,
        8,
        "'name' must be a string, found an integer",
    );
    toml_fails_at(
        &format!("name = \"p\"\n{task}env = {{ A = 1 }}\n"),
        5,
        13,
        "task 'a': 'env.A' must be a string, found an integer",
    );
    toml_fails_at(
        &format!("name = \"p\"\n{task}depends_on = \"b\"\n"),
        5,
        14,
        "task 'a': 'depends_on' must be an array, found a string",
    );
    toml_fails_at(
        &format!("name = \"p\"\n{task}merge = \"yolo\"\n"),
        5,
        9,
        "task 'a': 'merge' must be one of \"manual\", \"auto\", got \"yolo\"",
    );
    toml_fails_at(
        &format!("name = \"p\"\nstrategy = \"random\"\n{task}"),
        2,
        12,
        "'strategy' must be one of \"parallel\", \"sequential\", \"fallback\", \"batched\"",
    );
}

#[test]
fn scrollback_must_be_a_whole_number_of_lines() {
    toml_fails_at(
        "name = \"p\"\n[defaults]\nscrollback = 0\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n",
        3,
        14,
        "[defaults]: 'scrollback' must be 1 or more, got 0",
    );
    toml_fails_at(
        "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\nscrollback = \"lots\"\n",
        5,
        14,
        "task 'a': 'scrollback' must be an integer, found a string",
    );
    toml_fails_at(
        "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\nscrollback = 100001\n",
        5,
        14,
        "task 'a': 'scrollback' must be at most 100000, got 100001",
    );
    json_fails_at(
        "{\"name\": \"p\",\n \"tasks\": [{\"name\": \"a\", \"prompt\": \"x\", \"scrollback\": 2.5}]}\n",
        2,
        55,
        "task 'a': 'scrollback' must be an integer, found a float",
    );
}

#[test]
fn scrollback_comes_from_defaults_unless_a_task_sets_it() {
    let text = "name = \"p\"\n[defaults]\nscrollback = 500\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n[[tasks]]\nname = \"b\"\nprompt = \"x\"\nscrollback = 20\n";
    let plan = load_text("plan.toml", text).unwrap();
    assert_eq!(plan.tasks[0].scrollback, 500);
    assert_eq!(plan.tasks[1].scrollback, 20);
    let plan = load_text("plan.toml", &format!("name = \"p\"\n{ONE_TASK}")).unwrap();
    assert_eq!(
        plan.tasks[0].scrollback,
        grove::term::pane::DEFAULT_SCROLLBACK
    );
    assert_eq!(grove::term::pane::DEFAULT_SCROLLBACK, 2000);
}
