//! The task keys `[defaults]` may also set, read into options, and how a task's own settings
//! fold over the defaults.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use super::error::{quoted, Place, Res, SourceFile};
use super::limits;
use super::model::{
    defaults, AgentDef, Backoff, KeepWorktrees, MergeMode, PythonEnv, Sandbox, SandboxMode,
};
use super::paths;
use super::problems::{did_you_mean, Problems};
use super::scope::Scope;
use super::tree::{Entry, Table};

/// Keys a task shares with `[defaults]`.
pub(crate) const KEYS: &[&str] = &[
    "prompt",
    "prompt_file",
    "agent",
    "inputs",
    "env",
    "timeout",
    "retries",
    "backoff",
    "kill_grace",
    "merge",
    "keep_worktrees",
    "copy",
    "setup",
    "python",
    "ports",
    "idle_after",
    "auto_yes",
    "idle_exit",
    "result_grace",
    "fail_on_denied",
    "check",
    "scrollback",
    "sandbox",
    "sandbox_read",
    "sandbox_hide",
    "sandbox_write",
    "network",
    "max_memory",
];

const RETRIES_MAX: i64 = 100;
/// Most a `prompt_file` may hold: 1 MiB.
pub(crate) const PROMPT_FILE_MAX: u64 = 1 << 20;
const PORTS_MAX: i64 = 64;
/// Lines of pane history kept in memory per task; the attempt log on disk has everything, so a
/// bigger number only costs memory (about a cell per column per line).
const SCROLLBACK_MAX: i64 = 100_000;

#[derive(Debug, Clone, Default)]
pub(crate) struct Settings {
    pub prompt: Option<PromptRef>,
    pub agent: Option<AgentRef>,
    pub inputs: serde_json::Map<String, serde_json::Value>,
    pub env: BTreeMap<String, String>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub backoff: BackoffParts,
    pub kill_grace: Option<Duration>,
    pub merge: Option<MergeMode>,
    pub keep_worktrees: Option<KeepWorktrees>,
    pub copy: Option<Vec<String>>,
    pub setup: Option<Vec<String>>,
    pub python: Option<PythonEnv>,
    pub ports: Option<u16>,
    pub idle_after: Option<Duration>,
    pub auto_yes: Option<bool>,
    pub idle_exit: Option<bool>,
    pub result_grace: Option<Duration>,
    pub fail_on_denied: Option<bool>,
    pub check: Option<String>,
    pub scrollback: Option<usize>,
    pub sandbox: Option<SandboxMode>,
    pub sandbox_read: Option<Vec<String>>,
    pub sandbox_hide: Option<Vec<String>>,
    pub sandbox_write: Option<Vec<String>>,
    pub network: Option<bool>,
    pub max_memory: Option<u64>,
}

/// An `agent = "NAME"` and where it is written, so a problem with the agent it picks (its
/// program missing) points at the reference.
#[derive(Debug, Clone)]
pub(crate) struct AgentRef {
    pub name: String,
    pub at: Place,
}

/// A task's prompt and where it (its `prompt` or `prompt_file`) is written.
#[derive(Debug, Clone)]
pub(crate) struct PromptRef {
    pub value: Prompt,
    pub at: Place,
}

#[derive(Debug, Clone)]
pub(crate) enum Prompt {
    /// Written in the plan, or read from its `prompt_file`.
    Text(String),
    /// A `prompt_file` left unread: the run recorded the prompt (see [`PromptFiles`]).
    Recorded,
}

