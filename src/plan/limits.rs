//! The keys that confine a task (`sandbox`, `sandbox_read`, `sandbox_hide`, `sandbox_write`,
//! `network`, `max_memory`) and the plan's `min_free_memory`.

use super::error::{quoted, Res};
use super::model::SandboxMode;
use super::scope::Scope;
use super::tree::{Entry, Value};
use crate::sandbox;

/// Below this a limit would not even let the wrapper start the agent.
const MIN_MEMORY: u64 = 1 << 20;

/// `sandbox = "worktree" | "off"`. Asking for `worktree` on a kernel without Landlock is an
/// error here (only the implied default falls back, with a warning).
pub(crate) fn sandbox_mode(entry: &Entry, scope: &Scope) -> Res<SandboxMode> {
    let modes = [
        ("worktree", SandboxMode::Worktree),
        ("off", SandboxMode::Off),
    ];
    let mode = scope.choice(entry, &modes)?;
    if mode == SandboxMode::Worktree && sandbox::landlock_abi().is_none() {
        return Err(scope.bad(
            entry.value.span.start,
            format!(
                "sandbox = \"worktree\" needs Landlock, which this kernel ({}) does not have; \
                 use sandbox = \"off\"",
                sandbox::kernel()
            ),
        ));
    }
    Ok(mode)
}

/// A list of absolute paths or paths under `~`.
pub(crate) fn paths(entry: &Entry, scope: &Scope) -> Res<Vec<String>> {
    let mut paths = Vec::new();
    for (path, at) in scope.strings(entry)? {
        let home = path == "~" || path.starts_with("~/");
        if !(home || path.starts_with('/')) {
            return Err(scope.bad(
                at,
                format!(
                    "{}: {} must be an absolute path or start with ~/",
                    scope.key(entry),
                    quoted(&path)
                ),
            ));
        }
        paths.push(path);
    }
    Ok(paths)
}

/// A memory size: `"4G"`, `"512M"`, `"1.5GiB"` or a number of bytes.
pub(crate) fn size(entry: &Entry, scope: &Scope) -> Res<u64> {
    let at = entry.value.span.start;
    let bytes = match &entry.value.value {
        Value::Str(s) => sandbox::memory::parse_size(s).ok_or_else(|| {
            scope.bad(
                at,
                format!(
                    "bad size {s:?} for {} (use e.g. \"512M\", \"4G\")",
                    scope.key(entry)
                ),
            )
        })?,
        Value::Int(n) => u64::try_from(*n)
            .map_err(|_| scope.bad(at, format!("{} must not be negative", scope.key(entry))))?,
        _ => {
            return Err(scope.bad(
                at,
                format!("{} must be a size like \"4G\"", scope.key(entry)),
            ))
        }
    };
    if bytes < MIN_MEMORY {
        return Err(scope.bad(at, format!("{} must be at least 1M", scope.key(entry))));
    }
    Ok(bytes)
}
