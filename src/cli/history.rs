//! A repository's runs over time: listing them (`grove ls`), one run's summary (`grove show`),
//! an attempt's output (`grove logs`), and the notices grove prints on start about unfinished
//! runs and left-over worktrees.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::Context;

use crate::cli::exit::UsageError;
use crate::engine::api::{MergeState, TaskStatus};
use crate::headless::table;
use crate::record::journal::RunRecord;
use crate::record::results::Results;
use crate::record::{self, lock, RunPaths};
use crate::term::text::plain_text;
use crate::ui::format;

/// One run as its records tell it.
pub struct RunEntry {
    pub paths: RunPaths,
    pub record: Option<RunRecord>,
    pub results: Option<Results>,
    /// The grove process running it right now, if any.
    pub live: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    Running {
        pid: String,
    },
    Finished,
    /// Crashed or stopped before every task ended: `grove resume` continues it.
    Unfinished,
}

impl RunEntry {
    pub fn load(root: &Path, run_id: &str) -> RunEntry {
        let paths = RunPaths::new(root, run_id);
        RunEntry {
            record: RunRecord::load(&paths.run_dir).ok(),
            results: Results::load(&paths.results()).ok(),
            live: lock::live_pid(&paths.run_dir),
            paths,
        }
    }

    pub fn run_id(&self) -> &str {
        &self.paths.run_id
    }

    pub fn state(&self) -> RunState {
        if let Some(pid) = &self.live {
            return RunState::Running { pid: pid.clone() };
        }
        let finished = match (&self.record, &self.results) {
            (Some(record), _) => record.completed(),
            (None, Some(results)) => results.completed_at.is_some() && !results.interrupted,
            (None, None) => false,
        };
        if finished {
            RunState::Finished
        } else {
            RunState::Unfinished
        }
    }

    pub fn plan(&self) -> Option<&str> {
        match (&self.record, &self.results) {
            (Some(record), _) => Some(&record.started.plan_name),
            (None, Some(results)) => Some(&results.plan),
            (None, None) => None,
        }
    }

    pub fn started(&self) -> Option<SystemTime> {
        match (&self.record, &self.results) {
            (Some(record), _) => Some(record.started_at),
            (None, Some(results)) => humantime::parse_rfc3339(&results.started_at).ok(),
            (None, None) => None,
        }
    }

    /// The base the run's branches merge into, when it is a branch.
    pub fn base_branch(&self) -> Option<&str> {
        match (&self.record, &self.results) {
            (Some(record), _) => record.started.base_branch.as_deref(),
            (None, Some(results)) => results.base_branch.as_deref(),
            (None, None) => None,
        }
    }

    pub fn base_commit(&self) -> Option<&str> {
        match (&self.record, &self.results) {
            (Some(record), _) => Some(&record.started.base_commit),
            (None, Some(results)) => Some(&results.base_commit),
            (None, None) => None,
        }
    }

    /// "3 succeeded, 1 running": tasks per status, from the journal (current to the last
    /// moment) or else results.json.
    pub fn counts(&self) -> String {
        let statuses: Vec<TaskStatus> = match (&self.record, &self.results) {
            (Some(record), _) => record.tasks.iter().map(|t| t.status()).collect(),
            (None, Some(results)) => results.tasks.iter().map(|t| t.status).collect(),
            (None, None) => Vec::new(),
        };
        TaskStatus::counts(&statuses)
    }
}

/// Every run of the repository, oldest first.
pub fn runs(root: &Path) -> Vec<RunEntry> {
    let mut runs: Vec<RunEntry> = dir_names(&record::runs_dir(root))
        .iter()
        .map(|id| RunEntry::load(root, id))
        .collect();
    runs.sort_by(|a, b| (a.started(), a.run_id()).cmp(&(b.started(), b.run_id())));
    runs
}

