//! The one place that turns what happened to a delivery into a status code and a JSON body.
//!
//! | outcome | status | when |
//! | --- | --- | --- |
//! | `handled` | 200 | the handler succeeded; mark and delivery id are durable |
//! | `batch` | 200 | every event of a [batch](crate::envelope::Envelope::batch) was handled, or skipped as one of the outcomes below; the message counts them |
//! | `ignored` | 200 | a sender's test delivery, or an event type the endpoint does not take |
//! | `stale` | 200 | older than the newest event handled for its key; not handled |
//! | `duplicate` | 200 | this delivery was handled already; not handled again |
//! | `accepted` | 202 | the handler outlived the endpoint's deadline and goes on running |
//! | `malformed` | 400 | not JSON, an envelope field missing or of the wrong type, or an id over its length limit |
//! | `unauthorized` | 401 | authentication or signature check failed (says which) |
//! | `method_not_allowed` | 405 | anything but HEAD and POST (`Allow: HEAD, POST`) |
//! | `timeout` | 408 | the body did not arrive in time |
//! | `too_large` | 413 | the body is over the endpoint's limit, or a batch has more events than it takes |
//! | `unsupported_media_type` | 415 | a content type other than JSON |
//! | `unprocessable` | 422 | valid JSON that does not fit the handler's payload type |
//! | `rejected` | handler's | the handler refused the event, with its message |
//! | `unavailable` | 503 | the store failed; the sender should retry |
//! | `pending` | 503 | the handler outlived the deadline of an endpoint that does not answer 2xx before it is done ([`OnDeadline::Retry`](crate::OnDeadline::Retry)); it goes on, the sender should retry |
//! | `internal` | 500 | the handler panicked; the sender should retry |
//!
//! Every answer carries the outcome in an `X-Webhook-Outcome` header and in the body:
//! `{"outcome": "stale", "message": "..."}`.
//!
//! A batch stops at its first event that fails: the answer is that event's outcome, its
//! message saying which event it was ([`Outcome::BatchFailed`]). The events before it are
//! recorded, so the sender's retry of the whole batch skips them as duplicates.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{header, HeaderName, HeaderValue, StatusCode};
use serde::Serialize;

use crate::store::EventTime;

/// The header that names the outcome of every answer.
pub const OUTCOME_HEADER: HeaderName = HeaderName::from_static("x-webhook-outcome");

/// What happened to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The handler succeeded.
    Handled,
    /// Deliberately not handled (test delivery, unsubscribed event type); the reason says which.
    Ignored(String),
    /// Not newer than what its key already knows; the message names both times.
    Stale {
        /// The event's time.
        created_at: EventTime,
        /// What the event is not newer than.
        mark: Mark,
    },
    /// Already handled.
    Duplicate,
    /// Every event of a batch was handled or skipped; the counts say which.
    Batch(BatchCounts),
    /// One event of a batch failed, so the batch stopped there: answered with that event's
    /// outcome (its status and name), the message naming the event.
    BatchFailed {
        /// The failed event's place in the batch, from 0.
        index: usize,
        /// How many events the batch holds.
        len: usize,
        /// How many events before it were done (handled or skipped).
        done: usize,
        /// Whether those are recorded, so a retry of the batch skips them (the endpoint
        /// dedupes).
        recorded: bool,
        /// What the failed event came to.
        outcome: Box<Outcome>,
    },
    /// A batch with more events than the endpoint takes in one delivery (counted up to the
    /// first past the limit, and no further).
    TooManyEvents {
        /// The endpoint's limit.
        limit: usize,
    },
    /// The handler is still running after the endpoint's deadline.
    Accepted,
    /// The body is not JSON or lacks an envelope field.
    Malformed(String),
    /// An envelope field the sender chooses (event type, entity type, entity id, delivery id)
    /// is longer than the endpoint's limit, so it is refused before anything stores it.
    FieldTooLong {
        /// Which field, e.g. `entity id`.
        field: &'static str,
        /// Its length in bytes.
        length: usize,
        /// The endpoint's limit in bytes.
        limit: usize,
    },
    /// Authentication failed; `challenge` is a `WWW-Authenticate` value to send along.
    Unauthorized {
        /// Which check failed.
        reason: String,
        /// Sent as `WWW-Authenticate` (Basic auth).
        challenge: Option<HeaderValue>,
    },
    /// A method other than HEAD or POST.
    MethodNotAllowed,
    /// The body took longer than the endpoint's body timeout.
    Timeout,
    /// The body is over the endpoint's limit.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A content type that is not JSON.
    UnsupportedMediaType(String),
    /// JSON that does not fit the handler's payload type.
    Unprocessable(String),
    /// The handler refused the event with this status and message.
    Rejected(StatusCode, String),
    /// Our storage failed; retry later.
    Unavailable(String),
    /// The handler is still running after the endpoint's deadline and nothing is durable yet;
    /// retry later (the retry finds it handled once it is).
    Pending,
    /// Something of ours failed unexpectedly; retry later.
    Internal(String),
}

