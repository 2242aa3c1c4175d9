//! Strategies and dependencies end to end, with shell agents that log their start and end times
//! and their prompt.

use crate::support::*;

/// Under `pass_output` the earlier outputs are appended to a shell prompt, so scripts that may
/// receive them end with `exit`.
/// A shell prompt that logs `start <ns> <task>` and `end <ns> <task>` to `log`, sleeping between.
fn logging(log: &std::path::Path, sleep: &str, extra: &str) -> String {
    format!(
        r#"echo "start $(date +%s%N) $GROVE_TASK" >> {log}; sleep {sleep}; {extra} echo "end $(date +%s%N) $GROVE_TASK" >> {log};"#,
        log = log.display()
    )
}

/// (kind, time, task) entries, sorted by time.
fn spans(log: &std::path::Path) -> Vec<(String, u128, String)> {
    let mut v: Vec<(String, u128, String)> = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let mut it = l.split_whitespace();
            (
                it.next().unwrap().to_string(),
                it.next().unwrap().parse().unwrap(),
                it.next().unwrap().to_string(),
            )
        })
        .collect();
    v.sort_by_key(|(_, t, _)| *t);
    v
}

fn time_of(spans: &[(String, u128, String)], kind: &str, task: &str) -> u128 {
    spans
        .iter()
        .find(|(k, _, t)| k == kind && t == task)
        .unwrap_or_else(|| panic!("no {kind} of {task} in {spans:?}"))
        .1
}

#[test]
fn sequential_runs_in_plan_order_and_passes_output() {
    let repo = Repo::new();
    let log = repo.path().join("spans.log");
    let plan = Plan::new()
        .set("strategy", "sequential")
        .set("pass_output", true)
        .set("max_parallel", 4)
        .shell_task(
            "a",
            &format!(
                r#"{a} echo "output of a"; exit 0"#,
                a = logging(&log, "0.2", "")
            ),
        )
        .shell_task(
            "b",
            &format!(
                r#"{b} echo "output of b"; exit 0"#,
                b = logging(&log, "0.2", "")
            ),
        )
        .shell_task("c", &format!("{c} exit 0", c = logging(&log, "0.1", "")))
        .to_toml();
    let (out, results) = repo.run_plan(&plan);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(results["strategy"], "sequential");
    let s = spans(&log);
    let order: Vec<&str> = s
        .iter()
        .map(|(k, _, t)| if k == "start" { t.as_str() } else { "-" })
        .filter(|t| *t != "-")
        .collect();
    assert_eq!(order, vec!["a", "b", "c"]);
    assert!(time_of(&s, "end", "a") <= time_of(&s, "start", "b"));
    assert!(time_of(&s, "end", "b") <= time_of(&s, "start", "c"));

    // c's envelope carries a's and b's outputs, in order, and its prompt has the section.
    let run_id = run_id(&out);
    let envelope: serde_json::Value = repo.envelope(&run_id, "c");
    let previous = envelope["context"]["previous_outputs"].as_array().unwrap();
    assert_eq!(previous.len(), 2);
    assert_eq!(previous[0]["task"], "a");
    assert!(previous[0]["output"]
        .as_str()
        .unwrap()
        .contains("output of a"));
    assert_eq!(previous[1]["task"], "b");
    let prompt = envelope["prompt"].as_str().unwrap();
    assert!(
        prompt.contains("## Output of earlier tasks\n\n### a\n"),
        "{prompt}"
    );
    assert!(prompt.contains("output of b"), "{prompt}");
    let first: serde_json::Value = repo.envelope(&run_id, "a");
    assert!(first["context"].get("previous_outputs").is_none());
}

#[test]
fn passed_output_is_capped_at_32_kib() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .set("strategy", "sequential")
            .set("pass_output", true)
            .shell_task(
                "big",
                r#"python3 -c "import json,os; json.dump('A'*20000 + 'B'*30000, open(os.environ['GROVE_RESULT'],'w'))""#,
            )
            .shell_task(
                "reader",
                r#"python3 -c "import json,os; e=json.load(open(os.environ['GROVE_ENVELOPE'])); json.dump(e['prompt'], open(os.environ['GROVE_RESULT'],'w'))"; exit $?"#,
            )
            .to_toml(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let prompt = task(&results, "reader")["output"]
        .as_str()
        .unwrap()
        .to_string();
    let section = prompt
        .split("## Output of earlier tasks\n\n")
        .nth(1)
        .unwrap();
    assert!(section.len() <= 32 * 1024 + 1, "{}", section.len());
    assert!(
        section.starts_with("[... earlier output cut ...]"),
        "{}",
        &section[..80]
    );
    assert!(section.trim_end().ends_with(&"B".repeat(100)));
}

