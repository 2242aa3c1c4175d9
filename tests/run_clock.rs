//! The run's time is the time it ran: a finished run reopened by a retry does not count the time
//! it sat finished (the user looking around in the dashboard).

mod common;

use std::time::Duration;

use common::*;
use grove::engine::api::{Command, Event, RunSummary, TaskId};
use grove::engine::{self, RunRequest};

/// How long the finished run sits before the retry: far longer than the retry itself takes.
const IDLE: Duration = Duration::from_secs(5);

#[test]
fn time_spent_finished_is_not_the_run_s_time() {
    let repo = Repo::new();
    let path = repo.write_plan(
        "name = \"clock\"\n[[tasks]]\nname = \"flaky\"\nagent = \"shell\"\nprompt = \"exit 1\"\n",
    );
    let plan = grove::plan::load(&path).unwrap();
    let target = grove::plan::resolve_repo(&plan, repo.path()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let (mut front, engine) = engine::start(RunRequest {
            plan,
            repo: target,
            pane_size: (24, 80),
        })
        .unwrap();
        async fn finished(events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>) -> RunSummary {
            loop {
                if let Event::RunFinished(s) = events.recv().await.expect("the engine ended") {
                    return s;
                }
            }
        }
        let first = finished(&mut front.events).await;
        tokio::time::sleep(IDLE).await;
        front
            .commands
            .send(Command::Retry { task: TaskId(0) })
            .unwrap();
        let second = finished(&mut front.events).await;
        assert!(
            second.elapsed < first.elapsed + IDLE,
            "the idle {IDLE:?} was counted: {:?} then {:?}",
            first.elapsed,
            second.elapsed
        );
        front.commands.send(Command::Shutdown).unwrap();
        engine.await.unwrap();
    });
}
