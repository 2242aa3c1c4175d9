//! Usage limits: an agent that reported its account's usage limit holds that agent's tasks
//! (`held: usage limit, resets 14:00`) until the reset, without spending their retries; other
//! agents go on.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::agent::usage_limit::{local_clock, UsageLimit};

/// How long to hold when the agent did not say when its limit resets.
pub const UNKNOWN_RESET: Duration = Duration::from_secs(15 * 60);

/// The agents at their usage limit, and when each resets.
#[derive(Debug, Default)]
pub struct Limits {
    resets: BTreeMap<String, SystemTime>,
}

impl Limits {
    /// `agent` reported `limit` at `now`: its tasks wait for the reset (or `UNKNOWN_RESET`).
    pub fn hit(&mut self, agent: &str, limit: &UsageLimit, now: SystemTime) -> SystemTime {
        let at = limit
            .resets_at
            .map(|s| UNIX_EPOCH + Duration::from_secs(s))
            .filter(|at| *at > now)
            .unwrap_or(now + UNKNOWN_RESET);
        let at = self.resets.get(agent).map_or(at, |&known| known.max(at));
        self.resets.insert(agent.to_string(), at);
        at
    }

    /// Why a task of `agent` may not start at `now`: `usage limit, resets 14:00`.
    pub fn held(&self, agent: &str, now: SystemTime) -> Option<String> {
        let at = *self.resets.get(agent).filter(|&&at| at > now)?;
        let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Some(format!("usage limit, resets {}", local_clock(secs)))
    }

    /// Forgets the limits that reset by `now`; true when one did.
    pub fn expire(&mut self, now: SystemTime) -> bool {
        let before = self.resets.len();
        self.resets.retain(|_, at| *at > now);
        self.resets.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_is_held_until_its_reset_and_others_go_on() {
        let now = UNIX_EPOCH + Duration::from_secs(1_796_368_775);
        let mut limits = Limits::default();
        let limit = UsageLimit {
            message: "You've hit your 5-hour limit".into(),
            resets_at: Some(1_796_368_775 + 600),
        };
        let at = limits.hit("claude", &limit, now);
        assert_eq!(at, now + Duration::from_secs(600));
        let held = limits.held("claude", now).unwrap();
        assert!(held.starts_with("usage limit, resets "), "{held}");
        assert_eq!(limits.held("codex", now), None);
        // A reset already past, or none said: held for a while.
        let unknown = UsageLimit {
            message: "limit".into(),
            resets_at: Some(1),
        };
        assert_eq!(limits.hit("codex", &unknown, now), now + UNKNOWN_RESET);
        assert!(!limits.expire(now + Duration::from_secs(599)));
        assert!(limits.expire(now + Duration::from_secs(600)));
        assert_eq!(limits.held("claude", now + Duration::from_secs(600)), None);
        assert!(limits
            .held("codex", now + Duration::from_secs(600))
            .is_some());
    }
}
