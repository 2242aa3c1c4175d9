//! The envelope the engine hands the demo agent, and the settings its `inputs` ask for, checked
//! up front so a bad value is an envelope error (exit 2) rather than a surprise halfway.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::roles::Role;

/// The envelope fields the demo agent uses; the engine writes more, which are ignored.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub task: String,
    pub prompt: String,
    pub inputs: Option<Map<String, Value>>,
    pub context: Option<Context>,
    pub attempt: u32,
    pub max_attempts: u32,
    pub branch: Option<String>,
    pub result_path: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
pub struct Context {
    #[serde(default)]
    pub previous_outputs: Vec<PreviousOutput>,
}

#[derive(Debug, Deserialize)]
pub struct PreviousOutput {
    pub task: String,
    pub output: String,
}

/// What `inputs` asks of this run.
#[derive(Debug)]
pub struct Settings {
    pub role: Role,
    pub module: String,
    pub duration: Duration,
    pub fail_attempts: u64,
    /// Hang on this attempt (`hang`, limited to attempts 1..=N by `hang_attempts`).
    pub hang: bool,
    pub exit_code: i32,
}

impl Settings {
    pub fn read(envelope: &Envelope) -> Result<Settings, String> {
        if envelope.attempt == 0 {
            return Err("attempt is 1-based; got 0".into());
        }
        let empty = Map::new();
        let inputs = envelope.inputs.as_ref().unwrap_or(&empty);
        let role = match inputs.get("role") {
            None => Role::from_prompt(&envelope.prompt),
            Some(v) => v
                .as_str()
                .and_then(|s| Role::ALL.into_iter().find(|r| r.name() == s))
                .ok_or_else(|| {
                    format!(
                        "inputs.role must be generator, reviewer, tester or documenter, got {v}"
                    )
                })?,
        };
        let module = match inputs.get("module") {
            None => "utils".to_string(),
            Some(v) => v
                .as_str()
                .filter(|s| is_identifier(s))
                .map(str::to_string)
                .ok_or_else(|| format!("inputs.module must be a Python identifier, got {v}"))?,
        };
        let duration = match inputs.get("duration") {
            None => Duration::from_secs(3),
            Some(v) => v
                .as_f64()
                .filter(|s| *s >= 0.0)
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .ok_or_else(|| format!("inputs.duration must be seconds >= 0, got {v}"))?,
        };
        let fail_attempts = count(inputs, "fail_attempts")?.unwrap_or(0);
        let hang = match inputs.get("hang") {
            None => false,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| format!("inputs.hang must be true or false, got {v}"))?,
        };
        let hang = match count(inputs, "hang_attempts")? {
            Some(n) => u64::from(envelope.attempt) <= n,
            None => hang,
        };
        let exit_code = match inputs.get("exit_code") {
            None => 0,
            Some(v) => v
                .as_i64()
                .filter(|c| (0..=255).contains(c))
                .and_then(|c| i32::try_from(c).ok())
                .ok_or_else(|| format!("inputs.exit_code must be an integer 0-255, got {v}"))?,
        };
        Ok(Settings {
            role,
            module,
            duration,
            fail_attempts,
            hang,
            exit_code,
        })
    }
}

fn count(inputs: &Map<String, Value>, key: &str) -> Result<Option<u64>, String> {
    inputs
        .get(key)
        .map(|v| {
            v.as_u64()
                .ok_or_else(|| format!("inputs.{key} must be an integer >= 0, got {v}"))
        })
        .transpose()
}

/// Module names become file names, so only plain identifiers are accepted.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && s.len() <= 64 && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_cannot_leave_src() {
        assert!(is_identifier("utils_2"));
        assert!(!is_identifier("../etc"));
        assert!(!is_identifier("2fast"));
        assert!(!is_identifier(""));
    }
}