/// Whether `prompt_file`s are read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PromptFiles<'a> {
    /// A plan being started: each `prompt_file` is read now. It must be inside this folder, the
    /// run's repository (canonical), or the user config's folder for the config's; None: there
    /// is no such folder, and no prompt file can be read.
    Read(Option<&'a Path>),
    /// The plan of a run that already started (resumed, or growing by a task): its prompts are
    /// the ones it recorded by task name, whatever became of the files since.
    Recorded(&'a BTreeMap<String, String>),
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BackoffParts {
    pub initial: Option<Duration>,
    pub max: Option<Duration>,
    pub multiplier: Option<f64>,
    pub jitter: Option<f64>,
}

/// What reading settings needs to know about the rest of the plan.
pub(crate) struct Context<'a> {
    /// The plan file's directory, which `prompt_file` is relative to.
    pub plan_dir: &'a Path,
    /// The `[agents]` of the plan and the user config.
    pub agents: &'a BTreeMap<String, AgentDef>,
    /// Set while reading the user config: references there point into that file.
    pub file: Option<&'a SourceFile>,
    pub prompt_files: PromptFiles<'a>,
    /// The plan's strategy passes earlier tasks' outputs into prompts (`pass_output`).
    pub passes_outputs: bool,
}

impl Context<'_> {
    /// Where byte `offset` of the file being read is: in the plan, or in the user config.
    pub fn place(&self, offset: usize) -> Place {
        match self.file {
            Some(file) => Place::Elsewhere(file.location(offset)),
            None => Place::Here(offset),
        }
    }
}

impl Settings {
    /// Reads the shared keys of `table` (the caller checks for unknown keys); a key that cannot
    /// be read is left out, its problem added to `problems`.
    pub fn read(
        table: &Table,
        scope: &Scope,
        cx: &Context<'_>,
        problems: &mut Problems,
    ) -> Settings {
        if let (Some(a), Some(b)) = (table.get("prompt"), table.get("prompt_file")) {
            let later = a.key_span.start.max(b.key_span.start);
            problems.add(scope.bad(later, "both 'prompt' and 'prompt_file' are set; use one"));
        }
        let mut s = Settings::default();
        for entry in table.entries() {
            let read = s.read_key(entry, scope, cx, problems);
            problems.take(read);
        }
        s
    }

    /// Reads one key of a settings table into `self`.
    fn read_key(
        &mut self,
        entry: &Entry,
        scope: &Scope,
        cx: &Context<'_>,
        problems: &mut Problems,
    ) -> Res<()> {
        let s = self;
        match entry.key.as_str() {
            "prompt" => {
                let value = Prompt::Text(scope.string(entry)?.to_string());
                let at = cx.place(entry.value.span.start);
                s.prompt = Some(PromptRef { value, at });
            }
            "prompt_file" => {
                let value = match cx.prompt_files {
                    PromptFiles::Read(root) => read_prompt_file(entry, scope, cx.plan_dir, root)?,
                    PromptFiles::Recorded(_) => {
                        scope.string(entry)?;
                        Prompt::Recorded
                    }
                };
                let at = cx.place(entry.value.span.start);
                s.prompt = Some(PromptRef { value, at });
            }
            "agent" => {
                let name = agent(entry, scope, cx.agents)?;
                let at = cx.place(entry.value.span.start);
                s.agent = Some(AgentRef { name, at });
            }
            "inputs" => s.inputs = scope.table(entry)?.to_json(),
            "env" => s.env = scope.env(entry)?,
            "timeout" => s.timeout = Some(positive_duration(entry, scope)?),
            "retries" => s.retries = Some(scope.count(entry, 0, Some(RETRIES_MAX))?),
            "backoff" => s.backoff = backoff(entry, scope, problems)?,
            "kill_grace" => s.kill_grace = Some(scope.duration(entry)?),
            "merge" => {
                let modes = [("manual", MergeMode::Manual), ("auto", MergeMode::Auto)];
                s.merge = Some(scope.choice(entry, &modes)?);
            }
            "keep_worktrees" => {
                let keep = [
                    ("failed", KeepWorktrees::Failed),
                    ("always", KeepWorktrees::Always),
                    ("never", KeepWorktrees::Never),
                ];
                s.keep_worktrees = Some(scope.choice(entry, &keep)?);
            }
            "copy" => s.copy = Some(copy_paths(entry, scope)?),
            "setup" => s.setup = Some(non_empty_strings(entry, scope)?),
            "python" => s.python = Some(python(entry, scope, problems)?),
            "ports" => s.ports = Some(scope.count(entry, 0, Some(PORTS_MAX))?),
            "idle_after" => s.idle_after = Some(positive_duration(entry, scope)?),
            "auto_yes" => s.auto_yes = Some(scope.boolean(entry)?),
            "idle_exit" => s.idle_exit = Some(scope.boolean(entry)?),
            "result_grace" => s.result_grace = Some(scope.duration(entry)?),
            "fail_on_denied" => s.fail_on_denied = Some(scope.boolean(entry)?),
            "check" => s.check = Some(non_empty_command(entry, scope)?),
            "scrollback" => s.scrollback = Some(scope.count(entry, 1, Some(SCROLLBACK_MAX))?),
            "sandbox" => s.sandbox = Some(limits::sandbox_mode(entry, scope)?),
            "sandbox_read" => s.sandbox_read = Some(limits::paths(entry, scope)?),
            "sandbox_hide" => s.sandbox_hide = Some(limits::paths(entry, scope)?),
            "sandbox_write" => s.sandbox_write = Some(limits::paths(entry, scope)?),
            "network" => s.network = Some(scope.boolean(entry)?),
            "max_memory" => s.max_memory = Some(limits::size(entry, scope)?),
            _ => {}
        }
        Ok(())
    }

