//! No process of an attempt outlives it, even one that left the agent's process group: a
//! `setsid` grandchild (as Claude Code runs each Bash command) is stopped however the attempt
//! ends (the agent exits, times out, is cancelled by SIGINT; the check exits), found by the
//! attempt's GROVE_* variables, with grove its subreaper once its parent is gone.

use std::path::{Path, PathBuf};

use crate::support::*;

/// Shell that starts a grandchild in a session of its own (`sleep`, its pid written to `pidfile`
/// by itself) and waits until the pid is there.
fn escape(pidfile: &Path) -> String {
    format!(
        "setsid sh -c 'echo $$ > {tmp}; mv {tmp} {pid}; exec sleep 1000' & {wait}",
        tmp = pidfile.with_extension("tmp").display(),
        pid = pidfile.display(),
        wait = sh_wait_for_file(pidfile),
    )
}

/// The pids the test's agents wrote; killed (if still there) when the test ends, pass or fail.
struct Escaped(Vec<PathBuf>);

impl Escaped {
    fn pids(&self) -> Vec<i32> {
        self.0
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p)
                    .unwrap_or_else(|e| panic!("no pid in {}: {e}", p.display()));
                text.trim().parse().unwrap()
            })
            .collect()
    }
}

impl Drop for Escaped {
    fn drop(&mut self) {
        for path in &self.0 {
            let pid = std::fs::read_to_string(path).ok();
            if let Some(pid) = pid.and_then(|p| p.trim().parse::<i32>().ok()) {
                if alive(pid) {
                    // SAFETY: killing the process this test's agent started (its pid file).
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
    }
}

fn assert_all_gone(escaped: &Escaped) {
    for pid in escaped.pids() {
        assert!(
            !alive(pid),
            "the escaped process {pid} survived the attempt"
        );
    }
}

#[test]
fn escaped_grandchildren_are_stopped_when_the_agent_or_its_check_exits_or_times_out() {
    let repo = Repo::new();
    let dir = repo.home.path();
    let escaped = Escaped(vec![
        dir.join("exits.pid"),
        dir.join("check.pid"),
        dir.join("times-out.pid"),
    ]);
    let plan = Plan::named("orphans")
        .default("kill_grace", "200ms")
        .shell_task(
            "exits",
            &format!("{exits} exit 0", exits = escape(&escaped.0[0])),
        )
        .with(
            "check",
            format!("{check} exit 0", check = escape(&escaped.0[1])),
        )
        .shell_task(
            "times-out",
            &format!("{times_out} sleep 1000", times_out = escape(&escaped.0[2])),
        )
        .timeout("2s")
        // While grove runs on: the stopped grandchild, re-parented to grove, is reaped, not a
        // zombie.
        .shell_task(
            "reaped",
            &format!(
                "pid=$(cat {exits_pid}); {reaped} exit 0",
                exits_pid = escaped.0[0].display(),
                reaped = sh_wait_until("[ ! -e /proc/$pid ]")
            ),
        )
        .depends_on(&["exits"])
        .to_toml();
    let (out, results) = repo.run_plan(&plan);
    assert_eq!(
        task(&results, "exits")["status"],
        "succeeded",
        "{}",
        text(&out)
    );
    assert_eq!(
        task(&results, "reaped")["status"],
        "succeeded",
        "{}",
        text(&out)
    );
    assert_eq!(task(&results, "times-out")["status"], "timed_out");
    assert_all_gone(&escaped);
}

#[test]
fn escaped_grandchildren_are_stopped_when_sigint_cancels_the_run() {
    let repo = Repo::new();
    let escaped = Escaped(vec![repo.home.path().join("cancelled.pid")]);
    let plan = Plan::named("orphans")
        .shell_task(
            "cancelled",
            &format!("{} sleep 1000", escape(&escaped.0[0])),
        )
        .with("kill_grace", "200ms")
        .to_toml();
    let mut grove = spawn_run(&repo, &plan);
    let run_id = the_run(&repo);
    wait_for("the grandchild to start", || {
        escaped.0[0].exists().then_some(())
    });
    // SAFETY: signalling the grove this test started.
    unsafe { libc::kill(grove.id() as i32, libc::SIGINT) };
    let status = wait_for("grove to exit", || grove.try_wait().unwrap());
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        task(&repo.results(&run_id), "cancelled")["status"],
        "cancelled"
    );
    assert_all_gone(&escaped);
}

/// grove, not the agent, adopts what the agent's children leave behind: being the subreaper
/// survives exec, so the sandbox wrapper (grove's own binary, which execs the agent) must not
/// become one, or every agent would collect its descendants' orphans (as zombies, mostly).
#[test]
fn orphans_of_an_agents_children_go_to_grove_not_to_the_agent() {
    let repo = Repo::new();
    let plan = &Plan::named("adopt")
        .shell_task(
            "a",
            r#"sh -c 'sleep 1000 & echo $! > orphan.pid'
parent=$(awk '{print $4}' /proc/$(cat orphan.pid)/stat)
kill $(cat orphan.pid); rm orphan.pid
[ "$parent" = "$PPID" ] || { echo "adopted by $parent, not by grove ($PPID)"; exit 1; }"#,
        )
        .to_toml();
    let (out, results) = repo.run_plan(plan);
    let a = task(&results, "a");
    assert_eq!(a["status"], "succeeded", "{a}\n{}", text(&out));
}
