//! The new-task form (`n`): a name, an agent from those available (each marked found or
//! missing), a multi-line prompt, and optional timeout and retries. Keys edit it; Enter hands
//! back the task to start, Esc cancels. No terminal and no I/O here.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keymap::{self, Act, Scope};
pub use crate::engine::api::AgentChoice;
use crate::engine::api::{NewTask, TaskView};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Agent,
    Prompt,
    Timeout,
    Retries,
}

const FIELDS: [Field; 5] = [
    Field::Name,
    Field::Agent,
    Field::Prompt,
    Field::Timeout,
    Field::Retries,
];

/// Text being edited, with a cursor (an index in chars). Lines are split at '\n'.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    chars: Vec<char>,
    cursor: usize,
}

impl TextInput {
    pub fn new(text: &str) -> TextInput {
        let chars: Vec<char> = text.chars().collect();
        TextInput {
            cursor: chars.len(),
            chars,
        }
    }

    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// The cursor as (line, column), both from 0.
    pub fn cursor_line_col(&self) -> (usize, usize) {
        let before = &self.chars[..self.cursor];
        let line = before.iter().filter(|&&c| c == '\n').count();
        let col = before.iter().rev().take_while(|&&c| c != '\n').count();
        (line, col)
    }

    fn insert(&mut self, c: char) {
        self.chars.insert(self.cursor, c);
        self.cursor += 1;
    }

    fn insert_str(&mut self, text: &str, multi_line: bool) {
        // Terminals paste line ends as CR (some as CR LF): each is a line break.
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        for c in text.chars() {
            match c {
                '\n' if !multi_line => self.insert(' '),
                c if c == '\n' || c == '\t' || !c.is_control() => self.insert(c),
                _ => {}
            }
        }
    }

    fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.chars.remove(self.cursor);
        }
    }

    fn delete(&mut self) {
        if self.cursor < self.chars.len() {
            self.chars.remove(self.cursor);
        }
    }

    fn line_start(&self, at: usize) -> usize {
        self.chars[..at]
            .iter()
            .rposition(|&c| c == '\n')
            .map_or(0, |i| i + 1)
    }

    fn line_end(&self, at: usize) -> usize {
        self.chars[at..]
            .iter()
            .position(|&c| c == '\n')
            .map_or(self.chars.len(), |i| at + i)
    }

    /// Moves to the line above (-1) or below (1), keeping the column where the line is long
    /// enough; false when there is no such line.
    fn vertical(&mut self, down: bool) -> bool {
        let start = self.line_start(self.cursor);
        let col = self.cursor - start;
        let target = if down {
            let end = self.line_end(self.cursor);
            if end == self.chars.len() {
                return false;
            }
            end + 1
        } else {
            if start == 0 {
                return false;
            }
            self.line_start(start - 1)
        };
        self.cursor = (target + col).min(self.line_end(target));
        true
    }

    /// Editing keys shared by every text field; true when the key was one.
    fn edit(&mut self, key: KeyEvent, multi_line: bool) -> bool {
        let plain = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match key.code {
            KeyCode::Char(c) if plain => self.insert(c),
            KeyCode::Backspace => self.backspace(),
            KeyCode::Delete => self.delete(),
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.chars.len()),
            KeyCode::Home => self.cursor = self.line_start(self.cursor),
            KeyCode::End => self.cursor = self.line_end(self.cursor),
            KeyCode::Up if multi_line => return self.vertical(false),
            KeyCode::Down if multi_line => return self.vertical(true),
            _ => return false,
        }
        true
    }
}

/// What a key did to the form.
#[derive(Debug, Clone, PartialEq)]
pub enum FormOutcome {
    Editing,
    Cancel,
    Submit(NewTask),
    /// The follow-up form (`f`) was sent: continue `task`'s session with `prompt`.
    FollowUp {
        task: String,
        prompt: String,
    },
}

#[derive(Debug, Clone)]
pub struct TaskForm {
    pub name: TextInput,
    pub agents: Vec<AgentChoice>,
    /// Index of the chosen agent in `agents`.
    pub agent: usize,
    pub prompt: TextInput,
    pub timeout: TextInput,
    pub retries: TextInput,
    pub focus: Field,
    /// Why the last Enter did not start the task.
    pub error: Option<String>,
    /// Set when the form edits a copy (`N`): the task copied and the keys it takes over as they
    /// are.
    pub copy_of: Option<CopyOf>,
    /// Set when the form asks for a follow-up (`f`) of this task: only the prompt is asked.
    pub follow_up_of: Option<String>,
}

