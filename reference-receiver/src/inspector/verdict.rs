//! Verdicts: what a receiver endpoint with a bin's settings would have answered, and why.
//!
//! The checks a request alone can fail are the SDK's own ([`Assessor::assess`], the function
//! every endpoint runs), so they come in the SDK's order and with its messages; the signature
//! and envelope results are shown whatever the outcome. Dedupe and ordering need state:
//! [`assess`] says what to look up, and the store answers it under the bin's lock
//! ([`Pending`]), in the bin's own trees.
//!
//! [`Assessor::assess`]: receiver_sdk::Assessor::assess

use std::time::SystemTime;

use http::{HeaderMap, Method};
use receiver_sdk::dedupe;
use receiver_sdk::envelope::EventMeta;
use receiver_sdk::handshake::Reply;
use receiver_sdk::ordering::TiePolicy;
use receiver_sdk::outcome::Mark;
use receiver_sdk::store::EventTime;
use receiver_sdk::verify::{diagnose, SignedRequest};
use receiver_sdk::{BatchCounts, BatchEvent, Checks, Decision, Outcome};
use serde::{Deserialize, Serialize};

use super::bin::Settings;

/// The verdicts on one capture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Verdicts {
    /// The outcome an endpoint would have answered (`handled`, `unauthorized`, `stale`, ...,
    /// or `probe` for HEAD).
    pub(crate) outcome: String,
    /// The status it would have answered with.
    pub(crate) status: u16,
    /// Why.
    pub(crate) message: String,
    /// The signature or credentials check.
    pub(crate) signature: Signature,
    /// The event as the envelope reads it.
    #[serde(default)]
    pub(crate) event: Option<Event>,
    /// `fresh`, `stale` or `duplicate`, when the capture got that far.
    #[serde(default)]
    pub(crate) ordering: Option<String>,
    /// What retries of one delivery share: the sender's delivery id, or `sha256:` of the body.
    pub(crate) delivery: String,
    /// A batch's events, in order, each as an endpoint would take it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) events: Vec<BatchEntry>,
}

/// One event of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BatchEntry {
    /// The event as the envelope reads it.
    pub(crate) event: Event,
    /// `handled`, `duplicate`, `stale` or `ignored`.
    pub(crate) outcome: String,
    /// The dedupe keys it records when handled (its delivery id, and a replay key where
    /// that is unsigned), so removing the capture forgets them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) keys: Vec<String>,
}

/// The signature or credentials check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Signature {
    /// The scheme (`none`, `standard-webhooks`, `basic`, ...).
    pub(crate) scheme: String,
    /// Whether it passed; `None` when not checked (HEAD).
    pub(crate) passed: Option<bool>,
    /// Which check failed.
    #[serde(default)]
    pub(crate) reason: Option<String>,
    /// Why it likely failed, where that can be told (a re-serialised body, a secret written
    /// another way, a timestamp outside the tolerance, the wrong sender chosen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) hint: Option<String>,
}

/// The event fields an envelope read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Event {
    /// The event type.
    pub(crate) event_type: String,
    /// The entity's kind.
    pub(crate) entity_type: Option<String>,
    /// The entity.
    pub(crate) entity_id: Option<String>,
    /// When the sender says it happened (RFC 3339).
    pub(crate) created_at: Option<String>,
    /// The sender's delivery id.
    pub(crate) delivery_id: Option<String>,
    /// A sender's connectivity test.
    pub(crate) test: bool,
}

/// The lookups left for the store: dedupe and ordering.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    /// The delivery keys, when dedupe is on: the delivery id, and the body's hash as well
    /// where the id is not covered by the signature (the SDK's replay key).
    pub(crate) deliveries: Vec<Vec<u8>>,
    /// The ordering key and the event time (ns), when ordering is on.
    pub(crate) mark: Option<(Vec<u8>, i64)>,
    /// What equal times do.
    pub(crate) ties: TiePolicy,
}

/// What the store found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Judgement {
    /// Neither seen nor older than the mark.
    Fresh,
    /// The delivery was handled before.
    Duplicate,
    /// Not newer than the newest handled event for its key.
    Stale {
        /// The event's time (ns).
        created_at: i64,
        /// The key's mark (ns).
        mark: i64,
    },
}

/// What is left to look up in the bin's store for a capture.
#[derive(Debug, Clone)]
pub(crate) enum Lookups {
    /// Nothing: the answer is known.
    Nothing,
    /// One delivery's.
    One(Pending),
    /// Each event of a batch that got past the pure stage, with its place in
    /// [`Verdicts::events`].
    Batch(Vec<(usize, Pending)>),
}

