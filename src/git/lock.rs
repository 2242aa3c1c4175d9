//! Serializing grove's git work on one repository across threads and grove processes (merges
//! into a branch, worktree metadata changes), and riding out git's own short-lived lock files.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use git2::{ErrorCode, Repository};

use super::{io_err, GitError};

/// What a [`serialize`] lock covers. One lock file per kind under `<git common dir>/grove/`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    /// Merging into a local branch (its ref is locked while the main checkout is updated; a
    /// second merge at the same time would only fail on that lock).
    Merge,
    /// Adding, removing and pruning worktrees, and info/exclude: libgit2 creates
    /// `.git/worktrees/` and its entries without tolerating a concurrent creator, and reads
    /// every entry (another process's half-made one included) when it adds one.
    Worktrees,
}

impl Scope {
    fn file_name(self) -> &'static str {
        match self {
            Scope::Merge => "merge.lock",
            Scope::Worktrees => "worktrees.lock",
        }
    }

    /// Threads of this process wait here before they wait on the file, so the file lock is
    /// contended only between processes.
    fn in_process(self) -> MutexGuard<'static, ()> {
        static MERGE: Mutex<()> = Mutex::new(());
        static WORKTREES: Mutex<()> = Mutex::new(());
        let mutex = match self {
            Scope::Merge => &MERGE,
            Scope::Worktrees => &WORKTREES,
        };
        mutex.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Held while one serialized operation runs; dropping it lets the next one in.
pub(crate) struct Serialized {
    // Declared first so it is released first: the file lock, then the in-process one.
    _file: File,
    _thread: MutexGuard<'static, ()>,
}

/// Waits until no other thread or grove process is doing `scope` work on `repo`'s repository
/// (all its worktrees share one common dir, so one lock), then holds that until dropped. The
/// kernel releases the file lock when its process ends in any way, so a killed grove never
/// leaves it held.
pub(crate) fn serialize(repo: &Repository, scope: Scope) -> Result<Serialized, GitError> {
    let thread = scope.in_process();
    let dir = repo.commondir().join("grove");
    std::fs::create_dir_all(&dir).map_err(io_err("creating", &dir))?;
    let path = dir.join(scope.file_name());
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err("opening", &path))?;
    flock_exclusive(&file).map_err(io_err("locking", &path))?;
    Ok(Serialized {
        _file: file,
        _thread: thread,
    })
}

fn flock_exclusive(file: &File) -> std::io::Result<()> {
    loop {
        // SAFETY: flock on a file descriptor this function's caller owns for the call.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// How often an operation that met a git lock file is tried again, and the first wait.
const LOCK_RETRIES: u32 = 8;
const FIRST_WAIT: Duration = Duration::from_millis(25);
const LONGEST_WAIT: Duration = Duration::from_millis(800);

/// Runs `op`, and runs it again with a growing, jittered wait (about 3 s in all) while it fails
/// only because a git lock file (`index.lock`, `<ref>.lock`, `packed-refs.lock`, config) is held, as
/// it is for an instant by any git command another program or person runs; any other outcome,
/// or the lock still held after the last try, is returned as is. `op` must be safe to repeat
/// after such a failure.
pub(crate) fn retry_locked<T>(mut op: impl FnMut() -> Result<T, GitError>) -> Result<T, GitError> {
    let mut wait = FIRST_WAIT;
    for _ in 0..LOCK_RETRIES {
        match op() {
            Err(e) if e.is_transient_lock() => {
                let jitter = wait.mul_f64(fastrand::f64() * 0.5);
                std::thread::sleep(wait + jitter);
                wait = (wait * 2).min(LONGEST_WAIT);
            }
            done => return done,
        }
    }
    op()
}

impl GitError {
    /// Failed only because a git lock file was held by someone else at that moment.
    pub fn is_transient_lock(&self) -> bool {
        matches!(self, GitError::Git { source, .. } if source.code() == ErrorCode::Locked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::GitContext;

    /// A repository with one commit; returns it and that commit.
    fn repo_with_commit(dir: &std::path::Path) -> (Repository, git2::Oid) {
        let repo = Repository::init(dir).unwrap();
        let tree = repo.treebuilder(None).unwrap().write().unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let tree = repo.find_tree(tree).unwrap();
        let id = repo.commit(None, &sig, &sig, "c", &tree, &[]).unwrap();
        drop(tree);
        (repo, id)
    }

    #[test]
    fn a_ref_lock_held_for_a_moment_is_waited_out() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, id) = repo_with_commit(dir.path());
        let lock = repo.path().join("refs/heads/x.lock");
        std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
        std::fs::write(&lock, "").unwrap();
        let mut tries = 0;
        let made = retry_locked(|| {
            tries += 1;
            let made = repo
                .reference("refs/heads/x", id, true, "test")
                .map(|_| ())
                .ctx(|| "writing refs/heads/x".into(), dir.path());
            if let Err(e) = &made {
                assert!(e.is_transient_lock(), "{e}");
                // The other git command is done.
                std::fs::remove_file(&lock).unwrap();
            }
            made
        });
        made.unwrap();
        assert_eq!(tries, 2);
        assert_eq!(repo.refname_to_id("refs/heads/x").unwrap(), id);
    }

    #[test]
    fn other_failures_are_not_tried_again() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo_with_commit(dir.path());
        let mut tries = 0;
        let found = retry_locked(|| {
            tries += 1;
            repo.refname_to_id("refs/heads/missing")
                .ctx(|| "reading refs/heads/missing".into(), dir.path())
        });
        assert!(found.is_err());
        assert_eq!(tries, 1);
    }
}
