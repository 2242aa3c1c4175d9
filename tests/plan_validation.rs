//! Plan parsing and validation against real files: each bad input fails at an exact line and
//! column with a message naming the problem; good plans (TOML and JSON) give the same model.

use std::path::{Path, PathBuf};
use std::time::Duration;

use grove::cli::exit::ExitCode;
use grove::plan::model::{
    AgentOutput, Backoff, KeepWorktrees, MergeMode, Plan, PythonEnv, Strategy,
};
use grove::plan::{load, resolve_repo, PlanError};
use tempfile::TempDir;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Loads `text` saved as `file` in a fresh git repository, next to `extra` files (name, contents).
fn load_with(extra: &[(&str, &[u8])], file: &str, text: &str) -> Result<Plan, PlanError> {
    let dir = TempDir::new().unwrap();
    git2::Repository::init(dir.path()).unwrap();
    for (name, contents) in extra {
        std::fs::write(dir.path().join(name), contents).unwrap();
    }
    load(&write(dir.path(), file, text))
}

fn load_text(file: &str, text: &str) -> Result<Plan, PlanError> {
    load_with(&[], file, text)
}

/// Asserts loading fails at `line:col` with `phrase` in the one-line message.
fn fails_at(file: &str, text: &str, line: usize, col: usize, phrase: &str) {
    let err = load_text(file, text).expect_err("plan should be rejected");
    is_error_at(&err, file, line, col, phrase);
}

fn is_error_at(err: &PlanError, file: &str, line: usize, col: usize, phrase: &str) {
    let msg = err.to_string();
    assert_eq!(err.line_col(), Some((line, col)), "position of: {msg}");
    assert!(
        msg.contains(&format!("{file}:{line}:{col}: ")),
        "message should start with the position: {msg}"
    );
    assert!(msg.contains(phrase), "{msg:?} should contain {phrase:?}");
    assert!(!msg.contains('\n'), "one line: {msg:?}");
    assert_eq!(err.exit_code(), 2);
}

fn toml_fails_at(text: &str, line: usize, col: usize, phrase: &str) {
    fails_at("plan.toml", text, line, col, phrase);
}

fn json_fails_at(text: &str, line: usize, col: usize, phrase: &str) {
    fails_at("plan.json", text, line, col, phrase);
}

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

// ---- prompt_file: a regular file inside the repository, at most 1 MiB ----

/// A git repository in a temp dir with `plans/plan.toml` in it: a one-task plan whose
/// `prompt_file` (written on line 4, column 15) is `written`.
fn repo_with_prompt_file(written: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    git2::Repository::init(dir.path()).unwrap();
    std::fs::create_dir(dir.path().join("plans")).unwrap();
    let text = format!(
        "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt_file = {}\n",
        toml::Value::String(written.into())
    );
    let plan = write(&dir.path().join("plans"), "plan.toml", &text);
    (dir, plan)
}

/// Loads the plan of [`repo_with_prompt_file`] after `setup` ran in the repository.
fn load_prompt_file(written: &str, setup: impl FnOnce(&Path)) -> Result<Plan, PlanError> {
    let (dir, plan) = repo_with_prompt_file(written);
    setup(dir.path());
    load(&plan)
}

