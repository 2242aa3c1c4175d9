//! Reading an agent's screen for a prompt: is it asking something, and is that a yes/no
//! question its preset knows how to answer? Pure: screen lines in, a verdict out.

/// How far up from the last line a preset's yes/no question may start (Claude Code's permission
/// box puts the question a few lines above its options).
const BLOCK_LINES: usize = 8;

/// What the bottom of an agent's screen asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// One of the agent's known yes/no questions; the line that matched.
    YesNo(String),
    /// Some other prompt: a question, `>`, `:`, or `[y/n]` the agent has no accept key for.
    Other(String),
}

impl Prompt {
    /// The prompt's line, trimmed.
    pub fn line(&self) -> &str {
        match self {
            Prompt::YesNo(line) | Prompt::Other(line) => line,
        }
    }
}

/// The prompt the screen ends in, if any. `rows` are the screen's rows top to bottom;
/// `yes_prompts` are matched without regard to case in the last block of text (the lines
/// above the last one up to a blank line, at most `BLOCK_LINES`).
pub fn detect<S: AsRef<str>>(rows: &[S], yes_prompts: &[String]) -> Option<Prompt> {
    let lines: Vec<&str> = rows.iter().map(|r| r.as_ref().trim_end()).collect();
    let last = lines.iter().rposition(|l| !l.is_empty())?;
    let first = lines[..=last]
        .iter()
        .rposition(|l| l.is_empty())
        .map_or(0, |blank| blank + 1)
        .max((last + 1).saturating_sub(BLOCK_LINES));
    let block = &lines[first..=last];
    let known = block.iter().rev().find(|line| {
        let lower = line.to_lowercase();
        yes_prompts
            .iter()
            .any(|p| !p.is_empty() && lower.contains(&p.to_lowercase()))
    });
    if let Some(line) = known {
        return Some(Prompt::YesNo(line.trim().to_string()));
    }
    let line = lines[last].trim();
    let lower = line.to_lowercase();
    let asks =
        line.ends_with(['?', '>', ':']) || ["[y/n]", "(y/n)"].iter().any(|m| lower.contains(m));
    asks.then(|| Prompt::Other(line.to_string()))
}

/// `accept_key` as typed into a terminal: `\r` and `\n` written as those two characters in a
/// config become the control characters (TOML and JSON strings may hold either form).
pub fn key_bytes(accept_key: &str) -> Vec<u8> {
    accept_key
        .replace("\\r", "\r")
        .replace("\\n", "\n")
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yes() -> Vec<String> {
        vec!["[y/n]".into(), "Do you want to".into()]
    }

    #[test]
    fn a_known_yes_no_question_is_recognized_case_blind() {
        let rows = ["building", "", "Overwrite config? [Y/n]", "", ""];
        assert_eq!(
            detect(&rows, &yes()),
            Some(Prompt::YesNo("Overwrite config? [Y/n]".into()))
        );
    }

    #[test]
    fn a_question_inside_a_box_counts() {
        let rows = [
            "╭──────────────────────────╮",
            "│ Bash command             │",
            "│   rm -rf build           │",
            "│ Do you want to proceed?  │",
            "│ ❯ 1. Yes                 │",
            "│   2. No                  │",
            "╰──────────────────────────╯",
        ];
        assert_eq!(
            detect(&rows, &yes()),
            Some(Prompt::YesNo("│ Do you want to proceed?  │".into()))
        );
    }

    #[test]
    fn other_prompts_wait_but_are_not_answered() {
        for line in [
            "What is the module name?",
            "Password:",
            "> ",
            "Continue (y/n)",
        ] {
            let rows = ["output", line];
            let found = detect(&rows, &[]);
            assert_eq!(found, Some(Prompt::Other(line.trim().into())), "{line}");
        }
    }

    #[test]
    fn plain_output_and_old_questions_are_not_prompts() {
        assert_eq!(detect(&["compiling", "done"], &yes()), None);
        assert_eq!(detect::<&str>(&[], &yes()), None);
        assert_eq!(detect(&["", "  ", ""], &yes()), None);
        // A question answered long ago, separated from the bottom by a blank line.
        let rows = ["Proceed? [y/n] y", "", "working", "still working"];
        assert_eq!(detect(&rows, &yes()), None);
    }

    #[test]
    fn accept_keys_written_with_escapes_become_control_characters() {
        assert_eq!(key_bytes("y\\r"), b"y\r");
        assert_eq!(key_bytes("y\r"), b"y\r");
        assert_eq!(key_bytes("1"), b"1");
    }
}
