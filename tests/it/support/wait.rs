//! Waiting, the one way: [`poll`] checks something until it holds or [`DEADLINE`] passes; every
//! other wait of the tests ([`wait_for`], [`wait_for_line`], [`wait_for_pid`], the dashboard's
//! screen waits) is built on it or on its deadline. Agents (shell prompts) wait the same way
//! with [`sh_wait_for_file`] / [`sh_wait_until`]: they order themselves on marker files, never
//! on sleeps.

use std::path::Path;
use std::time::{Duration, Instant};

/// How long any one awaited thing may take. Generous: the machine may be busy, and a deadline
/// only matters when something is broken.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// How often [`poll`] looks again.
const EVERY: Duration = Duration::from_millis(5);

/// Checks `check` until it returns Some (that value) or [`DEADLINE`] has passed (None). The one
/// poll loop of the tests; it never panics, so it may run in a `Drop`.
pub fn poll<T>(mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(EVERY);
    }
}

/// Polls `check` until it returns Some, failing with `what` after [`DEADLINE`].
pub fn wait_for<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    wait_explained(what, check, String::new)
}

/// [`wait_for`], failing with what `explain` says of the situation on timeout too.
pub fn wait_explained<T>(
    what: &str,
    check: impl FnMut() -> Option<T>,
    explain: impl Fn() -> String,
) -> T {
    poll(check).unwrap_or_else(|| panic!("timed out waiting for {what}\n{}", explain()))
}

/// The text of the file at `path` once it is there and ends with a newline (written whole).
pub fn wait_for_line(path: &Path) -> String {
    wait_for(&format!("{} to be written", path.display()), || {
        std::fs::read_to_string(path)
            .ok()
            .filter(|text| text.ends_with('\n'))
    })
}

/// The pid a test's agent wrote to `path` (once the file is there).
pub fn wait_for_pid(path: &Path) -> i32 {
    wait_for(&format!("a pid in {}", path.display()), || {
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    })
}

/// A shell snippet for an agent's prompt that waits until `path` exists: agents order
/// themselves on each other's marker files instead of on sleeps.
pub fn sh_wait_for_file(path: &Path) -> String {
    sh_wait_until(&format!("[ -e '{}' ]", path.display()))
}

/// A shell snippet that polls `condition` (a shell command) every 50 ms. After [`DEADLINE`] the
/// agent gives up and exits 97, so a run whose ordering broke ends and fails instead of hanging.
pub fn sh_wait_until(condition: &str) -> String {
    let tries = DEADLINE.as_millis() / 50;
    format!(
        "w=0; until {condition}; do [ $w -ge {tries} ] && {{ echo 'gave up waiting'; exit 97; }}; \
         sleep 0.05; w=$((w+1)); done;"
    )
}