/// A shared plan could pull `~/.aws/credentials` into a prompt sent to a hosted model.
#[test]
fn prompt_files_outside_the_repository_or_in_its_own_folders_are_refused() {
    let outside = TempDir::new().unwrap();
    let secret = write(outside.path(), "secret.txt", "secret");
    let up = format!(
        "../../{}/secret.txt",
        outside.path().file_name().unwrap().to_str().unwrap()
    );
    let link_out = |repo: &Path| std::os::unix::fs::symlink(&secret, repo.join("plans/link.md"));
    for (written, setup) in [
        (secret.to_str().unwrap(), None),
        (up.as_str(), None),
        ("/dev/zero", None),
        ("link.md", Some(&link_out)),
    ] {
        let err = load_prompt_file(written, |repo| {
            if let Some(setup) = setup {
                setup(repo).unwrap();
            }
        })
        .unwrap_err();
        is_error_at(&err, "plan.toml", 4, 15, "is outside the repository");
        assert!(
            err.to_string()
                .contains(&format!("task 'a': prompt_file '{written}' (")),
            "{err}"
        );
    }
    let err = load_prompt_file("../.git/config", |_| {}).unwrap_err();
    is_error_at(
        &err,
        "plan.toml",
        4,
        15,
        "is inside git's or grove's own folder",
    );

    // Inside the repository: beside the plan or not, through a symlink or not, absolute or not.
    let inside = |repo: &Path| {
        write(&repo.join("plans"), "own.md", "beside");
        std::fs::create_dir(repo.join("prompts")).unwrap();
        write(&repo.join("prompts"), "gen.md", "from prompts/");
        std::os::unix::fs::symlink("../prompts/gen.md", repo.join("plans/link.md")).unwrap();
    };
    for (written, prompt) in [
        ("own.md", "beside"),
        ("../prompts/gen.md", "from prompts/"),
        ("link.md", "from prompts/"),
    ] {
        let plan = load_prompt_file(written, inside).unwrap();
        assert_eq!(plan.tasks[0].prompt, prompt);
    }
    let (dir, plan) = repo_with_prompt_file("");
    inside(dir.path());
    let absolute = dir.path().join("prompts/gen.md");
    let text = std::fs::read_to_string(&plan)
        .unwrap()
        .replace("\"\"", &format!("{:?}", absolute.to_str().unwrap()));
    std::fs::write(&plan, text).unwrap();
    assert_eq!(load(&plan).unwrap().tasks[0].prompt, "from prompts/");
}

/// A FIFO once hung `validate` for good; a folder or a device is no prompt either. The load runs
/// on a thread so that a hang fails the test instead of stalling it.
#[test]
fn prompt_files_that_are_not_regular_files_are_refused_without_blocking() {
    let mkfifo = |repo: &Path| {
        let path = std::ffi::CString::new(repo.join("plans/fifo.md").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    };
    let mkdir = |repo: &Path| std::fs::create_dir(repo.join("plans/sub")).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(load_prompt_file("fifo.md", mkfifo).map(|_| ()));
    });
    let err = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("loading a plan whose prompt_file is a FIFO blocked")
        .unwrap_err();
    is_error_at(&err, "plan.toml", 4, 15, "is not a regular file (a FIFO)");
    let err = load_prompt_file("sub", mkdir).unwrap_err();
    is_error_at(&err, "plan.toml", 4, 15, "is not a regular file (a folder)");
}

/// `/dev/zero` once read until memory ran out; a file over 1 MiB is refused before it is read.
#[test]
fn prompt_files_hold_at_most_1_mib() {
    const MIB: usize = 1 << 20;
    let err = load_prompt_file("big.md", |repo| {
        std::fs::write(repo.join("plans/big.md"), "x".repeat(MIB + 1)).unwrap();
    })
    .unwrap_err();
    is_error_at(
        &err,
        "plan.toml",
        4,
        15,
        "is 1048577 bytes; a prompt file holds at most 1 MiB (1048576 bytes)",
    );
    let plan = load_prompt_file("big.md", |repo| {
        std::fs::write(repo.join("plans/big.md"), "x".repeat(MIB)).unwrap();
    })
    .unwrap();
    assert_eq!(plan.tasks[0].prompt.len(), MIB);
}

/// Prompt files must be inside the repository: a plan outside any has none to read.
#[test]
fn prompt_files_need_a_repository() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "p.md", "hello");
    let text = "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt_file = \"p.md\"\n";
    let err = load(&write(dir.path(), "plan.toml", text)).unwrap_err();
    is_error_at(
        &err,
        "plan.toml",
        4,
        15,
        "task 'a': prompt_file 'p.md' must be inside the run's git repository, and there is none",
    );
}

// ---- prompts on the command line: the kernel's limits ----

