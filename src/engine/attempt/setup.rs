//! Worktree setup before the agent starts: files copied from the main checkout, a Python
//! virtualenv with its requirements, the task's setup commands; and which of the files all that
//! puts in the worktree grove must never commit.

use std::path::{Path, PathBuf};

use crate::git::{self, GitError};
use crate::plan::model::TaskSpec;
use crate::plan::paths as plan_paths;

use super::super::blocking::blocking;
use super::super::state::AttemptEnd;
use super::outcome::{timed_out, Failure, How};
use super::terminal::Terminal;

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
pub(in crate::engine) fn planned_excludes(spec: &TaskSpec) -> Vec<String> {
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
/// Ignored and untracked files are copied like any other. The folders a path goes through are
/// followed in the main checkout only while they stay in it (out of `.git` and `.grove`), and
/// never in the worktree: nothing is read or written through a symlink elsewhere.
pub(super) fn copy_files(from: &Path, to: &Path, paths: &[String]) -> Result<(), String> {
    let root = from
        .canonicalize()
        .map_err(|e| format!("copy: the main checkout {}: {e}", from.display()))?;
    for written in paths {
        let rel =
            plan_paths::normalize(written).map_err(|p| format!("copy: '{written}' is {p}"))?;
        let src = root.join(&rel);
        if std::fs::symlink_metadata(&src).is_err() {
            return Err(format!(
                "copy: '{rel}' does not exist in the main checkout ({})",
                root.display()
            ));
        }
        let parent = src.parent().unwrap_or(&root);
        let resolved = parent
            .canonicalize()
            .map_err(|e| format!("copy: '{rel}': {e}"))?;
        if let Some(problem) = plan_paths::resolved_problem(&root, &resolved) {
            return Err(format!(
                "copy: '{rel}' is {problem} once symlinks are followed ({})",
                resolved.display()
            ));
        }
        let dst = real_folders(to, Path::new(&rel)).map_err(|e| format!("copy: '{rel}': {e}"))?;
        copy_path(&src, &dst).map_err(|e| format!("copy: '{rel}': {e}"))?;
    }
    Ok(())
}

/// `to/rel`, with the folders on the way there made: each one must be a real folder, never a
/// symlink (which the copy would write through).
fn real_folders(to: &Path, rel: &Path) -> std::io::Result<PathBuf> {
    let mut dir = to.to_path_buf();
    let mut shown = PathBuf::new();
    for part in rel.parent().into_iter().flat_map(Path::components) {
        dir.push(part);
        shown.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(m) => {
                let what = plan_paths::kind(m.file_type());
                return Err(std::io::Error::other(format!(
                    "'{}' in the worktree is {what}, not a folder; grove does not write through it",
                    shown.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(&dir)?,
            Err(e) => return Err(e),
        }
    }
    Ok(to.join(rel))
}

/// Copies `src` (never followed if a symlink) to `dst`, whose folder is a real one; whatever is
/// at `dst` is replaced, not written through.
fn copy_path(src: &Path, dst: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(src)?;
    let existing = std::fs::symlink_metadata(dst).ok();
    if meta.file_type().is_symlink() {
        if existing.is_some() {
            remove(dst)?;
        }
        std::os::unix::fs::symlink(std::fs::read_link(src)?, dst)
    } else if meta.is_dir() {
        match existing {
            Some(m) if m.is_dir() => {}
            Some(_) => {
                remove(dst)?;
                std::fs::create_dir(dst)?;
            }
            None => std::fs::create_dir(dst)?,
        }
        for entry in std::fs::read_dir(src)? {
            let entry = entry?;
            copy_path(&entry.path(), &dst.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        let (mut from, meta) = plan_paths::open_regular(src)?;
        if existing.is_some() {
            remove(dst)?;
        }
        // create_new fails on anything already there, a symlink included: never followed.
        let mut to = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dst)?;
        std::io::copy(&mut from, &mut to)?;
        to.set_permissions(meta.permissions())
    }
}

fn remove(path: &Path) -> std::io::Result<()> {
    // symlink_metadata: a symlink to a folder is removed as the link it is.
    if std::fs::symlink_metadata(path)?.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

/// Copies files, makes the venv, runs the setup commands, each shown in the pane and logged;
/// adds what setup created to `excludes` (even when a step failed, so a saved attempt does not
/// hold it either).
pub(super) async fn prepare(
    term: &mut Terminal<'_>,
    excludes: &mut Vec<String>,
) -> Result<(), Failure> {
    let job = term.job;
    let (task, attempt) = (job.spec.name.as_str(), job.attempt);
    if !job.spec.copy.is_empty() {
        let (from, to, paths) = (
            job.paths.repo_root.clone(),
            term.worktree.clone(),
            job.spec.copy.clone(),
        );
        match blocking(move || copy_files(&from, &to, &paths)).await {
            Ok(Ok(())) => {
                job.audit.setup(task, attempt, "copy", "ok");
                term.announce(&format!("copied {}", job.spec.copy.join(", ")));
            }
            Ok(Err(e)) => {
                job.audit.setup(task, attempt, "copy", &e);
                // Trying again finds the same files missing.
                return Err(Failure::saved(AttemptEnd::Failed, e).not_retryable());
            }
            Err(e) => return Err(Failure::saved(AttemptEnd::Failed, e)),
        }
    }
    let steps = steps(&job.spec, &term.worktree);
    let mut outcome = Ok(());
    for step in &steps {
        outcome = run_step(term, step).await;
        if outcome.is_err() {
            break;
        }
    }
    if !steps.is_empty() {
        let (wt, planned) = (term.worktree.clone(), excludes.clone());
        let created = match blocking(move || created_excludes(&wt, &planned)).await {
            Ok(Ok(created)) => Ok(created),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e),
        };
        match created {
            Ok(created) => excludes.extend(created),
            Err(e) if outcome.is_ok() => {
                let error = format!("cannot list the files setup created: {e}");
                outcome = Err(Failure::saved(AttemptEnd::Failed, error));
            }
            Err(_) => {}
        }
    }
    outcome
}

/// One setup step to its end in the attempt's terminal; a failure names it.
async fn run_step(term: &mut Terminal<'_>, step: &Step) -> Result<(), Failure> {
    let job = term.job;
    let (task, attempt) = (job.spec.name.as_str(), job.attempt);
    let failed = |why: String| format!("setup command '{}' failed: {why}", step.label);
    let (how, exit) = match term.run_shown(&step.label, &step.argv, None).await {
        Ok(ran) => ran,
        Err(e) => {
            job.audit.setup(task, attempt, &step.label, &e);
            return Err(Failure::saved(AttemptEnd::Failed, failed(e)));
        }
    };
    match how {
        How::TimedOut => {
            let error = format!("{} (in setup: {})", timed_out(job.spec.timeout), step.label);
            Err(Failure::saved(AttemptEnd::TimedOut, error))
        }
        How::Stopped(reason) => Err(Failure::saved(AttemptEnd::Cancelled, reason)),
        How::Exited | How::AfterResult | How::Idle => match term.exit_error(exit.as_ref()) {
            None => {
                job.audit.setup(task, attempt, &step.label, "ok");
                Ok(())
            }
            Some(why) => {
                job.audit.setup(task, attempt, &step.label, &why);
                Err(Failure::saved(AttemptEnd::Failed, failed(why)))
            }
        },
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
        use std::os::unix::ffi::OsStringExt;

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
        // A FIFO is refused, never waited on for a writer.
        let fifo =
            std::ffi::CString::new(from.path().join("fifo").into_os_string().into_vec()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let err = copy_files(from.path(), to.path(), &["fifo".to_string()]).unwrap_err();
        assert_eq!(err, "copy: 'fifo': not a regular file (a FIFO)");
    }
}
