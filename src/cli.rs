//! Command line: parse arguments, load and validate plans, start (or resume) the engine with a
//! front end, run history and cleanup commands, signals, and exit codes (0 success, 1 a task did
//! not succeed, 2 bad input, 130/143/129 interrupted).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::engine::api::{Command, FrontEnd};
use crate::engine::{self, ResumeError, RunRequest};
use crate::plan::{self, model::Plan, PlanError, RepoTarget};
use crate::pty::{DEFAULT_COLS, DEFAULT_ROWS};
use crate::ui::AgentChoice;

#[derive(Debug, Parser)]
#[command(
    name = "grove",
    version,
    about = "Run several coding agents at once, each in its own git worktree and branch.",
    long_about = "Run several coding agents at once, each in its own git worktree and branch.\n\n\
                  grove alone opens the dashboard on an empty run in this repository (as grove \
                  new): start agents from it with n. grove run PLAN runs a plan; grove demo \
                  shows it all on a throwaway repository."
)]
struct Cli {
    /// Without a command: `grove new` (the dashboard on an empty run in this repository).
    #[command(subcommand)]
    command: Option<Cmd>,
}

/// `--repo`, on every command that works in a repository.
const REPO_HELP: &str =
    "The git repository to use (default: the one containing the current directory)";
/// A run id argument.
const RUN_ID_HELP: &str = "A run's id, as grove ls lists it (e.g. fix-20261121-051200)";

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Check a plan (and the repository it would run in) without running anything.
    Validate {
        /// The plan file (TOML, or JSON when it ends in .json).
        plan: PathBuf,
        #[arg(long, help = REPO_HELP)]
        repo: Option<PathBuf>,
    },
    /// Run a plan.
    Run {
        /// The plan file (TOML, or JSON when it ends in .json).
        plan: PathBuf,
        #[arg(long, help = REPO_HELP)]
        repo: Option<PathBuf>,
        #[command(flatten)]
        front: FrontEndArgs,
    },
    /// Continue a run that grove did not finish (a crash, kill -9, reboot, or a signal).
    Resume {
        #[arg(help = RUN_ID_HELP)]
        run_id: String,
        #[arg(long, help = REPO_HELP)]
        repo: Option<PathBuf>,
        #[command(flatten)]
        front: FrontEndArgs,
    },
    /// List the runs in this repository.
    Ls {
        #[arg(long, help = REPO_HELP)]
        repo: Option<PathBuf>,
    },
    /// A run's summary and per-task table (a live run's too).
    Show {
        #[arg(help = RUN_ID_HELP)]
        run_id: String,
        #[arg(long, help = REPO_HELP)]
        repo: Option<PathBuf>,
    },
    /// An attempt's terminal output (the last attempt's unless --attempt).
    Logs {
        #[arg(help = RUN_ID_HELP)]
        run_id: String,
        /// The task whose output to print.
        task: String,
        /// Which attempt (1 is the first; default: the last).
        #[arg(long)]
        attempt: Option<u32>,
        /// Plain text: escape sequences stripped, redrawn lines resolved.
        #[arg(long)]
        plain: bool,
        #[arg(long, help = REPO_HELP)]
        repo: Option<PathBuf>,
    },
    /// Remove a run's worktrees and merged branches, or every run's with --all (with --force also
    /// unmerged branches, attempt refs and unfinished runs).
    Clean {
        /// The run to clean, as grove ls lists it; or --all for every run.
        #[arg(conflicts_with = "all")]
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
        #[arg(long, help = REPO_HELP)]
        repo: Option<PathBuf>,
    },
    /// Open the dashboard on an empty run (plan "adhoc") and start agents from it with `n` (what
    /// grove alone does).
    New {
        #[arg(long, help = REPO_HELP)]
        repo: Option<PathBuf>,
    },
    /// Merge succeeded tasks of a run into its base branch.
    Merge {
        #[arg(help = RUN_ID_HELP)]
        run_id: String,
        /// The tasks to merge, in this order.
        #[arg(required = true)]
        tasks: Vec<String>,
        #[arg(long, help = REPO_HELP)]
        repo: Option<PathBuf>,
    },
    /// List every agent available (presets, user config, a plan's) and whether its program is
    /// on PATH.
    Agents {
        /// Also the agents this plan defines or overrides.
        #[arg(long)]
        plan: Option<PathBuf>,
    },
    /// Create a throwaway repository with a sample project and run the demo plan there (offline).
    Demo {
        /// Line output instead of the dashboard (automatic when stdout is not a terminal).
        #[arg(long)]
        headless: bool,
        /// Quit the dashboard by itself when every task has ended.
        #[arg(long)]
        exit_when_done: bool,
        /// Where to create the demo repository (created if missing; default: the system temp
        /// directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The bundled demo agent (run by the `demo` preset).
    #[command(hide = true)]
    DemoAgent {
        #[arg(long)]
        envelope: PathBuf,
    },
    /// Applies an attempt's sandbox spec to itself, then execs the command after `--` (how
    /// grove starts setup commands, agents and checks under `sandbox`, `network`, `max_memory`).
    #[command(hide = true)]
    SandboxExec {
        #[arg(long)]
        spec: PathBuf,
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
    // are still found by their GROVE_* variables, only re-parented to init instead.
    let _ = crate::pty::become_subreaper();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            if let Some(plan_error) = e.downcast_ref::<PlanError>() {
                eprintln!("error: {plan_error}");
                return plan_error.exit_code();
            }
            if let Some(usage) = e.downcast_ref::<crate::merge_cmd::UsageError>() {
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
        Cmd::Ls { repo } => {
            crate::history::ls(&repo_root(repo.as_deref())?, &mut std::io::stdout())
        }
        Cmd::Show { run_id, repo } => crate::history::show(
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
        } => crate::history::logs(
            &repo_root(repo.as_deref())?,
            &run_id,
            &task,
            attempt,
            plain,
            &mut std::io::stdout(),
        ),
        Cmd::Clean {
            run_id: None,
            all: false,
            ..
        } => Err(crate::merge_cmd::UsageError(
            "grove clean needs a run id (grove ls lists them), or --all for every run that is not \
             running"
                .into(),
        )
        .into()),
        Cmd::Clean {
            run_id,
            all: _,
            force,
            records,
            repo,
        } => crate::clean_cmd::clean(
            &repo_root(repo.as_deref())?,
            run_id.as_deref(),
            &crate::clean_cmd::CleanOptions { force, records },
            &mut std::io::stdout(),
        ),
        Cmd::New { repo } => new_run(repo.as_deref()),
        Cmd::Merge {
            run_id,
            tasks,
            repo,
        } => crate::merge_cmd::merge(&repo_root(repo.as_deref())?, &run_id, &tasks),
        Cmd::Agents { plan } => {
            let rows = crate::agents_cmd::rows(plan.as_deref())?;
            crate::agents_cmd::print(&rows, &mut std::io::stdout().lock())
                .context("cannot write the listing")?;
            Ok(0)
        }
        Cmd::Demo {
            headless,
            exit_when_done,
            dir,
        } => {
            if let Some(dir) = &dir {
                demo_dir(dir)?;
            }
            let demo = crate::demo::create_demo_repo(dir.as_deref())
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

/// `grove demo --dir DIR`: DIR is created when missing; one that is not (or cannot be) a folder
/// is bad input.
fn demo_dir(dir: &Path) -> anyhow::Result<()> {
    let usage = |text: String| crate::merge_cmd::UsageError(text).into();
    if dir.exists() && !dir.is_dir() {
        return Err(usage(format!("--dir {} is not a folder", dir.display())));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| usage(format!("--dir: cannot create {}: {e}", dir.display())))
}

/// `grove new`: the dashboard on an empty `adhoc` run; tasks are started from it.
fn new_run(repo: Option<&Path>) -> anyhow::Result<i32> {
    if !std::io::stdout().is_terminal() {
        return Err(crate::merge_cmd::UsageError(
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
        .map_err(|e| crate::merge_cmd::UsageError(format!("{}: {e}", start.display())).into())
}

/// Unfinished runs and left-over worktrees, on stderr before the run starts; returned for the
/// dashboard to show too (it hides what was printed before it).
fn print_notices(root: &Path, plan: Option<&str>, resuming: Option<&str>) -> Vec<String> {
    let notices = crate::history::start_notices(root, plan, resuming);
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
    let rows = crate::agents_cmd::rows_with(&config, plan.agents.clone());
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
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn every_argument_and_flag_is_described() {
        let cli = Cli::command();
        let about = cli
            .get_long_about()
            .or(cli.get_about())
            .unwrap()
            .to_string();
        assert!(about.contains("grove alone opens the dashboard"), "{about}");
        for cmd in cli.get_subcommands().filter(|c| !c.is_hide_set()) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(
                    arg.get_help().is_some(),
                    "grove {} {id} has no description",
                    cmd.get_name()
                );
            }
        }
    }

    #[test]
    fn clean_without_a_run_names_all() {
        let err = Cli::try_parse_from(["grove", "clean"])
            .map(dispatch)
            .expect("clean parses without a run id");
        let err = err
            .expect_err("clean without a run id is refused")
            .to_string();
        assert!(err.contains("--all"), "{err}");
    }
}
