//! grove: run several coding agents at once, each in its own git worktree and branch.

pub mod agent;
pub mod agents_cmd;
pub mod clean_cmd;
pub mod cli;
pub mod demo;
pub mod doctor;
pub mod engine;
pub mod git;
pub mod headless;
pub mod history;
pub mod merge_cmd;
pub mod plan;
pub mod pty;
pub mod record;
pub mod sandbox;
pub mod server;
pub mod status;
pub mod term;
pub mod ui;
pub mod usage;
