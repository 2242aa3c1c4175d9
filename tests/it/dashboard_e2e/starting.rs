//! Starting grove: `grove demo` (and the README's picture of it), `grove new` and its form,
//! tasks added to a running plan, races picked and compared.

use super::*;

/// `grove demo ARGS` with the demo repository (and HOME) in `home`.
fn grove_demo(home: &Path, args: &[&str]) -> Tty {
    let mut cmd = CommandBuilder::new(GROVE);
    cmd.arg("demo");
    cmd.args(args);
    cmd.arg("--dir");
    cmd.arg(home);
    cmd.cwd(home);
    cmd.env("HOME", home);
    cmd.env("XDG_CONFIG_HOME", home);
    cmd.env("GIT_CONFIG_NOSYSTEM", "1");
    Tty::spawn(cmd)
}

#[test]
fn grove_demo_opens_the_dashboard() {
    let home = tempfile::tempdir().unwrap();
    let mut dash = grove_demo(home.path(), &["--exit-when-done"]);
    let agents = ["code_generator", "code_reviewer", "tester", "documenter"];
    dash.wait_for("the four demo agents, their output in their panes", |s| {
        let shown = |n: &&str| {
            s.status(n).is_some()
                && s.pane(n)
                    .is_some_and(|p| p.lines.iter().any(|l| !l.trim().is_empty()))
        };
        (agents.iter().all(shown)
            && agents
                .iter()
                .any(|n| s.status(n).as_deref() == Some("running")))
        .then_some(())
    });
    assert_eq!(dash.exit_code(), 0, "every demo task succeeds in the end");
    dash.assert_restored();
    let screen = dash.screen();
    assert!(
        screen.contains("grove demo: look around in"),
        "{}",
        screen.text()
    );
}

/// The README's picture of the dashboard, `assets/dashboard.svg`, made from a real run: the
/// real `grove demo` at 120x36, taken once its agents work with output in their panes. Run
/// `cargo test --test dashboard_e2e screenshot -- --ignored` to make it again.
#[test]
#[ignore = "writes assets/dashboard.svg: run it to make the README's picture again"]
fn screenshot() {
    let home = tempfile::tempdir().unwrap();
    let mut dash = grove_demo(home.path(), &[]);
    dash.resize(36, 120);
    let agents = ["code_generator", "code_reviewer", "tester", "documenter"];
    // Some agents done, the tester on its second attempt, a progress bar being drawn.
    dash.wait_for("demo agents at work", |s| {
        let running = agents
            .iter()
            .filter(|n| s.status(n).as_deref() == Some("running"))
            .count();
        let bar = agents.iter().any(|n| {
            s.pane(n).is_some_and(|p| {
                p.lines
                    .iter()
                    .any(|l| l.contains("checking changes") && l.contains("██"))
            })
        });
        let second = s.list_details("tester").is_some_and(|d| d.contains("2/3"));
        (running >= 2 && bar && second).then_some(())
    });
    let picture = {
        let out = dash.out.0.lock().unwrap();
        svg::render(out.parser.screen())
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/dashboard.svg");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, picture).unwrap();
    // Dropping the terminal stops grove and the demo agents.
}

#[test]
fn the_readme_shows_the_dashboard_picture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme
            .lines()
            .take(5)
            .any(|l| l == "![grove dashboard](assets/dashboard.svg)"),
        "the picture is at the top of the README"
    );
    let svg = std::fs::read_to_string(root.join("assets/dashboard.svg")).unwrap();
    assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
    for agent in ["code_generator", "code_reviewer", "tester", "documenter"] {
        assert!(svg.contains(agent), "{agent} is in the picture");
    }
}

#[test]
fn grove_without_a_plan_starts_agents_from_the_form_and_copies_them() {
    let repo = Repo::new();
    let mut dash = grove_new(&repo);
    dash.wait_for("the empty run's hint", |s| {
        s.contains("n new task").then_some(())
    });
    let run_id = dash.wait_for("the run id", |s| s.run_id());
    assert!(run_id.starts_with("adhoc-"), "{run_id}");

    // Esc leaves the form without starting anything.
    let form = dash.peek_new_task_form();
    assert!(form.contains("shell ✓"), "{form}");
    dash.wait_for("the empty run's hint again", |s| {
        s.contains("n new task").then_some(())
    });

    // n, the name filled in, shell (right of demo), a two-line prompt, Enter.
    dash.send(b"n");
    fill_form(
        &mut dash,
        1,
        &["echo \"made by $GROVE_TASK\" > made.txt", "cat made.txt"],
    );
    dash.wait_for("task-1 succeeded", |s| {
        (s.status("task-1").as_deref() == Some("succeeded")).then_some(())
    });
    // N fills the form with a copy under a new name; Enter starts it, from scratch.
    dash.send(b"N");
    dash.wait_for("the copy's form", |s| {
        s.contains(" copy of task-1 ").then_some(())
    });
    dash.send(b"\r");
    dash.wait_for("task-1-2 succeeded", |s| {
        (s.status("task-1-2").as_deref() == Some("succeeded")).then_some(())
    });
    dash.send(b"q");
    assert_eq!(dash.exit_code(), 0);
    dash.assert_restored();

    let results = repo.results(&run_id);
    assert_eq!(results["plan"], "adhoc");
    for name in ["task-1", "task-1-2"] {
        let t = task(&results, name);
        assert_eq!(t["status"], "succeeded", "{t:#}");
        assert_eq!(t["agent"], "shell");
        let branch = format!("grove/{run_id}/{name}");
        assert_eq!(
            repo.git(&["show", &format!("{branch}:made.txt")]),
            format!("made by {name}")
        );
    }
    // The run's plan.toml holds both tasks: it loads as a plan like any other.
    let plan_path = repo.run_dir(&run_id).join("plan.toml");
    let plan = grove::plan::load_with(&plan_path, &grove::plan::UserConfig::empty()).unwrap();
    assert_eq!(plan.name, "adhoc");
    let names: Vec<&str> = plan.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["task-1", "task-1-2"]);
    assert!(plan
        .tasks
        .iter()
        .all(|t| t.prompt == "echo \"made by $GROVE_TASK\" > made.txt\ncat made.txt"));
    let added = repo
        .audit(&run_id)
        .into_iter()
        .filter(|e| e["event"] == "task_added")
        .count();
    assert_eq!(added, 2);
}

