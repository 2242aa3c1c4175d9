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