    /// `self` (a task's own settings) over `defaults`: single values from the task win, `env`
    /// and `inputs` merge per key, `backoff` per field.
    pub fn over(self, defaults: &Settings) -> Settings {
        let mut inputs = defaults.inputs.clone();
        inputs.extend(self.inputs);
        let mut env = defaults.env.clone();
        env.extend(self.env);
        let (task, dflt) = (self.backoff, defaults.backoff);
        Settings {
            prompt: self.prompt.or_else(|| defaults.prompt.clone()),
            agent: self.agent.or_else(|| defaults.agent.clone()),
            inputs,
            env,
            timeout: self.timeout.or(defaults.timeout),
            retries: self.retries.or(defaults.retries),
            backoff: BackoffParts {
                initial: task.initial.or(dflt.initial),
                max: task.max.or(dflt.max),
                multiplier: task.multiplier.or(dflt.multiplier),
                jitter: task.jitter.or(dflt.jitter),
            },
            kill_grace: self.kill_grace.or(defaults.kill_grace),
            merge: self.merge.or(defaults.merge),
            keep_worktrees: self.keep_worktrees.or(defaults.keep_worktrees),
            copy: self.copy.or_else(|| defaults.copy.clone()),
            setup: self.setup.or_else(|| defaults.setup.clone()),
            python: self.python.or_else(|| defaults.python.clone()),
            ports: self.ports.or(defaults.ports),
            idle_after: self.idle_after.or(defaults.idle_after),
            auto_yes: self.auto_yes.or(defaults.auto_yes),
            idle_exit: self.idle_exit.or(defaults.idle_exit),
            result_grace: self.result_grace.or(defaults.result_grace),
            fail_on_denied: self.fail_on_denied.or(defaults.fail_on_denied),
            check: self.check.or_else(|| defaults.check.clone()),
            scrollback: self.scrollback.or(defaults.scrollback),
            sandbox: self.sandbox.or(defaults.sandbox),
            sandbox_read: self.sandbox_read.or_else(|| defaults.sandbox_read.clone()),
            sandbox_hide: self.sandbox_hide.or_else(|| defaults.sandbox_hide.clone()),
            sandbox_write: self
                .sandbox_write
                .or_else(|| defaults.sandbox_write.clone()),
            network: self.network.or(defaults.network),
            max_memory: self.max_memory.or(defaults.max_memory),
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(defaults::TIMEOUT)
    }

    pub fn backoff(&self) -> Backoff {
        let d = Backoff::default();
        let b = self.backoff;
        Backoff {
            initial: b.initial.unwrap_or(d.initial),
            max: b.max.unwrap_or(d.max),
            multiplier: b.multiplier.unwrap_or(d.multiplier),
            jitter: b.jitter.unwrap_or(d.jitter),
        }
    }

    /// The task's sandbox once defaults are folded in: `worktree` unless it says otherwise, or
    /// `unavailable` where the kernel has no Landlock.
    pub fn resolved_sandbox(&self) -> Sandbox {
        let mode = self
            .sandbox
            .unwrap_or(match crate::sandbox::landlock_abi() {
                Some(_) => SandboxMode::Worktree,
                None => SandboxMode::Unavailable,
            });
        Sandbox {
            mode,
            read: self.sandbox_read.clone().unwrap_or_default(),
            hide: self.sandbox_hide.clone().unwrap_or_default(),
            write: self.sandbox_write.clone().unwrap_or_default(),
            network: self.network.unwrap_or(true),
        }
    }
}

fn positive_duration(entry: &Entry, scope: &Scope) -> Res<Duration> {
    let duration = scope.duration(entry)?;
    if duration.is_zero() {
        return Err(scope.bad(
            entry.value.span.start,
            format!("{} must be more than zero", scope.key(entry)),
        ));
    }
    Ok(duration)
}

/// Reads a `prompt_file`: a path relative to the plan's folder (or absolute) that must lead,
/// symlinks followed, to a regular file inside `root` (not in its `.git` or `.grove`) of at most
/// [`PROMPT_FILE_MAX`] bytes. A shared plan must not pull `~/.aws/credentials` into a prompt sent
/// to a hosted model, hang on a FIFO or read `/dev/zero` until memory runs out.
fn read_prompt_file(
    entry: &Entry,
    scope: &Scope,
    plan_dir: &Path,
    root: Option<&Path>,
) -> Res<Prompt> {
    let written = scope.string(entry)?;
    let at = entry.value.span.start;
    let bad = |why: String| scope.bad(at, format!("prompt_file {} {why}", quoted(written)));
    let root = root
        .ok_or_else(|| bad("must be inside the run's git repository, and there is none".into()))?;
    let path = plan_dir.join(written);
    let cannot = |path: &Path, why: &dyn std::fmt::Display| {
        scope.bad(
            at,
            format!(
                "cannot read prompt_file {} ({}): {why}",
                quoted(written),
                path.display()
            ),
        )
    };
    let resolved = path.canonicalize().map_err(|e| cannot(&path, &e))?;
    let shown = resolved.display();
    if let Some(problem) = paths::resolved_problem(root, &resolved) {
        return Err(bad(format!("({shown}) is {problem}")));
    }
    let (file, meta) = paths::open_regular(&resolved).map_err(|e| match e {
        paths::OpenError::NotRegular(_) => bad(format!("({shown}) is {e}")),
        paths::OpenError::Io(e) => cannot(&resolved, &e),
    })?;
    let too_big = |size: u64| {
        bad(format!(
            "({shown}) is {size} bytes; a prompt file holds at most 1 MiB ({PROMPT_FILE_MAX} bytes)"
        ))
    };
    if meta.len() > PROMPT_FILE_MAX {
        return Err(too_big(meta.len()));
    }
    // Read no further than the limit, should the file have grown since.
    let mut bytes = Vec::new();
    file.take(PROMPT_FILE_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(&resolved, &e))?;
    if bytes.len() as u64 > PROMPT_FILE_MAX {
        return Err(too_big(bytes.len() as u64));
    }
    let text = String::from_utf8(bytes).map_err(|_| cannot(&resolved, &"not valid UTF-8"))?;
    Ok(Prompt::Text(text))
}

fn agent(entry: &Entry, scope: &Scope, agents: &BTreeMap<String, AgentDef>) -> Res<String> {
    known_agent(scope.string(entry)?, entry.value.span.start, scope, agents)
}

/// `name` if it is a preset or a defined agent; else an error at `at` listing both.
pub(crate) fn known_agent(
    name: &str,
    at: usize,
    scope: &Scope,
    agents: &BTreeMap<String, AgentDef>,
) -> Res<String> {
    if crate::agent::is_preset(name) || agents.contains_key(name) {
        return Ok(name.to_string());
    }
    let defined = if agents.is_empty() {
        "none".to_string()
    } else {
        agents.keys().cloned().collect::<Vec<_>>().join(", ")
    };
    let known = crate::agent::PRESETS
        .iter()
        .copied()
        .chain(agents.keys().map(String::as_str));
    Err(scope.bad(
        at,
        format!(
            "unknown agent {}{} (presets: {}; defined agents: {defined})",
            quoted(name),
            did_you_mean(name, known),
            crate::agent::PRESETS.join(", ")
        ),
    ))
}

/// The `backoff` table; the problems of its fields go to `problems`, and those fields are left
/// out.
fn backoff(entry: &Entry, scope: &Scope, problems: &mut Problems) -> Res<BackoffParts> {
    let table = scope.table(entry)?;
    let scope = scope.nested(&entry.key);
    problems.extend(scope.check_keys(table, &["initial", "max", "multiplier", "jitter"]));
    let mut parts = BackoffParts::default();
    for field in table.entries() {
        match field.key.as_str() {
            "initial" => parts.initial = problems.take(scope.duration(field)),
            "max" => parts.max = problems.take(scope.duration(field)),
            "multiplier" => {
                let ok = |m: f64| m.is_finite() && m > 0.0;
                parts.multiplier =
                    problems.take(scope.number(field, ok, "a finite number above 0"));
            }
            "jitter" => {
                let ok = |j: f64| (0.0..=1.0).contains(&j);
                parts.jitter = problems.take(scope.number(field, ok, "between 0 and 1"));
            }
            _ => {}
        }
    }
    Ok(parts)
}

/// `copy` paths: relative to the repository root, inside it, and not git's or grove's own
/// folders, checked once normalised (see [`super::paths`]; the copy checks them again with
/// symlinks resolved).
fn copy_paths(entry: &Entry, scope: &Scope) -> Res<Vec<String>> {
    let mut paths = Vec::new();
    for (path, at) in scope.strings(entry)? {
        let clean = super::paths::normalize(&path).map_err(|problem| {
            scope.bad(
                at,
                format!("{}: {} is {problem}", scope.key(entry), quoted(&path)),
            )
        })?;
        paths.push(clean);
    }
    Ok(paths)
}

/// A shell command that is not empty (or only spaces).
fn non_empty_command(entry: &Entry, scope: &Scope) -> Res<String> {
    let command = scope.string(entry)?;
    if command.trim().is_empty() {
        return Err(scope.bad(
            entry.value.span.start,
            format!("{} must not be an empty command", scope.key(entry)),
        ));
    }
    Ok(command.to_string())
}

/// An array of strings none of which is empty (or only spaces).
fn non_empty_strings(entry: &Entry, scope: &Scope) -> Res<Vec<String>> {
    let items = scope.strings(entry)?;
    if let Some((_, at)) = items.iter().find(|(s, _)| s.trim().is_empty()) {
        return Err(scope.bad(
            *at,
            format!("{} must not hold an empty command", scope.key(entry)),
        ));
    }
    Ok(items.into_iter().map(|(s, _)| s).collect())
}

/// The `python` table; the problems of its fields go to `problems`, and those fields are left
/// out.
fn python(entry: &Entry, scope: &Scope, problems: &mut Problems) -> Res<PythonEnv> {
    let table = scope.table(entry)?;
    let scope = scope.nested(&entry.key);
    problems.extend(scope.check_keys(table, &["requirements", "requirements_file"]));
    let mut env = PythonEnv::default();
    for field in table.entries() {
        match field.key.as_str() {
            "requirements" => {
                env.requirements = problems
                    .take(non_empty_strings(field, &scope))
                    .unwrap_or_default()
            }
            "requirements_file" => {
                let file = problems.take(scope.string(field)).unwrap_or_default();
                if file.trim().is_empty() {
                    problems.add(scope.bad(
                        field.value.span.start,
                        format!("{} must not be empty", scope.key(field)),
                    ));
                    continue;
                }
                env.requirements_file = Some(file.to_string());
            }
            _ => {}
        }
    }
    Ok(env)
}