/// What a [stale](Outcome::Stale) event is not newer than.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mark {
    /// The time of the newest event handled for the key: the event is older, or as old
    /// under [`TiePolicy::Drop`](crate::ordering::TiePolicy::Drop).
    Handled(EventTime),
    /// The endpoint's [ordering horizon](crate::ReceiverBuilder::ordering_horizon): every
    /// event before `cutoff` is stale.
    Horizon {
        /// The horizon itself.
        horizon: Duration,
        /// Now minus the horizon, when the event was judged.
        cutoff: EventTime,
    },
}

/// What became of the events of a [batch](Outcome::Batch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchCounts {
    /// Handled by the handler, now durable.
    pub handled: usize,
    /// Handled already, by an earlier delivery or earlier in this one.
    pub duplicate: usize,
    /// Older than what their ordering key knows.
    pub stale: usize,
    /// Test events, or event types the endpoint does not take.
    pub ignored: usize,
}

impl BatchCounts {
    /// Counts one event's outcome (one of the four a batch goes on after); `false` for any
    /// other, which stops the batch.
    pub(crate) fn count(&mut self, outcome: &Outcome) -> bool {
        let count = match outcome {
            Outcome::Handled => &mut self.handled,
            Outcome::Duplicate => &mut self.duplicate,
            Outcome::Stale { .. } => &mut self.stale,
            Outcome::Ignored(_) => &mut self.ignored,
            _ => return false,
        };
        *count += 1;
        true
    }

    /// How many events were counted.
    pub fn total(&self) -> usize {
        self.handled + self.duplicate + self.stale + self.ignored
    }
}

#[derive(Serialize)]
struct Body<'a> {
    outcome: &'a str,
    message: &'a str,
}

impl Outcome {
    /// The status code this outcome is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Handled
            | Self::Ignored(_)
            | Self::Stale { .. }
            | Self::Duplicate
            | Self::Batch(_) => StatusCode::OK,
            Self::BatchFailed { outcome, .. } => outcome.status(),
            Self::Accepted => StatusCode::ACCEPTED,
            Self::Malformed(_) | Self::FieldTooLong { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::TooLarge { .. } | Self::TooManyEvents { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Rejected(status, _) => *status,
            Self::Unavailable(_) | Self::Pending => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The outcome's name, as sent in `X-Webhook-Outcome` and the body.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Handled => "handled",
            Self::Ignored(_) => "ignored",
            Self::Stale { .. } => "stale",
            Self::Duplicate => "duplicate",
            Self::Batch(_) => "batch",
            Self::BatchFailed { outcome, .. } => outcome.name(),
            Self::Accepted => "accepted",
            Self::Malformed(_) | Self::FieldTooLong { .. } => "malformed",
            Self::Unauthorized { .. } => "unauthorized",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Timeout => "timeout",
            Self::TooLarge { .. } | Self::TooManyEvents { .. } => "too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Unprocessable(_) => "unprocessable",
            Self::Rejected(..) => "rejected",
            Self::Unavailable(_) => "unavailable",
            Self::Pending => "pending",
            Self::Internal(_) => "internal",
        }
    }

    /// A human-readable explanation, safe to show the sender.
    pub fn message(&self) -> String {
        match self {
            Self::Handled => "event handled".into(),
            Self::Duplicate => "delivery already handled".into(),
            Self::Accepted => "event accepted; handling continues".into(),
            Self::Pending => {
                "handling outlived the endpoint's deadline and continues; nothing is recorded \
                 yet, so retry later"
                    .into()
            }
            Self::MethodNotAllowed => "only HEAD and POST are accepted".into(),
            Self::Timeout => "the request body did not arrive in time".into(),
            Self::TooLarge { limit } => format!("body is larger than the limit of {limit} bytes"),
            Self::TooManyEvents { limit } => {
                format!("the batch holds more than {limit} events, the limit of this endpoint")
            }
            Self::Batch(counts) => batch_message(counts),
            Self::BatchFailed {
                index,
                len,
                done,
                recorded,
                outcome,
            } => {
                let mut message = format!("event {} of {len}: {}", index + 1, outcome.message());
                match (*done, *recorded) {
                    (0, _) => {}
                    (done, true) => message.push_str(&format!(
                        "; the {done} before it are recorded, so a retry skips them"
                    )),
                    (done, false) => message.push_str(&format!(
                        "; the {done} before it were done, and a retry does them again (this \
                         endpoint does not dedupe)"
                    )),
                }
                message
            }
            Self::Stale { created_at, mark } => stale_message(*created_at, *mark),
            Self::FieldTooLong {
                field,
                length,
                limit,
            } => format!("{field} is {length} bytes, longer than the limit of {limit} bytes"),
            Self::UnsupportedMediaType(ct) => {
                format!("content type `{ct}` is not accepted; send application/json")
            }
            Self::Unauthorized { reason, .. } => reason.clone(),
            Self::Ignored(m)
            | Self::Malformed(m)
            | Self::Unprocessable(m)
            | Self::Rejected(_, m)
            | Self::Unavailable(m)
            | Self::Internal(m) => m.clone(),
        }
    }

