//! Reading an agent's screen for a prompt: is it asking something, and is that a yes/no
//! question its preset knows how to answer? Pure: screen lines in, a verdict out.

/// How far up from the last line a preset's yes/no question may start (Claude Code's permission
/// box puts the question a few lines above its options).
const BLOCK_LINES: usize = 8;

/// What the bottom of an agent's screen asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// One of the agent's known yes/no questions, with yes the answer its accept key gives (in
    /// a menu: the highlighted option is Yes); the question.
    YesNo(String),
    /// Some other prompt: a question, `>`, `:`, `[y/n]` the agent has no accept key for, or a
    /// menu whose highlighted option is not Yes.
    Other(String),
    /// A first-run dialog (trusting the folder, using an API key): never answered for the user,
    /// whose answer is remembered once given (`grove doctor` says how).
    Setup(String),
    /// The agent's own input box (Claude Code's `❯` between two rules): its turn is over and it
    /// waits for the next instruction.
    Idle,
}

impl Prompt {
    /// What the task is waiting at, as shown: the prompt's line, `needs setup: …`, `idle`.
    pub fn line(&self) -> String {
        match self {
            Prompt::YesNo(line) | Prompt::Other(line) => line.clone(),
            Prompt::Setup(line) => format!("needs setup: {line}"),
            Prompt::Idle => "idle".to_string(),
        }
    }
}

/// Dialogs that set an agent up rather than ask about its work (matched without regard to case).
const SETUP_MARKERS: &[&str] = &["trust this folder", "use this api key"];

/// The prompt the screen ends in, if any. `rows` are the screen's rows top to bottom. A menu
/// with a highlighted option (`❯ 1. Yes`) or an input box is read by its structure; otherwise
/// `yes_prompts` are matched without regard to case in the last block of text (the lines above
/// the last one up to a blank line, at most `BLOCK_LINES`).
pub fn detect<S: AsRef<str>>(rows: &[S], yes_prompts: &[String]) -> Option<Prompt> {
    let lines: Vec<&str> = rows.iter().map(|r| r.as_ref().trim_end()).collect();
    let last = lines.iter().rposition(|l| !l.is_empty())?;
    if let Some(found) = menu_or_box(&lines, last, yes_prompts) {
        return Some(found);
    }
    let first = lines[..=last]
        .iter()
        .rposition(|l| l.is_empty())
        .map_or(0, |blank| blank + 1)
        .max((last + 1).saturating_sub(BLOCK_LINES));
    let block = &lines[first..=last];
    let known = block.iter().rev().find(|line| matches(line, yes_prompts));
    if let Some(line) = known {
        return Some(Prompt::YesNo(line.trim().to_string()));
    }
    let line = lines[last].trim();
    let lower = line.to_lowercase();
    let asks =
        line.ends_with(['?', '>', ':']) || ["[y/n]", "(y/n)"].iter().any(|m| lower.contains(m));
    asks.then(|| Prompt::Other(line.to_string()))
}

/// How far up from the last line a highlighted option or an input box may be (footers, hints
/// and the mode line sit below them).
const MENU_LINES: usize = 12;

/// A highlighted menu option or an input box near the bottom, read by structure.
fn menu_or_box(lines: &[&str], last: usize, yes_prompts: &[String]) -> Option<Prompt> {
    let top = (last + 1).saturating_sub(MENU_LINES);
    let mark = (top..=last)
        .rev()
        .find(|&i| inner(lines[i]).starts_with('❯'))?;
    if mark > 0 && is_rule(lines[mark - 1]) && lines[mark + 1..=last].iter().any(|l| is_rule(l)) {
        return Some(Prompt::Idle);
    }
    let option = inner(lines[mark]).trim_start_matches('❯').trim();
    let option = strip_number(option);
    // The question: the nearest line above the options that asks, else the nearest text.
    let above = (mark.saturating_sub(BLOCK_LINES)..mark).rev();
    let texts: Vec<&str> = above
        .map(|i| inner(lines[i]))
        .filter(|l| !l.is_empty() && !is_option(l) && !is_rule(l))
        .collect();
    let question = texts
        .iter()
        .find(|l| l.ends_with('?'))
        .or(texts.first())
        .map_or(option, |q| q);
    let dialog = lines[mark.saturating_sub(BLOCK_LINES)..=last]
        .join("\n")
        .to_lowercase();
    if SETUP_MARKERS.iter().any(|m| dialog.contains(m)) {
        return Some(Prompt::Setup(question.to_string()));
    }
    if option.starts_with("Yes") && matches(question, yes_prompts) {
        return Some(Prompt::YesNo(question.to_string()));
    }
    Some(Prompt::Other(question.to_string()))
}

