//! What the dashboard shows of sandboxes and admission control: a pane title says when its
//! task is not confined to its worktree, a held task says why, and the status bar says when
//! the kernel has no Landlock.

use crate::support::dash::{find_all, rows, view, Dash};
use grove::engine::api::TaskStatus;

#[test]
fn titles_list_and_status_bar_show_sandboxes_and_holds() {
    let mut d = Dash::new(160, 30);
    d.add(view(0, "confined", "shell", TaskStatus::Running));
    let mut free = view(1, "free", "shell", TaskStatus::Running);
    free.sandbox = "off".into();
    free.max_memory = Some(4 << 30);
    d.add(free);
    let mut waiting = view(2, "waits", "shell", TaskStatus::Pending);
    waiting.held = Some("low memory (1.2 GiB free < 2 GiB)".into());
    d.add(waiting);
    let screen = d.draw();
    let text = rows(&screen).join("\n");
    assert_eq!(
        find_all(&screen, "sandbox: off, max_memory 4 GiB").len(),
        1,
        "{text}"
    );
    // The default goes without saying.
    assert_eq!(find_all(&screen, "sandbox: worktree").len(), 0, "{text}");
    assert!(
        !find_all(&screen, "held: low memory (1.2 GiB free < 2 GiB)").is_empty(),
        "{text}"
    );
    assert!(
        find_all(&screen, "unsandboxed: no Landlock").is_empty(),
        "{text}"
    );

    let mut bare = view(0, "confined", "shell", TaskStatus::Running);
    bare.sandbox = "unavailable".into();
    d.change(bare);
    let screen = d.draw();
    let text = rows(&screen).join("\n");
    assert_eq!(
        find_all(&screen, "unsandboxed: no Landlock").len(),
        1,
        "{text}"
    );
    assert_eq!(find_all(&screen, "sandbox: unavailable").len(), 1, "{text}");
}
