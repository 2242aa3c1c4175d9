//! A task's entry as written in the plan, for copying it (the dashboard's `N`): every key the
//! user set on it (check, env, inputs, setup, sandbox…), so that a copy is the whole task.

use serde_json::{Map, Value};

use super::model::{Plan, PlanFormat, TaskSpec};

/// Keys a copy sets itself (its name, and what the form lets the user edit), the race keys (a
/// copy of a sibling is one task) and `prompt_file` (a copy keeps the prompt as the run
/// recorded it; the file may have changed or gone since).
const NOT_COPIED: &[&str] = &[
    "name",
    "agent",
    "prompt",
    "prompt_file",
    "timeout",
    "retries",
    "replicas",
    "agents",
    "pick",
];

/// The keys of `task`'s entry in `plan` as written, without those in `NOT_COPIED`; for a race
/// sibling, its raced task's entry. Empty when the plan's text has no such entry (a plan whose
/// text cannot be read again has none).
pub fn task_keys(plan: &Plan, task: &TaskSpec) -> Map<String, Value> {
    let written = task.group.as_ref().map_or(&task.name, |g| &g.name);
    let entries = entries(plan);
    let entry = entries
        .into_iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(written.as_str()));
    let mut keys = entry.unwrap_or_default();
    keys.retain(|key, _| !NOT_COPIED.contains(&key.as_str()));
    keys
}

/// The `tasks` entries of the plan's text, as JSON objects.
fn entries(plan: &Plan) -> Vec<Map<String, Value>> {
    let text = &plan.source.text;
    let top: Option<Value> = match plan.source.format {
        PlanFormat::Toml => toml::from_str::<toml::Table>(text)
            .ok()
            .and_then(|t| serde_json::to_value(t).ok()),
        PlanFormat::Json => serde_json::from_str(text).ok(),
    };
    let tasks = top.and_then(|mut t| t.get_mut("tasks").map(Value::take));
    match tasks {
        Some(Value::Array(tasks)) => tasks
            .into_iter()
            .filter_map(|t| match t {
                Value::Object(map) => Some(map),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `key = value` lines for a `[[tasks]]` table; None for a value TOML cannot hold (null).
pub(super) fn toml_lines(keys: &Map<String, Value>) -> Option<String> {
    let mut out = String::new();
    for (key, value) in keys {
        let value = toml::Value::try_from(value).ok()?;
        out.push_str(&format!("{} = {value}\n", toml_key(key)));
    }
    Some(out)
}

fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match bare {
        true => key.to_string(),
        false => toml::Value::String(key.to_string()).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::UserConfig;

    #[test]
    fn keys_of_a_task_and_of_a_race_sibling_round_trip_through_toml() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.toml");
        let text = r#"name = "p"
[[tasks]]
name = "fix"
agent = "shell"
prompt = "x"
timeout = "5m"
check = "test -f done"
env = { A = "1", "B C" = "two words" }
inputs = { issue = 42, tags = ["a", "b"], nested = { deep = true } }
setup = ["touch a", "touch b"]
sandbox = "off"

[[tasks]]
name = "job"
agent = "shell"
prompt = "y"
replicas = 2
check = "true"
"#;
        std::fs::write(&path, text).unwrap();
        let plan = crate::plan::load_with(&path, &UserConfig::empty()).unwrap();
        let keys = task_keys(&plan, &plan.tasks[0]);
        let names: Vec<&str> = keys.keys().map(String::as_str).collect();
        assert_eq!(names, ["check", "env", "inputs", "sandbox", "setup"]);
        let sibling = task_keys(&plan, &plan.tasks[2]);
        assert_eq!(plan.tasks[2].name, "job.2");
        assert_eq!(sibling.keys().collect::<Vec<_>>(), ["check"]);

        // Written back as TOML, they read the same.
        let lines = toml_lines(&keys).unwrap();
        let back: toml::Table = toml::from_str(&lines).unwrap();
        assert_eq!(serde_json::to_value(back).unwrap(), Value::Object(keys));
    }
}
