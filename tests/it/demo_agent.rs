//! The bundled demo agent run in-process against envelopes in temp dirs, and the throwaway
//! demo repository that `grove demo` creates.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use grove::agent::demo_agent;
use serde_json::{json, Value};
use tempfile::TempDir;

/// A worktree-like folder plus a place for the envelope and the result, as the engine lays out.
struct Agent {
    _dir: TempDir,
    work: PathBuf,
    run_dir: PathBuf,
}

struct Outcome {
    code: i32,
    /// What the agent printed, colors included.
    raw: String,
    /// The same without escape sequences, for matching words.
    output: String,
    result: Option<Value>,
}

impl Agent {
    fn new() -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("worktree");
        let run_dir = dir.path().join("run");
        fs::create_dir_all(&work).unwrap();
        fs::create_dir_all(&run_dir).unwrap();
        Agent {
            _dir: dir,
            work,
            run_dir,
        }
    }

    fn file(&self, rel: &str, text: &str) {
        let path = self.work.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.work.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn result_path(&self, task: &str) -> PathBuf {
        self.run_dir.join(format!("{task}.result.json"))
    }

    /// The envelope the engine would write; `duration` 0 unless the inputs say otherwise.
    fn envelope(&self, task: &str, prompt: &str, inputs: Value, attempt: u32) -> Value {
        let mut inputs = inputs;
        if inputs.get("duration").is_none() {
            inputs["duration"] = json!(0);
        }
        json!({
            "task_id": task,
            "run_id": "run-1",
            "task": task,
            "agent": "demo",
            "prompt": prompt,
            "inputs": inputs,
            "context": {},
            "attempt": attempt,
            "max_attempts": 3,
            "timeout_s": 60,
            "worktree": self.work,
            "branch": format!("grove/run-1/{task}"),
            "base_commit": "0".repeat(40),
            "result_path": self.result_path(task),
            "created_at": "2026-01-01T00:00:00Z",
        })
    }

    fn run_envelope(&self, envelope: &Value) -> Outcome {
        let task = envelope["task"].as_str().unwrap_or("bad");
        let path = self.run_dir.join(format!("{task}.envelope.json"));
        fs::write(&path, serde_json::to_string_pretty(envelope).unwrap()).unwrap();
        self.run_file(&path, &self.result_path(task))
    }

    fn run_file(&self, envelope: &Path, result: &Path) -> Outcome {
        self.run_file_in(envelope, result, &|| None)
    }

    /// [`Agent::run_file`] on a terminal `columns` says the width of, asked before each frame.
    fn run_file_in(
        &self,
        envelope: &Path,
        result: &Path,
        columns: &dyn Fn() -> Option<u16>,
    ) -> Outcome {
        let mut out = Vec::new();
        let code = demo_agent::run_with_output(envelope, &self.work, &mut out, columns);
        let result = fs::read_to_string(result)
            .ok()
            .map(|t| serde_json::from_str(&t).expect("result is valid JSON"));
        let raw = String::from_utf8_lossy(&out).into_owned();
        Outcome {
            code,
            output: strip_ansi_escapes::strip_str(&raw),
            raw,
            result,
        }
    }

    fn run(&self, task: &str, prompt: &str, inputs: Value) -> Outcome {
        self.run_envelope(&self.envelope(task, prompt, inputs, 1))
    }
}

fn files_of(result: &Value) -> Vec<&str> {
    result["files"]
        .as_array()
        .expect("files is an array")
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect()
}

fn defined_names(python: &str) -> Vec<String> {
    python
        .lines()
        .filter_map(|l| l.strip_prefix("def "))
        .map(|l| l[..l.find('(').unwrap()].to_string())
        .collect()
}

