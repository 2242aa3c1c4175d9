//! Reading typed values out of the tree, each error naming the key and the table it is in.

use std::collections::BTreeMap;
use std::time::Duration;

use super::error::{quoted, Bad, Place, Res};
use super::problems::nearest;
use super::tree::{Entry, Node, Table, Value};

/// The longest duration a plan may give (`timeout`, `kill_grace`, `idle_after`, `backoff`).
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The table being read: "task 'gen'", "[defaults]", "agent 'x'", or the top level (empty).
/// Nested tables keep their parent's label and prefix their keys ("backoff.jitter").
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    label: String,
    key_prefix: String,
}

impl Scope {
    pub fn top() -> Self {
        Scope::new(String::new())
    }

    pub fn new(label: String) -> Self {
        Scope {
            label,
            key_prefix: String::new(),
        }
    }

    pub fn nested(&self, key: &str) -> Self {
        Scope {
            label: self.label.clone(),
            key_prefix: format!("{}{key}.", self.key_prefix),
        }
    }

    /// An error at byte `offset`, its message prefixed with the table's label.
    pub fn bad(&self, offset: usize, reason: impl std::fmt::Display) -> Bad {
        if self.label.is_empty() {
            Bad::at(offset, reason.to_string())
        } else {
            Bad::at(offset, format!("{}: {reason}", self.label))
        }
    }

    /// Like [`Scope::bad`], at `place`, in this file or another.
    pub fn bad_at(&self, place: &Place, reason: impl std::fmt::Display) -> Bad {
        match self.label.is_empty() {
            true => Bad::at_place(place, reason.to_string()),
            false => Bad::at_place(place, format!("{}: {reason}", self.label)),
        }
    }

    /// `'key'` as the user knows it, with the nesting prefix.
    pub fn key(&self, entry: &Entry) -> String {
        quoted(&format!("{}{}", self.key_prefix, entry.key))
    }

    /// A problem for every key of `table` not in `known` (in reading order), each suggesting the
    /// known key nearest to it.
    pub fn check_keys(&self, table: &Table, known: &[&str]) -> Vec<Bad> {
        table
            .entries()
            .iter()
            .filter(|e| !known.contains(&e.key.as_str()))
            .map(|e| {
                let near = match nearest(&e.key, known.iter().copied()) {
                    Some(near) => format!(
                        " (did you mean {}?)",
                        quoted(&format!("{}{near}", self.key_prefix))
                    ),
                    None => String::new(),
                };
                let reason = match self.label.is_empty() && self.key_prefix.is_empty() {
                    true => format!("unknown top-level key {}{near}", self.key(e)),
                    false => format!("unknown key {} in {}{near}", self.key(e), self.label),
                };
                Bad::at(e.key_span.start, reason)
            })
            .collect()
    }

    fn expected(&self, entry: &Entry, what: &str) -> Bad {
        self.bad(
            entry.value.span.start,
            format!(
                "{} must be {what}, found {}",
                self.key(entry),
                entry.value.value.kind()
            ),
        )
    }

