use std::io::Cursor;

use super::*;
use crate::engine::api::{MergeState, TaskStatus};
use crate::server::queue::Bound;

fn view(id: usize) -> TaskView {
    TaskView {
        id: TaskId(id),
        name: format!("t{id}"),
        agent: "sh".into(),
        prompt: "p".into(),
        status: TaskStatus::Running,
        attempt: 1,
        max_attempts: 1,
        started_at: None,
        ended_at: None,
        retry_at: None,
        attempts: Vec::new(),
        error: None,
        branch: "b".into(),
        worktree: "/w".into(),
        envelope_path: "/e".into(),
        head_commit: None,
        diff_stat: None,
        merge: MergeState::NotRequested,
        merge_conflicts: Vec::new(),
        input_hash: None,
        output_hash: None,
        usage: None,
        waiting: None,
        group: None,
        sandbox: "off".into(),
        max_memory: None,
        held: None,
        follow_up: None,
        pending: None,
        timeout: std::time::Duration::from_secs(1),
        kill_grace: std::time::Duration::from_secs(1),
        copied_keys: Vec::new(),
    }
}

/// A client's panes, fed from the frames it is sent as `remote.rs` feeds them.
#[derive(Default)]
struct ClientPanes {
    panes: Vec<Arc<Pane>>,
}

impl ClientPanes {
    fn apply(&mut self, frames: &[u8]) {
        let mut cursor = Cursor::new(frames);
        while let Some(stream) = Stream::read(&mut cursor).unwrap() {
            match stream {
                Stream::Task {
                    view,
                    pane,
                    scrollback,
                } => match self.panes.get(view.id.index()) {
                    Some(known) => pane.apply_to(known),
                    None => {
                        let new = Arc::new(Pane::new(pane.rows, pane.cols, scrollback));
                        pane.apply_to(&new);
                        self.panes.push(new);
                    }
                },
                Stream::Pane { task, pane } => pane.apply_to(&self.panes[task.index()]),
                Stream::Output { task, data } => {
                    self.panes[task.index()].feed(&data, &mut std::io::sink());
                }
                Stream::Resized { task, rows, cols } => self.panes[task.index()].resize(rows, cols),
                _ => {}
            }
        }
    }
}

fn same(server: &Pane, client: &Pane) {
    assert_eq!(client.lines(), server.lines());
    let formatted = |p: &Pane| {
        p.with_screen(|s| (s.contents_formatted(), s.size()))
            .unwrap()
    };
    assert_eq!(formatted(client), formatted(server));
}

/// Output from another thread, with resizes, while the client attaches and reads.
fn feed(pane: Arc<Pane>, lines: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for i in 0..lines {
            let text = format!("\x1b[3{}mline {i}\x1b[0m caf\u{e9} \r\n", i % 8);
            // Split inside the escape and inside the two-byte character.
            let bytes = text.as_bytes();
            let cut = i % bytes.len();
            pane.feed(&bytes[..cut], &mut std::io::sink());
            pane.feed(&bytes[cut..], &mut std::io::sink());
            if i % 997 == 0 {
                pane.resize(6 + (i % 3) as u16, 30);
            }
        }
    })
}

async fn drain(slot: &Slot, hub: &Hub, filter: &mut Filter, client: &mut ClientPanes) {
    while let Some(frames) = slot.next(hub, filter, 64 * 1024).await {
        client.apply(&frames);
    }
}

#[tokio::test]
async fn a_client_attached_while_output_flows_ends_with_the_same_panes() {
    let hub = Arc::new(Hub::default());
    // History for every line: a byte sent twice or missed would still show at the end.
    let panes: Vec<Arc<Pane>> = (0..2).map(|_| Arc::new(Pane::new(6, 30, 10_000))).collect();
    panes[0].feed(b"before the hub\r\n", &mut std::io::sink());
    for (i, pane) in panes.iter().enumerate() {
        hub.add_task(view(i), pane);
    }
    let feeders: Vec<_> = panes.iter().map(|p| feed(p.clone(), 3000)).collect();
    // Attached while the lines come (the feeders are at work, not done).
    while panes[1].lines().len() < 100 {
        std::thread::yield_now();
    }
    let (slot, snapshot) = hub.attach();
    let mut client = ClientPanes::default();
    snapshot.frames.iter().for_each(|f| client.apply(f));
    let mut filter = snapshot.filter;
    for feeder in feeders {
        feeder.join().unwrap();
    }
    hub.close();
    drain(&slot, &hub, &mut filter, &mut client).await;
    assert_eq!(client.panes.len(), 2);
    for (server, client) in panes.iter().zip(&client.panes) {
        same(server, client);
    }
}

#[tokio::test]
async fn a_client_that_falls_behind_gets_a_fresh_snapshot_and_ends_the_same() {
    let hub = Arc::new(Hub::default());
    let pane = Arc::new(Pane::new(6, 30, 200));
    hub.add_task(view(0), &pane);
    let small = Bound {
        items: 50,
        bytes: 4096,
        pane_bytes: usize::MAX,
    };
    let (slot, snapshot) = hub.attach_bounded(small);
    let mut client = ClientPanes::default();
    snapshot.frames.iter().for_each(|f| client.apply(f));
    let mut filter = snapshot.filter;
    // The client reads nothing while 3000 lines come: far over its bound.
    feed(pane.clone(), 3000).join().unwrap();
    let queued = lock(&slot.queue).bytes();
    assert!(queued <= small.bytes, "{queued} bytes queued");
    hub.close();
    drain(&slot, &hub, &mut filter, &mut client).await;
    assert!(slot.times_behind().0 > 0);
    same(&pane, &client.panes[0]);
}

