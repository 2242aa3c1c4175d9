//! The run loop's decisions, driven in-process: events in, effects and task states out. No
//! binary, no PTY, no attempt ever runs: a test plays the attempts' part by sending the loop
//! their reports, and reads what the loop asked for (attempts, timers, merges) from the effects
//! `handle_event` and `settle` return. Records go to a temporary folder, as in a real run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use crate::git::MergeOutcome;
use crate::plan::{self, RepoTarget, UserConfig};
use crate::record::journal::AttemptFact;

use super::super::api::{Command, Event, FrontEnd, MergeState, RunSummary, TaskId, TaskStatus};
use super::super::attempt::{AttemptJob, Progress, Request, Requests, StopReason};
use super::super::launch::{new_run, RunRequest};
use super::super::state::AttemptEnd;
use super::dispatcher::{assemble, Run};
use super::event::{Effect, Flow, RunEvent};

/// A folder of its own under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "grove-run-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A run of the plan `toml` in a new git repository, its records made and its state assembled
/// as `grove` does, but with no loop: the test drives it.
struct Harness {
    run: Run,
    front: FrontEnd,
    /// The request channels of the attempts the loop asked to start, by task.
    requests: Vec<(usize, Requests)>,
    /// Worktree removals asked for and not yet reported done.
    removals: usize,
    _dir: TempDir,
}

fn harness(toml: &str) -> Harness {
    let dir = TempDir::new();
    let root = dir.0.clone();
    let plan_path = root.join("plan.toml");
    std::fs::write(&plan_path, toml).expect("plan written");
    let mut plan = plan::load_with(&plan_path, &UserConfig::default()).expect("plan loads");
    // Admission control off: what starts must not depend on this machine's free memory.
    plan.min_free_memory = Some(0);
    git2::Repository::init(&root).expect("git init");
    let request = RunRequest {
        plan,
        repo: RepoTarget {
            root: root.clone(),
            base_commit: "0".repeat(40),
            base_branch: Some("main".into()),
            base_label: "main".into(),
        },
        pane_size: (24, 80),
        env: crate::environment::Environment::current(),
    };
    let launch = new_run(request).expect("the run's records");
    let (run, front, _inputs) = assemble(launch);
    Harness {
        run,
        front,
        requests: Vec::new(),
        removals: 0,
        _dir: dir,
    }
}

impl Harness {
    /// One turn's start: what the loop starts now (task index, attempt job), keeping the
    /// attempts' stop receivers.
    /// Worktree removals the loop asked for are reported done first (nothing is removed: no
    /// attempt made a worktree).
    fn settle(&mut self) -> (Vec<AttemptJob>, Flow, Vec<Effect>) {
        for _ in 0..std::mem::take(&mut self.removals) {
            let effects = self.run.handle_event(RunEvent::WorktreeRemoved);
            assert!(effects.is_empty());
        }
        let (effects, flow) = self.run.settle(true);
        let (jobs, rest) = self.split(effects);
        (jobs, flow, rest)
    }

    /// Tasks the loop started this turn, by index.
    fn started(&mut self) -> Vec<usize> {
        self.settle().0.iter().map(|j| j.index).collect()
    }

    fn event(&mut self, event: RunEvent) -> Vec<Effect> {
        let effects = self.run.handle_event(event);
        self.split(effects).1
    }

    fn split(&mut self, effects: Vec<Effect>) -> (Vec<AttemptJob>, Vec<Effect>) {
        let mut jobs = Vec::new();
        let mut rest = Vec::new();
        for effect in effects {
            match effect {
                Effect::StartAttempt { job, requests } => {
                    self.requests.push((job.index, requests));
                    jobs.push(*job);
                }
                Effect::RemoveWorktree { .. } => self.removals += 1,
                other => rest.push(other),
            }
        }
        (jobs, rest)
    }

    /// Attempt `attempt` of task `index` ended with `end` (a success outputs `output`).
    fn ended(&mut self, index: usize, end: AttemptEnd, output: Option<&str>) -> Vec<Effect> {
        let mut report = self.report(index);
        report.status = end.status();
        report.exit_code = Some(i32::from(end != AttemptEnd::Succeeded));
        report.output = output.map(|o| serde_json::json!(o));
        report.output_hash = output.map(|o| format!("hash of {o}"));
        if end != AttemptEnd::Succeeded {
            report.error = Some(format!("{end:?}"));
        }
        self.event(RunEvent::Attempt(Progress::Done {
            index,
            report: Box::new(report),
        }))
    }

