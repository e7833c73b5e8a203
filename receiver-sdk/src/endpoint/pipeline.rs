//! One request through the endpoint: the checks made before the body is read, reading it, the
//! pure stage ([`Assessor`](super::Assessor)), then the store's checks, the handler and the
//! durable commit, which go on even if the sender hangs up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::assess::{BatchEvent, Checks, Early, Examined};
use super::handler::{self, Parsed, Run};
use super::{public_url, Inner, OnDeadline};
use crate::dedupe::DeliveryKeys;
use crate::detach::{Detachable, Panicked};
use crate::envelope::EventMeta;
use crate::handshake::Reply;
use crate::ordering::Verdict;
use crate::outcome::{BatchCounts, Mark, Outcome, OUTCOME_HEADER};
use crate::store::{
    Commit, DeliveryKey, EventTime, LeaseKey, OrderingKey, StoreError, UnixSeconds,
};

/// What a sender is told when the store fails: the backend's own text (a database error
/// quoting the key, a path on disk) is for the operator, so it goes to the log instead.
const STORE_UNAVAILABLE: &str = "store unavailable";

/// What a pipeline stage ends with: the outcome, and the response to send when it is not the
/// outcome's own (the layer form's inner service answered).
struct Answer {
    outcome: Outcome,
    response: Option<Response>,
}

/// What is left to do for a delivery once it is prepared.
enum Work {
    One(Job),
    Batch {
        steps: Vec<Step>,
        // The whole body's replay key, recorded before its events run.
        replay: Option<DeliveryKey>,
    },
}

/// One event's handler, to run under the store's checks of its ordering mark and delivery
/// keys.
struct Job {
    mark: Option<(OrderingKey, EventTime)>,
    delivery: DeliveryKeys,
    run: Run,
}

/// One event of a batch: its job, or its answer from the pure stage (an event skipped).
enum Step {
    Run(Job),
    Answered(Outcome),
}

/// What reading and judging a request came to: a delivery's answer, or a handshake's reply.
enum Processed {
    Delivery(Answer),
    Handshake(Reply),
}

impl From<Outcome> for Answer {
    fn from(outcome: Outcome) -> Self {
        Self {
            outcome,
            response: None,
        }
    }
}

impl Inner {
    pub(super) async fn respond(
        self: Arc<Self>,
        request: Request,
        prepare: impl FnMut(Parsed) -> Result<Run, Outcome>,
    ) -> Response {
        let started = Instant::now();
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let too_large = declared.is_some_and(|len| len > self.options().body_limit as u64);
        let mut event = None;
        let answer = match self.stage.admit(request.method(), too_large) {
            // A reachability probe (Sonar sends one): no body, no store access.
            Some(Early::Probe) => return StatusCode::OK.into_response(),
            Some(Early::Refuse(outcome)) => outcome.into(),
            None => match self.process(request, &mut event, prepare).await {
                Ok(Processed::Delivery(answer)) => answer,
                Ok(Processed::Handshake(reply)) => {
                    self.log_handshake(&reply, started.elapsed());
                    return reply.into_response();
                }
                Err(outcome) => outcome.into(),
            },
        };
        self.log(&answer.outcome, event.as_ref(), started.elapsed());
        match answer.response {
            Some(mut response) => {
                response.headers_mut().insert(
                    OUTCOME_HEADER,
                    HeaderValue::from_static(answer.outcome.name()),
                );
                response
            }
            None => answer.outcome.into_response(),
        }
    }

    fn log(&self, outcome: &Outcome, event: Option<&EventMeta>, elapsed: Duration) {
        let name = &self.options().name;
        let event_type = event.map(|e| e.event_type.as_str());
        let entity = event.and_then(|e| e.entity_id.as_deref());
        let delivery = event.and_then(|e| e.delivery_id.as_deref());
        let status = outcome.status().as_u16();
        let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        if outcome.is_success() {
            tracing::info!(endpoint = %name, event = event_type, entity, delivery,
                outcome = outcome.name(), status, latency_us, "webhook answered");
        } else {
            tracing::warn!(endpoint = %name, event = event_type, entity, delivery,
                outcome = outcome.name(), status, latency_us, message = %outcome.message(),
                "webhook refused");
        }
    }

    fn log_handshake(&self, reply: &Reply, elapsed: Duration) {
        let name = &self.options().name;
        let provider = reply.provider();
        let status = reply.status().as_u16();
        let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        if reply.is_refused() {
            tracing::warn!(endpoint = %name, provider, outcome = reply.name(), status,
                latency_us, message = %reply.message(), "handshake refused");
        } else {
            tracing::info!(endpoint = %name, provider, outcome = reply.name(), status,
                latency_us, "handshake answered");
        }
    }

