//! The dashboard end to end: the real grove binary in a real PTY (200x50), its screen read
//! through a terminal emulator (vt100), driven by keys, mouse, resizes and signals as a person
//! (or their terminal) would. Every wait polls the emulated screen up to a deadline.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::tty::*;
use crate::support::*;
use portable_pty::CommandBuilder;

const CTRL_BRACKET: &[u8] = b"\x1d";
const END: &[u8] = b"\x1b[F";

/// Context switches of every thread of `pid` so far: how often it woke up.
fn context_switches(pid: i32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// A `[[tasks]]` entry whose shell agent ignores SIGTERM and waits on a `sleep` whose pid it
/// writes to `pid_file`: only a group SIGKILL after the grace period ends it.
fn stubborn_task(name: &str, pid_file: &Path) -> String {
    let pid = pid_file.display();
    format!(
        "[[tasks]]\nname = \"{name}\"\nagent = \"shell\"\nkill_grace = \"500ms\"\nprompt = '''trap \"\" TERM; sleep 600 & echo $! > {pid}.tmp; mv {pid}.tmp {pid}; wait'''\n"
    )
}

fn status_key(word: &str) -> String {
    word.replace(' ', "_")
}

mod driving;
mod starting;
mod terminal;
mod tiny;
