//! How task facts read on screen: status symbols, words and colors, durations, diff stats,
//! merge outcomes. Shared by every view so a status looks the same everywhere.

use std::time::{Duration, SystemTime};

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;

use crate::engine::api::{TaskStatus, TaskView, Usage};
use crate::git::{DiffStat, MergeOutcome};
use crate::usage::dollars;

pub fn status_symbol(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Pending => "○",
        TaskStatus::Preparing => "◌",
        TaskStatus::Running => "●",
        TaskStatus::Retrying => "↻",
        TaskStatus::Succeeded => "✓",
        TaskStatus::Failed => "✗",
        TaskStatus::TimedOut => "⧗",
        TaskStatus::Cancelled => "⊘",
        TaskStatus::Skipped => "↷",
    }
}

pub fn status_color(status: TaskStatus) -> Color {
    match status {
        TaskStatus::Pending | TaskStatus::Cancelled | TaskStatus::Skipped => Color::DarkGray,
        TaskStatus::Preparing | TaskStatus::Running => Color::Cyan,
        TaskStatus::Retrying => Color::Yellow,
        TaskStatus::Succeeded => Color::Green,
        TaskStatus::Failed | TaskStatus::TimedOut => Color::Red,
    }
}

pub fn status_style(status: TaskStatus) -> Style {
    Style::new().fg(status_color(status))
}

/// How a task's status reads: its status color, or, while its agent waits for input, a
/// highlight that stands out from every status. Reversed rather than a background color, so the
/// selected row's background cannot hide it.
pub fn task_style(task: &TaskView) -> Style {
    if task.waiting.is_some() {
        return waiting_style();
    }
    status_style(task.status)
}

pub fn waiting_style() -> Style {
    Style::new()
        .fg(Color::Yellow)
        .add_modifier(Modifier::BOLD | Modifier::REVERSED)
}

/// The status as a word, with the countdown while a retry waits ("retrying in 4s"),
/// `waiting` while the agent waits for input, why a pending task was held back
/// (`held: low memory (…)`), or what it waits for (`pending: after build`).
pub fn status_text(task: &TaskView, now: SystemTime) -> String {
    if task.waiting.is_some() {
        return "waiting".into();
    }
    if let (TaskStatus::Pending, Some(held)) = (task.status, &task.held) {
        return format!("held: {held}");
    }
    if let (TaskStatus::Pending, Some(why)) = (task.status, &task.pending) {
        return format!("pending: {why}");
    }
    match (task.status, task.retry_at) {
        (TaskStatus::Retrying, Some(at)) => {
            let left = at.duration_since(now).unwrap_or_default();
            // Rounded up so the countdown reaches "in 1s", never "in 0s" while still waiting.
            let secs = left.as_millis().div_ceil(1000);
            format!("retrying in {secs}s")
        }
        (status, _) => status.word().to_string(),
    }
}

/// Time the current attempt has been running, or ran, if it started.
pub fn task_elapsed(task: &TaskView, now: SystemTime) -> Option<Duration> {
    let start = task.started_at?;
    let end = task.ended_at.unwrap_or(now);
    Some(end.duration_since(start).unwrap_or_default())
}

/// Cost, tokens and turns in one line: `$0.0123 · 1200 in / 340 out tokens · 3 turns`, with
/// the cache's tokens when there are any (`· 9000 cache read / 800 cache write`).
pub fn usage(u: &Usage) -> String {
    let cache = if u.cache_read_input_tokens + u.cache_creation_input_tokens > 0 {
        format!(
            " · {} cache read / {} cache write",
            u.cache_read_input_tokens, u.cache_creation_input_tokens
        )
    } else {
        String::new()
    };
    format!(
        "{} · {} in / {} out tokens{cache} · {} turn{}",
        dollars(u.cost_usd),
        u.input_tokens,
        u.output_tokens,
        u.num_turns,
        if u.num_turns == 1 { "" } else { "s" }
    )
}

/// A clock reading: `42s`, `3m05s`, `1h02m`.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// A measured duration with a tenth of a second when short: `0.4s`, `12.0s`, `3m05s`.
pub fn duration(d: Duration) -> String {
    if d < Duration::from_secs(60) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        clock(d)
    }
}

/// Seconds as a record holds them, as a duration: a negative or not-a-number value (an empty
/// sum of f64 is -0.0) is zero, so "-0.0s" is never shown.
pub fn recorded_secs(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or_default()
}

/// `part` of `whole` in percent, rounded to the nearest (2 of 3 is 67); 0 of nothing is 0.
pub fn percent(part: usize, whole: usize) -> usize {
    (part * 200 + whole).checked_div(whole * 2).unwrap_or(0)
}

