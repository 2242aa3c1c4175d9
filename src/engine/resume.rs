//! `grove resume`: rebuilds a run from its journal (plan, repository target, every task's state,
//! attempts, outputs and merges) and decides what the crash or stop left open, which the run
//! loop then settles (`run/recover.rs`) before it schedules anything.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::agent::AgentCommand;
use crate::environment::Environment;
use crate::git;
use crate::plan::model::{MergeMode, Plan, PlanFormat, TaskSpec};
use crate::plan::{self, PlanError, RepoTarget};
use crate::pty;
use crate::record::audit::Audit;
use crate::record::folders::{check_run_folders, FolderError};
use crate::record::journal::{
    self, AttemptFact, Entry, Journal, JournalError, RunRecord, RunStarted, TaskRecord,
};
use crate::record::lock::{LockError, RunLock};
use crate::record::results::MergeRecord;
use crate::record::RunPaths;
use crate::status::MergeStep;

use super::api::{MergeState, TaskId, TaskStatus};
use super::attempt::setup;
use super::attempt::Work;
use super::launch::{resolve_agents, EngineError, Launch, Recovery, Restored, TaskFacts};
use super::state::{removes_worktree, AttemptEnd, TaskState};
use super::{keep, leftovers};

/// How much of the last attempt's log is replayed into a resumed task's pane.
const SCREEN_REPLAY: u64 = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error("no run '{run_id}' in {} (runs are in .grove/runs/; see grove ls)", repo.display())]
    NoRun { run_id: String, repo: PathBuf },
    #[error("run '{run_id}' has no journal (it was made by an older grove) and cannot be resumed")]
    NoJournal { run_id: String },
    #[error("run '{run_id}' is still running (grove process {pid})")]
    Live { run_id: String, pid: String },
    #[error("run '{run_id}' has finished; nothing to resume (see grove show {run_id})")]
    Finished { run_id: String },
    /// `grove follow-up` cannot continue the task (no session, not finished, no such task…).
    #[error("run '{run_id}': {why}")]
    FollowUp { run_id: String, why: String },
    #[error("the plan of run '{run_id}' no longer loads: {source}")]
    Plan { run_id: String, source: PlanError },
    #[error("the plan of run '{run_id}' does not have the tasks the run had: {detail}")]
    Changed { run_id: String, detail: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("cannot continue the records in {path}: {source}")]
    Record {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Folder(#[from] FolderError),
}

/// Rebuilds run `run_id` of the repository at `repo_root` from its journal: what its run loop
/// begins from, with what the crash or stop left open.
/// With `follow_up` (a task's name and a prompt: `grove follow-up`) the run must have finished
/// and the task must be able to continue its session; the loop then starts that follow-up.
pub(super) fn prepare(
    repo_root: &Path,
    run_id: &str,
    follow_up: Option<(&str, &str)>,
    env: Environment,
) -> Result<Launch, ResumeError> {
    let paths = journaled_run(repo_root, run_id)?;
    let lock = RunLock::acquire(&paths.run_dir).map_err(|e| match e {
        LockError::Held { pid } => ResumeError::Live {
            run_id: run_id.into(),
            pid,
        },
        other => EngineError::from(other).into(),
    })?;
    let record = RunRecord::load(&paths.run_dir)?;
    if record.completed() && follow_up.is_none() {
        return Err(ResumeError::Finished {
            run_id: run_id.into(),
        });
    }
    let started = &record.started;
    let plan = plan_of(started, env.var("PATH"))?;
    let agents = resolve_agents(&plan)?;
    let follow_up = match follow_up {
        Some(asked) => Some(check_follow_up(
            run_id, asked, &plan, &agents, &record, &paths,
        )?),
        None => None,
    };
    let repo = RepoTarget {
        root: paths.repo_root.clone(),
        base_commit: started.base_commit.clone(),
        base_branch: started.base_branch.clone(),
        base_label: started.base_label.clone(),
    };
    let record_error = |source| ResumeError::Record {
        path: paths.run_dir.display().to_string(),
        source,
    };
    let audit = Audit::open(&paths.run_dir).map_err(record_error)?;
    let journal = Journal::reopen(&paths.run_dir).map_err(record_error)?;
    let pid = std::process::id();
    journal
        .append(Entry::Resumed { pid }, true)
        .map_err(record_error)?;
    audit.run_resumed(run_id, pid);

    let (restored, recovery) = settle_plan(&plan, &record, &paths);
    let pane_size = crate::term::pane::pane_size(started.pane_rows, started.pane_cols);
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
        started_at: record.started_at,
        elapsed_before: record.active,
        restored,
        recovery,
        follow_up,
    })
}

