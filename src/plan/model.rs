//! The validated plan: what the engine runs. Built by `plan::load`, never by hand outside tests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A plan after parsing and validation. Defaults are already folded into every task.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    /// `base` as written (branch, tag or commit); `None` means HEAD of the repository.
    pub base: Option<String>,
    pub max_parallel: usize,
    pub strategy: Strategy,
    /// Once a task fails for good, cancel running tasks and skip pending ones.
    pub fail_fast: bool,
    /// `[agents.NAME]` tables of the plan (presets are in `crate::agent`).
    pub agents: BTreeMap<String, AgentDef>,
    pub tasks: Vec<TaskSpec>,
    pub source: PlanSource,
}

/// Where the plan came from, kept so errors found later (e.g. `base` not resolving) can point
/// at a line and column, and so the run directory can keep a copy of the plan as given.
#[derive(Debug, Clone)]
pub struct PlanSource {
    pub path: PathBuf,
    pub text: String,
    pub format: PlanFormat,
    /// Byte span of the `base` value in `text`, when the plan sets one.
    pub base_span: Option<std::ops::Range<usize>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanFormat {
    Toml,
    Json,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    Parallel,
    Sequential {
        pass_output: bool,
        stop_on_failure: bool,
    },
    Fallback,
    Batched {
        batch_size: usize,
        pass_output: bool,
    },
}

impl Strategy {
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Parallel => "parallel",
            Strategy::Sequential { .. } => "sequential",
            Strategy::Fallback => "fallback",
            Strategy::Batched { .. } => "batched",
        }
    }
}

/// A custom agent: an argv template (never a shell string) plus environment.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentDef {
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    pub name: String,
    /// The prompt text (read from `prompt_file` when that was given).
    pub prompt: String,
    pub prompt_file: Option<PathBuf>,
    pub agent: String,
    /// Free-form table, copied into the envelope as JSON.
    pub inputs: serde_json::Map<String, serde_json::Value>,
    pub env: BTreeMap<String, String>,
    pub timeout: Duration,
    /// Extra attempts after the first.
    pub retries: u32,
    pub backoff: Backoff,
    pub kill_grace: Duration,
    pub merge: MergeMode,
    pub keep_worktrees: KeepWorktrees,
    /// Lines of history the task's pane keeps in memory (the attempt log keeps everything).
    pub scrollback: usize,
    pub depends_on: Vec<String>,
}

impl TaskSpec {
    pub fn max_attempts(&self) -> u32 {
        self.retries.saturating_add(1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub multiplier: f64,
    /// In [0, 1].
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            multiplier: 2.0,
            jitter: 0.1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMode {
    Manual,
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepWorktrees {
    Failed,
    Always,
    Never,
}

/// Defaults for keys a plan leaves out.
pub mod defaults {
    use std::time::Duration;
    pub const TIMEOUT: Duration = Duration::from_secs(30 * 60);
    pub const RETRIES: u32 = 0;
    pub const KILL_GRACE: Duration = Duration::from_secs(5);
    pub const AGENT: &str = "demo";
    pub const MERGE: super::MergeMode = super::MergeMode::Manual;
    pub const KEEP_WORKTREES: super::KeepWorktrees = super::KeepWorktrees::Failed;
    pub const SCROLLBACK: usize = crate::pty::pane::DEFAULT_SCROLLBACK;

    /// Number of CPUs, at least 2.
    pub fn max_parallel() -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .max(2)
    }
}