/// A prompt over 128 KiB on the command line validated, then the agent died at its start
/// ("killed by signal: Aborted"): the kernel's limit is checked where the prompt is written.
#[test]
fn prompts_longer_than_the_kernel_passes_as_one_argument_are_refused() {
    let limit = grove::plan::MAX_ARG_STRLEN;
    let plan = |agent: &str, prompt: &str| {
        format!(
            "name = \"p\"\n[agents.opt]\ncommand = [\"opt\", \"--prompt={{prompt}}\"]\n\
             [[tasks]]\nname = \"a\"\nagent = \"{agent}\"\nprompt = \"{prompt}\"\n"
        )
    };
    // The argument and its NUL: `sh -c -- {prompt}` takes a prompt of limit - 1 bytes, and
    // `opt --prompt={prompt}` nine bytes fewer.
    for (agent, longest) in [("shell", limit - 1), ("opt", limit - 10)] {
        load_text("plan.toml", &plan(agent, &"x".repeat(longest))).unwrap();
        let err = load_text("plan.toml", &plan(agent, &"x".repeat(longest + 1))).unwrap_err();
        is_error_at(
            &err,
            "plan.toml",
            7,
            10,
            &format!(
                "task 'a': the prompt ({} bytes) makes argument ",
                longest + 1
            ),
        );
        assert!(
            err.to_string().contains(&format!(
                "{limit} bytes, more than the 131071 bytes the kernel passes as one argument (MAX_ARG_STRLEN"
            )),
            "{err}"
        );
    }
    // The demo agent reads its prompt from the envelope: no limit but prompt_file's.
    load_text("plan.toml", &plan("demo", &"x".repeat(2 * limit))).unwrap();
}

#[test]
fn passed_outputs_count_toward_the_argument_limit() {
    let limit = grove::plan::MAX_ARG_STRLEN;
    let passed = grove::engine::output::PASSED_OUTPUTS_MAX;
    let plan = |prompt_len: usize| {
        format!(
            "name = \"p\"\nstrategy = \"sequential\"\npass_output = true\n[defaults]\nagent = \"shell\"\n\
             [[tasks]]\nname = \"a\"\nprompt = \"{}\"\n",
            "x".repeat(prompt_len)
        )
    };
    load_text("plan.toml", &plan(limit - 1 - passed)).unwrap();
    let err = load_text("plan.toml", &plan(limit - passed)).unwrap_err();
    is_error_at(
        &err,
        "plan.toml",
        8,
        10,
        &format!("(with up to {passed} bytes of earlier tasks' outputs, which this plan passes)"),
    );
}

/// All arguments and the environment together are limited too (ARG_MAX): a prompt under the
/// one-argument limit, in more arguments than the system takes in all.
#[test]
fn a_prompt_repeated_past_arg_max_is_refused() {
    // SAFETY: sysconf only reads a system limit.
    let arg_max = usize::try_from(unsafe { libc::sysconf(libc::_SC_ARG_MAX) }).unwrap();
    let prompt = "x".repeat(100_000);
    let copies = vec!["\"{prompt}\""; arg_max / prompt.len() + 1].join(", ");
    let text = format!(
        "name = \"p\"\n[agents.many]\ncommand = [\"many\", \"--\", {copies}]\n\
         [[tasks]]\nname = \"a\"\nagent = \"many\"\nprompt = \"{prompt}\"\n"
    );
    let err = load_text("plan.toml", &text).unwrap_err();
    is_error_at(
        &err,
        "plan.toml",
        7,
        10,
        &format!("more than the {arg_max} bytes this system passes to a program (ARG_MAX)"),
    );
}

/// A custom agent whose prompt is a whole argument before any "--" lets a prompt starting with
/// '-' be read as an option of its program: a warning at its command line, for agents in use.
#[test]
fn agents_that_let_a_prompt_become_an_option_are_warned_about() {
    let plan = load_text(
        "plan.toml",
        "name = \"p\"\n\
         [agents.ask]\ncommand = [\"ask\", \"--model\", \"m\", \"{prompt}\"]\n\
         [agents.unused]\ncommand = [\"unused\", \"{prompt}\"]\n\
         [agents.joined]\ncommand = [\"joined\", \"--prompt={prompt}\"]\n\
         [agents.after]\ncommand = [\"after\", \"--\", \"{prompt}\"]\n\
         [agents.script]\ncommand = [\"sh\", \"-c\", \"run '{prompt}'\"]\n\
         [agents.shell]\nargs = [\"{prompt}.md\"]\n\
         [[tasks]]\nname = \"a\"\nprompt = \"x\"\nagents = [\"ask\", \"joined\", \"after\", \"script\"]\n\
         [[tasks]]\nname = \"b\"\nprompt = \"x\"\nagent = \"shell\"\n",
    )
    .unwrap();
    let warnings: Vec<&str> = plan.warnings.iter().map(String::as_str).collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings[0].ends_with(
            "plan.toml:3:11: agent 'ask': argument 3 ('{prompt}') starts with the prompt, so a \
             prompt starting with '-' would be read as an option of 'ask'; put \"--\" before it if \
             the program takes that, or join it to its option (\"--prompt={prompt}\")"
        ),
        "{}",
        warnings[0]
    );
    // A preset's args go before its "--": one that starts with the prompt is an option too.
    assert!(
        warnings[1].contains("plan.toml:13:8: agent 'shell': argument 2 ('{prompt}.md')"),
        "{}",
        warnings[1]
    );
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

