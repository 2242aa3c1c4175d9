//! `depends_on` checks: every name known, no task depending on itself, no cycles.

use std::collections::HashMap;

use super::error::{quoted, Bad};
use super::problems::did_you_mean;

/// One task's `depends_on`, with where each name is written.
#[derive(Debug, Clone)]
pub(crate) struct TaskDeps {
    pub task: String,
    pub deps: Vec<(String, usize)>,
}

/// Every problem of the tasks' `depends_on`: names depending on themselves, unknown (with the
/// nearest known name) or listed twice; when there is none of those, a cycle.
pub(crate) fn check(tasks: &[TaskDeps]) -> Vec<Bad> {
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.task.as_str(), i))
        .collect();
    let mut problems = Vec::new();
    let mut edges: Vec<Vec<(usize, usize)>> = Vec::with_capacity(tasks.len());
    for t in tasks {
        let mut out = Vec::with_capacity(t.deps.len());
        for (k, (dep, at)) in t.deps.iter().enumerate() {
            let task = quoted(&t.task);
            if *dep == t.task {
                problems.push(Bad::at(*at, format!("task {task} depends on itself")));
                continue;
            }
            let Some(&target) = index.get(dep.as_str()) else {
                let known = tasks.iter().map(|t| t.task.as_str());
                problems.push(Bad::at(
                    *at,
                    format!(
                        "task {task} depends on unknown task {}{}",
                        quoted(dep),
                        did_you_mean(dep, known)
                    ),
                ));
                continue;
            };
            if t.deps[..k].iter().any(|(d, _)| d == dep) {
                problems.push(Bad::at(
                    *at,
                    format!("task {task} lists {} twice in 'depends_on'", quoted(dep)),
                ));
                continue;
            }
            out.push((target, *at));
        }
        edges.push(out);
    }
    if !problems.is_empty() {
        return problems;
    }
    match find_cycle(&edges) {
        None => Vec::new(),
        Some((path, at)) => {
            let names: Vec<&str> = path.iter().map(|&i| tasks[i].task.as_str()).collect();
            vec![Bad::at(
                at,
                format!("dependency cycle: {}", names.join(" -> ")),
            )]
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    New,
    OnPath,
    Done,
}

/// A cycle as task indexes (first repeated at the end), and where the edge closing it is
/// written. Iterative, so a long dependency chain cannot overflow the stack.
fn find_cycle(edges: &[Vec<(usize, usize)>]) -> Option<(Vec<usize>, usize)> {
    let mut mark = vec![Mark::New; edges.len()];
    for start in 0..edges.len() {
        if mark[start] != Mark::New {
            continue;
        }
        mark[start] = Mark::OnPath;
        // Each frame: a task on the current path and the next of its edges to follow.
        let mut stack = vec![(start, 0usize)];
        while let Some(frame) = stack.last_mut() {
            let (node, next) = *frame;
            let Some(&(target, at)) = edges[node].get(next) else {
                mark[node] = Mark::Done;
                stack.pop();
                continue;
            };
            frame.1 += 1;
            match mark[target] {
                Mark::New => {
                    mark[target] = Mark::OnPath;
                    stack.push((target, 0));
                }
                Mark::OnPath => {
                    let from = stack.iter().position(|&(n, _)| n == target).unwrap_or(0);
                    let mut path: Vec<usize> = stack[from..].iter().map(|&(n, _)| n).collect();
                    path.push(target);
                    return Some((path, at));
                }
                Mark::Done => {}
            }
        }
    }
    None
}
