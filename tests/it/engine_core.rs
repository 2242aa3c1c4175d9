//! The core engine end to end: the real grove binary, real git repositories, shell agents in
//! real PTYs.

use crate::support::*;
use std::time::Duration;

#[test]
fn a_succeeding_agent_is_committed_with_provenance() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .shell_task(
                "writer",
                r#"echo "hello from $GROVE_TASK attempt $GROVE_ATTEMPT"; printf 'data\n' > made.txt; printf '\033[32mgreen\033[0m done\n' "#,
            )
            .to_toml(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let t = task(&results, "writer");
    assert_eq!(t["status"], "succeeded");
    assert_eq!(t["exit_code"], 0);
    assert_eq!(results["succeeded"], 1);
    assert_eq!(results["success_rate"], 1.0);
    let output = t["output"].as_str().unwrap();
    assert!(output.contains("hello from writer attempt 1"), "{output}");
    assert!(
        output.contains("green done") && !output.contains('\u{1b}'),
        "{output}"
    );

    // The work is committed on the task branch with the trailers.
    let branch = format!("grove/{run_id}/writer");
    assert_eq!(t["branch"], branch.as_str());
    assert_eq!(repo.git(&["show", &format!("{branch}:made.txt")]), "data");
    let message = repo.git(&["log", "-1", "--format=%B", &branch]);
    assert!(
        message.starts_with("grove: writer (attempt 1)"),
        "{message}"
    );
    assert!(
        message.contains(&format!("Grove-Run: {run_id}")),
        "{message}"
    );
    let input_hash = t["provenance"]["input_hash"].as_str().unwrap();
    assert!(
        message.contains(&format!("Grove-Input-Hash: {input_hash}")),
        "{message}"
    );

    // Provenance hashes recomputed from the records.
    let agent_dir = repo.run_dir(&run_id).join("agents/writer");
    assert_eq!(input_hash, sha256_file(&agent_dir.join("envelope.json")));
    assert_eq!(
        t["provenance"]["output_hash"].as_str().unwrap(),
        sha256_file(&agent_dir.join("output.txt"))
    );
    let envelope = repo.envelope(&run_id, "writer");
    for key in [
        "task_id",
        "run_id",
        "task",
        "agent",
        "prompt",
        "inputs",
        "context",
        "attempt",
        "max_attempts",
        "timeout_s",
        "worktree",
        "branch",
        "base_commit",
        "result_path",
        "created_at",
    ] {
        assert!(
            envelope.get(key).is_some(),
            "envelope lacks {key}: {envelope:#}"
        );
    }
    assert_eq!(envelope["base_commit"], results["base_commit"]);
    let log = std::fs::read(agent_dir.join("attempt-1.log")).unwrap();
    assert!(String::from_utf8_lossy(&log).contains("\u{1b}[32mgreen"));
    assert_eq!(t["provenance"]["retry_count"], 0);
    assert_eq!(t["provenance"]["commands"][0][0], "sh");
    assert_eq!(t["attempts"][0]["status"], "succeeded");

    // Succeeded worktrees are removed by default; the branch stays; the checkout is clean.
    assert!(!repo.path().join(t["worktree"].as_str().unwrap()).exists());
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    assert!(repo.run_dir(&run_id).join("plan.toml").exists());
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("1 of 1 succeeded"), "{summary}");
    assert!(summary.contains("results: "), "{summary}");
}

#[test]
fn result_json_is_the_output_and_invalid_json_fails() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .shell_task(
                "good",
                r#"echo noise; printf '{"answer": 42}' > "$GROVE_RESULT""#,
            )
            .shell_task("bad", r#"printf '{not json' > "$GROVE_RESULT""#)
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let run_id = run_id(&out);
    let good = task(&results, "good");
    assert_eq!(good["output"]["answer"], 42);
    let stored = repo.run_dir(&run_id).join("agents/good/result.json");
    assert_eq!(
        good["provenance"]["output_hash"].as_str().unwrap(),
        sha256_file(&stored)
    );
    let bad = task(&results, "bad");
    assert_eq!(bad["status"], "failed");
    assert!(
        bad["error"].as_str().unwrap().contains("invalid JSON"),
        "{bad:#}"
    );
}