/// The follow-up `grove follow-up` asks for (task, prompt), if the run has finished and the task
/// can continue its session; else why not.
fn check_follow_up(
    run_id: &str,
    (task, prompt): (&str, &str),
    plan: &Plan,
    agents: &[AgentCommand],
    record: &RunRecord,
    paths: &RunPaths,
) -> Result<(TaskId, String), ResumeError> {
    let refused = |why| ResumeError::FollowUp {
        run_id: run_id.into(),
        why,
    };
    if !record.completed() {
        return Err(refused(format!(
            "the run has unfinished work: `grove resume {run_id}` it first"
        )));
    }
    let Some(index) = plan.tasks.iter().position(|t| t.name == task) else {
        return Err(refused(format!("no task '{task}'")));
    };
    let facts = restore(paths, &plan.tasks[index], &record.tasks[index]).facts;
    let (status, merge) = (facts.state.status, facts.merge.state);
    let agent = &agents[index];
    super::follow_up::follow_up(task, status, merge, agent, &facts.attempts, prompt)
        .map_err(refused)?;
    Ok((TaskId(index), prompt.to_string()))
}

/// What the journal says of every task (plan order), and what the crash or stop left open, in
/// the order the run loop settles it. Reads nothing but the worktrees' and logs' presence and
/// the logs' ends.
pub(super) fn settle_plan(
    plan: &Plan,
    record: &RunRecord,
    paths: &RunPaths,
) -> (Vec<Option<Restored>>, Vec<Recovery>) {
    let mut recovery = Vec::new();
    let restored = plan
        .tasks
        .iter()
        .zip(&record.tasks)
        .enumerate()
        .map(|(index, (spec, task))| {
            let restored = restore(paths, spec, task);
            let stopped = record.stopped.contains(&spec.name);
            recovery.extend(open_ends(
                index, spec, task, &restored, stopped, record, paths,
            ));
            Some(restored)
        })
        .collect();
    // Merges first, in the order they were requested: the one a kill interrupted (the earliest
    // still pending) must finish the checkout it half-wrote before another merge looks at it.
    // Then those never requested, in plan order; then the rest, whose settling may request more.
    recovery.sort_by_key(|step| match step {
        Recovery::Merge { index, .. } => {
            let line = record
                .tasks
                .get(*index)
                .and_then(|t| t.merge_requested_line);
            (0, line.unwrap_or(usize::MAX), *index)
        }
        _ => (1, 0, 0),
    });
    (restored, recovery)
}

/// The plan run `run_id` would be resumed with (what the dashboard offers is built from it).
pub fn resume_plan(repo_root: &Path, run_id: &str) -> Result<Plan, ResumeError> {
    let paths = journaled_run(repo_root, run_id)?;
    plan_of(&RunRecord::load(&paths.run_dir)?.started, None)
}

/// Where run `run_id` is, when it exists and has a journal.
fn journaled_run(repo_root: &Path, run_id: &str) -> Result<RunPaths, ResumeError> {
    let paths = RunPaths::new(repo_root, run_id);
    if !plan::valid_name(run_id) || !paths.run_dir.is_dir() {
        return Err(ResumeError::NoRun {
            run_id: run_id.into(),
            repo: repo_root.into(),
        });
    }
    check_run_folders(&paths)?;
    if !paths.run_dir.join(journal::FILE).is_file() {
        return Err(ResumeError::NoJournal {
            run_id: run_id.into(),
        });
    }
    Ok(paths)
}

