//! The server's socket reached from another host's point of view: a real `sshd` (Debian's
//! openssh-server, installed by .ci/run) on 127.0.0.1 with a throwaway host key and user key,
//! and `ssh … grove proxy --repo PATH` (the real binary) bridging ssh's stdio to a real
//! listener of `grove::server`. The handshake, frames after it, a protocol mismatch and a
//! missing server, each through ssh.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;

use grove::server::frame;
use grove::server::handshake::{self, HandshakeError, Hello, Role, PROTOCOL};
use grove::server::listener::Listener;
use grove::server::socket::SocketPlace;

use crate::support::sshd::Sshd;
use crate::support::*;

/// ssh's stdio as one stream: what the dashboard of `grove attach --ssh` will talk through.
struct Remote {
    from: ChildStdout,
    to: Option<ChildStdin>,
}

impl Read for Remote {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.from.read(buf)
    }
}

impl Write for Remote {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.to {
            Some(to) => to.write(buf),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.to.as_mut().map_or(Ok(()), |to| to.flush())
    }
}

/// `grove proxy` for `repo` on the "remote" host, through ssh.
fn proxy(sshd: &Sshd, repo: &Path) -> (Child, Remote) {
    let mut child = sshd
        .ssh(&format!("{GROVE} proxy --repo '{}'", repo.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let remote = Remote {
        from: child.stdout.take().unwrap(),
        to: child.stdin.take(),
    };
    (child, remote)
}

/// Runs `f` on a thread; fails the test (after stopping `child`, by its pid) if it does not end
/// within the deadline, instead of hanging on a read that never returns.
fn within<T: Send + 'static>(child: &mut Child, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(value) => value,
        Err(_) => {
            let _ = child.kill();
            panic!("no answer through ssh within {DEADLINE:?}");
        }
    }
}

/// Waits for ssh to end; its exit code and stderr.
fn finish(mut child: Child) -> (i32, String) {
    let stderr = child.stderr.take();
    // Its stderr ends when it does.
    let err = within(&mut child, move || {
        let mut err = String::new();
        let _ = stderr.map(|mut e| e.read_to_string(&mut err));
        err
    });
    let code = child.wait().unwrap().code().unwrap_or(-1);
    (code, err)
}

/// A server for `repo` as `grove proxy` on the remote host finds it (no XDG_RUNTIME_DIR in an
/// ssh session without PAM: the socket is in the repository's `.grove/server`): it shakes
/// hands as `ours`, then echoes every frame back. Each connection's handshake result goes to
/// the returned channel.
fn serve(
    repo: &Path,
    ours: Hello,
) -> (
    tokio::runtime::Runtime,
    mpsc::Receiver<Result<Hello, String>>,
) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let place = SocketPlace::with_runtime_dir(repo, None).unwrap();
    let listener = runtime.block_on(async { Listener::bind(&place) }).unwrap();
    let (tx, rx) = mpsc::channel();
    runtime.spawn(async move {
        loop {
            let Ok(mut stream) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            let ours = ours.clone();
            tokio::spawn(async move {
                let hello = handshake::server(&mut stream, &ours).await;
                let ok = hello.is_ok();
                let _ = tx.send(hello.map_err(|e| e.to_string()));
                if !ok {
                    return;
                }
                while let Ok(Some(text)) = frame::read_async::<String>(&mut stream).await {
                    let echo = format!("echo: {text}");
                    if frame::write_async(&mut stream, &echo).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (runtime, rx)
}

fn repo_path(repo: &Repo) -> PathBuf {
    std::fs::canonicalize(repo.path()).unwrap()
}

#[test]
fn a_handshake_and_frames_cross_ssh_through_grove_proxy() {
    let sshd = Sshd::start();
    let repo = Repo::new();
    let (_runtime, handshakes) = serve(repo.path(), Hello::ours(Role::Server));
    let (mut ssh, mut remote) = proxy(&sshd, &repo_path(&repo));
    let (server, echoes) = within(&mut ssh, move || {
        let server = handshake::client_blocking(&mut remote, &Hello::ours(Role::Dashboard));
        let mut echoes = Vec::new();
        for text in [
            "first",
            "中文 and escapes \x1b[31m",
            &"long ".repeat(20_000),
        ] {
            frame::write(&mut remote, &text.to_string()).unwrap();
            echoes.push(frame::read::<String>(&mut remote).unwrap().unwrap());
        }
        // The dashboard leaves: the proxy ends, and so does ssh.
        drop(remote.to.take());
        (server, echoes)
    });
    assert_eq!(server.unwrap(), Hello::ours(Role::Server));
    assert_eq!(echoes[0], "echo: first");
    assert_eq!(echoes[1], "echo: 中文 and escapes \x1b[31m");
    assert_eq!(echoes[2], format!("echo: {}", "long ".repeat(20_000)));
    let seen = handshakes.recv_timeout(DEADLINE).unwrap();
    assert_eq!(seen.unwrap(), Hello::ours(Role::Dashboard));
    let (code, err) = finish(ssh);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_protocol_mismatch_through_ssh_names_both_versions_on_both_sides() {
    let sshd = Sshd::start();
    let repo = Repo::new();
    let newer = Hello {
        protocol: PROTOCOL + 1,
        program: "9.0.0".into(),
        role: Role::Server,
    };
    let (_runtime, handshakes) = serve(repo.path(), newer);
    let (mut ssh, mut remote) = proxy(&sshd, &repo_path(&repo));
    let client = within(&mut ssh, move || {
        handshake::client_blocking(&mut remote, &Hello::ours(Role::Dashboard))
    });
    let ours = env!("CARGO_PKG_VERSION");
    let err = client.unwrap_err();
    assert!(
        matches!(err, HandshakeError::ServerMismatch { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "the grove server speaks protocol {} (grove 9.0.0) but this grove speaks protocol \
             {PROTOCOL} (grove {ours})",
            PROTOCOL + 1
        )),
        "{text}"
    );
    let server_err = handshakes.recv_timeout(DEADLINE).unwrap().unwrap_err();
    assert_eq!(
        server_err,
        format!(
            "a grove dashboard (grove {ours}) speaks protocol {PROTOCOL} but this server speaks \
             protocol {} (grove 9.0.0): refused",
            PROTOCOL + 1
        )
    );
    // The server closed the connection: the proxy and ssh end by themselves.
    let (code, err) = finish(ssh);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn without_a_server_the_remote_dashboard_is_told_why() {
    let sshd = Sshd::start();
    let repo = Repo::new();
    let (mut ssh, mut remote) = proxy(&sshd, &repo_path(&repo));
    let client = within(&mut ssh, move || {
        handshake::client_blocking(&mut remote, &Hello::ours(Role::Dashboard))
    });
    let err = client.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the grove server refused the connection: no grove server is running for this repository"),
        "{err}"
    );
    let (code, err) = finish(ssh);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no grove server is running"), "{err}");
}

#[test]
fn proxy_outside_a_repository_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(GROVE)
        .args(["proxy", "--repo"])
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(out.stdout.is_empty(), "nothing on the protocol's stream");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
}