// ---- dependencies ----

const THREE: &str = "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n[[tasks]]\nname = \"b\"\nprompt = \"x\"\n[[tasks]]\nname = \"c\"\nprompt = \"x\"\n";

/// THREE with `depends_on` lines added to tasks a, b and c (each after the task's prompt, so
/// with all three present they are lines 5, 9 and 13).
fn three_with(a: &str, b: &str, c: &str) -> String {
    let lines: Vec<&str> = THREE.lines().collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        out.push_str(line);
        out.push('\n');
        let extra = match i {
            3 => a,
            6 => b,
            9 => c,
            _ => "",
        };
        if !extra.is_empty() {
            out.push_str(&format!("depends_on = {extra}\n"));
        }
    }
    out
}

#[test]
fn unknown_dependency() {
    toml_fails_at(
        &three_with("", "[\"a\", \"zz\"]", ""),
        8,
        20,
        "task 'b' depends on unknown task 'zz'",
    );
}

#[test]
fn self_dependency() {
    toml_fails_at(
        &three_with("[\"a\"]", "", ""),
        5,
        15,
        "task 'a' depends on itself",
    );
}

#[test]
fn three_cycle_shows_path() {
    // a -> b -> c -> a: the edge closing the cycle is c's "a".
    toml_fails_at(
        &three_with("[\"b\"]", "[\"c\"]", "[\"a\"]"),
        13,
        15,
        "dependency cycle: a -> b -> c -> a",
    );
}

#[test]
fn depends_on_under_fallback() {
    let text = three_with("", "[\"a\"]", "").replacen(
        "name = \"p\"\n",
        "name = \"p\"\nstrategy = \"fallback\"\n",
        1,
    );
    toml_fails_at(
        &text,
        9,
        1,
        "task 'b': 'depends_on' is not allowed with strategy \"fallback\"",
    );
}

// ---- strategies ----

const ONE_TASK: &str = "[[tasks]]\nname = \"a\"\nprompt = \"x\"\n";

#[test]
fn batched_needs_batch_size() {
    toml_fails_at(
        &format!("name = \"p\"\nstrategy = \"batched\"\n{ONE_TASK}"),
        1,
        1,
        "strategy \"batched\" needs 'batch_size'",
    );
    toml_fails_at(
        &format!("name = \"p\"\nstrategy = \"batched\"\nbatch_size = 0\n{ONE_TASK}"),
        3,
        14,
        "'batch_size' must be 1 or more, got 0",
    );
}

#[test]
fn pass_output_only_under_sequential_and_batched() {
    for strategy in ["parallel", "fallback"] {
        toml_fails_at(
            &format!("name = \"p\"\nstrategy = \"{strategy}\"\npass_output = true\n{ONE_TASK}"),
            3,
            1,
            &format!("'pass_output' is only allowed with strategy \"sequential\" or \"batched\" (this plan's strategy is \"{strategy}\")"),
        );
    }
}

#[test]
fn stop_on_failure_only_under_sequential() {
    toml_fails_at(
        &format!("name = \"p\"\nstrategy = \"batched\"\nbatch_size = 2\nstop_on_failure = true\n{ONE_TASK}"),
        4,
        1,
        "'stop_on_failure' is only allowed with strategy \"sequential\"",
    );
}

#[test]
fn strategies_parse() {
    let plan = load_text(
        "plan.toml",
        &format!("name = \"p\"\nstrategy = \"sequential\"\npass_output = true\nstop_on_failure = true\n{ONE_TASK}"),
    )
    .unwrap();
    assert_eq!(
        plan.strategy,
        Strategy::Sequential {
            pass_output: true,
            stop_on_failure: true
        }
    );
    let plan = load_text(
        "plan.toml",
        &format!("name = \"p\"\nstrategy = \"batched\"\nbatch_size = 3\n{ONE_TASK}"),
    )
    .unwrap();
    assert_eq!(
        plan.strategy,
        Strategy::Batched {
            batch_size: 3,
            pass_output: false
        }
    );
}

// ---- JSON positions ----