/// The task a copy is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyOf {
    pub task: String,
    /// Its plan keys besides those the form shows (check, env, setup…).
    pub keys: Vec<String>,
}

impl TaskForm {
    /// A form with `name` filled in and the first agent whose program was found chosen.
    pub fn new(name: &str, agents: Vec<AgentChoice>) -> TaskForm {
        let agent = agents.iter().position(|a| a.found).unwrap_or(0);
        TaskForm {
            name: TextInput::new(name),
            agents,
            agent,
            prompt: TextInput::default(),
            timeout: TextInput::default(),
            retries: TextInput::default(),
            focus: Field::Name,
            error: None,
            copy_of: None,
            follow_up_of: None,
        }
    }

    /// The follow-up form of task `task` (run by `agent`): a prompt alone.
    pub fn follow_up(task: &str, agent: &str) -> TaskForm {
        let agents = vec![AgentChoice {
            name: agent.to_string(),
            found: true,
        }];
        TaskForm {
            focus: Field::Prompt,
            follow_up_of: Some(task.to_string()),
            ..TaskForm::new(task, agents)
        }
    }

    /// A form filled in with task `view` under the new name `name`: Enter starts the copy.
    pub fn copy(view: &TaskView, name: &str, mut agents: Vec<AgentChoice>) -> TaskForm {
        // The copied task's agent is offered even where the list does not know it.
        let agent = match agents.iter().position(|a| a.name == view.agent) {
            Some(at) => at,
            None => {
                agents.push(AgentChoice {
                    name: view.agent.clone(),
                    found: true,
                });
                agents.len() - 1
            }
        };
        let timeout = humantime::format_duration(view.timeout).to_string();
        TaskForm {
            agent,
            prompt: TextInput::new(&view.prompt),
            timeout: TextInput::new(&timeout),
            retries: TextInput::new(&view.max_attempts.saturating_sub(1).to_string()),
            copy_of: Some(CopyOf {
                task: view.name.clone(),
                keys: view.copied_keys.clone(),
            }),
            ..TaskForm::new(name, agents)
        }
    }

    /// The text field with the focus (None on the agent list).
    fn focused(&mut self) -> Option<&mut TextInput> {
        match self.focus {
            Field::Name => Some(&mut self.name),
            Field::Agent => None,
            Field::Prompt => Some(&mut self.prompt),
            Field::Timeout => Some(&mut self.timeout),
            Field::Retries => Some(&mut self.retries),
        }
    }

    fn move_focus(&mut self, by: isize) {
        if self.follow_up_of.is_some() {
            return;
        }
        let at = FIELDS.iter().position(|f| *f == self.focus).unwrap_or(0);
        let n = FIELDS.len() as isize;
        self.focus = FIELDS[(at as isize + by).rem_euclid(n) as usize];
    }

    /// Applies a key; `taken` tells whether a task name is already in the run.
    pub fn key(&mut self, key: KeyEvent, taken: &dyn Fn(&str) -> bool) -> FormOutcome {
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let prompt = self.focus == Field::Prompt;
        match keymap::action(Scope::Form, key) {
            Some(Act::Close) => return FormOutcome::Cancel,
            // A new line in the prompt: Ctrl-J (what a terminal sends for it) or Alt-Enter.
            Some(Act::NewLine) if prompt => self.prompt.insert('\n'),
            Some(Act::Submit) if alt && prompt => self.prompt.insert('\n'),
            Some(Act::Submit) => match (&self.follow_up_of, self.prompt.text()) {
                (Some(_), prompt) if prompt.trim().is_empty() => {
                    self.error = Some("the follow-up needs a prompt".into())
                }
                (Some(task), prompt) => {
                    let task = task.clone();
                    return FormOutcome::FollowUp { task, prompt };
                }
                (None, _) => match self.submit(taken) {
                    Ok(task) => return FormOutcome::Submit(task),
                    Err(error) => self.error = Some(error),
                },
            },
            Some(Act::NextField) => self.move_focus(1),
            Some(Act::PrevField) => self.move_focus(-1),
            _ => self.edit_key(key),
        }
        FormOutcome::Editing
    }

