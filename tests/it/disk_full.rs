//! A full disk, for real: the repository lives on a small tmpfs that the agent fills. Its work
//! cannot be saved (no room for git objects or grove's records), so grove keeps the worktree
//! aside, untouched and still a valid worktree, fails the task for good and says where it is.
//! Mounting needs root; without it the test says so and passes without running.

use std::process::Command;

use crate::support::tmpfs::Tmpfs;
use crate::support::*;

#[test]
fn work_that_cannot_be_saved_is_kept_aside_and_the_task_fails_for_good() {
    let Some(tmpfs) = Tmpfs::mount("8m") else {
        return;
    };
    let repo = Repo::new_in(tmpfs.path()).confined();
    // The first attempt writes its work and fills the disk, and exits 0; a second attempt (in
    // a clean worktree at the same path) would write nothing.
    let plan = &Plan::named("full")
        .shell_task(
            "writer",
            r#"if [ "$GROVE_ATTEMPT" = 1 ]; then echo important > work.txt; head -c 64000000 /dev/zero > fill.bin 2>/dev/null; fi; exit 0"#,
        )
        .retries(1)
        .with("backoff", Raw(r#"{ initial = "10ms" }"#))
        .to_toml();
    let plan_path = repo.write_plan(plan);
    let out = repo.grove(&["run", plan_path.to_str().unwrap(), "--headless"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let run_id = run_id(&out);
    let root = repo.path().canonicalize().unwrap();
    let aside = root.join(format!(
        ".grove/worktrees/{run_id}/writer.attempt-1.unsaved"
    ));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Failed for good after the first attempt, saying where the files are.
    assert!(stdout.contains("writer  failed"), "{stdout}");
    assert!(!stdout.contains("attempt 2/2"), "{stdout}");
    assert!(
        stdout.contains(&format!("kept, untouched, in {}", aside.display())),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(aside.join("work.txt")).unwrap(),
        "important\n"
    );
    assert!(!root
        .join(format!(".grove/worktrees/{run_id}/writer"))
        .exists());
    // Still a worktree of the repository, on the task's branch, where git lists it.
    let list = repo.git(&["worktree", "list", "--porcelain"]);
    assert!(
        list.contains(&format!("worktree {}", aside.display())),
        "{list}"
    );
    let head = Command::new("git")
        .args(["rev-parse", "--abbrev-ref", "HEAD"])
        .current_dir(&aside)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&head.stdout).trim(),
        format!("grove/{run_id}/writer")
    );
    // With room again (the test frees it), `clean` keeps the unsaved work unless forced.
    std::fs::remove_file(aside.join("fill.bin")).unwrap();
    let cleaned = repo.grove(&["clean", &run_id]);
    assert!(
        String::from_utf8_lossy(&cleaned.stdout).contains("holding work grove could not save"),
        "{}",
        text(&cleaned)
    );
    assert!(aside.join("work.txt").exists());
    let forced = repo.grove(&["clean", &run_id, "--force"]);
    assert!(forced.status.success(), "{}", text(&forced));
    assert!(!aside.exists());
}
