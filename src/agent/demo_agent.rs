//! The bundled demo agent (`grove demo-agent --envelope PATH`): an offline stand-in for a coding
//! agent that streams believable progress and writes real, deterministic files for its role.

mod envelope;
mod python;
mod request;
mod review;
mod roles;
mod term;
mod workspace;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use envelope::{Envelope, PreviousOutput, Settings};
use request::{Request, Work};
use term::{Term, BOLD, CYAN, DIM, GREEN, RED, RESET, YELLOW};

/// Runs the agent described by the envelope at `envelope` inside `workdir` (its worktree) and
/// returns the process exit code: 0 done, 1 failed (as asked, or files could not be written),
/// 2 unreadable envelope or bad inputs, or the `exit_code` input.
pub fn run(envelope: &Path, workdir: &Path) -> i32 {
    run_with_output(envelope, workdir, &mut io::stdout(), &term::stdout_columns)
}

/// [`run`] with the progress stream sent to `out` instead of standard output, on a terminal
/// `columns` says the width of (asked before each frame; None: unknown); error messages still
/// go to standard error.
pub fn run_with_output(
    envelope: &Path,
    workdir: &Path,
    out: &mut dyn Write,
    columns: &dyn Fn() -> Option<u16>,
) -> i32 {
    let job = match Job::load(envelope) {
        Ok(job) => job,
        Err(e) => {
            eprintln!("grove demo-agent: {e}");
            return 2;
        }
    };
    let mut term = Term::new(out, job.settings.duration, columns);
    match job.work(workdir, &mut term) {
        Ok(code) => code,
        Err(e) => {
            term.line(&format!("{RED}✗ {e}"));
            eprintln!("grove demo-agent: {e}");
            1
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("cannot read envelope {}: {source}", path.display())]
    ReadEnvelope { path: PathBuf, source: io::Error },
    #[error("envelope {} is not valid: {source}", path.display())]
    ParseEnvelope {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("envelope {}: {reason}", path.display())]
    BadInput { path: PathBuf, reason: String },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

struct Job {
    envelope: Envelope,
    settings: Settings,
}

impl Job {
    fn load(path: &Path) -> Result<Job, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadEnvelope {
            path: path.to_path_buf(),
            source,
        })?;
        let envelope: Envelope =
            serde_json::from_str(&text).map_err(|source| Error::ParseEnvelope {
                path: path.to_path_buf(),
                source,
            })?;
        let settings = Settings::read(&envelope).map_err(|reason| Error::BadInput {
            path: path.to_path_buf(),
            reason,
        })?;
        Ok(Job { envelope, settings })
    }

    fn previous_outputs(&self) -> &[PreviousOutput] {
        self.envelope
            .context
            .as_ref()
            .map_or(&[], |c| c.previous_outputs.as_slice())
    }

    /// The visible run: think, look around, read, then fail, hang, or write and report.
    fn work(&self, workdir: &Path, term: &mut Term<'_>) -> Result<i32, Error> {
        let env = &self.envelope;
        let role = self.settings.role;
        let req = Request {
            task: &env.task,
            prompt: &env.prompt,
            module: &self.settings.module,
        };
        self.header(term, &req);
        term.spin("thinking", 15, &format!("planned the {} work", role.name()));

        term.tool("ListFiles", ".");
        let files = workspace::survey(workdir);
        term.detail(&format!("{} files", files.len()));
        term.pause(5);
        let work = role.work(&req, &files);
        self.show_reads(term, &work, &files);

        if u64::from(env.attempt) <= self.settings.fail_attempts {
            return self.fail(term, workdir, &work);
        }
        if self.settings.hang {
            term.tool("Bash", "python -m pytest -q");
            term.spin_forever("waiting for the test run");
        }

        let step = 20 / u32::try_from(work.edits.len()).unwrap_or(1).max(1);
        for edit in &work.edits {
            let verb = if edit.existed { "Update" } else { "Write" };
            term.tool(verb, &edit.path);
            workspace::write(workdir, &edit.path, &edit.content).map_err(|source| {
                Error::Write {
                    path: workdir.join(&edit.path),
                    source,
                }
            })?;
            term.detail(&format!(
                "writing {} {GREEN}(+{} lines){RESET}",
                edit.path, edit.added_lines
            ));
            term.pause(step);
        }
        term.progress("checking changes", 25);
        term.finish();
        self.write_result(&workdir.join(&env.result_path), &work)?;
        term.line(&format!(
            "{GREEN}{BOLD}✓ {}{RESET}{GREEN}: {}",
            env.task, work.summary
        ));
        if self.settings.exit_code != 0 {
            let code = self.settings.exit_code;
            term.line(&format!(
                "{YELLOW}exiting with code {code} (inputs.exit_code)"
            ));
        }
        Ok(self.settings.exit_code)
    }

    fn header(&self, term: &mut Term<'_>, req: &Request<'_>) {
        let env = &self.envelope;
        term.line(&format!(
            "{CYAN}{BOLD}● grove demo agent{RESET} {BOLD}{}{RESET} {DIM}· {} · attempt {}/{}",
            env.task,
            self.settings.role.name(),
            env.attempt,
            env.max_attempts
        ));
        if let Some(branch) = &env.branch {
            term.line(&format!("{DIM}  on branch {branch}"));
        }
        term.line(&format!("{DIM}› {}", req.request_line()));
        let previous = self.previous_outputs();
        if !previous.is_empty() {
            term.line(&format!(
                "{CYAN}  building on {} earlier result{}",
                previous.len(),
                if previous.len() == 1 { "" } else { "s" }
            ));
            for p in previous {
                let first = p.output.lines().next().unwrap_or("").trim();
                term.line(&format!("{DIM}    ↳ {}: {first}", p.task));
            }
        }
    }

    /// Shows the reads spread over their share of the run; a long list is cut short.
    fn show_reads(&self, term: &mut Term<'_>, work: &Work, files: &[workspace::SourceFile]) {
        const SHOWN: usize = 12;
        let shown = work.reads.len().min(SHOWN);
        let step = 25 / u32::try_from(shown).unwrap_or(1).max(1);
        for path in work.reads.iter().take(SHOWN) {
            let lines = workspace::find(files, path).map_or(0, |f| f.lines());
            term.tool("Read", path);
            term.detail(&format!("reading {path} {DIM}({lines} lines)"));
            term.pause(step);
        }
        if work.reads.len() > SHOWN {
            let more = work.reads.len() - SHOWN;
            term.detail(&format!("{DIM}… and {more} more files"));
        }
    }

    /// A failed attempt as asked by `fail_attempts`: leaves a scratch file behind (so there is
    /// something for the engine to save from the attempt) and reports an error.
    fn fail(&self, term: &mut Term<'_>, workdir: &Path, work: &Work) -> Result<i32, Error> {
        let env = &self.envelope;
        let rel = format!("scratch/attempt-{}.md", env.attempt);
        let planned: Vec<String> = work
            .edits
            .iter()
            .map(|e| format!("- {}\n", e.path))
            .collect();
        let notes = format!(
            "# Scratch notes, attempt {}\n\nTask `{}` planned to write:\n\n{}",
            env.attempt,
            env.task,
            planned.concat()
        );
        term.tool("Write", &rel);
        workspace::write(workdir, &rel, &notes).map_err(|source| Error::Write {
            path: workdir.join(&rel),
            source,
        })?;
        term.pause(5);
        term.line(&format!(
            "{RED}{BOLD}✗ error:{RESET}{RED} the edit tool failed on attempt {} \
             (inputs.fail_attempts = {})",
            env.attempt, self.settings.fail_attempts
        ));
        Ok(1)
    }

    fn write_result(&self, path: &Path, work: &Work) -> Result<(), Error> {
        let files: Vec<&str> = work.edits.iter().map(|e| e.path.as_str()).collect();
        let result = json!({
            "role": self.settings.role.name(),
            "summary": work.summary,
            "files": files,
            "attempt": self.envelope.attempt,
        });
        // The engine reads the result as soon as the agent exits: never half of it.
        let text = format!("{result:#}\n");
        crate::record::write_atomic(path, text.as_bytes()).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}
