//! What a client asks the server and what it answers, one frame each after the handshake.
//! Requests are answered in order on their connection; `Wait` is answered when its run ends.
//! `Attach`, answered `Attached`, turns the connection into a stream: the server sends
//! `Stream` frames (a snapshot of every task and pane, `Ready`, then events and pane output as
//! they happen) and the client sends `Command` frames, until either side closes it.

use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::frame::{self, FrameError};
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
    /// Bytes the task's agent wrote (or grove's own lines in its pane), as they came. Not JSON
    /// (escaping every escape sequence's ESC cost more than the rest of the way): a binary
    /// frame of its own, see `Stream::encode`.
    #[serde(skip)]
    Output { task: TaskId, data: Vec<u8> },
    /// The task's pane (and its PTY) was resized.
    Resized { task: TaskId, rows: u16, cols: u16 },
    /// The answer to `FromClient::Leave`: the client is counted off, and when it was the last
    /// client of a finished run, the run has closed (its lock and records let go). Last frame.
    Left,
}

/// The first payload byte of a binary `Output` frame (a JSON payload never begins with it),
/// then the task's index (u64, big-endian), then the bytes.
const OUTPUT: u8 = 0;
const OUTPUT_HEADER: usize = 1 + 8;

impl Stream {
    /// The frame of this message: binary for `Output`, JSON for the rest.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        match self {
            Stream::Output { task, data } => Stream::encode_output(*task, data),
            other => frame::encode(other),
        }
    }

    /// The frame of `Stream::Output { task, data }`, from borrowed bytes.
    pub fn encode_output(task: TaskId, data: &[u8]) -> Result<Vec<u8>, FrameError> {
        frame::encode_with(|bytes| {
            bytes.reserve(OUTPUT_HEADER + data.len());
            bytes.push(OUTPUT);
            bytes.extend_from_slice(&(task.index() as u64).to_be_bytes());
            bytes.extend_from_slice(data);
            Ok(())
        })
    }

    /// The message of a frame's payload (`encode`'s, without the length).
    pub fn decode(mut payload: Vec<u8>) -> Result<Stream, FrameError> {
        if payload.first() != Some(&OUTPUT) {
            return Ok(serde_json::from_slice(&payload)?);
        }
        let Some(index) = payload.get(1..OUTPUT_HEADER) else {
            return Err(FrameError::Malformed(format!(
                "an output frame of {} bytes is shorter than its {OUTPUT_HEADER}-byte header",
                payload.len()
            )));
        };
        let mut be = [0; 8];
        be.copy_from_slice(index);
        let index = u64::from_be_bytes(be);
        let index = usize::try_from(index)
            .map_err(|_| FrameError::Malformed(format!("an output frame is for task #{index}")))?;
        payload.drain(..OUTPUT_HEADER);
        Ok(Stream::Output {
            task: TaskId(index),
            data: payload,
        })
    }

    /// Reads one frame's message; `None` and errors as `frame::read`.
    pub fn read(from: &mut impl std::io::Read) -> Result<Option<Stream>, FrameError> {
        frame::read_payload(from)?.map(Stream::decode).transpose()
    }

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

    /// Frames of every kind, as the server writes them one after another.
    fn frames(streams: &[Stream]) -> Vec<u8> {
        streams.iter().flat_map(|s| s.encode().unwrap()).collect()
    }

    #[test]
    fn output_frames_carry_the_bytes_exactly_between_json_frames() {
        let outputs: [&[u8]; 6] = [
            b"",
            b"plain \x1b[1mbold\x1b[0m\r\n",
            "caf\u{e9} \u{4e2d}".as_bytes(),
            &[b'a', 0xc3],
            &[0, 0xff, b'{', 0xc3, 0xa9],
            &[b'"'; 3],
        ];
        let mut streams = vec![Stream::Ready];
        for (i, data) in outputs.iter().enumerate() {
            streams.push(Stream::Output {
                task: TaskId(i * 1000),
                data: data.to_vec(),
            });
            streams.push(Stream::Resized {
                task: TaskId(i),
                rows: 3,
                cols: 4,
            });
        }
        let bytes = frames(&streams);
        let mut from = bytes.as_slice();
        let mut back = Vec::new();
        while let Some(stream) = Stream::read(&mut from).unwrap() {
            back.push(stream);
        }
        assert_eq!(format!("{back:?}"), format!("{streams:?}"));
    }

    #[test]
    fn an_output_frame_is_its_bytes_unescaped_behind_a_small_header() {
        let data = b"\x1b[31mred\x1b[0m";
        let frame = Stream::encode_output(TaskId(2), data).unwrap();
        assert_eq!(&frame[..4], &(9 + data.len() as u32).to_be_bytes());
        assert_eq!(&frame[4..13], &[0, 0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(&frame[13..], data);
        // Not by way of JSON, where it would be escaped.
        let output = Stream::Output {
            task: TaskId(2),
            data: data.to_vec(),
        };
        assert!(frame::encode(&output).is_err());
        assert_eq!(output.encode().unwrap(), frame);
    }

    #[test]
    fn a_short_or_cut_output_frame_is_refused() {
        for len in 1..9 {
            let payload = [&[0u8][..], &[0; 8][..len - 1]].concat();
            let err = Stream::decode(payload).unwrap_err();
            assert!(matches!(err, FrameError::Malformed(_)), "{err}");
            assert!(
                err.to_string().contains("shorter than its 9-byte header"),
                "{err}"
            );
        }
        let whole = Stream::encode_output(TaskId(1), b"cut here").unwrap();
        for cut in 1..whole.len() {
            let err = Stream::read(&mut &whole[..cut]).unwrap_err();
            assert!(
                matches!(err, FrameError::Truncated { .. }),
                "cut at {cut}: {err}"
            );
        }
    }

    #[test]
    fn an_output_frame_over_the_limit_is_neither_written_nor_read() {
        let big = vec![b'x'; frame::MAX_FRAME as usize];
        let err = Stream::encode_output(TaskId(0), &big).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
        let mut header = (frame::MAX_FRAME + 1).to_be_bytes().to_vec();
        header.push(0);
        let err = Stream::read(&mut header.as_slice()).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
    }
}
