//! The wrapper (`grove sandbox-exec --spec FILE -- ARGV…`): applies a `Spec` to its own
//! process (cgroup, rlimit, network namespace, Landlock), then execs ARGV, which inherits all of
//! it, as does everything ARGV starts. It runs before grove starts any thread, as unshare of a
//! user namespace and Landlock before ABI 8 require.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use landlock::{
    Access, AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreated,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

use super::{memory, Spec};

/// The Landlock ABI grove's rules are written and tested against; newer kernels get exactly
/// these rights, older ones what they support of them.
const ABI_USED: ABI = ABI::V7;

/// Exit code when the sandbox could not be set up (the command never ran).
const SETUP_FAILED: i32 = 125;

/// Applies the spec at `spec_path`, then execs `argv`; returns only on failure, with the exit
/// code to leave with (the reason is on stderr, so in the pane and the attempt log).
pub fn run_wrapper(spec_path: &Path, argv: &[String]) -> i32 {
    let Some(program) = argv.first() else {
        eprintln!("grove sandbox: no command to run");
        return SETUP_FAILED;
    };
    if let Err(e) = confine(spec_path) {
        eprintln!("grove sandbox: {e}");
        return SETUP_FAILED;
    }
    let error = std::process::Command::new(program).args(&argv[1..]).exec();
    eprintln!("grove sandbox: cannot start '{program}': {error}");
    if error.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}

fn confine(spec_path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(spec_path)
        .map_err(|e| format!("cannot read {}: {e}", spec_path.display()))?;
    let spec: Spec = serde_json::from_slice(&bytes)
        .map_err(|e| format!("bad spec {}: {e}", spec_path.display()))?;
    if let Some(cgroup) = &spec.cgroup {
        std::fs::write(cgroup.join("cgroup.procs"), std::process::id().to_string())
            .map_err(|e| format!("cannot join cgroup {}: {e}", cgroup.display()))?;
    }
    if let Some(bytes) = spec.data_limit {
        memory::limit_data(bytes).map_err(|e| format!("cannot set RLIMIT_DATA: {e}"))?;
    }
    if spec.no_network {
        isolate_network()?;
    }
    if spec.landlock {
        landlock(&spec).map_err(|e| format!("cannot apply Landlock: {e}"))?;
    }
    Ok(())
}

fn landlock(spec: &Spec) -> Result<(), landlock::RulesetError> {
    let all = AccessFs::from_all(ABI_USED);
    let read = AccessFs::from_read(ABI_USED);
    let mut ruleset = Ruleset::default()
        .handle_access(all)?
        // Signals only within the sandbox: the agent cannot stop grove or other agents.
        .scope(Scope::Signal)?
        .create()?;
    let (readable, listed) = readable(&spec.read, &spec.hide);
    for path in readable {
        ruleset = allow(ruleset, &path, read)?;
    }
    for path in listed {
        ruleset = allow(ruleset, &path, AccessFs::ReadDir.into())?;
    }
    let mut write = spec.write.clone();
    write.extend(own_terminal());
    for path in &write {
        ruleset = allow(ruleset, path, all)?;
    }
    let status = ruleset.restrict_self()?;
    if status.ruleset == RulesetStatus::NotEnforced {
        eprintln!("grove sandbox: this kernel does not enforce Landlock; running unconfined");
    }
    Ok(())
}

/// Adds a rule for `path` (skipped when it does not exist); files get only file rights.
fn allow(
    ruleset: RulesetCreated,
    path: &Path,
    access: landlock::BitFlags<AccessFs>,
) -> Result<RulesetCreated, landlock::RulesetError> {
    let Ok(fd) = PathFd::new(path) else {
        return Ok(ruleset);
    };
    let access = if path.is_dir() {
        access
    } else {
        access & AccessFs::from_file(ABI_USED)
    };
    ruleset.add_rule(PathBeneath::new(fd, access))
}

/// The PTY this process runs in (its stdin), for opening it again by name.
fn own_terminal() -> Option<PathBuf> {
    let path = std::fs::read_link("/proc/self/fd/0").ok()?;
    path.starts_with("/dev/pts/").then_some(path)
}