#[test]
fn generator_writes_the_functions_the_prompt_asks_for() {
    let agent = Agent::new();
    let done = agent.run(
        "gen",
        "Add helpers to slugify text and spot palindromes",
        json!({"role": "generator", "module": "strings"}),
    );
    assert_eq!(done.code, 0, "{}", done.output);
    let module = agent.read("src/strings.py");
    let names = defined_names(&module);
    assert_eq!(&names[..2], &["slugify", "is_palindrome"]);
    assert!(names.len() >= 3, "a few functions: {names:?}");
    let result = done.result.expect("result written");
    assert_eq!(result["role"], "generator");
    assert_eq!(result["attempt"], 1);
    assert_eq!(files_of(&result), vec!["src/strings.py"]);
    assert!(result["summary"].as_str().unwrap().contains("slugify"));
    assert!(done.output.contains("writing src/strings.py (+"));
}

#[test]
fn generator_output_is_the_same_for_the_same_envelope() {
    let (first, second) = (Agent::new(), Agent::new());
    for agent in [&first, &second] {
        agent.file("README.md", "# project\n");
        let done = agent.run("gen", "Add statistics helpers", json!({}));
        assert_eq!(done.code, 0, "{}", done.output);
    }
    assert_eq!(first.read("src/utils.py"), second.read("src/utils.py"));
}

#[test]
fn generator_extends_a_module_without_repeating_its_functions() {
    let agent = Agent::new();
    let before = "def slugify(text):\n    \"\"\"Mine.\"\"\"\n    return text\n";
    agent.file("src/utils.py", before);
    let done = agent.run(
        "gen",
        "slugify and clamp please",
        json!({"role": "generator"}),
    );
    assert_eq!(done.code, 0, "{}", done.output);
    let after = agent.read("src/utils.py");
    assert!(after.starts_with(before.trim_end()));
    let names = defined_names(&after);
    assert_eq!(names.iter().filter(|n| *n == "slugify").count(), 1);
    assert!(names.contains(&"clamp".to_string()), "{names:?}");
    assert!(done.output.contains("Update"));
}

#[test]
fn tester_covers_every_function_of_the_module() {
    let agent = Agent::new();
    let gen = agent.run("gen", "Add fibonacci, gcd and unique helpers", json!({}));
    assert_eq!(gen.code, 0, "{}", gen.output);
    let done = agent.run("test", "Check the helpers", json!({"role": "tester"}));
    assert_eq!(done.code, 0, "{}", done.output);
    let tests = agent.read("tests/test_utils.py");
    let names = defined_names(&agent.read("src/utils.py"));
    // The loop below proves nothing about an empty module.
    assert!(!names.is_empty(), "the generator defined no function");
    for name in names {
        assert!(tests.contains(&format!("def test_{name}():")), "{name}");
        assert!(tests.contains(&format!("    {name},\n")), "{name} imported");
    }
    let result = done.result.expect("result written");
    assert_eq!(result["role"], "tester");
    assert_eq!(files_of(&result), vec!["tests/test_utils.py"]);
    assert!(done.output.contains("reading src/utils.py"));
}

#[test]
fn role_comes_from_the_prompt_when_inputs_do_not_say() {
    let agent = Agent::new();
    let done = agent.run("t", "Write tests for slugify", json!({"module": "text"}));
    assert_eq!(done.code, 0, "{}", done.output);
    assert_eq!(done.result.unwrap()["role"], "tester");
    assert!(agent
        .read("tests/test_text.py")
        .contains("def test_slugify():"));
}

#[test]
fn reviewer_reads_the_worktree_and_reports_findings() {
    let agent = Agent::new();
    agent.file(
        "src/calc/stats.py",
        "def mean_of(values, weights=[]):\n    if weights == None:\n        return 0\n",
    );
    agent.file("README.md", "# calc\n");
    let done = agent.run("review", "Look at this", json!({"role": "reviewer"}));
    assert_eq!(done.code, 0, "{}", done.output);
    let review = agent.read("REVIEW.md");
    assert!(review.contains("## `src/calc/stats.py`"), "{review}");
    assert!(review.contains("line 1: function `mean_of` has no docstring"));
    assert!(review.contains("line 1: a mutable default argument"));
    assert!(review.contains("line 2: comparison with None"));
    assert!(review.contains("no file named test_stats.py"));
    assert!(review.contains("- `README.md` (1 line)"));
    assert!(done.output.contains("reading src/calc/stats.py (3 lines)"));
    let result = done.result.expect("result written");
    assert_eq!(result["role"], "reviewer");
    assert_eq!(files_of(&result), vec!["REVIEW.md"]);
}

