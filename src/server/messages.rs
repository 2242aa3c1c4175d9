//! What a client asks the server and what it answers, one frame each after the handshake.
//! Requests are answered in order on their connection; `Wait` is answered when its run ends.

use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// A client's request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// Load the plan at `plan` (absolute) as `grove run` would from the folder `start` (the
    /// client's `--repo` or current folder, absolute) and start it.
    Start { plan: PathBuf, start: PathBuf },
    /// Continue an unfinished run of this repository from its journal (`grove resume`).
    Resume { run_id: String },
    /// The runs this server hosts that have not ended.
    Runs,
    /// Stop a run like the dashboard's stop: cancel every task (SIGTERM, grace, SIGKILL).
    Stop { run_id: String },
    /// Answered when the run ends, with its exit code.
    Wait { run_id: String },
}

/// The server's answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "response", rename_all = "snake_case")]
pub enum Response {
    /// The run started (or resumed) and runs in the server.
    Started { run_id: String },
    /// A request the server could not carry out: what the command prints after `error: `, and
    /// the exit code it ends with (2 for a bad plan, as a foreground run's).
    Failed { message: String, exit_code: i32 },
    /// The live runs, oldest first, and the server's process id.
    Runs { server_pid: u32, runs: Vec<RunRow> },
    /// The stop was passed on; the run ends once its agents have stopped.
    Stopping,
    /// The run ended with this exit code (0, 1, 130…).
    Ended { exit_code: i32 },
    /// This server does not host that run (never did, or since it started): the run's records
    /// tell the rest.
    NotHosted,
}

/// One live run as `grove ps` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub run_id: String,
    pub plan: String,
    pub started: SystemTime,
    /// "2 running, 1 pending": the tasks by status.
    pub tasks: String,
    /// Clients connected to this run (those waiting on it).
    pub clients: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses_are_tagged_json() {
        let start = Request::Start {
            plan: "/r/plan.toml".into(),
            start: "/r".into(),
        };
        let json = serde_json::to_string(&start).unwrap();
        assert_eq!(
            json,
            r#"{"request":"start","plan":"/r/plan.toml","start":"/r"}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), start);
        let ended = Response::Ended { exit_code: 130 };
        let json = serde_json::to_string(&ended).unwrap();
        assert_eq!(json, r#"{"response":"ended","exit_code":130}"#);
        assert_eq!(serde_json::from_str::<Response>(&json).unwrap(), ended);
    }
}
