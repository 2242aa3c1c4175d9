//! Command line: the arguments, and one function per command (the files beside this one) that
//! returns the exit code (0 success, 1 a task did not succeed, 2 bad input, 130/143/129
//! interrupted); `exit.rs` turns a failed command's error into its message and exit code.

use std::path::PathBuf;

use clap::{ArgGroup, Parser, Subcommand};

use drive::FrontEndArgs;
use repo::repo_root;

pub mod agents;
pub mod attach;
pub mod clean;
pub mod demo;
pub mod detach;
pub mod doctor;
pub mod drive;
pub mod exit;
pub mod history;
pub mod merge;
pub mod out;
pub mod proxy;
pub mod ps;
pub mod repo;
pub mod run;
pub mod server;
pub mod stop;
pub mod wait;

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
        /// Run it in the repository's grove server and return at once (see grove wait, ps, stop).
        #[arg(long, conflicts_with_all = ["headless", "exit_when_done"])]
        detach: bool,
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
        /// Continue it in the repository's grove server and return at once.
        #[arg(long, conflicts_with_all = ["headless", "exit_when_done"])]
        detach: bool,
        #[command(flatten)]
        front: FrontEndArgs,
    },
    /// Open the dashboard on a live run of the grove server (default: the newest), as it is
    /// now and then live; --ssh for a run on another machine.
    Attach(attach::AttachArgs),
    /// Wait until a run ends; exits with the run's exit code (0, 1, 130…).
    Wait {
        /// The run to wait for (see grove ps, grove ls).
        run_id: String,
        /// The git repository (default: the one containing the current directory).
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// List the live runs in this repository's grove server (started with run --detach).
    Ps {
        /// The git repository (default: the one containing the current directory).
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// Stop a run in the grove server, like the dashboard's stop (cancel, grace, kill).
    Stop {
        /// The run to stop (see grove ps).
        run_id: String,
        /// The git repository (default: the one containing the current directory).
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// Continue a finished task's agent session with a new prompt: a new attempt in its
    /// worktree on its branch (claude, codex, or an agent with a `resume` command).
    #[command(name = "follow-up")]
    FollowUp {
        /// The run (see grove ls); it must not be running.
        run_id: String,
        /// The finished task whose session continues.
        task: String,
        /// What to ask the agent next.
        #[arg(allow_hyphen_values = true)]
        prompt: String,
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
    /// Bridges stdin and stdout to the repository's grove server (what `grove attach --ssh`
    /// runs on the remote host).
    #[command(hide = true)]
    Proxy {
        /// The git repository whose server to reach (default: the one containing the current
        /// directory).
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// The repository's grove server, hosting detached runs (started by grove itself).
    #[command(hide = true)]
    Server {
        /// The git repository whose server this is (default: the one containing the current
        /// directory).
        #[arg(long)]
        repo: Option<PathBuf>,
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
    dispatch(cli).unwrap_or_else(|e| exit::report(&e))
}

/// Runs the command; its exit code, or why it failed.
fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let mut stdout = out::stdout();
    match cli.command.unwrap_or(Cmd::New { repo: None }) {
        Cmd::Validate { plan, repo } => run::validate(&plan, repo.as_deref()),
        Cmd::Run {
            plan,
            repo,
            detach: true,
            ..
        } => detach::run(&plan, repo.as_deref()),
        Cmd::Run {
            plan, repo, front, ..
        } => run::run(&plan, repo.as_deref(), front),
        Cmd::Resume {
            run_id,
            repo,
            detach: true,
            ..
        } => detach::resume(&run_id, repo.as_deref()),
        Cmd::Resume {
            run_id,
            repo,
            front,
            ..
        } => run::resume(&run_id, repo.as_deref(), front),
        Cmd::Attach(args) => attach::attach(args),
        Cmd::Wait { run_id, repo } => wait::wait(&run_id, repo.as_deref()),
        Cmd::Ps { repo } => ps::ps(&repo_root(repo.as_deref())?, &mut stdout),
        Cmd::Stop { run_id, repo } => stop::stop(&repo_root(repo.as_deref())?, &run_id),
        Cmd::Server { repo } => server::server(repo.as_deref()),
        Cmd::FollowUp {
            run_id,
            task,
            prompt,
            repo,
            front,
        } => run::follow_up(&run_id, &task, &prompt, repo.as_deref(), front),
        Cmd::New { repo } => run::new(repo.as_deref()),
        Cmd::Ls { repo } => history::ls(&repo_root(repo.as_deref())?, &mut stdout),
        Cmd::Show { run_id, repo } => {
            history::show(&repo_root(repo.as_deref())?, &run_id, &mut stdout)
        }
        Cmd::Logs {
            run_id,
            task,
            attempt,
            plain,
            repo,
        } => {
            let root = repo_root(repo.as_deref())?;
            history::logs(&root, &run_id, &task, attempt, plain, &mut stdout)
        }
        Cmd::Clean {
            run_id,
            all: _,
            force,
            records,
            repo,
        } => {
            let root = repo_root(repo.as_deref())?;
            let options = clean::CleanOptions { force, records };
            clean::clean(&root, run_id.as_deref(), &options, &mut stdout)
        }
        Cmd::Merge {
            run_id,
            tasks,
            repo,
        } => merge::merge(&repo_root(repo.as_deref())?, &run_id, &tasks),
        Cmd::Agents { plan } => agents::agents(plan.as_deref()),
        Cmd::Doctor { repo } => doctor::doctor(repo.as_deref()),
        Cmd::Demo {
            headless,
            exit_when_done,
            dir,
        } => {
            let front = FrontEndArgs {
                headless,
                exit_when_done,
            };
            demo::demo(dir.as_deref(), front)
        }
        Cmd::Proxy { repo } => proxy::proxy(repo.as_deref()),
        Cmd::SandboxExec { spec, argv } => Ok(crate::sandbox::run_wrapper(&spec, &argv)),
        Cmd::DemoAgent { envelope } => {
            let cwd = repo::start_dir(None)?;
            Ok(crate::agent::demo_agent::run(&envelope, &cwd))
        }
    }
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
