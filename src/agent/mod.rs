//! Agents: the built-in presets, `[agents.*]` definitions, argv templates, and finding programs
//! on PATH. Prompts reach agents as argv elements; nothing here builds a shell string.

pub mod codex_json;
pub mod credentials;
pub mod demo_agent;
pub mod prompt;
pub mod session;
pub mod stream_json;
pub mod usage_limit;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::plan::model::{AgentDef, AgentOutput, Plan};

/// Names of the built-in presets.
pub const PRESETS: &[&str] = &[
    "demo",
    "shell",
    "claude",
    "claude-interactive",
    "codex",
    "aider",
    "gemini",
];

pub fn is_preset(name: &str) -> bool {
    PRESETS.contains(&name)
}

/// Yes/no questions most command-line programs ask, matched without regard to case.
const GENERIC_YES_PROMPTS: &[&str] = &["[y/n]", "(y/n)", "[yes/no]", "(yes/no)"];

/// The preset `name` as a full definition, before any `[agents.NAME]` override.
pub fn preset(name: &str) -> Option<AgentDef> {
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut def = custom(Vec::new());
    def.resume = session::preset_resume(name);
    def.command = match name {
        "demo" => vec![
            grove_exe(),
            "demo-agent".into(),
            "--envelope".into(),
            "{envelope}".into(),
        ],
        // Every preset passes the prompt so that its program cannot read it as an option (a
        // prompt "--dangerously-skip-permissions" must stay a prompt): after "--" where the
        // prompt is a positional argument, joined to its option ("--message=…") where it is an
        // option's value. `args` go before the "--" (see `template`).
        "shell" => words(&["sh", "-c", "--", "{prompt}"]),
        "claude" => {
            // Claude Code (commander.js): -p/--print is a flag; the prompt is positional.
            def.output = AgentOutput::ClaudeStreamJson;
            words(&[
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--",
                "{prompt}",
            ])
        }
        "claude-interactive" => {
            // The permission box ("Do you want to proceed?", "Do you want to make this edit
            // to …?") is a menu; with "1. Yes" highlighted, typing 1 takes it. (Its setup
            // dialogs have "No" highlighted, where Enter would decline: they are never answered.)
            def.yes_prompts = words(&["Do you want to"]);
            def.accept_key = "1".into();
            words(&["claude", "--", "{prompt}"])
        }
        // codex (clap): `codex exec [OPTIONS] -- [PROMPT]`.
        "codex" => {
            // Without `--sandbox workspace-write` codex's read-only sandbox makes it end with
            // no change and exit 0.
            def.output = AgentOutput::CodexJson;
            words(&[
                "codex",
                "exec",
                "--json",
                "--sandbox",
                "workspace-write",
                "--",
                "{prompt}",
            ])
        }
        "aider" => {
            // aider asks "Add file to the chat? (Y)es/(N)o/(D)on't ask again [Yes]:".
            def.yes_prompts.push("(Y)es/(N)o".into());
            // argparse takes the value after '=' whatever it starts with.
            words(&[
                "aider",
                "--yes-always",
                "--no-pretty",
                "--no-fancy-input",
                "--no-check-update",
                "--no-show-release-notes",
                "--message={prompt}",
            ])
        }
        // gemini (yargs): `-p <value>` would take an empty prompt and read "--yolo" as a flag;
        // "--prompt=<value>" keeps the value as it is.
        "gemini" => words(&[
            "gemini",
            "--approval-mode",
            "auto_edit",
            "--prompt={prompt}",
        ]),
        _ => return None,
    };
    Some(def)
}

/// A definition around `command` with the defaults of every field a preset may change.
pub fn custom(command: Vec<String>) -> AgentDef {
    AgentDef {
        command,
        args: Vec::new(),
        env: BTreeMap::new(),
        output: AgentOutput::Terminal,
        yes_prompts: GENERIC_YES_PROMPTS.iter().map(|s| s.to_string()).collect(),
        accept_key: "y\r".into(),
        resume: Vec::new(),
    }
}

/// An agent ready to be templated: argv with placeholders, its environment, and how to read
/// and answer its terminal.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentCommand {
    pub name: String,
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub output: AgentOutput,
    pub yes_prompts: Vec<String>,
    pub accept_key: String,
    /// The argv template that continues a recorded session (`{session}`) with a follow-up
    /// prompt, `args` placed like the command's; None when the agent has no sessions.
    pub resume: Option<Vec<String>>,
}

/// The agent `name`: the plan's definition (which already holds the user config's and the
/// preset's fields), else the preset of that name.
pub fn resolve(plan: &Plan, name: &str) -> Option<AgentCommand> {
    let def = plan.agents.get(name).cloned().or_else(|| preset(name))?;
    Some(command_of(name, def))
}

/// The agent `name` defined by `def`, ready to be templated.
pub fn command_of(name: &str, def: AgentDef) -> AgentCommand {
    let argv = template(&def);
    let resume = (!def.resume.is_empty()).then(|| place_args(&def.resume, &def.args));
    AgentCommand {
        name: name.to_string(),
        argv,
        env: def.env,
        output: def.output,
        yes_prompts: def.yes_prompts,
        accept_key: def.accept_key,
        resume,
    }
}

