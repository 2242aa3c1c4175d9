//! What waits to be sent to one client: events and pane output, up to a bound. A client that
//! falls behind never holds the agents or the other clients up, and never makes the server hold
//! an unbounded backlog.
//!
//! Every item carries the producer's sequence number (one counter for everything the server
//! sends, taken when the item happens). Items of one pane (a lane) go out in order, and nothing
//! overtakes an event (an item of no lane): but a pane's items may overtake other panes' (taken
//! in turn), so the echo of a key typed into one agent is not queued behind megabytes that
//! flooding agents printed meanwhile.
//!
//! Two ways to fall behind. A pane whose items for this client pass `Bound::pane_bytes` has them
//! dropped (`take_shed` says which): the client is then sent that pane's whole state instead,
//! taken after (`Stream::Pane`). The queue as a whole passing its bound drops everything: the next
//! thing the client is sent is a fresh snapshot. A snapshot says up to which number it holds
//! everything; items up to there are then redundant and dropped, the ones after it follow. So a
//! snapshot may be taken at any time after the queue asked for it, without a lock shared with the
//! producers.

use std::collections::VecDeque;

/// How much one client's queue may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub items: usize,
    pub bytes: usize,
    /// Of one pane's items (a single item always fits an empty lane).
    pub pane_bytes: usize,
}

/// What to send next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<T> {
    Item(T),
    /// The client fell behind and its backlog was dropped: send it a fresh snapshot, then tell
    /// the queue the snapshot's sequence number (`snapshot_sent`).
    Snapshot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    /// The backlog was dropped; the next `pop` asks for a snapshot.
    Behind,
    /// The snapshot was asked for and is not sent yet: items wait for it.
    AwaitingSnapshot,
}

type Entry<T> = (u64, T, usize);

#[derive(Debug)]
pub struct ClientQueue<T> {
    /// Items of no lane (events), in order.
    events: VecDeque<Entry<T>>,
    /// Each pane's items, in order, and their bytes.
    lanes: Vec<(VecDeque<Entry<T>>, usize)>,
    /// The lane `pop` looks at first.
    turn: usize,
    len: usize,
    bytes: usize,
    bound: Bound,
    state: State,
    /// The highest sequence number dropped: a snapshot must hold at least up to it.
    lost: u64,
    /// Lanes whose items were dropped since `take_shed` last said so.
    shed: Vec<usize>,
    /// How many times the backlog was dropped, and a lane's, for the server's log.
    dropped: u64,
    lanes_shed: u64,
}

impl<T> ClientQueue<T> {
    pub fn new(bound: Bound) -> ClientQueue<T> {
        ClientQueue {
            events: VecDeque::new(),
            lanes: Vec::new(),
            turn: 0,
            len: 0,
            bytes: 0,
            bound,
            state: State::Normal,
            lost: 0,
            shed: Vec::new(),
            dropped: 0,
            lanes_shed: 0,
        }
    }

    /// Queues `item` (of `size` bytes), numbered `seq` (higher than every number before), in
    /// pane `lane`'s items or, with none, as an event. A lane that would pass its bound is
    /// dropped, this item with it (`take_shed`); a queue that would pass its bound is dropped
    /// whole and the client will get a snapshot, the item kept only if it fits alone.
    pub fn push(&mut self, seq: u64, item: T, size: usize, lane: Option<usize>) {
        if let Some(lane) = lane {
            if self.lanes.len() <= lane {
                self.lanes.resize_with(lane + 1, Default::default);
            }
            let (items, bytes) = &self.lanes[lane];
            if !items.is_empty() && bytes.saturating_add(size) > self.bound.pane_bytes {
                self.shed_lane(lane);
                return;
            }
        }
        if !self.fits(size) {
            self.lost = seq.saturating_sub(1).max(self.lost);
            self.clear();
            self.dropped += 1;
            if self.state == State::Normal {
                self.state = State::Behind;
            }
            if !self.fits(size) {
                // Not even an empty queue holds it: the snapshot will.
                self.lost = seq;
                return;
            }
        }
        let entry = (seq, item, size);
        match lane {
            Some(lane) => {
                let (items, bytes) = &mut self.lanes[lane];
                items.push_back(entry);
                *bytes += size;
            }
            None => self.events.push_back(entry),
        }
        self.len += 1;
        self.bytes += size;
    }

