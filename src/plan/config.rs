//! The user config, `$XDG_CONFIG_HOME/grove/config.toml` (default `~/.config/grove/config.toml`):
//! `[agents.*]` and `[defaults]` in plan syntax, shared by every plan. A plan's own keys win.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{Bad, Location, PlanError, SourceFile};
use super::model::AgentDef;
use super::problems::{self, Problems};
use super::scope::Scope;
use super::settings::{self, Context, PromptFiles, Settings};
use super::toml_tree;
use super::tree::Value;

/// The user config as read; empty when there is no file.
#[derive(Debug, Clone, Default)]
pub struct UserConfig {
    pub(crate) agents: BTreeMap<String, AgentDef>,
    /// Where each agent's command line is written in the config (see `agents::read`).
    pub(crate) agents_written: BTreeMap<String, Location>,
    pub(crate) defaults: Settings,
    /// `server_idle`: how long a grove server with no live run and no client stays.
    pub(crate) server_idle: Option<std::time::Duration>,
    /// Where it was read from, when there was a file.
    pub(crate) file: Option<SourceFile>,
}

impl UserConfig {
    /// No config at all (what a plan gets when the user has none).
    pub fn empty() -> UserConfig {
        UserConfig::default()
    }

    /// Where the user config lives: `$XDG_CONFIG_HOME/grove/config.toml`, or
    /// `$HOME/.config/grove/config.toml` when XDG_CONFIG_HOME is unset or empty.
    pub fn default_path() -> Option<PathBuf> {
        UserConfig::default_path_in(&crate::environment::Environment::current())
    }

    /// Where the user config lives for a command run with `env` (a run started through the
    /// grove server reads the config of the command that asked for it).
    pub fn default_path_in(env: &crate::environment::Environment) -> Option<PathBuf> {
        let non_empty = |name: &str| env.var(name).filter(|v| !v.is_empty());
        let base = match non_empty("XDG_CONFIG_HOME") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(non_empty("HOME")?).join(".config"),
        };
        Some(base.join("grove").join("config.toml"))
    }

    /// Reads the config at its default place; no file there means an empty config.
    pub fn load() -> Result<UserConfig, PlanError> {
        UserConfig::load_at_default(true)
    }

    /// Like [`UserConfig::load`], for a command run with `env`.
    pub fn load_in(env: &crate::environment::Environment) -> Result<UserConfig, PlanError> {
        match UserConfig::default_path_in(env) {
            Some(path) if path.exists() => UserConfig::read_file(&path, true),
            _ => Ok(UserConfig::empty()),
        }
    }

    /// Like [`UserConfig::load`], for a run that already started (resumed, or growing by a
    /// task): a `prompt_file` in its `[defaults]` is not read, as the run recorded its prompts.
    pub fn load_for_started_run() -> Result<UserConfig, PlanError> {
        UserConfig::load_at_default(false)
    }

    /// Like [`UserConfig::load_for_started_run`], for a run whose commands run with `env`.
    pub fn load_for_started_run_in(
        env: &crate::environment::Environment,
    ) -> Result<UserConfig, PlanError> {
        UserConfig::load_at(UserConfig::default_path_in(env), false)
    }

    fn load_at_default(read_prompt_files: bool) -> Result<UserConfig, PlanError> {
        UserConfig::load_at(UserConfig::default_path(), read_prompt_files)
    }

    fn load_at(path: Option<PathBuf>, read_prompt_files: bool) -> Result<UserConfig, PlanError> {
        match path {
            Some(path) if path.exists() => UserConfig::read_file(&path, read_prompt_files),
            _ => Ok(UserConfig::empty()),
        }
    }

    /// Reads and validates the config at `path`. Errors name that file, with line and column.
    pub fn load_from(path: &Path) -> Result<UserConfig, PlanError> {
        UserConfig::read_file(path, true)
    }

    /// Reads the config at `path`; its `prompt_file`s only if `read_prompt_files`, and only
    /// from inside the config's own folder (the config's counterpart of a plan's repository).
    fn read_file(path: &Path, read_prompt_files: bool) -> Result<UserConfig, PlanError> {
        let bytes = std::fs::read(path).map_err(|source| PlanError::ReadConfig {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| {
            PlanError::invalid(path, "", None, "the user config is not valid UTF-8")
        })?;
        let file = SourceFile {
            path: path.to_path_buf(),
            text,
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.canonicalize().ok(),
            _ => std::env::current_dir().ok(),
        };
        let recorded = BTreeMap::new();
        let prompt_files = match read_prompt_files {
            true => PromptFiles::Read(dir.as_deref()),
            false => PromptFiles::Recorded(&recorded),
        };
        read(&file, prompt_files).map_err(|bads| problems::into_error(bads, &file.path, &file.text))
    }

    /// The path the config was read from, if a file was read.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|f| f.path.as_path())
    }

    /// `server_idle`, when the config sets it.
    pub fn server_idle(&self) -> Option<std::time::Duration> {
        self.server_idle
    }

    /// The agents the config defines (presets it overrides included).
    pub fn agents(&self) -> &BTreeMap<String, AgentDef> {
        &self.agents
    }
}

fn read(file: &SourceFile, prompt_files: PromptFiles<'_>) -> Result<UserConfig, Vec<Bad>> {
    let root = toml_tree::parse(&file.text).map_err(|bad| vec![bad])?;
    let Value::Table(top) = &root.value else {
        return Err(vec![Bad::at(0, "the user config must be a table of keys")]);
    };
    let mut problems = Problems::default();
    let scope = Scope::top();
    problems.extend(scope.check_keys(top, &["agents", "defaults", "server_idle"]));
    let (agents, written) = match top.get("agents") {
        Some(e) => {
            let read = super::agents::read(e, &scope, crate::agent::preset, &mut problems);
            problems.take(read).unwrap_or_default()
        }
        None => Default::default(),
    };
    let agents_written = written
        .into_iter()
        .map(|(name, at)| (name, file.location(at)))
        .collect();
    let cx = Context {
        plan_dir: file.path.parent().unwrap_or(Path::new("")),
        agents: &agents,
        file: Some(file),
        prompt_files,
        passes_outputs: false,
    };
    let defaults = match top.get("defaults") {
        Some(e) => {
            let scope = Scope::new("[defaults]".into());
            match problems.take(scope.table(e)) {
                Some(table) => {
                    problems.extend(scope.check_keys(table, settings::KEYS));
                    Settings::read(table, &scope, &cx, &mut problems)
                }
                None => Settings::default(),
            }
        }
        None => Settings::default(),
    };
    let server_idle = top
        .get("server_idle")
        .and_then(|e| problems.take(scope.duration(e)));
    problems.result(UserConfig {
        agents,
        agents_written,
        defaults,
        server_idle,
        file: Some(file.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_idle_is_a_duration_and_a_bad_one_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "server_idle = \"5m\"\n").unwrap();
        let config = UserConfig::load_from(&path).unwrap();
        assert_eq!(
            config.server_idle(),
            Some(std::time::Duration::from_secs(300))
        );
        assert_eq!(UserConfig::empty().server_idle(), None);
        std::fs::write(&path, "\nserver_idle = \"soon\"\n").unwrap();
        let err = UserConfig::load_from(&path).unwrap_err().to_string();
        assert!(err.contains(&format!("{}:2:15", path.display())), "{err}");
    }
}
