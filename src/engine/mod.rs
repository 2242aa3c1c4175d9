//! The engine: runs a plan's tasks, one state machine per task, and talks to front ends only
//! through `api::Command` and `api::Event`.

mod admission;
pub mod api;
mod attempt;
mod blocking;
pub mod follow_up;
mod keep;
mod leftovers;
mod limits;
pub mod output;
mod pause;
mod ports;
mod resume;
pub mod retry;
mod run;
pub mod schedule;
pub mod state;

pub use resume::{follow_up, resume, resume_plan, ResumeError};
pub use run::{describe_merge, merge_task, start, EngineError, RunRequest};
