//! The handoff envelope: everything an agent is told about its task, written to
//! `agents/<task>/envelope.json` before each attempt. Its exact bytes are hashed as the input hash.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    pub task_id: String,
    pub run_id: String,
    pub task: String,
    pub agent: String,
    pub prompt: String,
    pub inputs: serde_json::Map<String, serde_json::Value>,
    /// What the run adds: `previous_outputs` (strategies passing output), and more later.
    pub context: serde_json::Map<String, serde_json::Value>,
    pub attempt: u32,
    pub max_attempts: u32,
    pub timeout_s: f64,
    pub worktree: String,
    pub branch: String,
    pub base_commit: String,
    pub result_path: String,
    pub created_at: String,
}

impl Envelope {
    /// The bytes written to envelope.json (and hashed).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}
