//! Submodules in task worktrees: initializing them after the checkout, and finding work an agent
//! left inside one (grove commits the superproject, where a submodule is only a commit id).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use git2::{
    Index, IndexEntry, IndexTime, Repository, StatusOptions, SubmoduleIgnore, SubmoduleStatus,
    SubmoduleUpdateOptions,
};

use super::lock::retry_locked;
use super::merge::summarize;
use super::{io_err, GitContext, GitError};

/// Clones and checks out every submodule of the worktree `repo` (and theirs, recursively) from
/// the URL the repository has for it, as `git submodule update --init --recursive` in that
/// worktree would (like git, this records the URL in the repository's shared config when it is
/// not there yet). The clone lives in the worktree's own git dir and goes with it. A submodule
/// that cannot be cloned is left as the empty directory the checkout made; [`check`] then
/// refuses to commit files written there.
pub(crate) fn init_all(repo: &Repository) {
    let Ok(submodules) = repo.submodules() else {
        return;
    };
    for mut submodule in submodules {
        let mut opts = SubmoduleUpdateOptions::new();
        // Several tasks' worktrees initialize at once, each writing the shared config.
        let updated = retry_locked(|| {
            submodule
                .update(true, Some(&mut opts))
                .ctx(|| "initializing a submodule".into(), repo.path())
        });
        match updated {
            Ok(()) => {
                if let Ok(inner) = submodule.open() {
                    init_all(&inner);
                }
            }
            Err(_) => forget_clone(repo, submodule.path()),
        }
    }
}

/// Removes what a failed clone of the submodule at `path` made (its repository under the
/// worktree's git dir, the `.git` link in its directory), so it reads as not initialized.
fn forget_clone(repo: &Repository, path: &Path) {
    let _ = std::fs::remove_dir_all(repo.path().join("modules").join(path));
    if let Some(workdir) = repo.workdir() {
        let _ = std::fs::remove_file(workdir.join(path).join(".git"));
    }
}

/// Err naming the first submodule of the worktree `repo` with work in it that a commit of the
/// superproject would not carry (see [`work_in`]).
pub(crate) fn check(repo: &Repository) -> Result<(), GitError> {
    match work_in(repo)?.into_iter().next() {
        Some(work) => Err(work),
        None => Ok(()),
    }
}

/// The submodules of the worktree `repo` with work in them, each as a
/// [`GitError::SubmoduleWork`]: files in the directory of a submodule that is not initialized,
/// or, in one that is, changed or new files or a different checked-out commit (its own
/// submodules' included).
pub(crate) fn work_in(repo: &Repository) -> Result<Vec<GitError>, GitError> {
    let Some(workdir) = repo.workdir() else {
        return Ok(Vec::new());
    };
    let submodules = repo
        .submodules()
        .ctx(|| "listing submodules".into(), workdir)?;
    let mut found = Vec::new();
    for submodule in submodules {
        let name = submodule.name().unwrap_or("?").to_string();
        let path = submodule.path().to_path_buf();
        let status = repo.submodule_status(&name, SubmoduleIgnore::None).ctx(
            || format!("reading the status of submodule '{name}'"),
            workdir,
        )?;
        let detail = if status.contains(SubmoduleStatus::WD_UNINITIALIZED) {
            let files = files_under(&workdir.join(&path), &path);
            let url = submodule.url().ok().flatten().unwrap_or("no URL");
            (!files.is_empty()).then(|| format!(
                "it is not initialized in the worktree (cloning {url} failed), and these files were written into its directory: {}",
                summarize(&files)
            ))
        } else if let Ok(inner) = submodule.open() {
            let changed = changed_files(&inner, &path)?;
            if !changed.is_empty() {
                Some(format!("files changed inside it: {}", summarize(&changed)))
            } else if status.contains(SubmoduleStatus::WD_MODIFIED) {
                let now = submodule
                    .workdir_id()
                    .map_or("?".into(), |id| id.to_string());
                Some(format!("its checked-out commit moved to {now}"))
            } else {
                work_in(&inner)?.into_iter().next().map(|e| e.to_string())
            }
        } else {
            None
        };
        if let Some(detail) = detail {
            found.push(GitError::SubmoduleWork { name, path, detail });
        }
    }
    Ok(found)
}

