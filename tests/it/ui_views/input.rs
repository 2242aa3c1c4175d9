//! Keys and the mouse: selection, retry and merge where they make sense, scrolling, tiny
//! terminals, races, Ctrl-Z, messages.

use super::*;

#[test]
fn selection_moves_with_j_k_tab_and_clicks() {
    let mut d = scene();
    d.key(KeyCode::Char('k'));
    assert_eq!(d.app.selected(), 0);
    d.key(KeyCode::Down);
    d.key(KeyCode::Char('j'));
    assert_eq!(d.app.selected(), 2);
    d.key(KeyCode::Up);
    assert_eq!(d.app.selected(), 1);
    for _ in 0..10 {
        d.key(KeyCode::Char('j'));
    }
    assert_eq!(d.app.selected(), 4);
    d.key(KeyCode::Tab);
    assert_eq!(d.app.selected(), 0);
    d.key(KeyCode::BackTab);
    assert_eq!(d.app.selected(), 4);
    // A click on the third list item (three lines each, under the border), then on a pane.
    assert!(d
        .app
        .handle_mouse(mouse(MouseEventKind::Down(MouseButton::Left), 4, 8)));
    assert_eq!(d.app.selected(), 2);
    // Moving the pointer (or clicking where there is no task) changes nothing: no redraw.
    assert!(!d.app.handle_mouse(mouse(MouseEventKind::Moved, 4, 14)));
    assert!(!d
        .app
        .handle_mouse(mouse(MouseEventKind::Up(MouseButton::Left), 4, 8)));
    assert!(!d
        .app
        .handle_mouse(mouse(MouseEventKind::Down(MouseButton::Left), 0, 0)));
    assert_eq!(d.app.selected(), 2);
    let pane = d.app.layout().slot(1).unwrap().area;
    d.app.handle_mouse(mouse(
        MouseEventKind::Down(MouseButton::Left),
        pane.x + 3,
        pane.y + 3,
    ));
    assert_eq!(d.app.selected(), 1);
}

#[test]
fn retry_and_merge_only_where_they_make_sense() {
    let mut d = scene();
    // parser is running: neither retry nor merge.
    assert!(d.key(KeyCode::Char('r')).is_empty());
    assert!(d.text().contains("parser is running; nothing to retry"));
    assert!(d.key(KeyCode::Char('m')).is_empty());
    assert!(d
        .text()
        .contains("only a succeeded task can be merged; parser is running"));
    // docs succeeded and is merged already.
    d.key(KeyCode::Char('j'));
    assert!(d.key(KeyCode::Char('m')).is_empty());
    assert!(d.text().contains("docs is already merged"));
    let mut docs = view(1, "docs", TaskStatus::Succeeded);
    docs.head_commit = Some("89abcdef".into());
    d.app.apply_event(Event::TaskChanged(docs));
    // m asks first, looking at what the merge would do; y merges.
    let asked = sent(&d.key(KeyCode::Char('m')));
    assert_eq!(asked.len(), 1);
    assert!(asked[0].starts_with("load MergePreview"), "{asked:?}");
    assert!(d.text().contains("Merge docs into main?"));
    assert_eq!(
        sent(&d.key(KeyCode::Char('y'))),
        vec![format!("Merge {{ task: {:?} }}", TaskId(d.index("docs")))]
    );
    assert!(d.text().contains("merging docs into main"));
    // flaky failed: retry works even with no retries left.
    d.key(KeyCode::Char('j'));
    assert_eq!(
        sent(&d.key(KeyCode::Char('r'))),
        vec![format!("Retry {{ task: {:?} }}", TaskId(d.index("flaky")))]
    );
}

#[test]
fn merge_outcomes_are_shown() {
    let mut d = scene();
    d.app.apply_event(Event::Merged {
        task: TaskId(d.index("docs")),
        outcome: MergeOutcome::Conflict {
            paths: vec!["src/a.rs".into(), "src/b.rs".into()],
        },
    });
    assert!(d.app.flash().unwrap().error);
    assert!(d
        .text()
        .contains("merge of docs conflicts in src/a.rs, src/b.rs"));
    d.app.apply_event(Event::Merged {
        task: TaskId(d.index("docs")),
        outcome: MergeOutcome::Refused {
            reason: "uncommitted changes in the main worktree".into(),
        },
    });
    assert!(d
        .text()
        .contains("merge of docs refused: uncommitted changes in the main worktree"));
    d.app.apply_event(Event::Merged {
        task: TaskId(d.index("docs")),
        outcome: MergeOutcome::Merged {
            commit: "0123456789abcdef".into(),
            fast_forward: true,
        },
    });
    assert!(!d.app.flash().unwrap().error);
    assert!(d
        .text()
        .contains("merged docs into main (fast-forward 0123456789)"));
}

