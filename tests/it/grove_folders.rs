//! grove's own folders (`.grove/`, `.grove/runs`, `.grove/worktrees` and the folders in them)
//! are untrusted: a repository can commit any of them as a symbolic link. grove refuses (exit 2)
//! instead of following one, and `grove clean` removes only runs grove made. The real binary on
//! real repositories, with the link's target outside the repository.

use std::path::{Path, PathBuf};

use crate::support::*;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One task that fails, leaving its worktree and records.
fn plan() -> String {
    Plan::named("fold")
        .shell_task("broken", "echo work > work.txt; exit 1")
        .to_toml()
}

/// A folder outside the repository holding what a cleanup must never touch.
fn outside_with_victim() -> (tempfile::TempDir, PathBuf) {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside
        .path()
        .join("victim-20260101-000000")
        .join("task")
        .join("keep.txt");
    std::fs::create_dir_all(victim.parent().unwrap()).unwrap();
    std::fs::write(&victim, "precious\n").unwrap();
    (outside, victim)
}

/// Makes `rel` in the repository a link to `target` and commits it, as a repository could.
fn commit_link(repo: &Repo, rel: &str, target: &Path) {
    let link = repo.path().join(rel);
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, &link).unwrap();
    repo.git(&["add", "-f", rel]);
    repo.git(&["commit", "-q", "-m", "link"]);
}

fn assert_refused(out: &std::process::Output, rel: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", text(out));
    let err = stderr(out);
    assert!(
        err.contains(rel) && err.contains("symbolic link"),
        "{}",
        text(out)
    );
}

#[test]
fn clean_all_refuses_a_linked_worktrees_folder_and_touches_nothing_outside() {
    let repo = Repo::new();
    let (outside, victim) = outside_with_victim();
    commit_link(&repo, ".grove/worktrees", outside.path());
    for args in [
        vec!["clean", "--all"],
        vec!["clean", "--all", "--force", "--records"],
        vec!["clean", "victim-20260101-000000", "--force"],
    ] {
        let out = repo.grove(&args);
        assert_refused(&out, ".grove/worktrees");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    }
}

#[test]
fn runs_refuse_linked_grove_folders_and_write_nothing_there() {
    for rel in [".grove", ".grove/runs", ".grove/worktrees"] {
        let repo = Repo::new();
        let outside = tempfile::tempdir().unwrap();
        commit_link(&repo, rel, outside.path());
        let path = repo.write_plan(&plan());
        let out = repo.grove(&["run", path.to_str().unwrap(), "--headless"]);
        assert_refused(&out, rel);
        assert_eq!(
            std::fs::read_dir(outside.path()).unwrap().count(),
            0,
            "{rel}: grove wrote through the link"
        );
        assert_eq!(repo.git(&["branch", "--list", "grove/*"]), "", "{rel}");
    }
}

#[test]
fn resume_and_clean_refuse_a_linked_run_folder() {
    let repo = Repo::new();
    let (out, _) = repo.run_plan(&plan());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let run_id = run_id(&out);
    // The run's worktree folder replaced by a link to a copy of it outside the repository.
    let outside = tempfile::tempdir().unwrap();
    let folder = repo.path().join(".grove/worktrees").join(&run_id);
    let moved = outside.path().join(&run_id);
    std::fs::rename(&folder, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &folder).unwrap();
    let kept = moved.join("broken/work.txt");
    assert!(kept.exists());

    let resume = repo.grove(&["resume", &run_id, "--headless"]);
    assert_refused(&resume, &format!(".grove/worktrees/{run_id}"));
    for args in [
        vec!["clean", run_id.as_str(), "--force", "--records"],
        vec!["clean", "--all", "--force", "--records"],
    ] {
        let clean = repo.grove(&args);
        assert_refused(&clean, &format!(".grove/worktrees/{run_id}"));
        assert!(kept.exists(), "{args:?} removed a folder outside");
        assert!(repo.run_dir(&run_id).join("journal.jsonl").exists());
    }

    // A run's records folder that is a link is refused the same way.
    std::fs::remove_file(&folder).unwrap();
    std::fs::rename(&moved, &folder).unwrap();
    let records = outside.path().join("records");
    std::fs::rename(repo.run_dir(&run_id), &records).unwrap();
    std::os::unix::fs::symlink(&records, repo.run_dir(&run_id)).unwrap();
    let clean = repo.grove(&["clean", &run_id, "--force", "--records"]);
    assert_refused(&clean, &format!(".grove/runs/{run_id}"));
    assert!(records.join("journal.jsonl").exists());
}

#[test]
fn clean_removes_only_runs_grove_made() {
    let repo = Repo::new();
    let (out, _) = repo.run_plan(&plan());
    let run_id = run_id(&out);
    // Folders grove did not make: no records of a run with that id.
    let foreign = [
        repo.write(".grove/worktrees/vendored/keep/file.txt", "mine\n"),
        repo.write(
            ".grove/worktrees/old-20250101-000000/task/file.txt",
            "mine\n",
        ),
    ];

    let clean = repo.grove(&["clean", "--all", "--force"]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
    let said = stdout(&clean);
    for file in &foreign {
        assert_eq!(std::fs::read_to_string(file).unwrap(), "mine\n");
    }
    for id in ["vendored", "old-20250101-000000"] {
        assert!(
            said.contains(&format!(".grove/worktrees/{id}: no run grove made")),
            "{said}"
        );
    }
    // The run grove made is cleaned.
    assert!(!repo.path().join(".grove/worktrees").join(&run_id).exists());
    for id in ["vendored", "old-20250101-000000"] {
        let out = repo.grove(&["clean", id, "--force"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    }
}
