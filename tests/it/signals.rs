//! Signals end to end: SIGHUP stops the run like SIGINT and SIGTERM (exit 129), a second signal
//! kills agents at once, with agents that ignore SIGTERM and have grandchildren; and Ctrl-Z in
//! the dashboard stops the agents and their timeout clocks until `fg`, in a real shell with job
//! control in a real PTY.

use crate::support::*;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A plan whose agent ignores SIGTERM and leaves a grandchild; its pids go to the agent log.
fn stubborn_plan(repo: &Repo, kill_grace: &str) -> String {
    Plan::named("sig")
        .default("kill_grace", kill_grace)
        .shell_task(
            "stubborn",
            &format!(
                r#"trap "" TERM; echo "stubborn $GROVE_ATTEMPT $$" >> {log}; sleep 300 & echo "child $GROVE_ATTEMPT $!" >> {log}; wait"#,
                log = agent_log(repo).display(),
            ),
        )
        .shell_task("queued", "true")
        .depends_on(&["stubborn"])
        .to_toml()
}

/// grove running the stubborn plan, once the agent's grandchild runs; with the run id.
fn start_stubborn(repo: &Repo, kill_grace: &str) -> (Grove, String) {
    let grove = spawn_run(repo, &stubborn_plan(repo, kill_grace));
    let run_id = the_run(repo);
    wait_for("the grandchild to start", || {
        (logged_pids(&agent_log(repo)).len() == 2).then_some(())
    });
    (grove, run_id)
}

fn wait_exit(child: &mut std::process::Child) -> i32 {
    wait_for("grove to exit", || child.try_wait().unwrap())
        .code()
        .unwrap_or(-1)
}

fn send(child: &std::process::Child, signal: i32) {
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, signal) };
}

fn assert_stopped_cleanly(repo: &Repo, run_id: &str) {
    assert_records_valid(repo, run_id);
    let results = repo.results(run_id);
    assert_eq!(task(&results, "stubborn")["status"], "cancelled");
    assert_eq!(task(&results, "queued")["status"], "cancelled");
    assert_eq!(results["interrupted"], true);
    let last = journal(repo, run_id).pop().unwrap();
    assert_eq!(last["entry"], "run_finished");
    assert_eq!(last["interrupted"], true);
    for pid in logged_pids(&agent_log(repo)) {
        assert!(!alive(pid), "agent process {pid} survived");
    }
}

#[test]
fn sighup_stops_every_agent_writes_the_records_and_exits_129() {
    let repo = Repo::new();
    let (mut grove, run_id) = start_stubborn(&repo, "300ms");
    send(&grove, libc::SIGHUP);
    assert_eq!(wait_exit(&mut grove), 129);
    assert_stopped_cleanly(&repo, &run_id);
}

#[test]
fn a_second_signal_kills_the_agents_without_waiting_for_the_grace_period() {
    let repo = Repo::new();
    // An hour of grace: only the second signal can end this run in time.
    let (mut grove, run_id) = start_stubborn(&repo, "1h");
    send(&grove, libc::SIGINT);
    wait_for("grove to start stopping", || {
        journal(&repo, &run_id)
            .iter()
            .any(|l| l["entry"] == "stopping")
            .then_some(())
    });
    send(&grove, libc::SIGINT);
    assert_eq!(wait_exit(&mut grove), 130);
    assert_stopped_cleanly(&repo, &run_id);
    let audit = repo.audit(&run_id);
    let exit = audit
        .iter()
        .find(|l| l["event"] == "exit" && l["task"] == "stubborn")
        .expect("the agent's exit is logged");
    assert_eq!(exit["code"], 128 + libc::SIGKILL);
}

