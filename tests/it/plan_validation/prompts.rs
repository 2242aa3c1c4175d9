//! Prompts: `prompt_file` (a regular file inside the repository, at most 1 MiB) and prompts on
//! the command line within the kernel's limits.

use super::*;

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
