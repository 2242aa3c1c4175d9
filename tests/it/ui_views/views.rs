//! The views over a task: its diff (from git) and its details (attempts, provenance, envelope).

use super::*;

#[test]
fn views_scroll_within_their_content() {
    let mut d = scene();
    d.height = 16;
    d.app.set_size(120, 16);
    d.key(KeyCode::Char('?'));
    d.key(KeyCode::Char('G'));
    let Mode::Help { scroll: bottom } = *d.app.mode() else {
        panic!("not in help");
    };
    assert!(bottom > 0);
    d.key(KeyCode::Char('j'));
    assert!(matches!(*d.app.mode(), Mode::Help { scroll } if scroll == bottom));
    d.key(KeyCode::Char('k'));
    assert!(matches!(*d.app.mode(), Mode::Help { scroll } if scroll == bottom - 1));
    d.key(KeyCode::Home);
    assert!(matches!(*d.app.mode(), Mode::Help { scroll: 0 }));
    d.app.handle_mouse(mouse(MouseEventKind::ScrollDown, 50, 5));
    assert!(matches!(*d.app.mode(), Mode::Help { scroll: 3 }));
}

fn commit_files(
    repo: &git2::Repository,
    files: &[(&str, &str)],
    parent: Option<git2::Oid>,
) -> git2::Oid {
    let root = repo.workdir().unwrap().to_path_buf();
    let mut index = repo.index().unwrap();
    for (path, text) in files {
        std::fs::write(root.join(path), text).unwrap();
        index.add_path(Path::new(path)).unwrap();
    }
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::new(
        "grove test",
        "t@grove.invalid",
        &git2::Time::new(1_700_000_000, 0),
    )
    .unwrap();
    let parents: Vec<git2::Commit> = parent
        .map(|p| repo.find_commit(p).unwrap())
        .into_iter()
        .collect();
    let parents: Vec<&git2::Commit> = parents.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, "change", &tree, &parents)
        .unwrap()
}

#[test]
fn diff_view_shows_the_patch_from_git_colored() {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    let base = commit_files(&repo, &[("a.txt", "one\ntwo\nthree\n")], None);
    let head = commit_files(
        &repo,
        &[("a.txt", "one\n2\nthree\nfour\n"), ("b.txt", "new file\n")],
        Some(base),
    );
    let mut d = Dash::with_info(info(dir.path(), &base.to_string()), 100, 30);
    let mut task = view(0, "edit", TaskStatus::Succeeded);
    task.head_commit = Some(head.to_string());
    d.add(task);

    let actions = d.key(KeyCode::Char('d'));
    let load = only_load(&actions);
    assert_eq!(
        load,
        Load::Diff {
            repo_root: dir.path().to_path_buf(),
            from: base.to_string(),
            to: DiffTo::Commit(head.to_string()),
        }
    );
    assert!(d.text().contains("loading…"));
    d.app.loaded(load.run());
    let terminal = d.draw();
    insta::assert_snapshot!("diff", terminal.backend());
    let buffer = terminal.backend().buffer();
    let text = buffer_text(buffer);
    assert!(text.contains("+2    −1    a.txt"), "{text}");
    assert!(text.contains("+1    −0    b.txt"), "{text}");
    let (x, y) = find(buffer, "+four").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Green);
    let (x, y) = find(buffer, "-two").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    d.key(KeyCode::Esc);
    assert!(matches!(d.app.mode(), Mode::Normal));
}

#[test]
fn diff_of_a_running_task_is_its_worktree_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    let base = commit_files(&repo, &[("a.txt", "one\n")], None);
    // The agent's work so far: an edit not committed and a new file.
    std::fs::write(dir.path().join("a.txt"), "one\nedited\n").unwrap();
    std::fs::write(dir.path().join("new.txt"), "brand new\n").unwrap();
    let mut d = Dash::with_info(info(dir.path(), &base.to_string()), 100, 30);
    let mut task = view(0, "edit", TaskStatus::Running);
    task.worktree = dir.path().to_path_buf();
    d.add(task);

    let actions = d.key(KeyCode::Char('d'));
    let load = only_load(&actions);
    assert_eq!(
        load,
        Load::Diff {
            repo_root: dir.path().to_path_buf(),
            from: base.to_string(),
            to: DiffTo::Worktree(dir.path().to_path_buf()),
        }
    );
    d.app.loaded(load.run());
    let text = d.text();
    assert!(text.contains("diff edit: main..worktree"), "{text}");
    assert!(text.contains("its worktree's changes so far"), "{text}");
    assert!(
        text.contains("+edited") && text.contains("+brand new"),
        "{text}"
    );
    // r reads the worktree again.
    std::fs::write(dir.path().join("later.txt"), "written later\n").unwrap();
    let again = only_load(&d.key(KeyCode::Char('r')));
    d.app.loaded(again.run());
    assert!(d.text().contains("+written later"), "{}", d.text());
}

