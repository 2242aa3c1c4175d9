//! What a sandboxed agent can write of git (its worktree's `.git` link, its own folder under
//! `.git/worktrees/`) must not make grove, which commits the worktree outside the sandbox after
//! the agent, run or write anything outside it: grove works through the links it made.

use crate::support::*;

/// A task whose agent rewrites `rewire` (a shell snippet; `$admin` is its worktree's git folder,
/// `$main` the main checkout), then writes `work.txt` and a `.gitattributes` that sends every
/// file through the clean filter `evil`, configured (by `rewire`, in a repository it made) to
/// create `$main/escaped`.
fn rewiring_plan(rewire: &str) -> String {
    Plan::named("rewire")
        .shell_task(
            "a",
            &format!(
                r#"main=$(cd ../../../.. && pwd)
admin=$(git rev-parse --absolute-git-dir)
evil() {{ git config -f "$1" filter.evil.clean "touch $main/escaped; cat"; }}
{rewire}
echo '* filter=evil' > .gitattributes
echo work > work.txt
"#
            ),
        )
        .to_toml()
}

/// Runs the plan, and checks that nothing ran or was written outside the worktree and that the
/// agent's work reached the task's branch.
fn nothing_escaped(repo: &Repo, plan: &str) {
    let main_before = repo.git(&["rev-parse", "main"]);
    let (out, results) = repo.run_plan(plan);
    let a = task(&results, "a");
    assert!(
        !repo.path().join("escaped").exists(),
        "grove ran the agent's filter outside the sandbox: {a}\n{}",
        text(&out)
    );
    assert_eq!(repo.git(&["rev-parse", "main"]), main_before, "main moved");
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    assert_eq!(a["status"], "succeeded", "{a}\n{}", text(&out));
    let branch = format!("grove/{}/a", run_id(&out));
    assert_eq!(repo.git(&["show", &format!("{branch}:work.txt")]), "work");
}

#[test]
fn a_worktree_link_pointed_at_another_repository_is_not_followed() {
    let repo = Repo::new().confined();
    nothing_escaped(
        &repo,
        &rewiring_plan(
            r#"git init -q "$admin/fake" && evil "$admin/fake/.git/config"
printf 'gitdir: %s\n' "$admin/fake/.git" > .git"#,
        ),
    );
}

#[test]
fn a_common_dir_pointed_at_another_repository_is_not_followed() {
    let repo = Repo::new().confined();
    nothing_escaped(
        &repo,
        &rewiring_plan(
            r#"git init -q --bare "$admin/fake" && evil "$admin/fake/config"
printf '%s\n' "$admin/fake" > "$admin/commondir""#,
        ),
    );
}

#[test]
fn a_head_pointed_at_the_main_branch_does_not_move_it() {
    let repo = Repo::new().confined();
    nothing_escaped(
        &repo,
        &rewiring_plan(r#"echo 'ref: refs/heads/main' > "$admin/HEAD""#),
    );
}

/// Links in place of the reflogs grove appends to when it commits the worktree (HEAD's and the
/// branch's), or, after a failed attempt, when it starts the branch again for the next one.
const REFLOG_LINKS: &str = r#"common=$(git rev-parse --git-common-dir)
mkdir -p "$admin/logs"
ln -sf "$main/head-log" "$admin/logs/HEAD"
ln -sf "$main/branch-log" "$common/logs/refs/heads/$(git symbolic-ref --short HEAD)""#;

#[test]
fn reflogs_turned_into_links_are_not_written_through() {
    let repo = Repo::new().confined();
    nothing_escaped(&repo, &rewiring_plan(REFLOG_LINKS));
    // The first attempt commits, so starting the branch again for the second moves it.
    let retried = rewiring_plan(&format!(
        "if [ \"$GROVE_ATTEMPT\" = 1 ]; then\ngit commit -q --allow-empty -m mine\n{REFLOG_LINKS}\nexit 1\nfi"
    ))
    .replace("agent = \"shell\"", "agent = \"shell\"\nretries = 1");
    nothing_escaped(&repo, &retried);
}