/// A terminal with an interactive bash (job control on) in a real PTY; everything it prints is
/// collected.
struct Shell {
    writer: Box<dyn Write + Send>,
    output: Arc<Mutex<Vec<u8>>>,
    _child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Shell {
    fn start(repo: &Repo) -> Shell {
        let pair = portable_pty::native_pty_system()
            .openpty(portable_pty::PtySize {
                rows: 40,
                cols: 150,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = portable_pty::CommandBuilder::new("bash");
        cmd.args(["--norc", "--noprofile", "-i"]);
        cmd.cwd(repo.path());
        cmd.env("HOME", repo.home.path());
        cmd.env("XDG_CONFIG_HOME", repo.home.path());
        cmd.env("GIT_CONFIG_NOSYSTEM", "1");
        cmd.env("TERM", "xterm-256color");
        cmd.env("PS1", "$ ");
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Shell {
            writer: pair.master.take_writer().unwrap(),
            output,
            _child: child,
            _master: pair.master,
        }
    }

    fn type_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    fn printed(&self) -> String {
        self.printed_since(0)
    }

    /// How many bytes the terminal has shown so far: an offset for `printed_since`.
    fn shown(&self) -> usize {
        self.output.lock().unwrap().len()
    }

    /// What the terminal showed after the first `at` bytes (a byte offset, so that a character
    /// cut in two by an earlier look cannot shift it).
    fn printed_since(&self, at: usize) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()[at..]).into_owned()
    }
}

/// The state letter of a process (R, S, T, ...), from /proc.
fn state(pid: i32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .unwrap_or("gone")
        .to_string()
}

/// The processes of group `pgid`: pid, state letter and command name.
fn group_states(pgid: i32) -> Vec<(i32, String, String)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().parse::<i32>().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let comm = stat[stat.find('(')? + 1..stat.rfind(')')?].to_string();
            let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
            (fields.get(2)?.parse::<i32>().ok()? == pgid)
                .then(|| (pid, fields[0].to_string(), comm))
        })
        .collect()
}

/// Every process of group `pgid` is stopped (T), waits in D for a stopped child (dash runs
/// commands with vfork, and a vfork parent waits uninterruptibly until its child execs), or has
/// already ended and waits to be reaped by its stopped parent (Z).
fn group_stopped(pgid: i32) -> bool {
    let states: Vec<String> = group_states(pgid).into_iter().map(|(_, s, _)| s).collect();
    states.contains(&"T".to_string())
        && states.iter().all(|s| matches!(s.as_str(), "T" | "D" | "Z"))
}

/// What a failed wait in the Ctrl-Z test saw: grove's state, the agent's group, the journal,
/// and the end of what the terminal showed.
fn explain(repo: &Repo, run_id: &str, grove: i32, groups: &[i32], shell: &Shell) -> String {
    let printed = shell.printed();
    let tail: String = printed
        .chars()
        .rev()
        .take(1500)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!(
        "grove {grove}: {}\ngroups: {:?}\njournal: {:#?}\nterminal (last 1500 chars): {tail:?}",
        state(grove),
        groups
            .iter()
            .map(|&g| (g, group_states(g)))
            .collect::<Vec<_>>(),
        journal(repo, run_id),
    )
}