#[test]
fn json_unknown_task_key() {
    json_fails_at(
        "{\n  \"name\": \"p\",\n  \"tasks\": [\n    {\"name\": \"gen\", \"prompt\": \"x\", \"tmeout\": \"5m\"}\n  ]\n}\n",
        4,
        36,
        "unknown key 'tmeout' in task 'gen'",
    );
}

#[test]
fn json_bad_duration_and_types() {
    json_fails_at(
        "{\"name\": \"p\",\n \"tasks\": [{\"name\": \"gen\", \"prompt\": \"x\",\n   \"timeout\": \"5 parsecs\"}]}",
        3,
        15,
        "task 'gen': bad duration \"5 parsecs\" for 'timeout'",
    );
    json_fails_at(
        "{\"name\": \"p\", \"fail_fast\": null,\n \"tasks\": [{\"name\": \"a\", \"prompt\": \"x\"}]}",
        1,
        28,
        "'fail_fast' must be a boolean (true or false), found null",
    );
    json_fails_at(
        "{\"name\": \"p\",\n \"tasks\": [{\"name\": \"a\", \"prompt\": \"x\", \"retries\": 1.0}]}",
        2,
        52,
        "'retries' must be an integer, found a float",
    );
}

#[test]
fn json_missing_prompt_and_cycle() {
    json_fails_at(
        "{\"name\": \"p\",\n \"tasks\": [\n  {\"name\": \"a\"}\n ]}",
        3,
        3,
        "task 'a': needs 'prompt' or 'prompt_file'",
    );
    json_fails_at(
        "{\"name\": \"p\", \"tasks\": [\n {\"name\": \"a\", \"prompt\": \"x\", \"depends_on\": [\"b\"]},\n {\"name\": \"b\", \"prompt\": \"x\", \"depends_on\": [\"a\"]}\n]}",
        3,
        46,
        "dependency cycle: a -> b -> a",
    );
}

#[test]
fn json_duplicate_key_and_non_ascii_columns() {
    json_fails_at(
        "{\"name\": \"p\", \"name\": \"q\", \"tasks\": []}",
        1,
        15,
        "duplicate key 'name'",
    );
    // Columns count characters: "é" is two bytes but one column.
    json_fails_at(
        "{\"name\": \"p\", \"tasks\": [{\"name\": \"a\", \"prompt\": \"é\", \"x\": 1}]}",
        1,
        54,
        "unknown key 'x' in task 'a'",
    );
}

#[test]
fn json_plan_must_be_an_object() {
    json_fails_at("[1, 2]", 1, 1, "a plan must be a table");
}

// ---- a full plan ----

const FULL_TOML: &str = r#"
name = "full"
base = "main"
max_parallel = 3
strategy = "sequential"
pass_output = true
stop_on_failure = true
fail_fast = true

[defaults]
agent = "mine"
timeout = "10m"
retries = 2
kill_grace = 7
merge = "auto"
keep_worktrees = "always"
env = { SHARED = "d", OVERRIDE = "from-defaults" }
inputs = { lang = "rust", level = 1 }
backoff = { initial = "2s", multiplier = 3.0 }

[agents.mine]
command = ["my-agent", "--prompt", "{prompt}"]
env = { TOKEN_FILE = "/tmp/t" }

[agents.shell]
command = ["bash", "-c", "{prompt}"]

[[tasks]]
name = "gen"
prompt_file = "prompts/gen.md"
timeout = "1h30m"
env = { OVERRIDE = "task" }
inputs = { level = 5, when = 2024-01-02T03:04:05Z, tags = ["a", "b"], nested = { ok = true } }
backoff = { max = "90s", jitter = 0.5 }

[[tasks]]
name = "review"
prompt = "review it"
agent = "shell"
retries = 0
merge = "manual"
keep_worktrees = "never"
kill_grace = "1s"
depends_on = ["gen"]
"#;

