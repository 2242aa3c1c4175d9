//! Memory: sizes as plans write them, the machine's available memory (for `min_free_memory`),
//! and the per-attempt bound of `max_memory`: a cgroup child where grove may create one (v2, or
//! the v1 memory hierarchy), else `RLIMIT_DATA` per process.

use std::path::{Path, PathBuf};

const UNITS: [(&str, u64); 5] = [
    ("", 1),
    ("K", 1 << 10),
    ("M", 1 << 20),
    ("G", 1 << 30),
    ("T", 1 << 40),
];

/// `"4G"`, `"512M"`, `"1.5GiB"`, `"2048"` (bytes): binary units, an optional `B`/`iB`.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (t[..split].trim(), t[split..].trim().to_ascii_uppercase());
    let factor = UNITS.iter().find(|(u, _)| *u == unit)?.1;
    let value: f64 = number.parse().ok()?;
    let bytes = value * factor as f64;
    (value.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// `1.2 GiB`, `512 MiB`, `2 GiB`: the largest unit that gives at least 1, one decimal where it
/// is not a whole number.
pub fn format_size(bytes: u64) -> String {
    let (unit, factor) = [("TiB", 1u64 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)]
        .into_iter()
        .find(|(_, f)| bytes >= *f)
        .unwrap_or(("KiB", 1 << 10));
    let value = bytes as f64 / factor as f64;
    if (value - value.round()).abs() < 0.05 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

/// MemAvailable from /proc/meminfo: what the kernel estimates can be had without swapping.
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Which cgroup hierarchy a limit lives in; the two name their files differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

impl Version {
    fn limit_file(self) -> &'static str {
        match self {
            Version::V1 => "memory.limit_in_bytes",
            Version::V2 => "memory.max",
        }
    }
    /// Where the kernel counts its OOM kills (`oom_kill N`).
    fn events_file(self) -> &'static str {
        match self {
            Version::V1 => "memory.oom_control",
            Version::V2 => "memory.events",
        }
    }
}

/// A cgroup grove made for one attempt, with its memory limit set. Every process of the attempt
/// joins it (the sandbox wrapper writes its pid into `cgroup.procs` before exec); the limit
/// covers the whole tree, and the kernel kills in it when it is reached.
#[derive(Debug)]
pub struct Cgroup {
    pub path: PathBuf,
    version: Version,
}

impl Cgroup {
    /// A child named `name` of the cgroup grove runs in, limited to `limit` bytes, when grove
    /// may create one there: cgroup v2 whose memory controller is enabled for the children of
    /// grove's cgroup (a delegated subtree), or the v1 memory hierarchy where it is writable
    /// (root). None: no such place, and `max_memory` falls back to `RLIMIT_DATA`.
    pub fn create(name: &str, limit: u64) -> Option<Cgroup> {
        let (dir, version) = own_memory_cgroup()?;
        let path = dir.join(name);
        std::fs::create_dir(&path).ok()?;
        let cgroup = Cgroup { path, version };
        let limited = cgroup.write(version.limit_file(), &limit.to_string());
        if limited.is_err() {
            cgroup.remove();
            return None;
        }
        // Swap would let the tree grow past the limit instead of being stopped at it; the
        // files exist only where swap is accounted, so failing to write them is fine.
        let _ = match version {
            Version::V1 => cgroup.write("memory.memsw.limit_in_bytes", &limit.to_string()),
            Version::V2 => cgroup.write("memory.swap.max", "0"),
        };
        if version == Version::V2 {
            // The whole tree goes at once, not one process chosen from it.
            let _ = cgroup.write("memory.oom.group", "1");
        }
        Some(cgroup)
    }

    fn write(&self, file: &str, value: &str) -> std::io::Result<()> {
        std::fs::write(self.path.join(file), value)
    }

    /// How many processes the kernel killed in it for lack of memory so far.
    pub fn oom_kills(&self) -> u64 {
        let text = std::fs::read_to_string(self.path.join(self.version.events_file()));
        text.ok().and_then(|t| oom_kill_count(&t)).unwrap_or(0)
    }

