//! The headless front end: one line per state change, a summary table at the end. Same engine,
//! same commands and events as the dashboard.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::api::{Event, FrontEnd, RunSummary, TaskId, TaskStatus, TaskView, Usage};
use crate::engine::describe_merge;
use crate::usage::dollars;

/// Prints the run to `out` until it finishes; returns the run's summary.
pub async fn run(mut front: FrontEnd, out: &mut dyn Write) -> Option<RunSummary> {
    let info = front.info.clone();
    let clock = Instant::now();
    let _ = writeln!(
        out,
        "grove: run {} on {} (base {})",
        info.run_id,
        info.repo_root.display(),
        info.base_label
    );
    let mut tasks: Vec<TaskView> = Vec::new();
    // What was last printed per task: status, attempt, and whether it waited or was held.
    let mut printed: HashMap<TaskId, (TaskStatus, u32, bool)> = HashMap::new();
    let width = |tasks: &[TaskView]| tasks.iter().map(|t| t.name.len()).max().unwrap_or(4);
    while let Some(event) = front.events.recv().await {
        match event {
            Event::TaskAdded { view, .. } => {
                // A run attached to while it runs: where each task already is.
                if view.status != TaskStatus::Pending {
                    let key = (
                        view.status,
                        view.attempt,
                        view.waiting.is_some() || view.held.is_some(),
                    );
                    printed.insert(view.id, key);
                    tasks.push(view.clone());
                    let w = width(&tasks);
                    let _ = writeln!(out, "{}", state_line(&view, clock.elapsed(), w));
                } else {
                    tasks.push(view);
                }
            }
            Event::TaskChanged(view) => {
                let key = (
                    view.status,
                    view.attempt,
                    view.waiting.is_some() || view.held.is_some(),
                );
                if printed.get(&view.id) != Some(&key) {
                    printed.insert(view.id, key);
                    let w = width(&tasks);
                    let _ = writeln!(out, "{}", state_line(&view, clock.elapsed(), w));
                }
                if let Some(slot) = tasks.get_mut(view.id.index()) {
                    *slot = view;
                }
            }
            Event::Merged { task, outcome } => {
                let (word, commit, detail) = describe_merge(&outcome);
                let short = &commit[..commit.len().min(12)];
                let task = tasks.get(task.index()).map_or("", |t| t.name.as_str());
                let _ = writeln!(
                    out,
                    "{:>7.1}s  {:<w$}  {word} {short} {detail}",
                    clock.elapsed().as_secs_f64(),
                    task,
                    w = width(&tasks)
                );
            }
            Event::Output { .. } | Event::Paused(_) => {}
            Event::TaskRejected { name, error } => {
                let _ = writeln!(out, "task {name} not added: {error}");
            }
            Event::RecordWrite { text, .. } => {
                let _ = writeln!(out, "grove: {text}");
            }
            Event::RunFinished(summary) => {
                let _ = write!(out, "{}", summary_table(&tasks, &summary));
                let _ = out.flush();
                return Some(summary);
            }
        }
        let _ = out.flush();
    }
    None
}

