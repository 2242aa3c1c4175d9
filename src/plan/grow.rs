//! Plans that grow while they run: the empty `adhoc` plan `grove new` starts with, and tasks
//! started from the dashboard, appended to the plan's text and validated with the rest of it.

use std::path::Path;
use std::time::Duration;

use super::model::{defaults, Plan, PlanFormat, PlanSource, Strategy};
use super::{PlanError, UserConfig};

/// The name of the plan `grove new` starts.
pub const ADHOC: &str = "adhoc";

/// A task started while the run goes on (the dashboard's `n` form, or `N` copying one).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewTask {
    pub name: String,
    pub agent: String,
    pub prompt: String,
    /// None: the plan's `[defaults]` (or grove's).
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    /// The rest of the task as written in a plan (check, env, inputs, setup, sandbox…): what a
    /// copy takes over from the task it copies (see `plan::copy`). Empty for a new task.
    pub keys: serde_json::Map<String, serde_json::Value>,
}

/// The empty plan of `grove new`: no tasks yet, the user config's agents. `dir` is where its
/// text would live (it is only ever written to the run directory).
pub fn adhoc(dir: &Path, config: &UserConfig) -> Plan {
    Plan {
        name: ADHOC.into(),
        base: None,
        max_parallel: defaults::max_parallel(),
        strategy: Strategy::Parallel,
        fail_fast: false,
        min_free_memory: None,
        agents: config.agents().clone(),
        tasks: Vec::new(),
        warnings: Vec::new(),
        source: PlanSource {
            path: dir.join("plan.toml"),
            text: format!("name = \"{ADHOC}\"\n"),
            format: PlanFormat::Toml,
            base_span: None,
        },
    }
}

/// `plan` with `task` appended to its text (a `[[tasks]]` table, or an object in the JSON
/// `tasks`) and the whole validated again like a plan file: the task gets the plan's
/// `[defaults]` and every check any task gets (name rule, unique name, known agent, program on
/// PATH: `run_path`, the run's, or this process's when `None`). The new task is the returned
/// plan's last. The tasks already there keep their prompts: `prompt_file`s are not read again.
pub fn with_task(
    plan: &Plan,
    task: &NewTask,
    config: &UserConfig,
    run_path: Option<&std::ffi::OsStr>,
) -> Result<Plan, PlanError> {
    let text = match plan.source.format {
        PlanFormat::Toml => append_toml(&plan.source.text, task).ok_or_else(|| {
            let what = "a copied key has no TOML form (null)";
            PlanError::invalid(&plan.source.path, &plan.source.text, None, what)
        })?,
        PlanFormat::Json => append_json(&plan.source.text, task).map_err(|e| {
            PlanError::invalid(&plan.source.path, &plan.source.text, None, &e.to_string())
        })?,
    };
    let prompts = plan
        .tasks
        .iter()
        .map(|t| (t.name.clone(), t.prompt.clone()))
        .collect();
    super::load_recorded(
        &text,
        &plan.source.path,
        plan.source.format,
        config,
        &prompts,
        run_path,
    )
}

fn append_toml(text: &str, task: &NewTask) -> Option<String> {
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("\n[[tasks]]\n");
    out.push_str(&format!("name = {}\n", quote(&task.name)));
    out.push_str(&format!("agent = {}\n", quote(&task.agent)));
    out.push_str(&format!("prompt = {}\n", quote(&task.prompt)));
    if let Some(timeout) = task.timeout {
        let shown = humantime::format_duration(timeout).to_string();
        out.push_str(&format!("timeout = {}\n", quote(&shown)));
    }
    if let Some(retries) = task.retries {
        out.push_str(&format!("retries = {retries}\n"));
    }
    out.push_str(&super::copy::toml_lines(&task.keys)?);
    Some(out)
}

