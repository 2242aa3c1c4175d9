//! Real git repositories in temp dirs, the real grove binary run in them, and what a run
//! leaves (its id, results.json, audit log, envelopes).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::wait::sh_wait_until;

pub const GROVE: &str = env!("CARGO_BIN_EXE_grove");

pub struct Repo {
    pub dir: tempfile::TempDir,
    /// An empty HOME so no user config leaks in.
    pub home: tempfile::TempDir,
}

impl Repo {
    /// A repository on branch `main` with one commit (README.md) and a test identity.
    pub fn new() -> Repo {
        Repo::committed(Repo::bare_init())
    }

    /// [`Repo::new`] in a folder made under `parent` (on the file system `parent` is on); its
    /// HOME stays in the system's temp folder.
    pub fn new_in(parent: &Path) -> Repo {
        Repo::committed(Repo::init(tempfile::tempdir_in(parent).unwrap()))
    }

    fn committed(repo: Repo) -> Repo {
        repo.git(&["config", "user.name", "Test"]);
        repo.git(&["config", "user.email", "test@example.com"]);
        repo.write("README.md", "# test\n");
        repo.commit_all("initial");
        repo
    }

    /// `git init` on main, nothing committed, no identity configured.
    pub fn bare_init() -> Repo {
        Repo::init(tempfile::tempdir().unwrap())
    }

    fn init(dir: tempfile::TempDir) -> Repo {
        let repo = Repo {
            dir,
            home: tempfile::tempdir().unwrap(),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.allow_writes_outside();
        repo
    }

    /// The tests' agents keep logs, pids and markers in the test's home and the repository,
    /// outside their worktrees: the user config lets them (they still run under the sandbox,
    /// which tests/sandbox.rs tests without this).
    fn allow_writes_outside(&self) {
        let config = self.home.path().join("grove/config.toml");
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        let text = format!(
            "[defaults]\nsandbox_write = [{:?}, {:?}]\n",
            self.home.path().display().to_string(),
            self.path().display().to_string()
        );
        std::fs::write(config, text).unwrap();
    }

    /// Without the user config that lets agents write outside their worktrees.
    pub fn confined(self) -> Repo {
        std::fs::remove_file(self.home.path().join("grove/config.toml")).unwrap();
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = self.git_output(args);
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn git_output(&self, args: &[&str]) -> Output {
        Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap()
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap()
    }

    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }

    /// Runs the grove binary in the repository with a clean HOME.
    pub fn grove(&self, args: &[&str]) -> Output {
        self.grove_cmd(args).output().unwrap()
    }

    pub fn grove_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(GROVE);
        cmd.args(args)
            .current_dir(self.path())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path())
            .env("GIT_CONFIG_NOSYSTEM", "1");
        cmd
    }

    /// Writes the plan outside the repository (so the checkout stays clean); returns its path.
    pub fn write_plan(&self, plan: &str) -> PathBuf {
        let path = self.home.path().join("plan.toml");
        std::fs::write(&path, plan).unwrap();
        path
    }

    /// Writes the plan outside the repository (so the checkout stays clean) and runs it
    /// headless from the repository; returns the output and the run's results.json.
    pub fn run_plan(&self, plan: &str) -> (Output, serde_json::Value) {
        self.run_plan_with_path(plan, &std::env::var("PATH").unwrap_or_default())
    }

    /// Like [`Repo::run_plan`], with `path` as PATH (stand-ins for agents' programs first).
    pub fn run_plan_with_path(&self, plan: &str, path: &str) -> (Output, serde_json::Value) {
        let file = self.write_plan(plan);
        let out = self
            .grove_cmd(&["run", file.to_str().unwrap(), "--headless"])
            .env("PATH", path)
            .output()
            .unwrap();
        let results = self.results(&run_id(&out));
        (out, results)
    }

    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.path().join(".grove/runs").join(run_id)
    }

    pub fn results(&self, run_id: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.run_dir(run_id).join("results.json"))
            .unwrap_or_else(|e| panic!("no results.json for {run_id}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    /// The id of the repository's only run.
    pub fn only_run_id(&self) -> String {
        let runs: Vec<String> = std::fs::read_dir(self.path().join(".grove/runs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(runs.len(), 1, "expected exactly one run: {runs:?}");
        runs[0].clone()
    }

    /// The envelope.json of `task` in run `run_id` (the latest attempt's).
    pub fn envelope(&self, run_id: &str, task: &str) -> serde_json::Value {
        let path = self
            .run_dir(run_id)
            .join("agents")
            .join(task)
            .join("envelope.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// A shell snippet for an agent's prompt that waits until the run's audit log records
    /// `task` reaching `status` (a state change is logged before grove acts on it). Gives up
    /// after `wait::DEADLINE`, like `sh_wait_for_file`; relies on the log's field order (event,
    /// task, status).
    pub fn wait_for_state(&self, task: &str, status: &str) -> String {
        let audit = format!(
            r#"'{}/.grove/runs/'"$GROVE_RUN_ID"'/audit.log'"#,
            self.path().display()
        );
        let line = format!(r#"'"event":"state","task":"{task}","status":"{status}"'"#);
        sh_wait_until(&format!("grep -qF {line} {audit} 2>/dev/null"))
    }

    /// The audit log's lines as JSON values.
    pub fn audit(&self, run_id: &str) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.run_dir(run_id).join("audit.log"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// The run id printed on the first line of headless output.
pub fn run_id(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("grove: run "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| {
            panic!(
                "no run id in output:\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .to_string()
}

pub fn task<'a>(results: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    results["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no task {name} in {results:#}"))
}

pub fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// True if a process with this pid is alive (zombies count as dead).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat[stat.rfind(')').unwrap() + 1..]
                .split_whitespace()
                .next()
                .unwrap_or("Z")
                .to_string();
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}

pub fn sha256_file(path: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(std::fs::read(path).unwrap());
    format!(
        "sha256:{}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// Takes an exclusive `flock` on `path` (created, with its folder, if missing), as another
/// process would, e.g. another grove merging in the repository (`.git/grove/merge.lock`). Held
/// until the file is dropped.
pub fn hold_flock(path: &Path) -> std::fs::File {
    use std::os::fd::AsRawFd;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    // SAFETY: flock on a file this test opened; closing it releases the lock.
    assert_eq!(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) }, 0);
    file
}
