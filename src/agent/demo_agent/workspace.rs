//! What the demo agent sees and changes in its worktree: a bounded, sorted survey of the text
//! files, and the edits it writes back.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Enough for any sample project; a huge checkout is surveyed only in part.
const MAX_FILES: usize = 400;
/// Larger files are listed but not read.
const MAX_READ_BYTES: u64 = 256 * 1024;
/// Folders that hold tool state or build output rather than the project.
const SKIPPED_DIRS: &[&str] = &["__pycache__", "node_modules", "target", "venv"];

/// A file of the worktree, path relative to its root with `/` separators.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    /// `None` when the file is binary, not UTF-8, too large, or unreadable.
    pub text: Option<String>,
}

impl SourceFile {
    pub fn lines(&self) -> usize {
        self.text.as_deref().map_or(0, |t| t.lines().count())
    }
}

/// A whole file the agent writes: its new content and how many lines that adds.
#[derive(Debug, Clone)]
pub struct Edit {
    pub path: String,
    pub content: String,
    /// True when the file existed before (shown as an update rather than a new file).
    pub existed: bool,
    pub added_lines: usize,
}

impl Edit {
    pub fn new(path: String, before: Option<&str>, content: String) -> Self {
        let old_lines = before.map_or(0, |b| b.lines().count());
        Edit {
            path,
            added_lines: content.lines().count().saturating_sub(old_lines),
            existed: before.is_some(),
            content,
        }
    }
}

/// Text files below `root`, sorted by path. Hidden entries (`.git`, `.grove`, …) and tool
/// folders are skipped; unreadable folders are passed over rather than failing the agent.
pub fn survey(root: &Path) -> Vec<SourceFile> {
    let mut found = Vec::new();
    let mut pending: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        // Sorted so that which files a capped survey keeps never depends on directory order.
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        let mut subdirs = Vec::new();
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if name.starts_with('.') || found.len() >= MAX_FILES {
                continue;
            }
            if kind.is_dir() && !SKIPPED_DIRS.contains(&name.as_str()) {
                subdirs.push(entry.path());
            } else if kind.is_file() {
                let path = entry.path();
                found.push(SourceFile {
                    path: relative(root, &path),
                    text: read_text(&path),
                });
            }
        }
        pending.extend(subdirs.into_iter().rev());
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

pub fn find<'a>(files: &'a [SourceFile], path: &str) -> Option<&'a SourceFile> {
    files.iter().find(|f| f.path == path)
}

/// Writes `content` to `rel` below `root`, creating folders as needed.
pub fn write(root: &Path, rel: &str, content: &str) -> io::Result<PathBuf> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(&path, content)?;
    Ok(path)
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn read_text(path: &Path) -> Option<String> {
    let size = fs::metadata(path).ok()?.len();
    if size > MAX_READ_BYTES {
        return None;
    }
    let bytes = fs::read(path).ok()?;
    if bytes.contains(&0) {
        return None;
    }
    String::from_utf8(bytes).ok()
}