/// Why `plan` cannot run headless, if so: a task runs Claude Code's interactive UI, which sits at
/// its input box when done and never exits by itself, without `idle_exit`.
pub fn headless_refusal(plan: &Plan) -> Option<String> {
    let task = plan.tasks.iter().find(|t| {
        !t.idle_exit && resolve(plan, &t.agent).is_some_and(|a| interactive_claude(&a.argv))
    })?;
    Some(format!(
        "task '{}': agent '{}' runs Claude Code's interactive UI, which waits at its input box \
         when done and never ends by itself headless: set idle_exit = true (the task ends when \
         it sits idle there) or use agent = \"claude\"",
        task.name, task.agent
    ))
}

/// Claude Code without `-p`: its interactive UI.
fn interactive_claude(argv: &[String]) -> bool {
    let claude = argv
        .first()
        .and_then(|p| Path::new(p).file_name())
        .is_some_and(|p| p == "claude");
    claude && !argv.iter().any(|a| a == "-p" || a == "--print")
}

/// `argv` as it runs inside grove's own sandbox: codex's sandbox (bubblewrap) cannot set up its
/// namespaces there (`bwrap: setting up uid map: Permission denied`, every command fails), and
/// grove's already confines it to its worktree, so `--sandbox workspace-write` becomes
/// `--sandbox danger-full-access`. Everything else is left as it is.
pub fn in_grove_sandbox(mut argv: Vec<String>) -> Vec<String> {
    let codex = argv
        .first()
        .and_then(|p| Path::new(p).file_name())
        .is_some_and(|p| p == "codex");
    // Only options: the prompt after `--` is the user's text.
    let options = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
    if codex {
        for i in 1..options {
            if argv[i - 1] == "--sandbox" && argv[i] == "workspace-write" {
                argv[i] = "danger-full-access".into();
            } else if argv[i] == "--sandbox=workspace-write" {
                argv[i] = "--sandbox=danger-full-access".into();
            }
        }
    }
    argv
}

/// The argv template of `def`: its `command` with its `args` just before the command's first
/// "--" (so a preset's prompt stays after it and the user's flags stay options), or at the end
/// when it has none.
pub fn template(def: &AgentDef) -> Vec<String> {
    place_args(&def.command, &def.args)
}

/// `command` with `args` just before its first "--", or at the end when it has none.
fn place_args(command: &[String], args: &[String]) -> Vec<String> {
    let at = command
        .iter()
        .position(|arg| arg == "--")
        .unwrap_or(command.len());
    let mut argv = command[..at].to_vec();
    argv.extend(args.iter().cloned());
    argv.extend(command[at..].iter().cloned());
    argv
}

/// The index of the first argument of `argv` (a template) that a prompt starting with '-' would
/// turn into an option: one that starts with `{prompt}` (the prompt is the whole argument, or
/// its start) and comes before any "--". `--prompt={prompt}` or `-- {prompt}` are safe.
pub fn prompt_as_option(argv: &[String]) -> Option<usize> {
    let end = argv
        .iter()
        .position(|arg| arg == "--")
        .unwrap_or(argv.len());
    (1..end).find(|&i| argv[i].starts_with("{prompt}"))
}

/// Path of the grove binary (the demo agent is a hidden subcommand of it).
fn grove_exe() -> String {
    crate::sandbox::grove_exe().to_string_lossy().into_owned()
}

/// An agent a run can use, and where its definition comes from: `preset`, `config` or `plan`
/// (the last that set it).
pub struct Available {
    pub name: String,
    pub source: &'static str,
    pub def: AgentDef,
}

