//! Clean filter drivers (`filter=<name>` in .gitattributes with `filter.<name>.clean` or
//! `.process` configured, git-lfs among them): libgit2 does not run them, so the content of
//! files they apply to is stored through git itself, giving the blob `git add` would store.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use git2::{AttrCheckFlags, AttrValue, Index, Oid, Repository};

use super::{GitContext, GitError};

/// The id of each stage-0 entry of `index`, by path: what staging is compared against.
pub(crate) fn ids(index: &Index) -> HashMap<Vec<u8>, Oid> {
    index
        .iter()
        .filter(|e| (e.flags >> 12) & 0x3 == 0)
        .map(|e| (e.path, e.id))
        .collect()
}

/// For every entry of `index` that staging changed (its id differs from `before`) and whose
/// path a configured clean filter driver applies to, stores the file's content through git's
/// own filters (`git hash-object -w`, which runs them as `git add` does, without touching the
/// worktree's index) and points the entry at that blob. Nothing to do, and no git process, when
/// the repository configures no driver.
pub(crate) fn clean_changed(
    repo: &Repository,
    index: &mut Index,
    before: &HashMap<Vec<u8>, Oid>,
) -> Result<(), GitError> {
    let Some(workdir) = repo.workdir() else {
        return Ok(());
    };
    let drivers = drivers(repo)?;
    if drivers.is_empty() {
        return Ok(());
    }
    let mut filtered = Vec::new();
    for entry in index.iter() {
        if (entry.flags >> 12) & 0x3 != 0 || before.get(&entry.path) == Some(&entry.id) {
            continue;
        }
        // Submodules and symlinks have no content to filter.
        if entry.mode & 0o170000 != 0o100000 {
            continue;
        }
        let path = String::from_utf8_lossy(&entry.path).into_owned();
        let attr = repo
            .get_attr(Path::new(&path), "filter", AttrCheckFlags::FILE_THEN_INDEX)
            .ctx(
                || format!("reading the filter attribute of {path}"),
                workdir,
            )?;
        if let AttrValue::String(name) = AttrValue::from_string(attr) {
            if drivers.iter().any(|d| d == name) {
                filtered.push((path, entry));
            }
        }
    }
    // Bounded argv lengths: paths go to git in batches.
    for batch in filtered.chunks(256) {
        let paths: Vec<&str> = batch.iter().map(|(p, _)| p.as_str()).collect();
        let ids = hash_objects(workdir, &paths)?;
        for ((path, entry), id) in batch.iter().zip(ids) {
            let entry = git2::IndexEntry {
                id,
                path: entry.path.clone(),
                ..*entry
            };
            index
                .add(&entry)
                .ctx(|| format!("staging the filtered {path}"), workdir)?;
        }
    }
    Ok(())
}

/// Names of the filter drivers the repository's config gives a clean command or process.
fn drivers(repo: &Repository) -> Result<Vec<String>, GitError> {
    let config = repo.config().ctx(|| "reading config".into(), repo.path())?;
    let mut names = Vec::new();
    let entries = config
        .entries(Some(r"^filter\..*\.(clean|process)$"))
        .ctx(|| "reading filter drivers".into(), repo.path())?;
    entries
        .for_each(|entry| {
            let Ok(key) = entry.name() else {
                return;
            };
            let driver = key
                .strip_prefix("filter.")
                .and_then(|k| k.rsplit_once('.'))
                .map(|(name, _)| name.to_string());
            if let Some(name) = driver.filter(|n| !names.contains(n)) {
                names.push(name);
            }
        })
        .ctx(|| "reading filter drivers".into(), repo.path())?;
    Ok(names)
}

/// `git hash-object -w -- <paths>` in `workdir`: each file's content, through the filters its
/// attributes name, stored as a blob; their ids in order.
fn hash_objects(workdir: &Path, paths: &[&str]) -> Result<Vec<Oid>, GitError> {
    let command = format!("git hash-object -w -- {}", paths.join(" "));
    let failed = |stderr: String| GitError::Cli {
        command: command.clone(),
        path: workdir.to_path_buf(),
        stderr,
    };
    let mut git = Command::new("git");
    git.args(["hash-object", "-w", "--"])
        .args(paths)
        .current_dir(workdir)
        .stdin(std::process::Stdio::null())
        // The worktree's own repository, whatever the environment grove was started in says.
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    let out = crate::pty::output(&mut git).map_err(|e| failed(format!("cannot run git: {e}")))?;
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if !out.status.success() {
        return Err(failed(stderr));
    }
    let ids: Vec<Oid> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| Oid::from_str(line.trim()).ok())
        .collect();
    if ids.len() != paths.len() {
        return Err(failed(format!(
            "expected {} object ids, got {}",
            paths.len(),
            ids.len()
        )));
    }
    Ok(ids)
}
