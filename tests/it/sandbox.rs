//! `sandbox`, `network`, `max_memory` and `min_free_memory` with real processes under the real
//! sandbox (Landlock, namespaces, cgroups or rlimits of this kernel), through the real binary.

use std::io::Read;
use std::path::Path;

use crate::support::*;

/// Every way out of the worktree the issue names, tried by the agent (and a grandchild); each
/// line of `outcomes.txt` says what happened. Then the agent works in its worktree, uses
/// $TMPDIR and commits with git itself.
const JAILED: &str = r#"
main=$(cd ../../../.. && pwd)
common=$(git rev-parse --git-common-dir)
try() { name=$1; shift; if out=$(sh -c "$*" 2>&1); then echo "$name: WROTE"; else echo "$name: $out"; fi; }
{
try main "echo agent >> $main/README.md"
try sibling "echo agent >> ../sibling/sibling.txt"
try hook "echo agent > $common/hooks/x"
try config "echo agent >> $common/config"
try home "echo agent > $HOME/file"
try journal "echo agent >> $main/.grove/runs/$GROVE_RUN_ID/journal.jsonl"
ln -s "$main/outside.txt" escape
try symlink "echo agent > escape"
rm escape
try grandchild "sh -c 'echo agent > $main/grandchild.txt'"
echo agent > "$TMPDIR/t" && cat "$TMPDIR/t" > /dev/null && echo "tmp: WROTE"
} > outcomes.txt
echo work > work.txt
git add outcomes.txt work.txt && git commit -q -m "the agent's own commit"
"#;