#[test]
fn failed_attempts_retry_with_backoff_and_are_saved_on_attempt_refs() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .shell_task(
                "flaky",
                r#"echo "try $GROVE_ATTEMPT" > "attempt-$GROVE_ATTEMPT.txt"; [ "$GROVE_ATTEMPT" -ge 3 ] || exit 7"#,
            )
            .retries(3)
            .with(
                "backoff",
                Raw(r#"{ initial = "300ms", max = "10s", multiplier = 2.0, jitter = 0.0 }"#),
            )
            .to_toml(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let t = task(&results, "flaky");
    assert_eq!(t["status"], "succeeded");
    let attempts = t["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    assert_eq!(attempts[0]["status"], "failed");
    assert_eq!(attempts[0]["exit_code"], 7);
    assert_eq!(t["provenance"]["retry_count"], 2);

    // Delays: 0.3s then 0.6s (no jitter), recorded and actually waited.
    let delays: Vec<f64> = repo
        .audit(&run_id)
        .iter()
        .filter(|e| e["event"] == "retry")
        .map(|e| e["delay_s"].as_f64().unwrap())
        .collect();
    assert_eq!(delays, vec![0.3, 0.6]);
    let start =
        |i: usize| humantime::parse_rfc3339(attempts[i]["started_at"].as_str().unwrap()).unwrap();
    let gap = start(2).duration_since(start(1)).unwrap();
    assert!(gap >= Duration::from_millis(600), "{gap:?}");

    // Each failed attempt's files are on its attempt ref; the branch has only the last one's.
    for n in 1..=2 {
        let reference = format!("refs/grove/{run_id}/flaky/attempt-{n}");
        assert_eq!(
            repo.git(&["show", &format!("{reference}:attempt-{n}.txt")]),
            format!("try {n}")
        );
        assert_eq!(attempts[n - 1]["saved_ref"], reference.as_str());
    }
    let branch = format!("grove/{run_id}/flaky");
    assert!(
        repo.git_output(&["show", &format!("{branch}:attempt-1.txt")])
            .status
            .code()
            != Some(0)
    );
    assert_eq!(
        repo.git(&["show", &format!("{branch}:attempt-3.txt")]),
        "try 3"
    );
}

#[test]
fn timeout_kills_the_whole_group_including_trapping_grandchildren() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .shell_task(
                "stubborn",
                r#"trap "" TERM; (trap "" TERM; sleep 300) & echo $! > "$GROVE_WORKTREE/../child.pid"; echo $$ > "$GROVE_WORKTREE/../leader.pid"; echo started; while true; do sleep 1; done"#,
            )
            .timeout("3s")
            .with("kill_grace", "500ms")
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let run_id = run_id(&out);
    let t = task(&results, "stubborn");
    assert_eq!(t["status"], "timed_out");
    assert!(t["error"].as_str().unwrap().contains("timed out"), "{t:#}");
    let dir = repo.path().join(".grove/worktrees").join(&run_id);
    for file in ["child.pid", "leader.pid"] {
        let pid: i32 = std::fs::read_to_string(dir.join(file))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!alive(pid), "{file} {pid} survived");
    }
    let audit = repo.audit(&run_id);
    assert!(audit.iter().any(|e| e["event"] == "timeout"));
    let kill = audit.iter().find(|e| e["event"] == "kill").unwrap();
    assert_eq!(kill["signal"], "SIGTERM,SIGKILL");
    // The timed-out worktree is kept for inspection (keep_worktrees = "failed").
    assert!(dir.join("stubborn").exists());
}

