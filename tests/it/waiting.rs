//! Waiting for input: agents that print a question and wait are shown as waiting (headless
//! line, highlighted on the dashboard, a bell from the real dashboard in a PTY); `auto_yes`
//! answers known yes/no questions and records each answer in the audit log.

use std::io::Read;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::*;
use grove::engine::api::TaskStatus;
use ratatui::style::{Color, Modifier};

#[test]
fn an_agent_asking_a_question_is_waiting_and_a_busy_quiet_one_is_not() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .default("idle_after", "300ms")
            .default("kill_grace", "200ms")
            .default("timeout", "3s")
            .shell_task(
                "asks",
                r#"echo preparing the release; printf "Deploy to production? "; read answer; echo "answer=$answer""#,
            )
            .shell_task("quiet", "echo working on it; sleep 1.5")
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let waiting: Vec<&str> = stdout.lines().filter(|l| l.contains("waiting")).collect();
    assert_eq!(waiting.len(), 1, "{stdout}");
    assert!(
        waiting[0].contains("asks") && waiting[0].ends_with("for input at: Deploy to production?"),
        "{stdout}"
    );
    assert_eq!(task(&results, "asks")["status"], "timed_out");
    assert_eq!(task(&results, "quiet")["status"], "succeeded");
}

#[test]
fn auto_yes_answers_known_yes_no_questions_and_records_each_answer() {
    let repo = Repo::new();
    let (out, results) = repo.run_plan(
        &Plan::new()
            .default("auto_yes", true)
            .default("idle_after", "400ms")
            .default("kill_grace", "200ms")
            .shell_task(
                "twice",
                r#"printf "Overwrite the config? [y/N] "; read a; printf "Delete the cache? (y/n) "; read b; echo "$a $b" > answers.txt; [ "$a$b" = yy ]"#,
            )
            .shell_task("open", r#"printf "Which module? "; read m; echo "$m""#)
            .timeout("3s")
            .to_toml(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let run_id = run_id(&out);
    assert_eq!(task(&results, "twice")["status"], "succeeded");
    assert_eq!(
        repo.git(&["show", &format!("grove/{run_id}/twice:answers.txt")]),
        "y y"
    );
    let answers: Vec<(String, String, String)> = repo
        .audit(&run_id)
        .iter()
        .filter(|l| l["event"] == "auto_yes")
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap().to_string();
            (s("task"), s("prompt"), s("key"))
        })
        .collect();
    assert_eq!(
        answers,
        [
            (
                "twice".to_string(),
                "Overwrite the config? [y/N]".to_string(),
                "y\\r".to_string()
            ),
            (
                "twice".to_string(),
                "Delete the cache? (y/n)".to_string(),
                "y\\r".to_string()
            ),
        ]
    );
    // A question that is not yes/no is left to a person: the task waits.
    assert_eq!(task(&results, "open")["status"], "timed_out");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("open") && l.contains("waiting") && l.ends_with("Which module?")),
        "{stdout}"
    );
}

#[test]
fn the_dashboard_highlights_a_waiting_agent_and_alerts_once() {
    let mut d = dash::Dash::new(100, 24);
    d.add(dash::view(0, "deploy", "shell", TaskStatus::Running));
    d.add(dash::view(1, "build", "shell", TaskStatus::Running));
    d.output(0, b"Deploy to production? [y/n] ");
    let mut waiting = dash::view(0, "deploy", "shell", TaskStatus::Running);
    waiting.waiting = Some("Deploy to production? [y/n]".into());
    d.change(waiting.clone());
    assert_eq!(
        d.app.take_alerts(),
        [(
            "deploy".to_string(),
            "Deploy to production? [y/n]".to_string()
        )]
    );
    // The same state again is no new alert.
    d.change(waiting);
    assert!(d.app.take_alerts().is_empty());
    let screen = d.draw();
    let (x, y) = dash::find_left_of(&screen, "waiting", 40).expect("waiting in the list");
    // Reversed yellow: it stays visible on the selected row's background too.
    assert_eq!(screen[(x, y)].fg, Color::Yellow);
    assert!(screen[(x, y)].modifier.contains(Modifier::REVERSED));
    // And in the pane's title.
    let (x, y) = dash::find_all(&screen, "deploy · waiting")[0];
    let word = (x + "deploy · ".chars().count() as u16, y);
    assert!(screen[word].modifier.contains(Modifier::REVERSED));
    let rows = dash::rows(&screen);
    assert!(rows[22].contains(" 1 waiting "), "{}", rows[22]);
    // The other agent is not marked.
    assert!(rows
        .iter()
        .any(|r| r.contains("build") && r.contains("running")));
    // Going on clears it.
    d.change(dash::view(0, "deploy", "shell", TaskStatus::Running));
    let screen = d.draw();
    assert!(!dash::rows(&screen)[22].contains("waiting"));
}

#[test]
fn the_real_dashboard_rings_the_bell_when_an_agent_waits() {
    let repo = Repo::new();
    let plan = Plan::new()
        .shell_task("asks", r#"printf "Continue? "; read a"#)
        .with("idle_after", "300ms")
        .timeout("4s")
        .with("kill_grace", "200ms")
        .to_toml();
    let cmd = crate::support::tty::grove_run(&repo, &plan, &["--exit-when-done"]);
    let (mut child, master) = crate::support::tty::start_in_pty(cmd, 40, 120);
    let mut reader = master.try_clone_reader().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut output = Vec::new();
    let mut parser = vt100::Parser::new(40, 120, 0);
    let deadline = Instant::now() + DEADLINE;
    let mut shown_waiting = false;
    while Instant::now() < deadline {
        let Ok(chunk) = rx.recv_timeout(Duration::from_millis(100)) else {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            continue;
        };
        parser.process(&chunk);
        shown_waiting |= parser.screen().contents().contains("waiting");
        output.extend(chunk);
    }
    let status = child.wait().unwrap();
    let shown = String::from_utf8_lossy(&output);
    assert!(shown_waiting, "'waiting' never on screen:\n{shown}");
    // Exactly one bell: the agent waited once.
    assert_eq!(output.iter().filter(|&&b| b == 0x07).count(), 1, "{shown}");
    assert_eq!(status.exit_code(), 1);
}
