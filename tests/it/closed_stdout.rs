//! Commands whose stdout is a pipe nobody reads any more (`grove run plan --detach | head -1`):
//! no panic, the command still does its job and exits with its own code. The real binary, its
//! stdout a pipe whose read end is closed before it starts.

use std::process::{Command, Output, Stdio};

use crate::support::*;

/// Runs `cmd` with its stdout a pipe already closed at the other end.
fn into_closed_pipe(cmd: &mut Command) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = cmd
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.wait_with_output().unwrap()
}

/// No panic, nothing on stderr about the pipe, and exit code `code`.
fn assert_quiet(out: &Output, code: i32) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("broken pipe"), "{stderr}");
    assert_eq!(out.status.code(), Some(code), "{stderr}");
}

#[test]
fn a_detached_run_starts_and_exits_0_when_nobody_reads_its_stdout() {
    let repo = Repo::new();
    let _server = server::StopOnDrop(repo.path().to_path_buf());
    let home = repo.home.path();
    let (pid_file, go) = (home.join("a.pid"), home.join("go"));
    let script = format!(
        "echo $$ > '{}'; {} echo done > a.txt",
        pid_file.display(),
        sh_wait_for_file(&go)
    );
    let plan = repo.write_plan(&Plan::new().shell_task("a", &script).to_toml());
    let plan = plan.to_str().unwrap();

    let out = into_closed_pipe(&mut repo.grove_cmd(&["validate", plan]));
    assert_quiet(&out, 0);

    let out = into_closed_pipe(
        repo.grove_cmd(&["run", plan, "--detach"])
            .env("GROVE_SERVER_IDLE", "1"),
    );
    assert_quiet(&out, 0);
    // The run did start: its agent is running in the server.
    let agent = wait_for_pid(&pid_file);
    let run_id = repo.only_run_id();
    for args in [&["ps"][..], &["ls"], &["show", &run_id]] {
        assert_quiet(&into_closed_pipe(&mut repo.grove_cmd(args)), 0);
    }

    let out = into_closed_pipe(&mut repo.grove_cmd(&["stop", &run_id]));
    assert_quiet(&out, 0);
    let out = repo.grove(&["wait", &run_id]);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(!alive(agent), "the stopped run's agent is still alive");
    // Its server leaves once idle (1 s).
    wait_for("the server to leave", || {
        server::pid(repo.path()).is_none().then_some(())
    });
}
