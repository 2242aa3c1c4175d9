//! grove: run several coding agents at once, each in its own git worktree and branch.

pub mod agent;
#[cfg(test)]
mod architecture;
pub mod cli;
pub mod engine;
pub mod environment;
pub mod git;
pub mod headless;
pub mod plan;
pub mod pty;
pub mod record;
pub mod sandbox;
pub mod server;
pub mod status;
pub mod term;
pub mod ui;
pub mod usage;
