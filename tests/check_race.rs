//! Verifying agents' work with `check`, and racing several agents on one job: real git
//! repositories, shell agents in real PTYs, the real binary.

mod common;

use common::{run_id, task, text, Repo};

/// The agent writes the wrong answer first; the check fails and says why; the second attempt's
/// agent reads `context.check_failure` from its envelope and fixes it.
#[test]
fn a_failing_check_fails_the_attempt_and_the_next_one_reads_why() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        r#"
name = "p"
[[tasks]]
name = "fix"
agent = "shell"
retries = 2
backoff = { initial = "100ms", jitter = 0.0 }
check = "grep -q right value.txt || { echo 'value.txt must say right'; exit 3; }"
prompt = '''
python3 - "$GROVE_ENVELOPE" <<'PY'
import json, sys
envelope = json.load(open(sys.argv[1]))
failure = envelope["context"].get("check_failure")
with open("seen-%d.txt" % envelope["attempt"], "w") as f:
    f.write(json.dumps(failure))
with open("value.txt", "w") as f:
    f.write("right\n" if failure and "must say right" in failure["output"] else "wrong\n")
PY
'''
"#,
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
        r#"
name = "p"
[defaults]
agent = "shell"
check = "touch checked; exit 1"
[[tasks]]
name = "agent-fails"
prompt = "exit 4"
[[tasks]]
name = "check-fails"
prompt = "echo work > work.txt"
"#,
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
