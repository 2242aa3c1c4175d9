//! A run's records on disk: private (they hold the plan's `env` values), and whole after a
//! failed write (a full disk, on a real small tmpfs). The real binary on real repositories.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

/// Every folder and file under `dir` with its mode, `dir` included.
fn modes(dir: &Path) -> Vec<(String, bool, u32)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        let meta = std::fs::symlink_metadata(&at).unwrap();
        let shown = at.strip_prefix(dir).unwrap().display().to_string();
        found.push((shown, meta.is_dir(), meta.permissions().mode() & 0o777));
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&at).unwrap().map(|e| e.unwrap().path()));
        }
    }
    found.sort();
    found
}

#[test]
fn a_runs_records_are_private() {
    let repo = Repo::new();
    let (out, _) = repo.run_plan(
        r#"
name = "priv"
[defaults]
agent = "shell"
[[tasks]]
name = "result"
env = { API_TOKEN = "s3cret" }
prompt = '''echo '{"ok": true}' > "$GROVE_RESULT"'''
[[tasks]]
name = "text"
retries = 1
backoff = { initial = "10ms", jitter = 0.0 }
prompt = '''echo said; [ "$GROVE_ATTEMPT" = 2 ]'''
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let run_dir = repo.run_dir(&run_id);
    let found = modes(&run_dir);
    for name in [
        "plan.toml",
        "journal.jsonl",
        "results.json",
        "audit.log",
        "grove.lock",
        "agents/result/envelope.json",
        "agents/result/attempt-1.log",
        "agents/result/result.json",
        "agents/text/attempt-2.log",
        "agents/text/output.txt",
    ] {
        assert!(
            found.iter().any(|(f, _, _)| f == name),
            "no {name} in {found:?}"
        );
    }
    for (name, dir, mode) in &found {
        // The agent's own result file is the agent's to make.
        if name.ends_with(".result.json") {
            continue;
        }
        let want = if *dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{name}: {mode:o} in {found:?}");
    }
    // What the privacy is for: the plan copy holds the env values.
    let text = std::fs::read_to_string(run_dir.join("plan.toml")).unwrap();
    assert!(text.contains("s3cret"));
}

/// A real, small tmpfs mounted for the test (grove's tests run as root, as CI does): a disk that
/// fills up for real. Unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// None when this process may not mount (not root): the test says so and does nothing.
    fn mount(size: &str) -> Option<Tmpfs> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("not root: no tmpfs can be mounted, the full-disk test is skipped");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let c = |s: &str| std::ffi::CString::new(s).unwrap();
        let target = c(dir.path().to_str().unwrap());
        let options = c(&format!("size={size}"));
        // SAFETY: valid NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::mount(
                c("tmpfs").as_ptr(),
                target.as_ptr(),
                c("tmpfs").as_ptr(),
                0,
                options.as_ptr().cast(),
            )
        };
        assert_eq!(rc, 0, "mount: {}", std::io::Error::last_os_error());
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `name` until the disk is full.
    fn fill(&self, name: &str) {
        use std::io::Write;
        let mut file = std::fs::File::create(self.path().join(name)).unwrap();
        let block = vec![0u8; 4096];
        while file.write_all(&block).is_ok() {}
        while file.write_all(&[0]).is_ok() {}
        let _ = file.sync_all();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let target = std::ffi::CString::new(self.path().to_str().unwrap()).unwrap();
        // SAFETY: a valid path; lazily, so a process still inside cannot keep it mounted.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

mod journal_on_a_full_disk {
    use std::collections::BTreeMap;

    use grove::record::journal::{Entry, Journal, RunRecord, RunStarted, FILE};

    use super::Tmpfs;

    fn started() -> Entry {
        Entry::RunStarted(Box::new(RunStarted {
            run_id: "p-20260101-000000".into(),
            plan_name: "p".into(),
            plan_path: "/tmp/p.toml".into(),
            plan_format: "toml".into(),
            plan_text: "name = \"p\"".into(),
            tasks: vec!["a".into()],
            prompts: BTreeMap::new(),
            repo_root: "/tmp/r".into(),
            base_commit: "0".repeat(40),
            base_branch: Some("main".into()),
            base_label: "main".into(),
            pane_rows: 40,
            pane_cols: 120,
            pid: 1,
        }))
    }

    #[test]
    fn a_failed_append_leaves_whole_lines_and_the_next_one_is_read() {
        let Some(disk) = Tmpfs::mount("64k") else {
            return;
        };
        let dir = disk.path().join("run");
        std::fs::create_dir(&dir).unwrap();
        Journal::create(&dir)
            .unwrap()
            .append(started(), true)
            .unwrap();
        // A continued journal (grove resume) appends the same way.
        let journal = Journal::reopen(&dir).unwrap();
        let len = || std::fs::metadata(dir.join(FILE)).unwrap().len();
        let before = len();
        disk.fill("filler");
        // Longer than a page: part of it fits in the journal's last page, the rest does not.
        let long = Entry::TaskAdded {
            plan_text: "name = \"p\"".into(),
            task: "b".into(),
            prompt: "x".repeat(10_000),
        };
        let err = journal.append(long, true).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
        assert_eq!(len(), before, "a failed append left part of its line");

        std::fs::remove_file(disk.path().join("filler")).unwrap();
        journal.append(Entry::Resumed { pid: 2 }, true).unwrap();
        let record = RunRecord::load(&dir).unwrap();
        assert_eq!(record.torn, None);
        assert_eq!(record.started.tasks, ["a"]);
    }
}

#[test]
fn a_torn_last_journal_line_is_skipped_with_a_notice() {
    let repo = Repo::new();
    let (out, _) = repo.run_plan(
        r#"
name = "torn"
[defaults]
agent = "shell"
[[tasks]]
name = "a"
prompt = "echo a > a.txt"
"#,
    );
    assert!(out.status.success(), "{}", text(&out));
    let run_id = run_id(&out);
    let journal = repo.run_dir(&run_id).join("journal.jsonl");
    let lines = std::fs::read_to_string(&journal).unwrap().lines().count();
    // Cut short with and without its line end (a failed write an older grove appended to).
    for torn in [
        "{\"at\":\"2026-",
        "{\"at\":\"2026-{\"at\":\"2026-01-01\"}\n",
    ] {
        let mut kept = std::fs::read_to_string(&journal).unwrap();
        kept.truncate(kept.rfind("}\n").unwrap() + 2);
        kept.push_str(torn);
        std::fs::write(&journal, kept).unwrap();
        let resume = repo.grove(&["resume", &run_id, "--headless"]);
        let err = String::from_utf8_lossy(&resume.stderr).into_owned();
        assert!(
            err.contains(&format!(
                "journal.jsonl:{}: the journal's last line is torn",
                lines + 1
            )),
            "{}",
            text(&resume)
        );
        // Not fatal: the run is read, and it had finished.
        assert_eq!(resume.status.code(), Some(2), "{}", text(&resume));
        assert!(err.contains("has finished"), "{}", text(&resume));
        let ls = repo.grove(&["ls"]);
        assert!(
            String::from_utf8_lossy(&ls.stdout).contains("1 succeeded"),
            "{}",
            text(&ls)
        );
    }
}