const FULL_JSON: &str = r#"{
  "name": "full",
  "base": "main",
  "max_parallel": 3,
  "strategy": "sequential",
  "pass_output": true,
  "stop_on_failure": true,
  "fail_fast": true,
  "defaults": {
    "agent": "mine",
    "timeout": "10m",
    "retries": 2,
    "kill_grace": 7,
    "merge": "auto",
    "keep_worktrees": "always",
    "env": {"SHARED": "d", "OVERRIDE": "from-defaults"},
    "inputs": {"lang": "rust", "level": 1},
    "backoff": {"initial": "2s", "multiplier": 3.0}
  },
  "agents": {
    "mine": {"command": ["my-agent", "--prompt", "{prompt}"], "env": {"TOKEN_FILE": "/tmp/t"}},
    "shell": {"command": ["bash", "-c", "{prompt}"]}
  },
  "tasks": [
    {
      "name": "gen",
      "prompt_file": "prompts/gen.md",
      "timeout": "1h30m",
      "env": {"OVERRIDE": "task"},
      "inputs": {"level": 5, "when": "2024-01-02T03:04:05Z", "tags": ["a", "b"], "nested": {"ok": true}},
      "backoff": {"max": "90s", "jitter": 0.5}
    },
    {
      "name": "review",
      "prompt": "review it",
      "agent": "shell",
      "retries": 0,
      "merge": "manual",
      "keep_worktrees": "never",
      "kill_grace": "1s",
      "depends_on": ["gen"]
    }
  ]
}"#;

fn load_full(file: &str, text: &str) -> (TempDir, Plan) {
    let dir = TempDir::new().unwrap();
    git2::Repository::init(dir.path()).unwrap();
    std::fs::create_dir(dir.path().join("prompts")).unwrap();
    write(
        &dir.path().join("prompts"),
        "gen.md",
        "Generate the thing.\n",
    );
    let plan = load(&write(dir.path(), file, text)).unwrap();
    (dir, plan)
}

#[test]
fn full_plan_parses_into_the_model() {
    let (_dir, plan) = load_full("plan.toml", FULL_TOML);
    assert_eq!(plan.name, "full");
    assert_eq!(plan.base.as_deref(), Some("main"));
    assert_eq!(plan.max_parallel, 3);
    assert!(plan.fail_fast);
    assert_eq!(
        plan.strategy,
        Strategy::Sequential {
            pass_output: true,
            stop_on_failure: true
        }
    );
    assert_eq!(plan.agents.len(), 2);
    assert_eq!(
        plan.agents["mine"].command,
        vec!["my-agent", "--prompt", "{prompt}"]
    );
    assert_eq!(plan.agents["mine"].env["TOKEN_FILE"], "/tmp/t");
    let base_span = plan.source.base_span.clone().unwrap();
    assert_eq!(&plan.source.text[base_span], "\"main\"");

    let gen = &plan.tasks[0];
    assert_eq!(gen.name, "gen");
    assert_eq!(gen.prompt, "Generate the thing.\n");
    assert_eq!(gen.agent, "mine");
    assert_eq!(gen.timeout, Duration::from_secs(90 * 60));
    assert_eq!(gen.retries, 2);
    assert_eq!(gen.max_attempts(), 3);
    assert_eq!(gen.kill_grace, Duration::from_secs(7));
    assert_eq!(gen.merge, MergeMode::Auto);
    assert_eq!(gen.keep_worktrees, KeepWorktrees::Always);
    assert_eq!(gen.env["SHARED"], "d");
    assert_eq!(gen.env["OVERRIDE"], "task");
    assert_eq!(
        gen.backoff,
        Backoff {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(90),
            multiplier: 3.0,
            jitter: 0.5,
        }
    );
    assert_eq!(
        serde_json::Value::Object(gen.inputs.clone()),
        serde_json::json!({
            "lang": "rust",
            "level": 5,
            "when": "2024-01-02T03:04:05Z",
            "tags": ["a", "b"],
            "nested": {"ok": true}
        })
    );
    assert!(gen.depends_on.is_empty());

    let review = &plan.tasks[1];
    assert_eq!(review.prompt, "review it");
    assert_eq!(review.agent, "shell");
    assert_eq!(review.timeout, Duration::from_secs(600));
    assert_eq!(review.retries, 0);
    assert_eq!(review.kill_grace, Duration::from_secs(1));
    assert_eq!(review.merge, MergeMode::Manual);
    assert_eq!(review.keep_worktrees, KeepWorktrees::Never);
    assert_eq!(review.depends_on, vec!["gen"]);
    assert_eq!(
        review.backoff,
        Backoff {
            initial: Duration::from_secs(2),
            multiplier: 3.0,
            ..Backoff::default()
        }
    );
    assert_eq!(review.inputs.get("level"), Some(&serde_json::json!(1)));
}