/// Names of the folders in `dir` (none when it does not exist).
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// A run that must exist: its records, or exit 2 naming what is missing.
pub fn existing_run(root: &Path, run_id: &str) -> Result<RunEntry, UsageError> {
    let paths = RunPaths::new(root, run_id);
    if !crate::plan::valid_name(run_id) || !paths.run_dir.is_dir() {
        return Err(UsageError(format!(
            "no run '{run_id}' in {} (see grove ls)",
            root.display()
        )));
    }
    Ok(RunEntry::load(root, run_id))
}

fn state_word(entry: &RunEntry) -> String {
    match entry.state() {
        RunState::Running { pid } => format!("running (grove process {pid})"),
        RunState::Finished => "finished".into(),
        RunState::Unfinished => "unfinished".into(),
    }
}

/// The repository's grove server's pid and live runs (with how many clients each has), when one
/// answers.
fn served_runs(root: &Path) -> Option<(u32, Vec<(String, usize)>)> {
    let mut server = crate::server::client::connect(root).ok()??;
    match server.ask(&crate::server::messages::Request::Runs).ok()? {
        crate::server::messages::Response::Runs { server_pid, runs } => Some((
            server_pid,
            runs.into_iter().map(|r| (r.run_id, r.clients)).collect(),
        )),
        _ => None,
    }
}

/// `grove ls`.
pub fn ls(root: &Path, out: &mut dyn Write) -> anyhow::Result<i32> {
    let runs = runs(root);
    if runs.is_empty() {
        writeln!(out, "no runs in {}", root.display())?;
        return Ok(0);
    }
    let served = served_runs(root);
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let clients = served.as_ref().and_then(|(pid, ids)| {
                let (_, n) = ids.iter().find(|(id, _)| id == r.run_id())?;
                Some((pid, n))
            });
            let state = match clients {
                Some((pid, 0)) => format!("running (grove server {pid}, detached)"),
                Some((pid, n)) => format!("running (grove server {pid}, {n} attached)"),
                None => state_word(r),
            };
            vec![
                r.run_id().to_string(),
                r.plan().unwrap_or("?").to_string(),
                r.started()
                    .map(|t| humantime::format_rfc3339_seconds(t).to_string())
                    .unwrap_or_else(|| "?".into()),
                r.counts(),
                state,
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        table(&["run", "plan", "started", "tasks", "state"], &rows)
    )?;
    if runs.iter().any(|r| r.state() == RunState::Unfinished) {
        writeln!(
            out,
            "\nunfinished runs continue with: grove resume <run>; grove clean <run> --force removes one"
        )?;
    }
    Ok(0)
}

/// One task's row in `grove show`.
struct TaskLine {
    name: String,
    status: TaskStatus,
    attempts: u32,
    /// Time its attempts took (for one under way, so far); None before its first.
    time: Option<Duration>,
    merge: MergeState,
    /// Why it ended as it did, once it ended.
    error: Option<String>,
}

/// The tasks as the journal tells them, current to its last line (a live run's results.json
/// is only rewritten when a task ends), an attempt under way counted up to `now` while the run
/// is `live`; else (no journal) as results.json does.
fn task_lines(entry: &RunEntry, results: &Results, live: bool, now: SystemTime) -> Vec<TaskLine> {
    let Some(record) = &entry.record else {
        return results
            .tasks
            .iter()
            .map(|t| TaskLine {
                name: t.name.clone(),
                status: t.status,
                attempts: u32::try_from(t.attempts.len()).unwrap_or(u32::MAX),
                time: (!t.attempts.is_empty()).then(|| {
                    t.attempts
                        .iter()
                        .map(|a| format::recorded_secs(a.duration_s))
                        .sum()
                }),
                merge: t.merge.state,
                error: t.error.clone(),
            })
            .collect();
    };
    record
        .tasks
        .iter()
        .map(|t| {
            let status = t.status();
            let state = t.state.as_ref();
            let current = state.map_or(0, |s| s.attempt);
            let mut time: Duration = t
                .attempts
                .iter()
                .map(|a| format::recorded_secs(a.duration_s))
                .sum();
            // The attempt under way has no report in the journal yet.
            let under_way = matches!(status, TaskStatus::Preparing | TaskStatus::Running)
                && !t.attempts.iter().any(|a| a.attempt == current);
            if let (true, true, Some(started)) = (live, under_way, state.and_then(|s| s.started_at))
            {
                time += now.duration_since(started).unwrap_or_default();
            }
            let attempts = current.max(u32::try_from(t.attempts.len()).unwrap_or(u32::MAX));
            TaskLine {
                name: t.name.clone(),
                status,
                attempts,
                time: (attempts > 0).then_some(time),
                merge: t
                    .merge
                    .as_ref()
                    .map_or(MergeState::NotRequested, |m| m.state),
                error: state
                    .filter(|_| status.is_final())
                    .and_then(|s| s.error.clone()),
            }
        })
        .collect()
}

