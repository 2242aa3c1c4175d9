//! `grove agents [--plan FILE]`: every agent available (presets, the user config's, the plan's)
//! with the command it runs and whether its program is on PATH, then `grove doctor`'s checks of
//! each agent whose program has them (version, credentials, Claude Code's first-run state).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::agent;
use crate::plan::model::AgentDef;
use crate::plan::{PlanError, UserConfig};

/// `grove agents`: prints every agent, with the plan's when `plan` is given, and the checks of
/// their programs (Claude Code's trust: of the repository around the current directory).
pub fn agents(plan: Option<&Path>) -> anyhow::Result<i32> {
    let rows = rows(plan)?;
    let repo = super::repo::start_dir(None)
        .ok()
        .and_then(|dir| crate::git::discover_root(&dir).ok());
    let out = &mut super::out::stdout();
    print(&rows, out).context("cannot write the listing")?;
    print_checks(&rows, repo.as_deref(), out).context("cannot write the listing")?;
    Ok(0)
}

/// Per agent whose program `grove doctor` checks: each check, `FIX` lines saying what to run.
/// A program's checks run once, however many agents start it.
fn print_checks(
    rows: &[AgentRow],
    repo: Option<&Path>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut done: BTreeMap<String, Option<Vec<super::doctor::Check>>> = BTreeMap::new();
    let checked: Vec<(&AgentRow, Vec<super::doctor::Check>)> = rows
        .iter()
        .filter_map(|row| {
            let checks = done
                .entry(row.program.clone())
                .or_insert_with(|| super::doctor::checks_of(&row.program, repo));
            Some((row, checks.clone()?))
        })
        .collect();
    if checked.is_empty() {
        return Ok(());
    }
    let name_w = checked.iter().map(|(r, _)| r.name.len()).max().unwrap_or(0);
    writeln!(out, "\nchecks (as `grove doctor` makes them):")?;
    for (row, checks) in checked {
        for check in &checks {
            let line = super::doctor::line(check);
            writeln!(out, "{:<name_w$}  {line}", row.name)?;
        }
    }
    Ok(())
}

/// One row of the listing.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRow {
    pub name: String,
    /// Where its definition comes from: `preset`, `config` or `plan` (the last that set it).
    pub source: &'static str,
    /// The command with its `args`, as a shell would show it.
    pub command: String,
    pub program: String,
    /// Where the program was found on PATH.
    pub found: Option<std::path::PathBuf>,
}

/// Every agent available with the user config and, when given, the plan.
pub fn rows(plan: Option<&Path>) -> Result<Vec<AgentRow>, PlanError> {
    let config = UserConfig::load()?;
    let planned = match plan {
        Some(path) => crate::plan::load_for_listing(path, &config)?.agents,
        None => BTreeMap::new(),
    };
    Ok(rows_with(&config, planned))
}

/// Every agent available with `config` and a plan's `planned` agents.
pub fn rows_with(config: &UserConfig, planned: BTreeMap<String, AgentDef>) -> Vec<AgentRow> {
    agent::available(config.agents(), &planned)
        .into_iter()
        .map(|agent::Available { name, source, def }| {
            let program = def.program().to_string();
            let words: Vec<String> = agent::template(&def).iter().map(|w| shown(w)).collect();
            AgentRow {
                found: agent::find_program(&program),
                source,
                command: words.join(" "),
                program,
                name,
            }
        })
        .collect()
}

/// Prints the listing as a table.
pub fn print(rows: &[AgentRow], out: &mut dyn Write) -> std::io::Result<()> {
    let found: Vec<String> = rows
        .iter()
        .map(|r| match &r.found {
            Some(path) => path.display().to_string(),
            None => format!("missing: '{}' not on PATH", r.program),
        })
        .collect();
    let name_w = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(5);
    let found_w = found
        .iter()
        .map(|f| f.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    writeln!(
        out,
        "{:<name_w$}  {:<6}  {:<found_w$}  command",
        "agent", "from", "found"
    )?;
    for (row, found) in rows.iter().zip(&found) {
        writeln!(
            out,
            "{:<name_w$}  {:<6}  {:<found_w$}  {}",
            row.name, row.source, found, row.command
        )?;
    }
    Ok(())
}

/// An argv element as a shell would need it written: quoted when it holds anything special.
fn shown(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%{}".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(shown("--output-format"), "--output-format");
        assert_eq!(shown("{prompt}"), "{prompt}");
        assert_eq!(shown("a b"), "'a b'");
        assert_eq!(shown("it's"), "'it'\\''s'");
        assert_eq!(shown(""), "''");
    }
}
