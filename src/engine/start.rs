//! Where a run loop begins: a new run (`start`) or one rebuilt from its journal (`resume`),
//! each made into a `Launch` and handed to the loop.

use std::path::Path;

use tokio::task::JoinHandle;

use crate::environment::Environment;

use super::api::FrontEnd;
use super::launch::{self, EngineError, RunRequest};
use super::resume::{self, ResumeError};
use super::run;

/// Creates the run's records and starts it on the current tokio runtime.
pub fn start(req: RunRequest) -> Result<(FrontEnd, JoinHandle<()>), EngineError> {
    Ok(run::begin(launch::new_run(req)?))
}

/// Rebuilds run `run_id` of the repository at `repo_root` from its journal and starts its run
/// loop on the current tokio runtime; its processes start with `env` (see `RunRequest::env`).
pub fn resume(
    repo_root: &Path,
    run_id: &str,
    env: Environment,
) -> Result<(FrontEnd, JoinHandle<()>), ResumeError> {
    Ok(run::begin(resume::prepare(repo_root, run_id, None, env)?))
}

/// `grove follow-up`: reopens finished run `run_id` the way `resume` does and starts one
/// follow-up of task `task` with `prompt` (nothing else of the run runs). Refused before
/// anything is written when the run has unfinished work or the task cannot continue a session.
/// Its processes start with `env`.
pub fn follow_up(
    repo_root: &Path,
    run_id: &str,
    task: &str,
    prompt: &str,
    env: Environment,
) -> Result<(FrontEnd, JoinHandle<()>), ResumeError> {
    let asked = Some((task, prompt));
    Ok(run::begin(resume::prepare(repo_root, run_id, asked, env)?))
}