    /// A report of task `index`'s current attempt, as an attempt begins it (failed, retryable).
    fn report(&self, index: usize) -> AttemptFact {
        let task = &self.run.tasks[index];
        let (name, attempt) = (&task.spec.name, task.facts.state.attempt);
        AttemptFact::new(name, attempt, SystemTime::now(), PathBuf::from("log"))
    }

    fn command(&mut self, command: Command) -> Vec<Effect> {
        self.event(RunEvent::Command {
            command,
            config: None,
        })
    }

    fn status(&self, index: usize) -> TaskStatus {
        self.run.tasks[index].facts.state.status
    }

    fn statuses(&self) -> Vec<TaskStatus> {
        self.run
            .tasks
            .iter()
            .map(|t| t.facts.state.status)
            .collect()
    }

    fn merge(&self, index: usize) -> MergeState {
        self.run.tasks[index].facts.merge.state
    }

    /// The summary the run finished with, once it did.
    fn summary(&mut self) -> Option<RunSummary> {
        let mut summary = None;
        while let Ok(event) = self.front.events.try_recv() {
            if let Event::RunFinished(s) = event {
                summary = Some(s);
            }
        }
        summary
    }

    /// The stop request sent to task `index`'s attempts, if any (other requests are passed).
    fn stop_sent(&mut self, index: usize) -> Option<StopReason> {
        let channels = self.requests.iter_mut().filter(|(i, _)| *i == index);
        channels
            .flat_map(|(_, requests)| std::iter::from_fn(|| requests.try_next()))
            .find_map(|request| match request {
                Request::Stop(reason) => Some(reason),
                _ => None,
            })
    }
}

fn retry_timers(effects: &[Effect]) -> Vec<(usize, u64)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::RetryTimer {
                index, generation, ..
            } => Some((*index, *generation)),
            _ => None,
        })
        .collect()
}

fn merges(effects: &[Effect]) -> Vec<usize> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Merge { index } => Some(*index),
            _ => None,
        })
        .collect()
}

fn tasks(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("[[tasks]]\nname = \"{n}\"\nagent = \"shell\"\nprompt = \"true\"\n"))
        .collect()
}

use AttemptEnd::{Failed, Succeeded, TimedOut};
use TaskStatus::{Cancelled, Pending, Preparing, Retrying, Skipped};

#[test]
fn parallel_starts_up_to_max_parallel_and_fills_freed_slots() {
    let plan = format!(
        "name = \"p\"\nmax_parallel = 2\n{}",
        tasks(&["a", "b", "c"])
    );
    let mut h = harness(&plan);
    assert_eq!(h.started(), vec![0, 1]);
    assert_eq!(h.statuses(), vec![Preparing, Preparing, Pending]);
    assert!(h.run.tasks[2].pending.is_some(), "c says what it waits for");
    h.ended(1, Succeeded, Some("b done"));
    assert_eq!(h.started(), vec![2]);
    h.ended(0, Succeeded, None);
    h.ended(2, Succeeded, None);
    let (jobs, flow, _) = h.settle();
    assert!(jobs.is_empty());
    assert_eq!(flow, Flow::Go, "the front end is still there to look");
    assert!(h.summary().is_some_and(|s| s.success && s.succeeded == 3));
}

#[test]
fn sequential_passes_the_output_on_and_skips_the_rest_after_a_failure() {
    let plan = format!(
        "name = \"p\"\nstrategy = \"sequential\"\npass_output = true\nstop_on_failure = true\n{}",
        tasks(&["a", "b", "c"])
    );
    let mut h = harness(&plan);
    assert_eq!(h.started(), vec![0]);
    h.ended(0, Succeeded, Some("output of a"));
    let (jobs, _, _) = h.settle();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].index, 1);
    assert!(
        jobs[0].prompt.contains("output of a"),
        "b's prompt carries a's output: {}",
        jobs[0].prompt
    );
    assert!(jobs[0].context.contains_key("previous_outputs"));
    h.ended(1, Failed, None);
    assert!(h.started().is_empty());
    assert_eq!(h.status(2), Skipped);
    assert!(h.summary().is_some_and(|s| !s.success && s.skipped == 1));
}

