//! The server process (`grove server --repo PATH`, started detached by `client::connect_or_start`):
//! binds the repository's socket, writes its pid beside it, trims its log, serves every client on
//! its own task, hosts their runs, and exits once no run is live and no client has been connected
//! for the idle time, or, with no run live, as soon as its repository or its socket is gone.
//! SIGTERM and SIGINT stop its runs as `grove stop` does (a second one kills their agents at
//! once) and start no more; once they have closed and their clients have left, it exits without
//! waiting its idle time. SIGHUP is ignored (it has no terminal).

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::frame;
use super::handshake::{self, Hello, Role};
use super::host::{Attachment, Host};
use super::listener::Listener;
use super::log;
use super::messages::{FromClient, Request, Response, Stream};
use super::socket::{SocketError, SocketPlace};
use crate::engine::api::Command;

/// How long a server with nothing to do stays, unless the user config or `GROVE_SERVER_IDLE`
/// says otherwise.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(60);

/// Runs the server of the repository at `repo_root` until it is idle for `idle`. Another
/// server already live there is not an error: this one just leaves.
pub async fn serve(repo_root: &Path, idle: Duration) -> anyhow::Result<()> {
    let place = SocketPlace::for_repo(repo_root)?;
    let listener = match Listener::bind(&place) {
        Ok(listener) => listener,
        Err(SocketError::Live { path }) => {
            eprintln!("grove server: another server is live on {path}; leaving it the work");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let pid_path = place.pid_path();
    crate::record::write_atomic(&pid_path, format!("{}\n", std::process::id()).as_bytes())?;
    let log_path = super::client::log_path(repo_root);
    match log::trim_own(&log_path) {
        Ok(true) => eprintln!(
            "grove server: the log was over {} bytes: the earlier one is {}",
            log::LIMIT,
            log::previous(&log_path).display()
        ),
        Ok(false) => {}
        Err(e) => eprintln!(
            "grove server: cannot trim the log {}: {e}",
            log_path.display()
        ),
    }
    eprintln!(
        "grove server {}: pid {}, socket {}, idle exit after {}s",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        listener.path().display(),
        idle.as_secs_f64()
    );
    let host = Host::new(repo_root);
    stop_on_signals(host.clone())?;
    let tick = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(stream) => {
                    let client = host.client();
                    let host = host.clone();
                    tokio::spawn(async move {
                        if let Err(e) = serve_client(stream, &host).await {
                            eprintln!("grove server: a client: {e}");
                        }
                        drop(client);
                    });
                }
                Err(e) => eprintln!("grove server: accept: {e}"),
            },
            _ = tokio::time::sleep(tick) => {
                if host.stopped() {
                    eprintln!("grove server: every run stopped, exiting");
                    break;
                }
                if host.idle_for() >= idle {
                    eprintln!("grove server: idle for {}s, exiting", idle.as_secs_f64());
                    break;
                }
                // Nobody can reach or use a server whose repository or socket is gone (a
                // test's temporary repository, deleted): it leaves once no run is live rather
                // than lingering for the idle time.
                if let Some(why) = orphaned(repo_root, &listener) {
                    if host.runs().is_empty() {
                        eprintln!("grove server: {why}, exiting");
                        break;
                    }
                }
            }
        }
    }
    // The socket goes first, so that a client arriving now starts a new server; the pid file
    // with it, unless another server's socket (and so its pid file) has taken their place.
    let ours = listener.still_bound();
    drop(listener);
    if ours {
        let _ = std::fs::remove_file(&pid_path);
    }
    Ok(())
}

/// Why the server is of no use any more: its repository is gone, or its socket is (removed, or
/// another server's in its place).
fn orphaned(repo_root: &Path, listener: &Listener) -> Option<String> {
    if let Err(e) = std::fs::symlink_metadata(repo_root) {
        if e.kind() == std::io::ErrorKind::NotFound {
            return Some(format!("the repository {} is gone", repo_root.display()));
        }
    }
    (!listener.still_bound()).then(|| format!("its socket {} is gone", listener.path().display()))
}

