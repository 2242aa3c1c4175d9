//! Worktree setup end to end with the real binary: files copied from the main checkout, setup
//! commands (success and failure), a real `python3 -m venv` with requirements from local paths
//! (no network), ports unique across parallel tasks, and none of it committed.

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::*;

/// Files of `branch`'s tree.
fn tree(repo: &Repo, branch: &str) -> BTreeSet<String> {
    repo.git(&["ls-tree", "-r", "--name-only", branch])
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn copied_files_and_setup_reach_the_agent_and_are_never_committed() {
    let repo = Repo::new();
    repo.write(".gitignore", ".env\n");
    repo.write("config/local.toml", "port = 1\n");
    repo.git(&["add", ".gitignore", "config/local.toml"]);
    repo.git(&["commit", "-q", "-m", "tracked config"]);
    // Local changes of the main checkout: an ignored file and a modified tracked one.
    repo.write(".env", "TOKEN=abc\n");
    repo.write("config/local.toml", "port = 2\n");
    let status_before = repo.git(&["status", "--porcelain"]);
    let (out, results) = repo.run_plan(
        &Plan::new()
            .shell_task(
                "t",
                "cat .env config/local.toml gen/stamp.txt > seen.txt; echo agent > gen/agent.txt; echo 'port = 3' > config/local.toml",
            )
            .with("copy", Raw(r#"[".env", "./config/local.toml"]"#))
            .with(
                "setup",
                Raw(r#"["echo preparing; mkdir -p build gen && echo 1 > build/cache.bin && echo x > gen/stamp.txt", "echo second step"]"#),
            )
            .to_toml(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let branch = format!("grove/{run_id}/t");
    assert_eq!(
        repo.git(&["show", &format!("{branch}:seen.txt")]),
        "TOKEN=abc\nport = 2\nx"
    );
    let files = tree(&repo, &branch);
    assert!(
        files.contains("seen.txt") && files.contains("gen/agent.txt"),
        "{files:?}"
    );
    for never in [".env", "build/cache.bin", "gen/stamp.txt"] {
        assert!(!files.contains(never), "{never} committed: {files:?}");
    }
    // The copied tracked file keeps its committed content on the branch, whatever happened
    // to the copy in the worktree.
    assert_eq!(
        repo.git(&["show", &format!("{branch}:config/local.toml")]),
        "port = 1"
    );
    // Setup's output is in the attempt's log, between grove's own lines.
    let log =
        std::fs::read_to_string(repo.run_dir(&run_id).join("agents/t/attempt-1.log")).unwrap();
    for expected in [
        "copied .env, config/local.toml",
        "$ echo preparing;",
        "preparing\r\n",
        "second step\r\n",
    ] {
        assert!(log.contains(expected), "{expected:?} not in log:\n{log}");
    }
    let audit = repo.audit(&run_id);
    let steps: Vec<&str> = audit
        .iter()
        .filter(|l| l["event"] == "setup")
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["ok", "ok", "ok"], "{audit:#?}");
    // The main checkout is as it was.
    assert_eq!(repo.git(&["status", "--porcelain"]), status_before);
    assert_eq!(repo.read(".env"), "TOKEN=abc\n");
    assert_eq!(repo.read("config/local.toml"), "port = 2\n");
    assert_eq!(task(&results, "t")["status"], "succeeded");
}

#[test]
fn a_failing_setup_command_fails_the_attempt_naming_it_and_is_retried() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .shell_task("t", "echo ran > ran.txt")
            .retries(1)
            .with("backoff", Raw(r#"{ initial = "10ms" }"#))
            .with(
                "setup",
                Raw(r#"["echo made > made-by-setup.txt", "echo broken >&2; exit 3"]"#),
            )
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = task(&results, "t");
    assert_eq!(t["status"], "failed");
    assert_eq!(
        t["error"],
        "setup command 'echo broken >&2; exit 3' failed: exit code 3"
    );
    let attempts = t["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "a setup failure is retried");
    // The agent never started; what setup created is not in the saved attempt either.
    let run_id = run_id(&out);
    assert!(!repo.audit(&run_id).iter().any(|l| l["event"] == "spawn"));
    let saved = attempts[0]["saved_ref"].as_str().unwrap();
    let files = tree(&repo, saved);
    assert!(
        !files.contains("made-by-setup.txt") && !files.contains("ran.txt"),
        "{files:?}"
    );
    let log =
        std::fs::read_to_string(repo.run_dir(&run_id).join("agents/t/attempt-2.log")).unwrap();
    assert!(log.contains("broken"), "{log}");
}

#[test]
fn a_missing_file_to_copy_is_an_error_naming_it_and_not_retried() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .shell_task("t", "true")
            .retries(2)
            .with("copy", Raw(r#"["secrets/missing.env"]"#))
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = task(&results, "t");
    let error = t["error"].as_str().unwrap();
    assert!(
        error.starts_with("copy: 'secrets/missing.env' does not exist in the main checkout"),
        "{error}"
    );
    assert_eq!(t["attempts"].as_array().unwrap().len(), 1);
}

/// The error of the only task of a one-task plan that copies `copy` (a TOML array) and must
/// fail at the copy, not retried.
fn copy_error(repo: &Repo, copy: &str) -> String {
    let (out, results) = repo.run_plan(
        &Plan::new()
            .shell_task("t", "true")
            .retries(1)
            .with("copy", Raw(copy))
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = task(&results, "t");
    assert_eq!(t["attempts"].as_array().unwrap().len(), 1, "{t:#}");
    t["error"].as_str().unwrap().to_string()
}

/// A symlinked folder of the main checkout is not followed out of the repository or into git's
/// own folder; a symlink named itself is copied as the symlink it is.
#[test]
fn copy_does_not_follow_symlinks_out_of_the_repository() {
    let repo = Repo::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "secret\n").unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.path().join("shared")).unwrap();
    std::os::unix::fs::symlink(".git", repo.path().join("gitdir")).unwrap();

    let error = copy_error(&repo, r#"["shared/secret.txt"]"#);
    assert!(
        error.starts_with(
            "copy: 'shared/secret.txt' is outside the repository once symlinks are followed"
        ),
        "{error}"
    );
    let error = copy_error(&repo, r#"["gitdir/config"]"#);
    assert!(
        error.starts_with(
            "copy: 'gitdir/config' is inside git's or grove's own folder once symlinks are followed"
        ),
        "{error}"
    );

    let (out, results) = repo.run_plan(
        &Plan::new()
            .shell_task("t", "readlink shared > link.txt")
            .with("copy", Raw(r#"["shared"]"#))
            .to_toml(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(task(&results, "t")["status"], "succeeded");
    let branch = format!("grove/{}/t", run_id(&out));
    assert_eq!(
        repo.git(&["show", &format!("{branch}:link.txt")]),
        outside.path().display().to_string()
    );
}

/// A folder the worktree has as a symlink (committed so) is never written through: the copy
/// stops there instead of writing where the link points.
#[test]
fn copy_never_writes_through_a_symlink_in_the_worktree() {
    let repo = Repo::new();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.path().join("config")).unwrap();
    repo.commit_all("config is a link");
    // The main checkout has a real folder there now, with a file to copy.
    std::fs::remove_file(repo.path().join("config")).unwrap();
    repo.write("config/local.toml", "port = 2\n");

    let error = copy_error(&repo, r#"["config/local.toml"]"#);
    assert!(
        error.starts_with("copy: 'config/local.toml': 'config' in the worktree is a symlink"),
        "{error}"
    );
    let written: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
    assert!(written.is_empty(), "written through the link: {written:?}");
}

/// A package pip can build and install with nothing from an index: its own build backend packs
/// it into a wheel.
fn local_package(dir: &Path, name: &str, value: u32) {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    std::fs::write(
        dir.join("pyproject.toml"),
        format!(
            "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n\n\
             [project]\nname = \"{name}\"\nversion = \"0.1.0\"\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join(name).join("__init__.py"),
        format!("VALUE = {value}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("backend.py"),
        format!(
            r#"import base64, hashlib, os, zipfile

NAME, VERSION = "{name}", "0.1.0"
DIST = f"{{NAME}}-{{VERSION}}.dist-info"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = [
        (f"{{NAME}}/__init__.py", open(os.path.join(NAME, "__init__.py"), "rb").read()),
        (f"{{DIST}}/METADATA", f"Metadata-Version: 2.1\nName: {{NAME}}\nVersion: {{VERSION}}\n".encode()),
        (f"{{DIST}}/WHEEL", b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
    wheel = f"{{NAME}}-{{VERSION}}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as whl:
        for path, data in files:
            whl.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{{path}},sha256={{digest}},{{len(data)}}")
        record.append(f"{{DIST}}/RECORD,,")
        whl.writestr(f"{{DIST}}/RECORD", "\n".join(record) + "\n")
    return wheel
"#
        ),
    )
    .unwrap();
}

#[test]
fn a_python_venv_gets_local_requirements_and_the_agent_runs_in_it() {
    let repo = Repo::new();
    let packages = repo.home.path().join("packages");
    local_package(&packages.join("tinypkg"), "tinypkg", 42);
    local_package(&packages.join("otherpkg"), "otherpkg", 7);
    repo.write(
        "requirements-dev.txt",
        &format!("{}\n", packages.join("otherpkg").display()),
    );
    repo.commit_all("requirements");
    let (out, results) = repo.run_plan(&format!(
        r#"
name = "p"
[[tasks]]
name = "py"
agent = "shell"
timeout = "3m"
# No index: everything comes from the local paths.
env = {{ PIP_NO_INDEX = "1" }}
python = {{ requirements = ["{tiny}"], requirements_file = "requirements-dev.txt" }}
setup = ["python -c 'import tinypkg' && echo setup sees the venv"]
prompt = '''echo "$VIRTUAL_ENV" > venv.txt; command -v python > which.txt; python -c "import tinypkg, otherpkg; print(tinypkg.VALUE, otherpkg.VALUE)" > values.txt'''
"#,
        tiny = packages.join("tinypkg").display()
    ));
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let t = task(&results, "py");
    let worktree = t["worktree"].as_str().unwrap();
    let branch = format!("grove/{run_id}/py");
    let show = |file: &str| repo.git(&["show", &format!("{branch}:{file}")]);
    assert_eq!(show("venv.txt"), format!("{worktree}/.venv"));
    assert_eq!(show("which.txt"), format!("{worktree}/.venv/bin/python"));
    assert_eq!(show("values.txt"), "42 7");
    let files = tree(&repo, &branch);
    assert!(
        files.iter().all(|f| !f.starts_with(".venv")),
        "the venv was committed: {files:?}"
    );
    let log =
        std::fs::read_to_string(repo.run_dir(&run_id).join("agents/py/attempt-1.log")).unwrap();
    assert!(log.contains("$ python3 -m venv .venv"), "{log}");
    assert!(log.contains("Successfully installed"), "{log}");
    assert!(log.contains("setup sees the venv"), "{log}");
}

#[test]
fn parallel_tasks_get_distinct_free_ports() {
    let repo = Repo::new();
    let bind = r#"python3 -c "import os, socket; [socket.socket().bind(('127.0.0.1', int(os.environ[k]))) for k in ('GROVE_PORT_0', 'GROVE_PORT_1')]""#;
    let prompt = format!(
        r#"echo "$GROVE_PORT_0 $GROVE_PORT_1 ${{GROVE_PORT_2:-none}}" > ports.txt; {bind} && sleep 1"#
    );
    let plan = format!(
        r#"
name = "p"
max_parallel = 3
[defaults]
agent = "shell"
ports = 2
prompt = '''{prompt}'''
[[tasks]]
name = "a"
[[tasks]]
name = "b"
[[tasks]]
name = "c"
"#
    );
    let (out, _) = repo.run_plan(&plan);
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let mut all = BTreeSet::new();
    for name in ["a", "b", "c"] {
        let line = repo.git(&["show", &format!("grove/{run_id}/{name}:ports.txt")]);
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.len(), 3, "{line}");
        assert_eq!(words[2], "none", "only two ports: {line}");
        for port in &words[..2] {
            let port: u16 = port.parse().unwrap();
            assert!(port > 0);
            all.insert(port);
        }
    }
    assert_eq!(all.len(), 6, "ports shared between tasks: {all:?}");
}
