//! The search mode's keys: `/` zooms the selected pane and reads a text; Enter finds its newest
//! occurrence and scrolls there; `n` / `N` go to the next older / newer one.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::ui::app::{Action, App, Mode};
use crate::ui::keymap::{self, Act, Scope};
use crate::ui::search::{matching_lines, offset_for, Found, Search};

/// Which way `n` and `N` go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Towards {
    Newest,
    Older,
    Newer,
}

impl App {
    /// `/`: the selected pane, zoomed, and a text to find in it.
    pub(super) fn start_search(&mut self) {
        if self.tasks.is_empty() {
            return;
        }
        self.zoomed = true;
        self.mode = Mode::Search(Search {
            task: self.selected,
            query: String::new(),
            typing: true,
            found: None,
        });
    }

    pub(super) fn search_key(&mut self, key: KeyEvent) -> Vec<Action> {
        let Mode::Search(search) = &mut self.mode else {
            return Vec::new();
        };
        let act = keymap::action(Scope::Search, key);
        if search.typing {
            let plain = !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
            match (act, key.code) {
                (Some(Act::Submit), _) if !search.query.is_empty() => {
                    search.typing = false;
                    self.find(Towards::Newest);
                }
                (Some(Act::Close), _) if key.code == KeyCode::Esc => self.end_search(),
                (_, KeyCode::Backspace) => {
                    search.query.pop();
                }
                (_, KeyCode::Char(c)) if plain => search.query.push(c),
                _ => {}
            }
            return Vec::new();
        }
        match act {
            Some(Act::SearchNext) => self.find(Towards::Older),
            Some(Act::SearchPrev) => self.find(Towards::Newer),
            Some(Act::Find) => {
                search.typing = true;
                search.query.clear();
            }
            Some(Act::Close) => self.end_search(),
            _ => {}
        }
        Vec::new()
    }

    fn end_search(&mut self) {
        if let Mode::Search(search) = &self.mode {
            let task = search.task;
            self.pane_to_live(task);
        }
        self.mode = Mode::Normal;
    }

    /// Finds the query in the pane's lines as they are now and scrolls to the match: the newest,
    /// or the next older / newer than the one shown (going round at the ends, as tmux does).
    fn find(&mut self, towards: Towards) {
        let Mode::Search(search) = &self.mode else {
            return;
        };
        let Some(task) = self.tasks.get(search.task) else {
            return;
        };
        let lines = task.pane.lines();
        let matches = matching_lines(&lines, &search.query);
        let current = search.found.as_ref().map(|f| f.line);
        let at = match (towards, current) {
            _ if matches.is_empty() => None,
            (Towards::Newest, _) | (_, None) => Some(matches.len() - 1),
            (Towards::Older, Some(line)) => Some(
                matches
                    .iter()
                    .rposition(|&m| m < line)
                    .unwrap_or(matches.len() - 1),
            ),
            (Towards::Newer, Some(line)) => {
                Some(matches.iter().position(|&m| m > line).unwrap_or(0))
            }
        };
        let rows = self
            .layout()
            .slot(search.task)
            .map_or(1, |s| usize::from(s.inner().height));
        let index = search.task;
        let found = at.map(|i| Found {
            line: matches[i],
            total: lines.len(),
            nth: i + 1,
            count: matches.len(),
        });
        if let Some(found) = &found {
            let offset = offset_for(found.line, found.total, rows);
            if let Some(task) = self.tasks.get_mut(index) {
                task.pane.scroll_to(offset);
                task.render.mark_stale();
            }
        }
        if let Mode::Search(search) = &mut self.mode {
            search.found = found;
            if search.found.is_none() {
                let text = format!(
                    "'{}' is not in {}'s history",
                    search.query, self.tasks[index].view.name
                );
                self.note(text);
            }
        }
    }
}
