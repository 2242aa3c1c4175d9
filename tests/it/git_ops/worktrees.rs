//! Worktrees (created, moved aside, recreated, pruned, made concurrently), grove's exclude, and
//! committing what an agent left in one.

use super::*;

#[test]
fn worktree_create_remove_and_recreate_at_the_same_path() {
    let repo = Repo::new();
    let first = repo.tip("main");
    let wt = repo.wt("task-a");

    git::create_worktree(&repo.root, &wt, "grove/run-1/task-a", &first).unwrap();
    assert_eq!(read(&wt.join("base.txt")), "base\n");
    assert_eq!(git::head_commit(&wt).unwrap(), first);
    assert_eq!(
        git(&wt, &["symbolic-ref", "HEAD"]),
        "refs/heads/grove/run-1/task-a"
    );
    assert_eq!(git(&wt, &["status", "--porcelain"]), "");

    git::remove_worktree(&repo.root, &wt).unwrap();
    assert!(!wt.exists());
    assert_eq!(git(&repo.root, &["worktree", "list"]).lines().count(), 1);
    // The directory is moved aside under the lock and deleted after it: nothing is left.
    let siblings = std::fs::read_dir(wt.parent().unwrap()).unwrap().count();
    assert_eq!(siblings, 0);
    git::remove_worktree(&repo.root, &wt).unwrap();

    write(&repo.root.join("second.txt"), "2\n");
    git(&repo.root, &["add", "."]);
    git(&repo.root, &["commit", "-q", "-m", "second"]);
    let second = repo.tip("main");
    // The branch still exists at the first commit; create force-resets it.
    git::create_worktree(&repo.root, &wt, "grove/run-1/task-a", &second).unwrap();
    assert_eq!(git::head_commit(&wt).unwrap(), second);
    assert_eq!(
        git::branch_tip(&repo.root, "grove/run-1/task-a").unwrap(),
        second
    );
    assert_eq!(read(&wt.join("second.txt")), "2\n");

    // Recreating over a live worktree at the same path replaces it.
    write(&wt.join("scratch.txt"), "left over\n");
    git::create_worktree(&repo.root, &wt, "grove/run-1/task-a", &first).unwrap();
    assert!(!wt.join("scratch.txt").exists());
    assert!(!wt.join("second.txt").exists());
    assert_eq!(git::head_commit(&wt).unwrap(), first);
    assert_eq!(git(&repo.root, &["worktree", "list"]).lines().count(), 2);
    let siblings: Vec<_> = std::fs::read_dir(wt.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings, vec![wt.file_name().unwrap().to_os_string()]);
}

#[test]
fn create_worktree_over_stale_directory_and_stale_registration() {
    let repo = Repo::new();
    let wt = repo.wt("stale");

    // A plain directory (not a worktree) already sits at the path.
    write(&wt.join("junk/file.txt"), "junk\n");
    git::create_worktree(&repo.root, &wt, "grove/run-1/stale", "main").unwrap();
    assert!(!wt.join("junk").exists());
    assert_eq!(read(&wt.join("base.txt")), "base\n");

    // The directory vanished but its registration stayed behind.
    fs::remove_dir_all(&wt).unwrap();
    git::create_worktree(&repo.root, &wt, "grove/run-1/stale", "main").unwrap();
    assert_eq!(read(&wt.join("base.txt")), "base\n");
    assert_eq!(git(&repo.root, &["worktree", "list"]).lines().count(), 2);
    assert_eq!(git(&wt, &["status", "--porcelain"]), "");
}

