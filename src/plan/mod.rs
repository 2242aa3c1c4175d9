//! Plans: the model, parsing (TOML or JSON, with positions), and validation.

mod agents;
mod argv;
mod build;
mod config;
pub mod copy;
mod deps;
mod error;
pub mod grow;
mod json_tree;
mod limits;
pub mod model;
mod names;
pub mod paths;
mod problems;
mod race;
mod repo;
mod scope;
mod settings;
mod task;
mod toml_tree;
mod tree;

use std::collections::BTreeMap;
use std::path::Path;

pub use argv::MAX_ARG_STRLEN;
pub use config::UserConfig;
pub use error::{line_col, Location, PlanError};
pub use model::{Plan, PlanFormat};
pub use names::valid_name;
pub use repo::{resolve_repo, RepoTarget};
use settings::PromptFiles;
use task::Programs;

/// Reads and validates the plan at `path` (`.json` files are JSON, anything else TOML), with the
/// user config under it, for a run in the repository that holds the plan.
pub fn load(path: &Path) -> Result<Plan, PlanError> {
    load_with(path, &UserConfig::load()?)
}

/// Like [`load`], with `config` as the user config.
pub fn load_with(path: &Path, config: &UserConfig) -> Result<Plan, PlanError> {
    load_in(path, plan_dir(path), config)
}

/// Like [`load_with`], for a run in the repository containing the folder `repo`: the plan's
/// `prompt_file`s must be inside that repository (where there is none, no prompt file is read).
pub fn load_in(path: &Path, repo: &Path, config: &UserConfig) -> Result<Plan, PlanError> {
    let (text, format) = read(path)?;
    let root = repo_root(repo);
    let prompt_files = PromptFiles::Read(root.as_deref());
    load_text(
        &text,
        path,
        format,
        config,
        Programs::Check(None),
        prompt_files,
    )
}

/// Like [`load_in`] but without looking for the agents' programs: for the grove server, loading
/// a plan the command that asked for the run has loaded already, programs found on its PATH
/// (the run's, which the agents are started with; the server's own may differ).
pub fn load_in_checked(path: &Path, repo: &Path, config: &UserConfig) -> Result<Plan, PlanError> {
    let (text, format) = read(path)?;
    let root = repo_root(repo);
    let prompt_files = PromptFiles::Read(root.as_deref());
    load_text(&text, path, format, config, Programs::Skip, prompt_files)
}

/// Validates plan `text`; `path` names it in messages and anchors relative `prompt_file`s, which
/// must be inside the repository holding `path`.
pub fn load_str(text: &str, path: &Path, format: PlanFormat) -> Result<Plan, PlanError> {
    let config = UserConfig::load()?;
    let root = repo_root(plan_dir(path));
    let prompt_files = PromptFiles::Read(root.as_deref());
    load_text(
        text,
        path,
        format,
        &config,
        Programs::Check(None),
        prompt_files,
    )
}

/// The plan `text` of a run that already started (resumed, or grown by a task; see `grow`),
/// validated like a plan file against today's `config` and the run's PATH (`run_path`: what its
/// agents start with; this process's when `None`), except that `prompt_file`s are not read
/// again: each task's prompt is the one in `prompts` (by task name), which the run recorded when
/// the task joined it. A prompt file moved or changed since does not matter.
pub fn load_recorded(
    text: &str,
    path: &Path,
    format: PlanFormat,
    config: &UserConfig,
    prompts: &BTreeMap<String, String>,
    run_path: Option<&std::ffi::OsStr>,
) -> Result<Plan, PlanError> {
    let prompt_files = PromptFiles::Recorded(prompts);
    let programs = Programs::Check(run_path.map(ToOwned::to_owned));
    load_text(text, path, format, config, programs, prompt_files)
}

/// The plan at `path` without requiring agents' programs on PATH: for listing what is
/// available and what is missing.
pub fn load_for_listing(path: &Path, config: &UserConfig) -> Result<Plan, PlanError> {
    let (text, format) = read(path)?;
    let root = repo_root(plan_dir(path));
    let prompt_files = PromptFiles::Read(root.as_deref());
    load_text(&text, path, format, config, Programs::Skip, prompt_files)
}

/// The folder the plan at `path` is in.
fn plan_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// The root (canonical) of the repository containing `dir`, if there is one.
fn repo_root(dir: &Path) -> Option<std::path::PathBuf> {
    crate::git::discover_root(dir).ok()
}

fn read(path: &Path) -> Result<(String, PlanFormat), PlanError> {
    let bytes = std::fs::read(path).map_err(|source| PlanError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| PlanError::invalid(path, "", None, "the plan is not valid UTF-8"))?;
    let is_json = path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
    let format = if is_json {
        PlanFormat::Json
    } else {
        PlanFormat::Toml
    };
    Ok((text, format))
}

fn load_text(
    text: &str,
    path: &Path,
    format: PlanFormat,
    config: &UserConfig,
    programs: Programs,
    prompt_files: PromptFiles<'_>,
) -> Result<Plan, PlanError> {
    let root = match format {
        PlanFormat::Toml => toml_tree::parse(text),
        PlanFormat::Json => json_tree::parse(text),
    };
    root.map_err(|bad| vec![bad])
        .and_then(|root| build::plan(&root, path, text, format, config, programs, prompt_files))
        .map_err(|bads| problems::into_error(bads, path, text))
}
