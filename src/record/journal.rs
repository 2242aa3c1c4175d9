//! The run journal (`journal.jsonl`): one JSON line per state-relevant fact of a run (start,
//! every task state, spawned process groups, attempt reports, merges, stop, finish), appended and
//! flushed at once, fsync'd when a task ends, so `grove resume` can rebuild a run from disk alone.
//! Reading folds the lines into a [`RunRecord`].

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::git::DiffStat;
use crate::status::{MergeState, TaskStatus};
use crate::usage::{FollowUp, Usage, UsageLimit};

/// The journal's name in a run directory.
pub use super::paths::JOURNAL_FILE as FILE;

/// One line of the journal: when, and what.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Line {
    #[serde(with = "time")]
    pub at: SystemTime,
    #[serde(flatten)]
    pub entry: Entry,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum Entry {
    RunStarted(Box<RunStarted>),
    /// `grove resume` took the run over (process `pid`).
    Resumed {
        pid: u32,
    },
    State(StateFact),
    /// An attempt's agent started as process group `pgid`.
    Spawned {
        task: String,
        attempt: u32,
        pgid: i32,
        argv: Vec<String>,
    },
    Attempt(Box<AttemptFact>),
    Merge(MergeFact),
    /// A stop (signal, quit) cancels these unfinished tasks; resume starts them again.
    Stopping {
        tasks: Vec<String>,
    },
    /// A task joined the running run (started from the dashboard): the plan's text with it,
    /// and its prompt.
    TaskAdded {
        plan_text: String,
        task: String,
        prompt: String,
    },
    RunFinished {
        interrupted: bool,
    },
    /// The task's next attempts continue its agent's session (a follow-up, or going on after a
    /// usage limit), until another follow-up.
    FollowUp {
        task: String,
        follow_up: FollowUp,
    },
}

/// Everything needed to run the plan again exactly as it was started.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunStarted {
    pub run_id: String,
    pub plan_name: String,
    /// Where the plan was read from (relative `prompt_file`s are resolved against it).
    pub plan_path: PathBuf,
    /// "toml" or "json".
    pub plan_format: String,
    pub plan_text: String,
    /// Task names in plan order.
    pub tasks: Vec<String>,
    /// Each task's prompt as it was resolved at start (prompt files may change later).
    pub prompts: BTreeMap<String, String>,
    pub repo_root: PathBuf,
    pub base_commit: String,
    pub base_branch: Option<String>,
    pub base_label: String,
    pub pane_rows: u16,
    pub pane_cols: u16,
    pub pid: u32,
}

/// A task's whole state after a transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateFact {
    pub task: String,
    pub status: TaskStatus,
    pub attempt: u32,
    pub max_attempts: u32,
    #[serde(with = "opt_time")]
    pub started_at: Option<SystemTime>,
    #[serde(with = "opt_time")]
    pub ended_at: Option<SystemTime>,
    #[serde(with = "opt_time")]
    pub retry_at: Option<SystemTime>,
    pub error: Option<String>,
}

/// One attempt of a task, the one shape of it: what the engine reports when the attempt ends,
/// what the journal keeps and resume reads back. results.json and the front ends show
/// projections of it (`engine/attempt/report.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptFact {
    pub task: String,
    pub attempt: u32,
    /// succeeded, failed, timed_out or cancelled.
    pub status: TaskStatus,
    /// False when trying again cannot help (e.g. dependency branches conflict).
    pub retryable: bool,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    #[serde(with = "time")]
    pub started_at: SystemTime,
    pub duration_s: f64,
    pub log: PathBuf,
    pub argv: Vec<String>,
    pub input_hash: Option<String>,
    /// The task's output (result JSON or captured text) and its hash, on success.
    pub output: Option<serde_json::Value>,
    pub output_hash: Option<String>,
    pub head_commit: Option<String>,
    pub diff_stat: Option<DiffStat>,
    pub saved_ref: Option<String>,
    /// Where the attempt's files are kept when they could not be saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsaved: Option<PathBuf>,
    /// What the agent reported it used (stream-json agents).
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub check: Option<CheckFact>,
    /// A follow-up's prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<String>,
    /// The agent stopped at its account's usage limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limit: Option<UsageLimit>,
}