#[test]
fn auto_merge_fast_forwards_then_merges() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .set("max_parallel", 1)
            .default("merge", "auto")
            .shell_task("one", "echo one > one.txt")
            .shell_task("two", "echo two > two.txt")
            .to_toml(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let one = task(&results, "one");
    let two = task(&results, "two");
    assert_eq!(one["merge"]["state"], "merged");
    assert_eq!(two["merge"]["state"], "merged");
    // The first merge is a fast-forward to the task's own commit.
    assert_eq!(one["merge"]["commit"], one["head_commit"]);
    // The second is a merge commit with two parents.
    let merge_commit = two["merge"]["commit"].as_str().unwrap();
    let parents = repo.git(&["log", "-1", "--format=%P", merge_commit]);
    assert_eq!(parents.split_whitespace().count(), 2, "{parents}");
    assert_eq!(repo.git(&["rev-parse", "main"]), merge_commit);
    // main is checked out and clean, so its files are updated.
    assert_eq!(repo.read("one.txt"), "one\n");
    assert_eq!(repo.read("two.txt"), "two\n");
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

#[test]
fn a_merge_conflict_leaves_the_base_untouched() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .set("max_parallel", 1)
            .default("merge", "auto")
            .shell_task("first", "echo first > README.md")
            .shell_task("second", "echo second > README.md")
            .to_toml(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let first = task(&results, "first");
    let second = task(&results, "second");
    assert_eq!(first["merge"]["state"], "merged");
    assert_eq!(second["merge"]["state"], "conflict");
    assert_eq!(second["merge"]["conflicts"][0], "README.md");
    assert_eq!(
        repo.git(&["rev-parse", "main"]),
        first["head_commit"].as_str().unwrap()
    );
    assert_eq!(repo.read("README.md"), "first\n");
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("conflict"), "{stdout}");
}

#[test]
fn manual_merge_is_refused_on_a_dirty_checkout_then_succeeds() {
    let repo = Repo::new();
    let (out, _) = repo.run_plan(&Plan::new().shell_task("t", "echo new > new.txt").to_toml());
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    repo.write("README.md", "local edit\n");
    let merge = repo.grove(&["merge", &run_id, "t"]);
    assert_eq!(merge.status.code(), Some(1), "{}", text(&merge));
    assert!(
        text(&merge).contains("uncommitted changes"),
        "{}",
        text(&merge)
    );
    assert_eq!(repo.read("README.md"), "local edit\n");
    assert!(!repo.path().join("new.txt").exists());
    assert_eq!(
        task(&repo.results(&run_id), "t")["merge"]["state"],
        "refused"
    );

    repo.git(&["checkout", "--", "README.md"]);
    let merge = repo.grove(&["merge", &run_id, "t"]);
    assert_eq!(merge.status.code(), Some(0), "{}", text(&merge));
    assert_eq!(repo.read("new.txt"), "new\n");
    let t = task(&repo.results(&run_id), "t").clone();
    assert_eq!(t["merge"]["state"], "merged");
    assert!(repo
        .audit(&run_id)
        .iter()
        .any(|e| e["event"] == "merge" && e["outcome"] == "merged"));
}

#[test]
fn never_more_than_max_parallel_agents_at_once() {
    let repo = Repo::new();
    let log = repo.path().join("spans.log");
    // Each agent marks its start and goes on only once two have started, so the first two run
    // side by side however slowly their worktrees are set up: the bound is reached.
    let started = repo.home.path().join("started");
    std::fs::create_dir(&started).unwrap();
    let plan = format!(
        r#"
name = "p"
max_parallel = 2
[defaults]
agent = "shell"
prompt = '''echo "start $(date +%s%N)" >> {log}; touch '{started}'/"$GROVE_TASK"; {two_started} sleep 0.4; echo "end $(date +%s%N)" >> {log}'''
{tasks}
"#,
        log = log.display(),
        started = started.display(),
        two_started = sh_wait_until(&format!("[ $(ls '{}' | wc -l) -ge 2 ]", started.display())),
        tasks = (1..=6)
            .map(|i| format!("[[tasks]]\nname = \"t{i}\"\n"))
            .collect::<String>()
    );
    let (out, results) = repo.run_plan(&plan);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(results["succeeded"], 6);
    let mut events: Vec<(u128, i32)> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| {
            let (kind, t) = l.split_once(' ').unwrap();
            (t.parse().unwrap(), if kind == "start" { 1 } else { -1 })
        })
        .collect();
    events.sort_by_key(|&(t, d)| (t, d));
    let (mut running, mut peak) = (0, 0);
    for (_, d) in events {
        running += d;
        peak = peak.max(running);
    }
    assert_eq!(peak, 2, "peak concurrency {peak}");
}

#[test]
fn works_without_a_git_identity() {
    let repo = Repo::bare_init();
    repo.write("README.md", "x\n");
    repo.git(&["add", "-A"]);
    repo.git(&[
        "-c",
        "user.name=Setup",
        "-c",
        "user.email=setup@example.com",
        "commit",
        "-q",
        "-m",
        "init",
    ]);
    let (out, results) = repo.run_plan(&Plan::new().shell_task("t", "echo hi > hi.txt").to_toml());
    assert!(out.status.success(), "{}", text(&out));
    let head = task(&results, "t")["head_commit"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        repo.git(&["log", "-1", "--format=%an <%ae>", &head]),
        "grove <grove@localhost>"
    );
}

