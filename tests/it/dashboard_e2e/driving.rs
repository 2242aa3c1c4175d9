//! Driving a run from the dashboard: cancel, retry, merge and attach; the terminal's size; the
//! mouse.

use super::*;

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
            .shell_task(
                "flaky",
                &format!(
                    "if [ -e '{marker}' ]; then echo flaky ok; exit 0; fi; echo 'flaky: no marker yet'; exit 1",
                    marker = marker.display(),
                ),
            )
            .shell_task(
                "hang",
                &format!(
                    "sleep 600 & echo $! > '{pid}.tmp'; mv '{pid}.tmp' '{pid}'; echo hanging; wait",
                    pid = hang_pid.display(),
                ),
            )
            .shell_task(
                "waiter",
                r#"printf 'your name? '; read answer; echo "got $answer"; [ "$answer" = hello ]"#,
            )
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
