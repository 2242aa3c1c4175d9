//! A grove command's way to the repository's server: connect to the running one, or start one
//! detached (its own session, stdin /dev/null, stdout and stderr to `.grove/server/server.log`,
//! this very binary from `/proc/self/exe`) and connect to it. Two commands starting one at once
//! end up with the same server: the second server finds the first's socket live and leaves.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::frame::{self, FrameError};
use super::handshake::{self, HandshakeError, Hello, Role};
use super::listener;
use super::messages::{Request, Response};
use super::socket::{SocketError, SocketPlace};
use crate::record::folders::{self, PRIVATE_DIR};

/// How long a started server has to answer.
const START_DEADLINE: Duration = Duration::from_secs(15);

/// A connection to the repository's server, past the handshake: over its socket, or through
/// `ssh … grove proxy` to a remote one.
pub struct Connection {
    reader: Box<dyn Read + Send>,
    writer: Box<dyn Write + Send>,
    /// Ends the connection at once (both ways), also while another thread reads it.
    close: Box<dyn Fn() + Send + Sync>,
}

#[derive(Debug, thiserror::Error)]
#[error("the grove server closed the connection before answering (was it killed?)")]
pub struct ServerGone;

impl Connection {
    /// A connection over `reader` and `writer` whose handshake is done; `close` ends it.
    pub fn new(
        reader: Box<dyn Read + Send>,
        writer: Box<dyn Write + Send>,
        close: Box<dyn Fn() + Send + Sync>,
    ) -> Connection {
        Connection {
            reader,
            writer,
            close,
        }
    }

    fn over_socket(stream: UnixStream) -> std::io::Result<Connection> {
        let writer = stream.try_clone()?;
        let closer = stream.try_clone()?;
        let close = move || {
            let _ = closer.shutdown(std::net::Shutdown::Both);
        };
        Ok(Connection::new(
            Box::new(stream),
            Box::new(writer),
            Box::new(close),
        ))
    }

    /// The connection's two ways and its closer, for a stream (`remote::attach`).
    pub fn into_parts(self) -> Parts {
        (self.reader, self.writer, self.close)
    }

    /// Sends `request` and reads the answer; `ServerGone` when the server went away first.
    pub fn ask(&mut self, request: &Request) -> anyhow::Result<Response> {
        frame::write(&mut self.writer, request)
            .map_err(|e| anyhow::Error::new(e).context(ServerGone))?;
        self.answer()
    }

    /// Reads the server's next answer (a request may have two: `Started`, then `Attached`).
    pub fn answer(&mut self) -> anyhow::Result<Response> {
        match frame::read::<Response>(&mut self.reader) {
            Ok(Some(response)) => Ok(response),
            Ok(None) => Err(ServerGone.into()),
            Err(e) => Err(anyhow::Error::new(e).context(ServerGone)),
        }
    }
}

/// A connection's reader, writer and closer.
pub type Parts = (
    Box<dyn Read + Send>,
    Box<dyn Write + Send>,
    Box<dyn Fn() + Send + Sync>,
);

/// The server's log: `<root>/.grove/server/server.log`.
pub fn log_path(repo_root: &Path) -> PathBuf {
    repo_root.join(".grove").join("server").join("server.log")
}

/// The running server of the repository, if there is one.
pub fn connect(repo_root: &Path) -> anyhow::Result<Option<Connection>> {
    let place = SocketPlace::for_repo(repo_root)?;
    let mut stream = match listener::connect(&place) {
        Ok(stream) => stream,
        Err(SocketError::NoServer { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    match handshake::client_blocking(&mut stream, &Hello::ours(Role::Headless)) {
        Ok(_) => Ok(Some(Connection::over_socket(stream)?)),
        // A server exiting as it was reached: as if it were gone already.
        Err(HandshakeError::Closed) => Ok(None),
        Err(HandshakeError::Frame(FrameError::Io(e)))
            if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) =>
        {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The running server of the repository, or a new one started detached.
pub fn connect_or_start(repo_root: &Path) -> anyhow::Result<Connection> {
    if let Some(connection) = connect(repo_root)? {
        return Ok(connection);
    }
    let log = log_path(repo_root);
    let deadline = Instant::now() + START_DEADLINE;
    let mut server = start(repo_root)?;
    loop {
        if let Some(connection) = connect(repo_root)? {
            return Ok(connection);
        }
        if let Some(status) = server.try_wait()? {
            if !status.success() {
                anyhow::bail!(
                    "the grove server did not start ({status}): see its log {}",
                    log.display()
                );
            }
            // It found another server live (a command starting one at the same time), which
            // has since gone idle, or is about to answer: look again, else start another.
            if connect(repo_root)?.is_none() {
                server = start(repo_root)?;
            }
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "the grove server did not answer within {}s: see its log {}",
                START_DEADLINE.as_secs(),
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `grove server --repo ROOT` in a session of its own, its output to the log.
fn start(repo_root: &Path) -> anyhow::Result<std::process::Child> {
    folders::check_grove_folders(repo_root)?;
    let grove = repo_root.join(".grove");
    folders::ensure_folder(&grove, 0o777).with_context(|| grove.display().to_string())?;
    let folder = grove.join("server");
    folders::ensure_folder(&folder, PRIVATE_DIR).with_context(|| folder.display().to_string())?;
    let path = log_path(repo_root);
    let log = super::log::open(&path)
        .with_context(|| format!("cannot open the server's log {}", path.display()))?;
    let mut command = std::process::Command::new("/proc/self/exe");
    command
        .arg("server")
        .arg("--repo")
        .arg(repo_root)
        .current_dir(repo_root)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe; the child is not a group leader (just forked), so
    // it cannot fail but for that.
    unsafe {
        command.pre_exec(|| match libc::setsid() {
            -1 => Err(std::io::Error::last_os_error()),
            _ => Ok(()),
        });
    }
    command
        .spawn()
        .context("cannot start the grove server (/proc/self/exe)")
}
