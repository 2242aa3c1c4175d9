//! Snapshots and merges: fast-forwards, merge commits, conflicts, locks held by git or by another
//! grove, checkouts a merge left half updated, and bases that cannot be merged into.

use super::*;

#[test]
fn save_snapshot_leaves_head_branch_index_and_files_untouched() {
    let repo = Repo::new();
    let wt = repo.worktree("snap");
    let head = git::head_commit(&wt).unwrap();

    let clean = git::save_snapshot(
        &repo.root,
        &wt,
        "refs/grove/run-1/snap/attempt-1",
        "a1",
        &[],
    )
    .unwrap();
    assert_eq!(clean, head);
    assert_eq!(repo.tip("refs/grove/run-1/snap/attempt-1"), head);

    write(&wt.join("shared.txt"), "changed\n");
    write(&wt.join("fresh.txt"), "fresh\n");
    write(&wt.join("skip.tmp"), "excluded\n");
    fs::remove_file(wt.join("base.txt")).unwrap();
    git(&wt, &["add", "fresh.txt"]);
    let status_before = git(&wt, &["status", "--porcelain"]);
    let index_path = PathBuf::from(git(&wt, &["rev-parse", "--absolute-git-dir"])).join("index");
    let index_before = fs::read(&index_path).unwrap();

    let refname = "refs/grove/run-1/snap/attempt-2";
    let id = git::save_snapshot(
        &repo.root,
        &wt,
        refname,
        "grove: attempt 2",
        &["*.tmp".to_string()],
    )
    .unwrap();

    assert_eq!(git::head_commit(&wt).unwrap(), head);
    assert_eq!(
        git::branch_tip(&repo.root, "grove/run-1/snap").unwrap(),
        head
    );
    assert_eq!(git(&wt, &["status", "--porcelain"]), status_before);
    assert_eq!(fs::read(&index_path).unwrap(), index_before);
    assert_eq!(read(&wt.join("shared.txt")), "changed\n");
    assert!(!wt.join("base.txt").exists());

    assert_eq!(repo.tip(refname), id);
    assert_eq!(git(&wt, &["rev-parse", &format!("{id}^")]), head);
    assert_eq!(
        files_at(&wt, &id),
        vec![".gitignore", "fresh.txt", "shared.txt"]
    );
    assert_eq!(show(&wt, &format!("{id}:shared.txt")), "changed");
}

#[test]
fn merge_into_fast_forwards_and_updates_the_clean_checked_out_base() {
    let repo = Repo::new();
    let tip = repo.task("ff", &[("feature.txt", "feature\n")]);
    let outcome = git::merge_into(&repo.root, "grove/run-1/ff", "main", "merge ff").unwrap();
    assert_eq!(
        outcome,
        MergeOutcome::Merged {
            commit: tip.clone(),
            fast_forward: true
        }
    );
    assert_eq!(repo.tip("main"), tip);
    assert_eq!(read(&repo.root.join("feature.txt")), "feature\n");
    assert_eq!(repo.status(), "");
    assert!(git::is_merged_into(&repo.root, "grove/run-1/ff", "main").unwrap());

    let again = git::merge_into(&repo.root, "grove/run-1/ff", "main", "merge ff").unwrap();
    assert_eq!(again, MergeOutcome::AlreadyMerged { commit: tip });
}

#[test]
fn merge_into_creates_a_merge_commit_for_tasks_from_the_same_base() {
    let repo = Repo::new();
    let a = repo.task("a", &[("a.txt", "from a\n")]);
    let b = repo.task("b", &[("b.txt", "from b\n")]);
    assert!(!git::is_merged_into(&repo.root, "grove/run-1/b", "main").unwrap());

    git::merge_into(&repo.root, "grove/run-1/a", "main", "merge a").unwrap();
    let outcome = git::merge_into(&repo.root, "grove/run-1/b", "main", "grove: merge b").unwrap();
    let MergeOutcome::Merged {
        commit,
        fast_forward: false,
    } = outcome
    else {
        panic!("expected a merge commit, got {outcome:?}");
    };
    assert_eq!(repo.tip("main"), commit);
    assert_eq!(git(&repo.root, &["rev-parse", &format!("{commit}^1")]), a);
    assert_eq!(git(&repo.root, &["rev-parse", &format!("{commit}^2")]), b);
    assert_eq!(
        git(&repo.root, &["log", "-1", "--format=%s"]),
        "grove: merge b"
    );
    assert_eq!(read(&repo.root.join("a.txt")), "from a\n");
    assert_eq!(read(&repo.root.join("b.txt")), "from b\n");
    assert_eq!(repo.status(), "");
    assert!(git::is_merged_into(&repo.root, "grove/run-1/b", "main").unwrap());
}

