//! Dashboards that detach and attach (issue 13), end to end: the real binary in real PTYs read
//! through vt100, runs in the repository's real grove server, agents (shell tasks) that print
//! numbered lines and then keep appending to a file, so that "alive and still writing" is a
//! file that grows. Detach and attach again, a hung-up terminal, two dashboards on one run, a
//! client of another user and an opened socket folder refused, and `grove attach --ssh` through
//! a real sshd.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use portable_pty::CommandBuilder;

use crate::support::sshd::{Sshd, DESTINATION};
use crate::support::tty::*;
use crate::support::*;

/// The server's idle time in these tests: it leaves soon after its runs end.
const IDLE: &str = "1";

/// The files of one test agent, in the test's home: its shell's pid, the file it appends to
/// while it waits, and the marker that makes it print more.
struct Agent {
    name: &'static str,
    pid: PathBuf,
    ticks: PathBuf,
    more: PathBuf,
}

impl Agent {
    fn new(repo: &Repo, name: &'static str) -> Agent {
        let home = repo.home.path();
        Agent {
            name,
            pid: home.join(format!("{name}.pid")),
            ticks: home.join(format!("{name}.ticks")),
            more: home.join(format!("{name}.more")),
        }
    }

    /// Prints "NAME line 1" to "NAME line 5", appends to its ticks file until `more` is there,
    /// prints lines 6 to 8, then appends to its ticks file until it is stopped.
    fn script(&self) -> String {
        let (name, pid) = (self.name, self.pid.display());
        let (ticks, more) = (self.ticks.display(), self.more.display());
        format!(
            "echo $$ > '{pid}.tmp'; mv '{pid}.tmp' '{pid}'; i=0; \
             while [ $i -lt 5 ]; do i=$((i+1)); echo \"{name} line $i\"; done; \
             until [ -e '{more}' ]; do echo tick >> '{ticks}'; sleep 0.1; done; \
             while [ $i -lt 8 ]; do i=$((i+1)); echo \"{name} line $i\"; done; \
             while :; do echo tick >> '{ticks}'; sleep 0.1; done"
        )
    }

    /// Its shell's pid, once it has started.
    fn started(&self) -> i32 {
        wait_for_pid(&self.pid)
    }

    /// The agent `pid` is alive and still writing: its ticks file grows.
    fn assert_writing(&self, pid: i32) {
        assert!(alive(pid), "{}'s agent {pid} is gone", self.name);
        let size = || std::fs::metadata(&self.ticks).map_or(0, |m| m.len());
        let before = size();
        wait_for(&format!("{} to go on writing", self.name), || {
            (size() > before).then_some(())
        });
    }

    /// It prints more lines.
    fn go_on(&self) {
        std::fs::write(&self.more, "").unwrap();
    }
}

/// A plan of one task per agent, all running at once.
fn plan(agents: &[&Agent]) -> String {
    let mut plan = Plan::named("live").set("max_parallel", agents.len() as i64);
    for agent in agents {
        plan = plan.shell_task(agent.name, &agent.script()).timeout("600s");
    }
    plan.to_toml()
}

/// The pane of `name` once it shows its agent's line `n`; its lines.
fn pane_with_line(dash: &Tty, name: &str, n: usize) -> Vec<String> {
    let line = format!("{name} line {n}");
    dash.wait_for(&format!("{line} in {name}'s pane"), |s| {
        let pane = s.pane(name)?;
        pane.lines
            .iter()
            .any(|l| l.contains(&line))
            .then_some(pane.lines)
    })
}

/// The numbered lines of `name`'s agent that the pane shows, in order.
fn numbered(lines: &[String], name: &str) -> Vec<String> {
    let prefix = format!("{name} line ");
    lines
        .iter()
        .map(|l| l.trim().to_string())
        .filter(|l| l.starts_with(&prefix))
        .collect()
}

fn expected_lines(name: &str, upto: usize) -> Vec<String> {
    (1..=upto).map(|i| format!("{name} line {i}")).collect()
}

/// `grove ARGS` in a PTY in the repository (the server it starts leaves soon when idle).
fn grove_in_pty(repo: &Repo, args: &[&str]) -> CommandBuilder {
    let mut cmd = grove_pty_cmd(repo, args);
    cmd.env("GROVE_SERVER_IDLE", IDLE);
    cmd
}

/// `grove run PLAN` on the dashboard in a PTY.
fn dashboard(repo: &Repo, plan: &str) -> Tty {
    Tty::spawn(dashboard_cmd(repo, plan))
}

