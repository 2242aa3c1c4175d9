//! What a new user meets in the dashboard (issue 16), end to end: the real grove binary in a
//! real PTY, at 80x24 and at 200x50, its screen read through a terminal emulator.

use crate::support::tty::*;
use crate::support::*;

/// The sizes every case runs at: a small terminal and a big one.
const SMALL: (u16, u16) = (24, 80);
const BIG: (u16, u16) = (50, 200);

fn run_sized(repo: &Repo, plan: &str, size: (u16, u16)) -> Tty {
    Tty::spawn_sized(grove_run(repo, plan, &[]), size.0, size.1)
}

/// Waits until the list shows `name` with status `word`.
fn wait_status(dash: &Tty, name: &str, word: &str) {
    dash.wait_for(&format!("{name} {word}"), |s| {
        (s.status(name).as_deref() == Some(word)).then_some(())
    });
}

/// Puts the run summary away (it opens when every task has ended).
fn dismiss_summary(dash: &mut Tty) {
    dash.wait_for("the summary", |s| {
        s.contains(" run finished ").then_some(())
    });
    dash.send(b"\x1b");
    dash.wait_for("the summary put away", |s| {
        (!s.contains(" run finished ")).then_some(())
    });
}

// 1. `N` copies the whole task, under `fix-2`, through the form.

fn copy_keeps_the_whole_task(size: (u16, u16)) {
    let repo = Repo::new();
    let plan = r#"
name = "copy"
[[tasks]]
name = "fix"
agent = "shell"
check = "test -f done.txt"
env = { WHO = "the env" }
setup = ["echo ready > setup.txt"]
prompt = "echo \"$WHO\" > who.txt; test -f setup.txt && touch done.txt"
"#;
    let mut dash = run_sized(&repo, plan, size);
    wait_status(&dash, "fix", "succeeded");
    let run_id = dash.wait_for("the run id", |s| s.run_id());
    dismiss_summary(&mut dash);
    dash.send(b"N");
    dash.wait_for("the copy's form, named fix-2, naming what it keeps", |s| {
        (s.contains(" copy of fix ") && s.contains("fix-2") && s.contains("check, env, setup"))
            .then_some(())
    });
    dash.send(b"\r");
    wait_status(&dash, "fix-2", "succeeded");
    dash.send(b"q");
    assert_eq!(dash.exit_code(), 0);
    dash.assert_restored();

    let results = repo.results(&run_id);
    let copy = task(&results, "fix-2");
    assert_eq!(copy["status"], "succeeded", "{copy:#}");
    assert_eq!(
        copy["attempts"][0]["check"]["exit_code"], 0,
        "the copy ran the check: {copy:#}"
    );
    let branch = format!("grove/{run_id}/fix-2");
    assert_eq!(repo.git(&["show", &format!("{branch}:who.txt")]), "the env");
    let plan = std::fs::read_to_string(repo.run_dir(&run_id).join("plan.toml")).unwrap();
    let copied = &plan[plan.find("name = \"fix-2\"").expect(&plan)..];
    assert!(copied.contains("check = \"test -f done.txt\""), "{plan}");
}

#[test]
fn copy_keeps_the_whole_task_80x24() {
    copy_keeps_the_whole_task(SMALL);
}

#[test]
fn copy_keeps_the_whole_task_200x50() {
    copy_keeps_the_whole_task(BIG);
}

// 2. Attach ends when the agent exits, with a line saying so.

