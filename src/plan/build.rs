//! Walks the spanned tree of a whole plan into the validated `Plan`.

use std::collections::BTreeMap;
use std::path::Path;

use super::argv;
use super::config::UserConfig;
use super::deps::{self, TaskDeps};
use super::error::{line_col, quoted, Bad, Location, Place, Res};
use super::model::{defaults, AgentDef, Plan, PlanFormat, PlanSource, Strategy, TaskSpec};
use super::name_problem;
use super::race;
use super::scope::Scope;
use super::settings::{self, Context, Prompt, PromptFiles, Settings};
use super::tree::{Entry, Node, Table, Value};

const TOP_KEYS: &[&str] = &[
    "name",
    "base",
    "max_parallel",
    "strategy",
    "batch_size",
    "pass_output",
    "stop_on_failure",
    "fail_fast",
    "min_free_memory",
    "defaults",
    "agents",
    "tasks",
];

/// Whether agents' programs must be on PATH (not when only listing agents).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Programs {
    Check,
    Skip,
}

pub(crate) fn plan(
    root: &Node,
    path: &Path,
    text: &str,
    format: PlanFormat,
    config: &UserConfig,
    programs: Programs,
    prompt_files: PromptFiles<'_>,
) -> Res<Plan> {
    let Value::Table(top) = &root.value else {
        return Err(Bad::at(root.span.start, "a plan must be a table of keys"));
    };
    let scope = Scope::top();
    scope.check_keys(top, |k| TOP_KEYS.contains(&k))?;

    let name_entry = top
        .get("name")
        .ok_or_else(|| Bad::at(0, "the plan has no 'name'"))?;
    let name = valid_name(&scope, name_entry, "plan name")?;
    let base = match top.get("base") {
        Some(e) => Some((non_empty_string(&scope, e)?, e.value.span.clone())),
        None => None,
    };
    let max_parallel = match top.get("max_parallel") {
        Some(e) => scope.count(e, 1, None)?,
        None => defaults::max_parallel(),
    };
    let min_free_memory = match top.get("min_free_memory") {
        Some(e) => Some(super::limits::size(e, &scope)?),
        None => None,
    };
    let strategy = strategy(top, &scope)?;
    let fail_fast = match top.get("fail_fast") {
        Some(e) => scope.boolean(e)?,
        None => false,
    };

    // The user config's agents, with the plan's own tables over them (and over presets).
    let mut agents = config.agents.clone();
    let mut agents_written = BTreeMap::new();
    if let Some(e) = top.get("agents") {
        let base = |name: &str| {
            config
                .agents
                .get(name)
                .cloned()
                .or_else(|| crate::agent::preset(name))
        };
        let (defined, written) = super::agents::read(e, &scope, base)?;
        agents.extend(defined);
        agents_written = written;
    }
    let cx = Context {
        plan_dir: path.parent().unwrap_or(Path::new("")),
        agents: &agents,
        file: None,
        prompt_files,
        passes_outputs: matches!(
            strategy,
            Strategy::Sequential {
                pass_output: true,
                ..
            } | Strategy::Batched {
                pass_output: true,
                ..
            }
        ),
    };
    let defaults = match top.get("defaults") {
        Some(e) => {
            let scope = Scope::new("[defaults]".into());
            let table = scope.table(e)?;
            scope.check_keys(table, |k| settings::KEYS.contains(&k))?;
            Settings::read(table, &scope, &cx)?.over(&config.defaults)
        }
        None => config.defaults.clone(),
    };

    let deps_allowed = strategy != Strategy::Fallback;
    let tasks = tasks(top, text, &cx, &defaults, deps_allowed, programs)?;
    // An agent's command line is written in the plan's [agents] table, else in the config's.
    let written = |name: &str| match agents_written.get(name) {
        Some(&at) => Some(Location {
            file: path.to_path_buf(),
            line_col: Some(line_col(text, at)),
        }),
        None => config.agents_written.get(name).cloned(),
    };
    let used = tasks.iter().map(|t| t.agent.as_str());
    let warnings = argv::option_warnings(used, &agents, written);

    Ok(Plan {
        name,
        base: base.as_ref().map(|(b, _)| b.clone()),
        max_parallel,
        strategy,
        fail_fast,
        min_free_memory,
        agents,
        tasks,
        warnings,
        source: PlanSource {
            path: path.to_path_buf(),
            text: text.to_string(),
            format,
            base_span: base.map(|(_, span)| span),
        },
    })
}