/// `grove run PLAN` for the dashboard, not yet started.
fn dashboard_cmd(repo: &Repo, plan: &str) -> CommandBuilder {
    let mut cmd = grove_run(repo, plan, &[]);
    cmd.env("GROVE_SERVER_IDLE", IDLE);
    cmd
}

fn grove(repo: &Repo, args: &[&str]) -> Output {
    repo.grove_cmd(args)
        .env("GROVE_SERVER_IDLE", IDLE)
        .output()
        .unwrap()
}

/// `grove run --detach PLAN`; the run's id.
fn start_detached(repo: &Repo, plan: &str) -> String {
    let path = repo.write_plan(plan);
    let out = grove(repo, &["run", path.to_str().unwrap(), "--detach"]);
    assert!(out.status.success(), "{}", text(&out));
    run_id(&out)
}

/// `grove ps`'s row of `run_id`, if it lists it.
fn ps_row(repo: &Repo, run_id: &str) -> Option<String> {
    let out = grove(repo, &["ps"]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.split_whitespace().next() == Some(run_id))
        .map(str::to_string)
}

/// Waits for `grove ps` to list `run_id` with `clients` clients attached (its last column).
fn wait_for_clients(repo: &Repo, run_id: &str, clients: usize) -> String {
    wait_for(
        &format!("grove ps to list {run_id} with {clients} clients"),
        || {
            let row = ps_row(repo, run_id)?;
            (row.split_whitespace().last() == Some(&clients.to_string())).then_some(row)
        },
    )
}

