//! Strategies as a pure decision: given every task's status, which pending tasks start now and
//! which are skipped (with the reason). The run loop applies the decision.

use crate::plan::model::{Strategy, TaskSpec};

use super::api::TaskStatus;

#[derive(Debug, Default, PartialEq)]
pub struct Decision {
    pub start: Vec<usize>,
    pub skip: Vec<(usize, String)>,
}

fn in_progress(s: TaskStatus) -> bool {
    matches!(
        s,
        TaskStatus::Preparing | TaskStatus::Running | TaskStatus::Retrying
    )
}

fn without_success(s: TaskStatus) -> bool {
    s.is_final() && s != TaskStatus::Succeeded
}

/// Why a dependency that ended without success blocks its dependents.
fn dependency_reason(dep: &str, status: TaskStatus) -> String {
    match status {
        TaskStatus::Failed => format!("dependency '{dep}' failed"),
        TaskStatus::Skipped => format!("dependency '{dep}' was skipped"),
        other => format!("dependency '{dep}' {}", other.word()),
    }
}

pub fn decide(
    strategy: &Strategy,
    tasks: &[TaskSpec],
    statuses: &[TaskStatus],
    max_parallel: usize,
) -> Decision {
    let mut decision = Decision::default();
    let index_of = |name: &str| tasks.iter().position(|t| t.name == name);
    let pending = |i: usize| statuses[i] == TaskStatus::Pending;

    // Tasks that can no longer run.
    let first_success = statuses.iter().position(|s| *s == TaskStatus::Succeeded);
    let first_unsuccessful = statuses.iter().position(|s| without_success(*s));
    for i in (0..tasks.len()).filter(|&i| pending(i)) {
        let blocked_by = tasks[i].depends_on.iter().find_map(|dep| {
            let d = index_of(dep)?;
            without_success(statuses[d]).then(|| dependency_reason(dep, statuses[d]))
        });
        let reason = match strategy {
            _ if blocked_by.is_some() => blocked_by,
            Strategy::Fallback => {
                first_success.map(|s| format!("not needed: '{}' succeeded", tasks[s].name))
            }
            Strategy::Sequential {
                stop_on_failure: true,
                ..
            } => first_unsuccessful.map(|f| {
                format!(
                    "stop_on_failure: '{}' {}",
                    tasks[f].name,
                    statuses[f].word()
                )
            }),
            _ => None,
        };
        if let Some(reason) = reason {
            decision.skip.push((i, reason));
        }
    }

    let skipped: Vec<usize> = decision.skip.iter().map(|(i, _)| *i).collect();
    let ready = |i: usize| {
        pending(i)
            && !skipped.contains(&i)
            && tasks[i]
                .depends_on
                .iter()
                .all(|dep| index_of(dep).is_some_and(|d| statuses[d] == TaskStatus::Succeeded))
    };
    let active = statuses
        .iter()
        .filter(|s| matches!(s, TaskStatus::Preparing | TaskStatus::Running))
        .count();
    let free = max_parallel.saturating_sub(active);

    match strategy {
        Strategy::Parallel => {
            decision.start = (0..tasks.len()).filter(|&i| ready(i)).take(free).collect();
        }
        Strategy::Sequential { .. } | Strategy::Fallback => {
            if free > 0 && !statuses.iter().any(|s| in_progress(*s)) {
                decision.start = (0..tasks.len()).find(|&i| ready(i)).into_iter().collect();
            }
        }
        Strategy::Batched { batch_size, .. } => {
            let size = (*batch_size).max(1);
            let chunk = (0..tasks.len())
                .find(|&i| !statuses[i].is_final() && !skipped.contains(&i))
                .map(|i| i / size);
            if let Some(chunk) = chunk {
                let range = chunk * size..((chunk + 1) * size).min(tasks.len());
                decision.start = range.filter(|&i| ready(i)).take(free).collect();
            }
        }
    }
    decision
}