/// Every task, defaults folded in, names unique and dependencies sound.
fn tasks(
    top: &Table,
    text: &str,
    cx: &Context<'_>,
    defaults: &Settings,
    deps_allowed: bool,
    programs: Programs,
) -> Res<Vec<TaskSpec>> {
    let task_nodes = match top.get("tasks") {
        Some(e) => Scope::top().array(e)?,
        None => &[],
    };
    if task_nodes.is_empty() {
        let at = top.get("tasks").map_or(0, |e| e.value.span.start);
        return Err(Bad::at(at, "the plan has no tasks; add at least one"));
    }
    let mut tasks: Vec<TaskSpec> = Vec::with_capacity(task_nodes.len());
    let mut all_deps = Vec::with_capacity(task_nodes.len());
    // Each name with where it is written and the raced task it is a sibling of.
    let mut first_seen: BTreeMap<String, (usize, Option<String>)> = BTreeMap::new();
    for (i, node) in task_nodes.iter().enumerate() {
        let (specs, deps, name_at) = task(i, node, cx, defaults, deps_allowed, programs)?;
        for spec in specs {
            let group = spec.group.as_ref().map(|g| g.name.clone());
            if let Some((first, first_group)) = first_seen.get(&spec.name) {
                let (line, _) = line_col(text, *first);
                let name = quoted(&spec.name);
                let why = match group.as_ref().or(first_group.as_ref()) {
                    Some(raced) => format!(
                        "task name {name} is also a sibling of raced task {} (line {line})",
                        quoted(raced)
                    ),
                    None => format!("duplicate task name {name} (first used on line {line})"),
                };
                return Err(Bad::at(name_at, why));
            }
            first_seen.insert(spec.name.clone(), (name_at, group));
            all_deps.push(TaskDeps {
                task: spec.name.clone(),
                deps: deps.clone(),
            });
            tasks.push(spec);
        }
    }
    // A race's winner is not known in advance, so nothing can build on "the" raced task.
    for t in &all_deps {
        for (dep, at) in &t.deps {
            if tasks
                .iter()
                .any(|s| s.group.as_ref().is_some_and(|g| &g.name == dep))
            {
                return Err(Bad::at(
                    *at,
                    format!(
                        "task {} depends on raced task {}; depend on one of its siblings ({}) instead",
                        quoted(&t.task),
                        quoted(dep),
                        quoted(&race::sibling_name(dep, 1))
                    ),
                ));
            }
        }
    }
    deps::check(&all_deps)?;
    Ok(tasks)
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Parallel,
    Sequential,
    Fallback,
    Batched,
}

const STRATEGIES: [(&str, Kind); 4] = [
    ("parallel", Kind::Parallel),
    ("sequential", Kind::Sequential),
    ("fallback", Kind::Fallback),
    ("batched", Kind::Batched),
];

fn strategy(top: &Table, scope: &Scope) -> Res<Strategy> {
    let (name, kind) = match top.get("strategy") {
        Some(e) => (scope.string(e)?, scope.choice(e, &STRATEGIES)?),
        None => STRATEGIES[0],
    };
    // A key that only some strategies read is an error elsewhere, so it is never silently ignored.
    let only_under = |key: &str, allowed: &[Kind], strategies: &str| -> Res<Option<&Entry>> {
        match top.get(key) {
            Some(e) if !allowed.contains(&kind) => Err(Bad::at(
                e.key_span.start,
                format!(
                    "'{key}' is only allowed with strategy {strategies} (this plan's strategy is \"{name}\")"
                ),
            )),
            found => Ok(found),
        }
    };
    let flag = |key, allowed: &[Kind], strategies| -> Res<bool> {
        match only_under(key, allowed, strategies)? {
            Some(e) => scope.boolean(e),
            None => Ok(false),
        }
    };
    let pass_output = flag(
        "pass_output",
        &[Kind::Sequential, Kind::Batched],
        "\"sequential\" or \"batched\"",
    )?;
    let stop_on_failure = flag("stop_on_failure", &[Kind::Sequential], "\"sequential\"")?;
    let batch_size = only_under("batch_size", &[Kind::Batched], "\"batched\"")?;
    Ok(match kind {
        Kind::Parallel => Strategy::Parallel,
        Kind::Fallback => Strategy::Fallback,
        Kind::Sequential => Strategy::Sequential {
            pass_output,
            stop_on_failure,
        },
        Kind::Batched => {
            let e = batch_size
                .ok_or_else(|| Bad::at(0, "strategy \"batched\" needs 'batch_size' (1 or more)"))?;
            Strategy::Batched {
                batch_size: scope.count(e, 1, None)?,
                pass_output,
            }
        }
    })
}

