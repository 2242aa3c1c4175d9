//! Runs in the grove server (issue 13's first wired slice): `grove run --detach` returns while
//! the agents go on in the server, after the starting command and its terminal are gone;
//! `grove ps` lists live runs, `grove wait` returns a run's exit code (live, ended, or its
//! server killed), `grove stop` stops one; one server per repository, which leaves when idle.
//! The real binary, real agents (shell tasks) in real PTYs, the real socket.

use std::path::PathBuf;
use std::process::Output;

use crate::support::tty::*;
use crate::support::*;

/// The server's idle time in these tests: it leaves soon after its runs end.
const IDLE: &str = "1";

fn grove(repo: &Repo, args: &[&str]) -> Output {
    repo.grove_cmd(args)
        .env("GROVE_SERVER_IDLE", IDLE)
        .output()
        .unwrap()
}

/// `grove run --detach` on `plan`; the run's id once the command has returned 0.
fn detach(repo: &Repo, plan: &str) -> String {
    let path = repo.write_plan(plan);
    let out = grove(repo, &["run", path.to_str().unwrap(), "--detach"]);
    assert!(out.status.success(), "{}", text(&out));
    run_id(&out)
}

/// The repository's server, found through `grove ps`. Dropping it (the test over, or failed)
/// stops it by its pid: SIGTERM stops its runs, then it leaves when idle.
struct Server {
    pid: i32,
}

impl Server {
    fn of(repo: &Repo) -> Server {
        let out = grove(repo, &["ps"]);
        assert!(out.status.success(), "{}", text(&out));
        Server {
            pid: server_pid(&out).unwrap_or_else(|| panic!("no server in {}", text(&out))),
        }
    }
}

