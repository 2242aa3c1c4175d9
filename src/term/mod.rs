//! Terminal knowledge, apart from processes: the pane's terminal model (vt100 with bounded
//! scrollback and answered queries), escape counts clamped to the screen, the model's panics
//! contained, keys as the bytes a terminal sends, and terminal output read back as plain text.

pub(crate) mod clamp;
mod fast_forward;
pub mod guard;
pub mod keys;
pub mod pane;
pub mod text;
mod unfinished;