/// What the pure stage made of a capture.
pub(crate) struct Assessed {
    /// The first verdicts.
    pub(crate) verdicts: Verdicts,
    /// What is left to look up in the bin's store.
    pub(crate) pending: Lookups,
    /// The reply of a setup handshake the bin is configured for: sent instead of the bin's
    /// own answer, as an endpoint would send it.
    pub(crate) handshake: Option<Reply>,
}

/// The first verdicts on a capture sent with `method` to `url` (the full URL the sender used:
/// senders that sign the URL need it, and some handshakes come in its query), and what is left
/// to look up.
pub(crate) fn assess(
    settings: &Settings,
    method: &Method,
    url: &str,
    headers: &HeaderMap,
    body: &[u8],
    truncated: bool,
    now: SystemTime,
) -> Assessed {
    let request = SignedRequest::new(method, url, headers, body);
    let assessment = settings.stage.assess_request(&request, truncated, now);
    let verification = assessment.verification.as_ref();
    let failed = verification.is_some_and(Result::is_err);
    let diagnosis = &settings.diagnosis;
    let hint = failed
        .then(|| {
            diagnose(
                &diagnosis.verifier,
                diagnosis.provider,
                &diagnosis.secrets,
                &request,
                now,
            )
        })
        .flatten();
    let mut verdicts = Verdicts {
        signature: Signature {
            scheme: settings.scheme.clone(),
            passed: verification.map(Result::is_ok),
            reason: verification.and_then(|v| v.as_ref().err().map(ToString::to_string)),
            hint: hint.map(|cause| cause.to_string()),
        },
        delivery: dedupe::body_hash(body),
        ..Verdicts::default()
    };
    if let Some(event) = &assessment.event {
        verdicts.delivery = dedupe::delivery_id(event, body);
        verdicts.event = Some(view(event));
    }
    let pending = match assessment.decision {
        Decision::Probe => {
            verdicts.outcome = "probe".into();
            verdicts.status = 200;
            verdicts.message = "a reachability probe: no body, nothing checked".into();
            return Assessed::done(verdicts);
        }
        Decision::Handshake(reply) => {
            verdicts.outcome = reply.name().into();
            verdicts.status = reply.status().as_u16();
            verdicts.message = format!(
                "a {} setup handshake: {}",
                reply.provider(),
                reply.message()
            );
            return Assessed {
                verdicts,
                pending: Lookups::Nothing,
                handshake: Some(reply),
            };
        }
        Decision::Answer(outcome) => {
            set_outcome(&mut verdicts, &outcome);
            return Assessed::done(verdicts);
        }
        Decision::Check(checks) => Lookups::One(pending(&checks, settings.ties)),
        Decision::Batch(batch) => {
            let mut lookups = Vec::new();
            for (index, event) in batch.events.iter().enumerate() {
                let entry = match event {
                    BatchEvent::Answer { event, outcome } => BatchEntry {
                        event: view(event),
                        outcome: outcome.name().into(),
                        keys: Vec::new(),
                    },
                    BatchEvent::Check(checks) => {
                        let pending = pending(checks, settings.ties);
                        let keys = pending
                            .deliveries
                            .iter()
                            .map(|key| String::from_utf8_lossy(key).into_owned())
                            .collect();
                        lookups.push((index, pending));
                        BatchEntry {
                            event: view(checks.event()),
                            outcome: Outcome::Handled.name().into(),
                            keys,
                        }
                    }
                };
                verdicts.events.push(entry);
            }
            conclude_batch(&mut verdicts);
            return Assessed {
                verdicts,
                pending: Lookups::Batch(lookups),
                handshake: None,
            };
        }
    };
    set_outcome(&mut verdicts, &Outcome::Handled);
    Assessed {
        verdicts,
        pending,
        handshake: None,
    }
}

/// The store lookups of one event that passed the pure stage.
fn pending(checks: &Checks, ties: TiePolicy) -> Pending {
    Pending {
        deliveries: [&checks.deliveries.id, &checks.deliveries.replay]
            .into_iter()
            .flatten()
            .map(|key| key.id.clone().into_bytes())
            .collect(),
        mark: checks
            .ordering
            .as_ref()
            .map(|(key, created_at)| (key.encode(), created_at.as_nanos())),
        ties,
    }
}

impl Assessed {
    /// Verdicts with nothing left to look up.
    fn done(verdicts: Verdicts) -> Self {
        Self {
            verdicts,
            pending: Lookups::Nothing,
            handshake: None,
        }
    }
}

