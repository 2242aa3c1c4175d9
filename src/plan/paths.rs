//! Paths a plan names in the repository (`copy`, `prompt_file`): where they may lead, as written
//! and once symlinks are followed. Never outside the repository, never into git's or grove's own
//! folders.

use std::fs::{File, FileType, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path};

/// The repository's folders no plan path may reach: git's own, and grove's (runs, worktrees).
const OWN_DIRS: [&str; 2] = [".git", ".grove"];

/// Why `resolved` may not be used as a path of the repository at `root`, if it may not. Both
/// are canonical (symlinks resolved), so a symlink cannot lead around the check.
pub fn resolved_problem(root: &Path, resolved: &Path) -> Option<&'static str> {
    match resolved.strip_prefix(root) {
        Err(_) => Some("outside the repository"),
        Ok(rel) => match rel.components().next() {
            Some(Component::Normal(first)) if OWN_DIRS.iter().any(|d| first == *d) => {
                Some("inside git's or grove's own folder")
            }
            _ => None,
        },
    }
}

/// `written`, a path relative to the repository root, normalised: `.` and empty parts dropped.
/// Checked after normalising, so `./.git` is as much git's folder as `.git`.
pub fn normalize(written: &str) -> Result<String, &'static str> {
    if written.starts_with('/') {
        return Err("an absolute path (use one relative to the repository root)");
    }
    let parts: Vec<&str> = written
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Err("a path leaving the repository");
    }
    match parts.first() {
        None => Err("not a path inside the repository"),
        Some(first) if OWN_DIRS.contains(first) => Err("inside git's or grove's own folder"),
        Some(_) => Ok(parts.join("/")),
    }
}

/// Why a file could not be opened as a regular one.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Io(#[from] io::Error),
    /// What it is instead (see [`kind`]).
    #[error("not a regular file ({0})")]
    NotRegular(&'static str),
}

impl From<OpenError> for io::Error {
    fn from(e: OpenError) -> io::Error {
        match e {
            OpenError::Io(e) => e,
            other => io::Error::other(other.to_string()),
        }
    }
}

/// Opens `path` for reading if it is a regular file, with its metadata: never through a symlink
/// as its last part (O_NOFOLLOW) and never waiting for a FIFO's writer (O_NONBLOCK); the type is
/// read from the opened file, so what is read is what was checked.
pub fn open_regular(path: &Path) -> Result<(File, Metadata), OpenError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(OpenError::NotRegular(kind(meta.file_type())));
    }
    Ok((file, meta))
}

/// What a file that is not a regular file is, for messages.
pub fn kind(t: FileType) -> &'static str {
    if t.is_dir() {
        "a folder"
    } else if t.is_symlink() {
        "a symlink"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_paths_are_checked_once_normalised() {
        assert_eq!(
            normalize("./config//local.toml/"),
            Ok("config/local.toml".into())
        );
        assert_eq!(normalize(".env"), Ok(".env".into()));
        assert_eq!(normalize(".github/x"), Ok(".github/x".into()));
        for own in [".git", "./.git", ".//.grove/runs", "./.grove"] {
            assert_eq!(
                normalize(own),
                Err("inside git's or grove's own folder"),
                "{own}"
            );
        }
        assert!(normalize("a/../../b").is_err());
        assert!(normalize("/etc/passwd").is_err());
        for empty in ["", ".", "./", ".//."] {
            assert_eq!(normalize(empty), Err("not a path inside the repository"));
        }
    }

    #[test]
    fn resolved_paths_stay_in_the_repository_and_out_of_its_own_folders() {
        let root = Path::new("/r");
        assert_eq!(resolved_problem(root, Path::new("/r/a/b")), None);
        assert_eq!(resolved_problem(root, Path::new("/r/.gitignore")), None);
        assert_eq!(
            resolved_problem(root, Path::new("/rest")),
            Some("outside the repository")
        );
        for own in ["/r/.git/config", "/r/.grove/runs/x"] {
            assert_eq!(
                resolved_problem(root, Path::new(own)),
                Some("inside git's or grove's own folder")
            );
        }
    }
}
