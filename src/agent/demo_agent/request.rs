//! What the agent was asked, as the roles need it, and what a role gives back: shared by every
//! role (`roles`, `review`) and the agent that runs them.

use super::workspace::Edit;

/// What the agent was asked, as the roles need it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub task: &'a str,
    pub prompt: &'a str,
    /// A Python identifier (checked when the inputs are read).
    pub module: &'a str,
}

impl Request<'_> {
    pub fn module_path(&self) -> String {
        format!("src/{}.py", self.module)
    }

    /// The prompt on one line and short enough for a comment or a heading.
    pub fn request_line(&self) -> String {
        let line = self.prompt.split_whitespace().collect::<Vec<_>>().join(" ");
        match line.char_indices().nth(72) {
            Some((cut, _)) => format!("{}...", &line[..cut]),
            None => line,
        }
    }
}

/// A role's whole contribution: the files it reads for context, the files it writes, and the
/// one-line summary that ends up in the result.
#[derive(Debug, Clone)]
pub struct Work {
    pub reads: Vec<String>,
    pub edits: Vec<Edit>,
    pub summary: String,
}