fn append_json(text: &str, task: &NewTask) -> Result<String, serde_json::Error> {
    let mut plan: serde_json::Value = serde_json::from_str(text)?;
    let mut entry = serde_json::json!({
        "name": task.name,
        "agent": task.agent,
        "prompt": task.prompt,
    });
    if let Some(timeout) = task.timeout {
        entry["timeout"] = humantime::format_duration(timeout).to_string().into();
    }
    if let Some(retries) = task.retries {
        entry["retries"] = retries.into();
    }
    if let Some(entry) = entry.as_object_mut() {
        entry.extend(task.keys.clone());
    }
    if let Some(tasks) = plan.get_mut("tasks").and_then(|t| t.as_array_mut()) {
        tasks.push(entry);
    } else if let Some(top) = plan.as_object_mut() {
        top.insert("tasks".into(), serde_json::Value::Array(vec![entry]));
    }
    let mut out = serde_json::to_string_pretty(&plan)?;
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_task(name: &str) -> NewTask {
        NewTask {
            name: name.into(),
            agent: "shell".into(),
            prompt: "echo 'a \"quoted\"'\nsecond line".into(),
            timeout: Some(Duration::from_secs(90)),
            retries: Some(2),
            keys: Default::default(),
        }
    }

    #[test]
    fn tasks_grow_an_empty_plan_and_keep_its_defaults() {
        let config = UserConfig::empty();
        let dir = tempfile::tempdir().unwrap();
        let empty = adhoc(dir.path(), &config);
        let one = with_task(&empty, &new_task("a"), &config, None).unwrap();
        assert_eq!(one.name, ADHOC);
        let a = &one.tasks[0];
        assert_eq!(a.prompt, "echo 'a \"quoted\"'\nsecond line");
        assert_eq!((a.timeout, a.retries), (Duration::from_secs(90), 2));
        let two = with_task(&one, &new_task("b"), &config, None).unwrap();
        assert_eq!(two.tasks.len(), 2);
        assert!(two.source.text.starts_with(&one.source.text));
        // Names are checked as in any plan.
        let again = with_task(&two, &new_task("a"), &config, None).unwrap_err();
        assert!(
            again.to_string().contains("duplicate task name 'a'"),
            "{again}"
        );
        let bad = with_task(&two, &new_task("no/slash"), &config, None).unwrap_err();
        assert!(bad.to_string().contains("invalid task name"), "{bad}");

        let json = Plan {
            source: PlanSource {
                text: r#"{"name": "j", "defaults": {"retries": 5}, "tasks": []}"#.into(),
                format: PlanFormat::Json,
                ..empty.source.clone()
            },
            ..empty
        };
        let task = NewTask {
            retries: None,
            ..new_task("c")
        };
        let grown = with_task(&json, &task, &config, None).unwrap();
        assert_eq!(grown.tasks[0].retries, 5);
    }

    #[test]
    fn a_plan_grows_though_its_prompt_files_are_gone() {
        let config = UserConfig::empty();
        let dir = tempfile::tempdir().unwrap();
        // Prompt files are read from inside the plan's repository.
        git2::Repository::init(dir.path()).unwrap();
        let path = dir.path().join("plan.toml");
        std::fs::write(dir.path().join("a.md"), "from the file").unwrap();
        let text = "name = \"p\"\n[defaults]\nprompt_file = \"a.md\"\n[[tasks]]\nname = \"a\"\nagent = \"shell\"\n";
        std::fs::write(&path, text).unwrap();
        let plan = super::super::load_with(&path, &config).unwrap();
        assert_eq!(plan.tasks[0].prompt, "from the file");
        std::fs::remove_file(dir.path().join("a.md")).unwrap();

        let grown = with_task(&plan, &new_task("b"), &config, None).unwrap();
        assert_eq!(grown.tasks[0].prompt, "from the file");
        assert_eq!(grown.tasks[1].prompt, new_task("b").prompt);

        // A task whose prompt file was not read needs its recorded prompt.
        let none = std::collections::BTreeMap::new();
        let format = PlanFormat::Toml;
        let err =
            super::super::load_recorded(text, &path, format, &config, &none, None).unwrap_err();
        assert!(
            err.to_string()
                .contains("the run recorded no prompt for task 'a'"),
            "{err}"
        );
        // A problem of the plan, which the command line reports with exit code 2.
        assert!(
            matches!(err, crate::plan::PlanError::Invalid { .. }),
            "{err:?}"
        );
    }
}
