//! The terminal around the dashboard: signals, panics, the terminal going away, and input that
//! must not block (floods, Ctrl-C while attached, big pastes).

use super::*;

/// grove in the dashboard gets `signal` while an agent (that ignores SIGTERM) runs: the
/// dashboard detaches (the terminal restored, the way back printed) and the agent goes on in
/// the grove server, until `grove stop` stops it as the dashboard's stop would.
fn signal_while_running(signal: i32, name: &str) {
    let repo = Repo::new();
    let pid_file = repo.home.path().join("agent.pid");
    let mut dash = Tty::run(
        &repo,
        &format!(
            "name = \"sig\"\n{}[[tasks]]\nname = \"quick\"\nagent = \"shell\"\nprompt = \"echo done\"\n",
            stubborn_task("stubborn", &pid_file)
        ),
        &[],
    );
    dash.wait_for("stubborn running, quick succeeded", |s| {
        (s.status("stubborn")? == "running" && s.status("quick")? == "succeeded").then_some(())
    });
    let run_id = dash.screen().run_id().unwrap();
    let sleeper = wait_for_pid(&pid_file);
    dash.signal(signal);
    assert_detached(&mut dash, &run_id);
    assert!(alive(sleeper), "{name} stopped the agent's child {sleeper}");
    let ps = repo.grove(&["ps"]);
    assert!(text(&ps).contains(&run_id), "{}", text(&ps));

    let stop = repo.grove(&["stop", &run_id]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop));
    let wait = repo.grove(&["wait", &run_id]);
    assert_eq!(wait.status.code(), Some(130), "{}", text(&wait));
    assert!(!alive(sleeper), "agent's child {sleeper} survived the stop");
    let results = repo.results(&run_id);
    assert_eq!(results["interrupted"], true);
    assert_eq!(task(&results, "stubborn")["status"], "cancelled");
    assert_eq!(task(&results, "quick")["status"], "succeeded");
}

#[test]
fn sigterm_detaches_and_the_agents_keep_running() {
    signal_while_running(libc::SIGTERM, "SIGTERM");
}

#[test]
fn sighup_detaches_and_the_agents_keep_running() {
    signal_while_running(libc::SIGHUP, "SIGHUP");
}

#[test]
fn sigint_detaches_and_the_agents_keep_running() {
    signal_while_running(libc::SIGINT, "SIGINT");
}

#[test]
fn sighup_while_the_summary_is_shown_detaches_the_dashboard() {
    let repo = Repo::new();
    let mut dash = Tty::run(
        &repo,
        &Plan::named("done")
            .shell_task("quick", "echo done")
            .to_toml(),
        &[],
    );
    dash.wait_for("the summary", |s| s.contains("run finished").then_some(()));
    let run_id = dash.screen().run_id().unwrap();

    // Nothing changes now, so grove sleeps: no clock, no polling. (A 16 ms poll would wake it
    // over a hundred times in this window; a few wakeups may come from idle worker threads of
    // the runtime ending.)
    let before = context_switches(dash.pid());
    std::thread::sleep(Duration::from_secs(2));
    let woke = context_switches(dash.pid()) - before;
    assert!(
        woke <= 10,
        "grove woke {woke} times in 2 s with nothing to do"
    );

    dash.signal(libc::SIGHUP);
    assert_eq!(dash.exit_code(), 0);
    dash.assert_restored();
    let results = repo.results(&run_id);
    assert_eq!(results["interrupted"], false, "the run had ended by itself");
    assert_eq!(task(&results, "quick")["status"], "succeeded");
}

#[test]
fn exit_when_done_closes_by_itself_with_the_headless_exit_code() {
    let repo = Repo::new();
    let mut dash = Tty::run(
        &repo,
        &Plan::named("auto")
            .shell_task("good", "echo fine")
            .shell_task("bad", "echo broken; exit 3")
            .to_toml(),
        &["--exit-when-done"],
    );
    assert_eq!(dash.exit_code(), 1);
    dash.assert_restored();
    let results = repo.results(&repo.only_run_id());
    assert_eq!(task(&results, "good")["status"], "succeeded");
    assert_eq!(task(&results, "bad")["status"], "failed");
    assert_eq!(task(&results, "bad")["exit_code"], 3);
}

