//! Verifying agents' work with `check`, and racing several agents on one job: real git
//! repositories, shell agents in real PTYs, the real binary.

use crate::support::*;

/// The agent writes the wrong answer first; the check fails and says why; the second attempt's
/// agent reads `context.check_failure` from its envelope and fixes it.
#[test]
fn a_failing_check_fails_the_attempt_and_the_next_one_reads_why() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .shell_task(
                "fix",
                r#"python3 - "$GROVE_ENVELOPE" <<'PY'
import json, sys
envelope = json.load(open(sys.argv[1]))
failure = envelope["context"].get("check_failure")
with open("seen-%d.txt" % envelope["attempt"], "w") as f:
    f.write(json.dumps(failure))
with open("value.txt", "w") as f:
    f.write("right\n" if failure and "must say right" in failure["output"] else "wrong\n")
PY
"#,
            )
            .retries(2)
            .with("backoff", Raw(r#"{ initial = "100ms", jitter = 0.0 }"#))
            .with(
                "check",
                "grep -q right value.txt || { echo 'value.txt must say right'; exit 3; }",
            )
            .to_toml(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let t = task(&results, "fix");
    assert_eq!(t["status"], "succeeded", "{t:#}");
    let attempts = t["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{t:#}");

    // Attempt 1: the agent exited 0, the check did not pass: a failed attempt.
    assert_eq!(attempts[0]["status"], "failed");
    assert_eq!(attempts[0]["exit_code"], 0);
    assert_eq!(
        attempts[0]["error"],
        "check 'grep -q right value.txt || { echo 'value.txt must say right'; exit 3; }' failed: exit code 3"
    );
    let check = &attempts[0]["check"];
    assert_eq!(check["exit_code"], 3);
    assert!(check["command"]
        .as_str()
        .unwrap()
        .starts_with("grep -q right"));
    assert!(check["duration_s"].as_f64().unwrap() >= 0.0);
    assert_eq!(attempts[1]["check"]["exit_code"], 0);

    // The second agent saw the first check's output; the first saw nothing.
    let branch = format!("grove/{run_id}/fix");
    assert_eq!(repo.git(&["show", &format!("{branch}:value.txt")]), "right");
    let seen: serde_json::Value =
        serde_json::from_str(&repo.git(&["show", &format!("{branch}:seen-2.txt")])).unwrap();
    assert_eq!(seen["exit_code"], 3);
    assert!(seen["command"]
        .as_str()
        .unwrap()
        .starts_with("grep -q right"));
    assert!(seen["output"]
        .as_str()
        .unwrap()
        .contains("value.txt must say right"));

    // Nothing lost: the failed attempt's files are on its ref.
    let saved = format!("refs/grove/{run_id}/fix/attempt-1");
    assert_eq!(repo.git(&["show", &format!("{saved}:value.txt")]), "wrong");
    assert_eq!(repo.git(&["show", &format!("{saved}:seen-1.txt")]), "null");

    // The check's output is in the attempt's log, and the check in the audit log.
    let log = std::fs::read_to_string(attempts[0]["log"].as_str().unwrap()).unwrap();
    assert!(log.contains("$ grep -q right value.txt"), "{log}");
    assert!(log.contains("value.txt must say right"), "{log}");
    let checks: Vec<String> = repo
        .audit(&run_id)
        .iter()
        .filter(|e| e["event"] == "check")
        .map(|e| e["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(checks.len(), 2, "{checks:?}");
    assert!(checks[0].contains("exit code 3"));
    assert_eq!(checks[1], "passed");
}

/// A check that never passes uses up the retries, and an agent failing skips its check.
#[test]
fn a_check_runs_only_after_the_agent_succeeds() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .default("check", "touch checked; exit 1")
            .shell_task("agent-fails", "exit 4")
            .shell_task("check-fails", "echo work > work.txt")
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let failing = task(&results, "agent-fails");
    assert_eq!(failing["status"], "failed");
    assert_eq!(failing["attempts"][0]["exit_code"], 4);
    assert!(failing["attempts"][0].get("check").is_none(), "{failing:#}");
    let checked = task(&results, "check-fails");
    assert_eq!(checked["status"], "failed");
    assert_eq!(checked["attempts"][0]["check"]["exit_code"], 1);
    assert_eq!(
        checked["error"],
        "check 'touch checked; exit 1' failed: exit code 1"
    );
    // The work and what the check left are saved, not lost.
    let saved = format!("refs/grove/{}/check-fails/attempt-1", run_id(&out));
    assert_eq!(repo.git(&["show", &format!("{saved}:work.txt")]), "work");
}

/// Three shell agents race on one job; only the second passes its check. With
/// `pick = "first-passing"` it is merged without asking, the one still running is cancelled,
/// the failed one discarded; every sibling's branch or saved attempt stays.
#[test]
fn a_race_merges_the_first_passing_sibling_and_cancels_the_rest() {
    let repo = Repo::new();
    // job.2 passes only once job.1's check has failed and job.3 has started and written its
    // pid: the order is the agents' own, not a matter of sleeps.
    let job3_started = repo.home.path().join("job.3-started");
    let (out, results) = repo.run_plan(
        &Plan::new()
            .set("max_parallel", 3)
            .shell_task(
                "job",
                &format!(
                    r#"echo "$GROVE_TASK" > answer.txt
case "$GROVE_TASK" in
  job.1) ;;
  job.2) {job1_failed} {job3_started_wait} touch pass ;;
  job.3) echo "$$" > pid.txt; touch '{job3_started}'; exec sleep 60 ;;
esac
"#,
                    job1_failed = repo.wait_for_state("job.1", "failed"),
                    job3_started_wait = sh_wait_for_file(&job3_started),
                    job3_started = job3_started.display()
                ),
            )
            .with("replicas", 3)
            .with("pick", "first-passing")
            .with("check", "test -f pass")
            .to_toml(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);

    let winner = task(&results, "job.2");
    assert_eq!(winner["status"], "succeeded", "{winner:#}");
    assert_eq!(winner["group"], "job");
    assert_eq!(winner["merge"]["state"], "merged");
    assert_eq!(repo.read("answer.txt"), "job.2\n");

    let failed = task(&results, "job.1");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["group"], "job");
    assert_eq!(failed["merge"]["state"], "discarded");
    assert_eq!(failed["attempts"][0]["check"]["exit_code"], 1);

    let cancelled = task(&results, "job.3");
    assert_eq!(cancelled["status"], "cancelled", "{cancelled:#}");
    assert_eq!(cancelled["error"], "cancelled: 'job.2' was picked");
    assert_eq!(cancelled["merge"]["state"], "discarded");

    assert_eq!(
        results["groups"],
        serde_json::json!([{
            "name": "job",
            "pick": "first-passing",
            "siblings": ["job.1", "job.2", "job.3"],
            "picked": "job.2",
        }])
    );

    // Nothing lost: the losers' work is on their attempt refs, and their agents are gone.
    for loser in ["job.1", "job.3"] {
        let saved = format!("refs/grove/{run_id}/{loser}/attempt-1");
        assert_eq!(
            repo.git(&["show", &format!("{saved}:answer.txt")]),
            loser,
            "{loser}"
        );
    }
    let pid: i32 = repo
        .git(&[
            "show",
            &format!("refs/grove/{run_id}/job.3/attempt-1:pid.txt"),
        ])
        .parse()
        .unwrap();
    assert!(!alive(pid), "job.3's agent {pid} survived");
    let picks: Vec<_> = repo
        .audit(&run_id)
        .into_iter()
        .filter(|e| e["event"] == "pick")
        .collect();
    assert_eq!(picks.len(), 1);
    assert_eq!(picks[0]["task"], "job.2");
}