/// `grove show <run-id>`: the run's summary and per-task table, from its journal and
/// results.json.
pub fn show(root: &Path, run_id: &str, out: &mut dyn Write) -> anyhow::Result<i32> {
    let entry = existing_run(root, run_id)?;
    let results = Results::load(&entry.paths.results())?;
    let state = entry.state();
    let live = matches!(state, RunState::Running { .. });
    let lines = task_lines(&entry, &results, live, SystemTime::now());
    let short = &results.base_commit[..12.min(results.base_commit.len())];
    writeln!(out, "run         {}", results.run_id)?;
    writeln!(
        out,
        "plan        {} ({}), {} task{}",
        results.plan,
        results.strategy,
        lines.len(),
        if lines.len() == 1 { "" } else { "s" }
    )?;
    writeln!(
        out,
        "repository  {} (base {} at {short})",
        results.repo,
        results.base_branch.as_deref().unwrap_or("commit")
    )?;
    writeln!(out, "started     {}", results.started_at)?;
    let said = match &state {
        RunState::Finished => match &results.completed_at {
            Some(at) => format!("finished {at}"),
            None => "finished".into(),
        },
        RunState::Unfinished => format!("unfinished: continue it with grove resume {run_id}"),
        RunState::Running { pid } => format!("running (grove process {pid})"),
    };
    writeln!(out, "state       {said}")?;
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.status.word().to_string(),
                t.attempts.to_string(),
                t.time.map_or_else(|| "-".into(), format::duration),
                if t.attempts == 0 {
                    "-".into()
                } else {
                    entry.paths.branch(&t.name)
                },
                t.merge.word().to_string(),
            ]
        })
        .collect();
    writeln!(out)?;
    write!(
        out,
        "{}",
        table(
            &["task", "status", "attempts", "time", "branch", "merge"],
            &rows
        )
    )?;
    for t in &lines {
        if let Some(error) = &t.error {
            writeln!(out, "  {}: {error}", t.name)?;
        }
    }
    match state {
        RunState::Finished => writeln!(
            out,
            "\n{} of {} succeeded, {} failed, {} timed out, {} cancelled, {} skipped in {}{}",
            results.succeeded,
            results.total_tasks,
            results.failed,
            results.timed_out,
            results.cancelled,
            results.skipped,
            format::duration(format::recorded_secs(results.total_execution_time)),
            if results.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        )?,
        RunState::Running { .. } => writeln!(out, "\nso far: {}", entry.counts())?,
        RunState::Unfinished => writeln!(out, "\nwhen it stopped: {}", entry.counts())?,
    }
    writeln!(out, "results: {}", entry.paths.results().display())?;
    Ok(0)
}

