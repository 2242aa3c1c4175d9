//! Showing a run of the repository's grove server: the async runtime, the dashboard or the line
//! printer attached to it, the signals that stop a headless run (their number decides the exit
//! code) or detach a dashboard, and what is said when the dashboard detaches or the server is
//! lost.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::out::say;

use crate::engine::api::Command;
use crate::server::client;
use crate::server::messages::Request;
use crate::server::remote::{self, Attach, Remote};
use crate::ui::{DashboardOptions, Outcome};

/// How a run is shown.
#[derive(Debug, Clone, Copy, Args)]
pub struct FrontEndArgs {
    /// Line output instead of the dashboard (automatic when stdout is not a terminal).
    #[arg(long)]
    pub headless: bool,
    /// Quit the dashboard by itself when every task has ended.
    #[arg(long)]
    pub exit_when_done: bool,
}

impl FrontEndArgs {
    /// Whether the run is shown in the dashboard (else headless).
    pub fn dashboard(self) -> bool {
        !self.headless && std::io::stdout().is_terminal()
    }
}

/// Asks the repository's grove server (started if none runs) to start a run with `request`
/// (asking to attach) and shows it: the dashboard or the line printer. Returns the exit code.
pub fn served(
    root: &Path,
    request: &Request,
    front_end: FrontEndArgs,
    notices: Vec<String>,
) -> anyhow::Result<i32> {
    let connection = client::connect_or_start(root)?;
    match remote::open(connection, request)? {
        Attach::Attached(remote) => {
            // A dashboard detaches on a signal; the line printer stops the run it started.
            let on_signal = match front_end.dashboard() {
                true => OnSignal::Detach,
                false => OnSignal::Stop,
            };
            show(*remote, front_end, notices, on_signal)
        }
        Attach::Failed { message, exit_code } => {
            eprintln!("error: {message}");
            Ok(exit_code)
        }
        Attach::NotHosted => anyhow::bail!("the grove server did not attach to the run it started"),
    }
}

/// What SIGINT, SIGTERM and SIGHUP do to a shown run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSignal {
    /// Stop the run (cancel every agent); a second signal kills them at once.
    Stop,
    /// Leave it running in the server.
    Detach,
}

/// Shows an attached run until it ends (the exit code) or the client detaches (0). The
/// dashboard's new-task form offers the agents the run says it may use (found or not on the
/// PATH of the machine running it).
pub fn show(
    remote: Remote,
    front_end: FrontEndArgs,
    notices: Vec<String>,
    on_signal: OnSignal,
) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let Remote { front, link } = remote;
    let run_id = front.info.run_id.clone();
    let outcome = runtime.block_on(async move {
        if front_end.dashboard() {
            // Leaving the dashboard (q, Ctrl-], a signal) detaches: the run goes on.
            let opts = DashboardOptions {
                exit_when_done: front_end.exit_when_done,
                agents: front.info.agents.clone(),
                notices,
                detachable: true,
                detach_requests: Some(detach_signals()?),
            };
            // The dashboard on its own task, so that even a panic in it (the panic hook has
            // restored the terminal by then) comes back here as an error.
            let shown = tokio::spawn(crate::ui::run(front, opts))
                .await
                .unwrap_or_else(|e| Err(anyhow::anyhow!("the dashboard failed: {e}")));
            shown.map(|outcome| match outcome {
                Outcome::Ended(code) => Shown::Ended(code),
                Outcome::Detached(_) => Shown::Detached,
            })
        } else if on_signal == OnSignal::Detach {
            let mut signals = detach_signals()?;
            let mut stdout = std::io::stdout();
            tokio::select! {
                summary = crate::headless::run(front, &mut stdout) => Ok(match summary {
                    Some(summary) => Shown::Ended(summary.exit_code()),
                    None => Shown::Lost,
                }),
                _ = signals.recv() => Ok(Shown::Detached),
            }
        } else {
            let signals = forward_signals(front.commands.clone())?;
            let mut stdout = std::io::stdout();
            let summary = crate::headless::run(front, &mut stdout).await;
            // A signal decides the exit code (the run was stopped for it).
            Ok(match (signals.received(), summary) {
                (Some(signal), _) => Shown::Ended(128 + signal),
                (None, Some(summary)) => Shown::Ended(summary.exit_code()),
                (None, None) => Shown::Lost,
            })
        }
    });
    // Its tasks (the signal handlers) hold senders of the commands: the writer ends with them.
    drop(runtime);
    let lost = link.lost();
    link.detach();
    match (outcome, lost) {
        (Ok(Shown::Ended(code)), _) => Ok(code),
        (Ok(Shown::Detached), _) => {
            say_detached(&run_id);
            Ok(0)
        }
        (Ok(Shown::Lost) | Err(_), Some(lost)) => Err(ServerLost { run_id, why: lost }.into()),
        (Ok(Shown::Lost), None) => Err(ServerLost {
            run_id,
            why: "the run's events ended before it finished".into(),
        }
        .into()),
        (Err(e), None) => Err(e),
    }
}

/// How showing a run ended.
enum Shown {
    Ended(i32),
    Detached,
    /// The connection ended before the run finished.
    Lost,
}

/// The grove server went away while a run was shown.
#[derive(Debug, thiserror::Error)]
#[error("{why}: the grove server is gone (was it killed?); grove resume {run_id} continues the run from its journal (and stops any agent left behind)")]
pub struct ServerLost {
    pub run_id: String,
    pub why: String,
}

/// What a detached dashboard leaves on the terminal: the run id and the way back.
fn say_detached(run_id: &str) {
    say(format_args!(
        "grove: detached from run {run_id}; its agents keep running in the grove server.\n  grove attach {run_id}   comes back to it\n  grove stop {run_id}     stops it"
    ));
}

/// SIGINT, SIGTERM and SIGHUP, by name, for a client that detaches on them.
fn detach_signals() -> anyhow::Result<tokio::sync::mpsc::UnboundedReceiver<String>> {
    use tokio::signal::unix::{signal, SignalKind};
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let kinds = [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
    ];
    for (kind, name) in kinds {
        let mut stream = signal(kind).context("cannot install signal handlers")?;
        let sender = sender.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if sender.send(name.to_string()).is_err() {
                    return;
                }
            }
        });
    }
    Ok(receiver)
}

/// Which signal stopped the run, if any.
struct Signals {
    received: Arc<AtomicI32>,
}

impl Signals {
    fn received(&self) -> Option<i32> {
        match self.received.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n),
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP stop the run: the engine cancels every agent (group SIGTERM,
/// grace, SIGKILL) and writes the results. A second signal kills every agent at once.
fn forward_signals(
    commands: tokio::sync::mpsc::UnboundedSender<Command>,
) -> anyhow::Result<Signals> {
    use tokio::signal::unix::{signal, SignalKind};
    let received = Arc::new(AtomicI32::new(0));
    let count = Arc::new(AtomicU32::new(0));
    let kinds = [
        (SignalKind::interrupt(), libc::SIGINT),
        (SignalKind::terminate(), libc::SIGTERM),
        (SignalKind::hangup(), libc::SIGHUP),
    ];
    for (kind, number) in kinds {
        let mut stream = signal(kind).context("cannot install signal handlers")?;
        let commands = commands.clone();
        let received = received.clone();
        let count = count.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                let _ = received.compare_exchange(0, number, Ordering::SeqCst, Ordering::SeqCst);
                let command = match count.fetch_add(1, Ordering::SeqCst) {
                    0 => Command::Shutdown,
                    _ => Command::KillNow,
                };
                let _ = commands.send(command);
            }
        });
    }
    Ok(Signals { received })
}
