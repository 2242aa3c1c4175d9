//! Admission control: no agent starts while the machine's available memory is below the plan's
//! `min_free_memory`; the tasks that would have started show why they are held.

use std::time::Duration;

use crate::environment::Environment;
use crate::sandbox::memory;

/// Test-only: a file holding a size that replaces the plan's `min_free_memory` at every check
/// (so a test can lower the floor of a running grove; see README, Development).
pub const FLOOR_OVERRIDE_ENV: &str = "GROVE_TEST_MIN_FREE_MEMORY_FILE";

/// How often memory is looked at again while a task is held (nothing else says it freed).
pub const RECHECK: Duration = Duration::from_secs(1);

/// Why nothing may start now (`low memory (1.2 GiB free < 2 GiB)`), or None; `env` is the
/// run's environment (where the test override is looked for).
pub fn hold(min_free_memory: Option<u64>, env: &Environment) -> Option<String> {
    let floor = floor(min_free_memory, env)?;
    let free = memory::available()?;
    (free < floor).then(|| {
        format!(
            "low memory ({} free < {})",
            memory::format_size(free),
            memory::format_size(floor)
        )
    })
}

/// The floor when the plan sets no `min_free_memory`: with up to `max_parallel` (8) agents by
/// default, memory rather than the CPU count is what holds them back. `min_free_memory = "0"`
/// turns it off.
pub const DEFAULT_FLOOR: u64 = 1 << 30;

fn floor(min_free_memory: Option<u64>, env: &Environment) -> Option<u64> {
    let overridden = env
        .var(FLOOR_OVERRIDE_ENV)
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| memory::parse_size(&text));
    overridden.or(min_free_memory).or(Some(DEFAULT_FLOOR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_without_a_floor_gets_the_default_one() {
        let env = Environment::default();
        assert_eq!(floor(None, &env), Some(DEFAULT_FLOOR));
        assert_eq!(floor(Some(0), &env), Some(0));
        assert_eq!(hold(Some(0), &env), None, "a zero floor holds nothing");
    }

    #[test]
    fn the_override_is_read_from_the_run_s_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("floor");
        std::fs::write(&file, "0").unwrap();
        let env: Environment = [(FLOOR_OVERRIDE_ENV, file.as_os_str())]
            .into_iter()
            .collect();
        assert_eq!(floor(Some(1 << 40), &env), Some(0));
        assert_eq!(hold(Some(u64::MAX), &env), None);
    }
}