    /// Kills what is left in it and removes it.
    pub fn remove(&self) {
        if self.version == Version::V2 && self.write("cgroup.kill", "1").is_ok() {
            wait_empty(&self.path);
        } else {
            for pid in members(&self.path) {
                // SAFETY: kill has no memory-safety preconditions; members are real pids > 0.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            wait_empty(&self.path);
        }
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// The `oom_kill N` line of memory.events (v2) or memory.oom_control (v1).
fn oom_kill_count(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
}

fn members(dir: &Path) -> Vec<i32> {
    let text = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.trim().parse().ok())
        .filter(|&p| p > 0)
        .collect()
}

/// Waits (briefly, bounded) until the killed processes have left the cgroup.
fn wait_empty(dir: &Path) {
    for _ in 0..100 {
        if members(dir).is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The memory cgroup grove runs in, when grove can make children with limits there.
fn own_memory_cgroup() -> Option<(PathBuf, Version)> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let writable = |dir: &Path| {
        let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok();
        // SAFETY: access reads a NUL-terminated path that lives for the call.
        c.is_some_and(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0)
    };
    for (fs, wanted, version) in [
        ("cgroup2", "", Version::V2),
        ("cgroup", "memory", Version::V1),
    ] {
        let Some(mount) = cgroup_mount(&mounts, fs, wanted) else {
            continue;
        };
        let Some(path) = own_path(&own, version) else {
            continue;
        };
        let dir = mount.join(path.trim_start_matches('/'));
        let ready = match version {
            // Children get a memory.max only when the controller is on for them.
            Version::V2 => std::fs::read_to_string(dir.join("cgroup.subtree_control"))
                .is_ok_and(|s| s.split_whitespace().any(|c| c == "memory")),
            Version::V1 => true,
        };
        if ready && writable(&dir) {
            return Some((dir, version));
        }
    }
    None
}

/// Where a cgroup file system of type `fs` is mounted (for v1: the one with `option`).
fn cgroup_mount(mountinfo: &str, fs: &str, option: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut right = right.split_whitespace();
        let (kind, _source, options) = (right.next()?, right.next()?, right.next()?);
        let matches = kind == fs && (option.is_empty() || options.split(',').any(|o| o == option));
        matches.then(|| PathBuf::from(left.split_whitespace().nth(4).unwrap_or("/")))
    })
}

/// Grove's own cgroup path in the hierarchy of `version`, from /proc/self/cgroup.
fn own_path(text: &str, version: Version) -> Option<String> {
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let found = match version {
            Version::V2 => id == "0" && controllers.is_empty(),
            Version::V1 => controllers.split(',').any(|c| c == "memory"),
        };
        found.then(|| path.to_string())
    })
}

/// Sets RLIMIT_DATA (in the sandbox wrapper, before exec): every process of the tree inherits
/// it, each limited on its own.
pub fn limit_data(bytes: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: setrlimit reads one rlimit struct that lives for the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_plans_write_them() {
        assert_eq!(parse_size("4G"), Some(4 << 30));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("1.5GiB"), Some(3 << 29));
        assert_eq!(parse_size("2048"), Some(2048));
        assert_eq!(parse_size("64 kB"), Some(64 << 10));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("4X"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn sizes_are_shown_in_binary_units() {
        assert_eq!(format_size(2 << 30), "2 GiB");
        assert_eq!(format_size(1288490188), "1.2 GiB");
        assert_eq!(format_size(300 << 20), "300 MiB");
    }

    #[test]
    fn cgroup_files_are_read_for_oom_kills_and_places() {
        assert_eq!(
            oom_kill_count("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n"),
            Some(2)
        );
        assert_eq!(
            oom_kill_count("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"),
            Some(1)
        );
        let own = "4:memory:/a/b\n1:cpu:/\n0::/user.slice/x.scope\n";
        assert_eq!(own_path(own, Version::V1).as_deref(), Some("/a/b"));
        assert_eq!(
            own_path(own, Version::V2).as_deref(),
            Some("/user.slice/x.scope")
        );
        let mounts = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
                      35 31 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
                      40 31 0:36 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup_mount(mounts, "cgroup", "memory"),
            Some(PathBuf::from("/sys/fs/cgroup/memory"))
        );
        assert_eq!(
            cgroup_mount(mounts, "cgroup2", ""),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
    }
}
