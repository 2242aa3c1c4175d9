//! The runs a server hosts: each started from a client's request (a plan, or a run to resume),
//! its `FrontEnd` consumed here (the engine keeps the journal and results.json), stopped on
//! request, and its exit code kept for those who wait on it. Also what tells the server it may
//! exit: no run left and no client for the idle time.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc::UnboundedSender, watch};
use tokio::task::JoinHandle;

use super::messages::{Response, RunRow};
use crate::engine::api::{Command, Event, FrontEnd, TaskStatus};
use crate::engine::{self, RunRequest};
use crate::pty::{DEFAULT_COLS, DEFAULT_ROWS};

/// The runs of one server, shared by its connections.
#[derive(Clone)]
pub struct Host {
    state: Arc<Mutex<State>>,
    repo_root: Arc<Path>,
}

struct State {
    runs: BTreeMap<String, Hosted>,
    /// Open client connections.
    clients: usize,
    /// Since when nothing (no run, no client) has kept the server busy.
    idle_since: Instant,
}

struct Hosted {
    plan: String,
    started: SystemTime,
    commands: UnboundedSender<Command>,
    statuses: Vec<TaskStatus>,
    /// Clients waiting on it.
    clients: usize,
    /// Set once the run has ended and its engine stopped: its exit code.
    ended: watch::Sender<Option<i32>>,
}

impl Hosted {
    fn live(&self) -> bool {
        self.ended.borrow().is_none()
    }
}