#[test]
fn merge_into_conflict_changes_nothing_and_reports_paths() {
    let repo = Repo::new();
    repo.task("a", &[("shared.txt", "one\nA\nthree\n")]);
    repo.task("b", &[("shared.txt", "one\nB\nthree\n"), ("b.txt", "b\n")]);
    git::merge_into(&repo.root, "grove/run-1/a", "main", "merge a").unwrap();
    let tip = repo.tip("main");
    let index = repo.index_bytes();

    let outcome = git::merge_into(&repo.root, "grove/run-1/b", "main", "merge b").unwrap();
    assert_eq!(
        outcome,
        MergeOutcome::Conflict {
            paths: vec!["shared.txt".to_string()]
        }
    );
    assert_eq!(repo.tip("main"), tip);
    assert_eq!(repo.index_bytes(), index);
    assert_eq!(read(&repo.root.join("shared.txt")), "one\nA\nthree\n");
    assert!(!repo.root.join("b.txt").exists());
    assert_eq!(repo.status(), "");
}

#[test]
fn merge_into_refuses_a_dirty_checked_out_base() {
    let repo = Repo::new();
    repo.task("a", &[("a.txt", "a\n")]);
    let tip = repo.tip("main");
    write(&repo.root.join("base.txt"), "edited by the user\n");

    let outcome = git::merge_into(&repo.root, "grove/run-1/a", "main", "merge a").unwrap();
    let MergeOutcome::Refused { reason } = outcome else {
        panic!("expected a refusal, got {outcome:?}");
    };
    assert!(reason.contains("uncommitted changes"), "{reason}");
    assert!(reason.contains("base.txt"), "{reason}");
    assert_eq!(repo.tip("main"), tip);
    assert_eq!(read(&repo.root.join("base.txt")), "edited by the user\n");
    assert!(!repo.root.join("a.txt").exists());
}

/// Merges task `task` into main on another thread while `held` (a git lock file in the
/// repository, as another git command holds it for an instant) exists; the lock is released once
/// the merge is under way (it holds grove's merge lock) or has returned. The merge's outcome.
fn merge_past_a_held_lock(
    repo: &Repo,
    task: &str,
    held: &str,
) -> Result<MergeOutcome, git::GitError> {
    use std::os::fd::AsRawFd;
    let lock = repo.root.join(held);
    write(&lock, "");
    let (root, branch) = (repo.root.clone(), format!("grove/run-1/{task}"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(git::merge_into(&root, &branch, "main", "merge")));
    let grove_lock = repo.root.join(".git/grove/merge.lock");
    let done_early = wait_for("the merge to start", || {
        if let Ok(outcome) = rx.try_recv() {
            return Some(Some(outcome));
        }
        let merging = fs::File::open(&grove_lock).is_ok_and(|f| {
            // SAFETY: a non-blocking flock on a file this test opened; closing it releases it.
            unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) != 0 }
        });
        merging.then_some(None)
    });
    if let Some(outcome) = done_early {
        fs::remove_file(&lock).unwrap();
        return outcome;
    }
    fs::remove_file(&lock).unwrap();
    rx.recv().unwrap()
}