    /// Whether the sender should consider the delivery done (2xx).
    pub fn is_success(&self) -> bool {
        self.status().is_success()
    }
}

fn batch_message(counts: &BatchCounts) -> String {
    let parts: Vec<String> = [
        (counts.handled, "handled"),
        (counts.duplicate, "duplicate"),
        (counts.stale, "stale"),
        (counts.ignored, "ignored"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, name)| format!("{count} {name}"))
    .collect();
    match counts.total() {
        0 => "an empty batch; nothing to handle".into(),
        1 => format!("a batch of 1 event: {}", parts.join(", ")),
        total => format!("a batch of {total} events: {}", parts.join(", ")),
    }
}

fn stale_message(created_at: EventTime, mark: Mark) -> String {
    let show = |time: EventTime| time.to_datetime().to_rfc3339();
    match mark {
        Mark::Handled(mark) if mark == created_at => format!(
            "an event with the same time ({}) was already handled for this key",
            show(created_at)
        ),
        Mark::Handled(mark) => format!(
            "event time {} is older than the newest handled event for this key ({})",
            show(created_at),
            show(mark)
        ),
        Mark::Horizon { horizon, cutoff } => format!(
            "event time {} is older than the ordering horizon of {} s (before {})",
            show(created_at),
            horizon.as_secs(),
            show(cutoff)
        ),
    }
}

impl IntoResponse for Outcome {
    fn into_response(self) -> Response {
        let message = self.message();
        let body = serde_json::to_vec(&Body {
            outcome: self.name(),
            message: &message,
        })
        .unwrap_or_default();
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(OUTCOME_HEADER, HeaderValue::from_static(self.name()));
        match self {
            Self::Unauthorized {
                challenge: Some(challenge),
                ..
            } => {
                headers.insert(header::WWW_AUTHENTICATE, challenge);
            }
            Self::MethodNotAllowed => {
                headers.insert(header::ALLOW, HeaderValue::from_static("HEAD, POST"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_answer_carries_outcome_header_and_json_body() {
        let response = Outcome::Stale {
            created_at: EventTime::from_nanos(1_000_000_000),
            mark: Mark::Handled(EventTime::from_nanos(2_000_000_000)),
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[OUTCOME_HEADER], "stale");
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["outcome"], "stale");
        assert_eq!(
            json["message"],
            "event time 1970-01-01T00:00:01+00:00 is older than the newest handled event for \
             this key (1970-01-01T00:00:02+00:00)"
        );
    }

    #[test]
    fn stale_messages_name_the_tie_the_mark_or_the_horizon() {
        let stale = |created_at, mark| Outcome::Stale { created_at, mark }.message();
        let at = EventTime::from_nanos;
        assert_eq!(
            stale(at(1_000_000_000), Mark::Handled(at(1_000_000_000))),
            "an event with the same time (1970-01-01T00:00:01+00:00) was already handled for \
             this key"
        );
        assert_eq!(
            stale(
                at(1_000_000_000),
                Mark::Horizon {
                    horizon: Duration::from_secs(60),
                    cutoff: at(61_000_000_000)
                }
            ),
            "event time 1970-01-01T00:00:01+00:00 is older than the ordering horizon of 60 s \
             (before 1970-01-01T00:01:01+00:00)"
        );
    }

    #[test]
    fn too_large_names_the_limit() {
        let outcome = Outcome::TooLarge { limit: 1000 };
        assert_eq!(outcome.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            outcome.message(),
            "body is larger than the limit of 1000 bytes"
        );
    }

    #[test]
    fn a_batch_counts_its_events_and_a_failed_one_answers_as_its_event() {
        let mut counts = BatchCounts::default();
        for outcome in [Outcome::Handled, Outcome::Handled, Outcome::Duplicate] {
            assert!(counts.count(&outcome));
        }
        assert!(!counts.count(&Outcome::Pending));
        let batch = Outcome::Batch(counts);
        assert_eq!((batch.status(), batch.name()), (StatusCode::OK, "batch"));
        assert_eq!(
            batch.message(),
            "a batch of 3 events: 2 handled, 1 duplicate"
        );
        assert_eq!(
            Outcome::Batch(BatchCounts::default()).message(),
            "an empty batch; nothing to handle"
        );
        let failed = Outcome::BatchFailed {
            index: 2,
            len: 5,
            done: 2,
            recorded: true,
            outcome: Box::new(Outcome::Unavailable("store unavailable".into())),
        };
        assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(failed.name(), "unavailable");
        assert_eq!(
            failed.message(),
            "event 3 of 5: store unavailable; the 2 before it are recorded, so a retry skips them"
        );
        let too_many = Outcome::TooManyEvents { limit: 1000 };
        assert_eq!(too_many.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            too_many.message(),
            "the batch holds more than 1000 events, the limit of this endpoint"
        );
    }

    #[test]
    fn method_not_allowed_names_the_allowed_methods() {
        let response = Outcome::MethodNotAllowed.into_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "HEAD, POST");
    }
}
