//! kill -9 of grove (the repository's grove server, where runs live) at several points of a run (while agents run, during worktree creation,
//! during a commit, during a merge, and at a series of delays), then `grove resume`: no
//! succeeded task runs again, no file an agent wrote is lost, records are valid JSON after every
//! kill, and no agent process survives. The real binary, real git, real PTYs.

use crate::support::*;
use std::time::Duration;

fn resume(repo: &Repo, run_id: &str) -> serde_json::Value {
    let out = repo.grove(&["resume", run_id, "--headless"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(run_id_of(&out), run_id);
    repo.results(run_id)
}

fn run_id_of(out: &std::process::Output) -> String {
    run_id(out)
}

/// How many times the agent log says `task` started.
fn starts(log: &std::path::Path, task: &str) -> usize {
    lines(log)
        .iter()
        .filter(|l| l.split_whitespace().next() == Some(task))
        .count()
}

fn files_in(repo: &Repo, rev: &str) -> Vec<String> {
    repo.git(&["ls-tree", "-r", "--name-only", rev])
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn kill_9_while_agents_run_then_resume_keeps_finished_work_and_restarts_the_rest() {
    let repo = Repo::new();
    let log = agent_log(&repo);
    // `blocked` ignores SIGHUP and SIGTERM (so closing its terminal does not end it) and has a
    // grandchild; its first attempt never ends by itself.
    let plan = Plan::new()
        .default("kill_grace", "300ms")
        .shell_task(
            "done",
            &format!(
                r#"echo "done $GROVE_ATTEMPT $$" >> {log}; echo finished > done.txt"#,
                log = log.display(),
            ),
        )
        .shell_task(
            "blocked",
            &format!(
                r#"trap "" HUP TERM; echo "blocked $GROVE_ATTEMPT $$" >> {log}; echo "work of $GROVE_ATTEMPT" > work.txt; if [ "$GROVE_ATTEMPT" = 1 ]; then sleep 300 & echo "child $GROVE_ATTEMPT $!" >> {log}; while true; do sleep 0.1; done; fi"#,
                log = log.display(),
            ),
        )
        .to_toml();
    let (run_id, mut grove) =
        kill_run_when(&repo, &plan, "done to succeed while blocked runs", |id| {
            let child_started = lines(&log).iter().any(|l| l.starts_with("child 1"));
            child_started && succeeded(&repo, id).contains(&"done".to_string())
        });
    // `grove run`, a client of the killed server, ended by itself and said how to go on.
    let said = grove.stderr();
    assert!(
        said.contains("the grove server is gone")
            && said.contains(&format!("grove resume {run_id}")),
        "{said}"
    );
    assert_eq!(grove.try_wait().unwrap().and_then(|s| s.code()), Some(1));
    let first_attempt: Vec<i32> = lines(&log)
        .iter()
        .filter(|l| l.starts_with("blocked 1 ") || l.starts_with("child 1 "))
        .filter_map(|l| l.split_whitespace().nth(2)?.parse().ok())
        .collect();
    assert_eq!(first_attempt.len(), 2, "{:?}", lines(&log));
    assert!(
        first_attempt.iter().all(|&pid| alive(pid)),
        "the agent should outlive its grove server: {first_attempt:?}"
    );
    let states = journal_states(&repo, &run_id);
    assert!(
        states.contains(&("blocked".into(), "running".into())),
        "{states:?}"
    );

    let results = resume(&repo, &run_id);

    // Nothing of the first attempt survives the resume.
    for pid in &first_attempt {
        assert!(
            !alive(*pid),
            "process {pid} of the interrupted attempt survived"
        );
    }
    let audit = repo.audit(&run_id);
    assert!(
        audit
            .iter()
            .any(|l| l["event"] == "kill" && l["reason"] == "left over from before the resume"),
        "no kill of the leftovers in the audit log"
    );
    // The succeeded task kept its result and did not run again.
    assert_eq!(starts(&log, "done"), 1, "{:?}", lines(&log));
    let done = task(&results, "done");
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(
        repo.git(&["show", &format!("grove/{run_id}/done:done.txt")]),
        "finished"
    );
    assert!(!repo
        .path()
        .join(format!(".grove/worktrees/{run_id}/done"))
        .exists());
    // The interrupted attempt is on record, its files on its attempt ref; a new attempt ran in
    // a clean worktree.
    let blocked = task(&results, "blocked");
    assert_eq!(blocked["status"], "succeeded", "{blocked:#}");
    let attempts = blocked["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{blocked:#}");
    assert_eq!(attempts[0]["status"], "cancelled");
    assert!(attempts[0]["error"]
        .as_str()
        .unwrap()
        .contains("interrupted"));
    let saved = format!("refs/grove/{run_id}/blocked/attempt-1");
    assert_eq!(attempts[0]["saved_ref"], saved.as_str());
    assert_eq!(
        repo.git(&["show", &format!("{saved}:work.txt")]),
        "work of 1"
    );
    assert_eq!(attempts[1]["status"], "succeeded");
    assert_eq!(
        repo.git(&["show", &format!("grove/{run_id}/blocked:work.txt")]),
        "work of 2"
    );
    assert_eq!(results["interrupted"], false);
    assert!(results["completed_at"].is_string());
    assert_eq!(results["succeeded"], 2);

    // A finished run is not resumed again.
    let again = repo.grove(&["resume", &run_id, "--headless"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("has finished"));
}

#[test]
fn kill_9_during_worktree_creation_then_resume() {
    let repo = Repo::new();
    // Many files make checking out a worktree take a while.
    for dir in 0..20 {
        for file in 0..150 {
            repo.write(
                &format!("src/d{dir}/f{file}.txt"),
                &format!("{dir} {file}\n"),
            );
        }
    }
    repo.commit_all("a big tree");
    let log = agent_log(&repo);
    // Two at a time: the third task's worktree is created only once one of the first two has
    // ended, so the kill comes with a task done and a worktree half created.
    let prompt = logging_prompt(&log, "out-$GROVE_TASK.txt");
    let plan = Plan::new()
        .set("max_parallel", 2)
        .shell_task("a", &prompt)
        .shell_task("b", &prompt)
        .shell_task("c", &prompt)
        .to_toml();
    let (run_id, _grove) = kill_run_when(
        &repo,
        &plan,
        "a task to succeed and another to start preparing",
        |id| {
            let states = journal_states(&repo, id);
            states.iter().any(|(_, s)| s == "succeeded")
                && states.iter().any(|(_, s)| s == "preparing")
        },
    );
    let done_before = succeeded(&repo, &run_id);
    assert!(!done_before.is_empty(), "the kill point has a task done");
    let starts_before: Vec<usize> = ["a", "b", "c"].iter().map(|t| starts(&log, t)).collect();

    let results = resume(&repo, &run_id);
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        let t = task(&results, name);
        assert_eq!(t["status"], "succeeded", "{t:#}");
        assert_eq!(
            repo.git(&["show", &format!("grove/{run_id}/{name}:out-{name}.txt")]),
            *name
        );
        assert_eq!(
            files_in(&repo, &format!("grove/{run_id}/{name}")).len(),
            3002
        );
        if done_before.contains(&name.to_string()) {
            assert_eq!(starts(&log, name), starts_before[i], "{name} ran again");
        }
    }
    for pid in logged_pids(&log) {
        assert!(!alive(pid));
    }
    // git's own view of the worktrees is consistent again.
    repo.git(&["worktree", "prune"]);
    repo.git(&["fsck", "--no-progress"]);
}

#[test]
fn kill_9_during_a_commit_then_resume_loses_no_file() {
    let repo = Repo::new();
    let log = agent_log(&repo);
    // Thousands of new files make committing them take a while; the kill comes as soon as the
    // agent has exited, when grove commits.
    let plan = Plan::new()
        .shell_task(
            "writer",
            &format!(
                r#"echo "writer $GROVE_ATTEMPT $$" >> {log}; i=0; while [ $i -lt 3000 ]; do echo "$i" > "f$i.txt"; i=$((i+1)); done"#,
                log = log.display(),
            ),
        )
        .to_toml();
    let (run_id, _grove) = kill_run_when(&repo, &plan, "the agent to exit", |id| {
        std::fs::read_to_string(repo.run_dir(id).join("audit.log"))
            .is_ok_and(|audit| audit.contains("\"event\":\"exit\""))
    });
    let done_before = succeeded(&repo, &run_id).contains(&"writer".to_string());

    let results = resume(&repo, &run_id);
    let writer = task(&results, "writer");
    assert_eq!(writer["status"], "succeeded", "{writer:#}");
    let branch = format!("grove/{run_id}/writer");
    assert_eq!(files_in(&repo, &branch).len(), 3001);
    if done_before {
        assert_eq!(starts(&log, "writer"), 1);
    } else {
        // It ran again; what the interrupted attempt wrote is on its attempt ref.
        assert_eq!(starts(&log, "writer"), 2);
        let saved = format!("refs/grove/{run_id}/writer/attempt-1");
        assert_eq!(writer["attempts"][0]["saved_ref"], saved.as_str());
        assert_eq!(files_in(&repo, &saved).len(), 3001);
    }
}

#[test]
fn kill_9_during_a_merge_then_resume_finishes_the_merge() {
    let repo = Repo::new();
    // The base is a branch that is not checked out, so merging never touches the main checkout.
    repo.git(&["branch", "target"]);
    let log = agent_log(&repo);
    let prompt = logging_prompt(&log, "$GROVE_TASK.txt");
    let plan = Plan::new()
        .set("base", "target")
        .default("merge", "auto")
        .shell_task("one", &prompt)
        .shell_task("two", &prompt)
        .to_toml();
    let (run_id, _grove) = kill_run_when(&repo, &plan, "a merge to be requested", |id| {
        journal(&repo, id)
            .iter()
            .any(|l| l["entry"] == "merge" && l["state"] == "pending")
    });
    let done_before = succeeded(&repo, &run_id);
    assert!(!done_before.is_empty());
    // The lock a merge holds while it runs, as a kill in the middle of one leaves it (whether
    // or not this kill did), when the journal says a merge was under way: resume clears it
    // before merging again.
    let mut last_merge = std::collections::HashMap::new();
    for line in journal(&repo, &run_id) {
        if line["entry"] == "merge" {
            last_merge.insert(line["task"].to_string(), line["state"].to_string());
        }
    }
    if last_merge.values().any(|state| state == "\"pending\"") {
        std::fs::write(repo.path().join(".git/refs/heads/target.lock"), "").unwrap();
    }

    let results = resume(&repo, &run_id);
    for name in ["one", "two"] {
        let t = task(&results, name);
        assert_eq!(t["status"], "succeeded");
        assert_eq!(t["merge"]["state"], "merged", "{t:#}");
        assert_eq!(repo.git(&["show", &format!("target:{name}.txt")]), name);
        if done_before.contains(&name.to_string()) {
            assert_eq!(starts(&log, name), 1, "{name} ran again");
        }
    }
    // main and its checkout were never touched.
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

#[test]
fn a_merge_into_the_checked_out_base_killed_half_way_is_finished_on_resume() {
    let repo = Repo::new();
    let log = agent_log(&repo);
    // The base is main, checked out in the repository: a merge writes its files, then moves it.
    let prompt = format!(
        "{}; echo '# changed by one' > README.md",
        logging_prompt(&log, "one.txt")
    );
    // `hold` keeps the run from finishing (and its records from being final) however fast the
    // merge is, so the kill always lands on a live run; it ends on resume.
    let go = repo.home.path().join("go");
    let plan = Plan::new()
        .default("merge", "auto")
        .shell_task("one", &prompt)
        .shell_task("hold", &sh_wait_for_file(&go))
        .to_toml();
    let (run_id, _grove) = kill_run_when(&repo, &plan, "the merge to be requested", |id| {
        journal(&repo, id)
            .iter()
            .any(|l| l["entry"] == "merge" && l["state"] == "pending")
    });
    // Wherever the kill landed, leave the checkout as a merge killed while writing its files
    // would: README.md already merged, one.txt perhaps not yet, main not moved (unless it was).
    repo.write("README.md", "# changed by one\n");
    std::fs::write(&go, "").unwrap();

    let results = resume(&repo, &run_id);
    let one = task(&results, "one");
    assert_eq!(one["merge"]["state"], "merged", "{one:#}");
    assert_eq!(starts(&log, "one"), 1, "one ran again");
    assert_eq!(repo.git(&["show", "main:one.txt"]), "one");
    assert_eq!(repo.git(&["show", "main:README.md"]), "# changed by one");
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

/// One run of a plan with retries, a dependency, auto merges and an agent that ignores SIGHUP,
/// killed after `delay` (and, with `kill_resume`, its first resume killed too), then resumed.
fn kill_at(delay: Duration, kill_resume: Option<Duration>) {
    let repo = Repo::new();
    repo.git(&["branch", "target"]);
    let log = agent_log(&repo);
    let plan = Plan::new()
        .set("base", "target")
        .default("merge", "auto")
        .default("kill_grace", "200ms")
        .default("backoff", Raw(r#"{ initial = "200ms", jitter = 0.0 }"#))
        .shell_task(
            "a",
            &format!(
                r#"echo "a $GROVE_ATTEMPT $$" >> {log}; echo a > a.txt"#,
                log = log.display(),
            ),
        )
        .shell_task(
            "b",
            &format!(
                r#"echo "b $GROVE_ATTEMPT $$" >> {log}; echo "b $GROVE_ATTEMPT" > b.txt; [ "$GROVE_ATTEMPT" != 1 ]"#,
                log = log.display(),
            ),
        )
        .retries(1)
        .shell_task(
            "c",
            &format!(
                r#"echo "c $GROVE_ATTEMPT $$" >> {log}; sleep 1; echo c > c.txt"#,
                log = log.display(),
            ),
        )
        .depends_on(&["a"])
        .shell_task(
            "d",
            &format!(
                r#"trap "" HUP; echo "d $GROVE_ATTEMPT $$" >> {log}; sleep 3; echo d > d.txt"#,
                log = log.display(),
            ),
        )
        .to_toml();
    let mut grove = spawn_run(&repo, &plan);
    let run_id = the_run(&repo);
    std::thread::sleep(delay);
    kill9(&mut grove);
    assert_records_valid(&repo, &run_id);
    let mut done_before = succeeded(&repo, &run_id);
    let mut counts: Vec<(String, usize)> = ["a", "b", "c", "d"]
        .iter()
        .map(|t| (t.to_string(), starts(&log, t)))
        .collect();
    // Killed resumes stay here until the test is over, so their leftovers are resume's to stop.
    let mut killed_resumes = Vec::new();
    if let Some(after) = kill_resume {
        let mut resumed = spawn_grove(&repo, &["resume", &run_id, "--headless"]);
        std::thread::sleep(after);
        kill9(&mut resumed);
        killed_resumes.push(resumed);
        assert_records_valid(&repo, &run_id);
        // Tasks that succeeded before the first kill did not run in the killed resume.
        for (name, before) in &counts {
            if done_before.contains(name) {
                assert_eq!(starts(&log, name), *before, "{name} ran again");
            }
        }
        done_before = succeeded(&repo, &run_id);
        counts = counts
            .into_iter()
            .map(|(t, _)| {
                let n = starts(&log, &t);
                (t, n)
            })
            .collect();
    }

    // On a fast machine the run may have finished before the kill: then there is nothing to
    // resume, and the invariants below hold all the same.
    let finished = journal(&repo, &run_id)
        .iter()
        .any(|l| l["entry"] == "run_finished" && l["interrupted"] == false);
    let results = if finished {
        repo.results(&run_id)
    } else {
        resume(&repo, &run_id)
    };
    assert_eq!(results["succeeded"], 4, "{results:#}");
    for (name, before) in &counts {
        let t = task(&results, name);
        assert_eq!(t["merge"]["state"], "merged", "{t:#}");
        let file = format!("{name}.txt");
        assert!(files_in(&repo, &format!("grove/{run_id}/{name}")).contains(&file));
        assert!(files_in(&repo, "target").contains(&file));
        if done_before.contains(name) {
            assert_eq!(starts(&log, name), *before, "{name} ran again");
        }
        // Every attempt that did not succeed left its files on its attempt ref.
        for attempt in t["attempts"].as_array().unwrap() {
            if attempt["status"] != "succeeded" {
                if let Some(saved) = attempt["saved_ref"].as_str() {
                    repo.git(&["rev-parse", "--verify", saved]);
                }
            }
        }
    }
    for pid in logged_pids(&log) {
        assert!(!alive(pid), "agent process {pid} survived");
    }
    assert_records_valid(&repo, &run_id);
}

#[test]
fn kill_9_at_a_series_of_moments_then_resume() {
    for ms in [150, 400, 700, 1100, 1600, 2300] {
        kill_at(Duration::from_millis(ms), None);
    }
}

#[test]
fn a_killed_resume_can_be_resumed_again() {
    kill_at(Duration::from_millis(500), Some(Duration::from_millis(400)));
}

/// A task started from the dashboard while the run went on (`Command::AddTask`, here sent to
/// the engine in this process) is part of the run when it is resumed after grove died.
#[test]
fn a_task_added_while_running_is_resumed_with_the_run() {
    use grove::engine::api::{Command, Event, TaskStatus};
    use grove::plan::grow::NewTask;

    let repo = Repo::new();
    let log = agent_log(&repo);
    let plan_path = repo.home.path().join("plan.toml");
    let text = format!(
        r#"
name = "grown"
[defaults]
sandbox_write = ["{home}"]   # the log; the engine runs here, without the test's user config
[[tasks]]
name = "first"
agent = "shell"
prompt = '''echo "first $GROVE_ATTEMPT $$" >> {log}; echo one > one.txt; if [ "$GROVE_ATTEMPT" = 1 ]; then while true; do sleep 0.1; done; fi'''
"#,
        log = log.display(),
        home = repo.home.path().display()
    );
    std::fs::write(&plan_path, &text).unwrap();
    let plan = grove::plan::load_str(&text, &plan_path, grove::plan::PlanFormat::Toml).unwrap();
    let target = grove::plan::resolve_repo(&plan, repo.path()).unwrap();
    let runtime = engine::runtime();
    let run_id = runtime.block_on(async {
        let (mut front, _engine) = engine::start(plan, target, (24, 80));
        front
            .commands
            .send(Command::AddTask {
                task: NewTask {
                    name: "later".into(),
                    agent: "shell".into(),
                    prompt: format!(
                        "echo \"later $GROVE_ATTEMPT $$\" >> {}; echo two > two.txt",
                        log.display()
                    ),
                    timeout: None,
                    retries: None,
                    keys: Default::default(),
                },
            })
            .unwrap();
        while let Some(event) = front.events.recv().await {
            if let Event::TaskChanged(view) = event {
                if view.name == "later" && view.status == TaskStatus::Succeeded {
                    break;
                }
            }
        }
        front.info.run_id
    });
    // The engine dies with its runtime, without finishing: as if grove had been killed.
    drop(runtime);
    let states = journal_states(&repo, &run_id);
    assert!(
        states.contains(&("first".into(), "running".into())),
        "{states:?}"
    );

    let results = resume(&repo, &run_id);
    assert_eq!(results["total_tasks"], 2, "{results:#}");
    assert_eq!(results["succeeded"], 2, "{results:#}");
    assert_eq!(starts(&log, "later"), 1, "the added task ran again");
    assert_eq!(
        task(&results, "later")["attempts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        repo.git(&["show", &format!("grove/{run_id}/later:two.txt")]),
        "two"
    );
    let first = task(&results, "first");
    assert_eq!(first["attempts"].as_array().unwrap().len(), 2, "{first:#}");
    for pid in logged_pids(&log) {
        assert!(!alive(pid), "agent process {pid} survived");
    }
}

/// The prompt of task `slow` in the tests below: logs `slow <attempt> <pid>` to `log`, writes
/// `out.txt`, and never ends in its first attempt.
fn slow_prompt(log: &std::path::Path) -> String {
    format!(
        r#"echo "slow $GROVE_ATTEMPT $$" >> {log}; echo "from the file" > out.txt; if [ "$GROVE_ATTEMPT" = 1 ]; then while true; do sleep 0.1; done; fi"#,
        log = log.display()
    )
}

/// Runs a plan of the one task `slow`, its prompt given by `prompt_line`, and kills grove while
/// the task's first attempt runs.
fn kill_slow_run(repo: &Repo, log: &std::path::Path, prompt_line: &str) -> (String, Grove) {
    let plan = format!(
        "name = \"p\"\n[defaults]\nkill_grace = \"300ms\"\n[[tasks]]\nname = \"slow\"\nagent = \"shell\"\n{prompt_line}\n"
    );
    kill_run_when(repo, &plan, "the first attempt to start", |_| {
        lines(log).iter().any(|l| l.starts_with("slow 1 "))
    })
}

/// A run whose prompt came from a `prompt_file` resumes with the prompt it started with, though
/// the file is gone by then: resume takes prompts from the journal, never from the files.
#[test]
fn a_run_resumes_with_its_recorded_prompt_when_the_prompt_file_is_gone() {
    let repo = Repo::new();
    let log = agent_log(&repo);
    // A prompt file must be inside the run's repository (the plan is beside HOME).
    let prompts = repo.path().join("prompts");
    std::fs::create_dir(&prompts).unwrap();
    let prompt = slow_prompt(&log);
    std::fs::write(prompts.join("slow.sh"), &prompt).unwrap();
    let line = format!(
        "prompt_file = {:?}",
        prompts.join("slow.sh").to_str().unwrap()
    );
    let (run_id, _grove) = kill_slow_run(&repo, &log, &line);
    std::fs::remove_dir_all(&prompts).unwrap();

    let results = resume(&repo, &run_id);

    let slow = task(&results, "slow");
    assert_eq!(slow["status"], "succeeded", "{slow:#}");
    assert_eq!(slow["attempts"].as_array().unwrap().len(), 2, "{slow:#}");
    assert_eq!(starts(&log, "slow"), 2, "{:?}", lines(&log));
    assert_eq!(repo.envelope(&run_id, "slow")["prompt"], prompt.as_str());
    assert_eq!(
        repo.git(&["show", &format!("grove/{run_id}/slow:out.txt")]),
        "from the file"
    );
    for pid in logged_pids(&log) {
        assert!(!alive(pid), "agent process {pid} survived");
    }
}

#[test]
fn a_race_sibling_discarded_before_the_kill_is_not_run_again_on_resume() {
    let repo = Repo::new();
    let log = agent_log(&repo);
    // job.1 passes at once and is picked; job.2 ignores SIGTERM, so it is still being stopped
    // (its grace is 2 s) when grove is killed. A second start of job.2 would end at once, so
    // the run still finishes if it wrongly runs again.
    let plan = Plan::new()
        .set("max_parallel", 2)
        .shell_task(
            "job",
            &format!(
                r#"echo "$GROVE_TASK $GROVE_ATTEMPT $$" >> {log}
case "$GROVE_TASK/$GROVE_ATTEMPT" in
  job.1/*) echo one > one.txt ;;
  job.2/1) trap "" TERM; while true; do sleep 0.1; done ;;
esac
"#,
                log = log.display()
            ),
        )
        .with("replicas", 2)
        .with("pick", "first-passing")
        .with("kill_grace", "2s")
        .to_toml();
    let (run_id, _grove) = kill_run_when(&repo, &plan, "job.2 to be discarded", |id| {
        let entries = journal(&repo, id);
        let job2_started = entries
            .iter()
            .any(|l| l["entry"] == "spawned" && l["task"] == "job.2");
        let discarded = entries
            .iter()
            .any(|l| l["entry"] == "merge" && l["task"] == "job.2" && l["state"] == "discarded");
        job2_started && discarded
    });
    assert!(
        journal_states(&repo, &run_id).contains(&("job.2".into(), "running".into())),
        "job.2 ended before the kill"
    );

    let results = resume(&repo, &run_id);
    assert_eq!(starts(&log, "job.2"), 1, "the discarded sibling ran again");
    let job2 = task(&results, "job.2");
    assert_eq!(job2["status"], "cancelled", "{job2:#}");
    assert_eq!(job2["merge"]["state"], "discarded", "{job2:#}");
    assert_eq!(task(&results, "job.1")["merge"]["state"], "merged");
    for pid in logged_pids(&log) {
        assert!(!alive(pid), "agent process {pid} survived");
    }
}

/// A resume that cannot open the run's audit log fails with exit code 1 (no panic) and changes
/// nothing: once the log can be opened again, the run resumes.
#[test]
fn a_resume_that_cannot_open_the_audit_log_exits_1_and_can_be_retried() {
    let repo = Repo::new();
    let log = agent_log(&repo);
    let prompt = format!("prompt = '''{}'''", slow_prompt(&log));
    let (run_id, _grove) = kill_slow_run(&repo, &log, &prompt);
    let audit = repo.run_dir(&run_id).join("audit.log");
    let kept = std::fs::read(&audit).unwrap();
    std::fs::remove_file(&audit).unwrap();
    std::fs::create_dir(&audit).unwrap();
    let journal_before = journal(&repo, &run_id).len();

    let out = repo.grove(&["resume", &run_id, "--headless"]);

    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("audit.log: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(journal(&repo, &run_id).len(), journal_before);
    assert_eq!(starts(&log, "slow"), 1, "{:?}", lines(&log));

    std::fs::remove_dir(&audit).unwrap();
    std::fs::write(&audit, kept).unwrap();
    let results = resume(&repo, &run_id);
    assert_eq!(task(&results, "slow")["status"], "succeeded");
    assert_eq!(starts(&log, "slow"), 2, "{:?}", lines(&log));
}

/// A plan whose `done` task succeeds at once and whose `slow` task runs until `go` exists in the
/// test's home.
fn merge_later_plan(repo: &Repo) -> String {
    Plan::new()
        .shell_task("done", "echo done > done.txt")
        .shell_task(
            "slow",
            &format!(
                "{} echo slow > slow.txt",
                sh_wait_for_file(&repo.home.path().join("go"))
            ),
        )
        .to_toml()
}

fn done_succeeded(repo: &Repo, run_id: &str) -> bool {
    succeeded(repo, run_id).contains(&"done".to_string())
}

#[test]
fn grove_merge_refuses_a_running_run_and_changes_nothing() {
    let repo = Repo::new();
    let _grove = spawn_run(&repo, &merge_later_plan(&repo));
    let run_id = the_run(&repo);
    wait_for("done to succeed", || {
        done_succeeded(&repo, &run_id).then_some(())
    });
    let main_before = repo.git(&["rev-parse", "main"]);

    let out = repo.grove(&["merge", &run_id, "done"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("is running"), "{}", text(&out));
    assert_eq!(repo.git(&["rev-parse", "main"]), main_before);
    std::fs::write(repo.home.path().join("go"), "").unwrap();
}

#[test]
fn a_merge_of_an_unfinished_run_is_kept_when_it_is_resumed() {
    let repo = Repo::new();
    let (run_id, _grove) = kill_run_when(&repo, &merge_later_plan(&repo), "done", |id| {
        done_succeeded(&repo, id)
    });
    let out = repo.grove(&["merge", &run_id, "done"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(repo.git(&["show", "main:done.txt"]), "done");

    std::fs::write(repo.home.path().join("go"), "").unwrap();
    let results = resume(&repo, &run_id);
    let done = task(&results, "done");
    assert_eq!(done["merge"]["state"], "merged", "{done:#}");
    assert_eq!(
        done["merge"]["commit"].as_str(),
        Some(repo.git(&["rev-parse", "main"]).as_str())
    );
    assert_eq!(task(&results, "slow")["status"], "succeeded");
}
