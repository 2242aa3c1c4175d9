//! `[agents.NAME]` tables (of a plan or of the user config): each read over the definition it
//! overrides (the user config's, else the preset's), field by field.

use std::collections::BTreeMap;

use super::error::{quoted, Bad, Res};
use super::model::{AgentDef, AgentOutput};
use super::names::name_problem;
use super::problems::Problems;
use super::scope::Scope;
use super::tree::Entry;

const KEYS: &[&str] = &[
    "command",
    "args",
    "env",
    "output",
    "yes_prompts",
    "accept_key",
    "resume",
];

/// The agents of an `[agents]` table, and where the table writes each one's command line (its
/// `command`, else its `args`, when it sets either), to point warnings at.
pub(crate) type Agents = (BTreeMap<String, AgentDef>, BTreeMap<String, usize>);

/// Reads an `[agents]` table. `base` gives what an agent of that name is before this table
/// (None: a new agent, which then needs a `command`). A field that cannot be read is left as it
/// was, its problem added to `problems`; the agent is still defined, so the tasks naming it are
/// not told it is unknown.
pub(crate) fn read(
    entry: &Entry,
    scope: &Scope,
    base: impl Fn(&str) -> Option<AgentDef>,
    problems: &mut Problems,
) -> Res<Agents> {
    let mut agents = BTreeMap::new();
    let mut written = BTreeMap::new();
    for agent in scope.table(entry)?.entries() {
        if let Some(problem) = name_problem(&agent.key) {
            problems.add(Bad::at(
                agent.key_span.start,
                format!("invalid agent name {}: {problem}", quoted(&agent.key)),
            ));
            continue;
        }
        let scope = Scope::new(format!("agent {}", quoted(&agent.key)));
        let Some(table) = problems.take(scope.table(agent)) else {
            continue;
        };
        problems.extend(scope.check_keys(table, KEYS));
        // Fields left out keep the overridden definition's values; a new agent starts from
        // the defaults and must say what to run.
        let mut def = match base(&agent.key) {
            Some(def) => def,
            None => {
                if table.get("command").is_none() {
                    problems
                        .add(scope.bad(agent.value.span.start, "missing required key 'command'"));
                }
                crate::agent::custom(Vec::new())
            }
        };
        for field in table.entries() {
            let read = read_field(&mut def, field, &scope);
            problems.take(read);
        }
        if let Some(line) = table.get("command").or_else(|| table.get("args")) {
            written.insert(agent.key.clone(), line.value.span.start);
        }
        agents.insert(agent.key.clone(), def);
    }
    Ok((agents, written))
}

/// One field of an agent's table into `def`.
fn read_field(def: &mut AgentDef, field: &Entry, scope: &Scope) -> Res<()> {
    match field.key.as_str() {
        "command" => def.command = command(field, scope)?,
        "args" => def.args = strings(field, scope)?,
        "env" => def.env.extend(scope.env(field)?),
        "output" => def.output = scope.choice(field, &AgentOutput::CHOICES)?,
        "yes_prompts" => def.yes_prompts = strings(field, scope)?,
        "accept_key" => {
            let key = scope.string(field)?;
            if key.is_empty() {
                return Err(scope.bad(field.value.span.start, "'accept_key' must not be empty"));
            }
            def.accept_key = key.to_string();
        }
        "resume" => def.resume = resume(field, scope)?,
        _ => {}
    }
    Ok(())
}

fn command(entry: &Entry, scope: &Scope) -> Res<Vec<String>> {
    let command = strings(entry, scope)?;
    if command.first().is_none_or(String::is_empty) {
        return Err(scope.bad(
            entry.value.span.start,
            "'command' must start with a program to run",
        ));
    }
    Ok(command)
}

/// A resume template: a program, and the session as an argument of its own (`[]` turns a
/// preset's off).
fn resume(entry: &Entry, scope: &Scope) -> Res<Vec<String>> {
    let resume = strings(entry, scope)?;
    if resume.is_empty() {
        return Ok(resume);
    }
    let at = entry.value.span.start;
    if resume[0].is_empty() {
        return Err(scope.bad(at, "'resume' must start with a program to run"));
    }
    if !resume.iter().any(|arg| arg.contains("{session}")) {
        return Err(scope.bad(
            at,
            "'resume' must pass the session to continue: add \"{session}\" where the program \
             takes it",
        ));
    }
    Ok(resume)
}

fn strings(entry: &Entry, scope: &Scope) -> Res<Vec<String>> {
    Ok(scope.strings(entry)?.into_iter().map(|(s, _)| s).collect())
}
