//! The six figures of the benchmark, each measured on grove and on its references where it has
//! some. Every function returns one sample per call; `main` repeats them and takes medians.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::fixture::{self, quote, Rng};
use crate::term::{self, Term};

pub const ROWS: u16 = 50;
pub const COLS: u16 = 200;
pub const AGENTS: usize = 8;
pub const IDLE_TASKS: usize = 20;
pub const IDLE_WINDOW: Duration = Duration::from_secs(10);
pub const WORKTREE_TASKS: usize = 20;
pub const LONG: Duration = Duration::from_secs(300);

/// Everything generated once for all runs.
pub struct Setup {
    pub grove: PathBuf,
    pub root: PathBuf,
    pub home: PathBuf,
    /// One 20 MB file of base64 lines per agent.
    pub data: Vec<PathBuf>,
    /// A repository with one small commit, for figures where the repository does not matter.
    pub small: PathBuf,
    /// 5,000 files, about 40 MB, for worktree setup.
    pub large: PathBuf,
    pub plans: PathBuf,
    /// XDG_RUNTIME_DIR for grove: where its server's socket goes.
    pub runtime: PathBuf,
}

impl Setup {
    pub fn create(grove: PathBuf, root: &Path, data_mb: usize) -> anyhow::Result<Setup> {
        let home = root.join("home");
        let plans = root.join("plans");
        let runtime = root.join("run");
        std::fs::create_dir_all(&home)?;
        std::fs::create_dir_all(&plans)?;
        std::fs::create_dir_all(&runtime)?;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))?;
        let mut rng = Rng::new(0x67726f7665);
        let mut data = Vec::new();
        for i in 0..AGENTS {
            let path = root.join(format!("output-{i}.txt"));
            fixture::write_base64(&path, data_mb * 1_000_000, &mut rng)?;
            data.push(path);
        }
        let small = root.join("small");
        fixture::repo(&small, &home, &[], &mut rng)?;
        let large = root.join("large");
        let files: Vec<(String, usize)> = (0..5000)
            .map(|i| (format!("src/m{:02}/file{i:04}.txt", i / 100), 8000))
            .collect();
        fixture::repo(&large, &home, &files, &mut rng)?;
        Ok(Setup {
            grove,
            root: root.to_path_buf(),
            home,
            data,
            small,
            large,
            plans,
            runtime,
        })
    }

    /// `grove run PLAN [extra]` in a 200x50 terminal, in `repo`.
    fn grove(&self, repo: &Path, plan: &Path, extra: &[&str]) -> anyhow::Result<Term> {
        let plan = plan.display().to_string();
        let mut args = vec!["run", plan.as_str()];
        args.extend_from_slice(extra);
        self.grove_term(repo, &args)
    }

    /// `grove ARGS` in a 200x50 terminal, in `repo`.
    pub fn grove_term(&self, repo: &Path, args: &[&str]) -> anyhow::Result<Term> {
        let grove = self.grove.display().to_string();
        let mut argv = vec![grove.as_str()];
        argv.extend_from_slice(args);
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Term::spawn(&argv, repo, &env, ROWS, COLS)
    }

    /// The environment of every grove the benchmark starts: no user or system configuration;
    /// the grove server's socket in a folder of the benchmark's own, and a server that leaves
    /// soon after its runs have ended.
    pub fn env(&self) -> [(&'static str, String); 5] {
        let home = self.home.display().to_string();
        [
            ("HOME", home.clone()),
            ("XDG_CONFIG_HOME", home),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("XDG_RUNTIME_DIR", self.runtime.display().to_string()),
            ("GROVE_SERVER_IDLE", "1s".into()),
        ]
    }

    pub fn cat_tasks(&self) -> Vec<(String, String)> {
        self.data
            .iter()
            .enumerate()
            .map(|(i, f)| (format!("cat-{i}"), format!("cat {}", quote(f))))
            .collect()
    }
}

/// One run of figure 1 (and 3) on one tool: wall time, and peak RSS where measured.
pub struct Throughput {
    pub wall: Duration,
    pub peak_rss: Option<u64>,
    /// The grove server's part of `peak_rss`, for grove.
    pub server_rss: Option<u64>,
}