#[test]
fn prompts_reach_agents_as_single_arguments() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        r#"
name = "p"
[agents.argv]
command = ["python3", "-c", "import sys, json; json.dump(sys.argv[1:], open(sys.argv[-1], 'w'))", "{prompt}", "{task}", "{result}"]
[[tasks]]
name = "t"
agent = "argv"
keep_worktrees = "always"
prompt = "two words; $(touch pwned) `touch pwned2` | cat"
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    let t = task(&results, "t");
    let argv = &t["output"];
    assert_eq!(argv[0], "two words; $(touch pwned) `touch pwned2` | cat");
    assert_eq!(argv[1], "t");
    // Had a shell run the prompt, it would have touched the files in the agent's worktree
    // (kept), and grove would have committed them on the task's branch.
    let worktree = std::path::PathBuf::from(t["worktree"].as_str().unwrap());
    assert!(worktree.is_dir(), "{t:#}");
    let branch = t["branch"].as_str().unwrap();
    repo.git(&["rev-parse", "--verify", branch]);
    for file in ["pwned", "pwned2"] {
        assert!(!worktree.join(file).exists(), "{file} in the worktree");
        assert!(!repo.path().join(file).exists(), "{file} in the checkout");
        let on_branch = repo.git_output(&["cat-file", "-e", &format!("{branch}:{file}")]);
        assert!(!on_branch.status.success(), "{file} on {branch}");
    }
}

#[test]
fn a_base_given_as_a_commit_cannot_be_merged_into() {
    let repo = Repo::new();
    let head = repo.git(&["rev-parse", "HEAD"]);
    let (out, results) = repo.run_plan(
        &Plan::new()
            .set("base", &head)
            .shell_task("t", "echo x > x.txt")
            .with("merge", "auto")
            .to_toml(),
    );
    // The task succeeded, but its work did not reach a branch.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let merge = &task(&results, "t")["merge"];
    assert_eq!(merge["state"], "refused");
    assert!(
        merge["reason"].as_str().unwrap().contains("not a branch"),
        "{merge:#}"
    );
    assert_eq!(repo.git(&["rev-parse", "main"]), head);
}

#[test]
fn keep_worktrees_always_and_never() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .shell_task("kept", "echo a > a.txt")
            .with("keep_worktrees", "always")
            .shell_task("gone", "echo b > b.txt; exit 1")
            .with("keep_worktrees", "never")
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let kept = std::path::PathBuf::from(task(&results, "kept")["worktree"].as_str().unwrap());
    assert!(kept.join("a.txt").exists());
    let gone = std::path::PathBuf::from(task(&results, "gone")["worktree"].as_str().unwrap());
    assert!(!gone.exists());
    // The removed failed worktree's files are still on its attempt ref.
    let run_id = run_id(&out);
    assert_eq!(
        repo.git(&["show", &format!("refs/grove/{run_id}/gone/attempt-1:b.txt")]),
        "b"
    );
    let listed = repo.git(&["worktree", "list"]);
    assert!(!listed.contains("/gone"), "{listed}");
}

#[test]
fn environment_values_never_reach_the_audit_log() {
    let repo = Repo::new();
    let (out, _) = repo.run_plan(
        r#"
name = "p"
[agents.printer]
command = ["sh", "-c", "echo $API_TOKEN > seen.txt"]
env = { API_TOKEN = "s3cr3t-value" }
[[tasks]]
name = "t"
agent = "printer"
prompt = "unused"
env = { OTHER = "hidden-too" }
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let audit = std::fs::read_to_string(repo.run_dir(&run_id).join("audit.log")).unwrap();
    assert!(
        audit.contains("API_TOKEN") && audit.contains("OTHER"),
        "{audit}"
    );
    assert!(
        !audit.contains("s3cr3t-value") && !audit.contains("hidden-too"),
        "{audit}"
    );
    assert_eq!(
        repo.git(&["show", &format!("grove/{run_id}/t:seen.txt")]),
        "s3cr3t-value"
    );
}
