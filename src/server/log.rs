//! The server's log, `.grove/server/server.log`: opened private (0600, never through a link) by
//! the command that starts a server, for its output; kept from growing forever by the server at
//! its start, which moves a log over `LIMIT` to `server.log.1` and goes on in a fresh one.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::record::folders::{record_file, PRIVATE_FILE};

/// A log bigger than this is moved aside when a server starts.
pub const LIMIT: u64 = 1 << 20;

/// Opens the log at `path` for appending: created 0600 where it is missing, made 0600 where it
/// is not, refused (ELOOP) where a link stands in its place.
pub fn open(path: &Path) -> io::Result<File> {
    let log = record_file().create(true).append(true).open(path)?;
    log.set_permissions(std::fs::Permissions::from_mode(PRIVATE_FILE))?;
    Ok(log)
}

/// Where the previous log goes: `server.log.1`.
pub fn previous(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

/// When the log at `path` is a regular file over `LIMIT`: moved to `server.log.1` (replacing an
/// older one), and a fresh log opened in its place, returned. None when it stays.
pub fn rotate(path: &Path) -> io::Result<Option<File>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !meta.is_file() || meta.len() <= LIMIT {
        return Ok(None);
    }
    // A rename never follows a link at either name: one at `.1` is replaced, not written through.
    std::fs::rename(path, previous(path))?;
    open(path).map(Some)
}

/// At a server's start: when its output (stderr) is the log at `path` and the log is over
/// `LIMIT`, rotates it and sends the server's stdout and stderr to the fresh log. True when it
/// did. A server whose output goes elsewhere (started by hand) leaves the log alone.
pub fn trim_own(path: &Path) -> io::Result<bool> {
    let Ok(log) = std::fs::metadata(path) else {
        return Ok(false);
    };
    // The magic link names the open file itself, even one renamed or deleted since.
    let ours = std::fs::metadata("/proc/self/fd/2")
        .is_ok_and(|out| (out.dev(), out.ino()) == (log.dev(), log.ino()));
    if !ours {
        return Ok(false);
    }
    let Some(fresh) = rotate(path)? else {
        return Ok(false);
    };
    for fd in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
        // SAFETY: both descriptors are open for as long as the call; dup2 replaces `fd` (the
        // old log) atomically and touches no memory of ours.
        if unsafe { libc::dup2(fresh.as_raw_fd(), fd) } == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_log_over_the_limit_moves_to_dot_1_replacing_the_older_and_a_fresh_one_starts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.log");
        let big = vec![b'x'; LIMIT as usize + 1];
        std::fs::write(&path, &big).unwrap();
        std::fs::write(previous(&path), "older").unwrap();
        let mut fresh = rotate(&path).unwrap().expect("rotated");
        io::Write::write_all(&mut fresh, b"new\n").unwrap();
        assert_eq!(std::fs::read(previous(&path)).unwrap(), big);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(previous(&path), dir.path().join("server.log.1"));
    }

    #[test]
    fn a_log_within_the_limit_or_missing_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.log");
        assert!(rotate(&path).unwrap().is_none());
        assert!(!path.exists());
        std::fs::write(&path, vec![b'x'; LIMIT as usize]).unwrap();
        assert!(rotate(&path).unwrap().is_none());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), LIMIT);
        assert!(!previous(&path).exists());
    }

    #[test]
    fn links_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, vec![b'x'; LIMIT as usize + 1]).unwrap();
        let path = dir.path().join("server.log");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        // A link in the log's place: not rotated, and not opened.
        assert!(rotate(&path).unwrap().is_none());
        assert!(open(&path).is_err());
        std::fs::remove_file(&path).unwrap();
        // A link at `.1`: replaced by the old log, its target untouched.
        std::fs::write(&path, vec![b'y'; LIMIT as usize + 1]).unwrap();
        std::os::unix::fs::symlink(&target, previous(&path)).unwrap();
        rotate(&path).unwrap().expect("rotated");
        assert!(std::fs::symlink_metadata(previous(&path))
            .unwrap()
            .is_file());
        assert_eq!(std::fs::read(&target).unwrap()[0], b'x');
    }

    #[test]
    fn a_log_that_is_not_this_process_s_output_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.log");
        std::fs::write(&path, vec![b'x'; LIMIT as usize + 1]).unwrap();
        assert!(!trim_own(&path).unwrap());
        assert!(!previous(&path).exists());
    }
}