/// Bare `grove` and `q` at once: the run no task joined is not recorded.
#[test]
fn grove_opened_and_quit_leaves_no_run() {
    let repo = Repo::new();
    let mut dash = grove_new(&repo);
    dash.wait_for("the empty run's hint", |s| {
        s.contains("n new task").then_some(())
    });
    dash.send(b"q");
    assert_eq!(dash.exit_code(), 0);
    let ls = repo.grove(&["ls"]);
    let listing = String::from_utf8_lossy(&ls.stdout);
    assert!(listing.starts_with("no runs in "), "{listing}");
}

#[test]
fn n_adds_a_task_to_a_running_plan() {
    let repo = Repo::new();
    let gate = repo.home.path().join("gate");
    let mut dash = Tty::run(
        &repo,
        &format!(
            r#"
name = "live"
[[tasks]]
name = "slow"
agent = "shell"
prompt = "while [ ! -e '{}' ]; do sleep 0.1; done"
"#,
            gate.display()
        ),
        &[],
    );
    dash.wait_for("slow running", |s| {
        (s.status("slow").as_deref() == Some("running")).then_some(())
    });
    let run_id = dash.wait_for("the run id", |s| s.run_id());
    dash.send(b"n");
    fill_form(&mut dash, 1, &["echo joined > joined.txt"]);
    dash.wait_for("task-1 succeeded next to slow", |s| {
        (s.status("task-1").as_deref() == Some("succeeded")
            && s.status("slow").as_deref() == Some("running"))
        .then_some(())
    });
    std::fs::write(&gate, "").unwrap();
    dash.wait_for("slow succeeded", |s| {
        (s.status("slow").as_deref() == Some("succeeded")).then_some(())
    });
    dash.send(b"q");
    assert_eq!(dash.exit_code(), 0);

    let results = repo.results(&run_id);
    assert_eq!(results["total_tasks"], 2);
    assert_eq!(task(&results, "task-1")["status"], "succeeded");
    let plan = std::fs::read_to_string(repo.run_dir(&run_id).join("plan.toml")).unwrap();
    assert!(plan.starts_with("\nname = \"live\""), "{plan}");
    assert!(plan.contains("name = \"task-1\""), "{plan}");
}

#[test]
fn grove_new_needs_a_terminal() {
    let repo = Repo::new();
    let out = repo.grove(&["new"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a terminal"));
    assert!(!repo.path().join(".grove/runs").exists());
}

#[test]
fn m_on_a_race_sibling_picks_it_and_v_compares_the_race() {
    let repo = Repo::new();
    let order = ["job.1", "job.2"];
    let mut dash = Tty::run(
        &repo,
        &Plan::named("race")
            .shell_task("job", "echo $GROVE_TASK > who.txt")
            .with("replicas", 2)
            .with("check", "grep -q job who.txt")
            .to_toml(),
        &[],
    );
    dash.wait_for("both siblings succeeded", |s| {
        order
            .iter()
            .all(|n| s.status(n).as_deref() == Some("succeeded"))
            .then_some(())
    });
    let run_id = dash.wait_for("the run id", |s| s.run_id());
    // Each Esc is let through alone: Esc and a key right after it read as Alt and the key.
    dash.wait_for("the summary", |s| {
        s.contains(" run finished ").then_some(())
    });
    dash.send(b"\x1b");
    dash.wait_for("the summary put away", |s| {
        (!s.contains(" run finished ")).then_some(())
    });
    select(&mut dash, "job.2", &order);
    dash.send(b"v");
    dash.wait_for("the race compared", |s| {
        (s.contains(" race job ") && s.contains("passed")).then_some(())
    });
    dash.send(b"\x1b");
    dash.wait_for("the comparison closed", |s| {
        (!s.contains(" race job ")).then_some(())
    });
    dash.send(b"m");
    dash.wait_for("the pick question", |s| {
        s.contains("discards job.1").then_some(())
    });
    dash.send(b"y");
    dash.wait_for("job.2 merged, job.1 discarded", |s| {
        (s.list_details("job.2")?.contains("merged")
            && s.list_details("job.1")?.contains("discarded"))
        .then_some(())
    });
    dash.send(b"q");
    assert_eq!(dash.exit_code(), 0);
    assert_eq!(repo.read("who.txt"), "job.2\n");
    let results = repo.results(&run_id);
    assert_eq!(results["groups"][0]["picked"], "job.2");
    assert_eq!(task(&results, "job.1")["merge"]["state"], "discarded");
}