/// Applies the store's judgement.
pub(crate) fn conclude(verdicts: &mut Verdicts, judgement: &Judgement) {
    let (ordering, outcome) = judged(judgement);
    verdicts.ordering = Some(ordering.into());
    set_outcome(verdicts, &outcome);
}

/// Applies the store's judgement of the batch event at `index`; [`conclude_batch`] sums them.
pub(crate) fn conclude_event(verdicts: &mut Verdicts, index: usize, judgement: &Judgement) {
    let (_, outcome) = judged(judgement);
    if let Some(entry) = verdicts.events.get_mut(index) {
        entry.outcome = outcome.name().into();
    }
}

/// The batch's outcome from its events' outcomes, in the endpoint's words.
pub(crate) fn conclude_batch(verdicts: &mut Verdicts) {
    let mut counts = BatchCounts::default();
    for entry in &verdicts.events {
        let count = match entry.outcome.as_str() {
            "duplicate" => &mut counts.duplicate,
            "stale" => &mut counts.stale,
            "ignored" => &mut counts.ignored,
            _ => &mut counts.handled,
        };
        *count += 1;
    }
    let outcome = Outcome::Batch(counts);
    verdicts.outcome = outcome.name().into();
    verdicts.status = outcome.status().as_u16();
    verdicts.message = outcome.message();
}

/// What the store's judgement is, as the ordering verdict's word and the outcome.
fn judged(judgement: &Judgement) -> (&'static str, Outcome) {
    match *judgement {
        Judgement::Fresh => ("fresh", Outcome::Handled),
        Judgement::Duplicate => ("duplicate", Outcome::Duplicate),
        Judgement::Stale { created_at, mark } => (
            "stale",
            Outcome::Stale {
                created_at: EventTime::from_nanos(created_at),
                mark: Mark::Handled(EventTime::from_nanos(mark)),
            },
        ),
    }
}

/// The outcome's name, status and message, in the inspector's words where it is not an
/// endpoint answering: nothing is handled, and other methods are not endpoint traffic.
fn set_outcome(verdicts: &mut Verdicts, outcome: &Outcome) {
    verdicts.outcome = outcome.name().into();
    verdicts.status = outcome.status().as_u16();
    verdicts.message = match outcome {
        Outcome::Handled => "would be handled".into(),
        Outcome::MethodNotAllowed => "an endpoint answers only HEAD and POST".into(),
        other => other.message(),
    };
}

