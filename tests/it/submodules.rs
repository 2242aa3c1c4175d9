//! Repositories with submodules: each task's worktree has its submodules initialized, and work an
//! agent leaves inside a submodule (which grove does not commit) fails the attempt instead of
//! vanishing with a "succeeded". The real binary, real git (a real submodule), real PTYs.

use crate::support::*;
use std::path::PathBuf;

/// A repository whose `lib/` is a submodule cloned from a repository next to it (a local path,
/// which git's CLI only clones with protocol.file.allow); returns it and the submodule's origin.
fn repo_with_submodule() -> (Repo, PathBuf) {
    let repo = Repo::new();
    let origin = repo.home.path().join("lib-origin");
    std::fs::create_dir(&origin).unwrap();
    let git = |dir: &std::path::Path, args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "protocol.file.allow=always"])
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(args)
            .current_dir(dir)
            .env("HOME", repo.home.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
    };
    git(&origin, &["init", "-q", "-b", "main"]);
    std::fs::write(origin.join("lib.txt"), "library\n").unwrap();
    git(&origin, &["add", "."]);
    git(&origin, &["commit", "-q", "-m", "lib"]);
    git(
        repo.path(),
        &["submodule", "add", "-q", origin.to_str().unwrap(), "lib"],
    );
    git(repo.path(), &["commit", "-q", "-m", "add lib"]);
    (repo, origin)
}

fn plan(prompt: &str) -> String {
    Plan::new().shell_task("t", prompt).to_toml()
}

#[test]
fn a_tasks_worktree_has_its_submodules_checked_out() {
    let (repo, _) = repo_with_submodule();
    let (out, results) = repo.run_plan(&plan("cp lib/lib.txt seen.txt"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = task(&results, "t");
    assert_eq!(t["status"], "succeeded", "{t:#}");
    let branch = t["branch"].as_str().unwrap();
    assert_eq!(
        repo.git(&["show", &format!("{branch}:seen.txt")]),
        "library"
    );
    // The submodule itself is unchanged on the branch.
    assert_eq!(
        repo.git(&["rev-parse", &format!("{branch}:lib")]),
        repo.git(&["rev-parse", "main:lib"])
    );
}

/// The first attempt writes `file` inside the submodule (and top.txt beside it), the second
/// does not: the first fails, and its files, those in the submodule included, are on its
/// attempt ref; the second succeeds with the submodule unchanged. The task and its output.
fn first_attempt_writes_into_lib(
    repo: &Repo,
    file: &str,
) -> (std::process::Output, serde_json::Value) {
    let prompt = format!(
        r#"echo top > top.txt; if [ "$GROVE_ATTEMPT" = 1 ]; then mkdir -p lib; echo mine > {file}; fi"#
    );
    let path = repo.write_plan(
        &Plan::new()
            .shell_task("t", &prompt)
            .retries(1)
            .with("backoff", Raw(r#"{ initial = "10ms" }"#))
            .to_toml(),
    );
    let out = repo.grove(&["run", path.to_str().unwrap(), "--headless"]);
    let results = repo.results(&run_id(&out));
    let t = task(&results, "t").clone();
    assert_eq!(t["status"], "succeeded", "{t:#}");
    let first = &t["attempts"][0];
    assert_eq!(first["status"], "failed", "{first:#}");
    let saved = first["saved_ref"].as_str().unwrap();
    assert_eq!(repo.git(&["show", &format!("{saved}:{file}")]), "mine");
    assert_eq!(repo.git(&["show", &format!("{saved}:top.txt")]), "top");
    let branch = t["branch"].as_str().unwrap();
    assert_eq!(
        repo.git(&["rev-parse", &format!("{branch}:lib")]),
        repo.git(&["rev-parse", "main:lib"])
    );
    (out, t)
}

#[test]
fn files_written_inside_a_submodule_fail_the_attempt_and_are_saved() {
    let (repo, _) = repo_with_submodule();
    let (out, t) = first_attempt_writes_into_lib(&repo, "lib/new.txt");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let error = t["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("submodule 'lib'"), "{error}");
    assert!(error.contains("lib/new.txt"), "{error}");
}

#[test]
fn files_in_a_submodule_that_could_not_be_initialized_fail_the_attempt() {
    let (repo, origin) = repo_with_submodule();
    // The submodule's URL no longer leads anywhere: it cannot be cloned into a worktree.
    std::fs::rename(&origin, repo.home.path().join("moved")).unwrap();
    let (out, t) = first_attempt_writes_into_lib(&repo, "lib/new.txt");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: submodule 'lib'"),
        "{}",
        text(&out)
    );
    let error = t["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("not initialized"), "{error}");
    assert!(error.contains("lib/new.txt"), "{error}");
}

/// Only files are read of a submodule's directory when an attempt is saved: a FIFO the agent
/// left there is not waited on (the attempt would never end), and stays out of the attempt ref.
#[test]
fn a_fifo_inside_a_submodule_does_not_hold_up_saving_the_attempt() {
    let (repo, origin) = repo_with_submodule();
    std::fs::rename(&origin, repo.home.path().join("moved")).unwrap();
    let mut grove = spawn_run(
        &repo,
        &plan("mkdir -p lib; echo mine > lib/new.txt; mkfifo lib/pipe"),
    );
    let run_id = the_run(&repo);
    let status = wait_for("grove to end", || grove.try_wait().unwrap());
    assert_eq!(status.code(), Some(1));
    let t = task(&repo.results(&run_id), "t").clone();
    let saved = t["attempts"][0]["saved_ref"].as_str().unwrap();
    assert_eq!(repo.git(&["show", &format!("{saved}:lib/new.txt")]), "mine");
    let files = repo.git(&["ls-tree", "-r", "--name-only", saved]);
    assert!(!files.contains("lib/pipe"), "{files}");
}