#[test]
fn full_plan_as_json_gives_an_equal_model() {
    let (_d1, from_toml) = load_full("plan.toml", FULL_TOML);
    let (_d2, from_json) = load_full("plan.json", FULL_JSON);
    assert_eq!(from_json.source.format, grove::plan::PlanFormat::Json);
    assert_eq!(from_toml.source.format, grove::plan::PlanFormat::Toml);
    assert_eq!(from_toml.name, from_json.name);
    assert_eq!(from_toml.base, from_json.base);
    assert_eq!(from_toml.max_parallel, from_json.max_parallel);
    assert_eq!(from_toml.strategy, from_json.strategy);
    assert_eq!(from_toml.fail_fast, from_json.fail_fast);
    assert_eq!(from_toml.agents, from_json.agents);
    assert_eq!(from_toml.tasks.len(), from_json.tasks.len());
    assert_eq!(from_toml.tasks, from_json.tasks);
}

#[test]
fn minimal_plan_gets_defaults() {
    let plan = load_text("plan.toml", &format!("name = \"p\"\n{ONE_TASK}")).unwrap();
    let t = &plan.tasks[0];
    assert_eq!(plan.strategy, Strategy::Parallel);
    // Agents mostly wait on their model, not the CPU: 8, whatever the CPU count.
    assert_eq!(plan.max_parallel, 8);
    assert!(!plan.fail_fast);
    assert_eq!(plan.base, None);
    assert_eq!(t.agent, "demo");
    assert_eq!(t.timeout, grove::plan::model::defaults::TIMEOUT);
    assert_eq!(t.kill_grace, grove::plan::model::defaults::KILL_GRACE);
    assert_eq!(t.retries, 0);
    assert_eq!(t.backoff, Backoff::default());
    assert_eq!(t.merge, MergeMode::Manual);
    assert_eq!(t.keep_worktrees, KeepWorktrees::Failed);
}

#[test]
fn task_prompt_file_overrides_default_prompt() {
    let text = "name = \"p\"\n[defaults]\nprompt = \"shared\"\n[[tasks]]\nname = \"a\"\n[[tasks]]\nname = \"b\"\nprompt_file = \"own.md\"\n";
    let plan = load_with(&[("own.md", b"own prompt")], "plan.toml", text).unwrap();
    assert_eq!(plan.tasks[0].prompt, "shared");
    assert_eq!(plan.tasks[1].prompt, "own prompt");
}

#[test]
fn unreadable_plan_file() {
    let dir = TempDir::new().unwrap();
    let err = load(&dir.path().join("missing.toml")).unwrap_err();
    assert!(err.to_string().contains("cannot read plan"), "{err}");
    assert_eq!(err.line_col(), None);
    assert_eq!(err.exit_code(), 2);
}

// ---- the repository ----

/// A repository with its first commit on branch `main`; returns the commit id.
fn repo_with_commit(dir: &Path) -> (git2::Repository, git2::Oid) {
    let mut opts = git2::RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo = git2::Repository::init_opts(dir, &opts).unwrap();
    std::fs::write(dir.join("README"), "hi\n").unwrap();
    let mut index = repo.index().unwrap();
    index.add_path(Path::new("README")).unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("t", "t@example.invalid").unwrap();
    let id = repo
        .commit(Some("HEAD"), &sig, &sig, "first", &tree, &[])
        .unwrap();
    drop(tree);
    (repo, id)
}

/// A plan (in its own temp dir) whose second line sets `base` when given.
fn plan_with_base(base: Option<&str>) -> (TempDir, Plan) {
    let base_line = base.map_or(String::new(), |b| format!("base = \"{b}\""));
    let text = format!("name = \"p\"\n{base_line}\n{ONE_TASK}");
    let dir = TempDir::new().unwrap();
    let plan = load(&write(dir.path(), "plan.toml", &text)).unwrap();
    (dir, plan)
}

/// What `resolve_repo` says for a plain plan started in a fresh dir that `prepare` set up.
fn repo_error(prepare: impl Fn(&Path)) -> (TempDir, PlanError) {
    let (_d, plan) = plan_with_base(None);
    let dir = TempDir::new().unwrap();
    prepare(dir.path());
    let err = resolve_repo(&plan, dir.path()).unwrap_err();
    assert_eq!(err.line_col(), None);
    assert_eq!(err.exit_code(), 2);
    (dir, err)
}