/// `grove stop` the run; `grove wait` says it was stopped (130) and every agent is gone.
fn stop(repo: &Repo, run_id: &str, agents: &[i32]) -> serde_json::Value {
    let out = grove(repo, &["stop", run_id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = grove(repo, &["wait", run_id]);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    for &pid in agents {
        assert!(!alive(pid), "agent {pid} survived the stop");
    }
    let results = repo.results(run_id);
    assert_eq!(results["interrupted"], true);
    results
}

#[test]
fn a_detached_runs_agents_go_on_and_attach_shows_their_panes_as_they_were() {
    let repo = Repo::new();
    let _server = server::StopOnDrop(repo.path().to_path_buf());
    let a = Agent::new(&repo, "a");
    let mut dash = dashboard(&repo, &plan(&[&a]));
    let shown = pane_with_line(&dash, "a", 5);
    let run_id = dash.screen().run_id().unwrap();
    let pid = a.started();
    assert_eq!(numbered(&shown, "a"), expected_lines("a", 5));

    // Detached (what a signal to the dashboard does); the agent goes on in the server.
    dash.signal(libc::SIGTERM);
    assert_detached(&mut dash, &run_id);
    a.assert_writing(pid);
    wait_for_clients(&repo, &run_id, 0);

    // Attached again: the pane as the first dashboard left it, line for line, then live.
    let mut again = Tty::spawn(grove_in_pty(&repo, &["attach", &run_id]));
    let attached = pane_with_line(&again, "a", 5);
    assert_eq!(
        attached, shown,
        "the attached pane differs from the one left"
    );
    again.wait_for("a running", |s| (s.status("a")? == "running").then_some(()));
    wait_for_clients(&repo, &run_id, 1);
    a.go_on();
    let live = pane_with_line(&again, "a", 8);
    assert_eq!(numbered(&live, "a"), expected_lines("a", 8));
    assert!(alive(pid), "the agent {pid} was restarted, not attached to");

    // The attached dashboard's stop stops the run.
    quit_stopping_agents(&mut again);
    let out = grove(&repo, &["wait", &run_id]);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(!alive(pid), "the agent {pid} survived the stop");
    let results = repo.results(&run_id);
    assert_eq!(task(&results, "a")["status"], "cancelled");
    assert_eq!(
        task(&results, "a")["attempts"].as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn a_flood_of_coloured_output_reaches_the_dashboard_through_the_server_in_order_and_whole() {
    let repo = Repo::new();
    let _server = server::StopOnDrop(repo.path().to_path_buf());
    // Many PTY reads' worth, each line coloured: the escape sequences must arrive as bytes,
    // not as text, and no chunk may be lost, doubled or reordered on the way.
    let lines = 30_000;
    let script = format!(
        "awk 'BEGIN {{ for (i = 1; i <= {lines}; i++) printf \"\\033[3%dmn line %d\\033[0m\\n\", i % 8, i }}'; exec sleep 600"
    );
    let plan = Plan::named("flood")
        .shell_task("n", &script)
        .timeout("600s")
        .to_toml();
    let mut dash = dashboard(&repo, &plan);
    let shown = pane_with_line(&dash, "n", lines);
    let numbered = numbered(&shown, "n");
    assert!(numbered.len() >= 10, "{shown:#?}");
    let first = lines + 1 - numbered.len();
    assert_eq!(
        numbered,
        (first..=lines)
            .map(|i| format!("n line {i}"))
            .collect::<Vec<_>>()
    );
    assert!(
        shown
            .iter()
            .all(|l| !l.contains("[3") && !l.contains("[0m")),
        "escape sequences shown as text: {shown:#?}"
    );
    quit_stopping_agents(&mut dash);
}

#[test]
fn a_hung_up_terminal_leaves_the_agents_writing_and_the_run_listed() {
    let repo = Repo::new();
    let _server = server::StopOnDrop(repo.path().to_path_buf());
    let a = Agent::new(&repo, "a");
    let (mut child, master) = start_in_pty(dashboard_cmd(&repo, &plan(&[&a])), ROWS, COLS);
    // Read on this thread, so that nothing else holds the terminal open when it goes.
    let mut reader = master.try_clone_reader().unwrap();
    let mut parser = vt100::Parser::new(ROWS, COLS, 0);
    let deadline = Instant::now() + DEADLINE;
    let mut buf = [0u8; 65536];
    let running = |parser: &vt100::Parser| {
        let screen = Screen::of(parser.screen());
        screen.status("a").as_deref() == Some("running")
            && screen
                .pane("a")
                .is_some_and(|p| p.lines.iter().any(|l| l.contains("a line 5")))
    };
    while !running(&parser) {
        assert!(
            Instant::now() < deadline,
            "the agent never ran:\n{}",
            Screen::of(parser.screen()).text()
        );
        // While an agent runs the dashboard's clock redraws every second, so this returns.
        let n = reader.read(&mut buf).unwrap();
        parser.process(&buf[..n]);
    }
    let run_id = Screen::of(parser.screen()).run_id().unwrap();
    let pid = a.started();
    wait_for_clients(&repo, &run_id, 1);

    // The terminal goes away mid-run: grove gets SIGHUP and detaches.
    drop(reader);
    drop(master);
    assert_eq!(child.wait().unwrap().exit_code(), 0);
    a.assert_writing(pid);
    let row = wait_for_clients(&repo, &run_id, 0);
    assert!(row.contains("1 running"), "{row}");
    a.go_on();
    a.assert_writing(pid);

    let results = stop(&repo, &run_id, &[pid]);
    assert_eq!(task(&results, "a")["status"], "cancelled");
}

#[test]
fn two_dashboards_see_the_same_output_and_one_cancel_shows_in_the_other() {
    let repo = Repo::new();
    let _server = server::StopOnDrop(repo.path().to_path_buf());
    let (a, b) = (Agent::new(&repo, "a"), Agent::new(&repo, "b"));
    let order = ["a", "b"];
    let mut first = dashboard(&repo, &plan(&[&a, &b]));
    pane_with_line(&first, "a", 5);
    pane_with_line(&first, "b", 5);
    let run_id = first.screen().run_id().unwrap();
    let (pid_a, pid_b) = (a.started(), b.started());

    // The newest live run of the repository, without naming it.
    let mut second = Tty::spawn(grove_in_pty(&repo, &["attach"]));
    pane_with_line(&second, "a", 5);
    pane_with_line(&second, "b", 5);
    assert_eq!(second.screen().run_id().as_deref(), Some(run_id.as_str()));
    wait_for_clients(&repo, &run_id, 2);

    a.go_on();
    for dash in [&first, &second] {
        let live = pane_with_line(dash, "a", 8);
        assert_eq!(numbered(&live, "a"), expected_lines("a", 8));
    }

    // The second cancels b; the first sees it.
    cancel(&mut second, "b", &order);
    first.wait_for("b cancelled in the first dashboard", |s| {
        (s.status("b")? == "cancelled" && s.status("a")? == "running").then_some(())
    });
    second.wait_for("b cancelled in the second dashboard", |s| {
        (s.status("b")? == "cancelled").then_some(())
    });
    wait_for("b's agent to be stopped", || (!alive(pid_b)).then_some(()));
    a.assert_writing(pid_a);

    // The first stops the run; the second closes with it, the run's code and summary shown.
    quit_stopping_agents(&mut first);
    assert_eq!(second.exit_code(), 130);
    second.assert_restored();
    let said = second.screen().text();
    assert!(
        said.contains(&format!(
            "grove: run {run_id}: 0 of 2 succeeded, 2 cancelled"
        )),
        "{said}"
    );
    assert!(!alive(pid_a), "a's agent {pid_a} survived the stop");
    let results = repo.results(&run_id);
    assert_eq!(task(&results, "a")["status"], "cancelled");
    assert_eq!(task(&results, "b")["status"], "cancelled");
}

/// The uid and gid of `nobody`.
const NOBODY: u32 = 65534;

/// `grove ARGS` in the repository as the user `nobody`, with a HOME of its own whose git config
/// trusts the repository (another user's) so that git lets it in.
fn grove_as_nobody(repo: &Repo, home: &Path, args: &[&str]) -> Output {
    Command::new("setpriv")
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            GROVE,
        ])
        .args(args)
        .current_dir(repo.path())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap()
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_client_of_another_user_and_an_opened_socket_folder_are_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: only root can run a client as another user");
        return;
    }
    let repo = Repo::new();
    let _server = server::StopOnDrop(repo.path().to_path_buf());
    let a = Agent::new(&repo, "a");
    let run_id = start_detached(&repo, &plan(&[&a]));
    let pid = a.started();
    let root = std::fs::canonicalize(repo.path()).unwrap();
    let folder = root.join(".grove/server");
    let socket = folder.join("server.sock");
    let log = folder.join("server.log");

    // nobody can reach the repository (not its records: those stay private).
    set_mode(repo.path(), 0o755);
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".gitconfig"), "[safe]\n\tdirectory = *\n").unwrap();
    set_mode(home.path(), 0o755);

    // The socket's folder keeps nobody out: the client says it is another user's.
    let out = grove_as_nobody(&repo, home.path(), &["ps"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains(&format!(
            "{} belongs to uid 0, not to you (uid {NOBODY}): it holds another user's grove \
             server socket, which you may not use: refused",
            folder.display()
        )),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "{}", text(&out));

    // The folder given to nobody and the socket opened by mistake: both ends check the other's
    // uid, and neither goes on.
    std::os::unix::fs::chown(&folder, Some(NOBODY), Some(NOBODY)).unwrap();
    set_mode(&socket, 0o666);
    let out = grove_as_nobody(&repo, home.path(), &["attach", "--headless", &run_id]);
    std::os::unix::fs::chown(&folder, Some(0), Some(0)).unwrap();
    set_mode(&socket, 0o600);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains(&format!(
            "the grove server socket {} belongs to uid 0, not to you (uid {NOBODY}): refused",
            socket.display()
        )),
        "{err}"
    );
    wait_explained(
        "the server to log its refusal",
        || {
            std::fs::read_to_string(&log)
                .ok()?
                .contains("refused a client: this grove server belongs to uid 0; uid 65534 may not use it")
                .then_some(())
        },
        || std::fs::read_to_string(&log).unwrap_or_default(),
    );

    // The socket's folder opened to others by its owner: refused, with what to do.
    set_mode(&folder, 0o755);
    for args in [&["ps"][..], &["attach", "--headless", &run_id]] {
        let out = grove(&repo, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            err.contains(&format!(
                "{} is not private to you (its mode is 0755)",
                folder.display()
            )) && err.contains("chmod 700"),
            "{args:?}: {err}"
        );
    }
    set_mode(&folder, 0o700);

    // Nothing of it touched the run.
    a.assert_writing(pid);
    assert!(ps_row(&repo, &run_id).is_some());
    let results = stop(&repo, &run_id, &[pid]);
    assert_eq!(task(&results, "a")["status"], "cancelled");
}