#[test]
fn documenter_writes_docs_and_links_them_from_the_readme() {
    let agent = Agent::new();
    agent.file("README.md", "# project\n");
    agent.file(
        "src/text.py",
        "def shout(s):\n    \"\"\"s in capitals.\"\"\"\n    return s.upper()\n",
    );
    let inputs = json!({"role": "documenter", "module": "text"});
    let done = agent.run("docs", "Document it", inputs);
    assert_eq!(done.code, 0, "{}", done.output);
    let docs = agent.read("docs/text.md");
    assert!(docs.contains("| `shout(s)` | s in capitals. |"), "{docs}");
    assert!(docs.contains("Defined in `src/text.py` at line 1."));
    let readme = agent.read("README.md");
    assert!(readme.starts_with("# project\n"));
    assert!(readme.contains("[docs/text.md](docs/text.md)"));
    let result = done.result.expect("result written");
    assert_eq!(result["role"], "documenter");
    assert_eq!(files_of(&result), vec!["docs/text.md", "README.md"]);
}

#[test]
fn failing_attempts_fail_then_a_later_attempt_succeeds() {
    let agent = Agent::new();
    let inputs = json!({"role": "generator", "fail_attempts": 1, "duration": 0});
    let first = agent.run_envelope(&agent.envelope("flaky", "Add a mean", inputs.clone(), 1));
    assert_eq!(first.code, 1);
    assert!(first.result.is_none(), "a failed attempt writes no result");
    assert!(first.raw.contains("\x1b[31m"), "error shown in red");
    assert!(first.output.contains("error"));
    assert!(agent.read("scratch/attempt-1.md").contains("src/utils.py"));
    assert!(!agent.work.join("src/utils.py").exists());

    let second = agent.run_envelope(&agent.envelope("flaky", "Add a mean", inputs, 2));
    assert_eq!(second.code, 0, "{}", second.output);
    assert_eq!(second.result.expect("result written")["attempt"], 2);
    assert!(agent.work.join("src/utils.py").exists());
}

#[test]
fn exit_code_input_is_returned_after_the_files_are_written() {
    let agent = Agent::new();
    let done = agent.run("odd", "Add a gcd", json!({"exit_code": 3}));
    assert_eq!(done.code, 3);
    assert!(agent.read("src/utils.py").contains("def gcd("));
    assert_eq!(done.result.expect("result written")["role"], "generator");
}

#[test]
fn previous_outputs_are_mentioned() {
    let agent = Agent::new();
    let mut envelope = agent.envelope("docs", "Document the helpers", json!({}), 1);
    envelope["context"] = json!({"previous_outputs": [
        {"task": "gen", "output": "added slugify to src/utils.py"},
        {"task": "test", "output": "wrote 1 test"},
    ]});
    let done = agent.run_envelope(&envelope);
    assert_eq!(done.code, 0, "{}", done.output);
    assert!(done.output.contains("building on 2 earlier results"));
    assert!(done.output.contains("gen: added slugify to src/utils.py"));
}

#[test]
fn output_is_colored_and_redrawn_in_place() {
    let agent = Agent::new();
    let done = agent.run("gen", "Add helpers", json!({}));
    assert!(done.raw.contains("\x1b[32m"), "green summary");
    assert!(done.raw.contains("\r\x1b[2K"), "spinner or bar redrawn");
    assert!(done.output.contains("100%"));
}

/// Every line the agent redraws in place (spinner, progress bar) as it shows: escapes
/// stripped, up to the end of the line.
fn redrawn_lines(raw: &str) -> Vec<String> {
    raw.split("\r\x1b[2K")
        .skip(1)
        .map(|frame| {
            let line = frame.split('\n').next().unwrap_or_default();
            strip_ansi_escapes::strip_str(line)
        })
        .collect()
}