fn state_line(view: &TaskView, elapsed: Duration, width: usize) -> String {
    if let Some(prompt) = &view.waiting {
        return format!(
            "{:>7.1}s  {:<width$}  {:<9}  for input at: {prompt}",
            elapsed.as_secs_f64(),
            view.name,
            "waiting"
        );
    }
    if let (TaskStatus::Pending, Some(held)) = (view.status, &view.held) {
        return format!(
            "{:>7.1}s  {:<width$}  {:<9}  {held}",
            elapsed.as_secs_f64(),
            view.name,
            "held"
        );
    }
    let detail = match view.status {
        TaskStatus::Preparing | TaskStatus::Running => {
            format!("attempt {}/{}", view.attempt, view.max_attempts)
        }
        TaskStatus::Retrying => {
            let wait = view
                .retry_at
                .and_then(|at| at.duration_since(SystemTime::now()).ok())
                .unwrap_or_default();
            format!(
                "in {:.1}s, after attempt {}/{}: {}",
                wait.as_secs_f64(),
                view.attempt,
                view.max_attempts,
                view.error.as_deref().unwrap_or("failed")
            )
        }
        TaskStatus::Succeeded => {
            let stat = view
                .diff_stat
                .as_ref()
                .map(crate::ui::format::diff_stat)
                .unwrap_or_default();
            let cost = view
                .usage
                .as_ref()
                .map(|u| format!("  {}", dollars(u.cost_usd)))
                .unwrap_or_default();
            format!(
                "attempt {}/{}  {stat}{cost}",
                view.attempt, view.max_attempts
            )
        }
        _ => view.error.clone().unwrap_or_default(),
    };
    format!(
        "{:>7.1}s  {:<width$}  {:<9}  {detail}",
        elapsed.as_secs_f64(),
        view.name,
        view.status.word()
    )
    .trim_end()
    .to_string()
}

/// Columns padded to their widest cell, indented by two spaces, header first.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::from(" ");
        for (cell, w) in cells.zip(&widths) {
            s.push_str(&format!(" {cell:<w$}"));
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(&mut headers.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

fn task_duration(view: &TaskView) -> Option<Duration> {
    let first = view.attempts.first()?.started_at;
    let end = view.ended_at.unwrap_or_else(SystemTime::now);
    end.duration_since(first).ok()
}

/// Where the results are; or, when the last write of results.json failed, that it is not
/// current and why.
fn results_line(summary: &RunSummary) -> String {
    match &summary.results_error {
        None => format!("results: {}\n", summary.results_path.display()),
        Some(e) => format!(
            "results: NOT written to {} ({e}): it is missing or behind the run\n",
            summary.results_path.display()
        ),
    }
}

/// The closing table: task, status, attempts, duration, branch, merge (and cost, when agents
/// reported one); then counts, the total cost and the results path.
pub fn summary_table(tasks: &[TaskView], summary: &RunSummary) -> String {
    let costs = tasks.iter().any(|t| t.usage.is_some());
    let mut headers = vec!["task", "status", "attempts", "duration", "branch", "merge"];
    if costs {
        headers.push("cost");
    }
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.status.word().to_string(),
                format!("{}/{}", t.attempt, t.max_attempts),
                task_duration(t)
                    .map(|d| format!("{:.1}s", d.as_secs_f64()))
                    .unwrap_or_else(|| "-".into()),
                if t.attempt > 0 {
                    t.branch.clone()
                } else {
                    "-".into()
                },
                t.merge.word().to_string(),
            ]
            .into_iter()
            .chain(costs.then(|| {
                t.usage
                    .as_ref()
                    .map_or_else(|| "-".into(), |u| dollars(u.cost_usd))
            }))
            .collect()
        })
        .collect();
    let mut out = String::from("\n");
    out.push_str(&table(&headers, &rows));
    for t in tasks
        .iter()
        .filter(|t| t.error.is_some() && t.status.is_final())
    {
        out.push_str(&format!(
            "  {}: {}\n",
            t.name,
            t.error.as_deref().unwrap_or_default()
        ));
    }
    out.push_str(&format!(
        "\n{} of {} succeeded, {} failed, {} timed out, {} cancelled, {} skipped in {:.1}s{}\n",
        summary.succeeded,
        summary.total,
        summary.failed,
        summary.timed_out,
        summary.cancelled,
        summary.skipped,
        summary.elapsed.as_secs_f64(),
        if summary.interrupted {
            " (interrupted)"
        } else {
            ""
        }
    ));
    if let Some(total) = Usage::total(tasks.iter().filter_map(|t| t.usage.as_ref())) {
        out.push_str(&format!(
            "cost {} ({} input, {} output tokens, {} turns)\n",
            dollars(total.cost_usd),
            total.input_tokens,
            total.output_tokens,
            total.num_turns
        ));
    }
    out.push_str(&results_line(summary));
    out
}