fn matches(line: &str, yes_prompts: &[String]) -> bool {
    let lower = line.to_lowercase();
    yes_prompts
        .iter()
        .any(|p| !p.is_empty() && lower.contains(&p.to_lowercase()))
}

/// A line's text inside a box's side borders.
fn inner(line: &str) -> &str {
    line.trim().trim_matches('│').trim()
}

/// A horizontal rule across the screen (the input box's top and bottom).
fn is_rule(line: &str) -> bool {
    let line = line.trim();
    line.chars().count() >= 20 && line.chars().all(|c| c == '─')
}

/// `2. No`: an unhighlighted numbered option.
fn is_option(line: &str) -> bool {
    strip_number(line) != line
}

fn strip_number(option: &str) -> &str {
    let digits = option.len()
        - option
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .len();
    match option[digits..].strip_prefix(". ") {
        Some(rest) if digits > 0 => rest.trim_start(),
        _ => option,
    }
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
            Some(Prompt::YesNo("Do you want to proceed?".into()))
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

    /// Claude Code 2.1.332's screens, as a 120x40 terminal showed them (the ends of long lines
    /// cut).
    const PERMISSION: &[&str] = &[
        "❯ write a file",
        "",
        "  Writing",
        "  ⎿  $ echo hello > out.txt",
        "",
        "────────────────────────────────────────────────────────────",
        " Bash command",
        " Tip: auto mode handles these prompts for you",
        " write",
        "╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌",
        " echo hello > out.txt",
        "╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌",
        " Do you want to proceed?",
        " ❯ 1. Yes",
        "   2. Yes, and always allow access to /tmp/exp/proj from this project",
        "   3. Yes, and switch to auto mode · auto mode handles these prompts for you",
        "   4. No",
        "",
        " Esc to cancel · Tab to amend",
        "",
        "",
    ];
    const TRUST: &[&str] = &[
        "────────────────────────────────────────────────────────────",
        " Accessing workspace:",
        "",
        " /tmp/exp/proj",
        "",
        " Quick safety check: Is this a project you created or one you trust? (Like your own",
        " project, or work from your team). If not, take a moment to review what's in this folder",
        "",
        " Claude Code'll be able to read, edit, and execute files here.",
        "",
        " Security guide",
        "",
        " ❯ No, exit",
        "   Yes, I trust this folder",
        "",
        " Enter to confirm · Esc to cancel",
        "",
    ];
    const API_KEY: &[&str] = &[
        "  Detected a custom API key in your environment",
        "",
        "  ANTHROPIC_API_KEY: sk-ant-...sk-test",
        "",
        "  Do you want to use this API key?",
        "",
        "    Yes",
        "  ❯ No (recommended)",
        "",
        "  Enter to confirm · Esc to cancel",
    ];
    const IDLE: &[&str] = &[
        "● I wrote out.txt.",
        "",
        "✻ Brewed for 0s · done 4:49 AM",
        "",
        "                                                 ◐ medium · /effort",
        "────────────────────────────────────────────────────────────",
        "❯ ",
        "────────────────────────────────────────────────────────────",
        "  ⏸ manual mode on · ? for shortcuts",
        "",
    ];

    #[test]
    fn claude_codes_screens_are_read_by_their_structure() {
        let claude = vec!["Do you want to".to_string()];
        assert_eq!(
            detect(PERMISSION, &claude),
            Some(Prompt::YesNo("Do you want to proceed?".into()))
        );
        // Highlighted "No": never a yes/no question to answer.
        let mut no = PERMISSION.to_vec();
        no[13] = "   1. Yes";
        no[16] = " ❯ 4. No";
        assert_eq!(
            detect(&no, &claude),
            Some(Prompt::Other("Do you want to proceed?".into()))
        );
        let trust = detect(TRUST, &claude).unwrap();
        assert!(matches!(trust, Prompt::Setup(_)), "{trust:?}");
        assert_eq!(
            detect(API_KEY, &claude),
            Some(Prompt::Setup("Do you want to use this API key?".into()))
        );
        assert_eq!(
            Prompt::Setup("Do you want to use this API key?".into()).line(),
            "needs setup: Do you want to use this API key?"
        );
        assert_eq!(detect(IDLE, &claude), Some(Prompt::Idle));
        assert_eq!(Prompt::Idle.line(), "idle");
    }

    #[test]
    fn accept_keys_written_with_escapes_become_control_characters() {
        assert_eq!(key_bytes("y\\r"), b"y\r");
        assert_eq!(key_bytes("y\r"), b"y\r");
        assert_eq!(key_bytes("1"), b"1");
    }
}
