//! The run's time is the time it ran: a finished run reopened by a retry does not count the time
//! it sat finished (the user looking around in the dashboard).

use std::time::Duration;

use crate::support::engine::{self, finished};
use crate::support::*;
use grove::engine::api::{Command, TaskId};

/// How long the finished run sits before the retry: far longer than the retry itself takes.
const IDLE: Duration = Duration::from_secs(5);

#[test]
fn time_spent_finished_is_not_the_run_s_time() {
    let repo = Repo::new();
    let (plan, target) = engine::load(
        &repo,
        &Plan::named("clock").shell_task("flaky", "exit 1").to_toml(),
    );
    engine::runtime().block_on(async move {
        let (mut front, engine) = engine::start(plan, target, (24, 80));
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