/// `grove logs <run-id> <task> [--attempt n] [--plain]`: an attempt's terminal output (the last
/// attempt's by default), raw or as plain text.
pub fn logs(
    root: &Path,
    run_id: &str,
    task: &str,
    attempt: Option<u32>,
    plain: bool,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    let entry = existing_run(root, run_id)?;
    let task_dir = entry.paths.task_dir(task);
    if !crate::plan::valid_name(task) || !task_dir.is_dir() {
        return Err(UsageError(format!("run '{run_id}' has no task '{task}' with output")).into());
    }
    let attempts = logged_attempts(&task_dir);
    let n = match attempt.or_else(|| attempts.last().copied()) {
        Some(n) if attempts.contains(&n) => n,
        _ => {
            let have: Vec<String> = attempts.iter().map(u32::to_string).collect();
            return Err(UsageError(format!(
                "task '{task}' of run '{run_id}' has no log for attempt {} (logged attempts: {})",
                attempt.map_or_else(|| "-".into(), |n| n.to_string()),
                if have.is_empty() {
                    "none".into()
                } else {
                    have.join(", ")
                }
            ))
            .into());
        }
    };
    let path = entry.paths.attempt_log(task, n);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    if plain {
        out.write_all(plain_text(&bytes).as_bytes())?;
    } else {
        out.write_all(&bytes)?;
    }
    out.flush()?;
    Ok(0)
}

/// Attempt numbers that have an `attempt-<n>.log` in a task's folder, ascending.
fn logged_attempts(task_dir: &Path) -> Vec<u32> {
    let mut numbers: Vec<u32> = std::fs::read_dir(task_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            name.strip_prefix("attempt-")?
                .strip_suffix(".log")?
                .parse()
                .ok()
        })
        .collect();
    numbers.sort_unstable();
    numbers
}

/// What grove says on start: the last run of the same plan is unfinished (and how to resume it),
/// and worktrees under `.grove/worktrees/` belong to no active run (and how to resume or clean
/// them). `resuming` is the run being resumed right now, which needs no notice of those, only
/// of a torn last line in its journal.
pub fn start_notices(root: &Path, plan: Option<&str>, resuming: Option<&str>) -> Vec<String> {
    // Every run's records are read only to find the plan's last run; loaded once.
    let runs = match plan {
        Some(_) => runs(root),
        None => Vec::new(),
    };
    let mut notices = Vec::new();
    let mut mentioned: Vec<&str> = resuming.into_iter().collect();
    if let Some(plan) = plan {
        let last = runs.iter().rev().find(|r| r.plan() == Some(plan));
        if let Some(last) = last {
            let id = last.run_id();
            match last.state() {
                // Only a run with a journal can be resumed.
                RunState::Unfinished if last.record.is_some() => {
                    notices.push(format!(
                        "grove: the last run of plan '{plan}', {id}, did not finish; to continue it instead: grove resume {id}"
                    ));
                    mentioned.push(id);
                }
                RunState::Running { pid } => notices.push(format!(
                    "grove: run {id} of plan '{plan}' is running too (grove process {pid})"
                )),
                RunState::Unfinished | RunState::Finished => {}
            }
        }
    }
    if let Some(id) = resuming.filter(|id| crate::plan::valid_name(id)) {
        let paths = RunPaths::new(root, id);
        if let Some(n) = RunRecord::load(&paths.run_dir).ok().and_then(|r| r.torn) {
            notices.push(format!(
                "grove: {}:{n}: the journal's last line is torn (a write cut short) and is skipped; the run goes on from the line before",
                paths.run_dir.join(crate::record::journal::FILE).display()
            ));
        }
    }
    let worktrees = record::worktrees_dir(root);
    for id in dir_names(&worktrees) {
        // A folder of no run grove made is not grove's to point at (grove clean leaves it).
        if mentioned.contains(&id.as_str())
            || dir_names(&worktrees.join(&id)).is_empty()
            || !record::folders::grove_made(&RunPaths::new(root, &id))
        {
            continue;
        }
        let loaded;
        let entry = match runs.iter().find(|r| r.run_id() == id) {
            Some(entry) => entry,
            None => {
                loaded = RunEntry::load(root, &id);
                &loaded
            }
        };
        let shown = format!(".grove/worktrees/{id}/");
        match entry.state() {
            RunState::Running { .. } => {}
            RunState::Unfinished if entry.record.is_some() => notices.push(format!(
                "grove: {shown} holds worktrees of unfinished run {id}: grove resume {id} continues it, grove clean {id} --force removes them"
            )),
            _ => notices.push(format!(
                "grove: {shown} holds worktrees of run {id}, which is not running: grove clean {id} removes them"
            )),
        }
    }
    notices
}
