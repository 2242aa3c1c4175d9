//! grove's integration tests: one test binary (`cargo test --test it`), one module per area,
//! and the shared support in `support/`. Everything is real: git repositories in temp dirs,
//! agents as shell scripts in real PTYs, the real `grove` binary (`support::GROVE`).
//!
//! A big area is a folder (`ui_views/`: its `mod.rs` has the helpers, each file starts with
//! `use super::*;`). A new test module: add `mod NAME;` below and start the file with
//!
//! ```ignore
//! use crate::support::*;
//!
//! #[test]
//! fn a_task_writes_its_file() {
//!     let repo = Repo::new(); // a repository on main with one commit, and an empty HOME
//!     let plan = Plan::new().shell_task("a", "echo hi > a.txt").timeout("30s").to_toml();
//!     let (out, results) = repo.run_plan(&plan); // `grove run --headless`, its results.json
//!     assert!(out.status.success(), "{}", text(&out));
//!     assert_eq!(task(&results, "a")["status"], "succeeded");
//! }
//! ```
//!
//! - Ordering: agents wait on marker files (`sh_wait_for_file(path)` in a prompt), the test on
//!   the same with `wait_for(what, || …)`, `wait_for_line`, `wait_for_pid`: one poll, one
//!   `DEADLINE`. No sleeps for ordering, no timed assertions.
//! - grove in the background (to kill or signal it): `spawn_run`, `kill_run_when` (kill -9 of the
//!   repository's grove server, `support::server`), `journal`.
//! - The dashboard in a real PTY: `support::tty` (`Tty::run(&repo, &plan, &[])`, `wait_for` on
//!   the parsed screen); without a terminal: `support::dash`.
//! - The engine in this process: `support::engine` (`load`, `runtime`, `start`, `finished`).
//! - Tests run on threads of this one process: never change process-wide state (environment,
//!   current folder, signal dispositions, rlimits, umask) here; give a child process its own
//!   (`repo.grove_cmd(..).env(..)`), or run the test again alone in a child process
//!   (`current_exe()` with `--exact` and `support::test_name(module_path!(), NAME)`). Stop only
//!   processes the test started, by pid.
//!
//! Moving in a test file written the old way (`tests/NAME.rs` with `mod common;`): `git mv` it to
//! `tests/it/NAME.rs` and add `mod NAME;` below; replace `mod common;`, `mod lifecycle;` and the
//! `#[path = "support/…"] mod …;` lines by `use crate::support::*;` (plus `use
//! crate::support::tty::*;`, `dash`, `real_cli`, `tmpfs` as used); `common::x` and
//! `lifecycle::x` become `x`; the agents' shell waits are `sh_wait_for_file` / `sh_wait_until`
//! (were `wait_for_file` / `wait_until`); `lifecycle::DEADLINE` and tty's are `DEADLINE`;
//! `tty::wait_for_pid` is `wait_for_pid`.

mod support;

mod agent_presets;
mod attach;
mod attributes;
mod audit_log;
mod check_race;
mod claude_agent;
mod cli;
mod closed_stdout;
mod concurrent_runs;
mod dashboard_e2e;
mod dashboard_new_user;
mod demo_agent;
mod disk_full;
mod engine_core;
mod follow_up;
mod git_ops;
mod grove_folders;
mod history;
mod hosted_credentials;
mod orphans;
mod pane_history;
mod plan_problems;
mod plan_validation;
mod real_claude;
mod real_codex;
mod records;
mod resume;
mod resume_merges;
mod run_clock;
mod run_environment;
mod sample_plans;
mod sandbox;
mod sandbox_git;
mod sandbox_views;
mod server;
mod server_runs;
mod signals;
mod strategies;
mod submodules;
mod ui_views;
mod waiting;
mod worktree_setup;