#[test]
fn redrawn_lines_fit_the_terminal_read_before_each_frame() {
    let agent = Agent::new();
    let envelope = agent.envelope("narrow", "Add helpers", json!({"duration": 1.0}), 1);
    let path = agent.run_dir.join("narrow.envelope.json");
    fs::write(&path, envelope.to_string()).unwrap();
    // 80 columns at first, then 30: the terminal was made narrower during the run.
    let asked = std::cell::Cell::new(0u32);
    let columns = || {
        asked.set(asked.get() + 1);
        Some(if asked.get() <= 3 { 80 } else { 30 })
    };
    let done = agent.run_file_in(&path, &agent.result_path("narrow"), &columns);
    assert_eq!(done.code, 0, "{}", done.output);
    let lines = redrawn_lines(&done.raw);
    let bars: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("checking changes"))
        .collect();
    assert!(bars.len() > 3, "{lines:?}");
    for line in &lines[3..] {
        assert!(
            line.chars().count() < 30,
            "{line:?} is wider than 30 columns"
        );
    }
    let last = bars[bars.len() - 1];
    assert!(last.contains("100%") && last.contains('█'), "{last:?}");
    // Wide enough, the bar is as long as ever.
    let wide = agent.run_file_in(&path, &agent.result_path("narrow"), &|| Some(200));
    let full = redrawn_lines(&wide.raw)
        .into_iter()
        .rfind(|l| l.contains("checking changes"))
        .unwrap();
    assert_eq!(full.matches('█').count(), 24, "{full:?}");
}

/// The real binary in a real 40-column PTY: the progress bar ends as one line, not wrapped
/// into several.
#[test]
fn the_progress_bar_fits_a_narrow_pty() {
    use portable_pty::CommandBuilder;
    use std::io::Read;
    let (rows, cols) = (40, 40);
    let agent = Agent::new();
    let envelope = agent.envelope("narrow", "Add helpers", json!({"duration": 0.5}), 1);
    let path = agent.run_dir.join("narrow.envelope.json");
    fs::write(&path, envelope.to_string()).unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_grove"));
    cmd.args(["demo-agent", "--envelope"]);
    cmd.arg(&path);
    cmd.cwd(&agent.work);
    cmd.env_remove("COLUMNS");
    let (mut child, master) = crate::support::tty::start_in_pty(cmd, rows, cols);
    let mut reader = master.try_clone_reader().unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    // Until the agent's side closes (EOF, or EIO once the child is gone).
    while let Ok(n @ 1..) = reader.read(&mut buf) {
        bytes.extend_from_slice(&buf[..n]);
    }
    assert!(child.wait().unwrap().success());
    let mut parser = vt100::Parser::new(rows, cols, 0);
    parser.process(&bytes);
    // Row by row: `contents()` would join a wrapped row to the one it continues.
    let screen: Vec<String> = parser.screen().rows(0, cols).collect();
    let bar_rows: Vec<&String> = screen
        .iter()
        .filter(|l| l.contains("checking changes"))
        .collect();
    assert_eq!(bar_rows.len(), 1, "{screen:#?}");
    assert!(bar_rows[0].contains("100%"), "{screen:#?}");
}

#[test]
fn duration_spreads_the_work_over_at_least_that_long() {
    let agent = Agent::new();
    let started = Instant::now();
    let done = agent.run("slow", "Add helpers", json!({"duration": 0.5}));
    assert_eq!(done.code, 0, "{}", done.output);
    assert!(started.elapsed() >= Duration::from_millis(450));
}