/// For an attempt's snapshot, where losing nothing matters more than the superproject's shape:
/// in `index`, each submodule of the worktree with work in it becomes the plain files of its
/// directory (its `.git` left out) instead of a commit id.
pub(crate) fn inline_work(repo: &Repository, index: &mut Index) -> Result<(), GitError> {
    let Some(workdir) = repo.workdir() else {
        return Ok(());
    };
    for work in work_in(repo)? {
        let GitError::SubmoduleWork { path, .. } = work else {
            continue;
        };
        let what = || format!("saving the files of submodule {}", path.display());
        index.remove_path(&path).ctx(what, workdir)?;
        for file in files_under(&workdir.join(&path), &path) {
            let on_disk = workdir.join(&file);
            let Ok(meta) = std::fs::symlink_metadata(&on_disk) else {
                continue;
            };
            let (bytes, mode) = if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&on_disk).map_err(io_err("reading", &on_disk))?;
                (target.into_os_string().into_encoded_bytes(), 0o120000)
            } else {
                let bytes = std::fs::read(&on_disk).map_err(io_err("reading", &on_disk))?;
                let executable = meta.permissions().mode() & 0o111 != 0;
                (bytes, if executable { 0o100755 } else { 0o100644 })
            };
            let id = repo.blob(&bytes).ctx(what, workdir)?;
            index
                .add(&plain_entry(&file, id, mode, bytes.len()))
                .ctx(what, workdir)?;
        }
    }
    Ok(())
}

fn plain_entry(path: &str, id: git2::Oid, mode: u32, size: usize) -> IndexEntry {
    let zero = IndexTime::new(0, 0);
    IndexEntry {
        ctime: zero,
        mtime: zero,
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: u32::try_from(size).unwrap_or(u32::MAX),
        id,
        flags: 0,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

/// Changed, deleted and new (not ignored) files of the submodule repository `inner`, as paths
/// of the superproject (`prefix` is where the submodule is).
fn changed_files(inner: &Repository, prefix: &Path) -> Result<Vec<String>, GitError> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(true);
    let statuses = inner
        .statuses(Some(&mut opts))
        .ctx(|| "reading a submodule's status".into(), inner.path())?;
    Ok(statuses
        .iter()
        .filter_map(|e| e.path().ok().map(|p| prefix.join(p).display().to_string()))
        .collect())
}

/// Every file and symbolic link under `dir` but git's own (`.git`), as paths of the superproject
/// under `prefix`. Like git, nothing else (a FIFO, a socket): reading a FIFO the agent left
/// would wait for ever.
fn files_under(dir: &Path, prefix: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut pending: Vec<(PathBuf, PathBuf)> = vec![(dir.to_path_buf(), prefix.to_path_buf())];
    while let Some((dir, shown)) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_name() == ".git" {
                continue;
            }
            let shown = shown.join(entry.file_name());
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push((entry.path(), shown)),
                Ok(kind) if kind.is_file() || kind.is_symlink() => {
                    files.push(shown.display().to_string())
                }
                _ => {}
            }
        }
    }
    files.sort();
    files
}

/// What to tell before a run about submodules of the repository at `repo_root` that cannot be
/// initialized in a task's worktree: those whose URL is a local path that does not exist.
pub fn warnings(repo_root: &Path) -> Vec<String> {
    let Ok(repo) = Repository::open(repo_root) else {
        return Vec::new();
    };
    let Ok(submodules) = repo.submodules() else {
        return Vec::new();
    };
    submodules
        .iter()
        .filter_map(|submodule| {
            let url = submodule.url().ok().flatten()?;
            let local = local_path(&repo, url)?;
            (!local.exists()).then(|| {
                format!(
                    "submodule '{}' ({}/) cannot be initialized in task worktrees: its URL {url} does not exist; a task that writes into it fails",
                    submodule.name().unwrap_or("?"),
                    submodule.path().display()
                )
            })
        })
        .collect()
}

/// Where a submodule URL points on this machine, when it is a local path (absolute, `file://`,
/// or relative to a repository without a remote `origin`, i.e. to its working directory).
fn local_path(repo: &Repository, url: &str) -> Option<PathBuf> {
    if let Some(path) = url.strip_prefix("file://") {
        return Some(PathBuf::from(path));
    }
    if url.starts_with('/') {
        return Some(PathBuf::from(url));
    }
    let relative = url.starts_with("./") || url.starts_with("../");
    if relative && repo.find_remote("origin").is_err() {
        return repo.workdir().map(|w| w.join(url));
    }
    None
}
