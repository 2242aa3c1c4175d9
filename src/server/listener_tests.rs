//! The listener on real sockets: stale and live sockets, the socket's mode, and a client of
//! another uid (a forked child that drops to `nobody`) refused with a reason.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use super::*;
use crate::server::frame;
use crate::server::handshake::{Greeting, Hello, Role};

const NOBODY: u32 = 65534;

fn place(runtime: &Path, repo: &Path) -> SocketPlace {
    SocketPlace::with_runtime_dir(repo, Some(runtime)).unwrap()
}

#[tokio::test]
async fn the_socket_is_private_and_removed_when_the_listener_goes() {
    let (runtime, repo) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let place = place(runtime.path(), repo.path());
    let listener = Listener::bind(&place).unwrap();
    let meta = std::fs::symlink_metadata(listener.path()).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, SOCKET_MODE);
    drop(listener);
    assert!(!place.path.exists());
}

#[tokio::test]
async fn a_stale_socket_is_replaced_and_its_dead_servers_pid_file_removed() {
    let (runtime, repo) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let place = place(runtime.path(), repo.path());
    place.prepare().unwrap();
    // A server that died: its socket file and its pid file stay, nobody listens behind it.
    drop(std::os::unix::net::UnixListener::bind(&place.path).unwrap());
    std::fs::write(place.pid_path(), "4242\n").unwrap();
    assert!(place.path.exists());
    let err = connect(&place).unwrap_err();
    assert!(matches!(err, SocketError::NoServer { .. }), "{err}");
    let listener = Listener::bind(&place).unwrap();
    assert!(
        !place.pid_path().exists(),
        "the dead server's pid is still there"
    );
    let accepted = tokio::spawn(async move {
        let stream = listener.accept().await.unwrap();
        (listener, stream)
    });
    let client = connect(&place).unwrap();
    let (_listener, stream) = accepted.await.unwrap();
    assert_eq!(peer_uid(&stream).unwrap(), peer_uid(&client).unwrap());
}

#[tokio::test]
async fn a_live_servers_pid_file_stays_and_a_removed_or_replaced_socket_is_no_longer_bound() {
    let (runtime, repo) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let place = place(runtime.path(), repo.path());
    let listener = Listener::bind(&place).unwrap();
    std::fs::write(place.pid_path(), "1\n").unwrap();
    assert!(matches!(
        Listener::bind(&place).unwrap_err(),
        SocketError::Live { .. }
    ));
    assert!(place.pid_path().exists());
    assert!(listener.still_bound());
    std::fs::remove_file(&place.path).unwrap();
    assert!(!listener.still_bound());
    // Another server's socket in its place is not ours either, and ours leaves it be.
    let other = Listener::bind(&place).unwrap();
    assert!(!listener.still_bound() && other.still_bound());
    drop(listener);
    assert!(place.path.exists());
}

