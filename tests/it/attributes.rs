//! What grove commits equals what `git add -A` would stage where .gitattributes transforms
//! content on the way in: clean filter drivers (run by git itself) and line-ending
//! normalization. The real binary, real git, real PTYs.

use crate::support::*;
use std::path::PathBuf;

/// Runs `plan_tasks` (TOML for the tasks, merged automatically, worktrees kept) in `repo`;
/// returns the task `t` from results.json.
fn run_kept(repo: &Repo, prompt: &str) -> serde_json::Value {
    let (out, results) = repo.run_plan(
        &Plan::new()
            .shell_task("t", prompt)
            .with("merge", "auto")
            .with("keep_worktrees", "always")
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = task(&results, "t").clone();
    assert_eq!(t["merge"]["state"], "merged", "{t:#}");
    t
}

/// In the task's kept worktree, `git add -A` finds nothing to stage that grove's commit does
/// not already hold.
fn assert_commit_equals_git_add(repo: &Repo, t: &serde_json::Value) {
    let worktree = PathBuf::from(t["worktree"].as_str().unwrap());
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(&worktree)
            .env("HOME", repo.home.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["add", "-A"]);
    assert_eq!(git(&["diff", "--cached", "--stat", "HEAD"]), "");
}

#[test]
fn a_clean_filter_shapes_the_committed_blob_as_git_add_would() {
    let repo = Repo::new();
    repo.git(&["config", "filter.upper.clean", "tr a-z A-Z"]);
    repo.write(".gitattributes", "*.txt filter=upper\n");
    repo.commit_all("attributes");
    let t = run_kept(&repo, "echo hello > note.txt; echo plain > note.md");
    assert_eq!(repo.git(&["show", "main:note.txt"]), "HELLO");
    assert_eq!(repo.git(&["show", "main:note.md"]), "plain");
    assert_commit_equals_git_add(&repo, &t);
    // The main checkout, updated by the merge, is what git itself considers clean.
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

#[test]
fn line_endings_are_normalized_as_git_add_would() {
    let repo = Repo::new();
    repo.write(".gitattributes", "*.txt text\n*.crlf eol=crlf\n");
    repo.commit_all("attributes");
    let t = run_kept(
        &repo,
        r"printf 'one\r\ntwo\r\n' > dos.txt; printf 'a\nb\n' > unix.crlf; printf 'x\r\n' > raw.bin",
    );
    assert_eq!(repo.git(&["cat-file", "-p", "main:dos.txt"]), "one\ntwo");
    assert_commit_equals_git_add(&repo, &t);
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

#[test]
fn core_autocrlf_normalizes_as_git_add_would() {
    for autocrlf in ["input", "true"] {
        let repo = Repo::new();
        repo.git(&["config", "core.autocrlf", autocrlf]);
        let t = run_kept(&repo, r"printf 'one\r\ntwo\r\n' > dos.txt");
        assert_eq!(repo.git(&["cat-file", "-p", "main:dos.txt"]), "one\ntwo");
        assert_commit_equals_git_add(&repo, &t);
        assert_eq!(
            repo.git(&["status", "--porcelain"]),
            "",
            "autocrlf {autocrlf}"
        );
    }
}