    pub fn string<'t>(&self, entry: &'t Entry) -> Res<&'t str> {
        match &entry.value.value {
            Value::Str(s) => Ok(s),
            _ => Err(self.expected(entry, "a string")),
        }
    }

    pub fn boolean(&self, entry: &Entry) -> Res<bool> {
        match entry.value.value {
            Value::Bool(b) => Ok(b),
            _ => Err(self.expected(entry, "a boolean (true or false)")),
        }
    }

    pub fn table<'t>(&self, entry: &'t Entry) -> Res<&'t Table> {
        match &entry.value.value {
            Value::Table(t) => Ok(t),
            _ => Err(self.expected(entry, "a table")),
        }
    }

    pub fn array<'t>(&self, entry: &'t Entry) -> Res<&'t [Node]> {
        match &entry.value.value {
            Value::Array(items) => Ok(items),
            _ => Err(self.expected(entry, "an array")),
        }
    }

    /// An array of strings, each with where it is written.
    pub fn strings(&self, entry: &Entry) -> Res<Vec<(String, usize)>> {
        self.array(entry)?
            .iter()
            .map(|item| match &item.value {
                Value::Str(s) => Ok((s.clone(), item.span.start)),
                other => Err(self.bad(
                    item.span.start,
                    format!(
                        "{} must be an array of strings, found {} in it",
                        self.key(entry),
                        other.kind()
                    ),
                )),
            })
            .collect()
    }

    /// An integer in `min..=max`, converted to the type the model uses.
    pub fn count<T: TryFrom<i64>>(&self, entry: &Entry, min: i64, max: Option<i64>) -> Res<T> {
        let Value::Int(n) = entry.value.value else {
            return Err(self.expected(entry, "an integer"));
        };
        let at = entry.value.span.start;
        if n < min {
            return Err(self.bad(
                at,
                format!("{} must be {min} or more, got {n}", self.key(entry)),
            ));
        }
        if let Some(max) = max.filter(|&max| n > max) {
            return Err(self.bad(
                at,
                format!("{} must be at most {max}, got {n}", self.key(entry)),
            ));
        }
        T::try_from(n).map_err(|_| self.bad(at, format!("{} is too large: {n}", self.key(entry))))
    }

    /// A number (integer or float) that `ok` accepts; `rule` says what `ok` wants.
    pub fn number(&self, entry: &Entry, ok: impl Fn(f64) -> bool, rule: &str) -> Res<f64> {
        let n = match entry.value.value {
            Value::Int(i) => i as f64,
            Value::Float(f) => f,
            _ => return Err(self.expected(entry, "a number")),
        };
        if ok(n) {
            Ok(n)
        } else {
            Err(self.bad(
                entry.value.span.start,
                format!("{} must be {rule}, got {n}", self.key(entry)),
            ))
        }
    }

    /// A humantime string ("90s", "1h30m") or a whole number of seconds, at most
    /// [`MAX_DURATION`]: the engine adds durations to clock readings, and a limit nobody could
    /// wait out is a mistake in the plan, not a reason to overflow the clock.
    pub fn duration(&self, entry: &Entry) -> Res<Duration> {
        let at = entry.value.span.start;
        let (duration, written) = match &entry.value.value {
            Value::Str(s) => {
                let duration = humantime::parse_duration(s).map_err(|_| {
                    self.bad(
                        at,
                        format!(
                            "bad duration {s:?} for {} (use e.g. \"90s\", \"5m\", \"1h30m\")",
                            self.key(entry)
                        ),
                    )
                })?;
                (duration, s.clone())
            }
            Value::Int(n) => {
                let secs = u64::try_from(*n).map_err(|_| {
                    self.bad(
                        at,
                        format!("{} must not be negative, got {n}", self.key(entry)),
                    )
                })?;
                (Duration::from_secs(secs), format!("{n}s"))
            }
            _ => {
                return Err(self.expected(
                    entry,
                    "a duration like \"90s\" or a whole number of seconds",
                ))
            }
        };
        if duration > MAX_DURATION {
            return Err(self.bad(
                at,
                format!("{} must be at most 30 days, got {written}", self.key(entry)),
            ));
        }
        Ok(duration)
    }

    /// One of `choices`, by name.
    pub fn choice<T: Copy>(&self, entry: &Entry, choices: &[(&str, T)]) -> Res<T> {
        let s = self.string(entry)?;
        choices
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<String> = choices.iter().map(|(n, _)| format!("{n:?}")).collect();
                let near = nearest(s, choices.iter().map(|(n, _)| *n))
                    .map_or_else(String::new, |n| format!(" (did you mean {n:?}?)"));
                self.bad(
                    entry.value.span.start,
                    format!(
                        "{} must be one of {}, got {s:?}{near}",
                        self.key(entry),
                        names.join(", ")
                    ),
                )
            })
    }

    /// An `env` table: variable names to string values.
    pub fn env(&self, entry: &Entry) -> Res<BTreeMap<String, String>> {
        let nested = self.nested(&entry.key);
        let mut env = BTreeMap::new();
        for var in self.table(entry)?.entries() {
            // The OS cannot hold these; better to say so here than when the agent starts.
            if var.key.is_empty() || var.key.contains(['=', '\0']) {
                return Err(self.bad(
                    var.key_span.start,
                    format!("bad environment variable name {}", quoted(&var.key)),
                ));
            }
            let value = nested.string(var)?;
            if value.contains('\0') {
                return Err(nested.bad(
                    var.value.span.start,
                    format!("{} must not contain a NUL character", nested.key(var)),
                ));
            }
            env.insert(var.key.clone(), value.to_string());
        }
        Ok(env)
    }
}