/// Every agent available with the user config's agents and a plan's `planned` ones: the
/// presets first, then the others in order; a plan's definition wins over the config's.
pub fn available(
    configured: &std::collections::BTreeMap<String, AgentDef>,
    planned: &std::collections::BTreeMap<String, AgentDef>,
) -> Vec<Available> {
    let mut names: Vec<String> = PRESETS.iter().map(|s| s.to_string()).collect();
    for name in configured.keys().chain(planned.keys()) {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
        .into_iter()
        .filter_map(|name| {
            let from_config = configured.get(&name);
            let (source, def) = match planned.get(&name) {
                Some(def) if Some(def) != from_config => ("plan", def.clone()),
                _ => match from_config {
                    Some(def) => ("config", def.clone()),
                    None => ("preset", preset(&name)?),
                },
            };
            Some(Available { name, source, def })
        })
        .collect()
}

/// Where `program` would be found: a path containing `/` as it is, a bare name in the
/// directories of `$PATH`. Only executable files count.
pub fn find_program(program: &str) -> Option<PathBuf> {
    find_program_on(program, None)
}

/// Like [`find_program`], on the PATH `path` (a run's) instead of this process's when given.
pub fn find_program_on(program: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    if program.is_empty() {
        return None;
    }
    if program.contains('/') {
        let path = PathBuf::from(program);
        return is_executable(&path).then_some(path);
    }
    let path = match path {
        Some(path) => path.to_owned(),
        None => std::env::var_os("PATH")?,
    };
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Values for the argv placeholders `{prompt}`, `{envelope}`, `{result}`, `{task}`,
/// `{worktree}`, and in a resume template `{session}`.
#[derive(Debug, Clone, Default)]
pub struct TemplateVars<'a> {
    pub prompt: &'a str,
    pub envelope: &'a str,
    pub result: &'a str,
    pub task: &'a str,
    pub worktree: &'a str,
    pub session: &'a str,
}

/// Substitutes placeholders inside each argv element; each element stays one argument,
/// whatever the values contain. Substituted text is not scanned again.
pub fn render_argv(template: &[String], vars: &TemplateVars<'_>) -> Vec<String> {
    template.iter().map(|arg| render_one(arg, vars)).collect()
}

/// The argv of a follow-up: `resume` (a template with `args` placed, `AgentCommand::resume`)
/// with the session, the prompt and the other placeholders of `vars` substituted.
pub fn resume_argv(resume: &[String], session: &str, vars: &TemplateVars<'_>) -> Vec<String> {
    let vars = TemplateVars {
        session,
        ..vars.clone()
    };
    render_argv(resume, &vars)
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
            ("{session}", vars.session),
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
    fn inside_grove_sandbox_codex_leaves_sandboxing_to_grove() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let codex = preset("codex").unwrap().command;
        let argv = render_argv(
            &codex,
            &TemplateVars {
                prompt: "--sandbox workspace-write",
                envelope: "",
                result: "",
                ..TemplateVars::default()
            },
        );
        assert_eq!(
            in_grove_sandbox(argv),
            words(&[
                "codex",
                "exec",
                "--json",
                "--sandbox",
                "danger-full-access",
                "--",
                "--sandbox workspace-write"
            ])
        );
        let other = words(&["sh", "--sandbox", "workspace-write"]);
        assert_eq!(in_grove_sandbox(other.clone()), other);
    }

    #[test]
    fn no_preset_lets_a_prompt_become_an_option() {
        for name in PRESETS {
            let mut def = preset(name).unwrap();
            def.args = vec!["--model".into(), "x".into()];
            let argv = template(&def);
            assert_eq!(prompt_as_option(&argv), None, "{name}: {argv:?}");
            if let Some(dashes) = argv.iter().position(|a| a == "--") {
                assert_eq!(&argv[dashes - 2..dashes], ["--model", "x"], "{name}");
                assert_eq!(argv[dashes + 1..], ["{prompt}".to_string()], "{name}");
            }
        }
        let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(
            prompt_as_option(&argv(&["claude", "-p", "{prompt}"])),
            Some(2)
        );
        assert_eq!(
            prompt_as_option(&argv(&["t", "--m", "{prompt}.md"])),
            Some(2)
        );
        assert_eq!(prompt_as_option(&argv(&["t", "--m={prompt}"])), None);
        assert_eq!(prompt_as_option(&argv(&["t", "--", "{prompt}"])), None);
        assert_eq!(
            prompt_as_option(&argv(&["sh", "-c", "run '{prompt}'"])),
            None
        );
    }

    fn strings(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_follow_up_continues_the_session_with_the_prompt_after_dashes() {
        let vars = TemplateVars {
            prompt: "--dangerously-skip-permissions now fix it",
            ..TemplateVars::default()
        };
        let claude = session::preset_resume("claude");
        assert_eq!(
            resume_argv(&claude, "0f9e-11", &vars),
            strings(&[
                "claude",
                "-p",
                "--resume",
                "0f9e-11",
                "--output-format",
                "stream-json",
                "--verbose",
                "--",
                "--dangerously-skip-permissions now fix it"
            ])
        );
        let codex = session::preset_resume("codex");
        assert_eq!(
            resume_argv(&codex, "019a", &vars)[5..],
            strings(&[
                "resume",
                "019a",
                "--",
                "--dangerously-skip-permissions now fix it"
            ])
        );
        for name in crate::agent::PRESETS {
            let resume = session::preset_resume(name);
            assert_eq!(prompt_as_option(&resume), None, "{name}");
            let has = !resume.is_empty();
            assert_eq!(has, matches!(*name, "claude" | "codex"), "{name}");
        }
    }

    #[test]
    fn the_users_args_go_before_the_resume_templates_dashes() {
        let mut def = preset("claude").unwrap();
        def.args = strings(&["--model", "sonnet"]);
        let resume = command_of("claude", def).resume.unwrap();
        let dashes = resume.iter().position(|a| a == "--").unwrap();
        assert_eq!(resume[dashes - 2..dashes], strings(&["--model", "sonnet"]));
        let shell = preset("shell").unwrap();
        assert!(command_of("shell", shell).resume.is_none());
    }

    #[test]
    fn placeholders_stay_single_arguments() {
        let vars = TemplateVars {
            prompt: "a b; rm -rf / {task}",
            envelope: "/e.json",
            result: "/r.json",
            task: "t1",
            worktree: "/w",
            session: "",
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
