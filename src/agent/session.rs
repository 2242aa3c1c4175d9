//! Sessions an agent can continue: the presets' resume templates (a follow-up continues the
//! task's recorded session with a new prompt) and the session ids grove accepts into an argv.

use super::{render_argv, TemplateVars};

/// The resume template of preset `name`; empty for presets without sessions grove records.
/// Like the commands, the prompt comes after "--", and the session id is an argument of its own.
pub fn preset_resume(name: &str) -> Vec<String> {
    let words: &[&str] = match name {
        // Claude Code: `--resume <id>` loads the conversation, `-p` runs one more turn on it.
        "claude" => &[
            "claude",
            "-p",
            "--resume",
            "{session}",
            "--output-format",
            "stream-json",
            "--verbose",
            "--",
            "{prompt}",
        ],
        // codex 0.171: `codex exec [OPTIONS] resume [SESSION_ID] [PROMPT]`; exec's options
        // (--json, --sandbox) go before `resume`.
        "codex" => &[
            "codex",
            "exec",
            "--json",
            "--sandbox",
            "workspace-write",
            "resume",
            "{session}",
            "--",
            "{prompt}",
        ],
        _ => &[],
    };
    words.iter().map(|w| w.to_string()).collect()
}

/// Whether `id` can stand as an argument of its own: ids are UUIDs or names, and one an agent
/// printed that starts with '-' or holds anything else would be read as an option or be a trick.
pub fn valid_session(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// The argv of a follow-up: `resume` (a template with `args` placed) with the session and the
/// prompt and the other placeholders of `vars` substituted.
pub fn resume_argv(resume: &[String], session: &str, vars: &TemplateVars<'_>) -> Vec<String> {
    let vars = TemplateVars {
        session,
        ..vars.clone()
    };
    render_argv(resume, &vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{command_of, preset, prompt_as_option};

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_follow_up_continues_the_session_with_the_prompt_after_dashes() {
        let vars = TemplateVars {
            prompt: "--dangerously-skip-permissions now fix it",
            ..TemplateVars::default()
        };
        let claude = preset_resume("claude");
        assert_eq!(
            resume_argv(&claude, "0f9e-11", &vars),
            words(&[
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
        let codex = preset_resume("codex");
        assert_eq!(
            resume_argv(&codex, "019a", &vars)[5..],
            words(&[
                "resume",
                "019a",
                "--",
                "--dangerously-skip-permissions now fix it"
            ])
        );
        for name in crate::agent::PRESETS {
            let resume = preset_resume(name);
            assert_eq!(prompt_as_option(&resume), None, "{name}");
            let has = !resume.is_empty();
            assert_eq!(has, matches!(*name, "claude" | "codex"), "{name}");
        }
    }

    #[test]
    fn the_users_args_go_before_the_resume_templates_dashes() {
        let mut def = preset("claude").unwrap();
        def.args = words(&["--model", "sonnet"]);
        let resume = command_of("claude", def).resume.unwrap();
        let dashes = resume.iter().position(|a| a == "--").unwrap();
        assert_eq!(resume[dashes - 2..dashes], words(&["--model", "sonnet"]));
        let shell = preset("shell").unwrap();
        assert!(command_of("shell", shell).resume.is_none());
    }

    #[test]
    fn only_plain_session_ids_are_accepted() {
        assert!(valid_session("a5c6e2f0-3b1d-4b8e-9d55-0c1e2f3a4b5c"));
        assert!(valid_session("thread_01.x:y"));
        for bad in [
            "",
            "-x",
            "--resume",
            "a b",
            "a\nb",
            "{prompt}",
            &"a".repeat(201),
        ] {
            assert!(!valid_session(bad), "{bad:?}");
        }
    }
}
