//! The background worker of one outbox: takes due events, delivers up to `concurrency` at
//! once, records every attempt, and otherwise sleeps until the next due time or a new event.
//!
//! On shutdown it takes nothing new and gives the attempts in flight up to the grace period to
//! finish, recording their results. Attempts still running then are abandoned; their events
//! are still pending in the store and are attempted again after a restart.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle, JoinSet};

use super::schedule::Lane;
use super::{Outbox, OutboxError, Outcome};
use crate::relay::{Attempt, Verdict};

/// How long the worker waits after the store failed before it tries again.
const STORE_PAUSE: Duration = Duration::from_secs(1);

/// The longest single sleep, so a wall clock that jumps cannot oversleep a due event by much.
const LONGEST_SLEEP: Duration = Duration::from_secs(60);

/// Starts the worker of `outbox`. It runs until `stop` turns true, then lets attempts in flight
/// finish for up to `grace`.
pub fn spawn(outbox: Arc<Outbox>, stop: watch::Receiver<bool>, grace: Duration) -> JoinHandle<()> {
    tokio::spawn(run(outbox, stop, grace))
}

/// The attempts in flight, with the event each one is for (kept beside the task so that even
/// a panicking delivery is recorded against its event).
#[derive(Default)]
struct Running {
    tasks: JoinSet<Attempt>,
    events: HashMap<tokio::task::Id, (u64, Lane)>,
}

type Joined = Result<(tokio::task::Id, Attempt), JoinError>;

impl Running {
    fn len(&self) -> usize {
        self.tasks.len()
    }

    fn start(&mut self, outbox: &Outbox, job: super::Job) {
        let relay = Arc::clone(&outbox.relay);
        let handle = self
            .tasks
            .spawn(async move { relay.deliver(&job.event, Some(&job.idempotency_key)).await });
        self.events.insert(handle.id(), (job.id, job.lane));
    }

    /// Records a finished attempt against its event.
    async fn record(&mut self, outbox: &Outbox, joined: Joined) {
        let (task, attempt) = match joined {
            Ok((task, attempt)) => (task, attempt),
            Err(e) if e.is_panic() => {
                let attempt = Attempt::unanswered(
                    outbox.now(),
                    0,
                    Verdict::Failed,
                    "the delivery panicked".into(),
                );
                (e.id(), attempt)
            }
            // Cancelled: only at shutdown, when nothing more is recorded.
            Err(_) => return,
        };
        crate::metrics::relay_attempt(
            outbox.endpoint(),
            attempt.verdict.name(),
            attempt.duration_ms,
        );
        let Some((id, lane)) = self.events.remove(&task) else {
            return;
        };
        log_attempt(
            outbox,
            id,
            &lane,
            &attempt,
            outbox.finish(id, &lane, attempt.clone()).await,
        );
    }
}

fn log_attempt(
    outbox: &Outbox,
    id: u64,
    lane: &Lane,
    attempt: &Attempt,
    result: Result<(Outcome, u32), OutboxError>,
) {
    let endpoint = outbox.endpoint();
    let (outcome, number) = match result {
        Ok(done) => done,
        Err(e) => {
            tracing::error!(endpoint, id, entity = %lane, error = %e, "cannot record a relay attempt");
            return;
        }
    };
    let next_attempt_at = match outcome {
        Outcome::Retry(at) => Some(at.to_rfc3339()),
        Outcome::Delivered | Outcome::Dead => None,
    };
    macro_rules! attempt_event {
        ($level:ident, $what:literal) => {
            tracing::$level!(
                endpoint,
                id,
                entity = %lane,
                attempt = number,
                verdict = ?attempt.verdict,
                status = attempt.status,
                duration_ms = attempt.duration_ms,
                next_attempt_at,
                message = %attempt.message,
                $what
            )
        };
    }
    match outcome {
        Outcome::Delivered => attempt_event!(info, "relayed"),
        Outcome::Retry(_) => attempt_event!(info, "relay attempt failed; will retry"),
        Outcome::Dead => attempt_event!(warn, "relay gave up: dead letter"),
    }
}

fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (at - now)
        .to_std()
        .unwrap_or(Duration::ZERO)
        .min(LONGEST_SLEEP)
}

async fn run(outbox: Arc<Outbox>, mut stop: watch::Receiver<bool>, grace: Duration) {
    let concurrency = outbox.policy.concurrency;
    let mut running = Running::default();
    loop {
        if *stop.borrow_and_update() {
            break;
        }
        let mut wait = None;
        while running.len() < concurrency {
            match outbox.take_due(outbox.now()).await {
                Ok(Some(job)) => running.start(&outbox, job),
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(endpoint = outbox.endpoint(), error = %e, "cannot read the outbox");
                    wait = Some(STORE_PAUSE);
                    break;
                }
            }
        }
        // With every slot taken, only a finished attempt (or stop) matters.
        if wait.is_none() && running.len() < concurrency {
            wait = outbox.next_due().await.map(|at| until(at, outbox.now()));
        }
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            Some(joined) = running.tasks.join_next_with_id() => running.record(&outbox, joined).await,
            () = outbox.wake.notified() => {}
            () = tokio::time::sleep(wait.unwrap_or(LONGEST_SLEEP)), if wait.is_some() => {}
        }
    }
    drain(&outbox, running, grace).await;
}

async fn drain(outbox: &Outbox, mut running: Running, grace: Duration) {
    if running.len() == 0 {
        return;
    }
    tracing::info!(
        endpoint = outbox.endpoint(),
        in_flight = running.len(),
        "outbox stopping: letting attempts in flight finish"
    );
    let deadline = tokio::time::Instant::now() + grace;
    while running.len() > 0 {
        match tokio::time::timeout_at(deadline, running.tasks.join_next_with_id()).await {
            Ok(Some(joined)) => running.record(outbox, joined).await,
            Ok(None) => break,
            Err(_) => {
                tracing::warn!(
                    endpoint = outbox.endpoint(),
                    abandoned = running.len(),
                    "attempts outlived the shutdown timeout; their events stay pending and are \
                     attempted again after a restart"
                );
                running.tasks.abort_all();
                break;
            }
        }
    }
}
