//! Dependencies, strategies, and positions in JSON plans.

use super::*;

// ---- dependencies ----

const THREE: &str = "name = \"p\"\n[[tasks]]\nname = \"a\"\nprompt = \"x\"\n[[tasks]]\nname = \"b\"\nprompt = \"x\"\n[[tasks]]\nname = \"c\"\nprompt = \"x\"\n";

/// THREE with `depends_on` lines added to tasks a, b and c (each after the task's prompt, so
/// with all three present they are lines 5, 9 and 13).
fn three_with(a: &str, b: &str, c: &str) -> String {
    let lines: Vec<&str> = THREE.lines().collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        out.push_str(line);
        out.push('\n');
        let extra = match i {
            3 => a,
            6 => b,
            9 => c,
            _ => "",
        };
        if !extra.is_empty() {
            out.push_str(&format!("depends_on = {extra}\n"));
        }
    }
    out
}

#[test]
fn unknown_dependency() {
    toml_fails_at(
        &three_with("", "[\"a\", \"zz\"]", ""),
        8,
        20,
        "task 'b' depends on unknown task 'zz'",
    );
}

#[test]
fn self_dependency() {
    toml_fails_at(
        &three_with("[\"a\"]", "", ""),
        5,
        15,
        "task 'a' depends on itself",
    );
}

#[test]
fn three_cycle_shows_path() {
    // a -> b -> c -> a: the edge closing the cycle is c's "a".
    toml_fails_at(
        &three_with("[\"b\"]", "[\"c\"]", "[\"a\"]"),
        13,
        15,
        "dependency cycle: a -> b -> c -> a",
    );
}

#[test]
fn depends_on_under_fallback() {
    let text = three_with("", "[\"a\"]", "").replacen(
        "name = \"p\"\n",
        "name = \"p\"\nstrategy = \"fallback\"\n",
        1,
    );
    toml_fails_at(
        &text,
        9,
        1,
        "task 'b': 'depends_on' is not allowed with strategy \"fallback\"",
    );
}

// ---- strategies ----

#[test]
fn batched_needs_batch_size() {
    toml_fails_at(
        &format!("name = \"p\"\nstrategy = \"batched\"\n{ONE_TASK}"),
        1,
        1,
        "strategy \"batched\" needs 'batch_size'",
    );
    toml_fails_at(
        &format!("name = \"p\"\nstrategy = \"batched\"\nbatch_size = 0\n{ONE_TASK}"),
        3,
        14,
        "'batch_size' must be 1 or more, got 0",
    );
}

#[test]
fn pass_output_only_under_sequential_and_batched() {
    for strategy in ["parallel", "fallback"] {
        toml_fails_at(
            &format!("name = \"p\"\nstrategy = \"{strategy}\"\npass_output = true\n{ONE_TASK}"),
            3,
            1,
            &format!("'pass_output' is only allowed with strategy \"sequential\" or \"batched\" (this plan's strategy is \"{strategy}\")"),
        );
    }
}

#[test]
fn stop_on_failure_only_under_sequential() {
    toml_fails_at(
        &format!("name = \"p\"\nstrategy = \"batched\"\nbatch_size = 2\nstop_on_failure = true\n{ONE_TASK}"),
        4,
        1,
        "'stop_on_failure' is only allowed with strategy \"sequential\"",
    );
}

#[test]
fn strategies_parse() {
    let plan = load_text(
        "plan.toml",
        &format!("name = \"p\"\nstrategy = \"sequential\"\npass_output = true\nstop_on_failure = true\n{ONE_TASK}"),
    )
    .unwrap();
    assert_eq!(
        plan.strategy,
        Strategy::Sequential {
            pass_output: true,
            stop_on_failure: true
        }
    );
    let plan = load_text(
        "plan.toml",
        &format!("name = \"p\"\nstrategy = \"batched\"\nbatch_size = 3\n{ONE_TASK}"),
    )
    .unwrap();
    assert_eq!(
        plan.strategy,
        Strategy::Batched {
            batch_size: 3,
            pass_output: false
        }
    );
}

// ---- JSON positions ----

#[test]
fn json_unknown_task_key() {
    json_fails_at(
        "{\n  \"name\": \"p\",\n  \"tasks\": [\n    {\"name\": \"gen\", \"prompt\": \"x\", \"tmeout\": \"5m\"}\n  ]\n}\n",
        4,
        36,
        "unknown key 'tmeout' in task 'gen'",
    );
}

#[test]
fn json_bad_duration_and_types() {
    json_fails_at(
        "{\"name\": \"p\",\n \"tasks\": [{\"name\": \"gen\", \"prompt\": \"x\",\n   \"timeout\": \"5 parsecs\"}]}",
        3,
        15,
        "task 'gen': bad duration \"5 parsecs\" for 'timeout'",
    );
    json_fails_at(
        "{\"name\": \"p\", \"fail_fast\": null,\n \"tasks\": [{\"name\": \"a\", \"prompt\": \"x\"}]}",
        1,
        28,
        "'fail_fast' must be a boolean (true or false), found null",
    );
    json_fails_at(
        "{\"name\": \"p\",\n \"tasks\": [{\"name\": \"a\", \"prompt\": \"x\", \"retries\": 1.0}]}",
        2,
        52,
        "'retries' must be an integer, found a float",
    );
}

#[test]
fn json_missing_prompt_and_cycle() {
    json_fails_at(
        "{\"name\": \"p\",\n \"tasks\": [\n  {\"name\": \"a\"}\n ]}",
        3,
        3,
        "task 'a': needs 'prompt' or 'prompt_file'",
    );
    json_fails_at(
        "{\"name\": \"p\", \"tasks\": [\n {\"name\": \"a\", \"prompt\": \"x\", \"depends_on\": [\"b\"]},\n {\"name\": \"b\", \"prompt\": \"x\", \"depends_on\": [\"a\"]}\n]}",
        3,
        46,
        "dependency cycle: a -> b -> a",
    );
}

#[test]
fn json_duplicate_key_and_non_ascii_columns() {
    json_fails_at(
        "{\"name\": \"p\", \"name\": \"q\", \"tasks\": []}",
        1,
        15,
        "duplicate key 'name'",
    );
    // Columns count characters: "é" is two bytes but one column.
    json_fails_at(
        "{\"name\": \"p\", \"tasks\": [{\"name\": \"a\", \"prompt\": \"é\", \"x\": 1}]}",
        1,
        54,
        "unknown key 'x' in task 'a'",
    );
}

#[test]
fn json_plan_must_be_an_object() {
    json_fails_at("[1, 2]", 1, 1, "a plan must be a table");
}
