//! What a client asks the server and what it answers, one frame each after the handshake.
//! Requests are answered in order on their connection; `Wait` is answered when its run ends.
//! `Attach`, answered `Attached`, turns the connection into a stream: the server sends
//! `Stream` frames (a snapshot of every task and pane, `Ready`, then events and pane output as
//! they happen) and the client sends `Command` frames, until either side closes it.

use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::snapshot::PaneSnapshot;
use crate::engine::api::{Command, Event, RunInfo, TaskId, TaskView};
use crate::environment::Environment;

/// A client's request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// Load the plan at `plan` (absolute) as `grove run` would from the folder `start` (the
    /// client's `--repo` or current folder, absolute) and start it.
    Start {
        plan: PathBuf,
        start: PathBuf,
        /// The environment of the command that asked: the run's (see `Environment`).
        #[serde(default)]
        env: Environment,
        /// Attach this connection to the run at once (`Started`, then `Attached` and the
        /// stream): a run that ends quickly still reaches its client whole.
        #[serde(default)]
        attach: bool,
    },
    /// Start an empty `adhoc` run (`grove new`), its tasks to be added from a dashboard; `start`
    /// as in `Start`.
    New {
        start: PathBuf,
        /// The environment of the command that asked: the run's (see `Environment`).
        #[serde(default)]
        env: Environment,
        #[serde(default)]
        attach: bool,
    },
    /// Continue an unfinished run of this repository from its journal (`grove resume`).
    Resume {
        run_id: String,
        /// The environment of the command that asked: the run's (see `Environment`).
        #[serde(default)]
        env: Environment,
        #[serde(default)]
        attach: bool,
    },
    /// Reopen a finished run for one follow-up of `task` (`grove follow-up`).
    FollowUp {
        run_id: String,
        task: String,
        prompt: String,
        /// The environment of the command that asked: the run's (see `Environment`).
        #[serde(default)]
        env: Environment,
        #[serde(default)]
        attach: bool,
    },
    /// Watch and drive a hosted run: `run_id`, or the newest live one when `None`.
    Attach { run_id: Option<String> },
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
    /// The connection now streams the run (see `Stream`).
    Attached { info: Box<RunInfo> },
    /// This server does not host that run (never did, or since it started): the run's records
    /// tell the rest.
    NotHosted,
}

/// What the server sends an attached client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "stream", rename_all = "snake_case")]
pub enum Stream {
    /// A task as it is now: its view, and its pane's state (screen, modes…), which replaces
    /// whatever the client's model of that pane held. Sent for every task on attach and when a
    /// client that fell behind gets a fresh snapshot (the screen alone: its history follows in a
    /// `Pane`), and when a task joins the run (whole).
    Task {
        view: Box<TaskView>,
        pane: PaneSnapshot,
        /// How many lines of history the pane keeps.
        scrollback: usize,
    },
    /// Every task of the snapshot has been sent.
    Ready,
    /// A task's pane's whole state (history, screen, modes…), which replaces whatever the
    /// client's model of it held: after a snapshot's `Task`, which had its screen alone.
    Pane { task: TaskId, pane: PaneSnapshot },
    /// Something happened in the run (never `TaskAdded` or `Output`: `Task` and the pane's own
    /// bytes say those; nor `Paused`, which is below).
    Event { event: Box<Event> },
    /// `Event::Paused` (a bool in a tagged enum has no JSON form of its own).
    Paused { paused: bool },
    /// Bytes the task's agent wrote (or grove's own lines in its pane), as they came.
    Output { task: TaskId, data: Bytes },
    /// The task's pane (and its PTY) was resized.
    Resized { task: TaskId, rows: u16, cols: u16 },
    /// The answer to `FromClient::Leave`: the client is counted off, and when it was the last
    /// client of a finished run, the run has closed (its lock and records let go). Last frame.
    Left,
}

impl Stream {
    /// The frame that carries `event`.
    pub fn of_event(event: Event) -> Stream {
        match event {
            Event::Paused(paused) => Stream::Paused { paused },
            event => Stream::Event {
                event: Box::new(event),
            },
        }
    }
}