/// The tasks whose outputs are passed to task `index` under `pass_output`: for sequential, every
/// earlier succeeded task; for batched, the succeeded tasks of all earlier chunks. Plan order.
pub fn output_sources(strategy: &Strategy, index: usize, statuses: &[TaskStatus]) -> Vec<usize> {
    let before = match strategy {
        Strategy::Sequential {
            pass_output: true, ..
        } => index,
        Strategy::Batched {
            batch_size,
            pass_output: true,
        } => index / (*batch_size).max(1) * (*batch_size).max(1),
        _ => return Vec::new(),
    };
    (0..before)
        .filter(|&i| statuses[i] == TaskStatus::Succeeded)
        .collect()
}

/// What pending task `index` waits for, in a few words (`after build, lint`, `a free slot (8
/// running)`, `its turn`); None when nothing holds it back (it starts at the next decision).
pub fn pending_reason(
    strategy: &Strategy,
    tasks: &[TaskSpec],
    statuses: &[TaskStatus],
    max_parallel: usize,
    index: usize,
) -> Option<String> {
    let index_of = |name: &str| tasks.iter().position(|t| t.name == name);
    let unmet: Vec<&str> = tasks[index]
        .depends_on
        .iter()
        .filter(|dep| index_of(dep).is_some_and(|d| statuses[d] != TaskStatus::Succeeded))
        .map(String::as_str)
        .collect();
    if !unmet.is_empty() {
        return Some(format!("after {}", unmet.join(", ")));
    }
    let in_progress_task = (0..tasks.len()).find(|&i| in_progress(statuses[i]));
    match strategy {
        Strategy::Sequential { .. } | Strategy::Fallback => {
            if let Some(i) = in_progress_task {
                return Some(format!("after {}", tasks[i].name));
            }
            if (0..index).any(|i| statuses[i] == TaskStatus::Pending) {
                return Some("its turn".into());
            }
        }
        Strategy::Batched { batch_size, .. } => {
            let size = (*batch_size).max(1);
            let chunk = (0..tasks.len())
                .find(|&i| !statuses[i].is_final())
                .map(|i| i / size);
            if chunk.is_some_and(|c| index / size > c) {
                return Some("its batch".into());
            }
        }
        Strategy::Parallel => {}
    }
    let active = statuses
        .iter()
        .filter(|s| matches!(s, TaskStatus::Preparing | TaskStatus::Running))
        .count();
    (active >= max_parallel).then(|| format!("a free slot ({active} running)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::model::*;
    use std::collections::BTreeMap;
    use std::time::Duration;
    use TaskStatus::*;

    fn task(name: &str, deps: &[&str]) -> TaskSpec {
        TaskSpec {
            name: name.into(),
            prompt: String::new(),
            agent: "shell".into(),
            inputs: Default::default(),
            env: BTreeMap::new(),
            timeout: Duration::from_secs(1),
            retries: 0,
            backoff: Backoff::default(),
            kill_grace: Duration::from_secs(1),
            merge: MergeMode::Manual,
            keep_worktrees: KeepWorktrees::Failed,
            scrollback: defaults::SCROLLBACK,
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            copy: Vec::new(),
            setup: Vec::new(),
            python: None,
            ports: 0,
            idle_after: Duration::from_secs(10),
            auto_yes: false,
            idle_exit: false,
            result_grace: Duration::from_secs(10),
            fail_on_denied: true,
            check: None,
            group: None,
            sandbox: Sandbox::default(),
            max_memory: None,
        }
    }

    #[test]
    fn parallel_respects_max_and_dependencies() {
        let tasks = vec![
            task("a", &[]),
            task("b", &["a"]),
            task("c", &[]),
            task("d", &[]),
        ];
        let d = decide(&Strategy::Parallel, &tasks, &[Pending; 4], 2);
        assert_eq!(d.start, vec![0, 2]);
        let d = decide(
            &Strategy::Parallel,
            &tasks,
            &[Failed, Pending, Running, Pending],
            2,
        );
        assert_eq!(d.skip, vec![(1, "dependency 'a' failed".to_string())]);
        assert_eq!(d.start, vec![3]);
    }

    #[test]
    fn skips_propagate_through_a_chain() {
        let tasks = vec![task("a", &[]), task("b", &["a"]), task("c", &["b"])];
        let d = decide(
            &Strategy::Parallel,
            &tasks,
            &[TimedOut, Pending, Pending],
            4,
        );
        assert_eq!(d.skip, vec![(1, "dependency 'a' timed out".to_string())]);
        let d = decide(
            &Strategy::Parallel,
            &tasks,
            &[TimedOut, Skipped, Pending],
            4,
        );
        assert_eq!(d.skip, vec![(2, "dependency 'b' was skipped".to_string())]);
    }

    #[test]
    fn sequential_runs_one_at_a_time_and_can_stop() {
        let tasks = vec![task("a", &[]), task("b", &[]), task("c", &[])];
        let seq = Strategy::Sequential {
            pass_output: false,
            stop_on_failure: true,
        };
        assert!(decide(&seq, &tasks, &[Retrying, Pending, Pending], 4)
            .start
            .is_empty());
        assert_eq!(
            decide(&seq, &tasks, &[Succeeded, Pending, Pending], 4).start,
            vec![1]
        );
        let d = decide(&seq, &tasks, &[Succeeded, Failed, Pending], 4);
        assert_eq!(d.skip, vec![(2, "stop_on_failure: 'b' failed".to_string())]);
        assert!(d.start.is_empty());
    }

    #[test]
    fn fallback_stops_at_first_success() {
        let tasks = vec![task("a", &[]), task("b", &[]), task("c", &[])];
        let d = decide(&Strategy::Fallback, &tasks, &[Failed, Pending, Pending], 4);
        assert_eq!(d.start, vec![1]);
        let d = decide(
            &Strategy::Fallback,
            &tasks,
            &[Failed, Succeeded, Pending],
            4,
        );
        assert_eq!(d.skip, vec![(2, "not needed: 'b' succeeded".to_string())]);
    }

    #[test]
    fn batched_waits_for_the_whole_chunk() {
        let tasks: Vec<TaskSpec> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|n| task(n, &[]))
            .collect();
        let batched = Strategy::Batched {
            batch_size: 2,
            pass_output: true,
        };
        assert_eq!(decide(&batched, &tasks, &[Pending; 5], 4).start, vec![0, 1]);
        let d = decide(
            &batched,
            &tasks,
            &[Succeeded, Running, Pending, Pending, Pending],
            4,
        );
        assert!(d.start.is_empty());
        let d = decide(
            &batched,
            &tasks,
            &[Succeeded, Failed, Pending, Pending, Pending],
            1,
        );
        assert_eq!(d.start, vec![2]);
        assert_eq!(
            output_sources(&batched, 3, &[Succeeded, Failed, Running, Pending, Pending]),
            vec![0]
        );
    }

    #[test]
    fn pending_tasks_say_what_they_wait_for() {
        let tasks = vec![task("build", &[]), task("test", &["build"]), task("c", &[])];
        let parallel = Strategy::Parallel;
        let reason = |statuses: &[TaskStatus], max: usize, i: usize| {
            pending_reason(&parallel, &tasks, statuses, max, i)
        };
        assert_eq!(
            reason(&[Running, Pending, Pending], 8, 1).as_deref(),
            Some("after build")
        );
        assert_eq!(
            reason(&[Running, Pending, Pending], 1, 2).as_deref(),
            Some("a free slot (1 running)")
        );
        assert_eq!(reason(&[Running, Pending, Pending], 8, 2), None);
        let sequential = Strategy::Sequential {
            pass_output: false,
            stop_on_failure: false,
        };
        let seq =
            |statuses: &[TaskStatus], i: usize| pending_reason(&sequential, &tasks, statuses, 8, i);
        assert_eq!(
            seq(&[Running, Pending, Pending], 2).as_deref(),
            Some("after build")
        );
        assert_eq!(seq(&[Succeeded, Succeeded, Pending], 2), None);
        let batched = Strategy::Batched {
            batch_size: 2,
            pass_output: false,
        };
        assert_eq!(
            pending_reason(&batched, &tasks, &[Running, Pending, Pending], 8, 2).as_deref(),
            Some("its batch")
        );
    }
}
