//! One attempt's confinement, decided by grove before anything starts: which paths are written
//! (the worktree, the git paths a commit needs, a private temp folder, devices, the agent's own
//! state folders, `sandbox_write`), which are hidden, the network, the memory bound; written as
//! the wrapper's `Spec`, and the argv every process of the attempt is started with.

use std::path::{Path, PathBuf};

use crate::plan::model::{SandboxMode, TaskSpec};

use super::memory::Cgroup;
use super::{expand_home, grove_exe, Spec, WRAPPER_COMMAND};

/// Unreadable under `sandbox = "worktree"` whatever `sandbox_read` says, unless it names one
/// of them (or a path inside one) itself: where credentials live.
pub const HIDDEN: &[&str] = &[
    "~/.ssh",
    "~/.gnupg",
    "~/.aws",
    "~/.azure",
    "~/.config/gcloud",
    "~/.kube",
    "~/.docker",
    "~/.netrc",
    "~/.git-credentials",
    "~/.config/gh",
    "~/.password-store",
    "~/.npmrc",
    "~/.pypirc",
    "~/.cargo/credentials",
    "~/.cargo/credentials.toml",
];

/// Devices every process may open for writing (its own PTY is added by the wrapper).
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/shm",
];

/// Caches every agent and tool writes (pip, npm): writable for all.
const CACHES: &[&str] = &["~/.cache", "~/.npm"];

/// Folders (`/` at the end: created when missing) and files an agent's program keeps its state
/// in, by program name. `~/.aider*` is every entry of $HOME starting with `.aider`.
fn agent_state(program: &str) -> &'static [&'static str] {
    match program {
        "claude" => &[
            "~/.claude/",
            "~/.claude.json",
            "~/.claude.json.backup",
            "~/.claude.json.lock",
        ],
        "codex" => &["~/.codex/"],
        "gemini" => &["~/.gemini/"],
        "aider" => &["~/.aider/", "~/.aider*"],
        _ => &[],
    }
}

/// What an attempt's confinement is made from.
pub struct Inputs<'a> {
    pub spec: &'a TaskSpec,
    /// The agent's argv; its program picks the state folders.
    pub agent_argv: &'a [String],
    pub run_id: &'a str,
    pub attempt: u32,
    pub worktree: &'a Path,
    pub envelope: &'a Path,
    /// Where the wrapper's spec is written (the run's records, out of the agent's reach).
    pub spec_path: &'a Path,
    /// The agent's home (`HOME` of the run's environment), which `~/` in the task's
    /// `sandbox_read`/`sandbox_write` and the agents' state folders are under.
    pub home: Option<&'a Path>,
}

/// An attempt's sandbox: nothing when `sandbox` is off (or unavailable) and nothing else is
/// asked for, so such agents start exactly as without it.
#[derive(Debug, Default)]
pub struct Confinement {
    spec_path: Option<PathBuf>,
    /// The private folder: `tmp/` (TMPDIR) and the agent's result file.
    private: Option<tempfile::TempDir>,
    cgroup: Option<Cgroup>,
    /// `max_memory` as RLIMIT_DATA (no cgroup could be had).
    data_limit: Option<u64>,
}

