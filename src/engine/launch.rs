//! What a run loop begins from (`Launch`): a new run's records created by `new_run`, or a run
//! rebuilt from its journal (`resume::prepare`). Neither knows the loop; `engine::start` and
//! `engine::resume` hand the `Launch` to `run::begin`.

use std::time::{Duration, SystemTime};

use crate::agent::{self, AgentCommand};
use crate::environment::Environment;
use crate::git;
use crate::plan::model::Plan;
use crate::plan::RepoTarget;
use crate::record::audit::Audit;
use crate::record::journal::{AttemptFact, Entry, Journal, RunStarted};
use crate::record::lock::{LockError, RunLock};
use crate::record::results::MergeRecord;
use crate::record::{self, RunPaths};

use super::api::TaskId;
use super::attempt::Work;
use super::follow_up::FollowUp;
use super::state::TaskState;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot create the run directory under {path}: {source}")]
    RunDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot prepare the repository: {0}")]
    Git(#[from] git::GitError),
    #[error("task '{task}': unknown agent '{agent}'")]
    UnknownAgent { task: String, agent: String },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Folder(#[from] record::folders::FolderError),
}

/// What to run, where, how big agents' terminals start, and the environment of the command
/// that asked for it (what the run's processes start with, not the engine's process's own).
pub struct RunRequest {
    pub plan: Plan,
    pub repo: RepoTarget,
    pub pane_size: (u16, u16),
    pub env: Environment,
}
/// What a task has done so far: its state, its attempts, what its success left (output, head
/// commit, diff stat) and its merge. The run loop's tasks hold one; the journal keeps it, and
/// `grove resume` rebuilds it from there.
#[derive(Debug)]
pub(super) struct TaskFacts {
    pub state: TaskState,
    pub attempts: Vec<AttemptFact>,
    /// What the latest successful attempt produced (output, head commit, diff stat).
    pub work: Work,
    pub merge: MergeRecord,
    /// Its next attempts continue the agent's session (a follow-up; after a usage limit).
    pub follow_up: Option<FollowUp>,
}

impl TaskFacts {
    /// A task that has not started, with a budget of `max_attempts`.
    pub fn new(max_attempts: u32) -> TaskFacts {
        TaskFacts {
            state: TaskState::new(max_attempts),
            attempts: Vec::new(),
            work: Work::default(),
            merge: MergeRecord::default(),
            follow_up: None,
        }
    }
}

/// A task resumed from the journal: its facts, and the end of its last attempt's terminal
/// output, shown in its pane again.
pub(super) struct Restored {
    pub facts: TaskFacts,
    pub screen: Vec<u8>,
}

/// Everything a run loop starts from: a new run, or one rebuilt from its journal.
pub(super) struct Launch {
    pub plan: Plan,
    pub repo: RepoTarget,
    pub paths: RunPaths,
    pub agents: Vec<AgentCommand>,
    pub pane_size: (u16, u16),
    /// What the run's processes start with (see `RunRequest::env`).
    pub env: Environment,
    pub audit: Audit,
    pub journal: Journal,
    pub lock: RunLock,
    pub started_at: SystemTime,
    pub elapsed_before: Duration,
    /// Per task (plan order) when resuming.
    pub restored: Vec<Option<Restored>>,
    pub recovery: Vec<Recovery>,
    /// `grove follow-up`: the follow-up (task, prompt) a reopened run starts with.
    pub follow_up: Option<(TaskId, String)>,
}

/// The agent command of every task, in plan order.
pub(super) fn resolve_agents(plan: &Plan) -> Result<Vec<AgentCommand>, EngineError> {
    plan.tasks
        .iter()
        .map(|spec| {
            agent::resolve(plan, &spec.agent).ok_or_else(|| EngineError::UnknownAgent {
                task: spec.name.clone(),
                agent: spec.agent.clone(),
            })
        })
        .collect()
}

/// Creates a new run's records (run folder, plan copy, lock, audit log, journal).
pub(super) fn new_run(req: RunRequest) -> Result<Launch, EngineError> {
    let RunRequest {
        plan,
        repo,
        pane_size,
        env,
    } = req;
    let agents = resolve_agents(&plan)?;
    git::ensure_grove_excluded(&repo.root)?;
    let started_at = SystemTime::now();
    let paths = record::create_run_dir(&repo.root, &plan.name, started_at)?;
    let format = match plan.source.format {
        crate::plan::model::PlanFormat::Toml => "toml",
        crate::plan::model::PlanFormat::Json => "json",
    };
    let record_error = |source| EngineError::RunDir {
        path: paths.run_dir.display().to_string(),
        source,
    };
    write_plan_copy(&paths, &plan).map_err(record_error)?;
    let lock = RunLock::acquire(&paths.run_dir)?;
    let audit = Audit::open(&paths.run_dir).map_err(record_error)?;
    let journal = Journal::create(&paths.run_dir).map_err(record_error)?;
    let start = RunStarted {
        run_id: paths.run_id.clone(),
        plan_name: plan.name.clone(),
        // Absolute, so relative prompt files resolve the same from wherever grove resumes.
        plan_path: std::path::absolute(&plan.source.path)
            .unwrap_or_else(|_| plan.source.path.clone()),
        plan_format: format.into(),
        plan_text: plan.source.text.clone(),
        tasks: plan.tasks.iter().map(|t| t.name.clone()).collect(),
        prompts: plan
            .tasks
            .iter()
            .map(|t| (t.name.clone(), t.prompt.clone()))
            .collect(),
        repo_root: repo.root.clone(),
        base_commit: repo.base_commit.clone(),
        base_branch: repo.base_branch.clone(),
        base_label: repo.base_label.clone(),
        pane_rows: pane_size.0,
        pane_cols: pane_size.1,
        pid: std::process::id(),
    };
    journal
        .append(Entry::RunStarted(Box::new(start)), true)
        .map_err(record_error)?;
    audit.run_started(&paths.run_id, &plan.name, &repo.base_commit);
    let restored = plan.tasks.iter().map(|_| None).collect();
    Ok(Launch {
        plan,
        repo,
        paths,
        agents,
        pane_size,
        env,
        audit,
        journal,
        lock,
        started_at,
        elapsed_before: Duration::ZERO,
        restored,
        recovery: Vec::new(),
        follow_up: None,
    })
}

/// The run's copy of its plan, as given (and as grown by tasks added while it runs).
pub(super) fn write_plan_copy(paths: &RunPaths, plan: &Plan) -> std::io::Result<()> {
    let name = match plan.source.format {
        crate::plan::model::PlanFormat::Toml => "plan.toml",
        crate::plan::model::PlanFormat::Json => "plan.json",
    };
    record::write_record(&paths.run_dir.join(name), plan.source.text.as_bytes())
}

/// What the crash or stop left open for one task, settled by the run loop before scheduling.
#[derive(Debug)]
pub(super) enum Recovery {
    /// Attempt `attempt` was in flight: stop what is left of its agent, save its worktree on its
    /// attempt ref, record it as interrupted, and make the task pending again (or, with
    /// `requeue` false, a discarded race sibling, end it there).
    InFlight {
        index: usize,
        attempt: u32,
        started_at: SystemTime,
        argv: Vec<String>,
        requeue: bool,
    },
    /// Waiting for a retry, or cancelled by grove's stop: pending again.
    Requeue {
        index: usize,
        interrupted_attempt: bool,
    },
    /// The last attempt's end was journaled but not the task's state change: apply it.
    Finish { index: usize },
    /// A race sibling discarded (another was picked) before it ended: cancelled, not run.
    Discard { index: usize },
    /// Merge again: it was requested and not done (`lock_since`: when it was requested), or an
    /// auto merge was never requested.
    Merge {
        index: usize,
        lock_since: Option<SystemTime>,
    },
    /// A finished task's worktree that was to be removed is still there.
    RemoveWorktree { index: usize },
}
