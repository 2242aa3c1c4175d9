//! Every key of the dashboard in one table: which keys do what in which part of it. Key handling,
//! the help view, the key bar and the README's key table all read this table, so they cannot
//! disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a key is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The list and the panes (grid or zoomed), and the summary over them.
    Main,
    /// Keys go to the attached agent, but these.
    Attached,
    /// Help, diff, details and compare.
    View,
    /// Searching a pane's history (`/`).
    Search,
    /// A y/n question.
    Confirm,
    /// Leaving a run that goes on without the dashboard (`q` in a client of the grove server).
    Leave,
    /// The new-task form.
    Form,
}

impl Scope {
    pub const ALL: [Scope; 7] = [
        Scope::Main,
        Scope::Attached,
        Scope::View,
        Scope::Search,
        Scope::Confirm,
        Scope::Leave,
        Scope::Form,
    ];

    /// The heading of its part of the help and of the README's table.
    pub fn title(self) -> &'static str {
        match self {
            Scope::Main => "main view",
            Scope::Attached => "attached",
            Scope::View => "in help, diff, details and compare",
            Scope::Search => "searching a pane's history",
            Scope::Confirm => "questions",
            Scope::Leave => "leaving a run the grove server keeps running",
            Scope::Form => "new-task form",
        }
    }
}

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    SelectNext,
    SelectPrev,
    NextPane,
    PrevPane,
    Zoom,
    Back,
    Attach,
    Cancel,
    Retry,
    Merge,
    New,
    CopyTask,
    FollowUp,
    Compare,
    Diff,
    Details,
    ToggleList,
    Find,
    SearchNext,
    SearchPrev,
    PageUp,
    PageDown,
    Oldest,
    Live,
    Help,
    Suspend,
    Quit,
    /// The mouse, for the help only.
    Pointer,
    Detach,
    LineDown,
    LineUp,
    PageForward,
    PageBack,
    Top,
    Bottom,
    Left,
    Right,
    Close,
    Reload,
    Yes,
    No,
    /// Leaving: cancel every agent instead of detaching.
    StopRun,
    /// Leaving: not after all.
    Stay,
    Submit,
    NextField,
    PrevField,
    NewLine,
    ChooseAgent,
}

/// A key: its code and whether Ctrl is held (Shift is in the character; Alt is not used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    /// The key as texts name it: `q`, `Esc`, `Ctrl-C`.
    pub fn name(self) -> String {
        let base = match self.code {
            KeyCode::Char(c) if self.ctrl => c.to_ascii_uppercase().to_string(),
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::BackTab => "Shift-Tab".to_string(),
            KeyCode::PageUp => "PgUp".to_string(),
            KeyCode::PageDown => "PgDn".to_string(),
            code => code.to_string(),
        };
        match self.ctrl {
            true => format!("Ctrl-{base}"),
            false => base,
        }
    }
}

