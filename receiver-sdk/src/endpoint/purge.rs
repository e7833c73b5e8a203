//! Forgetting what no longer decides anything: expired delivery ids, and marks older than the
//! ordering horizon. Started by a request, so there is no background task to manage.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use super::Inner;
use crate::store::UnixSeconds;

// Expired delivery ids are purged at most this often, in batches of at most this many with
// the requests let in between, until every expired id is gone.
const PURGE_EVERY_SECS: i64 = 60;
const PURGE_BATCH: usize = 1_000;

impl Inner {
    /// Purges expired delivery ids at most once a minute, in a task of its own, batch after
    /// batch until none is left: a single batch a minute would forget fewer ids than a busy
    /// endpoint records (1,000 a minute against, say, 100 deliveries a second), and the store
    /// would grow for ever.
    pub(super) fn purge_if_due(self: &Arc<Self>, now: UnixSeconds, clock: SystemTime) {
        let last = self.last_purge.load(Ordering::Relaxed);
        if now.as_secs() - last < PURGE_EVERY_SECS
            || self
                .last_purge
                .compare_exchange(last, now.as_secs(), Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            || self.purging.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let inner = Arc::clone(self);
        tokio::spawn(async move {
            let name = &inner.options().name;
            let mut removed = 0;
            loop {
                match inner.store.purge_expired(now, PURGE_BATCH).await {
                    Ok(0) => break,
                    Ok(batch) => {
                        removed += batch;
                        // Each batch is bounded work; between two, the requests go first.
                        tokio::task::yield_now().await;
                    }
                    Err(e) => {
                        tracing::warn!(endpoint = %name, error = %e,
                            "purging delivery ids failed");
                        break;
                    }
                }
            }
            if removed > 0 {
                tracing::debug!(endpoint = %name, removed, "expired delivery ids purged");
            }
            // Marks older than the horizon decide nothing: every event that old is stale.
            if let Some((_, before)) = inner.stage.horizon_cutoff(clock) {
                loop {
                    match inner.store.purge_marks(before, PURGE_BATCH).await {
                        Ok(0) => break,
                        Ok(_) => tokio::task::yield_now().await,
                        Err(e) => {
                            tracing::warn!(endpoint = %name, error = %e,
                                "purging ordering marks failed");
                            break;
                        }
                    }
                }
            }
            inner.purging.store(false, Ordering::Release);
        });
    }
}
