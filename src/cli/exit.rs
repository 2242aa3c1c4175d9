//! How a failed command ends: the errors that know their exit code say it through [`ExitCode`],
//! and [`report`] finds the one a command failed with, prints it and returns its code. Exit
//! codes are the command line's business, so the error types say what happened and the mapping
//! to codes lives here: 2 for bad input (a plan problem, an unknown run or task, grove's folders
//! as links), 1 for anything else.

use crate::engine::{EngineError, ResumeError};
use crate::plan::PlanError;
use crate::record::folders::FolderError;
use std::io::Write;

/// A mistake in what was asked (unknown run or task, no repository): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// An error that decides how a failed command ends.
pub trait ExitCode: std::fmt::Display {
    /// The process's exit code.
    fn exit_code(&self) -> i32;

    /// What stderr says after `error: `; `whole` is the error as the command returned it (this
    /// one with any context around it). By default this error's own words.
    fn describe(&self, _whole: &anyhow::Error) -> String {
        self.to_string()
    }
}

impl ExitCode for PlanError {
    /// Every plan problem is a usage error.
    fn exit_code(&self) -> i32 {
        2
    }

    /// One `error:` line per problem when the plan has several.
    fn describe(&self, _whole: &anyhow::Error) -> String {
        self.to_string()
            .lines()
            .collect::<Vec<_>>()
            .join("\nerror: ")
    }
}

impl ExitCode for UsageError {
    fn exit_code(&self) -> i32 {
        2
    }
}

impl ExitCode for ResumeError {
    /// 2 for what was asked (unknown, live or finished run; a plan that no longer loads).
    fn exit_code(&self) -> i32 {
        match self {
            ResumeError::NoRun { .. }
            | ResumeError::NoJournal { .. }
            | ResumeError::Live { .. }
            | ResumeError::Finished { .. }
            | ResumeError::FollowUp { .. }
            | ResumeError::Plan { .. }
            | ResumeError::Changed { .. }
            | ResumeError::Folder(_) => 2,
            ResumeError::Engine(e) => e.exit_code(),
            _ => 1,
        }
    }
}

impl ExitCode for EngineError {
    /// 2 for what the repository brought (grove's folders as links), 1 otherwise.
    fn exit_code(&self) -> i32 {
        match self {
            EngineError::Folder(_) => 2,
            _ => 1,
        }
    }

    /// With every cause and context: what failed while starting is not always this error's own.
    fn describe(&self, whole: &anyhow::Error) -> String {
        format!("{whole:#}")
    }
}

impl ExitCode for FolderError {
    fn exit_code(&self) -> i32 {
        2
    }
}

/// Finds an error of type `T` in `e` (itself, or under the context added to it).
fn found<T>(e: &anyhow::Error) -> Option<&dyn ExitCode>
where
    T: ExitCode + std::fmt::Debug + Send + Sync + 'static,
{
    e.downcast_ref::<T>().map(|t| t as &dyn ExitCode)
}

/// Looks for one error type in an anyhow error.
type Finder = for<'a> fn(&'a anyhow::Error) -> Option<&'a dyn ExitCode>;

/// The error types that know their exit code, the first found deciding.
const KNOWN: [Finder; 5] = [
    found::<PlanError>,
    found::<UsageError>,
    found::<ResumeError>,
    found::<EngineError>,
    found::<FolderError>,
];

/// The exit code a failed command ends with, and what it prints after `error: `.
pub fn exit_code_and_message(e: &anyhow::Error) -> (i32, String) {
    match KNOWN.iter().find_map(|find| find(e)) {
        Some(known) => (known.exit_code(), known.describe(e)),
        None => (1, format!("{e:#}")),
    }
}

/// Prints why a command failed on stderr; returns the exit code.
pub fn report(e: &anyhow::Error) -> i32 {
    let (code, message) = exit_code_and_message(e);
    // Not eprintln!: with the terminal gone (SIGHUP) it would panic instead.
    let _ = writeln!(std::io::stderr(), "error: {message}");
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    fn folder_error() -> FolderError {
        FolderError::Link {
            path: ".grove/runs".into(),
        }
    }

    #[test]
    fn usage_errors_say_their_own_words_under_context() {
        let e = Err::<(), _>(UsageError("no run 'r9'".into()))
            .context("while cleaning")
            .unwrap_err();
        assert_eq!(exit_code_and_message(&e), (2, "no run 'r9'".to_string()));
    }

    #[test]
    fn plan_problems_are_one_error_line_each() {
        let e = anyhow::Error::from(PlanError::Several {
            errors: vec![
                PlanError::NotARepo { dir: "/a".into() },
                PlanError::NotARepo { dir: "/b".into() },
            ],
            more: 0,
        });
        let (code, message) = exit_code_and_message(&e);
        assert_eq!(code, 2);
        let lines: Vec<_> = format!("error: {message}")
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines.iter().all(|l| l.starts_with("error: ")), "{lines:?}");
    }

    #[test]
    fn engine_errors_show_every_cause() {
        let e = anyhow::Error::from(EngineError::UnknownAgent {
            task: "a".into(),
            agent: "x".into(),
        })
        .context("starting the run");
        assert_eq!(
            exit_code_and_message(&e),
            (
                1,
                "starting the run: task 'a': unknown agent 'x'".to_string()
            )
        );
        let links = anyhow::Error::from(EngineError::Folder(folder_error()));
        assert_eq!(exit_code_and_message(&links).0, 2);
    }

    #[test]
    fn a_resume_takes_the_code_of_what_it_failed_on() {
        let finished = ResumeError::Finished {
            run_id: "r1".into(),
        };
        assert_eq!(exit_code_and_message(&finished.into()).0, 2);
        let engine = ResumeError::Engine(EngineError::UnknownAgent {
            task: "a".into(),
            agent: "x".into(),
        });
        assert_eq!(exit_code_and_message(&engine.into()).0, 1);
        let folder = ResumeError::Engine(EngineError::Folder(folder_error()));
        assert_eq!(exit_code_and_message(&folder.into()).0, 2);
        assert_eq!(exit_code_and_message(&folder_error().into()).0, 2);
    }

    #[test]
    fn anything_else_is_1_with_its_causes() {
        let e = Err::<(), _>(std::io::Error::other("disk full"))
            .context("cannot write results.json")
            .unwrap_err();
        assert_eq!(
            exit_code_and_message(&e),
            (1, "cannot write results.json: disk full".to_string())
        );
    }
}