    fn shed_lane(&mut self, lane: usize) {
        let (items, bytes) = &mut self.lanes[lane];
        self.len -= items.len();
        self.bytes -= *bytes;
        items.clear();
        *bytes = 0;
        if !self.shed.contains(&lane) {
            self.shed.push(lane);
        }
        self.lanes_shed += 1;
    }

    fn clear(&mut self) {
        self.events.clear();
        for (items, bytes) in &mut self.lanes {
            items.clear();
            *bytes = 0;
        }
        self.len = 0;
        self.bytes = 0;
    }

    fn fits(&self, size: usize) -> bool {
        self.len < self.bound.items && self.bytes.saturating_add(size) <= self.bound.bytes
    }

    /// The lanes whose items were dropped since this was last asked: the client must get each
    /// one's whole state, taken after this call. (A fresh snapshot covers them too.)
    pub fn take_shed(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.shed)
    }

    /// The next thing to send, if any: the next lane in turn whose first item is older than
    /// the first event, else the first event.
    pub fn pop(&mut self) -> Option<Next<T>> {
        match self.state {
            State::Behind => {
                self.state = State::AwaitingSnapshot;
                return Some(Next::Snapshot);
            }
            State::AwaitingSnapshot => return None,
            State::Normal => {}
        }
        let event = self.events.front().map_or(u64::MAX, |&(seq, _, _)| seq);
        let lanes = self.lanes.len();
        let lane = (0..lanes).map(|i| (self.turn + i) % lanes).find(|&l| {
            self.lanes[l]
                .0
                .front()
                .is_some_and(|&(seq, _, _)| seq < event)
        });
        let (_, item, size) = match lane {
            Some(lane) => {
                self.turn = lane + 1;
                let (items, bytes) = &mut self.lanes[lane];
                let entry = items.pop_front()?;
                *bytes -= entry.2;
                entry
            }
            None => self.events.pop_front()?,
        };
        self.len -= 1;
        self.bytes -= size;
        Some(Next::Item(item))
    }

    /// The snapshot asked for was sent, holding everything up to `seq`: the items it holds
    /// are dropped, the later ones go out next. If more was dropped since the snapshot was
    /// taken, the next `pop` asks for another.
    pub fn snapshot_sent(&mut self, seq: u64) {
        /// Drops the items up to `seq`: how many, and their bytes.
        fn drop_upto<T>(items: &mut VecDeque<Entry<T>>, seq: u64) -> (usize, usize) {
            let mut dropped = (0, 0);
            while let Some(&(first, _, size)) = items.front() {
                if first > seq {
                    break;
                }
                items.pop_front();
                dropped.0 += 1;
                dropped.1 += size;
            }
            dropped
        }
        let (mut len, mut bytes) = drop_upto(&mut self.events, seq);
        for (items, lane_bytes) in &mut self.lanes {
            let (n, gone) = drop_upto(items, seq);
            *lane_bytes -= gone;
            len += n;
            bytes += gone;
        }
        self.len -= len;
        self.bytes -= bytes;
        if self.state == State::AwaitingSnapshot {
            self.state = if self.lost > seq {
                State::Behind
            } else {
                State::Normal
            };
        }
    }

    /// Bytes queued now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many times the client fell behind.
    pub fn times_dropped(&self) -> u64 {
        self.dropped
    }

    /// How many times a pane's items were dropped for its whole state.
    pub fn times_shed(&self) -> u64 {
        self.lanes_shed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Bound = Bound {
        items: 8,
        bytes: 100,
        pane_bytes: 100,
    };

    fn drain(queue: &mut ClientQueue<u64>) -> Vec<Next<u64>> {
        std::iter::from_fn(|| queue.pop()).collect()
    }

    #[test]
    fn items_come_out_in_order_while_they_fit() {
        let mut queue = ClientQueue::new(BOUND);
        for seq in 1..=5 {
            queue.push(seq, seq, 10, None);
        }
        assert_eq!(queue.bytes(), 50);
        let got = drain(&mut queue);
        assert_eq!(got, (1..=5).map(Next::Item).collect::<Vec<_>>());
        assert_eq!(queue.bytes(), 0);
        assert_eq!(queue.times_dropped(), 0);
    }

    #[test]
    fn a_backlog_over_the_bound_becomes_a_snapshot_then_later_items() {
        let mut queue = ClientQueue::new(BOUND);
        for seq in 1..=10 {
            queue.push(seq, seq, 30, None);
            assert!(queue.bytes() <= BOUND.bytes);
        }
        assert_eq!(queue.pop(), Some(Next::Snapshot));
        // Until the snapshot is sent, nothing else goes: it may hold what is queued.
        assert_eq!(queue.pop(), None);
        queue.push(11, 11, 30, None);
        // The snapshot was taken after item 9 happened: 10 and 11 follow it.
        queue.snapshot_sent(9);
        assert_eq!(drain(&mut queue), vec![Next::Item(10), Next::Item(11)]);
        assert_eq!(queue.times_dropped(), 3);
    }

    #[test]
    fn too_many_small_items_also_fall_behind() {
        let mut queue = ClientQueue::new(BOUND);
        for seq in 1..=9 {
            queue.push(seq, seq, 1, None);
            assert!(queue.len() <= BOUND.items);
        }
        assert_eq!(queue.pop(), Some(Next::Snapshot));
        queue.snapshot_sent(9);
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn an_item_bigger_than_the_bound_is_left_to_the_snapshot() {
        let mut queue = ClientQueue::new(BOUND);
        queue.push(1, 1, 10, None);
        queue.push(2, 2, 1000, None);
        assert_eq!(queue.bytes(), 0);
        assert_eq!(queue.pop(), Some(Next::Snapshot));
        queue.snapshot_sent(2);
        assert_eq!(queue.pop(), None);
    }

    fn seqs(queue: &mut ClientQueue<u64>) -> Vec<u64> {
        drain(queue)
            .into_iter()
            .map(|next| match next {
                Next::Item(n) => n,
                Next::Snapshot => 0,
            })
            .collect()
    }

    const LANES: Bound = Bound {
        items: 100,
        bytes: 10_000,
        pane_bytes: 250,
    };

    #[test]
    fn a_pane_typed_into_is_not_queued_behind_a_flooding_one() {
        let mut queue = ClientQueue::new(LANES);
        for seq in 1..=2 {
            queue.push(seq, seq, 100, Some(0));
        }
        queue.push(3, 3, 1, Some(1));
        queue.push(4, 4, 10, Some(0));
        assert_eq!(seqs(&mut queue), vec![1, 3, 2, 4]);
    }

    #[test]
    fn nothing_overtakes_an_event_and_an_event_overtakes_nothing() {
        let mut queue = ClientQueue::new(LANES);
        for (seq, lane) in [(1, Some(0)), (2, None), (3, Some(1)), (4, Some(0))] {
            queue.push(seq, seq, 10, lane);
        }
        assert_eq!(seqs(&mut queue), vec![1, 2, 3, 4]);
        let lanes = [
            (5, Some(0)),
            (6, Some(0)),
            (7, Some(1)),
            (8, None),
            (9, Some(1)),
        ];
        for (seq, lane) in lanes {
            queue.push(seq, seq, 10, lane);
        }
        // Pane 1's turn comes first now (pane 0 went last).
        assert_eq!(seqs(&mut queue), vec![7, 5, 6, 8, 9]);
    }

    #[test]
    fn a_pane_over_its_bound_is_shed_and_the_others_kept() {
        let mut queue = ClientQueue::new(LANES);
        queue.push(1, 1, 100, Some(0));
        queue.push(2, 2, 100, Some(1));
        queue.push(3, 3, 100, Some(0));
        queue.push(4, 4, 100, Some(0));
        assert_eq!(queue.take_shed(), vec![0]);
        assert_eq!(queue.take_shed(), Vec::<usize>::new());
        assert_eq!((queue.len(), queue.bytes()), (1, 100));
        // Alone in its lane, an item bigger than the lane's bound is kept.
        queue.push(5, 5, 1000, Some(0));
        assert_eq!(seqs(&mut queue), vec![5, 2]);
        assert_eq!((queue.len(), queue.bytes(), queue.times_shed()), (0, 0, 1));
        assert_eq!(queue.times_dropped(), 0);
    }

    /// Items in random lanes and events, a client of random speed that gets a lane's whole
    /// state (taken some time after the lane was shed) and fresh snapshots: every lane and the
    /// events arrive in order, nothing passes an event, and the client ends with exactly what
    /// was produced.
    #[test]
    fn a_slow_client_of_many_panes_ends_with_exactly_what_was_produced() {
        const PANES: usize = 3;
        for seed in 0..300 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let bound = Bound {
                items: rng.usize(5..40),
                bytes: rng.usize(50..600),
                pane_bytes: rng.usize(10..200),
            };
            let mut queue = ClientQueue::new(bound);
            // Per lane (the last one: events), what was produced and what the client holds.
            let mut produced: Vec<Vec<u64>> = vec![Vec::new(); PANES + 1];
            let mut client: Vec<Vec<u64>> = vec![Vec::new(); PANES + 1];
            // What the client holds up to, per lane; lanes owed their whole state.
            let mut held = [0u64; PANES + 1];
            let mut owed: Vec<usize> = Vec::new();
            let mut asked = false;
            let mut lane_of = std::collections::HashMap::new();
            let mut seq = 0;
            for round in 0.. {
                let producing = round < 400;
                for _ in 0..if producing { rng.usize(0..6) } else { 0 } {
                    seq += 1;
                    let lane = rng.usize(0..=PANES);
                    produced[lane].push(seq);
                    lane_of.insert(seq, lane);
                    let size = rng.usize(1..40);
                    queue.push(seq, seq, size, (lane < PANES).then_some(lane));
                }
                for lane in queue.take_shed() {
                    if !owed.contains(&lane) {
                        owed.push(lane);
                    }
                }
                if asked && (rng.bool() || !producing) {
                    // A fresh snapshot: everything as of now.
                    client.clone_from(&produced);
                    held = [seq; PANES + 1];
                    owed.clear();
                    queue.snapshot_sent(seq);
                    asked = false;
                }
                for _ in 0..if producing { rng.usize(0..4) } else { 1 } {
                    match queue.pop() {
                        Some(Next::Item(n)) => {
                            let lane = lane_of[&n];
                            if lane == PANES {
                                let pending = (0..PANES).filter_map(|l| queue.lanes.get(l));
                                let older = pending.filter_map(|(items, _)| items.front());
                                assert!(older.map(|e| e.0).all(|s| s > n), "seed {seed}");
                            }
                            if n <= held[lane] || owed.contains(&lane) {
                                continue;
                            }
                            assert!(client[lane].last().is_none_or(|&l| l < n), "seed {seed}");
                            client[lane].push(n);
                            held[lane] = n;
                        }
                        Some(Next::Snapshot) => asked = true,
                        None => {}
                    }
                }
                if !owed.is_empty() && (rng.bool() || !producing) {
                    // The owed lane's whole state, taken now.
                    let lane = owed.remove(0);
                    client[lane].clone_from(&produced[lane]);
                    held[lane] = seq;
                }
                if !producing && !asked && owed.is_empty() && queue.is_empty() {
                    break;
                }
            }
            assert_eq!(client, produced, "seed {seed}");
        }
    }

    /// A producer appends numbered output to a pane and queues it; a client of random speed
    /// applies items and, when asked to, replaces its pane with a snapshot of the producer's,
    /// taken some time after it was asked for and sent some time after that, while more output
    /// arrives and overflows the queue again. Whatever the speeds, the queue never passes its
    /// bound and the client ends with exactly the producer's pane.
    #[test]
    fn a_slow_client_ends_with_exactly_what_was_produced() {
        for seed in 0..300 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let bound = Bound {
                items: rng.usize(1..20),
                bytes: rng.usize(10..300),
                pane_bytes: usize::MAX,
            };
            let mut queue = ClientQueue::new(bound);
            let (mut produced, mut client) = (Vec::new(), Vec::new());
            // Asked for a snapshot; then taken (what it holds, and up to which number).
            let mut asked = false;
            let mut taken: Option<(Vec<u64>, u64)> = None;
            let mut seq = 0;
            let mut round = 0;
            loop {
                round += 1;
                let producing = round < 500;
                for _ in 0..if producing { rng.usize(0..6) } else { 0 } {
                    seq += 1;
                    produced.push(seq);
                    queue.push(seq, seq, rng.usize(1..40), None);
                    assert!(queue.bytes() <= bound.bytes && queue.len() <= bound.items);
                }
                if asked && taken.is_none() && (rng.bool() || !producing) {
                    taken = Some((produced.clone(), seq));
                } else if let Some((snapshot, upto)) = taken.take_if(|_| rng.bool() || !producing) {
                    client = snapshot;
                    queue.snapshot_sent(upto);
                    asked = false;
                }
                for _ in 0..if producing { rng.usize(0..4) } else { 1 } {
                    match queue.pop() {
                        Some(Next::Item(n)) => {
                            assert!(client.last().is_none_or(|&last| last < n), "seed {seed}");
                            client.push(n);
                        }
                        Some(Next::Snapshot) => asked = true,
                        None => {}
                    }
                }
                if !producing && !asked && taken.is_none() && queue.is_empty() {
                    break;
                }
            }
            assert_eq!(client, produced, "seed {seed}");
        }
    }
}
