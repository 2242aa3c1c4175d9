//! git operations against real repositories in temp dirs: worktrees, commits, snapshots, merges,
//! diffs and ref cleanup.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use grove::git::{self, MergeOutcome};
use tempfile::TempDir;

use crate::support::{hold_flock, test_name, wait_for};

/// Runs the git CLI hermetically (no user or system config) with a fixed test identity.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Tester",
            "-c",
            "user.email=tester@example.com",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("running git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .to_string()
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

/// A repository on branch `main` with one commit holding `base.txt`, `shared.txt` and
/// `.gitignore` (ignoring `*.log`); `.grove/` is excluded as the engine does before a run.
struct Repo {
    _tmp: TempDir,
    root: PathBuf,
}

impl Repo {
    fn new() -> Repo {
        let repo = Repo::without_grove_exclude();
        git::ensure_grove_excluded(&repo.root).unwrap();
        repo
    }

    fn without_grove_exclude() -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        fs::create_dir(&root).unwrap();
        git(&root, &["init", "-q", "-b", "main"]);
        write(&root.join("base.txt"), "base\n");
        write(&root.join("shared.txt"), "one\ntwo\nthree\n");
        write(&root.join(".gitignore"), "*.log\n");
        git(&root, &["add", "."]);
        git(&root, &["commit", "-q", "-m", "initial"]);
        Repo { _tmp: tmp, root }
    }

    fn wt(&self, task: &str) -> PathBuf {
        self.root.join(".grove").join("run-1").join(task)
    }

    fn tip(&self, rev: &str) -> String {
        git(&self.root, &["rev-parse", rev])
    }

    /// A new worktree for `task` on branch grove/run-1/TASK, started from main.
    fn worktree(&self, task: &str) -> PathBuf {
        let wt = self.wt(task);
        let branch = format!("grove/run-1/{task}");
        git::create_worktree(&self.root, &wt, &branch, "main").unwrap();
        wt
    }

    /// [`Repo::worktree`] with `files` written and committed; returns the commit.
    fn task(&self, task: &str, files: &[(&str, &str)]) -> String {
        let wt = self.worktree(task);
        for (name, text) in files {
            write(&wt.join(name), text);
        }
        self.commit(&wt, &format!("task {task}"), &[])
            .unwrap()
            .expect("task has changes")
    }

    /// `git::commit_worktree` of the worktree `wt` that [`Repo::worktree`] made.
    fn commit(
        &self,
        wt: &Path,
        message: &str,
        excludes: &[String],
    ) -> Result<Option<String>, git::GitError> {
        let task = wt.file_name().unwrap().to_str().unwrap();
        let branch = format!("grove/run-1/{task}");
        git::commit_worktree(&self.root, wt, &branch, message, excludes)
    }

    fn status(&self) -> String {
        git(&self.root, &["status", "--porcelain"])
    }

    fn refs(&self) -> String {
        git(
            &self.root,
            &["for-each-ref", "--format=%(refname) %(objectname)"],
        )
    }

    fn index_bytes(&self) -> Vec<u8> {
        fs::read(self.root.join(".git/index")).unwrap()
    }
}

fn files_at(dir: &Path, rev: &str) -> Vec<String> {
    let listing = git(dir, &["ls-tree", "-r", "--name-only", rev]);
    listing.lines().map(str::to_string).collect()
}

fn show(dir: &Path, rev_path: &str) -> String {
    git(dir, &["show", rev_path])
}

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

#[test]
fn signature_falls_back_without_identity_and_uses_config_when_set() {
    let empty = git2::Config::new().unwrap();
    let sig = git::signature_from_config(&empty).unwrap();
    assert_eq!(
        (sig.name().unwrap(), sig.email().unwrap()),
        ("grove", "grove@localhost")
    );

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("config");
    fs::write(&file, "[user]\n\tname = Ada\n\temail = ada@example.com\n").unwrap();
    let config = git2::Config::open(&file).unwrap();
    let sig = git::signature_from_config(&config).unwrap();
    assert_eq!(
        (sig.name().unwrap(), sig.email().unwrap()),
        ("Ada", "ada@example.com")
    );
}