#[test]
fn keys_stay_responsive_while_agents_flood_their_terminals() {
    const FLOOD: &str =
        r#"yes "$GROVE_TASK floods its terminal with a long line of text, again and again""#;
    let repo = Repo::new();
    let order = ["one", "two", "three"];
    let mut dash = Tty::run(
        &repo,
        &Plan::named("flood")
            .set("max_parallel", 3)
            .shell_task("one", FLOOD)
            .shell_task("two", FLOOD)
            .shell_task("three", FLOOD)
            .to_toml(),
        &[],
    );
    dash.wait_for("the three flooding", |s| {
        order
            .iter()
            .all(|n| {
                s.pane(n)
                    .is_some_and(|p| p.lines.iter().any(|l| l.contains("floods its terminal")))
            })
            .then_some(())
    });
    // Several megabytes of output in flight, then keys.
    let run_dir = repo.run_dir(&dash.screen().run_id().unwrap());
    let logged = || -> u64 {
        order
            .iter()
            .filter_map(|n| {
                std::fs::metadata(run_dir.join(format!("agents/{n}/attempt-1.log"))).ok()
            })
            .map(|m| m.len())
            .sum()
    };
    dash.wait_for("8 MB of output", |_| (logged() > 8 << 20).then_some(()));
    select(&mut dash, "three", &order);
    select(&mut dash, "one", &order);
    dash.send(b"z");
    dash.wait_for("one zoomed", |s| {
        (!s.contains(" tasks ")).then(|| s.pane("one")).flatten()
    });
    dash.send(b"?");
    dash.wait_for("the help", |s| s.contains("help: every key").then_some(()));
    dash.send(b"\x1b");
    dash.wait_for("help closed", |s| {
        (!s.contains("help: every key")).then_some(())
    });
    quit_stopping_agents(&mut dash);
}

/// Runs this test binary's test `name` in a PTY with `role` set in its environment: the tests
/// below play two roles, the child making a panic happen in dashboard mode on a real terminal.
fn child_in_pty(name: &str, role: &str) -> Tty {
    let mut cmd = CommandBuilder::new(std::env::current_exe().unwrap());
    let name = test_name(module_path!(), name);
    cmd.args(["--exact", &name, "--nocapture", "--test-threads=1"]);
    cmd.env(role, "1");
    Tty::spawn(cmd)
}

/// Asserts the terminal was restored before `message` was printed, so people can read it.
fn restored_before(tty: &Tty, message: &str) {
    tty.assert_restored();
    let out = tty.out.0.lock().unwrap();
    let raw = String::from_utf8_lossy(&out.raw);
    let left = raw.rfind("\x1b[?1049l").unwrap();
    let at = raw
        .find(message)
        .unwrap_or_else(|| panic!("{message:?} not in the output:\n{raw}"));
    assert!(
        left < at,
        "the terminal was restored only after {message:?}"
    );
}

/// The child enters dashboard mode and panics with the session forgotten, so only the panic
/// hook can restore the terminal.
#[test]
fn a_panic_in_dashboard_mode_restores_the_terminal() {
    const ROLE: &str = "GROVE_E2E_PANIC_CHILD";
    if std::env::var_os(ROLE).is_some() {
        let session = grove::ui::TerminalSession::enter().unwrap();
        std::mem::forget(session);
        panic!("deliberate panic inside dashboard mode");
    }
    let mut child = child_in_pty("a_panic_in_dashboard_mode_restores_the_terminal", ROLE);
    assert_ne!(child.exit_code(), 0, "the child test was meant to panic");
    restored_before(&child, "deliberate panic inside dashboard mode");
}

/// The child runs a real plan on the dashboard while another thread panics: the terminal is
/// restored at once, and the dashboard stops the run (agents stopped, results written) instead
/// of drawing on a terminal that is no longer its own.
#[test]
fn a_panic_on_another_thread_restores_the_terminal_and_stops_the_run() {
    const ROLE: &str = "GROVE_E2E_BACKGROUND_PANIC_CHILD";
    if std::env::var_os(ROLE).is_some() {
        background_panic_child();
        println!("the child saw the run stopped");
        return;
    }
    let mut child = child_in_pty(
        "a_panic_on_another_thread_restores_the_terminal_and_stops_the_run",
        ROLE,
    );
    assert_eq!(child.exit_code(), 0, "the child's checks failed");
    restored_before(&child, "deliberate panic on a background thread");
    let out = child.out.0.lock().unwrap();
    assert!(String::from_utf8_lossy(&out.raw).contains("the child saw the run stopped"));
}

fn background_panic_child() {
    use grove::engine::api::Command;
    let repo = Repo::new();
    let pid_file = repo.home.path().join("agent.pid");
    // The engine runs in this process, without the test's user config: the plan lets the
    // agent write its pid file.
    let plan = format!(
        "name = \"bg\"\n[defaults]\nsandbox_write = [{:?}]\n{}",
        repo.home.path().display().to_string(),
        stubborn_task("sleeper", &pid_file)
    );
    let (plan, target) = engine::load(&repo, &plan);
    let pid_path = pid_file.clone();
    let outcome = engine::runtime().block_on(async move {
        let (front, engine) = engine::start(plan, target, (24, 80));
        let commands = front.commands.clone();
        // Once the agent runs, the dashboard is on the terminal.
        std::thread::spawn(move || {
            wait_for_pid(&pid_path);
            panic!("deliberate panic on a background thread");
        });
        let outcome = grove::ui::run(front, grove::ui::DashboardOptions::default()).await;
        // What the CLI does when its front end is done, however it ended.
        commands.send(Command::Shutdown).unwrap();
        engine.await.unwrap();
        outcome
    });
    let error = outcome
        .expect_err("the dashboard should stop after a panic")
        .to_string();
    assert!(error.contains("internal error"), "{error}");
    let sleeper = wait_for_pid(&pid_file);
    assert!(!alive(sleeper), "the agent's sleep {sleeper} survived");
    let results = repo.results(&repo.only_run_id());
    assert_eq!(results["interrupted"], true);
    assert_eq!(task(&results, "sleeper")["status"], "cancelled");
}