fn attach_ends_with_the_agent(size: (u16, u16)) {
    let repo = Repo::new();
    let plan = &Plan::named("attach")
        .shell_task("asker", r#"read answer; echo "got $answer" > answer.txt"#)
        .shell_task("other", "sleep 600")
        .to_toml();
    let mut dash = run_sized(&repo, plan, size);
    wait_status(&dash, "asker", "running");
    dash.send(b"i");
    dash.wait_for("attached", |s| s.contains("ATTACHED").then_some(()));
    dash.send(b"yes\r");
    dash.wait_for("attach left with the agent, saying so", |s| {
        (!s.contains("ATTACHED") && s.contains("asker exited (succeeded); detached")).then_some(())
    });
    // Keys are grove's again: j selects the next task.
    dash.send(b"j");
    dash.wait_for("other selected", |s| {
        (s.list_selection().as_deref() == Some("other")).then_some(())
    });
    quit_stopping_agents(&mut dash);
}

#[test]
fn attach_ends_with_the_agent_80x24() {
    attach_ends_with_the_agent(SMALL);
}

#[test]
fn attach_ends_with_the_agent_200x50() {
    attach_ends_with_the_agent(BIG);
}

// 3. A small terminal: the key bar keeps `? help` and `q quit`, the status bar what matters
//    most, names sharing a prefix stay apart, and `t` makes room for the panes.

fn small_screens_keep_what_matters(size: (u16, u16)) {
    let repo = Repo::new();
    let names: Vec<String> = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
        .iter()
        .map(|n| format!("refactor-the-parser-module-{n}"))
        .collect();
    let mut plan = String::from("name = \"small\"\nmax_parallel = 6\n");
    for name in &names {
        plan.push_str(&format!(
            "[[tasks]]\nname = \"{name}\"\nagent = \"shell\"\nprompt = \"echo {name}; sleep 600\"\n"
        ));
    }
    let mut dash = run_sized(&repo, &plan, size);
    dash.wait_for("every task running, each told apart in the list", |s| {
        names
            .iter()
            .all(|n| {
                let suffix = n.rsplit('-').next().unwrap();
                // The list's part of each row: from its left border to the next.
                s.cells.iter().any(|row| {
                    let list: String = row.iter().skip(1).take_while(|&&c| c != '│').collect();
                    row.first() == Some(&'│') && list.contains(suffix) && list.contains("running")
                })
            })
            .then_some(())
    });
    let screen = dash.screen();
    let text = screen.text();
    let lines: Vec<&str> = text.lines().collect();
    let keys = lines[lines.len() - 1];
    assert!(keys.contains("? help") && keys.contains("q quit"), "{text}");
    let status = lines[lines.len() - 2];
    assert!(status.contains("6 running"), "{text}");
    if size == SMALL {
        assert!(status.contains("panes 1–2 of 6"), "{text}");
    }
    // `t` twice: the list is narrowed, then hidden, and the panes take its room.
    dash.send(b"t");
    dash.send(b"t");
    dash.wait_for("the list hidden", |s| {
        let corner = s.cells[0][0];
        (!s.contains(" tasks ") && TOP_LEFT.contains(&corner)).then_some(())
    });
    quit_stopping_agents(&mut dash);
}

#[test]
fn small_screens_keep_what_matters_80x24() {
    small_screens_keep_what_matters(SMALL);
}

#[test]
fn small_screens_keep_what_matters_200x50() {
    small_screens_keep_what_matters(BIG);
}

// 4. Popups: q and Esc close them (q quits only from the main view); long lines wrap or scroll
//    sideways; a long view says that more is below.

fn popups_close_on_q_and_show_all_their_text(size: (u16, u16)) {
    let repo = Repo::new();
    let long = format!("{}END-OF-LINE", "x".repeat(220));
    let plan = Plan::named("views")
        .shell_task(
            "writer",
            &format!(
                "echo {long} > long.txt; seq 1 80 > many.txt # a prompt long enough to wrap in the details view: PROMPT-END",
            ),
        )
        .to_toml();
    let mut dash = run_sized(&repo, &plan, size);
    wait_status(&dash, "writer", "succeeded");
    dismiss_summary(&mut dash);

    dash.send(b"?");
    dash.wait_for("the help", |s| s.contains("┌ keys ").then_some(()));
    dash.send(b"q");
    dash.wait_for("the help closed by q, grove still there", |s| {
        (!s.contains("┌ keys ") && s.status("writer").is_some()).then_some(())
    });

    dash.send(b"l");
    dash.wait_for("the details", |s| {
        s.contains(" details writer ").then_some(())
    });
    // Down to the prompt, below the facts on a small screen.
    for _ in 0..16 {
        dash.send(b"j");
    }
    dash.wait_for("the details, the long prompt wrapped to its end", |s| {
        (s.contains(" details writer ") && s.contains("PROMPT-END")).then_some(())
    });
    dash.send(b"\x1b");
    dash.wait_for("the details closed by Esc", |s| {
        (!s.contains(" details writer ")).then_some(())
    });

    dash.send(b"d");
    dash.wait_for("the diff, saying more is below and to the right", |s| {
        (s.contains(" diff writer:") && s.contains("↓ more") && s.contains("→ wider (h/l)"))
            .then_some(())
    });
    // Sideways to the end of the long line.
    for _ in 0..40 {
        dash.send(b"l");
    }
    dash.wait_for("the long line's end", |s| {
        s.contains("END-OF-LINE").then_some(())
    });
    dash.send(b"G");
    dash.wait_for("the diff's end", |s| s.contains(" end ").then_some(()));
    dash.send(b"q");
    dash.wait_for("the diff closed by q", |s| {
        (!s.contains(" diff writer:")).then_some(())
    });
    // From the main view, q quits.
    dash.send(b"q");
    assert_eq!(dash.exit_code(), 0);
    dash.assert_restored();
}

#[test]
fn popups_close_on_q_and_show_all_their_text_80x24() {
    popups_close_on_q_and_show_all_their_text(SMALL);
}

#[test]
fn popups_close_on_q_and_show_all_their_text_200x50() {
    popups_close_on_q_and_show_all_their_text(BIG);
}

// 5. A merge, and a race's pick, ask first, saying what will happen.

fn merges_and_picks_ask_first(size: (u16, u16)) {
    let repo = Repo::new();
    let order = ["job.1", "job.2", "solo"];
    let plan = &Plan::named("ask")
        .shell_task("job", "echo $GROVE_TASK > who.txt")
        .with("replicas", 2)
        .shell_task("solo", "echo solo > solo.txt; echo more > more.txt")
        .to_toml();
    let mut dash = run_sized(&repo, plan, size);
    // The summary (every task ended) may hide some of the list at first.
    dismiss_summary(&mut dash);
    for name in order {
        wait_status(&dash, name, "succeeded");
    }
    select(&mut dash, "solo", &order);
    dash.send(b"m");
    dash.wait_for("the merge question: how, and which files", |s| {
        (s.contains("Merge solo into main?")
            && s.contains("fast-forward")
            && s.contains("more.txt, solo.txt"))
        .then_some(())
    });
    dash.send(b"n");
    dash.wait_for("the question gone, nothing merged", |s| {
        (!s.contains("Merge solo") && !s.list_details("solo")?.contains("merged")).then_some(())
    });
    assert!(!repo.path().join("solo.txt").exists());
    dash.send(b"m");
    dash.wait_for("the merge question again", |s| {
        s.contains("Merge solo into main?").then_some(())
    });
    dash.send(b"y");
    dash.wait_for("solo merged", |s| {
        s.list_details("solo")?.contains("merged").then_some(())
    });

    select(&mut dash, "job.2", &order);
    dash.send(b"m");
    dash.wait_for("the pick question, naming the sibling discarded", |s| {
        (s.contains("Merge job.2 into main?")
            && s.contains("merge commit")
            && s.contains("discards job.1"))
        .then_some(())
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
}

#[test]
fn merges_and_picks_ask_first_80x24() {
    merges_and_picks_ask_first(SMALL);
}

#[test]
fn merges_and_picks_ask_first_200x50() {
    merges_and_picks_ask_first(BIG);
}

// 7. `/` searches a pane's history; n / N go to older / newer matches.

fn slash_searches_the_history(size: (u16, u16)) {
    let repo = Repo::new();
    let plan = &Plan::named("search")
        .shell_task(
            "talker",
            r#"for i in $(seq 1 200); do echo "line $i"; [ $i = 30 ] && echo 'Needle one'; [ $i = 120 ] && echo 'needle two'; done; echo all-printed; sleep 600"#,
        )
        .to_toml();
    let mut dash = run_sized(&repo, plan, size);
    dash.wait_for("the output printed", |s| {
        s.pane("talker")?
            .lines
            .iter()
            .any(|l| l.contains("all-printed"))
            .then_some(())
    });
    dash.send(b"/needle");
    dash.wait_for("the text typed", |s| s.contains("/needle").then_some(()));
    dash.send(b"\r");
    let shown = |s: &Screen, text: &str| {
        s.pane("talker")
            .is_some_and(|p| p.lines.iter().any(|l| l.contains(text)) && p.scrolled_back() > 0)
    };
    dash.wait_for("the newest match shown, zoomed and scrolled back", |s| {
        (shown(s, "needle two") && s.contains("match 2 of 2") && !s.contains(" tasks "))
            .then_some(())
    });
    dash.send(b"n");
    dash.wait_for("the older match", |s| {
        (shown(s, "Needle one") && s.contains("match 1 of 2")).then_some(())
    });
    dash.send(b"N");
    dash.wait_for("the newer match again", |s| {
        (shown(s, "needle two") && s.contains("match 2 of 2")).then_some(())
    });
    dash.send(b"q");
    dash.wait_for("back to live output, still running", |s| {
        let pane = s.pane("talker")?;
        (pane.scrolled_back() == 0
            && pane.lines.iter().any(|l| l.contains("all-printed"))
            && !s.contains("match 2 of 2"))
        .then_some(())
    });
    quit_stopping_agents(&mut dash);
}

#[test]
fn slash_searches_the_history_80x24() {
    slash_searches_the_history(SMALL);
}

#[test]
fn slash_searches_the_history_200x50() {
    slash_searches_the_history(BIG);
}

// 8. Warnings printed before the dashboard opened are shown in it; leaving says where the run
//    is and what comes next.

fn leaving_says_where_you_are(size: (u16, u16)) {
    let repo = Repo::new();
    // An earlier run whose failed task's worktree stays: the next run starts with a notice.
    let (out, _) = repo.run_plan(
        &Plan::named("before")
            .shell_task("broken", "exit 3")
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let plan = &Plan::named("leave")
        .shell_task("solo", "echo solo > solo.txt")
        .shell_task("slow", "sleep 600")
        .to_toml();
    let mut dash = run_sized(&repo, plan, size);
    dash.wait_for("the notice printed before, shown in the dashboard", |s| {
        (s.contains("before the dashboard opened") && s.contains("holds worktrees of run"))
            .then_some(())
    });
    dash.send(b"j");
    dash.wait_for("the notice put away", |s| {
        (!s.contains("before the dashboard opened")).then_some(())
    });
    wait_status(&dash, "solo", "succeeded");
    let run_id = dash.wait_for("the run id", |s| s.run_id());
    quit_stopping_agents(&mut dash);
    let screen = dash.screen();
    let text = screen.text();
    for said in [
        format!("grove: run {run_id}: 1 of 2 succeeded, 1 cancelled"),
        format!(
            "results  {}",
            repo.run_dir(&run_id).join("results.json").display()
        ),
        format!("grove show {run_id}"),
        format!("grove merge {run_id} solo"),
        format!("grove resume {run_id}"),
    ] {
        assert!(text.contains(&said), "{said:?} not in:\n{text}");
    }
}

#[test]
fn leaving_says_where_you_are_80x24() {
    leaving_says_where_you_are(SMALL);
}

#[test]
fn leaving_says_where_you_are_200x50() {
    leaving_says_where_you_are(BIG);
}

// 12. Quitting counts the grace period down; a second Ctrl-C kills at once.

fn a_second_ctrl_c_kills_at_once(size: (u16, u16)) {
    let repo = Repo::new();
    let pid_file = repo.home.path().join("agent.pid");
    let pid = pid_file.display();
    // It ignores SIGTERM, and its grace period is longer than any wait here: only a kill ends
    // it in time.
    let plan = format!(
        "name = \"kill\"\n[[tasks]]\nname = \"stubborn\"\nagent = \"shell\"\nkill_grace = \"10m\"\nprompt = '''trap \"\" TERM; sleep 600 & echo $! > {pid}.tmp; mv {pid}.tmp {pid}; wait'''\n"
    );
    let mut dash = run_sized(&repo, &plan, size);
    wait_status(&dash, "stubborn", "running");
    let sleeper = wait_for_pid(&pid_file);
    dash.send(b"q");
    dash.wait_for("the leave question", |s| {
        s.contains("leave the dashboard").then_some(())
    });
    dash.send(b"s");
    dash.wait_for("the grace period counting down", |s| {
        (s.contains("SIGKILL in 10m00s") || s.contains("SIGKILL in 9m5")).then_some(())
    });
    dash.send(b"\x03");
    assert_eq!(dash.exit_code(), 130);
    dash.assert_restored();
    assert!(!alive(sleeper), "the agent's child {sleeper} survived");
}

#[test]
fn a_second_ctrl_c_kills_at_once_80x24() {
    a_second_ctrl_c_kills_at_once(SMALL);
}

#[test]
fn a_second_ctrl_c_kills_at_once_200x50() {
    a_second_ctrl_c_kills_at_once(BIG);
}

// 16. `grove` opened and closed without a task records no run.

#[test]
fn an_adhoc_run_without_a_task_is_not_recorded() {
    let repo = Repo::new();
    let mut dash = grove_new(&repo);
    dash.wait_for("the empty run", |s| s.contains("n new task").then_some(()));
    dash.send(b"q");
    assert_eq!(dash.exit_code(), 0);
    dash.assert_restored();
    assert!(
        dash.screen().contains("no task was started"),
        "{}",
        dash.screen().text()
    );
    let runs: Vec<_> = std::fs::read_dir(repo.path().join(".grove/runs"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(runs.is_empty(), "{runs:?}");
    let ls = repo.grove(&["ls"]);
    assert!(!text(&ls).contains("adhoc"), "{}", text(&ls));
}
