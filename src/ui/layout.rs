//! Screen geometry: where the agent list, the panes, the status lines and overlays go. Pure, so
//! drawing, PTY sizes and mouse hit-testing all agree on the same rectangles.

use ratatui::layout::{Margin, Position, Rect};

/// Status line and key line at the bottom.
pub const BOTTOM_LINES: u16 = 2;
/// Each task takes three lines in the agent list.
pub const LIST_ITEM_HEIGHT: u16 = 3;
/// Smallest pane (with its border) still worth reading; the grid never tiles smaller. Agents
/// print long lines: on a small screen fewer, wider panes read better than many narrow ones.
pub const MIN_PANE_WIDTH: u16 = 40;
pub const MIN_PANE_HEIGHT: u16 = 8;

/// How much room the task list takes (`t` goes from one to the next).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListMode {
    #[default]
    Wide,
    Narrow,
    Hidden,
}

impl ListMode {
    pub fn next(self) -> ListMode {
        match self {
            ListMode::Wide => ListMode::Narrow,
            ListMode::Narrow => ListMode::Hidden,
            ListMode::Hidden => ListMode::Wide,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaneSlot {
    pub index: usize,
    /// The pane with its border.
    pub area: Rect,
}

impl PaneSlot {
    /// Where the agent's terminal is drawn; the PTY gets exactly this size.
    pub fn inner(&self) -> Rect {
        self.area.inner(Margin::new(1, 1))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenLayout {
    /// The agent list with its border; absent while a pane is zoomed.
    pub list: Option<Rect>,
    /// Where panes may go (the grid area, or the whole screen when zoomed).
    pub pane_area: Rect,
    pub panes: Vec<PaneSlot>,
    /// Tasks in the run; `panes` may show only a page of them.
    pub total: usize,
    pub status: Rect,
    pub keys: Rect,
    /// Full-screen views (help, diff, details) draw here.
    pub overlay: Rect,
}

impl ScreenLayout {
    pub fn compute(
        area: Rect,
        tasks: usize,
        selected: usize,
        zoomed: bool,
        list_mode: ListMode,
    ) -> ScreenLayout {
        let body_height = area.height.saturating_sub(BOTTOM_LINES);
        let body = Rect::new(area.x, area.y, area.width, body_height);
        let status = Rect::new(area.x, area.y + body_height, area.width, 1.min(area.height));
        let keys = Rect::new(
            area.x,
            area.y + body_height + 1,
            area.width,
            area.height.saturating_sub(body_height + 1),
        );
        let (list, pane_area) = if zoomed || list_mode == ListMode::Hidden {
            (None, body)
        } else {
            let list_width = list_width(body.width, list_mode);
            let list = Rect::new(body.x, body.y, list_width, body.height);
            let panes = Rect::new(
                body.x + list_width,
                body.y,
                body.width - list_width,
                body.height,
            );
            (Some(list), panes)
        };
        let panes = if tasks == 0 || pane_area.is_empty() {
            Vec::new()
        } else if zoomed {
            vec![PaneSlot {
                index: selected.min(tasks - 1),
                area: pane_area,
            }]
        } else {
            grid(pane_area, tasks, selected)
        };
        ScreenLayout {
            list,
            pane_area,
            panes,
            total: tasks,
            status,
            keys,
            overlay: body.inner(Margin::new(2, 1)),
        }
    }

    /// The task whose list row or pane is at `pos`.
    pub fn task_at(&self, pos: Position, selected: usize) -> Option<usize> {
        if let Some(slot) = self.panes.iter().find(|s| s.area.contains(pos)) {
            return Some(slot.index);
        }
        let list = self.list?.inner(Margin::new(1, 1));
        if !list.contains(pos) {
            return None;
        }
        let row = usize::from((pos.y - list.y) / LIST_ITEM_HEIGHT);
        let index = list_offset(selected, self.list_capacity()) + row;
        (index < self.total).then_some(index)
    }

    /// How many tasks the list shows at once.
    pub fn list_capacity(&self) -> usize {
        self.list.map_or(0, |l| {
            usize::from(l.height.saturating_sub(2) / LIST_ITEM_HEIGHT).max(1)
        })
    }

    pub fn slot(&self, index: usize) -> Option<&PaneSlot> {
        self.panes.iter().find(|s| s.index == index)
    }
}

fn list_width(width: u16, mode: ListMode) -> u16 {
    let wide = if width < 60 {
        width / 2
    } else {
        (width * 3 / 10).clamp(30, 46)
    };
    match mode {
        ListMode::Narrow => wide.min(22),
        _ => wide,
    }
}

/// First task shown in the list so that the selected one is visible.
pub fn list_offset(selected: usize, capacity: usize) -> usize {
    selected.saturating_sub(capacity.saturating_sub(1))
}

/// Tiles as many panes as fit legibly. When not all fit, shows the page holding the selection.
fn grid(area: Rect, tasks: usize, selected: usize) -> Vec<PaneSlot> {
    let max_cols = usize::from((area.width / MIN_PANE_WIDTH).max(1));
    let max_rows = usize::from((area.height / MIN_PANE_HEIGHT).max(1));
    let per_page = max_cols * max_rows;
    let first = (selected.min(tasks - 1) / per_page) * per_page;
    let shown = (tasks - first).min(per_page);
    let (cols, rows) = best_grid(area, shown, max_cols, max_rows);
    (0..shown)
        .map(|i| PaneSlot {
            index: first + i,
            area: cell(area, cols, rows, i % cols, i / cols),
        })
        .collect()
}

/// Columns and rows for `shown` panes, preferring panes wide enough for terminal output
/// (a character cell is about twice as tall as wide and agents print long lines).
fn best_grid(area: Rect, shown: usize, max_cols: usize, max_rows: usize) -> (usize, usize) {
    let mut best = (1, shown.max(1));
    let mut best_score = (0, 0);
    for cols in 1..=shown.min(max_cols) {
        let rows = shown.div_ceil(cols);
        if rows > max_rows {
            continue;
        }
        let w = usize::from(area.width) / cols;
        let h = usize::from(area.height) / rows;
        let score = (w.min(3 * h), w * h);
        if score > best_score {
            best = (cols, rows);
            best_score = score;
        }
    }
    best
}

fn cell(area: Rect, cols: usize, rows: usize, col: usize, row: usize) -> Rect {
    let split = |start: u16, len: u16, parts: usize, i: usize| {
        let at = |k: usize| start + (usize::from(len) * k / parts) as u16;
        (at(i), at(i + 1) - at(i))
    };
    let (x, width) = split(area.x, area.width, cols, col);
    let (y, height) = split(area.y, area.height, rows, row);
    Rect::new(x, y, width, height)
}

/// A box of at most `width` x `height` centered in `area`.
pub fn popup(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_tasks_tile_two_by_two_on_a_wide_screen() {
        let l = ScreenLayout::compute(Rect::new(0, 0, 160, 50), 4, 0, false, ListMode::Wide);
        assert_eq!(l.panes.len(), 4);
        let list = l.list.unwrap();
        assert_eq!(l.panes[0].area.x, list.width);
        assert_eq!(l.panes[0].area.y, l.panes[1].area.y);
        assert!(l.panes[2].area.y > l.panes[0].area.y);
        // The tiles cover the pane area exactly.
        let covered: u32 = l.panes.iter().map(|p| p.area.area()).sum();
        assert_eq!(covered, l.pane_area.area());
    }

    #[test]
    fn too_many_tasks_show_the_page_with_the_selection() {
        let area = Rect::new(0, 0, 80, 24);
        let l = ScreenLayout::compute(area, 20, 17, false, ListMode::Wide);
        assert!(l.panes.len() < 20);
        assert!(l.panes.iter().any(|p| p.index == 17));
        for p in &l.panes {
            assert!(p.area.width >= MIN_PANE_WIDTH && p.area.height >= MIN_PANE_HEIGHT);
        }
    }

    #[test]
    fn a_small_screen_gets_fewer_wider_panes_and_the_list_can_make_room() {
        let area = Rect::new(0, 0, 80, 24);
        let l = ScreenLayout::compute(area, 6, 0, false, ListMode::Wide);
        // One column of panes as wide as the list leaves, not two of 25 columns.
        assert!(l.panes.iter().all(|p| p.area.width == l.pane_area.width));
        let narrow = ScreenLayout::compute(area, 6, 0, false, ListMode::Narrow);
        assert!(narrow.list.unwrap().width < l.list.unwrap().width);
        let hidden = ScreenLayout::compute(area, 6, 0, false, ListMode::Hidden);
        assert_eq!(hidden.list, None);
        assert_eq!(hidden.pane_area.width, 80);
        assert_eq!(
            hidden.panes.len(),
            4,
            "two columns of two: {:?}",
            hidden.panes
        );
    }

    #[test]
    fn zoom_gives_the_selected_pane_the_whole_body() {
        let l = ScreenLayout::compute(Rect::new(0, 0, 100, 30), 3, 2, true, ListMode::Wide);
        assert_eq!(l.list, None);
        assert_eq!(l.panes.len(), 1);
        assert_eq!(l.panes[0].index, 2);
        assert_eq!(l.panes[0].area, Rect::new(0, 0, 100, 28));
        assert_eq!(l.panes[0].inner(), Rect::new(1, 1, 98, 26));
    }

    #[test]
    fn clicks_find_list_rows_and_panes() {
        let l = ScreenLayout::compute(Rect::new(0, 0, 120, 40), 3, 0, false, ListMode::Wide);
        assert_eq!(l.task_at(Position::new(3, 1), 0), Some(0));
        assert_eq!(l.task_at(Position::new(3, 3), 0), Some(0));
        assert_eq!(l.task_at(Position::new(3, 4), 0), Some(1));
        assert_eq!(l.task_at(Position::new(3, 20), 0), None);
        let third = l.panes[2].area;
        assert_eq!(
            l.task_at(Position::new(third.x + 2, third.y + 2), 0),
            Some(2)
        );
    }
}
