//! The command line end to end: exit codes, bad input creating nothing, signals, the demo.

use crate::support::*;

fn interrupt_with(signal: i32, expected_code: i32) {
    let repo = Repo::new();
    let pid_file = repo.path().join("agent.pid");
    repo.write(
        "plan.toml",
        &Plan::new()
            .default("kill_grace", "500ms")
            .shell_task(
                "hang",
                &format!(
                    r#"trap "" TERM; sleep 300 & echo $! > {pid}.tmp; mv {pid}.tmp {pid}; echo x >> {pid}; wait"#,
                    pid = pid_file.display(),
                ),
            )
            .shell_task("later", "true")
            .depends_on(&["hang"])
            .to_toml(),
    );
    let child = repo
        .grove_cmd(&["run", "plan.toml", "--headless"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let grandchild: i32 = wait_for_line(&pid_file)
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, signal) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(expected_code), "{}", text(&out));
    let results = repo.results(&run_id(&out));
    assert_eq!(task(&results, "hang")["status"], "cancelled");
    assert_eq!(task(&results, "later")["status"], "cancelled");
    assert_eq!(results["interrupted"], true);
    assert!(results["completed_at"].is_string());
    assert!(!alive(grandchild), "agent's child {grandchild} survived");
}

#[test]
fn sigint_cancels_agents_and_exits_130() {
    interrupt_with(libc::SIGINT, 130);
}

#[test]
fn sigterm_cancels_agents_and_exits_143() {
    interrupt_with(libc::SIGTERM, 143);
}

#[test]
fn bad_plans_exit_2_with_a_position_and_create_nothing() {
    let repo = Repo::new();
    repo.write(
        "plan.toml",
        "name = \"p\"\n[[tasks]]\nname = \"t\"\nprompt = \"x\"\ntmeout = \"5m\"\n",
    );
    for args in [
        vec!["validate", "plan.toml"],
        vec!["run", "plan.toml", "--headless"],
    ] {
        let out = repo.grove(&args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("plan.toml:5:1"), "{stderr}");
        assert!(stderr.contains("tmeout"), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    assert!(!repo.path().join(".grove").exists());
}

#[test]
fn a_base_that_does_not_resolve_is_reported_at_its_position() {
    let repo = Repo::new();
    repo.write(
        "plan.toml",
        "name = \"p\"\nbase = \"no-such-branch\"\n[[tasks]]\nname = \"t\"\nprompt = \"x\"\n",
    );
    let out = repo.grove(&["run", "plan.toml", "--headless"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("plan.toml:2:8"),
        "{}",
        text(&out)
    );
    assert!(!repo.path().join(".grove").exists());
}

#[test]
fn outside_a_repository_and_without_commits_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plan.toml"),
        "name = \"p\"\n[[tasks]]\nname = \"t\"\nprompt = \"x\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(GROVE)
        .args(["validate", "plan.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("not inside a git repository"),
        "{}",
        text(&out)
    );

    let empty = Repo::bare_init();
    empty.write(
        "plan.toml",
        "name = \"p\"\n[[tasks]]\nname = \"t\"\nprompt = \"x\"\n",
    );
    let out = empty.grove(&["validate", "plan.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no commits"), "{}", text(&out));
}

#[test]
fn usage_errors_exit_2() {
    let out = std::process::Command::new(GROVE)
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = std::process::Command::new(GROVE)
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn merge_of_an_unknown_run_exits_2() {
    let repo = Repo::new();
    let out = repo.grove(&["merge", "nope-20260101-000000", "t"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no run 'nope-20260101-000000'"),
        "{}",
        text(&out)
    );
}

/// `grove demo --headless --dir DIR` with `home` as HOME.
fn demo(home: &std::path::Path, dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(GROVE)
        .args(["demo", "--headless", "--dir"])
        .arg(dir)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap()
}

#[test]
fn demo_dir_that_cannot_be_a_folder_exits_2_creating_nothing() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    for dir in [file.clone(), file.join("below")] {
        let out = demo(home.path(), &dir);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&dir.display().to_string()), "{stderr}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a folder");
    assert_eq!(std::fs::read_dir(home.path()).unwrap().count(), 1);
}

#[test]
fn demo_headless_runs_the_four_agents_to_the_end() {
    let home = tempfile::tempdir().unwrap();
    // --dir names a folder that is not there yet: it is created.
    let dir = home.path().join("demos/here");
    let out = demo(home.path(), &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("4 of 4 succeeded"), "{stdout}");
    assert!(
        stdout.contains("retrying"),
        "the demo shows a retry:\n{stdout}"
    );
    let root = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("grove-demo-"))
        .unwrap()
        .path();
    let runs: Vec<_> = std::fs::read_dir(root.join(".grove/runs"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(runs.len(), 1);
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(runs[0].path().join("results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(results["total_tasks"], 4);
    assert_eq!(results["succeeded"], 4);
}

/// `prompt_file` must be inside the repository the run uses (`--repo`, else the current
/// folder), wherever the plan is: a file beside a plan outside it is refused at its position.
#[test]
fn prompt_files_must_be_inside_the_runs_repository() {
    let repo = Repo::new();
    let prompt = repo.write("prompts/gen.md", "generate");
    std::fs::write(repo.home.path().join("beside.md"), "beside the plan").unwrap();
    let plan = |prompt_file: &str| {
        repo.write_plan(&format!(
            "name = \"p\"\n[[tasks]]\nname = \"t\"\nprompt_file = {prompt_file:?}\n"
        ))
    };

    let outside = plan("beside.md");
    let out = repo.grove(&["validate", outside.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let expected = format!(
        "error: {}:4:15: task 't': prompt_file 'beside.md' ({}) is outside the repository",
        outside.display(),
        repo.home
            .path()
            .canonicalize()
            .unwrap()
            .join("beside.md")
            .display()
    );
    assert!(text(&out).contains(&expected), "{}", text(&out));

    let inside = plan(prompt.to_str().unwrap());
    let out = repo.grove(&["validate", inside.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    // The same plan for a run in another repository.
    let other = Repo::new();
    let out = other.grove(&["validate", inside.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("is outside the repository"),
        "{}",
        text(&out)
    );
}
