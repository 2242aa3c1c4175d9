//! Merges computed in memory: start commits for dependent tasks, and merging a task branch into
//! the base branch (updating the main checkout when the base is checked out there).

use std::collections::BTreeSet;
use std::path::Path;

use git2::build::CheckoutBuilder;
use git2::{
    BranchType, CheckoutNotificationType, ErrorCode, Oid, Repository, Signature, Status,
    StatusOptions,
};

use super::lock::{retry_locked, serialize, Scope};
use super::refs::{branch_oid, commit_of, contains};
use super::registry::worktree_names;
use super::{open, signature, GitContext, GitError, MergeOutcome};

/// What merging `theirs` into `ours` gives.
enum Step {
    /// `ours` already contains `theirs`.
    Contained,
    FastForward(Oid),
    Merged(Oid),
    Conflict(Vec<String>),
}

/// Start commit for a task with dependencies: `base_commit` with each of `branches` merged in, in
/// order, as commit objects only (no ref or checkout changes). Ok(Err(paths)) on a conflict.
pub fn merge_branches_for_start(
    repo_root: &Path,
    base_commit: &str,
    branches: &[String],
    message: &str,
) -> Result<Result<String, Vec<String>>, GitError> {
    let repo = open(repo_root)?;
    let mut current = commit_of(&repo, base_commit)?.id();
    let sig = signature(&repo)?;
    for branch in branches {
        let tip = branch_oid(&repo, branch)?;
        current = match merge_step(&repo, current, tip, message, &sig)? {
            Step::Contained => current,
            Step::FastForward(id) | Step::Merged(id) => id,
            Step::Conflict(paths) => return Ok(Err(paths)),
        };
    }
    Ok(Ok(current.to_string()))
}

/// Merges `source_branch` into local branch `target_branch`: fast-forward when possible, else a
/// merge commit (parents: target tip, source tip). On conflict or refusal nothing changes. When
/// the target is checked out in the main worktree, that checkout must be clean and is updated.
/// Merges into one repository run one at a time, across grove processes too, and a git lock
/// held for an instant by someone else is waited out.
pub fn merge_into(
    repo_root: &Path,
    source_branch: &str,
    target_branch: &str,
    message: &str,
) -> Result<MergeOutcome, GitError> {
    let _serial = serialize(&open(repo_root)?, Scope::Merge)?;
    // A try that met a lock changed nothing, or left the checkout half-way to the new tip with
    // the branch not moved, which the next try finishes (see `sync_checkouts`).
    retry_locked(|| merge_once(repo_root, source_branch, target_branch, message))
}

fn merge_once(
    repo_root: &Path,
    source_branch: &str,
    target_branch: &str,
    message: &str,
) -> Result<MergeOutcome, GitError> {
    let repo = open(repo_root)?;
    let target_ref = format!("refs/heads/{target_branch}");
    if !is_local_branch(&repo, target_branch)? {
        return Ok(refused(format!(
            "base '{target_branch}' is not a branch (a tag or commit); cannot merge into it"
        )));
    }
    let source = branch_oid(&repo, source_branch)?;
    let sig = signature(&repo)?;

    // Compare-and-swap on the old tip: the ref is locked before its tip is read and stays locked
    // through the checkout until the new tip is written, so no other writer can slip in between.
    let mut tx = repo
        .transaction()
        .ctx(|| "starting a ref transaction".into(), repo_root)?;
    tx.lock_ref(&target_ref)
        .ctx(|| format!("locking '{target_ref}'"), repo_root)?;
    let old = repo
        .refname_to_id(&target_ref)
        .ctx(|| format!("reading '{target_ref}'"), repo_root)?;

    let (new, fast_forward) = match merge_step(&repo, old, source, message, &sig)? {
        Step::Contained => {
            return Ok(MergeOutcome::AlreadyMerged {
                commit: old.to_string(),
            })
        }
        Step::Conflict(paths) => return Ok(MergeOutcome::Conflict { paths }),
        Step::FastForward(id) => (id, true),
        Step::Merged(id) => (id, false),
    };
    if let Some(reason) = sync_checkouts(&repo, target_branch, &target_ref, old, new)? {
        return Ok(refused(reason));
    }
    let reflog = format!("grove: merge {source_branch}");
    tx.set_target(&target_ref, new, Some(&sig), &reflog)
        .and_then(|()| tx.commit())
        .ctx(|| format!("updating '{target_ref}' to {new}"), repo_root)?;
    Ok(MergeOutcome::Merged {
        commit: new.to_string(),
        fast_forward,
    })
}

