//! Leaving a dashboard whose agents the grove server keeps running: `q` asks detach or stop,
//! `Ctrl-]` detaches, a signal the caller passes on detaches with a word on screen; and a pause
//! asked for by another dashboard.

use grove::ui::{DetachReason, Outcome};

use super::*;

/// The scene in a dashboard that can detach.
fn detachable() -> Dash {
    scene_with(DashboardOptions {
        detachable: true,
        ..Default::default()
    })
}

fn detached_by_key() -> Option<Outcome> {
    Some(Outcome::Detached(DetachReason::Key))
}

#[test]
fn q_asks_detach_or_stop_and_d_detaches_sending_nothing() {
    let mut d = detachable();
    assert!(d.key(KeyCode::Char('q')).is_empty());
    assert!(matches!(
        d.app.mode(),
        Mode::Confirm(Confirm::Leave { active: 3 })
    ));
    let terminal = d.draw();
    insta::assert_snapshot!("leave", terminal.backend());
    let text = buffer_text(terminal.backend().buffer());
    assert!(text.contains("3 tasks have not ended."), "{text}");
    assert!(
        text.contains("d / Enter  detach: the agents keep running"),
        "{text}"
    );
    assert!(
        text.contains("s          stop the run: cancel every agent"),
        "{text}"
    );
    assert!(
        text.contains("d detach · s stop the run · Esc stay"),
        "{text}"
    );
    assert_eq!(d.app.outcome(), None);
    // Detaching leaves every agent alone: no command at all.
    assert!(d.key(KeyCode::Char('d')).is_empty());
    assert_eq!(d.app.outcome(), detached_by_key());
    assert_eq!(d.app.exit_code(), None);
}

#[test]
fn enter_detaches_too_and_esc_stays() {
    let mut d = detachable();
    d.key(KeyCode::Char('q'));
    assert!(d.key(KeyCode::Esc).is_empty());
    assert!(matches!(d.app.mode(), Mode::Normal));
    assert_eq!(d.app.outcome(), None);
    // Keys the question does not know change nothing; Ctrl-C stays, as it says no elsewhere.
    let (code, modifiers) = ctrl('c');
    d.key_with(code, modifiers);
    assert!(matches!(d.app.mode(), Mode::Confirm(Confirm::Leave { .. })));
    assert!(d.key(KeyCode::Char('y')).is_empty());
    assert!(matches!(d.app.mode(), Mode::Confirm(Confirm::Leave { .. })));
    let (code, modifiers) = ctrl('c');
    assert!(d.key_with(code, modifiers).is_empty());
    assert!(matches!(d.app.mode(), Mode::Normal));
    d.key(KeyCode::Char('q'));
    assert!(d.key(KeyCode::Enter).is_empty());
    assert_eq!(d.app.outcome(), detached_by_key());
}

#[test]
fn q_then_s_stops_the_run_as_quitting_did_and_ends_with_its_code() {
    let mut d = detachable();
    d.key(KeyCode::Char('q'));
    // Drawn, as the dashboard does: the grace counts from the time on screen.
    assert!(d.text().contains("leave the dashboard"));
    assert_eq!(sent(&d.key(KeyCode::Char('s'))), vec!["Shutdown"]);
    assert!(matches!(d.app.mode(), Mode::Stopping { .. }));
    let text = d.text();
    assert!(
        text.contains("stopping the agents: SIGKILL in 5s · Ctrl-C kills them now"),
        "{text}"
    );
    assert_eq!(d.app.outcome(), None);
    d.app.apply_event(Event::RunFinished(summary(1, 3, true)));
    assert_eq!(d.app.outcome(), Some(Outcome::Ended(130)));
}

#[test]
fn with_every_task_ended_q_does_what_it_always_did() {
    let mut d = Dash::with_options(
        info(Path::new("/repo"), "0123"),
        DashboardOptions {
            detachable: true,
            ..Default::default()
        },
        80,
        24,
    );
    d.add(view(0, "done", TaskStatus::Succeeded));
    assert_eq!(sent(&d.key(KeyCode::Char('q'))), vec!["Shutdown"]);
    assert!(matches!(d.app.mode(), Mode::Stopping { .. }));
    // And once the run has finished, q closes with its exit code.
    let mut d = detachable();
    d.app.apply_event(Event::RunFinished(summary(4, 1, false)));
    assert!(d.key(KeyCode::Char('q')).is_empty());
    assert_eq!(d.app.outcome(), Some(Outcome::Ended(1)));
}

