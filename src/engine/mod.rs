//! The engine: runs a plan's tasks, one state machine per task, and talks to front ends only
//! through `api::Command` and `api::Event`.

mod admission;
pub mod api;
mod attempt;
mod blocking;
pub mod follow_up;
mod keep;
mod launch;
mod leftovers;
mod limits;
pub mod output;
mod pause;
mod ports;
mod resume;
pub mod retry;
mod run;
pub mod schedule;
mod start;
pub mod state;

pub use launch::{EngineError, RunRequest};
pub use resume::{resume_plan, ResumeError};
pub use run::{describe_merge, merge_task, pick_race, record_outcome};
pub use start::{follow_up, resume, start};