#[tokio::test]
async fn a_task_added_later_and_the_finish_reach_a_client() {
    let hub = Arc::new(Hub::default());
    let (slot, snapshot) = hub.attach();
    let mut client = ClientPanes::default();
    snapshot.frames.iter().for_each(|f| client.apply(f));
    let mut filter = snapshot.filter;
    let pane = Arc::new(Pane::new(4, 20, 10));
    pane.feed(b"already here\r\n", &mut std::io::sink());
    hub.add_task(view(0), &pane);
    pane.feed(b"then this\r\n", &mut std::io::sink());
    hub.close();
    drain(&slot, &hub, &mut filter, &mut client).await;
    same(&pane, &client.panes[0]);
    assert!(client.panes[0]
        .lines()
        .iter()
        .any(|l| l.starts_with("already here")));
}

#[tokio::test]
async fn an_attach_draws_the_screens_first_and_the_histories_follow() {
    let hub = Arc::new(Hub::default());
    let panes: Vec<Arc<Pane>> = (0..3).map(|_| Arc::new(Pane::new(5, 30, 500))).collect();
    for (i, pane) in panes.iter().enumerate() {
        for line in 0..200 {
            let text = format!("pane {i} \x1b[1mline {line}\x1b[0m\r\n");
            pane.feed(text.as_bytes(), &mut std::io::sink());
        }
        hub.add_task(view(i), pane);
    }
    // The last pane is in the alternate screen: its snapshot is whole, no history follows.
    panes[2].feed(b"\x1b[?1049hfull screen app", &mut std::io::sink());
    let (slot, snapshot) = hub.attach();
    let mut client = ClientPanes::default();
    snapshot.frames.iter().for_each(|f| client.apply(f));
    for (server, client) in panes.iter().zip(&client.panes) {
        let screen = |p: &Pane| p.with_screen(|s| s.contents_formatted()).unwrap();
        assert_eq!(screen(client), screen(server));
        // The screen's rows, no history yet.
        assert_eq!(client.lines().len(), 5);
    }
    assert_eq!(filter_owed(&snapshot.filter), vec![0, 1]);
    let mut filter = snapshot.filter;
    panes[0].feed(b"after the attach\r\n", &mut std::io::sink());
    hub.close();
    drain(&slot, &hub, &mut filter, &mut client).await;
    for (server, client) in panes.iter().zip(&client.panes) {
        same(server, client);
    }
    assert!(client.panes[1].lines().len() > 200);
}

fn filter_owed(filter: &Filter) -> Vec<usize> {
    filter.owed.iter().map(|(task, _)| task.index()).collect()
}

#[tokio::test]
async fn a_flooding_pane_of_a_slow_client_is_sent_whole_and_the_others_as_they_came() {
    let hub = Arc::new(Hub::default());
    let panes: Vec<Arc<Pane>> = (0..2).map(|_| Arc::new(Pane::new(6, 30, 200))).collect();
    for (i, pane) in panes.iter().enumerate() {
        hub.add_task(view(i), pane);
    }
    let bound = Bound {
        items: 100_000,
        bytes: 64 * 1024 * 1024,
        pane_bytes: 2048,
    };
    let (slot, snapshot) = hub.attach_bounded(bound);
    let mut client = ClientPanes::default();
    snapshot.frames.iter().for_each(|f| client.apply(f));
    let mut filter = snapshot.filter;
    // The client reads nothing while pane 0 floods; pane 1 prints a little.
    let flood = feed(panes[0].clone(), 3000);
    panes[1].feed(b"typed\r\n", &mut std::io::sink());
    flood.join().unwrap();
    assert!(lock(&slot.queue).bytes() < 4096 + 1024);
    hub.close();
    drain(&slot, &hub, &mut filter, &mut client).await;
    let (behind, shed) = slot.times_behind();
    assert_eq!(behind, 0);
    assert!(shed > 0);
    for (server, client) in panes.iter().zip(&client.panes) {
        same(server, client);
    }
}

#[tokio::test]
async fn a_flood_reaches_a_client_exact_with_what_the_server_fast_forwarded_left_out() {
    let hub = Arc::new(Hub::default());
    let pane = Arc::new(Pane::new(6, 30, 100));
    pane.feed(b"before\r\n", &mut std::io::sink());
    hub.add_task(view(0), &pane);
    let (slot, snapshot) = hub.attach();
    let mut client = ClientPanes::default();
    snapshot.frames.iter().for_each(|f| client.apply(f));
    let mut filter = snapshot.filter;
    // The pane's history, owed after the snapshot.
    let history = slot.next(&hub, &mut filter, 1 << 24).await.unwrap();
    client.apply(&history);
    // Batches of 2,000 coloured lines: most of each scrolls out of the screen and the 100 rows
    // of history unseen. Each is read by the client before the next.
    let (mut fed, mut sent) = (0, 0);
    for batch in 0..5 {
        let text: String = (0..2000)
            .map(|i| format!("\x1b[3{}mbatch {batch} line {i}\x1b[0m\r\n", i % 8))
            .collect();
        fed += text.len();
        pane.feed(text.as_bytes(), &mut std::io::sink());
        let frames = slot.next(&hub, &mut filter, 1 << 24).await.unwrap();
        sent += frames.len();
        client.apply(&frames);
    }
    hub.close();
    assert_eq!(slot.next(&hub, &mut filter, 1 << 24).await, None);
    assert_eq!(slot.times_behind(), (0, 0));
    same(&pane, &client.panes[0]);
    assert!(sent < fed / 4, "{sent} bytes sent for {fed} fed");
}
