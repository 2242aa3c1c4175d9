//! Walks the spanned tree of a whole plan into the validated `Plan`.

use std::collections::BTreeMap;
use std::path::Path;

use super::argv;
use super::config::UserConfig;
use super::deps::{self, TaskDeps};
use super::error::{line_col, quoted, Bad, Location, Res};
use super::model::{defaults, Plan, PlanFormat, PlanSource, Strategy, TaskSpec};
use super::names::read_name;
use super::problems::Problems;
use super::race;
use super::scope::Scope;
use super::settings::{self, Context, PromptFiles, Settings};
use super::task::{self, DepNames, Programs, Shared};
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

/// The validated plan, or every problem found in it (reading goes on past a problem where what
/// follows does not depend on it, so one validation names them all).
pub(crate) fn plan(
    root: &Node,
    path: &Path,
    text: &str,
    format: PlanFormat,
    config: &UserConfig,
    programs: Programs,
    prompt_files: PromptFiles<'_>,
) -> Result<Plan, Vec<Bad>> {
    let Value::Table(top) = &root.value else {
        return Err(vec![Bad::at(
            root.span.start,
            "a plan must be a table of keys",
        )]);
    };
    let mut problems = Problems::default();
    let scope = Scope::top();
    problems.extend(scope.check_keys(top, TOP_KEYS));

    let name = match top.get("name") {
        Some(e) => problems.take(read_name(&scope, e, "plan name")),
        None => {
            problems.add(Bad::at(0, "the plan has no 'name'"));
            None
        }
    };
    let base = match top.get("base") {
        Some(e) => problems
            .take(non_empty_string(&scope, e))
            .map(|b| (b, e.value.span.clone())),
        None => None,
    };
    let max_parallel = match top.get("max_parallel") {
        Some(e) => problems.take(scope.count(e, 1, None)),
        None => None,
    };
    let min_free_memory = match top.get("min_free_memory") {
        Some(e) => problems.take(super::limits::size(e, &scope)),
        None => None,
    };
    let strategy = problems
        .take(strategy(top, &scope))
        .unwrap_or(Strategy::Parallel);
    let fail_fast = match top.get("fail_fast") {
        Some(e) => problems.take(scope.boolean(e)).unwrap_or(false),
        None => false,
    };

    // What tasks share: a problem there makes checks across a task's settings (its prompt, its
    // agent's program) say nothing that could only follow from it.
    let shared_before = problems.len();
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
        let read = super::agents::read(e, &scope, base, &mut problems);
        if let Some((defined, written)) = problems.take(read) {
            agents.extend(defined);
            agents_written = written;
        }
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
            match problems.take(scope.table(e)) {
                Some(table) => {
                    problems.extend(scope.check_keys(table, settings::KEYS));
                    Settings::read(table, &scope, &cx, &mut problems).over(&config.defaults)
                }
                None => config.defaults.clone(),
            }
        }
        None => config.defaults.clone(),
    };
    let shared = Shared {
        cx: &cx,
        defaults: &defaults,
        deps_allowed: strategy != Strategy::Fallback,
        programs,
        cross_checks: problems.len() == shared_before,
    };
    let tasks = tasks(top, text, &shared, &mut problems);
    let (Some(name), Some(tasks)) = (name, tasks) else {
        return Err(problems.found());
    };
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

    problems.result(Plan {
        name,
        base: base.as_ref().map(|(b, _)| b.clone()),
        max_parallel: max_parallel.unwrap_or_else(defaults::max_parallel),
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

/// Every task, defaults folded in, names unique and dependencies sound; None when a task could
/// not be read (its problems are in `problems`).
fn tasks(
    top: &Table,
    text: &str,
    shared: &Shared<'_>,
    problems: &mut Problems,
) -> Option<Vec<TaskSpec>> {
    let task_nodes = match top.get("tasks") {
        Some(e) => problems.take(Scope::top().array(e))?,
        None => &[],
    };
    if task_nodes.is_empty() {
        let at = top.get("tasks").map_or(0, |e| e.value.span.start);
        problems.add(Bad::at(at, "the plan has no tasks; add at least one"));
        return None;
    }
    let mut tasks: Vec<TaskSpec> = Vec::with_capacity(task_nodes.len());
    let mut complete = true;
    let mut all_deps = Vec::with_capacity(task_nodes.len());
    // Each name with where it is written and the raced task it is a sibling of.
    let mut first_seen: BTreeMap<String, (usize, Option<String>)> = BTreeMap::new();
    let mut unnamed = false;
    for (i, node) in task_nodes.iter().enumerate() {
        let read = task::read(i, node, shared, problems);
        unnamed |= read.names.is_empty();
        for (name, group) in read.names {
            if let Some((first, first_group)) = first_seen.get(&name) {
                let (line, _) = line_col(text, *first);
                let quoted_name = quoted(&name);
                let why = match group.as_ref().or(first_group.as_ref()) {
                    Some(raced) => format!(
                        "task name {quoted_name} is also a sibling of raced task {} (line {line})",
                        quoted(raced)
                    ),
                    None => {
                        format!("duplicate task name {quoted_name} (first used on line {line})")
                    }
                };
                problems.add(Bad::at(read.name_at, why));
                continue;
            }
            first_seen.insert(name.clone(), (read.name_at, group));
            all_deps.push(TaskDeps {
                task: name,
                deps: read.deps.clone(),
            });
        }
        match read.specs {
            Some(specs) => tasks.extend(specs),
            None => complete = false,
        }
    }
    // A race's winner is not known in advance, so nothing can build on "the" raced task.
    for t in &mut all_deps {
        let raced = |dep: &String| first_seen.values().any(|(_, g)| g.as_ref() == Some(dep));
        let (to_races, deps): (DepNames, DepNames) = t.deps.drain(..).partition(|(d, _)| raced(d));
        t.deps = deps;
        for (dep, at) in &to_races {
            problems.add(Bad::at(
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
    // Without every task's name, a dependency on one could only be called unknown wrongly.
    if !unnamed {
        problems.extend(deps::check(&all_deps));
    }
    complete.then_some(tasks)
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