/// The plan as the run started it (grown by the tasks added while it ran): its text validated
/// again against today's user config and PATH (an agent program gone from PATH stops the
/// resume with a plan error), with the prompts the journal recorded; `prompt_file`s are not
/// read again.
/// Programs are looked for on `run_path` (the PATH the resumed run's agents start with; this
/// process's when `None`).
fn plan_of(started: &RunStarted, run_path: Option<&std::ffi::OsStr>) -> Result<Plan, ResumeError> {
    if started.tasks.is_empty() {
        // An ad-hoc run nobody started a task in.
        return Err(ResumeError::Finished {
            run_id: started.run_id.clone(),
        });
    }
    let format = match started.plan_format.as_str() {
        "json" => PlanFormat::Json,
        _ => PlanFormat::Toml,
    };
    let plan_error = |source| ResumeError::Plan {
        run_id: started.run_id.clone(),
        source,
    };
    let config = plan::UserConfig::load_for_started_run().map_err(plan_error)?;
    let plan = plan::load_recorded(
        &started.plan_text,
        &started.plan_path,
        format,
        &config,
        &started.prompts,
        run_path,
    )
    .map_err(plan_error)?;
    let names: Vec<&String> = plan.tasks.iter().map(|t| &t.name).collect();
    if names != started.tasks.iter().collect::<Vec<_>>() {
        return Err(ResumeError::Changed {
            run_id: started.run_id.clone(),
            detail: format!("run {:?}, plan {names:?}", started.tasks),
        });
    }
    Ok(plan)
}

/// A task as the journal left it.
fn restore(paths: &RunPaths, spec: &TaskSpec, task: &TaskRecord) -> Restored {
    let state = task
        .state
        .as_ref()
        .map_or_else(|| TaskState::new(spec.max_attempts()), TaskState::of_fact);
    let (mut attempts, mut work) = (Vec::new(), Work::default());
    for fact in &task.attempts {
        fact.clone().reduce(&mut attempts, &mut work);
    }
    // A merge that was pending is requested again (see `open_ends`).
    let mut merge = task
        .merge
        .clone()
        .map(|fact| MergeRecord {
            state: fact.state,
            commit: fact.commit,
            conflicts: fact.conflicts,
            reason: fact.reason,
        })
        .unwrap_or_default();
    // Only a pending merge is forgotten; any other stays as it was.
    let _forgotten = merge.state.apply(MergeStep::Forget).is_ok();
    let screen = match state.attempt {
        0 => Vec::new(),
        n => log_tail(&paths.attempt_log(&spec.name, n)),
    };
    let facts = TaskFacts {
        attempts,
        work,
        merge,
        state,
        follow_up: task.follow_up.clone(),
    };
    Restored { facts, screen }
}

