//! Follow-ups and usage-limit holds, decided in process: a finished task's follow-up starts an
//! attempt that continues its session; an attempt stopped at a usage limit holds its agent's
//! tasks without spending a retry, and other agents' tasks take the slot.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::usage::{FollowUp, Usage, UsageLimit};

use super::super::super::follow_up::AFTER_LIMIT;
use super::super::super::limits::Limits;
use super::*;

/// A plan whose agent `s` (a shell) keeps sessions, and a shell task `b`.
const PLAN: &str = r#"
name = "p"
max_parallel = 1
[agents.s]
command = ["sh", "-c", "--", "{prompt}"]
resume = ["sh", "-c", "--", "{prompt}", "{session}"]
[[tasks]]
name = "a"
agent = "s"
prompt = "first"
[[tasks]]
name = "b"
agent = "shell"
prompt = "true"
"#;

/// Task `index`'s current attempt ended as `end`, its agent having recorded session `s-1`, and
/// (`limit`) stopped at its usage limit.
fn ended_with_session(h: &mut Harness, index: usize, end: AttemptEnd, limit: bool) -> Vec<Effect> {
    let mut report = h.report(index);
    report.status = end.status();
    report.usage = Some(Usage {
        session_id: Some("s-1".into()),
        ..Usage::default()
    });
    if end == AttemptEnd::Succeeded {
        report.output = Some(serde_json::json!("done"));
        report.output_hash = Some("hash".into());
    } else {
        report.error = Some("claude ended with an API error (429)".into());
    }
    if limit {
        let in_ten_minutes = SystemTime::now() + Duration::from_secs(600);
        let resets_at = in_ten_minutes.duration_since(UNIX_EPOCH).unwrap().as_secs();
        report.usage_limit = Some(UsageLimit {
            message: "You've hit your 5-hour limit".into(),
            resets_at: Some(resets_at),
        });
    }
    h.event(RunEvent::Attempt(Progress::Done {
        index,
        report: Box::new(report),
    }))
}

#[test]
fn a_follow_up_starts_an_attempt_that_continues_the_session() {
    let mut h = harness(PLAN);
    assert_eq!(h.started(), vec![0]);
    ended_with_session(&mut h, 0, AttemptEnd::Succeeded, false);
    assert_eq!(h.status(0), TaskStatus::Succeeded);
    assert_eq!(h.run.view(0).follow_up, None);

    let prompt = "now the docs".to_string();
    h.command(Command::FollowUp {
        task: TaskId(0),
        prompt: prompt.clone(),
    });
    assert_eq!(h.status(0), TaskStatus::Pending);
    let (jobs, _, _) = h.settle();
    let job = jobs
        .iter()
        .find(|j| j.index == 0)
        .expect("the follow-up started");
    let session = "s-1".to_string();
    assert_eq!(job.follow_up, Some(FollowUp { prompt, session }));
    assert_eq!(job.prompt, "now the docs");
    assert_eq!((job.attempt, job.max_attempts), (2, 2));
}

#[test]
fn a_follow_up_is_refused_with_the_reason_and_changes_nothing() {
    let mut h = harness(PLAN);
    assert_eq!(h.started(), vec![0]);
    // Not finished: not yet.
    let why = h.run.view(0).follow_up.expect("refused while running");
    assert!(
        why.ends_with("a follow-up starts once it has finished"),
        "{why}"
    );
    h.ended(0, AttemptEnd::Succeeded, Some("done"));
    // No session was recorded.
    h.command(Command::FollowUp {
        task: TaskId(0),
        prompt: "more".into(),
    });
    assert_eq!(h.status(0), TaskStatus::Succeeded);
    let rejected = std::iter::from_fn(|| h.front.events.try_recv().ok()).find_map(|e| match e {
        Event::TaskRejected { name, error } => Some((name, error)),
        _ => None,
    });
    let (name, error) = rejected.expect("TaskRejected");
    assert_eq!(name, "a");
    assert_eq!(error, "'a' has no recorded session to continue");
}

#[test]
fn a_usage_limit_holds_its_agents_task_without_a_retry_and_frees_the_slot() {
    let mut h = harness(PLAN);
    assert_eq!(h.started(), vec![0]);
    let effects = ended_with_session(&mut h, 0, AttemptEnd::Failed, true);
    assert!(
        effects.iter().any(
            |e| matches!(e, Effect::LimitTimer { delay } if *delay > Duration::from_secs(500))
        ),
        "no timer for the reset"
    );
    // Pending again, the attempt not counted; held, and the other agent's task takes the slot.
    assert_eq!(h.status(0), TaskStatus::Pending);
    assert_eq!(h.run.tasks[0].facts.state.max_attempts, 2);
    assert_eq!(h.started(), vec![1]);
    let held = h.run.view(0).held.expect("held");
    assert!(held.starts_with("usage limit, resets "), "{held}");
    h.ended(1, AttemptEnd::Succeeded, Some("b done"));

    // The reset: the task starts again, continuing its session.
    h.run.limits = Limits::default();
    h.run.tasks[0].held = Some(held);
    h.event(RunEvent::LimitReset);
    let (jobs, _, _) = h.settle();
    let job = jobs
        .iter()
        .find(|j| j.index == 0)
        .expect("started after the reset");
    let follow_up = job.follow_up.clone().expect("continues the session");
    assert_eq!(follow_up.session, "s-1");
    assert_eq!(follow_up.prompt, AFTER_LIMIT);
    assert_eq!(h.run.view(0).held, None);
}
