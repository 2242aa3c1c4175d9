//! What a task's prompt becomes on its agent's command line: arguments the kernel can pass
//! (MAX_ARG_STRLEN each, ARG_MAX in all, checked at validation instead of the agent dying with
//! SIGABRT when it starts), and never an option of the agent's program (a warning for an agent
//! whose template lets a prompt starting with '-' be read as one).

use std::collections::{BTreeMap, BTreeSet};

use super::error::{quoted, Location, Res};
use super::model::AgentDef;
use super::scope::Scope;
use super::settings::PromptRef;
use crate::agent::{self, TemplateVars};
use crate::engine::output::PASSED_OUTPUTS_MAX;

/// The longest argument Linux passes to a program, its terminating NUL included
/// (MAX_ARG_STRLEN: 32 pages of 4 KiB).
pub const MAX_ARG_STRLEN: usize = 32 * 4096;
/// What `{envelope}`, `{result}` and `{worktree}` count for here: their longest (PATH_MAX), as
/// the paths are not known before the run.
const PATH_MAX: usize = 4096;
/// Room for what grove adds when it starts the agent: its GROVE_* variables and TERM, and the
/// sandbox wrapper's own arguments.
const GROVE_ADDS: usize = 16 * 1024;

/// Checks that task `task`'s `prompt` fits on the command line of agent `name` (`def`), with up
/// to [`PASSED_OUTPUTS_MAX`] more bytes when the plan passes earlier outputs into prompts.
/// `env` is the task's own environment (the agent's is in `def`).
pub(crate) fn check_prompt_fits(
    scope: &Scope,
    task: &str,
    prompt: &PromptRef,
    text: &str,
    (name, def): (&str, &AgentDef),
    env: &BTreeMap<String, String>,
    passes_outputs: bool,
) -> Res<()> {
    let template = agent::template(def);
    if !template.iter().any(|arg| arg.contains("{prompt}")) {
        // The prompt reaches the agent only in its envelope (a file).
        return Ok(());
    }
    let path = "/".repeat(PATH_MAX);
    let vars = TemplateVars {
        prompt: text,
        envelope: &path,
        result: &path,
        task,
        worktree: &path,
        session: "",
    };
    let passed = if passes_outputs {
        PASSED_OUTPUTS_MAX
    } else {
        0
    };
    let with_outputs = match passes_outputs {
        true => format!(
            " (with up to {passed} bytes of earlier tasks' outputs, which this plan passes)"
        ),
        false => String::new(),
    };
    // Each string with its NUL, and a pointer to it.
    let mut total = GROVE_ADDS;
    for (i, arg) in template.iter().enumerate() {
        let rendered = agent::render_argv(std::slice::from_ref(arg), &vars);
        let size = rendered[0].len() + arg.matches("{prompt}").count() * passed;
        if arg.contains("{prompt}") && size >= MAX_ARG_STRLEN {
            return Err(scope.bad_at(
                &prompt.at,
                format!(
                    "the prompt ({} bytes) makes argument {i} of agent {} ({}) {size} bytes{with_outputs}, \
                     more than the {} bytes the kernel passes as one argument (MAX_ARG_STRLEN, \
                     with its NUL); shorten it, or use an agent that reads the prompt from its envelope",
                    text.len(),
                    quoted(name),
                    quoted(arg),
                    MAX_ARG_STRLEN - 1,
                ),
            ));
        }
        total += size + 1 + std::mem::size_of::<usize>();
    }
    let own_env = std::env::vars_os().map(|(k, v)| k.len() + v.len() + 2);
    let added = def
        .env
        .iter()
        .chain(env)
        .map(|(k, v)| k.len() + v.len() + 2);
    total += own_env
        .chain(added)
        .map(|size| size + std::mem::size_of::<usize>())
        .sum::<usize>();
    // SAFETY: sysconf only reads a system limit.
    let arg_max = unsafe { libc::sysconf(libc::_SC_ARG_MAX) };
    match usize::try_from(arg_max) {
        Ok(arg_max) if arg_max > 0 && total > arg_max => Err(scope.bad_at(
            &prompt.at,
            format!(
                "with the prompt ({} bytes), the command line of agent {} and the environment come \
                 to about {total} bytes{with_outputs}, more than the {arg_max} bytes this system \
                 passes to a program (ARG_MAX)",
                text.len(),
                quoted(name),
            ),
        )),
        _ => Ok(()),
    }
}

/// A warning for each agent of `used` whose command line lets a prompt starting with '-' be read
/// as an option of its program; `written` says where an agent's definition is written.
pub(crate) fn option_warnings<'a>(
    used: impl IntoIterator<Item = &'a str>,
    agents: &BTreeMap<String, AgentDef>,
    written: impl Fn(&str) -> Option<Location>,
) -> Vec<String> {
    let used: BTreeSet<&str> = used.into_iter().collect();
    let mut warnings = Vec::new();
    for name in used {
        let Some(def) = agents.get(name).cloned().or_else(|| agent::preset(name)) else {
            continue;
        };
        // The command, else the resume template of a follow-up.
        let resume = agent::command_of(name, def.clone()).resume;
        let Some((template, i)) = [Some(agent::template(&def)), resume]
            .into_iter()
            .flatten()
            .find_map(|t| agent::prompt_as_option(&t).map(|i| (t, i)))
        else {
            continue;
        };
        let at = written(name).map_or_else(String::new, |at| format!("{at}: "));
        warnings.push(format!(
            "{at}agent {}: argument {i} ({}) starts with the prompt, so a prompt starting with '-' \
             would be read as an option of {}; put \"--\" before it if the program takes that, or \
             join it to its option (\"--prompt={{prompt}}\")",
            quoted(name),
            quoted(&template[i]),
            quoted(def.program()),
        ));
    }
    warnings
}
