//! The dashboard end to end: the real grove binary in a real PTY (200x50), its screen read
//! through a terminal emulator (vt100), driven by keys, mouse, resizes and signals as a person
//! (or their terminal) would. Every wait polls the emulated screen up to a deadline.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::tty::*;
use crate::support::*;
use portable_pty::CommandBuilder;

const CTRL_BRACKET: &[u8] = b"\x1d";
const END: &[u8] = b"\x1b[F";

/// Context switches of every thread of `pid` so far: how often it woke up.
fn context_switches(pid: i32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// A `[[tasks]]` entry whose shell agent ignores SIGTERM and waits on a `sleep` whose pid it
/// writes to `pid_file`: only a group SIGKILL after the grace period ends it.
fn stubborn_task(name: &str, pid_file: &Path) -> String {
    let pid = pid_file.display();
    format!(
        "[[tasks]]\nname = \"{name}\"\nagent = \"shell\"\nkill_grace = \"500ms\"\nprompt = '''trap \"\" TERM; sleep 600 & echo $! > {pid}.tmp; mv {pid}.tmp {pid}; wait'''\n"
    )
}

fn status_key(word: &str) -> String {
    word.replace(' ', "_")
}

#[test]
fn the_dashboard_cancels_retries_merges_and_attaches() {
    let repo = Repo::new();
    let marker = repo.home.path().join("marker");
    let hang_pid = repo.home.path().join("hang.pid");
    let order = ["quick", "flaky", "hang", "waiter"];
    let mut dash = Tty::run(
        &repo,
        &Plan::named("live")
            .default("kill_grace", "1s")
            .shell_task("quick", "echo quick work > quick.txt; echo quick done")
            .shell_task("flaky", &format!("if [ -e '{marker}' ]; then echo flaky ok; exit 0; fi; echo 'flaky: no marker yet'; exit 1", marker = marker.display()))
            .shell_task("hang", &format!("sleep 600 & echo $! > '{pid}.tmp'; mv '{pid}.tmp' '{pid}'; echo hanging; wait", pid = hang_pid.display()))
            .shell_task("waiter", r#"printf 'your name? '; read answer; echo "got $answer"; [ "$answer" = hello ]"#)
            .to_toml(),
        &[],
    );

    // Every task with its status word, agent and attempt.
    dash.wait_for(
        "quick succeeded, flaky failed, hang and waiter running",
        |s| {
            let st = |n| s.status(n);
            (st("quick")? == "succeeded"
                && st("flaky")? == "failed"
                && st("hang")? == "running"
                // Its prompt may already count as waiting for input on a slow machine.
            && matches!(st("waiter")?.as_str(), "running" | "waiting"))
            .then_some(())
        },
    );
    let screen = dash.screen();
    let run_id = screen.run_id().expect("the status bar names the run");
    for name in order {
        let details = screen.list_details(name).unwrap();
        assert!(details.starts_with("shell  1/1"), "{name}: {details}");
        assert!(screen.pane(name).is_some(), "no pane for {name}");
    }
    assert!(screen
        .list_details("flaky")
        .unwrap()
        .contains("exit code 1"));
    assert!(screen
        .pane("flaky")
        .unwrap()
        .lines
        .iter()
        .any(|l| l.contains("no marker yet")));
    assert!(screen.contains("2 running"), "counts in the status bar");
    assert_eq!(screen.list_selection().as_deref(), Some("quick"));
    assert_eq!(screen.pane_selection().as_deref(), Some("quick"));

    // Attach to the waiting agent, answer its question: it succeeds while still attached (hang
    // keeps the run going), and Ctrl-] detaches.
    select(&mut dash, "waiter", &order);
    dash.send(b"i");
    dash.wait_for("attached to waiter", |s| {
        let pane = s.pane("waiter")?;
        (pane.corner == '╔'
            && pane.title.starts_with("ATTACHED")
            && s.contains("ATTACHED to waiter"))
        .then_some(())
    });
    dash.send(b"hello\r");
    dash.wait_for("the agent's answer in its pane, and its success", |s| {
        let pane = s.pane("waiter")?;
        (pane.lines.iter().any(|l| l.contains("got hello")) && s.status("waiter")? == "succeeded")
            .then_some(())
    });
    // The agent exited: attach ended with it, saying so.
    dash.wait_for("detached", |s| {
        (!s.contains("ATTACHED") && s.contains("waiter exited (succeeded); detached")).then_some(())
    });

    // Cancel the hanging agent: c asks, y does it; its whole process group goes.
    let sleeper = wait_for_pid(&hang_pid);
    select(&mut dash, "hang", &order);
    dash.send(b"c");
    dash.wait_for("the cancel question", |s| {
        s.contains("Cancel hang?").then_some(())
    });
    dash.send(b"y");
    dash.wait_for("hang cancelled", |s| {
        (s.status("hang")? == "cancelled").then_some(())
    });
    assert!(
        !alive(sleeper),
        "the cancelled agent's sleep {sleeper} survived"
    );

    // Every task has ended: the summary shows; Esc puts it away to look around.
    dash.wait_for("the summary", |s| {
        s.contains("2 of 4 tasks succeeded (50%)").then_some(())
    });
    dash.send(b"\x1b");
    dash.wait_for("the summary put away", |s| {
        (!s.contains("run finished")).then_some(())
    });

    // Fix what made flaky fail, retry it: a second attempt that succeeds.
    std::fs::write(&marker, "").unwrap();
    select(&mut dash, "flaky", &order);
    dash.send(b"r");
    dash.wait_for("flaky succeeded on retry, the run finished again", |s| {
        (s.status("flaky")? == "succeeded" && s.contains("3 of 4 tasks succeeded (75%)"))
            .then_some(())
    });
    let details = dash.screen().list_details("flaky").unwrap();
    assert!(details.starts_with("shell  2/2"), "{details}");
    dash.send(b"\x1b");
    let flaky = dash.wait_for("flaky's pane after the retry", |s| {
        (!s.contains("run finished"))
            .then(|| s.pane("flaky"))
            .flatten()
    });
    assert!(
        flaky.lines.iter().any(|l| l.contains("attempt 2/2")),
        "{flaky:?}"
    );
    assert!(
        flaky.lines.iter().any(|l| l.contains("flaky ok")),
        "{flaky:?}"
    );

    // Merge quick into main.
    select(&mut dash, "quick", &order);
    dash.send(b"m");
    dash.wait_for("the merge question", |s| {
        s.contains("Merge quick into main?").then_some(())
    });
    dash.send(b"y");
    dash.wait_for("quick merged", |s| {
        (s.list_details("quick")?.contains("merged") && s.contains("merged quick into"))
            .then_some(())
    });
    assert_eq!(repo.git(&["show", "main:quick.txt"]), "quick work");

    // q closes the finished run at once.
    let shown: Vec<(String, String)> = order
        .iter()
        .map(|n| (n.to_string(), dash.screen().status(n).unwrap()))
        .collect();
    assert!(
        dash.screen().contains("3 succeeded"),
        "{}",
        dash.screen().text()
    );
    dash.send(b"q");
    assert_eq!(dash.exit_code(), 1, "one task was cancelled");
    dash.assert_restored();

    // results.json says what the screen said.
    let results = repo.results(&run_id);
    for (name, word) in &shown {
        assert_eq!(
            task(&results, name)["status"],
            status_key(word).as_str(),
            "{name}"
        );
    }
    assert_eq!(results["interrupted"], false);
    assert_eq!(results["succeeded"], 3);
    assert_eq!(results["cancelled"], 1);
    assert_eq!(task(&results, "quick")["merge"]["state"], "merged");
    // Merged after the run finished, and the results still say when it finished.
    assert!(results["completed_at"].is_string(), "{results:#}");
    let flaky = task(&results, "flaky");
    let attempts = flaky["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["status"], "failed");
    assert_eq!(attempts[0]["exit_code"], 1);
    assert_eq!(attempts[1]["status"], "succeeded");
    let waiter = task(&results, "waiter");
    assert!(
        waiter["output"].as_str().unwrap().contains("got hello"),
        "{waiter:#}"
    );
}

#[test]
fn panes_follow_the_terminal_size_and_zoom() {
    let repo = Repo::new();
    let mut dash = Tty::run(
        &repo,
        &Plan::named("sizes")
            .shell_task(
                "sizer",
                r#"while :; do echo "size $(stty size)"; sleep 0.2; done"#,
            )
            .to_toml(),
        &[],
    );
    // The agent sees exactly the size of the pane it is drawn in.
    let pane_matches = |s: &Screen| {
        let pane = s.pane("sizer")?;
        let last = pane.lines.iter().rev().find(|l| l.starts_with("size "))?;
        (last.trim() == format!("size {} {}", pane.rows, pane.cols)).then_some(pane)
    };
    let first = dash.wait_for("the agent seeing its pane's size", pane_matches);
    assert!(dash.screen().contains(" tasks "));

    dash.resize(36, 110);
    let smaller = dash.wait_for("the agent seeing the new size", |s| {
        pane_matches(s).filter(|p| (p.rows, p.cols) != (first.rows, first.cols))
    });
    assert!(smaller.rows < first.rows && smaller.cols < first.cols);

    // Zoom: the pane takes the whole body (no list), and the agent's terminal follows.
    dash.send(b"z");
    let zoomed = dash.wait_for("the zoomed pane's size reaching the agent", |s| {
        (!s.contains(" tasks ")).then(|| pane_matches(s)).flatten()
    });
    assert!(zoomed.cols > smaller.cols);
    assert_eq!(zoomed.cols, 110 - 2);

    // q while an agent runs asks first; y stops it and closes.
    quit_stopping_agents(&mut dash);
    let results = repo.results(&repo.only_run_id());
    assert_eq!(task(&results, "sizer")["status"], "cancelled");
    assert_eq!(results["interrupted"], true);
}

/// SGR mouse report (what terminals send with mouse capture on); `row`/`col` from 0.
fn mouse(button: u8, col: usize, row: usize, press: bool) -> Vec<u8> {
    let end = if press { 'M' } else { 'm' };
    format!("\x1b[<{button};{};{}{end}", col + 1, row + 1).into_bytes()
}

#[test]
fn the_mouse_scrolls_panes_and_selects_and_new_output_leaves_a_scrolled_view_alone() {
    let repo = Repo::new();
    let mut dash = Tty::run(
        &repo,
        &Plan::named("mouse")
            .shell_task(
                "counter",
                "seq 1 300; i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done",
            )
            .shell_task("other", "echo other; sleep 600")
            .to_toml(),
        &[],
    );
    dash.wait_for("both running, the counter ticking", |s| {
        let counter = s.pane("counter")?;
        (s.status("other")? == "running" && counter.lines.iter().any(|l| l.starts_with("tick ")))
            .then_some(())
    });

    // A cell inside the counter pane.
    let counter = dash.screen().pane("counter").unwrap();
    let (row, col) = (counter.top + 3, counter.left + 5);

    // Wheel up over the pane: the view goes back into the history (3 lines a step; ticks that
    // arrive meanwhile add to that) and stays there while ticks keep arriving: the title counts
    // how far back the view is, the lines shown do not change.
    dash.send(&mouse(64, col, row, true));
    let (back_by, back) = dash.wait_for("the counter pane scrolled back", |s| {
        let pane = s.pane("counter")?;
        (pane.scrolled_back() >= 3).then(|| (pane.scrolled_back(), pane.lines))
    });
    let later = dash.wait_for("more ticks arriving under the scrolled view", |s| {
        let pane = s.pane("counter")?;
        (pane.scrolled_back() > back_by + 3).then_some(pane.lines)
    });
    assert_eq!(back, later, "new output moved a scrolled view");
    dash.send(&mouse(65, col, row, true));
    dash.send(END);
    dash.wait_for("the counter pane live again", |s| {
        let pane = s.pane("counter")?;
        (pane.scrolled_back() == 0 && pane.lines.iter().any(|l| l.starts_with("tick ")))
            .then_some(())
    });

    // PgUp pages back through the selected pane's history (a page less one line of context).
    dash.send(b"\x1b[5~");
    let page = counter.rows - 1;
    dash.wait_for("the counter pane a page back", |s| {
        (s.pane("counter")?.scrolled_back() >= page).then_some(())
    });
    dash.send(END);
    dash.wait_for("the counter pane live again", |s| {
        (s.pane("counter")?.scrolled_back() == 0).then_some(())
    });

    // A click on a list row selects that task; a click in a pane selects its task; Tab moves
    // to the next pane.
    let (other_row, _) = dash.screen().list_line("other").unwrap();
    dash.send(&mouse(0, 5, other_row, true));
    dash.send(&mouse(0, 5, other_row, false));
    dash.wait_for("other selected by a click", |s| {
        (s.list_selection()? == "other" && s.pane_selection()? == "other").then_some(())
    });
    dash.send(&mouse(0, col, row, true));
    dash.send(&mouse(0, col, row, false));
    dash.wait_for("counter selected by a click in its pane", |s| {
        (s.pane_selection()? == "counter").then_some(())
    });
    dash.send(b"\t");
    dash.wait_for("Tab to the next pane", |s| {
        (s.pane_selection()? == "other").then_some(())
    });

    quit_stopping_agents(&mut dash);
}

/// grove in the dashboard gets `signal` while an agent (that ignores SIGTERM) runs.
fn signal_while_running(signal: i32, expected: u32) {
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
    assert_eq!(dash.exit_code(), expected);
    dash.assert_restored();
    assert!(!alive(sleeper), "agent's child {sleeper} survived");
    let results = repo.results(&run_id);
    assert_eq!(results["interrupted"], true);
    assert_eq!(task(&results, "stubborn")["status"], "cancelled");
    assert_eq!(task(&results, "quick")["status"], "succeeded");
}

#[test]
fn sigterm_stops_the_agents_and_restores_the_terminal() {
    signal_while_running(libc::SIGTERM, 143);
}

#[test]
fn sighup_stops_the_agents_and_restores_the_terminal() {
    signal_while_running(libc::SIGHUP, 129);
}

#[test]
fn sighup_while_the_summary_is_shown_closes_the_dashboard() {
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
    assert_eq!(dash.exit_code(), 129);
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
fn closing_the_terminal_stops_the_agents() {
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

    // The terminal goes away: grove gets SIGHUP and can no longer draw.
    drop(reader);
    drop(master);
    let status = child.wait().unwrap();
    assert_eq!(status.exit_code(), 129);
    assert!(!alive(sleeper), "the agent's sleep {sleeper} survived");
    let results = repo.results(&run_id);
    assert_eq!(results["interrupted"], true);
    assert_eq!(task(&results, "stubborn")["status"], "cancelled");
}

/// `grove demo ARGS` with the demo repository (and HOME) in `home`.
fn grove_demo(home: &Path, args: &[&str]) -> Tty {
    let mut cmd = CommandBuilder::new(GROVE);
    cmd.arg("demo");
    cmd.args(args);
    cmd.arg("--dir");
    cmd.arg(home);
    cmd.cwd(home);
    cmd.env("HOME", home);
    cmd.env("XDG_CONFIG_HOME", home);
    cmd.env("GIT_CONFIG_NOSYSTEM", "1");
    Tty::spawn(cmd)
}

#[test]
fn grove_demo_opens_the_dashboard() {
    let home = tempfile::tempdir().unwrap();
    let mut dash = grove_demo(home.path(), &["--exit-when-done"]);
    let agents = ["code_generator", "code_reviewer", "tester", "documenter"];
    dash.wait_for("the four demo agents, their output in their panes", |s| {
        let shown = |n: &&str| {
            s.status(n).is_some()
                && s.pane(n)
                    .is_some_and(|p| p.lines.iter().any(|l| !l.trim().is_empty()))
        };
        (agents.iter().all(shown)
            && agents
                .iter()
                .any(|n| s.status(n).as_deref() == Some("running")))
        .then_some(())
    });
    assert_eq!(dash.exit_code(), 0, "every demo task succeeds in the end");
    dash.assert_restored();
    let screen = dash.screen();
    assert!(
        screen.contains("grove demo: look around in"),
        "{}",
        screen.text()
    );
}

/// The README's picture of the dashboard, `assets/dashboard.svg`, made from a real run: the
/// real `grove demo` at 120x36, taken once its agents work with output in their panes. Run
/// `cargo test --test dashboard_e2e screenshot -- --ignored` to make it again.
#[test]
#[ignore = "writes assets/dashboard.svg: run it to make the README's picture again"]
fn screenshot() {
    let home = tempfile::tempdir().unwrap();
    let mut dash = grove_demo(home.path(), &[]);
    dash.resize(36, 120);
    let agents = ["code_generator", "code_reviewer", "tester", "documenter"];
    // Some agents done, the tester on its second attempt, a progress bar being drawn.
    dash.wait_for("demo agents at work", |s| {
        let running = agents
            .iter()
            .filter(|n| s.status(n).as_deref() == Some("running"))
            .count();
        let bar = agents.iter().any(|n| {
            s.pane(n).is_some_and(|p| {
                p.lines
                    .iter()
                    .any(|l| l.contains("checking changes") && l.contains("██"))
            })
        });
        let second = s.list_details("tester").is_some_and(|d| d.contains("2/3"));
        (running >= 2 && bar && second).then_some(())
    });
    let picture = {
        let out = dash.out.0.lock().unwrap();
        svg::render(out.parser.screen())
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/dashboard.svg");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, picture).unwrap();
    // Dropping the terminal stops grove and the demo agents.
}

#[test]
fn the_readme_shows_the_dashboard_picture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme
            .lines()
            .take(5)
            .any(|l| l == "![grove dashboard](assets/dashboard.svg)"),
        "the picture is at the top of the README"
    );
    let svg = std::fs::read_to_string(root.join("assets/dashboard.svg")).unwrap();
    assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
    for agent in ["code_generator", "code_reviewer", "tester", "documenter"] {
        assert!(svg.contains(agent), "{agent} is in the picture");
    }
}

#[test]
fn grove_without_a_plan_starts_agents_from_the_form_and_copies_them() {
    let repo = Repo::new();
    let mut dash = grove_new(&repo);
    dash.wait_for("the empty run's hint", |s| {
        s.contains("n new task").then_some(())
    });
    let run_id = dash.wait_for("the run id", |s| s.run_id());
    assert!(run_id.starts_with("adhoc-"), "{run_id}");

    // Esc leaves the form without starting anything.
    dash.send(b"n");
    dash.wait_for("the new-task form", |s| {
        s.contains("┌ new task ").then_some(())
    });
    assert!(
        dash.screen().contains("shell ✓"),
        "{}",
        dash.screen().text()
    );
    dash.send(b"\x1b");
    dash.wait_for("the form closed", |s| {
        (!s.contains("┌ new task ") && s.contains("n new task")).then_some(())
    });

    // n, the name filled in, shell (right of demo), a two-line prompt, Enter.
    dash.send(b"n");
    fill_form(
        &mut dash,
        1,
        &["echo \"made by $GROVE_TASK\" > made.txt", "cat made.txt"],
    );
    dash.wait_for("task-1 succeeded", |s| {
        (s.status("task-1").as_deref() == Some("succeeded")).then_some(())
    });
    // N fills the form with a copy under a new name; Enter starts it, from scratch.
    dash.send(b"N");
    dash.wait_for("the copy's form", |s| {
        s.contains(" copy of task-1 ").then_some(())
    });
    dash.send(b"\r");
    dash.wait_for("task-1-2 succeeded", |s| {
        (s.status("task-1-2").as_deref() == Some("succeeded")).then_some(())
    });
    dash.send(b"q");
    assert_eq!(dash.exit_code(), 0);
    dash.assert_restored();

    let results = repo.results(&run_id);
    assert_eq!(results["plan"], "adhoc");
    for name in ["task-1", "task-1-2"] {
        let t = task(&results, name);
        assert_eq!(t["status"], "succeeded", "{t:#}");
        assert_eq!(t["agent"], "shell");
        let branch = format!("grove/{run_id}/{name}");
        assert_eq!(
            repo.git(&["show", &format!("{branch}:made.txt")]),
            format!("made by {name}")
        );
    }
    // The run's plan.toml holds both tasks: it loads as a plan like any other.
    let plan_path = repo.run_dir(&run_id).join("plan.toml");
    let plan = grove::plan::load_with(&plan_path, &grove::plan::UserConfig::empty()).unwrap();
    assert_eq!(plan.name, "adhoc");
    let names: Vec<&str> = plan.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["task-1", "task-1-2"]);
    assert!(plan
        .tasks
        .iter()
        .all(|t| t.prompt == "echo \"made by $GROVE_TASK\" > made.txt\ncat made.txt"));
    let added = repo
        .audit(&run_id)
        .into_iter()
        .filter(|e| e["event"] == "task_added")
        .count();
    assert_eq!(added, 2);
}

/// Bare `grove` and `q` at once: the run no task joined is not recorded.
#[test]
fn grove_opened_and_quit_leaves_no_run() {
    let repo = Repo::new();
    let mut dash = grove_new(&repo);
    dash.wait_for("the empty run's hint", |s| {
        s.contains("n new task").then_some(())
    });
    dash.send(b"q");
    assert_eq!(dash.exit_code(), 0);
    let ls = repo.grove(&["ls"]);
    let listing = String::from_utf8_lossy(&ls.stdout);
    assert!(listing.starts_with("no runs in "), "{listing}");
}

#[test]
fn n_adds_a_task_to_a_running_plan() {
    let repo = Repo::new();
    let gate = repo.home.path().join("gate");
    let mut dash = Tty::run(
        &repo,
        &format!(
            r#"
name = "live"
[[tasks]]
name = "slow"
agent = "shell"
prompt = "while [ ! -e '{}' ]; do sleep 0.1; done"
"#,
            gate.display()
        ),
        &[],
    );
    dash.wait_for("slow running", |s| {
        (s.status("slow").as_deref() == Some("running")).then_some(())
    });
    let run_id = dash.wait_for("the run id", |s| s.run_id());
    dash.send(b"n");
    fill_form(&mut dash, 1, &["echo joined > joined.txt"]);
    dash.wait_for("task-1 succeeded next to slow", |s| {
        (s.status("task-1").as_deref() == Some("succeeded")
            && s.status("slow").as_deref() == Some("running"))
        .then_some(())
    });
    std::fs::write(&gate, "").unwrap();
    dash.wait_for("slow succeeded", |s| {
        (s.status("slow").as_deref() == Some("succeeded")).then_some(())
    });
    dash.send(b"q");
    assert_eq!(dash.exit_code(), 0);

    let results = repo.results(&run_id);
    assert_eq!(results["total_tasks"], 2);
    assert_eq!(task(&results, "task-1")["status"], "succeeded");
    let plan = std::fs::read_to_string(repo.run_dir(&run_id).join("plan.toml")).unwrap();
    assert!(plan.starts_with("\nname = \"live\""), "{plan}");
    assert!(plan.contains("name = \"task-1\""), "{plan}");
}

#[test]
fn grove_new_needs_a_terminal() {
    let repo = Repo::new();
    let out = repo.grove(&["new"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a terminal"));
    assert!(!repo.path().join(".grove/runs").exists());
}

#[test]
fn m_on_a_race_sibling_picks_it_and_v_compares_the_race() {
    let repo = Repo::new();
    let order = ["job.1", "job.2"];
    let mut dash = Tty::run(
        &repo,
        &Plan::named("race")
            .shell_task("job", "echo $GROVE_TASK > who.txt")
            .with("replicas", 2)
            .with("check", "grep -q job who.txt")
            .to_toml(),
        &[],
    );
    dash.wait_for("both siblings succeeded", |s| {
        order
            .iter()
            .all(|n| s.status(n).as_deref() == Some("succeeded"))
            .then_some(())
    });
    let run_id = dash.wait_for("the run id", |s| s.run_id());
    // Each Esc is let through alone: Esc and a key right after it read as Alt and the key.
    dash.wait_for("the summary", |s| {
        s.contains(" run finished ").then_some(())
    });
    dash.send(b"\x1b");
    dash.wait_for("the summary put away", |s| {
        (!s.contains(" run finished ")).then_some(())
    });
    select(&mut dash, "job.2", &order);
    dash.send(b"v");
    dash.wait_for("the race compared", |s| {
        (s.contains(" race job ") && s.contains("passed")).then_some(())
    });
    dash.send(b"\x1b");
    dash.wait_for("the comparison closed", |s| {
        (!s.contains(" race job ")).then_some(())
    });
    dash.send(b"m");
    dash.wait_for("the pick question", |s| {
        s.contains("discards job.1").then_some(())
    });
    dash.send(b"y");
    dash.wait_for("job.2 merged, job.1 discarded", |s| {
        (s.list_details("job.2")?.contains("merged")
            && s.list_details("job.1")?.contains("discarded"))
        .then_some(())
    });
    dash.send(b"q");
    assert_eq!(dash.exit_code(), 0);
    assert_eq!(repo.read("who.txt"), "job.2\n");
    let results = repo.results(&run_id);
    assert_eq!(results["groups"][0]["picked"], "job.2");
    assert_eq!(task(&results, "job.1")["merge"]["state"], "discarded");
}
