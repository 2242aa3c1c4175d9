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

mod history;
mod merges;
mod worktrees;
