//! `grove server --repo PATH` (hidden): the repository's grove server, which hosts the runs
//! started with `--detach` (see `server::serve`). Commands start it themselves, detached.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use super::exit::UsageError;
use super::repo::repo_root;
use crate::server::serve::{self, DEFAULT_IDLE};

/// The environment variable that sets the idle time (tests, scripts); over the user config.
pub const IDLE_ENV: &str = "GROVE_SERVER_IDLE";

/// Runs the server until it has been idle for its idle time.
pub fn server(repo: Option<&Path>) -> anyhow::Result<i32> {
    let root = repo_root(repo)?;
    let idle = idle_time()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve::serve(&root, idle))?;
    Ok(0)
}

/// `GROVE_SERVER_IDLE` (a duration such as "90s", or seconds), else the user config's
/// `server_idle`, else 60 s.
fn idle_time() -> anyhow::Result<Duration> {
    if let Some(value) = std::env::var_os(IDLE_ENV) {
        let text = value.to_string_lossy();
        return parse_idle(&text).ok_or_else(|| {
            UsageError(format!(
                "{IDLE_ENV}={text:?} is not a duration (use e.g. \"90s\", \"5m\" or seconds)"
            ))
            .into()
        });
    }
    let config = crate::plan::UserConfig::load()?;
    Ok(config.server_idle().unwrap_or(DEFAULT_IDLE))
}

fn parse_idle(text: &str) -> Option<Duration> {
    match text.trim().parse::<u64>() {
        Ok(secs) => Some(Duration::from_secs(secs)),
        Err(_) => humantime::parse_duration(text.trim()).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idle_time_is_seconds_or_a_duration() {
        assert_eq!(parse_idle("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_idle("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_idle("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_idle("soon"), None);
    }
}
