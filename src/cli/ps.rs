//! `grove ps`: the live runs of this repository's grove server.

use std::io::Write;
use std::path::Path;

use crate::headless::table;
use crate::server::client;
use crate::server::messages::{Request, Response};

pub fn ps(root: &Path, out: &mut dyn Write) -> anyhow::Result<i32> {
    let Some(mut server) = client::connect(root)? else {
        writeln!(
            out,
            "no grove server runs for {}: no live runs",
            root.display()
        )?;
        return Ok(0);
    };
    let Response::Runs { server_pid, runs } = server.ask(&Request::Runs)? else {
        anyhow::bail!("the grove server did not answer with its runs");
    };
    writeln!(out, "grove server pid {server_pid} for {}", root.display())?;
    if runs.is_empty() {
        writeln!(out, "no live runs")?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = runs
        .into_iter()
        .map(|run| {
            vec![
                run.run_id,
                run.plan,
                humantime::format_rfc3339_seconds(run.started).to_string(),
                run.tasks,
                run.clients.to_string(),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        table(&["run", "plan", "started", "tasks", "clients"], &rows)
    )?;
    Ok(0)
}
