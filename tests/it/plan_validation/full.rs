//! A full plan (TOML and JSON give the same model), defaults, and the repository a plan runs in.

use super::*;

// ---- a full plan ----

const FULL_TOML: &str = r#"
name = "full"
base = "main"
max_parallel = 3
strategy = "sequential"
pass_output = true
stop_on_failure = true
fail_fast = true

[defaults]
agent = "mine"
timeout = "10m"
retries = 2
kill_grace = 7
merge = "auto"
keep_worktrees = "always"
env = { SHARED = "d", OVERRIDE = "from-defaults" }
inputs = { lang = "rust", level = 1 }
backoff = { initial = "2s", multiplier = 3.0 }

[agents.mine]
command = ["my-agent", "--prompt", "{prompt}"]
env = { TOKEN_FILE = "/tmp/t" }

[agents.shell]
command = ["bash", "-c", "{prompt}"]

[[tasks]]
name = "gen"
prompt_file = "prompts/gen.md"
timeout = "1h30m"
env = { OVERRIDE = "task" }
inputs = { level = 5, when = 2024-01-02T03:04:05Z, tags = ["a", "b"], nested = { ok = true } }
backoff = { max = "90s", jitter = 0.5 }

[[tasks]]
name = "review"
prompt = "review it"
agent = "shell"
retries = 0
merge = "manual"
keep_worktrees = "never"
kill_grace = "1s"
depends_on = ["gen"]
"#;

const FULL_JSON: &str = r#"{
  "name": "full",
  "base": "main",
  "max_parallel": 3,
  "strategy": "sequential",
  "pass_output": true,
  "stop_on_failure": true,
  "fail_fast": true,
  "defaults": {
    "agent": "mine",
    "timeout": "10m",
    "retries": 2,
    "kill_grace": 7,
    "merge": "auto",
    "keep_worktrees": "always",
    "env": {"SHARED": "d", "OVERRIDE": "from-defaults"},
    "inputs": {"lang": "rust", "level": 1},
    "backoff": {"initial": "2s", "multiplier": 3.0}
  },
  "agents": {
    "mine": {"command": ["my-agent", "--prompt", "{prompt}"], "env": {"TOKEN_FILE": "/tmp/t"}},
    "shell": {"command": ["bash", "-c", "{prompt}"]}
  },
  "tasks": [
    {
      "name": "gen",
      "prompt_file": "prompts/gen.md",
      "timeout": "1h30m",
      "env": {"OVERRIDE": "task"},
      "inputs": {"level": 5, "when": "2024-01-02T03:04:05Z", "tags": ["a", "b"], "nested": {"ok": true}},
      "backoff": {"max": "90s", "jitter": 0.5}
    },
    {
      "name": "review",
      "prompt": "review it",
      "agent": "shell",
      "retries": 0,
      "merge": "manual",
      "keep_worktrees": "never",
      "kill_grace": "1s",
      "depends_on": ["gen"]
    }
  ]
}"#;

fn load_full(file: &str, text: &str) -> (TempDir, Plan) {
    let dir = TempDir::new().unwrap();
    git2::Repository::init(dir.path()).unwrap();
    std::fs::create_dir(dir.path().join("prompts")).unwrap();
    write(
        &dir.path().join("prompts"),
        "gen.md",
        "Generate the thing.\n",
    );
    let plan = load(&write(dir.path(), file, text)).unwrap();
    (dir, plan)
}

#[test]
fn full_plan_parses_into_the_model() {
    let (_dir, plan) = load_full("plan.toml", FULL_TOML);
    assert_eq!(plan.name, "full");
    assert_eq!(plan.base.as_deref(), Some("main"));
    assert_eq!(plan.max_parallel, 3);
    assert!(plan.fail_fast);
    assert_eq!(
        plan.strategy,
        Strategy::Sequential {
            pass_output: true,
            stop_on_failure: true
        }
    );
    assert_eq!(plan.agents.len(), 2);
    assert_eq!(
        plan.agents["mine"].command,
        vec!["my-agent", "--prompt", "{prompt}"]
    );
    assert_eq!(plan.agents["mine"].env["TOKEN_FILE"], "/tmp/t");
    let base_span = plan.source.base_span.clone().unwrap();
    assert_eq!(&plan.source.text[base_span], "\"main\"");

    let gen = &plan.tasks[0];
    assert_eq!(gen.name, "gen");
    assert_eq!(gen.prompt, "Generate the thing.\n");
    assert_eq!(gen.agent, "mine");
    assert_eq!(gen.timeout, Duration::from_secs(90 * 60));
    assert_eq!(gen.retries, 2);
    assert_eq!(gen.max_attempts(), 3);
    assert_eq!(gen.kill_grace, Duration::from_secs(7));
    assert_eq!(gen.merge, MergeMode::Auto);
    assert_eq!(gen.keep_worktrees, KeepWorktrees::Always);
    assert_eq!(gen.env["SHARED"], "d");
    assert_eq!(gen.env["OVERRIDE"], "task");
    assert_eq!(
        gen.backoff,
        Backoff {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(90),
            multiplier: 3.0,
            jitter: 0.5,
        }
    );
    assert_eq!(
        serde_json::Value::Object(gen.inputs.clone()),
        serde_json::json!({
            "lang": "rust",
            "level": 5,
            "when": "2024-01-02T03:04:05Z",
            "tags": ["a", "b"],
            "nested": {"ok": true}
        })
    );
    assert!(gen.depends_on.is_empty());

    let review = &plan.tasks[1];
    assert_eq!(review.prompt, "review it");
    assert_eq!(review.agent, "shell");
    assert_eq!(review.timeout, Duration::from_secs(600));
    assert_eq!(review.retries, 0);
    assert_eq!(review.kill_grace, Duration::from_secs(1));
    assert_eq!(review.merge, MergeMode::Manual);
    assert_eq!(review.keep_worktrees, KeepWorktrees::Never);
    assert_eq!(review.depends_on, vec!["gen"]);
    assert_eq!(
        review.backoff,
        Backoff {
            initial: Duration::from_secs(2),
            multiplier: 3.0,
            ..Backoff::default()
        }
    );
    assert_eq!(review.inputs.get("level"), Some(&serde_json::json!(1)));
}

