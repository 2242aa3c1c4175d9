//! Two grove processes on one repository at once: their merges into the base and their worktree
//! additions and removals are serialized across the processes, so neither refuses a merge on the
//! other's ref lock or fails a task at worktree creation. The real binary, real git, real PTYs.

use crate::support::*;
use std::process::Stdio;

const TASKS: usize = 16;

/// A plan named `name` of `TASKS` shell tasks, each writing its own file, merged automatically
/// into the checked-out base (main).
fn plan(name: &str) -> String {
    let prompt = format!(r#"echo "$GROVE_TASK" > "{name}-$GROVE_TASK.txt""#);
    let mut plan = Plan::named(name)
        .set("max_parallel", 4)
        .default("merge", "auto")
        .default("keep_worktrees", "never");
    for i in 0..TASKS {
        plan = plan.shell_task(&format!("t{i}"), &prompt);
    }
    plan.to_toml()
}

#[test]
fn two_runs_in_one_repository_merge_every_task() {
    let repo = Repo::new();
    let children: Vec<_> = ["left", "right"]
        .iter()
        .map(|name| {
            let path = repo.home.path().join(format!("{name}.toml"));
            std::fs::write(&path, plan(name)).unwrap();
            repo.grove_cmd(&["run", path.to_str().unwrap(), "--headless"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for out in &outputs {
        assert_eq!(out.status.code(), Some(0), "{}", text(out));
        let results = repo.results(&run_id(out));
        for t in results["tasks"].as_array().unwrap() {
            assert_eq!(t["status"], "succeeded", "{t:#}");
            assert_eq!(t["merge"]["state"], "merged", "{t:#}");
        }
    }
    let files = repo.git(&["ls-tree", "--name-only", "main"]);
    for name in ["left", "right"] {
        for i in 0..TASKS {
            let file = format!("{name}-t{i}.txt");
            assert!(files.lines().any(|f| f == file), "{file} not on main");
        }
    }
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    // Every worktree of both runs was removed, and git knows of none but the main one.
    assert_eq!(
        repo.git(&["worktree", "list", "--porcelain"])
            .matches("worktree ")
            .count(),
        1
    );
}