#[test]
fn repo_not_found() {
    let (dir, err) = repo_error(|_| {});
    assert!(matches!(err, PlanError::NotARepo { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("{}: not inside a git repository", dir.path().display())
    );
}

#[test]
fn repo_without_commits() {
    let (dir, err) = repo_error(|d| drop(git2::Repository::init(d).unwrap()));
    assert!(matches!(err, PlanError::NoCommits { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: the repository has no commits yet (make a first commit)",
            dir.path().display()
        )
    );
}

#[test]
fn bare_repo_is_refused() {
    let (dir, err) = repo_error(|d| drop(git2::Repository::init_bare(d).unwrap()));
    assert!(matches!(err, PlanError::BareRepo { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: is a bare repository (grove needs a working tree)",
            dir.path().display()
        )
    );
}

#[test]
fn base_that_does_not_resolve_points_at_base() {
    let dir = TempDir::new().unwrap();
    repo_with_commit(dir.path());
    let (_d, plan) = plan_with_base(Some("nope"));
    let err = resolve_repo(&plan, dir.path()).unwrap_err();
    assert_eq!(err.line_col(), Some((2, 8)), "{err}");
    let root = dir.path().canonicalize().unwrap();
    assert!(
        err.to_string().ends_with(&format!(
            "plan.toml:2:8: base 'nope' does not resolve to a commit in {}",
            root.display()
        )),
        "{err}"
    );
}

#[test]
fn head_of_a_branch_is_the_default_base() {
    let dir = TempDir::new().unwrap();
    let (_repo, id) = repo_with_commit(dir.path());
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let (_d, plan) = plan_with_base(None);
    let target = resolve_repo(&plan, &dir.path().join("sub")).unwrap();
    assert_eq!(target.root, dir.path().canonicalize().unwrap());
    assert_eq!(target.base_commit, id.to_string());
    assert_eq!(target.base_commit.len(), 40);
    assert_eq!(target.base_branch.as_deref(), Some("main"));
    assert_eq!(target.base_label, "HEAD (main)");
}

#[test]
fn detached_head_has_no_base_branch() {
    let dir = TempDir::new().unwrap();
    let (repo, id) = repo_with_commit(dir.path());
    repo.set_head_detached(id).unwrap();
    let (_d, plan) = plan_with_base(None);
    let target = resolve_repo(&plan, dir.path()).unwrap();
    assert_eq!(target.base_commit, id.to_string());
    assert_eq!(target.base_branch, None);
    assert_eq!(
        target.base_label,
        format!("HEAD (detached at {})", &id.to_string()[..7])
    );
}

#[test]
fn base_as_branch_tag_or_commit() {
    let dir = TempDir::new().unwrap();
    let (repo, id) = repo_with_commit(dir.path());
    let commit = repo.find_commit(id).unwrap();
    repo.branch("feature/x", &commit, false).unwrap();
    repo.tag_lightweight("v1", commit.as_object(), false)
        .unwrap();
    let sig = git2::Signature::now("t", "t@example.invalid").unwrap();
    repo.tag("v2", commit.as_object(), &sig, "annotated", false)
        .unwrap();
    let hash = id.to_string();
    let cases = [
        ("feature/x", Some("feature/x")),
        ("main", Some("main")),
        ("v1", None),
        ("v2", None),
        (hash.as_str(), None),
        (&hash[..10], None),
    ];
    for (base, branch) in cases {
        let (_d, plan) = plan_with_base(Some(base));
        let target = resolve_repo(&plan, dir.path()).unwrap();
        assert_eq!(target.base_commit, hash, "base {base}");
        assert_eq!(target.base_branch.as_deref(), branch, "base {base}");
        assert_eq!(target.base_label, base);
    }
}

#[test]
fn linked_worktree_resolves_to_the_main_worktree() {
    let dir = TempDir::new().unwrap();
    let main_dir = dir.path().join("main");
    std::fs::create_dir(&main_dir).unwrap();
    let (repo, id) = repo_with_commit(&main_dir);
    let wt_path = dir.path().join("linked");
    repo.worktree("linked", &wt_path, None).unwrap();
    let (_d, plan) = plan_with_base(None);
    let target = resolve_repo(&plan, &wt_path).unwrap();
    assert_eq!(target.root, main_dir.canonicalize().unwrap());
    assert_eq!(target.base_commit, id.to_string());
    // The linked worktree's own HEAD is its new branch "linked".
    assert_eq!(target.base_branch.as_deref(), Some("linked"));
}

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