/// `agents = [...]` with `pick = "manual"` (the default): every sibling runs its own agent to
/// its end, none is merged or discarded until the user picks one.
#[test]
fn a_manual_race_waits_for_the_user() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        r#"
name = "p"
[agents.other]
command = ["sh", "-c", "echo other > who.txt"]
[[tasks]]
name = "job"
agents = ["shell", "other"]
prompt = "echo shell > who.txt"
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    for (name, agent) in [("job.1", "shell"), ("job.2", "other")] {
        let t = task(&results, name);
        assert_eq!(t["status"], "succeeded");
        assert_eq!(t["agent"], agent);
        assert_eq!(t["merge"]["state"], "not_requested");
        let branch = format!("grove/{}/{name}", run_id(&out));
        assert_eq!(repo.git(&["show", &format!("{branch}:who.txt")]), agent);
    }
    assert_eq!(results["groups"][0]["pick"], "manual");
    assert_eq!(results["groups"][0]["picked"], serde_json::Value::Null);

    // Picking after the run: merging one sibling discards the other, which then cannot merge.
    let run_id = run_id(&out);
    let merged = repo.grove(&["merge", &run_id, "job.2"]);
    assert!(merged.status.success(), "{}", text(&merged));
    assert_eq!(repo.read("who.txt"), "other\n");
    let results = repo.results(&run_id);
    assert_eq!(task(&results, "job.2")["merge"]["state"], "merged");
    assert_eq!(task(&results, "job.1")["merge"]["state"], "discarded");
    assert_eq!(results["groups"][0]["picked"], "job.2");
    let refused = repo.grove(&["merge", &run_id, "job.1"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(String::from_utf8_lossy(&refused.stdout).contains("was discarded"));
    assert_eq!(repo.read("who.txt"), "other\n");
}

/// Under `fail_fast`, a sibling failing is part of racing: only a race whose siblings all
/// failed stops the run.
#[test]
fn fail_fast_waits_for_the_whole_race() {
    let repo = Repo::new();
    // job.1 fails while job.2 and `other` still run (they wait for it); the doomed siblings
    // fail only once job.2 and `other` have succeeded, so the run stops with nothing running.
    let (out, results) = repo.run_plan(
        &Plan::new()
            .set("fail_fast", true)
            .set("max_parallel", 4)
            .shell_task(
                "job",
                &format!(
                    r#"[ "$GROVE_TASK" = job.2 ] || exit 3; {job1_failed}"#,
                    job1_failed = repo.wait_for_state("job.1", "failed")
                ),
            )
            .with("replicas", 2)
            .shell_task("other", &repo.wait_for_state("job.1", "failed"))
            .shell_task(
                "doomed",
                &format!(
                    "{job2_succeeded} {other_succeeded} exit 5",
                    job2_succeeded = repo.wait_for_state("job.2", "succeeded"),
                    other_succeeded = repo.wait_for_state("other", "succeeded")
                ),
            )
            .with("replicas", 2)
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(task(&results, "job.1")["status"], "failed");
    assert_eq!(task(&results, "job.2")["status"], "succeeded");
    assert_eq!(task(&results, "other")["status"], "succeeded");
    assert_eq!(task(&results, "doomed.1")["status"], "failed");
    assert_eq!(task(&results, "doomed.2")["status"], "failed");
}