#[test]
fn scrolled_pane_stays_put_under_new_output_until_end() {
    let mut d = scene();
    let lines: String = (0..200).map(|i| format!("line {i}\r\n")).collect();
    d.output("parser", lines.as_bytes());
    d.draw();
    d.key(KeyCode::PageUp);
    let offset = d.panes["parser"].scroll_offset();
    assert!(offset > 0);
    let inner = d.app.layout().slot(0).unwrap().inner();
    let top = |d: &mut Dash| {
        let buffer = d.draw().backend().buffer().clone();
        (0..inner.width)
            .map(|x| buffer[(inner.x + x, inner.y)].symbol().to_string())
            .collect::<String>()
    };
    let before = top(&mut d);
    assert!(d.text().contains(&format!("↑{offset} lines")));
    d.output("parser", b"more\r\nand more\r\n");
    assert_eq!(top(&mut d), before);
    d.key(KeyCode::End);
    assert_eq!(d.panes["parser"].scroll_offset(), 0);
    assert!(d.text().contains("and more"));
    // The wheel scrolls the pane under the pointer.
    d.output("docs", lines.as_bytes());
    let docs = d.app.layout().slot(1).unwrap().area;
    d.app
        .handle_mouse(mouse(MouseEventKind::ScrollUp, docs.x + 2, docs.y + 2));
    assert!(d.panes["docs"].scroll_offset() > 0);
    assert_eq!(d.panes["parser"].scroll_offset(), 0);
}

#[test]
fn tiny_terminals_draw_every_mode_without_panicking() {
    let modes: [&[KeyCode]; 6] = [
        &[],
        &[KeyCode::Char('?')],
        &[KeyCode::Char('l')],
        &[KeyCode::Char('c')],
        &[KeyCode::Char('z'), KeyCode::Char('i')],
        &[KeyCode::Char('q')],
    ];
    for (width, height) in [(1, 1), (10, 5), (30, 8), (45, 12)] {
        for keys in modes {
            let mut d = scene();
            d.width = width;
            d.height = height;
            d.app.set_size(width, height);
            for key in keys {
                d.key(*key);
            }
            d.draw();
        }
        let mut d = scene();
        d.width = width;
        d.height = height;
        d.app.set_size(width, height);
        d.app.apply_event(Event::RunFinished(summary(1, 1, false)));
        d.draw();
    }
}