/// What an attached client sends the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "client", rename_all = "snake_case")]
pub enum FromClient {
    /// For the run's engine, as a front end's command.
    Command(Command),
    /// The client leaves: the server counts it off, waits for the run to close when that was the
    /// last client of a finished run, then answers `Stream::Left`.
    Leave,
}

/// Output bytes: the text they begin with, then the rest as numbers. Terminal output is almost
/// always text, which JSON carries as it is; a chunk ending in half a character, or holding
/// bytes that are not UTF-8, still arrives exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bytes {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rest: Vec<u8>,
}

impl Bytes {
    pub fn of(bytes: &[u8]) -> Bytes {
        let valid = match std::str::from_utf8(bytes) {
            Ok(text) => text.len(),
            Err(e) => e.valid_up_to(),
        };
        let (text, rest) = bytes.split_at(valid);
        Bytes {
            // The split is at a character boundary: never lossy.
            text: String::from_utf8_lossy(text).into_owned(),
            rest: rest.to_vec(),
        }
    }

    /// The bytes, in their order.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.text.len() + self.rest.len());
        bytes.extend_from_slice(self.text.as_bytes());
        bytes.extend_from_slice(&self.rest);
        bytes
    }
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
            env: [("A", "1")].into_iter().collect(),
            attach: false,
        };
        let json = serde_json::to_string(&start).unwrap();
        assert_eq!(
            json,
            r#"{"request":"start","plan":"/r/plan.toml","start":"/r","env":[["A","1"]],"attach":false}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), start);
        let ended = Response::Ended { exit_code: 130 };
        let json = serde_json::to_string(&ended).unwrap();
        assert_eq!(json, r#"{"response":"ended","exit_code":130}"#);
        assert_eq!(serde_json::from_str::<Response>(&json).unwrap(), ended);
    }

    #[test]
    fn every_event_a_client_is_sent_has_a_json_form() {
        use crate::engine::api::{RunSummary, TaskId};
        use crate::git::MergeOutcome;
        let summary = RunSummary {
            run_id: "r".into(),
            results_path: "/r/results.json".into(),
            results_error: None,
            total: 1,
            succeeded: 1,
            failed: 0,
            timed_out: 0,
            cancelled: 0,
            skipped: 0,
            elapsed: std::time::Duration::from_secs(1),
            interrupted: false,
            success: true,
        };
        let events = [
            Event::Paused(true),
            Event::Paused(false),
            Event::RunFinished(summary),
            Event::TaskRejected {
                name: "t".into(),
                error: "taken".into(),
            },
            Event::RecordWrite {
                text: "disk full".into(),
                failed: true,
            },
            Event::Merged {
                task: TaskId(0),
                outcome: MergeOutcome::AlreadyMerged {
                    commit: "c0ffee".into(),
                },
            },
        ];
        for event in events {
            let shown = format!("{event:?}");
            let json = serde_json::to_string(&Stream::of_event(event)).expect(&shown);
            let back: Stream = serde_json::from_str(&json).expect(&json);
            let back = match back {
                Stream::Paused { paused } => Event::Paused(paused),
                Stream::Event { event } => *event,
                other => panic!("{other:?}"),
            };
            assert_eq!(format!("{back:?}"), shown);
        }
    }

    #[test]
    fn output_bytes_arrive_exactly_and_text_stays_text() {
        let cases: [&[u8]; 5] = [
            b"",
            b"plain \x1b[1mbold\x1b[0m\r\n",
            "caf\u{e9}".as_bytes(),
            &[b'a', 0xc3],
            &[0xff, b'a', 0xc3, 0xa9],
        ];
        for bytes in cases {
            let data = Bytes::of(bytes);
            let json = serde_json::to_string(&data).unwrap();
            let back: Bytes = serde_json::from_str(&json).unwrap();
            assert_eq!(back.to_vec(), bytes, "{json}");
        }
        let json = serde_json::to_string(&Bytes::of(&[b'o', b'k', 0xc3])).unwrap();
        assert_eq!(json, r#"{"text":"ok","rest":[195]}"#);
    }
}