/// grove with 8 `cat` tasks and the dashboard showing all 8 panes, until it exits by itself
/// (`--exit-when-done`): every agent ended, its output parsed, committed and recorded. The run
/// is in the grove server, the dashboard its client: peak RSS is the two's.
pub fn grove_throughput(s: &Setup) -> anyhow::Result<Throughput> {
    let plan = fixture::plan(&s.plans, "throughput", AGENTS, &s.cat_tasks())?;
    let term = s.grove(&s.small, &plan, &["--exit-when-done"])?;
    let pid = term.pid();
    let mut client = 0;
    let mut servers: HashMap<i32, u64> = HashMap::new();
    let mut sample_servers = || {
        for server in s.servers() {
            let peak = servers.entry(server).or_default();
            *peak = (*peak).max(term::peak_rss(server).unwrap_or(0));
        }
    };
    let (end, code) = term.wait_exit(LONG, Duration::from_millis(10), || {
        client = client.max(term::peak_rss(pid).unwrap_or(0));
        sample_servers();
    })?;
    // The server stays a moment after its run: its peak is read once more.
    sample_servers();
    if code != 0 {
        bail!("grove exited with {code}:\n{}", term.text());
    }
    s.clean(&s.small)?;
    let server: u64 = servers.values().sum();
    Ok(Throughput {
        wall: end - term.started(),
        peak_rss: Some(client + server),
        server_rss: Some(server),
    })
}

/// The same 8 commands, each under `script` (a bare PTY whose output goes nowhere), at once.
pub fn bare_pty_throughput(s: &Setup) -> anyhow::Result<Throughput> {
    let mut script = String::new();
    for f in &s.data {
        script.push_str(&format!(
            "script -qfc \"cat {}\" /dev/null > /dev/null &\n",
            quote(f)
        ));
    }
    script.push_str("wait\n");
    let start = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .stdin(Stdio::null())
        .status()
        .context("cannot run sh")?;
    let wall = start.elapsed();
    if !status.success() {
        bail!("the bare-PTY reference failed: {status}");
    }
    Ok(Throughput {
        wall,
        peak_rss: None,
        server_rss: None,
    })
}

/// tmux in the same 200x50 terminal, 8 tiled panes, one `cat` each; the client exits when the
/// last pane has closed. Peak RSS is the server's plus the client's.
pub fn tmux_throughput(s: &Setup, run: usize) -> anyhow::Result<Throughput> {
    let socket = format!("grove-bench-{}-{run}", std::process::id());
    let mut driver = String::new();
    for f in &s.data[1..] {
        driver.push_str(&format!(
            "tmux split-window -d \"cat {}\"\ntmux select-layout tiled > /dev/null\n",
            quote(f)
        ));
    }
    driver.push_str(&format!("exec cat {}\n", quote(&s.data[0])));
    let driver_path = s.root.join("tmux-driver.sh");
    std::fs::write(&driver_path, driver)?;
    let tmpdir = s.root.join("tmux");
    std::fs::create_dir_all(&tmpdir)?;
    let command = format!("sh {}", quote(&driver_path));
    let argv = [
        "tmux",
        "-L",
        &socket,
        "-f",
        "/dev/null",
        "new-session",
        command.as_str(),
    ];
    let tmpdir_s = tmpdir.display().to_string();
    let term = Term::spawn(
        &argv,
        &s.root,
        &[("TMUX_TMPDIR", tmpdir_s.as_str())],
        ROWS,
        COLS,
    )?;
    let mut peaks: HashMap<i32, u64> = HashMap::new();
    let mut last_scan = Instant::now() - Duration::from_secs(1);
    let mut pids = Vec::new();
    let (end, _) = term.wait_exit(LONG, Duration::from_millis(10), || {
        // Finding the server means reading every /proc entry; not on every tick.
        if last_scan.elapsed() > Duration::from_millis(200) {
            pids = term::pids_with_arg(&socket);
            last_scan = Instant::now();
        }
        for &pid in &pids {
            if let Some(rss) = term::peak_rss(pid) {
                let peak = peaks.entry(pid).or_default();
                *peak = (*peak).max(rss);
            }
        }
    })?;
    Ok(Throughput {
        wall: end - term.started(),
        peak_rss: Some(peaks.values().sum()),
        server_rss: None,
    })
}

