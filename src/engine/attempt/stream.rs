//! An agent's structured output while it runs (Claude Code's stream-json, Codex's JSON events):
//! the adapter that turns it into a transcript on the reader thread, and the facts (session,
//! results) the attempt waits on and is judged by.

use std::sync::Mutex;

use tokio::sync::Notify;

use crate::agent::codex_json::CodexJson;
use crate::agent::stream_json::{JsonAdapter, Rendered, StreamEvent, StreamJson, StreamResult};
use crate::agent::usage_limit::UsageLimit;
use crate::plan::model::AgentOutput;
use crate::usage::Usage;

/// The adapter for an agent's output, when it is structured.
pub(super) enum Adapter {
    Claude(StreamJson),
    Codex(CodexJson),
}

impl Adapter {
    pub fn for_output(output: AgentOutput) -> Option<Adapter> {
        match output {
            AgentOutput::Terminal => None,
            AgentOutput::ClaudeStreamJson => Some(Adapter::Claude(StreamJson::default())),
            AgentOutput::CodexJson => Some(Adapter::Codex(CodexJson::default())),
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) -> Rendered {
        match self {
            Adapter::Claude(a) => a.feed(bytes),
            Adapter::Codex(a) => a.feed(bytes),
        }
    }

    pub fn finish(&mut self) -> Rendered {
        match self {
            Adapter::Claude(a) => a.finish(),
            Adapter::Codex(a) => a.finish(),
        }
    }
}

/// What a structured agent's output told so far, shared by the reader thread (which adds to
/// it) and the attempt (which waits on `changed`).
#[derive(Default)]
pub(super) struct Stream {
    facts: Mutex<StreamFacts>,
    pub changed: Notify,
}

impl Stream {
    pub fn absorb(&self, events: Vec<StreamEvent>) {
        if events.is_empty() {
            return;
        }
        if let Ok(mut facts) = self.facts.lock() {
            facts.absorb(events);
        }
        self.changed.notify_one();
    }

    /// The latest thing the agent said was a result: it has finished, unless it starts again.
    pub fn after_result(&self) -> bool {
        self.facts.lock().is_ok_and(|f| f.after_result)
    }

    pub fn take(&self) -> StreamFacts {
        self.facts
            .lock()
            .map(|mut f| std::mem::take(&mut *f))
            .unwrap_or_default()
    }
}

/// The session and every result of one agent process.
#[derive(Debug, Default)]
pub(super) struct StreamFacts {
    session_id: Option<String>,
    results: Vec<StreamResult>,
    after_result: bool,
    usage_limit: Option<UsageLimit>,
}

impl StreamFacts {
    fn absorb(&mut self, events: Vec<StreamEvent>) {
        for event in events {
            match event {
                StreamEvent::Init { session_id, .. } => {
                    self.session_id = Some(session_id);
                    self.after_result = false;
                }
                StreamEvent::Result(result) => {
                    self.results.push(*result);
                    self.after_result = true;
                }
                StreamEvent::UsageLimit(limit) => self.usage_limit = Some(limit),
            }
        }
    }

    pub fn has_result(&self) -> bool {
        !self.results.is_empty()
    }

    /// Usage over all results: tokens and turns add up, cost is the process's last total; the
    /// session is the one from `init` when the results do not name it.
    pub fn usage(&self) -> Option<Usage> {
        let mut results = self.results.iter();
        let mut usage = results.next()?.usage.clone();
        for later in results {
            usage.add_later_result(&later.usage);
        }
        if usage.session_id.is_none() {
            usage.session_id.clone_from(&self.session_id);
        }
        Some(usage)
    }

    /// Why the agent failed: the first error result.
    pub fn error(&self) -> Option<String> {
        self.results.iter().find_map(StreamResult::error)
    }

    /// The agent stopped at its account's usage limit (its last error result said so).
    pub fn usage_limit(&self) -> Option<&UsageLimit> {
        self.usage_limit.as_ref()
    }

    /// The task's output: the last result's text.
    pub fn output(&self) -> Option<String> {
        self.results
            .last()
            .map(|r| r.text.clone().unwrap_or_default())
    }
}
