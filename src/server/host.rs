//! The runs a server hosts: each started from a client's request (a plan, or a run to resume),
//! its `FrontEnd` consumed here (the engine keeps the journal and results.json) and passed on to
//! the attached clients through the run's `Hub`, stopped on request, and its exit code kept for
//! those who wait on it. A finished run's engine stays up while a client is attached (a
//! dashboard may still merge); it is shut down when the last one leaves. Also what tells the
//! server it may exit: no run left and no client for the idle time, or, once told to stop
//! (SIGTERM), every run closed and its clients gone (or given [`CLIENTS_GRACE`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc::UnboundedSender, watch};
use tokio::task::JoinHandle;

use super::hub::Hub;
use super::messages::{Response, RunRow};
use crate::engine::api::{Command, Event, FrontEnd, RunInfo, TaskStatus};
use crate::engine::{self, RunRequest};
use crate::environment::Environment;
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
    /// Set when the server was told to stop (SIGTERM, SIGINT): what its runs were sent, and what
    /// a run hosted from now on is sent at once.
    stopping: Option<Command>,
}

/// How long a stopping server whose runs have all closed waits for its clients to take their
/// last frames and leave.
pub const CLIENTS_GRACE: Duration = Duration::from_secs(5);

struct Hosted {
    info: RunInfo,
    commands: UnboundedSender<Command>,
    statuses: Vec<TaskStatus>,
    /// Clients waiting on it or attached to it.
    clients: usize,
    /// Clients attached to it (dashboards, headless clients).
    attached: usize,
    hub: Arc<Hub>,
    /// Set once every task has ended (`RunFinished`): the run's exit code.
    ended: watch::Sender<Option<i32>>,
    /// Whether its engine still runs (it takes commands: a finished run's merges).
    open: bool,
    /// Set when it no longer is.
    closed: watch::Sender<bool>,
}

impl Hosted {
    fn live(&self) -> bool {
        self.ended.borrow().is_none()
    }

    fn shut_down_if_finished(&self) {
        if self.attached == 0 && !self.live() && self.open {
            let _ = self.commands.send(Command::Shutdown);
        }
    }
}

/// What starting a run answers, and the client's attachment when it asked to attach.
pub type Begun = (Response, Option<Attachment>);

/// A client attached to a run: what it streams from and commands; counted off when dropped.
pub struct Attachment {
    pub info: RunInfo,
    pub hub: Arc<Hub>,
    pub commands: UnboundedSender<Command>,
    host: Host,
}

impl Attachment {
    /// Counts the client off; when that closes the run (it had finished and this was its last
    /// client), waits until its engine has ended.
    pub async fn leave(self) {
        let run_id = self.info.run_id.clone();
        let host = self.host.clone();
        let closed = host
            .lock()
            .runs
            .get(&run_id)
            .map(|run| run.closed.subscribe());
        drop(self);
        let closing = host
            .lock()
            .runs
            .get(&run_id)
            .is_some_and(|run| run.attached == 0 && !run.live());
        if let (true, Some(mut closed)) = (closing, closed) {
            let _ = closed.wait_for(|closed| *closed).await;
        }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        let run_id = self.info.run_id.clone();
        self.host.with_run(&run_id, |run| {
            run.attached -= 1;
            run.clients -= 1;
            run.shut_down_if_finished();
        });
    }
}