#[test]
fn a_conflicted_task_s_diff_says_what_to_do_next() {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    let base = commit_files(&repo, &[("a.txt", "one\n")], None);
    let head = commit_files(&repo, &[("a.txt", "two\n")], Some(base));
    let mut d = Dash::with_info(info(dir.path(), &base.to_string()), 100, 30);
    let mut task = view(0, "edit", TaskStatus::Succeeded);
    task.head_commit = Some(head.to_string());
    task.merge = MergeState::Conflict;
    task.merge_conflicts = vec!["a.txt".into()];
    d.add(task);
    let load = only_load(&d.key(KeyCode::Char('d')));
    d.app.loaded(load.run());
    let text = d.text();
    assert!(
        text.contains("conflicts in a.txt: nothing was merged. Next:"),
        "{text}"
    );
    assert!(
        text.contains("then: grove merge 20231114-221320-k3f9 edit"),
        "{text}"
    );
    assert!(text.contains("or have an agent do it"), "{text}");
}

#[test]
fn a_task_that_ended_without_a_commit_has_no_diff() {
    let mut d = scene();
    d.key(KeyCode::Char('j'));
    d.key(KeyCode::Char('j'));
    let actions = d.key(KeyCode::Char('d'));
    assert!(actions.is_empty());
    assert!(matches!(d.app.mode(), Mode::Normal));
    assert!(
        d.text().contains("flaky left no commit to compare"),
        "{}",
        d.text()
    );
}

#[test]
fn details_show_attempts_provenance_paths_and_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let envelope = dir.path().join("envelope.json");
    std::fs::write(
        &envelope,
        "{\n  \"task\": \"flaky\",\n  \"attempt\": 2\n}\n",
    )
    .unwrap();
    let mut d = Dash::new(110, 44);
    let mut task = view(0, "flaky", TaskStatus::Failed);
    task.attempt = 2;
    task.attempts = vec![
        attempt(1, TaskStatus::Failed, Some(1)),
        attempt(2, TaskStatus::TimedOut, None),
    ];
    task.envelope_path = envelope.clone();
    task.input_hash = Some("sha256:1f2e3d".into());
    task.output_hash = Some("sha256:4c5b6a".into());
    task.head_commit = Some("fedcba9876543210".into());
    d.add(task);

    let actions = d.key(KeyCode::Char('l'));
    let load = only_load(&actions);
    d.app.loaded(load.run());
    let text = d.text();
    let tmp = dir.path().display().to_string();
    insta::assert_snapshot!("details", text.replace(&tmp, "<tmp>"));
    for expected in [
        "Do the flaky work.",
        "#1",
        "exit 1",
        "2.3s",
        "attempt-2.log",
        "timed out",
        "sha256:1f2e3d",
        "sha256:4c5b6a",
        "grove/20231114-221320-k3f9/flaky",
        "/repo/.grove/worktrees/flaky",
        "\"attempt\": 2",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from\n{text}");
    }
}

/// The text rows inside the open view's border.
fn overlay_rows(d: &mut Dash) -> Vec<String> {
    let terminal = d.draw();
    let buffer = terminal.backend().buffer();
    let inner = d
        .app
        .layout()
        .overlay
        .inner(ratatui::layout::Margin::new(1, 1));
    (inner.y..inner.bottom())
        .map(|y| {
            let row: String = (inner.x..inner.right())
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect();
            row.trim_end().to_string()
        })
        .collect()
}

#[test]
fn details_scroll_through_the_facts_into_the_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let envelope = dir.path().join("envelope.json");
    let text: String = (0..40).map(|i| format!("envelope line {i}\n")).collect();
    std::fs::write(&envelope, text).unwrap();
    let mut d = Dash::new(110, 200);
    let mut task = view(0, "flaky", TaskStatus::Failed);
    task.envelope_path = envelope;
    d.add(task);
    let load = only_load(&d.key(KeyCode::Char('l')));
    d.app.loaded(load.run());
    // Everything, on a terminal tall enough for it.
    let all = overlay_rows(&mut d);
    let len = all.iter().rposition(|r| !r.is_empty()).unwrap() + 1;
    assert_eq!(all[len - 1], "  envelope line 39");
    // A short terminal shows, at every scroll position, the same lines in the same order.
    d.height = 16;
    d.app.set_size(110, 16);
    let mut positions = 0;
    loop {
        let Mode::Details { scroll, .. } = *d.app.mode() else {
            panic!("not in details");
        };
        let rows = overlay_rows(&mut d);
        assert_eq!(rows, all[scroll..scroll + rows.len()], "at line {scroll}");
        positions += 1;
        d.key(KeyCode::Char('j'));
        if matches!(*d.app.mode(), Mode::Details { scroll: next, .. } if next == scroll) {
            assert_eq!(scroll + rows.len(), len);
            break;
        }
    }
    assert!(positions > 40);
}

#[test]
fn details_say_when_the_envelope_cannot_be_read() {
    let mut d = scene();
    let actions = d.key(KeyCode::Char('l'));
    let load = only_load(&actions);
    d.app.loaded(load.run());
    assert!(d
        .text()
        .contains("cannot read /repo/.grove/runs/r/parser/envelope.json"));
}
