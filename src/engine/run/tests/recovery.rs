//! Recovery's open ends: what `grove resume` finds left open in the journal the run loop's own
//! decisions wrote, for a run killed at that moment.

use crate::record::journal::{Entry, RunRecord};

use super::super::super::api::{Command, MergeState, TaskId, TaskStatus};
use super::super::super::attempt::StopReason;
use super::super::super::launch::{Recovery, Restored};
use super::super::super::resume;
use super::super::super::state::AttemptEnd;
use super::super::event::Flow;
use super::*;

/// What `grove resume` would settle first for the run `h` left in its journal (as if grove
/// had been killed now), and the tasks as it restores them.
fn open_ends(h: &Harness) -> (Vec<Recovery>, Vec<Restored>) {
    let record = RunRecord::load(&h.run.paths.run_dir).expect("the journal reads");
    let (restored, recovery) = resume::settle_plan(&h.run.plan, &record, &h.run.paths);
    (recovery, restored.into_iter().flatten().collect())
}

#[test]
fn resume_stops_and_saves_an_attempt_left_in_flight_then_requeues_it() {
    let plan = format!("name = \"p\"\n{}", tasks(&["a", "b"]));
    let mut h = harness(&plan);
    assert_eq!(h.started(), vec![0, 1]);
    h.ended(1, Succeeded, None);
    let (recovery, restored) = open_ends(&h);
    assert!(
        matches!(
            recovery.as_slice(),
            [Recovery::InFlight {
                index: 0,
                attempt: 1,
                requeue: true,
                ..
            }]
        ),
        "{recovery:?}"
    );
    assert_eq!(restored[0].facts.state.status, Preparing);
    assert_eq!(restored[1].facts.state.status, TaskStatus::Succeeded);
    assert_eq!(restored[1].facts.attempts.len(), 1);
}

#[test]
fn resume_requests_a_pending_merge_again_and_requeues_a_waiting_retry() {
    let plan = "name = \"p\"\nmax_parallel = 2\n[defaults]\nagent = \"shell\"\n[[tasks]]\nname = \"a\"\nprompt = \"true\"\nmerge = \"auto\"\n[[tasks]]\nname = \"b\"\nprompt = \"true\"\nretries = 1\n";
    let mut h = harness(plan);
    assert_eq!(h.started(), vec![0, 1]);
    assert_eq!(merges(&h.ended(0, Succeeded, Some("a's output"))), vec![0]);
    assert_eq!(retry_timers(&h.ended(1, Failed, None)), vec![(1, 1)]);
    let (recovery, restored) = open_ends(&h);
    assert!(
        matches!(
            recovery.as_slice(),
            [
                Recovery::Merge {
                    index: 0,
                    lock_since: Some(_)
                },
                Recovery::Requeue {
                    index: 1,
                    interrupted_attempt: false
                }
            ]
        ),
        "{recovery:?}"
    );
    // The pending merge is forgotten, to be requested again; the output is kept.
    assert_eq!(restored[0].facts.merge.state, MergeState::NotRequested);
    assert_eq!(
        restored[0]
            .facts
            .work
            .output
            .as_ref()
            .map(|(v, _)| v.clone()),
        Some(serde_json::json!("a's output"))
    );
    assert_eq!(restored[1].facts.state.status, Retrying);
}

#[test]
fn resume_starts_again_what_a_stop_cancelled_and_leaves_what_a_person_cancelled() {
    let plan = format!(
        "name = \"p\"\nmax_parallel = 2\n{}",
        tasks(&["a", "b", "c"])
    );
    let mut h = harness(&plan);
    assert_eq!(h.started(), vec![0, 1]);
    h.command(Command::Cancel { task: TaskId(1) });
    assert!(matches!(h.stop_sent(1), Some(StopReason::Cancelled)));
    h.ended(1, AttemptEnd::Cancelled, None);
    h.command(Command::Shutdown);
    assert!(matches!(h.stop_sent(0), Some(StopReason::Shutdown)));
    assert_eq!(h.status(2), Cancelled, "c never started");
    h.ended(0, AttemptEnd::Cancelled, None);
    assert_eq!(h.settle().1, Flow::End);
    let (recovery, _) = open_ends(&h);
    let requeued: Vec<(usize, bool)> = recovery
        .iter()
        .filter_map(|step| match step {
            Recovery::Requeue {
                index,
                interrupted_attempt,
            } => Some((*index, *interrupted_attempt)),
            _ => None,
        })
        .collect();
    assert_eq!(requeued, vec![(0, true), (2, false)], "{recovery:?}");
}

#[test]
fn resume_ends_a_discarded_race_sibling_left_in_flight_instead_of_running_it_again() {
    let plan = "name = \"p\"\nmax_parallel = 2\n[[tasks]]\nname = \"job\"\nagent = \"shell\"\nprompt = \"true\"\nreplicas = 2\npick = \"first-passing\"\n";
    let mut h = harness(plan);
    assert_eq!(h.started(), vec![0, 1]);
    assert_eq!(merges(&h.ended(0, Succeeded, None)), vec![0]);
    // job.2 was told to stop; grove is killed before its attempt ends.
    let (recovery, restored) = open_ends(&h);
    assert!(
        matches!(
            recovery.as_slice(),
            [
                Recovery::Merge { index: 0, .. },
                Recovery::InFlight {
                    index: 1,
                    requeue: false,
                    ..
                }
            ]
        ),
        "{recovery:?}"
    );
    assert_eq!(restored[1].facts.merge.state, MergeState::Discarded);
}

#[test]
fn resume_settles_an_attempt_whose_end_was_journaled_but_not_its_tasks() {
    let plan = "name = \"p\"\nmax_parallel = 2\n[defaults]\nagent = \"shell\"\nretries = 1\n[[tasks]]\nname = \"a\"\nprompt = \"true\"\n[[tasks]]\nname = \"b\"\nprompt = \"true\"\n";
    let mut h = harness(plan);
    assert_eq!(h.started(), vec![0, 1]);
    // Both attempts' reports reach the journal, and grove is killed before the tasks' states
    // follow: a's failure may be retried, b's may not (a setup error, say).
    for (index, retryable) in [(0, true), (1, false)] {
        let mut report = h.report(index);
        report.retryable = retryable;
        h.run
            .journal
            .append(Entry::Attempt(Box::new(report)), true)
            .expect("journaled");
    }
    let (recovery, _) = open_ends(&h);
    assert!(
        matches!(
            recovery.as_slice(),
            [
                Recovery::Requeue {
                    index: 0,
                    interrupted_attempt: false
                },
                Recovery::Finish { index: 1 }
            ]
        ),
        "{recovery:?}"
    );
}