impl Host {
    pub fn new(repo_root: &Path) -> Host {
        Host {
            state: Arc::new(Mutex::new(State {
                runs: BTreeMap::new(),
                clients: 0,
                idle_since: Instant::now(),
                stopping: None,
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
    pub fn start(&self, plan: &Path, start: &Path, attach: bool, env: Environment) -> Begun {
        self.host(attach, || {
            let config = crate::plan::UserConfig::load_in(&env)?;
            let plan = crate::plan::load_in_checked(plan, start, &config)?;
            if let Some(refusal) = crate::agent::headless_refusal(&plan) {
                return Err(crate::cli::exit::UsageError(refusal).into());
            }
            if let Some(warning) = crate::sandbox::unavailable_warning(&plan) {
                eprintln!("{warning}");
            }
            self.launch(plan, start, env)
        })
    }

    /// Starts an empty `adhoc` run from `start`, as `grove new` does.
    pub fn new_run(&self, start: &Path, attach: bool, env: Environment) -> Begun {
        self.host(attach, || {
            let config = crate::plan::UserConfig::load_in(&env)?;
            let plan = crate::plan::grow::adhoc(start, &config);
            self.launch(plan, start, env)
        })
    }

    /// Starts `plan` from `start` in this server's repository (refused in another one).
    fn launch(
        &self,
        plan: crate::plan::Plan,
        start: &Path,
        env: Environment,
    ) -> anyhow::Result<(FrontEnd, JoinHandle<()>)> {
        let target = crate::plan::resolve_repo(&plan, start)?;
        self.check_repo(&target.root)?;
        Ok(engine::start(RunRequest {
            plan,
            repo: target,
            pane_size: (DEFAULT_ROWS, DEFAULT_COLS),
            env,
        })?)
    }

    fn check_repo(&self, root: &Path) -> anyhow::Result<()> {
        if root.canonicalize().ok() != self.repo_root.canonicalize().ok() {
            return Err(crate::cli::exit::UsageError(format!(
                "the plan runs in {}, not in this server's repository {}",
                root.display(),
                self.repo_root.display()
            ))
            .into());
        }
        Ok(())
    }

    /// Reopens finished run `run_id` for one follow-up, as `grove follow-up` does.
    pub fn follow_up(
        &self,
        run_id: &str,
        task: &str,
        prompt: &str,
        attach: bool,
        env: Environment,
    ) -> Begun {
        self.host(attach, || {
            engine::follow_up(&self.repo_root, run_id, task, prompt, env)
                .map_err(anyhow::Error::from)
        })
    }

    /// Continues run `run_id` from its journal, as `grove resume` does.
    pub fn resume(&self, run_id: &str, attach: bool, env: Environment) -> Begun {
        self.host(attach, || {
            engine::resume(&self.repo_root, run_id, env).map_err(anyhow::Error::from)
        })
    }

    /// Starts a run with `start` and hosts it; refused without starting while the server stops.
    fn host(
        &self,
        attach: bool,
        start: impl FnOnce() -> anyhow::Result<(FrontEnd, JoinHandle<()>)>,
    ) -> Begun {
        if self.lock().stopping.is_some() {
            let message = "the grove server is stopping (it got SIGTERM or SIGINT); \
                           try again once it has exited"
                .to_string();
            eprintln!("grove server: a run did not start: {message}");
            return (
                Response::Failed {
                    message,
                    exit_code: 1,
                },
                None,
            );
        }
        let (front, engine) = match start() {
            Ok(started) => started,
            Err(e) => {
                let (exit_code, message) = crate::cli::exit::exit_code_and_message(&e);
                eprintln!("grove server: a run did not start: {message}");
                return (Response::Failed { message, exit_code }, None);
            }
        };
        let run_id = front.info.run_id.clone();
        eprintln!("grove server: run {run_id} started");
        let (ended, _) = watch::channel(None);
        let hosted = Hosted {
            info: front.info.clone(),
            commands: front.commands.clone(),
            statuses: Vec::new(),
            clients: 0,
            attached: 0,
            hub: Arc::default(),
            ended,
            open: true,
            closed: watch::channel(false).0,
        };
        {
            let mut state = self.lock();
            // Told to stop while this run was starting: it stops too.
            if let Some(command) = &state.stopping {
                let _ = hosted.commands.send(command.clone());
            }
            state.runs.insert(run_id.clone(), hosted);
        }
        // Counted before the run can finish: it waits for this client.
        let attachment = match attach {
            true => self.attach(Some(&run_id)),
            false => None,
        };
        tokio::spawn(self.clone().follow(run_id.clone(), front, engine));
        (Response::Started { run_id }, attachment)
    }

    /// Consumes the run's events, passing them on to the attached clients, until its engine
    /// ends: at once when it finishes with nobody attached, else when the last client leaves
    /// (or the run is stopped).
    async fn follow(self, run_id: String, mut front: FrontEnd, engine: JoinHandle<()>) {
        let Some(hub) = self.lock().runs.get(&run_id).map(|run| run.hub.clone()) else {
            return;
        };
        while let Some(event) = front.events.recv().await {
            match &event {
                Event::TaskAdded { view, pane } => {
                    hub.add_task(view.clone(), pane);
                    self.with_run(&run_id, |run| {
                        run.statuses.push(view.status);
                        if !view.status.is_final() {
                            run.ended.send_replace(None);
                        }
                    });
                }
                Event::TaskChanged(view) => self.with_run(&run_id, |run| {
                    if let Some(status) = run.statuses.get_mut(view.id.index()) {
                        *status = view.status;
                    }
                    // A retry or a follow-up from a dashboard reopened the finished run.
                    if !view.status.is_final() {
                        run.ended.send_replace(None);
                    }
                }),
                Event::RecordWrite { text, .. } => eprintln!("grove server: {run_id}: {text}"),
                Event::RunFinished(summary) => {
                    let exit_code = summary.exit_code();
                    eprintln!("grove server: run {run_id} finished (exit code {exit_code})");
                    self.with_run(&run_id, |run| {
                        run.ended.send_replace(Some(exit_code));
                        run.shut_down_if_finished();
                    });
                }
                _ => {}
            }
            hub.event(event);
        }
        drop(front);
        if let Err(e) = engine.await {
            eprintln!("grove server: run {run_id}: the engine failed: {e}");
        }
        hub.close();
        eprintln!("grove server: run {run_id} closed");
        let mut state = self.lock();
        if let Some(run) = state.runs.get_mut(&run_id) {
            run.open = false;
            run.closed.send_replace(true);
            // An engine that ended without finishing (it failed) is a failed run.
            if run.live() {
                run.ended.send_replace(Some(1));
            }
        }
        state.idle_since = Instant::now();
    }

    /// Attaches a client to run `run_id`, or to the newest live run when `None` (else the
    /// newest one still open).
    pub fn attach(&self, run_id: Option<&str>) -> Option<Attachment> {
        let mut state = self.lock();
        let chosen = match run_id {
            Some(id) => state
                .runs
                .get(id)
                .filter(|run| run.open)
                .map(|_| id.to_string()),
            None => {
                let newest = |live: bool| {
                    state
                        .runs
                        .iter()
                        .filter(|(_, run)| run.open && run.live() == live)
                        .max_by_key(|(id, run)| (run.info.started_at, (*id).clone()))
                        .map(|(id, _)| id.clone())
                };
                newest(true).or_else(|| newest(false))
            }
        };
        let run = chosen.and_then(|id| state.runs.get_mut(&id))?;
        run.attached += 1;
        run.clients += 1;
        Some(Attachment {
            info: run.info.clone(),
            hub: run.hub.clone(),
            commands: run.commands.clone(),
            host: self.clone(),
        })
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
                plan: run.info.plan_name.clone(),
                started: run.info.started_at,
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

    /// The server stops: every live run's agents stopped (`Shutdown`), or killed at once
    /// (`KillNow`), and so is any run that was starting; no run starts from now on.
    pub fn stop_all(&self, command: Command) {
        let mut state = self.lock();
        for run in state.runs.values().filter(|run| run.open) {
            let _ = run.commands.send(command.clone());
        }
        state.stopping = Some(command);
    }

    /// Whether a server told to stop is done: every run closed (its records written, its
    /// clients sent its end) and every client gone, or gone quiet for [`CLIENTS_GRACE`].
    pub fn stopped(&self) -> bool {
        let state = self.lock();
        state.stopping.is_some()
            && !state.runs.values().any(|run| run.open)
            && (state.clients == 0 || state.idle_since.elapsed() >= CLIENTS_GRACE)
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
        if state.clients > 0 || state.runs.values().any(|run| run.open) {
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
        match host
            .start(&plan, dir.path(), true, Environment::current())
            .0
        {
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
