//! Searching a pane's history, as in tmux's copy mode and mprocs: `/` zooms the selected pane
//! and reads a text; Enter finds its newest occurrence and scrolls there; `n` / `N` go to the next
//! older / newer one. Case is ignored unless the text has a capital (smartcase).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{Action, App, Mode};
use super::keymap::{self, Act, Scope};

/// A search in task `task`'s pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub task: usize,
    pub query: String,
    /// The text is being typed (before Enter).
    pub typing: bool,
    /// Where the last Enter, `n` or `N` landed.
    pub found: Option<Found>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The line of the match shown, in the pane's lines (oldest first), and how many lines the
    /// pane had then: together they place the match on screen.
    pub line: usize,
    pub total: usize,
    /// Which match it is, counted from the oldest (1-based), of how many.
    pub nth: usize,
    pub count: usize,
}

/// The lines of `lines` holding `query`, oldest first.
pub fn matching_lines(lines: &[String], query: &str) -> Vec<usize> {
    let fold = !query.chars().any(char::is_uppercase);
    let query = if fold {
        query.to_lowercase()
    } else {
        query.to_string()
    };
    lines
        .iter()
        .enumerate()
        .filter(|(_, line)| match fold {
            true => line.to_lowercase().contains(&query),
            false => line.contains(&query),
        })
        .map(|(i, _)| i)
        .collect()
}

/// Where `query` is in `row`, as (first column, columns), with the same case rule.
pub fn columns_in(row: &str, query: &str) -> Option<(usize, usize)> {
    if query.is_empty() {
        return None;
    }
    let fold = !query.chars().any(char::is_uppercase);
    let chars: Vec<char> = row.chars().collect();
    let wanted: Vec<char> = query.chars().collect();
    let same = |a: char, b: char| match fold {
        true => a.to_lowercase().eq(b.to_lowercase()),
        false => a == b,
    };
    (0..chars.len().saturating_sub(wanted.len() - 1)).find_map(|start| {
        let hit = wanted
            .iter()
            .enumerate()
            .all(|(j, &w)| chars.get(start + j).is_some_and(|&c| same(c, w)));
        hit.then_some((start, wanted.len()))
    })
}

/// How far back to scroll a pane of `rows` rows holding `total` lines so that line `line` is in
/// the middle of the view (or as near as the history allows).
pub fn offset_for(line: usize, total: usize, rows: usize) -> usize {
    let history = total.saturating_sub(rows);
    (history + rows / 2).saturating_sub(line).min(history)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smartcase_finds_lines_and_columns() {
        let lines: Vec<String> = ["Needle one", "hay", "needle two", "NEEDLE"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(matching_lines(&lines, "needle"), [0, 2, 3]);
        assert_eq!(matching_lines(&lines, "Needle"), [0]);
        assert_eq!(columns_in("a needle here", "NEEDLE"), None);
        assert_eq!(columns_in("a Needle here", "needle"), Some((2, 6)));
    }

    #[test]
    fn a_match_is_scrolled_to_the_middle_of_the_view() {
        // 100 lines, 10 rows: 90 lines of history.
        assert_eq!(offset_for(99, 100, 10), 0, "on the live screen");
        assert_eq!(offset_for(50, 100, 10), 45);
        assert_eq!(offset_for(0, 100, 10), 90, "as far back as there is");
    }
}
