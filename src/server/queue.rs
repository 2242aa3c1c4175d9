//! What waits to be sent to one client: events and pane output, in order, up to a bound. A
//! client that falls behind never holds the agents or the other clients up, and never makes the
//! server hold an unbounded backlog: its queue is dropped and it gets a fresh snapshot instead.
//!
//! Every item carries the producer's sequence number (one counter for everything the server
//! sends, taken when the item happens). A snapshot says up to which number it holds everything;
//! items up to there are then redundant and dropped, the ones after it follow in order. So the
//! snapshot may be taken at any time after the queue asked for it, without a lock shared with the
//! producers.

use std::collections::VecDeque;

/// How much one client's queue may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub items: usize,
    pub bytes: usize,
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

#[derive(Debug)]
pub struct ClientQueue<T> {
    items: VecDeque<(u64, T, usize)>,
    bytes: usize,
    bound: Bound,
    state: State,
    /// The highest sequence number dropped: a snapshot must hold at least up to it.
    lost: u64,
    /// How many times the backlog was dropped, for the server's log.
    dropped: u64,
}

impl<T> ClientQueue<T> {
    pub fn new(bound: Bound) -> ClientQueue<T> {
        ClientQueue {
            items: VecDeque::new(),
            bytes: 0,
            bound,
            state: State::Normal,
            lost: 0,
            dropped: 0,
        }
    }

    /// Queues `item` (of `size` bytes), numbered `seq` (higher than every number before). When
    /// it does not fit, everything queued is dropped and the client will get a snapshot; the
    /// item itself is kept only if it fits alone.
    pub fn push(&mut self, seq: u64, item: T, size: usize) {
        debug_assert!(
            self.items.back().is_none_or(|&(last, _, _)| last < seq),
            "sequence numbers must grow"
        );
        if self.fits(size) {
            self.items.push_back((seq, item, size));
            self.bytes += size;
            return;
        }
        self.lost = self.items.back().map_or(self.lost, |&(last, _, _)| last);
        self.items.clear();
        self.bytes = 0;
        self.dropped += 1;
        if self.state == State::Normal {
            self.state = State::Behind;
        }
        if self.fits(size) {
            self.items.push_back((seq, item, size));
            self.bytes = size;
        } else {
            // Not even an empty queue holds it: the snapshot will.
            self.lost = seq;
        }
    }

    fn fits(&self, size: usize) -> bool {
        self.items.len() < self.bound.items && self.bytes.saturating_add(size) <= self.bound.bytes
    }

    /// The next thing to send, if any.
    pub fn pop(&mut self) -> Option<Next<T>> {
        match self.state {
            State::Behind => {
                self.state = State::AwaitingSnapshot;
                Some(Next::Snapshot)
            }
            State::AwaitingSnapshot => None,
            State::Normal => {
                let (_, item, size) = self.items.pop_front()?;
                self.bytes -= size;
                Some(Next::Item(item))
            }
        }
    }

    /// The snapshot asked for was sent, holding everything up to `seq`: the items it holds
    /// are dropped, the later ones go out next. If more was dropped since the snapshot was
    /// taken, the next `pop` asks for another.
    pub fn snapshot_sent(&mut self, seq: u64) {
        while let Some(&(first, _, size)) = self.items.front() {
            if first > seq {
                break;
            }
            self.items.pop_front();
            self.bytes -= size;
        }
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
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many times the client fell behind.
    pub fn times_dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Bound = Bound {
        items: 8,
        bytes: 100,
    };

    fn drain(queue: &mut ClientQueue<u64>) -> Vec<Next<u64>> {
        std::iter::from_fn(|| queue.pop()).collect()
    }

    #[test]
    fn items_come_out_in_order_while_they_fit() {
        let mut queue = ClientQueue::new(BOUND);
        for seq in 1..=5 {
            queue.push(seq, seq, 10);
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
            queue.push(seq, seq, 30);
            assert!(queue.bytes() <= BOUND.bytes);
        }
        assert_eq!(queue.pop(), Some(Next::Snapshot));
        // Until the snapshot is sent, nothing else goes: it may hold what is queued.
        assert_eq!(queue.pop(), None);
        queue.push(11, 11, 30);
        // The snapshot was taken after item 9 happened: 10 and 11 follow it.
        queue.snapshot_sent(9);
        assert_eq!(drain(&mut queue), vec![Next::Item(10), Next::Item(11)]);
        assert_eq!(queue.times_dropped(), 3);
    }

    #[test]
    fn too_many_small_items_also_fall_behind() {
        let mut queue = ClientQueue::new(BOUND);
        for seq in 1..=9 {
            queue.push(seq, seq, 1);
            assert!(queue.len() <= BOUND.items);
        }
        assert_eq!(queue.pop(), Some(Next::Snapshot));
        queue.snapshot_sent(9);
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn an_item_bigger_than_the_bound_is_left_to_the_snapshot() {
        let mut queue = ClientQueue::new(BOUND);
        queue.push(1, 1, 10);
        queue.push(2, 2, 1000);
        assert_eq!(queue.bytes(), 0);
        assert_eq!(queue.pop(), Some(Next::Snapshot));
        queue.snapshot_sent(2);
        assert_eq!(queue.pop(), None);
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
                    queue.push(seq, seq, rng.usize(1..40));
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