#[test]
fn full_plan_as_json_gives_an_equal_model() {
    let (_d1, from_toml) = load_full("plan.toml", FULL_TOML);
    let (_d2, from_json) = load_full("plan.json", FULL_JSON);
    assert_eq!(from_json.source.format, grove::plan::PlanFormat::Json);
    assert_eq!(from_toml.source.format, grove::plan::PlanFormat::Toml);
    assert_eq!(from_toml.name, from_json.name);
    assert_eq!(from_toml.base, from_json.base);
    assert_eq!(from_toml.max_parallel, from_json.max_parallel);
    assert_eq!(from_toml.strategy, from_json.strategy);
    assert_eq!(from_toml.fail_fast, from_json.fail_fast);
    assert_eq!(from_toml.agents, from_json.agents);
    assert_eq!(from_toml.tasks.len(), from_json.tasks.len());
    assert_eq!(from_toml.tasks, from_json.tasks);
}

#[test]
fn minimal_plan_gets_defaults() {
    let plan = load_text("plan.toml", &format!("name = \"p\"\n{ONE_TASK}")).unwrap();
    let t = &plan.tasks[0];
    assert_eq!(plan.strategy, Strategy::Parallel);
    // Agents mostly wait on their model, not the CPU: 8, whatever the CPU count.
    assert_eq!(plan.max_parallel, 8);
    assert!(!plan.fail_fast);
    assert_eq!(plan.base, None);
    assert_eq!(t.agent, "demo");
    assert_eq!(t.timeout, grove::plan::model::defaults::TIMEOUT);
    assert_eq!(t.kill_grace, grove::plan::model::defaults::KILL_GRACE);
    assert_eq!(t.retries, 0);
    assert_eq!(t.backoff, Backoff::default());
    assert_eq!(t.merge, MergeMode::Manual);
    assert_eq!(t.keep_worktrees, KeepWorktrees::Failed);
}

#[test]
fn task_prompt_file_overrides_default_prompt() {
    let text = "name = \"p\"\n[defaults]\nprompt = \"shared\"\n[[tasks]]\nname = \"a\"\n[[tasks]]\nname = \"b\"\nprompt_file = \"own.md\"\n";
    let plan = load_with(&[("own.md", b"own prompt")], "plan.toml", text).unwrap();
    assert_eq!(plan.tasks[0].prompt, "shared");
    assert_eq!(plan.tasks[1].prompt, "own prompt");
}

#[test]
fn unreadable_plan_file() {
    let dir = TempDir::new().unwrap();
    let err = load(&dir.path().join("missing.toml")).unwrap_err();
    assert!(err.to_string().contains("cannot read plan"), "{err}");
    assert_eq!(err.line_col(), None);
    assert_eq!(err.exit_code(), 2);
}

// ---- the repository ----

/// A repository with its first commit on branch `main`; returns the commit id.
fn repo_with_commit(dir: &Path) -> (git2::Repository, git2::Oid) {
    let mut opts = git2::RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo = git2::Repository::init_opts(dir, &opts).unwrap();
    std::fs::write(dir.join("README"), "hi\n").unwrap();
    let mut index = repo.index().unwrap();
    index.add_path(Path::new("README")).unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("t", "t@example.invalid").unwrap();
    let id = repo
        .commit(Some("HEAD"), &sig, &sig, "first", &tree, &[])
        .unwrap();
    drop(tree);
    (repo, id)
}

/// A plan (in its own temp dir) whose second line sets `base` when given.
fn plan_with_base(base: Option<&str>) -> (TempDir, Plan) {
    let base_line = base.map_or(String::new(), |b| format!("base = \"{b}\""));
    let text = format!("name = \"p\"\n{base_line}\n{ONE_TASK}");
    let dir = TempDir::new().unwrap();
    let plan = load(&write(dir.path(), "plan.toml", &text)).unwrap();
    (dir, plan)
}

