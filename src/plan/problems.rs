//! Reading a plan goes on past a problem, so one run of `grove validate` names every problem
//! (up to [`MAX_SHOWN`]); and an unknown name is answered with the nearest known one.

use std::path::Path;

use super::error::{quoted, Bad, PlanError, Res};

/// How many problems are told; more are counted.
pub const MAX_SHOWN: usize = 20;

/// The problems found so far, in the order found.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    found: Vec<Bad>,
}

impl Problems {
    pub fn add(&mut self, bad: Bad) {
        self.found.push(bad);
    }

    pub fn extend(&mut self, bads: impl IntoIterator<Item = Bad>) {
        self.found.extend(bads);
    }

    /// The value of `res`, or None with its problem noted.
    pub fn take<T>(&mut self, res: Res<T>) -> Option<T> {
        match res {
            Ok(value) => Some(value),
            Err(bad) => {
                self.add(bad);
                None
            }
        }
    }

    /// What was found (when something missing could only be missing because of it).
    pub fn found(self) -> Vec<Bad> {
        self.found
    }

    pub fn len(&self) -> usize {
        self.found.len()
    }

    /// `value` when nothing was found, else every problem.
    pub fn result<T>(self, value: T) -> Result<T, Vec<Bad>> {
        match self.found.is_empty() {
            true => Ok(value),
            false => Err(self.found),
        }
    }
}

/// The problems of the file at `path` holding `text` as one error: a single one as it is, more
/// as [`PlanError::Several`], in the order they are written in the file (those in another file,
/// the user config, after them), at most [`MAX_SHOWN`] of them.
pub(crate) fn into_error(mut bads: Vec<Bad>, path: &Path, text: &str) -> PlanError {
    bads.sort_by_key(|b| (b.elsewhere.is_some(), b.at));
    bads.dedup();
    let more = bads.len().saturating_sub(MAX_SHOWN);
    let mut errors: Vec<PlanError> = bads
        .into_iter()
        .take(MAX_SHOWN)
        .map(|b| b.into_error(path, text))
        .collect();
    match (errors.len(), errors.pop()) {
        (1, Some(only)) => only,
        (_, last) => {
            errors.extend(last);
            PlanError::Several { errors, more }
        }
    }
}

/// ` (did you mean 'agent'?)` when one of `known` is near `word`, else nothing.
pub(crate) fn did_you_mean<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    match nearest(word, known) {
        Some(near) => format!(" (did you mean {}?)", quoted(near)),
        None => String::new(),
    }
}

/// The one of `known` nearest to `word`, if near enough to be what was meant: a letter or two
/// off (swapped letters count once), or the same but for case.
pub(crate) fn nearest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let allowed = (word.chars().count() / 3).clamp(1, 3);
    known
        .into_iter()
        .filter(|k| *k != word)
        .map(|k| (strsim::osa_distance(&lower, &k.to_lowercase()), k))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_names_are_suggested_far_ones_not() {
        let keys = ["agent", "agents", "name", "timeout", "retries"];
        assert_eq!(nearest("agnet", keys), Some("agent"));
        assert_eq!(nearest("timout", keys), Some("timeout"));
        assert_eq!(nearest("Name", keys), Some("name"));
        assert_eq!(nearest("retry", keys), None);
        assert_eq!(nearest("colour", keys), None);
        assert_eq!(nearest("x", keys), None);
        assert_eq!(did_you_mean("agnet", keys), " (did you mean 'agent'?)");
        assert_eq!(did_you_mean("zzz", keys), "");
    }

    #[test]
    fn several_problems_are_told_in_file_order_up_to_the_limit() {
        let text = "a\nb\nc\n";
        let path = Path::new("plan.toml");
        let one = into_error(vec![Bad::at(2, "second line")], path, text);
        assert_eq!(one.to_string(), "plan.toml:2:1: second line");
        let two = into_error(
            vec![Bad::at(4, "third line"), Bad::at(0, "first line")],
            path,
            text,
        );
        assert_eq!(
            two.to_string(),
            "plan.toml:1:1: first line\nplan.toml:3:1: third line"
        );
        assert_eq!(two.line_col(), Some((1, 1)));
        let many: Vec<Bad> = (0..MAX_SHOWN + 3)
            .map(|i| Bad::at(i, format!("p{i}")))
            .collect();
        let told = into_error(many, path, text).to_string();
        assert_eq!(told.lines().count(), MAX_SHOWN + 1, "{told}");
        assert!(
            told.ends_with("… and 3 more problems (only the first 20 are told)"),
            "{told}"
        );
    }
}
