//! Stopping what is left of an attempt: every process carrying its GROVE_* marker, in whatever
//! session or group it ended up, then reaping the orphans grove adopted as their subreaper.

use crate::pty;
use crate::record::audit::Audit;
use crate::record::RunPaths;

use super::blocking::blocking;

/// The GROVE_* variables that mark the processes of attempt `attempt` of `task`: its agent,
/// setup steps and check, and whatever they start, in any session. Run ids are unique within a
/// repository only; the worktree path is unique on the machine.
fn marker(paths: &RunPaths, task: &str, attempt: u32) -> [(&'static str, String); 3] {
    [
        ("GROVE_WORKTREE", paths.worktree(task).display().to_string()),
        ("GROVE_RUN_ID", paths.run_id.clone()),
        ("GROVE_ATTEMPT", attempt.to_string()),
    ]
}

/// Stops every process group that has a live process carrying the marker of attempt `attempt`
/// of `task` (`stop` stops one group; each is audited with `why`), until none is left, then reaps
/// the orphans grove adopted. What left the agent's process group (a new session, as Claude
/// Code's commands do) is found this way, whatever became of its parent.
pub(super) async fn stop_marked<F, Fut>(
    paths: &RunPaths,
    task: &str,
    attempt: u32,
    audit: &Audit,
    why: &str,
    mut stop: F,
) where
    F: FnMut(i32) -> Fut,
    Fut: std::future::Future<Output = pty::StopReport>,
{
    let marker = marker(paths, task, attempt);
    // A process being stopped may start another; a few rounds catch those.
    for _ in 0..5 {
        let tags = marker.clone();
        let groups = blocking(move || {
            let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (*k, v.as_str())).collect();
            pty::tagged_groups(&tags)
        })
        .await
        .unwrap_or_default();
        if groups.is_empty() {
            break;
        }
        for pgid in groups {
            let stopped = stop(pgid).await;
            audit.kill(task, attempt, pgid, why, stopped.killed);
        }
    }
    let _ = blocking(pty::reap_orphans).await;
}