const NO_IDENTITY_REPO: &str = "GROVE_TEST_NO_IDENTITY_REPO";

/// A merge commit made where no git identity is configured anywhere. libgit2 reads global config
/// from process-wide settings, so the merge runs in a child copy of this test binary whose
/// config search paths point at an empty directory.
#[test]
fn merge_commit_without_any_identity_uses_the_fallback() {
    if let Ok(root) = std::env::var(NO_IDENTITY_REPO) {
        let empty = std::env::var("HOME").unwrap();
        for level in [
            git2::ConfigLevel::System,
            git2::ConfigLevel::XDG,
            git2::ConfigLevel::Global,
            git2::ConfigLevel::ProgramData,
        ] {
            // SAFETY: set before any other libgit2 use in this single-test child process.
            unsafe { git2::opts::set_search_path(level, &empty).unwrap() };
        }
        let outcome = git::merge_into(Path::new(&root), "grove/run-1/b", "main", "merge b");
        assert!(matches!(
            outcome,
            Ok(MergeOutcome::Merged {
                fast_forward: false,
                ..
            })
        ));
        return;
    }

    let repo = Repo::new();
    repo.task("a", &[("a.txt", "a\n")]);
    repo.task("b", &[("b.txt", "b\n")]);
    git::merge_into(&repo.root, "grove/run-1/a", "main", "merge a").unwrap();
    let home = tempfile::tempdir().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &test_name(
                module_path!(),
                "merge_commit_without_any_identity_uses_the_fallback",
            ),
            "--test-threads=1",
        ])
        .env(NO_IDENTITY_REPO, &repo.root)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .output()
        .unwrap();
    assert!(
        child.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&child.stdout)
    );
    assert_eq!(
        git(
            &repo.root,
            &["log", "-1", "--format=%P|%an <%ae>|%cn <%ce>"]
        )
        .split('|')
        .skip(1)
        .collect::<Vec<_>>(),
        vec!["grove <grove@localhost>", "grove <grove@localhost>"]
    );
    assert_eq!(repo.tip("main^2"), repo.tip("grove/run-1/b"));
}

#[test]
fn commits_use_the_repository_identity_when_set() {
    let repo = Repo::new();
    git(&repo.root, &["config", "user.name", "Repo Person"]);
    git(&repo.root, &["config", "user.email", "person@example.com"]);
    repo.task("a", &[("a.txt", "a\n")]);
    assert_eq!(
        git(
            &repo.root,
            &["log", "-1", "--format=%an <%ae>", "grove/run-1/a"]
        ),
        "Repo Person <person@example.com>"
    );
}

#[test]
fn start_commit_merges_dependency_branches_in_memory() {
    let repo = Repo::new();
    let base = repo.tip("main");
    let a = repo.task("a", &[("a.txt", "a\n")]);
    repo.task("b", &[("b.txt", "b\n")]);
    let refs = repo.refs();
    let index = repo.index_bytes();

    assert_eq!(
        git::merge_branches_for_start(&repo.root, &base, &[], "deps").unwrap(),
        Ok(base.clone())
    );
    assert_eq!(
        git::merge_branches_for_start(&repo.root, &base, &["grove/run-1/a".into()], "deps")
            .unwrap(),
        Ok(a.clone())
    );

    let both = ["grove/run-1/a".to_string(), "grove/run-1/b".to_string()];
    let start = git::merge_branches_for_start(&repo.root, &base, &both, "grove: deps")
        .unwrap()
        .expect("no conflict");
    assert_eq!(
        files_at(&repo.root, &start),
        vec![".gitignore", "a.txt", "b.txt", "base.txt", "shared.txt"]
    );
    assert_eq!(git(&repo.root, &["rev-parse", &format!("{start}^1")]), a);
    assert_eq!(
        git(&repo.root, &["log", "-1", "--format=%s", &start]),
        "grove: deps"
    );
    assert_eq!(repo.refs(), refs);
    assert_eq!(repo.index_bytes(), index);
    assert_eq!(repo.status(), "");
    assert!(!repo.root.join("a.txt").exists());
}

