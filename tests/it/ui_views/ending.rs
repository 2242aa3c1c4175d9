//! The run's end and leaving: the summary, retries reopening the run, confirmations, attaching.

use super::*;

#[test]
fn summary_stays_until_q_and_quits_with_the_run_exit_code() {
    let mut d = scene();
    for (index, name) in [(0, "parser"), (3, "retry-me"), (4, "later")] {
        d.app
            .apply_event(Event::TaskChanged(view(index, name, TaskStatus::Succeeded)));
    }
    d.app.apply_event(Event::RunFinished(summary(4, 1, false)));
    assert!(matches!(d.app.mode(), Mode::Summary));
    assert_eq!(d.app.exit_code(), None);
    assert!(!d.app.needs_clock());
    let terminal = d.draw();
    insta::assert_snapshot!("summary", terminal.backend());
    let text = buffer_text(terminal.backend().buffer());
    assert!(text.contains("4 of 5 tasks succeeded (80%)"));
    assert!(text.contains("total time 1m23s"));
    assert!(text.contains("✓ 4 succeeded   ✗ 1 failed"));
    assert!(!text.contains("cancelled"));
    assert!(text.contains("results /repo/.grove/runs/20231114-221320-k3f9/results.json"));
    // Esc browses the finished run; q closes without asking.
    d.key(KeyCode::Esc);
    assert!(matches!(d.app.mode(), Mode::Normal));
    assert!(d.key(KeyCode::Char('q')).is_empty());
    assert_eq!(d.app.exit_code(), Some(1));
}

/// The color of the summary box's border.
fn summary_color(d: &mut Dash) -> Color {
    let terminal = d.draw();
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "run finished").unwrap();
    assert_eq!(buffer[(x - 2, y)].symbol(), "┌");
    buffer[(x - 2, y)].fg
}

#[test]
fn a_results_json_that_cannot_be_written_is_said_not_named() {
    let mut d = scene();
    let text = "cannot write /repo/.grove/runs/r/results.json: No space left on device".to_string();
    d.app.apply_event(Event::RecordWrite {
        text: text.clone(),
        failed: true,
    });
    assert_eq!(d.app.flash().unwrap().text, text);
    assert!(d.app.flash().unwrap().error);
    d.app.apply_event(Event::RunFinished(RunSummary {
        results_error: Some("No space left on device".into()),
        ..summary(4, 0, false)
    }));
    let shown = d.text();
    assert!(
        shown.contains("results NOT written (No space left on device)"),
        "{shown}"
    );
    assert!(!shown.contains("results /repo"), "{shown}");
}

#[test]
fn the_summary_is_green_when_the_run_succeeded_whatever_the_counts() {
    let mut d = scene();
    d.app.apply_event(Event::RunFinished(summary(4, 1, false)));
    assert_eq!(summary_color(&mut d), Color::Red);
    // Under `fallback` one success makes the run a success (exit code 0).
    let mut d = scene();
    d.app.apply_event(Event::RunFinished(RunSummary {
        success: true,
        ..summary(1, 2, false)
    }));
    assert!(d.text().contains("1 of 3 tasks succeeded"));
    assert_eq!(summary_color(&mut d), Color::Green);
    d.key(KeyCode::Char('q'));
    assert_eq!(d.app.exit_code(), Some(0));
}

#[test]
fn a_retry_after_the_end_reopens_the_run() {
    let mut d = scene();
    d.app.apply_event(Event::RunFinished(summary(3, 1, false)));
    d.key(KeyCode::Char('j'));
    d.key(KeyCode::Char('j'));
    let actions = d.key(KeyCode::Char('r'));
    assert_eq!(
        sent(&actions),
        vec![format!("Retry {{ task: {:?} }}", TaskId(d.index("flaky")))]
    );
    d.app
        .apply_event(Event::TaskChanged(view(2, "flaky", TaskStatus::Running)));
    assert!(matches!(d.app.mode(), Mode::Normal));
    assert!(d.app.needs_clock());
}

#[test]
fn exit_when_done_quits_by_itself() {
    let mut app = App::new(
        info(Path::new("/repo"), "0123"),
        DashboardOptions {
            exit_when_done: true,
            ..Default::default()
        },
    );
    app.apply_event(Event::RunFinished(summary(2, 0, false)));
    assert_eq!(app.exit_code(), Some(0));
}

#[test]
fn an_interrupted_run_closes_at_once() {
    let mut d = scene();
    d.app.apply_event(Event::RunFinished(summary(1, 0, true)));
    assert_eq!(d.app.exit_code(), Some(130));
}

