//! `grove attach [run-id]`: the dashboard (or the line printer) on a run of the repository's
//! grove server, as it is now and then live; with `--ssh user@host`, on a run of another
//! machine's server, through `ssh user@host grove proxy --repo PATH`. A run that is not live
//! because its server is gone (kill -9, out of memory, reboot) is said to be so, with the
//! resume offered.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Args;

use super::drive::{show, FrontEndArgs, OnSignal};
use super::exit::UsageError;
use super::history::{self, RunState};
use super::repo::repo_root;
use crate::server::client::{self, Connection};
use crate::server::handshake::{self, Hello, Role};
use crate::server::remote::{self, Attach};

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The run to attach to (default: the newest live run; see grove ps).
    pub run_id: Option<String>,
    /// The git repository (default: the one containing the current directory); with --ssh,
    /// the repository's path on the remote machine.
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// Attach to a run on another machine: `ssh USER@HOST grove proxy --repo PATH`.
    #[arg(long, value_name = "USER@HOST")]
    pub ssh: Option<String>,
    /// An ssh option for --ssh (`-o OPTION`), e.g. `Port=2222`; may be repeated.
    #[arg(long = "ssh-option", value_name = "OPTION", requires = "ssh")]
    pub ssh_options: Vec<String>,
    /// The grove program on the remote machine, for --ssh.
    #[arg(
        long,
        value_name = "PROGRAM",
        default_value = "grove",
        requires = "ssh"
    )]
    pub remote_grove: String,
    #[command(flatten)]
    pub front: FrontEndArgs,
}

/// `grove attach`.
pub fn attach(args: AttachArgs) -> anyhow::Result<i32> {
    if let Some(destination) = &args.ssh {
        return attach_over_ssh(destination, &args);
    }
    let root = repo_root(args.repo.as_deref())?;
    let attached = match client::connect(&root)? {
        Some(connection) => remote::attach(connection, args.run_id.as_deref())?,
        None => Attach::NotHosted,
    };
    match attached {
        Attach::Attached(remote) => show(*remote, args.front, Vec::new(), OnSignal::Detach),
        Attach::Failed { message, exit_code } => {
            eprintln!("error: {message}");
            Ok(exit_code)
        }
        Attach::NotHosted => not_live(&root, args.run_id.as_deref(), &args),
    }
}

/// The run asked for is not in a live server: say why, and offer the resume when it is
/// unfinished.
fn not_live(root: &Path, run_id: Option<&str>, args: &AttachArgs) -> anyhow::Result<i32> {
    let entry = match run_id {
        Some(run_id) => history::existing_run(root, run_id)?,
        None => {
            let unfinished = history::runs(root)
                .into_iter()
                .rev()
                .find(|run| run.state() == RunState::Unfinished);
            match unfinished {
                Some(entry) => entry,
                None => {
                    return Err(UsageError(format!(
                        "no live run in {} (grove ls lists its runs)",
                        root.display()
                    ))
                    .into())
                }
            }
        }
    };
    let run_id = entry.run_id().to_string();
    match entry.state() {
        RunState::Finished => Err(UsageError(format!(
            "run {run_id} has ended ({}); grove show {run_id} tells how",
            entry.counts()
        ))
        .into()),
        RunState::Running { pid } => Err(UsageError(format!(
            "run {run_id} is running in grove process {pid}, which is not this repository's grove server"
        ))
        .into()),
        RunState::Unfinished => {
            eprintln!(
                "grove: run {run_id} is not live: its grove server is gone (killed, out of memory, or the machine restarted). grove resume {run_id} continues it from its journal."
            );
            if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
                return Ok(1);
            }
            eprint!("Resume it now? [Y/n] ");
            let mut answer = String::new();
            std::io::stdin().lock().read_line(&mut answer)?;
            match answer.trim() {
                "" | "y" | "Y" | "yes" => super::run::resume(&run_id, args.repo.as_deref(), args.front),
                _ => Ok(1),
            }
        }
    }
}

/// `--ssh`: the remote server's run, through `ssh … grove proxy`.
fn attach_over_ssh(destination: &str, args: &AttachArgs) -> anyhow::Result<i32> {
    let Some(repo) = &args.repo else {
        return Err(UsageError(
            "grove attach --ssh needs --repo PATH: the repository's path on the remote machine"
                .into(),
        )
        .into());
    };
    let mut command = Command::new("ssh");
    command.arg("-T");
    for option in &args.ssh_options {
        command.arg("-o").arg(option);
    }
    // ssh hands the remote command to the remote shell as one line: the path is quoted for it.
    let remote = format!(
        "{} proxy --repo {}",
        shell_quote(&args.remote_grove),
        shell_quote(&repo.to_string_lossy())
    );
    command
        .arg(destination)
        .arg("--")
        .arg(remote)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command.spawn().context("cannot start ssh")?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        anyhow::bail!("ssh was started without its stdin and stdout");
    };
    let child = Arc::new(Mutex::new(child));
    let mut duplex = Duplex {
        read: stdout,
        write: stdin,
    };
    if let Err(e) = handshake::client_blocking(&mut duplex, &Hello::ours(Role::Dashboard)) {
        let status = stop_ssh(&child);
        return Err(anyhow::Error::new(e).context(format!(
            "no grove server reached through ssh {destination} ({status})"
        )));
    }
    let closer = child.clone();
    let connection = Connection::new(
        Box::new(duplex.read),
        Box::new(duplex.write),
        Box::new(move || {
            stop_ssh(&closer);
        }),
    );
    let outcome = match remote::attach(connection, args.run_id.as_deref())? {
        Attach::Attached(remote) => show(*remote, args.front, Vec::new(), OnSignal::Detach),
        Attach::Failed { message, exit_code } => {
            eprintln!("error: {message}");
            Ok(exit_code)
        }
        Attach::NotHosted => Err(UsageError(format!(
            "{}: the grove server of {} on {destination} hosts no such live run (ssh {destination} grove ls --repo {} lists its runs)",
            args.run_id.as_deref().unwrap_or("no run given"),
            repo.display(),
            shell_quote(&repo.to_string_lossy())
        ))
        .into()),
    };
    stop_ssh(&child);
    outcome
}

/// Ends ssh (and with it the remote proxy) and reaps it; how it ended.
fn stop_ssh(child: &Mutex<Child>) -> String {
    let Ok(mut child) = child.lock() else {
        return "ssh's state is unknown".into();
    };
    if let Ok(Some(status)) = child.try_wait() {
        return format!("ssh {status}");
    }
    // SAFETY: kill(2) on the pid of our own child, which is not yet reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    match child.wait() {
        Ok(status) => format!("ssh {status}"),
        Err(e) => format!("ssh: {e}"),
    }
}

/// ssh's stdout and stdin as one stream, for the handshake.
struct Duplex {
    read: std::process::ChildStdout,
    write: std::process::ChildStdin,
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.read.read(buf)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.write.flush()
    }
}

/// `text` as one word of a POSIX shell line.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn a_quoted_word_keeps_spaces_and_quotes() {
        assert_eq!(shell_quote("/srv/my repo"), "'/srv/my repo'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