    /// A key that is not one of the form's own: it edits the focused field or chooses the agent.
    fn edit_key(&mut self, key: KeyEvent) {
        let prompt = self.focus == Field::Prompt;
        match key.code {
            KeyCode::Left if self.focus == Field::Agent => {
                let n = self.agents.len().max(1);
                self.agent = (self.agent + n - 1) % n;
            }
            KeyCode::Right | KeyCode::Char(' ') if self.focus == Field::Agent => {
                self.agent = (self.agent + 1) % self.agents.len().max(1);
            }
            _ => {
                let multi_line = prompt;
                let edited = self.focused().is_some_and(|f| f.edit(key, multi_line));
                // Up and Down leave a field when there is nowhere to go within it.
                if !edited {
                    match key.code {
                        KeyCode::Down => self.move_focus(1),
                        KeyCode::Up => self.move_focus(-1),
                        _ => {}
                    }
                }
            }
        }
    }

    /// Pasted text goes into the focused field (new lines only into the prompt).
    pub fn paste(&mut self, text: &str) {
        let multi_line = self.focus == Field::Prompt;
        if let Some(field) = self.focused() {
            field.insert_str(text, multi_line);
        }
    }

    /// The task the form describes, or why it cannot start.
    fn submit(&self, taken: &dyn Fn(&str) -> bool) -> Result<NewTask, String> {
        let name = self.name.text().trim().to_string();
        if name.is_empty() {
            return Err("the task needs a name".into());
        }
        if !crate::plan::valid_name(&name) {
            return Err(format!(
                "invalid task name '{name}': use letters, digits, '.', '_' and '-'"
            ));
        }
        if taken(&name) {
            return Err(format!("the run already has a task named '{name}'"));
        }
        let agent = self
            .agents
            .get(self.agent)
            .ok_or_else(|| "no agent to choose".to_string())?;
        if !agent.found {
            return Err(format!(
                "agent '{}' is missing: its program is not on PATH",
                agent.name
            ));
        }
        let prompt = self.prompt.text();
        if prompt.trim().is_empty() {
            return Err("the task needs a prompt".into());
        }
        let timeout = match self.timeout.text().trim() {
            "" => None,
            text => Some(parse_timeout(text)?),
        };
        let retries = match self.retries.text().trim() {
            "" => None,
            text => Some(
                text.parse::<u32>()
                    .ok()
                    .filter(|n| *n <= 100)
                    .ok_or_else(|| {
                        format!("retries must be a number from 0 to 100, not '{text}'")
                    })?,
            ),
        };
        Ok(NewTask {
            name,
            agent: agent.name.clone(),
            prompt,
            timeout,
            retries,
            keys: Default::default(),
        })
    }
}

/// `90s`, `5m`, `1h30m`, or a number of seconds; more than zero.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let parsed = match text.parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => humantime::parse_duration(text).map_err(|e| e.to_string()),
    };
    match parsed {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("the timeout must be more than zero".into()),
        Err(e) => Err(format!("timeout '{text}': {e} (e.g. 90s, 10m, 1h30m)")),
    }
}

