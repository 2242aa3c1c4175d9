//! The hosted agents' presets: aider and gemini without credentials fail at once instead of
//! waiting for a browser login (a stand-in program that would wait is put first on PATH), and
//! with a key they start with their non-interactive flags.

use std::path::Path;

use crate::support::*;

/// Every variable any preset takes as a credential: removed so the machine's do not count.
const KEYS: &[&str] = &[
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "DEEPSEEK_API_KEY",
    "OPENROUTER_API_KEY",
    "GROQ_API_KEY",
    "MISTRAL_API_KEY",
    "XAI_API_KEY",
    "COHERE_API_KEY",
    "OLLAMA_API_BASE",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_USE_GCA",
    "AIDER_API_KEY",
    "AIDER_OPENAI_API_KEY",
    "AIDER_ANTHROPIC_API_KEY",
];

/// `name` in `dir`: records its arguments in `args.txt` of the worktree and exits 0, unless it
/// has no key, when it waits as the real ones do for a login.
fn stand_in(dir: &Path, name: &str) {
    let path = dir.join(name);
    std::fs::write(
        &path,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > args.txt\n\
         [ -n \"$GEMINI_API_KEY$OPENAI_API_KEY\" ] || sleep 60\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn run(repo: &Repo, bin: &Path, plan: &str) -> (std::process::Output, serde_json::Value) {
    let file = repo.write_plan(plan);
    let mut cmd = repo.grove_cmd(&["run", file.to_str().unwrap(), "--headless"]);
    cmd.env(
        "PATH",
        format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()),
    );
    for key in KEYS {
        cmd.env_remove(key);
    }
    let out = cmd.output().unwrap();
    let results = repo.results(&run_id(&out));
    (out, results)
}

#[test]
fn aider_and_gemini_without_credentials_fail_at_once_and_are_not_retried() {
    let repo = Repo::new();
    let bin = tempfile::tempdir().unwrap();
    stand_in(bin.path(), "aider");
    stand_in(bin.path(), "gemini");
    let (out, results) = run(
        &repo,
        bin.path(),
        r#"
name = "p"
[defaults]
timeout = "50s"
retries = 2
[[tasks]]
name = "a"
agent = "aider"
prompt = "add docstrings"
[[tasks]]
name = "g"
agent = "gemini"
prompt = "review"
"#,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let a = task(&results, "a");
    assert_eq!(a["status"], "failed", "{a:#}");
    assert_eq!(
        a["error"],
        "aider has no credentials: set an API key (OPENAI_API_KEY, ANTHROPIC_API_KEY, …) or \
         pass --api-key PROVIDER=KEY. Without them it waits for a login"
    );
    assert_eq!(a["attempts"].as_array().unwrap().len(), 1, "{a:#}");
    let g = task(&results, "g");
    assert_eq!(g["status"], "failed", "{g:#}");
    assert!(
        g["error"]
            .as_str()
            .unwrap()
            .starts_with("gemini has no credentials: set GEMINI_API_KEY"),
        "{g:#}"
    );
}

#[test]
fn with_a_key_the_presets_start_non_interactive() {
    let repo = Repo::new();
    let bin = tempfile::tempdir().unwrap();
    stand_in(bin.path(), "aider");
    stand_in(bin.path(), "gemini");
    let (out, results) = run(
        &repo,
        bin.path(),
        r#"
name = "p"
[defaults]
timeout = "50s"
[[tasks]]
name = "a"
agent = "aider"
prompt = "--help me"
env = { OPENAI_API_KEY = "sk-test" }
[[tasks]]
name = "g"
agent = "gemini"
prompt = "review"
env = { GEMINI_API_KEY = "key" }
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let args = |t: &str| repo.git(&["show", &format!("grove/{run_id}/{t}:args.txt")]);
    assert_eq!(
        args("a"),
        "--yes-always\n--no-pretty\n--no-fancy-input\n--no-check-update\n\
         --no-show-release-notes\n--message=--help me"
    );
    assert_eq!(args("g"), "--approval-mode\nauto_edit\n--prompt=review");
    assert_eq!(task(&results, "g")["status"], "succeeded");
}