#[test]
fn attach_over_ssh_shows_the_remote_run_cancels_a_task_and_detaches() {
    let sshd = Sshd::start();
    let repo = Repo::new();
    let _server = server::StopOnDrop(repo.path().to_path_buf());
    let (a, b) = (Agent::new(&repo, "a"), Agent::new(&repo, "b"));
    let order = ["a", "b"];
    let run_id = start_detached(&repo, &plan(&[&a, &b]));
    let (pid_a, pid_b) = (a.started(), b.started());

    // The local side needs no repository: the remote one is named.
    let root = std::fs::canonicalize(repo.path()).unwrap();
    let mut cmd = CommandBuilder::new(GROVE);
    cmd.args(["attach", "--ssh", DESTINATION]);
    for option in sshd.options() {
        cmd.args(["--ssh-option", &option]);
    }
    cmd.args(["--remote-grove", GROVE, "--repo"]);
    cmd.arg(&root);
    cmd.arg(&run_id);
    cmd.cwd(repo.home.path());
    cmd.env("HOME", repo.home.path());
    cmd.env("XDG_CONFIG_HOME", repo.home.path());
    let mut dash = Tty::spawn(cmd);
    pane_with_line(&dash, "a", 5);
    pane_with_line(&dash, "b", 5);
    assert_eq!(dash.screen().run_id().as_deref(), Some(run_id.as_str()));
    wait_for_clients(&repo, &run_id, 1);

    // Live output crosses ssh.
    a.go_on();
    let live = pane_with_line(&dash, "a", 8);
    assert_eq!(numbered(&live, "a"), expected_lines("a", 8));

    // The new-task form offers the agents of the remote run, found on its PATH.
    let form = dash.peek_new_task_form();
    assert!(form.contains("shell ✓"), "{form}");

    // A cancel from the remote dashboard reaches the run.
    cancel(&mut dash, "b", &order);
    dash.wait_for("b cancelled", |s| {
        (s.status("b")? == "cancelled" && s.status("a")? == "running").then_some(())
    });
    wait_for("b's agent to be stopped", || (!alive(pid_b)).then_some(()));
    let row = ps_row(&repo, &run_id).expect("the run is still live");
    assert!(
        row.contains("1 running") && row.contains("1 cancelled"),
        "{row}"
    );

    // Detached: the other agent goes on.
    dash.signal(libc::SIGTERM);
    assert_detached(&mut dash, &run_id);
    wait_for_clients(&repo, &run_id, 0);
    a.assert_writing(pid_a);

    let results = stop(&repo, &run_id, &[pid_a]);
    assert_eq!(task(&results, "a")["status"], "cancelled");
    assert_eq!(task(&results, "b")["status"], "cancelled");
}

