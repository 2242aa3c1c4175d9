//! The repository's grove server, seen from outside: where its pid is, and killing it with
//! SIGKILL (a crash of grove is a crash of its server since runs live there).

use std::path::Path;

use grove::server::socket::SocketPlace;

use super::repo::alive;
use super::wait::wait_for;

/// The pid of the server of the repository at `repo_root`, from the pid file beside its socket,
/// if that file is there and names a live grove server (not another process that got the pid of
/// a server killed before).
pub fn pid(repo_root: &Path) -> Option<i32> {
    let place = SocketPlace::for_repo(repo_root).ok()?;
    let text = std::fs::read_to_string(place.pid_path()).ok()?;
    let pid = text.trim().parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let server = cmdline.split(|&b| b == 0).any(|arg| arg == b"server");
    (server && alive(pid)).then_some(pid)
}

/// Kills the repository's server with SIGKILL, by its pid (a test's grove command started it),
/// once it is there; waits for it to be gone and returns its pid.
pub fn kill9(repo_root: &Path) -> i32 {
    let pid = wait_for("the grove server's pid file", || pid(repo_root));
    // SAFETY: killing, by its pid, the server this test's grove command started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    wait_for("the killed grove server to be gone", || {
        (!alive(pid)).then_some(())
    });
    pid
}

/// Kills the repository's server if one is live (a test's cleanup); its agents are left to the
/// caller.
pub fn kill9_if_live(repo_root: &Path) {
    if let Some(pid) = pid(repo_root) {
        // SAFETY: as in `kill9`.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// The repository (at the path held) whose grove server a test started: when the test ends,
/// passing or not, its server still live is stopped by its pid (SIGTERM stops its runs and
/// their agents), SIGKILL if it does not leave.
pub struct StopOnDrop(pub std::path::PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let Some(pid) = pid(&self.0) else {
            return;
        };
        // SAFETY: signalling, by its pid, the server this test's grove command started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        if super::wait::poll(|| (!alive(pid)).then_some(())).is_none() {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}
