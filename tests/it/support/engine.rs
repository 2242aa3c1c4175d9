//! The engine in this process, without the binary: for tests that drive it with commands and
//! read its events, or hand its front end to the dashboard. Every such test starts it here, so
//! a change of the engine's entry point is made once.

use grove::engine::api::{Event, FrontEnd, RunSummary};
use grove::engine::RunRequest;
use grove::environment::Environment;
use grove::plan::model::Plan;
use grove::plan::RepoTarget;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

use super::repo::Repo;

/// Writes `text` as the test's plan file (outside the repository, where `Repo::write_plan`
/// puts it), loads it as the CLI does and resolves its repository.
pub fn load(repo: &Repo, text: &str) -> (Plan, RepoTarget) {
    let path = repo.write_plan(text);
    let plan = grove::plan::load(&path).unwrap();
    let target = grove::plan::resolve_repo(&plan, repo.path()).unwrap();
    (plan, target)
}

/// A tokio runtime for one test's engine.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Starts the engine on `plan` (inside a runtime): its front end and the engine's task.
pub fn start(plan: Plan, repo: RepoTarget, pane_size: (u16, u16)) -> (FrontEnd, JoinHandle<()>) {
    start_with_env(plan, repo, pane_size, Environment::current())
}

/// Like [`start`], the run's processes starting with `env`.
pub fn start_with_env(
    plan: Plan,
    repo: RepoTarget,
    pane_size: (u16, u16),
    env: Environment,
) -> (FrontEnd, JoinHandle<()>) {
    grove::engine::start(RunRequest {
        plan,
        repo,
        pane_size,
        env,
    })
    .unwrap()
}

/// The summary of the run's next `RunFinished`, skipping every other event.
pub async fn finished(events: &mut UnboundedReceiver<Event>) -> RunSummary {
    loop {
        if let Event::RunFinished(summary) = events.recv().await.expect("the engine ended") {
            return summary;
        }
    }
}