fn view(event: &EventMeta) -> Event {
    Event {
        event_type: event.event_type.clone(),
        entity_type: event.entity_type.clone(),
        entity_id: event.entity_id.clone(),
        created_at: event.created_at.map(|t| t.to_rfc3339()),
        delivery_id: event.delivery_id.clone(),
        test: event.test,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InspectorConfig;
    use receiver_sdk::verify::sign;
    use serde_json::json;

    const URL: &str = "http://127.0.0.1:8080/in/bin";

    fn settings(spec: serde_json::Value) -> Settings {
        Settings::from_json(spec, &InspectorConfig::default()).unwrap()
    }

    fn post(settings: &Settings, headers: &HeaderMap, body: &[u8]) -> (Verdicts, Lookups) {
        let now = SystemTime::now();
        let assessed = assess(settings, &Method::POST, URL, headers, body, false, now);
        (assessed.verdicts, assessed.pending)
    }

    #[test]
    fn a_failed_signature_says_its_likely_cause_and_a_valid_one_none() {
        let settings = settings(json!({"verify": {"kind": "github", "secrets": ["s3cret"]}}));
        let body = br#"{"action":"opened"}"#;
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        // Signed the way Bitbucket signs, sent to a bin set up for GitHub.
        let bitbucket = sign::bitbucket("s3cret", body);
        headers.insert("x-hub-signature", bitbucket.parse().unwrap());
        let (verdicts, _) = post(&settings, &headers, body);
        assert_eq!(verdicts.signature.passed, Some(false));
        let hint = verdicts.signature.hint.expect("a likely cause");
        assert!(hint.contains("verifies as `bitbucket`"), "{hint}");
        assert!(!hint.contains("s3cret"), "{hint}");
        headers.insert(
            "x-hub-signature-256",
            sign::github("s3cret", body).parse().unwrap(),
        );
        let (verdicts, _) = post(&settings, &headers, body);
        assert_eq!(
            (verdicts.signature.passed, verdicts.signature.hint),
            (Some(true), None)
        );
    }

    #[test]
    fn a_sender_that_signs_the_url_is_judged_at_the_bins_url() {
        let settings = settings(json!({"verify": {"kind": "square", "secrets": ["sq-key"]}}));
        let body = br#"{"type":"payment.updated","event_id":"e1"}"#;
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        let signature = sign::square("sq-key", URL, body);
        headers.insert("x-square-hmacsha256-signature", signature.parse().unwrap());
        let (verdicts, _) = post(&settings, &headers, body);
        assert_eq!(
            verdicts.signature.passed,
            Some(true),
            "{:?}",
            verdicts.signature
        );
        let elsewhere = assess(
            &settings,
            &Method::POST,
            "https://other.example.com/in/bin",
            &headers,
            body,
            false,
            SystemTime::now(),
        );
        let reason = elsewhere.verdicts.signature.reason.expect("refused");
        assert!(reason.contains("public_url"), "{reason}");
    }

    #[test]
    fn a_valid_standard_webhooks_delivery_would_be_handled_and_a_forged_one_not() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let settings = settings(json!({
            "verify": {"kind": "standard-webhooks", "secrets": [secret]},
            "envelope": "standard-webhooks"
        }));
        let body =
            br#"{"type":"invoice.paid","timestamp":"2024-01-01T00:00:00Z","data":{"id":"in_1"}}"#;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert("webhook-id", "msg_1".parse().unwrap());
        headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
        let signature = sign::standard_webhooks(secret, "msg_1", now, body).unwrap();
        headers.insert("webhook-signature", signature.parse().unwrap());

        let (verdicts, pending) = post(&settings, &headers, body);
        assert_eq!(verdicts.outcome, "handled");
        assert_eq!(verdicts.signature.passed, Some(true));
        let event = verdicts.event.unwrap();
        assert_eq!(
            (event.event_type.as_str(), event.entity_id.as_deref()),
            ("invoice.paid", Some("in_1"))
        );
        assert_eq!(verdicts.delivery, "msg_1");
        let Lookups::One(pending) = pending else {
            panic!("one delivery's lookups, not {pending:?}");
        };
        assert_eq!(
            pending.deliveries,
            [b"msg_1".to_vec()],
            "a signed delivery id needs no replay key"
        );

        let (verdicts, pending) = post(&settings, &headers, b"{\"type\":\"forged\"}");
        assert_eq!(
            (verdicts.outcome.as_str(), verdicts.status),
            ("unauthorized", 401)
        );
        assert_eq!(
            verdicts.signature.reason.as_deref(),
            Some("no signature matches")
        );
        assert!(matches!(pending, Lookups::Nothing));
    }

    #[test]
    fn form_posts_would_be_refused_as_an_endpoint_refuses_them() {
        let settings = settings(json!({}));
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let (verdicts, _) = post(&settings, &headers, b"a=1&b=2");
        assert_eq!(
            (verdicts.outcome.as_str(), verdicts.status),
            ("unsupported_media_type", 415)
        );
        assert!(verdicts.delivery.starts_with("sha256:"));
    }

    #[test]
    fn ordering_needs_the_event_time() {
        let settings = settings(json!({"envelope": "sonar"}));
        let (verdicts, _) = post(
            &settings,
            &HeaderMap::new(),
            br#"{"event":"a.b","object_id":1}"#,
        );
        assert_eq!(verdicts.outcome, "malformed");
        assert!(
            verdicts.message.contains("current.created_at"),
            "{}",
            verdicts.message
        );
    }

    #[test]
    fn head_is_a_probe_and_other_methods_are_not_endpoint_traffic() {
        let settings = settings(json!({}));
        let outcome = |method: Method| {
            let now = SystemTime::now();
            assess(
                &settings,
                &method,
                URL,
                &HeaderMap::new(),
                b"{}",
                false,
                now,
            )
            .verdicts
            .outcome
        };
        assert_eq!(outcome(Method::HEAD), "probe");
        assert_eq!(outcome(Method::PUT), "method_not_allowed");
    }

    #[test]
    fn stale_verdicts_name_both_times() {
        let mut verdicts = Verdicts::default();
        conclude(
            &mut verdicts,
            &Judgement::Stale {
                created_at: 1_000_000_000,
                mark: 2_000_000_000,
            },
        );
        assert_eq!(verdicts.outcome, "stale");
        assert!(
            verdicts.message.contains("1970-01-01T00:00:01"),
            "{}",
            verdicts.message
        );
    }
}
