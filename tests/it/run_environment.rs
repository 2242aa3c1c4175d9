//! A run's processes start with the run's environment (`RunRequest::env`, the environment of
//! the command that asked for the run), not the environment of the process running the engine:
//! nothing of the engine's own leaks in, and names and values that are not UTF-8 arrive intact.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::support::engine::{self, finished};
use crate::support::*;
use grove::engine::api::Command;
use grove::environment::Environment;

#[test]
fn the_agent_gets_exactly_the_run_s_environment() {
    let repo = Repo::new();
    let seen = repo.home.path().join("seen.env");
    let script = format!("env > '{}'", seen.display());
    // Unconfined, so that it may write beside the repository.
    let plan = Plan::new()
        .shell_task("a", &script)
        .with("sandbox", "off")
        .to_toml();
    let (plan, target) = engine::load(&repo, &plan);
    // A variable of this process the run does not have: it must not reach the agent.
    let kept = ["PATH", "HOME", "TERM"];
    let (dropped, _) = std::env::vars_os()
        .find(|(name, _)| !kept.iter().any(|k| name == k) && !name.as_bytes().starts_with(b"GROVE"))
        .expect("the test process has a variable besides PATH, HOME and TERM");
    let latin1 = OsString::from_vec(b"caf\xe9".to_vec());
    let env: Environment = std::env::vars_os()
        .filter(|(name, _)| *name != dropped)
        .chain([
            ("FOO".into(), "from-the-run".into()),
            ("BYTES".into(), latin1),
        ])
        .collect();
    engine::runtime().block_on(async move {
        let (mut front, engine) = engine::start_with_env(plan, target, (24, 80), env);
        let summary = finished(&mut front.events).await;
        let results = std::fs::read_to_string(&front.info.results_path).unwrap_or_default();
        assert_eq!(summary.exit_code(), 0, "{results}");
        front.commands.send(Command::Shutdown).unwrap();
        engine.await.unwrap();
    });
    let seen = std::fs::read(&seen).unwrap();
    let lines: Vec<&[u8]> = seen.split(|b| *b == b'\n').collect();
    let has = |line: &[u8]| lines.contains(&line);
    assert!(
        has(b"FOO=from-the-run"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    assert!(has(b"BYTES=caf\xe9"), "{}", String::from_utf8_lossy(&seen));
    let mut prefix = dropped.as_bytes().to_vec();
    prefix.push(b'=');
    assert!(
        !lines.iter().any(|l| l.starts_with(&prefix)),
        "{} leaked from the engine's process into the agent's",
        OsStr::new(&dropped).to_string_lossy()
    );
    // grove's own variables are on top.
    assert!(has(b"GROVE_TASK=a"), "{}", String::from_utf8_lossy(&seen));
}

#[test]
fn the_agent_s_program_is_looked_for_on_the_run_s_path() {
    use std::os::unix::fs::PermissionsExt;
    let repo = Repo::new();
    let bin = repo.home.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let found = repo.home.path().join("found");
    let program = bin.join("grove-test-only-on-the-run-path");
    std::fs::write(
        &program,
        format!("#!/bin/sh\necho \"$1\" > '{}'\n", found.display()),
    )
    .unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let plan = Plan::new()
        .task("a", "mine", "ran")
        .with("sandbox", "off")
        .to_toml()
        + "\n[agents.mine]\ncommand = [\"grove-test-only-on-the-run-path\", \"{prompt}\"]\n";
    let (plan, target) = engine::load(&repo, &plan);
    // Not on this process's PATH: only the run's has the folder.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut run_path = bin.clone().into_os_string();
    run_path.push(":");
    run_path.push(&path);
    let env: Environment = std::env::vars_os()
        .filter(|(name, _)| name != "PATH")
        .chain([("PATH".into(), run_path)])
        .collect();
    engine::runtime().block_on(async move {
        let (mut front, engine) = engine::start_with_env(plan, target, (24, 80), env);
        let summary = finished(&mut front.events).await;
        let results = std::fs::read_to_string(&front.info.results_path).unwrap_or_default();
        assert_eq!(summary.exit_code(), 0, "{results}");
        front.commands.send(Command::Shutdown).unwrap();
        engine.await.unwrap();
    });
    assert_eq!(std::fs::read_to_string(&found).unwrap().trim(), "ran");
}

/// A task added to a live run needs its preset agent's program on the run's PATH (what its
/// agents start with), not on the PATH of the process running the engine (a grove server
/// started by another command).
#[test]
fn a_task_added_to_a_run_finds_its_program_on_the_run_s_path() {
    let repo = Repo::new();
    let env = env_with_aider_on_path(&repo, "exit 0");
    let go = repo.home.path().join("go");
    let plan = Plan::new()
        .shell_task("a", &sh_wait_for_file(&go))
        .with("sandbox", "off")
        .to_toml();
    let (plan, target) = engine::load(&repo, &plan);
    engine::runtime().block_on(async move {
        let (mut front, engine) = engine::start_with_env(plan, target, (24, 80), env);
        let task = grove::engine::api::NewTask {
            name: "b".into(),
            agent: "aider".into(),
            prompt: "hello".into(),
            timeout: None,
            retries: Some(0),
            keys: Default::default(),
        };
        front.commands.send(Command::AddTask { task }).unwrap();
        let added = loop {
            match front.events.recv().await.expect("the run ended first") {
                grove::engine::api::Event::TaskAdded { view, .. } if view.name == "b" => {
                    break Ok(())
                }
                grove::engine::api::Event::TaskRejected { name, error } if name == "b" => {
                    break Err(error)
                }
                _ => {}
            }
        };
        std::fs::write(&go, "").unwrap();
        front.commands.send(Command::Shutdown).unwrap();
        engine.await.unwrap();
        assert_eq!(added, Ok(()));
    });
}

/// This process's environment with, first on its PATH, a folder holding a stand-in for the
/// `aider` preset's program (a shell script running `script`), which this machine must not have.
fn env_with_aider_on_path(repo: &Repo, script: &str) -> Environment {
    use std::os::unix::fs::PermissionsExt;
    let bin = repo.home.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let program = grove::agent::preset("aider").unwrap().program().to_string();
    assert!(
        grove::agent::find_program(&program).is_none(),
        "{program} is on this machine's PATH: the test needs it only on the run's"
    );
    std::fs::write(bin.join(&program), format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(bin.join(&program), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut run_path = bin.into_os_string();
    run_path.push(":");
    run_path.push(std::env::var_os("PATH").unwrap_or_default());
    std::env::vars_os()
        .filter(|(name, _)| name != "PATH")
        .chain([("PATH".into(), run_path)])
        .collect()
}

/// A resumed run's plan is checked against the resuming command's PATH (its agents start with
/// it), not the PATH of the process running the engine.
#[test]
fn a_resumed_run_finds_its_programs_on_the_run_s_path() {
    let repo = Repo::new();
    let started = repo.home.path().join("started");
    let env = env_with_aider_on_path(&repo, "exit 0");
    // Task a keeps the run going until it is interrupted; b's agent is the one looked for.
    let text = Plan::new()
        .shell_task(
            "a",
            &format!("touch '{}'; exec sleep 600", started.display()),
        )
        .with("sandbox", "off")
        .task("b", "aider", "hello")
        .to_toml();
    let path = repo.write_plan(&text);
    // Loaded without looking for programs, as the grove server loads a plan its client checked.
    let config = grove::plan::UserConfig::load().unwrap();
    let plan = grove::plan::load_in_checked(&path, repo.path(), &config).unwrap();
    let target = grove::plan::resolve_repo(&plan, repo.path()).unwrap();
    let run_id = engine::runtime().block_on({
        let env = env.clone();
        let started = started.clone();
        async move {
            let (front, engine) = engine::start_with_env(plan, target, (24, 80), env);
            wait_for("task a to start", || started.exists().then_some(()));
            // Interrupted while its task runs: resumable.
            front.commands.send(Command::Shutdown).unwrap();
            engine.await.unwrap();
            front.info.run_id.clone()
        }
    });
    engine::runtime().block_on(async move {
        let resumed = grove::engine::resume(repo.path(), &run_id, env);
        let (front, engine) = match resumed {
            Ok(resumed) => resumed,
            Err(e) => panic!("the resume was refused: {e}"),
        };
        front.commands.send(Command::Shutdown).unwrap();
        engine.await.unwrap();
    });
}
