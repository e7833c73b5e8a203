//! How an outbox retries and what it keeps, and the one decision both backends make after an
//! attempt: done, retried (when), or dead.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::backoff;
use crate::config::defaults;
use crate::config::RelayConfig;
use crate::relay::{Attempt, Verdict};

/// How an outbox retries and what it keeps, from `[endpoint.relay]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Attempts before an event becomes a dead letter.
    pub max_attempts: u32,
    /// The first retry waits up to this long; each later one up to twice the one before.
    pub backoff_initial: Duration,
    /// No retry waits longer.
    pub backoff_max: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// Delivered events kept for the admin API (the oldest go first).
    pub history_limit: usize,
    /// Events pending at most (in flight included); beyond, [`Outbox::accept`] answers 503.
    ///
    /// [`Outbox::accept`]: super::Outbox::accept
    pub max_pending: usize,
    /// Dead letters kept at most (the oldest go first).
    pub max_dead: usize,
}

impl Default for Policy {
    /// The defaults of `[endpoint.relay]` (the same consts its serde defaults read).
    fn default() -> Self {
        Self {
            max_attempts: defaults::MAX_ATTEMPTS,
            backoff_initial: Duration::from_millis(defaults::BACKOFF_INITIAL_MS),
            backoff_max: Duration::from_secs(defaults::BACKOFF_MAX_SECS),
            concurrency: defaults::CONCURRENCY,
            history_limit: defaults::HISTORY_LIMIT,
            max_pending: defaults::MAX_PENDING,
            max_dead: defaults::MAX_DEAD,
        }
    }
}

impl From<&RelayConfig> for Policy {
    fn from(config: &RelayConfig) -> Self {
        Self {
            max_attempts: config.max_attempts,
            backoff_initial: Duration::from_millis(config.backoff_initial_ms),
            backoff_max: Duration::from_secs(config.backoff_max_secs),
            concurrency: config.concurrency.max(1),
            history_limit: config.history_limit,
            max_pending: config.max_pending,
            max_dead: config.max_dead,
        }
    }
}

/// What an attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Delivered: done.
    Delivered,
    /// Failed: tried again at this time.
    Retry(DateTime<Utc>),
    /// Refused, or failed for the last time.
    Dead,
}

impl Policy {
    /// What follows `attempt`, the `tries`-th since the event was queued or sent back:
    /// delivered, dead (refused, or failed for the `max_attempts`-th time), or retried after
    /// the backoff (`random(n)` picks the jitter from `0..=n`) or the downstream's
    /// `Retry-After`. Pure: the caller brings the time and the randomness.
    pub(crate) fn decide(
        &self,
        tries: u32,
        attempt: &Attempt,
        now: DateTime<Utc>,
        random: impl FnOnce(u64) -> u64,
    ) -> Outcome {
        match attempt.verdict {
            Verdict::Delivered => Outcome::Delivered,
            Verdict::Refused => Outcome::Dead,
            Verdict::Failed if tries >= self.max_attempts => Outcome::Dead,
            Verdict::Failed => {
                let wait = backoff::delay(
                    self.backoff_initial,
                    self.backoff_max,
                    tries,
                    backoff::retry_after(attempt, now),
                    random,
                );
                let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                Outcome::Retry(
                    now.checked_add_signed(wait)
                        .unwrap_or(DateTime::<Utc>::MAX_UTC),
                )
            }
        }
    }

    /// Logs dead letters removed beyond `max_dead` (`oldest`: the first removed, when known).
    pub(crate) fn log_dropped_dead(&self, endpoint: &str, count: u64, oldest: Option<u64>) {
        tracing::warn!(
            endpoint,
            count,
            id = oldest,
            max_dead = self.max_dead,
            "dead letters beyond max_dead removed, the oldest first"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_policy_defaults_are_the_relay_config_defaults() {
        let text = "[[endpoint]]\nname = \"e\"\npath = \"/e\"\n\
                    [endpoint.relay]\nmode = \"queued\"\nurl = \"http://127.0.0.1:9/x\"";
        let config =
            crate::config::from_parts(Some(("test.toml", text)), vec![], |_| None).unwrap();
        let relay = config.endpoints[0].relay.as_ref().unwrap();
        assert_eq!(Policy::from(relay), Policy::default());
    }

    fn attempt(verdict: Verdict, status: u16, headers: &[(&str, &str)]) -> Attempt {
        Attempt {
            at: Utc::now(),
            duration_ms: 1,
            verdict,
            status: Some(status),
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            body_excerpt: String::new(),
            message: String::new(),
            timed_out: false,
        }
    }

    fn policy() -> Policy {
        Policy {
            max_attempts: 3,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            ..Policy::default()
        }
    }

    #[test]
    fn a_failure_before_the_last_attempt_is_retried_after_the_drawn_backoff() {
        let now = Utc::now();
        let failed = attempt(Verdict::Failed, 500, &[]);
        let outcome = policy().decide(2, &failed, now, |most| most);
        assert_eq!(outcome, Outcome::Retry(now + chrono::Duration::seconds(2)));
        let outcome = policy().decide(2, &failed, now, |_| 0);
        assert_eq!(outcome, Outcome::Retry(now));
    }

    #[test]
    fn retry_after_on_503_sets_the_retry_instant() {
        let now = Utc::now();
        let busy = attempt(Verdict::Failed, 503, &[("Retry-After", "7")]);
        let outcome = policy().decide(1, &busy, now, |_| unreachable!("no jitter"));
        assert_eq!(outcome, Outcome::Retry(now + chrono::Duration::seconds(7)));
    }

    #[test]
    fn a_refusal_or_the_last_failure_is_dead_and_a_success_is_done() {
        let now = Utc::now();
        let decide =
            |verdict, tries| policy().decide(tries, &attempt(verdict, 500, &[]), now, |n| n);
        assert_eq!(decide(Verdict::Refused, 1), Outcome::Dead);
        assert_eq!(decide(Verdict::Failed, 3), Outcome::Dead);
        assert_eq!(decide(Verdict::Delivered, 3), Outcome::Delivered);
    }
}
