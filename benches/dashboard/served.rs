//! The figures of runs hosted by the grove server (issue 13): started with `grove run --detach`,
//! watched by `grove attach` in the benchmark's terminal. The server's pid comes from its pid
//! file; each run is stopped with `grove stop` and the server, started by the benchmark's own
//! groves, is waited for until it leaves (`GROVE_SERVER_IDLE` is 1 s here). `Setup::clean` does
//! the same after every figure: a foreground `grove run` is a dashboard client of the server too.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::figures::{self, Setup, Throughput, AGENTS, IDLE_WINDOW, LONG};
use crate::fixture::{self, quote, Rng};
use crate::term;

/// Tasks of the attach and idle figures: as many as figure 2's.
const TASKS: usize = figures::IDLE_TASKS;
/// Lines each task of the attach figure prints: a full screen and a full scrollback (grove's
/// default `scrollback` is 2000 lines), and more.
const FULL_PANE_LINES: usize = 2200;

/// A run hosted by the repository's grove server.
pub struct Served {
    pub run_id: String,
    pub server: i32,
    repo: PathBuf,
}

impl Setup {
    /// `grove ARGS` in `repo`, with the benchmark's environment; its output, checked.
    fn grove_cli(&self, repo: &Path, args: &[&str]) -> anyhow::Result<Output> {
        let out = Command::new(&self.grove)
            .args(args)
            .current_dir(repo)
            .envs(self.env())
            .stdin(Stdio::null())
            .output()
            .context("cannot run grove")?;
        if !out.status.success() {
            bail!(
                "grove {args:?} failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(out)
    }

    /// `grove ps`, as text.
    fn ps(&self, repo: &Path) -> anyhow::Result<String> {
        let out = self.grove_cli(repo, &["ps"])?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Served {
    /// `grove run PLAN --detach` in `repo`: the run's id (from what it prints) and the server's
    /// pid (from its pid file).
    pub fn start(s: &Setup, repo: &Path, plan: &Path) -> anyhow::Result<Served> {
        let plan = plan.display().to_string();
        let out = s.grove_cli(repo, &["run", &plan, "--detach"])?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let run_id = stdout
            .lines()
            .find_map(|l| l.strip_prefix("grove: run "))
            .and_then(|rest| rest.split_whitespace().next())
            .with_context(|| format!("no run id in what run --detach printed:\n{stdout}"))?
            .to_string();
        let server = *s
            .servers()
            .first()
            .context("run --detach returned, but no grove server is live")?;
        Ok(Served {
            run_id,
            server,
            repo: repo.to_path_buf(),
        })
    }

    /// Waits until `grove ps` shows every one of the run's `tasks` running.
    pub fn until_running(&self, s: &Setup, tasks: usize) -> anyhow::Result<()> {
        let needle = format!("{tasks} running");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ps = s.ps(&self.repo)?;
            if ps
                .lines()
                .any(|l| l.contains(&self.run_id) && l.contains(&needle))
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the run's {tasks} tasks are not all running; grove ps says:\n{ps}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `grove attach RUN` in a 200x50 terminal.
    pub fn attach(&self, s: &Setup) -> anyhow::Result<term::Term> {
        s.grove_term(&self.repo, &["attach", &self.run_id])
    }

    /// Stops the run, waits for the server to leave, removes what the run left.
    pub fn finish(self, s: &Setup) -> anyhow::Result<()> {
        s.clean(&self.repo)
    }
}

impl Setup {
    /// The live grove servers (from their pid files in the benchmark's XDG_RUNTIME_DIR): all
    /// started by the benchmark's own groves.
    pub fn servers(&self) -> Vec<i32> {
        let Ok(entries) = std::fs::read_dir(self.runtime.join("grove")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "pid"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok()?.trim().parse().ok())
            .filter(|pid| term::alive(*pid))
            .collect()
    }

    /// Stops every live run of `repo`'s grove server (`grove stop`: a dashboard that detached
    /// left its agents running there), waits for the servers to leave (SIGKILL to one still
    /// there after a minute), then removes what grove left in `repo`.
    pub fn clean(&self, repo: &Path) -> anyhow::Result<()> {
        if !self.servers().is_empty() {
            let ps = self.ps(repo)?;
            let runs = repo.join(".grove/runs");
            let live = ps
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter(|id| !id.is_empty() && runs.join(id).is_dir());
            for run_id in live {
                // A run that ended meanwhile is not live: its stop is refused; nothing to do.
                let _ = self.grove_cli(repo, &["stop", run_id]);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let servers = self.servers();
            if servers.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                for pid in servers {
                    // SAFETY: kill has no memory-safety preconditions; the server is one the
                    // benchmark's groves started.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                bail!("the grove server did not leave after its runs were stopped");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        fixture::clean_grove(repo, &self.home)
    }
}

/// Figure 7: the 8 `cat` tasks of figure 1 in a run hosted by the server, a dashboard attached
/// to it (`grove attach`) in the 200x50 terminal: from `run --detach` until the dashboard shows
/// all 8 succeeded. Peak RSS is the server's plus the client's.
pub fn throughput(s: &Setup) -> anyhow::Result<Throughput> {
    let plan = fixture::plan(&s.plans, "served", AGENTS, &s.cat_tasks())?;
    let start = Instant::now();
    let served = Served::start(s, &s.small, &plan)?;
    let result = (|| {
        let mut client = served.attach(s)?;
        let end = client.until_text(LONG, &format!("{AGENTS} succeeded"))?;
        let server = term::peak_rss(served.server).unwrap_or(0);
        Ok(Throughput {
            wall: end - start,
            peak_rss: Some(server + term::peak_rss(client.pid()).unwrap_or(0)),
            server_rss: Some(server),
        })
    })();
    served.finish(s)?;
    result
}

/// Figure 8: a run of 20 tasks, each having printed a full screen and a full scrollback of
/// coloured lines, then sleeping: from starting `grove attach` until its screen shows the 20
/// tasks running. `attaches` samples on the same run.
pub fn attach(s: &Setup, attaches: usize) -> anyhow::Result<Vec<Duration>> {
    let full = s.root.join("full-pane.txt");
    if !full.exists() {
        fixture::write_coloured(&full, FULL_PANE_LINES, &mut Rng::new(0x66756c6c))?;
    }
    // The first frame shows every task and the focused pane's screen: the end of the output.
    let last_words = plain_words(&std::fs::read_to_string(&full)?);
    let tasks: Vec<(String, String)> = (0..TASKS)
        .map(|i| {
            (
                format!("full-{i}"),
                format!("cat {} && exec sleep 600", quote(&full)),
            )
        })
        .collect();
    let plan = fixture::plan(&s.plans, "full", TASKS, &tasks)?;
    let served = Served::start(s, &s.small, &plan)?;
    let result = (|| {
        served.until_running(s, TASKS)?;
        // Every agent's output is in its attempt log (written as it is read; agents may not
        // write outside their worktrees, so no marker files).
        let size = std::fs::metadata(&full)?.len();
        let agents = s
            .small
            .join(".grove/runs")
            .join(&served.run_id)
            .join("agents");
        let logged = |i: usize| {
            let log = agents.join(format!("full-{i}")).join("attempt-1.log");
            std::fs::metadata(log).is_ok_and(|m| m.len() >= size)
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !(0..TASKS).all(logged) {
            if Instant::now() > deadline {
                bail!("the {TASKS} tasks did not all print their output");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The server's panes parse what was read on display threads of their own: let them
        // finish before the first attach.
        std::thread::sleep(Duration::from_secs(1));
        let mut samples = Vec::new();
        for _ in 0..attaches {
            let mut client = served.attach(s)?;
            let running = format!("{TASKS} running");
            let words = last_words.clone();
            let shown = client.until(
                Duration::from_secs(30),
                |_| Ok(()),
                |_| {
                    move |screen: &vt100::Screen| {
                        let text = screen.contents();
                        text.contains(&running) && words.iter().any(|w| text.contains(w.as_str()))
                    }
                },
            )?;
            samples.push(shown - client.started());
            client.stop(Duration::from_secs(10));
        }
        Ok(samples)
    })();
    served.finish(s)?;
    result
}

/// The words of the last line of `text` without its escapes (`fixture::write_coloured`'s words
/// are 13 characters: long enough to be the pane's and no other).
fn plain_words(text: &str) -> Vec<String> {
    let last = text.lines().last().unwrap_or_default();
    last.split(['\x1b', ' '])
        .filter_map(|w| {
            let rest = w.strip_prefix('[')?;
            rest.trim_start_matches(|c: char| c.is_ascii_digit())
                .strip_prefix('m')
        })
        .filter(|w| w.len() == 13)
        .map(str::to_string)
        .collect()
}

/// Figures 9 and 10 from one run of 20 sleeping agents hosted by the server.
pub struct Idle {
    /// The server's resident memory with the 20 agents running, no client attached.
    pub server_rss: u64,
    /// The same with one dashboard attached, after the idle window.
    pub attached_rss: u64,
    /// Server and client CPU seconds over `IDLE_WINDOW`, the dashboard attached.
    pub cpu: f64,
}

/// Figures 9 and 10: 20 agents `sleep` in a run hosted by the server; its RSS once they all
/// run and have settled; then a dashboard attaches, settles, and the CPU time of the server and
/// the client over `IDLE_WINDOW` is measured.
pub fn idle(s: &Setup) -> anyhow::Result<Idle> {
    let plan = figures::sleeping_plan(s, "served-idle", TASKS, "sleep 120")?;
    let served = Served::start(s, &s.small, &plan)?;
    let result = (|| {
        served.until_running(s, TASKS)?;
        // Let the starts, their records and the first output settle.
        std::thread::sleep(Duration::from_secs(1));
        let server_rss = term::rss(served.server).context("no /proc status for the server")?;
        let mut client = served.attach(s)?;
        client.until_text(Duration::from_secs(30), &format!("{TASKS} running"))?;
        std::thread::sleep(Duration::from_secs(1));
        let cpu = || -> anyhow::Result<f64> {
            let server =
                term::cpu_seconds(served.server).context("no /proc stat for the server")?;
            let client = term::cpu_seconds(client.pid()).context("no /proc stat for the client")?;
            Ok(server + client)
        };
        let before = cpu()?;
        std::thread::sleep(IDLE_WINDOW);
        let after = cpu()?;
        let attached_rss = term::rss(served.server).unwrap_or(0);
        client.stop(Duration::from_secs(10));
        Ok(Idle {
            server_rss,
            attached_rss,
            cpu: after - before,
        })
    })();
    served.finish(s)?;
    result
}