impl AttemptFact {
    /// An attempt that has not got anywhere yet: failed, retryable, no facts.
    pub fn new(task: &str, attempt: u32, started_at: SystemTime, log: PathBuf) -> AttemptFact {
        AttemptFact {
            task: task.to_string(),
            attempt,
            status: TaskStatus::Failed,
            retryable: true,
            exit_code: None,
            error: None,
            started_at,
            duration_s: 0.0,
            log,
            argv: Vec::new(),
            input_hash: None,
            output: None,
            output_hash: None,
            head_commit: None,
            diff_stat: None,
            saved_ref: None,
            unsaved: None,
            usage: None,
            check: None,
            follow_up: None,
            usage_limit: None,
        }
    }

    pub fn duration(&self) -> Duration {
        Duration::try_from_secs_f64(self.duration_s).unwrap_or_default()
    }
}

/// How the task's check went in an attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckFact {
    pub command: String,
    pub exit_code: Option<i32>,
    pub passed: bool,
    pub duration_s: f64,
    pub output: String,
}

/// A merge request (`state: pending`) or its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeFact {
    pub task: String,
    pub state: MergeState,
    pub commit: Option<String>,
    pub conflicts: Vec<String>,
    pub reason: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: not a journal line: {source}")]
    Parse {
        path: String,
        line: usize,
        source: serde_json::Error,
    },
    #[error("{path}: the journal does not start with the run's start")]
    NoStart { path: String },
}

/// The journal of a run being recorded. Cheap to clone; appends are serialized.
#[derive(Debug, Clone)]
pub struct Journal {
    file: Arc<Mutex<JournalFile>>,
}

#[derive(Debug)]
struct JournalFile {
    file: File,
    /// A failed append left part of its line, and cutting it off failed too: the length to cut
    /// back to before the next append.
    cut_to: Option<u64>,
}

impl Journal {
    /// Starts the journal of a new run.
    pub fn create(run_dir: &Path) -> std::io::Result<Journal> {
        let file = super::folders::record_file()
            .create_new(true)
            .append(true)
            .open(run_dir.join(FILE))?;
        Ok(Journal::with(file))
    }

    /// Continues the journal of an existing run. A torn last line (a crash in the middle of a
    /// write) is cut off first, so new lines never run into it.
    pub fn reopen(run_dir: &Path) -> std::io::Result<Journal> {
        let path = run_dir.join(FILE);
        // Appending, also after a failed append is cut back off (the write offset is the end).
        let mut file = super::folders::record_file()
            .read(true)
            .append(true)
            .open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (keep, _) = whole_lines(&bytes);
        if keep < bytes.len() {
            file.set_len(keep as u64)?;
            file.sync_all()?;
        }
        Ok(Journal::with(file))
    }

    fn with(file: File) -> Journal {
        Journal {
            file: Arc::new(Mutex::new(JournalFile { file, cut_to: None })),
        }
    }

    /// Appends one line, whole or not at all: a write that fails part way (a full disk) is cut
    /// back off, so the next line starts on a line of its own. `sync` also makes it durable
    /// before returning.
    pub fn append(&self, entry: Entry, sync: bool) -> std::io::Result<()> {
        let line = Line {
            at: SystemTime::now(),
            entry,
        };
        let mut bytes = serde_json::to_vec(&line).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        let mut journal = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("journal lock poisoned"))?;
        let JournalFile { file, cut_to } = &mut *journal;
        if let Some(len) = *cut_to {
            file.set_len(len)?;
            *cut_to = None;
        }
        let before = file.metadata()?.len();
        if let Err(e) = file.write_all(&bytes) {
            if file.set_len(before).is_err() {
                *cut_to = Some(before);
            }
            return Err(e);
        }
        if sync {
            file.sync_data()?;
        }
        Ok(())
    }
}