fn refused(reason: String) -> MergeOutcome {
    MergeOutcome::Refused { reason }
}

fn is_local_branch(repo: &Repository, branch: &str) -> Result<bool, GitError> {
    match repo.find_branch(branch, BranchType::Local) {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.code(), ErrorCode::NotFound | ErrorCode::InvalidSpec) => Ok(false),
        Err(e) => Err(e).ctx(|| format!("looking up branch '{branch}'"), repo.path()),
    }
}

fn merge_step(
    repo: &Repository,
    ours: Oid,
    theirs: Oid,
    message: &str,
    sig: &Signature,
) -> Result<Step, GitError> {
    if contains(repo, ours, theirs)? {
        return Ok(Step::Contained);
    }
    if contains(repo, theirs, ours)? {
        return Ok(Step::FastForward(theirs));
    }
    let path = repo.path();
    let what = || format!("merging {theirs} into {ours}");
    let ours_commit = repo.find_commit(ours).ctx(what, path)?;
    let theirs_commit = repo.find_commit(theirs).ctx(what, path)?;
    let mut index = repo
        .merge_commits(&ours_commit, &theirs_commit, None)
        .ctx(what, path)?;
    if index.has_conflicts() {
        return conflict_paths(&index).map(Step::Conflict).ctx(what, path);
    }
    let tree_id = index.write_tree_to(repo).ctx(what, path)?;
    let tree = repo.find_tree(tree_id).ctx(what, path)?;
    repo.commit(
        None,
        sig,
        sig,
        message,
        &tree,
        &[&ours_commit, &theirs_commit],
    )
    .map(Step::Merged)
    .ctx(what, path)
}

pub(super) fn conflict_paths(index: &git2::Index) -> Result<Vec<String>, git2::Error> {
    let mut paths = BTreeSet::new();
    for conflict in index.conflicts()? {
        let conflict = conflict?;
        if let Some(entry) = conflict.our.or(conflict.their).or(conflict.ancestor) {
            paths.insert(String::from_utf8_lossy(&entry.path).into_owned());
        }
    }
    Ok(paths.into_iter().collect())
}

/// Brings checkouts of `target_ref` along from `old` to `new`: the main worktree is updated when
/// it has the branch checked out and is clean (or was left half-way to `new` by an interrupted
/// merge); a linked worktree with it checked out refuses the merge. Some(reason) means refused
/// with nothing changed.
fn sync_checkouts(
    repo: &Repository,
    branch: &str,
    target_ref: &str,
    old: Oid,
    new: Oid,
) -> Result<Option<String>, GitError> {
    if let Some(path) = linked_checkout_of(repo, target_ref)? {
        return Ok(Some(format!(
            "base branch '{branch}' is checked out in the worktree at {}; merge there instead",
            path.display()
        )));
    }
    let Some(workdir) = repo.workdir() else {
        return Ok(None);
    };
    let head = repo
        .find_reference("HEAD")
        .ctx(|| "reading HEAD".into(), workdir)?;
    if head.symbolic_target() != Ok(Some(target_ref)) {
        return Ok(None);
    }
    let dirty = modified_tracked_files(repo)?;
    let blocked = match dirty.is_empty() {
        true => match checkout(repo, new)? {
            None => return Ok(None),
            Some(blocked) => blocked,
        },
        false => Vec::new(),
    };
    // Modified files, or untracked files in the way: what a merge killed half-way through
    // updating this checkout leaves, which is finished; anything else is the user's and refused.
    if let Some(paths) = interrupted_update(repo, old, new, &dirty)? {
        finish_update(repo, new, &paths)?;
        return Ok(None);
    }
    Ok(Some(match dirty.is_empty() {
        false => format!(
            "base branch '{branch}' is checked out in {} with uncommitted changes to tracked files ({}); commit or stash them first",
            workdir.display(),
            summarize(&dirty)
        ),
        true => format!(
            "updating the checkout of '{branch}' in {} would overwrite untracked files ({}); move them away first",
            workdir.display(),
            summarize(&blocked)
        ),
    }))
}