/// Landlock only adds rights, so "everything beneath `read` but `hide`" becomes rules on the
/// siblings of each hidden path (and of its parents, up to a readable root); those parents can
/// still be listed (the second list: listing rights only, which reach into the hidden folders
/// too: their files' names show, their contents do not). A root that is itself inside a hidden
/// path was asked for by name and stays readable.
fn readable(read: &[PathBuf], hide: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let hide: Vec<PathBuf> = hide.iter().filter_map(|h| h.canonicalize().ok()).collect();
    let (mut rules, mut listed) = (Vec::new(), Vec::new());
    for root in read {
        let Ok(root) = root.canonicalize() else {
            continue;
        };
        if hide.iter().any(|h| root.starts_with(h)) {
            rules.push(root);
        } else {
            split(&root, &hide, &mut rules, &mut listed);
        }
    }
    (rules, listed)
}

fn split(dir: &Path, hide: &[PathBuf], rules: &mut Vec<PathBuf>, listed: &mut Vec<PathBuf>) {
    if hide.iter().any(|h| dir.starts_with(h)) {
        return;
    }
    if !hide.iter().any(|h| h.starts_with(dir)) {
        rules.push(dir.to_path_buf());
        return;
    }
    listed.push(dir.to_path_buf());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // A link is granted as its target: one into a hidden folder would show it.
        match path.canonicalize() {
            Ok(target) if hide.iter().any(|h| target.starts_with(h)) => {}
            Ok(_) => split(&path, hide, rules, listed),
            Err(_) => {}
        }
    }
}

/// A new network namespace holding only loopback (brought up). Not root (or root without
/// CAP_SYS_ADMIN, as in many containers): in a new user namespace too, mapping the user to
/// itself, which gives the rights over the new network namespace needed to bring loopback up.
fn isolate_network() -> Result<(), String> {
    // SAFETY: these id getters have no preconditions.
    let (uid, gid, euid) = unsafe { (libc::getuid(), libc::getgid(), libc::geteuid()) };
    // SAFETY: unshare takes flags only; the process is single-threaded here (a user namespace
    // requires it).
    let plain = euid == 0 && unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0;
    if !plain {
        if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(format!("cannot make a network namespace: {e}"));
        }
        let write = |file: &str, text: String| {
            std::fs::write(format!("/proc/self/{file}"), text)
                .map_err(|e| format!("cannot write /proc/self/{file}: {e}"))
        };
        write("setgroups", "deny".into())?;
        write("uid_map", format!("{uid} {uid} 1"))?;
        write("gid_map", format!("{gid} {gid} 1"))?;
    }
    loopback_up().map_err(|e| format!("cannot bring loopback up: {e}"))
}

fn loopback_up() -> std::io::Result<()> {
    // SAFETY: socket takes plain integers; the descriptor is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: ifreq is plain data, valid when zeroed.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: both ioctls read and write one ifreq that lives for the calls, on our socket.
    let result = unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut request) != 0 {
            Err(std::io::Error::last_os_error())
        } else {
            request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &request) != 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        }
    };
    // SAFETY: fd is the socket opened above, closed once.
    unsafe { libc::close(fd) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_folders_leave_their_siblings_readable() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().canonicalize().unwrap();
        for dir in [".ssh", ".aws", "src", "docs"] {
            std::fs::create_dir(h.join(dir)).unwrap();
        }
        std::fs::write(h.join(".ssh/known_hosts"), "").unwrap();
        std::fs::write(h.join("notes"), "").unwrap();
        std::os::unix::fs::symlink(h.join(".ssh"), h.join("keys")).unwrap();
        let (mut rules, listed) =
            readable(std::slice::from_ref(&h), &[h.join(".ssh"), h.join(".aws")]);
        rules.sort();
        assert_eq!(rules, vec![h.join("docs"), h.join("notes"), h.join("src")]);
        assert_eq!(listed, vec![h.clone()]);
        // Named as readable on its own, a file inside a hidden folder is readable.
        let (rules, _) = readable(&[h.clone(), h.join(".ssh/known_hosts")], &[h.join(".ssh")]);
        assert!(rules.contains(&h.join(".ssh/known_hosts")));
        assert!(!rules.contains(&h.join(".ssh")));
    }
}