/// How much of a journal's bytes are whole lines, and the number of its last line when that one
/// is torn: cut short by a crash in the middle of a write (no line end), or not a journal line.
fn whole_lines(bytes: &[u8]) -> (usize, Option<usize>) {
    let lines_before = |end: usize| bytes[..end].iter().filter(|&&b| b == b'\n').count();
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if end < bytes.len() {
        return (end, Some(lines_before(end) + 1));
    }
    let start = bytes[..end.saturating_sub(1)]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let last = &bytes[start..end];
    let whole = last.trim_ascii().is_empty() || serde_json::from_slice::<Line>(last).is_ok();
    if whole {
        (end, None)
    } else {
        (start, Some(lines_before(start) + 1))
    }
}

/// A run as its journal tells it.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub started: RunStarted,
    pub started_at: SystemTime,
    /// Per task, in plan order.
    pub tasks: Vec<TaskRecord>,
    /// `Some(interrupted)` when the run's last word was that it finished.
    pub finished: Option<bool>,
    /// Tasks cancelled by the last stop (signal or quit) rather than by a person or a rule.
    pub stopped: BTreeSet<String>,
    /// Time the run was active, over all its sessions (start or resume to the last line).
    pub active: Duration,
    pub last_at: SystemTime,
    /// The number of the journal's last line when it was torn (see [`RunRecord::load`]).
    pub torn: Option<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct TaskRecord {
    pub name: String,
    /// The latest state; None when the task never changed state.
    pub state: Option<StateFact>,
    pub attempts: Vec<AttemptFact>,
    /// The session its next attempts continue.
    pub follow_up: Option<FollowUp>,
    /// The agent process started for each attempt number.
    pub spawns: BTreeMap<u32, Spawn>,
    pub merge: Option<MergeFact>,
    /// When the pending merge (if `merge` is pending) was requested.
    pub merge_requested_at: Option<SystemTime>,
    /// Where in the journal (line number) the pending merge was requested: merges run one at a
    /// time in request order, so the earliest pending one is the one a kill interrupted.
    pub merge_requested_line: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Spawn {
    pub pgid: i32,
    pub argv: Vec<String>,
}

impl TaskRecord {
    pub fn status(&self) -> TaskStatus {
        self.state
            .as_ref()
            .map_or(TaskStatus::Pending, |s| s.status)
    }
}

impl RunRecord {
    /// Reads and folds `<run_dir>/journal.jsonl`. A torn last line (cut short by a crash in the
    /// middle of a write, or not a journal line) is skipped, and its number kept in `torn`; any
    /// other line that does not parse is an error naming it.
    pub fn load(run_dir: &Path) -> Result<RunRecord, JournalError> {
        let path = run_dir.join(FILE);
        let shown = path.display().to_string();
        let bytes = std::fs::read(&path).map_err(|source| JournalError::Read {
            path: shown.clone(),
            source,
        })?;
        let (whole, torn) = whole_lines(&bytes);
        let text = String::from_utf8_lossy(&bytes[..whole]);
        let mut lines = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            let line: Line = serde_json::from_str(raw).map_err(|source| JournalError::Parse {
                path: shown.clone(),
                line: n + 1,
                source,
            })?;
            lines.push(line);
        }
        let mut record = Self::fold(lines).ok_or(JournalError::NoStart { path: shown })?;
        record.torn = torn;
        Ok(record)
    }

    fn fold(lines: Vec<Line>) -> Option<RunRecord> {
        let mut lines = lines.into_iter();
        let first = lines.next()?;
        let Entry::RunStarted(started) = first.entry else {
            return None;
        };
        let mut record = RunRecord {
            tasks: started
                .tasks
                .iter()
                .map(|name| TaskRecord {
                    name: name.clone(),
                    ..TaskRecord::default()
                })
                .collect(),
            started: *started,
            started_at: first.at,
            finished: None,
            stopped: BTreeSet::new(),
            active: Duration::ZERO,
            last_at: first.at,
            torn: None,
        };
        let mut session_start = first.at;
        for (number, line) in lines.enumerate() {
            let at = line.at;
            match line.entry {
                Entry::RunStarted(_) => {}
                Entry::Resumed { .. } => {
                    record.active += duration_between(session_start, record.last_at);
                    session_start = at;
                    record.stopped.clear();
                }
                Entry::State(state) => {
                    record.finished = None;
                    if let Some(task) = record.task_mut(&state.task) {
                        task.state = Some(state);
                    }
                }
                Entry::Spawned {
                    task,
                    attempt,
                    pgid,
                    argv,
                } => {
                    if let Some(task) = record.task_mut(&task) {
                        task.spawns.insert(attempt, Spawn { pgid, argv });
                    }
                }
                Entry::Attempt(fact) => {
                    if let Some(task) = record.task_mut(&fact.task) {
                        task.attempts.retain(|a| a.attempt != fact.attempt);
                        task.attempts.push(*fact);
                    }
                }
                Entry::Merge(merge) => {
                    if let Some(task) = record.task_mut(&merge.task) {
                        let pending = merge.state == MergeState::Pending;
                        task.merge_requested_at = pending.then_some(at);
                        task.merge_requested_line = pending.then_some(number);
                        task.merge = Some(merge);
                    }
                }
                Entry::Stopping { tasks } => record.stopped.extend(tasks),
                Entry::TaskAdded {
                    plan_text,
                    task,
                    prompt,
                } => {
                    record.started.plan_text = plan_text;
                    record.started.tasks.push(task.clone());
                    record.started.prompts.insert(task.clone(), prompt);
                    record.finished = None;
                    record.tasks.push(TaskRecord {
                        name: task,
                        ..TaskRecord::default()
                    });
                }
                Entry::RunFinished { interrupted } => record.finished = Some(interrupted),
                Entry::FollowUp { task, follow_up } => {
                    if let Some(task) = record.task_mut(&task) {
                        task.follow_up = Some(follow_up);
                    }
                }
            }
            record.last_at = at;
        }
        record.active += duration_between(session_start, record.last_at);
        Some(record)
    }

    fn task_mut(&mut self, name: &str) -> Option<&mut TaskRecord> {
        self.tasks.iter_mut().find(|t| t.name == name)
    }

    /// Finished by itself, every task ended: nothing left to resume.
    pub fn completed(&self) -> bool {
        self.finished == Some(false)
    }
}

