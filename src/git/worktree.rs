//! Linked worktrees for tasks: creating one on a fresh branch, removing and pruning them, and
//! keeping `.grove/` out of the main checkout's status.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use std::ffi::CString;

use git2::build::CheckoutBuilder;
use git2::{Binding, IntoCString, Reference, Repository, WorktreePruneOptions};
use libgit2_sys as raw;

use super::lock::{retry_locked, serialize, Scope};
use super::refs::commit_of;
use super::registry::{absolute, worktree_name, worktree_names};
use super::submodule;
use super::{io_err, open, GitContext, GitError};

const GROVE_EXCLUDE: &str = "/.grove/";

/// Adds ".grove/" to the repository's info/exclude (common git dir) once; idempotent.
pub fn ensure_grove_excluded(repo_root: &Path) -> Result<(), GitError> {
    let repo = open(repo_root)?;
    let info = repo.commondir().join("info");
    let exclude = info.join("exclude");
    let _serial = serialize(&repo, Scope::Worktrees)?;
    let existing = match fs::read_to_string(&exclude) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io_err("reading", &exclude)(e)),
    };
    let present = existing
        .lines()
        .map(str::trim)
        .any(|line| matches!(line, ".grove" | ".grove/" | "/.grove" | "/.grove/"));
    if present {
        return Ok(());
    }
    fs::create_dir_all(&info).map_err(io_err("creating", &info))?;
    let separator = if existing.is_empty() || existing.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&exclude)
        .and_then(|mut f| f.write_all(format!("{separator}{GROVE_EXCLUDE}\n").as_bytes()))
        .map_err(io_err("appending to", &exclude))
}

/// Creates (or force-resets) branch `branch` at `start_commit` and adds a worktree for it at
/// `path` (parents created). A stale worktree registered at that path or under its name, or an
/// existing directory there, is removed first.
pub fn create_worktree(
    repo_root: &Path,
    path: &Path,
    branch: &str,
    start_commit: &str,
) -> Result<(), GitError> {
    let repo = open(repo_root)?;
    let start = commit_of(&repo, start_commit)?;
    let path = absolute(path)?;
    let name = worktree_name(&path);
    let serial = serialize(&repo, Scope::Worktrees)?;
    let stale = remove_registered(&repo, &path, &name)?;
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_err("creating", parent))?;
    }
    super::links::unlink_branch_log(repo.commondir(), branch)?;
    let branch_ref = retry_locked(|| {
        repo.branch(branch, &start, true).ctx(
            || format!("creating branch '{branch}' at {start_commit}"),
            repo_root,
        )
    })?
    .into_reference();
    add_without_checkout(&repo, &name, &path, &branch_ref).ctx(
        || format!("adding worktree '{name}' at {}", path.display()),
        repo_root,
    )?;
    drop(serial);
    discard(stale)?;

    // Writing the files (and cloning submodules) is most of the work and touches only this
    // worktree, so it runs unlocked, in parallel with other tasks' worktree creation.
    let checked_out = open(&path).and_then(|worktree| {
        worktree
            .checkout_head(Some(CheckoutBuilder::new().force()))
            .ctx(|| format!("checking out {start_commit}"), &path)?;
        submodule::init_all(&worktree);
        Ok(())
    });
    if checked_out.is_err() {
        // The checkout error is the one worth reporting; a failed cleanup is retried by the
        // stale-worktree removal of the next create at this path.
        let removed = serialize(&repo, Scope::Worktrees)
            .and_then(|_serial| remove_registered(&repo, &path, &name));
        if let Ok(aside) = removed {
            let _ = discard(aside);
        }
    }
    checked_out
}

/// `Repository::worktree` with libgit2's checkout switched off: git2 does not expose the add
/// options' checkout settings, and the checkout is the slow part that must not hold the worktrees lock.
fn add_without_checkout(
    repo: &Repository,
    name: &str,
    path: &Path,
    branch: &Reference,
) -> Result<(), git2::Error> {
    let name = CString::new(name)?;
    let path = path.into_c_string()?;
    // SAFETY: the options struct is initialized by libgit2 before use; `branch` and `repo`
    // outlive the call, libgit2 copies what it keeps, and the returned worktree handle is
    // freed right away.
    unsafe {
        let mut opts: raw::git_worktree_add_options = std::mem::zeroed();
        let rc =
            raw::git_worktree_add_options_init(&mut opts, raw::GIT_WORKTREE_ADD_OPTIONS_VERSION);
        if rc < 0 {
            return Err(git2::Error::last_error(rc));
        }
        opts.reference = branch.raw();
        opts.checkout_options.checkout_strategy = raw::GIT_CHECKOUT_NONE;
        let mut added = std::ptr::null_mut();
        let rc = raw::git_worktree_add(&mut added, repo.raw(), name.as_ptr(), path.as_ptr(), &opts);
        if rc < 0 {
            return Err(git2::Error::last_error(rc));
        }
        raw::git_worktree_free(added);
    }
    Ok(())
}

/// Deletes the worktree directory and its metadata under .git/worktrees; Ok if already gone.
pub fn remove_worktree(repo_root: &Path, path: &Path) -> Result<(), GitError> {
    let repo = open(repo_root)?;
    let path = absolute(path)?;
    let serial = serialize(&repo, Scope::Worktrees)?;
    let aside = remove_registered(&repo, &path, &worktree_name(&path))?;
    drop(serial);
    discard(aside)
}