/// A task's `depends_on` names, each with where it is written.
type DepNames = Vec<(String, usize)>;

/// One task: its spec with defaults folded in (the siblings it races as, when raced), its
/// dependencies, and where its name is written.
fn task(
    index: usize,
    node: &Node,
    cx: &Context<'_>,
    defaults: &Settings,
    deps_allowed: bool,
    programs: Programs,
) -> Res<(Vec<TaskSpec>, DepNames, usize)> {
    let at = node.span.start;
    let Value::Table(table) = &node.value else {
        return Err(Bad::at(
            at,
            format!(
                "task #{} must be a table, found {}",
                index + 1,
                node.value.kind()
            ),
        ));
    };
    let name_entry = table.get("name");
    let label = match name_entry.map(|e| &e.value.value) {
        Some(Value::Str(s)) if name_problem(s).is_none() => format!("task {}", quoted(s)),
        _ => format!("task #{}", index + 1),
    };
    let scope = Scope::new(label);
    scope.check_keys(table, |k| {
        settings::KEYS.contains(&k) || race::KEYS.contains(&k) || k == "name" || k == "depends_on"
    })?;
    let name_entry = name_entry.ok_or_else(|| scope.bad(at, "missing required key 'name'"))?;
    let name = valid_name(&scope, name_entry, "task name")?;

    let merged = Settings::read(table, &scope, cx)?.over(defaults);
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
    let deps = match table.get("depends_on") {
        Some(e) if !deps_allowed => {
            return Err(scope.bad(
                e.key_span.start,
                "'depends_on' is not allowed with strategy \"fallback\"",
            ))
        }
        Some(e) => scope.strings(e)?,
        None => Vec::new(),
    };
    let agent = match &merged.agent {
        Some(r) => r.name.clone(),
        None => defaults::AGENT.to_string(),
    };
    let race = race::read(table, &scope, cx)?;
    if programs == Programs::Check {
        match race
            .as_ref()
            .filter(|r| r.siblings.iter().all(Option::is_some))
        {
            Some(race) => {
                for (agent, at) in race.siblings.iter().flatten() {
                    check_program(agent, cx, &Place::Here(*at))?;
                }
            }
            None => {
                let place = merged
                    .agent
                    .as_ref()
                    .map_or(Place::Here(at), |r| r.at.clone());
                check_program(&agent, cx, &place)?;
            }
        }
    }
    let sandbox = super::limits::resolve(&merged);
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
        check: merged.check,
        group: None,
        max_memory: merged.max_memory,
        inputs: merged.inputs,
        env: merged.env,
        name: name.clone(),
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
                &scope,
                &spec.name,
                &prompt_ref,
                &spec.prompt,
                agent,
                &spec.env,
                passes,
            )?;
        }
    }
    Ok((specs, deps, name_entry.value.span.start))
}

/// A preset's program must be on PATH (custom agents are the plan author's business: a missing
/// program fails their attempt when it starts).
fn check_program(agent: &str, cx: &Context<'_>, place: &Place) -> Res<()> {
    if !crate::agent::is_preset(agent) {
        return Ok(());
    }
    let Some(def) = agent_def(agent, cx) else {
        return Ok(());
    };
    if crate::agent::find_program(def.program()).is_some() {
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

/// A string value that follows the name rule.
fn valid_name(scope: &Scope, entry: &Entry, what: &str) -> Res<String> {
    let name = scope.string(entry)?;
    match name_problem(name) {
        None => Ok(name.to_string()),
        Some(problem) => Err(Bad::at(
            entry.value.span.start,
            format!("invalid {what} {}: {problem}", quoted(name)),
        )),
    }
}

fn non_empty_string(scope: &Scope, entry: &Entry) -> Res<String> {
    let s = scope.string(entry)?;
    if s.is_empty() {
        return Err(scope.bad(
            entry.value.span.start,
            format!("{} must not be empty", scope.key(entry)),
        ));
    }
    Ok(s.to_string())
}
