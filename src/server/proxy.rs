//! `grove proxy`: a remote dashboard's way in (`ssh host grove proxy --repo PATH`). It bridges
//! its stdin and stdout to the repository's socket: the two handshakes are read whole and
//! checked to be handshakes on the way through, everything after them is copied as it comes.
//! The versions are left to the two ends, which name both in their errors. When there is no
//! server to reach, the dashboard gets a refusal frame saying why, as from a server.

use std::io::{Read, Write};
use std::net::Shutdown;

use super::frame::{self, FrameError};
use super::handshake::{Greeting, Hello};
use super::listener;
use super::socket::{SocketError, SocketPlace};

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error("the grove server refused the connection: {0}")]
    Refused(String),
    #[error("the grove server closed the connection before its handshake")]
    NoGreeting,
    #[error("the server's first frame: {0}")]
    Greeting(FrameError),
    #[error("the client's first frame: {0}")]
    Hello(FrameError),
    #[error("the connection failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Bridges `input`/`output` (the remote client) to the server of `place` until the server closes
/// the connection. `Ok` when the client left before its handshake or the server ended the
/// connection after the handshakes.
pub fn bridge(
    place: &SocketPlace,
    mut input: impl Read + Send + 'static,
    mut output: impl Write,
) -> Result<(), ProxyError> {
    let mut socket = match listener::connect(place) {
        Ok(socket) => socket,
        Err(e) => {
            refuse(&mut output, &e.to_string());
            return Err(e.into());
        }
    };
    let greeting: Greeting = match frame::read(&mut socket) {
        Ok(Some(greeting)) => greeting,
        Ok(None) => return Err(ProxyError::NoGreeting),
        Err(e) => return Err(ProxyError::Greeting(e)),
    };
    frame::write(&mut output, &greeting).map_err(ProxyError::Greeting)?;
    if let Greeting::Refused { reason } = greeting {
        return Err(ProxyError::Refused(reason));
    }
    let hello: Hello = match frame::read(&mut input) {
        Ok(Some(hello)) => hello,
        Ok(None) => return Ok(()),
        Err(e) => return Err(ProxyError::Hello(e)),
    };
    frame::write(&mut socket, &hello).map_err(ProxyError::Hello)?;

    let mut to_server = socket.try_clone()?;
    // Not joined: a client that keeps its side open must not keep the proxy alive once the
    // server has ended the connection.
    std::thread::spawn(move || {
        let _ = copy(&mut input, &mut to_server);
        // The client is done: the server sees the end of its input.
        let _ = to_server.shutdown(Shutdown::Write);
    });
    copy(&mut socket, &mut output)?;
    Ok(())
}

/// Tells the client why it cannot be served, as a server's first frame would.
fn refuse(output: &mut impl Write, reason: &str) {
    let refusal = Greeting::Refused {
        reason: reason.to_string(),
    };
    // The client may be gone already; the error is what the proxy reports anyway.
    let _ = frame::write(output, &refusal);
}

/// Copies until the end of `from`, flushing after each read: frames must not wait in a buffer
/// for the next newline.
fn copy(from: &mut impl Read, to: &mut impl Write) -> std::io::Result<()> {
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        to.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::handshake::{self, Role};
    use crate::server::listener::Listener;
    use std::os::unix::net::UnixStream;

    /// The proxy between a client (one end of a socket pair standing for ssh's stdio) and a
    /// real listener whose connection echoes frames after the handshake.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn frames_cross_the_proxy_both_ways_after_the_handshakes() {
        let (runtime, repo) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let place = SocketPlace::with_runtime_dir(repo.path(), Some(runtime.path())).unwrap();
        let listener = Listener::bind(&place).unwrap();
        let server = tokio::spawn(async move {
            let mut stream = listener.accept().await.unwrap();
            let hello = handshake::server(&mut stream, &Hello::ours(Role::Server)).await;
            while let Some(text) = frame::read_async::<String>(&mut stream).await.unwrap() {
                frame::write_async(&mut stream, &format!("echo {text}"))
                    .await
                    .unwrap();
            }
            hello
        });
        let (mut client, proxy_side) = UnixStream::pair().unwrap();
        let proxy = std::thread::spawn(move || {
            let output = proxy_side.try_clone().unwrap();
            bridge(&place, proxy_side, output)
        });
        let client = tokio::task::spawn_blocking(move || {
            handshake::client_blocking(&mut client, &Hello::ours(Role::Dashboard)).unwrap();
            frame::write(&mut client, &"one".to_string()).unwrap();
            let one: String = frame::read(&mut client).unwrap().unwrap();
            frame::write(&mut client, &"two".to_string()).unwrap();
            let two: String = frame::read(&mut client).unwrap().unwrap();
            client.shutdown(Shutdown::Write).unwrap();
            (one, two)
        });
        assert_eq!(
            client.await.unwrap(),
            ("echo one".to_string(), "echo two".to_string())
        );
        assert_eq!(server.await.unwrap().unwrap().role, Role::Dashboard);
        proxy.join().unwrap().unwrap();
    }

    #[test]
    fn without_a_server_the_client_is_refused_with_the_reason() {
        let (runtime, repo) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let place = SocketPlace::with_runtime_dir(repo.path(), Some(runtime.path())).unwrap();
        place.prepare().unwrap();
        let mut output = Vec::new();
        let err = bridge(&place, std::io::empty(), &mut output).unwrap_err();
        assert!(
            matches!(err, ProxyError::Socket(SocketError::NoServer { .. })),
            "{err}"
        );
        let greeting: Greeting = frame::read(&mut output.as_slice()).unwrap().unwrap();
        let Greeting::Refused { reason } = greeting else {
            panic!("not a refusal: {greeting:?}");
        };
        assert!(reason.starts_with("no grove server is running"), "{reason}");
    }
}