#[tokio::test]
async fn something_else_in_the_sockets_place_is_left_alone() {
    let (runtime, repo) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let place = place(runtime.path(), repo.path());
    place.prepare().unwrap();
    std::fs::write(&place.path, "notes").unwrap();
    let err = Listener::bind(&place).unwrap_err();
    assert!(matches!(err, SocketError::NotSocket { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&place.path).unwrap(), "notes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_finds_the_first_live_one_and_talks_to_it() {
    let (runtime, repo) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let place = place(runtime.path(), repo.path());
    let first = Listener::bind(&place).unwrap();
    let serving = tokio::spawn(async move {
        // The second server's probe is a connection too, closed at once: a server goes on
        // to the next.
        let mut closed_early = 0;
        loop {
            let mut stream = first.accept().await.unwrap();
            match handshake::server(&mut stream, &Hello::ours(Role::Server)).await {
                Ok(hello) => return (first, hello, closed_early),
                Err(_) => closed_early += 1,
            }
        }
    });
    let err = Listener::bind(&place).unwrap_err();
    assert!(matches!(err, SocketError::Live { .. }), "{err}");
    assert!(err.to_string().contains("already running"), "{err}");
    // The second one, a client now, reaches the first.
    let client = tokio::task::spawn_blocking(move || {
        let mut stream = connect(&place).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        handshake::client_blocking(&mut stream, &Hello::ours(Role::Headless))
    });
    assert_eq!(client.await.unwrap().unwrap().role, Role::Server);
    let (first, hello, closed_early) = serving.await.unwrap();
    assert_eq!(hello.role, Role::Headless);
    assert_eq!(closed_early, 1);
    assert!(first.path().exists(), "the live socket was not replaced");
}

/// Connects to `path` from a forked child running as `uid`, and returns everything the server
/// sent before closing, or where the child failed.
fn connect_as(uid: u32, path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::fd::FromRawFd;

    // SAFETY: a zeroed sockaddr_un is a valid value; the path is copied in below its length.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    assert!(bytes.len() < addr.sun_path.len());
    for (to, from) in addr.sun_path.iter_mut().zip(bytes) {
        *to = *from as libc::c_char;
    }
    let mut pipe = [0; 2];
    // SAFETY: `pipe` has room for the two fds.
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    // SAFETY: the child only makes system calls (no allocation, no locks) and leaves by _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: plain system calls on values prepared before the fork.
        unsafe {
            libc::close(pipe[0]);
            let fail = |what: &[u8]| {
                libc::write(pipe[1], what.as_ptr().cast(), what.len());
                libc::_exit(1)
            };
            // Raw calls: glibc's setuid wrappers coordinate threads the child does not have.
            if libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) != 0
                || libc::syscall(libc::SYS_setgid, uid) != 0
                || libc::syscall(libc::SYS_setuid, uid) != 0
            {
                fail(b"!setuid");
            }
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
            if fd < 0 || libc::connect(fd, (&addr as *const libc::sockaddr_un).cast(), len) != 0 {
                fail(b"!connect");
            }
            let mut buf = [0u8; 4096];
            loop {
                let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                if n <= 0 {
                    break;
                }
                libc::write(pipe[1], buf.as_ptr().cast(), n as usize);
            }
            libc::_exit(0);
        }
    }
    // SAFETY: the write end belongs to the child now; the read end is ours alone.
    let mut from_child = unsafe {
        libc::close(pipe[1]);
        std::fs::File::from_raw_fd(pipe[0])
    };
    let mut out = Vec::new();
    from_child.read_to_end(&mut out).unwrap();
    let mut status = 0;
    // SAFETY: `pid` is the child forked above, waited for once.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    match out.strip_prefix(b"!") {
        Some(what) => Err(String::from_utf8_lossy(what).into_owned()),
        None => Ok(out),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_another_uid_is_refused_with_a_reason() {
    if our_uid() != 0 {
        eprintln!("skipped: only root can run a client as another user");
        return;
    }
    let (runtime, repo) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let place = place(runtime.path(), repo.path());
    let listener = Listener::bind(&place).unwrap();
    // The folder and socket opened up by mistake: the peer check is what still keeps the
    // other user out.
    let open = |path: &Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    open(runtime.path(), 0o711);
    open(&place.folder, 0o711);
    open(&place.path, 0o666);
    let accepting = tokio::spawn(async move {
        let stream = listener.accept().await;
        (listener, stream)
    });
    let path = place.path.clone();
    let sent = tokio::task::spawn_blocking(move || connect_as(NOBODY, &path))
        .await
        .unwrap()
        .unwrap();
    let greeting: Greeting = frame::read(&mut sent.as_slice()).unwrap().unwrap();
    let reason = match greeting {
        Greeting::Refused { reason } => reason,
        other => panic!("not refused: {other:?}"),
    };
    assert_eq!(
        reason,
        "this grove server belongs to uid 0; uid 65534 may not use it"
    );
    assert!(!accepting.is_finished(), "the refused client was handed on");
    // Our own user still gets through the same listener.
    open(&place.folder, 0o700);
    let _ours = connect(&place).unwrap();
    let (_listener, stream) = accepting.await.unwrap();
    assert_eq!(peer_uid(&stream.unwrap()).unwrap(), 0);
}

#[test]
fn a_client_refuses_a_folder_opened_to_others() {
    let (runtime, repo) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let place = place(runtime.path(), repo.path());
    place.prepare().unwrap();
    std::fs::set_permissions(&place.folder, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = connect(&place).unwrap_err();
    assert!(matches!(err, SocketError::NotPrivate { .. }), "{err}");
}