/// `+12 −3, 2 files`, or `no changes`.
pub fn diff_stat(stat: &DiffStat) -> String {
    if stat.files.is_empty() && stat.insertions == 0 && stat.deletions == 0 {
        return "no changes".into();
    }
    let n = stat.files.len();
    let files = if n == 1 { "file" } else { "files" };
    format!("+{} −{}, {n} {files}", stat.insertions, stat.deletions)
}

/// `text` cut to `max` columns in the middle, so names sharing a prefix stay apart:
/// `refactor-parser-module-a` in 15 columns is `refacto…odule-a`.
pub fn cut_middle(text: &str, max: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= max {
        return text.to_string();
    }
    if max <= 1 {
        return "…".repeat(max);
    }
    let tail = (max - 1) / 2;
    let head = max - 1 - tail;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// `text` cut to `max` columns at its end, with `…`.
pub fn cut_end(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

pub fn short_commit(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

/// One line saying what a merge did, and whether it went wrong.
pub fn merge_outcome(task: &str, base: &str, outcome: &MergeOutcome) -> (String, bool) {
    match outcome {
        MergeOutcome::Merged {
            commit,
            fast_forward,
        } => {
            let how = if *fast_forward {
                "fast-forward"
            } else {
                "merge commit"
            };
            let short = short_commit(commit);
            (format!("merged {task} into {base} ({how} {short})"), false)
        }
        MergeOutcome::AlreadyMerged { commit } => (
            format!("{task} was already merged ({})", short_commit(commit)),
            false,
        ),
        MergeOutcome::Conflict { paths } => (
            format!("merge of {task} conflicts in {}", paths.join(", ")),
            true,
        ),
        MergeOutcome::Refused { reason } => (format!("merge of {task} refused: {reason}"), true),
    }
}

/// A line of file text shown in a view, indented and made printable.
pub fn indented(text: &str) -> Line<'static> {
    Line::raw(format!("  {}", printable(text)))
}

/// Tabs and control characters would move the real terminal's cursor; show them as text.
pub fn printable(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '\t' => out.push_str("    "),
            c if c.is_control() => out.push(char::REPLACEMENT_CHARACTER),
            c => out.push(c),
        }
    }
    out
}

/// A task's sandbox as its pane title and details show it, with `max_memory`.
pub fn sandbox(task: &TaskView) -> String {
    match task.max_memory {
        Some(bytes) => format!(
            "{}, max_memory {}",
            task.sandbox,
            crate::sandbox::memory::format_size(bytes)
        ),
        None => task.sandbox.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::FileStat;

    #[test]
    fn clocks_and_durations() {
        assert_eq!(clock(Duration::from_secs(42)), "42s");
        assert_eq!(clock(Duration::from_secs(185)), "3m05s");
        assert_eq!(clock(Duration::from_secs(3720)), "1h02m");
        assert_eq!(duration(Duration::from_millis(400)), "0.4s");
        assert_eq!(duration(Duration::from_secs(185)), "3m05s");
    }

    #[test]
    fn names_are_cut_in_the_middle() {
        assert_eq!(
            cut_middle("refactor-parser-module-a", 15),
            "refacto…odule-a"
        );
        assert_eq!(
            cut_middle("refactor-parser-module-b", 15),
            "refacto…odule-b"
        );
        assert_eq!(cut_middle("short", 15), "short");
        assert_eq!(cut_middle("abc", 1), "…");
    }

    #[test]
    fn diff_stat_reads_like_git() {
        let file = |p: &str| FileStat {
            path: p.into(),
            insertions: 1,
            deletions: 0,
        };
        let two = DiffStat {
            files: vec![file("a"), file("b")],
            insertions: 12,
            deletions: 3,
        };
        assert_eq!(diff_stat(&two), "+12 −3, 2 files");
        let one = DiffStat {
            files: vec![file("a")],
            insertions: 1,
            deletions: 0,
        };
        assert_eq!(diff_stat(&one), "+1 −0, 1 file");
        assert_eq!(diff_stat(&DiffStat::default()), "no changes");
    }

    #[test]
    fn no_negative_zero_and_percentages_round() {
        let empty: f64 = Vec::<f64>::new().into_iter().sum();
        assert_eq!(duration(recorded_secs(empty)), "0.0s");
        assert_eq!(duration(recorded_secs(-3.0)), "0.0s");
        assert_eq!(duration(recorded_secs(f64::NAN)), "0.0s");
        assert_eq!(duration(recorded_secs(1.5)), "1.5s");
        assert_eq!(percent(2, 3), 67);
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(1, 8), 13);
        assert_eq!(percent(3, 3), 100);
        assert_eq!(percent(0, 0), 0);
    }
}
