//! The key table's own checks: names, no clashes, the README's copy.

use super::*;

#[test]
fn the_rows_texts_name_are_in_the_table() {
    assert_eq!(binding(Attached, Detach).label, "Ctrl-]");
    assert_eq!(ctrl_key(Main, Quit), "Ctrl-C");
    assert_eq!(first_key(Main, Quit), "q");
    assert_eq!(first_key(Main, Back), "Esc");
    assert_eq!(first_key(Confirm, Yes), "y");
    assert_eq!(first_key(Confirm, No), "n");
}

#[test]
fn keys_are_named_as_help_names_them() {
    let names: Vec<String> = [
        ctrl(']'),
        k(' '),
        code(KeyCode::BackTab),
        code(KeyCode::Enter),
    ]
    .iter()
    .map(|key| key.name())
    .collect();
    assert_eq!(names, ["Ctrl-]", "Space", "Shift-Tab", "Enter"]);
}

#[test]
fn no_key_means_two_things_in_one_scope() {
    for (i, a) in BINDINGS.iter().enumerate() {
        for b in &BINDINGS[i + 1..] {
            if a.scope == b.scope {
                let shared: Vec<_> = a.keys.iter().filter(|k| b.keys.contains(k)).collect();
                assert!(shared.is_empty(), "{:?} and {:?}: {shared:?}", a.act, b.act);
            }
        }
    }
}

#[test]
fn keys_find_their_action() {
    let key = |c, m| KeyEvent::new(c, m);
    let none = KeyModifiers::NONE;
    assert_eq!(action(Main, key(KeyCode::Char('q'), none)), Some(Act::Quit));
    assert_eq!(
        action(View, key(KeyCode::Char('q'), none)),
        Some(Act::Close)
    );
    assert_eq!(
        action(Main, key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Some(Act::Quit)
    );
    assert_eq!(
        action(Main, key(KeyCode::Char('N'), KeyModifiers::SHIFT)),
        Some(Act::CopyTask)
    );
    assert_eq!(action(Main, key(KeyCode::Char('x'), none)), None);
}

#[test]
fn ctrl_bracket_detaches_in_both_spellings() {
    let ctrl = KeyModifiers::CONTROL;
    for c in [']', '5'] {
        let key = KeyEvent::new(KeyCode::Char(c), ctrl);
        assert_eq!(action(Attached, key), Some(Act::Detach));
    }
    let plain = KeyEvent::new(KeyCode::Char(']'), KeyModifiers::NONE);
    assert_eq!(action(Attached, plain), None);
}

/// The README's key table is this table: regenerate it from `markdown()` when keys change.
#[test]
fn the_readme_key_table_is_the_keymap() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let (start, end) = (
        "<!-- keys: generated from src/ui/keymap.rs -->\n",
        "<!-- /keys -->",
    );
    let from = readme.find(start).expect("the README marks its key table") + start.len();
    let to = from
        + readme[from..]
            .find(end)
            .expect("the key table's end marker");
    let table = markdown();
    if readme[from..to] != table && std::env::var_os("GROVE_WRITE_README").is_some() {
        let updated = format!("{}{table}{}", &readme[..from], &readme[to..]);
        std::fs::write(path, updated).unwrap();
        return;
    }
    assert!(
        readme[from..to] == table,
        "README.md's key table differs from the keymap; GROVE_WRITE_README=1 cargo test \
         --lib keymap rewrites it. The keymap's table:\n{table}"
    );
}

#[test]
fn every_scope_keeps_a_way_out_on_the_bar() {
    for scope in Scope::ALL {
        assert!(
            BINDINGS
                .iter()
                .any(|b| b.scope == scope && b.bar.is_some_and(|(_, rank)| rank == ALWAYS)),
            "{scope:?}"
        );
    }
}

#[test]
fn leaving_keys_detach_stop_or_stay() {
    let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
    assert_eq!(action(Leave, key(KeyCode::Char('d'))), Some(Act::Detach));
    assert_eq!(action(Leave, key(KeyCode::Enter)), Some(Act::Detach));
    assert_eq!(action(Leave, key(KeyCode::Char('s'))), Some(Act::StopRun));
    assert_eq!(action(Leave, key(KeyCode::Esc)), Some(Act::Stay));
    assert_eq!(action(Leave, key(KeyCode::Char('y'))), None);
    // Ctrl-] detaches from the main view as it does from an agent.
    for c in [']', '5'] {
        let key = KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        assert_eq!(action(Main, key), Some(Act::Detach));
    }
}