#[test]
fn ctrl_c_while_attached_goes_to_the_agent_not_to_grove() {
    let repo = Repo::new();
    let mut dash = Tty::run(
        &repo,
        &Plan::named("interrupt")
            .shell_task(
                "patient",
                "trap 'echo agent got SIGINT; exit 0' INT; echo ready; while :; do sleep 0.1; done",
            )
            .to_toml(),
        &[],
    );
    // Running, not only printing: output can reach the pane before the status does, and only
    // a running agent can be attached to.
    dash.wait_for("the agent ready and running", |s| {
        (s.status("patient")? == "running"
            && s.pane("patient")?.lines.iter().any(|l| l.contains("ready")))
        .then_some(())
    });
    dash.send(b"i");
    dash.wait_for("attached", |s| {
        s.contains("ATTACHED to patient").then_some(())
    });
    dash.send(b"\x03");
    dash.wait_for("the agent interrupted, and grove still there", |s| {
        (s.status("patient")? == "succeeded"
            && s.pane("patient")?
                .lines
                .iter()
                .any(|l| l.contains("agent got SIGINT")))
        .then_some(())
    });
    dash.send(CTRL_BRACKET);
    dash.send(b"q");
    assert_eq!(dash.exit_code(), 0);
    dash.assert_restored();
}

#[test]
fn a_big_paste_into_an_agent_that_does_not_read_blocks_nothing() {
    let repo = Repo::new();
    let mut dash = Tty::run(
        &repo,
        &Plan::named("paste")
            .default("kill_grace", "500ms")
            .shell_task("deaf", "echo not reading; sleep 600")
            .shell_task("other", "echo other; sleep 600")
            .to_toml(),
        &[],
    );
    let order = ["deaf", "other"];
    dash.wait_for("deaf running", |s| {
        s.pane("deaf")?
            .lines
            .iter()
            .any(|l| l.contains("not reading"))
            .then_some(())
    });
    dash.send(b"i");
    dash.wait_for("attached", |s| s.contains("ATTACHED to deaf").then_some(()));
    // Far more than a terminal's input queue holds while nobody reads it.
    let mut paste = b"\x1b[200~".to_vec();
    for i in 0..4000 {
        paste.extend_from_slice(format!("pasted line {i}\r").as_bytes());
    }
    paste.extend_from_slice(b"\x1b[201~");
    dash.send(&paste);
    dash.send(CTRL_BRACKET);
    dash.wait_for("detached", |s| (!s.contains("ATTACHED")).then_some(()));
    // The run goes on: keys work and the engine still cancels.
    select(&mut dash, "other", &order);
    select(&mut dash, "deaf", &order);
    dash.send(b"c");
    dash.wait_for("the cancel question", |s| {
        s.contains("Cancel deaf?").then_some(())
    });
    dash.send(b"y");
    dash.wait_for("deaf cancelled", |s| {
        (s.status("deaf")? == "cancelled").then_some(())
    });
    quit_stopping_agents(&mut dash);
}

#[test]
fn closing_the_terminal_leaves_the_agents_running() {
    let repo = Repo::new();
    let pid_file = repo.home.path().join("agent.pid");
    let plan = format!(
        "name = \"hangup\"\n{}",
        stubborn_task("stubborn", &pid_file)
    );
    let (mut child, master) = start_in_pty(grove_run(&repo, &plan, &[]), ROWS, COLS);
    // Read (on this thread, so nothing else holds the terminal open) until the agent runs.
    let mut reader = master.try_clone_reader().unwrap();
    let mut parser = vt100::Parser::new(ROWS, COLS, 0);
    let deadline = Instant::now() + DEADLINE;
    let mut buf = [0u8; 65536];
    while !(Screen::of(parser.screen()).status("stubborn").as_deref() == Some("running")
        && pid_file.exists())
    {
        assert!(Instant::now() < deadline, "the agent never ran");
        // While an agent runs the dashboard's clock redraws every second, so this returns.
        let n = reader.read(&mut buf).unwrap();
        parser.process(&buf[..n]);
    }
    let run_id = Screen::of(parser.screen()).run_id().unwrap();
    let sleeper = wait_for_pid(&pid_file);

    // The terminal goes away: grove gets SIGHUP and can no longer draw; it detaches.
    drop(reader);
    drop(master);
    let status = child.wait().unwrap();
    assert_eq!(status.exit_code(), 0);
    assert!(alive(sleeper), "the agent's sleep {sleeper} was stopped");
    // The agent still runs in the grove server, and stops with the run.
    let stop = repo.grove(&["stop", &run_id]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop));
    assert_eq!(repo.grove(&["wait", &run_id]).status.code(), Some(130));
    assert!(
        !alive(sleeper),
        "the agent's sleep {sleeper} survived the stop"
    );
    let results = repo.results(&run_id);
    assert_eq!(results["interrupted"], true);
    assert_eq!(task(&results, "stubborn")["status"], "cancelled");
}
