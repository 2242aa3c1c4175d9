//! Running a front end against the engine: the async runtime, the dashboard or the line printer,
//! and the signals that stop a run (their number decides the exit code).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::engine::api::{Command, FrontEnd};
use crate::ui::{AgentChoice, DashboardOptions, Outcome};

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

/// Starts a run with `start` (inside the async runtime) and drives it with the dashboard (whose
/// new-task form offers `agents`) or the headless printer until it ends; returns the exit code.
pub fn drive(
    start: impl FnOnce() -> anyhow::Result<(FrontEnd, tokio::task::JoinHandle<()>)>,
    front_end: FrontEndArgs,
    agents: Vec<AgentChoice>,
    notices: Vec<String>,
) -> anyhow::Result<i32> {
    let exit_when_done = front_end.exit_when_done;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let dashboard = front_end.dashboard();
    runtime.block_on(async move {
        let (front, engine) = start()?;
        let signals = forward_signals(front.commands.clone())?;
        let commands = front.commands.clone();
        let outcome = if dashboard {
            let opts = DashboardOptions {
                exit_when_done,
                agents,
                notices,
                ..Default::default()
            };
            run_dashboard(front, opts).await
        } else {
            let mut stdout = std::io::stdout();
            let summary = crate::headless::run(front, &mut stdout).await;
            Ok(summary.map(|s| s.exit_code()).unwrap_or(1))
        };
        // The front end is done, or failed (say, the terminal went away): either way the engine
        // finishes, cancelling whatever still runs so no agent outlives grove, and ends.
        let _ = commands.send(Command::Shutdown);
        let _ = engine.await;
        // A signal decides the exit code, also when it came after the run had ended (the
        // terminal was closed while the dashboard showed the summary) or made the dashboard
        // fail (a closed terminal cannot be drawn on, nor the error printed).
        match signals.received() {
            Some(signal) => Ok(128 + signal),
            None => outcome,
        }
    })
}

/// The dashboard on its own task, so that even a panic in it (the panic hook has restored the
/// terminal by then) comes back here as an error and the agents are still stopped.
async fn run_dashboard(front: FrontEnd, opts: DashboardOptions) -> anyhow::Result<i32> {
    let outcome = tokio::spawn(crate::ui::run(front, opts))
        .await
        .unwrap_or_else(|e| Err(anyhow::anyhow!("the dashboard failed: {e}")))?;
    Ok(match outcome {
        Outcome::Ended(code) => code,
        // Only a detachable dashboard (not this one yet) detaches; nothing to say then.
        Outcome::Detached(_) => 0,
    })
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
