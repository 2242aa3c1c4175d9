//! Plan errors: one-line messages that point at a file and, when known, a line and column (one
//! line per problem when a plan has several).

use std::fmt;
use std::path::{Path, PathBuf};

/// A file, and the 1-based line and character column in it when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line_col: Option<(usize, usize)>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.line_col {
            write!(f, ":{line}:{col}")?;
        }
        Ok(())
    }
}

/// Why a plan could not be loaded or its repository used. `Display` is one line per problem.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{}: cannot read plan: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot read the user config: {source}", path.display())]
    ReadConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Syntax and validation errors, and a `base` that does not resolve.
    #[error("{at}: {reason}")]
    Invalid { at: Location, reason: String },
    /// Several problems in a plan (each an `Invalid`), in the order they are written, and how
    /// many more were found than are told.
    #[error("{}", several(errors, *more))]
    Several { errors: Vec<PlanError>, more: usize },
    #[error("{}: not inside a git repository", dir.display())]
    NotARepo { dir: PathBuf },
    #[error("{}: is a bare repository (grove needs a working tree)", dir.display())]
    BareRepo { dir: PathBuf },
    #[error("{}: the repository has no commits yet (make a first commit)", dir.display())]
    NoCommits { dir: PathBuf },
    #[error("{}: git: {message}", dir.display())]
    Git { dir: PathBuf, message: String },
}

impl PlanError {
    /// Line and column of the offending key or value, when the error has one.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        match self {
            PlanError::Invalid { at, .. } => at.line_col,
            PlanError::Several { errors, .. } => errors.first().and_then(PlanError::line_col),
            _ => None,
        }
    }

    /// An error in the plan file at byte `offset` of `text` (or at no position).
    pub(crate) fn invalid(path: &Path, text: &str, offset: Option<usize>, reason: &str) -> Self {
        PlanError::Invalid {
            at: Location {
                file: path.to_path_buf(),
                line_col: offset.map(|o| line_col(text, o)),
            },
            reason: one_line(reason),
        }
    }

    pub(crate) fn git(dir: &Path, err: &git2::Error) -> Self {
        PlanError::Git {
            dir: dir.to_path_buf(),
            message: one_line(err.message()),
        }
    }
}

fn several(errors: &[PlanError], more: usize) -> String {
    let mut lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    if more > 0 {
        lines.push(format!(
            "… and {more} more problem{} (only the first {} are told)",
            if more == 1 { "" } else { "s" },
            errors.len()
        ));
    }
    lines.join("\n")
}

/// A problem found while walking the plan, at a byte offset of the plan text; turned into a
/// `PlanError` once, where the file name and text are known. A problem in another file (the
/// user config) carries its location already.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bad {
    pub at: Option<usize>,
    pub reason: String,
    pub elsewhere: Option<Location>,
}

impl Bad {
    pub fn at(offset: usize, reason: impl Into<String>) -> Self {
        Bad {
            at: Some(offset),
            reason: reason.into(),
            elsewhere: None,
        }
    }

    /// A problem at `place`, in this file or another.
    pub fn at_place(place: &Place, reason: impl Into<String>) -> Self {
        match place {
            Place::Here(offset) => Bad::at(*offset, reason),
            Place::Elsewhere(location) => Bad {
                at: None,
                reason: reason.into(),
                elsewhere: Some(location.clone()),
            },
        }
    }

    pub fn into_error(self, path: &Path, text: &str) -> PlanError {
        match self.elsewhere {
            Some(at) => PlanError::Invalid {
                at,
                reason: one_line(&self.reason),
            },
            None => PlanError::invalid(path, text, self.at, &self.reason),
        }
    }
}

/// Where something is written: at a byte offset of the file being read, or in another file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Place {
    Here(usize),
    Elsewhere(Location),
}

/// A file read besides the plan (the user config), to point into it.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    pub fn location(&self, offset: usize) -> Location {
        Location {
            file: self.path.clone(),
            line_col: Some(line_col(&self.text, offset)),
        }
    }
}

pub(crate) type Res<T> = Result<T, Bad>;

/// 1-based line and column of byte `offset`, the column counted in characters.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    // Counting bytes that start a UTF-8 character counts characters, even if `offset` falls
    // inside one.
    let col = 1 + before[line_start..]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count();
    (line, col)
}

/// `'s'`, with control characters escaped so a message stays on one line.
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Messages from libraries (toml, git) are not ours to keep on one line.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let text = "ab\nçé = 1\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        // 'ç' and 'é' are two bytes each: byte 7 is the space after them.
        assert_eq!(line_col(text, 7), (2, 3));
        assert_eq!(line_col(text, 100), (3, 1));
    }

    #[test]
    fn quoted_escapes_control_characters() {
        assert_eq!(quoted("a\nb"), "'a\\nb'");
        assert_eq!(quoted("gen"), "'gen'");
    }
}
