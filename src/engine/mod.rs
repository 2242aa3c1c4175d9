//! The engine: runs a plan's tasks, one state machine per task, and talks to front ends only
//! through `api::Command` and `api::Event`.

pub mod api;