#[test]
fn start_commit_with_conflicting_dependencies_reports_paths_and_changes_nothing() {
    let repo = Repo::new();
    let base = repo.tip("main");
    repo.task("a", &[("shared.txt", "one\nA\nthree\n")]);
    repo.task("b", &[("shared.txt", "one\nB\nthree\n")]);
    let refs = repo.refs();
    let wt_status = git(&repo.wt("a"), &["status", "--porcelain"]);

    let both = ["grove/run-1/a".to_string(), "grove/run-1/b".to_string()];
    let result = git::merge_branches_for_start(&repo.root, &base, &both, "deps").unwrap();
    assert_eq!(result, Err(vec!["shared.txt".to_string()]));
    assert_eq!(repo.refs(), refs);
    assert_eq!(repo.status(), "");
    assert_eq!(git(&repo.wt("a"), &["status", "--porcelain"]), wt_status);
    assert_eq!(read(&repo.root.join("shared.txt")), "one\ntwo\nthree\n");
}

#[test]
fn diff_stat_counts_lines_per_file() {
    let repo = Repo::new();
    let from = repo.tip("main");
    let wt = repo.worktree("d");
    write(&wt.join("shared.txt"), "one\n2\nthree\nfour\nfive\n");
    write(&wt.join("added.txt"), "x\ny\n");
    fs::remove_file(wt.join("base.txt")).unwrap();
    let to = repo.commit(&wt, "d", &[]).unwrap().unwrap();

    let stat = git::diff_stat(&repo.root, &from, &to).unwrap();
    let per_file: Vec<_> = stat
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.insertions, f.deletions))
        .collect();
    assert_eq!(
        per_file,
        vec![
            ("added.txt", 2, 0),
            ("base.txt", 0, 1),
            ("shared.txt", 3, 1)
        ]
    );
    assert_eq!((stat.insertions, stat.deletions), (5, 2));
    assert_eq!(
        git::diff_stat(&repo.root, &to, &to).unwrap(),
        Default::default()
    );
}

#[test]
fn diff_patch_has_file_headers_and_hunks() {
    let repo = Repo::new();
    let from = repo.tip("main");
    let to = repo.task("p", &[("shared.txt", "one\nTWO\nthree\n")]);
    let patch = git::diff_patch(&repo.root, &from, &to).unwrap();
    assert!(
        patch.contains("diff --git a/shared.txt b/shared.txt"),
        "{patch}"
    );
    assert!(patch.contains("@@ -1,3 +1,3 @@"), "{patch}");
    assert!(patch.contains("\n-two\n+TWO\n"), "{patch}");
    assert!(patch.contains("\n one\n"), "{patch}");
}

#[test]
fn refs_are_read_and_cleaned_up() {
    let repo = Repo::new();
    let tip = repo.task("a", &[("a.txt", "a\n")]);
    assert_eq!(git::head_commit(&repo.wt("a")).unwrap(), tip);
    assert_eq!(git::head_commit(&repo.root).unwrap(), repo.tip("main"));
    for name in [
        "refs/grove/run-1/a/attempt-1",
        "refs/grove/run-1/b/attempt-1",
    ] {
        git(&repo.root, &["update-ref", name, &tip]);
    }
    git(
        &repo.root,
        &["update-ref", "refs/grove/run-10/a/attempt-1", &tip],
    );

    assert_eq!(
        git::delete_refs_under(&repo.root, "refs/grove/run-1").unwrap(),
        2
    );
    assert_eq!(
        git(
            &repo.root,
            &["for-each-ref", "--format=%(refname)", "refs/grove"]
        ),
        "refs/grove/run-10/a/attempt-1"
    );

    git::remove_worktree(&repo.root, &repo.wt("a")).unwrap();
    git::delete_branch(&repo.root, "grove/run-1/a").unwrap();
    git::delete_branch(&repo.root, "grove/run-1/a").unwrap();
    assert!(matches!(
        git::branch_tip(&repo.root, "grove/run-1/a"),
        Err(git::GitError::NoSuchBranch { .. })
    ));
}