#[test]
fn fallback_tries_the_next_alternative_until_one_succeeds() {
    let plan = format!(
        "name = \"p\"\nstrategy = \"fallback\"\n{}",
        tasks(&["first", "second", "third"])
    );
    let mut h = harness(&plan);
    assert_eq!(h.started(), vec![0]);
    h.ended(0, Failed, None);
    assert_eq!(h.started(), vec![1]);
    h.ended(1, Succeeded, None);
    assert!(h.started().is_empty());
    assert_eq!(h.status(2), Skipped);
    // One alternative succeeding is the fallback run's success.
    assert!(h.summary().is_some_and(|s| s.success && s.failed == 1));
}

#[test]
fn batched_starts_the_next_chunk_when_the_whole_chunk_ended() {
    let plan = format!(
        "name = \"p\"\nstrategy = \"batched\"\nbatch_size = 2\nmax_parallel = 4\n{}",
        tasks(&["a", "b", "c"])
    );
    let mut h = harness(&plan);
    assert_eq!(h.started(), vec![0, 1]);
    h.ended(0, Succeeded, None);
    assert!(h.started().is_empty(), "b is still running");
    h.ended(1, Succeeded, None);
    assert_eq!(h.started(), vec![2]);
}

#[test]
fn a_failed_attempt_retries_after_its_timer_and_a_stale_timer_is_ignored() {
    let plan = "name = \"p\"\n[[tasks]]\nname = \"a\"\nagent = \"shell\"\nprompt = \"true\"\nretries = 2\n";
    let mut h = harness(plan);
    assert_eq!(h.started(), vec![0]);
    let effects = h.ended(0, Failed, None);
    assert_eq!(retry_timers(&effects), vec![(0, 1)]);
    assert_eq!(h.status(0), Retrying);
    assert!(h.run.tasks[0].facts.state.retry_at.is_some());
    assert!(h.started().is_empty(), "not before its timer");
    h.event(RunEvent::RetryDue {
        index: 0,
        generation: 0,
    });
    assert!(h.started().is_empty(), "a stale timer starts nothing");
    h.event(RunEvent::RetryDue {
        index: 0,
        generation: 1,
    });
    let (jobs, _, _) = h.settle();
    assert_eq!(jobs.iter().map(|j| j.attempt).collect::<Vec<_>>(), vec![2]);
    // A timeout retries too, while the budget lasts.
    let effects = h.ended(0, TimedOut, None);
    assert_eq!(retry_timers(&effects), vec![(0, 2)]);
    h.event(RunEvent::RetryDue {
        index: 0,
        generation: 2,
    });
    assert_eq!(h.settle().0[0].attempt, 3);
    let effects = h.ended(0, TimedOut, None);
    assert!(retry_timers(&effects).is_empty(), "the budget is spent");
    assert_eq!(h.status(0), TaskStatus::TimedOut);
}

#[test]
fn an_attempt_that_cannot_be_helped_by_a_retry_or_a_stopping_run_does_not_retry() {
    let plan = "name = \"p\"\nmax_parallel = 2\n[defaults]\nretries = 3\nagent = \"shell\"\n[[tasks]]\nname = \"a\"\nprompt = \"true\"\n[[tasks]]\nname = \"b\"\nprompt = \"true\"\n";
    let mut h = harness(plan);
    assert_eq!(h.started(), vec![0, 1]);
    let mut report = h.report(0);
    report.retryable = false;
    let effects = h.event(RunEvent::Attempt(Progress::Done {
        index: 0,
        report: Box::new(report),
    }));
    assert!(retry_timers(&effects).is_empty());
    assert_eq!(h.status(0), TaskStatus::Failed);
    // The front end goes away: b is told to stop, and its failure then does not retry.
    h.event(RunEvent::FrontEndGone);
    assert!(matches!(h.stop_sent(1), Some(StopReason::Shutdown)));
    let effects = h.ended(1, Failed, None);
    assert!(retry_timers(&effects).is_empty());
    let (_, flow, _) = h.settle();
    assert_eq!(flow, Flow::End);
    assert!(h.summary().is_some_and(|s| s.interrupted));
}

