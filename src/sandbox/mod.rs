//! Confining what grove starts for an attempt (setup commands, the agent, the check): Landlock
//! (write only the worktree and what a commit needs), a network namespace with only loopback,
//! and memory limits. grove runs each such process through its own hidden `sandbox-exec`
//! subcommand, which applies the attempt's `Spec` to itself and then execs the real command.

mod apply;
pub mod memory;
mod policy;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use apply::run_wrapper;
pub use policy::{Confinement, Inputs};

/// The hidden subcommand that applies a spec and execs the command after `--`.
pub const WRAPPER_COMMAND: &str = "sandbox-exec";

/// Test-only: set to 1, grove acts as on a kernel without Landlock (see README, Development).
pub const NO_LANDLOCK_ENV: &str = "GROVE_TEST_NO_LANDLOCK";

/// What the wrapper applies to itself before exec, written by grove per attempt to
/// `agents/<task>/sandbox.json` (where the agent cannot write).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// Landlock on: read and execute only beneath `read` (less `hide`), write only `write`.
    pub landlock: bool,
    pub read: Vec<PathBuf>,
    pub hide: Vec<PathBuf>,
    pub write: Vec<PathBuf>,
    /// A new network namespace with only loopback up.
    pub no_network: bool,
    /// The cgroup to join (grove created it and set its memory limit).
    pub cgroup: Option<PathBuf>,
    /// `RLIMIT_DATA` in bytes, where there is no cgroup.
    pub data_limit: Option<u64>,
}

/// The Landlock ABI version of the running kernel; None where Landlock is missing (an old
/// kernel, another OS, disabled at boot) or the test override says so.
pub fn landlock_abi() -> Option<i32> {
    if std::env::var(NO_LANDLOCK_ENV).is_ok_and(|v| v == "1") {
        return None;
    }
    landlock_abi_of_kernel()
}

#[cfg(target_os = "linux")]
fn landlock_abi_of_kernel() -> Option<i32> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute pointer and size 0, this flag only asks for the ABI
    // version; nothing is read or written through pointers.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    (v > 0).then(|| i32::try_from(v).unwrap_or(i32::MAX))
}

#[cfg(not(target_os = "linux"))]
fn landlock_abi_of_kernel() -> Option<i32> {
    None
}

/// The one line said when tasks run unsandboxed because the kernel has no Landlock (the
/// default was `worktree`; a plan that asks for it explicitly does not validate instead).
pub fn unavailable_warning(plan: &crate::plan::Plan) -> Option<String> {
    let mode = crate::plan::model::SandboxMode::Unavailable;
    plan.tasks.iter().any(|t| t.sandbox.mode == mode).then(|| {
        format!(
            "grove: warning: this kernel ({}) has no Landlock, so agents run unsandboxed \
             (write sandbox = \"off\" to say so)",
            kernel()
        )
    })
}

/// The running kernel, for messages: "Linux 5.10.0".
pub fn kernel() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| r.trim().to_string())
        .unwrap_or_default();
    if release.is_empty() {
        std::env::consts::OS.to_string()
    } else {
        format!("Linux {release}")
    }
}

/// The grove binary, which runs the demo agent and the sandbox wrapper. Programs embedding
/// grove's library (its integration tests) are not grove: for them it is the `grove` next to
/// them or one directory up (cargo's `target/<profile>/deps` layout), else `grove` on PATH.
pub fn grove_exe() -> PathBuf {
    let Ok(exe) = std::env::current_exe() else {
        return PathBuf::from("grove");
    };
    if exe.file_stem().is_some_and(|s| s == "grove") {
        return exe;
    }
    let dir = exe.parent().unwrap_or(Path::new("/"));
    [dir.join("grove"), dir.join("../grove")]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("grove"))
}

/// Expands a leading `~` (alone or `~/…`) to `home`; other paths stay as they are.
pub fn expand_home(path: &str, home: Option<&Path>) -> Option<PathBuf> {
    match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            Some(home?.join(rest.trim_start_matches('/')))
        }
        _ => Some(PathBuf::from(path)),
    }
}
