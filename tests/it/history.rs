//! Run history and cleanup end to end: `grove ls`, `show`, `logs`, `clean` (merged and unmerged
//! branches, --force, --records), live runs left alone, and the notices about unfinished runs
//! and left-over worktrees. The real binary on real repositories.

use crate::support::*;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn ls_show_and_logs_describe_a_run() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::named("hist")
            .shell_task(
                "flaky",
                r#"if [ "$GROVE_ATTEMPT" = 1 ]; then printf '\033[31mboom\033[0m\nprogress 10%%\rprogress 100%%\n'; exit 1; fi; echo fine"#,
            )
            .retries(1)
            .with("backoff", Raw(r#"{ initial = "100ms", jitter = 0.0 }"#))
            .shell_task("steady", "echo steady > s.txt")
            .to_toml(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    assert_eq!(results["succeeded"], 2);

    let ls = repo.grove(&["ls"]);
    assert!(ls.status.success(), "{}", text(&ls));
    let line = stdout(&ls)
        .lines()
        .find(|l| l.contains(&run_id))
        .unwrap_or_else(|| panic!("{}", text(&ls)))
        .to_string();
    assert!(line.contains(" hist "), "{line}");
    assert!(line.contains("2 succeeded"), "{line}");
    assert!(line.trim_end().ends_with("finished"), "{line}");

    let show = repo.grove(&["show", &run_id]);
    assert!(show.status.success(), "{}", text(&show));
    let shown = stdout(&show);
    let flaky = shown
        .lines()
        .find(|l| l.trim_start().starts_with("flaky"))
        .unwrap_or_else(|| panic!("{shown}"));
    let cells: Vec<&str> = flaky.split_whitespace().collect();
    assert_eq!(&cells[..3], ["flaky", "succeeded", "2"], "{flaky}");
    assert!(flaky.contains(&format!("grove/{run_id}/flaky")), "{flaky}");
    assert!(shown.contains("2 of 2 succeeded"), "{shown}");
    assert!(shown.contains("state       finished"), "{shown}");
    assert!(shown.contains("results.json"), "{shown}");

    // The last attempt by default, raw.
    let last = repo.grove(&["logs", &run_id, "flaky"]);
    assert!(last.status.success(), "{}", text(&last));
    assert!(stdout(&last).contains("fine"));
    assert!(!stdout(&last).contains("boom"));
    // Attempt 1 raw keeps the escapes; --plain strips them and resolves the redraw.
    let raw = repo.grove(&["logs", &run_id, "flaky", "--attempt", "1"]);
    assert!(stdout(&raw).contains("\u{1b}[31mboom"), "{}", text(&raw));
    let plain = repo.grove(&["logs", &run_id, "flaky", "--attempt", "1", "--plain"]);
    let plain = stdout(&plain);
    assert!(plain.contains("boom\n"), "{plain:?}");
    assert!(plain.contains("progress 100%"), "{plain:?}");
    assert!(
        !plain.contains("progress 10%\n") && !plain.contains('\u{1b}'),
        "{plain:?}"
    );

    // What was asked does not exist: exit 2 with the reason.
    let missing = repo.grove(&["logs", &run_id, "flaky", "--attempt", "5"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(
        stderr(&missing).contains("logged attempts: 1, 2"),
        "{}",
        text(&missing)
    );
    for args in [
        vec!["show", "nope-20260101-000000"],
        vec!["logs", &run_id, "nope"],
        vec!["resume", "nope-20260101-000000"],
        vec!["clean", "nope-20260101-000000"],
        vec!["show", "../../etc"],
    ] {
        let out = repo.grove(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
}

#[test]
fn clean_removes_merged_branches_and_keeps_unmerged_ones_unless_forced() {
    let repo = Repo::new();
    let (out, _) = repo.run_plan(
        &Plan::named("cl")
            .shell_task("merged", "echo m > m.txt")
            .with("merge", "auto")
            .shell_task("unmerged", "echo u > u.txt")
            .shell_task("broken", "echo f > f.txt; exit 1")
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let run_id = run_id(&out);
    let worktrees = repo.path().join(".grove/worktrees").join(&run_id);
    assert!(
        worktrees.join("broken").exists(),
        "the failed task's worktree is kept"
    );
    let attempt_ref = format!("refs/grove/{run_id}/broken/attempt-1");
    assert_eq!(repo.git(&["show", &format!("{attempt_ref}:f.txt")]), "f");
    assert_eq!(repo.read("m.txt"), "m\n");

    let clean = repo.grove(&["clean", &run_id]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
    let said = stdout(&clean);
    assert!(said.contains("removed 1 worktree"), "{said}");
    assert!(
        said.contains("deleted 2 branches and 0 attempt refs"),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "kept 1 branch not merged into main (--force deletes them): grove/{run_id}/unmerged"
        )),
        "{said}"
    );
    // The failed attempt's saved work stays too.
    assert!(
        said.contains(&format!(
            "kept 1 attempt ref (work saved from failed or interrupted attempts; --force deletes them): {attempt_ref}"
        )),
        "{said}"
    );
    assert!(!worktrees.exists());
    assert_eq!(repo.git(&["worktree", "list"]).lines().count(), 1);
    assert_eq!(
        repo.git(&["branch", "--list", "grove/*"]).trim(),
        format!("grove/{run_id}/unmerged")
    );
    assert_eq!(repo.git(&["show", &format!("{attempt_ref}:f.txt")]), "f");
    // The records stay, and so does the merged work on main.
    assert!(repo.run_dir(&run_id).join("results.json").exists());
    assert!(repo.grove(&["show", &run_id]).status.success());
    assert_eq!(repo.read("m.txt"), "m\n");

    let forced = repo.grove(&["clean", &run_id, "--force", "--records"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    assert!(stdout(&forced).contains("deleted 1 branch and 1 attempt ref, removed its records"));
    assert_eq!(repo.git(&["branch", "--list", "grove/*"]), "");
    assert_eq!(repo.git(&["for-each-ref", "refs/grove"]), "");
    assert!(!repo.run_dir(&run_id).exists());
    assert!(stdout(&repo.grove(&["ls"])).contains("no runs"));
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

/// Starts a run of plan `name` whose one task, `waits`, writes w.txt and then waits as long as
/// the returned gate file is there; returns once the agent runs.
fn start_gated_run(repo: &Repo, name: &str) -> (Grove, String, std::path::PathBuf) {
    let gate = repo.home.path().join("block");
    std::fs::write(&gate, "").unwrap();
    let plan = Plan::named(name)
        .default("kill_grace", "200ms")
        .shell_task(
            "waits",
            &format!(
                "echo w > w.txt; {}",
                sh_wait_until(&format!("[ ! -f '{}' ]", gate.display()))
            ),
        )
        .to_toml();
    let grove = spawn_run(repo, &plan);
    let run_id = the_run(repo);
    wait_for("the agent to run", || {
        journal_states(repo, &run_id)
            .contains(&("waits".into(), "running".into()))
            .then_some(())
    });
    (grove, run_id, gate)
}

#[test]
fn live_runs_are_left_alone_and_unfinished_ones_are_pointed_out() {
    let repo = Repo::new();
    let (mut grove, run_id, gate) = start_gated_run(&repo, "live");

    let ls = stdout(&repo.grove(&["ls"]));
    assert!(
        ls.contains(&format!(
            "running (grove server {}, 1 attached)",
            grove.server_pid()
        )),
        "{ls}"
    );
    let resume = repo.grove(&["resume", &run_id, "--headless"]);
    assert_eq!(resume.status.code(), Some(2), "{}", text(&resume));
    assert!(
        stderr(&resume).contains("is still running"),
        "{}",
        text(&resume)
    );
    let clean = repo.grove(&["clean", &run_id]);
    assert_eq!(clean.status.code(), Some(2), "{}", text(&clean));
    assert!(stderr(&clean).contains("is running"), "{}", text(&clean));
    let all = repo.grove(&["clean", "--all"]);
    assert_eq!(all.status.code(), Some(0), "{}", text(&all));
    assert!(stdout(&all).contains("left alone"), "{}", text(&all));
    assert!(repo
        .path()
        .join(format!(".grove/worktrees/{run_id}/waits"))
        .exists());

    // SIGTERM stops it: the run is unfinished, and resumable.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(grove.id() as i32, libc::SIGTERM) };
    assert_eq!(grove.wait().unwrap().code(), Some(143));
    let ls = stdout(&repo.grove(&["ls"]));
    let line = ls.lines().find(|l| l.contains(&run_id)).unwrap();
    assert!(
        line.contains("1 cancelled") && line.contains("unfinished"),
        "{ls}"
    );
    assert!(ls.contains("grove resume"), "{ls}");

    // Cleaning keeps an unfinished run, which can still be resumed, unless --force.
    let all = repo.grove(&["clean", "--all"]);
    assert_eq!(all.status.code(), Some(0), "{}", text(&all));
    assert!(
        stdout(&all).contains(&format!(
            "{run_id}: unfinished, kept (grove resume {run_id} continues it; grove clean {run_id} --force removes it)"
        )),
        "{}",
        text(&all)
    );
    let one = repo.grove(&["clean", &run_id]);
    assert_eq!(one.status.code(), Some(2), "{}", text(&one));
    assert!(
        stderr(&one).contains(&format!("run '{run_id}' did not finish")),
        "{}",
        text(&one)
    );
    assert!(repo
        .path()
        .join(format!(".grove/worktrees/{run_id}/waits/w.txt"))
        .exists());
    assert!(repo.git(&["branch", "--list", "grove/*"]).contains(&run_id));

    // Running the plan again says the last run is unfinished and how to resume it.
    std::fs::remove_file(&gate).unwrap();
    let path = repo.home.path().join("plan.toml");
    let second = repo.grove(&["run", path.to_str().unwrap(), "--headless"]);
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        stderr(&second).contains(&format!(
            "the last run of plan 'live', {run_id}, did not finish; to continue it instead: grove resume {run_id}"
        )),
        "{}",
        text(&second)
    );
    // The next time it is no longer the plan's last run, but its worktree is still there.
    let third = repo.grove(&["run", path.to_str().unwrap(), "--headless"]);
    assert!(
        stderr(&third).contains(&format!(
            ".grove/worktrees/{run_id}/ holds worktrees of unfinished run {run_id}: grove resume {run_id} continues it, grove clean {run_id} --force removes them"
        )),
        "{}",
        text(&third)
    );

    // Resuming starts the cancelled task again; its interrupted attempt does not use up its
    // budget (retries = 0, yet a second attempt runs).
    let resumed = repo.grove(&["resume", &run_id, "--headless"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed));
    let results = repo.results(&run_id);
    let waits = task(&results, "waits");
    assert_eq!(waits["status"], "succeeded", "{waits:#}");
    let attempts = waits["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["status"], "cancelled");
    assert_eq!(
        attempts[0]["saved_ref"],
        format!("refs/grove/{run_id}/waits/attempt-1").as_str()
    );
    assert_eq!(results["interrupted"], false);
    assert!(stdout(&repo.grove(&["ls"]))
        .lines()
        .find(|l| l.contains(&run_id))
        .unwrap()
        .ends_with("finished"));
}

/// `grove show` on a run that is running: its tasks' states come from the journal, which is
/// current, not from results.json, which is only written when a task ends.
#[test]
fn show_tells_a_live_run_as_it_is() {
    let repo = Repo::new();
    let (mut grove, run_id, gate) = start_gated_run(&repo, "shown");
    let show = repo.grove(&["show", &run_id]);
    assert!(show.status.success(), "{}", text(&show));
    let shown = stdout(&show);
    let waits = shown
        .lines()
        .find(|l| l.trim_start().starts_with("waits"))
        .unwrap_or_else(|| panic!("{shown}"));
    let cells: Vec<&str> = waits.split_whitespace().collect();
    assert_eq!(&cells[..3], ["waits", "running", "1"], "{shown}");
    assert!(cells[3].ends_with('s'), "time so far: {shown}");
    assert!(!shown.contains("-0.0"), "{shown}");
    assert!(
        shown.contains(&format!("running (grove process {})", grove.server_pid())),
        "{shown}"
    );
    assert!(shown.contains("so far: 1 running"), "{shown}");
    assert!(!shown.contains("0 of 1 succeeded"), "{shown}");

    std::fs::remove_file(&gate).unwrap();
    assert_eq!(grove.wait().unwrap().code(), Some(0));
    let shown = stdout(&repo.grove(&["show", &run_id]));
    assert!(shown.contains("1 of 1 succeeded"), "{shown}");
}

#[test]
fn force_cleans_an_unfinished_run() {
    let repo = Repo::new();
    let (mut grove, run_id, _gate) = start_gated_run(&repo, "stopped");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(grove.id() as i32, libc::SIGTERM) };
    assert_eq!(grove.wait().unwrap().code(), Some(143));

    let clean = repo.grove(&["clean", &run_id, "--force", "--records"]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
    assert!(
        stdout(&clean).contains(
            "removed 1 worktree, deleted 1 branch and 1 attempt ref, removed its records"
        ),
        "{}",
        text(&clean)
    );
    assert!(!repo.path().join(".grove/worktrees").join(&run_id).exists());
    assert!(!repo.run_dir(&run_id).exists());
    assert_eq!(repo.git(&["for-each-ref", "refs/grove"]), "");
    assert_eq!(repo.git(&["branch", "--list", "grove/*"]), "");
}

/// Starts the engine in this process on an empty ad-hoc run (what bare `grove` does), hands
/// `front` to `drive`, then stops the run as quitting the dashboard does; returns the run's
/// records folder.
fn adhoc_run(
    repo: &Repo,
    drive: impl std::ops::AsyncFnOnce(&mut grove::engine::api::FrontEnd),
) -> std::path::PathBuf {
    use grove::engine::api::Command;
    let config = grove::plan::UserConfig::empty();
    let plan = grove::plan::grow::adhoc(repo.path(), &config);
    let target = grove::plan::resolve_repo(&plan, repo.path()).unwrap();
    crate::support::engine::runtime().block_on(async {
        let (mut front, engine) = crate::support::engine::start(plan, target, (24, 80));
        assert!(front.info.run_dir.is_dir(), "a live run has its records");
        drive(&mut front).await;
        front.commands.send(Command::Shutdown).unwrap();
        engine.await.unwrap();
        front.info.run_dir.clone()
    })
}

#[test]
fn an_adhoc_run_no_task_joined_leaves_no_records() {
    let repo = Repo::new();
    let run_dir = adhoc_run(&repo, async |_| {});
    assert!(!run_dir.exists(), "{} is left", run_dir.display());
    let ls = repo.grove(&["ls"]);
    assert!(stdout(&ls).starts_with("no runs in "), "{}", stdout(&ls));
}

#[test]
fn an_adhoc_run_a_task_joined_keeps_its_records() {
    use grove::engine::api::{Command, Event};
    let repo = Repo::new();
    let run_dir = adhoc_run(&repo, async |front| {
        let task = grove::plan::grow::NewTask {
            name: "one".into(),
            agent: "shell".into(),
            prompt: "echo done".into(),
            timeout: None,
            retries: None,
            keys: Default::default(),
        };
        front.commands.send(Command::AddTask { task }).unwrap();
        while let Some(event) = front.events.recv().await {
            if let Event::TaskChanged(view) = event {
                if view.status.is_final() {
                    break;
                }
            }
        }
    });
    assert!(run_dir.join("journal.jsonl").is_file());
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("results.json")).unwrap())
            .unwrap();
    assert_eq!(task(&results, "one")["status"], "succeeded", "{results:#}");
}