fn jail_plan() -> String {
    Plan::named("jail")
        .set("strategy", "sequential")
        .default("keep_worktrees", "always")
        .shell_task("sibling", "echo mine > sibling.txt")
        .shell_task("jailed", JAILED)
        .with(
            "setup",
            Raw(r#"["echo setup >> ../../../../README.md || echo SETUP-DENIED"]"#),
        )
        .with(
            "check",
            "echo check >> ../../../../README.md || echo CHECK-DENIED",
        )
        .to_toml()
}

#[test]
fn an_agent_writes_only_its_worktree_and_what_a_commit_needs() {
    let repo = Repo::new().confined();
    let config_before = repo.read(".git/config");
    let (out, results) = repo.run_plan(&jail_plan());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run_id = run_id(&out);
    let jailed = task(&results, "jailed");
    assert_eq!(jailed["status"], "succeeded", "{jailed}");
    assert_eq!(jailed["sandbox"], "worktree");

    let branch = format!("grove/{run_id}/jailed");
    let outcomes = repo.git(&["show", &format!("{branch}:outcomes.txt")]);
    for name in [
        "main",
        "sibling",
        "hook",
        "config",
        "home",
        "journal",
        "symlink",
        "grandchild",
    ] {
        let line = outcomes
            .lines()
            .find(|l| l.starts_with(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no outcome for {name}:\n{outcomes}"));
        assert!(
            line.contains("Permission denied"),
            "{name} was not denied with EACCES: {line}\n{outcomes}"
        );
    }
    assert!(outcomes.contains("tmp: WROTE"), "{outcomes}");
    assert_eq!(repo.git(&["show", &format!("{branch}:work.txt")]), "work");
    let log = repo.git(&["log", "--format=%s", &branch]);
    assert!(log.contains("the agent's own commit"), "{log}");

    // Nothing outside the worktree changed.
    assert_eq!(repo.read("README.md"), "# test\n");
    let sibling = repo
        .path()
        .join(format!(".grove/worktrees/{run_id}/sibling/sibling.txt"));
    assert_eq!(std::fs::read_to_string(sibling).unwrap(), "mine\n");
    assert!(!repo.path().join(".git/hooks/x").exists());
    assert_eq!(repo.read(".git/config"), config_before);
    assert!(!repo.home.path().join("file").exists());
    assert!(!repo.path().join("outside.txt").exists());
    assert!(!repo.path().join("grandchild.txt").exists());
    for line in lines(&repo.run_dir(&run_id).join("journal.jsonl")) {
        serde_json::from_str::<serde_json::Value>(&line)
            .unwrap_or_else(|e| panic!("a journal line that is not grove's ({e}): {line}"));
    }
    // Setup commands and checks run under the same sandbox.
    let attempt_log =
        std::fs::read_to_string(repo.run_dir(&run_id).join("agents/jailed/attempt-1.log")).unwrap();
    assert!(attempt_log.contains("SETUP-DENIED"), "{attempt_log}");
    assert!(attempt_log.contains("CHECK-DENIED"), "{attempt_log}");
}

#[test]
fn sandbox_off_runs_as_before() {
    let repo = Repo::new().confined();
    let plan = &Plan::named("free")
        .shell_task(
            "free",
            "echo agent > $HOME/file && echo agent > ../../../../outside.txt",
        )
        .with("sandbox", "off")
        .to_toml();
    let (out, results) = repo.run_plan(plan);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(task(&results, "free")["sandbox"], "off");
    assert!(repo.home.path().join("file").exists());
    assert!(repo.path().join("outside.txt").exists());
    let run_dir = repo.run_dir(&run_id(&out));
    assert!(!run_dir.join("agents/free/sandbox.json").exists());
}

/// A listener in the host's network namespace, and whether anything connected to it.
fn listener() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

fn connect_plan(port: u16, network: bool) -> String {
    let connect = format!(
        r#"python3 -c 'import socket; socket.create_connection(("127.0.0.1", {port}), 5); print("CONNECTED")'"#
    );
    Plan::named("net")
        .shell_task("net", &connect)
        .with("network", network)
        .to_toml()
}

#[test]
fn network_false_cannot_reach_the_hosts_loopback() {
    let repo = Repo::new().confined();
    let (listener, port) = listener();
    let (out, results) = repo.run_plan(&connect_plan(port, false));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let net = task(&results, "net");
    assert_eq!(net["status"], "failed", "{net}");
    assert!(listener.accept().is_err(), "the agent reached the host");
    let log = repo.git(&["log", "--all", "--format=%s"]);
    assert!(!log.contains("CONNECTED"));

    // The same agent with the network reaches it: the test can tell the difference.
    let (out, results) = repo.run_plan(&connect_plan(port, true));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(task(&results, "net")["status"], "succeeded");
    assert!(listener.accept().is_ok());
}

#[test]
fn without_landlock_an_explicit_sandbox_is_invalid_and_the_default_warns() {
    let repo = Repo::new().confined();
    let explicit = repo.write_plan(
        "name = \"x\"\n[[tasks]]\nname = \"a\"\nagent = \"shell\"\nsandbox = \"worktree\"\nprompt = \"true\"\n",
    );
    let out = repo
        .grove_cmd(&["validate", explicit.to_str().unwrap()])
        .env("GROVE_TEST_NO_LANDLOCK", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plan.toml:5:11"), "{err}");
    assert!(
        err.contains("needs Landlock, which this kernel (Linux "),
        "{err}"
    );
    assert!(!repo.path().join(".grove").exists());

    let implied = repo.write_plan(
        &Plan::named("y")
            .shell_task("a", "echo agent > $HOME/file")
            .to_toml(),
    );
    let out = repo
        .grove_cmd(&["run", implied.to_str().unwrap(), "--headless"])
        .env("GROVE_TEST_NO_LANDLOCK", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("has no Landlock").count(), 1, "{err}");
    let results = repo.results(&run_id(&out));
    assert_eq!(task(&results, "a")["sandbox"], "unavailable");
    assert!(repo.home.path().join("file").exists());
}

#[test]
fn a_task_held_for_low_memory_starts_once_the_floor_is_lowered() {
    let repo = Repo::new().confined();
    let plan = repo.write_plan(
        &Plan::named("mem")
            .set("min_free_memory", "1000T")
            .shell_task("a", "echo ran > ran.txt")
            .to_toml(),
    );
    let floor = repo.home.path().join("floor");
    let output = repo.home.path().join("out.txt");
    let child = repo
        .grove_cmd(&["run", plan.to_str().unwrap(), "--headless"])
        .env("GROVE_TEST_MIN_FREE_MEMORY_FILE", &floor)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&output).unwrap())
        .spawn()
        .unwrap();
    let mut grove = Killed(child);
    let held = wait_for("the task held for memory", || {
        let out = std::fs::read_to_string(&output).unwrap_or_default();
        out.lines().find(|l| l.contains("held")).map(str::to_string)
    });
    assert!(held.contains("low memory ("), "{held}");
    assert!(held.contains("free < 1000 TiB)"), "{held}");
    assert!(!repo.path().join(".grove/worktrees").exists(), "it started");
    std::fs::write(&floor, "1M").unwrap();
    let status = grove.0.wait().unwrap();
    let mut out = String::new();
    std::fs::File::open(&output)
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(out.contains("succeeded"), "{out}");
}

#[test]
fn max_memory_stops_an_agent_that_allocates_past_it() {
    let repo = Repo::new().confined();
    let plan = &Plan::named("oom")
        .shell_task(
            "hog",
            r#"python3 -c 's = b"x" * (512 * 1024 * 1024); print(len(s))'"#,
        )
        .with("max_memory", "64M")
        .to_toml();
    let (out, results) = repo.run_plan(plan);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let hog = task(&results, "hog");
    let error = hog["error"].as_str().unwrap_or_default();
    let spec = sandbox_spec(&repo.run_dir(&run_id(&out)), "hog");
    if spec["cgroup"].is_null() {
        // No cgroup to be had (not root, no delegated subtree): RLIMIT_DATA per process.
        assert_eq!(spec["data_limit"], 64 << 20);
        assert!(error.contains("RLIMIT_DATA"), "{error}");
    } else {
        assert_eq!(error, "out of memory (max_memory 64 MiB)", "{hog}");
        let cgroup = spec["cgroup"].as_str().unwrap();
        assert!(!Path::new(cgroup).exists(), "the cgroup was left behind");
    }
}

/// A grove this test started, killed (by its pid) if the test ends before it does.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sandbox_spec(run_dir: &Path, task: &str) -> serde_json::Value {
    let path = run_dir.join("agents").join(task).join("sandbox.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_new_keys_are_validated_with_their_place() {
    let repo = Repo::new();
    let cases = [
        ("max_memory = \"lots\"", "plan.toml:5:14: task 'a': bad size \"lots\" for 'max_memory'"),
        ("max_memory = 10", "plan.toml:5:14: task 'a': 'max_memory' must be at least 1M"),
        ("sandbox = \"docker\"", "plan.toml:5:11: task 'a': 'sandbox' must be one of \"worktree\", \"off\""),
        ("sandbox_write = [\"build\"]", "plan.toml:5:18: task 'a': 'sandbox_write': 'build' must be an absolute path or start with ~/"),
        ("network = \"no\"", "plan.toml:5:11"),
    ];
    for (line, expected) in cases {
        let plan = repo.write_plan(&format!(
            "name = \"x\"\n[[tasks]]\nname = \"a\"\nagent = \"shell\"\n{line}\nprompt = \"true\"\n"
        ));
        let out = repo.grove(&["validate", plan.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{line}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{line}: {err}");
    }
    let plan = repo.write_plan(
        "name = \"x\"\nmin_free_memory = \"2X\"\n[[tasks]]\nname = \"a\"\nagent = \"shell\"\nprompt = \"true\"\n",
    );
    let out = repo.grove(&["validate", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plan.toml:2:19"));
}

/// `$GROVE_RESULT` is in the agent's reach, and grove reads it outside the sandbox: a link there
/// must not hand grove (and the records, and later tasks' prompts) a file the sandbox hides,
/// and a FIFO must not hold grove up.
#[test]
fn a_result_that_is_a_link_or_a_fifo_is_refused() {
    let repo = Repo::new().confined();
    let docker = repo.home.path().join(".docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(docker.join("config.json"), r#"{"auths": "SECRET-TOKEN"}"#).unwrap();
    let plan = &Plan::named("res")
        .shell_task(
            "linked",
            r#"cat "$HOME/.docker/config.json" || ln -s "$HOME/.docker/config.json" "$GROVE_RESULT""#,
        )
        .shell_task("fifo", r#"mkfifo "$GROVE_RESULT""#)
        .to_toml();
    let mut grove = spawn_run(&repo, plan);
    let run_id = the_run(&repo);
    let status = wait_for("grove to end", || grove.try_wait().unwrap());
    assert_eq!(status.code(), Some(1));
    let results = repo.results(&run_id);
    for name in ["linked", "fifo"] {
        let t = task(&results, name);
        assert_eq!(t["status"], "failed", "{t}");
        let error = t["error"].as_str().unwrap_or_default();
        assert!(error.contains("not a regular file"), "{t}");
    }
    let mut records = vec![repo.run_dir(&run_id)];
    while let Some(at) = records.pop() {
        if at.is_dir() {
            records.extend(std::fs::read_dir(&at).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&at).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains("SECRET-TOKEN"), "{}: {text}", at.display());
        }
    }
}