#[test]
fn merge_into_waits_out_a_base_ref_lock_held_for_a_moment() {
    let repo = Repo::new();
    let tip = repo.task("a", &[("a.txt", "a\n")]);
    let outcome = merge_past_a_held_lock(&repo, "a", ".git/refs/heads/main.lock").unwrap();
    assert_eq!(
        outcome,
        MergeOutcome::Merged {
            commit: tip.clone(),
            fast_forward: true
        }
    );
    assert_eq!(repo.tip("main"), tip);
    assert_eq!(repo.status(), "");
}

#[test]
fn merge_into_waits_out_the_checkouts_index_lock_held_for_a_moment() {
    let repo = Repo::new();
    let tip = changing_task(&repo);
    let outcome = merge_past_a_held_lock(&repo, "a", ".git/index.lock").unwrap();
    assert!(
        matches!(outcome, MergeOutcome::Merged { .. }),
        "{outcome:?}"
    );
    assert_eq!(repo.tip("main"), tip);
    assert_eq!(repo.status(), "");
    assert_eq!(read(&repo.root.join("dir/a.txt")), "from a\n");
}

/// Runs `op` on another thread while this test holds grove's lock file `name` (under
/// .git/grove/) as another grove process would; `while_held` runs once `op` is seen waiting
/// for that lock (the kernel lists it in /proc/locks), then the lock is released. `op`'s result.
fn run_while_another_grove_holds<T: Send + 'static>(
    repo: &Repo,
    name: &str,
    op: impl FnOnce() -> T + Send + 'static,
    while_held: impl FnOnce(),
) -> T {
    use std::os::unix::fs::MetadataExt;
    let path = repo.root.join(".git/grove").join(name);
    let held = hold_flock(&path);
    let inode = format!(":{}", fs::metadata(&path).unwrap().ino());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(op()));
    wait_for(&format!("{name}: someone to wait for the lock"), || {
        assert!(
            rx.try_recv().is_err(),
            "{name}: done while another grove held the lock"
        );
        let locks = fs::read_to_string("/proc/locks").unwrap();
        locks
            .lines()
            .any(|l| l.contains("->") && l.split_whitespace().any(|field| field.ends_with(&inode)))
            .then_some(())
    });
    while_held();
    drop(held);
    rx.recv().unwrap()
}

#[test]
fn a_merge_waits_while_another_grove_process_merges_in_the_repository() {
    let repo = Repo::new();
    let tip = repo.task("a", &[("a.txt", "a\n")]);
    let before = repo.tip("main");
    let root = repo.root.clone();
    let outcome = run_while_another_grove_holds(
        &repo,
        "merge.lock",
        move || git::merge_into(&root, "grove/run-1/a", "main", "merge a"),
        || assert_eq!(repo.tip("main"), before),
    );
    assert!(
        matches!(outcome, Ok(MergeOutcome::Merged { .. })),
        "{outcome:?}"
    );
    assert_eq!(repo.tip("main"), tip);
}

#[test]
fn a_worktree_is_added_only_while_no_other_grove_process_changes_worktrees() {
    let repo = Repo::new();
    let (root, wt) = (repo.root.clone(), repo.wt("a"));
    let added = run_while_another_grove_holds(
        &repo,
        "worktrees.lock",
        move || git::create_worktree(&root, &wt, "grove/run-1/a", "main"),
        || assert!(!repo.root.join(".git/worktrees").exists()),
    );
    added.unwrap();
    assert_eq!(read(&repo.wt("a").join("base.txt")), "base\n");
}

/// A task that changes shared.txt, adds dir/a.txt and deletes base.txt; its commit.
fn changing_task(repo: &Repo) -> String {
    let wt = repo.worktree("a");
    write(&wt.join("shared.txt"), "one\nTWO\nthree\n");
    write(&wt.join("dir/a.txt"), "from a\n");
    fs::remove_file(wt.join("base.txt")).unwrap();
    repo.commit(&wt, "task a", &[])
        .unwrap()
        .expect("task has changes")
}

