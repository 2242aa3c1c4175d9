//! How a failed command ends: the errors that say what was asked was wrong (exit code 2).

/// A mistake in what was asked (unknown run or task, no repository): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
