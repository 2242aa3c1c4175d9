//! The engine's message contract: commands in, events out. Front ends (dashboard, headless
//! printer, tests) use only these types and the shared panes; none touches engine state. Both
//! address a task by its `TaskId`, and both are serializable (a server sends them), except the
//! pane `TaskAdded` shares in process: see there.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::git::{DiffStat, MergeOutcome};
pub use crate::plan::grow::NewTask;
pub use crate::status::{MergeState, TaskStatus};
use crate::term::pane::Pane;
pub use crate::usage::Usage;

/// A task of the run: its place in the run, which it keeps for the run's whole life (tasks only
/// ever join a run, at its end). The index of its pane, and of its view in a front end's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub usize);

impl TaskId {
    pub fn index(self) -> usize {
        self.0
    }
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a front end asks of the engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Cancel a pending, preparing, running or retrying task.
    Cancel { task: TaskId },
    /// A new attempt for a task that ended without success (even with its retry budget spent).
    Retry { task: TaskId },
    /// Merge a succeeded task's branch into the base branch.
    Merge { task: TaskId },
    /// Bytes for the task's PTY (attach mode).
    Input { task: TaskId, bytes: Vec<u8> },
    /// Resize the task's PTY and pane.
    Resize { task: TaskId, rows: u16, cols: u16 },
    /// Cancel everything still running or pending and finish the run.
    Shutdown,
    /// A second stop request: SIGKILL every agent's group now, without the grace period.
    KillNow,
    /// Stop every agent (SIGTSTP, then SIGSTOP, to its group) and pause the timeout clocks;
    /// answered by `Event::Paused(true)` once done (the dashboard then suspends itself).
    Pause,
    /// Let the agents go on (SIGCONT) and restart the clocks; answered by `Event::Paused(false)`.
    Continue,
    /// Start a new task in this run at once (written into the run's plan copy). Answered by
    /// `TaskAdded`, or `TaskRejected` with the reason.
    AddTask { task: NewTask },
    /// Start a copy of task `task`: `copy` as edited in the form (name, agent, prompt, timeout,
    /// retries), with every other key of `task`'s plan entry (check, env, setup…).
    CopyTask { task: TaskId, copy: NewTask },
    /// A new attempt of finished task `task` that continues its agent's session with
    /// `prompt`, in its worktree on its branch. Refused with `TaskRejected` (named `task`).
    FollowUp { task: TaskId, prompt: String },
}

/// What the engine tells its front ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A task joined the run (every plan task is announced once at start, in plan order; tasks
    /// added later when they join).
    TaskAdded {
        view: TaskView,
        /// The task's terminal, shared in process: the engine's attempts write into it and the
        /// front end draws it. It is not serialized; a front end in another process gets an
        /// empty pane of its own here, which what the server sends of the output fills.
        #[serde(skip, default = "detached_pane")]
        pane: Arc<Pane>,
    },
    /// A task changed state (or its diff stat / merge state became known).
    TaskChanged(TaskView),
    /// The task's pane has new output. Sent once until the front end calls `Pane::take_changed`.
    Output { task: TaskId },
    /// The outcome of a merge request (auto or manual).
    Merged { task: TaskId, outcome: MergeOutcome },
    /// Every task has ended (or the run was shut down); results.json is written.
    RunFinished(RunSummary),
    /// The agents were stopped (true) or continued (false) after `Pause` / `Continue`.
    Paused(bool),
    /// An `AddTask` or `CopyTask` was refused (invalid or taken name, unknown or missing agent…).
    TaskRejected { name: String, error: String },
    /// A record file (results.json, the journal) could not be written (`failed`), or is written
    /// again after that; said once each time, not on every write.
    RecordWrite { text: String, failed: bool },
}

/// A pane for a task announced to another process (see `Event::TaskAdded`).
fn detached_pane() -> Arc<Pane> {
    Arc::new(Pane::new(24, 80, crate::term::pane::DEFAULT_SCROLLBACK))
}

/// One attempt as front ends see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptView {
    pub n: u32,
    pub status: TaskStatus,
    pub exit_code: Option<i32>,
    pub started_at: SystemTime,
    pub duration: Option<Duration>,
    pub log: PathBuf,
    pub error: Option<String>,
    /// The task's check, when it ran in this attempt.
    pub check: Option<CheckView>,
    /// A follow-up's prompt: the attempt continued the agent's session with it.
    pub follow_up: Option<String>,
}

/// How an attempt's check went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckView {
    pub command: String,
    pub exit_code: Option<i32>,
    pub passed: bool,
    pub duration: Duration,
}