#[test]
fn merge_into_finishes_a_checkout_an_interrupted_merge_left_half_updated() {
    // A merge killed while writing the checked-out base's files (the branch moves last): one
    // file new, one cut short while being written, one deleted, the index and branch still old.
    let repo = Repo::new();
    let tip = changing_task(&repo);
    write(&repo.root.join("dir/a.txt"), "from a\n");
    write(&repo.root.join("shared.txt"), "one\nT");
    fs::remove_file(repo.root.join("base.txt")).unwrap();
    assert_ne!(repo.status(), "");

    let outcome = git::merge_into(&repo.root, "grove/run-1/a", "main", "merge a").unwrap();
    assert_eq!(
        outcome,
        MergeOutcome::Merged {
            commit: tip.clone(),
            fast_forward: true
        }
    );
    assert_eq!(repo.tip("main"), tip);
    assert_eq!(repo.status(), "");
    assert_eq!(read(&repo.root.join("shared.txt")), "one\nTWO\nthree\n");
    assert_eq!(read(&repo.root.join("dir/a.txt")), "from a\n");
    assert!(!repo.root.join("base.txt").exists());
}

#[test]
fn merge_into_finishes_a_checkout_whose_files_and_index_were_written() {
    // Killed after the index was written, before the branch moved.
    let repo = Repo::new();
    let tip = changing_task(&repo);
    git(&repo.root, &["read-tree", "-u", "-m", "HEAD", &tip]);
    assert_ne!(repo.status(), "");

    let outcome = git::merge_into(&repo.root, "grove/run-1/a", "main", "merge a").unwrap();
    assert!(
        matches!(outcome, MergeOutcome::Merged { .. }),
        "{outcome:?}"
    );
    assert_eq!(repo.tip("main"), tip);
    assert_eq!(repo.status(), "");
}

#[test]
fn merge_into_finishes_a_checkout_where_only_new_files_were_written() {
    // The task only adds files; the interrupted merge wrote one of them: untracked, in the way.
    let repo = Repo::new();
    let tip = repo.task("a", &[("a.txt", "a\n"), ("b.txt", "b\n")]);
    write(&repo.root.join("a.txt"), "a\n");

    let outcome = git::merge_into(&repo.root, "grove/run-1/a", "main", "merge a").unwrap();
    assert!(
        matches!(outcome, MergeOutcome::Merged { .. }),
        "{outcome:?}"
    );
    assert_eq!(repo.tip("main"), tip);
    assert_eq!(repo.status(), "");
    assert_eq!(read(&repo.root.join("b.txt")), "b\n");
}

/// A repository whose checkout a merge of [`changing_task`] left half-updated (dir/a.txt
/// written); main's tip, unmoved.
fn half_updated() -> (Repo, String) {
    let repo = Repo::new();
    changing_task(&repo);
    let tip = repo.tip("main");
    write(&repo.root.join("dir/a.txt"), "from a\n");
    (repo, tip)
}

#[test]
fn a_half_updated_checkout_with_a_users_edit_is_still_refused() {
    let (repo, tip) = half_updated();
    // Neither the old nor the merged content: the user's work.
    write(&repo.root.join("shared.txt"), "the user's edit\n");

    let outcome = git::merge_into(&repo.root, "grove/run-1/a", "main", "merge a").unwrap();
    let MergeOutcome::Refused { reason } = outcome else {
        panic!("expected a refusal, got {outcome:?}");
    };
    assert!(reason.contains("shared.txt"), "{reason}");
    assert_eq!(repo.tip("main"), tip);
    assert_eq!(read(&repo.root.join("shared.txt")), "the user's edit\n");
    assert_eq!(read(&repo.root.join("dir/a.txt")), "from a\n");
    assert_eq!(read(&repo.root.join("base.txt")), "base\n");
}

#[test]
fn a_half_updated_checkout_with_a_staged_change_is_still_refused() {
    let (repo, tip) = half_updated();
    // Staged, then the file put back as it was: the staged content is the user's.
    write(&repo.root.join("shared.txt"), "staged by the user\n");
    git(&repo.root, &["add", "shared.txt"]);
    write(&repo.root.join("shared.txt"), "one\ntwo\nthree\n");

    let outcome = git::merge_into(&repo.root, "grove/run-1/a", "main", "merge a").unwrap();
    assert!(
        matches!(outcome, MergeOutcome::Refused { .. }),
        "{outcome:?}"
    );
    assert_eq!(repo.tip("main"), tip);
    assert_eq!(
        git(&repo.root, &["show", ":shared.txt"]),
        "staged by the user"
    );
}

