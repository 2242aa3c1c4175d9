//! The grove server (issue 13): frames and the handshake on a private Unix socket per
//! repository, the requests a client makes (`messages.rs`), the server process (`serve.rs`)
//! hosting runs (`host.rs`), the way commands reach or start it (`client.rs`); and, not wired
//! yet, pane snapshots a client's terminal model reproduces and the per-client queue that swaps
//! a backlog for a snapshot (see docs/ARCHITECTURE.md "Server").

pub mod client;
pub mod frame;
pub mod handshake;
pub mod host;
pub mod hub;
pub mod listener;
pub mod log;
pub mod messages;
pub mod proxy;
pub mod queue;
pub mod remote;
pub mod serve;
pub mod snapshot;
pub mod socket;
