//! The environment a run's processes start with: the variables of the command that asked for
//! the run (`Environment::current()` where it was asked), not those of the process running it,
//! which for a run in the grove server are the server's. Serializable, so a client can send its
//! own; names and values are bytes, as the kernel keeps them, and non-UTF-8 ones survive.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A set of environment variables, cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<(Bytes, Bytes)>", into = "Vec<(Bytes, Bytes)>")]
pub struct Environment {
    vars: Arc<BTreeMap<OsString, OsString>>,
}

impl Environment {
    /// The environment of this process.
    pub fn current() -> Environment {
        std::env::vars_os().collect()
    }

    /// The value of variable `name`, if it is set.
    pub fn var(&self, name: &str) -> Option<&OsStr> {
        self.vars.get(OsStr::new(name)).map(OsString::as_os_str)
    }

    /// The value of variable `name` when it is set and UTF-8.
    pub fn var_str(&self, name: &str) -> Option<&str> {
        self.var(name).and_then(OsStr::to_str)
    }

    /// Every variable, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.as_os_str(), v.as_os_str()))
    }

    pub fn len(&self) -> usize {
        self.vars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }
}

impl<K: Into<OsString>, V: Into<OsString>> FromIterator<(K, V)> for Environment {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Environment {
        let vars = iter
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Environment {
            vars: Arc::new(vars),
        }
    }
}

/// A name or a value on the wire: a string when it is UTF-8 (most are, and stay readable), else
/// its bytes as an array.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Bytes {
    Text(String),
    Raw(Vec<u8>),
}

impl From<Bytes> for OsString {
    fn from(bytes: Bytes) -> OsString {
        match bytes {
            Bytes::Text(text) => text.into(),
            Bytes::Raw(raw) => OsString::from_vec(raw),
        }
    }
}

impl From<&OsStr> for Bytes {
    fn from(s: &OsStr) -> Bytes {
        match s.to_str() {
            Some(text) => Bytes::Text(text.to_string()),
            None => Bytes::Raw(s.as_bytes().to_vec()),
        }
    }
}

impl From<Vec<(Bytes, Bytes)>> for Environment {
    fn from(vars: Vec<(Bytes, Bytes)>) -> Environment {
        vars.into_iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }
}

impl From<Environment> for Vec<(Bytes, Bytes)> {
    fn from(env: Environment) -> Vec<(Bytes, Bytes)> {
        env.iter().map(|(k, v)| (k.into(), v.into())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(bytes: &[u8]) -> OsString {
        OsString::from_vec(bytes.to_vec())
    }

    #[test]
    fn the_current_environment_is_this_process_s() {
        let env = Environment::current();
        assert_eq!(env.len(), std::env::vars_os().count());
        for (name, value) in std::env::vars_os() {
            assert_eq!(env.var(&name.to_string_lossy()), Some(value.as_os_str()));
        }
    }

    #[test]
    fn variables_are_looked_up_by_name_and_iterated_in_order() {
        let env: Environment = [("PATH", "/bin"), ("FOO", "one"), ("EMPTY", "")]
            .into_iter()
            .collect();
        assert_eq!(env.var("FOO"), Some(OsStr::new("one")));
        assert_eq!(env.var_str("PATH"), Some("/bin"));
        assert_eq!(env.var_str("EMPTY"), Some(""));
        assert_eq!(env.var("MISSING"), None);
        let names: Vec<&OsStr> = env.iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["EMPTY", "FOO", "PATH"]);
        assert!(!env.is_empty() && Environment::default().is_empty());
    }

    #[test]
    fn non_utf8_names_and_values_survive_a_round_trip_through_json() {
        let env: Environment = [
            (raw(b"FOO"), raw(b"two")),
            (raw(b"LATIN1"), raw(b"caf\xe9")),
            (raw(b"N\xffME"), raw(b"\x00\x01 \xfe")),
        ]
        .into_iter()
        .collect();
        assert_eq!(env.var_str("LATIN1"), None, "not UTF-8");
        let json = serde_json::to_string(&env).unwrap();
        // UTF-8 stays readable.
        assert!(json.contains(r#"["FOO","two"]"#), "{json}");
        let back: Environment = serde_json::from_str(&json).unwrap();
        assert_eq!(back, env);
        assert_eq!(back.var("LATIN1"), Some(raw(b"caf\xe9").as_os_str()));
        let current = Environment::current();
        let back: Environment =
            serde_json::from_str(&serde_json::to_string(&current).unwrap()).unwrap();
        assert_eq!(back, current);
    }
}
