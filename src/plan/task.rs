//! One `[[tasks]]` entry: its keys read (every problem noted), then, when they read cleanly,
//! the checks across them (a prompt, the agent's program, a prompt that fits its command line)
//! and its spec, with defaults folded in and expanded into siblings when raced.

use super::argv;
use super::error::{quoted, Bad, Place, Res};
use super::model::{defaults, AgentDef, TaskSpec};
use super::names::{name_problem, read_name};
use super::problems::Problems;
use super::race::{self, Race};
use super::scope::Scope;
use super::settings::{self, Context, Prompt, PromptFiles, Settings};
use super::tree::{Node, Value};

/// Whether agents' programs must be on PATH (not when only listing agents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Programs {
    /// On this PATH: the run's (its agents start with it), or with none this process's.
    Check(Option<std::ffi::OsString>),
    Skip,
}

/// A task's `depends_on` names, each with where it is written.
pub(super) type DepNames = Vec<(String, usize)>;

/// What every task is read against.
pub(super) struct Shared<'a> {
    pub cx: &'a Context<'a>,
    pub defaults: &'a Settings,
    /// `depends_on` is allowed (not under strategy "fallback").
    pub deps_allowed: bool,
    pub programs: Programs,
    /// The agents and `[defaults]` read cleanly: checks that use them can be trusted.
    pub cross_checks: bool,
}

/// What reading one task gave.
pub(super) struct TaskRead {
    /// The names it runs under (its siblings' when raced), each with the raced task it is a
    /// sibling of; empty when it has no valid name.
    pub names: Vec<(String, Option<String>)>,
    /// Where its name is written (else the task itself).
    pub name_at: usize,
    pub deps: DepNames,
    /// Its specs (one per sibling), when it had no problem.
    pub specs: Option<Vec<TaskSpec>>,
}

/// Reads task number `index` (from 0); its problems go to `problems`.
pub(super) fn read(
    index: usize,
    node: &Node,
    shared: &Shared<'_>,
    problems: &mut Problems,
) -> TaskRead {
    let at = node.span.start;
    let mut read = TaskRead {
        names: Vec::new(),
        name_at: at,
        deps: Vec::new(),
        specs: None,
    };
    let Value::Table(table) = &node.value else {
        problems.add(Bad::at(
            at,
            format!(
                "task #{} must be a table, found {}",
                index + 1,
                node.value.kind()
            ),
        ));
        return read;
    };
    let before = problems.len();
    let name_entry = table.get("name");
    let label = match name_entry.map(|e| &e.value.value) {
        Some(Value::Str(s)) if name_problem(s).is_none() => format!("task {}", quoted(s)),
        _ => format!("task #{}", index + 1),
    };
    let scope = Scope::new(label);
    let known: Vec<&str> = settings::KEYS
        .iter()
        .chain(race::KEYS)
        .chain(&["name", "depends_on"])
        .copied()
        .collect();
    problems.extend(scope.check_keys(table, &known));
    let name = match name_entry {
        Some(e) => {
            read.name_at = e.value.span.start;
            problems.take(read_name(&scope, e, "task name"))
        }
        None => {
            problems.add(scope.bad(at, "missing required key 'name'"));
            None
        }
    };
    let own = Settings::read(table, &scope, shared.cx, problems);
    read.deps = match table.get("depends_on") {
        Some(e) if !shared.deps_allowed => {
            problems.add(scope.bad(
                e.key_span.start,
                "'depends_on' is not allowed with strategy \"fallback\"",
            ));
            Vec::new()
        }
        Some(e) => problems.take(scope.strings(e)).unwrap_or_default(),
        None => Vec::new(),
    };
    let race = problems
        .take(race::read(table, &scope, shared.cx))
        .flatten();
    let Some(name) = name else {
        return read;
    };
    read.names = match &race {
        Some(race) => (1..=race.siblings.len())
            .map(|n| (race::sibling_name(&name, n), Some(name.clone())))
            .collect(),
        None => vec![(name.clone(), None)],
    };
    if problems.len() > before || !shared.cross_checks {
        return read;
    }
    let merged = own.over(shared.defaults);
    let task = Built {
        name,
        merged,
        race,
        deps: &read.deps,
        at,
    };
    let built = build(task, &scope, shared);
    read.specs = problems.take(built);
    read
}

/// A task whose keys read cleanly, ready for the checks across them.
struct Built<'a> {
    name: String,
    merged: Settings,
    race: Option<Race>,
    deps: &'a DepNames,
    /// Where the task is written.
    at: usize,
}

