//! Merges a killed grove left open, done again by `grove resume`: in the order they were
//! requested, the interrupted one first, and a refused automatic merge fails the run. The real
//! binary, real git, real PTYs.

use crate::support::*;

/// `second` succeeds first and its merge starts while `first` still runs; `first` then
/// succeeds and its merge is queued behind. grove is killed there, with `second`'s merge
/// interrupted while it was writing the checked-out base's files (README.md has its new content,
/// main has not moved). A resume that merged `first` (earlier in the plan) first would find that
/// half-written checkout and refuse it.
#[test]
fn resume_finishes_the_interrupted_merge_before_the_one_queued_behind_it() {
    let repo = Repo::new();
    let plan = Plan::new()
        .set("max_parallel", 2)
        .default("merge", "auto")
        .shell_task(
            "first",
            &format!(
                "{} echo first > first.txt",
                repo.wait_for_state("second", "succeeded")
            ),
        )
        .shell_task(
            "second",
            "echo second > second.txt; echo '# second' > README.md",
        )
        .to_toml();
    // Another grove merging in the repository holds the merges up (they wait for their turn),
    // so both requests are journaled while neither merge has done anything yet.
    let merge_turn = hold_flock(&repo.path().join(".git/grove/merge.lock"));
    let (run_id, _grove) = kill_run_when(&repo, &plan, "both merges to be requested", |id| {
        let pending: Vec<String> = journal(&repo, id)
            .iter()
            .filter(|l| l["entry"] == "merge" && l["state"] == "pending")
            .map(|l| l["task"].as_str().unwrap().to_string())
            .collect();
        (pending.len() == 2)
            .then(|| assert_eq!(pending, ["second", "first"]))
            .is_some()
    });
    drop(merge_turn);
    // What the merge of `second` killed while writing the checkout's files leaves.
    repo.write("README.md", "# second\n");

    let out = repo.grove(&["resume", &run_id, "--headless"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let results = repo.results(&run_id);
    for name in ["first", "second"] {
        let t = task(&results, name);
        assert_eq!(t["merge"]["state"], "merged", "{t:#}");
        assert_eq!(repo.git(&["show", &format!("main:{name}.txt")]), name);
    }
    assert_eq!(repo.git(&["show", "main:README.md"]), "# second");
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

/// A succeeded task whose automatic merge was refused (here: the checked-out base has changes
/// of the user's to a file the merge must update) is work not delivered: exit code 1.
#[test]
fn a_refused_automatic_merge_makes_the_run_exit_1() {
    let repo = Repo::new();
    let readme = repo.path().join("README.md");
    let plan = Plan::new()
        .shell_task(
            "t",
            &format!(
                "echo t > t.txt; echo '# edited by the user' > '{}'",
                readme.display()
            ),
        )
        .with("merge", "auto")
        .to_toml();
    let (out, results) = repo.run_plan(&plan);
    let t = task(&results, "t");
    assert_eq!(t["status"], "succeeded", "{t:#}");
    assert_eq!(t["merge"]["state"], "refused", "{t:#}");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}
