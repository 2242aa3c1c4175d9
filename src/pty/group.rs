//! Process groups: signals, stopping a whole group (TERM, grace, KILL), pausing it (Ctrl-Z),
//! and the /proc views behind them (live members, zombies, the groups carrying given
//! environment tags, orphans to reap).

use std::time::{Duration, Instant};

/// Sends `signal` to every process of group `pgid`. False if the group no longer exists.
pub fn signal_group(pgid: i32, signal: i32) -> bool {
    if pgid <= 1 {
        return false;
    }
    // SAFETY: killpg has no memory-safety preconditions; pgid > 1 never targets init or "all".
    unsafe { libc::killpg(pgid, signal) == 0 }
}

/// True while any process of group `pgid` is alive. Zombies (dead, waiting to be reaped by
/// whoever adopted them) do not count: they hold no resources and run no code. The /proc scan
/// that tells them apart runs on a blocking thread, and only when the group still has a
/// process at all (once stopped it usually has none, and that takes one system call).
pub async fn group_alive(pgid: i32) -> bool {
    group_exists(pgid)
        && tokio::task::spawn_blocking(move || has_live_member(pgid))
            .await
            .unwrap_or_else(|_| has_live_member(pgid))
}

/// Whether group `pgid` has any process, zombies included (what the kernel answers to a signal
/// 0). A group of another user exists too, though it cannot be signalled.
fn group_exists(pgid: i32) -> bool {
    // With pgid > 1 signal_group makes the call, so errno is its answer.
    pgid > 1
        && (signal_group(pgid, 0)
            || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH))
}

/// Of a group that exists: whether a member is not a zombie. Where /proc cannot tell, every
/// member counts.
fn has_live_member(pgid: i32) -> bool {
    !cfg!(target_os = "linux") || group_members(pgid).next().is_some()
}

/// Live (non-zombie) processes of group `pgid`, from /proc.
fn group_members(pgid: i32) -> impl Iterator<Item = i32> {
    live_processes().filter_map(move |(pid, group)| (group == pgid).then_some(pid))
}

/// (pid, process group) of every live (non-zombie) process, from /proc.
fn live_processes() -> impl Iterator<Item = (i32, i32)> {
    processes().filter_map(|p| p.live.then_some((p.pid, p.group)))
}

/// A process as /proc/<pid>/stat tells it.
pub(super) struct Process {
    pub pid: i32,
    pub parent: i32,
    pub group: i32,
    /// Not a zombie (dead, waiting to be reaped).
    pub live: bool,
}

/// Every process, from /proc.
pub(super) fn processes() -> impl Iterator<Item = Process> {
    let entries = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    entries.filter_map(|entry| {
        let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
        // The command name is in parentheses and may contain anything; fields follow the last ')'.
        let rest = &stat[stat.rfind(')')? + 1..];
        let mut fields = rest.split_whitespace();
        let state = fields.next()?;
        let parent: i32 = fields.next()?.parse().ok()?;
        let group: i32 = fields.next()?.parse().ok()?;
        Some(Process {
            pid,
            parent,
            group,
            live: state != "Z" && state != "X",
        })
    })
}

/// How a group was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopReport {
    /// SIGTERM was sent (the group was alive).
    pub terminated: bool,
    /// Processes outlived the grace period and got SIGKILL.
    pub killed: bool,
}

/// Stops a whole process group: SIGTERM (plus SIGCONT, in case it was stopped), up to `grace`
/// for it to go, then SIGKILL. Returns once no live process is left in the group (or after a
/// last bounded wait following SIGKILL).
pub async fn stop_group(pgid: i32, grace: Duration) -> StopReport {
    let mut report = StopReport {
        terminated: false,
        killed: false,
    };
    if !group_alive(pgid).await {
        return report;
    }
    signal_group(pgid, libc::SIGTERM);
    signal_group(pgid, libc::SIGCONT);
    report.terminated = true;
    if wait_group_gone(pgid, grace).await {
        return report;
    }
    signal_group(pgid, libc::SIGKILL);
    report.killed = true;
    wait_group_gone(pgid, Duration::from_secs(5)).await;
    report
}

/// Kills a group at once (a second Ctrl-C).
pub fn kill_group_now(pgid: i32) {
    signal_group(pgid, libc::SIGKILL);
}

/// Stops (`paused`) or continues a group. SIGTSTP comes first so programs that handle it can
/// save their terminal state; SIGSTOP follows because an agent's group is orphaned (its parent,
/// grove, is in another session), and the kernel ignores SIGTSTP sent to an orphaned group.
pub fn pause_group(pgid: i32, paused: bool) {
    if paused {
        signal_group(pgid, libc::SIGTSTP);
        signal_group(pgid, libc::SIGSTOP);
    } else {
        signal_group(pgid, libc::SIGCONT);
    }
}

/// Process groups with a live process whose environment has every `KEY=value` of `tags`: how
/// what an agent left running is found after grove was killed (agents inherit their GROVE_*
/// variables), whatever the group ids, and never an unrelated process that reused an id.
pub fn tagged_groups(tags: &[(&str, &str)]) -> Vec<i32> {
    let wanted: Vec<Vec<u8>> = tags
        .iter()
        .map(|(k, v)| format!("{k}={v}").into_bytes())
        .collect();
    let mut groups: Vec<i32> = live_processes()
        .filter(|(pid, _)| {
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                return false;
            };
            let vars: Vec<&[u8]> = environ.split(|&b| b == 0).collect();
            wanted.iter().all(|w| vars.contains(&w.as_slice()))
        })
        .map(|(_, group)| group)
        .collect();
    groups.sort_unstable();
    groups.dedup();
    groups
}

/// Waits until the group has no live process, checking briefly; false on timeout. A limit past
/// what the clock can hold never runs out.
async fn wait_group_gone(pgid: i32, limit: Duration) -> bool {
    let deadline = Instant::now().checked_add(limit);
    loop {
        if !group_alive(pgid).await {
            return true;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};

    use super::*;

    /// A child in a process group of its own; its pid is the group id.
    fn own_group(program: &str, args: &[&str]) -> (Child, i32) {
        let child = Command::new(program)
            .args(args)
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = i32::try_from(child.id()).unwrap();
        (child, pgid)
    }

    #[tokio::test]
    async fn a_group_is_alive_until_only_zombies_are_left() {
        let (mut sleeper, pgid) = own_group("sleep", &["30"]);
        assert!(group_alive(pgid).await);
        signal_group(pgid, libc::SIGKILL);
        // Killed and not yet reaped: a zombie, which the kernel still counts as the group.
        let deadline = Instant::now() + Duration::from_secs(10);
        while group_alive(pgid).await {
            assert!(Instant::now() < deadline, "the group outlived SIGKILL");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(group_exists(pgid));
        sleeper.wait().unwrap();
        assert!(!group_exists(pgid));
        assert!(!group_alive(pgid).await);
    }

    #[tokio::test]
    async fn stopping_a_group_that_is_gone_sends_nothing() {
        let (mut quick, pgid) = own_group("true", &[]);
        quick.wait().unwrap();
        let report = stop_group(pgid, Duration::from_secs(5)).await;
        assert!(!report.terminated && !report.killed);
        assert!(!group_alive(1).await);
    }

    #[tokio::test]
    async fn the_longest_grace_does_not_overflow_the_clock() {
        let (mut sleeper, pgid) = own_group("sleep", &["30"]);
        let report = stop_group(pgid, Duration::MAX).await;
        assert!(report.terminated && !report.killed);
        sleeper.wait().unwrap();
    }
}
