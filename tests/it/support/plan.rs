//! Plans for tests, built instead of written out: most tests need a few shell tasks and a key or
//! two, not the TOML itself. Tests of the plan format keep their TOML text.
//!
//! ```ignore
//! let plan = Plan::new()
//!     .set("max_parallel", 1)
//!     .default("merge", "auto")
//!     .shell_task("a", "echo a > a.txt")
//!     .timeout("5s")
//!     .shell_task("b", "echo b > b.txt")
//!     .depends_on(&["a"])
//!     .with("backoff", Raw(r#"{ initial = "1s", jitter = 0.0 }"#))
//!     .to_toml();
//! ```

/// A value as TOML: strings are quoted, numbers and booleans written as they are; [`Raw`] is
/// written verbatim (an inline table or an array).
pub trait Toml {
    fn toml(&self) -> String;
}

impl Toml for str {
    fn toml(&self) -> String {
        quote(self)
    }
}

impl<T: Toml + ?Sized> Toml for &T {
    fn toml(&self) -> String {
        (**self).toml()
    }
}

impl Toml for String {
    fn toml(&self) -> String {
        quote(self)
    }
}

impl Toml for bool {
    fn toml(&self) -> String {
        self.to_string()
    }
}

impl Toml for i64 {
    fn toml(&self) -> String {
        self.to_string()
    }
}

impl Toml for i32 {
    fn toml(&self) -> String {
        self.to_string()
    }
}

impl Toml for f64 {
    fn toml(&self) -> String {
        format!("{self:?}")
    }
}

/// TOML text written as it is: `Raw(r#"{ initial = "1s" }"#)`, `Raw(r#"["a", "b"]"#)`.
pub struct Raw<'a>(pub &'a str);

impl Toml for Raw<'_> {
    fn toml(&self) -> String {
        self.0.to_string()
    }
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A plan being built; [`Plan::to_toml`] writes it.
pub struct Plan {
    top: Vec<(String, String)>,
    defaults: Vec<(String, String)>,
    tasks: Vec<Vec<(String, String)>>,
}

impl Default for Plan {
    fn default() -> Plan {
        Plan::new()
    }
}

impl Plan {
    /// A plan named `p`, no tasks yet.
    pub fn new() -> Plan {
        Plan::named("p")
    }

    pub fn named(name: &str) -> Plan {
        Plan {
            top: vec![("name".into(), quote(name))],
            defaults: Vec::new(),
            tasks: Vec::new(),
        }
    }

    /// A top-level key (`max_parallel`, `merge`, `fail_fast`…).
    pub fn set(mut self, key: &str, value: impl Toml) -> Plan {
        self.top.push((key.into(), value.toml()));
        self
    }

    /// A key of `[defaults]`.
    pub fn default(mut self, key: &str, value: impl Toml) -> Plan {
        self.defaults.push((key.into(), value.toml()));
        self
    }

    /// A task run by the `shell` agent: `prompt` is a shell script.
    pub fn shell_task(self, name: &str, prompt: &str) -> Plan {
        self.task(name, "shell", prompt)
    }

    /// A task with `agent`.
    pub fn task(mut self, name: &str, agent: &str, prompt: &str) -> Plan {
        self.tasks.push(vec![
            ("name".into(), quote(name)),
            ("agent".into(), quote(agent)),
            ("prompt".into(), quote(prompt)),
        ]);
        self
    }

    /// A key of the task added last.
    pub fn with(mut self, key: &str, value: impl Toml) -> Plan {
        let task = self
            .tasks
            .last_mut()
            .expect("Plan::with needs a task first");
        task.push((key.into(), value.toml()));
        self
    }

    /// The last task's `timeout` (a duration like `"5s"`).
    pub fn timeout(self, duration: &str) -> Plan {
        self.with("timeout", duration)
    }

    /// The last task's `retries`.
    pub fn retries(self, retries: i64) -> Plan {
        self.with("retries", retries)
    }

    /// The last task's `depends_on`.
    pub fn depends_on(self, names: &[&str]) -> Plan {
        let list: Vec<String> = names.iter().map(|n| quote(n)).collect();
        self.with("depends_on", Raw(&format!("[{}]", list.join(", "))))
    }

    /// The plan's TOML text.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let lines = |out: &mut String, keys: &[(String, String)]| {
            for (key, value) in keys {
                out.push_str(&format!("{key} = {value}\n"));
            }
        };
        lines(&mut out, &self.top);
        if !self.defaults.is_empty() {
            out.push_str("[defaults]\n");
            lines(&mut out, &self.defaults);
        }
        for task in &self.tasks {
            out.push_str("[[tasks]]\n");
            lines(&mut out, task);
        }
        out
    }
}

#[test]
fn a_built_plan_is_the_toml_a_test_would_write() {
    let built = Plan::new()
        .set("max_parallel", 1)
        .default("merge", "auto")
        .shell_task("a", "echo a > a.txt")
        .timeout("5s")
        .retries(2)
        .shell_task("b", "echo b")
        .depends_on(&["a"])
        .with("backoff", Raw("{ initial = \"1s\" }"))
        .to_toml();
    let expected = r#"
name = "p"
max_parallel = 1
[defaults]
merge = "auto"
[[tasks]]
name = "a"
agent = "shell"
prompt = "echo a > a.txt"
timeout = "5s"
retries = 2
[[tasks]]
name = "b"
agent = "shell"
prompt = "echo b"
depends_on = ["a"]
backoff = { initial = "1s" }
"#;
    assert_eq!(
        toml::from_str::<toml::Table>(&built).unwrap(),
        toml::from_str::<toml::Table>(expected).unwrap()
    );
}

#[test]
fn a_prompt_reaches_the_plan_as_it_is() {
    let prompt = "printf '\\033[32m\"x\"\\n' > a.txt\n\techo '''done'''\u{1b}";
    let built = Plan::new().shell_task("a", prompt).to_toml();
    let table: toml::Table = toml::from_str(&built).unwrap();
    assert_eq!(table["tasks"][0]["prompt"].as_str(), Some(prompt));
}