/// Where a linked worktree has `target_ref` checked out, if one does.
fn linked_checkout_of(
    repo: &Repository,
    target_ref: &str,
) -> Result<Option<std::path::PathBuf>, GitError> {
    for name in worktree_names(repo)? {
        let Ok(worktree) = repo.find_worktree(&name) else {
            continue;
        };
        if worktree.validate().is_err() {
            continue;
        }
        let Ok(linked) = Repository::open_from_worktree(&worktree) else {
            continue;
        };
        let head = linked.find_reference("HEAD");
        if head.is_ok_and(|h| h.symbolic_target() == Ok(Some(target_ref))) {
            return Ok(Some(worktree.path().to_path_buf()));
        }
    }
    Ok(None)
}

fn modified_tracked_files(repo: &Repository) -> Result<Vec<String>, GitError> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(false)
        .include_ignored(false)
        .exclude_submodules(true);
    let statuses = repo
        .statuses(Some(&mut opts))
        .ctx(|| "reading the checkout's status".into(), repo.path())?;
    Ok(statuses
        .iter()
        .filter(|entry| entry.status() != Status::CURRENT)
        .map(|entry| String::from_utf8_lossy(entry.path_bytes()).into_owned())
        .collect())
}

/// The paths to finish when the checkout of `old` was left half-way to `new` by a merge that was
/// killed while updating it (the files are written before the branch moves): every modified path
/// is one that differs between the two trees, and every such path holds its content in `old` or
/// in `new` (absent where that tree has no entry; cut short while being written counts as
/// `new`). Then writing `new` over those paths loses nothing. None for any other dirty
/// checkout, which stays refused.
fn interrupted_update(
    repo: &Repository,
    old: Oid,
    new: Oid,
    dirty: &[String],
) -> Result<Option<Vec<String>>, GitError> {
    let path = repo.path();
    let Some(workdir) = repo.workdir() else {
        return Ok(None);
    };
    let what = || format!("comparing the checkout with {old} and {new}");
    let tree_of = |id: Oid| repo.find_commit(id).and_then(|c| c.tree());
    let old_tree = tree_of(old).ctx(what, path)?;
    let new_tree = tree_of(new).ctx(what, path)?;
    let diff = repo
        .diff_tree_to_tree(Some(&old_tree), Some(&new_tree), None)
        .ctx(what, path)?;
    let changed: BTreeSet<String> = diff
        .deltas()
        .flat_map(|d| [d.old_file().path(), d.new_file().path()])
        .flatten()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if !dirty.iter().all(|p| changed.contains(p)) {
        return Ok(None);
    }
    let index = repo.index().ctx(what, path)?;
    if index.has_conflicts() {
        return Ok(None);
    }
    let id_in = |tree: &git2::Tree, file: &str| tree.get_path(Path::new(file)).ok().map(|e| e.id());
    for file in &changed {
        let on_disk = workdir.join(file);
        let holds = |tree: &git2::Tree, partly: bool| {
            holds_entry(repo, &on_disk, tree, Path::new(file), partly)
        };
        if !holds(&old_tree, false)? && !holds(&new_tree, true)? {
            return Ok(None);
        }
        // What the index has staged for the path must be one of the two as well.
        let staged = index.get_path(Path::new(file), 0).map(|e| e.id);
        if staged != id_in(&old_tree, file) && staged != id_in(&new_tree, file) {
            return Ok(None);
        }
    }
    Ok(Some(changed.into_iter().collect()))
}