#[test]
fn ctrl_bracket_detaches_at_once_from_the_main_view_and_the_views() {
    let mut d = detachable();
    let (code, modifiers) = ctrl(']');
    assert!(d.key_with(code, modifiers).is_empty());
    assert_eq!(d.app.outcome(), detached_by_key());
    let mut d = detachable();
    d.key(KeyCode::Char('?'));
    d.key_with(code, modifiers);
    assert_eq!(d.app.outcome(), detached_by_key());
    // Attached to an agent, Ctrl-] leaves the agent, not the dashboard.
    let mut d = detachable();
    d.key(KeyCode::Char('i'));
    d.key_with(code, modifiers);
    assert!(matches!(d.app.mode(), Mode::Normal));
    assert_eq!(d.app.outcome(), None);
}

#[test]
fn a_dashboard_that_cannot_detach_keeps_its_keys() {
    let mut d = scene();
    let (code, modifiers) = ctrl(']');
    assert!(d.key_with(code, modifiers).is_empty());
    assert_eq!(d.app.outcome(), None);
    assert!(d.text().contains("nothing to detach from"));
    assert!(d.key(KeyCode::Char('q')).is_empty());
    assert!(matches!(
        d.app.mode(),
        Mode::Confirm(Confirm::Quit { active: 3 })
    ));
    assert_eq!(sent(&d.key(KeyCode::Char('y'))), vec!["Shutdown"]);
    d.app.apply_event(Event::RunFinished(summary(1, 3, true)));
    assert_eq!(d.app.outcome(), Some(Outcome::Ended(130)));
}

#[test]
fn a_signal_detaches_saying_so_on_the_status_line() {
    let mut d = detachable();
    // Attached to an agent, whose bar would hide the message.
    d.key(KeyCode::Char('i'));
    d.app.detach_for_signal("SIGTERM".into());
    assert_eq!(
        d.app.outcome(),
        Some(Outcome::Detached(DetachReason::Signal("SIGTERM".into())))
    );
    let terminal = d.draw();
    insta::assert_snapshot!("signal_detach", terminal.backend());
    let text = buffer_text(terminal.backend().buffer());
    assert!(
        text.contains("SIGTERM: detaching; the agents keep running in the grove server"),
        "{text}"
    );
    assert!(!text.contains("ATTACHED"), "{text}");
    assert_eq!(DetachReason::Signal("SIGHUP".into()).to_string(), "SIGHUP");
}

#[test]
fn only_the_dashboard_that_asked_for_the_pause_suspends() {
    // Another dashboard paused the agents: a word about it, no suspend.
    let mut other = detachable();
    other.app.apply_event(Event::Paused(true));
    assert!(!other.app.take_suspend());
    assert!(other.text().contains("agents paused by another dashboard"));
    // This one asked (Ctrl-Z): it suspends once the agents are paused.
    let mut asking = detachable();
    let (code, modifiers) = ctrl('z');
    assert_eq!(sent(&asking.key_with(code, modifiers)), vec!["Pause"]);
    assert!(!asking.app.take_suspend());
    asking.app.apply_event(Event::Paused(true));
    assert!(asking.app.take_suspend());
    assert!(!asking.app.take_suspend());
    // Continued (by `fg` in the one that asked): both say so.
    for d in [&mut other, &mut asking] {
        d.app.apply_event(Event::Paused(false));
        assert!(!d.app.take_suspend());
        assert!(d.text().contains("agents continued"));
    }
}

#[test]
fn a_lost_terminal_detaches_only_a_detachable_dashboard() {
    let mut d = detachable();
    assert!(d.app.detach_on_lost_terminal());
    assert_eq!(
        d.app.outcome(),
        Some(Outcome::Detached(DetachReason::TerminalLost))
    );
    let mut d = scene();
    assert!(!d.app.detach_on_lost_terminal());
    assert_eq!(d.app.outcome(), None);
}