#[test]
fn sequential_stop_on_failure_skips_the_rest() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .set("strategy", "sequential")
            .set("stop_on_failure", true)
            .shell_task("a", "true")
            .shell_task("b", "exit 3")
            .shell_task("c", "touch ran")
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(task(&results, "b")["status"], "failed");
    let c = task(&results, "c");
    assert_eq!(c["status"], "skipped");
    assert_eq!(c["error"], "stop_on_failure: 'b' failed");
    assert!(String::from_utf8_lossy(&out.stdout).contains("stop_on_failure: 'b' failed"));
}

#[test]
fn fallback_stops_at_the_first_success_and_exits_0() {
    let repo = Repo::new();
    let log = repo.path().join("spans.log");
    let plan = Plan::new()
        .set("strategy", "fallback")
        .shell_task(
            "first",
            &format!("{a} exit 1", a = logging(&log, "0.1", "")),
        )
        .shell_task("second", &format!("{b} true", b = logging(&log, "0.1", "")))
        .shell_task("third", &format!("{c} true", c = logging(&log, "0.1", "")))
        .to_toml();
    let (out, results) = repo.run_plan(&plan);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(task(&results, "first")["status"], "failed");
    assert_eq!(task(&results, "second")["status"], "succeeded");
    assert_eq!(task(&results, "third")["status"], "skipped");
    assert_eq!(
        task(&results, "third")["error"],
        "not needed: 'second' succeeded"
    );
    let s = spans(&log);
    assert!(!s.iter().any(|(_, _, t)| t == "third"));
    assert!(time_of(&s, "end", "first") <= time_of(&s, "start", "second"));
}

#[test]
fn batched_chunks_wait_for_each_other() {
    let repo = Repo::new();
    let log = repo.path().join("spans.log");
    // `a` ends only after `b` has started: the tasks of a chunk must run side by side.
    let b_started = repo.home.path().join("b-started");
    let mut plan = Plan::new()
        .set("strategy", "batched")
        .set("batch_size", 2)
        .set("pass_output", true)
        .set("max_parallel", 4);
    for (i, n) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        // Different lengths inside a chunk, so a chunk's end is its slowest task's end.
        let sleep = if i % 2 == 0 { "0.5" } else { "0.1" };
        let prompt = match *n {
            "a" => logging(&log, "0", &sh_wait_for_file(&b_started)),
            "b" => logging(&log, sleep, &format!("touch '{}';", b_started.display())),
            _ => logging(&log, sleep, ""),
        };
        plan = plan.shell_task(n, &format!("{prompt} exit 0"));
    }
    let plan = plan.to_toml();
    let (out, results) = repo.run_plan(&plan);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(results["strategy"], "batched");
    let s = spans(&log);
    let chunks = [vec!["a", "b"], vec!["c", "d"], vec!["e"]];
    for k in 0..chunks.len() - 1 {
        let chunk_end = chunks[k]
            .iter()
            .map(|t| time_of(&s, "end", t))
            .max()
            .unwrap();
        for t in &chunks[k + 1] {
            assert!(
                time_of(&s, "start", t) >= chunk_end,
                "{t} started before chunk {k} ended"
            );
        }
    }
    // Within a chunk the tasks overlap (they run in parallel).
    assert!(time_of(&s, "start", "b") < time_of(&s, "end", "a"));
    // e gets the outputs of chunks 1 and 2, not its own chunk's.
    let run_id = run_id(&out);
    let envelope: serde_json::Value = repo.envelope(&run_id, "e");
    let names: Vec<&str> = envelope["context"]["previous_outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["task"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["a", "b", "c", "d"]);
}

