//! Pausing a run (Ctrl-Z in the dashboard): the run's pause clock, and timeouts that stop
//! counting while the run is paused, so a suspended agent is not timed out for time it could
//! not run.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// When the run is paused, and how long it has been paused in all. Kept by the run loop in a
/// watch channel; a timeout reads it to know how much of its time the agent could run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PauseClock {
    since: Option<Instant>,
    total: Duration,
}

impl PauseClock {
    pub fn pause(&mut self) {
        self.since.get_or_insert_with(Instant::now);
    }

    pub fn resume(&mut self) {
        if let Some(since) = self.since.take() {
            self.total += since.elapsed();
        }
    }

    pub fn is_paused(&self) -> bool {
        self.since.is_some()
    }

    /// Time spent paused from the start of the run up to `now`.
    fn paused_until(&self, now: Instant) -> Duration {
        self.total
            + self
                .since
                .map_or(Duration::ZERO, |s| now.saturating_duration_since(s))
    }
}

/// A time limit that does not count paused time: `limit` of unpaused time from its creation.
#[derive(Debug, Clone)]
pub struct Budget {
    start: Instant,
    paused_before: Duration,
    limit: Duration,
    clock: watch::Receiver<PauseClock>,
}

impl Budget {
    pub fn new(limit: Duration, clock: watch::Receiver<PauseClock>) -> Budget {
        let start = Instant::now();
        let paused_before = clock.borrow().paused_until(start);
        Budget {
            start,
            paused_before,
            limit,
            clock,
        }
    }

    /// Completes once the budget is spent. Waits on the clock's changes, never polls. The time
    /// left is worked out from the clock on every wake-up, so a pause this task did not see
    /// happen (grove itself was stopped right after it) is still not counted.
    pub async fn spent(&self) {
        let mut clock = self.clock.clone();
        loop {
            let now = Instant::now();
            let state = *clock.borrow_and_update();
            let paused = state.paused_until(now).saturating_sub(self.paused_before);
            let ran = now
                .saturating_duration_since(self.start)
                .saturating_sub(paused);
            let Some(left) = self.limit.checked_sub(ran).filter(|d| !d.is_zero()) else {
                return;
            };
            if state.is_paused() {
                if clock.changed().await.is_err() {
                    // Nobody can resume the run any more: the rest of the time runs out.
                    return tokio::time::sleep(left).await;
                }
                continue;
            }
            tokio::select! {
                biased;
                changed = clock.changed() => {
                    if changed.is_err() {
                        return tokio::time::sleep(left).await;
                    }
                }
                _ = tokio::time::sleep(left) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Tokio's paused clock: time moves only when every task waits, so the pause lands exactly
    // 100 ms into the budget however busy the machine is.
    #[tokio::test(start_paused = true)]
    async fn time_spent_paused_does_not_count() {
        let (tx, rx) = watch::channel(PauseClock::default());
        let started = Instant::now();
        let budget = Budget::new(Duration::from_millis(300), rx);
        let sleeper = tokio::spawn(async move { budget.spent().await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!sleeper.is_finished(), "the timeout ran out early");
        tx.send_modify(PauseClock::pause);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(!sleeper.is_finished(), "the timeout ran out while paused");
        tx.send_modify(PauseClock::resume);
        sleeper.await.unwrap();
        // 100 ms before the pause, 400 ms paused, the remaining 200 ms after.
        assert_eq!(started.elapsed(), Duration::from_millis(700));
    }

    #[tokio::test]
    async fn a_pause_the_sleeper_did_not_see_does_not_count_either() {
        let (tx, rx) = watch::channel(PauseClock::default());
        let started = Instant::now();
        let budget = Budget::new(Duration::from_millis(200), rx);
        let sleeper = tokio::spawn(async move { budget.spent().await });
        tokio::task::yield_now().await;
        // Paused and resumed while the sleeper cannot run (this thread is blocked), as when
        // grove itself is stopped in between: by the time it wakes, its timer has run out.
        tx.send_modify(PauseClock::pause);
        std::thread::sleep(Duration::from_millis(300));
        tx.send_modify(PauseClock::resume);
        sleeper.await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(500));
    }

    #[tokio::test]
    async fn a_dropped_clock_lets_the_time_run_out() {
        let mut clock = PauseClock::default();
        clock.pause();
        let (tx, rx) = watch::channel(clock);
        let budget = Budget::new(Duration::from_millis(50), rx);
        let sleeper = tokio::spawn(async move { budget.spent().await });
        drop(tx);
        sleeper.await.unwrap();
    }
}