#[test]
fn a_retry_by_hand_requeues_the_task_and_the_dependents_it_skipped() {
    let plan = "name = \"p\"\n[defaults]\nagent = \"shell\"\n[[tasks]]\nname = \"a\"\nprompt = \"true\"\n[[tasks]]\nname = \"b\"\nprompt = \"true\"\ndepends_on = [\"a\"]\n";
    let mut h = harness(plan);
    assert_eq!(h.started(), vec![0]);
    h.ended(0, Failed, None);
    assert!(h.started().is_empty());
    assert_eq!(h.statuses(), vec![TaskStatus::Failed, Skipped]);
    // A succeeded task is not retried by hand.
    h.command(Command::Retry { task: TaskId(1) });
    h.command(Command::Retry { task: TaskId(0) });
    assert_eq!(h.statuses(), vec![Pending, Pending]);
    let (jobs, _, _) = h.settle();
    assert_eq!(
        jobs.iter()
            .map(|j| (j.index, j.attempt))
            .collect::<Vec<_>>(),
        vec![(0, 2)]
    );
    h.ended(0, Succeeded, None);
    assert_eq!(h.started(), vec![1]);
    h.ended(1, Succeeded, None);
    h.command(Command::Retry { task: TaskId(1) });
    assert_eq!(h.status(1), TaskStatus::Succeeded);
}

#[test]
fn a_first_passing_race_merges_its_first_success_and_stops_the_siblings() {
    let plan = "name = \"p\"\nmax_parallel = 3\n[[tasks]]\nname = \"job\"\nagent = \"shell\"\nprompt = \"true\"\nreplicas = 3\npick = \"first-passing\"\n";
    let mut h = harness(plan);
    assert_eq!(h.started(), vec![0, 1, 2]);
    let effects = h.ended(1, Succeeded, None);
    assert_eq!(merges(&effects), vec![1]);
    assert_eq!(h.merge(1), MergeState::Pending);
    assert_eq!(h.merge(0), MergeState::Discarded);
    assert_eq!(h.merge(2), MergeState::Discarded);
    for sibling in [0, 2] {
        assert!(
            matches!(h.stop_sent(sibling), Some(StopReason::Raced(w)) if w == "job.2"),
            "job.{} is told job.2 won",
            sibling + 1
        );
    }
    h.ended(0, AttemptEnd::Cancelled, None);
    h.ended(2, AttemptEnd::Cancelled, None);
    let (_, flow, _) = h.settle();
    assert_eq!(flow, Flow::Go);
    assert!(h.summary().is_none(), "not finished while the merge runs");
    let commit = "c".repeat(40);
    h.event(RunEvent::MergeDone {
        index: 1,
        outcome: Ok(MergeOutcome::Merged {
            commit: commit.clone(),
            fast_forward: true,
        }),
    });
    assert_eq!(h.merge(1), MergeState::Merged);
    assert_eq!(h.run.tasks[1].facts.merge.commit, Some(commit));
    h.settle();
    let summary = h.summary().expect("finished after the merge");
    assert!(summary.success, "a race succeeds when one sibling did");
    let groups = h.run.results().groups;
    assert_eq!(groups[0].picked.as_deref(), Some("job.2"));
}

#[test]
fn a_manual_race_waits_for_the_users_pick() {
    let plan = "name = \"p\"\nmax_parallel = 2\n[[tasks]]\nname = \"job\"\nagent = \"shell\"\nprompt = \"true\"\nreplicas = 2\n";
    let mut h = harness(plan);
    assert_eq!(h.started(), vec![0, 1]);
    assert!(merges(&h.ended(0, Succeeded, None)).is_empty());
    assert!(merges(&h.ended(1, Succeeded, None)).is_empty());
    assert_eq!(h.merge(0), MergeState::NotRequested);
    let effects = h.command(Command::Merge { task: TaskId(1) });
    assert_eq!(merges(&effects), vec![1]);
    assert_eq!(h.merge(0), MergeState::Discarded);
    // A discarded sibling cannot be merged any more.
    assert!(merges(&h.command(Command::Merge { task: TaskId(0) })).is_empty());
    // A refused merge may be asked for again; the pick stays.
    h.event(RunEvent::MergeDone {
        index: 1,
        outcome: Ok(MergeOutcome::Refused {
            reason: "the checkout has changes".into(),
        }),
    });
    assert_eq!(h.merge(1), MergeState::Refused);
    assert_eq!(
        h.run.tasks[1].facts.merge.reason.as_deref(),
        Some("the checkout has changes")
    );
    assert_eq!(
        merges(&h.command(Command::Merge { task: TaskId(1) })),
        vec![1]
    );
    assert_eq!(h.merge(0), MergeState::Discarded);
}

