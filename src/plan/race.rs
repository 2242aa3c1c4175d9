//! Racing: `replicas = N` or `agents = [...]` on a task expands it, at plan load, into sibling
//! tasks `<name>.1`, `<name>.2`… that do the same job, each in its own worktree and branch;
//! `pick` says how the winner is chosen.

use super::error::Res;
use super::model::{Pick, RaceGroup, TaskSpec};
use super::scope::Scope;
use super::settings::{known_agent, Context};
use super::tree::Table;

/// Keys only a task (not `[defaults]`) may set.
pub(crate) const KEYS: &[&str] = &["replicas", "agents", "pick"];

const REPLICAS_MAX: i64 = 32;

/// A raced task: one entry per sibling (its own agent, and where that is written, for
/// `agents = [...]`; None: the task's agent), and how the winner is picked.
#[derive(Debug, Clone)]
pub(crate) struct Race {
    pub siblings: Vec<Option<(String, usize)>>,
    pub pick: Pick,
}

/// The race keys of a task table; None when the task is not raced.
pub(crate) fn read(table: &Table, scope: &Scope, cx: &Context<'_>) -> Res<Option<Race>> {
    let (replicas, agents, pick) = (
        table.get("replicas"),
        table.get("agents"),
        table.get("pick"),
    );
    if let (Some(a), Some(b)) = (replicas, agents) {
        let later = a.key_span.start.max(b.key_span.start);
        return Err(scope.bad(later, "both 'replicas' and 'agents' are set; use one"));
    }
    if let (Some(a), Some(b)) = (table.get("agent"), agents) {
        let later = a.key_span.start.max(b.key_span.start);
        return Err(scope.bad(later, "both 'agent' and 'agents' are set; use one"));
    }
    let siblings = match (replicas, agents) {
        (Some(e), _) => {
            let n: usize = scope.count(e, 2, Some(REPLICAS_MAX))?;
            vec![None; n]
        }
        (_, Some(e)) => {
            let names = scope.strings(e)?;
            if names.len() < 2 {
                return Err(scope.bad(
                    e.value.span.start,
                    format!("{} needs at least 2 agents to race", scope.key(e)),
                ));
            }
            if names.len() > REPLICAS_MAX as usize {
                return Err(scope.bad(
                    e.value.span.start,
                    format!("{} holds at most {REPLICAS_MAX} agents", scope.key(e)),
                ));
            }
            let mut siblings = Vec::with_capacity(names.len());
            for (name, at) in names {
                siblings.push(Some((known_agent(&name, at, scope, cx.agents)?, at)));
            }
            siblings
        }
        (None, None) => {
            if let Some(e) = pick {
                return Err(scope.bad(
                    e.key_span.start,
                    "'pick' needs 'replicas' or 'agents' (it chooses among a race's siblings)",
                ));
            }
            return Ok(None);
        }
    };
    let pick = match pick {
        Some(e) => scope.choice(e, &Pick::CHOICES)?,
        None => Pick::Manual,
    };
    Ok(Some(Race { siblings, pick }))
}

/// The sibling name of replica `n` (from 1).
pub fn sibling_name(task: &str, n: usize) -> String {
    format!("{task}.{n}")
}

/// The siblings `spec` races as: `<name>.1`… each with its agent and the group set.
pub(crate) fn expand(spec: &TaskSpec, race: &Race) -> Vec<TaskSpec> {
    race.siblings
        .iter()
        .enumerate()
        .map(|(i, agent)| TaskSpec {
            name: sibling_name(&spec.name, i + 1),
            agent: agent
                .as_ref()
                .map_or_else(|| spec.agent.clone(), |(a, _)| a.clone()),
            group: Some(RaceGroup {
                name: spec.name.clone(),
                pick: race.pick,
            }),
            ..spec.clone()
        })
        .collect()
}