/// The name of a copy of `task`: `fix` gives `fix-2`, then `fix-3`; a copy of `fix-2` is
/// `fix-3` too, not `fix-2-2`.
pub fn copy_name(task: &str, taken: &dyn Fn(&str) -> bool) -> String {
    let base = match task.rsplit_once('-') {
        Some((base, n)) if !base.is_empty() && n.parse::<u32>().is_ok_and(|n| n >= 2) => base,
        _ => task,
    };
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|name| !taken(name))
        .unwrap_or_else(|| format!("{task}-copy"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(form: &mut TaskForm, text: &str) {
        for c in text.chars() {
            form.key(key(KeyCode::Char(c)), &|_| false);
        }
    }

    fn agents() -> Vec<AgentChoice> {
        vec![
            AgentChoice {
                name: "claude".into(),
                found: false,
            },
            AgentChoice {
                name: "shell".into(),
                found: true,
            },
        ]
    }

    #[test]
    fn a_filled_form_gives_the_task() {
        let mut form = TaskForm::new("task-1", agents());
        assert_eq!(
            form.agents[form.agent].name, "shell",
            "the first found agent"
        );
        form.key(key(KeyCode::Tab), &|_| false);
        form.key(key(KeyCode::Tab), &|_| false);
        typed(&mut form, "line one");
        form.key(
            KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL),
            &|_| false,
        );
        typed(&mut form, "line two");
        form.key(key(KeyCode::Up), &|_| false);
        form.key(key(KeyCode::End), &|_| false);
        typed(&mut form, "!");
        assert_eq!(form.prompt.cursor_line_col(), (0, 9));
        form.key(key(KeyCode::Tab), &|_| false);
        typed(&mut form, "5m");
        form.key(key(KeyCode::Tab), &|_| false);
        typed(&mut form, "2");
        let outcome = form.key(key(KeyCode::Enter), &|_| false);
        assert_eq!(
            outcome,
            FormOutcome::Submit(NewTask {
                name: "task-1".into(),
                agent: "shell".into(),
                prompt: "line one!\nline two".into(),
                timeout: Some(Duration::from_secs(300)),
                retries: Some(2),
                keys: Default::default(),
            })
        );
    }

    #[test]
    fn enter_says_what_is_wrong_and_esc_cancels() {
        let mut form = TaskForm::new("a", agents());
        let taken = |n: &str| n == "a";
        assert_eq!(form.key(key(KeyCode::Enter), &taken), FormOutcome::Editing);
        assert_eq!(
            form.error.as_deref(),
            Some("the run already has a task named 'a'")
        );
        typed(&mut form, "b");
        assert_eq!(form.key(key(KeyCode::Enter), &taken), FormOutcome::Editing);
        assert_eq!(form.error.as_deref(), Some("the task needs a prompt"));
        form.key(key(KeyCode::Tab), &taken);
        form.key(key(KeyCode::Left), &taken);
        form.key(key(KeyCode::Tab), &taken);
        typed(&mut form, "x");
        form.key(key(KeyCode::Enter), &taken);
        assert_eq!(
            form.error.as_deref(),
            Some("agent 'claude' is missing: its program is not on PATH")
        );
        form.key(key(KeyCode::BackTab), &taken);
        form.key(key(KeyCode::Right), &taken);
        form.key(key(KeyCode::Tab), &taken);
        form.key(key(KeyCode::Tab), &taken);
        typed(&mut form, "0s");
        form.key(key(KeyCode::Enter), &taken);
        assert_eq!(
            form.error.as_deref(),
            Some("the timeout must be more than zero")
        );
        assert_eq!(form.key(key(KeyCode::Esc), &taken), FormOutcome::Cancel);
    }

    #[test]
    fn down_and_up_move_between_fields_from_every_one_line_field() {
        let mut form = TaskForm::new("t", agents());
        let order = [Field::Agent, Field::Prompt, Field::Timeout, Field::Retries];
        for field in order {
            form.key(key(KeyCode::Down), &|_| false);
            assert_eq!(form.focus, field);
        }
        for field in [Field::Timeout, Field::Prompt, Field::Agent, Field::Name] {
            form.key(key(KeyCode::Up), &|_| false);
            assert_eq!(form.focus, field);
        }
        // The agent is chosen with ← and →, and ↓ / ↑ did not change it on the way.
        assert_eq!(form.agents[form.agent].name, "shell");
        form.key(key(KeyCode::Down), &|_| false);
        form.key(key(KeyCode::Right), &|_| false);
        assert_eq!(form.agents[form.agent].name, "claude");
    }

    #[test]
    fn the_follow_up_form_asks_only_for_a_prompt() {
        let mut form = TaskForm::follow_up("fix", "claude");
        assert_eq!(form.focus, Field::Prompt);
        assert_eq!(
            form.key(key(KeyCode::Enter), &|_| true),
            FormOutcome::Editing
        );
        assert_eq!(form.error.as_deref(), Some("the follow-up needs a prompt"));
        // Tab stays on the prompt; the task's name is taken, and no matter.
        form.key(key(KeyCode::Tab), &|_| true);
        typed(&mut form, "now the docs");
        assert_eq!(
            form.key(key(KeyCode::Enter), &|_| true),
            FormOutcome::FollowUp {
                task: "fix".into(),
                prompt: "now the docs".into()
            }
        );
    }

    #[test]
    fn a_paste_keeps_its_line_breaks_whatever_ends_its_lines() {
        let mut form = TaskForm::new("t", agents());
        form.key(key(KeyCode::Tab), &|_| false);
        form.key(key(KeyCode::Tab), &|_| false);
        form.paste("one\rtwo\r\nthree\nfour");
        assert_eq!(form.prompt.text(), "one\ntwo\nthree\nfour");
        // In a one-line field, line breaks become spaces.
        form.key(key(KeyCode::Tab), &|_| false);
        form.paste("9\r0s");
        assert_eq!(form.timeout.text(), "9 0s");
    }

    #[test]
    fn copies_are_numbered_from_the_original_name() {
        let taken = |n: &str| matches!(n, "fix" | "fix-2" | "v-1");
        assert_eq!(copy_name("fix", &taken), "fix-3");
        assert_eq!(copy_name("fix-2", &taken), "fix-3");
        assert_eq!(copy_name("other", &taken), "other-2");
        // `-1` is no copy number: a copy of `v-1` is `v-1-2`.
        assert_eq!(copy_name("v-1", &taken), "v-1-2");
    }
}