fn duration_between(from: SystemTime, to: SystemTime) -> Duration {
    to.duration_since(from).unwrap_or_default()
}

/// SystemTime as an RFC 3339 UTC string with milliseconds (readable in the file).
mod time {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::record::rfc3339(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

mod opt_time {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::time::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| humantime::parse_rfc3339(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;

    use super::*;

    fn started() -> Entry {
        Entry::RunStarted(Box::new(RunStarted {
            run_id: "p-1".into(),
            plan_name: "p".into(),
            plan_path: "/tmp/p.toml".into(),
            plan_format: "toml".into(),
            plan_text: "name = \"p\"".into(),
            tasks: vec!["a".into(), "b".into()],
            prompts: BTreeMap::new(),
            repo_root: "/tmp/r".into(),
            base_commit: "0".repeat(40),
            base_branch: Some("main".into()),
            base_label: "main".into(),
            pane_rows: 40,
            pane_cols: 120,
            pid: 1,
        }))
    }

    fn state(task: &str, status: TaskStatus) -> Entry {
        Entry::State(StateFact {
            task: task.into(),
            status,
            attempt: 1,
            max_attempts: 1,
            started_at: Some(SystemTime::now()),
            ended_at: None,
            retry_at: None,
            error: None,
        })
    }

    #[test]
    fn folds_the_latest_facts_and_ignores_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path()).unwrap();
        journal.append(started(), true).unwrap();
        journal
            .append(state("a", TaskStatus::Running), false)
            .unwrap();
        journal
            .append(state("a", TaskStatus::Succeeded), true)
            .unwrap();
        journal
            .append(
                Entry::Stopping {
                    tasks: vec!["b".into()],
                },
                false,
            )
            .unwrap();
        journal
            .append(Entry::RunFinished { interrupted: true }, true)
            .unwrap();
        // A crash in the middle of a write.
        let mut file = OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE))
            .unwrap();
        file.write_all(b"{\"at\":\"2026-").unwrap();