#[test]
fn fail_fast_cancels_running_agents_and_skips_pending() {
    let repo = Repo::new();
    let pid_file = repo.path().join("slow.pid");
    let (out, results) = repo.run_plan(
        &Plan::new()
            .set("fail_fast", true)
            .set("max_parallel", 2)
            .default("kill_grace", "300ms")
            .shell_task(
                "slow",
                &format!(
                    "sleep 300 & echo $! > {pid}; wait",
                    pid = pid_file.display()
                ),
            )
            .shell_task(
                "broken",
                &format!(
                    "{} exit 1",
                    sh_wait_until(&format!("[ -s '{}' ]", pid_file.display()))
                ),
            )
            .shell_task("later", "true")
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(task(&results, "broken")["status"], "failed");
    let slow = task(&results, "slow");
    assert_eq!(slow["status"], "cancelled");
    assert!(
        slow["error"].as_str().unwrap().contains("fail_fast"),
        "{slow:#}"
    );
    let later = task(&results, "later");
    assert_eq!(later["status"], "skipped");
    assert_eq!(later["error"], "fail_fast: 'broken' failed");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!alive(pid), "the slow agent's child survived");
}

#[test]
fn skips_propagate_through_a_chain_of_three() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .shell_task("a", "exit 1")
            .shell_task("b", "true")
            .depends_on(&["a"])
            .shell_task("c", "true")
            .depends_on(&["b"])
            .shell_task("free", "true")
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(task(&results, "b")["error"], "dependency 'a' failed");
    assert_eq!(task(&results, "c")["status"], "skipped");
    assert_eq!(task(&results, "c")["error"], "dependency 'b' was skipped");
    assert_eq!(task(&results, "free")["status"], "succeeded");
    assert_eq!(results["skipped"], 2);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("dependency 'a' failed"), "{stdout}");
}

#[test]
fn a_dependent_task_starts_with_its_dependencies_files() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .shell_task("models", "echo model > models.txt")
            .shell_task("views", "echo view > views.txt")
            .shell_task("app", "cat models.txt views.txt > app.txt")
            .depends_on(&["models", "views"])
            .to_toml(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    assert_eq!(
        repo.git(&["show", &format!("grove/{run_id}/app:app.txt")]),
        "model\nview"
    );
    assert_eq!(task(&results, "app")["status"], "succeeded");
}

#[test]
fn conflicting_dependencies_fail_the_task_before_it_starts() {
    let repo = Repo::new();
    let marker = repo.path().join("started");
    let (out, results) = repo.run_plan(
        &Plan::new()
            .default("retries", 2)
            .shell_task("x", "echo x > README.md")
            .shell_task("y", "echo y > README.md")
            .shell_task("z", &format!("touch {}", marker.display()))
            .depends_on(&["x", "y"])
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let z = task(&results, "z");
    assert_eq!(z["status"], "failed");
    assert!(z["error"].as_str().unwrap().contains("README.md"), "{z:#}");
    assert_eq!(
        z["attempts"].as_array().unwrap().len(),
        1,
        "a conflict is not retried"
    );
    assert!(!marker.exists());
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    assert_eq!(repo.read("README.md"), "# test\n");
}

#[test]
fn a_dependency_cycle_is_printed() {
    let repo = Repo::new();
    repo.write(
        "plan.toml",
        r#"
name = "p"
[[tasks]]
name = "a"
prompt = "x"
depends_on = ["c"]
[[tasks]]
name = "b"
prompt = "x"
depends_on = ["a"]
[[tasks]]
name = "c"
prompt = "x"
depends_on = ["b"]
"#,
    );
    let out = repo.grove(&["validate", "plan.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("a -> c -> b -> a")
            || text(&out).contains("a -> b -> c -> a")
            || text(&out).contains("c -> b -> a -> c")
            || text(&out).contains("b -> a -> c -> b"),
        "{}",
        text(&out)
    );
}

#[test]
fn parallel_starts_pending_tasks_in_plan_order() {
    let repo = Repo::new();
    let log = repo.path().join("spans.log");
    let mut plan = Plan::new().set("max_parallel", 1);
    for n in ["e", "d", "c", "b", "a"] {
        plan = plan.shell_task(n, &logging(&log, "0.05", ""));
    }
    let (out, _) = repo.run_plan(&plan.to_toml());
    assert!(out.status.success(), "{}", text(&out));
    let starts: Vec<String> = spans(&log)
        .into_iter()
        .filter(|(k, _, _)| k == "start")
        .map(|(_, _, t)| t)
        .collect();
    assert_eq!(starts, vec!["e", "d", "c", "b", "a"]);
}