const fn k(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

const fn code(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub scope: Scope,
    pub act: Act,
    pub keys: &'static [Key],
    /// The keys as help and README show them.
    pub label: &'static str,
    pub help: &'static str,
    /// On the key bar: its text and rank (higher stays longer on a narrow screen).
    pub bar: Option<(&'static str, u8)>,
    /// Only offered while the run has a task.
    pub needs_task: bool,
}

/// Kept on the key bar whatever the width.
pub const ALWAYS: u8 = u8::MAX;

const fn bind(
    scope: Scope,
    act: Act,
    keys: &'static [Key],
    label: &'static str,
    help: &'static str,
) -> Binding {
    Binding {
        scope,
        act,
        keys,
        label,
        help,
        bar: None,
        needs_task: false,
    }
}

impl Binding {
    const fn bar(mut self, text: &'static str, rank: u8) -> Binding {
        self.bar = Some((text, rank));
        self
    }

    const fn task(mut self) -> Binding {
        self.needs_task = true;
        self
    }
}

use Act::*;
use Scope::*;

pub const BINDINGS: &[Binding] = &[
    bind(Main, SelectNext, &[k('j'), code(KeyCode::Down)], "j / ↓, k / ↑", "select the next / previous task")
        .bar("j/k select", 90)
        .task(),
    bind(Main, SelectPrev, &[k('k'), code(KeyCode::Up)], "", "")
        .task(),
    bind(Main, NextPane, &[code(KeyCode::Tab)], "Tab / Shift-Tab", "select the next / previous pane").task(),
    bind(Main, PrevPane, &[code(KeyCode::BackTab)], "", "").task(),
    bind(
        Main,
        Zoom,
        &[code(KeyCode::Enter), k('z')],
        "Enter / z",
        "zoom the selected pane; again to go back to the grid",
    )
    .bar("Enter zoom", 70)
    .task(),
    bind(
        Main,
        Back,
        &[code(KeyCode::Esc)],
        "Esc",
        "leave zoom; put the run's summary away to look around",
    ),
    bind(
        Main,
        Attach,
        &[k('i')],
        "i",
        "attach: keys (Ctrl-C included) and pastes go to the selected running agent, whose pane \
         gets a double border and says ATTACHED; attach ends by itself when the agent exits",
    )
    .bar("i attach", 80)
    .task(),
    bind(
        Main,
        Cancel,
        &[k('c')],
        "c",
        "cancel the selected pending, running or retrying task (asks y/n)",
    )
    .bar("c cancel", 40)
    .task(),
    bind(
        Main,
        Retry,
        &[k('r')],
        "r",
        "retry a task that ended without success: a new attempt in a fresh worktree, even when \
         its retry budget is spent; tasks skipped because of it become pending again",
    )
    .bar("r retry", 50)
    .task(),
    bind(
        Main,
        Merge,
        &[k('m')],
        "m",
        "merge a succeeded task into the base branch; asks first, saying how (fast-forward or \
         merge commit, or the paths that would conflict), which files, and on a race sibling \
         which siblings the pick discards; then the bottom line says what happened",
    )
    .bar("m merge", 60)
    .task(),
    bind(
        Main,
        New,
        &[k('n')],
        "n",
        "new task: name, agent, prompt, timeout, retries; Enter starts it",
    )
    .bar("n new task", 85),
    bind(
        Main,
        CopyTask,
        &[k('N')],
        "N",
        "copy the selected task: the form filled in with it as fix-2; the copy keeps every other \
         key of the task (check, env, setup…)",
    )
    .task(),
    bind(
        Main,
        FollowUp,
        &[k('f')],
        "f",
        "follow-up of a finished task: a prompt that continues its agent's session (claude, \
         codex) in its worktree on its branch; a new attempt, its commit on top",
    )
    .task(),
    bind(
        Main,
        Compare,
        &[k('v')],
        "v",
        "compare a race's siblings: status, time, cost, diff stat, check",
    )
    .task(),
    bind(
        Main,
        Diff,
        &[k('d')],
        "d",
        "diff of the selected task against its base; while it runs, its worktree's changes so \
         far (committed or not, new files too); after a merge conflict, what to do next",
    )
    .bar("d diff", 65)
    .task(),
    bind(
        Main,
        Details,
        &[k('l')],
        "l",
        "details: prompt, envelope, attempts, hashes, branch and paths",
    )
    .bar("l details", 55)
    .task(),
    bind(
        Main,
        ToggleList,
        &[k('t')],
        "t",
        "the task list: wide, narrow, hidden (more room for the panes)",
    )
    .bar("t list", 30),
    bind(
        Main,
        PageUp,
        &[code(KeyCode::PageUp)],
        "PgUp / PgDn",
        "scroll the selected pane's history by a page; new output does not move a scrolled view",
    )
    .task(),
    bind(Main, PageDown, &[code(KeyCode::PageDown)], "", "").task(),
    bind(
        Main,
        Oldest,
        &[code(KeyCode::Home)],
        "Home / End",
        "the oldest kept history / back to live output",
    )
    .task(),
    bind(Main, Live, &[code(KeyCode::End)], "", "").task(),
    bind(
        Main,
        Find,
        &[k('/')],
        "/",
        "search the selected pane's history (it is zoomed); as in tmux's copy mode",
    )
    .bar("/ search", 35)
    .task(),
    bind(
        Main,
        Pointer,
        &[],
        "mouse",
        "the wheel scrolls the pane under the pointer; a click selects a task or a pane",
    ),
    bind(Main, Help, &[k('?')], "?", "help: every key").bar("? help", ALWAYS),
    bind(
        Main,
        Suspend,
        &[ctrl('z')],
        "Ctrl-Z",
        "suspend grove: the agents are stopped and their timeout clocks paused, the terminal is \
         given back; fg resumes both",
    ),
    bind(
        Main,
        Quit,
        &[k('q'), ctrl('c')],
        "q / Ctrl-C",
        "quit; while tasks have not ended it asks, then cancels them (group SIGTERM, grace, \
         SIGKILL; the bottom line counts the grace down, and Ctrl-C again kills at once), writes \
         the results and exits 130; when the grove server runs them it asks detach or stop",
    )
    .bar("q quit", ALWAYS),
    bind(
        Main,
        Detach,
        &[ctrl(']'), ctrl('5')],
        "Ctrl-]",
        "detach at once when the grove server runs the agents: the dashboard closes, they keep \
         running (grove attach comes back)",
    ),
    bind(
        Attached,
        Detach,
        &[ctrl(']'), ctrl('5')],
        "Ctrl-]",
        "detach: keys are grove's again",
    )
    .bar("Ctrl-] detaches", ALWAYS),
    bind(View, LineDown, &[k('j'), code(KeyCode::Down)], "j / k, ↓ / ↑", "scroll a line")
        .bar("j/k scroll", 60),
    bind(View, LineUp, &[k('k'), code(KeyCode::Up)], "", ""),
    bind(
        View,
        PageForward,
        &[code(KeyCode::PageDown), k(' ')],
        "PgDn / Space, PgUp",
        "scroll a page",
    )
    .bar("PgUp/PgDn page", 40),
    bind(View, PageBack, &[code(KeyCode::PageUp)], "", ""),
    bind(View, Top, &[k('g'), code(KeyCode::Home)], "g / G, Home / End", "top / bottom")
        .bar("g/G top/bottom", 30),
    bind(View, Bottom, &[k('G'), code(KeyCode::End)], "", ""),
    bind(
        View,
        Left,
        &[k('h'), code(KeyCode::Left)],
        "h / l, ← / →",
        "scroll sideways (the diff; the other views wrap their lines)",
    )
    .bar("h/l sideways", 20),
    bind(View, Right, &[k('l'), code(KeyCode::Right)], "", ""),
    bind(
        View,
        Reload,
        &[k('r')],
        "r",
        "in a running task's diff: read its worktree again",
    ),
    bind(
        View,
        Close,
        &[k('q'), code(KeyCode::Esc), k('?')],
        "q / Esc",
        "close the view (q quits only from the main view)",
    )
    .bar("q/Esc close", ALWAYS),
    bind(
        Search,
        Submit,
        &[code(KeyCode::Enter)],
        "Enter",
        "after typing the text: find its newest occurrence (case ignored unless the text has a \
         capital)",
    )
    .bar("Enter find", 80),
    bind(
        Search,
        SearchNext,
        &[k('n')],
        "n / N",
        "the next older / newer match (going round at the ends)",
    )
    .bar("n/N older/newer", 90),
    bind(Search, SearchPrev, &[k('N')], "", ""),
    bind(Search, Find, &[k('/')], "/", "search for another text").bar("/ again", 50),
    bind(
        Search,
        Close,
        &[k('q'), code(KeyCode::Esc)],
        "q / Esc",
        "stop searching, back to live output (while typing, Esc)",
    )
    .bar("q/Esc done", ALWAYS),
    bind(Confirm, Yes, &[k('y'), k('Y')], "y", "yes").bar("y yes", ALWAYS),
    bind(
        Confirm,
        No,
        &[k('n'), k('N'), code(KeyCode::Esc), ctrl('c')],
        "n / Esc",
        "no",
    )
    .bar("n no", ALWAYS),
    bind(
        Leave,
        Detach,
        &[k('d'), code(KeyCode::Enter)],
        "d / Enter",
        "detach: the dashboard closes, the agents keep running",
    )
    .bar("d detach", ALWAYS),
    bind(
        Leave,
        StopRun,
        &[k('s')],
        "s",
        "stop the run: cancel every agent, as quitting does without the server",
    )
    .bar("s stop the run", ALWAYS),
    bind(
        Leave,
        Stay,
        &[code(KeyCode::Esc), ctrl('c')],
        "Esc",
        "stay in the dashboard",
    )
    .bar("Esc stay", ALWAYS),
    bind(Form, Submit, &[code(KeyCode::Enter)], "Enter", "start the task").bar("Enter start", ALWAYS),
    bind(
        Form,
        Close,
        &[code(KeyCode::Esc), ctrl('c')],
        "Esc",
        "close the form, starting nothing",
    )
    .bar("Esc cancel", ALWAYS),
    bind(
        Form,
        NextField,
        &[code(KeyCode::Tab)],
        "Tab / Shift-Tab, ↓ / ↑",
        "next / previous field (↓/↑ leave a one-line field, and the prompt at its last / first line)",
    )
    .bar("Tab/↓ next field", 60),
    bind(Form, PrevField, &[code(KeyCode::BackTab)], "", ""),
    bind(
        Form,
        ChooseAgent,
        &[],
        "← / →",
        "on the agent field: the previous / next agent",
    )
    .bar("←/→ agent", 40),
    bind(
        Form,
        NewLine,
        &[ctrl('j')],
        "Ctrl-J / Alt-Enter",
        "a new line in the prompt",
    )
    .bar("Ctrl-J new line", 30),
];

/// What `key` does in `scope`, if anything.
pub fn action(scope: Scope, key: KeyEvent) -> Option<Act> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let pressed = Key {
        code: key.code,
        ctrl,
    };
    BINDINGS
        .iter()
        .find(|b| b.scope == scope && b.keys.contains(&pressed))
        .map(|b| b.act)
}

/// The row of `act` in `scope`, for texts that name its keys. The table is fixed, and
/// `the_rows_texts_name_are_in_the_table` checks every pair asked for.
pub fn binding(scope: Scope, act: Act) -> &'static Binding {
    BINDINGS
        .iter()
        .find(|b| b.scope == scope && b.act == act)
        .expect("a row of the key table")
}