impl Host {
    pub fn new(repo_root: &Path) -> Host {
        Host {
            state: Arc::new(Mutex::new(State {
                runs: BTreeMap::new(),
                clients: 0,
                idle_since: Instant::now(),
            })),
            repo_root: repo_root.into(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding it left plain data behind; go on with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the plan at `plan` loaded from `start` as `grove run` does (the same checks and
    /// exit codes); its warnings go to the server's log.
    pub fn start(&self, plan: &Path, start: &Path) -> Response {
        let started = (|| {
            let (plan, target, _) = crate::cli::run::load(plan, Some(start))?;
            if target.root.canonicalize().ok() != self.repo_root.canonicalize().ok() {
                return Err(crate::cli::exit::UsageError(format!(
                    "the plan runs in {}, not in this server's repository {}",
                    target.root.display(),
                    self.repo_root.display()
                ))
                .into());
            }
            if let Some(refusal) = crate::agent::headless_refusal(&plan) {
                return Err(crate::cli::exit::UsageError(refusal).into());
            }
            if let Some(warning) = crate::sandbox::unavailable_warning(&plan) {
                eprintln!("{warning}");
            }
            Ok(engine::start(RunRequest {
                plan,
                repo: target,
                pane_size: (DEFAULT_ROWS, DEFAULT_COLS),
                env: crate::environment::Environment::current(),
            })?)
        })();
        self.host(started)
    }

    /// Continues run `run_id` from its journal, as `grove resume` does.
    pub fn resume(&self, run_id: &str) -> Response {
        let resumed = engine::resume(
            &self.repo_root,
            run_id,
            crate::environment::Environment::current(),
        )
        .map_err(anyhow::Error::from);
        self.host(resumed)
    }

    fn host(&self, started: anyhow::Result<(FrontEnd, JoinHandle<()>)>) -> Response {
        let (front, engine) = match started {
            Ok(started) => started,
            Err(e) => {
                let (exit_code, message) = crate::cli::exit::exit_code_and_message(&e);
                eprintln!("grove server: a run did not start: {message}");
                return Response::Failed { message, exit_code };
            }
        };
        let run_id = front.info.run_id.clone();
        eprintln!("grove server: run {run_id} started");
        let (ended, _) = watch::channel(None);
        let hosted = Hosted {
            plan: front.info.plan_name.clone(),
            started: front.info.started_at,
            commands: front.commands.clone(),
            statuses: Vec::new(),
            clients: 0,
            ended,
        };
        self.lock().runs.insert(run_id.clone(), hosted);
        tokio::spawn(self.clone().follow(run_id.clone(), front, engine));
        Response::Started { run_id }
    }

    /// Consumes the run's events until it finishes, then stops its engine (as the headless
    /// front end's caller does) and records its exit code.
    async fn follow(self, run_id: String, mut front: FrontEnd, engine: JoinHandle<()>) {
        let mut exit_code = None;
        while let Some(event) = front.events.recv().await {
            match event {
                Event::TaskAdded { view, .. } => self.with_run(&run_id, |run| {
                    run.statuses.push(view.status);
                }),
                Event::TaskChanged(view) => self.with_run(&run_id, |run| {
                    if let Some(status) = run.statuses.get_mut(view.id.index()) {
                        *status = view.status;
                    }
                }),
                Event::RecordWrite { text, .. } => eprintln!("grove server: {run_id}: {text}"),
                Event::RunFinished(summary) => {
                    exit_code = Some(summary.exit_code());
                    break;
                }
                _ => {}
            }
        }
        let _ = front.commands.send(Command::Shutdown);
        drop(front);
        if let Err(e) = engine.await {
            eprintln!("grove server: run {run_id}: the engine failed: {e}");
        }
        let exit_code = exit_code.unwrap_or(1);
        eprintln!("grove server: run {run_id} ended (exit code {exit_code})");
        let mut state = self.lock();
        if let Some(run) = state.runs.get(&run_id) {
            run.ended.send_replace(Some(exit_code));
        }
        state.idle_since = Instant::now();
    }

    fn with_run(&self, run_id: &str, f: impl FnOnce(&mut Hosted)) {
        if let Some(run) = self.lock().runs.get_mut(run_id) {
            f(run);
        }
    }

    /// The live runs, oldest first.
    pub fn runs(&self) -> Vec<RunRow> {
        let state = self.lock();
        let mut rows: Vec<RunRow> = state
            .runs
            .iter()
            .filter(|(_, run)| run.live())
            .map(|(id, run)| RunRow {
                run_id: id.clone(),
                plan: run.plan.clone(),
                started: run.started,
                tasks: TaskStatus::counts(&run.statuses),
                clients: run.clients,
            })
            .collect();
        rows.sort_by(|a, b| (a.started, &a.run_id).cmp(&(b.started, &b.run_id)));
        rows
    }

    /// Stops a live run (cancel, grace, kill).
    pub fn stop(&self, run_id: &str) -> Response {
        let state = self.lock();
        match state.runs.get(run_id).filter(|run| run.live()) {
            Some(run) => {
                eprintln!("grove server: stopping run {run_id}");
                let _ = run.commands.send(Command::Shutdown);
                Response::Stopping
            }
            None => Response::NotHosted,
        }
    }

    /// Every live run's agents: stopped (`Shutdown`), or killed at once (`KillNow`).
    pub fn stop_all(&self, command: Command) {
        for run in self.lock().runs.values().filter(|run| run.live()) {
            let _ = run.commands.send(command.clone());
        }
    }

    /// Waits for run `run_id` to end: its exit code, or `NotHosted`.
    pub async fn wait(&self, run_id: &str) -> Response {
        let ended = {
            let mut state = self.lock();
            match state.runs.get_mut(run_id) {
                Some(run) => {
                    run.clients += 1;
                    run.ended.subscribe()
                }
                None => return Response::NotHosted,
            }
        };
        // Counted off again even when the client goes away mid-wait (this future dropped).
        let _attached = Attached { host: self, run_id };
        let mut ended = ended;
        let exit_code = match ended.wait_for(Option::is_some).await {
            Ok(code) => Some((*code).unwrap_or(1)),
            Err(_) => None,
        };
        match exit_code {
            Some(exit_code) => Response::Ended { exit_code },
            None => Response::NotHosted,
        }
    }

    /// A client connected; the returned guard counts it off when dropped.
    pub fn client(&self) -> Client {
        self.lock().clients += 1;
        Client { host: self.clone() }
    }

    /// How long nothing has kept the server busy: zero while a run is live or a client is
    /// connected.
    pub fn idle_for(&self) -> Duration {
        let state = self.lock();
        if state.clients > 0 || state.runs.values().any(Hosted::live) {
            return Duration::ZERO;
        }
        state.idle_since.elapsed()
    }
}

/// A client waiting on a run, counted in `grove ps` while it waits.
struct Attached<'a> {
    host: &'a Host,
    run_id: &'a str,
}

impl Drop for Attached<'_> {
    fn drop(&mut self) {
        self.host.with_run(self.run_id, |run| run.clients -= 1);
    }
}

/// An open client connection.
pub struct Client {
    host: Host,
}

impl Drop for Client {
    fn drop(&mut self) {
        let mut state = self.host.lock();
        state.clients -= 1;
        state.idle_since = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bad_plan_is_failed_with_its_location_and_exit_2_and_hosts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        let plan = dir.path().join("plan.toml");
        std::fs::write(&plan, "name = \"p\"\n[[tasks]]\nname = 5\n").unwrap();
        let host = Host::new(dir.path());
        match host.start(&plan, dir.path()) {
            Response::Failed { message, exit_code } => {
                assert_eq!(exit_code, 2);
                let at = format!("{}:3:8:", plan.display());
                assert!(message.contains(&at), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(host.runs().is_empty());
        assert_eq!(host.wait("p").await, Response::NotHosted);
        assert_eq!(host.stop("p"), Response::NotHosted);
        // Nothing keeps it: idle since it began, and a client only while connected.
        let client = host.client();
        assert_eq!(host.idle_for(), Duration::ZERO);
        drop(client);
        assert!(!dir.path().join(".grove/runs").exists());
    }
}