/// The task's specs (one per sibling when raced), after the checks across its settings.
fn build(task: Built<'_>, scope: &Scope, shared: &Shared<'_>) -> Res<Vec<TaskSpec>> {
    let Built {
        name,
        merged,
        race,
        deps,
        at,
    } = task;
    let cx = shared.cx;
    let Some(prompt_ref) = merged.prompt.clone() else {
        return Err(scope.bad(
            at,
            "needs 'prompt' or 'prompt_file' (here or in [defaults])",
        ));
    };
    let prompt = match &prompt_ref.value {
        Prompt::Text(text) => Some(text.clone()),
        Prompt::Recorded => None,
    };
    let agent = match &merged.agent {
        Some(r) => r.name.clone(),
        None => defaults::AGENT.to_string(),
    };
    if let Programs::Check(path) = &shared.programs {
        let path = path.as_deref();
        match race
            .as_ref()
            .filter(|r| r.siblings.iter().all(Option::is_some))
        {
            Some(race) => {
                for (agent, at) in race.siblings.iter().flatten() {
                    check_program(agent, cx, &Place::Here(*at), path)?;
                }
            }
            None => {
                let place = merged
                    .agent
                    .as_ref()
                    .map_or(Place::Here(at), |r| r.at.clone());
                check_program(&agent, cx, &place, path)?;
            }
        }
    }
    let sandbox = merged.resolved_sandbox();
    let spec = TaskSpec {
        sandbox,
        prompt: prompt.clone().unwrap_or_default(),
        agent,
        timeout: merged.timeout(),
        retries: merged.retries.unwrap_or(defaults::RETRIES),
        backoff: merged.backoff(),
        kill_grace: merged.kill_grace.unwrap_or(defaults::KILL_GRACE),
        merge: merged.merge.unwrap_or(defaults::MERGE),
        keep_worktrees: merged.keep_worktrees.unwrap_or(defaults::KEEP_WORKTREES),
        scrollback: merged.scrollback.unwrap_or(defaults::SCROLLBACK),
        depends_on: deps.iter().map(|(d, _)| d.clone()).collect(),
        copy: merged.copy.unwrap_or_default(),
        setup: merged.setup.unwrap_or_default(),
        python: merged.python,
        ports: merged.ports.unwrap_or(0),
        idle_after: merged.idle_after.unwrap_or(defaults::IDLE_AFTER),
        auto_yes: merged.auto_yes.unwrap_or(false),
        idle_exit: merged.idle_exit.unwrap_or(false),
        result_grace: merged.result_grace.unwrap_or(defaults::RESULT_GRACE),
        fail_on_denied: merged.fail_on_denied.unwrap_or(true),
        check: merged.check,
        group: None,
        max_memory: merged.max_memory,
        inputs: merged.inputs,
        env: merged.env,
        name,
    };
    let mut specs = match &race {
        Some(race) => race::expand(&spec, race),
        None => vec![spec],
    };
    if let PromptFiles::Recorded(recorded) = cx.prompt_files {
        // What the run started with wins over what the plan or the user config says today.
        for spec in &mut specs {
            match (recorded.get(&spec.name), &prompt) {
                (Some(text), _) => spec.prompt = text.clone(),
                (None, Some(_)) => {}
                (None, None) => {
                    return Err(scope.bad(
                        at,
                        format!("the run recorded no prompt for task {}", quoted(&spec.name)),
                    ))
                }
            }
        }
    }
    for spec in &specs {
        if let Some(def) = agent_def(&spec.agent, cx) {
            let agent = (spec.agent.as_str(), &def);
            let passes = cx.passes_outputs;
            argv::check_prompt_fits(
                scope,
                &spec.name,
                &prompt_ref,
                &spec.prompt,
                agent,
                &spec.env,
                passes,
            )?;
        }
    }
    Ok(specs)
}

/// A preset's program must be on PATH (custom agents are the plan author's business: a missing
/// program fails their attempt when it starts).
fn check_program(
    agent: &str,
    cx: &Context<'_>,
    place: &Place,
    path: Option<&std::ffi::OsStr>,
) -> Res<()> {
    if !crate::agent::is_preset(agent) {
        return Ok(());
    }
    let Some(def) = agent_def(agent, cx) else {
        return Ok(());
    };
    if crate::agent::find_program_on(def.program(), path).is_some() {
        return Ok(());
    }
    Err(Bad::at_place(
        place,
        format!(
            "agent {} needs the program {} on PATH",
            quoted(agent),
            quoted(def.program())
        ),
    ))
}

/// The definition of agent `name`: the plan's or the user config's, else the preset.
fn agent_def(name: &str, cx: &Context<'_>) -> Option<AgentDef> {
    cx.agents
        .get(name)
        .cloned()
        .or_else(|| crate::agent::preset(name))
}
