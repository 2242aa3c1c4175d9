//! The dashboard in a tiny terminal while an agent prints what makes a terminal model panic on
//! tiny screens (wide chars, newlines, line erases, the alternate screen): the agent's pane is
//! at least 2x2, its model recovers, and the dashboard and the run go on.

use super::*;

#[test]
fn a_tiny_dashboard_survives_hostile_output_and_the_task_succeeds() {
    let repo = Repo::new();
    let dir = repo.home.path();
    let (size, printed, end) = (dir.join("size"), dir.join("printed"), dir.join("end"));
    // The agent waits until its terminal is the smallest a pane has (2 rows), then prints.
    let prompt = format!(
        "while :; do s=$(stty size); echo \"$s\" > {size}; case $s in '2 '*) break;; esac; sleep 0.1; done\n\
         i=0; while [ $i -lt 40 ]; do printf 'ab\\344\\270\\255\\n\\344\\270\\255\\r\\n\\033[2K\\344\\270\\255\\344\\270\\255\\344\\270\\255\\n\\033[?1049h\\344\\270\\255\\n\\033[5L\\344\\270\\255\\033[?1049l\\n'; i=$((i+1)); done\n\
         touch {printed}\n\
         until [ -e {end} ]; do sleep 0.1; done\n\
         echo all done",
        size = size.display(),
        printed = printed.display(),
        end = end.display(),
    );
    let mut dash = Tty::run(
        &repo,
        &Plan::named("tiny").shell_task("wide", &prompt).to_toml(),
        &[],
    );
    dash.wait_for("the agent running", |s| {
        (s.status("wide")? == "running").then_some(())
    });
    dash.resize(6, 20);
    wait_for("the agent's output in its 2-row terminal", || {
        printed.exists().then_some(())
    });
    let agent_size = std::fs::read_to_string(&size).unwrap();
    assert!(agent_size.starts_with("2 "), "{agent_size}");
    // The dashboard is still up and drawing in the tiny terminal.
    dash.resize(5, 18);
    dash.wait_for("the dashboard drawn 18 columns wide", |s| {
        let text = s.text();
        (!text.trim().is_empty()).then_some(())
    });
    dash.resize(ROWS, COLS);
    std::fs::write(&end, "").unwrap();
    dash.wait_for("the task succeeded", |s| {
        (s.status("wide")? == "succeeded").then_some(())
    });
    dash.send(b"q");
    assert_eq!(dash.exit_code(), 0);
    dash.assert_restored();
    let results = repo.results(&repo.only_run_id());
    assert_eq!(task(&results, "wide")["status"], "succeeded");
}
