//! `grove wait <run-id>`: blocks until the run ends and exits with its exit code, as the
//! foreground `grove run` would have (0, 1, 130…). A run that has ended already: its recorded
//! outcome. A run whose server (or grove process) died before it ended: says so and points at
//! `grove resume`.

use std::path::Path;
use std::time::Duration;

use super::history::{existing_run, RunEntry, RunState};
use super::repo::repo_root;
use crate::server::client::{self, ServerGone};
use crate::server::messages::{Request, Response};

/// How often the records of a run in a foreground grove process are read again.
const POLL: Duration = Duration::from_millis(200);

pub fn wait(run_id: &str, repo: Option<&Path>) -> anyhow::Result<i32> {
    let root = repo_root(repo)?;
    existing_run(&root, run_id)?;
    if let Some(mut server) = client::connect(&root)? {
        let request = Request::Wait {
            run_id: run_id.to_string(),
        };
        match server.ask(&request) {
            Ok(Response::Ended { exit_code }) => return Ok(exit_code),
            Ok(Response::NotHosted) => {}
            Ok(other) => anyhow::bail!("the grove server answered {other:?} to a wait"),
            Err(e) if e.downcast_ref::<ServerGone>().is_some() => {
                return Ok(died(&root, run_id, "its grove server ended before it did"));
            }
            Err(e) => return Err(e),
        }
    }
    // Not in a server: the records say how it ended, or a foreground grove runs it still.
    loop {
        let entry = RunEntry::load(&root, run_id);
        let recorded = entry.results.as_ref().and_then(|r| r.exit_code());
        match (entry.state(), recorded) {
            (RunState::Running { .. }, _) => std::thread::sleep(POLL),
            (_, Some(exit_code)) => return Ok(exit_code),
            (_, None) => {
                return Ok(died(
                    &root,
                    run_id,
                    "no grove server or grove process runs it (killed?)",
                ))
            }
        }
    }
}

/// A run whose process went away before it ended: how it ended when it did after all (as the
/// server died), else what to do.
fn died(root: &Path, run_id: &str, why: &str) -> i32 {
    let entry = RunEntry::load(root, run_id);
    if let Some(exit_code) = entry.results.as_ref().and_then(|r| r.exit_code()) {
        return exit_code;
    }
    eprintln!(
        "error: run {run_id} has not ended and is not running: {why}; grove resume {run_id} continues it"
    );
    1
}