/// One client: the handshake, then its requests in order until it closes the connection.
async fn serve_client(mut stream: UnixStream, host: &Host) -> anyhow::Result<()> {
    handshake::server(&mut stream, &Hello::ours(Role::Server)).await?;
    loop {
        let Some(request) = frame::read_async::<Request>(&mut stream).await? else {
            return Ok(());
        };
        let begun = match request {
            Request::Start {
                plan,
                start,
                env,
                attach,
            } => host.start(&plan, &start, attach, env),
            Request::New { start, env, attach } => host.new_run(&start, attach, env),
            Request::Resume {
                run_id,
                env,
                attach,
            } => host.resume(&run_id, attach, env),
            Request::FollowUp {
                run_id,
                task,
                prompt,
                env,
                attach,
            } => host.follow_up(&run_id, &task, &prompt, attach, env),
            Request::Attach { run_id } => match host.attach(run_id.as_deref()) {
                Some(attachment) => (Response::NotHosted, Some(attachment)),
                None => (Response::NotHosted, None),
            },
            Request::Runs => (
                Response::Runs {
                    server_pid: std::process::id(),
                    runs: host.runs(),
                },
                None,
            ),
            Request::Stop { run_id } => (host.stop(&run_id), None),
            Request::Wait { run_id } => {
                // A waiting client says nothing more: anything read (its end) means it left.
                let mut byte = [0; 1];
                let response = tokio::select! {
                    response = host.wait(&run_id) => response,
                    _ = stream.read(&mut byte) => return Ok(()),
                };
                (response, None)
            }
        };
        let (response, attachment) = begun;
        if let Some(attachment) = attachment {
            // A started run's answer comes first, then the attach's.
            if let Response::Started { .. } = response {
                frame::write_async(&mut stream, &response).await?;
            }
            let info = Box::new(attachment.info.clone());
            frame::write_async(&mut stream, &Response::Attached { info }).await?;
            return stream_to(stream, attachment).await;
        }
        frame::write_async(&mut stream, &response).await?;
    }
}

/// How many bytes of frames one write to a client gathers at most.
const WRITE_BATCH: usize = 256 * 1024;

/// An attached client: the snapshot, then the run's events and output as they come, while its
/// commands go to the run; until the client leaves (`Leave`, answered `Left` once it is counted
/// off and, if it was the last client of a finished run, the run has closed), its connection
/// ends, or the run closes. A frame being written is always finished first.
async fn stream_to(stream: UnixStream, attachment: Attachment) -> anyhow::Result<()> {
    let (mut reader, mut writer) = stream.into_split();
    let hub = attachment.hub.clone();
    let run_id = attachment.info.run_id.clone();
    let (slot, snapshot) = hub.attach();
    let commands = attachment.commands.clone();
    let (leave, mut leaving) = tokio::sync::watch::channel(false);
    let read_commands = async move {
        loop {
            match frame::read_async::<FromClient>(&mut reader).await {
                Ok(Some(FromClient::Command(command))) => {
                    let _ = commands.send(command);
                }
                Ok(Some(FromClient::Leave)) => {
                    leave.send_replace(true);
                }
                Ok(None) => return Ok(()),
                Err(e) => return Err(anyhow::Error::from(e)),
            }
        }
    };
    let send = async {
        let mut filter = snapshot.filter;
        for frame in &snapshot.frames {
            writer.write_all(frame).await?;
        }
        loop {
            let frames = tokio::select! {
                frames = slot.next(&hub, &mut filter, WRITE_BATCH) => frames,
                _ = leaving.wait_for(|left| *left) => break,
            };
            match frames {
                Some(frames) => writer.write_all(&frames).await?,
                None => {
                    writer.shutdown().await?;
                    return anyhow::Ok(());
                }
            }
        }
        hub.detach(&slot);
        attachment.leave().await;
        writer.write_all(&frame::encode(&Stream::Left)?).await?;
        writer.shutdown().await?;
        anyhow::Ok(())
    };
    let outcome = tokio::select! {
        read = read_commands => read,
        sent = send => sent,
    };
    let (behind, shed) = slot.times_behind();
    if behind > 0 || shed > 0 {
        eprintln!(
            "grove server: run {run_id}: a client fell behind {behind} time(s) and got fresh snapshots, and {shed} time(s) got a pane's whole state instead of its output"
        );
    }
    hub.detach(&slot);
    outcome
}

fn stop_on_signals(host: Host) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangup = signal(SignalKind::hangup())?;
    tokio::spawn(async move { while hangup.recv().await.is_some() {} });
    for kind in [SignalKind::terminate(), SignalKind::interrupt()] {
        let mut stream = signal(kind)?;
        let host = host.clone();
        tokio::spawn(async move {
            let mut command = Command::Shutdown;
            while stream.recv().await.is_some() {
                eprintln!("grove server: stopping every run ({command:?})");
                host.stop_all(command.clone());
                command = Command::KillNow;
            }
        });
    }
    Ok(())
}
