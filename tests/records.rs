//! A run's records on disk: private (they hold the plan's `env` values), and whole after a
//! failed write (a full disk, on a real small tmpfs). The real binary on real repositories.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

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
        r#"
name = "priv"
[defaults]
agent = "shell"
[[tasks]]
name = "result"
env = { API_TOKEN = "s3cret" }
prompt = '''echo '{"ok": true}' > "$GROVE_RESULT"'''
[[tasks]]
name = "text"
retries = 1
backoff = { initial = "10ms", jitter = 0.0 }
prompt = '''echo said; [ "$GROVE_ATTEMPT" = 2 ]'''
"#,
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
