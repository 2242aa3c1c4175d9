//! Identities of grove's commits, start commits from dependencies, diffs and refs.

use super::*;

#[test]
fn signature_falls_back_without_identity_and_uses_config_when_set() {
    let empty = git2::Config::new().unwrap();
    let sig = git::signature_from_config(&empty).unwrap();
    assert_eq!(
        (sig.name().unwrap(), sig.email().unwrap()),
        ("grove", "grove@localhost")
    );

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("config");
    fs::write(&file, "[user]\n\tname = Ada\n\temail = ada@example.com\n").unwrap();
    let config = git2::Config::open(&file).unwrap();
    let sig = git::signature_from_config(&config).unwrap();
    assert_eq!(
        (sig.name().unwrap(), sig.email().unwrap()),
        ("Ada", "ada@example.com")
    );
}

const NO_IDENTITY_REPO: &str = "GROVE_TEST_NO_IDENTITY_REPO";

/// A merge commit made where no git identity is configured anywhere. libgit2 reads global config
/// from process-wide settings, so the merge runs in a child copy of this test binary whose
/// config search paths point at an empty directory.
#[test]
fn merge_commit_without_any_identity_uses_the_fallback() {
    if let Ok(root) = std::env::var(NO_IDENTITY_REPO) {
        let empty = std::env::var("HOME").unwrap();
        for level in [
            git2::ConfigLevel::System,
            git2::ConfigLevel::XDG,
            git2::ConfigLevel::Global,
            git2::ConfigLevel::ProgramData,
        ] {
            // SAFETY: set before any other libgit2 use in this single-test child process.
            unsafe { git2::opts::set_search_path(level, &empty).unwrap() };
        }
        let outcome = git::merge_into(Path::new(&root), "grove/run-1/b", "main", "merge b");
        assert!(matches!(
            outcome,
            Ok(MergeOutcome::Merged {
                fast_forward: false,
                ..
            })
        ));
        return;
    }

    let repo = Repo::new();
    repo.task("a", &[("a.txt", "a\n")]);
    repo.task("b", &[("b.txt", "b\n")]);
    git::merge_into(&repo.root, "grove/run-1/a", "main", "merge a").unwrap();
    let home = tempfile::tempdir().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &test_name(
                module_path!(),
                "merge_commit_without_any_identity_uses_the_fallback",
            ),
            "--test-threads=1",
        ])
        .env(NO_IDENTITY_REPO, &repo.root)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .output()
        .unwrap();
    assert!(
        child.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&child.stdout)
    );
    assert_eq!(
        git(
            &repo.root,
            &["log", "-1", "--format=%P|%an <%ae>|%cn <%ce>"]
        )
        .split('|')
        .skip(1)
        .collect::<Vec<_>>(),
        vec!["grove <grove@localhost>", "grove <grove@localhost>"]
    );
    assert_eq!(repo.tip("main^2"), repo.tip("grove/run-1/b"));
}

#[test]
fn commits_use_the_repository_identity_when_set() {
    let repo = Repo::new();
    git(&repo.root, &["config", "user.name", "Repo Person"]);
    git(&repo.root, &["config", "user.email", "person@example.com"]);
    repo.task("a", &[("a.txt", "a\n")]);
    assert_eq!(
        git(
            &repo.root,
            &["log", "-1", "--format=%an <%ae>", "grove/run-1/a"]
        ),
        "Repo Person <person@example.com>"
    );
}

#[test]
fn start_commit_merges_dependency_branches_in_memory() {
    let repo = Repo::new();
    let base = repo.tip("main");
    let a = repo.task("a", &[("a.txt", "a\n")]);
    repo.task("b", &[("b.txt", "b\n")]);
    let refs = repo.refs();
    let index = repo.index_bytes();

    assert_eq!(
        git::merge_branches_for_start(&repo.root, &base, &[], "deps").unwrap(),
        Ok(base.clone())
    );
    assert_eq!(
        git::merge_branches_for_start(&repo.root, &base, &["grove/run-1/a".into()], "deps")
            .unwrap(),
        Ok(a.clone())
    );

    let both = ["grove/run-1/a".to_string(), "grove/run-1/b".to_string()];
    let start = git::merge_branches_for_start(&repo.root, &base, &both, "grove: deps")
        .unwrap()
        .expect("no conflict");
    assert_eq!(
        files_at(&repo.root, &start),
        vec![".gitignore", "a.txt", "b.txt", "base.txt", "shared.txt"]
    );
    assert_eq!(git(&repo.root, &["rev-parse", &format!("{start}^1")]), a);
    assert_eq!(
        git(&repo.root, &["log", "-1", "--format=%s", &start]),
        "grove: deps"
    );
    assert_eq!(repo.refs(), refs);
    assert_eq!(repo.index_bytes(), index);
    assert_eq!(repo.status(), "");
    assert!(!repo.root.join("a.txt").exists());
}

