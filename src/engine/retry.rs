//! Backoff between attempts: exponential, capped, with jitter.

use std::time::Duration;

use crate::plan::model::Backoff;

/// The delay before attempt `failed + 1`, after attempt number `failed` (1-based) failed:
/// `min(max, initial × multiplier^(failed−1))` scaled by a random factor in `[1−jitter, 1]`.
pub fn delay(backoff: &Backoff, failed: u32, random_unit: f64) -> Duration {
    let exponent = failed.saturating_sub(1).min(1000) as i32;
    let base = backoff.initial.as_secs_f64() * backoff.multiplier.powi(exponent);
    let capped = if base.is_finite() {
        base.min(backoff.max.as_secs_f64())
    } else {
        backoff.max.as_secs_f64()
    };
    let factor = 1.0 - backoff.jitter * random_unit.clamp(0.0, 1.0);
    // Seconds as f64 may round above `max` (or past what a Duration holds, for the longest).
    Duration::try_from_secs_f64((capped * factor).max(0.0))
        .map_or(backoff.max, |d| d.min(backoff.max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff(jitter: f64) -> Backoff {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
            multiplier: 2.0,
            jitter,
        }
    }

    #[test]
    fn grows_exponentially_and_caps() {
        let b = backoff(0.0);
        let secs: Vec<f64> = (1..=6).map(|n| delay(&b, n, 0.5).as_secs_f64()).collect();
        assert_eq!(secs, vec![1.0, 2.0, 4.0, 8.0, 10.0, 10.0]);
    }

    #[test]
    fn jitter_scales_down_within_bounds() {
        let b = backoff(0.25);
        assert_eq!(delay(&b, 2, 0.0), Duration::from_secs(2));
        assert_eq!(delay(&b, 2, 1.0), Duration::from_secs_f64(1.5));
        assert!(delay(&b, 2, 0.5) > Duration::from_secs_f64(1.5));
    }

    #[test]
    fn the_longest_durations_do_not_overflow() {
        let huge = Backoff {
            initial: Duration::MAX,
            max: Duration::MAX,
            multiplier: 2.0,
            jitter: 0.0,
        };
        assert_eq!(delay(&huge, 3, 0.0), Duration::MAX);
        let month = Duration::from_secs(30 * 24 * 3600);
        let capped = Backoff { max: month, ..huge };
        assert_eq!(delay(&capped, 1, 0.0), month);
    }
}
