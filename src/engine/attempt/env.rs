//! What an attempt's processes start with: the agent's command line, the environment (grove's
//! variables, ports, the agent's and the task's `env`, the venv), the sandbox, and whether the
//! agent has the credentials it needs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::agent::{self, TemplateVars};
use crate::environment::Environment;
use crate::plan::model::SandboxMode;
use crate::sandbox::{Confinement, Inputs};

use super::super::blocking::blocking;
use super::job::AttemptJob;
use super::setup;

/// The agent's argv (its template filled in, through grove's sandbox wrapper when the task is
/// confined to its worktree) and the environment of the agent and of setup commands.
pub(super) fn agent_command(
    job: &AttemptJob,
    envelope: &Path,
    result: &Path,
    worktree: &Path,
    confined: &Confinement,
) -> (Vec<String>, Vec<(String, String)>) {
    let envelope_s = envelope.display().to_string();
    let result_s = result.display().to_string();
    let worktree_s = worktree.display().to_string();
    let vars = TemplateVars {
        prompt: &job.prompt,
        envelope: &envelope_s,
        result: &result_s,
        task: &job.spec.name,
        worktree: &worktree_s,
        session: "",
    };
    // A follow-up continues the recorded session through the agent's resume template.
    let argv = match (&job.follow_up, &job.agent.resume) {
        (Some(f), Some(resume)) => agent::resume_argv(resume, &f.session, &vars),
        _ => agent::render_argv(&job.agent.argv, &vars),
    };
    let argv = match job.spec.sandbox.mode {
        SandboxMode::Worktree => agent::in_grove_sandbox(argv),
        SandboxMode::Off | SandboxMode::Unavailable => argv,
    };
    let mut env = agent_env(job, &envelope_s, &result_s, worktree);
    env.extend(confined.env());
    (argv, env)
}

/// The attempt's sandbox, decided and written on a blocking thread once its worktree exists.
pub(super) async fn confine(job: &AttemptJob, worktree: &Path) -> Result<Confinement, String> {
    let (spec, argv, paths) = (job.spec.clone(), job.agent.argv.clone(), job.paths.clone());
    let (attempt, worktree) = (job.attempt, worktree.to_path_buf());
    let home = job
        .env
        .var("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    blocking(move || {
        let task_dir = paths.task_dir(&spec.name);
        Confinement::prepare(&Inputs {
            spec: &spec,
            agent_argv: &argv,
            run_id: &paths.run_id,
            attempt,
            worktree: &worktree,
            envelope: &paths.envelope(&spec.name),
            spec_path: &task_dir.join("sandbox.json"),
            home: home.as_deref(),
        })
    })
    .await?
}

/// Why the agent must not start: it has no credentials and would wait for a login. `env` is
/// what the agent gets on top of the run's environment `run_env`.
pub(super) fn no_credentials(
    argv: &[String],
    env: &[(String, String)],
    run_env: &Environment,
) -> Option<String> {
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| run_env.var_str(name).map(str::to_string))
    };
    let home = lookup("HOME").map(PathBuf::from);
    agent::credentials::missing_before_start(&agent::credentials::Agent {
        argv,
        env: &lookup,
        home: home.as_deref(),
    })
}

/// The environment of the agent and of setup commands: grove's variables, the reserved ports,
/// the agent's and the task's `env`, and the venv when the task has one.
fn agent_env(
    job: &AttemptJob,
    envelope: &str,
    result: &str,
    worktree: &Path,
) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("GROVE_RUN_ID".into(), job.paths.run_id.clone());
    env.insert("GROVE_TASK".into(), job.spec.name.clone());
    env.insert("GROVE_ATTEMPT".into(), job.attempt.to_string());
    env.insert("GROVE_ENVELOPE".into(), envelope.into());
    env.insert("GROVE_RESULT".into(), result.into());
    env.insert("GROVE_WORKTREE".into(), worktree.display().to_string());
    for (i, port) in job.ports.iter().enumerate() {
        env.insert(format!("GROVE_PORT_{i}"), port.to_string());
    }
    // Claude Code refuses `--dangerously-skip-permissions` as root unless told it runs in a
    // sandbox: in grove's, it does.
    let program = job.agent.argv.first().map(Path::new);
    let claude = program
        .and_then(Path::file_name)
        .is_some_and(|p| p == "claude");
    if claude && job.spec.sandbox.mode == SandboxMode::Worktree {
        env.insert("IS_SANDBOX".into(), "1".into());
    }
    env.extend(job.agent.env.clone());
    env.extend(job.spec.env.clone());
    if job.spec.python.is_some() {
        let bin = setup::venv_bin(worktree).display().to_string();
        let path = env
            .get("PATH")
            .cloned()
            .or_else(|| job.env.var_str("PATH").map(str::to_string))
            .filter(|p| !p.is_empty());
        let path = match path {
            Some(path) => format!("{bin}:{path}"),
            None => bin,
        };
        env.insert("PATH".into(), path);
        let venv = worktree.join(setup::VENV).display().to_string();
        env.insert("VIRTUAL_ENV".into(), venv);
    }
    env.into_iter().collect()
}
