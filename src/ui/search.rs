//! Searching a pane's history, as in tmux's copy mode and mprocs: the search's state, which lines
//! match and where the view lands (the keys are `input/search.rs`). Case is ignored unless the
//! text has a capital (smartcase).

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
