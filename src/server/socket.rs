//! Where a repository's server socket lives, and the checks on its folder: private to the user
//! (0700, theirs, not a link), so that only they can reach the socket at all. The peer check on
//! each connection (SO_PEERCRED) is in `listener.rs`.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::record::folders::{self, FolderError, PRIVATE_DIR};

/// The longest socket path Linux takes: `sun_path` is 108 bytes, with the closing NUL.
pub const MAX_SOCKET_PATH: usize = 107;

/// The socket of one repository and the private folder that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketPlace {
    pub folder: PathBuf,
    pub path: PathBuf,
    /// The repository's root (canonical) when the folder is its `.grove/server`.
    in_repository: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("cannot find the repository at {path}: {source}")]
    Repository {
        path: String,
        source: std::io::Error,
    },
    #[error("the server socket's path {path} is {len} bytes, longer than the {MAX_SOCKET_PATH} a Unix socket allows: set XDG_RUNTIME_DIR to a short private folder (such as /run/user/$UID), or move the repository to a shorter path")]
    PathTooLong { path: String, len: usize },
    #[error("{path} is not private to you ({why}): grove keeps its server socket only in a folder of yours that nobody else can enter (chmod 700 it, or remove it and grove makes it again)")]
    NotPrivate { path: String, why: String },
    #[error("{path} belongs to uid {uid}, not to you (uid {ours}): it holds another user's grove server socket, which you may not use: refused")]
    ForeignFolder { path: String, uid: u32, ours: u32 },
    #[error(transparent)]
    Folder(#[from] FolderError),
    #[error("{path} is in the place of grove's server socket but is not a socket: move it away")]
    NotSocket { path: String },
    #[error("a grove server is already running for this repository on {path}")]
    Live { path: String },
    #[error("no grove server is running for this repository ({path}: {source})")]
    NoServer {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the grove server socket {path} belongs to uid {uid}, not to you (uid {ours}): refused"
    )]
    ForeignServer { path: String, uid: u32, ours: u32 },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl SocketError {
    pub(super) fn io(path: &Path, source: std::io::Error) -> SocketError {
        SocketError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The effective uid of this process: the one a peer's must equal.
pub fn our_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

impl SocketPlace {
    /// The socket of the repository at `repo_root`, with `XDG_RUNTIME_DIR` from the environment.
    pub fn for_repo(repo_root: &Path) -> Result<SocketPlace, SocketError> {
        let runtime = std::env::var_os("XDG_RUNTIME_DIR");
        SocketPlace::with_runtime_dir(repo_root, runtime.as_deref().map(Path::new))
    }

    /// `$runtime/grove/<hash of the canonical root>.sock` when `runtime` is a usable folder (an
    /// absolute path to a folder of ours) and the path fits, else `<root>/.grove/server/server.sock`.
    pub fn with_runtime_dir(
        repo_root: &Path,
        runtime: Option<&Path>,
    ) -> Result<SocketPlace, SocketError> {
        let root = std::fs::canonicalize(repo_root).map_err(|source| SocketError::Repository {
            path: repo_root.display().to_string(),
            source,
        })?;
        if let Some(runtime) = runtime.filter(|dir| usable_runtime_dir(dir)) {
            let folder = runtime.join("grove");
            // The hash names the repository without its path's length, and one repository
            // always gets the same socket however it was named (links, `..`).
            let hash = crate::record::sha256(root.as_os_str().as_bytes());
            let name = hash
                .trim_start_matches("sha256:")
                .get(..32)
                .unwrap_or(&hash);
            let path = folder.join(format!("{name}.sock"));
            if fits(&path) {
                return Ok(SocketPlace {
                    folder,
                    path,
                    in_repository: None,
                });
            }
        }
        let folder = root.join(".grove").join("server");
        let path = folder.join("server.sock");
        if !fits(&path) {
            return Err(SocketError::PathTooLong {
                len: path.as_os_str().len(),
                path: path.display().to_string(),
            });
        }
        Ok(SocketPlace {
            folder,
            path,
            in_repository: Some(root),
        })
    }

    /// The file beside the socket holding its server's process id. It says who serves only
    /// while the socket answers: a server killed (kill -9) leaves both behind, until the next
    /// server replaces the stale socket and removes it (`Listener::bind`) and writes its own.
    pub fn pid_path(&self) -> PathBuf {
        self.path.with_extension("pid")
    }

    /// Makes the folder (0700) or checks the one there: a real folder, ours, closed to others.
    pub fn prepare(&self) -> Result<(), SocketError> {
        if let Some(root) = &self.in_repository {
            folders::check_grove_folders(root)?;
            let grove = root.join(".grove");
            folders::ensure_folder(&grove, 0o777).map_err(|e| SocketError::io(&grove, e))?;
        }
        folders::ensure_folder(&self.folder, PRIVATE_DIR)
            .map_err(|e| SocketError::io(&self.folder, e))?;
        self.check_folder()
    }

    /// The folder is a real folder (not a link), owned by us, with no permission for group or
    /// others.
    pub fn check_folder(&self) -> Result<(), SocketError> {
        let folder = &self.folder;
        let meta = std::fs::symlink_metadata(folder).map_err(|e| SocketError::io(folder, e))?;
        let not_private = |why: String| SocketError::NotPrivate {
            path: folder.display().to_string(),
            why,
        };
        if meta.file_type().is_symlink() {
            return Err(not_private("it is a symbolic link".into()));
        }
        if !meta.is_dir() {
            return Err(not_private("it is not a folder".into()));
        }
        if meta.uid() != our_uid() {
            return Err(SocketError::ForeignFolder {
                path: folder.display().to_string(),
                uid: meta.uid(),
                ours: our_uid(),
            });
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(not_private(format!("its mode is {mode:04o}")));
        }
        Ok(())
    }
}

/// Whether `path` can hold a Unix socket's path.
fn fits(path: &Path) -> bool {
    path.as_os_str().len() <= MAX_SOCKET_PATH
}

/// `XDG_RUNTIME_DIR` is worth using: an absolute path to a folder owned by us.
fn usable_runtime_dir(dir: &Path) -> bool {
    dir.is_absolute() && std::fs::metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == our_uid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn repo() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn the_runtime_dir_is_used_when_it_is_ours_and_the_path_fits() {
        let repo = repo();
        let runtime = tempfile::tempdir().unwrap();
        let place = SocketPlace::with_runtime_dir(repo.path(), Some(runtime.path())).unwrap();
        assert_eq!(place.folder, runtime.path().join("grove"));
        let name = place.path.file_name().unwrap().to_str().unwrap();
        assert!(name.ends_with(".sock") && name.len() == 32 + 5, "{name}");
        // One repository, one socket, however its path is spelled.
        let spelled = repo.path().join(".").join("sub").join("..");
        std::fs::create_dir(repo.path().join("sub")).unwrap();
        let again = SocketPlace::with_runtime_dir(&spelled, Some(runtime.path())).unwrap();
        assert_eq!(again, place);
        let other = tempfile::tempdir().unwrap();
        let elsewhere = SocketPlace::with_runtime_dir(other.path(), Some(runtime.path())).unwrap();
        assert_ne!(elsewhere.path, place.path);
    }

    #[test]
    fn without_a_usable_runtime_dir_the_socket_is_in_the_repository() {
        let repo = repo();
        let root = std::fs::canonicalize(repo.path()).unwrap();
        let expected = root.join(".grove/server/server.sock");
        for runtime in [
            None,
            Some(Path::new("relative")),
            Some(Path::new("/nonexistent/run")),
        ] {
            let place = SocketPlace::with_runtime_dir(repo.path(), runtime).unwrap();
            assert_eq!(place.path, expected, "{runtime:?}");
        }
        // A runtime dir so long that the socket would not fit there.
        let runtime = tempfile::tempdir().unwrap();
        let long = runtime.path().join("r".repeat(90));
        std::fs::create_dir(&long).unwrap();
        let place = SocketPlace::with_runtime_dir(repo.path(), Some(&long)).unwrap();
        assert_eq!(place.path, expected);
    }

    #[test]
    fn a_path_too_long_for_a_socket_is_a_clear_error() {
        let repo = repo();
        let deep = repo.path().join("d".repeat(100));
        std::fs::create_dir(&deep).unwrap();
        let err = SocketPlace::with_runtime_dir(&deep, None).unwrap_err();
        assert!(matches!(err, SocketError::PathTooLong { len, .. } if len > MAX_SOCKET_PATH));
        assert!(err.to_string().contains("XDG_RUNTIME_DIR"), "{err}");
        // A short runtime dir rescues it.
        let runtime = tempfile::tempdir().unwrap();
        let place = SocketPlace::with_runtime_dir(&deep, Some(runtime.path())).unwrap();
        assert!(place.path.starts_with(runtime.path()));
    }

    #[test]
    fn the_folder_is_made_private_and_an_open_one_is_refused() {
        let repo = repo();
        let place = SocketPlace::with_runtime_dir(repo.path(), None).unwrap();
        place.prepare().unwrap();
        let mode = std::fs::metadata(&place.folder)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        place.prepare().unwrap();

        std::fs::set_permissions(&place.folder, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = place.prepare().unwrap_err();
        assert!(matches!(err, SocketError::NotPrivate { .. }), "{err}");
        assert!(err.to_string().contains("its mode is 0755"), "{err}");
        std::fs::set_permissions(&place.folder, std::fs::Permissions::from_mode(0o710)).unwrap();
        assert!(place.prepare().is_err());
    }

    #[test]
    fn a_folder_of_another_user_is_refused() {
        if our_uid() != 0 {
            eprintln!("skipped: only root can give a folder to another user");
            return;
        }
        let runtime = tempfile::tempdir().unwrap();
        let repo = repo();
        let place = SocketPlace::with_runtime_dir(repo.path(), Some(runtime.path())).unwrap();
        std::fs::create_dir(&place.folder).unwrap();
        std::fs::set_permissions(&place.folder, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&place.folder, Some(65534), Some(65534)).unwrap();
        let err = place.prepare().unwrap_err();
        assert!(err.to_string().contains("belongs to uid 65534"), "{err}");
    }

    #[test]
    fn a_link_in_place_of_the_folder_is_refused_never_followed() {
        let runtime = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::set_permissions(outside.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let repo = repo();
        let place = SocketPlace::with_runtime_dir(repo.path(), Some(runtime.path())).unwrap();
        std::os::unix::fs::symlink(outside.path(), &place.folder).unwrap();
        let err = place.prepare().unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // In the repository, `.grove` itself as a link is refused before anything is made.
        let repo = self::repo();
        std::os::unix::fs::symlink(outside.path(), repo.path().join(".grove")).unwrap();
        let place = SocketPlace::with_runtime_dir(repo.path(), None).unwrap();
        let err = place.prepare().unwrap_err();
        assert!(matches!(err, SocketError::Folder(_)), "{err}");
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    }
}
