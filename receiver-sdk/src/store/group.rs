//! Group commit for the embedded stores: one committer thread makes every waiting commit
//! durable with one flush or fsync.
//!
//! A group is whatever queued while the previous flush ran. Under load a flush covers only
//! the few commits that arrived during it (about five at 10,000 deliveries/s on sled, whose
//! flush takes ~0.5 ms), and each flush costs CPU that the requests need. So once groups
//! show concurrency, the committer waits a little after a group's first commit for others to
//! join (PostgreSQL's `commit_delay` does the same); a commit arriving while the store is
//! quiet is flushed at once and never waits.

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// How long a committer waits, under concurrent load, for more commits to join a group before
/// it flushes: 300 µs unless the store's builder says otherwise.
pub const DEFAULT_COMMIT_DELAY: Duration = Duration::from_micros(300);

/// Gathers the jobs of one group at a time from a committer's queue.
#[derive(Debug)]
pub(crate) struct Grouper {
    delay: Duration,
    // The size of the previous group: more than one means commits are concurrent, so waiting
    // gathers more of them; one means the store is quiet and a wait would only add latency.
    last: usize,
}

impl Grouper {
    pub(crate) fn new(delay: Duration) -> Self {
        Self { delay, last: 0 }
    }

    /// The next group: blocks for its first job, then takes what else is queued (waiting up
    /// to the delay first if the previous group was concurrent). `None` once every sender
    /// has gone.
    pub(crate) fn next<T>(&mut self, jobs: &Receiver<T>) -> Option<Vec<T>> {
        let first = jobs.recv().ok()?;
        let mut group = vec![first];
        if self.last > 1 && !self.delay.is_zero() {
            let deadline = Instant::now() + self.delay;
            // Ends at the deadline, or when the senders are gone: what was gathered is still
            // flushed, and the next `recv` ends the committer's loop.
            while let Ok(job) =
                jobs.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                group.push(job);
            }
        }
        group.extend(jobs.try_iter());
        self.last = group.len();
        Some(group)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn a_quiet_store_flushes_at_once() {
        let (tx, rx) = mpsc::channel();
        let mut grouper = Grouper::new(Duration::from_secs(60));
        tx.send(1).unwrap();
        let started = Instant::now();
        assert_eq!(grouper.next(&rx), Some(vec![1]));
        // A second lone commit after a group of one does not wait either.
        tx.send(2).unwrap();
        assert_eq!(grouper.next(&rx), Some(vec![2]));
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn after_a_concurrent_group_the_committer_waits_for_more() {
        let (tx, rx) = mpsc::channel();
        let mut grouper = Grouper::new(Duration::from_millis(500));
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!(grouper.next(&rx), Some(vec![1, 2]));
        tx.send(3).unwrap();
        let late = tx.clone();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            late.send(4).unwrap();
        });
        // 4 arrives 20 ms after 3, within the 500 ms delay: both are one group.
        assert_eq!(grouper.next(&rx), Some(vec![3, 4]));
        sender.join().unwrap();
    }

    #[test]
    fn the_queue_closing_ends_the_groups_after_the_last_one() {
        let (tx, rx) = mpsc::channel();
        let mut grouper = Grouper::new(Duration::from_millis(50));
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        drop(tx);
        assert_eq!(grouper.next(&rx), Some(vec![1, 2]));
        assert_eq!(grouper.next::<i32>(&rx), None);
    }
}
