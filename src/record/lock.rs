//! Whether a run is live: the grove process running it holds an exclusive `flock` on
//! `<run-dir>/grove.lock` (which also names its pid). The kernel drops the lock when that process
//! ends in any way, kill -9 and reboots included, so a stale file never looks live.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

pub const FILE: &str = "grove.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the run is being run by grove process {pid}")]
    Held { pid: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Held for as long as this process runs the run; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the run's lock, or says which process holds it.
    pub fn acquire(run_dir: &Path) -> Result<RunLock, LockError> {
        let path = run_dir.join(FILE);
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = super::folders::record_file()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        // A checker (`live_pid`) holds a shared lock for an instant: try a few times before
        // concluding that another grove runs this run.
        for _ in 0..5 {
            if try_flock(&file, libc::LOCK_EX).map_err(io)? {
                file.set_len(0).map_err(io)?;
                file.write_all(std::process::id().to_string().as_bytes())
                    .map_err(io)?;
                return Ok(RunLock { _file: file });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(LockError::Held {
            pid: read_pid(&mut file),
        })
    }
}

/// The pid of the grove process running the run in `run_dir`, if one is.
pub fn live_pid(run_dir: &Path) -> Option<String> {
    let mut file = File::open(run_dir.join(FILE)).ok()?;
    match try_flock(&file, libc::LOCK_SH) {
        // Got it: nobody holds the run (closing the file releases the shared lock).
        Ok(true) => None,
        Ok(false) => Some(read_pid(&mut file)),
        Err(_) => None,
    }
}

fn read_pid(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    match text.trim() {
        "" => "?".into(),
        pid => pid.to_string(),
    }
}

/// Non-blocking flock; Ok(false) when another process holds a conflicting lock.
fn try_flock(file: &File, kind: i32) -> std::io::Result<bool> {
    // SAFETY: flock on a descriptor we own; no memory is involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), kind | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_while_the_lock_lives_and_free_after() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(live_pid(dir.path()), None);
        let lock = RunLock::acquire(dir.path()).unwrap();
        // flock locks belong to the open file description: a second open conflicts even in
        // the same process, as another grove would.
        assert_eq!(live_pid(dir.path()), Some(std::process::id().to_string()));
        assert!(matches!(
            RunLock::acquire(dir.path()),
            Err(LockError::Held { .. })
        ));
        drop(lock);
        assert_eq!(live_pid(dir.path()), None);
        RunLock::acquire(dir.path()).unwrap();
    }
}