/// What `resolve_repo` says for a plain plan started in a fresh dir that `prepare` set up.
fn repo_error(prepare: impl Fn(&Path)) -> (TempDir, PlanError) {
    let (_d, plan) = plan_with_base(None);
    let dir = TempDir::new().unwrap();
    prepare(dir.path());
    let err = resolve_repo(&plan, dir.path()).unwrap_err();
    assert_eq!(err.line_col(), None);
    assert_eq!(err.exit_code(), 2);
    (dir, err)
}

#[test]
fn repo_not_found() {
    let (dir, err) = repo_error(|_| {});
    assert!(matches!(err, PlanError::NotARepo { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("{}: not inside a git repository", dir.path().display())
    );
}

#[test]
fn repo_without_commits() {
    let (dir, err) = repo_error(|d| drop(git2::Repository::init(d).unwrap()));
    assert!(matches!(err, PlanError::NoCommits { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: the repository has no commits yet (make a first commit)",
            dir.path().display()
        )
    );
}

#[test]
fn bare_repo_is_refused() {
    let (dir, err) = repo_error(|d| drop(git2::Repository::init_bare(d).unwrap()));
    assert!(matches!(err, PlanError::BareRepo { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: is a bare repository (grove needs a working tree)",
            dir.path().display()
        )
    );
}

#[test]
fn base_that_does_not_resolve_points_at_base() {
    let dir = TempDir::new().unwrap();
    repo_with_commit(dir.path());
    let (_d, plan) = plan_with_base(Some("nope"));
    let err = resolve_repo(&plan, dir.path()).unwrap_err();
    assert_eq!(err.line_col(), Some((2, 8)), "{err}");
    let root = dir.path().canonicalize().unwrap();
    assert!(
        err.to_string().ends_with(&format!(
            "plan.toml:2:8: base 'nope' does not resolve to a commit in {}",
            root.display()
        )),
        "{err}"
    );
}

#[test]
fn head_of_a_branch_is_the_default_base() {
    let dir = TempDir::new().unwrap();
    let (_repo, id) = repo_with_commit(dir.path());
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let (_d, plan) = plan_with_base(None);
    let target = resolve_repo(&plan, &dir.path().join("sub")).unwrap();
    assert_eq!(target.root, dir.path().canonicalize().unwrap());
    assert_eq!(target.base_commit, id.to_string());
    assert_eq!(target.base_commit.len(), 40);
    assert_eq!(target.base_branch.as_deref(), Some("main"));
    assert_eq!(target.base_label, "HEAD (main)");
}

#[test]
fn detached_head_has_no_base_branch() {
    let dir = TempDir::new().unwrap();
    let (repo, id) = repo_with_commit(dir.path());
    repo.set_head_detached(id).unwrap();
    let (_d, plan) = plan_with_base(None);
    let target = resolve_repo(&plan, dir.path()).unwrap();
    assert_eq!(target.base_commit, id.to_string());
    assert_eq!(target.base_branch, None);
    assert_eq!(
        target.base_label,
        format!("HEAD (detached at {})", &id.to_string()[..7])
    );
}

#[test]
fn base_as_branch_tag_or_commit() {
    let dir = TempDir::new().unwrap();
    let (repo, id) = repo_with_commit(dir.path());
    let commit = repo.find_commit(id).unwrap();
    repo.branch("feature/x", &commit, false).unwrap();
    repo.tag_lightweight("v1", commit.as_object(), false)
        .unwrap();
    let sig = git2::Signature::now("t", "t@example.invalid").unwrap();
    repo.tag("v2", commit.as_object(), &sig, "annotated", false)
        .unwrap();
    let hash = id.to_string();
    let cases = [
        ("feature/x", Some("feature/x")),
        ("main", Some("main")),
        ("v1", None),
        ("v2", None),
        (hash.as_str(), None),
        (&hash[..10], None),
    ];
    for (base, branch) in cases {
        let (_d, plan) = plan_with_base(Some(base));
        let target = resolve_repo(&plan, dir.path()).unwrap();
        assert_eq!(target.base_commit, hash, "base {base}");
        assert_eq!(target.base_branch.as_deref(), branch, "base {base}");
        assert_eq!(target.base_label, base);
    }
}

#[test]
fn linked_worktree_resolves_to_the_main_worktree() {
    let dir = TempDir::new().unwrap();
    let main_dir = dir.path().join("main");
    std::fs::create_dir(&main_dir).unwrap();
    let (repo, id) = repo_with_commit(&main_dir);
    let wt_path = dir.path().join("linked");
    repo.worktree("linked", &wt_path, None).unwrap();
    let (_d, plan) = plan_with_base(None);
    let target = resolve_repo(&plan, &wt_path).unwrap();
    assert_eq!(target.root, main_dir.canonicalize().unwrap());
    assert_eq!(target.base_commit, id.to_string());
    // The linked worktree's own HEAD is its new branch "linked".
    assert_eq!(target.base_branch.as_deref(), Some("linked"));
}