#[test]
fn race_siblings_are_grouped_and_compared() {
    let mut d = Dash::new(140, 34);
    d.add(view(0, "lint", TaskStatus::Succeeded));
    let check = |passed: bool, exit_code: i32| grove::engine::api::CheckView {
        command: "cargo test".into(),
        exit_code: Some(exit_code),
        passed,
        duration: Duration::from_millis(1500),
    };
    let mut one = view(1, "job.1", TaskStatus::Failed);
    one.attempts = vec![AttemptView {
        check: Some(check(false, 101)),
        ..attempt(1, TaskStatus::Failed, Some(0))
    }];
    one.error = Some("check 'cargo test' failed: exit code 101".into());
    let mut two = view(2, "job.2", TaskStatus::Succeeded);
    two.attempts = vec![AttemptView {
        check: Some(check(true, 0)),
        ..attempt(1, TaskStatus::Succeeded, Some(0))
    }];
    two.diff_stat = Some(stat());
    two.usage = Some(grove::engine::api::Usage {
        cost_usd: 0.25,
        ..Default::default()
    });
    let three = view(3, "job.3", TaskStatus::Running);
    for mut v in [one, two, three] {
        v.group = Some("job".into());
        d.add(v);
    }
    let text = d.text();
    assert!(text.contains("┌ job.1"), "{text}");
    assert!(text.contains("├ job.2"), "{text}");
    assert!(text.contains("└ job.3"), "{text}");
    assert!(!text.contains("┌ lint") && text.contains("lint"));

    // v on a task outside a race says so; on a sibling it compares the race.
    assert!(d.key(KeyCode::Char('v')).is_empty());
    assert!(d.text().contains("lint is not part of a race"));
    d.key(KeyCode::Char('j'));
    d.key(KeyCode::Char('v'));
    assert!(matches!(d.app.mode(), Mode::Compare { group, .. } if group == "job"));
    let text = d.text();
    assert!(text.contains(" race job "), "{text}");
    let row = |name: &str| {
        text.lines()
            .find(|l| {
                l.contains(&format!("  {name}  "))
                    && !l.contains("┌")
                    && !l.contains("├")
                    && !l.contains("└")
            })
            .unwrap_or_else(|| panic!("no row for {name}:\n{text}"))
            .to_string()
    };
    let r1 = row("job.1");
    assert!(
        r1.contains("failed") && r1.contains("failed (exit 101)"),
        "{r1}"
    );
    let r2 = row("job.2");
    assert!(r2.contains("succeeded") && r2.contains("$0.25"), "{r2}");
    assert!(r2.contains("+12 −3") && r2.contains("passed 1.5s"), "{r2}");
    let r3 = row("job.3");
    assert!(r3.contains("running"), "{r3}");
    assert!(text.contains("check 'cargo test' failed: exit code 101"));
    d.key(KeyCode::Esc);
    assert!(matches!(d.app.mode(), Mode::Normal));

    // A discarded sibling cannot be merged.
    let mut discarded = view(1, "job.1", TaskStatus::Succeeded);
    discarded.group = Some("job".into());
    discarded.merge = MergeState::Discarded;
    d.app.apply_event(Event::TaskChanged(discarded));
    assert!(d.key(KeyCode::Char('m')).is_empty());
    assert!(d
        .text()
        .contains("job.1 was discarded: another sibling of job was picked"));
}

#[test]
fn ctrl_z_stops_the_agents_first_then_suspends_once() {
    let mut d = scene();
    let (code, modifiers) = ctrl('z');
    let actions = d.key_with(code, modifiers);
    assert_eq!(sent(&actions), vec!["Pause"]);
    assert!(!d.app.zoomed(), "Ctrl-Z is not z");
    assert!(!d.app.take_suspend(), "not before the agents are stopped");
    d.app.apply_event(Event::Paused(true));
    assert!(d.app.take_suspend());
    assert!(!d.app.take_suspend());
    d.app.apply_event(Event::Paused(false));
    assert_eq!(d.app.flash().unwrap().text, "agents continued");
}

#[test]
fn messages_expire_and_pending_tasks_say_what_they_wait_for() {
    let mut d = scene();
    // A message stays a while, then the keys come back without a key being pressed.
    d.key(KeyCode::Char('r'));
    assert!(d.text().contains("parser is running; nothing to retry"));
    d.app.prepare_frame(at(95 + 30));
    assert!(!d.text_at(95 + 30).contains("nothing to retry"));
    assert!(d.text_at(95 + 30).contains("? help"));

    let mut later = view(4, "later", TaskStatus::Pending);
    later.started_at = None;
    later.pending = Some("after parser".into());
    d.change(later);
    assert!(d.text().contains("pending: after parser"), "{}", d.text());
}

#[test]
fn details_show_a_removed_worktree_as_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Dash::new(110, 44);
    let mut task = view(0, "gone", TaskStatus::Succeeded);
    task.worktree = dir.path().join("no-such-worktree");
    d.add(task);
    let load = only_load(&d.key(KeyCode::Char('l')));
    d.app.loaded(load.run());
    let text = d.text();
    assert!(text.contains("no-such-worktree (removed)"), "{text}");
}

#[test]
fn the_run_clock_goes_on_from_the_run_s_time_after_a_retry_reopens_it() {
    let mut d = scene();
    let mut finished = summary(2, 3, false);
    finished.elapsed = Duration::from_secs(40);
    d.app.apply_event(Event::RunFinished(finished));
    assert!(d.text().contains("finished in 40s"), "{}", d.text());
    // Ten minutes of looking around later, a retry reopens the run: its clock goes on from 40s.
    d.app.prepare_frame(at(95 + 600));
    let mut retried = view(2, "flaky", TaskStatus::Running);
    retried.attempt = 2;
    d.change(retried);
    assert!(
        d.text_at(95 + 605).contains("│ 45s"),
        "{}",
        d.text_at(95 + 605)
    );
}
