//! grove as the child subreaper of everything it starts: a process an agent left behind in a
//! session of its own (Claude Code runs each Bash command so) is re-parented to grove, not to
//! init, when its parent ends, so it can be found and stopped. Such orphans are reaped here;
//! children grove waits for itself (an agent's leader, a notification) are registered and never
//! reaped by this module, so no `wait` of theirs can lose its status.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Set once grove became a subreaper: only then are zombies of this process orphans to reap
/// (a library user, like a test harness, waits for its own children).
static SUBREAPER: AtomicBool = AtomicBool::new(false);

/// Children grove itself waits for. The lock is also held while such a child is started, so
/// the reaper never sees it between its start and its registration.
static WAITED: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn waited() -> MutexGuard<'static, BTreeSet<i32>> {
    WAITED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes this process the subreaper of its descendants (Linux; elsewhere nothing happens).
pub fn become_subreaper() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_CHILD_SUBREAPER takes one integer argument and touches no memory.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        SUBREAPER.store(true, Ordering::Release);
    }
    Ok(())
}

/// Starts a child the caller will wait for (`start` returns it and its pid), registered so the
/// reaper leaves it alone; the caller calls [`waited_for`] once its wait returned.
pub fn start_waited<T, E>(start: impl FnOnce() -> Result<(T, i32), E>) -> Result<T, E> {
    let mut waited = waited();
    let (child, pid) = start()?;
    waited.insert(pid);
    Ok(child)
}

/// The wait for `pid` (started with [`start_waited`]) returned.
pub fn waited_for(pid: i32) {
    waited().remove(&pid);
}

/// Runs `command` to its end as a child grove waits for (see [`start_waited`]), its stdout and
/// stderr captured. Every `std::process::Command` grove runs while
/// it is a subreaper goes through here, or the reaper could take its exit status first.
pub fn output(command: &mut std::process::Command) -> std::io::Result<std::process::Output> {
    use std::process::Stdio;
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = start_waited(|| {
        let child = command.spawn()?;
        let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        Ok::<_, std::io::Error>((child, pid))
    })?;
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    let output = child.wait_with_output();
    waited_for(pid);
    output
}

/// Reaps every zombie child of grove that nobody in grove waits for: orphans it adopted.
pub fn reap_orphans() {
    if !SUBREAPER.load(Ordering::Acquire) {
        return;
    }
    let waited = waited();
    let me = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    for pid in super::group::processes()
        .filter(|p| !p.live && p.parent == me)
        .map(|p| p.pid)
    {
        if !waited.contains(&pid) {
            let mut status = 0;
            // SAFETY: waitpid writes the status through a pointer to a live local; WNOHANG
            // never blocks, and the pid is a zombie child of this process nobody else waits for.
            unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        }
    }
}
