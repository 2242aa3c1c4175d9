//! The grove server's groundwork (issue 13): frames and the handshake on a private Unix socket
//! per repository, pane snapshots a client's terminal model reproduces, and the per-client queue
//! that swaps a backlog for a snapshot. Not wired into runs yet (see docs/ARCHITECTURE.md).

pub mod frame;
pub mod handshake;
pub mod listener;
pub mod proxy;
pub mod queue;
pub mod snapshot;
pub mod socket;