impl Confinement {
    /// Decides and writes the spec; blocking (git, the file system).
    pub fn prepare(inputs: &Inputs<'_>) -> Result<Confinement, String> {
        let sandbox = &inputs.spec.sandbox;
        let landlock = sandbox.mode == SandboxMode::Worktree;
        if !landlock && sandbox.network && inputs.spec.max_memory.is_none() {
            return Ok(Confinement::default());
        }
        let mut confinement = Confinement::default();
        let mut spec = Spec {
            landlock,
            no_network: !sandbox.network,
            ..Spec::default()
        };
        if let Some(limit) = inputs.spec.max_memory {
            let name = format!(
                "grove-{}-{}-{}-{}",
                inputs.run_id,
                inputs.spec.name,
                inputs.attempt,
                std::process::id()
            );
            confinement.cgroup = Cgroup::create(&name, limit);
            spec.cgroup = confinement.cgroup.as_ref().map(|c| c.path.clone());
            if spec.cgroup.is_none() {
                confinement.data_limit = Some(limit);
                spec.data_limit = Some(limit);
            }
        }
        if landlock {
            let private = tempfile::Builder::new()
                .prefix(&format!("grove-{}-", inputs.spec.name))
                .tempdir()
                .map_err(|e| format!("cannot create a private temp folder: {e}"))?;
            std::fs::create_dir(private.path().join("tmp"))
                .map_err(|e| format!("cannot create a private temp folder: {e}"))?;
            fill_paths(&mut spec, inputs, private.path())?;
            confinement.private = Some(private);
        }
        let bytes = serde_json::to_vec_pretty(&spec).map_err(|e| e.to_string())?;
        crate::record::write_record(inputs.spec_path, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", inputs.spec_path.display()))?;
        confinement.spec_path = Some(inputs.spec_path.to_path_buf());
        Ok(confinement)
    }

    /// `argv` as started: through the wrapper when there is something to apply.
    pub fn wrap(&self, argv: &[String]) -> Vec<String> {
        let Some(spec) = &self.spec_path else {
            return argv.to_vec();
        };
        let mut wrapped = vec![
            grove_exe().display().to_string(),
            WRAPPER_COMMAND.into(),
            "--spec".into(),
            spec.display().to_string(),
            "--".into(),
        ];
        wrapped.extend(argv.iter().cloned());
        wrapped
    }

    /// TMPDIR, the private temp folder, under the sandbox.
    pub fn env(&self) -> Vec<(String, String)> {
        let Some(private) = &self.private else {
            return Vec::new();
        };
        let tmp = private.path().join("tmp").display().to_string();
        vec![("TMPDIR".into(), tmp)]
    }

    /// Where a sandboxed agent writes its result (its records' folder is not writable).
    pub fn result_path(&self) -> Option<PathBuf> {
        self.private.as_ref().map(|p| p.path().join("result.json"))
    }

    /// OOM kills so far in the attempt's cgroup (0 without one).
    pub fn oom_kills(&self) -> u64 {
        self.cgroup.as_ref().map_or(0, Cgroup::oom_kills)
    }

    /// The error of a process that did not succeed (`why`), told with what `max_memory` did:
    /// `out of memory` when the kernel killed in the attempt's cgroup since `oom_before`
    /// (`oom_kills()` when it started); under RLIMIT_DATA a note that allocations fail past it.
    pub fn explain(&self, why: String, oom_before: u64, limit: Option<u64>) -> String {
        let Some(limit) = limit.map(super::memory::format_size) else {
            return why;
        };
        if self.cgroup.is_some() {
            if self.oom_kills() > oom_before {
                return format!("out of memory (max_memory {limit})");
            }
            return why;
        }
        match self.data_limit {
            Some(_) => format!(
                "{why} (max_memory {limit} is a per-process limit here, RLIMIT_DATA: \
                 allocations past it fail)"
            ),
            None => why,
        }
    }
}

impl Drop for Confinement {
    fn drop(&mut self) {
        if let Some(cgroup) = &self.cgroup {
            cgroup.remove();
        }
    }
}

/// The read, hide and write lists of a `worktree` sandbox.
fn fill_paths(spec: &mut Spec, inputs: &Inputs<'_>, private: &Path) -> Result<(), String> {
    let home = inputs.home;
    let sandbox = &inputs.spec.sandbox;
    let expand = |p: &str| expand_home(p, home);
    spec.read = match sandbox.read.is_empty() {
        true => vec![PathBuf::from("/")],
        false => sandbox.read.iter().filter_map(|p| expand(p)).collect(),
    };
    // The agent reads its envelope whatever `sandbox_read` says.
    spec.read.push(inputs.envelope.to_path_buf());
    let hidden = HIDDEN
        .iter()
        .copied()
        .chain(sandbox.hide.iter().map(String::as_str));
    spec.hide = hidden.filter_map(expand).collect();

    let mut write = vec![inputs.worktree.to_path_buf(), private.to_path_buf()];
    write.extend(git_paths(inputs.worktree, inputs.run_id)?);
    write.extend(DEVICES.iter().map(PathBuf::from));
    let program = inputs
        .agent_argv
        .first()
        .and_then(|p| Path::new(p).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for entry in CACHES.iter().chain(agent_state(&program)) {
        write.extend(state_paths(entry, home));
    }
    write.extend(sandbox.write.iter().filter_map(|p| expand(p)));
    spec.write = write;
    Ok(())
}

/// What `git commit` in the worktree writes: the worktree's own git folder, the object store,
/// and the folders of the run's branches and their reflogs (created if missing, so a rule can
/// name them). Never hooks, config, info or other worktrees' folders.
fn git_paths(worktree: &Path, run_id: &str) -> Result<Vec<PathBuf>, String> {
    let repo = git2::Repository::open(worktree)
        .map_err(|e| format!("cannot open {}: {e}", worktree.display()))?;
    let common = repo.commondir().to_path_buf();
    let refs = common.join("refs/heads/grove").join(run_id);
    let logs = common.join("logs/refs/heads/grove").join(run_id);
    for dir in [&refs, &logs] {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    Ok(vec![
        repo.path().to_path_buf(),
        common.join("objects"),
        refs,
        logs,
    ])
}

/// The paths of one state entry: a folder (created when missing), a file, or `~/.prefix*`.
fn state_paths(entry: &str, home: Option<&Path>) -> Vec<PathBuf> {
    let Some(home) = home else {
        return Vec::new();
    };
    if let Some(prefix) = entry.strip_prefix("~/").and_then(|e| e.strip_suffix('*')) {
        let entries = std::fs::read_dir(home).into_iter().flatten().flatten();
        return entries
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .map(|e| e.path())
            .collect();
    }
    let Some(path) = expand_home(entry.trim_end_matches('/'), Some(home)) else {
        return Vec::new();
    };
    if entry.ends_with('/') {
        // Made now, so the agent does not need to create it in $HOME.
        let _ = std::fs::create_dir_all(&path);
    }
    vec![path]
}
