//! grove's own folders in a repository (`.grove/`, `.grove/runs`, `.grove/worktrees` and the
//! folders in them) are untrusted: a repository can commit any of them as a symbolic link. These
//! checks refuse a link (or a file) where grove keeps a folder, before anything is created,
//! written or removed there; record files are opened without following a link, and made private.

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use super::paths::{runs_dir, worktrees_dir, RunPaths, JOURNAL_FILE, RESULTS_FILE};

/// Mode of the run's folders: the records hold the plan's `env` values.
pub const PRIVATE_DIR: u32 = 0o700;
/// Mode of the run's record files.
pub const PRIVATE_FILE: u32 = 0o600;

#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("{path} is a symbolic link; grove does not follow links in its own folders (.grove/, .grove/runs, .grove/worktrees and the folders in them): remove it (the repository may have brought it)")]
    Link { path: String },
    #[error("{path} is not a folder; grove keeps its runs and worktrees there: move it away")]
    NotFolder { path: String },
    #[error("cannot inspect {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl FolderError {
    fn at(path: &Path, make: impl FnOnce(String) -> FolderError) -> FolderError {
        make(path.display().to_string())
    }
}

/// `.grove/`, `.grove/runs` and `.grove/worktrees` of the repository at `root`: each missing or a
/// real folder.
pub fn check_grove_folders(root: &Path) -> Result<(), FolderError> {
    for folder in [root.join(".grove"), runs_dir(root), worktrees_dir(root)] {
        check_folder(&folder)?;
    }
    Ok(())
}

/// Everything grove writes or removes for one run: the grove folders, the run's records folder
/// and its task folders, the run's worktree folder and every entry in it.
pub fn check_run_folders(paths: &RunPaths) -> Result<(), FolderError> {
    check_grove_folders(&paths.repo_root)?;
    check_folder(&paths.run_dir)?;
    let agents = paths.run_dir.join("agents");
    check_folder(&agents)?;
    check_entries(&agents)?;
    let worktrees = paths.worktrees();
    check_folder(&worktrees)?;
    check_entries(&worktrees)
}

/// Every entry of `.grove/runs` and `.grove/worktrees`: none may be a link.
pub fn check_all_run_folders(root: &Path) -> Result<(), FolderError> {
    check_grove_folders(root)?;
    check_entries(&runs_dir(root))?;
    check_entries(&worktrees_dir(root))
}

/// Missing, or a folder that is not a link.
fn check_folder(path: &Path) -> Result<(), FolderError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            Err(FolderError::at(path, |path| FolderError::Link { path }))
        }
        Ok(meta) if !meta.is_dir() => Err(FolderError::at(path, |path| FolderError::NotFolder {
            path,
        })),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(FolderError::at(path, |path| FolderError::Io {
            path,
            source,
        })),
    }
}

/// No entry of the folder `dir` (when it exists) is a link.
fn check_entries(dir: &Path) -> Result<(), FolderError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(FolderError::at(dir, |path| FolderError::Io {
                path,
                source,
            }))
        }
    };
    for entry in entries {
        let entry = entry
            .map_err(|source| FolderError::at(dir, |path| FolderError::Io { path, source }))?;
        // DirEntry's file type is the entry's own: a link is not followed.
        let link = entry.file_type().is_ok_and(|t| t.is_symlink());
        if link {
            return Err(FolderError::at(&entry.path(), |path| FolderError::Link {
                path,
            }));
        }
    }
    Ok(())
}

/// Creates the folder `path` (its parent must exist) with `mode`, or checks that the folder
/// already there is a real one; a link is refused, never followed.
pub fn ensure_folder(path: &Path, mode: u32) -> std::io::Result<()> {
    match DirBuilder::new().mode(mode).create(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            check_folder(path).map_err(std::io::Error::other)
        }
        Err(e) => Err(e),
    }
}

/// Options for opening a record file: created private (0600), and never through a link (an
/// existing link in its place is an error, ELOOP).
pub fn record_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(PRIVATE_FILE).custom_flags(libc::O_NOFOLLOW);
    options
}

/// Whether grove made the run: its id is a run id, and its records folder (a real one) holds
/// the journal or results.json grove writes. Only such a run's folders are grove's to remove.
pub fn grove_made(paths: &RunPaths) -> bool {
    let regular =
        |name: &str| std::fs::symlink_metadata(paths.run_dir.join(name)).is_ok_and(|m| m.is_file());
    is_run_id(&paths.run_id)
        && std::fs::symlink_metadata(&paths.run_dir).is_ok_and(|m| m.is_dir())
        && (regular(JOURNAL_FILE) || regular(RESULTS_FILE))
}

/// Whether `id` has the form of a run id grove makes: `<plan>-<yyyymmdd>-<HHMMSS>`, maybe with
/// `-<n>` after it.
pub fn is_run_id(id: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // "<plan>-<8 digits>-<6 digits>"
    let stamped = |s: &str| {
        let mut parts = s.rsplitn(3, '-');
        matches!(
            (parts.next(), parts.next(), parts.next()),
            (Some(time), Some(date), Some(plan))
                if time.len() == 6 && digits(time) && date.len() == 8 && digits(date) && !plan.is_empty()
        )
    };
    crate::plan::valid_name(id)
        && (stamped(id)
            || id
                .rsplit_once('-')
                .is_some_and(|(head, n)| digits(n) && stamped(head)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_recognized() {
        for id in [
            "plan-20270115-080000",
            "plan-20270115-080000-2",
            "my-plan-20270115-080000",
            "my-long-plan-20270115-080000-12",
        ] {
            assert!(is_run_id(id), "{id}");
        }
        for id in [
            "vendored",
            "plan-2027-080000",
            "-20270115-080000",
            "plan-20270115-080000-x",
            "../x-20270115-080000",
            "20270115-080000",
        ] {
            assert!(!is_run_id(id), "{id}");
        }
    }

    #[test]
    fn links_are_refused_and_never_followed() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(".grove")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join(".grove/runs")).unwrap();
        let err = check_grove_folders(root.path()).unwrap_err();
        assert!(matches!(err, FolderError::Link { .. }), "{err}");
        let err = ensure_folder(&root.path().join(".grove/runs"), PRIVATE_DIR).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");

        std::fs::write(outside.path().join("target"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path().join("target"), root.path().join("f")).unwrap();
        let opened = record_file().append(true).open(root.path().join("f"));
        assert_eq!(opened.unwrap_err().raw_os_error(), Some(libc::ELOOP));
    }
}