#[test]
fn bad_envelopes_exit_2_without_writing_anything() {
    let agent = Agent::new();
    let missing = agent.run_dir.join("missing.json");
    assert_eq!(agent.run_file(&missing, &agent.result_path("x")).code, 2);

    let garbage = agent.run_dir.join("garbage.json");
    fs::write(&garbage, "{ not json").unwrap();
    assert_eq!(agent.run_file(&garbage, &agent.result_path("x")).code, 2);

    let mut no_result_path = agent.envelope("x", "p", json!({}), 1);
    no_result_path
        .as_object_mut()
        .unwrap()
        .remove("result_path");
    assert_eq!(agent.run_envelope(&no_result_path).code, 2);

    let bad_inputs = [
        json!({"role": "wizard"}),
        json!({"module": "../../etc"}),
        json!({"duration": -1}),
        json!({"duration": "soon"}),
        json!({"fail_attempts": 1.5}),
        json!({"hang": "yes"}),
        json!({"exit_code": 300}),
    ];
    for inputs in bad_inputs {
        let done = agent.run("x", "Add helpers", inputs.clone());
        assert_eq!(done.code, 2, "{inputs}");
        assert!(done.result.is_none(), "{inputs}");
    }
    let mut wrong_type = agent.envelope("x", "p", json!({}), 1);
    wrong_type["attempt"] = json!("first");
    assert_eq!(agent.run_envelope(&wrong_type).code, 2);
    assert_eq!(fs::read_dir(&agent.work).unwrap().count(), 0);
}

mod demo_repo {
    use super::*;
    use git2::{Repository, StatusOptions};

    #[test]
    fn is_a_clean_repository_with_one_commit_on_main_and_every_plan() {
        let parent = tempfile::tempdir().unwrap();
        let demo = grove::cli::demo::create_demo_repo(Some(parent.path())).unwrap();
        assert!(demo.root.starts_with(parent.path().canonicalize().unwrap()));
        let name = demo.root.file_name().unwrap().to_string_lossy();
        assert!(name.starts_with("grove-demo-"), "{name}");
        assert_eq!(demo.plan, demo.root.join("plans/demo.toml"));

        let repo = Repository::open(&demo.root).unwrap();
        assert_eq!(repo.head().unwrap().shorthand().unwrap(), "main");
        let mut walk = repo.revwalk().unwrap();
        walk.push_head().unwrap();
        assert_eq!(walk.count(), 1);
        let mut opts = StatusOptions::new();
        opts.include_untracked(true).include_ignored(false);
        assert!(repo.statuses(Some(&mut opts)).unwrap().is_empty());

        let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-plans");
        let mut count = 0;
        for entry in fs::read_dir(samples).unwrap() {
            let path = entry.unwrap().path();
            let copy = demo.root.join("plans").join(path.file_name().unwrap());
            assert_eq!(
                fs::read_to_string(&copy).unwrap(),
                fs::read_to_string(&path).unwrap(),
                "{}",
                copy.display()
            );
            count += 1;
        }
        assert_eq!(
            fs::read_dir(demo.root.join("plans")).unwrap().count(),
            count
        );
        assert!(demo.root.join("src/calc/arith.py").is_file());
    }

    #[test]
    fn each_call_makes_a_fresh_repository() {
        let parent = tempfile::tempdir().unwrap();
        let a = grove::cli::demo::create_demo_repo(Some(parent.path())).unwrap();
        let b = grove::cli::demo::create_demo_repo(Some(parent.path())).unwrap();
        assert_ne!(a.root, b.root);
        assert!(a.root.is_dir() && b.root.is_dir());
    }

    #[test]
    fn the_reviewer_finds_the_planted_flaws() {
        let parent = tempfile::tempdir().unwrap();
        let demo = grove::cli::demo::create_demo_repo(Some(parent.path())).unwrap();
        let envelope = parent.path().join("envelope.json");
        let result = parent.path().join("result.json");
        let body = json!({
            "task": "code_reviewer", "prompt": "Review the calc package",
            "inputs": {"role": "reviewer", "duration": 0}, "attempt": 1, "max_attempts": 1,
            "result_path": result,
        });
        fs::write(&envelope, body.to_string()).unwrap();
        let code = demo_agent::run_with_output(&envelope, &demo.root, &mut Vec::new(), &|| None);
        assert_eq!(code, 0);
        let review = fs::read_to_string(demo.root.join("REVIEW.md")).unwrap();
        assert!(
            review.contains("function `multiply` has no docstring"),
            "{review}"
        );
        assert!(review.contains("a mutable default argument"));
        assert!(review.contains("no file named test_stats.py"));
    }
}
