//! The dashboard benchmark (issue 7): `cargo bench --bench dashboard` builds grove in release
//! mode, generates its data in a temp dir, drives the real binary in a 200x50 pseudo-terminal
//! parsed by a terminal emulator, measures each figure several times and prints the medians
//! side by side with the references (bare PTYs, tmux, mprocs; those not installed are skipped).
//!
//! Options (after `--`): `--runs N` repetitions per figure (default 3; startup and attach run
//! 2N+1 times, typing ceil(N/2) times 30 keys), `--only LIST` a comma-separated subset of
//! throughput,idle,worktrees,startup,typing,served,attach,served-idle (memory comes with
//! throughput, the server's RSS with served-idle), `--data-mb N` size of each agent's output
//! file (default 20).

mod figures;
mod fixture;
mod served;
mod term;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use figures::Setup;

const FIGURES: [&str; 8] = [
    "throughput",
    "idle",
    "worktrees",
    "startup",
    "typing",
    "served",
    "attach",
    "served-idle",
];

struct Options {
    runs: usize,
    only: Vec<String>,
    data_mb: usize,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Options> {
        let mut opts = Options {
            runs: 3,
            only: FIGURES.iter().map(|s| s.to_string()).collect(),
            data_mb: 20,
        };
        while let Some(arg) = args.next() {
            let mut value =
                |name: &str| args.next().with_context(|| format!("{name} needs a value"));
            match arg.as_str() {
                // cargo bench passes this to every bench target.
                "--bench" => {}
                "--runs" => opts.runs = value("--runs")?.parse().context("--runs")?,
                "--data-mb" => opts.data_mb = value("--data-mb")?.parse().context("--data-mb")?,
                "--only" => {
                    let list = value("--only")?;
                    opts.only = list.split(',').map(str::to_string).collect();
                    if let Some(bad) = opts.only.iter().find(|f| !FIGURES.contains(&f.as_str())) {
                        bail!(
                            "--only: unknown figure '{bad}' (one of {})",
                            FIGURES.join(",")
                        );
                    }
                }
                other => bail!("unknown argument '{other}' (--runs N, --only LIST, --data-mb N)"),
            }
        }
        if opts.runs == 0 {
            bail!("--runs must be at least 1");
        }
        Ok(opts)
    }

