//! A run's records on disk: private (they hold the plan's `env` values), and whole after a
//! failed write (a full disk, on a real small tmpfs). The real binary on real repositories.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::tmpfs::Tmpfs;
use crate::support::*;

/// Every folder and file under `dir` with its mode, `dir` included.
fn modes(dir: &Path) -> Vec<(String, bool, u32)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        let meta = std::fs::symlink_metadata(&at).unwrap();
        let shown = at.strip_prefix(dir).unwrap().display().to_string();
        found.push((shown, meta.is_dir(), meta.permissions().mode() & 0o777));
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&at).unwrap().map(|e| e.unwrap().path()));
        }
    }
    found.sort();
    found
}

#[test]
fn a_runs_records_are_private() {
    let repo = Repo::new();
    let (out, _) = repo.run_plan(
        &Plan::named("priv")
            .shell_task("result", r#"echo '{"ok": true}' > "$GROVE_RESULT""#)
            .with("env", Raw(r#"{ API_TOKEN = "s3cret" }"#))
            .shell_task("text", r#"echo said; [ "$GROVE_ATTEMPT" = 2 ]"#)
            .retries(1)
            .with("backoff", Raw(r#"{ initial = "10ms", jitter = 0.0 }"#))
            .to_toml(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let run_dir = repo.run_dir(&run_id);
    let found = modes(&run_dir);
    for name in [
        "plan.toml",
        "journal.jsonl",
        "results.json",
        "audit.log",
        "grove.lock",
        "agents/result/envelope.json",
        "agents/result/attempt-1.log",
        "agents/result/result.json",
        "agents/text/attempt-2.log",
        "agents/text/output.txt",
    ] {
        assert!(
            found.iter().any(|(f, _, _)| f == name),
            "no {name} in {found:?}"
        );
    }
    for (name, dir, mode) in &found {
        // The agent's own result file is the agent's to make.
        if name.ends_with(".result.json") {
            continue;
        }
        let want = if *dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{name}: {mode:o} in {found:?}");
    }
    // What the privacy is for: the plan copy holds the env values.
    let text = std::fs::read_to_string(run_dir.join("plan.toml")).unwrap();
    assert!(text.contains("s3cret"));
}

mod journal_on_a_full_disk {
    use std::collections::BTreeMap;

    use grove::record::journal::{Entry, Journal, RunRecord, RunStarted, FILE};

    use super::Tmpfs;

    fn started() -> Entry {
        Entry::RunStarted(Box::new(RunStarted {
            run_id: "p-20260101-000000".into(),
            plan_name: "p".into(),
            plan_path: "/tmp/p.toml".into(),
            plan_format: "toml".into(),
            plan_text: "name = \"p\"".into(),
            tasks: vec!["a".into()],
            prompts: BTreeMap::new(),
            repo_root: "/tmp/r".into(),
            base_commit: "0".repeat(40),
            base_branch: Some("main".into()),
            base_label: "main".into(),
            pane_rows: 40,
            pane_cols: 120,
            pid: 1,
        }))
    }

    #[test]
    fn a_failed_append_leaves_whole_lines_and_the_next_one_is_read() {
        let Some(disk) = Tmpfs::mount("64k") else {
            return;
        };
        let dir = disk.path().join("run");
        std::fs::create_dir(&dir).unwrap();
        Journal::create(&dir)
            .unwrap()
            .append(started(), true)
            .unwrap();
        // A continued journal (grove resume) appends the same way.
        let journal = Journal::reopen(&dir).unwrap();
        let len = || std::fs::metadata(dir.join(FILE)).unwrap().len();
        let before = len();
        disk.fill("filler");
        // Longer than a page: part of it fits in the journal's last page, the rest does not.
        let long = Entry::TaskAdded {
            plan_text: "name = \"p\"".into(),
            task: "b".into(),
            prompt: "x".repeat(10_000),
        };
        let err = journal.append(long, true).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
        assert_eq!(len(), before, "a failed append left part of its line");

        std::fs::remove_file(disk.path().join("filler")).unwrap();
        journal.append(Entry::Resumed { pid: 2 }, true).unwrap();
        let record = RunRecord::load(&dir).unwrap();
        assert_eq!(record.torn, None);
        assert_eq!(record.started.tasks, ["a"]);
    }
}

#[test]
fn a_torn_last_journal_line_is_skipped_with_a_notice() {
    let repo = Repo::new();
    let (out, _) = repo.run_plan(
        &Plan::named("torn")
            .shell_task("a", "echo a > a.txt")
            .to_toml(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let journal = repo.run_dir(&run_id).join("journal.jsonl");
    let lines = std::fs::read_to_string(&journal).unwrap().lines().count();
    // Cut short with and without its line end (a failed write an older grove appended to).
    for torn in [
        "{\"at\":\"2026-",
        "{\"at\":\"2026-{\"at\":\"2026-01-01\"}\n",
    ] {
        let mut kept = std::fs::read_to_string(&journal).unwrap();
        kept.truncate(kept.rfind("}\n").unwrap() + 2);
        kept.push_str(torn);
        std::fs::write(&journal, kept).unwrap();
        let resume = repo.grove(&["resume", &run_id, "--headless"]);
        let err = String::from_utf8_lossy(&resume.stderr).into_owned();
        assert!(
            err.contains(&format!(
                "journal.jsonl:{}: the journal's last line is torn",
                lines + 1
            )),
            "{}",
            text(&resume)
        );
        // Not fatal: the run is read, and it had finished.
        assert_eq!(resume.status.code(), Some(2), "{}", text(&resume));
        assert!(err.contains("has finished"), "{}", text(&resume));
        let ls = repo.grove(&["ls"]);
        assert!(
            String::from_utf8_lossy(&ls.stdout).contains("1 succeeded"),
            "{}",
            text(&ls)
        );
    }
}

/// The disk fills while a run goes on, empties, and fills again before the run ends: grove says
/// when results.json cannot be written and when it is again, its summary does not name a stale
/// results.json as the results, and the journal stays whole lines, so the run can be resumed.
#[test]
fn a_full_disk_is_said_and_leaves_the_journal_whole() {
    let Some(disk) = Tmpfs::mount("16m") else {
        return;
    };
    let repo = Repo::new_in(disk.path());
    let go = |n: u32| repo.home.path().join(format!("go{n}"));
    // The first task's journal lines are longer than a page (its prompt is in them), so on the
    // full disk part of one fits and the rest does not: a short write.
    let plan = Plan::named("full")
        .set("max_parallel", 3)
        // Nothing grove removes frees space on the full disk.
        .default("keep_worktrees", "always")
        .shell_task(
            "first",
            &format!(
                "# {pad}
{wait1}",
                pad = "x".repeat(6000),
                wait1 = sh_wait_for_file(&go(1))
            ),
        )
        .shell_task("second", &sh_wait_for_file(&go(2)))
        .shell_task("third", &sh_wait_for_file(&go(3)))
        .to_toml();
    let mut grove = spawn_run(&repo, &plan);
    let out_file = std::fs::read_dir(repo.home.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("out-"))
        .unwrap();
    let said = || std::fs::read_to_string(&out_file).unwrap_or_default();
    let run_id = the_run(&repo);
    wait_explained(
        "every task to run",
        || {
            (journal_states(&repo, &run_id)
                .iter()
                .filter(|(_, s)| s == "running")
                .count()
                == 3)
                .then_some(())
        },
        || format!("{}\n{:?}", said(), journal_states(&repo, &run_id)),
    );
    let results = repo.run_dir(&run_id).join("results.json");
    let failing = format!("grove: cannot write {}: ", results.display());
    let again = format!("grove: {} is written again", results.display());

    disk.fill("filler");
    std::fs::write(go(1), "").unwrap();
    wait_explained(
        "grove to say results.json cannot be written",
        || said().contains(&failing).then_some(()),
        said,
    );

    std::fs::remove_file(disk.path().join("filler")).unwrap();
    std::fs::write(go(2), "").unwrap();
    wait_explained(
        "grove to say results.json is written again",
        || said().contains(&again).then_some(()),
        said,
    );

    disk.fill("filler");
    std::fs::write(go(3), "").unwrap();
    wait_for("grove to end", || grove.try_wait().unwrap());
    let out = said();
    assert!(
        out.contains(&format!("results: NOT written to {}", results.display())),
        "{out}"
    );
    assert!(
        !out.contains(&format!("results: {}", results.display())),
        "{out}"
    );
    std::fs::remove_file(disk.path().join("filler")).unwrap();

    // Whole lines only: every line is a journal line, and the last one ends.
    let journal = std::fs::read_to_string(repo.run_dir(&run_id).join("journal.jsonl")).unwrap();
    assert!(journal.ends_with('\n'), "{journal}");
    for line in journal.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not a journal line ({e}): {line}"));
    }
    // The journal is read: the run resumes when its last lines did not reach the disk, and is
    // said to have finished when they did.
    let resume = repo.grove(&["resume", &run_id, "--headless"]);
    let err = String::from_utf8_lossy(&resume.stderr).into_owned();
    assert!(
        matches!(resume.status.code(), Some(0 | 1))
            || (resume.status.code() == Some(2) && err.contains("has finished")),
        "{}",
        text(&resume)
    );
    assert_eq!(repo.results(&run_id)["total_tasks"], 3);
}