/// A snapshot of one task, sent whole with every change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskView {
    pub id: TaskId,
    pub name: String,
    pub agent: String,
    pub prompt: String,
    pub status: TaskStatus,
    /// Current (or last) attempt number, 0 before the first.
    pub attempt: u32,
    pub max_attempts: u32,
    /// When the current attempt started (wall clock), for elapsed time.
    pub started_at: Option<SystemTime>,
    /// When the task ended.
    pub ended_at: Option<SystemTime>,
    /// While `Retrying`: when the next attempt starts.
    pub retry_at: Option<SystemTime>,
    pub attempts: Vec<AttemptView>,
    pub error: Option<String>,
    pub branch: String,
    pub worktree: PathBuf,
    pub envelope_path: PathBuf,
    pub head_commit: Option<String>,
    pub diff_stat: Option<DiffStat>,
    pub merge: MergeState,
    pub merge_conflicts: Vec<String>,
    pub input_hash: Option<String>,
    pub output_hash: Option<String>,
    /// What the task's attempts reported they used (cost, tokens, turns), summed; None for
    /// agents that report nothing.
    pub usage: Option<Usage>,
    /// While running: the agent has been quiet and its screen ends in this prompt line.
    pub waiting: Option<String>,
    /// The raced task this one is a sibling of (`replicas` / `agents`).
    pub group: Option<String>,
    /// What its processes may touch: `worktree`, `worktree, no network`, `off`, `unavailable`.
    pub sandbox: String,
    /// `max_memory`, in bytes.
    pub max_memory: Option<u64>,
    /// While pending: why it did not start when its turn came (`low memory (…)`).
    pub held: Option<String>,
    /// Why `f` (a follow-up) is not possible now; None when it is.
    pub follow_up: Option<String>,
    /// While pending: what it waits for (`after build`, `a free slot (8 running)`, `its turn`).
    pub pending: Option<String>,
    pub timeout: Duration,
    /// How long a stopped agent has between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// The keys of its plan entry besides name, agent, prompt, timeout and retries (check, env,
    /// setup…): what a copy (`N`) takes over as they are.
    pub copied_keys: Vec<String>,
}

impl TaskView {
    /// Whether a retry by hand (`Command::Retry`) would start the task again: the engine's one
    /// rule for it (`state::retryable_by_hand`).
    pub fn can_retry(&self) -> bool {
        super::state::retryable_by_hand(self.status)
    }
}

/// Counts and where the results are, when the run ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    pub run_id: String,
    pub results_path: PathBuf,
    /// Why results.json could not be written at the end (it is then not current, or missing).
    pub results_error: Option<String>,
    pub total: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub timed_out: usize,
    pub cancelled: usize,
    pub skipped: usize,
    pub elapsed: Duration,
    /// True when the run ended by `Command::Shutdown` (or a signal) rather than by itself.
    pub interrupted: bool,
    /// Whether the run as a whole succeeded: every task, or under `fallback` one of them.
    pub success: bool,
}

/// What a front end gets from a started run: the command sender, the event stream, and facts
/// about the run that do not change.
#[derive(Debug)]
pub struct FrontEnd {
    pub commands: tokio::sync::mpsc::UnboundedSender<Command>,
    pub events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    pub info: RunInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub plan_name: String,
    pub repo_root: PathBuf,
    pub run_dir: PathBuf,
    pub results_path: PathBuf,
    pub base_commit: String,
    /// The base as shown to people, e.g. "main" or "v1.2 (tag)".
    pub base_label: String,
    /// The base branch merges go into; None when the base is a tag or commit.
    pub base_branch: Option<String>,
    pub started_at: SystemTime,
    /// The agents a task added to the run may use (the new-task form offers them): the presets,
    /// the run's user config's and the plan's, each marked found when its program is on the
    /// run's PATH (the machine running the run's, whichever machine shows it).
    pub agents: Vec<AgentChoice>,
}

/// An agent a task may use, and whether its program is on the run's PATH.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentChoice {
    pub name: String,
    pub found: bool,
}

impl AgentChoice {
    /// Every agent a run with the user config `config`, the plan `plan` and the PATH `path`
    /// may use (this process's PATH when `None`).
    pub fn all(
        config: &crate::plan::UserConfig,
        plan: &crate::plan::model::Plan,
        path: Option<&std::ffi::OsStr>,
    ) -> Vec<AgentChoice> {
        crate::agent::available(config.agents(), &plan.agents)
            .into_iter()
            .map(|agent| AgentChoice {
                found: crate::agent::find_program_on(agent.def.program(), path).is_some(),
                name: agent.name,
            })
            .collect()
    }
}

impl RunSummary {
    /// Exit code shared by every front end: 0 when the run succeeded, 1 otherwise, 130 when
    /// interrupted (the CLI turns that into 143 for SIGTERM).
    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            130
        } else if self.success {
            0
        } else {
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_events_go_through_json_addressing_tasks_by_id() {
        let command = Command::Resize {
            task: TaskId(3),
            rows: 40,
            cols: 120,
        };
        let text = serde_json::to_string(&command).expect("serializes");
        assert_eq!(
            text,
            r#"{"command":"resize","task":3,"rows":40,"cols":120}"#
        );
        let back: Command = serde_json::from_str(&text).expect("deserializes");
        assert!(matches!(
            back,
            Command::Resize {
                task: TaskId(3),
                rows: 40,
                cols: 120
            }
        ));
        let event = Event::Merged {
            task: TaskId(1),
            outcome: MergeOutcome::Conflict {
                paths: vec!["a.rs".into()],
            },
        };
        let text = serde_json::to_string(&event).expect("serializes");
        assert_eq!(
            text,
            r#"{"event":"merged","task":1,"outcome":{"outcome":"conflict","paths":["a.rs"]}}"#
        );
        let back: Event = serde_json::from_str(&text).expect("deserializes");
        assert!(matches!(
            back,
            Event::Merged {
                task: TaskId(1),
                ..
            }
        ));
    }
}