#[test]
fn start_commit_with_conflicting_dependencies_reports_paths_and_changes_nothing() {
    let repo = Repo::new();
    let base = repo.tip("main");
    repo.task("a", &[("shared.txt", "one\nA\nthree\n")]);
    repo.task("b", &[("shared.txt", "one\nB\nthree\n")]);
    let refs = repo.refs();
    let wt_status = git(&repo.wt("a"), &["status", "--porcelain"]);

    let both = ["grove/run-1/a".to_string(), "grove/run-1/b".to_string()];
    let result = git::merge_branches_for_start(&repo.root, &base, &both, "deps").unwrap();
    assert_eq!(result, Err(vec!["shared.txt".to_string()]));
    assert_eq!(repo.refs(), refs);
    assert_eq!(repo.status(), "");
    assert_eq!(git(&repo.wt("a"), &["status", "--porcelain"]), wt_status);
    assert_eq!(read(&repo.root.join("shared.txt")), "one\ntwo\nthree\n");
}

#[test]
fn diff_stat_counts_lines_per_file() {
    let repo = Repo::new();
    let from = repo.tip("main");
    let wt = repo.worktree("d");
    write(&wt.join("shared.txt"), "one\n2\nthree\nfour\nfive\n");
    write(&wt.join("added.txt"), "x\ny\n");
    fs::remove_file(wt.join("base.txt")).unwrap();
    let to = repo.commit(&wt, "d", &[]).unwrap().unwrap();

    let stat = git::diff_stat(&repo.root, &from, &to).unwrap();
    let per_file: Vec<_> = stat
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.insertions, f.deletions))
        .collect();
    assert_eq!(
        per_file,
        vec![
            ("added.txt", 2, 0),
            ("base.txt", 0, 1),
            ("shared.txt", 3, 1)
        ]
    );
    assert_eq!((stat.insertions, stat.deletions), (5, 2));
    assert_eq!(
        git::diff_stat(&repo.root, &to, &to).unwrap(),
        Default::default()
    );
}

#[test]
fn diff_patch_has_file_headers_and_hunks() {
    let repo = Repo::new();
    let from = repo.tip("main");
    let to = repo.task("p", &[("shared.txt", "one\nTWO\nthree\n")]);
    let patch = git::diff_patch(&repo.root, &from, &to).unwrap();
    assert!(
        patch.contains("diff --git a/shared.txt b/shared.txt"),
        "{patch}"
    );
    assert!(patch.contains("@@ -1,3 +1,3 @@"), "{patch}");
    assert!(patch.contains("\n-two\n+TWO\n"), "{patch}");
    assert!(patch.contains("\n one\n"), "{patch}");
}

#[test]
fn refs_are_read_and_cleaned_up() {
    let repo = Repo::new();
    let tip = repo.task("a", &[("a.txt", "a\n")]);
    assert_eq!(git::head_commit(&repo.wt("a")).unwrap(), tip);
    assert_eq!(git::head_commit(&repo.root).unwrap(), repo.tip("main"));
    for name in [
        "refs/grove/run-1/a/attempt-1",
        "refs/grove/run-1/b/attempt-1",
    ] {
        git(&repo.root, &["update-ref", name, &tip]);
    }
    git(
        &repo.root,
        &["update-ref", "refs/grove/run-10/a/attempt-1", &tip],
    );

    assert_eq!(
        git::delete_refs_under(&repo.root, "refs/grove/run-1").unwrap(),
        2
    );
    assert_eq!(
        git(
            &repo.root,
            &["for-each-ref", "--format=%(refname)", "refs/grove"]
        ),
        "refs/grove/run-10/a/attempt-1"
    );

    git::remove_worktree(&repo.root, &repo.wt("a")).unwrap();
    git::delete_branch(&repo.root, "grove/run-1/a").unwrap();
    git::delete_branch(&repo.root, "grove/run-1/a").unwrap();
    assert!(matches!(
        git::branch_tip(&repo.root, "grove/run-1/a"),
        Err(git::GitError::NoSuchBranch { .. })
    ));
}
