//! Helpers for tests that stop grove from outside (kill -9, signals) and look at what it left:
//! the real binary in the background, the run's journal, agents' own log lines. A run lives in
//! the repository's grove server (`grove run` is a client of it), so a crash of grove is a
//! crash of that server: [`kill9`] kills the server.

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};

use super::repo::Repo;
use super::server;
use super::wait::wait_for;

/// A grove command in the background. When the test ends (passing or not), it is killed, and so
/// are the repository's server it started and any agent of the repository still running, so a
/// failing test leaves no process behind.
pub struct Grove {
    child: Child,
    root: PathBuf,
    stderr: PathBuf,
}

impl std::ops::Deref for Grove {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.child
    }
}

impl std::ops::DerefMut for Grove {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Grove {
    /// The pid of the grove server the command's run lives in.
    pub fn server_pid(&self) -> i32 {
        wait_for("the grove server", || server::pid(&self.root))
    }

    /// What the command wrote to its stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Grove {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        server::kill9_if_live(&self.root);
        let worktrees = self.root.join(".grove/worktrees");
        let wanted = format!("GROVE_WORKTREE={}", worktrees.display());
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
            let ours = environ
                .split(|&b| b == 0)
                .any(|var| var.starts_with(wanted.as_bytes()));
            if ours {
                // SAFETY: killing a process this test's grove started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// Writes `plan` to the test's home (outside the repository) and starts `grove run` on it
/// headless in the background; output goes to files in the home.
pub fn spawn_run(repo: &Repo, plan: &str) -> Grove {
    let path = repo.home.path().join("plan.toml");
    std::fs::write(&path, plan).unwrap();
    spawn_grove(repo, &["run", path.to_str().unwrap(), "--headless"])
}

pub fn spawn_grove(repo: &Repo, args: &[&str]) -> Grove {
    let n = std::fs::read_dir(repo.home.path()).unwrap().count();
    let out = std::fs::File::create(repo.home.path().join(format!("out-{n}.txt"))).unwrap();
    let stderr = repo.home.path().join(format!("err-{n}.txt"));
    let err = std::fs::File::create(&stderr).unwrap();
    let child = repo
        .grove_cmd(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();
    Grove {
        child,
        root: repo.path().canonicalize().unwrap(),
        stderr,
    }
}

/// The id of the repository's only run, once its journal exists.
pub fn the_run(repo: &Repo) -> String {
    wait_for("the run to start", || {
        let runs = std::fs::read_dir(repo.path().join(".grove/runs")).ok()?;
        runs.flatten()
            .find(|e| e.path().join("journal.jsonl").exists())
            .map(|e| e.file_name().to_string_lossy().into_owned())
    })
}

/// The journal's complete lines as JSON (a line torn by a kill is not complete).
pub fn journal(repo: &Repo, run_id: &str) -> Vec<serde_json::Value> {
    let text =
        std::fs::read_to_string(repo.run_dir(run_id).join("journal.jsonl")).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |i| &text[..=i]);
    complete
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad journal line {l}: {e}")))
        .collect()
}

/// The last state the journal recorded for each task that changed state.
pub fn journal_states(repo: &Repo, run_id: &str) -> Vec<(String, String)> {
    let mut states: Vec<(String, String)> = Vec::new();
    for line in journal(repo, run_id) {
        if line["entry"] == "state" {
            let task = line["task"].as_str().unwrap().to_string();
            let status = line["status"].as_str().unwrap().to_string();
            states.retain(|(t, _)| *t != task);
            states.push((task, status));
        }
    }
    states
}

/// Tasks the journal says succeeded.
pub fn succeeded(repo: &Repo, run_id: &str) -> Vec<String> {
    journal_states(repo, run_id)
        .into_iter()
        .filter(|(_, s)| s == "succeeded")
        .map(|(t, _)| t)
        .collect()
}

/// Starts `grove run` on `plan`, waits for the moment `now` says (given the run id), kills
/// its grove server with SIGKILL there (see [`kill9`]) and checks that its records are valid JSON; returns the run id, and
/// the grove command (ended), whose agents are cleaned up when the test is over.
pub fn kill_run_when(
    repo: &Repo,
    plan: &str,
    what: &str,
    mut now: impl FnMut(&str) -> bool,
) -> (String, Grove) {
    let mut grove = spawn_run(repo, plan);
    let run_id = the_run(repo);
    wait_for(what, || now(&run_id).then_some(()));
    kill9(&mut grove);
    assert_records_valid(repo, &run_id);
    (run_id, grove)
}

/// A shell prompt that logs `<task> <attempt> <pid>` to `log` and writes `<file>` containing
/// the task's name.
pub fn logging_prompt(log: &Path, file: &str) -> String {
    format!(
        r#"echo "$GROVE_TASK $GROVE_ATTEMPT $$" >> {}; echo "$GROVE_TASK" > "{file}""#,
        log.display()
    )
}

/// A crash of grove: kills the grove server that `grove`'s run lives in with SIGKILL and waits
/// for `grove`, the client, to end by itself now that its server is gone; returns its status.
pub fn kill9(grove: &mut Grove) -> ExitStatus {
    server::kill9(&grove.root);
    wait_for("grove to end once its server is gone", || {
        grove.child.try_wait().unwrap()
    })
}

/// After any kill: results.json, every envelope and result are valid JSON, and every complete
/// journal line is.
pub fn assert_records_valid(repo: &Repo, run_id: &str) {
    let dir = repo.run_dir(run_id);
    let results = std::fs::read_to_string(dir.join("results.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&results)
        .unwrap_or_else(|e| panic!("results.json is not JSON ({e}):\n{results}"));
    journal(repo, run_id);
    for task in std::fs::read_dir(dir.join("agents")).into_iter().flatten() {
        for file in std::fs::read_dir(task.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".json") && !name.starts_with('.') {
                let text = std::fs::read_to_string(&path).unwrap();
                serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap_or_else(|e| panic!("{} is not JSON ({e})", path.display()));
            }
        }
    }
}

/// Lines agents appended to a log outside the repository.
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The log agents of the test append to (in the test's home, outside the repository).
pub fn agent_log(repo: &Repo) -> PathBuf {
    repo.home.path().join("agents.log")
}

/// Pids recorded in the agent log as `<word> <attempt> <pid>` lines.
pub fn logged_pids(log: &Path) -> Vec<i32> {
    lines(log)
        .iter()
        .filter_map(|l| l.split_whitespace().nth(2)?.parse().ok())
        .collect()
}
