//! Pausing a run (Ctrl-Z in the dashboard): the shared paused flag and timeouts that stop
//! counting while it is set, so a suspended agent is not timed out for time it could not run.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// Sleeps until `limit` of unpaused time has passed. Waits on the flag's changes, never polls.
/// If the flag's sender goes away, the rest of the time runs out normally.
pub async fn pausable_sleep(limit: Duration, mut paused: watch::Receiver<bool>) {
    let mut left = limit;
    loop {
        if *paused.borrow_and_update() {
            if paused.changed().await.is_err() {
                break;
            }
            continue;
        }
        let started = Instant::now();
        tokio::select! {
            _ = tokio::time::sleep(left) => return,
            changed = paused.changed() => {
                left = left.saturating_sub(started.elapsed());
                if changed.is_err() {
                    break;
                }
            }
        }
    }
    tokio::time::sleep(left).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn time_spent_paused_does_not_count() {
        let (tx, rx) = watch::channel(false);
        let started = Instant::now();
        let sleeper = tokio::spawn(pausable_sleep(Duration::from_millis(300), rx));
        tokio::time::sleep(Duration::from_millis(100)).await;
        tx.send(true).unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(!sleeper.is_finished(), "the timeout ran out while paused");
        tx.send(false).unwrap();
        sleeper.await.unwrap();
        // 100 ms before the pause, 400 ms paused, the remaining ~200 ms after.
        assert!(started.elapsed() >= Duration::from_millis(650));
    }

    #[tokio::test]
    async fn a_dropped_flag_lets_the_time_run_out() {
        let (tx, rx) = watch::channel(true);
        let sleeper = tokio::spawn(pausable_sleep(Duration::from_millis(50), rx));
        drop(tx);
        sleeper.await.unwrap();
    }
}
