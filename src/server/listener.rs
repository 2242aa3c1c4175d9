//! The server's end of the socket and the client's way in. Binding replaces a stale socket (its
//! server died) and defers to a live one; every connection's peer uid is checked (SO_PEERCRED)
//! on both ends, even though the folder already keeps others out.

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};

use tokio::net::{UnixListener, UnixStream};

use super::handshake;
use super::socket::{our_uid, SocketError, SocketPlace};

/// Mode of the socket file.
pub const SOCKET_MODE: u32 = 0o600;

/// A bound server socket. Dropping it removes the socket file, unless another server's socket
/// has taken its place since.
#[derive(Debug)]
pub struct Listener {
    listener: UnixListener,
    path: PathBuf,
    /// (device, inode) of the socket file bound.
    identity: (u64, u64),
}

/// The uid of the process at the other end of a Unix socket, as the kernel recorded it when the
/// connection was made.
pub fn peer_uid(stream: &impl AsFd) -> std::io::Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the fd is a live socket borrowed for the call; `cred` and `len` are valid for
    // writes of the size given.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(cred.uid)
}

impl Listener {
    /// Binds the repository's socket (inside a tokio runtime). A socket file nobody listens on
    /// is stale and replaced; one with a server behind it is `SocketError::Live`.
    pub fn bind(place: &SocketPlace) -> Result<Listener, SocketError> {
        place.prepare()?;
        let path = &place.path;
        // Twice at most: a stale socket removed, then bound; a second server racing us to it
        // finds ours live.
        for _ in 0..2 {
            match std::os::unix::net::UnixListener::bind(path) {
                Ok(listener) => return Listener::from_bound(listener, path),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    remove_stale(path)?;
                    // The pid of the server that died with it, which nobody may trust now.
                    match std::fs::remove_file(place.pid_path()) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(SocketError::io(&place.pid_path(), e))
                        }
                        _ => {}
                    }
                }
                Err(e) => return Err(SocketError::io(path, e)),
            }
        }
        Err(SocketError::Live {
            path: path.display().to_string(),
        })
    }

    fn from_bound(
        listener: std::os::unix::net::UnixListener,
        path: &Path,
    ) -> Result<Listener, SocketError> {
        let io = |e| SocketError::io(path, e);
        // Bound with the umask's mode in a folder only we can enter; narrowed at once.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE)).map_err(io)?;
        let meta = std::fs::symlink_metadata(path).map_err(io)?;
        listener.set_nonblocking(true).map_err(io)?;
        Ok(Listener {
            listener: UnixListener::from_std(listener).map_err(io)?,
            path: path.to_path_buf(),
            identity: (meta.dev(), meta.ino()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The socket file is still the one bound: not removed, nor replaced by another server's.
    pub fn still_bound(&self) -> bool {
        std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.identity)
    }

    /// The next connection of our own user. A peer of another uid gets a refusal frame saying
    /// why and is closed, and the wait goes on.
    pub async fn accept(&self) -> std::io::Result<UnixStream> {
        loop {
            let (mut stream, _) = self.listener.accept().await?;
            let uid = match peer_uid(&stream) {
                Ok(uid) => uid,
                Err(e) => {
                    eprintln!("grove server: cannot read a client's credentials: {e}");
                    continue;
                }
            };
            if uid == our_uid() {
                return Ok(stream);
            }
            let reason = format!(
                "this grove server belongs to uid {}; uid {uid} may not use it",
                our_uid()
            );
            // To the server's log (its stderr), where the server says everything else.
            eprintln!("grove server: refused a client: {reason}");
            // A small frame into an empty socket buffer; a peer that never reads cannot hold
            // the loop up for long.
            let refusal = handshake::refuse(&mut stream, &reason);
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), refusal).await;
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if self.still_bound() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The socket file at `path` when no server is behind it: removed. A live one is
/// `SocketError::Live`; anything but a socket is left alone and refused.
fn remove_stale(path: &Path) -> Result<(), SocketError> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| SocketError::io(path, e))?;
    if !meta.file_type().is_socket() {
        return Err(SocketError::NotSocket {
            path: path.display().to_string(),
        });
    }
    match StdUnixStream::connect(path) {
        Ok(_) => Err(SocketError::Live {
            path: path.display().to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            tracing::info!("server: replacing the stale socket {}", path.display());
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SocketError::io(path, e)),
                _ => Ok(()),
            }
        }
        Err(e) => Err(SocketError::io(path, e)),
    }
}

/// Connects to the repository's server: the folder checked first, then the server's uid (a
/// socket of another user's server is refused).
pub fn connect(place: &SocketPlace) -> Result<StdUnixStream, SocketError> {
    let path = &place.path;
    if let Err(source) = std::fs::symlink_metadata(&place.folder) {
        // No folder: no server has ever run here.
        return Err(SocketError::NoServer {
            path: path.display().to_string(),
            source,
        });
    }
    place.check_folder()?;
    let stream = StdUnixStream::connect(path).map_err(|source| SocketError::NoServer {
        path: path.display().to_string(),
        source,
    })?;
    let uid = peer_uid(&stream).map_err(|e| SocketError::io(path, e))?;
    if uid != our_uid() {
        return Err(SocketError::ForeignServer {
            path: path.display().to_string(),
            uid,
            ours: our_uid(),
        });
    }
    Ok(stream)
}

#[cfg(test)]
#[path = "listener_tests.rs"]
mod tests;
