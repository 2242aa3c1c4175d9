//! What an attempt is given to run on its own task.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::agent::AgentCommand;
use crate::environment::Environment;
use crate::plan::model::TaskSpec;
use crate::record::audit::Audit;
use crate::record::RunPaths;
use crate::term::pane::Pane;

use super::super::api::Event;
use super::super::follow_up::FollowUp;

/// Everything an attempt needs, owned, so it can run on its own task.
pub struct AttemptJob {
    pub index: usize,
    pub attempt: u32,
    pub max_attempts: u32,
    pub spec: TaskSpec,
    pub agent: AgentCommand,
    /// The prompt as the agent gets it (with earlier outputs when passed).
    pub prompt: String,
    pub context: serde_json::Map<String, serde_json::Value>,
    pub paths: RunPaths,
    pub base_commit: String,
    /// Branches of the task's dependencies, merged into the start commit in this order.
    pub dependency_branches: Vec<String>,
    pub audit: Audit,
    pub pane: Arc<Pane>,
    pub pane_size: (u16, u16),
    pub events: mpsc::UnboundedSender<Event>,
    /// The task's reserved TCP ports (`GROVE_PORT_0`…).
    pub ports: Vec<u16>,
    /// Continue the agent's session (`prompt` is then the follow-up's).
    pub follow_up: Option<FollowUp>,
    /// The run's environment, which its processes start with (cleared, then this, then grove's
    /// variables and the plan's `env`).
    pub env: Environment,
}