/// The first key of `act` in `scope`, as texts name it (`q`, `Esc`).
pub fn first_key(scope: Scope, act: Act) -> String {
    binding(scope, act)
        .keys
        .first()
        .map_or_else(String::new, |k| k.name())
}

/// The Ctrl key of `act` in `scope` (`Ctrl-C` for quitting), as texts name it.
pub fn ctrl_key(scope: Scope, act: Act) -> String {
    let keys = binding(scope, act).keys;
    keys.iter()
        .find(|k| k.ctrl)
        .map_or_else(String::new, |k| k.name())
}

/// The rows of `scope` that help and README show (the rows without a label share the line of the
/// row before).
pub fn shown(scope: Scope) -> impl Iterator<Item = &'static Binding> {
    BINDINGS
        .iter()
        .filter(move |b| b.scope == scope && !b.label.is_empty())
}

/// The key table as the README has it, in Markdown.
pub fn markdown() -> String {
    let mut out = String::from("| key | what it does |\n|---|---|\n");
    for scope in Scope::ALL {
        out.push_str(&format!("| **{}** | |\n", scope.title()));
        for b in shown(scope) {
            let keys: Vec<String> = b.label.split(", ").map(markdown_keys).collect();
            out.push_str(&format!("| {} | {} |\n", keys.join(", "), b.help));
        }
    }
    out
}

/// `j / ↓` as `` `j` / `↓` ``.
fn markdown_keys(label: &str) -> String {
    label
        .split(" / ")
        .map(|key| format!("`{key}`"))
        .collect::<Vec<_>>()
        .join(" / ")
}

#[cfg(test)]
mod tests;