/// Whether the file at `on_disk` has the content `tree` gives `file`: the same bytes (a
/// symlink's target for a link), or absent where the tree has no entry. With `partly`, the
/// beginning of a regular file's content also counts (empty included): a file cut short by a
/// kill while it was being written, whose every byte is in that content. A submodule or an
/// unreadable file never matches.
fn holds_entry(
    repo: &Repository,
    on_disk: &Path,
    tree: &git2::Tree,
    file: &Path,
    partly: bool,
) -> Result<bool, GitError> {
    let meta = std::fs::symlink_metadata(on_disk);
    let entry = match tree.get_path(file) {
        Ok(entry) => entry,
        Err(e) if e.code() == ErrorCode::NotFound => return Ok(meta.is_err()),
        Err(e) => return Err(e).ctx(|| format!("reading {}", file.display()), on_disk),
    };
    let Ok(meta) = meta else {
        return Ok(false);
    };
    let on_disk_bytes = match entry.filemode() {
        0o120000 if meta.file_type().is_symlink() => std::fs::read_link(on_disk)
            .map(|t| t.into_os_string().into_encoded_bytes())
            .ok(),
        0o100644 | 0o100755 if meta.is_file() => std::fs::read(on_disk).ok(),
        _ => None,
    };
    let Some(bytes) = on_disk_bytes else {
        return Ok(false);
    };
    let blob = repo
        .find_blob(entry.id())
        .ctx(|| format!("reading {}", file.display()), repo.path())?;
    let content = blob.content();
    Ok(match partly && meta.is_file() {
        true => content.starts_with(&bytes),
        false => content == bytes.as_slice(),
    })
}

/// Writes `new`'s content over `paths` of the checkout (index and files), which hold either
/// their old or their new content; other paths are left as they are.
fn finish_update(repo: &Repository, new: Oid, paths: &[String]) -> Result<(), GitError> {
    let path = repo.path();
    let tree = repo
        .find_commit(new)
        .and_then(|c| c.tree())
        .ctx(|| format!("reading the tree of {new}"), path)?;
    let mut opts = CheckoutBuilder::new();
    opts.force().disable_pathspec_match(true);
    for file in paths {
        opts.path(file);
    }
    repo.checkout_tree(tree.as_object(), Some(&mut opts))
        .ctx(|| format!("finishing the checkout of {new}"), path)
}

/// Safe checkout of `new` over the clean main worktree (index and files). Some(paths) when
/// untracked files are in the way; libgit2 then stops before writing anything.
fn checkout(repo: &Repository, new: Oid) -> Result<Option<Vec<String>>, GitError> {
    let path = repo.path();
    let tree = repo
        .find_commit(new)
        .and_then(|c| c.tree())
        .ctx(|| format!("reading the tree of {new}"), path)?;
    let mut blocked = Vec::new();
    let result = {
        let mut opts = CheckoutBuilder::new();
        opts.safe()
            .notify_on(CheckoutNotificationType::CONFLICT)
            .notify(|_, file, _, _, _| {
                if let Some(file) = file {
                    blocked.push(file.display().to_string());
                }
                true
            });
        repo.checkout_tree(tree.as_object(), Some(&mut opts))
    };
    match result {
        Ok(()) => Ok(None),
        Err(e) if e.code() == ErrorCode::Conflict => Ok(Some(blocked)),
        Err(e) => Err(e).ctx(|| format!("checking out {new}"), path),
    }
}

/// The first few paths, for a one-line reason.
pub(super) fn summarize(paths: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = paths
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > SHOWN {
        text.push_str(&format!(" and {} more", paths.len() - SHOWN));
    }
    text
}