/// The size the agent last said it has (`size ROWS COLS` lines), as its pane in `dash` shows.
fn said_size(screen: &Screen) -> Option<String> {
    let pane = screen.pane("a")?;
    let said = pane.lines.iter().rev().find(|l| l.starts_with("size "))?;
    Some(said.trim().to_string())
}

/// Two dashboards of different sizes on one run: the agent's terminal takes the size of the one
/// that attached last, and a key pressed in the other gives it that one's size back (the
/// dashboard used last wins, as tmux's `window-size latest`).
#[test]
fn the_dashboard_used_last_gives_the_panes_its_sizes() {
    let repo = Repo::new();
    let _server = server::StopOnDrop(repo.path().to_path_buf());
    let script = "trap 'echo \"size $(stty size)\"' WINCH; echo \"size $(stty size)\"; \
                  while :; do sleep 0.1; done";
    let plan = Plan::named("sizes")
        .shell_task("a", script)
        .timeout("600s")
        .to_toml();
    let mut big = Tty::spawn_sized(dashboard_cmd(&repo, &plan), 40, 160);
    // The dashboard's pane size, once the agent has it (a first resize follows its start).
    let wanted = |s: &Screen| {
        let pane = s.pane("a")?;
        let size = format!("size {} {}", pane.rows, pane.cols);
        (said_size(s)? == size).then_some(size)
    };
    let big_size = big.wait_for("the agent at the big dashboard's pane size", wanted);
    let run_id = big.screen().run_id().unwrap();

    let small = Tty::spawn_sized(grove_in_pty(&repo, &["attach", &run_id]), 24, 80);
    let small_size = small.wait_for("the agent at the small dashboard's pane size", wanted);
    assert_ne!(small_size, big_size);
    big.wait_for("the small size in the big dashboard too", |s| {
        (said_size(s)? == small_size).then_some(())
    });

    // A key in the big one (j: the next task; there is only one) takes the size back.
    big.send(b"j");
    big.wait_for("the big size again", |s| {
        (said_size(s)? == big_size).then_some(())
    });
    small.wait_for("the big size in the small dashboard", |s| {
        (said_size(s)? == big_size).then_some(())
    });
    let ps = grove(&repo, &["stop", &run_id]);
    assert!(
        ps.status.success(),
        "{}",
        String::from_utf8_lossy(&ps.stderr)
    );
}