#[test]
fn fail_fast_cancels_the_running_and_skips_the_pending() {
    let plan = format!(
        "name = \"p\"\nmax_parallel = 2\nfail_fast = true\n{}",
        tasks(&["a", "b", "c"])
    );
    let mut h = harness(&plan);
    assert_eq!(h.started(), vec![0, 1]);
    h.ended(0, Failed, None);
    assert!(matches!(h.stop_sent(1), Some(StopReason::FailFast(t)) if t == "a"));
    assert_eq!(h.status(2), Skipped);
    assert!(h.started().is_empty());
    h.ended(1, AttemptEnd::Cancelled, None);
    assert_eq!(h.status(1), Cancelled);
}

#[test]
fn a_task_added_while_the_run_goes_on_joins_it_and_a_stopping_run_refuses_it() {
    let plan = format!("name = \"p\"\n{}", tasks(&["a"]));
    let mut h = harness(&plan);
    assert_eq!(h.started(), vec![0]);
    let new = |name: &str| super::super::api::NewTask {
        name: name.into(),
        agent: "shell".into(),
        prompt: "true".into(),
        timeout: None,
        retries: None,
        keys: Default::default(),
    };
    h.event(RunEvent::Command {
        command: Command::AddTask { task: new("b") },
        config: Some(Box::new(Ok(UserConfig::default()))),
    });
    assert_eq!(h.run.tasks.len(), 2);
    assert_eq!(h.started(), vec![1]);
    assert!(plan_copy(&h.run.paths.run_dir).contains("name = \"b\""));
    h.event(RunEvent::FrontEndGone);
    h.event(RunEvent::Command {
        command: Command::AddTask { task: new("c") },
        config: Some(Box::new(Ok(UserConfig::default()))),
    });
    assert_eq!(h.run.tasks.len(), 2);
    let rejected = std::iter::from_fn(|| h.front.events.try_recv().ok())
        .any(|e| matches!(e, Event::TaskRejected { name, .. } if name == "c"));
    assert!(rejected);
}

fn plan_copy(run_dir: &Path) -> String {
    std::fs::read_to_string(run_dir.join("plan.toml")).unwrap_or_default()
}

#[test]
fn a_pause_reaches_every_attempt_and_holds_due_retries_until_continue() {
    let plan = "name = \"p\"\nmax_parallel = 2\n[defaults]\nagent = \"shell\"\nretries = 1\n[[tasks]]\nname = \"a\"\nprompt = \"true\"\n[[tasks]]\nname = \"b\"\nprompt = \"true\"\n";
    let mut h = harness(plan);
    assert_eq!(h.started(), vec![0, 1]);
    let effects = h.ended(0, Failed, None);
    assert_eq!(retry_timers(&effects), vec![(0, 1)]);
    let effects = h.command(Command::Pause);
    assert!(matches!(
        effects.as_slice(),
        [Effect::AwaitAcks { paused: true, .. }]
    ));
    let asked: Vec<bool> = (h.requests.iter_mut())
        .filter(|(i, _)| *i == 1)
        .flat_map(|(_, r)| std::iter::from_fn(|| r.try_next()))
        .map(|request| matches!(request, Request::Pause(_)))
        .collect();
    assert_eq!(asked, vec![true], "b, running, is asked to pause");
    h.event(RunEvent::RetryDue {
        index: 0,
        generation: 1,
    });
    assert!(h.started().is_empty(), "no retry starts while paused");
    h.command(Command::Continue);
    assert_eq!(h.started(), vec![0]);
}

#[test]
fn a_pick_discards_the_siblings_whose_merge_can_still_be_discarded() {
    use MergeState::*;
    let groups = [Some("x"), Some("x"), Some("x"), Some("x"), Some("y"), None];
    let mut merges = [
        NotRequested,
        Pending,
        Merged,
        Conflict,
        NotRequested,
        NotRequested,
    ];
    let tasks = groups.iter().copied().zip(merges.iter_mut());
    assert_eq!(super::merge::pick_race(tasks, 1), vec![0, 3]);
    assert_eq!(
        merges,
        [
            Discarded,
            Pending,
            Merged,
            Discarded,
            NotRequested,
            NotRequested
        ]
    );
    let tasks = groups.iter().copied().zip(merges.iter_mut());
    assert!(super::merge::pick_race(tasks, 5).is_empty(), "no race");
}

mod follow;
mod recovery;
