//! The commands that check or start a run: `grove validate`, `grove run`, `grove resume`,
//! `grove follow-up` and `grove new`; loading a plan with its warnings, and what the dashboard's form offers.

use std::io::IsTerminal;
use std::path::Path;

use crate::environment::Environment;
use crate::plan::{self, model::Plan, RepoTarget};
use crate::server::messages::Request;

use super::drive::{served, FrontEndArgs};
use super::exit::UsageError;
use super::out::say;
use super::repo::{repo_root, start_dir};

/// `grove validate`: loads the plan and its repository, says what would run; nothing is created.
pub fn validate(plan: &Path, repo: Option<&Path>) -> anyhow::Result<i32> {
    let (plan, target, _) = load(plan, repo)?;
    say(format_args!(
        "{}: ok: plan '{}', {} task{}, strategy {}, repository {} (base {} at {})",
        plan.source.path.display(),
        plan.name,
        plan.tasks.len(),
        if plan.tasks.len() == 1 { "" } else { "s" },
        plan.strategy.name(),
        target.root.display(),
        target.base_label,
        &target.base_commit[..12.min(target.base_commit.len())]
    ));
    Ok(0)
}

/// `grove run`: runs a plan file in the repository's grove server and shows it. The plan is
/// checked here first (a bad plan is exit 2 with where it is wrong, and no server started).
pub fn run(plan_path: &Path, repo: Option<&Path>, front: FrontEndArgs) -> anyhow::Result<i32> {
    let (plan, target, mut notices) = load(plan_path, repo)?;
    notices.extend(print_notices(&target.root, Some(&plan.name), None));
    if let Some(warning) = crate::sandbox::unavailable_warning(&plan) {
        eprintln!("{warning}");
        notices.push(warning);
    }
    if let (false, Some(refusal)) = (front.dashboard(), crate::agent::headless_refusal(&plan)) {
        eprintln!("error: {refusal}");
        return Ok(2);
    }
    let cwd = std::env::current_dir()?;
    let request = Request::Start {
        plan: cwd.join(plan_path),
        start: cwd.join(start_dir(repo)?),
        env: Environment::current(),
        attach: true,
    };
    served(&target.root, &request, front, notices)
}

/// `grove resume`: continues a run from its journal, in the repository's grove server.
pub fn resume(run_id: &str, repo: Option<&Path>, front: FrontEndArgs) -> anyhow::Result<i32> {
    let root = repo_root(repo)?;
    super::history::existing_run(&root, run_id)?;
    let notices = print_notices(&root, None, Some(run_id));
    let request = Request::Resume {
        run_id: run_id.to_string(),
        env: Environment::current(),
        attach: true,
    };
    served(&root, &request, front, notices)
}

/// `grove follow-up`: reopens a finished run for one follow-up of `task` (continuing its
/// agent's session with `prompt`), shown like a run.
pub fn follow_up(
    run_id: &str,
    task: &str,
    prompt: &str,
    repo: Option<&Path>,
    front: FrontEndArgs,
) -> anyhow::Result<i32> {
    let root = repo_root(repo)?;
    let request = Request::FollowUp {
        run_id: run_id.to_string(),
        task: task.to_string(),
        prompt: prompt.to_string(),
        env: Environment::current(),
        attach: true,
    };
    served(&root, &request, front, Vec::new())
}

/// `grove new`: the dashboard on an empty `adhoc` run; tasks are started from it.
pub fn new(repo: Option<&Path>) -> anyhow::Result<i32> {
    if !std::io::stdout().is_terminal() {
        return Err(UsageError(
            "grove new (or grove without a command) needs a terminal for the dashboard; use grove run PLAN --headless for scripts".into(),
        )
        .into());
    }
    let start = start_dir(repo)?;
    let config = plan::UserConfig::load()?;
    let plan = plan::grow::adhoc(&start, &config);
    let target = plan::resolve_repo(&plan, &start)?;
    let front = FrontEndArgs {
        headless: false,
        exit_when_done: false,
    };
    let request = Request::New {
        start: std::env::current_dir()?.join(&start),
        env: Environment::current(),
        attach: true,
    };
    served(&target.root, &request, front, Vec::new())
}

/// Loads and validates a plan and the repository it runs in; nothing is created. Warnings (the
/// plan's and the repository's) are printed, and returned for the dashboard to show too.
pub fn load(path: &Path, repo: Option<&Path>) -> anyhow::Result<(Plan, RepoTarget, Vec<String>)> {
    let start = start_dir(repo)?;
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

/// Unfinished runs and left-over worktrees, on stderr before the run starts; returned for the
/// dashboard to show too (it hides what was printed before it).
fn print_notices(root: &Path, plan: Option<&str>, resuming: Option<&str>) -> Vec<String> {
    let notices = super::history::start_notices(root, plan, resuming);
    for notice in &notices {
        eprintln!("{notice}");
    }
    notices
}