/// What is left to do for a task before the run goes on.
fn open_ends(
    index: usize,
    spec: &TaskSpec,
    task: &TaskRecord,
    restored: &Restored,
    stopped: bool,
    record: &RunRecord,
    paths: &RunPaths,
) -> Vec<Recovery> {
    let state = &restored.facts.state;
    let last = task.attempts.last();
    // A race sibling discarded because another was picked never runs again.
    let discarded = restored.facts.merge.state == MergeState::Discarded;
    let mut steps = Vec::new();
    match state.status {
        TaskStatus::Preparing | TaskStatus::Running => {
            let ended = task.attempts.iter().find(|a| a.attempt == state.attempt);
            steps.push(match ended {
                None => Recovery::InFlight {
                    index,
                    attempt: state.attempt,
                    started_at: state.started_at.unwrap_or(record.last_at),
                    argv: task
                        .spawns
                        .get(&state.attempt)
                        .map(|s| s.argv.clone())
                        .unwrap_or_default(),
                    requeue: !discarded,
                },
                Some(a) if a.status == TaskStatus::Cancelled && stopped && !discarded => {
                    Recovery::Requeue {
                        index,
                        interrupted_attempt: true,
                    }
                }
                Some(a)
                    if !discarded
                        && state.retries_after(AttemptEnd::from_status(a.status), a.retryable) =>
                {
                    Recovery::Requeue {
                        index,
                        interrupted_attempt: false,
                    }
                }
                Some(_) => Recovery::Finish { index },
            });
        }
        TaskStatus::Pending | TaskStatus::Retrying if discarded => {
            steps.push(Recovery::Discard { index })
        }
        TaskStatus::Retrying => steps.push(Recovery::Requeue {
            index,
            interrupted_attempt: false,
        }),
        TaskStatus::Cancelled if stopped && !discarded => steps.push(Recovery::Requeue {
            index,
            interrupted_attempt: last
                .is_some_and(|a| a.attempt == state.attempt && a.status == TaskStatus::Cancelled),
        }),
        _ => {}
    }
    if state.status == TaskStatus::Succeeded {
        match task.merge.as_ref().map(|m| m.state) {
            Some(MergeState::Pending) => steps.push(Recovery::Merge {
                index,
                lock_since: task.merge_requested_at,
            }),
            None if spec.merge == MergeMode::Auto => steps.push(Recovery::Merge {
                index,
                lock_since: None,
            }),
            _ => {}
        }
    }
    // Unsaved work (kept in place when it could not be moved aside) is never removed.
    let unsaved = last.is_some_and(|a| a.unsaved.is_some());
    let worktree_left = state.attempt > 0 && !unsaved && paths.worktree(&spec.name).exists();
    if state.status.is_final()
        && worktree_left
        && removes_worktree(spec.keep_worktrees, state.status)
    {
        steps.push(Recovery::RemoveWorktree { index });
    }
    steps
}

/// The interrupted attempt, settled: what is left of its agent (processes carrying this
/// attempt's GROVE_* variables) is stopped, then its worktree is saved on its attempt ref.
pub(super) async fn interrupted_attempt(
    paths: &RunPaths,
    spec: &TaskSpec,
    attempt: u32,
    started_at: SystemTime,
    argv: Vec<String>,
    audit: &Audit,
) -> AttemptFact {
    let task = &spec.name;
    let why = "left over from before the resume";
    let grace = spec.kill_grace;
    leftovers::stop_marked(paths, task, attempt, audit, why, |pgid| {
        pty::stop_group(pgid, grace)
    })
    .await;
    // Killed in the middle of committing, grove may have left the task branch locked; the next
    // attempt resets that branch.
    let (repo, branch) = (paths.repo_root.clone(), paths.branch(task));
    let unlocked =
        tokio::task::spawn_blocking(move || git::remove_stale_ref_lock(&repo, &branch, started_at))
            .await;
    if let Ok(Err(e)) = unlocked {
        audit.error(task, &e.to_string());
    }
    let error = "interrupted: grove stopped before the attempt ended".to_string();
    // What setup is known to put there stays out, as when an attempt ends normally.
    let excludes = setup::planned_excludes(spec);
    let saved = keep::save_worktree(paths, task, attempt, &error, &excludes, audit).await;
    let log = paths.attempt_log(task, attempt);
    // The log's last write is the last sign of life the attempt gave.
    let ended = std::fs::metadata(&log)
        .and_then(|m| m.modified())
        .unwrap_or(started_at);
    let mut report = AttemptFact::new(task, attempt, started_at, log);
    report.status = AttemptEnd::Cancelled.status();
    report.error = Some(error);
    report.duration_s = ended
        .duration_since(started_at)
        .unwrap_or_default()
        .as_secs_f64();
    report.argv = argv;
    match saved {
        Ok(saved_ref) => report.saved_ref = saved_ref,
        Err(e) => keep::keep_unsaved(paths, task, &mut report, &e, audit).await,
    }
    report
}

/// The end of a log file (empty when there is none).
fn log_tail(path: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = file
            .seek(SeekFrom::Start(len.saturating_sub(SCREEN_REPLAY)))
            .and_then(|_| file.read_to_end(&mut bytes));
    }
    bytes
}
