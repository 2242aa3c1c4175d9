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
    /// No agent starts while the machine's available memory (MemAvailable) is below this many
    /// bytes.
    pub min_free_memory: Option<u64>,
    /// Agents defined by `[agents.NAME]` in the user config and the plan, each folded over the
    /// preset of that name if there is one (presets used as they are live in `crate::agent`).
    pub agents: BTreeMap<String, AgentDef>,
    pub tasks: Vec<TaskSpec>,
    pub source: PlanSource,
    /// What is worth knowing but does not stop the plan, each `file:line:col: message` (an agent
    /// whose command line lets a prompt starting with '-' be read as an option).
    pub warnings: Vec<String>,
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

/// An agent definition with every field known: a preset's own, or `[agents.NAME]` of the user
/// config and the plan folded over it (the plan wins).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentDef {
    /// The argv template (never a shell string).
    pub command: Vec<String>,
    /// More arguments after `command`: the user's own flags for a preset.
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// How its terminal output is read.
    pub output: AgentOutput,
    /// Text that, on the last lines of its screen, is a yes/no question `auto_yes` may answer.
    pub yes_prompts: Vec<String>,
    /// What `auto_yes` types to answer yes (written to the agent's terminal as is).
    pub accept_key: String,
    /// The argv template of a follow-up: continues the session `{session}` with `{prompt}`.
    /// Empty: the agent has no sessions to continue.
    pub resume: Vec<String>,
}

impl AgentDef {
    /// The program the agent starts: the first element of its command.
    pub fn program(&self) -> &str {
        self.command.first().map_or("", String::as_str)
    }
}

/// How an agent's terminal output is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentOutput {
    /// Shown in the pane as it is.
    Terminal,
    /// Claude Code's `--output-format stream-json`: one JSON object per line, shown as a
    /// readable transcript; its `result` is the task's output.
    ClaudeStreamJson,
    /// `codex exec --json`: one event per line, shown as a transcript; the last agent message
    /// is the task's output.
    CodexJson,
}

impl AgentOutput {
    pub const CHOICES: [(&'static str, AgentOutput); 3] = [
        ("terminal", AgentOutput::Terminal),
        ("claude-stream-json", AgentOutput::ClaudeStreamJson),
        ("codex-json", AgentOutput::CodexJson),
    ];

    pub fn name(self) -> &'static str {
        match self {
            AgentOutput::Terminal => "terminal",
            AgentOutput::ClaudeStreamJson => "claude-stream-json",
            AgentOutput::CodexJson => "codex-json",
        }
    }
}

/// `python = { requirements = [...], requirements_file = "..." }`: a virtualenv in the worktree.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PythonEnv {
    /// Passed to `pip install` as they are (names, version specs, local paths).
    pub requirements: Vec<String>,
    /// A requirements file, relative to the worktree.
    pub requirements_file: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    pub name: String,
    /// The prompt text (read from `prompt_file` when that was given).
    pub prompt: String,
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
    /// Files copied from the main checkout into the worktree before the agent starts (paths
    /// relative to the repository root).
    pub copy: Vec<String>,
    /// Shell commands run with `sh -c` in the worktree before the agent, in order.
    pub setup: Vec<String>,
    pub python: Option<PythonEnv>,
    /// Free TCP ports reserved for the task, passed as `GROVE_PORT_0`…
    pub ports: u16,
    /// Quiet time after which an agent showing a prompt counts as waiting for input.
    pub idle_after: Duration,
    /// Answer the agent's known yes/no prompts with its accept key.
    pub auto_yes: bool,
    /// End the attempt (as if the agent had exited 0) when an interactive agent sits idle at its
    /// input box after working: `claude-interactive` never exits by itself.
    pub idle_exit: bool,
    /// After a stream agent's result, how long it may go on before its processes are stopped.
    pub result_grace: Duration,
    /// A stream agent that was denied tool calls and changed nothing fails.
    pub fail_on_denied: bool,
    /// Run with `sh -c` in the worktree after the agent exits 0; the attempt succeeds only if
    /// it passes.
    pub check: Option<String>,
    /// Set on the siblings a raced task (`replicas` / `agents`) expands to.
    pub group: Option<RaceGroup>,
    /// What the attempt's processes may touch (`sandbox`, `sandbox_*`, `network`).
    pub sandbox: Sandbox,
    /// The attempt's process tree is limited to this many bytes.
    pub max_memory: Option<u64>,
}

/// `sandbox = "worktree" | "off"` with its paths, and `network`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sandbox {
    pub mode: SandboxMode,
    /// `sandbox_read`: where the agent may read and execute (empty: everywhere).
    pub read: Vec<String>,
    /// `sandbox_hide`: unreadable on top of the default credential folders.
    pub hide: Vec<String>,
    /// `sandbox_write`: writable on top of the worktree, git's paths and the agent's state.
    pub write: Vec<String>,
    /// False: a network namespace with only loopback.
    pub network: bool,
}

impl Sandbox {
    /// What panes and details show: `worktree`, `worktree, no network`, `off`…
    pub fn label(&self) -> String {
        match self.network {
            true => self.mode.word().to_string(),
            false => format!("{}, no network", self.mode.word()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SandboxMode {
    /// Landlock: write only the worktree and what a commit needs.
    #[default]
    Worktree,
    Off,
    /// The default was `worktree` but the kernel has no Landlock: the agent runs unsandboxed.
    Unavailable,
}

impl SandboxMode {
    pub fn word(self) -> &'static str {
        match self {
            SandboxMode::Worktree => "worktree",
            SandboxMode::Off => "off",
            SandboxMode::Unavailable => "unavailable",
        }
    }
}

/// The race a sibling task belongs to: `<name>.1`, `<name>.2`… all do the same job.
#[derive(Debug, Clone, PartialEq)]
pub struct RaceGroup {
    /// The raced task's name as written in the plan.
    pub name: String,
    pub pick: Pick,
}

/// How the winner of a race is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The user merges the sibling they like (`m`); its siblings become discarded.
    Manual,
    /// The first sibling to succeed (its check passing) is merged; the rest are cancelled.
    FirstPassing,
}

impl Pick {
    pub const CHOICES: [(&'static str, Pick); 2] = [
        ("manual", Pick::Manual),
        ("first-passing", Pick::FirstPassing),
    ];

    pub fn name(self) -> &'static str {
        match self {
            Pick::Manual => "manual",
            Pick::FirstPassing => "first-passing",
        }
    }
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
    pub const SCROLLBACK: usize = crate::term::pane::DEFAULT_SCROLLBACK;
    pub const IDLE_AFTER: Duration = Duration::from_secs(10);
    /// How long an agent may go on after its final result (Claude Code's background tasks).
    pub const RESULT_GRACE: Duration = Duration::from_secs(10);

    /// Agents mostly wait on their model, not the CPU: 8 at once, whatever the CPU count;
    /// memory holds them back instead (`engine::admission::DEFAULT_FLOOR`).
    pub fn max_parallel() -> usize {
        8
    }
}