        let record = RunRecord::load(dir.path()).unwrap();
        assert_eq!(record.torn, Some(6));
        assert_eq!(record.tasks[0].status(), TaskStatus::Succeeded);
        assert_eq!(record.tasks[1].status(), TaskStatus::Pending);
        assert_eq!(record.finished, Some(true));
        assert!(record.stopped.contains("b"));

        // Reopening cuts the torn line; what follows is whole lines again.
        let journal = Journal::reopen(dir.path()).unwrap();
        journal.append(Entry::Resumed { pid: 2 }, true).unwrap();
        let record = RunRecord::load(dir.path()).unwrap();
        assert!(record.stopped.is_empty());
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(text
            .lines()
            .all(|l| serde_json::from_str::<Line>(l).is_ok()));
    }

    #[test]
    fn a_task_added_while_running_joins_the_record_with_the_grown_plan() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path()).unwrap();
        journal.append(started(), true).unwrap();
        journal
            .append(Entry::RunFinished { interrupted: false }, true)
            .unwrap();
        journal
            .append(
                Entry::TaskAdded {
                    plan_text: "grown".into(),
                    task: "c".into(),
                    prompt: "do c".into(),
                },
                true,
            )
            .unwrap();
        journal
            .append(state("c", TaskStatus::Running), false)
            .unwrap();
        let record = RunRecord::load(dir.path()).unwrap();
        assert_eq!(record.started.plan_text, "grown");
        assert_eq!(record.started.tasks, ["a", "b", "c"]);
        assert_eq!(record.started.prompts["c"], "do c");
        assert_eq!(record.tasks[2].status(), TaskStatus::Running);
        // The run had finished, then grew: it is not finished any more.
        assert_eq!(record.finished, None);
    }

    #[test]
    fn a_last_line_that_is_no_journal_line_is_skipped_and_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path()).unwrap();
        journal.append(started(), true).unwrap();
        journal
            .append(state("a", TaskStatus::Running), false)
            .unwrap();
        let mut file = OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE))
            .unwrap();
        file.write_all(b"{\"at\":\"2026-{\"at\":\"2026-01-01\"}\n")
            .unwrap();
        let record = RunRecord::load(dir.path()).unwrap();
        assert_eq!(record.torn, Some(3));
        assert_eq!(record.tasks[0].status(), TaskStatus::Running);

        let journal = Journal::reopen(dir.path()).unwrap();
        journal.append(Entry::Resumed { pid: 2 }, true).unwrap();
        let record = RunRecord::load(dir.path()).unwrap();
        assert_eq!(record.torn, None);
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(text.lines().count(), 3);
    }

    #[test]
    fn a_broken_line_in_the_middle_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path()).unwrap();
        journal.append(started(), true).unwrap();
        let mut file = OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE))
            .unwrap();
        file.write_all(b"not json\n").unwrap();
        journal.append(Entry::Resumed { pid: 2 }, true).unwrap();
        let err = RunRecord::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("journal.jsonl:2:"), "{err}");
    }
}
