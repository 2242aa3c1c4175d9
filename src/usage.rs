//! What an agent run used, as the agent reports it (Claude Code's results, Codex's turns): cost,
//! tokens (cache reads and writes apart, they are most of a real session's), turns, per model,
//! the session to resume, and the tool calls it was denied; a usage limit it stopped at, and a
//! follow-up that continues its session.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Usage of one attempt, a task (its attempts summed) or a run (its tasks summed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub cost_usd: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    pub num_turns: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Per model (Claude Code's `modelUsage`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, ModelUsage>,
    /// Tool calls the agent was not allowed to make: `Bash: echo hi > out.txt`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permission_denials: Vec<String>,
}

/// What a follow-up attempt runs: the session it continues and the prompt it sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUp {
    pub prompt: String,
    pub session: String,
}

/// The agent stopped at its account's usage limit (`agent::usage_limit` reads it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageLimit {
    /// What the agent said (the result's first line).
    pub message: String,
    /// When the limit resets, unix seconds; None when the agent did not say in a way read here.
    pub resets_at: Option<u64>,
}

/// One model's share of a [`Usage`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelUsage {
    pub cost_usd: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
}

impl ModelUsage {
    fn add(&mut self, other: &ModelUsage) {
        self.cost_usd += other.cost_usd;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_input_tokens += other.cache_read_input_tokens;
        self.cache_creation_input_tokens += other.cache_creation_input_tokens;
    }
}

impl Usage {
    /// Adds `other`'s counts (separate runs of an agent: attempts, tasks); the session becomes
    /// `other`'s when it has one (the latest).
    pub fn add(&mut self, other: &Usage) {
        self.cost_usd += other.cost_usd;
        self.add_segment(other);
        for (model, usage) in &other.models {
            self.models.entry(model.clone()).or_default().add(usage);
        }
    }

    /// Adds the per-segment counts of a later result of the same agent process (Claude Code
    /// starts another turn after a background task): tokens, turns and denials add up; its cost
    /// and per-model usage are the process's totals so far, so they replace this one's.
    pub fn add_later_result(&mut self, later: &Usage) {
        self.cost_usd = self.cost_usd.max(later.cost_usd);
        self.add_segment(later);
        if !later.models.is_empty() {
            self.models.clone_from(&later.models);
        }
    }

    fn add_segment(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_input_tokens += other.cache_read_input_tokens;
        self.cache_creation_input_tokens += other.cache_creation_input_tokens;
        self.num_turns += other.num_turns;
        self.permission_denials
            .extend(other.permission_denials.iter().cloned());
        if other.session_id.is_some() {
            self.session_id.clone_from(&other.session_id);
        }
    }

    /// The sum of `usages`, or None when there is none.
    pub fn total<'a>(usages: impl IntoIterator<Item = &'a Usage>) -> Option<Usage> {
        usages.into_iter().fold(None, |sum, u| {
            let mut sum = sum.unwrap_or_default();
            sum.add(u);
            Some(sum)
        })
    }
}

/// A cost as shown to people: `$0.0123`.
pub fn dollars(usd: f64) -> String {
    format!("${usd:.4}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(cost: f64, input: u64, model_cost: f64) -> Usage {
        Usage {
            cost_usd: cost,
            input_tokens: input,
            output_tokens: 2,
            cache_read_input_tokens: 100,
            cache_creation_input_tokens: 10,
            num_turns: 3,
            session_id: Some(format!("s{input}")),
            models: [(
                "m".to_string(),
                ModelUsage {
                    cost_usd: model_cost,
                    input_tokens: input,
                    ..ModelUsage::default()
                },
            )]
            .into(),
            permission_denials: vec![format!("Bash: {input}")],
        }
    }

    #[test]
    fn usage_totals_add_up() {
        let sum = Usage::total([&usage(0.25, 1, 0.25), &usage(0.25, 2, 0.25)]).unwrap();
        assert_eq!(sum.cost_usd, 0.5);
        assert_eq!(sum.input_tokens, 3);
        assert_eq!(sum.cache_read_input_tokens, 200);
        assert_eq!(sum.num_turns, 6);
        assert_eq!(sum.session_id.as_deref(), Some("s2"));
        assert_eq!(sum.models["m"].cost_usd, 0.5);
        assert_eq!(sum.permission_denials, ["Bash: 1", "Bash: 2"]);
        assert_eq!(Usage::total([]), None);
    }

    #[test]
    fn a_later_result_of_the_same_process_has_cumulative_cost() {
        let mut first = usage(0.25, 1, 0.25);
        first.add_later_result(&usage(0.4, 2, 0.4));
        assert_eq!(first.cost_usd, 0.4);
        assert_eq!(first.models["m"].cost_usd, 0.4);
        assert_eq!(first.input_tokens, 3);
        assert_eq!(first.num_turns, 6);
    }
}
