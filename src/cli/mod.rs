//! Command line: parse arguments, load and validate plans, start (or resume) the engine with a
//! front end, run history and cleanup commands, signals, and exit codes (0 success, 1 a task did
//! not succeed, 2 bad input, 130/143/129 interrupted).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{ArgGroup, Args, Parser, Subcommand};

use crate::engine::api::{Command, FrontEnd};
use crate::engine::{self, ResumeError, RunRequest};
use crate::plan::{self, model::Plan, PlanError, RepoTarget};
use crate::pty::{DEFAULT_COLS, DEFAULT_ROWS};
use crate::ui::AgentChoice;
use exit::UsageError;

pub mod agents;
pub mod clean;
pub mod demo;
pub mod doctor;
pub mod exit;
pub mod history;
pub mod merge;

#[derive(Debug, Parser)]
#[command(
    name = "grove",
    version,
    about = "Run several coding agents at once, each in its own git worktree and branch.",
    after_help = "Without a command, grove opens the dashboard on an empty run in this repository \
(the same as `grove new`): start agents there with `n`, quit with `q`."
)]
struct Cli {
    /// Without a command: `grove new` (the dashboard on an empty run in this repository).
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Check a plan (and the repository it would run in) without running anything.
    Validate {
        /// The plan file (TOML, or JSON when it ends in .json).
        plan: PathBuf,
        /// The git repository to run in (default: the one containing the current directory).
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// Run a plan.
    Run {
        /// The plan file (TOML, or JSON when it ends in .json).
        plan: PathBuf,
        /// The git repository (default: the one containing the current directory).
        #[arg(long)]
        repo: Option<PathBuf>,
        #[command(flatten)]
        front: FrontEndArgs,
    },
    /// Continue a run that grove did not finish (a crash, kill -9, reboot, or a signal).
    Resume {
        /// The run to continue (see grove ls).
        run_id: String,
        /// The git repository (default: the one containing the current directory).
        #[arg(long)]
        repo: Option<PathBuf>,
        #[command(flatten)]
        front: FrontEndArgs,
    },
    /// List the runs in this repository.
    Ls {
        /// The git repository (default: the one containing the current directory).
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// A run's summary and per-task table.
    Show {
        /// The run to show (see grove ls).
        run_id: String,
        /// The git repository (default: the one containing the current directory).
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// An attempt's terminal output (the last attempt's unless --attempt).
    Logs {
        /// The run (see grove ls).
        run_id: String,
        /// The task whose output to print.
        task: String,
        /// Which attempt's output (1 is the first; default: the last).
        #[arg(long)]
        attempt: Option<u32>,
        /// Plain text: escape sequences stripped, redrawn lines resolved.
        #[arg(long)]
        plain: bool,
        /// The git repository (default: the one containing the current directory).
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// Remove a run's worktrees and merged branches (with --force also unmerged branches, attempt
    /// refs and unfinished runs).
    #[command(group(ArgGroup::new("which").required(true).args(["run_id", "all"])))]
    Clean {
        /// The run to clean (see grove ls); or --all.
        run_id: Option<String>,
        /// Every run of the repository that is not running.
        #[arg(long)]
        all: bool,
        /// Also delete branches not merged into the base and attempt refs (saved work of failed or
        /// interrupted attempts), and clean unfinished runs, which could still be resumed.
        #[arg(long)]
        force: bool,
        /// Also remove the run's records (.grove/runs/<run-id>).
        #[arg(long)]
        records: bool,
        /// The git repository (default: the one containing the current directory).
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// Open the dashboard on an empty run (plan "adhoc") and start agents from it with `n`.
    New {
        /// The git repository (default: the one containing the current directory).
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// Merge succeeded tasks of a run into its base branch.
    Merge {
        /// The run (see grove ls).
        run_id: String,
        /// The succeeded tasks to merge, in this order.
        #[arg(required = true)]
        tasks: Vec<String>,
        /// The git repository (default: the one containing the current directory).
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// List every agent available (presets, user config, a plan's) and whether its program is
    /// on PATH.
    Agents {
        /// Also the agents this plan defines or overrides.
        #[arg(long)]
        plan: Option<PathBuf>,
    },
    /// Check each hosted agent (claude, codex, gemini, aider): program, version, credentials,
    /// and Claude Code's first run (onboarding, this repository trusted), with what to do.
    Doctor {
        /// The repository whose trust is checked (default: the one containing the current
        /// directory).
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// Create a throwaway repository with a sample project and run the demo plan there (offline).
    Demo {
        /// Line output instead of the dashboard (automatic when stdout is not a terminal).
        #[arg(long)]
        headless: bool,
        /// Quit the dashboard by itself when every task has ended.
        #[arg(long)]
        exit_when_done: bool,
        /// Where to create the demo repository (default: the system temp directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The bundled demo agent (run by the `demo` preset).
    #[command(hide = true)]
    DemoAgent {
        /// The task's envelope.json, which says what to do.
        #[arg(long)]
        envelope: PathBuf,
    },
    /// Applies an attempt's sandbox spec to itself, then execs the command after `--` (how
    /// grove starts setup commands, agents and checks under `sandbox`, `network`, `max_memory`).
    #[command(hide = true)]
    SandboxExec {
        /// The attempt's sandbox.json.
        #[arg(long)]
        spec: PathBuf,
        /// The command to exec once confined.
        #[arg(last = true, required = true)]
        argv: Vec<String>,
    },
}

/// How a run is shown.
#[derive(Debug, Clone, Copy, Args)]
struct FrontEndArgs {
    /// Line output instead of the dashboard (automatic when stdout is not a terminal).
    #[arg(long)]
    headless: bool,
    /// Quit the dashboard by itself when every task has ended.
    #[arg(long)]
    exit_when_done: bool,
}

/// Entry point; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    // Processes agents leave behind in sessions of their own come to grove when their parent
    // ends, so that stopping an attempt can find and stop them. Where this cannot be had, they
    // are still found by their GROVE_* variables, only re-parented to init instead. Not in the
    // hidden commands that become an agent's process (the setting survives exec): the agent
    // would adopt its own descendants' orphans instead of grove.
    if !matches!(
        cli.command,
        Some(Cmd::SandboxExec { .. } | Cmd::DemoAgent { .. })
    ) {
        let _ = crate::pty::become_subreaper();
    }
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            if let Some(plan_error) = e.downcast_ref::<PlanError>() {
                // One line per problem when the plan has several.
                for line in plan_error.to_string().lines() {
                    eprintln!("error: {line}");
                }
                return plan_error.exit_code();
            }
            if let Some(usage) = e.downcast_ref::<UsageError>() {
                eprintln!("error: {usage}");
                return 2;
            }
            if let Some(resume) = e.downcast_ref::<ResumeError>() {
                eprintln!("error: {resume}");
                return resume.exit_code();
            }
            if let Some(engine) = e.downcast_ref::<engine::EngineError>() {
                eprintln!("error: {e:#}");
                return engine.exit_code();
            }
            if let Some(folder) = e.downcast_ref::<crate::record::folders::FolderError>() {
                eprintln!("error: {folder}");
                return 2;
            }
            eprintln!("error: {e:#}");
            1
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let command = cli.command.unwrap_or(Cmd::New { repo: None });
    match command {
        Cmd::Validate { plan, repo } => {
            let (plan, target, _) = load(&plan, repo.as_deref())?;
            println!(
                "{}: ok: plan '{}', {} task{}, strategy {}, repository {} (base {} at {})",
                plan.source.path.display(),
                plan.name,
                plan.tasks.len(),
                if plan.tasks.len() == 1 { "" } else { "s" },
                plan.strategy.name(),
                target.root.display(),
                target.base_label,
                &target.base_commit[..12.min(target.base_commit.len())]
            );
            Ok(0)
        }
        Cmd::Run { plan, repo, front } => {
            let (plan, target, mut notices) = load(&plan, repo.as_deref())?;
            notices.extend(print_notices(&target.root, Some(&plan.name), None));
            run_plan(plan, target, front, notices)
        }
        Cmd::Resume {
            run_id,
            repo,
            front,
        } => {
            let root = repo_root(repo.as_deref())?;
            let notices = print_notices(&root, None, Some(&run_id));
            let agents = match dashboard(front) {
                true => agent_choices(&engine::resume_plan(&root, &run_id)?)?,
                false => Vec::new(),
            };
            let start = || Ok(engine::resume(&root, &run_id)?);
            drive(start, front, agents, notices)
        }
        Cmd::Ls { repo } => history::ls(&repo_root(repo.as_deref())?, &mut std::io::stdout()),
        Cmd::Show { run_id, repo } => history::show(
            &repo_root(repo.as_deref())?,
            &run_id,
            &mut std::io::stdout(),
        ),
        Cmd::Logs {
            run_id,
            task,
            attempt,
            plain,
            repo,
        } => history::logs(
            &repo_root(repo.as_deref())?,
            &run_id,
            &task,
            attempt,
            plain,
            &mut std::io::stdout(),
        ),
        Cmd::Clean {
            run_id,
            all: _,
            force,
            records,
            repo,
        } => clean::clean(
            &repo_root(repo.as_deref())?,
            run_id.as_deref(),
            &clean::CleanOptions { force, records },
            &mut std::io::stdout(),
        ),
        Cmd::New { repo } => new_run(repo.as_deref()),
        Cmd::Merge {
            run_id,
            tasks,
            repo,
        } => merge::merge(&repo_root(repo.as_deref())?, &run_id, &tasks),
        Cmd::Agents { plan } => {
            let rows = agents::rows(plan.as_deref())?;
            agents::print(&rows, &mut std::io::stdout().lock())
                .context("cannot write the listing")?;
            Ok(0)
        }
        Cmd::Doctor { repo } => {
            let start = match repo {
                Some(dir) => Some(dir),
                None => std::env::current_dir().ok(),
            };
            let root = start.and_then(|dir| crate::git::discover_root(&dir).ok());
            let checks = doctor::checks(root.as_deref());
            doctor::print(&checks, &mut std::io::stdout().lock()).context("cannot write the report")
        }
        Cmd::Demo {
            headless,
            exit_when_done,
            dir,
        } => {
            let demo = demo::create_demo_repo(dir.as_deref())
                .context("cannot create the demo repository")?;
            println!("grove demo: sample project in {}", demo.root.display());
            let (plan, target, notices) = load(&demo.plan, Some(&demo.root))?;
            let front = FrontEndArgs {
                headless,
                exit_when_done,
            };
            let code = run_plan(plan, target, front, notices)?;
            // Not println!: after a hangup there is no terminal, and that is no reason to panic.
            let _ = writeln!(
                std::io::stdout(),
                "grove demo: look around in {} (git log --all --graph, .grove/runs/)",
                demo.root.display()
            );
            Ok(code)
        }
        Cmd::SandboxExec { spec, argv } => Ok(crate::sandbox::run_wrapper(&spec, &argv)),
        Cmd::DemoAgent { envelope } => {
            let cwd = std::env::current_dir().context("no current directory")?;
            Ok(crate::agent::demo_agent::run(&envelope, &cwd))
        }
    }
}

/// `grove new`: the dashboard on an empty `adhoc` run; tasks are started from it.
fn new_run(repo: Option<&Path>) -> anyhow::Result<i32> {
    if !std::io::stdout().is_terminal() {
        return Err(UsageError(
            "grove new (or grove without a command) needs a terminal for the dashboard; use grove run PLAN --headless for scripts".into(),
        )
        .into());
    }
    let start = match repo {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir().context("no current directory")?,
    };
    let config = plan::UserConfig::load()?;
    let plan = plan::grow::adhoc(&start, &config);
    let target = plan::resolve_repo(&plan, &start)?;
    let front = FrontEndArgs {
        headless: false,
        exit_when_done: false,
    };
    run_plan(plan, target, front, Vec::new())
}

/// Loads and validates a plan and the repository it runs in; nothing is created. Warnings (the
/// plan's and the repository's) are printed, and returned for the dashboard to show too.
fn load(path: &Path, repo: Option<&Path>) -> anyhow::Result<(Plan, RepoTarget, Vec<String>)> {
    let start = match repo {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir().context("no current directory")?,
    };
    let plan = plan::load_in(path, &start, &plan::UserConfig::load()?)?;
    let mut warnings = Vec::new();
    let mut warn = |warning: String| {
        let warning = format!("grove: warning: {warning}");
        eprintln!("{warning}");
        warnings.push(warning);
    };
    plan.warnings.iter().cloned().for_each(&mut warn);
    let target = plan::resolve_repo(&plan, &start)?;
    crate::git::submodule_warnings(&target.root)
        .into_iter()
        .for_each(&mut warn);
    Ok((plan, target, warnings))
}

/// The repository containing `repo` (or the current directory); not one is a usage error.
fn repo_root(repo: Option<&Path>) -> anyhow::Result<PathBuf> {
    let start = match repo {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir().context("no current directory")?,
    };
    crate::git::discover_root(&start)
        .map_err(|e| UsageError(format!("{}: {e}", start.display())).into())
}

/// Unfinished runs and left-over worktrees, on stderr before the run starts; returned for the
/// dashboard to show too (it hides what was printed before it).
fn print_notices(root: &Path, plan: Option<&str>, resuming: Option<&str>) -> Vec<String> {
    let notices = history::start_notices(root, plan, resuming);
    for notice in &notices {
        eprintln!("{notice}");
    }
    notices
}

/// Runs `plan`; `notices` were printed before and are shown in the dashboard too.
fn run_plan(
    plan: Plan,
    target: RepoTarget,
    front: FrontEndArgs,
    mut notices: Vec<String>,
) -> anyhow::Result<i32> {
    if let Some(warning) = crate::sandbox::unavailable_warning(&plan) {
        eprintln!("{warning}");
        notices.push(warning);
    }
    let agents = match dashboard(front) {
        true => agent_choices(&plan)?,
        false => Vec::new(),
    };
    if let (false, Some(refusal)) = (dashboard(front), crate::agent::headless_refusal(&plan)) {
        eprintln!("error: {refusal}");
        return Ok(2);
    }
    drive(
        move || {
            Ok(engine::start(RunRequest {
                plan,
                repo: target,
                pane_size: (DEFAULT_ROWS, DEFAULT_COLS),
            })?)
        },
        front,
        agents,
        notices,
    )
}

/// Whether a run is shown in the dashboard (else headless).
fn dashboard(front: FrontEndArgs) -> bool {
    !front.headless && std::io::stdout().is_terminal()
}

/// Starts a run with `start` (inside the async runtime) and drives it with the dashboard (whose
/// new-task form offers `agents`) or the headless printer until it ends; returns the exit code.
fn drive(
    start: impl FnOnce() -> anyhow::Result<(FrontEnd, tokio::task::JoinHandle<()>)>,
    front_end: FrontEndArgs,
    agents: Vec<AgentChoice>,
    notices: Vec<String>,
) -> anyhow::Result<i32> {
    let exit_when_done = front_end.exit_when_done;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let dashboard = dashboard(front_end);
    runtime.block_on(async move {
        let (front, engine) = start()?;
        let signals = forward_signals(front.commands.clone())?;
        let commands = front.commands.clone();
        let outcome = if dashboard {
            let opts = crate::ui::DashboardOptions {
                exit_when_done,
                agents,
                notices,
            };
            run_dashboard(front, opts).await
        } else {
            let mut stdout = std::io::stdout();
            let summary = crate::headless::run(front, &mut stdout).await;
            Ok(summary.map(|s| s.exit_code()).unwrap_or(1))
        };
        // The front end is done, or failed (say, the terminal went away): either way the engine
        // finishes, cancelling whatever still runs so no agent outlives grove, and ends.
        let _ = commands.send(Command::Shutdown);
        let _ = engine.await;
        // A signal decides the exit code, also when it came after the run had ended (the
        // terminal was closed while the dashboard showed the summary) or made the dashboard
        // fail (a closed terminal cannot be drawn on, nor the error printed).
        match signals.received() {
            Some(signal) => Ok(128 + signal),
            None => outcome,
        }
    })
}

/// The agents the dashboard's new-task form offers: presets, the user config's and the plan's,
/// each with whether its program is on PATH.
fn agent_choices(plan: &Plan) -> anyhow::Result<Vec<AgentChoice>> {
    let config = plan::UserConfig::load()?;
    let rows = agents::rows_with(&config, plan.agents.clone());
    Ok(rows
        .into_iter()
        .map(|row| AgentChoice {
            found: row.found.is_some(),
            name: row.name,
        })
        .collect())
}

/// The dashboard on its own task, so that even a panic in it (the panic hook has restored the
/// terminal by then) comes back here as an error and the agents are still stopped.
async fn run_dashboard(front: FrontEnd, opts: crate::ui::DashboardOptions) -> anyhow::Result<i32> {
    tokio::spawn(crate::ui::run(front, opts))
        .await
        .unwrap_or_else(|e| Err(anyhow::anyhow!("the dashboard failed: {e}")))
}

/// Which signal stopped the run, if any.
struct Signals {
    received: std::sync::Arc<std::sync::atomic::AtomicI32>,
}

impl Signals {
    fn received(&self) -> Option<i32> {
        match self.received.load(std::sync::atomic::Ordering::SeqCst) {
            0 => None,
            n => Some(n),
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP stop the run: the engine cancels every agent (group SIGTERM,
/// grace, SIGKILL) and writes the results. A second signal kills every agent at once.
fn forward_signals(
    commands: tokio::sync::mpsc::UnboundedSender<Command>,
) -> anyhow::Result<Signals> {
    use tokio::signal::unix::{signal, SignalKind};
    let received = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(0));
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let kinds = [
        (SignalKind::interrupt(), libc::SIGINT),
        (SignalKind::terminate(), libc::SIGTERM),
        (SignalKind::hangup(), libc::SIGHUP),
    ];
    for (kind, number) in kinds {
        let mut stream = signal(kind).context("cannot install signal handlers")?;
        let commands = commands.clone();
        let received = received.clone();
        let count = count.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                let _ = received.compare_exchange(
                    0,
                    number,
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                );
                let command = match count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                    0 => Command::Shutdown,
                    _ => Command::KillNow,
                };
                let _ = commands.send(command);
            }
        });
    }
    Ok(Signals { received })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument and flag of every command, hidden ones included, says what it is for.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let generated = matches!(arg.get_id().as_str(), "help" | "version");
                if !generated && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "grove", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }

    #[test]
    fn help_says_what_bare_grove_does() {
        let help = Cli::command().render_help().to_string();
        assert!(
            help.contains("Without a command, grove opens the dashboard"),
            "{help}"
        );
    }

    #[test]
    fn clean_without_a_run_mentions_all() {
        let err = Cli::try_parse_from(["grove", "clean"]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("<RUN_ID|--all>"), "{text}");
        let both = Cli::try_parse_from(["grove", "clean", "r1", "--all"]).unwrap_err();
        assert_eq!(both.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(Cli::try_parse_from(["grove", "clean", "--all"]).is_ok());
        assert!(Cli::try_parse_from(["grove", "clean", "r1"]).is_ok());
    }
}