/// Moves the worktree at `path` to `aside` as `git worktree move` would, and renames its
/// metadata after its new place, so that it stays a valid worktree there (its branch, index and
/// files as they were) and nothing done later at `path` touches it. Only renames and in-place
/// rewrites of two small files: it works on a full disk. On failure everything is put back.
pub fn move_worktree(repo_root: &Path, path: &Path, aside: &Path) -> Result<(), GitError> {
    let repo = open(repo_root)?;
    let path = absolute(path)?;
    let aside = absolute(aside)?;
    let _serial = serialize(&repo, Scope::Worktrees)?;
    let registered = worktree_names(&repo)?.into_iter().find(|name| {
        repo.find_worktree(name)
            .is_ok_and(|worktree| worktree.path() == path)
    });
    fs::rename(&path, &aside).map_err(io_err("moving", &path))?;
    let Some(name) = registered else {
        return Ok(());
    };
    let admin = repo.commondir().join("worktrees");
    let (old_admin, new_admin) = (admin.join(&name), admin.join(worktree_name(&aside)));
    let moved = fs::rename(&old_admin, &new_admin)
        .map_err(io_err("moving", &old_admin))
        .and_then(|()| {
            let link = aside.join(".git");
            let old = fs::read(&link).map_err(io_err("reading", &link))?;
            let text = format!("gitdir: {}/\n", new_admin.display());
            rewrite_in_place(&link, text.as_bytes()).map_err(io_err("writing", &link))?;
            let gitdir = new_admin.join("gitdir");
            let written = rewrite_in_place(&gitdir, format!("{}\n", link.display()).as_bytes());
            written.map_err(|e| {
                // Written in place: the old text fits where the new one did not.
                let _ = rewrite_in_place(&link, &old);
                io_err("writing", &gitdir)(e)
            })
        });
    if let Err(e) = moved {
        let _ = fs::rename(&new_admin, &old_admin);
        let _ = fs::rename(&aside, &path);
        return Err(e);
    }
    Ok(())
}

/// Replaces the contents of the existing file `path`, in place (no new file: it works on a full
/// disk). The agent could have put a link there (both files are in its reach): that is an error
/// (ELOOP), never written through.
fn rewrite_in_place(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?
        .write_all(bytes)
}

/// Prunes metadata of worktrees whose directories are gone; returns how many.
pub fn prune_worktrees(repo_root: &Path) -> Result<usize, GitError> {
    let repo = open(repo_root)?;
    let _serial = serialize(&repo, Scope::Worktrees)?;
    let mut pruned = 0;
    for name in worktree_names(&repo)? {
        // An entry libgit2 cannot even read is left alone: it may belong to a `git worktree add`
        // running in another process right now.
        let Ok(worktree) = repo.find_worktree(&name) else {
            continue;
        };
        let prunable = worktree
            .is_prunable(None)
            .ctx(|| format!("checking worktree '{name}'"), repo_root)?;
        if prunable {
            worktree
                .prune(None)
                .ctx(|| format!("pruning worktree '{name}'"), repo_root)?;
            pruned += 1;
        }
    }
    Ok(pruned)
}

/// Removes the metadata of every worktree registered at `path` or as `name`, and moves the
/// directory at `path` aside (a rename next to it). Caller holds the worktrees lock and deletes
/// the returned directory with `discard` after releasing it: deleting thousands of files must
/// not hold up other tasks' worktree creation.
fn remove_registered(
    repo: &Repository,
    path: &Path,
    name: &str,
) -> Result<Option<PathBuf>, GitError> {
    let root = repo.path();
    for registered in worktree_names(repo)? {
        match repo.find_worktree(&registered) {
            Ok(worktree) if registered == name || worktree.path() == path => {
                let mut opts = WorktreePruneOptions::new();
                opts.valid(true).locked(true);
                worktree.prune(Some(&mut opts)).ctx(
                    || format!("removing worktree metadata '{registered}'"),
                    root,
                )?;
            }
            _ => {}
        }
    }
    // Metadata under `name` that libgit2 cannot open, or does not even list (a creation
    // interrupted by a kill leaves a folder without the files that make it a worktree), would
    // block adding a worktree under this name again.
    let leftover = repo.commondir().join("worktrees").join(name);
    if leftover.is_dir() {
        fs::remove_dir_all(&leftover).map_err(io_err("removing", &leftover))?;
    }
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            let aside = aside_name(path);
            fs::rename(path, &aside).map_err(io_err("moving aside", path))?;
            Ok(Some(aside))
        }
        Ok(_) => fs::remove_file(path)
            .map(|()| None)
            .map_err(io_err("removing", path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("inspecting", path)(e)),
    }
}

/// A free name next to `path` for a directory on its way out: hidden, and unique within this
/// process (the worktrees lock is held while it is chosen and used).
fn aside_name(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let base = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let aside = path.with_file_name(format!(".{base}.removing-{}-{n}", std::process::id()));
        if !aside.exists() {
            return aside;
        }
    }
}

/// Deletes a directory `remove_registered` moved aside.
fn discard(aside: Option<PathBuf>) -> Result<(), GitError> {
    match aside {
        Some(dir) => fs::remove_dir_all(&dir).map_err(io_err("removing", &dir)),
        None => Ok(()),
    }
}
