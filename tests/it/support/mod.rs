//! What the tests share. `use crate::support::*;` brings the everyday part: [`Repo`] (a real
//! git repository in a temp dir, the real binary run in it, what a run leaves), [`Plan`] (plans
//! built, not written out), the waits ([`wait_for`], [`sh_wait_for_file`]…, one poll and one
//! deadline) and [`background`] (grove started in the background, killed, its journal read).
//! The rest is named when needed: [`tty`] (a program in a real PTY read through vt100),
//! [`dash`] (the dashboard drawn without a terminal), [`engine`] (the engine in this process),
//! [`server`] (the repository's grove server: its pid, kill -9), [`sshd`] (a real sshd on
//! 127.0.0.1 with throwaway keys), [`svg`], [`real_cli`] (the
//! real Claude Code and Codex CLIs against a stand-in API) and [`tmpfs`] (a real small disk
//! that fills up). Every helper here is used: one that no test
//! uses any more is deleted (the compiler says which).

pub mod background;
pub mod dash;
pub mod engine;
pub mod plan;
pub mod real_cli;
pub mod repo;
pub mod server;
pub mod sshd;
pub mod svg;
pub mod tmpfs;
pub mod tty;
pub mod wait;

pub use background::*;
pub use plan::*;
pub use repo::*;
pub use wait::*;

/// The name this binary knows the test `test` of `module` (the caller's `module_path!()`) by:
/// for a test that runs itself again in a child process (`current_exe()` with `--exact`), where
/// the child process does what must not happen in this one (a panic hook, libgit2's global
/// search path).
pub fn test_name(module: &str, test: &str) -> String {
    match module.split_once("::") {
        Some((_, path)) => format!("{path}::{test}"),
        None => test.to_string(),
    }
}
