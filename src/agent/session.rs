//! Sessions an agent can continue: the presets' resume templates (a follow-up continues the
//! task's recorded session with a new prompt) and the session ids grove accepts into an argv.

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

#[cfg(test)]
mod tests {
    use super::*;

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
