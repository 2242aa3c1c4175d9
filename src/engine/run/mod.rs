//! The run loop: owns every task's state. `main` waits on its inputs (front-end commands,
//! attempts' progress, timers, merge and worktree-removal outcomes) and turns each into a
//! `RunEvent`; `handle_event` decides what it changes and returns the `Effect`s to carry out
//! (start an attempt, a timer, a merge, a worktree removal), which `effects.rs` does. Record
//! writes (journal, audit log, results.json) stay synchronous where the decisions make them
//! (see journal.rs for why). `dispatcher.rs` is the loop; this file only declares the parts.

mod attempts;
mod commands;
mod dispatcher;
mod effects;
mod event;
mod follow;
mod journal;
mod merge;
mod recover;
mod results;
mod start;
mod task;
#[cfg(test)]
mod tests;

pub(crate) use dispatcher::begin;
pub use merge::{describe_merge, merge_task, pick_race, record_outcome};