#[test]
fn a_worktree_moved_aside_stays_valid_and_later_worktrees_leave_it_alone() {
    let repo = Repo::new();
    let wt = repo.worktree("kept");
    write(&wt.join("work.txt"), "unsaved work\n");
    git(&wt, &["add", "work.txt"]);
    let aside = wt.with_file_name("kept.attempt-1.unsaved");
    git::move_worktree(&repo.root, &wt, &aside).unwrap();
    assert!(!wt.exists());
    // Still a worktree, on its branch, with its index and files as they were.
    assert_eq!(git(&aside, &["status", "--porcelain"]), "A  work.txt");
    assert_eq!(
        git(&aside, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "grove/run-1/kept"
    );
    let list = git(&repo.root, &["worktree", "list", "--porcelain"]);
    let aside_real = aside.canonicalize().unwrap();
    assert!(
        list.contains(&format!("worktree {}", aside_real.display())),
        "{list}"
    );
    assert_eq!(git::prune_worktrees(&repo.root).unwrap(), 0);
    // A new worktree at the old path (and its removal) does not touch the one moved aside.
    git::create_worktree(&repo.root, &wt, "grove/run-1/kept-again", "main").unwrap();
    git::remove_worktree(&repo.root, &wt).unwrap();
    assert_eq!(read(&aside.join("work.txt")), "unsaved work\n");
    assert_eq!(git(&aside, &["status", "--porcelain"]), "A  work.txt");
    git(&repo.root, &["worktree", "prune"]);
    assert_eq!(git(&aside, &["status", "--porcelain"]), "A  work.txt");
}

/// The files `move_worktree` rewrites (the worktree's `.git`, `gitdir` in its metadata) are the
/// agent's to replace: a link in their place is not written through.
#[test]
fn moving_a_worktree_aside_writes_nothing_through_a_link() {
    let repo = Repo::new();
    let outside = TempDir::new().unwrap();
    for (task, linked) in [("dotgit", ".git"), ("gitdir", "gitdir")] {
        let wt = repo.worktree(task);
        let admin = repo.root.join(".git/worktrees").join(
            fs::read_to_string(wt.join(".git"))
                .unwrap()
                .trim()
                .rsplit('/')
                .find(|part| !part.is_empty())
                .unwrap(),
        );
        let file = if linked == ".git" {
            wt.join(".git")
        } else {
            admin.join("gitdir")
        };
        // The target holds what the file held, so the worktree still reads as registered.
        let target = outside.path().join(task);
        fs::copy(&file, &target).unwrap();
        let before = read(&target);
        fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink(&target, &file).unwrap();
        let aside = wt.with_file_name(format!("{task}.attempt-1.unsaved"));
        let _ = git::move_worktree(&repo.root, &wt, &aside);
        assert_eq!(
            read(&target),
            before,
            "{linked} was written through its link"
        );
    }
}

#[test]
fn create_worktree_over_metadata_left_by_an_interrupted_creation() {
    let repo = Repo::new();
    let wt = repo.wt("cut");
    git::create_worktree(&repo.root, &wt, "grove/run-1/cut", "main").unwrap();
    // What a kill in the middle of adding a worktree leaves: its metadata folder without the
    // files that make it one, and a half-written directory.
    let meta = fs::read_dir(repo.root.join(".git/worktrees"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for entry in fs::read_dir(&meta).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            fs::remove_dir_all(path).unwrap();
        } else {
            fs::remove_file(path).unwrap();
        }
    }
    fs::remove_dir_all(&wt).unwrap();
    write(&wt.join("partial.txt"), "x\n");

    git::create_worktree(&repo.root, &wt, "grove/run-1/cut", "main").unwrap();
    assert_eq!(read(&wt.join("base.txt")), "base\n");
    assert!(!wt.join("partial.txt").exists());
    assert_eq!(git(&wt, &["status", "--porcelain"]), "");
}

#[test]
fn prune_counts_only_worktrees_whose_directories_are_gone() {
    let repo = Repo::new();
    for task in ["a", "b", "c"] {
        git::create_worktree(
            &repo.root,
            &repo.wt(task),
            &format!("grove/run-1/{task}"),
            "main",
        )
        .unwrap();
    }
    fs::remove_dir_all(repo.wt("b")).unwrap();
    assert_eq!(git::prune_worktrees(&repo.root).unwrap(), 1);
    assert_eq!(git::prune_worktrees(&repo.root).unwrap(), 0);
    let list = git(&repo.root, &["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("worktree ").count(), 3);
    assert!(!list.contains("run-1/b\n"));
}

#[test]
fn grove_dir_is_excluded_once_and_main_checkout_stays_clean() {
    let repo = Repo::without_grove_exclude();
    git::ensure_grove_excluded(&repo.root).unwrap();
    git::ensure_grove_excluded(&repo.root).unwrap();
    let exclude = read(&repo.root.join(".git/info/exclude"));
    assert_eq!(exclude.lines().filter(|l| l.contains(".grove")).count(), 1);

    repo.worktree("a");
    write(&repo.root.join(".grove/run-1/state.json"), "{}");
    write(&repo.wt("a").join("new.txt"), "agent output\n");
    assert_eq!(repo.status(), "");
    assert_eq!(
        git(&repo.root, &["status", "--porcelain", "--ignored"]),
        "!! .grove/"
    );
}

#[test]
fn grove_exclude_is_appended_after_existing_patterns() {
    let repo = Repo::without_grove_exclude();
    let exclude = repo.root.join(".git/info/exclude");
    fs::write(&exclude, "# mine\n*.bak").unwrap();
    git::ensure_grove_excluded(&repo.root).unwrap();
    assert_eq!(read(&exclude), "# mine\n*.bak\n/.grove/\n");
}

#[test]
fn eight_worktrees_created_concurrently_all_succeed() {
    let repo = Repo::new();
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let repo = &repo;
                scope.spawn(move || {
                    let task = format!("t{i}");
                    git::create_worktree(
                        &repo.root,
                        &repo.wt(&task),
                        &format!("grove/run-1/{task}"),
                        "main",
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    let main = repo.tip("main");
    for i in 0..8 {
        let wt = repo.wt(&format!("t{i}"));
        assert_eq!(git::head_commit(&wt).unwrap(), main);
        assert_eq!(read(&wt.join("shared.txt")), "one\ntwo\nthree\n");
        assert_eq!(git(&wt, &["status", "--porcelain"]), "");
    }
    assert_eq!(git(&repo.root, &["worktree", "list"]).lines().count(), 9);
}

#[test]
fn commit_worktree_stages_new_modified_deleted_and_skips_ignored_and_excluded() {
    let repo = Repo::new();
    let wt = repo.worktree("c");
    let start = git::head_commit(&wt).unwrap();

    write(&wt.join("src/new.rs"), "fn main() {}\n");
    write(&wt.join("shared.txt"), "one\nTWO\nthree\n");
    fs::remove_file(wt.join("base.txt")).unwrap();
    write(&wt.join("debug.log"), "ignored by .gitignore\n");
    write(&wt.join(".grove-task/envelope.json"), "{}");
    write(&wt.join("notes.tmp"), "excluded\n");
    let excludes = vec![".grove-task/".to_string(), "*.tmp".to_string()];

    let id = repo
        .commit(&wt, "grove: task c", &excludes)
        .unwrap()
        .expect("changes to commit");
    assert_eq!(git::head_commit(&wt).unwrap(), id);
    assert_eq!(git::branch_tip(&repo.root, "grove/run-1/c").unwrap(), id);
    assert_eq!(git(&wt, &["rev-parse", &format!("{id}^")]), start);
    assert_eq!(git(&wt, &["log", "-1", "--format=%s"]), "grove: task c");
    assert_eq!(
        files_at(&wt, &id),
        vec![".gitignore", "shared.txt", "src/new.rs"]
    );
    assert_eq!(show(&wt, &format!("{id}:shared.txt")), "one\nTWO\nthree");
    // Ignored and excluded files are left in place, just not committed.
    assert!(wt.join("debug.log").exists() && wt.join("notes.tmp").exists());

    assert_eq!(repo.commit(&wt, "again", &excludes).unwrap(), None);
    assert_eq!(git::head_commit(&wt).unwrap(), id);
}

#[test]
fn extra_excludes_also_keep_changes_to_tracked_files_out() {
    let repo = Repo::new();
    write(&repo.root.join("config.local"), "original\n");
    git(&repo.root, &["add", "."]);
    git(&repo.root, &["commit", "-q", "-m", "tracked local config"]);
    let wt = repo.worktree("t");
    write(&wt.join("config.local"), "changed by the agent\n");
    write(&wt.join("kept.txt"), "kept\n");

    let id = repo
        .commit(&wt, "m", &["*.local".to_string()])
        .unwrap()
        .unwrap();
    assert_eq!(show(&wt, &format!("{id}:config.local")), "original");
    assert_eq!(show(&wt, &format!("{id}:kept.txt")), "kept");
}

#[test]
fn commit_worktree_keeps_the_agents_own_commits() {
    let repo = Repo::new();
    let wt = repo.worktree("agent");
    write(&wt.join("agent.txt"), "committed by the agent\n");
    git(&wt, &["add", "agent.txt"]);
    git(&wt, &["commit", "-q", "-m", "agent's commit"]);
    let agent_commit = git::head_commit(&wt).unwrap();

    assert_eq!(repo.commit(&wt, "nothing left", &[]).unwrap(), None);
    write(&wt.join("after.txt"), "left uncommitted\n");
    let id = repo.commit(&wt, "grove: rest", &[]).unwrap().unwrap();
    assert_eq!(git(&wt, &["rev-parse", &format!("{id}^")]), agent_commit);
    assert_eq!(
        git(&wt, &["log", "--format=%s", "main..HEAD"]),
        "grove: rest\nagent's commit"
    );
}