fn server_pid(ps: &Output) -> Option<i32> {
    String::from_utf8_lossy(&ps.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("grove server pid "))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

impl Drop for Server {
    fn drop(&mut self) {
        if alive(self.pid) {
            // SAFETY: signalling the server this test started, by its pid.
            unsafe { libc::kill(self.pid, libc::SIGTERM) };
            if poll(|| (!alive(self.pid)).then_some(())).is_none() {
                unsafe { libc::kill(self.pid, libc::SIGKILL) };
            }
        }
    }
}

/// A task that writes its pid to `pid_file`, waits for `go`, then runs `then`.
fn waiting_task(pid_file: &std::path::Path, go: &std::path::Path, then: &str) -> String {
    format!(
        "echo $$ > '{}'; {} {then}",
        pid_file.display(),
        sh_wait_for_file(go)
    )
}

/// A plan of one task, `a`, that writes its pid to `a.pid` in HOME, waits for `go` there, then
/// runs `then`: the plan and those two paths.
fn waiting_plan(repo: &Repo, then: &str) -> (String, PathBuf, PathBuf) {
    let home = repo.home.path();
    let (pid_file, go) = (home.join("a.pid"), home.join("go"));
    let plan = Plan::new()
        .shell_task("a", &waiting_task(&pid_file, &go, then))
        .timeout("300s")
        .to_toml();
    (plan, pid_file, go)
}

/// Waits until `grove ps` counts one client of run `run_id` (a `grove wait` on it).
fn wait_attached(repo: &Repo, run_id: &str) {
    wait_for("the wait to attach", || {
        let ps = String::from_utf8_lossy(&grove(repo, &["ps"]).stdout).into_owned();
        ps.lines()
            .any(|l| l.contains(run_id) && l.trim_end().ends_with(" 1"))
            .then_some(())
    });
}

#[test]
fn a_detached_run_outlives_its_terminal_and_wait_returns_its_code() {
    let repo = Repo::new();
    let (plan, pid_file, go) = waiting_plan(&repo, "echo done > a.txt");
    let mut cmd = grove_run(&repo, &plan, &["--detach"]);
    cmd.env("GROVE_SERVER_IDLE", IDLE);
    let mut tty = Tty::spawn(cmd);
    let status = tty.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let run_id = tty.wait_for("the run id and how to follow it", |screen| {
        let text = screen.text();
        let id = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("grove: run "))?
            .split_whitespace()
            .next()?
            .to_string();
        text.contains(&format!("grove wait {id}")).then_some(id)
    });
    // The starting command has ended; its terminal goes now (hung up).
    drop(tty);
    let server = Server::of(&repo);
    let agent = wait_for_pid(&pid_file);
    assert!(alive(agent), "the agent died with the detaching terminal");

    let ps = grove(&repo, &["ps"]);
    let listed = String::from_utf8_lossy(&ps.stdout).into_owned();
    let row = listed
        .lines()
        .find(|l| l.contains(&run_id))
        .unwrap_or_else(|| panic!("grove ps does not list {run_id}:\n{listed}"));
    assert!(row.contains("1 running"), "{row}");
    let ls = grove(&repo, &["ls"]);
    let ls = String::from_utf8_lossy(&ls.stdout).into_owned();
    assert!(
        ls.lines()
            .any(|l| l.contains(&run_id) && l.contains("grove server")),
        "{ls}"
    );

    std::fs::write(&go, "").unwrap();
    let out = grove(&repo, &["wait", &run_id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let results = repo.results(&run_id);
    assert_eq!(task(&results, "a")["status"], "succeeded");
    assert_eq!(results["success"], true);
    drop(server);
}

#[test]
fn wait_returns_a_failed_runs_code_live_and_from_its_records_after_the_server_left() {
    let repo = Repo::new();
    let (plan, pid_file, go) = waiting_plan(&repo, "exit 3");
    let run_id = detach(&repo, &plan);
    let server = Server::of(&repo);
    wait_for_pid(&pid_file);
    std::fs::write(&go, "").unwrap();
    let out = grove(&repo, &["wait", &run_id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // Its run over and no client left, the server leaves after its idle time.
    wait_for("the idle server to exit", || {
        (!alive(server.pid)).then_some(())
    });
    let ps = grove(&repo, &["ps"]);
    assert!(server_pid(&ps).is_none(), "{}", text(&ps));
    let log = std::fs::read_to_string(repo.path().join(".grove/server/server.log")).unwrap();
    assert!(log.contains("idle for 1s, exiting"), "{log}");
    let mode = std::fs::metadata(repo.path().join(".grove/server/server.log"))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );

    // An ended run's wait: its recorded outcome.
    let out = grove(&repo, &["wait", &run_id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn stop_cancels_a_running_run_wait_returns_its_code_and_resume_detach_continues_it() {
    let repo = Repo::new();
    let (plan, pid_file, go) = waiting_plan(&repo, "echo done > a.txt");
    let run_id = detach(&repo, &plan);
    let _server = Server::of(&repo);
    let agent = wait_for_pid(&pid_file);

    let out = grove(&repo, &["stop", &run_id]);
    assert!(out.status.success(), "{}", text(&out));
    let out = grove(&repo, &["wait", &run_id]);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(!alive(agent), "the stopped run's agent is still alive");
    let results = repo.results(&run_id);
    assert_eq!(task(&results, "a")["status"], "cancelled");
    assert_eq!(results["interrupted"], true);

    // A run not live in the server cannot be stopped: bad input.
    let out = grove(&repo, &["stop", &run_id]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // The stopped run continues in the server.
    std::fs::remove_file(&pid_file).unwrap();
    let out = grove(&repo, &["resume", &run_id, "--detach"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("grove wait {run_id}")));
    let resumed = wait_for_pid(&pid_file);
    assert_ne!(resumed, agent);
    std::fs::write(&go, "").unwrap();
    let out = grove(&repo, &["wait", &run_id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(task(&repo.results(&run_id), "a")["status"], "succeeded");
}

#[test]
fn a_bad_plan_through_detach_is_exit_2_with_its_location_and_creates_nothing() {
    let repo = Repo::new();
    let plan = Plan::new().shell_task("a", "true").to_toml() + "\n[[tasks]]\nname = 5\n";
    let path = repo.write_plan(&plan);
    let out = grove(&repo, &["run", path.to_str().unwrap(), "--detach"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = plan.lines().count();
    assert!(
        stderr.contains(&format!("{}:{line}:", path.display())),
        "{stderr}"
    );
    assert!(!repo.path().join(".grove/runs").exists());
    let ps = grove(&repo, &["ps"]);
    assert!(server_pid(&ps).is_none(), "{}", text(&ps));
}

#[test]
fn after_kill_9_of_the_server_wait_says_so_and_resume_recovers() {
    let repo = Repo::new();
    let (plan, pid_file, go) = waiting_plan(&repo, "echo done > a.txt");
    let run_id = detach(&repo, &plan);
    let server = Server::of(&repo);
    wait_for_pid(&pid_file);
    let waiting = repo
        .grove_cmd(&["wait", &run_id])
        .env("GROVE_SERVER_IDLE", IDLE)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The waiting client is attached to the run once `grove ps` counts it.
    wait_attached(&repo, &run_id);
    // SAFETY: the server this test started, by its pid.
    unsafe { libc::kill(server.pid, libc::SIGKILL) };
    let out = waiting.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("server ended") && stderr.contains(&format!("grove resume {run_id}")),
        "{stderr}"
    );
    // Asked again, with no server at all: the same.
    let out = grove(&repo, &["wait", &run_id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(&format!("grove resume {run_id}")));

    std::fs::write(&go, "").unwrap();
    let out = grove(&repo, &["resume", &run_id, "--headless"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(task(&repo.results(&run_id), "a")["status"], "succeeded");
    let out = grove(&repo, &["wait", &run_id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn two_detached_runs_started_at_once_share_one_server() {
    let repo = Repo::new();
    let home = repo.home.path();
    let go = home.join("go");
    let plans = [
        Plan::named("first")
            .shell_task("a", &waiting_task(&home.join("a.pid"), &go, "true"))
            .timeout("300s")
            .to_toml(),
        Plan::named("second")
            .shell_task("b", &waiting_task(&home.join("b.pid"), &go, "exit 1"))
            .timeout("300s")
            .to_toml(),
    ];
    // Both start a server at the same moment: one serves, the other leaves it the work.
    let starting: Vec<_> = plans
        .iter()
        .enumerate()
        .map(|(i, plan)| {
            let path = home.join(format!("plan{i}.toml"));
            std::fs::write(&path, plan).unwrap();
            repo.grove_cmd(&["run", path.to_str().unwrap(), "--detach"])
                .env("GROVE_SERVER_IDLE", IDLE)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let ids: Vec<String> = starting
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", text(&out));
            run_id(&out)
        })
        .collect();
    let server = Server::of(&repo);
    let ps = grove(&repo, &["ps"]);
    let listed = String::from_utf8_lossy(&ps.stdout).into_owned();
    assert!(
        listed.contains(&ids[0]) && listed.contains(&ids[1]),
        "{listed}"
    );
    wait_for_pid(&home.join("a.pid"));
    wait_for_pid(&home.join("b.pid"));
    std::fs::write(&go, "").unwrap();
    let (first, second) = (&ids[0], &ids[1]);
    assert_eq!(grove(&repo, &["wait", first]).status.code(), Some(0));
    assert_eq!(grove(&repo, &["wait", second]).status.code(), Some(1));
    drop(server);
}

/// `grove ps`'s server pid, if a server answers.
fn ps_pid(repo: &Repo, idle: &str) -> Option<i32> {
    let out = repo
        .grove_cmd(&["ps"])
        .env("GROVE_SERVER_IDLE", idle)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    server_pid(&out)
}

/// `grove run --detach` of a plan whose task ends at once, with the server's idle time `idle`;
/// waits for the run to end and returns the server.
fn finished_run(repo: &Repo, idle: &str) -> Server {
    let path = repo.write_plan(&Plan::new().shell_task("a", "true").to_toml());
    let run = |args: &[&str]| {
        let out = repo
            .grove_cmd(args)
            .env("GROVE_SERVER_IDLE", idle)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        out
    };
    let run_id = run_id(&run(&["run", path.to_str().unwrap(), "--detach"]));
    let server = Server {
        pid: ps_pid(repo, idle).expect("a server"),
    };
    run(&["wait", &run_id]);
    server
}

/// The server's pid file, where this test's grove finds its socket.
fn pid_file(repo: &Repo) -> std::path::PathBuf {
    grove::server::socket::SocketPlace::for_repo(repo.path())
        .unwrap()
        .pid_path()
}

#[test]
fn a_server_whose_repository_is_deleted_exits_without_waiting_its_idle_time() {
    let repo = Repo::new();
    // Far longer than any test: only the deleted repository can explain its exit.
    let server = finished_run(&repo, "3600");
    assert!(alive(server.pid));
    std::fs::remove_dir_all(repo.path()).unwrap();
    wait_for("the server of the deleted repository to exit", || {
        (!alive(server.pid)).then_some(())
    });
}

#[test]
fn after_kill_9_the_dead_servers_pid_is_not_trusted_and_the_next_server_replaces_it() {
    let repo = Repo::new();
    let first = finished_run(&repo, "3600");
    let written = std::fs::read_to_string(pid_file(&repo)).unwrap();
    assert_eq!(written.trim(), first.pid.to_string());
    // SAFETY: the server this test started, by its pid.
    unsafe { libc::kill(first.pid, libc::SIGKILL) };
    wait_for("the killed server to be gone", || {
        (!alive(first.pid)).then_some(())
    });
    // Its pid file stays behind, but nothing reports a server whose socket is dead.
    assert!(pid_file(&repo).exists());
    assert_eq!(ps_pid(&repo, "3600"), None);
    let out = grove(&repo, &["ls"]);
    assert!(
        !text(&out).contains(&format!("grove server {}", first.pid)),
        "{}",
        text(&out)
    );
    // The next server replaces the stale socket and the dead server's pid with its own.
    let second = finished_run(&repo, "3600");
    assert_ne!(second.pid, first.pid);
    let written = std::fs::read_to_string(pid_file(&repo)).unwrap();
    assert_eq!(written.trim(), second.pid.to_string());
    // Its idle time is long and SIGTERM only stops runs: killed, by its pid.
    // SAFETY: the server this test started, by its pid.
    unsafe { libc::kill(second.pid, libc::SIGKILL) };
}

#[test]
fn a_server_log_over_1_mib_is_moved_to_dot_1_when_a_server_starts() {
    use std::os::unix::fs::PermissionsExt;
    let repo = Repo::new();
    let folder = repo.path().join(".grove/server");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    let log = folder.join("server.log");
    let mut old = b"the old log\n".to_vec();
    old.resize(grove::server::log::LIMIT as usize + 1, b'.');
    std::fs::write(&log, &old).unwrap();
    std::fs::write(folder.join("server.log.1"), "an older log\n").unwrap();
    let server = finished_run(&repo, IDLE);
    assert_eq!(std::fs::read(folder.join("server.log.1")).unwrap(), old);
    let fresh = std::fs::read_to_string(&log).unwrap();
    assert!(!fresh.contains("the old log"), "{fresh}");
    assert!(fresh.contains(&format!("pid {}", server.pid)), "{fresh}");
    let mode = std::fs::metadata(&log).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // Within the limit, the next server appends to it.
    wait_for("the idle server to exit", || {
        (!alive(server.pid)).then_some(())
    });
    let next = finished_run(&repo, IDLE);
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.starts_with(&fresh), "{log_text}");
    assert!(
        log_text.contains(&format!("pid {}", next.pid)),
        "{log_text}"
    );
    assert_eq!(std::fs::read(folder.join("server.log.1")).unwrap(), old);
}

/// A run started through a live server gets the environment of the command that started it,
/// not the server's (which is that of the command that started the server).
#[test]
fn a_run_in_a_live_server_gets_the_environment_of_the_command_that_started_it() {
    let repo = Repo::new();
    let home = repo.home.path();
    let go = home.join("go");
    let detach_with = |name: &str, foo: &str, task: &str| {
        let seen = home.join(format!("{task}.foo"));
        // Unconfined, so that it may write beside the repository.
        let plan = Plan::named(name)
            .shell_task(
                task,
                &format!(
                    "printf '%s\\n' \"$FOO\" > '{}'; {} true",
                    seen.display(),
                    sh_wait_for_file(&go)
                ),
            )
            .with("sandbox", "off")
            .timeout("300s")
            .to_toml();
        let path = home.join(format!("{name}.toml"));
        std::fs::write(&path, plan).unwrap();
        let out = repo
            .grove_cmd(&["run", path.to_str().unwrap(), "--detach"])
            .env("GROVE_SERVER_IDLE", IDLE)
            .env("FOO", foo)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        (run_id(&out), seen)
    };
    // The first command starts the server, with FOO=one; the second reuses it, with FOO=two.
    let (first, first_seen) = detach_with("plan", "one", "a");
    let server = Server::of(&repo);
    let (second, second_seen) = detach_with("plan2", "two", "b");
    let ps = grove(&repo, &["ps"]);
    assert_eq!(server_pid(&ps), Some(server.pid), "not the same server");
    assert_eq!(wait_for_line(&first_seen).trim(), "one");
    assert_eq!(wait_for_line(&second_seen).trim(), "two");
    std::fs::write(&go, "").unwrap();
    assert_eq!(grove(&repo, &["wait", &first]).status.code(), Some(0));
    assert_eq!(grove(&repo, &["wait", &second]).status.code(), Some(0));
    drop(server);
}

#[test]
fn sigterm_stops_the_servers_runs_tells_their_clients_and_the_server_exits_at_once() {
    let repo = Repo::new();
    let (plan, agent_pid, go) = waiting_plan(&repo, "echo done > a.txt");
    let path = repo.write_plan(&plan);
    // Far longer than any test: only the signal can explain its exit.
    let run = |args: &[&str]| {
        repo.grove_cmd(args)
            .env("GROVE_SERVER_IDLE", "3600")
            .output()
    };
    let out = run(&["run", path.to_str().unwrap(), "--detach"]).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let server = Server::of(&repo);
    let agent = wait_for_pid(&agent_pid);
    let waiting = repo
        .grove_cmd(&["wait", &run_id])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_attached(&repo, &run_id);
    let socket = grove::server::socket::SocketPlace::for_repo(repo.path())
        .unwrap()
        .path;
    assert!(socket.exists() && pid_file(&repo).exists());

    // SAFETY: the server this test started, by its pid.
    unsafe { libc::kill(server.pid, libc::SIGTERM) };
    wait_for("the server to exit", || (!alive(server.pid)).then_some(()));
    // Its client was told how the run ended, as after `grove stop`.
    let out = waiting.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(!alive(agent), "the stopped run's agent is still alive");
    let results = repo.results(&run_id);
    assert_eq!(task(&results, "a")["status"], "cancelled");
    assert_eq!(results["interrupted"], true);
    assert!(!socket.exists(), "the socket is left behind");
    assert!(!pid_file(&repo).exists(), "the pid file is left behind");
    let log = std::fs::read_to_string(grove::server::client::log_path(repo.path())).unwrap();
    assert!(log.contains("every run stopped, exiting"), "{log}");

    // No server now, and the run continues in a new one.
    assert_eq!(ps_pid(&repo, IDLE), None);
    std::fs::remove_file(&agent_pid).unwrap();
    std::fs::write(&go, "").unwrap();
    let out = grove(&repo, &["resume", &run_id, "--detach"]);
    assert!(out.status.success(), "{}", text(&out));
    let _server = Server::of(&repo);
    let out = grove(&repo, &["wait", &run_id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(task(&repo.results(&run_id), "a")["status"], "succeeded");
}
