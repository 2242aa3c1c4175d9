//! The real Claude Code and Codex CLIs (pinned, installed from npm by
//! tests/fixtures/install-clis.sh) against a stand-in model API on 127.0.0.1
//! (tests/fixtures/model_api.py) with scripted answers, in a throwaway HOME prepared the way a
//! first run needs (onboarding done, the API key approved, the repository trusted).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use super::repo::{run_id, Repo};
use super::wait::wait_for;

/// The API key the CLIs are given (the stand-in takes any).
pub const API_KEY: &str = "sk-grove-test-0123456789";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The folder holding `claude` and `codex`, installed when missing; None (said on stderr) when
/// they cannot be installed here: the calling test then skips.
pub fn bin() -> Option<&'static Path> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = Command::new(fixtures().join("install-clis.sh"))
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(out) if out.status.success() => Some(PathBuf::from(
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
            )),
            Ok(out) => {
                eprintln!(
                    "SKIPPED: the real Claude Code and Codex CLIs cannot be installed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run tests/fixtures/install-clis.sh: {e}");
                None
            }
        }
    })
    .as_deref()
}

/// The stand-in model API, stopped (by its pid) when dropped.
pub struct StandIn {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl StandIn {
    /// Serves `script` (see tests/fixtures/model_api.py).
    pub fn start(script: serde_json::Value) -> StandIn {
        let dir = tempfile::tempdir().unwrap();
        let script_path = dir.path().join("script.json");
        std::fs::write(&script_path, script.to_string()).unwrap();
        let port_file = dir.path().join("port");
        let child = Command::new("python3")
            .arg(fixtures().join("model_api.py"))
            .arg(&script_path)
            .arg(dir.path().join("requests.jsonl"))
            .arg(&port_file)
            .stdin(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr.txt")).unwrap())
            .spawn()
            .expect("python3 runs the stand-in model API");
        let port = wait_for("the stand-in API to start", || {
            std::fs::read_to_string(&port_file)
                .ok()?
                .trim()
                .parse()
                .ok()
        });
        StandIn { child, port, dir }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The requests that offered tools (the agent's turns), as the API got them.
    pub fn turns(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("requests.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|r| r["body"]["tools"].as_array().is_some_and(|t| !t.is_empty()))
            .collect()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `~/.claude.json` as Claude Code leaves it after a first run: onboarding done, `API_KEY`
/// approved, and `repo` trusted (which covers the worktrees below it).
pub fn prepare_claude_home(repo: &Repo, trusted: bool) {
    let key_suffix: String = API_KEY
        .chars()
        .rev()
        .take(20)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let mut projects = serde_json::Map::new();
    if trusted {
        projects.insert(
            repo.path().display().to_string(),
            serde_json::json!({"hasTrustDialogAccepted": true}),
        );
    }
    let config = serde_json::json!({
        "hasCompletedOnboarding": true,
        "customApiKeyResponses": {"approved": [key_suffix], "rejected": []},
        "projects": projects,
    });
    std::fs::write(repo.home.path().join(".claude.json"), config.to_string()).unwrap();
}

/// `$CODEX_HOME/config.toml` with the stand-in as the model provider.
pub fn prepare_codex_home(repo: &Repo, api: &StandIn) -> PathBuf {
    let home = repo.home.path().join(".codex");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("config.toml"),
        format!(
            "model = \"gpt-test\"\nmodel_provider = \"standin\"\n\
             [model_providers.standin]\nname = \"standin\"\nbase_url = \"{}/v1\"\n\
             env_key = \"OPENAI_API_KEY\"\nwire_api = \"responses\"\n",
            api.url()
        ),
    )
    .unwrap();
    home
}

/// grove in `repo` with the real CLIs first on PATH, pointed at `api`, offline.
pub fn grove(repo: &Repo, bin: &Path, api: &StandIn, args: &[&str]) -> Command {
    let mut cmd = repo.grove_cmd(args);
    cmd.env(
        "PATH",
        format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    )
    .env("ANTHROPIC_BASE_URL", api.url())
    .env("ANTHROPIC_API_KEY", API_KEY)
    .env("OPENAI_API_KEY", API_KEY)
    .env("CODEX_HOME", repo.home.path().join(".codex"))
    .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    .env("DISABLE_TELEMETRY", "1")
    .env("DISABLE_AUTOUPDATER", "1")
    .env_remove("ANTHROPIC_AUTH_TOKEN")
    .env_remove("CLAUDE_CODE_OAUTH_TOKEN");
    cmd
}

/// Runs `plan` (TOML text) headless in `repo` with the real CLIs against `api`: its output and
/// run id. Call only after [`bin`] said the CLIs are here.
pub fn run_headless(repo: &Repo, api: &StandIn, plan: &str) -> (std::process::Output, String) {
    let bin = bin().expect("the real CLIs are installed");
    let file = repo.write_plan(plan);
    let out = grove(
        repo,
        bin,
        api,
        &["run", file.to_str().unwrap(), "--headless"],
    )
    .output()
    .unwrap();
    let id = run_id(&out);
    (out, id)
}

/// Live processes started for `run_id` (they carry `GROVE_RUN_ID` in their environment): their
/// command lines.
pub fn processes_of_run(run_id: &str) -> Vec<String> {
    let marker = format!("GROVE_RUN_ID={run_id}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
                .unwrap_or(false)
                && super::repo::alive(*pid)
        })
        .map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            format!(
                "{pid}: {}",
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            )
        })
        .collect()
}
