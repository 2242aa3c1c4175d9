//! Worktree setup before the agent starts: files copied from the main checkout, a Python
//! virtualenv with its requirements, the task's setup commands; and which of the files all that
//! puts in the worktree grove must never commit.

use std::path::{Path, PathBuf};

use crate::git::{self, GitError};
use crate::plan::model::TaskSpec;

/// The virtualenv's folder in the worktree.
pub const VENV: &str = ".venv";

/// One process run before the agent.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Step {
    /// What the pane, the log and errors call it.
    pub label: String,
    pub argv: Vec<String>,
}

/// The processes of the task's setup, in order: the venv, its requirements, the commands.
pub(super) fn steps(spec: &TaskSpec, worktree: &Path) -> Vec<Step> {
    let mut steps = Vec::new();
    if let Some(python) = &spec.python {
        steps.push(Step {
            label: format!("python3 -m venv {VENV}"),
            argv: ["python3", "-m", "venv", VENV].map(String::from).to_vec(),
        });
        let mut pip: Vec<String> = ["install", "--disable-pip-version-check"]
            .map(String::from)
            .to_vec();
        pip.extend(python.requirements.iter().cloned());
        if let Some(file) = &python.requirements_file {
            pip.extend(["-r".to_string(), file.clone()]);
        }
        if pip.len() > 2 {
            let python_bin = venv_bin(worktree).join("python");
            let mut argv = vec![python_bin.display().to_string(), "-m".into(), "pip".into()];
            argv.extend(pip.iter().cloned());
            steps.push(Step {
                label: format!("pip {}", pip.join(" ")),
                argv,
            });
        }
    }
    steps.extend(spec.setup.iter().map(|command| shell_step(command)));
    steps
}

/// `sh -c <command>` in the worktree, labelled by the command (setup commands, the check).
pub(super) fn shell_step(command: &str) -> Step {
    Step {
        label: command.to_string(),
        argv: vec!["sh".into(), "-c".into(), command.to_string()],
    }
}

/// The venv's `bin` folder in `worktree`.
pub fn venv_bin(worktree: &Path) -> PathBuf {
    worktree.join(VENV).join("bin")
}

/// Patterns (gitignore syntax, anchored at the worktree root) for what setup puts there on
/// purpose: the copied files and the venv.
pub(super) fn planned_excludes(spec: &TaskSpec) -> Vec<String> {
    let mut patterns: Vec<String> = spec.copy.iter().map(|p| exact_pattern(p)).collect();
    if spec.python.is_some() {
        patterns.push(format!("/{VENV}/"));
    }
    patterns
}

/// After setup ran: every untracked file not ignored (by .gitignore or `planned`), as an exact
/// pattern. The worktree was fresh before setup, so these are exactly what setup created;
/// files the agent adds later, even next to them, are still committed.
pub(super) fn created_excludes(
    worktree: &Path,
    planned: &[String],
) -> Result<Vec<String>, GitError> {
    let files = git::untracked_files(worktree, planned)?;
    Ok(files.iter().map(|f| exact_pattern(f)).collect())
}

/// A gitignore pattern matching exactly `path` (relative to the root): anchored, with the
/// characters patterns give meaning to escaped.
pub(super) fn exact_pattern(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 1);
    out.push('/');
    for c in path.trim_start_matches('/').chars() {
        if matches!(c, '\\' | '*' | '?' | '[' | ']' | '!' | '#' | ' ') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Copies each of `paths` (relative) from the main checkout `from` into the worktree `to`:
/// files with their permissions, folders with everything in them, symlinks as symlinks.
/// Ignored and untracked files are copied like any other.
pub(super) fn copy_files(from: &Path, to: &Path, paths: &[String]) -> Result<(), String> {
    for rel in paths {
        let src = from.join(rel);
        if std::fs::symlink_metadata(&src).is_err() {
            return Err(format!(
                "copy: '{rel}' does not exist in the main checkout ({})",
                from.display()
            ));
        }
        copy_path(&src, &to.join(rel)).map_err(|e| format!("copy: '{rel}': {e}"))?;
    }
    Ok(())
}

fn copy_path(src: &Path, dst: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(src)?;
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(src)?;
        if std::fs::symlink_metadata(dst).is_ok() {
            remove(dst)?;
        }
        std::os::unix::fs::symlink(target, dst)
    } else if meta.is_dir() {
        if std::fs::symlink_metadata(dst).is_ok_and(|m| !m.is_dir()) {
            remove(dst)?;
        }
        std::fs::create_dir_all(dst)?;
        for entry in std::fs::read_dir(src)? {
            let entry = entry?;
            copy_path(&entry.path(), &dst.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        if std::fs::symlink_metadata(dst).is_ok_and(|m| m.is_dir() || m.file_type().is_symlink()) {
            remove(dst)?;
        }
        std::fs::copy(src, dst).map(|_| ())
    }
}

fn remove(path: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(path)?.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_patterns_escape_what_patterns_mean() {
        assert_eq!(exact_pattern(".env"), "/.env");
        assert_eq!(exact_pattern("config/local.toml"), "/config/local.toml");
        assert_eq!(exact_pattern("a*b?[c] #!x"), "/a\\*b\\?\\[c\\]\\ \\#\\!x");
    }

    #[test]
    fn copies_files_folders_and_symlinks_and_names_a_missing_one() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join("config/deep")).unwrap();
        std::fs::write(from.path().join(".env"), "KEY=1\n").unwrap();
        std::fs::write(from.path().join("config/deep/x.toml"), "x = 1\n").unwrap();
        std::os::unix::fs::symlink(".env", from.path().join("link")).unwrap();
        // An older file at the destination is replaced.
        std::fs::write(to.path().join(".env"), "old\n").unwrap();
        let paths = [".env".to_string(), "config".into(), "link".into()];
        copy_files(from.path(), to.path(), &paths).unwrap();
        assert_eq!(
            std::fs::read_to_string(to.path().join(".env")).unwrap(),
            "KEY=1\n"
        );
        assert_eq!(
            std::fs::read_to_string(to.path().join("config/deep/x.toml")).unwrap(),
            "x = 1\n"
        );
        assert_eq!(
            std::fs::read_link(to.path().join("link")).unwrap(),
            Path::new(".env")
        );
        let err = copy_files(from.path(), to.path(), &["nope.txt".to_string()]).unwrap_err();
        assert!(err.starts_with("copy: 'nope.txt' does not exist"), "{err}");
    }
}