/// mprocs with the 8 commands; it does not exit by itself, so the run ends when its last `cat`
/// child has exited.
pub fn mprocs_throughput(s: &Setup, mprocs: &Path) -> anyhow::Result<Throughput> {
    let mut config = String::from("procs:\n");
    for (i, f) in s.data.iter().enumerate() {
        config.push_str(&format!(
            "  cat-{i}:\n    cmd: [\"cat\", {}]\n",
            serde_json::to_string(&f.display().to_string())?
        ));
    }
    let config_path = s.root.join("mprocs.yaml");
    std::fs::write(&config_path, config)?;
    let mprocs = mprocs.display().to_string();
    let config_s = config_path.display().to_string();
    let mut term = Term::spawn(&[&mprocs, "--config", &config_s], &s.root, &[], ROWS, COLS)?;
    let pid = term.pid();
    let mut peak = 0;
    let mut seen = false;
    let deadline = Instant::now() + LONG;
    let end = loop {
        peak = peak.max(term::peak_rss(pid).unwrap_or(0));
        let running = term::children_named(pid, "cat");
        if running > 0 {
            seen = true;
        } else if seen {
            break Instant::now();
        }
        if Instant::now() > deadline || term.exited() {
            bail!("mprocs did not run its commands:\n{}", term.text());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    term.send(b"q")?;
    term.stop(Duration::from_secs(5));
    Ok(Throughput {
        wall: end - term.started(),
        peak_rss: Some(peak),
        server_rss: None,
    })
}

/// `tasks` agents running `command` (a sleep), all at once.
pub fn sleeping_plan(
    s: &Setup,
    name: &str,
    tasks: usize,
    command: &str,
) -> anyhow::Result<PathBuf> {
    let list: Vec<(String, String)> = (0..tasks)
        .map(|i| (format!("{name}-{i}"), command.to_string()))
        .collect();
    fixture::plan(&s.plans, name, tasks, &list)
}

/// Figure 2: grove's CPU time (the dashboard's and the server's) over `IDLE_WINDOW` with 20
/// sleeping agents on screen.
pub fn idle_cpu(s: &Setup) -> anyhow::Result<f64> {
    let plan = sleeping_plan(s, "idle", IDLE_TASKS, "sleep 60")?;
    let mut term = s.grove(&s.small, &plan, &[])?;
    term.until_text(Duration::from_secs(30), &format!("{IDLE_TASKS} running"))?;
    // Let the first frames, pane resizes and state changes settle.
    std::thread::sleep(Duration::from_secs(1));
    // The dashboard and the grove server its run is in.
    let mut pids = s.servers();
    pids.push(term.pid());
    let cpu = || -> anyhow::Result<f64> {
        pids.iter()
            .map(|&pid| term::cpu_seconds(pid).context("no /proc stat for grove"))
            .sum()
    };
    let before = cpu()?;
    std::thread::sleep(IDLE_WINDOW);
    let after = cpu()?;
    term.stop(Duration::from_secs(30));
    drop(term);
    s.clean(&s.small)?;
    Ok(after - before)
}

/// Figure 4, grove: launch until the audit log has a `worktree` event (written once the
/// checkout is complete) for each of 20 tasks.
pub fn grove_worktrees(s: &Setup) -> anyhow::Result<Duration> {
    let tasks: Vec<(String, String)> = (0..WORKTREE_TASKS)
        .map(|i| (format!("wt-{i}"), "true".to_string()))
        .collect();
    let plan = fixture::plan(&s.plans, "worktrees", WORKTREE_TASKS, &tasks)?;
    let term = s.grove(&s.large, &plan, &["--exit-when-done"])?;
    let runs = s.large.join(".grove/runs");
    let deadline = Instant::now() + LONG;
    let done = loop {
        let created = std::fs::read_dir(&runs)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|run| std::fs::read_to_string(run.path().join("audit.log")).ok())
            .map(|log| log.matches("\"event\":\"worktree\"").count())
            .sum::<usize>();
        if created >= WORKTREE_TASKS {
            break Instant::now();
        }
        if term.exited() || Instant::now() > deadline {
            bail!(
                "grove ended before creating {WORKTREE_TASKS} worktrees:\n{}",
                term.text()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let (_, code) = term.wait_exit(LONG, Duration::from_millis(50), || ())?;
    if code != 0 {
        bail!("grove exited with {code}:\n{}", term.text());
    }
    s.clean(&s.large)?;
    Ok(done - term.started())
}

/// Figure 4, reference: `git worktree add` 20 times in a row on the same repository.
pub fn git_worktrees(s: &Setup, run: usize) -> anyhow::Result<Duration> {
    let dir = s.root.join("loop-worktrees");
    let start = Instant::now();
    for i in 0..WORKTREE_TASKS {
        let path = dir.join(i.to_string()).display().to_string();
        let branch = format!("loop-{run}-{i}");
        fixture::git(
            &s.large,
            &s.home,
            &["worktree", "add", "-q", "-b", &branch, &path, "HEAD"],
        )?;
    }
    let elapsed = start.elapsed();
    std::fs::remove_dir_all(&dir)?;
    fixture::git(&s.large, &s.home, &["worktree", "prune"])?;
    Ok(elapsed)
}

/// Figure 5: launch to the first frame of the dashboard (its status line) for 20 tasks.
pub fn startup(s: &Setup) -> anyhow::Result<Duration> {
    let plan = sleeping_plan(s, "startup", IDLE_TASKS, "sleep 60")?;
    let mut term = s.grove(&s.small, &plan, &[])?;
    let shown = term.until_text(Duration::from_secs(30), "grove run startup-")?;
    let elapsed = shown - term.started();
    term.stop(Duration::from_secs(30));
    drop(term);
    s.clean(&s.small)?;
    Ok(elapsed)
}

/// Characters for typing: none of them occurs in base64, so an echo cannot be confused with
/// the other agents' output.
const KEYS: &[u8] = b"!#%&*(),;:<>?@[]^_{}|";

/// Figure 6: attached to a `cat` agent while 7 others print without pause, the time from
/// writing each key to seeing it echoed on the emulated screen. Returns one sample per key.
pub fn typing(s: &Setup, lines: usize, keys_per_line: usize) -> anyhow::Result<Vec<Duration>> {
    let mut tasks = vec![("echo".to_string(), "cat".to_string())];
    for (i, f) in s.data.iter().enumerate().skip(1) {
        tasks.push((
            format!("load-{i}"),
            format!("while :; do cat {}; done", quote(f)),
        ));
    }
    let plan = fixture::plan(&s.plans, "typing", AGENTS, &tasks)?;
    let mut term = s.grove(&s.small, &plan, &[])?;
    let wait = Duration::from_secs(30);
    term.until_text(wait, &format!("{AGENTS} running"))?;
    std::thread::sleep(Duration::from_millis(500));
    // The first task is selected; `i` attaches to it.
    term.until(
        wait,
        |t| t.send(b"i").map(drop),
        |_| |s: &vt100::Screen| s.contents().contains("ATTACHED"),
    )?;
    let mut rng = Rng::new(0x6b657973);
    let mut samples = Vec::new();
    for _ in 0..lines {
        let mut typed = String::new();
        for k in 0..keys_per_line {
            let key = if k == 0 {
                b'~'
            } else {
                KEYS[(rng.next() % KEYS.len() as u64) as usize]
            };
            typed.push(char::from(key));
            let needle = typed.clone();
            let mut sent = None;
            let seen = term.until(
                wait,
                |t| {
                    sent = Some(t.send(&[key])?);
                    Ok(())
                },
                move |screen| {
                    let before = screen.contents().matches(needle.as_str()).count();
                    move |s: &vt100::Screen| s.contents().matches(needle.as_str()).count() > before
                },
            )?;
            if let Some(sent) = sent {
                samples.push(seen.saturating_duration_since(sent));
            }
            // Keys at irregular intervals, so they do not fall into step with frames.
            std::thread::sleep(Duration::from_millis(30 + rng.next() % 60));
        }
        term.send(b"\r")?;
        std::thread::sleep(Duration::from_millis(150));
    }
    // Ctrl-] detaches; then grove is stopped like any interrupted run.
    term.send(&[0x1d])?;
    term.stop(Duration::from_secs(30));
    drop(term);
    s.clean(&s.small)?;
    Ok(samples)
}
