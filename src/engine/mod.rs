//! The engine: runs a plan's tasks, one state machine per task, and talks to front ends only
//! through `api::Command` and `api::Event`.

mod admission;
pub mod api;
mod attempt;
mod keep;
mod launch;
mod leftovers;
pub mod output;
mod pause;
mod ports;
mod resume;
pub mod retry;
mod run;
pub mod schedule;
mod setup;
pub mod state;
mod stream;
mod watch;

use std::path::Path;

pub use launch::{EngineError, RunRequest};
pub use resume::{resume_plan, ResumeError};
pub use run::{describe_merge, merge_task, pick_race, record_outcome};

/// Creates the run's records and starts it on the current tokio runtime.
pub fn start(req: RunRequest) -> Result<(api::FrontEnd, tokio::task::JoinHandle<()>), EngineError> {
    Ok(run::begin(launch::new_run(req)?))
}

/// Rebuilds run `run_id` of the repository at `repo_root` from its journal and starts its run
/// loop on the current tokio runtime.
pub fn resume(
    repo_root: &Path,
    run_id: &str,
) -> Result<(api::FrontEnd, tokio::task::JoinHandle<()>), ResumeError> {
    Ok(run::begin(resume::prepare(repo_root, run_id)?))
}
