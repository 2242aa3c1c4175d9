//! Every sample plan loads with the real plan loader and shows what its name promises.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use grove::plan::model::{MergeMode, Plan, Strategy};
use serde_json::json;

fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-plans")
}

fn sample(name: &str) -> Plan {
    let path = samples_dir().join(name);
    grove::plan::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn input<'a>(plan: &'a Plan, task: &str, key: &str) -> Option<&'a serde_json::Value> {
    let spec = plan.tasks.iter().find(|t| t.name == task).expect(task);
    spec.inputs.get(key)
}

#[test]
fn every_sample_plan_loads_and_uses_the_demo_agent() {
    let mut count = 0;
    for entry in fs::read_dir(samples_dir()).unwrap() {
        let path = entry.unwrap().path();
        // The Claude Code plan needs `claude` on PATH; tests/claude_agent.rs validates it
        // with a fake one.
        if path.file_name().is_some_and(|n| n == "claude.toml") {
            continue;
        }
        let plan = grove::plan::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!plan.tasks.is_empty(), "{}", path.display());
        assert!(
            plan.tasks.iter().all(|t| t.agent == "demo"),
            "{}",
            path.display()
        );
        count += 1;
    }
    assert_eq!(count, 6);
}

#[test]
fn demo_has_the_four_roles_a_retry_and_manual_merges() {
    let plan = sample("demo.toml");
    assert_eq!(plan.name, "demo");
    assert_eq!(plan.strategy, Strategy::Parallel);
    let roles: Vec<&str> = plan
        .tasks
        .iter()
        .map(|t| t.inputs["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["generator", "reviewer", "tester", "documenter"]);
    for task in &plan.tasks {
        assert_eq!(task.merge, MergeMode::Manual, "{}", task.name);
        let seconds = task.inputs["duration"].as_f64().unwrap();
        assert!((3.0..=6.0).contains(&seconds), "{}", task.name);
    }
    let flaky: Vec<_> = plan
        .tasks
        .iter()
        .filter(|t| t.inputs.get("fail_attempts") == Some(&json!(1)))
        .collect();
    assert_eq!(flaky.len(), 1);
    assert_eq!(flaky[0].retries, 2);
}

#[test]
fn retries_has_backoff_and_a_timeout() {
    let plan = sample("retries.toml");
    assert_eq!(input(&plan, "flaky", "fail_attempts"), Some(&json!(2)));
    let flaky = &plan.tasks[0];
    assert_eq!(flaky.retries, 3);
    assert_eq!(flaky.backoff.initial, Duration::from_secs(1));
    assert_eq!(input(&plan, "stuck", "hang"), Some(&json!(true)));
    let stuck = &plan.tasks[1];
    assert_eq!(stuck.timeout, Duration::from_secs(5));
    assert_eq!(stuck.retries, 1);
}

#[test]
fn pipeline_fallback_batched_and_dag_use_their_strategies() {
    let pipeline = sample("pipeline.toml");
    assert!(matches!(
        pipeline.strategy,
        Strategy::Sequential {
            pass_output: true,
            ..
        }
    ));

    let fallback = sample("fallback.toml");
    assert_eq!(fallback.strategy, Strategy::Fallback);
    assert_eq!(
        input(&fallback, "first_choice", "fail_attempts"),
        Some(&json!(1))
    );
    assert_eq!(fallback.tasks[0].retries, 0);
    assert_eq!(input(&fallback, "second_choice", "fail_attempts"), None);

    let batched = sample("batched.toml");
    assert_eq!(
        batched.strategy,
        Strategy::Batched {
            batch_size: 2,
            pass_output: true
        }
    );
    assert_eq!(batched.tasks.len(), 5);

    let dag = sample("dag.toml");
    assert_eq!(dag.strategy, Strategy::Parallel);
    let deps: Vec<(&str, Vec<&str>)> = dag
        .tasks
        .iter()
        .map(|t| {
            let on = t.depends_on.iter().map(String::as_str).collect();
            (t.name.as_str(), on)
        })
        .collect();
    assert_eq!(
        deps,
        vec![
            ("generate", vec![]),
            ("test", vec!["generate"]),
            ("document", vec!["generate"]),
            ("review", vec!["test", "document"]),
        ]
    );
}
