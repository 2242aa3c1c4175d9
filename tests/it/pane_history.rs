//! A task's pane as the engine feeds it, with real plans and shell agents in real PTYs: it keeps
//! at most `scrollback` lines of history while the attempt log keeps every byte, and it answers
//! the terminal queries agents send.

use std::sync::Arc;

use crate::support::engine;
use crate::support::*;
use grove::engine::api::{Command, Event, RunSummary};
use grove::term::pane::Pane;

const ROWS: u16 = 10;
const LINES: usize = 3000;

/// Runs `plan` to its end on the engine; returns the pane of each task, in plan order.
fn run_to_end(repo: &Repo, plan: &str) -> Vec<Arc<Pane>> {
    let (panes, summary) = run_on_engine(repo, plan, |_| {});
    assert!(summary.success, "{summary:?}");
    panes
}

/// Runs `plan` to its end on the engine, handing each task's pane to `added` as the task is
/// added; returns the panes, in plan order, and the run's summary.
fn run_on_engine(
    repo: &Repo,
    plan: &str,
    mut added: impl FnMut(Arc<Pane>) + Send,
) -> (Vec<Arc<Pane>>, RunSummary) {
    let (plan, target) = engine::load(repo, plan);
    engine::runtime().block_on(async move {
        let (mut front, engine) = engine::start(plan, target, (ROWS, 40));
        let mut panes = Vec::new();
        let summary = loop {
            match front.events.recv().await.expect("the engine ended early") {
                Event::TaskAdded { pane, .. } => {
                    added(pane.clone());
                    panes.push(pane);
                }
                Event::RunFinished(summary) => break summary,
                _ => {}
            }
        };
        front.commands.send(Command::Shutdown).unwrap();
        engine.await.unwrap();
        (panes, summary)
    })
}

fn top_row(pane: &Pane) -> String {
    pane.with_screen(|s| s.rows(0, 40).next().unwrap_or_default())
        .unwrap()
}

#[test]
fn a_pane_keeps_its_scrollback_and_the_attempt_log_keeps_everything() {
    let repo = Repo::new();
    let panes = run_to_end(
        &repo,
        &Plan::named("history")
            .default("scrollback", 50)
            .shell_task("short", &format!("seq 1 {LINES}"))
            .shell_task("long", &format!("seq 1 {LINES}"))
            .with("scrollback", 400)
            .to_toml(),
    );
    // The last line printed ends with a newline, so the cursor sits on an empty bottom row and
    // the live screen starts ROWS - 1 lines before the end.
    let live_top = LINES - usize::from(ROWS) + 2;
    for (pane, kept) in panes.iter().zip([50, 400]) {
        assert_eq!(top_row(pane), live_top.to_string());
        pane.scroll_by(isize::MAX);
        assert_eq!(pane.scroll_offset(), kept, "history is bounded");
        assert_eq!(top_row(pane), (live_top - kept).to_string());
    }

    let run = repo.run_dir(&repo.only_run_id());
    for task in ["short", "long"] {
        let log =
            std::fs::read_to_string(run.join(format!("agents/{task}/attempt-1.log"))).unwrap();
        let numbers: Vec<String> = log.lines().map(|l| l.trim().to_string()).collect();
        let expected: Vec<String> = (1..=LINES).map(|n| n.to_string()).collect();
        assert_eq!(numbers, expected, "the log of {task} has every line");
    }
}

#[test]
fn terminal_queries_from_agents_are_answered() {
    let repo = Repo::new();
    // The agent asks for the cursor position and the device attributes and waits for the
    // answers, as full-screen CLIs do; unanswered, it would wait until its timeout.
    let (out, results) = repo.run_plan(
        &Plan::named("queries")
            .shell_task(
                "asker",
                r#"stty -icanon -echo min 1; printf '\033[6n'; pos=$(dd bs=1 count=6 2>/dev/null); printf '\033[c'; da=$(dd bs=1 count=7 2>/dev/null); stty sane; echo "position ${pos#?} attributes ${da#?}""#,
            )
            .timeout("20s")
            .to_toml(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let output = task(&results, "asker")["output"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        output.contains("position [1;1R attributes [?1;2c"),
        "{output}"
    );
}

/// Escape sequences with huge counts (13 bytes each, a second of work each for the terminal
/// model if taken as they come) cost the attempt log no byte and the task's output not its last
/// line.
#[test]
fn huge_counts_in_escape_sequences_lose_no_output() {
    let repo = Repo::new();
    const FLOOD: usize = 200;
    // Counts the terminal model loops over, as large as a sequence can ask.
    let (out, results) = repo.run_plan(&Plan::named("counts")
        .shell_task(
            "flood",
            &format!(
                r#"i=0; while [ $i -lt {FLOOD} ]; do printf '\033[999999999@\033[999999999L\033[999999999T'; i=$((i+1)); done; echo 'the last line' "#,
            ),
        )
        .to_toml());
    assert!(out.status.success(), "{}", text(&out));
    let log = std::fs::read(
        repo.run_dir(&run_id(&out))
            .join("agents/flood/attempt-1.log"),
    )
    .unwrap();
    let mut expected = b"\x1b[999999999@\x1b[999999999L\x1b[999999999T".repeat(FLOOD);
    expected.extend_from_slice(b"the last line\r\n");
    assert!(
        log == expected,
        "the attempt log lacks bytes: {} of {}, ending {:?}",
        log.len(),
        expected.len(),
        String::from_utf8_lossy(&log[log.len().saturating_sub(40)..])
    );
    let output = task(&results, "flood")["output"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(output.ends_with("the last line\n"), "{output:?}");
}

/// The terminal model may take its time (here it cannot parse at all: its lock is held, as a
/// slow parse would hold it): the attempt log still gets every byte as it comes, and the attempt
/// ends with its output complete.
#[test]
fn the_attempt_log_does_not_wait_for_the_terminal_model() {
    let repo = Repo::new();
    let held = repo.home.path().join("held");
    let log = repo
        .path()
        .canonicalize()
        .unwrap()
        .join(".grove/runs/$GROVE_RUN_ID/agents/$GROVE_TASK/attempt-1.log");
    // The agent prints its last line only once its first one is in the log: two reads.
    let plan = Plan::named("slow-model")
        .shell_task(
            "printer",
            &format!(
                "{} echo first; {} echo last",
                sh_wait_for_file(&held),
                sh_wait_until(&format!("grep -q first \"{}\"", log.display()))
            ),
        )
        .to_toml();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let mut released = Some(released);
    let mut holder = None;
    let (panes, summary) = run_on_engine(&repo, &plan, |pane| {
        let (held, released) = (held.clone(), released.take().expect("one task"));
        holder = Some(std::thread::spawn(move || {
            pane.with_screen(|_| {
                std::fs::write(&held, "").unwrap();
                let _ = released.recv();
            })
        }));
    });
    // The run is over and the pane is still locked.
    let run = repo.run_dir(&repo.only_run_id());
    let written = std::fs::read_to_string(run.join("agents/printer/attempt-1.log")).unwrap();
    assert_eq!(written, "first\r\nlast\r\n");
    assert!(summary.success, "{summary:?}");
    let results = repo.results(&repo.only_run_id());
    assert_eq!(task(&results, "printer")["output"], "first\nlast\n");
    // Once the model can go on, the pane shows it all.
    drop(release);
    holder.unwrap().join().unwrap();
    wait_for("the pane to show the last line", || {
        let screen = panes[0].with_screen(|s| s.contents()).unwrap_or_default();
        screen.contains("first\nlast").then_some(())
    });
}
