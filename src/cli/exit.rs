//! How a failed command ends: the errors that say what was asked was wrong (exit code 2).

/// A mistake in what was asked (unknown run or task, no repository): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Prints why a command failed on stderr; returns the exit code: 2 for bad input (a plan
/// problem, one line each; what was asked), 1 otherwise.
pub fn report(e: &anyhow::Error) -> i32 {
    use crate::engine::{self, ResumeError};
    use crate::plan::PlanError;
    if let Some(plan_error) = e.downcast_ref::<PlanError>() {
        // One line per problem when the plan has several.
        for line in plan_error.to_string().lines() {
            eprintln!("error: {line}");
        }
        return plan_error.exit_code();
    }
    if let Some(usage) = e.downcast_ref::<UsageError>() {
        eprintln!("error: {usage}");
        return 2;
    }
    if let Some(resume) = e.downcast_ref::<ResumeError>() {
        eprintln!("error: {resume}");
        return resume.exit_code();
    }
    if let Some(engine) = e.downcast_ref::<engine::EngineError>() {
        eprintln!("error: {e:#}");
        return engine.exit_code();
    }
    if let Some(folder) = e.downcast_ref::<crate::record::folders::FolderError>() {
        eprintln!("error: {folder}");
        return 2;
    }
    eprintln!("error: {e:#}");
    1
}
