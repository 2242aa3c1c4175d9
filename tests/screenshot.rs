//! The dashboard picture in assets/ (shown at the top of the README) is made from a real run:
//! `grove demo` in a real PTY, its screen read through vt100 and drawn as SVG. This test makes
//! it each time; with GROVE_WRITE_SCREENSHOT=1 it also writes it to assets/dashboard.svg:
//!
//!     GROVE_WRITE_SCREENSHOT=1 cargo test --test screenshot

mod common;
#[path = "support/svg.rs"]
mod svg;
#[path = "support/tty.rs"]
mod tty;

use common::GROVE;
use portable_pty::CommandBuilder;
use tty::*;

const PICTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/dashboard.svg");
const AGENTS: [&str; 4] = ["code_generator", "code_reviewer", "tester", "documenter"];

#[test]
fn the_dashboard_picture_comes_from_a_real_run() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = CommandBuilder::new(GROVE);
    cmd.args(["demo", "--exit-when-done", "--dir"]);
    cmd.arg(home.path());
    cmd.cwd(home.path());
    cmd.env("HOME", home.path());
    cmd.env("XDG_CONFIG_HOME", home.path());
    cmd.env("GIT_CONFIG_NOSYSTEM", "1");
    let mut dash = Tty::spawn_sized(cmd, 34, 132);
    // A moment with a bit of everything: agents at work, one done, output in every pane.
    dash.wait_for("agents running and one done, output in every pane", |s| {
        let text = s.text();
        let status = text.lines().rev().nth(1).unwrap_or_default().to_string();
        let panes = AGENTS.iter().all(|n| {
            s.pane(n)
                .is_some_and(|p| p.lines.iter().filter(|l| !l.trim().is_empty()).count() >= 3)
        });
        (panes && status.contains("running") && status.contains("succeeded")).then_some(())
    });
    let picture = {
        let out = dash.out.0.lock().unwrap();
        svg::render(out.parser.screen())
    };
    for name in AGENTS {
        assert!(picture.contains(name), "{name} is not in the picture");
    }
    if std::env::var_os("GROVE_WRITE_SCREENSHOT").is_some() {
        std::fs::write(PICTURE, &picture).unwrap();
    }
    assert_eq!(dash.exit_code(), 0, "every demo task succeeds in the end");
    dash.assert_restored();
}

#[test]
fn the_readme_opens_with_the_picture() {
    assert!(
        std::path::Path::new(PICTURE).exists(),
        "no {PICTURE}: GROVE_WRITE_SCREENSHOT=1 cargo test --test screenshot makes it"
    );
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let top: String = readme.lines().take(5).collect::<Vec<_>>().join("\n");
    assert!(top.contains("assets/dashboard.svg"), "{top}");
}
