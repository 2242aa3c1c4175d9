//! `grove run --detach` and `grove resume --detach`: the run starts in the repository's grove
//! server (started if none runs) and the command returns at once with the run's id.

use std::path::Path;

use super::exit::UsageError;
use super::out::say;
use super::repo::{repo_root, start_dir};
use crate::environment::Environment;
use crate::server::client;
use crate::server::messages::{Request, Response};

/// `grove run --detach`: the plan is checked here first (a bad plan is exit 2 with where it is
/// wrong, and no server started), then again by the server, which runs it.
pub fn run(plan: &Path, repo: Option<&Path>) -> anyhow::Result<i32> {
    let (loaded, target, _) = super::run::load(plan, repo)?;
    if let Some(refusal) = crate::agent::headless_refusal(&loaded) {
        return Err(UsageError(refusal).into());
    }
    if let Some(warning) = crate::sandbox::unavailable_warning(&loaded) {
        eprintln!("{warning}");
    }
    let cwd = std::env::current_dir()?;
    let request = Request::Start {
        plan: cwd.join(plan),
        start: cwd.join(start_dir(repo)?),
        env: Environment::current(),
        attach: false,
    };
    started(&target.root, &request)
}

/// `grove resume --detach`.
pub fn resume(run_id: &str, repo: Option<&Path>) -> anyhow::Result<i32> {
    let root = repo_root(repo)?;
    super::history::existing_run(&root, run_id)?;
    let request = Request::Resume {
        run_id: run_id.to_string(),
        env: Environment::current(),
        attach: false,
    };
    started(&root, &request)
}

fn started(root: &Path, request: &Request) -> anyhow::Result<i32> {
    let mut server = client::connect_or_start(root)?;
    match server.ask(request)? {
        Response::Started { run_id } => {
            // The run has started whether or not anyone reads this (`| head -1`).
            say(format_args!(
                "grove: run {run_id} started in the grove server of {}; follow it with:\n  \
                 grove wait {run_id}   blocks until it ends, exits with its exit code\n  \
                 grove ps{:w$}   lists the live runs\n  \
                 grove stop {run_id}   stops it",
                root.display(),
                "",
                w = run_id.len() + 3
            ));
            Ok(0)
        }
        Response::Failed { message, exit_code } => {
            eprintln!("error: {message}");
            Ok(exit_code)
        }
        other => anyhow::bail!("the grove server answered {other:?} to a start"),
    }
}