    async fn read_body(&self, request: Request) -> Result<(http::request::Parts, Bytes), Outcome> {
        let (parts, body) = request.into_parts();
        let limited = Limited::new(body, self.options().body_limit);
        match tokio::time::timeout(self.options().body_timeout, limited.collect()).await {
            Err(_) => Err(Outcome::Timeout),
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
                Err(self.stage.too_large())
            }
            Ok(Err(e)) => Err(Outcome::Malformed(format!("could not read the body: {e}"))),
            Ok(Ok(collected)) => Ok((parts, collected.to_bytes())),
        }
    }

    async fn process(
        self: &Arc<Self>,
        request: Request,
        seen: &mut Option<EventMeta>,
        mut prepare: impl FnMut(Parsed) -> Result<Run, Outcome>,
    ) -> Result<Processed, Outcome> {
        let (parts, body) = self.read_body(request).await?;
        let now = (self.options().clock)();
        let url = public_url::request_url(
            self.options().public_url.as_ref(),
            &parts.uri,
            &parts.headers,
        );
        let verified = (self.stage).verify(&parts.method, Some(&url), &parts.headers, &body, now);
        let query = parts.uri.query();
        let method = &parts.method;
        if let Some(reply) = self
            .stage
            .handshake(method, query, &parts.headers, &body, &verified)
        {
            return Ok(Processed::Handshake(reply));
        }
        if *method != http::Method::POST {
            return Err(Outcome::MethodNotAllowed);
        }
        let examined = self
            .stage
            .examine(&parts.headers, &body, now, &verified, seen)?;
        let endpoint = Arc::clone(&self.options().name);
        let work = match examined {
            Examined::One(checks) => {
                let Checks {
                    ordering,
                    deliveries,
                    value,
                    event,
                    ..
                } = *checks;
                let run = prepare(Parsed {
                    value,
                    event,
                    parts,
                    body,
                    endpoint,
                    batch: None,
                })?;
                Work::One(Job {
                    mark: ordering,
                    delivery: deliveries,
                    run,
                })
            }
            Examined::Batch(batch) => {
                let len = batch.events.len();
                let mut steps = Vec::with_capacity(len);
                // Each event as if it came alone: its own length and framing, and a
                // CloudEvents batch's event typed as the one structured event it is.
                let mut parts_of_one = parts.clone();
                let headers = &mut parts_of_one.headers;
                headers.remove(header::TRANSFER_ENCODING);
                if let Some(one) = self.options().envelope.event_content_type(headers) {
                    headers.insert(header::CONTENT_TYPE, one);
                }
                for (index, event) in batch.events.into_iter().enumerate() {
                    steps.push(match event {
                        BatchEvent::Answer { outcome, .. } => Step::Answered(outcome),
                        BatchEvent::Check(checks) => {
                            let Checks {
                                ordering,
                                deliveries,
                                value,
                                event,
                                item,
                            } = *checks;
                            let body = item.as_ref().map_or_else(
                                || body.clone(),
                                |(_, range)| body.slice(range.clone()),
                            );
                            let mut parts = parts_of_one.clone();
                            parts
                                .headers
                                .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
                            let parsed = Parsed {
                                value,
                                event,
                                parts,
                                body,
                                endpoint: Arc::clone(&endpoint),
                                batch: item.map(|(place, _)| place),
                            };
                            let run = prepare(parsed).map_err(|outcome| Outcome::BatchFailed {
                                index,
                                len,
                                done: 0,
                                recorded: self.options().dedupe,
                                outcome: Box::new(outcome),
                            })?;
                            Step::Run(Job {
                                mark: ordering,
                                delivery: deliveries,
                                run,
                            })
                        }
                    });
                }
                Work::Batch {
                    steps,
                    replay: batch.replay,
                }
            }
        };
        let now = UnixSeconds::at(now);
        // The rest (the dedupe check too, made once under the key's lock) cannot be cancelled:
        // a sender that hangs up mid-handler must not stop the handler between its side effects
        // and the commit that records them. It runs here, and goes on in a task of its own if
        // this request is dropped or its deadline passes.
        let accepted = Arc::new(AtomicBool::new(false));
        let mut work = Detachable::new(Arc::clone(self).work(work, now, Arc::clone(&accepted)));
        let finished = match self.options().deadline {
            None => (&mut work).await,
            Some(deadline) => match tokio::time::timeout(deadline, &mut work).await {
                Ok(finished) => finished,
                Err(_) => {
                    return Err(match self.options().on_deadline {
                        OnDeadline::Accept => {
                            accepted.store(true, Ordering::SeqCst);
                            Outcome::Accepted
                        }
                        OnDeadline::Retry => Outcome::Pending,
                    })
                }
            },
        };
        finished
            .unwrap_or_else(|Panicked| Err(Outcome::Internal("the handler panicked".into())))
            .map(Processed::Delivery)
    }

    /// The store's checks, the handler and the commit of one delivery, or of a batch's
    /// events one by one, stopping at the first that fails, unless the sender was already
    /// answered 202 (`accepted`): it will not retry, so every event it was promised is tried.
    async fn work(
        self: Arc<Self>,
        work: Work,
        now: UnixSeconds,
        accepted: Arc<AtomicBool>,
    ) -> Result<Answer, Outcome> {
        let (steps, replay) = match work {
            Work::One(job) => return self.finish(job, now).await,
            Work::Batch { steps, replay } => (steps, replay),
        };
        if let Some(replay) = replay {
            let expires = now.saturating_add(self.options().retention);
            self.store
                .commit(Commit {
                    mark: None,
                    delivery: Some((replay, expires)),
                })
                .await
                .map_err(|e| self.unavailable(e))?;
        }
        let len = steps.len();
        let mut counts = BatchCounts::default();
        for (index, step) in steps.into_iter().enumerate() {
            let outcome = match step {
                Step::Answered(outcome) => outcome,
                Step::Run(job) => match Arc::clone(&self).finish(job, now).await {
                    Ok(answer) => answer.outcome,
                    Err(outcome) => outcome,
                },
            };
            let done = counts.total();
            if counts.count(&outcome) {
                continue;
            }
            if accepted.load(Ordering::SeqCst) {
                tracing::error!(endpoint = %self.options().name, event = index + 1, of = len,
                    outcome = outcome.name(), message = %outcome.message(),
                    "an event of a batch already answered 202 failed; it is not handled");
                continue;
            }
            return Err(Outcome::BatchFailed {
                index,
                len,
                done,
                recorded: self.options().dedupe,
                outcome: Box::new(outcome),
            });
        }
        Ok(Outcome::Batch(counts).into())
    }

    async fn finish(self: Arc<Self>, job: Job, now: UnixSeconds) -> Result<Answer, Outcome> {
        let Job {
            mark,
            delivery,
            run,
        } = job;
        // Without ordering, concurrent copies meet on the body's key where there is one: it
        // is what replays under fresh ids share.
        let lock_key = match (&mark, delivery.replay.as_ref().or(delivery.id.as_ref())) {
            (Some((key, _)), _) => Some(LeaseKey::Ordering(key)),
            (None, Some(delivery)) => Some(LeaseKey::Delivery(delivery)),
            (None, None) => None,
        };
        let (_guard, _lease) = match lock_key {
            Some(key) => {
                let guard = self.locks.lock(key.encode()).await;
                // Taken after the in-process lock, so one process holds at most one lease per
                // key and waits for others' leases only once.
                let lease = self
                    .store
                    .lease(key)
                    .await
                    .map_err(|e| self.unavailable(e))?;
                (Some(guard), lease)
            }
            None => (None, None),
        };
        // Checked again under the lock: a concurrent copy of this delivery may have been
        // handled while this one waited.
        for delivery in [&delivery.id, &delivery.replay].into_iter().flatten() {
            if self
                .store
                .is_handled(delivery, now)
                .await
                .map_err(|e| self.unavailable(e))?
            {
                return Err(Outcome::Duplicate);
            }
        }
        if let Some((key, created_at)) = &mark {
            let current = self
                .store
                .mark(key)
                .await
                .map_err(|e| self.unavailable(e))?;
            if let Some(current) = current {
                if self.options().ties.judge(*created_at, Some(current)) == Verdict::Stale {
                    return Err(Outcome::Stale {
                        created_at: *created_at,
                        mark: Mark::Handled(current),
                    });
                }
            }
        }
        let response = match run().await {
            Ok(response) => response,
            Err(refusal) => {
                let (outcome, response) = handler::refused(refusal);
                return match response {
                    None => Err(outcome),
                    Some(response) => Ok(Answer {
                        outcome,
                        response: Some(response),
                    }),
                };
            }
        };
        let expires = now.saturating_add(self.options().retention);
        let commit = self.store.commit(Commit {
            mark,
            delivery: delivery.id.map(|d| (d, expires)),
        });
        match delivery.replay {
            None => commit.await,
            // Concurrent, so the embedded stores' group commit flushes both at once.
            Some(replay) => tokio::try_join!(
                commit,
                self.store.commit(Commit {
                    mark: None,
                    delivery: Some((replay, expires)),
                })
            )
            .map(drop),
        }
        .map_err(|e| self.unavailable(e))?;
        self.purge_if_due(now, (self.options().clock)());
        Ok(Answer {
            outcome: Outcome::Handled,
            response,
        })
    }

    /// A store failure: logged with its detail (store errors carry no secrets), answered 503
    /// with a generic message so the sender retries.
    fn unavailable(&self, error: StoreError) -> Outcome {
        tracing::error!(endpoint = %self.options().name, error = %error, "the store failed");
        Outcome::Unavailable(STORE_UNAVAILABLE.into())
    }
}
