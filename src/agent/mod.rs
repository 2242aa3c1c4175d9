//! Agents: the built-in presets, `[agents.*]` definitions, and argv templates.
//! Prompts reach agents as argv elements; nothing here builds a shell string.

pub mod demo_agent;

use std::collections::BTreeMap;

use crate::plan::model::Plan;

/// Names of the built-in presets.
pub const PRESETS: &[&str] = &["demo", "shell"];

pub fn is_preset(name: &str) -> bool {
    PRESETS.contains(&name)
}

/// An agent ready to be templated: argv with placeholders, and its own environment.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentCommand {
    pub name: String,
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
}

/// The command of agent `name`: a plan's `[agents.NAME]` wins over a preset of that name.
pub fn resolve(plan: &Plan, name: &str) -> Option<AgentCommand> {
    if let Some(def) = plan.agents.get(name) {
        return Some(AgentCommand {
            name: name.to_string(),
            argv: def.command.clone(),
            env: def.env.clone(),
        });
    }
    let argv: Vec<String> = match name {
        "demo" => vec![
            grove_exe(),
            "demo-agent".into(),
            "--envelope".into(),
            "{envelope}".into(),
        ],
        "shell" => vec!["sh".into(), "-c".into(), "{prompt}".into()],
        _ => return None,
    };
    Some(AgentCommand {
        name: name.to_string(),
        argv,
        env: BTreeMap::new(),
    })
}

/// Path of the running grove binary (the demo agent is a hidden subcommand of it).
fn grove_exe() -> String {
    std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "grove".into())
}

/// Values for the argv placeholders `{prompt}`, `{envelope}`, `{result}`, `{task}`, `{worktree}`.
#[derive(Debug, Clone)]
pub struct TemplateVars<'a> {
    pub prompt: &'a str,
    pub envelope: &'a str,
    pub result: &'a str,
    pub task: &'a str,
    pub worktree: &'a str,
}

/// Substitutes placeholders inside each argv element; each element stays one argument,
/// whatever the values contain. Substituted text is not scanned again.
pub fn render_argv(template: &[String], vars: &TemplateVars<'_>) -> Vec<String> {
    template.iter().map(|arg| render_one(arg, vars)).collect()
}

fn render_one(arg: &str, vars: &TemplateVars<'_>) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let value = [
            ("{prompt}", vars.prompt),
            ("{envelope}", vars.envelope),
            ("{result}", vars.result),
            ("{task}", vars.task),
            ("{worktree}", vars.worktree),
        ]
        .into_iter()
        .find(|(key, _)| after.starts_with(key));
        match value {
            Some((key, value)) => {
                out.push_str(value);
                rest = &after[key.len()..];
            }
            None => {
                out.push('{');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_stay_single_arguments() {
        let vars = TemplateVars {
            prompt: "a b; rm -rf / {task}",
            envelope: "/e.json",
            result: "/r.json",
            task: "t1",
            worktree: "/w",
        };
        let argv = render_argv(
            &[
                "run".into(),
                "--prompt={prompt}".into(),
                "{envelope}".into(),
                "{unknown}".into(),
                "{task}-{worktree}".into(),
            ],
            &vars,
        );
        assert_eq!(
            argv,
            vec![
                "run",
                "--prompt=a b; rm -rf / {task}",
                "/e.json",
                "{unknown}",
                "t1-/w"
            ]
        );
    }
}