#[test]
fn cancel_asks_first() {
    let mut d = scene();
    assert!(d.key(KeyCode::Char('c')).is_empty());
    assert!(matches!(d.app.mode(), Mode::Confirm(Confirm::Cancel { task }) if task == "parser"));
    insta::assert_snapshot!("confirm_cancel", d.draw().backend());
    assert!(d.key(KeyCode::Char('n')).is_empty());
    assert!(matches!(d.app.mode(), Mode::Normal));
    d.key(KeyCode::Char('c'));
    let actions = d.key(KeyCode::Char('y'));
    assert_eq!(
        sent(&actions),
        vec![format!(
            "Cancel {{ task: {:?} }}",
            TaskId(d.index("parser"))
        )]
    );
    assert!(matches!(d.app.mode(), Mode::Normal));
    // A task that has ended cannot be cancelled; no question is asked.
    d.key(KeyCode::Char('j'));
    assert!(d.key(KeyCode::Char('c')).is_empty());
    assert!(matches!(d.app.mode(), Mode::Normal));
    assert!(d.text().contains("docs has already ended (succeeded)"));
    // Pending and retrying tasks can be cancelled.
    d.key(KeyCode::Char('j'));
    d.key(KeyCode::Char('j'));
    d.key(KeyCode::Char('c'));
    assert!(matches!(d.app.mode(), Mode::Confirm(Confirm::Cancel { task }) if task == "retry-me"));
}

#[test]
fn quit_asks_while_agents_run_then_stops_them_and_waits_for_the_results() {
    let mut d = scene();
    assert!(d.key(KeyCode::Char('q')).is_empty());
    assert!(matches!(
        d.app.mode(),
        Mode::Confirm(Confirm::Quit { active: 3 })
    ));
    insta::assert_snapshot!("confirm_quit", d.draw().backend());
    d.key(KeyCode::Esc);
    assert!(matches!(d.app.mode(), Mode::Normal));
    let (code, modifiers) = ctrl('c');
    d.key_with(code, modifiers);
    let actions = d.key(KeyCode::Char('y'));
    assert_eq!(sent(&actions), vec!["Shutdown"]);
    assert!(matches!(d.app.mode(), Mode::Stopping { .. }));
    assert!(d.key(KeyCode::Char('q')).is_empty());
    assert_eq!(d.app.exit_code(), None);
    // The grace period counts down on screen; a second Ctrl-C kills at once, as headless does.
    let text = d.text();
    assert!(
        text.contains("stopping the agents: SIGKILL in 5s · Ctrl-C kills them now"),
        "{text}"
    );
    let (code, modifiers) = ctrl('c');
    assert_eq!(sent(&d.key_with(code, modifiers)), vec!["KillNow"]);
    assert!(d.text().contains("killing the agents now"), "{}", d.text());
    d.app.apply_event(Event::RunFinished(summary(1, 3, true)));
    assert_eq!(d.app.exit_code(), Some(130));
}

#[test]
fn quit_without_running_agents_does_not_ask() {
    let mut d = Dash::new(80, 24);
    d.add(view(0, "done", TaskStatus::Succeeded));
    let actions = d.key(KeyCode::Char('q'));
    assert_eq!(sent(&actions), vec!["Shutdown"]);
    assert!(matches!(d.app.mode(), Mode::Stopping { .. }));
}

#[test]
fn attach_sends_keys_to_the_agent_until_ctrl_bracket() {
    let mut d = scene();
    d.panes["parser"].scroll_by(1);
    assert!(d.key(KeyCode::Char('i')).is_empty());
    assert!(matches!(d.app.mode(), Mode::Attach));
    let terminal = d.draw();
    insta::assert_snapshot!("attach", terminal.backend());
    let text = buffer_text(terminal.backend().buffer());
    assert!(text.contains("ATTACHED"));
    assert!(text.contains("Ctrl-] detaches"));
    // Keys that mean something to grove are typed into the agent instead.
    assert_eq!(
        sent(&d.key(KeyCode::Char('q'))),
        vec![format!(
            "Input {{ task: {:?}, bytes: [113] }}",
            TaskId(d.index("parser"))
        )]
    );
    let (code, modifiers) = ctrl('c');
    assert_eq!(
        sent(&d.key_with(code, modifiers)),
        vec![format!(
            "Input {{ task: {:?}, bytes: [3] }}",
            TaskId(d.index("parser"))
        )]
    );
    assert_eq!(
        sent(&d.key(KeyCode::Enter)),
        vec![format!(
            "Input {{ task: {:?}, bytes: [13] }}",
            TaskId(d.index("parser"))
        )]
    );
    let pasted = d.app.handle_paste("two words");
    assert_eq!(
        sent(&pasted),
        vec![format!(
            "Input {{ task: {:?}, bytes: {:?} }}",
            TaskId(d.index("parser")),
            b"two words"
        )]
    );
    let (code, modifiers) = ctrl(']');
    assert!(d.key_with(code, modifiers).is_empty());
    assert!(matches!(d.app.mode(), Mode::Normal));
    assert!(!d.text().contains("ATTACHED"));
}

#[test]
fn attach_is_only_for_a_running_agent() {
    let mut d = scene();
    d.key(KeyCode::Char('j'));
    assert!(d.key(KeyCode::Char('i')).is_empty());
    assert!(matches!(d.app.mode(), Mode::Normal));
    assert!(d
        .text()
        .contains("docs is succeeded; only a running agent takes input"));
}