    fn wants(&self, figure: &str) -> bool {
        self.only.iter().any(|f| f == figure)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Verdict {
    Pass,
    Fail,
    /// A reference shown for comparison, with no target of its own.
    Info,
    Skipped,
}

struct Row {
    figure: String,
    grove: String,
    reference: String,
    ratio: String,
    target: String,
    verdict: Verdict,
    note: String,
}

impl Row {
    /// A figure with a target of its own.
    fn checked(figure: &str, grove: String, target: &str, met: bool) -> Row {
        let mut row = Row::new(figure, grove, target);
        row.verdict = pass(met);
        row
    }

    fn new(figure: &str, grove: String, target: &str) -> Row {
        Row {
            figure: figure.to_string(),
            grove,
            reference: "-".into(),
            ratio: "-".into(),
            target: target.to_string(),
            verdict: Verdict::Info,
            note: String::new(),
        }
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn percentile(mut xs: Vec<f64>, p: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    if xs.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn mb(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1_000_000.0)
}

fn pass(ok: bool) -> Verdict {
    if ok {
        Verdict::Pass
    } else {
        Verdict::Fail
    }
}

/// A program on PATH.
fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn progress(text: &str) {
    eprintln!("  {text}");
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, m)| m.trim())
        .to_string();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    format!(
        "{cpus} CPUs ({model}), {:.1} GiB memory",
        mem_kb as f64 / (1024.0 * 1024.0)
    )
}

fn main() -> anyhow::Result<()> {
    let opts = Options::parse(std::env::args().skip(1))?;
    let grove = PathBuf::from(env!("CARGO_BIN_EXE_grove"));
    let started = Instant::now();
    eprintln!("grove dashboard benchmark: {}", machine());
    eprintln!("  grove: {}", grove.display());
    let root = tempfile::Builder::new().prefix("grove-bench-").tempdir()?;
    progress("generating data (8 output files, a repository of 5,000 files)");
    let setup = Setup::create(grove, root.path(), opts.data_mb)?;
    let mut rows = Vec::new();
    if opts.wants("throughput") {
        throughput(&setup, &opts, &mut rows)?;
    }
    if opts.wants("idle") {
        idle(&setup, &opts, &mut rows)?;
    }
    if opts.wants("worktrees") {
        worktrees(&setup, &opts, &mut rows)?;
    }
    if opts.wants("startup") {
        startup(&setup, &opts, &mut rows)?;
    }
    if opts.wants("typing") {
        typing(&setup, &opts, &mut rows)?;
    }
    if opts.wants("served") {
        served_throughput(&setup, &opts, &mut rows)?;
    }
    if opts.wants("attach") {
        attach(&setup, &opts, &mut rows)?;
    }
    if opts.wants("served-idle") {
        served_idle(&setup, &opts, &mut rows)?;
    }
    print_table(&rows, &opts, started.elapsed());
    Ok(())
}

fn throughput(s: &Setup, opts: &Options, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let tmux = which("tmux");
    let mprocs = which("mprocs");
    let (mut grove, mut grove_rss, mut bare, mut tm, mut tm_rss, mut mp, mut mp_rss) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut server_rss = vec![];
    for run in 0..opts.runs {
        progress(&format!("throughput run {}/{}", run + 1, opts.runs));
        // Interleaved, so a change in the machine's background load hits every tool alike.
        let g = figures::grove_throughput(s)?;
        grove.push(secs(g.wall));
        grove_rss.push(g.peak_rss.unwrap_or(0) as f64);
        server_rss.push(g.server_rss.unwrap_or(0) as f64);
        bare.push(secs(figures::bare_pty_throughput(s)?.wall));
        if tmux.is_some() {
            let t = figures::tmux_throughput(s, run)?;
            tm.push(secs(t.wall));
            tm_rss.push(t.peak_rss.unwrap_or(0) as f64);
        }
        if let Some(m) = &mprocs {
            let r = figures::mprocs_throughput(s, m)?;
            mp.push(secs(r.wall));
            mp_rss.push(r.peak_rss.unwrap_or(0) as f64);
        }
    }
    let g = median(grove);
    let b = median(bare);
    let figure = format!(
        "1 output throughput, {} x {} MB",
        figures::AGENTS,
        opts.data_mb
    );
    let mut row = Row::new(&figure, format!("{g:.2} s"), "<= 1.3x bare PTY");
    row.reference = format!("{b:.2} s bare PTY");
    row.ratio = format!("{:.2}x", g / b);
    row.verdict = pass(g / b <= 1.3);
    rows.push(row);
    let references = [
        ("tmux", tm, tmux.is_some()),
        ("mprocs", mp, mprocs.is_some()),
    ];
    for (name, times, installed) in references {
        let mut row = Row::new("  vs", format!("{g:.2} s"), "-");
        if installed {
            let r = median(times);
            row.reference = format!("{r:.2} s {name}");
            row.ratio = format!("{:.2}x", g / r);
        } else {
            row.reference = format!("{name}: not installed");
            row.verdict = Verdict::Skipped;
        }
        rows.push(row);
    }

    let rss = median(grove_rss);
    let mut row = Row::checked("3 peak RSS during (1)", mb(rss), "<= 64 MB", rss <= 64e6);
    row.note = format!("server {} + dashboard", mb(median(server_rss)));
    rows.push(row);
    let references = [
        ("tmux", tm_rss, tmux.is_some()),
        ("mprocs", mp_rss, mprocs.is_some()),
    ];
    for (name, peaks, installed) in references {
        let mut row = Row::new("  vs", mb(rss), "-");
        if installed {
            let r = median(peaks);
            row.reference = format!("{} {name}", mb(r));
            row.ratio = format!("{:.2}x", rss / r);
        } else {
            row.reference = format!("{name}: not installed");
            row.verdict = Verdict::Skipped;
        }
        rows.push(row);
    }
    Ok(())
}

fn idle(s: &Setup, opts: &Options, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let mut cpu = Vec::new();
    for run in 0..opts.runs {
        progress(&format!("idle run {}/{}", run + 1, opts.runs));
        cpu.push(figures::idle_cpu(s)?);
    }
    let c = median(cpu);
    let figure = format!(
        "2 idle CPU, {} agents, {} s",
        figures::IDLE_TASKS,
        figures::IDLE_WINDOW.as_secs()
    );
    rows.push(Row::checked(
        &figure,
        format!("{c:.3} s"),
        "<= 0.05 s",
        c <= 0.05,
    ));
    Ok(())
}

fn worktrees(s: &Setup, opts: &Options, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let (mut grove, mut git) = (Vec::new(), Vec::new());
    for run in 0..opts.runs {
        progress(&format!("worktree run {}/{}", run + 1, opts.runs));
        grove.push(secs(figures::grove_worktrees(s)?));
        git.push(secs(figures::git_worktrees(s, run)?));
    }
    let (g, r) = (median(grove), median(git));
    let figure = format!("4 worktree setup, {} tasks", figures::WORKTREE_TASKS);
    let mut row = Row::new(&figure, format!("{g:.2} s"), "<= 1.0x git loop");
    row.reference = format!("{r:.2} s git worktree add loop");
    row.ratio = format!("{:.2}x", g / r);
    row.verdict = pass(g / r <= 1.0);
    rows.push(row);
    Ok(())
}

fn startup(s: &Setup, opts: &Options, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let mut times = Vec::new();
    // Cheap, so twice as many runs.
    for run in 0..2 * opts.runs + 1 {
        progress(&format!("startup run {}/{}", run + 1, 2 * opts.runs + 1));
        times.push(secs(figures::startup(s)?) * 1000.0);
    }
    let t = median(times);
    rows.push(Row::checked(
        "5 startup to first frame",
        format!("{t:.0} ms"),
        "<= 100 ms",
        t <= 100.0,
    ));
    Ok(())
}

fn typing(s: &Setup, opts: &Options, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let mut samples = Vec::new();
    let runs = opts.runs.div_ceil(2);
    for run in 0..runs {
        progress(&format!("typing run {}/{runs}", run + 1));
        samples.extend(
            figures::typing(s, 3, 10)?
                .into_iter()
                .map(|d| secs(d) * 1000.0),
        );
    }
    let n = samples.len();
    let p90 = percentile(samples.clone(), 0.9);
    let t = median(samples);
    let mut row = Row::checked(
        "6 typing latency under load",
        format!("{t:.0} ms"),
        "<= 50 ms",
        t <= 50.0,
    );
    row.note = format!("median of {n} keys, p90 {p90:.0} ms");
    rows.push(row);
    Ok(())
}

fn served_throughput(s: &Setup, opts: &Options, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let (mut grove, mut rss, mut bare) = (vec![], vec![], vec![]);
    for run in 0..opts.runs {
        progress(&format!("served throughput run {}/{}", run + 1, opts.runs));
        let g = served::throughput(s)?;
        grove.push(secs(g.wall));
        rss.push(g.peak_rss.unwrap_or(0) as f64);
        bare.push(secs(figures::bare_pty_throughput(s)?.wall));
    }
    let (g, b) = (median(grove), median(bare));
    let figure = format!(
        "7 throughput via server + attach, {} x {} MB",
        figures::AGENTS,
        opts.data_mb
    );
    let mut row = Row::checked(
        &figure,
        format!("{g:.2} s"),
        "<= 1.3x bare PTY",
        g / b <= 1.3,
    );
    row.reference = format!("{b:.2} s bare PTY");
    row.ratio = format!("{:.2}x", g / b);
    row.note = format!("peak RSS server + dashboard {}", mb(median(rss)));
    rows.push(row);
    Ok(())
}

fn attach(s: &Setup, opts: &Options, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    progress(&format!(
        "attach: {} attaches to one run",
        2 * opts.runs + 1
    ));
    let times = served::attach(s, 2 * opts.runs + 1)?;
    let n = times.len();
    let times: Vec<f64> = times.into_iter().map(|d| secs(d) * 1000.0).collect();
    let max = times.iter().copied().fold(0.0, f64::max);
    let t = median(times);
    let mut row = Row::checked(
        "8 attach to 20 full panes, first frame",
        format!("{t:.0} ms"),
        "<= 150 ms",
        t <= 150.0,
    );
    row.note = format!("median of {n}, slowest {max:.0} ms");
    rows.push(row);
    Ok(())
}

fn served_idle(s: &Setup, opts: &Options, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let (mut cpu, mut rss, mut attached) = (vec![], vec![], vec![]);
    for run in 0..opts.runs {
        progress(&format!("served idle run {}/{}", run + 1, opts.runs));
        let idle = served::idle(s)?;
        cpu.push(idle.cpu);
        rss.push(idle.server_rss as f64);
        attached.push(idle.attached_rss as f64);
    }
    let c = median(cpu);
    let figure = format!(
        "9 idle CPU via server, {} agents, {} s",
        figures::IDLE_TASKS,
        figures::IDLE_WINDOW.as_secs()
    );
    let mut row = Row::checked(&figure, format!("{c:.3} s"), "<= 0.05 s", c <= 0.05);
    row.note = "server + attached client".into();
    rows.push(row);
    let r = median(rss);
    let figure = format!("10 server RSS, {} idle agents", figures::IDLE_TASKS);
    let mut row = Row::checked(&figure, mb(r), "<= 40 MB", r <= 40e6);
    row.note = format!("{} with a client attached", mb(median(attached)));
    rows.push(row);
    Ok(())
}

fn print_table(rows: &[Row], opts: &Options, elapsed: Duration) {
    let header = ["figure", "grove", "reference", "ratio", "target", "result"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let verdict = match r.verdict {
                Verdict::Pass => "pass",
                Verdict::Fail => "FAIL",
                Verdict::Info => "-",
                Verdict::Skipped => "skipped",
            };
            let verdict = if r.note.is_empty() {
                verdict.to_string()
            } else {
                format!("{verdict} ({})", r.note)
            };
            [
                r.figure.clone(),
                r.grove.clone(),
                r.reference.clone(),
                r.ratio.clone(),
                r.target.clone(),
                verdict,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: [&str; 6]| {
        let padded: Vec<String> = cols
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        format!("| {} |", padded.join(" | "))
    };
    println!();
    println!("{}", machine());
    println!(
        "medians of {} runs (startup and attach {}, typing {} runs x 30 keys); took {:.0} s",
        opts.runs,
        2 * opts.runs + 1,
        opts.runs.div_ceil(2),
        elapsed.as_secs_f64()
    );
    println!();
    println!("{}", line(header));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    println!("|-{}-|", rule.join("-|-"));
    for row in &cells {
        println!("{}", line(row.each_ref().map(String::as_str)));
    }
    let failed = rows.iter().filter(|r| r.verdict == Verdict::Fail).count();
    println!();
    println!(
        "{} of {} targets met",
        rows.iter().filter(|r| r.verdict == Verdict::Pass).count(),
        rows.iter()
            .filter(|r| matches!(r.verdict, Verdict::Pass | Verdict::Fail))
            .count()
    );
    if failed > 0 {
        println!("{failed} missed");
    }
}