#[test]
fn ctrl_z_stops_the_agents_and_their_clocks_until_fg() {
    let repo = Repo::new();
    let log = agent_log(&repo);
    // The agent of `slow`, and the check of `checked` (its agent is done at once), run until
    // the test lets them go, which happens only while everything is suspended, so Ctrl-Z
    // always finds them running. Their timeout is 5 s; suspended for longer than that, they
    // still must not time out, because the clock stops with them.
    let go = repo.home.path().join("go");
    let plan = Plan::named("tstp")
        .shell_task(
            "slow",
            &format!(
                r#"echo "slow $GROVE_ATTEMPT $$" >> {log}; {wait} echo done > done.txt"#,
                log = log.display(),
                wait = sh_wait_for_file(&go),
            ),
        )
        .timeout("5s")
        .shell_task("checked", "echo checked > checked.txt")
        .timeout("5s")
        .with(
            "check",
            format!(
                r#"echo "check $GROVE_ATTEMPT $$" >> {log}; {wait}"#,
                log = log.display(),
                wait = sh_wait_for_file(&go),
            ),
        )
        .to_toml();
    let plan_path = repo.home.path().join("plan.toml");
    std::fs::write(&plan_path, plan).unwrap();
    let mut shell = Shell::start(&repo);
    wait_for("the shell prompt", || {
        shell.printed().contains("$ ").then_some(())
    });
    shell.type_bytes(format!("{GROVE} run {} --exit-when-done\r", plan_path.display()).as_bytes());
    let run_id = the_run(&repo);
    let started = |what: &str| {
        lines(&log)
            .iter()
            .find(|l| l.starts_with(&format!("{what} ")))
            .and_then(|l| l.split_whitespace().nth(2)?.parse::<i32>().ok())
    };
    let agent = wait_for("the agent to start", || started("slow"));
    let check = wait_for("the check to start", || started("check"));
    // The process that runs the run: the repository's grove server (the dashboard is its client).
    let grove: i32 = journal(&repo, &run_id)[0]["pid"].as_i64().unwrap() as i32;
    // Ctrl-Z is a key only once the dashboard has the terminal in raw mode.
    wait_for("the dashboard", || {
        let printed = shell.printed();
        (printed.contains("\u{1b}[?1049h") && printed.contains(" grove ")).then_some(())
    });

    shell.type_bytes(b"\x1a");
    wait_explained(
        "the agent and the check to stop",
        || (group_stopped(agent) && group_stopped(check)).then_some(()),
        || explain(&repo, &run_id, grove, &[agent, check], &shell),
    );
    wait_explained(
        "the shell to take the terminal back",
        || shell.printed().contains("Stopped").then_some(()),
        || explain(&repo, &run_id, grove, &[agent, check], &shell),
    );
    // The server only stopped the agents: it goes on serving (another dashboard, grove ps).
    assert_ne!(state(grove), "T", "the grove server itself was stopped");
    // Longer than the timeout, while everything is stopped.
    std::thread::sleep(Duration::from_secs(6));
    assert!(group_stopped(agent) && group_stopped(check));
    std::fs::write(&go, "").unwrap();
    let before_fg = shell.shown();

    shell.type_bytes(b"fg\r");
    // The dashboard ends (--exit-when-done) with its farewell, which names the results; then
    // grove exits and the shell prints its prompt. Only then is anything typed: until grove has
    // exited, its keyboard reader may still take (and drop) what comes in.
    wait_explained(
        "the dashboard to finish and the shell's prompt after it",
        || {
            let printed = shell.printed_since(before_fg);
            let farewell = printed.find("grove show ")?;
            printed[farewell..].contains("$ ").then_some(())
        },
        || explain(&repo, &run_id, grove, &[agent, check], &shell),
    );
    let before_echo = shell.shown();
    // `fg` returned when the dashboard had finished (--exit-when-done); it reports the exit
    // status of the job it continued (typed as an expression, so the echoed command line
    // itself does not match).
    shell.type_bytes(b"echo \"exit status $((0+$?))\"\r");
    let status = wait_explained(
        "the exit status",
        || {
            let printed = shell.printed_since(before_echo);
            let at = printed.rfind("exit status ")?;
            let digits: String = printed[at + 12..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            (!digits.is_empty() && !printed[at + 12..].starts_with("$((")).then_some(digits)
        },
        || explain(&repo, &run_id, grove, &[agent, check], &shell),
    );
    assert_eq!(status, "0", "{}", shell.printed_since(before_fg));
    let printed = shell.printed();
    // Back in the foreground, the dashboard took the screen again: it entered the alternate
    // screen once at start and once more after fg. (Counted over the whole stream, so no byte
    // offset into the lossily decoded output is involved.)
    assert!(
        printed.matches("\u{1b}[?1049h").count() >= 2,
        "no alternate screen after fg"
    );
    let results = repo.results(&run_id);
    let slow = task(&results, "slow");
    assert_eq!(slow["status"], "succeeded", "{slow:#}");
    assert_eq!(slow["attempts"].as_array().unwrap().len(), 1);
    let checked = task(&results, "checked");
    assert_eq!(checked["status"], "succeeded", "{checked:#}");
    assert_eq!(checked["attempts"].as_array().unwrap().len(), 1);
    let paused: Vec<bool> = repo
        .audit(&run_id)
        .iter()
        .filter(|l| l["event"] == "paused")
        .map(|l| l["paused"].as_bool().unwrap())
        .collect();
    assert_eq!(paused, [true, false]);
    assert!(!alive(agent) && !alive(check));
}
