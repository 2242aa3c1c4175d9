//! Agents in pseudo-terminals: spawn in their own session and process group, read output on a
//! blocking thread, write input, resize, and stop the whole group (TERM, grace, KILL).

pub mod pane;