#[test]
fn an_untracked_file_in_the_way_of_a_half_updated_checkout_is_kept() {
    let repo = Repo::new();
    changing_task(&repo);
    let tip = repo.tip("main");
    fs::remove_file(repo.root.join("base.txt")).unwrap();
    write(&repo.root.join("dir/a.txt"), "the user's own file\n");

    let outcome = git::merge_into(&repo.root, "grove/run-1/a", "main", "merge a").unwrap();
    assert!(
        matches!(outcome, MergeOutcome::Refused { .. }),
        "{outcome:?}"
    );
    assert_eq!(repo.tip("main"), tip);
    assert_eq!(read(&repo.root.join("dir/a.txt")), "the user's own file\n");
}

#[test]
fn merge_into_refuses_when_untracked_files_would_be_overwritten() {
    let repo = Repo::new();
    repo.task("a", &[("a.txt", "from the task\n"), ("z.txt", "z\n")]);
    let tip = repo.tip("main");
    let index = repo.index_bytes();
    write(&repo.root.join("a.txt"), "the user's own file\n");

    let outcome = git::merge_into(&repo.root, "grove/run-1/a", "main", "merge a").unwrap();
    let MergeOutcome::Refused { reason } = outcome else {
        panic!("expected a refusal, got {outcome:?}");
    };
    assert!(
        reason.contains("untracked") && reason.contains("a.txt"),
        "{reason}"
    );
    assert_eq!(repo.tip("main"), tip);
    assert_eq!(repo.index_bytes(), index);
    assert_eq!(read(&repo.root.join("a.txt")), "the user's own file\n");
    assert!(!repo.root.join("z.txt").exists());
}

#[test]
fn merge_into_a_branch_not_checked_out_leaves_the_main_checkout_alone() {
    let repo = Repo::new();
    git(&repo.root, &["branch", "release"]);
    let tip = repo.task("a", &[("a.txt", "a\n")]);
    // Uncommitted edits in the main checkout only matter for the branch checked out there.
    write(&repo.root.join("base.txt"), "dirty\n");

    let outcome = git::merge_into(&repo.root, "grove/run-1/a", "release", "merge a").unwrap();
    assert_eq!(
        outcome,
        MergeOutcome::Merged {
            commit: tip.clone(),
            fast_forward: true
        }
    );
    assert_eq!(repo.tip("release"), tip);
    assert!(!repo.root.join("a.txt").exists());
    assert_eq!(repo.status(), " M base.txt");
}

#[test]
fn merge_into_a_branch_checked_out_in_another_worktree_is_refused() {
    let repo = Repo::new();
    let other = repo._tmp.path().join("other");
    git(
        &repo.root,
        &[
            "worktree",
            "add",
            "-q",
            other.to_str().unwrap(),
            "-b",
            "release",
        ],
    );
    repo.task("a", &[("a.txt", "a\n")]);
    let tip = repo.tip("release");

    let outcome = git::merge_into(&repo.root, "grove/run-1/a", "release", "merge a").unwrap();
    let MergeOutcome::Refused { reason } = outcome else {
        panic!("expected a refusal, got {outcome:?}");
    };
    assert!(reason.contains("checked out in the worktree"), "{reason}");
    assert_eq!(repo.tip("release"), tip);
    assert!(!other.join("a.txt").exists());
}

#[test]
fn merge_into_a_tag_is_refused() {
    let repo = Repo::new();
    git(&repo.root, &["tag", "v1"]);
    repo.task("a", &[("a.txt", "a\n")]);
    let refs = repo.refs();
    let outcome = git::merge_into(&repo.root, "grove/run-1/a", "v1", "merge a").unwrap();
    assert_eq!(
        outcome,
        MergeOutcome::Refused {
            reason: "base 'v1' is not a branch (a tag or commit); cannot merge into it".into()
        }
    );
    assert_eq!(repo.refs(), refs);
}
