//! `grove stop <run-id>`: stops a run hosted by the repository's grove server, as the
//! dashboard's stop does (every task cancelled: SIGTERM, the grace period, SIGKILL).

use std::path::Path;

use super::exit::UsageError;
use super::history::existing_run;
use super::out::say;
use crate::server::client;
use crate::server::messages::{Request, Response};

pub fn stop(root: &Path, run_id: &str) -> anyhow::Result<i32> {
    existing_run(root, run_id)?;
    let not_live = || {
        UsageError(format!(
            "run {run_id} is not running in this repository's grove server (see grove ps)"
        ))
    };
    let Some(mut server) = client::connect(root)? else {
        return Err(not_live().into());
    };
    let request = Request::Stop {
        run_id: run_id.to_string(),
    };
    match server.ask(&request)? {
        Response::Stopping => {
            say(format_args!(
                "grove: stopping run {run_id}; grove wait {run_id} waits for its end"
            ));
            Ok(0)
        }
        Response::NotHosted => Err(not_live().into()),
        other => anyhow::bail!("the grove server answered {other:?} to a stop"),
    }
}
