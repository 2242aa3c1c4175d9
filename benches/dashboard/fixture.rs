//! What the benchmark runs on, generated into a temp dir (never committed): files of base64
//! lines, git repositories (a tiny one, and one of 5,000 files), and JSON plans for grove.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// xorshift64*: deterministic filler, so every run works on the same bytes.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Writes about `bytes` bytes of base64 lines (76 characters each, as `base64` prints them).
pub fn write_base64(path: &Path, bytes: usize, rng: &mut Rng) -> anyhow::Result<()> {
    let mut out = BufWriter::new(File::create(path).with_context(|| path.display().to_string())?);
    let mut line = [b'\n'; 77];
    for _ in 0..bytes.div_ceil(line.len()) {
        for chunk in line[..76].chunks_mut(8) {
            let mut r = rng.next();
            for c in chunk {
                *c = BASE64[(r & 63) as usize];
                r >>= 6;
            }
        }
        out.write_all(&line)?;
    }
    out.flush()?;
    Ok(())
}

/// Writes `lines` lines of 8 words of 13 base64 characters, each word in one of the 8 ANSI
/// colours, as agents colour their output (about 190 bytes, 111 columns a line).
pub fn write_coloured(path: &Path, lines: usize, rng: &mut Rng) -> anyhow::Result<()> {
    let mut out = BufWriter::new(File::create(path).with_context(|| path.display().to_string())?);
    for _ in 0..lines {
        for word in 0..8 {
            let r = rng.next();
            write!(out, "\x1b[{}m", 30 + r % 8)?;
            let mut bits = rng.next();
            for _ in 0..13 {
                out.write_all(&[BASE64[(bits & 63) as usize]])?;
                bits >>= 4;
            }
            out.write_all(if word == 7 { b"\x1b[0m\n" } else { b" " })?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Runs git with no user or system configuration.
pub fn git(dir: &Path, home: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .context("cannot run git")?;
    if !out.status.success() {
        bail!(
            "git {args:?} in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A repository on `main` with an identity and one commit of `files` (path, bytes of base64).
pub fn repo(
    dir: &Path,
    home: &Path,
    files: &[(String, usize)],
    rng: &mut Rng,
) -> anyhow::Result<()> {
    fs::create_dir_all(dir)?;
    git(dir, home, &["init", "-q", "-b", "main"])?;
    git(dir, home, &["config", "user.name", "bench"])?;
    git(dir, home, &["config", "user.email", "bench@grove.invalid"])?;
    fs::write(dir.join("README.md"), "# benchmark repository\n")?;
    for (rel, size) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        write_base64(&path, *size, rng)?;
    }
    git(dir, home, &["add", "-A"])?;
    git(dir, home, &["commit", "-q", "-m", "initial"])?;
    // Packed, as a cloned repository is.
    git(dir, home, &["gc", "-q"])?;
    Ok(())
}

/// A plan for the `shell` agent: each task's prompt is its shell command.
pub fn plan(
    dir: &Path,
    name: &str,
    max_parallel: usize,
    tasks: &[(String, String)],
) -> anyhow::Result<PathBuf> {
    let tasks: Vec<serde_json::Value> = tasks
        .iter()
        .map(|(task, command)| serde_json::json!({ "name": task, "prompt": command }))
        .collect();
    let plan = serde_json::json!({
        "name": name,
        "max_parallel": max_parallel,
        "defaults": { "agent": "shell", "kill_grace": "2s" },
        "tasks": tasks,
    });
    let path = dir.join(format!("{name}.json"));
    fs::write(&path, serde_json::to_vec_pretty(&plan)?)?;
    Ok(path)
}

/// Removes what grove left in a repository (run records, worktrees) so the next run starts
/// from the same state.
pub fn clean_grove(repo: &Path, home: &Path) -> anyhow::Result<()> {
    let dir = repo.join(".grove");
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| dir.display().to_string())?;
    }
    git(repo, home, &["worktree", "prune"])?;
    Ok(())
}

/// The shell command line `'...'`-quoted.
pub fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}
